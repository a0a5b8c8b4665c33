/*
 * arena.h — an arena: small-object bins, large allocations and a page
 * allocator, with their own locks, metadata base and counters.  L3.
 *
 * Arenas 0 .. narenas_auto-1 are automatic (threads are spread over them);
 * arenas are created lazily and never destroyed.  The arena table is
 * published with release stores and read without locks; creation takes
 * arenas_mtx.  Lock order: arenas_mtx → bin locks → pages lock → arena base.
 */
#ifndef STRATA_ARENA_H
#define STRATA_ARENA_H

#include "bin.h"
#include "large.h"

#define ARENAS_MAX 4095u

typedef struct arena {
	unsigned ind;
	_Atomic unsigned nthreads; /* threads bound to it (arena_select) */
	base_t base;               /* this arena's metadata (extent descriptors) */
	pages_t pages;
	large_stats_t large;
	bin_t bins[SZ_NBINS];
} arena_t;

extern _Atomic(arena_t *) arenas[ARENAS_MAX];

/* Sets the number of automatic arenas and creates arena 0.  0 or ENOMEM. */
int arena_boot(base_t *global_base, unsigned narenas_auto);
unsigned arena_narenas_auto(void);
/* Arenas that exist or may be created: the automatic ones plus any others. */
unsigned arena_narenas_total(void);

/* The arena with index ind, created if create is set; NULL if ind is out of
 * range, not created, or out of memory. */
arena_t *arena_get(unsigned ind, bool create);

/* An allocation of usable size usize (class szind); NULL when out of memory. */
void *arena_malloc(arena_t *arena, size_t usize, unsigned szind, size_t alignment, bool zero);
/* Frees ptr given its emap entry; aborts on a pointer strata did not hand out. */
void arena_dalloc(void *ptr, uint64_t emap_bits);
/* Resizes a large allocation in place to usize; false if it cannot. */
bool arena_resize_in_place(void *ptr, uint64_t emap_bits, size_t usize, bool zero);
/* Purges all dirty pages of every arena; bytes purged. */
size_t arena_purge_all(void);

void arena_prefork(void);
void arena_postfork_parent(void);
void arena_postfork_child(void);

#endif
