/*
 * graph.c — folds profile samples into the node graph of graph.h.
 *
 * Steps: for each sample, drop the allocator frames, translate every
 * location into node names (one per inline level, innermost first), apply
 * --focus/--ignore, then merge equal node paths in a hash table.  Flat, cum
 * and edges are computed once from the merged stacks.
 */
#include "graph.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symname.h"

typedef struct graph_builder {
	graph_t *g;
	const profile_t *p;
	const graph_options_t *o;
	uint32_t *stack_hash; /* stack id + 1, 0 empty */
	size_t nstack_hash;
	uint32_t *edge_hash; /* edge id + 1, 0 empty */
	size_t nedge_hash;
	uint32_t *short_of_func; /* profile strtab id -> graph name id of the short name + 1 */
	regex_t focus, ignore;
	bool has_focus, has_ignore;
	int8_t *focus_match, *ignore_match; /* per node: -1 unknown, 0, 1 */
	size_t capmatch;
	uint32_t *scratch; /* the node path of the sample being added */
	size_t capscratch;
	uint32_t *loc_first, *loc_count; /* per location: its nodes in loc_nodes; UINT32_MAX = not yet */
	uint32_t *loc_nodes;
	size_t nloc_nodes, caploc_nodes;
} graph_builder_t;

static uint32_t
graph_intern_node(graph_builder_t *b, const char *name, uint32_t func, uint32_t file, uint32_t line,
		  bool inlined)
{
	graph_t *g = b->g;
	uint32_t id = strtab_intern_cstr(&g->names, name);
	if (id >= g->capnode_of_name) {
		size_t old = g->capnode_of_name;
		mem_grow(&g->node_of_name, &g->capnode_of_name, (size_t)id + 1,
			 sizeof(*g->node_of_name));
		memset(g->node_of_name + old, 0, (g->capnode_of_name - old) * sizeof(uint32_t));
	}
	if (g->node_of_name[id] != 0)
		return g->node_of_name[id] - 1;
	mem_grow(&g->nodes, &g->capnodes, g->nnodes + 1, sizeof(*g->nodes));
	uint32_t node = (uint32_t)g->nnodes++;
	g->nodes[node] = (graph_node_t){
		.name = id, .func = func, .file = file, .line = line, .inlined = inlined};
	g->node_of_name[id] = node + 1;
	return node;
}

/* The graph-name id of jeprof's short form of profile function func. */
static uint32_t
graph_short_name(graph_builder_t *b, uint32_t func)
{
	if (func == 0)
		return 0;
	if (b->short_of_func[func] == 0) {
		char *s = symname_shorten(strtab_get(&b->p->strs, func));
		b->short_of_func[func] = strtab_intern_cstr(&b->g->names, s) + 1;
		free(s);
	}
	return b->short_of_func[func] - 1;
}

/* Appends the nodes of location loc to b->loc_nodes; done once per location. */
static void
graph_name_location(graph_builder_t *b, uint32_t loc)
{
	const profile_t *p = b->p;
	const profile_location_t *l = &p->locs[loc];
	char addr[32];
	snprintf(addr, sizeof(addr), "%016" PRIx64, l->addr);
	uint32_t nlines = l->nlines != 0 ? l->nlines : 1;
	mem_grow(&b->loc_nodes, &b->caploc_nodes, b->nloc_nodes + nlines, sizeof(*b->loc_nodes));
	for (uint32_t i = 0; i < nlines; i++) {
		profile_line_t ln = {0};
		if (l->nlines != 0)
			ln = profile_location_lines(p, l)[i];
		bool inlined = i + 1 < nlines;
		uint32_t fn = graph_short_name(b, ln.func);
		const char *func = fn != 0 ? strtab_get(&b->g->names, fn) : NULL;
		const char *file = ln.file != 0 ? strtab_get(&p->strs, ln.file) : NULL;
		uint32_t gfile = file != NULL ? strtab_intern_cstr(&b->g->names, file) : 0;
		const char *inl = inlined ? " (inline)" : "";
		char line[16] = "?"; /* addr2line's spelling of an unknown line */
		if (ln.line != 0)
			snprintf(line, sizeof(line), "%u", ln.line);
		char *name;
		switch (b->o->granularity) {
		case GRAPH_FUNCTIONS:
			name = func != NULL ? mem_printf("%s%s", func, inl) : mem_strdup(addr);
			break;
		case GRAPH_LINES:
			if (func == NULL && file == NULL)
				name = mem_strdup(addr);
			else
				name = mem_printf("%s%s %s:%s", func != NULL ? func : "??", inl,
						  file != NULL ? file : "??", line);
			break;
		case GRAPH_ADDRESSES:
			name = mem_printf("%s %s%s %s:%s", addr, func != NULL ? func : "??", inl,
					  file != NULL ? file : "??", line);
			break;
		default:
			name = mem_strdup(file != NULL ? file : addr);
			break;
		}
		b->loc_nodes[b->nloc_nodes++] = graph_intern_node(b, name, fn, gfile, ln.line, inlined);
		free(name);
	}
}

/* Appends the nodes of location loc (innermost inline level first) to b->scratch. */
static void
graph_translate_location(graph_builder_t *b, uint32_t loc, size_t *n)
{
	if (b->loc_count[loc] == UINT32_MAX) {
		size_t before = b->nloc_nodes;
		graph_name_location(b, loc);
		b->loc_first[loc] = (uint32_t)before;
		b->loc_count[loc] = (uint32_t)(b->nloc_nodes - before);
	}
	mem_grow(&b->scratch, &b->capscratch, *n + b->loc_count[loc], sizeof(*b->scratch));
	memcpy(b->scratch + *n, b->loc_nodes + b->loc_first[loc],
	       b->loc_count[loc] * sizeof(*b->scratch));
	*n += b->loc_count[loc];
}

/* Whether node matches re, cached per node in *cache. */
static bool
graph_node_matches(graph_builder_t *b, regex_t *re, int8_t **cache, uint32_t node)
{
	if (node >= b->capmatch) {
		size_t old = b->capmatch, cap = b->capmatch;
		mem_grow(&b->focus_match, &cap, (size_t)node + 1, 1);
		mem_grow(&b->ignore_match, &b->capmatch, (size_t)node + 1, 1);
		memset(b->focus_match + old, -1, b->capmatch - old);
		memset(b->ignore_match + old, -1, b->capmatch - old);
	}
	if ((*cache)[node] < 0)
		(*cache)[node] = regexec(re, graph_node_name(b->g, node), 0, NULL, 0) == 0;
	return (*cache)[node] == 1;
}

static bool
graph_keep_path(graph_builder_t *b, const uint32_t *path, size_t n)
{
	if (b->has_ignore)
		for (size_t i = 0; i < n; i++)
			if (graph_node_matches(b, &b->ignore, &b->ignore_match, path[i]))
				return false;
	if (!b->has_focus)
		return true;
	for (size_t i = 0; i < n; i++)
		if (graph_node_matches(b, &b->focus, &b->focus_match, path[i]))
			return true;
	return false;
}

static uint64_t
graph_hash_path(const uint32_t *path, size_t n)
{
	return strtab_hash_bytes(path, n * sizeof(*path), STRTAB_HASH_SEED ^ n);
}

static void
graph_rehash_stacks(graph_builder_t *b)
{
	graph_t *g = b->g;
	size_t n = b->nstack_hash * 2;
	uint32_t *h = mem_zalloc(n * sizeof(*h));
	for (size_t id = 0; id < g->nstacks; id++) {
		const graph_stack_t *s = &g->stacks[id];
		size_t i = graph_hash_path(g->path + s->first, s->n) & (n - 1);
		while (h[i] != 0)
			i = (i + 1) & (n - 1);
		h[i] = (uint32_t)id + 1;
	}
	free(b->stack_hash);
	b->stack_hash = h;
	b->nstack_hash = n;
}

static void
graph_add_stack(graph_builder_t *b, const uint32_t *path, size_t n, double value)
{
	graph_t *g = b->g;
	size_t mask = b->nstack_hash - 1;
	size_t i = graph_hash_path(path, n) & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t slot = b->stack_hash[i];
		if (slot == 0)
			break;
		graph_stack_t *s = &g->stacks[slot - 1];
		if (s->n == n && (n == 0 || memcmp(g->path + s->first, path, n * sizeof(*path)) == 0)) {
			s->value += value;
			s->base += value < 0 ? -value : 0;
			return;
		}
	}
	mem_grow(&g->path, &g->cappath, g->npath + n, sizeof(*g->path));
	if (n > 0)
		memcpy(g->path + g->npath, path, n * sizeof(*path));
	mem_grow(&g->stacks, &g->capstacks, g->nstacks + 1, sizeof(*g->stacks));
	g->stacks[g->nstacks] = (graph_stack_t){
		.first = (uint32_t)g->npath,
		.n = (uint32_t)n,
		.value = value,
		.base = value < 0 ? -value : 0,
	};
	g->npath += n;
	b->stack_hash[i] = (uint32_t)++g->nstacks;
	if (2 * g->nstacks > b->nstack_hash)
		graph_rehash_stacks(b);
}

static void
graph_add_edge(graph_builder_t *b, uint32_t caller, uint32_t callee, double value)
{
	graph_t *g = b->g;
	uint32_t key[2] = {caller, callee};
	size_t mask = b->nedge_hash - 1;
	size_t i = strtab_hash_bytes(key, sizeof(key), STRTAB_HASH_SEED) & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t slot = b->edge_hash[i];
		if (slot == 0)
			break;
		graph_edge_t *e = &g->edges[slot - 1];
		if (e->caller == caller && e->callee == callee) {
			e->value += value;
			return;
		}
	}
	mem_grow(&g->edges, &g->capedges, g->nedges + 1, sizeof(*g->edges));
	g->edges[g->nedges] = (graph_edge_t){caller, callee, value};
	b->edge_hash[i] = (uint32_t)++g->nedges;
	if (2 * g->nedges > b->nedge_hash) {
		size_t n = b->nedge_hash * 2;
		uint32_t *h = mem_zalloc(n * sizeof(*h));
		for (size_t id = 0; id < g->nedges; id++) {
			uint32_t k[2] = {g->edges[id].caller, g->edges[id].callee};
			size_t j = strtab_hash_bytes(k, sizeof(k), STRTAB_HASH_SEED) & (n - 1);
			while (h[j] != 0)
				j = (j + 1) & (n - 1);
			h[j] = (uint32_t)id + 1;
		}
		free(b->edge_hash);
		b->edge_hash = h;
		b->nedge_hash = n;
	}
}

/* Flat, cum, total and edges from the merged stacks. */
static void
graph_compute_totals(graph_builder_t *b)
{
	graph_t *g = b->g;
	uint32_t *stamp = mem_zalloc(g->nnodes * sizeof(*stamp));
	for (size_t s = 0; s < g->nstacks; s++) {
		graph_stack_t *st = &g->stacks[s];
		if (b->o->drop_negative && st->value < 0)
			st->value = 0;
		if (st->n == 0)
			continue;
		const uint32_t *path = g->path + st->first;
		g->nodes[path[0]].flat += st->value;
		g->total += st->value;
		for (uint32_t i = 0; i < st->n; i++) {
			if (stamp[path[i]] != s + 1) {
				stamp[path[i]] = (uint32_t)s + 1;
				g->nodes[path[i]].cum += st->value;
			}
			if (i > 0)
				graph_add_edge(b, path[i], path[i - 1], st->value);
		}
	}
	free(stamp);
}

int
graph_compile_regex(regex_t *re, const char *pattern, const char *option, diag_t *d)
{
	int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];
		regerror(rc, re, msg, sizeof(msg));
		return diag_fail(d, "--%s=%s: %s", option, pattern, msg);
	}
	return 0;
}

int
graph_build(graph_t *g, const profile_t *p, const graph_options_t *o, diag_t *d)
{
	memset(g, 0, sizeof(*g));
	strtab_init(&g->names);
	graph_builder_t b = {.g = g, .p = p, .o = o, .nstack_hash = 256, .nedge_hash = 256};
	if (o->focus != NULL) {
		if (graph_compile_regex(&b.focus, o->focus, "focus", d) != 0)
			return EINVAL;
		b.has_focus = true;
	}
	if (o->ignore != NULL) {
		if (graph_compile_regex(&b.ignore, o->ignore, "ignore", d) != 0) {
			if (b.has_focus)
				regfree(&b.focus);
			return EINVAL;
		}
		b.has_ignore = true;
	}
	b.stack_hash = mem_zalloc(b.nstack_hash * sizeof(*b.stack_hash));
	b.edge_hash = mem_zalloc(b.nedge_hash * sizeof(*b.edge_hash));
	b.short_of_func = mem_zalloc(p->strs.n * sizeof(*b.short_of_func));
	b.loc_first = mem_alloc((p->nlocs + 1) * sizeof(*b.loc_first));
	b.loc_count = mem_alloc((p->nlocs + 1) * sizeof(*b.loc_count));
	memset(b.loc_count, 0xff, (p->nlocs + 1) * sizeof(*b.loc_count));
	for (size_t s = 0; s < p->nsamples; s++) {
		const profile_sample_t *sm = &p->samples[s];
		double value = sm->v[o->value];
		uint32_t skip = profile_count_allocator_frames(p, sm);
		size_t n = 0;
		for (uint32_t i = skip; i < sm->n; i++)
			graph_translate_location(&b, p->stack[sm->first + i], &n);
		/* Allocator functions inlined into the first kept frame go too. */
		uint32_t drop = skip < sm->n ? p->locs[p->stack[sm->first + skip]].alloc_lines : 0;
		if (drop > 0) {
			memmove(b.scratch, b.scratch + drop, (n - drop) * sizeof(*b.scratch));
			n -= drop;
		}
		if (!graph_keep_path(&b, b.scratch, n))
			continue;
		graph_add_stack(&b, b.scratch, n, value);
	}
	graph_compute_totals(&b);
	if (b.has_focus)
		regfree(&b.focus);
	if (b.has_ignore)
		regfree(&b.ignore);
	free(b.focus_match);
	free(b.ignore_match);
	free(b.stack_hash);
	free(b.edge_hash);
	free(b.short_of_func);
	free(b.scratch);
	free(b.loc_first);
	free(b.loc_count);
	free(b.loc_nodes);
	return 0;
}

void
graph_fini(graph_t *g)
{
	strtab_fini(&g->names);
	free(g->nodes);
	free(g->node_of_name);
	free(g->stacks);
	free(g->path);
	free(g->edges);
	memset(g, 0, sizeof(*g));
}

static const graph_t *graph_sort_target;
static bool graph_sort_by_cum;

static int
graph_compare_nodes(const void *a, const void *b)
{
	const graph_node_t *x = &graph_sort_target->nodes[*(const uint32_t *)a];
	const graph_node_t *y = &graph_sort_target->nodes[*(const uint32_t *)b];
	double vx = graph_sort_by_cum ? x->cum : x->flat;
	double vy = graph_sort_by_cum ? y->cum : y->flat;
	if (vx != vy)
		return vx > vy ? -1 : 1;
	return strcmp(strtab_get(&graph_sort_target->names, x->name),
		      strtab_get(&graph_sort_target->names, y->name));
}

uint32_t *
graph_sort_nodes(const graph_t *g, bool by_cum)
{
	uint32_t *order = mem_alloc(g->nnodes * sizeof(*order));
	for (size_t i = 0; i < g->nnodes; i++)
		order[i] = (uint32_t)i;
	graph_sort_target = g;
	graph_sort_by_cum = by_cum;
	qsort(order, g->nnodes, sizeof(*order), graph_compare_nodes);
	return order;
}
