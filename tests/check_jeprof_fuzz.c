/*
 * check_jeprof_fuzz.c — bounded fuzzing of the jeprof readers under
 * ASan/UBSan: random truncations and mutations of a real jemalloc dump
 * ($JEPROF_DATA/prog.heap), each read, then (when accepted) folded into a
 * graph and written as text, and truncated gzip streams of the same dump;
 * then the same for a prof_recent file ($JEPROF_RECENT_DATA/
 * strata.recent.json, written as the --recent table when accepted), and
 * every truncation and many byte flips of it.  A fixed seed keeps failures
 * reproducible.  Every rejected input must come with a message naming the
 * file; nothing may crash.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "graph.h"
#include "out_recent.h"
#include "out_text.h"
#include "profile.h"
#include "read.h"
#include "recent.h"
#include "symbolize.h"

#define FUZZ_ITERATIONS 3000
#define FUZZ_SYMBOLIZED 20
#define FUZZ_GZIP_CUTS 100

/* The file name in the folder of environment variable var (default dir). */
static char *
fuzz_load_from(const char *var, const char *dir, const char *name, size_t *len)
{
	const char *d = getenv(var);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", d != NULL ? d : dir, name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char *buf = malloc(1 << 20);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	ck_assert_uint_gt(*len, 100);
	return buf;
}

static char *
fuzz_load(size_t *len)
{
	return fuzz_load_from("JEPROF_DATA", "build/jeprof/data", "prog.heap", len);
}

static uint64_t fuzz_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
fuzz_next(void)
{
	fuzz_state ^= fuzz_state << 13;
	fuzz_state ^= fuzz_state >> 7;
	fuzz_state ^= fuzz_state << 17;
	return fuzz_state;
}

/* Bytes that mean something to the heap_v2 reader, and to the JSON reader. */
static const char fuzz_heap_alphabet[] = "0123456789abcdefx@t*:[] \n-/";
static const char fuzz_json_alphabet[] = "0123456789abcdefx\"{}[],:\\ \n-.eEtrunl/";

/*
 * One random mutation of src into dst (capacity cap), replaced bytes mostly
 * drawn from alphabet; returns the length.
 */
static size_t
fuzz_mutate(const char *src, size_t len, char *dst, size_t cap, const char *alphabet)
{
	size_t nalphabet = strlen(alphabet);
	memcpy(dst, src, len);
	size_t n = len;
	int edits = 1 + (int)(fuzz_next() % 4);
	for (int e = 0; e < edits && n > 0; e++) {
		size_t at = fuzz_next() % n;
		switch (fuzz_next() % 5) {
		case 0: /* truncate */
			n = at;
			break;
		case 1: /* replace a byte, sometimes with any byte at all */
			dst[at] = fuzz_next() % 4 == 0 ? (char)fuzz_next()
							 : alphabet[fuzz_next() % nalphabet];
			break;
		case 2: { /* delete a range */
			size_t k = fuzz_next() % 64;
			if (k > n - at)
				k = n - at;
			memmove(dst + at, dst + at + k, n - at - k);
			n -= k;
			break;
		}
		case 3: { /* insert digits (overflows, huge counts) */
			size_t k = 1 + fuzz_next() % 24;
			if (n + k > cap)
				break;
			memmove(dst + at + k, dst + at, n - at);
			for (size_t i = 0; i < k; i++)
				dst[at + i] = (char)('0' + fuzz_next() % 10);
			n += k;
			break;
		}
		default: { /* duplicate a chunk elsewhere */
			size_t k = fuzz_next() % 128, to = fuzz_next() % n;
			if (k > n - at)
				k = n - at;
			if (n + k > cap)
				break;
			memmove(dst + to + k, dst + to, n - to);
			memmove(dst + to, src + (at < len - k ? at : 0), k);
			n += k;
			break;
		}
		}
	}
	return n;
}

START_TEST(test_fuzz_reader)
{
	size_t len;
	char *dump = fuzz_load(&len);
	size_t cap = len + 4096;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	FILE *devnull = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(devnull);
	int accepted = 0, rejected = 0, symbolized = 0;
	for (int it = 0; it < FUZZ_ITERATIONS; it++) {
		size_t n = fuzz_mutate(dump, len, buf, cap, fuzz_heap_alphabet);
		profile_t p;
		profile_init(&p);
		diag_t d = {0};
		long thread = fuzz_next() % 8 == 0 ? 1 : READ_ALL_THREADS;
		int err = read_profile_buffer(&p, "fuzz.heap", buf, n, thread, false, &d);
		if (err != 0) {
			ck_assert_msg(d.set && strncmp(d.msg, "fuzz.heap:", 10) == 0, "%s", d.msg);
			rejected++;
		} else {
			accepted++;
			if (symbolized < FUZZ_SYMBOLIZED && fuzz_next() % 16 == 0) {
				symbolize_options_t so = {0};
				symbolize_profile(&p, &so);
				symbolized++;
			}
			graph_options_t go = {.granularity = (enum graph_granularity)(it % 4),
					      .value = (enum profile_value)(it % PROFILE_NVALUES)};
			graph_t g;
			ck_assert_int_eq(graph_build(&g, &p, &go, &d), 0);
			out_options_t oo = {.value = go.value, .thread = -1};
			out_text_write(devnull, &g, &oo);
			graph_fini(&g);
		}
		profile_fini(&p);
	}
	/* The mutations must exercise both outcomes. */
	ck_assert_int_gt(accepted, FUZZ_ITERATIONS / 20);
	ck_assert_int_gt(rejected, FUZZ_ITERATIONS / 4);
	fclose(devnull);
	free(buf);
	free(dump);
}
END_TEST

START_TEST(test_fuzz_truncated_gzip)
{
	size_t len;
	char *dump = fuzz_load(&len);
	uLongf zcap = compressBound(len) + 64;
	unsigned char *z = malloc(zcap);
	ck_assert_ptr_nonnull(z);
	/* A gzip stream of the dump, written through zlib's gz* interface. */
	char path[] = "/tmp/jeprof-fuzz-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	gzFile gz = gzdopen(dup(fd), "wb");
	ck_assert_int_eq(gzwrite(gz, dump, (unsigned)len), (int)len);
	ck_assert_int_eq(gzclose(gz), Z_OK);
	ssize_t zlen = pread(fd, z, zcap, 0);
	ck_assert_int_gt(zlen, 20);
	for (int it = 0; it < FUZZ_GZIP_CUTS; it++) {
		size_t cut = it == 0 ? (size_t)zlen : fuzz_next() % (size_t)zlen;
		if (it % 3 == 1 && cut > 10)
			z[cut / 2] ^= 0x55; /* and corrupt the middle */
		ck_assert_int_eq(ftruncate(fd, 0), 0);
		ck_assert_int_eq(pwrite(fd, z, cut, 0), (ssize_t)cut);
		profile_t p;
		profile_init(&p);
		diag_t d = {0};
		int err = read_profile_file(&p, path, READ_ALL_THREADS, false, &d);
		if (it == 0)
			ck_assert_msg(err == 0, "%s", d.msg);
		else if (err != 0)
			ck_assert_msg(strstr(d.msg, path) != NULL, "%s", d.msg);
		profile_fini(&p);
		if (it % 3 == 1 && cut > 10)
			z[cut / 2] ^= 0x55;
	}
	close(fd);
	unlink(path);
	free(z);
	free(dump);
}
END_TEST

static size_t
fuzz_load_recent(char **buf)
{
	size_t len;
	*buf = fuzz_load_from("JEPROF_RECENT_DATA", "build/jeprof/recent", "strata.recent.json",
			      &len);
	return len;
}

/*
 * Reads buf as a prof_recent file: when accepted, writes its table (symbolized
 * when asked) to out and returns true; when rejected, the message names it.
 */
static bool
fuzz_read_recent(const char *buf, size_t n, bool symbolize, FILE *out)
{
	recent_t r;
	recent_init(&r);
	diag_t d = {0};
	int err = recent_read_buffer(&r, "fuzz.recent.json", buf, n, NULL, &d);
	if (err != 0) {
		ck_assert_msg(d.set && strncmp(d.msg, "fuzz.recent.json", 16) == 0, "%s", d.msg);
	} else {
		if (symbolize) {
			symbolize_options_t so = {0};
			symbolize_profile(&r.prof, &so);
		}
		out_recent_options_t o = {.max_size = UINT64_MAX,
					  .thread = -1,
					  .max_records = SIZE_MAX,
					  .focus = "recent|0x",
					  .ignore = "zzz"};
		ck_assert_int_eq(out_recent_write(out, &r, &o, &d), 0);
	}
	recent_fini(&r);
	return err == 0;
}

START_TEST(test_fuzz_recent_reader)
{
	char *file;
	size_t len = fuzz_load_recent(&file);
	size_t cap = len + 4096;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	FILE *devnull = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(devnull);
	ck_assert(fuzz_read_recent(file, len, true, devnull));
	int accepted = 0, rejected = 0, symbolized = 0;
	for (int it = 0; it < FUZZ_ITERATIONS; it++) {
		size_t n = fuzz_mutate(file, len, buf, cap, fuzz_json_alphabet);
		bool symbolize = symbolized < FUZZ_SYMBOLIZED && fuzz_next() % 16 == 0;
		if (fuzz_read_recent(buf, n, symbolize, devnull)) {
			accepted++;
			symbolized += symbolize;
		} else {
			rejected++;
		}
	}
	ck_assert_int_gt(accepted, FUZZ_ITERATIONS / 20);
	ck_assert_int_gt(rejected, FUZZ_ITERATIONS / 4);
	fclose(devnull);
	free(buf);
	free(file);
}
END_TEST

START_TEST(test_fuzz_recent_truncations_and_flips)
{
	static const char flips[] = {'"', '{', '}', '[', ']', ',', ':', '\\', '0', '-', ' ', '\0'};
	char *file;
	size_t len = fuzz_load_recent(&file);
	char *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	FILE *devnull = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(devnull);
	/* Every proper prefix is cut inside the top-level object. */
	for (size_t n = 0; n < len; n++) {
		recent_t r;
		recent_init(&r);
		diag_t d = {0};
		memcpy(buf, file, n);
		ck_assert_int_ne(recent_read_buffer(&r, "cut.json", buf, n, NULL, &d), 0);
		ck_assert_msg(strstr(d.msg, n == 0 ? "empty file" : "truncated file") != NULL,
			      "cut at %zu: %s", n, d.msg);
		recent_fini(&r);
	}
	int accepted = 0;
	for (size_t at = 0; at < len; at++) {
		memcpy(buf, file, len);
		buf[at] = flips[fuzz_next() % sizeof(flips)];
		accepted += fuzz_read_recent(buf, len, false, devnull);
	}
	ck_assert_int_gt(accepted, 0);
	fclose(devnull);
	free(buf);
	free(file);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("jeprof-fuzz");
	TCase *tc = tcase_create("fuzz");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fuzz_reader);
	tcase_add_test(tc, test_fuzz_truncated_gzip);
	tcase_add_test(tc, test_fuzz_recent_reader);
	tcase_add_test(tc, test_fuzz_recent_truncations_and_flips);
	suite_add_tcase(s, tc);
	return s;
}
