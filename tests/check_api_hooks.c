/*
 * check_api_hooks.c — jemalloc 5.3's experimental hooks and bulk
 * allocation, through libstrata.so's mallctl:
 *
 *   - experimental.hooks.install / remove: the alloc hook sees every
 *     allocating entry point with its type, result, raw result and raw
 *     arguments (as jemalloc 5.3 reports them: realloc(NULL, n) as malloc,
 *     a moved realloc as alloc then dalloc, one in place as expand); the
 *     dalloc hook sees each free before it happens; the expand hook sees
 *     resizes in place and every xallocx.  Four sets install, the fifth is
 *     EAGAIN; removal stops the calls; a hook that allocates is not
 *     called again for its own allocations; hooks fire in a thread that
 *     warmed its cache before the install (its fast path is forced off
 *     remotely) and in one started after it.
 *   - experimental.hooks.safety_check_abort: a double free reaches the
 *     hook (at the thread cache and at the bin) instead of aborting.
 *   - experimental.batch_alloc: num objects of the usable size, honouring
 *     MALLOCX_ZERO, MALLOCX_ARENA and MALLOCX_TCACHE; jemalloc's return
 *     codes.
 *   - thread.peak.read / reset follow a rise and a reset.
 *
 * Hooks record only the calls of the thread under test (the purger thread
 * may allocate meanwhile), into static arrays (a hook must not allocate to
 * record).
 */
#include <strata.h>

#include "api_util.h"
#include "thread_util.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

/* The tests compare the addresses of freed objects (integers) with what
 * the hooks saw; GCC takes the integer copies for uses of the pointers. */
#pragma GCC diagnostic ignored "-Wuse-after-free"

/* ------------------------------------------------------------ the recorder */

enum rec_kind { REC_ALLOC, REC_DALLOC, REC_EXPAND };

struct rec {
	enum rec_kind kind;
	int type;
	void *ptr;        /* result or address */
	uintptr_t raw;    /* result_raw (alloc, expand) */
	size_t old_usize, new_usize;
	uintptr_t args[4];
	void *extra;
};

#define NREC 64
static struct rec recs[NREC];
static unsigned nrec;
static pthread_t rec_thread;
static bool rec_on;

/* Recording is on only around the calls under test (REC, RECV): Check's
 * own assertions allocate too. */
static void
rec_start(void)
{
	nrec = 0;
	rec_thread = pthread_self();
}

static void
rec_set(bool on)
{
	__atomic_store_n(&rec_on, on, __ATOMIC_RELEASE);
}

#define REC(e)                                                                                     \
	({                                                                                         \
		rec_set(true);                                                                     \
		__typeof__(e) rec_v_ = (e);                                                        \
		rec_set(false);                                                                    \
		rec_v_;                                                                            \
	})
#define RECV(e)                                                                                    \
	do {                                                                                       \
		rec_set(true);                                                                     \
		e;                                                                                 \
		rec_set(false);                                                                    \
	} while (0)

static struct rec *
rec_next(void)
{
	if (!__atomic_load_n(&rec_on, __ATOMIC_ACQUIRE) || !pthread_equal(pthread_self(), rec_thread) ||
	    nrec == NREC)
		return NULL;
	return &recs[nrec++];
}

static void
rec_alloc(void *extra, hook_alloc_t type, void *result, uintptr_t result_raw,
          uintptr_t args_raw[3])
{
	struct rec *r = rec_next();
	if (r != NULL)
		*r = (struct rec){REC_ALLOC, type, result, result_raw, 0, 0,
		                  {args_raw[0], args_raw[1], args_raw[2], 0}, extra};
}

static void
rec_dalloc(void *extra, hook_dalloc_t type, void *address, uintptr_t args_raw[3])
{
	struct rec *r = rec_next();
	if (r != NULL)
		*r = (struct rec){REC_DALLOC, type, address, 0, 0, 0,
		                  {args_raw[0], args_raw[1], args_raw[2], 0}, extra};
}

static void
rec_expand(void *extra, hook_expand_t type, void *address, size_t old_usize, size_t new_usize,
           uintptr_t result_raw, uintptr_t args_raw[4])
{
	struct rec *r = rec_next();
	if (r != NULL)
		*r = (struct rec){REC_EXPAND, type, address, result_raw, old_usize, new_usize,
		                  {args_raw[0], args_raw[1], args_raw[2], args_raw[3]}, extra};
}

#define EXTRA ((void *)0x5eed)

static void *
install(const hooks_t *hooks)
{
	void *handle = NULL;
	size_t len = sizeof(handle);
	ck_assert_int_eq(mallctl("experimental.hooks.install", &handle, &len, (void *)hooks,
	                         sizeof(*hooks)),
	                 0);
	ck_assert_ptr_nonnull(handle);
	return handle;
}

static void
uninstall(void *handle)
{
	ck_assert_int_eq(mallctl("experimental.hooks.remove", NULL, NULL, &handle, sizeof(handle)), 0);
}

static void *
install_recorder(void)
{
	hooks_t hooks = {rec_alloc, rec_dalloc, rec_expand, EXTRA};
	return install(&hooks);
}

/* An object's address, kept as an integer: the tests compare it with what
 * the hooks saw after the object is freed. */
static uintptr_t
addr(void *p)
{
	return (uintptr_t)launder(p);
}

/* Asserts that record i is of kind and type, at ptr, with args a0..a2. */
static void
expect_rec(unsigned i, enum rec_kind kind, int type, uintptr_t ptr, uintptr_t a0, uintptr_t a1,
           uintptr_t a2, const char *what)
{
	ck_assert_msg(i < nrec, "%s: no record %u (only %u)", what, i, nrec);
	const struct rec *r = &recs[i];
	ck_assert_msg(r->kind == kind && r->type == type, "%s: record %u is kind %d type %d", what,
	              i, r->kind, r->type);
	ck_assert_msg((uintptr_t)r->ptr == ptr, "%s: record %u at %p, expected %#lx", what, i, r->ptr,
	              (unsigned long)ptr);
	ck_assert_msg(r->args[0] == a0 && r->args[1] == a1 && r->args[2] == a2,
	              "%s: record %u args %#lx %#lx %#lx", what, i, (unsigned long)r->args[0],
	              (unsigned long)r->args[1], (unsigned long)r->args[2]);
	ck_assert_ptr_eq(r->extra, EXTRA);
}

/* ------------------------------------------------------------ hook calls */

START_TEST(test_alloc_and_dalloc_hooks_see_every_entry_point)
{
	void *h = install_recorder();
	rec_start();
	uintptr_t a = addr(REC(malloc(10)));
	expect_rec(0, REC_ALLOC, hook_alloc_malloc, a, 10, 0, 0, "malloc");
	ck_assert_uint_eq(recs[0].raw, a);
	RECV(free((void *)a));
	expect_rec(1, REC_DALLOC, hook_dalloc_free, a, a, 0, 0, "free");

	a = addr(REC(calloc(3, 5)));
	expect_rec(2, REC_ALLOC, hook_alloc_calloc, a, 3, 5, 0, "calloc");
	RECV(free((void *)a));
	/* Called through a pointer: GCC's builtin would pass a temporary. */
	int (*volatile pm)(void **, size_t, size_t) = posix_memalign;
	void *q = NULL;
	ck_assert_int_eq(REC(pm(&q, 64, 10)), 0);
	a = addr(q);
	expect_rec(4, REC_ALLOC, hook_alloc_posix_memalign, a, (uintptr_t)&q, 64, 10,
	           "posix_memalign");
	ck_assert_uint_eq(recs[4].raw, 0); /* the error code */
	RECV(free((void *)a));
	a = addr(REC(aligned_alloc(64, 10)));
	expect_rec(6, REC_ALLOC, hook_alloc_aligned_alloc, a, 64, 10, 0, "aligned_alloc");
	RECV(free((void *)a));
	a = addr(REC(memalign(64, 10)));
	expect_rec(8, REC_ALLOC, hook_alloc_memalign, a, 64, 10, 0, "memalign");
	RECV(free((void *)a));
	a = addr(REC(valloc(10)));
	expect_rec(10, REC_ALLOC, hook_alloc_valloc, a, 10, 0, 0, "valloc");
	RECV(free((void *)a));
	a = addr(REC(pvalloc(10)));
	expect_rec(12, REC_ALLOC, hook_alloc_pvalloc, a, 10, 0, 0, "pvalloc");
	RECV(free((void *)a));
	a = addr(REC(mallocx(10, MALLOCX_ZERO)));
	expect_rec(14, REC_ALLOC, hook_alloc_mallocx, a, 10, MALLOCX_ZERO, 0, "mallocx");
	RECV(dallocx((void *)a, MALLOCX_TCACHE_NONE));
	expect_rec(15, REC_DALLOC, hook_dalloc_dallocx, a, a, (uintptr_t)MALLOCX_TCACHE_NONE, 0,
	           "dallocx");
	a = addr(REC(mallocx(10, 0)));
	RECV(sdallocx((void *)a, 10, 0));
	expect_rec(17, REC_DALLOC, hook_dalloc_sdallocx, a, a, 10, 0, "sdallocx");
	/* A failed allocation is reported with a NULL result. */
	ck_assert_ptr_null(REC(launder(malloc(hide(SIZE_MAX / 2)))));
	expect_rec(18, REC_ALLOC, hook_alloc_malloc, 0, SIZE_MAX / 2, 0, 0, "failed malloc");
	RECV(free(NULL)); /* no call */
	ck_assert_uint_eq(nrec, 19);
	uninstall(h);
}
END_TEST

START_TEST(test_realloc_family_hooks)
{
	void *h = install_recorder();
	rec_start();
	/* realloc(NULL, n) is reported as malloc(n) (jemalloc 5.3). */
	uintptr_t a = addr(REC(realloc(NULL, 10)));
	expect_rec(0, REC_ALLOC, hook_alloc_malloc, a, 10, 0, 0, "realloc(NULL)");
	/* Same class: resized in place, the expand hook. */
	ck_assert_uint_eq(addr(REC(realloc((void *)a, 12))), a);
	expect_rec(1, REC_EXPAND, hook_expand_realloc, a, a, 12, 0, "realloc same class");
	ck_assert_uint_eq(recs[1].old_usize, 16);
	ck_assert_uint_eq(recs[1].new_usize, 16);
	ck_assert_uint_eq(recs[1].raw, a);
	/* Moved: alloc on the new object, then dalloc on the old one. */
	uintptr_t moved = addr(REC(realloc((void *)a, 1000)));
	ck_assert_uint_ne(moved, a);
	expect_rec(2, REC_ALLOC, hook_alloc_realloc, moved, a, 1000, 0, "realloc moved");
	expect_rec(3, REC_DALLOC, hook_dalloc_realloc, a, a, 1000, 0, "realloc moved");
	/* realloc(p, 0) frees (zero_realloc:free): realloc's dalloc. */
	ck_assert_ptr_null(REC(realloc((void *)moved, 0)));
	expect_rec(4, REC_DALLOC, hook_dalloc_realloc, moved, moved, 0, 0, "realloc 0");

	uintptr_t big = addr(REC(mallocx(100000, 0)));
	unsigned n = nrec;
	ck_assert_uint_eq(addr(REC(rallocx((void *)big, 100001, 0))), big); /* same class */
	expect_rec(n, REC_EXPAND, hook_expand_rallocx, big, big, 100001, 0, "rallocx");
	uintptr_t small = addr(REC(rallocx((void *)big, 100, 0)));
	ck_assert_uint_ne(small, big);
	expect_rec(n + 1, REC_ALLOC, hook_alloc_rallocx, small, big, 100, 0, "rallocx moved");
	expect_rec(n + 2, REC_DALLOC, hook_dalloc_rallocx, big, big, 100, 0, "rallocx moved");
	RECV(dallocx((void *)small, 0));

	/* xallocx: every call, also one that cannot resize; raw = the usize. */
	big = addr(REC(mallocx(128 * KiB, 0)));
	n = nrec;
	size_t got = REC(xallocx((void *)big, 256 * KiB, 0, 0));
	expect_rec(n, REC_EXPAND, hook_expand_xallocx, big, big, 256 * KiB, 0, "xallocx");
	ck_assert_uint_eq(recs[n].old_usize, 128 * KiB);
	ck_assert_uint_eq(recs[n].new_usize, got);
	ck_assert_uint_eq(recs[n].raw, got);
	ck_assert_uint_eq(recs[n].args[3], 0);
	/* Shrinking a large object to a small class: not in place. */
	ck_assert_uint_eq(REC(xallocx((void *)big, 1, 0, MALLOCX_ZERO)), got);
	expect_rec(n + 1, REC_EXPAND, hook_expand_xallocx, big, big, 1, 0, "xallocx no-op");
	ck_assert_uint_eq(recs[n + 1].args[3], MALLOCX_ZERO);
	ck_assert_uint_eq(recs[n + 1].old_usize, got);
	ck_assert_uint_eq(recs[n + 1].new_usize, got);
	RECV(dallocx((void *)big, 0));
	uninstall(h);
}
END_TEST

/* ------------------------------------------------------------ install, remove */

static unsigned count_allocs;
static void
count_alloc(void *extra, hook_alloc_t type, void *result, uintptr_t result_raw,
            uintptr_t args_raw[3])
{
	(void)extra, (void)type, (void)result, (void)result_raw, (void)args_raw;
	if (__atomic_load_n(&rec_on, __ATOMIC_ACQUIRE) && pthread_equal(pthread_self(), rec_thread))
		count_allocs++;
}

START_TEST(test_four_install_the_fifth_is_eagain)
{
	hooks_t hooks = {count_alloc, NULL, NULL, NULL};
	void *handles[4];
	for (int i = 0; i < 4; i++)
		handles[i] = install(&hooks);
	void *h = NULL;
	size_t len = sizeof(h);
	ck_assert_int_eq(mallctl("experimental.hooks.install", &h, &len, &hooks, sizeof(hooks)),
	                 EAGAIN);
	/* Each installed set is called. */
	rec_start();
	count_allocs = 0;
	RECV(free(launder(malloc(24))));
	ck_assert_uint_eq(count_allocs, 4);
	uninstall(handles[2]);
	count_allocs = 0;
	RECV(free(launder(malloc(24))));
	ck_assert_uint_eq(count_allocs, 3);
	/* A freed slot can be taken again. */
	handles[2] = install(&hooks);
	for (int i = 0; i < 4; i++)
		uninstall(handles[i]);
	count_allocs = 0;
	RECV(free(launder(malloc(24))));
	ck_assert_uint_eq(count_allocs, 0);
}
END_TEST

START_TEST(test_install_remove_return_codes)
{
	hooks_t hooks = {count_alloc, NULL, NULL, NULL};
	void *h = NULL;
	size_t len = sizeof(h);
	/* install: old and new values are both required. */
	ck_assert_int_eq(mallctl("experimental.hooks.install", NULL, NULL, &hooks, sizeof(hooks)),
	                 EINVAL);
	ck_assert_int_eq(mallctl("experimental.hooks.install", &h, &len, NULL, 0), EINVAL);
	ck_assert_int_eq(mallctl("experimental.hooks.install", &h, &len, &hooks, sizeof(hooks) - 1),
	                 EINVAL);
	/* A short old length: jemalloc's partial copy, EINVAL, nothing installed. */
	memset(&h, 0xff, sizeof(h));
	len = 4;
	ck_assert_int_eq(mallctl("experimental.hooks.install", &h, &len, &hooks, sizeof(hooks)),
	                 EINVAL);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq((uintptr_t)h >> 32, 0xffffffffu);
	void *handles[4];
	for (int i = 0; i < 4; i++)
		handles[i] = install(&hooks);
	for (int i = 0; i < 4; i++)
		uninstall(handles[i]);
	/* remove: write-only, a live handle. */
	ck_assert_int_eq(mallctl("experimental.hooks.remove", &h, &len, &handles[0], sizeof(void *)),
	                 EPERM);
	void *null = NULL;
	ck_assert_int_eq(mallctl("experimental.hooks.remove", NULL, NULL, &null, sizeof(null)), EINVAL);
	ck_assert_int_eq(mallctl("experimental.hooks.remove", NULL, NULL, NULL, 0), EINVAL);
	ck_assert_int_eq(mallctl("experimental.hooks.remove", NULL, NULL, &handles[0], sizeof(void *)),
	                 EINVAL); /* already removed */
	void *bogus = &hooks;
	ck_assert_int_eq(mallctl("experimental.hooks.remove", NULL, NULL, &bogus, sizeof(bogus)),
	                 EINVAL);
}
END_TEST

START_TEST(test_remove_stops_calls)
{
	void *h = install_recorder();
	rec_start();
	RECV(free(launder(malloc(40))));
	ck_assert_uint_eq(nrec, 2);
	uninstall(h);
	rec_set(true);
	for (int i = 0; i < 100; i++)
		free(launder(malloc(40)));
	void *p = launder(realloc(NULL, 5000));
	p = launder(realloc(p, 50000));
	free(p);
	rec_set(false);
	ck_assert_uint_eq(nrec, 2);
}
END_TEST

/* A hook that allocates and frees: its own calls call no hook. */
static unsigned reentrant_calls;
static void *reentrant_inner;
static void
reentrant_alloc(void *extra, hook_alloc_t type, void *result, uintptr_t result_raw,
                uintptr_t args_raw[3])
{
	(void)extra, (void)type, (void)result, (void)result_raw, (void)args_raw;
	if (!__atomic_load_n(&rec_on, __ATOMIC_ACQUIRE) || !pthread_equal(pthread_self(), rec_thread))
		return;
	reentrant_calls++;
	void *p = launder(malloc(100));
	ck_assert_ptr_nonnull(p);
	free(p);
	reentrant_inner = launder(calloc(1, 200));
}

static unsigned reentrant_frees;
static void
reentrant_dalloc(void *extra, hook_dalloc_t type, void *address, uintptr_t args_raw[3])
{
	(void)extra, (void)type, (void)address, (void)args_raw;
	if (!__atomic_load_n(&rec_on, __ATOMIC_ACQUIRE) || !pthread_equal(pthread_self(), rec_thread))
		return;
	reentrant_frees++;
	free(launder(malloc(300)));
}

START_TEST(test_hook_that_allocates_does_not_recurse)
{
	hooks_t hooks = {reentrant_alloc, reentrant_dalloc, NULL, NULL};
	void *h = install(&hooks);
	rec_start();
	void *p = REC(launder(malloc(50)));
	ck_assert_uint_eq(reentrant_calls, 1);
	ck_assert_uint_eq(reentrant_frees, 0);
	void *inner = reentrant_inner;
	ck_assert_ptr_nonnull(inner);
	RECV(free(p));
	ck_assert_uint_eq(reentrant_frees, 1);
	RECV(free(inner));
	ck_assert_uint_eq(reentrant_frees, 2);
	ck_assert_uint_eq(reentrant_calls, 1);
	uninstall(h);
}
END_TEST

/* ------------------------------------------------------------ threads */

struct worker {
	struct gate warm, go, done;
	unsigned allocs, frees; /* what the hooks saw of this thread */
	pthread_t self;
};

static struct worker *workers[2];

/* Whether the calling thread is worker i (each worker sets its self
 * first thing; the hooks of every thread read it). */
static bool
is_worker(int i)
{
	struct worker *w = __atomic_load_n(&workers[i], __ATOMIC_ACQUIRE);
	return w != NULL && pthread_equal(pthread_self(), __atomic_load_n(&w->self, __ATOMIC_ACQUIRE));
}

static void
worker_alloc(void *extra, hook_alloc_t type, void *result, uintptr_t result_raw,
             uintptr_t args_raw[3])
{
	(void)extra, (void)type, (void)result, (void)result_raw, (void)args_raw;
	for (int i = 0; i < 2; i++)
		if (is_worker(i))
			__atomic_add_fetch(&workers[i]->allocs, 1, __ATOMIC_RELAXED);
}

static void
worker_dalloc(void *extra, hook_dalloc_t type, void *address, uintptr_t args_raw[3])
{
	(void)extra, (void)type, (void)address, (void)args_raw;
	for (int i = 0; i < 2; i++)
		if (is_worker(i))
			__atomic_add_fetch(&workers[i]->frees, 1, __ATOMIC_RELAXED);
}

/* Warms its cache for 48-byte objects (so that its mallocs would take the
 * fast path), waits for the go, then allocates and frees 10. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	__atomic_store_n(&w->self, pthread_self(), __ATOMIC_RELEASE);
	void *warm[16];
	for (int i = 0; i < 16; i++)
		warm[i] = launder(malloc(48));
	for (int i = 0; i < 16; i++)
		free(warm[i]);
	gate_open(&w->warm);
	if (!gate_wait(&w->go))
		return NULL;
	void *p[10];
	for (int i = 0; i < 10; i++)
		p[i] = launder(malloc(48));
	for (int i = 0; i < 10; i++)
		free(p[i]);
	gate_open(&w->done);
	return NULL;
}

START_TEST(test_hooks_fire_in_threads_started_before_and_after)
{
	static struct worker before, after;
	gate_init(&before.warm);
	gate_init(&before.go);
	gate_init(&before.done);
	gate_init(&after.warm);
	gate_init(&after.go);
	gate_init(&after.done);
	pthread_t tb, ta;
	__atomic_store_n(&workers[0], &before, __ATOMIC_RELEASE);
	__atomic_store_n(&workers[1], &after, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_create(&tb, NULL, worker_main, &before), 0);
	/* Its cache is warm before the install: only the forcing takes its
	 * mallocs and frees off the fast path. */
	ck_assert(gate_wait(&before.warm));
	hooks_t hooks = {worker_alloc, worker_dalloc, NULL, NULL};
	void *h = install(&hooks);
	ck_assert_int_eq(pthread_create(&ta, NULL, worker_main, &after), 0);
	gate_open(&before.go);
	gate_open(&after.go);
	ck_assert(gate_wait(&before.done));
	ck_assert(gate_wait(&after.done));
	join_bounded(tb);
	join_bounded(ta);
	uninstall(h);
	/* The one warmed up before the install: its 10 after it are seen. */
	ck_assert_uint_ge(before.allocs, 10);
	ck_assert_uint_ge(before.frees, 10);
	ck_assert_uint_ge(after.allocs, 26);
	ck_assert_uint_ge(after.frees, 26);
}
END_TEST

/*
 * Installs and removes a hook 100 times while two threads allocate (and
 * start and join short-lived threads, which join and leave the list of
 * live threads meanwhile): each install reaches both running threads (the
 * hook sees each of them within a bounded wait), nothing deadlocks.
 * Under ThreadSanitizer it is left out: the fast paths read their
 * thresholds with plain loads while the installer stores into them, the
 * race src/event.h explains is benign.
 */
struct churner {
	pthread_t self;
	unsigned long seen; /* calls the hook saw from this thread */
	bool stop;
};

static struct churner churners[2];

static void
churn_alloc(void *extra, hook_alloc_t type, void *result, uintptr_t result_raw,
            uintptr_t args_raw[3])
{
	(void)extra, (void)type, (void)result, (void)result_raw, (void)args_raw;
	for (int i = 0; i < 2; i++)
		if (pthread_equal(pthread_self(), __atomic_load_n(&churners[i].self, __ATOMIC_ACQUIRE)))
			__atomic_add_fetch(&churners[i].seen, 1, __ATOMIC_RELAXED);
}

static void *
churn_child(void *arg)
{
	free(launder(malloc(100)));
	return arg;
}

static void *
churn_main(void *arg)
{
	struct churner *c = arg;
	__atomic_store_n(&c->self, pthread_self(), __ATOMIC_RELEASE);
	for (unsigned n = 0; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); n++) {
		void *p[8];
		for (int i = 0; i < 8; i++)
			p[i] = launder(malloc(64 + 16 * i));
		for (int i = 0; i < 8; i++)
			free(p[i]);
		if (n % 64 == 0) {
			pthread_t t;
			if (pthread_create(&t, NULL, churn_child, NULL) == 0)
				pthread_join(t, NULL);
		}
	}
	return NULL;
}

START_TEST(test_install_remove_while_threads_allocate)
{
#ifdef STRATA_TSAN
	return;
#endif
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn_main, &churners[i]), 0);
	hooks_t hooks = {churn_alloc, NULL, NULL, NULL};
	for (int round = 0; round < 100; round++) {
		unsigned long before[2];
		for (int i = 0; i < 2; i++)
			before[i] = __atomic_load_n(&churners[i].seen, __ATOMIC_RELAXED);
		void *h = install(&hooks);
		struct timespec deadline = deadline_in(THREAD_WAIT_S);
		for (int i = 0; i < 2; i++) {
			while (__atomic_load_n(&churners[i].seen, __ATOMIC_RELAXED) == before[i]) {
				struct timespec now;
				clock_gettime(CLOCK_REALTIME, &now);
				ck_assert_msg(now.tv_sec < deadline.tv_sec,
				              "round %d: thread %d never reached the hook", round, i);
				sched_yield();
			}
		}
		uninstall(h);
	}
	for (int i = 0; i < 2; i++)
		__atomic_store_n(&churners[i].stop, true, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		join_bounded(th[i]);
}
END_TEST

/* ------------------------------------------------------------ safety_check_abort */

static void
safety_hook(const char *message)
{
	/* The child's stderr is the test's pipe. */
	(void)!write(STDERR_FILENO, "HOOK:", 5);
	(void)!write(STDERR_FILENO, message, strlen(message));
}

static void
double_free_child(const void *arg)
{
	(void)arg;
	safety_check_abort_hook_t hook = safety_hook;
	if (mallctl("experimental.hooks.safety_check_abort", NULL, NULL, &hook, sizeof(hook)) != 0)
		_exit(3);
	/* At the thread cache: freeing the object freed last. */
	void *volatile p = launder(malloc(32));
	free(p);
	free(p);
	/* At the bin: no cache on either free; a neighbour keeps the slab. */
	void *keep = launder(mallocx(64, MALLOCX_TCACHE_NONE));
	void *volatile q = launder(mallocx(64, MALLOCX_TCACHE_NONE));
	dallocx(q, MALLOCX_TCACHE_NONE);
	dallocx(q, MALLOCX_TCACHE_NONE);
	dallocx(keep, MALLOCX_TCACHE_NONE);
	/* The allocator still works. */
	for (int i = 0; i < 1000; i++)
		free(launder(malloc(32)));
	(void)!write(STDERR_FILENO, "END", 3);
}

START_TEST(test_safety_check_abort_gets_double_free)
{
	char out[4096];
	int status = child_run_capture(double_free_child, NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child did not exit normally (status %#x): %s", status, out);
	const char *first = strstr(out, "HOOK:<strata>: free(): double free of 0x");
	ck_assert_msg(first != NULL, "no tcache double free report: %s", out);
	ck_assert_msg(strstr(first + 1, "HOOK:<strata>: free(): double free of 0x") != NULL,
	              "no bin double free report: %s", out);
	ck_assert_msg(strstr(out, "END") != NULL, "child stopped early: %s", out);
}
END_TEST

START_TEST(test_safety_check_abort_is_write_only)
{
	safety_check_abort_hook_t hook = safety_hook, old = NULL;
	size_t len = sizeof(old);
	ck_assert_int_eq(mallctl("experimental.hooks.safety_check_abort", &old, &len, NULL, 0), EPERM);
	ck_assert_int_eq(mallctl("experimental.hooks.safety_check_abort", NULL, NULL, &hook, 1),
	                 EINVAL);
	ck_assert_int_eq(mallctl("experimental.hooks.safety_check_abort", NULL, NULL, NULL, 0), 0);
	hook = NULL;
	ck_assert_int_eq(
	    mallctl("experimental.hooks.safety_check_abort", NULL, NULL, &hook, sizeof(hook)), 0);
}
END_TEST

/* ------------------------------------------------------------ batch_alloc */

struct batch_packet {
	void **ptrs;
	size_t num;
	size_t size;
	int flags;
};

static int
batch(void **ptrs, size_t num, size_t size, int flags, size_t *filled)
{
	struct batch_packet b = {ptrs, num, size, flags};
	size_t len = sizeof(*filled);
	return mallctl("experimental.batch_alloc", filled, &len, &b, sizeof(b));
}

static unsigned
arena_of(void *p)
{
	unsigned ind = UINT32_MAX;
	size_t len = sizeof(ind);
	ck_assert_int_eq(mallctl("arenas.lookup", &ind, &len, &p, sizeof(p)), 0);
	return ind;
}

START_TEST(test_batch_alloc_sizes_and_flags)
{
	enum { N = 100 };
	void *ptrs[N];
	size_t filled = 0;
	static const size_t sizes[] = {1, 8, 100, 3000, 20000, 300000};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t size = sizes[s];
		ck_assert_int_eq(batch(ptrs, N, size, 0, &filled), 0);
		ck_assert_uint_eq(filled, N);
		for (int i = 0; i < N; i++) {
			ck_assert_uint_eq(malloc_usable_size(ptrs[i]), nallocx(size, 0));
			for (int j = 0; j < i; j++)
				ck_assert_ptr_ne(ptrs[i], ptrs[j]);
			memset(ptrs[i], 0xa7, size);
		}
		for (int i = 0; i < N; i++)
			free(ptrs[i]);
	}
	/* MALLOCX_ZERO: the objects just freed (dirty) come back zeroed. */
	ck_assert_int_eq(batch(ptrs, N, 100, MALLOCX_ZERO, &filled), 0);
	ck_assert_uint_eq(filled, N);
	for (int i = 0; i < N; i++) {
		ck_assert_uint_eq(first_not(ptrs[i], 0, 100, 0), SIZE_MAX);
		free(ptrs[i]);
	}
	/* Alignment. */
	ck_assert_int_eq(batch(ptrs, 10, 24, MALLOCX_ALIGN(256), &filled), 0);
	ck_assert_uint_eq(filled, 10);
	for (int i = 0; i < 10; i++) {
		ck_assert(is_aligned(ptrs[i], 256));
		free(ptrs[i]);
	}
	/* MALLOCX_ARENA: all from that arena. */
	unsigned a;
	size_t len = sizeof(a);
	ck_assert_int_eq(mallctl("arenas.create", &a, &len, NULL, 0), 0);
	ck_assert_int_eq(batch(ptrs, N, 64, MALLOCX_ARENA(a), &filled), 0);
	ck_assert_uint_eq(filled, N);
	for (int i = 0; i < N; i++) {
		ck_assert_uint_eq(arena_of(ptrs[i]), a);
		dallocx(ptrs[i], MALLOCX_TCACHE_NONE);
	}
	/* MALLOCX_TCACHE_NONE and an explicit cache. */
	ck_assert_int_eq(batch(ptrs, N, 64, MALLOCX_TCACHE_NONE, &filled), 0);
	ck_assert_uint_eq(filled, N);
	for (int i = 0; i < N; i++)
		dallocx(ptrs[i], MALLOCX_TCACHE_NONE);
	unsigned tc;
	len = sizeof(tc);
	ck_assert_int_eq(mallctl("tcache.create", &tc, &len, NULL, 0), 0);
	ck_assert_int_eq(batch(ptrs, N, 64, MALLOCX_TCACHE(tc), &filled), 0);
	ck_assert_uint_eq(filled, N);
	for (int i = 0; i < N; i++)
		dallocx(ptrs[i], MALLOCX_TCACHE(tc));
	ck_assert_int_eq(mallctl("tcache.destroy", NULL, NULL, &tc, sizeof(tc)), 0);
}
END_TEST

START_TEST(test_batch_alloc_edges_and_return_codes)
{
	void *ptrs[4] = {NULL};
	size_t filled = 99;
	ck_assert_int_eq(batch(ptrs, 0, 100, 0, &filled), 0);
	ck_assert_uint_eq(filled, 0);
	ck_assert_int_eq(batch(ptrs, 2, hide((size_t)1 << 62), 0, &filled), 0);
	ck_assert_uint_eq(filled, 0);
	/* Size 0 allocates the smallest class, as malloc(0). */
	ck_assert_int_eq(batch(ptrs, 2, 0, 0, &filled), 0);
	ck_assert_uint_eq(filled, 2);
	ck_assert_ptr_nonnull(ptrs[0]);
	ck_assert_ptr_ne(ptrs[0], ptrs[1]);
	free(ptrs[0]);
	free(ptrs[1]);
	/* An arena or a cache that does not exist: nothing. */
	ck_assert_int_eq(batch(ptrs, 2, 100, MALLOCX_ARENA(4000), &filled), 0);
	ck_assert_uint_eq(filled, 0);
	ck_assert_int_eq(batch(ptrs, 2, 100, MALLOCX_TCACHE(4000), &filled), 0);
	ck_assert_uint_eq(filled, 0);
	/* jemalloc's VERIFY_READ (size_t old value) and ASSURED_WRITE. */
	struct batch_packet b = {ptrs, 1, 8, 0};
	size_t len = 4;
	ck_assert_int_eq(mallctl("experimental.batch_alloc", &filled, &len, &b, sizeof(b)), EINVAL);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(mallctl("experimental.batch_alloc", NULL, NULL, &b, sizeof(b)), EINVAL);
	len = sizeof(filled);
	ck_assert_int_eq(mallctl("experimental.batch_alloc", &filled, &len, NULL, 0), EINVAL);
	ck_assert_int_eq(mallctl("experimental.batch_alloc", &filled, &len, &b, sizeof(b) - 1),
	                 EINVAL);
}
END_TEST

/* ------------------------------------------------------------ thread.peak */

static uint64_t
peak(void)
{
	uint64_t v = 0;
	size_t len = sizeof(v);
	ck_assert_int_eq(mallctl("thread.peak.read", &v, &len, NULL, 0), 0);
	return v;
}

START_TEST(test_thread_peak_follows_rise_and_reset)
{
	ck_assert_int_eq(mallctl("thread.peak.reset", NULL, NULL, NULL, 0), 0);
	ck_assert_uint_lt(peak(), 64 * KiB);
	void *big = launder(malloc(4 * MiB));
	ck_assert_uint_ge(peak(), 4 * MiB);
	free(big);
	ck_assert_uint_ge(peak(), 4 * MiB); /* the peak stays */
	ck_assert_int_eq(mallctl("thread.peak.reset", NULL, NULL, NULL, 0), 0);
	ck_assert_uint_lt(peak(), 64 * KiB);
	/* Many small ones: seen at the periodic event or at the read. */
	enum { N = 4096 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = launder(malloc(256));
	uint64_t high = peak();
	ck_assert_uint_ge(high, (uint64_t)N * 256);
	ck_assert_uint_lt(high, (uint64_t)N * 256 + 256 * KiB);
	for (int i = 0; i < N; i++)
		free(p[i]);
	ck_assert_uint_eq(peak(), high);
	/* Access: read is read-only, reset is void. */
	uint64_t v = 0;
	size_t len = sizeof(v);
	ck_assert_int_eq(mallctl("thread.peak.read", &v, &len, &v, sizeof(v)), EPERM);
	ck_assert_int_eq(mallctl("thread.peak.reset", &v, &len, NULL, 0), EPERM);
	ck_assert_int_eq(mallctl("thread.peak.reset", NULL, NULL, &v, sizeof(v)), EPERM);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_hooks");
	TCase *tc = tcase_create("hooks");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_alloc_and_dalloc_hooks_see_every_entry_point);
	tcase_add_test(tc, test_realloc_family_hooks);
	tcase_add_test(tc, test_four_install_the_fifth_is_eagain);
	tcase_add_test(tc, test_install_remove_return_codes);
	tcase_add_test(tc, test_remove_stops_calls);
	tcase_add_test(tc, test_hook_that_allocates_does_not_recurse);
	tcase_add_test(tc, test_hooks_fire_in_threads_started_before_and_after);
	tcase_add_test(tc, test_install_remove_while_threads_allocate);
	tcase_add_test(tc, test_safety_check_abort_gets_double_free);
	tcase_add_test(tc, test_safety_check_abort_is_write_only);
	suite_add_tcase(s, tc);
	TCase *tb = tcase_create("batch_alloc");
	tcase_set_timeout(tb, 30);
	tcase_add_test(tb, test_batch_alloc_sizes_and_flags);
	tcase_add_test(tb, test_batch_alloc_edges_and_return_codes);
	suite_add_tcase(s, tb);
	TCase *tp = tcase_create("thread_peak");
	tcase_set_timeout(tp, 30);
	tcase_add_test(tp, test_thread_peak_follows_rise_and_reset);
	suite_add_tcase(s, tp);
	return s;
}
