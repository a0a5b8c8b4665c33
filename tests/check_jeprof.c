/*
 * check_jeprof.c — unit tests of jeprof-c's modules: string table, names
 * (demangling, jeprof short names, allocator entry points), the unsampling
 * formula, the heap_v2 reader (values, caller-address fix-up, threads,
 * symbolized profiles, gzip) and its line-numbered errors.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "graph.h"
#include "profile.h"
#include "read.h"
#include "strtab.h"
#include "symname.h"

START_TEST(test_strtab_interns)
{
	strtab_t t;
	strtab_init(&t);
	ck_assert_uint_eq(strtab_intern_cstr(&t, ""), 0);
	uint32_t a = strtab_intern_cstr(&t, "malloc");
	for (int i = 0; i < 1000; i++) {
		char buf[32];
		snprintf(buf, sizeof(buf), "f%d", i);
		strtab_intern_cstr(&t, buf);
	}
	ck_assert_uint_eq(strtab_intern_cstr(&t, "malloc"), a);
	ck_assert_str_eq(strtab_get(&t, a), "malloc");
	ck_assert_uint_eq(strtab_find(&t, "f999", 4), a + 1000);
	ck_assert_uint_eq(strtab_find(&t, "nope", 4), UINT32_MAX);
	strtab_fini(&t);
}
END_TEST

START_TEST(test_symname_demangles_and_shortens)
{
	char *d = symname_demangle("_ZN2jp4Pool4growEm");
	ck_assert_str_eq(d, "jp::Pool::grow(unsigned long)");
	char *s = symname_shorten(d);
	ck_assert_str_eq(s, "jp::Pool::grow");
	free(d);
	free(s);
	d = symname_demangle("plain_c_name");
	ck_assert_str_eq(d, "plain_c_name");
	free(d);
	s = symname_shorten("std::vector<int, std::allocator<int> >::push_back(int const&) const");
	ck_assert_str_eq(s, "std::vector::push_back");
	free(s);
	s = symname_shorten("int ns::f(char)");
	ck_assert_str_eq(s, "ns::f");
	free(s);
	s = symname_shorten("operator new(unsigned long)");
	ck_assert_str_eq(s, "operator new");
	ck_assert(symname_is_allocator(s));
	free(s);
	ck_assert(symname_is_allocator("malloc"));
	ck_assert(symname_is_allocator("posix_memalign"));
	ck_assert(!symname_is_allocator("leak_big"));
	ck_assert(!symname_is_allocator("mallocator"));
}
END_TEST

START_TEST(test_unbias_matches_jeprof)
{
	/* docs/compat.md "Unbiasing": 161 sampled 48-byte objects at R=1024 ~ 3522. */
	double n = 161, s = 7712;
	profile_unbias(&n, &s, 1024);
	ck_assert_double_eq_tol(n, 161.0 / (1.0 - exp(-47.9006 / 1024)), 0.05);
	ck_assert_double_eq_tol(n, 3522, 1);
	ck_assert_double_eq_tol(s / n, 47.9006, 0.001);
	/* Large objects are always sampled: scale 1. */
	n = 8, s = 8388608;
	profile_unbias(&n, &s, 1024);
	ck_assert_double_eq(n, 8);
	ck_assert_double_eq(s, 8388608);
	n = 0, s = 0;
	profile_unbias(&n, &s, 1024);
	ck_assert_double_eq(n, 0);
}
END_TEST

static const char good_dump[] =
	"heap_v2/1\n"
	"  t*: 3: 300 [0: 0]\n"
	"  t0: 2: 200 [0: 0] main-thread\n"
	"  t1: 1: 100 [0: 0]\n"
	"@ 0x1000 0x2001 0x3001\n"
	"  t*: 2: 200 [5: 500]\n"
	"  t0: 2: 200 [5: 500]\n"
	"@ 0x1000 0x4001\n"
	"  t*: 1: 100 [0: 0]\n"
	"  t1: 1: 100 [0: 0]\n"
	"\n"
	"MAPPED_LIBRARIES:\n"
	"00001000-00005000 r-xp 00000000 fe:00 42                   /nonexistent/prog\n"
	"7ffd0000-7ffd1000 rw-p 00000000 00:00 0                  [stack]\n";

START_TEST(test_read_values_and_fixup)
{
	profile_t p;
	profile_init(&p);
	diag_t d = {0};
	int err = read_profile_buffer(&p, "good", good_dump, strlen(good_dump), READ_ALL_THREADS,
				      false, &d);
	ck_assert_msg(err == 0, "%s", d.msg);
	ck_assert_uint_eq(p.nsamples, 2);
	ck_assert_uint_eq(p.sources[0].period, 1);
	ck_assert_uint_eq(p.sources[0].nmaps, 2);
	ck_assert(p.sources[0].maps[0].exec);
	ck_assert_str_eq(strtab_get(&p.strs, p.sources[0].maps[0].path), "/nonexistent/prog");
	const profile_sample_t *s = &p.samples[0];
	ck_assert_uint_eq(s->n, 3);
	ck_assert_double_eq_tol(s->v[PROFILE_INUSE_SPACE], 200, 1e-9);
	ck_assert_double_eq_tol(s->v[PROFILE_INUSE_OBJECTS], 2, 1e-9);
	ck_assert_double_eq_tol(s->v[PROFILE_ALLOC_SPACE], 500, 1e-9);
	/* The leaf keeps its address, callers point at the call instruction. */
	ck_assert_uint_eq(p.locs[p.stack[s->first]].addr, 0x1000);
	ck_assert_uint_eq(p.locs[p.stack[s->first + 1]].addr, 0x2000);
	ck_assert_uint_eq(p.locs[p.stack[s->first + 2]].addr, 0x3000);
	/* Both stacks share the leaf location. */
	ck_assert_uint_eq(p.stack[p.samples[1].first], p.stack[s->first]);
	profile_fini(&p);
}
END_TEST

START_TEST(test_read_selects_thread)
{
	profile_t p;
	profile_init(&p);
	diag_t d = {0};
	ck_assert_int_eq(read_profile_buffer(&p, "good", good_dump, strlen(good_dump), 1, false, &d),
			 0);
	ck_assert_uint_eq(p.nsamples, 1);
	ck_assert_double_eq_tol(p.samples[0].v[PROFILE_INUSE_SPACE], 100, 1e-9);
	profile_fini(&p);
}
END_TEST

START_TEST(test_read_base_is_negated)
{
	profile_t p;
	profile_init(&p);
	diag_t d = {0};
	ck_assert_int_eq(read_profile_buffer(&p, "a", good_dump, strlen(good_dump), -1, false, &d),
			 0);
	ck_assert_int_eq(read_profile_buffer(&p, "b", good_dump, strlen(good_dump), -1, true, &d),
			 0);
	graph_options_t go = {.granularity = GRAPH_ADDRESSES, .value = PROFILE_INUSE_SPACE};
	graph_t g;
	ck_assert_int_eq(graph_build(&g, &p, &go, &d), 0);
	ck_assert_double_eq_tol(g.total, 0, 1e-9);
	/* Each stack cancels out, and remembers how much the base had. */
	ck_assert_uint_eq(g.nstacks, 2);
	ck_assert_double_eq_tol(g.stacks[0].value, 0, 1e-9);
	ck_assert_double_eq_tol(g.stacks[0].base, 200, 1e-9);
	ck_assert_double_eq_tol(g.stacks[1].base, 100, 1e-9);
	graph_fini(&g);
	profile_fini(&p);
}
END_TEST

/* Reads text and returns the error message ("" when it was accepted). */
static char *
read_error(const char *text)
{
	profile_t p;
	profile_init(&p);
	diag_t d = {0};
	int err = read_profile_buffer(&p, "bad.heap", text, strlen(text), -1, false, &d);
	profile_fini(&p);
	return strdup(err != 0 ? d.msg : "");
}

static void
assert_read_error(const char *text, const char *expect)
{
	char *msg = read_error(text);
	ck_assert_msg(strstr(msg, expect) != NULL, "expected \"%s\", got \"%s\"", expect, msg);
	free(msg);
}

START_TEST(test_read_errors_name_file_and_line)
{
	assert_read_error("", "bad.heap:0: empty file");
	assert_read_error("\x7f" "ELF\x02\x01", "bad.heap:1: not a heap profile");
	assert_read_error("heap profile: 1: 2 [ 3: 4] @ heapprofile\n", "bad.heap:1: unsupported");
	assert_read_error("heap_v2/0\n", "bad.heap:1: sample rate 0");
	assert_read_error("heap_v2/1\n@ 0x1 zz\n", "bad.heap:2: malformed stack line");
	assert_read_error("heap_v2/1\n@ 0x1\n  t*: 1: x [0: 0]\n", "bad.heap:3: malformed count");
	assert_read_error("heap_v2/1\n@ 0x1\n  t*: 1: 99999999999999999999999 [0: 0]\n",
			  "bad.heap:3: malformed count");
	assert_read_error("heap_v2/1\n@ 0x1\n@ 0x2\n  t*: 1: 2 [0: 0]\n",
			  "bad.heap:3: stack without count lines");
	assert_read_error("heap_v2/1\n@ 0x1\n  t*: 1: 2 [0: 0]\n", "truncated profile");
	assert_read_error("heap_v2/1\n@ 0x1\n  t*: 1: 2 [0: 0]\n  t*: 1: 2 [0: 0]\n",
			  "bad.heap:4: duplicate count line");
	assert_read_error("heap_v2/1\n\nMAPPED_LIBRARIES:\nzz-yy r-xp\n",
			  "bad.heap:4: malformed MAPPED_LIBRARIES");
	assert_read_error("--- symbol\n0x10 f\n", "truncated symbol section");
	char *ok = read_error("heap_v2/1\n\nMAPPED_LIBRARIES:\n");
	ck_assert_str_eq(ok, "");
	free(ok);
}
END_TEST

START_TEST(test_read_symbolized_profile)
{
	const char text[] = "--- symbol\n"
			    "binary=/bin/prog\n"
			    "0x0000000000001000 outer--inner\n"
			    "---\n"
			    "--- heap\n"
			    "heap_v2/1\n"
			    "@ 0x1000\n"
			    "  t*: 1: 64 [0: 0]\n"
			    "\n"
			    "MAPPED_LIBRARIES:\n";
	profile_t p;
	profile_init(&p);
	diag_t d = {0};
	ck_assert_int_eq(read_profile_buffer(&p, "sym", text, strlen(text), -1, false, &d), 0);
	ck_assert_uint_eq(p.sources[0].nsyms, 1);
	ck_assert_str_eq(strtab_get(&p.strs, p.sources[0].binary), "/bin/prog");
	const profile_symbol_t *sym = profile_find_symbol(&p, 0, 0x1000);
	ck_assert_ptr_nonnull(sym);
	ck_assert_uint_eq(sym->n, 2);
	ck_assert_str_eq(strtab_get(&p.strs, p.symnames[sym->first]), "outer");
	ck_assert_str_eq(strtab_get(&p.strs, p.symnames[sym->first + 1]), "inner");
	ck_assert_ptr_null(profile_find_symbol(&p, 0, 0x1001));
	profile_fini(&p);
}
END_TEST

START_TEST(test_read_gzip_file)
{
	char path[] = "/tmp/jeprof-unit-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	gzFile gz = gzdopen(fd, "wb");
	ck_assert_int_eq(gzwrite(gz, good_dump, (unsigned)strlen(good_dump)), (int)strlen(good_dump));
	ck_assert_int_eq(gzclose(gz), Z_OK);
	ck_assert(read_is_profile(path));
	profile_t p;
	profile_init(&p);
	diag_t d = {0};
	int err = read_profile_file(&p, path, -1, false, &d);
	ck_assert_msg(err == 0, "%s", d.msg);
	ck_assert_uint_eq(p.nsamples, 2);
	profile_fini(&p);
	unlink(path);
	ck_assert(!read_is_profile(path));
	profile_init(&p);
	memset(&d, 0, sizeof(d));
	ck_assert_int_ne(read_profile_file(&p, path, -1, false, &d), 0);
	ck_assert_msg(strstr(d.msg, path) != NULL, "%s", d.msg);
	profile_fini(&p);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("jeprof");
	TCase *tc = tcase_create("units");
	tcase_add_test(tc, test_strtab_interns);
	tcase_add_test(tc, test_symname_demangles_and_shortens);
	tcase_add_test(tc, test_unbias_matches_jeprof);
	tcase_add_test(tc, test_read_values_and_fixup);
	tcase_add_test(tc, test_read_selects_thread);
	tcase_add_test(tc, test_read_base_is_negated);
	tcase_add_test(tc, test_read_errors_name_file_and_line);
	tcase_add_test(tc, test_read_symbolized_profile);
	tcase_add_test(tc, test_read_gzip_file);
	suite_add_tcase(s, tc);
	return s;
}
