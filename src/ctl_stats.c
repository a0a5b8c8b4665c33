/*
 * ctl_stats.c — epoch and the stats.* subtree of the mallctl tree.  L5.
 * See ctl.h for the tree and docs/compat.md, "mallctl", for the rules.
 *
 * Stats are a snapshot (stats.h): writing epoch takes a new one, and a
 * read before any write takes the first.  The counter table
 * (stats_counters.h) generates the nodes: each table's leaves come first in
 * their parent's array, in table order, so a leaf's own MIB component is
 * its row, and one handler per table reads the row's field through a
 * generated (offset, size) list.  The lock nodes work the same way: in
 * stats.mutexes.<name>.<counter> the MIB gives the lock's row and the
 * counter's.
 *
 * Locks: each handler holds the snapshot lock (stats_lock) while it reads
 * the snapshot, and copies out after releasing it.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arena.h"
#include "ctl.h"
#include "stats.h"

/* Where a row's value lies in its struct. */
typedef struct ctl_stats_field {
	size_t offset, size;
} ctl_stats_field_t;

#define CTL_STATS_FIELD_OF(s) ctl_stats_field_of_##s
#define ctl_stats_field_of_global(name, type, merge, doc) {offsetof(stats_global_t, name), sizeof(type)},
#define ctl_stats_field_of_arena(name, type, merge, doc) {offsetof(stats_arena_t, name), sizeof(type)},
#define ctl_stats_field_of_class(name, type, merge, doc) {offsetof(stats_class_t, name), sizeof(type)},
#define ctl_stats_field_of_bin(name, type, merge, doc) {offsetof(stats_bin_t, name), sizeof(type)},
#define ctl_stats_field_of_lextent(name, type, merge, doc) {offsetof(stats_lextent_t, name), sizeof(type)},
#define ctl_stats_field_of_extent(name, type, merge, doc) {offsetof(stats_extent_t, name), sizeof(type)},
#define ctl_stats_field_of_mutex(name, type, merge, doc) {offsetof(mutex_stats_t, name), sizeof(type)},

static const ctl_stats_field_t ctl_stats_global_fields[] = {
	STATS_GLOBAL_COUNTERS(CTL_STATS_FIELD_OF(global))};
static const ctl_stats_field_t ctl_stats_arena_fields[] = {
	STATS_ARENA_COUNTERS_HEAD(CTL_STATS_FIELD_OF(arena))
	STATS_ARENA_COUNTERS_TAIL(CTL_STATS_FIELD_OF(arena))
	STATS_ARENA_COUNTERS_HPA(CTL_STATS_FIELD_OF(arena))};
static const ctl_stats_field_t ctl_stats_class_fields[] = {
	STATS_CLASS_COUNTERS(CTL_STATS_FIELD_OF(class))};
static const ctl_stats_field_t ctl_stats_bin_fields[] = {
	STATS_BIN_COUNTERS(CTL_STATS_FIELD_OF(bin))};
static const ctl_stats_field_t ctl_stats_lextent_fields[] = {
	STATS_LEXTENT_COUNTERS(CTL_STATS_FIELD_OF(lextent))};
static const ctl_stats_field_t ctl_stats_extent_fields[] = {
	STATS_EXTENT_COUNTERS(CTL_STATS_FIELD_OF(extent))};
static const ctl_stats_field_t ctl_stats_mutex_fields[] = {
	MUTEX_STATS_COUNTERS(CTL_STATS_FIELD_OF(mutex))};

/*
 * Copies field f of obj (NULL: the arena vanished from the snapshot since
 * the lookup, ENOENT) out of the snapshot, then releases the snapshot lock
 * (held on entry) and replies.
 */
static int
ctl_stats_reply(const void *obj, const ctl_stats_field_t *f, void *oldp, size_t *oldlenp)
{
	uint64_t value = 0;
	if (obj != NULL)
		memcpy(&value, (const char *)obj + f->offset, f->size);
	stats_unlock();
	return obj != NULL ? ctl_read(oldp, oldlenp, &value, f->size) : ENOENT;
}

/* Handler prologue: read-only, the snapshot lock taken. */
#define CTL_STATS_HANDLER(fn)                                                             \
	static int fn(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,      \
	              void *newp, size_t newlen)
#define CTL_STATS_ENTER()                                                                 \
	do {                                                                              \
		(void)miblen;                                                             \
		if (!ctl_is_read_only_call(newp, newlen))                                 \
			return EPERM;                                                     \
		stats_lock();                                                             \
	} while (0)

/* The arena of mib[2] in the snapshot, or NULL.  Lock held. */
static const stats_arena_t *
ctl_stats_arena(const size_t *mib)
{
	return stats_arena_get(mib[2]);
}

/* stats.<row> */
CTL_STATS_HANDLER(ctl_stats_global)
{
	CTL_STATS_ENTER();
	return ctl_stats_reply(&stats_get()->global, &ctl_stats_global_fields[mib[1]], oldp,
	                       oldlenp);
}

/* stats.mutexes.<lock>.<counter> */
CTL_STATS_HANDLER(ctl_stats_mutexes_counter)
{
	CTL_STATS_ENTER();
	return ctl_stats_reply(&stats_get()->mutexes[mib[2]], &ctl_stats_mutex_fields[mib[3]],
	                       oldp, oldlenp);
}

/* stats.arenas.<i>.<row> */
CTL_STATS_HANDLER(ctl_stats_arena_row)
{
	CTL_STATS_ENTER();
	return ctl_stats_reply(ctl_stats_arena(mib), &ctl_stats_arena_fields[mib[3]], oldp,
	                       oldlenp);
}

/* stats.arenas.<i>.{small,large}.<row>: small is the arena's child number
 * CTL_STATS_SMALL_CHILD (the node arrays below keep it so). */
#define CTL_STATS_NARENA_ROWS (sizeof(ctl_stats_arena_fields) / sizeof(ctl_stats_arena_fields[0]))
#define CTL_STATS_SMALL_CHILD (CTL_STATS_NARENA_ROWS + 1)
CTL_STATS_HANDLER(ctl_stats_arena_class)
{
	CTL_STATS_ENTER();
	const stats_arena_t *a = ctl_stats_arena(mib);
	const stats_class_t *c = NULL;
	if (a != NULL)
		c = mib[3] == CTL_STATS_SMALL_CHILD ? &a->small : &a->large;
	return ctl_stats_reply(c, &ctl_stats_class_fields[mib[4]], oldp, oldlenp);
}

/* stats.arenas.<i>.bins.<j>.<row> and .mutex.<counter> */
CTL_STATS_HANDLER(ctl_stats_arena_bin)
{
	CTL_STATS_ENTER();
	const stats_arena_t *a = ctl_stats_arena(mib);
	return ctl_stats_reply(a != NULL ? &a->bins[mib[4]] : NULL, &ctl_stats_bin_fields[mib[5]],
	                       oldp, oldlenp);
}

CTL_STATS_HANDLER(ctl_stats_arena_bin_mutex)
{
	CTL_STATS_ENTER();
	const stats_arena_t *a = ctl_stats_arena(mib);
	return ctl_stats_reply(a != NULL ? &a->bins[mib[4]].mutex : NULL,
	                       &ctl_stats_mutex_fields[mib[6]], oldp, oldlenp);
}

/* stats.arenas.<i>.lextents.<j>.<row> */
CTL_STATS_HANDLER(ctl_stats_arena_lextent)
{
	CTL_STATS_ENTER();
	const stats_arena_t *a = ctl_stats_arena(mib);
	return ctl_stats_reply(a != NULL ? &a->lextents[mib[4]] : NULL,
	                       &ctl_stats_lextent_fields[mib[5]], oldp, oldlenp);
}

/* stats.arenas.<i>.extents.<j>.<row> */
CTL_STATS_HANDLER(ctl_stats_arena_extent)
{
	CTL_STATS_ENTER();
	const stats_arena_t *a = ctl_stats_arena(mib);
	return ctl_stats_reply(a != NULL ? &a->extents[mib[4]] : NULL,
	                       &ctl_stats_extent_fields[mib[5]], oldp, oldlenp);
}

/* stats.arenas.<i>.mutexes.<lock>.<counter> */
CTL_STATS_HANDLER(ctl_stats_arena_mutex)
{
	CTL_STATS_ENTER();
	const stats_arena_t *a = ctl_stats_arena(mib);
	return ctl_stats_reply(a != NULL ? &a->mutexes[mib[4]] : NULL,
	                       &ctl_stats_mutex_fields[mib[5]], oldp, oldlenp);
}

/* stats.arenas.<i>.dss: strata has no sbrk ("N/A" in the merged views, as
 * jemalloc). */
CTL_STATS_HANDLER(ctl_stats_arena_dss)
{
	CTL_STATS_ENTER();
	bool exists = ctl_stats_arena(mib) != NULL;
	stats_unlock();
	if (!exists)
		return ENOENT;
	const char *dss = mib[2] < ARENAS_MAX ? "disabled" : "N/A";
	return ctl_read(oldp, oldlenp, &dss, sizeof(dss));
}

/* stats.mutexes.reset */
static int
ctl_stats_mutexes_reset(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                        void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	stats_mutexes_reset();
	return 0;
}

int
ctl_epoch_handler(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)mib;
	(void)miblen;
	uint64_t ignored;
	int err = ctl_write(newp, newlen, &ignored, sizeof(ignored));
	if (err != 0)
		return err;
	stats_lock();
	if (newp != NULL)
		stats_refresh();
	uint64_t epoch = stats_get()->epoch;
	stats_unlock();
	return ctl_read(oldp, oldlenp, &epoch, sizeof(epoch));
}

/* ------------------------------------------------------------ the nodes */

#define CTL_STATS_LEAF(handler) CTL_STATS_LEAF_##handler
#define CTL_STATS_ROW_LEAF(fn, leaf) {.name = #leaf, .handler = fn},
#define CTL_STATS_LEAF_ctl_stats_global(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_global, row)
#define CTL_STATS_LEAF_ctl_stats_arena_row(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_arena_row, row)
#define CTL_STATS_LEAF_ctl_stats_arena_class(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_arena_class, row)
#define CTL_STATS_LEAF_ctl_stats_arena_bin(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_arena_bin, row)
#define CTL_STATS_LEAF_ctl_stats_arena_lextent(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_arena_lextent, row)
#define CTL_STATS_LEAF_ctl_stats_arena_extent(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_arena_extent, row)
#define CTL_STATS_LEAF_ctl_stats_mutexes_counter(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_mutexes_counter, row)
#define CTL_STATS_LEAF_ctl_stats_arena_mutex(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_arena_mutex, row)
#define CTL_STATS_LEAF_ctl_stats_arena_bin_mutex(row, type, merge, doc) CTL_STATS_ROW_LEAF(ctl_stats_arena_bin_mutex, row)

static bool
ctl_stats_bins_index_valid(size_t index)
{
	return index < SZ_NBINS;
}

static bool
ctl_stats_lextents_index_valid(size_t index)
{
	return index < SZ_NLEXTENTS;
}

static bool
ctl_stats_extents_index_valid(size_t index)
{
	return index < SZ_NPSIZES;
}

/* stats.arenas.<i>: the arenas that existed at the snapshot, and the
 * merged views (MALLCTL_ARENAS_DESTROYED once an arena was destroyed). */
static bool
ctl_stats_arenas_index_valid(size_t index)
{
	stats_lock();
	bool valid = stats_arena_get(index) != NULL;
	stats_unlock();
	return valid;
}

static const ctl_node_t ctl_stats_arena_bin_mutex_nodes[] = {
	MUTEX_STATS_COUNTERS(CTL_STATS_LEAF(ctl_stats_arena_bin_mutex))};
static const ctl_node_t ctl_stats_arena_bin_nodes[] = {
	STATS_BIN_COUNTERS(CTL_STATS_LEAF(ctl_stats_arena_bin))
	CTL_NAMED(mutex, ctl_stats_arena_bin_mutex_nodes),
};
static const ctl_node_t ctl_stats_arena_bin_node = CTL_INNER(ctl_stats_arena_bin_nodes);

static const ctl_node_t ctl_stats_arena_lextent_nodes[] = {
	STATS_LEXTENT_COUNTERS(CTL_STATS_LEAF(ctl_stats_arena_lextent))};
static const ctl_node_t ctl_stats_arena_lextent_node = CTL_INNER(ctl_stats_arena_lextent_nodes);

static const ctl_node_t ctl_stats_arena_extent_nodes[] = {
	STATS_EXTENT_COUNTERS(CTL_STATS_LEAF(ctl_stats_arena_extent))};
static const ctl_node_t ctl_stats_arena_extent_node = CTL_INNER(ctl_stats_arena_extent_nodes);

static const ctl_node_t ctl_stats_arena_class_nodes[] = {
	STATS_CLASS_COUNTERS(CTL_STATS_LEAF(ctl_stats_arena_class))};

static const ctl_node_t ctl_stats_arena_mutex_nodes[] = {
	MUTEX_STATS_COUNTERS(CTL_STATS_LEAF(ctl_stats_arena_mutex))};
#define CTL_STATS_ARENA_MUTEX(name, doc) CTL_NAMED(name, ctl_stats_arena_mutex_nodes),
static const ctl_node_t ctl_stats_arena_mutexes_nodes[] = {
	STATS_ARENA_MUTEXES(CTL_STATS_ARENA_MUTEX)};

static const ctl_node_t ctl_stats_arena_nodes[] = {
	STATS_ARENA_COUNTERS_HEAD(CTL_STATS_LEAF(ctl_stats_arena_row))
	STATS_ARENA_COUNTERS_TAIL(CTL_STATS_LEAF(ctl_stats_arena_row))
	STATS_ARENA_COUNTERS_HPA(CTL_STATS_LEAF(ctl_stats_arena_row))
	CTL_LEAF(dss, ctl_stats_arena_dss),
	CTL_NAMED(small, ctl_stats_arena_class_nodes), /* CTL_STATS_SMALL_CHILD */
	CTL_NAMED(large, ctl_stats_arena_class_nodes),
	CTL_INDEXED(bins, ctl_stats_arena_bin_node, ctl_stats_bins_index_valid),
	CTL_INDEXED(lextents, ctl_stats_arena_lextent_node, ctl_stats_lextents_index_valid),
	CTL_INDEXED(extents, ctl_stats_arena_extent_node, ctl_stats_extents_index_valid),
	CTL_NAMED(mutexes, ctl_stats_arena_mutexes_nodes),
};
static const ctl_node_t ctl_stats_arena_node = CTL_INNER(ctl_stats_arena_nodes);

static const ctl_node_t ctl_stats_mutex_nodes[] = {
	MUTEX_STATS_COUNTERS(CTL_STATS_LEAF(ctl_stats_mutexes_counter))};
#define CTL_STATS_GLOBAL_MUTEX(name, lock, doc) CTL_NAMED(name, ctl_stats_mutex_nodes),
static const ctl_node_t ctl_stats_mutexes_nodes[] = {
	STATS_GLOBAL_MUTEXES(CTL_STATS_GLOBAL_MUTEX)
	CTL_LEAF(reset, ctl_stats_mutexes_reset),
};

/* A node reading field (a path in stats_t) of the snapshot; fn is its
 * handler. */
#define CTL_STATS_SNAPSHOT(fn, type, field)                                               \
	static type fn##_get(void)                                                        \
	{                                                                                 \
		stats_lock();                                                             \
		type value = stats_get()->field;                                          \
		stats_unlock();                                                           \
		return value;                                                             \
	}                                                                                 \
	CTL_RO(fn, type, fn##_get())

/* stats.background_thread.* and stats.memory_limit.*: the purger's counters
 * as of the snapshot. */
#define CTL_STATS_BACKGROUND(fn, type, member) CTL_STATS_SNAPSHOT(fn, type, background.member)
CTL_STATS_BACKGROUND(ctl_stats_background_thread_num_threads, size_t, num_threads)
CTL_STATS_BACKGROUND(ctl_stats_background_thread_num_runs, uint64_t, num_runs)
CTL_STATS_BACKGROUND(ctl_stats_background_thread_run_interval, uint64_t, run_interval_ns)

static const ctl_node_t ctl_stats_background_thread_nodes[] = {
	CTL_LEAF(num_threads, ctl_stats_background_thread_num_threads),
	CTL_LEAF(num_runs, ctl_stats_background_thread_num_runs),
	CTL_LEAF(run_interval, ctl_stats_background_thread_run_interval),
};

/* stats.memory_limit.*: the limit and usage of the last check (0 when none
 * applied) and the releases it caused. */
CTL_STATS_BACKGROUND(ctl_stats_memory_limit_limit, size_t, memlimit_limit)
CTL_STATS_BACKGROUND(ctl_stats_memory_limit_usage, size_t, memlimit_usage)
CTL_STATS_BACKGROUND(ctl_stats_memory_limit_releases, uint64_t, memlimit_releases)
CTL_STATS_BACKGROUND(ctl_stats_memory_limit_released, uint64_t, memlimit_released)

static const ctl_node_t ctl_stats_memory_limit_nodes[] = {
	CTL_LEAF(limit, ctl_stats_memory_limit_limit),
	CTL_LEAF(usage, ctl_stats_memory_limit_usage),
	CTL_LEAF(releases, ctl_stats_memory_limit_releases),
	CTL_LEAF(released, ctl_stats_memory_limit_released),
};

/* stats.thp.*: the snapshot's huge-page figures, and two read when asked. */
#define CTL_STATS_THP(name, type, doc) CTL_STATS_SNAPSHOT(ctl_stats_thp_##name, type, thp.name)
STATS_THP_COUNTERS(CTL_STATS_THP)
#undef CTL_STATS_THP

/* Heap bytes on huge pages now, from /proc/self/smaps (0 when unreadable). */
static size_t
ctl_stats_thp_huge_bytes_get(void)
{
	ssize_t bytes = pages_huge_bytes();
	return bytes < 0 ? 0 : (size_t)bytes;
}
CTL_RO(ctl_stats_thp_huge_bytes, size_t, ctl_stats_thp_huge_bytes_get())
CTL_RO(ctl_stats_thp_kernel_fallbacks, uint64_t, hpage_kernel_fallbacks())

static const ctl_node_t ctl_stats_thp_nodes[] = {
	CTL_LEAF(huge_bytes, ctl_stats_thp_huge_bytes),
	CTL_LEAF(kernel_fallbacks, ctl_stats_thp_kernel_fallbacks),
#define CTL_STATS_THP_LEAF(name, type, doc) CTL_LEAF(name, ctl_stats_thp_##name),
	STATS_THP_COUNTERS(CTL_STATS_THP_LEAF)
#undef CTL_STATS_THP_LEAF
};

static const ctl_node_t ctl_stats_nodes[] = {
	STATS_GLOBAL_COUNTERS(CTL_STATS_LEAF(ctl_stats_global))
	CTL_INDEXED(arenas, ctl_stats_arena_node, ctl_stats_arenas_index_valid),
	CTL_NAMED(background_thread, ctl_stats_background_thread_nodes),
	CTL_NAMED(memory_limit, ctl_stats_memory_limit_nodes),
	CTL_NAMED(mutexes, ctl_stats_mutexes_nodes),
	CTL_NAMED(thp, ctl_stats_thp_nodes),
};
const ctl_node_t ctl_stats_tree = CTL_INNER(ctl_stats_nodes);
