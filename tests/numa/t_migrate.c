/*
 * t_migrate.c — tests "migrate" and "stay": a thread that starts on node 0
 * and is moved to node 1's CPU with sched_setaffinity.  Under
 * numa_migrate:rebind (the default) it is served from node 1 once it has
 * allocated (and freed) 4 MiB there; under numa_migrate:stay it keeps its
 * node 0 arena (and, its policy being "preferred" by default, node 0's
 * pages).  Before moving, the thread frees node-0 blocks of the sizes it
 * allocates afterwards, so that being served from its old cache or arena
 * would show.
 */
#include "numa_check.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CHURN_BYTES (4 * MiB)
#define CHURN_BLOCK (4 * KiB)
#define SMALL_N 4096
#define LARGE_N 16

static unsigned
thread_arena(void)
{
	unsigned arena = UINT_MAX;
	expect(ctl_read_u("thread.arena", &arena) == 0, "thread.arena does not answer");
	return arena;
}

static void *
migrate_thread(void *arg)
{
	unsigned want = (unsigned)(size_t)arg;
	/* Free node-0 memory in the thread's cache and arena, which a thread
	 * that stayed would be served from again. */
	void **warm = scratch((SMALL_N + LARGE_N) * sizeof(void *));
	for (int i = 0; i < SMALL_N + LARGE_N; i++) {
		size_t size = i < SMALL_N ? 64 : 64 * KiB;
		warm[i] = xmalloc(size);
		memset(warm[i], 1, size);
	}
	for (int i = 0; i < SMALL_N + LARGE_N; i++)
		free(warm[i]);
	expect(thread_node() == 0, "thread.numa_node is %u on node 0's CPU", thread_node());
	unsigned arena0 = thread_arena();

	pin_self(1);
	for (size_t done = 0; done < CHURN_BYTES; done += CHURN_BLOCK) {
		char *p = xmalloc(CHURN_BLOCK);
		memset(p, 2, CHURN_BLOCK);
		free(p);
	}
	expect(thread_node() == want, "thread.numa_node is %u after migrating to node 1, want %u",
	       thread_node(), want);
	unsigned arena1 = thread_arena(), home = UINT_MAX;
	expect((arena1 != arena0) == (want == 1), "arena %u before migrating, %u after", arena0,
	       arena1);
	expect(ctl_read_ui("arena", arena1, "numa_node", &home) == 0 && home == want,
	       "the thread's arena %u has home node %u, want %u", arena1, home, want);

	pageset_t small, large;
	pageset_init(&small, SMALL_N);
	pageset_init(&large, LARGE_N * 17);
	void **p = scratch((SMALL_N + LARGE_N) * sizeof(void *));
	for (int i = 0; i < SMALL_N; i++) {
		p[i] = xmalloc(64);
		pageset_touch_add(&small, p[i], 64);
	}
	for (int i = 0; i < LARGE_N; i++) {
		p[SMALL_N + i] = xmalloc(64 * KiB);
		pageset_touch_add(&large, p[SMALL_N + i], 64 * KiB);
	}
	expect_on_node(&small, want, "64 B after migrating");
	expect_on_node(&large, want, "64 KiB after migrating");
	for (int i = 0; i < SMALL_N + LARGE_N; i++)
		free(p[i]);
	pageset_free(&small);
	pageset_free(&large);
	return NULL;
}

void
test_migrate(void)
{
	expect(strcmp(ctl_opt("opt.numa_migrate"), "rebind") == 0, "opt.numa_migrate is \"%s\"",
	       ctl_opt("opt.numa_migrate"));
	run_pinned(0, migrate_thread, (void *)1);
}

void
test_stay(void)
{
	expect(strcmp(ctl_opt("opt.numa_migrate"), "stay") == 0, "opt.numa_migrate is \"%s\"",
	       ctl_opt("opt.numa_migrate"));
	run_pinned(0, migrate_thread, (void *)0);
}
