/*
 * pages.c — the arena page allocator: allocation, freeing, merging and
 * resizing of extents (purging is in pages_purge.c).  See pages.h for the
 * model and locks.
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

#include "background.h"
#include "clock.h"
#include "conf.h"
#include "debug.h"
#include "numa.h"
#include "os.h"
#include "pages.h"
#include "pages_internal.h"

static const pai_t pages_pai;

/* Every registered page allocator, newest first (append-only). */
static _Atomic(pages_t *) pages_registry;
_Atomic size_t pages_dirty_total;

void
pages_init(pages_t *p, unsigned arena_ind, base_t *base, ssize_t dirty_decay_ms,
           ssize_t muzzy_decay_ms)
{
	uint64_t now = clock_coarse_ns();
	p->pai = pages_pai;
	mutex_init(&p->mtx, "pages", MUTEX_RANK_PAGES);
	p->arena_ind = arena_ind;
	p->base = base;
	p->registry_next = NULL;
	eset_init(&p->dirty);
	eset_init(&p->held);
	eset_init(&p->muzzy);
	eset_init(&p->retained);
	hpage_init(&p->hpage);
	p->hold_suspended = 0;
	p->idle_pass_at = 0;
	decay_init(&p->decay_dirty, dirty_decay_ms, now);
	decay_init(&p->decay_muzzy, muzzy_decay_ms, now);
	burst_init(&p->burst);
	p->spare = NULL;
	atomic_store_relaxed(&p->nspare, 0);
	p->busy = NULL;
	p->unmapping = NULL;
	p->unmerged = NULL;
	atomic_store_relaxed(&p->node, NUMA_NODE_NONE);
	atomic_store_relaxed(&p->mappings, NULL);
	p->active_pages = 0;
	p->mapped = 0;
	p->grow_next = PAGES_GROW_MIN;
	p->grow_limit = SZ_LARGE_MAXCLASS;
	atomic_store_relaxed(&p->hooks, NULL);
	p->split_refused = false;
	atomic_store_relaxed(&p->dirty_at_run, 0);
	p->dirty_stats = p->muzzy_stats = (pages_purge_stats_t){0};
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
	e->unmerged = false;
	e->decommitted = false;
	e->held = false;
	e->idle_pass = 0;
	e->node = 0;
	e->heap_child = e->heap_next = e->heap_prev = NULL;
	e->nfree = 0;
	return e;
}

void
pages_extent_release(pages_t *p, extent_t *e)
{
	/* A page-map entry may still name it until the extent that replaced
	 * it is registered: in no free state, it matches no neighbour lookup. */
	e->state = EXTENT_BUSY;
	e->heap_next = p->spare;
	p->spare = e;
	atomic_store_relaxed(&p->nspare, atomic_load_relaxed(&p->nspare) + 1);
}

/* See pages_internal.h: with the lock not held (the base may map
 * memory). */
NOINLINE void
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

eset_t *
pages_set_of(pages_t *p, extent_state_t state)
{
	DEBUG_ASSERT(state == EXTENT_DIRTY || state == EXTENT_MUZZY || state == EXTENT_RETAINED);
	return state == EXTENT_DIRTY ? &p->dirty : state == EXTENT_MUZZY ? &p->muzzy : &p->retained;
}

/* eset_insert and eset_remove, keeping pages_dirty_total (when a cap
 * needs it); a dirty extent goes to the held set when its range holds it. */
void
pages_set_insert(pages_t *p, eset_t *set, extent_t *e)
{
	if (set == &p->dirty || set == &p->held)
		set = pages_holds(p, e) ? &p->held : &p->dirty;
	e->held = set == &p->held;
	eset_insert(set, e);
	if (e->state == EXTENT_DIRTY && opt_dirty_max_bytes != 0)
		atomic_add_relaxed(&pages_dirty_total, e->size >> LG_PAGE);
}

void
pages_set_remove(pages_t *p, extent_t *e)
{
	eset_t *set = e->held ? &p->held : pages_set_of(p, e->state);
	if (e->unmerged) {
		if (e->unmerged_prev != NULL)
			e->unmerged_prev->unmerged_next = e->unmerged_next;
		else
			p->unmerged = e->unmerged_next;
		if (e->unmerged_next != NULL)
			e->unmerged_next->unmerged_prev = e->unmerged_prev;
		e->unmerged = false;
	}
	eset_remove(set, e);
	e->held = false;
	if (e->state == EXTENT_DIRTY && opt_dirty_max_bytes != 0)
		atomic_sub_relaxed(&pages_dirty_total, e->size >> LG_PAGE);
}

static void
pages_register_free(extent_t *e)
{
	emap_set_boundary(e->addr, e->size, emap_pack(e, EMAP_SZIND_NONE, false, 0));
}

static void
pages_register_active(extent_t *e)
{
	uint64_t bits = emap_pack(e, e->szind, e->slab, e->node);
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

/* Whether free neighbours a (below) and b may merge: both decommitted or
 * neither, and the merge hook agrees.  Lock held. */
static bool
pages_may_merge(pages_t *p, extent_hooks_t *h, const extent_t *a, const extent_t *b)
{
	if (a->decommitted != b->decommitted)
		return false;
	return h == NULL || !extent_hooks_merge(h, a->addr, a->size, b->addr, b->size,
	                                        !a->decommitted, p->arena_ind);
}

/*
 * Merges a free extent that is in no set (state already set) with its free
 * neighbours of the same state, taking them out of their set, and
 * registers the result's boundaries.  Neighbours filed unmerged (freed
 * slabs) may form a chain: it is merged whole.  Lock held.
 */
extent_t *
pages_coalesce(pages_t *p, extent_t *e)
{
	DEBUG_ASSERT(e->state == EXTENT_DIRTY || e->state == EXTENT_MUZZY ||
	             e->state == EXTENT_RETAINED);
	DEBUG_ASSERT(e->arena_ind == p->arena_ind && (e->size & PAGE_MASK) == 0);
	extent_hooks_t *h = atomic_load_relaxed(&p->hooks);
	extent_t *prev;
	while ((uintptr_t)e->addr > PAGE &&
	       (prev = pages_free_neighbor(p, (char *)e->addr - PAGE, e->state)) != NULL &&
	       pages_may_merge(p, h, prev, e)) {
		pages_set_remove(p, prev);
		emap_set_boundary((char *)prev->addr + prev->size - PAGE, PAGE, 0);
		emap_set_boundary(e->addr, PAGE, 0);
		prev->size += e->size;
		prev->zeroed = prev->zeroed && e->zeroed;
		pages_extent_release(p, e);
		e = prev;
	}
	extent_t *next;
	while ((next = pages_free_neighbor(p, (char *)e->addr + e->size, e->state)) != NULL &&
	       pages_may_merge(p, h, e, next)) {
		pages_set_remove(p, next);
		emap_set_boundary((char *)e->addr + e->size - PAGE, PAGE, 0);
		emap_set_boundary(next->addr, PAGE, 0);
		e->size += next->size;
		e->zeroed = e->zeroed && next->zeroed;
		pages_extent_release(p, next);
	}
	/* The merged boundaries now, not at filing: a walk of the page map
	 * meanwhile (pages_refile_range) must not meet a released
	 * descriptor at its last page. */
	pages_register_free(e);
	return e;
}

/* Files a free extent whose boundaries are registered in its set.  Lock
 * held. */
static void
pages_file(pages_t *p, extent_t *e)
{
	pages_set_insert(p, pages_set_of(p, e->state), e);
	DEBUG_ASSERT(emap_bits_extent(emap_lookup(e->addr)) == e);
	DEBUG_ASSERT(emap_bits_extent(emap_lookup((char *)e->addr + e->size - PAGE)) == e);
}

/* Files a free extent (state already set) in its set as it is.  Lock held. */
void
pages_insert(pages_t *p, extent_t *e)
{
	pages_register_free(e);
	pages_file(p, e);
}

/* Files a free extent in its set, merged with its free neighbours (which
 * registers the merged boundaries). */
void
pages_insert_coalesced(pages_t *p, extent_t *e)
{
	pages_file(p, pages_coalesce(p, e));
}

/* Files a freed slab (dirty) unmerged, on the unmerged list.  Lock held. */
static void
pages_insert_unmerged(pages_t *p, extent_t *e)
{
	pages_insert(p, e);
	e->unmerged = true;
	e->unmerged_prev = NULL;
	e->unmerged_next = p->unmerged;
	if (p->unmerged != NULL)
		p->unmerged->unmerged_prev = e;
	p->unmerged = e;
}

/* Merges every extent filed unmerged (a request found no dirty fit: the
 * pieces may make one).  Each is merged once.  Lock held. */
static void
pages_merge_unmerged(pages_t *p)
{
	while (p->unmerged != NULL) {
		extent_t *e = p->unmerged;
		pages_set_remove(p, e);
		pages_insert_coalesced(p, e);
	}
}

/* A blank descriptor for the tail of e split at size, when the split hook
 * (if any) agrees; NULL otherwise.  Lock held. */
static extent_t *
pages_split_tail(pages_t *p, extent_t *e, size_t size)
{
	extent_t *tail = pages_extent_new(p);
	if (tail == NULL)
		return NULL;
	extent_hooks_t *h = atomic_load_relaxed(&p->hooks);
	if (h != NULL &&
	    extent_hooks_split(h, e->addr, e->size, size, !e->decommitted, p->arena_ind)) {
		pages_extent_release(p, tail);
		p->split_refused = true;
		return NULL;
	}
	return tail;
}

/*
 * Splits the first `size` bytes off e: e keeps them, the returned extent
 * (same state) gets the rest; NULL when no descriptor is available or the
 * split hook refuses.  Both are registered as free.  Lock held; e must not
 * be in a set.
 */
extent_t *
pages_split_free(pages_t *p, extent_t *e, size_t size)
{
	extent_t *tail = pages_split_tail(p, e, size);
	if (tail == NULL)
		return NULL;
	tail->addr = (char *)e->addr + size;
	tail->size = e->size - size;
	tail->state = e->state;
	tail->zeroed = e->zeroed;
	tail->decommitted = e->decommitted;
	e->size = size;
	pages_register_free(e);
	pages_register_free(tail);
	return tail;
}

/*
 * Where in the free extent e a run of size bytes aligned to alignment
 * starts, as an offset: the first aligned place; under the huge-page policy
 * (layout), on a range boundary instead when it fits whole from there and
 * the run is of a huge page or more, or would straddle the boundary
 * (hpage.h).
 */
static size_t
pages_take_offset(const extent_t *e, size_t size, size_t alignment, bool layout)
{
	uintptr_t addr = (uintptr_t)e->addr;
	uintptr_t start = ALIGNMENT_CEILING(addr, alignment);
	if (!layout || alignment > HUGEPAGE)
		return start - addr;
	uintptr_t boundary;
	if (size >= HUGEPAGE)
		boundary = ALIGNMENT_CEILING(start, HUGEPAGE);
	else if (hpage_range_base((void *)start) != hpage_range_base((void *)(start + size - 1)))
		boundary = (uintptr_t)hpage_range_base((void *)(start + size - 1));
	else
		return start - addr;
	if (boundary + size <= addr + e->size)
		start = boundary;
	return start - addr;
}

/*
 * Takes from `set` an extent holding an aligned run of size bytes, carves it
 * out (returning lead and trail to the set) and returns it, still in its
 * free state and unregistered as active.  An extent larger than max_fit
 * bytes is not used.  layout: see pages_take_offset.  Lock held.
 */
static extent_t *
pages_take(pages_t *p, eset_t *set, size_t size, size_t alignment, size_t max_fit, bool layout)
{
	size_t search = size + (alignment > PAGE ? alignment - PAGE : 0);
	extent_t *e = eset_find_fit(set, search);
	if (e == NULL || e->size > max_fit)
		return NULL;
	pages_set_remove(p, e);
	size_t lead = pages_take_offset(e, size, alignment, layout);
	if (lead != 0) {
		extent_t *rest = pages_split_free(p, e, lead);
		if (rest == NULL) {
			pages_set_insert(p, set, e);
			return NULL;
		}
		pages_set_insert(p, set, e);
		e = rest;
	}
	if (e->size > size) {
		extent_t *trail = pages_split_free(p, e, size);
		if (trail == NULL) {
			pages_insert_coalesced(p, e);
			return NULL;
		}
		pages_set_insert(p, set, trail);
	}
	return e;
}

/* Maps size bytes for this arena: through its hooks, or from the OS
 * (zeroed).  Lock not held. */
static void *
pages_map(pages_t *p, extent_hooks_t *h, size_t size, size_t alignment, bool *zeroed)
{
	if (h == NULL) {
		*zeroed = true;
		return os_pages_map(size, alignment);
	}
	return extent_hooks_alloc(h, size, alignment, zeroed, p->arena_ind);
}

/* Gives back a mapping that could not be recorded.  Lock not held. */
static void
pages_unmap(pages_t *p, extent_hooks_t *h, void *addr, size_t size)
{
	if (h == NULL)
		os_pages_unmap(addr, size);
	else
		extent_hooks_dalloc(h, addr, size, true, p->arena_ind);
}

/* Binds a new mapping of our own to the pages' node before anything
 * touches it, and, while NUMA is active, lists it for moves; ENOMEM when
 * the list entry cannot be had.  Lock not held. */
static int
pages_bind_new(pages_t *p, void *addr, size_t size)
{
	if (!numa_active())
		return 0;
	pages_mapping_t *m = base_alloc(p->base, sizeof(*m), sizeof(void *));
	if (m == NULL)
		return ENOMEM;
	numa_bind(addr, size, atomic_load_relaxed(&p->node), false);
	m->addr = addr;
	m->size = size;
	pages_mapping_t *head = atomic_load_relaxed(&p->mappings);
	do {
		m->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&p->mappings, &head, m, memory_order_release,
	                                                memory_order_relaxed));
	return 0;
}

unsigned
pages_node(pages_t *p)
{
	return atomic_load_relaxed(&p->node);
}

void
pages_move_node(pages_t *p, unsigned node)
{
	atomic_store_relaxed(&p->node, node);
	for (pages_mapping_t *m = atomic_load_acquire(&p->mappings); m != NULL; m = m->next) {
		if (numa_bind(m->addr, m->size, node, true) == 0)
			continue;
		/* A hole (retain:false unmapped part of it): move what is
		 * still mapped, a huge page at a time. */
		for (size_t off = 0; off < m->size; off += HUGEPAGE) {
			size_t len = m->size - off < HUGEPAGE ? m->size - off : HUGEPAGE;
			numa_bind((char *)m->addr + off, len, node, true);
		}
	}
}

/*
 * Maps a new region for a request of size bytes aligned to alignment and
 * returns it as one retained extent in no set: a growth step (grow_next,
 * at most grow_limit) or the request's need if larger, HUGEPAGE-aligned
 * from the OS, PAGE-aligned from hooks; with exact, the request alone
 * (size bytes aligned to alignment).  NULL when out of memory.  Lock not
 * held; held on return when not NULL.
 */
static extent_t *
pages_map_retained(pages_t *p, size_t size, size_t alignment, bool exact)
{
	extent_hooks_t *h = atomic_load_acquire(&p->hooks);
	size_t need = size + (alignment > PAGE ? alignment - PAGE : 0);
	if (need < size)
		return NULL;
	size_t map_size = size, map_align = alignment;
	if (!exact) {
		size_t quantum = h == NULL ? HUGEPAGE : PAGE;
		mutex_lock(&p->mtx);
		size_t step = p->grow_next < p->grow_limit ? p->grow_next : p->grow_limit;
		mutex_unlock(&p->mtx);
		map_size = ALIGNMENT_CEILING(need > step ? need : step, quantum);
		if (map_size < need)
			return NULL;
		map_align = quantum;
	}
	bool zeroed;
	void *addr = pages_map(p, h, map_size, map_align, &zeroed);
	if (addr == NULL && map_size > ALIGNMENT_CEILING(need, map_align)) {
		/* Address space is short (RLIMIT_AS, overcommit): the growth
		 * step did not fit, the request alone may. */
		map_size = ALIGNMENT_CEILING(need, map_align);
		addr = pages_map(p, h, map_size, map_align, &zeroed);
	}
	if (addr == NULL)
		return NULL;
	if (emap_ensure(addr, map_size) != 0 ||
	    (h == NULL && (pages_bind_new(p, addr, map_size) != 0 ||
	                   hpage_map(&p->hpage, p->base, addr, map_size) != 0))) {
		pages_unmap(p, h, addr, map_size);
		return NULL;
	}
	pages_reserve_descriptors(p);
	mutex_lock(&p->mtx);
	extent_t *e = pages_extent_new(p);
	if (e == NULL) {
		mutex_unlock(&p->mtx);
		pages_unmap(p, h, addr, map_size);
		return NULL;
	}
	e->addr = addr;
	e->size = map_size;
	e->state = EXTENT_RETAINED;
	e->zeroed = zeroed;
	p->mapped += map_size;
	/* Without retain, released space is unmapped: mappings stay small. */
	if (!exact && opt_retain && map_size >= p->grow_next && p->grow_next < PAGES_GROW_MAX &&
	    p->grow_next < p->grow_limit)
		p->grow_next *= 2;
	return e;
}

/* Maps a new region big enough for the request into the retained set. */
static int
pages_grow(pages_t *p, size_t size, size_t alignment)
{
	extent_t *e = pages_map_retained(p, size, alignment, false);
	if (e == NULL)
		return ENOMEM;
	pages_insert_coalesced(p, e);
	mutex_unlock(&p->mtx);
	return 0;
}

/*
 * Commits a decommitted retained extent taken for an allocation (in no
 * set), with the lock dropped around the hook; false when the hook
 * refuses, and the extent is filed back.  Lock held.
 */
static bool
pages_commit_taken(pages_t *p, extent_t *e)
{
	extent_hooks_t *h = atomic_load_relaxed(&p->hooks);
	e->state = EXTENT_BUSY;
	extent_list_push(&p->busy, e);
	mutex_unlock(&p->mtx);
	/* Without hooks (they were replaced by the defaults) there is nothing
	 * to commit: the default commit does nothing. */
	bool refused = h != NULL && extent_hooks_commit(h, e->addr, e->size, p->arena_ind);
	mutex_lock(&p->mtx);
	extent_list_remove(&p->busy, e);
	e->state = EXTENT_RETAINED;
	if (refused) {
		pages_insert_coalesced(p, e);
		return false;
	}
	e->decommitted = false;
	e->zeroed = true;
	return true;
}

/* The largest dirty or muzzy extent a request of size bytes may split. */
static size_t
pages_max_fit(size_t size)
{
	if (opt_lg_extent_max_active_fit >= 63 || size > (SIZE_MAX >> opt_lg_extent_max_active_fit))
		return SIZE_MAX;
	return size << opt_lg_extent_max_active_fit;
}

extent_t *
pages_alloc(pages_t *p, size_t size, size_t alignment, bool zero, unsigned szind, bool slab)
{
	extent_t *e;
	size_t max_fit = pages_max_fit(size);
	/* The huge-page layout (hpage.h), on the allocator's own mappings:
	 * runs placed by pages_take_offset, and holes in dense huge ranges
	 * filled first. */
	bool layout = hpage_policy() && atomic_load_relaxed(&p->hooks) == NULL;
	for (;;) {
		pages_reserve_descriptors(p);
		mutex_lock(&p->mtx);
		p->split_refused = false;
		e = NULL;
		if (layout && size < HUGEPAGE)
			e = pages_take(p, &p->held, size, alignment, max_fit, layout);
		if (e == NULL)
			e = pages_take(p, &p->dirty, size, alignment, max_fit, layout);
		if (e == NULL && p->unmerged != NULL) {
			pages_merge_unmerged(p);
			e = pages_take(p, &p->dirty, size, alignment, max_fit, layout);
		}
		if (e == NULL)
			e = pages_take(p, &p->muzzy, size, alignment, max_fit, layout);
		if (e == NULL)
			e = pages_take(p, &p->retained, size, alignment, SIZE_MAX, layout);
		if (e != NULL)
			break;
		bool split_refused = p->split_refused;
		mutex_unlock(&p->mtx);
		/* A split hook refused to cut a free extent that fits: a new
		 * mapping of the request's own size, as jemalloc falls back. */
		if (split_refused) {
			e = pages_map_retained(p, size, alignment, true);
			if (e == NULL)
				return NULL;
			break;
		}
		if (pages_grow(p, size, alignment) != 0) {
			/* No address space left: any free extent serves, however
			 * much bigger than the request. */
			if (max_fit == SIZE_MAX)
				return NULL;
			max_fit = SIZE_MAX;
		}
	}
	if (UNLIKELY(e->decommitted) && !pages_commit_taken(p, e)) {
		mutex_unlock(&p->mtx);
		return NULL;
	}
	if (layout && e->state == EXTENT_RETAINED)
		pages_note_warm(p, e);
	DEBUG_ASSERT(e->state == EXTENT_DIRTY || e->state == EXTENT_MUZZY ||
	             e->state == EXTENT_RETAINED);
	uint64_t now = clock_coarse_ns();
	unsigned node = atomic_load_relaxed(&p->node);
	e->state = EXTENT_ACTIVE;
	e->szind = (uint8_t)szind;
	e->slab = slab;
	e->node = node == NUMA_NODE_NONE ? 0 : (uint8_t)node;
	pages_register_active(e);
	burst_take(&p->burst, now, p->active_pages, p->active_pages + (size >> LG_PAGE));
	p->active_pages += size >> LG_PAGE;
	bool queued = pages_hpage_active(p, e->addr, size, true);
	if (!background_purging())
		pages_decay_inline(p, now);
	/* Under the lock: a purge of a neighbouring range reads this
	 * descriptor's state word, which holds zeroed too. */
	bool was_zeroed = e->zeroed;
	e->zeroed = false;
	mutex_unlock(&p->mtx);
	if (queued)
		background_note_hugify(p->arena_ind);
	if (zero && !was_zeroed)
		memset(e->addr, 0, size);
	return e;
}

/* Fork child: purges that other threads had in flight never finish here;
 * their extents may or may not have been purged, so they are dirty (a
 * decommitted one being committed stays retained and decommitted).  Those
 * being unmapped may or may not be mapped: they are forgotten. */
static void
pages_fork_child_recover(mutex_t *m)
{
	pages_t *p = (pages_t *)((char *)m - offsetof(pages_t, mtx));
	mutex_lock(&p->mtx);
	while (p->busy != NULL) {
		extent_t *e = p->busy;
		extent_list_remove(&p->busy, e);
		e->state = e->decommitted ? EXTENT_RETAINED : EXTENT_DIRTY;
		e->zeroed = false;
		pages_insert_coalesced(p, e);
	}
	while (p->unmapping != NULL) {
		extent_t *e = p->unmapping;
		extent_list_remove(&p->unmapping, e);
		p->mapped -= e->size;
		pages_extent_release(p, e);
	}
	mutex_unlock(&p->mtx);
}

void
pages_register(pages_t *p)
{
	mutex_register(&p->mtx, pages_fork_child_recover);
	pages_t *head = atomic_load_relaxed(&pages_registry);
	do {
		p->registry_next = head;
	} while (!atomic_compare_exchange_weak_explicit(&pages_registry, &head, p,
	                                                memory_order_release,
	                                                memory_order_relaxed));
}

pages_t *
pages_registry_first(void)
{
	return atomic_load_acquire(&pages_registry);
}

/* A freed extent becomes dirty: recorded on the dirty curve, then decayed
 * as the mode says.  Lock held; e in no set, state DIRTY. */
static void
pages_add_dirty(pages_t *p, extent_t *e, bool coalesce)
{
	uint64_t now = clock_coarse_ns();
	size_t npages = e->size >> LG_PAGE;
	burst_return(&p->burst, now, p->active_pages + npages);
	if (coalesce)
		pages_insert_coalesced(p, e);
	else
		pages_insert_unmerged(p, e);
	decay_record(&p->decay_dirty, now, npages);
	pages_decay_inline(p, now);
}

void
pages_free(pages_t *p, extent_t *e)
{
	mutex_lock(&p->mtx);
	DEBUG_ASSERT(e->state == EXTENT_ACTIVE && e->arena_ind == p->arena_ind);
	bool slab = e->slab;
	if (slab)
		emap_set_range(e->addr, e->size, 0);
	p->active_pages -= e->size >> LG_PAGE;
	pages_hpage_active(p, e->addr, e->size, false);
	e->state = EXTENT_DIRTY;
	e->szind = EMAP_SZIND_NONE;
	e->slab = false;
	e->zeroed = false;
	/* Slabs are merged only when purged (pages.h). */
	pages_add_dirty(p, e, !slab);
	size_t ndirty = p->dirty.npages, at_run = atomic_load_relaxed(&p->dirty_at_run);
	mutex_unlock(&p->mtx);
	background_note_dirty(p->arena_ind, ndirty, at_run);
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
		next = pages_free_neighbor(p, end, EXTENT_MUZZY);
	if (next == NULL)
		next = pages_free_neighbor(p, end, EXTENT_RETAINED);
	if (next == NULL || next->addr != end || next->size < extra || next->decommitted) {
		mutex_unlock(&p->mtx);
		return false;
	}
	eset_t *set = next->held ? &p->held : pages_set_of(p, next->state);
	pages_set_remove(p, next);
	if (next->size > extra) {
		extent_t *trail = pages_split_free(p, next, extra);
		if (trail == NULL) {
			pages_set_insert(p, set, next);
			mutex_unlock(&p->mtx);
			return false;
		}
		pages_set_insert(p, set, trail);
	}
	extent_hooks_t *h = atomic_load_relaxed(&p->hooks);
	if (h != NULL &&
	    extent_hooks_merge(h, e->addr, e->size, next->addr, next->size, true, p->arena_ind)) {
		pages_set_insert(p, set, next);
		mutex_unlock(&p->mtx);
		return false;
	}
	bool next_zeroed = next->zeroed;
	emap_set_boundary(end - PAGE, PAGE, 0);
	emap_set_boundary(next->addr, next->size, 0);
	pages_extent_release(p, next);
	e->size = new_size;
	e->szind = (uint8_t)szind;
	pages_register_active(e);
	burst_take(&p->burst, clock_coarse_ns(), p->active_pages,
	           p->active_pages + (extra >> LG_PAGE));
	p->active_pages += extra >> LG_PAGE;
	bool queued = pages_hpage_active(p, end, extra, true);
	mutex_unlock(&p->mtx);
	if (queued)
		background_note_hugify(p->arena_ind);
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
	extent_t *tail = pages_split_tail(p, e, new_size);
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
	pages_hpage_active(p, tail->addr, tail->size, false);
	pages_add_dirty(p, tail, true);
	size_t ndirty = p->dirty.npages, at_run = atomic_load_relaxed(&p->dirty_at_run);
	mutex_unlock(&p->mtx);
	background_note_dirty(p->arena_ind, ndirty, at_run);
	return true;
}

extent_hooks_t *
pages_hooks(pages_t *p)
{
	return atomic_load_acquire(&p->hooks);
}

void
pages_set_hooks(pages_t *p, extent_hooks_t *hooks)
{
	atomic_store_release(&p->hooks, hooks);
}

size_t
pages_retain_grow_limit(pages_t *p)
{
	mutex_lock(&p->mtx);
	size_t limit = p->grow_limit;
	mutex_unlock(&p->mtx);
	return limit;
}

void
pages_set_retain_grow_limit(pages_t *p, size_t limit)
{
	mutex_lock(&p->mtx);
	p->grow_limit = limit;
	mutex_unlock(&p->mtx);
}

/* A free extent of any state, taken out of its set; NULL when none is
 * left.  Lock held. */
static extent_t *
pages_take_any_free(pages_t *p)
{
	eset_t *sets[] = {&p->dirty, &p->held, &p->muzzy, &p->retained};
	for (unsigned i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		extent_t *e = eset_find_largest(sets[i]);
		if (e != NULL) {
			pages_set_remove(p, e);
			return e;
		}
	}
	return NULL;
}

void
pages_release_free(pages_t *p)
{
	extent_hooks_t *h = atomic_load_acquire(&p->hooks);
	mutex_lock(&p->mtx);
	extent_t *e;
	while ((e = pages_take_any_free(p)) != NULL) {
		/* Before the range can be mapped again by anyone. */
		emap_set_boundary(e->addr, e->size, 0);
		e->state = EXTENT_BUSY;
		extent_list_push(&p->unmapping, e);
		mutex_unlock(&p->mtx);
		if (h == NULL)
			os_pages_unmap(e->addr, e->size);
		else
			extent_hooks_destroy(h, e->addr, e->size, !e->decommitted, p->arena_ind);
		mutex_lock(&p->mtx);
		extent_list_remove(&p->unmapping, e);
		p->mapped -= e->size;
		pages_extent_release(p, e);
	}
	mutex_unlock(&p->mtx);
}

void
pages_stats_read(pages_t *p, pages_stats_t *out)
{
	mutex_lock(&p->mtx);
	*out = (pages_stats_t){
		.active_pages = p->active_pages,
		.dirty_pages = p->dirty.npages + p->held.npages,
		.muzzy_pages = p->muzzy.npages,
		.retained_pages = p->retained.npages,
		.mapped = p->mapped,
		.dirty_decay_ms = p->decay_dirty.decay_ms,
		.muzzy_decay_ms = p->decay_muzzy.decay_ms,
		.dirty = p->dirty_stats,
		.muzzy = p->muzzy_stats,
	};
	mutex_unlock(&p->mtx);
}

void
pages_extents_stats_read(pages_t *p, pages_extent_stats_t out[SZ_NPSIZES])
{
	mutex_lock(&p->mtx);
	for (unsigned j = 0; j < SZ_NPSIZES; j++)
		out[j] = (pages_extent_stats_t){
			.ndirty = p->dirty.class_n[j] + p->held.class_n[j],
			.nmuzzy = p->muzzy.class_n[j],
			.nretained = p->retained.class_n[j],
			.dirty_bytes = p->dirty.class_bytes[j] + p->held.class_bytes[j],
			.muzzy_bytes = p->muzzy.class_bytes[j],
			.retained_bytes = p->retained.class_bytes[j],
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
