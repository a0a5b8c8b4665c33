/*
 * backtrace.c — stack capture.  See backtrace.h.
 *
 * strata's own code is the executable segment of the ELF object holding
 * this file, found from the linker-defined __ehdr_start without calling
 * the dynamic loader (which takes locks that a malloc made inside the
 * loader may already hold).  In the internal test archive that object is
 * the test program itself, so nothing is dropped there.
 */
#include <elf.h>
#include <link.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "conf.h"
#include "mutex.h"
#include "prof/backtrace.h"

extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

/* strata's executable code: [prof_text_begin, prof_text_end). */
static uintptr_t prof_text_begin, prof_text_end;
static mutex_t prof_unwind_gates[PROF_UNWIND_GATES];

void
prof_backtrace_boot(void)
{
	for (unsigned i = 0; i < PROF_UNWIND_GATES; i++) {
		mutex_init(&prof_unwind_gates[i], "prof_unwind", MUTEX_RANK_PROF_UNWIND);
		mutex_register(&prof_unwind_gates[i], NULL);
	}
	if (config_test_hooks)
		return;
	const ElfW(Ehdr) *eh = &__ehdr_start;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
	uintptr_t load_bias = 0;
	bool bias_known = false;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		/* The ELF header is mapped at the start of the first segment. */
		if (!bias_known) {
			load_bias = (uintptr_t)eh - (ph[i].p_vaddr - ph[i].p_offset);
			bias_known = true;
		}
		if (ph[i].p_flags & PF_X) {
			prof_text_begin = load_bias + ph[i].p_vaddr;
			prof_text_end = prof_text_begin + ph[i].p_memsz;
		}
	}
}

static bool
prof_backtrace_inside_strata(uintptr_t pc)
{
	return pc >= prof_text_begin && pc < prof_text_end;
}

/*
 * The frame-pointer walk: each frame holds the caller's frame pointer and
 * the return address above it.  A chain must climb the stack in small
 * steps; anything else (code without frame pointers, the end of the stack)
 * stops the walk.
 */
static unsigned
prof_backtrace_fp(uintptr_t *pcs, unsigned max)
{
	const uintptr_t *fp = __builtin_frame_address(0);
	unsigned n = 0;
	while (n < max && fp != NULL && ((uintptr_t)fp & (sizeof(void *) - 1)) == 0) {
		uintptr_t ret = fp[1];
		const uintptr_t *next = (const uintptr_t *)fp[0];
		if (ret == 0)
			break;
		pcs[n++] = ret;
		if (next <= fp || (uintptr_t)next - (uintptr_t)fp > ((uintptr_t)1 << 24))
			break;
		fp = next;
	}
	return n;
}

unsigned
prof_backtrace(uintptr_t *pcs, unsigned max)
{
	unsigned n, room = max + PROF_BACKTRACE_SLACK;
	if (opt_prof_backtrace == CONF_PROF_BACKTRACE_FP) {
		n = prof_backtrace_fp(pcs, room);
	} else {
		/* Threads' stacks are at least a page apart. */
		mutex_t *gate = &prof_unwind_gates[((uintptr_t)&room >> LG_PAGE) % PROF_UNWIND_GATES];
		mutex_lock(gate);
		int got = unw_backtrace((void **)pcs, (int)room);
		mutex_unlock(gate);
		n = got > 0 ? (unsigned)got : 0;
	}
	/* Drop strata's frames; keep one if nothing else is left.  The first
	 * frame left is then a return address, which jeprof (perl's and
	 * ours) takes as the address of an instruction, as it does for a
	 * stack's first frame: step back into the call, so that the
	 * allocation's own line and inlined function are reported, not the
	 * statement after the call. */
	unsigned skip = 0;
	while (skip + 1 < n && prof_backtrace_inside_strata(pcs[skip]))
		skip++;
	if (skip != 0) {
		for (unsigned i = skip; i < n; i++)
			pcs[i - skip] = pcs[i];
		n -= skip;
		pcs[0]--;
	}
	return n < max ? n : max;
}
