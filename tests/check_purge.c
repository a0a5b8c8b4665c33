/*
 * check_purge.c — how the page allocator purges (pages.h), with the OS
 * calls counted and the clock injected:
 *   - with muzzy_decay_ms set, decayed dirty pages are MADV_FREE'd (muzzy)
 *     and later MADV_DONTNEED'd (retained), each on its own curve;
 *   - with retain:false, purged pages are unmapped and leave the mapped
 *     count; a fork while an extent is being unmapped forgets it;
 *   - freed slabs are filed unmerged and merged when a larger request finds
 *     no dirty fit, instead of mapping more;
 *   - a dirty extent more than 2^lg_extent_max_active_fit times a request
 *     is not split for it;
 *   - dirty_max_bytes is never exceeded after a free;
 *   - pages_decay_run says when the curve next lets pages go, and the burst
 *     model releases a late burst's pages before the curve would;
 *   - the purger threads run the decay of registered page allocators while
 *     other threads allocate and free on them (also under TSan), and every
 *     page stays accounted for.
 */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "background.h"
#include "clock.h"
#include "conf.h"
#include "init.h"
#include "os.h"
#include "pages.h"

#define ARENA_A 7
#define MS 1000000ull
#define T0 (1000ull * 1000 * MS)

static base_t test_base;
static unsigned nlazy, nforced, nunmap;

static int
count_lazy(void *addr, size_t size)
{
	nlazy++;
	return os_real_hooks.purge_lazy(addr, size);
}

static int
count_forced(void *addr, size_t size)
{
	nforced++;
	return os_real_hooks.purge_forced(addr, size);
}

static void
count_unmap(void *addr, size_t size)
{
	nunmap++;
	os_real_hooks.pages_unmap(addr, size);
}

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
	/* Decay runs in the freeing thread here, on the injected clock; the
	 * deadlines checked are the decay's alone (the idle pass, which would
	 * add its own, is check_hpage's). */
	ck_assert_int_eq(background_set_enabled(false), 0);
	pages_idle_pass = NULL;
	os_test_hooks = (os_hooks_t){
		.purge_lazy = count_lazy, .purge_forced = count_forced, .pages_unmap = count_unmap};
	nlazy = nforced = nunmap = 0;
	atomic_store(&clock_test_now_ns, T0);
	base_init(&test_base, MUTEX_RANK_ARENA_BASE);
}

static pages_stats_t
stats_of(pages_t *p)
{
	pages_stats_t st;
	pages_stats_read(p, &st);
	return st;
}

static void
assert_accounted(pages_t *p)
{
	pages_stats_t st = stats_of(p);
	ck_assert_uint_eq(
	    (st.active_pages + st.dirty_pages + st.muzzy_pages + st.retained_pages) << LG_PAGE,
	    st.mapped);
}

static extent_t *
alloc_large(pages_t *p, size_t npages)
{
	extent_t *e = pages_alloc(p, npages * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(e);
	memset(e->addr, 1, npages * PAGE);
	return e;
}

START_TEST(test_dirty_then_muzzy_then_retained)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, 1000, 1000);
	extent_t *e = alloc_large(&p, 256);
	alloc_large(&p, 1); /* keeps the freed run from merging with the rest */
	pages_free(&p, e);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 256);
	/* After the dirty curve: everything muzzy, by MADV_FREE only. */
	ck_assert_uint_eq(pages_decay_run(&p, T0 + 1100 * MS) != 0, 1);
	pages_stats_t st = stats_of(&p);
	ck_assert_uint_eq(st.dirty_pages, 0);
	ck_assert_uint_eq(st.muzzy_pages, 256);
	ck_assert_uint_eq(st.dirty.purged, 256);
	ck_assert_uint_gt(nlazy, 0);
	ck_assert_uint_eq(nforced, 0);
	/* Half-way through the muzzy curve about half is still muzzy. */
	pages_decay_run(&p, T0 + 1600 * MS);
	st = stats_of(&p);
	ck_assert_uint_gt(st.muzzy_pages, 64);
	ck_assert_uint_lt(st.muzzy_pages, 192);
	ck_assert_uint_gt(nforced, 0);
	/* After it, all retained. */
	ck_assert_uint_eq(pages_decay_run(&p, T0 + 2200 * MS), UINT64_MAX);
	st = stats_of(&p);
	ck_assert_uint_eq(st.muzzy_pages, 0);
	ck_assert_uint_eq(st.muzzy.purged, 256);
	assert_accounted(&p);
	/* Muzzy pages are reused before retained ones. */
	pages_free(&p, alloc_large(&p, 8));
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 8);
}
END_TEST

START_TEST(test_retain_false_unmaps)
{
	static pages_t p;
	opt_retain = false;
	pages_init(&p, ARENA_A, &test_base, 0, 0);
	extent_t *e = alloc_large(&p, 64);
	alloc_large(&p, 1);
	size_t mapped = stats_of(&p).mapped;
	pages_free(&p, e); /* decay 0: purged at once */
	pages_stats_t st = stats_of(&p);
	ck_assert_uint_eq(st.dirty_pages, 0);
	ck_assert_uint_eq(nunmap, 1);
	ck_assert_uint_eq(nforced, 0);
	ck_assert_uint_eq(st.mapped, mapped - 64 * PAGE);
	assert_accounted(&p);
	opt_retain = true;
}
END_TEST

/* Fork child of test_fork_during_unmap: every page still accounted for. */
static pages_t fork_pages; /* registered: must outlive the test */
static int fork_status;

static void
unmap_forks(void *addr, size_t size)
{
	pid_t pid = fork();
	if (pid == 0) {
		pages_stats_t st = stats_of(&fork_pages);
		bool ok = ((st.active_pages + st.dirty_pages + st.muzzy_pages + st.retained_pages)
		           << LG_PAGE) == st.mapped;
		/* The half-unmapped extent is gone: allocating still works. */
		extent_t *e = pages_alloc(&fork_pages, 16 * PAGE, PAGE, true, SZ_NBINS, false);
		_exit(ok && e != NULL && ((char *)e->addr)[0] == 0 ? 0 : 1);
	}
	waitpid(pid, &fork_status, 0);
	os_real_hooks.pages_unmap(addr, size);
}

START_TEST(test_fork_during_unmap)
{
	opt_retain = false;
	pages_init(&fork_pages, ARENA_A, &test_base, 0, 0);
	pages_register(&fork_pages);
	extent_t *e = alloc_large(&fork_pages, 32);
	alloc_large(&fork_pages, 1);
	os_test_hooks.pages_unmap = unmap_forks;
	fork_status = -1;
	pages_free(&fork_pages, e);
	ck_assert(WIFEXITED(fork_status) && WEXITSTATUS(fork_status) == 0);
	opt_retain = true;
}
END_TEST

START_TEST(test_freed_slabs_merge_on_demand)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, -1, 0);
	extent_t *slabs[16];
	for (int i = 0; i < 16; i++)
		slabs[i] = pages_alloc(&p, PAGE, PAGE, false, 0, true);
	void *first = slabs[0]->addr;
	alloc_large(&p, 1);
	for (int i = 0; i < 16; i++)
		pages_free(&p, slabs[i]);
	ck_assert_ptr_nonnull(p.unmerged);
	size_t mapped = stats_of(&p).mapped;
	/* One page comes straight from a freed slab, unmerged. */
	extent_t *one = pages_alloc(&p, PAGE, PAGE, false, 0, true);
	ck_assert_ptr_eq(one->addr, first);
	pages_free(&p, one);
	/* Sixteen pages: the freed slabs are merged into one run and reused. */
	extent_t *big = pages_alloc(&p, 16 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_null(p.unmerged);
	ck_assert_uint_eq(stats_of(&p).mapped, mapped);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 0);
	ck_assert_ptr_eq(big->addr, first);
}
END_TEST

START_TEST(test_max_active_fit)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, -1, 0);
	extent_t *e = alloc_large(&p, 512);
	alloc_large(&p, 1);
	pages_free(&p, e);
	size_t old = opt_lg_extent_max_active_fit;
	opt_lg_extent_max_active_fit = 6;
	/* 512 pages is more than 64 times 4: not split, taken from retained. */
	extent_t *small = pages_alloc(&p, 4 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 512);
	/* 512 is at most 64 times 16: split. */
	extent_t *mid = pages_alloc(&p, 16 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 512 - 16);
	ck_assert_ptr_eq(mid->addr, e->addr);
	ck_assert_ptr_ne(small->addr, e->addr);
	opt_lg_extent_max_active_fit = old;
}
END_TEST

START_TEST(test_dirty_cap_never_exceeded)
{
	static pages_t a, b;
	size_t old = opt_dirty_max_bytes;
	opt_dirty_max_bytes = 64 * PAGE;
	pages_init(&a, ARENA_A, &test_base, -1, 0);
	pages_init(&b, ARENA_A + 1, &test_base, -1, 0);
	size_t base_total = pages_dirty_bytes_total();
	for (int i = 1; i <= 40; i++) {
		pages_t *p = i % 2 ? &a : &b;
		extent_t *e = alloc_large(p, (size_t)(i % 7 + 1) * 3);
		alloc_large(p, 1);
		pages_free(p, e);
		ck_assert_uint_le(pages_dirty_bytes_total() - base_total, 64 * PAGE);
	}
	ck_assert_uint_gt(nforced, 0);
	opt_dirty_max_bytes = old;
	pages_purge_all(&a);
	pages_purge_all(&b);
}
END_TEST

START_TEST(test_decay_run_says_when)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, 1000, 0);
	extent_t *e = alloc_large(&p, 1024);
	alloc_large(&p, 1);
	pages_free(&p, e);
	uint64_t next = pages_decay_run(&p, T0);
	ck_assert_uint_gt(next, T0);
	ck_assert_uint_lt(next, T0 + 1000 * MS);
	/* An epoch before it, fewer than a batch may go; at it, a batch. */
	pages_decay_run(&p, next - 6 * MS);
	ck_assert_uint_gt(stats_of(&p).dirty_pages, 1024 - PAGES_PURGE_MIN_BATCH);
	pages_decay_run(&p, next);
	ck_assert_uint_le(stats_of(&p).dirty_pages, 1024 - PAGES_PURGE_MIN_BATCH);
	ck_assert_uint_eq(pages_decay_run(&p, T0 + 1100 * MS), UINT64_MAX);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 0);
}
END_TEST

/* Bursts of 2 MiB every 200 ms, then silence: the pages are kept while the
 * next burst is expected and released, well before the 10 s curve, once it
 * is late. */
START_TEST(test_late_burst_released_early)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, 10000, 0);
	alloc_large(&p, 1);
	uint64_t t = T0;
	extent_t *runs[8];
	for (int burst = 0; burst < 4; burst++, t += 200 * MS) {
		atomic_store(&clock_test_now_ns, t);
		for (int i = 0; i < 8; i++)
			runs[i] = alloc_large(&p, 64);
		for (int i = 0; i < 8; i++)
			pages_free(&p, runs[i]);
	}
	/* Between bursts nothing was purged: the same pages came back. */
	ck_assert_msg(nforced == 0, "%u purges, %zu pages", nforced,
	              (size_t)stats_of(&p).dirty.purged);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 512);
	/* Still expected 300 ms after the last burst. */
	pages_decay_run(&p, t + 100 * MS);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 512);
	/* Late after 2 s: released, although the 10 s curve keeps most. */
	uint64_t next = pages_decay_run(&p, t + 2000 * MS);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 0);
	ck_assert_uint_eq(next, UINT64_MAX);
}
END_TEST

static pages_t race_pages; /* registered: must outlive the test */
static _Atomic bool race_stop;

static void *
race_churn(void *arg)
{
	(void)arg;
	extent_t *held[8] = {0};
	for (unsigned i = 0; !atomic_load(&race_stop); i++) {
		unsigned k = i % 8;
		if (held[k] != NULL)
			pages_free(&race_pages, held[k]);
		held[k] = pages_alloc(&race_pages, (1 + i % 5) * 16 * PAGE, PAGE, false, SZ_NBINS,
		                      false);
		if (held[k] != NULL)
			memset(held[k]->addr, 1, PAGE);
	}
	for (unsigned k = 0; k < 8; k++)
		if (held[k] != NULL)
			pages_free(&race_pages, held[k]);
	return NULL;
}

START_TEST(test_purger_races_with_allocating_threads)
{
	atomic_store(&clock_test_now_ns, 0); /* the real clock: the purger sleeps on it */
	pages_init(&race_pages, ARENA_A, &test_base, 20, 20);
	pages_register(&race_pages);
	ck_assert_int_eq(background_set_enabled(true), 0);
	pthread_t threads[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, race_churn, NULL), 0);
	/* Until the purger has run on them a few times (bounded). */
	background_stats_t bg = {0};
	for (int waited = 0; waited < 2000 && bg.num_runs < 20; waited++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		background_stats_read(&bg);
	}
	atomic_store(&race_stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	ck_assert_uint_ge(bg.num_runs, 20);
	/* What the threads freed last decays on the purger alone (bounded). */
	pages_stats_t st = stats_of(&race_pages);
	for (int waited = 0; waited < 2000 && st.dirty_pages + st.muzzy_pages != 0; waited++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		st = stats_of(&race_pages);
	}
	ck_assert_int_eq(background_set_enabled(false), 0);
	assert_accounted(&race_pages);
	ck_assert_uint_eq(st.active_pages, 0);
	ck_assert_uint_eq(st.dirty_pages + st.muzzy_pages, 0);
	ck_assert_uint_gt(st.muzzy.purged, 0);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("purge");
	TCase *tc = tcase_create("purge");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dirty_then_muzzy_then_retained);
	tcase_add_test(tc, test_retain_false_unmaps);
	tcase_add_test(tc, test_fork_during_unmap);
	tcase_add_test(tc, test_freed_slabs_merge_on_demand);
	tcase_add_test(tc, test_max_active_fit);
	tcase_add_test(tc, test_dirty_cap_never_exceeded);
	tcase_add_test(tc, test_decay_run_says_when);
	tcase_add_test(tc, test_late_burst_released_early);
	tcase_add_test(tc, test_purger_races_with_allocating_threads);
	suite_add_tcase(s, tc);
	return s;
}
