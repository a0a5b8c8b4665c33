/*
 * mutex.h — a futex-backed mutex that never allocates, the registry of the
 * allocator's locks, and the lock-order witness.  L0.
 *
 * Three states (0 unlocked, 1 locked, 2 locked with waiters): the uncontended
 * lock is one compare-and-swap, the uncontended unlock one atomic exchange.
 * A contended lock spins briefly, then sleeps in futex_wait.  Counters
 * (MUTEX_STATS_COUNTERS: acquisitions, spin acquisitions, sleeps, owner
 * switches, wait times, most threads waiting) are written only by the
 * holder, so they need no atomics and the uncontended lock stays one CAS;
 * mutex_stats_read reads them without the lock, each counter whole but
 * the set approximate while the lock is busy (docs/compat.md, "Lock
 * statistics").
 *
 * Every lock has a name and a rank (docs/design.md, "Locks").  A thread may
 * take a lock only if its rank is above the rank of every lock it holds; in
 * a debug build a per-thread witness checks this and aborts naming both
 * locks.  Release builds compile the witness out.
 *
 * Registry: locks that live as long as the process (module locks, and the
 * locks of every arena) are registered once with mutex_register.  Fork
 * walks the registry instead of each module writing its own handlers:
 * mutex_prefork_all takes every registered lock in rank order,
 * mutex_postfork_parent_all releases them, and mutex_postfork_child_all
 * re-initializes them and then runs each lock's recovery callback (which
 * puts back what a thread of the parent had in flight with that lock
 * dropped).  Registrations after boot happen only during arena creation
 * with the arenas lock held, and a fork takes that lock before any lock of
 * a higher rank, so the walk always sees a stable list.
 */
#ifndef STRATA_MUTEX_H
#define STRATA_MUTEX_H

#include "atomic.h"

/* Lock ranks, in the order a thread may acquire them. */
typedef enum mutex_rank {
	MUTEX_RANK_INIT = 1,
	MUTEX_RANK_CTL,
	MUTEX_RANK_HOOKS,
	MUTEX_RANK_BACKGROUND,
	MUTEX_RANK_PROF_TRIGGER,
	MUTEX_RANK_PROF_DUMP,
	MUTEX_RANK_PROF_UNWIND,
	MUTEX_RANK_PROF_TDATAS,
	MUTEX_RANK_PROF_STACKS,
	MUTEX_RANK_PROF_RECENT,
	MUTEX_RANK_TCACHE_LIST,
	MUTEX_RANK_ARENAS,
	MUTEX_RANK_STATS_DESTROYED,
	MUTEX_RANK_BIN,
	MUTEX_RANK_LARGE,
	MUTEX_RANK_PAGES,
	MUTEX_RANK_ARENA_BASE,
	MUTEX_RANK_EMAP,
	MUTEX_RANK_GLOBAL_BASE,
	MUTEX_RANK_TSD_LIST,
	MUTEX_RANK_COUNT
} mutex_rank_t;

/*
 * The lock counters, in jemalloc's names (stats.mutexes.<name>.<counter>):
 * X(name, type, merge, doc).  merge says how two locks' values combine:
 * CUMUL (a count since start or reset: summed) or MAX (the larger).
 */
#define MUTEX_STATS_COUNTERS(X)                                                           \
	X(num_ops, uint64_t, CUMUL, "Acquisitions of the lock.")                          \
	X(num_wait, uint64_t, CUMUL, "Acquisitions that had to sleep until the lock was free.") \
	X(num_spin_acq, uint64_t, CUMUL, "Acquisitions that found the lock busy and got it by spinning.") \
	X(num_owner_switch, uint64_t, CUMUL, "Acquisitions by a thread other than the previous holder.") \
	X(total_wait_time, uint64_t, CUMUL, "Nanoseconds spent sleeping for the lock, in total.") \
	X(max_wait_time, uint64_t, MAX, "Longest single sleep for the lock, in nanoseconds.") \
	X(max_num_thds, uint32_t, MAX, "Most threads seen waiting for the lock at once.")

typedef struct mutex_stats {
#define MUTEX_STATS_FIELD(name, type, merge, doc) type name;
	MUTEX_STATS_COUNTERS(MUTEX_STATS_FIELD)
#undef MUTEX_STATS_FIELD
} mutex_stats_t;

/* The counters as the lock keeps them: written by the holder with a
 * relaxed load and store (plain moves, no read-modify-write), read by
 * mutex_stats_read without the lock. */
typedef struct mutex_counters {
#define MUTEX_STATS_FIELD(name, type, merge, doc) _Atomic type name;
	MUTEX_STATS_COUNTERS(MUTEX_STATS_FIELD)
#undef MUTEX_STATS_FIELD
} mutex_counters_t;

/* Holder only: counter += v, counter = max(counter, v). */
#define MUTEX_COUNTER_ADD(c, v) \
	atomic_store_relaxed(&(c), atomic_load_relaxed(&(c)) + (v))
#define MUTEX_COUNTER_MAX(c, v)                                                           \
	do {                                                                              \
		if ((v) > atomic_load_relaxed(&(c)))                                      \
			atomic_store_relaxed(&(c), (v));                                  \
	} while (0)

typedef struct mutex mutex_t;
struct mutex {
	_Atomic uint32_t state;
	uint8_t rank;       /* mutex_rank_t */
	bool registered;
	const char *name;
	_Atomic uint32_t n_waiting; /* threads in the slow path now */
	/* Written by the holder only. */
	mutex_counters_t stats;
	const void *prev_owner; /* mutex_owner_tag of the last holder's thread */
	/* Registry: the next lock of the same rank; set once at registration. */
	mutex_t *registry_next;
	/* Run in a fork child after every lock is re-initialized; NULL if none. */
	void (*fork_child_recover)(mutex_t *m);
};

#define MUTEX_INITIALIZER(lock_name, lock_rank) \
	{.state = 0, .rank = (lock_rank), .name = (lock_name)}

void mutex_init(mutex_t *m, const char *name, mutex_rank_t rank);
void mutex_lock_slow(mutex_t *m);
void mutex_wake(mutex_t *m);
void mutex_witness_acquire(const mutex_t *m);
void mutex_witness_release(const mutex_t *m);
/* Each thread's own address: a holder that differs from the previous one
 * is an owner switch. */
extern __thread char mutex_owner_tag __attribute__((tls_model("initial-exec")));

static inline void
mutex_lock(mutex_t *m)
{
	if (config_debug)
		mutex_witness_acquire(m);
	uint32_t expected = 0;
	if (UNLIKELY(!atomic_compare_exchange_strong_explicit(
		    &m->state, &expected, 1, memory_order_acquire, memory_order_relaxed)))
		mutex_lock_slow(m);
	MUTEX_COUNTER_ADD(m->stats.num_ops, 1);
	if (m->prev_owner != &mutex_owner_tag) {
		m->prev_owner = &mutex_owner_tag;
		MUTEX_COUNTER_ADD(m->stats.num_owner_switch, 1);
	}
}

static inline void
mutex_unlock(mutex_t *m)
{
	if (config_debug)
		mutex_witness_release(m);
	if (UNLIKELY(atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2))
		mutex_wake(m);
}

/* Adds a long-lived lock to the registry (once; later calls do nothing).
 * recover, if not NULL, runs in a fork child (see above). */
void mutex_register(mutex_t *m, void (*recover)(mutex_t *m));

/* The fork handlers: every registered lock, in rank order. */
void mutex_prefork_all(void);
void mutex_postfork_parent_all(void);
void mutex_postfork_child_all(void);

/* m's counters (see above). */
void mutex_stats_read(const mutex_t *m, mutex_stats_t *out);
/* Zeroes m's counters (stats.mutexes.reset). */
void mutex_stats_reset(mutex_t *m);
/* Adds src to *dst by each counter's merge rule. */
void mutex_stats_merge(mutex_stats_t *dst, const mutex_stats_t *src);

/* Calls visit on every registered lock, in rank order (tests, stats). */
void mutex_registry_foreach(void (*visit)(mutex_t *m, void *arg), void *arg);

#endif
