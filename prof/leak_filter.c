/*
 * leak_filter.c — suppressions applied to the leak report's contexts, each
 * address named once.  See leak_filter.h.
 */
#include "prof/leak_filter.h"
#include "prof/scratch.h"

/* What one address matched; pc 0 marks a free slot. */
struct prof_leak_memo {
	uintptr_t pc;
	prof_suppress_match_t match;
};

/* The most slots a filter maps (32 MiB of them). */
#define PROF_LEAK_MEMO_MAX ((size_t)1 << 20)

void
prof_leak_filter_begin(prof_leak_filter_t *f, const prof_suppress_t *sup, size_t max_frames)
{
	*f = (prof_leak_filter_t){.sup = sup};
	size_t cap = 64;
	while (cap < PROF_LEAK_MEMO_MAX && cap < 2 * max_frames)
		cap *= 2;
	f->bytes = cap * sizeof(prof_leak_memo_t);
	f->memo = prof_scratch_map(f->bytes);
	f->cap = f->memo != NULL ? cap : 0;
}

void
prof_leak_filter_end(prof_leak_filter_t *f)
{
	prof_scratch_unmap(f->memo, f->bytes);
	*f = (prof_leak_filter_t){0};
}

/* The slot of pc: its own, or the free one where it belongs (the table
 * is at most half full, so one is near); NULL without a table. */
static prof_leak_memo_t *
prof_leak_filter_slot(prof_leak_filter_t *f, uintptr_t pc)
{
	if (f->cap == 0 || pc == 0)
		return NULL;
	size_t mask = f->cap - 1;
	for (size_t i = (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 17);; i++) {
		prof_leak_memo_t *m = &f->memo[i & mask];
		if (m->pc == pc || m->pc == 0)
			return m;
	}
}

/* What the frame at pc matches, remembered while the table is at most
 * half full. */
static prof_suppress_match_t
prof_leak_filter_frame(prof_leak_filter_t *f, uintptr_t pc)
{
	prof_leak_memo_t *slot = prof_leak_filter_slot(f, pc);
	if (slot != NULL && slot->pc == pc)
		return slot->match;
	prof_sym_t sym;
	prof_symbolize_self(pc, &sym);
	prof_suppress_match_t m = {0};
	prof_suppress_frame(f->sup, &m, &sym);
	if (slot != NULL && f->used < f->cap / 2) {
		*slot = (prof_leak_memo_t){pc, m};
		f->used++;
	}
	return m;
}

prof_suppress_verdict_t
prof_leak_filter_stack(prof_leak_filter_t *f, const prof_stack_t *stack)
{
	prof_suppress_match_t m = {0};
	if (f->sup->builtin || f->sup->npatterns != 0) {
		for (unsigned i = 0; i < stack->depth; i++) {
			prof_suppress_match_t fm = prof_leak_filter_frame(f, prof_leak_frame_pc(stack, i));
			prof_suppress_add(&m, &fm);
		}
	}
	return prof_suppress_verdict(f->sup, &m);
}
