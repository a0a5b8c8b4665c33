/*
 * numa.h — the machine's NUMA topology and the binding of memory to nodes.
 * L0.  docs/design.md, "NUMA".
 *
 * numa_boot reads the topology once, after the options and before any arena
 * exists, from the same sysfs files libnuma reads (libnuma allocates with
 * malloc, which cannot be served before the arenas exist): the online
 * nodes, which have memory, the CPUs of each, and the distances.  NUMA is
 * active when numa:auto finds more than one node with memory and the
 * kernel's NUMA system calls work for this process; otherwise nothing here
 * costs anything and every arena is unbound (NUMA_NODE_NONE).
 *
 * Automatic arenas are split over the nodes that have CPUs, in proportion
 * to their CPUs: node k gets the index range numa_arena_range gives.  A node
 * with CPUs but no memory binds its arenas to the nearest node with memory.
 * Nodes 0..NUMA_NODES_MAX-1 only (the page map keeps 5 bits of node);
 * a machine with more turns NUMA off with a message.
 *
 * After boot everything is read-only: no locks.  Test injection
 * (docs/design.md, "Injection"): in the internal test archive, a non-NULL
 * numa_test_root replaces /sys/devices/system/node, so a test builds a fake
 * topology in a folder and boots the module again.
 */
#ifndef STRATA_NUMA_H
#define STRATA_NUMA_H

#include <limits.h>

#include "config.h"

#define NUMA_NODES_MAX 32u
#define NUMA_CPUS_MAX 4096u
#define NUMA_NODE_NONE UINT_MAX

extern const char *numa_test_root;

extern bool numa_on; /* set by numa_boot only */

/* Reads the topology and decides whether NUMA is active (opt_numa). */
void numa_boot(void);

static inline bool
numa_active(void)
{
	return numa_on;
}

/* Nodes that have memory, as a mask (bit k: node k); 0 when inactive. */
uint64_t numa_memory_nodes(void);
/* Whether node exists and has memory (so memory can be bound to it). */
bool numa_node_usable(unsigned node);
/* The node CPU cpu belongs to (0 when inactive or unknown), and that of
 * the CPU the calling thread runs on now. */
unsigned numa_node_of_cpu(unsigned cpu);
unsigned numa_current_node(void);
/* Where memory for the threads of node goes: node itself when it has
 * memory, else the nearest node that has; NUMA_NODE_NONE when inactive. */
unsigned numa_home_node(unsigned node);
/* The automatic arenas of node (of narenas_auto in all): [*lo, *hi); all of
 * them for a node that gets none of its own (fewer arenas than nodes). */
void numa_arena_range(unsigned node, unsigned narenas_auto, unsigned *lo, unsigned *hi);
/* The home node of automatic arena ind (the home of the node whose range
 * holds it); NUMA_NODE_NONE when inactive. */
unsigned numa_arena_node(unsigned ind, unsigned narenas_auto);
/* Binds fresh (untouched) memory [addr, addr + size) to node under
 * numa_policy; with move, the pages already there migrate.  0 (also when
 * inactive or node is NUMA_NODE_NONE) or mbind's errno.  No lock needed;
 * none may be held (a system call). */
int numa_bind(void *addr, size_t size, unsigned node, bool move);

#endif
