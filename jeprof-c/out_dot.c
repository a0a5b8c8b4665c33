/*
 * out_dot.c — dot call graph.
 *
 * Nodes: sorted by |cum| then name, at most --nodecount, none with |cum| <=
 * nodefraction * |total|; a node's font grows with the square root of its
 * flat share.  Edges: between kept nodes, by decreasing value; an edge is
 * kept if its callee has no incoming edge yet (reachability), else dropped
 * below edgefraction * |total| or past 8 edges in or out of a node.  Edges
 * into inlined callees are dashed.
 */
#include "out_dot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUT_DOT_MAXDEGREE 8

static const graph_t *out_dot_sort_graph;

static int
out_dot_compare_cum(const void *a, const void *b)
{
	const graph_node_t *x = &out_dot_sort_graph->nodes[*(const uint32_t *)a];
	const graph_node_t *y = &out_dot_sort_graph->nodes[*(const uint32_t *)b];
	if (fabs(x->cum) != fabs(y->cum))
		return fabs(x->cum) > fabs(y->cum) ? -1 : 1;
	return strcmp(strtab_get(&out_dot_sort_graph->names, x->name),
		      strtab_get(&out_dot_sort_graph->names, y->name));
}

static int
out_dot_compare_edges(const void *a, const void *b)
{
	const graph_edge_t *x = a, *y = b;
	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	if (x->caller != y->caller)
		return x->caller < y->caller ? -1 : 1;
	return x->callee < y->callee ? -1 : x->callee > y->callee;
}

/* A node label: blanks and "::" become line breaks, quotes are escaped. */
static void
out_dot_write_label(FILE *f, const char *name)
{
	for (const char *s = name; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t') {
			while (s[1] == ' ' || s[1] == '\t')
				s++;
			fputs("\\n", f);
		} else if (s[0] == ':' && s[1] == ':') {
			fputs("\\n", f);
			s++;
		} else if (*s == '"' || *s == '\\') {
			fputc('\\', f);
			fputc(*s, f);
		} else {
			fputc(*s, f);
		}
	}
}

void
out_dot_write(FILE *f, const graph_t *g, const out_options_t *o)
{
	double total = g->total;
	double nodelimit = o->nodefraction * fabs(total);
	double edgelimit = o->edgefraction * fabs(total);
	uint32_t *order = mem_alloc(g->nnodes * sizeof(*order));
	for (size_t i = 0; i < g->nnodes; i++)
		order[i] = (uint32_t)i;
	out_dot_sort_graph = g;
	qsort(order, g->nnodes, sizeof(*order), out_dot_compare_cum);
	size_t keep = g->nnodes < (size_t)o->nodecount ? g->nnodes : (size_t)o->nodecount;
	while (keep > 0 && fabs(g->nodes[order[keep - 1]].cum) <= nodelimit)
		keep--;
	/* Node numbers N1.. in the order printed; 0 = not kept. */
	uint32_t *num = mem_zalloc((g->nnodes + 1) * sizeof(*num));
	for (size_t i = 0; i < keep; i++)
		num[order[i]] = (uint32_t)i + 1;

	char tot[64], lim[64], elim[64];
	const char *units = out_units(o);
	const char *prog = out_program_name(o);
	out_format_value(o, total, tot, sizeof(tot));
	out_format_value(o, nodelimit, lim, sizeof(lim));
	out_format_value(o, edgelimit, elim, sizeof(elim));
	fputs("digraph \"", f);
	out_dot_write_label(f, prog);
	fprintf(f, "; %s %s\" {\n", tot, units);
	fputs("node [width=0.375,height=0.25];\n", f);
	fputs("Legend [shape=box,fontsize=24,shape=plaintext,label=\"", f);
	out_dot_write_label(f, prog);
	fprintf(f, "\\lTotal %s: %s\\lFocusing on: %s\\lDropped nodes with <= %s abs(%s)\\l"
		   "Dropped edges with <= %s %s\\l\"];\n",
		units, tot, tot, lim, units, elim, units);
	for (size_t i = 0; i < keep; i++) {
		const graph_node_t *n = &g->nodes[order[i]];
		char flat[64], flatp[32], cum[64], cump[32];
		out_format_value(o, n->flat, flat, sizeof(flat));
		out_format_percent(n->flat, total, flatp, sizeof(flatp));
		double fs = total != 0 ? 8 + 50.0 * sqrt(fabs(n->flat / total)) : 8;
		fprintf(f, "N%zu [label=\"", i + 1);
		out_dot_write_label(f, strtab_get(&g->names, n->name));
		fprintf(f, "\\n%s (%s)", flat, flatp);
		if (n->flat != n->cum) {
			out_format_value(o, n->cum, cum, sizeof(cum));
			out_format_percent(n->cum, total, cump, sizeof(cump));
			fprintf(f, "\\rof %s (%s)", cum, cump);
		}
		fprintf(f, "\\r\",shape=box,fontsize=%.1f];\n", fs);
	}

	graph_edge_t *edges = mem_alloc((g->nedges + 1) * sizeof(*edges));
	size_t nedges = 0;
	for (size_t i = 0; i < g->nedges; i++)
		if (num[g->edges[i].caller] != 0 && num[g->edges[i].callee] != 0)
			edges[nedges++] = g->edges[i];
	qsort(edges, nedges, sizeof(*edges), out_dot_compare_edges);
	uint32_t *indeg = mem_zalloc((g->nnodes + 1) * sizeof(*indeg));
	uint32_t *outdeg = mem_zalloc((g->nnodes + 1) * sizeof(*outdeg));
	for (size_t i = 0; i < nedges; i++) {
		const graph_edge_t *e = &edges[i];
		double v = e->value;
		bool kept;
		if (indeg[e->callee] == 0)
			kept = true;
		else if (fabs(v) <= edgelimit)
			kept = false;
		else
			kept = outdeg[e->caller] < OUT_DOT_MAXDEGREE &&
			       indeg[e->callee] < OUT_DOT_MAXDEGREE;
		if (!kept)
			continue;
		outdeg[e->caller]++;
		indeg[e->callee]++;
		double fraction = total != 0 ? fabs(3 * v / total) : 0;
		double w = 2 * (fraction > 1 ? 1 : fraction);
		if (w < 1 && o->for_svg)
			w = 1;
		double weight = pow(fabs(v), 0.7);
		char label[64];
		out_format_value(o, v, label, sizeof(label));
		fprintf(f, "N%u -> N%u [label=%s, weight=%d, style=\"setlinewidth(%f)%s\"];\n",
			num[e->caller], num[e->callee], label, (int)(weight > 100000 ? 100000 : weight),
			w, g->nodes[e->callee].inlined ? ",dashed" : "");
	}
	fputs("}\n", f);
	free(indeg);
	free(outdeg);
	free(edges);
	free(num);
	free(order);
}

/* Whether an executable named prog is on PATH. */
static bool
out_dot_have_program(const char *prog)
{
	const char *path = getenv("PATH");
	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path != '\0') {
		const char *colon = strchr(path, ':');
		size_t len = colon != NULL ? (size_t)(colon - path) : strlen(path);
		char *full = mem_printf("%.*s/%s", (int)len, path, prog);
		struct stat st;
		bool ok = len > 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
			  access(full, X_OK) == 0;
		free(full);
		if (ok)
			return true;
		path += len + (colon != NULL);
	}
	return false;
}

int
out_dot_render(const graph_t *g, const out_options_t *o, const char *format, diag_t *d)
{
	if (!out_dot_have_program("dot"))
		return diag_fail(d, "--%s needs graphviz's `dot` program, which is not on PATH "
				    "(install graphviz, or use --dot and render elsewhere)",
				 format);
	fflush(stdout);
	char *cmd = mem_printf("dot -T%s", format);
	FILE *pipe = popen(cmd, "w");
	free(cmd);
	if (pipe == NULL)
		return diag_fail(d, "cannot run dot: %s", strerror(errno));
	out_dot_write(pipe, g, o);
	int status = pclose(pipe);
	if (status != 0)
		return diag_fail(d, "dot -T%s failed (status %d)", format, status);
	return 0;
}
