/*
 * sz.h — size classes, identical to jemalloc 5.3 on x86-64 (LG_QUANTUM 4,
 * LG_PAGE 12, four classes per doubling), and the page-size classes used to
 * bucket free extents.  L1.
 *
 * Every class is 2^lg_base + ndelta * 2^lg_delta.  Classes 0..SZ_NBINS-1 are
 * small (served from slabs), the rest are large (whole extents).  The tables
 * are filled once by sz_boot() before the first allocation and never change,
 * so lookups need no lock.
 */
#ifndef STRATA_SZ_H
#define STRATA_SZ_H

#include "config.h"
#include "bits.h"

#define SZ_NSIZES 232
#define SZ_NBINS 36
#define SZ_NLEXTENTS (SZ_NSIZES - SZ_NBINS)
#define SZ_SMALL_MAXCLASS ((size_t)14336)
#define SZ_LARGE_MINCLASS ((size_t)16384)
#define SZ_LARGE_MAXCLASS ((size_t)7 << 60)
#define SZ_LOOKUP_MAXCLASS ((size_t)4096)
/* Regions per slab never exceed this (8-byte class in a one-page slab). */
#define SZ_SLAB_MAXREGS 512
/* Page-size classes: multiples of PAGE among the size classes, up to 2^62. */
#define SZ_NPSIZES 199

typedef struct bin_info {
	size_t reg_size;  /* bytes per region */
	size_t slab_size; /* bytes per slab: the smallest page multiple of reg_size,
	                     or what the slab_sizes option sets */
	uint32_t nregs;   /* regions per slab */
	uint32_t div_magic; /* ceil(2^32 / reg_size): offset * magic >> 32 = region index */
} bin_info_t;

extern size_t sz_index2size_tab[SZ_NSIZES];
extern uint8_t sz_size2index_tab[(SZ_LOOKUP_MAXCLASS >> 3) + 1];
extern bin_info_t sz_bin_info[SZ_NBINS];
extern size_t sz_pind2sz_tab[SZ_NPSIZES];

/* Fills the tables from the options (slab_sizes), so after conf_init.
 * Idempotent; called once from init before any lookup. */
void sz_boot(void);

/* Class index for a size that is not above SZ_LARGE_MAXCLASS (computed). */
unsigned sz_size2index_compute(size_t size);

static ALWAYS_INLINE unsigned
sz_size2index(size_t size)
{
	if (LIKELY(size <= SZ_LOOKUP_MAXCLASS))
		return sz_size2index_tab[(size + 7) >> 3];
	return sz_size2index_compute(size);
}

static ALWAYS_INLINE size_t
sz_index2size(unsigned ind)
{
	return sz_index2size_tab[ind];
}

/* Usable size for a request, or 0 when size exceeds the largest class. */
static inline size_t
sz_s2u(size_t size)
{
	if (UNLIKELY(size > SZ_LARGE_MAXCLASS))
		return 0;
	if (size == 0)
		size = 1;
	return sz_index2size(sz_size2index(size));
}

/*
 * Usable size for a request with an alignment (a power of two), or 0 on
 * overflow.  Small classes whose size is a multiple of the alignment are
 * naturally aligned in their slabs; anything else becomes large.
 */
size_t sz_sa2u(size_t size, size_t alignment);

/* Page-size class index of the smallest class >= size (size a page multiple). */
unsigned sz_psz2ind_ceil(size_t size);
/* Page-size class index of the largest class <= size (size >= PAGE). */
unsigned sz_psz2ind_floor(size_t size);

#endif
