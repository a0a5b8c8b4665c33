/*
 * os.h — the only door to the kernel's memory interfaces.  L0.
 *
 * Everything that maps, unmaps or advises memory, or asks the machine's
 * shape, goes through here; no other file includes <sys/mman.h>.  Functions
 * that can fail return 0 or an errno value (or NULL for mappings).  None of
 * them takes a lock; callers must not hold an allocator lock around them
 * (they can block in the kernel).
 */
#ifndef STRATA_OS_H
#define STRATA_OS_H

#include <sys/types.h>

#include "config.h"

/* The memory policies os_bind sets (mbind's MPOL_PREFERRED, MPOL_BIND and
 * MPOL_INTERLEAVE). */
typedef enum os_bind_mode { OS_BIND_PREFERRED, OS_BIND_STRICT, OS_BIND_INTERLEAVE } os_bind_mode_t;

/* Maps size bytes (a PAGE multiple) of fresh zeroed memory aligned to
 * alignment (a power of two >= PAGE).  NULL with errno ENOMEM on failure. */
void *os_pages_map(size_t size, size_t alignment);
void os_pages_unmap(void *addr, size_t size);
/* MADV_DONTNEED: the range reads back as zeroes and leaves RSS. */
int os_purge_forced(void *addr, size_t size);
/* MADV_FREE: the kernel may take the pages when it needs memory (they then
 * read back as zeroes); until then they keep their contents and count in
 * RSS (LazyFree in smaps).  A write cancels it for that page. */
int os_purge_lazy(void *addr, size_t size);
/* The huge-page advice of os_advise_huge. */
typedef enum os_huge_advice {
	OS_HUGE_ADVISE,   /* MADV_HUGEPAGE: faults and khugepaged may use huge pages */
	OS_HUGE_FORBID,   /* MADV_NOHUGEPAGE: they may not */
	OS_HUGE_COLLAPSE, /* MADV_COLLAPSE: make the range huge pages now (Linux 6.1+) */
} os_huge_advice_t;
/* Gives [addr, addr + size) the huge-page advice; 0 or madvise's errno
 * (EINVAL: a kernel without the advice or without THP). */
int os_advise_huge(void *addr, size_t size, os_huge_advice_t advice);
/* Gives [addr, addr + size) the memory policy mode over the nodes of the
 * mask `nodes` (bit k: node k); with move, pages already there migrate to
 * them (MPOL_MF_MOVE).  Untouched pages are placed when first touched.  0
 * or the errno of mbind. */
int os_bind(void *addr, size_t size, os_bind_mode_t mode, uint64_t nodes, bool move);
/* 0 when the kernel's NUMA system calls work for this process; else their
 * errno (ENOSYS without CONFIG_NUMA, EPERM under a seccomp filter). */
int os_numa_probe(void);
/*
 * Test injection (docs/design.md, "Injection"): in the internal test archive
 * (config_test_hooks) a test may point any of these at its own function to
 * make mappings fail, count purges or hand out chosen addresses; NULL means
 * the real call.  os_real_hooks holds the real calls, for hooks that fail
 * only some of the time.  Other builds never read os_test_hooks.
 */
typedef struct os_hooks {
	void *(*pages_map)(size_t size, size_t alignment);
	void (*pages_unmap)(void *addr, size_t size);
	int (*purge_forced)(void *addr, size_t size);
	int (*purge_lazy)(void *addr, size_t size);
	int (*bind)(void *addr, size_t size, os_bind_mode_t mode, uint64_t nodes, bool move);
	int (*numa_probe)(void);
	int (*advise_huge)(void *addr, size_t size, os_huge_advice_t advice);
} os_hooks_t;
extern os_hooks_t os_test_hooks;
extern const os_hooks_t os_real_hooks;

/* Number of CPUs this process may run on (at least 1). */
unsigned os_ncpus(void);
/* The CPU the calling thread runs on now (0 if unknown). */
unsigned os_getcpu(void);
/* Reads all of the file at path into buf (size bytes, NUL-terminated) with
 * no allocation: its length, or -1 when it cannot be opened or read or does
 * not fit.  errno is kept. */
ssize_t os_read_file(const char *path, char *buf, size_t size);

#endif
