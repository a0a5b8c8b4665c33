/*
 * child_util.h — child processes for the suites: run part of a test in a
 * forked child, or run the suite's program again (or another one), and
 * collect what the child writes, with a bound: a child still running after CHILD_WAIT_S (or
 * a bound of the caller's) is killed and fails the test as hung.  For tests of what aborts or prints
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

/* A check in a forked child, where Check cannot run: on failure, prints
 * "FAIL line <n>: <message>" to standard error and exits 3, which the test
 * that collects the child's output and status reports. */
#define FORK_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL line %d: ", __LINE__);                               \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			_exit(3);                                                                  \
		}                                                                                  \
	} while (0)

static inline double
child_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the child's end of the pipe fd into out (NUL-terminated) until it
 * closes, then reaps the child; its wait status.  A child still running
 * after wait_s seconds is killed; what names it in the failure. */
static inline int
child_collect(pid_t pid, int fd, const char *what, int wait_s, char *out, size_t size)
{
	size_t len = 0;
	double deadline = child_now_s() + wait_s;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int left_ms = (int)((deadline - child_now_s()) * 1000);
		if (left_ms <= 0 || poll(&pfd, 1, left_ms) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(fd);
			ck_abort_msg("%s: the child hung (over %d s); its output so far: %.*s", what,
			             wait_s, (int)len, out);
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
	return child_collect(pid, fds[0], "forked child", CHILD_WAIT_S, out, size);
}

/* What a child run by child_run_exec gets as its standard error. */
enum child_stderr {
	CHILD_STDERR_KEEP,   /* the test's */
	CHILD_STDERR_PIPE,   /* the pipe its standard output goes to */
	CHILD_STDERR_CLOSED, /* none: descriptor 2 is closed */
	CHILD_STDERR_BROKEN, /* a pipe nobody reads: writes raise SIGPIPE */
};

/* What child_run_exec_with adds to child_run_exec: a bound other than
 * CHILD_WAIT_S (wait_s; 0 for that one), and prep(arg), run in the child
 * just before exec (NULL for none; it reports a failure by _exit). */
typedef struct child_how {
	int wait_s;
	void (*prep)(const void *arg);
	const void *arg;
} child_how_t;

/*
 * Runs the program at path with argv and exactly the environment env
 * ("NAME=value" strings, NULL-terminated; NULL: this process's, as prep
 * leaves it) and returns its wait status, with its standard output (and
 * standard error, as err says) in out.  how (NULL for none) as above; what
 * names the child in the failure of a hang.
 */
static inline int
child_run_exec_with(const char *path, char *const argv[], char *const env[], enum child_stderr err,
                    const child_how_t *how, const char *what, char *out, size_t size)
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
		if (how != NULL && how->prep != NULL)
			how->prep(how->arg);
		if (env != NULL)
			execve(path, argv, env);
		else
			execv(path, argv);
		_exit(127);
	}
	close(fds[1]);
	int wait_s = how != NULL && how->wait_s > 0 ? how->wait_s : CHILD_WAIT_S;
	return child_collect(pid, fds[0], what, wait_s, out, size);
}

/* child_run_exec_with without how: the bound CHILD_WAIT_S, nothing done
 * before exec. */
static inline int
child_run_exec(const char *path, char *const argv[], char *const env[], enum child_stderr err,
               const char *what, char *out, size_t size)
{
	return child_run_exec_with(path, argv, env, err, NULL, what, out, size);
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
 * mode_env set to it, which the suite reads at start) with MALLOC_CONF=conf
 * and nothing else in its environment, as child_run_exec_with (its
 * standard error as err says, how as there); its wait status, with its
 * standard output in out.
 */
static inline int
child_run_self_conf(const char *mode_env, const char *mode, const char *conf, enum child_stderr err,
                    const child_how_t *how, char *out, size_t size)
{
	char env_mode[128], env_conf[512];
	snprintf(env_mode, sizeof(env_mode), "%s=%s", mode_env, mode);
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=%s", conf);
	char *env[] = {env_conf, env_mode, NULL};
	char *argv[] = {"strata-test-child", NULL};
	return child_run_exec_with("/proc/self/exe", argv, env, err, how, env_mode, out, size);
}

/* child_run_self_conf with the test's standard error, failing the test
 * unless the child exits 0. */
static inline void
child_run_mode(const char *mode_env, const char *mode, const char *conf, char *out, size_t size)
{
	int status = child_run_self_conf(mode_env, mode, conf, CHILD_STDERR_KEEP, NULL, out, size);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %s failed", mode);
}

#endif
