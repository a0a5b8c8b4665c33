/*
 * out_callgrind.c — callgrind output.  Each node (a function at one line)
 * with a non-zero flat value gets a self-cost block, each edge a call block
 * (caller's fl/fn, callee's cfl/cfn, calls=<value> <callee line>, then the
 * caller's line and the value).  Blocks are ordered by caller file, then
 * line.  A file or function name is written in full the first time, then as
 * its "(n)" index only.
 */
#include "out_callgrind.h"

#include <stdlib.h>
#include <string.h>

typedef struct out_callgrind_block {
	uint32_t node;   /* the caller (or the node itself for self cost) */
	uint32_t callee; /* UINT32_MAX for a self-cost block */
	double value;
} out_callgrind_block_t;

static const graph_t *out_callgrind_graph;

static int
out_callgrind_compare(const void *a, const void *b)
{
	const out_callgrind_block_t *x = a, *y = b;
	const graph_node_t *nx = &out_callgrind_graph->nodes[x->node];
	const graph_node_t *ny = &out_callgrind_graph->nodes[y->node];
	int c = strcmp(strtab_get(&out_callgrind_graph->names, nx->file),
		       strtab_get(&out_callgrind_graph->names, ny->file));
	if (c != 0)
		return c;
	if (nx->line != ny->line)
		return nx->line < ny->line ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->callee < y->callee ? -1 : x->callee > y->callee;
}

/* Writes "<key>=(n) name" the first time a name is seen, "<key>=(n)" after. */
static void
out_callgrind_write_name(FILE *f, const char *key, const graph_t *g, uint32_t name, uint32_t *index,
			 uint32_t *next)
{
	if (index[name] != 0) {
		fprintf(f, "%s=(%u)\n", key, index[name]);
		return;
	}
	index[name] = ++*next;
	fprintf(f, "%s=(%u) %s\n", key, index[name], strtab_get(&g->names, name));
}

/* The function name of a node: the bare function, or the node name when unknown. */
static uint32_t
out_callgrind_func(const graph_t *g, uint32_t node)
{
	return g->nodes[node].func != 0 ? g->nodes[node].func : g->nodes[node].name;
}

void
out_callgrind_write(FILE *f, const graph_t *g)
{
	out_callgrind_block_t *blocks = mem_alloc((g->nnodes + g->nedges + 1) * sizeof(*blocks));
	size_t n = 0;
	for (size_t i = 0; i < g->nnodes; i++)
		if ((long long)g->nodes[i].flat != 0)
			blocks[n++] = (out_callgrind_block_t){(uint32_t)i, UINT32_MAX,
							      g->nodes[i].flat};
	for (size_t i = 0; i < g->nedges; i++)
		if ((long long)g->edges[i].value != 0)
			blocks[n++] = (out_callgrind_block_t){g->edges[i].caller, g->edges[i].callee,
							      g->edges[i].value};
	out_callgrind_graph = g;
	qsort(blocks, n, sizeof(*blocks), out_callgrind_compare);
	uint32_t *file_index = mem_zalloc(g->names.n * sizeof(*file_index));
	uint32_t *fn_index = mem_zalloc(g->names.n * sizeof(*fn_index));
	uint32_t nfiles = 0, nfns = 0;
	fputs("events: Hits\n\n", f);
	for (size_t i = 0; i < n; i++) {
		const out_callgrind_block_t *b = &blocks[i];
		const graph_node_t *caller = &g->nodes[b->node];
		long long v = (long long)b->value;
		out_callgrind_write_name(f, "fl", g, caller->file, file_index, &nfiles);
		out_callgrind_write_name(f, "fn", g, out_callgrind_func(g, b->node), fn_index, &nfns);
		if (b->callee != UINT32_MAX) {
			const graph_node_t *callee = &g->nodes[b->callee];
			out_callgrind_write_name(f, "cfl", g, callee->file, file_index, &nfiles);
			out_callgrind_write_name(f, "cfn", g, out_callgrind_func(g, b->callee),
						 fn_index, &nfns);
			fprintf(f, "calls=%lld %u\n", v, callee->line);
		}
		fprintf(f, "%u %lld\n\n", caller->line, v);
	}
	free(file_index);
	free(fn_index);
	free(blocks);
}
