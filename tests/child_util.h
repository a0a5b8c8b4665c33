/*
 * child_util.h — child processes for the suites: run part of a test in a
 * forked child, or run the suite's program again (or another one), and
 * collect what the child writes, with a bound: a child still running after CHILD_WAIT_S is
 * killed and fails the test as hung.  For tests of what aborts or prints
 * (fatal messages, abort_conf, the lock witness, options read at start).
 */
#ifndef STRATA_TEST_CHILD_UTIL_H
#define STRATA_TEST_CHILD_UTIL_H

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_WAIT_S 20

static inline double
child_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the child's end of the pipe fd into out (NUL-terminated) until it
 * closes, then reaps the child; its wait status.  what names the child in
 * the failure of a hang. */
static inline int
child_collect(pid_t pid, int fd, const char *what, char *out, size_t size)
{
	size_t len = 0;
	double deadline = child_now_s() + CHILD_WAIT_S;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int left_ms = (int)((deadline - child_now_s()) * 1000);
		if (left_ms <= 0 || poll(&pfd, 1, left_ms) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(fd);
			ck_abort_msg("%s: the child hung; its output so far: %.*s", what, (int)len, out);
		}
		ssize_t n = read(fd, out + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 == size)
			break;
	}
	out[len] = '\0';
	close(fd);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* Runs fn(arg) in a child whose stderr is a pipe, then _exit(0); returns the
 * child's wait status, with what it wrote in out. */
static inline int
child_run_capture(void (*fn)(const void *arg), const void *arg, char *out, size_t size)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	return child_collect(pid, fds[0], "forked child", out, size);
}

/* What a child run by child_run_exec gets as its standard error. */
enum child_stderr {
	CHILD_STDERR_KEEP,   /* the test's */
	CHILD_STDERR_PIPE,   /* the pipe its standard output goes to */
	CHILD_STDERR_CLOSED, /* none: descriptor 2 is closed */
	CHILD_STDERR_BROKEN, /* a pipe nobody reads: writes raise SIGPIPE */
};

/*
 * Runs the program at path with argv and exactly the environment env
 * ("NAME=value" strings, NULL-terminated) and returns its wait status,
 * with its standard output (and standard error, as err says) in out.
 * what names it in the failure of a hang.
 */
static inline int
child_run_exec(const char *path, char *const argv[], char *const env[], enum child_stderr err,
               const char *what, char *out, size_t size)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		if (err == CHILD_STDERR_PIPE)
			dup2(fds[1], STDERR_FILENO);
		else if (err == CHILD_STDERR_CLOSED)
			close(STDERR_FILENO);
		int broken[2];
		if (err == CHILD_STDERR_BROKEN && pipe(broken) == 0) {
			dup2(broken[1], STDERR_FILENO);
			close(broken[0]);
			close(broken[1]);
		}
		close(fds[0]);
		execve(path, argv, env);
		_exit(127);
	}
	close(fds[1]);
	return child_collect(pid, fds[0], what, out, size);
}

/* Runs this program again (/proc/self/exe) with exactly the environment
 * env, as child_run_exec, its standard error the test's. */
static inline int
child_run_self(char *const env[], const char *what, char *out, size_t size)
{
	char *argv[] = {"strata-test-child", NULL};
	return child_run_exec("/proc/self/exe", argv, env, CHILD_STDERR_KEEP, what, out, size);
}

/*
 * Runs this program again in child mode `mode` (the environment variable
 * mode_env set to it, which the suite's constructor reads) with
 * MALLOC_CONF=conf, its standard output into out, and fails the test
 * unless it exits 0.
 */
static inline void
child_run_mode(const char *mode_env, const char *mode, const char *conf, char *out, size_t size)
{
	char env_mode[128], env_conf[256];
	snprintf(env_mode, sizeof(env_mode), "%s=%s", mode_env, mode);
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=%s", conf);
	char *env[] = {env_conf, env_mode, NULL};
	int status = child_run_self(env, env_mode, out, size);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %s failed", mode);
}

#endif
