/*
 * check_api_glibc.c — glibc's malloc extras as libstrata.so provides them:
 * malloc_trim (returns 0 or 1, keeps live blocks, heap usable afterwards),
 * mallopt (accepts or declines every parameter, never fatal) and mallinfo2
 * (uordblks follows the application's live bytes, arena covers them).
 */
#include <malloc.h> /* before strata.h: M_* constants and glibc's mallinfo2 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------- glibc malloc extras */

START_TEST(test_malloc_trim)
{
	/* Free a lot, trim, and the heap still serves old and new blocks. */
	enum { N = 64 };
	void *blk[N];
	for (int i = 0; i < N; i++) {
		blk[i] = launder(malloc(hide(256 * KiB)));
		ck_assert_ptr_nonnull(blk[i]);
		memset(blk[i], 0x66, 256 * KiB);
	}
	void *keep = launder(malloc(hide(1000)));
	ck_assert_ptr_nonnull(keep);
	fill(keep, 1000, 5);
	for (int i = 0; i < N; i++)
		free(blk[i]);
	errno = 999;
	int r = malloc_trim(0);
	expect(r == 0 || r == 1, "malloc_trim returned %d", r);
	ck_assert_int_eq(errno, 999);
	ck_assert(first_mismatch(keep, 1000, 5) == SIZE_MAX);
	r = malloc_trim(hide(1 * MiB));
	ck_assert(r == 0 || r == 1);
	for (int i = 0; i < N; i++) {
		blk[i] = launder(malloc(hide(256 * KiB)));
		ck_assert_ptr_nonnull(blk[i]);
		memset(blk[i], 0x67, 256 * KiB);
	}
	for (int i = 0; i < N; i++)
		free(blk[i]);
	free(keep);
}
END_TEST

START_TEST(test_mallopt)
{
	/* glibc's tuning knobs are accepted (1) or declined (0), never fatal;
	 * allocation keeps working either way. */
	static const int params[][2] = {
	    {M_MMAP_THRESHOLD, 128 * 1024},
	    {M_TRIM_THRESHOLD, 1 << 20},
	    {M_ARENA_MAX, 2},
	    {M_TOP_PAD, 0},
	    {M_MXFAST, 64},
	    {-12345, 1},
	};
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		int r = mallopt(params[i][0], params[i][1]);
		expect(r == 0 || r == 1, "mallopt(%d, %d) = %d", params[i][0], params[i][1], r);
		void *p = launder(malloc(hide(300000)));
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(malloc_usable_size(p), nallocx(300000, 0));
		free(p);
	}
}
END_TEST

START_TEST(test_mallinfo2)
{
	/* uordblks counts the application's bytes: 32 MiB more while they are
	 * live, back down after free; arena covers what is allocated. */
	const size_t big = 32 * MiB;
	struct mallinfo2 before = mallinfo2();
	void *p = launder(malloc(hide(big)));
	ck_assert_ptr_nonnull(p);
	memset(p, 1, big);
	struct mallinfo2 during = mallinfo2();
	expect(during.uordblks >= before.uordblks + big,
	       "mallinfo2().uordblks %zu -> %zu after malloc(%zu)", before.uordblks,
	       during.uordblks, big);
	expect(during.arena >= during.uordblks, "mallinfo2: arena %zu < uordblks %zu", during.arena,
	       during.uordblks);
	free(p);
	struct mallinfo2 after = mallinfo2();
	expect(after.uordblks + big <= during.uordblks,
	       "mallinfo2().uordblks %zu -> %zu after free(%zu bytes)", during.uordblks,
	       after.uordblks, big);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_glibc");

	TCase *tc = tcase_create("glibc_extras");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_malloc_trim);
	tcase_add_test(tc, test_mallopt);
	tcase_add_test(tc, test_mallinfo2);
	suite_add_tcase(s, tc);

	return s;
}
