/*
 * leak_filter.h — which contexts of the leak report the suppressions
 * cover (leak.h, suppress.h).
 *
 * Each frame of a context's stack is named in the process (symbolize_self.h)
 * and matched against the suppressions.  Stacks share most of their frames
 * (main, the library's entry points), and naming one can take tens of
 * microseconds (the inlined functions come from walking its compilation
 * unit's debug information), so each address is named and matched once:
 * what it matched is kept in a table keyed by address, in mapped scratch
 * memory (scratch.h).  A table half full stops remembering; what is not
 * remembered is computed again.
 *
 * Used by the exiting thread only, inside a symbolizer session; no locks.
 */
#ifndef STRATA_PROF_LEAK_FILTER_H
#define STRATA_PROF_LEAK_FILTER_H

#include "prof/stacks.h"
#include "prof/suppress.h"

typedef struct prof_leak_memo prof_leak_memo_t;

typedef struct prof_leak_filter {
	const prof_suppress_t *sup;
	prof_leak_memo_t *memo; /* NULL: nothing remembered */
	size_t cap, bytes;      /* slots (a power of two), and their mapping */
	size_t used;            /* slots taken */
} prof_leak_filter_t;

/* A filter for sup, with room to remember about max_frames addresses. */
void prof_leak_filter_begin(prof_leak_filter_t *f, const prof_suppress_t *sup,
                            size_t max_frames);
prof_suppress_verdict_t prof_leak_filter_stack(prof_leak_filter_t *f, const prof_stack_t *stack);
void prof_leak_filter_end(prof_leak_filter_t *f);

/* The address to name for frame i of a stack: the first is one byte into
 * the allocating call already; the others are return addresses, so one
 * byte back is inside the call (its line, not the next statement's). */
static inline uintptr_t
prof_leak_frame_pc(const prof_stack_t *stack, unsigned i)
{
	return i == 0 ? stack->pcs[0] : stack->pcs[i] - 1;
}

#endif
