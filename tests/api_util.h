/*
 * api_util.h — helpers shared by the public-API suites (tests/check_api*.c,
 * tests/check_stress.c): size units, a cheap assertion for byte loops,
 * optimizer barriers, byte patterns, mallctl readers, and re-running the
 * suite's own program with another environment (options are read before
 * main, so a test of an option runs a fresh process).
 */
#ifndef STRATA_TESTS_API_UTIL_H
#define STRATA_TESTS_API_UTIL_H

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <strata.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ck_assert reports every passing check to the parent (a pipe write), far
 * too slow inside byte loops; expect() only calls into Check on failure. */
#define expect(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)

/* Hide values from the optimizer: no folding of malloc/free pairs, no
 * compile-time "size too large" diagnostics on the deliberately huge sizes. */
static inline void *
launder(void *p)
{
	__asm__ volatile("" : "+r"(p) : : "memory");
	return p;
}

static inline size_t
hide(size_t n)
{
	__asm__ volatile("" : "+r"(n));
	return n;
}

static inline unsigned char
pattern_byte(size_t i, unsigned seed)
{
	return (unsigned char)(seed * 151u + i * 31u + (i >> 8) * 7u + (i >> 16));
}

static inline void
fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = pattern_byte(i, seed);
}

/* The index of the first byte not matching the pattern, or SIZE_MAX. */
static inline size_t
first_mismatch(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pattern_byte(i, seed))
			return i;
	return SIZE_MAX;
}

static inline bool
is_aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

/* The index of the first byte in [from, to) that is not c, or SIZE_MAX. */
static inline size_t
first_not(const void *p, size_t from, size_t to, unsigned char c)
{
	const unsigned char *b = p;
	for (size_t i = from; i < to; i++)
		if (b[i] != c)
			return i;
	return SIZE_MAX;
}

/* mallctl readers that fail the test on any error or length change. */
static inline unsigned
read_unsigned(const char *name)
{
	unsigned v = 0;
	size_t len = sizeof(v);
	ck_assert_msg(mallctl(name, &v, &len, NULL, 0) == 0, "reading %s", name);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static inline size_t
read_size(const char *name)
{
	size_t v = 0, len = sizeof(v);
	ck_assert_msg(mallctl(name, &v, &len, NULL, 0) == 0, "reading %s", name);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static inline bool
read_bool(const char *name)
{
	bool v = false;
	size_t len = sizeof(v);
	ck_assert_msg(mallctl(name, &v, &len, NULL, 0) == 0, "reading %s", name);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

/* Seconds a re-run child gets before it counts as hung. */
#define API_CHILD_WAIT_S 20

static inline double
api_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs this program again (/proc/self/exe) with exactly the environment env
 * ("NAME=value" strings, NULL-terminated) and returns its wait status, with
 * its standard output NUL-terminated in out.  A child still running after
 * API_CHILD_WAIT_S is killed and fails the test as hung, naming what.
 */
static inline int
api_run_self(char *const env[], const char *what, char *out, size_t size)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		char *argv[] = {"strata-test-child", NULL};
		execve("/proc/self/exe", argv, env);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	double deadline = api_now_s() + API_CHILD_WAIT_S;
	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int left_ms = (int)((deadline - api_now_s()) * 1000);
		if (left_ms <= 0 || poll(&pfd, 1, left_ms) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(fds[0]);
			ck_abort_msg("%s: the child hung; its output so far: %.*s", what, (int)len, out);
		}
		ssize_t n = read(fds[0], out + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 == size)
			break;
	}
	out[len] = '\0';
	close(fds[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

#endif
