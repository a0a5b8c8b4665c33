/*
 * check_msg.c — the malloc-free formatter agrees with snprintf on every
 * conversion it supports, truncates safely, and messages carry the prefix
 * and go to the hook or to the descriptor they are given.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"

#define AGREE(...)                                                                  \
	do {                                                                        \
		char ours[256], libc[256];                                          \
		size_t n = msg_format(ours, sizeof(ours), __VA_ARGS__);             \
		int m = snprintf(libc, sizeof(libc), __VA_ARGS__);                  \
		ck_assert_str_eq(ours, libc);                                       \
		ck_assert_uint_eq(n, (size_t)m);                                    \
	} while (0)

START_TEST(test_conversions_match_snprintf)
{
	AGREE("plain text");
	AGREE("%d %i %u", -42, 17, 4000000000u);
	AGREE("%ld %lu %lld %llu", -1L, 1UL << 40, -(1LL << 62), ~0ULL);
	AGREE("%zu %zd %jd %td", (size_t)12345, (ssize_t)-9, (intmax_t)-7, (ptrdiff_t)33);
	AGREE("%x %X %#x %#lx %o %#o", 255u, 255u, 255u, 0x7fffdeadbeefUL, 8u, 8u);
	AGREE("%5d|%-5d|%05d|%+d|% d", 42, 42, 42, 42, 42);
	AGREE("%.3d|%8.3d|%-8.3u", 7, 7, 7u);
	AGREE("%s|%10s|%-10s|%.2s", "abc", "abc", "abc", "abc");
	AGREE("%c%c%%", 'o', 'k');
	AGREE("%*d|%-*d|%.*s", 6, 1, 6, 2, 3, "abcdef");
	AGREE("%hhu %hu", 300, 70000);
	AGREE("%p", (void *)0x1234abcd);
}
END_TEST

START_TEST(test_null_string_and_pointer)
{
	char buf[64];
	const char *volatile null_string = NULL;
	msg_format(buf, sizeof(buf), "%s", null_string);
	ck_assert_str_eq(buf, "(null)");
	msg_format(buf, sizeof(buf), "%p", NULL);
	ck_assert_str_eq(buf, "(nil)");
}
END_TEST

START_TEST(test_truncation)
{
	char buf[8];
	memset(buf, 'x', sizeof(buf));
	size_t n = msg_format(buf, sizeof(buf), "%s-%d", "abcdefgh", 12345);
	ck_assert_uint_eq(n, 14);
	ck_assert_str_eq(buf, "abcdefg");
	char one[1] = {'x'};
	ck_assert_uint_eq(msg_format(one, 1, "abc"), 3);
	ck_assert_int_eq(one[0], '\0');
}
END_TEST

static char captured[512];

static void
capture(void *opaque, const char *s)
{
	(void)opaque;
	strncat(captured, s, sizeof(captured) - strlen(captured) - 1);
}

extern void (*strata_test_malloc_message)(void *, const char *);

START_TEST(test_error_prefix_and_hook)
{
	captured[0] = '\0';
	strata_test_malloc_message = capture;
	msg_error("Invalid conf pair: %s:%s\n", "foo", "bar");
	strata_test_malloc_message = NULL;
	ck_assert_str_eq(captured, "<strata>: Invalid conf pair: foo:bar\n");
}
END_TEST

/* msg_write_fd writes to the descriptor it is given; with a hook set, the
 * hook gets the text and the descriptor nothing. */
START_TEST(test_write_fd_goes_to_fd_or_hook)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	msg_write_fd(fds[1], "to the pipe\n");
	captured[0] = '\0';
	strata_test_malloc_message = capture;
	msg_write_fd(fds[1], "to the hook\n");
	strata_test_malloc_message = NULL;
	close(fds[1]);
	char buf[64] = "";
	ck_assert_int_eq(read(fds[0], buf, sizeof(buf) - 1), 12);
	close(fds[0]);
	ck_assert_str_eq(buf, "to the pipe\n");
	ck_assert_str_eq(captured, "to the hook\n");
}
END_TEST

/* A message to a pipe nobody reads fails quietly: SIGPIPE, whose default
 * action ends the process, is neither delivered nor left pending; one that
 * was pending before stays pending. */
START_TEST(test_write_to_broken_pipe_raises_no_sigpipe)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	close(fds[0]);
	msg_write_fd(fds[1], "nobody reads this\n");
	sigset_t pending;
	ck_assert_int_eq(sigpending(&pending), 0);
	ck_assert(!sigismember(&pending, SIGPIPE));
	sigset_t pipe_only, old;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &pipe_only, &old), 0);
	ck_assert_int_eq(raise(SIGPIPE), 0);
	msg_write_fd(fds[1], "nor this\n");
	ck_assert_int_eq(sigpending(&pending), 0);
	ck_assert(sigismember(&pending, SIGPIPE));
	const struct timespec now = {0, 0};
	ck_assert_int_eq(sigtimedwait(&pipe_only, NULL, &now), SIGPIPE);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
}
END_TEST

/* A message to a file at the RLIMIT_FSIZE limit (stderr redirected to a
 * full log) is lost quietly: SIGXFSZ, whose default action ends the
 * process, is neither delivered nor left pending. */
START_TEST(test_write_past_file_size_limit_raises_no_sigxfsz)
{
	char path[] = "/tmp/strata-msg-fsize.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, "0123456789", 10), 10);
	/* No assertion while the limit holds: Check writes its own records
	 * to a file. */
	struct rlimit lim, small;
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	small = lim;
	small.rlim_cur = 10;
	int set = setrlimit(RLIMIT_FSIZE, &small);
	msg_write_fd(fd, "past the limit\n");
	setrlimit(RLIMIT_FSIZE, &lim);
	ck_assert_int_eq(set, 0);
	sigset_t pending;
	ck_assert_int_eq(sigpending(&pending), 0);
	ck_assert(!sigismember(&pending, SIGXFSZ));
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 10);
	close(fd);
}
END_TEST

START_TEST(test_fatal_aborts)
{
	msg_fatal("fatal %d\n", 1);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("msg");
	tcase_add_test(tc, test_conversions_match_snprintf);
	tcase_add_test(tc, test_null_string_and_pointer);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_error_prefix_and_hook);
	tcase_add_test(tc, test_write_fd_goes_to_fd_or_hook);
	tcase_add_test(tc, test_write_to_broken_pipe_raises_no_sigpipe);
	tcase_add_test(tc, test_write_past_file_size_limit_raises_no_sigxfsz);
	tcase_add_test_raise_signal(tc, test_fatal_aborts, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}
