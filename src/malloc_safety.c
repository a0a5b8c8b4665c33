/*
 * malloc_safety.c — what a call says of a pointer it cannot take, and the
 * checks that safety_checks:true adds to every free (docs/design.md,
 * "Safety checks").  L5 (part of malloc).
 *
 * Kinds of report, each naming the function and the address:
 *   "invalid pointer P: not allocated by strata"  (no page of strata's)
 *   "invalid pointer P: N bytes into the S-byte block at B" (interior)
 *   "invalid pointer P: in free memory"           (freed already, or never
 *                                                  handed out)
 *   "double free of P (an S-byte block)"
 *   "size Z does not match the allocation at P (an S-byte block)"
 * With the profiler on, the lines after it give the stacks that allocated
 * (and freed) the object when it was sampled (prof_describe_object).
 *
 * Without safety_checks a free on the fast paths checks nothing (a bad
 * pointer a thread cache takes is caught when the cache is flushed).
 * With it, every thread's free bias rejects every page-map entry (tsd.c),
 * so every free reaches malloc_dalloc, which first asks
 * malloc_safety_dalloc_ok: a small object whose region is already free in
 * its slab, or that is among the newest objects of the freeing thread's
 * cache bin, is a double free (an older one is caught when the cache
 * returns it to its slab).
 * The bitmap is read without the bin lock: the bit of an allocated region
 * changes only when that region is freed, so a racing flush of other
 * regions cannot make it lie.  A double free in another thread's cache is
 * caught when that cache is flushed.
 *
 * No locks of its own; reports are cold paths.
 */
#include "conf.h"
#include "malloc_internal.h"
#include "msg.h"
#include "prof/prof.h"
#include "safety.h"
#include "slab.h"

/* A report's stack lines: two stacks of a few frames (what is past SAFETY_MSG_BYTES is cut). */
#define MALLOC_SAFETY_STACK_BYTES 3584

/* The profiler's stack lines for the object at ptr (bits: its page-map
 * entry), or a line saying why there are none; whether the profiler knows
 * it was freed. */
static bool
malloc_safety_stacks(const void *ptr, uint64_t bits, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!opt_prof)
		return false;
	const extent_sample_t *live = NULL;
	if (emap_bits_sampled(bits) && emap_bits_usable_szind(bits) < SZ_NSIZES)
		live = &emap_bits_extent(bits)->sample;
	tsd_t *tsd = &tsd_tls;
	tsd_reentrancy_raise(tsd);
	prof_described_t known = prof_describe_object(ptr, live, buf, size);
	tsd_reentrancy_lower(tsd);
	if (known == PROF_DESCRIBED_NONE)
		msg_format(buf, size,
		           "%sno allocation stack: the object was not sampled "
		           "(lg_prof_sample:0 samples every one)\n",
		           MSG_PREFIX);
	return known == PROF_DESCRIBED_FREED;
}

/* The page-map entry of the large block whose inner pages hold ptr (the
 * map has entries for a large extent's first and last pages only), looking
 * back at most MALLOC_SAFETY_LOOKBACK bytes; 0 when there is none. */
#define MALLOC_SAFETY_LOOKBACK ((uintptr_t)64 << 20)
static uint64_t
malloc_safety_large_around(const void *ptr)
{
	uintptr_t page = (uintptr_t)ptr & ~(uintptr_t)PAGE_MASK;
	for (uintptr_t back = PAGE; back <= MALLOC_SAFETY_LOOKBACK && back <= page; back += PAGE) {
		uint64_t bits = emap_lookup((const void *)(page - back));
		const extent_t *e = emap_bits_extent(bits);
		if (e == NULL)
			continue;
		bool holds = (uintptr_t)ptr - (uintptr_t)e->addr < e->size;
		return holds && !emap_bits_slab(bits) && emap_bits_usable_szind(bits) < SZ_NSIZES
		               ? bits
		               : 0;
	}
	return 0;
}

void
malloc_invalid_pointer(const char *func, const void *ptr, uint64_t bits)
{
	char stacks[MALLOC_SAFETY_STACK_BYTES];
	if (bits == 0)
		bits = malloc_safety_large_around(ptr);
	const extent_t *e = emap_bits_extent(bits);
	unsigned ind = emap_bits_usable_szind(bits);
	if (e == NULL)
		safety_check_fatal("%s(): invalid pointer %p: not allocated by strata\n", func, ptr);
	if (ind >= SZ_NSIZES) {
		/* A sampled object's record outlives it: a freed one there was
		 * freed twice. */
		if (malloc_safety_stacks(ptr, bits, stacks, sizeof(stacks)))
			safety_check_fatal("%s(): double free of %p\n%s", func, ptr, stacks);
		safety_check_fatal("%s(): invalid pointer %p: in free memory (freed already?)\n%s",
		                   func, ptr, stacks);
	}
	size_t usize = sz_index2size(ind);
	uintptr_t block = (uintptr_t)e->addr;
	if (emap_bits_slab(bits)) {
		const bin_info_t *info = &sz_bin_info[ind];
		size_t reg = ((uintptr_t)ptr - block) / info->reg_size;
		if (reg >= info->nregs)
			safety_check_fatal("%s(): invalid pointer %p: past the last block of a "
			                   "slab of %zu-byte blocks\n",
			                   func, ptr, usize);
		block += reg * info->reg_size;
	}
	malloc_safety_stacks((const void *)block, bits, stacks, sizeof(stacks));
	safety_check_fatal("%s(): invalid pointer %p: %zu bytes into the %zu-byte block at %#zx "
	                   "(interior pointer)\n%s",
	                   func, ptr, (size_t)((uintptr_t)ptr - block), usize, (size_t)block, stacks);
}

void
malloc_bad_size_hint(const char *func, const void *ptr, size_t size)
{
	char stacks[MALLOC_SAFETY_STACK_BYTES];
	uint64_t bits = emap_lookup(ptr);
	malloc_safety_stacks(ptr, bits, stacks, sizeof(stacks));
	safety_check_fatal("%s(): size %zu does not match the allocation at %p (a %zu-byte "
	                   "block)\n%s",
	                   func, size, ptr, sz_index2size(emap_bits_usable_szind(bits)), stacks);
}

/* Whether the region of ptr (a small object in slab e) is free in its
 * slab. */
static bool
malloc_safety_region_free(const extent_t *e, unsigned ind, const void *ptr)
{
	uint32_t reg = slab_reg_index(e, &sz_bin_info[ind], ptr);
	uint64_t word = __atomic_load_n(&e->bitmap[reg / 64], __ATOMIC_RELAXED);
	return (word >> (reg % 64)) & 1;
}

/* Whether ptr is among the newest MALLOC_SAFETY_SCAN objects of its bin in
 * tcache (an older one is caught when the cache returns it). */
#define MALLOC_SAFETY_SCAN 8
static bool
malloc_safety_cached(const tcache_t *tcache, unsigned ind, const void *ptr)
{
	if (tcache == NULL || ind >= tcache_nbins)
		return false;
	const cache_bin_t *bin = &tcache->bins[ind];
	void *const *top = bin->stack + bin->ncached;
	void *const *end = top - (bin->ncached < MALLOC_SAFETY_SCAN ? bin->ncached : MALLOC_SAFETY_SCAN);
	for (void *const *slot = top; slot != end; slot--) {
		if (slot[-1] == ptr)
			return true;
	}
	return false;
}

bool
malloc_safety_dalloc_ok(const char *func, const char *kind, const void *ptr, uint64_t bits,
                        const tcache_t *tcache)
{
	if (emap_bits_sampled(bits))
		return true; /* alone on its extent: a second free finds it free */
	unsigned ind = emap_bits_usable_szind(bits);
	bool twice = (emap_bits_slab(bits) &&
	              malloc_safety_region_free(emap_bits_extent(bits), ind, ptr)) ||
	             malloc_safety_cached(tcache, ind, ptr);
	if (LIKELY(!twice))
		return true;
	char stacks[MALLOC_SAFETY_STACK_BYTES];
	malloc_safety_stacks(ptr, bits, stacks, sizeof(stacks));
	safety_check_fail("%s(): %s %p (a %zu-byte block)\n%s", func, kind, ptr, sz_index2size(ind),
	                  stacks);
	return false;
}
