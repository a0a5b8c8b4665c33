/*
 * decay.h — how many freed pages of one state (dirty or muzzy) an arena may
 * keep, over time, and the burst model that keeps the pages the next burst
 * will reuse.  L2.  docs/design.md, "Decay".
 *
 * The curve is jemalloc's: decay_ms is split into DECAY_NSTEPS epochs, and
 * the backlog holds, for each of the last DECAY_NSTEPS epochs, how many
 * pages entered the state in it.  A page that entered t ms ago may still
 * stay with weight 1 - smootherstep(t / decay_ms), so the allowed number is
 * sum(backlog[i] * weight[i]): purging starts slowly, is fastest half-way
 * and everything is purged after decay_ms.  decay_ms 0 purges at once, -1
 * never.  The backlog keeps what entered, whatever the owner purged since
 * (decay_purged counts that); pages that left otherwise (reused) are taken
 * off its newest entries, as if they had just entered.
 *
 * The burst model (burst_t) watches when the arena takes and returns pages.
 * A burst is a run of page activity (taking or returning pages) between
 * quiet times of at least BURST_QUIET_NS: a program freeing what it built
 * is still busy, and a burst may begin with returns (a thread cache's
 * collection as it starts allocating again).  For the last
 * BURST_NHIST bursts it remembers the quiet time before each (its gap) and
 * how far the arena's active pages rose above where they were when it
 * began (its demand).  While the arena is quiet and
 * has seen at least BURST_MIN_HISTORY bursts, the next burst is expected
 * until twice the third quartile of the gaps has passed (never longer than
 * decay_ms): then
 * the dirty pages the largest recent demand needs are kept whatever the
 * curve says; once that time has passed, the burst is overdue and every
 * dirty page goes, sooner than the curve would let them.  A busy arena, or
 * one without a history, follows the curve alone.
 *
 * Both structures belong to one arena's page allocator and are protected by
 * its lock.  Nothing here reads the clock: callers pass the time.
 */
#ifndef STRATA_DECAY_H
#define STRATA_DECAY_H

#include <sys/types.h>

#include "config.h"

#define DECAY_NSTEPS 200

typedef struct decay {
	ssize_t decay_ms;
	uint64_t epoch_ns;   /* length of one epoch */
	uint64_t deadline;   /* end of the current epoch, ns */
	size_t nleft;        /* pages in the state as of the last call, after purges */
	size_t backlog[DECAY_NSTEPS]; /* oldest first; the last is the current epoch */
	/* sum(backlog[i] * weight[i]) in fixed point, kept up to date by
	 * record and unrecord within an epoch and recomputed (200
	 * multiply-adds) only at the first call after the epochs moved. */
	uint64_t weighted;
	bool weighted_valid;
} decay_t;

/* Computes the curve.  Called once by init. */
void decay_boot(void);
void decay_init(decay_t *decay, ssize_t decay_ms, uint64_t now);
/* npages entered the state at now. */
void decay_record(decay_t *decay, uint64_t now, size_t npages);
/*
 * How many of the npages now in the state may stay at now (SIZE_MAX for
 * decay_ms -1, 0 for decay_ms 0).  Ages the backlog to now; pages gone
 * since the last call that were not purged count as reused.  The caller
 * purges the rest and reports it with decay_purged.
 */
size_t decay_allowed(decay_t *decay, uint64_t now, size_t npages);
/* npages of the state were purged. */
void decay_purged(decay_t *decay, size_t npages);
/*
 * When, after a decay_allowed at now that allowed `allowed` pages, the
 * curve will next allow at least min(min_pages, allowed) fewer (with no new
 * pages): the end of some later epoch.  UINT64_MAX when nothing will decay
 * (allowed 0, or decay_ms -1).
 */
uint64_t decay_next_purge(const decay_t *decay, size_t allowed, size_t min_pages);
/* Every page now in the state counts as fully decayed (a new decay_ms
 * takes effect, or an explicit purge happened). */
void decay_forget(decay_t *decay);

#define BURST_NHIST 8
#define BURST_MIN_HISTORY 2
#define BURST_QUIET_NS (50 * 1000000ull)
/* Rises of active pages below this are not bursts (1 MiB). */
#define BURST_MIN_PAGES ((size_t)1 << (20 - LG_PAGE))

typedef struct burst {
	uint64_t last_active; /* when pages were last taken or returned, ns; 0: never */
	size_t base_active;  /* active pages when the current burst began */
	size_t peak_active;  /* most active pages since then */
	uint64_t gaps[BURST_NHIST];  /* quiet time before each recent burst, ns */
	size_t demands[BURST_NHIST]; /* its peak minus its base, pages */
	unsigned nhist;      /* entries held (up to BURST_NHIST) */
	unsigned next;       /* where the next entry goes */
} burst_t;

typedef enum burst_advice {
	BURST_NO_ADVICE, /* busy, or no history: the curve alone decides */
	BURST_EXPECTED,  /* keep keep_pages for the next burst */
	BURST_OVERDUE,   /* the expected burst is late: release every dirty page */
} burst_advice_t;

void burst_init(burst_t *burst);
/* Pages were taken at now (before the taking, active_before were active;
 * after it, active_after). */
void burst_take(burst_t *burst, uint64_t now, size_t active_before, size_t active_after);
/* Pages were returned at now (active_before were active before). */
void burst_return(burst_t *burst, uint64_t now, size_t active_before);
/*
 * What the model says at now, for a state whose curve spans decay_ms:
 * *keep_pages is set for BURST_EXPECTED; *until (when not NULL) to the time
 * the advice next changes without new activity (from busy to EXPECTED,
 * from EXPECTED to OVERDUE), UINT64_MAX when it will not.
 */
burst_advice_t burst_advise(const burst_t *burst, uint64_t now, ssize_t decay_ms,
                            size_t *keep_pages, uint64_t *until);

#endif
