/*
 * pages_purge.c — how an arena's page allocator lets freed pages go: the
 * decay of both states (the curves, the burst model, the dirty cap), purging
 * an extent with the lock dropped around the system call, and the explicit
 * purges and decay settings.  See pages.h for the model and locks;
 * docs/design.md, "Decay".
 */
#include "background.h"
#include "clock.h"
#include "conf.h"
#include "os.h"
#include "pages.h"
#include "pages_internal.h"

/*
 * Takes a free extent of `set` out for purging, merged with its neighbours
 * of the same state (slabs are filed unmerged), without the parts in
 * ranges that hold their free pages (pages_purge_clip), and cut to at most
 * npages when a spare descriptor allows: a tail of that many pages (the
 * head goes back).  NULL when nothing of it may be purged.  Lock held.
 */
static extent_t *
pages_purge_candidate(pages_t *p, eset_t *set, size_t npages)
{
	extent_t *e = eset_find_largest(set);
	pages_set_remove(p, e);
	e = pages_purge_clip(p, pages_coalesce(p, e));
	if (e == NULL)
		return NULL;
	/* Only with a spare descriptor on hand: the purge paths do not top
	 * the reserve up, and the base must not map under this lock.  Without
	 * one the whole extent goes, a little past the curve. */
	if (npages < (e->size >> LG_PAGE) && p->spare != NULL) {
		extent_t *tail = pages_split_free(p, e, e->size - (npages << LG_PAGE));
		if (tail != NULL) {
			pages_set_insert(p, set, e);
			return tail;
		}
	}
	return e;
}

/*
 * The bracket around a purge's system call or hooks: the extent becomes
 * BUSY and goes on the busy list, or, when the call may unmap it, out of
 * the page map (before anyone can map the range again) and on the
 * unmapping list; the lock is dropped.  pages_purge_end takes the lock
 * back, counts the call and takes the extent off its list.
 */
static void
pages_purge_begin(pages_t *p, extent_t *e, bool may_unmap)
{
	e->state = EXTENT_BUSY;
	if (may_unmap) {
		emap_set_boundary(e->addr, e->size, 0);
		extent_list_push(&p->unmapping, e);
	} else {
		extent_list_push(&p->busy, e);
	}
	mutex_unlock(&p->mtx);
}

static void
pages_purge_end(pages_t *p, extent_t *e, bool may_unmap, pages_purge_stats_t *stats)
{
	mutex_lock(&p->mtx);
	stats->nmadvise++;
	extent_list_remove(may_unmap ? &p->unmapping : &p->busy, e);
}

/*
 * pages_purge_extent for an arena with extent hooks, in jemalloc's order:
 * to muzzy, purge_lazy; to retained (or when purge_lazy refuses), dalloc
 * (the extent is gone), else decommit, else purge_forced, else purge_lazy
 * (from dirty), and the extent is retained whatever they did: zeroed after
 * a decommit or forced purge.  Every hook refusing is not a failure.  The
 * lock is dropped around the hooks; while dalloc may unmap, the extent is
 * out of the page map and on the unmapping list.  Lock held.
 */
static bool
pages_purge_extent_hooked(pages_t *p, extent_hooks_t *h, extent_t *e, extent_state_t to,
                          pages_purge_stats_t *stats, uint64_t now)
{
	extent_state_t from = e->state;
	size_t npages = e->size >> LG_PAGE;
	bool may_dalloc = extent_hooks_can_dalloc(h);
	pages_purge_begin(p, e, may_dalloc);
	unsigned ind = p->arena_ind;
	bool gone = false, zeroed = false, decommitted = e->decommitted;
	extent_state_t got = EXTENT_RETAINED;
	if (to == EXTENT_MUZZY && !extent_hooks_purge_lazy(h, e->addr, e->size, ind))
		got = EXTENT_MUZZY;
	else if (may_dalloc && !extent_hooks_dalloc(h, e->addr, e->size, !decommitted, ind))
		gone = true;
	else if (decommitted || !extent_hooks_decommit(h, e->addr, e->size, ind))
		zeroed = decommitted = true;
	else if (!extent_hooks_purge_forced(h, e->addr, e->size, ind))
		zeroed = true;
	else if (from == EXTENT_DIRTY && to == EXTENT_RETAINED)
		extent_hooks_purge_lazy(h, e->addr, e->size, ind);
	pages_purge_end(p, e, may_dalloc, stats);
	stats->purged += npages;
	if (gone) {
		p->mapped -= e->size;
		pages_extent_release(p, e);
		return true;
	}
	e->state = got;
	e->zeroed = zeroed;
	e->decommitted = decommitted;
	if (got == EXTENT_MUZZY)
		decay_record(&p->decay_muzzy, now, npages);
	pages_insert_coalesced(p, e);
	return true;
}

/*
 * Purges one free extent (in no set) to the state `to`: muzzy (MADV_FREE),
 * or retained (MADV_DONTNEED, or munmap without retain).  The lock is
 * dropped around the system call; the extent meanwhile is BUSY and on a
 * busy list.  false when the call failed (the extent goes back to its
 * state).  Arenas with extent hooks purge through them instead.  Lock held.
 */
static bool
pages_purge_extent(pages_t *p, extent_t *e, extent_state_t to, pages_purge_stats_t *stats,
                   uint64_t now)
{
	extent_hooks_t *h = atomic_load_relaxed(&p->hooks);
	if (h != NULL)
		return pages_purge_extent_hooked(p, h, e, to, stats, now);
	extent_state_t from = e->state;
	size_t npages = e->size >> LG_PAGE;
	bool unmap = to == EXTENT_RETAINED && !opt_retain;
	char *dissolved[2];
	unsigned ndissolved = pages_dissolve_for_purge(p, e, dissolved);
	pages_purge_begin(p, e, unmap);
	for (unsigned i = 0; i < ndissolved; i++)
		os_advise_huge(dissolved[i], HUGEPAGE, OS_HUGE_FORBID);
	int err = 0;
	if (unmap)
		os_pages_unmap(e->addr, e->size);
	else if (to == EXTENT_MUZZY)
		err = os_purge_lazy(e->addr, e->size);
	else
		err = os_purge_forced(e->addr, e->size);
	pages_purge_end(p, e, unmap, stats);
	if (unmap) {
		p->mapped -= e->size;
		pages_extent_release(p, e);
		stats->purged += npages;
		return true;
	}
	if (err != 0) {
		e->state = from;
		pages_insert(p, e);
		return false;
	}
	stats->purged += npages;
	e->state = to;
	e->zeroed = to == EXTENT_RETAINED;
	if (to == EXTENT_MUZZY)
		decay_record(&p->decay_muzzy, now, npages);
	pages_insert_coalesced(p, e);
	return true;
}

/* Purges extents of `from` (dirty or muzzy), largest first, until at most
 * target pages are left in it, moving them to `to`.  Lock held. */
static void
pages_purge_state_to(pages_t *p, extent_state_t from, extent_state_t to, size_t target,
                     uint64_t now)
{
	eset_t *set = pages_set_of(p, from);
	pages_purge_stats_t *stats = from == EXTENT_DIRTY ? &p->dirty_stats : &p->muzzy_stats;
	decay_t *decay = from == EXTENT_DIRTY ? &p->decay_dirty : &p->decay_muzzy;
	size_t before = set->npages;
	while (set->npages > target) {
		extent_t *e = pages_purge_candidate(p, set, set->npages - target);
		if (e != NULL && !pages_purge_extent(p, e, to, stats, now))
			break;
	}
	if (set->npages < before) {
		stats->npurge++;
		decay_purged(decay, before - set->npages);
	}
}

/* Where decayed dirty pages go: muzzy unless muzzy_decay_ms is 0. */
static extent_state_t
pages_dirty_destination(const pages_t *p)
{
	return p->decay_muzzy.decay_ms != 0 ? EXTENT_MUZZY : EXTENT_RETAINED;
}

/* Purges this arena's dirty pages while all arenas together hold more than
 * dirty_max_bytes.  Lock held. */
static void
pages_enforce_cap(pages_t *p, uint64_t now)
{
	size_t cap = opt_dirty_max_bytes >> LG_PAGE;
	if (opt_dirty_max_bytes == 0)
		return;
	size_t total = atomic_load_relaxed(&pages_dirty_total);
	if (total <= cap)
		return;
	size_t excess = total - cap;
	size_t target = p->dirty.npages > excess ? p->dirty.npages - excess : 0;
	pages_purge_state_to(p, EXTENT_DIRTY, pages_dirty_destination(p), target, now);
}

/*
 * The decay at now: purges the dirty pages that neither the curve nor the
 * burst model keeps, and the muzzy ones the muzzy curve lets go.  With
 * schedule, returns when there is next something to purge (the purger's
 * question: a search along both curves, far dearer than the purge check);
 * without, returns 0.  Lock held.
 */
static uint64_t
pages_decay_locked(pages_t *p, uint64_t now, bool schedule)
{
	size_t curve = decay_allowed(&p->decay_dirty, now, p->dirty.npages);
	size_t keep = 0;
	uint64_t advice_until;
	burst_advice_t advice =
	    burst_advise(&p->burst, now, p->decay_dirty.decay_ms, &keep, &advice_until);
	size_t allowed = curve;
	if (advice == BURST_OVERDUE)
		allowed = 0;
	else if (advice == BURST_EXPECTED && keep > curve)
		allowed = keep < p->dirty.npages ? keep : p->dirty.npages;
	if (p->dirty.npages > allowed &&
	    (allowed == 0 || p->dirty.npages - allowed >= PAGES_PURGE_MIN_EXCESS))
		pages_purge_state_to(p, EXTENT_DIRTY, pages_dirty_destination(p), allowed, now);
	pages_enforce_cap(p, now);
	size_t muzzy_allowed = decay_allowed(&p->decay_muzzy, now, p->muzzy.npages);
	if (p->muzzy.npages > muzzy_allowed &&
	    (muzzy_allowed == 0 || p->muzzy.npages - muzzy_allowed >= PAGES_PURGE_MIN_EXCESS))
		pages_purge_state_to(p, EXTENT_MUZZY, EXTENT_RETAINED, muzzy_allowed, now);
	if (!schedule)
		return 0;
	size_t left = p->dirty.npages < curve ? p->dirty.npages : curve;
	uint64_t next = advice == BURST_EXPECTED && keep >= curve
	                    ? UINT64_MAX
	                    : decay_next_purge(&p->decay_dirty, left, PAGES_PURGE_MIN_BATCH);
	if (p->dirty.npages != 0 && advice_until < next)
		next = advice_until;
	uint64_t next_muzzy =
	    decay_next_purge(&p->decay_muzzy, muzzy_allowed, PAGES_PURGE_MIN_BATCH);
	return next_muzzy < next ? next_muzzy : next;
}

/* What allocating and freeing threads do about decay: everything without
 * the purger; with it, only what must happen at once (a decay_ms of 0, the
 * cap).  Lock held. */
void
pages_decay_inline(pages_t *p, uint64_t now)
{
	if (!background_purging()) {
		pages_decay_locked(p, now, false);
		return;
	}
	if (p->decay_dirty.decay_ms == 0 && p->dirty.npages != 0)
		pages_purge_state_to(p, EXTENT_DIRTY, pages_dirty_destination(p), 0, now);
	if (p->decay_muzzy.decay_ms == 0 && p->muzzy.npages != 0)
		pages_purge_state_to(p, EXTENT_MUZZY, EXTENT_RETAINED, 0, now);
	pages_enforce_cap(p, now);
}

uint64_t
pages_decay_run(pages_t *p, uint64_t now)
{
	mutex_lock(&p->mtx);
	uint64_t next = pages_decay_locked(p, now, true);
	uint64_t idle = pages_idle_deadline(p);
	if (idle < next)
		next = idle;
	atomic_store_relaxed(&p->dirty_at_run, p->dirty.npages);
	mutex_unlock(&p->mtx);
	return next;
}

size_t
pages_purge_all(pages_t *p)
{
	uint64_t now = clock_coarse_ns();
	mutex_lock(&p->mtx);
	uint64_t before = p->dirty_stats.purged + p->muzzy_stats.purged;
	/* Everything goes, held pages too (their ranges dissolve). */
	p->hold_suspended++;
	extent_t *e;
	while ((e = eset_find_largest(&p->held)) != NULL) {
		pages_set_remove(p, e);
		pages_set_insert(p, &p->dirty, e);
	}
	pages_purge_state_to(p, EXTENT_DIRTY, EXTENT_RETAINED, 0, now);
	pages_purge_state_to(p, EXTENT_MUZZY, EXTENT_RETAINED, 0, now);
	p->hold_suspended--;
	decay_forget(&p->decay_dirty);
	decay_forget(&p->decay_muzzy);
	size_t purged = (size_t)(p->dirty_stats.purged + p->muzzy_stats.purged - before) << LG_PAGE;
	mutex_unlock(&p->mtx);
	return purged;
}

void
pages_set_decay_ms(pages_t *p, bool muzzy, ssize_t decay_ms)
{
	uint64_t now = clock_coarse_ns();
	mutex_lock(&p->mtx);
	decay_init(muzzy ? &p->decay_muzzy : &p->decay_dirty, decay_ms, now);
	if (decay_ms >= 0 && muzzy)
		pages_purge_state_to(p, EXTENT_MUZZY, EXTENT_RETAINED, 0, now);
	else if (decay_ms >= 0)
		pages_purge_state_to(p, EXTENT_DIRTY, pages_dirty_destination(p), 0, now);
	size_t ndirty = p->dirty.npages, at_run = atomic_load_relaxed(&p->dirty_at_run);
	mutex_unlock(&p->mtx);
	background_note_dirty(p->arena_ind, ndirty, at_run);
}

ssize_t
pages_decay_ms(pages_t *p, bool muzzy)
{
	mutex_lock(&p->mtx);
	ssize_t ms = muzzy ? p->decay_muzzy.decay_ms : p->decay_dirty.decay_ms;
	mutex_unlock(&p->mtx);
	return ms;
}

size_t
pages_dirty_bytes_total(void)
{
	return atomic_load_relaxed(&pages_dirty_total) << LG_PAGE;
}
