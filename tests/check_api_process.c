/*
 * check_api_process.c — libstrata.so across a process's life: allocation
 * from a constructor that runs before main (also from a thread the
 * constructor starts), fork() while other threads are in the middle of
 * allocating (the child must be able to malloc/free, start threads, and
 * exit 0), threads that exit while their memory is still live or cached
 * (reallocated and freed later by another thread), and thousands of
 * short-lived threads not growing the heap.
 *
 * No test sleeps: threads meet on barriers and condition variables, and a
 * child that hangs is killed by its own alarm(), which fails the test.
 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef STRATA_TSAN
/* ThreadSanitizer's runtime kills a child of a multi-threaded process that
 * starts a thread, and a fork child recreates the purger threads
 * (background_thread): under make check-tsan they stay off.  The plain
 * build runs with them. */
const char *malloc_conf = "background_thread:false";
#endif

/* xorshift64*: deterministic per-thread sizes. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* ------------------------------------------------------------ constructor */

static void *ctor_block;	/* malloc(1000) before main, filled with 0x5c */
static size_t ctor_usable;	/* its malloc_usable_size, read in the constructor */
static char *ctor_string;	/* strdup() before main */
static int ctor_calloc_zeroed;	/* 1 if calloc in the constructor gave zeros */
static int ctor_aligned_ok;	/* 1 if posix_memalign in the constructor worked */
static void *ctor_thread_block; /* allocated by a thread the constructor started */

static void *
ctor_thread(void *arg)
{
	(void)arg;
	void *p = malloc(50000);
	if (p != NULL)
		memset(p, 0x7d, 50000);
	return p;
}

__attribute__((constructor(101))) static void
allocate_before_main(void)
{
	ctor_block = malloc(1000);
	if (ctor_block != NULL) {
		memset(ctor_block, 0x5c, 1000);
		ctor_usable = malloc_usable_size(ctor_block);
	}
#ifdef STRATA_INTERNAL_TEST
	/* Built against the internal archive (make check-tsan, tests/tsan.mk):
	 * malloc and free here are strata_test_*, but libc's strdup still calls
	 * the sanitizer runtime's malloc, whose blocks strata's free rejects.
	 * The same copy by hand; the plain build (check-api) tests strdup. */
	static const char text[] = "allocated before main";
	ctor_string = malloc(sizeof(text));
	if (ctor_string != NULL)
		memcpy(ctor_string, text, sizeof(text));
#else
	ctor_string = strdup("allocated before main");
#endif

	unsigned char *z = calloc(100, 10);
	ctor_calloc_zeroed = z != NULL;
	for (int i = 0; z != NULL && i < 1000; i++)
		if (z[i] != 0)
			ctor_calloc_zeroed = 0;
	z = realloc(z, 100000);
	free(z);

	void *a = NULL;
	ctor_aligned_ok = posix_memalign(&a, 4096, 100) == 0 && ((uintptr_t)a & 4095) == 0;
	free(a);

	pthread_t t;
	if (pthread_create(&t, NULL, ctor_thread, NULL) == 0)
		pthread_join(t, &ctor_thread_block);
}

START_TEST(test_malloc_in_constructor)
{
	ck_assert_ptr_nonnull(ctor_block);
	ck_assert_uint_eq(ctor_usable, nallocx(1000, 0));
	ck_assert_uint_eq(malloc_usable_size(ctor_block), ctor_usable);
	const unsigned char *b = ctor_block;
	for (int i = 0; i < 1000; i++)
		expect(b[i] == 0x5c, "constructor block byte %d changed to 0x%02x", i, b[i]);
	ck_assert_ptr_nonnull(ctor_string);
	ck_assert_str_eq(ctor_string, "allocated before main");
	ck_assert_int_eq(ctor_calloc_zeroed, 1);
	ck_assert_int_eq(ctor_aligned_ok, 1);
	ck_assert_ptr_nonnull(ctor_thread_block);
	const unsigned char *t = ctor_thread_block;
	for (int i = 0; i < 50000; i++)
		expect(t[i] == 0x7d, "constructor thread block byte %d changed", i);
	/* Blocks from before main are ordinary blocks now. */
	ctor_block = launder(realloc(ctor_block, 200000));
	ck_assert_ptr_nonnull(ctor_block);
	b = ctor_block;
	for (int i = 0; i < 1000; i++)
		expect(b[i] == 0x5c, "realloc of constructor block lost byte %d", i);
	free(ctor_block);
	free(ctor_string);
	free(ctor_thread_block);
}
END_TEST

/* ------------------------------------------------------------------ fork */

enum { FORK_WORKERS = 4, FORKS = 12 };

struct fork_ctx {
	pthread_barrier_t running; /* workers + forking thread */
	atomic_int stop;
	atomic_long iterations;
	atomic_int seeds; /* hands out one seed per worker */
};

/* Allocates, writes and frees in a loop (keeping a few blocks live, some
 * large) until told to stop. */
static void *
fork_worker(void *arg)
{
	struct fork_ctx *c = arg;
	/* Fixed seed per worker (ticket order). */
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(atomic_fetch_add(&c->seeds, 1) + 1);
	void *keep[64] = {0};
	int first = 1;
	long n = 0;
	while (!atomic_load(&c->stop)) {
		uint64_t r = rng_next(&rng);
		size_t sz = (r & 15) == 0 ? 16384 + (r >> 40) % (2u << 20) : 1 + (r >> 32) % 2048;
		unsigned slot = (unsigned)(r >> 8) % 64;
		free(keep[slot]);
		keep[slot] = malloc(sz);
		if (keep[slot] != NULL)
			memset(keep[slot], (int)(r & 0xff), sz < 256 ? sz : 256);
		if (++n == 200 && first) {
			first = 0;
			pthread_barrier_wait(&c->running);
		}
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	atomic_fetch_add(&c->iterations, n);
	return NULL;
}

static void *
child_thread(void *arg)
{
	(void)arg;
	uintptr_t ok = 1;
	for (int i = 0; i < 2000; i++) {
		size_t sz = 1 + (size_t)(i * 37) % 40000;
		unsigned char *p = malloc(sz);
		if (p == NULL)
			return NULL;
		memset(p, 0x44, sz);
		if (p[sz - 1] != 0x44)
			ok = 0;
		free(p);
	}
	return (void *)ok;
}

/* What the child does: allocate and free in many size classes, start a
 * thread that does the same, then exit 0 (1..4 = which step failed). */
static void
fork_child(void)
{
	alarm(10);
	void *blk[300];
	for (int i = 0; i < 300; i++) {
		size_t sz = 1 + (size_t)(i * 7919) % (i % 20 ? 3000 : 3000000);
		blk[i] = malloc(sz);
		if (blk[i] == NULL)
			_exit(1);
		memset(blk[i], i & 0xff, sz);
	}
	for (int i = 0; i < 300; i++) {
		size_t sz = 1 + (size_t)(i * 7919) % (i % 20 ? 3000 : 3000000);
		if (((unsigned char *)blk[i])[sz - 1] != (unsigned char)(i & 0xff))
			_exit(2);
		free(blk[i]);
	}
#ifndef STRATA_TSAN
	/* Not under ThreadSanitizer (-DSTRATA_TSAN, make check-tsan): its
	 * runtime does not support starting threads in the child of a
	 * multi-threaded process (it dies, or with die_after_fork=0 reports
	 * "dup thread with used id" for the parent's threads it still lists).
	 * The plain build (check-api) runs this step. */
	pthread_t t;
	void *res = NULL;
	if (pthread_create(&t, NULL, child_thread, NULL) != 0 || pthread_join(t, &res) != 0)
		_exit(3);
	if (res != (void *)1)
		_exit(4);
#else
	(void)child_thread;
#endif
	void *r = realloc(malloc(10), 100000);
	if (r == NULL)
		_exit(5);
	free(r);
	_exit(0);
}

static void
check_child(pid_t pid, int round)
{
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!WIFSIGNALED(status), "fork round %d: child killed by signal %d (%s)", round,
		      WTERMSIG(status),
		      WTERMSIG(status) == SIGALRM ? "hung for 10 s: deadlock after fork" : "crash");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "fork round %d: child exited with %d", round, WEXITSTATUS(status));
}

START_TEST(test_fork_while_threads_allocate)
{
	static struct fork_ctx c;
	atomic_store(&c.stop, 0);
	atomic_store(&c.iterations, 0);
	atomic_store(&c.seeds, 0);
	ck_assert_int_eq(pthread_barrier_init(&c.running, NULL, FORK_WORKERS + 1), 0);
	pthread_t w[FORK_WORKERS];
	for (int i = 0; i < FORK_WORKERS; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, fork_worker, &c), 0);
	/* Every worker is in its allocation loop before the first fork. */
	pthread_barrier_wait(&c.running);
	for (int round = 0; round < FORKS; round++) {
		/* Allocate in the forking thread too, right before fork. */
		void *mine = malloc(100 + (size_t)round * 1000);
		ck_assert_ptr_nonnull(mine);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			free(mine); /* inherited blocks are freeable in the child */
			fork_child();
		}
		free(mine);
		check_child(pid, round);
	}
	atomic_store(&c.stop, 1);
	for (int i = 0; i < FORK_WORKERS; i++)
		pthread_join(w[i], NULL);
	pthread_barrier_destroy(&c.running);
	ck_assert_int_gt(atomic_load(&c.iterations), 200 * FORK_WORKERS);
}
END_TEST

/* A thread that keeps starting short-lived threads (each sets up and tears
 * down its thread cache, which takes the allocator's cache-list lock) until
 * told to stop. */
static void *
churn_once(void *arg)
{
	(void)arg;
	free(launder(malloc(64)));
	return NULL;
}

static void *
thread_churner(void *arg)
{
	struct fork_ctx *c = arg;
	long n = 0;
	while (!atomic_load(&c->stop)) {
		pthread_t t;
		if (pthread_create(&t, NULL, churn_once, NULL) == 0)
			pthread_join(t, NULL);
		if (++n == 20)
			pthread_barrier_wait(&c->running);
	}
	atomic_fetch_add(&c->iterations, n);
	return NULL;
}

START_TEST(test_fork_while_threads_come_and_go)
{
	static struct fork_ctx c;
	atomic_store(&c.stop, 0);
	atomic_store(&c.iterations, 0);
	ck_assert_int_eq(pthread_barrier_init(&c.running, NULL, 2), 0);
	pthread_t churner;
	ck_assert_int_eq(pthread_create(&churner, NULL, thread_churner, &c), 0);
	pthread_barrier_wait(&c.running);
	for (int round = 0; round < FORKS; round++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			fork_child();
		check_child(pid, round);
	}
	atomic_store(&c.stop, 1);
	pthread_join(churner, NULL);
	pthread_barrier_destroy(&c.running);
	ck_assert_int_ge(atomic_load(&c.iterations), 20);
}
END_TEST

/* fork() from a thread other than the main one, twice nested. */
static void *
forking_thread(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid < 0)
		return (void *)1;
	if (pid == 0) {
		/* The child forks again: the grandchild must work too. */
		void *p = malloc(12345);
		if (p == NULL)
			_exit(6);
		pid_t g = fork();
		if (g == 0)
			fork_child();
		int st = 0;
		if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			_exit(7);
		free(p);
		fork_child();
	}
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return (void *)2;
	return (void *)(uintptr_t)(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 100 + st);
}

START_TEST(test_fork_from_thread_nested)
{
	pthread_t t;
	void *res = (void *)1;
	ck_assert_int_eq(pthread_create(&t, NULL, forking_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, &res), 0);
	ck_assert_msg(res == NULL, "fork from a thread: result %lu", (unsigned long)(uintptr_t)res);
}
END_TEST

/* ------------------------------------------------------------ thread exit */

enum { EXIT_THREADS = 64, EXIT_BLOCKS = 400 };

struct exit_slot {
	int index; /* which thread: its seed */
	unsigned char *blk[EXIT_BLOCKS];
	size_t len[EXIT_BLOCKS];
};

static void *
short_lived(void *arg)
{
	struct exit_slot *s = arg;
	uint64_t rng = 12345 + (uint64_t)s->index * 7919;
	void *tmp[EXIT_BLOCKS];
	for (int i = 0; i < EXIT_BLOCKS; i++) {
		size_t sz = 1 + rng_next(&rng) % (i % 50 ? 1000 : 200000);
		tmp[i] = malloc(sz); /* freed below: fills this thread's cache */
		s->len[i] = sz;
		s->blk[i] = malloc(sz); /* outlives the thread */
		if (s->blk[i] != NULL)
			memset(s->blk[i], (int)(sz & 0xff), sz);
	}
	for (int i = 0; i < EXIT_BLOCKS; i++)
		free(tmp[i]);
	return NULL;
}

START_TEST(test_thread_exit_memory_survives)
{
	static struct exit_slot slots[EXIT_THREADS];
	for (int i = 0; i < EXIT_THREADS; i++)
		slots[i].index = i;
	/* Four at a time, so exits overlap with other threads' allocation. */
	for (int base = 0; base < EXIT_THREADS; base += 4) {
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, short_lived, &slots[base + i]),
					 0);
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	}
	for (int k = 0; k < EXIT_THREADS; k++) {
		for (int i = 0; i < EXIT_BLOCKS; i++) {
			unsigned char *p = slots[k].blk[i];
			size_t n = slots[k].len[i];
			expect(p != NULL, "thread %d block %d: malloc failed", k, i);
			unsigned char c = (unsigned char)(n & 0xff);
			expect(p[0] == c && p[n / 2] == c && p[n - 1] == c,
			       "thread %d block %d (%zu bytes) changed after the thread exited", k,
			       i, n);
			expect(malloc_usable_size(p) == nallocx(n, 0),
			       "thread %d block %d: usable size", k, i);
			if (i % 2) {
				/* Grow it: the owner's cache and arena are gone. */
				p = launder(realloc(p, n * 2 + 100));
				expect(p != NULL && p[0] == c && p[n - 1] == c,
				       "realloc of thread %d block %d lost its data", k, i);
			}
			free(p);
		}
	}
}
END_TEST

/* ---------------------------------------------------------- thread churn */

static size_t
stat_mapped(void)
{
	uint64_t epoch = 1;
	size_t len = sizeof(epoch);
	mallctl("epoch", &epoch, &len, &epoch, len);
	size_t mapped = 0;
	len = sizeof(mapped);
	ck_assert_int_eq(mallctl("stats.mapped", &mapped, &len, NULL, 0), 0);
	return mapped;
}

static void *
churn_thread(void *arg)
{
	(void)arg;
	void *p[64];
	for (int i = 0; i < 64; i++)
		p[i] = malloc(16 + (size_t)i * 200);
	for (int i = 0; i < 64; i++)
		free(p[i]);
	return NULL;
}

static void
run_churn(int n)
{
	for (int i = 0; i < n; i++) {
		pthread_t t;
		ck_assert_int_eq(pthread_create(&t, NULL, churn_thread, NULL), 0);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
	}
}

START_TEST(test_thread_churn_does_not_grow)
{
	/* Thousands of threads that each fill a cache and exit: what a thread
	 * owns (its cache, its state) is given back when it exits, so the
	 * mapped total stays flat once every arena is in use. */
	run_churn(500);
	size_t before = stat_mapped();
	run_churn(4000);
	size_t after = stat_mapped();
	ck_assert_msg(after <= before + 8 * ((size_t)1 << 20),
		      "stats.mapped grew from %zu to %zu bytes over 4000 short-lived threads",
		      before, after);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_process");
	TCase *tc = tcase_create("process");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_malloc_in_constructor);
	tcase_add_test(tc, test_fork_while_threads_allocate);
	tcase_add_test(tc, test_fork_while_threads_come_and_go);
	tcase_add_test(tc, test_fork_from_thread_nested);
	tcase_add_test(tc, test_thread_exit_memory_survives);
	tcase_add_test(tc, test_thread_churn_does_not_grow);
	suite_add_tcase(s, tc);
	return s;
}
