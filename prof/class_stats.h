/*
 * class_stats.h — prof.stats: per size class, the sampled allocations that
 * are live and that were ever made, with the sum of the sizes their callers
 * asked for (opt.prof_stats; jemalloc 5.3's prof.stats.bins.<i> and
 * prof.stats.lextents.<i>).
 *
 * Counters are relaxed atomics, so a reader may see a count and a sum taken
 * a moment apart while threads sample.  No locks.
 */
#ifndef STRATA_PROF_CLASS_STATS_H
#define STRATA_PROF_CLASS_STATS_H

#include "config.h"

/* jemalloc's prof_stats_t. */
typedef struct prof_class_stats {
	uint64_t req_sum;
	uint64_t count;
} prof_class_stats_t;

/* A sampled object of class szind, req bytes asked for, appears / is gone. */
void prof_class_stats_add(unsigned szind, size_t req);
void prof_class_stats_sub(unsigned szind, size_t req);
/* A live sampled object changed class and size in place (not counted as a
 * new allocation in the accumulated counters). */
void prof_class_stats_move(unsigned old_szind, size_t old_req, unsigned szind, size_t req);
void prof_class_stats_read(unsigned szind, prof_class_stats_t *live, prof_class_stats_t *accum);

#endif
