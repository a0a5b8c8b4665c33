/*
 * pages.h — an arena's page allocator: extents carved from mapped space,
 * returned, coalesced, purged and reused.  L2.  docs/design.md, "Decay".
 *
 * Free extents live in three sets, by state (jemalloc's): dirty (freed,
 * pages still backed), muzzy (MADV_FREE'd: the kernel may take the pages
 * when it needs them) and retained (purged with MADV_DONTNEED, or never
 * touched: reads back zero).  Allocation takes the best fit from dirty, then
 * muzzy, then retained, then maps more address space in HUGEPAGE-aligned
 * steps that grow geometrically (or the request alone when a step does not
 * fit in the address space left, under RLIMIT_AS); the unused part of a
 * new mapping is retained.  From dirty and muzzy an extent more than 2^lg_extent_max_active_fit
 * times the request is not split for it, unless no address space is left.  A freed large extent is coalesced
 * with free neighbours of the same state and arena at once; a freed slab
 * only when it is purged (lazily, as jemalloc does), so that slabs filled
 * and emptied every round are not split and merged every round.
 *
 * Decay: dirty pages become muzzy (or retained when muzzy_decay_ms is 0)
 * on the dirty curve, muzzy ones retained on the muzzy curve (decay.h),
 * with the burst model's advice for dirty pages; dirty_max_bytes caps the
 * dirty pages of all arenas together.  Without the purger (background.h)
 * the decay runs whenever pages are allocated or freed; with it, those
 * paths only record and the purger does the rest (pages_decay_run), except
 * for a decay_ms of 0 and the cap, which act at once.  With retain:false,
 * pages leaving for the retained state are unmapped instead.
 *
 * Huge pages (hpage.h; docs/design.md, "Transparent huge pages"): under
 * thp:auto a fourth set, held, takes the dirty extents that lie inside one
 * dense huge range; the decay does not see them, allocations below a huge
 * page take from it first, and they go back to the dirty set when their
 * range stops holding them (pages_refile_range).  Runs are placed so as not
 * to straddle a range boundary (pages_take_offset), and a purge that would
 * split a huge range in use dissolves it first (pages_hpage.c).
 *
 * This is the extent page backend: it implements pai.h, and the objects
 * layer reaches it only through that interface.  Every page allocator that
 * lives as long as the process is on a registry (pages_register) that the
 * purger and the memory-limit release walk.
 *
 * Descriptors: every operation first makes sure a few spare descriptors are
 * on hand (PAGES_SPARE_RESERVE), taking them from the arena's base without
 * the pages lock, so that the base never maps a new chunk while that lock
 * is held (unless racing threads used the reserve up in between).
 *
 * Extent hooks (docs/compat.md, "Extent hooks"): an arena whose hooks are
 * not the default table gets all its memory from them and gives it back
 * through them, in jemalloc's order: a purge to retained tries dalloc,
 * then decommit, then purge_forced, then purge_lazy, and keeps the extent
 * retained (decommitted, zeroed or not) when all refuse; a purge to muzzy
 * that purge_lazy refuses goes that way too.  Extents are split and merged
 * only when split and merge agree; a request that no extent fits without a
 * refused split gets a mapping of its own size.  Decommitted extents merge
 * only with decommitted ones and are committed before reuse.  Without
 * hooks, hooks is NULL and the OS is called directly.
 *
 * Lock: pages->mtx protects everything here.  Order: bin locks → pages->mtx
 * → arena base → emap → global base.  It is never held across mmap, munmap
 * or madvise: extents in flight are marked EXTENT_BUSY so nobody merges
 * them, and are kept on the busy list so that a fork child, where the
 * purging thread does not exist, puts them back into the dirty set, or
 * forgets them if they were being unmapped (recovery callback of
 * pages->mtx, docs/design.md "Fork").  A mapping in flight (made, not yet
 * recorded) is lost to such a child but was never counted, so active +
 * dirty + muzzy + retained pages always equals mapped.
 */
#ifndef STRATA_PAGES_H
#define STRATA_PAGES_H

#include "base.h"
#include "decay.h"
#include "emap.h"
#include "extent.h"
#include "extent_hooks.h"
#include "hpage.h"
#include "mutex.h"
#include "pai.h"

/* Descriptors one operation may need: the lead and trail of a split, a
 * new mapping, a shrink's tail. */
#define PAGES_SPARE_RESERVE 4
#define PAGES_GROW_MIN HUGEPAGE
#define PAGES_GROW_MAX ((size_t)1 << 30)

/* The purger sleeps until at least this many pages are due (or all that
 * are left). */
#define PAGES_PURGE_MIN_BATCH ((size_t)256)
/* The curve purges no fewer pages at a time, unless it lets all go: a
 * page or two past the curve is not worth a system call and a fault. */
#define PAGES_PURGE_MIN_EXCESS ((size_t)16)

/* What a state's purging did, ever (stats.arenas.<i>.{dirty,muzzy}_*). */
typedef struct pages_purge_stats {
	uint64_t npurge;   /* purge passes that purged something */
	uint64_t nmadvise; /* madvise (or munmap) calls */
	uint64_t purged;   /* pages purged */
} pages_purge_stats_t;

typedef struct pages_mapping pages_mapping_t;
struct pages_mapping {
	pages_mapping_t *next;
	void *addr;
	size_t size;
};

typedef struct pages pages_t;
struct pages {
	pai_t pai; /* first: the backend interface (pai.h) */
	mutex_t mtx;
	unsigned arena_ind;
	base_t *base;        /* where extent descriptors come from */
	pages_t *registry_next; /* set once by pages_register */
	/* Protected by mtx. */
	eset_t dirty;
	eset_t held;         /* dirty extents inside dense huge ranges (hpage.h) */
	eset_t muzzy;
	eset_t retained;
	hpage_t hpage;       /* the ranges of the mapped space (thp:auto) */
	unsigned hold_suspended; /* explicit purges running: nothing is held */
	uint64_t idle_pass_at; /* burst.last_active when the idle pass last ran */
	decay_t decay_dirty; /* how long dirty pages may stay */
	decay_t decay_muzzy; /* how long muzzy pages may stay */
	burst_t burst;       /* when the next burst will want dirty pages back */
	extent_t *spare;     /* unused descriptors, linked by heap_next */
	_Atomic size_t nspare; /* their number (written under mtx, read without) */
	extent_t *busy;      /* extents being purged, linked by heap_next/prev */
	extent_t *unmapping; /* extents being unmapped (retain:false), likewise */
	extent_t *unmerged;  /* dirty extents filed without merging (freed slabs) */
	/* NUMA (numa.h): the node new mappings are bound to (NUMA_NODE_NONE:
	 * unbound), read without the lock; and, while NUMA is active, every
	 * mapping made (a list that only grows, read without the lock), for
	 * moving the arena to another node. */
	_Atomic unsigned node;
	_Atomic(pages_mapping_t *) mappings;
	size_t active_pages; /* pages in active extents */
	size_t mapped;       /* bytes of address space mapped from the OS */
	size_t grow_next;    /* size of the next mapping */
	size_t grow_limit;   /* grow_next grows no further (retain_grow_limit) */
	bool split_refused;  /* the split hook refused, since pages_alloc began */
	/* The extent hooks, NULL for the default ones; read without the lock
	 * (a change applies to the operations that start after it). */
	_Atomic(extent_hooks_t *) hooks;
	_Atomic size_t dirty_at_run; /* dirty pages after the last decay run (written
	                              * under mtx, read by the purger without it) */
	pages_purge_stats_t dirty_stats, muzzy_stats;
};

typedef struct pages_stats {
	size_t active_pages, dirty_pages, muzzy_pages, retained_pages, mapped;
	ssize_t dirty_decay_ms, muzzy_decay_ms;
	pages_purge_stats_t dirty, muzzy;
} pages_stats_t;

void pages_init(pages_t *p, unsigned arena_ind, base_t *base, ssize_t dirty_decay_ms,
                ssize_t muzzy_decay_ms);
/* Registers the lock (and its fork recovery) of a page allocator that lives
 * as long as the process, and puts it on the registry. */
void pages_register(pages_t *p);
/* The registry, newest first: every registered page allocator. */
pages_t *pages_registry_first(void);

/*
 * An active extent of size bytes (a PAGE multiple) aligned to alignment (a
 * power of two >= PAGE), registered in the emap with szind and the slab bit
 * (every page for slabs, the boundary pages otherwise).  Zeroed when zero is
 * set.  NULL when out of memory.
 */
extent_t *pages_alloc(pages_t *p, size_t size, size_t alignment, bool zero, unsigned szind,
                      bool slab);
/* Returns an active extent: it becomes dirty (coalesced unless a slab). */
void pages_free(pages_t *p, extent_t *e);
/* Grows an active large extent in place to new_size; false if the pages
 * after it are not free.  New bytes are zeroed when zero is set. */
bool pages_grow_in_place(pages_t *p, extent_t *e, size_t new_size, unsigned szind, bool zero);
/* Shrinks an active large extent in place to new_size (a PAGE multiple);
 * false (nothing changed) when no descriptor is left for the freed tail. */
bool pages_shrink_in_place(pages_t *p, extent_t *e, size_t new_size, unsigned szind);
/* Purges every dirty and muzzy extent (arena.<i>.purge, malloc_trim, the
 * memory limit), held ones too, and the warm ranges' retained pages
 * (pages_purge_warm); returns the dirty and muzzy bytes purged. */
size_t pages_purge_all(pages_t *p);
/*
 * Runs the decay at now (arena.<i>.decay, the purger): purges what the
 * curves, the burst model and the cap no longer allow.  Returns when it
 * next has something to do (UINT64_MAX: not until pages are freed).
 */
uint64_t pages_decay_run(pages_t *p, uint64_t now);
/* arena.<i>.{dirty,muzzy}_decay_ms: a new curve for the state; the pages
 * now in it count as fully decayed (purged at once unless decay_ms is -1). */
void pages_set_decay_ms(pages_t *p, bool muzzy, ssize_t decay_ms);
ssize_t pages_decay_ms(pages_t *p, bool muzzy);
/* Dirty bytes of every arena together (what dirty_max_bytes caps); kept
 * only while dirty_max_bytes is set (a shared counter every free would
 * write otherwise), else 0. */
size_t pages_dirty_bytes_total(void);

/* The arena's extent hooks: NULL for strata's own (extent_hooks_default). */
extent_hooks_t *pages_hooks(pages_t *p);
void pages_set_hooks(pages_t *p, extent_hooks_t *hooks);
/* arena.<i>.retain_grow_limit: the largest step by which mapped space
 * grows (a request larger than it still gets what it needs). */
/* The NUMA node the pages are bound to (NUMA_NODE_NONE: unbound).
 * pages_move_node binds new mappings to node and migrates the pages of
 * every mapping made while NUMA was active; mappings through extent hooks
 * are the hooks' and are never bound.  No lock may be held. */
unsigned pages_node(pages_t *p);
void pages_move_node(pages_t *p, unsigned node);
size_t pages_retain_grow_limit(pages_t *p);
void pages_set_retain_grow_limit(pages_t *p, size_t limit);
/*
 * Gives every free extent back for good, through the destroy hook (or
 * munmap without hooks), leaving the allocator empty of free extents (arena
 * destruction; active extents are the caller's to have freed).
 */
void pages_release_free(pages_t *p);

void pages_stats_read(pages_t *p, pages_stats_t *out);

/*
 * Huge pages (hpage.h, pages_hpage.c).  The purger calls pages_hugify_run
 * to make the queued ranges huge again, and pages_idle_claim, then the
 * idle pass (pages_idle_pass, set by the arena layer), when an arena has
 * taken and returned no page for its dirty_decay_ms: the pass counts the
 * free pages inside the arena's slabs per range (pages_idle_note),
 * dissolves the huge ranges whose pages in use fall below the dissolve
 * threshold with them (pages_idle_dissolve) and purges the free pages
 * inside the slabs of ranges that are not huge (pages_idle_eligible,
 * counted by pages_note_slab_purged).  No lock may be held.
 */
extern void (*pages_idle_pass)(pages_t *p);
/* Makes the ranges queued for at least hpage_hugify_delay_ns by now huge;
 * when the next one still queued is due (UINT64_MAX: none). */
uint64_t pages_hugify_run(pages_t *p, uint64_t now);
bool pages_idle_claim(pages_t *p, uint64_t now);
void pages_idle_note(pages_t *p, void *addr, size_t npages);
void pages_idle_dissolve(pages_t *p);
/* Purges the retained pages of the warm ranges (hpage.h) that do not hold
 * their free pages, dissolving those with pages in use: a huge fault
 * brought them in, unseen by the page counts (the idle pass, an explicit
 * purge). */
void pages_purge_warm(pages_t *p);
bool pages_idle_eligible(pages_t *p, const void *addr);
void pages_note_slab_purged(pages_t *p, size_t npages);

typedef struct pages_hpage_stats {
	hpage_counters_t counters;
	size_t ranges;      /* ranges with active pages */
	size_t huge_ranges; /* those of them that are huge */
} pages_hpage_stats_t;
void pages_hpage_stats_read(pages_t *p, pages_hpage_stats_t *out);
/* Heap bytes on huge pages, over every registered allocator (from
 * /proc/self/smaps; -1 when unreadable). */
ssize_t pages_huge_bytes(void);

/* The free extents of one page-size class, by state
 * (stats.arenas.<i>.extents.<j>): count and bytes. */
typedef struct pages_extent_stats {
	size_t ndirty, nmuzzy, nretained;
	size_t dirty_bytes, muzzy_bytes, retained_bytes;
} pages_extent_stats_t;
/* out[j] for every class j < SZ_NPSIZES, read under one lock (extents
 * being purged, on the busy list, are in no class). */
void pages_extents_stats_read(pages_t *p, pages_extent_stats_t out[SZ_NPSIZES]);

#endif
