/*
 * check_api_prof_dumpfail.c — heap dumps that cannot be written, through
 * the public API: each fails as a whole (prof.dump returns EFAULT, an
 * automatic dump prints one line), leaves no file and no temporary file,
 * and the process runs on with its profile whole (the next dump to a good
 * place lists every stack).  The dump is made big (STACKS distinct sampled
 * stacks, lg_prof_sample:0) so that it does not fit where it fails.
 *   - RLIMIT_FSIZE below the dump's size (and 0), plain and gzip: no
 *     SIGXFSZ is raised (the default action would kill the process; a
 *     blocked one is not left pending; a program's own handler is not
 *     called and stays installed);
 *   - a full 64 KiB tmpfs (ENOSPC on write) and a tmpfs without free
 *     inodes (ENOSPC on create), a read-only bind mount (EROFS), in a
 *     child with its own mount namespace; where none can be made, the test
 *     says so, and ENOSPC is still met through a copy of /dev/full (where
 *     mknod is allowed);
 *   - a missing folder, a path under a regular file, paths in /proc and
 *     /sys, and a 0555 folder for a user other than root: nothing printed;
 *   - paths that name no regular file: a FIFO (with a reader it gets the
 *     whole dump, without one the dump fails at once) and device nodes
 *     (copies of /dev/null and /dev/full): written in place, never replaced;
 *   - symbolic links: followed (relative, absolute, chained; a loop fails),
 *     the dump lands where they lead and the links stay;
 *   - a name of NAME_MAX bytes is written, one byte more fails;
 *   - the automatic dumps (dump signal, interval, high-water, final,
 *     prof_leak's report) of a program run under RLIMIT_FSIZE: one line
 *     each, no file, exit status 0.
 *
 * Parts that change the process (limits, mounts, user) run in forked
 * children (child_run_capture), which report through FORK_CHECK ("FAIL
 * line ...", exit 3) and print "done" at their end; options read at start
 * are tested in a fresh run of this program (CHILD_ENV names what it does).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"
#include "dump_util.h"

const char *malloc_conf = "prof:true,lg_prof_sample:0";

#define CHILD_ENV "STRATA_TEST_DUMPFAIL_CHILD"
/* Distinct stacks the big profile holds: 2^STACK_BITS. */
#define STACK_BITS 10
#define STACKS (1u << STACK_BITS)
/* The file size limit the dumps meet, far below their size. */
#define FSIZE_LIMIT ((rlim_t)4096)

/* ------------------------------------------------ the big profile */

static void *stack_objs[STACKS];

static void *stack_step(unsigned bits, int depth);

/* Two call sites per level: the bits of n choose the path, so each n has
 * its own stack.  The barrier after each call keeps it from being a tail
 * call, whose frame would vanish. */
__attribute__((noinline)) static void *
stack_left(unsigned bits, int depth)
{
	void *p = stack_step(bits, depth);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

__attribute__((noinline)) static void *
stack_right(unsigned bits, int depth)
{
	void *p = stack_step(bits, depth);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

static void *
stack_step(unsigned bits, int depth)
{
	if (depth == 0)
		return malloc(hide(48));
	return (bits & 1) ? stack_left(bits >> 1, depth - 1) : stack_right(bits >> 1, depth - 1);
}

/* STACKS live objects, each from its own stack; false if malloc failed. */
static bool
make_big_profile(void)
{
	for (unsigned n = 0; n < STACKS; n++) {
		if (stack_objs[n] == NULL)
			stack_objs[n] = stack_step(n, STACK_BITS);
		if (stack_objs[n] == NULL)
			return false;
	}
	return true;
}

/* ------------------------------------------------ files */

static int
dump_to(const char *path)
{
	return mallctl("prof.dump", NULL, NULL, &path, sizeof(path));
}

static void
make_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	FORK_CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
	FORK_CHECK(size == 0 || ftruncate(fd, (off_t)size) == 0, "ftruncate");
	close(fd);
}

#define FORK_CHECK_WHOLE(path, gz)                                                                 \
	do {                                                                                       \
		char why_[512];                                                                    \
		FORK_CHECK(dump_whole(path, gz, STACKS, NULL, why_, sizeof(why_)), "%s", why_);    \
	} while (0)

/* After failures: malloc works and a dump to good (a fresh path in a
 * writable folder) is whole, with every stack of the big profile. */
static void
expect_runs_on(const char *good)
{
	void *p = malloc(hide(3 * MiB));
	FORK_CHECK(p != NULL, "malloc after the failures");
	memset(p, 1, 3 * MiB);
	free(p);
	size_t len = strlen(good);
	FORK_CHECK(dump_to(good) == 0, "dump to %s after the failures", good);
	FORK_CHECK_WHOLE(good, len > 3 && strcmp(good + len - 3, ".gz") == 0);
}

/* Runs fn(dir) in a forked child, dir a fresh folder removed afterwards,
 * and fails the test unless the child exited 0 having printed exactly
 * "done\n" (forked children print nothing else on success), or, when skip
 * is not NULL, a first line starting with skip: the machine lacks something
 * the child needs, and that line goes to stderr with what was tested all
 * the same (tested). */
static void
run_forked_or_skip(void (*fn)(const void *), const char *skip, const char *tested)
{
	char dir[64], out[4096];
	temp_dir_make(dir, sizeof(dir), "dumpfail");
	int status = child_run_capture(fn, dir, out, sizeof(out));
	temp_dir_remove(dir); /* first, so a failure leaves nothing behind */
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child status %#x (signal %d; SIGXFSZ is %d): %s", (unsigned)status,
	              WIFSIGNALED(status) ? WTERMSIG(status) : 0, SIGXFSZ, out);
	if (skip != NULL && strncmp(out, skip, strlen(skip)) == 0)
		fprintf(stderr, "check_api_prof_dumpfail: %.*s; %s\n", (int)strcspn(out, "\n"), out,
		        tested);
	else
		ck_assert_msg(strcmp(out, "done\n") == 0, "the child printed: %s", out);
}

static void
run_forked(void (*fn)(const void *))
{
	run_forked_or_skip(fn, NULL, NULL);
}

/* ------------------------------------------------ RLIMIT_FSIZE */

static _Atomic int xfsz_caught;

static void
on_xfsz(int sig)
{
	(void)sig;
	xfsz_caught++;
}

static void
set_fsize(rlim_t bytes)
{
	struct rlimit lim;
	FORK_CHECK(getrlimit(RLIMIT_FSIZE, &lim) == 0, "getrlimit");
	lim.rlim_cur = bytes;
	FORK_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
}

/* Every way of dumping into dir fails under the current limit, and
 * leaves the folder empty. */
static void
expect_dumps_fail_in(const char *dir)
{
	char path[256];
	const char *names[] = {"x.heap", "x.heap.gz"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int err = dump_to(path);
		FORK_CHECK(err == EFAULT, "dump to %s: %d, not EFAULT", path, err);
	}
	snprintf(path, sizeof(path), "%s/auto", dir);
	const char *prefix = path;
	FORK_CHECK(mallctl("prof.prefix", NULL, NULL, &prefix, sizeof(prefix)) == 0, "prefix");
	FORK_CHECK(mallctl("prof.dump", NULL, NULL, NULL, 0) == EFAULT, "automatic name");
	FORK_CHECK(dir_entries(dir) == 0, "%d files left in %s", dir_entries(dir), dir);
}

static void
fsize_child(const void *arg)
{
	const char *dir = arg;
	char sub[256], path[256];
	snprintf(sub, sizeof(sub), "%s/limited", dir);
	FORK_CHECK(mkdir(sub, 0755) == 0, "mkdir");
	FORK_CHECK(make_big_profile(), "malloc");
	/* The dump is far bigger than the limit, compressed too. */
	snprintf(path, sizeof(path), "%s/unlimited.heap.gz", dir);
	FORK_CHECK(dump_to(path) == 0, "dump without a limit");
	struct stat st;
	FORK_CHECK(stat(path, &st) == 0 && st.st_size > 2 * (off_t)FSIZE_LIMIT,
	           "the gzip dump has %lld bytes", (long long)st.st_size);
	FORK_CHECK(unlink(path) == 0, "unlink");

	/* SIGXFSZ at its default action (which kills), the limit at 4 KiB
	 * and at 0. */
	FORK_CHECK(signal(SIGXFSZ, SIG_DFL) != SIG_ERR, "signal");
	set_fsize(FSIZE_LIMIT);
	expect_dumps_fail_in(sub);
	set_fsize(0);
	expect_dumps_fail_in(sub);
	/* Blocked, none is left pending. */
	sigset_t xfsz, pending;
	sigemptyset(&xfsz);
	sigaddset(&xfsz, SIGXFSZ);
	FORK_CHECK(sigprocmask(SIG_BLOCK, &xfsz, NULL) == 0, "block");
	set_fsize(FSIZE_LIMIT);
	expect_dumps_fail_in(sub);
	FORK_CHECK(sigpending(&pending) == 0 && !sigismember(&pending, SIGXFSZ),
	           "a SIGXFSZ is pending");
	FORK_CHECK(sigprocmask(SIG_UNBLOCK, &xfsz, NULL) == 0, "unblock");
	/* The program's own handler is never called, and stays. */
	struct sigaction sa = {.sa_handler = on_xfsz}, now;
	sigemptyset(&sa.sa_mask);
	FORK_CHECK(sigaction(SIGXFSZ, &sa, NULL) == 0, "sigaction");
	expect_dumps_fail_in(sub);
	FORK_CHECK(xfsz_caught == 0, "the handler ran %d times", xfsz_caught);
	FORK_CHECK(sigaction(SIGXFSZ, NULL, &now) == 0 && now.sa_handler == on_xfsz,
	           "the handler was replaced");
	/* The profile is whole: with the limit lifted, a dump has it all. */
	set_fsize(RLIM_INFINITY);
	snprintf(path, sizeof(path), "%s/after.heap.gz", dir);
	expect_runs_on(path);
	fprintf(stderr, "done\n");
}

START_TEST(test_fsize_limit_fails_whole_and_raises_nothing)
{
	run_forked(fsize_child);
}
END_TEST

/* ------------------------------------------------ mounts */

static void
mounts_child(const void *arg)
{
	const char *dir = arg;
	char why[256];
	if (!private_mounts(why, sizeof(why))) {
		fprintf(stderr, "skip: %s\n", why);
		return;
	}
	FORK_CHECK(make_big_profile(), "malloc");
	char full[256], noinode[256], ro[256], path[300];
	/* A 64 KiB tmpfs with 8 KiB left: the dump's writes fail. */
	snprintf(full, sizeof(full), "%s/full", dir);
	FORK_CHECK(mkdir(full, 0755) == 0, "mkdir");
	FORK_CHECK(mount("tmpfs", full, "tmpfs", 0, "size=64k") == 0, "mount: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/filler", full);
	make_file(path, 0);
	int fd = open(path, O_WRONLY);
	static char block[56 << 10];
	FORK_CHECK(write(fd, block, sizeof(block)) == (ssize_t)sizeof(block), "fill");
	close(fd);
	snprintf(path, sizeof(path), "%s/sub", full);
	FORK_CHECK(mkdir(path, 0755) == 0, "mkdir");
	/* A tmpfs whose one inode is its root: no file can be created. */
	snprintf(noinode, sizeof(noinode), "%s/noinode", dir);
	FORK_CHECK(mkdir(noinode, 0755) == 0, "mkdir");
	FORK_CHECK(mount("tmpfs", noinode, "tmpfs", 0, "size=64k,nr_inodes=1") == 0, "mount: %s",
	           strerror(errno));
	/* A read-only bind mount. */
	snprintf(ro, sizeof(ro), "%s/ro", dir);
	FORK_CHECK(mkdir(ro, 0755) == 0, "mkdir");
	FORK_CHECK(mount(ro, ro, NULL, MS_BIND, NULL) == 0 &&
	                   mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0,
	           "read-only bind: %s", strerror(errno));

	const char *dirs[] = {full, noinode, ro};
	const int entries[] = {2, 0, 0};
	for (int i = 0; i < 3; i++) {
		const char *names[] = {"x.heap", "x.heap.gz", "sub/x.heap.gz"};
		for (int j = 0; j < (i == 0 ? 3 : 2); j++) {
			snprintf(path, sizeof(path), "%s/%s", dirs[i], names[j]);
			int err = dump_to(path);
			FORK_CHECK(err == EFAULT, "dump to %s: %d, not EFAULT", path, err);
			FORK_CHECK(path_missing(path), "%s exists", path);
		}
		FORK_CHECK(dir_entries(dirs[i]) == entries[i], "%d files in %s",
		           dir_entries(dirs[i]), dirs[i]);
	}
	snprintf(path, sizeof(path), "%s/full/sub", dir);
	FORK_CHECK(dir_entries(path) == 0, "%d files in %s", dir_entries(path), path);
	/* The space and the profile are all still there. */
	snprintf(path, sizeof(path), "%s/full/filler", dir);
	FORK_CHECK(unlink(path) == 0, "unlink");
	snprintf(path, sizeof(path), "%s/full/after.heap.gz", dir);
	expect_runs_on(path);
	fprintf(stderr, "done\n");
}

START_TEST(test_full_tmpfs_and_read_only_mount)
{
	run_forked_or_skip(mounts_child, "skip: ",
	                   "no tmpfs or bind mount here: ENOSPC is met through a copy of "
	                   "/dev/full only");
}
END_TEST

/* ------------------------------------------------ unwritable paths */

static void
unwritable_child(const void *arg)
{
	const char *dir = arg;
	FORK_CHECK(make_big_profile(), "malloc");
	char file[256], path[320];
	snprintf(file, sizeof(file), "%s/file", dir);
	make_file(file, 0);
	char missing[300], under_file[300];
	snprintf(missing, sizeof(missing), "%s/missing/x.heap.gz", dir);
	snprintf(under_file, sizeof(under_file), "%s/file/x.heap", dir);
	const char *paths[] = {missing, under_file, "/proc/self/x.heap", "/proc/self/status",
	                       "/sys/x.heap.gz", "/proc/strata-missing/x.heap"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int err = dump_to(paths[i]);
		FORK_CHECK(err == EFAULT, "dump to %s: %d, not EFAULT", paths[i], err);
	}
	FORK_CHECK(dir_entries(dir) == 1, "%d files in %s", dir_entries(dir), dir);
	FORK_CHECK(path_missing("/proc/self/x.heap") && path_missing("/sys/x.heap.gz"),
	           "a dump appeared in /proc or /sys");
	/* A 0555 folder, for a user other than root (root writes anyway). */
	snprintf(path, sizeof(path), "%s/r-x", dir);
	FORK_CHECK(mkdir(path, 0555) == 0 && chmod(path, 0555) == 0, "mkdir");
	char ok[256];
	snprintf(ok, sizeof(ok), "%s/ok", dir);
	FORK_CHECK(mkdir(ok, 0777) == 0 && chmod(ok, 0777) == 0, "mkdir");
	if (geteuid() == 0) {
		FORK_CHECK(chmod(dir, 0755) == 0, "chmod");
		FORK_CHECK(setgid(65534) == 0 && setuid(65534) == 0, "becoming nobody");
	}
	snprintf(path, sizeof(path), "%s/r-x/x.heap.gz", dir);
	FORK_CHECK(dump_to(path) == EFAULT, "dump to %s", path);
	snprintf(path, sizeof(path), "%s/r-x", dir);
	FORK_CHECK(dir_entries(path) == 0, "%d files in %s", dir_entries(path), path);
	/* Nothing was printed (prof.dump reports through its result only),
	 * and the process runs on. */
	snprintf(path, sizeof(path), "%s/after.heap.gz", ok);
	expect_runs_on(path);
	fprintf(stderr, "done\n");
}

START_TEST(test_unwritable_paths_fail_silently)
{
	run_forked(unwritable_child);
}
END_TEST

/* ------------------------------------------------ paths that are no file */

/* Reads the FIFO (open on fd) to its end into path; exits 0, or 3 when the
 * copy fails.  Until a writer comes, read would see an end already, so it
 * first polls (bounded) for the first data: poll reports no hang-up before
 * a writer has come and gone. */
static void
fifo_reader(int fd, const char *path)
{
	int out = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int flags = fcntl(fd, F_GETFL);
	if (out < 0 || poll(&pfd, 1, CHILD_WAIT_S * 1000) != 1 || flags < 0 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
		_exit(3);
	char buf[8192];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			_exit(3);
	_exit(n == 0 && close(out) == 0 ? 0 : 3);
}

static void
expect_fifo(const char *path)
{
	struct stat st;
	FORK_CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode), "%s is no FIFO any more", path);
}

static void
expect_device(const char *path, dev_t rdev)
{
	struct stat st;
	FORK_CHECK(lstat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == rdev,
	           "%s is no longer the device", path);
}

static void
non_file_child(const void *arg)
{
	const char *dir = arg;
	FORK_CHECK(make_big_profile(), "malloc");
	char fifo[256], got[256];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(got, sizeof(got), "%s/got.heap", dir);
	FORK_CHECK(mkfifo(fifo, 0644) == 0, "mkfifo");
	/* Nobody reads: the dump fails at once instead of waiting. */
	FORK_CHECK(dump_to(fifo) == EFAULT, "dump to a FIFO nobody reads");
	expect_fifo(fifo);
	FORK_CHECK(dir_entries(dir) == 1, "%d files in %s", dir_entries(dir), dir);
	/* A reader (a child with the read end open before the dump) gets the
	 * whole dump. */
	int rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	FORK_CHECK(rfd >= 0, "open the read end");
	pid_t pid = fork();
	FORK_CHECK(pid >= 0, "fork");
	if (pid == 0)
		fifo_reader(rfd, got);
	close(rfd);
	FORK_CHECK(dump_to(fifo) == 0, "dump to a FIFO with a reader");
	int status;
	FORK_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	                   WEXITSTATUS(status) == 0,
	           "the reader failed: %#x", (unsigned)status);
	expect_fifo(fifo);
	FORK_CHECK_WHOLE(got, false);
	FORK_CHECK(dir_entries(dir) == 2, "%d files in %s", dir_entries(dir), dir);
	/* Device nodes, root only: a copy of /dev/null takes the dump, a copy
	 * of /dev/full fails it with ENOSPC; both stay devices. */
	char null[256], full[256];
	snprintf(null, sizeof(null), "%s/null", dir);
	snprintf(full, sizeof(full), "%s/full", dir);
	if (mknod(null, S_IFCHR | 0666, makedev(1, 3)) != 0 ||
	    mknod(full, S_IFCHR | 0666, makedev(1, 7)) != 0) {
		fprintf(stderr, "no device nodes (%s)\ndone\n", strerror(errno));
		return;
	}
	FORK_CHECK(dump_to(null) == 0, "dump to a copy of /dev/null");
	FORK_CHECK(dump_to(full) == EFAULT, "dump to a copy of /dev/full");
	expect_device(null, makedev(1, 3));
	expect_device(full, makedev(1, 7));
	FORK_CHECK(dir_entries(dir) == 4, "%d files in %s", dir_entries(dir), dir);
	fprintf(stderr, "done\n");
}

START_TEST(test_fifo_and_devices_are_written_in_place)
{
	run_forked_or_skip(non_file_child, "no device nodes", "FIFOs only");
}
END_TEST

/* ------------------------------------------------ symbolic links */

static void
expect_link(const char *path, const char *to)
{
	char got[PATH_MAX];
	ssize_t n = readlink(path, got, sizeof(got) - 1);
	FORK_CHECK(n > 0, "%s is no symbolic link any more", path);
	got[n] = '\0';
	FORK_CHECK(strcmp(got, to) == 0, "%s points to %s, not %s", path, got, to);
}

static void
links_child(const void *arg)
{
	const char *dir = arg;
	FORK_CHECK(make_big_profile(), "malloc");
	char sub[256], path[320], target[320], abs[320];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	FORK_CHECK(mkdir(sub, 0755) == 0, "mkdir");
	/* A relative link to a file not there yet, through a chain of two:
	 * the dump lands at the end of the chain, the links stay. */
	snprintf(path, sizeof(path), "%s/first", dir);
	FORK_CHECK(symlink("sub/second", path) == 0, "symlink");
	snprintf(path, sizeof(path), "%s/second", sub);
	FORK_CHECK(symlink("../sub/target.heap", path) == 0, "symlink");
	snprintf(path, sizeof(path), "%s/first", dir);
	FORK_CHECK(dump_to(path) == 0, "dump through two links");
	expect_link(path, "sub/second");
	snprintf(path, sizeof(path), "%s/second", sub);
	expect_link(path, "../sub/target.heap");
	snprintf(target, sizeof(target), "%s/target.heap", sub);
	FORK_CHECK_WHOLE(target, false);
	/* An absolute link to an existing file: the file is replaced whole. */
	snprintf(abs, sizeof(abs), "%s/abs.heap.gz", dir);
	FORK_CHECK(symlink(target, abs) == 0, "symlink");
	FORK_CHECK(dump_to(abs) == 0, "dump through an absolute link");
	expect_link(abs, target);
	FORK_CHECK_WHOLE(target, true);
	/* A loop fails, and changes nothing. */
	snprintf(path, sizeof(path), "%s/loop", dir);
	FORK_CHECK(symlink("loop", path) == 0, "symlink");
	FORK_CHECK(dump_to(path) == EFAULT, "dump to a loop");
	expect_link(path, "loop");
	FORK_CHECK(dir_entries(dir) == 4 && dir_entries(sub) == 2, "%d and %d files",
	           dir_entries(dir), dir_entries(sub));
	fprintf(stderr, "done\n");
}

START_TEST(test_symbolic_links_are_followed)
{
	run_forked(links_child);
}
END_TEST

/* ------------------------------------------------ long names */

/* A final name of NAME_MAX bytes is written (a temporary name, where one
 * is used, is cut to fit); one byte more fails. */
START_TEST(test_longest_name_is_written)
{
	char dir[64], path[PATH_MAX], name[NAME_MAX + 2];
	temp_dir_make(dir, sizeof(dir), "dumpfail");
	memset(name, 'n', sizeof(name) - 1);
	name[NAME_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(dump_to(path), EFAULT);
	ck_assert_int_eq(dir_entries(dir), 0);
	memcpy(name + NAME_MAX - 3, ".gz", 4);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(dump_to(path), 0);
	char why[512];
	ck_assert_msg(dump_whole(path, true, 1, NULL, why, sizeof(why)), "%s", why);
	ck_assert_int_eq(dir_entries(dir), 1);
	temp_dir_remove(dir);
}
END_TEST

/* ------------------------------------------------ automatic dumps */

/* The re-executed child under RLIMIT_FSIZE (run_limited): the big profile
 * with high-water and interval dumps on the way, the dump signal, a manual
 * dump; then exit, with the final dump and the leak report. */
static void
child_auto(void)
{
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	FORK_CHECK(make_big_profile(), "malloc");
	void *big[8];
	for (int i = 0; i < 8; i++) {
		big[i] = malloc(hide(MiB));
		FORK_CHECK(big[i] != NULL, "malloc");
		memset(big[i], i, MiB);
	}
	for (int i = 0; i < 8; i++)
		free(big[i]);
	/* m0, quiet; then the signal's dump, m1, in the dumper thread. */
	FORK_CHECK(mallctl("prof.dump", NULL, NULL, NULL, 0) == EFAULT, "manual dump");
	FORK_CHECK(raise(SIGUSR2) == 0, "raise");
	void *p = malloc(hide(MiB));
	FORK_CHECK(p != NULL, "malloc after the failures");
	free(p);
	printf("done\n");
	fflush(stdout);
	exit(0);
}

/* In a re-executed child: do what CHILD_ENV says, and exit.  Called by
 * test_suite, from main, after every constructor (strata's too). */
static void
child_main(void)
{
	const char *mode = getenv(CHILD_ENV);
	if (mode == NULL)
		return;
	FORK_CHECK(strcmp(mode, "auto") == 0, "unknown mode %s", mode);
	child_auto();
}

/* The file size limit of run_limited: no dump fits, not even one of the
 * few stacks there are at start. */
#define AUTO_FSIZE_LIMIT ((rlim_t)16)

/* Sets the soft RLIMIT_FSIZE to AUTO_FSIZE_LIMIT in run_limited's child,
 * before exec; exits 126 when it cannot. */
static void
limit_fsize_before_exec(const void *arg)
{
	(void)arg;
	struct rlimit lim;
	if (getrlimit(RLIMIT_FSIZE, &lim) != 0)
		_exit(126);
	lim.rlim_cur = AUTO_FSIZE_LIMIT;
	if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
		_exit(126);
}

/* Runs this program again in mode with MALLOC_CONF=conf, its standard
 * output and error into out, under a soft RLIMIT_FSIZE of AUTO_FSIZE_LIMIT
 * set before exec (so it holds from strata's start); the wait status. */
static int
run_limited(const char *mode, const char *conf, char *out, size_t size)
{
	child_how_t how = {.wait_s = 0, .prep = limit_fsize_before_exec, .arg = NULL};
	return child_run_self_conf(CHILD_ENV, mode, conf, CHILD_STDERR_PIPE, &how, out, size);
}

/* Lines of out that start with start. */
static int
count_lines(const char *out, const char *start)
{
	int n = 0;
	for (const char *l = out; l != NULL && *l != '\0';) {
		n += strncmp(l, start, strlen(start)) == 0;
		l = strchr(l, '\n');
		l = l != NULL ? l + 1 : NULL;
	}
	return n;
}

START_TEST(test_automatic_dumps_fail_with_one_line_each_and_exit_0)
{
	char dir[64], conf[400], out[65536], want[256];
	temp_dir_make(dir, sizeof(dir), "dumpfail");
	snprintf(conf, sizeof(conf),
	         "prof:true,lg_prof_sample:0,prof_signal:USR2,lg_prof_interval:20,"
	         "prof_gdump:true,prof_gdump_min_interval_ms:0,prof_final:true,prof_leak:true,"
	         "prof_prefix:%s/a",
	         dir);
	int status = run_limited("auto", conf, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child status %#x (signal %d); its output:\n%.3000s", (unsigned)status,
	              WIFSIGNALED(status) ? WTERMSIG(status) : 0, out);
	ck_assert_msg(strstr(out, "FAIL") == NULL && strstr(out, "done\n") != NULL, "%.3000s", out);
	const char *p = strstr(out, "pid=");
	ck_assert_ptr_nonnull(p);
	int pid = atoi(p + 4);
	/* One line per failed automatic dump, each saying why; at least one
	 * of each kind, one for the signal, one final. */
	char head[160];
	snprintf(head, sizeof(head), "<strata>: failed to write heap profile \"%s/a.%d.", dir, pid);
	int failed = count_lines(out, "<strata>: failed to write heap profile");
	ck_assert_msg(failed == count_lines(out, head), "%.3000s", out);
	const char *kinds[] = {".m1.heap.gz", ".i0.heap.gz", ".u0.heap.gz", ".f.heap.gz"};
	for (int k = 0; k < 4; k++) {
		snprintf(want, sizeof(want), "%s\": File too large\n", kinds[k]);
		ck_assert_msg(strstr(out, want) != NULL, "no line for %s in:\n%.3000s", kinds[k], out);
	}
	ck_assert_msg(strstr(out, ".m0.heap.gz") == NULL && strstr(out, ".m2.heap.gz") == NULL,
	              "the manual dump printed, or two signal dumps:\n%.3000s", out);
	int too_large = 0;
	for (const char *l = out; (l = strstr(l, "\": File too large\n")) != NULL; l++)
		too_large++;
	ck_assert_msg(too_large == failed, "%d failures, %d lines:\n%.3000s", too_large, failed, out);
	/* The leak report says why there is no final dump. */
	snprintf(want, sizeof(want), "<strata>: No final dump: writing \"%s/a.%d.", dir, pid);
	ck_assert_msg(count_lines(out, want) == 1, "%.3000s", out);
	ck_assert_msg(strstr(out, "Leak approximation summary") != NULL, "%.3000s", out);
	ck_assert_msg(dir_entries(dir) == 0, "%d files left in %s", dir_entries(dir), dir);
	temp_dir_remove(dir);
}
END_TEST

Suite *
test_suite(void)
{
	child_main();
	Suite *s = suite_create("api_prof_dumpfail");
	TCase *tc = tcase_create("dumpfail");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fsize_limit_fails_whole_and_raises_nothing);
	tcase_add_test(tc, test_full_tmpfs_and_read_only_mount);
	tcase_add_test(tc, test_unwritable_paths_fail_silently);
	tcase_add_test(tc, test_fifo_and_devices_are_written_in_place);
	tcase_add_test(tc, test_symbolic_links_are_followed);
	tcase_add_test(tc, test_longest_name_is_written);
	tcase_add_test(tc, test_automatic_dumps_fail_with_one_line_each_and_exit_0);
	suite_add_tcase(s, tc);
	return s;
}
