/*
 * stats.h — the statistics snapshot (the fields come from the counter
 * table, stats_counters.h), its merged views and malloc_stats_print.  L5.
 *
 * The snapshot is what the stats.* mallctl nodes and both printers read;
 * writing epoch (or calling malloc_stats_print) takes a new one.  Taking it
 * reads each arena's bins, large counters, pages and base under their own
 * locks, one at a time (no lock is held across arenas, so the world never
 * stops): the totals are exact when the program is quiescent and
 * approximate while it allocates, but within one snapshot every total is
 * the sum of its parts (stats.allocated is the sum over the arenas of
 * small.allocated + large.allocated, small.allocated the sum over the bins
 * of curregs times the size).
 *
 * Merged views: MALLCTL_ARENAS_ALL sums every arena that exists;
 * MALLCTL_ARENAS_DESTROYED holds the CUMUL counters of destroyed arenas,
 * handed over by arena_destroy (arena.h, arena_destroyed_hook).  A revived
 * arena counts from zero: its counters at destruction are kept as a
 * baseline and subtracted.
 *
 * Locks: the snapshot lock (jemalloc's "ctl") protects the snapshot and the
 * epoch; callers of stats_get and stats_arena_get hold it (stats_lock).  It
 * ranks above every lock the snapshot takes.  The destroyed view and the
 * baselines have their own lock (rank MUTEX_RANK_STATS_DESTROYED), taken by
 * arena_destroy under the arenas lock and by the snapshot.
 */
#ifndef STRATA_STATS_H
#define STRATA_STATS_H

#include "background.h"
#include "conf.h"
#include "mutex.h"
#include "pages.h"
#include "stats_counters.h"

#define STATS_FIELD(name, type, merge, doc) type name;

typedef struct stats_global {
	STATS_GLOBAL_COUNTERS(STATS_FIELD)
} stats_global_t;

typedef struct stats_class {
	STATS_CLASS_COUNTERS(STATS_FIELD)
} stats_class_t;

typedef struct stats_bin {
	STATS_BIN_COUNTERS(STATS_FIELD)
	mutex_stats_t mutex;
} stats_bin_t;

typedef struct stats_lextent {
	STATS_LEXTENT_COUNTERS(STATS_FIELD)
} stats_lextent_t;

/* Field for field STATS_EXTENT_COUNTERS. */
typedef pages_extent_stats_t stats_extent_t;

typedef struct stats_arena {
	bool initialized; /* the arena existed at the snapshot (always, for the merged views) */
	STATS_ARENA_COUNTERS_HEAD(STATS_FIELD)
	STATS_ARENA_COUNTERS_TAIL(STATS_FIELD)
	STATS_ARENA_COUNTERS_HPA(STATS_FIELD)
	stats_class_t small, large;
	mutex_stats_t mutexes[STATS_NARENA_MUTEXES];
	stats_bin_t bins[SZ_NBINS];
	stats_lextent_t lextents[SZ_NLEXTENTS];
	stats_extent_t extents[SZ_NPSIZES];
	/* Not a counter: bytes the arena's metadata mapped, a part of
	 * stats.mapped (an arena's mapped counts its pages only). */
	size_t metadata_mapped;
} stats_arena_t;

/* stats.thp.<name>: the huge-page policy (hpage.h) over every arena, as
 * of the snapshot.  stats.thp.huge_bytes and stats.thp.kernel_fallbacks
 * are read from the kernel when asked, not snapshotted. */
#define STATS_THP_COUNTERS(X)                                                                 \
	X(ranges, size_t, "2 MiB ranges of the heap with pages in use.")                      \
	X(huge_ranges, size_t, "Those of them that are huge (advised MADV_HUGEPAGE).")        \
	X(hugifies, uint64_t, "Dissolved ranges the purger made huge again.")                \
	X(collapse_failures, uint64_t, "MADV_COLLAPSE calls the kernel refused.")            \
	X(dissolves, uint64_t, "Huge ranges dissolved: sparse, then purged in part.")         \
	X(slab_pages_purged, uint64_t, "Free pages purged inside partly used slabs by the idle pass.")

typedef struct stats_thp {
#define STATS_THP_FIELD(name, type, doc) type name;
	STATS_THP_COUNTERS(STATS_THP_FIELD)
#undef STATS_THP_FIELD
} stats_thp_t;

typedef struct stats {
	uint64_t epoch; /* snapshots taken */
	stats_global_t global;
	mutex_stats_t mutexes[STATS_NGLOBAL_MUTEXES];
	background_stats_t background;
	stats_thp_t thp;
} stats_t;

/* The allocator-wide totals now, without the snapshot (mallinfo2, the
 * profiler's high-water mark). */
void stats_snapshot(stats_global_t *out);

/* realloc(non-NULL, 0) was called (stats.zero_reallocs). */
void stats_count_zero_realloc(void);

/* The snapshot lock. */
void stats_lock(void);
void stats_unlock(void);
/* Takes a new snapshot.  Lock held. */
void stats_refresh(void);
/* The snapshot, taking the first if there is none yet.  Lock held. */
const stats_t *stats_get(void);
/* Arena index's part of the snapshot (index may be MALLCTL_ARENAS_ALL or
 * MALLCTL_ARENAS_DESTROYED); NULL when there was no such arena at the
 * snapshot, or no memory for its table.  Lock held. */
const stats_arena_t *stats_arena_get(size_t index);
/* Zeroes the counters of every lock (stats.mutexes.reset). */
void stats_mutexes_reset(void);

typedef void stats_write_cb_t(void *cbopaque, const char *s);
/*
 * malloc_stats_print: takes a new snapshot and prints it, as text or, with
 * 'J' in opts, as JSON; the letters g m d a b l x e leave out the general
 * part, the merged arenas, the destroyed arenas, each arena, the bins, the
 * large classes, the lock tables and the extents tables (as jemalloc's).
 * The snapshot lock is held while write_cb runs: write_cb must not call
 * mallctl's stats.* or epoch.
 */
void stats_print(stats_write_cb_t *write_cb, void *cbopaque, const char *opts);

/* stats_print through malloc_message (or stderr). */
void stats_print_to_messages(const char *opts);

/* Set up by init: the global metadata base (emap leaves, arena structs);
 * installs the destroyed-arena hook. */
struct base;
void stats_boot(struct base *global_base);

/* ---- the printers (stats_text.c, stats_json.c); snapshot lock held */

typedef struct stats_opts {
	bool general, merged, destroyed, per_arena, bins, large, mutex, extents;
	/* stats.thp.huge_bytes, read from smaps before the lock is taken
	 * (-1: unreadable). */
	ssize_t huge_bytes;
} stats_opts_t;

typedef struct stats_out {
	stats_write_cb_t *cb;
	void *cbopaque;
} stats_out_t;

/* Formats (msg_format) into a line buffer and writes it. */
__attribute__((format(printf, 2, 3))) void stats_out(stats_out_t *out, const char *fmt, ...);

/* A setting as both printers show it: opt.<name> of an option-table row,
 * or a config.* node (a bool or a string). */
typedef struct stats_setting {
	enum { STATS_SETTING_NONE, STATS_SETTING_BOOL, STATS_SETTING_STR, STATS_SETTING_U64,
	       STATS_SETTING_I64 } kind;
	bool b;
	const char *s;
	uint64_t u;
	int64_t i;
} stats_setting_t;

/* The config.* nodes jemalloc 5.3 prints, in its order. */
#define STATS_NCONFIG 12
extern const char *const stats_config_names[STATS_NCONFIG];
/* config.<name>; NONE when the tree lacks it. */
stats_setting_t stats_config_setting(const char *name);
/* opt.<o->name>; NONE for rows without a node of their own. */
stats_setting_t stats_option_setting(const conf_option_t *o);

void stats_text_print(stats_out_t *out, const stats_opts_t *opts);
void stats_json_print(stats_out_t *out, const stats_opts_t *opts);

#endif
