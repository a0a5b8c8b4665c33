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
 * not be sampled.  No locks of its own.
 */
#ifndef STRATA_PROF_BACKTRACE_H
#define STRATA_PROF_BACKTRACE_H

#include "config.h"

/* Finds strata's own code (to drop its frames).  Called by prof_boot. */
void prof_backtrace_boot(void);
/* Frames of strata's own that a capture may see above the program's. */
#define PROF_BACKTRACE_SLACK 16
/* Fills pcs with up to max return addresses of the program's stack,
 * innermost first, and returns how many; pcs has room for
 * max + PROF_BACKTRACE_SLACK (the frames dropped). */
unsigned prof_backtrace(uintptr_t *pcs, unsigned max);

#endif
