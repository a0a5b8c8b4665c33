/*
 * tsd.h — the thread state block: per-thread allocator state in one
 * initial-exec TLS struct.  L4.
 *
 * States: UNINIT (never used), NOMINAL (bound to an arena; the fast paths
 * need only this check), EXITED (the thread's destructor ran; allocation
 * still works with the arena it had, but the slow path is taken).  Only the
 * owning thread writes its block; other threads read the counters only
 * through the pointers handed out by thread.allocatedp.
 */
#ifndef STRATA_TSD_H
#define STRATA_TSD_H

#include "arena_select.h"

enum tsd_state { TSD_UNINIT = 0, TSD_NOMINAL = 1, TSD_EXITED = 2 };

typedef struct tsd {
	uint8_t state;       /* enum tsd_state */
	arena_t *arena;      /* the arena this thread allocates from */
	uint64_t allocated;  /* usable bytes allocated, ever (wraps) */
	uint64_t deallocated;
} tsd_t;

extern __thread tsd_t tsd_tls __attribute__((tls_model("initial-exec")));

/* Creates the thread-exit key.  Called once by init.  0 or an errno. */
int tsd_boot(void);
/* Initializes the calling thread's block (the allocator must be initialized);
 * NULL when no arena is available. */
tsd_t *tsd_fetch_slow(void);

static ALWAYS_INLINE tsd_t *
tsd_fetch(void)
{
	tsd_t *tsd = &tsd_tls;
	if (UNLIKELY(tsd->state != TSD_NOMINAL))
		return tsd_fetch_slow();
	return tsd;
}

uint64_t *tsd_thread_allocatedp(void);
uint64_t *tsd_thread_deallocatedp(void);

#endif
