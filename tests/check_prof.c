/*
 * check_prof.c — the profiler's internals, driven directly:
 *   - a stack counted from several threads gets one line per thread, and
 *     a dump writes each line so that jeprof's un-sampling gives back the
 *     unbiased estimate (1 / (1 - e^(-z/R)) objects per sampled z bytes);
 *   - frees take back exactly what was counted, but not from the
 *     accumulated counts (prof_accum); prof.reset expires every
 *     counter, so frees of older objects count nothing;
 *   - a dump with more stacks than its first buffer holds still has them
 *     all;
 *   - thread names: printable text only;
 *   - threads counting and uncounting on shared stacks while another dumps
 *     and renames threads leave every counter exact (also run under TSan);
 *   - threads recording and releasing recent allocations while another
 *     dumps the ring and changes its limit: the ring ends within its limit
 *     with every record released (also run under TSan).
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "init.h"
#include "prof/dump.h"
#include "prof/prof.h"
#include "prof/recent.h"
#include "prof/recent_json.h"
#include "prof/stacks.h"
#include "prof/state.h"
#include "prof/tdata.h"
#include "thread_util.h"

static char dir[64];

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
	opt_prof = true;
	opt_lg_prof_sample = 10;
	ck_assert_int_eq(prof_boot(), 0);
	snprintf(dir, sizeof(dir), "/tmp/strata-prof-unit-XXXXXX");
	ck_assert(mkdtemp(dir) != NULL);
}

static void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Counts of the stack whose first frame is pc in a plain dump: its t*
 * line, and how many t<uid> lines it has. */
typedef struct stack_line {
	unsigned long long objs, bytes;
	int nthreads;
	bool found;
} stack_line_t;

static stack_line_t
dump_and_find(uintptr_t pc)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/unit.heap", dir);
	ck_assert_int_eq(prof_dump_write(path, false), 0);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char line[4096];
	stack_line_t out = {0};
	bool in = false;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long a, b;
		if (line[0] == '@') {
			in = strtoull(line + 1, NULL, 16) == pc;
			out.found = out.found || in;
		} else if (in && sscanf(line, "  t*: %llu: %llu", &out.objs, &out.bytes) == 2) {
			continue;
		} else if (in && sscanf(line, "  t%*u: %llu: %llu", &a, &b) == 2) {
			out.nthreads++;
		}
	}
	fclose(f);
	return out;
}

START_TEST(test_dump_lines_unsample_to_the_estimate)
{
	struct prof_tdata *t1 = NULL, *t2 = NULL;
	ck_assert_ptr_nonnull(prof_tdata_get(&t1));
	ck_assert_ptr_nonnull(prof_tdata_get(&t2));
	ck_assert_uint_ne(t1->uid, t2->uid);
	uintptr_t pcs[] = {0x401000, 0x402000, 0x403000};
	for (int i = 0; i < 30; i++)
		ck_assert_ptr_nonnull(prof_stacks_count(t1, pcs, 3, 48));
	for (int i = 0; i < 10; i++)
		ck_assert_ptr_nonnull(prof_stacks_count(t2, pcs, 3, 48));
	stack_line_t l = dump_and_find(0x401000);
	ck_assert(l.found);
	ck_assert_int_eq(l.nthreads, 2);
	/* One size on the stack: the written count is the number sampled. */
	ck_assert_uint_eq(l.objs, 40);
	ck_assert_uint_eq(l.bytes, 40 * 48);
	double scale = 1.0 / (1.0 - exp(-(double)l.bytes / (double)l.objs / 1024.0));
	double truth = 40 * prof_stacks_weight(48);
	ck_assert_msg(fabs(l.objs * scale - truth) < 1e-6 * truth, "%.3f vs %.3f", l.objs * scale,
	              truth);
}
END_TEST

START_TEST(test_mixed_sizes_keep_the_unbiased_bytes)
{
	struct prof_tdata *t = NULL;
	prof_tdata_get(&t);
	uintptr_t pcs[] = {0x501000};
	prof_stacks_count(t, pcs, 1, 16);
	prof_stacks_count(t, pcs, 1, 32 << 20);
	stack_line_t l = dump_and_find(0x501000);
	double x = (double)l.bytes / (double)l.objs;
	double bytes = (double)l.bytes / (1.0 - exp(-x / 1024.0));
	double truth = 16 * prof_stacks_weight(16) + (32 << 20) * prof_stacks_weight(32 << 20);
	ck_assert_msg(fabs(bytes - truth) < 0.001 * truth, "jeprof would say %.0f, truth %.0f", bytes,
	              truth);
}
END_TEST

START_TEST(test_uncount_and_reset)
{
	struct prof_tdata *t = NULL;
	prof_tdata_get(&t);
	uintptr_t pcs[] = {0x601000, 0x602000};
	struct prof_tctx *a = prof_stacks_count(t, pcs, 2, 4096);
	struct prof_tctx *b = prof_stacks_count(t, pcs, 2, 4096);
	ck_assert_ptr_eq(a, b);
	prof_stacks_uncount(a, 4096);
	ck_assert_uint_eq(a->cnt.curobjs, 1);
	prof_stacks_uncount(a, 4096);
	ck_assert_uint_eq(a->cnt.curobjs, 0);
	ck_assert(a->cnt.cur_bytes_u == 0.0 && a->cnt.cur_objs_u == 0.0);
	ck_assert(!dump_and_find(0x601000).found);
	struct prof_tctx *old = prof_stacks_count(t, pcs, 2, 4096);
	prof_reset(10);
	ck_assert(!dump_and_find(0x601000).found);
	struct prof_tctx *fresh = prof_stacks_count(t, pcs, 2, 4096);
	ck_assert_ptr_ne(fresh, old);
	prof_stacks_uncount(old, 4096); /* sampled before the reset: nothing */
	ck_assert_uint_eq(fresh->cnt.curobjs, 1);
	ck_assert_uint_eq(dump_and_find(0x601000).objs, 1);
}
END_TEST

/* prof_accum: freed objects stay in the accumulated pair, and a stack with
 * nothing live is still dumped for it. */
START_TEST(test_accum_keeps_freed_objects)
{
	opt_prof_accum = true;
	struct prof_tdata *t = NULL;
	prof_tdata_get(&t);
	uintptr_t pcs[] = {0xa01000};
	struct prof_tctx *x = NULL;
	for (int i = 0; i < 3; i++)
		x = prof_stacks_count(t, pcs, 1, 1 << 20);
	for (int i = 0; i < 3; i++)
		prof_stacks_uncount(x, 1 << 20);
	ck_assert_uint_eq(x->cnt.curobjs, 0);
	ck_assert_uint_eq(x->cnt.accumobjs, 3);
	char path[128], cmd[256];
	snprintf(path, sizeof(path), "%s/accum.heap", dir);
	ck_assert_int_eq(prof_dump_write(path, false), 0);
	snprintf(cmd, sizeof(cmd), "grep -A1 '^@ 0xa01000$' %s | grep -qx '  t\\*: 0: 0 \\[3: 3145728\\]'",
	         path);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_dump_holds_more_stacks_than_first_buffer)
{
	struct prof_tdata *t = NULL;
	prof_tdata_get(&t);
	const unsigned n = 5000;
	for (unsigned i = 0; i < n; i++) {
		uintptr_t pcs[] = {0x700000 + i, 0x800000};
		prof_stacks_count(t, pcs, 2, 64);
	}
	prof_stacks_line_t *lines = calloc(n + 10, sizeof(*lines));
	ck_assert_uint_eq(prof_stacks_snapshot(lines, 10), n);
	ck_assert_uint_eq(prof_stacks_snapshot(lines, n + 10), n);
	free(lines);
	char path[128], cmd[256];
	snprintf(path, sizeof(path), "%s/many.heap", dir);
	ck_assert_int_eq(prof_dump_write(path, false), 0);
	snprintf(cmd, sizeof(cmd), "test $(grep -c '^@' %s) -eq %u", path, n);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_thread_names_printable_only)
{
	struct prof_tdata *t = NULL;
	prof_tdata_get(&t);
	ck_assert_int_eq(prof_tdata_name_set(t, "io worker\t2"), 0);
	ck_assert_str_eq(t->name, "io worker\t2");
	ck_assert_int_eq(prof_tdata_name_set(t, "bad\nname"), EINVAL);
	ck_assert_int_eq(prof_tdata_name_set(t, "0123456789012345678901234567890123"), EINVAL);
	ck_assert_str_eq(t->name, "io worker\t2");
}
END_TEST

#define RACE_THREADS 8
#define RACE_ROUNDS 2000

static void *
race_counter(void *arg)
{
	struct prof_tdata *t = NULL;
	prof_tdata_get(&t);
	unsigned seed = (unsigned)(uintptr_t)arg;
	struct prof_tctx *held[16];
	for (int r = 0; r < RACE_ROUNDS; r++) {
		for (int i = 0; i < 16; i++) {
			seed = seed * 1103515245u + 12345u;
			uintptr_t pcs[] = {0x900000 + (seed >> 16) % 16, 0x910000};
			held[i] = prof_stacks_count(t, pcs, 2, 64 + i);
		}
		for (int i = 0; i < 16; i++)
			prof_stacks_uncount(held[i], 64 + i);
		if (r % 256 == 0)
			prof_tdata_name_set(t, r % 512 == 0 ? "even" : "odd");
	}
	return NULL;
}

static _Atomic bool race_done;

static void *
race_dumper(void *arg)
{
	(void)arg;
	char path[128];
	snprintf(path, sizeof(path), "%s/race.heap", dir);
	int dumps = 0;
	while (!atomic_load(&race_done) || dumps == 0) {
		ck_assert_int_eq(prof_dump_write(path, dumps % 2 == 0), 0);
		dumps++;
	}
	return NULL;
}

START_TEST(test_concurrent_counting_and_dumps_stay_exact)
{
	pthread_t counters[RACE_THREADS], dumper;
	ck_assert_int_eq(pthread_create(&dumper, NULL, race_dumper, NULL), 0);
	for (uintptr_t i = 0; i < RACE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&counters[i], NULL, race_counter, (void *)(i + 1)), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		join_bounded(counters[i]);
	atomic_store(&race_done, true);
	join_bounded(dumper);
	prof_stacks_line_t line;
	ck_assert_uint_eq(prof_stacks_snapshot(&line, 1), 0);
}
END_TEST

/* Each thread records 16 allocations, then frees them, over and over; the
 * free of an object whose record was evicted must leave the record alone. */
static void *
recent_recorder(void *arg)
{
	struct prof_tdata *t = NULL;
	prof_tdata_get(&t);
	uintptr_t pcs[] = {0x920000 + (uintptr_t)arg, 0x930000};
	const prof_stack_t *stack = prof_stacks_intern(pcs, 2);
	extent_sample_t held[16];
	for (int r = 0; r < RACE_ROUNDS; r++) {
		for (int i = 0; i < 16; i++)
			prof_recent_alloc(&held[i], 100 + (size_t)i, 112, t, stack);
		for (int i = 0; i < 16; i++) {
			if (prof_recent_is_live(&held[i]))
				prof_recent_dalloc(&held[i], t, stack);
		}
	}
	return NULL;
}

static atomic_size_t recent_records, recent_live;

/* Counts the records and the live ones in the JSON's pieces. */
static void
recent_count_chunk(void *opaque, const char *s)
{
	(void)opaque;
	for (const char *p = s; (p = strstr(p, "\"released\":")) != NULL; p++) {
		atomic_fetch_add(&recent_records, 1);
		atomic_fetch_add(&recent_live, strncmp(p + 11, "false", 5) == 0);
	}
}

static void *
recent_dumper(void *arg)
{
	(void)arg;
	char path[128];
	snprintf(path, sizeof(path), "%s/race.recent.json", dir);
	static const ssize_t limits[] = {5, 100, -1, 0, 1000};
	for (int dumps = 0; !atomic_load(&race_done) || dumps == 0; dumps++) {
		ck_assert_int_eq(prof_recent_alloc_max_set(limits[dumps % 5]), 0);
		ck_assert_int_eq(prof_recent_json_dump_file(path, dumps % 2 == 0), 0);
	}
	return NULL;
}

START_TEST(test_concurrent_recent_records_and_dumps)
{
	pthread_t recorders[RACE_THREADS], dumper;
	atomic_store(&race_done, false);
	ck_assert_int_eq(pthread_create(&dumper, NULL, recent_dumper, NULL), 0);
	for (uintptr_t i = 0; i < RACE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&recorders[i], NULL, recent_recorder, (void *)i), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		join_bounded(recorders[i]);
	atomic_store(&race_done, true);
	join_bounded(dumper);
	/* The last limit the dumper set may have been any of them: a limit
	 * of 1000 now keeps at most 1000 of what is there. */
	ck_assert_int_eq(prof_recent_alloc_max_set(1000), 0);
	ck_assert_int_eq(prof_recent_json_dump_cb(recent_count_chunk, NULL), 0);
	size_t all = atomic_load(&recent_records);
	ck_assert_uint_le(all, 1000);
	ck_assert_uint_eq(atomic_load(&recent_live), 0);
	ck_assert_int_eq(prof_recent_alloc_max_set(3), 0);
	atomic_store(&recent_records, 0);
	ck_assert_int_eq(prof_recent_json_dump_cb(recent_count_chunk, NULL), 0);
	ck_assert_uint_eq(atomic_load(&recent_records), all < 3 ? all : 3);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("prof");
	TCase *tc = tcase_create("prof");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dump_lines_unsample_to_the_estimate);
	tcase_add_test(tc, test_mixed_sizes_keep_the_unbiased_bytes);
	tcase_add_test(tc, test_uncount_and_reset);
	tcase_add_test(tc, test_accum_keeps_freed_objects);
	tcase_add_test(tc, test_dump_holds_more_stacks_than_first_buffer);
	tcase_add_test(tc, test_thread_names_printable_only);
	tcase_add_test(tc, test_concurrent_counting_and_dumps_stay_exact);
	tcase_add_test(tc, test_concurrent_recent_records_and_dumps);
	suite_add_tcase(s, tc);
	return s;
}
