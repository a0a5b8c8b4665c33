/*
 * t_stats.c — test "stats": malloc_stats_print's per-node lines
 * ("NUMA node <k>: arenas: <n>, resident: <bytes>") follow where memory is:
 * after a thread on node 1 keeps 16 MiB and an arena created on the
 * memory-only node keeps 8 MiB, every node with memory has its line, node 1
 * holds at least 16 MiB and node 2 at least 8 MiB in at least one arena.
 */
#include "numa_check.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE1_BYTES (16 * MiB)
#define NODE2_BYTES (8 * MiB)
#define BLOCK (64 * KiB)

typedef struct report {
	char text[256 * 1024];
	size_t len;
} report_t;

/* malloc_stats_print's writer: appends to a report, never allocates. */
static void
report_write(void *opaque, const char *s)
{
	report_t *r = opaque;
	size_t n = strlen(s);
	if (n > sizeof(r->text) - 1 - r->len)
		n = sizeof(r->text) - 1 - r->len;
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = '\0';
}

static void *
keep_thread(void *arg)
{
	void **blocks = arg;
	for (size_t i = 0; i < NODE1_BYTES / BLOCK; i++) {
		blocks[i] = xmalloc(BLOCK);
		memset(blocks[i], 1, BLOCK);
	}
	return NULL;
}

void
test_stats(void)
{
	void **node1 = scratch(NODE1_BYTES / BLOCK * sizeof(void *));
	run_pinned(1, keep_thread, node1);
	unsigned node = MEMORY_ONLY_NODE, arena = UINT_MAX;
	size_t len = sizeof(arena);
	int err = mallctl("arenas.create", &arena, &len, &node, sizeof(node));
	expect(err == 0, "arenas.create with node %u: error %d", node, err);
	void **node2 = scratch(NODE2_BYTES / BLOCK * sizeof(void *));
	for (size_t i = 0; err == 0 && i < NODE2_BYTES / BLOCK; i++) {
		node2[i] = mallocx(BLOCK, MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE);
		memset(node2[i], 1, BLOCK);
	}

	ctl_refresh_stats();
	report_t *r = scratch(sizeof(*r));
	malloc_stats_print(report_write, r, NULL);
	size_t resident[LOC_NODES] = {0};
	unsigned arenas[LOC_NODES] = {0};
	bool seen[LOC_NODES] = {false};
	for (const char *line = r->text; line != NULL && *line != '\0';) {
		unsigned k, n;
		size_t bytes;
		if (sscanf(line, "NUMA node %u: arenas: %u, resident: %zu", &k, &n, &bytes) == 3) {
			expect(k < LOC_NODES && !seen[k], "a line for node %u (again, or unknown)", k);
			if (k < LOC_NODES) {
				seen[k] = true;
				arenas[k] = n;
				resident[k] = bytes;
			}
		}
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	for (unsigned k = 0; k < LOC_NODES; k++)
		expect(seen[k], "malloc_stats_print has no line for node %u", k);
	expect(arenas[1] >= 1 && resident[1] >= NODE1_BYTES,
	       "node 1: %u arenas, %zu bytes resident; a thread there keeps %zu", arenas[1],
	       resident[1], NODE1_BYTES);
	expect(arenas[2] >= 1 && resident[2] >= NODE2_BYTES,
	       "node 2: %u arenas, %zu bytes resident; an arena there keeps %zu", arenas[2],
	       resident[2], NODE2_BYTES);
	for (size_t i = 0; i < NODE1_BYTES / BLOCK; i++)
		free(node1[i]);
	for (size_t i = 0; err == 0 && i < NODE2_BYTES / BLOCK; i++)
		dallocx(node2[i], MALLOCX_TCACHE_NONE);
}
