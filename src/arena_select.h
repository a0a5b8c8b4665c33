/*
 * arena_select.h — which arena a thread uses.  L4.
 *
 * A thread is bound on first use to the automatic arena with the fewest
 * bound threads, creating a new arena while some are still unused, so the
 * first narenas threads each get their own.  The binding holds until the
 * thread exits.  With percpu_arena, the arena is instead the one of the CPU
 * the thread runs on (percpu: one per CPU; phycpu: one per physical core,
 * hyperthread siblings numbered n and n + ncpus/2 sharing), re-checked on
 * the thread's periodic events.
 */
#ifndef STRATA_ARENA_SELECT_H
#define STRATA_ARENA_SELECT_H

#include "arena.h"

/* Number of automatic arenas for narenas_opt (0: automatic) and the CPU
 * count, following percpu_arena. */
unsigned arena_select_narenas(unsigned narenas_opt, unsigned ncpus);
/* Binds the calling thread to an arena; NULL when none can be created. */
arena_t *arena_select_bind(void);
/* With percpu_arena: the arena the thread should use now, if it differs
 * from current (NULL otherwise). */
arena_t *arena_select_percpu_moved(arena_t *current);
void arena_select_unbind(arena_t *arena);
/* Rebinds the calling thread (thread.arena). */
void arena_select_move(arena_t *from, arena_t *to);

#endif
