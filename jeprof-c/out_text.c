/*
 * out_text.c — "Total: <v> <unit>" then one line per node with
 * printf("%8s %6s %6s %8s %6s %s"): flat, flat%, running flat%, cum, cum%,
 * name; sorted by flat (or cum with --cum) then name; nodes whose flat and
 * cum are both zero are not printed.
 */
#include "out_text.h"

#include <stdlib.h>

void
out_text_write(FILE *f, const graph_t *g, const out_options_t *o)
{
	char total[64], thread[32] = "";
	out_format_value(o, g->total, total, sizeof(total));
	if (o->thread >= 0)
		snprintf(thread, sizeof(thread), " (t%ld)", o->thread);
	fprintf(f, "Total%s: %s %s\n", thread, total, out_units(o));
	uint32_t *order = graph_sort_nodes(g, o->by_cum);
	double running = 0;
	for (size_t i = 0; i < g->nnodes; i++) {
		const graph_node_t *n = &g->nodes[order[i]];
		running += n->flat;
		if (n->flat == 0 && n->cum == 0)
			continue;
		char flat[64], flatp[32], runp[32], cum[64], cump[32];
		out_format_value(o, n->flat, flat, sizeof(flat));
		out_format_percent(n->flat, g->total, flatp, sizeof(flatp));
		out_format_percent(running, g->total, runp, sizeof(runp));
		out_format_value(o, n->cum, cum, sizeof(cum));
		out_format_percent(n->cum, g->total, cump, sizeof(cump));
		fprintf(f, "%8s %6s %6s %8s %6s %s\n", flat, flatp, runp, cum, cump,
			graph_node_name(g, order[i]));
	}
	free(order);
}
