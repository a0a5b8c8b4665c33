/*
 * large — churn of large blocks, 64 KiB to 16 MiB.
 *
 * A table of 32 slots holds blocks whose sizes are log-uniform in
 * [64 KiB, 16 MiB] (about 3 MiB on average, ~100 MiB live).  Each step frees
 * a random slot and allocates a new block there, touching one byte per 4 KiB
 * page (as a program filling a buffer would).  Measures large-extent
 * allocation, reuse of freed dirty pages versus fresh page faults, splitting
 * and coalescing, and how much freed memory stays resident (peak RSS).
 * Single thread.
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>

#define SLOTS 32

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "large");
	long steps = o.quick ? 1500 : 10000;
	uint64_t r = prng_seed(o.seed, 600);
	unsigned char *slot[SLOTS] = { 0 };
	size_t size[SLOTS] = { 0 };
	uint64_t acc = 0;
	size_t live = 0, peak_live = 0;

	double t0 = bench_now();
	for (long i = 0; i < steps; i++) {
		size_t s = (size_t)prng_below(&r, SLOTS);
		if (slot[s] != NULL) {
			acc += slot[s][size[s] - 1];
			free(slot[s]);
			live -= size[s];
		}
		size[s] = prng_log_range(&r, 64u << 10, 16u << 20);
		slot[s] = malloc(size[s]);
		if (slot[s] == NULL)
			abort();
		bench_touch(slot[s], size[s], (unsigned char)i);
		live += size[s];
		if (live > peak_live)
			peak_live = live;
	}
	double t1 = bench_now();
	for (int s = 0; s < SLOTS; s++)
		free(slot[s]);
	bench_sink += acc;

	char extra[96];
	snprintf(extra, sizeof(extra), "steps=%ld peak_live_kb=%zu", steps, peak_live >> 10);
	bench_report("large", t1 - t0, extra);
	return 0;
}
