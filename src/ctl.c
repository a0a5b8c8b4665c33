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
 * Locks: none here; the stats snapshot's lock is ctl_stats.c's, and every
 * other node reads state its module owns and locks.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "background.h"
#include "conf.h"
#include "ctl.h"
#include "init.h"
#include "msg.h"
#include "tsd.h"

/* ------------------------------------------------------------ access helpers */

/* Copies a value out as jemalloc's READ does. */
int
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
int
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
bool
ctl_is_read_only_call(const void *newp, size_t newlen)
{
	return newp == NULL && newlen == 0;
}

bool
ctl_is_write_only_call(const void *oldp, const size_t *oldlenp)
{
	return oldp == NULL && oldlenp == NULL;
}

bool
ctl_is_void_call(const void *oldp, const size_t *oldlenp, const void *newp, size_t newlen)
{
	return ctl_is_write_only_call(oldp, oldlenp) && ctl_is_read_only_call(newp, newlen);
}

/*
 * For nodes whose action is useless unless its result is returned
 * (jemalloc's VERIFY_READ): EINVAL, with *oldlenp set to 0, unless oldp
 * and an *oldlenp of size are given.
 */
int
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
int
ctl_require_write(const void *newp, size_t newlen, void *value, size_t size)
{
	if (newp == NULL)
		return EINVAL;
	return ctl_write(newp, newlen, value, size);
}

/* ------------------------------------------------------------ version, opt.* */

/* jemalloc's form, so that its version parsers accept it (strata.h). */
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
/* jemalloc's fxp_t: the 16.16 bits themselves. */
#define CTL_OPT_FXP(name, ctype) CTL_RO(ctl_opt_##name, uint32_t, opt_##name)
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
#define CTL_OPT_NODE_FXP(name) CTL_LEAF(name, ctl_opt_##name),

/* opt.malloc_conf.*: the raw text of each source, NULL when absent
 * (jemalloc 5.3.1's nodes; docs/compat.md, "MALLOC_CONF sources"). */
CTL_RO(ctl_opt_malloc_conf_global_var, const char *, conf_source_text[CONF_SOURCE_GLOBAL])
CTL_RO(ctl_opt_malloc_conf_symlink, const char *, conf_source_text[CONF_SOURCE_SYMLINK])
CTL_RO(ctl_opt_malloc_conf_env_var, const char *, conf_source_text[CONF_SOURCE_ENV])
CTL_RO(ctl_opt_malloc_conf_global_var_2_conf_harder, const char *,
       conf_source_text[CONF_SOURCE_HARDER])

static const ctl_node_t ctl_opt_malloc_conf_nodes[] = {
	CTL_LEAF(global_var, ctl_opt_malloc_conf_global_var),
	CTL_LEAF(symlink, ctl_opt_malloc_conf_symlink),
	CTL_LEAF(env_var, ctl_opt_malloc_conf_env_var),
	CTL_LEAF(global_var_2_conf_harder, ctl_opt_malloc_conf_global_var_2_conf_harder),
};

static const ctl_node_t ctl_opt_nodes[] = {
	CONF_OPTIONS(CTL_OPT_NODE) CTL_NAMED(malloc_conf, ctl_opt_malloc_conf_nodes),
};
#undef CTL_OPT_NODE

/* ------------------------------------------------------------ config.* */

/* How strata is built, in jemalloc's terms: the profiler (libunwind) and
 * statistics are always in, junk and zero filling and xmalloc too; there is
 * no lazy locking, utrace or cache-oblivious placement, and the safety
 * checks are an option off by default (safety_checks), not built on
 * (opt_safety_checks); debug follows make DEBUG=1. */
CTL_RO(ctl_config_cache_oblivious, bool, false)
CTL_RO(ctl_config_debug, bool, config_debug)
CTL_RO(ctl_config_fill, bool, true)
CTL_RO(ctl_config_lazy_lock, bool, false)
CTL_RO(ctl_config_malloc_conf, const char *, conf_source_text[CONF_SOURCE_BUILTIN])
CTL_RO(ctl_config_opt_safety_checks, bool, false)
CTL_RO(ctl_config_prof, bool, true)
CTL_RO(ctl_config_prof_libgcc, bool, false)
CTL_RO(ctl_config_prof_libunwind, bool, true)
CTL_RO(ctl_config_stats, bool, config_stats)
CTL_RO(ctl_config_utrace, bool, false)
CTL_RO(ctl_config_xmalloc, bool, true)

static const ctl_node_t ctl_config_nodes[] = {
	CTL_LEAF(cache_oblivious, ctl_config_cache_oblivious),
	CTL_LEAF(debug, ctl_config_debug),
	CTL_LEAF(fill, ctl_config_fill),
	CTL_LEAF(lazy_lock, ctl_config_lazy_lock),
	CTL_LEAF(malloc_conf, ctl_config_malloc_conf),
	CTL_LEAF(opt_safety_checks, ctl_config_opt_safety_checks),
	CTL_LEAF(prof, ctl_config_prof),
	CTL_LEAF(prof_libgcc, ctl_config_prof_libgcc),
	CTL_LEAF(prof_libunwind, ctl_config_prof_libunwind),
	CTL_LEAF(stats, ctl_config_stats),
	CTL_LEAF(utrace, ctl_config_utrace),
	CTL_LEAF(xmalloc, ctl_config_xmalloc),
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
	/* Starting the threads allocates (glibc's thread-local storage): with
	 * the reentrancy level raised, those allocations fire no event, whose
	 * cache GC would start the threads again under the lock held here. */
	tsd_reentrancy_raise(&tsd_tls);
	err = background_set_enabled(value != 0);
	tsd_reentrancy_lower(&tsd_tls);
	return err;
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
	tsd_reentrancy_raise(&tsd_tls); /* as ctl_background_thread */
	err = background_set_max_threads(value);
	tsd_reentrancy_lower(&tsd_tls);
	return err;
}

/* ------------------------------------------------------------ the root */

static const ctl_node_t ctl_root_nodes[] = {
	CTL_LEAF(version, ctl_version),
	CTL_LEAF(epoch, ctl_epoch_handler),
	CTL_LINK(thread, ctl_thread_tree),
	CTL_NAMED(config, ctl_config_nodes),
	CTL_NAMED(opt, ctl_opt_nodes),
	CTL_LINK(tcache, ctl_tcache_tree),
	CTL_LINK(arena, ctl_arena_tree),
	CTL_LINK(arenas, ctl_arenas_tree),
	CTL_LINK(stats, ctl_stats_tree),
	CTL_LINK(prof, ctl_prof_tree),
	CTL_LINK(experimental, ctl_experimental_tree),
	CTL_LEAF(background_thread, ctl_background_thread),
	CTL_LEAF(max_background_threads, ctl_max_background_threads),
};
static const ctl_node_t ctl_root = CTL_INNER(ctl_root_nodes);

/* ------------------------------------------------------------ lookup */

/* The node a child entry stands for: the linked subtree for a link. */
static const ctl_node_t *
ctl_follow(const ctl_node_t *child)
{
	return child->link != NULL ? child->link : child;
}

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
			return ctl_follow(&node->children[j]);
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
			node = ctl_follow(&node->children[mib[i]]);
		}
	}
	return node;
}

/* ------------------------------------------------------------ walk */

/* The walk's state: the name so far and the caller's visitor. */
struct ctl_walk_state {
	char name[CTL_WALK_NAME_MAX];
	int (*visit)(const char *name, void *arg);
	void *arg;
};

/* Visits the leaves under node, whose name is st->name[0..len) and which
 * sits below nindexed indexed levels. */
static int
ctl_walk_node(struct ctl_walk_state *st, const ctl_node_t *node, size_t len, unsigned nindexed)
{
	if (node->handler != NULL)
		return st->visit(st->name, st->arg);
	if (node->indexed != NULL) {
		/* <i>, <j>, <k>: the man page's letters for the first, second, ...
		 * index of a name. */
		size_t n = msg_format(st->name + len, sizeof(st->name) - len, ".<%c>",
		                      (char)('i' + nindexed));
		if (n >= sizeof(st->name) - len)
			return ENAMETOOLONG;
		return ctl_walk_node(st, node->indexed, len + n, nindexed + 1);
	}
	for (size_t j = 0; j < node->nchildren; j++) {
		const char *cname = node->children[j].name;
		size_t n = msg_format(st->name + len, sizeof(st->name) - len, "%s%s",
		                      len == 0 ? "" : ".", cname);
		if (n >= sizeof(st->name) - len)
			return ENAMETOOLONG;
		int err = ctl_walk_node(st, ctl_follow(&node->children[j]), len + n, nindexed);
		if (err != 0)
			return err;
	}
	return 0;
}

int
ctl_walk(int (*visit)(const char *name, void *arg), void *arg)
{
	struct ctl_walk_state st = {.name = "", .visit = visit, .arg = arg};
	return ctl_walk_node(&st, &ctl_root, 0, 0);
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
