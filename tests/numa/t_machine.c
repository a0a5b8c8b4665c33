/*
 * t_machine.c — test "topology": the guest is the machine the other tests
 * assume (tests/numa/vm.sh): nodes 0 and 1 with CPU 0 and CPU 1, node 2 with
 * memory and no CPU; and strata is the allocator of this program, in the
 * build NUMA_CHECK_DEBUG names when set (1: debug, 0: release).
 */
#include "numa_check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
expect_cpulist(unsigned node, const char *want)
{
	char path[96], got[64] = "";
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/cpulist", node);
	FILE *f = fopen(path, "r");
	expect(f != NULL, "%s: cannot open", path);
	if (f == NULL)
		return;
	if (fgets(got, sizeof(got), f) == NULL)
		got[0] = '\0';
	fclose(f);
	got[strcspn(got, "\n")] = '\0';
	expect(strcmp(got, want) == 0, "node%u cpulist is \"%s\", want \"%s\"", node, got, want);
}

void
test_topology(void)
{
	expect_cpulist(0, "0");
	expect_cpulist(1, "1");
	expect_cpulist(MEMORY_ONLY_NODE, "");
	FILE *f = fopen("/sys/devices/system/node/node3/cpulist", "r");
	expect(f == NULL, "a node 3 exists");
	if (f != NULL)
		fclose(f);
	const char *version = NULL;
	size_t len = sizeof(version);
	expect(mallctl("version", &version, &len, NULL, 0) == 0 && version != NULL,
	       "mallctl(\"version\") does not answer: strata is not the allocator");
	const char *want = getenv("NUMA_CHECK_DEBUG");
	bool debug = false;
	len = sizeof(debug);
	expect(mallctl("config.debug", &debug, &len, NULL, 0) == 0, "config.debug does not answer");
	if (want != NULL)
		expect(debug == (strcmp(want, "1") == 0), "config.debug is %d, NUMA_CHECK_DEBUG=%s",
		       debug, want);
}
