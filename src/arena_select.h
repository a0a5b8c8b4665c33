/*
 * arena_select.h — which arena a thread uses.  L4.
 *
 * A thread is bound on first use to the automatic arena with the fewest
 * bound threads, creating a new arena while some are still unused, so the
 * first narenas threads each get their own.  The binding holds until the
 * thread exits.
 */
#ifndef STRATA_ARENA_SELECT_H
#define STRATA_ARENA_SELECT_H

#include "arena.h"

/* Binds the calling thread to an arena; NULL when none can be created. */
arena_t *arena_select_bind(void);
void arena_select_unbind(arena_t *arena);

#endif
