/*
 * describe.c — what the profiler knows of one object, for the report of a
 * failed safety check (prof.h; docs/design.md "Safety checks"): the stack
 * that allocated it and, once it was freed, the stack that freed it.
 *
 * A live sampled object's allocation stack is in its extent's sample.  A
 * freed one's are in the ring of recent allocations (recent.h), found by
 * its address, which the ring records only under safety_checks
 * (prof_sample_placed).  An object that was not sampled, or whose record
 * was evicted, has no stack to give.
 *
 * Frames are named in the process (symbolize_self.h), in a session of the
 * calling thread's, one report at a time (prof_describe_busy): another
 * report meanwhile prints raw addresses.  No lock of its own; the ring's
 * lock is taken to find a record.
 */
#include <stdatomic.h>

#include "conf.h"
#include "msg.h"
#include "prof/leak_filter.h"
#include "prof/prof.h"
#include "prof/recent.h"
#include "prof/stacks.h"
#include "prof/symbolize_self.h"

/* Frames printed per stack: a report stays one readable message. */
#define PROF_DESCRIBE_FRAMES 8

static atomic_flag prof_describe_busy = ATOMIC_FLAG_INIT;

void
prof_sample_placed(const extent_sample_t *s, const void *ptr)
{
	prof_recent_place(s, ptr);
}

/* Appends text at *len (kept below size). */
static void
prof_describe_append(char *buf, size_t size, size_t *len, const char *text)
{
	*len += msg_format(buf + *len, size - *len, "%s", text);
	if (*len >= size)
		*len = size - 1;
}

/* The heading, then the frames of stack, named when symbolize is true. */
static void
prof_describe_stack(char *buf, size_t size, size_t *len, const char *heading,
                    const prof_stack_t *stack, bool symbolize)
{
	char line[PROF_SYM_LINE_BYTES];
	msg_format(line, sizeof(line), "%s%s\n", MSG_PREFIX, heading);
	prof_describe_append(buf, size, len, line);
	unsigned depth = stack->depth < PROF_DESCRIBE_FRAMES ? stack->depth : PROF_DESCRIBE_FRAMES;
	unsigned n = 0;
	for (unsigned f = 0; f < depth; f++) {
		prof_sym_t sym = {.nfuncs = 1}; /* unnamed: the address alone */
		if (symbolize)
			prof_symbolize_self(prof_leak_frame_pc(stack, f), &sym);
		for (unsigned i = 0; i < sym.nfuncs; i++) {
			prof_sym_frame_line(line, sizeof(line), n++, stack->pcs[f], &sym, i);
			prof_describe_append(buf, size, len, line);
		}
	}
}

prof_described_t
prof_describe_object(const void *ptr, const extent_sample_t *live, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!opt_prof)
		return PROF_DESCRIBED_NONE;
	const prof_stack_t *alloc_stack = NULL, *dalloc_stack = NULL;
	bool released = false;
	if (live != NULL && live->tctx != NULL)
		alloc_stack = ((const struct prof_tctx *)live->tctx)->stack;
	else if (!prof_recent_find(ptr, &alloc_stack, &dalloc_stack, &released))
		return PROF_DESCRIBED_NONE;
	if (alloc_stack == NULL && dalloc_stack == NULL && !released)
		return PROF_DESCRIBED_NONE;
	bool symbolize = !atomic_flag_test_and_set(&prof_describe_busy);
	if (symbolize)
		prof_symbolize_self_begin();
	size_t len = 0;
	if (alloc_stack != NULL)
		prof_describe_stack(buf, size, &len, "allocated at:", alloc_stack, symbolize);
	if (dalloc_stack != NULL)
		prof_describe_stack(buf, size, &len, "freed at:", dalloc_stack, symbolize);
	else if (released)
		prof_describe_append(buf, size, &len, MSG_PREFIX "freed (no stack recorded)\n");
	if (symbolize) {
		prof_symbolize_self_end();
		atomic_flag_clear(&prof_describe_busy);
	}
	return released ? PROF_DESCRIBED_FREED : PROF_DESCRIBED_LIVE;
}
