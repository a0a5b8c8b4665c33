/*
 * numa.c — NUMA topology from sysfs, the arena partition and binding.  See
 * numa.h.
 *
 * Boot uses static buffers and the stack only (it runs before the arenas
 * exist); afterwards every table is read-only.
 */
#include <string.h>

#include "bits.h"
#include "conf.h"
#include "msg.h"
#include "numa.h"
#include "os.h"

const char *numa_test_root;

bool numa_on;
static uint64_t numa_mem_mask;               /* nodes with memory */
static uint8_t numa_cpu_node[NUMA_CPUS_MAX];  /* node of each CPU */
static unsigned numa_node_ncpus[NUMA_NODES_MAX];
static unsigned numa_ncpus;                  /* CPUs on some node */
static uint8_t numa_home_of[NUMA_NODES_MAX];  /* node itself, or nearest with memory */
static uint8_t numa_distance[NUMA_NODES_MAX][NUMA_NODES_MAX];

/* Reads file name (under the sysfs node folder, or the test root) into
 * buf; false when missing or too long. */
static bool
numa_read(const char *name, char *buf, size_t size)
{
	char path[256];
	const char *root = config_test_hooks && numa_test_root != NULL ? numa_test_root
	                                                               : "/sys/devices/system/node";
	if (msg_format(path, sizeof(path), "%s/%s", root, name) >= sizeof(path))
		return false;
	return os_read_file(path, buf, size) >= 0;
}

/* Parses a decimal number at *s, advancing it; false when there is none. */
static bool
numa_parse_uint(const char **s, unsigned *out)
{
	if (**s < '0' || **s > '9')
		return false;
	unsigned v = 0;
	while (**s >= '0' && **s <= '9') {
		if (v > (UINT_MAX - 9) / 10)
			return false;
		v = v * 10 + (unsigned)(**s - '0');
		(*s)++;
	}
	*out = v;
	return true;
}

/*
 * Parses a sysfs list ("0-3,8,10-11", then a newline or the end), calling
 * each(i, arg) for every number in it; false when malformed.  An empty list
 * (a node without CPUs) is valid.
 */
static bool
numa_parse_list(const char *s, void (*each)(unsigned i, void *arg), void *arg)
{
	if (*s == '\n' || *s == '\0')
		return true;
	for (;;) {
		unsigned lo, hi;
		if (!numa_parse_uint(&s, &lo))
			return false;
		hi = lo;
		if (*s == '-') {
			s++;
			if (!numa_parse_uint(&s, &hi) || hi < lo)
				return false;
		}
		for (unsigned i = lo; i <= hi; i++)
			each(i, arg);
		if (*s != ',')
			return *s == '\n' || *s == '\0';
		s++;
	}
}

static void
numa_mask_add(unsigned i, void *arg)
{
	uint64_t *mask = arg;
	*mask |= i < 64 ? (uint64_t)1 << i : (uint64_t)1 << 63; /* 63: "too many" */
}

/* A node list file as a mask; false when missing or malformed. */
static bool
numa_read_mask(const char *name, uint64_t *mask)
{
	char buf[512];
	*mask = 0;
	return numa_read(name, buf, sizeof(buf)) && numa_parse_list(buf, numa_mask_add, mask);
}

typedef struct numa_cpu_arg {
	unsigned node;
} numa_cpu_arg_t;

static void
numa_cpu_add(unsigned cpu, void *arg)
{
	unsigned node = ((numa_cpu_arg_t *)arg)->node;
	if (cpu < NUMA_CPUS_MAX)
		numa_cpu_node[cpu] = (uint8_t)node;
	numa_node_ncpus[node]++;
	numa_ncpus++;
}

/* Node k's distances ("10 20 30\n", one per online node in order). */
static void
numa_read_distances(unsigned k, uint64_t online)
{
	char name[64], buf[1024];
	msg_format(name, sizeof(name), "node%u/distance", k);
	if (!numa_read(name, buf, sizeof(buf)))
		return;
	const char *s = buf;
	for (uint64_t m = online; m != 0; m &= m - 1) {
		unsigned d;
		while (*s == ' ')
			s++;
		if (!numa_parse_uint(&s, &d))
			return;
		numa_distance[k][bits_ctz(m)] = d > 255 ? 255 : (uint8_t)d;
	}
}

/* The node with memory nearest to node k (k itself when it has memory);
 * ties go to the lower node. */
static unsigned
numa_nearest_memory(unsigned k)
{
	if (numa_mem_mask & ((uint64_t)1 << k))
		return k;
	unsigned best = bits_ctz(numa_mem_mask);
	for (uint64_t m = numa_mem_mask; m != 0; m &= m - 1) {
		unsigned j = bits_ctz(m);
		if (numa_distance[k][j] < numa_distance[k][best])
			best = j;
	}
	return best;
}

/* Reads the CPUs and distances of the online nodes; false when a file is
 * malformed. */
static bool
numa_read_nodes(uint64_t online)
{
	numa_ncpus = 0;
	memset(numa_cpu_node, 0, sizeof(numa_cpu_node));
	memset(numa_node_ncpus, 0, sizeof(numa_node_ncpus));
	memset(numa_home_of, 0, sizeof(numa_home_of));
	memset(numa_distance, 0, sizeof(numa_distance));
	for (uint64_t m = online; m != 0; m &= m - 1) {
		unsigned k = bits_ctz(m);
		char name[64], buf[4096];
		msg_format(name, sizeof(name), "node%u/cpulist", k);
		numa_cpu_arg_t arg = {k};
		if (numa_read(name, buf, sizeof(buf)) && !numa_parse_list(buf, numa_cpu_add, &arg))
			return false;
		numa_read_distances(k, online);
	}
	for (uint64_t m = online; m != 0; m &= m - 1)
		numa_home_of[bits_ctz(m)] = (uint8_t)numa_nearest_memory(bits_ctz(m));
	return true;
}

void
numa_boot(void)
{
	numa_on = false;
	numa_mem_mask = 0;
	uint64_t online, memory;
	/* Off, a kernel without NUMA, or one node online: one file read at
	 * most, and no table is looked at while NUMA is inactive. */
	if (opt_numa == CONF_NUMA_OFF || !numa_read_mask("online", &online) ||
	    bits_popcount(online) <= 1)
		return;
	if (!numa_read_mask("has_memory", &memory))
		memory = online;
	memory &= online;
	if (bits_popcount(memory) <= 1)
		return;
	if (online >> NUMA_NODES_MAX != 0) {
		msg_error("NUMA nodes above %u are not supported: numa:off\n", NUMA_NODES_MAX - 1);
		return;
	}
	numa_mem_mask = memory;
	if (!numa_read_nodes(online) || numa_ncpus == 0) {
		msg_error("unreadable NUMA topology in sysfs: numa:off\n");
		numa_mem_mask = 0;
		return;
	}
	int err = os_numa_probe();
	if (err != 0) {
		msg_error("NUMA system calls fail (errno %d): numa:off\n", err);
		numa_mem_mask = 0;
		return;
	}
	numa_on = true;
}

uint64_t
numa_memory_nodes(void)
{
	return numa_on ? numa_mem_mask : 0;
}

bool
numa_node_usable(unsigned node)
{
	return numa_on && node < NUMA_NODES_MAX && (numa_mem_mask & ((uint64_t)1 << node)) != 0;
}

unsigned
numa_node_of_cpu(unsigned cpu)
{
	return numa_on && cpu < NUMA_CPUS_MAX ? numa_cpu_node[cpu] : 0;
}

unsigned
numa_home_node(unsigned node)
{
	return numa_on && node < NUMA_NODES_MAX ? numa_home_of[node] : NUMA_NODE_NONE;
}

unsigned
numa_current_node(void)
{
	return numa_on ? numa_node_of_cpu(os_getcpu()) : 0;
}

/*
 * Node k's share: the arenas whose scaled index falls among its CPUs when
 * the CPUs are listed node by node.  Ranges of consecutive nodes touch, so
 * every arena has exactly one node.
 */
void
numa_arena_range(unsigned node, unsigned narenas_auto, unsigned *lo, unsigned *hi)
{
	*lo = 0;
	*hi = narenas_auto;
	if (!numa_on || node >= NUMA_NODES_MAX || numa_node_ncpus[node] == 0)
		return;
	uint64_t before = 0;
	for (unsigned k = 0; k < node; k++)
		before += numa_node_ncpus[k];
	uint64_t after = before + numa_node_ncpus[node];
	uint64_t l = (before * narenas_auto + numa_ncpus - 1) / numa_ncpus;
	uint64_t h = (after * narenas_auto + numa_ncpus - 1) / numa_ncpus;
	if (l < h) {
		*lo = (unsigned)l;
		*hi = (unsigned)h;
	}
}

unsigned
numa_arena_node(unsigned ind, unsigned narenas_auto)
{
	if (!numa_on || narenas_auto == 0)
		return NUMA_NODE_NONE;
	uint64_t cpu_rank = (uint64_t)ind * numa_ncpus / narenas_auto;
	for (unsigned k = 0; k < NUMA_NODES_MAX; k++) {
		if (cpu_rank < numa_node_ncpus[k])
			return numa_home_of[k];
		cpu_rank -= numa_node_ncpus[k];
	}
	return bits_ctz(numa_mem_mask);
}

int
numa_bind(void *addr, size_t size, unsigned node, bool move)
{
	if (!numa_on || node == NUMA_NODE_NONE)
		return 0;
	switch (opt_numa_policy) {
	case CONF_NUMA_POLICY_INTERLEAVE:
		return os_bind(addr, size, OS_BIND_INTERLEAVE, numa_mem_mask, move);
	case CONF_NUMA_POLICY_BIND:
		return os_bind(addr, size, OS_BIND_STRICT, (uint64_t)1 << node, move);
	case CONF_NUMA_POLICY_PREFERRED:
		break;
	}
	return os_bind(addr, size, OS_BIND_PREFERRED, (uint64_t)1 << node, move);
}
