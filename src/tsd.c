/*
 * tsd.c — thread state setup and teardown.  See tsd.h.
 *
 * A pthread key with a destructor tells us when a thread exits; its value is
 * the thread's tsd_t (any non-NULL value makes glibc call the destructor).
 * pthread_setspecific with a low key index does not allocate.
 */
#include <pthread.h>

#include "tsd.h"

__thread tsd_t tsd_tls __attribute__((tls_model("initial-exec")));

static pthread_key_t tsd_key;

static void
tsd_thread_exit(void *arg)
{
	tsd_t *tsd = arg;
	if (tsd->state == TSD_NOMINAL && tsd->arena != NULL)
		arena_select_unbind(tsd->arena);
	tsd->state = TSD_EXITED;
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
	tsd->state = TSD_NOMINAL;
	pthread_setspecific(tsd_key, tsd);
	return tsd;
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
