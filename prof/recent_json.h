/*
 * recent_json.h — the ring of recent allocations (recent.h) as jemalloc's
 * prof_recent JSON, to a file or through a write callback.
 *
 * One compact line (docs/compat.md, "Recent allocations" has the fields):
 *   {"sample_interval":R,"recent_alloc_max":N,"recent_alloc":[{...},...],
 *    "mapped_libraries":"<the text of /proc/self/maps>"}
 * Records oldest first, each with jemalloc's fields in jemalloc's order;
 * mapped_libraries is strata's (jeprof --recent symbolizes with it).
 *
 * Nothing here calls malloc: text is built in a mapped buffer and handed to
 * the callback in NUL-terminated chunks of at most PROF_WRITER_BUFSIZE
 * bytes, or to a prof_writer_t (writer.h: the file appears whole or not at
 * all).
 * Locks: one recent dump at a time (prof_recent_dump_mtx, not taken by
 * fork); the ring's lock is taken per record copied (recent.h), and the
 * thread-data lock per name copied; no lock is held while writing.
 */
#ifndef STRATA_PROF_RECENT_JSON_H
#define STRATA_PROF_RECENT_JSON_H

#include "config.h"

void prof_recent_json_boot(void);
void prof_recent_json_postfork_child(void);
/* experimental.prof_recent.alloc_dump: the JSON through write_cb(cbopaque,
 * chunk); write_cb NULL writes it as messages are (malloc_message or
 * stderr).  0 or ENOMEM (no buffer could be mapped). */
int prof_recent_json_dump_cb(void (*write_cb)(void *, const char *), void *cbopaque);
/* prof.recent.dump and the signal's dump: the JSON to path, gzip-compressed
 * when gzip.  0 or an errno (prof_writer_open's and the write's; ECANCELED
 * after prof_recent_json_shutdown). */
int prof_recent_json_dump_file(const char *path, bool gzip);
/* At exit: waits for a file dump in progress and refuses later ones, so
 * that exit never cuts one short. */
void prof_recent_json_shutdown(void);

#endif
