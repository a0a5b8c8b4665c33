/*
 * as_util.h — the out-of-memory suites' address-space limit (check_api_oom.c,
 * check_api_oom_cxx.cpp): RLIMIT_AS set to what the process uses plus some
 * headroom, and lifted again.  Nothing here allocates or calls into Check,
 * so it may run while the address space is full or before main.
 */
#ifndef STRATA_TESTS_AS_UTIL_H
#define STRATA_TESTS_AS_UTIL_H

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

/* The address space in use now, read without allocating. */
static inline size_t
vm_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return (size_t)strtoull(buf, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

/* Limits the address space to what is in use plus headroom (the hard
 * limit stays, so that as_unlimit can lift it again). */
static inline void
as_limit(size_t headroom)
{
	struct rlimit r = {vm_bytes() + headroom, RLIM_INFINITY};
	if (setrlimit(RLIMIT_AS, &r) != 0)
		abort();
}

static inline void
as_unlimit(void)
{
	struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
	setrlimit(RLIMIT_AS, &r);
}

#endif
