/*
 * check_decay.c — the decay curve and the burst model on a synthetic clock:
 * -1 keeps, 0 purges, a freed burst follows 1 - smootherstep within one
 * epoch, purged pages are not decayed twice, reused pages come off the
 * newest entries, the weighted sum kept within an epoch matches a full
 * recomputation, the purger's next deadline is when the curve next lets
 * pages go, and the burst model keeps a recurring burst's pages until the
 * burst is overdue, then releases them.
 */
#include <check.h>
#include <math.h>

#include "decay.h"

#define MS 1000000ull
#define T0 (1000ull * 1000 * MS)

static void
setup(void)
{
	decay_boot();
}

static double
smootherstep(double x)
{
	return x >= 1 ? 1 : x * x * x * (x * (6 * x - 15) + 10);
}

START_TEST(test_never_and_immediate)
{
	decay_t d;
	decay_init(&d, -1, 0);
	decay_record(&d, 1, 12345);
	ck_assert_uint_eq(decay_allowed(&d, 5000 * MS, 12345), SIZE_MAX);
	ck_assert_uint_eq(decay_next_purge(&d, 12345, 1), UINT64_MAX);
	decay_init(&d, 0, 0);
	decay_record(&d, 1, 12345);
	ck_assert_uint_eq(decay_allowed(&d, 1, 12345), 0);
}
END_TEST

/* Every 10 ms of a 10 s curve, what is allowed lies between the curve's
 * values one epoch (50 ms) before and after. */
START_TEST(test_curve_matches_smootherstep_within_an_epoch)
{
	const size_t n = 100000;
	const double decay_ms = 10000, epoch_ms = decay_ms / DECAY_NSTEPS;
	decay_t d;
	decay_init(&d, (ssize_t)decay_ms, T0);
	decay_record(&d, T0, n);
	size_t left = n;
	for (uint64_t t = 0; t <= 11000; t += 10) {
		size_t allowed = decay_allowed(&d, T0 + t * MS, left);
		double hi = n * (1 - smootherstep(((double)t - epoch_ms) / decay_ms));
		double lo = n * (1 - smootherstep(((double)t + epoch_ms) / decay_ms));
		if (t < epoch_ms)
			hi = n;
		ck_assert_msg(allowed <= hi + 1 && allowed + 1 >= lo,
		              "t=%llu ms: allowed %zu outside [%.0f, %.0f]", (unsigned long long)t,
		              allowed, lo, hi);
		ck_assert_uint_le(allowed, left); /* never rises without new pages */
		decay_purged(&d, left - allowed);
		left = allowed;
	}
	ck_assert_uint_eq(left, 0);
}
END_TEST

START_TEST(test_reused_pages_come_off_the_newest)
{
	decay_t d;
	decay_init(&d, 1000, T0);
	decay_record(&d, T0, 400);
	/* Half-way, 200 of the old pages may stay. */
	size_t allowed = decay_allowed(&d, T0 + 500 * MS, 400);
	ck_assert_uint_ge(allowed, 190);
	ck_assert_uint_le(allowed, 210);
	decay_purged(&d, 400 - allowed);
	/* 300 fresh pages, then 250 pages reused: the fresh ones went. */
	decay_record(&d, T0 + 500 * MS, 300);
	size_t after = decay_allowed(&d, T0 + 500 * MS, allowed + 50);
	ck_assert_uint_eq(after, allowed + 50);
	/* Long after, nothing. */
	ck_assert_uint_eq(decay_allowed(&d, T0 + 5000 * MS, after), 0);
}
END_TEST

START_TEST(test_next_purge_is_when_the_curve_lets_pages_go)
{
	decay_t d;
	decay_init(&d, 1000, T0);
	decay_record(&d, T0, 1000);
	size_t allowed = decay_allowed(&d, T0, 1000);
	ck_assert_uint_eq(allowed, 1000);
	uint64_t next = decay_next_purge(&d, allowed, 100);
	ck_assert_uint_gt(next, T0);
	/* At that time at least 100 may go; one epoch earlier fewer could. */
	decay_t copy = d;
	ck_assert_uint_le(decay_allowed(&copy, next, 1000), 900);
	copy = d;
	ck_assert_uint_gt(decay_allowed(&copy, next - 5 * MS, 1000), 900);
	/* Smootherstep: 10% of the pages go after about a quarter of the curve. */
	double x = (double)(next - T0) / (1000.0 * MS);
	ck_assert_double_ge(x, 0.15);
	ck_assert_double_le(x, 0.35);
	ck_assert_uint_eq(decay_next_purge(&d, 0, 100), UINT64_MAX);
}
END_TEST

/* A burst: pages taken within ms of each other up to `demand` pages above
 * `base`, all freed; then quiet. */
static void
burst_at(burst_t *b, uint64_t t, size_t base, size_t demand)
{
	for (size_t i = 0; i < 10; i++)
		burst_take(b, t + i * MS, base + demand * i / 10, base + demand * (i + 1) / 10);
}

/* The weighted backlog kept up to date within an epoch answers what a
 * full recomputation answers, through records, reuses, purges, epochs
 * that pass one by one and jumps over many, and forgetting. */
START_TEST(test_kept_sum_matches_recomputation)
{
	decay_t d;
	decay_init(&d, 10000, T0);
	uint64_t now = T0, state = 12345;
	size_t npages = 0;
	for (unsigned step = 0; step < 20000; step++) {
		state = state * 6364136223846793005ull + 1442695040888963407ull;
		unsigned r = (unsigned)(state >> 33);
		switch (r % 5) {
		case 0: /* pages enter */
			decay_record(&d, now, r % 300);
			npages += r % 300;
			break;
		case 1: /* some are reused */
			npages -= npages == 0 ? 0 : (r >> 3) % (npages + 1);
			break;
		case 2: /* some are purged */ {
			size_t n = npages == 0 ? 0 : (r >> 3) % (npages + 1);
			decay_purged(&d, n);
			npages -= n;
			break;
		}
		case 3: /* time passes: within an epoch, a few epochs, or many */
			now += (r >> 3) % 7 == 0 ? 20000 * MS : (r >> 3) % (200 * MS);
			break;
		default:
			if ((r >> 3) % 97 == 0)
				decay_forget(&d);
			break;
		}
		decay_t fresh = d;
		fresh.weighted_valid = false;
		size_t want = decay_allowed(&fresh, now, npages);
		ck_assert_uint_eq(decay_allowed(&d, now, npages), want);
	}
}
END_TEST

START_TEST(test_burst_model)
{
	burst_t b;
	burst_init(&b);
	size_t keep = 0;
	uint64_t until;
	const size_t demand = 20000;
	/* No history yet: the curve decides. */
	burst_at(&b, T0, 100, demand);
	ck_assert_int_eq(burst_advise(&b, T0 + 500 * MS, 10000, &keep, &until), BURST_NO_ADVICE);
	/* Bursts every 500 ms (gaps of about 490 ms). */
	for (int i = 1; i <= 4; i++)
		burst_at(&b, T0 + (uint64_t)i * 500 * MS, 100, demand);
	uint64_t last = T0 + 4 * 500 * MS + 9 * MS;
	/* Busy: no advice, until the quiet time is over. */
	ck_assert_int_eq(burst_advise(&b, last + 10 * MS, 10000, &keep, &until), BURST_NO_ADVICE);
	ck_assert_uint_eq(until, last + BURST_QUIET_NS);
	/* Returning pages is activity too: a burst that frees what it built
	 * stays busy, and the quiet time counts from its last return. */
	burst_t freeing = b;
	for (int i = 1; i <= 30; i++)
		burst_return(&freeing, last + (uint64_t)i * 10 * MS, 100);
	uint64_t freed = last + 300 * MS;
	ck_assert_int_eq(burst_advise(&freeing, freed + 10 * MS, 10000, &keep, NULL),
	                 BURST_NO_ADVICE);
	ck_assert_int_eq(burst_advise(&freeing, freed + 600 * MS, 10000, &keep, &until),
	                 BURST_EXPECTED);
	ck_assert_uint_gt(until, freed + 900 * MS);
	/* Quiet, within twice the gap: keep a burst's pages. */
	ck_assert_int_eq(burst_advise(&b, last + 600 * MS, 10000, &keep, &until), BURST_EXPECTED);
	ck_assert_uint_eq(keep, demand);
	ck_assert_uint_gt(until, last + 900 * MS);
	ck_assert_uint_lt(until, last + 1100 * MS);
	/* Overdue after that. */
	ck_assert_int_eq(burst_advise(&b, until + MS, 10000, &keep, NULL), BURST_OVERDUE);
	/* Never longer than the curve: a 300 ms curve ends the wait sooner. */
	ck_assert_int_eq(burst_advise(&b, last + 400 * MS, 300, &keep, NULL), BURST_OVERDUE);
	/* A burst may begin with returns (a thread cache's collection as the
	 * thread starts allocating again): the quiet time before it is still
	 * its gap. */
	burst_t returning;
	burst_init(&returning);
	for (int i = 0; i < 4; i++) {
		uint64_t start = T0 + (uint64_t)i * 500 * MS;
		burst_return(&returning, start, 100);
		burst_at(&returning, start + MS, 100, demand);
	}
	uint64_t ret_end = T0 + 3 * 500 * MS + 10 * MS;
	ck_assert_int_eq(burst_advise(&returning, ret_end + 600 * MS, 10000, &keep, NULL),
	                 BURST_EXPECTED);
	ck_assert_uint_eq(keep, demand);
	/* Mixed gaps: five of 100 ms, three of 400 ms.  The wait is twice the
	 * third quartile (800 ms), not twice the median (200 ms). */
	burst_t mixed;
	burst_init(&mixed);
	uint64_t t = T0;
	static const unsigned gaps_ms[] = {100, 400, 100, 100, 400, 100, 400, 100};
	burst_at(&mixed, t, 100, demand);
	for (unsigned i = 0; i < sizeof(gaps_ms) / sizeof(gaps_ms[0]); i++) {
		t += 9 * MS + gaps_ms[i] * MS;
		burst_at(&mixed, t, 100, demand);
	}
	uint64_t end = t + 9 * MS;
	ck_assert_int_eq(burst_advise(&mixed, end + 500 * MS, 10000, &keep, &until), BURST_EXPECTED);
	ck_assert_uint_eq(until, end + 800 * MS + 1);
	ck_assert_int_eq(burst_advise(&mixed, end + 801 * MS, 10000, &keep, NULL), BURST_OVERDUE);
	/* Small rises are not bursts: they leave no history. */
	burst_t small;
	burst_init(&small);
	for (int i = 0; i < 5; i++)
		burst_at(&small, T0 + (uint64_t)i * 500 * MS, 100, BURST_MIN_PAGES / 2);
	ck_assert_int_eq(burst_advise(&small, T0 + 5000 * MS, 10000, &keep, NULL), BURST_NO_ADVICE);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("decay");
	TCase *tc = tcase_create("decay");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_never_and_immediate);
	tcase_add_test(tc, test_curve_matches_smootherstep_within_an_epoch);
	tcase_add_test(tc, test_reused_pages_come_off_the_newest);
	tcase_add_test(tc, test_next_purge_is_when_the_curve_lets_pages_go);
	tcase_add_test(tc, test_kept_sum_matches_recomputation);
	tcase_add_test(tc, test_burst_model);
	suite_add_tcase(s, tc);
	return s;
}
