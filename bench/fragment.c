/*
 * fragment — long churn whose size mix shifts over time; reports peak RSS
 * over peak live bytes.
 *
 * Eight phases.  In each, every step frees a random live object (when the
 * live bytes are at or above the phase's target) and allocates a new one
 * drawn from the phase's size range (when below it), so the live set stays
 * near the target while its composition turns over to the new sizes:
 *   0: 32–256 B      1: 256 B–2 KiB    2: 2–16 KiB    3: 32–256 B at 1/4
 *   4: 512 B–4 KiB   5: 16–64 KiB      6: 48–512 B    7: 64 B–1 KiB at 1/2
 * Memory freed by one phase's sizes must be reused for another's, so
 * allocators that strand partly-used slabs or keep freed pages resident show
 * a high ratio.  Objects are touched (first byte and one per page).
 *
 * Reports frag_ratio = (peak RSS (VmHWM) - RSS before the churn - the bench's own
 * slot arrays) / peak live requested bytes; also the raw figures.  For
 * issue 15, huge-page coverage (AnonHugePages / Rss, /proc/self/smaps_rollup)
 * at the end of the churn with the live set still allocated (huge_pct) and
 * at the end of the phase whose RSS was highest (peak_huge_pct), and the
 * churn's minor faults (minflt).  The readings, one per phase, are outside
 * the measured time.
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef struct phase {
	size_t lo, hi;
	int target_div; /* target = TARGET / target_div */
} phase_t;

static const phase_t phases[] = {
	{ 32, 256, 1 },     { 256, 2048, 1 },  { 2048, 16384, 1 }, { 32, 256, 4 },
	{ 512, 4096, 1 },   { 16384, 65536, 1 }, { 48, 512, 1 },    { 64, 1024, 2 },
};
#define NPHASES (sizeof(phases) / sizeof(phases[0]))

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "fragment");
	size_t target_all = o.quick ? (16u << 20) : (64u << 20);
	long steps = o.quick ? 150000 : 800000;
	size_t cap = target_all / 32 + 1024; /* most objects that can be live */

	/* Slot arrays come from mmap, not malloc, so they are the same for
	 * every allocator and can be subtracted. */
	void **ptr = mmap(NULL, cap * sizeof(*ptr), PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *sz = mmap(NULL, cap * sizeof(*sz), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ptr == MAP_FAILED || sz == MAP_FAILED)
		abort();
	uint64_t r = prng_seed(o.seed, 700);
	size_t n = 0, max_n = 0, live = 0, peak_live = 0;
	uint64_t acc = 0;
	long base_kb = bench_cur_rss_kb();
	long rss_kb = 0, huge_kb = 0, peak_rss_kb = 0, peak_huge_kb = 0;
	long flt0 = bench_minflt();

	double secs = 0;
	for (size_t ph = 0; ph < NPHASES; ph++) {
		double t0 = bench_now();
		size_t target = target_all / (size_t)phases[ph].target_div;
		for (long i = 0; i < steps; i++) {
			if (live >= target && n > 0) {
				size_t j = (size_t)prng_below(&r, n);
				unsigned char *p = ptr[j];
				acc += p[0];
				free(p);
				live -= sz[j];
				n--;
				ptr[j] = ptr[n];
				sz[j] = sz[n];
			}
			if (live < target && n < cap) {
				size_t s = prng_range(&r, phases[ph].lo, phases[ph].hi);
				unsigned char *p = malloc(s);
				if (p == NULL)
					abort();
				bench_touch(p, s, (unsigned char)i);
				ptr[n] = p;
				sz[n] = (uint32_t)s;
				n++;
				live += s;
				if (n > max_n)
					max_n = n;
				if (live > peak_live)
					peak_live = live;
			}
		}
		secs += bench_now() - t0;
		bench_huge_kb(&rss_kb, &huge_kb);
		if (rss_kb > peak_rss_kb) {
			peak_rss_kb = rss_kb;
			peak_huge_kb = huge_kb;
		}
	}
	long minflt = bench_minflt() - flt0;

	long peak_kb = bench_peak_rss_kb();
	/* slot array pages touched: max_n entries of each array */
	long arrays_kb = (long)((max_n * (sizeof(*ptr) + sizeof(*sz)) + 8191) >> 10);
	double ratio = (double)(peak_kb - base_kb - arrays_kb) * 1024.0 / (double)peak_live;
	for (size_t j = 0; j < n; j++)
		free(ptr[j]);
	bench_sink += acc;

	char extra[400];
	snprintf(extra, sizeof(extra),
		 "peak_live_kb=%zu base_rss_kb=%ld arrays_kb=%ld frag_ratio=%.3f "
		 "rss_kb=%ld anon_huge_kb=%ld huge_pct=%.2f peak_huge_pct=%.2f minflt=%ld "
		 "steps=%ld",
		 peak_live >> 10, base_kb, arrays_kb, ratio, rss_kb, huge_kb,
		 bench_huge_pct(rss_kb, huge_kb), bench_huge_pct(peak_rss_kb, peak_huge_kb),
		 minflt, steps * (long)NPHASES);
	bench_report("fragment", secs, extra);
	munmap(ptr, cap * sizeof(*ptr));
	munmap(sz, cap * sizeof(*sz));
	return 0;
}
