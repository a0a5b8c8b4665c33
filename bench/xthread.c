/*
 * xthread — producers allocate, consumers free (cross-thread frees).
 *
 * P producer threads (default 2) each paired with one consumer thread.  A
 * producer allocates objects of 16–512 B, writes them, and hands them over in
 * batches of 256 through a bounded queue (8 batches, mutex + condition
 * variables, blocking, no spinning); its consumer reads and frees them.
 * Every free is of memory another thread allocated, so this measures the
 * remote-free path (caches flushing to the owning arena/bin) and lock
 * contention between the two sides.  4 threads on 2 cores by default.
 */
#include "bench_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH 256
#define QCAP 8

typedef struct queue {
	pthread_mutex_t mu;
	pthread_cond_t not_full, not_empty;
	unsigned head, tail, count; /* protected by mu */
	int done;                   /* protected by mu */
	unsigned char *slot[QCAP][BATCH];
	long per_producer;
	uint64_t seed;
	uint64_t acc;
} queue_t;

static void *producer(void *arg)
{
	queue_t *q = arg;
	uint64_t r = q->seed;
	for (long sent = 0; sent < q->per_producer; sent += BATCH) {
		pthread_mutex_lock(&q->mu);
		while (q->count == QCAP)
			pthread_cond_wait(&q->not_full, &q->mu);
		unsigned t = q->tail;
		pthread_mutex_unlock(&q->mu);
		/* slot t is ours until published */
		for (int i = 0; i < BATCH; i++) {
			size_t n = prng_range(&r, 16, 512);
			unsigned char *p = malloc(n);
			if (p == NULL)
				abort();
			p[0] = (unsigned char)n;
			p[n - 1] = (unsigned char)i;
			q->slot[t][i] = p;
		}
		pthread_mutex_lock(&q->mu);
		q->tail = (t + 1) % QCAP;
		q->count++;
		pthread_cond_signal(&q->not_empty);
		pthread_mutex_unlock(&q->mu);
	}
	pthread_mutex_lock(&q->mu);
	q->done = 1;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void *consumer(void *arg)
{
	queue_t *q = arg;
	uint64_t acc = 0;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->count == 0 && !q->done)
			pthread_cond_wait(&q->not_empty, &q->mu);
		if (q->count == 0) { /* done and drained */
			pthread_mutex_unlock(&q->mu);
			break;
		}
		unsigned h = q->head;
		pthread_mutex_unlock(&q->mu);
		for (int i = 0; i < BATCH; i++) {
			acc += q->slot[h][i][0];
			free(q->slot[h][i]);
		}
		pthread_mutex_lock(&q->mu);
		q->head = (h + 1) % QCAP;
		q->count--;
		pthread_cond_signal(&q->not_full);
		pthread_mutex_unlock(&q->mu);
	}
	q->acc = acc;
	return NULL;
}

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "xthread");
	int np = o.threads > 0 ? (o.threads + 1) / 2 : 2;
	long per = o.quick ? 500000 : 8000000;

	queue_t *qs = calloc((size_t)np, sizeof(*qs));
	pthread_t *th = calloc((size_t)np * 2, sizeof(*th));
	if (qs == NULL || th == NULL)
		abort();
	for (int i = 0; i < np; i++) {
		pthread_mutex_init(&qs[i].mu, NULL);
		pthread_cond_init(&qs[i].not_full, NULL);
		pthread_cond_init(&qs[i].not_empty, NULL);
		qs[i].per_producer = per;
		qs[i].seed = prng_seed(o.seed, 100 + (uint64_t)i);
	}

	double t0 = bench_now();
	for (int i = 0; i < np; i++) {
		if (pthread_create(&th[2 * i], NULL, consumer, &qs[i]) != 0 ||
		    pthread_create(&th[2 * i + 1], NULL, producer, &qs[i]) != 0)
			abort();
	}
	for (int i = 0; i < 2 * np; i++)
		pthread_join(th[i], NULL);
	double t1 = bench_now();
	for (int i = 0; i < np; i++)
		bench_sink += qs[i].acc;

	char extra[96];
	snprintf(extra, sizeof(extra), "threads=%d objects=%ld", 2 * np,
		 (long)np * ((per + BATCH - 1) / BATCH) * BATCH);
	bench_report("xthread", t1 - t0, extra);
	free(qs);
	free(th);
	return 0;
}
