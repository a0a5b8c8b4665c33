/*
 * check_base.c — the metadata bump allocator: aligned, zeroed,
 * non-overlapping blocks and honest counters; a failed mapping returns NULL
 * and changes nothing; two threads that both find the chunk full map one
 * chunk's worth between them (the loser unmaps its own), not two;
 * metadata_thp:auto advises an arena's chunks past its first and never the
 * global base's.
 */
#include <check.h>
#include <pthread.h>
#include <string.h>

#include "base.h"
#include "clock.h"
#include "os.h"

static base_t test_base;

static void
setup(void)
{
	base_init(&test_base, MUTEX_RANK_ARENA_BASE);
	os_test_hooks = (os_hooks_t){0};
}

static bool
all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

START_TEST(test_aligned_zeroed_disjoint)
{
	char *prev_end = NULL;
	for (size_t align = 1; align <= 4096; align <<= 1) {
		char *p = base_alloc(&test_base, 100, align);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % align, 0);
		ck_assert(all_zero(p, 100));
		ck_assert(prev_end == NULL || p >= prev_end);
		memset(p, 0xff, 100);
		prev_end = p + 100;
	}
	base_stats_t st;
	base_stats_read(&test_base, &st);
	ck_assert_uint_eq(st.allocated, 13 * 100);
	ck_assert_uint_eq(st.mapped, BASE_CHUNK);
	ck_assert_uint_ge(st.resident, PAGE);
	ck_assert_uint_le(st.resident, 3 * PAGE);
}
END_TEST

START_TEST(test_request_larger_than_a_chunk)
{
	char *big = base_alloc(&test_base, BASE_CHUNK + 1, PAGE);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq((uintptr_t)big % PAGE, 0);
	big[BASE_CHUNK] = 1;
	base_stats_t st;
	base_stats_read(&test_base, &st);
	ck_assert_uint_ge(st.mapped, BASE_CHUNK + PAGE);
}
END_TEST

static unsigned map_calls;

static void *
map_fails(size_t size, size_t alignment)
{
	(void)size;
	(void)alignment;
	map_calls++;
	return NULL;
}

START_TEST(test_map_failure_returns_null)
{
	os_test_hooks.pages_map = map_fails;
	ck_assert_ptr_null(base_alloc(&test_base, 64, 8));
	ck_assert_uint_eq(map_calls, 1);
	base_stats_t st;
	base_stats_read(&test_base, &st);
	ck_assert_uint_eq(st.allocated, 0);
	ck_assert_uint_eq(st.mapped, 0);
	/* The base recovers when mapping works again. */
	os_test_hooks.pages_map = NULL;
	ck_assert_ptr_nonnull(base_alloc(&test_base, 64, 8));
}
END_TEST

/* Both racers must be inside the mapping call at once: the hook waits (with
 * a bound) until the second one arrives. */
static _Atomic unsigned race_inside;
static _Atomic unsigned race_unmaps;

static void *
map_meeting(size_t size, size_t alignment)
{
	atomic_fetch_add(&race_inside, 1);
	uint64_t deadline = clock_coarse_ns() + 10ull * 1000000000u;
	while (atomic_load(&race_inside) < 2 && clock_coarse_ns() < deadline)
		sched_yield();
	return os_real_hooks.pages_map(size, alignment);
}

static void
unmap_counting(void *addr, size_t size)
{
	atomic_fetch_add(&race_unmaps, 1);
	os_real_hooks.pages_unmap(addr, size);
}

static void *
race_alloc(void *arg)
{
	(void)arg;
	return base_alloc(&test_base, 256, 64);
}

START_TEST(test_racing_threads_map_one_chunk)
{
	os_test_hooks.pages_map = map_meeting;
	os_test_hooks.pages_unmap = unmap_counting;
	pthread_t t[2];
	void *got[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, race_alloc, NULL), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], &got[i]), 0);
	ck_assert_uint_eq(atomic_load(&race_inside), 2);
	ck_assert_ptr_nonnull(got[0]);
	ck_assert_ptr_nonnull(got[1]);
	uintptr_t a = (uintptr_t)got[0], b = (uintptr_t)got[1];
	ck_assert(a + 256 <= b || b + 256 <= a);
	base_stats_t st;
	base_stats_read(&test_base, &st);
	ck_assert_uint_eq(st.allocated, 512);
	ck_assert_uint_eq(st.mapped, BASE_CHUNK);
	ck_assert_uint_eq(atomic_load(&race_unmaps), 1);
}
END_TEST

/* metadata_thp:auto: an arena's chunks past its first are advised huge
 * (and 2 MiB-aligned); the global base's never (its page-map leaves are
 * sparse). */
static unsigned advised;

static int
advise_counting(void *addr, size_t size, os_huge_advice_t advice)
{
	(void)size;
	if (advice == OS_HUGE_ADVISE && (uintptr_t)addr % HUGEPAGE == 0)
		advised++;
	return 0;
}

START_TEST(test_metadata_thp_auto)
{
	base_thp = BASE_THP_AUTO;
	os_test_hooks.advise_huge = advise_counting;
	static base_t global;
	base_init(&global, MUTEX_RANK_GLOBAL_BASE);
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(base_alloc(&global, BASE_CHUNK / 2 + 1, 8));
	ck_assert_uint_eq(advised, 0);
	base_stats_t st;
	base_stats_read(&global, &st);
	ck_assert_uint_eq(st.thp, 0);
	/* An arena's first chunk stays on small pages, the next ones not. */
	ck_assert_ptr_nonnull(base_alloc(&test_base, 100, 8));
	ck_assert_uint_eq(advised, 0);
	/* The first of these fits in the first chunk; each other maps one. */
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(base_alloc(&test_base, BASE_CHUNK / 2 + 1, 8));
	ck_assert_uint_eq(advised, 2);
	base_stats_read(&test_base, &st);
	ck_assert_uint_eq(st.thp, 2 * BASE_CHUNK);
	base_thp = BASE_THP_NONE;
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("base");
	TCase *tc = tcase_create("base");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_aligned_zeroed_disjoint);
	tcase_add_test(tc, test_request_larger_than_a_chunk);
	tcase_add_test(tc, test_map_failure_returns_null);
	tcase_add_test(tc, test_racing_threads_map_one_chunk);
	tcase_add_test(tc, test_metadata_thp_auto);
	suite_add_tcase(s, tc);
	return s;
}
