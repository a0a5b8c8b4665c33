/*
 * out_text.h — the --text report, line for line as the perl jeprof prints it
 * (jemalloc-compat §9.2) so scripts that parse it keep working.
 */
#ifndef JEPROF_OUT_TEXT_H
#define JEPROF_OUT_TEXT_H

#include "out.h"

void out_text_write(FILE *f, const graph_t *g, const out_options_t *o);

#endif
