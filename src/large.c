/*
 * large.c — large allocations as whole extents.  See large.h.
 */
#include "large.h"

void
large_init(large_t *large, bool track_live)
{
	*large = (large_t){.track_live = track_live};
	mutex_init(&large->mtx, "large", MUTEX_RANK_LARGE);
}

/* The counters of one large object of usize bytes, class szind (the
 * extent's: computing it from the size again costs a division's worth of
 * instructions on every large allocation and free). */
static void
large_count_malloc(large_t *large, size_t usize, unsigned szind)
{
	atomic_add_relaxed(&large->nmalloc[szind - SZ_NBINS], 1);
	atomic_add_relaxed(&large->allocated, usize);
}

static void
large_count_dalloc(large_t *large, size_t usize, unsigned szind)
{
	atomic_add_relaxed(&large->ndalloc[szind - SZ_NBINS], 1);
	atomic_sub_relaxed(&large->allocated, usize);
}

static void
large_list_insert(large_t *large, extent_t *e)
{
	if (!large->track_live)
		return;
	mutex_lock(&large->mtx);
	extent_list_push(&large->list, e);
	mutex_unlock(&large->mtx);
}

static void
large_list_remove(large_t *large, extent_t *e)
{
	if (!large->track_live)
		return;
	mutex_lock(&large->mtx);
	extent_list_remove(&large->list, e);
	mutex_unlock(&large->mtx);
}

void *
large_malloc(pai_t *pai, large_t *large, size_t usize, size_t alignment, bool zero)
{
	if (alignment < PAGE)
		alignment = PAGE;
	unsigned szind = sz_size2index(usize);
	extent_t *e = pai_alloc(pai, usize, alignment, zero, szind, false);
	if (e == NULL)
		return NULL;
	large_list_insert(large, e);
	large_count_malloc(large, usize, szind);
	return e->addr;
}

void
large_free(pai_t *pai, large_t *large, extent_t *e)
{
	large_list_remove(large, e);
	large_count_dalloc(large, e->size, e->szind);
	pai_free(pai, e);
}

bool
large_resize_in_place(pai_t *pai, large_t *large, extent_t *e, size_t usize, bool zero)
{
	size_t old = e->size;
	unsigned old_szind = e->szind, szind = sz_size2index(usize);
	if (usize == old)
		return true;
	bool resized = usize < old ? pai_shrink(pai, e, usize, szind)
	                           : pai_expand(pai, e, usize, szind, zero);
	if (!resized)
		return false;
	large_count_dalloc(large, old, old_szind);
	large_count_malloc(large, usize, szind);
	return true;
}

void
large_reset(pai_t *pai, large_t *large, void (*before_free)(extent_t *e))
{
	mutex_lock(&large->mtx);
	extent_t *list = large->list;
	large->list = NULL;
	mutex_unlock(&large->mtx);
	while (list != NULL) {
		extent_t *next = list->heap_next;
		before_free(list);
		large_count_dalloc(large, list->size, list->szind);
		pai_free(pai, list);
		list = next;
	}
}

void
large_stats_read(large_t *large, large_stats_t *out)
{
	out->allocated = atomic_load_relaxed(&large->allocated);
	for (unsigned j = 0; j < SZ_NLEXTENTS; j++) {
		out->nmalloc[j] = atomic_load_relaxed(&large->nmalloc[j]);
		out->ndalloc[j] = atomic_load_relaxed(&large->ndalloc[j]);
	}
	mutex_stats_read(&large->mtx, &out->mutex);
}
