/*
 * check_api_abort.c — what libstrata.so does with pointers it never handed
 * out: free() or realloc() of a stack address or of a pointer into the
 * middle of a large allocation aborts with
 *     <strata>: free(): invalid pointer 0x<address>
 * on stderr, and a double free of a small object aborts.
 *
 * Each case runs in a child process whose stderr goes to a pipe, so both
 * the signal (SIGABRT) and the message are checked; one case also uses
 * Check's own tcase_add_test_raise_signal.
 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void
no_core_dumps(void)
{
	struct rlimit rl = {0, 0};
	setrlimit(RLIMIT_CORE, &rl);
}

struct outcome {
	int status;	/* from waitpid */
	char err[8192]; /* what the child wrote to stderr */
	uintptr_t addr; /* the bad pointer the child reported */
};

/* The child reports the bad pointer it is about to use on this pipe. */
static int addr_fd = -1;

static void
report_addr(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (addr_fd >= 0)
		(void)!write(addr_fd, &a, sizeof(a));
}

static void
expect_abort(const struct outcome *o, const char *what)
{
	ck_assert_msg(WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGABRT,
		      "%s: child %s %d, expected SIGABRT; stderr: \"%s\"", what,
		      WIFSIGNALED(o->status) ? "killed by signal" : "exited with",
		      WIFSIGNALED(o->status) ? WTERMSIG(o->status) : WEXITSTATUS(o->status),
		      o->err);
}

/* The message names the function, says "invalid pointer" and prints the
 * exact address that was passed. */
static void
expect_invalid_pointer_msg(const struct outcome *o, const char *const *prefixes, uintptr_t addr,
			   const char *what)
{
	const char *m = NULL;
	for (; *prefixes != NULL && m == NULL; prefixes++)
		m = strstr(o->err, *prefixes);
	ck_assert_msg(m != NULL, "%s: stderr lacks the invalid-pointer message: \"%s\"", what,
		      o->err);
	const char *hex = strstr(m, "invalid pointer 0x") + strlen("invalid pointer ");
	unsigned long long printed = strtoull(hex, NULL, 16);
	ck_assert_msg(printed == (unsigned long long)addr,
		      "%s: message prints address %#llx, the bad pointer was %#llx: \"%s\"", what,
		      printed, (unsigned long long)addr, o->err);
}

static const char *const free_prefixes[] = {"<strata>: free(): invalid pointer 0x", NULL};
static const char *const realloc_prefixes[] = {
    "<strata>: free(): invalid pointer 0x",
    "<strata>: realloc(): invalid pointer 0x",
    NULL,
};

/* ------------------------------------------------------------ the cases */

static void
child_free_stack(void)
{
	char buf[256];
	memset(buf, 1, sizeof(buf));
	void *bad = launder(buf + 64);
	report_addr(bad);
	free(bad);
}

static void
child_free_large_middle(void)
{
	char *big = launder(malloc(1 << 20));
	if (big == NULL)
		_exit(3);
	memset(big, 2, 1 << 20);
	void *bad = launder(big + 3 * 4096 + 16);
	report_addr(bad);
	free(bad);
}

static void
child_free_large_page_inside(void)
{
	/* A page-aligned pointer inside a large block: looks like the start
	 * of an extent but is not one. */
	char *big = launder(malloc(4 << 20));
	if (big == NULL)
		_exit(3);
	uintptr_t inside = ((uintptr_t)big + (2 << 20)) & ~(uintptr_t)4095;
	void *bad = launder((void *)inside);
	report_addr(bad);
	free(bad);
}

static void
child_realloc_stack(void)
{
	char buf[256];
	memset(buf, 1, sizeof(buf));
	void *bad = launder(buf + 32);
	report_addr(bad);
	void *q = launder(realloc(bad, 1000));
	(void)q;
}

static void
child_realloc_large_middle(void)
{
	char *big = launder(malloc(1 << 20));
	if (big == NULL)
		_exit(3);
	void *bad = launder(big + 5 * 4096 + 48);
	report_addr(bad);
	void *q = launder(realloc(bad, 3 << 20));
	(void)q;
}

/* After a double free, use the class hard enough that a check made only
 * when a thread cache is flushed, or when the slab gets the region back,
 * gets its chance: flush explicitly, then overflow the cache both ways. */
static void
churn_small_class(size_t n)
{
	enum { LIVE = 3000 };
	static void *blk[LIVE];
	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	for (int i = 0; i < LIVE; i++)
		blk[i] = launder(malloc(n));
	for (int i = 0; i < LIVE; i++)
		free(blk[i]);
	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
}

static void
child_double_free_small(void)
{
	char *p = launder(malloc(32));
	if (p == NULL)
		_exit(3);
	memset(p, 3, 32);
	void *again = launder(p);
	report_addr(again);
	free(p);
	free(again);
	churn_small_class(32);
}

static void
child_double_free_small_apart(void)
{
	/* free(p); free(q); free(p): p is not the most recent free. */
	char *p = launder(malloc(48));
	char *q = launder(malloc(48));
	if (p == NULL || q == NULL)
		_exit(3);
	void *again = launder(p);
	report_addr(again);
	free(p);
	free(q);
	free(again);
	churn_small_class(48);
}

/* fork + capture, with the child's address pipe wired to addr_fd. */
static void
run_case(void (*fn)(void), struct outcome *o)
{
	int ap[2];
	ck_assert_int_eq(pipe(ap), 0);
	int errp[2];
	ck_assert_int_eq(pipe(errp), 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		no_core_dumps();
		alarm(20);
		close(ap[0]);
		close(errp[0]);
		addr_fd = ap[1];
		dup2(errp[1], 2);
		close(errp[1]);
		fn();
		_exit(0); /* fn returned: nothing aborted */
	}
	close(ap[1]);
	close(errp[1]);
	size_t len = 0;
	for (;;) {
		ssize_t r = read(errp[0], o->err + len, sizeof(o->err) - 1 - len);
		if (r <= 0 || (len += (size_t)r) == sizeof(o->err) - 1)
			break;
	}
	o->err[len] = '\0';
	if (read(ap[0], &o->addr, sizeof(o->addr)) != (ssize_t)sizeof(o->addr))
		o->addr = 0;
	close(ap[0]);
	close(errp[0]);
	ck_assert_int_eq(waitpid(pid, &o->status, 0), pid);
}

/* Runs fn in a child that must abort with "<prefix>0x<the address it
 * reported>" on stderr. */
static void
expect_invalid_pointer_case(void (*fn)(void), const char *const *prefixes, const char *what)
{
	static struct outcome o;
	run_case(fn, &o);
	expect_abort(&o, what);
	ck_assert(o.addr != 0);
	expect_invalid_pointer_msg(&o, prefixes, o.addr, what);
}

/* Runs fn in a child that must abort with a "<strata>: " message. */
static void
expect_double_free_case(void (*fn)(void), const char *what)
{
	static struct outcome o;
	run_case(fn, &o);
	expect_abort(&o, what);
	ck_assert_msg(strstr(o.err, "<strata>: ") != NULL,
		      "double free: no \"<strata>: \" message on stderr: \"%s\"", o.err);
}

START_TEST(test_free_stack_address)
{
	expect_invalid_pointer_case(child_free_stack, free_prefixes, "free(stack address)");
}
END_TEST

START_TEST(test_free_large_middle)
{
	expect_invalid_pointer_case(child_free_large_middle, free_prefixes, "free(middle of a 1 MiB block)");
}
END_TEST

START_TEST(test_free_large_page_inside)
{
	expect_invalid_pointer_case(child_free_large_page_inside, free_prefixes, "free(page inside a 4 MiB block)");
}
END_TEST

START_TEST(test_realloc_stack_address)
{
	expect_invalid_pointer_case(child_realloc_stack, realloc_prefixes, "realloc(stack address)");
}
END_TEST

START_TEST(test_realloc_large_middle)
{
	expect_invalid_pointer_case(child_realloc_large_middle, realloc_prefixes, "realloc(middle of a 1 MiB block)");
}
END_TEST

START_TEST(test_double_free_small)
{
	expect_double_free_case(child_double_free_small, "double free of a 32-byte block");
}
END_TEST

START_TEST(test_double_free_small_apart)
{
	expect_double_free_case(child_double_free_small_apart, "free(p); free(q); free(p) of 48-byte blocks");
}
END_TEST

/* The same rule through Check's own signal expectation. */
START_TEST(test_free_stack_raises_sigabrt)
{
	no_core_dumps();
	/* The expected message would only clutter the test output. */
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0)
		dup2(devnull, 2);
	char buf[64];
	memset(buf, 0, sizeof(buf));
	free(launder(buf + 8));
}
END_TEST

/* Valid frees right next to the invalid ones do not abort: the check
 * itself has no false positives on start pointers of every kind. */
START_TEST(test_valid_frees_do_not_abort)
{
	for (size_t n = 1; n <= ((size_t)8 << 20); n = n * 3 + 1) {
		void *p = launder(malloc(n));
		ck_assert_ptr_nonnull(p);
		void *q = launder(aligned_alloc(4096, n));
		ck_assert_ptr_nonnull(q);
		void *r = NULL;
		ck_assert_int_eq(posix_memalign(&r, 1 << 16, n), 0);
		free(p);
		free(q);
		free(r);
	}
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_abort");
	TCase *tc = tcase_create("invalid_free");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_free_stack_address);
	tcase_add_test(tc, test_free_large_middle);
	tcase_add_test(tc, test_free_large_page_inside);
	tcase_add_test(tc, test_realloc_stack_address);
	tcase_add_test(tc, test_realloc_large_middle);
	tcase_add_test(tc, test_double_free_small);
	tcase_add_test(tc, test_double_free_small_apart);
	tcase_add_test_raise_signal(tc, test_free_stack_raises_sigabrt, SIGABRT);
	tcase_add_test(tc, test_valid_frees_do_not_abort);
	suite_add_tcase(s, tc);
	return s;
}
