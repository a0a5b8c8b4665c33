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
#include "numa.h"
#include "os.h"

void
base_init(base_t *base, mutex_rank_t rank)
{
	*base = (base_t){0};
	atomic_store_relaxed(&base->node, NUMA_NODE_NONE);
	mutex_init(&base->mtx, rank == MUTEX_RANK_GLOBAL_BASE ? "global base" : "arena base", rank);
	base->thp_auto = rank == MUTEX_RANK_ARENA_BASE;
}

void
base_move_node(base_t *base, unsigned node)
{
	atomic_store_relaxed(&base->node, node);
	for (base_chunk_t *c = atomic_load_acquire(&base->chunks); c != NULL; c = c->prev)
		numa_bind(c, c->size, node, true);
}

base_thp_t base_thp;

/* Whether the base's next chunk goes on huge pages (metadata_thp; see
 * base_thp).  Lock held. */
static bool
base_chunk_huge(base_t *base)
{
	return base_thp == BASE_THP_ALWAYS ||
	       (base_thp == BASE_THP_AUTO && base->thp_auto &&
	        base->mapped >= BASE_THP_AUTO_CHUNKS * BASE_CHUNK);
}

/* Maps a chunk of size bytes, bound to the base's node, on huge pages when
 * `huge`, with its header filled in (not yet on the list); NULL when out of
 * memory. */
static base_chunk_t *
base_chunk_map(base_t *base, size_t size, bool huge)
{
	base_chunk_t *c = os_pages_map(size, huge ? HUGEPAGE : PAGE);
	if (c == NULL)
		return NULL;
	numa_bind(c, size, atomic_load_relaxed(&base->node), false);
	if (huge)
		os_advise_huge(c, size, OS_HUGE_ADVISE);
	c->size = size;
	return c;
}

void *
base_alloc(base_t *base, size_t size, size_t align)
{
	mutex_lock(&base->mtx);
	uintptr_t p = ALIGNMENT_CEILING((uintptr_t)base->cur, align);
	if (base->cur == NULL || p + size > (uintptr_t)base->end) {
		bool huge = base_chunk_huge(base);
		mutex_unlock(&base->mtx);
		size_t need = sizeof(base_chunk_t) + size + align;
		size_t chunk = need > BASE_CHUNK ? PAGE_CEILING(need) : BASE_CHUNK;
		base_chunk_t *c = base_chunk_map(base, chunk, huge);
		if (c == NULL)
			return NULL;
		mutex_lock(&base->mtx);
		p = ALIGNMENT_CEILING((uintptr_t)base->cur, align);
		if (base->cur != NULL && p + size <= (uintptr_t)base->end) {
			base->cur = (char *)(p + size);
			base->allocated += size;
			mutex_unlock(&base->mtx);
			os_pages_unmap(c, chunk);
			return (void *)p;
		}
		base->mapped += chunk;
		if (huge)
			base->thp += chunk;
		base->resident_retired += PAGE_CEILING((size_t)(base->cur - base->chunk));
		c->prev = atomic_load_relaxed(&base->chunks);
		atomic_store_release(&base->chunks, c);
		base->chunk = (char *)c;
		base->cur = (char *)(c + 1);
		base->end = (char *)c + chunk;
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
	*out = (base_stats_t){base->allocated, base->mapped, resident, base->thp};
	mutex_unlock(&base->mtx);
}
