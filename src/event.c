/*
 * event.c — the event table and the slow path of the thread counters.  See
 * event.h.
 *
 * The slow path runs whenever a counter reaches its fast threshold, which
 * for a program that resizes multi-MiB blocks in place is nearly every call
 * (each counts the block's whole size, as jemalloc does): it stays a short
 * loop over the counter's events, with the intervals computed once at boot.
 *
 * Owned by the thread; no locks.  Handlers run with no allocator lock held
 * and may allocate only through the reentrancy guard.
 */
#include "conf.h"
#include "event.h"
#include "tsd.h"

typedef struct event_desc {
	bool on_dalloc;           /* counted against deallocated, not allocated */
	uint64_t (*wait)(void);   /* bytes from one firing to the next (options) */
	/* The work; true asks for the allocation being made to be placed
	 * specially (allocation events only). */
	bool (*handler)(tsd_t *tsd);
} event_desc_t;

static uint64_t
event_tcache_gc_wait(void)
{
	return opt_tcache_gc_incr_bytes;
}

static bool
event_tcache_gc(tsd_t *tsd)
{
	if (tsd->tcache.enabled)
		tcache_gc_step(&tsd->tcache);
	return false;
}

/* The re-check rides on the cache GC's interval: often enough to follow a
 * migrated thread, rare enough to cost nothing.  Without percpu_arena there
 * is nothing to follow, and it never fires. */
static uint64_t
event_arena_recheck_wait(void)
{
	if (opt_percpu_arena == CONF_PERCPU_ARENA_DISABLED)
		return EVENT_NEVER;
	return opt_tcache_gc_incr_bytes;
}

static bool
event_arena_recheck(tsd_t *tsd)
{
	tsd_arena_recheck(tsd);
	return false;
}

static const event_desc_t event_table[EVENT_COUNT] = {
	[EVENT_TCACHE_GC_ALLOC] = {false, event_tcache_gc_wait, event_tcache_gc},
	[EVENT_TCACHE_GC_DALLOC] = {true, event_tcache_gc_wait, event_tcache_gc},
	[EVENT_ARENA_RECHECK] = {false, event_arena_recheck_wait, event_arena_recheck},
};

/* Each event's interval, from the options; set by event_boot. */
static uint64_t event_wait[EVENT_COUNT];

void
event_boot(void)
{
	for (unsigned k = 0; k < EVENT_COUNT; k++)
		event_wait[k] = event_table[k].wait();
}

/* now + wait, saturating: an event with wait EVENT_NEVER stays unarmed. */
static uint64_t
event_due_at(uint64_t now, uint64_t wait)
{
	return wait > EVENT_NEVER - now ? EVENT_NEVER : now + wait;
}

static uint64_t
event_counter(const tsd_t *tsd, bool on_dalloc)
{
	return on_dalloc ? tsd->deallocated : tsd->allocated;
}

static bool
event_fast_path_off(const tsd_t *tsd)
{
	return tsd->state != TSD_NOMINAL || tsd->reentrancy != 0 || opt_zero ||
	       opt_junk != CONF_JUNK_FALSE;
}

/* The nearest threshold among one counter's events. */
static uint64_t
event_nearest(const tsd_t *tsd, bool on_dalloc)
{
	uint64_t min = UINT64_MAX;
	for (unsigned k = 0; k < EVENT_COUNT; k++)
		if (event_table[k].on_dalloc == on_dalloc && tsd->events.next[k] < min)
			min = tsd->events.next[k];
	return min;
}

void
event_arm(tsd_t *tsd)
{
	bool off = event_fast_path_off(tsd);
	tsd->alloc_event = off ? 0 : event_nearest(tsd, false);
	tsd->dalloc_event = off ? 0 : event_nearest(tsd, true);
}

void
event_init(tsd_t *tsd)
{
	for (unsigned k = 0; k < EVENT_COUNT; k++)
		tsd->events.next[k] =
			event_due_at(event_counter(tsd, event_table[k].on_dalloc), event_wait[k]);
	event_arm(tsd);
}

/* Runs the events of one counter that are due and re-arms that counter's
 * fast threshold.  An event only fires for a set-up thread whose reentrancy
 * level is 0 (else the threshold stays 0 and the counter just counts). */
static bool
event_run_due(tsd_t *tsd, bool on_dalloc)
{
	if (event_fast_path_off(tsd))
		return false;
	bool place_specially = false;
	uint64_t now = event_counter(tsd, on_dalloc);
	for (unsigned k = 0; k < EVENT_COUNT; k++) {
		if (event_table[k].on_dalloc != on_dalloc || now < tsd->events.next[k])
			continue;
		tsd->events.next[k] = event_due_at(now, event_wait[k]);
		place_specially |= event_table[k].handler(tsd);
	}
	uint64_t nearest = event_nearest(tsd, on_dalloc);
	*(on_dalloc ? &tsd->dalloc_event : &tsd->alloc_event) = nearest;
	return place_specially;
}

bool
event_alloc(tsd_t *tsd, size_t usize)
{
	tsd->allocated += usize;
	return event_run_due(tsd, false);
}

void
event_dalloc(tsd_t *tsd, size_t usize)
{
	tsd->deallocated += usize;
	event_run_due(tsd, true);
}
