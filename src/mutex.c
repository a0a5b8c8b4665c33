/*
 * mutex.c — contended paths of the futex mutex.  See mutex.h.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mutex.h"

#define MUTEX_SPIN_LIMIT 100

/* futex(2); errno is preserved, since free() and friends must not change it. */
static void
mutex_futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	int saved_errno = errno;
	syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
	errno = saved_errno;
}

static uint64_t
mutex_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
mutex_init(mutex_t *m)
{
	*m = (mutex_t)MUTEX_INITIALIZER;
}

void
mutex_lock_slow(mutex_t *m)
{
	for (int i = 0; i < MUTEX_SPIN_LIMIT; i++) {
		__builtin_ia32_pause();
		uint32_t expected = 0;
		if (atomic_load_relaxed(&m->state) == 0 &&
		    atomic_compare_exchange_weak_explicit(&m->state, &expected, 1,
		                                          memory_order_acquire, memory_order_relaxed))
			return;
	}
	uint64_t start = mutex_now_ns();
	/* Announce a waiter (state 2) and sleep until we take it unlocked. */
	while (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) != 0)
		mutex_futex(&m->state, FUTEX_WAIT, 2);
	uint64_t waited = mutex_now_ns() - start;
	m->n_waits++;
	if (waited > m->max_wait_ns)
		m->max_wait_ns = waited;
}

void
mutex_wake(mutex_t *m)
{
	mutex_futex(&m->state, FUTEX_WAKE, 1);
}

void
mutex_prefork(mutex_t *m)
{
	mutex_lock(m);
}

void
mutex_postfork_parent(mutex_t *m)
{
	mutex_unlock(m);
}

void
mutex_postfork_child(mutex_t *m)
{
	atomic_store_relaxed(&m->state, 0);
}
