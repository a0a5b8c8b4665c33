/*
 * background.h — the purger: threads that run every arena's decay on time,
 * also while the program is idle.  L2.  docs/design.md, "Decay".
 *
 * With background_thread on (the default), allocating and freeing threads
 * leave the decay to the purger once it runs (pages.h): they only record
 * the pages they free.  Purger thread k of n serves the page allocators of
 * the arenas whose index is k modulo n (n = max_background_threads, at most
 * the CPUs the process may use).  Each sleeps until the first time one of
 * its allocators has something to purge (pages_decay_run computes it from
 * the curves and the burst model), forever if none has anything, and is
 * woken early when pages are freed to an allocator it sleeps forever on or
 * when much new dirty memory appears.
 *
 * The threads are created lazily: a free that leaves dirty pages asks for
 * them, and the next thread event (event.h), where no lock is held and the
 * reentrancy level is raised around pthread_create, starts them.  In a fork
 * child they do not exist; they are asked for again and recreated the same
 * way.  If they cannot be created, the decay stays with the allocating
 * threads.
 *
 * Memory limit (memlimit.h): thread events and the purger check it, at
 * most every BACKGROUND_MEMLIMIT_CHECK_NS between them (the first check,
 * or the first stats read, finds where it comes from); when the usage is
 * within 1/16 of the limit, every dirty and muzzy page of every arena is
 * released at once, whatever the curves say.  While a limit applies and
 * pages are dirty, a purger sleeps at most BACKGROUND_MEMLIMIT_SLEEP_NS, so
 * that memory taken by others (other processes of the cgroup, the page
 * cache) is noticed while this process is idle.
 *
 * Lock: background_mtx serializes starting and stopping; the purgers never
 * take it.  Everything the fast paths read is atomic.
 */
#ifndef STRATA_BACKGROUND_H
#define STRATA_BACKGROUND_H

#include "atomic.h"

#define BACKGROUND_THREADS_MAX 4095
/* Sleeps are never shorter, so that a coarse clock cannot make a purger spin. */
#define BACKGROUND_MIN_SLEEP_NS (10 * 1000000ull)
/* New dirty memory that wakes a purger early (16 MiB). */
#define BACKGROUND_WAKE_DIRTY_BYTES ((size_t)16 << 20)
#define BACKGROUND_MEMLIMIT_CHECK_NS (100 * 1000000ull)
#define BACKGROUND_MEMLIMIT_SLEEP_NS (1000 * 1000000ull)

extern _Atomic bool background_running_flag;
extern _Atomic bool background_start_wanted;

/* The purger threads run: allocating threads leave the decay to them. */
static inline bool
background_purging(void)
{
	return atomic_load_relaxed(&background_running_flag);
}

/* A thread event may start the purger now (background_maybe_start). */
static inline bool
background_start_pending(void)
{
	return atomic_load_relaxed(&background_start_wanted);
}

/* Sets the options' values.  Init, single threaded. */
void background_boot(bool enabled, size_t max_threads);
/* The process can create threads from now on (init's constructor). */
void background_allow_start(void);
/* Pages were just freed to arena_ind (no lock held), which now has ndirty
 * dirty pages, at_run when the purger last ran it: asks for the purger, or
 * wakes it (sleeping forever, or BACKGROUND_WAKE_DIRTY_BYTES more). */
void background_note_dirty(unsigned arena_ind, size_t ndirty, size_t at_run);
/* Starts the purger if it was asked for.  No allocator lock may be held and
 * the caller's reentrancy level must be raised (pthread_create allocates). */
void background_maybe_start(void);
/* The background_thread mallctl: starts the purger (at once) or stops it
 * (and waits for its threads to end).  0, or EAGAIN when a thread cannot be
 * created. */
int background_set_enabled(bool enabled);
bool background_enabled(void);
/* max_background_threads: takes effect at the next start (a running purger
 * is restarted).  EINVAL outside 1..BACKGROUND_THREADS_MAX. */
int background_set_max_threads(size_t n);
size_t background_max_threads(void);
/* Fork child: the threads are gone; asks for new ones if enabled. */
void background_postfork_child(void);

/* A range of the arena was queued to be made huge again (hpage.h): wakes
 * its purger, or asks for the purgers to start. */
void background_note_hugify(unsigned arena_ind);
/* Checks the memory limit if the last check is old enough, and releases
 * every freed page when usage is near it.  No lock held. */
void background_check_memory_limit(uint64_t now);

typedef struct background_stats {
	size_t num_threads;
	uint64_t num_runs;
	uint64_t run_interval_ns; /* mean time between two runs of a thread */
	/* The memory limit's source (memlimit_source) and, as of the last
	 * check, the limit and usage (0 when none applied). */
	const char *memlimit_source;
	size_t memlimit_limit, memlimit_usage;
	uint64_t memlimit_releases;  /* releases the limit caused */
	uint64_t memlimit_released;  /* bytes they released */
} background_stats_t;
void background_stats_read(background_stats_t *out);

#endif
