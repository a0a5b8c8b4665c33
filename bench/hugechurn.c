/*
 * hugechurn — churn of huge blocks, 5 to 25 MiB (like mimalloc-bench's
 * malloc-large).
 *
 * A table of 20 slots; each step frees a random slot (if it holds a block)
 * and allocates a new block there of a size uniform in [5 MiB, 25 MiB],
 * writing one byte per 4 KiB page (as a program filling a buffer would).
 * About 300 MiB live once the table is full.  Measures whether freed huge
 * blocks are kept for reuse or handed back to the kernel at once and
 * faulted in again: jemalloc purges blocks of 8 MiB and more
 * (oversize_threshold) as soon as they are freed, glibc reuses them from
 * its heap once its mmap threshold has risen.  Single thread.
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>

#define SLOTS 20

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "hugechurn");
	long steps = o.quick ? 200 : 1500;
	uint64_t r = prng_seed(o.seed, 1100);
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
		size[s] = prng_range(&r, 5u << 20, 25u << 20);
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
	bench_report("hugechurn", t1 - t0, extra);
	return 0;
}
