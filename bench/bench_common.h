/*
 * bench_common.h — helpers shared by the bench/ workloads.
 *
 * Measures nothing itself.  Gives every workload the same command line
 * (--quick, --seed=N, --threads=N, --callgrind=N, --pair=NAME), a fixed-seed PRNG
 * (xorshift64*, deterministic across runs and allocators), a monotonic
 * clock, peak and current RSS, huge-page coverage, minor faults, and the
 * one machine-readable result line that bench/run parses:
 *
 *   BENCH workload=<name> time_s=<secs> peak_rss_kb=<kB> [key=value ...]
 *
 * Workloads use only standard malloc/free/calloc/realloc, so any allocator
 * can be swapped in by LD_PRELOAD.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct bench_opts {
	int quick;        /* --quick: small sizes for a smoke run */
	int threads;      /* --threads=N (0: the workload's default) */
	uint64_t seed;    /* --seed=N (default 0x5eed) */
	long callgrind;   /* --callgrind=N (fastpath only; 0: off) */
	const char *pair; /* --pair=NAME (fastpath only; default "malloc") */
} bench_opts_t;

/* Parses the common options; exits 2 with a usage line on anything else. */
void bench_parse(int argc, char **argv, bench_opts_t *o, const char *name);

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);

/* Peak resident set of this process (VmHWM; ru_maxrss as fallback), kB. */
long bench_peak_rss_kb(void);

/* Current resident set (/proc/self/statm), kB; 0 if unreadable. */
long bench_cur_rss_kb(void);

/* Current resident set (/proc/self/statm), kB, read with open/read/close
 * into a stack buffer: never allocates, so a sampler thread may call it
 * while the heap is idle without disturbing what it measures; 0 if
 * unreadable. */
long bench_statm_rss_kb(void);

/* Huge-page coverage now: Rss and AnonHugePages of the whole process, kB,
 * from /proc/self/smaps_rollup (read into a stack buffer: never allocates).
 * Returns 0, or -1 (both set to 0) when the file cannot be read. */
int bench_huge_kb(long *rss_kb, long *anon_huge_kb);

/* AnonHugePages / Rss in percent, from bench_huge_kb; 0 when unreadable. */
double bench_huge_pct(long rss_kb, long anon_huge_kb);

/* Minor page faults of this process so far (getrusage ru_minflt). */
long bench_minflt(void);

/* Sleeps until bench_now() reaches t (an absolute CLOCK_MONOTONIC deadline,
 * so a loop of these keeps its period however long each step took);
 * returns at once if t has passed.  Never allocates. */
void bench_sleep_until(double t);

/* Prints the BENCH line: extra is "key=value ..." or NULL.  Flushes. */
void bench_report(const char *name, double secs, const char *extra);

/* Sink the workloads fold touched bytes into, so no work is optimized out. */
extern volatile uint64_t bench_sink;

/* xorshift64*: state must be non-zero. */
static inline uint64_t prng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Seeds a state from a seed and a stream number (splitmix64 finalizer). */
static inline uint64_t prng_seed(uint64_t seed, uint64_t stream)
{
	uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return z ? z : 1;
}

/* Uniform in [0, n). */
static inline uint64_t prng_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)prng_next(s) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline size_t prng_range(uint64_t *s, size_t lo, size_t hi)
{
	return lo + (size_t)prng_below(s, (uint64_t)(hi - lo + 1));
}

/* Log-uniform in [lo, hi] (each power of two equally likely). */
size_t prng_log_range(uint64_t *s, size_t lo, size_t hi);

/* Shuffles perm[0..n) in place (Fisher-Yates) with the generator s. */
static inline void bench_shuffle(uint32_t *perm, size_t n, uint64_t *s)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)prng_below(s, i);
		uint32_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}

/* malloc(n) (aborting when it fails) with its first byte set to n (mod
 * 256) and its last to 1: the server-shaped workloads' blocks. */
static inline unsigned char *bench_malloc_marked(size_t n)
{
	unsigned char *p = malloc(n);
	if (p == NULL)
		abort();
	p[0] = (unsigned char)n;
	p[n - 1] = 1;
	return p;
}

/* Touches an object: writes its first byte and one byte per 4 KiB page. */
static inline void bench_touch(void *p, size_t n, unsigned char v)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i += 4096)
		c[i] = v;
	c[n - 1] = v;
}

#endif
