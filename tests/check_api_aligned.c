/*
 * check_api_aligned.c — the aligned allocation functions through
 * libstrata.so: posix_memalign, aligned_alloc, memalign, valloc, pvalloc.
 *
 * Rules checked: every power-of-two alignment up to 2 MiB (aligned_alloc
 * also below sizeof(void *)), sizes that are not multiples of the
 * alignment, usable size equal to nallocx() with MALLOCX_ALIGN,
 * posix_memalign's EINVAL for a non-power-of-two or too small alignment
 * and ENOMEM for impossible sizes (returned, errno and *memptr untouched),
 * aligned_alloc's EINVAL/ENOMEM in errno, valloc/pvalloc page alignment
 * and pvalloc's rounding of the size up to whole pages.
 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t
page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Requests that can never be served (beyond the 47-bit address space, or
 * beyond the largest size class, or overflowing when rounded). */
static const size_t impossible_sizes[] = {
    SIZE_MAX,	     SIZE_MAX - 1,    SIZE_MAX - 4096, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX,
    (size_t)7 << 60, (size_t)1 << 62, (size_t)1 << 48,
};
#define NIMPOSSIBLE (sizeof(impossible_sizes) / sizeof(impossible_sizes[0]))

/* ---------------------------------------------------------- aligned family */

static const size_t MAX_TEST_ALIGN = 2 * MiB;

/* Sizes to try with alignment a: below, at and above it, not multiples. */
static size_t
aligned_size(size_t a, int k)
{
	switch (k) {
	case 0:
		return 1;
	case 1:
		return 100;
	case 2:
		return a > 1 ? a - 1 : 3;
	case 3:
		return a;
	case 4:
		return a + 1;
	case 5:
		return 3 * a + 5;
	default:
		return 70001;
	}
}
#define NALIGNED_SIZES 7

START_TEST(test_posix_memalign_valid)
{
	for (size_t a = sizeof(void *); a <= MAX_TEST_ALIGN; a *= 2) {
		for (int k = 0; k < NALIGNED_SIZES; k++) {
			size_t n = aligned_size(a, k);
			void *p = NULL;
			errno = 4321;
			int r = posix_memalign(&p, hide(a), hide(n));
			expect(r == 0, "posix_memalign(a=%zu, n=%zu) = %d", a, n, r);
			ck_assert_int_eq(errno, 4321);
			ck_assert_ptr_nonnull(p);
			expect(is_aligned(p, a), "posix_memalign(a=%zu, n=%zu) = %p", a, n, p);
			expect(malloc_usable_size(p) == nallocx(n, MALLOCX_ALIGN(a)),
			       "posix_memalign(a=%zu, n=%zu): usable %zu, nallocx %zu", a, n,
			       malloc_usable_size(p), nallocx(n, MALLOCX_ALIGN(a)));
			memset(p, 0x3c, n);
			free(p);
		}
	}
	/* Size 0 gives a freeable block. */
	void *p = NULL;
	ck_assert_int_eq(posix_memalign(&p, 64, hide(0)), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert(is_aligned(p, 64));
	free(p);
}
END_TEST

START_TEST(test_posix_memalign_einval)
{
	static const size_t bad[] = {
	    0,
	    1,
	    2,
	    4,
	    3,
	    5,
	    12,
	    24,
	    48,
	    96,
	    sizeof(void *) + 1,
	    4097,
	    SIZE_MAX,
	    SIZE_MAX / 2,
	    ((size_t)1 << 40) + 8,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *sentinel = (void *)(uintptr_t)0x5151;
		void *p = sentinel;
		errno = 4321;
		int r = posix_memalign(&p, hide(bad[i]), hide(64));
		expect(r == EINVAL, "posix_memalign(alignment %zu) = %d, expected EINVAL", bad[i],
		       r);
		expect(errno == 4321, "posix_memalign(alignment %zu) changed errno to %d", bad[i],
		       errno);
		expect(p == sentinel, "posix_memalign(alignment %zu) wrote *memptr = %p on error",
		       bad[i], p);
	}
}
END_TEST

START_TEST(test_posix_memalign_enomem)
{
	for (size_t i = 0; i < NIMPOSSIBLE; i++) {
		void *sentinel = (void *)(uintptr_t)0x5151;
		void *p = sentinel;
		errno = 4321;
		int r = posix_memalign(&p, hide(64), hide(impossible_sizes[i]));
		expect(r == ENOMEM, "posix_memalign(64, %zu) = %d, expected ENOMEM",
		       impossible_sizes[i], r);
		expect(errno == 4321, "posix_memalign(64, %zu) changed errno to %d",
		       impossible_sizes[i], errno);
		ck_assert(p == sentinel);
	}
	/* Alignment that makes the size overflow. */
	void *p = (void *)(uintptr_t)0x5151;
	int r = posix_memalign(&p, hide((size_t)1 << 62), hide((size_t)1 << 62));
	ck_assert_int_eq(r, ENOMEM);
}
END_TEST

START_TEST(test_aligned_alloc)
{
	/* Any power of two, even below sizeof(void *); sizes need not be
	 * multiples of the alignment. */
	for (size_t a = 1; a <= MAX_TEST_ALIGN; a *= 2) {
		for (int k = 0; k < NALIGNED_SIZES; k++) {
			size_t n = aligned_size(a, k);
			errno = 0;
			void *p = launder(aligned_alloc(hide(a), hide(n)));
			expect(p != NULL, "aligned_alloc(%zu, %zu) returned NULL (errno %d)", a, n,
			       errno);
			expect(is_aligned(p, a), "aligned_alloc(%zu, %zu) = %p", a, n, p);
			expect(malloc_usable_size(p) == nallocx(n, MALLOCX_ALIGN(a)),
			       "aligned_alloc(%zu, %zu): usable %zu, nallocx %zu", a, n,
			       malloc_usable_size(p), nallocx(n, MALLOCX_ALIGN(a)));
			memset(p, 0x77, n);
			free(p);
		}
	}
}
END_TEST

START_TEST(test_aligned_alloc_errors)
{
	static const size_t bad[] = {0, 3, 6, 24, 100, 4097, SIZE_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		void *p = launder(aligned_alloc(hide(bad[i]), hide(64)));
		int e = errno;
		expect(p == NULL, "aligned_alloc(%zu, 64) = %p, expected NULL", bad[i], p);
		expect(e == EINVAL, "aligned_alloc(%zu, 64): errno %d, expected EINVAL", bad[i], e);
	}
	for (size_t i = 0; i < NIMPOSSIBLE; i++) {
		errno = 0;
		void *p = launder(aligned_alloc(hide(4096), hide(impossible_sizes[i])));
		int e = errno;
		ck_assert(p == NULL);
		expect(e == ENOMEM, "aligned_alloc(4096, %zu): errno %d, expected ENOMEM",
		       impossible_sizes[i], e);
	}
}
END_TEST

START_TEST(test_memalign)
{
	for (size_t a = sizeof(void *); a <= MAX_TEST_ALIGN; a *= 2) {
		for (int k = 0; k < NALIGNED_SIZES; k++) {
			size_t n = aligned_size(a, k);
			void *p = launder(memalign(hide(a), hide(n)));
			expect(p != NULL, "memalign(%zu, %zu) returned NULL", a, n);
			expect(is_aligned(p, a), "memalign(%zu, %zu) = %p", a, n, p);
			ck_assert_uint_ge(malloc_usable_size(p), n);
			memset(p, 0x42, n);
			free(p);
		}
	}
	errno = 0;
	void *p = launder(memalign(hide(64), hide(SIZE_MAX)));
	ck_assert(p == NULL);
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(test_valloc)
{
	size_t pg = page_size();
	static const size_t sizes[] = {1, 100, 4095, 4096, 4097, 5000, 20000, 1 * MiB, 3 * MiB + 1};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = launder(valloc(hide(sizes[i])));
		expect(p != NULL, "valloc(%zu) returned NULL", sizes[i]);
		expect(is_aligned(p, pg), "valloc(%zu) = %p, not page aligned", sizes[i], p);
		ck_assert_uint_ge(malloc_usable_size(p), sizes[i]);
		memset(p, 0x24, sizes[i]);
		free(p);
	}
	errno = 0;
	ck_assert(launder(valloc(hide(SIZE_MAX))) == NULL);
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(test_pvalloc)
{
	size_t pg = page_size();
	static const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 8191, 20000, 1 * MiB + 1};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		size_t rounded = (n + pg - 1) / pg * pg; /* 0 stays 0 */
		unsigned char *p = launder(pvalloc(hide(n)));
		expect(p != NULL, "pvalloc(%zu) returned NULL", n);
		expect(is_aligned(p, pg), "pvalloc(%zu) = %p, not page aligned", n, (void *)p);
		expect(malloc_usable_size(p) >= rounded,
		       "pvalloc(%zu): usable %zu < %zu (size rounded up to pages)", n,
		       malloc_usable_size(p), rounded);
		/* The whole rounded size is ours. */
		memset(p, 0x24, rounded);
		free(p);
	}
	/* Rounding SIZE_MAX up to a page overflows. */
	errno = 0;
	ck_assert(launder(pvalloc(hide(SIZE_MAX - 10))) == NULL);
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_aligned");

	TCase *tc = tcase_create("aligned");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_posix_memalign_valid);
	tcase_add_test(tc, test_posix_memalign_einval);
	tcase_add_test(tc, test_posix_memalign_enomem);
	tcase_add_test(tc, test_aligned_alloc);
	tcase_add_test(tc, test_aligned_alloc_errors);
	tcase_add_test(tc, test_memalign);
	tcase_add_test(tc, test_valloc);
	tcase_add_test(tc, test_pvalloc);
	suite_add_tcase(s, tc);

	return s;
}
