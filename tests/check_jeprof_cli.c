/*
 * check_jeprof_cli.c — golden and differential tests of the jeprof program
 * (the ASan/UBSan build, $JEPROF_BIN) on dumps that Debian's jemalloc wrote
 * for tests/jeprof/prog.c ($JEPROF_DATA, made by tests/jeprof/make_data.sh):
 * right functions, right file:line (looked up from the SITE: markers of the
 * sources), exact bytes (lg_prof_sample:0) or within sampling tolerance,
 * agreement with the perl jeprof, and well-formed dot/SVG/flame/pprof.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jeprof_util.h"

START_TEST(test_text_exact_bytes_and_lines)
{
	const char *d = cli_data();
	cli_result_t r = cli_run("%s --text --show_bytes --lines %s/prog %s/prog.heap", cli_bin(),
				 d, d);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, "Total: 12301248 B\n", 18) == 0, "%s", r.out);
	char *prog = cli_abs_source("tests/jeprof/prog.c");
	char *shared = cli_abs_source("tests/jeprof/shared.c");
	char name[1024];
	snprintf(name, sizeof(name), "leak_big %s:%d", prog,
		 cli_site_line("tests/jeprof/prog.c", "SITE:leak_big"));
	cli_expect_row(r.out, name, 8388608, 8388608);
	snprintf(name, sizeof(name), "leak_inline_helper (inline) %s:%d", prog,
		 cli_site_line("tests/jeprof/prog.c", "SITE:leak_inline_helper"));
	cli_expect_row(r.out, name, 144000, 144000);
	snprintf(name, sizeof(name), "leak_small %s:%d", prog,
		 cli_site_line("tests/jeprof/prog.c", "SITE:leak_small"));
	cli_expect_row(r.out, name, 0, 144000);
	snprintf(name, sizeof(name), "thread_alloc %s:%d", prog,
		 cli_site_line("tests/jeprof/prog.c", "SITE:thread_alloc"));
	cli_expect_row(r.out, name, 3276800, 3276800);
	snprintf(name, sizeof(name), "jp_shared_alloc %s:%d", shared,
		 cli_site_line("tests/jeprof/shared.c", "SITE:jp_shared_alloc"));
	cli_expect_row(r.out, name, 409600, 409600);
	free(prog);
	free(shared);
	free(r.out);
}
END_TEST

START_TEST(test_text_functions_objects_and_gzip)
{
	const char *d = cli_data();
	cli_result_t plain = cli_run("%s --text --inuse_objects %s/prog.heap", cli_bin(), d);
	cli_result_t gz = cli_run("%s --text --inuse_objects %s/prog.heap.gz", cli_bin(), d);
	ck_assert_int_eq(plain.status, 0);
	ck_assert_int_eq(gz.status, 0);
	ck_assert_str_eq(plain.out, gz.out);
	cli_expect_row(plain.out, "leak_inline_helper (inline)", 3000, 3000);
	cli_expect_row(plain.out, "leak_big", 8, 8);
	cli_expect_row(plain.out, "jp_shared_alloc", 100, 100);
	cli_expect_row(plain.out, "thread_alloc", 50, 50);
	/* Allocator frames are gone. */
	ck_assert_ptr_null(strstr(plain.out, " malloc\n"));
	ck_assert_ptr_null(strstr(plain.out, " calloc\n"));
	free(plain.out);
	free(gz.out);
	cli_result_t mb = cli_run("%s --text %s/prog.heap", cli_bin(), d);
	ck_assert_msg(strstr(mb.out, "Total: 11.7 MB\n") == mb.out, "%s", mb.out);
	ck_assert_ptr_nonnull(strstr(mb.out, "     8.0  68.2%  68.2%      8.0  68.2% leak_big\n"));
	free(mb.out);
}
END_TEST

START_TEST(test_non_pie_and_stripped_with_build_id)
{
	const char *d = cli_data();
	cli_result_t r = cli_run("%s --text --show_bytes %s/prog_nopie %s/nopie.heap", cli_bin(), d, d);
	ck_assert_int_eq(r.status, 0);
	cli_expect_row(r.out, "leak_big", 8388608, 8388608);
	cli_expect_row(r.out, "jp_shared_alloc", 409600, 409600);
	free(r.out);
	/* Without its debug file the stripped program has no static names... */
	r = cli_run("%s --text --show_bytes %s/prog_stripped %s/stripped.heap", cli_bin(), d, d);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_null(strstr(r.out, "leak_big"));
	free(r.out);
	/* ... with it, found by build-id, names and lines are back. */
	r = cli_run("%s --text --show_bytes --lines --debug-dir=%s/debug %s/prog_stripped "
		    "%s/stripped.heap",
		    cli_bin(), d, d, d);
	ck_assert_int_eq(r.status, 0);
	char *prog = cli_abs_source("tests/jeprof/prog.c");
	char name[1024];
	snprintf(name, sizeof(name), "leak_big %s:%d", prog,
		 cli_site_line("tests/jeprof/prog.c", "SITE:leak_big"));
	cli_expect_row(r.out, name, 8388608, 8388608);
	free(prog);
	free(r.out);
}
END_TEST

START_TEST(test_sampled_within_tolerance)
{
	const char *d = cli_data();
	cli_result_t r = cli_run("%s --text --show_bytes %s/sampled.heap", cli_bin(), d);
	ck_assert_int_eq(r.status, 0);
	double f, c;
	char *row = cli_find_row(r.out, "leak_big", &f, &c);
	ck_assert_ptr_nonnull(row);
	free(row);
	ck_assert_msg(f > 8388608 * 0.97 && f < 8388608 * 1.03, "leak_big %.0f", f);
	row = cli_find_row(r.out, "leak_inline_helper (inline)", &f, &c);
	ck_assert_ptr_nonnull(row);
	free(row);
	/* 144000 bytes at a 1 KiB mean sampling interval: ~130 samples, so
	 * +-50% is over 5 standard deviations (at 4 KiB, ~35 samples, a run
	 * of jemalloc's randomly seeded sampler fell outside it). */
	ck_assert_msg(f > 144000 * 0.5 && f < 144000 * 1.5, "leak_small %.0f", f);
	free(r.out);
}
END_TEST

START_TEST(test_base_thread_focus_ignore)
{
	const char *d = cli_data();
	cli_result_t r = cli_run("%s --text --show_bytes --base=%s/prog.heap %s/prog16.heap",
				 cli_bin(), d, d);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, "Total: 8388608 B\n", 17) == 0, "%s", r.out);
	cli_expect_row(r.out, "leak_big", 8388608, 8388608);
	free(r.out);
	r = cli_run("%s --text --show_bytes --thread=1 %s/prog.heap", cli_bin(), d);
	ck_assert_msg(strncmp(r.out, "Total (t1): 3276800 B\n", 22) == 0, "%s", r.out);
	ck_assert_ptr_null(strstr(r.out, "leak_big"));
	free(r.out);
	r = cli_run("%s --text --show_bytes --focus=leak_sm %s/prog.heap", cli_bin(), d);
	ck_assert_msg(strncmp(r.out, "Total: 144000 B\n", 16) == 0, "%s", r.out);
	free(r.out);
	r = cli_run("%s --text --show_bytes --ignore='^leak_big$' %s/prog.heap", cli_bin(), d);
	ck_assert_msg(strncmp(r.out, "Total: 3912640 B\n", 17) == 0, "%s", r.out);
	free(r.out);
	r = cli_run("%s --text --cum %s/prog.heap", cli_bin(), d);
	ck_assert_msg(strstr(r.out, "_start\n") < strstr(r.out, "leak_big\n"), "%s", r.out);
	free(r.out);
}
END_TEST

START_TEST(test_collapsed_and_callgrind)
{
	const char *d = cli_data();
	cli_result_t r = cli_run("%s --collapsed %s/prog.heap", cli_bin(), d);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, ";main;leak_big 8388608\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ";main;leak_small;leak_inline_helper (inline) 144000\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ";main;jp_shared_alloc 409600\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ";start_thread;thread_alloc 3276800\n"));
	free(r.out);
	r = cli_run("%s --callgrind %s/prog.heap", cli_bin(), d);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_eq(strstr(r.out, "events: Hits\n"), r.out);
	char want[64];
	snprintf(want, sizeof(want), "\n%d 8388608\n",
		 cli_site_line("tests/jeprof/prog.c", "SITE:leak_big"));
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, ") leak_big\n"));
	free(r.out);
}
END_TEST

START_TEST(test_dot_svg_pdf)
{
	const char *d = cli_data();
	cli_result_t r = cli_run("%s --dot %s/prog %s/prog.heap", cli_bin(), d, d);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_eq(strstr(r.out, "digraph \""), r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "Total MB: 11.7\\l"));
	ck_assert_ptr_nonnull(strstr(r.out, "[label=\"leak_big\\n8.0 (68.2%)\\r\",shape=box"));
	ck_assert_ptr_nonnull(strstr(r.out, ",dashed\"]"));
	free(r.out);
	r = cli_run("%s --svg %s/prog.heap | python3 -c 'import sys, xml.dom.minidom as m; "
		    "d = m.parseString(sys.stdin.buffer.read()); "
		    "print(\"\\n\".join(t.firstChild.data for t in d.getElementsByTagName(\"text\") "
		    "if t.firstChild))'",
		    cli_bin(), d);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "leak_big\n") != NULL, "%s", r.out);
	free(r.out);
	r = cli_run("%s --pdf %s/prog.heap > build/jeprof/test.pdf && head -c 5 build/jeprof/test.pdf",
		    cli_bin(), d);
	ck_assert_str_eq(r.out, "%PDF-");
	free(r.out);
	/* No graphviz: a clear error, exit status 1. */
	r = cli_run("PATH=/nonexistent %s --svg %s/prog.heap 2>&1", cli_bin(), d);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "graphviz"));
	free(r.out);
}
END_TEST

START_TEST(test_flame_svg)
{
	const char *d = cli_data();
	const char *py = "python3 -c 'import sys, xml.dom.minidom as m; "
			 "d = m.parseString(sys.stdin.buffer.read()); "
			 "print(\"\\n\".join(t.firstChild.data for t in d.getElementsByTagName(\"title\") "
			 "if t.firstChild)); "
			 "print(\"\\n\".join(r.getAttribute(\"fill\") for r in d.getElementsByTagName(\"rect\")))'";
	cli_result_t r = cli_run("%s --flame %s/prog.heap | %s", cli_bin(), d, py);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "leak_big (8.0 MB, 68.2%)\n") != NULL, "%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "leak_inline_helper (inline) ("));
	free(r.out);
	/* An icicle: the outermost frames are at the top, just under the title
	 * (seen without scrolling, however deep the profile), and each level of
	 * callees is lower than its callers. */
	const char *layout = "python3 -c 'import sys, xml.dom.minidom as m; "
			     "d = m.parseString(sys.stdin.buffer.read()); "
			     "y = {}; "
			     "[y.setdefault(int(g.getAttribute(\"data-d\")), set()).add("
			     "float(g.getElementsByTagName(\"rect\")[0].getAttribute(\"y\"))) "
			     "for g in d.getElementsByTagName(\"g\")]; "
			     "print(len(y), min(y[1]), all(max(y[k]) < min(y[k + 1]) for k in "
			     "sorted(y)[:-1]))'";
	r = cli_run("%s --flame %s/prog.heap | %s", cli_bin(), d, layout);
	ck_assert_int_eq(r.status, 0);
	int depths = 0;
	double root_y = 0;
	char ordered[8] = "";
	ck_assert_int_eq(sscanf(r.out, "%d %lf %7s", &depths, &root_y, ordered), 3);
	ck_assert_int_ge(depths, 3);
	ck_assert_msg(root_y <= 80, "outermost frames at y=%.1f", root_y);
	ck_assert_str_eq(ordered, "True");
	free(r.out);
	r = cli_run("%s --flame --base=%s/prog.heap %s/prog16.heap | %s", cli_bin(), d, d, py);
	ck_assert_int_eq(r.status, 0);
	/* leak_big doubled: full growth colour; thread_alloc unchanged: grey. */
	ck_assert_msg(strstr(r.out, "leak_big (16.0 MB, 81.1%, +8.0 vs base)\n") != NULL, "%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "rgb(255,0,0)"));
	ck_assert_ptr_nonnull(strstr(r.out, "rgb(235,235,235)"));
	free(r.out);
}
END_TEST

START_TEST(test_proto)
{
	const char *d = cli_data();
	const char *strs[] = {"6: \"inuse_space\"", "6: \"alloc_objects\"", "6: \"bytes\"",
			      "6: \"count\"", "6: \"leak_big\"", "6: \"jp_shared_alloc\""};
	static uint8_t buf[1 << 22];
	char dump[512];
	snprintf(dump, sizeof(dump), "%s/prog.heap", d);
	int n = cli_proto_read(dump, "build/jeprof/test.pb.gz", strs, sizeof(strs) / sizeof(strs[0]),
			       buf, sizeof(buf));
	int nsamples;
	/* Values are alloc_objects, alloc_space, inuse_objects, inuse_space. */
	ck_assert_int_eq(cli_sum_samples(buf, buf + n, 3, &nsamples), 12301248);
	cli_result_t objs = cli_run("%s --text --inuse_objects %s/prog.heap", cli_bin(), d);
	long long total_objs = 0;
	ck_assert_int_eq(sscanf(objs.out, "Total: %lld objects", &total_objs), 1);
	ck_assert_int_ge(total_objs, 3000 + 8 + 100 + 50);
	ck_assert_int_eq(cli_sum_samples(buf, buf + n, 2, &nsamples), total_objs);
	free(objs.out);
	ck_assert_int_ge(nsamples, 5);
}
END_TEST

START_TEST(test_raw_round_trip)
{
	const char *d = cli_data();
	cli_result_t r = cli_run("%s --raw %s/prog %s/prog.heap > build/jeprof/test.raw && "
				 "%s --text build/jeprof/test.raw",
				 cli_bin(), d, d, cli_bin());
	cli_result_t direct = cli_run("%s --text %s/prog.heap", cli_bin(), d);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, direct.out);
	free(r.out);
	free(direct.out);
}
END_TEST

/* Our --text against the perl jeprof's on the same dump: total and top rows. */
static void
cli_compare_with_perl(const char *dump, int rows)
{
	/* perl jeprof only symbolizes a program named exactly as in the mappings. */
	char *d = realpath(cli_data(), NULL);
	ck_assert_ptr_nonnull(d);
	cli_result_t ours = cli_run("%s --text %s/prog %s/%s", cli_bin(), d, d, dump);
	cli_result_t perl = cli_run("/usr/bin/jeprof --text %s/prog %s/%s 2>/dev/null", d, d, dump);
	ck_assert_int_eq(ours.status, 0);
	ck_assert_int_eq(perl.status, 0);
	const char *a = ours.out, *b = perl.out;
	for (int i = 0; i <= rows; i++) {
		const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
		ck_assert_ptr_nonnull(ea);
		ck_assert_ptr_nonnull(eb);
		/* nm adds symbol versions ("@@GLIBCXX_3.4.26") that DWARF names lack. */
		const char *at = strstr(b, "@@");
		size_t lb = at != NULL && at < eb ? (size_t)(at - b) : (size_t)(eb - b);
		ck_assert_msg((size_t)(ea - a) == lb && memcmp(a, b, lb) == 0,
			      "row %d differs:\nours: %.*s\nperl: %.*s", i, (int)(ea - a), a,
			      (int)(eb - b), b);
		a = ea + 1;
		b = eb + 1;
	}
	free(ours.out);
	free(perl.out);
	free(d);
}

START_TEST(test_differential_perl_jeprof)
{
	cli_compare_with_perl("prog.heap", 5);
	cli_compare_with_perl("sampled.heap", 5);
}
END_TEST

START_TEST(test_bad_input_is_an_error)
{
	const char *d = cli_data();
	cli_result_t r = cli_run("head -c 700 %s/prog.heap > build/jeprof/trunc.heap; "
				 "%s --text build/jeprof/trunc.heap 2>&1",
				 d, cli_bin());
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out, "jeprof: build/jeprof/trunc.heap:") == r.out, "%s", r.out);
	free(r.out);
	r = cli_run("head -c 900 %s/prog.heap.gz > build/jeprof/trunc.gz; "
		    "%s --text build/jeprof/trunc.gz 2>&1",
		    d, cli_bin());
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "trunc.gz"));
	free(r.out);
	r = cli_run("%s --text %s/prog %s/prog 2>&1", cli_bin(), d, d);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "not a heap profile"));
	free(r.out);
	r = cli_run("%s --text /nonexistent.heap 2>&1", cli_bin());
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "/nonexistent.heap: No such file"));
	free(r.out);
	r = cli_run("%s --nodecount=x %s/prog.heap 2>&1", cli_bin(), d);
	ck_assert_int_eq(r.status, 1);
	free(r.out);
	r = cli_run("%s --help", cli_bin());
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "--flame"));
	free(r.out);
	r = cli_run("%s --version", cli_bin());
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "jeprof"));
	free(r.out);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("jeprof-cli");
	TCase *tc = tcase_create("cli");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_text_exact_bytes_and_lines);
	tcase_add_test(tc, test_text_functions_objects_and_gzip);
	tcase_add_test(tc, test_non_pie_and_stripped_with_build_id);
	tcase_add_test(tc, test_sampled_within_tolerance);
	tcase_add_test(tc, test_base_thread_focus_ignore);
	tcase_add_test(tc, test_collapsed_and_callgrind);
	tcase_add_test(tc, test_dot_svg_pdf);
	tcase_add_test(tc, test_flame_svg);
	tcase_add_test(tc, test_proto);
	tcase_add_test(tc, test_raw_round_trip);
	tcase_add_test(tc, test_differential_perl_jeprof);
	tcase_add_test(tc, test_bad_input_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}
