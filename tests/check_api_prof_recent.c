/*
 * check_api_prof_recent.c — the ring of recent sampled allocations through
 * the public API: the records (sizes, order, threads, stacks, frees), the
 * JSON (read back by python3's json module, which also checks jemalloc's
 * field order), eviction and a limit changed at run time, frees of evicted
 * objects, in-place resizes, the mallctl errors, the callback's chunks,
 * recording while a dump is in progress, and a fork in the middle of one.
 *
 * Every allocation is sampled (lg_prof_sample:0), so each one made here is
 * recorded; each test is a forked child and sets the limit it needs.
 * Check's assertions allocate (each one records where the test got to), so
 * a test that counts records makes no assertion between its allocations
 * and its dump.  Dumps go to one folder under /tmp, made before the tests
 * run.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"
#include "child_util.h"

const char *malloc_conf = "prof:true,lg_prof_sample:0";

/* ------------------------------------------------ allocation sites */

/* Each site is its own small function, so a stack's first frame (strata
 * drops its own frames) tells which site made it: it lies within the
 * site's first SITE_BYTES bytes (each is a few instructions; the compiler
 * is free to place them in any order). */
#define NOINLINE __attribute__((noinline))
#define SITE_BYTES 64
NOINLINE void *
site_alloc(size_t n)
{
	return launder(malloc(hide(n)));
}
NOINLINE size_t
site_grow(void *p, size_t n)
{
	return xallocx(p, hide(n), 0, 0);
}
NOINLINE void
site_free(void *p)
{
	free(launder(p));
	__asm__ volatile(""); /* no tail call: free's caller is this function */
}

static bool
pc_in(uintptr_t pc, const void *site)
{
	return pc >= (uintptr_t)site && pc < (uintptr_t)site + SITE_BYTES;
}

/* ------------------------------------------------ the ring through mallctl */

static ssize_t
set_max(ssize_t max)
{
	ssize_t old;
	size_t len = sizeof(old);
	ck_assert_int_eq(mallctl("experimental.prof_recent.alloc_max", &old, &len, &max,
	                         sizeof(max)),
	                 0);
	return old;
}

static char test_dir[] = "/tmp/strata-recent-XXXXXX";

/* A path in the test folder, unique to this process and name; allocates
 * nothing. */
static void
test_path(char *path, size_t size, const char *name)
{
	snprintf(path, size, "%s/%d.%s", test_dir, (int)getpid(), name);
}

/* prof.recent.dump; the mallctl's result, asserted by the caller. */
static int
dump_to(const char *path)
{
	return mallctl("prof.recent.dump", NULL, NULL, &path, sizeof(path));
}

/*
 * Reads the JSON file at path with python3 (gzip when it ends in .gz),
 * checks jemalloc's keys and their order, and writes one line per record
 * to out:
 *   <size> <usize> <released> <alloc uid> <alloc name|-> <alloc pc0>
 *   <dalloc uid|-> <dalloc name|-> <dalloc pc0|-> <alloc_time> <dalloc_time|->
 * after a first line "max=<recent_alloc_max> interval=<sample_interval>".
 * A key or order problem makes python exit non-zero, which fails the test.
 */
static const char summarize_py[] =
	"import sys, json, gzip\n"
	"p = sys.argv[1]\n"
	"f = gzip.open(p, 'rt') if p.endswith('.gz') else open(p)\n"
	"d = json.load(f, object_pairs_hook=lambda kv: kv)\n"
	"top = [k for k, _ in d]\n"
	"assert top == ['sample_interval', 'recent_alloc_max', 'recent_alloc',\n"
	"               'mapped_libraries'], top\n"
	"d = dict(d)\n"
	"assert ' r-xp ' in d['mapped_libraries'], 'no mappings'\n"
	"print('max=%d interval=%d' % (d['recent_alloc_max'], d['sample_interval']))\n"
	"order = ['size', 'usize', 'released', 'alloc_thread_uid', 'alloc_thread_name',\n"
	"         'alloc_time', 'alloc_trace', 'dalloc_thread_uid', 'dalloc_thread_name',\n"
	"         'dalloc_time', 'dalloc_trace']\n"
	"for kv in d['recent_alloc']:\n"
	"    keys = [k for k, _ in kv]\n"
	"    assert keys == [k for k in order if k in keys], keys\n"
	"    r = dict(kv)\n"
	"    assert all(isinstance(a, str) and a.startswith('0x') for a in r['alloc_trace'])\n"
	"    print(r['size'], r['usize'], int(r['released']), r['alloc_thread_uid'],\n"
	"          r.get('alloc_thread_name', '-'), (r['alloc_trace'] or ['-'])[0],\n"
	"          r.get('dalloc_thread_uid', '-'), r.get('dalloc_thread_name', '-'),\n"
	"          (r.get('dalloc_trace') or ['-'])[0], r['alloc_time'],\n"
	"          r.get('dalloc_time', '-'))\n";

typedef struct rec {
	size_t size, usize;
	int released;
	long alloc_uid, dalloc_uid; /* -1: absent */
	char alloc_name[32], dalloc_name[32];
	uintptr_t alloc_pc, dalloc_pc; /* 0: absent */
	unsigned long long alloc_time, dalloc_time;
} rec_t;

typedef struct ring {
	long max, interval;
	size_t n;
	rec_t recs[4096];
} ring_t;

static long
field_long(const char *s)
{
	return strcmp(s, "-") == 0 ? -1 : strtol(s, NULL, 0);
}

static void
read_ring(const char *path, ring_t *ring)
{
	char script[300], cmd[700];
	snprintf(script, sizeof(script), "%s.py", path);
	FILE *f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fputs(summarize_py, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", script, path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "max=%ld interval=%ld\n", &ring->max, &ring->interval), 2);
	ring->n = 0;
	char au[32], pc0[32], du[32], dpc0[32], dtime[32];
	rec_t r;
	while (ring->n < 4096 &&
	       fscanf(p, "%zu %zu %d %31s %31s %31s %31s %31s %31s %llu %31s\n", &r.size, &r.usize,
	              &r.released, au, r.alloc_name, pc0, du, r.dalloc_name, dpc0, &r.alloc_time,
	              dtime) == 11) {
		r.alloc_uid = field_long(au);
		r.dalloc_uid = field_long(du);
		r.alloc_pc = strcmp(pc0, "-") == 0 ? 0 : (uintptr_t)strtoull(pc0, NULL, 16);
		r.dalloc_pc = strcmp(dpc0, "-") == 0 ? 0 : (uintptr_t)strtoull(dpc0, NULL, 16);
		r.dalloc_time = strcmp(dtime, "-") == 0 ? 0 : strtoull(dtime, NULL, 10);
		ring->recs[ring->n++] = r;
	}
	ck_assert_msg(pclose(p) == 0, "python3 rejected %s", path);
	unlink(script);
}

static ring_t ring; /* large: not on a test's stack */

/* Dumps the ring to the test folder (name; .gz compresses) and reads it
 * into ring.  Allocates nothing before the dump. */
static void
dump_and_read(const char *name)
{
	char path[256];
	test_path(path, sizeof(path), name);
	int err = dump_to(path);
	ck_assert_int_eq(err, 0);
	read_ring(path, &ring);
	unlink(path);
}

static bool
from_site(const rec_t *r)
{
	return pc_in(r->alloc_pc, site_alloc) || pc_in(r->alloc_pc, site_grow);
}

/* The index of the first record of size made by site_alloc at or after
 * from; -1 if none. */
static long
find_size(size_t size, size_t from)
{
	for (size_t i = from; i < ring.n; i++) {
		if (ring.recs[i].size == size && from_site(&ring.recs[i]))
			return (long)i;
	}
	return -1;
}

/* How many records of size site_alloc made. */
static size_t
count_size(size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < ring.n; i++)
		n += ring.recs[i].size == size && from_site(&ring.recs[i]);
	return n;
}

/* ------------------------------------------------ records */

static void *
free_in_named_thread(void *p)
{
	const char *name = "freer";
	ck_assert_int_eq(mallctl("thread.prof.name", NULL, NULL, &name, sizeof(name)), 0);
	site_free(p);
	return NULL;
}

static void *
alloc_in_unnamed_thread(void *arg)
{
	(void)arg;
	return site_alloc(777);
}

START_TEST(test_records_sizes_threads_stacks)
{
	const char *name = "mainthr";
	ck_assert_int_eq(mallctl("thread.prof.name", NULL, NULL, &name, sizeof(name)), 0);
	set_max(-1);
	void *a = site_alloc(100), *b = site_alloc(5000), *c = site_alloc(300000);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, free_in_named_thread, b), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	void *d;
	ck_assert_int_eq(pthread_create(&t, NULL, alloc_in_unnamed_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, &d), 0);
	dump_and_read("r.json");

	ck_assert_int_eq(ring.max, -1);
	ck_assert_int_eq(ring.interval, 1);
	long ia = find_size(100, 0), ib = find_size(5000, 0), ic = find_size(300000, 0),
	     id = find_size(777, 0);
	ck_assert_msg(ia >= 0 && ib > ia && ic > ib && id > ic, "order %ld %ld %ld %ld", ia, ib,
	              ic, id);
	rec_t *ra = &ring.recs[ia], *rb = &ring.recs[ib], *rc = &ring.recs[ic],
	      *rd = &ring.recs[id];
	ck_assert_uint_eq(ra->usize, malloc_usable_size(a));
	ck_assert_uint_eq(rc->usize, malloc_usable_size(c));
	ck_assert_uint_eq(rb->usize, 5120);
	ck_assert_int_eq(ra->released, 0);
	ck_assert_int_eq(rb->released, 1);
	ck_assert_int_eq(rc->released, 0);
	ck_assert_int_eq(rd->released, 0);
	ck_assert_str_eq(ra->alloc_name, "mainthr");
	ck_assert_str_eq(rd->alloc_name, "-"); /* unnamed: no key */
	ck_assert_int_ne(rd->alloc_uid, ra->alloc_uid);
	/* The free: its thread, name, time and stack. */
	ck_assert_int_ne(rb->dalloc_uid, -1);
	ck_assert_int_ne(rb->dalloc_uid, rb->alloc_uid);
	ck_assert_str_eq(rb->dalloc_name, "freer");
	ck_assert_msg(pc_in(rb->dalloc_pc, site_free), "dalloc pc %#lx",
	              (unsigned long)rb->dalloc_pc);
	ck_assert_uint_ge(rb->dalloc_time, rb->alloc_time);
	ck_assert_int_eq(ra->dalloc_uid, -1);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	unsigned long long now_ns = (unsigned long long)now.tv_sec * 1000000000ull + now.tv_nsec;
	ck_assert_msg(ra->alloc_time <= now_ns && now_ns - ra->alloc_time < 60000000000ull,
	              "alloc_time %llu, now %llu", ra->alloc_time, now_ns);
	free(a);
	free(c);
	free(d);
}
END_TEST

/* ------------------------------------------------ the limit */

START_TEST(test_eviction_keeps_the_newest)
{
	set_max(5);
	void *p[20];
	for (int i = 0; i < 20; i++)
		p[i] = site_alloc(1000 + 16 * (size_t)i);
	dump_and_read("r.json.gz");
	ck_assert_int_eq(ring.max, 5);
	ck_assert_uint_eq(ring.n, 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_uint_eq(ring.recs[i].size, 1000 + 16 * (15 + i));
	for (int i = 0; i < 20; i++)
		free(p[i]);
}
END_TEST

START_TEST(test_shrinking_the_limit_evicts_the_oldest)
{
	set_max(10);
	void *p[10];
	for (int i = 0; i < 10; i++)
		p[i] = site_alloc(2000 + 16 * (size_t)i);
	ssize_t shrunk = 3, old;
	size_t len = sizeof(old);
	int err = mallctl("experimental.prof_recent.alloc_max", &old, &len, &shrunk,
	                  sizeof(shrunk));
	dump_and_read("r.json");
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(old, 10);
	ck_assert_uint_eq(ring.n, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_eq(ring.recs[i].size, 2000 + 16 * (7 + i));
	/* Unlimited: everything from now on is kept. */
	ck_assert_int_eq(set_max(-1), 3);
	void *q[3000];
	for (int i = 0; i < 3000; i++)
		q[i] = site_alloc(24);
	dump_and_read("r.json");
	ck_assert_uint_eq(count_size(24), 3000);
	for (int i = 0; i < 3000; i++)
		free(q[i]);
	for (int i = 0; i < 10; i++)
		free(p[i]);
	/* Off: nothing is recorded, and the dump is empty. */
	set_max(0);
	site_free(site_alloc(99));
	dump_and_read("r.json");
	ck_assert_uint_eq(ring.n, 0);
	ck_assert_int_eq(ring.max, 0);
}
END_TEST

/* An evicted record is reused for a newer sample: the free of the object it
 * described must not touch it. */
START_TEST(test_free_after_eviction_leaves_the_record_alone)
{
	set_max(1);
	void *a = site_alloc(111);
	void *b = site_alloc(222);
	site_free(a);
	dump_and_read("r.json");
	ck_assert_uint_eq(ring.n, 1);
	ck_assert_uint_eq(ring.recs[0].size, 222);
	ck_assert_int_eq(ring.recs[0].released, 0);
	site_free(b);
	dump_and_read("r.json");
	ck_assert_uint_eq(ring.n, 1);
	ck_assert_int_eq(ring.recs[0].released, 1);
}
END_TEST

/* A sampled object grown in place with its new bytes sampled: the old
 * record is released by the resize and a new one has the new size. */
START_TEST(test_resize_in_place_is_recorded)
{
	set_max(-1);
	void *p = site_alloc(64 << 10);
	size_t grown = site_grow(p, 128 << 10);
	ck_assert_uint_eq(grown, 128 << 10);
	dump_and_read("r.json");
	long old = find_size(64 << 10, 0), neu = find_size(128 << 10, 0);
	ck_assert_msg(old >= 0 && neu > old, "records %ld %ld", old, neu);
	ck_assert_int_eq(ring.recs[old].released, 1);
	ck_assert_int_eq(ring.recs[neu].released, 0);
	ck_assert_uint_eq(ring.recs[neu].usize, 128 << 10);
	free(p);
}
END_TEST

/* ------------------------------------------------ mallctl */

static void
ignore_chunk(void *opaque, const char *s)
{
	(void)opaque;
	(void)s;
}

START_TEST(test_ctl_errors)
{
	ssize_t bad = -2;
	ck_assert_int_eq(mallctl("experimental.prof_recent.alloc_max", NULL, NULL, &bad,
	                         sizeof(bad)),
	                 EINVAL);
	int small = 5;
	ck_assert_int_eq(mallctl("experimental.prof_recent.alloc_max", NULL, NULL, &small,
	                         sizeof(small)),
	                 EINVAL);
	ssize_t max;
	size_t len = sizeof(max);
	ck_assert_int_eq(mallctl("experimental.prof_recent.alloc_max", &max, &len, NULL, 0), 0);
	ck_assert_int_eq(max, 1000); /* the default with prof:true */
	struct {
		void (*cb)(void *, const char *);
		void *opaque;
	} out = {ignore_chunk, NULL};
	ck_assert_int_eq(mallctl("experimental.prof_recent.alloc_dump", NULL, NULL, &out,
	                         sizeof(out) - 1),
	                 EINVAL);
	ck_assert_int_eq(mallctl("experimental.prof_recent.alloc_dump", NULL, NULL, NULL, 0),
	                 EINVAL);
	len = sizeof(out);
	ck_assert_int_eq(mallctl("experimental.prof_recent.alloc_dump", &out, &len, &out,
	                         sizeof(out)),
	                 EPERM);
	const char *path = NULL;
	ck_assert_int_eq(mallctl("prof.recent.dump", NULL, NULL, &path, sizeof(path)), EINVAL);
	path = "/nonexistent-folder/r.json";
	ck_assert_int_eq(mallctl("prof.recent.dump", NULL, NULL, &path, sizeof(path)), EFAULT);
	ck_assert_int_eq(access(path, F_OK), -1);
	errno = 1234;
	ck_assert_int_eq(mallctl("experimental.prof_recent.alloc_dump", NULL, NULL, &out,
	                         sizeof(out)),
	                 0);
	ck_assert_int_eq(errno, 1234);
}
END_TEST

/* ------------------------------------------------ the callback */

static char cb_text[1 << 22];
static size_t cb_len, cb_chunks, cb_longest;

static void
collect_chunk(void *opaque, const char *s)
{
	(void)opaque;
	size_t n = strlen(s);
	if (cb_len + n >= sizeof(cb_text))
		abort(); /* no assertion here: Check's would allocate during the dump */
	memcpy(cb_text + cb_len, s, n + 1);
	cb_len += n;
	cb_chunks++;
	cb_longest = n > cb_longest ? n : cb_longest;
}

/* experimental.prof_recent.alloc_dump into cb_text; allocates nothing
 * before the dump.  The mallctl's result. */
static int
dump_through_callback(void (*cb)(void *, const char *))
{
	struct {
		void (*cb)(void *, const char *);
		void *opaque;
	} out = {cb, NULL};
	cb_len = cb_chunks = cb_longest = 0;
	return mallctl("experimental.prof_recent.alloc_dump", NULL, NULL, &out, sizeof(out));
}

/* The text before "mapped_libraries" (the mappings differ between two dumps:
 * each maps its own buffer). */
static size_t
records_part(const char *text)
{
	const char *m = strstr(text, ",\"mapped_libraries\":");
	ck_assert_ptr_nonnull(m);
	return (size_t)(m - text);
}

START_TEST(test_callback_chunks_match_the_file)
{
	set_max(-1);
	void *p[3000];
	for (int i = 0; i < 3000; i++)
		p[i] = site_alloc(40);
	char path[256];
	test_path(path, sizeof(path), "r.json");
	int cb_err = dump_through_callback(collect_chunk);
	int err = dump_to(path);
	ck_assert_int_eq(cb_err, 0);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_gt(cb_chunks, 1); /* more than one buffer's worth */
	ck_assert_uint_le(cb_longest, 64 << 10);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	static char file_text[1 << 22];
	size_t n = fread(file_text, 1, sizeof(file_text) - 1, f);
	file_text[n] = '\0';
	fclose(f);
	size_t k = records_part(cb_text);
	ck_assert_uint_eq(k, records_part(file_text));
	ck_assert_int_eq(memcmp(cb_text, file_text, k), 0);
	ck_assert_int_eq(file_text[n - 1], '}');
	unlink(path);
	for (int i = 0; i < 3000; i++)
		free(p[i]);
}
END_TEST

/* While a dump is in progress (its callback is running), another thread's
 * sampled allocations and frees go on and are not lost. */
static atomic_int helper_done;

static void *
allocate_during_dump(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++)
		site_free(site_alloc(4321));
	void *kept = site_alloc(4322);
	atomic_store(&helper_done, 1);
	return kept;
}

static void
chunk_that_waits_for_a_helper(void *opaque, const char *s)
{
	collect_chunk(opaque, s);
	if (cb_chunks != 1)
		return;
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, allocate_during_dump, NULL), 0);
	double deadline = child_now_s() + CHILD_WAIT_S / 2;
	while (!atomic_load(&helper_done) && child_now_s() < deadline)
		sched_yield();
	ck_assert_msg(atomic_load(&helper_done), "allocation blocked by the dump");
	void *kept;
	ck_assert_int_eq(pthread_join(t, &kept), 0);
}

START_TEST(test_recording_goes_on_during_a_dump)
{
	set_max(-1);
	void *p[3000];
	for (int i = 0; i < 3000; i++)
		p[i] = site_alloc(56);
	ck_assert_int_eq(dump_through_callback(chunk_that_waits_for_a_helper), 0);
	ck_assert(strstr(cb_text, "\"size\":4322") == NULL); /* after the dump began */
	dump_and_read("r.json");
	long first = find_size(56, 0);
	long kept = find_size(4322, 0);
	ck_assert_msg(first >= 0 && kept > first, "records %ld %ld", first, kept);
	size_t freed = 0;
	for (size_t i = 0; i < ring.n; i++)
		freed += ring.recs[i].size == 4321 && ring.recs[i].released;
	ck_assert_uint_eq(freed, 50);
	ck_assert_uint_eq(count_size(4321), 50);
	for (int i = 0; i < 3000; i++)
		free(p[i]);
}
END_TEST

/* A fork from inside a dump (the ring is detached, the dump's lock held):
 * the child's ring has every record, and the child can dump. */
static void
chunk_that_forks(void *opaque, const char *s)
{
	collect_chunk(opaque, s);
	if (cb_chunks != 1)
		return;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dump_and_read("child.json");
		long i = find_size(4242, 0);
		_exit(i >= 0 && find_size(4243, (size_t)i) > i ? 0 : 7);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
}

START_TEST(test_fork_during_a_dump)
{
	set_max(-1);
	void *p[2000];
	p[0] = site_alloc(4242);
	for (int i = 1; i < 1999; i++)
		p[i] = site_alloc(48);
	p[1999] = site_alloc(4243);
	ck_assert_int_eq(dump_through_callback(chunk_that_forks), 0);
	for (int i = 0; i < 2000; i++)
		free(p[i]);
}
END_TEST

static Suite *
prof_recent_suite(void)
{
	Suite *s = suite_create("api_prof_recent");
	TCase *tc = tcase_create("recent");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_records_sizes_threads_stacks);
	tcase_add_test(tc, test_eviction_keeps_the_newest);
	tcase_add_test(tc, test_shrinking_the_limit_evicts_the_oldest);
	tcase_add_test(tc, test_free_after_eviction_leaves_the_record_alone);
	tcase_add_test(tc, test_resize_in_place_is_recorded);
	tcase_add_test(tc, test_ctl_errors);
	tcase_add_test(tc, test_callback_chunks_match_the_file);
	tcase_add_test(tc, test_recording_goes_on_during_a_dump);
	tcase_add_test(tc, test_fork_during_a_dump);
	suite_add_tcase(s, tc);
	return s;
}

static pid_t test_dir_owner;

/* At the runner's exit (not a forked test's): the folder, which each test
 * leaves empty. */
static void
remove_test_dir(void)
{
	if (getpid() == test_dir_owner)
		rmdir(test_dir);
}

Suite *test_suite(void);
Suite *
test_suite(void)
{
	test_dir_owner = getpid();
	atexit(remove_test_dir);
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	return prof_recent_suite();
}
