/*
 * pages_hpage.c — what a page allocator does for huge pages under the
 * thp:auto policy (hpage.h): keeping purges from splitting dense huge
 * ranges, dissolving sparse ones, making dense dissolved ones huge again
 * (the purger), the idle pass's share, and the huge-page statistics.  See
 * pages.h for the model and locks; docs/design.md, "Transparent huge
 * pages".
 */
#include <errno.h>

#include "os.h"
#include "pages.h"
#include "pages_internal.h"

/* Ranges one lock hold dissolves or makes huge before the system calls. */
#define PAGES_HPAGE_BATCH 64

void (*pages_idle_pass)(pages_t *p);

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
		bool whole = start <= range && range + HUGEPAGE <= end;
		/* An empty range keeps no page after the purge: nothing for
		 * khugepaged to fill back, and the next use faults huge. */
		if (r == NULL || !r->huge || whole || r->active == 0)
			continue;
		r->huge = false;
		p->hpage.counters.dissolves++;
		pages_refile_range(p, range, e);
		out[n++] = range;
	}
	return n;
}

/* hpage_pick: a queued range, dequeued; chosen when still dense. */
static bool
pages_pick_queued(hpage_range_t *r, void *arg)
{
	pages_t *p = arg;
	if (!r->queued)
		return false;
	r->queued = false;
	atomic_store_relaxed(&p->hpage.nqueued, atomic_load_relaxed(&p->hpage.nqueued) - 1);
	if (r->huge || r->active < hpage_hugify_pages)
		return false;
	r->huge = true;
	return true;
}

void
pages_hugify_run(pages_t *p)
{
	for (;;) {
		char *ranges[PAGES_HPAGE_BATCH];
		mutex_lock(&p->mtx);
		size_t n = atomic_load_relaxed(&p->hpage.nqueued) == 0
		               ? 0
		               : hpage_pick(&p->hpage, pages_pick_queued, p, ranges, PAGES_HPAGE_BATCH);
		for (size_t i = 0; i < n; i++)
			pages_refile_range(p, ranges[i], NULL);
		p->hpage.counters.hugifies += n;
		mutex_unlock(&p->mtx);
		if (n == 0)
			return;
		uint64_t failures = 0;
		for (size_t i = 0; i < n; i++) {
			os_advise_huge(ranges[i], HUGEPAGE, OS_HUGE_ADVISE);
			int err = os_advise_huge(ranges[i], HUGEPAGE, OS_HUGE_COLLAPSE);
			/* EINVAL: a kernel without MADV_COLLAPSE; khugepaged
			 * collapses the range in its own time. */
			if (err != 0 && err != EINVAL) {
				failures++;
				hpage_warn_refused(err);
			}
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
	return r == NULL || !hpage_policy() || !r->huge;
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
