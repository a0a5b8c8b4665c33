/*
 * arena_select.c — least-loaded arena choice.  See arena_select.h.
 *
 * No lock: nthreads counters are atomics, and two threads racing may pick the
 * same arena, which only costs balance, not correctness.
 */
#include "arena_select.h"

arena_t *
arena_select_bind(void)
{
	arena_t *best = NULL;
	unsigned best_load = UINT32_MAX;
	unsigned first_unused = UINT32_MAX;
	for (unsigned i = 0; i < arena_narenas_auto(); i++) {
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
	if (best != NULL)
		atomic_add_relaxed(&best->nthreads, 1);
	return best;
}

void
arena_select_unbind(arena_t *arena)
{
	atomic_sub_relaxed(&arena->nthreads, 1);
}
