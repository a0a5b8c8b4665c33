/*
 * sz.c — builds the size-class tables.  See sz.h.
 *
 * The classes are generated, not listed: a tiny class (8), the quantum-spaced
 * pseudo group (16, 32, 48, 64), then for every lg_base from 6 up four classes
 * 2^lg_base + k * 2^(lg_base - 2), k = 1..4 (k = 1..3 for lg_base 62).
 * Slabs are lcm(class, PAGE) bytes unless the slab_sizes option (conf.h,
 * read before sz_boot) gives a class another page count; the region count
 * follows and never exceeds SZ_SLAB_MAXREGS, the slab bitmap's size.
 * No locks: the tables are written once in sz_boot() before use.
 */
#include "sz.h"
#include "conf.h"

size_t sz_index2size_tab[SZ_NSIZES];
uint8_t sz_size2index_tab[(SZ_LOOKUP_MAXCLASS >> 3) + 1];
bin_info_t sz_bin_info[SZ_NBINS];
size_t sz_pind2sz_tab[SZ_NPSIZES];

static size_t
sz_gcd(size_t a, size_t b)
{
	while (b != 0) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/*
 * Pages per slab of a class of reg bytes: the fewest whose size is a
 * multiple of reg (lcm(reg, PAGE), jemalloc's default), unless a slab_sizes
 * segment covering reg says otherwise (the last such wins), clipped as
 * jemalloc's sc_data_update_slab_size does: at least one region, at most
 * SZ_SLAB_MAXREGS regions.
 */
static size_t
sz_slab_pages(size_t reg, const conf_ranges_t *slab_sizes)
{
	size_t pages = reg / sz_gcd(reg, PAGE); /* lcm(reg, PAGE) / PAGE */
	for (unsigned i = 0; i < slab_sizes->n; i++) {
		if (slab_sizes->r[i].start <= reg && reg <= slab_sizes->r[i].end)
			pages = slab_sizes->r[i].value;
	}
	size_t min = (reg + PAGE - 1) >> LG_PAGE;
	size_t max = SZ_SLAB_MAXREGS * reg >> LG_PAGE;
	return pages < min ? min : pages > max ? max : pages;
}

void
sz_boot(void)
{
	unsigned n = 0;
	sz_index2size_tab[n++] = 8;
	for (size_t s = 16; s <= 64; s += 16)
		sz_index2size_tab[n++] = s;
	for (unsigned lg_base = 6; n < SZ_NSIZES; lg_base++) {
		for (size_t k = 1; k <= 4 && n < SZ_NSIZES; k++)
			sz_index2size_tab[n++] = ((size_t)1 << lg_base) + k * ((size_t)1 << (lg_base - 2));
	}

	unsigned ind = 0;
	for (size_t i = 0; i <= (SZ_LOOKUP_MAXCLASS >> 3); i++) {
		size_t size = i << 3;
		while (sz_index2size_tab[ind] < size)
			ind++;
		sz_size2index_tab[i] = (uint8_t)ind;
	}

	for (unsigned i = 0; i < SZ_NBINS; i++) {
		size_t reg = sz_index2size_tab[i];
		size_t slab = sz_slab_pages(reg, &opt_slab_sizes) << LG_PAGE;
		sz_bin_info[i] = (bin_info_t){
			.reg_size = reg,
			.slab_size = slab,
			.nregs = (uint32_t)(slab / reg),
			.div_magic = (uint32_t)((((uint64_t)1 << 32) + reg - 1) / reg),
		};
	}

	unsigned p = 0;
	for (unsigned i = 0; i < SZ_NSIZES && p < SZ_NPSIZES; i++) {
		if ((sz_index2size_tab[i] & PAGE_MASK) == 0)
			sz_pind2sz_tab[p++] = sz_index2size_tab[i];
	}
}

unsigned
sz_size2index_compute(size_t size)
{
	if (size <= 64)
		return size <= 8 ? 0 : (unsigned)((size + 15) >> 4);
	/* Group of size: classes in (2^lg, 2^(lg+1)] spaced 2^(lg-2). */
	unsigned lg = bits_lg_ceil(size) - 1; /* 2^lg < size <= 2^(lg+1) */
	size_t delta = (size_t)1 << (lg - 2);
	size_t k = (size - ((size_t)1 << lg) + delta - 1) / delta; /* 1..4 */
	/* lg_base 6 starts at index 5 (after 8,16,32,48,64). */
	return 5 + (lg - 6) * 4 + (unsigned)k - 1;
}

size_t
sz_sa2u(size_t size, size_t alignment)
{
	if (size == 0)
		size = 1;
	if (size <= SZ_SMALL_MAXCLASS && alignment <= PAGE) {
		size_t usize = sz_s2u(ALIGNMENT_CEILING(size, alignment));
		if (usize < SZ_LARGE_MINCLASS)
			return usize;
	}
	if (alignment > SZ_LARGE_MAXCLASS)
		return 0;
	size_t usize = size <= SZ_LARGE_MINCLASS ? SZ_LARGE_MINCLASS : sz_s2u(size);
	if (usize == 0)
		return 0;
	/* The extent may need up to alignment - PAGE bytes of slack to align. */
	if (usize + PAGE_CEILING(alignment) - PAGE < usize)
		return 0;
	return usize;
}

unsigned
sz_psz2ind_ceil(size_t size)
{
	/* 4, 8, 12, 16 KiB are classes 0..3; above, four per doubling. */
	if (size <= 4 * PAGE)
		return size <= PAGE ? 0 : (unsigned)((size - 1) >> LG_PAGE);
	unsigned lg = bits_lg_ceil(size) - 1; /* 2^lg < size <= 2^(lg+1) */
	size_t delta = (size_t)1 << (lg - 2);
	size_t k = (size - ((size_t)1 << lg) + delta - 1) / delta; /* 1..4 */
	unsigned ind = 3 + (lg - (LG_PAGE + 2)) * 4 + (unsigned)k;
	return ind < SZ_NPSIZES ? ind : SZ_NPSIZES - 1;
}

unsigned
sz_psz2ind_floor(size_t size)
{
	unsigned ind = sz_psz2ind_ceil(size);
	if (sz_pind2sz_tab[ind] > size && ind > 0)
		ind--;
	return ind;
}
