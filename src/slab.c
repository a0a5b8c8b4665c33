/*
 * slab.c — region allocation within a slab.  See slab.h.
 */
#include <string.h>

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
