/*
 * check_api_numa.c — the NUMA interface where NUMA is inactive (a machine
 * with one node, or numa:off); what it does on several nodes is tested in
 * the two-node guest (tests/numa/).
 *   - opt.numa, opt.numa_policy and opt.numa_migrate read their defaults
 *     and what MALLOC_CONF set;
 *   - thread.numa_node, arena.<i>.numa_node and stats.arenas.<i>.numa_node
 *     read UINT_MAX; writing a node, or arenas.create with a node, is EINVAL
 *     and creates nothing; a missing manual arena is EFAULT; arenas.create
 *     with hooks keeps working;
 *   - malloc_stats_print prints no NUMA lines;
 *   - a bad value is reported by name and leaves the default (abort_conf
 *     aborts).
 * Options are read at start: each case runs this program again in a child
 * with its MALLOC_CONF.
 */
#include <limits.h>

#include "api_util.h"

#define NUMA_CHILD "STRATA_NUMA_CHILD"

static const char *
read_choice(const char *name)
{
	const char *v = NULL;
	size_t len = sizeof(v);
	if (mallctl(name, &v, &len, NULL, 0) != 0)
		return "(error)";
	return v;
}

/* Whether this machine has more than one node with memory: then numa:auto
 * is active and the default-conf case asserts nothing about inactivity. */
static bool
host_has_numa(void)
{
	FILE *f = fopen("/sys/devices/system/node/has_memory", "r");
	if (f == NULL)
		return false;
	char buf[128] = "";
	bool several = fgets(buf, sizeof(buf), f) != NULL && strpbrk(buf, ",-") != NULL;
	fclose(f);
	return several;
}

static void
stats_collect(void *opaque, const char *s)
{
	strncat(opaque, s, 65535 - strlen(opaque));
}

/* Prints what the child sees; exits 1 on any check that fails. */
static void
child_report(void)
{
	printf("numa=%s policy=%s migrate=%s\n", read_choice("opt.numa"),
	       read_choice("opt.numa_policy"), read_choice("opt.numa_migrate"));
	unsigned node = 0;
	size_t len = sizeof(node);
	int err = mallctl("thread.numa_node", &node, &len, NULL, 0);
	printf("thread=%d,%u", err, node);
	err = mallctl("arena.0.numa_node", &node, &len, NULL, 0);
	printf(" arena0=%d,%u", err, node);
	unsigned zero = 0;
	printf(" set0=%d", mallctl("arena.0.numa_node", NULL, NULL, &zero, sizeof(zero)));
	unsigned narenas = 0;
	len = sizeof(narenas);
	mallctl("arenas.narenas", &narenas, &len, NULL, 0);
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.numa_node", narenas);
	len = sizeof(node);
	printf(" missing=%d", mallctl(name, &node, &len, NULL, 0));
	unsigned ind = 0;
	len = sizeof(ind);
	printf(" create_on=%d", mallctl("arenas.create", &ind, &len, &zero, sizeof(zero)));
	unsigned after = 0;
	len = sizeof(after);
	mallctl("arenas.narenas", &after, &len, NULL, 0);
	printf(" created=%u", after - narenas);
	len = sizeof(ind);
	printf(" create=%d", mallctl("arenas.create", &ind, &len, NULL, 0));
	uint64_t epoch = 1;
	mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
	len = sizeof(node);
	err = mallctl("stats.arenas.0.numa_node", &node, &len, NULL, 0);
	printf(" stats0=%d,%u", err, node);
	static char stats[65536];
	malloc_stats_print(stats_collect, stats, "a");
	printf(" stats_lines=%d\n", strstr(stats, "NUMA node") != NULL);
	fflush(stdout);
}

__attribute__((constructor)) static void
numa_child(void)
{
	const char *mode = getenv(NUMA_CHILD);
	if (mode == NULL)
		return;
	child_report();
	_exit(0);
}

static char out[4096];

static const char *inactive_report =
        "thread=0,4294967295 arena0=0,4294967295 set0=22 missing=14 create_on=22 created=0 "
        "create=0 stats0=0,4294967295 stats_lines=0\n";

START_TEST(test_off_is_inactive)
{
	child_run_mode(NUMA_CHILD, "report", "numa:off,numa_policy:interleave,numa_migrate:stay",
	               out, sizeof(out));
	char *second = strchr(out, '\n');
	ck_assert_ptr_nonnull(second);
	*second++ = '\0';
	ck_assert_str_eq(out, "numa=off policy=interleave migrate=stay");
	ck_assert_str_eq(second, inactive_report);
}
END_TEST

START_TEST(test_defaults)
{
	child_run_mode(NUMA_CHILD, "report", "", out, sizeof(out));
	char *second = strchr(out, '\n');
	ck_assert_ptr_nonnull(second);
	*second++ = '\0';
	ck_assert_str_eq(out, "numa=auto policy=preferred migrate=rebind");
	if (!host_has_numa())
		ck_assert_str_eq(second, inactive_report);
}
END_TEST

/* A value that is none of the choices: reported with the option's name,
 * the default kept; with abort_conf the process aborts. */
START_TEST(test_bad_value)
{
	char env_mode[64], env_conf[128];
	snprintf(env_mode, sizeof(env_mode), "%s=report", NUMA_CHILD);
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=numa:maybe,numa_policy:7");
	char *env[] = {env_mode, env_conf, NULL};
	char *argv[] = {"strata-test-child", NULL};
	int status = child_run_exec("/proc/self/exe", argv, env, CHILD_STDERR_PIPE, "bad numa value",
	                            out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_nonnull(strstr(out, "Invalid conf value: numa:maybe"));
	ck_assert_ptr_nonnull(strstr(out, "Invalid conf value: numa_policy:7"));
	ck_assert_ptr_nonnull(strstr(out, "numa=auto policy=preferred migrate=rebind"));
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=abort_conf:true,numa_migrate:later");
	status = child_run_exec("/proc/self/exe", argv, env, CHILD_STDERR_PIPE, "abort_conf", out,
	                        sizeof(out));
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	ck_assert_ptr_nonnull(strstr(out, "numa_migrate:later"));
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_numa");
	TCase *tc = tcase_create("api_numa");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_off_is_inactive);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_bad_value);
	suite_add_tcase(s, tc);
	return s;
}
