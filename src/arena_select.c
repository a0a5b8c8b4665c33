/*
 * arena_select.c — least-loaded arena choice.  See arena_select.h.
 *
 * No lock: nthreads counters are atomics, and two threads racing may pick the
 * same arena, which only costs balance, not correctness.
 */
#include "arena_select.h"
#include "conf.h"
#include "numa.h"
#include "os.h"

static unsigned arena_select_ncpus;

unsigned
arena_select_narenas(unsigned narenas_opt, unsigned ncpus)
{
	arena_select_ncpus = ncpus;
	switch (opt_percpu_arena) {
	case CONF_PERCPU_ARENA_PERCPU:
		return ncpus;
	case CONF_PERCPU_ARENA_PHYCPU:
		return ncpus > 1 ? ncpus / 2 : 1;
	case CONF_PERCPU_ARENA_DISABLED:
		break;
	}
	if (narenas_opt != 0)
		return narenas_opt;
	/* jemalloc's default: ncpus times narenas_ratio (fixed-point, 4.0 by
	 * default), rounded to nearest, at least 1; 1 on a single CPU. */
	uint64_t goal = ((uint64_t)ncpus * opt_narenas_ratio + CONF_FXP_ONE / 2) >> 16;
	return ncpus == 1 || goal == 0 ? 1 : goal > UINT_MAX ? UINT_MAX : (unsigned)goal;
}

/* The automatic arena of the CPU the thread runs on. */
static arena_t *
arena_select_of_cpu(void)
{
	unsigned cpu = os_getcpu();
	unsigned half = arena_select_ncpus / 2;
	if (opt_percpu_arena == CONF_PERCPU_ARENA_PHYCPU && half > 0 && cpu >= half)
		cpu -= half;
	return arena_get(cpu % arena_narenas_auto(), true);
}

arena_t *
arena_select_percpu_moved(arena_t *current)
{
	if (opt_percpu_arena == CONF_PERCPU_ARENA_DISABLED)
		return NULL;
	arena_t *now = arena_select_of_cpu();
	return now != NULL && now != current ? now : NULL;
}

/* The automatic arena of [lo, hi) with the fewest bound threads, creating
 * the first unused index instead while every existing one has a thread;
 * NULL when none can be had. */
static arena_t *
arena_select_least_loaded(unsigned lo, unsigned hi)
{
	arena_t *best = NULL;
	unsigned best_load = UINT32_MAX;
	unsigned first_unused = UINT32_MAX;
	for (unsigned i = lo; i < hi; i++) {
		arena_t *a = arena_get(i, false);
		if (a == NULL) {
			if (first_unused == UINT32_MAX)
				first_unused = i;
			continue;
		}
		unsigned load = atomic_load_relaxed(&a->nthreads);
		if (load < best_load) {
			best = a;
			best_load = load;
		}
	}
	if ((best == NULL || best_load > 0) && first_unused != UINT32_MAX) {
		arena_t *fresh = arena_get(first_unused, true);
		if (fresh != NULL)
			best = fresh;
	}
	return best;
}

/* The least loaded arena of the node the thread runs on (of all automatic
 * arenas without NUMA). */
static arena_t *
arena_select_of_node(unsigned node)
{
	unsigned lo, hi;
	numa_arena_range(node, arena_narenas_auto(), &lo, &hi);
	return arena_select_least_loaded(lo, hi);
}

arena_t *
arena_select_bind(void)
{
	if (arena_narenas_auto() == 0)
		return NULL; /* re-entered during bootstrap, before the arenas exist */
	arena_t *a = opt_percpu_arena != CONF_PERCPU_ARENA_DISABLED
	                     ? arena_select_of_cpu()
	                     : arena_select_of_node(numa_current_node());
	if (a != NULL)
		atomic_add_relaxed(&a->nthreads, 1);
	return a;
}

arena_t *
arena_select_node_moved(arena_t *current, uint8_t *strikes)
{
	if (!numa_active() || opt_numa_migrate == CONF_NUMA_MIGRATE_STAY ||
	    opt_percpu_arena != CONF_PERCPU_ARENA_DISABLED)
		return NULL;
	unsigned lo, hi, node = numa_current_node();
	numa_arena_range(node, arena_narenas_auto(), &lo, &hi);
	if (current->ind >= lo && current->ind < hi) {
		*strikes = 0;
		return NULL;
	}
	/* A one-off run on another node (an interrupt, a short migration by
	 * the scheduler) is not a move. */
	if (++*strikes < ARENA_SELECT_NODE_STRIKES)
		return NULL;
	*strikes = 0;
	return arena_select_of_node(node);
}

void
arena_select_unbind(arena_t *arena)
{
	atomic_sub_relaxed(&arena->nthreads, 1);
}

void
arena_select_move(arena_t *from, arena_t *to)
{
	atomic_sub_relaxed(&from->nthreads, 1);
	atomic_add_relaxed(&to->nthreads, 1);
}
