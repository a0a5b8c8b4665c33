/*
 * pages_hpage.c — what a page allocator does for huge pages under the
 * thp:auto policy (hpage.h): keeping purges from splitting dense huge
 * ranges, dissolving sparse ones, making dense dissolved ones huge again
 * (the purger), purging what huge faults brought in unseen (warm ranges),
 * the idle pass's share, and the huge-page statistics.  See
 * pages.h for the model and locks; docs/design.md, "Transparent huge
 * pages".
 */
#include <errno.h>

#include "clock.h"
#include "debug.h"
#include "os.h"
#include "pages.h"
#include "pages_internal.h"

/* Ranges one lock hold dissolves or makes huge before the system calls. */
#define PAGES_HPAGE_BATCH 64

void (*pages_idle_pass)(pages_t *p);

/* A dirty extent inside one range whose free pages are held (hpage.h).
 * Lock held. */
bool
pages_holds(pages_t *p, const extent_t *e)
{
	if (!hpage_policy() || p->hold_suspended || e->state != EXTENT_DIRTY)
		return false;
	char *range = hpage_range_base(e->addr);
	if (hpage_range_base((char *)e->addr + e->size - 1) != range)
		return false;
	hpage_range_t *r = hpage_range_of(&p->hpage, range);
	return r != NULL && hpage_range_holds(r);
}

void
pages_refile_range(pages_t *p, char *range, const extent_t *skip)
{
	for (char *a = range, *end = range + HUGEPAGE; a < end;) {
		extent_t *e = emap_bits_extent(emap_lookup(a));
		if (e == NULL || e->addr != a) {
			a += PAGE;
			continue;
		}
		if (e != skip && e->state == EXTENT_DIRTY && e->held != pages_holds(p, e)) {
			bool released = e->held;
			pages_set_remove(p, e);
			pages_set_insert(p, &p->dirty, e);
			/* Held pages left the curve's view; back, they start
			 * their decay now. */
			if (released)
				decay_record(&p->decay_dirty, clock_coarse_ns(), e->size >> LG_PAGE);
		}
		a += e->size;
	}
}

/*
 * The active pages of [addr, addr + size) rose (add) or fell: the counts of
 * its ranges, refiling a range whose free pages stop or start being held,
 * and queueing a dissolved range that became dense for the purger.  true
 * when a range was queued.  Lock held.
 */
bool
pages_hpage_active(pages_t *p, void *addr, size_t size, bool add)
{
	if (!hpage_policy())
		return false;
	bool queued = false;
	for (char *a = addr, *end = a + size; a < end;) {
		char *range = hpage_range_base(a);
		char *to = end < range + HUGEPAGE ? end : range + HUGEPAGE;
		hpage_range_t *r = hpage_range_of(&p->hpage, range);
		if (r == NULL) {
			a = to; /* the hooks' memory: not tracked */
			continue;
		}
		uint16_t n = (uint16_t)((size_t)(to - a) >> LG_PAGE);
		bool held = hpage_range_holds(r);
		r->active = add ? (uint16_t)(r->active + n) : (uint16_t)(r->active - n);
		DEBUG_ASSERT(r->active <= HPAGE_RANGE_PAGES);
		if (hpage_range_holds(r) != held)
			pages_refile_range(p, range, NULL);
		if (!r->huge && !r->queued && r->active >= hpage_hugify_pages) {
			r->queued = true;
			r->queued_at = clock_coarse_ns();
			atomic_store_relaxed(&p->hpage.nqueued,
			                     atomic_load_relaxed(&p->hpage.nqueued) + 1);
			queued = true;
		}
		a = to;
	}
	return queued;
}

/*
 * Splits off the parts of a purge candidate (in no set, dirty) that lie in
 * ranges whose free pages are held, at the range boundaries, and files
 * them (in the held set), so that a purge never splits a dense huge page;
 * what is left to purge, NULL when nothing is.  Without a spare descriptor
 * the candidate stays whole.  Lock held.
 */
extent_t *
pages_purge_clip(pages_t *p, extent_t *e)
{
	if (!hpage_policy() || p->hold_suspended != 0 || e->state != EXTENT_DIRTY)
		return e;
	char *first = hpage_range_base(e->addr);
	hpage_range_t *r = hpage_range_of(&p->hpage, first);
	if (r != NULL && hpage_range_holds(r)) {
		if ((char *)e->addr + e->size <= first + HUGEPAGE) {
			pages_insert(p, e);
			return NULL;
		}
		if (p->spare == NULL)
			return e;
		extent_t *rest = pages_split_free(p, e, (size_t)(first + HUGEPAGE - (char *)e->addr));
		if (rest == NULL)
			return e;
		pages_insert(p, e);
		e = rest;
	}
	char *last = hpage_range_base((char *)e->addr + e->size - 1);
	r = hpage_range_of(&p->hpage, last);
	if (r != NULL && hpage_range_holds(r) && last > (char *)e->addr && p->spare != NULL) {
		extent_t *tail = pages_split_free(p, e, (size_t)(last - (char *)e->addr));
		if (tail != NULL)
			pages_insert(p, tail);
	}
	return e;
}

void
pages_note_warm(pages_t *p, const extent_t *e)
{
	hpage_range_t *r = hpage_range_of(&p->hpage, e->addr);
	if (r != NULL && r->huge)
		r->warm = true;
	r = hpage_range_of(&p->hpage, (char *)e->addr + e->size - 1);
	if (r != NULL && r->huge)
		r->warm = true;
}

unsigned
pages_dissolve_for_purge(pages_t *p, const extent_t *e, char *out[2])
{
	if (!hpage_policy())
		return 0;
	char *start = e->addr, *end = start + e->size;
	char *ends[2] = {hpage_range_base(start), hpage_range_base(end - 1)};
	unsigned n = 0;
	for (unsigned i = 0; i < 2; i++) {
		if (i == 1 && ends[1] == ends[0])
			break;
		char *range = ends[i];
		hpage_range_t *r = hpage_range_of(&p->hpage, range);
		/* Any purge: a partial one leaves pages beside the holes,
		 * which khugepaged would collapse back whole (an empty
		 * range's too); after a whole one, memory that came and went
		 * is faulted back by the page, as it is used. */
		if (r == NULL || !r->huge)
			continue;
		r->huge = false;
		p->hpage.counters.dissolves++;
		pages_refile_range(p, range, e);
		out[n++] = range;
	}
	return n;
}

/* What pages_pick_queued needs and finds. */
typedef struct pages_hugify_pick {
	pages_t *p;
	uint64_t now;
	uint64_t next; /* when the next range still queued is due */
} pages_hugify_pick_t;

/* hpage_pick: a queued range that has been dense for the delay, dequeued;
 * chosen when still dense. */
static bool
pages_pick_queued(hpage_range_t *r, void *arg)
{
	pages_hugify_pick_t *pick = arg;
	pages_t *p = pick->p;
	if (!r->queued)
		return false;
	uint64_t due = r->queued_at + hpage_hugify_delay_ns < r->queued_at
	                   ? UINT64_MAX
	                   : r->queued_at + hpage_hugify_delay_ns;
	if (due > pick->now && r->active >= hpage_hugify_pages) {
		if (due < pick->next)
			pick->next = due;
		return false;
	}
	r->queued = false;
	atomic_store_relaxed(&p->hpage.nqueued, atomic_load_relaxed(&p->hpage.nqueued) - 1);
	if (r->huge || r->active < hpage_hugify_pages)
		return false;
	/* The collapse brings the whole range in, its free pages too. */
	r->huge = true;
	r->warm = true;
	return true;
}

uint64_t
pages_hugify_run(pages_t *p, uint64_t now)
{
	for (;;) {
		char *ranges[PAGES_HPAGE_BATCH];
		pages_hugify_pick_t pick = {.p = p, .now = now, .next = UINT64_MAX};
		mutex_lock(&p->mtx);
		size_t n = atomic_load_relaxed(&p->hpage.nqueued) == 0
		               ? 0
		               : hpage_pick(&p->hpage, pages_pick_queued, &pick, ranges,
		                            PAGES_HPAGE_BATCH);
		for (size_t i = 0; i < n; i++)
			pages_refile_range(p, ranges[i], NULL);
		p->hpage.counters.hugifies += n;
		mutex_unlock(&p->mtx);
		if (n == 0)
			return pick.next;
		uint64_t failures = 0;
		for (size_t i = 0; i < n; i++) {
			os_advise_huge(ranges[i], HUGEPAGE, OS_HUGE_ADVISE);
			int err = os_advise_huge(ranges[i], HUGEPAGE, OS_HUGE_COLLAPSE);
			/* EINVAL: a kernel without MADV_COLLAPSE; EAGAIN: a
			 * page was busy.  Either way khugepaged collapses the
			 * range in its own time.  ENOMEM (no huge page) and
			 * EBUSY (over the cgroup's charge) are refusals. */
			if (err != 0 && err != EINVAL)
				failures++;
			if (err == ENOMEM || err == EBUSY)
				hpage_warn_refused(err);
		}
		if (failures != 0) {
			mutex_lock(&p->mtx);
			p->hpage.counters.collapse_failures += failures;
			mutex_unlock(&p->mtx);
		}
	}
}

uint64_t
pages_idle_deadline(const pages_t *p)
{
	ssize_t ms = p->decay_dirty.decay_ms;
	uint64_t last = p->burst.last_active;
	if (pages_idle_pass == NULL || ms <= 0 || last == 0 || p->idle_pass_at == last ||
	    p->active_pages == 0)
		return UINT64_MAX;
	return last + (uint64_t)ms * 1000000u;
}

bool
pages_idle_claim(pages_t *p, uint64_t now)
{
	mutex_lock(&p->mtx);
	bool due = pages_idle_deadline(p) <= now;
	if (due)
		p->idle_pass_at = p->burst.last_active;
	mutex_unlock(&p->mtx);
	return due;
}

void
pages_idle_note(pages_t *p, void *addr, size_t npages)
{
	hpage_range_t *r = hpage_range_of(&p->hpage, addr);
	if (r != NULL)
		atomic_add_relaxed(&r->idle_free, (uint16_t)npages);
}

bool
pages_idle_eligible(pages_t *p, const void *addr)
{
	hpage_range_t *r = hpage_range_of(&p->hpage, addr);
	if (r == NULL || !hpage_policy())
		return true;
	mutex_lock(&p->mtx);
	bool huge = r->huge;
	mutex_unlock(&p->mtx);
	return !huge;
}

/* hpage_pick: a huge range whose pages in use (active pages less the free
 * pages inside its slabs) are below the dissolve threshold, dissolved. */
static bool
pages_pick_sparse(hpage_range_t *r, void *arg)
{
	pages_t *p = arg;
	size_t idle_free = atomic_load_relaxed(&r->idle_free);
	if (!r->huge || r->active == 0 ||
	    r->active - (idle_free < r->active ? idle_free : r->active) >= hpage_dissolve_pages)
		return false;
	r->huge = false;
	p->hpage.counters.dissolves++;
	return true;
}

/* hpage_foreach: forgets the idle pass's count. */
static void
pages_idle_forget(hpage_range_t *r, char *base, void *arg)
{
	(void)base;
	(void)arg;
	atomic_store_relaxed(&r->idle_free, 0);
}

void
pages_idle_dissolve(pages_t *p)
{
	size_t n;
	do {
		char *ranges[PAGES_HPAGE_BATCH];
		mutex_lock(&p->mtx);
		n = hpage_pick(&p->hpage, pages_pick_sparse, p, ranges, PAGES_HPAGE_BATCH);
		for (size_t i = 0; i < n; i++)
			pages_refile_range(p, ranges[i], NULL);
		mutex_unlock(&p->mtx);
		for (size_t i = 0; i < n; i++)
			os_advise_huge(ranges[i], HUGEPAGE, OS_HUGE_FORBID);
	} while (n == PAGES_HPAGE_BATCH);
	hpage_foreach(&p->hpage, pages_idle_forget, NULL);
}

/* Retained pieces one range's purge takes at most (they alternate with
 * pages in use: at most half its pages). */
#define PAGES_RANGE_PIECES (HPAGE_RANGE_PAGES / 2)

/*
 * Takes the retained extents inside the range at `range` out for purging
 * (split at its boundaries), BUSY and on the busy list, into pieces; how
 * many.  A piece that needs a descriptor when none is spare stays.  Lock
 * held.
 */
static size_t
pages_range_retained(pages_t *p, char *range, extent_t **pieces)
{
	char *end = range + HUGEPAGE;
	size_t n = 0;
	for (char *a = range; a < end && n < PAGES_RANGE_PIECES;) {
		extent_t *e = emap_bits_extent(emap_lookup(a));
		if (e == NULL || e->state != EXTENT_RETAINED || e->decommitted) {
			a = e != NULL && e->addr == a ? a + e->size : a + PAGE;
			continue;
		}
		pages_set_remove(p, e);
		if ((char *)e->addr < range) {
			extent_t *rest = pages_split_free(p, e, (size_t)(range - (char *)e->addr));
			pages_insert(p, e);
			if (rest == NULL)
				return n;
			e = rest;
		}
		if ((char *)e->addr + e->size > end) {
			extent_t *tail = pages_split_free(p, e, (size_t)(end - (char *)e->addr));
			if (tail == NULL) {
				pages_insert(p, e);
				return n;
			}
			pages_insert(p, tail);
		}
		e->state = EXTENT_BUSY;
		extent_list_push(&p->busy, e);
		pieces[n++] = e;
		a = (char *)e->addr + e->size;
	}
	return n;
}

/* hpage_pick: a warm range that does not hold its free pages, no longer
 * warm; dissolved when it has pages in use. */
static bool
pages_pick_warm(hpage_range_t *r, void *arg)
{
	pages_t *p = arg;
	if (!r->warm || hpage_range_holds(r))
		return false;
	r->warm = false;
	if (r->huge && r->active != 0) {
		r->huge = false;
		p->hpage.counters.dissolves++;
	}
	return true;
}

void
pages_purge_warm(pages_t *p)
{
	if (!hpage_policy())
		return;
	size_t n;
	do {
		char *ranges[PAGES_HPAGE_BATCH];
		mutex_lock(&p->mtx);
		n = hpage_pick(&p->hpage, pages_pick_warm, p, ranges, PAGES_HPAGE_BATCH);
		mutex_unlock(&p->mtx);
		for (size_t i = 0; i < n; i++) {
			extent_t *pieces[PAGES_RANGE_PIECES];
			pages_reserve_descriptors(p);
			mutex_lock(&p->mtx);
			hpage_range_t *r = hpage_range_of(&p->hpage, ranges[i]);
			bool forbid = !r->huge;
			if (forbid)
				pages_refile_range(p, ranges[i], NULL);
			size_t npieces = pages_range_retained(p, ranges[i], pieces);
			mutex_unlock(&p->mtx);
			if (forbid)
				os_advise_huge(ranges[i], HUGEPAGE, OS_HUGE_FORBID);
			for (size_t k = 0; k < npieces; k++)
				os_purge_forced(pieces[k]->addr, pieces[k]->size);
			mutex_lock(&p->mtx);
			for (size_t k = 0; k < npieces; k++) {
				extent_list_remove(&p->busy, pieces[k]);
				pieces[k]->state = EXTENT_RETAINED;
				pieces[k]->zeroed = true;
				pages_insert_coalesced(p, pieces[k]);
			}
			mutex_unlock(&p->mtx);
		}
	} while (n == PAGES_HPAGE_BATCH);
}

void
pages_note_slab_purged(pages_t *p, size_t npages)
{
	mutex_lock(&p->mtx);
	p->hpage.counters.slab_pages_purged += npages;
	mutex_unlock(&p->mtx);
}

/* hpage_foreach: counts ranges in use, and those of them that are huge. */
static void
pages_count_ranges(hpage_range_t *r, char *base, void *arg)
{
	(void)base;
	pages_hpage_stats_t *out = arg;
	if (r->active == 0)
		return;
	out->ranges++;
	if (r->huge)
		out->huge_ranges++;
}

void
pages_hpage_stats_read(pages_t *p, pages_hpage_stats_t *out)
{
	*out = (pages_hpage_stats_t){0};
	mutex_lock(&p->mtx);
	out->counters = p->hpage.counters;
	hpage_foreach(&p->hpage, pages_count_ranges, out);
	mutex_unlock(&p->mtx);
}

/* hpage_smaps_scan: a mapping's huge bytes, in proportion to the part of
 * it that is the page allocators'. */
static void
pages_huge_vma(uintptr_t lo, uintptr_t hi, size_t anon_huge, void *arg)
{
	size_t *sum = arg;
	size_t ours = 0;
	for (pages_t *p = pages_registry_first(); p != NULL; p = p->registry_next)
		ours += hpage_overlap(&p->hpage, lo, hi);
	if (ours != 0 && hi > lo)
		*sum += (size_t)((unsigned __int128)anon_huge * ours / (hi - lo));
}

ssize_t
pages_huge_bytes(void)
{
	size_t sum = 0;
	if (hpage_smaps_scan(pages_huge_vma, &sum) != 0)
		return -1;
	return (ssize_t)sum;
}
