/*
 * graph.h — the call graph of a symbolized profile at one granularity.
 *
 * Nodes are the names jeprof prints (a function, a "function file:line", an
 * address, or a file); stacks are the distinct node paths (innermost first,
 * allocator frames removed, not de-duplicated) with their summed value; edges
 * join consecutive frames of a stack (caller -> callee).
 *
 * Invariants: flat and cum follow jeprof: a stack's value counts once in the
 * flat of its first node and once in the cum of every distinct node on it
 * (recursion is not double counted); total is the sum of all flat values.
 * With --base, values are after minus base, and each stack also keeps its
 * base part so the flame graph can colour by growth.
 */
#ifndef JEPROF_GRAPH_H
#define JEPROF_GRAPH_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "profile.h"
#include "strtab.h"

enum graph_granularity { GRAPH_FUNCTIONS, GRAPH_LINES, GRAPH_ADDRESSES, GRAPH_FILES };

typedef struct graph_options {
	enum graph_granularity granularity;
	enum profile_value value;
	const char *focus;  /* extended regex: keep stacks with a matching node */
	const char *ignore; /* extended regex: drop stacks with a matching node */
	bool drop_negative; /* with --base: clamp each stack's diff at zero */
} graph_options_t;

typedef struct graph_node {
	uint32_t name; /* id in graph.names */
	uint32_t func; /* id in graph.names of the bare function name (0 unknown) */
	uint32_t file; /* id in graph.names of the source file (0 unknown) */
	uint32_t line;
	bool inlined;  /* an inlined callee (its incoming edges are dashed) */
	double flat, cum;
} graph_node_t;

typedef struct graph_stack {
	uint32_t first, n; /* into graph.path: node ids, innermost first */
	double value;      /* summed value (after - base with --base) */
	double base;       /* the base's share (>= 0) */
} graph_stack_t;

typedef struct graph_edge {
	uint32_t caller, callee;
	double value;
} graph_edge_t;

typedef struct graph {
	strtab_t names;
	graph_node_t *nodes;
	size_t nnodes, capnodes;
	uint32_t *node_of_name; /* names id -> node id + 1, 0 = not a node */
	size_t capnode_of_name;
	graph_stack_t *stacks;
	size_t nstacks, capstacks;
	uint32_t *path;
	size_t npath, cappath;
	graph_edge_t *edges;
	size_t nedges, capedges;
	double total;
} graph_t;

/*
 * Compiles pattern, the value of --option, as --focus and --ignore are
 * matched (extended, no sub-matches); returns 0, or EINVAL with d set to
 * "--option=pattern: why".
 */
int graph_compile_regex(regex_t *re, const char *pattern, const char *option, diag_t *d);

/* Builds g from p; returns 0 or EINVAL with d set (a bad regex). */
int graph_build(graph_t *g, const profile_t *p, const graph_options_t *o, diag_t *d);
void graph_fini(graph_t *g);

/*
 * Node ids sorted as jeprof's text report sorts them: by flat (or cum when
 * by_cum) decreasing, then by name.  The caller frees the array.
 */
uint32_t *graph_sort_nodes(const graph_t *g, bool by_cum);

static inline const char *
graph_node_name(const graph_t *g, uint32_t node)
{
	return strtab_get(&g->names, g->nodes[node].name);
}

#endif
