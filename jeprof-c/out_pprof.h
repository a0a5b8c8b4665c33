/*
 * out_pprof.h — --proto: the profile as a gzip-compressed pprof
 * profile.proto message, readable by `pprof` and continuous-profiling
 * services.  Four sample types (alloc_objects/count, alloc_space/bytes,
 * inuse_objects/count, inuse_space/bytes), the selected one as default;
 * locations keep their addresses, mappings and inline lines.
 */
#ifndef JEPROF_OUT_PPROF_H
#define JEPROF_OUT_PPROF_H

#include "out.h"

/*
 * --focus/--ignore do not apply (pprof filters for itself); --base samples
 * are written negated, so pprof shows the diff.  Returns 0 or an errno value.
 */
int out_pprof_write(FILE *f, const profile_t *p, const out_options_t *o, diag_t *d);

#endif
