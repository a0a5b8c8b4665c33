/*
 * init.c — bootstrap order, fork handlers and exit actions.  See init.h.
 *
 * Bootstrap, under init_mtx, with no allocation until the arenas exist:
 *   size classes → MALLOC_CONF → memory limit source → global base → emap → arenas → stats →
 *   thread events → profiler → tsd key; then the messages held back meanwhile (a bad MALLOC_CONF) are
 *   written, and pthread_atfork and the atexit actions registered.  The
 *   initializing thread may re-enter (a malloc_message hook that calls
 *   printf, pthread_atfork and atexit call malloc): init_slow returns at once
 *   for it, and its allocations are served once the arenas exist (before
 *   that, only msg_fatal's hook can run, and its allocations fail cleanly).
 * At load time (a constructor, once threads can be made) the profiler
 * starts its dumper thread if a trigger needs it, and its exit action (the
 * final dump, the leak report) is registered.
 * Fork: the handlers are the lock registry's (mutex.h): the parent takes
 * every registered allocator lock in rank order before fork() and releases
 * them after; the child re-initializes them (it is the only thread, and no
 * lock can be held by a thread that no longer exists) and runs each lock's
 * recovery of work that other threads had in flight, then forgets the other
 * threads (arena thread counts, the list of live caches).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "arena.h"
#include "background.h"
#include "base.h"
#include "conf.h"
#include "ctl.h"
#include "decay.h"
#include "emap.h"
#include "hook.h"
#include "hpage.h"
#include "init.h"
#include "msg.h"
#include "numa.h"
#include "os.h"
#include "prof/prof.h"
#include "stats.h"
#include "sz.h"
#include "tcache.h"
#include "tsd.h"

_Atomic bool init_done;

static mutex_t init_mtx = MUTEX_INITIALIZER("init", MUTEX_RANK_INIT);
/* Set while this thread runs the re-entrant part of the bootstrap. */
static __thread bool init_reentrant_here __attribute__((tls_model("initial-exec")));
static base_t init_global_base;

static void
init_stats_print_atexit(void)
{
	stats_print_to_messages(opt_stats_print_opts);
}

/* Arena reset frees a sampled object: the profiler forgets it. */
static void
init_sampled_release(const extent_sample_t *sample, size_t usize)
{
	prof_sample_free(NULL, sample, usize);
}

static int
init_core(void)
{
	mutex_register(&init_mtx, NULL);
	conf_init();
	numa_boot();
	hpage_boot();
	sz_boot();
	decay_boot();
	base_init(&init_global_base, MUTEX_RANK_GLOBAL_BASE);
	mutex_register(&init_global_base.mtx, NULL);
	hook_boot();
	emap_boot(&init_global_base);
	background_boot(opt_background_thread, opt_max_background_threads);
	unsigned narenas = arena_select_narenas(opt_narenas, os_ncpus());
	if (arena_boot(&init_global_base, narenas) != 0)
		return ENOMEM;
	stats_boot(&init_global_base);
	tcache_boot();
	event_boot();
	int err = prof_boot();
	if (err != 0)
		return err;
	arena_sampled_release = init_sampled_release;
	return tsd_boot();
}

/* The fork child: locks first (mutex.h), then the per-thread state that
 * names threads the child does not have. */
static void
init_postfork_child(void)
{
	mutex_postfork_child_all();
	tsd_postfork_child();
	background_postfork_child();
	tsd_reentrancy_raise(&tsd_tls);
	prof_postfork_child();
	tsd_reentrancy_lower(&tsd_tls);
}

static void
init_hook_enter(void)
{
	tsd_reentrancy_raise(&tsd_tls);
}

static void
init_hook_leave(void)
{
	tsd_reentrancy_lower(&tsd_tls);
}

int
init_slow(void)
{
	if (init_reentrant_here)
		return 0;
	mutex_lock(&init_mtx);
	if (atomic_load_relaxed(&init_done)) {
		mutex_unlock(&init_mtx);
		return 0;
	}
	init_reentrant_here = true;
	msg_set_hook_guard(init_hook_enter, init_hook_leave);
	msg_defer_begin();
	int err = init_core();
	msg_defer_end();
	if (err == 0) {
		pthread_atfork(mutex_prefork_all, mutex_postfork_parent_all, init_postfork_child);
		if (opt_stats_print)
			atexit(init_stats_print_atexit);
		atomic_store_release(&init_done, true);
	}
	init_reentrant_here = false;
	mutex_unlock(&init_mtx);
	return err;
}

/* The profiler's exit action runs as the allocator's own work: what it
 * allocates (libdw, for the leak report) is not sampled. */
static void
init_prof_atexit(void)
{
	tsd_reentrancy_raise(&tsd_tls);
	prof_exit();
	tsd_reentrancy_lower(&tsd_tls);
}

/* Initialize at load time too, so that options such as stats_print act even
 * in a program that never allocates, and before any thread exists. */
__attribute__((constructor)) static void
init_at_load(void)
{
	if (init_ensure() != 0)
		return;
	prof_start();
	background_allow_start();
	if (opt_prof)
		atexit(init_prof_atexit);
}
