/*
 * check_api_prof_leak.c — the leak report at exit (prof_leak,
 * prof_leak_error; man strata, "Leak reports"), through processes that
 * exit:
 *   - this program, run again with three known leaks (three functions,
 *     three sizes, one in a second thread): the exit status, the summary,
 *     each context's exact bytes and objects at lg_prof_sample:0 and the
 *     frames that name it, the final dump and what bin/jeprof reads in it;
 *   - prof_leak_error_code, prof_leak_top, prof_leak without _error, the
 *     program's buffered standard output, _exit (no report);
 *   - suppression files (function, library, wildcard, anchors, comments;
 *     a file that cannot be read) and the built-in rules;
 *   - a closed standard error (from the start, and closed by the program at
 *     exit, as GNU programs do), one whose reader has gone (no SIGPIPE
 *     death), a dump folder that cannot be written, an
 *     empty prefix, and libdw missing (names from dladdr);
 *   - a C program and a C++ one (tests/leak/throw_catch.cpp, threads that
 *     throw) that free everything exit 0 under prof_leak_error; ls, sort,
 *     git --version and python3 -c pass, which keep memory of their own to
 *     the end, are left with their own allocations only;
 *   - samples/leak_ci, the CI example: make check passes, and fails with
 *     the leak built in.
 *
 * Children get their standard output and standard error on one pipe
 * (child_run_exec).  This program's child modes (CHILD_ENV) start in
 * test_suite, from main, after strata's load-time constructor; they exit
 * with CHILD_STATUS_ENV's status (0 by default).  Other programs run from
 * the repository root (build/leak/throw_catch, bin/jeprof, samples/), as
 * make check runs the suites, with LD_PRELOAD of the libstrata.so this
 * suite is linked with.  Dumps go to fresh folders under /tmp.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"

#define CHILD_ENV "STRATA_TEST_LEAK_CHILD"
#define CHILD_STATUS_ENV "STRATA_TEST_LEAK_STATUS"
#define OUT_SIZE 65536

/* Exact reports: every allocation sampled. */
#define EXACT "prof:true,lg_prof_sample:0"

/* ------------------------------------------------ the child modes */

/* Where the leaks are kept (a global: still reachable at exit, which the
 * report does not look at). */
void *volatile leak_keep[16];

/* 1 × 40960 bytes (a large size class). */
__attribute__((noinline)) static void
leak_large(void)
{
	leak_keep[0] = malloc(hide(40960));
}

/* 3 × 4096 bytes, from one call. */
__attribute__((noinline)) static void
leak_pages(void)
{
	for (int i = 0; i < 3; i++)
		leak_keep[1 + i] = malloc(hide(4096));
}

/* 5 × 48 bytes, in a second thread. */
__attribute__((noinline)) static void *
leak_in_thread(void *arg)
{
	for (int i = 0; i < 5; i++)
		leak_keep[4 + i] = malloc(hide(48));
	return arg;
}

#define LEAK_BYTES (40960 + 3 * 4096 + 5 * 48)
#define LEAK_OBJECTS (1 + 3 + 5)

static void
leak_three(void)
{
	leak_large();
	leak_pages();
	pthread_t t;
	if (pthread_create(&t, NULL, leak_in_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
		_exit(3);
}

/* Allocations of many sizes, all freed. */
static void
alloc_and_free(void)
{
	void *p[64];
	for (size_t i = 0; i < 64; i++)
		p[i] = launder(malloc(hide(1 + i * 997)));
	for (size_t i = 0; i < 64; i++)
		free(p[i]);
}

static void
close_stderr(void)
{
	close(STDERR_FILENO);
}

/* In a re-executed child: what CHILD_ENV says, then exit.  Output goes
 * through stdio without a flush: it reaches the pipe only if stdio is
 * flushed at exit. */
static void
child_main(void)
{
	const char *mode = getenv(CHILD_ENV);
	if (mode == NULL)
		return;
	const char *status_text = getenv(CHILD_STATUS_ENV);
	int status = status_text != NULL ? atoi(status_text) : 0;
	alloc_and_free();
	if (strcmp(mode, "three") == 0) {
		leak_three();
	} else if (strcmp(mode, "three_close_stderr") == 0) {
		leak_three();
		atexit(close_stderr); /* runs before strata's handler, as gnulib's */
	} else if (strcmp(mode, "three_exit") == 0) {
		leak_three();
		_exit(5);
	} else if (strcmp(mode, "clean") != 0) {
		_exit(4);
	}
	printf("child: %s done\n", mode);
	exit(status);
}

/* ------------------------------------------------ running children */

/* The libstrata.so this suite runs on (release or debug build). */
static const char *
strata_lib(void)
{
	static Dl_info info;
	ck_assert(dladdr((void *)mallctl, &info) != 0 && info.dli_fname != NULL);
	return info.dli_fname;
}

/* Runs this program in mode with MALLOC_CONF=conf (its dumps under
 * <dir>/f unless conf says otherwise), exit status status, and extra
 * ("NAME=value" or NULL) in its environment; its wait status, with its
 * output in out. */
static int
run_child_env(const char *mode, const char *conf, const char *dir, int status, const char *extra,
              enum child_stderr err, char *out)
{
	char env_conf[1024], env_mode[64], env_status[64];
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=prof_prefix:%s/f,%s", dir, conf);
	snprintf(env_mode, sizeof(env_mode), CHILD_ENV "=%s", mode);
	snprintf(env_status, sizeof(env_status), CHILD_STATUS_ENV "=%d", status);
	char *env[] = {env_conf, env_mode, env_status, (char *)extra, NULL};
	char *argv[] = {"strata-test-child", NULL};
	return child_run_exec("/proc/self/exe", argv, env, err, env_conf, out, OUT_SIZE);
}

/* run_child_env with exit status 0, nothing more in the environment, and
 * standard error on the pipe. */
static int
run_child(const char *mode, const char *conf, const char *dir, char *out)
{
	return run_child_env(mode, conf, dir, 0, NULL, CHILD_STDERR_PIPE, out);
}

/* Runs argv[0] (a path) under strata with MALLOC_CONF=conf (dumps under
 * <dir>/p) in the C.UTF-8 locale; its wait status, with its output in out. */
static int
run_program(char *const argv[], const char *conf, const char *dir, char *out)
{
	char env_preload[512], env_conf[1024];
	snprintf(env_preload, sizeof(env_preload), "LD_PRELOAD=%s", strata_lib());
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=%s,prof_prefix:%s/p", conf, dir);
	char *env[] = {env_preload, env_conf, "LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin", NULL};
	return child_run_exec(argv[0], argv, env, CHILD_STDERR_PIPE, argv[0], out, OUT_SIZE);
}

static void
expect_exit(int status, int code, const char *out)
{
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == code,
	              "status %#x (%s %d), expected exit %d; output:\n%s", status,
	              WIFSIGNALED(status) ? "signal" : "exit",
	              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), code, out);
}

/* ------------------------------------------------ reading the report */

static bool
has_line(const char *out, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = out; (p = strstr(p, line)) != NULL; p++) {
		if ((p == out || p[-1] == '\n') && p[n] == '\n')
			return true;
	}
	return false;
}

/* A context of the report: its header line's rank, bytes and objects. */
typedef struct context {
	int rank;
	size_t bytes, objs;
	const char *frames; /* its first frame line */
} context_t;

/* The context whose frame #0 is in func; false when none. */
static bool
find_context(const char *out, const char *func, context_t *c)
{
	char want[160];
	snprintf(want, sizeof(want), " %s ", func);
	for (const char *line = out; line != NULL && *line != '\0';) {
		context_t h;
		if (strncmp(line, "<strata>: #", 11) == 0 &&
		    (sscanf(line + 11, "%d ~%zu bytes in ~%zu object", &h.rank, &h.bytes, &h.objs) ==
		             3 ||
		     sscanf(line + 11, "%d ~%zu byte in ~%zu object", &h.rank, &h.bytes, &h.objs) ==
		             3)) {
			const char *frame = strchr(line, '\n');
			const char *eol = frame != NULL ? strchr(frame + 1, '\n') : NULL;
			const char *hit = frame != NULL ? strstr(frame + 1, want) : NULL;
			if (hit != NULL && eol != NULL && hit < eol &&
			    strncmp(frame + 1, "<strata>:     #0 0x", 19) == 0) {
				*c = h;
				c->frames = frame + 1;
				return true;
			}
		}
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
	return false;
}

static int
count_prefix(const char *out, const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);
	for (const char *line = out; line != NULL && *line != '\0';) {
		n += strncmp(line, prefix, len) == 0;
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
	return n;
}

/* Contexts listed (their header lines). */
static int
count_contexts(const char *out)
{
	return count_prefix(out, "<strata>: #");
}

/* The final dump's path from the report, into path. */
static void
final_dump_path(const char *out, char *path, size_t size)
{
	const char *p = strstr(out, "<strata>: Final dump: ");
	ck_assert_msg(p != NULL, "no final dump line:\n%s", out);
	p += strlen("<strata>: Final dump: ");
	size_t n = strcspn(p, "\n");
	ck_assert_uint_lt(n, size);
	memcpy(path, p, n);
	path[n] = '\0';
}

/* Whether path (gzip when it ends in .gz) is a whole heap_v2 dump that
 * holds no message. */
static void
expect_dump_complete(const char *path)
{
	char cmd[1200], text[OUT_SIZE];
	bool gz = strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".gz") == 0;
	snprintf(cmd, sizeof(cmd), "%s'%s' && zcat -f '%s'", gz ? "gzip -t " : "test -f ", path,
	         path);
	int status = run_capture(cmd, text, sizeof(text));
	ck_assert_msg(status == 0, "%s: not a whole gzip file", path);
	ck_assert_msg(strncmp(text, "heap_v2/", 8) == 0, "%s: %.40s", path, text);
	ck_assert_msg(strstr(text, "\nMAPPED_LIBRARIES:\n") != NULL, "%s: no mappings", path);
	ck_assert_msg(strstr(text, "<strata>") == NULL, "%s: a message in the dump", path);
}

/* The three leaks, by the report: ranks by bytes, exact counts. */
static void
expect_three_contexts(const char *out)
{
	context_t big, pages, thread;
	ck_assert_msg(find_context(out, "leak_large", &big), "no leak_large:\n%s", out);
	ck_assert_msg(find_context(out, "leak_pages", &pages), "no leak_pages:\n%s", out);
	ck_assert_msg(find_context(out, "leak_in_thread", &thread), "no leak_in_thread:\n%s", out);
	ck_assert_int_eq(big.rank, 1);
	ck_assert_int_eq(pages.rank, 2);
	ck_assert_int_eq(thread.rank, 3);
	ck_assert_uint_eq(big.bytes, 40960);
	ck_assert_uint_eq(big.objs, 1);
	ck_assert_uint_eq(pages.bytes, 3 * 4096);
	ck_assert_uint_eq(pages.objs, 3);
	ck_assert_uint_eq(thread.bytes, 5 * 48);
	ck_assert_uint_eq(thread.objs, 5);
}

/* ================================================ the three leaks */

START_TEST(test_three_leaks_exact_report)
{
	char dir[64], out[OUT_SIZE], want[256];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child("three", EXACT ",prof_leak_error:true", dir, out);
	expect_exit(status, 1, out);
	snprintf(want, sizeof(want),
	         "<strata>: Leak approximation summary: ~%d bytes, ~%d objects, >= 3 contexts",
	         LEAK_BYTES, LEAK_OBJECTS);
	ck_assert_msg(has_line(out, want), "no line %s in:\n%s", want, out);
	expect_three_contexts(out);
	ck_assert_int_eq(count_contexts(out), 3);
	/* Frames: function, file:line, the program's file name; the caller
	 * named too. */
	context_t c;
	ck_assert(find_context(out, "leak_large", &c));
	char where[512];
	ck_assert_msg(sscanf(c.frames, "<strata>:     #0 0x%*x leak_large %511s (check_api_prof_leak)",
	                     where) == 1,
	              "%.200s", c.frames);
	const char *colon = strrchr(where, ':');
	ck_assert_msg(colon != NULL && colon - where >= 21 &&
	                      strncmp(colon - 21, "check_api_prof_leak.c", 21) == 0 &&
	                      atoi(colon + 1) > 0,
	              "%s", where);
	ck_assert_msg(strstr(c.frames, "(check_api_prof_leak)\n<strata>:     #1 0x") != NULL,
	              "%.300s", c.frames);
	ck_assert(find_context(out, "leak_in_thread", &c));
	ck_assert_msg(strstr(c.frames, "start_thread") != NULL, "%.300s", c.frames);
	/* What the runtime kept (stdio's buffer, the thread's TLS) is the
	 * built-in rules'. */
	ck_assert_msg(strstr(out, "<strata>: Suppressed: ") != NULL &&
	                      strstr(out, "(built-in rules ") != NULL,
	              "%s", out);
	ck_assert(has_line(out, "<strata>: Exiting with error code because memory leaks were "
	                        "detected"));
	/* The order of the lines. */
	const char *summary = strstr(out, "Leak approximation"), *first = strstr(out, "<strata>: #1 ");
	const char *dump = strstr(out, "<strata>: Final dump: ");
	const char *exiting = strstr(out, "<strata>: Exiting");
	ck_assert(summary < first && first < dump && dump < exiting);
	/* The program's buffered output is not lost, and comes after. */
	ck_assert_msg(has_line(out, "child: three done"), "%s", out);
	ck_assert(strstr(out, "child: three done") > exiting);
	/* The final dump: complete, named as automatic dumps are, read by
	 * bin/jeprof with the same bytes and objects per function. */
	char path[512], cmd[1200], report[OUT_SIZE], exe[512];
	final_dump_path(out, path, sizeof(path));
	snprintf(want, sizeof(want), "%s/f.", dir);
	ck_assert_msg(strncmp(path, want, strlen(want)) == 0 &&
	                      strcmp(path + strlen(path) - 10, ".f.heap.gz") == 0,
	              "%s", path);
	expect_dump_complete(path);
	self_exe(exe, sizeof(exe));
	snprintf(cmd, sizeof(cmd), "bin/jeprof --text --show_bytes %s %s 2>&1", exe, path);
	ck_assert_int_eq(run_capture(cmd, report, sizeof(report)), 0);
	ck_assert_msg(jeprof_flat(report, "leak_large") == 40960, "%s", report);
	ck_assert_msg(jeprof_flat(report, "leak_pages") == 3 * 4096, "%s", report);
	ck_assert_msg(jeprof_flat(report, "leak_in_thread") == 5 * 48, "%s", report);
	snprintf(cmd, sizeof(cmd), "bin/jeprof --text --inuse_objects %s %s 2>&1", exe, path);
	ck_assert_int_eq(run_capture(cmd, report, sizeof(report)), 0);
	ck_assert_msg(jeprof_flat(report, "leak_large") == 1, "%s", report);
	ck_assert_msg(jeprof_flat(report, "leak_pages") == 3, "%s", report);
	ck_assert_msg(jeprof_flat(report, "leak_in_thread") == 5, "%s", report);
	temp_dir_remove(dir);
}
END_TEST

START_TEST(test_error_code)
{
	char dir[64], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child("three", EXACT ",prof_leak_error:true,prof_leak_error_code:42",
	                       dir, out);
	expect_exit(status, 42, out);
	ck_assert(has_line(out, "child: three done"));
	temp_dir_remove(dir);
}
END_TEST

/* prof_leak alone reports and leaves the exit status to the program. */
START_TEST(test_report_without_error_keeps_status)
{
	char dir[64], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child_env("three", EXACT ",prof_leak:true", dir, 7, NULL,
	                           CHILD_STDERR_PIPE, out);
	expect_exit(status, 7, out);
	expect_three_contexts(out);
	ck_assert_msg(strstr(out, "Exiting with error code") == NULL, "%s", out);
	ck_assert(has_line(out, "child: three done"));
	/* Without leaks left, the status is the program's under _error too. */
	status = run_child_env("clean", EXACT ",prof_leak_error:true", dir, 6, NULL,
	                       CHILD_STDERR_PIPE, out);
	expect_exit(status, 6, out);
	temp_dir_remove(dir);
}
END_TEST

START_TEST(test_top_lists_the_largest)
{
	char dir[64], out[OUT_SIZE], want[160];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child("three", EXACT ",prof_leak:true,prof_leak_top:1", dir, out);
	expect_exit(status, 0, out);
	ck_assert_int_eq(count_contexts(out), 1);
	context_t c;
	ck_assert(find_context(out, "leak_large", &c) && c.rank == 1);
	/* The summary counts them all; one line sums the others. */
	ck_assert(strstr(out, ">= 3 contexts\n") != NULL);
	snprintf(want, sizeof(want), "<strata>: ... 2 more contexts: ~%d bytes in ~%d objects",
	         3 * 4096 + 5 * 48, 3 + 5);
	ck_assert_msg(has_line(out, want), "no line %s in:\n%s", want, out);
	/* prof_leak_top:0: the summary alone. */
	status = run_child("three", EXACT ",prof_leak:true,prof_leak_top:0", dir, out);
	expect_exit(status, 0, out);
	ck_assert_int_eq(count_contexts(out), 0);
	ck_assert(strstr(out, "Leak approximation summary") != NULL);
	temp_dir_remove(dir);
}
END_TEST

/* _exit runs no exit handler: no report, no final dump, no hang. */
START_TEST(test_underscore_exit_skips_the_report)
{
	char dir[64], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child("three_exit", EXACT ",prof_leak_error:true", dir, out);
	expect_exit(status, 5, out);
	ck_assert_msg(out[0] == '\0', "output:\n%s", out);
	char cmd[160], ls[256];
	snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
	ck_assert_int_eq(run_capture(cmd, ls, sizeof(ls)), 0);
	ck_assert_msg(ls[0] == '\0', "files: %s", ls);
	temp_dir_remove(dir);
}
END_TEST

START_TEST(test_clean_program_exits_zero)
{
	char dir[64], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child("clean", EXACT ",prof_leak_error:true", dir, out);
	expect_exit(status, 0, out);
	ck_assert_msg(strstr(out, "Leak approximation") == NULL, "%s", out);
	ck_assert(has_line(out, "child: clean done"));
	/* Without the built-in rules, stdio's buffer of standard output is
	 * left: a leak. */
	status = run_child("clean", EXACT ",prof_leak_error:true,prof_leak_suppress_defaults:false",
	                   dir, out);
	expect_exit(status, 1, out);
	context_t c;
	ck_assert_msg(find_context(out, "_IO_file_doallocate", &c), "%s", out);
	temp_dir_remove(dir);
}
END_TEST

/* ================================================ suppressions */

/* Writes text to <dir>/name; its path in path. */
static void
write_file(const char *dir, const char *name, const char *text, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* The count of contexts the file suppressed, from the Suppressed line. */
static int
suppressed_by_file(const char *out)
{
	const char *p = strstr(out, "prof_leak_suppress ");
	ck_assert_msg(p != NULL, "no Suppressed line:\n%s", out);
	return atoi(p + strlen("prof_leak_suppress "));
}

/* Runs "three" with the suppression file text; its output in out. */
static int
run_suppressed(const char *dir, const char *text, char *out)
{
	char path[256], conf[512];
	write_file(dir, "leaks.supp", text, path, sizeof(path));
	snprintf(conf, sizeof(conf), EXACT ",prof_leak_error:true,prof_leak_suppress:%s", path);
	return run_child("three", conf, dir, out);
}

START_TEST(test_suppression_file)
{
	char dir[64], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	/* By function (leak:), by wildcard (bare), anchored at both ends;
	 * comments and blank lines. */
	int status = run_suppressed(dir,
	                            "# the test's known leaks\n"
	                            "\n"
	                            "leak:leak_large\n"
	                            "   leak_p*es   \n"
	                            "# anchored\n"
	                            "^leak_in_thread$\n",
	                            out);
	expect_exit(status, 0, out);
	ck_assert_msg(strstr(out, "Leak approximation") == NULL, "%s", out);
	ck_assert_int_eq(suppressed_by_file(out), 3);
	ck_assert(has_line(out, "child: three done"));
	/* Anchors that do not fit leave the leak. */
	status = run_suppressed(dir, "leak:leak_large\nleak_pages\n^eak_in_thread\n", out);
	expect_exit(status, 1, out);
	ck_assert_int_eq(suppressed_by_file(out), 2);
	context_t c;
	ck_assert(find_context(out, "leak_in_thread", &c) && c.rank == 1);
	status = run_suppressed(dir, "leak:leak_large\nleak_pages\nleak_in_threa$\n", out);
	expect_exit(status, 1, out);
	/* A library (here the program's own file): every context has a frame
	 * in it. */
	status = run_suppressed(dir, "leak:^check_api_prof_leak$\n", out);
	expect_exit(status, 0, out);
	ck_assert_int_ge(suppressed_by_file(out), 3);
	temp_dir_remove(dir);
}
END_TEST

START_TEST(test_unreadable_suppression_file)
{
	char dir[64], out[OUT_SIZE], conf[256], want[256];
	temp_dir_make(dir, sizeof(dir), "leak");
	snprintf(conf, sizeof(conf), EXACT ",prof_leak_error:true,prof_leak_suppress:%s/missing",
	         dir);
	int status = run_child("three", conf, dir, out);
	expect_exit(status, 1, out);
	snprintf(want, sizeof(want),
	         "<strata>: cannot read prof_leak_suppress file \"%s/missing\": No such file or "
	         "directory; its patterns are not applied",
	         dir);
	ck_assert_msg(has_line(out, want), "no line %s in:\n%s", want, out);
	expect_three_contexts(out);
	/* Said at exit even when nothing leaks. */
	status = run_child("clean", conf, dir, out);
	expect_exit(status, 0, out);
	ck_assert_msg(has_line(out, want), "%s", out);
	ck_assert_msg(strstr(out, "Leak approximation") == NULL, "%s", out);
	temp_dir_remove(dir);
}
END_TEST

/* ================================================ where the report goes */

/* Standard error closed from the start: the status and the dump are
 * right, and nothing of the report is in the dump (which took fd 2 while
 * it was written). */
START_TEST(test_stderr_closed_from_start)
{
	char dir[64], out[OUT_SIZE], cmd[200], path[512];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child_env("three", EXACT ",prof_leak_error:true,prof_dump_compress:false",
	                           dir, 0, NULL, CHILD_STDERR_CLOSED, out);
	expect_exit(status, 1, out);
	ck_assert_msg(has_line(out, "child: three done"), "%s", out);
	ck_assert_msg(strstr(out, "<strata>") == NULL, "%s", out);
	snprintf(cmd, sizeof(cmd), "ls '%s'/f.*.f.heap", dir);
	ck_assert_int_eq(run_capture(cmd, path, sizeof(path)), 0);
	path[strcspn(path, "\n")] = '\0';
	expect_dump_complete(path);
	temp_dir_remove(dir);
}
END_TEST

/* A program that closes its standard error at exit (GNU programs do, from
 * an atexit handler of theirs): the report still reaches the one the
 * process started with. */
START_TEST(test_stderr_closed_at_exit)
{
	char dir[64], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child("three_close_stderr", EXACT ",prof_leak_error:true", dir, out);
	expect_exit(status, 1, out);
	expect_three_contexts(out);
	ck_assert(strstr(out, "<strata>: Final dump: ") != NULL);
	temp_dir_remove(dir);
}
END_TEST

/* Standard error a pipe whose reader has gone (prog 2>&1 | head -1): the
 * report's writes fail, and the process still ends with the status the
 * report decides, not killed by SIGPIPE. */
START_TEST(test_stderr_reader_gone)
{
	char dir[64], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_child_env("three", EXACT ",prof_leak_error:true", dir, 0, NULL,
	                           CHILD_STDERR_BROKEN, out);
	expect_exit(status, 1, out);
	status = run_child_env("three", EXACT ",prof_leak:true", dir, 7, NULL, CHILD_STDERR_BROKEN,
	                       out);
	expect_exit(status, 7, out);
	ck_assert_msg(has_line(out, "child: three done"), "%s", out);
	temp_dir_remove(dir);
}
END_TEST

START_TEST(test_unwritable_dump_folder)
{
	char dir[64], out[OUT_SIZE], conf[256], want[512];
	temp_dir_make(dir, sizeof(dir), "leak");
	snprintf(conf, sizeof(conf), EXACT ",prof_leak_error:true,prof_prefix:%s/missing/f", dir);
	int status = run_child("three", conf, dir, out);
	expect_exit(status, 1, out);
	expect_three_contexts(out);
	snprintf(want, sizeof(want), "<strata>: No final dump: writing \"%s/missing/f.", dir);
	const char *line = strstr(out, want);
	ck_assert_msg(line != NULL, "no line starting %s in:\n%s", want, out);
	ck_assert_msg(strncmp(strchr(line, '"') + 1 + strcspn(strchr(line, '"') + 1, "\""),
	                      "\" failed: No such file or directory\n", 35) == 0,
	              "%.200s", line);
	ck_assert(strstr(out, "Exiting with error code") > line);
	/* The dump's own message came first. */
	ck_assert(strstr(out, "<strata>: failed to write heap profile") < line);
	/* An empty prefix: no dump, said so. */
	status = run_child("three", EXACT ",prof_leak_error:true,prof_prefix:", dir, out);
	expect_exit(status, 1, out);
	ck_assert_msg(has_line(out, "<strata>: No final dump: prof_prefix is empty"), "%s", out);
	temp_dir_remove(dir);
}
END_TEST

/* Without libdw (a libdw.so.1 that does not load), frames are named by
 * dladdr: files always (the program by the name it was run as), exported
 * functions only, no lines. */
START_TEST(test_without_libdw)
{
	char dir[64], out[OUT_SIZE], path[256], extra[320];
	temp_dir_make(dir, sizeof(dir), "leak");
	write_file(dir, "libdw.so.1", "not a library\n", path, sizeof(path));
	snprintf(extra, sizeof(extra), "LD_LIBRARY_PATH=%s", dir);
	int status = run_child_env("three", EXACT ",prof_leak_error:true", dir, 0, extra,
	                           CHILD_STDERR_PIPE, out);
	expect_exit(status, 1, out);
	ck_assert_msg(strstr(out, "<strata>:     #0 0x") != NULL, "%s", out);
	ck_assert_msg(strstr(out, " (strata-test-child+0x") != NULL, "%s", out);
	ck_assert_msg(strstr(out, " __libc_start_main+0x") != NULL, "%s", out);
	ck_assert_msg(strstr(out, ".c:") == NULL, "%s", out);
	/* The sizes are the profiler's, whatever the names. */
	char want[160];
	snprintf(want, sizeof(want),
	         "<strata>: Leak approximation summary: ~%d bytes, ~%d objects, >= 3 contexts",
	         LEAK_BYTES, LEAK_OBJECTS);
	ck_assert_msg(has_line(out, want), "%s", out);
	ck_assert(has_line(out, "<strata>: #1 ~40960 bytes in ~1 object"));
	temp_dir_remove(dir);
}
END_TEST

/* ================================================ other programs */

/* The C++ program: libstdc++'s pool and the threads' TLS are the
 * runtime's, so it exits 0; without the built-in rules they are reported. */
START_TEST(test_cxx_exceptions_in_threads)
{
	char dir[64], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	char *argv[] = {"build/leak/throw_catch", NULL};
	int status = run_program(argv, EXACT ",prof_leak_error:true", dir, out);
	expect_exit(status, 0, out);
	ck_assert_msg(has_line(out, "throw_catch: 800 exceptions caught"), "%s", out);
	ck_assert_msg(strstr(out, "Leak approximation") == NULL, "%s", out);
	status = run_program(argv, EXACT ",prof_leak_error:true,prof_leak_suppress_defaults:false",
	                     dir, out);
	expect_exit(status, 1, out);
	ck_assert_msg(strstr(out, "(libstdc++.so") != NULL, "%s", out);
	ck_assert_msg(strstr(out, " _dl_allocate_tls ") != NULL, "%s", out);
	temp_dir_remove(dir);
}
END_TEST

/* Functions the built-in rules name: none of them may be left on a
 * reported stack. */
static const char *const runtime_functions[] = {
	" _IO_file_doallocate ", " setlocale ",    " textdomain ",     " bindtextdomain ",
	" mbstowcs ",            " tzset_internal ", " __add_to_environ ", " _dl_allocate_tls ",
};

/*
 * A real program that keeps memory of its own to the end (its allocator
 * wrappers' blocks): under prof_leak_error it exits 1, its output intact;
 * what is reported starts in the program's own file (the largest context
 * allocated there), and no frame of a reported stack is in a function the
 * built-in rules name.  Without the rules, setlocale's allocations are
 * reported.
 */
static void
expect_own_leaks_only(char *const argv[], const char *module, const char *output)
{
	char dir[64], out[OUT_SIZE], want[160];
	temp_dir_make(dir, sizeof(dir), "leak");
	int status = run_program(argv, EXACT ",prof_leak_error:true,prof_leak_top:1000", dir, out);
	expect_exit(status, 1, out);
	ck_assert_msg(strstr(out, output) != NULL, "no %s in:\n%s", output, out);
	ck_assert_msg(strstr(out, "<strata>: Suppressed: ") != NULL, "%s", out);
	const char *first = strstr(out, "<strata>: #1 ");
	ck_assert_msg(first != NULL, "%s", out);
	const char *frame0 = strchr(first, '\n') + 1;
	snprintf(want, sizeof(want), "(%s", module);
	ck_assert_msg(strstr(frame0, want) != NULL && strstr(frame0, want) < strchr(frame0, '\n'),
	              "the largest context does not start in %s:\n%s", module, out);
	for (size_t i = 0; i < sizeof(runtime_functions) / sizeof(runtime_functions[0]); i++)
		ck_assert_msg(strstr(out, runtime_functions[i]) == NULL, "%s left:\n%s",
		              runtime_functions[i], out);
	status = run_program(argv, EXACT ",prof_leak:true,prof_leak_top:1000,"
	                     "prof_leak_suppress_defaults:false", dir, out);
	expect_exit(status, 0, out);
	ck_assert_msg(strstr(out, " setlocale ") != NULL, "%s", out);
	temp_dir_remove(dir);
}

START_TEST(test_ls)
{
	char *argv[] = {"/bin/ls", "/", NULL};
	expect_own_leaks_only(argv, "ls", "\nusr\n");
}
END_TEST

START_TEST(test_sort)
{
	char *argv[] = {"/usr/bin/sort", "/etc/passwd", NULL};
	expect_own_leaks_only(argv, "sort", "root:");
}
END_TEST

START_TEST(test_git_version)
{
	char *argv[] = {"/usr/bin/git", "--version", NULL};
	expect_own_leaks_only(argv, "git", "git version ");
}
END_TEST

START_TEST(test_python3)
{
	char *argv[] = {"/usr/bin/python3", "-c", "print('python ok')", NULL};
	expect_own_leaks_only(argv, "python3", "python ok\n");
}
END_TEST

/* ================================================ samples/leak_ci */

START_TEST(test_sample_ci_check)
{
	char dir[64], cmd[1024], out[OUT_SIZE];
	temp_dir_make(dir, sizeof(dir), "leak");
	snprintf(cmd, sizeof(cmd), "make -s -C samples/leak_ci check OUT=%s STRATA_LIB=%s 2>&1",
	         dir, strata_lib());
	int status = run_capture(cmd, out, sizeof(out));
	expect_exit(status, 0, out);
	ck_assert_msg(strstr(out, "leak_ci: 8 requests") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "Leak approximation") == NULL, "%s", out);
	snprintf(cmd, sizeof(cmd),
	         "make -s -C samples/leak_ci check LEAK=1 OUT=%s STRATA_LIB=%s 2>&1", dir,
	         strata_lib());
	status = run_capture(cmd, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "%s", out);
	ck_assert_msg(has_line(out, "<strata>: Leak approximation summary: ~256 bytes, ~1 object, "
	                            ">= 1 context"),
	              "%s", out);
	context_t c;
	ck_assert_msg(find_context(out, "handle_request", &c) && c.bytes == 256, "%s", out);
	temp_dir_remove(dir);
}
END_TEST

Suite *
test_suite(void)
{
	child_main();
	Suite *s = suite_create("api_prof_leak");
	TCase *tc = tcase_create("leak");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_three_leaks_exact_report);
	tcase_add_test(tc, test_error_code);
	tcase_add_test(tc, test_report_without_error_keeps_status);
	tcase_add_test(tc, test_top_lists_the_largest);
	tcase_add_test(tc, test_underscore_exit_skips_the_report);
	tcase_add_test(tc, test_clean_program_exits_zero);
	tcase_add_test(tc, test_suppression_file);
	tcase_add_test(tc, test_unreadable_suppression_file);
	tcase_add_test(tc, test_stderr_closed_from_start);
	tcase_add_test(tc, test_stderr_closed_at_exit);
	tcase_add_test(tc, test_stderr_reader_gone);
	tcase_add_test(tc, test_unwritable_dump_folder);
	tcase_add_test(tc, test_without_libdw);
	tcase_add_test(tc, test_cxx_exceptions_in_threads);
	tcase_add_test(tc, test_ls);
	tcase_add_test(tc, test_sort);
	tcase_add_test(tc, test_git_version);
	tcase_add_test(tc, test_python3);
	tcase_add_test(tc, test_sample_ci_check);
	suite_add_tcase(s, tc);
	return s;
}
