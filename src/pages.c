/*
 * pages.c — the arena page allocator.  See pages.h for the model and locks.
 *
 * emap invariants kept here:
 *   - an active slab has every page registered (szind, slab bit);
 *   - an active large extent and every free or busy extent have their first
 *     and last pages registered (free ones with EMAP_SZIND_NONE);
 *   - every other page of a free or large extent maps to 0.
 * Splits and merges rewrite exactly the entries whose role changes.
 */
#include <errno.h>
#include <string.h>

#include "clock.h"
#include "debug.h"
#include "os.h"
#include "pages.h"

static void pages_decay(pages_t *p, size_t nfresh);
static const pai_t pages_pai;

void
pages_init(pages_t *p, unsigned arena_ind, base_t *base, ssize_t dirty_decay_ms)
{
	p->pai = pages_pai;
	mutex_init(&p->mtx, "pages", MUTEX_RANK_PAGES);
	p->arena_ind = arena_ind;
	p->base = base;
	eset_init(&p->dirty);
	eset_init(&p->retained);
	decay_init(&p->decay, dirty_decay_ms, clock_coarse_ns());
	p->spare = NULL;
	atomic_store_relaxed(&p->nspare, 0);
	p->busy = NULL;
	p->active_pages = 0;
	p->mapped = 0;
	p->grow_next = PAGES_GROW_MIN;
	p->npurge = 0;
	p->npurged = 0;
}

/* A descriptor of this arena, fresh from its base. */
static extent_t *
pages_extent_from_base(pages_t *p)
{
	extent_t *e = base_alloc(p->base, sizeof(extent_t), CACHELINE);
	if (e != NULL)
		e->arena_ind = (uint16_t)p->arena_ind;
	return e;
}

/*
 * A blank descriptor of this arena.  Lock held.  A recycled descriptor's
 * arena_ind is never written again (another arena may be reading it as a
 * neighbour, see pages_free_neighbor); everything else is reset.
 */
static extent_t *
pages_extent_new(pages_t *p)
{
	extent_t *e = p->spare;
	if (e != NULL) {
		p->spare = e->heap_next;
		atomic_store_relaxed(&p->nspare, atomic_load_relaxed(&p->nspare) - 1);
		DEBUG_ASSERT(e->arena_ind == p->arena_ind);
	} else {
		e = pages_extent_from_base(p); /* the reserve ran out: a race */
		if (e == NULL)
			return NULL;
	}
	e->addr = NULL;
	e->size = 0;
	e->state = EXTENT_ACTIVE;
	e->szind = EMAP_SZIND_NONE;
	e->slab = false;
	e->zeroed = false;
	e->heap_child = e->heap_next = e->heap_prev = NULL;
	e->nfree = 0;
	return e;
}

static void
pages_extent_release(pages_t *p, extent_t *e)
{
	e->heap_next = p->spare;
	p->spare = e;
	atomic_store_relaxed(&p->nspare, atomic_load_relaxed(&p->nspare) + 1);
}

/* Tops the spare descriptors up to PAGES_SPARE_RESERVE, with the lock not
 * held (the base may map memory).  Lock not held. */
static NOINLINE void
pages_reserve_refill(pages_t *p, size_t have)
{
	extent_t *got[PAGES_SPARE_RESERVE];
	size_t n = 0;
	while (n < PAGES_SPARE_RESERVE - have && (got[n] = pages_extent_from_base(p)) != NULL)
		n++;
	mutex_lock(&p->mtx);
	for (size_t i = 0; i < n; i++)
		pages_extent_release(p, got[i]);
	mutex_unlock(&p->mtx);
}

static inline void
pages_reserve_descriptors(pages_t *p)
{
	size_t have = atomic_load_relaxed(&p->nspare);
	if (UNLIKELY(have < PAGES_SPARE_RESERVE))
		pages_reserve_refill(p, have);
}

static eset_t *
pages_set_of(pages_t *p, extent_state_t state)
{
	return state == EXTENT_DIRTY ? &p->dirty : &p->retained;
}

static void
pages_register_free(extent_t *e)
{
	emap_set_boundary(e->addr, e->size, emap_pack(e, EMAP_SZIND_NONE, false));
}

static void
pages_register_active(extent_t *e)
{
	uint64_t bits = emap_pack(e, e->szind, e->slab);
	if (e->slab)
		emap_set_range(e->addr, e->size, bits);
	else
		emap_set_boundary(e->addr, e->size, bits);
}

/*
 * The free extent of this arena in `state` whose boundary page holds addr.
 * The page may belong to another arena, whose lock we do not hold: only the
 * descriptor's immutable arena_ind is read before we know it is ours.
 */
static extent_t *
pages_free_neighbor(pages_t *p, const void *addr, extent_state_t state)
{
	extent_t *n = emap_bits_extent(emap_lookup_acquire(addr));
	if (n == NULL || n->arena_ind != p->arena_ind || n->state != state)
		return NULL;
	return n;
}

/*
 * Files a free extent (state already set) in its set, merged with free
 * neighbours of the same state.  Lock held.
 */
static void
pages_insert_coalesced(pages_t *p, extent_t *e)
{
	DEBUG_ASSERT(e->state == EXTENT_DIRTY || e->state == EXTENT_RETAINED);
	DEBUG_ASSERT(e->arena_ind == p->arena_ind && (e->size & PAGE_MASK) == 0);
	eset_t *set = pages_set_of(p, e->state);
	char *addr = e->addr;
	extent_t *prev = (uintptr_t)addr > PAGE ? pages_free_neighbor(p, addr - PAGE, e->state) : NULL;
	if (prev != NULL) {
		eset_remove(set, prev);
		emap_set_boundary((char *)prev->addr + prev->size - PAGE, PAGE, 0);
		emap_set_boundary(e->addr, PAGE, 0);
		prev->size += e->size;
		prev->zeroed = prev->zeroed && e->zeroed;
		pages_extent_release(p, e);
		e = prev;
	}
	extent_t *next = pages_free_neighbor(p, (char *)e->addr + e->size, e->state);
	if (next != NULL) {
		eset_remove(set, next);
		emap_set_boundary((char *)e->addr + e->size - PAGE, PAGE, 0);
		emap_set_boundary(next->addr, PAGE, 0);
		e->size += next->size;
		e->zeroed = e->zeroed && next->zeroed;
		pages_extent_release(p, next);
	}
	pages_register_free(e);
	eset_insert(set, e);
	DEBUG_ASSERT(emap_bits_extent(emap_lookup(e->addr)) == e);
	DEBUG_ASSERT(emap_bits_extent(emap_lookup((char *)e->addr + e->size - PAGE)) == e);
}

/*
 * Splits the first `size` bytes off e: e keeps them, the returned extent
 * (same state) gets the rest; NULL when no descriptor is available.  Both
 * are registered as free.  Lock held; e must not be in a set.
 */
static extent_t *
pages_split_free(pages_t *p, extent_t *e, size_t size)
{
	extent_t *tail = pages_extent_new(p);
	if (tail == NULL)
		return NULL;
	tail->addr = (char *)e->addr + size;
	tail->size = e->size - size;
	tail->state = e->state;
	tail->zeroed = e->zeroed;
	e->size = size;
	pages_register_free(e);
	pages_register_free(tail);
	return tail;
}

/*
 * Takes from `set` an extent holding an aligned run of size bytes, carves it
 * out (returning lead and trail to the set) and returns it, still in its
 * free state and unregistered as active.  Lock held.
 */
static extent_t *
pages_take(pages_t *p, eset_t *set, size_t size, size_t alignment)
{
	size_t search = size + (alignment > PAGE ? alignment - PAGE : 0);
	extent_t *e = eset_find_fit(set, search);
	if (e == NULL)
		return NULL;
	eset_remove(set, e);
	size_t lead = ALIGNMENT_CEILING((uintptr_t)e->addr, alignment) - (uintptr_t)e->addr;
	if (lead != 0) {
		extent_t *rest = pages_split_free(p, e, lead);
		if (rest == NULL) {
			eset_insert(set, e);
			return NULL;
		}
		eset_insert(set, e);
		e = rest;
	}
	if (e->size > size) {
		extent_t *trail = pages_split_free(p, e, size);
		if (trail == NULL) {
			pages_insert_coalesced(p, e);
			return NULL;
		}
		eset_insert(set, trail);
	}
	return e;
}

/* Maps a new region big enough for the request into the retained set. */
static int
pages_grow(pages_t *p, size_t size, size_t alignment)
{
	size_t need = size + (alignment > PAGE ? alignment - PAGE : 0);
	if (need < size)
		return ENOMEM;
	mutex_lock(&p->mtx);
	size_t map_size = p->grow_next;
	mutex_unlock(&p->mtx);
	if (need > map_size)
		map_size = ALIGNMENT_CEILING(need, HUGEPAGE);
	if (map_size < need)
		return ENOMEM;
	void *addr = os_pages_map(map_size, HUGEPAGE);
	if (addr == NULL)
		return ENOMEM;
	if (emap_ensure(addr, map_size) != 0) {
		os_pages_unmap(addr, map_size);
		return ENOMEM;
	}
	pages_reserve_descriptors(p);
	mutex_lock(&p->mtx);
	extent_t *e = pages_extent_new(p);
	if (e == NULL) {
		mutex_unlock(&p->mtx);
		os_pages_unmap(addr, map_size);
		return ENOMEM;
	}
	e->addr = addr;
	e->size = map_size;
	e->state = EXTENT_RETAINED;
	e->zeroed = true;
	p->mapped += map_size;
	if (map_size >= p->grow_next && p->grow_next < PAGES_GROW_MAX)
		p->grow_next *= 2;
	pages_insert_coalesced(p, e);
	mutex_unlock(&p->mtx);
	return 0;
}

extent_t *
pages_alloc(pages_t *p, size_t size, size_t alignment, bool zero, unsigned szind, bool slab)
{
	extent_t *e;
	for (;;) {
		pages_reserve_descriptors(p);
		mutex_lock(&p->mtx);
		e = pages_take(p, &p->dirty, size, alignment);
		if (e == NULL)
			e = pages_take(p, &p->retained, size, alignment);
		if (e != NULL)
			break;
		mutex_unlock(&p->mtx);
		if (pages_grow(p, size, alignment) != 0)
			return NULL;
	}
	DEBUG_ASSERT(e->state == EXTENT_DIRTY || e->state == EXTENT_RETAINED);
	e->state = EXTENT_ACTIVE;
	e->szind = (uint8_t)szind;
	e->slab = slab;
	pages_register_active(e);
	p->active_pages += size >> LG_PAGE;
	pages_decay(p, 0);
	mutex_unlock(&p->mtx);
	if (zero && !e->zeroed)
		memset(e->addr, 0, size);
	e->zeroed = false;
	return e;
}

/*
 * Purges dirty extents, largest first, until at most `target` pages are
 * dirty.  The lock is dropped around each madvise; the extent meanwhile is
 * BUSY and on the busy list.  A failed purge leaves the extent dirty.
 */
static void
pages_purge_to(pages_t *p, size_t target)
{
	while (p->dirty.npages > target) {
		extent_t *e = eset_find_largest(&p->dirty);
		DEBUG_ASSERT(e->state == EXTENT_DIRTY);
		eset_remove(&p->dirty, e);
		e->state = EXTENT_BUSY;
		extent_list_push(&p->busy, e);
		mutex_unlock(&p->mtx);
		int err = os_purge_forced(e->addr, e->size);
		mutex_lock(&p->mtx);
		extent_list_remove(&p->busy, e);
		if (err != 0) {
			e->state = EXTENT_DIRTY;
			pages_insert_coalesced(p, e);
			return;
		}
		p->npurge++;
		p->npurged += e->size >> LG_PAGE;
		e->state = EXTENT_RETAINED;
		e->zeroed = true;
		pages_insert_coalesced(p, e);
	}
}

/* Fork child: purges that other threads had in flight never finish here;
 * their extents may or may not have been purged, so they are dirty. */
static void
pages_fork_child_recover(mutex_t *m)
{
	pages_t *p = (pages_t *)((char *)m - offsetof(pages_t, mtx));
	mutex_lock(&p->mtx);
	while (p->busy != NULL) {
		extent_t *e = p->busy;
		extent_list_remove(&p->busy, e);
		e->state = EXTENT_DIRTY;
		e->zeroed = false;
		pages_insert_coalesced(p, e);
	}
	mutex_unlock(&p->mtx);
}

void
pages_register_locks(pages_t *p)
{
	mutex_register(&p->mtx, pages_fork_child_recover);
}

/* Purges what the decay curve no longer allows to stay dirty, nfresh of the
 * dirty pages having been dirtied just now.  Lock held. */
static void
pages_decay(pages_t *p, size_t nfresh)
{
	size_t allowed = decay_update(&p->decay, clock_coarse_ns(), p->dirty.npages, nfresh);
	if (p->dirty.npages <= allowed)
		return;
	pages_purge_to(p, allowed);
	decay_purged(&p->decay, p->dirty.npages);
}

void
pages_free(pages_t *p, extent_t *e)
{
	mutex_lock(&p->mtx);
	DEBUG_ASSERT(e->state == EXTENT_ACTIVE && e->arena_ind == p->arena_ind);
	if (e->slab)
		emap_set_range(e->addr, e->size, 0);
	p->active_pages -= e->size >> LG_PAGE;
	e->state = EXTENT_DIRTY;
	e->szind = EMAP_SZIND_NONE;
	e->slab = false;
	e->zeroed = false;
	size_t nfresh = e->size >> LG_PAGE;
	pages_insert_coalesced(p, e);
	pages_decay(p, nfresh);
	mutex_unlock(&p->mtx);
}

bool
pages_grow_in_place(pages_t *p, extent_t *e, size_t new_size, unsigned szind, bool zero)
{
	size_t extra = new_size - e->size;
	char *end = (char *)e->addr + e->size;
	pages_reserve_descriptors(p);
	mutex_lock(&p->mtx);
	extent_t *next = pages_free_neighbor(p, end, EXTENT_DIRTY);
	if (next == NULL)
		next = pages_free_neighbor(p, end, EXTENT_RETAINED);
	if (next == NULL || next->addr != end || next->size < extra) {
		mutex_unlock(&p->mtx);
		return false;
	}
	eset_t *set = pages_set_of(p, next->state);
	eset_remove(set, next);
	if (next->size > extra) {
		extent_t *trail = pages_split_free(p, next, extra);
		if (trail == NULL) {
			eset_insert(set, next);
			mutex_unlock(&p->mtx);
			return false;
		}
		eset_insert(set, trail);
	}
	bool next_zeroed = next->zeroed;
	emap_set_boundary(end - PAGE, PAGE, 0);
	emap_set_boundary(next->addr, next->size, 0);
	pages_extent_release(p, next);
	e->size = new_size;
	e->szind = (uint8_t)szind;
	pages_register_active(e);
	p->active_pages += extra >> LG_PAGE;
	mutex_unlock(&p->mtx);
	if (zero && !next_zeroed)
		memset(end, 0, extra);
	return true;
}

bool
pages_shrink_in_place(pages_t *p, extent_t *e, size_t new_size, unsigned szind)
{
	pages_reserve_descriptors(p);
	mutex_lock(&p->mtx);
	DEBUG_ASSERT(e->state == EXTENT_ACTIVE && !e->slab && new_size < e->size);
	extent_t *tail = pages_extent_new(p);
	if (tail == NULL) {
		mutex_unlock(&p->mtx);
		return false;
	}
	emap_set_boundary((char *)e->addr + e->size - PAGE, PAGE, 0);
	tail->addr = (char *)e->addr + new_size;
	tail->size = e->size - new_size;
	tail->state = EXTENT_DIRTY;
	e->size = new_size;
	e->szind = (uint8_t)szind;
	pages_register_active(e);
	p->active_pages -= tail->size >> LG_PAGE;
	pages_insert_coalesced(p, tail);
	mutex_unlock(&p->mtx);
	return true;
}

size_t
pages_purge_all(pages_t *p)
{
	mutex_lock(&p->mtx);
	uint64_t before = p->npurged;
	pages_purge_to(p, 0);
	decay_purged(&p->decay, p->dirty.npages);
	size_t purged = (size_t)(p->npurged - before) << LG_PAGE;
	mutex_unlock(&p->mtx);
	return purged;
}

void
pages_stats_read(pages_t *p, pages_stats_t *out)
{
	mutex_lock(&p->mtx);
	*out = (pages_stats_t){
		.active_pages = p->active_pages,
		.dirty_pages = p->dirty.npages,
		.retained_pages = p->retained.npages,
		.mapped = p->mapped,
		.npurge = p->npurge,
		.npurged = p->npurged,
	};
	mutex_unlock(&p->mtx);
}

/* The pai.h operations of this backend. */
static extent_t *
pages_pai_alloc(pai_t *self, size_t size, size_t alignment, bool zero, unsigned szind, bool slab)
{
	return pages_alloc((pages_t *)self, size, alignment, zero, szind, slab);
}

static bool
pages_pai_expand(pai_t *self, extent_t *e, size_t new_size, unsigned szind, bool zero)
{
	return pages_grow_in_place((pages_t *)self, e, new_size, szind, zero);
}

static bool
pages_pai_shrink(pai_t *self, extent_t *e, size_t new_size, unsigned szind)
{
	return pages_shrink_in_place((pages_t *)self, e, new_size, szind);
}

static void
pages_pai_free(pai_t *self, extent_t *e)
{
	pages_free((pages_t *)self, e);
}

static size_t
pages_pai_purge(pai_t *self)
{
	return pages_purge_all((pages_t *)self);
}

static const pai_t pages_pai = {
	.alloc = pages_pai_alloc,
	.expand = pages_pai_expand,
	.shrink = pages_pai_shrink,
	.free = pages_pai_free,
	.purge = pages_pai_purge,
};
