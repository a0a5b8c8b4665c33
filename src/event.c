/*
 * event.c — the event table and the slow path of the thread counters.  See
 * event.h.
 *
 * Owned by the thread; no locks.  Handlers run with no allocator lock held
 * and may allocate only through the reentrancy guard.
 */
#include "conf.h"
#include "event.h"
#include "tsd.h"

typedef struct event_desc {
	bool on_dalloc;           /* counted against deallocated, not allocated */
	uint64_t (*wait)(void);   /* bytes from now until next due */
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

static bool
event_arena_recheck(tsd_t *tsd)
{
	tsd_arena_recheck(tsd);
	return false;
}

static const event_desc_t event_table[EVENT_COUNT] = {
	[EVENT_TCACHE_GC_ALLOC] = {false, event_tcache_gc_wait, event_tcache_gc},
	[EVENT_TCACHE_GC_DALLOC] = {true, event_tcache_gc_wait, event_tcache_gc},
	[EVENT_ARENA_RECHECK] = {false, event_tcache_gc_wait, event_arena_recheck},
};

static uint64_t
event_counter(const tsd_t *tsd, const event_desc_t *d)
{
	return d->on_dalloc ? tsd->deallocated : tsd->allocated;
}

static bool
event_fast_path_off(const tsd_t *tsd)
{
	return tsd->state != TSD_NOMINAL || tsd->reentrancy != 0 || opt_zero ||
	       opt_junk != CONF_JUNK_FALSE;
}

void
event_arm(tsd_t *tsd)
{
	if (event_fast_path_off(tsd)) {
		tsd->alloc_event = 0;
		tsd->dalloc_event = 0;
		return;
	}
	uint64_t alloc_min = UINT64_MAX, dalloc_min = UINT64_MAX;
	for (unsigned k = 0; k < EVENT_COUNT; k++) {
		uint64_t *min = event_table[k].on_dalloc ? &dalloc_min : &alloc_min;
		if (tsd->events.next[k] < *min)
			*min = tsd->events.next[k];
	}
	tsd->alloc_event = alloc_min;
	tsd->dalloc_event = dalloc_min;
}

void
event_init(tsd_t *tsd)
{
	for (unsigned k = 0; k < EVENT_COUNT; k++)
		tsd->events.next[k] = event_counter(tsd, &event_table[k]) + event_table[k].wait();
	event_arm(tsd);
}

/* Runs the events of one counter that are due.  An event only fires for a
 * set-up thread whose reentrancy level is 0. */
static bool
event_run_due(tsd_t *tsd, bool on_dalloc)
{
	bool place_specially = false;
	if (tsd->state != TSD_NOMINAL || tsd->reentrancy != 0)
		return false;
	for (unsigned k = 0; k < EVENT_COUNT; k++) {
		const event_desc_t *d = &event_table[k];
		uint64_t now = event_counter(tsd, d);
		if (d->on_dalloc != on_dalloc || now < tsd->events.next[k])
			continue;
		tsd->events.next[k] = now + d->wait();
		place_specially |= d->handler(tsd);
	}
	event_arm(tsd);
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
