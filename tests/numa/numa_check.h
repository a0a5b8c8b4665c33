/*
 * numa_check.h — the NUMA guest tests' common ground (docs/design.md,
 * "Testing NUMA"): one program, build/numa/numa_check, runs one test per
 * process (`numa_check NAME`; tests/numa/guest_check.sh runs them inside the
 * emulated machine, each under its MALLOC_CONF).  A test is a function in one
 * of tests/numa/t_*.c; it reports a failed expectation with expect(), which
 * prints where and why and marks the run failed; the process exits 1 then.
 * Helpers: mallctl readers and writers, threads created already pinned to a
 * CPU, and the placement assertion every test ends with.
 */
#ifndef STRATA_TESTS_NUMA_CHECK_H
#define STRATA_TESTS_NUMA_CHECK_H

#include <pthread.h>
#include <stddef.h>

#include <strata.h>

#include "locality.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* The memory-only node of the guest. */
#define MEMORY_ONLY_NODE 2u
/* Least fraction of a thread's pages on the expected node. */
#define LOCAL_MIN 0.99

void expect_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define expect(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			expect_fail(__FILE__, __LINE__, __VA_ARGS__);                              \
	} while (0)

/* mallctl of an unsigned: the return value of mallctl. */
int ctl_read_u(const char *name, unsigned *v);
int ctl_write_u(const char *name, unsigned v);
/* mallctl("<prefix>.<i>.<suffix>") of an unsigned. */
int ctl_read_ui(const char *prefix, unsigned i, const char *suffix, unsigned *v);
int ctl_write_ui(const char *prefix, unsigned i, const char *suffix, unsigned v);
/* An opt.* string; "" when the name does not answer. */
const char *ctl_opt(const char *name);
/* thread.numa_node of the calling thread (expects it to answer). */
unsigned thread_node(void);
/* epoch, so that stats.* read fresh values. */
void ctl_refresh_stats(void);

/* Runs fn(arg) in a thread created pinned to cpu (pthread_attr_setaffinity_np,
 * so even its first allocation runs there) and joins it. */
void run_pinned(int cpu, void *(*fn)(void *), void *arg);
/* Starts such a thread; join it with pthread_join. */
void start_pinned(pthread_t *thread, int cpu, void *(*fn)(void *), void *arg);

/* Expects at least LOCAL_MIN of the pages of ps on node; what names them. */
void expect_on_node(pageset_t *ps, unsigned node, const char *what);

/* Expects NUMA inactive: no node anywhere (UINT_MAX), node writes and
 * arenas.create on a node refused with EINVAL, and, with blocks of every kind
 * in use, no mapping of the process with a memory policy. */
void expect_inactive(void);

/* malloc, exiting with a message when it returns NULL (a test must not
 * die of a null dereference that hides the allocator's failure). */
void *xmalloc(size_t size);

/* The tests (one per name of `numa_check NAME`). */
void test_topology(void);
void test_defaults(void);
void test_place(void);
void test_migrate(void);
void test_stay(void);
void test_tier(void);
void test_create(void);
void test_full_node(void);
void test_off(void);
void test_one_node(void);
void test_nosys(void);
void test_nosys_child(void);
void test_policy(void);
void test_handoff(void);
void test_churn(void);
void test_crossfree(void);
void test_bad_node(void);
void test_stats(void);
void test_stress(void);

#endif
