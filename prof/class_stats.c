/*
 * class_stats.c — per-class counters of sampled allocations.  See
 * class_stats.h.
 */
#include "atomic.h"
#include "prof/class_stats.h"
#include "sz.h"

typedef struct prof_class_counters {
	_Atomic uint64_t live_req, live_count, accum_req, accum_count;
} prof_class_counters_t;

static prof_class_counters_t prof_class_counters[SZ_NSIZES];

void
prof_class_stats_add(unsigned szind, size_t req)
{
	prof_class_counters_t *c = &prof_class_counters[szind];
	atomic_add_relaxed(&c->live_req, req);
	atomic_add_relaxed(&c->live_count, 1);
	atomic_add_relaxed(&c->accum_req, req);
	atomic_add_relaxed(&c->accum_count, 1);
}

void
prof_class_stats_sub(unsigned szind, size_t req)
{
	prof_class_counters_t *c = &prof_class_counters[szind];
	atomic_sub_relaxed(&c->live_req, req);
	atomic_sub_relaxed(&c->live_count, 1);
}

void
prof_class_stats_move(unsigned old_szind, size_t old_req, unsigned szind, size_t req)
{
	prof_class_stats_sub(old_szind, old_req);
	prof_class_counters_t *c = &prof_class_counters[szind];
	atomic_add_relaxed(&c->live_req, req);
	atomic_add_relaxed(&c->live_count, 1);
}

void
prof_class_stats_read(unsigned szind, prof_class_stats_t *live, prof_class_stats_t *accum)
{
	prof_class_counters_t *c = &prof_class_counters[szind];
	*live = (prof_class_stats_t){atomic_load_relaxed(&c->live_req),
	                             atomic_load_relaxed(&c->live_count)};
	*accum = (prof_class_stats_t){atomic_load_relaxed(&c->accum_req),
	                              atomic_load_relaxed(&c->accum_count)};
}
