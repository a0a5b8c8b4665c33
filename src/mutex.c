/*
 * mutex.c — contended paths of the futex mutex, the lock registry and the
 * debug witness.  See mutex.h.
 *
 * The registry is one singly linked list per rank, pushed with a
 * compare-and-swap and never shrunk (registered locks live as long as the
 * process).  The witness is a per-thread stack of the locks the thread
 * holds; it exists only in debug builds (config_debug), where every
 * mutex_lock and mutex_unlock reports to it.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "mutex.h"

#define MUTEX_SPIN_LIMIT 100
/* More locks than any path holds at once (init holds four at most). */
#define MUTEX_WITNESS_DEPTH 16

static _Atomic(mutex_t *) mutex_registry[MUTEX_RANK_COUNT];

__thread char mutex_owner_tag __attribute__((tls_model("initial-exec")));

static __thread const mutex_t *mutex_witness_held[MUTEX_WITNESS_DEPTH]
	__attribute__((tls_model("initial-exec")));
static __thread unsigned mutex_witness_nheld __attribute__((tls_model("initial-exec")));

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
mutex_init(mutex_t *m, const char *name, mutex_rank_t rank)
{
	*m = (mutex_t)MUTEX_INITIALIZER(name, rank);
}

void
mutex_lock_slow(mutex_t *m)
{
	for (int i = 0; i < MUTEX_SPIN_LIMIT; i++) {
		__builtin_ia32_pause();
		uint32_t expected = 0;
		if (atomic_load_relaxed(&m->state) == 0 &&
		    atomic_compare_exchange_weak_explicit(&m->state, &expected, 1,
		                                          memory_order_acquire, memory_order_relaxed)) {
			MUTEX_COUNTER_ADD(m->stats.num_spin_acq, 1);
			return;
		}
	}
	uint32_t waiting = atomic_fetch_add_explicit(&m->n_waiting, 1, memory_order_relaxed) + 1;
	uint64_t start = mutex_now_ns();
	/* Announce a waiter (state 2) and sleep until we take it unlocked. */
	while (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) != 0)
		mutex_futex(&m->state, FUTEX_WAIT, 2);
	uint64_t waited = mutex_now_ns() - start;
	atomic_fetch_sub_explicit(&m->n_waiting, 1, memory_order_relaxed);
	MUTEX_COUNTER_ADD(m->stats.num_wait, 1);
	MUTEX_COUNTER_ADD(m->stats.total_wait_time, waited);
	MUTEX_COUNTER_MAX(m->stats.max_wait_time, waited);
	MUTEX_COUNTER_MAX(m->stats.max_num_thds, waiting);
}

/* Without the lock: a reader may hold locks of any rank (the stats
 * snapshot holds its own), and may be reading the lock it holds. */
void
mutex_stats_read(const mutex_t *m, mutex_stats_t *out)
{
#define MUTEX_STATS_LOAD(name, type, merge, doc) out->name = atomic_load_relaxed(&m->stats.name);
	MUTEX_STATS_COUNTERS(MUTEX_STATS_LOAD)
#undef MUTEX_STATS_LOAD
}

void
mutex_stats_reset(mutex_t *m)
{
	mutex_lock(m);
#define MUTEX_STATS_ZERO(name, type, merge, doc) atomic_store_relaxed(&m->stats.name, 0);
	MUTEX_STATS_COUNTERS(MUTEX_STATS_ZERO)
#undef MUTEX_STATS_ZERO
	m->prev_owner = NULL;
	mutex_unlock(m);
}

#define MUTEX_MERGE_CUMUL(d, s) (d) += (s)
#define MUTEX_MERGE_MAX(d, s) (d) = (s) > (d) ? (s) : (d)
void
mutex_stats_merge(mutex_stats_t *dst, const mutex_stats_t *src)
{
#define MUTEX_STATS_MERGE(name, type, merge, doc) MUTEX_MERGE_##merge(dst->name, src->name);
	MUTEX_STATS_COUNTERS(MUTEX_STATS_MERGE)
#undef MUTEX_STATS_MERGE
}

void
mutex_wake(mutex_t *m)
{
	mutex_futex(&m->state, FUTEX_WAKE, 1);
}

void
mutex_witness_acquire(const mutex_t *m)
{
	for (unsigned i = 0; i < mutex_witness_nheld; i++) {
		const mutex_t *held = mutex_witness_held[i];
		if (held->rank >= m->rank)
			msg_fatal("lock order violation: taking \"%s\" (rank %u) while holding "
			          "\"%s\" (rank %u)\n",
			          m->name, m->rank, held->name, held->rank);
	}
	if (mutex_witness_nheld == MUTEX_WITNESS_DEPTH)
		msg_fatal("lock witness: more than %d locks held\n", MUTEX_WITNESS_DEPTH);
	mutex_witness_held[mutex_witness_nheld++] = m;
}

void
mutex_witness_release(const mutex_t *m)
{
	for (unsigned i = mutex_witness_nheld; i-- > 0;) {
		if (mutex_witness_held[i] == m) {
			for (unsigned j = i + 1; j < mutex_witness_nheld; j++)
				mutex_witness_held[j - 1] = mutex_witness_held[j];
			mutex_witness_nheld--;
			return;
		}
	}
	msg_fatal("lock witness: releasing \"%s\", which this thread does not hold\n", m->name);
}

void
mutex_register(mutex_t *m, void (*recover)(mutex_t *m))
{
	if (m->registered)
		return;
	m->registered = true;
	m->fork_child_recover = recover;
	_Atomic(mutex_t *) *head = &mutex_registry[m->rank];
	mutex_t *first = atomic_load_relaxed(head);
	do
		m->registry_next = first;
	while (!atomic_compare_exchange_weak_explicit(head, &first, m, memory_order_release,
	                                              memory_order_relaxed));
}

void
mutex_registry_foreach(void (*visit)(mutex_t *m, void *arg), void *arg)
{
	for (unsigned rank = 0; rank < MUTEX_RANK_COUNT; rank++)
		for (mutex_t *m = atomic_load_acquire(&mutex_registry[rank]); m != NULL;
		     m = m->registry_next)
			visit(m, arg);
}

/* The fork handlers bypass the witness: prefork holds every lock at once,
 * several of the same rank, which no other path may do. */
static void
mutex_fork_take(mutex_t *m, void *arg)
{
	(void)arg;
	uint32_t expected = 0;
	if (!atomic_compare_exchange_strong_explicit(&m->state, &expected, 1,
	                                             memory_order_acquire, memory_order_relaxed))
		mutex_lock_slow(m);
}

static void
mutex_fork_release(mutex_t *m, void *arg)
{
	(void)arg;
	if (atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2)
		mutex_wake(m);
}

static void
mutex_fork_reinit(mutex_t *m, void *arg)
{
	(void)arg;
	atomic_store_relaxed(&m->state, 0);
}

static void
mutex_fork_recover(mutex_t *m, void *arg)
{
	(void)arg;
	if (m->fork_child_recover != NULL)
		m->fork_child_recover(m);
}

void
mutex_prefork_all(void)
{
	mutex_registry_foreach(mutex_fork_take, NULL);
}

void
mutex_postfork_parent_all(void)
{
	mutex_registry_foreach(mutex_fork_release, NULL);
}

void
mutex_postfork_child_all(void)
{
	/* The forking thread is the child's only thread: whatever the others
	 * held is free now, and so is every lock the witness saw them take. */
	mutex_witness_nheld = 0;
	mutex_registry_foreach(mutex_fork_reinit, NULL);
	mutex_registry_foreach(mutex_fork_recover, NULL);
}
