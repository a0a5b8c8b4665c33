/*
 * arena_select.h — which arena a thread uses.  L4.
 *
 * A thread is bound on first use to the automatic arena with the fewest
 * bound threads, creating a new arena while some are still unused, so the
 * first narenas threads each get their own.  With NUMA (numa.h) the choice
 * is among the arenas of the node the thread runs on; a thread found on
 * another node at ARENA_SELECT_NODE_STRIKES consecutive re-checks has
 * moved for good and, with numa_migrate:rebind, moves to an arena of its
 * new node.  Otherwise the binding holds until the thread exits.  With
 * percpu_arena, the arena is instead the one of the CPU the thread runs on
 * (percpu: one per CPU; phycpu: one per physical core, hyperthread
 * siblings numbered n and n + ncpus/2 sharing), re-checked on the thread's
 * periodic events.
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
/* With NUMA and numa_migrate:rebind, at a re-check: the arena of the node
 * the thread now runs on, once it has been found away from current's node
 * at ARENA_SELECT_NODE_STRIKES consecutive re-checks (counted in *strikes,
 * the thread's); NULL otherwise. */
#define ARENA_SELECT_NODE_STRIKES 2
arena_t *arena_select_node_moved(arena_t *current, uint8_t *strikes);
void arena_select_unbind(arena_t *arena);
/* Rebinds the calling thread (thread.arena). */
void arena_select_move(arena_t *from, arena_t *to);

#endif
