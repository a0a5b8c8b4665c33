/*
 * tcache.h — per-thread caches of free objects, one stack of pointers per
 * size class up to tcache_max.  L4.
 *
 * A cache bin is a stack: stack[0 .. ncached) hold cached objects, the top
 * (most recently freed, hottest) at ncached - 1.  Allocation pops the top,
 * free pushes on it.  An empty bin is refilled with a batch taken under one
 * bin lock; a full bin flushes its bottom part (the coldest objects),
 * grouped by owning arena so each arena's bin lock is taken once per group.
 * low_water is the smallest ncached since the last GC visit of the bin:
 * the allocation fast path compares ncached with low_water once, and the
 * less common pop at the mark lowers the mark in line (only an empty bin
 * leaves the fast path for a refill).
 * Incremental GC, driven by the thread's byte counters, visits one bin per
 * event and returns three quarters of what stayed unused since the last
 * visit (its low-water mark).
 *
 * A tcache is owned by one thread (the thread's own, in its tsd) or by the
 * program (explicit caches from tcache.create, used through
 * MALLOCX_TCACHE(id), which the program must not use from two threads at
 * once).  No locks: only the owner touches it; the global list of caches
 * (for stats) is protected by tcache_list_mtx.
 */
#ifndef STRATA_TCACHE_H
#define STRATA_TCACHE_H

#include "arena.h"
#include "conf.h"

/* Bins for classes up to the largest tcache_max (8 MiB, class 72). */
#define TCACHE_NBINS_MAX 73
#define TCACHE_MAXCLASS_LIMIT CONF_TCACHE_MAX_LIMIT
#define TCACHE_NSLOTS_MAX CONF_TCACHE_NSLOTS_LIMIT
STATIC_ASSERT(TCACHE_MAXCLASS_LIMIT == ((size_t)1 << 23), "class 72 is 8 MiB");
STATIC_ASSERT(TCACHE_NSLOTS_MAX <= UINT16_MAX, "cache_bin_t counts in uint16_t");
/* Explicit caches: ids 0 .. TCACHES_MAX-1 (MALLOCX_TCACHE's 12-bit field). */
#define TCACHES_MAX 4093

typedef struct cache_bin {
	void **stack;         /* ncached_max slots; stack[-1] is a NULL sentinel */
	uint16_t ncached;     /* objects in the stack */
	uint16_t low_water;   /* min ncached since the last GC visit */
	uint16_t ncached_max; /* capacity; 0 when the bin is not cached */
	uint16_t nfill;       /* objects to take when refilling an empty bin */
} cache_bin_t;

typedef struct tcache tcache_t;
struct tcache {
	cache_bin_t bins[TCACHE_NBINS_MAX];
	arena_t *arena;     /* where refills come from */
	unsigned gc_next;   /* next bin the GC visits */
	bool enabled;       /* thread.tcache.enabled */
	void **slots;       /* the block every bin's stack lives in */
	tcache_t *list_next, *list_prev; /* tcache_list, for stats */
};

/* Number of cached classes (classes <= opt.tcache_max); fixed after boot. */
extern unsigned tcache_nbins;

/* Computes capacities from the options.  Called once by init. */
void tcache_boot(void);

/* Sets up (enabled) or tears down a cache.  init: 0 or ENOMEM. */
int tcache_init(tcache_t *tcache, arena_t *arena);
/* Flushes everything and releases the slot block. */
void tcache_destroy(tcache_t *tcache);
/* Returns every cached object to its arena. */
void tcache_flush(tcache_t *tcache);
/* Turns caching on or off (off flushes). 0 or ENOMEM. */
int tcache_set_enabled(tcache_t *tcache, bool enabled);

/* Slow paths of the fast inlines below: refill an empty bin (only when
 * tcache_alloc_easy failed) and pop one object (NULL: class not cached, or
 * out of memory); flush the bottom of a full bin, then push ptr, or report
 * the double free of the object on top (tcache_double_free). */
void *tcache_alloc_refill(tcache_t *tcache, unsigned binind);
void tcache_dalloc_flush(tcache_t *tcache, unsigned binind, void *ptr);
/* One incremental GC step. */
void tcache_gc_step(tcache_t *tcache);
/* Reports a double free (safety.h); when the program's hook returns, the
 * free is dropped. */
COLD void tcache_double_free(void *ptr);

/* Pops a cached object of class binind into *ret; false when the bin is
 * empty (then call tcache_alloc_refill). */
static ALWAYS_INLINE bool
tcache_alloc_easy(tcache_t *tcache, unsigned binind, void **ret)
{
	cache_bin_t *bin = &tcache->bins[binind];
	uint16_t n = bin->ncached;
	if (UNLIKELY(n <= bin->low_water)) {
		/* A separate copy of the pop, so that the common path below
		 * keeps bin in a register instead of recomputing it. */
		if (n == 0)
			return false;
		bin->low_water = n - 1;
		bin->ncached = n - 1;
		*ret = bin->stack[n - 1];
		return true;
	}
	bin->ncached = n - 1;
	*ret = bin->stack[n - 1];
	return true;
}

/* Pushes ptr; false when the bin is full or ptr is the object freed last,
 * a double free (then call tcache_dalloc_flush).  The fast path makes no
 * call: the report is the slow path's. */
static ALWAYS_INLINE bool
tcache_dalloc_easy(tcache_t *tcache, size_t binind, void *ptr)
{
	cache_bin_t *bin = &tcache->bins[binind];
	uint16_t n = bin->ncached;
	if (UNLIKELY(n >= bin->ncached_max))
		return false;
	/* The cheapest double-free check: freeing the object freed last
	 * (stack[-1] is a NULL sentinel). */
	if (UNLIKELY(bin->stack[n - 1] == ptr))
		return false; /* tcache_dalloc_flush reports it */
	bin->stack[n] = ptr;
	bin->ncached = n + 1;
	return true;
}

/* Explicit caches (tcache.create / flush / destroy, MALLOCX_TCACHE); a NULL
 * arena means the calling thread's.  create: 0 or EAGAIN. */
int tcaches_create(arena_t *arena, unsigned *id);
tcache_t *tcaches_get(unsigned id);
int tcaches_flush(unsigned id);
int tcaches_destroy(unsigned id);

/* Fork child: the list of live caches keeps only survivor (the forking
 * thread's cache, or NULL) and the explicit caches.  The other threads'
 * caches live in their thread-local storage, which the child's next threads
 * reuse. */
void tcache_postfork_child(tcache_t *survivor);

/* Bytes cached by every cache whose refill arena is arena_ind. */
size_t tcache_bytes_of_arena(unsigned arena_ind);

#endif
