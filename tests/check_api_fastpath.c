/*
 * check_api_fastpath.c — the fast paths of mallocx, dallocx and sdallocx
 * (src/malloc.c, docs/design.md "What makes it fast") through libstrata.so.
 *
 * Rules checked: flags-free mallocx/dallocx and sdallocx go through the
 * thread cache (a freed object comes back on the next allocation of its
 * class) and count their usable sizes; MALLOCX_ZERO and an alignment the
 * class already has still zero and align; sdallocx's hint from the size
 * asked for to the usable size names the class; page-aligned objects and
 * profiler-sampled ones (prof:true, lg_prof_sample:0) are freed by the
 * page map, not cached; with junk:true (the event threshold at zero) the
 * fast paths step aside and the fill happens; MALLOCX_TCACHE_NONE on
 * dallocx and sdallocx bypasses the cache.  And C++'s operators in
 * libstrata.so bring no C++ runtime into this C program.
 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FAST_CHILD_ENV "STRATA_FASTPATH_CHILD"

static uint64_t *
thread_counter(const char *name)
{
	uint64_t *p = NULL;
	size_t len = sizeof(p);
	ck_assert_int_eq(mallctl(name, &p, &len, NULL, 0), 0);
	return p;
}

/* stats.active after a new epoch; 0 if unreadable (no Check calls: the
 * children run before main). */
static size_t
stats_active(void)
{
	uint64_t epoch = 1;
	size_t len = sizeof(epoch), active;
	if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
		return 0;
	len = sizeof(active);
	return mallctl("stats.active", &active, &len, NULL, 0) == 0 ? active : 0;
}

START_TEST(test_mallocx_dallocx_cached)
{
	uint64_t *alloc = thread_counter("thread.allocatedp");
	uint64_t *dalloc = thread_counter("thread.deallocatedp");
	for (size_t n = 1; n <= 4096; n += (n < 512 ? 1 : 64)) {
		size_t us = nallocx(n, 0);
		void *hold = launder(mallocx(hide(n), 0));
		uint64_t a0 = *alloc;
		void *p = launder(mallocx(hide(n), 0));
		uint64_t a1 = *alloc, d0 = *dalloc;
		dallocx(p, 0);
		uint64_t d1 = *dalloc;
		void *q = launder(mallocx(hide(n), 0));
		expect(a1 - a0 == us && d1 - d0 == us, "mallocx/dallocx(%zu) counted %llu/%llu", n,
		       (unsigned long long)(a1 - a0), (unsigned long long)(d1 - d0));
		expect(q == p, "mallocx(%zu) after dallocx: %p, not %p", n, q, p);
		dallocx(q, 0);
		dallocx(hold, 0);
	}
}
END_TEST

/* Every hint from the size asked for to the usable size names the class. */
START_TEST(test_sdallocx_hints)
{
	uint64_t *dalloc = thread_counter("thread.deallocatedp");
	for (size_t n = 1; n <= 4096; n += (n < 512 ? 1 : 64)) {
		size_t us = nallocx(n, 0);
		void *hold = launder(mallocx(hide(n), 0));
		for (size_t hint = n; hint <= us; hint += (us - n) / 3 + 1) {
			void *p = launder(mallocx(hide(n), 0));
			uint64_t d0 = *dalloc;
			sdallocx(p, hint, 0);
			uint64_t d1 = *dalloc;
			void *q = launder(mallocx(hide(n), 0));
			expect(d1 - d0 == us, "sdallocx(%zu, hint %zu) counted %llu", n, hint,
			       (unsigned long long)(d1 - d0));
			expect(q == p, "mallocx(%zu) after sdallocx hint %zu: %p, not %p", n, hint, q,
			       p);
			sdallocx(q, n, 0);
		}
		sdallocx(hold, n, 0);
	}
}
END_TEST

/* Alignment flags on sdallocx: the class of sz_sa2u, which may be larger
 * than the size's own. */
START_TEST(test_sdallocx_aligned)
{
	static const size_t sizes[] = {1, 24, 100, 200, 1000, 3000, 4096};
	uint64_t *dalloc = thread_counter("thread.deallocatedp");
	for (unsigned la = 0; la <= 13; la++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			int flags = MALLOCX_LG_ALIGN(la);
			size_t n = sizes[i], us = nallocx(n, flags);
			void *p = launder(mallocx(hide(n), flags));
			expect(is_aligned(p, (size_t)1 << la), "mallocx(%zu, lg %u) = %p", n, la, p);
			uint64_t d0 = *dalloc;
			sdallocx(p, n, flags);
			uint64_t d1 = *dalloc;
			expect(d1 - d0 == us, "sdallocx(%zu, lg %u) counted %llu, usable %zu", n, la,
			       (unsigned long long)(d1 - d0), us);
		}
	}
}
END_TEST

/* A dirty object comes back from the cache: MALLOCX_ZERO zeroes all of its
 * usable size. */
START_TEST(test_mallocx_zero_from_cache)
{
	for (size_t n = 1; n <= 4096; n += (n < 256 ? 1 : 97)) {
		size_t us = nallocx(n, 0);
		unsigned char *p = launder(mallocx(hide(n), 0));
		memset(p, 0xee, us);
		dallocx(p, 0);
		unsigned char *q = launder(mallocx(hide(n), MALLOCX_ZERO));
		expect(q == p, "mallocx(%zu, ZERO) did not reuse the cached object", n);
		for (size_t i = 0; i < us; i++)
			expect(q[i] == 0, "mallocx(%zu, ZERO): byte %zu is %#x", n, i, q[i]);
		unsigned char *r = launder(mallocx(hide(n), MALLOCX_ZERO | MALLOCX_ALIGN(8)));
		for (size_t i = 0; i < nallocx(n, MALLOCX_ALIGN(8)); i++)
			expect(r[i] == 0, "mallocx(%zu, ZERO|ALIGN(8)): byte %zu is %#x", n, i, r[i]);
		dallocx(r, 0);
		dallocx(q, 0);
	}
}
END_TEST

/* Page-aligned small objects (the 4 KiB class) and large ones: the hint
 * path looks them up and frees them right. */
START_TEST(test_sdallocx_page_aligned)
{
	uint64_t *dalloc = thread_counter("thread.deallocatedp");
	void *v[66];
	for (int i = 0; i < 64; i++)
		v[i] = launder(mallocx(hide(4096), 0));
	v[64] = launder(mallocx(hide(20000), 0));
	v[65] = launder(mallocx(hide(300000), 0));
	uintptr_t low = 0;
	for (int i = 0; i < 64; i++)
		low |= (uintptr_t)v[i] & 4095;
	ck_assert_uint_eq(low, 0);
	size_t want = 64 * 4096 + nallocx(20000, 0) + nallocx(300000, 0);
	uint64_t d0 = *dalloc;
	for (int i = 0; i < 64; i++)
		sdallocx(v[i], 4096, 0);
	sdallocx(v[64], 20000, 0);
	sdallocx(v[65], 300000, 0);
	uint64_t d1 = *dalloc;
	ck_assert_uint_eq(d1 - d0, want);
}
END_TEST

/* MALLOCX_TCACHE_NONE: the object goes back to its arena, not to the
 * thread's cache, whose top stays what it was. */
START_TEST(test_tcache_none_bypasses)
{
	void *top = launder(mallocx(hide(48), 0));
	dallocx(top, 0);
	void *p = launder(mallocx(hide(48), MALLOCX_TCACHE_NONE));
	ck_assert_ptr_ne(p, top);
	sdallocx(p, 48, MALLOCX_TCACHE_NONE);
	void *q = launder(mallocx(hide(48), 0));
	ck_assert_ptr_eq(q, top);
	void *r = launder(mallocx(hide(48), MALLOCX_TCACHE_NONE));
	dallocx(r, MALLOCX_TCACHE_NONE);
	void *s = launder(mallocx(hide(48), 0));
	ck_assert_ptr_ne(s, r);
	dallocx(s, 0);
	dallocx(q, 0);
}
END_TEST

/* libstrata.so exports operator new but does not link libstdc++. */
START_TEST(test_no_cxx_runtime_loaded)
{
	ck_assert_ptr_null(dlopen("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD));
	ck_assert_ptr_nonnull(dlsym(RTLD_DEFAULT, "_Znwm"));
}
END_TEST

/* ------------------------------------------------------------ children */

/* Runs before main in a child started with FAST_CHILD_ENV set: "sampled"
 * (every object sampled, so each lives alone on its own extent: the sized
 * and unsized frees must give those back) or "junk" (junk:true: every
 * allocation and free leaves the fast paths to fill). */
__attribute__((constructor)) static void
fastpath_child(void)
{
	const char *mode = getenv(FAST_CHILD_ENV);
	if (mode == NULL)
		return;
	if (strcmp(mode, "sampled") == 0) {
		void *p[64];
		size_t before = stats_active();
		for (int i = 0; i < 64; i++)
			p[i] = launder(mallocx(hide(32), 0));
		size_t during = stats_active();
		for (int i = 0; i < 64; i++) {
			if (i % 2)
				sdallocx(p[i], 32, 0);
			else
				dallocx(p[i], 0);
		}
		size_t after = stats_active();
		printf("active %zu %zu %zu\n", before, during, after);
		_Exit(during >= before + 64 * 4096 && after + 64 * 4096 <= during ? 0 : 1);
	}
	if (strcmp(mode, "junk") == 0) {
		unsigned char *p = launder(mallocx(hide(32), 0));
		int ok = p[0] == 0xa5 && p[31] == 0xa5;
		sdallocx(p, 32, 0);
		ok = ok && p[0] == 0x5a && p[31] == 0x5a; /* cached, not handed out */
		unsigned char *q = launder(mallocx(hide(32), MALLOCX_ZERO));
		ok = ok && q[0] == 0 && q[31] == 0;
		dallocx(q, 0);
		ok = ok && q[0] == 0x5a;
		printf("junk %d\n", ok);
		_Exit(ok ? 0 : 1);
	}
	_Exit(2);
}

static void
run_child(const char *mode, const char *conf)
{
	char out[512];
	child_run_mode(FAST_CHILD_ENV, mode, conf, out, sizeof(out));
}

START_TEST(test_sampled_objects_freed)
{
	run_child("sampled", "prof:true,lg_prof_sample:0");
}
END_TEST

START_TEST(test_junk_leaves_fast_paths)
{
	run_child("junk", "junk:true");
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_fastpath");
	TCase *tc = tcase_create("fast");
	tcase_add_test(tc, test_mallocx_dallocx_cached);
	tcase_add_test(tc, test_sdallocx_hints);
	tcase_add_test(tc, test_sdallocx_aligned);
	tcase_add_test(tc, test_mallocx_zero_from_cache);
	tcase_add_test(tc, test_sdallocx_page_aligned);
	tcase_add_test(tc, test_tcache_none_bypasses);
	tcase_add_test(tc, test_no_cxx_runtime_loaded);
	suite_add_tcase(s, tc);
	tc = tcase_create("slow");
	tcase_add_test(tc, test_sampled_objects_freed);
	tcase_add_test(tc, test_junk_leaves_fast_paths);
	suite_add_tcase(s, tc);
	return s;
}
