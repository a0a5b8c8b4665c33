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
 * Handlers are usually generated: ctl.c's CTL_RO(fn, type, expr) makes a read-only
 * leaf whose value is expr (expr may use mib[] to read path indices).
 *
 * MIB numbers: a named component is the index of the child in its parent's
 * array (so the order of an array is part of the MIB layout, which, as in
 * jemalloc, programs must not hard-code); an integer component is the
 * integer itself.
 *
 * Invariants: a node is exactly one of leaf (handler), named inner node
 * (children) or indexed inner node (indexed + index_valid); the tree is
 * const and never changes.  Locks: ctl.c's ctl_mtx protects the epoch and
 * the stats snapshot; every other node reads state owned (and locked, if
 * needed) by its module.
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
};

#define CTL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CTL_LEAF(name_, fn) {.name = #name_, .handler = fn}
#define CTL_NAMED(name_, kids) {.name = #name_, .children = kids, .nchildren = CTL_ARRAY_LEN(kids)}
#define CTL_INNER(kids) {.name = "", .children = kids, .nchildren = CTL_ARRAY_LEN(kids)}
#define CTL_INDEXED(name_, child, valid) {.name = #name_, .indexed = &(child), .index_valid = valid}

/* Registers ctl's lock.  Called once by init. */
void ctl_boot(void);

#endif
