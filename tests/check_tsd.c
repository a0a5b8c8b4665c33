/*
 * check_tsd.c — the thread state block: a new thread goes from UNINIT to
 * NOMINAL on tsd_fetch and is bound to an arena (its nthreads counts the
 * thread until it exits); thread.allocated / thread.deallocated move by
 * usable sizes, per thread; thread.arena rebinding (flushes the cache,
 * moves the counts, refills from the new arena); thread.tcache enable,
 * disable and flush; a thread's exit flushes its cache to the arenas that
 * own the objects; allocation after the exit (from a later TLS destructor)
 * still works, without a cache; a thread whose first allocation comes from
 * a TLS destructor is still torn down.
 *
 * In a fork child only the forking thread is counted as bound to an arena,
 * and the list of live caches forgets the parent's other threads (both
 * tests failed before the fork handler rebuilt that state).
 *
 * The public entry points are the internal archive's strata_test_* names.
 * Threads are waited for with pthread_timedjoin_np and a 10 s deadline,
 * fork children under a 5 s alarm.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "conf.h"
#include "emap.h"
#include "init.h"
#include "thread_util.h"
#include "tsd.h"

void *strata_test_malloc(size_t size);
void *strata_test_calloc(size_t num, size_t size);
void *strata_test_realloc(void *ptr, size_t size);
int strata_test_posix_memalign(void **memptr, size_t alignment, size_t size);
void strata_test_free(void *ptr);
size_t strata_test_malloc_usable_size(void *ptr);

#ifdef STRATA_TSAN
static const bool under_tsan = true;
#else
static const bool under_tsan = false;
#endif

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
}

static size_t
curregs(arena_t *a, unsigned binind)
{
	bin_stats_t st;
	bin_stats_read(&a->bins[binind], binind, a->pai, &st);
	return st.curregs;
}

static unsigned
owner(const void *p)
{
	unsigned ind = UINT_MAX;
	ck_assert_int_eq(arena_lookup(p, &ind), 0);
	return ind;
}

/* ------------------------------------------------------------ fetch, bind */

struct fetch_job {
	struct gate bound, release;
	uint8_t state_before, state_after;
	bool same_again;
	tsd_t *tsd;
	unsigned arena_ind;
	unsigned nthreads_once, nthreads_twice;
	bool tcache_enabled;
};

static void *
fetch_worker(void *arg)
{
	struct fetch_job *job = arg;
	job->state_before = tsd_tls.state;
	tsd_t *tsd = tsd_fetch();
	job->tsd = tsd;
	if (tsd != NULL) {
		job->state_after = tsd->state;
		job->arena_ind = tsd->arena->ind;
		job->nthreads_once = arena_nthreads(job->arena_ind);
		job->same_again = tsd_fetch() == tsd && tsd_fetch_slow() == tsd;
		job->nthreads_twice = arena_nthreads(job->arena_ind);
		job->tcache_enabled = tsd->tcache.enabled;
	}
	gate_open(&job->bound);
	gate_wait(&job->release);
	return NULL;
}

START_TEST(test_fetch_binds_new_thread)
{
	/* Nothing in this child is bound yet (the test thread never fetched). */
	ck_assert_uint_eq(tsd_tls.state, TSD_UNINIT);
	unsigned nauto = arena_narenas_auto();
	for (unsigned i = 0; i < nauto; i++)
		ck_assert_uint_eq(arena_nthreads(i), 0);

	static struct fetch_job job = {.bound = GATE_INIT, .release = GATE_INIT};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, fetch_worker, &job), 0);
	ck_assert(gate_wait(&job.bound));
	ck_assert_ptr_nonnull(job.tsd);
	ck_assert_uint_eq(job.state_before, TSD_UNINIT);
	ck_assert_uint_eq(job.state_after, TSD_NOMINAL);
	ck_assert(job.same_again);
	ck_assert_uint_eq(job.arena_ind, 0); /* the least loaded: all are at 0 */
	ck_assert_uint_eq(job.nthreads_once, 1);
	ck_assert_uint_eq(job.nthreads_twice, 1); /* fetching again binds nothing */
	ck_assert(job.tcache_enabled == opt_tcache);
	/* Seen from here, while the thread lives. */
	ck_assert_uint_eq(arena_nthreads(job.arena_ind), 1);
	gate_open(&job.release);
	join_bounded(th);
	/* Its exit unbound it. */
	ck_assert_uint_eq(arena_nthreads(job.arena_ind), 0);
	/* This thread's own block is untouched by the other's. */
	ck_assert_uint_eq(tsd_tls.state, TSD_UNINIT);
	tsd_t *mine = tsd_fetch();
	ck_assert_ptr_nonnull(mine);
	ck_assert_ptr_ne(mine, job.tsd);
	ck_assert_uint_eq(mine->state, TSD_NOMINAL);
	ck_assert_uint_eq(arena_nthreads(mine->arena->ind), 1);
}
END_TEST

/* ------------------------------------------------------------ counters */

struct counter_job {
	uint64_t *allocatedp;
	uint64_t allocated_delta;
};

static void *
counter_worker(void *arg)
{
	struct counter_job *job = arg;
	job->allocatedp = tsd_thread_allocatedp();
	uint64_t a0 = *job->allocatedp;
	void *p = strata_test_malloc(1 << 20);
	job->allocated_delta = *job->allocatedp - a0;
	strata_test_free(p);
	return NULL;
}

START_TEST(test_allocated_counters_follow_usable_sizes)
{
	uint64_t *ap = tsd_thread_allocatedp();
	uint64_t *dp = tsd_thread_deallocatedp();
	ck_assert_ptr_nonnull(ap);
	ck_assert_ptr_nonnull(dp);
	ck_assert_ptr_eq(ap, &tsd_tls.allocated);
	ck_assert_ptr_eq(dp, &tsd_tls.deallocated);
	ck_assert_ptr_eq(tsd_thread_allocatedp(), ap); /* stable */
	static const size_t sizes[] = {1,     8,     17,    100,    1000,    4097,
	                               14336, 14337, 20000, 100000, 1 << 20, 3 * 1024 * 1024 + 5};
	/* Twice: the first round fills the cache, the second pops from it
	 * (the fast paths count too). */
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint64_t a0 = *ap, d0 = *dp;
			void *p = strata_test_malloc(sizes[i]);
			ck_assert_ptr_nonnull(p);
			size_t usize = strata_test_malloc_usable_size(p);
			ck_assert_uint_eq(usize, sz_s2u(sizes[i]));
			ck_assert_uint_eq(*ap - a0, usize);
			ck_assert_uint_eq(*dp, d0);
			strata_test_free(p);
			ck_assert_uint_eq(*dp - d0, usize);
			ck_assert_uint_eq(*ap - a0, usize);
		}
	}
	/* calloc, aligned, realloc (moving: new size allocated, old freed). */
	uint64_t a0 = *ap, d0 = *dp;
	void *c = strata_test_calloc(10, 30);
	ck_assert_uint_eq(*ap - a0, sz_s2u(300));
	void *m = NULL;
	ck_assert_int_eq(strata_test_posix_memalign(&m, 4096, 100), 0);
	size_t musize = strata_test_malloc_usable_size(m);
	ck_assert_uint_eq(musize, sz_sa2u(100, 4096));
	ck_assert_uint_eq(*ap - a0, sz_s2u(300) + musize);
	a0 = *ap;
	void *r = strata_test_realloc(c, 5000);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(*ap - a0, sz_s2u(5000));
	ck_assert_uint_eq(*dp - d0, sz_s2u(300));
	d0 = *dp;
	strata_test_free(r);
	strata_test_free(m);
	ck_assert_uint_eq(*dp - d0, sz_s2u(5000) + musize);
	/* Another thread's allocations count in its own block only. */
	a0 = *ap;
	d0 = *dp;
	static struct counter_job job;
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, counter_worker, &job), 0);
	join_bounded(th);
	ck_assert_ptr_nonnull(job.allocatedp);
	ck_assert_ptr_ne(job.allocatedp, ap);
	ck_assert_uint_eq(job.allocated_delta, sz_s2u(1 << 20));
	ck_assert_uint_eq(*ap, a0);
	ck_assert_uint_eq(*dp, d0);
}
END_TEST

/* ------------------------------------------------------------ thread.arena */

START_TEST(test_thread_arena_set_rebinds)
{
	tsd_t *tsd = tsd_fetch();
	ck_assert_ptr_nonnull(tsd);
	unsigned home = tsd_thread_arena_get();
	ck_assert_uint_eq(home, tsd->arena->ind);
	arena_t *home_arena = tsd->arena;
	unsigned home_threads = arena_nthreads(home);
	ck_assert_uint_ge(home_threads, 1);

	/* Objects freed into the cache: still counted as in use by the bin. */
	unsigned b = sz_size2index(64);
	void *objs[10];
	for (unsigned i = 0; i < 10; i++)
		objs[i] = strata_test_malloc(64);
	size_t used = curregs(home_arena, b);
	for (unsigned i = 0; i < 10; i++)
		strata_test_free(objs[i]);
	ck_assert_uint_eq(curregs(home_arena, b), used);
	ck_assert_uint_ge(tsd->tcache.bins[b].ncached, 10);

	unsigned mind;
	ck_assert_int_eq(arena_create_manual(&mind), 0);
	ck_assert_int_eq(tsd_thread_arena_set(mind), 0);
	ck_assert_uint_eq(tsd_thread_arena_get(), mind);
	ck_assert_uint_eq(tsd->arena->ind, mind);
	ck_assert_ptr_eq(tsd->tcache.arena, tsd->arena);
	ck_assert_uint_eq(arena_nthreads(mind), 1);
	ck_assert_uint_eq(arena_nthreads(home), home_threads - 1);
	/* The cache went back to its owners on the way. */
	ck_assert_uint_eq(tsd->tcache.bins[b].ncached, 0);
	ck_assert_uint_le(curregs(home_arena, b), used - 10);
	/* New allocations, cached classes included, come from the new arena. */
	void *s = strata_test_malloc(64);
	void *l = strata_test_malloc(20000);
	void *h = strata_test_malloc(1 << 20);
	ck_assert_uint_eq(owner(s), mind);
	ck_assert_uint_eq(owner(l), mind);
	ck_assert_uint_eq(owner(h), mind);
	strata_test_free(s);
	strata_test_free(l);
	strata_test_free(h);

	/* Same arena: nothing moves.  Out of range: refused, binding kept. */
	ck_assert_int_eq(tsd_thread_arena_set(mind), 0);
	ck_assert_uint_eq(arena_nthreads(mind), 1);
	ck_assert_int_eq(tsd_thread_arena_set(arena_narenas_total()), EFAULT);
	ck_assert_int_eq(tsd_thread_arena_set(UINT_MAX), EFAULT);
	ck_assert_uint_eq(tsd_thread_arena_get(), mind);
	ck_assert_uint_eq(arena_nthreads(mind), 1);

	/* An automatic arena not created yet is created by the rebinding. */
	unsigned nauto = arena_narenas_auto();
	if (nauto >= 2) {
		unsigned last = nauto - 1;
		ck_assert(!arena_is_initialized(last));
		ck_assert_int_eq(tsd_thread_arena_set(last), 0);
		ck_assert(arena_is_initialized(last));
		ck_assert_uint_eq(arena_nthreads(last), 1);
		ck_assert_uint_eq(arena_nthreads(mind), 0);
	}
	ck_assert_int_eq(tsd_thread_arena_set(home), 0);
	ck_assert_uint_eq(arena_nthreads(home), home_threads);
	ck_assert_uint_eq(arena_nthreads(mind), 0);
	if (nauto >= 2)
		ck_assert_uint_eq(arena_nthreads(nauto - 1), 0);
}
END_TEST

/* ------------------------------------------------------------ thread.tcache */

START_TEST(test_tcache_enable_disable_flush)
{
	tsd_t *tsd = tsd_fetch();
	ck_assert_ptr_nonnull(tsd);
	arena_t *a = tsd->arena;
	unsigned b = sz_size2index(32);
	ck_assert(tsd_thread_tcache_enabled()); /* opt.tcache is true by default */

	/* Enabled: a free is cached, the bin still counts the region. */
	void *p = strata_test_malloc(32);
	size_t used = curregs(a, b);
	strata_test_free(p);
	ck_assert_uint_eq(curregs(a, b), used);
	unsigned cached = tsd->tcache.bins[b].ncached;
	ck_assert_uint_ge(cached, 1);
	ck_assert_uint_ge(tcache_bytes_of_arena(a->ind), cached * 32);

	/* Flush: everything cached goes back to the bin. */
	tsd_thread_tcache_flush();
	ck_assert_uint_eq(tsd->tcache.bins[b].ncached, 0);
	ck_assert_uint_eq(curregs(a, b), used - cached);
	ck_assert_uint_eq(tcache_bytes_of_arena(a->ind), 0);
	ck_assert(tsd_thread_tcache_enabled());

	/* Refill the cache, then disable: that flushes too. */
	p = strata_test_malloc(32);
	strata_test_free(p);
	ck_assert_uint_gt(tsd->tcache.bins[b].ncached, 0);
	used = curregs(a, b);
	cached = tsd->tcache.bins[b].ncached;
	ck_assert_int_eq(tsd_thread_tcache_set_enabled(false), 0);
	ck_assert(!tsd_thread_tcache_enabled());
	ck_assert_uint_eq(curregs(a, b), used - cached);
	ck_assert_uint_eq(tcache_bytes_of_arena(a->ind), 0);
	ck_assert_int_eq(tsd_thread_tcache_set_enabled(false), 0); /* idempotent */

	/* Disabled: every allocation and free goes straight to the bin. */
	used = curregs(a, b);
	p = strata_test_malloc(32);
	ck_assert_uint_eq(curregs(a, b), used + 1);
	strata_test_free(p);
	ck_assert_uint_eq(curregs(a, b), used);
	ck_assert_uint_eq(tsd->tcache.bins[b].ncached, 0);

	/* Enabled again: caching resumes. */
	ck_assert_int_eq(tsd_thread_tcache_set_enabled(true), 0);
	ck_assert(tsd_thread_tcache_enabled());
	p = strata_test_malloc(32);
	used = curregs(a, b);
	strata_test_free(p);
	ck_assert_uint_eq(curregs(a, b), used);
	ck_assert_uint_ge(tsd->tcache.bins[b].ncached, 1);
	tsd_thread_tcache_flush();
	ck_assert_uint_eq(tsd->tcache.bins[b].ncached, 0);
}
END_TEST

/* ------------------------------------------------------------ thread exit */

#define EXIT_N 64
struct exit_job {
	void *from_main[EXIT_N];  /* allocated by the test thread, freed here */
	void *to_main[EXIT_N / 2]; /* allocated here, freed by the test thread */
	unsigned manual_ind;
	unsigned auto_ind;
	struct gate freed, release;
};

static void *
exit_worker(void *arg)
{
	struct exit_job *job = arg;
	tsd_t *tsd = tsd_fetch();
	if (tsd == NULL)
		return NULL;
	job->auto_ind = tsd->arena->ind;
	tsd_thread_arena_set(job->manual_ind);
	/* Allocate twice as many as are handed over and free the rest, so
	 * that this cache holds objects of its own arena too; then free the
	 * test thread's objects (after: else they would be handed out
	 * again by the allocations). */
	void *mine[EXIT_N];
	for (unsigned i = 0; i < EXIT_N; i++)
		mine[i] = strata_test_malloc(48);
	for (unsigned i = 0; i < EXIT_N / 2; i++) {
		job->to_main[i] = mine[i];
		strata_test_free(mine[EXIT_N / 2 + i]);
	}
	for (unsigned i = 0; i < EXIT_N; i++)
		strata_test_free(job->from_main[i]);
	gate_open(&job->freed);
	gate_wait(&job->release);
	return NULL;
}

START_TEST(test_exit_flushes_cache)
{
	tsd_t *tsd = tsd_fetch();
	ck_assert_ptr_nonnull(tsd);
	arena_t *main_arena = tsd->arena;
	unsigned b = sz_size2index(48);
	static struct exit_job job = {.freed = GATE_INIT, .release = GATE_INIT};
	ck_assert_int_eq(arena_create_manual(&job.manual_ind), 0);
	arena_t *worker_arena = arena_get(job.manual_ind, false);
	for (unsigned i = 0; i < EXIT_N; i++) {
		job.from_main[i] = strata_test_malloc(48);
		ck_assert_uint_eq(owner(job.from_main[i]), main_arena->ind);
	}
	size_t main_used = curregs(main_arena, b);
	ck_assert_uint_eq(curregs(worker_arena, b), 0);

	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, exit_worker, &job), 0);
	ck_assert(gate_wait(&job.freed));
	/* While it lives, what it freed sits in its cache (capacity 200). */
	ck_assert_uint_eq(curregs(main_arena, b), main_used);
	ck_assert_uint_gt(curregs(worker_arena, b), EXIT_N / 2);
	ck_assert_uint_eq(arena_nthreads(job.manual_ind), 1);
	ck_assert_uint_gt(tcache_bytes_of_arena(job.manual_ind), 0);
	gate_open(&job.release);
	join_bounded(th);

	/* Its exit returned everything cached to the owning bins. */
	ck_assert_uint_eq(curregs(main_arena, b), main_used - EXIT_N);
	ck_assert_uint_eq(curregs(worker_arena, b), EXIT_N / 2);
	ck_assert_uint_eq(tcache_bytes_of_arena(job.manual_ind), 0);
	ck_assert_uint_eq(arena_nthreads(job.manual_ind), 0);
	ck_assert_uint_eq(arena_nthreads(job.auto_ind), job.auto_ind == main_arena->ind ? 1 : 0);
	/* What it handed over stays valid and is freed here. */
	for (unsigned i = 0; i < EXIT_N / 2; i++) {
		ck_assert_uint_eq(owner(job.to_main[i]), job.manual_ind);
		strata_test_free(job.to_main[i]);
	}
	tsd_thread_tcache_flush();
	ck_assert_uint_eq(curregs(worker_arena, b), 0);
}
END_TEST

/* A TLS destructor that runs after strata's (its key was created later):
 * the thread is EXITED and still allocates. */
static pthread_key_t late_key;
struct late_job {
	uint8_t state;
	bool tcache_enabled;
	bool allocated;
	unsigned ind;
	size_t used_during;
	uint64_t allocated_delta;
	void *kept;
};
static struct late_job late;

static void
late_destructor(void *arg)
{
	(void)arg;
	late.state = tsd_tls.state;
	late.tcache_enabled = tsd_thread_tcache_enabled();
	uint64_t a0 = tsd_tls.allocated;
	void *p = strata_test_malloc(80);
	late.kept = strata_test_malloc(80);
	late.allocated = p != NULL && late.kept != NULL;
	if (!late.allocated)
		return;
	late.allocated_delta = tsd_tls.allocated - a0;
	late.ind = emap_bits_extent(emap_lookup(p))->arena_ind;
	late.used_during = curregs(arena_get(late.ind, false), sz_size2index(80));
	strata_test_free(p);
}

static void *
late_worker(void *arg)
{
	(void)arg;
	void *p = strata_test_malloc(80); /* NOMINAL, with a cache */
	strata_test_free(p);
	pthread_setspecific(late_key, &late);
	return NULL;
}

START_TEST(test_allocation_after_exit)
{
	ck_assert_int_eq(pthread_key_create(&late_key, late_destructor), 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, late_worker, NULL), 0);
	join_bounded(th);
	ck_assert_uint_eq(late.state, TSD_EXITED);
	ck_assert(!late.tcache_enabled);
	ck_assert(late.allocated);
	ck_assert_uint_eq(late.allocated_delta, 2 * sz_s2u(80));
	arena_t *a = arena_get(late.ind, false);
	unsigned b = sz_size2index(80);
	/* No cache: the free went straight back, only the kept one is in use,
	 * and the exited thread is no longer counted on its arena. */
	ck_assert_uint_eq(curregs(a, b), late.used_during - 1);
	ck_assert_uint_eq(curregs(a, b), 1);
	ck_assert_uint_eq(arena_nthreads(late.ind), 0);
	ck_assert_uint_eq(owner(late.kept), late.ind);
	strata_test_free(late.kept);
}
END_TEST

/* A thread whose first allocation is made by a TLS destructor (strata's
 * key has no value yet when that destructor runs): it binds then, and the
 * next destructor round still tears it down. */
static pthread_key_t first_late_key;
static struct {
	uint8_t state_before, state_after;
	unsigned ind;
	bool cached;
} first_late;

static void
first_late_destructor(void *arg)
{
	(void)arg;
	first_late.state_before = tsd_tls.state;
	void *p = strata_test_malloc(80);
	if (p == NULL)
		return;
	first_late.state_after = tsd_tls.state;
	first_late.ind = emap_bits_extent(emap_lookup(p))->arena_ind;
	strata_test_free(p);
	first_late.cached = tsd_tls.tcache.bins[sz_size2index(80)].ncached > 0;
}

static void *
first_late_worker(void *arg)
{
	(void)arg;
	pthread_setspecific(first_late_key, &first_late);
	return NULL;
}

START_TEST(test_first_allocation_in_destructor)
{
	ck_assert_int_eq(pthread_key_create(&first_late_key, first_late_destructor), 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, first_late_worker, NULL), 0);
	join_bounded(th);
	ck_assert_uint_eq(first_late.state_before, TSD_UNINIT);
	ck_assert_uint_eq(first_late.state_after, TSD_NOMINAL);
	ck_assert(first_late.cached); /* the free went to its new cache */
	/* Torn down anyway: unbound, and the cache went back to the bin. */
	ck_assert_uint_eq(arena_nthreads(first_late.ind), 0);
	ck_assert_uint_eq(curregs(arena_get(first_late.ind, false), sz_size2index(80)), 0);
	ck_assert_uint_eq(tcache_bytes_of_arena(first_late.ind), 0);
}
END_TEST

/* ------------------------------------------------------------ fork */

/* A thread bound to arena_ind (automatic arena when UINT_MAX), with a
 * cache, that stays blocked until released. */
struct parked_job {
	unsigned arena_ind;
	struct gate bound, release;
};

static void *
parked_worker(void *arg)
{
	struct parked_job *job = arg;
	if (tsd_fetch() != NULL) {
		if (job->arena_ind != UINT_MAX)
			tsd_thread_arena_set(job->arena_ind);
		strata_test_free(strata_test_malloc(64));
	}
	gate_open(&job->bound);
	gate_wait(&job->release);
	return NULL;
}

static void *
short_worker(void *arg)
{
	(void)arg;
	strata_test_free(strata_test_malloc(64));
	return NULL;
}

/* Forks; the child runs body under a 5 s alarm and exits with its result;
 * the parent returns the child's wait status. */
static int
fork_and_wait(int (*body)(void *), void *arg)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL); /* not Check's handler, which kills the test */
		alarm(5);
		_exit(body(arg));
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* In the child: threads started and ended, then the cache statistics. */
static int
child_threads_then_stats(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, short_worker, NULL) != 0 ||
		    pthread_join(th, NULL) != 0)
			return 2;
		/* stats.arenas.<i>.tcache_bytes and every epoch refresh. */
		(void)tcache_bytes_of_arena(0);
	}
	return 0;
}

/* A fork child must not keep the parent's list of thread caches (it did:
 * the fork handler only re-initialized tcache_list_mtx).  The caches of
 * the parent's other threads live in those threads' TLS, which glibc hands
 * to the child's next threads (their stacks are reclaimed into the stack
 * cache); the new thread's TLS setup zeroes the listed tcache_t and its
 * tcache_init links the same node again, making tcache_list cyclic:
 * tcache_bytes_of_arena (every "epoch" write, stats.arenas.<i>.tcache_bytes,
 * malloc_stats_print) then spins forever under tcache_list_mtx.  jemalloc's
 * arena_postfork_child rebuilds its cache list with only the forking
 * thread's cache. */
START_TEST(test_fork_child_cache_list)
{
	ck_assert_ptr_nonnull(tsd_fetch());
	static struct parked_job job = {UINT_MAX, GATE_INIT, GATE_INIT};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, parked_worker, &job), 0);
	ck_assert(gate_wait(&job.bound));
	int status = fork_and_wait(child_threads_then_stats, NULL);
	gate_open(&job.release);
	join_bounded(th);
	ck_assert_msg(!WIFSIGNALED(status), "fork child killed by signal %d%s", WTERMSIG(status),
	              WTERMSIG(status) == SIGALRM ? " (spinning in tcache_bytes_of_arena)" : "");
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static int
child_destroy(void *arg)
{
	unsigned ind = *(unsigned *)arg;
	/* Only the forking thread exists here, and it is not bound to ind. */
	if (arena_nthreads(ind) != 0)
		return 10 + (int)arena_nthreads(ind);
	if (arena_destroy(ind) != 0)
		return 3;
	return 0;
}

/* Arena nthreads counts must be reset in a fork child (they were not: the
 * fork handler only re-initialized locks), else the threads of the
 * parent that do not exist in the child stay counted: least-loaded binding
 * there is skewed, and a manual arena that one of them was bound to can
 * never be destroyed in the child (arena_destroy / arena.<i>.destroy:
 * EFAULT).  jemalloc's arena_postfork_child sets nthreads to 0 and counts
 * the forking thread again. */
START_TEST(test_fork_child_nthreads)
{
	ck_assert_ptr_nonnull(tsd_fetch());
	static struct parked_job job = {0, GATE_INIT, GATE_INIT};
	ck_assert_int_eq(arena_create_manual(&job.arena_ind), 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, parked_worker, &job), 0);
	ck_assert(gate_wait(&job.bound));
	ck_assert_uint_eq(arena_nthreads(job.arena_ind), 1);
	int status = fork_and_wait(child_destroy, &job.arena_ind);
	gate_open(&job.release);
	join_bounded(th);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0,
	              "fork child: %s (exit %d)",
	              WEXITSTATUS(status) >= 10 ? "the parent's thread is still counted"
	                                        : "arena_destroy refused",
	              WEXITSTATUS(status));
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("tsd");
	TCase *tc = tcase_create("tsd");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fetch_binds_new_thread);
	tcase_add_test(tc, test_allocated_counters_follow_usable_sizes);
	tcase_add_test(tc, test_thread_arena_set_rebinds);
	tcase_add_test(tc, test_tcache_enable_disable_flush);
	tcase_add_test(tc, test_exit_flushes_cache);
	tcase_add_test(tc, test_allocation_after_exit);
	tcase_add_test(tc, test_first_allocation_in_destructor);
	/* Its child starts threads after a multi-threaded fork, which
	 * ThreadSanitizer does not support (tests/tsan.mk). */
	if (!under_tsan)
		tcase_add_test(tc, test_fork_child_cache_list);
	tcase_add_test(tc, test_fork_child_nthreads);
	suite_add_tcase(s, tc);
	return s;
}
