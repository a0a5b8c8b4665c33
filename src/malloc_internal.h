/*
 * malloc_internal.h — what the files of the malloc module share: the fast
 * paths (inline: they are the point of the module), the thread's counting
 * of bytes, the general paths that malloc.c defines for malloc_jemalloc.c,
 * and experimental.batch_alloc for ctl_experimental.c.  L5 (part of
 * malloc).  Internal: never installed.
 *
 * The fast paths.  malloc: size class by table, pop the thread cache, one
 * add and compare against the event threshold.  free: one emap lookup gives
 * the class, push on the thread cache, the same add and compare.  A thread
 * that is not set up has empty caches and zero thresholds, so it always
 * falls through to the default paths, which initialize it.  mallocx,
 * dallocx, sdallocx and C++'s operators (malloc_cxx.h) share them
 * (docs/design.md, "Fast paths"): no lock, no atomic read-modify-write, and
 * the single event compare, so whatever needs every allocation off the fast
 * paths (the profiler, fill options, hooks) sets the thresholds to zero.
 *
 * No locks of its own.
 */
#ifndef STRATA_MALLOC_INTERNAL_H
#define STRATA_MALLOC_INTERNAL_H

#include "arena.h"
#include "conf.h"
#include "emap.h"
#include "event.h"
#include "hook.h"
#include "sz.h"
#include "tcache.h"
#include "tsd.h"

/* Where an allocation goes (mallocx's flags can name both). */
typedef struct malloc_route {
	arena_t *arena;     /* NULL: the thread's arena */
	tcache_t *tcache;   /* NULL: no cache */
} malloc_route_t;

static inline tcache_t *
malloc_thread_tcache(tsd_t *tsd)
{
	return tsd->tcache.enabled && tsd->reentrancy == 0 ? &tsd->tcache : NULL;
}

/* The calling thread's state, initializing the allocator on first use. */
NOINLINE tsd_t *malloc_tsd_slow(void);

static ALWAYS_INLINE tsd_t *
malloc_tsd(void)
{
	tsd_t *tsd = &tsd_tls;
	if (UNLIKELY(tsd->state != TSD_NOMINAL))
		return malloc_tsd_slow();
	return tsd;
}

/* Counts an allocation of usize bytes, running the events that are due
 * (before any memory is chosen, so that a sample can choose it); true when
 * the profiler samples it. */
static inline bool
malloc_count_alloc(tsd_t *tsd, size_t usize)
{
	uint64_t allocated = tsd->allocated + usize;
	if (LIKELY(allocated < tsd->alloc_event)) {
		tsd->allocated = allocated;
		return false;
	}
	return event_alloc(tsd, usize);
}

static inline void
malloc_count_dalloc(tsd_t *tsd, size_t usize)
{
	uint64_t deallocated = tsd->deallocated + usize;
	if (LIKELY(deallocated < tsd->dalloc_event))
		tsd->deallocated = deallocated;
	else
		event_dalloc(tsd, usize);
}

/* Counts an in-place resize to usize that made fresh bytes new (see
 * event_alloc_resized); true when they are sampled.  Without sampling the
 * sample's clock need not move: the inline count of any allocation. */
static inline bool
malloc_count_resized(tsd_t *tsd, size_t usize, size_t old_usize)
{
	size_t fresh = usize > old_usize ? usize - old_usize : 0;
	if (fresh == usize || tsd->events.next[EVENT_PROF_SAMPLE] == EVENT_NEVER)
		return malloc_count_alloc(tsd, usize);
	return event_alloc_resized(tsd, usize, fresh);
}

/* The usable size of size bytes at alignment (0: none); 0 when too large. */
static inline size_t
malloc_usize(size_t size, size_t alignment)
{
	if (alignment != 0)
		return sz_sa2u(size, alignment);
	return sz_s2u(size);
}

/* Reports of pointers a call cannot take (malloc_safety.c): one strata
 * did not hand out (bits: its page-map entry); a size hint (sdallocx,
 * sized delete) that does not name ptr's class, against jemalloc's rule
 * for sized deallocation.  Under safety_checks, malloc_safety_dalloc_ok
 * says whether ptr (allocated, bits) may be freed now: false when it was
 * freed already (reported as func, kind, ptr; the program's hook returned,
 * and the call is dropped). */
COLD _Noreturn void malloc_invalid_pointer(const char *func, const void *ptr, uint64_t bits);
COLD _Noreturn void malloc_bad_size_hint(const char *func, const void *ptr, size_t size);
bool malloc_safety_dalloc_ok(const char *func, const char *kind, const void *ptr, uint64_t bits,
                             const tcache_t *tcache);

/* Pops an object of size bytes whose class is a multiple of align_mask + 1
 * (0 for no alignment); *usize gets the class.  false: take the default
 * path. */
static ALWAYS_INLINE bool
malloc_fast(size_t size, size_t align_mask, void **ret, size_t *usize)
{
	tsd_t *tsd = &tsd_tls;
	if (LIKELY(size <= SZ_LOOKUP_MAXCLASS)) {
		unsigned ind = sz_size2index_tab[(size + 7) >> 3];
		*usize = sz_index2size_tab[ind];
		/* A class that is a multiple of the alignment is what sz_sa2u
		 * gives, and naturally aligned in its slabs (sz.h). */
		if (UNLIKELY((*usize & align_mask) != 0))
			return false;
		uint64_t allocated = tsd->allocated + *usize;
		if (LIKELY(allocated < tsd->alloc_event) &&
		    LIKELY(tcache_alloc_easy(&tsd->tcache, ind, ret))) {
			tsd->allocated = allocated;
			return true;
		}
	}
	return false;
}

/* Pushes ptr, an object of class ind, on the thread cache; false: take the
 * default path. */
static ALWAYS_INLINE bool
free_fast_class(void *ptr, size_t ind)
{
	tsd_t *tsd = &tsd_tls;
	uint64_t deallocated = tsd->deallocated + sz_index2size_tab[ind];
	if (LIKELY(deallocated < tsd->dalloc_event) &&
	    LIKELY(tcache_dalloc_easy(&tsd->tcache, ind, ptr))) {
		tsd->deallocated = deallocated;
		return true;
	}
	return false;
}

static ALWAYS_INLINE bool
free_fast(void *ptr)
{
	uint64_t ind = emap_bits_fast_szind(emap_lookup(ptr), &tsd_tls.free_bias);
	/* false for entry 0, free extents, sampled objects and other nodes' */
	return LIKELY(ind < TCACHE_NBINS_MAX) && free_fast_class(ptr, ind);
}

/* Whether (ptr & *mask) == 0.  On x86-64 *mask is a memory operand of the
 * test, as the constant it replaces was an immediate (see
 * emap_bits_fast_szind): in C, GCC loads it into a register of its own. */
static ALWAYS_INLINE bool
malloc_masked_zero(const void *ptr, const uint64_t *mask)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	bool zero;
	__asm__("testq %2, %1" : "=@ccz"(zero) : "r"((uint64_t)(uintptr_t)ptr), "m"(*mask));
	return zero;
#else
	return ((uintptr_t)ptr & *mask) == 0;
#endif
}

/*
 * The sized free fast path: the class comes from the size hint (any size
 * from the one asked for to the usable size names it), with no emap
 * lookup.  Objects that are not in a slab (large ones, and profiler-sampled
 * ones, which live alone on an extent) are page-aligned: a page-aligned
 * pointer takes the unsized path, whose lookup tells them apart (and
 * rejects NULL); so does every pointer while NUMA is active, whose home node
 * only the page map knows (the thread's sized_free_mask is then 0).  A
 * debug build checks the hint against the page map.
 */
static ALWAYS_INLINE bool
free_sized_fast(const char *func, void *ptr, size_t size, size_t align_mask)
{
	if (UNLIKELY(size > SZ_LOOKUP_MAXCLASS))
		return false;
	if (UNLIKELY(malloc_masked_zero(ptr, &tsd_tls.sized_free_mask)))
		return free_fast(ptr);
	unsigned ind = sz_size2index_tab[(size + 7) >> 3];
	if (UNLIKELY((sz_index2size_tab[ind] & align_mask) != 0))
		return false;
	if (config_debug && emap_bits_usable_szind(emap_lookup(ptr)) != ind)
		malloc_bad_size_hint(func, ptr, size);
	return free_fast_class(ptr, ind);
}

/* The general paths (malloc.c).  malloc_lookup: the page-map entry of a
 * pointer strata handed out, aborting (naming func) for any other;
 * malloc_alloc: an allocation of usize bytes for size asked for, counted
 * (malloc_alloc_counted: already counted; sample: the profiler samples it);
 * malloc_dalloc: frees ptr (its entry: bits) through tcache (NULL: none),
 * counted; malloc_default / free_default: the standard entry points' slow
 * paths (free_default ignores NULL); malloc_realloc: resize in place or
 * move (explicit_route: route came from mallocx's flags); malloc_aligned:
 * memalign's rule (alignment below the quantum is none);
 * malloc_usable_size_of: the usable size, aborting for a pointer strata
 * did not hand out; malloc_resample_in_place: the profiler's record of a
 * large object resized in place.  site: the entry point and arguments the
 * hooks see (hook.h); NULL for malloc_alloc and malloc_default means
 * malloc(size), for free_default free(ptr), built only while hooks are
 * installed. */
uint64_t malloc_lookup(const char *func, const void *ptr);
void *malloc_alloc_counted(tsd_t *tsd, size_t size, size_t usize, size_t alignment, bool zero,
                           malloc_route_t route, bool sample);
void *malloc_alloc(tsd_t *tsd, size_t size, size_t usize, size_t alignment, bool zero,
                   malloc_route_t route, const hook_site_t *site);
void malloc_dalloc(tsd_t *tsd, void *ptr, uint64_t bits, tcache_t *tcache,
                   const hook_site_t *site);
NOINLINE void *malloc_default(size_t size, size_t alignment, bool zero, const hook_site_t *site);
NOINLINE void free_default(void *ptr, const hook_site_t *site);
void *malloc_realloc(const char *func, void *ptr, size_t size, size_t alignment, bool zero,
                     malloc_route_t route, bool explicit_route, const hook_site_t *site);
void *malloc_aligned(size_t alignment, size_t size, const hook_site_t *site);
size_t malloc_usable_size_of(const char *func, const void *ptr);
NOINLINE void malloc_resample_in_place(tsd_t *tsd, void *ptr, uint64_t bits, size_t size,
                                       size_t usize, size_t old_usize, bool sample);

/*
 * experimental.batch_alloc (malloc_jemalloc.c): allocates num objects of
 * size bytes as mallocx(size, flags) would, into ptrs[0..), from the
 * thread's cache (an empty bin is refilled in one batch from its arena) or
 * the route the flags name.  Returns how many were allocated: num, or fewer
 * when memory ran out; 0 for a size no class holds, or an arena or cache
 * the flags name that does not exist.  No hook is called (jemalloc 5.3
 * calls none).
 */
size_t malloc_batch_alloc(void **ptrs, size_t num, size_t size, int flags);

/*
 * xmalloc:true: an entry point that found no memory aborts with jemalloc's
 * message, "<strata>: Error <what>: out of memory" (what: "in malloc()",
 * "allocating aligned memory", ...; docs/compat.md, "Out of memory").
 * malloc_checked(p, what) is p, unless p is NULL and the option is on.
 * Only the failure paths call it, never a fast path.
 */
COLD _Noreturn void malloc_xmalloc_fatal(const char *what);

static inline void *
malloc_checked(void *p, const char *what)
{
	if (UNLIKELY(p == NULL) && UNLIKELY(opt_xmalloc))
		malloc_xmalloc_fatal(what);
	return p;
}

#endif
