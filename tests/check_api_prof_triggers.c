/*
 * check_api_prof_triggers.c — what makes the profiler write a dump, and
 * what happens when writing fails, through the public API:
 *   - the dump signal (prof_signal:USR2) sent 100 times while 4 threads
 *     allocate: complete dumps only, each with its recent allocations
 *     beside it, no temporary file left, no deadlock; the recent
 *     allocations' file itself (prof_time_resolution:high) and its absence
 *     when the ring is off;
 *   - fork while another thread dumps: every child can dump and exits;
 *   - dumps to a missing or unwritable folder, onto a folder, past
 *     RLIMIT_FSIZE: EFAULT and nothing at the path; automatic dumps that
 *     fail print one line and the process runs on;
 *   - interval dumps (lg_prof_interval), high-water dumps (prof_gdump, and
 *     their rate limit), the final dump (prof_final, plain or gzip);
 *   - experimental.hooks.prof_dump, prof.prefix and the m numbering;
 *   - the prof.* nodes without the profiler (prof:false).
 *
 * The suite runs with the profiler on and no trigger (malloc_conf below),
 * so the Check runner and its forked tests have no dumper thread.  Options
 * are read at start, so each trigger is tested in a fresh run of this
 * program (child_run_self) with its MALLOC_CONF, which does one thing
 * (CHILD_ENV names it) and exits.  Check cannot run there, so the child
 * prints "FAIL ..." and exits 3 on a failed check, and prints what the
 * test needs ("pid=...") on standard output, where its standard error goes
 * too.  The child's work starts in test_suite (from main), not in a
 * constructor: strata's own constructor must have run first.  Dumps go to
 * fresh folders under /tmp.
 *
 * Waiting for the dumper: an automatic dump is requested synchronously (the
 * signal handler, or the sampled allocation that crosses an interval or a
 * high-water mark, sets a bit and wakes the thread before it returns), and
 * the dumper sleeps in FUTEX_WAIT on its request word with the value 0 only
 * when no request is pending.  So "the thread named strata-dumper is asleep
 * (/proc/self/task/<tid>/stat) in futex(..., FUTEX_WAIT_PRIVATE, 0)
 * (/proc/self/task/<tid>/syscall)" after the last request means every
 * request has been served, and a temporary file seen then is a leftover.
 * Both are needed: a thread just woken is runnable, but until it runs its
 * syscall file still shows the wait.  Each wait is a poll with a deadline.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"
#include "dump_util.h"
#include "thread_util.h"

/* One sample per 16 KiB on average: a 64 KiB allocation is sampled with
 * probability 0.98, a 1 MiB one always (1 - e^-64). */
#ifdef STRATA_TSAN
/* Under check-tsan the purger threads stay off: a fork child recreates them,
 * and TSan's runtime kills a child of a multi-threaded process that starts
 * a thread. */
const char *malloc_conf = "prof:true,lg_prof_sample:14,background_thread:false";
#else
const char *malloc_conf = "prof:true,lg_prof_sample:14";
#endif

#define CHILD_ENV "STRATA_TEST_TRIG_CHILD"
#define CHILD_DIR_ENV "STRATA_TEST_TRIG_DIR"
/* Bound of each poll for a dump or for the dumper to go idle. */
#define POLL_WAIT_S 5.0

/* ------------------------------------------------ folders and file names */

static bool
is_tmp_name(const char *name)
{
	return strstr(name, ".tmp.") != NULL;
}

/* An automatic dump's name: <base>.<pid>.<seq>.<kind>[<n>].heap[.gz]. */
typedef struct dump_name {
	unsigned long long seq;
	char kind;
	long long n; /* -1 when the name has no number (the final dump) */
	bool gz;
} dump_name_t;

static bool
parse_dump_name(const char *name, const char *base, int pid, dump_name_t *out)
{
	char head[64];
	int hl = snprintf(head, sizeof(head), "%s.%d.", base, pid);
	if (strncmp(name, head, (size_t)hl) != 0)
		return false;
	const char *p = name + hl;
	char *end;
	errno = 0;
	out->seq = strtoull(p, &end, 10);
	if (end == p || *end != '.' || errno != 0)
		return false;
	p = end + 1;
	out->kind = *p++;
	if (out->kind != 'm' && out->kind != 'i' && out->kind != 'u' && out->kind != 'f')
		return false;
	out->n = -1;
	if (*p >= '0' && *p <= '9') {
		out->n = strtoll(p, &end, 10);
		p = end;
	}
	if (strcmp(p, ".heap.gz") == 0)
		out->gz = true;
	else if (strcmp(p, ".heap") == 0)
		out->gz = false;
	else
		return false;
	return true;
}

/* The ring of recent allocations that a signal's dump writes beside it. */
static bool
is_recent_name(const char *name)
{
	size_t n = strlen(name), k = strlen(".recent.json.gz");
	return (n > k && strcmp(name + n - k, ".recent.json.gz") == 0) ||
	       (n > k - 3 && strcmp(name + n - (k - 3), ".recent.json") == 0);
}

/* What a folder holds: its automatic dumps of one process (up to max
 * names), and counts of temporary files, of recent-allocation files and of
 * anything else. */
typedef struct dir_scan {
	int ndumps, ntmp, nrecent, nother;
	char names[128][128];
	dump_name_t dumps[128];
	char other[128]; /* the first unexpected name */
} dir_scan_t;

static void
scan_dir(const char *dir, const char *base, int pid, dir_scan_t *s)
{
	memset(s, 0, sizeof(*s));
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		dump_name_t dn;
		if (is_tmp_name(e->d_name)) {
			s->ntmp++;
		} else if (is_recent_name(e->d_name)) {
			s->nrecent++;
		} else if (parse_dump_name(e->d_name, base, pid, &dn)) {
			if (s->ndumps < 128) {
				s->dumps[s->ndumps] = dn;
				snprintf(s->names[s->ndumps], sizeof(s->names[0]), "%.127s",
				         e->d_name);
			}
			s->ndumps++;
		} else {
			if (s->nother++ == 0)
				snprintf(s->other, sizeof(s->other), "%.127s", e->d_name);
		}
	}
	closedir(d);
}

/* ------------------------------------------------ reading dumps back */

/* path holds a whole dump (dump_util.h), with want when not NULL. */
static void
expect_dump_complete(const char *path, bool gz, const char *want)
{
	char why[512];
	ck_assert_msg(dump_whole(path, gz, 0, want, why, sizeof(why)), "%s", why);
}

/* ------------------------------------------------ bounded polls */

/* The pause between two looks at a condition polled with a deadline. */
static void
poll_pause(void)
{
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
}

/* Reads the start of a small file (a /proc entry) into buf, NUL-terminated,
 * without allocating: the polls run in children that sample every
 * allocation into a ring of 50, and must not push the allocations under
 * test out of it.  false when it cannot be read. */
static bool
read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0;
}

/* The dumper thread's id (its name is strata-dumper), or 0; reads the task
 * folder with getdents64 into a stack buffer (opendir would allocate). */
static pid_t
dumper_tid(void)
{
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	pid_t found = 0;
	char entries[4096];
	long n;
	while (found == 0 && (n = syscall(SYS_getdents64, fd, entries, sizeof(entries))) > 0) {
		for (long off = 0; found == 0 && off < n;) {
			const struct dirent64 *e = (const struct dirent64 *)(entries + off);
			off += e->d_reclen;
			if (e->d_name[0] == '.')
				continue;
			char path[64], comm[32];
			snprintf(path, sizeof(path), "/proc/self/task/%.20s/comm", e->d_name);
			if (read_small_file(path, comm, sizeof(comm)) &&
			    strcmp(comm, "strata-dumper\n") == 0)
				found = (pid_t)atoi(e->d_name);
		}
	}
	close(fd);
	return found;
}

/* Whether thread tid is asleep (state S in /proc/self/task/<tid>/stat).  A
 * thread that FUTEX_WAKE woke is runnable (R) at once, though until it runs
 * its syscall file still shows the wait it is leaving. */
static bool
thread_sleeps(pid_t tid)
{
	char path[64], stat[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	bool got = read_small_file(path, stat, sizeof(stat));
	const char *state = got ? strrchr(stat, ')') : NULL;
	return state != NULL && state[1] == ' ' && state[2] == 'S';
}

/* Whether the dumper sleeps with no request pending: asleep, blocked in
 * futex(word, FUTEX_WAIT_PRIVATE, 0) (a lock's wait passes 2). */
static bool
dumper_idle(void)
{
	pid_t tid = dumper_tid();
	if (tid == 0 || !thread_sleeps(tid))
		return false;
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	bool got = read_small_file(path, line, sizeof(line));
	long nr;
	unsigned long word, op, val;
	return got && sscanf(line, "%ld %lx %lx %lx", &nr, &word, &op, &val) == 4 &&
	       nr == SYS_futex && op == 0x80 && val == 0;
}

/* Polls until the dumper has served every request made so far (seen idle
 * twice in a row); false after POLL_WAIT_S. */
static bool
wait_dumper_idle(void)
{
	double deadline = child_now_s() + POLL_WAIT_S;
	int seen = 0;
	while (child_now_s() < deadline) {
		seen = dumper_idle() ? seen + 1 : 0;
		if (seen == 2)
			return true;
		poll_pause();
	}
	return false;
}

/* Waits for the child pid to end, at most seconds; its wait status, or -1
 * after killing it when it did not end in time. */
static int
wait_child_bounded(pid_t pid, double seconds)
{
	double deadline = child_now_s() + seconds;
	for (;;) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 || child_now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		poll_pause();
	}
}

/* ------------------------------------------------ mallctl helpers */

static int
dump_to(const char *path)
{
	return mallctl("prof.dump", NULL, NULL, &path, sizeof(path));
}

static void
set_prefix(const char *prefix)
{
	ck_assert_int_eq(mallctl("prof.prefix", NULL, NULL, &prefix, sizeof(prefix)), 0);
}

/* ------------------------------------------------ re-executed children */

/* In a re-executed child, a failed check: says so on standard output and
 * exits 3 at once (no exit handlers, so no final dump). */
#define CHILD_CHECK(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("FAIL line %d: ", __LINE__);                                        \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
			fflush(stdout);                                                            \
			_exit(3);                                                                  \
		}                                                                                  \
	} while (0)

static int
count_kind(const char *dir, const char *base, char kind, int *ntmp)
{
	dir_scan_t *s = malloc(sizeof(*s));
	scan_dir(dir, base, getpid(), s);
	int n = 0;
	for (int i = 0; i < s->ndumps && i < 128; i++)
		n += s->dumps[i].kind == kind;
	if (ntmp != NULL)
		*ntmp = s->ntmp;
	free(s);
	return n;
}

/* Polls until the folder holds more than had dumps of kind; false after
 * POLL_WAIT_S. */
static bool
wait_more_dumps(const char *dir, const char *base, char kind, int had)
{
	double deadline = child_now_s() + POLL_WAIT_S;
	while (child_now_s() < deadline) {
		if (count_kind(dir, base, kind, NULL) > had)
			return true;
		poll_pause();
	}
	return false;
}

/* -------- the signal storm (prof_signal:USR2, prof_prefix:<dir>/s) */

#define STORM_THREADS 4
#define STORM_SIGNALS 100
#define STORM_BURST 10

static _Atomic bool storm_stop;
static _Atomic unsigned long storm_rounds;

/* Allocates and frees until told to stop: a ring of 64 live objects of
 * 16 B to 64 KiB, replaced in an order fixed by the seed. */
static void *
storm_thread(void *arg)
{
	uint32_t x = 0x9e3779b9u * (uint32_t)(uintptr_t)arg;
	void *ring[64] = {0};
#ifdef STRATA_TSAN
	/* Under ThreadSanitizer (make check-tsan) a thread that has called
	 * libunwind crashes at exit: libunwind's thread-specific destructor
	 * locks a mutex through TSan's interceptor after TSan has torn the
	 * thread down.  These threads allocate without sampling there. */
	bool off = false;
	if (mallctl("thread.prof.active", NULL, NULL, &off, sizeof(off)) != 0)
		return (void *)1;
#endif
	while (!atomic_load(&storm_stop)) {
		for (int i = 0; i < 64; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			size_t size = (x & 7) == 0 ? 16 + x % (64 * KiB) : 16 + x % 1024;
			unsigned slot = (x >> 8) % 64;
			free(ring[slot]);
			ring[slot] = malloc(size);
			if (ring[slot] == NULL)
				return (void *)1;
			memset(ring[slot], (int)slot, 16);
		}
		atomic_fetch_add(&storm_rounds, 1);
	}
	for (int i = 0; i < 64; i++)
		free(ring[i]);
	return NULL;
}

static void
child_signal_storm(const char *dir)
{
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	pthread_t t[STORM_THREADS];
	for (uintptr_t i = 0; i < STORM_THREADS; i++)
		CHILD_CHECK(pthread_create(&t[i], NULL, storm_thread, (void *)(i + 1)) == 0,
		            "pthread_create");
	/* The threads are allocating before the first signal. */
	double deadline = child_now_s() + POLL_WAIT_S;
	while (atomic_load(&storm_rounds) < 8 * STORM_THREADS && child_now_s() < deadline)
		poll_pause();
	CHILD_CHECK(atomic_load(&storm_rounds) >= 8 * STORM_THREADS, "threads do not allocate");
	/* Bursts of signals; after each, a new dump must appear, so dumps are
	 * written while the threads allocate and the signals come. */
	for (int i = 0; i < STORM_SIGNALS; i++) {
		int had = count_kind(dir, "s", 'm', NULL);
		CHILD_CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
		if (i % STORM_BURST == STORM_BURST - 1)
			CHILD_CHECK(wait_more_dumps(dir, "s", 'm', had),
			            "no dump within %.0f s of signal %d", POLL_WAIT_S, i + 1);
	}
	atomic_store(&storm_stop, true);
	for (int i = 0; i < STORM_THREADS; i++) {
		struct timespec deadline_ts = deadline_in(THREAD_WAIT_S);
		void *res = NULL;
		int err = pthread_timedjoin_np(t[i], &res, &deadline_ts);
		CHILD_CHECK(err == 0, "thread %d not joined within %d s (deadlock?)", i,
		            THREAD_WAIT_S);
		CHILD_CHECK(res == NULL, "thread %d: malloc failed", i);
	}
	CHILD_CHECK(wait_dumper_idle(), "the dumper is still busy after %.0f s", POLL_WAIT_S);
	printf("rounds=%lu done\n", atomic_load(&storm_rounds));
	fflush(stdout);
	_exit(0);
}

/* -------- a failing automatic dump (prof_signal:USR2, prof_prefix into a
 * missing folder), then one that works after prof.prefix changes */

static void
child_signal_fail(const char *dir)
{
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	CHILD_CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
	CHILD_CHECK(wait_dumper_idle(), "the dumper is still busy after %.0f s", POLL_WAIT_S);
	char prefix[256];
	snprintf(prefix, sizeof(prefix), "%s/ok", dir);
	const char *p = prefix;
	CHILD_CHECK(mallctl("prof.prefix", NULL, NULL, &p, sizeof(p)) == 0, "prof.prefix");
	CHILD_CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
	CHILD_CHECK(wait_dumper_idle(), "the dumper is still busy after %.0f s", POLL_WAIT_S);
	printf("done\n");
	fflush(stdout);
	_exit(0);
}

/* -------- the dump signal in a fork child (prof_signal:USR2, prof_prefix:
 * <dir>/s), as daemon(3) makes one: the child signals itself and polls,
 * allocating nothing, for its dump; then makes one sampled allocation and
 * polls again.  The grandchild writes to the same standard output. */

/* Polls for path to exist, at most seconds, calling no allocator. */
static bool
wait_path_no_malloc(const char *path, double seconds)
{
	double deadline = child_now_s() + seconds;
	while (child_now_s() < deadline) {
		if (access(path, F_OK) == 0)
			return true;
		poll_pause();
	}
	return false;
}

static void
child_daemon_signal(const char *dir)
{
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	pid_t pid = fork();
	CHILD_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		char path[256];
		snprintf(path, sizeof(path), "%s/s.%d.0.m0.heap.gz", dir, (int)getpid());
		kill(getpid(), SIGUSR2);
		bool served = wait_path_no_malloc(path, 1.0);
		void *p = launder(malloc(hide(MiB))); /* always sampled */
		bool after_sample = served || wait_path_no_malloc(path, 3.0);
		printf("served=%s after_sample=%s\n", served ? "yes" : "no",
		       after_sample ? "yes" : "no");
		fflush(stdout);
		free(p);
		_exit(0);
	}
	int status = wait_child_bounded(pid, 2 * POLL_WAIT_S);
	CHILD_CHECK(status == 0, "the fork child: status %#x", status);
	printf("done\n");
	fflush(stdout);
	_exit(0);
}

/* -------- the signal's dump of recent allocations (prof_signal:USR2,
 * prof_prefix:<dir>/s, lg_prof_sample:0): one allocation of 12345 bytes is
 * kept; the child prints the real time before it signals itself. */

static void
child_signal_recent(const char *dir)
{
	(void)dir;
	static void *keep;
	keep = malloc(12345);
	CHILD_CHECK(keep != NULL, "malloc");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	printf("pid=%d realtime=%lld\n", (int)getpid(),
	       (long long)now.tv_sec * 1000000000ll + now.tv_nsec);
	fflush(stdout);
	CHILD_CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
	CHILD_CHECK(wait_dumper_idle(), "the dumper is still busy after %.0f s", POLL_WAIT_S);
	printf("done\n");
	fflush(stdout);
	_exit(0);
}

/* -------- interval dumps (lg_prof_interval:20, prof_prefix:<dir>/i) */

static void
child_interval(const char *dir)
{
	(void)dir;
	uint64_t interval = 0;
	size_t len = sizeof(interval);
	CHILD_CHECK(mallctl("prof.interval", &interval, &len, NULL, 0) == 0, "prof.interval");
	printf("pid=%d interval=%llu\n", (int)getpid(), (unsigned long long)interval);
	fflush(stdout);
	/* 20 MiB allocated and freed, 64 KiB at a time. */
	for (int i = 0; i < 320; i++) {
		char *p = malloc(64 * KiB);
		CHILD_CHECK(p != NULL, "malloc");
		p[0] = p[64 * KiB - 1] = (char)i;
		free(launder(p));
	}
	CHILD_CHECK(wait_dumper_idle(), "the dumper is still busy after %.0f s", POLL_WAIT_S);
	printf("done\n");
	fflush(stdout);
	_exit(0);
}

/* -------- high-water dumps (prof_gdump:true, prof_prefix:<dir>/u): the
 * heap grows by 1 MiB (always sampled) GDUMP_STEPS times; after each step
 * the dumper serves what was asked, so requests never coalesce.  Nothing
 * is allocated after the last wait (stdout's buffer exists by then), so no
 * dump is running when the child exits. */

#define GDUMP_STEPS 16

static void
child_gdump(const char *dir)
{
	(void)dir;
	double start = child_now_s();
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	/* The high-water mark is checked at a sample, before the sampled
	 * object is placed: with strata's heap still empty (make check-tsan,
	 * where libc's allocations do not reach strata) the first check
	 * would see no growth.  So the heap holds something first. */
	static void *keep[GDUMP_STEPS], *first;
	first = malloc(4096);
	CHILD_CHECK(first != NULL, "malloc");
	for (int i = 0; i < GDUMP_STEPS; i++) {
		keep[i] = malloc(MiB);
		CHILD_CHECK(keep[i] != NULL, "malloc");
		memset(keep[i], i, 4096);
		CHILD_CHECK(wait_dumper_idle(), "the dumper is still busy %.0f s after step %d",
		            POLL_WAIT_S, i);
	}
	printf("elapsed_ms=%d done\n", (int)((child_now_s() - start) * 1000));
	fflush(stdout);
	_exit(0);
}

/* -------- exits while the dumper writes.  A dump being written has no
 * name yet: it is an unnamed file (O_TMPFILE) of the folder, which
 * /proc/self/fd shows as "<dir>/#<inode> (deleted)", or, on a file system
 * without O_TMPFILE, a file under a temporary name. */

/* Whether this process is writing a dump file in dir that has no name yet. */
static bool
dump_file_in_progress(const char *dir)
{
	int ntmp = 0;
	count_kind(dir, "x", 'u', &ntmp);
	if (ntmp != 0)
		return true;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return false;
	size_t dir_len = strlen(dir);
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		char link[PATH_MAX + 32], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = strncmp(target, dir, dir_len) == 0 && strncmp(target + dir_len, "/#", 2) == 0 &&
		        strstr(target, " (deleted)") != NULL;
	}
	closedir(d);
	return found;
}

/* (prof_gdump:true, prof_prefix:<dir>/x): each new high asks for a dump;
 * once a dump is being written, the program exits, as short programs do,
 * printing how many u dumps were complete before (that one is the next).
 * A dump that ends before it is seen is followed by another new high. */
static void
child_exit_during_dump(const char *dir)
{
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	static void *heap[64];
	heap[0] = malloc(4096); /* not empty: see child_gdump */
	CHILD_CHECK(heap[0] != NULL, "malloc");
	int highs = 0, complete = 0;
	bool writing = false;
	double deadline = child_now_s() + POLL_WAIT_S;
	while (child_now_s() < deadline && !writing) {
		complete = count_kind(dir, "x", 'u', NULL);
		if (highs < 63 && complete >= highs) {
			heap[++highs] = malloc(MiB); /* always sampled: a new high */
			CHILD_CHECK(heap[highs] != NULL, "malloc");
		}
		writing = dump_file_in_progress(dir);
	}
	printf("writing=%d complete=%d highs=%d exiting\n", writing, complete, highs);
	fflush(stdout);
	exit(0);
}

/* -------- exit while the dumper writes the recent allocations beside a
 * signal's dump (prof_signal:USR2, lg_prof_sample:0,
 * prof_recent_alloc_max:-1, prof_prefix:<dir>/x): 40000 allocations fill
 * the ring, so its JSON takes a while to write; once it is being written
 * (the signal's heap dump, written first, is there and the JSON is not),
 * the program exits. */

#define RECENT_FILL 40000

/* Whether dir holds the n-th signal dump's file with suffix: its heap
 * dump (".heap.gz") or its recent allocations (".recent.json.gz"). */
static bool
signal_file_exists(const char *dir, int n, const char *suffix)
{
	char tail[64];
	snprintf(tail, sizeof(tail), ".m%d%s", n, suffix);
	size_t tail_len = strlen(tail);
	DIR *d = opendir(dir);
	if (d == NULL)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		found = len > tail_len && strcmp(e->d_name + len - tail_len, tail) == 0;
	}
	closedir(d);
	return found;
}

/* Polls until the recent allocations of the n-th signal's dump are being
 * written, for at most bound_s seconds. */
static bool
wait_recent_in_progress(const char *dir, int n, double bound_s)
{
	double deadline = child_now_s() + bound_s;
	bool seen = false;
	while (!seen && child_now_s() < deadline)
		seen = signal_file_exists(dir, n, ".heap.gz") &&
		       !signal_file_exists(dir, n, ".recent.json.gz") && dump_file_in_progress(dir);
	return seen;
}

/* Prints the pid, fills the ring with RECENT_FILL live allocations and
 * sends the dump signal. */
static void
fill_ring_and_signal(void)
{
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	static void *keep[RECENT_FILL];
	for (int i = 0; i < RECENT_FILL; i++) {
		keep[i] = malloc(64 + i % 512);
		CHILD_CHECK(keep[i] != NULL, "malloc");
	}
	CHILD_CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
}

static void
child_exit_during_recent_dump(const char *dir)
{
	fill_ring_and_signal();
	bool seen = wait_recent_in_progress(dir, 0, POLL_WAIT_S);
	printf("recent_writing=%d exiting\n", seen);
	fflush(stdout);
	exit(0);
}

/* -------- exit while the dumper serves a batch of two requests (the same
 * options plus lg_prof_interval:26): the ring is filled as above; a first
 * signal's dump writes its recent allocations; meanwhile a second signal
 * and a 64 MiB allocation (an interval crossed) wait, so the dumper takes
 * them together.  Once the second signal's recent allocations are being
 * written, with the interval dump still to come in that batch, the
 * program exits. */

static void
child_exit_during_batch(const char *dir)
{
	fill_ring_and_signal();
	bool first = wait_recent_in_progress(dir, 0, POLL_WAIT_S);
	CHILD_CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
	void *big = malloc(64 * MiB);
	CHILD_CHECK(big != NULL, "malloc");
	/* The first dump's ring is written meanwhile: several seconds under
	 * ThreadSanitizer. */
	bool second = wait_recent_in_progress(dir, 1, 6 * POLL_WAIT_S);
	printf("first=%d second=%d exiting\n", first, second);
	fflush(stdout);
	exit(0);
}

/* -------- the final dump (prof_final:true): 8 × 1 MiB leaked at one site */

static void *final_leak[8];

static void
child_final(const char *dir)
{
	(void)dir;
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	for (int i = 0; i < 8; i++) {
		final_leak[i] = malloc(MiB);
		CHILD_CHECK(final_leak[i] != NULL, "malloc");
	}
	for (int i = 0; i < 100; i++)
		free(launder(malloc(hide((size_t)i * 100 + 1))));
	printf("exiting\n");
	fflush(stdout);
	exit(0); /* the exit handlers write the final dump */
}

/* -------- without the profiler (prof:false) */

/* A dump hook for child_off to try to install. */
static void
child_off_hook(const char *path)
{
	(void)path;
}

static void
child_off(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/off.heap", dir);
	const char *p = path;
	int dump = mallctl("prof.dump", NULL, NULL, &p, sizeof(p));
	bool b = true, t = true;
	size_t len = sizeof(b);
	int active = mallctl("prof.active", &b, &len, NULL, 0);
	int active_on = mallctl("prof.active", NULL, NULL, &t, sizeof(t));
	const char *name;
	len = sizeof(name);
	int tname = mallctl("thread.prof.name", &name, &len, NULL, 0);
	bool opt = true, config = false;
	len = sizeof(opt);
	int opt_rc = mallctl("opt.prof", &opt, &len, NULL, 0);
	len = sizeof(config);
	int config_rc = mallctl("config.prof", &config, &len, NULL, 0);
	void (*hook)(const char *) = child_off_hook;
	len = sizeof(hook);
	int hook_rc = mallctl("experimental.hooks.prof_dump", &hook, &len, NULL, 0);
	void (*set)(const char *) = child_off_hook;
	int hook_set = mallctl("experimental.hooks.prof_dump", NULL, NULL, &set, sizeof(set));
	printf("dump=%d active=%d/%d/%d thread.prof.name=%d hook=%d/%d/%d opt.prof=%d/%d "
	       "config.prof=%d/%d file=%d\n",
	       dump, active, (int)b, active_on, tname, hook_rc, hook == NULL, hook_set, opt_rc,
	       (int)opt, config_rc, (int)config, !path_missing(path));
	fflush(stdout);
	_exit(0);
}

/* In a re-executed child: do what CHILD_ENV says, with standard error
 * joined to standard output (the pipe the test reads), and exit.  Called
 * by test_suite, from main: every constructor has run by then, strata's
 * (which starts the dumper thread and registers the final dump) included,
 * in whatever order the link put them (make check-tsan links strata
 * statically, after this file). */
static void
child_main(void)
{
	const char *mode = getenv(CHILD_ENV);
	if (mode == NULL)
		return;
	dup2(STDOUT_FILENO, STDERR_FILENO);
	const char *dir = getenv(CHILD_DIR_ENV);
	CHILD_CHECK(dir != NULL, "no " CHILD_DIR_ENV);
	if (strcmp(mode, "signal") == 0)
		child_signal_storm(dir);
	else if (strcmp(mode, "signal_recent") == 0)
		child_signal_recent(dir);
	else if (strcmp(mode, "signal_fail") == 0)
		child_signal_fail(dir);
	else if (strcmp(mode, "daemon_signal") == 0)
		child_daemon_signal(dir);
	else if (strcmp(mode, "interval") == 0)
		child_interval(dir);
	else if (strcmp(mode, "gdump") == 0)
		child_gdump(dir);
	else if (strcmp(mode, "exit_during_dump") == 0)
		child_exit_during_dump(dir);
	else if (strcmp(mode, "exit_during_recent_dump") == 0)
		child_exit_during_recent_dump(dir);
	else if (strcmp(mode, "exit_during_batch") == 0)
		child_exit_during_batch(dir);
	else if (strcmp(mode, "final") == 0)
		child_final(dir);
	else if (strcmp(mode, "off") == 0)
		child_off(dir);
	CHILD_CHECK(false, "unknown mode %s", mode);
}

/* Runs this program again in mode with MALLOC_CONF=conf and the folder
 * dir; its wait status, with its output in out. */
static int
run_child(const char *mode, const char *conf, const char *dir, char *out, size_t size)
{
	char env_conf[512], env_mode[64], env_dir[256];
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=%s", conf);
	snprintf(env_mode, sizeof(env_mode), CHILD_ENV "=%s", mode);
	snprintf(env_dir, sizeof(env_dir), CHILD_DIR_ENV "=%s", dir);
	char *env[] = {env_conf, env_mode, env_dir, NULL};
	return child_run_self(env, env_conf, out, size);
}

static void
expect_child_ok(int status, const char *out)
{
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child status %#x (%s %d); its output:\n%s", status,
	              WIFSIGNALED(status) ? "signal" : "exit",
	              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), out);
	ck_assert_msg(strstr(out, "FAIL") == NULL, "child output:\n%s", out);
}

static int
child_pid(const char *out)
{
	const char *p = strstr(out, "pid=");
	ck_assert_msg(p != NULL, "no pid in the child's output:\n%s", out);
	return atoi(p + 4);
}

/* Lines of out that start with "<strata>: ". */
static int
count_strata_lines(const char *out)
{
	int n = 0;
	for (const char *l = out; l != NULL && *l != '\0';) {
		n += strncmp(l, "<strata>: ", 10) == 0;
		l = strchr(l, '\n');
		l = l != NULL ? l + 1 : NULL;
	}
	return n;
}

/* ================================================ 1. the dump signal */

START_TEST(test_signal_storm_dumps_are_complete)
{
	char dir[64], conf[256], out[8192];
	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(conf, sizeof(conf), "prof:true,prof_signal:USR2,prof_prefix:%s/s", dir);
	double start = child_now_s();
	int status = run_child("signal", conf, dir, out, sizeof(out));
	expect_child_ok(status, out);
	ck_assert_msg(strstr(out, "done") != NULL, "child output:\n%s", out);
	ck_assert_msg(count_strata_lines(out) == 0, "messages from strata:\n%s", out);
	int pid = child_pid(out);
	dir_scan_t *s = malloc(sizeof(*s));
	scan_dir(dir, "s", pid, s);
	ck_assert_msg(s->ntmp == 0, "%d temporary files left in %s", s->ntmp, dir);
	ck_assert_msg(s->nother == 0, "unexpected file %s in %s", s->other, dir);
	/* The ring is on (prof:true's default): each dump has its recent
	 * allocations beside it. */
	ck_assert_int_eq(s->nrecent, s->ndumps);
	/* Bursts coalesce, so fewer dumps than signals, but one per burst. */
	ck_assert_msg(s->ndumps >= STORM_SIGNALS / STORM_BURST && s->ndumps <= STORM_SIGNALS,
	              "%d dumps for %d signals", s->ndumps, STORM_SIGNALS);
	ck_assert_int_le(s->ndumps, 128);
	/* Every dump is an m dump; their numbers are 0..n-1 (none failed). */
	bool seen[128] = {0};
	for (int i = 0; i < s->ndumps; i++) {
		ck_assert_msg(s->dumps[i].kind == 'm' && s->dumps[i].gz, "%s", s->names[i]);
		long long n = s->dumps[i].n;
		ck_assert_msg(n >= 0 && n < s->ndumps && !seen[n], "%s: number out of place",
		              s->names[i]);
		seen[n] = true;
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", dir, s->names[i]);
		expect_dump_complete(path, true, NULL);
	}
	free(s);
	temp_dir_remove(dir);
	/* The process finished well within the bound (child_run_self kills
	 * it after CHILD_WAIT_S). */
	ck_assert_msg(child_now_s() - start < CHILD_WAIT_S, "took %.1f s", child_now_s() - start);
}
END_TEST

/* ================================================ 2. fork during dumps */

#define FORKS 50

static _Atomic bool forker_stop;
static _Atomic int forker_dumps;
static char fork_dir[64];

static void *
dump_loop(void *arg)
{
	(void)arg;
	for (int k = 0; !atomic_load(&forker_stop); k++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/p%d.heap.gz", fork_dir, k);
		if (dump_to(path) != 0)
			return (void *)1;
		atomic_fetch_add(&forker_dumps, 1);
	}
	return NULL;
}

START_TEST(test_fork_while_dumping_children_dump_and_exit)
{
	temp_dir_make(fork_dir, sizeof(fork_dir), "trig");
	/* Some sampled objects, so that dumps have stacks to copy. */
	void *keep[32];
	for (int i = 0; i < 32; i++)
		keep[i] = malloc(hide(64 * KiB + (size_t)i * 4096));
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, dump_loop, NULL), 0);
	double deadline = child_now_s() + POLL_WAIT_S;
	while (atomic_load(&forker_dumps) == 0 && child_now_s() < deadline)
		poll_pause();
	ck_assert_msg(atomic_load(&forker_dumps) > 0, "the dumping thread made no dump");
	int hung = 0, first_bad = -1, first_status = 0;
	for (int i = 0; i < FORKS; i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/c%d.heap", fork_dir, i);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			/* In the child: allocate (sampling: stacks and counters), dump, leave. */
			void *objs[64];
			for (size_t r = 0; r < 4; r++) {
				for (size_t j = 0; j < 64; j++)
					objs[j] = malloc(1 + (j * 977 + r * 131) % (64 * KiB));
				for (int j = 0; j < 64; j++)
					free(objs[j]);
			}
			int err = dump_to(path);
			_exit(err == 0 ? 0 : 10);
		}
		int status = wait_child_bounded(pid, POLL_WAIT_S);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			hung = status == -1;
			first_bad = i;
			first_status = status;
			break; /* the dumping thread is stopped and joined below */
		}
		expect_dump_complete(path, false, NULL);
	}
	atomic_store(&forker_stop, true);
	join_bounded(t);
	int dumps = atomic_load(&forker_dumps);
	ck_assert_msg(first_bad == -1, "child #%d of %d %s (status %#x)", first_bad, FORKS,
	              hung ? "hung: killed after 5 s (a lock held across fork?)" : "failed",
	              first_status);
	ck_assert_int_gt(dumps, 1);
	for (int k = 0; k < dumps; k++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/p%d.heap.gz", fork_dir, k);
		expect_dump_complete(path, true, NULL);
	}
	ck_assert_int_eq(dir_entries(fork_dir), dumps + FORKS);
	for (int i = 0; i < 32; i++)
		free(keep[i]);
	temp_dir_remove(fork_dir);
}
END_TEST

/* ================================================ 3. dumps that fail */

/* After a failed dump: allocation works and the profiler still dumps. */
static void
expect_alive_after_failure(const char *dir)
{
	void *small = malloc(hide(100)), *big = malloc(hide(MiB));
	ck_assert_ptr_nonnull(small);
	ck_assert_ptr_nonnull(big);
	memset(big, 1, MiB);
	free(small);
	free(big);
	char path[128];
	snprintf(path, sizeof(path), "%s/after.heap", dir);
	ck_assert_int_eq(dump_to(path), 0);
	expect_dump_complete(path, false, NULL);
	ck_assert_int_eq(unlink(path), 0);
}

START_TEST(test_dump_to_missing_folder_fails_cleanly)
{
	char dir[64], path[128];
	temp_dir_make(dir, sizeof(dir), "trig");
	ck_assert_int_eq(dump_to("/nonexistent/x.heap"), EFAULT);
	ck_assert(path_missing("/nonexistent"));
	snprintf(path, sizeof(path), "%s/missing/x.heap.gz", dir);
	ck_assert_int_eq(dump_to(path), EFAULT);
	ck_assert_int_eq(dir_entries(dir), 0);
	/* An empty path is no file either. */
	ck_assert_int_eq(dump_to(""), EFAULT);
	expect_alive_after_failure(dir);
	ck_assert_int_eq(dir_entries(dir), 0);
	temp_dir_remove(dir);
}
END_TEST

START_TEST(test_dump_to_unwritable_folder_fails_cleanly)
{
	char dir[64], path[160];
	temp_dir_make(dir, sizeof(dir), "trig");
	/* A path under a regular file (ENOTDIR inside), root or not. */
	snprintf(path, sizeof(path), "%s/file", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/file/x.heap", dir);
	ck_assert_int_eq(dump_to(path), EFAULT);
	ck_assert_int_eq(dir_entries(dir), 1);
	/* A folder with mode 0555 (root writes there anyway). */
	snprintf(path, sizeof(path), "%s/ro", dir);
	ck_assert_int_eq(mkdir(path, 0555), 0);
	ck_assert_int_eq(chmod(path, 0555), 0);
	snprintf(path, sizeof(path), "%s/ro/x.heap", dir);
	if (geteuid() != 0) {
		ck_assert_int_eq(dump_to(path), EFAULT);
		snprintf(path, sizeof(path), "%s/ro", dir);
		ck_assert_int_eq(dir_entries(path), 0);
	}
	/* The path is a folder: the whole dump is written to a temporary
	 * file, the rename fails, and the temporary file goes. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(dump_to(path), EFAULT);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(dir_entries(path), 0);
	ck_assert_int_eq(dir_entries(dir), 3); /* file, ro, sub: no temporary file */
	expect_alive_after_failure(dir);
	temp_dir_remove(dir);
}
END_TEST

/* In a forked child (Check writes its results to files, which a small
 * RLIMIT_FSIZE would break): a plain dump bigger than the limit fails with
 * EFAULT, before the kernel would send SIGXFSZ, and leaves no file; with
 * the limit raised again the profiler dumps. */
#define FSIZE_LIMIT ((rlim_t)4096)

static void
fsize_child(const void *arg)
{
	const char *dir = arg;
	char big[128], path[128];
	snprintf(big, sizeof(big), "%s/unlimited.heap", dir);
	snprintf(path, sizeof(path), "%s/limited.heap", dir);
	FORK_CHECK(dump_to(big) == 0, "dump without a limit");
	struct stat st;
	FORK_CHECK(stat(big, &st) == 0 && st.st_size > (off_t)FSIZE_LIMIT,
	           "the dump (%lld bytes) is not bigger than the limit", (long long)st.st_size);
	struct rlimit old, lim;
	FORK_CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0, "getrlimit");
	lim = old;
	lim.rlim_cur = FSIZE_LIMIT;
	FORK_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
	int err = dump_to(path);
	FORK_CHECK(err == EFAULT, "dump past the limit: %d", err);
	FORK_CHECK(path_missing(path), "%s exists", path);
	FORK_CHECK(dir_entries(dir) == 1, "%d files in the folder (a temporary one left?)",
	           dir_entries(dir));
	void *p = malloc(hide(MiB));
	FORK_CHECK(p != NULL, "malloc after the failure");
	free(p);
	FORK_CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0, "setrlimit back");
	FORK_CHECK(dump_to(path) == 0, "dump with the limit raised");
	FORK_CHECK(!path_missing(path), "no %s", path);
	fprintf(stderr, "fsize child done\n");
}

START_TEST(test_dump_past_fsize_limit_fails_cleanly)
{
	char dir[64], out[4096];
	temp_dir_make(dir, sizeof(dir), "trig");
	int status = child_run_capture(fsize_child, dir, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child status %#x (signal %d: SIGXFSZ is %d): %s", status,
	              WIFSIGNALED(status) ? WTERMSIG(status) : 0, SIGXFSZ, out);
	ck_assert_msg(strstr(out, "fsize child done") != NULL, "child: %s", out);
	char path[128];
	snprintf(path, sizeof(path), "%s/limited.heap", dir);
	expect_dump_complete(path, false, NULL);
	temp_dir_remove(dir);
}
END_TEST

/* The final dump into a missing folder: one line, exit status 0. */
START_TEST(test_final_dump_to_missing_folder_prints_one_line)
{
	char dir[64], conf[256], out[8192], want[256];
	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(conf, sizeof(conf), "prof:true,prof_final:true,prof_prefix:%s/missing/f", dir);
	int status = run_child("final", conf, dir, out, sizeof(out));
	expect_child_ok(status, out);
	int pid = child_pid(out);
	ck_assert_msg(count_strata_lines(out) == 1, "not one message:\n%s", out);
	snprintf(want, sizeof(want), "<strata>: failed to write heap profile \"%s/missing/f.%d.",
	         dir, pid);
	const char *line = strstr(out, want);
	ck_assert_msg(line != NULL, "no line starting %s in:\n%s", want, out);
	const char *tail = ".f.heap.gz\": No such file or directory\n";
	const char *eol = strchr(line, '\n');
	ck_assert_ptr_nonnull(eol);
	size_t tl = strlen(tail);
	ck_assert_msg((size_t)(eol + 1 - line) > tl && strncmp(eol + 1 - tl, tail, tl) == 0,
	              "the line does not end %s: %.*s", tail, (int)(eol + 1 - line), line);
	/* It came after the program's last output: at exit. */
	ck_assert(strstr(out, "exiting\n") != NULL && line > strstr(out, "exiting\n"));
	ck_assert_int_eq(dir_entries(dir), 0);
	temp_dir_remove(dir);
}
END_TEST

/* The signal's dump writes the ring of recent allocations beside the heap
 * profile (<stem>.recent.json.gz) when the ring is on, with real-time
 * stamps under prof_time_resolution:high; nothing beside it when off. */
START_TEST(test_signal_dump_writes_recent_allocations_beside)
{
	char dir[64], conf[320], out[8192], heap[256], recent[256], cmd[700], result[128];
	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(conf, sizeof(conf),
	         "prof:true,lg_prof_sample:0,prof_signal:USR2,prof_prefix:%s/s,"
	         "prof_time_resolution:high,prof_recent_alloc_max:50",
	         dir);
	int status = run_child("signal_recent", conf, dir, out, sizeof(out));
	expect_child_ok(status, out);
	ck_assert_msg(strstr(out, "done") != NULL && count_strata_lines(out) == 0, "%s", out);
	int pid = child_pid(out);
	long long realtime = atoll(strstr(out, "realtime=") + 9);
	snprintf(heap, sizeof(heap), "%s/s.%d.0.m0.heap.gz", dir, pid);
	snprintf(recent, sizeof(recent), "%s/s.%d.0.m0.recent.json.gz", dir, pid);
	ck_assert_msg(!path_missing(heap) && !path_missing(recent), "no %s or %s", heap, recent);
	ck_assert(file_is_gzip(recent));
	snprintf(cmd, sizeof(cmd),
	         "python3 -c \"import gzip, json, sys; d = json.load(gzip.open(sys.argv[1], 'rt'));"
	         " r = [x for x in d['recent_alloc'] if x['size'] == 12345];"
	         " print(d['recent_alloc_max'], len(r), r[0]['alloc_time'] if r else 0)\" %s",
	         recent);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(result, sizeof(result), p));
	ck_assert_int_eq(pclose(p), 0);
	long long max, n, alloc_time;
	ck_assert_int_eq(sscanf(result, "%lld %lld %lld", &max, &n, &alloc_time), 3);
	ck_assert_int_eq(max, 50);
	ck_assert_int_eq(n, 1);
	ck_assert_msg(llabs(alloc_time - realtime) < 60000000000ll, "alloc_time %lld, now %lld",
	              alloc_time, realtime);
	temp_dir_remove(dir);

	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(conf, sizeof(conf), "prof:true,prof_signal:USR2,prof_prefix:%s/s,"
	                             "prof_recent_alloc_max:0,prof_dump_compress:false", dir);
	status = run_child("signal_recent", conf, dir, out, sizeof(out));
	expect_child_ok(status, out);
	pid = child_pid(out);
	snprintf(heap, sizeof(heap), "%s/s.%d.0.m0.heap", dir, pid);
	ck_assert_msg(!path_missing(heap), "no %s", heap);
	ck_assert_int_eq(dir_entries(dir), 1);
	temp_dir_remove(dir);
}
END_TEST

/* A signal dump into a missing folder: one line; the dumper goes on, and
 * after prof.prefix changes the next signal dumps. */
START_TEST(test_failed_signal_dump_prints_one_line_and_dumper_goes_on)
{
	char dir[64], conf[256], out[8192], want[256];
	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(conf, sizeof(conf), "prof:true,prof_signal:USR2,prof_prefix:%s/missing/s", dir);
	int status = run_child("signal_fail", conf, dir, out, sizeof(out));
	expect_child_ok(status, out);
	ck_assert_msg(strstr(out, "done") != NULL, "child output:\n%s", out);
	int pid = child_pid(out);
	ck_assert_msg(count_strata_lines(out) == 1, "not one message:\n%s", out);
	snprintf(want, sizeof(want),
	         "<strata>: failed to write heap profile \"%s/missing/s.%d.0.m0.heap.gz\": "
	         "No such file or directory\n",
	         dir, pid);
	ck_assert_msg(strstr(out, want) != NULL, "no line %s in:\n%s", want, out);
	/* The dump after the failure takes the next numbers. */
	char path[256];
	snprintf(path, sizeof(path), "%s/ok.%d.1.m1.heap.gz", dir, pid);
	expect_dump_complete(path, true, NULL);
	snprintf(path, sizeof(path), "%s/ok.%d.1.m1.recent.json.gz", dir, pid);
	ck_assert(!path_missing(path));
	ck_assert_int_eq(dir_entries(dir), 2);
	temp_dir_remove(dir);
}
END_TEST

/*
 * A fork child that allocates (almost) nothing, as a daemon(3)ized server
 * waiting for work, still answers the dump signal: the fork handler starts
 * its dumper thread (it used to wait for the child's next sample, 512 KiB
 * of allocation away on average).
 */
#ifndef STRATA_TSAN /* see test_suite */
START_TEST(test_signal_dump_in_fork_child)
{
	char dir[64], conf[256], out[4096];
	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(conf, sizeof(conf), "prof:true,prof_signal:USR2,prof_prefix:%s/s", dir);
	int status = run_child("daemon_signal", conf, dir, out, sizeof(out));
	temp_dir_remove(dir); /* first, so a failure leaves nothing behind */
	expect_child_ok(status, out);
	ck_assert_msg(strstr(out, "done") != NULL, "child output:\n%s", out);
	ck_assert_msg(strstr(out, "after_sample=yes") != NULL, "no dump at all:\n%s", out);
	ck_assert_msg(strstr(out, "served=yes") != NULL,
	              "the fork child's dump signal was served only after a sampled "
	              "allocation:\n%s",
	              out);
}
END_TEST
#endif

/* ================================================ 4. interval dumps */

START_TEST(test_interval_dumps)
{
	char dir[64], conf[256], out[8192];
	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(conf, sizeof(conf), "prof:true,lg_prof_interval:20,prof_prefix:%s/i", dir);
	int status = run_child("interval", conf, dir, out, sizeof(out));
	expect_child_ok(status, out);
	ck_assert_msg(strstr(out, "done") != NULL, "child output:\n%s", out);
	ck_assert_msg(count_strata_lines(out) == 0, "messages from strata:\n%s", out);
	int pid = child_pid(out);
	unsigned long long interval = 0;
	ck_assert_msg(sscanf(strstr(out, "pid="), "pid=%*d interval=%llu", &interval) == 1,
	              "%s", out);
	ck_assert_uint_eq(interval, 1u << 20);
	dir_scan_t *s = malloc(sizeof(*s));
	scan_dir(dir, "i", pid, s);
	ck_assert_msg(s->nother == 0, "unexpected file %s", s->other);
	ck_assert_msg(s->ntmp == 0, "%d temporary files left", s->ntmp);
	ck_assert_int_ge(s->ndumps, 1);
	/* 20 MiB at 1 MiB intervals: at most 20 dumps, numbered i0, i1, ... */
	ck_assert_int_le(s->ndumps, 20);
	bool have_i0 = false;
	for (int i = 0; i < s->ndumps; i++) {
		ck_assert_msg(s->dumps[i].kind == 'i' && s->dumps[i].gz, "%s", s->names[i]);
		ck_assert_msg(s->dumps[i].n >= 0 && s->dumps[i].n < s->ndumps, "%s", s->names[i]);
		have_i0 = have_i0 || s->dumps[i].n == 0;
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", dir, s->names[i]);
		expect_dump_complete(path, true, NULL);
	}
	ck_assert_msg(have_i0, "no %s/i.%d.<seq>.i0.heap.gz", dir, pid);
	free(s);
	temp_dir_remove(dir);
}
END_TEST

/* ================================================ 5. high-water dumps */

static void
run_gdump(const char *extra, int *pid, int *elapsed_ms, char *dir, size_t dir_size, dir_scan_t *s)
{
	char conf[256], out[8192];
	temp_dir_make(dir, dir_size, "trig");
	snprintf(conf, sizeof(conf), "prof:true,prof_gdump:true%s,prof_prefix:%s/u", extra, dir);
	int status = run_child("gdump", conf, dir, out, sizeof(out));
	expect_child_ok(status, out);
	ck_assert_msg(count_strata_lines(out) == 0, "messages from strata:\n%s", out);
	*pid = child_pid(out);
	const char *r = strstr(out, "elapsed_ms=");
	ck_assert_msg(r != NULL && sscanf(r, "elapsed_ms=%d", elapsed_ms) == 1, "child output:\n%s",
	              out);
	scan_dir(dir, "u", *pid, s);
	ck_assert_msg(s->nother == 0 && s->ntmp == 0, "unexpected files (%s, %d temporary)",
	              s->other, s->ntmp);
	for (int i = 0; i < s->ndumps && i < 128; i++) {
		ck_assert_msg(s->dumps[i].kind == 'u' && s->dumps[i].gz && s->dumps[i].n >= 0 &&
		                      s->dumps[i].n < s->ndumps,
		              "%s", s->names[i]);
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", dir, s->names[i]);
		expect_dump_complete(path, true, NULL);
	}
}

START_TEST(test_gdump_dumps_each_new_high)
{
	char dir[64];
	int pid, ms;
	dir_scan_t *s = malloc(sizeof(*s));
	run_gdump(",prof_gdump_min_interval_ms:0", &pid, &ms, dir, sizeof(dir), s);
	ck_assert_msg(s->ndumps >= GDUMP_STEPS, "%d u dumps for %d new highs", s->ndumps,
	              GDUMP_STEPS);
	free(s);
	temp_dir_remove(dir);
}
END_TEST

START_TEST(test_gdump_is_rate_limited)
{
	char dir[64];
	int pid, ms;
	dir_scan_t *s = malloc(sizeof(*s));
	run_gdump("", &pid, &ms, dir, sizeof(dir), s); /* the default: 1000 ms */
	/* One check of the high-water mark per second of the child's life
	 * (plus one for its start before its clock began).  No lower bound:
	 * the first check may come when the heap is still empty (make
	 * check-tsan); the test above shows that dumps are made. */
	int n = s->ndumps;
	ck_assert_msg(n <= 2 + ms / 1000,
	              "%d u dumps for %d new highs in %d ms (at most one a second)", n, GDUMP_STEPS,
	              ms);
	ck_assert_int_lt(n, GDUMP_STEPS / 2);
	free(s);
	temp_dir_remove(dir);
}
END_TEST

/* Runs the child mode with MALLOC_CONF opts,prof_prefix:<dir>/x in a fresh
 * folder dir, fails the test unless it exits 0, and scans the folder into
 * s; the child's pid. */
static int
run_exit_child(const char *mode, const char *opts, char *dir, size_t dir_size, char *out,
               size_t size, dir_scan_t *s)
{
	char conf[256];
	temp_dir_make(dir, dir_size, "trig");
	snprintf(conf, sizeof(conf), "%s,prof_prefix:%s/x", opts, dir);
	int status = run_child(mode, conf, dir, out, size);
	expect_child_ok(status, out);
	int pid = child_pid(out);
	scan_dir(dir, "x", pid, s);
	return pid;
}

/*
 * A process that exits while its dumper thread writes an automatic dump
 * (gdump, interval, signal) waits for that dump: exit used to kill the
 * thread mid-dump, losing the dump and (before dumps were written to
 * unnamed files) leaving its temporary file in the user's folder for ever.
 */
START_TEST(test_exit_during_automatic_dump_leaves_no_temporary_file)
{
	char dir[64], out[4096];
	dir_scan_t *s = malloc(sizeof(*s));
	run_exit_child("exit_during_dump", "prof:true,prof_gdump:true,prof_gdump_min_interval_ms:0",
	               dir, sizeof(dir), out, sizeof(out), s);
	temp_dir_remove(dir); /* first, so a failure leaves nothing behind */
	int complete = -1;
	const char *line = strstr(out, "writing=1 complete=");
	ck_assert_msg(line != NULL && sscanf(line, "writing=1 complete=%d", &complete) == 1,
	              "the child saw no dump begin: %s", out);
	ck_assert_msg(s->nother == 0, "unexpected file %s", s->other);
	ck_assert_msg(s->ndumps > complete,
	              "the dump exit interrupted is missing: %d u dumps, %d complete before it "
	              "(child: %s)", s->ndumps, complete, out);
	ck_assert_msg(s->ntmp == 0,
	              "%d temporary file(s) left by a dump that exit interrupted (child: %s)",
	              s->ntmp, out);
	free(s);
}
END_TEST

/* Exit waits for the recent allocations being written beside a signal's
 * dump: the file is complete and no temporary file is left. */
START_TEST(test_exit_during_recent_dump_leaves_it_complete)
{
	char dir[64], out[4096], path[256];
	dir_scan_t *s = malloc(sizeof(*s));
	int pid = run_exit_child("exit_during_recent_dump",
	                         "prof:true,lg_prof_sample:0,prof_recent_alloc_max:-1,prof_signal:USR2",
	                         dir, sizeof(dir), out, sizeof(out), s);
	snprintf(path, sizeof(path), "%s/x.%d.0.m0.recent.json.gz", dir, pid);
	bool complete = file_is_gzip(path);
	temp_dir_remove(dir); /* first, so a failure leaves nothing behind */
	ck_assert_msg(strstr(out, "recent_writing=1") != NULL, "the child saw no recent dump begin: %s",
	              out);
	ck_assert_msg(s->ntmp == 0,
	              "%d temporary file(s) left by a recent dump that exit interrupted (child: %s)",
	              s->ntmp, out);
	ck_assert_msg(s->nrecent == 1 && complete, "%d recent file(s), %s complete", s->nrecent,
	              complete ? "" : "not");
	free(s);
}
END_TEST

/* Exit waits for the dumper's batch: the interval dump it had taken with
 * the second signal's is written, whole, before the final one (it was
 * cancelled by the end of dumps, silently). */
START_TEST(test_exit_during_batch_writes_the_rest_of_it)
{
	char dir[64], out[4096], path[384];
	dir_scan_t *s = malloc(sizeof(*s));
	run_exit_child("exit_during_batch",
	               "prof:true,lg_prof_sample:0,prof_recent_alloc_max:-1,prof_signal:USR2,"
	               "lg_prof_interval:26,prof_final:true",
	               dir, sizeof(dir), out, sizeof(out), s);
	/* The dumper's own allocations may cross another interval: the
	 * numbers after i0 are not fixed. */
	bool interval = false, final = false;
	DIR *d = opendir(dir);
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (strstr(e->d_name, ".i0.heap.gz") != NULL && !is_tmp_name(e->d_name))
			interval = file_is_gzip(path);
		if (strstr(e->d_name, ".f.heap.gz") != NULL && !is_tmp_name(e->d_name))
			final = file_is_gzip(path);
	}
	if (d != NULL)
		closedir(d);
	temp_dir_remove(dir); /* first, so a failure leaves nothing behind */
	ck_assert_msg(strstr(out, "first=1 second=1") != NULL,
	              "the child did not see both signals' recent dumps begin: %s", out);
	ck_assert_msg(interval, "the interval dump taken with the second signal's is missing "
	              "(child: %s)", out);
	ck_assert_msg(final, "no final dump after it (child: %s)", out);
	ck_assert_msg(s->ntmp == 0, "%d temporary file(s) left (child: %s)", s->ntmp, out);
	free(s);
}
END_TEST

/* ================================================ 6. the final dump */

/* The final dump of the "final" child (8 x 1 MiB leaked at one site),
 * gzip-compressed or plain. */
static void
expect_final_dump(bool gzip)
{
	char dir[64], conf[256], out[8192];
	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(conf, sizeof(conf), "prof:true,prof_final:true,prof_dump_compress:%s,prof_prefix:%s/f",
	         gzip ? "true" : "false", dir);
	int status = run_child("final", conf, dir, out, sizeof(out));
	expect_child_ok(status, out);
	ck_assert_msg(count_strata_lines(out) == 0, "messages from strata:\n%s", out);
	int pid = child_pid(out);
	dir_scan_t *s = malloc(sizeof(*s));
	scan_dir(dir, "f", pid, s);
	ck_assert_msg(s->ndumps == 1 && s->ntmp == 0 && s->nother == 0,
	              "%d dumps, %d temporary, %d other (%s)", s->ndumps, s->ntmp, s->nother,
	              s->other);
	ck_assert_msg(s->dumps[0].kind == 'f' && s->dumps[0].n == -1 && s->dumps[0].gz == gzip,
	              "%s", s->names[0]);
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, s->names[0]);
	/* The 8 leaked MiB, all sampled, are one stack's line. */
	expect_dump_complete(path, gzip, "  t*: 8: 8388608 [0: 0]\n");
	free(s);
	temp_dir_remove(dir);
}

START_TEST(test_final_dump_gzip)
{
	expect_final_dump(true);
}
END_TEST

START_TEST(test_final_dump_plain)
{
	expect_final_dump(false);
}
END_TEST

/* ================================================ 7. the dump hook */

typedef void (*dump_hook_t)(const char *filename);

static char hook_names[4][256];
static _Atomic int hook_calls, hook2_calls;

static void
hook_record(const char *filename)
{
	int i = atomic_fetch_add(&hook_calls, 1);
	if (i < 4)
		snprintf(hook_names[i], sizeof(hook_names[i]), "%s", filename);
}

static void
hook_other(const char *filename)
{
	(void)filename;
	atomic_fetch_add(&hook2_calls, 1);
}

static dump_hook_t
swap_hook(dump_hook_t hook)
{
	dump_hook_t old = (dump_hook_t)1;
	size_t len = sizeof(old);
	ck_assert_int_eq(mallctl("experimental.hooks.prof_dump", &old, &len, &hook, sizeof(hook)),
	                 0);
	ck_assert_uint_eq(len, sizeof(old));
	return old;
}

static dump_hook_t
read_hook(void)
{
	dump_hook_t hook = (dump_hook_t)1;
	size_t len = sizeof(hook);
	ck_assert_int_eq(mallctl("experimental.hooks.prof_dump", &hook, &len, NULL, 0), 0);
	return hook;
}

START_TEST(test_dump_hook_gets_each_file_name)
{
	char dir[64], path[128], prefix[128], want[256];
	temp_dir_make(dir, sizeof(dir), "trig");
	ck_assert_ptr_null(read_hook());
	ck_assert_ptr_null(swap_hook(hook_record));
	ck_assert(read_hook() == hook_record);
	snprintf(path, sizeof(path), "%s/h.heap", dir);
	ck_assert_int_eq(dump_to(path), 0);
	ck_assert_int_eq(atomic_load(&hook_calls), 1);
	ck_assert_str_eq(hook_names[0], path);
	/* A failed dump calls no hook. */
	snprintf(path, sizeof(path), "%s/missing/h.heap", dir);
	ck_assert_int_eq(dump_to(path), EFAULT);
	ck_assert_int_eq(atomic_load(&hook_calls), 1);
	/* An automatic name. */
	snprintf(prefix, sizeof(prefix), "%s/a", dir);
	set_prefix(prefix);
	const char *null_path = NULL;
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, &null_path, sizeof(null_path)), 0);
	ck_assert_int_eq(atomic_load(&hook_calls), 2);
	snprintf(want, sizeof(want), "%s.%d.0.m0.heap.gz", prefix, (int)getpid());
	ck_assert_str_eq(hook_names[1], want);
	expect_dump_complete(want, true, NULL);
	/* Writing returns the hook it replaces. */
	ck_assert(swap_hook(hook_other) == hook_record);
	ck_assert(read_hook() == hook_other);
	snprintf(path, sizeof(path), "%s/h2.heap", dir);
	ck_assert_int_eq(dump_to(path), 0);
	ck_assert_int_eq(atomic_load(&hook2_calls), 1);
	ck_assert_int_eq(atomic_load(&hook_calls), 2);
	ck_assert(swap_hook(NULL) == hook_other);
	ck_assert_ptr_null(read_hook());
	snprintf(path, sizeof(path), "%s/h3.heap", dir);
	ck_assert_int_eq(dump_to(path), 0);
	ck_assert_int_eq(atomic_load(&hook2_calls), 1);
	ck_assert_int_eq(atomic_load(&hook_calls), 2);
	temp_dir_remove(dir);
}
END_TEST

/* ================================================ 8. prof.prefix */

START_TEST(test_prefix_names_manual_dumps)
{
	char dir[64], prefix[128];
	temp_dir_make(dir, sizeof(dir), "trig");
	snprintf(prefix, sizeof(prefix), "%s/p", dir);
	set_prefix(prefix);
	void *p = malloc(hide(MiB)); /* one sampled object */
	const char *null_path = NULL;
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, &null_path, sizeof(null_path)), 0);
	/* No value at all is NULL too. */
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, NULL, 0), 0);
	dir_scan_t *s = malloc(sizeof(*s));
	scan_dir(dir, "p", getpid(), s);
	ck_assert_msg(s->ndumps == 2 && s->ntmp == 0 && s->nother == 0,
	              "%d dumps, %d temporary, %d other (%s)", s->ndumps, s->ntmp, s->nother,
	              s->other);
	int first = s->dumps[0].n == 0 ? 0 : 1, second = 1 - first;
	ck_assert_msg(s->dumps[first].n == 0 && s->dumps[second].n == 1, "%s, %s", s->names[0],
	              s->names[1]);
	ck_assert(s->dumps[first].kind == 'm' && s->dumps[second].kind == 'm');
	ck_assert(s->dumps[first].gz && s->dumps[second].gz);
	ck_assert_msg(s->dumps[second].seq > s->dumps[first].seq, "%s, %s", s->names[0],
	              s->names[1]);
	for (int i = 0; i < 2; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", dir, s->names[i]);
		expect_dump_complete(path, true, NULL);
	}
	/* An empty prefix turns automatic names off. */
	set_prefix("");
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, &null_path, sizeof(null_path)), EFAULT);
	ck_assert_int_eq(dir_entries(dir), 2);
	/* A prefix into a missing folder: EFAULT, nothing written. */
	snprintf(prefix, sizeof(prefix), "%s/missing/p", dir);
	set_prefix(prefix);
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, &null_path, sizeof(null_path)), EFAULT);
	ck_assert_int_eq(dir_entries(dir), 2);
	/* Too long a prefix is refused, and the old one stays. */
	static char long_prefix[2048];
	memset(long_prefix, 'x', sizeof(long_prefix) - 1);
	const char *lp = long_prefix;
	ck_assert_int_eq(mallctl("prof.prefix", NULL, NULL, &lp, sizeof(lp)), EINVAL);
	/* Back to the folder: numbering goes on past the failed dump's
	 * number (an empty prefix takes none). */
	snprintf(prefix, sizeof(prefix), "%s/p", dir);
	set_prefix(prefix);
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, &null_path, sizeof(null_path)), 0);
	scan_dir(dir, "p", getpid(), s);
	ck_assert_int_eq(s->ndumps, 3);
	long long last = -1;
	for (int i = 0; i < 3; i++)
		last = s->dumps[i].n > last ? s->dumps[i].n : last;
	ck_assert_int_ge(last, 2);
	free(s);
	free(p);
	temp_dir_remove(dir);
}
END_TEST

/* ================================================ 9. without the profiler */

START_TEST(test_prof_false_nodes_read_off_or_enoent)
{
	char dir[64], out[4096], want[256];
	temp_dir_make(dir, sizeof(dir), "trig");
	int status = run_child("off", "prof:false", dir, out, sizeof(out));
	expect_child_ok(status, out);
	/* As jemalloc 5.3 built with the profiler: the switches and the dump
	 * hook read off (false, NULL) and cannot be turned on. */
	snprintf(want, sizeof(want),
	         "dump=%d active=0/0/%d thread.prof.name=%d hook=0/1/%d opt.prof=0/0 "
	         "config.prof=0/1 file=0\n",
	         ENOENT, ENOENT, ENOENT, ENOENT);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(dir_entries(dir), 0);
	temp_dir_remove(dir);
}
END_TEST

Suite *
test_suite(void)
{
	child_main();
	Suite *s = suite_create("api_prof_triggers");
	TCase *tc = tcase_create("triggers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_signal_storm_dumps_are_complete);
	tcase_add_test(tc, test_fork_while_dumping_children_dump_and_exit);
	tcase_add_test(tc, test_dump_to_missing_folder_fails_cleanly);
	tcase_add_test(tc, test_dump_to_unwritable_folder_fails_cleanly);
	tcase_add_test(tc, test_dump_past_fsize_limit_fails_cleanly);
	tcase_add_test(tc, test_final_dump_to_missing_folder_prints_one_line);
	tcase_add_test(tc, test_failed_signal_dump_prints_one_line_and_dumper_goes_on);
	tcase_add_test(tc, test_signal_dump_writes_recent_allocations_beside);
#ifndef STRATA_TSAN
	/* ThreadSanitizer (make check-tsan) refuses to start a thread in the
	 * child of a multi-threaded fork, which serving this signal needs. */
	tcase_add_test(tc, test_signal_dump_in_fork_child);
#endif
	tcase_add_test(tc, test_interval_dumps);
	tcase_add_test(tc, test_gdump_dumps_each_new_high);
	tcase_add_test(tc, test_gdump_is_rate_limited);
	tcase_add_test(tc, test_exit_during_automatic_dump_leaves_no_temporary_file);
	tcase_add_test(tc, test_exit_during_recent_dump_leaves_it_complete);
	tcase_add_test(tc, test_exit_during_batch_writes_the_rest_of_it);
	tcase_add_test(tc, test_final_dump_gzip);
	tcase_add_test(tc, test_final_dump_plain);
	tcase_add_test(tc, test_dump_hook_gets_each_file_name);
	tcase_add_test(tc, test_prefix_names_manual_dumps);
	tcase_add_test(tc, test_prof_false_nodes_read_off_or_enoent);
	suite_add_tcase(s, tc);
	return s;
}
