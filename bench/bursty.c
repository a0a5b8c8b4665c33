/*
 * bursty — a service that is idle most of the time and busy in bursts:
 * RSS over time, page faults and burst latency (issue 11: purging that
 * follows the load).
 *
 * Phases, all fixed by the seed:
 *   baseline  the main thread allocates a ~4 MiB live set of small objects
 *             (16 B–4 KiB) that it keeps to the end, then idles 1 s;
 *   bursts    30 bursts in 4 clusters.  In a burst 2 worker threads each
 *             allocate objects of 16 B–4 KiB (95 %, log-uniform) or
 *             4–32 KiB (5 %), filling each one, until together they hold
 *             60–80 MiB, then each frees its own in a random order.
 *             Within a cluster the gaps are short (0.2–1 s, log-uniform:
 *             well under the usual 10 s dirty decay), between clusters long
 *             (5–8 s);
 *   idle      15 s after the last burst with no allocation by any thread.
 * About 50 s in all.  An allocator that keeps the burst's pages through
 * the short gaps takes no page faults in the next burst; one that returns
 * them during the long gaps and the final idle keeps RSS low.  Both at
 * once is the goal.
 *
 * A sampler thread, started first, reads /proc/self/statm every 10 ms
 * (absolute deadlines; open/read into a stack buffer, no malloc) into a
 * static array.  Threads wait on barriers and sleep with clock_nanosleep,
 * so nothing allocates between bursts.
 *
 * Reports time_s = the sum of the burst times (a burst: from the workers'
 * start to the end of the last free) and: rss_time_mib_s, RSS integrated
 * over the whole run (MiB·s); baseline_rss_kb, RSS just before the first
 * burst; idle1_rss_kb and idle12_rss_kb, RSS 1 s and 12 s into the final
 * idle; minflt, getrusage's minor faults at the end; burst_p50_ms and
 * burst_p99_ms over the bursts after the first (nearest rank: of 29, p99 is
 * the slowest; the first faults its pages in under every allocator and is
 * reported apart as burst0_ms); nbursts.
 *
 * --quick: 8 bursts of 10–14 MiB in 2 clusters, gaps 0.05–0.3 s and one of
 * 1–1.5 s, 0.3 s baseline idle, a 3 s final idle (idle12_rss_kb is then
 * taken at its end, 3 s in), about 6 s in all.  --trace=FILE also writes
 * the RSS samples and the bursts' start and end times there.
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define WORKERS 2
#define SAMPLE_S 0.010
#define MAX_SAMPLES 16384 /* 160 s at 10 ms; later samples are dropped */
#define MAX_BURSTS 64
#define CLUSTERS_FULL 4
#define BURSTS_FULL 30

typedef struct sample {
	float t;         /* seconds since the start */
	uint32_t rss_kb;
} sample_t;

static sample_t samples[MAX_SAMPLES];
static atomic_int nsamples;
static atomic_int sampler_stop;
static double t_origin;

typedef struct worker {
	pthread_t th;
	int id;
	uint64_t seed;
	void **ptr;       /* mmap'd: the burst's objects */
	uint32_t *perm;   /* mmap'd: their free order */
	size_t cap;
	size_t target;    /* bytes to build in this burst (set by main) */
	int burst;        /* burst number (set by main) */
	size_t nobj;
	uint64_t acc;
} worker_t;

static pthread_barrier_t start_bar, end_bar;
static int quit; /* set by main before the start barrier */

static void *sampler(void *arg)
{
	(void)arg;
	double next = bench_now();
	while (!atomic_load_explicit(&sampler_stop, memory_order_relaxed)) {
		int i = atomic_load_explicit(&nsamples, memory_order_relaxed);
		if (i < MAX_SAMPLES) {
			samples[i].t = (float)(bench_now() - t_origin);
			samples[i].rss_kb = (uint32_t)bench_statm_rss_kb();
			atomic_store_explicit(&nsamples, i + 1, memory_order_release);
		}
		next += SAMPLE_S;
		bench_sleep_until(next);
	}
	return NULL;
}

static size_t pick_size(uint64_t *r)
{
	if (prng_below(r, 20) == 0)
		return prng_log_range(r, 4097, 32768);
	return prng_log_range(r, 16, 4096);
}

static void *mmap_or_die(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort();
	return p;
}

static void burst(worker_t *w)
{
	uint64_t r = prng_seed(w->seed, 1000 + (uint64_t)w->burst * WORKERS + (uint64_t)w->id);
	size_t live = 0, n = 0;
	while (live < w->target && n < w->cap) {
		size_t s = pick_size(&r);
		unsigned char *p = malloc(s);
		if (p == NULL)
			abort();
		memset(p, (int)(n & 0xff), s);
		w->ptr[n++] = p;
		live += s;
	}
	for (size_t i = 0; i < n; i++)
		w->perm[i] = (uint32_t)i;
	bench_shuffle(w->perm, n, &r);
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = w->ptr[w->perm[i]];
		w->acc += p[0];
		free(p);
	}
	w->nobj += n;
}

static void *worker_main(void *arg)
{
	worker_t *w = arg;
	for (;;) {
		pthread_barrier_wait(&start_bar);
		if (quit)
			break;
		burst(w);
		pthread_barrier_wait(&end_bar);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, int n, double p)
{
	int k = (int)(p * n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

int main(int argc, char **argv)
{
	/* --trace=FILE is bursty's own; the rest go to bench_parse. */
	const char *trace = NULL;
	int nargc = 0;
	for (int i = 0; i < argc; i++) {
		if (i > 0 && strncmp(argv[i], "--trace=", 8) == 0)
			trace = argv[i] + 8;
		else
			argv[nargc++] = argv[i];
	}
	bench_opts_t o;
	bench_parse(nargc, argv, &o, "bursty");

	t_origin = bench_now();
	pthread_t samp;
	if (pthread_create(&samp, NULL, sampler, NULL) != 0)
		abort();

	/* The schedule, fixed by the seed. */
	uint64_t rs = prng_seed(o.seed, 900);
	int clusters = o.quick ? 2 : CLUSTERS_FULL;
	int nb = o.quick ? 8 : BURSTS_FULL;
	double base_idle = o.quick ? 0.3 : 1.0, final_idle = o.quick ? 3.0 : 15.0;
	double idle_a = 1.0, idle_b = o.quick ? 3.0 : 12.0;
	size_t base_bytes = o.quick ? (1u << 20) : (4u << 20);
	size_t burst_lo = o.quick ? (10u << 20) : (60u << 20);
	size_t burst_hi = o.quick ? (14u << 20) : (80u << 20);
	double short_lo = o.quick ? 0.05 : 0.2, short_hi = o.quick ? 0.3 : 1.0;
	double long_lo = o.quick ? 1.0 : 5.0, long_hi = o.quick ? 1.5 : 8.0;
	int csize[CLUSTERS_FULL];
	int left = nb;
	for (int c = 0; c < clusters - 1; c++) {
		int even = nb / clusters;
		csize[c] = (int)prng_range(&rs, (size_t)(even * 3 / 4), (size_t)(even * 5 / 4));
		left -= csize[c];
	}
	csize[clusters - 1] = left;
	double gap[MAX_BURSTS];   /* gap after burst i (none after the last) */
	size_t target[MAX_BURSTS];
	int b = 0;
	for (int c = 0; c < clusters; c++) {
		for (int k = 0; k < csize[c]; k++, b++) {
			target[b] = prng_range(&rs, burst_lo, burst_hi);
			double u = (double)(prng_next(&rs) >> 11) * (1.0 / 9007199254740992.0);
			if (k < csize[c] - 1) /* log-uniform short gap */
				gap[b] = short_lo * exp2(u * log2(short_hi / short_lo));
			else if (c < clusters - 1)
				gap[b] = long_lo + (long_hi - long_lo) * u;
			else
				gap[b] = 0;
		}
	}
	double planned = base_idle + final_idle;
	for (int i = 0; i < nb; i++)
		planned += gap[i];

	/* Workers, their object arrays from mmap (the same for every allocator). */
	worker_t w[WORKERS];
	size_t cap = burst_hi / WORKERS / 16 + 1024;
	if (pthread_barrier_init(&start_bar, NULL, WORKERS + 1) != 0 ||
	    pthread_barrier_init(&end_bar, NULL, WORKERS + 1) != 0)
		abort();
	for (int i = 0; i < WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		w[i].seed = o.seed;
		w[i].cap = cap;
		w[i].ptr = mmap_or_die(cap * sizeof(void *));
		w[i].perm = mmap_or_die(cap * sizeof(uint32_t));
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			abort();
	}

	/* Baseline: a live set kept to the end, then idle. */
	uint64_t rb = prng_seed(o.seed, 901);
	size_t base_cap = base_bytes / 16 + 1;
	void **base = mmap_or_die(base_cap * sizeof(void *));
	size_t base_n = 0, base_live = 0;
	while (base_live < base_bytes && base_n < base_cap) {
		size_t s = prng_log_range(&rb, 16, 4096);
		unsigned char *p = malloc(s);
		if (p == NULL)
			abort();
		memset(p, (int)(base_n & 0xff), s);
		base[base_n++] = p;
		base_live += s;
	}
	bench_sleep_until(bench_now() + base_idle);
	long baseline_kb = bench_statm_rss_kb();

	/* Bursts. */
	double bt[MAX_BURSTS], bstart[MAX_BURSTS], total = 0;
	for (int i = 0; i < nb; i++) {
		for (int k = 0; k < WORKERS; k++) {
			w[k].target = target[i] / WORKERS;
			w[k].burst = i;
		}
		double t0 = bench_now();
		pthread_barrier_wait(&start_bar);
		pthread_barrier_wait(&end_bar);
		double t1 = bench_now();
		bstart[i] = t0 - t_origin;
		bt[i] = t1 - t0;
		total += bt[i];
		if (gap[i] > 0)
			bench_sleep_until(t1 + gap[i]);
	}

	/* Final idle: every thread blocked or asleep; the sampler only reads. */
	double idle0 = bench_now();
	bench_sleep_until(idle0 + idle_a);
	long idle1_kb = bench_statm_rss_kb();
	bench_sleep_until(idle0 + idle_b);
	long idle12_kb = bench_statm_rss_kb();
	bench_sleep_until(idle0 + final_idle);

	atomic_store(&sampler_stop, 1);
	pthread_join(samp, NULL);
	double t_end = bench_now() - t_origin;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);

	quit = 1;
	pthread_barrier_wait(&start_bar);
	uint64_t acc = 0;
	size_t nobj = 0;
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(w[i].th, NULL);
		acc += w[i].acc;
		nobj += w[i].nobj;
	}
	for (size_t i = 0; i < base_n; i++) {
		acc += ((unsigned char *)base[i])[0];
		free(base[i]);
	}
	bench_sink += acc;

	/* RSS integrated over the run: trapezoids between the samples. */
	int ns = atomic_load_explicit(&nsamples, memory_order_acquire);
	double rss_time = 0;
	for (int i = 1; i < ns; i++)
		rss_time += (samples[i].t - samples[i - 1].t) *
			    (samples[i].rss_kb + samples[i - 1].rss_kb) / 2.0;
	rss_time /= 1024.0;

	/* The first burst faults its pages in under every allocator: it is
	 * reported apart and left out of the percentiles. */
	double sorted[MAX_BURSTS];
	int nsorted = nb - 1;
	memcpy(sorted, bt + 1, sizeof(double) * (size_t)nsorted);
	qsort(sorted, (size_t)nsorted, sizeof(double), cmp_double);

	if (trace != NULL) {
		FILE *f = fopen(trace, "w");
		if (f == NULL) {
			perror(trace);
			return 1;
		}
		fprintf(f, "# bursty trace: 'rss <t_s> <rss_kb>' every 10 ms; "
			   "'burst <i> <start_s> <ms>'; 'idle <start_s>'\n");
		for (int i = 0; i < nb; i++)
			fprintf(f, "burst %d %.3f %.3f\n", i, bstart[i], bt[i] * 1e3);
		fprintf(f, "idle %.3f\n", idle0 - t_origin);
		for (int i = 0; i < ns; i++)
			fprintf(f, "rss %.3f %u\n", samples[i].t, samples[i].rss_kb);
		fclose(f);
	}

	char extra[512];
	snprintf(extra, sizeof(extra),
		 "rss_time_mib_s=%.1f baseline_rss_kb=%ld idle1_rss_kb=%ld idle12_rss_kb=%ld "
		 "minflt=%ld burst_p50_ms=%.2f burst_p99_ms=%.2f nbursts=%d "
		 "burst0_ms=%.2f run_s=%.2f planned_s=%.2f samples=%d final_idle_s=%.0f "
		 "base_live_kb=%zu objects=%zu",
		 rss_time, baseline_kb, idle1_kb, idle12_kb, ru.ru_minflt,
		 pct(sorted, nsorted, 0.50) * 1e3, pct(sorted, nsorted, 0.99) * 1e3, nb,
		 bt[0] * 1e3, t_end, planned, ns, final_idle, base_live >> 10, nobj);
	bench_report("bursty", total, extra);
	return 0;
}
