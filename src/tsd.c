/*
 * tsd.c — thread state setup, events and teardown.  See tsd.h.
 *
 * A pthread key with a destructor tells us when a thread exits; its value is
 * the thread's tsd_t (any non-NULL value makes glibc call the destructor).
 * pthread_setspecific with a low key index does not allocate.  At exit the
 * cache is flushed to the arenas that own its objects, so memory the thread
 * freed but did not own is never lost, and what it owns stays valid for the
 * threads still using it.
 */
#include <errno.h>
#include <pthread.h>

#include "conf.h"
#include "tsd.h"

__thread tsd_t tsd_tls __attribute__((tls_model("initial-exec")));

static pthread_key_t tsd_key;

static void
tsd_thread_exit(void *arg)
{
	tsd_t *tsd = arg;
	if (tsd->state != TSD_NOMINAL)
		return;
	tcache_destroy(&tsd->tcache);
	arena_select_unbind(tsd->arena);
	tsd->state = TSD_EXITED;
	event_arm(tsd);
}

int
tsd_boot(void)
{
	return pthread_key_create(&tsd_key, tsd_thread_exit);
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
	tsd->arena = arena;
	/* A cache that cannot get its slots just stays off. */
	tcache_init(&tsd->tcache, arena);
	tsd->state = TSD_NOMINAL;
	event_init(tsd);
	pthread_setspecific(tsd_key, tsd);
	return tsd;
}

/* Cached objects stay cached; refills come from the new arena. */
void
tsd_arena_recheck(tsd_t *tsd)
{
	if (tsd->arena->ind >= arena_narenas_auto())
		return;
	arena_t *now = arena_select_percpu_moved(tsd->arena);
	if (now == NULL)
		return;
	arena_select_move(tsd->arena, now);
	tsd->arena = now;
	tsd->tcache.arena = now;
}

void
tsd_postfork_child(void)
{
	tsd_t *tsd = &tsd_tls;
	bool bound = tsd->state == TSD_NOMINAL;
	arena_nthreads_reset();
	if (bound)
		atomic_add_relaxed(&tsd->arena->nthreads, 1);
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
	tsd->arena = arena;
	tsd->tcache.arena = arena;
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
