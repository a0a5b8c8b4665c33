/*
 * out_callgrind.h — --callgrind: the profile in callgrind's format for
 * KCachegrind / qcachegrind (events "Hits", fl=/fn=/cfl=/cfn=/calls= with
 * name compression), built from a line-granularity graph.
 */
#ifndef JEPROF_OUT_CALLGRIND_H
#define JEPROF_OUT_CALLGRIND_H

#include "out.h"

/* g must have been built with GRAPH_LINES. */
void out_callgrind_write(FILE *f, const graph_t *g);

#endif
