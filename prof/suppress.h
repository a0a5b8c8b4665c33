/*
 * suppress.h — which leaks the exit report leaves out: the patterns of the
 * prof_leak_suppress file and the built-in list (prof_leak_suppress_defaults).
 *
 * The file holds one pattern a line, as LeakSanitizer's suppressions do:
 * "leak:<pattern>" or the bare pattern, blank lines and lines starting
 * with '#' skipped, spaces around a pattern ignored.  '*' matches any run
 * of characters; a pattern matches anywhere in a name unless '^' starts it
 * (anchored at the start) or '$' ends it (anchored at the end).  A leak is
 * suppressed when a pattern matches a function of any frame of its stack
 * (one inlined there included, and the symbol as its file spells it, C++
 * names mangled) or the frame's file (library or program, its base name
 * or whole path).
 *
 * A built-in rule names a function together with its library, or a
 * library whose own initialisation (run by the dynamic loader, no code of
 * the program on the stack) allocated: narrow enough that it cannot hide
 * a leak of the program's own.  The list and the evidence for each rule
 * are in suppress.c.
 *
 * A stack is checked frame by frame (prof_suppress_frame, or
 * prof_suppress_add of what a frame matched before), then judged
 * (prof_suppress_verdict).  No locks: used by the exiting thread only.
 */
#ifndef STRATA_PROF_SUPPRESS_H
#define STRATA_PROF_SUPPRESS_H

#include "prof/symbolize_self.h"

typedef struct prof_suppress_pattern {
	const char *text; /* without the anchors; not NUL-terminated */
	size_t len;
	bool start, end; /* anchored */
} prof_suppress_pattern_t;

typedef struct prof_suppress {
	bool builtin;                      /* apply the built-in rules */
	prof_suppress_pattern_t *patterns; /* the file's, in mapped scratch */
	size_t npatterns, patterns_bytes;
	char *text; /* the file's contents, which the patterns point into */
	size_t text_bytes;
} prof_suppress_t;

/* The file's patterns into s (path "" reads nothing).  0, or the errno of
 * opening or reading it; s then has no patterns. */
int prof_suppress_load(prof_suppress_t *s, const char *path);
void prof_suppress_free(prof_suppress_t *s);

/* What the frames of one stack have matched so far. */
typedef struct prof_suppress_match {
	uint64_t builtin_hit;    /* one bit per built-in rule a frame meets */
	uint64_t builtin_broken; /* rules a frame rules out (suppress.c) */
	bool file;               /* a pattern of the file */
} prof_suppress_match_t;

typedef enum prof_suppress_verdict {
	PROF_SUPPRESS_NONE,
	PROF_SUPPRESS_BUILTIN,
	PROF_SUPPRESS_FILE,
} prof_suppress_verdict_t;

void prof_suppress_frame(const prof_suppress_t *s, prof_suppress_match_t *m,
                         const prof_sym_t *sym);
/* Adds what another frame matched (kept from an earlier look) to m. */
void prof_suppress_add(prof_suppress_match_t *m, const prof_suppress_match_t *frame);
/* The file's patterns win over the built-in rules (so its count shows
 * what it suppresses that the defaults would not). */
prof_suppress_verdict_t prof_suppress_verdict(const prof_suppress_t *s,
                                              const prof_suppress_match_t *m);

#endif
