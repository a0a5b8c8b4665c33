/*
 * init.h — bootstrap, fork handlers and exit actions.  L5.
 *
 * init_ensure() is called by every entry point that needs the allocator
 * (first malloc, mallctl, tsd setup).  It is cheap once initialized, safe
 * from many threads at once (the others wait), and re-entrant from the
 * initializing thread once the arenas exist (pthread_atfork and atexit may
 * call malloc while init registers them).
 */
#ifndef STRATA_INIT_H
#define STRATA_INIT_H

#include "atomic.h"

extern _Atomic bool init_done;

int init_slow(void);

/* 0 when the allocator is ready, else ENOMEM. */
static ALWAYS_INLINE int
init_ensure(void)
{
	if (LIKELY(atomic_load_acquire(&init_done)))
		return 0;
	return init_slow();
}

#endif
