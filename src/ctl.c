/*
 * ctl.c — the mallctl tree and the exported mallctl, mallctlnametomib and
 * mallctlbymib.  L5.  See ctl.h for the tree's shape and how to add nodes.
 *
 * Semantics and return codes are jemalloc's (docs/compat.md, "mallctl"): ENOENT for an
 * unknown name, an inner node, an index out of range or a MIB longer than
 * its path; EPERM for writing a read-only node or reading a write-only or
 * void one; EINVAL for a newlen or *oldlenp that is not the node's size (a
 * short or long *oldlenp still gets min(*oldlenp, size) bytes and is set to
 * that length); EAGAIN when the allocator cannot initialize.
 *
 * Where jemalloc is lax we are strict: an integer component must be all
 * decimal digits ("0x1" and " 1" are ENOENT, jemalloc reads them as 0 and
 * 1), arenas.bin.<i> / arenas.lextent.<i> / arena.<i> reject i == count
 * (jemalloc accepts it and reads past its table), and arenas.lookup of a
 * pointer strata does not own and tcache.flush / tcache.destroy of an id
 * that is not live fail (EINVAL, EFAULT) where jemalloc crashes or, for
 * tcache.flush, returns 0.
 *
 * The decay nodes follow jemalloc where the reference says (docs/compat.md):
 * arena.<i>.{dirty,muzzy}_decay_ms exist for single arenas only (EFAULT for
 * MALLCTL_ARENAS_ALL, its arenas.narenas alias and arenas that do not
 * exist), stats.arenas.<MALLCTL_ARENAS_ALL>.{dirty,muzzy}_decay_ms read -1
 * (jemalloc's merged arena has no decay setting of its own), and
 * max_background_threads takes 1 .. opt.max_background_threads.
 *
 * Locks: ctl_mtx protects the epoch and the stats snapshot (ctl_epoch,
 * ctl_stats, ctl_arena_stats, ctl_arena_extents, ctl_background_stats); it
 * is taken only by the epoch and stats.* handlers and is held across the
 * snapshot, so it ranks above every lock stats, arena, pages, base and
 * tcache take.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "background.h"
#include "base.h"
#include "conf.h"
#include "ctl.h"
#include "init.h"
#include "mutex.h"
#include "prof/class_stats.h"
#include "prof/prof.h"
#include "stats.h"
#include "sz.h"
#include "tcache.h"
#include "tsd.h"

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

/* ------------------------------------------------------------ access helpers */

/* Copies a value out as jemalloc's READ does. */
static int
ctl_read(void *oldp, size_t *oldlenp, const void *value, size_t size)
{
	if (oldp == NULL || oldlenp == NULL)
		return 0;
	if (*oldlenp != size) {
		size_t n = *oldlenp < size ? *oldlenp : size;
		memcpy(oldp, value, n);
		*oldlenp = n;
		return EINVAL;
	}
	memcpy(oldp, value, size);
	return 0;
}

/* Copies a new value in as jemalloc's WRITE does (no-op without newp). */
static int
ctl_write(const void *newp, size_t newlen, void *value, size_t size)
{
	if (newp == NULL)
		return 0;
	if (newlen != size)
		return EINVAL;
	memcpy(value, newp, size);
	return 0;
}

/* The access checks: a read-only node rejects (EPERM) any new value, a
 * write-only node any old one, a void node both. */
static bool
ctl_is_read_only_call(const void *newp, size_t newlen)
{
	return newp == NULL && newlen == 0;
}

static bool
ctl_is_write_only_call(const void *oldp, const size_t *oldlenp)
{
	return oldp == NULL && oldlenp == NULL;
}

static bool
ctl_is_void_call(const void *oldp, const size_t *oldlenp, const void *newp, size_t newlen)
{
	return ctl_is_write_only_call(oldp, oldlenp) && ctl_is_read_only_call(newp, newlen);
}

/*
 * For nodes whose action is useless unless its result is returned
 * (jemalloc's VERIFY_READ): EINVAL, with *oldlenp set to 0, unless oldp
 * and an *oldlenp of size are given.
 */
static int
ctl_require_read(void *oldp, size_t *oldlenp, size_t size)
{
	if (oldp != NULL && oldlenp != NULL && *oldlenp == size)
		return 0;
	if (oldlenp != NULL)
		*oldlenp = 0;
	return EINVAL;
}

/* For nodes that need a value (jemalloc's VERIFY_WRITE): EINVAL unless
 * newp and a newlen of size are given; else copies it in. */
static int
ctl_require_write(const void *newp, size_t newlen, void *value, size_t size)
{
	if (newp == NULL)
		return EINVAL;
	return ctl_write(newp, newlen, value, size);
}

/* A read-only leaf named fn whose value is expr, of the given type. */
#define CTL_RO(fn, type, expr)                                                            \
	static int fn(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,      \
	              void *newp, size_t newlen)                                          \
	{                                                                                 \
		(void)mib;                                                                \
		(void)miblen;                                                             \
		if (!ctl_is_read_only_call(newp, newlen))                                 \
			return EPERM;                                                     \
		type value_ = (expr);                                                     \
		return ctl_read(oldp, oldlenp, &value_, sizeof(value_));                  \
	}

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

static int
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

/* ------------------------------------------------------------ version, opt.* */

CTL_RO(ctl_version, const char *, STRATA_VERSION)

/* UINT_AUTO options report what "automatic" resolved to. */
static unsigned
ctl_opt_effective_narenas(void)
{
	return arena_narenas_auto();
}

#define CTL_OPT_HANDLER(name, kind, ctype, dflt, min, max, values, doc)                  \
	CTL_OPT_##kind(name, ctype)
#define CTL_OPT_BOOL(name, ctype) CTL_RO(ctl_opt_##name, bool, opt_##name)
#define CTL_OPT_CHOICE(name, ctype)                                                       \
	CTL_RO(ctl_opt_##name, const char *, conf_options[CONF_ID_##name].values[opt_##name])
#define CTL_OPT_UINT(name, ctype) CTL_RO(ctl_opt_##name, ctype, opt_##name)
#define CTL_OPT_UINT_CLIP(name, ctype) CTL_RO(ctl_opt_##name, ctype, opt_##name)
#define CTL_OPT_UINT_AUTO(name, ctype) CTL_RO(ctl_opt_##name, ctype, ctl_opt_effective_##name())
#define CTL_OPT_SINT(name, ctype) CTL_RO(ctl_opt_##name, ctype, opt_##name)
/* "auto", "off" or the byte count, as conf keeps it for the row. */
#define CTL_OPT_LIMIT(name, ctype)                                                        \
	CTL_RO(ctl_opt_##name, const char *, conf_options[CONF_ID_##name].text)
#define CTL_OPT_LETTERS(name, ctype) CTL_RO(ctl_opt_##name, const char *, opt_##name)
#define CTL_OPT_STRING(name, ctype) CTL_RO(ctl_opt_##name, const char *, opt_##name)
#define CTL_OPT_LG_ALIAS(name, target)
CONF_OPTIONS(CTL_OPT_HANDLER)
#undef CTL_OPT_HANDLER

/* One opt.<name> leaf per row; aliases have none (their target's is read). */
#define CTL_OPT_NODE(name, kind, ...) CTL_OPT_NODE_##kind(name)
#define CTL_OPT_NODE_BOOL(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_CHOICE(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_UINT(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_UINT_CLIP(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_UINT_AUTO(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_SINT(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_LIMIT(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_LETTERS(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_STRING(name) CTL_LEAF(name, ctl_opt_##name),
#define CTL_OPT_NODE_LG_ALIAS(name)
static const ctl_node_t ctl_opt_nodes[] = {CONF_OPTIONS(CTL_OPT_NODE)};
#undef CTL_OPT_NODE

/* ------------------------------------------------------------ arenas.* */

CTL_RO(ctl_arenas_narenas, unsigned, arena_narenas_total())
CTL_RO(ctl_arenas_quantum, size_t, QUANTUM)
CTL_RO(ctl_arenas_page, size_t, PAGE)
CTL_RO(ctl_arenas_tcache_max, size_t, sz_index2size(tcache_nbins - 1))
CTL_RO(ctl_arenas_nbins, unsigned, SZ_NBINS)
CTL_RO(ctl_arenas_nhbins, unsigned, tcache_nbins)
CTL_RO(ctl_arenas_nlextents, unsigned, SZ_NLEXTENTS)

/* arenas.create: a new manual arena's index (no extent hooks: r-). */
static int
ctl_arenas_create(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_read_only_call(newp, newlen))
		return EPERM;
	unsigned ind;
	int err = ctl_require_read(oldp, oldlenp, sizeof(ind));
	if (err != 0)
		return err;
	if (arena_create_manual(&ind) != 0)
		return EAGAIN;
	return ctl_read(oldp, oldlenp, &ind, sizeof(ind));
}

/* arenas.lookup: write a pointer, read the index of the arena owning it. */
static int
ctl_arenas_lookup(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)mib;
	(void)miblen;
	void *ptr = NULL;
	int err = ctl_write(newp, newlen, &ptr, sizeof(ptr));
	if (err != 0)
		return err;
	unsigned ind;
	if (arena_lookup(ptr, &ind) != 0)
		return EINVAL;
	return ctl_read(oldp, oldlenp, &ind, sizeof(ind));
}

/* A decay time as the options take it: -1 (never) up to what fits in
 * nanoseconds. */
static bool
ctl_decay_ms_valid(ssize_t decay_ms)
{
	return decay_ms >= -1 && decay_ms <= INT64_MAX / 1000000;
}

/* arenas.dirty_decay_ms, arenas.muzzy_decay_ms: what arenas created from
 * now on get; the old value is read before the new one is set. */
static int
ctl_arenas_decay_ms(void *oldp, size_t *oldlenp, void *newp, size_t newlen, bool muzzy)
{
	ssize_t old = arena_default_decay_ms(muzzy), value;
	int err = ctl_write(newp, newlen, &value, sizeof(value));
	if (err == 0)
		err = ctl_read(oldp, oldlenp, &old, sizeof(old));
	if (err != 0 || newp == NULL)
		return err;
	return ctl_decay_ms_valid(value) ? arena_set_default_decay_ms(muzzy, value) : EINVAL;
}

static int
ctl_arenas_dirty_decay_ms(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                          void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_arenas_decay_ms(oldp, oldlenp, newp, newlen, false);
}

static int
ctl_arenas_muzzy_decay_ms(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                          void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_arenas_decay_ms(oldp, oldlenp, newp, newlen, true);
}

/* arenas.bin.<i>.*: mib[2] is the bin. */
CTL_RO(ctl_arenas_bin_i_size, size_t, sz_bin_info[mib[2]].reg_size)
CTL_RO(ctl_arenas_bin_i_nregs, uint32_t, sz_bin_info[mib[2]].nregs)
CTL_RO(ctl_arenas_bin_i_slab_size, size_t, sz_bin_info[mib[2]].slab_size)

static bool
ctl_arenas_bin_index_valid(size_t index)
{
	return index < SZ_NBINS;
}

static const ctl_node_t ctl_arenas_bin_i_nodes[] = {
	CTL_LEAF(size, ctl_arenas_bin_i_size),
	CTL_LEAF(nregs, ctl_arenas_bin_i_nregs),
	CTL_LEAF(slab_size, ctl_arenas_bin_i_slab_size),
};
static const ctl_node_t ctl_arenas_bin_i = CTL_INNER(ctl_arenas_bin_i_nodes);

/* arenas.lextent.<i>.size: mib[2] is the large class, counted from the first. */
CTL_RO(ctl_arenas_lextent_i_size, size_t, sz_index2size(SZ_NBINS + (unsigned)mib[2]))

static bool
ctl_arenas_lextent_index_valid(size_t index)
{
	return index < SZ_NLEXTENTS;
}

static const ctl_node_t ctl_arenas_lextent_i_nodes[] = {
	CTL_LEAF(size, ctl_arenas_lextent_i_size),
};
static const ctl_node_t ctl_arenas_lextent_i = CTL_INNER(ctl_arenas_lextent_i_nodes);

static const ctl_node_t ctl_arenas_nodes[] = {
	CTL_LEAF(narenas, ctl_arenas_narenas),
	CTL_LEAF(quantum, ctl_arenas_quantum),
	CTL_LEAF(page, ctl_arenas_page),
	CTL_LEAF(tcache_max, ctl_arenas_tcache_max),
	CTL_LEAF(nbins, ctl_arenas_nbins),
	CTL_LEAF(nhbins, ctl_arenas_nhbins),
	CTL_INDEXED(bin, ctl_arenas_bin_i, ctl_arenas_bin_index_valid),
	CTL_LEAF(nlextents, ctl_arenas_nlextents),
	CTL_INDEXED(lextent, ctl_arenas_lextent_i, ctl_arenas_lextent_index_valid),
	CTL_LEAF(create, ctl_arenas_create),
	CTL_LEAF(lookup, ctl_arenas_lookup),
	CTL_LEAF(dirty_decay_ms, ctl_arenas_dirty_decay_ms),
	CTL_LEAF(muzzy_decay_ms, ctl_arenas_muzzy_decay_ms),
};

/* ------------------------------------------------------------ arena.<i>.* */

/* arena.<i>: every index below arenas.narenas, MALLCTL_ARENAS_ALL, and
 * arenas.narenas itself (jemalloc's older spelling of "all arenas", which
 * programs such as redis still use for purge). */
static bool
ctl_arena_index_valid(size_t index)
{
	return index <= arena_narenas_total() || index == MALLCTL_ARENAS_ALL;
}

static bool
ctl_arena_index_is_all(size_t index)
{
	return index == MALLCTL_ARENAS_ALL || index == arena_narenas_total();
}

/* arena.<i>.initialized: mib[1] is the index; "all" always exists. */
static bool
ctl_arena_i_get_initialized(size_t index)
{
	return ctl_arena_index_is_all(index) || arena_is_initialized((unsigned)index);
}

CTL_RO(ctl_arena_i_initialized, bool, ctl_arena_i_get_initialized(mib[1]))

/* arena.<i>.reset and .destroy: void; EFAULT for "all arenas" and for
 * whatever the arena module refuses (automatic, destroyed, bound threads). */
static int
ctl_arena_i_action(const size_t *mib, void *oldp, size_t *oldlenp, void *newp, size_t newlen,
                   int (*action)(unsigned ind))
{
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	if (ctl_arena_index_is_all(mib[1]) || action((unsigned)mib[1]) != 0)
		return EFAULT;
	return 0;
}

static int
ctl_arena_i_reset(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)miblen;
	return ctl_arena_i_action(mib, oldp, oldlenp, newp, newlen, arena_reset);
}

static int
ctl_arena_i_destroy(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                    size_t newlen)
{
	(void)miblen;
	return ctl_arena_i_action(mib, oldp, oldlenp, newp, newlen, arena_destroy);
}

/* arena.<i>.purge: void; returns every dirty page of the arena (or of all
 * arenas) to the kernel now.  An index with no arena purges nothing. */
static int
ctl_arena_i_purge(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)miblen;
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	if (ctl_arena_index_is_all(mib[1]))
		arena_purge_all();
	else
		arena_purge((unsigned)mib[1]);
	return 0;
}

/* arena.<i>.decay: void; runs the decay of the arena (or of all arenas)
 * now: purges what the curves no longer allow.  An index with no arena
 * does nothing. */
static int
ctl_arena_i_decay(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)miblen;
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	if (ctl_arena_index_is_all(mib[1]))
		arena_decay_all();
	else
		arena_decay((unsigned)mib[1]);
	return 0;
}

/* arena.<i>.dirty_decay_ms, arena.<i>.muzzy_decay_ms: one arena's curve;
 * EFAULT for "all arenas" and for an arena that does not exist.  The old
 * value is read before the new one is set, which purges the state's pages
 * at once unless it is -1. */
static int
ctl_arena_i_decay_ms(const size_t *mib, void *oldp, size_t *oldlenp, void *newp, size_t newlen,
                     bool muzzy)
{
	ssize_t old, value;
	if (ctl_arena_index_is_all(mib[1]) || arena_decay_ms_get((unsigned)mib[1], muzzy, &old) != 0)
		return EFAULT;
	int err = ctl_write(newp, newlen, &value, sizeof(value));
	if (err == 0)
		err = ctl_read(oldp, oldlenp, &old, sizeof(old));
	if (err != 0 || newp == NULL)
		return err;
	if (!ctl_decay_ms_valid(value))
		return EINVAL;
	return arena_decay_ms_set((unsigned)mib[1], muzzy, value);
}

static int
ctl_arena_i_dirty_decay_ms(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                           void *newp, size_t newlen)
{
	(void)miblen;
	return ctl_arena_i_decay_ms(mib, oldp, oldlenp, newp, newlen, false);
}

static int
ctl_arena_i_muzzy_decay_ms(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                           void *newp, size_t newlen)
{
	(void)miblen;
	return ctl_arena_i_decay_ms(mib, oldp, oldlenp, newp, newlen, true);
}

static const ctl_node_t ctl_arena_i_nodes[] = {
	CTL_LEAF(initialized, ctl_arena_i_initialized),
	CTL_LEAF(reset, ctl_arena_i_reset),
	CTL_LEAF(destroy, ctl_arena_i_destroy),
	CTL_LEAF(purge, ctl_arena_i_purge),
	CTL_LEAF(decay, ctl_arena_i_decay),
	CTL_LEAF(dirty_decay_ms, ctl_arena_i_dirty_decay_ms),
	CTL_LEAF(muzzy_decay_ms, ctl_arena_i_muzzy_decay_ms),
};
static const ctl_node_t ctl_arena_i = CTL_INNER(ctl_arena_i_nodes);

/* ------------------------------------------------------------ thread.* */

CTL_RO(ctl_thread_allocated, uint64_t, *tsd_thread_allocatedp())
CTL_RO(ctl_thread_deallocated, uint64_t, *tsd_thread_deallocatedp())
CTL_RO(ctl_thread_allocatedp, uint64_t *, tsd_thread_allocatedp())
CTL_RO(ctl_thread_deallocatedp, uint64_t *, tsd_thread_deallocatedp())

/* thread.arena: read the old index, then rebind if a different one is
 * written (nothing happens when the read fails, as in jemalloc).  Under
 * percpu_arena the CPU picks the automatic arena: moving to another one is
 * EPERM (jemalloc's rule), to a manual arena is allowed. */
static int
ctl_thread_arena(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen)
{
	(void)mib;
	(void)miblen;
	unsigned old = tsd_thread_arena_get(), ind = old;
	int err = ctl_write(newp, newlen, &ind, sizeof(ind));
	if (err == 0)
		err = ctl_read(oldp, oldlenp, &old, sizeof(old));
	if (err != 0 || ind == old)
		return err;
	if (opt_percpu_arena != CONF_PERCPU_ARENA_DISABLED && ind < arena_narenas_auto())
		return EPERM;
	return tsd_thread_arena_set(ind);
}

/* thread.tcache.enabled: the write happens even when the read then fails
 * (jemalloc's order); EAGAIN when the cache cannot be set up. */
static int
ctl_thread_tcache_enabled(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                          void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	bool old = tsd_thread_tcache_enabled();
	uint8_t enable; /* a byte, so that any nonzero bool a program passes is true */
	int err = ctl_write(newp, newlen, &enable, sizeof(bool));
	if (err != 0)
		return err;
	if (newp != NULL) {
		err = tsd_thread_tcache_set_enabled(enable != 0);
		if (err != 0)
			return err == ENOMEM ? EAGAIN : err;
	}
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* thread.tcache.flush: void; EFAULT while the thread's cache is off. */
static int
ctl_thread_tcache_flush(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                        void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!tsd_thread_tcache_enabled())
		return EFAULT;
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	tsd_thread_tcache_flush();
	return 0;
}

/* thread.idle: void; the calling thread will not allocate for a while:
 * empties its cache (if on) and runs the decay of its arena. */
static int
ctl_thread_idle(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	if (tsd_thread_tcache_enabled())
		tsd_thread_tcache_flush();
	arena_decay(tsd_thread_arena_get());
	return 0;
}

static const ctl_node_t ctl_thread_tcache_nodes[] = {
	CTL_LEAF(enabled, ctl_thread_tcache_enabled),
	CTL_LEAF(flush, ctl_thread_tcache_flush),
};

/* thread.prof.name: read-only or write-only in one call (jemalloc's rule:
 * both is EPERM); a name of other than printable characters is EFAULT. */
static int
ctl_thread_prof_name(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                     size_t newlen)
{
	(void)mib;
	(void)miblen;
	tsd_t *tsd = tsd_fetch();
	if (!opt_prof)
		return ENOENT;
	if (tsd == NULL)
		return EAGAIN;
	if (newp != NULL) {
		if (!ctl_is_write_only_call(oldp, oldlenp))
			return EPERM;
		const char *name;
		int err = ctl_require_write(newp, newlen, &name, sizeof(name));
		if (err != 0)
			return err;
		return name == NULL ? EFAULT : prof_thread_name_set(&tsd->prof_tdata, name);
	}
	const char *name = prof_thread_name_get(&tsd->prof_tdata);
	return ctl_read(oldp, oldlenp, &name, sizeof(name));
}

/* A read-write bool of the profiler: ENOENT without opt.prof; the old value
 * is read before the new one is set (any nonzero byte is true). */
static int
ctl_prof_bool(void *oldp, size_t *oldlenp, void *newp, size_t newlen, bool old,
              void (*set)(bool value))
{
	if (!opt_prof)
		return ENOENT;
	uint8_t value;
	int err = ctl_write(newp, newlen, &value, sizeof(bool));
	if (err != 0)
		return err;
	if (newp != NULL)
		set(value != 0);
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* The calling thread's thread.prof.active, for ctl_prof_bool. */
static void
ctl_thread_prof_active_set(bool active)
{
	tsd_t *tsd = tsd_fetch();
	if (tsd != NULL)
		prof_thread_active_set(&tsd->prof_tdata, active);
}

static int
ctl_thread_prof_active(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                       void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	tsd_t *tsd = tsd_fetch();
	if (tsd == NULL)
		return opt_prof ? EAGAIN : ENOENT;
	bool old = opt_prof && prof_thread_active_get(&tsd->prof_tdata);
	return ctl_prof_bool(oldp, oldlenp, newp, newlen, old, ctl_thread_prof_active_set);
}

static const ctl_node_t ctl_thread_prof_nodes[] = {
	CTL_LEAF(name, ctl_thread_prof_name),
	CTL_LEAF(active, ctl_thread_prof_active),
};

static const ctl_node_t ctl_thread_nodes[] = {
	CTL_LEAF(arena, ctl_thread_arena),
	CTL_NAMED(prof, ctl_thread_prof_nodes),
	CTL_NAMED(tcache, ctl_thread_tcache_nodes),
	CTL_LEAF(allocated, ctl_thread_allocated),
	CTL_LEAF(allocatedp, ctl_thread_allocatedp),
	CTL_LEAF(deallocated, ctl_thread_deallocated),
	CTL_LEAF(deallocatedp, ctl_thread_deallocatedp),
	CTL_LEAF(idle, ctl_thread_idle),
};

/* ------------------------------------------------------------ tcache.* */

/* tcache.create: a new explicit cache's id, refilled from the calling
 * thread's arena; nothing is created unless the id can be returned. */
static int
ctl_tcache_create(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_read_only_call(newp, newlen))
		return EPERM;
	unsigned id;
	int err = ctl_require_read(oldp, oldlenp, sizeof(id));
	if (err != 0)
		return err;
	if (tcaches_create(NULL, &id) != 0)
		return EFAULT;
	return ctl_read(oldp, oldlenp, &id, sizeof(id));
}

/* tcache.flush and tcache.destroy: write-only; EINVAL without an id,
 * EFAULT for an id that is not live. */
static int
ctl_tcache_action(void *oldp, size_t *oldlenp, void *newp, size_t newlen,
                  int (*action)(unsigned id))
{
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	unsigned id;
	int err = ctl_require_write(newp, newlen, &id, sizeof(id));
	if (err != 0)
		return err;
	return action(id) == 0 ? 0 : EFAULT;
}

static int
ctl_tcache_flush(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_tcache_action(oldp, oldlenp, newp, newlen, tcaches_flush);
}

static int
ctl_tcache_destroy(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                   size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_tcache_action(oldp, oldlenp, newp, newlen, tcaches_destroy);
}

static const ctl_node_t ctl_tcache_nodes[] = {
	CTL_LEAF(create, ctl_tcache_create),
	CTL_LEAF(flush, ctl_tcache_flush),
	CTL_LEAF(destroy, ctl_tcache_destroy),
};

/* ------------------------------------------------------------ prof.* */

static int
ctl_prof_active(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_bool(oldp, oldlenp, newp, newlen, opt_prof && prof_active_get(),
	                     prof_active_set);
}

static int
ctl_prof_thread_active_init(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                            void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_bool(oldp, oldlenp, newp, newlen,
	                     opt_prof && prof_thread_active_init_get(),
	                     prof_thread_active_init_set);
}

static int
ctl_prof_gdump(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
               size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_bool(oldp, oldlenp, newp, newlen, opt_prof && prof_gdump_get(),
	                     prof_gdump_set);
}

/* A write-only const char * of the profiler (prof.dump, prof.recent.dump,
 * prof.prefix), handed to action. */
static int
ctl_prof_string(void *oldp, size_t *oldlenp, void *newp, size_t newlen,
                int (*action)(const char *value))
{
	if (!opt_prof)
		return ENOENT;
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	const char *value = NULL;
	int err = ctl_write(newp, newlen, &value, sizeof(value));
	return err != 0 ? err : action(value);
}

/* prof.dump: NULL (or no value) dumps to the automatic name. */
static int
ctl_prof_dump(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
              size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_string(oldp, oldlenp, newp, newlen, prof_dump_manual);
}

/* prof.recent.dump: the ring of recent allocations to a path (required). */
static int
ctl_prof_recent_dump(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                     size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_string(oldp, oldlenp, newp, newlen, prof_recent_dump_path);
}

static int
ctl_prof_prefix_set(const char *prefix)
{
	return prefix == NULL ? EFAULT : prof_prefix_set(prefix);
}

static int
ctl_prof_prefix(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_string(oldp, oldlenp, newp, newlen, ctl_prof_prefix_set);
}

/* prof.reset: write-only; the new lg_sample (clipped to 63) or, without a
 * value, the current one.  The calling thread samples at the new rate at
 * once; the others from their next sample on. */
static int
ctl_prof_reset(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
               size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!opt_prof)
		return ENOENT;
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	size_t lg = prof_lg_sample();
	int err = ctl_write(newp, newlen, &lg, sizeof(lg));
	if (err != 0)
		return err;
	if (lg > 63)
		lg = 63;
	prof_reset((unsigned)lg);
	event_set_sample_lg((int)lg);
	tsd_t *tsd = tsd_fetch();
	if (tsd != NULL)
		event_sample_redraw(tsd);
	return 0;
}

/* prof.stats.{bins,lextents}.<i>.{live,accum}: read-only pairs
 * {req_sum, count}; ENOENT without opt.prof_stats. */
static int
ctl_prof_stats_class(unsigned szind, bool live, void *oldp, size_t *oldlenp, void *newp,
                     size_t newlen)
{
	prof_class_stats_t l, a;
	if (!prof_stats_read(szind, &l, &a))
		return ENOENT;
	if (!ctl_is_read_only_call(newp, newlen))
		return EPERM;
	return ctl_read(oldp, oldlenp, live ? &l : &a, sizeof(l));
}

#define CTL_PROF_STATS(fn, szind, live)                                                   \
	static int fn(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,      \
	              void *newp, size_t newlen)                                          \
	{                                                                                 \
		(void)miblen;                                                             \
		return ctl_prof_stats_class(szind, live, oldp, oldlenp, newp, newlen);    \
	}
CTL_PROF_STATS(ctl_prof_stats_bins_i_live, (unsigned)mib[3], true)
CTL_PROF_STATS(ctl_prof_stats_bins_i_accum, (unsigned)mib[3], false)
CTL_PROF_STATS(ctl_prof_stats_lextents_i_live, SZ_NBINS + (unsigned)mib[3], true)
CTL_PROF_STATS(ctl_prof_stats_lextents_i_accum, SZ_NBINS + (unsigned)mib[3], false)

static const ctl_node_t ctl_prof_stats_bins_i_nodes[] = {
	CTL_LEAF(live, ctl_prof_stats_bins_i_live),
	CTL_LEAF(accum, ctl_prof_stats_bins_i_accum),
};
static const ctl_node_t ctl_prof_stats_bins_i = CTL_INNER(ctl_prof_stats_bins_i_nodes);
static const ctl_node_t ctl_prof_stats_lextents_i_nodes[] = {
	CTL_LEAF(live, ctl_prof_stats_lextents_i_live),
	CTL_LEAF(accum, ctl_prof_stats_lextents_i_accum),
};
static const ctl_node_t ctl_prof_stats_lextents_i = CTL_INNER(ctl_prof_stats_lextents_i_nodes);
static const ctl_node_t ctl_prof_stats_nodes[] = {
	CTL_INDEXED(bins, ctl_prof_stats_bins_i, ctl_arenas_bin_index_valid),
	CTL_INDEXED(lextents, ctl_prof_stats_lextents_i, ctl_arenas_lextent_index_valid),
};

CTL_RO(ctl_prof_lg_sample, size_t, opt_prof ? prof_lg_sample() : 0)
CTL_RO(ctl_prof_interval, uint64_t, opt_prof ? prof_interval() : 0)

static const ctl_node_t ctl_prof_recent_nodes[] = {
	CTL_LEAF(dump, ctl_prof_recent_dump),
};

static const ctl_node_t ctl_prof_nodes[] = {
	CTL_LEAF(thread_active_init, ctl_prof_thread_active_init),
	CTL_LEAF(active, ctl_prof_active),
	CTL_LEAF(dump, ctl_prof_dump),
	CTL_LEAF(prefix, ctl_prof_prefix),
	CTL_LEAF(gdump, ctl_prof_gdump),
	CTL_LEAF(reset, ctl_prof_reset),
	CTL_LEAF(lg_sample, ctl_prof_lg_sample),
	CTL_LEAF(interval, ctl_prof_interval),
	CTL_NAMED(stats, ctl_prof_stats_nodes),
	CTL_NAMED(recent, ctl_prof_recent_nodes),
};

/* experimental.hooks.prof_dump: read the old hook, install a new one. */
static int
ctl_experimental_hooks_prof_dump(const size_t *mib, size_t miblen, void *oldp,
                                 size_t *oldlenp, void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!opt_prof)
		return ENOENT;
	prof_dump_hook_t old = prof_dump_hook_get(), hook;
	int err = ctl_write(newp, newlen, &hook, sizeof(hook));
	if (err != 0)
		return err;
	if (newp != NULL)
		prof_dump_hook_set(hook);
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

static const ctl_node_t ctl_experimental_hooks_nodes[] = {
	CTL_LEAF(prof_dump, ctl_experimental_hooks_prof_dump),
};

/* experimental.prof_recent.alloc_max: the ring's limit, read and set. */
static int
ctl_experimental_prof_recent_alloc_max(const size_t *mib, size_t miblen, void *oldp,
                                       size_t *oldlenp, void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!opt_prof)
		return ENOENT;
	ssize_t old = prof_recent_alloc_max_get(), max;
	int err = ctl_write(newp, newlen, &max, sizeof(max));
	if (err == 0 && newp != NULL)
		err = prof_recent_alloc_max_set(max);
	return err != 0 ? err : ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* experimental.prof_recent.alloc_dump: write-only, jemalloc's pair of a
 * write callback and its argument. */
static int
ctl_experimental_prof_recent_alloc_dump(const size_t *mib, size_t miblen, void *oldp,
                                        size_t *oldlenp, void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!opt_prof)
		return ENOENT;
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	struct {
		void (*write_cb)(void *, const char *);
		void *cbopaque;
	} out;
	int err = ctl_require_write(newp, newlen, &out, sizeof(out));
	return err != 0 ? err : prof_recent_dump_callback(out.write_cb, out.cbopaque);
}

static const ctl_node_t ctl_experimental_prof_recent_nodes[] = {
	CTL_LEAF(alloc_max, ctl_experimental_prof_recent_alloc_max),
	CTL_LEAF(alloc_dump, ctl_experimental_prof_recent_alloc_dump),
};

static const ctl_node_t ctl_experimental_nodes[] = {
	CTL_NAMED(hooks, ctl_experimental_hooks_nodes),
	CTL_NAMED(prof_recent, ctl_experimental_prof_recent_nodes),
};

/* ------------------------------------------------------------ config.* */

CTL_RO(ctl_config_prof, bool, true)

static const ctl_node_t ctl_config_nodes[] = {
	CTL_LEAF(prof, ctl_config_prof),
};

/* ------------------------------------------------------------ background_thread */

/* background_thread: whether the purger threads run; writing true starts
 * them at once (EAGAIN when a thread cannot be created: they stay off),
 * false stops them and waits for them.  The old value is read first, and
 * nothing is written when that read fails (jemalloc's order). */
static int
ctl_background_thread(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                      size_t newlen)
{
	(void)mib;
	(void)miblen;
	bool old = background_enabled();
	uint8_t value; /* a byte, so that any nonzero bool a program passes is true */
	int err = ctl_write(newp, newlen, &value, sizeof(bool));
	if (err == 0)
		err = ctl_read(oldp, oldlenp, &old, sizeof(old));
	if (err != 0 || newp == NULL)
		return err;
	return background_set_enabled(value != 0);
}

/* max_background_threads: 1 .. opt.max_background_threads (jemalloc's
 * range; EINVAL outside it); a running purger restarts with the new
 * number. */
static int
ctl_max_background_threads(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                           void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	size_t old = background_max_threads(), value;
	int err = ctl_write(newp, newlen, &value, sizeof(value));
	if (err == 0)
		err = ctl_read(oldp, oldlenp, &old, sizeof(old));
	if (err != 0 || newp == NULL)
		return err;
	if (value < 1 || value > opt_max_background_threads)
		return EINVAL;
	return background_set_max_threads(value);
}

/* ------------------------------------------------------------ the root */

static const ctl_node_t ctl_root_nodes[] = {
	CTL_LEAF(version, ctl_version),
	CTL_LEAF(epoch, ctl_epoch_handler),
	CTL_NAMED(thread, ctl_thread_nodes),
	CTL_NAMED(config, ctl_config_nodes),
	CTL_NAMED(opt, ctl_opt_nodes),
	CTL_NAMED(tcache, ctl_tcache_nodes),
	CTL_INDEXED(arena, ctl_arena_i, ctl_arena_index_valid),
	CTL_NAMED(arenas, ctl_arenas_nodes),
	CTL_NAMED(stats, ctl_stats_nodes),
	CTL_NAMED(prof, ctl_prof_nodes),
	CTL_NAMED(experimental, ctl_experimental_nodes),
	CTL_LEAF(background_thread, ctl_background_thread),
	CTL_LEAF(max_background_threads, ctl_max_background_threads),
};
static const ctl_node_t ctl_root = CTL_INNER(ctl_root_nodes);

/* ------------------------------------------------------------ lookup */

/* An integer path component: one or more decimal digits, fitting size_t. */
static bool
ctl_parse_index(const char *s, size_t len, size_t *out)
{
	if (len == 0)
		return false;
	size_t value = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		size_t d = (size_t)(s[i] - '0');
		if (value > (SIZE_MAX - d) / 10)
			return false;
		value = value * 10 + d;
	}
	*out = value;
	return true;
}

/* The child of node for one component, or NULL; stores its MIB number. */
static const ctl_node_t *
ctl_child_by_name(const ctl_node_t *node, const char *elm, size_t elen, size_t *mibp)
{
	if (node->indexed != NULL) {
		if (!ctl_parse_index(elm, elen, mibp) || !node->index_valid(*mibp))
			return NULL;
		return node->indexed;
	}
	for (size_t j = 0; j < node->nchildren; j++) {
		const char *cname = node->children[j].name;
		if (strlen(cname) == elen && memcmp(cname, elm, elen) == 0) {
			*mibp = j;
			return &node->children[j];
		}
	}
	return NULL;
}

/*
 * Resolves up to *depthp components of name into mib.  When the name ends
 * first, *depthp becomes its number of components; otherwise the walk stops
 * after *depthp components (a partial MIB).  *nodep is where it stopped.
 * Returns 0 or ENOENT (unknown component, index out of range, components
 * past a leaf); on ENOENT *depthp is unchanged.
 */
static int
ctl_lookup(const char *name, size_t *mib, size_t *depthp, const ctl_node_t **nodep)
{
	const ctl_node_t *node = &ctl_root;
	const char *elm = name;
	for (size_t i = 0; i < *depthp; i++) {
		const char *dot = strchrnul(elm, '.');
		node = ctl_child_by_name(node, elm, (size_t)(dot - elm), &mib[i]);
		if (node == NULL)
			return ENOENT;
		if (*dot == '\0') {
			*depthp = i + 1;
			break;
		}
		if (node->handler != NULL)
			return ENOENT;
		elm = dot + 1;
	}
	*nodep = node;
	return 0;
}

/* The node a MIB leads to, or NULL. */
static const ctl_node_t *
ctl_lookup_mib(const size_t *mib, size_t miblen)
{
	const ctl_node_t *node = &ctl_root;
	for (size_t i = 0; i < miblen; i++) {
		if (node->handler != NULL)
			return NULL;
		if (node->indexed != NULL) {
			if (!node->index_valid(mib[i]))
				return NULL;
			node = node->indexed;
		} else {
			if (mib[i] >= node->nchildren)
				return NULL;
			node = &node->children[mib[i]];
		}
	}
	return node;
}

/* ------------------------------------------------------------ exported */

EXPORT int
mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
	if (init_ensure() != 0)
		return EAGAIN;
	size_t mib[CTL_MAX_DEPTH];
	size_t depth = CTL_MAX_DEPTH;
	const ctl_node_t *node;
	int err = ctl_lookup(name, mib, &depth, &node);
	if (err != 0)
		return err;
	if (node->handler == NULL)
		return ENOENT;
	return node->handler(mib, depth, oldp, oldlenp, newp, newlen);
}

EXPORT int
mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp)
{
	if (init_ensure() != 0)
		return EAGAIN;
	const ctl_node_t *node;
	return ctl_lookup(name, mibp, miblenp, &node);
}

EXPORT int
mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
             size_t newlen)
{
	if (init_ensure() != 0)
		return EAGAIN;
	const ctl_node_t *node = ctl_lookup_mib(mib, miblen);
	if (node == NULL || node->handler == NULL)
		return ENOENT;
	return node->handler(mib, miblen, oldp, oldlenp, newp, newlen);
}

/* ------------------------------------------------------------ fork */

void
ctl_boot(void)
{
	mutex_register(&ctl_mtx, NULL);
}
