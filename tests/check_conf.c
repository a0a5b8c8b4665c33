/*
 * check_conf.c — MALLOC_CONF parsing (src/conf.c) against jemalloc 5.3's
 * rules and messages (docs/compat.md, "MALLOC_CONF"), with strata's "<strata>: " prefix.
 *
 * Messages are captured through the malloc_message hook (named
 * strata_test_malloc_message in the internal archive).  Every test runs in
 * its own forked child, so options set by one never leak into another.  The
 * last test checks that man/strata.3's generated blocks match the table
 * (tools/mangen --check).
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_util.h"
#include "conf.h"

extern void (*strata_test_malloc_message)(void *cbopaque, const char *s);
extern const char *strata_test_malloc_conf;
extern const char *strata_test_malloc_conf_2_conf_harder;

static char captured[16384];
static size_t captured_len;

static void
capture(void *cbopaque, const char *s)
{
	(void)cbopaque;
	size_t n = strlen(s);
	ck_assert_uint_lt(captured_len + n, sizeof(captured));
	memcpy(captured + captured_len, s, n + 1);
	captured_len += n;
}

static void
capture_start(void)
{
	captured[0] = '\0';
	captured_len = 0;
	strata_test_malloc_message = capture;
}

/* Applies conf as the MALLOC_CONF source alone; returns what was printed. */
static const char *
parse_env(const char *conf)
{
	const char *sources[CONF_NSOURCES] = {[CONF_SOURCE_ENV] = conf};
	capture_start();
	conf_parse_sources(sources);
	return captured;
}

/* ------------------------------------------------------------ good forms */

START_TEST(test_defaults)
{
	ck_assert_str_eq(parse_env(NULL), "");
	ck_assert(!opt_abort && !opt_abort_conf && !opt_confirm_conf);
	ck_assert(!opt_zero && !opt_stats_print);
	ck_assert_uint_eq(opt_narenas, 0);
	ck_assert_int_eq(opt_zero_realloc, CONF_ZERO_REALLOC_FREE);
	ck_assert_int_eq(opt_junk, CONF_JUNK_FALSE);
	ck_assert_str_eq(opt_stats_print_opts, "");
	/* Thread caches: jemalloc 5.3's defaults (docs/compat.md, "MALLOC_CONF options"). */
	ck_assert(opt_tcache);
	ck_assert_uint_eq(opt_tcache_max, 32768);
	ck_assert_uint_eq(opt_tcache_nslots_small_min, 20);
	ck_assert_uint_eq(opt_tcache_nslots_small_max, 200);
	ck_assert_uint_eq(opt_tcache_nslots_large, 20);
	ck_assert_int_eq(opt_lg_tcache_nslots_mul, 1);
	ck_assert_uint_eq(opt_tcache_gc_incr_bytes, 65536);
	ck_assert_uint_eq(opt_lg_tcache_flush_small_div, 1);
	ck_assert_uint_eq(opt_lg_tcache_flush_large_div, 1);
	ck_assert_int_eq(opt_percpu_arena, CONF_PERCPU_ARENA_DISABLED);
}
END_TEST

START_TEST(test_bools)
{
	ck_assert_str_eq(parse_env("abort:true,zero:true,stats_print:true,abort_conf:true"), "");
	ck_assert(opt_abort && opt_zero && opt_stats_print && opt_abort_conf);
	ck_assert_str_eq(parse_env("abort:true,abort:false,zero:false"), "");
	ck_assert(!opt_abort && !opt_zero);
	ck_assert_str_eq(parse_env("tcache:false"), "");
	ck_assert(!opt_tcache);
	ck_assert_str_eq(parse_env("tcache:false,tcache:true"), "");
	ck_assert(opt_tcache);
}
END_TEST

/* prof_leak_error implies prof_leak, which turns the profiler and the final
 * dump on; the recent-allocation ring is 1000 with the profiler, else 0. */
START_TEST(test_prof_implied_options)
{
	ck_assert_str_eq(parse_env(NULL), "");
	ck_assert(!opt_prof && !opt_prof_leak && !opt_prof_final);
	ck_assert_int_eq(opt_prof_recent_alloc_max, 0);
	ck_assert_str_eq(parse_env("prof:true"), "");
	ck_assert_int_eq(opt_prof_recent_alloc_max, 1000);
	ck_assert_str_eq(parse_env("prof_recent_alloc_max:7"), "");
	ck_assert_int_eq(opt_prof_recent_alloc_max, 0);
	ck_assert_str_eq(parse_env("prof_leak_error:true,prof_recent_alloc_max:-1"), "");
	ck_assert(opt_prof_leak && opt_prof && opt_prof_final);
	ck_assert_int_eq(opt_prof_recent_alloc_max, -1);
	ck_assert_str_eq(parse_env("prof_leak:true,prof_final:false"), "");
	ck_assert(opt_prof && opt_prof_final && !opt_prof_leak_error);
	ck_assert_uint_eq(opt_prof_leak_error_code, 1);
	ck_assert_uint_eq(opt_prof_leak_top, 10);
	ck_assert(opt_prof_leak_suppress_defaults);
}
END_TEST

START_TEST(test_narenas_forms)
{
	static const struct {
		const char *conf;
		unsigned value;
	} cases[] = {
		{"narenas:3", 3},        {"narenas:0x10", 16},     {"narenas:0X1f", 31},
		{"narenas:010", 8},      {"narenas: 5", 5},        {"narenas:+3", 3},
		{"narenas:4294967295", 4294967295u},               {"narenas:4,narenas:default", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(strcmp(parse_env(cases[i].conf), "") == 0, "%s printed %s",
		              cases[i].conf, captured);
		ck_assert_msg(opt_narenas == cases[i].value, "%s gave %u", cases[i].conf,
		              opt_narenas);
	}
}
END_TEST

START_TEST(test_choices)
{
	static const char *const zr[] = {"free", "alloc", "abort"};
	static const enum conf_zero_realloc zr_values[] = {
		CONF_ZERO_REALLOC_FREE, CONF_ZERO_REALLOC_ALLOC, CONF_ZERO_REALLOC_ABORT};
	char conf[64];
	for (size_t i = 0; i < 3; i++) {
		/* Start from a non-default value so that "free" is really parsed. */
		snprintf(conf, sizeof(conf), "zero_realloc:abort,zero_realloc:%s", zr[i]);
		ck_assert_str_eq(parse_env(conf), "");
		ck_assert_int_eq(opt_zero_realloc, zr_values[i]);
	}
	static const char *const junk[] = {"false", "true", "alloc", "free"};
	static const enum conf_junk junk_values[] = {CONF_JUNK_FALSE, CONF_JUNK_TRUE,
	                                             CONF_JUNK_ALLOC, CONF_JUNK_FREE};
	for (size_t i = 0; i < 4; i++) {
		snprintf(conf, sizeof(conf), "junk:true,junk:%s", junk[i]);
		ck_assert_str_eq(parse_env(conf), "");
		ck_assert_int_eq(opt_junk, junk_values[i]);
	}
}
END_TEST

START_TEST(test_percpu_arena)
{
	static const char *const names[] = {"disabled", "percpu", "phycpu"};
	static const enum conf_percpu_arena values[] = {
		CONF_PERCPU_ARENA_DISABLED, CONF_PERCPU_ARENA_PERCPU, CONF_PERCPU_ARENA_PHYCPU};
	char conf[64];
	for (size_t i = 0; i < 3; i++) {
		snprintf(conf, sizeof(conf), "percpu_arena:phycpu,percpu_arena:%s", names[i]);
		ck_assert_str_eq(parse_env(conf), "");
		ck_assert_int_eq(opt_percpu_arena, values[i]);
	}
	/* Whole words only: jemalloc 5.3 rejects "percpuxx" too, but takes any
	 * prefix of a name ("per", "p" and "" are percpu there). */
	ck_assert_str_eq(parse_env("percpu_arena:percpu,percpu_arena:percpuxx"),
	                 "<strata>: Invalid conf value: percpu_arena:percpuxx\n");
	ck_assert_int_eq(opt_percpu_arena, CONF_PERCPU_ARENA_PERCPU);
	ck_assert_str_eq(parse_env("percpu_arena:per,percpu_arena:"),
	                 "<strata>: Invalid conf value: percpu_arena:per\n"
	                 "<strata>: Invalid conf value: percpu_arena:\n");
	ck_assert_int_eq(opt_percpu_arena, CONF_PERCPU_ARENA_DISABLED);
}
END_TEST

/* One conf string and the value it must leave in an option. */
struct uint_case {
	const char *conf;
	uintmax_t value;
};

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_tcache_sizes_clip)
{
	/* Values observed with Debian's jemalloc 5.3: tcache_max clips to
	 * 8 MiB (and "-1" wraps to the top, so it clips too). */
	static const struct uint_case cases[] = {
		{"tcache_max:4096", 4096},
		{"tcache_max:5000", 5000}, /* kept as given; the caches round down */
		{"tcache_max:0", 0},
		{"tcache_max:0x8000", 32768},
		{"tcache_max:8388608", 8388608},
		{"tcache_max:8388609", 8388608},
		{"tcache_max:18446744073709551615", 8388608},
		{"tcache_max:-1", 8388608},
	};
	for (size_t i = 0; i < NCASES(cases); i++) {
		ck_assert_msg(strcmp(parse_env(cases[i].conf), "") == 0, "%s printed %s",
		              cases[i].conf, captured);
		ck_assert_msg(opt_tcache_max == cases[i].value, "%s gave %zu", cases[i].conf,
		              opt_tcache_max);
	}
	/* tcache_gc_incr_bytes: at least 1024 (jemalloc 5.3 raises 0 to 1024). */
	static const struct uint_case gc[] = {
		{"tcache_gc_incr_bytes:0", 1024},
		{"tcache_gc_incr_bytes:1", 1024},
		{"tcache_gc_incr_bytes:1025", 1025},
		{"tcache_gc_incr_bytes:0x100000", 1 << 20},
		{"tcache_gc_incr_bytes:-1", SIZE_MAX},
	};
	for (size_t i = 0; i < NCASES(gc); i++) {
		ck_assert_str_eq(parse_env(gc[i].conf), "");
		ck_assert_msg(opt_tcache_gc_incr_bytes == gc[i].value, "%s gave %zu", gc[i].conf,
		              opt_tcache_gc_incr_bytes);
	}
}
END_TEST

START_TEST(test_tcache_nslots_and_divs_clip)
{
	static const struct {
		const char *key;
		unsigned *opt;
		uintmax_t max;
	} opts[] = {
		{"tcache_nslots_small_min", &opt_tcache_nslots_small_min, 2048},
		{"tcache_nslots_small_max", &opt_tcache_nslots_small_max, 2048},
		{"tcache_nslots_large", &opt_tcache_nslots_large, 2048},
		{"lg_tcache_flush_small_div", &opt_lg_tcache_flush_small_div, 16},
		{"lg_tcache_flush_large_div", &opt_lg_tcache_flush_large_div, 16},
	};
	static const char *const values[] = {"0", "1", "7", "16", "17", "2048", "2049",
	                                     "99999", "4294967296", "-1", "0x10"};
	char conf[128];
	for (size_t o = 0; o < NCASES(opts); o++) {
		for (size_t v = 0; v < NCASES(values); v++) {
			snprintf(conf, sizeof(conf), "%s:%s", opts[o].key, values[v]);
			ck_assert_msg(strcmp(parse_env(conf), "") == 0, "%s printed %s", conf,
			              captured);
			uintmax_t given = strtoumax(values[v], NULL, 0);
			uintmax_t expected = given < 1             ? 1
			                     : given > opts[o].max ? opts[o].max
			                                           : given;
			ck_assert_msg(*opts[o].opt == expected, "%s gave %u, not %ju", conf,
			              *opts[o].opt, expected);
		}
		/* Not a number: reported, the option keeps its value. */
		snprintf(conf, sizeof(conf), "%s:3,%s:lots", opts[o].key, opts[o].key);
		char message[128];
		snprintf(message, sizeof(message), "<strata>: Invalid conf value: %s:lots\n",
		         opts[o].key);
		ck_assert_str_eq(parse_env(conf), message);
		ck_assert_uint_eq(*opts[o].opt, 3);
	}
}
END_TEST

START_TEST(test_lg_tcache_max_alias)
{
	static const struct uint_case cases[] = {
		{"lg_tcache_max:12", 4096},
		{"lg_tcache_max:0", 1},
		{"lg_tcache_max:3", 8},
		{"lg_tcache_max:0x10", 65536},
		{"lg_tcache_max:23", 8388608},
		{"lg_tcache_max:24", 8388608}, /* clipped, as jemalloc */
		{"lg_tcache_max:64", 8388608},
		{"lg_tcache_max:-1", 8388608}, /* wraps to the top, then clipped */
		/* The alias and its target are one option: the last pair wins. */
		{"lg_tcache_max:15,tcache_max:100", 100},
		{"tcache_max:100,lg_tcache_max:15", 32768},
	};
	for (size_t i = 0; i < NCASES(cases); i++) {
		ck_assert_msg(strcmp(parse_env(cases[i].conf), "") == 0, "%s printed %s",
		              cases[i].conf, captured);
		ck_assert_msg(opt_tcache_max == cases[i].value, "%s gave %zu", cases[i].conf,
		              opt_tcache_max);
	}
	ck_assert_str_eq(parse_env("lg_tcache_max:10,lg_tcache_max:abc"),
	                 "<strata>: Invalid conf value: lg_tcache_max:abc\n");
	ck_assert_uint_eq(opt_tcache_max, 1024);
	/* Across sources too, and echoed by confirm_conf under its own name. */
	const char *sources[CONF_NSOURCES] = {
		[CONF_SOURCE_GLOBAL] = "tcache_max:100",
		[CONF_SOURCE_ENV] = "confirm_conf:true,lg_tcache_max:13",
	};
	capture_start();
	conf_parse_sources(sources);
	ck_assert_ptr_nonnull(strstr(captured, "<strata>: -- Set conf value: lg_tcache_max:13\n"));
	ck_assert_uint_eq(opt_tcache_max, 8192);
	/* The row describes an alias of tcache_max (no global, no opt node). */
	const conf_option_t *alias = &conf_options[CONF_ID_lg_tcache_max];
	ck_assert_int_eq(alias->kind, CONF_KIND_LG_ALIAS);
	ck_assert_str_eq(alias->ctype, "tcache_max");
	/* Resetting the defaults resets the target. */
	parse_env("lg_tcache_max:5");
	conf_reset_defaults();
	ck_assert_uint_eq(opt_tcache_max, 32768);
}
END_TEST

START_TEST(test_signed_option)
{
	static const struct {
		const char *conf;
		ssize_t value;
	} cases[] = {
		{"lg_tcache_nslots_mul:-16", -16}, {"lg_tcache_nslots_mul:16", 16},
		{"lg_tcache_nslots_mul:0", 0},     {"lg_tcache_nslots_mul:-0", 0},
		{"lg_tcache_nslots_mul:-1", -1},   {"lg_tcache_nslots_mul:+3", 3},
		{"lg_tcache_nslots_mul: -3", -3},  {"lg_tcache_nslots_mul:0x10", 16},
		{"lg_tcache_nslots_mul:-0x10", -16}, {"lg_tcache_nslots_mul:-010", -8},
	};
	for (size_t i = 0; i < NCASES(cases); i++) {
		ck_assert_msg(strcmp(parse_env(cases[i].conf), "") == 0, "%s printed %s",
		              cases[i].conf, captured);
		ck_assert_msg(opt_lg_tcache_nslots_mul == cases[i].value, "%s gave %zd",
		              cases[i].conf, opt_lg_tcache_nslots_mul);
	}
	static const struct {
		const char *conf, *message;
	} bad[] = {
		{"lg_tcache_nslots_mul:-17", "Out-of-range conf value: lg_tcache_nslots_mul:-17"},
		{"lg_tcache_nslots_mul:17", "Out-of-range conf value: lg_tcache_nslots_mul:17"},
		/* jemalloc wraps this to -1; strata does not. */
		{"lg_tcache_nslots_mul:18446744073709551615",
		 "Out-of-range conf value: lg_tcache_nslots_mul:18446744073709551615"},
		{"lg_tcache_nslots_mul:-9223372036854775808",
		 "Out-of-range conf value: lg_tcache_nslots_mul:-9223372036854775808"},
		{"lg_tcache_nslots_mul:-", "Invalid conf value: lg_tcache_nslots_mul:-"},
		{"lg_tcache_nslots_mul:--1", "Invalid conf value: lg_tcache_nslots_mul:--1"},
		{"lg_tcache_nslots_mul:1-", "Invalid conf value: lg_tcache_nslots_mul:1-"},
		{"lg_tcache_nslots_mul:", "Invalid conf value: lg_tcache_nslots_mul:"},
		{"lg_tcache_nslots_mul:two", "Invalid conf value: lg_tcache_nslots_mul:two"},
	};
	char conf[128], expected[160];
	for (size_t i = 0; i < NCASES(bad); i++) {
		/* Each starts from -5, which an invalid value must leave alone. */
		snprintf(conf, sizeof(conf), "lg_tcache_nslots_mul:-5,%s", bad[i].conf);
		snprintf(expected, sizeof(expected), "<strata>: %s\n", bad[i].message);
		ck_assert_str_eq(parse_env(conf), expected);
		ck_assert_int_eq(opt_lg_tcache_nslots_mul, -5);
	}
}
END_TEST

START_TEST(test_parse_int)
{
	intmax_t v = 7;
	ck_assert_int_eq(conf_parse_int("-9223372036854775808", 20, INTMAX_MIN, INTMAX_MAX, &v), 0);
	ck_assert(v == INTMAX_MIN);
	ck_assert_int_eq(conf_parse_int("9223372036854775807", 19, INTMAX_MIN, INTMAX_MAX, &v), 0);
	ck_assert(v == INTMAX_MAX);
	v = 7;
	ck_assert_int_eq(conf_parse_int("-9223372036854775809", 20, INTMAX_MIN, INTMAX_MAX, &v),
	                 ERANGE);
	ck_assert_int_eq(conf_parse_int("9223372036854775808", 19, INTMAX_MIN, INTMAX_MAX, &v),
	                 ERANGE);
	ck_assert_int_eq(conf_parse_int("99999999999999999999", 20, INTMAX_MIN, INTMAX_MAX, &v),
	                 EINVAL);
	ck_assert_int_eq(conf_parse_int("-1", 2, 0, 10, &v), ERANGE);
	ck_assert_int_eq(conf_parse_int("11", 2, 0, 10, &v), ERANGE);
	ck_assert_int_eq(conf_parse_int("0x", 2, -10, 10, &v), EINVAL);
	ck_assert_int_eq(v, 7);
	/* Only vlen characters are looked at. */
	ck_assert_int_eq(conf_parse_int("-12,34", 3, -100, 100, &v), 0);
	ck_assert_int_eq(v, -12);
	ck_assert_int_eq(conf_parse_int("-0x7f", 5, -200, 200, &v), 0);
	ck_assert_int_eq(v, -127);
}
END_TEST

START_TEST(test_stats_print_opts_accumulate)
{
	/* jemalloc's rule: known letters accumulate, unknown and repeated ones
	 * are dropped, across pairs and sources. */
	const char *sources[CONF_NSOURCES] = {
		[CONF_SOURCE_GLOBAL] = "stats_print_opts:Jzaa",
		[CONF_SOURCE_ENV] = "stats_print_opts:bJ!,stats_print_opts:",
	};
	capture_start();
	conf_parse_sources(sources);
	ck_assert_str_eq(captured, "");
	ck_assert_str_eq(opt_stats_print_opts, "Jab");
	ck_assert_str_eq(parse_env("stats_print_opts:Jgmdablxehzzz"), "");
	ck_assert_str_eq(opt_stats_print_opts, "Jgmdablxeh");
}
END_TEST

START_TEST(test_reset_defaults)
{
	parse_env("abort:true,narenas:7,junk:free,stats_print_opts:J,zero_realloc:abort,"
	          "tcache:false,tcache_max:64,lg_tcache_nslots_mul:-2,percpu_arena:percpu,"
	          "tcache_gc_incr_bytes:4096,tcache_nslots_large:5");
	ck_assert(!opt_tcache);
	ck_assert_int_eq(opt_lg_tcache_nslots_mul, -2);
	conf_reset_defaults();
	ck_assert(opt_tcache);
	ck_assert_uint_eq(opt_tcache_max, 32768);
	ck_assert_int_eq(opt_lg_tcache_nslots_mul, 1);
	ck_assert_int_eq(opt_percpu_arena, CONF_PERCPU_ARENA_DISABLED);
	ck_assert_uint_eq(opt_tcache_gc_incr_bytes, 65536);
	ck_assert_uint_eq(opt_tcache_nslots_large, 20);
	ck_assert(!opt_abort);
	ck_assert_uint_eq(opt_narenas, 0);
	ck_assert_int_eq(opt_junk, CONF_JUNK_FALSE);
	ck_assert_int_eq(opt_zero_realloc, CONF_ZERO_REALLOC_FREE);
	ck_assert_str_eq(opt_stats_print_opts, "");
}
END_TEST

/* memory_limit (kind LIMIT): auto, off, or a byte count with an optional
 * binary suffix; opt.memory_limit's text follows the value. */
START_TEST(test_memory_limit_forms)
{
	const char *text = conf_options[CONF_ID_memory_limit].text;
	ck_assert_int_eq(conf_options[CONF_ID_memory_limit].kind, CONF_KIND_LIMIT);
	ck_assert_str_eq(parse_env(NULL), "");
	ck_assert_uint_eq(opt_memory_limit, CONF_LIMIT_AUTO);
	ck_assert_str_eq(text, "auto");
	static const struct {
		const char *conf;
		size_t value;
		const char *text;
	} cases[] = {
		{"memory_limit:off", CONF_LIMIT_OFF, "off"},
		{"memory_limit:off,memory_limit:auto", CONF_LIMIT_AUTO, "auto"},
		{"memory_limit:1", 1, "1"},
		{"memory_limit:268435456", 268435456, "268435456"},
		{"memory_limit:0x1000", 4096, "4096"},
		{"memory_limit:010", 8, "8"}, /* a leading 0 is octal, as for every UINT */
		{"memory_limit: 7", 7, "7"},
		{"memory_limit:+7", 7, "7"},
		{"memory_limit:1k", 1024, "1024"},
		{"memory_limit:3K", 3072, "3072"},
		{"memory_limit:512m", (size_t)512 << 20, "536870912"},
		{"memory_limit:2M", (size_t)2 << 20, "2097152"},
		{"memory_limit:4g", (size_t)4 << 30, "4294967296"},
		{"memory_limit:1G", (size_t)1 << 30, "1073741824"},
		{"memory_limit:0x10k", 16384, "16384"},
		{"memory_limit:4294967296g", CONF_LIMIT_MAX, "4611686018427387904"},
		{"memory_limit:4611686018427387904", CONF_LIMIT_MAX, "4611686018427387904"},
		{"memory_limit:5g,memory_limit:off", CONF_LIMIT_OFF, "off"},
	};
	for (size_t i = 0; i < NCASES(cases); i++) {
		ck_assert_msg(strcmp(parse_env(cases[i].conf), "") == 0, "%s printed %s",
		              cases[i].conf, captured);
		ck_assert_msg(opt_memory_limit == cases[i].value, "%s gave %zu", cases[i].conf,
		              opt_memory_limit);
		ck_assert_msg(strcmp(text, cases[i].text) == 0, "%s reads %s", cases[i].conf,
		              text);
	}
	/* Resetting the defaults resets the text too. */
	conf_reset_defaults();
	ck_assert_uint_eq(opt_memory_limit, CONF_LIMIT_AUTO);
	ck_assert_str_eq(text, "auto");
}
END_TEST

/* Bad memory_limit values are reported the standard way and leave the value
 * before them; with abort_conf they abort like any other. */
START_TEST(test_memory_limit_bad_values)
{
	static const struct {
		const char *value, *what;
	} cases[] = {
		{"0", "Out-of-range"},
		{"0k", "Out-of-range"},
		{"-1", "Out-of-range"},
		{"-1k", "Out-of-range"},
		{"4611686018427387905", "Out-of-range"},
		{"4294967297g", "Out-of-range"},
		{"18446744073709551615", "Out-of-range"},
		{"17179869184g", "Out-of-range"}, /* 2^64: the product overflows */
		{"99999999999999999999", "Invalid"}, /* the digits overflow, as for UINT */
		{"", "Invalid"},
		{"k", "Invalid"},
		{"1t", "Invalid"},
		{"1kb", "Invalid"},
		{"1kk", "Invalid"},
		{"1 k", "Invalid"},
		{"1k ", "Invalid"},
		{"1.5g", "Invalid"},
		{"Auto", "Invalid"},
		{"none", "Invalid"},
		{"default", "Invalid"},
		{"max", "Invalid"},
		{"08", "Invalid"},
		{"0x", "Invalid"},
	};
	char conf[128], message[192];
	for (size_t i = 0; i < NCASES(cases); i++) {
		snprintf(conf, sizeof(conf), "memory_limit:2k,memory_limit:%s", cases[i].value);
		snprintf(message, sizeof(message), "<strata>: %s conf value: memory_limit:%s\n",
		         cases[i].what, cases[i].value);
		ck_assert_str_eq(parse_env(conf), message);
		ck_assert_msg(opt_memory_limit == 2048, "%s gave %zu", conf, opt_memory_limit);
		ck_assert_str_eq(conf_options[CONF_ID_memory_limit].text, "2048");
	}
	/* Alone, a bad value leaves the default. */
	ck_assert_str_eq(parse_env("memory_limit:lots"),
	                 "<strata>: Invalid conf value: memory_limit:lots\n");
	ck_assert_uint_eq(opt_memory_limit, CONF_LIMIT_AUTO);
}
END_TEST

START_TEST(test_parse_bytes)
{
	uintmax_t v = 0;
	ck_assert_int_eq(conf_parse_bytes("12", 2, 0, UINTMAX_MAX, &v), 0);
	ck_assert_uint_eq(v, 12);
	/* Only vlen bytes count: the k outside them is not read. */
	ck_assert_int_eq(conf_parse_bytes("12k", 2, 0, UINTMAX_MAX, &v), 0);
	ck_assert_uint_eq(v, 12);
	ck_assert_int_eq(conf_parse_bytes("12k", 3, 0, UINTMAX_MAX, &v), 0);
	ck_assert_uint_eq(v, 12288);
	ck_assert_int_eq(conf_parse_bytes("16777215g", 9, 0, UINTMAX_MAX, &v), 0);
	ck_assert_uint_eq(v, (uintmax_t)16777215 << 30);
	ck_assert_int_eq(conf_parse_bytes("0", 1, 0, 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	v = 77;
	ck_assert_int_eq(conf_parse_bytes("11", 2, 0, 10, &v), ERANGE);
	ck_assert_int_eq(conf_parse_bytes("1k", 2, 0, 1023, &v), ERANGE);
	ck_assert_int_eq(conf_parse_bytes("1k", 2, 1025, 4096, &v), ERANGE);
	ck_assert_int_eq(conf_parse_bytes("g", 1, 0, 10, &v), EINVAL);
	ck_assert_int_eq(conf_parse_bytes("", 0, 0, 10, &v), EINVAL);
	ck_assert_uint_eq(v, 77); /* nothing written on failure */
}
END_TEST

/* ------------------------------------------------------------ bad forms */

START_TEST(test_bad_values)
{
	static const struct {
		const char *conf, *message;
	} cases[] = {
		{"narenas:abc", "<strata>: Invalid conf value: narenas:abc\n"},
		{"narenas:", "<strata>: Invalid conf value: narenas:\n"},
		{"narenas:08", "<strata>: Invalid conf value: narenas:08\n"},
		{"narenas:0x", "<strata>: Invalid conf value: narenas:0x\n"},
		{"narenas:3 ", "<strata>: Invalid conf value: narenas:3 \n"},
		{"narenas:99999999999999999999",
		 "<strata>: Invalid conf value: narenas:99999999999999999999\n"},
		{"narenas:0", "<strata>: Out-of-range conf value: narenas:0\n"},
		{"narenas:-1", "<strata>: Out-of-range conf value: narenas:-1\n"},
		{"narenas:4294967296", "<strata>: Out-of-range conf value: narenas:4294967296\n"},
		{"abort:maybe", "<strata>: Invalid conf value: abort:maybe\n"},
		{"abort:TRUE", "<strata>: Invalid conf value: abort:TRUE\n"},
		{"abort:", "<strata>: Invalid conf value: abort:\n"},
		{"zero_realloc:strict", "<strata>: Invalid conf value: zero_realloc:strict\n"},
		{"zero_realloc:fre", "<strata>: Invalid conf value: zero_realloc:fre\n"},
		{"junk:frees", "<strata>: Invalid conf value: junk:frees\n"},
		{"tcache:1", "<strata>: Invalid conf value: tcache:1\n"},
		{"tcache_max:32k", "<strata>: Invalid conf value: tcache_max:32k\n"},
		{"tcache_max:99999999999999999999",
		 "<strata>: Invalid conf value: tcache_max:99999999999999999999\n"},
		{"percpu_arena:true", "<strata>: Invalid conf value: percpu_arena:true\n"},
		{"opt.tcache:true", "<strata>: Malformed conf string\n"},
		{"foo:bar", "<strata>: Invalid conf pair: foo:bar\n"},
		{"Abort:true", "<strata>: Invalid conf pair: Abort:true\n"},
		{"a:b:c", "<strata>: Invalid conf pair: a:b:c\n"},
		{":v", "<strata>: Invalid conf pair: :v\n"},
		{"foo:/a b|c-d.e", "<strata>: Invalid conf pair: foo:/a b|c-d.e\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(parse_env(cases[i].conf), cases[i].message);
}
END_TEST

START_TEST(test_invalid_keeps_previous_value)
{
	ck_assert_str_eq(parse_env("narenas:3,narenas:0,abort:true,abort:yes"),
	                 "<strata>: Out-of-range conf value: narenas:0\n"
	                 "<strata>: Invalid conf value: abort:yes\n");
	ck_assert_uint_eq(opt_narenas, 3);
	ck_assert(opt_abort);
}
END_TEST

START_TEST(test_jemalloc_keys_strata_lacks)
{
	/* Every jemalloc 5.3 option is accepted (docs/compat.md, "MALLOC_CONF
	 * options"), also those without effect or opt node ... */
	static const char *const accepted[] = {
		"dirty_decay_ms:5", "retain:true", "tcache:false", "prof:true",
		"background_thread:true", "thp:always", "percpu_arena:percpu",
		"metadata_thp:auto", "oversize_threshold:0", "hpa:true",
		"slab_sizes:1-4096:1", "cache_oblivious:false", "trust_madvise:true",
		"narenas_ratio:2.5", "dss:disabled", "mutex_max_spin:-1",
		"bin_shards:1-160:16", "tcache_gc_delay_bytes:1000", "hpa_slab_max_alloc:4096",
		"hpa_hugification_threshold:8192", "hpa_hugification_threshold_ratio:0.5",
		"hpa_hugify_delay_ms:5", "hpa_min_purge_interval_ms:5", "hpa_dirty_mult:-1",
		"hpa_sec_nshards:2", "hpa_sec_max_alloc:8192", "hpa_sec_max_bytes:8192",
		"hpa_sec_bytes_after_flush:8192", "hpa_sec_batch_fill_extra:3",
		"san_guard_small:1", "san_guard_large:1", "prof_unbias:false", "prof_log:true",
		"xmalloc:false",
	};
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
		ck_assert_msg(strcmp(parse_env(accepted[i]), "") == 0, "%s: %s", accepted[i], captured);
	/* ... but the ones Debian's jemalloc compiles out, which it reports so. */
	static const char *const rejected[] = {"utrace:true", "log:a", "lg_san_uaf_align:5"};
	char expected[256];
	for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
		snprintf(expected, sizeof(expected), "<strata>: Invalid conf pair: %s\n", rejected[i]);
		ck_assert_str_eq(parse_env(rejected[i]), expected);
	}
}
END_TEST

/* The values of the new options land in their globals, with jemalloc's
 * clipping (observed with Debian's libjemalloc2 5.3.0). */
START_TEST(test_jemalloc_option_values)
{
	ck_assert_str_eq(parse_env(NULL), "");
	ck_assert(!opt_cache_oblivious && !opt_trust_madvise && !opt_hpa && opt_prof_unbias);
	ck_assert_uint_eq(opt_oversize_threshold, 8388608);
	ck_assert_int_eq(opt_dss, CONF_DSS_DISABLED);
	ck_assert_int_eq(opt_thp, CONF_THP_AUTO);
	ck_assert_int_eq(opt_mutex_max_spin, 600);
	ck_assert_uint_eq(opt_hpa_dirty_mult, CONF_FXP_ONE / 4);
	ck_assert_uint_eq(opt_narenas_ratio, 4 * CONF_FXP_ONE);
	ck_assert_str_eq(parse_env("thp:never,metadata_thp:always,mutex_max_spin:-1,"
	                           "hpa_slab_max_alloc:1000000000,hpa_sec_max_alloc:1,"
	                           "hpa_sec_batch_fill_extra:100000,oversize_threshold:"
	                           "0x7000000000000000,hpa_dirty_mult:-1,narenas_ratio:0.5"),
	                 "");
	ck_assert_int_eq(opt_thp, CONF_THP_NEVER);
	ck_assert_int_eq(opt_metadata_thp, CONF_METADATA_THP_ALWAYS);
	ck_assert_int_eq(opt_mutex_max_spin, -1);
	ck_assert_uint_eq(opt_hpa_slab_max_alloc, 2097152);
	ck_assert_uint_eq(opt_hpa_sec_max_alloc, 4096);
	ck_assert_uint_eq(opt_hpa_sec_batch_fill_extra, 512);
	ck_assert_uint_eq(opt_oversize_threshold, CONF_LARGE_MAXCLASS);
	ck_assert_uint_eq(opt_hpa_dirty_mult, CONF_FXP_MINUS_ONE);
	ck_assert_uint_eq(opt_narenas_ratio, CONF_FXP_ONE / 2);
	ck_assert_str_eq(conf_options[CONF_ID_hpa_dirty_mult].text, "-1");

	/* strata has no sbrk: only dss:disabled, as jemalloc without dss. */
	ck_assert_str_eq(parse_env("dss:primary"), "<strata>: Invalid conf value: dss:primary\n");
	ck_assert_str_eq(parse_env("oversize_threshold:0x7000000000000001"),
	                 "<strata>: Out-of-range conf value: oversize_threshold:0x7000000000000001\n");
	ck_assert_str_eq(parse_env("mutex_max_spin:-2"),
	                 "<strata>: Out-of-range conf value: mutex_max_spin:-2\n");
	ck_assert_str_eq(parse_env("hpa_dirty_mult:abc"),
	                 "<strata>: Invalid conf value: hpa_dirty_mult:abc\n");
	ck_assert_str_eq(parse_env("hpa_hugification_threshold_ratio:1.5"),
	                 "<strata>: Invalid conf value: hpa_hugification_threshold_ratio:1.5\n");
	/* experimental_ keys are reported but never count as errors. */
	ck_assert_str_eq(parse_env("experimental_foo:1"),
	                 "<strata>: Invalid conf pair: experimental_foo:1\n");
}
END_TEST

/* jemalloc's fixed-point text: "0.25", "4.0", the fraction truncated to 16
 * bits (values observed with Debian's libjemalloc2 5.3.0). */
START_TEST(test_parse_fxp)
{
	static const struct {
		const char *text;
		int err;
		uint32_t value;
		const char *printed;
	} cases[] = {
		{"0.25", 0, 16384, "0.25"},     {"4", 0, 262144, "4.0"},
		{"1.5", 0, 98304, "1.5"},       {"65535.5", 0, 0xffff8000u, "65535.5"},
		{"0.05", 0, 3276, "0.04998779"}, {"1.23456789", 0, 80908, "1.2345581"},
		{"0.999999999", 0, 65535, "0.99998474"}, {"65536", EINVAL, 0, NULL},
		{"", EINVAL, 0, NULL},          {"1.", EINVAL, 0, NULL},
		{".5", EINVAL, 0, NULL},        {"-1", EINVAL, 0, NULL},
		{" 1", EINVAL, 0, NULL},        {"1.5x", EINVAL, 0, NULL},
	};
	char conf[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t value = 0;
		int err = conf_parse_fxp(cases[i].text, strlen(cases[i].text), &value);
		ck_assert_msg(err == cases[i].err, "%s: %d", cases[i].text, err);
		if (err != 0)
			continue;
		ck_assert_msg(value == cases[i].value, "%s: %u", cases[i].text, value);
		snprintf(conf, sizeof(conf), "hpa_dirty_mult:%s", cases[i].text);
		ck_assert_str_eq(parse_env(conf), "");
		ck_assert_str_eq(conf_options[CONF_ID_hpa_dirty_mult].text, cases[i].printed);
	}
}
END_TEST

/* slab_sizes and bin_shards: jemalloc's segment rules and message. */
START_TEST(test_ranges)
{
	ck_assert_str_eq(parse_env("slab_sizes:1-4096:17|100-200:1|128-128:2"), "");
	ck_assert_uint_eq(opt_slab_sizes.n, 3);
	ck_assert_uint_eq(opt_slab_sizes.r[0].start, 1);
	ck_assert_uint_eq(opt_slab_sizes.r[0].end, 4096);
	ck_assert_uint_eq(opt_slab_sizes.r[0].value, 17);
	ck_assert_uint_eq(opt_slab_sizes.r[2].start, 128);
	ck_assert_uint_eq(opt_slab_sizes.r[2].value, 2);
	/* Later settings add segments; default empties the list. */
	ck_assert_str_eq(parse_env("slab_sizes:0x10-0x20:3|,slab_sizes:8-8:1"), "");
	ck_assert_uint_eq(opt_slab_sizes.n, 2);
	ck_assert_uint_eq(opt_slab_sizes.r[0].end, 32);
	ck_assert_str_eq(parse_env("slab_sizes:8-8:1,slab_sizes:default"), "");
	ck_assert_uint_eq(opt_slab_sizes.n, 0);
	/* A bad segment stops there; the ones before it stay. */
	ck_assert_str_eq(parse_env("slab_sizes:8-8:2|16-16:3x"),
	                 "<strata>: Invalid settings for slab_sizes: slab_sizes:8-8:2|16-16:3x\n");
	ck_assert_uint_eq(opt_slab_sizes.n, 2);
	static const char *const bad[] = {"slab_sizes:foo", "slab_sizes:1-2",
	                                  "slab_sizes:1-2:", "slab_sizes:1:2-3",
	                                  "bin_shards:1-8:0", "bin_shards:1-8:65",
	                                  "bin_shards:default"};
	char expected[128];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int klen = (int)(strchr(bad[i], ':') - bad[i]);
		snprintf(expected, sizeof(expected), "<strata>: Invalid settings for %.*s: %s\n",
		         klen, bad[i], bad[i]);
		ck_assert_str_eq(parse_env(bad[i]), expected);
	}
	ck_assert_str_eq(parse_env("bin_shards:1-8:64|9-16:1"), "");
	ck_assert_uint_eq(opt_bin_shards.n, 2);
	/* More segments than the list holds is invalid too. */
	char many[CONF_RANGES_MAX * 8 + 32] = "slab_sizes:";
	for (unsigned i = 0; i <= CONF_RANGES_MAX; i++)
		strcat(many, i == 0 ? "8-8:1" : "|8-8:1");
	ck_assert_ptr_nonnull(strstr(parse_env(many), "Invalid settings for slab_sizes"));
	ck_assert_uint_eq(opt_slab_sizes.n, CONF_RANGES_MAX);
}
END_TEST

/* conf_init keeps each source's raw text for opt.malloc_conf.*. */
START_TEST(test_source_text)
{
	char buf[CONF_LINK_BUFSIZE];
	if (conf_read_symlink("/etc/malloc.conf", buf) != NULL)
		return; /* this machine configures the symlink source itself */
	strata_test_malloc_conf = "narenas:2";
	ck_assert_int_eq(unsetenv("MALLOC_CONF"), 0);
	strata_test_malloc_conf_2_conf_harder = NULL;
	conf_init();
	ck_assert_str_eq(conf_source_text[CONF_SOURCE_BUILTIN], "");
	ck_assert_str_eq(conf_source_text[CONF_SOURCE_GLOBAL], "narenas:2");
	ck_assert_ptr_null(conf_source_text[CONF_SOURCE_SYMLINK]);
	ck_assert_ptr_null(conf_source_text[CONF_SOURCE_ENV]);
	ck_assert_ptr_null(conf_source_text[CONF_SOURCE_HARDER]);
	ck_assert_int_eq(setenv("MALLOC_CONF", "zero:true", 1), 0);
	conf_init();
	ck_assert_str_eq(conf_source_text[CONF_SOURCE_ENV], "zero:true");
}
END_TEST

START_TEST(test_syntax_errors)
{
	/* Printed once (jemalloc prints them twice). */
	ck_assert_str_eq(parse_env("abort"), "<strata>: Conf string ends with key\n");
	ck_assert_str_eq(parse_env("abort:true,"), "<strata>: Conf string ends with comma\n");
	ck_assert(opt_abort);
	ck_assert_str_eq(parse_env("ab-c:1"), "<strata>: Malformed conf string\n");
	ck_assert_str_eq(parse_env(",abort:true"), "<strata>: Malformed conf string\n");
	ck_assert(!opt_abort);
	/* A syntax error ends its source: pairs before it stay, after it go. */
	ck_assert_str_eq(parse_env("abort:true,,narenas:3"), "<strata>: Malformed conf string\n");
	ck_assert(opt_abort);
	ck_assert_uint_eq(opt_narenas, 0);
	/* ...but not the later sources. */
	const char *sources[CONF_NSOURCES] = {
		[CONF_SOURCE_GLOBAL] = "zero:true,=,junk:true",
		[CONF_SOURCE_ENV] = "narenas:4",
	};
	capture_start();
	conf_parse_sources(sources);
	ck_assert_str_eq(captured, "<strata>: Malformed conf string\n");
	ck_assert(opt_zero);
	ck_assert_int_eq(opt_junk, CONF_JUNK_FALSE);
	ck_assert_uint_eq(opt_narenas, 4);
	/* Empty strings are no pairs at all. */
	ck_assert_str_eq(parse_env(""), "");
}
END_TEST

START_TEST(test_duplicate_keys_last_wins)
{
	ck_assert_str_eq(parse_env("narenas:3,junk:alloc,narenas:7,junk:free"), "");
	ck_assert_uint_eq(opt_narenas, 7);
	ck_assert_int_eq(opt_junk, CONF_JUNK_FREE);
}
END_TEST

START_TEST(test_errors_do_not_stop_parsing)
{
	ck_assert_str_eq(parse_env("foo:bar,narenas:3,narenas:x,zero:true"),
	                 "<strata>: Invalid conf pair: foo:bar\n"
	                 "<strata>: Invalid conf value: narenas:x\n");
	ck_assert_uint_eq(opt_narenas, 3);
	ck_assert(opt_zero);
}
END_TEST

START_TEST(test_clipping)
{
	uintmax_t v = 0;
	ck_assert_int_eq(conf_parse_uint("5000", 4, 1, 2048, true, &v), 0);
	ck_assert_uint_eq(v, 2048);
	ck_assert_int_eq(conf_parse_uint("0", 1, 1, 2048, true, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(conf_parse_uint("-1", 2, 1, 2048, true, &v), 0); /* wraps, as jemalloc */
	ck_assert_uint_eq(v, 2048);
	ck_assert_int_eq(conf_parse_uint("77", 2, 1, 2048, true, &v), 0);
	ck_assert_uint_eq(v, 77);
	v = 9;
	ck_assert_int_eq(conf_parse_uint("5000", 4, 1, 2048, false, &v), ERANGE);
	ck_assert_int_eq(conf_parse_uint("5000x", 5, 1, 2048, true, &v), EINVAL);
	ck_assert_uint_eq(v, 9);
	/* Only vlen characters are looked at. */
	ck_assert_int_eq(conf_parse_uint("12,34", 2, 0, 100, false, &v), 0);
	ck_assert_uint_eq(v, 12);
	ck_assert_int_eq(conf_parse_uint("18446744073709551615", 20, 0, UINTMAX_MAX, false, &v),
	                 0);
	ck_assert_uint_eq(v, UINTMAX_MAX);
	ck_assert_int_eq(conf_parse_uint("18446744073709551616", 20, 0, UINTMAX_MAX, true, &v),
	                 EINVAL);
	ck_assert_int_eq(conf_parse_uint("0x", 2, 0, 100, true, &v), EINVAL);
	ck_assert_int_eq(conf_parse_uint("", 0, 0, 100, true, &v), EINVAL);
}
END_TEST

/* ------------------------------------------------------------ sources */

START_TEST(test_source_precedence)
{
	const char *sources[CONF_NSOURCES] = {
		[CONF_SOURCE_BUILTIN] = "narenas:1,zero:true",
		[CONF_SOURCE_GLOBAL] = "narenas:2,junk:alloc",
		[CONF_SOURCE_SYMLINK] = "narenas:3,stats_print:true",
		[CONF_SOURCE_ENV] = "narenas:4,abort:true",
		[CONF_SOURCE_HARDER] = "narenas:5",
	};
	/* Each source overrides the earlier ones, key by key. */
	for (int last = CONF_NSOURCES - 1; last >= 0; last--) {
		capture_start();
		conf_parse_sources(sources);
		ck_assert_str_eq(captured, "");
		ck_assert_uint_eq(opt_narenas, (unsigned)last + 1);
		ck_assert(opt_zero);
		sources[last] = NULL;
	}
	sources[CONF_SOURCE_BUILTIN] = "narenas:1,zero:true";
	sources[CONF_SOURCE_GLOBAL] = "narenas:2,junk:alloc";
	sources[CONF_SOURCE_SYMLINK] = "narenas:3,stats_print:true";
	sources[CONF_SOURCE_ENV] = "abort:true";
	conf_parse_sources(sources);
	ck_assert_uint_eq(opt_narenas, 3);
	ck_assert(opt_zero && opt_stats_print && opt_abort);
	ck_assert_int_eq(opt_junk, CONF_JUNK_ALLOC);
}
END_TEST

START_TEST(test_symlink_source)
{
	char dir[] = "/tmp/strata-conf-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char link[256], file[256], missing[256];
	snprintf(link, sizeof(link), "%s/malloc.conf", dir);
	snprintf(file, sizeof(file), "%s/plain", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	ck_assert_int_eq(symlink("narenas:6,junk:free", link), 0);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);

	char buf[CONF_LINK_BUFSIZE];
	const char *target = conf_read_symlink(link, buf);
	ck_assert_ptr_eq(target, buf);
	ck_assert_str_eq(target, "narenas:6,junk:free");
	const char *sources[CONF_NSOURCES] = {[CONF_SOURCE_SYMLINK] = target};
	capture_start();
	conf_parse_sources(sources);
	ck_assert_str_eq(captured, "");
	ck_assert_uint_eq(opt_narenas, 6);
	ck_assert_int_eq(opt_junk, CONF_JUNK_FREE);

	/* Not a symlink, or absent: no source, and errno untouched. */
	errno = 1234;
	ck_assert_ptr_null(conf_read_symlink(file, buf));
	ck_assert_ptr_null(conf_read_symlink(missing, buf));
	ck_assert_int_eq(errno, 1234);

	unlink(link);
	unlink(file);
	rmdir(dir);
}
END_TEST

START_TEST(test_conf_init_reads_real_sources)
{
	char buf[CONF_LINK_BUFSIZE];
	if (conf_read_symlink("/etc/malloc.conf", buf) != NULL)
		return; /* this machine configures the symlink source itself */
	strata_test_malloc_conf = "narenas:2,zero:true,junk:alloc";
	ck_assert_int_eq(setenv("MALLOC_CONF", "narenas:9,junk:true,stats_print:true", 1), 0);
	strata_test_malloc_conf_2_conf_harder = "stats_print:false";
	capture_start();
	conf_init();
	ck_assert_str_eq(captured, "");
	ck_assert_uint_eq(opt_narenas, 9);
	ck_assert(opt_zero);
	ck_assert_int_eq(opt_junk, CONF_JUNK_TRUE);
	ck_assert(!opt_stats_print);
}
END_TEST

START_TEST(test_confirm_conf)
{
	const char *sources[CONF_NSOURCES] = {
		[CONF_SOURCE_GLOBAL] = "narenas:2,bogus:1",
		[CONF_SOURCE_ENV] = "confirm_conf:true,narenas:3,junk:nope",
	};
	capture_start();
	conf_parse_sources(sources);
	ck_assert_str_eq(
		captured,
		"<strata>: malloc_conf #1 (string compiled into strata): \"\"\n"
		"<strata>: malloc_conf #2 (string pointed to by the global variable malloc_conf): "
		"\"narenas:2,bogus:1\"\n"
		"<strata>: -- Set conf value: narenas:2\n"
		"<strata>: Invalid conf pair: bogus:1\n"
		"<strata>: malloc_conf #3 (target name of the symbolic link /etc/malloc.conf): \"\"\n"
		"<strata>: malloc_conf #4 (value of the environment variable MALLOC_CONF): "
		"\"confirm_conf:true,narenas:3,junk:nope\"\n"
		"<strata>: -- Set conf value: confirm_conf:true\n"
		"<strata>: -- Set conf value: narenas:3\n"
		"<strata>: Invalid conf value: junk:nope\n"
		"<strata>: malloc_conf #5 (string pointed to by the global variable "
		"malloc_conf_2_conf_harder): \"\"\n");
	ck_assert(opt_confirm_conf);
}
END_TEST

/* ------------------------------------------------------------ abort_conf */

START_TEST(test_abort_conf_aborts)
{
	parse_env("narenas:0,abort_conf:true");
}
END_TEST

START_TEST(test_abort_conf_from_earlier_source)
{
	const char *sources[CONF_NSOURCES] = {
		[CONF_SOURCE_GLOBAL] = "abort_conf:true",
		[CONF_SOURCE_HARDER] = "narenas:x",
	};
	capture_start();
	conf_parse_sources(sources);
}
END_TEST

/* The child parses conf with messages going to a pipe; the parent gets the
 * messages and the child's wait status. */
static void
parse_conf(const void *conf)
{
	strata_test_malloc_message = NULL; /* msg writes to fd 2 */
	const char *sources[CONF_NSOURCES] = {[CONF_SOURCE_ENV] = conf};
	conf_parse_sources(sources);
}

static int
parse_in_child(const char *conf, char *out, size_t size)
{
	return child_run_capture(parse_conf, conf, out, size);
}

START_TEST(test_abort_conf_message)
{
	char out[1024];
	int status = parse_in_child("foo:bar,abort_conf:true,narenas:2", out, sizeof(out));
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	ck_assert_str_eq(out, "<strata>: Invalid conf pair: foo:bar\n"
	                      "<strata>: Abort (abort_conf:true) on invalid conf value (see above).\n");
}
END_TEST

START_TEST(test_abort_conf_tolerates)
{
	char out[1024];
	/* No invalid pair: no abort. */
	int status = parse_in_child("abort_conf:true,narenas:2", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "");
	/* experimental_ keys are reported but never count as errors. */
	status = parse_in_child("abort_conf:true,experimental_foo:1", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "<strata>: Invalid conf pair: experimental_foo:1\n");
	/* Syntax errors are reported but are no invalid values (as jemalloc). */
	status = parse_in_child("abort_conf:true,abort", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "<strata>: Conf string ends with key\n");
	/* Without abort_conf an invalid value never stops startup. */
	status = parse_in_child("narenas:0", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* memory_limit's errors count for abort_conf like any other option's. */
START_TEST(test_memory_limit_abort_conf)
{
	char out[1024];
	int status = parse_in_child("abort_conf:true,memory_limit:0", out, sizeof(out));
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	ck_assert_str_eq(out, "<strata>: Out-of-range conf value: memory_limit:0\n"
	                      "<strata>: Abort (abort_conf:true) on invalid conf value (see above).\n");
	status = parse_in_child("abort_conf:true,memory_limit:64m", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "");
}
END_TEST

/* ------------------------------------------------------------ man page */

/* man/strata.3's generated blocks match the table: tools/mangen --check
 * (built by the Makefile before this suite) prints what to change. */
START_TEST(test_man_page_lists_every_option)
{
	int status = system("build/tools/mangen --check man/strata.3");
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "man/strata.3 differs from the option table: run `make man` (see stderr)");
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_bools);
	tcase_add_test(tc, test_narenas_forms);
	tcase_add_test(tc, test_choices);
	tcase_add_test(tc, test_percpu_arena);
	tcase_add_test(tc, test_tcache_sizes_clip);
	tcase_add_test(tc, test_tcache_nslots_and_divs_clip);
	tcase_add_test(tc, test_lg_tcache_max_alias);
	tcase_add_test(tc, test_signed_option);
	tcase_add_test(tc, test_parse_int);
	tcase_add_test(tc, test_stats_print_opts_accumulate);
	tcase_add_test(tc, test_reset_defaults);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_memory_limit_forms);
	tcase_add_test(tc, test_memory_limit_bad_values);
	tcase_add_test(tc, test_parse_bytes);
	tcase_add_test(tc, test_invalid_keeps_previous_value);
	tcase_add_test(tc, test_jemalloc_keys_strata_lacks);
	tcase_add_test(tc, test_jemalloc_option_values);
	tcase_add_test(tc, test_parse_fxp);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_duplicate_keys_last_wins);
	tcase_add_test(tc, test_errors_do_not_stop_parsing);
	tcase_add_test(tc, test_clipping);
	suite_add_tcase(s, tc);

	tc = tcase_create("sources");
	tcase_add_test(tc, test_source_precedence);
	tcase_add_test(tc, test_symlink_source);
	tcase_add_test(tc, test_conf_init_reads_real_sources);
	tcase_add_test(tc, test_source_text);
	tcase_add_test(tc, test_confirm_conf);
	suite_add_tcase(s, tc);

	tc = tcase_create("abort_conf");
	tcase_add_test_raise_signal(tc, test_abort_conf_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_abort_conf_from_earlier_source, SIGABRT);
	tcase_add_test(tc, test_abort_conf_message);
	tcase_add_test(tc, test_abort_conf_tolerates);
	tcase_add_test(tc, test_memory_limit_abort_conf);
	suite_add_tcase(s, tc);

	tc = tcase_create("man");
	tcase_add_test(tc, test_man_page_lists_every_option);
	tcase_add_test(tc, test_prof_implied_options);
	suite_add_tcase(s, tc);
	return s;
}
