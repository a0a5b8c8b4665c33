/*
 * child_util.h — runs a piece of a unit test in a child process and
 * collects what the child writes to standard error, for tests of what
 * aborts or prints (fatal messages, abort_conf, the lock witness).
 */
#ifndef STRATA_TEST_CHILD_UTIL_H
#define STRATA_TEST_CHILD_UTIL_H

#include <check.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn(arg) in a child whose stderr is a pipe, then _exit(0); returns the
 * child's wait status, with what it wrote NUL-terminated in out. */
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
	size_t len = 0;
	ssize_t n;
	while (len + 1 < size && (n = read(fds[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

#endif
