/*
 * ctl.c — the mallctl tree and the exported mallctl, mallctlnametomib and
 * mallctlbymib.  L5.  See ctl.h for the tree's shape and how to add nodes.
 *
 * Semantics and return codes are jemalloc's (reference §2.1): ENOENT for an
 * unknown name, an inner node, an index out of range or a MIB longer than
 * its path; EPERM for writing a read-only node or reading a write-only or
 * void one; EINVAL for a newlen or *oldlenp that is not the node's size (a
 * short or long *oldlenp still gets min(*oldlenp, size) bytes and is set to
 * that length); EAGAIN when the allocator cannot initialize.
 *
 * Where jemalloc is lax we are strict: an integer component must be all
 * decimal digits ("0x1" and " 1" are ENOENT, jemalloc reads them as 0 and
 * 1), and arenas.bin.<i> / arenas.lextent.<i> reject i == count (jemalloc
 * accepts it and reads past its table).
 *
 * Locks: ctl_mtx protects the epoch and the stats snapshot (ctl_epoch,
 * ctl_stats); it is taken only by the epoch and stats.* handlers and is held
 * across stats_snapshot, so it ranks above every lock stats takes.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "conf.h"
#include "ctl.h"
#include "init.h"
#include "mutex.h"
#include "stats.h"
#include "sz.h"
#include "tsd.h"

static mutex_t ctl_mtx = MUTEX_INITIALIZER;
/* Protected by ctl_mtx: 0 until the first snapshot, then bumped by each. */
static uint64_t ctl_epoch;
/* Protected by ctl_mtx: the stats as of the last epoch write. */
static stats_global_t ctl_stats;

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

static bool
ctl_is_read_only_call(const void *newp, size_t newlen)
{
	return newp == NULL && newlen == 0;
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

/* Takes a new snapshot.  ctl_mtx held. */
static void
ctl_refresh(void)
{
	stats_snapshot(&ctl_stats);
	ctl_epoch++;
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
	if (ctl_epoch == 0 || newp != NULL)
		ctl_refresh();
	uint64_t epoch = ctl_epoch;
	mutex_unlock(&ctl_mtx);
	return ctl_read(oldp, oldlenp, &epoch, sizeof(epoch));
}

/* The snapshot's field, taking the first snapshot if there is none yet. */
#define CTL_STATS(field)                                                                  \
	static size_t ctl_stats_get_##field(void)                                         \
	{                                                                                 \
		mutex_lock(&ctl_mtx);                                                     \
		if (ctl_epoch == 0)                                                       \
			ctl_refresh();                                                    \
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

static const ctl_node_t ctl_stats_nodes[] = {
	CTL_LEAF(allocated, ctl_stats_allocated), CTL_LEAF(active, ctl_stats_active),
	CTL_LEAF(mapped, ctl_stats_mapped),       CTL_LEAF(resident, ctl_stats_resident),
	CTL_LEAF(metadata, ctl_stats_metadata),   CTL_LEAF(retained, ctl_stats_retained),
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
#define CTL_OPT_LETTERS(name, ctype) CTL_RO(ctl_opt_##name, const char *, opt_##name)
CONF_OPTIONS(CTL_OPT_HANDLER)
#undef CTL_OPT_HANDLER

#define CTL_OPT_NODE(name, ...) CTL_LEAF(name, ctl_opt_##name),
static const ctl_node_t ctl_opt_nodes[] = {CONF_OPTIONS(CTL_OPT_NODE)};
#undef CTL_OPT_NODE

/* ------------------------------------------------------------ arenas.* */

CTL_RO(ctl_arenas_narenas, unsigned, arena_narenas_total())
CTL_RO(ctl_arenas_quantum, size_t, QUANTUM)
CTL_RO(ctl_arenas_page, size_t, PAGE)
CTL_RO(ctl_arenas_nbins, unsigned, SZ_NBINS)
CTL_RO(ctl_arenas_nlextents, unsigned, SZ_NLEXTENTS)

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
	CTL_LEAF(nbins, ctl_arenas_nbins),
	CTL_INDEXED(bin, ctl_arenas_bin_i, ctl_arenas_bin_index_valid),
	CTL_LEAF(nlextents, ctl_arenas_nlextents),
	CTL_INDEXED(lextent, ctl_arenas_lextent_i, ctl_arenas_lextent_index_valid),
};

/* ------------------------------------------------------------ thread.* */

CTL_RO(ctl_thread_allocated, uint64_t, *tsd_thread_allocatedp())
CTL_RO(ctl_thread_deallocated, uint64_t, *tsd_thread_deallocatedp())
CTL_RO(ctl_thread_allocatedp, uint64_t *, tsd_thread_allocatedp())
CTL_RO(ctl_thread_deallocatedp, uint64_t *, tsd_thread_deallocatedp())

static const ctl_node_t ctl_thread_nodes[] = {
	CTL_LEAF(allocated, ctl_thread_allocated),
	CTL_LEAF(allocatedp, ctl_thread_allocatedp),
	CTL_LEAF(deallocated, ctl_thread_deallocated),
	CTL_LEAF(deallocatedp, ctl_thread_deallocatedp),
};

/* ------------------------------------------------------------ the root */

static const ctl_node_t ctl_root_nodes[] = {
	CTL_LEAF(version, ctl_version),
	CTL_LEAF(epoch, ctl_epoch_handler),
	CTL_NAMED(thread, ctl_thread_nodes),
	CTL_NAMED(opt, ctl_opt_nodes),
	CTL_NAMED(arenas, ctl_arenas_nodes),
	CTL_NAMED(stats, ctl_stats_nodes),
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
ctl_prefork(void)
{
	mutex_prefork(&ctl_mtx);
}

void
ctl_postfork_parent(void)
{
	mutex_postfork_parent(&ctl_mtx);
}

void
ctl_postfork_child(void)
{
	mutex_postfork_child(&ctl_mtx);
}
