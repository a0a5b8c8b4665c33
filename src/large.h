/*
 * large.h — allocations above the small classes: each is one active extent
 * of exactly its usable size (a PAGE multiple), aligned as asked.  L3.
 *
 * Resizing stays in place when the pages after the extent are free (grow)
 * or always (shrink).  Counters are relaxed atomics: exact once quiescent.
 */
#ifndef STRATA_LARGE_H
#define STRATA_LARGE_H

#include "pages.h"

typedef struct large_stats {
	_Atomic uint64_t nmalloc;
	_Atomic uint64_t ndalloc;
	_Atomic size_t allocated; /* bytes of usable size in use */
} large_stats_t;

/* usize must be a large class; NULL when out of memory. */
void *large_malloc(pages_t *pages, large_stats_t *stats, size_t usize, size_t alignment,
                   bool zero);
void large_free(pages_t *pages, large_stats_t *stats, extent_t *e);
/* Resizes e to usize (a large class) without moving it; false if it cannot. */
bool large_resize_in_place(pages_t *pages, large_stats_t *stats, extent_t *e, size_t usize,
                           bool zero);

#endif
