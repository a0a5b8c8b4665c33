/*
 * large.h — allocations above the small classes: each is one active extent
 * of exactly its usable size (a PAGE multiple), aligned as asked.  L3.
 *
 * Resizing stays in place when the pages after the extent are free (grow)
 * or when the page backend has a descriptor for the freed tail (shrink);
 * the counters move only when it did.  In a manual arena every live large
 * extent is on its large_t list (so arena reset can free them), linked by
 * heap_next/prev; automatic arenas, which cannot be reset, keep no list.
 * Lock: large->mtx protects the list; the counters, one pair per large
 * class (an in-place resize frees the old class and allocates the new, as
 * jemalloc counts it), are relaxed atomics (exact once quiescent).  Order: large->mtx is never held while calling
 * into the page backend (pai.h).
 */
#ifndef STRATA_LARGE_H
#define STRATA_LARGE_H

#include "mutex.h"
#include "pai.h"

typedef struct large {
	mutex_t mtx;
	bool track_live; /* keep the list (manual arenas); set at init */
	extent_t *list;  /* protected by mtx */
	_Atomic size_t allocated; /* bytes of usable size in use */
	/* By class: [szind - SZ_NBINS]. */
	_Atomic uint64_t nmalloc[SZ_NLEXTENTS];
	_Atomic uint64_t ndalloc[SZ_NLEXTENTS];
} large_t;

typedef struct large_stats {
	size_t allocated;
	uint64_t nmalloc[SZ_NLEXTENTS], ndalloc[SZ_NLEXTENTS];
	mutex_stats_t mutex;
} large_stats_t;

void large_init(large_t *large, bool track_live);
/* usize must be a large class; NULL when out of memory. */
void *large_malloc(pai_t *pai, large_t *large, size_t usize, size_t alignment, bool zero);
void large_free(pai_t *pai, large_t *large, extent_t *e);
/* Resizes e to usize (a large class) without moving it; false if it cannot. */
bool large_resize_in_place(pai_t *pai, large_t *large, extent_t *e, size_t usize,
                           bool zero);
/* Frees every live large extent (arena reset), calling before_free on each
 * first. */
void large_reset(pai_t *pai, large_t *large, void (*before_free)(extent_t *e));
/* The counters and the lock's (stats). */
void large_stats_read(large_t *large, large_stats_t *out);


#endif
