/*
 * check_api_safety.c — safety_checks:true (docs/design.md, "Safety
 * checks"): every free is checked when it is made, and a bad one aborts
 * with a message naming the function, the address and the kind, plus,
 * with the profiler on, the stacks that allocated (and freed) a sampled
 * object.
 *
 * This program sets safety_checks:true in its malloc_conf, so every case
 * runs with it.  The cases that check a message run the program again
 * (/proc/self/exe) in a case mode (STRATA_SAFETY_CASE names it, read by
 * the constructor below), with MALLOC_CONF adding the profiler where the
 * case wants stacks: the child writes "addr <pointer>" to standard output,
 * makes the bad call, and writes "survived" if it returns; the test reads
 * both streams.  The others are Check's expected-signal cases.
 */
#include <strata.h>

#include "api_util.h"
#include "child_util.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

const char *malloc_conf = "safety_checks:true";

#define CASE_ENV "STRATA_SAFETY_CASE"
#define PROF_CONF "prof:true,lg_prof_sample:0"

/* ------------------------------------------------------------ the cases */

static void
say_addr(const void *p)
{
	printf("addr %p\n", p);
	fflush(stdout);
}

/* The allocation the stack reports name: not inlined, so it is a frame. */
__attribute__((noinline)) void *
safety_alloc_site(size_t size)
{
	return launder(malloc(size));
}

__attribute__((noinline)) void
safety_free_site(void *p)
{
	free(launder(p));
}

static void
case_double_free(void)
{
	void *p = safety_alloc_site(32), *again = launder(p);
	say_addr(p);
	safety_free_site(p);
	free(again);
}

/* free(p); free(q); free(p): p is not on top of the thread's cache. */
static void
case_double_free_apart(void)
{
	void *p = safety_alloc_site(48), *q = safety_alloc_site(48), *again = launder(p);
	say_addr(p);
	free(p);
	free(q);
	free(again);
}

/* The first free reached the slab: its bitmap says the region is free. */
static void
case_double_free_flushed(void)
{
	void *p = safety_alloc_site(64), *again = launder(p);
	say_addr(p);
	free(p);
	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	free(again);
}

static void
case_interior_small(void)
{
	char *p = safety_alloc_site(48);
	say_addr(p);
	free(launder(p + 16));
}

/* A pointer to an inner page of a large block: the page map has entries
 * for its first and last pages only. */
static void
case_interior_large(void)
{
	char *p = safety_alloc_site(200 << 10);
	say_addr(p);
	free(launder(p + 3 * 4096 + 8));
}

static void
case_foreign(void)
{
	char buf[64];
	memset(buf, 0, sizeof(buf));
	say_addr(buf);
	free(launder(buf + 8));
}

static void
case_wrong_size(void)
{
	void *p = safety_alloc_site(48);
	say_addr(p);
	sdallocx(p, 4096, 0);
}

static void
case_realloc_freed(void)
{
	void *p = safety_alloc_site(40), *again = launder(p);
	say_addr(p);
	free(p);
	void *q = launder(realloc(again, 100));
	(void)q;
}

/* p sits below 20 newer objects in the cache: the free itself does not
 * see it, the flush that returns both copies does. */
static void
case_double_free_deep(void)
{
	void *p = safety_alloc_site(128), *again = launder(p);
	void *others[20];
	for (int i = 0; i < 20; i++)
		others[i] = safety_alloc_site(128);
	say_addr(p);
	free(p);
	for (int i = 0; i < 20; i++)
		free(others[i]);
	free(again);
	printf("freed twice\n");
	fflush(stdout);
	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
}

/* Two threads free the same object: the second free passes (the object
 * sits in the other thread's cache, where no free looks), and the double
 * free is caught when the caches are flushed. */
static void *
free_and_flush(void *p)
{
	free(p);
	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	return NULL;
}

static void
case_double_free_two_threads(void)
{
	void *p = safety_alloc_site(96), *again = launder(p);
	say_addr(p);
	free(p);
	pthread_t t;
	if (pthread_create(&t, NULL, free_and_flush, again) != 0 || pthread_join(t, NULL) != 0)
		_exit(3);
	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
}

static const struct safety_case {
	const char *name;
	void (*fn)(void);
} safety_cases[] = {
    {"double_free", case_double_free},
    {"double_free_apart", case_double_free_apart},
    {"double_free_flushed", case_double_free_flushed},
    {"interior_small", case_interior_small},
    {"interior_large", case_interior_large},
    {"foreign", case_foreign},
    {"wrong_size", case_wrong_size},
    {"realloc_freed", case_realloc_freed},
    {"double_free_two_threads", case_double_free_two_threads},
    {"double_free_deep", case_double_free_deep},
};

/* In case mode: run the case, say whether it returned, exit. */
__attribute__((constructor)) static void
safety_case_mode(void)
{
	const char *name = getenv(CASE_ENV);
	if (name == NULL)
		return;
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	for (size_t i = 0; i < sizeof(safety_cases) / sizeof(safety_cases[0]); i++) {
		if (strcmp(safety_cases[i].name, name) == 0) {
			safety_cases[i].fn();
			printf("survived\n");
			fflush(stdout);
			_exit(0);
		}
	}
	_exit(2);
}

/* ------------------------------------------------------------ running them */

struct outcome {
	int status;
	char out[16384]; /* standard output and error */
	uintptr_t addr;  /* what the case said */
};

static void
run_case(const char *name, const char *conf, struct outcome *o)
{
	char env_case[128], env_conf[256];
	snprintf(env_case, sizeof(env_case), "%s=%s", CASE_ENV, name);
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=%s", conf);
	char *env[] = {env_case, env_conf, NULL};
	char *argv[] = {"strata-safety-case", NULL};
	o->status = child_run_exec("/proc/self/exe", argv, env, CHILD_STDERR_PIPE, name, o->out,
	                           sizeof(o->out));
	const char *a = strstr(o->out, "addr 0x");
	ck_assert_msg(a != NULL, "%s: the case did not start: \"%s\"", name, o->out);
	o->addr = (uintptr_t)strtoull(a + strlen("addr "), NULL, 16);
}

/* Aborted at the bad call, with a line starting with prefix and
 * containing each of the NULL-terminated phrases. */
static const char *
expect_report(const struct outcome *o, const char *name, const char *prefix,
              const char *const *phrases)
{
	ck_assert_msg(WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGABRT,
	              "%s: expected SIGABRT, status %#x: \"%s\"", name, o->status, o->out);
	ck_assert_msg(strstr(o->out, "survived") == NULL, "%s: the bad call returned: \"%s\"", name,
	              o->out);
	const char *line = strstr(o->out, prefix);
	ck_assert_msg(line != NULL, "%s: no \"%s\" in \"%s\"", name, prefix, o->out);
	const char *end = strchr(line, '\n');
	ck_assert_ptr_nonnull(end);
	for (; *phrases != NULL; phrases++)
		ck_assert_msg(memmem(line, (size_t)(end - line), *phrases, strlen(*phrases)) != NULL,
		              "%s: \"%s\" not in the report line: \"%s\"", name, *phrases, o->out);
	return line;
}

/* The address printed right after prefix is the case's pointer + offset. */
static void
expect_addr_after(const struct outcome *o, const char *line, const char *prefix, size_t offset)
{
	const char *at = strstr(line, prefix);
	ck_assert_msg(at != NULL, "no \"%s\" in \"%s\"", prefix, line);
	uintptr_t printed = (uintptr_t)strtoull(at + strlen(prefix), NULL, 16);
	ck_assert_msg(printed == o->addr + offset, "printed %#zx, expected %#zx: \"%s\"",
	              (size_t)printed, (size_t)(o->addr + offset), o->out);
}

static void
expect_double_free(const char *name, const char *size_phrase)
{
	struct outcome o;
	run_case(name, "", &o);
	const char *const phrases[] = {size_phrase, NULL};
	const char *line = expect_report(&o, name, "<strata>: free(): double free of 0x", phrases);
	expect_addr_after(&o, line, "double free of ", 0);
}

START_TEST(test_double_free_at_the_second_free)
{
	expect_double_free("double_free", "(a 32-byte block)");
}
END_TEST

START_TEST(test_double_free_not_on_top)
{
	expect_double_free("double_free_apart", "(a 48-byte block)");
}
END_TEST

START_TEST(test_double_free_after_flush)
{
	expect_double_free("double_free_flushed", "(a 64-byte block)");
}
END_TEST

START_TEST(test_double_free_two_threads_caught_at_flush)
{
	expect_double_free("double_free_two_threads", "double free of");
}
END_TEST

START_TEST(test_double_free_deep_in_cache_caught_at_flush)
{
	struct outcome o;
	run_case("double_free_deep", "", &o);
	ck_assert_msg(strstr(o.out, "freed twice") != NULL, "the free itself aborted: \"%s\"",
	              o.out);
	const char *const phrases[] = {NULL};
	const char *line =
	        expect_report(&o, "double_free_deep", "<strata>: free(): double free of 0x", phrases);
	expect_addr_after(&o, line, "double free of ", 0);
}
END_TEST

START_TEST(test_interior_small_pointer)
{
	struct outcome o;
	run_case("interior_small", "", &o);
	const char *const phrases[] = {"16 bytes into the 48-byte block", "(interior pointer)", NULL};
	const char *line =
	        expect_report(&o, "interior_small", "<strata>: free(): invalid pointer 0x", phrases);
	expect_addr_after(&o, line, "invalid pointer ", 16);
	expect_addr_after(&o, line, "block at ", 0);
}
END_TEST

START_TEST(test_interior_large_pointer)
{
	struct outcome o;
	run_case("interior_large", "", &o);
	const char *const phrases[] = {"12296 bytes into the", "(interior pointer)", NULL};
	const char *line =
	        expect_report(&o, "interior_large", "<strata>: free(): invalid pointer 0x", phrases);
	expect_addr_after(&o, line, "block at ", 0);
}
END_TEST

START_TEST(test_foreign_pointer)
{
	struct outcome o;
	run_case("foreign", "", &o);
	const char *const phrases[] = {"not allocated by strata", NULL};
	const char *line = expect_report(&o, "foreign", "<strata>: free(): invalid pointer 0x", phrases);
	expect_addr_after(&o, line, "invalid pointer ", 8);
}
END_TEST

START_TEST(test_wrong_size)
{
	struct outcome o;
	run_case("wrong_size", "", &o);
	const char *const phrases[] = {"(a 48-byte block)", NULL};
	const char *line = expect_report(&o, "wrong_size",
	                                 "<strata>: sdallocx(): size 4096 does not match", phrases);
	expect_addr_after(&o, line, "allocation at ", 0);
}
END_TEST

START_TEST(test_realloc_of_freed)
{
	struct outcome o;
	run_case("realloc_freed", "", &o);
	const char *const phrases[] = {"(a 48-byte block)", NULL};
	const char *line =
	        expect_report(&o, "realloc_freed", "<strata>: realloc(): use after free of 0x", phrases);
	expect_addr_after(&o, line, "use after free of ", 0);
}
END_TEST

/* With every allocation sampled, the report gives the stacks: the
 * allocating function's frame, and for a double free the freeing one. */
START_TEST(test_double_free_report_has_both_stacks)
{
	struct outcome o;
	run_case("double_free", PROF_CONF, &o);
	const char *const phrases[] = {NULL};
	const char *line = expect_report(&o, "double_free", "<strata>: free(): double free of 0x",
	                                 phrases);
	const char *alloc = strstr(line, "<strata>: allocated at:\n");
	ck_assert_msg(alloc != NULL, "no allocation stack: \"%s\"", o.out);
	const char *freed = strstr(alloc, "<strata>: freed at:\n");
	ck_assert_msg(freed != NULL, "no free stack: \"%s\"", o.out);
	const char *site = strstr(alloc, "safety_alloc_site");
	ck_assert_msg(site != NULL && site < freed, "the allocating frame is not named: \"%s\"",
	              o.out);
	ck_assert_msg(strstr(freed, "safety_free_site") != NULL,
	              "the freeing frame is not named: \"%s\"", o.out);
}
END_TEST

START_TEST(test_interior_report_has_allocation_stack)
{
	struct outcome o;
	run_case("interior_small", PROF_CONF, &o);
	const char *const phrases[] = {"(interior pointer)", NULL};
	const char *line =
	        expect_report(&o, "interior_small", "<strata>: free(): invalid pointer 0x", phrases);
	const char *alloc = strstr(line, "<strata>: allocated at:\n");
	ck_assert_msg(alloc != NULL && strstr(alloc, "safety_alloc_site") != NULL,
	              "no allocation stack naming the allocating function: \"%s\"", o.out);
}
END_TEST

/* Sampled rarely, the object has no stack, and the report says why. */
START_TEST(test_unsampled_object_report_says_so)
{
	struct outcome o;
	run_case("wrong_size", "prof:true,lg_prof_sample:40", &o);
	const char *const phrases[] = {"does not match", NULL};
	expect_report(&o, "wrong_size", "<strata>: sdallocx(): size 4096", phrases);
	ck_assert_msg(strstr(o.out, "no allocation stack: the object was not sampled") != NULL,
	              "the report does not say why it has no stack: \"%s\"", o.out);
}
END_TEST

/* Check's own expected-signal cases: each aborts in the test process. */
START_TEST(test_signal_double_free)
{
	case_double_free();
}
END_TEST

START_TEST(test_signal_interior_small)
{
	case_interior_small();
}
END_TEST

START_TEST(test_signal_wrong_size)
{
	void *p = launder(malloc(100));
	sdallocx(p, 24, 0);
}
END_TEST

/* A safety_check_abort hook that returns: the double free is dropped, so
 * the object is handed out once, not twice. */
static _Atomic int hook_calls;

static void
counting_hook(const char *message)
{
	(void)message;
	hook_calls++;
}

START_TEST(test_hook_that_returns_drops_the_double_free)
{
	void (*hook)(const char *) = counting_hook;
	ck_assert_int_eq(mallctl("experimental.hooks.safety_check_abort", NULL, NULL, &hook,
	                         sizeof(hook)),
	                 0);
	void *p = launder(malloc(80)), *again = launder(p);
	free(p);
	free(again);
	ck_assert_int_eq(hook_calls, 1);
	void *a = launder(malloc(80)), *b = launder(malloc(80));
	ck_assert_ptr_ne(a, b);
	free(a);
	free(b);
	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	ck_assert_int_eq(hook_calls, 1);
}
END_TEST

/* The option is on in this program, and the fast frees still free. */
START_TEST(test_option_on_and_frees_work)
{
	bool on = false;
	size_t len = sizeof(on);
	ck_assert_int_eq(mallctl("opt.safety_checks", &on, &len, NULL, 0), 0);
	ck_assert(on);
	enum { N = 5000 };
	static void *blocks[N];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			blocks[i] = malloc((size_t)(i % 700) + 1);
			ck_assert_ptr_nonnull(blocks[i]);
			memset(blocks[i], i, (size_t)(i % 700) + 1);
		}
		for (int i = 0; i < N; i++) {
			if (i % 2)
				sdallocx(blocks[i], (size_t)(i % 700) + 1, 0);
			else
				free(blocks[i]);
		}
	}
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_safety");
	TCase *tc = tcase_create("reports");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_double_free_at_the_second_free);
	tcase_add_test(tc, test_double_free_not_on_top);
	tcase_add_test(tc, test_double_free_after_flush);
	tcase_add_test(tc, test_double_free_two_threads_caught_at_flush);
	tcase_add_test(tc, test_double_free_deep_in_cache_caught_at_flush);
	tcase_add_test(tc, test_interior_small_pointer);
	tcase_add_test(tc, test_interior_large_pointer);
	tcase_add_test(tc, test_foreign_pointer);
	tcase_add_test(tc, test_wrong_size);
	tcase_add_test(tc, test_realloc_of_freed);
	tcase_add_test(tc, test_double_free_report_has_both_stacks);
	tcase_add_test(tc, test_interior_report_has_allocation_stack);
	tcase_add_test(tc, test_unsampled_object_report_says_so);
	suite_add_tcase(s, tc);

	TCase *sig = tcase_create("signals");
	tcase_add_test_raise_signal(sig, test_signal_double_free, SIGABRT);
	tcase_add_test_raise_signal(sig, test_signal_interior_small, SIGABRT);
	tcase_add_test_raise_signal(sig, test_signal_wrong_size, SIGABRT);
	tcase_add_test(sig, test_hook_that_returns_drops_the_double_free);
	tcase_add_test(sig, test_option_on_and_frees_work);
	suite_add_tcase(s, sig);
	return s;
}
