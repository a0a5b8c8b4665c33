/*
 * os.c — mmap/munmap/madvise and CPU count.  See os.h.
 *
 * Aligned mappings over-map by (alignment - PAGE) and unmap the excess on
 * both sides, so the result is exactly [addr, addr + size).  No locks, no
 * allocation.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>

#include "os.h"

void *
os_pages_map(size_t size, size_t alignment)
{
	size_t alloc = size + (alignment > PAGE ? alignment - PAGE : 0);
	if (alloc < size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = mmap(NULL, alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t start = (uintptr_t)p;
	uintptr_t aligned = (start + alignment - 1) & ~(uintptr_t)(alignment - 1);
	size_t lead = aligned - start;
	size_t trail = alloc - lead - size;
	if (lead != 0)
		munmap(p, lead);
	if (trail != 0)
		munmap((void *)(aligned + size), trail);
	return (void *)aligned;
}

void
os_pages_unmap(void *addr, size_t size)
{
	int saved_errno = errno;
	munmap(addr, size);
	errno = saved_errno;
}

/* madvise, returning its error instead of leaving it in errno. */
static int
os_madvise(void *addr, size_t size, int advice)
{
	int saved_errno = errno;
	int err = madvise(addr, size, advice) == 0 ? 0 : errno;
	errno = saved_errno;
	return err;
}

int
os_purge_forced(void *addr, size_t size)
{
	return os_madvise(addr, size, MADV_DONTNEED);
}


unsigned
os_ncpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return (unsigned)n;
	}
	return 1;
}

unsigned
os_getcpu(void)
{
	int cpu = sched_getcpu();
	return cpu < 0 ? 0 : (unsigned)cpu;
}
