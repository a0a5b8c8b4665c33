/*
 * t_handoff.c — locality survives a change of hands: tests "handoff" (a
 * node-0 thread allocates small objects, a node-1 thread frees them, then
 * allocates as many and keeps them: they come from node 1, not from the node-0
 * objects its cache just received) and "churn" (node-0 threads allocate, free
 * and exit; then node-1 threads allocate: what the exited threads left behind,
 * small and large, is not handed to them).
 */
#include "numa_check.h"

#include <stdlib.h>

#define HANDOFF_N 8192
#define CHURN_THREADS 2

/* Sizes of the objects, in turn: small ones for the hand-off (the objects
 * whose frees travel home), small and large ones for the churn. */
static const size_t small_sizes[] = {64, 256, 1024, 64, 4096, 64, 256, 16};
static const size_t mixed_sizes[] = {64, 256, 1024, 64, 4096, 64, 16384, 65536};
#define NSIZES 8

typedef struct batch {
	size_t n;
	const size_t *sizes; /* NSIZES of them */
	void **p;
	pageset_t pages;
} batch_t;

static void
batch_init(batch_t *b, size_t n, const size_t *sizes)
{
	b->n = n;
	b->sizes = sizes;
	b->p = scratch(n * sizeof(void *));
	size_t pages = 0; /* the most the objects can span */
	for (size_t i = 0; i < n; i++)
		pages += sizes[i % NSIZES] / 4096 + 2;
	pageset_init(&b->pages, pages);
}

static void
batch_alloc(batch_t *b)
{
	for (size_t i = 0; i < b->n; i++) {
		b->p[i] = xmalloc(b->sizes[i % NSIZES]);
		pageset_touch_add(&b->pages, b->p[i], b->sizes[i % NSIZES]);
	}
}

static void
batch_release(batch_t *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->p[i]);
}

static void *
alloc_thread(void *arg)
{
	batch_alloc(arg);
	return NULL;
}

static void *
alloc_release_thread(void *arg)
{
	batch_alloc(arg);
	batch_release(arg);
	return NULL;
}

static void *
free_then_alloc_thread(void *arg)
{
	batch_t *b = arg;
	batch_release(b);
	b->pages.n = 0;
	batch_alloc(b);
	return NULL;
}

void
test_handoff(void)
{
	batch_t b;
	batch_init(&b, HANDOFF_N, small_sizes);
	run_pinned(0, alloc_thread, &b);
	expect_on_node(&b.pages, 0, "the node-0 producer's objects");
	run_pinned(1, free_then_alloc_thread, &b);
	expect_on_node(&b.pages, 1, "the node-1 consumer's objects after the hand-off");
	batch_release(&b);
}

void
test_churn(void)
{
	batch_t b[CHURN_THREADS];
	pthread_t th[CHURN_THREADS];
	for (int i = 0; i < CHURN_THREADS; i++) {
		batch_init(&b[i], HANDOFF_N / CHURN_THREADS, mixed_sizes);
		start_pinned(&th[i], 0, alloc_release_thread, &b[i]);
	}
	for (int i = 0; i < CHURN_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < CHURN_THREADS; i++) {
		b[i].pages.n = 0;
		start_pinned(&th[i], 1, alloc_thread, &b[i]);
	}
	for (int i = 0; i < CHURN_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < CHURN_THREADS; i++) {
		expect_on_node(&b[i].pages, 1, "a node-1 thread's objects after node-0 threads exited");
		batch_release(&b[i]);
	}
}
