/*
 * check_sz.c — size classes against jemalloc 5.3's published table
 * (docs/compat.md, "Size classes"), the size→class lookups, aligned usable sizes, page-size
 * classes and the region-index division.
 */
#include <check.h>

#include "sz.h"

/* jemalloc 5.3, x86-64: the first 44 classes, and nregs / slab pages per bin. */
static const size_t expected_sizes[44] = {
	8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768,
	896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240,
	12288, 14336, 16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344};
static const uint32_t expected_nregs[SZ_NBINS] = {
	512, 256, 128, 256, 64, 256, 128, 256, 32, 128, 64, 128, 16, 64, 32, 64, 8, 32,
	16, 32, 4, 16, 8, 16, 2, 8, 4, 8, 1, 4, 2, 4, 1, 2, 1, 2};
static const unsigned expected_slab_pages[SZ_NBINS] = {
	1, 1, 1, 3, 1, 5, 3, 7, 1, 5, 3, 7, 1, 5, 3, 7, 1, 5, 3, 7, 1, 5, 3, 7, 1, 5, 3, 7,
	1, 5, 3, 7, 2, 5, 3, 7};

static void
setup(void)
{
	sz_boot();
}

START_TEST(test_first_classes_match_jemalloc)
{
	for (unsigned i = 0; i < 44; i++)
		ck_assert_uint_eq(sz_index2size(i), expected_sizes[i]);
	ck_assert_uint_eq(sz_index2size(SZ_NBINS - 1), SZ_SMALL_MAXCLASS);
	ck_assert_uint_eq(sz_index2size(SZ_NBINS), SZ_LARGE_MINCLASS);
	ck_assert_uint_eq(sz_index2size(SZ_NSIZES - 1), SZ_LARGE_MAXCLASS);
}
END_TEST

START_TEST(test_bins_match_jemalloc)
{
	for (unsigned i = 0; i < SZ_NBINS; i++) {
		ck_assert_uint_eq(sz_bin_info[i].nregs, expected_nregs[i]);
		ck_assert_uint_eq(sz_bin_info[i].slab_size, expected_slab_pages[i] * PAGE);
		ck_assert_uint_eq(sz_bin_info[i].nregs * sz_bin_info[i].reg_size,
		                  sz_bin_info[i].slab_size);
	}
}
END_TEST

START_TEST(test_classes_four_per_doubling)
{
	/* Above 64, each class is 2^lg + k * 2^(lg-2), k = 1..4. */
	for (unsigned i = 5; i < SZ_NSIZES; i++) {
		size_t prev = sz_index2size(i - 1), cur = sz_index2size(i);
		ck_assert_uint_gt(cur, prev);
		unsigned lg = bits_lg_floor(cur - 1);
		ck_assert_uint_eq((cur - ((size_t)1 << lg)) % ((size_t)1 << (lg - 2)), 0);
	}
}
END_TEST

START_TEST(test_size2index_is_smallest_fit)
{
	unsigned ind = 0;
	for (size_t size = 1; size <= 70000; size++) {
		while (sz_index2size(ind) < size)
			ind++;
		ck_assert_uint_eq(sz_size2index(size), ind);
		ck_assert_uint_eq(sz_s2u(size), sz_index2size(ind));
	}
	/* The computed path agrees with the table where both apply. */
	for (size_t size = 65; size <= SZ_LOOKUP_MAXCLASS; size++)
		ck_assert_uint_eq(sz_size2index_compute(size), sz_size2index(size));
	for (unsigned i = 0; i < SZ_NSIZES; i++) {
		ck_assert_uint_eq(sz_size2index(sz_index2size(i)), i);
		if (sz_index2size(i) > 64)
			ck_assert_uint_eq(sz_size2index(sz_index2size(i) - 1), i);
	}
}
END_TEST

START_TEST(test_s2u_reference_values)
{
	ck_assert_uint_eq(sz_s2u(0), 8);
	ck_assert_uint_eq(sz_s2u(1), 8);
	ck_assert_uint_eq(sz_s2u(129), 160);
	ck_assert_uint_eq(sz_s2u(4097), 5120);
	ck_assert_uint_eq(sz_s2u(14337), 16384);
	ck_assert_uint_eq(sz_s2u((1 << 20) + 1), 1310720);
	ck_assert_uint_eq(sz_s2u((2 << 20) + 1), 2621440);
	ck_assert_uint_eq(sz_s2u(SZ_LARGE_MAXCLASS), SZ_LARGE_MAXCLASS);
	ck_assert_uint_eq(sz_s2u(SZ_LARGE_MAXCLASS + 1), 0);
	ck_assert_uint_eq(sz_s2u(SIZE_MAX), 0);
}
END_TEST

START_TEST(test_sa2u)
{
	ck_assert_uint_eq(sz_sa2u(1, 64), 64);
	ck_assert_uint_eq(sz_sa2u(100, 4096), 4096);
	ck_assert_uint_eq(sz_sa2u(5000, 4096), 8192);
	ck_assert_uint_eq(sz_sa2u(100, 8192), SZ_LARGE_MINCLASS);
	ck_assert_uint_eq(sz_sa2u(SIZE_MAX, 16), 0);
	ck_assert_uint_eq(sz_sa2u(1, (size_t)1 << 63), 0);
	/* A small result is a multiple of the alignment, so slab regions are aligned. */
	for (size_t a = 16; a <= PAGE; a <<= 1) {
		for (size_t size = 1; size <= SZ_SMALL_MAXCLASS; size += 7) {
			size_t u = sz_sa2u(size, a);
			ck_assert_uint_ge(u, size);
			if (u <= SZ_SMALL_MAXCLASS)
				ck_assert_uint_eq(u % a, 0);
		}
	}
}
END_TEST

START_TEST(test_page_classes)
{
	ck_assert_uint_eq(sz_pind2sz_tab[0], PAGE);
	for (unsigned i = 0; i < SZ_NPSIZES; i++) {
		ck_assert_uint_eq(sz_pind2sz_tab[i] % PAGE, 0);
		if (i > 0)
			ck_assert_uint_gt(sz_pind2sz_tab[i], sz_pind2sz_tab[i - 1]);
	}
	for (size_t size = PAGE; size <= ((size_t)64 << 20); size += 3 * PAGE) {
		unsigned c = sz_psz2ind_ceil(size), f = sz_psz2ind_floor(size);
		ck_assert_uint_ge(sz_pind2sz_tab[c], size);
		ck_assert(c == 0 || sz_pind2sz_tab[c - 1] < size);
		ck_assert_uint_le(sz_pind2sz_tab[f], size);
		ck_assert(f + 1 >= SZ_NPSIZES || sz_pind2sz_tab[f + 1] > size);
	}
}
END_TEST

START_TEST(test_region_index_division)
{
	for (unsigned b = 0; b < SZ_NBINS; b++) {
		const bin_info_t *info = &sz_bin_info[b];
		/* A plain compare per offset, ck_abort_msg only on a mismatch:
		 * ck_assert per offset (one per byte of every slab) took longer than
		 * Check's timeout under ASan on a loaded machine. */
		for (size_t off = 0; off < info->slab_size; off++) {
			uint32_t q = (uint32_t)(((uint64_t)off * info->div_magic) >> 32);
			if (q != off / info->reg_size)
				ck_abort_msg("class %u: offset %zu gives region %u, not %zu", b, off, q,
				             off / info->reg_size);
		}
	}
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("sz");
	TCase *tc = tcase_create("classes");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_first_classes_match_jemalloc);
	tcase_add_test(tc, test_bins_match_jemalloc);
	tcase_add_test(tc, test_classes_four_per_doubling);
	tcase_add_test(tc, test_size2index_is_smallest_fit);
	tcase_add_test(tc, test_s2u_reference_values);
	tcase_add_test(tc, test_sa2u);
	tcase_add_test(tc, test_page_classes);
	tcase_add_test(tc, test_region_index_division);
	suite_add_tcase(s, tc);
	return s;
}
