/*
 * strata.h — the public API of strata, a drop-in malloc for Linux servers.
 *
 * The standard C and glibc allocation functions, plus jemalloc's extended
 * API (mallocx family, mallctl, malloc_stats_print) with the same names,
 * flag encodings and semantics, so that code written for jemalloc builds
 * and runs unchanged against strata.  Nothing internal is declared here.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <limits.h>
#include <strings.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_BUGFIX 0
/* What mallctl("version") returns: jemalloc's form (version, commits
 * since, 'g' and a 40-digit commit id; strata's is all zeros) so that
 * parsers written for jemalloc accept it, followed by strata's own version;
 * JEMALLOC_VERSION (jemalloc/jemalloc.h) is the same string. */
#define STRATA_VERSION "5.3.0-0-g0000000000000000000000000000000000000000-strata-0.1.0"

#if defined(__GNUC__)
#define STRATA_EXPORT __attribute__((visibility("default")))
#define STRATA_ATTR_MALLOC __attribute__((__malloc__))
#define STRATA_ATTR_ALLOC_SIZE(i) __attribute__((__alloc_size__(i)))
#define STRATA_ATTR_ALLOC_SIZE2(i, j) __attribute__((__alloc_size__(i, j)))
#else
#define STRATA_EXPORT
#define STRATA_ATTR_MALLOC
#define STRATA_ATTR_ALLOC_SIZE(i)
#define STRATA_ATTR_ALLOC_SIZE2(i, j)
#endif

/*
 * MALLOCX_* flags, bit layout identical to jemalloc:
 *   aaaaaaaa aaaatttt tttttttt 0znnnnnn
 * a: arena index + 1, t: tcache id + 2 (1 = none), z: zero, n: lg(alignment).
 */
#define MALLOCX_LG_ALIGN(la) ((int)(la))
#define MALLOCX_ALIGN(a)                                                      \
	((int)(((size_t)(a) < (size_t)INT_MAX) ? ffs((int)(a)) - 1             \
	                                       : ffs((int)(((size_t)(a)) >> 32)) + 31))
#define MALLOCX_ZERO ((int)0x40)
#define MALLOCX_TCACHE(tc) ((int)(((tc) + 2) << 8))
#define MALLOCX_TCACHE_NONE MALLOCX_TCACHE(-1)
#define MALLOCX_ARENA(a) ((int)(((unsigned)(a) + 1) << 20))

/* Pseudo arena indices for mallctl names. */
#define MALLCTL_ARENAS_ALL 4096
#define MALLCTL_ARENAS_DESTROYED 4097

/* Standard C / POSIX / glibc. */
STRATA_EXPORT void *malloc(size_t size) STRATA_ATTR_MALLOC STRATA_ATTR_ALLOC_SIZE(1);
STRATA_EXPORT void *calloc(size_t num, size_t size) STRATA_ATTR_MALLOC STRATA_ATTR_ALLOC_SIZE2(1, 2);
STRATA_EXPORT void *realloc(void *ptr, size_t size) STRATA_ATTR_ALLOC_SIZE(2);
STRATA_EXPORT void *reallocarray(void *ptr, size_t num, size_t size) STRATA_ATTR_ALLOC_SIZE2(2, 3);
STRATA_EXPORT void free(void *ptr);
STRATA_EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size);
STRATA_EXPORT void *aligned_alloc(size_t alignment, size_t size) STRATA_ATTR_MALLOC STRATA_ATTR_ALLOC_SIZE(2);
STRATA_EXPORT void *memalign(size_t alignment, size_t size) STRATA_ATTR_MALLOC STRATA_ATTR_ALLOC_SIZE(2);
STRATA_EXPORT void *valloc(size_t size) STRATA_ATTR_MALLOC STRATA_ATTR_ALLOC_SIZE(1);
STRATA_EXPORT void *pvalloc(size_t size) STRATA_ATTR_MALLOC;
STRATA_EXPORT size_t malloc_usable_size(void *ptr);
STRATA_EXPORT int malloc_trim(size_t pad);
STRATA_EXPORT int mallopt(int param, int value);

/* glibc's mallinfo2 layout. */
struct strata_mallinfo2 {
	size_t arena;    /* non-mmapped space allocated (bytes mapped by strata) */
	size_t ordblks;  /* number of free chunks (not tracked: 0) */
	size_t smblks;   /* 0 */
	size_t hblks;    /* 0 */
	size_t hblkhd;   /* 0 */
	size_t usmblks;  /* 0 */
	size_t fsmblks;  /* 0 */
	size_t uordblks; /* bytes allocated by the application */
	size_t fordblks; /* bytes mapped but not allocated */
	size_t keepcost; /* 0 */
};
#ifndef _MALLOC_H
/* Same layout as glibc's struct mallinfo2 from <malloc.h>. */
STRATA_EXPORT struct strata_mallinfo2 mallinfo2(void);
#endif

/* jemalloc's extended API. */
STRATA_EXPORT void *mallocx(size_t size, int flags) STRATA_ATTR_MALLOC STRATA_ATTR_ALLOC_SIZE(1);
STRATA_EXPORT void *rallocx(void *ptr, size_t size, int flags) STRATA_ATTR_ALLOC_SIZE(2);
STRATA_EXPORT size_t xallocx(void *ptr, size_t size, size_t extra, int flags);
STRATA_EXPORT size_t sallocx(const void *ptr, int flags);
STRATA_EXPORT void dallocx(void *ptr, int flags);
STRATA_EXPORT void sdallocx(void *ptr, size_t size, int flags);
STRATA_EXPORT size_t nallocx(size_t size, int flags);

STRATA_EXPORT int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
STRATA_EXPORT int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp);
STRATA_EXPORT int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                               void *newp, size_t newlen);
STRATA_EXPORT void malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                                      const char *opts);

/*
 * Extent hooks (arena.<i>.extent_hooks, arenas.create): the functions an
 * arena gets its memory through, declared exactly as jemalloc declares
 * them.  The contract of each is in strata(3), "arena.<i>.extent_hooks".
 */
typedef struct extent_hooks_s extent_hooks_t;

/*
 * void *
 * extent_alloc(extent_hooks_t *extent_hooks, void *new_addr, size_t size,
 *     size_t alignment, bool *zero, bool *commit, unsigned arena_ind);
 */
typedef void *(extent_alloc_t)(extent_hooks_t *, void *, size_t, size_t, bool *, bool *,
                               unsigned);

/*
 * bool
 * extent_dalloc(extent_hooks_t *extent_hooks, void *addr, size_t size,
 *     bool committed, unsigned arena_ind);
 */
typedef bool (extent_dalloc_t)(extent_hooks_t *, void *, size_t, bool, unsigned);

/*
 * void
 * extent_destroy(extent_hooks_t *extent_hooks, void *addr, size_t size,
 *     bool committed, unsigned arena_ind);
 */
typedef void (extent_destroy_t)(extent_hooks_t *, void *, size_t, bool, unsigned);

/*
 * bool
 * extent_commit(extent_hooks_t *extent_hooks, void *addr, size_t size,
 *     size_t offset, size_t length, unsigned arena_ind);
 */
typedef bool (extent_commit_t)(extent_hooks_t *, void *, size_t, size_t, size_t, unsigned);

/*
 * bool
 * extent_decommit(extent_hooks_t *extent_hooks, void *addr, size_t size,
 *     size_t offset, size_t length, unsigned arena_ind);
 */
typedef bool (extent_decommit_t)(extent_hooks_t *, void *, size_t, size_t, size_t, unsigned);

/*
 * bool
 * extent_purge(extent_hooks_t *extent_hooks, void *addr, size_t size,
 *     size_t offset, size_t length, unsigned arena_ind);
 */
typedef bool (extent_purge_t)(extent_hooks_t *, void *, size_t, size_t, size_t, unsigned);

/*
 * bool
 * extent_split(extent_hooks_t *extent_hooks, void *addr, size_t size,
 *     size_t size_a, size_t size_b, bool committed, unsigned arena_ind);
 */
typedef bool (extent_split_t)(extent_hooks_t *, void *, size_t, size_t, size_t, bool, unsigned);

/*
 * bool
 * extent_merge(extent_hooks_t *extent_hooks, void *addr_a, size_t size_a,
 *     void *addr_b, size_t size_b, bool committed, unsigned arena_ind);
 */
typedef bool (extent_merge_t)(extent_hooks_t *, void *, size_t, void *, size_t, bool, unsigned);

struct extent_hooks_s {
	extent_alloc_t *alloc;
	extent_dalloc_t *dalloc;
	extent_destroy_t *destroy;
	extent_commit_t *commit;
	extent_decommit_t *decommit;
	extent_purge_t *purge_lazy;
	extent_purge_t *purge_forced;
	extent_split_t *split;
	extent_merge_t *merge;
};

/* Where strata's messages go (default: stderr).  Settable by the program. */
STRATA_EXPORT extern void (*malloc_message)(void *cbopaque, const char *s);

/* Compile-time configuration string, read before MALLOC_CONF (see strata(3)). */
STRATA_EXPORT extern const char *malloc_conf;

/*
 * The experimental allocation hooks (mallctl experimental.hooks.install and
 * .remove; strata(3)).  jemalloc 5.3 keeps these types in an internal
 * header; they are here with its names, values and layout, so that code
 * written for jemalloc's hooks builds unchanged.  An alloc hook runs after
 * each allocation, a dalloc hook before each free, an expand hook after a
 * resize in place; args_raw holds the entry point's arguments as integers.
 * hook_alloc_pvalloc is strata's (jemalloc 5.3 has no pvalloc).
 */
#ifndef JEMALLOC_INTERNAL_HOOK_H
#define JEMALLOC_INTERNAL_HOOK_H
enum hook_alloc_e {
	hook_alloc_malloc,
	hook_alloc_posix_memalign,
	hook_alloc_aligned_alloc,
	hook_alloc_calloc,
	hook_alloc_memalign,
	hook_alloc_valloc,
	hook_alloc_mallocx,
	hook_alloc_realloc,
	hook_alloc_rallocx,
	hook_alloc_pvalloc,
};
typedef enum hook_alloc_e hook_alloc_t;

enum hook_dalloc_e {
	hook_dalloc_free,
	hook_dalloc_dallocx,
	hook_dalloc_sdallocx,
	hook_dalloc_realloc,
	hook_dalloc_rallocx,
};
typedef enum hook_dalloc_e hook_dalloc_t;

enum hook_expand_e {
	hook_expand_realloc,
	hook_expand_rallocx,
	hook_expand_xallocx,
};
typedef enum hook_expand_e hook_expand_t;

typedef void (*hook_alloc)(void *extra, hook_alloc_t type, void *result, uintptr_t result_raw,
                           uintptr_t args_raw[3]);
typedef void (*hook_dalloc)(void *extra, hook_dalloc_t type, void *address, uintptr_t args_raw[3]);
typedef void (*hook_expand)(void *extra, hook_expand_t type, void *address, size_t old_usize,
                            size_t new_usize, uintptr_t result_raw, uintptr_t args_raw[4]);

typedef struct hooks_s hooks_t;
struct hooks_s {
	hook_alloc alloc_hook;
	hook_dalloc dalloc_hook;
	hook_expand expand_hook;
	void *extra;
};
#endif

/* experimental.hooks.safety_check_abort: called with the message in place
 * of abort() when a safety check fails. */
typedef void (*safety_check_abort_hook_t)(const char *message);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_H */
