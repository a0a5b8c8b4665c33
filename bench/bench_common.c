/*
 * bench_common.c — option parsing, clock, RSS, huge-page coverage, minor
 * faults and the result line for the bench/ workloads (see bench_common.h).  Measures nothing itself.
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

volatile uint64_t bench_sink;

static void usage(const char *name)
{
	fprintf(stderr, "usage: %s [--quick] [--seed=N] [--threads=N]%s\n", name,
		strcmp(name, "fastpath") == 0 ? " [--callgrind=N] [--pair=NAME]" : "");
	exit(2);
}

static long parse_num(const char *s, const char *name)
{
	char *end;
	long v = strtol(s, &end, 0);
	if (*s == '\0' || *end != '\0' || v < 0)
		usage(name);
	return v;
}

void bench_parse(int argc, char **argv, bench_opts_t *o, const char *name)
{
	memset(o, 0, sizeof(*o));
	o->seed = 0x5eed;
	o->pair = "malloc";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--quick") == 0)
			o->quick = 1;
		else if (strncmp(a, "--seed=", 7) == 0)
			o->seed = (uint64_t)parse_num(a + 7, name);
		else if (strncmp(a, "--threads=", 10) == 0)
			o->threads = (int)parse_num(a + 10, name);
		else if (strncmp(a, "--callgrind=", 12) == 0 && strcmp(name, "fastpath") == 0)
			o->callgrind = parse_num(a + 12, name);
		else if (strncmp(a, "--pair=", 7) == 0 && strcmp(name, "fastpath") == 0)
			o->pair = a + 7;
		else
			usage(name);
	}
	if (o->threads > 64)
		usage(name);
}

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

long bench_peak_rss_kb(void)
{
	/* VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a
	 * workload started by a large parent (bench/run is python) would report
	 * the parent's peak.  VmHWM belongs to this process's own mm. */
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
				break;
		fclose(f);
	}
	if (kb >= 0)
		return kb;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ru.ru_maxrss;
}

long bench_cur_rss_kb(void)
{
	long pages_total = 0, pages_res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages_total, &pages_res) != 2)
		pages_res = 0;
	fclose(f);
	return pages_res * (sysconf(_SC_PAGESIZE) / 1024);
}

long bench_statm_rss_kb(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "size resident shared ...", in pages: the second field. */
	const char *c = buf;
	while (*c != '\0' && *c != ' ')
		c++;
	long pages = 0;
	while (*c == ' ')
		c++;
	while (*c >= '0' && *c <= '9')
		pages = pages * 10 + (*c++ - '0');
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The number after "<key>:" in a "Key:   123 kB" text, or -1. */
static long field_kb(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *c = text; *c != '\0';) {
		if (strncmp(c, key, n) == 0 && c[n] == ':') {
			c += n + 1;
			while (*c == ' ' || *c == '\t')
				c++;
			long v = 0;
			while (*c >= '0' && *c <= '9')
				v = v * 10 + (*c++ - '0');
			return v;
		}
		while (*c != '\0' && *c != '\n')
			c++;
		if (*c == '\n')
			c++;
	}
	return -1;
}

int bench_huge_kb(long *rss_kb, long *anon_huge_kb)
{
	char buf[4096];
	size_t len = 0;
	*rss_kb = *anon_huge_kb = 0;
	int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			break;
	}
	close(fd);
	buf[len] = '\0';
	long rss = field_kb(buf, "Rss"), huge = field_kb(buf, "AnonHugePages");
	if (rss < 0 || huge < 0)
		return -1;
	*rss_kb = rss;
	*anon_huge_kb = huge;
	return 0;
}

double bench_huge_pct(long rss_kb, long anon_huge_kb)
{
	return rss_kb > 0 ? 100.0 * (double)anon_huge_kb / (double)rss_kb : 0.0;
}

long bench_minflt(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ru.ru_minflt;
}

void bench_sleep_until(double t)
{
	struct timespec ts;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

size_t prng_log_range(uint64_t *s, size_t lo, size_t hi)
{
	double l = log2((double)lo), h = log2((double)hi);
	double u = (double)(prng_next(s) >> 11) * (1.0 / 9007199254740992.0);
	size_t v = (size_t)exp2(l + (h - l) * u);
	if (v < lo)
		v = lo;
	if (v > hi)
		v = hi;
	return v;
}

void bench_report(const char *name, double secs, const char *extra)
{
	printf("BENCH workload=%s time_s=%.6f peak_rss_kb=%ld%s%s\n", name, secs,
	       bench_peak_rss_kb(), extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}
