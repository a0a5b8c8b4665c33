/*
 * check_api_sizes.c — nallocx() through libstrata.so gives jemalloc 5.3's
 * size classes: for every size 1..70000, at every class boundary up to
 * 2^47, for every alignment from 1 B to 2 MiB (both MALLOCX_LG_ALIGN and
 * MALLOCX_ALIGN), the values verified on Debian's jemalloc 5.3.0
 * (docs/compat.md, "Size classes"), and 0 beyond the largest class.
 *
 * The expected classes are computed here, independently, from the formula
 * in docs/compat.md "Size classes" (2^lg_base + k * 2^(lg_base-2)) and jemalloc's sz_sa2u
 * rule for aligned requests, never from strata's own tables.
 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

/* ------------------------------------------- jemalloc 5.3 size classes */

/* x86-64: LG_QUANTUM 4, LG_PAGE 12, SC_LG_NGROUP 2, SC_LG_TINY_MIN 3. */
#define JE_PAGE ((size_t)4096)
#define JE_SMALL_MAXCLASS ((size_t)14336)
#define JE_LARGE_MINCLASS ((size_t)16384)
#define JE_LARGE_MAXCLASS ((size_t)7 << 60)

/* The usable size jemalloc 5.3 gives a request of n bytes (0 = too big). */
static size_t
je_s2u(size_t n)
{
	if (n > JE_LARGE_MAXCLASS)
		return 0;
	if (n <= 8)
		return 8; /* the tiny class (also for n == 0) */
	if (n <= 64)
		return (n + 15) & ~(size_t)15; /* quantum-spaced: 16 32 48 64 */
	/* 2^lg < n <= 2^(lg+1): four classes spaced 2^(lg-2). */
	unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
	size_t delta = (size_t)1 << (lg - 2);
	return (n + delta - 1) & ~(delta - 1);
}

/* jemalloc 5.3's sz_sa2u(): the usable size of an aligned request. */
static size_t
je_sa2u(size_t n, size_t align)
{
	if (n <= JE_SMALL_MAXCLASS && align <= JE_PAGE) {
		size_t usize = je_s2u((n + align - 1) & ~(align - 1));
		if (usize < JE_LARGE_MINCLASS)
			return usize;
	}
	if (align > JE_LARGE_MAXCLASS)
		return 0;
	size_t usize;
	if (n <= JE_LARGE_MINCLASS) {
		usize = JE_LARGE_MINCLASS;
	} else {
		usize = je_s2u(n);
		if (usize < n) /* 0: too big */
			return 0;
	}
	size_t align_pages = (align + JE_PAGE - 1) & ~(JE_PAGE - 1);
	if (usize + align_pages - JE_PAGE < usize)
		return 0;
	return usize;
}

static size_t
je_nallocx(size_t n, size_t align)
{
	return align <= 1 ? je_s2u(n) : je_sa2u(n, align);
}

/* --------------------------------------------------------------- nallocx */

START_TEST(test_nallocx_every_size)
{
	size_t bad = 0, first_bad = 0, first_got = 0;
	for (size_t n = 1; n <= 70000; n++) {
		size_t got = nallocx(n, 0);
		if (got != je_s2u(n)) {
			if (bad++ == 0) {
				first_bad = n;
				first_got = got;
			}
		}
	}
	expect(bad == 0,
	       "%zu sizes differ from jemalloc 5.3's classes; first: nallocx(%zu, 0) = %zu, "
	       "expected %zu",
	       bad, first_bad, first_got, je_s2u(first_bad));
	/* Sparse walk up to 2^47, including every class boundary +-1. */
	for (unsigned lg = 16; lg < 47; lg++) {
		for (size_t k = 4; k <= 8; k++) {
			size_t c = ((size_t)1 << (lg - 2)) * k;
			for (size_t n = c - 1; n <= c + 1; n++)
				expect(nallocx(n, 0) == je_s2u(n),
				       "nallocx(%zu, 0) = %zu, expected %zu", n, nallocx(n, 0),
				       je_s2u(n));
		}
	}
}
END_TEST

START_TEST(test_nallocx_reference_values)
{
	/* Verified on Debian's jemalloc 5.3.0 (docs/compat.md, "Size classes"). */
	static const size_t pairs[][2] = {
	    {1, 8},
	    {9, 16},
	    {17, 32},
	    {25, 32},
	    {33, 48},
	    {100, 112},
	    {129, 160},
	    {161, 192},
	    {1000, 1024},
	    {4097, 5120},
	    {14336, 14336},
	    {14337, 16384},
	    {16385, 20480},
	    {1048577, 1310720},
	    {2097153, 2621440},
	    {2097152, 2097152},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		expect(nallocx(hide(pairs[i][0]), 0) == pairs[i][1],
		       "nallocx(%zu, 0) = %zu, expected %zu", pairs[i][0], nallocx(pairs[i][0], 0),
		       pairs[i][1]);
	ck_assert_uint_eq(nallocx(hide(1), MALLOCX_ALIGN(64)), 64);
	ck_assert_uint_eq(nallocx(hide(100), MALLOCX_LG_ALIGN(12)), 4096);
	ck_assert_uint_eq(nallocx(hide(5000), MALLOCX_ALIGN(4096)), 8192);
	/* Flags that do not change the size. */
	ck_assert_uint_eq(nallocx(hide(100), MALLOCX_ZERO), 112);
	ck_assert_uint_eq(nallocx(hide(100), MALLOCX_TCACHE_NONE), 112);
	ck_assert_uint_eq(nallocx(hide(100), MALLOCX_ARENA(0)), 112);
	ck_assert_uint_eq(nallocx(hide(100), MALLOCX_ALIGN(1)), 112);
	/* The largest class, and beyond it: 0. */
	ck_assert_uint_eq(nallocx(hide(JE_LARGE_MAXCLASS), 0), JE_LARGE_MAXCLASS);
	ck_assert_uint_eq(nallocx(hide(JE_LARGE_MAXCLASS + 1), 0), 0);
	ck_assert_uint_eq(nallocx(hide(SIZE_MAX), 0), 0);
	ck_assert_uint_eq(nallocx(hide(SIZE_MAX), MALLOCX_ALIGN(64)), 0);
}
END_TEST

START_TEST(test_nallocx_aligned_formula)
{
	/* Every alignment 1 B .. 2 MiB against a grid of sizes. */
	for (unsigned la = 0; la <= 21; la++) {
		size_t a = (size_t)1 << la;
		size_t bad = 0, first_n = 0, first_got = 0;
		for (size_t n = 1; n <= 70000; n += (n < 300 ? 1 : 37)) {
			size_t got = nallocx(n, MALLOCX_LG_ALIGN(la));
			if (got != je_nallocx(n, a) && bad++ == 0) {
				first_n = n;
				first_got = got;
			}
			/* Both encodings of the alignment agree. */
			if (nallocx(n, MALLOCX_ALIGN(a)) != got && bad++ == 0) {
				first_n = n;
				first_got = nallocx(n, MALLOCX_ALIGN(a));
			}
		}
		expect(bad == 0,
		       "alignment %zu: %zu sizes differ; first nallocx(%zu) = %zu, expected %zu", a,
		       bad, first_n, first_got, je_nallocx(first_n, a));
		static const size_t big[] = {1 * MiB, 1 * MiB + 1, 2 * MiB, 3 * MiB + 5, 64 * MiB};
		for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
			expect(nallocx(big[i], MALLOCX_LG_ALIGN(la)) == je_nallocx(big[i], a),
			       "nallocx(%zu, LG_ALIGN(%u)) = %zu, expected %zu", big[i], la,
			       nallocx(big[i], MALLOCX_LG_ALIGN(la)), je_nallocx(big[i], a));
	}
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_sizes");

	TCase *tc = tcase_create("nallocx");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_nallocx_every_size);
	tcase_add_test(tc, test_nallocx_reference_values);
	tcase_add_test(tc, test_nallocx_aligned_formula);
	suite_add_tcase(s, tc);

	return s;
}
