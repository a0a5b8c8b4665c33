/*
 * check_bin.c — a bin's remote ring (bin.h): regions pushed by other
 * arenas' threads are handed out again by the next refill without touching
 * their slabs, the counters stay exact, a ring that is too full sends a
 * push to the slabs, reading the stats and draining return the ring to the
 * slabs, a fork child's ring skips the reservations of threads that are
 * gone, and pushers racing with a refilling thread lose and duplicate
 * nothing.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bin.h"
#include "emap.h"
#include "pages.h"

static base_t test_base;
static pages_t test_pages;
static bin_t test_bin;
static bin_remote_slots_t test_slots;

static void
setup(void)
{
	sz_boot();
	base_init(&test_base, MUTEX_RANK_GLOBAL_BASE);
	emap_boot(&test_base);
	pages_init(&test_pages, 3, &test_base, -1, 0);
	memset(test_slots, 0, sizeof(test_slots)); /* bin_init wants them NULL */
	bin_init(&test_bin, false, &test_slots);
}

static void
push(unsigned binind, void *const *ptrs, unsigned n)
{
	extent_t *slabs[BIN_FREE_BATCH_MAX];
	bin_lookup_slabs(binind, ptrs, slabs, n);
	bin_free_remote(&test_bin, binind, &test_pages.pai, slabs, ptrs, n);
}

static bin_stats_t
stats(unsigned binind)
{
	bin_stats_t st;
	bin_stats_read(&test_bin, binind, &test_pages.pai, &st);
	return st;
}

static size_t
ring_length(void)
{
	return atomic_load(&test_bin.remote.tail) - atomic_load(&test_bin.remote.head);
}

START_TEST(test_remote_refill_recycles)
{
	unsigned b = 4; /* 64 bytes */
	void *p[100];
	ck_assert_uint_eq(bin_malloc_batch(&test_bin, b, &test_pages.pai, p, 100), 100);
	push(b, p, 60);
	push(b, p + 60, 40);
	ck_assert_uint_eq(ring_length(), 100);
	/* Asked for at least 10, up to 128: the whole ring, in push order. */
	void *q[128];
	ck_assert_uint_eq(bin_refill(&test_bin, b, &test_pages.pai, q, 10, 128), 100);
	for (unsigned i = 0; i < 100; i++)
		ck_assert_ptr_eq(q[i], p[i]);
	ck_assert_uint_eq(ring_length(), 0);
	bin_stats_t st = stats(b);
	ck_assert_uint_eq(st.nmalloc, 200);
	ck_assert_uint_eq(st.ndalloc, 100);
	ck_assert_uint_eq(st.curregs, 100);
	ck_assert_uint_eq(st.nflushes, 2);
	ck_assert_uint_eq(st.nfills, 2);
}
END_TEST

START_TEST(test_remote_refill_takes_at_most_max)
{
	unsigned b = 4;
	void *p[100], *q[100];
	ck_assert_uint_eq(bin_malloc_batch(&test_bin, b, &test_pages.pai, p, 100), 100);
	push(b, p, 100);
	ck_assert_uint_eq(bin_refill(&test_bin, b, &test_pages.pai, q, 10, 30), 30);
	ck_assert_ptr_eq(q[29], p[29]);
	ck_assert_uint_eq(ring_length(), 70); /* the rest waits for the next refill */
	ck_assert_uint_eq(bin_refill(&test_bin, b, &test_pages.pai, q, 10, 100), 70);
	ck_assert_ptr_eq(q[0], p[30]);
}
END_TEST

START_TEST(test_remote_stats_and_drain_return_to_slabs)
{
	unsigned b = 4;
	void *p[100];
	ck_assert_uint_eq(bin_malloc_batch(&test_bin, b, &test_pages.pai, p, 100), 100);
	push(b, p + 50, 50);
	ck_assert_uint_eq(stats(b).curregs, 100 - 50); /* exact: read after draining */
	ck_assert_uint_eq(ring_length(), 0);
	/* The regions are free in their slabs again: the slab being filled
	 * (64 regions a slab: p[64] starts the second) hands out its lowest. */
	void *q;
	ck_assert_uint_eq(bin_malloc_batch(&test_bin, b, &test_pages.pai, &q, 1), 1);
	ck_assert_ptr_eq(q, p[64]);
	push(b, p, 50);
	bin_remote_drain(&test_bin, b, &test_pages.pai);
	ck_assert_uint_eq(ring_length(), 0);
	bin_stats_t st = stats(b);
	ck_assert_uint_eq(st.curregs, 1);
	ck_assert_uint_eq(st.ndalloc, 100);
}
END_TEST

START_TEST(test_remote_full_ring_frees_to_slabs)
{
	unsigned b = 28; /* 4096 bytes, one a slab: 32 regions fill the ring */
	void *p[34];
	ck_assert_uint_eq(bin_malloc_batch(&test_bin, b, &test_pages.pai, p, 34), 34);
	push(b, p, 32);
	ck_assert_uint_eq(ring_length(), 32);
	push(b, p + 32, 2);
	ck_assert_uint_eq(ring_length(), 32); /* full: these went to their slabs */
	extent_t *slab = emap_bits_extent(emap_lookup(p[33]));
	ck_assert_uint_eq(slab->nfree, 1);
	bin_stats_t st = stats(b);
	ck_assert_uint_eq(st.curregs, 0);
	ck_assert_uint_eq(st.curslabs, 1); /* every one-region slab but slabcur went back */
}
END_TEST

START_TEST(test_remote_postfork_skips_dead_reservations)
{
	unsigned b = 4;
	void *p[8], *q[16];
	ck_assert_uint_eq(bin_malloc_batch(&test_bin, b, &test_pages.pai, p, 8), 8);
	/* A thread reserved three slots and was not forked with us. */
	atomic_fetch_add(&test_bin.remote.tail, 3);
	push(b, p, 8);
	/* The taker stops at the hole: nothing from the ring, one fresh region. */
	ck_assert_uint_eq(bin_refill(&test_bin, b, &test_pages.pai, q, 1, 1), 1);
	for (unsigned i = 0; i < 8; i++)
		ck_assert_ptr_ne(q[0], p[i]);
	bin_remote_postfork_child(&test_bin);
	ck_assert_uint_eq(ring_length(), 8);
	ck_assert_uint_eq(bin_refill(&test_bin, b, &test_pages.pai, q, 1, 16), 8);
	for (unsigned i = 0; i < 8; i++)
		ck_assert_ptr_eq(q[i], p[i]);
}
END_TEST

/* Pushers free regions handed to them in batches of 16 while the main
 * thread refills; every region must come back exactly once, from the ring
 * or (after a full ring or the final drain) as a free region of its slab. */
#define RACE_PUSHERS 3
#define RACE_PER_PUSHER 4000
#define RACE_CLASS 2 /* 32 bytes */

static void *race_regions[RACE_PUSHERS][RACE_PER_PUSHER];
static atomic_uint race_done;

static void *
race_pusher(void *arg)
{
	void **mine = arg;
	for (unsigned i = 0; i < RACE_PER_PUSHER; i += 16)
		push(RACE_CLASS, mine + i, 16);
	atomic_fetch_add(&race_done, 1);
	return NULL;
}

static int
ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

START_TEST(test_remote_concurrent_pushes_lose_nothing)
{
	static void *got[RACE_PUSHERS * RACE_PER_PUSHER];
	size_t ngot = 0;
	for (unsigned t = 0; t < RACE_PUSHERS; t++)
		for (unsigned i = 0; i < RACE_PER_PUSHER; i += 100)
			ck_assert_uint_eq(bin_malloc_batch(&test_bin, RACE_CLASS, &test_pages.pai,
			                                   race_regions[t] + i, 100),
			                  100);
	size_t before = stats(RACE_CLASS).curregs;
	ck_assert_uint_eq(before, RACE_PUSHERS * RACE_PER_PUSHER);
	pthread_t th[RACE_PUSHERS];
	for (unsigned t = 0; t < RACE_PUSHERS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, race_pusher, race_regions[t]), 0);
	/* Take from the ring only (n = 0): fresh slab regions would muddle the
	 * count. */
	while (atomic_load(&race_done) < RACE_PUSHERS) {
		void *q[64];
		unsigned n = bin_refill(&test_bin, RACE_CLASS, &test_pages.pai, q, 0, 64);
		for (unsigned i = 0; i < n; i++)
			got[ngot++] = q[i];
	}
	for (unsigned t = 0; t < RACE_PUSHERS; t++)
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
	/* What the refills took is still in use; the rest is back in slabs. */
	ck_assert_uint_eq(stats(RACE_CLASS).curregs, ngot);
	qsort(got, ngot, sizeof(void *), ptr_cmp);
	for (size_t i = 1; i < ngot; i++)
		ck_assert_ptr_ne(got[i], got[i - 1]);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("bin");
	TCase *tc = tcase_create("remote");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_remote_refill_recycles);
	tcase_add_test(tc, test_remote_refill_takes_at_most_max);
	tcase_add_test(tc, test_remote_stats_and_drain_return_to_slabs);
	tcase_add_test(tc, test_remote_full_ring_frees_to_slabs);
	tcase_add_test(tc, test_remote_postfork_skips_dead_reservations);
	tcase_add_test(tc, test_remote_concurrent_pushes_lose_nothing);
	suite_add_tcase(s, tc);
	return s;
}
