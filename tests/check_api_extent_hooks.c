/*
 * check_api_extent_hooks.c — extent hooks seen from a program
 * (docs/compat.md, "Extent hooks"): an arena created with hooks that serve
 * memory from one pool the test maps itself, and count every call.
 *   - small, large and huge objects of that arena all lie in the pool, and
 *     the arena maps exactly what alloc handed it (nothing from elsewhere);
 *   - purge runs jemalloc's cascade (dalloc, decommit, purge_forced,
 *     purge_lazy), a decommitted extent is committed before reuse, and
 *     destroy gives back all that dalloc did not;
 *   - hooks that refuse split, merge, dalloc and purging still serve every
 *     request; an alloc hook that fails gives NULL;
 *   - arena.<i>.extent_hooks reads back what was set, reads the default
 *     table for a normal arena, and the default functions wrapped by a
 *     counting shim serve an arena of their own;
 *   - arena.<i>.retain_grow_limit caps what alloc is asked for;
 *     experimental.arenas_create_ext, arena.<i>.dss, arenas.bin.<i>.nshards.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "api_util.h"

#define PAGE_SIZE ((size_t)4096)
#define POOL_SIZE ((size_t)512 << 20)

/* ------------------------------------------------------------ the pool hooks */

/* What the hooks do and what they saw. */
static struct {
	char *base;          /* the pool: one mapping made by the test */
	size_t used;         /* bump pointer */
	unsigned arena_ind;  /* the arena the hooks serve (0: not checked yet) */
	bool fail_alloc;     /* alloc returns NULL */
	bool dalloc_accepts; /* dalloc returns false (else opts out) */
	bool decommit_accepts;
	bool refuse_split, refuse_merge;
	unsigned nalloc, ndalloc, ndestroy, ncommit, ndecommit, npurge_lazy, npurge_forced, nsplit,
	    nmerge;
	size_t alloc_bytes, dalloc_bytes, destroy_bytes, max_alloc;
	bool bad_call; /* a hook saw an argument out of contract */
} pool;

static extent_hooks_t pool_hooks;

/* Every hook checks its own contract: its table, the arena, page-multiple
 * sizes and a range inside the pool. */
static void
pool_check(extent_hooks_t *h, void *addr, size_t size, unsigned ind)
{
	char *a = addr;
	if (h != &pool_hooks || (pool.arena_ind != 0 && ind != pool.arena_ind) ||
	    size == 0 || size % PAGE_SIZE != 0 || a < pool.base || a + size > pool.base + pool.used)
		pool.bad_call = true;
}

static void *
pool_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment, bool *zero,
           bool *commit, unsigned ind)
{
	if (h != &pool_hooks || (pool.arena_ind != 0 && ind != pool.arena_ind) ||
	    size % PAGE_SIZE != 0 || alignment < PAGE_SIZE || (alignment & (alignment - 1)) != 0)
		pool.bad_call = true;
	pool.nalloc++;
	if (pool.fail_alloc || new_addr != NULL)
		return NULL;
	size_t start = (pool.used + alignment - 1) & ~(alignment - 1);
	if (start + size > POOL_SIZE)
		return NULL;
	pool.used = start + size;
	pool.alloc_bytes += size;
	if (size > pool.max_alloc)
		pool.max_alloc = size;
	/* Fresh pool pages read zero; committing is a no-op here. */
	*zero = true;
	*commit = true;
	return pool.base + start;
}

static bool
pool_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
	(void)committed;
	pool_check(h, addr, size, ind);
	pool.ndalloc++;
	if (!pool.dalloc_accepts)
		return true;
	pool.dalloc_bytes += size;
	return false;
}

static void
pool_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
	(void)committed;
	pool_check(h, addr, size, ind);
	pool.ndestroy++;
	pool.destroy_bytes += size;
}

static bool
pool_commit(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
            unsigned ind)
{
	pool_check(h, addr, size, ind);
	if (offset + length > size)
		pool.bad_call = true;
	pool.ncommit++;
	memset((char *)addr + offset, 0, length); /* committed memory reads zero */
	return false;
}

static bool
pool_decommit(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
              unsigned ind)
{
	pool_check(h, addr, size, ind);
	if (offset + length > size)
		pool.bad_call = true;
	pool.ndecommit++;
	if (!pool.decommit_accepts)
		return true;
	/* Poison it: an allocation that skipped the commit would see this. */
	memset((char *)addr + offset, 0xa5, length);
	return false;
}

static bool
pool_purge_lazy(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
                unsigned ind)
{
	(void)offset;
	(void)length;
	pool_check(h, addr, size, ind);
	pool.npurge_lazy++;
	return false;
}

static bool
pool_purge_forced(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
                  unsigned ind)
{
	pool_check(h, addr, size, ind);
	pool.npurge_forced++;
	return madvise((char *)addr + offset, length, MADV_DONTNEED) != 0;
}

static bool
pool_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a, size_t size_b,
           bool committed, unsigned ind)
{
	(void)committed;
	pool_check(h, addr, size, ind);
	if (size_a + size_b != size || size_a % PAGE_SIZE != 0 || size_b % PAGE_SIZE != 0)
		pool.bad_call = true;
	pool.nsplit++;
	return pool.refuse_split;
}

static bool
pool_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b, size_t size_b,
           bool committed, unsigned ind)
{
	(void)committed;
	pool_check(h, addr_a, size_a, ind);
	pool_check(h, addr_b, size_b, ind);
	if ((char *)addr_a + size_a != (char *)addr_b)
		pool.bad_call = true;
	pool.nmerge++;
	return pool.refuse_merge;
}

static void
pool_setup(void)
{
	/* No purger thread calling the hooks behind the test's back. */
	bool off = false;
	mallctl("background_thread", NULL, NULL, &off, sizeof(off));
	memset(&pool, 0, sizeof(pool));
	pool.base = mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(pool.base, MAP_FAILED);
	pool_hooks = (extent_hooks_t){
		.alloc = pool_alloc,
		.dalloc = pool_dalloc,
		.destroy = pool_destroy,
		.commit = pool_commit,
		.decommit = pool_decommit,
		.purge_lazy = pool_purge_lazy,
		.purge_forced = pool_purge_forced,
		.split = pool_split,
		.merge = pool_merge,
	};
}

static bool
in_pool(const void *p, size_t size)
{
	const char *c = p;
	return c >= pool.base && c + size <= pool.base + pool.used;
}

/* ------------------------------------------------------------ helpers */

static unsigned
arena_create_hooked(extent_hooks_t *hooks)
{
	unsigned ind;
	size_t len = sizeof(ind);
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, &hooks, sizeof(hooks)), 0);
	pool.arena_ind = ind;
	return ind;
}

static void
arena_call(unsigned ind, const char *what)
{
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.%s", ind, what);
	ck_assert_msg(mallctl(name, NULL, NULL, NULL, 0) == 0, "%s", name);
}

static extent_hooks_t *
arena_hooks_read(unsigned ind)
{
	char name[64];
	extent_hooks_t *h = NULL;
	size_t len = sizeof(h);
	snprintf(name, sizeof(name), "arena.%u.extent_hooks", ind);
	ck_assert_int_eq(mallctl(name, &h, &len, NULL, 0), 0);
	return h;
}

/* Bytes the arena holds in any state, from its stats after an epoch. */
static size_t
arena_mapped(unsigned ind)
{
	uint64_t epoch = 1;
	ck_assert_int_eq(mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch)), 0);
	char name[64];
	size_t pages = 0;
	const char *counts[] = {"pactive", "pdirty", "pmuzzy"};
	for (unsigned i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "stats.arenas.%u.%s", ind, counts[i]);
		pages += read_size(name);
	}
	snprintf(name, sizeof(name), "stats.arenas.%u.retained", ind);
	return pages * PAGE_SIZE + read_size(name);
}

#define NSMALL 2000
#define NLARGE 64

/* Allocates small, large and huge objects in the arena, checks each lies in
 * the pool and holds its pattern, and frees them. */
static void
exercise_arena(unsigned ind)
{
	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	static void *small[NSMALL], *large[NLARGE];
	for (unsigned i = 0; i < NSMALL; i++) {
		size_t size = 8 + (i % 40) * 48;
		small[i] = mallocx(size, flags);
		ck_assert_ptr_nonnull(small[i]);
		expect(in_pool(small[i], size), "small %p not in the pool", small[i]);
		memset(small[i], (int)(i & 0xff), size);
	}
	for (unsigned i = 0; i < NLARGE; i++) {
		size_t size = 16 * KiB + i * 12 * KiB;
		large[i] = mallocx(size, flags | MALLOCX_ZERO);
		ck_assert_ptr_nonnull(large[i]);
		expect(in_pool(large[i], size), "large %p not in the pool", large[i]);
		expect(first_not(large[i], 0, size, 0) == SIZE_MAX, "large not zeroed");
		fill(large[i], size, i);
	}
	void *huge = mallocx(24 * MiB, flags);
	ck_assert_ptr_nonnull(huge);
	ck_assert(in_pool(huge, 24 * MiB));
	void *aligned = mallocx(3 * MiB, flags | MALLOCX_ALIGN(2 * MiB));
	ck_assert_ptr_nonnull(aligned);
	ck_assert(in_pool(aligned, 3 * MiB));
	ck_assert(is_aligned(aligned, 2 * MiB));
	unsigned owner = 0;
	size_t len = sizeof(owner);
	ck_assert_int_eq(mallctl("arenas.lookup", &owner, &len, &huge, sizeof(huge)), 0);
	ck_assert_uint_eq(owner, ind);
	for (unsigned i = 0; i < NLARGE; i++) {
		size_t size = 16 * KiB + i * 12 * KiB;
		ck_assert_uint_eq(first_mismatch(large[i], size, i), SIZE_MAX);
		dallocx(large[i], flags);
	}
	for (unsigned i = 0; i < NSMALL; i += 2)
		dallocx(small[i], flags);
	dallocx(huge, flags);
	dallocx(aligned, flags);
	/* The other half stays live for reset. */
}

/* ------------------------------------------------------------ tests */

START_TEST(test_pool_arena_every_hook)
{
	pool_setup();
	pool.decommit_accepts = true;
	unsigned ind = arena_create_hooked(&pool_hooks);
	ck_assert_ptr_eq(arena_hooks_read(ind), &pool_hooks);
	exercise_arena(ind);
	ck_assert_uint_gt(pool.nalloc, 0);
	ck_assert_uint_gt(pool.nsplit, 0); /* growth steps are cut to size */
	ck_assert_uint_gt(pool.nmerge, 0); /* freed neighbours join */
	/* Nothing of the arena comes from elsewhere. */
	ck_assert_uint_eq(arena_mapped(ind), pool.alloc_bytes);

	/* Purge: dalloc opts out, decommit accepts. */
	arena_call(ind, "purge");
	ck_assert_uint_gt(pool.ndalloc, 0);
	ck_assert_uint_gt(pool.ndecommit, 0);
	ck_assert_uint_eq(pool.npurge_forced, 0); /* the decommit did it */
	ck_assert_uint_eq(arena_mapped(ind), pool.alloc_bytes);

	/* Reset frees the live half; destroy gives everything back. */
	arena_call(ind, "reset");
	arena_call(ind, "destroy");
	ck_assert_uint_gt(pool.ndestroy, 0);
	ck_assert_uint_eq(pool.destroy_bytes + pool.dalloc_bytes, pool.alloc_bytes);
	ck_assert(!pool.bad_call);
}
END_TEST

START_TEST(test_decommitted_extent_is_committed_for_reuse)
{
	pool_setup();
	pool.decommit_accepts = true;
	unsigned ind = arena_create_hooked(&pool_hooks);
	/* Growth steps of one page: every mapping is what a request needs,
	 * so the second request can only be served by the decommitted one. */
	char name[64];
	size_t limit = PAGE_SIZE, size = 4 * MiB;
	snprintf(name, sizeof(name), "arena.%u.retain_grow_limit", ind);
	ck_assert_int_eq(mallctl(name, NULL, NULL, &limit, sizeof(limit)), 0);
	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	char *p = mallocx(size, flags);
	ck_assert_ptr_nonnull(p);
	memset(p, 0x11, size);
	dallocx(p, flags);
	arena_call(ind, "purge");
	ck_assert_uint_gt(pool.ndecommit, 0);
	ck_assert_uint_eq(pool.ncommit, 0);
	char *q = mallocx(size, flags | MALLOCX_ZERO);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_gt(pool.ncommit, 0);
	ck_assert_uint_eq(first_not(q, 0, size, 0), SIZE_MAX); /* not the poison */
	ck_assert_uint_eq(pool.alloc_bytes, size);
	ck_assert(!pool.bad_call);
}
END_TEST

START_TEST(test_purge_cascade_without_decommit)
{
	pool_setup();
	pool.dalloc_accepts = true;
	unsigned ind = arena_create_hooked(&pool_hooks);
	exercise_arena(ind);
	arena_call(ind, "reset");
	arena_call(ind, "purge");
	/* dalloc accepted: what it took is no longer the arena's. */
	ck_assert_uint_gt(pool.ndalloc, 0);
	ck_assert_uint_gt(pool.dalloc_bytes, 0);
	ck_assert_uint_eq(pool.ndecommit, 0);
	ck_assert_uint_eq(arena_mapped(ind), pool.alloc_bytes - pool.dalloc_bytes);
	arena_call(ind, "destroy");
	ck_assert_uint_eq(pool.destroy_bytes + pool.dalloc_bytes, pool.alloc_bytes);

	/* dalloc and decommit opt out: forced purge, and the pages read zero. */
	pool_setup();
	ind = arena_create_hooked(&pool_hooks);
	char *p = mallocx(1 * MiB, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE);
	ck_assert_ptr_nonnull(p);
	memset(p, 0x5a, 1 * MiB);
	dallocx(p, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE);
	arena_call(ind, "purge");
	ck_assert_uint_gt(pool.ndalloc, 0);
	ck_assert_uint_gt(pool.ndecommit, 0);
	ck_assert_uint_gt(pool.npurge_forced, 0);
	ck_assert_uint_eq(pool.dalloc_bytes, 0);
	ck_assert_uint_eq(arena_mapped(ind), pool.alloc_bytes);
	ck_assert(!pool.bad_call);
}
END_TEST

START_TEST(test_refusing_hooks)
{
	pool_setup();
	pool_hooks.dalloc = NULL;
	pool_hooks.decommit = NULL;
	pool_hooks.purge_lazy = NULL;
	pool_hooks.purge_forced = NULL;
	pool.refuse_split = true;
	pool.refuse_merge = true;
	unsigned ind = arena_create_hooked(&pool_hooks);
	exercise_arena(ind);
	ck_assert_uint_gt(pool.nsplit, 0);
	unsigned nalloc = pool.nalloc;
	/* Freed objects' extents are reused whole. */
	exercise_arena(ind);
	ck_assert_uint_lt(pool.nalloc - nalloc, nalloc);
	arena_call(ind, "purge");
	ck_assert_uint_eq(arena_mapped(ind), pool.alloc_bytes);
	arena_call(ind, "reset");
	arena_call(ind, "destroy");
	ck_assert_uint_eq(pool.destroy_bytes, pool.alloc_bytes);
	ck_assert(!pool.bad_call);
}
END_TEST

START_TEST(test_failing_alloc)
{
	pool_setup();
	pool.fail_alloc = true;
	unsigned ind = arena_create_hooked(&pool_hooks);
	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	ck_assert_ptr_null(mallocx(64, flags));
	ck_assert_ptr_null(mallocx(64 * KiB, flags));
	ck_assert_ptr_null(mallocx(64 * MiB, flags));
	ck_assert_uint_gt(pool.nalloc, 0);
	ck_assert_uint_eq(arena_mapped(ind), 0);
	pool.fail_alloc = false;
	void *p = mallocx(64, flags);
	ck_assert_ptr_nonnull(p);
	ck_assert(in_pool(p, 64));
	dallocx(p, flags);
}
END_TEST

START_TEST(test_hooks_node_rules)
{
	pool_setup();
	extent_hooks_t *def = arena_hooks_read(0);
	ck_assert_ptr_nonnull(def);
	ck_assert(def->alloc && def->dalloc && def->destroy && def->commit && def->decommit &&
	          def->purge_lazy && def->purge_forced && def->split && def->merge);
	unsigned ind;
	size_t len = sizeof(ind);
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, NULL, 0), 0);
	ck_assert_ptr_eq(arena_hooks_read(ind), def);

	/* Replace, read back, put back. */
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.extent_hooks", ind);
	extent_hooks_t *hooks = &pool_hooks, *old = NULL;
	len = sizeof(old);
	ck_assert_int_eq(mallctl(name, &old, &len, &hooks, sizeof(hooks)), 0);
	ck_assert_ptr_eq(old, def);
	ck_assert_ptr_eq(arena_hooks_read(ind), &pool_hooks);
	ck_assert_int_eq(mallctl(name, &old, &len, &def, sizeof(def)), 0);
	ck_assert_ptr_eq(old, &pool_hooks);
	ck_assert_ptr_eq(arena_hooks_read(ind), def);

	/* Wrong lengths, hooks without alloc, "all arenas", no arena. */
	ck_assert_int_eq(mallctl(name, NULL, NULL, &hooks, sizeof(hooks) - 1), EINVAL);
	extent_hooks_t no_alloc = pool_hooks;
	no_alloc.alloc = NULL;
	hooks = &no_alloc;
	ck_assert_int_eq(mallctl(name, NULL, NULL, &hooks, sizeof(hooks)), EINVAL);
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, &hooks, sizeof(hooks)), EINVAL);
	hooks = &pool_hooks;
	len = sizeof(ind);
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, &hooks, 3), EINVAL);
	len = 2;
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, &hooks, sizeof(hooks)), EINVAL);
	ck_assert_uint_eq(len, 0);
	len = sizeof(old);
	ck_assert_int_eq(mallctl("arena.4096.extent_hooks", &old, &len, NULL, 0), EFAULT);
	unsigned narenas = read_unsigned("arenas.narenas");
	snprintf(name, sizeof(name), "arena.%u.extent_hooks", narenas);
	ck_assert_int_eq(mallctl(name, &old, &len, NULL, 0), EFAULT);
}
END_TEST

/* The default hooks, wrapped by a shim that counts and passes every call on. */
static extent_hooks_t *shim_next;
static unsigned shim_nalloc, shim_ndalloc, shim_ndestroy, shim_nsplit, shim_nmerge,
    shim_npurge;
static size_t shim_alloc_bytes, shim_gone_bytes;
static extent_hooks_t shim_hooks;

static void *
shim_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment, bool *zero,
           bool *commit, unsigned ind)
{
	(void)h;
	shim_nalloc++;
	void *p = shim_next->alloc(shim_next, new_addr, size, alignment, zero, commit, ind);
	if (p != NULL)
		shim_alloc_bytes += size;
	return p;
}

static bool
shim_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
	(void)h;
	shim_ndalloc++;
	bool refused = shim_next->dalloc(shim_next, addr, size, committed, ind);
	if (!refused)
		shim_gone_bytes += size;
	return refused;
}

static void
shim_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
	(void)h;
	shim_ndestroy++;
	shim_gone_bytes += size;
	shim_next->destroy(shim_next, addr, size, committed, ind);
}

static bool
shim_purge_forced(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
                  unsigned ind)
{
	(void)h;
	shim_npurge++;
	return shim_next->purge_forced(shim_next, addr, size, offset, length, ind);
}

static bool
shim_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a, size_t size_b,
           bool committed, unsigned ind)
{
	(void)h;
	shim_nsplit++;
	return shim_next->split(shim_next, addr, size, size_a, size_b, committed, ind);
}

static bool
shim_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b, size_t size_b,
           bool committed, unsigned ind)
{
	(void)h;
	shim_nmerge++;
	return shim_next->merge(shim_next, addr_a, size_a, addr_b, size_b, committed, ind);
}

START_TEST(test_default_hooks_wrapped)
{
	shim_next = arena_hooks_read(0);
	shim_hooks = *shim_next;
	shim_hooks.alloc = shim_alloc;
	shim_hooks.dalloc = shim_dalloc;
	shim_hooks.destroy = shim_destroy;
	shim_hooks.purge_forced = shim_purge_forced;
	shim_hooks.split = shim_split;
	shim_hooks.merge = shim_merge;
	unsigned ind;
	size_t len = sizeof(ind);
	extent_hooks_t *hooks = &shim_hooks;
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, &hooks, sizeof(hooks)), 0);
	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	void *small[256], *big = mallocx(10 * MiB, flags);
	ck_assert_ptr_nonnull(big);
	fill(big, 10 * MiB, 3);
	for (unsigned i = 0; i < 256; i++) {
		small[i] = mallocx(200, flags);
		ck_assert_ptr_nonnull(small[i]);
		fill(small[i], 200, i);
	}
	ck_assert_uint_eq(first_mismatch(big, 10 * MiB, 3), SIZE_MAX);
	for (unsigned i = 0; i < 256; i++) {
		ck_assert_uint_eq(first_mismatch(small[i], 200, i), SIZE_MAX);
		dallocx(small[i], flags);
	}
	dallocx(big, flags);
	ck_assert_uint_gt(shim_nalloc, 0);
	ck_assert_uint_gt(shim_nsplit, 0);
	ck_assert_uint_eq(arena_mapped(ind), shim_alloc_bytes);
	arena_call(ind, "purge");
	/* The default dalloc unmaps: the arena keeps nothing it purged. */
	ck_assert_uint_gt(shim_ndalloc, 0);
	ck_assert_uint_eq(arena_mapped(ind), shim_alloc_bytes - shim_gone_bytes);
	arena_call(ind, "destroy");
	ck_assert_uint_eq(shim_gone_bytes, shim_alloc_bytes);
}
END_TEST

START_TEST(test_retain_grow_limit)
{
	size_t limit = read_size("arena.0.retain_grow_limit");
	ck_assert_uint_eq(limit, (size_t)7 << 60);
	size_t value = 100000, old = 0, len = sizeof(old);
	ck_assert_int_eq(mallctl("arena.0.retain_grow_limit", &old, &len, &value, sizeof(value)), 0);
	ck_assert_uint_eq(old, (size_t)7 << 60);
	ck_assert_uint_eq(read_size("arena.0.retain_grow_limit"), 96 * KiB); /* a page class */
	value = 100;
	ck_assert_int_eq(mallctl("arena.0.retain_grow_limit", NULL, NULL, &value, sizeof(value)),
	                 EFAULT);
	ck_assert_int_eq(mallctl("arena.0.retain_grow_limit", NULL, NULL, &value, 1), EINVAL);
	ck_assert_int_eq(mallctl("arena.4096.retain_grow_limit", &old, &len, NULL, 0), EFAULT);

	/* A hooked arena is asked for no more than the limit (or a request's
	 * own need). */
	pool_setup();
	unsigned ind = arena_create_hooked(&pool_hooks);
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.retain_grow_limit", ind);
	value = 128 * KiB;
	ck_assert_int_eq(mallctl(name, NULL, NULL, &value, sizeof(value)), 0);
	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	for (unsigned i = 0; i < 4000; i++)
		ck_assert_ptr_nonnull(mallocx(96, flags));
	ck_assert_uint_gt(pool.nalloc, 2);
	ck_assert_uint_le(pool.max_alloc, 128 * KiB);
	ck_assert_ptr_nonnull(mallocx(1 * MiB, flags));
	ck_assert_uint_eq(pool.max_alloc, 1 * MiB);
}
END_TEST

START_TEST(test_arenas_create_ext)
{
	pool_setup();
	struct {
		extent_hooks_t *extent_hooks;
		bool metadata_use_hooks;
	} config = {&pool_hooks, false};
	unsigned ind;
	size_t len = sizeof(ind);
	ck_assert_int_eq(
	    mallctl("experimental.arenas_create_ext", &ind, &len, &config, sizeof(config)), 0);
	pool.arena_ind = ind;
	ck_assert_ptr_eq(arena_hooks_read(ind), &pool_hooks);
	void *p = mallocx(5000, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE);
	ck_assert(in_pool(p, 5000));
	dallocx(p, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE);
	ck_assert_int_eq(mallctl("experimental.arenas_create_ext", &ind, &len, &config, 8), EINVAL);
	/* Without a value: an arena with the default hooks. */
	ck_assert_int_eq(mallctl("experimental.arenas_create_ext", &ind, &len, NULL, 0), 0);
	ck_assert_ptr_eq(arena_hooks_read(ind), arena_hooks_read(0));
}
END_TEST

START_TEST(test_dss_and_nshards)
{
	const char *dss = NULL, *set;
	size_t len = sizeof(dss);
	ck_assert_int_eq(mallctl("arena.0.dss", &dss, &len, NULL, 0), 0);
	ck_assert_str_eq(dss, "disabled");
	set = "disabled";
	ck_assert_int_eq(mallctl("arena.0.dss", &dss, &len, &set, sizeof(set)), 0);
	ck_assert_int_eq(mallctl("arena.4096.dss", &dss, &len, &set, sizeof(set)), 0);
	ck_assert_str_eq(dss, "disabled");
	set = "primary";
	ck_assert_int_eq(mallctl("arena.0.dss", NULL, NULL, &set, sizeof(set)), EFAULT);
	set = "secondary";
	ck_assert_int_eq(mallctl("arena.4096.dss", NULL, NULL, &set, sizeof(set)), EFAULT);
	set = "sbrk";
	ck_assert_int_eq(mallctl("arena.0.dss", NULL, NULL, &set, sizeof(set)), EINVAL);
	ck_assert_int_eq(mallctl("arena.0.dss", NULL, NULL, &set, 1), EINVAL);

	uint32_t nshards = 0;
	len = sizeof(nshards);
	ck_assert_int_eq(mallctl("arenas.bin.0.nshards", &nshards, &len, NULL, 0), 0);
	ck_assert_uint_eq(nshards, 1);
	ck_assert_int_eq(mallctl("arenas.bin.0.nshards", NULL, NULL, &nshards, sizeof(nshards)),
	                 EPERM);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_extent_hooks");
	TCase *tc = tcase_create("pool");
	tcase_add_test(tc, test_pool_arena_every_hook);
	tcase_add_test(tc, test_decommitted_extent_is_committed_for_reuse);
	tcase_add_test(tc, test_purge_cascade_without_decommit);
	tcase_add_test(tc, test_refusing_hooks);
	tcase_add_test(tc, test_failing_alloc);
	suite_add_tcase(s, tc);

	tc = tcase_create("nodes");
	tcase_add_test(tc, test_hooks_node_rules);
	tcase_add_test(tc, test_default_hooks_wrapped);
	tcase_add_test(tc, test_retain_grow_limit);
	tcase_add_test(tc, test_arenas_create_ext);
	tcase_add_test(tc, test_dss_and_nshards);
	suite_add_tcase(s, tc);
	return s;
}
