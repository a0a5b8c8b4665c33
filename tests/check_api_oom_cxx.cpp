/*
 * check_api_oom_cxx.cpp — C++'s operator new out of memory for real: the
 * address space limited (RLIMIT_AS) to what the test process uses plus a
 * little headroom, so that new's mapping fails (check_api_cxx.cpp covers
 * sizes no class holds, the new_handler loop and
 * experimental_infallible_new).
 *
 * Rules checked: plain, array and aligned new throw std::bad_alloc and the
 * nothrow forms return nullptr, for a large request and, once small
 * objects have filled the address space, for small ones (the exception
 * itself then comes from libstdc++'s emergency pool); a std::vector whose
 * growth fails throws and keeps its contents; after freeing, new succeeds
 * again; with xmalloc:true new aborts with jemalloc's message instead
 * (docs/compat.md, "Out of memory").  While the address space is full
 * nothing calls into Check (its messages allocate).
 */
#include <check.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <strata.h>

/* api_util.h (and child_util.h in it) is C; two of its initializers are not C++'s taste. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wwrite-strings"
#include "api_util.h"
#pragma GCC diagnostic pop
#include "as_util.h"

#define OOM_CXX_CHILD_ENV "STRATA_OOM_CXX_CHILD"
#define HEADROOM ((std::size_t)32 << 20)
#define HUGE_REQUEST ((std::size_t)256 << 20)

/* as_limit, the purger threads started first: their stacks (8 MiB each)
 * would take address space out of the headroom when they start later. */
static void
as_limit_after_purgers(std::size_t headroom)
{
	bool on = true;
	mallctl("background_thread", nullptr, nullptr, &on, sizeof(on));
	as_limit(headroom);
}

/* Which of the forms of new failed as they should, one bit each. */
enum {
	FORM_NEW = 1,
	FORM_NEW_ARRAY = 2,
	FORM_NEW_ALIGNED = 4,
	FORM_NOTHROW = 8,
	FORM_NOTHROW_ALIGNED = 16,
	FORM_ALL = 31
};

static unsigned
every_form_fails(std::size_t size)
{
	unsigned failed = 0;
	try {
		launder(::operator new(hide(size)));
	} catch (const std::bad_alloc &) {
		failed |= FORM_NEW;
	}
	try {
		launder(new char[hide(size)]);
	} catch (const std::bad_alloc &) {
		failed |= FORM_NEW_ARRAY;
	}
	try {
		launder(::operator new(hide(size), std::align_val_t(4096)));
	} catch (const std::bad_alloc &) {
		failed |= FORM_NEW_ALIGNED;
	}
	if (::operator new(hide(size), std::nothrow) == nullptr)
		failed |= FORM_NOTHROW;
	if (::operator new[](hide(size), std::align_val_t(64), std::nothrow) == nullptr)
		failed |= FORM_NOTHROW_ALIGNED;
	return failed;
}

START_TEST(test_large_new_throws)
{
	as_limit_after_purgers(HEADROOM);
	unsigned failed = every_form_fails(HUGE_REQUEST);
	void *p = ::operator new(HEADROOM / 4); /* what fits still does */
	::operator delete(p);
	as_unlimit();
	ck_assert_uint_eq(failed, FORM_ALL);
}
END_TEST

/* Nodes of 1 KiB, linked through their first word, fill the address
 * space (a list needs no allocation of its own). */
struct node {
	node *next;
	unsigned char bytes[1024 - sizeof(node *)];
};

START_TEST(test_small_new_throws_then_recovers)
{
	as_limit_after_purgers(HEADROOM);
	node *head = nullptr;
	std::size_t n = 0;
	try {
		for (;;) {
			node *x = new node;
			std::memset(x->bytes, (int)(n & 0xff), sizeof(x->bytes));
			x->next = head;
			head = x;
			n++;
		}
	} catch (const std::bad_alloc &) {
	}
	/* Every small class a form asks for, drained: nodes of 16 bytes. */
	unsigned failed = 0;
	try {
		for (;;) {
			node *x = static_cast<node *>(::operator new(16));
			x->next = head;
			head = x;
		}
	} catch (const std::bad_alloc &) {
		failed = every_form_fails(16);
	}
	/* The contents written before are intact; freeing gives it all back. */
	bool intact = true;
	std::size_t left = n;
	while (head != nullptr) {
		node *x = head;
		head = x->next;
		if (left > 0 && ::malloc_usable_size(x) >= sizeof(node)) {
			left--;
			for (unsigned char b : x->bytes)
				intact = intact && b == (unsigned char)(left & 0xff);
		}
		::operator delete(x);
	}
	std::size_t again = 0;
	try {
		while (again < n) {
			node *x = new node;
			x->next = head;
			head = x;
			again++;
		}
	} catch (const std::bad_alloc &) {
	}
	while (head != nullptr) {
		node *x = head;
		head = x->next;
		delete x;
	}
	as_unlimit();
	ck_assert_uint_gt(n, HEADROOM / sizeof(node) / 2);
	ck_assert_uint_eq(failed, FORM_NEW | FORM_NEW_ARRAY | FORM_NOTHROW);
	ck_assert(intact);
	ck_assert_uint_eq(again, n);
}
END_TEST

/* A vector grows until its reallocation fails: bad_alloc, and the vector
 * keeps its elements (the strong guarantee rests on the failed new leaving
 * the old block alone). */
START_TEST(test_vector_growth_throws)
{
	std::vector<std::uint32_t> v;
	as_limit_after_purgers(HEADROOM);
	bool thrown = false;
	try {
		for (std::uint32_t i = 0;; i++)
			v.push_back(i);
	} catch (const std::bad_alloc &) {
		thrown = true;
	}
	std::size_t n = v.size();
	bool intact = true;
	for (std::size_t i = 0; i < n; i++)
		intact = intact && v[i] == (std::uint32_t)i;
	std::vector<std::uint32_t>().swap(v);
	std::vector<std::uint32_t> w(n / 2, 7); /* freed space is usable again */
	as_unlimit();
	ck_assert(thrown);
	ck_assert_uint_ge(n * sizeof(std::uint32_t), HEADROOM / 4);
	ck_assert(intact);
	ck_assert_uint_eq(w.size(), n / 2);
}
END_TEST

/* The child of test_xmalloc_new: with xmalloc:true (the environment's
 * MALLOC_CONF), new under the limit aborts; without, it throws. */
__attribute__((constructor)) static void
oom_cxx_child(void)
{
	const char *mode = std::getenv(OOM_CXX_CHILD_ENV);
	if (mode == nullptr)
		return;
	as_limit_after_purgers(HEADROOM);
	try {
		if (std::strcmp(mode, "aligned") == 0)
			launder(::operator new(hide(HUGE_REQUEST), std::align_val_t(4096)));
		else
			launder(::operator new(hide(HUGE_REQUEST)));
	} catch (const std::bad_alloc &) {
		std::_Exit(0);
	}
	std::_Exit(3);
}

static int
run_child(const char *mode, const char *conf, char *out, std::size_t size)
{
	return child_run_self_conf(OOM_CXX_CHILD_ENV, mode, conf, CHILD_STDERR_PIPE, nullptr, out,
	                           size);
}

/* As jemalloc's operators: new reports as malloc, aligned new as
 * aligned_alloc. */
START_TEST(test_xmalloc_new)
{
	char out[1024];
	int status = run_child("plain", "xmalloc:false", out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %#x %s", status, out);
	status = run_child("plain", "xmalloc:true", out, sizeof(out));
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child: %#x %s", status,
	              out);
	ck_assert_str_eq(out, "<strata>: Error in malloc(): out of memory\n");
	status = run_child("aligned", "xmalloc:true", out, sizeof(out));
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child: %#x %s", status,
	              out);
	ck_assert_str_eq(out, "<strata>: Error allocating aligned memory: out of memory\n");
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_oom_cxx");
	TCase *tc = tcase_create("oom_cxx");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_large_new_throws);
	tcase_add_test(tc, test_small_new_throws_then_recovers);
	tcase_add_test(tc, test_vector_growth_throws);
	tcase_add_test(tc, test_xmalloc_new);
	suite_add_tcase(s, tc);
	return s;
}
