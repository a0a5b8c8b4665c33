/*
 * jeprof_util.h — helpers shared by the suites of the jeprof program
 * (tests/check_jeprof_cli.c, tests/check_jeprof_strata.c): the program under
 * test ($JEPROF_BIN) and the data folders ($JEPROF_DATA: jemalloc's dumps,
 * $JEPROF_STRATA_DATA: strata's), running a command and capturing its
 * output, the file:line of a SITE: marker, rows of a --text report, and a
 * reader of --proto's samples.
 */
#ifndef STRATA_TESTS_JEPROF_UTIL_H
#define STRATA_TESTS_JEPROF_UTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zlib.h>

static inline const char *
cli_bin(void)
{
	const char *b = getenv("JEPROF_BIN");
	return b != NULL ? b : "build/jeprof/jeprof-san";
}

static inline const char *
cli_data(void)
{
	const char *d = getenv("JEPROF_DATA");
	return d != NULL ? d : "build/jeprof/data";
}

static inline const char *
cli_strata_data(void)
{
	const char *d = getenv("JEPROF_STRATA_DATA");
	return d != NULL ? d : "build/jeprof/strata";
}

typedef struct cli_result {
	char *out; /* stdout (and stderr when asked) */
	size_t len;
	int status; /* exit status, or 128 + signal */
} cli_result_t;

/* Runs a shell command built from fmt and captures its output. */
static inline cli_result_t cli_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline cli_result_t
cli_run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	cli_result_t r = {0};
	size_t cap = 0;
	for (;;) {
		if (r.len + 4096 + 1 > cap) {
			cap = cap * 2 + 8192;
			r.out = realloc(r.out, cap);
			ck_assert_ptr_nonnull(r.out);
		}
		size_t n = fread(r.out + r.len, 1, 4096, f);
		if (n == 0)
			break;
		r.len += n;
	}
	r.out[r.len] = '\0';
	int st = pclose(f);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r;
}

/* The line of file holding marker (e.g. "SITE:leak_big"), 1-based. */
static inline int
cli_site_line(const char *file, const char *marker)
{
	FILE *f = fopen(file, "r");
	ck_assert_ptr_nonnull(f);
	char buf[512];
	int line = 0, found = 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		line++;
		if (strstr(buf, marker) != NULL) {
			found = line;
			break;
		}
	}
	fclose(f);
	ck_assert_msg(found > 0, "no %s in %s", marker, file);
	return found;
}

/* The output line whose name column (after the five numbers) is name. */
static inline char *
cli_find_row(const char *out, const char *name, double *flat, double *cum)
{
	for (const char *l = out; *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t len = nl != NULL ? (size_t)(nl - l) : strlen(l);
		char row[1024];
		snprintf(row, sizeof(row), "%.*s", (int)len, l);
		double f, c;
		int pos = 0;
		if (sscanf(row, "%lf %*s %*s %lf %*s %n", &f, &c, &pos) == 2 && pos > 0 &&
		    strcmp(row + pos, name) == 0) {
			if (flat != NULL)
				*flat = f;
			if (cum != NULL)
				*cum = c;
			return strdup(row);
		}
		l = nl != NULL ? nl + 1 : l + len;
	}
	return NULL;
}

static inline void
cli_expect_row(const char *out, const char *name, double flat, double cum)
{
	double f = -1, c = -1;
	char *row = cli_find_row(out, name, &f, &c);
	ck_assert_msg(row != NULL, "no row \"%s\" in:\n%s", name, out);
	ck_assert_msg(f == flat && c == cum, "%s: flat %.0f cum %.0f, want %.0f %.0f", name, f, c,
		      flat, cum);
	free(row);
}

static inline char *
cli_abs_source(const char *rel)
{
	char *abs = realpath(rel, NULL);
	ck_assert_ptr_nonnull(abs);
	return abs;
}

/* Reads a varint at *p (bounded by end); returns false on a malformed one. */
static inline bool
cli_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* Sums value[index] over the Sample messages (field 2) of a Profile. */
static inline int64_t
cli_sum_samples(const uint8_t *p, const uint8_t *end, int index, int *nsamples)
{
	int64_t sum = 0;
	*nsamples = 0;
	while (p < end) {
		uint64_t key, len;
		ck_assert(cli_varint(&p, end, &key));
		ck_assert_uint_eq(key & 7, (key >> 3) == 14 || (key >> 3) == 12 ? 0 : 2);
		if ((key & 7) == 0) {
			ck_assert(cli_varint(&p, end, &len));
			continue;
		}
		ck_assert(cli_varint(&p, end, &len));
		ck_assert(len <= (uint64_t)(end - p));
		const uint8_t *sub = p, *subend = p + len;
		p += len;
		if ((key >> 3) != 2)
			continue;
		(*nsamples)++;
		while (sub < subend) {
			uint64_t k, l, v;
			ck_assert(cli_varint(&sub, subend, &k));
			ck_assert(cli_varint(&sub, subend, &l));
			const uint8_t *q = sub, *qend = sub + l;
			sub += l;
			for (int i = 0; (k >> 3) == 2 && q < qend; i++) {
				ck_assert(cli_varint(&q, qend, &v));
				if (i == index)
					sum += (int64_t)v;
			}
		}
	}
	return sum;
}

/*
 * bin/jeprof --proto of dump, written to pb (gzip) and decoded by protoc:
 * asserts that each of strs[0..n) (protoc's text, such as `6: "site"`)
 * is in the decoding, then reads the profile's bytes into buf (size bytes)
 * and returns their length.
 */
static inline int
cli_proto_read(const char *dump, const char *pb, const char *const *strs, size_t n, uint8_t *buf,
	       size_t size)
{
	cli_result_t r =
		cli_run("%s --proto %s > %s && zcat %s | protoc --decode_raw", cli_bin(), dump, pb, pb);
	ck_assert_int_eq(r.status, 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strstr(r.out, strs[i]) != NULL, "no %s", strs[i]);
	free(r.out);
	gzFile gz = gzopen(pb, "rb");
	ck_assert_ptr_nonnull(gz);
	int len = gzread(gz, buf, (unsigned)size);
	gzclose(gz);
	ck_assert_int_gt(len, 0);
	return len;
}

#endif
