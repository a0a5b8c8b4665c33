/*
 * locality.c — page sets and where their pages lie (tests/numa/locality.h).
 */
#include "locality.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE ((uintptr_t)4096)
/* Pages per move_pages call. */
#define QUERY_BATCH 1024

static void
die(const char *what)
{
	fprintf(stderr, "locality: %s: %s\n", what, strerror(errno));
	exit(99);
}

void *
scratch(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

void
pageset_init(pageset_t *ps, size_t cap)
{
	ps->pages = scratch(cap * sizeof(void *));
	ps->n = 0;
	ps->cap = cap;
}

void
pageset_free(pageset_t *ps)
{
	munmap(ps->pages, ps->cap * sizeof(void *));
	ps->pages = NULL;
	ps->n = ps->cap = 0;
}

void
pageset_touch_add(pageset_t *ps, void *p, size_t len)
{
	uintptr_t first = (uintptr_t)p & ~(PAGE - 1);
	uintptr_t end = (uintptr_t)p + len;
	for (uintptr_t pg = first; pg < end; pg += PAGE) {
		/* The first byte of the block on this page. */
		volatile char *c = (volatile char *)(pg < (uintptr_t)p ? (uintptr_t)p : pg);
		*c = (char)(*c + 1);
		if (ps->n == ps->cap) {
			errno = ENOSPC;
			die("page set full");
		}
		ps->pages[ps->n++] = (void *)pg;
	}
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

placement_t
pageset_where(pageset_t *ps)
{
	placement_t pl = {0};
	qsort(ps->pages, ps->n, sizeof(void *), cmp_ptr);
	size_t u = 0;
	for (size_t i = 0; i < ps->n; i++)
		if (u == 0 || ps->pages[u - 1] != ps->pages[i])
			ps->pages[u++] = ps->pages[i];
	ps->n = u;
	int status[QUERY_BATCH];
	for (size_t i = 0; i < u; i += QUERY_BATCH) {
		size_t k = u - i < QUERY_BATCH ? u - i : QUERY_BATCH;
		if (syscall(SYS_move_pages, 0, k, ps->pages + i, NULL, status, 0) != 0)
			die("move_pages");
		for (size_t j = 0; j < k; j++) {
			if (status[j] >= 0 && status[j] < LOC_NODES)
				pl.on[status[j]]++;
			else
				pl.unknown++;
		}
	}
	pl.pages = u;
	return pl;
}

double
placement_fraction(const placement_t *pl, unsigned node)
{
	if (pl->pages == 0 || node >= LOC_NODES)
		return 0;
	return (double)pl->on[node] / (double)pl->pages;
}

void
pin_self(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		die("sched_setaffinity");
	for (long i = 0; sched_getcpu() != cpu; i++) {
		if (i == 1000000) {
			errno = EAGAIN;
			die("still not on the pinned CPU");
		}
		sched_yield();
	}
}
