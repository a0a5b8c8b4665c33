/*
 * jemalloc/jemalloc.h — compatibility shim: code written against jemalloc's
 * public header builds against strata unchanged.  Everything it needs is in
 * strata.h; this only adds jemalloc's version macros.
 */
#ifndef STRATA_JEMALLOC_SHIM_H
#define STRATA_JEMALLOC_SHIM_H

#include <strata.h>

#define JEMALLOC_VERSION "5.3.0-0-strata"
#define JEMALLOC_VERSION_MAJOR 5
#define JEMALLOC_VERSION_MINOR 3
#define JEMALLOC_VERSION_BUGFIX 0
#define JEMALLOC_VERSION_NREV 0

#endif
