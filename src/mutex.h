/*
 * mutex.h — a futex-backed mutex that never allocates.  L0.
 *
 * Three states (0 unlocked, 1 locked, 2 locked with waiters): the uncontended
 * lock is one compare-and-swap, the uncontended unlock one atomic exchange.
 * A contended lock spins briefly, then sleeps in futex_wait.  Counters
 * (acquisitions, waits, longest wait) are written only by the holder, so
 * they need no atomics; readers (stats) see approximate values.
 *
 * Fork: mutex_prefork takes the lock, mutex_postfork_parent releases it and
 * mutex_postfork_child re-initializes it in the child (the only thread).
 * An all-zero mutex_t is a valid unlocked mutex (MUTEX_INITIALIZER).
 */
#ifndef STRATA_MUTEX_H
#define STRATA_MUTEX_H

#include "atomic.h"

typedef struct mutex {
	_Atomic uint32_t state;
	/* Protected by the mutex itself. */
	uint64_t n_lock_ops;
	uint64_t n_waits;
	uint64_t max_wait_ns;
} mutex_t;

#define MUTEX_INITIALIZER {0, 0, 0, 0}

void mutex_init(mutex_t *m);
void mutex_lock_slow(mutex_t *m);
void mutex_wake(mutex_t *m);

static inline void
mutex_lock(mutex_t *m)
{
	uint32_t expected = 0;
	if (UNLIKELY(!atomic_compare_exchange_strong_explicit(
		    &m->state, &expected, 1, memory_order_acquire, memory_order_relaxed)))
		mutex_lock_slow(m);
	m->n_lock_ops++;
}

static inline void
mutex_unlock(mutex_t *m)
{
	if (UNLIKELY(atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2))
		mutex_wake(m);
}

void mutex_prefork(mutex_t *m);
void mutex_postfork_parent(mutex_t *m);
void mutex_postfork_child(mutex_t *m);

#endif
