/*
 * check_mutex.c — the futex mutex (mutual exclusion, counters), the lock
 * registry and its fork handlers (every registered lock taken in rank
 * order, released, re-initialized in a child with recovery callbacks run;
 * an arena destroyed between prefork and postfork leaves no lock held), and
 * the debug witness (a rank violation aborts naming both locks in a debug
 * build, and costs nothing in a release build).
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "child_util.h"
#include "init.h"
#include "mutex.h"
/* Last: malloc and free below are strata's (strata_test_*). */
#include "public_names.h"
#include <strata.h>

#define COUNT_THREADS 4
#define COUNT_ROUNDS 20000

static mutex_t count_mtx = MUTEX_INITIALIZER("test count", MUTEX_RANK_BIN);
static uint64_t count_value; /* protected by count_mtx */

static void *
count_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < COUNT_ROUNDS; i++) {
		mutex_lock(&count_mtx);
		count_value++;
		mutex_unlock(&count_mtx);
	}
	return NULL;
}

START_TEST(test_mutual_exclusion_and_counters)
{
	pthread_t t[COUNT_THREADS];
	for (int i = 0; i < COUNT_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, count_worker, NULL), 0);
	for (int i = 0; i < COUNT_THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_uint_eq(count_value, (uint64_t)COUNT_THREADS * COUNT_ROUNDS);
	ck_assert_uint_eq(atomic_load(&count_mtx.stats.num_ops), (uint64_t)COUNT_THREADS * COUNT_ROUNDS);
	ck_assert_uint_le(atomic_load(&count_mtx.stats.num_wait), atomic_load(&count_mtx.stats.num_ops));
	ck_assert_uint_eq(atomic_load(&count_mtx.state), 0);
}
END_TEST

/* Registry walks. */
typedef struct walk {
	unsigned n;
	unsigned last_rank;
	bool ordered;
	unsigned nlocked;
	unsigned nseen_a, nseen_b;
	const mutex_t *a, *b;
} walk_t;

static void
walk_visit(mutex_t *m, void *arg)
{
	walk_t *w = arg;
	if (m->rank < w->last_rank)
		w->ordered = false;
	w->last_rank = m->rank;
	w->n++;
	w->nlocked += atomic_load(&m->state) != 0;
	w->nseen_a += m == w->a;
	w->nseen_b += m == w->b;
}

static walk_t
walk_registry(const mutex_t *a, const mutex_t *b)
{
	walk_t w = {.ordered = true, .a = a, .b = b};
	mutex_registry_foreach(walk_visit, &w);
	return w;
}

START_TEST(test_registry_once_in_rank_order)
{
	ck_assert_int_eq(init_ensure(), 0);
	static mutex_t low = MUTEX_INITIALIZER("test low", MUTEX_RANK_CTL);
	static mutex_t high = MUTEX_INITIALIZER("test high", MUTEX_RANK_EMAP);
	mutex_register(&high, NULL);
	mutex_register(&low, NULL);
	mutex_register(&low, NULL); /* a second registration changes nothing */
	walk_t w = walk_registry(&low, &high);
	ck_assert(w.ordered);
	ck_assert_uint_eq(w.nseen_a, 1);
	ck_assert_uint_eq(w.nseen_b, 1);
	/* init, ctl, tcache list, arenas, emap, global base, and arena 0's
	 * base, pages, large and bins are all there. */
	ck_assert_uint_ge(w.n, 2 + 6 + 3 + SZ_NBINS);
	ck_assert_uint_eq(w.nlocked, 0);
}
END_TEST

START_TEST(test_prefork_takes_every_lock_parent_releases)
{
	ck_assert_int_eq(init_ensure(), 0);
	mutex_prefork_all();
	walk_t w = walk_registry(NULL, NULL);
	ck_assert_uint_eq(w.nlocked, w.n);
	mutex_postfork_parent_all();
	w = walk_registry(NULL, NULL);
	ck_assert_uint_eq(w.nlocked, 0);
}
END_TEST

static mutex_t recover_mtx = MUTEX_INITIALIZER("test recover", MUTEX_RANK_LARGE);
static unsigned recover_calls;
static bool recover_saw_all_unlocked;

static void
recover_count(mutex_t *m)
{
	recover_calls++;
	/* Recovery runs after every lock was re-initialized: it may lock. */
	recover_saw_all_unlocked = walk_registry(NULL, NULL).nlocked == 0;
	mutex_lock(m);
	mutex_unlock(m);
}

START_TEST(test_child_reinitializes_and_recovers)
{
	ck_assert_int_eq(init_ensure(), 0);
	mutex_register(&recover_mtx, recover_count);
	/* What the child sees: every lock held by the forking thread. */
	mutex_prefork_all();
	mutex_postfork_child_all();
	ck_assert_uint_eq(recover_calls, 1);
	ck_assert(recover_saw_all_unlocked);
	ck_assert_uint_eq(walk_registry(NULL, NULL).nlocked, 0);
	/* And the allocator works afterwards. */
	void *p = malloc(100);
	ck_assert_ptr_nonnull(p);
	free(p);
}
END_TEST

/*
 * An arena destroyed while the fork handlers hold the locks (its
 * destruction finished just after prefork took its locks) must not keep
 * them held: the old per-arena handlers skipped destroyed arenas in
 * postfork and left their locks taken.
 */
START_TEST(test_arena_destroyed_during_fork_leaves_no_lock_held)
{
	ck_assert_int_eq(init_ensure(), 0);
	unsigned ind;
	ck_assert_int_eq(arena_create_manual(&ind), 0);
	arena_t *a = arena_get(ind, false);
	ck_assert_ptr_nonnull(a);
	mutex_prefork_all();
	atomic_store(&a->destroyed, true);
	mutex_postfork_parent_all();
	ck_assert_uint_eq(walk_registry(NULL, NULL).nlocked, 0);
	/* The destroyed index is revived by the next creation and usable. */
	unsigned again;
	ck_assert_int_eq(arena_create_manual(&again), 0);
	ck_assert_uint_eq(again, ind);
	void *p = arena_malloc(a, 64, sz_size2index(64), 0, false);
	ck_assert_ptr_nonnull(p);
	arena_dalloc(p, emap_lookup(p));
}
END_TEST

/* Witness: taking a lower rank while holding a higher one. */
static mutex_t witness_high = MUTEX_INITIALIZER("test pages-like", MUTEX_RANK_PAGES);
static mutex_t witness_low = MUTEX_INITIALIZER("test bin-like", MUTEX_RANK_BIN);

static void
witness_violate(const void *arg)
{
	(void)arg;
	mutex_lock(&witness_high);
	mutex_lock(&witness_low);
	mutex_unlock(&witness_low);
	mutex_unlock(&witness_high);
}

START_TEST(test_witness_names_both_locks)
{
	char out[1024];
	int status = child_run_capture(witness_violate, NULL, out, sizeof(out));
	if (config_debug) {
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
		ck_assert_msg(strstr(out, "lock order violation") != NULL, "got: %s", out);
		ck_assert_msg(strstr(out, "test bin-like") != NULL, "got: %s", out);
		ck_assert_msg(strstr(out, "test pages-like") != NULL, "got: %s", out);
	} else {
		/* Release builds compile the witness out. */
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		ck_assert_str_eq(out, "");
	}
}
END_TEST

static void
witness_in_order(const void *arg)
{
	(void)arg;
	mutex_lock(&witness_low);
	mutex_lock(&witness_high);
	mutex_unlock(&witness_high);
	mutex_unlock(&witness_low);
	/* Released in either order, re-taken: nothing is reported. */
	mutex_lock(&witness_low);
	mutex_lock(&witness_high);
	mutex_unlock(&witness_low);
	mutex_unlock(&witness_high);
}

START_TEST(test_witness_accepts_rank_order)
{
	char out[1024];
	int status = child_run_capture(witness_in_order, NULL, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "");
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("mutex");
	TCase *tc = tcase_create("mutex");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mutual_exclusion_and_counters);
	tcase_add_test(tc, test_registry_once_in_rank_order);
	tcase_add_test(tc, test_prefork_takes_every_lock_parent_releases);
	tcase_add_test(tc, test_child_reinitializes_and_recovers);
	tcase_add_test(tc, test_arena_destroyed_during_fork_leaves_no_lock_held);
	tcase_add_test(tc, test_witness_names_both_locks);
	tcase_add_test(tc, test_witness_accepts_rank_order);
	suite_add_tcase(s, tc);
	return s;
}
