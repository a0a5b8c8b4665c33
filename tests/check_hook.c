/*
 * check_hook.c — what installing the program's allocation hooks does to
 * the threads' fast paths (hook.c, event.c's event_force_slow):
 *
 *   - installing a hook zeroes the fast thresholds of a thread already
 *     running (from the installing thread), so its next allocation and
 *     free take the slow path;
 *   - a thread set up while a hook is installed starts with zero
 *     thresholds;
 *   - removing the last hook gives each thread its thresholds back at its
 *     next slow call (the fast path returns); while one of two forcings is
 *     still in effect they stay 0;
 *   - hook_install refuses a fifth set (EAGAIN), hook_remove an unknown
 *     handle (EINVAL).
 *
 * Threads are waited for with bounded gates and joins (thread_util.h).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>

#include "event.h"
#include "hook.h"
#include "init.h"
#include "thread_util.h"
#include "tsd.h"

void *strata_test_malloc(size_t size);
void strata_test_free(void *ptr);

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
}

static void
noop_alloc(void *extra, hook_alloc_t type, void *result, uintptr_t result_raw,
           uintptr_t args_raw[3])
{
	(void)extra, (void)type, (void)result, (void)result_raw, (void)args_raw;
}

static const hooks_t noop_hooks = {noop_alloc, NULL, NULL, NULL};

/* A worker that sets itself up, hands out its block, then on each step
 * allocates and frees one object. */
struct worker {
	struct gate ready, step, stepped, quit;
	tsd_t *tsd;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	strata_test_free(strata_test_malloc(32));
	w->tsd = &tsd_tls;
	gate_open(&w->ready);
	if (!gate_wait(&w->step))
		return NULL;
	strata_test_free(strata_test_malloc(32));
	gate_open(&w->stepped);
	gate_wait(&w->quit);
	return NULL;
}

static void
worker_start(struct worker *w, pthread_t *th)
{
	gate_init(&w->ready);
	gate_init(&w->step);
	gate_init(&w->stepped);
	gate_init(&w->quit);
	ck_assert_int_eq(pthread_create(th, NULL, worker_main, w), 0);
	ck_assert(gate_wait(&w->ready));
}

static uint64_t
load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

START_TEST(test_install_forces_running_and_new_threads)
{
	static struct worker before, after;
	pthread_t tb, ta;
	worker_start(&before, &tb);
	/* Set up and idle: its thresholds are ahead of its counters. */
	ck_assert_uint_gt(load(&before.tsd->alloc_event), before.tsd->allocated);
	ck_assert_uint_gt(load(&before.tsd->dalloc_event), before.tsd->deallocated);

	void *handle;
	ck_assert_int_eq(hook_install(&noop_hooks, &handle), 0);
	ck_assert_uint_eq(load(&before.tsd->alloc_event), 0);
	ck_assert_uint_eq(load(&before.tsd->dalloc_event), 0);
	worker_start(&after, &ta);
	ck_assert_uint_eq(load(&after.tsd->alloc_event), 0);
	ck_assert_uint_eq(load(&after.tsd->dalloc_event), 0);
	/* Its slow path keeps them 0 while the hook is installed. */
	gate_open(&after.step);
	ck_assert(gate_wait(&after.stepped));
	ck_assert_uint_eq(load(&after.tsd->alloc_event), 0);
	ck_assert_uint_eq(load(&after.tsd->dalloc_event), 0);

	/* Removed: the next slow call restores the thresholds. */
	ck_assert_int_eq(hook_remove(handle), 0);
	ck_assert_uint_eq(load(&before.tsd->alloc_event), 0);
	gate_open(&before.step);
	ck_assert(gate_wait(&before.stepped));
	ck_assert_uint_gt(load(&before.tsd->alloc_event), before.tsd->allocated);
	ck_assert_uint_gt(load(&before.tsd->dalloc_event), before.tsd->deallocated);
	gate_open(&before.quit);
	gate_open(&after.quit);
	join_bounded(tb);
	join_bounded(ta);
}
END_TEST

START_TEST(test_forcings_nest)
{
	tsd_t *tsd = tsd_fetch();
	ck_assert_ptr_nonnull(tsd);
	event_force_slow(true);
	event_force_slow(true);
	ck_assert_uint_eq(load(&tsd->alloc_event), 0);
	event_force_slow(false);
	strata_test_free(strata_test_malloc(64));
	ck_assert_uint_eq(load(&tsd->alloc_event), 0);
	ck_assert_uint_eq(load(&tsd->dalloc_event), 0);
	event_force_slow(false);
	strata_test_free(strata_test_malloc(64));
	ck_assert_uint_gt(load(&tsd->alloc_event), tsd->allocated);
	ck_assert_uint_gt(load(&tsd->dalloc_event), tsd->deallocated);
}
END_TEST

START_TEST(test_slots)
{
	void *h[HOOK_MAX], *extra;
	for (int i = 0; i < HOOK_MAX; i++)
		ck_assert_int_eq(hook_install(&noop_hooks, &h[i]), 0);
	ck_assert_int_eq(hook_install(&noop_hooks, &extra), EAGAIN);
	ck_assert(hook_active());
	for (int i = 0; i < HOOK_MAX; i++)
		ck_assert_int_eq(hook_remove(h[i]), 0);
	ck_assert(!hook_active());
	ck_assert_int_eq(hook_remove(h[0]), EINVAL);
	ck_assert_int_eq(hook_remove((char *)h[0] + 1), EINVAL);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("hook");
	TCase *tc = tcase_create("force");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_install_forces_running_and_new_threads);
	tcase_add_test(tc, test_forcings_nest);
	tcase_add_test(tc, test_slots);
	suite_add_tcase(s, tc);
	return s;
}
