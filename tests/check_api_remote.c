/*
 * check_api_remote.c — memory freed by a thread other than the one that
 * allocated it, through the public API of lib/libstrata.so: producer
 * threads allocate objects of every small class and some large ones,
 * write a pattern and hand them through bounded queues to consumer
 * threads, which check the pattern and free them (docs/design.md, "Fast
 * paths": a freeing thread's cache takes any arena's objects and its flush
 * returns them to the owning arena).
 *
 * What is asserted, whatever path a cross-thread free takes (a flush into
 * the owner's bin, or a list the owner collects later): every object
 * arrives intact and is freed once; thread.allocated and
 * thread.deallocated count exactly the usable sizes a thread allocated and
 * freed; and once the threads are gone (their caches flushed at exit) the
 * owning arena's stats.arenas.<a>.bins.<j>.curregs, small.allocated and
 * large.allocated are exactly what is still live, with nmalloc - ndalloc
 * equal to curregs in every bin.  Also: an arena whose owner exited before
 * (or while) its objects were freed elsewhere serves every class again;
 * fork() while remote frees are in flight leaves a working child;
 * thread.tcache.flush and tcache.flush of another arena's objects, and
 * arena.<i>.reset, destroy and purge after cross-arena frees.
 *
 * Producers are bound to a manual arena (arenas.create, thread.arena), so
 * nothing else (the test's main thread, libc's own allocations when a
 * thread is created) allocates from the arena whose stats are judged; the
 * test with MALLOC_CONF=narenas:1 runs in a re-executed copy of this
 * program (child_main) and compares the one arena's stats before and after
 * the run, with every thread's cache flushed and the threads still alive.
 *
 * Threads never call into Check: they count failures (note_failure) and
 * the test thread asserts after joining them.  Every wait is bounded
 * (THREAD_WAIT_S, CHILD_WAIT_S); nothing sleeps.
 */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"
#include "thread_util.h"

#define CHILD_ENV "STRATA_CHECK_API_REMOTE_CHILD"

#ifdef STRATA_TSAN
/* ThreadSanitizer's runtime kills a fork child of a multi-threaded process
 * that starts a thread, and a fork child recreates the purger threads
 * (background_thread): under make check-tsan they stay off, as in
 * check_api_process.c.  The plain build runs with them. */
const char *malloc_conf = "background_thread:false";
#endif

#define NO_ARENA UINT_MAX
#define MAX_PROD 4
#define MAX_CONS 4
#define QCAP 4096     /* items a queue holds */
#define MAX_BINS 64   /* more than arenas.nbins */
#define MAX_SIZES 80  /* the small classes and LARGE_SIZES */
#define KEPT_MAX 4096 /* objects the consumers may keep for the test */

/* Under ThreadSanitizer every access is instrumented: fewer objects. */
#ifdef STRATA_TSAN
#define SCALE 4
#else
#define SCALE 1
#endif

/* ------------------------------------------------------------ failures */

/* Failures seen by threads (and the re-executed child); the first one's
 * text.  Read by the test thread after joining them. */
static atomic_int nfail;
static char fail_msg[256];

__attribute__((format(printf, 1, 2))) static void
note_failure(const char *fmt, ...)
{
	if (atomic_fetch_add(&nfail, 1) != 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
	va_end(ap);
}

static void
assert_no_failure(void)
{
	int n = atomic_load(&nfail);
	ck_assert_msg(n == 0, "%d failures in threads; the first: %s", n, fail_msg);
}

/* ------------------------------------------------------------ mallctl, without Check */

static int
write_unsigned(const char *name, unsigned v)
{
	return mallctl(name, NULL, NULL, &v, sizeof(v));
}

static int
epoch_advance(void)
{
	uint64_t one = 1;
	return mallctl("epoch", NULL, NULL, &one, sizeof(one));
}

static uint64_t
thread_counter(const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof(v);
	if (mallctl(name, &v, &len, NULL, 0) != 0)
		note_failure("reading %s", name);
	return v;
}

static void
bind_arena(unsigned a)
{
	if (a != NO_ARENA && write_unsigned("thread.arena", a) != 0)
		note_failure("thread.arena = %u refused", a);
}

/* The arena that owns p, or NO_ARENA when arenas.lookup fails. */
static unsigned
lookup(void *p)
{
	unsigned ind = NO_ARENA;
	size_t len = sizeof(ind);
	return mallctl("arenas.lookup", &ind, &len, &p, sizeof(p)) == 0 ? ind : NO_ARENA;
}

/* stats.arenas.<a>.<field> (size_t) or ...bins.<j>.<field>, from the
 * current snapshot; SIZE_MAX / UINT64_MAX on error. */
static size_t
arena_stat(unsigned a, const char *field)
{
	char name[96];
	size_t v, len = sizeof(v);
	snprintf(name, sizeof(name), "stats.arenas.%u.%s", a, field);
	return mallctl(name, &v, &len, NULL, 0) == 0 ? v : SIZE_MAX;
}

static size_t
bin_curregs(unsigned a, unsigned j)
{
	char name[96];
	size_t v, len = sizeof(v);
	snprintf(name, sizeof(name), "stats.arenas.%u.bins.%u.curregs", a, j);
	return mallctl(name, &v, &len, NULL, 0) == 0 ? v : SIZE_MAX;
}

static uint64_t
bin_counter(unsigned a, unsigned j, const char *field)
{
	char name[96];
	uint64_t v;
	size_t len = sizeof(v);
	snprintf(name, sizeof(name), "stats.arenas.%u.bins.%u.%s", a, j, field);
	return mallctl(name, &v, &len, NULL, 0) == 0 ? v : UINT64_MAX;
}

/* ------------------------------------------------------------ size classes */

static unsigned nbins;
static size_t bin_size[MAX_BINS];
/* What producers allocate: every small class, then LARGE_SIZES. */
static size_t sizes[MAX_SIZES];
static unsigned nsizes;
static const size_t LARGE_SIZES[] = {16 * KiB, 20 * KiB, 32 * KiB, 40 * KiB, 64 * KiB};

/*
 * Every test's first step: the class tables, and the purger threads
 * (when opt.background_thread is on) started now.  They start lazily,
 * from whichever thread first leaves dirty pages, and libc allocates the
 * new thread's TLS vector (calloc, 304 bytes) from that thread's arena: a
 * producer bound to the arena under test would count it as its own.
 */
static void
setup(void)
{
	bool on = false;
	size_t len = sizeof(on);
	if (mallctl("opt.background_thread", &on, &len, NULL, 0) != 0 ||
	    (on && mallctl("background_thread", NULL, NULL, &on, sizeof(on)) != 0))
		note_failure("starting background_thread");
	len = sizeof(nbins);
	if (mallctl("arenas.nbins", &nbins, &len, NULL, 0) != 0 || nbins == 0 || nbins > MAX_BINS) {
		note_failure("arenas.nbins");
		nbins = 0;
	}
	nsizes = 0;
	for (unsigned j = 0; j < nbins; j++) {
		char name[64];
		len = sizeof(size_t);
		snprintf(name, sizeof(name), "arenas.bin.%u.size", j);
		if (mallctl(name, &bin_size[j], &len, NULL, 0) != 0)
			note_failure("reading %s", name);
		sizes[nsizes++] = bin_size[j];
	}
	for (size_t i = 0; i < sizeof(LARGE_SIZES) / sizeof(LARGE_SIZES[0]); i++)
		sizes[nsizes++] = LARGE_SIZES[i];
}

/* The bin of a usable size, or -1 for a large one. */
static int
bin_of(size_t usize)
{
	for (unsigned j = 0; j < nbins; j++)
		if (bin_size[j] == usize)
			return (int)j;
	return -1;
}

/* Counts one live object of size bytes: in its bin's curregs, or in the
 * large bytes. */
static void
count_live(size_t size, size_t *curregs, size_t *large)
{
	size_t usize = nallocx(size, 0);
	int j = bin_of(usize);
	if (j >= 0)
		curregs[j]++;
	else
		*large += usize;
}

/* The size producer p asks for as its k-th object: every class in turn,
 * one in three a byte short of the class. */
static size_t
size_for(unsigned p, unsigned k)
{
	size_t s = sizes[(k * 7 + p * 3) % nsizes];
	return s > 8 && k % 3 == 1 ? s - 1 : s;
}

/* ------------------------------------------------------------ queues */

/* An object in flight; p == NULL marks the end of a producer's stream. */
struct item {
	void *p;
	size_t size;
	unsigned seed;
	unsigned seq; /* its producer's count */
};

/* A bounded FIFO: mutex, two condition variables, waits of at most
 * THREAD_WAIT_S. */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t nonempty, nonfull;
	unsigned head, len;
	struct item slot[QCAP];
};

static struct queue queues[MAX_CONS];

static void
queues_init(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct queue *q = &queues[i];
		pthread_mutex_init(&q->mu, NULL);
		pthread_cond_init(&q->nonempty, NULL);
		pthread_cond_init(&q->nonfull, NULL);
		q->head = q->len = 0;
	}
}

static bool
queue_push(struct queue *q, struct item it)
{
	struct timespec deadline = deadline_in(THREAD_WAIT_S);
	int err = 0;
	pthread_mutex_lock(&q->mu);
	while (q->len == QCAP && err == 0)
		err = pthread_cond_timedwait(&q->nonfull, &q->mu, &deadline);
	bool ok = q->len < QCAP;
	if (ok) {
		q->slot[(q->head + q->len) % QCAP] = it;
		q->len++;
		pthread_cond_signal(&q->nonempty);
	}
	pthread_mutex_unlock(&q->mu);
	if (!ok)
		note_failure("a queue stayed full for %d s", THREAD_WAIT_S);
	return ok;
}

static bool
queue_pop(struct queue *q, struct item *it)
{
	struct timespec deadline = deadline_in(THREAD_WAIT_S);
	int err = 0;
	pthread_mutex_lock(&q->mu);
	while (q->len == 0 && err == 0)
		err = pthread_cond_timedwait(&q->nonempty, &q->mu, &deadline);
	bool ok = q->len > 0;
	if (ok) {
		*it = q->slot[q->head];
		q->head = (q->head + 1) % QCAP;
		q->len--;
		pthread_cond_signal(&q->nonfull);
	}
	pthread_mutex_unlock(&q->mu);
	if (!ok)
		note_failure("a queue stayed empty for %d s", THREAD_WAIT_S);
	return ok;
}

/* A count of threads the test thread waits for, bounded. */
struct latch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned count;
};

static void
latch_init(struct latch *l, unsigned count)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->count = count;
}

static void
latch_arrive(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	if (--l->count == 0)
		pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* True when every thread arrived within THREAD_WAIT_S. */
static bool
latch_wait(struct latch *l)
{
	struct timespec deadline = deadline_in(THREAD_WAIT_S);
	int err = 0;
	pthread_mutex_lock(&l->mu);
	while (l->count != 0 && err == 0)
		err = pthread_cond_timedwait(&l->cv, &l->mu, &deadline);
	bool done = l->count == 0;
	pthread_mutex_unlock(&l->mu);
	return done;
}

/* ------------------------------------------------------------ producers and consumers */

/* One run of producers and consumers. */
struct run {
	unsigned nprod, ncons;
	unsigned arena;	      /* the producers bind to it (NO_ARENA: they do not) */
	unsigned nobjs;	      /* objects per producer, unless stop is given */
	atomic_bool *stop;    /* producers allocate until it is set */
	unsigned keep_every;  /* consumers keep each object whose seq is a multiple (0: none) */
	struct gate *consume; /* consumers wait on it before their first pop */
	/* Optional: every thread arrives at ready before its first
	 * allocation and waits on start; at the end it flushes its cache,
	 * arrives at flushed and waits on finish before it exits. */
	struct latch *ready, *flushed;
	struct gate *start, *finish;
};

/* What a thread did; written by it, read by the test thread after join. */
struct worker {
	struct run *run;
	unsigned id;
	uint64_t counted; /* change of thread.allocated (producer), thread.deallocated (consumer) */
	uint64_t usize;	  /* usable bytes it allocated or freed */
	uint64_t objects; /* objects it sent or freed */
	uint64_t kept;	  /* objects it kept for the test */
};

static struct item kept[KEPT_MAX];
static atomic_uint nkept;
static atomic_ulong nfreed; /* objects freed by consumers, for test_fork */

static void
wait_start(struct run *r)
{
	if (r->ready != NULL) {
		latch_arrive(r->ready);
		if (!gate_wait(r->start))
			note_failure("start gate not opened");
	}
}

static void
wait_finish(struct run *r)
{
	if (r->flushed != NULL) {
		if (mallctl("thread.tcache.flush", NULL, NULL, NULL, 0) != 0)
			note_failure("thread.tcache.flush");
		latch_arrive(r->flushed);
		if (!gate_wait(r->finish))
			note_failure("finish gate not opened");
	}
}

static void *
producer_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	bind_arena(r->arena);
	wait_start(r);
	uint64_t before = thread_counter("thread.allocated");
	unsigned k = 0;
	for (; r->stop != NULL ? !atomic_load(r->stop) : k < r->nobjs; k++) {
		size_t size = size_for(w->id, k);
		void *p = malloc(size);
		if (p == NULL) {
			note_failure("malloc(%zu) failed", size);
			break;
		}
		if (r->arena != NO_ARENA && k % 64 == 0 && lookup(p) != r->arena)
			note_failure("an object of %zu B is not from arena %u", size, r->arena);
		unsigned seed = w->id * 0x10001u + k;
		fill(p, size, seed);
		w->usize += nallocx(size, 0);
		w->objects++;
		struct item it = {.p = p, .size = size, .seed = seed, .seq = k};
		if (!queue_push(&queues[(w->id + k) % r->ncons], it)) {
			free(p);
			break;
		}
	}
	w->counted = thread_counter("thread.allocated") - before;
	for (unsigned c = 0; c < r->ncons; c++)
		queue_push(&queues[c], (struct item){.p = NULL});
	wait_finish(r);
	return NULL;
}

/* Frees p (size bytes) one of three ways. */
static void
free_varied(void *p, size_t size, unsigned k)
{
	switch (k % 3) {
	case 0:
		free(p);
		break;
	case 1:
		sdallocx(p, size, 0);
		break;
	default:
		dallocx(p, 0);
		break;
	}
}

static void *
consumer_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	wait_start(r);
	if (r->consume != NULL && !gate_wait(r->consume))
		note_failure("consume gate not opened");
	if (r->arena != NO_ARENA) {
		unsigned own = NO_ARENA;
		size_t len = sizeof(own);
		if (mallctl("thread.arena", &own, &len, NULL, 0) != 0 || own == r->arena)
			note_failure("consumer %u is in the producers' arena %u", w->id, r->arena);
	}
	uint64_t before = thread_counter("thread.deallocated");
	unsigned ended = 0;
	struct item it;
	while (ended < r->nprod && queue_pop(&queues[w->id], &it)) {
		if (it.p == NULL) {
			ended++;
			continue;
		}
		size_t bad = first_mismatch(it.p, it.size, it.seed);
		if (bad != SIZE_MAX)
			note_failure("object %u of %zu B: byte %zu lost its pattern", it.seq,
				     it.size, bad);
		if (r->keep_every != 0 && it.seq % r->keep_every == 0) {
			unsigned slot = atomic_fetch_add(&nkept, 1);
			if (slot < KEPT_MAX) {
				kept[slot] = it;
				w->kept++;
				continue;
			}
			note_failure("more than %d objects kept", KEPT_MAX);
		}
		w->usize += nallocx(it.size, 0);
		free_varied(it.p, it.size, it.seq);
		w->objects++;
		atomic_fetch_add(&nfreed, 1);
	}
	w->counted = thread_counter("thread.deallocated") - before;
	wait_finish(r);
	return NULL;
}

struct threads {
	pthread_t prod[MAX_PROD], cons[MAX_CONS];
	struct worker wprod[MAX_PROD], wcons[MAX_CONS];
};

/* Starts r's threads (false if one could not be created). */
static bool
run_start(struct run *r, struct threads *t)
{
	queues_init(r->ncons);
	atomic_store(&nkept, 0);
	bool ok = true;
	for (unsigned c = 0; c < r->ncons; c++) {
		t->wcons[c] = (struct worker){.run = r, .id = c};
		ok &= pthread_create(&t->cons[c], NULL, consumer_main, &t->wcons[c]) == 0;
	}
	for (unsigned p = 0; p < r->nprod; p++) {
		t->wprod[p] = (struct worker){.run = r, .id = p};
		ok &= pthread_create(&t->prod[p], NULL, producer_main, &t->wprod[p]) == 0;
	}
	return ok;
}

/* Checks the threads' counts: every object sent was freed or kept, and
 * thread.allocated / thread.deallocated are the usable sizes. */
static void
run_check_counts(const struct run *r, const struct threads *t)
{
	uint64_t sent = 0, got = 0, kept_n = 0, usize_sent = 0, usize_freed = 0;
	for (unsigned p = 0; p < r->nprod; p++) {
		const struct worker *w = &t->wprod[p];
		if (w->counted != w->usize)
			note_failure(
			    "producer %u: thread.allocated grew by %llu, it allocated %llu", p,
			    (unsigned long long)w->counted, (unsigned long long)w->usize);
		sent += w->objects;
		usize_sent += w->usize;
	}
	for (unsigned c = 0; c < r->ncons; c++) {
		const struct worker *w = &t->wcons[c];
		if (w->counted != w->usize)
			note_failure("consumer %u: thread.deallocated grew by %llu, it freed %llu",
				     c, (unsigned long long)w->counted,
				     (unsigned long long)w->usize);
		got += w->objects;
		kept_n += w->kept;
		usize_freed += w->usize;
	}
	if (got + kept_n != sent)
		note_failure("%llu objects sent, %llu freed and %llu kept",
			     (unsigned long long)sent, (unsigned long long)got,
			     (unsigned long long)kept_n);
	if (kept_n == 0 && usize_freed != usize_sent)
		note_failure("%llu usable bytes allocated, %llu freed",
			     (unsigned long long)usize_sent, (unsigned long long)usize_freed);
}

/* ------------------------------------------------------------ arena stats */

/* After an epoch: arena a's bins hold exactly curregs[j] regions (nmalloc -
 * ndalloc agreeing), small.allocated is their bytes and large.allocated is
 * large. */
static void
assert_arena_live(unsigned a, const size_t *curregs, size_t large)
{
	ck_assert_int_eq(epoch_advance(), 0);
	size_t small = 0;
	for (unsigned j = 0; j < nbins; j++) {
		size_t cur = bin_curregs(a, j);
		uint64_t nm = bin_counter(a, j, "nmalloc"), nd = bin_counter(a, j, "ndalloc");
		ck_assert_msg(cur == curregs[j],
			      "arena %u, bin %u (%zu B): curregs %zu, expected %zu", a, j,
			      bin_size[j], cur, curregs[j]);
		ck_assert_msg(nm != UINT64_MAX && nd != UINT64_MAX && nm - nd == cur,
			      "arena %u, bin %u: nmalloc %llu - ndalloc %llu != curregs %zu", a, j,
			      (unsigned long long)nm, (unsigned long long)nd, cur);
		small += cur * bin_size[j];
	}
	ck_assert_uint_eq(arena_stat(a, "small.allocated"), small);
	ck_assert_uint_eq(arena_stat(a, "large.allocated"), large);
}

static void
assert_arena_empty(unsigned a)
{
	size_t zero[MAX_BINS] = {0};
	assert_arena_live(a, zero, 0);
}

/* Arena a must hold exactly the kept objects. */
static void
assert_arena_holds_kept(unsigned a)
{
	size_t curregs[MAX_BINS] = {0}, large = 0;
	unsigned n = atomic_load(&nkept);
	for (unsigned i = 0; i < n; i++)
		count_live(kept[i].size, curregs, &large);
	assert_arena_live(a, curregs, large);
}

static unsigned
arena_create(void)
{
	return read_unsigned("arenas.create");
}

/* A thread bound to arena a allocates every class (three objects each,
 * cached and not), checks where they come from and frees them. */
static void *
every_class_main(void *arg)
{
	unsigned a = *(const unsigned *)arg;
	bind_arena(a);
	for (unsigned i = 0; i < nsizes; i++) {
		void *p[3];
		for (int n = 0; n < 3; n++) {
			p[n] = malloc(sizes[i]);
			if (p[n] == NULL || lookup(p[n]) != a) {
				note_failure("malloc(%zu) in arena %u: %p", sizes[i], a, p[n]);
				return NULL;
			}
			fill(p[n], sizes[i], i);
		}
		void *q = mallocx(sizes[i], MALLOCX_TCACHE_NONE);
		if (q == NULL || lookup(q) != a) {
			note_failure("mallocx(%zu, TCACHE_NONE) in arena %u: %p", sizes[i], a, q);
			return NULL;
		}
		dallocx(q, MALLOCX_TCACHE_NONE);
		for (int n = 0; n < 3; n++) {
			if (first_mismatch(p[n], sizes[i], i) != SIZE_MAX)
				note_failure("an object of %zu B changed under its owner",
					     sizes[i]);
			free(p[n]);
		}
	}
	return NULL;
}

/* The end state after a run in arena a: nothing live, and a new thread
 * bound to it can allocate and free every class, leaving nothing. */
static void
assert_arena_reusable(unsigned a)
{
	assert_arena_empty(a);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, every_class_main, &a), 0);
	join_bounded(th);
	assert_no_failure();
	assert_arena_empty(a);
}

static void
run_join(const struct run *r, struct threads *t)
{
	for (unsigned p = 0; p < r->nprod; p++)
		join_bounded(t->prod[p]);
	for (unsigned c = 0; c < r->ncons; c++)
		join_bounded(t->cons[c]);
}

/* ------------------------------------------------------------ 1: 8 threads, narenas:1 */

/* Reads bin curregs and large.allocated of arena 0 into cur / *large;
 * false on an error. */
static bool
arena0_snapshot(size_t *cur, size_t *large)
{
	if (epoch_advance() != 0)
		return false;
	for (unsigned j = 0; j < nbins; j++)
		if ((cur[j] = bin_curregs(0, j)) == SIZE_MAX)
			return false;
	*large = arena_stat(0, "large.allocated");
	return *large != SIZE_MAX;
}

/*
 * CHILD_ENV=narenas1, MALLOC_CONF=narenas:1: 4 producers and 4 consumers
 * in the one arena.  The threads wait at a start gate until the arena's
 * stats are read, and at the end flush their caches and wait until they
 * are read again: every bin must hold what it held before.  Prints a
 * report line on stdout.
 */
static void
child_narenas1(void)
{
	unsigned opt = 0, narenas = 0;
	size_t len = sizeof(opt);
	if (mallctl("opt.narenas", &opt, &len, NULL, 0) != 0 ||
	    mallctl("arenas.narenas", &narenas, &len, NULL, 0) != 0)
		_exit(2);
	setup();
	struct latch ready, flushed;
	struct gate start, finish;
	latch_init(&ready, 8);
	latch_init(&flushed, 8);
	gate_init(&start);
	gate_init(&finish);
	struct run r = {.nprod = 4,
			.ncons = 4,
			.arena = NO_ARENA,
			.nobjs = 6000 / SCALE,
			.ready = &ready,
			.flushed = &flushed,
			.start = &start,
			.finish = &finish};
	static struct threads t;
	size_t cur0[MAX_BINS], cur1[MAX_BINS], large0 = 0, large1 = 0;
	bool started = run_start(&r, &t);
	bool snap0 = latch_wait(&ready) && arena0_snapshot(cur0, &large0);
	gate_open(&start);
	bool snap1 = latch_wait(&flushed) && arena0_snapshot(cur1, &large1);
	gate_open(&finish);
	for (unsigned p = 0; p < r.nprod; p++)
		pthread_join(t.prod[p], NULL);
	for (unsigned c = 0; c < r.ncons; c++)
		pthread_join(t.cons[c], NULL);
	run_check_counts(&r, &t);
	if (!started || !snap0 || !snap1)
		note_failure("threads or snapshots failed");
	for (unsigned j = 0; j < nbins && snap1; j++)
		if (cur1[j] != cur0[j])
			note_failure("bin %u (%zu B): curregs %zu before, %zu after", j,
				     bin_size[j], cur0[j], cur1[j]);
	if (large1 != large0)
		note_failure("large.allocated %zu before, %zu after", large0, large1);
	uint64_t sent = 0;
	for (unsigned p = 0; p < r.nprod; p++)
		sent += t.wprod[p].objects;
	printf("opt.narenas=%u arenas.narenas=%u sent=%llu failures=%d %s\n", opt, narenas,
	       (unsigned long long)sent, atomic_load(&nfail), fail_msg);
}

START_TEST(test_narenas1_producers_consumers)
{
	char out[512], expected[256], env_mode[64], env_conf[64], env_tsan[512];
	snprintf(env_mode, sizeof(env_mode), "%s=narenas1", CHILD_ENV);
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=narenas:1");
	/* Under TSan the child gets the suite's options (suppressions). */
	const char *tsan = getenv("TSAN_OPTIONS");
	snprintf(env_tsan, sizeof(env_tsan), "TSAN_OPTIONS=%s", tsan != NULL ? tsan : "");
	char *env[] = {env_mode, env_conf, env_tsan, NULL};
	int status = child_run_self(env, "narenas:1 child", out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d: %s", status,
		      out);
	snprintf(expected, sizeof(expected), "opt.narenas=1 arenas.narenas=1 sent=%u failures=0 \n",
		 4 * (6000 / SCALE));
	ck_assert_str_eq(out, expected);
}
END_TEST

/* ------------------------------------------------------------ 2: exact stats */

/* Producers in manual arena a, consumers in automatic arenas; the
 * consumers keep one object in keep_every (none when 0). */
static void
exact_stats_run(unsigned keep_every)
{
	setup();
	unsigned a = arena_create();
	struct run r = {
	    .nprod = 2, .ncons = 2, .arena = a, .nobjs = 3000 / SCALE, .keep_every = keep_every};
	static struct threads t;
	ck_assert(run_start(&r, &t));
	run_join(&r, &t);
	run_check_counts(&r, &t);
	assert_no_failure();
	unsigned n = atomic_load(&nkept);
	if (keep_every != 0)
		ck_assert_uint_eq(n, 2 * ((r.nobjs + keep_every - 1) / keep_every));
	assert_arena_holds_kept(a);
	/* The test thread frees the kept objects (through its own cache). */
	for (unsigned i = 0; i < n; i++) {
		expect(first_mismatch(kept[i].p, kept[i].size, kept[i].seed) == SIZE_MAX,
		       "a kept object lost its pattern");
		free(kept[i].p);
	}
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
	assert_arena_empty(a);
}

START_TEST(test_exact_stats_all_freed)
{
	exact_stats_run(0);
}
END_TEST

START_TEST(test_exact_stats_some_kept)
{
	exact_stats_run(7);
}
END_TEST

/* ------------------------------------------------------------ 3, 4: the owner exits */

/* The producer allocates and hands everything over, and is joined before
 * the consumers free anything. */
START_TEST(test_owner_exits_before_frees)
{
	setup();
	unsigned a = arena_create();
	struct gate consume;
	gate_init(&consume);
	/* Everything fits in the queues: the producer never waits. */
	struct run r = {.nprod = 1,
			.ncons = 2,
			.arena = a,
			.nobjs = (2 * QCAP - 8) / SCALE,
			.consume = &consume};
	static struct threads t;
	ck_assert(run_start(&r, &t));
	join_bounded(t.prod[0]);
	/* The producer's cache went back at its exit: what its arena holds
	 * now is exactly the objects in the queues (read unlocked: the
	 * consumers wait at their gate). */
	size_t curregs[MAX_BINS] = {0}, large = 0;
	for (unsigned c = 0; c < r.ncons; c++)
		for (unsigned i = 0; i < queues[c].len; i++) {
			const struct item *it = &queues[c].slot[(queues[c].head + i) % QCAP];
			if (it->p != NULL)
				count_live(it->size, curregs, &large);
		}
	assert_arena_live(a, curregs, large);
	gate_open(&consume);
	for (unsigned c = 0; c < r.ncons; c++)
		join_bounded(t.cons[c]);
	run_check_counts(&r, &t);
	assert_no_failure();
	ck_assert_uint_eq(t.wprod[0].objects, r.nobjs);
	assert_arena_reusable(a);
}
END_TEST

/* Producers hand over their objects and exit at once, while the consumers
 * free them; several rounds in the same arena. */
START_TEST(test_owner_exits_during_frees)
{
	setup();
	unsigned a = arena_create();
	for (int round = 0; round < 8; round++) {
		struct run r = {.nprod = 2, .ncons = 2, .arena = a, .nobjs = 1500 / SCALE};
		static struct threads t;
		ck_assert(run_start(&r, &t));
		run_join(&r, &t);
		run_check_counts(&r, &t);
		assert_no_failure();
	}
	assert_arena_reusable(a);
}
END_TEST

/* ------------------------------------------------------------ 5: fork */

struct fork_arg {
	unsigned producer_arena, own_arena;
};

/* In the child: _exit(1) with a message on stderr. */
static void
child_fail(const char *what, size_t size)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "child: %s (%zu B)\n", what, size);
	if (write(STDERR_FILENO, msg, (size_t)n) < 0)
		_exit(2);
	_exit(1);
}

/* Every small class, cached and not, from arena a. */
static void
child_every_small_class(unsigned a)
{
	if (write_unsigned("thread.arena", a) != 0)
		child_fail("thread.arena refused", a);
	for (unsigned j = 0; j < nbins; j++) {
		void *p = malloc(bin_size[j]), *q = mallocx(bin_size[j], MALLOCX_TCACHE_NONE);
		if (p == NULL || q == NULL)
			child_fail("allocation failed", bin_size[j]);
		if (lookup(p) != a || lookup(q) != a)
			child_fail("object from another arena", bin_size[j]);
		memset(p, 0xa5, bin_size[j]);
		memset(q, 0x5a, bin_size[j]);
		free(p);
		dallocx(q, MALLOCX_TCACHE_NONE);
	}
}

static void
fork_child(const void *arg)
{
	const struct fork_arg *f = arg;
	child_every_small_class(f->producer_arena);
	child_every_small_class(f->own_arena);
	if (epoch_advance() != 0 || arena_stat(f->producer_arena, "small.allocated") == SIZE_MAX ||
	    bin_curregs(f->producer_arena, 0) == SIZE_MAX ||
	    arena_stat(f->own_arena, "small.allocated") == SIZE_MAX)
		child_fail("epoch or stats", 0);
	if (mallctl("thread.tcache.flush", NULL, NULL, NULL, 0) != 0)
		child_fail("thread.tcache.flush", 0);
}

/* Waits, bounded, until the consumers have freed more than since. */
static bool
frees_progressed(unsigned long since)
{
	double deadline = child_now_s() + THREAD_WAIT_S;
	while (atomic_load(&nfreed) <= since + 16) {
		if (child_now_s() > deadline)
			return false;
		sched_yield();
	}
	return true;
}

START_TEST(test_fork_during_remote_frees)
{
	setup();
	struct fork_arg f = {.producer_arena = arena_create(),
			     .own_arena = read_unsigned("thread.arena")};
	atomic_bool stop = false;
	struct run r = {.nprod = 1, .ncons = 2, .arena = f.producer_arena, .stop = &stop};
	static struct threads t;
	atomic_store(&nfreed, 0);
	ck_assert(run_start(&r, &t));
	for (int i = 0; i < 20; i++) {
		ck_assert_msg(frees_progressed(atomic_load(&nfreed)),
			      "the consumers stopped freeing before fork %d", i);
		char out[512];
		int status = child_run_capture(fork_child, &f, out, sizeof(out));
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "fork %d: child status %d: %s", i, status, out);
		ck_assert_str_eq(out, "");
	}
	atomic_store(&stop, true);
	run_join(&r, &t);
	run_check_counts(&r, &t);
	assert_no_failure();
	ck_assert_uint_gt(t.wprod[0].objects, 20 * 16);
	assert_arena_reusable(f.producer_arena);
}
END_TEST

/* ------------------------------------------------------------ 6: flushes, reset, destroy, purge */

/* A thread bound to arena a allocates n objects of the classes in
 * sizes[] (in turn) into out[], then exits. */
struct fill_arg {
	unsigned arena, n;
	void **out;
};

static void *
fill_main(void *arg)
{
	struct fill_arg *fa = arg;
	bind_arena(fa->arena);
	for (unsigned k = 0; k < fa->n; k++) {
		size_t size = size_for(0, k);
		fa->out[k] = malloc(size);
		if (fa->out[k] == NULL)
			note_failure("malloc(%zu) failed", size);
		else
			fill(fa->out[k], size, k);
	}
	return NULL;
}

/* Allocates n objects in arena a from a thread that has exited when this
 * returns; arena a then holds exactly those. */
static void
fill_from_thread(unsigned a, void **out, unsigned n)
{
	struct fill_arg fa = {.arena = a, .n = n, .out = out};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, fill_main, &fa), 0);
	join_bounded(th);
	assert_no_failure();
	size_t curregs[MAX_BINS] = {0}, large = 0;
	for (unsigned k = 0; k < n; k++)
		count_live(size_for(0, k), curregs, &large);
	assert_arena_live(a, curregs, large);
}

/* A thread in an automatic arena frees out[from, to) and exits. */
struct free_arg {
	void **objs;
	unsigned from, to;
};

static void *
free_main(void *arg)
{
	struct free_arg *fa = arg;
	for (unsigned k = fa->from; k < fa->to; k++) {
		if (first_mismatch(fa->objs[k], size_for(0, k), k) != SIZE_MAX)
			note_failure("object %u lost its pattern", k);
		free_varied(fa->objs[k], size_for(0, k), k);
	}
	return NULL;
}

static void
free_from_thread(void **objs, unsigned from, unsigned to)
{
	struct free_arg fa = {.objs = objs, .from = from, .to = to};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, free_main, &fa), 0);
	join_bounded(th);
	assert_no_failure();
}

#define N6 600

START_TEST(test_thread_and_explicit_tcache_flush)
{
	setup();
	unsigned a = arena_create();
	ck_assert_uint_ne(read_unsigned("thread.arena"), a);
	static void *objs[N6];
	fill_from_thread(a, objs, N6);
	unsigned id = read_unsigned("tcache.create");
	/* Half into this thread's cache, half into an explicit one. */
	for (unsigned k = 0; k < N6; k++) {
		expect(first_mismatch(objs[k], size_for(0, k), k) == SIZE_MAX, "object %u", k);
		if (k % 2 == 0)
			free(objs[k]);
		else
			dallocx(objs[k], MALLOCX_TCACHE(id));
	}
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
	ck_assert_int_eq(write_unsigned("tcache.flush", id), 0);
	assert_arena_empty(a);
	/* Again, with the explicit cache destroyed instead of flushed. */
	fill_from_thread(a, objs, N6);
	for (unsigned k = 0; k < N6; k++)
		dallocx(objs[k], MALLOCX_TCACHE(id));
	ck_assert_int_eq(write_unsigned("tcache.destroy", id), 0);
	assert_arena_empty(a);
	assert_arena_reusable(a);
}
END_TEST

/* Reads stats.arenas.<a>.small.<field> (uint64_t) after an epoch. */
static uint64_t
small_counter(unsigned a, const char *field)
{
	char name[96];
	uint64_t v = 0;
	size_t len = sizeof(v);
	snprintf(name, sizeof(name), "stats.arenas.%u.small.%s", a, field);
	ck_assert_int_eq(epoch_advance(), 0);
	ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), 0);
	return v;
}

START_TEST(test_reset_after_remote_frees)
{
	setup();
	unsigned a = arena_create();
	static void *objs[N6];
	fill_from_thread(a, objs, N6);
	/* Another thread frees the first two thirds; the rest stay live
	 * until the reset takes them. */
	free_from_thread(objs, 0, 2 * N6 / 3);
	uint64_t nmalloc = small_counter(a, "nmalloc");
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.reset", a);
	ck_assert_int_eq(mallctl(name, NULL, NULL, NULL, 0), 0);
	assert_arena_empty(a);
	ck_assert_uint_eq(small_counter(a, "nmalloc"), nmalloc);
	ck_assert_uint_eq(small_counter(a, "ndalloc"), nmalloc);
	assert_arena_reusable(a);
}
END_TEST

START_TEST(test_destroy_after_remote_frees)
{
	setup();
	unsigned a = arena_create();
	static void *objs[N6];
	fill_from_thread(a, objs, N6);
	uint64_t nmalloc = small_counter(a, "nmalloc");
	/* Everything freed by another thread; no stats read in between, so
	 * whatever the frees left pending meets the destroy. */
	free_from_thread(objs, 0, N6);
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.destroy", a);
	ck_assert_int_eq(mallctl(name, NULL, NULL, NULL, 0), 0);
	ck_assert_int_eq(epoch_advance(), 0);
	snprintf(name, sizeof(name), "stats.arenas.%u.small.allocated", a);
	size_t v, len = sizeof(v);
	ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), ENOENT);
	/* Its counters went to the destroyed arenas' view: every region it
	 * handed out came back. */
	ck_assert_uint_eq(small_counter(MALLCTL_ARENAS_DESTROYED, "nmalloc"), nmalloc);
	ck_assert_uint_eq(small_counter(MALLCTL_ARENAS_DESTROYED, "ndalloc"), nmalloc);
	ck_assert_uint_eq(arena_stat(MALLCTL_ARENAS_DESTROYED, "small.allocated"), 0);
	/* The index comes back, empty and usable. */
	ck_assert_uint_eq(arena_create(), a);
	assert_arena_reusable(a);
}
END_TEST

START_TEST(test_purge_after_remote_frees)
{
	setup();
	unsigned a = arena_create();
	/* Many slabs of a few classes, and large objects. */
	static void *objs[4 * N6];
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	fill_from_thread(a, objs, 4 * N6);
	ck_assert_int_eq(epoch_advance(), 0);
	size_t active = arena_stat(a, "pactive");
	free_from_thread(objs, 0, 4 * N6);
	/* No stats read before the purge: it meets whatever is pending. */
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.purge", a);
	ck_assert_int_eq(mallctl(name, NULL, NULL, NULL, 0), 0);
	ck_assert_int_eq(epoch_advance(), 0);
	ck_assert_uint_eq(arena_stat(a, "pdirty"), 0);
	/* Every bin may keep its current slab; nothing else stays active. */
	size_t keep = 0;
	for (unsigned j = 0; j < nbins; j++) {
		char sname[64];
		snprintf(sname, sizeof(sname), "arenas.bin.%u.slab_size", j);
		keep += read_size(sname) / page;
	}
	size_t after = arena_stat(a, "pactive");
	ck_assert_msg(after <= keep && after < active,
		      "pactive %zu after freeing everything and purging (%zu before; "
		      "current slabs: %zu)",
		      after, active, keep);
	assert_arena_empty(a);
}
END_TEST

/* ------------------------------------------------------------ re-executed child */

/* In a re-executed child: run the mode CHILD_ENV names, print its report
 * on stdout and exit before main.  A constructor, so that check_main.c
 * stays generic. */
__attribute__((constructor)) static void
child_main(void)
{
	const char *mode = getenv(CHILD_ENV);
	if (mode == NULL)
		return;
	if (strcmp(mode, "narenas1") == 0)
		child_narenas1();
	else
		_exit(3);
	fflush(stdout);
	_exit(0);
}

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_remote");
	TCase *tc = tcase_create("producers_consumers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_narenas1_producers_consumers);
	tcase_add_test(tc, test_exact_stats_all_freed);
	tcase_add_test(tc, test_exact_stats_some_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("owner_exit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_owner_exits_before_frees);
	tcase_add_test(tc, test_owner_exits_during_frees);
	suite_add_tcase(s, tc);

	tc = tcase_create("fork");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fork_during_remote_frees);
	suite_add_tcase(s, tc);

	tc = tcase_create("controls");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_thread_and_explicit_tcache_flush);
	tcase_add_test(tc, test_reset_after_remote_frees);
	tcase_add_test(tc, test_destroy_after_remote_frees);
	tcase_add_test(tc, test_purge_after_remote_frees);
	suite_add_tcase(s, tc);
	return s;
}
