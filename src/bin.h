/*
 * bin.h — an arena's bin for one small size class: the slab being filled
 * (slabcur), the other non-full slabs (an address-ordered heap, so the
 * lowest slab fills first), and the class's counters.  L3.
 *
 * Full slabs are on a list only in the bins of manual arenas (arena reset
 * walks it; automatic arenas cannot be reset, and keeping the list costs
 * two descriptor misses per slab that fills and drains); a slab that
 * becomes empty (and is not slabcur) goes straight back to the page
 * allocator.  Lock: bin->mtx protects all
 * fields and the bitmaps of this bin's slabs; it is dropped while a new slab
 * is allocated and while an empty one is returned (pages lock ordered after).
 */
#ifndef STRATA_BIN_H
#define STRATA_BIN_H

#include "mutex.h"
#include "pai.h"
#include "slab.h"

/* Most regions bin_free_batch takes at once. */
#define BIN_FREE_BATCH_MAX 128

typedef struct bin {
	mutex_t mtx;
	bool track_full;   /* keep the full list (manual arenas); set at init */
	/* Protected by mtx. */
	extent_t *slabcur;
	extent_heap_t nonfull;
	extent_t *full;    /* if track_full: full slabs other than slabcur, linked by
	                    * heap_next/prev */
	uint64_t nmalloc;  /* regions handed out, ever */
	uint64_t ndalloc;  /* regions returned, ever */
	uint64_t nslabs;   /* slabs created, ever */
	uint64_t nfills;   /* bin_malloc_batch calls that handed out regions */
	uint64_t nflushes; /* bin_free_batch calls */
	uint64_t nreslabs; /* slabcur taken from nonfull */
	size_t curregs;    /* regions in use now */
	size_t curslabs;   /* slabs owned now */
	size_t nnonfull;   /* slabs in nonfull */
} CACHE_ALIGNED bin_t;

/* The counters (stats_counters.h, STATS_BIN_COUNTERS) and the lock's. */
typedef struct bin_stats {
	uint64_t nmalloc, ndalloc, nslabs, nfills, nflushes, nreslabs;
	size_t curregs, curslabs, nnonfull;
	mutex_stats_t mutex;
} bin_stats_t;

void bin_init(bin_t *bin, bool track_full);
/* Up to n regions of class binind into out; fewer only when out of memory. */
unsigned bin_malloc_batch(bin_t *bin, unsigned binind, pai_t *pai, void **out, unsigned n);
/* Returns regions ptrs[i] (in slab slabs[i], n <= BIN_FREE_BATCH_MAX) under
 * one lock acquisition;
 * empty slabs go back to pages.  Aborts with a message on an invalid
 * pointer or a double free. */
void bin_free_batch(bin_t *bin, unsigned binind, pai_t *pai, extent_t *const *slabs,
                    void *const *ptrs, unsigned n);
void bin_free(bin_t *bin, unsigned binind, pai_t *pai, extent_t *slab, void *ptr);
void bin_stats_read(bin_t *bin, bin_stats_t *out);
/* Takes every slab out of the bin (arena reset) and returns it to pages;
 * the regions in them are gone.  The counters of current use drop to 0. */
void bin_reset(bin_t *bin, pai_t *pai);


#endif
