/*
 * t_tier.c — tests "tier" and "create": memory tiering through mallctl.
 * "tier": writing arena.<i>.numa_node moves a manual arena, its existing
 * pages (contents kept) and its future mappings, to the memory-only node.
 * "create": arenas.create given a node makes an arena whose blocks come from
 * that node, not from the creating thread's.  The main thread runs on node
 * 0's CPU throughout, so first-touch placement would say node 0.
 */
#include "numa_check.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_N 2048
#define LARGE_N 8

typedef struct blocks {
	void *p[SMALL_N + LARGE_N + 1];
	pageset_t pages;
} blocks_t;

/* Small (128 B), large (64 KiB) and one huge (4 MiB) block from the arena,
 * filled with a pattern. */
static blocks_t *
blocks_alloc(unsigned arena)
{
	blocks_t *b = scratch(sizeof(*b));
	int flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
	pageset_init(&b->pages, SMALL_N + LARGE_N * 17 + 1025);
	for (int i = 0; i < SMALL_N + LARGE_N + 1; i++) {
		size_t size = i < SMALL_N ? 128 : i < SMALL_N + LARGE_N ? 64 * KiB : 4 * MiB;
		b->p[i] = mallocx(size, flags);
		expect(b->p[i] != NULL, "mallocx(%zu) from arena %u failed", size, arena);
		if (b->p[i] == NULL)
			exit(1);
		pageset_touch_add(&b->pages, b->p[i], size);
		memset(b->p[i], i & 0xff, size);
	}
	return b;
}

static void
blocks_free(blocks_t *b)
{
	for (int i = 0; i < SMALL_N + LARGE_N + 1; i++)
		dallocx(b->p[i], MALLOCX_TCACHE_NONE);
	pageset_free(&b->pages);
}

/* Expects the arena's home node, read by mallctl and by stats, to be node. */
static void
expect_home(unsigned arena, unsigned node)
{
	unsigned home = UINT_MAX, stat = UINT_MAX;
	int err = ctl_read_ui("arena", arena, "numa_node", &home);
	expect(err == 0 && home == node, "arena.%u.numa_node: error %d, %u, want %u", arena, err,
	       home, node);
	ctl_refresh_stats();
	err = ctl_read_ui("stats.arenas", arena, "numa_node", &stat);
	expect(err == 0 && stat == node, "stats.arenas.%u.numa_node: error %d, %u, want %u", arena,
	       err, stat, node);
}

void
test_tier(void)
{
	pin_self(0);
	unsigned arena = UINT_MAX, home = UINT_MAX;
	size_t len = sizeof(arena);
	expect(mallctl("arenas.create", &arena, &len, NULL, 0) == 0, "arenas.create failed");
	expect(ctl_read_ui("arena", arena, "numa_node", &home) == 0 && home < MEMORY_ONLY_NODE,
	       "a new arena on node 0's CPU has home node %u", home);
	if (home >= MEMORY_ONLY_NODE)
		return;
	blocks_t *old = blocks_alloc(arena);
	expect_on_node(&old->pages, home, "the arena's blocks before the move");

	int err = ctl_write_ui("arena", arena, "numa_node", MEMORY_ONLY_NODE);
	expect(err == 0, "writing arena.%u.numa_node=%u: error %d", arena, MEMORY_ONLY_NODE, err);
	expect_home(arena, MEMORY_ONLY_NODE);
	expect_on_node(&old->pages, MEMORY_ONLY_NODE, "the arena's blocks after the move");
	for (int i = 0; i < SMALL_N + LARGE_N + 1; i++) {
		const unsigned char *c = old->p[i];
		expect(c[0] == (i & 0xff) && c[127] == (i & 0xff), "block %d changed in the move", i);
	}
	blocks_t *fresh = blocks_alloc(arena);
	expect_on_node(&fresh->pages, MEMORY_ONLY_NODE, "new blocks of the moved arena");
	blocks_free(old);
	blocks_free(fresh);
}

void
test_create(void)
{
	pin_self(0);
	for (unsigned node = 1; node <= MEMORY_ONLY_NODE; node++) {
		unsigned arena = UINT_MAX;
		size_t len = sizeof(arena);
		int err = mallctl("arenas.create", &arena, &len, &node, sizeof(node));
		expect(err == 0, "arenas.create with node %u: error %d", node, err);
		if (err != 0)
			continue;
		expect_home(arena, node);
		blocks_t *b = blocks_alloc(arena);
		expect_on_node(&b->pages, node, node == 1 ? "arena created on node 1"
		                                          : "arena created on the memory-only node");
		blocks_free(b);
	}
}
