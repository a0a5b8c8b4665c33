/*
 * check_arena_select.c — which arena a thread uses: the number of automatic
 * arenas (four per CPU by default, narenas when set, one per CPU under
 * percpu_arena:percpu, one per pair of hyperthreads under phycpu);
 * least-loaded binding (N threads bound one after the other get N
 * different arenas, each with nthreads 1; a slot freed by a thread's exit
 * is the next one taken); the counts kept by unbind and move; and under
 * percpu_arena, binding to the arena of the CPU the thread runs on and
 * following it to another CPU (threads are pinned with
 * pthread_setaffinity_np; the CPU checks need two allowed CPUs).
 *
 * opt_percpu_arena is set directly: each test runs in its own forked child.
 * The test thread itself never binds, except where a test says so.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "arena_select.h"
#include "conf.h"
#include "init.h"
#include "os.h"
#include "tsd.h"
#include "thread_util.h"

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
}

/* ------------------------------------------------------------ narenas */

START_TEST(test_narenas_default_is_four_per_cpu)
{
	/* What init chose, unless MALLOC_CONF overrode it for this run. */
	if (opt_narenas == 0 && opt_percpu_arena == CONF_PERCPU_ARENA_DISABLED) {
		unsigned ncpus = os_ncpus();
		unsigned want = ncpus == 1 ? 1 : 4 * ncpus;
		ck_assert_uint_eq(arena_narenas_auto(), want < ARENAS_MAX ? want : ARENAS_MAX);
	}
	opt_percpu_arena = CONF_PERCPU_ARENA_DISABLED;
	ck_assert_uint_eq(arena_select_narenas(0, 1), 1);
	ck_assert_uint_eq(arena_select_narenas(0, 2), 8);
	ck_assert_uint_eq(arena_select_narenas(0, 3), 12);
	ck_assert_uint_eq(arena_select_narenas(0, 16), 64);
	/* narenas set: taken as is, whatever the CPU count. */
	ck_assert_uint_eq(arena_select_narenas(5, 16), 5);
	ck_assert_uint_eq(arena_select_narenas(1, 64), 1);
	ck_assert_uint_eq(arena_select_narenas(100, 2), 100);
}
END_TEST

START_TEST(test_narenas_percpu)
{
	opt_percpu_arena = CONF_PERCPU_ARENA_PERCPU;
	ck_assert_uint_eq(arena_select_narenas(0, 1), 1);
	ck_assert_uint_eq(arena_select_narenas(0, 2), 2);
	ck_assert_uint_eq(arena_select_narenas(0, 6), 6);
	ck_assert_uint_eq(arena_select_narenas(0, 64), 64);
	/* narenas is ignored (man page: percpu_arena). */
	ck_assert_uint_eq(arena_select_narenas(3, 6), 6);
	ck_assert_uint_eq(arena_select_narenas(10, 6), 6);
}
END_TEST

START_TEST(test_narenas_phycpu)
{
	opt_percpu_arena = CONF_PERCPU_ARENA_PHYCPU;
	ck_assert_uint_eq(arena_select_narenas(0, 1), 1);
	ck_assert_uint_eq(arena_select_narenas(0, 2), 1);
	ck_assert_uint_eq(arena_select_narenas(0, 8), 4);
	ck_assert_uint_eq(arena_select_narenas(0, 16), 8);
	ck_assert_uint_eq(arena_select_narenas(12, 8), 4);
	ck_assert_uint_eq(arena_select_narenas(1, 8), 4);
}
END_TEST

/* ------------------------------------------------------------ least loaded */

struct bound_thread {
	pthread_t th;
	struct gate bound, release;
	unsigned ind; /* its arena; UINT32_MAX if none */
	bool running;
};

static void *
bind_worker(void *arg)
{
	struct bound_thread *t = arg;
	tsd_t *tsd = tsd_fetch();
	t->ind = tsd != NULL ? tsd->arena->ind : UINT32_MAX;
	gate_open(&t->bound);
	gate_wait(&t->release);
	return NULL;
}

/* Starts a thread, waits until it is bound and returns its arena index. */
static unsigned
start_bound(struct bound_thread *t)
{
	gate_init(&t->bound);
	gate_init(&t->release);
	t->ind = UINT32_MAX;
	ck_assert_int_eq(pthread_create(&t->th, NULL, bind_worker, t), 0);
	t->running = true;
	ck_assert(gate_wait(&t->bound));
	ck_assert_uint_ne(t->ind, UINT32_MAX);
	return t->ind;
}

static void
stop_bound(struct bound_thread *t)
{
	gate_open(&t->release);
	join_bounded(t->th);
	t->running = false;
}

#define SPREAD_MAX 16

START_TEST(test_least_loaded_spreads_and_reuses)
{
	opt_percpu_arena = CONF_PERCPU_ARENA_DISABLED;
	unsigned nauto = arena_narenas_auto();
	unsigned n = nauto < SPREAD_MAX ? nauto : SPREAD_MAX;
	static struct bound_thread t[SPREAD_MAX + 2];
	/* One after the other: thread i gets arena i, created for it. */
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(start_bound(&t[i]), i);
		for (unsigned j = 0; j <= i; j++)
			ck_assert_uint_eq(arena_nthreads(j), 1);
	}
	if (n < nauto)
		ck_assert(!arena_is_initialized(n)); /* nothing created ahead of need */

	/* A thread leaves: its arena is the least loaded, and the next one. */
	unsigned k = n / 2;
	stop_bound(&t[k]);
	ck_assert_uint_eq(arena_nthreads(k), 0);
	ck_assert_uint_eq(start_bound(&t[n]), k);
	ck_assert_uint_eq(arena_nthreads(k), 1);

	/* Everything at 1: a fresh arena while there are some, else the lowest
	 * index among the least loaded. */
	unsigned next = start_bound(&t[n + 1]);
	if (n < nauto) {
		ck_assert_uint_eq(next, n);
		ck_assert_uint_eq(arena_nthreads(n), 1);
	} else {
		ck_assert_uint_eq(next, 0);
		ck_assert_uint_eq(arena_nthreads(0), 2);
	}
	for (unsigned i = 0; i < n + 2; i++)
		if (t[i].running)
			stop_bound(&t[i]);
	for (unsigned i = 0; i < nauto; i++)
		ck_assert_uint_eq(arena_nthreads(i), 0);
}
END_TEST

START_TEST(test_bind_unbind_move_counts)
{
	opt_percpu_arena = CONF_PERCPU_ARENA_DISABLED;
	/* Nobody bound: the first binding is arena 0. */
	arena_t *a = arena_select_bind();
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->ind, 0);
	ck_assert_uint_eq(arena_nthreads(0), 1);
	unsigned mind;
	ck_assert_int_eq(arena_create_manual(&mind), 0);
	arena_t *m = arena_get(mind, false);
	arena_select_move(a, m);
	ck_assert_uint_eq(arena_nthreads(0), 0);
	ck_assert_uint_eq(arena_nthreads(mind), 1);
	/* Manual arenas are never chosen by binding. */
	arena_t *b = arena_select_bind();
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_lt(b->ind, arena_narenas_auto());
	ck_assert_uint_eq(b->ind, 0);
	arena_select_unbind(b);
	arena_select_unbind(m);
	ck_assert_uint_eq(arena_nthreads(0), 0);
	ck_assert_uint_eq(arena_nthreads(mind), 0);
	/* Disabled: no CPU following. */
	ck_assert_ptr_null(arena_select_percpu_moved(a));
	ck_assert_ptr_null(arena_select_percpu_moved(NULL));
}
END_TEST

/* ------------------------------------------------------------ percpu */

/* The first two CPUs this process may run on; false if there is only one. */
static bool
two_cpus(unsigned *c0, unsigned *c1)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	int found = 0;
	for (unsigned c = 0; c < CPU_SETSIZE && found < 2; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (found++ == 0)
			*c0 = c;
		else
			*c1 = c;
	}
	return found == 2;
}

static int
pin(unsigned cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The arena percpu_arena ties to cpu (arena_select.h's rule). */
static unsigned
cpu_arena(unsigned cpu, unsigned ncpus)
{
	unsigned half = ncpus / 2;
	if (opt_percpu_arena == CONF_PERCPU_ARENA_PHYCPU && half > 0 && cpu >= half)
		cpu -= half;
	return cpu % arena_narenas_auto();
}

struct cpu_job {
	unsigned c0, c1, ncpus;
	int pin0, pin1, pin2;
	unsigned cpu_seen0, cpu_seen1;
	unsigned bound_ind, followed_ind, tcache_ind, manual_ind, after_manual_ind;
	unsigned nthreads_bound, nthreads_followed_from, nthreads_followed_to;
	bool moved_null_on_same;
};

/* Makes the arena re-check event due and runs the thread's events. */
static void
fire_arena_recheck(tsd_t *tsd)
{
	tsd->events.next[EVENT_ARENA_RECHECK] = tsd->allocated;
	event_alloc(tsd, 0);
}

static void *
cpu_worker(void *arg)
{
	struct cpu_job *j = arg;
	j->pin0 = pin(j->c0);
	j->cpu_seen0 = os_getcpu();
	tsd_t *tsd = tsd_fetch();
	if (tsd == NULL)
		return NULL;
	j->bound_ind = tsd->arena->ind;
	j->nthreads_bound = arena_nthreads(j->bound_ind);
	j->moved_null_on_same = arena_select_percpu_moved(tsd->arena) == NULL;
	j->pin1 = pin(j->c1);
	j->cpu_seen1 = os_getcpu();
	/* The next periodic event follows the thread to its new CPU. */
	fire_arena_recheck(tsd);
	j->followed_ind = tsd->arena->ind;
	j->tcache_ind = tsd->tcache.arena->ind;
	j->nthreads_followed_from = arena_nthreads(j->bound_ind);
	j->nthreads_followed_to = arena_nthreads(j->followed_ind);
	/* Bound to a manual arena by thread.arena: no following. */
	tsd_thread_arena_set(j->manual_ind);
	j->pin2 = pin(j->c0);
	fire_arena_recheck(tsd);
	j->after_manual_ind = tsd->arena->ind;
	return NULL;
}

static void
run_cpu_job(enum conf_percpu_arena mode)
{
	struct cpu_job j = {0};
	if (!two_cpus(&j.c0, &j.c1)) {
		/* One CPU: only the binding to it can be checked. */
		opt_percpu_arena = mode;
		ck_assert_uint_eq(arena_select_narenas(0, 1), 1);
		arena_t *a = arena_select_percpu_moved(NULL);
		ck_assert_ptr_nonnull(a);
		ck_assert_uint_eq(a->ind, cpu_arena(os_getcpu(), 1));
		return;
	}
	opt_percpu_arena = mode;
	j.ncpus = os_ncpus();
	(void)arena_select_narenas(0, j.ncpus); /* records the CPU count */
	ck_assert_int_eq(arena_create_manual(&j.manual_ind), 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, cpu_worker, &j), 0);
	join_bounded(th);
	ck_assert_int_eq(j.pin0, 0);
	ck_assert_int_eq(j.pin1, 0);
	ck_assert_int_eq(j.pin2, 0);
	ck_assert_uint_eq(j.cpu_seen0, j.c0);
	ck_assert_uint_eq(j.cpu_seen1, j.c1);
	unsigned a0 = cpu_arena(j.c0, j.ncpus), a1 = cpu_arena(j.c1, j.ncpus);
	ck_assert_uint_eq(j.bound_ind, a0);
	ck_assert_uint_eq(j.nthreads_bound, 1);
	ck_assert(j.moved_null_on_same);
	ck_assert_uint_eq(j.followed_ind, a1);
	ck_assert_uint_eq(j.tcache_ind, a1);
	if (a0 != a1) {
		ck_assert_uint_eq(j.nthreads_followed_from, 0);
		ck_assert_uint_eq(j.nthreads_followed_to, 1);
	} else {
		ck_assert_uint_eq(j.nthreads_followed_to, 1);
	}
	ck_assert_uint_eq(j.after_manual_ind, j.manual_ind);
	/* Its exit unbound it from the manual arena. */
	ck_assert_uint_eq(arena_nthreads(j.manual_ind), 0);
	ck_assert_uint_eq(arena_nthreads(a0), 0);
	ck_assert_uint_eq(arena_nthreads(a1), 0);
}

START_TEST(test_percpu_follows_cpu)
{
	run_cpu_job(CONF_PERCPU_ARENA_PERCPU);
}
END_TEST

START_TEST(test_phycpu_follows_core)
{
	run_cpu_job(CONF_PERCPU_ARENA_PHYCPU);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("arena_select");
	TCase *tc = tcase_create("arena_select");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_narenas_default_is_four_per_cpu);
	tcase_add_test(tc, test_narenas_percpu);
	tcase_add_test(tc, test_narenas_phycpu);
	tcase_add_test(tc, test_least_loaded_spreads_and_reuses);
	tcase_add_test(tc, test_bind_unbind_move_counts);
	tcase_add_test(tc, test_percpu_follows_cpu);
	tcase_add_test(tc, test_phycpu_follows_core);
	suite_add_tcase(s, tc);
	return s;
}
