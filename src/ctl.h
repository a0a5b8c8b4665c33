/*
 * ctl.h — the mallctl namespace: a static tree of named nodes whose leaves
 * read or write a value by forwarding to the module that owns it.  L5.
 *
 * The exported entry points (mallctl, mallctlnametomib, mallctlbymib) are
 * declared in strata.h and defined in ctl.c.  This header describes the
 * tree so that adding a node is one line in ctl.c:
 *
 *   - a leaf:            CTL_LEAF(name, handler)
 *   - an inner node:     CTL_NAMED(name, children_array)
 *   - an indexed level:  CTL_INDEXED(name, child_node, index_valid)
 *                        where child_node (CTL_INNER(children_array)) is
 *                        what every valid integer component leads to.
 *
 *   - a subtree defined in another file:  CTL_LINK(name, node), where node
 *                        is that file's exported CTL_INNER or CTL_INDEXED
 *                        node (its name is not used).
 *
 * Handlers are usually generated: CTL_RO(fn, type, expr) makes a read-only
 * leaf whose value is expr (expr may use mib[] to read path indices).
 *
 * The tree is spread over one file per subtree: ctl.c (the root, version,
 * opt.*, config.*, background_thread, lookup and the exported functions),
 * ctl_stats.c (epoch and stats.*), ctl_arena.c (arena.<i>.* and
 * arenas.*), ctl_thread.c (thread.* and tcache.*), ctl_prof.c (prof.*,
 * thread.prof.* and the profiler's experimental nodes) and
 * ctl_experimental.c (experimental.*).
 *
 * MIB numbers: a named component is the index of the child in its parent's
 * array (so the order of an array is part of the MIB layout, which, as in
 * jemalloc, programs must not hard-code); an integer component is the
 * integer itself.
 *
 * Invariants: a node is exactly one of leaf (handler), named inner node
 * (children) or indexed inner node (indexed + index_valid); the tree is
 * const and never changes.  Locks: the stats snapshot's lock (stats.h)
 * protects the epoch and the snapshot; every other node reads state owned
 * (and locked, if needed) by its module.
 */
#ifndef STRATA_CTL_H
#define STRATA_CTL_H

#include "config.h"

/* Deepest name or MIB handled by mallctl (components). */
#define CTL_MAX_DEPTH 8

/*
 * A leaf's reader/writer, with mallctl's semantics: mib[0..miblen) is the
 * resolved path (indexed components hold their integer), the rest as
 * mallctl.  Returns 0 or an errno value (docs/compat.md, "mallctl return codes").
 */
typedef int ctl_handler_t(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                          void *newp, size_t newlen);

typedef struct ctl_node ctl_node_t;
struct ctl_node {
	const char *name;            /* "" for the child of an indexed node */
	ctl_handler_t *handler;      /* leaves only */
	const ctl_node_t *children;  /* named inner nodes: the children */
	size_t nchildren;
	const ctl_node_t *indexed;   /* indexed inner nodes: the child */
	bool (*index_valid)(size_t index);
	const ctl_node_t *link;      /* links: the node this name stands for */
};

#define CTL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CTL_LEAF(name_, fn) {.name = #name_, .handler = fn}
#define CTL_NAMED(name_, kids) {.name = #name_, .children = kids, .nchildren = CTL_ARRAY_LEN(kids)}
#define CTL_INNER(kids) {.name = "", .children = kids, .nchildren = CTL_ARRAY_LEN(kids)}
#define CTL_INDEXED(name_, child, valid) {.name = #name_, .indexed = &(child), .index_valid = valid}
#define CTL_LINK(name_, node) {.name = #name_, .link = &(node)}

/* ---- the value rules every handler follows (ctl.c) */

/* Copies a value out as jemalloc's READ does: nothing without oldp and
 * oldlenp; for *oldlenp other than size, min(*oldlenp, size) bytes, that
 * length in *oldlenp and EINVAL. */
int ctl_read(void *oldp, size_t *oldlenp, const void *value, size_t size);
/* Copies a new value in as jemalloc's WRITE does (no-op without newp;
 * EINVAL for newlen other than size). */
int ctl_write(const void *newp, size_t newlen, void *value, size_t size);
/* The access checks: a read-only node rejects (EPERM) any new value, a
 * write-only node any old one, a void node both. */
bool ctl_is_read_only_call(const void *newp, size_t newlen);
bool ctl_is_write_only_call(const void *oldp, const size_t *oldlenp);
bool ctl_is_void_call(const void *oldp, const size_t *oldlenp, const void *newp, size_t newlen);
/* jemalloc's VERIFY_READ: EINVAL, with *oldlenp set to 0, unless oldp and
 * an *oldlenp of size are given. */
int ctl_require_read(void *oldp, size_t *oldlenp, size_t size);
/* jemalloc's VERIFY_WRITE: EINVAL unless newp and a newlen of size are
 * given; else copies it in. */
int ctl_require_write(const void *newp, size_t newlen, void *value, size_t size);

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

/* ---- the subtrees, each defined in its own file */

extern const ctl_node_t ctl_stats_tree;           /* stats.*, ctl_stats.c */
extern const ctl_node_t ctl_arena_tree;           /* arena.<i>.*, ctl_arena.c */
extern const ctl_node_t ctl_arenas_tree;          /* arenas.*, ctl_arena.c */
extern const ctl_node_t ctl_thread_tree;          /* thread.*, ctl_thread.c */
extern const ctl_node_t ctl_tcache_tree;          /* tcache.*, ctl_thread.c */
extern const ctl_node_t ctl_thread_prof_tree;     /* thread.prof.*, ctl_prof.c */
extern const ctl_node_t ctl_prof_tree;            /* prof.*, ctl_prof.c */
extern const ctl_node_t ctl_experimental_prof_recent_tree; /* ctl_prof.c */
extern const ctl_node_t ctl_experimental_tree;    /* experimental.*, ctl_experimental.c */
/* The index rules of <i> in arenas.bin.<i> (a small class) and
 * arenas.lextent.<i> (a large class, counted from the first), shared by
 * every subtree indexed by class (ctl_arena.c). */
bool ctl_bin_index_valid(size_t index);
bool ctl_lextent_index_valid(size_t index);
/* epoch (ctl_stats.c) and experimental.hooks.prof_dump (ctl_prof.c). */
ctl_handler_t ctl_epoch_handler;
ctl_handler_t ctl_experimental_hooks_prof_dump;
/* experimental.arenas_create_ext (ctl_arena.c). */
ctl_handler_t ctl_experimental_arenas_create_ext;

/*
 * Calls visit(name, arg) for every leaf of the tree, in MIB order, with its
 * full dotted name; an indexed level is written <i> (the name's first
 * index), <j> (its second), ..., as man/strata.3 writes them.  Stops at the
 * first nonzero visit result and returns it; ENAMETOOLONG for a name
 * longer than CTL_WALK_NAME_MAX - 1; else 0.  Reads only the const tree:
 * no lock, no initialization needed (the tree-walk test's entry point).
 */
#define CTL_WALK_NAME_MAX 256
int ctl_walk(int (*visit)(const char *name, void *arg), void *arg);

#endif
