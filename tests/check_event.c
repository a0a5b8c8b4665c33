/*
 * check_event.c — thread events and the reentrancy level:
 *   - the fast threshold is the nearest armed event; an event fires when
 *     its counter reaches it and is re-armed one interval later;
 *   - in-place resizing (realloc, xallocx) goes through the events;
 *   - junk and zero force the slow path without firing events more often,
 *     so the thread cache behaves as without them, nor less often: an
 *     event still fires when due; the same for a forcing of the slow path
 *     (event_force_slow, while the program's hooks are installed);
 *   - while the reentrancy level is raised, allocations bypass the cache
 *     and fire no events; a malloc_message hook runs at that level and may
 *     allocate;
 *   - the profiler's sample: an allocation is sampled when the threshold
 *     falls inside its own bytes, an overdue threshold (passed while events
 *     were off) is only redrawn, the sampled fraction of z-byte
 *     allocations is 1 - (1 - 2^-lg)^z, and a resize in place can be
 *     sampled only in its new bytes.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "conf.h"
#include "event.h"
#include "init.h"
#include "msg.h"
#include "prng.h"
#include "tsd.h"
/* Last: malloc and friends below are strata's (strata_test_*). */
#include "public_names.h"
#include <strata.h>

static tsd_t *tsd;

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
	free(malloc(1)); /* sets the thread up */
	tsd = &tsd_tls;
	ck_assert_uint_eq(tsd->state, TSD_NOMINAL);
}

static cache_bin_t *
bin_of(size_t size)
{
	return &tsd->tcache.bins[sz_size2index(size)];
}

START_TEST(test_fast_threshold_is_nearest_event)
{
	uint64_t min = UINT64_MAX;
	for (unsigned k = 0; k < EVENT_COUNT; k++)
		if (k != EVENT_TCACHE_GC_DALLOC && tsd->events.next[k] < min)
			min = tsd->events.next[k];
	ck_assert_uint_eq(tsd->alloc_event, min);
	ck_assert_uint_eq(tsd->dalloc_event, tsd->events.next[EVENT_TCACHE_GC_DALLOC]);
	ck_assert_uint_gt(tsd->alloc_event, tsd->allocated);
}
END_TEST

START_TEST(test_event_fires_and_rearms)
{
	tsd->events.next[EVENT_TCACHE_GC_ALLOC] = tsd->allocated + 1;
	event_arm(tsd);
	ck_assert_uint_eq(tsd->alloc_event, tsd->allocated + 1);
	void *p = malloc(64);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(tsd->events.next[EVENT_TCACHE_GC_ALLOC],
	                  tsd->allocated + opt_tcache_gc_incr_bytes);
	ck_assert_uint_gt(tsd->alloc_event, tsd->allocated);
	free(p);
}
END_TEST

START_TEST(test_in_place_resize_goes_through_events)
{
	void *p = malloc(64 * 1024);
	ck_assert_ptr_nonnull(p);
	/* An event due at the next byte: the in-place growth must fire it. */
	tsd->events.next[EVENT_TCACHE_GC_ALLOC] = tsd->allocated + 1;
	event_arm(tsd);
	uint64_t allocated = tsd->allocated, deallocated = tsd->deallocated;
	size_t got = xallocx(p, 80 * 1024, 0, 0);
	ck_assert_uint_eq(got, 80 * 1024);
	ck_assert_uint_eq(tsd->allocated, allocated + 80 * 1024);
	ck_assert_uint_eq(tsd->deallocated, deallocated + 64 * 1024);
	ck_assert_uint_gt(tsd->events.next[EVENT_TCACHE_GC_ALLOC], allocated + 1);
	/* The same through realloc in place (same class). */
	tsd->events.next[EVENT_TCACHE_GC_ALLOC] = tsd->allocated + 1;
	event_arm(tsd);
	allocated = tsd->allocated;
	ck_assert_ptr_eq(realloc(p, 80 * 1024 - 1), p);
	ck_assert_uint_eq(tsd->allocated, allocated + 80 * 1024);
	ck_assert_uint_gt(tsd->events.next[EVENT_TCACHE_GC_ALLOC], allocated + 1);
	free(p);
}
END_TEST

/*
 * junk forces every call to the slow path.  It used to do that by making
 * every call an event, so the cache GC ran on every allocation and emptied
 * caches that the same program keeps without junk.
 */
static void
cache_survives_traffic(void)
{
	void *keep[20];
	for (int i = 0; i < 20; i++)
		keep[i] = malloc(32);
	for (int i = 0; i < 20; i++)
		free(keep[i]);
	uint16_t cached = bin_of(32)->ncached;
	ck_assert_uint_ge(cached, 20);
	/* Traffic in another class, far below one GC interval of bytes. */
	for (int i = 0; i < 200; i++)
		free(malloc(48));
	ck_assert_uint_eq(bin_of(32)->ncached, cached);
}

START_TEST(test_cache_kept_without_junk)
{
	cache_survives_traffic();
}
END_TEST

START_TEST(test_junk_does_not_change_caching)
{
	opt_junk = CONF_JUNK_TRUE;
	event_boot();
	event_arm(tsd);
	ck_assert_uint_eq(tsd->alloc_event, 0); /* slow path, for the fill */
	cache_survives_traffic();
	unsigned char *p = malloc(32);
	ck_assert_uint_eq(p[0], 0xa5); /* and the fill happens */
	free(p);
}
END_TEST

START_TEST(test_zero_does_not_change_caching)
{
	opt_zero = true;
	event_boot();
	event_arm(tsd);
	cache_survives_traffic();
	unsigned char *p = malloc(32);
	memset(p, 7, 32);
	free(p);
	p = malloc(32);
	ck_assert_uint_eq(p[5], 0);
	free(p);
}
END_TEST

/* Allocates until the cache GC event is due, then checks that it fired
 * (re-armed further on) while the fast threshold stayed 0. */
static void
gc_event_fires_on_slow_path(void)
{
	ck_assert_uint_eq(tsd->alloc_event, 0);
	uint64_t due = tsd->events.next[EVENT_TCACHE_GC_ALLOC];
	ck_assert_uint_ne(due, EVENT_NEVER);
	while (tsd->allocated < due)
		free(malloc(4096));
	ck_assert_uint_gt(tsd->events.next[EVENT_TCACHE_GC_ALLOC], due);
	ck_assert_uint_eq(tsd->alloc_event, 0);
	ck_assert_uint_eq(tsd->dalloc_event, 0);
}

START_TEST(test_junk_still_fires_due_events)
{
	opt_junk = CONF_JUNK_TRUE;
	event_boot();
	event_arm(tsd);
	gc_event_fires_on_slow_path();
}
END_TEST

START_TEST(test_forced_slow_path_still_fires_due_events)
{
	event_force_slow(true);
	gc_event_fires_on_slow_path();
	event_force_slow(false);
	free(malloc(32));
	ck_assert_uint_gt(tsd->alloc_event, tsd->allocated);
}
END_TEST

START_TEST(test_reentrant_allocations_bypass_cache_and_events)
{
	void *warm[8];
	for (int i = 0; i < 8; i++)
		warm[i] = malloc(32);
	for (int i = 0; i < 8; i++)
		free(warm[i]);
	uint16_t cached = bin_of(32)->ncached;
	tsd->events.next[EVENT_TCACHE_GC_ALLOC] = tsd->allocated + 1;
	tsd_reentrancy_raise(tsd);
	ck_assert_uint_eq(tsd->alloc_event, 0);
	uint64_t allocated = tsd->allocated;
	void *p = malloc(32);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(bin_of(32)->ncached, cached); /* not taken from the cache */
	ck_assert_uint_eq(tsd->allocated, allocated + 32); /* counted */
	ck_assert_uint_eq(tsd->events.next[EVENT_TCACHE_GC_ALLOC], allocated + 1); /* no event */
	free(p);
	ck_assert_uint_eq(bin_of(32)->ncached, cached); /* not put in the cache */
	tsd_reentrancy_lower(tsd);
	ck_assert_uint_eq(tsd->alloc_event, allocated + 1); /* armed again, event now due */
	free(malloc(32));
	ck_assert_uint_gt(tsd->events.next[EVENT_TCACHE_GC_ALLOC], allocated + 1);
}
END_TEST

static unsigned hook_calls;
static unsigned hook_level;
static bool hook_allocated;

static void
allocating_hook(void *opaque, const char *s)
{
	(void)opaque;
	(void)s;
	hook_calls++;
	hook_level = tsd_tls.reentrancy;
	char *p = malloc(200);
	hook_allocated = p != NULL;
	if (p != NULL)
		strcpy(p, s);
	free(p);
}

START_TEST(test_message_hook_runs_reentrant)
{
	malloc_message = allocating_hook;
	msg_error("test message %d\n", 1);
	malloc_message = NULL;
	ck_assert_uint_eq(hook_calls, 1);
	ck_assert_uint_eq(hook_level, 1);
	ck_assert(hook_allocated);
	ck_assert_uint_eq(tsd->reentrancy, 0);
	ck_assert_uint_ne(tsd->alloc_event, 0);
}
END_TEST

/* Sampling on at one byte in 2^lg; the next sample in `in` bytes. */
static void
sample_at(int lg, uint64_t in)
{
	event_set_sample_lg(lg);
	tsd->events.next[EVENT_PROF_SAMPLE] = tsd->allocated + in;
	event_arm(tsd);
}

START_TEST(test_sample_when_threshold_inside_allocation)
{
	sample_at(10, 100);
	ck_assert_uint_eq(tsd->alloc_event, tsd->allocated + 100);
	ck_assert(!event_alloc(tsd, 99));
	ck_assert(event_alloc(tsd, 2));
	/* A fresh distance from the end of the sampled allocation. */
	ck_assert_uint_gt(tsd->events.next[EVENT_PROF_SAMPLE], tsd->allocated);
	event_set_sample_lg(-1);
}
END_TEST

START_TEST(test_overdue_sample_is_redrawn_not_taken)
{
	sample_at(10, 10);
	tsd_reentrancy_raise(tsd);
	ck_assert(!event_alloc(tsd, 100)); /* counted, nothing fires */
	tsd_reentrancy_lower(tsd);
	uint64_t before = tsd->allocated;
	ck_assert(!event_alloc(tsd, 8));
	ck_assert_uint_gt(tsd->events.next[EVENT_PROF_SAMPLE], before + 8);
	event_set_sample_lg(-1);
}
END_TEST

START_TEST(test_sampled_fraction_matches_geometric_law)
{
	const unsigned lg = 10, z = 48, n = 200000;
	sample_at((int)lg, 1000);
	unsigned sampled = 0;
	for (unsigned i = 0; i < n; i++)
		sampled += event_alloc(tsd, z);
	double expected = n * (1 - pow(1 - 1.0 / 1024, z));
	ck_assert_msg(fabs(sampled - expected) < 0.05 * expected, "%u sampled, expected %.0f",
	              sampled, expected);
	sample_at(0, 1);
	for (unsigned i = 0; i < 100; i++)
		ck_assert(event_alloc(tsd, 1 + i % 7));
	sample_at(-1, 1);
	ck_assert_uint_eq(tsd->events.next[EVENT_PROF_SAMPLE], tsd->allocated + 1);
	ck_assert(event_alloc(tsd, 8)); /* due now, then never again */
	ck_assert_uint_eq(tsd->events.next[EVENT_PROF_SAMPLE], EVENT_NEVER);
	ck_assert(!event_alloc(tsd, 1 << 20));
}
END_TEST

/* A resize in place counts its whole size, but only its new bytes move the
 * sample's clock. */
START_TEST(test_resize_samples_only_new_bytes)
{
	sample_at(10, 100);
	uint64_t before = tsd->allocated;
	ck_assert(!event_alloc_resized(tsd, 1 << 20, 50));
	ck_assert_uint_eq(tsd->allocated, before + (1 << 20));
	ck_assert(!event_alloc_resized(tsd, 1 << 20, 0));
	ck_assert(event_alloc_resized(tsd, 1 << 20, 60)); /* 50 + 60 new bytes cross 100 */
	event_set_sample_lg(-1);
}
END_TEST

START_TEST(test_geometric_distance_has_the_mean)
{
	uint64_t state = 42;
	double sum = 0;
	const unsigned n = 100000;
	for (unsigned i = 0; i < n; i++) {
		uint64_t d = prng_geometric_bytes(&state, 12);
		ck_assert_uint_ge(d, 1);
		sum += (double)d;
	}
	ck_assert_msg(fabs(sum / n - 4096) < 0.02 * 4096, "mean %.1f", sum / n);
	ck_assert_uint_eq(prng_geometric_bytes(&state, 0), 1);
	ck_assert_uint_le(prng_geometric_bytes(&state, 63), (uint64_t)1 << 62);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("event");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_fast_threshold_is_nearest_event);
	tcase_add_test(tc, test_event_fires_and_rearms);
	tcase_add_test(tc, test_in_place_resize_goes_through_events);
	tcase_add_test(tc, test_cache_kept_without_junk);
	tcase_add_test(tc, test_junk_does_not_change_caching);
	tcase_add_test(tc, test_junk_still_fires_due_events);
	tcase_add_test(tc, test_forced_slow_path_still_fires_due_events);
	tcase_add_test(tc, test_zero_does_not_change_caching);
	tcase_add_test(tc, test_reentrant_allocations_bypass_cache_and_events);
	tcase_add_test(tc, test_message_hook_runs_reentrant);
	tcase_add_test(tc, test_sample_when_threshold_inside_allocation);
	tcase_add_test(tc, test_overdue_sample_is_redrawn_not_taken);
	tcase_add_test(tc, test_sampled_fraction_matches_geometric_law);
	tcase_add_test(tc, test_resize_samples_only_new_bytes);
	tcase_add_test(tc, test_geometric_distance_has_the_mean);
	suite_add_tcase(s, tc);
	return s;
}
