/*
 * bin.h — an arena's bin for one small size class: the slab being filled
 * (slabcur), the other non-full slabs (an address-ordered heap, so the
 * lowest slab fills first), and the class's counters.  L3.
 *
 * Full slabs are on a list only in the bins of manual arenas (arena reset
 * walks it; automatic arenas cannot be reset, and keeping the list costs
 * two descriptor misses per slab that fills and drains); a slab that
 * becomes empty (and is not slabcur) goes straight back to the page
 * allocator.
 *
 * Remote frees (docs/design.md, "Remote frees"): a thread whose cache
 * refills from another arena returns this bin's regions without its lock:
 * it reserves a run of slots of the bin's remote ring with one
 * compare-and-swap and writes the pointers there.  The holder of the lock
 * takes the ring's pointers: a refill hands them out again as they are
 * (their slabs never see them), any other holder returns them to their
 * slabs.  Regions on the ring count as in use (curregs) until then; reading
 * the stats takes them first, so the counters are exact whenever no thread
 * is freeing.  A push that finds the ring too full (bin_remote_limit()
 * regions) returns its regions to the slabs under the lock instead, so
 * memory parked on the ring stays bounded.
 *
 * Lock: bin->mtx protects all fields but remote and the bitmaps of this
 * bin's slabs; it is dropped while a new slab is allocated and while an
 * empty one is returned (pages lock ordered after).  The remote ring is
 * lock-free for pushers and taken only by the lock's holder.
 */
#ifndef STRATA_BIN_H
#define STRATA_BIN_H

#include "mutex.h"
#include "pai.h"
#include "slab.h"

/* Most regions bin_free_batch takes at once. */
#define BIN_FREE_BATCH_MAX 128

/*
 * The remote ring: slots [head, tail) (indices modulo BIN_REMOTE_SLOTS) are
 * reserved by pushers, each non-NULL once its pointer is written; every
 * other slot is NULL.  A pusher reserves only slots the taker has emptied
 * (tail + n - head <= the limit) and writes them with release order; the
 * taker reads slots from head up to the first NULL one (a reservation not
 * written yet), clears them and then advances head with release order.
 * The slots are an array outside the bin (the arena keeps every bin's
 * together, after its bins), NULL when bin_init gets them (arenas come from
 * zeroed metadata, and a reset leaves every slot NULL): the bins stay
 * compact, and an idle ring never touches its slots' pages.
 */
#define BIN_REMOTE_SLOTS 256
typedef _Atomic(void *) bin_remote_slots_t[BIN_REMOTE_SLOTS];
typedef struct bin_remote {
	_Atomic size_t tail CACHE_ALIGNED; /* next slot to reserve (pushers) */
	_Atomic uint64_t npushes;          /* pushes, ever (stats: flushes) */
	_Atomic size_t head CACHE_ALIGNED; /* next slot to take (lock holder) */
	_Atomic(void *) *slots;            /* BIN_REMOTE_SLOTS of them; set at init */
} bin_remote_t;

typedef struct bin {
	mutex_t mtx;
	bool track_full;   /* keep the full list (manual arenas); set at init */
	/* Protected by mtx. */
	extent_t *slabcur;
	extent_heap_t nonfull;
	extent_t *full;    /* if track_full: full slabs other than slabcur, linked by
	                    * heap_next/prev */
	uint64_t nmalloc;  /* regions handed out, ever */
	uint64_t ndalloc;  /* regions returned, ever */
	uint64_t nslabs;   /* slabs created, ever */
	uint64_t nfills;   /* bin_malloc_batch calls that handed out regions */
	uint64_t nflushes; /* bin_free_batch calls */
	uint64_t nreslabs; /* slabcur taken from nonfull */
	size_t curregs;    /* regions in use now */
	size_t curslabs;   /* slabs owned now */
	size_t nnonfull;   /* slabs in nonfull */
	bin_remote_t remote;
} CACHE_ALIGNED bin_t;

/* The counters (stats_counters.h, STATS_BIN_COUNTERS) and the lock's. */
typedef struct bin_stats {
	uint64_t nmalloc, ndalloc, nslabs, nfills, nflushes, nreslabs;
	size_t curregs, curslabs, nnonfull;
	mutex_stats_t mutex;
} bin_stats_t;

/* Sets up a bin with its remote ring's slots, all NULL (see bin_remote_t). */
void bin_init(bin_t *bin, bool track_full, bin_remote_slots_t *remote_slots);
/* Up to n regions of class binind into out; fewer only when out of memory. */
unsigned bin_malloc_batch(bin_t *bin, unsigned binind, pai_t *pai, void **out, unsigned n);
/* A thread cache's refill: at least n regions (fewer only when out of
 * memory) and up to max (>= n) when the remote ring holds that many. */
unsigned bin_refill(bin_t *bin, unsigned binind, pai_t *pai, void **out, unsigned n,
                    unsigned max);
/* The slab of each region ptrs[0..n) of class binind, into slabs; aborts
 * with a message for a pointer that is not such a region's page.  The
 * page-map entries and then the descriptors are prefetched together. */
void bin_lookup_slabs(unsigned binind, void *const *ptrs, extent_t **slabs, unsigned n);
/* Puts regions ptrs[0..n) (in slabs[i]) of this bin on its remote ring, or
 * when it is too full returns them to their slabs under the lock. */
void bin_free_remote(bin_t *bin, unsigned binind, pai_t *pai, extent_t *const *slabs,
                     void *const *ptrs, unsigned n);
/* Returns the remote ring's regions to their slabs (stats, purge). */
void bin_remote_drain(bin_t *bin, unsigned binind, pai_t *pai);
/* Fork child: reservations of threads that are gone stay NULL forever; the
 * ring is compacted over them. */
void bin_remote_postfork_child(bin_t *bin);
/* Returns regions ptrs[i] (in slab slabs[i], n <= BIN_FREE_BATCH_MAX) under
 * one lock acquisition;
 * empty slabs go back to pages.  Aborts with a message on an invalid
 * pointer or a double free. */
void bin_free_batch(bin_t *bin, unsigned binind, pai_t *pai, extent_t *const *slabs,
                    void *const *ptrs, unsigned n);
void bin_free(bin_t *bin, unsigned binind, pai_t *pai, extent_t *slab, void *ptr);
/* The counters, after the remote ring's regions went back to their slabs. */
void bin_stats_read(bin_t *bin, unsigned binind, pai_t *pai, bin_stats_t *out);
/* Takes every slab out of the bin (arena reset) and returns it to pages;
 * the regions in them are gone.  The counters of current use drop to 0. */
void bin_reset(bin_t *bin, pai_t *pai);

/*
 * The idle pass (docs/design.md, "Transparent huge pages"): the free pages
 * inside the bin's non-full slabs (slabcur aside).  bin_idle_count calls
 * note(addr, npages, arg) for each slab's free pages (addr: the first).
 * bin_idle_purge purges (MADV_DONTNEED) them in the slabs that
 * eligible(slab address, arg) accepts and that this pass (pass, never 0)
 * has not seen, a batch at a time: the regions of those pages are lent out
 * (marked in use) while the lock is dropped around the system calls, so
 * nobody is handed a region being purged, and a slab keeps a free region
 * so that it stays in the heap.  Returns the pages purged.
 */
void bin_idle_count(bin_t *bin, unsigned binind, void (*note)(void *addr, size_t npages, void *arg),
                    void *arg);
size_t bin_idle_purge(bin_t *bin, unsigned binind, pai_t *pai, uint8_t pass,
                      bool (*eligible)(const void *addr, void *arg), void *arg);


#endif
