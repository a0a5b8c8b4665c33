/*
 * recent.h — the records of a prof_recent file (the last sampled
 * allocations, as jemalloc's and strata's prof_recent_alloc_dump write them)
 * and their reader.
 *
 * Accepted input: one JSON object, plain or gzip-compressed, with the keys
 * sample_interval, recent_alloc_max, recent_alloc (an array of records,
 * oldest first) and, written by strata only, mapped_libraries (the text of
 * /proc/self/maps), in any order; unknown keys are skipped anywhere.  A
 * record holds size, usize, released, alloc_thread_uid, alloc_time and
 * alloc_trace, maybe alloc_thread_name, and, when the free was recorded,
 * dalloc_thread_uid, dalloc_time, dalloc_trace and maybe dalloc_thread_name.
 * Anything else is an error naming the file, line and column; the reader
 * never crashes and never hangs.
 *
 * Invariants: records keep the file's order; every trace is a sample of the
 * embedded profile (one source, the file) whose stack is stored as a heap
 * dump's would be (innermost first, every frame but the first moved back onto
 * its call), so it is symbolized and trimmed of allocator frames exactly like
 * a heap dump's; sample values are unused (zero).
 */
#ifndef JEPROF_RECENT_H
#define JEPROF_RECENT_H

#include <stdbool.h>
#include <stdint.h>

#include "mem.h"
#include "profile.h"

/* An allocation or its free: when, by which thread, from which stack. */
typedef struct recent_event {
	uint64_t time;        /* ns of the profiler's clock */
	uint64_t thread_uid;  /* the profiler's thread number (t<n> of heap dumps) */
	uint32_t thread_name; /* strtab id in prof.strs; 0 = unnamed */
	uint32_t sample;      /* index into prof.samples: the stack */
} recent_event_t;

typedef struct recent_record {
	uint64_t size;       /* requested bytes */
	uint64_t usize;      /* usable bytes */
	bool released;       /* freed since */
	bool has_dalloc;     /* released, and dalloc holds the free */
	recent_event_t alloc;
	recent_event_t dalloc;
} recent_record_t;

typedef struct recent {
	profile_t prof;
	uint64_t sample_interval;
	int64_t recent_alloc_max; /* -1: unlimited */
	bool has_maps;            /* the file had mapped_libraries */
	recent_record_t *recs;    /* oldest first */
	size_t nrecs, caprecs;
} recent_t;

void recent_init(recent_t *r);
void recent_fini(recent_t *r);

/*
 * Reads the prof_recent file at path into r (once, into a fresh r).  When
 * the file has no mapped_libraries, program (if not NULL) stands for the
 * process's only mapping, at its link addresses, as for a heap dump without
 * mappings.  Returns 0, or an errno value with d set to
 * "path:line:column: why".
 */
int recent_read_file(recent_t *r, const char *path, const char *program, diag_t *d);

/* The same on a buffer already in memory (the tests use it). */
int recent_read_buffer(recent_t *r, const char *name, const char *buf, size_t len,
		       const char *program, diag_t *d);

/* Whether path starts like a JSON object (plain or gzip): a prof_recent file. */
bool recent_is_file(const char *path);

#endif
