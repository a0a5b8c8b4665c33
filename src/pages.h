/*
 * pages.h — an arena's page allocator: extents carved from mapped space,
 * returned, coalesced and reused.  L2.
 *
 * Free extents live in two sets: dirty (freed, pages still backed) and
 * retained (purged or never touched: reads back zero).  Allocation takes the
 * best fit from dirty, then from retained, then maps more address space in
 * HUGEPAGE-aligned steps that grow geometrically; the unused part of a new
 * mapping is retained.  Address space is never unmapped.  A freed extent is
 * coalesced with free neighbours of the same state and arena.
 *
 * How many dirty pages may stay is decided by the decay curve (decay.h,
 * dirty_decay_ms), checked whenever pages are allocated or freed; the
 * excess is purged (MADV_DONTNEED), largest extents first, and becomes
 * retained.
 *
 * This is the extent page backend: it implements pai.h, and the objects
 * layer reaches it only through that interface.
 *
 * Descriptors: every operation first makes sure a few spare descriptors are
 * on hand (PAGES_SPARE_RESERVE), taking them from the arena's base without
 * the pages lock, so that the base never maps a new chunk while that lock
 * is held (unless racing threads used the reserve up in between).
 *
 * Lock: pages->mtx protects everything here.  Order: bin locks → pages->mtx
 * → arena base → emap → global base.  It is never held across mmap or
 * madvise: extents in flight are marked EXTENT_BUSY so nobody merges them,
 * and are kept on the busy list so that a fork child, where the purging
 * thread does not exist, puts them back into the dirty set (recovery
 * callback of pages->mtx, docs/design.md "Fork").  A mapping in flight (made,
 * not yet recorded) is lost to such a child but was never counted, so
 * active + dirty + retained pages always equals mapped.
 */
#ifndef STRATA_PAGES_H
#define STRATA_PAGES_H

#include "base.h"
#include "decay.h"
#include "emap.h"
#include "extent.h"
#include "mutex.h"
#include "pai.h"

/* Descriptors one operation may need: the lead and trail of a split, a
 * new mapping, a shrink's tail. */
#define PAGES_SPARE_RESERVE 4
#define PAGES_GROW_MIN HUGEPAGE
#define PAGES_GROW_MAX ((size_t)1 << 30)

typedef struct pages {
	pai_t pai; /* first: the backend interface (pai.h) */
	mutex_t mtx;
	unsigned arena_ind;
	base_t *base; /* where extent descriptors come from */
	/* Protected by mtx. */
	eset_t dirty;
	eset_t retained;
	decay_t decay;       /* how long dirty pages may stay */
	extent_t *spare;     /* unused descriptors, linked by heap_next */
	_Atomic size_t nspare; /* their number (written under mtx, read without) */
	extent_t *busy;      /* extents being purged, linked by heap_next/prev */
	size_t active_pages; /* pages in active extents */
	size_t mapped;       /* bytes of address space mapped from the OS */
	size_t grow_next;    /* size of the next mapping */
	uint64_t npurge;     /* purge operations (madvise calls) */
	uint64_t npurged;    /* pages purged */
} pages_t;

typedef struct pages_stats {
	size_t active_pages, dirty_pages, retained_pages, mapped;
	uint64_t npurge, npurged;
} pages_stats_t;

void pages_init(pages_t *p, unsigned arena_ind, base_t *base, ssize_t dirty_decay_ms);
/* Registers the lock (and its fork recovery) for a page allocator that lives
 * as long as the process. */
void pages_register_locks(pages_t *p);

/*
 * An active extent of size bytes (a PAGE multiple) aligned to alignment (a
 * power of two >= PAGE), registered in the emap with szind and the slab bit
 * (every page for slabs, the boundary pages otherwise).  Zeroed when zero is
 * set.  NULL when out of memory.
 */
extent_t *pages_alloc(pages_t *p, size_t size, size_t alignment, bool zero, unsigned szind,
                      bool slab);
/* Returns an active extent: it becomes dirty and is coalesced. */
void pages_free(pages_t *p, extent_t *e);
/* Grows an active large extent in place to new_size; false if the pages
 * after it are not free.  New bytes are zeroed when zero is set. */
bool pages_grow_in_place(pages_t *p, extent_t *e, size_t new_size, unsigned szind, bool zero);
/* Shrinks an active large extent in place to new_size (a PAGE multiple);
 * false (nothing changed) when no descriptor is left for the freed tail. */
bool pages_shrink_in_place(pages_t *p, extent_t *e, size_t new_size, unsigned szind);
/* Purges every dirty extent; returns the bytes purged. */
size_t pages_purge_all(pages_t *p);

void pages_stats_read(pages_t *p, pages_stats_t *out);


#endif
