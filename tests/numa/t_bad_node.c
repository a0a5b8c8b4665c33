/*
 * t_bad_node.c — test "bad_node": a node that does not exist is refused with
 * EINVAL (arena.<i>.numa_node, arenas.create) and changes nothing; no arena
 * ("all arenas", a destroyed manual arena) gives EFAULT; the read-only nodes
 * refuse a write with EPERM.
 */
#include "numa_check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

void
test_bad_node(void)
{
	static const unsigned bad[] = {MEMORY_ONLY_NODE + 1, 64, 1024, UINT_MAX};
	unsigned before = UINT_MAX, after = UINT_MAX, narenas = 0;
	expect(ctl_read_ui("arena", 0, "numa_node", &before) == 0 && before < MEMORY_ONLY_NODE,
	       "arena.0.numa_node is %u", before);
	expect(ctl_read_u("arenas.narenas", &narenas) == 0, "arenas.narenas does not answer");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = ctl_write_ui("arena", 0, "numa_node", bad[i]);
		expect(err == EINVAL, "writing arena.0.numa_node=%u: error %d, want EINVAL", bad[i], err);
		unsigned arena, now = 0;
		size_t len = sizeof(arena);
		err = mallctl("arenas.create", &arena, &len, (void *)&bad[i], sizeof(bad[i]));
		expect(err == EINVAL, "arenas.create with node %u: error %d, want EINVAL", bad[i], err);
		expect(ctl_read_u("arenas.narenas", &now) == 0 && now == narenas,
		       "arenas.narenas went from %u to %u after a refused create", narenas, now);
	}
	expect(ctl_read_ui("arena", 0, "numa_node", &after) == 0 && after == before,
	       "arena.0.numa_node went from %u to %u after refused writes", before, after);
	/* Read-only nodes. */
	int err = ctl_write_u("thread.numa_node", 0);
	expect(err == EPERM, "writing thread.numa_node: error %d, want EPERM", err);
	err = ctl_write_u("stats.arenas.0.numa_node", 0);
	expect(err == EPERM, "writing stats.arenas.0.numa_node: error %d, want EPERM", err);

	/* No arena: "all arenas", and a manual arena destroyed (man/strata.3,
	 * arena.<i>.numa_node; an automatic arena not made yet answers). */
	unsigned node;
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.numa_node", MALLCTL_ARENAS_ALL);
	err = ctl_read_u(name, &node);
	expect(err == EFAULT, "reading %s: error %d, want EFAULT", name, err);
	err = ctl_write_u(name, 0);
	expect(err == EFAULT, "writing %s: error %d, want EFAULT", name, err);
	unsigned arena = UINT_MAX;
	size_t len = sizeof(arena);
	expect(mallctl("arenas.create", &arena, &len, NULL, 0) == 0, "arenas.create failed");
	snprintf(name, sizeof(name), "arena.%u.destroy", arena);
	expect(mallctl(name, NULL, NULL, NULL, 0) == 0, "%s failed", name);
	err = ctl_read_ui("arena", arena, "numa_node", &node);
	expect(err == EFAULT, "reading arena.%u.numa_node (destroyed): error %d, want EFAULT", arena,
	       err);
	err = ctl_write_ui("arena", arena, "numa_node", 0);
	expect(err == EFAULT, "writing arena.%u.numa_node (destroyed): error %d, want EFAULT", arena,
	       err);
}
