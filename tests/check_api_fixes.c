/*
 * check_api_fixes.c — bugs found in review, each reproduced through the
 * public API as a user met it (or would have):
 *   - a malloc_message hook that calls printf, with a bad MALLOC_CONF,
 *     hung the process at start (init re-entered its own lock);
 *   - a fork while another thread purged pages lost those pages in the
 *     child (active + dirty + retained fell short of mapped);
 *   - rallocx with MALLOCX_ARENA never resized in place.
 *
 * This program defines malloc_message and malloc_conf, as a jemalloc user
 * does: both are read when strata initializes, before main.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"

#define CHILD_ENV "STRATA_TEST_FIXES_CHILD"

/* Every purge happens at once, so purges are frequent and long. */
const char *malloc_conf = "dirty_decay_ms:0";

/* A hook as users write them: stdio, which allocates its buffer. */
static void
stdio_hook(void *opaque, const char *s)
{
	(void)opaque;
	printf("hook: %s", s);
	fflush(stdout);
}

void (*malloc_message)(void *, const char *) = stdio_hook;

/* In the re-executed child, strata has initialized (its constructor runs
 * before ours): report that start-up finished, and stop there. */
__attribute__((constructor)) static void
child_after_init(void)
{
	if (getenv(CHILD_ENV) != NULL) {
		printf("started\n");
		fflush(stdout);
		_exit(0);
	}
}

/* Runs this program again with MALLOC_CONF=conf (bounded: a hang at start
 * fails the test); its wait status, with its standard output in out. */
static int
run_self(const char *conf, char *out, size_t size)
{
	char env_conf[256];
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=%s", conf);
	char *env[] = {env_conf, CHILD_ENV "=1", NULL};
	return child_run_self(env, env_conf, out, size);
}

START_TEST(test_stdio_hook_with_bad_conf_starts)
{
	char out[4096];
	int status = run_self("bogus:1", out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x, output: %s",
	              status, out);
	ck_assert_msg(strstr(out, "hook: <strata>: ") != NULL && strstr(out, "bogus") != NULL,
	              "the hook did not get the message: %s", out);
	ck_assert_msg(strstr(out, "started") != NULL, "output: %s", out);
}
END_TEST

START_TEST(test_stdio_hook_with_abort_conf_aborts_after_message)
{
	char out[4096];
	int status = run_self("abort_conf:true,bogus:1", out, sizeof(out));
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x, output: %s",
	              status, out);
	ck_assert_msg(strstr(out, "bogus") != NULL && strstr(out, "abort_conf") != NULL,
	              "the hook did not get the messages: %s", out);
	ck_assert(strstr(out, "started") == NULL);
}
END_TEST

/* ---------------------------------------------------------------- fork during purge */

#define PURGE_BLOCK ((size_t)64 << 20)
#define FORKS 200

static _Atomic bool purge_stop;

static void *
purge_loop(void *arg)
{
	(void)arg;
	while (!purge_stop) {
		char *p = malloc(PURGE_BLOCK);
		if (p == NULL)
			return (void *)1;
		for (size_t off = 0; off < PURGE_BLOCK; off += 4096)
			p[off] = 1;
		free(p); /* dirty_decay_ms:0: purged now, the lock dropped around it */
	}
	return NULL;
}

/* stats.arenas.<i>.<name> as a size_t. */
static size_t
arena_stat_size(unsigned i, const char *name)
{
	char full[64];
	snprintf(full, sizeof(full), "stats.arenas.%u.%s", i, name);
	size_t v = 0, len = sizeof(v);
	return mallctl(full, &v, &len, NULL, 0) == 0 ? v : (size_t)-1;
}

/* In a child: 0 when every arena's pages add up to what it mapped. */
static int
child_pages_add_up(void)
{
	uint64_t epoch = 1;
	mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
	unsigned n = 0;
	size_t len = sizeof(n);
	if (mallctl("arenas.narenas", &n, &len, NULL, 0) != 0)
		return 2;
	int narenas = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t mapped = arena_stat_size(i, "mapped");
		if (mapped == (size_t)-1)
			continue; /* not created */
		size_t pages = arena_stat_size(i, "pactive") + arena_stat_size(i, "pdirty") +
		               arena_stat_size(i, "pmuzzy");
		if (pages * 4096 != mapped)
			return 1;
		narenas++;
	}
	return narenas > 0 ? 0 : 3;
}

START_TEST(test_fork_during_purge_child_keeps_every_page)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, purge_loop, NULL), 0);
	int bad = 0, first_code = 0;
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(child_pages_add_up());
		int status;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		if (WEXITSTATUS(status) != 0 && bad++ == 0)
			first_code = WEXITSTATUS(status);
	}
	purge_stop = true;
	void *res;
	ck_assert_int_eq(pthread_join(t, &res), 0);
	ck_assert_ptr_null(res);
	ck_assert_msg(bad == 0, "%d of %d children found pages unaccounted for (code %d)", bad,
	              FORKS, first_code);
}
END_TEST

/* ---------------------------------------------------------------- rallocx in place */

START_TEST(test_rallocx_with_arena_resizes_in_place)
{
	unsigned a;
	size_t len = sizeof(a);
	ck_assert_int_eq(mallctl("arenas.create", &a, &len, NULL, 0), 0);
	int flags = MALLOCX_ARENA(a) | MALLOCX_TCACHE_NONE;
	/* Same size class: nothing to move. */
	void *p = mallocx(100, flags);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(rallocx(p, 110, flags), p);
	dallocx(p, flags);
	/* A large block with free pages after it grows and shrinks in place. */
	void *big = mallocx(64 * 1024, flags);
	ck_assert_ptr_nonnull(big);
	memset(big, 0x3c, 64 * 1024);
	void *grown = rallocx(big, 256 * 1024, flags);
	ck_assert_ptr_eq(grown, big);
	ck_assert_uint_eq(((unsigned char *)grown)[64 * 1024 - 1], 0x3c);
	ck_assert_ptr_eq(rallocx(grown, 32 * 1024, flags), big);
	ck_assert_uint_eq(sallocx(big, 0), 32 * 1024);
	dallocx(big, flags);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_fixes");
	TCase *tc = tcase_create("fixes");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stdio_hook_with_bad_conf_starts);
	tcase_add_test(tc, test_stdio_hook_with_abort_conf_aborts_after_message);
	tcase_add_test(tc, test_fork_during_purge_child_keeps_every_page);
	tcase_add_test(tc, test_rallocx_with_arena_resizes_in_place);
	suite_add_tcase(s, tc);
	return s;
}
