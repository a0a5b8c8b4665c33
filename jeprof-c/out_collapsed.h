/*
 * out_collapsed.h — --collapsed: folded stacks for flame-graph tools, one
 * line per distinct stack, "root;...;leaf <value>" with the value in bytes
 * (or objects), as jeprof --collapsed and FlameGraph's stackcollapse write.
 */
#ifndef JEPROF_OUT_COLLAPSED_H
#define JEPROF_OUT_COLLAPSED_H

#include "out.h"

void out_collapsed_write(FILE *f, const graph_t *g);

#endif
