/*
 * os.c — mmap/munmap/madvise/mbind, CPU and node numbers, small system
 * files.  See os.h.
 *
 * Aligned mappings over-map by (alignment - PAGE) and unmap the excess on
 * both sides, so the result is exactly [addr, addr + size).  No locks, no
 * allocation.  Each exported call goes to os_test_hooks first when the
 * build has test hooks and a test set one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os.h"

os_hooks_t os_test_hooks;

static void *
os_real_pages_map(size_t size, size_t alignment)
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

static void
os_real_pages_unmap(void *addr, size_t size)
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

static int
os_real_purge_forced(void *addr, size_t size)
{
	return os_madvise(addr, size, MADV_DONTNEED);
}

static int
os_real_purge_lazy(void *addr, size_t size)
{
	return os_madvise(addr, size, MADV_FREE);
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

static int
os_real_advise_huge(void *addr, size_t size, os_huge_advice_t advice)
{
	static const int madv[] = {
		[OS_HUGE_ADVISE] = MADV_HUGEPAGE,
		[OS_HUGE_FORBID] = MADV_NOHUGEPAGE,
		[OS_HUGE_COLLAPSE] = MADV_COLLAPSE,
	};
	return os_madvise(addr, size, madv[advice]);
}

/* mbind(2) through the system call (the libc wrapper lives in libnuma,
 * which allocates). */
static int
os_real_bind(void *addr, size_t size, os_bind_mode_t mode, uint64_t nodes, bool move)
{
	static const int policy[] = {
		[OS_BIND_PREFERRED] = MPOL_PREFERRED,
		[OS_BIND_STRICT] = MPOL_BIND,
		[OS_BIND_INTERLEAVE] = MPOL_INTERLEAVE,
	};
	unsigned long mask = (unsigned long)nodes;
	int saved_errno = errno;
	long rc = syscall(SYS_mbind, addr, size, policy[mode], &mask, (unsigned long)64 + 1,
	                  move ? MPOL_MF_MOVE : 0u);
	int err = rc == 0 ? 0 : errno;
	errno = saved_errno;
	return err;
}

static int
os_real_numa_probe(void)
{
	int mode;
	int saved_errno = errno;
	long rc = syscall(SYS_get_mempolicy, &mode, NULL, 0UL, NULL, 0UL);
	int err = rc == 0 ? 0 : errno;
	errno = saved_errno;
	return err;
}

const os_hooks_t os_real_hooks = {
	.pages_map = os_real_pages_map,
	.pages_unmap = os_real_pages_unmap,
	.purge_forced = os_real_purge_forced,
	.purge_lazy = os_real_purge_lazy,
	.bind = os_real_bind,
	.numa_probe = os_real_numa_probe,
	.advise_huge = os_real_advise_huge,
};

void *
os_pages_map(size_t size, size_t alignment)
{
	if (config_test_hooks && os_test_hooks.pages_map != NULL)
		return os_test_hooks.pages_map(size, alignment);
	return os_real_pages_map(size, alignment);
}

void
os_pages_unmap(void *addr, size_t size)
{
	if (config_test_hooks && os_test_hooks.pages_unmap != NULL) {
		os_test_hooks.pages_unmap(addr, size);
		return;
	}
	os_real_pages_unmap(addr, size);
}

int
os_purge_forced(void *addr, size_t size)
{
	if (config_test_hooks && os_test_hooks.purge_forced != NULL)
		return os_test_hooks.purge_forced(addr, size);
	return os_real_purge_forced(addr, size);
}

int
os_purge_lazy(void *addr, size_t size)
{
	if (config_test_hooks && os_test_hooks.purge_lazy != NULL)
		return os_test_hooks.purge_lazy(addr, size);
	return os_real_purge_lazy(addr, size);
}

int
os_advise_huge(void *addr, size_t size, os_huge_advice_t advice)
{
	if (config_test_hooks && os_test_hooks.advise_huge != NULL)
		return os_test_hooks.advise_huge(addr, size, advice);
	return os_real_advise_huge(addr, size, advice);
}

int
os_bind(void *addr, size_t size, os_bind_mode_t mode, uint64_t nodes, bool move)
{
	if (config_test_hooks && os_test_hooks.bind != NULL)
		return os_test_hooks.bind(addr, size, mode, nodes, move);
	return os_real_bind(addr, size, mode, nodes, move);
}

int
os_numa_probe(void)
{
	if (config_test_hooks && os_test_hooks.numa_probe != NULL)
		return os_test_hooks.numa_probe();
	return os_real_numa_probe();
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

ssize_t
os_read_file(const char *path, char *buf, size_t size)
{
	int saved_errno = errno;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = saved_errno;
		return -1;
	}
	size_t len = 0;
	ssize_t result = -1;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			if (len < size) {
				buf[len] = '\0';
				result = (ssize_t)len;
			}
			break;
		}
		len += (size_t)n;
		if (len == size)
			break; /* no room left for the NUL: too long */
	}
	close(fd);
	errno = saved_errno;
	return result;
}
