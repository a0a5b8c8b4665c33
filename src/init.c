/*
 * init.c — bootstrap order, fork handlers and exit actions.  See init.h.
 *
 * Bootstrap, under init_mtx, with no allocation until the arenas exist:
 *   size classes → MALLOC_CONF → global base → emap → arenas → stats → tsd
 *   key; then, re-entrantly (these may call malloc): pthread_atfork and the
 *   atexit actions.
 * Fork: the parent takes every allocator lock in the global order before
 * fork() and releases it after; the child re-initializes them (it is the
 * only thread, and no lock can be held by a thread that no longer exists).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "arena.h"
#include "base.h"
#include "conf.h"
#include "ctl.h"
#include "decay.h"
#include "emap.h"
#include "init.h"
#include "os.h"
#include "stats.h"
#include "sz.h"
#include "tcache.h"
#include "tsd.h"

_Atomic bool init_done;

static mutex_t init_mtx = MUTEX_INITIALIZER;
/* Set while this thread runs the re-entrant part of the bootstrap. */
static __thread bool init_reentrant_here __attribute__((tls_model("initial-exec")));
static base_t init_global_base;

static void
init_prefork(void)
{
	ctl_prefork();
	tcache_prefork();
	arena_prefork();
	emap_prefork();
	base_prefork(&init_global_base);
}

static void
init_postfork_parent(void)
{
	base_postfork_parent(&init_global_base);
	emap_postfork_parent();
	arena_postfork_parent();
	tcache_postfork_parent();
	ctl_postfork_parent();
}

static void
init_postfork_child(void)
{
	base_postfork_child(&init_global_base);
	emap_postfork_child();
	arena_postfork_child();
	tcache_postfork_child();
	ctl_postfork_child();
}

static void
init_stats_print_atexit(void)
{
	stats_print_to_messages(opt_stats_print_opts);
}

static int
init_core(void)
{
	sz_boot();
	decay_boot();
	conf_init();
	base_init(&init_global_base);
	emap_boot(&init_global_base);
	unsigned narenas = arena_select_narenas(opt_narenas, os_ncpus());
	if (arena_boot(&init_global_base, narenas) != 0)
		return ENOMEM;
	stats_boot(&init_global_base);
	tcache_boot();
	return tsd_boot();
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
	int err = init_core();
	if (err == 0) {
		init_reentrant_here = true;
		pthread_atfork(init_prefork, init_postfork_parent, init_postfork_child);
		if (opt_stats_print)
			atexit(init_stats_print_atexit);
		init_reentrant_here = false;
		atomic_store_release(&init_done, true);
	}
	mutex_unlock(&init_mtx);
	return err;
}

/* Initialize at load time too, so that options such as stats_print act even
 * in a program that never allocates, and before any thread exists. */
__attribute__((constructor)) static void
init_at_load(void)
{
	init_ensure();
}
