/*
 * batch — allocate many random-size objects, then free them in random order.
 *
 * Each round allocates K objects (60% 8–128 B, 30% 129–1024 B, 9% 1–8 KiB,
 * 1% 8–32 KiB), touching each, then frees all of them in a fresh random
 * permutation.  Measures bulk allocation, frees scattered over many slabs
 * (poor locality, slab emptying) and reuse of the freed memory by the next
 * round.  Single thread.
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>

static size_t draw_size(uint64_t *r)
{
	uint64_t c = prng_below(r, 100);
	if (c < 60)
		return prng_range(r, 8, 128);
	if (c < 90)
		return prng_range(r, 129, 1024);
	if (c < 99)
		return prng_range(r, 1025, 8192);
	return prng_range(r, 8193, 32768);
}

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "batch");
	size_t k = o.quick ? 100000 : 250000;
	int rounds = o.quick ? 2 : 8;

	void **objs = malloc(k * sizeof(*objs));
	size_t *sz = malloc(k * sizeof(*sz));
	uint32_t *perm = malloc(k * sizeof(*perm));
	if (objs == NULL || sz == NULL || perm == NULL)
		abort();
	uint64_t r = prng_seed(o.seed, 2);
	uint64_t acc = 0;

	double t0 = bench_now();
	for (int round = 0; round < rounds; round++) {
		for (size_t i = 0; i < k; i++) {
			sz[i] = draw_size(&r);
			objs[i] = malloc(sz[i]);
			if (objs[i] == NULL)
				abort();
			bench_touch(objs[i], sz[i], (unsigned char)i);
			perm[i] = (uint32_t)i;
		}
		bench_shuffle(perm, k, &r);
		for (size_t i = 0; i < k; i++) {
			unsigned char *p = objs[perm[i]];
			acc += p[0];
			free(p);
		}
	}
	double t1 = bench_now();
	bench_sink += acc;

	char extra[96];
	snprintf(extra, sizeof(extra), "objects=%zu rounds=%d", k, rounds);
	bench_report("batch", t1 - t0, extra);
	free(objs);
	free(sz);
	free(perm);
	return 0;
}
