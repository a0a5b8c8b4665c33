/*
 * cgroup_util.h — the host's cgroup v1 memory hierarchy, for tests that put
 * a child into a cgroup of its own (tests/check_memlimit.c,
 * tests/check_api_purge.c).  Where the host has none or refuses, the
 * callers note it and assert nothing.
 */
#ifndef STRATA_TEST_CGROUP_UTIL_H
#define STRATA_TEST_CGROUP_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The process's cgroup v1 memory folder, when the hierarchy is mounted
 * with its root at the filesystem's root. */
static inline bool
cgroup_v1_memory_folder(char *out, size_t size)
{
	char cgroup[4096] = "", mount_point[4096] = "", line[8192];
	FILE *f = fopen("/proc/self/cgroup", "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c1 = strchr(line, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		if (strstr(c1 + 1, "memory") != NULL) {
			snprintf(cgroup, sizeof(cgroup), "%s", c2 + 1);
			cgroup[strcspn(cgroup, "\n")] = '\0';
		}
	}
	fclose(f);
	f = fopen("/proc/self/mountinfo", "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char mroot[4096], mpoint[4096];
		const char *dash = strstr(line, " - cgroup ");
		if (dash == NULL || strstr(dash, "memory") == NULL)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", mroot, mpoint) == 2 &&
		    strcmp(mroot, "/") == 0)
			snprintf(mount_point, sizeof(mount_point), "%s", mpoint);
	}
	fclose(f);
	if (cgroup[0] != '/' || mount_point[0] == '\0')
		return false;
	return (size_t)snprintf(out, size, "%s%s", mount_point,
	                        strcmp(cgroup, "/") == 0 ? "" : cgroup) < size;
}

/* Writes text to a cgroup file; false, with errno set, when it cannot. */
static inline bool
cgroup_write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	int saved = errno;
	close(fd);
	errno = saved;
	return ok;
}

#endif
