/*
 * out_flame.h — --flame: a self-contained interactive SVG flame graph (no
 * external script or stylesheet): click a frame to zoom, click "Reset zoom"
 * to go back, "Search" highlights frames matching a regular expression.
 * With --base, frame widths are the newer profile and colours show growth
 * (red) or shrinkage (blue) against the base.
 */
#ifndef JEPROF_OUT_FLAME_H
#define JEPROF_OUT_FLAME_H

#include "out.h"

void out_flame_write(FILE *f, const graph_t *g, const out_options_t *o);

#endif
