/*
 * check_extent.c — extents: the address-ordered pairing heap under random
 * inserts and removals, best-fit sets, and the page allocator's split,
 * coalesce, in-place resize and purge, checked through the emap.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "emap.h"
#include "pages.h"

static base_t test_base;
static pages_t test_pages;
#define TEST_ARENA 7

static void
setup(void)
{
	sz_boot();
	base_init(&test_base, MUTEX_RANK_GLOBAL_BASE);
	emap_boot(&test_base);
	pages_init(&test_pages, TEST_ARENA, &test_base, -1, -1); /* no purging unless asked */
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

START_TEST(test_heap_random_order)
{
	enum { N = 2000 };
	static extent_t nodes[N];
	extent_heap_t h = {0};
	unsigned seed = 12345;
	uintptr_t live[N];
	unsigned nlive = 0;
	bool in[N] = {false};
	for (unsigned i = 0; i < N; i++)
		nodes[i].addr = (void *)(uintptr_t)((rand_r(&seed) % 1000000 + 1) * PAGE + i);
	for (unsigned step = 0; step < 20000; step++) {
		unsigned i = (unsigned)rand_r(&seed) % N;
		if (in[i])
			extent_heap_remove(&h, &nodes[i]);
		else
			extent_heap_insert(&h, &nodes[i]);
		in[i] = !in[i];
		if (step % 97 == 0 && !extent_heap_empty(&h)) {
			/* The root is the minimum of what is in the heap. */
			uintptr_t min = UINTPTR_MAX;
			for (unsigned k = 0; k < N; k++)
				if (in[k] && (uintptr_t)nodes[k].addr < min)
					min = (uintptr_t)nodes[k].addr;
			ck_assert_uint_eq((uintptr_t)extent_heap_first(&h)->addr, min);
		}
	}
	for (unsigned k = 0; k < N; k++)
		if (in[k])
			live[nlive++] = (uintptr_t)nodes[k].addr;
	qsort(live, nlive, sizeof(live[0]), cmp_ptr);
	for (unsigned k = 0; k < nlive; k++) {
		extent_t *first = extent_heap_first(&h);
		ck_assert_uint_eq((uintptr_t)first->addr, live[k]);
		extent_heap_remove(&h, first);
	}
	ck_assert(extent_heap_empty(&h));
}
END_TEST

START_TEST(test_eset_best_fit_then_lowest)
{
	static extent_t e[6];
	size_t sizes[6] = {4 * PAGE, 16 * PAGE, 5 * PAGE, 5 * PAGE, 64 * PAGE, 6 * PAGE};
	uintptr_t addrs[6] = {0x10000000, 0x20000000, 0x38000000, 0x30000000, 0x8000000, 0x40000000};
	eset_t set;
	eset_init(&set);
	for (unsigned i = 0; i < 6; i++) {
		e[i].addr = (void *)addrs[i];
		e[i].size = sizes[i];
		eset_insert(&set, &e[i]);
	}
	ck_assert_uint_eq(set.npages, 4 + 16 + 5 + 5 + 64 + 6);
	ck_assert_ptr_eq(eset_find_fit(&set, 3 * PAGE), &e[0]);
	ck_assert_ptr_eq(eset_find_fit(&set, 5 * PAGE), &e[3]); /* two fits of 5: lower address */
	ck_assert_ptr_eq(eset_find_fit(&set, 6 * PAGE), &e[5]);
	ck_assert_ptr_eq(eset_find_fit(&set, 17 * PAGE), &e[4]);
	ck_assert_ptr_null(eset_find_fit(&set, 65 * PAGE));
	ck_assert_ptr_eq(eset_find_largest(&set), &e[4]);
	eset_remove(&set, &e[3]);
	ck_assert_ptr_eq(eset_find_fit(&set, 5 * PAGE), &e[2]);
	ck_assert_uint_eq(set.nextents, 5);
}
END_TEST

/* The per-class counts (stats.arenas.<i>.extents.<j>): by the class an
 * extent is filed under, and summing to the set's totals. */
START_TEST(test_eset_class_counts)
{
	static extent_t e[4];
	size_t sizes[4] = {5 * PAGE, 5 * PAGE, 7 * PAGE, 64 * PAGE};
	eset_t set;
	eset_init(&set);
	for (unsigned i = 0; i < 4; i++) {
		e[i].addr = (void *)(uintptr_t)(0x10000000 + i * 0x1000000);
		e[i].size = sizes[i];
		eset_insert(&set, &e[i]);
	}
	unsigned five = sz_psz2ind_floor(5 * PAGE), seven = sz_psz2ind_floor(7 * PAGE);
	unsigned big = sz_psz2ind_floor(64 * PAGE);
	ck_assert_uint_eq(set.class_n[five], seven == five ? 3 : 2);
	ck_assert_uint_eq(set.class_n[big], 1);
	ck_assert_uint_eq(set.class_bytes[big], 64 * PAGE);
	size_t n = 0, bytes = 0;
	for (unsigned j = 0; j < SZ_NPSIZES; j++) {
		n += set.class_n[j];
		bytes += set.class_bytes[j];
	}
	ck_assert_uint_eq(n, set.nextents);
	ck_assert_uint_eq(bytes, set.npages << LG_PAGE);
	for (unsigned i = 0; i < 4; i++)
		eset_remove(&set, &e[i]);
	for (unsigned j = 0; j < SZ_NPSIZES; j++) {
		ck_assert_uint_eq(set.class_n[j], 0);
		ck_assert_uint_eq(set.class_bytes[j], 0);
	}
}
END_TEST

static extent_t *
lookup(const void *addr)
{
	return emap_bits_extent(emap_lookup(addr));
}

START_TEST(test_alloc_registers_and_zeroes)
{
	extent_t *e = pages_alloc(&test_pages, 3 * PAGE, PAGE, true, SZ_NBINS, false);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->size, 3 * PAGE);
	ck_assert_uint_eq(e->state, EXTENT_ACTIVE);
	ck_assert_uint_eq(e->arena_ind, TEST_ARENA);
	char *a = e->addr;
	for (size_t i = 0; i < e->size; i++)
		ck_assert_int_eq(a[i], 0);
	ck_assert_ptr_eq(lookup(a), e);
	ck_assert_ptr_eq(lookup(a + 2 * PAGE), e);
	ck_assert_uint_eq(emap_lookup(a + PAGE), 0); /* large: boundary pages only */
	ck_assert_uint_eq(emap_bits_szind(emap_lookup(a)), SZ_NBINS);

	extent_t *s = pages_alloc(&test_pages, 3 * PAGE, PAGE, false, 3, true);
	for (unsigned p = 0; p < 3; p++) {
		uint64_t bits = emap_lookup((char *)s->addr + p * PAGE);
		ck_assert_ptr_eq(emap_bits_extent(bits), s);
		ck_assert(emap_bits_slab(bits));
		ck_assert_uint_eq(emap_bits_szind(bits), 3);
	}
	pages_free(&test_pages, s);
	pages_free(&test_pages, e);
}
END_TEST

START_TEST(test_alignment)
{
	for (size_t align = PAGE; align <= ((size_t)4 << 20); align <<= 1) {
		extent_t *e = pages_alloc(&test_pages, 5 * PAGE, align, false, SZ_NBINS, false);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq((uintptr_t)e->addr % align, 0);
		memset(e->addr, 0xab, e->size);
		pages_free(&test_pages, e);
	}
}
END_TEST

START_TEST(test_free_coalesces_neighbours)
{
	/* Three adjacent extents carved from one fresh region. */
	extent_t *a = pages_alloc(&test_pages, 4 * PAGE, PAGE, false, SZ_NBINS, false);
	extent_t *b = pages_alloc(&test_pages, 4 * PAGE, PAGE, false, SZ_NBINS, false);
	extent_t *c = pages_alloc(&test_pages, 4 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_eq((char *)a->addr + 4 * PAGE, b->addr);
	ck_assert_ptr_eq((char *)b->addr + 4 * PAGE, c->addr);
	char *base = a->addr;
	pages_stats_t st;
	pages_free(&test_pages, a);
	pages_free(&test_pages, c);
	pages_stats_read(&test_pages, &st);
	ck_assert_uint_eq(st.dirty_pages, 8);
	ck_assert_uint_eq(test_pages.dirty.nextents, 2);
	pages_free(&test_pages, b);
	pages_stats_read(&test_pages, &st);
	ck_assert_uint_eq(st.dirty_pages, 12);
	ck_assert_uint_eq(test_pages.dirty.nextents, 1);
	extent_t *merged = lookup(base);
	ck_assert_uint_eq(merged->size, 12 * PAGE);
	ck_assert_uint_eq(merged->state, EXTENT_DIRTY);
	ck_assert_ptr_eq(lookup(base + 11 * PAGE), merged);
	/* The old inner boundaries are gone from the map. */
	ck_assert_uint_eq(emap_lookup(base + 4 * PAGE), 0);
	ck_assert_uint_eq(emap_lookup(base + 7 * PAGE), 0);
	/* Dirty memory is reused first, lowest address first. */
	extent_t *again = pages_alloc(&test_pages, 2 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_eq(again->addr, base);
	pages_free(&test_pages, again);
}
END_TEST

START_TEST(test_grow_and_shrink_in_place)
{
	extent_t *e = pages_alloc(&test_pages, 4 * PAGE, PAGE, false, SZ_NBINS, false);
	char *a = e->addr;
	ck_assert(pages_grow_in_place(&test_pages, e, 10 * PAGE, SZ_NBINS + 3, true));
	ck_assert_ptr_eq(e->addr, a);
	ck_assert_uint_eq(e->size, 10 * PAGE);
	for (size_t i = 4 * PAGE; i < 10 * PAGE; i++)
		ck_assert_int_eq(a[i], 0);
	ck_assert_ptr_eq(lookup(a + 9 * PAGE), e);
	ck_assert_uint_eq(emap_lookup(a + 3 * PAGE), 0);
	ck_assert_uint_eq(emap_bits_szind(emap_lookup(a)), SZ_NBINS + 3);

	/* Something allocated right after blocks further growth. */
	extent_t *blocker = pages_alloc(&test_pages, PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_eq(blocker->addr, a + 10 * PAGE);
	ck_assert(!pages_grow_in_place(&test_pages, e, 12 * PAGE, SZ_NBINS, false));

	ck_assert(pages_shrink_in_place(&test_pages, e, 6 * PAGE, SZ_NBINS + 1));
	ck_assert_uint_eq(e->size, 6 * PAGE);
	ck_assert_ptr_eq(lookup(a + 5 * PAGE), e);
	extent_t *tail = lookup(a + 6 * PAGE);
	ck_assert_uint_eq(tail->state, EXTENT_DIRTY);
	ck_assert_uint_eq(tail->size, 4 * PAGE);
	pages_free(&test_pages, blocker);
	pages_free(&test_pages, e);
}
END_TEST

START_TEST(test_purge_all_makes_retained_zero)
{
	extent_t *e = pages_alloc(&test_pages, 8 * PAGE, PAGE, false, SZ_NBINS, false);
	char *a = e->addr;
	memset(a, 0x5a, 8 * PAGE);
	pages_free(&test_pages, e);
	ck_assert_uint_ge(pages_purge_all(&test_pages), 8 * PAGE);
	pages_stats_t st;
	pages_stats_read(&test_pages, &st);
	ck_assert_uint_eq(st.dirty_pages, 0);
	ck_assert_uint_ge(st.dirty.npurge, 1);
	extent_t *again = pages_alloc(&test_pages, 8 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_eq(again->addr, a);
	for (size_t i = 0; i < 8 * PAGE; i++)
		ck_assert_int_eq(a[i], 0);
	pages_free(&test_pages, again);
}
END_TEST

START_TEST(test_decay_zero_purges_at_once)
{
	pages_t eager;
	pages_init(&eager, TEST_ARENA + 1, &test_base, 0, 0);
	extent_t *e = pages_alloc(&eager, 64 * PAGE, PAGE, false, SZ_NBINS, false);
	memset(e->addr, 1, 64 * PAGE);
	pages_free(&eager, e);
	pages_stats_t st;
	pages_stats_read(&eager, &st);
	ck_assert_uint_eq(st.dirty_pages, 0);
	ck_assert_uint_eq(st.muzzy_pages, 0); /* muzzy_decay_ms 0: straight to retained */
	ck_assert_uint_ge(st.dirty.purged, 64);
}
END_TEST

START_TEST(test_decay_never_keeps_everything)
{
	enum { N = 40 };
	extent_t *e[N];
	for (unsigned i = 0; i < N; i++) {
		e[i] = pages_alloc(&test_pages, 512 * PAGE, PAGE, false, SZ_NBINS, false);
		memset(e[i]->addr, 1, PAGE);
	}
	for (unsigned i = 0; i < N; i++)
		pages_free(&test_pages, e[i]);
	pages_stats_t st;
	pages_stats_read(&test_pages, &st);
	ck_assert_uint_eq(st.active_pages, 0);
	ck_assert_uint_ge(st.dirty_pages, N * 512);
	ck_assert_uint_eq(st.dirty.purged, 0);
	ck_assert_uint_eq(st.muzzy.purged, 0);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("extent");
	TCase *tc = tcase_create("extent");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_heap_random_order);
	tcase_add_test(tc, test_eset_best_fit_then_lowest);
	tcase_add_test(tc, test_eset_class_counts);
	tcase_add_test(tc, test_alloc_registers_and_zeroes);
	tcase_add_test(tc, test_alignment);
	tcase_add_test(tc, test_free_coalesces_neighbours);
	tcase_add_test(tc, test_grow_and_shrink_in_place);
	tcase_add_test(tc, test_purge_all_makes_retained_zero);
	tcase_add_test(tc, test_decay_zero_purges_at_once);
	tcase_add_test(tc, test_decay_never_keeps_everything);
	suite_add_tcase(s, tc);
	return s;
}
