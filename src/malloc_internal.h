/*
 * malloc_internal.h — the internal entry points of malloc.c that other L5 files
 * call (the exported ones are declared in strata.h).  L5.
 */
#ifndef STRATA_MALLOC_INTERNAL_H
#define STRATA_MALLOC_INTERNAL_H

#include "config.h"

/*
 * experimental.batch_alloc: allocates num objects of size bytes as
 * mallocx(size, flags) would, into ptrs[0..), from the thread's cache (an
 * empty bin is refilled in one batch from its arena) or the route the
 * flags name.  Returns how many were allocated: num, or fewer when memory
 * ran out; 0 for a size no class holds, or an arena or cache the flags
 * name that does not exist.  No hook is called (jemalloc 5.3 calls none).
 */
size_t malloc_batch_alloc(void **ptrs, size_t num, size_t size, int flags);

#endif
