/*
 * config.h — compile-time configuration and the small attribute macros every
 * module uses.  Layer L0: includes nothing of strata.
 *
 * config_* are constant booleans, not #ifdefs, so that every configuration
 * is compiled (and type-checked) and the optimizer removes what is off.
 */
#ifndef STRATA_CONFIG_H
#define STRATA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef STRATA_DEBUG
static const bool config_debug = true;
#else
static const bool config_debug = false;
#endif
static const bool config_stats = true;
/* The internal test archive lets tests replace the OS calls and the clock
 * (os.h, clock.h); other builds compile the hooks out. */
#ifdef STRATA_INTERNAL_TEST
static const bool config_test_hooks = true;
#else
static const bool config_test_hooks = false;
#endif

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))
#define COLD __attribute__((cold))
#define UNUSED __attribute__((unused))
#define CACHELINE 64
#define CACHE_ALIGNED __attribute__((aligned(CACHELINE)))
#define EXPORT __attribute__((visibility("default")))
#define STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

/* Pages and huge pages: x86-64 Linux. */
#define LG_PAGE 12
#define PAGE ((size_t)1 << LG_PAGE)
#define PAGE_MASK (PAGE - 1)
#define LG_HUGEPAGE 21
#define HUGEPAGE ((size_t)1 << LG_HUGEPAGE)
#define HUGEPAGE_MASK (HUGEPAGE - 1)
#define LG_QUANTUM 4
#define QUANTUM ((size_t)1 << LG_QUANTUM)
/* User addresses fit in 48 bits on x86-64 with 4-level page tables. */
#define LG_VADDR 48

#define PAGE_CEILING(s) (((s) + PAGE_MASK) & ~PAGE_MASK)
#define PAGE_FLOOR(s) ((s) & ~PAGE_MASK)
#define ALIGNMENT_CEILING(s, a) (((s) + ((a) - 1)) & ~((a) - 1))

#endif
