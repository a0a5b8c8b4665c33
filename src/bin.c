/*
 * bin.c — small-object allocation from slabs.  See bin.h.
 */
#include "bin.h"
#include "msg.h"

void
bin_init(bin_t *bin)
{
	*bin = (bin_t){.mtx = MUTEX_INITIALIZER};
}

/* Makes slabcur a slab with a free region; false when out of memory.  Lock held
 * on entry and exit, dropped while a new slab is mapped. */
static bool
bin_refill_slabcur(bin_t *bin, unsigned binind, pages_t *pages)
{
	if (!extent_heap_empty(&bin->nonfull)) {
		bin->slabcur = extent_heap_first(&bin->nonfull);
		extent_heap_remove(&bin->nonfull, bin->slabcur);
		return true;
	}
	const bin_info_t *info = &sz_bin_info[binind];
	mutex_unlock(&bin->mtx);
	extent_t *slab = pages_alloc(pages, info->slab_size, PAGE, false, binind, true);
	if (slab != NULL)
		slab_init(slab, info);
	mutex_lock(&bin->mtx);
	if (slab == NULL)
		return bin->slabcur != NULL && !slab_is_full(bin->slabcur);
	bin->nslabs++;
	bin->curslabs++;
	if (bin->slabcur != NULL && !slab_is_full(bin->slabcur))
		extent_heap_insert(&bin->nonfull, slab); /* another thread refilled meanwhile */
	else
		bin->slabcur = slab;
	return true;
}

unsigned
bin_malloc_batch(bin_t *bin, unsigned binind, pages_t *pages, void **out, unsigned n)
{
	const bin_info_t *info = &sz_bin_info[binind];
	unsigned got = 0;
	mutex_lock(&bin->mtx);
	while (got < n) {
		if (bin->slabcur == NULL || slab_is_full(bin->slabcur)) {
			bin->slabcur = NULL;
			if (!bin_refill_slabcur(bin, binind, pages))
				break;
		}
		got += slab_alloc_batch(bin->slabcur, info, out + got, n - got);
	}
	bin->nmalloc += got;
	bin->curregs += got;
	mutex_unlock(&bin->mtx);
	return got;
}

void
bin_free(bin_t *bin, unsigned binind, pages_t *pages, extent_t *slab, void *ptr)
{
	const bin_info_t *info = &sz_bin_info[binind];
	mutex_lock(&bin->mtx);
	slab_free_result_t r = slab_free_reg(slab, info, ptr);
	if (UNLIKELY(r != SLAB_FREE_OK)) {
		mutex_unlock(&bin->mtx);
		if (r == SLAB_FREE_DOUBLE)
			msg_fatal("free(): double free of %p\n", ptr);
		msg_fatal("free(): invalid pointer %p\n", ptr);
	}
	bin->ndalloc++;
	bin->curregs--;
	bool release = false;
	if (slab != bin->slabcur) {
		if (slab->nfree == info->nregs) {
			if (info->nregs > 1)
				extent_heap_remove(&bin->nonfull, slab);
			bin->curslabs--;
			release = true;
		} else if (slab->nfree == 1) {
			extent_heap_insert(&bin->nonfull, slab);
		}
	}
	mutex_unlock(&bin->mtx);
	if (release)
		pages_free(pages, slab);
}

void
bin_stats_read(bin_t *bin, bin_stats_t *out)
{
	mutex_lock(&bin->mtx);
	*out = (bin_stats_t){bin->nmalloc, bin->ndalloc, bin->nslabs, bin->curregs, bin->curslabs};
	mutex_unlock(&bin->mtx);
}

void
bin_prefork(bin_t *bin)
{
	mutex_prefork(&bin->mtx);
}

void
bin_postfork_parent(bin_t *bin)
{
	mutex_postfork_parent(&bin->mtx);
}

void
bin_postfork_child(bin_t *bin)
{
	mutex_postfork_child(&bin->mtx);
}
