/*
 * jemalloc/jemalloc.h — compatibility shim: code written against jemalloc's
 * public header builds against strata unchanged.  Everything it needs is in
 * strata.h; this only adds jemalloc's version macros.
 */
#ifndef STRATA_JEMALLOC_SHIM_H
#define STRATA_JEMALLOC_SHIM_H

#include <strata.h>

/* jemalloc 5.3.0's interface; the string names strata after it (strata.h). */
#define JEMALLOC_VERSION STRATA_VERSION
#define JEMALLOC_VERSION_MAJOR 5
#define JEMALLOC_VERSION_MINOR 3
#define JEMALLOC_VERSION_BUGFIX 0
#define JEMALLOC_VERSION_NREV 0
#define JEMALLOC_VERSION_GID "0000000000000000000000000000000000000000"
#define JEMALLOC_VERSION_GID_IDENT 0000000000000000000000000000000000000000

#endif
