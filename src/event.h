/*
 * event.h — thread events: periodic per-thread work triggered by the bytes a
 * thread allocates and frees.  L4.
 *
 * The thread's block (tsd.h) holds two byte counters, allocated and
 * deallocated, and for each a fast threshold (alloc_event, dalloc_event).
 * The fast paths add the size to the counter and compare it with the
 * threshold: one add and one compare cover every event.  Only when the
 * threshold is reached does the slow path call event_alloc/event_dalloc,
 * which runs each event whose own threshold (next[]) has been reached and
 * re-arms it; the fast threshold is the minimum of the armed ones.
 *
 * The slow path calls event_alloc before the allocation is chosen, so that
 * an event will be able to have the allocation placed specially (the
 * profiler's sample: its object gets its own page-map marking).  Every path that
 * changes a thread's allocated bytes goes through here, in-place resizing
 * included.
 *
 * The fast threshold is 0 (every call takes the slow path, which still
 * fires events only when they are due) while the thread is not set up,
 * while its reentrancy level is raised (then no event fires at all: see
 * tsd.h), and when a fill option (junk, zero) needs the slow path.
 *
 * To add an event: a kind below, its interval in event_boot, its check in
 * event_alloc or event_dalloc, and its threshold in event_set_thresholds
 * (event.c).  The cache GC is one event with a threshold on each counter.
 */
#ifndef STRATA_EVENT_H
#define STRATA_EVENT_H

#include "config.h"

typedef enum event_kind {
	EVENT_TCACHE_GC_ALLOC,  /* incremental cache GC: due on allocated bytes */
	EVENT_TCACHE_GC_DALLOC, /* ... or on deallocated bytes, whichever first */
	EVENT_ARENA_RECHECK,    /* follow the thread's CPU (percpu_arena) */
	EVENT_COUNT
} event_kind_t;

struct tsd;

/* The interval of an event that is not armed (never due). */
#define EVENT_NEVER UINT64_MAX

/* The counter value at which each event is next due.  Owned by the thread. */
typedef struct event_state {
	uint64_t next[EVENT_COUNT];
} event_state_t;

/*
 * The slow-path halves of the counter updates.  event_alloc adds usize to
 * the thread's allocated bytes, runs the events that are due and re-arms
 * them; event_dalloc does the same for a free.  (The profiler's sample will
 * make event_alloc say whether the allocation must be placed specially.)
 */
void event_alloc(struct tsd *tsd, size_t usize);
void event_dalloc(struct tsd *tsd, size_t usize);
/* Computes the intervals and the fill mode from the options.  Called once
 * by init (and again by a test that changes those options). */
void event_boot(void);
/* Arms every event from the thread's counters (a new thread). */
void event_init(struct tsd *tsd);
/* Recomputes the fast thresholds after the thread's state, reentrancy level
 * or the fill options changed. */
void event_arm(struct tsd *tsd);

#endif
