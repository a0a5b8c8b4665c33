/*
 * scratch.h — the scratch memory of dumps and leak reports: mapped for the
 * work and unmapped after it, so that nothing in them calls malloc (they
 * may run inside the allocator, or at exit after the final dump).
 *
 * Owns: a page mapping helper, the copy of every stack line's counters
 * (prof_stacks_snapshot, retried with more room while stacks appear), and
 * a text of lines that grows as it is written.
 *
 * Locks: none of its own.  A snapshot holds each stack shard's lock only
 * while that shard's counters are copied (stacks.h); the scratch itself
 * belongs to the thread that made it.
 */
#ifndef STRATA_PROF_SCRATCH_H
#define STRATA_PROF_SCRATCH_H

#include <stdarg.h>

#include "prof/stacks.h"

/* bytes of zeroed memory (rounded up to pages; NULL when the mapping
 * fails), and its unmapping. */
void *prof_scratch_map(size_t bytes);
void prof_scratch_unmap(void *p, size_t bytes);

/* Every stack line with live (or accumulated) samples, grouped by stack. */
typedef struct prof_scratch_lines {
	prof_stacks_line_t *lines;
	size_t nlines, bytes;
} prof_scratch_lines_t;

/* Copies the counters into l.  0 or ENOMEM. */
int prof_scratch_lines_copy(prof_scratch_lines_t *l);
void prof_scratch_lines_free(prof_scratch_lines_t *l);

/*
 * Text made of lines, each formatted by msg_vformat and kept with its NUL
 * (so that each can be written on its own).  A line that cannot get memory
 * is dropped and counted.
 */
typedef struct prof_scratch_text {
	char *buf;
	size_t len, cap;
	size_t dropped;
} prof_scratch_text_t;

void prof_scratch_text_line(prof_scratch_text_t *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Calls write(line) for each line, in order. */
void prof_scratch_text_each(const prof_scratch_text_t *t, void (*write)(const char *line));
void prof_scratch_text_free(prof_scratch_text_t *t);

#endif
