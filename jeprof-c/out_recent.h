/*
 * out_recent.h — the --recent report: the records of a prof_recent file,
 * newest first, each with its symbolized stacks, after the filters.
 *
 *   Recent allocations: 6 of 6 shown (3 live, 3 freed), sample_interval 524288,
 *     recent_alloc_max 1000                                  (one line)
 *        #  alloc time (s)             size      usize  state         thread
 *        1  616.815562623              5000       5120  freed 1.2ms   t0 mainthr
 *             <alloc stack, one frame a line, innermost first>
 *           freed by t1 worker at 616.816797190:
 *             <free stack>
 *
 * printf("%6zu  %-20s %10s %10s  %-13s %s") for the column line and the
 * rows; the index is the record's position in the file (0 the oldest);
 * times are seconds of the profiler's clock with nine decimals; the state
 * is live, freed, or freed and the lifetime (dalloc_time - alloc_time in
 * ns, us, ms, s, min or h, one decimal); threads are t<uid> and the name.
 * Live/freed count the records shown; the column line and the rows only
 * appear when a record is shown.  Frames are named like --text --lines
 * ("func (inline) file:line", allocator frames removed); one without symbols
 * is the address as the file wrote it.
 */
#ifndef JEPROF_OUT_RECENT_H
#define JEPROF_OUT_RECENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mem.h"
#include "recent.h"

typedef struct out_recent_options {
	uint64_t min_size, max_size; /* requested size bounds, inclusive */
	const char *focus;           /* extended regex: keep records with a matching alloc frame */
	const char *ignore;          /* extended regex: drop records with a matching alloc frame */
	long thread;                 /* only records allocated by this thread uid, or -1 */
	size_t max_records;          /* print at most this many (the newest) */
} out_recent_options_t;

/* Writes the report of r, symbolized; fails (EINVAL, d set) only on a bad regex. */
int out_recent_write(FILE *f, const recent_t *r, const out_recent_options_t *o, diag_t *d);

#endif
