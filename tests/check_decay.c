/*
 * check_decay.c — the decay curve on a synthetic clock: -1 keeps, 0 purges,
 * a freed burst is kept at first, about half is allowed half-way through
 * decay_ms, none after it, the allowance never rises without new frees, and
 * pages dirtied in the current epoch are always kept.
 */
#include <check.h>

#include "decay.h"

#define MS 1000000ull

static void
setup(void)
{
	decay_boot();
}

START_TEST(test_never_and_immediate)
{
	decay_t d;
	decay_init(&d, -1, 0);
	ck_assert_uint_eq(decay_update(&d, 5000 * MS, 12345, 0), SIZE_MAX);
	decay_init(&d, 0, 0);
	ck_assert_uint_eq(decay_update(&d, 1, 12345, 0), 0);
}
END_TEST

START_TEST(test_burst_decays_on_smootherstep)
{
	decay_t d;
	decay_init(&d, 10000, 0);
	/* 1000 pages freed in the first epoch: all kept while it lasts. */
	ck_assert_uint_ge(decay_update(&d, 10 * MS, 1000, 0), 1000);
	size_t prev = SIZE_MAX;
	size_t at_1s = 0, at_5s = 0, at_9s = 0, at_11s = 0;
	for (uint64_t t = 60; t <= 11000; t += 50) {
		size_t allowed = decay_update(&d, t * MS, 1000, 0);
		ck_assert_uint_le(allowed, prev); /* never rises without new frees */
		prev = allowed;
		if (t == 1010) at_1s = allowed;
		if (t == 5010) at_5s = allowed;
		if (t == 9010) at_9s = allowed;
		if (t == 11010 - 10) at_11s = allowed;
	}
	ck_assert_uint_ge(at_1s, 950); /* slow start */
	ck_assert_uint_ge(at_5s, 400);
	ck_assert_uint_le(at_5s, 600);  /* half-way: about half */
	ck_assert_uint_le(at_9s, 50);   /* slow finish */
	ck_assert_uint_eq(at_11s, 0);
}
END_TEST

START_TEST(test_purge_then_new_frees)
{
	decay_t d;
	decay_init(&d, 1000, 0);
	decay_update(&d, 1 * MS, 400, 0);
	/* Long after: nothing may stay; the owner purges everything. */
	ck_assert_uint_eq(decay_update(&d, 5000 * MS, 400, 0), 0);
	decay_purged(&d, 0);
	/* Pages freed now are kept for the rest of this epoch. */
	ck_assert_uint_eq(decay_update(&d, 5001 * MS, 300, 0), 300);
	/* Reusing dirty pages lowers what is owed; freeing again counts anew. */
	ck_assert_uint_eq(decay_update(&d, 5002 * MS, 100, 0), 100);
	ck_assert_uint_eq(decay_update(&d, 5003 * MS, 250, 0), 250);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("decay");
	TCase *tc = tcase_create("decay");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_never_and_immediate);
	tcase_add_test(tc, test_burst_decays_on_smootherstep);
	tcase_add_test(tc, test_purge_then_new_frees);
	suite_add_tcase(s, tc);
	return s;
}
