/*
 * t_place.c — test "place": a thread created pinned to node 0's CPU and one
 * pinned to node 1's each get small (64 B), large (64 KiB) and huge (4 MiB)
 * blocks from their own node, from the first allocation on; automatic arenas
 * are split over the nodes with CPUs.
 */
#include "numa_check.h"

#include <limits.h>
#include <stdlib.h>

#define SMALL_N 8192
#define LARGE_N 16
#define HUGE_N 2

static void *
place_thread(void *arg)
{
	unsigned node = (unsigned)(size_t)arg;
	pageset_t small, large, huge;
	pageset_init(&small, SMALL_N);
	pageset_init(&large, LARGE_N * 17);
	pageset_init(&huge, HUGE_N * 1025);
	void **p = scratch((SMALL_N + LARGE_N + HUGE_N) * sizeof(void *));
	size_t n = 0;
	for (int i = 0; i < SMALL_N; i++, n++) {
		p[n] = xmalloc(64);
		pageset_touch_add(&small, p[n], 64);
	}
	for (int i = 0; i < LARGE_N; i++, n++) {
		p[n] = xmalloc(64 * KiB);
		pageset_touch_add(&large, p[n], 64 * KiB);
	}
	for (int i = 0; i < HUGE_N; i++, n++) {
		p[n] = xmalloc(4 * MiB);
		pageset_touch_add(&huge, p[n], 4 * MiB);
	}
	expect(thread_node() == node, "thread.numa_node is %u on node %u's CPU", thread_node(), node);
	unsigned arena = UINT_MAX, home = UINT_MAX;
	expect(ctl_read_u("thread.arena", &arena) == 0, "thread.arena does not answer");
	expect(ctl_read_ui("arena", arena, "numa_node", &home) == 0 && home == node,
	       "the thread's arena %u has home node %u, want %u", arena, home, node);
	expect_on_node(&small, node, node ? "node 1 thread, 64 B" : "node 0 thread, 64 B");
	expect_on_node(&large, node, node ? "node 1 thread, 64 KiB" : "node 0 thread, 64 KiB");
	expect_on_node(&huge, node, node ? "node 1 thread, 4 MiB" : "node 0 thread, 4 MiB");
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	pageset_free(&small);
	pageset_free(&large);
	pageset_free(&huge);
	return NULL;
}

void
test_place(void)
{
	pthread_t t0, t1;
	start_pinned(&t0, 0, place_thread, (void *)0);
	start_pinned(&t1, 1, place_thread, (void *)1);
	pthread_join(t0, NULL);
	pthread_join(t1, NULL);

	/* One CPU on each of nodes 0 and 1: as many automatic arenas on each;
	 * none on the memory-only node. */
	unsigned narenas = 0, count[LOC_NODES] = {0}, answered = 0;
	expect(ctl_read_u("opt.narenas", &narenas) == 0 && narenas > 0, "opt.narenas does not answer");
	for (unsigned i = 0; i < narenas; i++) {
		unsigned home;
		if (ctl_read_ui("arena", i, "numa_node", &home) != 0)
			continue;
		answered++;
		expect(home < MEMORY_ONLY_NODE, "automatic arena %u has home node %u", i, home);
		if (home < LOC_NODES)
			count[home]++;
	}
	expect(count[0] > 0 && count[1] > 0, "automatic arenas per node: %u, %u, %u", count[0],
	       count[1], count[2]);
	if (answered == narenas)
		expect(count[0] == count[1], "%u automatic arenas on node 0, %u on node 1", count[0],
		       count[1]);
}
