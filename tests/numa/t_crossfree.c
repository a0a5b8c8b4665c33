/*
 * t_crossfree.c — test "crossfree": a thread on each node, in lock step for
 * ROUNDS rounds, allocates a batch of small objects, hands it to the other
 * thread and frees the batch it got from the other: every free is of the
 * other node's memory, so each goes home (docs/design.md, "Remote frees")
 * while its home thread keeps allocating there.  After the rounds each
 * thread allocates a batch it keeps: at least 99 % of its pages are on its
 * node, and the handed-over objects came back intact (each carries a
 * pattern the receiver checks).  Run on the debug library too, it puts the
 * cross-node free path under the assertions and the lock-order witness.
 */
#include "numa_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 64
#define BATCH 1024

static const size_t sizes[] = {16, 48, 64, 128, 256, 512, 1024, 3072};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

typedef struct side {
	unsigned node;
	void **mine;    /* the batch this side allocated this round */
	void **theirs;  /* the batch the other side handed over */
	pageset_t kept;
} side_t;

static side_t sides[2];
static pthread_barrier_t step;

/* The pattern of object i of a batch allocated on node. */
static unsigned char
pattern(unsigned node, size_t i)
{
	return (unsigned char)(i * 7 + node * 101 + 1);
}

static void *
crossfree_thread(void *arg)
{
	side_t *s = arg;
	side_t *other = &sides[1 - s->node];
	size_t bad = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < BATCH; i++) {
			size_t size = sizes[(i + (size_t)r) % NSIZES];
			s->mine[i] = xmalloc(size);
			memset(s->mine[i], pattern(s->node, i), size);
		}
		/* Hand over: swap the arrays once both batches are ready. */
		pthread_barrier_wait(&step);
		if (s->node == 0) {
			void **t = s->mine;
			s->mine = other->theirs;
			other->theirs = t;
			t = other->mine;
			other->mine = s->theirs;
			s->theirs = t;
		}
		pthread_barrier_wait(&step);
		for (size_t i = 0; i < BATCH; i++) {
			const unsigned char *c = s->theirs[i];
			size_t size = sizes[(i + (size_t)r) % NSIZES];
			if (c[0] != pattern(other->node, i) || c[size - 1] != pattern(other->node, i))
				bad++;
			free(s->theirs[i]);
		}
	}
	expect(bad == 0, "node %u: %zu handed-over objects changed", s->node, bad);
	for (size_t i = 0; i < BATCH; i++) {
		s->mine[i] = xmalloc(sizes[i % NSIZES]);
		pageset_touch_add(&s->kept, s->mine[i], sizes[i % NSIZES]);
	}
	expect_on_node(&s->kept, s->node,
	               s->node ? "node 1 thread after cross-node frees"
	                       : "node 0 thread after cross-node frees");
	for (size_t i = 0; i < BATCH; i++)
		free(s->mine[i]);
	return NULL;
}

void
test_crossfree(void)
{
	pthread_t th[2];
	pthread_barrier_init(&step, NULL, 2);
	for (unsigned n = 0; n < 2; n++) {
		sides[n].node = n;
		sides[n].mine = scratch(BATCH * sizeof(void *));
		sides[n].theirs = scratch(BATCH * sizeof(void *));
		pageset_init(&sides[n].kept, BATCH * 2);
	}
	for (unsigned n = 0; n < 2; n++)
		start_pinned(&th[n], (int)n, crossfree_thread, &sides[n]);
	for (unsigned n = 0; n < 2; n++)
		pthread_join(th[n], NULL);
	pthread_barrier_destroy(&step);
}
