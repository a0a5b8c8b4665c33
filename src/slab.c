/*
 * slab.c — region allocation within a slab.  See slab.h.
 */
#include <string.h>

#include "bits.h"
#include "slab.h"

void
slab_init(extent_t *slab, const bin_info_t *info)
{
	memset(slab->bitmap, 0, sizeof(slab->bitmap));
	uint32_t full_words = info->nregs / 64;
	for (uint32_t w = 0; w < full_words; w++)
		slab->bitmap[w] = ~(uint64_t)0;
	if (info->nregs % 64 != 0)
		slab->bitmap[full_words] = ((uint64_t)1 << (info->nregs % 64)) - 1;
	slab->nfree = info->nregs;
	DEBUG_ASSERT(slab_nfree_consistent(slab));
}

unsigned
slab_alloc_batch(extent_t *slab, const bin_info_t *info, void **out, unsigned n)
{
	unsigned got = 0;
	char *base = slab->addr;
	for (unsigned w = 0; w < EXTENT_BITMAP_WORDS && got < n; w++) {
		uint64_t bits = slab->bitmap[w];
		while (bits != 0 && got < n) {
			unsigned bit = bits_ctz(bits);
			bits &= bits - 1;
			out[got++] = base + (size_t)(w * 64 + bit) * info->reg_size;
		}
		slab->bitmap[w] = bits;
	}
	slab->nfree -= got;
	DEBUG_ASSERT(slab_nfree_consistent(slab));
	return got;
}

/* The regions of page k: [*first, *last]. */
static void
slab_page_regions(const bin_info_t *info, unsigned k, uint32_t *first, uint32_t *last)
{
	*first = (uint32_t)(((size_t)k << LG_PAGE) / info->reg_size);
	uint32_t l = (uint32_t)((((size_t)k + 1) << LG_PAGE) - 1) / info->reg_size;
	*last = l < info->nregs - 1 ? l : info->nregs - 1;
}

static bool
slab_reg_free(const extent_t *slab, uint32_t i)
{
	return (slab->bitmap[i / 64] >> (i % 64)) & 1;
}

uint64_t
slab_free_pages(const extent_t *slab, const bin_info_t *info)
{
	size_t npages = info->slab_size >> LG_PAGE;
	if (npages > 64)
		return 0;
	uint64_t used = 0;
	for (uint32_t i = 0; i < info->nregs; i++) {
		if (slab_reg_free(slab, i))
			continue;
		size_t lo = ((size_t)i * info->reg_size) >> LG_PAGE;
		size_t hi = (((size_t)i + 1) * info->reg_size - 1) >> LG_PAGE;
		for (size_t k = lo; k <= hi; k++)
			used |= (uint64_t)1 << k;
	}
	uint64_t all = npages == 64 ? ~(uint64_t)0 : ((uint64_t)1 << npages) - 1;
	return all & ~used;
}

unsigned
slab_lend(extent_t *slab, const bin_info_t *info, uint64_t mask)
{
	unsigned n = 0;
	for (uint64_t m = mask; m != 0; m &= m - 1) {
		uint32_t first, last;
		slab_page_regions(info, bits_ctz(m), &first, &last);
		for (uint32_t i = first; i <= last; i++) {
			if (slab_reg_free(slab, i)) {
				slab->bitmap[i / 64] &= ~((uint64_t)1 << (i % 64));
				n++;
			}
		}
	}
	slab->nfree -= n;
	DEBUG_ASSERT(slab_nfree_consistent(slab));
	return n;
}

void
slab_unlend(extent_t *slab, const bin_info_t *info, uint64_t mask)
{
	for (uint64_t m = mask; m != 0; m &= m - 1) {
		uint32_t first, last;
		slab_page_regions(info, bits_ctz(m), &first, &last);
		for (uint32_t i = first; i <= last; i++) {
			/* A region of the page freed twice by the program while
			 * lent is free already. */
			if (!slab_reg_free(slab, i)) {
				slab->bitmap[i / 64] |= (uint64_t)1 << (i % 64);
				slab->nfree++;
			}
		}
	}
	DEBUG_ASSERT(slab->nfree <= info->nregs && slab_nfree_consistent(slab));
}
