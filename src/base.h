/*
 * base.h — bump allocator for the allocator's own metadata.  L1.
 *
 * A base hands out zeroed, never-freed memory carved from chunks mapped with
 * os_pages_map, HUGEPAGE-aligned and advised MADV_HUGEPAGE when base_thp
 * says so.  There is one global base (emap leaves, arena structures)
 * and one per arena (its extent descriptors), whose chunks are bound to the
 * arena's NUMA node before first touch and move with it.  Each chunk starts
 * with a header linking it to the previous one (a list that only grows,
 * read without the lock).  Lock: base->mtx, taken after every arena lock
 * and never held across mmap.
 */
#ifndef STRATA_BASE_H
#define STRATA_BASE_H

#include "mutex.h"

#define BASE_CHUNK ((size_t)2 << 20)

typedef struct base_chunk base_chunk_t;
struct base_chunk {
	base_chunk_t *prev; /* the chunk mapped before this one */
	size_t size;        /* bytes mapped, header included */
};

/* Huge pages for metadata (metadata_thp, set by hpage_boot): none; with
 * auto, an arena's chunks once BASE_THP_AUTO_CHUNKS are mapped (its
 * extent descriptors, dense and in proportion to its heap; a small heap's
 * fit in the first), never the global base's (its page-map leaves are
 * sparse: a leaf spans 1 GiB of address space); or every chunk. */
typedef enum base_thp { BASE_THP_NONE, BASE_THP_AUTO, BASE_THP_ALWAYS } base_thp_t;
#define BASE_THP_AUTO_CHUNKS 1
extern base_thp_t base_thp;

typedef struct base {
	mutex_t mtx;
	_Atomic unsigned node;            /* NUMA node of new chunks (numa.h) */
	_Atomic(base_chunk_t *) chunks;   /* newest first */
	/* Protected by mtx. */
	char *chunk;      /* start of the current chunk */
	char *cur;        /* next free byte of the current chunk */
	char *end;        /* end of the current chunk */
	size_t allocated; /* bytes handed out */
	size_t mapped;    /* bytes of chunks mapped */
	size_t thp;       /* bytes of those advised MADV_HUGEPAGE */
	bool thp_auto;    /* an arena's base: metadata_thp:auto may apply */
	size_t resident_retired; /* touched pages of chunks before the current one */
} base_t;

/* rank: MUTEX_RANK_GLOBAL_BASE or MUTEX_RANK_ARENA_BASE.  The base's node
 * is NUMA_NODE_NONE (not bound) until base_move_node. */
void base_init(base_t *base, mutex_rank_t rank);
/* Binds the chunks mapped from now on to node and migrates the ones mapped
 * so far there.  No lock may be held. */
void base_move_node(base_t *base, unsigned node);
/* size bytes aligned to align (a power of two), zeroed; NULL when out of memory. */
void *base_alloc(base_t *base, size_t size, size_t align);

typedef struct base_stats {
	size_t allocated, mapped, resident, thp;
} base_stats_t;
void base_stats_read(base_t *base, base_stats_t *out);


#endif
