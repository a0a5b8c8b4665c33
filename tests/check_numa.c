/*
 * check_numa.c — the NUMA topology, the arena partition and binding
 * (src/numa.c), and the page allocator's and base's use of them, on fake
 * topologies: each test writes a sysfs node folder in a temporary folder,
 * points numa_test_root at it (docs/design.md, "Injection") and boots the
 * module.  The kernel's mbind is replaced by a hook that records the calls
 * (this host has one node), and the NUMA probe by one that can fail.
 *   - two CPU nodes and a memory-only node: active, nodes usable, CPUs
 *     mapped, arenas split in proportion to CPUs, consistently for every
 *     arena count;
 *   - a node with CPUs but no memory binds to the nearest node with memory;
 *   - one node with memory, numa:off, a malformed list, a failing probe
 *     (ENOSYS, as under seccomp): inactive, and binding does nothing;
 *   - numa_policy picks mbind's mode and nodes;
 *   - a page allocator bound to a node binds each new mapping before use,
 *     records the node in the descriptor and the page map, and moves every
 *     mapping on pages_move_node; a base binds and moves its chunks.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"
#include "conf.h"
#include "emap.h"
#include "numa.h"
#include "os.h"
#include "pages.h"
#include "tree_util.h"

static char root[256];

typedef struct bind_call {
	void *addr;
	size_t size;
	os_bind_mode_t mode;
	uint64_t nodes;
	bool move;
} bind_call_t;

#define CALLS_MAX 64
static bind_call_t calls[CALLS_MAX];
static unsigned ncalls;
static int probe_result;

static int
record_bind(void *addr, size_t size, os_bind_mode_t mode, uint64_t nodes, bool move)
{
	if (ncalls < CALLS_MAX)
		calls[ncalls] = (bind_call_t){addr, size, mode, nodes, move};
	ncalls++;
	return 0;
}

static int
fake_probe(void)
{
	return probe_result;
}

static void
put(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Node 0: CPUs 0-1, node 1: CPUs 2-3, node 2: memory only (CXL-like),
 * distances 10/20/30. */
static void
put_three_nodes(void)
{
	put("online", "0-2\n");
	put("has_memory", "0-2\n");
	put("node0/cpulist", "0-1\n");
	put("node1/cpulist", "2-3\n");
	put("node2/cpulist", "\n");
	put("node0/distance", "10 20 30\n");
	put("node1/distance", "20 10 30\n");
	put("node2/distance", "30 30 10\n");
}

static void
setup(void)
{
	temp_dir_make(root, sizeof(root), "numa");
	numa_test_root = root;
	opt_numa = CONF_NUMA_AUTO;
	opt_numa_policy = CONF_NUMA_POLICY_PREFERRED;
	os_test_hooks.bind = record_bind;
	os_test_hooks.numa_probe = fake_probe;
	probe_result = 0;
	ncalls = 0;
}

static void
teardown(void)
{
	tree_remove(root);
	numa_test_root = NULL;
	os_test_hooks = (os_hooks_t){0};
}

START_TEST(test_three_nodes)
{
	put_three_nodes();
	numa_boot();
	ck_assert(numa_active());
	ck_assert_uint_eq(numa_memory_nodes(), 7);
	for (unsigned n = 0; n < 3; n++)
		ck_assert(numa_node_usable(n));
	ck_assert(!numa_node_usable(3));
	ck_assert(!numa_node_usable(NUMA_NODE_NONE));
	ck_assert_uint_eq(numa_node_of_cpu(1), 0);
	ck_assert_uint_eq(numa_node_of_cpu(2), 1);
	ck_assert_uint_eq(numa_node_of_cpu(3), 1);
	ck_assert_uint_eq(numa_home_node(2), 2);
	unsigned lo, hi;
	numa_arena_range(0, 8, &lo, &hi);
	ck_assert_uint_eq(lo, 0);
	ck_assert_uint_eq(hi, 4);
	numa_arena_range(1, 8, &lo, &hi);
	ck_assert_uint_eq(lo, 4);
	ck_assert_uint_eq(hi, 8);
	/* No CPUs: no arenas of its own; a thread there would pick from all. */
	numa_arena_range(2, 8, &lo, &hi);
	ck_assert_uint_eq(lo, 0);
	ck_assert_uint_eq(hi, 8);
	for (unsigned i = 0; i < 8; i++)
		ck_assert_uint_eq(numa_arena_node(i, 8), i < 4 ? 0 : 1);
}
END_TEST

/* For uneven CPU counts and every arena count, each arena's node is the
 * node whose range holds it, the ranges tile [0, narenas), and a node gets
 * arenas in proportion to its CPUs (rounded). */
START_TEST(test_partition_consistent)
{
	put("online", "0-2\n");
	put("has_memory", "0-2\n");
	put("node0/cpulist", "0\n");
	put("node1/cpulist", "1-2\n");
	put("node2/cpulist", "3-5\n");
	numa_boot();
	ck_assert(numa_active());
	for (unsigned narenas = 3; narenas <= 40; narenas++) {
		unsigned next = 0;
		for (unsigned node = 0; node < 3; node++) {
			unsigned lo, hi;
			numa_arena_range(node, narenas, &lo, &hi);
			ck_assert_uint_eq(lo, next);
			ck_assert_uint_lt(lo, hi);
			unsigned share = (node + 1) * narenas; /* CPUs 1, 2, 3 of 6 */
			ck_assert_uint_le(hi - lo, share / 6 + 1);
			ck_assert_uint_ge(hi - lo + 1, share / 6);
			for (unsigned i = lo; i < hi; i++)
				ck_assert_uint_eq(numa_arena_node(i, narenas), node);
			next = hi;
		}
		ck_assert_uint_eq(next, narenas);
	}
}
END_TEST

/* Node 1 has CPUs and no memory: its threads' memory goes to node 2, the
 * nearest node with memory (by distance, not by number). */
START_TEST(test_memoryless_cpu_node)
{
	put("online", "0-2\n");
	put("has_memory", "0,2\n");
	put("node0/cpulist", "0\n");
	put("node1/cpulist", "1\n");
	put("node2/cpulist", "\n");
	put("node0/distance", "10 30 20\n");
	put("node1/distance", "30 10 15\n");
	put("node2/distance", "20 15 10\n");
	numa_boot();
	ck_assert(numa_active());
	ck_assert(!numa_node_usable(1));
	ck_assert_uint_eq(numa_node_of_cpu(1), 1);
	ck_assert_uint_eq(numa_home_node(1), 2);
	ck_assert_uint_eq(numa_arena_node(0, 2), 0);
	ck_assert_uint_eq(numa_arena_node(1, 2), 2);
}
END_TEST

static void
assert_inactive(void)
{
	ck_assert(!numa_active());
	ck_assert_uint_eq(numa_memory_nodes(), 0);
	ck_assert(!numa_node_usable(0));
	ck_assert_uint_eq(numa_arena_node(0, 8), NUMA_NODE_NONE);
	unsigned lo, hi;
	numa_arena_range(0, 8, &lo, &hi);
	ck_assert_uint_eq(lo, 0);
	ck_assert_uint_eq(hi, 8);
	char page[64];
	ck_assert_int_eq(numa_bind(page, sizeof(page), 0, false), 0);
	ck_assert_uint_eq(ncalls, 0);
}

START_TEST(test_one_memory_node_is_inactive)
{
	put("online", "0-1\n");
	put("has_memory", "0\n");
	put("node0/cpulist", "0-1\n");
	put("node1/cpulist", "2-3\n");
	numa_boot();
	assert_inactive();
}
END_TEST

START_TEST(test_off_is_inactive)
{
	put_three_nodes();
	opt_numa = CONF_NUMA_OFF;
	numa_boot();
	assert_inactive();
}
END_TEST

START_TEST(test_no_sysfs_is_inactive)
{
	numa_boot(); /* the folder is empty: a kernel without NUMA */
	assert_inactive();
}
END_TEST

START_TEST(test_malformed_list_is_inactive)
{
	put_three_nodes();
	put("node1/cpulist", "2-x\n");
	numa_boot();
	assert_inactive();
}
END_TEST

/* A kernel without the NUMA system calls (ENOSYS), or a seccomp filter that
 * refuses them (EPERM): off, after one message. */
START_TEST(test_failing_probe_is_inactive)
{
	put_three_nodes();
	probe_result = ENOSYS;
	numa_boot();
	assert_inactive();
	probe_result = EPERM;
	numa_boot();
	assert_inactive();
	probe_result = 0;
	numa_boot();
	ck_assert(numa_active());
}
END_TEST

START_TEST(test_policy_picks_mode_and_nodes)
{
	put_three_nodes();
	numa_boot();
	char page[64];
	const struct {
		enum conf_numa_policy policy;
		os_bind_mode_t mode;
		uint64_t nodes;
	} cases[] = {
		{CONF_NUMA_POLICY_PREFERRED, OS_BIND_PREFERRED, 2},
		{CONF_NUMA_POLICY_BIND, OS_BIND_STRICT, 2},
		{CONF_NUMA_POLICY_INTERLEAVE, OS_BIND_INTERLEAVE, 7},
	};
	for (unsigned i = 0; i < 3; i++) {
		opt_numa_policy = cases[i].policy;
		ncalls = 0;
		ck_assert_int_eq(numa_bind(page, sizeof(page), 1, i == 2), 0);
		ck_assert_uint_eq(ncalls, 1);
		ck_assert_ptr_eq(calls[0].addr, page);
		ck_assert_uint_eq(calls[0].mode, cases[i].mode);
		ck_assert_uint_eq(calls[0].nodes, cases[i].nodes);
		ck_assert_int_eq(calls[0].move, i == 2);
	}
	ncalls = 0;
	ck_assert_int_eq(numa_bind(page, sizeof(page), NUMA_NODE_NONE, false), 0);
	ck_assert_uint_eq(ncalls, 0);
}
END_TEST

/* A bound page allocator: every mapping is bound to its node before the
 * allocation is handed out, the extent and its page-map entries carry the
 * node, and a move migrates every mapping made so far. */
START_TEST(test_pages_bind_and_move)
{
	put_three_nodes();
	numa_boot();
	sz_boot();
	static base_t global_base, base;
	base_init(&global_base, MUTEX_RANK_GLOBAL_BASE);
	base_init(&base, MUTEX_RANK_ARENA_BASE);
	emap_boot(&global_base);
	static pages_t p;
	pages_init(&p, 3, &base, -1, -1);
	ck_assert_uint_eq(pages_node(&p), NUMA_NODE_NONE);
	pages_move_node(&p, 1);
	ck_assert_uint_eq(pages_node(&p), 1);
	ncalls = 0;
	extent_t *a = pages_alloc(&p, 4 * PAGE, PAGE, false, 0, true);
	extent_t *b = pages_alloc(&p, 8 << 20, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* Every call bound a new mapping to node 1; together they hold both
	 * extents (the base's chunks are unbound here: its node is unset). */
	bool holds_a = false, holds_b = false;
	unsigned mappings = ncalls;
	ck_assert_uint_ge(mappings, 1);
	for (unsigned i = 0; i < ncalls && i < CALLS_MAX; i++) {
		ck_assert_uint_eq(calls[i].mode, OS_BIND_PREFERRED);
		ck_assert_uint_eq(calls[i].nodes, 2);
		ck_assert(!calls[i].move);
		char *lo = calls[i].addr, *hi = lo + calls[i].size;
		holds_a |= (char *)a->addr >= lo && (char *)a->addr + a->size <= hi;
		holds_b |= (char *)b->addr >= lo && (char *)b->addr + b->size <= hi;
	}
	ck_assert(holds_a && holds_b);
	ck_assert_uint_eq(a->node, 1);
	ck_assert_uint_eq(b->node, 1);
	ck_assert_uint_eq(emap_bits_node(emap_lookup((char *)a->addr + PAGE)), 1);
	ck_assert_uint_eq(emap_bits_node(emap_lookup(b->addr)), 1);
	ck_assert_uint_eq(emap_bits_szind(emap_lookup(b->addr)), SZ_NBINS);
	ncalls = 0;
	pages_move_node(&p, 2);
	ck_assert_uint_eq(ncalls, mappings);
	for (unsigned i = 0; i < ncalls; i++) {
		ck_assert(calls[i].move);
		ck_assert_uint_eq(calls[i].nodes, 4);
	}
	extent_t *c = pages_alloc(&p, 16 << 20, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->node, 2);
	ck_assert_uint_eq(a->node, 1); /* allocated before the move: its entries keep 1 */
}
END_TEST

START_TEST(test_base_binds_and_moves_chunks)
{
	put_three_nodes();
	numa_boot();
	static base_t base;
	base_init(&base, MUTEX_RANK_ARENA_BASE);
	base_move_node(&base, 1);
	ncalls = 0;
	void *small = base_alloc(&base, 64, 64);
	void *big = base_alloc(&base, 3 * BASE_CHUNK, 64); /* a chunk of its own */
	ck_assert_ptr_nonnull(small);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(ncalls, 2);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_uint_eq(calls[i].nodes, 2);
		ck_assert(!calls[i].move);
	}
	ncalls = 0;
	base_move_node(&base, 0);
	ck_assert_uint_eq(ncalls, 2);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_uint_eq(calls[i].nodes, 1);
		ck_assert(calls[i].move);
		ck_assert_uint_ge(calls[i].size, BASE_CHUNK);
	}
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("numa");
	TCase *tc = tcase_create("numa");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_three_nodes);
	tcase_add_test(tc, test_partition_consistent);
	tcase_add_test(tc, test_memoryless_cpu_node);
	tcase_add_test(tc, test_one_memory_node_is_inactive);
	tcase_add_test(tc, test_off_is_inactive);
	tcase_add_test(tc, test_no_sysfs_is_inactive);
	tcase_add_test(tc, test_malformed_list_is_inactive);
	tcase_add_test(tc, test_failing_probe_is_inactive);
	tcase_add_test(tc, test_policy_picks_mode_and_nodes);
	tcase_add_test(tc, test_pages_bind_and_move);
	tcase_add_test(tc, test_base_binds_and_moves_chunks);
	suite_add_tcase(s, tc);
	return s;
}
