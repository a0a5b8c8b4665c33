/*
 * fastpath — single-thread malloc/free pairs: the allocator's fast path.
 *
 * Phase "fixed": malloc(32) immediately freed, N times (the thread-cache
 * pop/push round trip).  Phase "mixed": a ring of 64 live objects; each step
 * frees the oldest and allocates a new one whose size comes from a table of
 * 4096 pre-drawn sizes in [8, 1024] (skewed small), so several size classes
 * are hot at once.  Reports total time plus ns per pair for each phase.
 *
 * --callgrind=N: for instruction counting under valgrind: 10000 warm-up
 * pairs, then exactly N pairs of malloc(32)+free.  bench/run runs this with
 * two N and divides the difference of Ir by the difference of N.
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>

#define RING 64
#define NSIZES 4096

/* noinline so the loop body is the same instruction sequence for every
 * allocator and nothing is hoisted across the measured pairs. */
__attribute__((noinline)) static void pairs_fixed(long n, size_t size)
{
	uint64_t acc = 0;
	for (long i = 0; i < n; i++) {
		unsigned char *p = malloc(size);
		if (p == NULL)
			abort();
		p[0] = (unsigned char)i;
		acc += p[0];
		free(p);
	}
	bench_sink += acc;
}

static size_t sizes[NSIZES];

__attribute__((noinline)) static void pairs_mixed(long n)
{
	unsigned char *ring[RING] = { 0 };
	uint64_t acc = 0;
	for (long i = 0; i < n; i++) {
		unsigned slot = (unsigned)i & (RING - 1);
		if (ring[slot] != NULL) {
			acc += ring[slot][0];
			free(ring[slot]);
		}
		unsigned char *p = malloc(sizes[i & (NSIZES - 1)]);
		if (p == NULL)
			abort();
		p[0] = (unsigned char)i;
		ring[slot] = p;
	}
	for (unsigned j = 0; j < RING; j++)
		free(ring[j]);
	bench_sink += acc;
}

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "fastpath");

	if (o.callgrind > 0) {
		pairs_fixed(10000, 32);
		pairs_fixed(o.callgrind, 32);
		printf("BENCH workload=fastpath-callgrind pairs=%ld\n", o.callgrind);
		return 0;
	}

	uint64_t rng = prng_seed(o.seed, 1);
	for (int i = 0; i < NSIZES; i++) {
		uint64_t r = prng_below(&rng, 100);
		sizes[i] = r < 60 ? prng_range(&rng, 8, 64)
			 : r < 90 ? prng_range(&rng, 65, 256)
				  : prng_range(&rng, 257, 1024);
	}
	long n_fixed = o.quick ? 2000000L : 30000000L;
	long n_mixed = o.quick ? 2000000L : 30000000L;

	pairs_fixed(10000, 32); /* warm-up, not timed */
	double t0 = bench_now();
	pairs_fixed(n_fixed, 32);
	double t1 = bench_now();
	pairs_mixed(n_mixed);
	double t2 = bench_now();

	char extra[160];
	snprintf(extra, sizeof(extra), "fixed_ns_per_pair=%.2f mixed_ns_per_pair=%.2f",
		 (t1 - t0) * 1e9 / (double)n_fixed, (t2 - t1) * 1e9 / (double)n_mixed);
	bench_report("fastpath", t2 - t0, extra);
	return 0;
}
