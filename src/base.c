/*
 * base.c — metadata bump allocator.  See base.h.
 *
 * Invariants: [cur, end) is unused space of the newest chunk; space left in an
 * older chunk when a request did not fit is abandoned (bounded by the largest
 * request, which is small next to BASE_CHUNK).  Chunks in use are never
 * unmapped.  The lock is dropped while a chunk is mapped; a thread that
 * comes back to find that another thread's new chunk now fits its request
 * uses that one and unmaps its own, so racing threads map no extra memory.
 */
#include "base.h"
#include "os.h"

void
base_init(base_t *base, mutex_rank_t rank)
{
	*base = (base_t){0};
	mutex_init(&base->mtx, rank == MUTEX_RANK_GLOBAL_BASE ? "global base" : "arena base", rank);
}

void *
base_alloc(base_t *base, size_t size, size_t align)
{
	mutex_lock(&base->mtx);
	uintptr_t p = ALIGNMENT_CEILING((uintptr_t)base->cur, align);
	if (base->cur == NULL || p + size > (uintptr_t)base->end) {
		mutex_unlock(&base->mtx);
		size_t chunk = size + align > BASE_CHUNK ? PAGE_CEILING(size + align) : BASE_CHUNK;
		char *mem = os_pages_map(chunk, PAGE);
		if (mem == NULL)
			return NULL;
		mutex_lock(&base->mtx);
		p = ALIGNMENT_CEILING((uintptr_t)base->cur, align);
		if (base->cur != NULL && p + size <= (uintptr_t)base->end) {
			base->cur = (char *)(p + size);
			base->allocated += size;
			mutex_unlock(&base->mtx);
			os_pages_unmap(mem, chunk);
			return (void *)p;
		}
		base->mapped += chunk;
		base->resident_retired += PAGE_CEILING((size_t)(base->cur - base->chunk));
		base->chunk = mem;
		base->cur = mem;
		base->end = mem + chunk;
		p = ALIGNMENT_CEILING((uintptr_t)base->cur, align);
	}
	base->cur = (char *)(p + size);
	base->allocated += size;
	mutex_unlock(&base->mtx);
	return (void *)p;
}

void
base_stats_read(base_t *base, base_stats_t *out)
{
	mutex_lock(&base->mtx);
	size_t resident = base->resident_retired + PAGE_CEILING((size_t)(base->cur - base->chunk));
	*out = (base_stats_t){base->allocated, base->mapped, resident};
	mutex_unlock(&base->mtx);
}
