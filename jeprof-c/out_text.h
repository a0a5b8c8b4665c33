/*
 * out_text.h — the --text report, line for line as the perl jeprof prints it
 * (docs/compat.md, "jeprof output") so scripts that parse it keep working.
 */
#ifndef JEPROF_OUT_TEXT_H
#define JEPROF_OUT_TEXT_H

#include "out.h"

void out_text_write(FILE *f, const graph_t *g, const out_options_t *o);

#endif
