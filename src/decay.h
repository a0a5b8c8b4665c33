/*
 * decay.h — how many freed (dirty) pages an arena may keep, over time.  L2.
 *
 * jemalloc's decay curve: decay_ms is split into DECAY_NSTEPS epochs; for
 * each of the last DECAY_NSTEPS epochs the backlog holds how many pages
 * became dirty in it.  A page that became dirty t ms ago may still be kept
 * with weight 1 - smootherstep(t / decay_ms), so the allowed number is
 * sum(backlog[i] * weight[i]): purging starts slowly, peaks half-way and
 * everything is purged after decay_ms.  A burst is therefore kept (and
 * reused without page faults) for a while, and memory returns to the
 * kernel once the program stops needing it.  decay_ms 0 purges at once,
 * -1 never.
 *
 * A decay_t belongs to one arena's page allocator and is protected by its
 * lock.  Time only advances when the owner calls decay_update (on page
 * allocator activity): an idle program keeps its pages until it next frees
 * or allocates pages.
 */
#ifndef STRATA_DECAY_H
#define STRATA_DECAY_H

#include <sys/types.h>

#include "config.h"

#define DECAY_NSTEPS 200

typedef struct decay {
	ssize_t decay_ms;
	uint64_t epoch_ns;      /* length of one epoch */
	uint64_t deadline;      /* end of the current epoch, ns */
	size_t nunpurged;       /* dirty pages when the current epoch began */
	size_t npages_limit;    /* what the last update allowed */
	size_t backlog[DECAY_NSTEPS]; /* oldest first */
} decay_t;

/* Computes the curve.  Called once by init. */
void decay_boot(void);
void decay_init(decay_t *decay, ssize_t decay_ms, uint64_t now);
/*
 * Advances the epochs to now, given the pages dirty now (npages, of which
 * nfresh were dirtied just now), and returns how many of them may stay
 * dirty (SIZE_MAX for decay_ms -1); the caller purges the rest and reports
 * what remains with decay_purged.
 */
size_t decay_update(decay_t *decay, uint64_t now, size_t npages, size_t nfresh);
void decay_purged(decay_t *decay, size_t npages_left);

#endif
