/*
 * tcache.c — thread caches: capacities, refill, flush, GC, explicit caches.
 * See tcache.h for the model.
 *
 * Capacities are fixed at boot from the options: a small class caches
 * nregs * 2^lg_tcache_nslots_mul objects clamped to
 * [tcache_nslots_small_min, tcache_nslots_small_max]; a large class up to
 * tcache_max caches tcache_nslots_large.  All bins of one cache share one
 * slot block, allocated from the cache's arena base and recycled through
 * tcache_spare_blocks when a cache is destroyed (thread exit).  Each bin's
 * stack is preceded by a NULL sentinel slot, so the double-free check can
 * read stack[ncached - 1] without testing for an empty stack.
 *
 * Locks: tcache_list_mtx protects the list of live caches, the spare blocks
 * and the explicit-cache table.  Flushing takes the lock of the cache's own
 * arena's bin once per group of objects (never two bin locks at once) and
 * pushes other arenas' objects on their bins' remote rings.
 */
#include <errno.h>
#include <string.h>

#include "conf.h"
#include "debug.h"
#include "emap.h"
#include "msg.h"
#include "safety.h"
#include "tcache.h"
#include "tsd.h"

unsigned tcache_nbins;
static uint16_t tcache_capacity[TCACHE_NBINS_MAX];
static size_t tcache_block_slots; /* sum of capacities */

static mutex_t tcache_list_mtx = MUTEX_INITIALIZER("tcache list", MUTEX_RANK_TCACHE_LIST);
static tcache_t *tcache_list;       /* live caches, for stats */
static void **tcache_spare_blocks;  /* released slot blocks, linked by slot 0 */
static _Atomic(tcache_t *) tcaches_table[TCACHES_MAX]; /* read without the lock */
static tcache_t *tcaches_spare;     /* destroyed explicit caches, by list_next */

/* Objects processed per flush group (bounded stack use). */
#define TCACHE_FLUSH_CHUNK 128

static unsigned
tcache_small_capacity(unsigned binind)
{
	uint64_t n = sz_bin_info[binind].nregs;
	ssize_t mul = opt_lg_tcache_nslots_mul;
	n = mul >= 0 ? n << (mul > 16 ? 16 : mul) : n >> (-mul > 16 ? 16 : -mul);
	unsigned lo = opt_tcache_nslots_small_min, hi = opt_tcache_nslots_small_max;
	if (lo > hi)
		lo = hi;
	if (n < lo)
		n = lo;
	if (n > hi)
		n = hi;
	if (n > 1)
		n &= ~(uint64_t)1; /* even, so a half-flush is exact */
	return (unsigned)n;
}

void
tcache_boot(void)
{
	mutex_register(&tcache_list_mtx, NULL);
	/* jemalloc's rounding: the class of tcache_max is the last one cached, and
	 * the 8-byte class always is. */
	size_t maxclass = opt_tcache_max > TCACHE_MAXCLASS_LIMIT ? TCACHE_MAXCLASS_LIMIT
	                                                          : opt_tcache_max;
	tcache_nbins = sz_size2index(maxclass) + 1;
	tcache_block_slots = 0;
	for (unsigned i = 0; i < TCACHE_NBINS_MAX; i++) {
		unsigned cap = 0;
		if (i < tcache_nbins)
			cap = i < SZ_NBINS ? tcache_small_capacity(i) : opt_tcache_nslots_large;
		if (cap > TCACHE_NSLOTS_MAX)
			cap = TCACHE_NSLOTS_MAX;
		tcache_capacity[i] = (uint16_t)cap;
		tcache_block_slots += 1 + cap; /* the sentinel, then the stack */
	}
}

static void **
tcache_block_get(arena_t *arena)
{
	mutex_lock(&tcache_list_mtx);
	void **block = tcache_spare_blocks;
	if (block != NULL) {
		tcache_spare_blocks = (void **)block[0];
		block[0] = NULL; /* bin 0's sentinel carried the list link */
	}
	mutex_unlock(&tcache_list_mtx);
	if (block == NULL)
		block = base_alloc(&arena->base, tcache_block_slots * sizeof(void *), CACHELINE);
	return block;
}

static void
tcache_list_insert(tcache_t *tcache)
{
	mutex_lock(&tcache_list_mtx);
	tcache->list_prev = NULL;
	tcache->list_next = tcache_list;
	if (tcache_list != NULL)
		tcache_list->list_prev = tcache;
	tcache_list = tcache;
	mutex_unlock(&tcache_list_mtx);
}

static void
tcache_list_remove(tcache_t *tcache)
{
	mutex_lock(&tcache_list_mtx);
	if (tcache->list_prev != NULL)
		tcache->list_prev->list_next = tcache->list_next;
	else
		tcache_list = tcache->list_next;
	if (tcache->list_next != NULL)
		tcache->list_next->list_prev = tcache->list_prev;
	mutex_unlock(&tcache_list_mtx);
}

/* Points every bin into the slot block and sets capacities (0: not cached). */
static void
tcache_bins_setup(tcache_t *tcache, bool on)
{
	void **slot = tcache->slots;
	for (unsigned i = 0; i < TCACHE_NBINS_MAX; i++) {
		cache_bin_t *bin = &tcache->bins[i];
		uint16_t cap = on ? tcache_capacity[i] : 0;
		void **stack = slot != NULL ? slot + 1 : NULL; /* after the sentinel */
		*bin = (cache_bin_t){.stack = stack, .ncached_max = cap,
		                     .nfill = (uint16_t)(cap > 1 ? cap / 2 : cap)};
		if (slot != NULL)
			slot += 1 + tcache_capacity[i];
	}
}

int
tcache_init(tcache_t *tcache, arena_t *arena)
{
	memset(tcache, 0, sizeof(*tcache));
	tcache->arena = arena;
	tcache_list_insert(tcache);
	return tcache_set_enabled(tcache, opt_tcache);
}

int
tcache_set_enabled(tcache_t *tcache, bool enabled)
{
	if (enabled == tcache->enabled)
		return 0;
	if (!enabled) {
		tcache_flush(tcache);
		tcache_bins_setup(tcache, false);
		tcache->enabled = false;
		return 0;
	}
	if (tcache->slots == NULL)
		tcache->slots = tcache_block_get(tcache->arena);
	if (tcache->slots == NULL)
		return ENOMEM;
	tcache_bins_setup(tcache, true);
	tcache->enabled = true;
	return 0;
}

void
tcache_destroy(tcache_t *tcache)
{
	tcache_set_enabled(tcache, false);
	tcache_list_remove(tcache);
	if (tcache->slots != NULL) {
		mutex_lock(&tcache_list_mtx);
		tcache->slots[0] = (void *)tcache_spare_blocks;
		tcache_spare_blocks = tcache->slots;
		mutex_unlock(&tcache_list_mtx);
		tcache->slots = NULL;
		tcache_bins_setup(tcache, false);
	}
}

void
tcache_double_free(void *ptr)
{
	safety_check_fail("free(): double free of %p\n", ptr);
}

/* Returns objects of class binind, all of arena arena_ind, to their bin:
 * under its lock when the cache refills from that arena or safety_checks
 * wants each region checked against its slab now, else on the bin's remote
 * ring (docs/design.md, "Remote frees"). */
static void
tcache_flush_group(tcache_t *tcache, unsigned binind, unsigned arena_ind,
                   extent_t *const *slabs, void *const *objs, unsigned n)
{
	arena_t *arena = arena_get(arena_ind, false);
	bin_t *bin = &arena->bins[binind];
	if (arena == tcache->arena || opt_safety_checks)
		bin_free_batch(bin, binind, arena->pai, slabs, objs, n);
	else
		bin_free_remote(bin, binind, arena->pai, slabs, objs, n);
}

/* Returns objs[0..n) of small class binind to their arenas' bins, one
 * group per arena. */
static void
tcache_flush_small(tcache_t *tcache, unsigned binind, void *const *objs, unsigned n)
{
	extent_t *slabs[TCACHE_FLUSH_CHUNK];
	/* The objects at the bottom of a cache were freed long ago: their page
	 * map entries and slab descriptors are rarely still cached, so they
	 * are loaded together (bin_lookup_slabs prefetches). */
	bin_lookup_slabs(binind, objs, slabs, n);
	bool one_arena = true;
	for (unsigned i = 1; i < n; i++)
		one_arena &= slabs[i]->arena_ind == slabs[0]->arena_ind;
	if (LIKELY(one_arena)) {
		tcache_flush_group(tcache, binind, slabs[0]->arena_ind, slabs, objs, n);
		return;
	}
	void *pending[TCACHE_FLUSH_CHUNK];
	memcpy(pending, objs, n * sizeof(void *));
	while (n > 0) {
		unsigned arena_ind = slabs[0]->arena_ind;
		unsigned mine = 0, rest = 0;
		/* Partition: this arena's objects first, the others after. */
		void *group[TCACHE_FLUSH_CHUNK];
		extent_t *group_slabs[TCACHE_FLUSH_CHUNK];
		for (unsigned i = 0; i < n; i++) {
			if (slabs[i]->arena_ind == arena_ind) {
				group[mine] = pending[i];
				group_slabs[mine++] = slabs[i];
			} else {
				pending[rest] = pending[i];
				slabs[rest++] = slabs[i];
			}
		}
		tcache_flush_group(tcache, binind, arena_ind, group_slabs, group, mine);
		n = rest;
	}
}

/* Flushes the nflush coldest objects (the bottom of the stack). */
static void
tcache_bin_flush_bottom(tcache_t *tcache, unsigned binind, unsigned nflush)
{
	cache_bin_t *bin = &tcache->bins[binind];
	for (unsigned done = 0; done < nflush;) {
		unsigned n = nflush - done < TCACHE_FLUSH_CHUNK ? nflush - done : TCACHE_FLUSH_CHUNK;
		void **objs = bin->stack + done;
		if (binind < SZ_NBINS) {
			tcache_flush_small(tcache, binind, objs, n);
		} else {
			for (unsigned i = 0; i < n; i++)
				arena_dalloc(objs[i], emap_lookup(objs[i]));
		}
		done += n;
	}
	bin->ncached -= nflush;
	memmove(bin->stack, bin->stack + nflush, bin->ncached * sizeof(void *));
	if (bin->low_water > bin->ncached)
		bin->low_water = bin->ncached;
}

void
tcache_flush(tcache_t *tcache)
{
	for (unsigned i = 0; i < TCACHE_NBINS_MAX; i++) {
		if (tcache->bins[i].ncached != 0)
			tcache_bin_flush_bottom(tcache, i, tcache->bins[i].ncached);
	}
}

/* The low-water mark never exceeds what is cached, nor that the capacity. */
static bool
tcache_bin_consistent(const cache_bin_t *bin)
{
	return bin->low_water <= bin->ncached && bin->ncached <= bin->ncached_max &&
	       (bin->ncached_max == 0 || bin->stack[-1] == NULL);
}

void *
tcache_alloc_refill(tcache_t *tcache, unsigned binind)
{
	cache_bin_t *bin = &tcache->bins[binind];
	DEBUG_ASSERT(bin->ncached == 0 && tcache_bin_consistent(bin));
	if (bin->ncached_max == 0)
		return NULL;
	arena_t *arena = tcache->arena;
	if (binind >= SZ_NBINS)
		return arena_malloc(arena, sz_index2size(binind), binind, 0, false);
	unsigned n = bin_refill(&arena->bins[binind], binind, arena->pai, bin->stack, bin->nfill,
	                        bin->ncached_max);
	if (n == 0)
		return NULL;
	/* Reversed, so that pops (from the top) follow the bin's order: the
	 * remote ring's objects first, then the slabs' regions, lowest
	 * address first. */
	for (unsigned i = 0, j = n - 1; i < j; i++, j--) {
		void *t = bin->stack[i];
		bin->stack[i] = bin->stack[j];
		bin->stack[j] = t;
	}
	bin->ncached = (uint16_t)(n - 1);
	DEBUG_ASSERT(tcache_bin_consistent(bin));
	return bin->stack[n - 1];
}

void
tcache_dalloc_flush(tcache_t *tcache, unsigned binind, void *ptr)
{
	cache_bin_t *bin = &tcache->bins[binind];
	if (UNLIKELY(bin->stack[bin->ncached - 1] == ptr)) {
		tcache_double_free(ptr);
		return;
	}
	DEBUG_ASSERT(bin->ncached == bin->ncached_max && tcache_bin_consistent(bin));
	unsigned div = binind < SZ_NBINS ? opt_lg_tcache_flush_small_div
	                                 : opt_lg_tcache_flush_large_div;
	unsigned keep = bin->ncached_max >> div; /* jemalloc's rule: keep 1/2^div */
	tcache_bin_flush_bottom(tcache, binind, bin->ncached - keep);
	bin->stack[bin->ncached++] = ptr;
	DEBUG_ASSERT(tcache_bin_consistent(bin));
}

void
tcache_gc_step(tcache_t *tcache)
{
	if (tcache_nbins == 0)
		return;
	unsigned binind = tcache->gc_next;
	tcache->gc_next = binind + 1 < tcache_nbins ? binind + 1 : 0;
	cache_bin_t *bin = &tcache->bins[binind];
	DEBUG_ASSERT(tcache_bin_consistent(bin));
	if (bin->low_water > 0) {
		/* Unused since the last visit: return 3/4 of it, refill less. */
		tcache_bin_flush_bottom(tcache, binind, bin->low_water - bin->low_water / 4);
		if (bin->nfill > 1)
			bin->nfill /= 2;
	} else if (bin->nfill < bin->ncached_max / 2) {
		bin->nfill *= 2; /* emptied since the last visit: refill more */
	}
	bin->low_water = bin->ncached;
}

void
tcache_postfork_child(tcache_t *survivor)
{
	tcache_list = NULL;
	if (survivor != NULL)
		tcache_list_insert(survivor);
	for (unsigned id = 0; id < TCACHES_MAX; id++) {
		tcache_t *t = atomic_load_relaxed(&tcaches_table[id]);
		if (t != NULL)
			tcache_list_insert(t);
	}
}

size_t
tcache_bytes_of_arena(unsigned arena_ind)
{
	size_t bytes = 0;
	mutex_lock(&tcache_list_mtx);
	for (tcache_t *t = tcache_list; t != NULL; t = t->list_next) {
		if (t->arena == NULL || t->arena->ind != arena_ind)
			continue;
		for (unsigned i = 0; i < TCACHE_NBINS_MAX; i++)
			bytes += (size_t)((volatile cache_bin_t *)&t->bins[i])->ncached *
			         sz_index2size(i); /* the owner may be changing it: approximate */
	}
	mutex_unlock(&tcache_list_mtx);
	return bytes;
}

/* ---------------------------------------------------------------- explicit */

int
tcaches_create(arena_t *arena, unsigned *id)
{
	if (arena == NULL) {
		tsd_t *tsd = tsd_fetch();
		if (tsd == NULL)
			return EAGAIN;
		arena = tsd->arena;
	}
	mutex_lock(&tcache_list_mtx);
	unsigned slot = 0;
	while (slot < TCACHES_MAX && atomic_load_relaxed(&tcaches_table[slot]) != NULL)
		slot++;
	tcache_t *t = tcaches_spare;
	if (t != NULL)
		tcaches_spare = t->list_next;
	mutex_unlock(&tcache_list_mtx);
	if (slot == TCACHES_MAX)
		return EAGAIN;
	if (t == NULL)
		t = base_alloc(&arena->base, sizeof(tcache_t), CACHELINE);
	if (t == NULL || tcache_init(t, arena) != 0)
		return EAGAIN;
	if (!t->enabled)
		tcache_set_enabled(t, true); /* explicit caches cache even with tcache:false */
	mutex_lock(&tcache_list_mtx);
	if (slot < TCACHES_MAX && atomic_load_relaxed(&tcaches_table[slot]) != NULL) {
		slot = 0; /* taken meanwhile: find another */
		while (slot < TCACHES_MAX && atomic_load_relaxed(&tcaches_table[slot]) != NULL)
			slot++;
	}
	if (slot < TCACHES_MAX)
		atomic_store_release(&tcaches_table[slot], t);
	mutex_unlock(&tcache_list_mtx);
	if (slot == TCACHES_MAX) {
		tcache_destroy(t);
		return EAGAIN;
	}
	*id = slot;
	return 0;
}

tcache_t *
tcaches_get(unsigned id)
{
	if (id >= TCACHES_MAX)
		return NULL;
	return atomic_load_acquire(&tcaches_table[id]);
}

int
tcaches_flush(unsigned id)
{
	tcache_t *t = tcaches_get(id);
	if (t == NULL)
		return EFAULT;
	tcache_flush(t);
	return 0;
}

int
tcaches_destroy(unsigned id)
{
	mutex_lock(&tcache_list_mtx);
	tcache_t *t = id < TCACHES_MAX ? atomic_load_relaxed(&tcaches_table[id]) : NULL;
	if (t != NULL)
		atomic_store_release(&tcaches_table[id], NULL);
	mutex_unlock(&tcache_list_mtx);
	if (t == NULL)
		return EFAULT;
	tcache_destroy(t);
	mutex_lock(&tcache_list_mtx);
	t->list_next = tcaches_spare;
	tcaches_spare = t;
	mutex_unlock(&tcache_list_mtx);
	return 0;
}
