/*
 * out_dot.h — the call graph in graphviz dot (--dot), and rendered through
 * graphviz's `dot` program (--svg, --pdf).  Layout and pruning follow the
 * perl jeprof (docs/compat.md, "jeprof output").
 */
#ifndef JEPROF_OUT_DOT_H
#define JEPROF_OUT_DOT_H

#include "out.h"

void out_dot_write(FILE *f, const graph_t *g, const out_options_t *o);

/*
 * Pipes the dot text through `dot -T<format>`, whose output goes to the
 * standard output.  Returns 0, or an
 * errno value with d set when graphviz is missing or fails.
 */
int out_dot_render(const graph_t *g, const out_options_t *o, const char *format, diag_t *d);

#endif
