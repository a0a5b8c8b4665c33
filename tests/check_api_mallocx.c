/*
 * check_api_mallocx.c — jemalloc's extended allocation API through
 * libstrata.so: mallocx, rallocx, xallocx, sallocx, dallocx, sdallocx and
 * nallocx with the MALLOCX_* flags.
 *
 * Rules checked: MALLOCX_LG_ALIGN/ALIGN from 1 B to 2 MiB (pointer aligned,
 * sallocx equal to nallocx with the same flags), MALLOCX_ZERO (also on
 * rallocx/xallocx growth, where the old usable size is the boundary),
 * MALLOCX_ARENA(0), MALLOCX_TCACHE_NONE and explicit tcaches, xallocx never
 * moving and returning the usable size, sized deallocation.  nallocx()'s
 * values themselves (jemalloc 5.3's size classes) are in check_api_sizes.c.
 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- mallocx/sallocx */

START_TEST(test_mallocx_sallocx_plain)
{
	for (size_t n = 1; n <= 70000; n += (n < 1000 ? 1 : 97)) {
		void *p = launder(mallocx(hide(n), 0));
		expect(p != NULL, "mallocx(%zu, 0) returned NULL", n);
		size_t s = sallocx(p, 0);
		expect(s == nallocx(n, 0), "sallocx(mallocx(%zu)) = %zu, nallocx %zu", n, s,
		       nallocx(n, 0));
		expect(s == malloc_usable_size(p), "sallocx %zu != malloc_usable_size %zu", s,
		       malloc_usable_size(p));
		memset(p, 0xcd, s);
		dallocx(p, 0);
	}
}
END_TEST

START_TEST(test_mallocx_align)
{
	static const size_t sizes[] = {1, 8, 100, 4095, 4097, 14336, 20000, 70001, 1 * MiB + 3};
	for (unsigned la = 0; la <= 21; la++) {
		size_t a = (size_t)1 << la;
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i];
			for (int enc = 0; enc < 2; enc++) {
				int flags = enc ? MALLOCX_ALIGN(a) : MALLOCX_LG_ALIGN(la);
				void *p = launder(mallocx(hide(n), flags));
				expect(p != NULL, "mallocx(%zu, align %zu) returned NULL", n, a);
				expect(is_aligned(p, a), "mallocx(%zu, align %zu) = %p", n, a, p);
				size_t s = sallocx(p, 0);
				expect(s == nallocx(n, flags),
				       "mallocx(%zu, align %zu): sallocx %zu, nallocx %zu", n, a, s,
				       nallocx(n, flags));
				expect(sallocx(p, flags) == s, "sallocx with flags differs");
				memset(p, 0x5e, s);
				if (i % 2)
					sdallocx(p, n, flags);
				else
					dallocx(p, flags);
			}
		}
	}
	/* Many live aligned blocks at once stay aligned and disjoint. */
	enum { N = 200 };
	unsigned char *blk[N];
	for (int i = 0; i < N; i++) {
		size_t a = (size_t)1 << (i % 14);
		blk[i] = launder(mallocx(hide(1 + (size_t)i * 13), MALLOCX_ALIGN(a)));
		expect(blk[i] != NULL && is_aligned(blk[i], a), "block %d", i);
		memset(blk[i], i & 0xff, 1 + (size_t)i * 13);
	}
	for (int i = 0; i < N; i++) {
		expect(first_not(blk[i], 0, 1 + (size_t)i * 13, (unsigned char)(i & 0xff)) ==
			   SIZE_MAX,
		       "aligned block %d overwritten", i);
		dallocx(blk[i], 0);
	}
}
END_TEST

START_TEST(test_mallocx_zero)
{
	static const size_t sizes[] = {1,     8,     24,     100,     1000,	   4096,   5000,
				       14336, 16385, 100000, 1 * MiB, 2 * MiB + 1, 5 * MiB};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		for (int round = 0; round < 3; round++) {
			/* Dirty memory of this class so it is likely reused. */
			void *d = launder(mallocx(hide(n), 0));
			ck_assert_ptr_nonnull(d);
			memset(d, 0xee, sallocx(d, 0));
			dallocx(d, 0);
			int flags = MALLOCX_ZERO | (round == 2 ? MALLOCX_LG_ALIGN(6) : 0);
			unsigned char *p = launder(mallocx(hide(n), flags));
			ck_assert_ptr_nonnull(p);
			size_t s = sallocx(p, 0);
			size_t bad = first_not(p, 0, s, 0);
			expect(bad == SIZE_MAX,
			       "mallocx(%zu, ZERO) round %d: byte %zu of %zu is 0x%02x", n, round,
			       bad, s, p[bad]);
			memset(p, 0xee, s);
			dallocx(p, 0);
		}
	}
}
END_TEST

/* ---------------------------------------------------------------- rallocx */

static const size_t ralloc_pairs[][2] = {
    {1, 8},	     {1, 100},		{10, 4000},	    {100, 200},
    {4000, 14336},   {5000, 20000},	{14336, 16384},	    {16384, 40000},
    {20000, 300000}, {300000, 1 * MiB}, {1 * MiB, 4 * MiB}, {3 * MiB, 4 * MiB},
    {100, 4 * MiB},  {4 * MiB, 1},	{1 * MiB, 100},	    {20000, 16385},
    {300, 290},
};
#define NRALLOC (sizeof(ralloc_pairs) / sizeof(ralloc_pairs[0]))

START_TEST(test_rallocx_preserves)
{
	for (size_t i = 0; i < NRALLOC; i++) {
		size_t from = ralloc_pairs[i][0], to = ralloc_pairs[i][1];
		unsigned char *p = launder(mallocx(hide(from), 0));
		ck_assert_ptr_nonnull(p);
		size_t old = sallocx(p, 0);
		for (size_t k = 0; k < old; k++)
			p[k] = (unsigned char)(k * 7 + i);
		p = launder(rallocx(p, hide(to), 0));
		expect(p != NULL, "rallocx(%zu -> %zu) returned NULL", from, to);
		size_t s = sallocx(p, 0);
		expect(s == nallocx(to, 0), "rallocx(%zu -> %zu): sallocx %zu, nallocx %zu", from,
		       to, s, nallocx(to, 0));
		size_t keep = old < s ? old : s;
		for (size_t k = 0; k < keep; k++)
			expect(p[k] == (unsigned char)(k * 7 + i),
			       "rallocx(%zu -> %zu) lost byte %zu", from, to, k);
		dallocx(p, 0);
	}
}
END_TEST

START_TEST(test_rallocx_zero_growth)
{
	/* Bytes up to the old usable size are kept; everything past it is
	 * zero, even when the memory it lands on was dirty. */
	for (size_t i = 0; i < NRALLOC; i++) {
		size_t from = ralloc_pairs[i][0], to = ralloc_pairs[i][1];
		if (to <= from)
			continue;
		for (int round = 0; round < 2; round++) {
			/* A dirty block of the target class, and one just after
			 * the source block (in-place growth lands there). */
			void *d = launder(mallocx(hide(to), 0));
			ck_assert_ptr_nonnull(d);
			memset(d, 0xee, sallocx(d, 0));
			dallocx(d, 0);
			unsigned char *p = launder(mallocx(hide(from), 0));
			void *next = launder(mallocx(hide(to), 0));
			ck_assert_ptr_nonnull(p);
			ck_assert_ptr_nonnull(next);
			memset(next, 0xee, sallocx(next, 0));
			dallocx(next, 0);
			size_t old = sallocx(p, 0);
			memset(p, 0xab, old);
			p = launder(
			    rallocx(p, hide(to), MALLOCX_ZERO | (round ? MALLOCX_TCACHE_NONE : 0)));
			expect(p != NULL, "rallocx(%zu -> %zu, ZERO) returned NULL", from, to);
			size_t s = sallocx(p, 0);
			ck_assert_uint_eq(s, nallocx(to, 0));
			size_t bad = first_not(p, 0, old, 0xab);
			expect(bad == SIZE_MAX, "rallocx(%zu -> %zu, ZERO): old byte %zu lost",
			       from, to, bad);
			bad = first_not(p, old, s, 0);
			expect(bad == SIZE_MAX,
			       "rallocx(%zu -> %zu, ZERO): byte %zu (old usize %zu, new %zu) is "
			       "0x%02x",
			       from, to, bad, old, s, p[bad]);
			dallocx(p, 0);
		}
	}
}
END_TEST

START_TEST(test_rallocx_align)
{
	for (unsigned la = 0; la <= 21; la += 3) {
		size_t a = (size_t)1 << la;
		unsigned char *p = launder(mallocx(hide(50), MALLOCX_LG_ALIGN(la)));
		ck_assert_ptr_nonnull(p);
		memset(p, 0x31, 50);
		static const size_t steps[] = {5000, 70000, 3 * MiB, 200, 17};
		size_t cur = 50;
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			p = launder(rallocx(p, hide(steps[i]), MALLOCX_LG_ALIGN(la)));
			expect(p != NULL && is_aligned(p, a), "rallocx(.., %zu, align %zu) = %p",
			       steps[i], a, (void *)p);
			size_t keep = cur < steps[i] ? cur : steps[i];
			expect(first_not(p, 0, keep, 0x31) == SIZE_MAX,
			       "rallocx align %zu lost data", a);
			expect(sallocx(p, 0) == nallocx(steps[i], MALLOCX_LG_ALIGN(la)),
			       "rallocx(.., %zu, align %zu): sallocx %zu, nallocx %zu", steps[i], a,
			       sallocx(p, 0), nallocx(steps[i], MALLOCX_LG_ALIGN(la)));
			memset(p, 0x31, steps[i]);
			cur = steps[i];
		}
		dallocx(p, MALLOCX_LG_ALIGN(la));
	}
}
END_TEST

START_TEST(test_rallocx_impossible)
{
	/* A size that cannot be mapped: NULL, the block stays valid. */
	unsigned char *p = launder(mallocx(hide(1000), 0));
	ck_assert_ptr_nonnull(p);
	memset(p, 0x71, 1000);
	void *q = launder(rallocx(launder(p), hide((size_t)1 << 48), 0));
	ck_assert_ptr_null(q);
	ck_assert(first_not(p, 0, 1000, 0x71) == SIZE_MAX);
	ck_assert_uint_eq(sallocx(p, 0), 1024);
	errno = 0;
	q = launder(mallocx(hide((size_t)1 << 48), 0));
	ck_assert_ptr_null(q);
	dallocx(p, 0);
}
END_TEST

/* ---------------------------------------------------------------- xallocx */

/* After xallocx(p, size, extra): p did not move (we check its contents
 * and that sallocx still works on it), the result is sallocx(p), and it is
 * either the old usable size (could not resize) or fits the request. */
static void
check_xallocx(size_t from, size_t size, size_t extra, int zero)
{
	unsigned char *p = launder(mallocx(hide(from), 0));
	ck_assert_ptr_nonnull(p);
	/* Dirty the neighbourhood so that in-place growth finds junk. */
	void *n = launder(mallocx(hide(size + extra), 0));
	ck_assert_ptr_nonnull(n);
	memset(n, 0xee, sallocx(n, 0));
	dallocx(n, 0);
	size_t old = sallocx(p, 0);
	memset(p, 0x6b, old);
	size_t r = xallocx(p, hide(size), hide(extra), zero ? MALLOCX_ZERO : 0);
	size_t s = sallocx(p, 0);
	expect(r == s, "xallocx(%zu-byte block, %zu, %zu) = %zu but sallocx = %zu", from, size,
	       extra, r, s);
	size_t want_min = nallocx(size, 0), want_max = nallocx(size + extra, 0);
	expect(r == old || (r >= want_min && r <= want_max),
	       "xallocx(%zu-byte block [usize %zu], %zu, %zu) = %zu, expected %zu or in [%zu, %zu]",
	       from, old, size, extra, r, old, want_min, want_max);
	size_t keep = old < r ? old : r;
	size_t bad = first_not(p, 0, keep, 0x6b);
	expect(bad == SIZE_MAX, "xallocx(%zu -> %zu) lost byte %zu", from, size, bad);
	if (zero && r > old) {
		bad = first_not(p, old, r, 0);
		expect(bad == SIZE_MAX,
		       "xallocx(%zu -> %zu, ZERO) grew to %zu but byte %zu is 0x%02x", from, size,
		       r, bad, p[bad]);
	}
	memset(p, 0x6b, r);
	dallocx(p, 0);
}

START_TEST(test_xallocx)
{
	static const size_t cases[][3] = {
	    /* from, size, extra */
	    {100, 100, 0},
	    {100, 112, 0},
	    {100, 50, 0},
	    {100, 200, 0},
	    {100, 100, 12},
	    {5000, 6000, 0},
	    {20000, 20000, 0},
	    {20000, 16385, 0},
	    {20000, 40000, 0},
	    {40000, 20000, 0},
	    {1 * MiB, 512 * KiB, 0},
	    {1 * MiB, 2 * MiB, 0},
	    {1 * MiB, 1 * MiB, 1 * MiB},
	    {3 * MiB, 4 * MiB, 0},
	    {4 * MiB, 100, 0},
	    {16384, 16384, 100000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_xallocx(cases[i][0], cases[i][1], cases[i][2], 0);
		check_xallocx(cases[i][0], cases[i][1], cases[i][2], 1);
	}
	/* Same size: always succeeds and returns the usable size. */
	void *p = launder(mallocx(hide(100), 0));
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(xallocx(p, 100, 0, 0), 112);
	ck_assert_uint_eq(xallocx(p, 112, 0, 0), 112);
	dallocx(p, 0);
	p = launder(mallocx(hide(300000), 0));
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(xallocx(p, 300000, 0, 0), nallocx(300000, 0));
	dallocx(p, 0);
}
END_TEST

START_TEST(test_xallocx_extra_overflow)
{
	/* size + extra beyond SIZE_MAX or the largest class: clamped, never
	 * wrapped; the result is still the block's real usable size.
	 * (jemalloc 5.3 can return the old size here after growing.) */
	static const size_t from[] = {100, 5000, 100000, 3 * MiB};
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		unsigned char *p = launder(mallocx(hide(from[i]), 0));
		ck_assert_ptr_nonnull(p);
		size_t old = sallocx(p, 0);
		memset(p, 0x2f, old);
		static const size_t sz[][2] = {
		    {0, SIZE_MAX},
		    {1, SIZE_MAX - 1},
		    {2, SIZE_MAX / 2},
		    {SIZE_MAX, 0},
		    {(size_t)1 << 48, (size_t)1 << 48},
		};
		for (size_t k = 0; k < sizeof(sz) / sizeof(sz[0]); k++) {
			size_t size = sz[k][0] == 0   ? from[i]
				      : sz[k][0] == 1 ? from[i] * 2
						      : sz[k][0];
			size_t extra = sz[k][0] == 2 ? SIZE_MAX - size : sz[k][1];
			size_t r = xallocx(p, hide(size), hide(extra), 0);
			expect(r == sallocx(p, 0),
			       "xallocx(%zu-byte block, %zu, %zu) = %zu but sallocx = %zu", from[i],
			       size, extra, r, sallocx(p, 0));
			expect(r >= (old < from[i] ? old : from[i]),
			       "xallocx shrank below the request");
			expect(first_not(p, 0, old < r ? old : r, 0x2f) == SIZE_MAX,
			       "xallocx(%zu-byte block, %zu, %zu) lost data", from[i], size, extra);
			memset(p, 0x2f, r);
			old = r;
		}
		dallocx(p, 0);
	}
}
END_TEST

/* ------------------------------------------------- dallocx/sdallocx/flags */

START_TEST(test_sdallocx_sizes)
{
	/* Any size between the request and the usable size is a valid hint. */
	for (size_t n = 1; n <= 5 * MiB; n += n / 3 + 1) {
		void *p = launder(mallocx(hide(n), 0));
		ck_assert_ptr_nonnull(p);
		memset(p, 1, n);
		sdallocx(p, n, 0);
		p = launder(mallocx(hide(n), 0));
		ck_assert_ptr_nonnull(p);
		sdallocx(p, nallocx(n, 0), 0);
		p = launder(malloc(hide(n)));
		ck_assert_ptr_nonnull(p);
		sdallocx(p, n, MALLOCX_TCACHE_NONE);
	}
	/* Blocks from the standard API may be freed with sdallocx and vice versa. */
	void *p = launder(calloc(hide(3), hide(33)));
	ck_assert_ptr_nonnull(p);
	sdallocx(p, 99, 0);
	p = launder(mallocx(hide(77), MALLOCX_ZERO));
	ck_assert_ptr_nonnull(p);
	free(p);
}
END_TEST

START_TEST(test_tcache_none)
{
	/* MALLOCX_TCACHE_NONE for allocation, reallocation and free, mixed
	 * with the cached path on the same blocks. */
	enum { N = 500 };
	unsigned char *blk[N];
	for (int i = 0; i < N; i++) {
		size_t n = 1 + (size_t)(i * 211) % (i % 7 ? 3000 : 100000);
		blk[i] = launder(mallocx(hide(n), i % 2 ? MALLOCX_TCACHE_NONE : 0));
		ck_assert_ptr_nonnull(blk[i]);
		ck_assert_uint_eq(sallocx(blk[i], 0), nallocx(n, 0));
		memset(blk[i], i & 0xff, n);
	}
	for (int i = 0; i < N; i++) {
		size_t n = 1 + (size_t)(i * 211) % (i % 7 ? 3000 : 100000);
		expect(first_not(blk[i], 0, n, (unsigned char)(i & 0xff)) == SIZE_MAX, "block %d",
		       i);
		blk[i] = launder(rallocx(blk[i], hide(n * 2), MALLOCX_TCACHE_NONE));
		ck_assert_ptr_nonnull(blk[i]);
		expect(first_not(blk[i], 0, n, (unsigned char)(i & 0xff)) == SIZE_MAX, "block %d",
		       i);
	}
	for (int i = 0; i < N; i++)
		dallocx(blk[i], i % 3 ? MALLOCX_TCACHE_NONE : 0);
}
END_TEST

START_TEST(test_arena0_flags)
{
	const int fl = MALLOCX_ARENA(0);
	unsigned char *p = launder(mallocx(hide(1000), fl));
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(sallocx(p, fl), 1024);
	/* Where the library can say which arena owns a pointer, it is 0. */
	unsigned idx = 12345;
	size_t sz = sizeof(idx);
	void *q = p;
	if (mallctl("arenas.lookup", &idx, &sz, &q, sizeof(q)) == 0)
		ck_assert_uint_eq(idx, 0);
	memset(p, 0x19, 1000);
	p = launder(rallocx(p, hide(100000), fl | MALLOCX_ZERO));
	ck_assert_ptr_nonnull(p);
	ck_assert(first_not(p, 0, 1000, 0x19) == SIZE_MAX);
	ck_assert(first_not(p, 1024, 100000, 0) == SIZE_MAX);
	ck_assert_uint_ge(xallocx(p, 100000, 0, fl), 100000);
	dallocx(p, fl);

	/* Everything at once: arena 0, no tcache, zeroed, 4 KiB aligned. */
	const int all = MALLOCX_ARENA(0) | MALLOCX_TCACHE_NONE | MALLOCX_ZERO | MALLOCX_ALIGN(4096);
	for (size_t n = 1; n < 3 * MiB; n = n * 5 + 3) {
		p = launder(mallocx(hide(n), all));
		expect(p != NULL && is_aligned(p, 4096), "mallocx(%zu, all flags) = %p", n,
		       (void *)p);
		expect(sallocx(p, all) == nallocx(n, all),
		       "mallocx(%zu, all flags): sallocx %zu nallocx %zu", n, sallocx(p, all),
		       nallocx(n, all));
		expect(first_not(p, 0, sallocx(p, 0), 0) == SIZE_MAX,
		       "mallocx(%zu, all flags) not zeroed", n);
		memset(p, 0xee, n);
		sdallocx(p, n, all);
	}
}
END_TEST

START_TEST(test_explicit_tcache)
{
	/* MALLOCX_TCACHE(id) with a cache from "tcache.create".  Where the
	 * library has no explicit caches yet (the mallctl fails), the flag
	 * cannot be used, and only MALLOCX_TCACHE_NONE is checked. */
	unsigned id;
	size_t sz = sizeof(id);
	int r = mallctl("tcache.create", &id, &sz, NULL, 0);
	if (r != 0) {
		void *p = launder(mallocx(hide(64), MALLOCX_TCACHE_NONE));
		ck_assert_ptr_nonnull(p);
		dallocx(p, MALLOCX_TCACHE_NONE);
		return;
	}
	const int fl = MALLOCX_TCACHE(id);
	enum { N = 300 };
	void *blk[N];
	for (int i = 0; i < N; i++) {
		blk[i] = launder(mallocx(hide(1 + (size_t)i * 17), fl));
		ck_assert_ptr_nonnull(blk[i]);
		memset(blk[i], 3, 1 + (size_t)i * 17);
	}
	for (int i = 0; i < N; i++)
		dallocx(blk[i], i % 2 ? fl : 0);
	ck_assert_int_eq(mallctl("tcache.flush", NULL, NULL, &id, sizeof(id)), 0);
	ck_assert_int_eq(mallctl("tcache.destroy", NULL, NULL, &id, sizeof(id)), 0);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_mallocx");

	TCase *tc = tcase_create("mallocx");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_mallocx_sallocx_plain);
	tcase_add_test(tc, test_mallocx_align);
	tcase_add_test(tc, test_mallocx_zero);
	suite_add_tcase(s, tc);

	tc = tcase_create("rallocx");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_rallocx_preserves);
	tcase_add_test(tc, test_rallocx_zero_growth);
	tcase_add_test(tc, test_rallocx_align);
	tcase_add_test(tc, test_rallocx_impossible);
	suite_add_tcase(s, tc);

	tc = tcase_create("xallocx");
	tcase_add_test(tc, test_xallocx);
	tcase_add_test(tc, test_xallocx_extra_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("flags");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sdallocx_sizes);
	tcase_add_test(tc, test_tcache_none);
	tcase_add_test(tc, test_arena0_flags);
	tcase_add_test(tc, test_explicit_tcache);
	suite_add_tcase(s, tc);

	return s;
}
