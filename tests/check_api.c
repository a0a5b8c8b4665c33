/*
 * check_api.c — the standard allocation functions as a program sees them
 * through libstrata.so: malloc, free, calloc, realloc, reallocarray and
 * malloc_usable_size.
 *
 * Rules checked: sizes and alignment of the returned memory, usable size
 * equal to nallocx(), contents kept by realloc across small/large/huge
 * classes (1 B .. 8 MiB), calloc zeroing (also of recycled and purged
 * memory), errno ENOMEM and a NULL result for sizes that cannot be served
 * or whose count * size overflows, malloc(0) unique and freeable,
 * realloc(NULL, n) = malloc(n), realloc(p, 0) frees and returns NULL
 * (jemalloc's zero_realloc:free default), free(NULL) and free() keeping
 * errno.
 *
 * The other check_api_* suites: aligned (posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc), glibc (malloc_trim, mallopt, mallinfo2),
 * mallocx (the jemalloc extensions and size classes), abort (invalid and
 * double frees), process (constructors, fork, thread exit).
 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sizes crossing tiny, quantum-spaced, small, large and huge classes. */
static const size_t boundary_sizes[] = {
    1,		 2,	  7,	       8,	    9,	     15,	  16,	       17,
    31,		 32,	  33,	       48,	    63,	     64,	  65,	       80,
    96,		 112,	  127,	       128,	    129,     160,	  255,	       256,
    257,	 1000,	  1024,	       1025,	    2048,    4095,	  4096,	       4097,
    5120,	 8191,	  8192,	       8193,	    14335,   14336,	  14337,       16383,
    16384,	 16385,	  20480,       32768,	    32769,   65536,	  100000,      262144,
    1 * MiB - 1, 1 * MiB, 1 * MiB + 1, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 3 * MiB + 7, 4 * MiB,
    8 * MiB + 1,
};
#define NBOUNDARY (sizeof(boundary_sizes) / sizeof(boundary_sizes[0]))

/* Requests that can never be served (beyond the 47-bit address space, or
 * beyond the largest size class, or overflowing when rounded). */
static const size_t impossible_sizes[] = {
    SIZE_MAX,	     SIZE_MAX - 1,    SIZE_MAX - 4096, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX,
    (size_t)7 << 60, (size_t)1 << 62, (size_t)1 << 48,
};
#define NIMPOSSIBLE (sizeof(impossible_sizes) / sizeof(impossible_sizes[0]))

/* ------------------------------------------------------------------ malloc */

START_TEST(test_malloc_boundary_sizes)
{
	for (size_t i = 0; i < NBOUNDARY; i++) {
		size_t n = boundary_sizes[i];
		unsigned char *p = launder(malloc(hide(n)));
		expect(p != NULL, "malloc(%zu) returned NULL", n);
		expect(is_aligned(p, n <= 8 ? 8 : 16),
		       "malloc(%zu) = %p is not aligned for any object of that size", n, (void *)p);
		size_t us = malloc_usable_size(p);
		expect(us >= n, "malloc_usable_size(malloc(%zu)) = %zu", n, us);
		/* Every usable byte is ours to write. */
		fill(p, us, (unsigned)i);
		ck_assert_uint_eq(first_mismatch(p, us, (unsigned)i), SIZE_MAX);
		free(p);
	}
}
END_TEST

static void
expect_usable_is_nallocx(size_t n)
{
	void *p = launder(malloc(hide(n)));
	expect(p != NULL, "malloc(%zu) returned NULL", n);
	size_t us = malloc_usable_size(p), na = nallocx(n, 0);
	expect(us >= n && us == na, "malloc(%zu): malloc_usable_size %zu, nallocx %zu", n, us, na);
	free(p);
}

START_TEST(test_malloc_usable_size_equals_nallocx)
{
	/* Every size up to 20000 (all small classes and the first large ones),
	 * then a sparser walk up to 8 MiB. */
	for (size_t n = 1; n <= 20000; n++)
		expect_usable_is_nallocx(n);
	for (size_t n = 20001; n <= 8 * MiB; n += n / 7 + 1)
		expect_usable_is_nallocx(n);
}
END_TEST

START_TEST(test_malloc_usable_size_null)
{
	ck_assert_uint_eq(malloc_usable_size(NULL), 0);
}
END_TEST

START_TEST(test_malloc_distinct_live_blocks)
{
	/* 2000 live blocks of mixed sizes never overlap: each keeps its own
	 * pattern while all the others are written. */
	enum { N = 2000 };
	static unsigned char *blk[N];
	static size_t len[N];
	for (int i = 0; i < N; i++) {
		len[i] = 1 + ((size_t)i * 7919u) % (i % 10 == 0 ? 70000u : 600u);
		blk[i] = launder(malloc(hide(len[i])));
		ck_assert_ptr_nonnull(blk[i]);
		fill(blk[i], len[i], (unsigned)i);
	}
	for (int i = 0; i < N; i++)
		expect(first_mismatch(blk[i], len[i], (unsigned)i) == SIZE_MAX,
		       "block %d (%zu bytes) was overwritten", i, len[i]);
	for (int i = 0; i < N; i += 2)
		free(blk[i]);
	for (int i = 1; i < N; i += 2)
		ck_assert(first_mismatch(blk[i], len[i], (unsigned)i) == SIZE_MAX);
	for (int i = 1; i < N; i += 2)
		free(blk[i]);
}
END_TEST

START_TEST(test_malloc_zero_unique)
{
	enum { N = 200 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = launder(malloc(hide(0)));
		expect(p[i] != NULL, "malloc(0) returned NULL");
		for (int j = 0; j < i; j++)
			expect(p[i] != p[j], "malloc(0) returned %p twice", p[i]);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
}
END_TEST

START_TEST(test_malloc_impossible_enomem)
{
	for (size_t i = 0; i < NIMPOSSIBLE; i++) {
		errno = 0;
		void *p = launder(malloc(hide(impossible_sizes[i])));
		int e = errno;
		expect(p == NULL, "malloc(%zu) = %p, expected NULL", impossible_sizes[i], p);
		expect(e == ENOMEM, "malloc(%zu): errno %d, expected ENOMEM", impossible_sizes[i],
		       e);
	}
	/* The allocator still works afterwards. */
	void *p = launder(malloc(hide(100)));
	ck_assert_ptr_nonnull(p);
	free(p);
}
END_TEST

/* -------------------------------------------------------------------- free */

START_TEST(test_free_null)
{
	errno = 4242;
	free(NULL);
	ck_assert_int_eq(errno, 4242);
}
END_TEST

START_TEST(test_free_preserves_errno)
{
	static const size_t sizes[] = {8, 100, 4096, 14336, 16384, 100000, 2 * MiB, 16 * MiB};
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = launder(malloc(hide(sizes[i])));
			ck_assert_ptr_nonnull(p);
			memset(p, 0x5a, sizes[i]);
			errno = 4242 + (int)i;
			free(p);
			expect(errno == 4242 + (int)i,
			       "free() of a %zu-byte block changed errno to %d", sizes[i], errno);
		}
	}
	/* Many frees in a row (cache flushes, purging) keep it too. */
	enum { N = 5000 };
	static void *blk[N];
	for (int i = 0; i < N; i++) {
		blk[i] = launder(malloc(hide(1 + (size_t)(i * 37) % 30000)));
		ck_assert_ptr_nonnull(blk[i]);
	}
	errno = 777;
	for (int i = 0; i < N; i++)
		free(blk[i]);
	ck_assert_int_eq(errno, 777);
}
END_TEST

/* ------------------------------------------------------------------ calloc */

START_TEST(test_calloc_zeroed)
{
	/* Dirty a block of each size first so calloc is likely to get recycled
	 * memory back, then check every requested byte is zero. */
	for (size_t i = 0; i < NBOUNDARY; i++) {
		size_t n = boundary_sizes[i];
		for (int round = 0; round < 2; round++) {
			unsigned char *d = launder(malloc(hide(n)));
			ck_assert_ptr_nonnull(d);
			memset(d, 0xa5, malloc_usable_size(d));
			free(d);
			unsigned char *p = launder(calloc(hide(1), hide(n)));
			expect(p != NULL, "calloc(1, %zu) returned NULL", n);
			for (size_t k = 0; k < n; k++)
				expect(p[k] == 0, "calloc(1, %zu): byte %zu is 0x%02x", n, k, p[k]);
			ck_assert_uint_eq(malloc_usable_size(p), nallocx(n, 0));
			memset(p, 0xa5, n);
			free(p);
		}
	}
	/* count * size, both > 1. */
	unsigned *v = launder(calloc(hide(1000), sizeof(unsigned)));
	ck_assert_ptr_nonnull(v);
	for (int i = 0; i < 1000; i++)
		expect(v[i] == 0, "calloc(1000, 4): element %d is %u", i, v[i]);
	ck_assert_uint_ge(malloc_usable_size(v), 1000 * sizeof(unsigned));
	free(v);
}
END_TEST

/* Purges the allocator's unused pages the ways a program can ask for. */
static void
purge_everything(void)
{
	malloc_trim(0);
	/* jemalloc's "arena.<MALLCTL_ARENAS_ALL>.purge", where it exists. */
	mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
}

START_TEST(test_calloc_zeroed_after_purge)
{
	/* Memory that was dirtied, freed and then purged (MADV_FREE'd pages
	 * keep their old contents until the kernel reclaims them) must still
	 * come back zeroed from calloc. */
	static const size_t sizes[] = {64 * KiB, 1 * MiB, 2 * MiB, 5 * MiB + 7, 32 * MiB};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		unsigned char *d = launder(malloc(hide(n)));
		ck_assert_ptr_nonnull(d);
		memset(d, 0xab, n);
		free(d);
		purge_everything();
		unsigned char *p = launder(calloc(hide(n), 1));
		ck_assert_ptr_nonnull(p);
		size_t bad = SIZE_MAX;
		for (size_t k = 0; k < n && bad == SIZE_MAX; k++)
			if (p[k] != 0)
				bad = k;
		expect(bad == SIZE_MAX, "calloc(%zu, 1) after free and purge: byte %zu is 0x%02x",
		       n, bad, bad == SIZE_MAX ? 0 : p[bad]);
		free(p);
	}
}
END_TEST

START_TEST(test_calloc_zero_sizes)
{
	void *a = launder(calloc(hide(0), hide(16)));
	void *b = launder(calloc(hide(16), hide(0)));
	void *c = launder(calloc(hide(0), hide(0)));
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	ck_assert(a != b && b != c && a != c);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_calloc_overflow_enomem)
{
	static const size_t pairs[][2] = {
	    {SIZE_MAX / 2 + 1, 2},
	    {2, SIZE_MAX / 2 + 1},
	    {(size_t)1 << 32, (size_t)1 << 32},
	    {SIZE_MAX, SIZE_MAX},
	    {SIZE_MAX / 3 + 1, 3},
	    {(size_t)1 << 40, (size_t)1 << 30},
	    /* no overflow, but impossible */
	    {SIZE_MAX, 1},
	    {1, (size_t)1 << 48},
	    {(size_t)1 << 24, (size_t)1 << 24},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		errno = 0;
		void *p = launder(calloc(hide(pairs[i][0]), hide(pairs[i][1])));
		int e = errno;
		expect(p == NULL, "calloc(%zu, %zu) = %p, expected NULL", pairs[i][0], pairs[i][1],
		       p);
		expect(e == ENOMEM, "calloc(%zu, %zu): errno %d, expected ENOMEM", pairs[i][0],
		       pairs[i][1], e);
	}
}
END_TEST

/* ----------------------------------------------------------------- realloc */

START_TEST(test_realloc_null_is_malloc)
{
	for (size_t i = 0; i < NBOUNDARY; i++) {
		size_t n = boundary_sizes[i];
		void *p = launder(realloc(NULL, hide(n)));
		expect(p != NULL, "realloc(NULL, %zu) returned NULL", n);
		ck_assert_uint_eq(malloc_usable_size(p), nallocx(n, 0));
		memset(p, 0x11, n);
		free(p);
	}
	/* realloc(NULL, 0) is malloc(0): a real, freeable block. */
	void *z = launder(realloc(NULL, hide(0)));
	ck_assert_ptr_nonnull(z);
	free(z);
}
END_TEST

static int
read_u64_ctl(const char *name, uint64_t *v)
{
	size_t sz = sizeof(*v);
	return mallctl(name, v, &sz, NULL, 0);
}

START_TEST(test_realloc_zero_frees)
{
	static const size_t sizes[] = {1, 100, 5000, 20000, 1 * MiB};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = launder(malloc(hide(sizes[i])));
		ck_assert_ptr_nonnull(p);
		uint64_t before = 0, after = 0;
		int have_ctl = read_u64_ctl("thread.deallocated", &before) == 0;
		errno = 0;
		void *q = launder(realloc(p, hide(0)));
		expect(q == NULL, "realloc(p, 0) = %p, expected NULL (zero_realloc:free)", q);
		ck_assert_int_eq(errno, 0);
		/* The block really was freed: this thread's deallocated-bytes
		 * counter moved by its usable size. */
		if (have_ctl) {
			ck_assert_int_eq(read_u64_ctl("thread.deallocated", &after), 0);
			expect(after - before >= nallocx(sizes[i], 0),
			       "realloc(p[%zu], 0) deallocated only %llu bytes", sizes[i],
			       (unsigned long long)(after - before));
		}
	}
}
END_TEST

START_TEST(test_realloc_preserves_contents)
{
	/* Grow through every boundary size, then shrink back down; the common
	 * prefix survives every step, whether the block moved or not. */
	size_t cur = boundary_sizes[0];
	unsigned char *p = launder(malloc(hide(cur)));
	ck_assert_ptr_nonnull(p);
	fill(p, cur, 1);
	for (size_t i = 1; i < NBOUNDARY; i++) {
		size_t n = boundary_sizes[i];
		p = launder(realloc(p, hide(n)));
		expect(p != NULL, "realloc to %zu returned NULL", n);
		size_t bad = first_mismatch(p, cur, 1);
		expect(bad == SIZE_MAX, "growing %zu -> %zu lost byte %zu", cur, n, bad);
		ck_assert_uint_eq(malloc_usable_size(p), nallocx(n, 0));
		fill(p, n, 1);
		cur = n;
	}
	for (size_t i = NBOUNDARY - 1; i-- > 0;) {
		size_t n = boundary_sizes[i];
		p = launder(realloc(p, hide(n)));
		expect(p != NULL, "realloc to %zu returned NULL", n);
		size_t bad = first_mismatch(p, n, 1);
		expect(bad == SIZE_MAX, "shrinking %zu -> %zu lost byte %zu", cur, n, bad);
		ck_assert_uint_eq(malloc_usable_size(p), nallocx(n, 0));
		cur = n;
	}
	free(p);
}
END_TEST

START_TEST(test_realloc_keeps_usable_bytes)
{
	/* Bytes beyond the request but within malloc_usable_size are the
	 * program's too: growing keeps all of them. */
	static const size_t sizes[] = {1, 9, 100, 1000, 5000, 14337, 20000, 300000, 1 * MiB + 1};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p = launder(malloc(hide(sizes[i])));
		ck_assert_ptr_nonnull(p);
		size_t us = malloc_usable_size(p);
		fill(p, us, (unsigned)(i + 3));
		p = launder(realloc(p, hide(us * 3 + 1)));
		ck_assert_ptr_nonnull(p);
		size_t bad = first_mismatch(p, us, (unsigned)(i + 3));
		expect(bad == SIZE_MAX, "malloc(%zu) usable %zu grown: byte %zu lost", sizes[i], us,
		       bad);
		free(p);
	}
}
END_TEST

START_TEST(test_realloc_same_size_and_neighbours)
{
	/* Repeated reallocs of blocks that sit next to each other never let
	 * one block's data leak into another. */
	enum { N = 64 };
	unsigned char *p[N];
	size_t n[N];
	for (int i = 0; i < N; i++) {
		n[i] = 24 + (size_t)i * 3;
		p[i] = launder(malloc(hide(n[i])));
		ck_assert_ptr_nonnull(p[i]);
		fill(p[i], n[i], (unsigned)i);
	}
	for (int step = 0; step < 20; step++) {
		for (int i = 0; i < N; i++) {
			size_t nn = step % 2 ? n[i] / 2 + 1 : n[i] * 3 + (size_t)step * 1000;
			size_t keep = nn < n[i] ? nn : n[i];
			unsigned char *q = launder(realloc(p[i], hide(nn)));
			ck_assert_ptr_nonnull(q);
			expect(first_mismatch(q, keep, (unsigned)i) == SIZE_MAX,
			       "step %d block %d lost data", step, i);
			fill(q, nn, (unsigned)i);
			p[i] = q;
			n[i] = nn;
		}
		for (int i = 0; i < N; i++)
			ck_assert(first_mismatch(p[i], n[i], (unsigned)i) == SIZE_MAX);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
}
END_TEST

START_TEST(test_realloc_enomem_keeps_block)
{
	static const size_t from[] = {10, 1000, 20000, 3 * MiB};
	for (size_t f = 0; f < sizeof(from) / sizeof(from[0]); f++) {
		unsigned char *p = launder(malloc(hide(from[f])));
		ck_assert_ptr_nonnull(p);
		fill(p, from[f], 9);
		for (size_t i = 0; i < NIMPOSSIBLE; i++) {
			errno = 0;
			void *q = launder(realloc(launder(p), hide(impossible_sizes[i])));
			int e = errno;
			expect(q == NULL, "realloc(%zu-byte block, %zu) = %p", from[f],
			       impossible_sizes[i], q);
			expect(e == ENOMEM, "realloc(.., %zu): errno %d, expected ENOMEM",
			       impossible_sizes[i], e);
			expect(first_mismatch(p, from[f], 9) == SIZE_MAX,
			       "failed realloc damaged the original block");
		}
		ck_assert_uint_eq(malloc_usable_size(p), nallocx(from[f], 0));
		free(p);
	}
}
END_TEST

START_TEST(test_reallocarray)
{
	uint32_t *v = launder(reallocarray(NULL, hide(10), sizeof(uint32_t)));
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_ge(malloc_usable_size(v), 10 * sizeof(uint32_t));
	for (uint32_t i = 0; i < 10; i++)
		v[i] = i * 2654435761u;
	v = launder(reallocarray(v, hide(100000), sizeof(uint32_t)));
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(malloc_usable_size(v), nallocx(100000 * sizeof(uint32_t), 0));
	for (uint32_t i = 0; i < 10; i++)
		expect(v[i] == i * 2654435761u, "reallocarray lost element %u", i);
	for (uint32_t i = 10; i < 100000; i++)
		v[i] = i * 2654435761u;

	/* Overflow of count * size: NULL, ENOMEM, and the array is untouched. */
	static const size_t ovf[][2] = {
	    {SIZE_MAX / 2, 3},
	    {(size_t)1 << 33, (size_t)1 << 31},
	    {SIZE_MAX, SIZE_MAX},
	    {3, SIZE_MAX / 2},
	};
	for (size_t i = 0; i < sizeof(ovf) / sizeof(ovf[0]); i++) {
		errno = 0;
		void *q = launder(reallocarray(launder(v), hide(ovf[i][0]), hide(ovf[i][1])));
		int e = errno;
		expect(q == NULL, "reallocarray(v, %zu, %zu) = %p", ovf[i][0], ovf[i][1], q);
		expect(e == ENOMEM, "reallocarray(v, %zu, %zu): errno %d, expected ENOMEM",
		       ovf[i][0], ovf[i][1], e);
	}
	for (uint32_t i = 0; i < 100000; i++)
		expect(v[i] == i * 2654435761u, "failed reallocarray damaged element %u", i);
	/* Shrink. */
	v = launder(reallocarray(v, hide(5), sizeof(uint32_t)));
	ck_assert_ptr_nonnull(v);
	for (uint32_t i = 0; i < 5; i++)
		expect(v[i] == i * 2654435761u, "shrinking reallocarray lost element %u", i);
	free(v);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api");

	TCase *tc = tcase_create("malloc");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_malloc_boundary_sizes);
	tcase_add_test(tc, test_malloc_usable_size_equals_nallocx);
	tcase_add_test(tc, test_malloc_usable_size_null);
	tcase_add_test(tc, test_malloc_distinct_live_blocks);
	tcase_add_test(tc, test_malloc_zero_unique);
	tcase_add_test(tc, test_malloc_impossible_enomem);
	suite_add_tcase(s, tc);

	tc = tcase_create("free");
	tcase_add_test(tc, test_free_null);
	tcase_add_test(tc, test_free_preserves_errno);
	suite_add_tcase(s, tc);

	tc = tcase_create("calloc");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_calloc_zeroed);
	tcase_add_test(tc, test_calloc_zeroed_after_purge);
	tcase_add_test(tc, test_calloc_zero_sizes);
	tcase_add_test(tc, test_calloc_overflow_enomem);
	suite_add_tcase(s, tc);

	tc = tcase_create("realloc");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_realloc_null_is_malloc);
	tcase_add_test(tc, test_realloc_zero_frees);
	tcase_add_test(tc, test_realloc_preserves_contents);
	tcase_add_test(tc, test_realloc_keeps_usable_bytes);
	tcase_add_test(tc, test_realloc_same_size_and_neighbours);
	tcase_add_test(tc, test_realloc_enomem_keeps_block);
	tcase_add_test(tc, test_reallocarray);
	suite_add_tcase(s, tc);

	return s;
}
