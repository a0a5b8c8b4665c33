/*
 * check_api_stats.c — the statistics through the public API of
 * lib/libstrata.so: the stats.* nodes generated from the counter table
 * (types, access, errors), the consistency of a snapshot taken while
 * threads allocate, malloc_stats_print's text (jemalloc's section headers,
 * the omit letters) and JSON (parsed by python3 as a parser written for
 * jemalloc 5.3's layout, tests/stats/check_json.py, and agreeing with the
 * mallctl reads of the same epoch), stats_interval, the lock counters under
 * contention and stats.mutexes.reset, and the MALLCTL_ARENAS_DESTROYED view.
 *
 * Each test runs in its own forked child (check_main.c); nothing sleeps.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"
#include "thread_util.h"

#define NBINS 36

static void
epoch_advance(void)
{
	uint64_t e = 1;
	ck_assert_int_eq(mallctl("epoch", NULL, NULL, &e, sizeof(e)), 0);
}

static uint64_t
stat_u64(const char *fmt, unsigned i, unsigned j)
{
	char name[128];
	snprintf(name, sizeof(name), fmt, i, j);
	uint64_t v = 0;
	size_t len = sizeof(v);
	int err = mallctl(name, &v, &len, NULL, 0);
	ck_assert_msg(err == 0, "%s: %d", name, err);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static size_t
stat_size(const char *fmt, unsigned i, unsigned j)
{
	char name[128];
	snprintf(name, sizeof(name), fmt, i, j);
	size_t v = 0, len = sizeof(v);
	int err = mallctl(name, &v, &len, NULL, 0);
	ck_assert_msg(err == 0, "%s: %d", name, err);
	return v;
}

static unsigned
arena_create(void)
{
	unsigned ind;
	size_t len = sizeof(ind);
	ck_assert_int_eq(mallctl("arenas.create", &ind, &len, NULL, 0), 0);
	return ind;
}

/* ------------------------------------------------------------ the nodes */

typedef struct node_case {
	const char *name;
	size_t size;
} node_case_t;

/* A sample of every table (stats_counters.h) and of every type. */
static const node_case_t node_cases[] = {
	{"stats.allocated", sizeof(size_t)},
	{"stats.metadata_thp", sizeof(size_t)},
	{"stats.zero_reallocs", sizeof(size_t)},
	{"stats.background_thread.num_runs", sizeof(uint64_t)},
	{"stats.mutexes.ctl.num_ops", sizeof(uint64_t)},
	{"stats.mutexes.prof_recent_dump.max_num_thds", sizeof(uint32_t)},
	{"stats.arenas.0.nthreads", sizeof(unsigned)},
	{"stats.arenas.0.uptime", sizeof(uint64_t)},
	{"stats.arenas.0.dss", sizeof(const char *)},
	{"stats.arenas.0.dirty_decay_ms", sizeof(ssize_t)},
	{"stats.arenas.0.pactive", sizeof(size_t)},
	{"stats.arenas.0.dirty_npurge", sizeof(uint64_t)},
	{"stats.arenas.0.base", sizeof(size_t)},
	{"stats.arenas.0.abandoned_vm", sizeof(size_t)},
	{"stats.arenas.0.hpa_sec_bytes", sizeof(size_t)},
	{"stats.arenas.0.small.allocated", sizeof(size_t)},
	{"stats.arenas.0.large.nflushes", sizeof(uint64_t)},
	{"stats.arenas.0.bins.0.curregs", sizeof(size_t)},
	{"stats.arenas.0.bins.35.nreslabs", sizeof(uint64_t)},
	{"stats.arenas.0.bins.3.mutex.max_num_thds", sizeof(uint32_t)},
	{"stats.arenas.0.lextents.0.curlextents", sizeof(size_t)},
	{"stats.arenas.0.lextents.195.nmalloc", sizeof(uint64_t)},
	{"stats.arenas.0.extents.0.dirty_bytes", sizeof(size_t)},
	{"stats.arenas.0.mutexes.extents_dirty.num_ops", sizeof(uint64_t)},
	{"stats.arenas.0.mutexes.hpa_sec.total_wait_time", sizeof(uint64_t)},
	{"stats.arenas.4096.small.nmalloc", sizeof(uint64_t)},
};

START_TEST(test_node_types_and_errors)
{
	epoch_advance();
	for (unsigned i = 0; i < sizeof(node_cases) / sizeof(node_cases[0]); i++) {
		const node_case_t *c = &node_cases[i];
		char buf[16] = {0};
		size_t len = sizeof(buf);
		/* A longer buffer: EINVAL, with the value's bytes copied (jemalloc). */
		ck_assert_msg(mallctl(c->name, buf, &len, NULL, 0) == EINVAL, "%s", c->name);
		ck_assert_uint_eq(len, c->size);
		len = c->size;
		ck_assert_int_eq(mallctl(c->name, buf, &len, NULL, 0), 0);
		/* By MIB too. */
		size_t mib[8], miblen = 8;
		ck_assert_int_eq(mallctlnametomib(c->name, mib, &miblen), 0);
		len = c->size;
		ck_assert_int_eq(mallctlbymib(mib, miblen, buf, &len, NULL, 0), 0);
		/* Read-only. */
		ck_assert_msg(mallctl(c->name, NULL, NULL, buf, c->size) == EPERM, "%s", c->name);
	}
	const char *dss;
	size_t len = sizeof(dss);
	ck_assert_int_eq(mallctl("stats.arenas.0.dss", &dss, &len, NULL, 0), 0);
	ck_assert_str_eq(dss, "disabled");
	ck_assert_int_eq(mallctl("stats.arenas.4096.dss", &dss, &len, NULL, 0), 0);
	ck_assert_str_eq(dss, "N/A");
	uint64_t v;
	len = sizeof(v);
	ck_assert_int_eq(mallctl("stats.arenas.0.bins.36.nmalloc", &v, &len, NULL, 0), ENOENT);
	ck_assert_int_eq(mallctl("stats.arenas.0.lextents.196.nmalloc", &v, &len, NULL, 0), ENOENT);
	ck_assert_int_eq(mallctl("stats.mutexes.nosuch.num_ops", &v, &len, NULL, 0), ENOENT);
	/* No arena destroyed yet: no destroyed view. */
	ck_assert_int_eq(mallctl("stats.arenas.4097.small.nmalloc", &v, &len, NULL, 0), ENOENT);
	/* realloc(p, 0) is counted (zero_realloc:free frees p). */
	size_t zero = read_size("stats.zero_reallocs");
	ck_assert_ptr_null(realloc(launder(malloc(10)), hide(0)));
	epoch_advance();
	ck_assert_uint_eq(read_size("stats.zero_reallocs"), zero + 1);
	/* stats.mutexes.reset is a void node. */
	ck_assert_int_eq(mallctl("stats.mutexes.reset", &v, &len, NULL, 0), EPERM);
	ck_assert_int_eq(mallctl("stats.mutexes.reset", NULL, NULL, NULL, 0), 0);
}
END_TEST

/* ------------------------------------------------------------ consistency */

#define WORKERS 4

static atomic_bool workers_stop;

static void *
worker_churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *held[256] = {0};
	while (!atomic_load(&workers_stop)) {
		seed = seed * 1103515245u + 12345u;
		unsigned slot = (seed >> 8) % 256;
		free(held[slot]);
		size_t size = (seed >> 16) % 64 == 0 ? 20000 + (seed % 50000) : 8 + (seed >> 20) % 3000;
		held[slot] = malloc(size);
	}
	for (unsigned i = 0; i < 256; i++)
		free(held[i]);
	return NULL;
}

/* The identities that hold within any one snapshot. */
static void
check_sums(void)
{
	unsigned narenas = read_unsigned("arenas.narenas");
	size_t allocated = 0;
	for (unsigned i = 0; i < narenas; i++) {
		char name[64];
		snprintf(name, sizeof(name), "stats.arenas.%u.small.allocated", i);
		size_t small, large, len = sizeof(small);
		if (mallctl(name, &small, &len, NULL, 0) == ENOENT)
			continue; /* not created */
		large = stat_size("stats.arenas.%u.large.allocated", i, 0);
		allocated += small + large;
		size_t bins = 0;
		for (unsigned j = 0; j < NBINS; j++) {
			char bin[64];
			snprintf(bin, sizeof(bin), "arenas.bin.%u.size", j);
			bins += stat_size("stats.arenas.%u.bins.%u.curregs", i, j) * read_size(bin);
		}
		ck_assert_uint_eq(bins, small);
	}
	ck_assert_uint_eq(allocated, read_size("stats.allocated"));
	ck_assert_uint_eq(read_size("stats.arenas.4096.small.allocated") +
	                      read_size("stats.arenas.4096.large.allocated"),
	                  allocated);
	ck_assert_uint_ge(read_size("stats.resident"), read_size("stats.active"));
}

START_TEST(test_snapshot_consistent_while_threads_allocate)
{
	pthread_t t[WORKERS];
	for (uintptr_t i = 0; i < WORKERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_churn, (void *)(i + 1)), 0);
	for (int round = 0; round < 20; round++) {
		epoch_advance();
		check_sums();
	}
	atomic_store(&workers_stop, true);
	for (int i = 0; i < WORKERS; i++)
		join_bounded(t[i]);
	epoch_advance();
	check_sums();
	ck_assert_uint_ge(read_size("stats.active"), read_size("stats.allocated"));
	ck_assert_uint_ge(read_size("stats.mapped"), read_size("stats.active"));
	/* Every worker's churn shows in the merged counters. */
	ck_assert_uint_gt(read_size("stats.arenas.4096.small.nmalloc"), 1000);
	ck_assert_uint_gt(read_size("stats.arenas.4096.large.nmalloc"), 0);
}
END_TEST

/* ------------------------------------------------------------ text */

static char report[1 << 20];
static size_t report_len;

static void
report_collect(void *opaque, const char *s)
{
	(void)opaque;
	size_t n = strlen(s);
	ck_assert_uint_lt(report_len + n, sizeof(report));
	memcpy(report + report_len, s, n + 1);
	report_len += n;
}

static const char *
print_report(const char *opts)
{
	report_len = 0;
	report[0] = '\0';
	malloc_stats_print(report_collect, NULL, opts);
	return report;
}

/* A manual arena with small and large objects in it, and a destroyed one. */
static unsigned
setup_arenas(void)
{
	unsigned ind = arena_create();
	for (int i = 0; i < 10; i++) {
		ck_assert_ptr_nonnull(mallocx(48, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE));
		ck_assert_ptr_nonnull(mallocx(40000, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE));
	}
	unsigned gone = arena_create();
	dallocx(mallocx(100, MALLOCX_ARENA(gone) | MALLOCX_TCACHE_NONE), MALLOCX_TCACHE_NONE);
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.destroy", gone);
	ck_assert_int_eq(mallctl(name, NULL, NULL, NULL, 0), 0);
	return ind;
}

/* What each omit letter leaves out, by a line only that section prints. */
static const struct {
	char letter;
	const char *marker;
} omit_cases[] = {
	{'g', "Run-time option settings\n"},
	{'m', "Merged arenas stats:\n"},
	{'d', "Destroyed arenas stats:\n"},
	{'a', "arenas[0]:\n"},
	{'b', "bins:           size ind"},
	{'l', "large:          size ind"},
	{'x', "n_lock_ops (#/sec)"},
	{'e', "extents:        size ind"},
};

START_TEST(test_text_sections_and_omit_letters)
{
	setup_arenas();
	const char *text = print_report(NULL);
	static const char *const headers[] = {
		"___ Begin jemalloc statistics ___\n", "Version: \"", "Build-time option settings\n",
		"Run-time option settings\n", "Arenas: ", "Quantum size: 16\n", "Page size: 4096\n",
		"Number of bin size classes: 36\n", "Number of large size classes: 196\n",
		"Allocated: ", "Background threads: ", "Merged arenas stats:\n",
		"Destroyed arenas stats:\n", "arenas[0]:\n", "assigned threads: ",
		"dss allocation precedence: \"disabled\"\n",
		"decaying:  time       npages       sweeps     madvises       purged\n", "small:  ",
		"total:  ", "tcache_bytes: ", "bins:           size ind    allocated      nmalloc",
		"large:          size ind    allocated      nmalloc",
		"extents:        size ind       ndirty        dirty",
		"--- End jemalloc statistics ---\n"};
	for (unsigned i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
		ck_assert_msg(strstr(text, headers[i]) != NULL, "no \"%s\"", headers[i]);
	for (unsigned i = 0; i < sizeof(omit_cases) / sizeof(omit_cases[0]); i++) {
		char opts[2] = {omit_cases[i].letter, '\0'};
		ck_assert_msg(strstr(print_report(NULL), omit_cases[i].marker) != NULL, "%s",
		              omit_cases[i].marker);
		ck_assert_msg(strstr(print_report(opts), omit_cases[i].marker) == NULL,
		              "'%s' left \"%s\" in", opts, omit_cases[i].marker);
		ck_assert_ptr_nonnull(strstr(report, "--- End jemalloc statistics ---\n"));
	}
}
END_TEST

/* The large counters are per class: an object that grows in place leaves
 * its old class (one ndalloc) for its new one (one nmalloc), and its free
 * is counted in the new class. */
START_TEST(test_large_counters_follow_resize_in_place)
{
	unsigned ind = arena_create();
	int flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	void *p = mallocx(40000, flags);
	ck_assert_ptr_nonnull(p);
	size_t old = sallocx(p, 0);
	ck_assert_uint_eq(xallocx(p, 80000, 0, flags), 81920); /* a fresh arena: room after it */
	dallocx(p, flags);
	epoch_advance();
	unsigned from = 0, to = 0;
	for (unsigned j = 0; j < 196; j++) {
		char name[64];
		snprintf(name, sizeof(name), "arenas.lextent.%u.size", j);
		size_t size, len = sizeof(size);
		ck_assert_int_eq(mallctl(name, &size, &len, NULL, 0), 0);
		from = size == old ? j : from;
		to = size == 81920 ? j : to;
	}
	ck_assert_uint_ne(from, to);
	ck_assert_uint_eq(stat_u64("stats.arenas.%u.lextents.%u.nmalloc", ind, from), 1);
	ck_assert_uint_eq(stat_u64("stats.arenas.%u.lextents.%u.ndalloc", ind, from), 1);
	ck_assert_uint_eq(stat_u64("stats.arenas.%u.lextents.%u.nmalloc", ind, to), 1);
	ck_assert_uint_eq(stat_u64("stats.arenas.%u.lextents.%u.ndalloc", ind, to), 1);
	ck_assert_uint_eq(stat_size("stats.arenas.%u.lextents.%u.curlextents", ind, to), 0);
	ck_assert_uint_eq(stat_size("stats.arenas.%u.large.allocated", ind, 0), 0);
}
END_TEST

/* ------------------------------------------------------------ JSON */

/* Writes the JSON of opts to path. */
static void
print_json(const char *opts, const char *path)
{
	print_report(opts);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(report, 1, report_len, f), report_len);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_json_parses_and_agrees_with_mallctl)
{
	unsigned ind = setup_arenas();
	char dir[64], path[128], cmd[4096], out[8192];
	temp_dir_make(dir, sizeof(dir), "stats_json");
	snprintf(path, sizeof(path), "%s/stats.json", dir);
	print_json("J", path);
	/* malloc_stats_print took the snapshot these reads see. */
	int n = snprintf(cmd, sizeof(cmd),
	                 "python3 tests/stats/check_json.py %s tests/stats/jemalloc-5.3-keys.json "
	                 "jemalloc/stats/allocated=%zu jemalloc/stats/active=%zu "
	                 "jemalloc/stats/resident=%zu jemalloc/stats/mapped=%zu "
	                 "jemalloc/stats/metadata=%zu jemalloc/stats/mutexes/ctl/num_ops=%llu ",
	                 path, read_size("stats.allocated"), read_size("stats.active"),
	                 read_size("stats.resident"), read_size("stats.mapped"),
	                 read_size("stats.metadata"),
	                 (unsigned long long)stat_u64("stats.mutexes.ctl.num_ops", 0, 0));
	n += snprintf(cmd + n, sizeof(cmd) - n,
	              "jemalloc/stats.arenas/%u/small/nmalloc=%llu "
	              "jemalloc/stats.arenas/%u/large/allocated=%zu "
	              "jemalloc/stats.arenas/%u/bins/3/curregs=%zu "
	              "jemalloc/stats.arenas/%u/lextents/%u/curlextents=%zu "
	              "jemalloc/stats.arenas/%u/pactive=%zu "
	              "jemalloc/stats.arenas/%u/mutexes/extents_dirty/num_ops=%llu "
	              "jemalloc/stats.arenas/merged/small/nmalloc=%llu "
	              "jemalloc/stats.arenas/destroyed/small/nmalloc=%llu "
	              "jemalloc/arenas/bin/3/size=48 2>&1",
	              ind, (unsigned long long)stat_u64("stats.arenas.%u.small.nmalloc", ind, 0), ind,
	              stat_size("stats.arenas.%u.large.allocated", ind, 0), ind,
	              stat_size("stats.arenas.%u.bins.3.curregs", ind, 0), ind, 5u,
	              stat_size("stats.arenas.%u.lextents.5.curlextents", ind, 0), ind,
	              stat_size("stats.arenas.%u.pactive", ind, 0), ind,
	              (unsigned long long)stat_u64("stats.arenas.%u.mutexes.extents_dirty.num_ops",
	                                           ind, 0),
	              (unsigned long long)stat_u64("stats.arenas.4096.small.nmalloc", 0, 0),
	              (unsigned long long)stat_u64("stats.arenas.4097.small.nmalloc", 0, 0));
	ck_assert_uint_lt((size_t)n, sizeof(cmd));
	int status = run_capture(cmd, out, sizeof(out));
	ck_assert_msg(status == 0, "%s", out);
	/* The 10 large objects of 40000 bytes are in large class 5 (40960). */
	ck_assert_uint_eq(stat_size("stats.arenas.%u.lextents.5.curlextents", ind, 0), 10);

	/* The omit letters omit in JSON too. */
	print_json("Jgmdablxe", path);
	ck_assert_ptr_null(strstr(report, "\"version\""));
	ck_assert_ptr_null(strstr(report, "\"merged\""));
	ck_assert_ptr_null(strstr(report, "\"destroyed\""));
	ck_assert_ptr_null(strstr(report, "\"bins\""));
	ck_assert_ptr_null(strstr(report, "\"mutexes\""));
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; d=json.load(open(\"%s\"));"
	         "print(sorted(d[\"jemalloc\"]))' 2>&1", path);
	ck_assert_int_eq(run_capture(cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "['stats']\n");
	temp_dir_remove(dir);
}
END_TEST

/* ------------------------------------------------------------ locks */

#define HAMMER_ROUNDS 20000

static unsigned hammer_arena;

static void *
hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < HAMMER_ROUNDS; i++) {
		void *p = mallocx(64, MALLOCX_ARENA(hammer_arena) | MALLOCX_TCACHE_NONE);
		dallocx(p, MALLOCX_TCACHE_NONE);
	}
	return NULL;
}

START_TEST(test_mutex_counters_move_and_reset)
{
	hammer_arena = arena_create();
	const unsigned bin = 4; /* 64 bytes */
	const char *waits = "stats.arenas.%u.bins.%u.mutex.num_wait";
	const char *spins = "stats.arenas.%u.bins.%u.mutex.num_spin_acq";
	uint64_t contended = 0;
	/* Two threads on one bin lock: some acquisitions find it busy.  Bounded:
	 * the rounds stop as soon as contention is seen. */
	for (int round = 0; round < 50 && contended == 0; round++) {
		pthread_t a, b;
		ck_assert_int_eq(pthread_create(&a, NULL, hammer, NULL), 0);
		ck_assert_int_eq(pthread_create(&b, NULL, hammer, NULL), 0);
		join_bounded(a);
		join_bounded(b);
		epoch_advance();
		contended = stat_u64(waits, hammer_arena, bin) + stat_u64(spins, hammer_arena, bin);
	}
	ck_assert_uint_gt(contended, 0);
	uint64_t ops = stat_u64("stats.arenas.%u.bins.%u.mutex.num_ops", hammer_arena, bin);
	ck_assert_uint_ge(ops, 4 * HAMMER_ROUNDS);
	ck_assert_uint_gt(stat_u64("stats.arenas.%u.bins.%u.mutex.num_owner_switch", hammer_arena,
	                           bin),
	                  1);
	/* The merged view sums the arena's. */
	ck_assert_uint_ge(stat_u64("stats.arenas.4096.bins.%u.mutex.num_ops", bin, 0), ops);
	uint64_t wait_total = stat_u64("stats.arenas.%u.bins.%u.mutex.total_wait_time",
	                               hammer_arena, bin);
	uint64_t wait_max = stat_u64("stats.arenas.%u.bins.%u.mutex.max_wait_time", hammer_arena,
	                             bin);
	ck_assert_uint_ge(wait_total, wait_max);
	if (stat_u64(waits, hammer_arena, bin) > 0) {
		ck_assert_uint_gt(wait_max, 0);
		uint32_t thds;
		size_t len = sizeof(thds);
		char name[96];
		snprintf(name, sizeof(name), "stats.arenas.%u.bins.%u.mutex.max_num_thds",
		         hammer_arena, bin);
		ck_assert_int_eq(mallctl(name, &thds, &len, NULL, 0), 0);
		ck_assert_uint_ge(thds, 1);
	}
	/* Global locks count too: every epoch took ctl. */
	ck_assert_uint_gt(stat_u64("stats.mutexes.ctl.num_ops", 0, 0), 0);

	ck_assert_int_eq(mallctl("stats.mutexes.reset", NULL, NULL, NULL, 0), 0);
	epoch_advance();
	ck_assert_uint_lt(stat_u64("stats.arenas.%u.bins.%u.mutex.num_ops", hammer_arena, bin),
	                  ops);
	ck_assert_uint_eq(stat_u64(waits, hammer_arena, bin), 0);
	ck_assert_uint_eq(stat_u64(spins, hammer_arena, bin), 0);
	ck_assert_uint_eq(stat_u64("stats.arenas.%u.bins.%u.mutex.max_wait_time", hammer_arena,
	                           bin),
	                  0);
	/* Only the epoch's own acquisition since the reset. */
	ck_assert_uint_le(stat_u64("stats.mutexes.ctl.num_ops", 0, 0), 2);
}
END_TEST

/* ------------------------------------------------------------ destroyed */

static void
arena_destroy(unsigned ind)
{
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.destroy", ind);
	ck_assert_int_eq(mallctl(name, NULL, NULL, NULL, 0), 0);
}

/* n objects of 96 bytes (bin 6) and one of 100000 (large) in arena ind,
 * freed. */
static void
arena_churn(unsigned ind, unsigned n)
{
	void *p[64];
	for (unsigned i = 0; i < n; i++)
		p[i] = mallocx(96, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE);
	for (unsigned i = 0; i < n; i++)
		dallocx(p[i], MALLOCX_TCACHE_NONE);
	dallocx(mallocx(100000, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE), MALLOCX_TCACHE_NONE);
}

START_TEST(test_destroyed_view_gets_destroyed_counts)
{
	unsigned ind = arena_create();
	arena_churn(ind, 20);
	/* Left allocated: arena destroy frees it, counted as a deallocation. */
	ck_assert_ptr_nonnull(mallocx(96, MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE));
	arena_destroy(ind);
	epoch_advance();
	const char *d = "stats.arenas.4097.%s";
	char name[96];
	snprintf(name, sizeof(name), d, "bins.6.nmalloc");
	ck_assert_uint_eq(stat_u64(name, 0, 0), 21);
	snprintf(name, sizeof(name), d, "bins.6.ndalloc");
	ck_assert_uint_eq(stat_u64(name, 0, 0), 21);
	snprintf(name, sizeof(name), d, "bins.6.curregs");
	ck_assert_uint_eq(stat_size(name, 0, 0), 0);
	snprintf(name, sizeof(name), d, "large.nmalloc");
	ck_assert_uint_eq(stat_u64(name, 0, 0), 1);
	snprintf(name, sizeof(name), d, "small.allocated");
	ck_assert_uint_eq(stat_size(name, 0, 0), 0);
	/* The index is gone from the per-arena stats. */
	snprintf(name, sizeof(name), "stats.arenas.%u.small.nmalloc", ind);
	uint64_t v;
	size_t len = sizeof(v);
	ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), ENOENT);

	/* Revived, the arena counts from zero; destroyed again, the view adds
	 * only what it counted since. */
	ck_assert_uint_eq(arena_create(), ind);
	arena_churn(ind, 5);
	epoch_advance();
	ck_assert_uint_eq(stat_u64("stats.arenas.%u.bins.6.nmalloc", ind, 0), 5);
	ck_assert_uint_eq(stat_u64("stats.arenas.%u.large.nmalloc", ind, 0), 1);
	arena_destroy(ind);
	epoch_advance();
	snprintf(name, sizeof(name), d, "bins.6.nmalloc");
	ck_assert_uint_eq(stat_u64(name, 0, 0), 26);
	snprintf(name, sizeof(name), d, "large.ndalloc");
	ck_assert_uint_eq(stat_u64(name, 0, 0), 2);
	/* The text report prints the view. */
	ck_assert_ptr_nonnull(strstr(print_report("gbl"), "Destroyed arenas stats:\n"));
}
END_TEST

/* ------------------------------------------------------------ stats_interval */

#define CHILD_ENV "STRATA_STATS_CHILD"

static _Atomic unsigned interval_reports;

static void
interval_message(void *opaque, const char *s)
{
	(void)opaque;
	if (strstr(s, "___ Begin jemalloc statistics ___") != NULL)
		atomic_fetch_add(&interval_reports, 1);
}

/* CHILD_ENV=interval: 1000 allocations of 100000 bytes (102400 usable),
 * 102.4 MB in all; prints the reports stats_interval made and the options. */
static void
child_interval(void)
{
	malloc_message = interval_message;
	for (int i = 0; i < 1000; i++)
		free(launder(malloc(100000)));
	int64_t interval = 0;
	const char *opts = NULL;
	size_t len = sizeof(interval);
	mallctl("opt.stats_interval", &interval, &len, NULL, 0);
	len = sizeof(opts);
	mallctl("opt.stats_interval_opts", &opts, &len, NULL, 0);
	printf("reports=%u interval=%lld opts=%s\n", atomic_load(&interval_reports),
	       (long long)interval, opts);
}

__attribute__((constructor)) static void
child_main(void)
{
	const char *mode = getenv(CHILD_ENV);
	if (mode == NULL)
		return;
	if (strcmp(mode, "interval") == 0)
		child_interval();
	else
		_exit(3);
	fflush(stdout);
	_exit(0);
}

START_TEST(test_stats_interval_prints_every_interval)
{
	char buf[256];
	/* jemalloc 5.3 prints 11 times here (observed with this program). */
	child_run_mode(CHILD_ENV, "interval", "stats_interval:10000000,stats_interval_opts:gabmxdle",
	               buf, sizeof(buf));
	unsigned reports = 0;
	ck_assert_int_eq(sscanf(buf, "reports=%u", &reports), 1);
	ck_assert_msg(reports >= 10 && reports <= 11, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, " interval=10000000 opts=gabmxdle\n"));
	child_run_mode(CHILD_ENV, "interval", "", buf, sizeof(buf));
	ck_assert_str_eq(buf, "reports=0 interval=-1 opts=\n");
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_stats");
	TCase *tc = tcase_create("nodes");
	tcase_add_test(tc, test_node_types_and_errors);
	tcase_add_test(tc, test_snapshot_consistent_while_threads_allocate);
	suite_add_tcase(s, tc);

	tc = tcase_create("print");
	tcase_add_test(tc, test_text_sections_and_omit_letters);
	tcase_add_test(tc, test_json_parses_and_agrees_with_mallctl);
	tcase_add_test(tc, test_large_counters_follow_resize_in_place);
	tcase_add_test(tc, test_stats_interval_prints_every_interval);
	suite_add_tcase(s, tc);

	tc = tcase_create("views");
	tcase_add_test(tc, test_mutex_counters_move_and_reset);
	tcase_add_test(tc, test_destroyed_view_gets_destroyed_counts);
	suite_add_tcase(s, tc);
	return s;
}
