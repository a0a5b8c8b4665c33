/*
 * check_slab.c — slab bitmaps (lowest-first allocation, double-free and
 * not-a-region detection) and bins (slab turnover, non-full reuse, empty
 * slabs returned to the page allocator, counters).
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>

#include "bin.h"
#include "emap.h"
#include "pages.h"

static base_t test_base;
static pages_t test_pages;

static void
setup(void)
{
	sz_boot();
	base_init(&test_base, MUTEX_RANK_GLOBAL_BASE);
	emap_boot(&test_base);
	pages_init(&test_pages, 3, &test_base, -1, 0);
}

static extent_t *
new_slab(unsigned binind)
{
	const bin_info_t *info = &sz_bin_info[binind];
	extent_t *slab = pages_alloc(&test_pages, info->slab_size, PAGE, false, binind, true);
	ck_assert_ptr_nonnull(slab);
	slab_init(slab, info);
	return slab;
}

START_TEST(test_slab_every_class_fills_lowest_first)
{
	for (unsigned b = 0; b < SZ_NBINS; b++) {
		const bin_info_t *info = &sz_bin_info[b];
		extent_t *slab = new_slab(b);
		ck_assert_uint_eq(slab->nfree, info->nregs);
		void *regs[SZ_SLAB_MAXREGS];
		ck_assert_uint_eq(slab_alloc_batch(slab, info, regs, SZ_SLAB_MAXREGS), info->nregs);
		ck_assert(slab_is_full(slab));
		for (uint32_t i = 0; i < info->nregs; i++) {
			ck_assert_ptr_eq(regs[i], (char *)slab->addr + i * info->reg_size);
			ck_assert_uint_eq(slab_reg_index(slab, info, regs[i]), i);
		}
		void *none;
		ck_assert_uint_eq(slab_alloc_batch(slab, info, &none, 1), 0);
		/* Free the last region, then the first: the first comes back first. */
		if (info->nregs > 1)
			ck_assert_int_eq(slab_free_reg(slab, info, regs[info->nregs - 1]), SLAB_FREE_OK);
		ck_assert_int_eq(slab_free_reg(slab, info, regs[0]), SLAB_FREE_OK);
		void *again;
		ck_assert_uint_eq(slab_alloc_batch(slab, info, &again, 1), 1);
		ck_assert_ptr_eq(again, regs[0]);
		pages_free(&test_pages, slab);
	}
}
END_TEST

START_TEST(test_slab_rejects_bad_frees)
{
	const bin_info_t *info = &sz_bin_info[3]; /* 48 bytes */
	extent_t *slab = new_slab(3);
	void *r[2];
	ck_assert_uint_eq(slab_alloc_batch(slab, info, r, 2), 2);
	ck_assert_int_eq(slab_free_reg(slab, info, (char *)r[1] + 8), SLAB_FREE_NOT_REGION);
	ck_assert_int_eq(slab_free_reg(slab, info, r[1]), SLAB_FREE_OK);
	ck_assert_int_eq(slab_free_reg(slab, info, r[1]), SLAB_FREE_DOUBLE);
	ck_assert_int_eq(slab_free_reg(slab, info, (char *)slab->addr + 5 * info->reg_size),
	                 SLAB_FREE_DOUBLE); /* never allocated: free already */
	ck_assert_uint_eq(slab->nfree, info->nregs - 1);
}
END_TEST

START_TEST(test_bin_turnover_and_counters)
{
	bin_t bin;
	static bin_remote_slots_t slots; /* NULL, as bin_init wants them */
	bin_init(&bin, true, &slots);
	unsigned b = 8; /* 128 bytes, 32 per slab */
	const bin_info_t *info = &sz_bin_info[b];
	enum { N = 32 * 10 + 5 };
	static void *p[N];
	for (unsigned i = 0; i < N; i++) {
		ck_assert_uint_eq(bin_malloc_batch(&bin, b, &test_pages.pai, &p[i], 1), 1);
		uint64_t bits = emap_lookup(p[i]);
		ck_assert(emap_bits_slab(bits));
		ck_assert_uint_eq(emap_bits_szind(bits), b);
	}
	bin_stats_t st;
	bin_stats_read(&bin, b, &test_pages.pai, &st);
	ck_assert_uint_eq(st.curregs, N);
	ck_assert_uint_eq(st.curslabs, 11);
	ck_assert_uint_eq(st.nmalloc, N);

	/* Free one region of slab 2: the next allocation reuses it (non-full heap). */
	extent_t *s2 = emap_bits_extent(emap_lookup(p[64]));
	bin_free(&bin, b, &test_pages.pai, s2, p[64]);
	void *q;
	/* slabcur still has room: it serves first, then the non-full slab. */
	unsigned left = info->nregs - 5;
	for (unsigned i = 0; i < left; i++)
		ck_assert_uint_eq(bin_malloc_batch(&bin, b, &test_pages.pai, &q, 1), 1);
	ck_assert_uint_eq(bin_malloc_batch(&bin, b, &test_pages.pai, &q, 1), 1);
	ck_assert_ptr_eq(q, p[64]);

	/* Freeing everything returns every slab but slabcur to the pages. */
	for (unsigned i = 0; i < N; i++) {
		if (i == 64)
			continue;
		bin_free(&bin, b, &test_pages.pai, emap_bits_extent(emap_lookup(p[i])), p[i]);
	}
	bin_free(&bin, b, &test_pages.pai, s2, q);
	bin_stats_read(&bin, b, &test_pages.pai, &st);
	ck_assert_uint_eq(st.curregs, left);
	ck_assert_uint_le(st.curslabs, 2);
	ck_assert_uint_eq(st.ndalloc, N + 1);
}
END_TEST

START_TEST(test_bin_double_free_aborts)
{
	bin_t bin;
	static bin_remote_slots_t slots; /* NULL, as bin_init wants them */
	bin_init(&bin, true, &slots);
	void *p;
	ck_assert_uint_eq(bin_malloc_batch(&bin, 0, &test_pages.pai, &p, 1), 1);
	extent_t *slab = emap_bits_extent(emap_lookup(p));
	bin_free(&bin, 0, &test_pages.pai, slab, p);
	bin_free(&bin, 0, &test_pages.pai, slab, p);
}
END_TEST

START_TEST(test_bin_batch_spans_slabs)
{
	bin_t bin;
	static bin_remote_slots_t slots; /* NULL, as bin_init wants them */
	bin_init(&bin, true, &slots);
	unsigned b = 28; /* 4096 bytes: one region per slab */
	void *p[10];
	ck_assert_uint_eq(bin_malloc_batch(&bin, b, &test_pages.pai, p, 10), 10);
	for (unsigned i = 0; i < 10; i++)
		for (unsigned j = i + 1; j < 10; j++)
			ck_assert_ptr_ne(p[i], p[j]);
	bin_stats_t st;
	bin_stats_read(&bin, b, &test_pages.pai, &st);
	ck_assert_uint_eq(st.curslabs, 10);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("slab");
	TCase *tc = tcase_create("slab");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_slab_every_class_fills_lowest_first);
	tcase_add_test(tc, test_slab_rejects_bad_frees);
	tcase_add_test(tc, test_bin_turnover_and_counters);
	tcase_add_test_raise_signal(tc, test_bin_double_free_aborts, SIGABRT);
	tcase_add_test(tc, test_bin_batch_spans_slabs);
	suite_add_tcase(s, tc);
	return s;
}
