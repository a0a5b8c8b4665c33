/*
 * out_raw.h — --raw: a symbolized profile, as jeprof defines it: a
 * "--- symbol" section (binary=<program>, then "0x<address> <names>" with
 * the inline chain outermost first, joined by "--"), "---", "--- heap", and
 * a heap_v2 text of the summed profile with its MAPPED_LIBRARIES.  jeprof
 * (this one) reads it back on any machine without the binaries.
 */
#ifndef JEPROF_OUT_RAW_H
#define JEPROF_OUT_RAW_H

#include "out.h"

/* Returns 0 or an errno value with d set. */
int out_raw_write(FILE *f, const profile_t *p, const char *program, diag_t *d);

#endif
