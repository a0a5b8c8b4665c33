/*
 * large.c — large allocations as whole extents.  See large.h.
 */
#include "large.h"

void *
large_malloc(pages_t *pages, large_stats_t *stats, size_t usize, size_t alignment, bool zero)
{
	if (alignment < PAGE)
		alignment = PAGE;
	extent_t *e = pages_alloc(pages, usize, alignment, zero, sz_size2index(usize), false);
	if (e == NULL)
		return NULL;
	atomic_add_relaxed(&stats->nmalloc, 1);
	atomic_add_relaxed(&stats->allocated, usize);
	return e->addr;
}

void
large_free(pages_t *pages, large_stats_t *stats, extent_t *e)
{
	atomic_add_relaxed(&stats->ndalloc, 1);
	atomic_sub_relaxed(&stats->allocated, e->size);
	pages_free(pages, e);
}

bool
large_resize_in_place(pages_t *pages, large_stats_t *stats, extent_t *e, size_t usize, bool zero)
{
	size_t old = e->size;
	unsigned szind = sz_size2index(usize);
	if (usize == old)
		return true;
	if (usize < old)
		pages_shrink_in_place(pages, e, usize, szind);
	else if (!pages_grow_in_place(pages, e, usize, szind, zero))
		return false;
	atomic_add_relaxed(&stats->allocated, usize - old); /* wraps correctly when shrinking */
	return true;
}
