/*
 * base.h — bump allocator for the allocator's own metadata.  L1.
 *
 * A base hands out zeroed, never-freed memory carved from chunks mapped with
 * os_pages_map.  There is one global base (emap leaves, arena structures)
 * and one per arena (its extent descriptors), so metadata can live on the
 * arena's NUMA node.  Lock: base->mtx, taken after every arena lock and
 * never held across mmap.
 */
#ifndef STRATA_BASE_H
#define STRATA_BASE_H

#include "mutex.h"

#define BASE_CHUNK ((size_t)2 << 20)

typedef struct base {
	mutex_t mtx;
	/* Protected by mtx. */
	char *chunk;      /* start of the current chunk */
	char *cur;        /* next free byte of the current chunk */
	char *end;        /* end of the current chunk */
	size_t allocated; /* bytes handed out */
	size_t mapped;    /* bytes of chunks mapped */
	size_t resident_retired; /* touched pages of chunks before the current one */
} base_t;

/* rank: MUTEX_RANK_GLOBAL_BASE or MUTEX_RANK_ARENA_BASE. */
void base_init(base_t *base, mutex_rank_t rank);
/* size bytes aligned to align (a power of two), zeroed; NULL when out of memory. */
void *base_alloc(base_t *base, size_t size, size_t align);

typedef struct base_stats {
	size_t allocated, mapped, resident;
} base_stats_t;
void base_stats_read(base_t *base, base_stats_t *out);


#endif
