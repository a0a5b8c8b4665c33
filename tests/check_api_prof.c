/*
 * check_api_prof.c — the sampling heap profiler through the public API:
 * unbiased estimates, the sampled fraction, sampled objects' sizes and
 * frees, realloc of sampled objects, the settings (prof.active,
 * thread.prof.*, prof.reset, prof.stats), dumps read back by a reader
 * here, by bin/jeprof and by Debian's perl jeprof, dumps racing with
 * allocating threads, the frame-pointer unwinder and system thread names.
 *
 * The whole suite runs with the profiler on at one sample per KiB (the
 * program's malloc_conf); each test is a forked child, so a setting it
 * changes dies with it.  Dumps go to a fresh folder under /tmp.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"
#include "thread_util.h"

#define LG_SAMPLE 10

const char *malloc_conf = "prof:true,lg_prof_sample:10,prof_stats:true";

/* ------------------------------------------------ allocation sites */

/* Each site is its own function, so a stack's first frame (the return
 * address in the caller of malloc: strata drops its own frames) tells which
 * site made it.  Keep them together and in this order: a frame belongs to
 * the last site that starts at or below it. */
#define NOINLINE __attribute__((noinline))
NOINLINE void *
site_small(void)
{
	return launder(malloc(hide(48)));
}
NOINLINE void *
site_page(void)
{
	return launder(malloc(hide(4096)));
}
NOINLINE void *
site_big(void)
{
	return launder(malloc(hide(1 << 20)));
}
NOINLINE void *
site_end(void)
{
	return launder(malloc(hide(1)));
}

enum { SITE_SMALL, SITE_PAGE, SITE_BIG, NSITES, SITE_NONE = NSITES };
static void *(*const sites[NSITES + 1])(void) = {site_small, site_page, site_big, site_end};

static int
site_of(uintptr_t pc)
{
	for (int s = NSITES - 1; s >= 0; s--) {
		if (pc >= (uintptr_t)sites[s] && pc < (uintptr_t)sites[s + 1])
			return s;
	}
	return SITE_NONE;
}

/* ------------------------------------------------ a heap_v2 reader */

/* What a dump says about one site: the raw numbers of its stacks' t*
 * lines, and jeprof's estimate from them (each line un-sampled alone). */
typedef struct site_est {
	double raw_objs, raw_bytes;
	double objs, bytes;
} site_est_t;

typedef struct dump_info {
	double period;       /* the header's sampling period */
	site_est_t site[NSITES + 1];
	int nstacks;
	int nthread_lines;   /* header lines t<uid> */
	char names[4][64];   /* header thread names, in order */
	bool has_maps;       /* reached MAPPED_LIBRARIES: with maps after it */
	bool stack_uids_in_header; /* every t<uid> of a stack is in the header */
} dump_info_t;

/* jeprof's un-sampling of one line (docs/compat.md, "Heap profiles"). */
static void
unsample(double n, double s, double period, double *n_out, double *s_out)
{
	if (n == 0) {
		*n_out = *s_out = 0;
		return;
	}
	double scale = 1.0 / (1.0 - exp(-(s / n) / period));
	*n_out = n * scale;
	*s_out = s * scale;
}

static void
read_dump(const char *path, dump_info_t *info)
{
	memset(info, 0, sizeof(*info));
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char line[8192];
	ck_assert(fgets(line, sizeof(line), f) != NULL);
	unsigned long period;
	ck_assert_msg(sscanf(line, "heap_v2/%lu", &period) == 1, "header: %s", line);
	info->period = (double)period;
	unsigned long header_uids[64];
	int nheader = 0, site = SITE_NONE;
	bool in_stacks = false;
	info->stack_uids_in_header = true;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long n, s, an, as;
		unsigned long uid;
		char name[64];
		if (strcmp(line, "MAPPED_LIBRARIES:\n") == 0) {
			info->has_maps = fgets(line, sizeof(line), f) != NULL && strchr(line, '-') != NULL;
			break;
		}
		if (line[0] == '@') {
			in_stacks = true;
			info->nstacks++;
			site = site_of((uintptr_t)strtoull(line + 1, NULL, 16));
		} else if (sscanf(line, "  t*: %llu: %llu [%llu: %llu]", &n, &s, &an, &as) == 4) {
			if (in_stacks) {
				double un, us;
				unsample((double)n, (double)s, info->period, &un, &us);
				info->site[site].raw_objs += (double)n;
				info->site[site].raw_bytes += (double)s;
				info->site[site].objs += un;
				info->site[site].bytes += us;
			}
		} else if (sscanf(line, "  t%lu: %llu: %llu [%llu: %llu]", &uid, &n, &s, &an, &as) ==
		           5) {
			if (!in_stacks) {
				if (nheader < 64)
					header_uids[nheader++] = uid;
				const char *close = strchr(line, ']');
				if (info->nthread_lines < 4 && close != NULL &&
				    sscanf(close + 1, " %63[^\n]", name) == 1)
					snprintf(info->names[info->nthread_lines], 64, "%s", name);
				info->nthread_lines++;
			} else {
				bool found = false;
				for (int i = 0; i < nheader; i++)
					found = found || header_uids[i] == uid;
				info->stack_uids_in_header = info->stack_uids_in_header && found;
			}
		} else if (strcmp(line, "\n") != 0) {
			ck_abort_msg("unexpected dump line: %s", line);
		}
	}
	fclose(f);
}

/* ------------------------------------------------ helpers */

static char dump_dir[64];

static void
make_dump_dir(void)
{
	snprintf(dump_dir, sizeof(dump_dir), "/tmp/strata-prof-XXXXXX");
	ck_assert(mkdtemp(dump_dir) != NULL);
}

static void
remove_dump_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dump_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
dump_to(const char *path)
{
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, &path, sizeof(path)), 0);
}

static void
set_bool(const char *name, bool v)
{
	ck_assert_int_eq(mallctl(name, NULL, NULL, &v, sizeof(v)), 0);
}

static void
prof_reset_lg(size_t lg)
{
	ck_assert_int_eq(mallctl("prof.reset", NULL, NULL, &lg, sizeof(lg)), 0);
}

static void
expect_within(double got, double truth, double tolerance, const char *what)
{
	ck_assert_msg(fabs(got - truth) <= tolerance * truth, "%s: %.0f, truth %.0f (±%.0f%%)",
	              what, got, truth, tolerance * 100);
}

/* ------------------------------------------------ estimates */

#define N_SMALL 150000
#define N_PAGE 3000
#define N_BIG 24

static void *small_objs[N_SMALL], *page_objs[N_PAGE], *big_objs[N_BIG];

START_TEST(test_estimates_within_5_percent)
{
	make_dump_dir();
	for (int i = 0; i < N_SMALL; i++)
		small_objs[i] = site_small();
	for (int i = 0; i < N_PAGE; i++)
		page_objs[i] = site_page();
	for (int i = 0; i < N_BIG; i++)
		big_objs[i] = site_big();
	char path[128];
	snprintf(path, sizeof(path), "%s/est.heap", dump_dir);
	dump_to(path);
	dump_info_t d;
	read_dump(path, &d);
	expect_within(d.site[SITE_SMALL].objs, N_SMALL, 0.05, "48-byte objects");
	expect_within(d.site[SITE_SMALL].bytes, 48.0 * N_SMALL, 0.05, "48-byte bytes");
	expect_within(d.site[SITE_PAGE].objs, N_PAGE, 0.05, "4 KiB objects");
	expect_within(d.site[SITE_PAGE].bytes, 4096.0 * N_PAGE, 0.05, "4 KiB bytes");
	expect_within(d.site[SITE_BIG].objs, N_BIG, 0.05, "1 MiB objects");
	expect_within(d.site[SITE_BIG].bytes, (double)(1 << 20) * N_BIG, 0.05, "1 MiB bytes");
	/* One size per stack: the dump's count is the number sampled, which
	 * is a fraction 1 - e^(-size/R) of the objects. */
	ck_assert(d.period == 1 << LG_SAMPLE);
	expect_within(d.site[SITE_SMALL].raw_objs, N_SMALL * (1 - exp(-48 / d.period)), 0.05,
	              "sampled 48-byte objects");
	expect_within(d.site[SITE_PAGE].raw_objs, N_PAGE * (1 - exp(-4096 / d.period)), 0.02,
	              "sampled 4 KiB objects");
	ck_assert_int_eq((int)d.site[SITE_BIG].raw_objs, N_BIG);
	ck_assert(d.has_maps);
	for (int i = 0; i < N_SMALL; i++)
		free(small_objs[i]);
	for (int i = 0; i < N_PAGE; i++)
		free(page_objs[i]);
	for (int i = 0; i < N_BIG; i++)
		free(big_objs[i]);
	/* Freed: nothing of those sites is live any more. */
	snprintf(path, sizeof(path), "%s/freed.heap", dump_dir);
	dump_to(path);
	read_dump(path, &d);
	for (int s = 0; s < NSITES; s++)
		ck_assert_msg(d.site[s].raw_objs == 0, "site %d still has %.0f objects", s,
		              d.site[s].raw_objs);
	remove_dump_dir();
}
END_TEST

/* ------------------------------------------------ sampled objects */

START_TEST(test_sampled_objects_keep_their_size_and_free)
{
	prof_reset_lg(0); /* every allocation is sampled */
	for (size_t size = 1; size <= 64 * KiB; size = size * 3 + 1) {
		unsigned char *p = malloc(hide(size));
		ck_assert_ptr_nonnull(p);
		size_t usable = malloc_usable_size(p);
		ck_assert_uint_eq(usable, nallocx(size, 0));
		ck_assert_uint_eq(sallocx(p, 0), usable);
		memset(p, 0xab, usable);
		/* Every resize is a new sample, so it moves; the bytes come along. */
		unsigned char *q = realloc(p, size * 2 + 1);
		ck_assert_ptr_nonnull(q);
		ck_assert_uint_eq(first_not(q, 0, usable < size * 2 + 1 ? usable : size * 2 + 1, 0xab),
		                  SIZE_MAX);
		ck_assert_uint_eq(xallocx(q, size * 8, 0, 0), malloc_usable_size(q));
		sdallocx(q, malloc_usable_size(q), 0); /* xallocx may have grown it */
	}
	void *a = mallocx(100, MALLOCX_ALIGN(64 * KiB));
	ck_assert(is_aligned(a, 64 * KiB));
	ck_assert_uint_eq(malloc_usable_size(a), nallocx(100, MALLOCX_ALIGN(64 * KiB)));
	dallocx(a, 0);
	unsigned char *z = calloc(1, 40);
	ck_assert_uint_eq(first_not(z, 0, 40, 0), SIZE_MAX);
	free(z);
}
END_TEST

/* realloc, rallocx and xallocx of sampled objects leave the live counts
 * exact: after freeing everything, no site holds anything. */
START_TEST(test_realloc_of_sampled_objects_keeps_counts_exact)
{
	make_dump_dir();
	prof_reset_lg(0);
	void *objs[300];
	for (int i = 0; i < 300; i++)
		objs[i] = site_small();
	for (int i = 0; i < 300; i++) {
		objs[i] = realloc(objs[i], (size_t)(i + 1) * 100);
		objs[i] = rallocx(objs[i], (size_t)(i + 1) * 37, 0);
		xallocx(objs[i], 20 * KiB, 0, 0);
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/moved.heap", dump_dir);
	dump_to(path);
	dump_info_t d;
	read_dump(path, &d);
	/* The reallocations are recorded at their own stacks (not a site). */
	ck_assert_msg(d.site[SITE_SMALL].raw_objs == 0, "moved objects still counted at the site");
	ck_assert_msg(d.site[SITE_NONE].raw_objs >= 300, "%.0f live", d.site[SITE_NONE].raw_objs);
	for (int i = 0; i < 300; i++)
		free(objs[i]);
	snprintf(path, sizeof(path), "%s/empty.heap", dump_dir);
	dump_to(path);
	read_dump(path, &d);
	ck_assert_msg(d.site[SITE_NONE].raw_objs < 300, "frees were not counted: %.0f live",
	              d.site[SITE_NONE].raw_objs);
	remove_dump_dir();
}
END_TEST

/* Buffers grown in place in small steps, then shrunk in place: each is
 * sampled as often as one allocated at its final size (growth keeps a
 * sample, shrinking keeps it with the right chance), so the estimate holds. */
#define N_GROWN 1000

static int grown_moves;

NOINLINE void *
site_grown(void)
{
	void *p = malloc(hide(16 * KiB));
	for (size_t size = 20 * KiB; size <= 128 * KiB; size += 4 * KiB) {
		uintptr_t at = (uintptr_t)p;
		p = realloc(p, size);
		grown_moves += (uintptr_t)p != at;
	}
	return realloc(p, 64 * KiB);
}

START_TEST(test_resized_in_place_estimates)
{
	make_dump_dir();
	prof_reset_lg(17); /* a 64 KiB object is sampled with chance 0.39 */
	static void *grown[N_GROWN];
	for (int i = 0; i < N_GROWN; i++)
		grown[i] = site_grown();
	char path[128];
	snprintf(path, sizeof(path), "%s/grown.heap", dump_dir);
	dump_to(path);
	dump_info_t d;
	read_dump(path, &d);
	ck_assert_msg(grown_moves < N_GROWN * 27 / 10, "%d of %d resizes moved", grown_moves,
	              N_GROWN * 27);
	/* ~390 samples: the standard error is 4%; the seeds are fixed. */
	expect_within(d.site[SITE_NONE].bytes, 64.0 * KiB * N_GROWN, 0.12, "bytes grown in place");
	for (int i = 0; i < N_GROWN; i++)
		free(grown[i]);
	remove_dump_dir();
}
END_TEST

/* ------------------------------------------------ settings */

START_TEST(test_prof_active_false_samples_nothing)
{
	make_dump_dir();
	ck_assert(read_bool("prof.active"));
	set_bool("prof.active", false);
	ck_assert(!read_bool("prof.active"));
	for (int i = 0; i < 100; i++)
		big_objs[i % N_BIG] = site_big();
	char path[128];
	snprintf(path, sizeof(path), "%s/inactive.heap", dump_dir);
	dump_to(path);
	dump_info_t d;
	read_dump(path, &d);
	ck_assert_int_eq((int)d.site[SITE_BIG].raw_objs, 0);
	set_bool("prof.active", true);
	set_bool("thread.prof.active", false);
	ck_assert(!read_bool("thread.prof.active"));
	site_big();
	snprintf(path, sizeof(path), "%s/thread-inactive.heap", dump_dir);
	dump_to(path);
	read_dump(path, &d);
	ck_assert_int_eq((int)d.site[SITE_BIG].raw_objs, 0);
	set_bool("thread.prof.active", true);
	site_big();
	snprintf(path, sizeof(path), "%s/active.heap", dump_dir);
	dump_to(path);
	read_dump(path, &d);
	ck_assert_int_eq((int)d.site[SITE_BIG].raw_objs, 1);
	remove_dump_dir();
}
END_TEST

static void *
named_thread(void *arg)
{
	const char *name = arg;
	ck_assert_int_eq(mallctl("thread.prof.name", NULL, NULL, &name, sizeof(name)), 0);
	const char *got;
	size_t len = sizeof(got);
	ck_assert_int_eq(mallctl("thread.prof.name", &got, &len, NULL, 0), 0);
	ck_assert_str_eq(got, name);
	site_big();
	return NULL;
}

START_TEST(test_thread_names_in_dump_header)
{
	make_dump_dir();
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, named_thread, "worker one"), 0);
	join_bounded(t);
	const char *bad = "tab\x01";
	ck_assert_int_eq(mallctl("thread.prof.name", NULL, NULL, &bad, sizeof(bad)), EFAULT);
	const char *name = "main";
	const char *old;
	size_t len = sizeof(old);
	ck_assert_int_eq(mallctl("thread.prof.name", &old, &len, &name, sizeof(name)), EPERM);
	char path[128];
	snprintf(path, sizeof(path), "%s/names.heap", dump_dir);
	dump_to(path);
	dump_info_t d;
	read_dump(path, &d);
	bool found = false;
	for (int i = 0; i < d.nthread_lines && i < 4; i++)
		found = found || strcmp(d.names[i], "worker one") == 0;
	ck_assert_msg(found, "no header line names the thread");
	ck_assert(d.stack_uids_in_header);
	remove_dump_dir();
}
END_TEST

START_TEST(test_prof_reset_forgets_samples_and_sets_rate)
{
	make_dump_dir();
	for (int i = 0; i < N_BIG; i++)
		big_objs[i] = site_big();
	prof_reset_lg(12);
	ck_assert_uint_eq(read_size("prof.lg_sample"), 12);
	char path[128];
	snprintf(path, sizeof(path), "%s/reset.heap", dump_dir);
	dump_to(path);
	FILE *f = fopen(path, "r");
	char line[64];
	ck_assert(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	ck_assert_str_eq(line, "heap_v2/4096\n");
	/* Freeing what was sampled before the reset counts nothing. */
	for (int i = 0; i < N_BIG; i++)
		free(big_objs[i]);
	size_t too_big = 99;
	ck_assert_int_eq(mallctl("prof.reset", NULL, NULL, &too_big, sizeof(too_big)), 0);
	ck_assert_uint_eq(read_size("prof.lg_sample"), 63);
	remove_dump_dir();
}
END_TEST

typedef struct {
	uint64_t req_sum, count;
} class_stats_t;

static class_stats_t
read_class_stats(const char *name)
{
	class_stats_t v;
	size_t len = sizeof(v);
	ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), 0);
	return v;
}

/* Classes nothing else in the test process allocates from (Check itself
 * allocates, and every allocation is sampled here). */
START_TEST(test_prof_stats_count_requested_sizes)
{
	prof_reset_lg(0);
	ck_assert_uint_eq(read_size("arenas.bin.35.size"), 14336);
	unsigned lext = 0;
	char name[64];
	for (;; lext++) {
		snprintf(name, sizeof(name), "arenas.lextent.%u.size", lext);
		if (read_size(name) == nallocx(300000, 0))
			break;
	}
	snprintf(name, sizeof(name), "prof.stats.lextents.%u.live", lext);
	class_stats_t live0 = read_class_stats("prof.stats.bins.35.live");
	class_stats_t accum0 = read_class_stats("prof.stats.bins.35.accum");
	class_stats_t big0 = read_class_stats(name);
	void *p[10];
	for (int i = 0; i < 10; i++)
		p[i] = launder(malloc(hide(14000)));
	void *big = launder(malloc(hide(300000)));
	class_stats_t live1 = read_class_stats("prof.stats.bins.35.live");
	class_stats_t big1 = read_class_stats(name);
	ck_assert_uint_eq(live1.count - live0.count, 10);
	ck_assert_uint_eq(live1.req_sum - live0.req_sum, 140000);
	ck_assert_uint_eq(big1.count - big0.count, 1);
	ck_assert_uint_eq(big1.req_sum - big0.req_sum, 300000);
	for (int i = 0; i < 10; i++)
		free(p[i]);
	free(big);
	class_stats_t live2 = read_class_stats("prof.stats.bins.35.live");
	class_stats_t accum2 = read_class_stats("prof.stats.bins.35.accum");
	ck_assert_uint_eq(live2.count, live0.count);
	ck_assert_uint_eq(live2.req_sum, live0.req_sum);
	ck_assert_uint_eq(accum2.count - accum0.count, 10);
	ck_assert_uint_eq(read_class_stats(name).count, big0.count);
	class_stats_t v;
	size_t len = sizeof(v);
	ck_assert_int_eq(mallctl("prof.stats.bins.36.live", &v, &len, NULL, 0), ENOENT);
	ck_assert_int_eq(mallctl("prof.stats.bins.3.live", &v, &len, &v, sizeof(v)), EPERM);
}
END_TEST

START_TEST(test_options_read_back)
{
	ck_assert(read_bool("opt.prof"));
	ck_assert(read_bool("config.prof"));
	ck_assert_uint_eq(read_size("opt.lg_prof_sample"), LG_SAMPLE);
	const char *prefix;
	size_t len = sizeof(prefix);
	ck_assert_int_eq(mallctl("opt.prof_prefix", &prefix, &len, NULL, 0), 0);
	ck_assert_str_eq(prefix, "strata");
	ck_assert(read_bool("opt.prof_dump_compress"));
	ck_assert_uint_eq(read_unsigned("opt.prof_bt_max"), 128);
	uint64_t interval;
	len = sizeof(interval);
	ck_assert_int_eq(mallctl("prof.interval", &interval, &len, NULL, 0), 0);
	ck_assert_uint_eq(interval, 0);
}
END_TEST

/* ------------------------------------------------ dumps and readers */

START_TEST(test_dump_read_by_both_jeprofs)
{
	make_dump_dir();
	for (int i = 0; i < N_BIG; i++)
		big_objs[i] = site_big();
	for (int i = 0; i < N_SMALL; i++)
		small_objs[i] = site_small();
	char path[128], exe[512], cmd[1024], report[16384];
	snprintf(path, sizeof(path), "%s/readers.heap", dump_dir);
	dump_to(path);
	self_exe(exe, sizeof(exe));
	snprintf(cmd, sizeof(cmd), "bin/jeprof --text %s %s 2>&1", exe, path);
	ck_assert_int_eq(run_capture(cmd, report, sizeof(report)), 0);
	double big = jeprof_flat(report, "site_big"), small = jeprof_flat(report, "site_small");
	ck_assert_msg(fabs(big - 24.0) < 0.11, "bin/jeprof site_big %.1f MB: %s", big, report);
	ck_assert_msg(fabs(small - 6.9) < 0.35, "bin/jeprof site_small %.1f MB: %s", small, report);
	snprintf(cmd, sizeof(cmd), "jeprof --text %s %s 2>/dev/null", exe, path);
	ck_assert_int_eq(run_capture(cmd, report, sizeof(report)), 0);
	ck_assert_msg(jeprof_flat(report, "site_big") == big &&
	                      jeprof_flat(report, "site_small") == small,
	              "perl jeprof disagrees: %s", report);
	remove_dump_dir();
}
END_TEST

/*
 * The re-executed child of the next tests (options are read at start):
 * one sampled allocation at site_big (1 MiB: always sampled) from a thread
 * whose system name is "sysnamed", a dump, then on standard output the
 * site the dump's first stack starts at and the first header thread line's
 * name.  Check's assertions cannot run here.
 */
#define CHILD_ENV "STRATA_TEST_PROF_CHILD_DUMP"

static void *
sysnamed_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sysnamed");
	site_big();
	return NULL;
}

__attribute__((constructor)) static void
dump_child(void)
{
	const char *path = getenv(CHILD_ENV);
	if (path == NULL)
		return;
	if (strcmp(path, "raise") == 0) {
		raise(SIGUSR2);
		printf("alive\n");
		fflush(stdout);
		_exit(0);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, sysnamed_thread, NULL) != 0 || pthread_join(t, NULL) != 0 ||
	    mallctl("prof.dump", NULL, NULL, &path, sizeof(path)) != 0)
		_exit(3);
	FILE *f = fopen(path, "r");
	char line[4096], name[64] = "";
	while (f != NULL && fgets(line, sizeof(line), f) != NULL && line[0] != '@') {
		const char *close = strchr(line, ']');
		if (line[2] == 't' && line[3] != '*' && close != NULL && name[0] == '\0')
			sscanf(close + 1, " %63[^\n]", name);
	}
	printf("site %d, name \"%s\"\n", site_of((uintptr_t)strtoull(line + 1, NULL, 16)), name);
	fflush(stdout);
	_exit(0);
}

/* Runs the child with MALLOC_CONF=conf; what it printed, in out. */
static void
run_dump_child(const char *conf, char *out, size_t size)
{
	make_dump_dir();
	char env_conf[128], env_path[160];
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=%s", conf);
	snprintf(env_path, sizeof(env_path), CHILD_ENV "=%s/child.heap", dump_dir);
	char *env[] = {env_conf, env_path, NULL};
	int status = child_run_self(env, conf, out, size);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, out);
	remove_dump_dir();
}

/* This program has no frame pointers; strata has, so the walk still finds
 * the caller of malloc. */
START_TEST(test_frame_pointer_unwinder_finds_the_caller)
{
	char out[256];
	run_dump_child("prof:true,prof_backtrace:fp", out, sizeof(out));
	ck_assert_str_eq(out, "site 2, name \"\"\n"); /* SITE_BIG */
}
END_TEST

/* prof_signal without prof:true: the signal does not kill the process. */
START_TEST(test_dump_signal_without_prof_is_harmless)
{
	char exe[512], cmd[640], out[256];
	self_exe(exe, sizeof(exe));
	/* With standard error, to see strata's message. */
	snprintf(cmd, sizeof(cmd), "MALLOC_CONF=prof:false,prof_signal:USR2 " CHILD_ENV "=raise %s 2>&1",
	         exe);
	int status = run_capture(cmd, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	ck_assert_str_eq(out, "<strata>: prof_signal:USR2 has no effect without prof:true\nalive\n");
}
END_TEST

START_TEST(test_system_thread_names_in_dump)
{
	char out[256];
	run_dump_child("prof:true,prof_sys_thread_name:true", out, sizeof(out));
	ck_assert_str_eq(out, "site 2, name \"sysnamed\"\n");
}
END_TEST

START_TEST(test_automatic_dump_is_gzip_and_named)
{
	make_dump_dir();
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "%s/auto", dump_dir);
	const char *p = prefix;
	ck_assert_int_eq(mallctl("prof.prefix", NULL, NULL, &p, sizeof(p)), 0);
	site_big();
	const char *null_path = NULL;
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, &null_path, sizeof(null_path)), 0);
	ck_assert_int_eq(mallctl("prof.dump", NULL, NULL, &null_path, sizeof(null_path)), 0);
	char name[256], cmd[600];
	snprintf(name, sizeof(name), "%s.%d.0.m0.heap.gz", prefix, (int)getpid());
	ck_assert_msg(access(name, R_OK) == 0, "no %s", name);
	snprintf(name, sizeof(name), "%s.%d.1.m1.heap.gz", prefix, (int)getpid());
	ck_assert_msg(access(name, R_OK) == 0, "no %s", name);
	snprintf(cmd, sizeof(cmd), "gzip -t %s && zcat %s | head -1 | grep -qx 'heap_v2/1024'", name,
	         name);
	ck_assert_int_eq(system(cmd), 0);
	remove_dump_dir();
}
END_TEST

/* ------------------------------------------------ racing threads */

static _Atomic bool race_stop;

static void *
churn_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *keep[256] = {0};
	while (!atomic_load(&race_stop)) {
		for (int i = 0; i < 256; i++) {
			seed = seed * 1103515245u + 12345u;
			free(keep[i]);
			keep[i] = malloc(16 + (seed >> 16) % 8192);
		}
	}
	for (int i = 0; i < 256; i++)
		free(keep[i]);
	return NULL;
}

START_TEST(test_dump_racing_with_8_threads_is_complete)
{
	make_dump_dir();
	pthread_t t[8];
	for (uintptr_t i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, churn_thread, (void *)(i + 1)), 0);
	for (int k = 0; k < 20; k++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/race%d.heap", dump_dir, k);
		dump_to(path);
		dump_info_t d;
		read_dump(path, &d);
		ck_assert(d.has_maps);
		ck_assert(d.stack_uids_in_header);
		ck_assert_int_gt(d.nstacks, 0);
	}
	atomic_store(&race_stop, true);
	for (int i = 0; i < 8; i++)
		join_bounded(t[i]);
	remove_dump_dir();
}
END_TEST

/* Threads that sample every allocation (each one unwinds) while the main
 * thread forks: every child samples too, dumps, and exits within the bound.
 * A fork in the middle of an unwind must not leave the child with
 * libunwind's lock held (the unwind gates). */
static void *
sampling_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&race_stop))
		free(launder(site_small()));
	return NULL;
}

/* The forked child: samples, dumps; exit status 1 if the dump failed. */
static void
sample_and_dump(const void *arg)
{
	prof_reset_lg(0);
	for (int i = 0; i < 100; i++)
		free(launder(site_small()));
	char path[128];
	snprintf(path, sizeof(path), "%s/child%d.heap", dump_dir, *(const int *)arg);
	const char *p = path;
	if (mallctl("prof.dump", NULL, NULL, &p, sizeof(p)) != 0)
		_exit(1);
}

START_TEST(test_fork_while_threads_unwind)
{
	make_dump_dir();
	prof_reset_lg(0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, sampling_thread, NULL), 0);
	for (int k = 0; k < 100; k++) {
		char out[64];
		int status = child_run_capture(sample_and_dump, &k, out, sizeof(out));
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: %#x", k, status);
	}
	atomic_store(&race_stop, true);
	for (int i = 0; i < 4; i++)
		join_bounded(t[i]);
	remove_dump_dir();
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_prof");
	TCase *tc = tcase_create("prof");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_estimates_within_5_percent);
	tcase_add_test(tc, test_sampled_objects_keep_their_size_and_free);
	tcase_add_test(tc, test_realloc_of_sampled_objects_keeps_counts_exact);
	tcase_add_test(tc, test_resized_in_place_estimates);
	tcase_add_test(tc, test_prof_active_false_samples_nothing);
	tcase_add_test(tc, test_thread_names_in_dump_header);
	tcase_add_test(tc, test_prof_reset_forgets_samples_and_sets_rate);
	tcase_add_test(tc, test_prof_stats_count_requested_sizes);
	tcase_add_test(tc, test_options_read_back);
	tcase_add_test(tc, test_dump_read_by_both_jeprofs);
	tcase_add_test(tc, test_frame_pointer_unwinder_finds_the_caller);
	tcase_add_test(tc, test_system_thread_names_in_dump);
	tcase_add_test(tc, test_dump_signal_without_prof_is_harmless);
	tcase_add_test(tc, test_automatic_dump_is_gzip_and_named);
	tcase_add_test(tc, test_dump_racing_with_8_threads_is_complete);
	tcase_add_test(tc, test_fork_while_threads_unwind);
	suite_add_tcase(s, tc);
	return s;
}
