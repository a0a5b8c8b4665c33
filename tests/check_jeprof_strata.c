/*
 * check_jeprof_strata.c — the jeprof program ($JEPROF_BIN, the ASan/UBSan
 * build) on dumps that strata itself wrote ($JEPROF_STRATA_DATA, made by
 * tests/jeprof/make_strata_data.sh with the just-built lib/libstrata.so for
 * tests/jeprof/strata_prog.c).  Addresses change with every build, so
 * everything asserted is independent of them: the dump's shape (names on
 * header thread lines only), functions with their bytes and objects (exact
 * when every allocation is sampled, within tolerance at a 1 KiB rate),
 * file:line of the sites, the same report from the gzip, plain and
 * automatically named dumps, --thread on the named thread, the
 * frame-pointer unwinder's stacks, agreement with the perl jeprof, the
 * other outputs, and --recent on the ring of recent allocations written in
 * the same run.
 */
#include <check.h>
#include <glob.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jeprof_util.h"

#define KiB 1024.0
#define MiB (1024.0 * 1024.0)

/* The program's allocation sites still live at the dumps (strata_prog.c). */
typedef struct site {
	const char *func;   /* its --text row */
	const char *source; /* file holding its SITE:<func> marker */
	double bytes, objects;
} site_t;

/*
 * strata's stacks start one byte into the call of malloc (its return
 * address minus one), and jeprof (perl and ours) moves every other address
 * back onto its call: so every frame names its call's own line, and
 * site_small's 3000 x 48 B, allocated in the always-inlined small_helper,
 * land on "small_helper (inline)" (site_small holds them as cum).
 */
static const site_t sites[] = {
	{"site_big", "tests/jeprof/strata_prog.c", 8 * MiB, 8},
	{"site_realloc", "tests/jeprof/strata_prog.c", 20 * 256 * KiB, 20},
	{"site_thread", "tests/jeprof/strata_prog.c", 50 * 64 * KiB, 50},
	{"site_aligned", "tests/jeprof/strata_prog.c", 40 * 16 * KiB, 40},
	{"jp_shared_alloc", "tests/jeprof/shared.c", 100 * 4 * KiB, 100},
};
#define NSITES (sizeof(sites) / sizeof(sites[0]))

#define SMALL_BYTES (3000 * 48.0)
#define SMALL_OBJECTS 3000.0
/* Sampled beyond the program's sites: libc's own (a new thread's DTV...). */
#define EXTRA_MAX (64 * KiB)

static char *
strata_path(const char *name)
{
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/%s", cli_strata_data(), name), 0);
	return path;
}

/* The whole text of a dump, plain or gzip. */
static char *
strata_read(const char *path)
{
	gzFile gz = gzopen(path, "rb");
	ck_assert_msg(gz != NULL, "cannot open %s", path);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	ck_assert_ptr_nonnull(buf);
	int got;
	while ((got = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
		n += (size_t)got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
	}
	ck_assert_msg(got == 0, "%s: read error", path);
	gzclose(gz);
	buf[n] = '\0';
	return buf;
}

/* Length of the dump's profile part: everything before its mappings (which
 * may grow between two dumps, the stacks may not). */
static size_t
strata_stacks_len(const char *dump)
{
	const char *m = strstr(dump, "\nMAPPED_LIBRARIES:\n");
	ck_assert_ptr_nonnull(m);
	return (size_t)(m - dump);
}

/* The profiler thread number of the header thread line named name. */
static long
strata_thread_of(const char *dump, const char *name)
{
	for (const char *l = strchr(dump, '\n') + 1; *l != '\0' && *l != '@';
	     l = strchr(l, '\n') + 1) {
		const char *nl = strchr(l, '\n');
		size_t n = strlen(name), len = (size_t)(nl - l);
		long t;
		if (sscanf(l, "  t%ld:", &t) == 1 && len > n + 1 && l[len - n - 1] == ' ' &&
		    memcmp(l + len - n, name, n) == 0)
			return t;
	}
	ck_abort_msg("no header thread line named %s", name);
	return -1;
}

/* Objects and bytes summed over the stacks' t* lines: jeprof's totals when
 * every allocation is sampled (at lg_prof_sample:0 its scale differs from 1
 * by e^-size: nothing that shows in whole bytes). */
static void
strata_stack_sums(const char *dump, double *objects, double *bytes)
{
	*objects = *bytes = 0;
	for (const char *l = strstr(dump, "\n@ "); l != NULL; l = strstr(l + 1, "\n@ ")) {
		unsigned long long n, b;
		const char *counts = strchr(l + 1, '\n');
		ck_assert_msg(sscanf(counts, "\n  t*: %llu: %llu [", &n, &b) == 2, "%.80s", counts);
		*objects += (double)n;
		*bytes += (double)b;
	}
}

/* flat and cum of row name (flat -1 when absent). */
static void
strata_row(const char *out, const char *name, double *flat, double *cum)
{
	*flat = *cum = -1;
	free(cli_find_row(out, name, flat, cum));
}

static double
strata_total(const char *out, const char *unit)
{
	double total = -1;
	char fmt[64];
	snprintf(fmt, sizeof(fmt), "Total: %%lf %s\n", unit);
	ck_assert_msg(sscanf(out, fmt, &total) == 1, "%s", out);
	return total;
}

/*
 * A report of exact values: every site with its bytes (or objects), the
 * small objects between site_small and small_helper, no site_freed, and a
 * total that only libc's few allocations exceed.
 */
static void
strata_expect_sites(const char *out, bool objects)
{
	double sum = 0, f, c, f2, c2;
	for (size_t i = 0; i < NSITES; i++) {
		double want = objects ? sites[i].objects : sites[i].bytes;
		strata_row(out, sites[i].func, &f, &c);
		ck_assert_msg(f == want && c == want, "%s: flat %.0f cum %.0f, want %.0f\n%s",
			      sites[i].func, f, c, want, out);
		sum += want;
	}
	double small = objects ? SMALL_OBJECTS : SMALL_BYTES;
	strata_row(out, "site_small", &f, &c);
	strata_row(out, "small_helper (inline)", &f2, &c2);
	ck_assert_msg(c == small && f2 == small && f <= 0, "site_small %.0f/%.0f:\n%s", f, c,
		      out);
	sum += small;
	ck_assert_ptr_null(strstr(out, "site_freed"));
	ck_assert_ptr_null(strstr(out, " malloc\n"));
	double total = strata_total(out, objects ? "objects" : "B");
	ck_assert_msg(total >= sum && total - sum <= (objects ? 16 : EXTRA_MAX),
		      "total %.0f, sites %.0f", total, sum);
}

START_TEST(test_dump_shape_and_thread_names)
{
	char *path = strata_path("exact.heap");
	char *dump = strata_read(path);
	ck_assert_msg(strncmp(dump, "heap_v2/1\n  t*: ", 16) == 0, "%.200s", dump);
	long main_t = strata_thread_of(dump, "jp-main");
	long worker_t = strata_thread_of(dump, "jp-worker");
	ck_assert_int_ne(main_t, worker_t);
	/* Names only on header lines: every count line under a stack ends in ']'. */
	size_t stacks = 0;
	for (const char *l = strstr(dump, "\n@ ") + 1; l != NULL && *l != '\n';
	     l = strchr(l, '\n') + 1) {
		const char *nl = strchr(l, '\n');
		if (l[0] == '@') {
			stacks++;
			ck_assert_msg(strncmp(l, "@ 0x", 4) == 0, "%.*s", (int)(nl - l), l);
		} else {
			ck_assert_msg(strncmp(l, "  t", 3) == 0 && nl[-1] == ']', "%.*s",
				      (int)(nl - l), l);
		}
	}
	ck_assert_uint_ge(stacks, NSITES + 1);
	/* One blank line before the mappings, which name the program. */
	ck_assert_ptr_nonnull(strstr(dump, "]\n\nMAPPED_LIBRARIES:\n"));
	ck_assert_ptr_nonnull(strstr(dump, "/strata_prog\n"));
	free(dump);
	free(path);
}
END_TEST

START_TEST(test_exact_functions_bytes_and_objects)
{
	/* No program argument: it comes from the dump's mappings. */
	char *path = strata_path("exact.heap");
	cli_result_t r = cli_run("%s --text --show_bytes %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	strata_expect_sites(r.out, false);
	char *dump = strata_read(path);
	double objects, bytes;
	strata_stack_sums(dump, &objects, &bytes);
	free(dump);
	ck_assert_double_eq(strata_total(r.out, "B"), bytes);
	/* Callers: main holds every site but the thread's. */
	double f, c;
	strata_row(r.out, "main", &f, &c);
	double in_main = 8 * MiB + 20 * 256 * KiB + 40 * 16 * KiB + 400 * KiB + SMALL_BYTES;
	ck_assert_msg(f == 0 && c >= in_main, "%s", r.out);
	strata_row(r.out, "start_thread", &f, &c);
	ck_assert_msg(f == 0 && c == 50 * 64 * KiB, "%s", r.out);
	free(r.out);
	r = cli_run("%s --text --inuse_objects %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	strata_expect_sites(r.out, true);
	ck_assert_double_eq(strata_total(r.out, "objects"), objects);
	free(r.out);
	free(path);
}
END_TEST

START_TEST(test_exact_lines_are_absolute)
{
	/* The program was compiled by relative paths: file names come out
	 * joined to the compilation directory, as addr2line prints them. */
	char *path = strata_path("exact.heap");
	char *prog = strata_path("strata_prog");
	cli_result_t r = cli_run("%s --text --show_bytes --lines %s %s", cli_bin(), prog, path);
	ck_assert_int_eq(r.status, 0);
	char name[1024];
	for (size_t i = 0; i < NSITES; i++) {
		char marker[64];
		snprintf(marker, sizeof(marker), "SITE:%s", sites[i].func);
		char *abs = cli_abs_source(sites[i].source);
		int line = cli_site_line(sites[i].source, marker);
		double f, c;
		snprintf(name, sizeof(name), "%s %s:%d", sites[i].func, abs, line);
		strata_row(r.out, name, &f, &c);
		ck_assert_msg(f == sites[i].bytes && c == sites[i].bytes,
			      "no \"%s\" of %.0f B in:\n%s", name, sites[i].bytes, r.out);
		free(abs);
	}
	char *abs = cli_abs_source("tests/jeprof/strata_prog.c");
	snprintf(name, sizeof(name), "site_small %s:%d", abs,
		 cli_site_line("tests/jeprof/strata_prog.c", "SITE:site_small"));
	double f, c;
	strata_row(r.out, name, &f, &c);
	ck_assert_msg(c == SMALL_BYTES, "no \"%s\" in:\n%s", name, r.out);
	free(abs);
	free(r.out);
	free(prog);
	free(path);
}
END_TEST

START_TEST(test_gzip_plain_and_automatic_dumps_agree)
{
	char *plain = strata_path("exact.heap"), *gz = strata_path("exact.heap.gz");
	char *pattern = strata_path("auto/strata.*.0.m0.heap.gz");
	glob_t g;
	ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
	ck_assert_uint_eq(g.gl_pathc, 1);
	const char *autodump = g.gl_pathv[0];
	/* The two explicit dumps, then the automatic one: the same stacks. */
	char *a = strata_read(plain);
	const char *others[] = {gz, autodump};
	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(others[i], "rb");
		ck_assert_ptr_nonnull(f);
		unsigned char magic[2] = {0};
		ck_assert_uint_eq(fread(magic, 1, 2, f), 2);
		fclose(f);
		ck_assert_msg(magic[0] == 0x1f && magic[1] == 0x8b, "%s is not gzip", others[i]);
		char *b = strata_read(others[i]);
		size_t n = strata_stacks_len(a);
		ck_assert_msg(strata_stacks_len(b) == n && memcmp(a, b, n) == 0,
			      "%s and %s differ", plain, others[i]);
		free(b);
	}
	free(a);
	/* And the same report. */
	cli_result_t rp = cli_run("%s --text --show_bytes %s", cli_bin(), plain);
	cli_result_t rg = cli_run("%s --text --show_bytes %s", cli_bin(), gz);
	cli_result_t ra = cli_run("%s --text --show_bytes %s", cli_bin(), autodump);
	ck_assert_int_eq(rp.status, 0);
	ck_assert_str_eq(rp.out, rg.out);
	ck_assert_str_eq(rp.out, ra.out);
	free(rp.out);
	free(rg.out);
	free(ra.out);
	/* One less the other: nothing left. */
	rp = cli_run("%s --text --show_bytes --base=%s %s", cli_bin(), plain, gz);
	ck_assert_msg(strncmp(rp.out, "Total: 0 B\n", 11) == 0, "%s", rp.out);
	free(rp.out);
	globfree(&g);
	free(pattern);
	free(plain);
	free(gz);
}
END_TEST

START_TEST(test_thread_selects_the_named_thread)
{
	char *path = strata_path("exact.heap");
	char *dump = strata_read(path);
	long worker = strata_thread_of(dump, "jp-worker");
	long main_t = strata_thread_of(dump, "jp-main");
	free(dump);
	cli_result_t r = cli_run("%s --text --show_bytes --thread=%ld %s", cli_bin(), worker, path);
	ck_assert_int_eq(r.status, 0);
	char want[64];
	snprintf(want, sizeof(want), "Total (t%ld): 3276800 B\n", worker);
	ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	cli_expect_row(r.out, "site_thread", 50 * 64 * KiB, 50 * 64 * KiB);
	ck_assert_ptr_null(strstr(r.out, "site_big"));
	free(r.out);
	r = cli_run("%s --text --inuse_objects --thread=%ld %s", cli_bin(), main_t, path);
	ck_assert_int_eq(r.status, 0);
	cli_expect_row(r.out, "site_big", 8, 8);
	cli_expect_row(r.out, "jp_shared_alloc", 100, 100);
	ck_assert_ptr_null(strstr(r.out, "site_thread"));
	free(r.out);
	free(path);
}
END_TEST

START_TEST(test_frame_pointer_unwinder_same_sites)
{
	/* prof_backtrace:fp stops where frame pointers stop (in libc), but
	 * finds the same allocating functions and their callers in the program. */
	char *path = strata_path("fp.heap");
	cli_result_t r = cli_run("%s --text --show_bytes %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	strata_expect_sites(r.out, false);
	double f, c;
	strata_row(r.out, "main", &f, &c);
	ck_assert_msg(f == 0 && c >= 8 * MiB + 20 * 256 * KiB, "%s", r.out);
	free(r.out);
	free(path);
}
END_TEST

START_TEST(test_sampled_within_tolerance)
{
	char *path = strata_path("sampled.heap");
	char *dump = strata_read(path);
	ck_assert_msg(strncmp(dump, "heap_v2/1024\n", 13) == 0, "%.40s", dump);
	free(dump);
	cli_result_t r = cli_run("%s --text --show_bytes %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	double f, c, f2, c2;
	/* Objects of 16 KiB and more at a 1 KiB mean interval: all sampled, scale ~1. */
	for (size_t i = 0; i < NSITES; i++) {
		strata_row(r.out, sites[i].func, &f, &c);
		double tol = sites[i].bytes / sites[i].objects >= 16 * KiB ? 0.001 : 0.1;
		ck_assert_msg(fabs(f - sites[i].bytes) <= tol * sites[i].bytes, "%s %.0f:\n%s",
			      sites[i].func, f, r.out);
	}
	/* 144000 B of 48 B objects: ~140 samples, 8% standard error: 35% is 4 of them. */
	strata_row(r.out, "site_small", &f, &c);
	strata_row(r.out, "small_helper (inline)", &f2, &c2);
	ck_assert_msg(fabs(c - SMALL_BYTES) <= 0.35 * SMALL_BYTES, "site_small %.0f:\n%s", c,
		      r.out);
	ck_assert_double_eq_tol(f + (f2 > 0 ? f2 : 0), c, 0.5);
	free(r.out);
	r = cli_run("%s --text --inuse_objects %s", cli_bin(), path);
	strata_row(r.out, "site_small", &f, &c);
	ck_assert_msg(fabs(c - SMALL_OBJECTS) <= 0.35 * SMALL_OBJECTS, "%s", r.out);
	cli_expect_row(r.out, "site_big", 8, 8);
	free(r.out);
	free(path);
}
END_TEST

/* The rows of a --text report after its Total line. */
typedef struct report_row {
	char name[512];
	char cols[128]; /* the five columns, as printed */
	double flat;
} report_row_t;

static size_t
strata_rows(const char *out, report_row_t *rows, size_t max)
{
	size_t n = 0;
	const char *l = strchr(out, '\n');
	for (l = l != NULL ? l + 1 : ""; *l != '\0' && n < max;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl != NULL ? (size_t)(nl - l) : strlen(l);
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		int pos = 0;
		double flat;
		ck_assert_msg(sscanf(line, "%lf %*s %*s %*s %*s %n", &flat, &pos) == 1 && pos > 0,
			      "not a row: %s", line);
		report_row_t *r = &rows[n++];
		snprintf(r->cols, sizeof(r->cols), "%.*s", pos, line);
		snprintf(r->name, sizeof(r->name), "%s", line + pos);
		/* nm adds symbol versions ("@@GLIBC_2.2.5") that DWARF names lack. */
		char *at = strstr(r->name, "@@");
		if (at != NULL)
			*at = '\0';
		r->flat = flat;
		l = nl != NULL ? nl + 1 : l + len;
	}
	return n;
}

static const report_row_t *
strata_find(const report_row_t *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

START_TEST(test_sampled_agrees_with_perl_jeprof)
{
	/* perl jeprof symbolizes only a program named as in the mappings. */
	char *d = realpath(cli_strata_data(), NULL);
	ck_assert_ptr_nonnull(d);
	cli_result_t ours = cli_run("%s --text --show_bytes %s/strata_prog %s/sampled.heap",
				    cli_bin(), d, d);
	cli_result_t perl = cli_run("/usr/bin/jeprof --text --show_bytes %s/strata_prog "
				    "%s/sampled.heap 2>/dev/null",
				    d, d);
	ck_assert_int_eq(ours.status, 0);
	ck_assert_int_eq(perl.status, 0);
	const char *eo = strchr(ours.out, '\n'), *ep = strchr(perl.out, '\n');
	ck_assert_ptr_nonnull(eo);
	ck_assert_ptr_nonnull(ep);
	size_t total_len = (size_t)(eo - ours.out);
	ck_assert_msg(ep - perl.out == eo - ours.out && memcmp(ours.out, perl.out, total_len) == 0,
		      "totals differ:\nours: %s\nperl: %s", ours.out, perl.out);
	static report_row_t o[512], p[512];
	size_t no = strata_rows(ours.out, o, 512), np = strata_rows(perl.out, p, 512);
	/*
	 * The same rows with the same five columns.  One known difference: perl
	 * runs addr2line without -i on a library whose nm output lacks _fini
	 * (libc), so there an inlined function loses " (inline)" and the
	 * function it is inlined into is missing (a zero-flat caller here).
	 */
	for (size_t i = 0; i < np; i++) {
		const report_row_t *r = strata_find(o, no, p[i].name);
		if (r == NULL) {
			char inl[600];
			snprintf(inl, sizeof(inl), "%s (inline)", p[i].name);
			r = strata_find(o, no, inl);
		}
		ck_assert_msg(r != NULL && strcmp(r->cols, p[i].cols) == 0,
			      "perl row \"%s%s\" differs:\nours:\n%s\nperl:\n%s", p[i].cols,
			      p[i].name, ours.out, perl.out);
	}
	for (size_t i = 0; i < no; i++) {
		char base[512];
		snprintf(base, sizeof(base), "%s", o[i].name);
		char *inl = strstr(base, " (inline)");
		if (inl != NULL)
			*inl = '\0';
		bool in_perl = strata_find(p, np, o[i].name) != NULL ||
			       strata_find(p, np, base) != NULL;
		ck_assert_msg(in_perl || o[i].flat == 0,
			      "our row \"%s%s\" is not perl's:\nours:\n%s\nperl:\n%s", o[i].cols,
			      o[i].name, ours.out, perl.out);
	}
	for (size_t i = 0; i < NSITES; i++)
		ck_assert_ptr_nonnull(strata_find(p, np, sites[i].func));
	free(ours.out);
	free(perl.out);
	free(d);
}
END_TEST

START_TEST(test_collapsed_callgrind_and_dot)
{
	char *path = strata_path("exact.heap");
	char *dump = strata_read(path);
	double objects, total;
	strata_stack_sums(dump, &objects, &total);
	free(dump);
	cli_result_t r = cli_run("%s --collapsed %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, ";main;site_big 8388608\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ";main;site_realloc 5242880\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ";main;jp_shared_alloc 409600\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "start_thread;site_thread 3276800\n"));
	/* Every line "outermost;...;innermost <value>", the values summing to the total. */
	double sum = 0;
	for (const char *l = r.out; *l != '\0'; l = strchr(l, '\n') + 1) {
		const char *nl = strchr(l, '\n');
		ck_assert_msg(nl != NULL, "%s", l);
		const char *sp = memrchr(l, ' ', (size_t)(nl - l));
		ck_assert_msg(sp != NULL && sp > l &&
				      strspn(sp + 1, "0123456789") == (size_t)(nl - sp - 1),
			      "%.*s", (int)(nl - l), l);
		sum += strtod(sp + 1, NULL);
	}
	ck_assert_double_eq_tol(sum, total, 0.5);
	free(r.out);
	r = cli_run("%s --callgrind %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_eq(strstr(r.out, "events: Hits\n"), r.out);
	char want[64];
	snprintf(want, sizeof(want), "\n%d 8388608\n",
		 cli_site_line("tests/jeprof/strata_prog.c", "SITE:site_big"));
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, ") site_thread\n"));
	free(r.out);
	r = cli_run("%s --dot %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_eq(strstr(r.out, "digraph \""), r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "/strata_prog\\lTotal MB: "));
	ck_assert_ptr_nonnull(strstr(r.out, "[label=\"site_big\\n8.0 ("));
	ck_assert_ptr_nonnull(strstr(r.out, "[label=\"site_thread\\n3.1 ("));
	ck_assert_ptr_nonnull(strstr(r.out, "\n}\n"));
	free(r.out);
	free(path);
}
END_TEST

START_TEST(test_flame_and_proto)
{
	char *path = strata_path("exact.heap.gz");
	cli_result_t r = cli_run(
		"%s --flame %s | python3 -c 'import sys, xml.dom.minidom as m; "
		"d = m.parseString(sys.stdin.buffer.read()); "
		"print(\"\\n\".join(t.firstChild.data for t in d.getElementsByTagName(\"title\") "
		"if t.firstChild))'",
		cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "\nsite_big (8.0 MB, ") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "\nsite_thread (3.1 MB, ") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "\njp_shared_alloc (0.4 MB, ") != NULL, "%s", r.out);
	free(r.out);
	const char *strs[] = {"6: \"inuse_space\"", "6: \"site_big\"", "6: \"site_thread\"",
			      "6: \"jp_shared_alloc\"", "/strata_prog\"", "/libjpshared.so\""};
	static uint8_t buf[1 << 22];
	int n = cli_proto_read(path, "build/jeprof/strata.pb.gz", strs,
			       sizeof(strs) / sizeof(strs[0]), buf, sizeof(buf));
	/* Values are alloc_objects, alloc_space, inuse_objects, inuse_space. */
	char *dump = strata_read(path);
	double objects, bytes;
	strata_stack_sums(dump, &objects, &bytes);
	free(dump);
	int nsamples;
	ck_assert_int_eq(cli_sum_samples(buf, buf + n, 3, &nsamples), (int64_t)bytes);
	ck_assert_int_eq(cli_sum_samples(buf, buf + n, 2, &nsamples), (int64_t)objects);
	ck_assert_int_ge(nsamples, (int)NSITES + 1);
	free(path);
}
END_TEST

/* jeprof --recent on the ring strata wrote in the same run (its last 1200
 * samples): the newest are jp_shared_alloc's, live, in the library's
 * source; before them site_freed's, each freed on the next line. */
START_TEST(test_recent_allocations_from_strata)
{
	char *path = strata_path("exact.recent.json.gz");
	cli_result_t r = cli_run("%s --recent --recent_max=2 %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, "Recent allocations: 2 of 1200 shown (2 live, 0 freed), "
	                             "sample_interval 1, recent_alloc_max 1200\n",
	                      90) == 0,
	              "%s", r.out);
	char want[1024];
	char *shared = cli_abs_source("tests/jeprof/shared.c");
	char *prog = cli_abs_source("tests/jeprof/strata_prog.c");
	snprintf(want, sizeof(want), "jp_shared_alloc %s:%d\n", shared,
	         cli_site_line("tests/jeprof/shared.c", "SITE:jp_shared_alloc"));
	ck_assert_msg(strstr(r.out, want) != NULL, "no %s in:\n%s", want, r.out);
	ck_assert_msg(strstr(r.out, "4096       4096  live          t0 jp-main\n") != NULL, "%s",
	              r.out);
	free(r.out);

	r = cli_run("%s --recent --focus=site_freed --recent_max=1 %s", cli_bin(), path);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "(0 live, 1 freed)") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, " 100        112  freed ") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "freed by t0 jp-main at ") != NULL, "%s", r.out);
	const char *freed_by = strstr(r.out, "freed by");
	snprintf(want, sizeof(want), "site_freed %s:%d\n", prog,
	         cli_site_line("tests/jeprof/strata_prog.c", "SITE:site_freed"));
	const char *alloc_line = strstr(r.out, want);
	ck_assert_msg(alloc_line != NULL && alloc_line < freed_by, "no %s in:\n%s", want, r.out);
	snprintf(want, sizeof(want), "site_freed %s:%d\n", prog,
	         cli_site_line("tests/jeprof/strata_prog.c", "SITE:site_freed_free"));
	ck_assert_msg(strstr(freed_by, want) != NULL, "no %s in:\n%s", want, r.out);
	free(r.out);
	free(shared);
	free(prog);
	free(path);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("jeprof-strata");
	TCase *tc = tcase_create("strata dumps");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dump_shape_and_thread_names);
	tcase_add_test(tc, test_exact_functions_bytes_and_objects);
	tcase_add_test(tc, test_exact_lines_are_absolute);
	tcase_add_test(tc, test_gzip_plain_and_automatic_dumps_agree);
	tcase_add_test(tc, test_thread_selects_the_named_thread);
	tcase_add_test(tc, test_frame_pointer_unwinder_same_sites);
	tcase_add_test(tc, test_sampled_within_tolerance);
	tcase_add_test(tc, test_sampled_agrees_with_perl_jeprof);
	tcase_add_test(tc, test_collapsed_callgrind_and_dot);
	tcase_add_test(tc, test_flame_and_proto);
	tcase_add_test(tc, test_recent_allocations_from_strata);
	suite_add_tcase(s, tc);
	return s;
}
