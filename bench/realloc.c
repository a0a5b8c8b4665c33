/*
 * realloc — growing buffers to several MiB by realloc.
 *
 * Each round grows 4 buffers side by side (interleaved, so none is simply the
 * last mapping) from 16 B by random appends of 1–2048 B until each reaches a
 * target of 1–8 MiB, writing every appended byte; then frees them.  Half the
 * rounds grow by appends (string builders), half by doubling (vectors).
 * Measures realloc through every size range: small-class moves, in-place
 * growth of large extents, and copying or remapping of multi-MiB blocks.
 * Single thread.
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUF 4

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "realloc");
	int rounds = o.quick ? 4 : 40;
	uint64_t r = prng_seed(o.seed, 500);
	uint64_t acc = 0;
	long nreallocs = 0;

	double t0 = bench_now();
	for (int round = 0; round < rounds; round++) {
		unsigned char *buf[NBUF];
		size_t len[NBUF], cap[NBUF], target[NBUF];
		int doubling = round & 1;
		for (int b = 0; b < NBUF; b++) {
			len[b] = 0;
			cap[b] = 16;
			target[b] = prng_range(&r, 1u << 20, 8u << 20);
			buf[b] = malloc(cap[b]);
			if (buf[b] == NULL)
				abort();
		}
		for (int active = NBUF; active > 0;) {
			active = 0;
			for (int b = 0; b < NBUF; b++) {
				if (len[b] >= target[b])
					continue;
				active++;
				size_t add = prng_range(&r, 1, 2048);
				if (len[b] + add > cap[b]) {
					size_t ncap = doubling ? cap[b] * 2 : len[b] + add;
					while (ncap < len[b] + add)
						ncap *= 2;
					unsigned char *p = realloc(buf[b], ncap);
					if (p == NULL)
						abort();
					buf[b] = p;
					cap[b] = ncap;
					nreallocs++;
				}
				memset(buf[b] + len[b], (int)(add & 0xff), add);
				len[b] += add;
			}
		}
		for (int b = 0; b < NBUF; b++) {
			acc += buf[b][len[b] / 2];
			free(buf[b]);
		}
	}
	double t1 = bench_now();
	bench_sink += acc;

	char extra[96];
	snprintf(extra, sizeof(extra), "rounds=%d reallocs=%ld", rounds, nreallocs);
	bench_report("realloc", t1 - t0, extra);
	return 0;
}
