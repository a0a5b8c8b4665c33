/*
 * arena.c — arena creation and the small/large dispatch.  See arena.h.
 */
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "clock.h"
#include "conf.h"
#include "msg.h"
#include "numa.h"
#include "safety.h"

_Atomic(arena_t *) arenas[ARENAS_MAX];

static mutex_t arenas_mtx = MUTEX_INITIALIZER("arenas", MUTEX_RANK_ARENAS);
static base_t *arenas_global_base;
static unsigned arenas_nauto;
static _Atomic unsigned arenas_ntotal; /* automatic + manual (protected by arenas_mtx for writes) */
static _Atomic ssize_t arena_default_decay[2]; /* arenas.{dirty,muzzy}_decay_ms */

/* Binds the arena's future pages and metadata to node and migrates what
 * it has (nothing for NUMA_NODE_NONE): a system call per mapping, so no
 * lock may be held, except for an arena that has none yet (arena_create,
 * under arenas_mtx, only sets the node). */
static void
arena_bind(arena_t *a, unsigned node)
{
	if (node == NUMA_NODE_NONE)
		return;
	base_move_node(&a->base, node);
	pages_move_node(&a->pages, node);
}

static arena_t *
arena_create(unsigned ind, unsigned node)
{
	arena_t *a = base_alloc(arenas_global_base, sizeof(arena_t), CACHELINE);
	if (a == NULL)
		return NULL;
	a->ind = ind;
	a->create_ns = clock_coarse_ns();
	base_init(&a->base, MUTEX_RANK_ARENA_BASE);
	pages_init(&a->pages, ind, &a->base, arena_default_decay_ms(false),
	           arena_default_decay_ms(true));
	a->pai = &a->pages.pai;
	/* Only manual arenas can be reset: only they list every allocation. */
	bool manual = ind >= arenas_nauto;
	large_init(&a->large, manual);
	for (unsigned i = 0; i < SZ_NBINS; i++)
		bin_init(&a->bins[i], manual, &a->remote_slots[i]);
	arena_bind(a, node);
	/* Arenas live for the process; fork finds their locks in the registry. */
	mutex_register(&a->base.mtx, NULL);
	pages_register(&a->pages);
	mutex_register(&a->large.mtx, NULL);
	for (unsigned i = 0; i < SZ_NBINS; i++)
		mutex_register(&a->bins[i].mtx, NULL);
	return a;
}

/* bin_idle_count and bin_idle_purge callbacks: the arena's pages. */
static void
arena_idle_note(void *addr, size_t npages, void *arg)
{
	pages_idle_note(arg, addr, npages);
}

static bool
arena_idle_eligible(const void *addr, void *arg)
{
	return pages_idle_eligible(arg, addr);
}

/* The idle pass of the arena of p (pages.h): under the huge-page policy,
 * dissolves the huge ranges its slabs keep sparse; then purges the free
 * pages inside the slabs of ranges that are not huge.  Automatic arenas
 * only: a manual one may be reset (its slabs freed) while the pass has
 * regions lent out with the bin lock dropped. */
static void
arena_idle_pass(pages_t *p)
{
	arena_t *a = (arena_t *)((char *)p - offsetof(arena_t, pages));
	if (a->ind >= arenas_nauto)
		return;
	if (hpage_policy()) {
		for (unsigned i = 0; i < SZ_NBINS; i++)
			bin_idle_count(&a->bins[i], i, arena_idle_note, p);
		pages_idle_dissolve(p);
		pages_purge_warm(p);
	}
	a->idle_pass = (uint8_t)(a->idle_pass % 255 + 1);
	size_t purged = 0;
	for (unsigned i = 0; i < SZ_NBINS; i++)
		purged += bin_idle_purge(&a->bins[i], i, a->pai, a->idle_pass, arena_idle_eligible, p);
	pages_note_slab_purged(p, purged);
}

int
arena_boot(base_t *global_base, unsigned narenas_auto)
{
	mutex_register(&arenas_mtx, NULL);
	pages_idle_pass = arena_idle_pass;
	arenas_global_base = global_base;
	atomic_store_relaxed(&arena_default_decay[false], opt_dirty_decay_ms);
	atomic_store_relaxed(&arena_default_decay[true], opt_muzzy_decay_ms);
	arenas_nauto = narenas_auto < 1 ? 1 : narenas_auto > ARENAS_MAX ? ARENAS_MAX : narenas_auto;
	atomic_store_relaxed(&arenas_ntotal, arenas_nauto);
	return arena_get(0, true) != NULL ? 0 : ENOMEM;
}

unsigned
arena_narenas_auto(void)
{
	return arenas_nauto;
}

unsigned
arena_narenas_total(void)
{
	return atomic_load_acquire(&arenas_ntotal);
}

/* Automatic arena ind's home node: under percpu_arena that of its CPU
 * (arena_select.h: arena i serves CPU i, and i + ncpus/2 with phycpu),
 * else its node's share (numa.h). */
static unsigned
arena_auto_node(unsigned ind)
{
	if (opt_percpu_arena != CONF_PERCPU_ARENA_DISABLED)
		return numa_home_node(numa_node_of_cpu(ind));
	return numa_arena_node(ind, arenas_nauto);
}

arena_t *
arena_get(unsigned ind, bool create)
{
	if (ind >= arena_narenas_total())
		return NULL;
	arena_t *a = atomic_load_acquire(&arenas[ind]);
	if (a != NULL && UNLIKELY(atomic_load_relaxed(&a->destroyed)))
		return NULL;
	if (LIKELY(a != NULL) || !create)
		return a;
	mutex_lock(&arenas_mtx);
	a = atomic_load_relaxed(&arenas[ind]);
	if (a == NULL) {
		a = arena_create(ind, arena_auto_node(ind));
		if (a != NULL)
			atomic_store_release(&arenas[ind], a);
	}
	mutex_unlock(&arenas_mtx);
	return a;
}

void *
arena_malloc(arena_t *arena, size_t usize, unsigned szind, size_t alignment, bool zero)
{
	if (szind < SZ_NBINS) {
		void *p;
		if (bin_malloc_batch(&arena->bins[szind], szind, arena->pai, &p, 1) == 0)
			return NULL;
		if (zero)
			memset(p, 0, usize);
		return p;
	}
	return large_malloc(arena->pai, &arena->large, usize, alignment, zero);
}

static arena_t *
arena_of(const extent_t *e)
{
	return atomic_load_relaxed(&arenas[e->arena_ind]);
}

void
arena_dalloc(void *ptr, uint64_t emap_bits)
{
	extent_t *e = emap_bits_extent(emap_bits);
	unsigned szind = emap_bits_szind(emap_bits);
	arena_t *a = arena_of(e);
	if (emap_bits_slab(emap_bits)) {
		bin_free(&a->bins[szind], szind, a->pai, e, ptr);
		return;
	}
	if (UNLIKELY(e->addr != ptr || e->state != EXTENT_ACTIVE))
		safety_check_fatal("free(): invalid pointer %p\n", ptr);
	large_free(a->pai, &a->large, e);
}

void
arena_dalloc_home(void *ptr, uint64_t emap_bits)
{
	/* safety_checks: the region is checked against its slab now. */
	if (!emap_bits_slab(emap_bits) || opt_safety_checks) {
		arena_dalloc(ptr, emap_bits);
		return;
	}
	extent_t *slab = emap_bits_extent(emap_bits);
	unsigned szind = emap_bits_szind(emap_bits);
	arena_t *a = arena_of(slab);
	bin_free_remote(&a->bins[szind], szind, a->pai, &slab, &ptr, 1);
}

void
arena_set_sample(void *ptr, size_t usize, const extent_sample_t *sample)
{
	/* The extent is the caller's alone, as while it was resized. */
	extent_t *e = emap_bits_extent(emap_lookup(ptr));
	uint64_t bits = emap_pack(e, sz_size2index(usize), false, e->node);
	if (sample != NULL) {
		e->sample = *sample;
		bits |= EMAP_SAMPLED_BIT;
	}
	emap_set_boundary(ptr, e->size, bits);
}

void *
arena_malloc_sampled(arena_t *arena, size_t usize, size_t alignment, bool zero,
                     const extent_sample_t *sample)
{
	size_t extent_usize = usize < SZ_LARGE_MINCLASS ? SZ_LARGE_MINCLASS : usize;
	void *p = large_malloc(arena->pai, &arena->large, extent_usize, alignment, zero);
	if (p != NULL) /* the extent is this thread's alone until p is returned */
		arena_set_sample(p, usize, sample);
	return p;
}

void
arena_dalloc_sampled(void *ptr, uint64_t emap_bits)
{
	extent_t *e = emap_bits_extent(emap_bits);
	if (UNLIKELY(e->addr != ptr || e->state != EXTENT_ACTIVE))
		safety_check_fatal("free(): invalid pointer %p\n", ptr);
	arena_t *a = arena_of(e);
	large_free(a->pai, &a->large, e);
}

bool
arena_resize_in_place(void *ptr, uint64_t emap_bits, size_t usize, bool zero)
{
	extent_t *e = emap_bits_extent(emap_bits);
	if (emap_bits_slab(emap_bits) || e->addr != ptr || usize < SZ_LARGE_MINCLASS)
		return false;
	arena_t *a = arena_of(e);
	return large_resize_in_place(a->pai, &a->large, e, usize, zero);
}

/* What pages.c keeps for hooks: NULL for the default table. */
static extent_hooks_t *
arena_hooks_internal(extent_hooks_t *hooks)
{
	return hooks == &extent_hooks_default ? NULL : hooks;
}

/* A manual arena with hooks (NULL: strata's own) on node (NUMA_NODE_NONE:
 * unbound). */
static int
arena_create_manual_on(unsigned *ind, extent_hooks_t *hooks, unsigned node)
{
	mutex_lock(&arenas_mtx);
	unsigned total = atomic_load_relaxed(&arenas_ntotal);
	arena_t *a = NULL;
	bool revived = false;
	for (unsigned i = arenas_nauto; i < total; i++) {
		arena_t *old = atomic_load_relaxed(&arenas[i]);
		/* A destroyed arena without hooks keeps its memory, which an
		 * arena with hooks must not use; one with hooks has none. */
		if (old != NULL && atomic_load_relaxed(&old->destroyed) &&
		    (hooks == NULL || pages_hooks(&old->pages) != NULL)) {
			a = old;
			revived = true;
			pages_set_hooks(&a->pages, hooks);
			a->create_ns = clock_coarse_ns();
			atomic_store_release(&a->destroyed, false);
			break;
		}
	}
	if (a == NULL && total < ARENAS_MAX) {
		a = arena_create(total, node);
		if (a != NULL) {
			pages_set_hooks(&a->pages, hooks);
			atomic_store_release(&arenas[total], a);
			atomic_store_release(&arenas_ntotal, total + 1);
		}
	}
	mutex_unlock(&arenas_mtx);
	if (a == NULL)
		return EAGAIN;
	/* A revived arena keeps its pages: they move to the node asked for
	 * now that the lock is dropped (nobody has the index yet). */
	if (revived && node != arena_node(a))
		arena_bind(a, node);
	*ind = a->ind;
	return 0;
}

/* A manual arena's node when none is asked for: the home of the node the
 * creating thread runs on. */
static unsigned
arena_default_manual_node(void)
{
	return numa_home_node(numa_current_node());
}

int
arena_create_manual(unsigned *ind)
{
	return arena_create_manual_on(ind, NULL, arena_default_manual_node());
}

int
arena_create_with_hooks(unsigned *ind, extent_hooks_t *hooks)
{
	if (!extent_hooks_valid(hooks))
		return EINVAL;
	return arena_create_manual_on(ind, arena_hooks_internal(hooks), arena_default_manual_node());
}

int
arena_create_on_node(unsigned *ind, unsigned node)
{
	if (!numa_node_usable(node))
		return EINVAL;
	return arena_create_manual_on(ind, NULL, node);
}

unsigned
arena_node(arena_t *a)
{
	return pages_node(&a->pages);
}

int
arena_numa_node_get(unsigned ind, unsigned *node)
{
	arena_t *a = arena_get(ind, false);
	if (a != NULL)
		*node = arena_node(a);
	else if (ind < arenas_nauto)
		*node = arena_auto_node(ind); /* not created yet */
	else
		return EFAULT;
	return 0;
}

int
arena_numa_node_set(unsigned ind, unsigned node)
{
	if (!numa_node_usable(node))
		return EINVAL;
	arena_t *a = arena_get(ind, ind < arenas_nauto);
	if (a == NULL)
		return EFAULT;
	arena_bind(a, node);
	return 0;
}

int
arena_lookup(const void *ptr, unsigned *ind)
{
	uint64_t bits = emap_lookup(ptr);
	extent_t *e = emap_bits_extent(bits);
	if (e == NULL || e->state != EXTENT_ACTIVE)
		return EINVAL;
	*ind = e->arena_ind;
	return 0;
}

void (*arena_sampled_release)(const extent_sample_t *sample, size_t usize);

/* A large extent that arena reset frees: a sampled object's record is
 * released first. */
static void
arena_reset_large(extent_t *e)
{
	uint64_t bits = emap_lookup(e->addr);
	if (!emap_bits_sampled(bits) || arena_sampled_release == NULL)
		return;
	arena_sampled_release(&e->sample, sz_index2size(emap_bits_usable_szind(bits)));
}

int
arena_reset(unsigned ind)
{
	arena_t *a = ind >= arenas_nauto ? arena_get(ind, false) : NULL;
	if (a == NULL)
		return EFAULT;
	for (unsigned i = 0; i < SZ_NBINS; i++)
		bin_reset(&a->bins[i], a->pai);
	large_reset(a->pai, &a->large, arena_reset_large);
	return 0;
}

int
arena_destroy(unsigned ind)
{
	arena_t *a = ind >= arenas_nauto ? arena_get(ind, false) : NULL;
	if (a == NULL || atomic_load_relaxed(&a->nthreads) != 0)
		return EFAULT;
	arena_reset(ind);
	pai_purge(a->pai);
	/* Memory from hooks goes back through destroy (jemalloc's order:
	 * dalloc was tried by the purge); strata's own stays for reuse. */
	if (pages_hooks(&a->pages) != NULL)
		pages_release_free(&a->pages);
	/* Under arenas_mtx, as arena.h promises for every change of the arena
	 * table's state (arenas.create revives destroyed arenas under it). */
	mutex_lock(&arenas_mtx);
	if (arena_destroyed_hook != NULL)
		arena_destroyed_hook(a);
	atomic_store_release(&a->destroyed, true);
	mutex_unlock(&arenas_mtx);
	return 0;
}

void (*arena_destroyed_hook)(arena_t *a);

bool
arena_is_initialized(unsigned ind)
{
	return arena_get(ind, false) != NULL;
}

void
arena_postfork_child(void)
{
	for (unsigned i = 0; i < arena_narenas_total(); i++) {
		arena_t *a = atomic_load_acquire(&arenas[i]);
		if (a == NULL)
			continue;
		atomic_store_relaxed(&a->nthreads, 0);
		for (unsigned j = 0; j < SZ_NBINS; j++)
			bin_remote_postfork_child(&a->bins[j]);
	}
}

unsigned
arena_nthreads(unsigned ind)
{
	arena_t *a = arena_get(ind, false);
	return a != NULL ? atomic_load_relaxed(&a->nthreads) : 0;
}

/* Returns the regions other threads freed remotely to their slabs, so that
 * the slabs they empty can be purged. */
static void
arena_drain_remote(arena_t *a)
{
	for (unsigned i = 0; i < SZ_NBINS; i++)
		bin_remote_drain(&a->bins[i], i, a->pai);
}

size_t
arena_purge(unsigned ind)
{
	arena_t *a = arena_get(ind, false);
	if (a == NULL)
		return 0;
	arena_drain_remote(a);
	return pai_purge(a->pai);
}

size_t
arena_purge_all(void)
{
	size_t purged = 0;
	for (unsigned i = 0; i < arena_narenas_total(); i++)
		purged += arena_purge(i);
	return purged;
}

void
arena_decay(unsigned ind)
{
	arena_t *a = arena_get(ind, false);
	if (a == NULL)
		return;
	arena_drain_remote(a);
	pages_decay_run(&a->pages, clock_coarse_ns());
}

void
arena_decay_all(void)
{
	for (unsigned i = 0; i < arena_narenas_total(); i++)
		arena_decay(i);
}

ssize_t
arena_default_decay_ms(bool muzzy)
{
	return atomic_load_relaxed(&arena_default_decay[muzzy]);
}

int
arena_set_default_decay_ms(bool muzzy, ssize_t decay_ms)
{
	if (decay_ms < -1)
		return EINVAL;
	atomic_store_relaxed(&arena_default_decay[muzzy], decay_ms);
	return 0;
}

int
arena_decay_ms_get(unsigned ind, bool muzzy, ssize_t *decay_ms)
{
	arena_t *a = arena_get(ind, false);
	if (a == NULL)
		return EFAULT;
	*decay_ms = pages_decay_ms(&a->pages, muzzy);
	return 0;
}

int
arena_decay_ms_set(unsigned ind, bool muzzy, ssize_t decay_ms)
{
	if (decay_ms < -1)
		return EINVAL;
	arena_t *a = arena_get(ind, false);
	if (a == NULL)
		return EFAULT;
	pages_set_decay_ms(&a->pages, muzzy, decay_ms);
	return 0;
}

int
arena_extent_hooks_get(unsigned ind, extent_hooks_t **hooks)
{
	arena_t *a = arena_get(ind, false);
	if (a == NULL) {
		if (ind >= arenas_nauto)
			return EFAULT;
		*hooks = (extent_hooks_t *)&extent_hooks_default;
		return 0;
	}
	extent_hooks_t *h = pages_hooks(&a->pages);
	*hooks = h != NULL ? h : (extent_hooks_t *)&extent_hooks_default;
	return 0;
}

int
arena_extent_hooks_set(unsigned ind, extent_hooks_t *hooks)
{
	if (!extent_hooks_valid(hooks))
		return EINVAL;
	/* An automatic arena not created yet is created with them. */
	arena_t *a = arena_get(ind, ind < arenas_nauto);
	if (a == NULL)
		return EFAULT;
	pages_set_hooks(&a->pages, arena_hooks_internal(hooks));
	return 0;
}

int
arena_retain_grow_limit_get(unsigned ind, size_t *limit)
{
	arena_t *a = arena_get(ind, false);
	if (a == NULL)
		return EFAULT;
	*limit = pages_retain_grow_limit(&a->pages);
	return 0;
}

int
arena_retain_grow_limit_set(unsigned ind, size_t limit)
{
	arena_t *a = arena_get(ind, false);
	if (a == NULL || limit < PAGE)
		return EFAULT;
	/* Rounded down to a page-size class, as jemalloc stores it. */
	unsigned last = SZ_NPSIZES - 1;
	unsigned pind = limit >= sz_pind2sz_tab[last] ? last : sz_psz2ind_floor(limit);
	pages_set_retain_grow_limit(&a->pages, sz_pind2sz_tab[pind]);
	return 0;
}
