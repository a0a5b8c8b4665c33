/*
 * ctl_stats.c — epoch and the stats.* subtree of the mallctl tree.  L5.
 * See ctl.h for the tree and docs/compat.md, "mallctl", for the rules.
 *
 * Stats are a snapshot: writing epoch takes a new one (stats.c gathers the
 * counters), and a read before any write takes the first.
 *
 * Locks: ctl_mtx protects the epoch and the snapshot (ctl_epoch, ctl_stats,
 * ctl_arena_stats, ctl_arena_extents, ctl_background_stats); it is taken
 * only by the epoch and stats.* handlers and is held across the snapshot,
 * so it ranks above every lock stats, arena, pages, base and tcache take.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "background.h"
#include "base.h"
#include "ctl.h"
#include "mutex.h"
#include "stats.h"
#include "sz.h"
#include "tcache.h"

static mutex_t ctl_mtx = MUTEX_INITIALIZER("ctl", MUTEX_RANK_CTL);
/* Protected by ctl_mtx: 0 until the first snapshot, then bumped by each. */
static uint64_t ctl_epoch;
/* Protected by ctl_mtx: the stats as of the last epoch write. */
static stats_global_t ctl_stats;

/* One arena's stats.arenas.<i>.* values as of the last epoch write. */
typedef struct ctl_arena_stats {
	bool initialized; /* the arena existed (else stats.arenas.<i> is ENOENT) */
	unsigned nthreads;
	size_t tcache_bytes;
	ssize_t dirty_decay_ms, muzzy_decay_ms; /* -1 for the sums */
	size_t pactive, pdirty, pmuzzy; /* pages */
	size_t retained;                /* bytes */
	uint64_t dirty_npurge, dirty_nmadvise, dirty_purged;
	uint64_t muzzy_npurge, muzzy_nmadvise, muzzy_purged;
} ctl_arena_stats_t;
/* Protected by ctl_mtx: arena i at [i], the sums (MALLCTL_ARENAS_ALL) at
 * [ARENAS_MAX]. */
static ctl_arena_stats_t ctl_arena_stats[ARENAS_MAX + 1];
/*
 * Protected by ctl_mtx: stats.arenas.<i>.extents.<j>, SZ_NPSIZES entries
 * per arena.  An arena's table comes from its own base at its first
 * snapshot (NULL if that failed: its extents nodes are EAGAIN) and is kept
 * for the index; the sums are static.
 */
static pages_extent_stats_t *ctl_arena_extents[ARENAS_MAX];
static pages_extent_stats_t ctl_all_extents[SZ_NPSIZES];
/* Protected by ctl_mtx: stats.background_thread.* as of the last epoch write. */
static background_stats_t ctl_background_stats;


/* ------------------------------------------------------------ epoch, stats */

/* Where arena index i (or MALLCTL_ARENAS_ALL) lives in ctl_arena_stats. */
static size_t
ctl_arena_stats_slot(size_t i)
{
	return i == MALLCTL_ARENAS_ALL ? ARENAS_MAX : i;
}

/* The page counters of arena ind (its pages_t) into *a and its extents
 * table, added to the sums.  ctl_mtx held. */
static void
ctl_arena_pages_refresh(unsigned ind, ctl_arena_stats_t *a, ctl_arena_stats_t *all)
{
	arena_t *arena = arena_get(ind, false);
	if (arena == NULL)
		return;
	pages_stats_t ps;
	pages_stats_read(&arena->pages, &ps);
	a->dirty_decay_ms = ps.dirty_decay_ms;
	a->muzzy_decay_ms = ps.muzzy_decay_ms;
	a->pactive = ps.active_pages;
	a->pdirty = ps.dirty_pages;
	a->pmuzzy = ps.muzzy_pages;
	a->retained = ps.retained_pages << LG_PAGE;
	a->dirty_npurge = ps.dirty.npurge;
	a->dirty_nmadvise = ps.dirty.nmadvise;
	a->dirty_purged = ps.dirty.purged;
	a->muzzy_npurge = ps.muzzy.npurge;
	a->muzzy_nmadvise = ps.muzzy.nmadvise;
	a->muzzy_purged = ps.muzzy.purged;
	all->pactive += a->pactive;
	all->pdirty += a->pdirty;
	all->pmuzzy += a->pmuzzy;
	all->retained += a->retained;
	all->dirty_npurge += a->dirty_npurge;
	all->dirty_nmadvise += a->dirty_nmadvise;
	all->dirty_purged += a->dirty_purged;
	all->muzzy_npurge += a->muzzy_npurge;
	all->muzzy_nmadvise += a->muzzy_nmadvise;
	all->muzzy_purged += a->muzzy_purged;

	pages_extent_stats_t *x = ctl_arena_extents[ind];
	if (x == NULL)
		return;
	pages_extents_stats_read(&arena->pages, x);
	for (unsigned j = 0; j < SZ_NPSIZES; j++) {
		ctl_all_extents[j].ndirty += x[j].ndirty;
		ctl_all_extents[j].nmuzzy += x[j].nmuzzy;
		ctl_all_extents[j].nretained += x[j].nretained;
		ctl_all_extents[j].dirty_bytes += x[j].dirty_bytes;
		ctl_all_extents[j].muzzy_bytes += x[j].muzzy_bytes;
		ctl_all_extents[j].retained_bytes += x[j].retained_bytes;
	}
}

/* Fills ctl_arena_stats from every arena.  ctl_mtx held. */
static void
ctl_arena_stats_refresh(void)
{
	ctl_arena_stats_t *all = &ctl_arena_stats[ARENAS_MAX];
	*all = (ctl_arena_stats_t){.initialized = true, .dirty_decay_ms = -1, .muzzy_decay_ms = -1};
	memset(ctl_all_extents, 0, sizeof(ctl_all_extents));
	unsigned n = arena_narenas_total();
	for (unsigned i = 0; i < n; i++) {
		ctl_arena_stats_t *a = &ctl_arena_stats[i];
		*a = (ctl_arena_stats_t){.initialized = arena_is_initialized(i)};
		if (!a->initialized)
			continue;
		a->nthreads = arena_nthreads(i);
		a->tcache_bytes = tcache_bytes_of_arena(i);
		all->nthreads += a->nthreads;
		all->tcache_bytes += a->tcache_bytes;
		ctl_arena_pages_refresh(i, a, all);
	}
}

/* Gives every arena that has none its extents table, before the snapshot
 * counts metadata, so that the metadata the tables take shows in the
 * snapshot that first uses them.  ctl_mtx held. */
static void
ctl_arena_extents_ensure(void)
{
	unsigned n = arena_narenas_total();
	for (unsigned i = 0; i < n; i++) {
		arena_t *arena;
		if (ctl_arena_extents[i] != NULL || (arena = arena_get(i, false)) == NULL)
			continue;
		ctl_arena_extents[i] =
		    base_alloc(&arena->base, SZ_NPSIZES * sizeof(pages_extent_stats_t), CACHELINE);
	}
}

/* Takes a new snapshot.  ctl_mtx held. */
static void
ctl_refresh(void)
{
	ctl_arena_extents_ensure();
	stats_snapshot(&ctl_stats);
	ctl_arena_stats_refresh();
	background_stats_read(&ctl_background_stats);
	ctl_epoch++;
}

/* Takes the first snapshot if there is none yet.  ctl_mtx held. */
static void
ctl_snapshot_ensure(void)
{
	if (ctl_epoch == 0)
		ctl_refresh();
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
	mutex_lock(&ctl_mtx);
	if (newp != NULL)
		ctl_refresh();
	ctl_snapshot_ensure();
	uint64_t epoch = ctl_epoch;
	mutex_unlock(&ctl_mtx);
	return ctl_read(oldp, oldlenp, &epoch, sizeof(epoch));
}

/* The snapshot's field, taking the first snapshot if there is none yet. */
#define CTL_STATS(field)                                                                  \
	static size_t ctl_stats_get_##field(void)                                         \
	{                                                                                 \
		mutex_lock(&ctl_mtx);                                                     \
		ctl_snapshot_ensure();                                                    \
		size_t value = ctl_stats.field;                                           \
		mutex_unlock(&ctl_mtx);                                                   \
		return value;                                                             \
	}                                                                                 \
	CTL_RO(ctl_stats_##field, size_t, ctl_stats_get_##field())
CTL_STATS(allocated)
CTL_STATS(active)
CTL_STATS(mapped)
CTL_STATS(resident)
CTL_STATS(metadata)
CTL_STATS(retained)

/* stats.arenas.<i>: the arenas that existed at the snapshot, and
 * MALLCTL_ARENAS_ALL (the sums). */
static bool
ctl_stats_arenas_index_valid(size_t index)
{
	if (index != MALLCTL_ARENAS_ALL && index >= ARENAS_MAX)
		return false;
	mutex_lock(&ctl_mtx);
	ctl_snapshot_ensure();
	bool valid = ctl_arena_stats[ctl_arena_stats_slot(index)].initialized;
	mutex_unlock(&ctl_mtx);
	return valid;
}

/* The snapshot's field of arena mib[2] (stats.arenas.<i>.field). */
#define CTL_STATS_ARENA(field, type)                                                      \
	static type ctl_stats_arenas_i_get_##field(size_t index)                          \
	{                                                                                 \
		mutex_lock(&ctl_mtx);                                                     \
		ctl_snapshot_ensure();                                                    \
		type value = ctl_arena_stats[ctl_arena_stats_slot(index)].field;          \
		mutex_unlock(&ctl_mtx);                                                   \
		return value;                                                             \
	}                                                                                 \
	CTL_RO(ctl_stats_arenas_i_##field, type, ctl_stats_arenas_i_get_##field(mib[2]))
CTL_STATS_ARENA(nthreads, unsigned)
CTL_STATS_ARENA(tcache_bytes, size_t)
CTL_STATS_ARENA(dirty_decay_ms, ssize_t)
CTL_STATS_ARENA(muzzy_decay_ms, ssize_t)
CTL_STATS_ARENA(pactive, size_t)
CTL_STATS_ARENA(pdirty, size_t)
CTL_STATS_ARENA(pmuzzy, size_t)
CTL_STATS_ARENA(retained, size_t)
CTL_STATS_ARENA(dirty_npurge, uint64_t)
CTL_STATS_ARENA(dirty_nmadvise, uint64_t)
CTL_STATS_ARENA(dirty_purged, uint64_t)
CTL_STATS_ARENA(muzzy_npurge, uint64_t)
CTL_STATS_ARENA(muzzy_nmadvise, uint64_t)
CTL_STATS_ARENA(muzzy_purged, uint64_t)

/* stats.arenas.<i>.extents.<j>: j is a page-size class (SZ_NPSIZES). */
static bool
ctl_stats_arenas_i_extents_index_valid(size_t index)
{
	return index < SZ_NPSIZES;
}

/*
 * The snapshot's size_t at offset in class mib[4]'s pages_extent_stats_t
 * of arena mib[2] (or the sums); EAGAIN when the arena's table could not
 * be allocated.
 */
static int
ctl_stats_arenas_i_extents_j_read(const size_t *mib, void *oldp, size_t *oldlenp, void *newp,
                                  size_t newlen, size_t offset)
{
	if (!ctl_is_read_only_call(newp, newlen))
		return EPERM;
	mutex_lock(&ctl_mtx);
	ctl_snapshot_ensure();
	const pages_extent_stats_t *x =
	    mib[2] == MALLCTL_ARENAS_ALL ? ctl_all_extents : ctl_arena_extents[mib[2]];
	size_t value = 0;
	if (x != NULL)
		memcpy(&value, (const char *)&x[mib[4]] + offset, sizeof(value));
	mutex_unlock(&ctl_mtx);
	return x != NULL ? ctl_read(oldp, oldlenp, &value, sizeof(value)) : EAGAIN;
}

#define CTL_STATS_ARENA_EXTENTS(field)                                                    \
	static int ctl_stats_arenas_i_extents_j_##field(const size_t *mib, size_t miblen, \
	                                                void *oldp, size_t *oldlenp,      \
	                                                void *newp, size_t newlen)        \
	{                                                                                 \
		(void)miblen;                                                             \
		return ctl_stats_arenas_i_extents_j_read(                                 \
		    mib, oldp, oldlenp, newp, newlen,                                     \
		    offsetof(pages_extent_stats_t, field));                               \
	}
CTL_STATS_ARENA_EXTENTS(ndirty)
CTL_STATS_ARENA_EXTENTS(nmuzzy)
CTL_STATS_ARENA_EXTENTS(nretained)
CTL_STATS_ARENA_EXTENTS(dirty_bytes)
CTL_STATS_ARENA_EXTENTS(muzzy_bytes)
CTL_STATS_ARENA_EXTENTS(retained_bytes)

static const ctl_node_t ctl_stats_arenas_i_extents_j_nodes[] = {
	CTL_LEAF(ndirty, ctl_stats_arenas_i_extents_j_ndirty),
	CTL_LEAF(nmuzzy, ctl_stats_arenas_i_extents_j_nmuzzy),
	CTL_LEAF(nretained, ctl_stats_arenas_i_extents_j_nretained),
	CTL_LEAF(dirty_bytes, ctl_stats_arenas_i_extents_j_dirty_bytes),
	CTL_LEAF(muzzy_bytes, ctl_stats_arenas_i_extents_j_muzzy_bytes),
	CTL_LEAF(retained_bytes, ctl_stats_arenas_i_extents_j_retained_bytes),
};
static const ctl_node_t ctl_stats_arenas_i_extents_j = CTL_INNER(ctl_stats_arenas_i_extents_j_nodes);

static const ctl_node_t ctl_stats_arenas_i_nodes[] = {
	CTL_LEAF(nthreads, ctl_stats_arenas_i_nthreads),
	CTL_LEAF(tcache_bytes, ctl_stats_arenas_i_tcache_bytes),
	CTL_LEAF(dirty_decay_ms, ctl_stats_arenas_i_dirty_decay_ms),
	CTL_LEAF(muzzy_decay_ms, ctl_stats_arenas_i_muzzy_decay_ms),
	CTL_LEAF(pactive, ctl_stats_arenas_i_pactive),
	CTL_LEAF(pdirty, ctl_stats_arenas_i_pdirty),
	CTL_LEAF(pmuzzy, ctl_stats_arenas_i_pmuzzy),
	CTL_LEAF(retained, ctl_stats_arenas_i_retained),
	CTL_LEAF(dirty_npurge, ctl_stats_arenas_i_dirty_npurge),
	CTL_LEAF(dirty_nmadvise, ctl_stats_arenas_i_dirty_nmadvise),
	CTL_LEAF(dirty_purged, ctl_stats_arenas_i_dirty_purged),
	CTL_LEAF(muzzy_npurge, ctl_stats_arenas_i_muzzy_npurge),
	CTL_LEAF(muzzy_nmadvise, ctl_stats_arenas_i_muzzy_nmadvise),
	CTL_LEAF(muzzy_purged, ctl_stats_arenas_i_muzzy_purged),
	CTL_INDEXED(extents, ctl_stats_arenas_i_extents_j, ctl_stats_arenas_i_extents_index_valid),
};
static const ctl_node_t ctl_stats_arenas_i = CTL_INNER(ctl_stats_arenas_i_nodes);

/* stats.background_thread.* and stats.memory_limit.*: the purger's counters
 * as of the last epoch write; fn is the node's handler. */
#define CTL_STATS_BACKGROUND(fn, type, member)                                            \
	static type fn##_get(void)                                                        \
	{                                                                                 \
		mutex_lock(&ctl_mtx);                                                     \
		ctl_snapshot_ensure();                                                    \
		type value = ctl_background_stats.member;                                 \
		mutex_unlock(&ctl_mtx);                                                   \
		return value;                                                             \
	}                                                                                 \
	CTL_RO(fn, type, fn##_get())
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

static const ctl_node_t ctl_stats_nodes[] = {
	CTL_LEAF(allocated, ctl_stats_allocated),
	CTL_LEAF(active, ctl_stats_active),
	CTL_LEAF(mapped, ctl_stats_mapped),
	CTL_LEAF(resident, ctl_stats_resident),
	CTL_LEAF(metadata, ctl_stats_metadata),
	CTL_LEAF(retained, ctl_stats_retained),
	CTL_INDEXED(arenas, ctl_stats_arenas_i, ctl_stats_arenas_index_valid),
	CTL_NAMED(background_thread, ctl_stats_background_thread_nodes),
	CTL_NAMED(memory_limit, ctl_stats_memory_limit_nodes),
};
const ctl_node_t ctl_stats_tree = CTL_INNER(ctl_stats_nodes);

void
ctl_boot(void)
{
	mutex_register(&ctl_mtx, NULL);
}
