/*
 * bin.c — small-object allocation from slabs, and the remote ring.  See
 * bin.h.
 */
#include "bin.h"
#include "emap.h"
#include "msg.h"
#include "os.h"
#include "safety.h"

/* A remote ring holds at most this many bytes of regions (but at least
 * BIN_REMOTE_MIN_REGIONS, and at most its slots): a flush batch of the
 * small classes (100 regions with the default cache sizes) fits twice, so a
 * producer's refills find a consumer's flushes there; a producer that
 * stopped allocating pins at most about 4.2 MiB in all of an arena's bins. */
#define BIN_REMOTE_LIMIT_BYTES ((size_t)128 << 10)
#define BIN_REMOTE_MIN_REGIONS 32

static size_t
bin_remote_limit(const bin_info_t *info)
{
	size_t n = BIN_REMOTE_LIMIT_BYTES / info->reg_size;
	if (n < BIN_REMOTE_MIN_REGIONS)
		n = BIN_REMOTE_MIN_REGIONS;
	return n < BIN_REMOTE_SLOTS ? n : BIN_REMOTE_SLOTS;
}

void
bin_init(bin_t *bin, bool track_full, bin_remote_slots_t *remote_slots)
{
	*bin = (bin_t){.track_full = track_full};
	bin->remote.slots = *remote_slots;
	mutex_init(&bin->mtx, "bin", MUTEX_RANK_BIN);
}

static void
bin_full_insert(bin_t *bin, extent_t *slab)
{
	if (bin->track_full)
		extent_list_push(&bin->full, slab);
}

static void
bin_full_remove(bin_t *bin, extent_t *slab)
{
	if (bin->track_full)
		extent_list_remove(&bin->full, slab);
}

/* Makes slabcur a slab with a free region; false when out of memory.  Lock held
 * on entry and exit, dropped while a new slab is mapped. */
static bool
bin_refill_slabcur(bin_t *bin, unsigned binind, pai_t *pai)
{
	if (!extent_heap_empty(&bin->nonfull)) {
		bin->slabcur = extent_heap_first(&bin->nonfull);
		extent_heap_remove(&bin->nonfull, bin->slabcur);
		bin->nnonfull--;
		bin->nreslabs++;
		return true;
	}
	const bin_info_t *info = &sz_bin_info[binind];
	mutex_unlock(&bin->mtx);
	extent_t *slab = pai_alloc(pai, info->slab_size, PAGE, false, binind, true);
	if (slab != NULL)
		slab_init(slab, info);
	mutex_lock(&bin->mtx);
	if (slab == NULL)
		return bin->slabcur != NULL && !slab_is_full(bin->slabcur);
	bin->nslabs++;
	bin->curslabs++;
	if (bin->slabcur != NULL && !slab_is_full(bin->slabcur)) {
		extent_heap_insert(&bin->nonfull, slab); /* another thread refilled meanwhile */
		bin->nnonfull++;
	} else
		bin->slabcur = slab;
	return true;
}

/* Up to n regions from the slabs into out.  Lock held. */
static unsigned
bin_alloc_from_slabs(bin_t *bin, unsigned binind, pai_t *pai, void **out, unsigned n)
{
	const bin_info_t *info = &sz_bin_info[binind];
	unsigned got = 0;
	while (got < n) {
		if (bin->slabcur == NULL || slab_is_full(bin->slabcur)) {
			if (bin->slabcur != NULL)
				bin_full_insert(bin, bin->slabcur);
			bin->slabcur = NULL;
			if (!bin_refill_slabcur(bin, binind, pai))
				break;
		}
		got += slab_alloc_batch(bin->slabcur, info, out + got, n - got);
	}
	bin->nmalloc += got;
	bin->curregs += got;
	return got;
}

/* Regions came back to a slab that had nfree_before free ones: it leaves
 * the full list for the heap, or the bin when empty (true: the caller
 * returns it to the pages).  Lock held. */
static bool
bin_slab_regions_back(bin_t *bin, const bin_info_t *info, extent_t *slab, uint32_t nfree_before)
{
	if (slab == bin->slabcur)
		return false;
	/* Was it full (on the full list) or partly used (in the heap)? */
	bool was_full = nfree_before == 0;
	if (was_full)
		bin_full_remove(bin, slab);
	if (slab->nfree == info->nregs) {
		if (!was_full) {
			extent_heap_remove(&bin->nonfull, slab);
			bin->nnonfull--;
		}
		bin->curslabs--;
		return true;
	}
	if (was_full) {
		extent_heap_insert(&bin->nonfull, slab);
		bin->nnonfull++;
	}
	return false;
}

/* Takes one region back into its slab; true when the slab became empty and
 * left the bin (the caller returns it to the pages).  Lock held. */
static bool
bin_free_locked(bin_t *bin, const bin_info_t *info, extent_t *slab, void *ptr)
{
	slab_free_result_t r = slab_free_reg(slab, info, ptr);
	if (UNLIKELY(r != SLAB_FREE_OK)) {
		/* Reported with the lock dropped (the program's hook may
		 * allocate); when the hook returns, the free is dropped. */
		mutex_unlock(&bin->mtx);
		if (r == SLAB_FREE_DOUBLE)
			safety_check_fail("free(): double free of %p\n", ptr);
		else
			safety_check_fail("free(): invalid pointer %p\n", ptr);
		mutex_lock(&bin->mtx);
		return false;
	}
	bin->ndalloc++;
	bin->curregs--;
	return bin_slab_regions_back(bin, info, slab, slab->nfree - 1);
}

/* Returns ptrs[i] (in slabs[i]) to their slabs, then the slabs that became
 * empty to the pages, with the lock dropped meanwhile.  Lock held. */
static void
bin_free_regions(bin_t *bin, const bin_info_t *info, pai_t *pai, extent_t *const *slabs,
                 void *const *ptrs, unsigned n)
{
	extent_t *empty[BIN_FREE_BATCH_MAX];
	unsigned nempty = 0;
	for (unsigned i = 0; i < n; i++) {
		if (bin_free_locked(bin, info, slabs[i], ptrs[i]))
			empty[nempty++] = slabs[i];
	}
	if (nempty == 0)
		return;
	mutex_unlock(&bin->mtx);
	for (unsigned i = 0; i < nempty; i++)
		pai_free(pai, empty[i]);
	mutex_lock(&bin->mtx);
}

void
bin_free_batch(bin_t *bin, unsigned binind, pai_t *pai, extent_t *const *slabs,
               void *const *ptrs, unsigned n)
{
	mutex_lock(&bin->mtx);
	bin->nflushes++;
	bin_free_regions(bin, &sz_bin_info[binind], pai, slabs, ptrs, n);
	mutex_unlock(&bin->mtx);
}

void
bin_free(bin_t *bin, unsigned binind, pai_t *pai, extent_t *slab, void *ptr)
{
	bin_free_batch(bin, binind, pai, &slab, &ptr, 1);
}

void
bin_lookup_slabs(unsigned binind, void *const *ptrs, extent_t **slabs, unsigned n)
{
	DEBUG_ASSERT(n <= BIN_FREE_BATCH_MAX);
	_Atomic uint64_t *slots[BIN_FREE_BATCH_MAX];
	for (unsigned i = 0; i < n; i++) {
		slots[i] = emap_find_slot(ptrs[i]);
		if (LIKELY(slots[i] != NULL))
			__builtin_prefetch(slots[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t bits = slots[i] != NULL ? atomic_load_relaxed(slots[i]) : 0;
		if (UNLIKELY(!emap_bits_is_slab_of(bits, binind)))
			safety_check_fatal("free(): invalid pointer %p\n", ptrs[i]);
		slabs[i] = emap_bits_extent(bits);
		__builtin_prefetch(slabs[i]);
	}
}

/* ------------------------------------------------------------ remote frees */

static inline _Atomic(void *) *
bin_remote_slot(bin_t *bin, size_t i)
{
	return &bin->remote.slots[i % BIN_REMOTE_SLOTS];
}

void
bin_free_remote(bin_t *bin, unsigned binind, pai_t *pai, extent_t *const *slabs,
                void *const *ptrs, unsigned n)
{
	size_t limit = bin_remote_limit(&sz_bin_info[binind]);
	size_t tail;
	do {
		/* head first: the taker advanced it past slots whose reservation
		 * it saw (acquire), so the tail read after is never behind it. */
		size_t head = atomic_load_acquire(&bin->remote.head);
		tail = atomic_load_relaxed(&bin->remote.tail);
		if (UNLIKELY(tail + n - head > limit)) {
			bin_free_batch(bin, binind, pai, slabs, ptrs, n);
			return;
		}
	} while (!atomic_compare_exchange_weak_explicit(&bin->remote.tail, &tail, tail + n,
	                                                memory_order_relaxed,
	                                                memory_order_relaxed));
	atomic_add_relaxed(&bin->remote.npushes, 1); /* the line the CAS just took */
	for (unsigned i = 0; i < n; i++)
		atomic_store_release(bin_remote_slot(bin, tail + i), ptrs[i]);
}

/* Takes up to max written slots from head into out; how many.  Lock held. */
static unsigned
bin_remote_pop(bin_t *bin, void **out, unsigned max)
{
	size_t head = atomic_load_relaxed(&bin->remote.head);
	unsigned got = 0;
	while (got < max) {
		_Atomic(void *) *slot = bin_remote_slot(bin, head);
		void *region = atomic_load_acquire(slot);
		if (region == NULL)
			break;
		atomic_store_relaxed(slot, NULL);
		out[got++] = region;
		head++;
	}
	if (got != 0)
		atomic_store_release(&bin->remote.head, head);
	return got;
}

/* Returns every region on the remote ring to its slab.  Lock held (dropped
 * while emptied slabs go to the pages). */
static void
bin_remote_free_all(bin_t *bin, unsigned binind, pai_t *pai)
{
	const bin_info_t *info = &sz_bin_info[binind];
	for (;;) {
		void *chunk[BIN_FREE_BATCH_MAX];
		extent_t *slabs[BIN_FREE_BATCH_MAX];
		unsigned n = bin_remote_pop(bin, chunk, BIN_FREE_BATCH_MAX);
		if (n == 0)
			break;
		bin_lookup_slabs(binind, chunk, slabs, n);
		bin_free_regions(bin, info, pai, slabs, chunk, n);
	}
}

static inline bool
bin_remote_empty(bin_t *bin)
{
	return atomic_load_relaxed(&bin->remote.head) == atomic_load_relaxed(&bin->remote.tail);
}

void
bin_remote_drain(bin_t *bin, unsigned binind, pai_t *pai)
{
	if (bin_remote_empty(bin))
		return;
	mutex_lock(&bin->mtx);
	bin_remote_free_all(bin, binind, pai);
	mutex_unlock(&bin->mtx);
}

void
bin_remote_postfork_child(bin_t *bin)
{
	size_t head = atomic_load_relaxed(&bin->remote.head);
	size_t tail = atomic_load_relaxed(&bin->remote.tail);
	size_t kept = head;
	for (size_t i = head; i != tail; i++) {
		void *region = atomic_load_relaxed(bin_remote_slot(bin, i));
		atomic_store_relaxed(bin_remote_slot(bin, i), NULL);
		if (region != NULL)
			atomic_store_relaxed(bin_remote_slot(bin, kept++), region);
	}
	atomic_store_relaxed(&bin->remote.tail, kept);
}

unsigned
bin_refill(bin_t *bin, unsigned binind, pai_t *pai, void **out, unsigned n, unsigned max)
{
	DEBUG_ASSERT(n <= max);
	mutex_lock(&bin->mtx);
	unsigned got = 0;
	if (!bin_remote_empty(bin)) {
		/* Returned to the bin and handed out again: they stay in use. */
		got = bin_remote_pop(bin, out, max);
		bin->ndalloc += got;
		bin->nmalloc += got;
	}
	if (got < n)
		got += bin_alloc_from_slabs(bin, binind, pai, out + got, n - got);
	bin->nfills += got != 0;
	mutex_unlock(&bin->mtx);
	return got;
}

unsigned
bin_malloc_batch(bin_t *bin, unsigned binind, pai_t *pai, void **out, unsigned n)
{
	return bin_refill(bin, binind, pai, out, n, n);
}

void
bin_stats_read(bin_t *bin, unsigned binind, pai_t *pai, bin_stats_t *out)
{
	mutex_lock(&bin->mtx);
	bin_remote_free_all(bin, binind, pai);
	*out = (bin_stats_t){
		.nmalloc = bin->nmalloc,
		.ndalloc = bin->ndalloc,
		.nslabs = bin->nslabs,
		.nfills = bin->nfills,
		.nflushes = bin->nflushes + atomic_load_relaxed(&bin->remote.npushes),
		.nreslabs = bin->nreslabs,
		.curregs = bin->curregs,
		.curslabs = bin->curslabs,
		.nnonfull = bin->nnonfull,
	};
	mutex_unlock(&bin->mtx);
	mutex_stats_read(&bin->mtx, &out->mutex);
}

void
bin_reset(bin_t *bin, pai_t *pai)
{
	mutex_lock(&bin->mtx);
	/* Remote regions belong to the slabs about to go. */
	void *dropped[BIN_FREE_BATCH_MAX];
	while (bin_remote_pop(bin, dropped, BIN_FREE_BATCH_MAX) != 0)
		;
	extent_t *slabs = NULL; /* everything, linked by heap_next */
	while (!extent_heap_empty(&bin->nonfull)) {
		extent_t *s = extent_heap_first(&bin->nonfull);
		extent_heap_remove(&bin->nonfull, s);
		s->heap_next = slabs;
		slabs = s;
	}
	bin->nnonfull = 0;
	while (bin->full != NULL) {
		extent_t *s = bin->full;
		bin_full_remove(bin, s);
		s->heap_next = slabs;
		slabs = s;
	}
	if (bin->slabcur != NULL) {
		bin->slabcur->heap_next = slabs;
		slabs = bin->slabcur;
		bin->slabcur = NULL;
	}
	bin->ndalloc += bin->curregs;
	bin->curregs = 0;
	bin->curslabs = 0;
	mutex_unlock(&bin->mtx);
	while (slabs != NULL) {
		extent_t *next = slabs->heap_next;
		pai_free(pai, slabs);
		slabs = next;
	}
}

void
bin_idle_count(bin_t *bin, unsigned binind, void (*note)(void *addr, size_t npages, void *arg),
               void *arg)
{
	const bin_info_t *info = &sz_bin_info[binind];
	mutex_lock(&bin->mtx);
	for (extent_t *s = extent_heap_first(&bin->nonfull); s != NULL; s = extent_heap_walk_next(s)) {
		uint64_t mask = slab_free_pages(s, info);
		if (mask != 0)
			note(s->addr, (size_t)bits_popcount(mask), arg);
	}
	mutex_unlock(&bin->mtx);
}

/* Slabs one round of bin_idle_purge lends out. */
#define BIN_IDLE_BATCH 32

/* Lends the free pages of slab out, keeping one free region (the highest
 * pages stay when all would go); the pages lent.  Lock held. */
static uint64_t
bin_idle_lend(extent_t *slab, const bin_info_t *info)
{
	uint64_t mask = slab_free_pages(slab, info);
	while (mask != 0) {
		slab_lend(slab, info, mask);
		if (slab->nfree != 0)
			return mask;
		slab_unlend(slab, info, mask);
		mask &= ~((uint64_t)1 << bits_lg_floor(mask));
	}
	return 0;
}

/* MADV_DONTNEED on each run of pages of mask in the slab at addr; the
 * pages.  Lock not held. */
static size_t
bin_idle_release(char *addr, uint64_t mask)
{
	size_t n = 0;
	while (mask != 0) {
		unsigned first = bits_ctz(mask);
		uint64_t from_first = mask >> first;
		unsigned len = ~from_first == 0 ? 64 - first : bits_ctz(~from_first);
		os_purge_forced(addr + ((size_t)first << LG_PAGE), (size_t)len << LG_PAGE);
		n += len;
		mask &= len + first >= 64 ? 0 : ~(uint64_t)0 << (first + len);
	}
	return n;
}

size_t
bin_idle_purge(bin_t *bin, unsigned binind, pai_t *pai, uint8_t pass,
               bool (*eligible)(const void *addr, void *arg), void *arg)
{
	const bin_info_t *info = &sz_bin_info[binind];
	size_t purged = 0;
	for (;;) {
		extent_t *slabs[BIN_IDLE_BATCH];
		uint64_t masks[BIN_IDLE_BATCH];
		unsigned n = 0;
		mutex_lock(&bin->mtx);
		for (extent_t *s = extent_heap_first(&bin->nonfull); s != NULL && n < BIN_IDLE_BATCH;
		     s = extent_heap_walk_next(s)) {
			if (s->idle_pass == pass)
				continue;
			s->idle_pass = pass;
			if (!eligible(s->addr, arg))
				continue;
			uint64_t mask = bin_idle_lend(s, info);
			if (mask != 0) {
				slabs[n] = s;
				masks[n++] = mask;
			}
		}
		mutex_unlock(&bin->mtx);
		if (n == 0)
			return purged;
		for (unsigned i = 0; i < n; i++)
			purged += bin_idle_release(slabs[i]->addr, masks[i]);
		extent_t *empty[BIN_IDLE_BATCH];
		unsigned nempty = 0;
		mutex_lock(&bin->mtx);
		for (unsigned i = 0; i < n; i++) {
			uint32_t before = slabs[i]->nfree;
			slab_unlend(slabs[i], info, masks[i]);
			if (bin_slab_regions_back(bin, info, slabs[i], before))
				empty[nempty++] = slabs[i];
		}
		mutex_unlock(&bin->mtx);
		for (unsigned i = 0; i < nempty; i++)
			pai_free(pai, empty[i]);
	}
}
