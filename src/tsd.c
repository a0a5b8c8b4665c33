/*
 * tsd.c — thread state setup, events and teardown.  See tsd.h.
 *
 * A pthread key with a destructor tells us when a thread exits; its value is
 * the thread's tsd_t (any non-NULL value makes glibc call the destructor).
 * pthread_setspecific with a low key index does not allocate.  At exit the
 * cache is flushed to the arenas that own its objects, so memory the thread
 * freed but did not own is never lost, and what it owns stays valid for the
 * threads still using it.
 *
 * The list of live blocks (tsd_list) holds every thread from its setup to
 * its exit, for event_force_slow.  A thread joins it before its events are
 * armed, so a forcing that misses it on the list has already raised the
 * count the arming reads (event.c).  Lock: tsd_list_mtx, a leaf.
 */
#include <errno.h>
#include <pthread.h>

#include "arena_select.h"
#include "conf.h"
#include "emap.h"
#include "numa.h"
#include "tsd.h"

__thread tsd_t tsd_tls __attribute__((tls_model("initial-exec")));

static pthread_key_t tsd_key;

static mutex_t tsd_list_mtx = MUTEX_INITIALIZER("tsd list", MUTEX_RANK_TSD_LIST);
static tsd_t *tsd_list;

static void
tsd_list_insert(tsd_t *tsd)
{
	mutex_lock(&tsd_list_mtx);
	tsd->list_prev = NULL;
	tsd->list_next = tsd_list;
	if (tsd_list != NULL)
		tsd_list->list_prev = tsd;
	tsd_list = tsd;
	mutex_unlock(&tsd_list_mtx);
}

static void
tsd_list_remove(tsd_t *tsd)
{
	mutex_lock(&tsd_list_mtx);
	if (tsd->list_prev != NULL)
		tsd->list_prev->list_next = tsd->list_next;
	else
		tsd_list = tsd->list_next;
	if (tsd->list_next != NULL)
		tsd->list_next->list_prev = tsd->list_prev;
	mutex_unlock(&tsd_list_mtx);
}

void
tsd_foreach_live(void (*fn)(tsd_t *tsd))
{
	mutex_lock(&tsd_list_mtx);
	for (tsd_t *t = tsd_list; t != NULL; t = t->list_next)
		fn(t);
	mutex_unlock(&tsd_list_mtx);
}

static void
tsd_thread_exit(void *arg)
{
	tsd_t *tsd = arg;
	if (tsd->state != TSD_NOMINAL)
		return;
	tsd_list_remove(tsd);
	tcache_destroy(&tsd->tcache);
	arena_select_unbind(tsd->arena);
	tsd->state = TSD_EXITED;
	event_arm(tsd);
}

int
tsd_boot(void)
{
	mutex_register(&tsd_list_mtx, NULL);
	return pthread_key_create(&tsd_key, tsd_thread_exit);
}

/* Under safety_checks no free takes the fast paths: the checked path
 * (malloc.c) sees every one. */
static uint64_t
tsd_free_bias_of(arena_t *arena)
{
	if (opt_safety_checks)
		return EMAP_FREE_BIAS_REJECT_ALL;
	unsigned node = arena_node(arena);
	return emap_free_bias(node == NUMA_NODE_NONE ? 0 : node);
}

/* Makes arena the thread's: its cache refills from it, its fast frees take
 * its node's objects. */
static void
tsd_use_arena(tsd_t *tsd, arena_t *arena)
{
	tsd->arena = arena;
	tsd->tcache.arena = arena;
	tsd->free_bias = tsd_free_bias_of(arena);
	tsd->sized_free_mask = numa_active() || opt_safety_checks ? 0 : PAGE_MASK;
}

tsd_t *
tsd_fetch_slow(void)
{
	tsd_t *tsd = &tsd_tls;
	if (tsd->state == TSD_NOMINAL)
		return tsd;
	if (tsd->state == TSD_EXITED)
		return tsd->arena != NULL ? tsd : NULL;
	arena_t *arena = arena_select_bind();
	if (arena == NULL)
		return NULL;
	tsd_use_arena(tsd, arena);
	/* A cache that cannot get its slots just stays off. */
	tcache_init(&tsd->tcache, arena);
	tsd->state = TSD_NOMINAL;
	tsd_list_insert(tsd);
	event_init(tsd);
	pthread_setspecific(tsd_key, tsd);
	return tsd;
}

/* Under percpu_arena, cached objects stay cached and refills come from
 * the new arena.  A thread that moved to another NUMA node flushes its
 * cache first: what it holds is its old node's memory.  The free bias
 * follows the arena's node, which arena.<i>.numa_node may have changed. */
void
tsd_arena_recheck(tsd_t *tsd)
{
	tsd->free_bias = tsd_free_bias_of(tsd->arena);
	if (tsd->arena->ind >= arena_narenas_auto())
		return;
	arena_t *now = arena_select_percpu_moved(tsd->arena);
	if (now == NULL) {
		now = arena_select_node_moved(tsd->arena, &tsd->node_strikes);
		if (now == NULL)
			return;
		tcache_flush(&tsd->tcache);
	}
	arena_select_move(tsd->arena, now);
	tsd_use_arena(tsd, now);
}

void
tsd_postfork_child(void)
{
	tsd_t *tsd = &tsd_tls;
	bool bound = tsd->state == TSD_NOMINAL;
	arena_postfork_child();
	tsd_list = NULL;
	if (bound) {
		atomic_add_relaxed(&tsd->arena->nthreads, 1);
		tsd_list_insert(tsd);
	}
	tcache_postfork_child(bound ? &tsd->tcache : NULL);
}

void
tsd_reentrancy_raise(tsd_t *tsd)
{
	tsd->reentrancy++;
	event_arm(tsd);
}

void
tsd_reentrancy_lower(tsd_t *tsd)
{
	tsd->reentrancy--;
	event_arm(tsd);
}

uint64_t *
tsd_thread_allocatedp(void)
{
	tsd_t *tsd = tsd_fetch();
	return tsd != NULL ? &tsd->allocated : NULL;
}

uint64_t *
tsd_thread_deallocatedp(void)
{
	tsd_t *tsd = tsd_fetch();
	return tsd != NULL ? &tsd->deallocated : NULL;
}

unsigned
tsd_thread_arena_get(void)
{
	tsd_t *tsd = tsd_fetch();
	return tsd != NULL ? tsd->arena->ind : 0;
}

unsigned
tsd_thread_numa_node(void)
{
	tsd_t *tsd = tsd_fetch();
	return tsd != NULL ? arena_node(tsd->arena) : NUMA_NODE_NONE;
}

int
tsd_thread_arena_set(unsigned ind)
{
	tsd_t *tsd = tsd_fetch();
	arena_t *arena = arena_get(ind, true);
	if (tsd == NULL || arena == NULL)
		return EFAULT;
	if (arena == tsd->arena)
		return 0;
	/* Cached objects go back to their owners; refills come from the new arena. */
	tcache_flush(&tsd->tcache);
	if (tsd->state == TSD_NOMINAL)
		arena_select_move(tsd->arena, arena);
	tsd_use_arena(tsd, arena);
	return 0;
}

bool
tsd_thread_tcache_enabled(void)
{
	tsd_t *tsd = tsd_fetch();
	return tsd != NULL && tsd->tcache.enabled;
}

int
tsd_thread_tcache_set_enabled(bool enabled)
{
	tsd_t *tsd = tsd_fetch();
	if (tsd == NULL || tsd->state != TSD_NOMINAL)
		return EFAULT;
	return tcache_set_enabled(&tsd->tcache, enabled);
}

void
tsd_thread_tcache_flush(void)
{
	tsd_t *tsd = tsd_fetch();
	if (tsd != NULL)
		tcache_flush(&tsd->tcache);
}

uint64_t
tsd_thread_peak_read(void)
{
	tsd_t *tsd = tsd_fetch();
	if (tsd == NULL)
		return 0;
	event_peak_update(tsd);
	return tsd->peak_max;
}

void
tsd_thread_peak_reset(void)
{
	tsd_t *tsd = tsd_fetch();
	if (tsd == NULL)
		return;
	tsd->peak_max = 0;
	tsd->peak_base = tsd->allocated - tsd->deallocated;
}
