/*
 * server — larson-style: threads replace random slots of a shared table.
 *
 * A table of 65536 slots is filled with blocks of random size, then T threads
 * (default 4) each do M replacements: draw a slot, malloc a new block
 * (16 B–4 KiB, skewed small), write it, swap it into the slot atomically, and
 * free the block it displaced — which some other thread usually allocated.
 * Measures a server's steady churn: mixed sizes, frees of other threads'
 * memory, a live set that stays put while its composition changes.  Only the
 * replacement phase is timed.
 */
#include "bench_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 65536

static unsigned char *_Atomic *table;
static long ops_per_thread;
static uint64_t base_seed;

static size_t draw_size(uint64_t *r)
{
	uint64_t c = prng_below(r, 100);
	if (c < 70)
		return prng_range(r, 16, 128);
	if (c < 95)
		return prng_range(r, 129, 1024);
	return prng_range(r, 1025, 4096);
}

static unsigned char *new_block(uint64_t *r)
{
	return bench_malloc_marked(draw_size(r));
}

static void *worker(void *arg)
{
	uint64_t r = prng_seed(base_seed, 200 + (uint64_t)(uintptr_t)arg);
	uint64_t acc = 0;
	for (long i = 0; i < ops_per_thread; i++) {
		size_t s = (size_t)prng_below(&r, SLOTS);
		unsigned char *old = __atomic_exchange_n(&table[s], new_block(&r), __ATOMIC_ACQ_REL);
		if (old != NULL) {
			acc += old[0];
			free(old);
		}
	}
	__atomic_fetch_add(&bench_sink, acc, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "server");
	int nt = o.threads > 0 ? o.threads : 4;
	ops_per_thread = o.quick ? 200000 : 1500000;
	base_seed = o.seed;

	table = calloc(SLOTS, sizeof(*table));
	pthread_t *th = calloc((size_t)nt, sizeof(*th));
	if (table == NULL || th == NULL)
		abort();
	uint64_t r = prng_seed(o.seed, 199);
	for (size_t i = 0; i < SLOTS; i++)
		table[i] = new_block(&r);

	double t0 = bench_now();
	for (int i = 0; i < nt; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i) != 0)
			abort();
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	double t1 = bench_now();

	for (size_t i = 0; i < SLOTS; i++)
		free(table[i]);
	char extra[96];
	snprintf(extra, sizeof(extra), "threads=%d ops=%ld", nt, (long)nt * ops_per_thread);
	bench_report("server", t1 - t0, extra);
	free((void *)table);
	free(th);
	return 0;
}
