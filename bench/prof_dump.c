/*
 * prof_dump — time and size of one heap-profile dump (mallctl "prof.dump")
 * of a heap with N distinct live stacks (default 100 000; --quick 10 000).
 *
 * Object i is allocated at the bottom of a recursion of DEPTH levels
 * (DEPTH = the bits needed for N - 1, 17 for 100 000) whose level k runs in
 * step_a or step_b as bit k of i says; each level calls the next through
 * its own call site, so the chain of return addresses, and hence the stack,
 * differs for every i.  Sizes vary with i (32-496 B, small classes).  All N
 * objects stay live; run with MALLOC_CONF=prof:true,lg_prof_sample:0 so
 * that every one is sampled.  Then it dumps --dumps=K times (default 3) to
 * --out=PATH (gzip when PATH ends in .gz, under strata) and reports
 *
 *   BENCH workload=prof_dump time_s=<median dump s> peak_rss_kb=<kB>
 *         first_s=<first dump s> dump_bytes=<size of PATH> stacks=N
 *         depth=DEPTH build_s=<time to allocate the N sampled objects>
 *
 * The file is left at PATH for the caller (bench/run counts its stacks).
 * mallctl is looked up with dlsym, so any allocator that has it (strata,
 * jemalloc) can be preloaded; without one it exits 1.
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef void *(*step_fn)(unsigned, uint32_t, size_t);

static void *step_a(unsigned level, uint32_t path, size_t size);
static void *step_b(unsigned level, uint32_t path, size_t size);

/* What the steps fold their results into, so that nothing runs after a
 * call can be dropped: every call stays a call (no sibling calls) and the
 * two steps keep different bodies (no identical-code folding). */
static volatile uintptr_t fold_a, fold_b;

/* noipa: no inlining, cloning or merging of the two steps; each has one
 * call site for the next level, so the return address in step_a or step_b
 * says which of them ran at that level. */
__attribute__((noipa)) static void *step_a(unsigned level, uint32_t path, size_t size)
{
	void *p;
	if (level == 0) {
		p = malloc(size);
	} else {
		step_fn next = (path & 1) ? step_b : step_a;
		p = next(level - 1, path >> 1, size);
	}
	fold_a += (uintptr_t)p;
	return p;
}

__attribute__((noipa)) static void *step_b(unsigned level, uint32_t path, size_t size)
{
	void *p;
	if (level == 0) {
		p = malloc(size);
	} else {
		step_fn next = (path & 1) ? step_b : step_a;
		p = next(level - 1, path >> 1, size);
	}
	fold_b ^= (uintptr_t)p;
	return p;
}

static void usage(void)
{
	fprintf(stderr, "usage: prof_dump --out=PATH [--quick] [--stacks=N] [--dumps=K]\n");
	exit(2);
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v <= 0)
		usage();
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	long n = 0, dumps = 3;
	int quick = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
		else if (strncmp(argv[i], "--out=", 6) == 0 && argv[i][6] != '\0')
			out = argv[i] + 6;
		else if (strncmp(argv[i], "--stacks=", 9) == 0)
			n = num(argv[i] + 9);
		else if (strncmp(argv[i], "--dumps=", 8) == 0)
			dumps = num(argv[i] + 8);
		else
			usage();
	}
	if (out == NULL || dumps > 100 || n > (1L << 30))
		usage();
	if (n == 0)
		n = quick ? 10000 : 100000;
	mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
	if (mallctl == NULL) {
		fprintf(stderr, "prof_dump: no mallctl in this process (preload strata or jemalloc)\n");
		return 1;
	}
	unsigned depth = 1;
	while (depth < 31 && (1UL << depth) < (unsigned long)n)
		depth++;

	void **live = malloc((size_t)n * sizeof(*live));
	if (live == NULL)
		abort();
	double t0 = bench_now();
	for (long i = 0; i < n; i++) {
		/* The top level is step_a for every i; bits 0..depth-1 of i pick
		 * the steps below it. */
		live[i] = step_a(depth, (uint32_t)i, 32 + 16 * (size_t)(i % 30));
		if (live[i] == NULL)
			abort();
		memset(live[i], (int)i, 16);
	}
	double t1 = bench_now();

	double times[100];
	for (long d = 0; d < dumps; d++) {
		double s = bench_now();
		int err = mallctl("prof.dump", NULL, NULL, (void *)&out, sizeof(out));
		times[d] = bench_now() - s;
		if (err != 0) {
			fprintf(stderr, "prof_dump: mallctl(\"prof.dump\", %s) failed: error %d "
				"(is MALLOC_CONF=prof:true set?)\n", out, err);
			return 1;
		}
	}
	double first = times[0];
	qsort(times, (size_t)dumps, sizeof(times[0]), cmp_double);
	struct stat st;
	if (stat(out, &st) != 0) {
		perror(out);
		return 1;
	}

	uint64_t acc = 0;
	for (long i = 0; i < n; i++) {
		acc += *(unsigned char *)live[i];
		free(live[i]);
	}
	free(live);
	bench_sink += acc;

	char extra[256];
	snprintf(extra, sizeof(extra),
		 "first_s=%.6f dump_bytes=%lld stacks=%ld depth=%u build_s=%.6f", first,
		 (long long)st.st_size, n, depth, t1 - t0);
	bench_report("prof_dump", times[dumps / 2], extra);
	return 0;
}
