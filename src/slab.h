/*
 * slab.h — a slab: an active extent cut into equal regions of one small size
 * class, free regions tracked by the bitmap in its descriptor.  L3.
 *
 * Invariant: nfree equals the number of set bits among the first nregs bits
 * of the bitmap (1 = free).  Regions are handed out lowest address first, so
 * a slab fills from its start and long-lived objects pack together.
 * Lock: the owning bin's lock protects nfree and the bitmap.
 */
#ifndef STRATA_SLAB_H
#define STRATA_SLAB_H

#include "debug.h"
#include "extent.h"

typedef enum slab_free_result {
	SLAB_FREE_OK,
	SLAB_FREE_NOT_REGION, /* ptr is not the start of a region */
	SLAB_FREE_DOUBLE,     /* the region is already free */
} slab_free_result_t;

void slab_init(extent_t *slab, const bin_info_t *info);

/* The invariant above (debug assertions). */
static inline bool
slab_nfree_consistent(const extent_t *slab)
{
	unsigned n = 0;
	for (unsigned w = 0; w < EXTENT_BITMAP_WORDS; w++)
		n += (unsigned)__builtin_popcountll(slab->bitmap[w]);
	return n == slab->nfree;
}

/* Index of the region at ptr, or UINT32_MAX if ptr is not a region start. */
static inline uint32_t
slab_reg_index(const extent_t *slab, const bin_info_t *info, const void *ptr)
{
	size_t diff = (size_t)((uintptr_t)ptr - (uintptr_t)slab->addr);
	uint32_t ind = (uint32_t)(((uint64_t)diff * info->div_magic) >> 32);
	if (UNLIKELY((size_t)ind * info->reg_size != diff || ind >= info->nregs))
		return UINT32_MAX;
	return ind;
}

/* Takes up to n free regions (lowest first) into out; returns how many. */
unsigned slab_alloc_batch(extent_t *slab, const bin_info_t *info, void **out, unsigned n);

/* Marks the region at ptr free (inline: the cache flush calls it for every
 * object it returns). */
static inline slab_free_result_t
slab_free_reg(extent_t *slab, const bin_info_t *info, void *ptr)
{
	uint32_t ind = slab_reg_index(slab, info, ptr);
	if (ind == UINT32_MAX)
		return SLAB_FREE_NOT_REGION;
	uint64_t bit = (uint64_t)1 << (ind % 64);
	if (slab->bitmap[ind / 64] & bit)
		return SLAB_FREE_DOUBLE;
	slab->bitmap[ind / 64] |= bit;
	slab->nfree++;
	DEBUG_ASSERT(slab->nfree <= info->nregs && slab_nfree_consistent(slab));
	return SLAB_FREE_OK;
}

/*
 * Idle purging (docs/design.md, "Transparent huge pages"): the pages of a
 * slab of at most 64 pages that hold no region in use, as a mask (bit k:
 * page k); 0 for a larger slab.
 */
uint64_t slab_free_pages(const extent_t *slab, const bin_info_t *info);
/* Marks the free regions inside the pages of mask in use (lent out) and
 * returns how many; slab_unlend marks them free again.  Neither touches
 * anything but the bitmap and nfree. */
unsigned slab_lend(extent_t *slab, const bin_info_t *info, uint64_t mask);
void slab_unlend(extent_t *slab, const bin_info_t *info, uint64_t mask);

static inline bool
slab_is_full(const extent_t *slab)
{
	return slab->nfree == 0;
}

#endif
