/*
 * api_util.h — helpers shared by the public-API suites (tests/check_api*.c,
 * tests/check_stress*.c, and the C++ ones, tests/check_api*.cpp: it
 * compiles as C++ too): size units, a cheap assertion for byte loops,
 * optimizer barriers, byte patterns, mallctl readers, temporary folders,
 * running a command and reading jeprof's text report; child_util.h
 * re-runs the suite's own program with another environment (options are
 * read before main, so a test of an option runs a fresh process).
 */
#ifndef STRATA_TESTS_API_UTIL_H
#define STRATA_TESTS_API_UTIL_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata.h>

#include "child_util.h"
#include "tree_util.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ck_assert reports every passing check to the parent (a pipe write), far
 * too slow inside byte loops; expect() only calls into Check on failure. */
#define expect(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)

/* Hide values from the optimizer: no folding of malloc/free pairs, no
 * compile-time "size too large" diagnostics on the deliberately huge sizes. */
static inline void *
launder(void *p)
{
	__asm__ volatile("" : "+r"(p) : : "memory");
	return p;
}

static inline size_t
hide(size_t n)
{
	__asm__ volatile("" : "+r"(n));
	return n;
}

static inline unsigned char
pattern_byte(size_t i, unsigned seed)
{
	return (unsigned char)(seed * 151u + i * 31u + (i >> 8) * 7u + (i >> 16));
}

static inline void
fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = (unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		b[i] = pattern_byte(i, seed);
}

/* The index of the first byte not matching the pattern, or SIZE_MAX. */
static inline size_t
first_mismatch(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = (const unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pattern_byte(i, seed))
			return i;
	return SIZE_MAX;
}

static inline bool
is_aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

/* The index of the first byte in [from, to) that is not c, or SIZE_MAX. */
static inline size_t
first_not(const void *p, size_t from, size_t to, unsigned char c)
{
	const unsigned char *b = (const unsigned char *)p;
	for (size_t i = from; i < to; i++)
		if (b[i] != c)
			return i;
	return SIZE_MAX;
}

/* mallctl readers that fail the test on any error or length change. */
static inline unsigned
read_unsigned(const char *name)
{
	unsigned v = 0;
	size_t len = sizeof(v);
	ck_assert_msg(mallctl(name, &v, &len, NULL, 0) == 0, "reading %s", name);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static inline size_t
read_size(const char *name)
{
	size_t v = 0, len = sizeof(v);
	ck_assert_msg(mallctl(name, &v, &len, NULL, 0) == 0, "reading %s", name);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static inline bool
read_bool(const char *name)
{
	bool v = false;
	size_t len = sizeof(v);
	ck_assert_msg(mallctl(name, &v, &len, NULL, 0) == 0, "reading %s", name);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

/* Removes a folder and what it holds, whatever their modes. */
static inline void
temp_dir_remove(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' && rm -rf '%s'", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* This program's path (/proc/self/exe), into exe. */
static inline void
self_exe(char *exe, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", exe, size - 1);
	ck_assert(n > 0);
	exe[n] = '\0';
}

/* Runs a shell command; its wait status, with its standard output in out. */
static inline int
run_capture(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	return pclose(p);
}

/* The flat column jeprof --text reports for func, in the unit it prints
 * (MB; bytes with --show_bytes; objects with --inuse_objects), or -1 when
 * func has no row. */
static inline double
jeprof_flat(const char *report, const char *func)
{
	for (const char *line = report; line != NULL && *line != '\0';) {
		double flat;
		char name[128];
		if (sscanf(line, " %lf %*s %*s %*s %*s %127s", &flat, name) == 2 &&
		    strcmp(name, func) == 0)
			return flat;
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
	return -1;
}

#endif
