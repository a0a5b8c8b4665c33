/*
 * check_api_ctl_conf.c — the configuration side of the mallctl tree
 * through libstrata.so: version in jemalloc's form, config.*, the raw
 * option sources (opt.malloc_conf.*), the opt.* nodes of jemalloc's
 * options, and slab_sizes changing arenas.bin.<i>.slab_size exactly as
 * jemalloc 5.3 does (docs/compat.md, "MALLOC_CONF options").
 *
 * Options are read before main: each case runs this program again with
 * its MALLOC_CONF (child_run_mode), whose constructor prints what it reads.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

#include "api_util.h"
#include "child_util.h"

#define CONF_CHILD "STRATA_TEST_CTL_CONF"

/* Sources 2 and 5, which opt.malloc_conf.global_var(_2_conf_harder) show. */
const char *malloc_conf = "abort_conf:false";
const char *malloc_conf_2_conf_harder = "confirm_conf:false";

static const char *
read_string(const char *name)
{
	const char *s = (const char *)1;
	size_t len = sizeof(s);
	if (mallctl(name, &s, &len, NULL, 0) != 0 || len != sizeof(s))
		return "(error)";
	return s == NULL ? "(null)" : s;
}

/* Pages per slab of each small class, with and without jemalloc's
 * test/integration/slab_sizes conf, as Debian's libjemalloc2 5.3.0 reports
 * them (arenas.bin.<i>.slab_size / 4096). */
#define SLAB_CONF "slab_sizes:1-4096:17|100-200:1|128-128:2"
static const unsigned slab_pages_conf[36] = {
	1, 2, 4, 6, 8, 10, 12, 1, 2, 1, 1, 17, 17, 17, 17, 17, 17, 17,
	17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 5, 3, 7, 2, 5, 3, 7,
};
static const unsigned slab_pages_default[36] = {
	1, 1, 1, 3, 1, 5, 3, 7, 1, 5, 3, 7, 1, 5, 3, 7, 1, 5,
	3, 7, 1, 5, 3, 7, 1, 5, 3, 7, 1, 5, 3, 7, 2, 5, 3, 7,
};

/* Prints "slabs=p0,p1,..." and "nregs_ok=1" when every class's nregs is
 * slab_size / size; then allocates and frees a few of every small class. */
static void
child_print_slabs(void)
{
	unsigned nbins = 0;
	size_t len = sizeof(nbins);
	if (mallctl("arenas.nbins", &nbins, &len, NULL, 0) != 0)
		_exit(2);
	bool nregs_ok = true;
	printf("slabs=");
	for (unsigned i = 0; i < nbins; i++) {
		char name[64];
		size_t size, slab;
		uint32_t nregs;
		snprintf(name, sizeof(name), "arenas.bin.%u.size", i);
		len = sizeof(size);
		int err = mallctl(name, &size, &len, NULL, 0);
		snprintf(name, sizeof(name), "arenas.bin.%u.slab_size", i);
		err |= mallctl(name, &slab, &len, NULL, 0);
		snprintf(name, sizeof(name), "arenas.bin.%u.nregs", i);
		len = sizeof(nregs);
		err |= mallctl(name, &nregs, &len, NULL, 0);
		if (err != 0)
			_exit(3);
		nregs_ok &= nregs == slab / size && nregs <= 512;
		printf("%s%zu", i == 0 ? "" : ",", slab / 4096);
		/* Fill more than a slab of the class, write it, free it. */
		enum { N = 600 };
		static void *p[N];
		for (unsigned k = 0; k < N; k++) {
			p[k] = malloc(size);
			if (p[k] == NULL)
				_exit(4);
			memset(p[k], (int)k, size);
		}
		for (unsigned k = 0; k < N; k++) {
			if (((unsigned char *)p[k])[size - 1] != (unsigned char)k)
				_exit(5);
			free(p[k]);
		}
	}
	printf(" nregs_ok=%d\n", nregs_ok);
}

__attribute__((constructor)) static void
conf_child(void)
{
	const char *mode = getenv(CONF_CHILD);
	if (mode == NULL)
		return;
	if (strcmp(mode, "slabs") == 0) {
		child_print_slabs();
	} else if (strcmp(mode, "sources") == 0) {
		printf("global_var=%s symlink=%s env_var=%s harder=%s builtin=%s\n",
		       read_string("opt.malloc_conf.global_var"),
		       read_string("opt.malloc_conf.symlink"),
		       read_string("opt.malloc_conf.env_var"),
		       read_string("opt.malloc_conf.global_var_2_conf_harder"),
		       read_string("config.malloc_conf"));
	} else if (strcmp(mode, "narenas") == 0) {
		unsigned narenas = 0;
		size_t len = sizeof(narenas);
		int err = mallctl("opt.narenas", &narenas, &len, NULL, 0);
		printf("err=%d narenas=%u\n", err, narenas);
	} else if (strcmp(mode, "opts") == 0) {
		uint32_t mult = 0;
		size_t oversize = 0, len = sizeof(mult);
		int64_t spin = 0;
		int err = mallctl("opt.hpa_dirty_mult", &mult, &len, NULL, 0);
		len = sizeof(oversize);
		err |= mallctl("opt.oversize_threshold", &oversize, &len, NULL, 0);
		len = sizeof(spin);
		err |= mallctl("opt.mutex_max_spin", &spin, &len, NULL, 0);
		printf("err=%d dss=%s thp=%s metadata_thp=%s hpa_dirty_mult=%u "
		       "oversize_threshold=%zu mutex_max_spin=%lld\n",
		       err, read_string("opt.dss"), read_string("opt.thp"),
		       read_string("opt.metadata_thp"), (unsigned)mult, oversize, (long long)spin);
	}
	fflush(stdout);
	_exit(0);
}

static char out[8192];

START_TEST(test_version)
{
	const char *v = read_string("version");
	ck_assert_str_eq(v, JEMALLOC_VERSION);
	ck_assert_str_eq(v, STRATA_VERSION);
	/* jemalloc's form: major.minor.bugfix-nrev-g<40 hex>, then strata's. */
	unsigned major, minor, bugfix, nrev;
	char gid[41], rest[32];
	ck_assert_int_eq(sscanf(v, "%u.%u.%u-%u-g%40[0-9a-f]%31s", &major, &minor, &bugfix, &nrev,
	                        gid, rest),
	                 6);
	ck_assert_uint_eq(major, JEMALLOC_VERSION_MAJOR);
	ck_assert_uint_eq(minor, JEMALLOC_VERSION_MINOR);
	ck_assert_uint_eq(bugfix, JEMALLOC_VERSION_BUGFIX);
	ck_assert_uint_eq(nrev, JEMALLOC_VERSION_NREV);
	ck_assert_uint_eq(strlen(gid), 40);
	ck_assert_str_eq(gid, JEMALLOC_VERSION_GID);
	ck_assert_str_eq(rest, "-strata-0.1.0");
}
END_TEST

START_TEST(test_config)
{
	static const struct {
		const char *name;
		bool value;
	} fixed[] = {
		{"config.cache_oblivious", false}, {"config.fill", true},
		{"config.lazy_lock", false},       {"config.opt_safety_checks", false},
		{"config.prof", true},             {"config.prof_libgcc", false},
		{"config.prof_libunwind", true},   {"config.stats", true},
		{"config.utrace", false},          {"config.xmalloc", true},
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		bool b = !fixed[i].value;
		size_t len = sizeof(b);
		ck_assert_int_eq(mallctl(fixed[i].name, &b, &len, NULL, 0), 0);
		ck_assert_msg(b == fixed[i].value, "%s", fixed[i].name);
		ck_assert_int_eq(mallctl(fixed[i].name, NULL, NULL, &b, sizeof(b)), EPERM);
	}
	ck_assert_str_eq(read_string("config.malloc_conf"), "");
}
END_TEST

START_TEST(test_malloc_conf_sources)
{
	char link[256];
	ssize_t n = readlink("/etc/malloc.conf", link, sizeof(link) - 1);
	if (n >= 0)
		return; /* this machine sets the symlink source itself */
	child_run_mode(CONF_CHILD, "sources", "narenas:3", out, sizeof(out));
	ck_assert_str_eq(out, "global_var=abort_conf:false symlink=(null) env_var=narenas:3 "
	                      "harder=confirm_conf:false builtin=\n");
}
END_TEST

START_TEST(test_jemalloc_options)
{
	child_run_mode(CONF_CHILD, "opts", "", out, sizeof(out));
	ck_assert_str_eq(out, "err=0 dss=disabled thp=auto metadata_thp=auto "
	                      "hpa_dirty_mult=16384 oversize_threshold=8388608 "
	                      "mutex_max_spin=600\n");
	child_run_mode(CONF_CHILD, "opts",
	               "dss:disabled,thp:never,metadata_thp:auto,hpa_dirty_mult:1.5,"
	               "oversize_threshold:1048576,mutex_max_spin:-1",
	               out, sizeof(out));
	ck_assert_str_eq(out, "err=0 dss=disabled thp=never metadata_thp=auto "
	                      "hpa_dirty_mult=98304 oversize_threshold=1048576 "
	                      "mutex_max_spin=-1\n");
}
END_TEST

/* narenas_ratio sets the automatic arenas per CPU (jemalloc: rounded to
 * nearest, at least 1; 1 on a single CPU). */
START_TEST(test_narenas_ratio)
{
	unsigned dflt, ratio1, ratio_half, ratio_tiny;
	child_run_mode(CONF_CHILD, "narenas", "", out, sizeof(out));
	ck_assert_int_eq(sscanf(out, "err=0 narenas=%u", &dflt), 1);
	child_run_mode(CONF_CHILD, "narenas", "narenas_ratio:1", out, sizeof(out));
	ck_assert_int_eq(sscanf(out, "err=0 narenas=%u", &ratio1), 1);
	child_run_mode(CONF_CHILD, "narenas", "narenas_ratio:2.5", out, sizeof(out));
	ck_assert_int_eq(sscanf(out, "err=0 narenas=%u", &ratio_half), 1);
	child_run_mode(CONF_CHILD, "narenas", "narenas_ratio:0.01", out, sizeof(out));
	ck_assert_int_eq(sscanf(out, "err=0 narenas=%u", &ratio_tiny), 1);
	ck_assert_uint_eq(ratio_tiny, 1);
	if (dflt == 1) /* one CPU: always one arena */
		return;
	unsigned ncpus = dflt / 4;
	ck_assert_uint_eq(dflt, 4 * ncpus);
	ck_assert_uint_eq(ratio1, ncpus);
	ck_assert_uint_eq(ratio_half, (5 * ncpus + 1) / 2);
}
END_TEST

static void
expect_slabs(const char *conf, const unsigned pages[36])
{
	child_run_mode(CONF_CHILD, "slabs", conf, out, sizeof(out));
	char want[256] = "slabs=";
	for (unsigned i = 0; i < 36; i++) {
		char one[16];
		snprintf(one, sizeof(one), "%s%u", i == 0 ? "" : ",", pages[i]);
		strcat(want, one);
	}
	strcat(want, " nregs_ok=1\n");
	ck_assert_str_eq(out, want);
}

START_TEST(test_slab_sizes_default)
{
	expect_slabs("", slab_pages_default);
}
END_TEST

START_TEST(test_slab_sizes_as_jemalloc)
{
	expect_slabs(SLAB_CONF, slab_pages_conf);
	/* default restores the built-in sizes. */
	expect_slabs(SLAB_CONF ",slab_sizes:default", slab_pages_default);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_ctl_conf");
	TCase *tc = tcase_create("conf");
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_malloc_conf_sources);
	tcase_add_test(tc, test_jemalloc_options);
	tcase_add_test(tc, test_narenas_ratio);
	tcase_add_test(tc, test_slab_sizes_default);
	tcase_add_test(tc, test_slab_sizes_as_jemalloc);
	suite_add_tcase(s, tc);
	return s;
}
