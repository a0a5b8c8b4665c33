/*
 * backtrace.h — the stack of a sampled allocation.
 *
 * Two unwinders (opt.prof_backtrace): libunwind's unw_backtrace (reads the
 * DWARF unwind tables, works for any code) and a frame-pointer walk (a few
 * loads per frame, but only as good as the frame pointers of the code it
 * walks).  Frames inside strata itself are dropped, so that a stack starts
 * at the program's call into the allocator (docs/design.md, "Profiler").
 *
 * Called with no allocator lock held and with the thread's reentrancy level
 * raised: libunwind may allocate (its caches), and those allocations must
 * not be sampled.
 *
 * Locks: libunwind keeps global caches behind its own locks and has no fork
 * handlers, so a fork while another thread unwinds could leave the child
 * with a lock nobody will release.  Each libunwind capture therefore holds
 * one of PROF_UNWIND_GATES registered locks (picked by the thread's stack
 * address, so threads rarely share one): fork takes them all, which waits
 * for every capture in flight to finish.
 */
#ifndef STRATA_PROF_BACKTRACE_H
#define STRATA_PROF_BACKTRACE_H

#include "config.h"

#define PROF_UNWIND_GATES 16

/* Finds strata's own code (to drop its frames) and registers the unwind
 * gates.  Called by prof_boot. */
void prof_backtrace_boot(void);
/* Frames of strata's own that a capture may see above the program's. */
#define PROF_BACKTRACE_SLACK 16
/* Fills pcs with up to max return addresses of the program's stack,
 * innermost first, and returns how many; pcs has room for
 * max + PROF_BACKTRACE_SLACK (the frames dropped). */
unsigned prof_backtrace(uintptr_t *pcs, unsigned max);

#endif
