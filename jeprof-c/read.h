/*
 * read.h — reads heap profiles into the profile model.
 *
 * Accepted input: jemalloc's / strata's `heap_v2/<R>` text (docs/compat.md,
 * "heap_v2 grammar"), plain or gzip-compressed, and jeprof's symbolized form (a
 * `--- symbol` section, `---`, `--- heap`, then a heap_v2 text) as written by
 * `jeprof --raw`.  Any other input, a truncated file or a malformed line is an
 * error naming the file and the line; it never crashes and never hangs.
 */
#ifndef JEPROF_READ_H
#define JEPROF_READ_H

#include <stdbool.h>

#include "mem.h"
#include "profile.h"

/* Which count line of each stack is read: READ_ALL_THREADS = "t*". */
#define READ_ALL_THREADS (-1L)

/*
 * Appends the profile in file path to p as a new source (negated when
 * is_base).  Returns 0, or an errno value with d set to "path:line: why".
 */
int read_profile_file(profile_t *p, const char *path, long thread, bool is_base, diag_t *d);

/* The same on a buffer already in memory (the fuzz tests use it). */
int read_profile_buffer(profile_t *p, const char *name, const char *buf, size_t len, long thread,
			bool is_base, diag_t *d);

/*
 * Adds the mappings of a /proc/<pid>/maps text (the body of a
 * MAPPED_LIBRARIES section) to source.  Returns 0, or an errno value with d
 * set to "name:line: why", line counted from the text's first line.
 */
int read_mappings_buffer(profile_t *p, uint32_t source, const char *name, const char *buf,
			 size_t len, diag_t *d);

/*
 * Reads the whole file at path into *out (malloc'd, *outlen bytes), inflated
 * when it is gzip-compressed (told by its magic bytes), passed through when
 * plain.  Returns 0, or an errno value with d set to "path: why".
 */
int read_load_file(const char *path, char **out, size_t *outlen, diag_t *d);

/* Whether path starts like a profile this reader accepts (plain or gzip). */
bool read_is_profile(const char *path);

#endif
