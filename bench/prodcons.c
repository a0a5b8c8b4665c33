/*
 * prodcons — many producers, many consumers, small handoffs (xmalloc-test).
 *
 * --threads=N (default 8) gives P = ceil(N/2) producer and C = N - P (at
 * least 1) consumer threads.  Every consumer has an inbox: a list of objects
 * linked through their first word, with a mutex, two condition variables
 * and a bound of 2048 objects (a producer waits while the inbox is full, a
 * consumer while it is empty; no spinning).  A producer allocates objects
 * of 8–1024 B (log-uniform: every power of two equally likely, so most are
 * small), links them into a chain of 8 and appends the chain to an inbox,
 * its k-th chain going to consumer (p + k) mod C; a consumer takes its whole
 * inbox at once and frees every object in it.  So every free is of memory
 * another thread allocated, each consumer frees objects of every producer,
 * mixed, and each handoff is 8 objects -- unlike bench/xthread, where each
 * consumer frees one producer's batches of 256.
 *
 * Fixed work: 8 M objects in all (--quick 1 M), split evenly among the
 * producers, whatever N; `time_s` is from the first thread's start to the
 * last one's join.  The consumers count what they free; a count that does
 * not match what was produced aborts the run.
 */
#include "bench_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN 8
#define INBOX_CAP 2048

typedef struct inbox {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	void *head;         /* objects linked through their first word (mu) */
	long count;         /* objects in the list (mu) */
	int producers_left; /* producers not yet finished (mu) */
	long freed;         /* objects the consumer freed (its own) */
} inbox_t;

typedef struct producer {
	int id;
	long chains;
	uint64_t rng;
} producer_t;

static inbox_t *inboxes;
static int nconsumers;

static void *link_of(void *p)
{
	void *next;
	memcpy(&next, p, sizeof(next));
	return next;
}

static void set_link(void *p, void *next)
{
	memcpy(p, &next, sizeof(next));
}

static void *producer(void *arg)
{
	producer_t *pr = arg;
	uint64_t r = pr->rng;
	for (long k = 0; k < pr->chains; k++) {
		unsigned char *head = NULL, *tail = NULL;
		for (int i = 0; i < CHAIN; i++) {
			size_t n = prng_log_range(&r, 8, 1024);
			unsigned char *p = malloc(n);
			if (p == NULL)
				abort();
			p[n - 1] = (unsigned char)n; /* before the link: n may be 8 */
			set_link(p, head);
			head = p;
			if (tail == NULL)
				tail = p;
		}
		inbox_t *b = &inboxes[(pr->id + k) % nconsumers];
		pthread_mutex_lock(&b->mu);
		while (b->count >= INBOX_CAP)
			pthread_cond_wait(&b->not_full, &b->mu);
		set_link(tail, b->head);
		b->head = head;
		b->count += CHAIN;
		pthread_cond_signal(&b->not_empty);
		pthread_mutex_unlock(&b->mu);
	}
	for (int c = 0; c < nconsumers; c++) {
		inbox_t *b = &inboxes[c];
		pthread_mutex_lock(&b->mu);
		b->producers_left--;
		pthread_cond_signal(&b->not_empty);
		pthread_mutex_unlock(&b->mu);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	inbox_t *b = arg;
	long freed = 0;
	for (;;) {
		pthread_mutex_lock(&b->mu);
		while (b->count == 0 && b->producers_left > 0)
			pthread_cond_wait(&b->not_empty, &b->mu);
		if (b->count == 0) { /* every producer done, inbox drained */
			pthread_mutex_unlock(&b->mu);
			break;
		}
		void *p = b->head;
		b->head = NULL;
		b->count = 0;
		pthread_cond_broadcast(&b->not_full);
		pthread_mutex_unlock(&b->mu);
		while (p != NULL) {
			void *next = link_of(p);
			free(p);
			freed++;
			p = next;
		}
	}
	b->freed = freed;
	return NULL;
}

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "prodcons");
	int nt = o.threads > 0 ? o.threads : 8;
	int np = (nt + 1) / 2;
	nconsumers = nt - np > 0 ? nt - np : 1;
	long total = o.quick ? 1000000 : 8000000;
	long chains = total / CHAIN / np;

	inboxes = calloc((size_t)nconsumers, sizeof(*inboxes));
	producer_t *prs = calloc((size_t)np, sizeof(*prs));
	pthread_t *th = calloc((size_t)(np + nconsumers), sizeof(*th));
	if (inboxes == NULL || prs == NULL || th == NULL)
		abort();
	for (int c = 0; c < nconsumers; c++) {
		pthread_mutex_init(&inboxes[c].mu, NULL);
		pthread_cond_init(&inboxes[c].not_empty, NULL);
		pthread_cond_init(&inboxes[c].not_full, NULL);
		inboxes[c].producers_left = np;
	}
	for (int i = 0; i < np; i++) {
		prs[i].id = i;
		prs[i].chains = chains;
		prs[i].rng = prng_seed(o.seed, 400 + (uint64_t)i);
	}

	double t0 = bench_now();
	for (int c = 0; c < nconsumers; c++)
		if (pthread_create(&th[c], NULL, consumer, &inboxes[c]) != 0)
			abort();
	for (int i = 0; i < np; i++)
		if (pthread_create(&th[nconsumers + i], NULL, producer, &prs[i]) != 0)
			abort();
	for (int i = 0; i < np + nconsumers; i++)
		pthread_join(th[i], NULL);
	double t1 = bench_now();

	long freed = 0;
	for (int c = 0; c < nconsumers; c++)
		freed += inboxes[c].freed;
	long objects = (long)np * chains * CHAIN;
	if (freed != objects) {
		fprintf(stderr, "prodcons: freed %ld objects of %ld\n", freed, objects);
		return 1;
	}
	bench_sink += (uint64_t)freed;
	char extra[128];
	snprintf(extra, sizeof(extra), "threads=%d producers=%d consumers=%d objects=%ld chain=%d",
		 np + nconsumers, np, nconsumers, objects, CHAIN);
	bench_report("prodcons", t1 - t0, extra);
	free(inboxes);
	free(prs);
	free(th);
	return 0;
}
