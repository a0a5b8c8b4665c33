/*
 * arena.h — an arena: small-object bins, large allocations and a page
 * allocator, with their own locks, metadata base and counters.  L3.
 *
 * Arenas 0 .. narenas_auto-1 are automatic (threads are spread over them)
 * and created lazily; the ones after them are manual (arenas.create).  An
 * arena's memory is never unmapped: a destroyed manual arena keeps its
 * structure and pages and is revived by the next arenas.create.  The arena
 * table is published with release stores and read without locks; creation
 * and destruction take arenas_mtx.  Lock order: arenas_mtx → bin locks →
 * large lock → pages lock → arena base.
 */
#ifndef STRATA_ARENA_H
#define STRATA_ARENA_H

#include "bin.h"
#include "large.h"
#include "pages.h"

#define ARENAS_MAX 4095u

typedef struct arena {
	unsigned ind;
	_Atomic unsigned nthreads; /* threads bound to it (arena_select) */
	_Atomic bool destroyed;    /* a destroyed manual arena, kept for reuse */
	uint64_t create_ns;        /* clock_coarse_ns at creation or revival (under arenas_mtx) */
	base_t base;               /* this arena's metadata (extent descriptors) */
	pai_t *pai;                /* the page backend bins and large use */
	pages_t pages;             /* the extent page backend */
	large_t large;
	bin_t bins[SZ_NBINS];
	bin_remote_slots_t remote_slots[SZ_NBINS]; /* the bins' remote rings (bin.h) */
	uint8_t idle_pass; /* the idle pass last run (1..255; pages.h), by its purger */
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
/* The same for another arena's object freed by a thread of another node
 * (numa.h): a small one goes on its bin's remote ring (bin.h) without a
 * lock, to be handed out again by its own arena's threads. */
void arena_dalloc_home(void *ptr, uint64_t emap_bits);
/*
 * A profiler-sampled object of usable size usize: alone on a large extent
 * (at least SZ_LARGE_MINCLASS bytes) whose page-map entries carry the
 * sampled bit and usize's class, and whose descriptor keeps a copy of
 * *sample.  NULL when out of memory.
 */
void *arena_malloc_sampled(arena_t *arena, size_t usize, size_t alignment, bool zero,
                           const extent_sample_t *sample);
/* Frees a sampled object (emap_bits has the sampled bit). */
void arena_dalloc_sampled(void *ptr, uint64_t emap_bits);
/* The large object at ptr, of usable size usize, was just resized in place:
 * it becomes a sampled object with a copy of *sample, or an ordinary one
 * when sample is NULL. */
void arena_set_sample(void *ptr, size_t usize, const extent_sample_t *sample);
/* Resizes a large allocation (or a sampled object) in place to usize, a
 * large class; false if it cannot.  A sampled object's marks are then the
 * caller's to set (arena_set_sample). */
bool arena_resize_in_place(void *ptr, uint64_t emap_bits, size_t usize, bool zero);
/* Creates a manual arena (arenas.create), reusing a destroyed index first.
 * 0, or EAGAIN when no index or memory is left. */
int arena_create_manual(unsigned *ind);
/* The same with extent hooks (arenas.create with a value): the arena gets
 * all its memory through them (pages.h).  A destroyed arena without hooks
 * is reused only by one without hooks (it keeps its memory).  EINVAL for
 * hooks without an alloc function. */
int arena_create_with_hooks(unsigned *ind, extent_hooks_t *hooks);
/* A manual arena whose home NUMA node is node (arenas.create with a node):
 * EINVAL when NUMA is inactive or node has no memory (numa.h), else as
 * arena_create_manual.  Other manual arenas get the home of the node the
 * creating thread runs on; automatic ones their node's (numa.h). */
int arena_create_on_node(unsigned *ind, unsigned node);
/* The arena's home node (NUMA_NODE_NONE when NUMA is inactive). */
unsigned arena_node(arena_t *a);
/* arena.<i>.numa_node: read (also for an automatic arena not created yet);
 * write binds the arena's future mappings and metadata to node and
 * migrates its pages there (memory tiering), creating an automatic arena;
 * no lock is held while pages migrate, so two moves of one arena at once
 * leave its pages on either node.  EINVAL for a node numa_node_usable
 * refuses, EFAULT for a manual index with no arena. */
int arena_numa_node_get(unsigned ind, unsigned *node);
int arena_numa_node_set(unsigned ind, unsigned node);
/* arena.<i>.extent_hooks: the arena's hooks (extent_hooks_default when it
 * has none of its own; also for an automatic arena not created yet);
 * setting them creates such an automatic arena.  EFAULT for a manual index
 * with no arena, EINVAL for hooks without an alloc function. */
int arena_extent_hooks_get(unsigned ind, extent_hooks_t **hooks);
int arena_extent_hooks_set(unsigned ind, extent_hooks_t *hooks);
/* arena.<i>.retain_grow_limit: a new limit is rounded down to a page-size
 * class.  EFAULT when the arena does not exist or the limit is below a
 * page. */
int arena_retain_grow_limit_get(unsigned ind, size_t *limit);
int arena_retain_grow_limit_set(unsigned ind, size_t limit);
/* The arena owning ptr (arenas.lookup); EINVAL if strata does not own it. */
int arena_lookup(const void *ptr, unsigned *ind);
/* What arena reset does with the record of each sampled object it frees
 * (the profiler forgets the object); set once by init. */
extern void (*arena_sampled_release)(const extent_sample_t *sample, size_t usize);
/* Frees every allocation of a manual arena (arena.<i>.reset); EFAULT for
 * automatic or missing arenas.  Caches holding its memory must be flushed
 * first. */
int arena_reset(unsigned ind);
/* arena_reset, then makes the index reusable by arenas.create (EFAULT if
 * automatic, missing, or threads are still bound to it). */
int arena_destroy(unsigned ind);
/* Called by arena_destroy, under the arenas lock, once the arena is reset
 * and before it can be revived: the stats hand its counters over to the
 * destroyed view (stats.h).  Set once by init; NULL calls nothing. */
extern void (*arena_destroyed_hook)(arena_t *a);
bool arena_is_initialized(unsigned ind);
/* Fork child: no thread is bound to any arena (tsd counts the forking
 * thread again), and the remote rings forget the slots that threads which
 * are gone had reserved (bin.h). */
void arena_postfork_child(void);
unsigned arena_nthreads(unsigned ind);

/* Purges all dirty and muzzy pages of arena ind (nothing if it does not
 * exist), or of every arena; bytes purged. */
size_t arena_purge(unsigned ind);
size_t arena_purge_all(void);
/* Runs the decay of arena ind (or of every arena) now (arena.<i>.decay). */
void arena_decay(unsigned ind);
void arena_decay_all(void);
/* The dirty (or muzzy) decay_ms new arenas get (arenas.dirty_decay_ms,
 * arenas.muzzy_decay_ms); opt_dirty_decay_ms and opt_muzzy_decay_ms until
 * set.  EINVAL for a value below -1. */
ssize_t arena_default_decay_ms(bool muzzy);
int arena_set_default_decay_ms(bool muzzy, ssize_t decay_ms);
/* arena.<i>.dirty_decay_ms, arena.<i>.muzzy_decay_ms: EFAULT when the arena
 * does not exist, EINVAL for a value below -1. */
int arena_decay_ms_get(unsigned ind, bool muzzy, ssize_t *decay_ms);
int arena_decay_ms_set(unsigned ind, bool muzzy, ssize_t decay_ms);


#endif
