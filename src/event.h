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
 * the profiler's sample can have the allocation placed specially (its
 * object gets its own extent and page-map marking).  Every path that
 * changes a thread's allocated bytes goes through here, in-place resizing
 * included.
 *
 * The profiler's sample is an event whose interval is random: after each
 * sample the thread draws the bytes to the next one from a geometric
 * distribution with mean 2^lg_prof_sample (prng.h), so that every byte
 * allocated has the same chance of being sampled (docs/design.md,
 * "Profiler").  An allocation is sampled when the threshold falls inside
 * its own bytes.  Bytes the allocator allocates for itself (reentrancy
 * raised: unwinding, creating its threads) move the sample's clock along
 * with them, so they never bring the program's next sample closer; other
 * bytes counted while events could not fire only make the thread draw
 * afresh.
 *
 * The fast threshold is 0 (every call takes the slow path) while the
 * thread is not set up and while its reentrancy level is raised (then no
 * event fires at all: see tsd.h).  It is also 0 while the slow path is
 * forced, which leaves the events as they are (the slow path still fires
 * each when it is due): when a fill option (junk, zero) needs the slow
 * path, and while event_force_slow is in effect (the program's allocation
 * hooks are installed: hook.h).
 *
 * Forcing reaches threads already running: event_force_slow raises a
 * global count and zeroes the fast thresholds of every live thread (the
 * list of tsd.h).  A remote store can race with the owner's own store of
 * a threshold in its slow path; the two sides are ordered as in Dekker's
 * algorithm, with seq_cst operations only (no fence, which ThreadSanitizer
 * cannot follow): the remote raises the count (a seq_cst read-modify-write),
 * then stores 0 (seq_cst); the owner stores its threshold (seq_cst), then
 * reads the count (seq_cst).  All four are in one total order, so either
 * the owner's read comes after the raise and sees it (the owner then
 * stores 0 itself), or it comes before, and then so does the owner's
 * store, which the remote 0 therefore follows in the threshold's
 * modification order.  Either way the thread is left with 0.  The fast
 * paths read the thresholds with plain loads (an aligned 8-byte load,
 * never torn; x86 needs nothing more for a seq_cst store to be seen).
 * Lowering the count needs no remote store: each thread, next in its slow
 * path (every call, while its threshold is 0), sets its thresholds anew.
 *
 * thread.peak rides on the cache GC event: each time it fires, the
 * thread's net allocated bytes update its peak (jemalloc's accuracy: one
 * GC interval, 64 KiB by default).
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
	EVENT_PROF_SAMPLE,      /* the profiler samples this allocation */
	EVENT_STATS_INTERVAL,   /* stats_interval: hand the bytes to event_stats_interval */
	EVENT_COUNT
} event_kind_t;

struct tsd;

/* The interval of an event that is not armed (never due). */
#define EVENT_NEVER UINT64_MAX

/* The counter value at which each event is next due, and the state of the
 * thread's sampling draws.  Owned by the thread. */
typedef struct event_state {
	uint64_t next[EVENT_COUNT];
	uint64_t prng;
} event_state_t;

/*
 * The slow-path halves of the counter updates.  event_alloc adds usize to
 * the thread's allocated bytes, runs the events that are due and re-arms
 * them; true when the profiler samples this allocation (the caller then
 * places it as a sampled object).  event_dalloc does the same for a free.
 */
bool event_alloc(struct tsd *tsd, size_t usize);
/* event_alloc for an object resized in place to usize, of which only the
 * last fresh bytes are new: all usize bytes count (thread.allocated, the
 * other events, as jemalloc counts them), but only the fresh ones advance
 * the sample's clock, so that an object's chance of being sampled depends
 * on its size, not on how often it was resized.  true: the fresh bytes are
 * sampled. */
bool event_alloc_resized(struct tsd *tsd, size_t usize, size_t fresh);
void event_dalloc(struct tsd *tsd, size_t usize);
/* Computes the intervals and the fill mode from the options.  Called once
 * by init (and again by a test that changes those options). */
void event_boot(void);
/* Arms every event from the thread's counters (a new thread). */
void event_init(struct tsd *tsd);
/* Sampling from now on: a mean of 2^lg bytes between samples (lg 0..63),
 * or none when lg is negative.  Threads draw their next distance at their
 * next sample (prof.reset, the prof option at boot). */
void event_set_sample_lg(int lg);
/* Takes back an allocation of usize bytes that event_alloc (or the inline
 * count) counted and that then failed: the thread's allocated bytes and
 * the sample's clock both move back by usize, so that the bytes after it
 * are sampled as if it had never been asked for. */
void event_alloc_failed(struct tsd *tsd, size_t usize);
/* The thread draws its next sampling distance now, at the current rate. */
void event_sample_redraw(struct tsd *tsd);
/* Forces every thread's allocations and frees onto the slow path (on) or
 * lifts one forcing (off); forcings nest.  Threads started later are
 * forced too. */
void event_force_slow(bool on);
/* thread.peak: updates the thread's peak from its counters now. */
void event_peak_update(struct tsd *tsd);
/* stats_interval's handler (set once by init's stats_boot; NULL: none): gets
 * the bytes the thread allocated since its last call, reentrancy raised. */
extern void (*event_stats_interval)(uint64_t bytes);

/* Recomputes the fast thresholds after the thread's state, reentrancy level
 * or the fill options changed. */
void event_arm(struct tsd *tsd);

#endif
