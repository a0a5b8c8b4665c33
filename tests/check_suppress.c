/*
 * check_suppress.c — the leak report's suppressions (prof/suppress.h) on
 * frames the test describes: the file's syntax (leak: or bare patterns,
 * comments, blank lines, spaces, CRLF), '*' and the '^'/'$' anchors,
 * matching by function (inlined ones and mangled symbols too) or by file,
 * files that cannot be read, and the two kinds of built-in rules.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prof/suppress.h"

/* A frame of one function in module (a base name; the path puts it
 * under /lib). */
static prof_sym_t
frame(const char *func, const char *module)
{
	static char paths[8][128];
	static unsigned next;
	prof_sym_t sym = {.nfuncs = 1};
	sym.funcs[0].name = func;
	sym.symbol = func;
	if (module != NULL) {
		char *path = paths[next++ % 8];
		snprintf(path, sizeof(paths[0]), "/lib/%s", module);
		sym.module_path = path;
		sym.module = module;
	}
	return sym;
}

/* The verdict on a stack of n frames. */
static prof_suppress_verdict_t
judge(const prof_suppress_t *s, const prof_sym_t *frames, size_t n)
{
	prof_suppress_match_t m = {0};
	for (size_t i = 0; i < n; i++)
		prof_suppress_frame(s, &m, &frames[i]);
	return prof_suppress_verdict(s, &m);
}

/* The verdict on one frame func in module, under the file's patterns
 * only. */
static prof_suppress_verdict_t
judge_one(const prof_suppress_t *s, const char *func, const char *module)
{
	prof_sym_t f = frame(func, module);
	return judge(s, &f, 1);
}

/* Writes text to a fresh file and loads it into s (no built-in rules). */
static void
load_text(prof_suppress_t *s, const char *text)
{
	char path[] = "/tmp/strata-supp-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*s = (prof_suppress_t){0};
	ck_assert_int_eq(prof_suppress_load(s, path), 0);
	unlink(path);
}

START_TEST(test_file_syntax)
{
	prof_suppress_t s;
	load_text(&s, "# a comment\n"
	              "\n"
	              "leak:first_fn\n"
	              "   \t  \n"
	              "  second_fn  \n"
	              "leak:  third_fn\r\n"
	              "  # an indented comment\n"
	              "leak:\n"
	              "last_fn");
	ck_assert_uint_eq(s.npatterns, 4);
	ck_assert_int_eq(judge_one(&s, "first_fn", "prog"), PROF_SUPPRESS_FILE);
	ck_assert_int_eq(judge_one(&s, "second_fn", "prog"), PROF_SUPPRESS_FILE);
	ck_assert_int_eq(judge_one(&s, "third_fn", "prog"), PROF_SUPPRESS_FILE);
	ck_assert_int_eq(judge_one(&s, "last_fn", "prog"), PROF_SUPPRESS_FILE);
	/* No pattern is a comment's text or empty (which would match all). */
	ck_assert_int_eq(judge_one(&s, "a comment", "prog"), PROF_SUPPRESS_NONE);
	ck_assert_int_eq(judge_one(&s, "other", "prog"), PROF_SUPPRESS_NONE);
	prof_suppress_free(&s);
}
END_TEST

/* A pattern, a name, and whether the one matches the other. */
static const struct {
	const char *pattern, *name;
	bool match;
} glob_cases[] = {
	{"cache_*_init", "cache_table_init", true},
	{"cache_*_init", "my_cache__init_all", true}, /* unanchored: a substring */
	{"cache_*_init", "cache_init", false},
	{"leak:alloc", "my_allocator", true},
	{"leak:^alloc", "alloc_buffer", true},
	{"leak:^alloc", "my_alloc", false},
	{"leak:alloc$", "my_alloc", true},
	{"leak:alloc$", "alloc_buffer", false},
	{"^alloc$", "alloc", true},
	{"^alloc$", "allocs", false},
	{"^alloc$", "xalloc", false},
	/* '*' inside anchors, and a '*' that must try more than one split. */
	{"^a*b*c$", "abc", true},
	{"^a*b*c$", "axxbyybzzc", true},
	{"^a*b*c$", "axxbyyc_", false},
	{"^a*b*c$", "acb", false},
};

START_TEST(test_wildcards_and_anchors)
{
	for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++) {
		prof_suppress_t s;
		load_text(&s, glob_cases[i].pattern);
		prof_suppress_verdict_t want =
			glob_cases[i].match ? PROF_SUPPRESS_FILE : PROF_SUPPRESS_NONE;
		ck_assert_msg(judge_one(&s, glob_cases[i].name, "p") == want, "%s on %s: %s",
		              glob_cases[i].pattern, glob_cases[i].name,
		              glob_cases[i].match ? "no match" : "a match");
		prof_suppress_free(&s);
	}
}
END_TEST

START_TEST(test_matches_functions_and_files)
{
	prof_suppress_t s;
	load_text(&s, "^libthird.so\n");
	/* Any frame of the stack: the library's frame is the outermost. */
	prof_sym_t stack[3] = {frame("malloc_wrapper", "prog"), frame("work", "prog"),
	                       frame("plugin_entry", "libthird.so.1")};
	ck_assert_int_eq(judge(&s, stack, 3), PROF_SUPPRESS_FILE);
	ck_assert_int_eq(judge(&s, stack, 2), PROF_SUPPRESS_NONE);
	prof_suppress_free(&s);
	/* The whole path. */
	load_text(&s, "^/lib/libthird.so.1$\n");
	ck_assert_int_eq(judge(&s, stack, 3), PROF_SUPPRESS_FILE);
	prof_suppress_free(&s);
	/* An inlined function, and a C++ symbol by its mangled name. */
	load_text(&s, "^config_load$\n_ZN5cache4fillEv\n");
	prof_sym_t inl = frame("main", "prog");
	inl.nfuncs = 2;
	inl.funcs[1] = inl.funcs[0];
	inl.funcs[0].name = "config_load";
	ck_assert_int_eq(judge(&s, &inl, 1), PROF_SUPPRESS_FILE);
	prof_sym_t cxx = frame("cache::fill()", "prog");
	cxx.symbol = "_ZN5cache4fillEv";
	ck_assert_int_eq(judge(&s, &cxx, 1), PROF_SUPPRESS_FILE);
	/* A frame with no name and no file matches nothing. */
	prof_sym_t bare = frame(NULL, NULL);
	ck_assert_int_eq(judge(&s, &bare, 1), PROF_SUPPRESS_NONE);
	prof_suppress_free(&s);
}
END_TEST

START_TEST(test_unreadable_files)
{
	prof_suppress_t s = {.builtin = true};
	ck_assert_int_eq(prof_suppress_load(&s, "/nonexistent/leaks.supp"), ENOENT);
	ck_assert_uint_eq(s.npatterns, 0);
	ck_assert(s.builtin); /* the built-in rules still apply */
	ck_assert_int_eq(prof_suppress_load(&s, "/tmp"), EISDIR);
	ck_assert_uint_eq(s.npatterns, 0);
	/* No file at all is no error. */
	ck_assert_int_eq(prof_suppress_load(&s, ""), 0);
	ck_assert_uint_eq(s.npatterns, 0);
	prof_suppress_free(&s);
}
END_TEST

START_TEST(test_builtin_function_in_library)
{
	prof_suppress_t s = {.builtin = true};
	prof_sym_t locale[3] = {frame(NULL, "libc.so.6"), frame("setlocale", "libc.so.6"),
	                        frame("main", "prog")};
	ck_assert_int_eq(judge(&s, locale, 3), PROF_SUPPRESS_BUILTIN);
	/* The same name in another file is not the runtime's. */
	prof_sym_t mine[2] = {frame("setlocale", "prog"), frame("main", "prog")};
	ck_assert_int_eq(judge(&s, mine, 2), PROF_SUPPRESS_NONE);
	prof_sym_t tls[2] = {frame("_dl_allocate_tls", "ld-linux-x86-64.so.2"),
	                     frame("start_thread", "libc.so.6")};
	ck_assert_int_eq(judge(&s, tls, 2), PROF_SUPPRESS_BUILTIN);
	/* Off: nothing is suppressed. */
	s.builtin = false;
	ck_assert_int_eq(judge(&s, locale, 3), PROF_SUPPRESS_NONE);
}
END_TEST

START_TEST(test_builtin_library_initialisation)
{
	prof_suppress_t s = {.builtin = true};
	/* libstdc++'s own initialisation, before main: only it and the
	 * loader on the stack (names or not). */
	prof_sym_t pool[3] = {frame(NULL, "libstdc++.so.6.0.30"),
	                      frame("call_init", "ld-linux-x86-64.so.2"),
	                      frame(NULL, "ld-linux-x86-64.so.2")};
	ck_assert_int_eq(judge(&s, pool, 3), PROF_SUPPRESS_BUILTIN);
	/* operator new in a library's global constructor: the program's
	 * code is on the stack, so it is the program's leak. */
	prof_sym_t global[4] = {frame("operator new(unsigned long)", "libstdc++.so.6"),
	                        frame("_GLOBAL__sub_I_plugin.cc", "libplugin.so"),
	                        frame("call_init", "ld-linux-x86-64.so.2"),
	                        frame("_dl_init", "ld-linux-x86-64.so.2")};
	ck_assert_int_eq(judge(&s, global, 4), PROF_SUPPRESS_NONE);
	/* Only the loader: not libstdc++'s. */
	ck_assert_int_eq(judge(&s, pool + 1, 2), PROF_SUPPRESS_NONE);
	/* A frame in no file at all rules it out too. */
	prof_sym_t odd[2] = {frame(NULL, "libstdc++.so.6"), frame(NULL, NULL)};
	ck_assert_int_eq(judge(&s, odd, 2), PROF_SUPPRESS_NONE);
}
END_TEST

/* A pattern of the file counts as the file's even where a built-in rule
 * would also have suppressed the stack. */
START_TEST(test_file_counts_before_builtin)
{
	prof_suppress_t s;
	load_text(&s, "leak:main\n");
	s.builtin = true;
	prof_sym_t locale[2] = {frame("setlocale", "libc.so.6"), frame("main", "prog")};
	ck_assert_int_eq(judge(&s, locale, 2), PROF_SUPPRESS_FILE);
	/* What one frame matched, added to another stack's match. */
	prof_suppress_match_t m = {0}, f = {0};
	prof_suppress_frame(&s, &f, &locale[0]);
	prof_suppress_add(&m, &f);
	ck_assert_int_eq(prof_suppress_verdict(&s, &m), PROF_SUPPRESS_BUILTIN);
	prof_suppress_free(&s);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("suppress");
	TCase *tc = tcase_create("suppress");
	tcase_add_test(tc, test_file_syntax);
	tcase_add_test(tc, test_wildcards_and_anchors);
	tcase_add_test(tc, test_matches_functions_and_files);
	tcase_add_test(tc, test_unreadable_files);
	tcase_add_test(tc, test_builtin_function_in_library);
	tcase_add_test(tc, test_builtin_library_initialisation);
	tcase_add_test(tc, test_file_counts_before_builtin);
	suite_add_tcase(s, tc);
	return s;
}
