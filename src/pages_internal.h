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
 * list.  A dirty extent (set: dirty or held) goes to the held set when its
 * range holds it (hpage.h); removal finds the extent's set itself. */
void pages_set_insert(pages_t *p, eset_t *set, extent_t *e);
void pages_set_remove(pages_t *p, extent_t *e);
/* A dirty extent lies inside one range that holds its free pages
 * (hpage.h). */
bool pages_holds(pages_t *p, const extent_t *e);
/* Moves the dirty extents inside the range at `range` between the dirty
 * and held sets as the range now says; skip is an extent in no set. */
void pages_refile_range(pages_t *p, char *range, const extent_t *skip);
/* The active pages of [addr, addr + size) rose (add) or fell; true when a
 * range was queued to be made huge again (see pages_hpage.c). */
bool pages_hpage_active(pages_t *p, void *addr, size_t size, bool add);
/* See pages_hpage.c. */
extent_t *pages_purge_clip(pages_t *p, extent_t *e);
/* e (in no set) was taken from retained space: the first touch of a huge
 * range faults it in whole, so the retained pages beside e in its first
 * and last ranges become resident; the ranges are marked warm, for the
 * idle pass to purge those pages once the range is not dense. */
void pages_note_warm(pages_t *p, const extent_t *e);
/* The huge ranges a purge of e (in no set) covers in part lose their huge
 * state (their held pages go back to decay); their bases into out, for
 * MADV_NOHUGEPAGE with the lock dropped, before the purge.  How many. */
unsigned pages_dissolve_for_purge(pages_t *p, const extent_t *e, char *out[2]);
/* When the idle pass is next due (UINT64_MAX: not before new activity). */
uint64_t pages_idle_deadline(const pages_t *p);
/* Merges a free extent in no set with its free neighbours of the same
 * state (taken out of their set); the merged extent, in no set. */
extent_t *pages_coalesce(pages_t *p, extent_t *e);
/* Files a free extent in its set as it is, or merged first. */
void pages_insert(pages_t *p, extent_t *e);
void pages_insert_coalesced(pages_t *p, extent_t *e);
/* Splits the first size bytes off a free extent in no set; the rest, or
 * NULL when no descriptor is left. */
extent_t *pages_split_free(pages_t *p, extent_t *e, size_t size);
/* Tops the spare descriptors up to PAGES_SPARE_RESERVE, from the base.
 * Lock not held. */
void pages_reserve_refill(pages_t *p, size_t have);

static inline void
pages_reserve_descriptors(pages_t *p)
{
	size_t have = atomic_load_relaxed(&p->nspare);
	if (UNLIKELY(have < PAGES_SPARE_RESERVE))
		pages_reserve_refill(p, have);
}
/* Puts a descriptor back on the spare list. */
void pages_extent_release(pages_t *p, extent_t *e);
/* The decay that allocating and freeing threads run (all of it without the
 * purger, only what must happen at once with it). */
void pages_decay_inline(pages_t *p, uint64_t now);

#endif
