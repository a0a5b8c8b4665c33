/*
 * out_collapsed.c — folded stacks.  Invariant: each line names the frames
 * outermost first, separated by ';', and ends with one space and an integer
 * value (truncated like jeprof's "%d"); stacks emptied by allocator-frame
 * removal and zero-valued stacks are not written.
 */
#include "out_collapsed.h"

void
out_collapsed_write(FILE *f, const graph_t *g)
{
	for (size_t s = 0; s < g->nstacks; s++) {
		const graph_stack_t *st = &g->stacks[s];
		long long v = (long long)st->value;
		if (st->n == 0 || v == 0)
			continue;
		const uint32_t *path = g->path + st->first;
		for (uint32_t i = st->n; i > 0; i--) {
			fputs(graph_node_name(g, path[i - 1]), f);
			fputc(i > 1 ? ';' : ' ', f);
		}
		fprintf(f, "%lld\n", v);
	}
}
