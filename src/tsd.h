/*
 * tsd.h — the thread state block: per-thread allocator state in one
 * initial-exec TLS struct.  L4.
 *
 * States: UNINIT (never used: every cache bin is empty with capacity 0, so
 * the fast paths fall through to the slow path, which initializes), NOMINAL
 * (bound to an arena, cache set up), EXITED (the thread's destructor ran:
 * the cache is flushed and off, allocation still works through the arena).
 *
 * Events: allocated and deallocated count usable bytes; when one passes its
 * fast threshold (alloc_event, dalloc_event) the slow path runs the thread's
 * periodic work (event.h owns the counters' meaning and the thresholds).
 * One add and one compare on each fast path covers all of them.
 *
 * Reentrancy: while the level is raised (the allocator is running code that
 * may allocate: a malloc_message hook, the profiler's unwinding and its
 * dumper thread's creation; libnuma later), the fast thresholds are 0 and the slow
 * path serves allocations straight from the arena, bypassing the cache, and
 * fires no events (docs/design.md, "Reentrancy").
 *
 * Only the owning thread writes its block, with two exceptions: other
 * threads read the counters through the pointers handed out by
 * thread.allocatedp, and event_force_slow (event.c) zeroes the fast
 * thresholds of every set-up thread, which it finds on the list of live
 * blocks (tsd_list, under tsd_list_mtx, a leaf lock: a block is on it from
 * its setup to its thread's exit).
 */
#ifndef STRATA_TSD_H
#define STRATA_TSD_H

#include "arena_select.h"
#include "event.h"
#include "tcache.h"

enum tsd_state { TSD_UNINIT = 0, TSD_NOMINAL = 1, TSD_EXITED = 2 };

typedef struct tsd {
	/* Hot: read and written by every fast-path allocation and free. */
	uint64_t allocated;    /* usable bytes allocated, ever (wraps) */
	uint64_t alloc_event;  /* fast threshold: call event_alloc when allocated reaches it */
	uint64_t deallocated;
	uint64_t dalloc_event;
	/* What free's fast path subtracts from a page-map entry's class field
	 * (emap_free_bias of the arena's node): frees of other nodes' objects
	 * take the slow path, which sends them home.  0 until bound. */
	uint64_t free_bias;
	/* A sized free of a pointer p with (p & sized_free_mask) == 0 looks
	 * the page map up: PAGE_MASK (page-aligned objects may be large or
	 * sampled), 0 while NUMA is active (the home node is in the page
	 * map) and until bound. */
	uint64_t sized_free_mask;
	tcache_t tcache;
	/* Cold. */
	event_state_t events;
	arena_t *arena;     /* the arena this thread allocates from */
	struct prof_tdata *prof_tdata; /* the profiler's data of this thread, or NULL */
	uint8_t state;      /* enum tsd_state */
	uint8_t reentrancy; /* nesting level of allocator code that may allocate */
	uint8_t node_strikes; /* re-checks in a row that found it off its arena's node */
	/* thread.peak: the highest allocated - deallocated - peak_base seen
	 * (at the periodic event and at each read), and the net bytes at the
	 * last reset. */
	uint64_t peak_max;
	uint64_t peak_base;
	struct tsd *list_next, *list_prev; /* tsd_list; tsd_list_mtx */
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

/* Raises and lowers the thread's reentrancy level (see above); the block
 * need not be set up (&tsd_tls of any thread will do). */
void tsd_reentrancy_raise(tsd_t *tsd);
void tsd_reentrancy_lower(tsd_t *tsd);

/* Fork child: only the forking thread exists; the arenas' thread counts and
 * the list of live caches are rebuilt to say so.  Called by init's fork
 * handler after the locks are re-initialized. */
void tsd_postfork_child(void);

/* Calls fn on the block of every set-up thread that has not exited, with
 * the list's lock held: fn may not take a lock or allocate. */
void tsd_foreach_live(void (*fn)(tsd_t *tsd));

/* The arena re-check event: follows the thread to its CPU's arena
 * (percpu_arena) unless thread.arena bound it to a manual arena. */
void tsd_arena_recheck(tsd_t *tsd);

uint64_t *tsd_thread_allocatedp(void);
uint64_t *tsd_thread_deallocatedp(void);

/* thread.peak.read / thread.peak.reset for the calling thread. */
uint64_t tsd_thread_peak_read(void);
void tsd_thread_peak_reset(void);

/* thread.arena: the calling thread's arena index, and rebinding it (the
 * arena is created if needed; EFAULT when ind cannot be an arena). */
unsigned tsd_thread_arena_get(void);
/* thread.numa_node: the home node of the thread's arena (NUMA_NODE_NONE
 * when NUMA is inactive or the thread has no arena). */
unsigned tsd_thread_numa_node(void);
int tsd_thread_arena_set(unsigned ind);
/* thread.tcache.enabled / thread.tcache.flush for the calling thread. */
bool tsd_thread_tcache_enabled(void);
int tsd_thread_tcache_set_enabled(bool enabled);
void tsd_thread_tcache_flush(void);

#endif
