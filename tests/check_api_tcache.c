/*
 * check_api_tcache.c — the thread-cache and arena control nodes through
 * the public API of lib/libstrata.so: thread.arena, thread.tcache.enabled,
 * thread.tcache.flush, tcache.create/flush/destroy, arenas.create,
 * arenas.lookup, arena.<i>.initialized/reset/destroy, arenas.tcache_max,
 * arenas.nhbins and stats.arenas.<i>.nthreads/tcache_bytes.
 *
 * Return codes and length rules are jemalloc 5.3's (docs/compat.md, "mallctl", and
 * Debian's libjemalloc 5.3.0 observed where the reference is silent);
 * behaviour is checked through what a program can see: where a pointer's
 * memory comes from (arenas.lookup, the LIFO order of a cache), the bytes
 * held in caches and stats.allocated.  Each test runs in its own forked,
 * single-threaded child (check_main.c), so the only caches are the ones a
 * test makes.  Behaviour under MALLOC_CONF=tcache:false and
 * percpu_arena:percpu is checked in re-executed copies of this program (see
 * child_main).
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"

#define CHILD_ENV "STRATA_CHECK_API_TCACHE_CHILD"

/* ------------------------------------------------------------ helpers */

static int
write_unsigned(const char *name, unsigned v)
{
	return mallctl(name, NULL, NULL, &v, sizeof(v));
}

static int
write_bool(const char *name, bool v)
{
	return mallctl(name, NULL, NULL, &v, sizeof(v));
}

static int
epoch_advance(void)
{
	uint64_t one = 1;
	return mallctl("epoch", NULL, NULL, &one, sizeof(one));
}

/* Reads a size_t without calling into Check, for measurements that no
 * other allocation may disturb; SIZE_MAX on error. */
static size_t
raw_size(const char *name)
{
	size_t v, len = sizeof(v);
	return mallctl(name, &v, &len, NULL, 0) == 0 && len == sizeof(v) ? v : SIZE_MAX;
}

/* stats.arenas.<ind>.<field>, a size_t, from the current snapshot. */
static size_t
arena_stat_size(unsigned ind, const char *field)
{
	char name[96];
	snprintf(name, sizeof(name), "stats.arenas.%u.%s", ind, field);
	return raw_size(name);
}

static unsigned
arena_stat_nthreads(unsigned ind)
{
	char name[96];
	snprintf(name, sizeof(name), "stats.arenas.%u.nthreads", ind);
	return read_unsigned(name);
}

/* A node of arena <ind>: "arena.<ind>.<leaf>". */
static const char *
arena_node(char *buf, size_t size, unsigned ind, const char *leaf)
{
	snprintf(buf, size, "arena.%u.%s", ind, leaf);
	return buf;
}

static bool
arena_initialized(unsigned ind)
{
	char name[64];
	return read_bool(arena_node(name, sizeof(name), ind, "initialized"));
}

static int
arena_action(unsigned ind, const char *leaf)
{
	char name[64];
	return mallctl(arena_node(name, sizeof(name), ind, leaf), NULL, NULL, NULL, 0);
}

/* The arena that owns p, or UINT_MAX when arenas.lookup fails. */
static unsigned
lookup(void *p)
{
	unsigned ind = UINT_MAX;
	size_t len = sizeof(ind);
	return mallctl("arenas.lookup", &ind, &len, &p, sizeof(p)) == 0 ? ind : UINT_MAX;
}

static unsigned
arena_create(void)
{
	return read_unsigned("arenas.create");
}

static unsigned
tcache_create(void)
{
	return read_unsigned("tcache.create");
}

/* ------------------------------------------------------------ read-only nodes */

START_TEST(test_tcache_sizes_nodes)
{
	/* jemalloc 5.3 on x86-64: classes up to 32768, 41 of them. */
	ck_assert_uint_eq(read_size("opt.tcache_max"), 32768);
	ck_assert_uint_eq(read_size("arenas.tcache_max"), 32768);
	ck_assert_uint_eq(read_unsigned("arenas.nhbins"), 41);
	ck_assert(read_bool("opt.tcache"));
	size_t len = sizeof(size_t), v;
	ck_assert_int_eq(mallctl("opt.lg_tcache_max", &v, &len, NULL, 0), ENOENT);
	unsigned u = 1;
	ck_assert_int_eq(mallctl("arenas.nhbins", NULL, NULL, &u, sizeof(u)), EPERM);
	ck_assert_int_eq(mallctl("arenas.tcache_max", NULL, NULL, &v, sizeof(v)), EPERM);
	/* The largest cached class is a class: cached, and the next is not. */
	size_t max = read_size("arenas.tcache_max");
	ck_assert_uint_eq(nallocx(max, 0), max);
}
END_TEST

/* ------------------------------------------------------------ thread.arena */

START_TEST(test_thread_arena_round_trip)
{
	unsigned narenas = read_unsigned("arenas.narenas");
	unsigned cur = read_unsigned("thread.arena");
	ck_assert_uint_lt(cur, narenas);
	/* Writing the current index is a no-op that succeeds. */
	ck_assert_int_eq(write_unsigned("thread.arena", cur), 0);

	unsigned m = arena_create();
	unsigned old = UINT_MAX;
	size_t len = sizeof(old);
	ck_assert_int_eq(mallctl("thread.arena", &old, &len, &m, sizeof(m)), 0);
	ck_assert_uint_eq(old, cur); /* the value before the write */
	ck_assert_uint_eq(read_unsigned("thread.arena"), m);
	/* The thread's allocations now come from m, cached or not. */
	void *small = launder(malloc(100)), *large = launder(malloc(100000));
	ck_assert_uint_eq(lookup(small), m);
	ck_assert_uint_eq(lookup(large), m);
	free(small);
	free(large);

	ck_assert_int_eq(write_unsigned("thread.arena", cur), 0);
	ck_assert_uint_eq(read_unsigned("thread.arena"), cur);
	void *again = launder(mallocx(100, MALLOCX_TCACHE_NONE));
	ck_assert_uint_eq(lookup(again), cur);
	dallocx(again, MALLOCX_TCACHE_NONE);
}
END_TEST

START_TEST(test_thread_arena_errors)
{
	unsigned cur = read_unsigned("thread.arena");
	unsigned narenas = read_unsigned("arenas.narenas");
	/* Observed with jemalloc 5.3: an index not below arenas.narenas. */
	ck_assert_int_eq(write_unsigned("thread.arena", narenas), EFAULT);
	ck_assert_int_eq(write_unsigned("thread.arena", 4095), EFAULT);
	ck_assert_int_eq(write_unsigned("thread.arena", MALLCTL_ARENAS_ALL), EFAULT);
	ck_assert_int_eq(write_unsigned("thread.arena", UINT_MAX), EFAULT);
	ck_assert_uint_eq(read_unsigned("thread.arena"), cur);
	unsigned m = arena_create();
	ck_assert_int_eq(mallctl("thread.arena", NULL, NULL, &m, 2), EINVAL);
	/* A failed read cancels the write (jemalloc's order). */
	unsigned old = 0xffffffffu;
	size_t len = 2;
	ck_assert_int_eq(mallctl("thread.arena", &old, &len, &m, sizeof(m)), EINVAL);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(old, 0xffff0000u | cur);
	ck_assert_uint_eq(read_unsigned("thread.arena"), cur);
}
END_TEST

/* ------------------------------------------------------------ thread.tcache.* */

START_TEST(test_thread_tcache_flush_empties_cache)
{
	unsigned a = read_unsigned("thread.arena");
	void *p[16];
	for (int i = 0; i < 16; i++)
		p[i] = launder(malloc(64));
	for (int i = 0; i < 16; i++)
		free(p[i]);
	ck_assert_int_eq(epoch_advance(), 0);
	size_t cached = arena_stat_size(a, "tcache_bytes");
	ck_assert_uint_ge(cached, 16 * 64);
	ck_assert_uint_eq(arena_stat_size(MALLCTL_ARENAS_ALL, "tcache_bytes"), cached);

	int err = mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	int err2 = epoch_advance();
	size_t after = arena_stat_size(a, "tcache_bytes");
	size_t after_all = arena_stat_size(MALLCTL_ARENAS_ALL, "tcache_bytes");
	ck_assert_int_eq(err | err2, 0);
	ck_assert_uint_eq(after, 0);
	ck_assert_uint_eq(after_all, 0);
}
END_TEST

START_TEST(test_thread_tcache_flush_is_void)
{
	unsigned u = 0;
	size_t len = sizeof(u);
	ck_assert_int_eq(mallctl("thread.tcache.flush", &u, &len, NULL, 0), EPERM);
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, &len, NULL, 0), EPERM);
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, NULL, &u, sizeof(u)), EPERM);
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, NULL, NULL, 1), EPERM);
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
}
END_TEST

/* Bytes in the calling thread's arena's caches after a malloc/free pair of
 * size bytes, and the change of stats.allocated across it. */
static void
measure_pair(size_t size, size_t *cached, ptrdiff_t *allocated_delta)
{
	unsigned a = read_unsigned("thread.arena");
	ck_assert_int_eq(epoch_advance(), 0);
	size_t before = raw_size("stats.allocated");
	free(launder(malloc(size)));
	int err = epoch_advance();
	size_t after = raw_size("stats.allocated");
	*cached = arena_stat_size(a, "tcache_bytes");
	ck_assert_int_eq(err, 0);
	ck_assert(before != SIZE_MAX && after != SIZE_MAX && *cached != SIZE_MAX);
	*allocated_delta = (ptrdiff_t)(after - before);
}

START_TEST(test_thread_tcache_enabled)
{
	ck_assert(read_bool("thread.tcache.enabled"));
	size_t cached;
	ptrdiff_t delta;
	/* On: the freed object stays in the cache. */
	measure_pair(4096, &cached, &delta);
	ck_assert_uint_ge(cached, 4096);

	/* Off: the write returns the old value, and empties the cache. */
	bool old = false, off = false;
	size_t len = sizeof(old);
	ck_assert_int_eq(mallctl("thread.tcache.enabled", &old, &len, &off, sizeof(off)), 0);
	ck_assert(old);
	ck_assert(!read_bool("thread.tcache.enabled"));
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0), EFAULT);
	/* malloc/free pairs go straight back to the arena. */
	measure_pair(4096, &cached, &delta);
	ck_assert_uint_eq(cached, 0);
	ck_assert_int_eq(delta, 0);
	measure_pair(20000, &cached, &delta);
	ck_assert_uint_eq(cached, 0);
	ck_assert_int_eq(delta, 0);

	/* On again. */
	ck_assert_int_eq(write_bool("thread.tcache.enabled", true), 0);
	ck_assert(read_bool("thread.tcache.enabled"));
	measure_pair(4096, &cached, &delta);
	ck_assert_uint_ge(cached, 4096);
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(test_thread_tcache_enabled_lengths)
{
	bool b = false;
	ck_assert_int_eq(mallctl("thread.tcache.enabled", NULL, NULL, &b, 4), EINVAL);
	ck_assert(read_bool("thread.tcache.enabled"));
	/* A bad *oldlenp fails the read, but the write is done (observed with
	 * jemalloc 5.3). */
	uint32_t word = 0xffffffffu;
	size_t len = 3;
	ck_assert_int_eq(mallctl("thread.tcache.enabled", &word, &len, &b, sizeof(b)), EINVAL);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(word, 0xffffff01u);
	ck_assert(!read_bool("thread.tcache.enabled"));
	/* Any nonzero byte turns it on. */
	unsigned char two = 2;
	ck_assert_int_eq(mallctl("thread.tcache.enabled", NULL, NULL, &two, 1), 0);
	ck_assert(read_bool("thread.tcache.enabled"));
}
END_TEST

/* ------------------------------------------------------------ tcache.* */

START_TEST(test_tcache_create_lengths)
{
	unsigned id = 0xffffffffu;
	size_t len = 2;
	/* Nothing is created unless the id can be returned. */
	ck_assert_int_eq(mallctl("tcache.create", &id, &len, NULL, 0), EINVAL);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(id, 0xffffffffu);
	len = sizeof(id);
	ck_assert_int_eq(mallctl("tcache.create", NULL, &len, NULL, 0), EINVAL);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(mallctl("tcache.create", NULL, NULL, NULL, 0), EINVAL);
	len = sizeof(id);
	ck_assert_int_eq(mallctl("tcache.create", &id, &len, &id, sizeof(id)), EPERM);
	/* So the first cache really created gets the first id. */
	ck_assert_uint_eq(tcache_create(), 0);
	ck_assert_uint_eq(tcache_create(), 1);
}
END_TEST

START_TEST(test_tcache_explicit_use_flush_destroy)
{
	/* With the thread's own cache off, every cached byte is the explicit
	 * cache's. */
	ck_assert_int_eq(write_bool("thread.tcache.enabled", false), 0);
	unsigned a = read_unsigned("thread.arena");
	unsigned id = tcache_create();
	int flags = MALLOCX_TCACHE(id);

	void *p = launder(mallocx(64, flags));
	ck_assert_ptr_nonnull(p);
	dallocx(p, flags);
	/* The cache hands back what was freed into it last. */
	void *q = launder(mallocx(64, flags));
	ck_assert_ptr_eq(q, p);
	dallocx(q, flags);
	ck_assert_int_eq(epoch_advance(), 0);
	ck_assert_uint_ge(arena_stat_size(a, "tcache_bytes"), 64);
	ck_assert_uint_eq(arena_stat_size(MALLCTL_ARENAS_ALL, "tcache_bytes"),
	                  arena_stat_size(a, "tcache_bytes"));

	ck_assert_int_eq(write_unsigned("tcache.flush", id), 0);
	ck_assert_int_eq(epoch_advance(), 0);
	ck_assert_uint_eq(arena_stat_size(MALLCTL_ARENAS_ALL, "tcache_bytes"), 0);
	/* Still usable after a flush. */
	void *r = launder(mallocx(64, flags));
	ck_assert_ptr_nonnull(r);
	dallocx(r, flags);

	ck_assert_int_eq(write_unsigned("tcache.destroy", id), 0);
	ck_assert_int_eq(epoch_advance(), 0);
	ck_assert_uint_eq(arena_stat_size(MALLCTL_ARENAS_ALL, "tcache_bytes"), 0);
	/* A destroyed id is gone (jemalloc crashes on the second destroy)... */
	ck_assert_int_eq(write_unsigned("tcache.destroy", id), EFAULT);
	ck_assert_int_eq(write_unsigned("tcache.flush", id), EFAULT);
	ck_assert_ptr_null(mallocx(64, flags));
	/* ...until tcache.create hands it out again. */
	ck_assert_uint_eq(tcache_create(), id);
	void *s = launder(mallocx(64, flags));
	ck_assert_ptr_nonnull(s);
	dallocx(s, flags);
	ck_assert_int_eq(write_unsigned("tcache.destroy", id), 0);
}
END_TEST

START_TEST(test_tcache_flush_destroy_errors)
{
	unsigned id = tcache_create();
	static const char *const names[] = {"tcache.flush", "tcache.destroy"};
	for (int i = 0; i < 2; i++) {
		unsigned u = 0;
		size_t len = sizeof(u);
		/* Write-only. */
		ck_assert_int_eq(mallctl(names[i], &u, &len, &id, sizeof(id)), EPERM);
		ck_assert_int_eq(mallctl(names[i], NULL, &len, &id, sizeof(id)), EPERM);
		/* An id is required (observed with jemalloc 5.3). */
		ck_assert_int_eq(mallctl(names[i], NULL, NULL, NULL, 0), EINVAL);
		ck_assert_int_eq(mallctl(names[i], NULL, NULL, &id, 2), EINVAL);
		/* Ids that are not live. */
		ck_assert_int_eq(write_unsigned(names[i], id + 1), EFAULT);
		ck_assert_int_eq(write_unsigned(names[i], 4092), EFAULT);
		ck_assert_int_eq(write_unsigned(names[i], 4093), EFAULT);
		ck_assert_int_eq(write_unsigned(names[i], UINT_MAX), EFAULT);
	}
	/* None of that touched the live cache. */
	ck_assert_int_eq(write_unsigned("tcache.flush", id), 0);
	ck_assert_int_eq(write_unsigned("tcache.destroy", id), 0);
}
END_TEST

/* ------------------------------------------------------------ arenas.create, lookup */

START_TEST(test_arenas_create_and_lookup)
{
	unsigned narenas = read_unsigned("arenas.narenas");
	unsigned ind = arena_create();
	ck_assert_uint_eq(ind, narenas); /* a fresh index, at the end */
	ck_assert_uint_eq(read_unsigned("arenas.narenas"), narenas + 1);
	ck_assert(arena_initialized(ind));

	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	void *small = launder(mallocx(100, flags));
	void *large = launder(mallocx(1 << 20, flags));
	ck_assert_ptr_nonnull(small);
	ck_assert_ptr_nonnull(large);
	ck_assert_uint_eq(lookup(small), ind);
	ck_assert_uint_eq(lookup(large), ind);
	/* The thread's own arena is not the new one. */
	void *mine = launder(malloc(100));
	ck_assert_uint_eq(lookup(mine), read_unsigned("thread.arena"));
	ck_assert_uint_ne(lookup(mine), ind);
	free(mine);
	/* A second arena is another index. */
	unsigned ind2 = arena_create();
	ck_assert_uint_eq(ind2, ind + 1);
	void *other = launder(mallocx(100, MALLOCX_ARENA(ind2) | MALLOCX_TCACHE_NONE));
	ck_assert_uint_eq(lookup(other), ind2);
	dallocx(other, MALLOCX_TCACHE_NONE);
	dallocx(small, MALLOCX_TCACHE_NONE);
	dallocx(large, MALLOCX_TCACHE_NONE);
}
END_TEST

START_TEST(test_arenas_create_errors)
{
	unsigned narenas = read_unsigned("arenas.narenas");
	unsigned ind = 0xffffffffu;
	size_t len = 2;
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, NULL, 0), EINVAL);
	ck_assert_uint_eq(len, 0);
	len = sizeof(ind);
	ck_assert_int_eq(mallctl("arenas.create", NULL, &len, NULL, 0), EINVAL);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(mallctl("arenas.create", NULL, NULL, NULL, 0), EINVAL);
	/* NULL extent hooks are refused. */
	void *hooks = NULL;
	len = sizeof(ind);
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, &hooks, sizeof(hooks)), EINVAL);
	/* Nothing was created. */
	ck_assert_uint_eq(read_unsigned("arenas.narenas"), narenas);
	ck_assert_uint_eq(ind, 0xffffffffu);
}
END_TEST

START_TEST(test_arenas_lookup_errors)
{
	void *p = launder(malloc(100));
	unsigned a = read_unsigned("thread.arena");
	unsigned ind = 0;
	size_t len = sizeof(ind);
	/* No pointer, NULL, and memory strata does not own: EINVAL (jemalloc
	 * 5.3 crashes on the last two). */
	ck_assert_int_eq(mallctl("arenas.lookup", &ind, &len, NULL, 0), EINVAL);
	void *null = NULL;
	ck_assert_int_eq(mallctl("arenas.lookup", &ind, &len, &null, sizeof(null)), EINVAL);
	int on_stack;
	void *sp = &on_stack;
	ck_assert_int_eq(mallctl("arenas.lookup", &ind, &len, &sp, sizeof(sp)), EINVAL);
	ck_assert_int_eq(mallctl("arenas.lookup", &ind, &len, &p, 4), EINVAL);
	/* A short *oldlenp: EINVAL with the first bytes copied. */
	ind = 0xffffffffu;
	len = 2;
	ck_assert_int_eq(mallctl("arenas.lookup", &ind, &len, &p, sizeof(p)), EINVAL);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(ind, 0xffff0000u | a);
	/* Nothing to read back is fine. */
	ck_assert_int_eq(mallctl("arenas.lookup", NULL, NULL, &p, sizeof(p)), 0);
	free(p);
}
END_TEST

/* ------------------------------------------------------------ arena.<i>.* */

START_TEST(test_arena_initialized)
{
	ck_assert(arena_initialized(0));
	ck_assert(arena_initialized(MALLCTL_ARENAS_ALL));
	/* One thread: only the arena it uses exists yet. */
	unsigned nauto = read_unsigned("opt.narenas");
	if (nauto > 1)
		ck_assert(!arena_initialized(nauto - 1));
	unsigned narenas = read_unsigned("arenas.narenas");
	bool b;
	size_t len = sizeof(b);
	char name[64];
	/* arenas.narenas itself is jemalloc's older name for "all arenas". */
	ck_assert_int_eq(mallctl(arena_node(name, sizeof(name), narenas, "initialized"), &b,
	                         &len, NULL, 0),
	                 0);
	ck_assert(b);
	ck_assert_int_eq(mallctl(arena_node(name, sizeof(name), narenas + 1, "initialized"), &b,
	                         &len, NULL, 0),
	                 ENOENT);
	ck_assert_int_eq(mallctl("arena.4097.initialized", &b, &len, NULL, 0), ENOENT);
	ck_assert_int_eq(mallctl("arena.0.initialized", NULL, NULL, &b, sizeof(b)), EPERM);
	/* A MIB loop over the arenas. */
	size_t mib[3], miblen = 3;
	ck_assert_int_eq(mallctlnametomib("arena.0.initialized", mib, &miblen), 0);
	ck_assert_uint_eq(miblen, 3);
	unsigned ninit = 0;
	for (unsigned i = 0; i < narenas; i++) {
		mib[1] = i;
		ck_assert_int_eq(mallctlbymib(mib, 3, &b, &len, NULL, 0), 0);
		ninit += b;
	}
	ck_assert_uint_ge(ninit, 1);
	mib[1] = narenas + 1;
	ck_assert_int_eq(mallctlbymib(mib, 3, &b, &len, NULL, 0), ENOENT);
	mib[1] = MALLCTL_ARENAS_ALL;
	ck_assert_int_eq(mallctlbymib(mib, 3, &b, &len, NULL, 0), 0);
	ck_assert(b);
}
END_TEST

START_TEST(test_arena_reset_frees_allocations)
{
	unsigned ind = arena_create();
	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	enum { N = 100 };
	void *p[N];
	/* The purger threads start lazily, after a free leaves dirty pages
	 * (the reset's): start them now, so that what their creation
	 * allocates is not counted in between. */
	ck_assert_int_eq(write_bool("background_thread", true), 0);
	ck_assert_int_eq(epoch_advance(), 0);
	size_t before = raw_size("stats.allocated");
	size_t active_before = raw_size("stats.active");
	for (int i = 0; i < N; i++)
		p[i] = mallocx(1000, flags);
	void *large = mallocx(4 << 20, flags);
	int err = epoch_advance();
	size_t during = raw_size("stats.allocated");
	for (int i = 0; i < N; i++)
		ck_assert_ptr_nonnull(p[i]);
	ck_assert_ptr_nonnull(large);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_ge(during, before + N * 1000 + (4 << 20));

	err = arena_action(ind, "reset");
	int err2 = epoch_advance();
	size_t after = raw_size("stats.allocated");
	ck_assert_int_eq(err | err2, 0);
	ck_assert_uint_eq(after, before);
	/* Every page went back, full slabs included (not just the counters). */
	ck_assert_uint_le(raw_size("stats.active"), active_before);
	/* The arena stays usable. */
	void *again = launder(mallocx(1000, flags));
	ck_assert_ptr_nonnull(again);
	ck_assert_uint_eq(lookup(again), ind);
	memset(again, 0x5a, 1000);
	dallocx(again, MALLOCX_TCACHE_NONE);
	ck_assert(arena_initialized(ind));
}
END_TEST

START_TEST(test_arena_purge_returns_dirty_pages)
{
	unsigned ind = arena_create();
	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	size_t size = 4 << 20;
	char *p = mallocx(size, flags);
	ck_assert_ptr_nonnull(p);
	memset(p, 1, size);
	dallocx(p, MALLOCX_TCACHE_NONE); /* its pages stay dirty: below the dirty floor */
	ck_assert_int_eq(epoch_advance(), 0);
	size_t resident_dirty = raw_size("stats.resident");
	ck_assert_int_eq(arena_action(ind, "purge"), 0);
	ck_assert_int_eq(epoch_advance(), 0);
	ck_assert_uint_le(raw_size("stats.resident") + size, resident_dirty);
	/* "All arenas", both spellings; an arena that does not exist yet. */
	ck_assert_int_eq(arena_action(MALLCTL_ARENAS_ALL, "purge"), 0);
	ck_assert_int_eq(arena_action(read_unsigned("arenas.narenas"), "purge"), 0);
	unsigned v = 0;
	size_t len = sizeof(v);
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.purge", ind);
	ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), EPERM);
}
END_TEST

START_TEST(test_arena_reset_destroy_errors)
{
	unsigned ind = arena_create();
	static const char *const leaves[] = {"reset", "destroy"};
	char name[64];
	for (int i = 0; i < 2; i++) {
		/* Automatic arenas and "all" (observed with jemalloc 5.3). */
		ck_assert_int_eq(arena_action(0, leaves[i]), EFAULT);
		ck_assert_int_eq(arena_action(MALLCTL_ARENAS_ALL, leaves[i]), EFAULT);
		/* Void nodes. */
		unsigned u = 0;
		size_t len = sizeof(u);
		arena_node(name, sizeof(name), ind, leaves[i]);
		ck_assert_int_eq(mallctl(name, &u, &len, NULL, 0), EPERM);
		ck_assert_int_eq(mallctl(name, NULL, &len, NULL, 0), EPERM);
		ck_assert_int_eq(mallctl(name, NULL, NULL, &u, sizeof(u)), EPERM);
		/* arenas.narenas means "all" (EFAULT here); past it, nothing. */
		arena_node(name, sizeof(name), ind + 1, leaves[i]);
		ck_assert_int_eq(mallctl(name, NULL, NULL, NULL, 0), EFAULT);
		arena_node(name, sizeof(name), ind + 2, leaves[i]);
		ck_assert_int_eq(mallctl(name, NULL, NULL, NULL, 0), ENOENT);
	}
	ck_assert(arena_initialized(0));
	ck_assert(arena_initialized(ind));
}
END_TEST

START_TEST(test_arena_destroy_and_reuse)
{
	unsigned home = read_unsigned("thread.arena");
	unsigned narenas = read_unsigned("arenas.narenas");
	unsigned ind = arena_create();
	void *p = launder(mallocx(100, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE));
	ck_assert_ptr_nonnull(p);
	/* Not while a thread is bound to it (observed with jemalloc 5.3). */
	ck_assert_int_eq(write_unsigned("thread.arena", ind), 0);
	ck_assert_int_eq(arena_action(ind, "destroy"), EFAULT);
	ck_assert(arena_initialized(ind));
	ck_assert_int_eq(write_unsigned("thread.arena", home), 0);
	/* Emptying the cache first, as the manual requires: the thread's
	 * cache refilled from ind while bound to it. */
	ck_assert_int_eq(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
	ck_assert_int_eq(arena_action(ind, "destroy"), 0);
	ck_assert(!arena_initialized(ind));
	ck_assert_int_eq(arena_action(ind, "destroy"), EFAULT);
	ck_assert_int_eq(arena_action(ind, "reset"), EFAULT);
	ck_assert_int_eq(write_unsigned("thread.arena", ind), EFAULT);
	ck_assert_ptr_null(mallocx(100, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE));
	/* Its statistics are gone at the next epoch. */
	ck_assert_int_eq(epoch_advance(), 0);
	char name[64];
	snprintf(name, sizeof(name), "stats.arenas.%u.nthreads", ind);
	unsigned u;
	size_t len = sizeof(u);
	ck_assert_int_eq(mallctl(name, &u, &len, NULL, 0), ENOENT);

	/* arenas.create hands the index out again. */
	ck_assert_uint_eq(arena_create(), ind);
	ck_assert_uint_eq(read_unsigned("arenas.narenas"), narenas + 1);
	ck_assert(arena_initialized(ind));
	void *q = launder(mallocx(100, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE));
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(lookup(q), ind);
	dallocx(q, MALLOCX_TCACHE_NONE);
}
END_TEST

/* ------------------------------------------------------------ stats.arenas.<i> */

struct bound_thread {
	unsigned arena;
	pthread_barrier_t *ready, *done;
	int err;
};

/* Binds to an arena, fills its cache there, and waits to be released. */
static void *
bound_thread_main(void *arg)
{
	struct bound_thread *t = arg;
	t->err = write_unsigned("thread.arena", t->arena);
	void *p[8];
	for (int i = 0; i < 8; i++)
		p[i] = launder(malloc(128));
	for (int i = 0; i < 8; i++)
		free(p[i]);
	pthread_barrier_wait(t->ready);
	pthread_barrier_wait(t->done);
	return NULL;
}

START_TEST(test_stats_arenas_nthreads_and_tcache_bytes)
{
	unsigned home = read_unsigned("thread.arena");
	unsigned m = arena_create();
	ck_assert_int_eq(epoch_advance(), 0);
	unsigned all0 = arena_stat_nthreads(MALLCTL_ARENAS_ALL);
	ck_assert_uint_ge(all0, 1);
	ck_assert_uint_ge(arena_stat_nthreads(home), 1);
	ck_assert_uint_eq(arena_stat_nthreads(m), 0);
	ck_assert_uint_eq(arena_stat_size(m, "tcache_bytes"), 0);

	pthread_barrier_t ready, done;
	pthread_barrier_init(&ready, NULL, 3);
	pthread_barrier_init(&done, NULL, 3);
	struct bound_thread t[2];
	pthread_t tid[2];
	for (int i = 0; i < 2; i++) {
		t[i] = (struct bound_thread){.arena = m, .ready = &ready, .done = &done};
		ck_assert_int_eq(pthread_create(&tid[i], NULL, bound_thread_main, &t[i]), 0);
	}
	pthread_barrier_wait(&ready);
	ck_assert_int_eq(epoch_advance(), 0);
	unsigned nthreads_m = arena_stat_nthreads(m);
	unsigned all1 = arena_stat_nthreads(MALLCTL_ARENAS_ALL);
	size_t bytes_m = arena_stat_size(m, "tcache_bytes");
	size_t bytes_all = arena_stat_size(MALLCTL_ARENAS_ALL, "tcache_bytes");
	pthread_barrier_wait(&done);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
		ck_assert_int_eq(t[i].err, 0);
	}
	ck_assert_uint_eq(nthreads_m, 2);
	ck_assert_uint_ge(all1, all0 + 2); /* the sum over the arenas */
	ck_assert_uint_ge(bytes_m, 2 * 8 * 128);
	ck_assert_uint_ge(bytes_all, bytes_m);

	/* Snapshots: unchanged until the next epoch, then the threads are gone
	 * with their caches. */
	ck_assert_uint_eq(arena_stat_nthreads(m), 2);
	ck_assert_int_eq(epoch_advance(), 0);
	ck_assert_uint_eq(arena_stat_nthreads(m), 0);
	ck_assert_uint_eq(arena_stat_size(m, "tcache_bytes"), 0);
	ck_assert_uint_eq(arena_stat_nthreads(MALLCTL_ARENAS_ALL), all0);
	/* With no thread bound any more it can be destroyed. */
	ck_assert_int_eq(arena_action(m, "destroy"), 0);
	pthread_barrier_destroy(&ready);
	pthread_barrier_destroy(&done);
}
END_TEST

START_TEST(test_stats_arenas_index)
{
	unsigned u;
	size_t len = sizeof(u), sz;
#ifdef STRATA_INTERNAL_TEST
	/* Built against the internal archive (make check-tsan, tests/tsan.mk),
	 * Check's own allocations do not come to strata, so nothing has bound
	 * this thread to an arena yet; one allocation does, as they do in the
	 * plain build. */
	free(launder(malloc(1)));
#endif
	ck_assert_int_eq(epoch_advance(), 0);
	ck_assert_int_eq(mallctl("stats.arenas.4097.nthreads", &u, &len, NULL, 0), ENOENT);
	ck_assert_int_eq(mallctl("stats.arenas.4095.nthreads", &u, &len, NULL, 0), ENOENT);
	ck_assert_int_eq(mallctl("stats.arenas.0.nope", &u, &len, NULL, 0), ENOENT);
	ck_assert_int_eq(mallctl("stats.arenas.0", &u, &len, NULL, 0), ENOENT);
	unsigned nauto = read_unsigned("opt.narenas");
	char name[64];
	if (nauto > 1) { /* an automatic arena nobody used yet */
		snprintf(name, sizeof(name), "stats.arenas.%u.nthreads", nauto - 1);
		ck_assert_int_eq(mallctl(name, &u, &len, NULL, 0), ENOENT);
	}
	/* A new arena appears at the next epoch. */
	unsigned m = arena_create();
	ck_assert_int_eq(epoch_advance(), 0);
	snprintf(name, sizeof(name), "stats.arenas.%u.nthreads", m);
	ck_assert_int_eq(mallctl(name, &u, &len, NULL, 0), 0);
	ck_assert_uint_eq(u, 0);
	/* Types and access. */
	len = sizeof(sz);
	ck_assert_int_eq(mallctl("stats.arenas.0.tcache_bytes", &sz, &len, NULL, 0), 0);
	len = 4;
	ck_assert_int_eq(mallctl("stats.arenas.0.tcache_bytes", &sz, &len, NULL, 0), EINVAL);
	ck_assert_int_eq(mallctl("stats.arenas.0.nthreads", NULL, NULL, &u, sizeof(u)), EPERM);
	/* By MIB, looping over the index. */
	size_t mib[4], miblen = 4;
	ck_assert_int_eq(mallctlnametomib("stats.arenas.0.nthreads", mib, &miblen), 0);
	ck_assert_uint_eq(miblen, 4);
	mib[2] = m;
	len = sizeof(u);
	ck_assert_int_eq(mallctlbymib(mib, 4, &u, &len, NULL, 0), 0);
	mib[2] = MALLCTL_ARENAS_ALL;
	ck_assert_int_eq(mallctlbymib(mib, 4, &u, &len, NULL, 0), 0);
	ck_assert_uint_ge(u, 1);
	mib[2] = m + 1;
	ck_assert_int_eq(mallctlbymib(mib, 4, &u, &len, NULL, 0), ENOENT);
}
END_TEST

/* ------------------------------------------------------------ options */

/* CHILD_ENV=off, MALLOC_CONF=tcache:false: how the thread cache behaves. */
static void
child_tcache_off(void)
{
	bool opt = true, enabled = true, enabled_after = false;
	size_t len = sizeof(bool);
	int err = mallctl("opt.tcache", &opt, &len, NULL, 0);
	err |= mallctl("thread.tcache.enabled", &enabled, &len, NULL, 0);
	int flush_off = mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	unsigned a = 0;
	size_t ulen = sizeof(a);
	err |= mallctl("thread.arena", &a, &ulen, NULL, 0);
	free(launder(malloc(64)));
	err |= epoch_advance();
	size_t off_bytes = arena_stat_size(a, "tcache_bytes");
	/* Turning the cache on works even under tcache:false (jemalloc's rule). */
	err |= write_bool("thread.tcache.enabled", true);
	err |= mallctl("thread.tcache.enabled", &enabled_after, &len, NULL, 0);
	free(launder(malloc(64)));
	err |= epoch_advance();
	size_t on_bytes = arena_stat_size(a, "tcache_bytes");
	if (err != 0)
		_exit(2);
	printf("opt=%d enabled=%d flush=%d off_bytes=%zu enabled_after=%d cached=%d\n", opt,
	       enabled, flush_off, off_bytes, enabled_after, on_bytes >= 64);
}

/* CHILD_ENV=percpu, MALLOC_CONF=percpu_arena:percpu: thread.arena may not
 * pick another automatic arena (-1 when there is no other), but may pick
 * a manual one. */
static void
child_percpu(void)
{
	unsigned n = 0, cur = 0, m = 0, now = 0;
	size_t len = sizeof(n);
	int err = mallctl("opt.narenas", &n, &len, NULL, 0);
	err |= mallctl("thread.arena", &cur, &len, NULL, 0);
	err |= mallctl("arenas.create", &m, &len, NULL, 0);
	if (err != 0)
		_exit(2);
	int other = n > 1 ? write_unsigned("thread.arena", (cur + 1) % n) : -1;
	int same = write_unsigned("thread.arena", cur);
	int manual = write_unsigned("thread.arena", m);
	if (mallctl("thread.arena", &now, &len, NULL, 0) != 0)
		_exit(2);
	printf("other=%d same=%d manual=%d bound=%d\n", other, same, manual, now == m);
}

/*
 * In a re-executed child: run the mode CHILD_ENV names, print its report on
 * stdout and exit before main.  A constructor, so that check_main.c stays
 * generic.
 */
__attribute__((constructor)) static void
child_main(void)
{
	const char *mode = getenv(CHILD_ENV);
	if (mode == NULL)
		return;
	if (strcmp(mode, "off") == 0)
		child_tcache_off();
	else if (strcmp(mode, "percpu") == 0)
		child_percpu();
	else
		_exit(3);
	fflush(stdout);
	_exit(0);
}

START_TEST(test_tcache_off_by_option)
{
	char buf[256], expected[128];
	child_run_mode(CHILD_ENV, "off", "tcache:false", buf, sizeof(buf));
	snprintf(expected, sizeof(expected),
	         "opt=0 enabled=0 flush=%d off_bytes=0 enabled_after=1 cached=1\n", EFAULT);
	ck_assert_str_eq(buf, expected);
}
END_TEST

START_TEST(test_thread_arena_under_percpu_arena)
{
	char buf[256], expected[128];
	child_run_mode(CHILD_ENV, "percpu", "percpu_arena:percpu", buf, sizeof(buf));
	/* Observed with jemalloc 5.3: EPERM for another automatic arena. */
	snprintf(expected, sizeof(expected), "other=%d same=0 manual=0 bound=1\n", EPERM);
	if (strncmp(buf, "other=-1 ", 9) == 0) /* one CPU: no other automatic arena */
		snprintf(expected, sizeof(expected), "other=-1 same=0 manual=0 bound=1\n");
	ck_assert_str_eq(buf, expected);
	/* Without percpu_arena the same move is allowed. */
	if (read_unsigned("opt.narenas") > 1) {
		unsigned cur = read_unsigned("thread.arena");
		unsigned other = (cur + 1) % read_unsigned("opt.narenas");
		ck_assert_int_eq(write_unsigned("thread.arena", other), 0);
		ck_assert_uint_eq(read_unsigned("thread.arena"), other);
	}
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_tcache");
	TCase *tc = tcase_create("thread");
	tcase_add_test(tc, test_tcache_sizes_nodes);
	tcase_add_test(tc, test_thread_arena_round_trip);
	tcase_add_test(tc, test_thread_arena_errors);
	tcase_add_test(tc, test_thread_tcache_flush_empties_cache);
	tcase_add_test(tc, test_thread_tcache_flush_is_void);
	tcase_add_test(tc, test_thread_tcache_enabled);
	tcase_add_test(tc, test_thread_tcache_enabled_lengths);
	tcase_add_test(tc, test_tcache_off_by_option);
	tcase_add_test(tc, test_thread_arena_under_percpu_arena);
	suite_add_tcase(s, tc);

	tc = tcase_create("explicit");
	tcase_add_test(tc, test_tcache_create_lengths);
	tcase_add_test(tc, test_tcache_explicit_use_flush_destroy);
	tcase_add_test(tc, test_tcache_flush_destroy_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("arenas");
	tcase_add_test(tc, test_arenas_create_and_lookup);
	tcase_add_test(tc, test_arenas_create_errors);
	tcase_add_test(tc, test_arenas_lookup_errors);
	tcase_add_test(tc, test_arena_initialized);
	tcase_add_test(tc, test_arena_reset_frees_allocations);
	tcase_add_test(tc, test_arena_reset_destroy_errors);
	tcase_add_test(tc, test_arena_purge_returns_dirty_pages);
	tcase_add_test(tc, test_arena_destroy_and_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("stats");
	tcase_add_test(tc, test_stats_arenas_nthreads_and_tcache_bytes);
	tcase_add_test(tc, test_stats_arenas_index);
	suite_add_tcase(s, tc);
	return s;
}
