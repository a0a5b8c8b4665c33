/*
 * check_api_ctl_walk.c — every mallctl name man/strata.3 documents
 * (tests/man_util.h) answers libstrata.so's mallctl, mallctlnametomib and
 * mallctlbymib as documented: found, with the documented type's size;
 * a wrong *oldlenp gives EINVAL with jemalloc's partial-copy rule; writing
 * a read-only name, or reading a write-only or void one, EPERM; names
 * beyond or beside it ENOENT (docs/compat.md, "mallctl return codes").
 * Nothing is written to a writable name (those are the subtree suites').
 *
 * Options are read before main, so each check runs in a fresh process
 * (the constructor below, in the mode CTL_WALK_MODE names): with
 * prof:true for the whole tree, and without it for the profiler's names,
 * which are then ENOENT.  Index <i> and <j> are probed as 0, and a
 * stats.arenas.<i> name also as MALLCTL_ARENAS_ALL.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"
#include "child_util.h"
#include "man_util.h"

#define CTL_WALK_MODE "STRATA_TEST_CTL_WALK"
#define MIB_PROBE_MAX 16

static man_entry_t entries[MAN_ENTRIES_MAX];
static unsigned nproblems;

static void
problem(const char *name, const char *what, int got)
{
	printf("%s: %s (got %d)\n", name, what, got);
	nproblems++;
}

/* Components of a dotted name. */
static size_t
ncomponents(const char *name)
{
	size_t n = 1;
	for (; *name != '\0'; name++)
		n += *name == '.';
	return n;
}

/* The read-side checks of a readable name of size size. */
static void
probe_read(const char *name, const man_entry_t *e, size_t size)
{
	unsigned char buf[64], again[64];
	bool read_only = strcmp(e->access, "r-") == 0;
	size_t len = size;
	int err = mallctl(name, buf, &len, NULL, 0);
	if (read_only && (err != 0 || len != size))
		problem(name, "reading with the documented size failed", err);
	if (!read_only && (err == ENOENT || err == EPERM))
		problem(name, "not readable", err);
	if (!read_only)
		return;
	/* A longer or shorter *oldlenp: EINVAL, min(*oldlenp, size) bytes copied
	 * and reported (or 0, for names whose action needs the exact size). */
	for (int delta = -1; delta <= 1; delta += 2) {
		if (size + (size_t)delta == 0 || size + (size_t)delta > sizeof(again))
			continue;
		len = size + (size_t)delta;
		err = mallctl(name, again, &len, NULL, 0);
		size_t copied = delta < 0 ? size - 1 : size;
		if (err != EINVAL || (len != copied && len != 0))
			problem(name, delta < 0 ? "short *oldlenp: not EINVAL with a partial copy"
			                        : "long *oldlenp: not EINVAL with the value's size",
			        err);
	}
	if (mallctl(name, NULL, NULL, buf, size) != EPERM)
		problem(name, "writing a read-only name is not EPERM", -1);
}

static void
probe_name(const char *name, const man_entry_t *e)
{
	size_t size = man_type_size(e->type);
	if (size == SIZE_MAX) {
		problem(name, "type unknown to tests/man_util.h", 0);
		return;
	}
	bool readable = e->access[0] == 'r';
	if (readable) {
		probe_read(name, e, size);
	} else {
		unsigned char buf[64];
		size_t len = sizeof(buf);
		int err = mallctl(name, buf, &len, NULL, 0);
		if (err != EPERM)
			problem(name, "reading a write-only or void name is not EPERM", err);
	}

	/* The same through a MIB. */
	size_t mib[MIB_PROBE_MAX], miblen = MIB_PROBE_MAX;
	int err = mallctlnametomib(name, mib, &miblen);
	if (err != 0 || miblen != ncomponents(name)) {
		problem(name, "mallctlnametomib failed or gave the wrong length", err);
		return;
	}
	unsigned char buf[64];
	size_t len = readable ? size : sizeof(buf);
	err = mallctlbymib(mib, miblen, buf, &len, NULL, 0);
	if (readable && strcmp(e->access, "r-") == 0 && (err != 0 || len != size))
		problem(name, "mallctlbymib read failed", err);
	if (!readable && err != EPERM)
		problem(name, "mallctlbymib read of a write-only or void name is not EPERM", err);
	/* A MIB one longer than the path, and names beyond or beside it. */
	mib[miblen] = 0;
	if ((err = mallctlbymib(mib, miblen + 1, buf, &len, NULL, 0)) != ENOENT)
		problem(name, "a MIB past the leaf is not ENOENT", err);
	char other[MAN_NAME_MAX + 8];
	snprintf(other, sizeof(other), "%s.x", name);
	len = sizeof(buf);
	if ((err = mallctl(other, buf, &len, NULL, 0)) != ENOENT)
		problem(other, "a name past a leaf is not ENOENT", err);
	snprintf(other, sizeof(other), "%s_x", name);
	len = sizeof(buf);
	if ((err = mallctl(other, buf, &len, NULL, 0)) != ENOENT)
		problem(other, "an unknown name is not ENOENT", err);
}

/* Names that exist only with prof:true. */
static bool
is_prof_name(const char *name)
{
	return strncmp(name, "prof.", 5) == 0 || strncmp(name, "thread.prof.", 12) == 0 ||
	       strncmp(name, "experimental.prof_recent.", 25) == 0;
}

/* Without prof:true a profiler's name is ENOENT, but for those that
 * jemalloc 5.3 built with the profiler reads as 0 (observed with Debian's:
 * prof.lg_sample, prof.interval and the switches prof.active,
 * prof.thread_active_init, prof.gdump and thread.prof.active). */
static void
probe_without_prof(const char *name, const man_entry_t *e)
{
	static const char *const zero_names[] = {"prof.lg_sample", "prof.interval",
	                                         "prof.active",    "prof.thread_active_init",
	                                         "prof.gdump",     "thread.prof.active"};
	bool zero = false;
	for (size_t i = 0; i < sizeof(zero_names) / sizeof(zero_names[0]); i++)
		zero = zero || strcmp(name, zero_names[i]) == 0;
	uint64_t value = 1;
	size_t size = man_type_size(e->type);
	size_t len = size <= sizeof(value) ? size : sizeof(value);
	int err = mallctl(name, e->access[0] == 'r' ? &value : NULL,
	                  e->access[0] == 'r' ? &len : NULL, NULL, 0);
	if (zero && (err != 0 || value != 0))
		problem(name, "does not read 0 without prof:true", err);
	if (!zero && err != ENOENT)
		problem(name, "not ENOENT without prof:true", err);
}

/* The child: probes every documented name, prints each problem, exits with
 * 0 when there is none. */
static void
walk_child(bool prof)
{
	size_t n = man_read_mallctl_names(entries, MAN_ENTRIES_MAX);
	char name[MAN_NAME_MAX];
	for (size_t e = 0; e < n; e++) {
		man_instantiate(entries[e].name, 0, 0, name, sizeof(name));
		if (!prof) {
			if (is_prof_name(name))
				probe_without_prof(name, &entries[e]);
			continue;
		}
		probe_name(name, &entries[e]);
		if (strncmp(entries[e].name, "stats.arenas.<i>.", 17) == 0) {
			man_instantiate(entries[e].name, MALLCTL_ARENAS_ALL, 0, name, sizeof(name));
			probe_name(name, &entries[e]);
		}
	}
	printf("%zu names, %u problems\n", n, nproblems);
	fflush(stdout);
	_exit(nproblems == 0 ? 0 : 1);
}

__attribute__((constructor)) static void
walk_child_start(void)
{
	const char *mode = getenv(CTL_WALK_MODE);
	if (mode != NULL)
		walk_child(strcmp(mode, "prof") == 0);
}

static char out[1 << 18];

START_TEST(test_documented_names_answer)
{
	char env_mode[] = CTL_WALK_MODE "=prof";
	char env_conf[] = "MALLOC_CONF=prof:true,prof_stats:true";
	char *env[] = {env_mode, env_conf, NULL};
	int status = child_run_self(env, "walk with prof:true", out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, " 0 problems"));
}
END_TEST

START_TEST(test_prof_names_need_prof)
{
	char env_mode[] = CTL_WALK_MODE "=noprof";
	char *env[] = {env_mode, NULL};
	int status = child_run_self(env, "walk without prof", out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
}
END_TEST

/* Names that are not leaves: unknown, inner nodes, indices out of range. */
START_TEST(test_unknown_names)
{
	static const char *const names[] = {
		"nope", "opt", "opt.nope", "stats", "stats.arenas.0", "arenas.bin.0",
		"arenas.bin.999999.size", "config.nope", "opt.malloc_conf", "version.x", "",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		unsigned char buf[64];
		size_t len = sizeof(buf);
		ck_assert_msg(mallctl(names[i], buf, &len, NULL, 0) == ENOENT, "%s", names[i]);
	}
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_ctl_walk");
	TCase *tc = tcase_create("walk");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_documented_names_answer);
	tcase_add_test(tc, test_prof_names_need_prof);
	tcase_add_test(tc, test_unknown_names);
	suite_add_tcase(s, tc);
	return s;
}
