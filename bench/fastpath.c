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
 * two N and divides the difference of Ir by the difference of N.  With
 * --pair=NAME the pairs are another allocation and free of 32 bytes:
 * "mallocx" (mallocx(32, 0) + dallocx(p, 0)), "sdallocx" (mallocx(32, 0) +
 * sdallocx(p, 32, 0)) or "new" (C++'s operator new(32) + sized operator
 * delete(p, 32)).  These are jemalloc's extensions: they are declared weak
 * and called through the PLT like malloc, and an allocator that lacks them
 * prints "unsupported" and exits 3.  One object of the size stays allocated
 * during the loop (see main).
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *mallocx(size_t size, int flags) __attribute__((weak));
void dallocx(void *ptr, int flags) __attribute__((weak));
void sdallocx(void *ptr, size_t size, int flags) __attribute__((weak));
/* operator new(std::size_t) and operator delete(void *, std::size_t), by
 * their Itanium C++ ABI names, as a C++ compiler calls them. */
void *cxx_new(size_t size) __asm__("_Znwm") __attribute__((weak));
void cxx_delete_sized(void *ptr, size_t size) __asm__("_ZdlPvm") __attribute__((weak));

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

__attribute__((noinline)) static void pairs_mallocx(long n, size_t size)
{
	uint64_t acc = 0;
	for (long i = 0; i < n; i++) {
		unsigned char *p = mallocx(size, 0);
		if (p == NULL)
			abort();
		p[0] = (unsigned char)i;
		acc += p[0];
		dallocx(p, 0);
	}
	bench_sink += acc;
}

__attribute__((noinline)) static void pairs_sdallocx(long n, size_t size)
{
	uint64_t acc = 0;
	for (long i = 0; i < n; i++) {
		unsigned char *p = mallocx(size, 0);
		if (p == NULL)
			abort();
		p[0] = (unsigned char)i;
		acc += p[0];
		sdallocx(p, size, 0);
	}
	bench_sink += acc;
}

__attribute__((noinline)) static void pairs_new(long n, size_t size)
{
	uint64_t acc = 0;
	for (long i = 0; i < n; i++) {
		unsigned char *p = cxx_new(size);
		p[0] = (unsigned char)i;
		acc += p[0];
		cxx_delete_sized(p, size);
	}
	bench_sink += acc;
}

/* The pair --pair names; NULL when this allocator lacks its functions. */
static void (*pairs_named(const char *name))(long, size_t)
{
	if (strcmp(name, "malloc") == 0)
		return pairs_fixed;
	if (strcmp(name, "mallocx") == 0)
		return mallocx != NULL && dallocx != NULL ? pairs_mallocx : NULL;
	if (strcmp(name, "sdallocx") == 0)
		return mallocx != NULL && sdallocx != NULL ? pairs_sdallocx : NULL;
	if (strcmp(name, "new") == 0)
		return cxx_new != NULL && cxx_delete_sized != NULL ? pairs_new : NULL;
	fprintf(stderr, "fastpath: unknown --pair=%s (malloc, mallocx, sdallocx, new)\n", name);
	exit(2);
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
		void (*pairs)(long, size_t) = pairs_named(o.pair);
		if (pairs == NULL) {
			printf("BENCH workload=fastpath-callgrind pair=%s unsupported\n", o.pair);
			return 3;
		}
		/* Held during the loop, so that the pairs reuse the slab's
		 * second region: its first one is page-aligned, which sized
		 * frees treat apart (in strata as in jemalloc). */
		void *hold = malloc(32);
		pairs(10000, 32);
		pairs(o.callgrind, 32);
		free(hold);
		printf("BENCH workload=fastpath-callgrind pair=%s pairs=%ld\n", o.pair, o.callgrind);
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
