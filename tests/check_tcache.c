/*
 * check_tcache.c — thread caches: capacities from the options, batch refill
 * (lowest addresses first), flush on overflow keeping the hot half, GC of
 * what stayed unused, flush grouped across arenas (other arenas' objects on
 * their bins' remote rings), the double-free check,
 * and a thread exiting while other threads own or hold its memory.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>

#include "conf.h"
#include "emap.h"
#include "init.h"
#include "tcache.h"
#include "tsd.h"

static arena_t *arena0;

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
	arena0 = arena_get(0, true);
	ck_assert_ptr_nonnull(arena0);
}

static size_t
bin_curregs(arena_t *arena, unsigned binind)
{
	bin_stats_t st;
	bin_stats_read(&arena->bins[binind], binind, arena->pai, &st);
	return st.curregs;
}

/* One allocation through the cache, as malloc's fast and slow paths do. */
static void *
cache_pop(tcache_t *t, unsigned binind)
{
	void *p;
	if (!tcache_alloc_easy(t, binind, &p))
		p = tcache_alloc_refill(t, binind);
	return p;
}

START_TEST(test_capacities_follow_options)
{
	ck_assert_uint_eq(tcache_nbins, 41); /* classes up to 32 KiB */
	tcache_t t;
	ck_assert_int_eq(tcache_init(&t, arena0), 0);
	ck_assert_uint_eq(t.bins[0].ncached_max, opt_tcache_nslots_small_max); /* 512 regs x 2 */
	ck_assert_uint_eq(t.bins[8].ncached_max, 64);                          /* 32 regs x 2 */
	ck_assert_uint_eq(t.bins[28].ncached_max, opt_tcache_nslots_small_min); /* 1 reg x 2 */
	ck_assert_uint_eq(t.bins[SZ_NBINS].ncached_max, opt_tcache_nslots_large);
	ck_assert_uint_eq(t.bins[tcache_nbins].ncached_max, 0);
	ck_assert_ptr_null(t.bins[0].stack[-1]); /* sentinel */
	tcache_destroy(&t);
}
END_TEST

START_TEST(test_refill_hands_out_lowest_first)
{
	tcache_t t;
	ck_assert_int_eq(tcache_init(&t, arena0), 0);
	unsigned b = 2; /* 32 bytes */
	size_t before = bin_curregs(arena0, b);
	void *p;
	ck_assert(!tcache_alloc_easy(&t, b, &p));
	void *first = tcache_alloc_refill(&t, b);
	ck_assert_ptr_nonnull(first);
	unsigned nfill = t.bins[b].nfill;
	ck_assert_uint_eq(t.bins[b].ncached, nfill - 1);
	ck_assert_uint_eq(bin_curregs(arena0, b), before + nfill);
	void *prev = first;
	while (tcache_alloc_easy(&t, b, &p)) {
		ck_assert_uint_gt((uintptr_t)p, (uintptr_t)prev);
		prev = p;
	}
	ck_assert_uint_eq(t.bins[b].ncached, 0);
	tcache_destroy(&t);
}
END_TEST

START_TEST(test_overflow_flushes_cold_half)
{
	tcache_t t;
	ck_assert_int_eq(tcache_init(&t, arena0), 0);
	unsigned b = 4; /* 64 bytes, capacity 128 */
	cache_bin_t *bin = &t.bins[b];
	unsigned cap = bin->ncached_max;
	void *objs[256];
	unsigned n = 0;
	while (n < cap + 1)
		n += bin_malloc_batch(&arena0->bins[b], b, arena0->pai, objs + n, cap + 1 - n);
	size_t before = bin_curregs(arena0, b);
	for (unsigned i = 0; i < cap; i++)
		ck_assert(tcache_dalloc_easy(&t, b, objs[i]));
	ck_assert(!tcache_dalloc_easy(&t, b, objs[cap]));
	tcache_dalloc_flush(&t, b, objs[cap]);
	unsigned keep = cap >> opt_lg_tcache_flush_small_div;
	ck_assert_uint_eq(bin->ncached, keep + 1);
	ck_assert_uint_eq(bin_curregs(arena0, b), before - (cap - keep));
	/* The hottest objects stayed: the last one freed is on top. */
	ck_assert_ptr_eq(bin->stack[bin->ncached - 1], objs[cap]);
	ck_assert_ptr_eq(bin->stack[0], objs[cap - keep]);
	tcache_flush(&t);
	ck_assert_uint_eq(bin->ncached, 0);
	ck_assert_uint_eq(bin_curregs(arena0, b), before - cap - 1);
	tcache_destroy(&t);
}
END_TEST

START_TEST(test_gc_returns_unused)
{
	tcache_t t;
	ck_assert_int_eq(tcache_init(&t, arena0), 0);
	unsigned b = 0;
	cache_bin_t *bin = &t.bins[b];
	void *p = tcache_alloc_refill(&t, b);
	unsigned left = bin->ncached;
	ck_assert_uint_gt(left, 4);
	/* First visit: records the low-water mark. */
	t.gc_next = b;
	tcache_gc_step(&t);
	ck_assert_uint_eq(bin->low_water, left);
	/* Nothing used since: the next visit returns 3/4 of it. */
	for (unsigned i = 0; i < tcache_nbins; i++)
		tcache_gc_step(&t);
	ck_assert_uint_eq(bin->ncached, left / 4);
	ck_assert_uint_eq(bin->low_water, left / 4);
	/* Popping at the mark lowers it, without leaving the fast path. */
	void *q;
	ck_assert(tcache_alloc_easy(&t, b, &q));
	ck_assert_uint_eq(bin->ncached, left / 4 - 1);
	ck_assert_uint_eq(bin->low_water, left / 4 - 1);
	tcache_dalloc_easy(&t, b, q);
	tcache_dalloc_easy(&t, b, p);
	tcache_destroy(&t);
}
END_TEST

START_TEST(test_flush_groups_by_arena)
{
	unsigned ind;
	ck_assert_int_eq(arena_create_manual(&ind), 0);
	arena_t *other = arena_get(ind, false);
	tcache_t t;
	ck_assert_int_eq(tcache_init(&t, arena0), 0);
	unsigned b = 6; /* 96 bytes */
	void *a[10], *o[10];
	ck_assert_uint_eq(bin_malloc_batch(&arena0->bins[b], b, arena0->pai, a, 10), 10);
	ck_assert_uint_eq(bin_malloc_batch(&other->bins[b], b, other->pai, o, 10), 10);
	size_t before0 = bin_curregs(arena0, b), before1 = bin_curregs(other, b);
	for (unsigned i = 0; i < 10; i++) {
		ck_assert(tcache_dalloc_easy(&t, b, o[i]));
		ck_assert(tcache_dalloc_easy(&t, b, a[i]));
	}
	ck_assert_uint_eq(tcache_bytes_of_arena(0) >= 20 * 96, true);
	tcache_flush(&t);
	/* The cache refills from arena0: its objects went back to their slabs;
	 * the other arena's wait on that bin's remote ring, and its next
	 * refill hands them out again (still in use meanwhile). */
	ck_assert_uint_eq(bin_curregs(arena0, b), before0 - 10);
	void *again[16];
	ck_assert_uint_eq(bin_refill(&other->bins[b], b, other->pai, again, 1, 16), 10);
	for (unsigned i = 0; i < 10; i++)
		ck_assert_ptr_eq(again[i], o[i]);
	ck_assert_uint_eq(bin_curregs(other, b), before1);
	tcache_destroy(&t);
}
END_TEST

START_TEST(test_immediate_double_free_aborts)
{
	tcache_t t;
	ck_assert_int_eq(tcache_init(&t, arena0), 0);
	void *p = cache_pop(&t, 1);
	tcache_dalloc_easy(&t, 1, p);
	if (!tcache_dalloc_easy(&t, 1, p))
		tcache_dalloc_flush(&t, 1, p);
}
END_TEST

START_TEST(test_double_free_found_at_flush)
{
	tcache_t t;
	ck_assert_int_eq(tcache_init(&t, arena0), 0);
	void *p = cache_pop(&t, 1);
	void *q = cache_pop(&t, 1);
	tcache_dalloc_easy(&t, 1, p);
	tcache_dalloc_easy(&t, 1, q);
	tcache_dalloc_easy(&t, 1, p); /* not the top: caught when flushed */
	tcache_flush(&t);
}
END_TEST

/* A thread that frees memory owned by the main thread's arena and allocates
 * memory it hands back, then exits with both in its cache. */
struct exit_job {
	void *from_main[64];
	void *to_main[64];
	unsigned arena_ind;
};

static void *
exit_worker(void *arg)
{
	struct exit_job *job = arg;
	tsd_t *tsd = tsd_fetch_slow();
	ck_assert_ptr_nonnull(tsd);
	job->arena_ind = tsd->arena->ind;
	for (unsigned i = 0; i < 64; i++) {
		job->to_main[i] = cache_pop(&tsd->tcache, 3);
	}
	/* Then free the main thread's objects: they stay in this cache. */
	for (unsigned i = 0; i < 64; i++) {
		if (!tcache_dalloc_easy(&tsd->tcache, 3, job->from_main[i]))
			tcache_dalloc_flush(&tsd->tcache, 3, job->from_main[i]);
	}
	return NULL;
}

START_TEST(test_thread_exit_loses_nothing)
{
	tsd_t *tsd = tsd_fetch_slow();
	ck_assert_ptr_nonnull(tsd);
	arena_t *main_arena = tsd->arena;
	unsigned b = 3; /* 48 bytes */
	struct exit_job job;
	ck_assert_uint_eq(bin_malloc_batch(&main_arena->bins[b], b, main_arena->pai,
	                                   job.from_main, 64), 64);
	size_t main_before = bin_curregs(main_arena, b);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, exit_worker, &job), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	/* The exiting thread's cache went back to the owners. */
	ck_assert_uint_eq(bin_curregs(main_arena, b), main_before - 64);
	arena_t *worker_arena = arena_get(job.arena_ind, false);
	ck_assert_uint_eq(bin_curregs(worker_arena, b) >= 64, true);
	/* Its allocations stay valid and can be freed here. */
	for (unsigned i = 0; i < 64; i++) {
		uint64_t bits = emap_lookup(job.to_main[i]);
		ck_assert_uint_eq(emap_bits_szind(bits), b);
		ck_assert_uint_eq(emap_bits_extent(bits)->arena_ind, job.arena_ind);
	}
	size_t worker_before = bin_curregs(worker_arena, b);
	for (unsigned i = 0; i < 64; i++) {
		uint64_t bits = emap_lookup(job.to_main[i]);
		arena_dalloc(job.to_main[i], bits);
	}
	ck_assert_uint_eq(bin_curregs(worker_arena, b), worker_before - 64);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("tcache");
	TCase *tc = tcase_create("tcache");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_capacities_follow_options);
	tcase_add_test(tc, test_refill_hands_out_lowest_first);
	tcase_add_test(tc, test_overflow_flushes_cold_half);
	tcase_add_test(tc, test_gc_returns_unused);
	tcase_add_test(tc, test_flush_groups_by_arena);
	tcase_add_test_raise_signal(tc, test_immediate_double_free_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_double_free_found_at_flush, SIGABRT);
	tcase_add_test(tc, test_thread_exit_loses_nothing);
	suite_add_tcase(s, tc);
	return s;
}
