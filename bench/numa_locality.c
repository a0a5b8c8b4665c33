/*
 * numa_locality.c — node locality of an allocator on a two-node machine
 * (issue 14; run by `make bench-numa` inside the emulated machine of
 * tests/numa/vm.sh, once per allocator by LD_PRELOAD).  Timings under TCG
 * mean nothing, so it measures only where pages lie: after writing to every
 * page of the blocks a thread keeps, the fraction of them on that thread's
 * node (move_pages; tests/numa/locality.c).  Three shapes:
 *
 *   handoff  a node-0 thread allocates HANDOFF_N small objects (16 B–1 KiB);
 *            a node-1 thread frees them, then allocates as many and keeps
 *            them: the node-1 thread's pages
 *   churn    CHURN_THREADS node-0 threads each allocate objects of 16 B–
 *            16 KiB, free them and exit; then as many node-1 threads
 *            allocate the same and keep them: the node-1 threads' pages
 *   own      one thread on each node builds a linked list of OWN_N objects
 *            of 16 B–4 KiB and walks it OWN_WALKS times: every thread's pages
 *
 * One shape per process, so that no shape inherits the heap another left.
 * Prints one line:
 *
 *   NUMA allocator=<name> shape=<shape> local_pct=<percent> pages=<n>
 *
 * usage: numa_locality NAME SHAPE     (NAME labels the line: the allocator)
 * Uses only malloc and free; its own bookkeeping comes from mmap.
 */
#include "locality.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HANDOFF_N 16384
#define CHURN_THREADS 2
#define CHURN_N 4096
#define OWN_N 16384
#define OWN_WALKS 4

typedef struct job {
	size_t n;
	size_t min, max;     /* object sizes, log-uniform in [min, max] */
	uint64_t seed;
	void **p;
	pageset_t pages;
} job_t;

static void
job_init(job_t *j, size_t n, size_t min, size_t max, uint64_t seed)
{
	j->n = n;
	j->min = min;
	j->max = max;
	j->seed = seed;
	j->p = scratch(n * sizeof(void *));
	pageset_init(&j->pages, n * (max / 4096 + 2));
}

/* xorshift64*: a log-uniform size in [j->min, j->max]. */
static size_t
job_size(job_t *j)
{
	j->seed ^= j->seed >> 12;
	j->seed ^= j->seed << 25;
	j->seed ^= j->seed >> 27;
	uint64_t r = j->seed * 0x2545F4914F6CDD1DULL;
	unsigned lo = (unsigned)__builtin_ctzl(j->min), hi = (unsigned)__builtin_ctzl(j->max);
	unsigned shift = lo + (unsigned)(r % (hi - lo + 1));
	size_t base = (size_t)1 << shift;
	return base + (size_t)((r >> 32) % base) * (shift < hi);
}

/* Allocates the job's objects, each linked to the previous one, and writes
 * to every page of them. */
static void
job_alloc(job_t *j)
{
	j->pages.n = 0;
	for (size_t i = 0; i < j->n; i++) {
		size_t size = job_size(j);
		j->p[i] = malloc(size);
		if (j->p[i] == NULL) {
			perror("numa_locality: malloc");
			exit(1);
		}
		pageset_touch_add(&j->pages, j->p[i], size);
		*(void **)j->p[i] = i ? j->p[i - 1] : NULL;
	}
}

static void
job_free(job_t *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->p[i]);
}

static void *
alloc_thread(void *arg)
{
	job_alloc(arg);
	return NULL;
}

static void *
alloc_free_thread(void *arg)
{
	job_alloc(arg);
	job_free(arg);
	return NULL;
}

static void *
free_alloc_thread(void *arg)
{
	job_free(arg);
	job_alloc(arg);
	return NULL;
}

static volatile uintptr_t sink;

static void *
own_thread(void *arg)
{
	job_t *j = arg;
	job_alloc(j);
	for (int w = 0; w < OWN_WALKS; w++)
		for (void **q = j->p[j->n - 1]; q != NULL; q = *q)
			sink += (uintptr_t)q;
	return NULL;
}

static pthread_t
start_on(int cpu, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t set;
	pthread_t th;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setaffinity_np(&attr, sizeof(set), &set) != 0 ||
	    pthread_create(&th, &attr, fn, arg) != 0) {
		perror("numa_locality: pinned thread");
		exit(1);
	}
	pthread_attr_destroy(&attr);
	return th;
}

static void
report(const char *name, const char *shape, size_t local, size_t pages)
{
	printf("NUMA allocator=%s shape=%s local_pct=%.1f pages=%zu\n", name, shape,
	       pages ? 100.0 * (double)local / (double)pages : 0.0, pages);
	fflush(stdout);
}

static void
handoff(const char *name)
{
	job_t j;
	job_init(&j, HANDOFF_N, 16, 1024, 1);
	pthread_join(start_on(0, alloc_thread, &j), NULL);
	pthread_join(start_on(1, free_alloc_thread, &j), NULL);
	placement_t pl = pageset_where(&j.pages);
	report(name, "handoff", pl.on[1], pl.pages);
	job_free(&j);
}

static void
churn(const char *name)
{
	job_t j[CHURN_THREADS];
	pthread_t th[CHURN_THREADS];
	for (int i = 0; i < CHURN_THREADS; i++) {
		job_init(&j[i], CHURN_N, 16, 16384, 2 + (uint64_t)i);
		th[i] = start_on(0, alloc_free_thread, &j[i]);
	}
	for (int i = 0; i < CHURN_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < CHURN_THREADS; i++)
		th[i] = start_on(1, alloc_thread, &j[i]);
	size_t local = 0, pages = 0;
	for (int i = 0; i < CHURN_THREADS; i++) {
		pthread_join(th[i], NULL);
		placement_t pl = pageset_where(&j[i].pages);
		local += pl.on[1];
		pages += pl.pages;
	}
	report(name, "churn", local, pages);
	for (int i = 0; i < CHURN_THREADS; i++)
		job_free(&j[i]);
}

static void
own(const char *name)
{
	job_t j[2];
	pthread_t th[2];
	for (int node = 0; node < 2; node++) {
		job_init(&j[node], OWN_N, 16, 4096, 10 + (uint64_t)node);
		th[node] = start_on(node, own_thread, &j[node]);
	}
	size_t local = 0, pages = 0;
	for (int node = 0; node < 2; node++) {
		pthread_join(th[node], NULL);
		placement_t pl = pageset_where(&j[node].pages);
		local += pl.on[node];
		pages += pl.pages;
	}
	report(name, "own", local, pages);
	for (int node = 0; node < 2; node++)
		job_free(&j[node]);
}

static const struct {
	const char *name;
	void (*run)(const char *allocator);
} shapes[] = {{"handoff", handoff}, {"churn", churn}, {"own", own}};

int
main(int argc, char **argv)
{
	for (size_t i = 0; argc == 3 && i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		if (strcmp(argv[2], shapes[i].name) == 0) {
			shapes[i].run(argv[1]);
			return 0;
		}
	}
	fprintf(stderr, "usage: numa_locality NAME handoff|churn|own\n");
	return 2;
}
