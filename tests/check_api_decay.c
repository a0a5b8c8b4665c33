/*
 * check_api_decay.c — the purging nodes through the public API of
 * lib/libstrata.so: background_thread, max_background_threads,
 * arenas.{dirty,muzzy}_decay_ms, arena.<i>.{dirty,muzzy}_decay_ms,
 * arena.<i>.decay, thread.idle, stats.background_thread.*,
 * stats.arenas.<i>.{dirty,muzzy}_decay_ms, pactive, pdirty, pmuzzy,
 * retained, {dirty,muzzy}_{npurge,nmadvise,purged} and
 * stats.arenas.<i>.extents.<j>.*.
 *
 * Return codes and types are jemalloc 5.3's (docs/compat.md, "mallctl").
 * Page counts are checked exactly: the blocks are large (no thread cache
 * holds them), allocated and freed by a thread bound to a manual arena
 * that nothing else uses, and the purger threads are turned off first
 * (background_thread), so that nothing purges between two snapshots but
 * what the test asks for.  Each test runs in its own forked child
 * (check_main.c); nothing sleeps.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <strata.h>

#include "api_util.h"

#define PAGE_SIZE ((size_t)4096)
/* 8 MiB of large blocks. */
#define NBLOCKS 8
#define BLOCK ((size_t)1 << 20)

/* ------------------------------------------------------------ helpers */

static void
epoch_advance(void)
{
	uint64_t one = 1;
	ck_assert_int_eq(mallctl("epoch", NULL, NULL, &one, sizeof(one)), 0);
}

static uint64_t
read_u64(const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof(v);
	ck_assert_msg(mallctl(name, &v, &len, NULL, 0) == 0, "reading %s", name);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static ssize_t
read_ssize(const char *name)
{
	ssize_t v = 0;
	size_t len = sizeof(v);
	ck_assert_msg(mallctl(name, &v, &len, NULL, 0) == 0, "reading %s", name);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static int
write_ssize(const char *name, ssize_t v)
{
	return mallctl(name, NULL, NULL, &v, sizeof(v));
}

static int
write_bool(const char *name, bool v)
{
	return mallctl(name, NULL, NULL, &v, sizeof(v));
}

/* "<prefix>.<ind>.<leaf>" into name. */
static const char *
arena_name(char *name, size_t size, const char *prefix, unsigned ind, const char *leaf)
{
	snprintf(name, size, "%s.%u.%s", prefix, ind, leaf);
	return name;
}

static size_t
arena_stat(unsigned ind, const char *leaf)
{
	char name[128];
	return read_size(arena_name(name, sizeof(name), "stats.arenas", ind, leaf));
}

static uint64_t
arena_stat_u64(unsigned ind, const char *leaf)
{
	char name[128];
	return read_u64(arena_name(name, sizeof(name), "stats.arenas", ind, leaf));
}

static int
arena_set_decay(unsigned ind, const char *leaf, ssize_t v)
{
	char name[128];
	return write_ssize(arena_name(name, sizeof(name), "arena", ind, leaf), v);
}

static int
arena_void(unsigned ind, const char *leaf)
{
	char name[128];
	return mallctl(arena_name(name, sizeof(name), "arena", ind, leaf), NULL, NULL, NULL, 0);
}

static unsigned
arena_create(void)
{
	unsigned ind = 0;
	size_t len = sizeof(ind);
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, NULL, 0), 0);
	return ind;
}

/* The purger off, so that only the test's own calls purge. */
static void
purger_off(void)
{
	ck_assert_int_eq(write_bool("background_thread", false), 0);
	ck_assert(!read_bool("background_thread"));
}

/* What a worker thread does in arena ind. */
typedef enum work {
	WORK_ALLOC,      /* allocate and touch NBLOCKS blocks */
	WORK_FREE,       /* free them */
	WORK_SMALL_IDLE, /* cache small objects, then thread.idle */
} work_t;

typedef struct worker {
	unsigned ind;
	work_t work;
	char *blocks[NBLOCKS];
	int err; /* of thread.arena or thread.idle */
	size_t tcache_before, tcache_after; /* WORK_SMALL_IDLE */
} worker_t;

static size_t
raw_arena_tcache_bytes(unsigned ind)
{
	char name[96];
	uint64_t one = 1;
	size_t v = SIZE_MAX, len = sizeof(v);
	snprintf(name, sizeof(name), "stats.arenas.%u.tcache_bytes", ind);
	if (mallctl("epoch", NULL, NULL, &one, sizeof(one)) != 0 ||
	    mallctl(name, &v, &len, NULL, 0) != 0)
		return SIZE_MAX;
	return v;
}

/* Runs in its own thread, bound to the arena (no Check calls here). */
static void *
worker_main(void *arg)
{
	worker_t *w = arg;
	w->err = mallctl("thread.arena", NULL, NULL, &w->ind, sizeof(w->ind));
	if (w->err != 0)
		return NULL;
	switch (w->work) {
	case WORK_ALLOC:
		for (int i = 0; i < NBLOCKS; i++) {
			w->blocks[i] = malloc(hide(BLOCK));
			if (w->blocks[i] != NULL)
				memset(w->blocks[i], 0x5a, BLOCK);
		}
		break;
	case WORK_FREE:
		for (int i = 0; i < NBLOCKS; i++)
			free(w->blocks[i]);
		break;
	case WORK_SMALL_IDLE: {
		void *p[32];
		for (int i = 0; i < 32; i++)
			p[i] = launder(malloc(hide(64)));
		for (int i = 0; i < 32; i++)
			free(p[i]);
		w->tcache_before = raw_arena_tcache_bytes(w->ind);
		w->err = mallctl("thread.idle", NULL, NULL, NULL, 0);
		w->tcache_after = raw_arena_tcache_bytes(w->ind);
		break;
	}
	}
	return NULL;
}

static void
worker_run(worker_t *w, work_t work)
{
	w->work = work;
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, worker_main, w), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(w->err, 0);
	if (work == WORK_ALLOC)
		for (int i = 0; i < NBLOCKS; i++)
			ck_assert_ptr_nonnull(w->blocks[i]);
}

/* The arena's page counts as of a new snapshot. */
typedef struct pages_view {
	size_t pactive, pdirty, pmuzzy, retained, resident;
} pages_view_t;

static pages_view_t
pages_view(unsigned ind)
{
	epoch_advance();
	return (pages_view_t){
		.pactive = arena_stat(ind, "pactive"),
		.pdirty = arena_stat(ind, "pdirty"),
		.pmuzzy = arena_stat(ind, "pmuzzy"),
		.retained = arena_stat(ind, "retained"),
		.resident = read_size("stats.resident"),
	};
}

/*
 * stats.resident went from before to after while `bytes` of dirty pages
 * were purged (0: none): it counts metadata pages too, which only grow (a
 * new thread's cache slots, descriptors, a snapshot's tables), by a few
 * pages at most here.
 */
#define METADATA_SLACK (16 * PAGE_SIZE)
static void
expect_resident_drop(size_t before, size_t after, size_t bytes)
{
	ck_assert_msg(after + bytes >= before && after + bytes <= before + METADATA_SLACK,
	              "stats.resident %zu -> %zu, %zu bytes purged", before, after, bytes);
}

/* stats.arenas.<ind>.extents.<j>.*, summed over every class j, equal the
 * arena's pdirty, pmuzzy and retained (current snapshot). */
static void
expect_extents_sum(unsigned ind)
{
	static const char *const counts[] = {"ndirty", "nmuzzy", "nretained"};
	static const char *const bytes[] = {"dirty_bytes", "muzzy_bytes", "retained_bytes"};
	size_t n[3] = {0}, b[3] = {0};
	char name[160];
	for (unsigned j = 0;; j++) {
		size_t v, len = sizeof(v);
		snprintf(name, sizeof(name), "stats.arenas.%u.extents.%u.ndirty", ind, j);
		int err = mallctl(name, &v, &len, NULL, 0);
		if (err == ENOENT) {
			ck_assert_uint_gt(j, 100); /* every page-size class */
			break;
		}
		ck_assert_int_eq(err, 0);
		for (int k = 0; k < 3; k++) {
			snprintf(name, sizeof(name), "stats.arenas.%u.extents.%u.%s", ind, j, counts[k]);
			size_t c = read_size(name);
			snprintf(name, sizeof(name), "stats.arenas.%u.extents.%u.%s", ind, j, bytes[k]);
			size_t by = read_size(name);
			ck_assert_msg((c == 0) == (by == 0), "class %u: %zu extents, %zu bytes", j, c, by);
			n[k] += c;
			b[k] += by;
		}
	}
	ck_assert_uint_eq(b[0], arena_stat(ind, "pdirty") * PAGE_SIZE);
	ck_assert_uint_eq(b[1], arena_stat(ind, "pmuzzy") * PAGE_SIZE);
	ck_assert_uint_eq(b[2], arena_stat(ind, "retained"));
	ck_assert_uint_le(n[0], arena_stat(ind, "pdirty"));
	ck_assert_uint_le(n[1], arena_stat(ind, "pmuzzy"));
}

/* Sum of the LazyFree: lines of /proc/self/smaps, in kB. */
static size_t
smaps_lazyfree_kb(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	ck_assert_ptr_nonnull(f);
	char line[256];
	size_t sum = 0, kb;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "LazyFree: %zu kB", &kb) == 1)
			sum += kb;
	fclose(f);
	return sum;
}

/* ------------------------------------------------------------ types and access */

/* A read-only node of size `size`: EPERM for a write, EINVAL (and a short
 * copy) for a wrong *oldlenp. */
static void
expect_ro(const char *name, size_t size)
{
	unsigned char buf[16] = {0};
	size_t len = size;
	ck_assert_msg(mallctl(name, buf, &len, NULL, 0) == 0, "%s", name);
	ck_assert_uint_eq(len, size);
	ck_assert_msg(mallctl(name, NULL, NULL, buf, size) == EPERM, "%s", name);
	ck_assert_msg(mallctl(name, buf, &len, buf, size) == EPERM, "%s", name);
	len = size - 1;
	ck_assert_msg(mallctl(name, buf, &len, NULL, 0) == EINVAL, "%s", name);
	ck_assert_uint_eq(len, size - 1);
	len = size + 1;
	ck_assert_msg(mallctl(name, buf, &len, NULL, 0) == EINVAL, "%s", name);
	ck_assert_uint_eq(len, size);
}

/* A read-write node of size `size` holding a valid value now: EINVAL for
 * a wrong newlen or *oldlenp; writing back what was read succeeds. */
static void
expect_rw(const char *name, size_t size)
{
	unsigned char buf[16] = {0}, old[16] = {0};
	size_t len = size;
	ck_assert_msg(mallctl(name, buf, &len, NULL, 0) == 0, "%s", name);
	ck_assert_msg(mallctl(name, NULL, NULL, buf, size - 1) == EINVAL, "%s", name);
	ck_assert_msg(mallctl(name, NULL, NULL, buf, size + 1) == EINVAL, "%s", name);
	len = size - 1;
	ck_assert_msg(mallctl(name, old, &len, NULL, 0) == EINVAL, "%s", name);
	ck_assert_uint_eq(len, size - 1);
	len = size;
	ck_assert_msg(mallctl(name, old, &len, buf, size) == 0, "%s", name);
	ck_assert_msg(memcmp(old, buf, size) == 0, "%s", name);
}

/* A void node: EPERM for a read or a write, 0 with nothing. */
static void
expect_void(const char *name)
{
	unsigned u = 0;
	size_t len = sizeof(u);
	ck_assert_msg(mallctl(name, &u, &len, NULL, 0) == EPERM, "%s", name);
	ck_assert_msg(mallctl(name, NULL, &len, NULL, 0) == EPERM, "%s", name);
	ck_assert_msg(mallctl(name, NULL, NULL, &u, sizeof(u)) == EPERM, "%s", name);
	ck_assert_msg(mallctl(name, NULL, NULL, NULL, 0) == 0, "%s", name);
}

START_TEST(test_node_types)
{
	unsigned ind = arena_create();
	char name[128];
	expect_rw("background_thread", sizeof(bool));
	expect_rw("max_background_threads", sizeof(size_t));
	expect_rw("arenas.dirty_decay_ms", sizeof(ssize_t));
	expect_rw("arenas.muzzy_decay_ms", sizeof(ssize_t));
	expect_rw(arena_name(name, sizeof(name), "arena", ind, "dirty_decay_ms"), sizeof(ssize_t));
	expect_rw(arena_name(name, sizeof(name), "arena", ind, "muzzy_decay_ms"), sizeof(ssize_t));
	expect_rw("arena.0.dirty_decay_ms", sizeof(ssize_t));
	expect_void(arena_name(name, sizeof(name), "arena", ind, "decay"));
	expect_void("arena.4096.decay");
	expect_void("thread.idle");

	epoch_advance();
	expect_ro("stats.background_thread.num_threads", sizeof(size_t));
	expect_ro("stats.background_thread.num_runs", sizeof(uint64_t));
	expect_ro("stats.background_thread.run_interval", sizeof(uint64_t));
	static const struct {
		const char *leaf;
		size_t size;
	} arena_stats[] = {
		{"dirty_decay_ms", sizeof(ssize_t)}, {"muzzy_decay_ms", sizeof(ssize_t)},
		{"pactive", sizeof(size_t)},         {"pdirty", sizeof(size_t)},
		{"pmuzzy", sizeof(size_t)},          {"retained", sizeof(size_t)},
		{"dirty_npurge", sizeof(uint64_t)},  {"dirty_nmadvise", sizeof(uint64_t)},
		{"dirty_purged", sizeof(uint64_t)},  {"muzzy_npurge", sizeof(uint64_t)},
		{"muzzy_nmadvise", sizeof(uint64_t)}, {"muzzy_purged", sizeof(uint64_t)},
		{"extents.0.ndirty", sizeof(size_t)}, {"extents.0.nmuzzy", sizeof(size_t)},
		{"extents.0.nretained", sizeof(size_t)}, {"extents.0.dirty_bytes", sizeof(size_t)},
		{"extents.0.muzzy_bytes", sizeof(size_t)},
		{"extents.0.retained_bytes", sizeof(size_t)},
	};
	unsigned inds[] = {0, ind, MALLCTL_ARENAS_ALL};
	for (unsigned k = 0; k < 3; k++)
		for (size_t i = 0; i < sizeof(arena_stats) / sizeof(arena_stats[0]); i++)
			expect_ro(arena_name(name, sizeof(name), "stats.arenas", inds[k],
			                     arena_stats[i].leaf),
			          arena_stats[i].size);
	/* Page-size classes: 199 of them (SZ_NPSIZES). */
	size_t v, len = sizeof(v);
	ck_assert_int_eq(mallctl("stats.arenas.0.extents.198.ndirty", &v, &len, NULL, 0), 0);
	ck_assert_int_eq(mallctl("stats.arenas.0.extents.199.ndirty", &v, &len, NULL, 0), ENOENT);
	size_t mib[8], miblen = 8;
	ck_assert_int_eq(mallctlnametomib("stats.arenas.0.extents.3.muzzy_bytes", mib, &miblen), 0);
	ck_assert_uint_eq(miblen, 6);
	ck_assert_uint_eq(mib[4], 3);
	mib[4] = 150;
	ck_assert_int_eq(mallctlbymib(mib, miblen, &v, &len, NULL, 0), 0);
	mib[4] = 199;
	ck_assert_int_eq(mallctlbymib(mib, miblen, &v, &len, NULL, 0), ENOENT);
}
END_TEST

/* ------------------------------------------------------------ decay_ms nodes */

START_TEST(test_arenas_decay_ms_round_trip)
{
	static const char *const names[] = {"arenas.dirty_decay_ms", "arenas.muzzy_decay_ms"};
	static const char *const opts[] = {"opt.dirty_decay_ms", "opt.muzzy_decay_ms"};
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(read_ssize(names[k]), read_ssize(opts[k]));
		ssize_t old = 0, v = 1234;
		size_t len = sizeof(old);
		ck_assert_int_eq(mallctl(names[k], &old, &len, &v, sizeof(v)), 0);
		ck_assert_int_eq(old, read_ssize(opts[k]));
		ck_assert_int_eq(read_ssize(names[k]), 1234);
		ck_assert_int_eq(write_ssize(names[k], -1), 0);
		ck_assert_int_eq(read_ssize(names[k]), -1);
		ck_assert_int_eq(write_ssize(names[k], -2), EINVAL);
		ck_assert_int_eq(write_ssize(names[k], SSIZE_MAX), EINVAL);
		ck_assert_int_eq(read_ssize(names[k]), -1);
		ck_assert_int_eq(write_ssize(names[k], 0), 0);
		ck_assert_int_eq(read_ssize(opts[k]), k == 0 ? 10000 : 0); /* opt.* unchanged */
	}
	/* Arenas created from now on take the defaults. */
	ck_assert_int_eq(write_ssize("arenas.dirty_decay_ms", 777), 0);
	ck_assert_int_eq(write_ssize("arenas.muzzy_decay_ms", 888), 0);
	unsigned ind = arena_create();
	char name[96];
	ck_assert_int_eq(read_ssize(arena_name(name, sizeof(name), "arena", ind, "dirty_decay_ms")),
	                 777);
	ck_assert_int_eq(read_ssize(arena_name(name, sizeof(name), "arena", ind, "muzzy_decay_ms")),
	                 888);
	epoch_advance();
	ck_assert_int_eq(read_ssize(arena_name(name, sizeof(name), "stats.arenas", ind,
	                                       "dirty_decay_ms")),
	                 777);
	ck_assert_int_eq(read_ssize(arena_name(name, sizeof(name), "stats.arenas", ind,
	                                       "muzzy_decay_ms")),
	                 888);
	/* Arena 0 keeps what it had. */
	ck_assert_int_eq(read_ssize("arena.0.dirty_decay_ms"), 10000);
}
END_TEST

START_TEST(test_arena_decay_ms_errors)
{
	unsigned ind = arena_create();
	unsigned narenas = read_unsigned("arenas.narenas");
	char name[96];
	static const char *const leaves[] = {"dirty_decay_ms", "muzzy_decay_ms"};
	for (int k = 0; k < 2; k++) {
		ssize_t v = 0;
		size_t len = sizeof(v);
		/* "All arenas" (both spellings) has no curve of its own. */
		arena_name(name, sizeof(name), "arena", MALLCTL_ARENAS_ALL, leaves[k]);
		ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), EFAULT);
		ck_assert_int_eq(write_ssize(name, 100), EFAULT);
		arena_name(name, sizeof(name), "arena", narenas, leaves[k]);
		ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), EFAULT);
		/* An index below arenas.narenas without an arena; past it, nothing. */
		if (narenas > ind + 1 || ind > 0) {
			unsigned missing = UINT_MAX;
			for (unsigned i = 0; i < narenas && missing == UINT_MAX; i++) {
				bool init = true;
				size_t blen = sizeof(init);
				char iname[64];
				snprintf(iname, sizeof(iname), "arena.%u.initialized", i);
				ck_assert_int_eq(mallctl(iname, &init, &blen, NULL, 0), 0);
				if (!init)
					missing = i;
			}
			if (missing != UINT_MAX) {
				arena_name(name, sizeof(name), "arena", missing, leaves[k]);
				ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), EFAULT);
			}
		}
		arena_name(name, sizeof(name), "arena", narenas + 1, leaves[k]);
		ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), ENOENT);
		/* Values below -1. */
		arena_name(name, sizeof(name), "arena", ind, leaves[k]);
		ck_assert_int_eq(write_ssize(name, -2), EINVAL);
		ck_assert_int_eq(write_ssize(name, 4321), 0);
		ck_assert_int_eq(read_ssize(name), 4321);
		ssize_t old = 0;
		v = -1;
		ck_assert_int_eq(mallctl(name, &old, &len, &v, sizeof(v)), 0);
		ck_assert_int_eq(old, 4321);
		ck_assert_int_eq(read_ssize(name), -1);
	}
	/* A destroyed arena has none either. */
	ck_assert_int_eq(arena_void(ind, "destroy"), 0);
	ssize_t v;
	size_t len = sizeof(v);
	ck_assert_int_eq(mallctl(arena_name(name, sizeof(name), "arena", ind, "dirty_decay_ms"), &v,
	                         &len, NULL, 0),
	                 EFAULT);
}
END_TEST

/* stats.arenas.<MALLCTL_ARENAS_ALL>.*_decay_ms: -1 (no setting of its own). */
START_TEST(test_stats_all_decay_ms)
{
	epoch_advance();
	ck_assert_int_eq(read_ssize("stats.arenas.4096.dirty_decay_ms"), -1);
	ck_assert_int_eq(read_ssize("stats.arenas.4096.muzzy_decay_ms"), -1);
	ck_assert_int_eq(read_ssize("stats.arenas.0.dirty_decay_ms"), 10000);
	ck_assert_int_eq(read_ssize("stats.arenas.0.muzzy_decay_ms"), 0);
}
END_TEST

/* ------------------------------------------------------------ purge, decay, page counts */

START_TEST(test_purge_and_decay_move_dirty_pages)
{
	purger_off();
	unsigned ind = arena_create();
	ck_assert_int_eq(arena_set_decay(ind, "dirty_decay_ms", -1), 0);
	worker_t w = {.ind = ind};
	pages_view_t v0 = pages_view(ind); /* also makes the arena's extents table */
	worker_run(&w, WORK_ALLOC);
	pages_view_t v1 = pages_view(ind);
	size_t npages = v1.pactive - v0.pactive;
	ck_assert_uint_ge(npages * PAGE_SIZE, NBLOCKS * BLOCK);
	worker_run(&w, WORK_FREE);
	pages_view_t v2 = pages_view(ind);
	ck_assert_uint_eq(v2.pactive, v0.pactive);
	ck_assert_uint_eq(v2.pdirty, v1.pdirty + npages); /* -1: kept */
	expect_resident_drop(v1.resident, v2.resident, 0); /* freed pages are still resident */
	expect_extents_sum(ind);

	/* decay with -1: nothing. */
	ck_assert_int_eq(arena_void(ind, "decay"), 0);
	pages_view_t v3 = pages_view(ind);
	ck_assert_uint_eq(v3.pdirty, v2.pdirty);
	expect_resident_drop(v2.resident, v3.resident, 0);

	/* purge: every dirty page goes, resident drops by as much. */
	uint64_t purged0 = arena_stat_u64(ind, "dirty_purged");
	uint64_t npurge0 = arena_stat_u64(ind, "dirty_npurge");
	ck_assert_int_eq(arena_void(ind, "purge"), 0);
	pages_view_t v4 = pages_view(ind);
	ck_assert_uint_eq(v4.pdirty, 0);
	ck_assert_uint_eq(v4.pmuzzy, 0);
	ck_assert_uint_eq(v4.retained, v3.retained + v3.pdirty * PAGE_SIZE);
	expect_resident_drop(v3.resident, v4.resident, v3.pdirty * PAGE_SIZE);
	ck_assert_uint_eq(arena_stat_u64(ind, "dirty_purged"), purged0 + v3.pdirty);
	ck_assert_uint_gt(arena_stat_u64(ind, "dirty_npurge"), npurge0);
	ck_assert_uint_ge(arena_stat_u64(ind, "dirty_nmadvise"),
	                  arena_stat_u64(ind, "dirty_npurge"));
	expect_extents_sum(ind);

	/* dirty_decay_ms 0: freed pages go at once; decay finds nothing. */
	ck_assert_int_eq(arena_set_decay(ind, "dirty_decay_ms", 0), 0);
	worker_run(&w, WORK_ALLOC);
	pages_view_t v5 = pages_view(ind);
	worker_run(&w, WORK_FREE);
	pages_view_t v6 = pages_view(ind);
	ck_assert_uint_eq(v6.pdirty, 0);
	expect_resident_drop(v5.resident, v6.resident, (v5.pactive - v6.pactive) * PAGE_SIZE);
	ck_assert_int_eq(arena_void(ind, "decay"), 0);
	ck_assert_uint_eq(pages_view(ind).pdirty, 0);
	expect_extents_sum(ind);
}
END_TEST

START_TEST(test_setting_decay_ms_purges_at_once)
{
	purger_off();
	unsigned ind = arena_create();
	ck_assert_int_eq(arena_set_decay(ind, "dirty_decay_ms", -1), 0);
	(void)pages_view(ind); /* makes the arena's extents table */
	worker_t w = {.ind = ind};
	worker_run(&w, WORK_ALLOC);
	worker_run(&w, WORK_FREE);
	pages_view_t v0 = pages_view(ind);
	ck_assert_uint_ge(v0.pdirty * PAGE_SIZE, NBLOCKS * BLOCK);
	/* -1 again: kept. */
	ck_assert_int_eq(arena_set_decay(ind, "dirty_decay_ms", -1), 0);
	ck_assert_uint_eq(pages_view(ind).pdirty, v0.pdirty);
	/* A long curve: the pages there now count as decayed, and go now. */
	ck_assert_int_eq(arena_set_decay(ind, "dirty_decay_ms", 3600 * 1000), 0);
	pages_view_t v1 = pages_view(ind);
	ck_assert_uint_eq(v1.pdirty, 0);
	expect_resident_drop(v0.resident, v1.resident, v0.pdirty * PAGE_SIZE);
	/* Freed under that curve: they stay (no time has passed), also
	 * through arena.<i>.decay. */
	worker_run(&w, WORK_ALLOC);
	worker_run(&w, WORK_FREE);
	pages_view_t v2 = pages_view(ind);
	ck_assert_uint_ge(v2.pdirty * PAGE_SIZE, NBLOCKS * BLOCK);
	ck_assert_int_eq(arena_void(ind, "decay"), 0);
	ck_assert_uint_eq(pages_view(ind).pdirty, v2.pdirty);
	ck_assert_int_eq(arena_void(MALLCTL_ARENAS_ALL, "decay"), 0);
	ck_assert_int_eq(arena_void(read_unsigned("arenas.narenas"), "decay"), 0);
	ck_assert_uint_eq(pages_view(ind).pdirty, v2.pdirty);
	expect_extents_sum(ind);
}
END_TEST

START_TEST(test_muzzy_pages_are_lazy_freed)
{
	purger_off();
	unsigned ind = arena_create();
	ck_assert_int_eq(arena_set_decay(ind, "muzzy_decay_ms", 10000), 0);
	ck_assert_int_eq(arena_set_decay(ind, "dirty_decay_ms", 0), 0);
	worker_t w = {.ind = ind};
	pages_view_t v0 = pages_view(ind);
	size_t lazy0 = smaps_lazyfree_kb();
	worker_run(&w, WORK_ALLOC);
	pages_view_t v1 = pages_view(ind);
	worker_run(&w, WORK_FREE);
	pages_view_t v2 = pages_view(ind);
	size_t npages = v1.pactive - v2.pactive;
	ck_assert_uint_ge(npages * PAGE_SIZE, NBLOCKS * BLOCK);
	ck_assert_uint_eq(v2.pdirty, v0.pdirty);
	ck_assert_uint_eq(v2.pmuzzy, v0.pmuzzy + npages);
	/* MADV_FREE'd, not yet taken by the kernel. */
	size_t lazy = smaps_lazyfree_kb();
	ck_assert_msg(lazy > lazy0, "LazyFree %zu kB, %zu kB before", lazy, lazy0);
	ck_assert_uint_ge(arena_stat_u64(ind, "dirty_purged"), npages);
	ck_assert_uint_eq(arena_stat_u64(ind, "muzzy_purged"), 0);
	expect_extents_sum(ind);

	ck_assert_int_eq(arena_void(ind, "purge"), 0);
	pages_view_t v3 = pages_view(ind);
	ck_assert_uint_eq(v3.pmuzzy, 0);
	ck_assert_uint_eq(v3.pdirty, 0);
	ck_assert_uint_eq(v3.retained, v2.retained + v2.pmuzzy * PAGE_SIZE);
	ck_assert_uint_eq(arena_stat_u64(ind, "muzzy_purged"), v2.pmuzzy);
	ck_assert_uint_ge(arena_stat_u64(ind, "muzzy_npurge"), 1);
	ck_assert_uint_ge(arena_stat_u64(ind, "muzzy_nmadvise"), 1);
	ck_assert_uint_lt(smaps_lazyfree_kb(), lazy);
	expect_extents_sum(ind);

	/* The sums over every arena include this one's. */
	ck_assert_uint_ge(arena_stat(MALLCTL_ARENAS_ALL, "retained"), v3.retained);
	ck_assert_uint_ge(arena_stat_u64(MALLCTL_ARENAS_ALL, "muzzy_purged"), v2.pmuzzy);
	expect_extents_sum(MALLCTL_ARENAS_ALL);
}
END_TEST

/* ------------------------------------------------------------ thread.idle */

START_TEST(test_thread_idle_flushes_cache)
{
	purger_off();
	unsigned ind = arena_create();
	worker_t w = {.ind = ind};
	worker_run(&w, WORK_SMALL_IDLE);
	ck_assert_uint_gt(w.tcache_before, 0);
	ck_assert_uint_ne(w.tcache_before, SIZE_MAX);
	ck_assert_uint_eq(w.tcache_after, 0);
	/* With the cache off, it still runs the decay. */
	ck_assert_int_eq(write_bool("thread.tcache.enabled", false), 0);
	ck_assert_int_eq(mallctl("thread.idle", NULL, NULL, NULL, 0), 0);
}
END_TEST

/* ------------------------------------------------------------ background threads */

START_TEST(test_background_thread_toggle)
{
	ck_assert(read_bool("opt.background_thread"));
	purger_off();
	epoch_advance();
	ck_assert_uint_eq(read_size("stats.background_thread.num_threads"), 0);
	bool old = true, on = true;
	size_t len = sizeof(old);
	ck_assert_int_eq(mallctl("background_thread", &old, &len, &on, sizeof(on)), 0);
	ck_assert(!old);
	ck_assert(read_bool("background_thread"));
	epoch_advance();
	size_t n = read_size("stats.background_thread.num_threads");
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, read_size("max_background_threads"));
	(void)read_u64("stats.background_thread.num_runs");
	(void)read_u64("stats.background_thread.run_interval");
	/* Writing the same value changes nothing. */
	ck_assert_int_eq(write_bool("background_thread", true), 0);
	epoch_advance();
	ck_assert_uint_eq(read_size("stats.background_thread.num_threads"), n);
	/* Stats wait for the epoch. */
	ck_assert_int_eq(write_bool("background_thread", false), 0);
	ck_assert_uint_eq(read_size("stats.background_thread.num_threads"), n);
	epoch_advance();
	ck_assert_uint_eq(read_size("stats.background_thread.num_threads"), 0);
	/* A failed read writes nothing. */
	len = 1 + sizeof(old);
	ck_assert_int_eq(mallctl("background_thread", &old, &len, &on, sizeof(on)), EINVAL);
	ck_assert(!read_bool("background_thread"));
}
END_TEST

START_TEST(test_max_background_threads)
{
	size_t opt = read_size("opt.max_background_threads");
	ck_assert_uint_eq(read_size("max_background_threads"), opt);
	size_t v = 0;
	ck_assert_int_eq(mallctl("max_background_threads", NULL, NULL, &v, sizeof(v)), EINVAL);
	v = opt + 1;
	ck_assert_int_eq(mallctl("max_background_threads", NULL, NULL, &v, sizeof(v)), EINVAL);
	ck_assert_uint_eq(read_size("max_background_threads"), opt);
	size_t old = 0, one = 1, len = sizeof(old);
	ck_assert_int_eq(mallctl("max_background_threads", &old, &len, &one, sizeof(one)), 0);
	ck_assert_uint_eq(old, opt);
	ck_assert_uint_eq(read_size("max_background_threads"), 1);
	/* A running purger restarts with the new number. */
	ck_assert_int_eq(write_bool("background_thread", true), 0);
	epoch_advance();
	ck_assert_uint_eq(read_size("stats.background_thread.num_threads"), 1);
	ck_assert_int_eq(mallctl("max_background_threads", NULL, NULL, &opt, sizeof(opt)), 0);
	epoch_advance();
	ck_assert_uint_ge(read_size("stats.background_thread.num_threads"), 1);
	ck_assert_uint_le(read_size("stats.background_thread.num_threads"), opt);
	ck_assert_int_eq(write_bool("background_thread", false), 0);
	epoch_advance();
	ck_assert_uint_eq(read_size("stats.background_thread.num_threads"), 0);
}
END_TEST

/* ------------------------------------------------------------ malloc_stats_print */

static char report[1 << 18];
static size_t report_len;

static void
report_collect(void *opaque, const char *s)
{
	(void)opaque;
	size_t n = strlen(s);
	if (report_len + n < sizeof(report)) {
		memcpy(report + report_len, s, n + 1);
		report_len += n;
	}
}

START_TEST(test_stats_print_extents_and_background)
{
	purger_off();
	unsigned ind = arena_create();
	ck_assert_int_eq(arena_set_decay(ind, "dirty_decay_ms", -1), 0);
	worker_t w = {.ind = ind};
	worker_run(&w, WORK_ALLOC);
	worker_run(&w, WORK_FREE);
	report_len = 0;
	malloc_stats_print(report_collect, NULL, "bl");
	ck_assert_ptr_nonnull(strstr(report, "Background threads: 0, num_runs: "));
	ck_assert_ptr_nonnull(strstr(report, "extents:"));
	/* The arena's dirty pages are in its table. */
	char head[32];
	snprintf(head, sizeof(head), "arenas[%u]:", ind);
	const char *arena = strstr(report, head);
	ck_assert_ptr_nonnull(arena);
	const char *table = strstr(arena, "extents:");
	ck_assert_ptr_nonnull(table);
	size_t dirty_bytes = 0;
	for (const char *line = strchr(table, '\n') + 1; *line == ' '; line = strchr(line, '\n') + 1) {
		if (strncmp(line, "                     ---", 24) == 0)
			continue; /* a run of empty classes */
		size_t size, nd, db, nm, mb, nr, rb;
		unsigned j;
		ck_assert_int_eq(sscanf(line, "%zu %u %zu %zu %zu %zu %zu %zu", &size, &j, &nd, &db, &nm,
		                        &mb, &nr, &rb),
		                 8);
		ck_assert_uint_gt(nd + nm + nr, 0); /* empty classes are left out */
		dirty_bytes += db;
	}
	epoch_advance();
	ck_assert_uint_eq(dirty_bytes, arena_stat(ind, "pdirty") * PAGE_SIZE);
	/* 'e' leaves the tables out; 'g' the general part. */
	report_len = 0;
	malloc_stats_print(report_collect, NULL, "eblg");
	ck_assert_ptr_null(strstr(report, "extents:"));
	ck_assert_ptr_null(strstr(report, "Version:"));
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_decay");
	TCase *tc = tcase_create("nodes");
	tcase_add_test(tc, test_node_types);
	tcase_add_test(tc, test_arenas_decay_ms_round_trip);
	tcase_add_test(tc, test_arena_decay_ms_errors);
	tcase_add_test(tc, test_stats_all_decay_ms);
	suite_add_tcase(s, tc);

	tc = tcase_create("pages");
	tcase_add_test(tc, test_purge_and_decay_move_dirty_pages);
	tcase_add_test(tc, test_setting_decay_ms_purges_at_once);
	tcase_add_test(tc, test_muzzy_pages_are_lazy_freed);
	tcase_add_test(tc, test_thread_idle_flushes_cache);
	suite_add_tcase(s, tc);

	tc = tcase_create("background");
	tcase_add_test(tc, test_background_thread_toggle);
	tcase_add_test(tc, test_max_background_threads);
	tcase_add_test(tc, test_stats_print_extents_and_background);
	suite_add_tcase(s, tc);
	return s;
}
