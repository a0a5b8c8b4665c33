/*
 * pages_internal.h — what pages.c and pages_purge.c share: the free sets'
 * bookkeeping, merging, splitting and the decay the allocation paths run.
 * For those two files only.  Every function here needs the pages lock.
 */
#ifndef STRATA_PAGES_INTERNAL_H
#define STRATA_PAGES_INTERNAL_H

#include "pages.h"

/* Dirty pages of every arena together (dirty_max_bytes). */
extern _Atomic size_t pages_dirty_total;

/* The free set of a state (dirty, muzzy or retained). */
eset_t *pages_set_of(pages_t *p, extent_state_t state);
/* eset_insert and eset_remove, keeping pages_dirty_total and the unmerged
 * list. */
void pages_set_insert(pages_t *p, eset_t *set, extent_t *e);
void pages_set_remove(pages_t *p, eset_t *set, extent_t *e);
/* Merges a free extent in no set with its free neighbours of the same
 * state (taken out of their set); the merged extent, in no set. */
extent_t *pages_coalesce(pages_t *p, extent_t *e);
/* Files a free extent in its set as it is, or merged first. */
void pages_insert(pages_t *p, extent_t *e);
void pages_insert_coalesced(pages_t *p, extent_t *e);
/* Splits the first size bytes off a free extent in no set; the rest, or
 * NULL when no descriptor is left. */
extent_t *pages_split_free(pages_t *p, extent_t *e, size_t size);
/* Puts a descriptor back on the spare list. */
void pages_extent_release(pages_t *p, extent_t *e);
/* The decay that allocating and freeing threads run (all of it without the
 * purger, only what must happen at once with it). */
void pages_decay_inline(pages_t *p, uint64_t now);

#endif
