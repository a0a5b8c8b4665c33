/*
 * t_options.c — tests of the NUMA options: "defaults" (opt.numa auto,
 * opt.numa_policy preferred, opt.numa_migrate rebind; guest_check.sh also runs
 * it under bad values, which must leave the defaults), "off" (numa:off: no
 * node anywhere, no memory policy on any mapping), "one_node" (the same
 * under numa:auto on a machine with one node: run on the host, outside the
 * VM) and "policy" (a 32 MiB block of a thread on node 1 under the policy
 * opt.numa_policy names: preferred and bind keep it on node 1, interleave
 * spreads it over every node with memory; the block's mapping carries that
 * policy in /proc/self/numa_maps).
 */
#include "numa_check.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_BLOCK (32 * MiB)

static void
expect_opt(const char *name, const char *want)
{
	const char *got = ctl_opt(name);
	expect(strcmp(got, want) == 0, "%s is \"%s\", want \"%s\"", name, got, want);
}

void
test_defaults(void)
{
	expect_opt("opt.numa", "auto");
	expect_opt("opt.numa_policy", "preferred");
	expect_opt("opt.numa_migrate", "rebind");
}

/* The policy field of /proc/self/numa_maps for the mapping that holds p
 * (its start is found in /proc/self/maps); "" when not found. */
static void
policy_of(const void *p, char *policy, size_t size)
{
	uintptr_t start = 0, lo, hi;
	char line[512];
	policy[0] = '\0';
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= (uintptr_t)p && (uintptr_t)p < hi)
			start = lo;
	fclose(f);
	f = fopen("/proc/self/numa_maps", "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char field[64];
		if (sscanf(line, "%lx %63s", &lo, field) == 2 && lo == start && start != 0)
			snprintf(policy, size, "%s", field);
	}
	fclose(f);
}

void
expect_inactive(void)
{
	unsigned node = 0;
	int err = ctl_read_u("thread.numa_node", &node);
	expect(err == 0 && node == UINT_MAX, "thread.numa_node: error %d, %u, want UINT_MAX", err,
	       node);
	err = ctl_read_ui("arena", 0, "numa_node", &node);
	expect(err == 0 && node == UINT_MAX, "arena.0.numa_node: error %d, %u, want UINT_MAX", err,
	       node);
	for (unsigned n = 0; n <= MEMORY_ONLY_NODE; n++) {
		err = ctl_write_ui("arena", 0, "numa_node", n);
		expect(err == EINVAL, "writing arena.0.numa_node=%u: error %d, want EINVAL", n, err);
		unsigned arena;
		size_t len = sizeof(arena);
		err = mallctl("arenas.create", &arena, &len, &n, sizeof(n));
		expect(err == EINVAL, "arenas.create with node %u: error %d, want EINVAL", n, err);
	}

	void *small[256], *large = xmalloc(256 * KiB), *huge = xmalloc(POLICY_BLOCK);
	memset(large, 1, 256 * KiB);
	memset(huge, 1, POLICY_BLOCK);
	for (int i = 0; i < 256; i++) {
		small[i] = xmalloc(64);
		memset(small[i], 1, 64);
	}
	char line[512];
	FILE *f = fopen("/proc/self/numa_maps", "r");
	expect(f != NULL, "cannot read /proc/self/numa_maps");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char field[64] = "";
		sscanf(line, "%*x %63s", field);
		expect(strcmp(field, "default") == 0, "a mapping has a memory policy: %s", line);
	}
	if (f != NULL)
		fclose(f);
	for (int i = 0; i < 256; i++)
		free(small[i]);
	free(large);
	free(huge);
}

void
test_off(void)
{
	expect_opt("opt.numa", "off");
	expect_inactive();
}

void
test_one_node(void)
{
	char nodes[64] = "";
	FILE *f = fopen("/sys/devices/system/node/has_memory", "r");
	if (f != NULL) {
		if (fgets(nodes, sizeof(nodes), f) == NULL)
			nodes[0] = '\0';
		fclose(f);
	}
	nodes[strcspn(nodes, "\n")] = '\0';
	if (f != NULL && strcmp(nodes, "0") != 0) {
		printf("  not a one-node machine (nodes with memory: %s): nothing to test\n", nodes);
		return;
	}
	expect_opt("opt.numa", "auto");
	expect_inactive();
}

static void *
policy_thread(void *arg)
{
	(void)arg;
	const char *policy = ctl_opt("opt.numa_policy");
	pageset_t ps;
	pageset_init(&ps, POLICY_BLOCK / 4096 + 1);
	void *block = xmalloc(POLICY_BLOCK);
	pageset_touch_add(&ps, block, POLICY_BLOCK);
	char field[64], want[64];
	policy_of(block, field, sizeof(field));
	if (strcmp(policy, "interleave") == 0) {
		placement_t pl = pageset_where(&ps);
		for (unsigned n = 0; n < LOC_NODES; n++)
			expect(placement_fraction(&pl, n) >= 0.20,
			       "interleave: %.1f%% of %zu pages on node %u", 100 * placement_fraction(&pl, n),
			       pl.pages, n);
		snprintf(want, sizeof(want), "interleave:0-%u", MEMORY_ONLY_NODE);
	} else {
		expect(strcmp(policy, "preferred") == 0 || strcmp(policy, "bind") == 0,
		       "opt.numa_policy is \"%s\"", policy);
		expect_on_node(&ps, 1, policy);
		snprintf(want, sizeof(want), "%s:1", strcmp(policy, "bind") == 0 ? "bind" : "prefer");
	}
	expect(strcmp(field, want) == 0, "the block's mapping has policy \"%s\", want \"%s\"", field,
	       want);
	free(block);
	pageset_free(&ps);
	return NULL;
}

void
test_policy(void)
{
	run_pinned(1, policy_thread, NULL);
}
