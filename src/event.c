/*
 * event.c — the thread events and the slow path of the thread counters.
 * See event.h.
 *
 * The slow path runs whenever a counter reaches its fast threshold: every
 * 64 KiB or so of traffic, and for a program that resizes multi-MiB blocks
 * in place nearly every call (each counts the block's whole size, as
 * jemalloc does).  So each counter's events are checked by straight-line
 * code, with the intervals computed once at boot: a call that fires the
 * cache GC costs about as much as the GC step itself.
 *
 * Owned by the thread, but for the fast thresholds, which event_force_slow
 * zeroes from another thread (event.h says why that is safe); its walk of
 * the threads holds tsd.c's list lock.  Handlers run with no allocator lock held
 * and may allocate only through the reentrancy guard.
 */
#include "background.h"
#include "clock.h"
#include "conf.h"
#include "numa.h"
#include "event.h"
#include "prng.h"
#include "tsd.h"

/* Most bytes a thread counts before reporting them to stats_interval. */
#define EVENT_STATS_BATCH_MAX ((uint64_t)4 << 20)

/* Set by event_boot. */
static uint64_t event_wait[EVENT_COUNT]; /* bytes from one firing to the next */
static bool event_fill_on;               /* junk or zero: always the slow path */
/* The forcings of the slow path in effect (event_force_slow). */
static _Atomic unsigned event_forced;
/* lg of the mean sampling distance; negative: no sampling.  Written by
 * event_boot and prof.reset, read by every thread's draw. */
static _Atomic int event_sample_lg = -1;
/* Seeds of the threads' generators: one per thread, in the order threads
 * start, so that a deterministic program samples deterministically. */
static _Atomic uint64_t event_seed_counter;

void
event_boot(void)
{
	event_wait[EVENT_TCACHE_GC_ALLOC] = opt_tcache_gc_incr_bytes;
	event_wait[EVENT_TCACHE_GC_DALLOC] = opt_tcache_gc_incr_bytes;
	/* The re-check rides on the GC's interval: often enough to follow a
	 * migrated thread, rare enough to cost nothing.  Without percpu_arena
	 * or NUMA there is nothing to follow. */
	event_wait[EVENT_ARENA_RECHECK] =
	    opt_percpu_arena == CONF_PERCPU_ARENA_DISABLED && !numa_active()
	            ? EVENT_NEVER
	            : opt_tcache_gc_incr_bytes;
	/* As jemalloc: each thread reports its bytes in batches of 1/64 of
	 * the interval (at most 4 MiB), so the print comes within a batch per
	 * thread of the interval. */
	uint64_t batch = (uint64_t)opt_stats_interval >> 6;
	if (batch > EVENT_STATS_BATCH_MAX)
		batch = EVENT_STATS_BATCH_MAX;
	event_wait[EVENT_STATS_INTERVAL] =
	    opt_stats_interval < 0 ? EVENT_NEVER : batch == 0 ? 1 : batch;
	event_fill_on = opt_zero || opt_junk != CONF_JUNK_FALSE;
	event_set_sample_lg(opt_prof ? (int)opt_lg_prof_sample : -1);
}

void
event_set_sample_lg(int lg)
{
	atomic_store_relaxed(&event_sample_lg, lg);
}

/* now + wait, saturating: an event with wait EVENT_NEVER stays unarmed. */
static inline uint64_t
event_due_at(uint64_t now, uint64_t wait)
{
	return wait > EVENT_NEVER - now ? EVENT_NEVER : now + wait;
}

static inline void
event_schedule(tsd_t *tsd, event_kind_t k, uint64_t now)
{
	tsd->events.next[k] = event_due_at(now, event_wait[k]);
}

/* The sample event: a fresh geometric distance from now. */
static void
event_schedule_sample(tsd_t *tsd, uint64_t now)
{
	int lg = atomic_load_relaxed(&event_sample_lg);
	uint64_t wait = lg < 0 ? EVENT_NEVER : prng_geometric_bytes(&tsd->events.prng, (unsigned)lg);
	tsd->events.next[EVENT_PROF_SAMPLE] = event_due_at(now, wait);
}

/* No event fires: the thread is not set up, or runs the allocator's own
 * code. */
static inline bool
event_events_off(const tsd_t *tsd)
{
	return tsd->state != TSD_NOMINAL || tsd->reentrancy != 0;
}

/* The fast thresholds: seq_cst atomic stores, as event_force_slow may
 * store into them from another thread (see event.h). */
static inline void
event_store_thresholds(tsd_t *tsd, uint64_t alloc_event, uint64_t dalloc_event)
{
	__atomic_store_n(&tsd->alloc_event, alloc_event, __ATOMIC_SEQ_CST);
	__atomic_store_n(&tsd->dalloc_event, dalloc_event, __ATOMIC_SEQ_CST);
}

/* The fast thresholds: the nearest event of each counter, or 0 while the
 * slow path is forced.  The forcing count is read (seq_cst) after the
 * seq_cst stores (Dekker's order, see event.h); a forcing seen then takes
 * the thresholds back to 0. */
static inline void
event_set_thresholds(tsd_t *tsd)
{
	uint64_t gc = tsd->events.next[EVENT_TCACHE_GC_ALLOC];
	uint64_t recheck = tsd->events.next[EVENT_ARENA_RECHECK];
	uint64_t sample = tsd->events.next[EVENT_PROF_SAMPLE];
	uint64_t stats = tsd->events.next[EVENT_STATS_INTERVAL];
	uint64_t first = gc < recheck ? gc : recheck;
	first = first < stats ? first : stats;
	if (UNLIKELY(event_fill_on)) {
		/* Always the slow path: the thresholds stay 0 (stored only if
		 * not yet, as this runs on every call). */
		if (__atomic_load_n(&tsd->alloc_event, __ATOMIC_RELAXED) != 0 ||
		    __atomic_load_n(&tsd->dalloc_event, __ATOMIC_RELAXED) != 0)
			event_store_thresholds(tsd, 0, 0);
		return;
	}
	event_store_thresholds(tsd, first < sample ? first : sample,
	                       tsd->events.next[EVENT_TCACHE_GC_DALLOC]);
	if (UNLIKELY(atomic_load_explicit(&event_forced, memory_order_seq_cst) != 0))
		event_store_thresholds(tsd, 0, 0);
}

void
event_arm(tsd_t *tsd)
{
	if (event_events_off(tsd)) {
		event_store_thresholds(tsd, 0, 0);
		return;
	}
	event_set_thresholds(tsd);
}

/* A remote thread's fast thresholds go to 0 (tsd_foreach_live, list lock
 * held). */
static void
event_force_remote(tsd_t *tsd)
{
	event_store_thresholds(tsd, 0, 0);
}

void
event_force_slow(bool on)
{
	if (!on) {
		atomic_fetch_sub_explicit(&event_forced, 1, memory_order_seq_cst);
		return;
	}
	atomic_fetch_add_explicit(&event_forced, 1, memory_order_seq_cst);
	tsd_foreach_live(event_force_remote);
}

void
event_peak_update(tsd_t *tsd)
{
	int64_t net = (int64_t)(tsd->allocated - tsd->deallocated - tsd->peak_base);
	if (net > (int64_t)tsd->peak_max)
		tsd->peak_max = (uint64_t)net;
}

void
event_sample_redraw(tsd_t *tsd)
{
	event_schedule_sample(tsd, tsd->allocated);
	event_arm(tsd);
}

void
event_init(tsd_t *tsd)
{
	event_schedule(tsd, EVENT_TCACHE_GC_ALLOC, tsd->allocated);
	event_schedule(tsd, EVENT_TCACHE_GC_DALLOC, tsd->deallocated);
	event_schedule(tsd, EVENT_ARENA_RECHECK, tsd->allocated);
	event_schedule(tsd, EVENT_STATS_INTERVAL, tsd->allocated);
	uint64_t seed = atomic_add_relaxed(&event_seed_counter, 1);
	tsd->events.prng = seed * 0xd1342543de82ef95ull + 1;
	event_schedule_sample(tsd, tsd->allocated);
	event_arm(tsd);
}

/* One GC step per interval of the thread's traffic, allocations and frees
 * together: a step postpones both GC events (the cadence the cache's GC was
 * tuned with; two independent events would step twice as often). */
static void
event_tcache_gc(tsd_t *tsd)
{
	event_schedule(tsd, EVENT_TCACHE_GC_ALLOC, tsd->allocated);
	event_schedule(tsd, EVENT_TCACHE_GC_DALLOC, tsd->deallocated);
	event_peak_update(tsd);
	if (tsd->tcache.enabled)
		tcache_gc_step(&tsd->tcache);
	background_check_memory_limit(clock_coarse_ns());
	if (UNLIKELY(background_start_pending())) {
		tsd_reentrancy_raise(tsd);
		background_maybe_start();
		tsd_reentrancy_lower(tsd);
	}
}

void (*event_stats_interval)(uint64_t bytes);

/* stats_interval: the bytes since the last report (one wait, or more when
 * the thread allocated while events were off). */
static void
event_stats_interval_fire(tsd_t *tsd, uint64_t now)
{
	uint64_t since = now - (tsd->events.next[EVENT_STATS_INTERVAL] -
	                        event_wait[EVENT_STATS_INTERVAL]);
	event_schedule(tsd, EVENT_STATS_INTERVAL, now);
	if (event_stats_interval == NULL)
		return;
	tsd_reentrancy_raise(tsd);
	event_stats_interval(since);
	tsd_reentrancy_lower(tsd);
}

/*
 * The slow paths.  An event only fires for a set-up thread whose
 * reentrancy level is 0 (else the thresholds stay 0 and the counters just
 * count).
 */
bool
event_alloc(tsd_t *tsd, size_t usize)
{
	uint64_t now = tsd->allocated += usize;
	if (event_events_off(tsd)) {
		/* The allocator's own bytes (raised level) are not the
		 * program's: the sample's clock moves past them. */
		if (tsd->reentrancy != 0 && tsd->state == TSD_NOMINAL)
			tsd->events.next[EVENT_PROF_SAMPLE] =
			    event_due_at(tsd->events.next[EVENT_PROF_SAMPLE], usize);
		return false;
	}
	bool sample = false;
	uint64_t sample_at = tsd->events.next[EVENT_PROF_SAMPLE];
	if (now >= sample_at) {
		/* Inside this allocation's bytes: sampled.  Before them (counted
		 * while events were off): the wait is simply drawn afresh. */
		sample = now - usize < sample_at;
		event_schedule_sample(tsd, now);
	}
	if (now >= tsd->events.next[EVENT_TCACHE_GC_ALLOC])
		event_tcache_gc(tsd);
	if (now >= tsd->events.next[EVENT_ARENA_RECHECK]) {
		event_schedule(tsd, EVENT_ARENA_RECHECK, now);
		tsd_arena_recheck(tsd);
	}
	if (now >= tsd->events.next[EVENT_STATS_INTERVAL])
		event_stats_interval_fire(tsd, now);
	event_set_thresholds(tsd);
	return sample;
}

void
event_alloc_failed(tsd_t *tsd, size_t usize)
{
	tsd->allocated -= usize;
	uint64_t *sample_at = &tsd->events.next[EVENT_PROF_SAMPLE];
	if (*sample_at != EVENT_NEVER)
		*sample_at -= usize;
	event_arm(tsd);
}

bool
event_alloc_resized(tsd_t *tsd, size_t usize, size_t fresh)
{
	/* The sample's threshold moves on by the bytes that are not new. */
	uint64_t *sample_at = &tsd->events.next[EVENT_PROF_SAMPLE];
	*sample_at = event_due_at(*sample_at, usize - fresh);
	return event_alloc(tsd, usize);
}

void
event_dalloc(tsd_t *tsd, size_t usize)
{
	uint64_t now = tsd->deallocated += usize;
	if (event_events_off(tsd))
		return;
	if (now >= tsd->events.next[EVENT_TCACHE_GC_DALLOC])
		event_tcache_gc(tsd);
	event_set_thresholds(tsd);
}
