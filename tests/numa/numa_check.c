/*
 * numa_check.c — main of the NUMA guest tests and their shared helpers
 * (tests/numa/numa_check.h).
 */
#include "numa_check.h"

#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int failures;

void
expect_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("  %s:%d: %s\n", file, line, msg);
	fflush(stdout);
	__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
}

int
ctl_read_u(const char *name, unsigned *v)
{
	size_t len = sizeof(*v);
	return mallctl(name, v, &len, NULL, 0);
}

int
ctl_write_u(const char *name, unsigned v)
{
	return mallctl(name, NULL, NULL, &v, sizeof(v));
}

int
ctl_read_ui(const char *prefix, unsigned i, const char *suffix, unsigned *v)
{
	char name[128];
	snprintf(name, sizeof(name), "%s.%u.%s", prefix, i, suffix);
	return ctl_read_u(name, v);
}

int
ctl_write_ui(const char *prefix, unsigned i, const char *suffix, unsigned v)
{
	char name[128];
	snprintf(name, sizeof(name), "%s.%u.%s", prefix, i, suffix);
	return ctl_write_u(name, v);
}

const char *
ctl_opt(const char *name)
{
	const char *v = NULL;
	size_t len = sizeof(v);
	if (mallctl(name, &v, &len, NULL, 0) != 0 || v == NULL)
		return "";
	return v;
}

unsigned
thread_node(void)
{
	unsigned node = 0;
	int err = ctl_read_u("thread.numa_node", &node);
	expect(err == 0, "thread.numa_node: error %d", err);
	return node;
}

void
ctl_refresh_stats(void)
{
	uint64_t epoch = 1;
	size_t len = sizeof(epoch);
	int err = mallctl("epoch", &epoch, &len, &epoch, sizeof(epoch));
	expect(err == 0, "epoch: error %d", err);
}

void
start_pinned(pthread_t *thread, int cpu, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setaffinity_np(&attr, sizeof(set), &set) != 0 ||
	    pthread_create(thread, &attr, fn, arg) != 0) {
		perror("numa_check: pinned thread");
		exit(99);
	}
	pthread_attr_destroy(&attr);
}

void
run_pinned(int cpu, void *(*fn)(void *), void *arg)
{
	pthread_t th;
	start_pinned(&th, cpu, fn, arg);
	pthread_join(th, NULL);
}

void
expect_on_node(pageset_t *ps, unsigned node, const char *what)
{
	placement_t pl = pageset_where(ps);
	double f = placement_fraction(&pl, node);
	expect(pl.pages > 0 && f >= LOCAL_MIN,
	       "%s: %.1f%% of %zu pages on node %u (node0 %zu, node1 %zu, node2 %zu, unknown %zu)",
	       what, 100 * f, pl.pages, node, pl.on[0], pl.on[1], pl.on[2], pl.unknown);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{"topology", test_topology}, {"defaults", test_defaults}, {"place", test_place},
	{"migrate", test_migrate},   {"stay", test_stay},         {"tier", test_tier},
	{"create", test_create},     {"off", test_off},           {"policy", test_policy},
	{"handoff", test_handoff},   {"churn", test_churn},       {"bad_node", test_bad_node},
	{"one_node", test_one_node}, {"nosys", test_nosys},       {"nosys_child", test_nosys_child},
	{"stats", test_stats},       {"crossfree", test_crossfree}, {"full_node", test_full_node},
	{"stress", test_stress},
};

void *
xmalloc(size_t size)
{
	void *p = malloc(size);
	if (p == NULL) {
		fprintf(stderr, "numa_check: malloc(%zu) returned NULL: %s\n", size, strerror(errno));
		exit(97);
	}
	return p;
}

/* A crash prints where it happened (the guest has no debugger), then dies
 * of the same signal. */
static void
crash_report(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	char line[96];
	int n = snprintf(line, sizeof(line), "numa_check: signal %d at address %p; stack:\n", sig,
	                 info->si_addr);
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		_exit(98);
	void *frames[48];
	backtrace_symbols_fd(frames, backtrace(frames, 48), STDERR_FILENO);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
crash_report_install(void)
{
	void *warm[1];
	backtrace(warm, 1); /* loads libgcc now, not inside the handler */
	struct sigaction sa = {.sa_sigaction = crash_report, .sa_flags = SA_SIGINFO};
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
}

int
main(int argc, char **argv)
{
	crash_report_install();
	if (argc != 2) {
		fprintf(stderr, "usage: numa_check TEST\ntests:");
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			fprintf(stderr, " %s", tests[i].name);
		fprintf(stderr, "\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (strcmp(argv[1], tests[i].name) != 0)
			continue;
		const char *conf = getenv("MALLOC_CONF");
		printf("%s%s%s\n", tests[i].name, conf ? " MALLOC_CONF=" : "", conf ? conf : "");
		fflush(stdout);
		tests[i].fn();
		printf("%s: %s\n", failures ? "FAIL" : "PASS", tests[i].name);
		return failures ? 1 : 0;
	}
	fprintf(stderr, "numa_check: no test named %s\n", argv[1]);
	return 2;
}
