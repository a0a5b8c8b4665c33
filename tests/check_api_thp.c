/*
 * check_api_thp.c — transparent huge pages through lib/libstrata.so
 * (docs/design.md, "Transparent huge pages"):
 *   - 512 MiB in 1 MiB blocks: under thp:auto at least 90% of it on huge
 *     pages and at most 1/100 of the minor faults of thp:never, which gets
 *     none; stats.thp.huge_bytes agrees with smaps;
 *   - 256 MiB of objects of 16 B - 4 KiB kept: at least 80% on huge pages;
 *   - after freeing 90% of that heap at random and allocating nothing, the
 *     purger brings RSS within 1.5 times the pages that still hold a live
 *     byte plus 2 MiB per arena in use, within a bounded wait;
 *   - opt.thp, opt.metadata_thp, opt.thp_dissolve_threshold and the
 *     stats.thp.* nodes read what MALLOC_CONF set; a bad value is reported.
 * Options are read at start: each case runs this program again in a child
 * with its MALLOC_CONF.  The coverage cases need a kernel that hands out
 * huge pages to madvised memory; where it does not (THP off or never, or
 * no huge page to be had), they check that strata reports none instead.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "api_util.h"
#include "child_util.h"

#define THP_CHILD "STRATA_THP_CHILD"
#define MIB ((size_t)1 << 20)
#define PAGE_SIZE ((size_t)4096)

/* A field of /proc/self/smaps_rollup in kB, -1 when missing. */
static long
rollup_kb(const char *field)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	if (f == NULL)
		return -1;
	char line[256];
	long kb = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = atol(line + n + 1);
	}
	fclose(f);
	return kb;
}

static long
minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* A size_t statistic after a new epoch, SIZE_MAX when it cannot be read
 * (children report; only the test asserts). */
static size_t
stat_size(const char *name)
{
	uint64_t epoch = 1;
	mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
	size_t v = 0, len = sizeof(v);
	return mallctl(name, &v, &len, NULL, 0) == 0 ? v : SIZE_MAX;
}

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Child "large": 512 MiB in 1 MiB blocks, every page touched. */
static void
child_large(void)
{
	enum { N = 512 };
	static char *blocks[N];
	long faults = minor_faults();
	for (unsigned i = 0; i < N; i++) {
		blocks[i] = malloc(MIB);
		if (blocks[i] == NULL)
			_exit(2);
		for (size_t off = 0; off < MIB; off += PAGE_SIZE)
			blocks[i][off] = 1;
	}
	faults = minor_faults() - faults;
	printf("anonhuge_kb=%ld faults=%ld huge_bytes=%zu\n", rollup_kb("AnonHugePages"), faults,
	       stat_size("stats.thp.huge_bytes"));
}

/* The small-object heap: 256 MiB of 16 B - 4 KiB objects, written. */
#define SMALL_BYTES ((size_t)256 << 20)
#define SMALL_MAX 200000
static char *small_ptrs[SMALL_MAX];
static size_t small_sizes[SMALL_MAX];

static size_t
small_heap_build(uint64_t *rng)
{
	size_t n = 0, bytes = 0;
	while (bytes < SMALL_BYTES && n < SMALL_MAX) {
		size_t size = 16 + rng_next(rng) % (4096 - 16 + 1);
		small_ptrs[n] = malloc(size);
		if (small_ptrs[n] == NULL)
			_exit(2);
		memset(small_ptrs[n], 0x5a, size);
		small_sizes[n++] = size;
		bytes += size;
	}
	return n;
}

/* Child "small": the heap, kept. */
static void
child_small(void)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	long before = rollup_kb("AnonHugePages");
	small_heap_build(&rng);
	printf("anonhuge_kb=%ld heap_kb=%zu\n", rollup_kb("AnonHugePages") - before,
	       SMALL_BYTES >> 10);
}

static int
cmp_uintptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* Pages holding a byte of one of the n objects kept. */
static size_t
live_pages(size_t n)
{
	uintptr_t *pages = malloc(sizeof(uintptr_t) * n * 2);
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		uintptr_t first = (uintptr_t)small_ptrs[i] / PAGE_SIZE;
		uintptr_t last = ((uintptr_t)small_ptrs[i] + small_sizes[i] - 1) / PAGE_SIZE;
		for (uintptr_t pg = first; pg <= last; pg++)
			pages[np++] = pg;
	}
	qsort(pages, np, sizeof(*pages), cmp_uintptr);
	size_t live = 0;
	for (size_t i = 0; i < np; i++)
		live += i == 0 || pages[i] != pages[i - 1];
	free(pages);
	return live;
}

/* Arenas with pages in use. */
static unsigned
arenas_in_use(void)
{
	unsigned narenas = 0, used = 0;
	size_t len = sizeof(narenas);
	mallctl("arenas.narenas", &narenas, &len, NULL, 0);
	for (unsigned i = 0; i < narenas; i++) {
		char name[64];
		snprintf(name, sizeof(name), "stats.arenas.%u.pactive", i);
		size_t pactive = 0;
		len = sizeof(pactive);
		if (mallctl(name, &pactive, &len, NULL, 0) == 0 && pactive != 0)
			used++;
	}
	return used;
}

/* Child "idle": the heap, 90% of it freed at random, then nothing
 * allocated while RSS is watched (at most 15 s) until it is within the
 * bound. */
static void
child_idle(void)
{
	uint64_t rng = 0x2545f4914f6cdd1dull;
	long base_kb = rollup_kb("Rss");
	size_t n = small_heap_build(&rng), kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (rng_next(&rng) % 10 == 0) {
			small_ptrs[kept] = small_ptrs[i];
			small_sizes[kept++] = small_sizes[i];
		} else {
			free(small_ptrs[i]);
		}
	}
	size_t live_kb = live_pages(kept) * (PAGE_SIZE >> 10);
	uint64_t epoch = 1;
	mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
	long bound_kb = (long)(live_kb * 3 / 2 + arenas_in_use() * (2 * MIB >> 10));
	long rss_kb = 0;
	struct timespec start, now, tick = {0, 50 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &start);
	double waited = 0;
	do {
		rss_kb = rollup_kb("Rss") - base_kb;
		if (rss_kb <= bound_kb)
			break;
		nanosleep(&tick, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
	} while (waited < 15);
	printf("live_kb=%zu rss_kb=%ld bound_kb=%ld slab_pages_purged=%zu\n", live_kb, rss_kb,
	       bound_kb, stat_size("stats.thp.slab_pages_purged"));
}

/* Child "report": the options and the stats nodes. */
static void
child_report(void)
{
	const char *thp = NULL, *meta = NULL;
	size_t len = sizeof(thp);
	mallctl("opt.thp", &thp, &len, NULL, 0);
	len = sizeof(meta);
	mallctl("opt.metadata_thp", &meta, &len, NULL, 0);
	size_t dissolve = 0;
	len = sizeof(dissolve);
	mallctl("opt.thp_dissolve_threshold", &dissolve, &len, NULL, 0);
	static const char *const nodes[] = {
	    "stats.thp.huge_bytes",        "stats.thp.ranges",      "stats.thp.huge_ranges",
	    "stats.thp.slab_pages_purged", "stats.thp.hugifies",    "stats.thp.dissolves",
	    "stats.thp.collapse_failures", "stats.thp.kernel_fallbacks",
	};
	int errs = 0;
	for (unsigned i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		uint64_t v = 0;
		len = i < 4 ? sizeof(size_t) : sizeof(uint64_t);
		errs += mallctl(nodes[i], &v, &len, NULL, 0) != 0;
	}
	size_t wrong = 1;
	len = sizeof(uint32_t);
	printf("thp=%s metadata_thp=%s dissolve=%zu node_errors=%d short_len=%d\n", thp, meta,
	       dissolve, errs, mallctl("stats.thp.huge_bytes", &wrong, &len, NULL, 0));
}

__attribute__((constructor)) static void
thp_child(void)
{
	const char *mode = getenv(THP_CHILD);
	if (mode == NULL)
		return;
	if (strcmp(mode, "large") == 0)
		child_large();
	else if (strcmp(mode, "small") == 0)
		child_small();
	else if (strcmp(mode, "idle") == 0)
		child_idle();
	else
		child_report();
	fflush(stdout);
	_exit(0);
}

/*
 * Whether this kernel gives madvised memory huge pages at fault: a 2 MiB
 * aligned region advised MADV_HUGEPAGE and touched once must show in
 * AnonHugePages.  Run in a child, so that the test's own process stays as
 * it was.
 */
static void
probe_huge(const void *arg)
{
	(void)arg;
	size_t size = 4 * MIB;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(1);
	char *aligned = (char *)(((uintptr_t)p + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
	long before = rollup_kb("AnonHugePages");
	if (madvise(aligned, 2 * MIB, MADV_HUGEPAGE) != 0)
		_exit(1);
	aligned[0] = 1;
	_exit(rollup_kb("AnonHugePages") - before >= 2048 ? 0 : 1);
}

static bool
kernel_gives_huge_pages(void)
{
	char buf[64];
	int status = child_run_capture(probe_huge, NULL, buf, sizeof(buf));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static char out[4096];

static void
run_child(const char *mode, const char *conf)
{
	child_run_mode(THP_CHILD, mode, conf, out, sizeof(out));
}

START_TEST(test_large_blocks)
{
	long huge_kb, faults, never_huge_kb, never_faults;
	size_t huge_bytes, never_bytes;
	run_child("large", "thp:never");
	ck_assert_int_eq(sscanf(out, "anonhuge_kb=%ld faults=%ld huge_bytes=%zu", &never_huge_kb,
	                        &never_faults, &never_bytes), 3);
	ck_assert_uint_eq(never_bytes, 0);
	ck_assert_int_ge(never_faults, 512 * 256); /* one fault per page */
	run_child("large", "thp:auto");
	ck_assert_int_eq(sscanf(out, "anonhuge_kb=%ld faults=%ld huge_bytes=%zu", &huge_kb, &faults,
	                        &huge_bytes), 3);
	if (!kernel_gives_huge_pages()) {
		ck_assert_uint_eq(huge_bytes, 0);
		return;
	}
	ck_assert_msg(huge_kb >= 512 * 1024 * 9 / 10, "AnonHugePages %ld kB", huge_kb);
	ck_assert_msg(faults * 100 <= never_faults, "%ld faults, %ld under thp:never", faults,
	              never_faults);
	/* strata's own count agrees with the kernel's, within a huge page. */
	ck_assert_uint_le(huge_bytes >> 10, (size_t)huge_kb + 2048);
	ck_assert_uint_ge(huge_bytes >> 10, 512 * 1024 * 9 / 10);
}
END_TEST

START_TEST(test_small_objects)
{
	if (!kernel_gives_huge_pages())
		return;
	long huge_kb;
	size_t heap_kb;
	run_child("small", "thp:auto");
	ck_assert_int_eq(sscanf(out, "anonhuge_kb=%ld heap_kb=%zu", &huge_kb, &heap_kb), 2);
	ck_assert_msg((size_t)huge_kb >= heap_kb * 8 / 10, "%ld kB of %zu kB on huge pages", huge_kb,
	              heap_kb);
}
END_TEST

START_TEST(test_idle_returns_free_pages)
{
	long live_kb, rss_kb, bound_kb;
	size_t purged;
	run_child("idle", "thp:auto,dirty_decay_ms:1000");
	ck_assert_int_eq(sscanf(out, "live_kb=%ld rss_kb=%ld bound_kb=%ld slab_pages_purged=%zu",
	                        &live_kb, &rss_kb, &bound_kb, &purged), 4);
	ck_assert_msg(rss_kb <= bound_kb, "RSS %ld kB for %ld kB of live pages (bound %ld kB)",
	              rss_kb, live_kb, bound_kb);
	/* Whole free slabs alone would not get there: pages inside
	 * partly used ones went too. */
	ck_assert_uint_gt(purged, 0);
}
END_TEST

START_TEST(test_options_and_nodes)
{
	run_child("report", "");
	ck_assert_str_eq(out, "thp=auto metadata_thp=auto dissolve=1468006 node_errors=0 "
	                      "short_len=22\n");
	run_child("report", "thp:never,metadata_thp:always,thp_dissolve_threshold:1048576");
	ck_assert_str_eq(out, "thp=never metadata_thp=always dissolve=1048576 node_errors=0 "
	                      "short_len=22\n");
	run_child("report", "thp:default");
	ck_assert_str_eq(out, "thp=default metadata_thp=auto dissolve=1468006 node_errors=0 "
	                      "short_len=22\n");
}
END_TEST

START_TEST(test_bad_value)
{
	char env_conf[] = "MALLOC_CONF=thp:sometimes";
	char env_mode[] = THP_CHILD "=report";
	char *env[] = {env_conf, env_mode, NULL};
	char *argv[] = {"strata-test-child", NULL};
	int status = child_run_exec("/proc/self/exe", argv, env, CHILD_STDERR_PIPE, "bad thp",
	                            out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_nonnull(strstr(out, "Invalid conf value: thp:sometimes"));
	ck_assert_ptr_nonnull(strstr(out, "thp=auto"));
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_thp");
	TCase *tc = tcase_create("thp");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_large_blocks);
	tcase_add_test(tc, test_small_objects);
	tcase_add_test(tc, test_idle_returns_free_pages);
	tcase_add_test(tc, test_options_and_nodes);
	tcase_add_test(tc, test_bad_value);
	suite_add_tcase(s, tc);
	return s;
}
