/*
 * bin.c — small-object allocation from slabs.  See bin.h.
 */
#include "bin.h"
#include "msg.h"
#include "safety.h"

void
bin_init(bin_t *bin, bool track_full)
{
	*bin = (bin_t){.track_full = track_full};
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

unsigned
bin_malloc_batch(bin_t *bin, unsigned binind, pai_t *pai, void **out, unsigned n)
{
	const bin_info_t *info = &sz_bin_info[binind];
	unsigned got = 0;
	mutex_lock(&bin->mtx);
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
	bin->nfills += got != 0;
	bin->curregs += got;
	mutex_unlock(&bin->mtx);
	return got;
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
	if (slab == bin->slabcur)
		return false;
	/* Was it full (on the full list) or partly used (in the heap)? */
	bool was_full = slab->nfree == 1;
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

void
bin_free_batch(bin_t *bin, unsigned binind, pai_t *pai, extent_t *const *slabs,
               void *const *ptrs, unsigned n)
{
	const bin_info_t *info = &sz_bin_info[binind];
	extent_t *empty[BIN_FREE_BATCH_MAX];
	unsigned nempty = 0;
	mutex_lock(&bin->mtx);
	bin->nflushes++;
	for (unsigned i = 0; i < n; i++) {
		if (bin_free_locked(bin, info, slabs[i], ptrs[i]))
			empty[nempty++] = slabs[i];
	}
	mutex_unlock(&bin->mtx);
	for (unsigned i = 0; i < nempty; i++)
		pai_free(pai, empty[i]);
}

void
bin_free(bin_t *bin, unsigned binind, pai_t *pai, extent_t *slab, void *ptr)
{
	bin_free_batch(bin, binind, pai, &slab, &ptr, 1);
}

void
bin_stats_read(bin_t *bin, bin_stats_t *out)
{
	mutex_lock(&bin->mtx);
	*out = (bin_stats_t){
		.nmalloc = bin->nmalloc,
		.ndalloc = bin->ndalloc,
		.nslabs = bin->nslabs,
		.nfills = bin->nfills,
		.nflushes = bin->nflushes,
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
