/*
 * check_api_cxx.cpp — C++'s operator new and delete from libstrata.so
 * (src/malloc_cxx.cpp): a C++ program linked with -lstrata gets strata's
 * operators, not libstdc++'s.
 *
 * Rules checked: every form is strata's (the thread's allocated and
 * deallocated counters move by the usable size); sized delete frees
 * through the thread cache (the next new of the class gets the object
 * back), also for a class object deleted by the compiler's sized delete,
 * and leaves page-aligned and profiler-sampled objects to the page map;
 * aligned new honours alignments from 16 B to 1 MiB, with sized aligned
 * delete; std::pmr resources on new_delete_resource; a failing new calls
 * the new_handler, then throws std::bad_alloc (nothrow forms return NULL),
 * and with experimental_infallible_new:true aborts with a message.
 */
#include <check.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory_resource>
#include <new>
#include <string>
#include <vector>

#include <strata.h>

/* api_util.h (and child_util.h in it) is C; two of its initializers are not C++'s taste. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wwrite-strings"
#include "api_util.h"
#pragma GCC diagnostic pop

#define CXX_CHILD_ENV "STRATA_CXX_CHILD"

static std::uint64_t *
thread_counter(const char *name)
{
	std::uint64_t *p = nullptr;
	std::size_t len = sizeof(p);
	ck_assert_int_eq(mallctl(name, &p, &len, nullptr, 0), 0);
	return p;
}

/* stats.active after a new epoch; 0 if unreadable.  No Check calls: the
 * child that uses it runs before main. */
static std::size_t
stats_active(void)
{
	std::uint64_t epoch = 1;
	std::size_t len = sizeof(epoch);
	std::size_t active;
	if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
		return 0;
	len = sizeof(active);
	return mallctl("stats.active", &active, &len, nullptr, 0) == 0 ? active : 0;
}

/* ------------------------------------------------------------ plain forms */

START_TEST(test_every_form_is_strata)
{
	std::uint64_t *alloc = thread_counter("thread.allocatedp");
	std::uint64_t *dalloc = thread_counter("thread.deallocatedp");
	std::size_t n = hide(100), us = nallocx(n, 0);
	std::size_t ua = nallocx(n, MALLOCX_ALIGN(64));
	struct form {
		void *(*make)(std::size_t);
		void (*drop)(void *, std::size_t);
		std::size_t usize;
	} forms[] = {
	        {[](std::size_t k) { return ::operator new(k); },
	         [](void *p, std::size_t) { ::operator delete(p); }, us},
	        {[](std::size_t k) { return ::operator new[](k); },
	         [](void *p, std::size_t) { ::operator delete[](p); }, us},
	        {[](std::size_t k) { return ::operator new(k, std::nothrow); },
	         [](void *p, std::size_t) { ::operator delete(p, std::nothrow); }, us},
	        {[](std::size_t k) { return ::operator new[](k, std::nothrow); },
	         [](void *p, std::size_t) { ::operator delete[](p, std::nothrow); }, us},
	        {[](std::size_t k) { return ::operator new(k); },
	         [](void *p, std::size_t k) { ::operator delete(p, k); }, us},
	        {[](std::size_t k) { return ::operator new[](k); },
	         [](void *p, std::size_t k) { ::operator delete[](p, k); }, us},
	        {[](std::size_t k) { return ::operator new(k, std::align_val_t(64)); },
	         [](void *p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }, ua},
	        {[](std::size_t k) { return ::operator new[](k, std::align_val_t(64)); },
	         [](void *p, std::size_t) { ::operator delete[](p, std::align_val_t(64)); }, ua},
	        {[](std::size_t k) { return ::operator new(k, std::align_val_t(64), std::nothrow); },
	         [](void *p, std::size_t) {
		         ::operator delete(p, std::align_val_t(64), std::nothrow);
	         },
	         ua},
	        {[](std::size_t k) { return ::operator new[](k, std::align_val_t(64), std::nothrow); },
	         [](void *p, std::size_t) {
		         ::operator delete[](p, std::align_val_t(64), std::nothrow);
	         },
	         ua},
	        {[](std::size_t k) { return ::operator new(k, std::align_val_t(64)); },
	         [](void *p, std::size_t k) { ::operator delete(p, k, std::align_val_t(64)); }, ua},
	        {[](std::size_t k) { return ::operator new[](k, std::align_val_t(64)); },
	         [](void *p, std::size_t k) { ::operator delete[](p, k, std::align_val_t(64)); }, ua},
	};
	for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		/* Read the counters around the calls alone: Check's own
		 * reports allocate. */
		std::uint64_t a0 = *alloc;
		void *p = launder(forms[i].make(n));
		std::uint64_t a1 = *alloc;
		ck_assert_msg(p != nullptr, "form %u returned NULL", i);
		ck_assert_uint_eq(sallocx(p, 0), forms[i].usize);
		ck_assert_uint_eq(a1 - a0, forms[i].usize);
		std::memset(p, 0x6b, n);
		std::uint64_t d0 = *dalloc;
		forms[i].drop(p, n);
		std::uint64_t d1 = *dalloc;
		ck_assert_uint_eq(d1 - d0, forms[i].usize);
	}
}
END_TEST

START_TEST(test_delete_null)
{
	::operator delete(nullptr);
	::operator delete[](nullptr);
	::operator delete(nullptr, hide(32));
	::operator delete[](nullptr, hide(32));
	::operator delete(nullptr, std::align_val_t(64));
	::operator delete(nullptr, hide(32), std::align_val_t(64));
	::operator delete(nullptr, std::nothrow);
}
END_TEST

/* ------------------------------------------------------------ sized delete */

/* Sized delete pushes the object on the thread cache of the class its size
 * names: the next new of that class pops it. */
START_TEST(test_sized_delete_reaches_cache)
{
	for (std::size_t n = 1; n <= 4096; n += (n < 256 ? 1 : 61)) {
		void *hold = launder(::operator new(hide(n)));
		void *p = launder(::operator new(hide(n)));
		::operator delete(p, n);
		void *q = launder(::operator new(hide(n)));
		ck_assert_msg(q == p, "new(%zu) after sized delete: %p, not %p", n, q, p);
		::operator delete(q, n);
		::operator delete(hold, n);
	}
}
END_TEST

struct widget {
	std::uint64_t a, b, c;
	char name[40];
	virtual ~widget() = default;
};

/* The compiler's delete of a class object is the sized form. */
START_TEST(test_class_delete_is_sized)
{
	std::uint64_t *dalloc = thread_counter("thread.deallocatedp");
	widget *hold = new widget();
	widget *w = new widget();
	std::size_t expect = nallocx(sizeof(widget), 0);
	std::uint64_t d0 = *dalloc;
	delete w;
	std::uint64_t d1 = *dalloc;
	ck_assert_uint_eq(d1 - d0, expect);
	widget *again = new widget();
	ck_assert_ptr_eq(again, w);
	delete again;
	delete hold;
}
END_TEST

/* Page-aligned objects (every 4 KiB one; large ones) go by the page map. */
START_TEST(test_sized_delete_page_aligned)
{
	std::uint64_t *dalloc = thread_counter("thread.deallocatedp");
	std::vector<void *> v;
	for (int i = 0; i < 64; i++)
		v.push_back(::operator new(hide(4096)));
	for (std::size_t n : {hide(20000), hide(300000)})
		v.push_back(::operator new(n));
	std::uintptr_t low_bits = 0;
	for (int i = 0; i < 64; i++)
		low_bits |= (std::uintptr_t)v[i] & 4095;
	ck_assert_uint_eq(low_bits, 0);
	std::size_t expect = 64 * 4096 + nallocx(20000, 0) + nallocx(300000, 0);
	std::uint64_t d0 = *dalloc;
	for (int i = 0; i < 64; i++)
		::operator delete(v[i], 4096);
	::operator delete(v[64], 20000);
	::operator delete(v[65], 300000);
	std::uint64_t d1 = *dalloc;
	ck_assert_uint_eq(d1 - d0, expect);
}
END_TEST

/* ------------------------------------------------------------ aligned new */

struct alignas(256) cell {
	char bytes[40];
};

START_TEST(test_aligned_new)
{
	for (std::size_t a = 16; a <= ((std::size_t)1 << 20); a <<= 1) {
		for (std::size_t n : {hide(1), hide(a / 2 + 1), hide(a), hide(3 * a + 5)}) {
			void *p = launder(::operator new(n, std::align_val_t(a)));
			ck_assert_msg(((std::uintptr_t)p & (a - 1)) == 0, "new(%zu, align %zu) = %p",
			              n, a, p);
			std::memset(p, 0x3c, n);
			if (n & 1)
				::operator delete(p, n, std::align_val_t(a));
			else
				::operator delete(p, std::align_val_t(a));
		}
	}
	cell *cells = new cell[7];
	ck_assert_uint_eq((std::uintptr_t)cells & 255, 0);
	delete[] cells;
	cell *one = new cell;
	ck_assert_uint_eq((std::uintptr_t)one & 255, 0);
	delete one;
}
END_TEST

/* ------------------------------------------------------------ std::pmr */

START_TEST(test_pmr)
{
	std::uint64_t *alloc = thread_counter("thread.allocatedp");
	std::uint64_t a0 = *alloc;
	{
		std::pmr::monotonic_buffer_resource mono(std::pmr::new_delete_resource());
		std::pmr::vector<std::pmr::string> v(&mono);
		for (int i = 0; i < 2000; i++)
			v.emplace_back(std::string(40 + i % 50, (char)('a' + i % 26)));
		for (int i = 0; i < 2000; i++)
			ck_assert_uint_eq(v[i].size(), (std::size_t)(40 + i % 50));
	}
	ck_assert_uint_gt(*alloc - a0, 2000 * 40);
	a0 = *alloc;
	{
		std::pmr::unsynchronized_pool_resource pool(std::pmr::new_delete_resource());
		std::pmr::vector<std::pmr::vector<int>> vv(&pool);
		for (int i = 0; i < 500; i++) {
			vv.emplace_back();
			for (int j = 0; j < i % 100; j++)
				vv.back().push_back(i * j);
		}
		for (int i = 0; i < 500; i++)
			for (int j = 0; j < i % 100; j++)
				ck_assert_int_eq(vv[i][j], i * j);
		std::pmr::polymorphic_allocator<char> pa(&pool);
		char *big = pa.allocate(1 << 20); /* above the pool's largest block */
		std::memset(big, 1, 1 << 20);
		pa.deallocate(big, 1 << 20);
	}
	ck_assert_uint_gt(*alloc - a0, 1 << 20);
}
END_TEST

/* ------------------------------------------------------------ failure */

static int handler_calls;

static void
handler_once(void)
{
	handler_calls++;
	std::set_new_handler(nullptr);
}

static void
handler_throws(void)
{
	handler_calls++;
	throw std::bad_alloc();
}

START_TEST(test_new_throws_bad_alloc)
{
	std::size_t huge = hide((std::size_t)1 << 62);
	bool thrown = false;
	try {
		launder(::operator new(huge));
	} catch (const std::bad_alloc &) {
		thrown = true;
	}
	ck_assert(thrown);
	thrown = false;
	try {
		launder(new char[huge]);
	} catch (const std::bad_alloc &) {
		thrown = true;
	}
	ck_assert(thrown);
	thrown = false;
	try {
		launder(::operator new(huge, std::align_val_t(4096)));
	} catch (const std::bad_alloc &) {
		thrown = true;
	}
	ck_assert(thrown);
	ck_assert_ptr_null(::operator new(huge, std::nothrow));
	ck_assert_ptr_null(::operator new[](huge, std::align_val_t(64), std::nothrow));
}
END_TEST

/* As jemalloc's: the handler runs, then a retry; no handler left (or one
 * that throws bad_alloc) ends in bad_alloc, or NULL for nothrow. */
START_TEST(test_new_handler_loop)
{
	std::size_t huge = hide((std::size_t)1 << 62);
	handler_calls = 0;
	std::set_new_handler(handler_once);
	bool thrown = false;
	try {
		launder(::operator new(huge));
	} catch (const std::bad_alloc &) {
		thrown = true;
	}
	ck_assert(thrown);
	ck_assert_int_eq(handler_calls, 1);
	handler_calls = 0;
	std::set_new_handler(handler_throws);
	ck_assert_ptr_null(::operator new(huge, std::nothrow));
	ck_assert_int_eq(handler_calls, 1);
	std::set_new_handler(nullptr);
}
END_TEST

/* The child half of test_infallible_new: runs before main, as the option
 * must be in the environment when strata starts. */
__attribute__((constructor)) static void
cxx_child(void)
{
	const char *mode = std::getenv(CXX_CHILD_ENV);
	if (mode == nullptr)
		return;
	bool on = false;
	std::size_t len = sizeof(on);
	if (mallctl("opt.experimental_infallible_new", &on, &len, nullptr, 0) != 0)
		std::_Exit(2);
	std::printf("infallible=%d\n", on);
	std::fflush(stdout);
	try {
		launder(::operator new(hide((std::size_t)1 << 62)));
	} catch (const std::bad_alloc &) {
		std::printf("bad_alloc\n");
		std::fflush(stdout);
		std::_Exit(0);
	}
	std::_Exit(3);
}

static int
run_child(const char *conf, char *out, std::size_t size)
{
	return child_run_self_conf(CXX_CHILD_ENV, "1", conf, CHILD_STDERR_PIPE, nullptr, out, size);
}

START_TEST(test_infallible_new)
{
	char out[1024];
	int status = run_child("experimental_infallible_new:false", out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s", out);
	ck_assert_ptr_nonnull(std::strstr(out, "infallible=0\nbad_alloc\n"));
	status = run_child("experimental_infallible_new:true", out, sizeof(out));
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child: %s", out);
	ck_assert_ptr_nonnull(std::strstr(out, "infallible=1\n"));
	ck_assert_msg(std::strstr(out, "<strata>: operator new(4611686018427387904): out of "
	                               "memory and opt.experimental_infallible_new is true") !=
	                      nullptr,
	              "message: %s", out);
}
END_TEST

/* Profiler-sampled objects (every one, lg_prof_sample:0) live alone on
 * extents: a sized delete must hand them back, not cache them. */
START_TEST(test_sized_delete_sampled)
{
	char out[1024];
	char env_conf[] = "MALLOC_CONF=prof:true,lg_prof_sample:0";
	char env_mode[] = CXX_CHILD_ENV "_SAMPLED=1";
	char *env[] = {env_conf, env_mode, nullptr};
	char argv0[] = "check_api_cxx-sampled";
	char *argv[] = {argv0, nullptr};
	int status = child_run_exec("/proc/self/exe", argv, env, CHILD_STDERR_PIPE, "sampled child",
	                            out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s", out);
}
END_TEST

__attribute__((constructor)) static void
cxx_child_sampled(void)
{
	if (std::getenv(CXX_CHILD_ENV "_SAMPLED") == nullptr)
		return;
	void *p[64];
	std::size_t before = stats_active();
	for (int i = 0; i < 64; i++)
		p[i] = launder(::operator new(hide(32)));
	std::size_t during = stats_active();
	for (int i = 0; i < 64; i++)
		::operator delete(p[i], 32);
	std::size_t after = stats_active();
	std::printf("active %zu %zu %zu\n", before, during, after);
	/* Each sampled object holds at least a page while it lives. */
	std::_Exit(during >= before + 64 * 4096 && after + 64 * 4096 <= during ? 0 : 1);
}

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_cxx");
	TCase *tc = tcase_create("forms");
	tcase_add_test(tc, test_every_form_is_strata);
	tcase_add_test(tc, test_delete_null);
	suite_add_tcase(s, tc);
	tc = tcase_create("sized");
	tcase_add_test(tc, test_sized_delete_reaches_cache);
	tcase_add_test(tc, test_class_delete_is_sized);
	tcase_add_test(tc, test_sized_delete_page_aligned);
	tcase_add_test(tc, test_sized_delete_sampled);
	suite_add_tcase(s, tc);
	tc = tcase_create("aligned");
	tcase_add_test(tc, test_aligned_new);
	suite_add_tcase(s, tc);
	tc = tcase_create("pmr");
	tcase_add_test(tc, test_pmr);
	suite_add_tcase(s, tc);
	tc = tcase_create("failure");
	tcase_add_test(tc, test_new_throws_bad_alloc);
	tcase_add_test(tc, test_new_handler_loop);
	tcase_add_test(tc, test_infallible_new);
	suite_add_tcase(s, tc);
	return s;
}
