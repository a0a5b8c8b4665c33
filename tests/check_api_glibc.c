/*
 * check_api_glibc.c — glibc's malloc extras as libstrata.so provides them:
 * malloc_trim (returns freed dirty pages to the kernel: the dirty estimate
 * from stats.* drops to near 0, stats.retained and RSS move by what was
 * freed; returns 1, then 0 with nothing left; keeps live blocks, heap usable
 * afterwards),
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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* --------------------------------------------------- glibc malloc extras */

/* Resident pages of this process (/proc/self/statm, second field), in bytes. */
static size_t
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	ck_assert_ptr_nonnull(f);
	unsigned long size = 0, resident = 0;
	int n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	ck_assert_int_eq(n, 2);
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void
epoch_advance(void)
{
	uint64_t one = 1;
	ck_assert_int_eq(mallctl("epoch", NULL, NULL, &one, sizeof(one)), 0);
}

/* Freed pages not returned to the kernel: resident minus what holds live
 * allocations and metadata (there is no per-arena pdirty node; this is it
 * up to the metadata pages' rounding). */
static size_t
dirty_bytes(void)
{
	epoch_advance();
	size_t resident = read_size("stats.resident");
	size_t used = read_size("stats.active") + read_size("stats.metadata");
	return resident > used ? resident - used : 0;
}

START_TEST(test_malloc_trim)
{
	/* Free 16 MiB: with the default dirty_decay_ms (10 s) the pages stay
	 * dirty, resident and counted.  malloc_trim returns them to the kernel
	 * now, says so (1), and the heap still serves old and new blocks. */
	enum { N = 64 };
	const size_t freed = N * 256 * KiB;
	ssize_t decay_ms = 0;
	size_t len = sizeof(decay_ms);
	ck_assert_int_eq(mallctl("opt.dirty_decay_ms", &decay_ms, &len, NULL, 0), 0);
	ck_assert_int_ge(decay_ms, 1000); /* the default 10 s, not MALLOC_CONF'ed away */
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
	size_t dirty_before = dirty_bytes();
	size_t retained_before = read_size("stats.retained");
	size_t rss_before = rss_bytes();
	expect(dirty_before >= freed, "only %zu dirty bytes after freeing %zu", dirty_before, freed);

	errno = 999;
	int r = malloc_trim(0);
	ck_assert_int_eq(r, 1);
	ck_assert_int_eq(errno, 999);

	size_t dirty_after = dirty_bytes();
	size_t retained_after = read_size("stats.retained");
	size_t rss_after = rss_bytes();
	expect(dirty_after < 1 * MiB, "%zu bytes still dirty after malloc_trim (were %zu)",
	       dirty_after, dirty_before);
	expect(retained_after >= retained_before + freed,
	       "stats.retained grew by %zu, not by the %zu bytes freed",
	       retained_after - retained_before, freed);
	expect(rss_before > rss_after && rss_before - rss_after >= freed / 4 * 3,
	       "RSS went from %zu to %zu after trimming %zu freed bytes", rss_before, rss_after,
	       freed);
	ck_assert(first_mismatch(keep, 1000, 5) == SIZE_MAX);
	/* Nothing left to return: 0 (glibc: "no memory could be released"). */
	r = malloc_trim(hide(1 * MiB));
	ck_assert_int_eq(r, 0);
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
