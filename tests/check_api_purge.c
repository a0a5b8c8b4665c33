/*
 * check_api_purge.c — the purger seen from a program (background.h):
 *   - an idle process gives its freed pages back with no allocation at all
 *     (the test reads RSS with raw system calls and waits on it, bounded);
 *   - without background_thread no purger thread exists;
 *   - fork while the purger runs: children allocate, free and get their own
 *     purger, which gives their pages back too;
 *   - the memory limit, in a real cgroup (a child cgroup of the host's v1
 *     memory hierarchy, where the host lets the test make one): with decay
 *     off, freed pages stay until memory taken outside strata brings the
 *     cgroup near its limit; then they are released at once.
 * Each case runs this program again with its own MALLOC_CONF; the child
 * prints one line and exits before main.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_util.h"
#include "cgroup_util.h"
#include "child_util.h"

#define CHILD_ENV "STRATA_PURGE_CHILD"
#define NOBJ 200000
#define OBJ_SIZE 320 /* 64 MiB in all */

/* RSS in bytes, without allocating. */
static size_t
rss_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strchr(buf, ' ');
	return p != NULL ? strtoul(p + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static void
nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Threads of this process named strata-purger. */
static int
purger_threads(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	if (d == NULL)
		return -1;
	struct dirent *ent;
	while ((ent = readdir(d)) != NULL) {
		char path[300], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", ent->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (len > 0 && strncmp(comm, "strata-purger", 13) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Allocates and frees 64 MiB of small objects; the pointers live in a
 * mapping of their own, unmapped before returning. */
static void
burst(void)
{
	void **ptrs = mmap(NULL, NOBJ * sizeof(void *), PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ptrs == MAP_FAILED)
		_exit(2);
	for (int i = 0; i < NOBJ; i++) {
		ptrs[i] = malloc(OBJ_SIZE);
		if (ptrs[i] == NULL)
			_exit(2);
		memset(ptrs[i], 1, OBJ_SIZE);
	}
	for (int i = 0; i < NOBJ; i++)
		free(ptrs[i]);
	munmap(ptrs, NOBJ * sizeof(void *));
}

/* Waits, up to bound_ms, for RSS to come within 10% + 2 MiB of baseline; the
 * milliseconds it took, or -1. */
static long
wait_rss_back(size_t baseline, long bound_ms)
{
	size_t limit = baseline + baseline / 10 + 2 * MiB;
	for (long waited = 0; waited <= bound_ms; waited += 10) {
		if (rss_bytes() <= limit)
			return waited;
		nap_ms(10);
	}
	return -1;
}

/* CHILD_ENV=idle: burst, then nothing but reading RSS. */
static void
child_idle(void)
{
	free(malloc(64)); /* the allocator and this thread's cache are set up */
	size_t baseline = rss_bytes();
	burst();
	size_t peak = rss_bytes();
	long ms = wait_rss_back(baseline, 5000);
	printf("peak_over_base=%d returned=%d purgers=%d\n", peak > baseline + 32 * MiB, ms >= 0,
	       purger_threads() > 0);
}

/* CHILD_ENV=nothread: background_thread:false never makes a purger. */
static void
child_nothread(void)
{
	burst();
	burst();
	printf("purgers=%d\n", purger_threads());
}

static _Atomic bool churn_stop;

static void *
churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&churn_stop)) {
		void *blocks[16];
		for (int i = 0; i < 16; i++)
			blocks[i] = malloc(256 * KiB);
		for (int i = 0; i < 16; i++)
			free(blocks[i]);
	}
	return NULL;
}

/* CHILD_ENV=fork: a thread churns (the purger busy every 100 ms), the main
 * thread forks; each child bursts and must see its pages come back. */
static void
child_fork(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, churn, NULL) != 0)
		_exit(2);
	int ok = 0;
	for (int i = 0; i < 8; i++) {
		nap_ms(15);
		pid_t pid = fork();
		if (pid == 0) {
			size_t baseline = rss_bytes();
			burst();
			long ms = wait_rss_back(baseline, 5000);
			_exit(ms >= 0 && purger_threads() > 0 ? 0 : 1);
		}
		int status;
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	atomic_store(&churn_stop, true);
	pthread_join(t, NULL);
	printf("children_ok=%d parent_purgers=%d\n", ok, purger_threads() > 0);
}

/* A number from a file (a cgroup's usage); 0 when unreadable. */
static size_t
read_number(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

#define MEMLIMIT_BYTES (192 * MiB)
#define MEMLIMIT_CGROUP_ENV "STRATA_PURGE_CGROUP"

/* CHILD_ENV=memlimit, in a cgroup limited to MEMLIMIT_BYTES: 96 MiB freed
 * and kept (decay -1), then memory touched outside strata until the cgroup
 * is within 1/32 of its limit; the freed pages must go, within a bound. */
static void
child_memlimit(void)
{
	char usage_path[4400];
	snprintf(usage_path, sizeof(usage_path), "%s/memory.usage_in_bytes",
	         getenv(MEMLIMIT_CGROUP_ENV));
	enum { NBLOCKS = 48 };
	void *blocks[NBLOCKS];
	for (int i = 0; i < NBLOCKS; i++) {
		blocks[i] = malloc(2 * MiB);
		memset(blocks[i], 1, 2 * MiB);
	}
	for (int i = 0; i < NBLOCKS; i++)
		free(blocks[i]);
	size_t held = rss_bytes();
	size_t near = MEMLIMIT_BYTES - MEMLIMIT_BYTES / 32;
	size_t room = 120 * MiB;
	char *outside = mmap(NULL, room, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (outside == MAP_FAILED)
		_exit(2);
	size_t touched = 0;
	while (read_number(usage_path) < near && touched < room) {
		memset(outside + touched, 1, MiB);
		touched += MiB;
	}
	size_t usage_near = read_number(usage_path);
	/* Now wait, allocating nothing, until the purger has checked the limit
	 * and released the pages (and counted it). */
	bool released = false;
	uint64_t releases = 0;
	int err = 0;
	for (long waited = 0; waited <= 5000 && !(released && releases >= 1); waited += 10) {
		released = rss_bytes() + 64 * MiB < held + touched;
		uint64_t epoch = 1;
		size_t len = sizeof(epoch);
		err |= mallctl("epoch", &epoch, &len, &epoch, len);
		len = sizeof(releases);
		err |= mallctl("stats.memory_limit.releases", &releases, &len, NULL, 0);
		if (!(released && releases >= 1))
			nap_ms(10);
	}
	size_t limit = 0;
	size_t len = sizeof(limit);
	err |= mallctl("stats.memory_limit.limit", &limit, &len, NULL, 0);
	printf("near=%d released=%d releases=%d limit=%d\n", usage_near >= near, released,
	       err == 0 && releases >= 1, limit == MEMLIMIT_BYTES);
}

__attribute__((constructor)) static void
child_main(void)
{
	const char *mode = getenv(CHILD_ENV);
	if (mode == NULL)
		return;
	if (strcmp(mode, "idle") == 0)
		child_idle();
	else if (strcmp(mode, "nothread") == 0)
		child_nothread();
	else if (strcmp(mode, "fork") == 0)
		child_fork();
	else if (strcmp(mode, "memlimit") == 0)
		child_memlimit();
	else
		_exit(3);
	fflush(stdout);
	_exit(0);
}

START_TEST(test_idle_process_returns_memory)
{
	char buf[256];
	child_run_mode(CHILD_ENV, "idle", "dirty_decay_ms:1000", buf, sizeof(buf));
	ck_assert_str_eq(buf, "peak_over_base=1 returned=1 purgers=1\n");
}
END_TEST

START_TEST(test_no_purger_without_background_thread)
{
	char buf[256];
	child_run_mode(CHILD_ENV, "nothread", "background_thread:false", buf, sizeof(buf));
	ck_assert_str_eq(buf, "purgers=0\n");
}
END_TEST

START_TEST(test_fork_while_purger_runs)
{
	char buf[256];
	child_run_mode(CHILD_ENV, "fork", "dirty_decay_ms:100", buf, sizeof(buf));
	ck_assert_str_eq(buf, "children_ok=8 parent_purgers=1\n");
}
END_TEST

static char memlimit_cgroup[4300];

/* In a forked child: join the cgroup, then run this program again in it
 * (so that strata finds the limit when it starts). */
static void
memlimit_exec(const void *arg)
{
	(void)arg;
	char path[4400], pid[32], env_cgroup[4400];
	snprintf(path, sizeof(path), "%s/cgroup.procs", memlimit_cgroup);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (!cgroup_write_text(path, pid)) {
		printf("skip: cannot join %s: %s\n", memlimit_cgroup, strerror(errno));
		return;
	}
	snprintf(env_cgroup, sizeof(env_cgroup), MEMLIMIT_CGROUP_ENV "=%s", memlimit_cgroup);
	char *argv[] = {"strata-test-child", NULL};
	char *env[] = {CHILD_ENV "=memlimit", "MALLOC_CONF=dirty_decay_ms:-1", env_cgroup, NULL};
	dup2(STDERR_FILENO, STDOUT_FILENO);
	execve("/proc/self/exe", argv, env);
	_exit(127);
}

START_TEST(test_memory_limit_releases_in_a_cgroup)
{
	char current[4096], path[4400], buf[512];
	if (!cgroup_v1_memory_folder(current, sizeof(current))) {
		fprintf(stderr, "check_api_purge: note: no cgroup v1 memory hierarchy here; "
		                "the memory-limit test asserts nothing\n");
		return;
	}
	snprintf(memlimit_cgroup, sizeof(memlimit_cgroup), "%s/strata-purge-%d", current,
	         (int)getpid());
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", memlimit_cgroup);
	snprintf(buf, sizeof(buf), "%zu\n", MEMLIMIT_BYTES);
	if (mkdir(memlimit_cgroup, 0755) != 0 || !cgroup_write_text(path, buf)) {
		fprintf(stderr, "check_api_purge: note: cannot make %s (%s); the memory-limit "
		                "test asserts nothing\n", memlimit_cgroup, strerror(errno));
		rmdir(memlimit_cgroup);
		return;
	}
	int status = child_run_capture(memlimit_exec, NULL, buf, sizeof(buf));
	rmdir(memlimit_cgroup);
	if (strncmp(buf, "skip: ", 6) == 0) {
		fprintf(stderr, "check_api_purge: note: %s", buf + 6);
		return;
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s", buf);
	ck_assert_str_eq(buf, "near=1 released=1 releases=1 limit=1\n");
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_purge");
	TCase *tc = tcase_create("api_purge");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_idle_process_returns_memory);
	tcase_add_test(tc, test_no_purger_without_background_thread);
	tcase_add_test(tc, test_fork_while_purger_runs);
	tcase_add_test(tc, test_memory_limit_releases_in_a_cgroup);
	suite_add_tcase(s, tc);
	return s;
}
