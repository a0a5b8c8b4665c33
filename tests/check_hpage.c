/*
 * check_hpage.c — the thp:auto policy of the page allocator (hpage.h,
 * pages_hpage.c) and the idle pass of a bin, with the huge-page advice and
 * the purges replaced by counting hooks (os.h), so that nothing depends on
 * the kernel's THP mode:
 *   - a new mapping is advised MADV_HUGEPAGE whole and tracked as huge
 *     ranges with their active pages;
 *   - a run below 2 MiB does not straddle a range boundary when it fits
 *     after it; a run of 2 MiB or more starts on one when it fits there;
 *   - the free pages of a dense huge range are held: a decay time of 0
 *     does not purge them; once the range is sparse they are released, the
 *     range is dissolved (MADV_NOHUGEPAGE before the purge) and purged;
 *   - any purge dissolves a huge range, an empty one's purged in part or
 *     whole;
 *   - a dissolved range that is dense again is made huge by the purger's
 *     run once it has stayed dense for the delay (MADV_HUGEPAGE,
 *     MADV_COLLAPSE; a refusal counted);
 *   - an explicit purge, and the dirty_max_bytes cap, release held pages too;
 *   - the idle pass is due once per quiet spell of dirty_decay_ms;
 *   - bin_idle_purge purges the free pages of partly used slabs, keeps a
 *     free region in each, and while the lock is dropped around the purge
 *     no region of a page being purged is handed out (the purge hook
 *     allocates from the bin).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bin.h"
#include "clock.h"
#include "conf.h"
#include "decay.h"
#include "emap.h"
#include "hpage.h"
#include "os.h"
#include "pages.h"

#define RANGE_PAGES ((size_t)HPAGE_RANGE_PAGES)

static base_t test_base;
static pages_t test_pages;

/* What the hooks saw. */
static struct {
	unsigned advise, forbid, collapse;
	int collapse_result;
	size_t purged_pages;
	void *last_forbid;
} seen;

static int
advise_counting(void *addr, size_t size, os_huge_advice_t advice)
{
	(void)size;
	if (advice == OS_HUGE_ADVISE)
		seen.advise++;
	else if (advice == OS_HUGE_FORBID) {
		seen.forbid++;
		seen.last_forbid = addr;
	} else {
		seen.collapse++;
		return seen.collapse_result;
	}
	return 0;
}

static int
purge_counting(void *addr, size_t size)
{
	seen.purged_pages += size / PAGE;
	return os_real_hooks.purge_forced(addr, size);
}

static void
setup(void)
{
	sz_boot();
	decay_boot();
	base_init(&test_base, MUTEX_RANK_GLOBAL_BASE);
	emap_boot(&test_base);
	memset(&seen, 0, sizeof(seen));
	os_test_hooks = (os_hooks_t){.advise_huge = advise_counting, .purge_forced = purge_counting};
	atomic_store(&clock_test_now_ns, 1000000000ull);
	hpage_mode = HPAGE_POLICY;
	hpage_dissolve_pages = 358; /* 70% */
	hpage_hugify_pages = 486;   /* 95% */
	hpage_hugify_delay_ns = 1000000000ull;
}

static void
teardown(void)
{
	os_test_hooks = (os_hooks_t){0};
	atomic_store(&clock_test_now_ns, 0);
}

static pages_stats_t
stats_of(pages_t *p)
{
	pages_stats_t st;
	pages_stats_read(p, &st);
	return st;
}

static extent_t *
alloc_pages(size_t npages)
{
	extent_t *e = pages_alloc(&test_pages, npages * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(e);
	return e;
}

/* The range at `range` was dissolved: advised MADV_NOHUGEPAGE (the last
 * such advice, and the only one so far) and no longer huge. */
static void
assert_dissolved(char *range)
{
	ck_assert_uint_eq(seen.forbid, 1);
	ck_assert_ptr_eq(seen.last_forbid, range);
	ck_assert(!hpage_range_of(&test_pages.hpage, range)->huge);
}

/* One range filled by 32 extents of 16 pages; returns its base. */
static char *
fill_range(extent_t *e[32])
{
	for (unsigned i = 0; i < 32; i++)
		e[i] = alloc_pages(16);
	char *range = hpage_range_base(e[0]->addr);
	for (unsigned i = 0; i < 32; i++)
		ck_assert_ptr_eq(hpage_range_base(e[i]->addr), range);
	ck_assert_uint_eq(hpage_range_of(&test_pages.hpage, range)->active, RANGE_PAGES);
	return range;
}

START_TEST(test_new_mapping_is_huge_and_tracked)
{
	pages_init(&test_pages, 3, &test_base, -1, 0);
	extent_t *e = alloc_pages(16);
	ck_assert_uint_eq(seen.advise, 1);
	ck_assert_uint_eq((uintptr_t)e->addr % HUGEPAGE, 0);
	hpage_range_t *r = hpage_range_of(&test_pages.hpage, e->addr);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->huge);
	ck_assert_uint_eq(r->active, 16);
	pages_free(&test_pages, e);
	ck_assert_uint_eq(r->active, 0);
}
END_TEST

START_TEST(test_runs_do_not_straddle)
{
	pages_init(&test_pages, 3, &test_base, -1, 0);
	/* Four ranges mapped and freed: one free extent to carve from. */
	pages_free(&test_pages, alloc_pages(4 * RANGE_PAGES));
	extent_t *head = alloc_pages(RANGE_PAGES - 8);
	ck_assert_uint_eq((uintptr_t)head->addr % HUGEPAGE, 0);
	/* 16 pages do not fit in the 8 left: they start on the next range. */
	extent_t *next = alloc_pages(16);
	ck_assert_ptr_eq(next->addr, (char *)head->addr + HUGEPAGE);
	/* The 8 pages left before the boundary still serve a small run. */
	extent_t *small = alloc_pages(8);
	ck_assert_ptr_eq(small->addr, (char *)head->addr + (RANGE_PAGES - 8) * PAGE);
	/* A huge page's worth starts on the next boundary, not right after
	 * the 16 pages. */
	extent_t *big = alloc_pages(RANGE_PAGES);
	ck_assert_ptr_eq(big->addr, (char *)head->addr + 2 * HUGEPAGE);
}
END_TEST

START_TEST(test_dense_range_holds_free_pages)
{
	pages_init(&test_pages, 3, &test_base, 0, 0); /* decay time 0: purge at once */
	extent_t *e[32];
	char *range = fill_range(e);
	/* 448 pages in use, above the threshold: held, not purged. */
	for (unsigned i = 0; i < 4; i++)
		pages_free(&test_pages, e[i]);
	ck_assert_uint_eq(stats_of(&test_pages).dirty_pages, 64);
	ck_assert_uint_eq(seen.purged_pages, 0);
	ck_assert_uint_eq(seen.forbid, 0);
	/* Holes of the dense range are filled first. */
	extent_t *again = alloc_pages(16);
	ck_assert_ptr_eq(hpage_range_base(again->addr), range);
	pages_free(&test_pages, again);
	/* Down to 352 pages in use: released, dissolved, purged. */
	for (unsigned i = 4; i < 10; i++)
		pages_free(&test_pages, e[i]);
	ck_assert_uint_eq(stats_of(&test_pages).dirty_pages, 0);
	ck_assert_uint_eq(seen.purged_pages, 160);
	assert_dissolved(range);
	pages_hpage_stats_t hs;
	pages_hpage_stats_read(&test_pages, &hs);
	ck_assert_uint_eq(hs.counters.dissolves, 1);
	ck_assert_uint_eq(hs.ranges, 1);
	ck_assert_uint_eq(hs.huge_ranges, 0);
}
END_TEST

/* Memory that came and went is faulted back by the page: a range purged
 * whole is dissolved too. */
START_TEST(test_range_purged_whole_is_dissolved)
{
	pages_init(&test_pages, 3, &test_base, 0, 0);
	extent_t *e = alloc_pages(RANGE_PAGES);
	char *range = e->addr;
	pages_free(&test_pages, e);
	ck_assert_uint_eq(seen.purged_pages, RANGE_PAGES);
	assert_dissolved(range);
}
END_TEST

/* An empty range purged in part is dissolved all the same: the pages left
 * beside the holes would let khugepaged collapse the purged ones back. */
START_TEST(test_empty_range_purged_in_part_is_dissolved)
{
	pages_init(&test_pages, 3, &test_base, 1000, 0);
	extent_t *e[32];
	char *range = fill_range(e);
	uint64_t t0 = clock_coarse_ns();
	for (unsigned i = 0; i < 32; i++)
		pages_free(&test_pages, e[i]);
	ck_assert_uint_eq(hpage_range_of(&test_pages.hpage, range)->active, 0);
	ck_assert_uint_eq(stats_of(&test_pages).dirty_pages, RANGE_PAGES);
	/* Half-way through the curve, about half of the pages may go. */
	pages_decay_run(&test_pages, t0 + 500 * 1000000ull);
	ck_assert_uint_gt(seen.purged_pages, 0);
	ck_assert_uint_lt(seen.purged_pages, RANGE_PAGES);
	assert_dissolved(range);
}
END_TEST

START_TEST(test_dense_dissolved_range_made_huge_again)
{
	pages_init(&test_pages, 3, &test_base, 0, 0);
	extent_t *e[32];
	char *range = fill_range(e);
	for (unsigned i = 0; i < 12; i++)
		pages_free(&test_pages, e[i]);
	hpage_range_t *r = hpage_range_of(&test_pages.hpage, range);
	ck_assert(!r->huge);
	for (unsigned i = 0; i < 12; i++)
		e[i] = alloc_pages(16);
	ck_assert_uint_eq(r->active, RANGE_PAGES);
	ck_assert(r->queued);
	ck_assert_uint_eq(atomic_load(&test_pages.hpage.nqueued), 1);
	unsigned advised = seen.advise;
	seen.collapse_result = ENOMEM; /* no huge page to be had */
	uint64_t now = clock_coarse_ns();
	/* Not before it has been dense for the delay. */
	ck_assert_uint_eq(pages_hugify_run(&test_pages, now), now + hpage_hugify_delay_ns);
	ck_assert(!r->huge && r->queued);
	ck_assert_uint_eq(pages_hugify_run(&test_pages, now + hpage_hugify_delay_ns), UINT64_MAX);
	ck_assert(r->huge && !r->queued);
	ck_assert_uint_eq(seen.advise, advised + 1);
	ck_assert_uint_eq(seen.collapse, 1);
	pages_hpage_stats_t hs;
	pages_hpage_stats_read(&test_pages, &hs);
	ck_assert_uint_eq(hs.counters.hugifies, 1);
	ck_assert_uint_eq(hs.counters.collapse_failures, 1);
	/* Huge again, its free pages are held again. */
	pages_free(&test_pages, e[0]);
	ck_assert_uint_eq(stats_of(&test_pages).dirty_pages, 16);
}
END_TEST

START_TEST(test_purge_all_releases_held_pages)
{
	pages_init(&test_pages, 3, &test_base, -1, 0);
	extent_t *e[32];
	char *range = fill_range(e);
	for (unsigned i = 0; i < 4; i++)
		pages_free(&test_pages, e[i]);
	ck_assert_uint_eq(pages_purge_all(&test_pages), 64 * PAGE);
	ck_assert_uint_eq(stats_of(&test_pages).dirty_pages, 0);
	ck_assert_ptr_eq(seen.last_forbid, range);
}
END_TEST

START_TEST(test_dirty_cap_reaches_held_pages)
{
	pages_init(&test_pages, 3, &test_base, -1, 0);
	extent_t *e[32];
	char *range = fill_range(e);
	opt_dirty_max_bytes = 32 * PAGE;
	for (unsigned i = 0; i < 4; i++)
		pages_free(&test_pages, e[i]);
	opt_dirty_max_bytes = 0;
	/* 64 held pages over a cap of 32: held pages were purged too. */
	ck_assert_uint_le(stats_of(&test_pages).dirty_pages, 32);
	ck_assert_uint_ge(seen.purged_pages, 32);
	ck_assert_ptr_eq(seen.last_forbid, range);
}
END_TEST

static void
idle_pass_noop(pages_t *p)
{
	(void)p;
}

START_TEST(test_idle_pass_due_once_per_quiet_spell)
{
	pages_idle_pass = idle_pass_noop;
	pages_init(&test_pages, 3, &test_base, 1000, 0);
	extent_t *e = alloc_pages(16);
	uint64_t t0 = clock_coarse_ns();
	ck_assert(!pages_idle_claim(&test_pages, t0 + 999000000ull));
	ck_assert(pages_idle_claim(&test_pages, t0 + 1000000000ull));
	ck_assert(!pages_idle_claim(&test_pages, t0 + 5000000000ull));
	atomic_store(&clock_test_now_ns, t0 + 6000000000ull);
	pages_free(&test_pages, alloc_pages(16));
	ck_assert(pages_idle_claim(&test_pages, t0 + 7000000000ull));
	pages_free(&test_pages, e);
	pages_idle_pass = NULL;
}
END_TEST

/* The idle pass of one bin, in the class of 2560 bytes: slabs of 5 pages
 * and 8 regions, region i at [2560 i, 2560 i + 2560), so page 4 holds
 * regions 6 and 7 only, and page 3 part of region 4.  (A class whose slab
 * is one page has no partly used slab with a free page.) */
#define IDLE_CLASS_SIZE 2560
static bin_t test_bin;
static bin_remote_slots_t test_slots;
static unsigned test_binind;
static void *lent_page;      /* the page being purged, seen by the hook */
static unsigned reentered;   /* allocations made from inside the hook */

static int
purge_reenters(void *addr, size_t size)
{
	void *got[8];
	unsigned n = bin_malloc_batch(&test_bin, test_binind, &test_pages.pai, got, 8);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_msg((char *)got[i] < (char *)addr || (char *)got[i] >= (char *)addr + size,
		              "region %p of a page being purged was handed out", got[i]);
		reentered++;
	}
	lent_page = addr;
	seen.purged_pages += size / PAGE;
	return 0;
}

static bool
always_eligible(const void *addr, void *arg)
{
	(void)addr;
	(void)arg;
	return true;
}

START_TEST(test_bin_idle_purge_lends_regions)
{
	pages_init(&test_pages, 3, &test_base, -1, 0);
	memset(test_slots, 0, sizeof(test_slots));
	bin_init(&test_bin, false, &test_slots);
	test_binind = sz_size2index(IDLE_CLASS_SIZE);
	ck_assert_uint_eq(sz_bin_info[test_binind].slab_size, 5 * PAGE);
	enum { N = 64 };
	void *p[N];
	ck_assert_uint_eq(bin_malloc_batch(&test_bin, test_binind, &test_pages.pai, p, N), N);
	/* Regions 5, 6 and 7 of every slab freed: page 4 is free. */
	extent_t *slabs[N];
	bin_lookup_slabs(test_binind, p, slabs, N);
	void *freed[N];
	unsigned nfreed = 0;
	for (unsigned i = 0; i < N; i++) {
		if ((size_t)((char *)p[i] - (char *)slabs[i]->addr) / IDLE_CLASS_SIZE >= 5)
			freed[nfreed++] = p[i];
	}
	bin_lookup_slabs(test_binind, freed, slabs, nfreed);
	bin_free_batch(&test_bin, test_binind, &test_pages.pai, slabs, freed, nfreed);
	os_test_hooks.purge_forced = purge_reenters;
	size_t purged = bin_idle_purge(&test_bin, test_binind, &test_pages.pai, 1, always_eligible,
	                               NULL);
	ck_assert_uint_gt(purged, 0);
	ck_assert_uint_eq(purged, seen.purged_pages);
	ck_assert_uint_gt(reentered, 0);
	ck_assert_ptr_nonnull(lent_page);
	/* The same pass does not come back to the same slabs. */
	ck_assert_uint_eq(bin_idle_purge(&test_bin, test_binind, &test_pages.pai, 1,
	                                 always_eligible, NULL), 0);
	/* Every region is accounted for: the lent ones came back free. */
	bin_stats_t st;
	bin_stats_read(&test_bin, test_binind, &test_pages.pai, &st);
	ck_assert_uint_eq(st.curregs, N - nfreed + reentered);
}
END_TEST

START_TEST(test_slab_lend_keeps_counts)
{
	const bin_info_t *info = &sz_bin_info[sz_size2index(IDLE_CLASS_SIZE)];
	static extent_t slab;
	slab.addr = (void *)(uintptr_t)(16 * PAGE);
	slab_init(&slab, info);
	void *out[SZ_SLAB_MAXREGS];
	ck_assert_uint_eq(slab_alloc_batch(&slab, info, out, info->nregs), 8);
	/* Regions 0, 5, 6, 7 free: only page 4 holds no region in use. */
	unsigned free_regs[] = {0, 5, 6, 7};
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(slab_free_reg(&slab, info, out[free_regs[i]]), SLAB_FREE_OK);
	ck_assert_uint_eq(slab_free_pages(&slab, info), 1u << 4);
	ck_assert_uint_eq(slab_lend(&slab, info, 1u << 4), 2);
	ck_assert_uint_eq(slab.nfree, 2);
	/* Lent regions are in use: the allocator cannot hand them out. */
	void *got[8];
	ck_assert_uint_eq(slab_alloc_batch(&slab, info, got, 8), 2);
	ck_assert_ptr_eq(got[0], out[0]);
	ck_assert_ptr_eq(got[1], out[5]);
	slab_unlend(&slab, info, 1u << 4);
	ck_assert_uint_eq(slab.nfree, 2);
	ck_assert(slab_nfree_consistent(&slab));
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("hpage");
	TCase *tc = tcase_create("hpage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_new_mapping_is_huge_and_tracked);
	tcase_add_test(tc, test_runs_do_not_straddle);
	tcase_add_test(tc, test_dense_range_holds_free_pages);
	tcase_add_test(tc, test_range_purged_whole_is_dissolved);
	tcase_add_test(tc, test_empty_range_purged_in_part_is_dissolved);
	tcase_add_test(tc, test_dense_dissolved_range_made_huge_again);
	tcase_add_test(tc, test_purge_all_releases_held_pages);
	tcase_add_test(tc, test_dirty_cap_reaches_held_pages);
	tcase_add_test(tc, test_idle_pass_due_once_per_quiet_spell);
	tcase_add_test(tc, test_bin_idle_purge_lends_regions);
	tcase_add_test(tc, test_slab_lend_keeps_counts);
	suite_add_tcase(s, tc);
	return s;
}
