/*
 * check_stress.c — libstrata.so under 8 threads: random sizes from 1 B to
 * 4 MiB (skewed to small), each block written with a pattern derived from
 * its address and size, half of the blocks handed to another thread through
 * per-thread mutex-protected queues; the receiver checks the pattern and
 * frees the block (cross-thread free).  The rest are kept for a while,
 * checked and freed (or realloc'ed) by their owner.
 *
 * Asserted: every checked block still carried its pattern, every handed-off
 * block was received and freed, every allocation succeeded.  Fixed seeds,
 * a bounded number of operations, no sleeps: a thread with nothing to do
 * waits on its queue's condition variable.
 */
#include <strata.h>

#include "api_util.h"
#include "rng_util.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define OPS_PER_THREAD 25000
#define LOCAL_SLOTS 256

/* size_in_bucket's distribution (rng_util.h), bucket and size from r. */
static size_t
pick_size(uint64_t r)
{
	return size_in_bucket((unsigned)(r % 100), r >> 8);
}

/* ----------------------------------------------------------- the pattern */

static uint64_t
block_seed(const void *p, size_t n)
{
	return ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)n << 17) ^ n;
}

static inline uint64_t
pattern_word(uint64_t seed, size_t w)
{
	uint64_t x = seed + w * 0xd6e8feb86659fd93ull;
	return x ^ (x >> 29);
}

/* Writes (verify == 0) or checks (verify == 1) bytes [from, to) of the
 * block; from is a multiple of 8.  Returns 1 on a mismatch. */
static int
pattern_range(unsigned char *p, size_t from, size_t to, uint64_t seed, int verify)
{
	size_t w = from / 8, wend = to / 8;
	for (; w < wend; w++) {
		uint64_t v = pattern_word(seed, w);
		if (verify) {
			uint64_t got;
			memcpy(&got, p + w * 8, 8);
			if (got != v)
				return 1;
		} else {
			memcpy(p + w * 8, &v, 8);
		}
	}
	if (to % 8 != 0 && wend * 8 >= from) {
		uint64_t v = pattern_word(seed, wend);
		for (size_t i = wend * 8; i < to; i++) {
			unsigned char b = (unsigned char)(v >> ((i % 8) * 8));
			if (verify && p[i] != b)
				return 1;
			if (!verify)
				p[i] = b;
		}
	}
	return 0;
}

/* Small blocks are covered whole; big ones by their first and last 4 KiB
 * and one word in every 4 KiB between, so every page is touched.  Only
 * bytes below limit are visited (limit = n for the whole block). */
static int
pattern_block(void *vp, size_t n, uint64_t seed, size_t limit, int verify)
{
	unsigned char *p = vp;
#define RANGE(a, b)                                                                                \
	((a) < limit ? pattern_range(p, (a), (b) < limit ? (b) : limit, seed, verify) : 0)
	if (n <= 16 * KiB)
		return RANGE(0, n);
	int bad = RANGE(0, 4 * KiB);
	for (size_t off = 4 * KiB; off + 8 <= n - 4 * KiB; off += 4 * KiB)
		bad |= RANGE(off, off + 8);
	bad |= RANGE((n - 4 * KiB) & ~(size_t)7, n);
	return bad;
#undef RANGE
}

static void
write_block(void *p, size_t n)
{
	pattern_block(p, n, block_seed(p, n), n, 0);
}

static int
block_ok(void *p, size_t n)
{
	return pattern_block(p, n, block_seed(p, n), n, 1) == 0;
}

/* --------------------------------------------------------------- queues */

struct node {
	struct node *next;
	void *p;
	size_t n;
	int flags; /* the mallocx flags it was allocated with */
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct node *head;
	struct node *tail;
};

static struct queue queues[NTHREADS];
static atomic_int producers_left;  /* threads still allocating */
static atomic_long handed_off;	   /* blocks pushed to another queue */
static atomic_long received_freed; /* handed-off blocks checked and freed */
static atomic_long checked;	   /* blocks whose pattern was checked */
static atomic_long mismatched;	   /* ... and did not match */
static atomic_long alloc_failures; /* NULL from an allocation */
static atomic_long first_bad_size; /* size of the first mismatching block */

static void
check_and_free(void *p, size_t n, int flags)
{
	atomic_fetch_add(&checked, 1);
	if (!block_ok(p, n)) {
		long zero = 0;
		atomic_fetch_add(&mismatched, 1);
		atomic_compare_exchange_strong(&first_bad_size, &zero, (long)n);
	}
	/* Vary the free path. */
	switch ((uintptr_t)p >> 4 & 3) {
	case 0:
		sdallocx(p, n, flags);
		break;
	case 1:
		dallocx(p, flags);
		break;
	default:
		free(p);
		break;
	}
}

static void
push(int to, void *p, size_t n, int flags)
{
	struct node *e = malloc(sizeof(*e));
	if (e == NULL) {
		atomic_fetch_add(&alloc_failures, 1);
		check_and_free(p, n, flags);
		return;
	}
	e->next = NULL;
	e->p = p;
	e->n = n;
	e->flags = flags;
	struct queue *q = &queues[to];
	pthread_mutex_lock(&q->mu);
	if (q->tail != NULL)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	atomic_fetch_add(&handed_off, 1);
}

/* Takes everything in queue `self`; with wait set, blocks until there is
 * something or no producer is left.  Returns the list (NULL = none). */
static struct node *
take_all(int self, int wait, int *done)
{
	struct queue *q = &queues[self];
	pthread_mutex_lock(&q->mu);
	if (wait)
		while (q->head == NULL && atomic_load(&producers_left) > 0)
			pthread_cond_wait(&q->cv, &q->mu);
	struct node *list = q->head;
	q->head = q->tail = NULL;
	/* Pushes happen before a producer's decrement, under this lock: with
	 * no producer left, the queue we just emptied is final. */
	*done = list == NULL && atomic_load(&producers_left) == 0;
	pthread_mutex_unlock(&q->mu);
	return list;
}

static void
consume(struct node *list)
{
	while (list != NULL) {
		struct node *next = list->next;
		check_and_free(list->p, list->n, list->flags);
		free(list);
		atomic_fetch_add(&received_freed, 1);
		list = next;
	}
}

/* --------------------------------------------------------------- worker */

static void *
stress_worker(void *arg)
{
	int self = (int)(intptr_t)arg;
	uint64_t rng = 0x243f6a8885a308d3ull * (uint64_t)(self + 1);
	struct node local[LOCAL_SLOTS]; /* kept blocks (next unused) */
	memset(local, 0, sizeof(local));
	int done;

	for (int op = 0; op < OPS_PER_THREAD; op++) {
		if (op % 8 == 0)
			consume(take_all(self, 0, &done));
		uint64_t r = rng_next(&rng);
		size_t n = pick_size(r);
		int flags = 0;
		void *p;
		switch ((r >> 60) & 7) {
		case 0:
			p = calloc(1, n);
			break;
		case 1:
			flags = MALLOCX_ALIGN((size_t)64 << ((r >> 50) % 7));
			p = mallocx(n, flags);
			break;
		case 2:
			flags = MALLOCX_TCACHE_NONE;
			p = mallocx(n, flags);
			break;
		default:
			p = malloc(n);
			break;
		}
		if (p == NULL) {
			atomic_fetch_add(&alloc_failures, 1);
			continue;
		}
		write_block(p, n);
		if ((r >> 7) & 1) {
			/* Half go to another thread. */
			int to = (self + 1 + (int)((r >> 20) % (NTHREADS - 1))) % NTHREADS;
			push(to, p, n, flags);
			continue;
		}
		struct node *slot = &local[(r >> 24) % LOCAL_SLOTS];
		if (slot->p != NULL && slot->flags == 0 && (r >> 40) % 4 == 0) {
			/* realloc the old block instead of freeing it: the
			 * prefix keeps the old pattern, then the block gets
			 * its new one and is checked and freed. */
			atomic_fetch_add(&checked, 1);
			if (!block_ok(slot->p, slot->n))
				atomic_fetch_add(&mismatched, 1);
			uint64_t old_seed = block_seed(slot->p, slot->n);
			size_t nn = pick_size(rng_next(&rng));
			size_t keep = slot->n < nn ? slot->n : nn;
			void *q = realloc(slot->p, nn);
			if (q == NULL) {
				atomic_fetch_add(&alloc_failures, 1);
				free(slot->p);
			} else {
				atomic_fetch_add(&checked, 1);
				if (pattern_block(q, slot->n, old_seed, keep, 1))
					atomic_fetch_add(&mismatched, 1);
				write_block(q, nn);
				check_and_free(q, nn, 0);
			}
		} else if (slot->p != NULL) {
			check_and_free(slot->p, slot->n, slot->flags);
		}
		slot->p = p;
		slot->n = n;
		slot->flags = flags;
	}
	for (int i = 0; i < LOCAL_SLOTS; i++)
		if (local[i].p != NULL)
			check_and_free(local[i].p, local[i].n, local[i].flags);

	/* Done producing: wake every consumer so it can re-check the count. */
	atomic_fetch_sub(&producers_left, 1);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_mutex_lock(&queues[i].mu);
		pthread_cond_broadcast(&queues[i].cv);
		pthread_mutex_unlock(&queues[i].mu);
	}
	for (;;) {
		struct node *list = take_all(self, 1, &done);
		if (done)
			break;
		consume(list);
	}
	return NULL;
}

START_TEST(test_stress_cross_thread)
{
	for (int i = 0; i < NTHREADS; i++) {
		pthread_mutex_init(&queues[i].mu, NULL);
		pthread_cond_init(&queues[i].cv, NULL);
		queues[i].head = queues[i].tail = NULL;
	}
	atomic_store(&producers_left, NTHREADS);
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, stress_worker, (void *)(intptr_t)i),
				 0);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);

	long handed = atomic_load(&handed_off), freed = atomic_load(&received_freed);
	ck_assert_int_eq(atomic_load(&alloc_failures), 0);
	ck_assert_msg(atomic_load(&mismatched) == 0,
		      "%ld of %ld checked blocks lost their pattern (first bad block: %ld bytes)",
		      atomic_load(&mismatched), atomic_load(&checked),
		      atomic_load(&first_bad_size));
	ck_assert_msg(handed > (long)NTHREADS * OPS_PER_THREAD / 3,
		      "only %ld blocks were handed off", handed);
	ck_assert_msg(freed == handed, "%ld blocks handed off but %ld received and freed", handed,
		      freed);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_ptr_null(queues[i].head);
	/* Every block allocated was checked exactly once before being freed
	 * (realloc'ed blocks are checked twice: before and after). */
	ck_assert_int_ge(atomic_load(&checked), (long)NTHREADS * OPS_PER_THREAD);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stress_cross_thread);
	suite_add_tcase(s, tc);
	return s;
}
