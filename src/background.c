/*
 * background.c — the purger threads.  See background.h.
 *
 * Each thread sleeps on its own futex word (wake_seq): it reads the word,
 * runs the decay of its page allocators, and waits until the next deadline
 * unless the word changed meanwhile, so a wake between the run and the
 * wait is never lost.  sleep_until tells wakers whether a thread sleeps
 * forever (UINT64_MAX) and so needs a wake when pages are freed.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "background.h"
#include "clock.h"
#include "memlimit.h"
#include "mutex.h"
#include "os.h"
#include "pages.h"

_Atomic bool background_running_flag;
_Atomic bool background_start_wanted;

typedef struct background_slot {
	pthread_t thread;
	_Atomic uint32_t wake_seq;    /* bumped by every wake */
	_Atomic uint64_t sleep_until; /* UINT64_MAX: sleeping until woken */
	_Atomic bool stop;
	_Atomic uint64_t nruns;
	_Atomic uint64_t run_time_sum; /* ns between consecutive runs, summed */
} background_slot_t;

static mutex_t background_mtx = MUTEX_INITIALIZER("background", MUTEX_RANK_BACKGROUND);
static _Atomic bool background_on;      /* background_thread */
static _Atomic bool background_allowed; /* threads may be created */
static size_t background_max = 4;       /* max_background_threads; background_mtx */
/* Protected by background_mtx for writes; read by wakers once running. */
static _Atomic unsigned background_nthreads;
static background_slot_t background_slots[BACKGROUND_THREADS_MAX];

/* The memory limit's source is found at the first check, not at start-up
 * (it reads /proc and cgroup files: a short-lived program never needs it). */
static pthread_once_t memlimit_boot_once = PTHREAD_ONCE_INIT;
/* The memory limit's checks: written by whoever wins the check. */
static _Atomic uint64_t memlimit_last_check;
static _Atomic size_t memlimit_last_limit, memlimit_last_usage;
static _Atomic uint64_t memlimit_releases, memlimit_released;
static _Atomic bool memlimit_checked; /* a check has run */

void
background_check_memory_limit(uint64_t now)
{
	uint64_t last = atomic_load_relaxed(&memlimit_last_check);
	if (now - last < BACKGROUND_MEMLIMIT_CHECK_NS ||
	    !atomic_compare_exchange_strong(&memlimit_last_check, &last, now))
		return;
	pthread_once(&memlimit_boot_once, memlimit_boot);
	size_t limit = 0, usage = 0;
	bool limited = memlimit_read(&limit, &usage);
	atomic_store_relaxed(&memlimit_last_limit, limited ? limit : 0);
	atomic_store_relaxed(&memlimit_last_usage, limited ? usage : 0);
	atomic_store_relaxed(&memlimit_checked, true);
	if (!limited || usage < limit - limit / 16)
		return;
	size_t released = 0;
	for (pages_t *p = pages_registry_first(); p != NULL; p = p->registry_next)
		released += pages_purge_all(p);
	if (released != 0) {
		atomic_add_relaxed(&memlimit_releases, 1);
		atomic_add_relaxed(&memlimit_released, released);
	}
}

void
background_boot(bool enabled, size_t max_threads)
{
	mutex_register(&background_mtx, NULL);
	/* The first check of the memory limit comes a check interval after
	 * start-up: a program done by then never reads the cgroup files. */
	atomic_store_relaxed(&memlimit_last_check, clock_coarse_ns());
	atomic_store_relaxed(&background_on, enabled);
	background_max = max_threads;
}

void
background_allow_start(void)
{
	atomic_store_relaxed(&background_allowed, true);
}

static void
background_wake(background_slot_t *slot)
{
	atomic_store_relaxed(&slot->sleep_until, 0);
	atomic_fetch_add_explicit(&slot->wake_seq, 1, memory_order_release);
	syscall(SYS_futex, &slot->wake_seq, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
}

/* The running purger serving arena_ind; NULL when purging is off, or when
 * the purgers do not run yet (they are asked for). */
static background_slot_t *
background_slot_of(unsigned arena_ind)
{
	if (!atomic_load_relaxed(&background_on))
		return NULL;
	if (!atomic_load_relaxed(&background_running_flag)) {
		if (!atomic_load_relaxed(&background_start_wanted))
			atomic_store_relaxed(&background_start_wanted, true);
		return NULL;
	}
	unsigned n = atomic_load_acquire(&background_nthreads);
	return n == 0 ? NULL : &background_slots[arena_ind % n];
}

void
background_note_dirty(unsigned arena_ind, size_t ndirty, size_t at_run)
{
	/* Nothing dirty (a decay time of 0 purged it at once): nothing to do. */
	if (ndirty == 0)
		return;
	background_slot_t *slot = background_slot_of(arena_ind);
	if (slot == NULL)
		return;
	uint64_t until = atomic_load_relaxed(&slot->sleep_until);
	if (until == UINT64_MAX ||
	    (until != 0 && ndirty >= at_run + (BACKGROUND_WAKE_DIRTY_BYTES >> LG_PAGE)))
		background_wake(slot);
}

void
background_note_hugify(unsigned arena_ind)
{
	background_slot_t *slot = background_slot_of(arena_ind);
	if (slot != NULL)
		background_wake(slot);
}

/* Runs the huge-page work, the idle pass and the decay of thread k's page
 * allocators; the earliest next deadline.
 * *dirty: whether any of them still holds dirty pages after it. */
static uint64_t
background_run(unsigned k, unsigned n, uint64_t now, bool *dirty)
{
	uint64_t next = UINT64_MAX;
	*dirty = false;
	for (pages_t *p = pages_registry_first(); p != NULL; p = p->registry_next) {
		if (p->arena_ind % n != k)
			continue;
		if (atomic_load_relaxed(&p->hpage.nqueued) != 0) {
			uint64_t due = pages_hugify_run(p, now);
			if (due < next)
				next = due;
		}
		if (pages_idle_claim(p, now))
			pages_idle_pass(p);
		uint64_t t = pages_decay_run(p, now);
		if (t < next)
			next = t;
		*dirty |= atomic_load_relaxed(&p->dirty_at_run) != 0;
	}
	return next;
}

static void *
background_main(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg;
	background_slot_t *slot = &background_slots[k];
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	uint64_t last_run = 0;
	while (!atomic_load_acquire(&slot->stop)) {
		uint32_t seq = atomic_load_acquire(&slot->wake_seq);
		uint64_t now = clock_coarse_ns();
		background_check_memory_limit(now);
		bool dirty;
		uint64_t next =
		    background_run(k, atomic_load_relaxed(&background_nthreads), now, &dirty);
		/* Dirty pages and a limit that applies, or none checked yet. */
		bool limit_may_apply = !atomic_load_relaxed(&memlimit_checked) ||
		                       atomic_load_relaxed(&memlimit_last_limit) != 0;
		if (limit_may_apply && dirty && next > now + BACKGROUND_MEMLIMIT_SLEEP_NS)
			next = now + BACKGROUND_MEMLIMIT_SLEEP_NS;
		if (last_run != 0)
			atomic_add_relaxed(&slot->run_time_sum, now - last_run);
		last_run = now;
		atomic_add_relaxed(&slot->nruns, 1);
		struct timespec ts, *timeout = NULL;
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;
			if (wait < BACKGROUND_MIN_SLEEP_NS)
				wait = BACKGROUND_MIN_SLEEP_NS;
			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			timeout = &ts;
			atomic_store_relaxed(&slot->sleep_until, now + wait);
		} else {
			atomic_store_relaxed(&slot->sleep_until, UINT64_MAX);
		}
		if (!atomic_load_acquire(&slot->stop))
			syscall(SYS_futex, &slot->wake_seq, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, seq,
			        timeout, NULL, 0);
	}
	return NULL;
}

/* Joins every thread.  background_mtx held. */
static void
background_stop_locked(void)
{
	atomic_store_relaxed(&background_running_flag, false);
	unsigned n = atomic_load_relaxed(&background_nthreads);
	for (unsigned k = 0; k < n; k++) {
		atomic_store_release(&background_slots[k].stop, true);
		background_wake(&background_slots[k]);
	}
	for (unsigned k = 0; k < n; k++)
		pthread_join(background_slots[k].thread, NULL);
	atomic_store_release(&background_nthreads, 0);
}

/* Creates the threads.  background_mtx held.  0 or EAGAIN (then none run). */
static int
background_start_locked(void)
{
	size_t n = background_max;
	unsigned ncpus = os_ncpus();
	if (n > ncpus)
		n = ncpus;
	for (unsigned k = 0; k < n; k++) {
		background_slot_t *slot = &background_slots[k];
		atomic_store_relaxed(&slot->stop, false);
		atomic_store_relaxed(&slot->sleep_until, 0);
		/* Counted before it runs: it reads the count to pick its arenas. */
		atomic_store_release(&background_nthreads, k + 1);
		if (pthread_create(&slot->thread, NULL, background_main, (void *)(uintptr_t)k) != 0) {
			atomic_store_release(&background_nthreads, k);
			background_stop_locked();
			return EAGAIN;
		}
		pthread_setname_np(slot->thread, "strata-purger");
	}
	/* Threads that read a smaller count at their first run correct it at
	 * their next: every allocator is served from then on. */
	atomic_store_relaxed(&background_running_flag, true);
	return 0;
}

void
background_maybe_start(void)
{
	if (!atomic_load_relaxed(&background_allowed))
		return;
	mutex_lock(&background_mtx);
	atomic_store_relaxed(&background_start_wanted, false);
	if (atomic_load_relaxed(&background_on) && !atomic_load_relaxed(&background_running_flag))
		background_start_locked();
	mutex_unlock(&background_mtx);
}

int
background_set_enabled(bool enabled)
{
	mutex_lock(&background_mtx);
	int err = 0;
	atomic_store_relaxed(&background_on, enabled);
	bool running = atomic_load_relaxed(&background_running_flag);
	if (enabled && !running)
		err = background_start_locked();
	else if (!enabled && running)
		background_stop_locked();
	if (err != 0)
		atomic_store_relaxed(&background_on, false);
	mutex_unlock(&background_mtx);
	return err;
}

bool
background_enabled(void)
{
	return atomic_load_relaxed(&background_on);
}

int
background_set_max_threads(size_t n)
{
	if (n < 1 || n > BACKGROUND_THREADS_MAX)
		return EINVAL;
	mutex_lock(&background_mtx);
	background_max = n;
	int err = 0;
	if (atomic_load_relaxed(&background_running_flag)) {
		background_stop_locked();
		err = background_start_locked();
	}
	mutex_unlock(&background_mtx);
	return err;
}

size_t
background_max_threads(void)
{
	mutex_lock(&background_mtx);
	size_t n = background_max;
	mutex_unlock(&background_mtx);
	return n;
}

void
background_postfork_child(void)
{
	/* A boot that another thread of the parent had in progress never
	 * finishes here: the child boots again at its first check.  (glibc's
	 * pthread_once restarts it by itself; ThreadSanitizer's waits for the
	 * missing thread for ever.) */
	memlimit_boot_once = PTHREAD_ONCE_INIT;
	atomic_store_relaxed(&background_running_flag, false);
	atomic_store_relaxed(&background_nthreads, 0);
	atomic_store_relaxed(&background_start_wanted, atomic_load_relaxed(&background_on));
}

void
background_stats_read(background_stats_t *out)
{
	*out = (background_stats_t){0};
	unsigned n = atomic_load_acquire(&background_nthreads);
	uint64_t sum = 0, intervals = 0;
	for (unsigned k = 0; k < n; k++) {
		uint64_t runs = atomic_load_relaxed(&background_slots[k].nruns);
		out->num_runs += runs;
		sum += atomic_load_relaxed(&background_slots[k].run_time_sum);
		intervals += runs > 0 ? runs - 1 : 0;
	}
	out->num_threads = n;
	out->run_interval_ns = intervals != 0 ? sum / intervals : 0;
	pthread_once(&memlimit_boot_once, memlimit_boot);
	out->memlimit_source = memlimit_source();
	out->memlimit_limit = atomic_load_relaxed(&memlimit_last_limit);
	out->memlimit_usage = atomic_load_relaxed(&memlimit_last_usage);
	out->memlimit_releases = atomic_load_relaxed(&memlimit_releases);
	out->memlimit_released = atomic_load_relaxed(&memlimit_released);
}
