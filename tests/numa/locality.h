/*
 * locality.h — where a program's pages lie, for the NUMA guest tests
 * (tests/numa/t_*.c) and bench/numa_locality.c (docs/design.md, "Testing
 * NUMA").
 *
 * A page set records the pages of the blocks given to it after writing to
 * every one of them (an untouched page has no node: the kernel reports the
 * shared zero page's), then asks the kernel where each distinct page is with
 * move_pages(0, n, pages, NULL, status, 0).  Its storage comes from mmap, so
 * that measuring places nothing in the allocator under test.  Also: scratch
 * memory from mmap for the same reason, and pinning the calling thread to a
 * CPU.
 */
#ifndef STRATA_TESTS_NUMA_LOCALITY_H
#define STRATA_TESTS_NUMA_LOCALITY_H

#include <stddef.h>

/* Nodes of the guest: 0 and 1 have a CPU each, 2 has memory only. */
#define LOC_NODES 3

typedef struct pageset {
	void **pages;    /* page addresses, in the order added */
	size_t n;        /* entries used */
	size_t cap;      /* entries mapped */
} pageset_t;

typedef struct placement {
	size_t pages;           /* distinct pages asked about */
	size_t on[LOC_NODES];   /* pages on each node */
	size_t unknown;         /* pages the kernel gave no node (a negative status) */
} placement_t;

/* Scratch memory from mmap (never from the allocator under test); exits
 * on failure. */
void *scratch(size_t size);

/* A page set with room for cap page entries; exits on failure. */
void pageset_init(pageset_t *ps, size_t cap);
void pageset_free(pageset_t *ps);
/* Writes a byte to every page of [p, p + len) and records those pages; exits
 * when full. */
void pageset_touch_add(pageset_t *ps, void *p, size_t len);
/* Where the distinct pages of ps are now (ps is sorted in place). */
placement_t pageset_where(pageset_t *ps);
/* The fraction of pl's pages on node (0 for no pages). */
double placement_fraction(const placement_t *pl, unsigned node);

/* Pins the calling thread to cpu and returns once it runs there (a bounded
 * wait: exits after a million yields on another CPU). */
void pin_self(int cpu);

#endif
