/*
 * extent.h — the extent descriptor, address-ordered pairing heaps of extents,
 * and best-fit sets of free extents.  L2.
 *
 * An extent is a page-aligned run of pages owned by one arena, in one state:
 * active (a large allocation or a slab), dirty (freed, still backed),
 * muzzy (freed and MADV_FREE'd: backed until the kernel takes it), retained
 * (mapped but purged: reads back zero), or busy (being purged or unmapped
 * with the lock dropped; never merged).
 *
 * A free-extent set (eset) keeps one heap per page-size class, each ordered
 * by address, plus a bitmap of non-empty classes.  An extent is filed under
 * the largest class not above its size, and searched from the smallest class
 * not below the request, so the first extent found always fits: best fit,
 * then lowest address.  The set counts its pages and extents, in all and
 * per class.  Locks: an eset belongs to one arena's pages_t and is
 * protected by that pages lock; a slab's bitmap and nfree by its bin's lock.
 */
#ifndef STRATA_EXTENT_H
#define STRATA_EXTENT_H

#include "sz.h"

typedef enum extent_state {
	EXTENT_ACTIVE,
	EXTENT_DIRTY,
	EXTENT_MUZZY,
	EXTENT_RETAINED,
	EXTENT_BUSY,
} extent_state_t;

#define EXTENT_BITMAP_WORDS (SZ_SLAB_MAXREGS / 64)

/*
 * What the profiler keeps about one sampled object, in its extent's
 * descriptor: its counters (a prof_tctx_t), its record in the ring of recent
 * allocations and that record's id at the time (prof/recent.h), and the
 * size its caller asked for.  Written by the allocating thread before the
 * pointer is returned (or by a thread resizing the object in place), read
 * by the freeing one; src treats it as opaque.
 */
typedef struct extent_sample {
	void *tctx;
	void *recent;
	uint64_t recent_id;
	size_t req;
} extent_sample_t;

typedef struct extent extent_t;
struct extent {
	void *addr;
	size_t size;            /* bytes, a PAGE multiple */
	uint16_t arena_ind;     /* owning arena: set when the descriptor is created
	                         * and never changed (descriptors are recycled only
	                         * within their arena), so another arena may read it */
	uint8_t state;          /* extent_state_t */
	uint8_t szind;          /* size class when active, EMAP_SZIND_NONE otherwise */
	bool slab;              /* active slab of small regions */
	uint8_t node;           /* active: its arena's NUMA node when allocated
	                         * (0 without NUMA), copied into its page-map entries */
	/* Bit-fields, so that the fields above and these fill one 8-byte word
	 * and a slab's nfree and first bitmap word share its first cache line. */
	bool zeroed : 1;        /* every byte is known to be zero */
	bool unmerged : 1;      /* free, filed without merging (on its pages'
	                         * unmerged list) */
	bool decommitted : 1;   /* retained, decommitted by its arena's extent hooks */
	bool held : 1;          /* dirty, filed in its pages' held set: inside one
	                         * dense huge range (hpage.h) */
	uint8_t idle_pass;      /* slab: the last idle pass that purged its free
	                         * pages (pages.h), under its bin's lock */
	/* Heap links: a free extent in its eset heap, or a slab in its bin's
	 * non-full heap; the descriptor free list reuses `next`. */
	extent_t *heap_child, *heap_next, *heap_prev;
	union {
		/* Slab only, protected by the bin lock. */
		struct {
			uint32_t nfree;
			uint64_t bitmap[EXTENT_BITMAP_WORDS]; /* 1 = region free */
		};
		/* An active large extent holding a profiler-sampled object
		 * (its page-map entries have the sampled bit). */
		extent_sample_t sample;
		/* A free extent filed unmerged: its pages' list of those
		 * (pages.h), protected by the pages lock. */
		struct {
			extent_t *unmerged_next, *unmerged_prev;
		};
	};
} __attribute__((aligned(CACHELINE)));
STATIC_ASSERT(CACHELINE >= 64, "page-map entries keep 6 low bits beside the descriptor");
STATIC_ASSERT(sizeof(extent_t) == 2 * CACHELINE, "a descriptor spans two cache lines");
STATIC_ASSERT(offsetof(extent_t, bitmap) + sizeof(uint64_t) <= CACHELINE,
              "a slab's nfree and first bitmap word are in its first cache line");

typedef struct extent_heap {
	extent_t *root;
} extent_heap_t;

static inline bool
extent_heap_empty(const extent_heap_t *h)
{
	return h->root == NULL;
}

static inline extent_t *
extent_heap_first(const extent_heap_t *h)
{
	return h->root;
}

void extent_heap_insert(extent_heap_t *h, extent_t *e);
void extent_heap_remove(extent_heap_t *h, extent_t *e);
/* The node after e in a walk of every node of its heap (in no particular
 * order; start at extent_heap_first), NULL after the last.  The heap must
 * not change during the walk. */
extent_t *extent_heap_walk_next(extent_t *e);

/* Lists of extents that are in no heap (a manual arena's full slabs and
 * live large extents, extents being purged), linked through heap_next and
 * heap_prev.  The owner's lock protects the list. */
static inline void
extent_list_push(extent_t **head, extent_t *e)
{
	e->heap_prev = NULL;
	e->heap_next = *head;
	if (*head != NULL)
		(*head)->heap_prev = e;
	*head = e;
}

static inline void
extent_list_remove(extent_t **head, extent_t *e)
{
	if (e->heap_prev != NULL)
		e->heap_prev->heap_next = e->heap_next;
	else
		*head = e->heap_next;
	if (e->heap_next != NULL)
		e->heap_next->heap_prev = e->heap_prev;
}

#define ESET_BITMAP_WORDS ((SZ_NPSIZES + 63) / 64)

typedef struct eset {
	extent_heap_t heaps[SZ_NPSIZES];
	uint64_t nonempty[ESET_BITMAP_WORDS];
	size_t npages; /* pages in all extents of the set */
	size_t nextents;
	/* Per class (stats.arenas.<i>.extents.<j>): extents filed under it
	 * and their bytes. */
	size_t class_n[SZ_NPSIZES];
	size_t class_bytes[SZ_NPSIZES];
} eset_t;

void eset_init(eset_t *set);
void eset_insert(eset_t *set, extent_t *e);
void eset_remove(eset_t *set, extent_t *e);
/* Smallest, then lowest-addressed, extent of at least size bytes; not removed. */
extent_t *eset_find_fit(eset_t *set, size_t size);
/* An extent of the largest non-empty class (for purging big runs first). */
extent_t *eset_find_largest(eset_t *set);

#endif
