/*
 * ctl_arena.c — the arena.<i>.* and arenas.* subtrees of the mallctl tree.
 * L5.  See ctl.h for the tree and docs/compat.md, "mallctl", for the rules.
 *
 * Every node forwards to arena.c (and sz.c, tcache.c for the class tables);
 * nothing here keeps state or takes a lock of its own.  Extent hooks are
 * passed as the program gave them; arena.c maps jemalloc's default table
 * (extent_hooks_default) to "no hooks" (docs/compat.md, "Extent hooks").
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "conf.h"
#include "ctl.h"
#include "sz.h"
#include "tcache.h"

/* ------------------------------------------------------------ arenas.* */

CTL_RO(ctl_arenas_narenas, unsigned, arena_narenas_total())
CTL_RO(ctl_arenas_quantum, size_t, QUANTUM)
CTL_RO(ctl_arenas_page, size_t, PAGE)
CTL_RO(ctl_arenas_tcache_max, size_t, sz_index2size(tcache_nbins - 1))
CTL_RO(ctl_arenas_nbins, unsigned, SZ_NBINS)
CTL_RO(ctl_arenas_nhbins, unsigned, tcache_nbins)
CTL_RO(ctl_arenas_nlextents, unsigned, SZ_NLEXTENTS)

/* A new manual arena with the given hooks, its index read out: EINVAL for
 * hooks without alloc, EAGAIN when no arena can be made. */
static int
ctl_arena_create_read(void *oldp, size_t *oldlenp, extent_hooks_t *hooks)
{
	unsigned ind;
	int err = arena_create_with_hooks(&ind, hooks);
	if (err != 0)
		return err == EINVAL ? EINVAL : EAGAIN;
	return ctl_read(oldp, oldlenp, &ind, sizeof(ind));
}

/* arenas.create: a new manual arena's index; the value written, if any, is
 * its extent hooks (extent_hooks_t *), or, an unsigned, its home NUMA
 * node (EINVAL when NUMA is inactive or the node has no memory). */
static int
ctl_arenas_create(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)mib;
	(void)miblen;
	int err = ctl_require_read(oldp, oldlenp, sizeof(unsigned));
	if (err != 0)
		return err;
	if (newp != NULL && newlen == sizeof(unsigned)) {
		unsigned node, ind;
		memcpy(&node, newp, sizeof(node));
		err = arena_create_on_node(&ind, node);
		if (err != 0)
			return err == EINVAL ? EINVAL : EAGAIN;
		return ctl_read(oldp, oldlenp, &ind, sizeof(ind));
	}
	extent_hooks_t *hooks = (extent_hooks_t *)&extent_hooks_default;
	err = ctl_write(newp, newlen, &hooks, sizeof(hooks));
	if (err != 0)
		return err;
	return ctl_arena_create_read(oldp, oldlenp, hooks);
}

/* experimental.arenas_create_ext's value: jemalloc 5.3's arena_config_t.
 * Metadata never comes from the hooks (docs/compat.md, "Extent hooks"), so
 * metadata_use_hooks changes nothing. */
typedef struct ctl_arena_config {
	extent_hooks_t *extent_hooks;
	bool metadata_use_hooks;
} ctl_arena_config_t;

int
ctl_experimental_arenas_create_ext(const size_t *mib, size_t miblen, void *oldp,
                                   size_t *oldlenp, void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	int err = ctl_require_read(oldp, oldlenp, sizeof(unsigned));
	if (err != 0)
		return err;
	ctl_arena_config_t config = {(extent_hooks_t *)&extent_hooks_default, true};
	err = ctl_write(newp, newlen, &config, sizeof(config));
	if (err != 0)
		return err;
	return ctl_arena_create_read(oldp, oldlenp, config.extent_hooks);
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
/* Bins are not sharded: one per class and arena. */
CTL_RO(ctl_arenas_bin_i_nshards, uint32_t, 1)

bool
ctl_bin_index_valid(size_t index)
{
	return index < SZ_NBINS;
}

static const ctl_node_t ctl_arenas_bin_i_nodes[] = {
	CTL_LEAF(size, ctl_arenas_bin_i_size),
	CTL_LEAF(nregs, ctl_arenas_bin_i_nregs),
	CTL_LEAF(slab_size, ctl_arenas_bin_i_slab_size),
	CTL_LEAF(nshards, ctl_arenas_bin_i_nshards),
};
static const ctl_node_t ctl_arenas_bin_i = CTL_INNER(ctl_arenas_bin_i_nodes);

/* arenas.lextent.<i>.size: mib[2] is the large class, counted from the first. */
CTL_RO(ctl_arenas_lextent_i_size, size_t, sz_index2size(SZ_NBINS + (unsigned)mib[2]))

bool
ctl_lextent_index_valid(size_t index)
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
	CTL_INDEXED(bin, ctl_arenas_bin_i, ctl_bin_index_valid),
	CTL_LEAF(nlextents, ctl_arenas_nlextents),
	CTL_INDEXED(lextent, ctl_arenas_lextent_i, ctl_lextent_index_valid),
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

/* arena.<i>.dss: strata never uses sbrk.  As jemalloc built without dss:
 * "disabled" is the only setting; "primary" and "secondary" give EFAULT,
 * other strings EINVAL, an arena that does not exist EFAULT.  Also for all
 * arenas. */
static int
ctl_arena_i_dss(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                size_t newlen)
{
	(void)miblen;
	const char *dss = NULL;
	int err = ctl_write(newp, newlen, &dss, sizeof(dss));
	if (err != 0)
		return err;
	bool disabled = dss == NULL || strcmp(dss, "disabled") == 0;
	if (!disabled && strcmp(dss, "primary") != 0 && strcmp(dss, "secondary") != 0)
		return EINVAL;
	if (!ctl_arena_i_get_initialized(mib[1]) || !disabled)
		return EFAULT;
	const char *current = "disabled";
	return ctl_read(oldp, oldlenp, &current, sizeof(current));
}

/* arena.<i>.extent_hooks: the arena's hooks (jemalloc's default table for
 * an arena without its own).  Writing replaces them, and creates an
 * automatic arena not created yet; EFAULT for "all arenas" and a manual
 * index with no arena, EINVAL for hooks without alloc. */
static int
ctl_arena_i_extent_hooks(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                         void *newp, size_t newlen)
{
	(void)miblen;
	extent_hooks_t *old, *hooks;
	if (ctl_arena_index_is_all(mib[1]) || arena_extent_hooks_get((unsigned)mib[1], &old) != 0)
		return EFAULT;
	int err = ctl_write(newp, newlen, &hooks, sizeof(hooks));
	if (err == 0 && newp != NULL)
		err = arena_extent_hooks_set((unsigned)mib[1], hooks);
	if (err != 0)
		return err;
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* arena.<i>.numa_node: the arena's home node (UINT_MAX when NUMA is
 * inactive); writing moves the arena and its pages to another node (EINVAL
 * for a node without memory or when inactive), creating an automatic arena
 * not created yet.  EFAULT for "all arenas" and a manual index with no
 * arena. */
static int
ctl_arena_i_numa_node(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                      void *newp, size_t newlen)
{
	(void)miblen;
	unsigned old, node;
	if (ctl_arena_index_is_all(mib[1]) || arena_numa_node_get((unsigned)mib[1], &old) != 0)
		return EFAULT;
	int err = ctl_write(newp, newlen, &node, sizeof(node));
	if (err == 0 && newp != NULL)
		err = arena_numa_node_set((unsigned)mib[1], node);
	if (err != 0)
		return err;
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* arena.<i>.retain_grow_limit: ENOENT without retain (as jemalloc), EFAULT
 * for "all arenas", a missing arena or a limit below a page. */
static int
ctl_arena_i_retain_grow_limit(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                              void *newp, size_t newlen)
{
	(void)miblen;
	if (!opt_retain)
		return ENOENT;
	size_t old, limit;
	if (ctl_arena_index_is_all(mib[1]) ||
	    arena_retain_grow_limit_get((unsigned)mib[1], &old) != 0)
		return EFAULT;
	int err = ctl_write(newp, newlen, &limit, sizeof(limit));
	if (err != 0)
		return err;
	if (newp != NULL && arena_retain_grow_limit_set((unsigned)mib[1], limit) != 0)
		return EFAULT;
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

static const ctl_node_t ctl_arena_i_nodes[] = {
	CTL_LEAF(initialized, ctl_arena_i_initialized),
	CTL_LEAF(reset, ctl_arena_i_reset),
	CTL_LEAF(destroy, ctl_arena_i_destroy),
	CTL_LEAF(purge, ctl_arena_i_purge),
	CTL_LEAF(decay, ctl_arena_i_decay),
	CTL_LEAF(dirty_decay_ms, ctl_arena_i_dirty_decay_ms),
	CTL_LEAF(muzzy_decay_ms, ctl_arena_i_muzzy_decay_ms),
	CTL_LEAF(dss, ctl_arena_i_dss),
	CTL_LEAF(extent_hooks, ctl_arena_i_extent_hooks),
	CTL_LEAF(retain_grow_limit, ctl_arena_i_retain_grow_limit),
	CTL_LEAF(numa_node, ctl_arena_i_numa_node),
};
static const ctl_node_t ctl_arena_i = CTL_INNER(ctl_arena_i_nodes);

const ctl_node_t ctl_arena_tree = CTL_INDEXED(, ctl_arena_i, ctl_arena_index_valid);
const ctl_node_t ctl_arenas_tree = CTL_INNER(ctl_arenas_nodes);
