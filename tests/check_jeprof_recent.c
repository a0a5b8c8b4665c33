/*
 * check_jeprof_recent.c — jeprof --recent: the prof_recent reader
 * (recent.c, json.c) in-process, and the program ($JEPROF_BIN, the
 * ASan/UBSan build) on the files that tests/jeprof/recent_prog.c wrote
 * ($JEPROF_RECENT_DATA, made by tests/jeprof/make_recent_data.sh; records
 * listed in recent_prog.c's header).  Addresses change with every build, so
 * what is asserted does not depend on them: the summary and column lines,
 * the rows newest first with sizes, states, lifetimes and threads, the
 * functions and file:line of the symbolized stacks (from the SITE: markers),
 * the size, function, thread and count filters, the same table from the
 * compact, gzip and pretty-printed files, jemalloc's files without
 * mappings, and the errors: exact messages, exit status 1, nothing on stdout.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jeprof_util.h"
#include "recent.h"

#define SOURCE "tests/jeprof/recent_prog.c"
#define SUMMARY_ALL                                                                                \
	"Recent allocations: 6 of 6 shown (3 live, 3 freed), sample_interval 524288, "            \
	"recent_alloc_max 1000\n"
#define COLUMNS "     #  alloc time (s)             size      usize  state         thread\n"

static const char *
recent_data(void)
{
	const char *d = getenv("JEPROF_RECENT_DATA");
	return d != NULL ? d : "build/jeprof/recent";
}

/* jeprof --recent <args> on file name of the data folder; stdout only. */
static cli_result_t
recent_run(const char *args, const char *name)
{
	return cli_run("%s --recent %s %s/%s", cli_bin(), args, recent_data(), name);
}

/* Whether line l is a record's row ("%6zu  <alloc time> ..."); *index is its index. */
static bool
recent_is_row(const char *l, size_t *index)
{
	int pos = 0;
	return l[0] == ' ' && sscanf(l, "%zu%n", index, &pos) == 1 && pos == 6 && l[6] == ' ' &&
	       l[7] == ' ';
}

static const char *
recent_next_line(const char *l)
{
	const char *nl = strchr(l, '\n');
	return nl != NULL ? nl + 1 : l + strlen(l);
}

/* The lines of record want: its row up to the next row (or the end). */
static char *
recent_block(const char *out, size_t want)
{
	const char *start = NULL;
	size_t index;
	for (const char *l = out; *l != '\0'; l = recent_next_line(l)) {
		if (!recent_is_row(l, &index))
			continue;
		if (start != NULL)
			return strndup(start, (size_t)(l - start));
		if (index == want)
			start = l;
	}
	ck_assert_msg(start != NULL, "no record %zu in:\n%s", want, out);
	return strdup(start);
}

/* The record indexes of the rows of out, in order; returns how many. */
static size_t
recent_rows(const char *out, size_t *indexes, size_t cap)
{
	size_t n = 0, index;
	for (const char *l = out; *l != '\0'; l = recent_next_line(l))
		if (recent_is_row(l, &index) && n < cap)
			indexes[n++] = index;
	return n;
}

/* The columns after the alloc time of a record's row, and its alloc time in ns. */
static char *
recent_row_rest(const char *block, uint64_t *time)
{
	unsigned long long s, ns;
	ck_assert_msg(sscanf(block + 8, "%llu.%9llu", &s, &ns) == 2, "%s", block);
	*time = s * 1000000000ULL + ns;
	const char *nl = strchr(block, '\n');
	return strndup(block + 29, (size_t)(nl - block - 29));
}

/* A frame expected on a stack: its printed name, and the SITE: marker of its line. */
typedef struct recent_site {
	const char *func, *marker;
} recent_site_t;

/* "          <func> <absolute source>:<line of SITE:<marker>>\n" */
static char *
recent_frame(const recent_site_t *site)
{
	char *abs = cli_abs_source(SOURCE), *line, marker[64];
	snprintf(marker, sizeof(marker), "SITE:%s", site->marker);
	int line_no = cli_site_line(SOURCE, marker);
	ck_assert_int_ge(asprintf(&line, "          %s %s:%d\n", site->func, abs, line_no), 0);
	free(abs);
	return line;
}

/* The n frames come first in text after the first occurrence of after. */
static void
recent_expect_frames(const char *text, const char *after, const recent_site_t *sites, size_t n)
{
	const char *at = strstr(text, after);
	ck_assert_msg(at != NULL, "no \"%s\" in:\n%s", after, text);
	at += strlen(after);
	for (size_t i = 0; i < n; i++) {
		char *want = recent_frame(&sites[i]);
		ck_assert_msg(strncmp(at, want, strlen(want)) == 0, "want %s at:\n%s", want, at);
		at += strlen(want);
		free(want);
	}
}

static const recent_site_t recent_inline_sites[] = {
	{"recent_inline_helper (inline)", "recent_inline_helper"},
	{"recent_outer", "recent_outer"},
};

START_TEST(test_table_newest_first)
{
	cli_result_t r = recent_run("", "strata.recent.json");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, SUMMARY_ALL COLUMNS, strlen(SUMMARY_ALL COLUMNS)) == 0, "%s",
		      r.out);
	size_t rows[8];
	ck_assert_uint_eq(recent_rows(r.out, rows, 8), 6);
	for (size_t i = 0; i < 6; i++)
		ck_assert_uint_eq(rows[i], 5 - i);
	static const char *const want[6] = {
		"       100        112  live          t0 jp-main",
		"      5000       5120  freed 1.2ms   t0 jp-main",
		"     70000      73728  live          t1",
		"       300        320  freed 2.5us   t0 jp-main",
		"        48         48  freed         t0 jp-main",
		"   1048576    1048576  live          t0 jp-main",
	};
	uint64_t first = 0;
	for (size_t i = 0; i < 6; i++) {
		char *block = recent_block(r.out, i);
		uint64_t time;
		char *rest = recent_row_rest(block, &time);
		ck_assert_str_eq(rest, want[i]);
		if (i == 0)
			first = time;
		/* recent_prog.c allocates 1 ms apart. */
		ck_assert_uint_eq(time - first, i * 1000000);
		free(rest);
		free(block);
	}
	free(r.out);
}
END_TEST

START_TEST(test_stacks_symbolized)
{
	cli_result_t r = recent_run("", "strata.recent.json");
	ck_assert_int_eq(r.status, 0);
	char *block = recent_block(r.out, 5);
	recent_expect_frames(block, "jp-main\n", recent_inline_sites, 2);
	ck_assert_ptr_nonnull(strstr(block, "          main "));
	ck_assert_ptr_null(strstr(block, "freed by"));
	free(block);
	/* Freed by the unnamed worker thread, 1234567 ns later. */
	block = recent_block(r.out, 1);
	recent_expect_frames(block, "jp-main\n", &(recent_site_t){"recent_big", "recent_big"}, 1);
	uint64_t t0, t1;
	free(recent_row_rest(block, &t0));
	const char *freed = strstr(block, "        freed by t1 at ");
	ck_assert_msg(freed != NULL, "%s", block);
	unsigned long long s, ns;
	ck_assert_int_eq(sscanf(freed, "        freed by t1 at %llu.%9llu:\n", &s, &ns), 2);
	t1 = s * 1000000000ULL + ns;
	ck_assert_uint_eq(t1 - t0, 1234567);
	recent_expect_frames(freed, ":\n", &(recent_site_t){"worker_release", "worker_release"}, 1);
	ck_assert_ptr_nonnull(strstr(freed, "          worker_main "));
	free(block);
	/* Freed by the main thread itself; the jemalloc-style record has no free section. */
	block = recent_block(r.out, 3);
	const char *freed_here = strstr(block, "\n        freed by t0 jp-main at ");
	ck_assert_msg(freed_here != NULL, "%s", block);
	recent_expect_frames(freed_here, ":\n", &(recent_site_t){"main_release", "main_release"},
			     1);
	free(block);
	block = recent_block(r.out, 4);
	ck_assert_ptr_null(strstr(block, "freed by"));
	free(block);
	block = recent_block(r.out, 2);
	recent_expect_frames(block, "t1\n", &(recent_site_t){"recent_worker", "recent_worker"}, 1);
	free(block);
	free(r.out);
}
END_TEST

START_TEST(test_gzip_plain_pretty_same)
{
	cli_result_t plain = recent_run("", "strata.recent.json");
	cli_result_t gz = recent_run("", "strata.recent.json.gz");
	cli_result_t pretty = recent_run("", "pretty.recent.json");
	ck_assert_int_eq(plain.status, 0);
	ck_assert_int_eq(gz.status, 0);
	ck_assert_int_eq(pretty.status, 0);
	ck_assert_str_eq(plain.out, gz.out);
	ck_assert_str_eq(plain.out, pretty.out);
	free(plain.out);
	free(gz.out);
	free(pretty.out);
}
END_TEST

START_TEST(test_jemalloc_file_without_mappings)
{
	/* A PIE's addresses cannot be placed without mappings: raw, as written. */
	cli_result_t r = recent_run("", "jemalloc.recent.json");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, SUMMARY_ALL COLUMNS, strlen(SUMMARY_ALL COLUMNS)) == 0, "%s",
		      r.out);
	char *block = recent_block(r.out, 5);
	ck_assert_msg(strstr(block, "jp-main\n          0x") != NULL, "%s", block);
	ck_assert_ptr_null(strstr(block, "recent_outer"));
	free(block);
	free(r.out);
	/* A non-PIE program named on the command line stands at its link addresses. */
	r = cli_run("%s --recent %s/recent_prog_nopie %s/nopie/jemalloc.recent.json", cli_bin(),
		    recent_data(), recent_data());
	ck_assert_int_eq(r.status, 0);
	block = recent_block(r.out, 5);
	recent_expect_frames(block, "jp-main\n", recent_inline_sites, 2);
	free(block);
	block = recent_block(r.out, 1);
	const char *freed = strstr(block, "freed by t1 at ");
	ck_assert_msg(freed != NULL, "%s", block);
	recent_expect_frames(freed, ":\n", &(recent_site_t){"worker_release", "worker_release"}, 1);
	free(block);
	free(r.out);
}
END_TEST

/* The rows (record indexes, newest first) jeprof --recent args prints. */
static void
recent_expect_rows(const char *args, const char *summary, const size_t *want, size_t n)
{
	cli_result_t r = recent_run(args, "strata.recent.json");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, summary, strlen(summary)) == 0, "%s: %s", args, r.out);
	size_t rows[8];
	ck_assert_uint_eq(recent_rows(r.out, rows, 8), n);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(rows[i], want[i]);
	if (n == 0)
		ck_assert_str_eq(r.out, summary);
	free(r.out);
}

#define SUMMARY(shown, live, freed)                                                                \
	"Recent allocations: " #shown " of 6 shown (" #live " live, " #freed " freed), "           \
	"sample_interval 524288, recent_alloc_max 1000\n"

START_TEST(test_size_filters)
{
	recent_expect_rows("--min_size=300 --max_size=5000", SUMMARY(2, 0, 2), (size_t[]){3, 1}, 2);
	/* Both bounds are inclusive, on the requested size (record 0: 100, usize 112). */
	recent_expect_rows("--min_size=100 --max_size=100", SUMMARY(1, 1, 0), (size_t[]){0}, 1);
	recent_expect_rows("--max_size=111", SUMMARY(2, 1, 1), (size_t[]){4, 0}, 2);
	recent_expect_rows("--min_size=70001", SUMMARY(1, 1, 0), (size_t[]){5}, 1);
	recent_expect_rows("--min_size=2000000", SUMMARY(0, 0, 0), NULL, 0);
}
END_TEST

START_TEST(test_function_filters)
{
	recent_expect_rows("--focus=recent_worker", SUMMARY(1, 1, 0), (size_t[]){2}, 1);
	recent_expect_rows("--focus='^recent_small$'", SUMMARY(2, 1, 1), (size_t[]){3, 0}, 2);
	/* An inlined frame is a frame. */
	recent_expect_rows("--focus=inline_helper", SUMMARY(1, 1, 0), (size_t[]){5}, 1);
	recent_expect_rows("--ignore='^recent_big$'", SUMMARY(4, 3, 1), (size_t[]){5, 3, 2, 0}, 4);
	/* Only the alloc stack counts: worker_release is on record 1's free stack. */
	recent_expect_rows("--focus=worker_release", SUMMARY(0, 0, 0), NULL, 0);
	recent_expect_rows("--focus=recent_ --ignore=outer", SUMMARY(5, 2, 3),
			   (size_t[]){4, 3, 2, 1, 0}, 5);
}
END_TEST

START_TEST(test_count_and_thread_filters)
{
	recent_expect_rows("--recent_max=2", SUMMARY(2, 1, 1), (size_t[]){5, 4}, 2);
	recent_expect_rows("--recent_max=0", SUMMARY(0, 0, 0), NULL, 0);
	recent_expect_rows("--thread=1", SUMMARY(1, 1, 0), (size_t[]){2}, 1);
	recent_expect_rows("--thread=0 --recent_max=3 --min_size=200", SUMMARY(3, 1, 2),
			   (size_t[]){5, 3, 1}, 3);
}
END_TEST

/* A temporary file holding text; the caller unlinks and frees it. */
static char *
recent_temp(const char *text, const char *suffix)
{
	char *path;
	ck_assert_int_ge(asprintf(&path, "/tmp/jeprof-recent-XXXXXX%s", suffix), 0);
	int fd = mkstemps(path, (int)strlen(suffix));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(test_no_records_prints_the_summary_only)
{
	char *path = recent_temp("{\"sample_interval\":524288,\"recent_alloc_max\":-1,"
				 "\"recent_alloc\":[]}",
				 ".recent.json");
	cli_result_t r = cli_run("%s --recent %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "Recent allocations: 0 of 0 shown (0 live, 0 freed), "
				"sample_interval 524288, recent_alloc_max unlimited\n");
	free(r.out);
	unlink(path);
	free(path);
}
END_TEST

/* The message of reading text as bad.json ("" when it is accepted). */
static char *
recent_error(const char *text)
{
	recent_t r;
	recent_init(&r);
	diag_t d = {0};
	int err = recent_read_buffer(&r, "bad.json", text, strlen(text), NULL, &d);
	recent_fini(&r);
	ck_assert_int_eq(err != 0, d.set != 0);
	return strdup(err != 0 ? d.msg : "");
}

static void
recent_expect_error(const char *text, const char *want)
{
	char *msg = recent_error(text);
	ck_assert_msg(strcmp(msg, want) == 0, "input %s\nwant \"%s\"\ngot  \"%s\"", text, want,
		      msg);
	free(msg);
}

#define TOP "{\"sample_interval\":1,\"recent_alloc_max\":2,\"recent_alloc\":[\n"
#define REC_HEAD                                                                                   \
	"{\"size\":1,\"usize\":16,\"released\":false,\"alloc_thread_uid\":3,\"alloc_time\":4,"
#define REC_OK REC_HEAD "\"alloc_trace\":[\"0x10\"]}"

START_TEST(test_reader_errors)
{
	char want[512], text[512];
	recent_expect_error("", "bad.json: empty file, not a prof_recent JSON file");
	recent_expect_error(" \n\t", "bad.json: empty file, not a prof_recent JSON file");
	recent_expect_error("heap_v2/524288\n  t*: 0: 0 [0: 0]\n",
			    "bad.json: this is a heap profile, not a prof_recent JSON file: drop "
			    "--recent");
	recent_expect_error("[]", "bad.json:1:1: not a prof_recent JSON file (expected '{')");
	recent_expect_error("{\"sample_interval\":1,\"recent_alloc_max\":2}",
			    "bad.json:1:1: missing required key \"recent_alloc\"");
	recent_expect_error(TOP "]}\n]",
			    "bad.json:3:1: unexpected data after the top-level object");
	recent_expect_error(TOP REC_HEAD "\"alloc_trace\":[\"0x10\" \"0x20\"]}]}",
			    "bad.json:2:97: record 0: expected ',' or ']' in alloc_trace");
	recent_expect_error(TOP REC_HEAD "\"alloc_trace\":[\"0x10\",",
			    "bad.json:2:97: record 0: truncated file "
			    "(expected alloc_trace element)");
	recent_expect_error(TOP REC_OK ",\n" REC_HEAD "\"alloc_trace\":[\"0x10\"",
			    "bad.json:3:96: record 1: truncated file (expected ',' or ']' in "
			    "alloc_trace)");
	recent_expect_error(TOP "{\"released\":tr", "bad.json:2:13: record 0: truncated file "
						     "(expected released)");
	recent_expect_error(TOP "{\"size\":-1}]}",
			    "bad.json:2:9: record 0: size is not a non-negative integer");
	recent_expect_error(TOP "{\"size\":1.5}]}",
			    "bad.json:2:9: record 0: size is not a non-negative integer");
	recent_expect_error(TOP "{\"size\":\"1\"}]}",
			    "bad.json:2:9: record 0: size is not a number");
	recent_expect_error(TOP "{\"usize\":18446744073709551616}]}",
			    "bad.json:2:10: record 0: usize does not fit in 64 bits");
	recent_expect_error(TOP "{\"size\":01}]}",
			    "bad.json:2:10: record 0: expected ',' or '}' in the record");
	recent_expect_error(TOP "{\"released\":1}]}",
			    "bad.json:2:13: record 0: released is not true or false");
	static const char *const bad_addresses[] = {
		"12", "\"zz\"", "\"0x\"", "\"0x12345678901234567\"", "\"10\"", "null",
	};
	for (size_t i = 0; i < sizeof(bad_addresses) / sizeof(bad_addresses[0]); i++) {
		snprintf(text, sizeof(text), TOP REC_HEAD "\"alloc_trace\":[\"0x1\",%s]}]}",
			 bad_addresses[i]);
		recent_expect_error(text, "bad.json:2:96: record 0: alloc_trace element is not an "
					  "address string");
	}
	recent_expect_error(TOP "{\"size\":1,\"usize\":16}]}",
			    "bad.json:2:1: record 0: missing required key \"released\"");
	recent_expect_error(TOP REC_HEAD "\"alloc_trace\":[],\"dalloc_time\":9}]}",
			    "bad.json:2:1: record 0: dalloc keys in a record that is not released");
	recent_expect_error(TOP "{\"size\":1,\"usize\":16,\"released\":true,\"alloc_thread_uid\":3,"
				"\"alloc_time\":4,\"alloc_trace\":[],\"dalloc_thread_uid\":1,"
				"\"dalloc_trace\":[]}]}",
			    "bad.json:2:1: record 0: missing required key \"dalloc_time\" "
			    "(the record has other dalloc keys)");
	recent_expect_error(TOP "{\"size\":1,\"size\":1}]}",
			    "bad.json:2:18: record 0: duplicate key \"size\"");
	recent_expect_error(TOP "{\"size\":1,}]}",
			    "bad.json:2:11: record 0: expected a key string in the record");
	recent_expect_error(TOP REC_OK "],\"recent_alloc_max\":-2}",
			    "bad.json:2:119: duplicate key \"recent_alloc_max\"");
	recent_expect_error("{\"recent_alloc_max\":-2}",
			    "bad.json:1:21: recent_alloc_max is below -1 (unlimited)");
	recent_expect_error("{\"x\":\"a\\q\"}", "bad.json:1:8: invalid escape '\\q' in a string");
	recent_expect_error("{\"x\":\"\\ud800x\"}",
			    "bad.json:1:7: invalid \\u escape (a high surrogate alone)");
	recent_expect_error("{\"x\":\"\\udc00\"}",
			    "bad.json:1:7: invalid \\u escape (a low surrogate alone)");
	recent_expect_error("{\"x\":\"a\tb\"}",
			    "bad.json:1:8: control character in a string (must be escaped)");
	recent_expect_error("{\"x\":[1,]}",
			    "bad.json:1:9: expected a value in the top-level object");
	recent_expect_error("{\"x\":-}", "bad.json:1:7: expected a digit in a number");
	recent_expect_error(TOP "],\"mapped_libraries\":\"7f00-7f10 r-xp 0 0:0 0 /x\\nzz\"}",
			    "bad.json:2:22: mapped_libraries:2: malformed MAPPED_LIBRARIES line "
			    "(address range)");
	/* Nesting is bounded, not recursive: a million '[' is an error, not a crash. */
	size_t deep = 1000000;
	char *nested = malloc(deep + 16);
	ck_assert_ptr_nonnull(nested);
	memcpy(nested, "{\"x\":", 5);
	memset(nested + 5, '[', deep);
	nested[5 + deep] = '\0';
	snprintf(want, sizeof(want),
		 "bad.json:1:262: the top-level object nests deeper than %d levels", 256);
	recent_expect_error(nested, want);
	free(nested);
}
END_TEST

START_TEST(test_reader_accepts_any_layout)
{
	/* Whitespace everywhere, keys in any order, unknown keys skipped, escapes decoded. */
	const char text[] =
		" {\r\n\t\"future\" : {\"a\":[1,-0.5e+3,true,null,{\"b\":[]}]},\n"
		"\"recent_alloc\" : [ {\"alloc_trace\" : [ \"0xA\" , \"0x0b\" ] ,\n"
		"  \"dalloc_trace\":[\"0x30\"],\"dalloc_time\":99,\"dalloc_thread_uid\":7,"
		"  \"dalloc_thread_name\":\"w\\u00e9\\ud83d\\ude00\\n\\/\",\"extra\":\"x\","
		"  \"released\":true,\"alloc_time\":18446744073709551615,\"alloc_thread_uid\":-0,"
		"  \"usize\":32,\"size\":20},\n"
		"{\"size\":0,\"usize\":0,\"released\":true,\"alloc_thread_uid\":1,"
		"\"alloc_thread_name\":\"\",\"alloc_time\":5,\"alloc_trace\":[]} ] ,\n"
		"\"recent_alloc_max\":-1, \"sample_interval\":0 } \n";
	recent_t r;
	recent_init(&r);
	diag_t d = {0};
	ck_assert_msg(recent_read_buffer(&r, "ok.json", text, strlen(text), NULL, &d) == 0, "%s",
		      d.msg);
	ck_assert_int_eq(r.recent_alloc_max, -1);
	ck_assert_uint_eq(r.sample_interval, 0);
	ck_assert(!r.has_maps);
	ck_assert_uint_eq(r.nrecs, 2);
	const recent_record_t *a = &r.recs[0], *b = &r.recs[1];
	ck_assert_uint_eq(a->size, 20);
	ck_assert_uint_eq(a->usize, 32);
	ck_assert(a->released && a->has_dalloc);
	ck_assert_uint_eq(a->alloc.time, UINT64_MAX);
	ck_assert_uint_eq(a->alloc.thread_uid, 0);
	ck_assert_uint_eq(a->alloc.thread_name, 0);
	ck_assert_uint_eq(a->dalloc.thread_uid, 7);
	ck_assert_uint_eq(a->dalloc.time, 99);
	ck_assert_str_eq(strtab_get(&r.prof.strs, a->dalloc.thread_name),
			 "w\xc3\xa9\xf0\x9f\x98\x80\n/");
	/* The stacks, stored as a heap dump's: every frame but the first moved back by one. */
	const profile_sample_t *s = &r.prof.samples[a->alloc.sample];
	ck_assert_uint_eq(s->n, 2);
	ck_assert_uint_eq(r.prof.locs[r.prof.stack[s->first]].addr, 0xa);
	ck_assert_uint_eq(r.prof.locs[r.prof.stack[s->first + 1]].addr, 0xa);
	s = &r.prof.samples[a->dalloc.sample];
	ck_assert_uint_eq(s->n, 1);
	ck_assert_uint_eq(r.prof.locs[r.prof.stack[s->first]].addr, 0x30);
	/* Released without free info, as jemalloc may write. */
	ck_assert(b->released && !b->has_dalloc);
	ck_assert_uint_eq(r.prof.samples[b->alloc.sample].n, 0);
	ck_assert_uint_eq(r.prof.nsamples, 3);
	recent_fini(&r);
}
END_TEST

START_TEST(test_reader_reads_mappings)
{
	const char text[] = "{\"sample_interval\":1,\"recent_alloc_max\":2,\"recent_alloc\":[],"
			    "\"mapped_libraries\":\"55d0-55e0 r-xp 00001000 fe:00 12  /bin/x y\\n"
			    "7f00-7f80 r--p 0 0:0 0 [heap]\\n\"}";
	recent_t r;
	recent_init(&r);
	diag_t d = {0};
	ck_assert_msg(recent_read_buffer(&r, "maps.json", text, strlen(text), "/nonexistent", &d) ==
			      0,
		      "%s", d.msg);
	/* With mappings, the program is not mapped at its link addresses (nor looked up). */
	ck_assert(r.has_maps);
	const profile_source_t *src = &r.prof.sources[0];
	ck_assert_uint_eq(src->nmaps, 2);
	ck_assert_uint_eq(src->maps[0].start, 0x55d0);
	ck_assert_uint_eq(src->maps[0].offset, 0x1000);
	ck_assert(src->maps[0].exec && !src->maps[1].exec);
	ck_assert_str_eq(strtab_get(&r.prof.strs, src->maps[0].path), "/bin/x y");
	recent_fini(&r);
	/* Without, the program given stands for the whole address space; it must exist. */
	const char bare[] = "{\"sample_interval\":1,\"recent_alloc_max\":2,\"recent_alloc\":[]}";
	recent_init(&r);
	memset(&d, 0, sizeof(d));
	int err = recent_read_buffer(&r, "bare.json", bare, strlen(bare), "/nonexistent", &d);
	ck_assert_int_ne(err, 0);
	ck_assert_str_eq(d.msg, "/nonexistent: No such file or directory");
	recent_fini(&r);
	recent_init(&r);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(recent_read_buffer(&r, "bare.json", bare, strlen(bare), "/bin/sh", &d), 0);
	ck_assert_uint_eq(r.prof.sources[0].nmaps, 1);
	ck_assert_uint_eq(r.prof.sources[0].maps[0].end, UINT64_MAX);
	recent_fini(&r);
}
END_TEST

/* Runs jeprof with args, which must fail: status 1, nothing on stdout; returns stderr. */
static char *
recent_fail(const char *args)
{
	char out[] = "/tmp/jeprof-recent-out-XXXXXX";
	int fd = mkstemp(out);
	ck_assert_int_ge(fd, 0);
	close(fd);
	cli_result_t r = cli_run("%s %s 2>&1 >%s", cli_bin(), args, out);
	ck_assert_msg(r.status == 1, "%s: status %d: %s", args, r.status, r.out);
	struct stat st;
	ck_assert_int_eq(stat(out, &st), 0);
	ck_assert_msg(st.st_size == 0, "%s: wrote to stdout", args);
	unlink(out);
	return r.out;
}

static void
recent_expect_fail(const char *args, const char *want)
{
	char *err = recent_fail(args);
	ck_assert_msg(strcmp(err, want) == 0, "%s\nwant %sgot  %s", args, want, err);
	free(err);
}

START_TEST(test_cli_errors)
{
	char args[1024], want[1024];
	const char *d = recent_data();
	/* A truncated file: where it ends, what was expected there. */
	char *cut = strdup("/tmp/jeprof-recent-cut-XXXXXX");
	close(mkstemp(cut));
	cli_result_t r = cli_run("head -c 200 %s/strata.recent.json > %s", d, cut);
	ck_assert_int_eq(r.status, 0);
	free(r.out);
	snprintf(args, sizeof(args), "--recent %s", cut);
	char *err = recent_fail(args);
	snprintf(want, sizeof(want), "jeprof: %s:1:201: record 0: truncated file (expected ", cut);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	free(err);
	/* A truncated gzip stream. */
	r = cli_run("head -c 300 %s/strata.recent.json.gz > %s", d, cut);
	free(r.out);
	err = recent_fail(args);
	snprintf(want, sizeof(want), "jeprof: %s: ", cut);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "compressed data"));
	free(err);
	unlink(cut);
	free(cut);
	/* A heap profile given to --recent, and a prof_recent file given without it. */
	char *heap = recent_temp("heap_v2/524288\n  t*: 0: 0 [0: 0]\n\nMAPPED_LIBRARIES:\n",
				 ".heap");
	snprintf(args, sizeof(args), "--recent %s", heap);
	snprintf(want, sizeof(want),
		 "jeprof: %s: this is a heap profile, not a prof_recent JSON file: drop --recent\n",
		 heap);
	recent_expect_fail(args, want);
	unlink(heap);
	free(heap);
	static const char *const files[] = {"strata.recent.json", "strata.recent.json.gz"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(args, sizeof(args), "--text %s/%s", d, files[i]);
		snprintf(want, sizeof(want),
			 "jeprof: %s/%s: this is a prof_recent JSON file, not a heap profile: use "
			 "--recent\n",
			 d, files[i]);
		recent_expect_fail(args, want);
	}
	/* Options. */
	snprintf(args, sizeof(args), "--recent --dot %s/strata.recent.json", d);
	recent_expect_fail(args, "jeprof: --dot cannot be combined with --recent "
				 "(it prints its own table)\n");
	snprintf(args, sizeof(args), "--base=x.heap --recent %s/strata.recent.json", d);
	recent_expect_fail(args, "jeprof: --base cannot be combined with --recent "
				 "(it prints its own table)\n");
	snprintf(args, sizeof(args), "--min_size=10 %s/strata.recent.json", d);
	recent_expect_fail(args, "jeprof: --min_size applies only to --recent\n");
	snprintf(args, sizeof(args), "--recent --max_size=-1 %s/strata.recent.json", d);
	recent_expect_fail(args, "jeprof: --max_size=-1: not a non-negative integer\n");
	snprintf(args, sizeof(args), "--recent --recent_max=2x %s/strata.recent.json", d);
	recent_expect_fail(args, "jeprof: --recent_max=2x: not a non-negative integer\n");
	snprintf(args, sizeof(args), "--recent --focus='(' %s/strata.recent.json", d);
	err = recent_fail(args);
	ck_assert_msg(strncmp(err, "jeprof: --focus=(: ", 19) == 0, "%s", err);
	free(err);
	recent_expect_fail("--recent", "jeprof: --recent reads one file: jeprof --recent [options] "
				       "[<program>] <file.recent.json[.gz]>\n");
	snprintf(args, sizeof(args), "--recent a %s/strata.recent.json b", d);
	recent_expect_fail(args, "jeprof: --recent reads one file: jeprof --recent [options] "
				 "[<program>] <file.recent.json[.gz]>\n");
	recent_expect_fail("--recent /nonexistent.recent.json",
			   "jeprof: /nonexistent.recent.json: No such file or directory\n");
	r = cli_run("%s --help", cli_bin());
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "--recent"));
	ck_assert_ptr_nonnull(strstr(r.out, "--recent_max=<n>"));
	free(r.out);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("jeprof-recent");
	TCase *tc = tcase_create("recent");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_table_newest_first);
	tcase_add_test(tc, test_stacks_symbolized);
	tcase_add_test(tc, test_gzip_plain_pretty_same);
	tcase_add_test(tc, test_jemalloc_file_without_mappings);
	tcase_add_test(tc, test_size_filters);
	tcase_add_test(tc, test_function_filters);
	tcase_add_test(tc, test_count_and_thread_filters);
	tcase_add_test(tc, test_no_records_prints_the_summary_only);
	tcase_add_test(tc, test_reader_errors);
	tcase_add_test(tc, test_reader_accepts_any_layout);
	tcase_add_test(tc, test_reader_reads_mappings);
	tcase_add_test(tc, test_cli_errors);
	suite_add_tcase(s, tc);
	return s;
}
