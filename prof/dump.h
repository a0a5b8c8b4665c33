/*
 * dump.h — heap profiles in jemalloc's heap_v2 format.
 *
 * A dump copies the counters (each stack shard's lock held only while its
 * counters are copied), then formats and writes the file with no lock that
 * allocation needs.  The file is written unnamed in the destination's
 * folder, fsynced and linked at its name (writer.h), so a reader never
 * sees half a dump and a failed dump leaves nothing.  Dumps run one at a
 * time (prof_dump_mtx); that lock is not taken by fork, and a fork child
 * starts with it free (the dumping thread is not in the child).
 *
 * The numbers are written so that jeprof's un-sampling of each line gives
 * back the unbiased estimates the counters hold (jemalloc 5.3's rule,
 * docs/design.md, "Profiler").
 */
#ifndef STRATA_PROF_DUMP_H
#define STRATA_PROF_DUMP_H

#include "conf.h"

/* Kinds of automatic dumps, as jemalloc names their files. */
#define PROF_DUMP_MANUAL 'm'
#define PROF_DUMP_INTERVAL 'i'
#define PROF_DUMP_GDUMP 'u'
#define PROF_DUMP_FINAL 'f'

void prof_dump_boot(void);
void prof_dump_postfork_child(void);
/* At exit: waits for the dump in progress to finish, then makes every later
 * dump fail with ECANCELED, so that exit never cuts a dump short (which
 * would lose it). */
void prof_dump_shutdown(void);
/* Writes a dump to path (gzip-compressed when gzip).  0 or an errno. */
int prof_dump_write(const char *path, bool gzip);
/* Room for an automatic dump's path: the prefix and what follows it. */
#define PROF_DUMP_PATH_MAX (CONF_PROF_PREFIX_MAX + 96)
/* An automatic dump of kind: named <prefix>.<pid>.<seq>.<kind><n>.heap, plus
 * .gz when prof_dump_compress (the final dump has no <n>); the name is left
 * in path.  0, ENOENT when the prefix is empty (automatic dumps are off;
 * path is then ""), or the write's errno, which is also reported in one
 * line unless quiet (or ECANCELED: the process is exiting). */
int prof_dump_auto(char kind, bool quiet, char path[PROF_DUMP_PATH_MAX]);
/* The length of the stem of an automatic dump's path (all but .heap[.gz]),
 * which files written beside the dump are named from. */
size_t prof_dump_auto_stem(const char *path);

#endif
