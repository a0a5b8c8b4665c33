/*
 * t_full.c — test "full_node": under the default policy (preferred) a full
 * node never fails an allocation.  An arena created on the memory-only node
 * (tests/numa/vm.sh gives it 128 MiB) is asked for more than that
 * node holds; every block comes back and every page can be written, the
 * node fills up (most of its memory ends up holding the blocks) and the
 * rest spills to other nodes.
 */
#include "numa_check.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define FULL_BYTES (160 * MiB)
#define FULL_BLOCK (4 * MiB)
#define NBLOCKS (FULL_BYTES / FULL_BLOCK)
/* Of the node's 128 MiB, what the blocks must at least get. */
#define FILLED_MIN (64 * MiB)

void
test_full_node(void)
{
	unsigned node = MEMORY_ONLY_NODE, arena = UINT_MAX;
	size_t len = sizeof(arena);
	int err = mallctl("arenas.create", &arena, &len, &node, sizeof(node));
	expect(err == 0, "arenas.create with node %u: error %d", node, err);
	if (err != 0)
		return;
	void *blocks[NBLOCKS];
	pageset_t ps;
	pageset_init(&ps, FULL_BYTES / 4096 + NBLOCKS);
	size_t got = 0;
	for (size_t i = 0; i < NBLOCKS; i++) {
		blocks[i] = mallocx(FULL_BLOCK, MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE);
		if (blocks[i] == NULL)
			break;
		pageset_touch_add(&ps, blocks[i], FULL_BLOCK);
		got++;
	}
	expect(got == NBLOCKS, "only %zu of %zu blocks of 4 MiB from the full node's arena", got,
	       (size_t)NBLOCKS);
	placement_t pl = pageset_where(&ps);
	expect(pl.on[MEMORY_ONLY_NODE] * 4096 >= FILLED_MIN,
	       "%zu of %zu pages on node %u: the node did not fill before spilling",
	       pl.on[MEMORY_ONLY_NODE], pl.pages, MEMORY_ONLY_NODE);
	for (size_t i = 0; i < got; i++)
		dallocx(blocks[i], MALLOCX_TCACHE_NONE);
	pageset_free(&ps);
}
