/*
 * check_prof_writer.c — the dump file writer (prof/writer.h), on real files
 * in a fresh folder under /tmp per test:
 *   - a plain dump holds exactly what was written and printed, across
 *     buffer boundaries, including text longer than the buffer, a copy of
 *     a file larger than the buffer and a copy of /proc/self/maps;
 *   - a gzip dump passes `gzip -t` and inflates to exactly the text;
 *   - open fails with the kernel's errno (ENOENT, ENOTDIR, EACCES,
 *     ENAMETOOLONG) and creates nothing; a failed writer stays inert;
 *   - the soft RLIMIT_FSIZE gives EFBIG from close, not SIGXFSZ, and a
 *     dump of exactly the limit succeeds;
 *   - a full tmpfs (ENOSPC), and through the write hook short writes,
 *     EINTR and a failing write: the text survives the first two, the
 *     error is reported by close after the third;
 *   - no reader sees part of a dump: the path appears only when close
 *     succeeds, replaces an existing file by rename (an old reader keeps the
 *     old file), and a failure or an abandon leaves the path as it was and
 *     no temporary file behind; temporary names already taken are skipped;
 *   - errno is preserved, and nothing is allocated with malloc: every byte,
 *     zlib's state included, comes from os_pages_map and goes back.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "os.h"
#include "prof/writer.h"
#include "child_util.h"
#include "dump_util.h"
#include "tree_util.h"

/* ASan's hooks on every malloc and free of the process. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

extern char **environ;

static char test_dir[64];
static char dump_path[PATH_MAX];

static void
setup(void)
{
	temp_dir_make(test_dir, sizeof(test_dir), "writer");
	snprintf(dump_path, sizeof(dump_path), "%s/dump.heap", test_dir);
	umask(022);
	os_test_hooks = (os_hooks_t){0};
	prof_writer_test_write = NULL;
	prof_writer_test_named_tmp = false;
}

static void
teardown(void)
{
	tree_remove(test_dir);
}

/* ---------------------------------------------------------------- helpers */

/* Reads the whole file (NUL-terminated); NULL if it cannot be opened. */
static char *
read_all(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n + 1 == cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Inflates a gzip file with zlib's own reader. */
static char *
gunzip_all(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	ck_assert_ptr_nonnull(gz);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n == cap)
			buf = realloc(buf, cap *= 2);
		int r = gzread(gz, buf + n, (unsigned)(cap - n));
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	ck_assert_int_eq(gzclose(gz), Z_OK);
	*len = n;
	return buf;
}

/* The exit status of `gzip -t path`. */
static int
gzip_test(const char *path)
{
	char *argv[] = {"gzip", "-t", (char *)path, NULL};
	pid_t pid;
	ck_assert_int_eq(posix_spawnp(&pid, "gzip", NULL, NULL, argv, environ), 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
assert_file_is(const char *path, const char *data, size_t len)
{
	size_t n;
	char *got = read_all(path, &n);
	ck_assert_msg(got != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(got, data, len) == 0);
	free(got);
}

/* The dump's content, inflated if gzip. */
static void
assert_dump_is(bool gzip, const char *data, size_t len)
{
	if (!gzip) {
		assert_file_is(dump_path, data, len);
		return;
	}
	ck_assert_int_eq(gzip_test(dump_path), 0);
	size_t n;
	char *got = gunzip_all(dump_path, &n);
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(got, data, len) == 0);
	free(got);
}

static bool
exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* len bytes of heap_v2-like text, different for each seed. */
static char *
make_text(size_t len, unsigned seed)
{
	char *t = malloc(len + 128);
	size_t n = 0;
	for (unsigned i = 0; n < len; i++) {
		unsigned x = (i + seed) * 2654435761u;
		n += (size_t)sprintf(t + n, "@ 0x7f%08x 0x55%08x\n  t*: %u: %u [0: 0]\n", x,
		                     x ^ seed, i % 97, (i % 97) * 48);
	}
	t[len] = '\0';
	return t;
}

/* len bytes that deflate cannot shrink. */
static char *
make_noise(size_t len)
{
	char *t = malloc(len);
	uint64_t s = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < len; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		t[i] = (char)s;
	}
	return t;
}

/* Writes text in pieces of 1 to 997 bytes. */
static void
write_pieces(prof_writer_t *w, const char *text, size_t len)
{
	for (size_t off = 0, step = 1; off < len; off += step, step = step % 997 + 1) {
		if (step > len - off)
			step = len - off;
		prof_writer_write(w, text + off, step);
	}
}

/* ---------------------------------------------------------------- content */

START_TEST(test_plain_content_exact)
{
	size_t len = 3 * PROF_WRITER_BUFSIZE + 12345;
	char *text = make_text(len, 1);
	prof_writer_t w;
	ck_assert_int_eq(prof_writer_open(&w, dump_path, false), 0);
	prof_writer_printf(&w, "heap_v2/%d\n", 524288);
	write_pieces(&w, text, len);
	/* One write larger than the whole buffer. */
	prof_writer_write(&w, text, len);
	prof_writer_printf(&w, "%s %zu %llx %p|%-4d|\n", "end", (size_t)7, 0xabcULL, (void *)0x10,
	                   -3);
	ck_assert_int_eq(prof_writer_close(&w), 0);

	size_t cap = 2 * len + 256, n = 0;
	char *expect = malloc(cap);
	n += (size_t)snprintf(expect, cap, "heap_v2/%d\n", 524288);
	memcpy(expect + n, text, len);
	n += len;
	memcpy(expect + n, text, len);
	n += len;
	n += (size_t)snprintf(expect + n, cap - n, "%s %zu %llx %p|%-4d|\n", "end", (size_t)7,
	                      0xabcULL, (void *)0x10, -3);
	assert_file_is(dump_path, expect, n);

	struct stat st;
	ck_assert_int_eq(stat(dump_path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	ck_assert_int_eq(dir_entries(test_dir), 1);
	free(expect);
	free(text);
}
END_TEST

/* printf where the text fits the free space, fits only an empty buffer, and
 * fits no buffer at all (formatted in a mapping of its own). */
static void
check_printf_sizes(bool gzip)
{
	size_t big_len = 5 * PROF_WRITER_BUFSIZE / 2;
	char *big = make_text(big_len, 2);
	char medium[200];
	memset(medium, 'm', sizeof(medium) - 1);
	medium[sizeof(medium) - 1] = '\0';
	size_t fill = PROF_WRITER_BUFSIZE - 50;
	char *filler = make_text(fill, 3);

	prof_writer_t w;
	ck_assert_int_eq(prof_writer_open(&w, dump_path, gzip), 0);
	prof_writer_write(&w, filler, fill);
	prof_writer_printf(&w, "<%s>", medium);
	prof_writer_printf(&w, "[%d]", 42);
	prof_writer_write(&w, filler, fill);
	prof_writer_printf(&w, "{%s|%u}", big, 99u);
	prof_writer_printf(&w, "%s", "");
	prof_writer_printf(&w, "tail %x\n", 0xbeefu);
	ck_assert_int_eq(prof_writer_close(&w), 0);

	size_t cap = 2 * fill + big_len + 1024, n = 0;
	char *expect = malloc(cap);
	memcpy(expect, filler, fill);
	n = fill;
	n += (size_t)snprintf(expect + n, cap - n, "<%s>[%d]", medium, 42);
	memcpy(expect + n, filler, fill);
	n += fill;
	n += (size_t)snprintf(expect + n, cap - n, "{%s|%u}tail %x\n", big, 99u, 0xbeefu);
	assert_dump_is(gzip, expect, n);
	free(expect);
	free(filler);
	free(big);
}

START_TEST(test_printf_any_length_plain)
{
	check_printf_sizes(false);
}
END_TEST

START_TEST(test_printf_any_length_gzip)
{
	check_printf_sizes(true);
}
END_TEST

/* The last lines of /proc/self/maps: the stack, vvar, vdso, vsyscall. */
static const char *
tail_lines(const char *text, size_t len, int lines)
{
	const char *p = text + len;
	ck_assert(len > 0 && p[-1] == '\n');
	p--;
	while (p > text) {
		if (p[-1] == '\n' && --lines == 0)
			break;
		p--;
	}
	return p;
}

START_TEST(test_copy_file)
{
	/* A regular file larger than the buffer, after some text. */
	char src[PATH_MAX];
	snprintf(src, sizeof(src), "%s/src.txt", test_dir);
	size_t len = 2 * PROF_WRITER_BUFSIZE + 777;
	char *text = make_text(len, 4);
	int fd = open(src, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	prof_writer_t w;
	ck_assert_int_eq(prof_writer_open(&w, dump_path, false), 0);
	prof_writer_write(&w, "x", 1);
	prof_writer_copy_file(&w, src);
	ck_assert_int_eq(prof_writer_close(&w), 0);
	size_t n;
	char *got = read_all(dump_path, &n);
	ck_assert_uint_eq(n, len + 1);
	ck_assert_int_eq(got[0], 'x');
	ck_assert(memcmp(got + 1, text, len) == 0);
	free(got);

	/* /proc/self/maps, as a dump ends: its last lines match a fresh read. */
	const char *header = "\nMAPPED_LIBRARIES:\n";
	ck_assert_int_eq(prof_writer_open(&w, dump_path, false), 0);
	prof_writer_printf(&w, "%s", header);
	prof_writer_copy_file(&w, "/proc/self/maps");
	ck_assert_int_eq(prof_writer_close(&w), 0);
	size_t fresh_len;
	char *fresh = read_all("/proc/self/maps", &fresh_len);
	got = read_all(dump_path, &n);
	ck_assert(strncmp(got, header, strlen(header)) == 0);
	ck_assert_ptr_nonnull(strstr(got, "[stack]"));
	ck_assert_str_eq(tail_lines(got, n, 4), tail_lines(fresh, fresh_len, 4));
	free(fresh);
	free(got);
	free(text);
}
END_TEST

START_TEST(test_gzip_roundtrip)
{
	size_t len = (1 << 20) + 4321;
	char *text = make_text(len, 5);
	prof_writer_t w;
	ck_assert_int_eq(prof_writer_open(&w, dump_path, true), 0);
	write_pieces(&w, text, len);
	ck_assert_int_eq(prof_writer_close(&w), 0);
	assert_dump_is(true, text, len);
	size_t n;
	char *raw = read_all(dump_path, &n);
	ck_assert_uint_eq((unsigned char)raw[0], 0x1f);
	ck_assert_uint_eq((unsigned char)raw[1], 0x8b);
	ck_assert_uint_lt(n, len / 2);
	free(raw);

	/* An empty dump is a valid, empty gzip file. */
	ck_assert_int_eq(prof_writer_open(&w, dump_path, true), 0);
	ck_assert_int_eq(prof_writer_close(&w), 0);
	assert_dump_is(true, "", 0);
	ck_assert_int_eq(dir_entries(test_dir), 1);
	free(text);
}
END_TEST

/* ---------------------------------------------------------------- open errors */

/* open fails with want, creates nothing in test_dir, and the writer stays
 * inert: writes do nothing, close repeats the error. */
static void
assert_open_fails(const char *path, bool gzip, int want)
{
	prof_writer_t w;
	errno = 1234;
	ck_assert_int_eq(prof_writer_open(&w, path, gzip), want);
	ck_assert_int_eq(errno, 1234);
	prof_writer_write(&w, "abc", 3);
	prof_writer_printf(&w, "%d", 1);
	prof_writer_copy_file(&w, "/proc/self/maps");
	prof_writer_abandon(&w);
	ck_assert_int_eq(prof_writer_close(&w), want);
	ck_assert_int_eq(dir_entries(test_dir), 0);
}

START_TEST(test_open_errors)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/missing/dump.heap", test_dir);
	assert_open_fails(path, false, ENOENT);
	assert_open_fails(path, true, ENOENT);
	assert_open_fails("", false, ENOENT);
	snprintf(path, sizeof(path), "%s/", test_dir);
	assert_open_fails(path, false, EISDIR);

	/* A path through a regular file, for root as for anyone. */
	char file[PATH_MAX];
	snprintf(file, sizeof(file), "%s/file", test_dir);
	close(open(file, O_WRONLY | O_CREAT, 0644));
	snprintf(path, sizeof(path), "%s/dump.heap", file);
	prof_writer_t w;
	ck_assert_int_eq(prof_writer_open(&w, path, false), ENOTDIR);
	ck_assert_int_eq(dir_entries(test_dir), 1);
	unlink(file);

	/* A name past NAME_MAX, and a path past PATH_MAX. */
	int dir_len = snprintf(path, sizeof(path), "%s/", test_dir);
	memset(path + dir_len, 'a', NAME_MAX + 1);
	path[dir_len + NAME_MAX + 1] = '\0';
	assert_open_fails(path, false, ENAMETOOLONG);
	memset(path + dir_len, 'a', sizeof(path) - 1 - (size_t)dir_len);
	path[sizeof(path) - 1] = '\0';
	assert_open_fails(path, false, ENAMETOOLONG);
}
END_TEST

/* In a child that is not root: open in a folder it may search but not
 * write gives EACCES, next to a folder where it succeeds.  Prints
 * "<open in 0555> <open in 0777> <entries>". */
static void
open_as_user(const void *arg)
{
	(void)arg;
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		_exit(2);
	char path[PATH_MAX];
	prof_writer_t w;
	snprintf(path, sizeof(path), "%s/ro/dump.heap", test_dir);
	int ro = prof_writer_open(&w, path, false);
	snprintf(path, sizeof(path), "%s/rw/dump.heap", test_dir);
	int rw = prof_writer_open(&w, path, true);
	if (rw == 0)
		rw = prof_writer_close(&w);
	snprintf(path, sizeof(path), "%s/ro", test_dir);
	fprintf(stderr, "%d %d %d", ro, rw, dir_entries(path));
}

START_TEST(test_open_unwritable_folder)
{
	char ro[PATH_MAX], rw[PATH_MAX];
	snprintf(ro, sizeof(ro), "%s/ro", test_dir);
	snprintf(rw, sizeof(rw), "%s/rw", test_dir);
	ck_assert_int_eq(mkdir(ro, 0755), 0);
	ck_assert_int_eq(mkdir(rw, 0755), 0);
	ck_assert_int_eq(chmod(ro, 0555), 0);
	ck_assert_int_eq(chmod(rw, 0777), 0);
	ck_assert_int_eq(chmod(test_dir, 0755), 0);
	char out[128], want[64];
	int status = child_run_capture(open_as_user, NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	snprintf(want, sizeof(want), "%d 0 0", EACCES);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(dir_entries(rw), 1);
}
END_TEST

/* ---------------------------------------------------------------- limits */

static void
set_fsize_limit(rlim_t bytes)
{
	struct rlimit lim;
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	lim.rlim_cur = bytes;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

/* Writes len bytes under the current limit; close's result. */
static int
dump_bytes(bool gzip, const char *data, size_t len)
{
	prof_writer_t w;
	ck_assert_int_eq(prof_writer_open(&w, dump_path, gzip), 0);
	for (size_t off = 0; off < len; off += 4096)
		prof_writer_write(&w, data + off, len - off < 4096 ? len - off : 4096);
	return prof_writer_close(&w);
}

START_TEST(test_rlimit_fsize)
{
	/* SIGXFSZ keeps its default action: were it raised, the test died. */
	size_t big = 1 << 20, limit = 100 << 10;
	char *noise = make_noise(big);
	set_fsize_limit(limit);
	for (int gzip = 0; gzip <= 1; gzip++) {
		errno = 0;
		ck_assert_int_eq(dump_bytes(gzip, noise, big), EFBIG);
		ck_assert_int_eq(errno, 0);
		ck_assert(!exists(dump_path));
		ck_assert_int_eq(dir_entries(test_dir), 0);
	}
	/* Exactly the limit fits; one byte more does not. */
	ck_assert_int_eq(dump_bytes(false, noise, limit + 1), EFBIG);
	ck_assert_int_eq(dump_bytes(false, noise, limit), 0);
	set_fsize_limit(RLIM_INFINITY);
	assert_file_is(dump_path, noise, limit);
	free(noise);
}
END_TEST

/* In a child with its own mount namespace: a dump into a 64 KiB tmpfs.
 * Prints "<close> <entries left>", or "skip" where no tmpfs can be mounted. */
static void
dump_to_small_tmpfs(const void *arg)
{
	bool gzip = *(const bool *)arg;
	char why[256];
	if (!private_mounts(why, sizeof(why)) ||
	    mount("tmpfs", test_dir, "tmpfs", 0, "size=64k") != 0) {
		fprintf(stderr, "skip");
		return;
	}
	char *noise = make_noise(1 << 20);
	int err = dump_bytes(gzip, noise, 1 << 20);
	fprintf(stderr, "%d %d", err, dir_entries(test_dir));
}

START_TEST(test_full_tmpfs)
{
	for (int i = 0; i <= 1; i++) {
		bool gzip = i;
		char out[64], want[64];
		int status = child_run_capture(dump_to_small_tmpfs, &gzip, out, sizeof(out));
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x",
		              status);
		if (strcmp(out, "skip") == 0) {
			fprintf(stderr, "check_prof_writer: no tmpfs here; ENOSPC is covered by "
			                "test_write_fails only\n");
			return;
		}
		snprintf(want, sizeof(want), "%d 0", ENOSPC);
		ck_assert_str_eq(out, want);
	}
}
END_TEST

/* ---------------------------------------------------------------- write hook */

static unsigned hook_calls;
static size_t hook_budget; /* bytes the failing hook lets through */

/* Short writes of at most 777 bytes, and EINTR on every third call. */
static ssize_t
write_short_or_interrupted(int fd, const void *buf, size_t n)
{
	if (++hook_calls % 3 == 0) {
		errno = EINTR;
		return -1;
	}
	return write(fd, buf, n < 777 ? n : 777);
}

/* ENOSPC once hook_budget bytes are written. */
static ssize_t
write_until_full(int fd, const void *buf, size_t n)
{
	hook_calls++;
	if (hook_budget == 0) {
		errno = ENOSPC;
		return -1;
	}
	ssize_t r = write(fd, buf, n < hook_budget ? n : hook_budget);
	hook_budget -= (size_t)r;
	return r;
}

START_TEST(test_short_and_interrupted_writes)
{
	size_t len = 5 * PROF_WRITER_BUFSIZE + 3;
	char *text = make_text(len, 6);
	for (int gzip = 0; gzip <= 1; gzip++) {
		hook_calls = 0;
		prof_writer_test_write = write_short_or_interrupted;
		prof_writer_t w;
		ck_assert_int_eq(prof_writer_open(&w, dump_path, gzip), 0);
		errno = 4321;
		write_pieces(&w, text, len);
		ck_assert_int_eq(errno, 4321);
		ck_assert_int_eq(prof_writer_close(&w), 0);
		ck_assert_int_eq(errno, 4321);
		prof_writer_test_write = NULL;
		struct stat st;
		ck_assert_int_eq(stat(dump_path, &st), 0);
		/* Every byte went through the hook, 777 at a time at most. */
		ck_assert_uint_ge(hook_calls, (size_t)st.st_size / 777);
		assert_dump_is(gzip, text, len);
	}
	free(text);
}
END_TEST

START_TEST(test_write_fails)
{
	size_t len = 4 * PROF_WRITER_BUFSIZE;
	char *text = make_text(len, 7);
	/* Incompressible, so that gzip writes as soon as plain does. */
	char *noise = make_noise(len);
	for (int gzip = 0; gzip <= 1; gzip++) {
		hook_calls = 0;
		hook_budget = 1000;
		prof_writer_test_write = write_until_full;
		prof_writer_t w;
		ck_assert_int_eq(prof_writer_open(&w, dump_path, gzip), 0);
		prof_writer_write(&w, noise, 2 * PROF_WRITER_BUFSIZE + 1);
		/* After the failure, nothing more reaches the file. */
		unsigned calls = hook_calls;
		ck_assert_uint_ge(calls, 2);
		prof_writer_write(&w, text, len);
		prof_writer_printf(&w, "%s", text);
		prof_writer_copy_file(&w, "/proc/self/maps");
		ck_assert_uint_eq(hook_calls, calls);
		errno = 0;
		ck_assert_int_eq(prof_writer_close(&w), ENOSPC);
		ck_assert_int_eq(errno, 0);
		ck_assert_uint_eq(hook_calls, calls);
		ck_assert(!exists(dump_path));
		ck_assert_int_eq(dir_entries(test_dir), 0);
	}
	free(noise);
	free(text);
}
END_TEST

/* ---------------------------------------------------------------- atomicity */

/* Loop tests of this part run twice: _i == 0 with an unnamed file (the
 * default here), _i == 1 under a temporary name from the start (as on a
 * file system without O_TMPFILE). */
static void
use_named_tmp(int i)
{
	prof_writer_test_named_tmp = i == 1;
}

/* While the dump is written, the folder shows no file (unnamed) or only the
 * temporary one; close makes the path appear, whole. */
START_TEST(test_path_appears_only_at_close)
{
	use_named_tmp(_i);
	size_t len = 4 * PROF_WRITER_BUFSIZE;
	char *text = make_text(len, 8);
	for (int gzip = 0; gzip <= 1; gzip++) {
		prof_writer_t w;
		ck_assert_int_eq(prof_writer_open(&w, dump_path, gzip), 0);
		char tmp_name[NAME_MAX + 1];
		for (size_t off = 0; off < len; off += len / 8) {
			prof_writer_write(&w, text + off, len / 8);
			ck_assert(!exists(dump_path));
			ck_assert_int_eq(dir_entries_named(test_dir, tmp_name, sizeof(tmp_name)), _i);
			if (_i == 1)
				ck_assert_msg(strncmp(tmp_name, "dump.heap.tmp.", 14) == 0, "%s", tmp_name);
		}
		ck_assert_int_eq(prof_writer_close(&w), 0);
		ck_assert_int_eq(dir_entries_named(test_dir, tmp_name, sizeof(tmp_name)), 1);
		ck_assert_str_eq(tmp_name, "dump.heap");
		assert_dump_is(gzip, text, len);
		unlink(dump_path);
	}
	free(text);
}
END_TEST

/* How die_mid_dump's child ends. */
typedef enum { DIE_BY_SIGKILL, DIE_BY_EXIT, DIE_BY_EXEC } die_how_t;

typedef struct {
	bool gzip;
	die_how_t how;
} die_mid_dump_t;

/* In a child: opens a dump to dump_path, writes three buffers' worth and
 * ends as arg says, never closing the writer (exec runs /bin/true, as a
 * forked child of a program does while its dumper thread writes). */
static void
die_mid_dump(const void *arg)
{
	const die_mid_dump_t *c = arg;
	prof_writer_t w;
	if (prof_writer_open(&w, dump_path, c->gzip) != 0)
		_exit(3);
	char *text = make_text(3 * PROF_WRITER_BUFSIZE, 11);
	prof_writer_write(&w, text, 3 * PROF_WRITER_BUFSIZE);
	if (w.err != 0)
		_exit(4);
	if (c->how == DIE_BY_SIGKILL)
		raise(SIGKILL);
	if (c->how == DIE_BY_EXEC)
		execl("/bin/true", "true", (char *)NULL);
	_exit(0);
}

/* A process killed, calling _exit or exec in the middle of a dump leaves
 * nothing in the folder (an unnamed file; a temporary name was left
 * behind before). */
START_TEST(test_death_mid_dump_leaves_nothing)
{
	static const die_mid_dump_t cases[] = {
		{false, DIE_BY_SIGKILL}, {true, DIE_BY_SIGKILL}, {false, DIE_BY_EXIT},
		{true, DIE_BY_EXIT},     {false, DIE_BY_EXEC},   {true, DIE_BY_EXEC},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64];
		int status = child_run_capture(die_mid_dump, &cases[i], out, sizeof(out));
		if (cases[i].how == DIE_BY_SIGKILL)
			ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			              "case %zu: status %#x", i, status);
		else
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			              "case %zu: status %#x", i, status);
		ck_assert_msg(dir_entries(test_dir) == 0, "case %zu left %d files", i,
		              dir_entries(test_dir));
	}
}
END_TEST

START_TEST(test_replace_existing)
{
	use_named_tmp(_i);
	const char old[] = "old dump\n";
	int fd = open(dump_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_eq(write(fd, old, sizeof(old) - 1), (ssize_t)sizeof(old) - 1);
	close(fd);
	struct stat before, after;
	ck_assert_int_eq(stat(dump_path, &before), 0);

	/* Failures leave the old file, same inode, and nothing else. */
	prof_writer_t w;
	ck_assert_int_eq(prof_writer_open(&w, dump_path, false), 0);
	prof_writer_printf(&w, "new\n");
	prof_writer_copy_file(&w, "/nonexistent/file");
	ck_assert_int_eq(prof_writer_close(&w), ENOENT);
	ck_assert_int_eq(prof_writer_open(&w, dump_path, true), 0);
	prof_writer_printf(&w, "new\n");
	prof_writer_abandon(&w);
	prof_writer_abandon(&w);
	assert_file_is(dump_path, old, sizeof(old) - 1);
	ck_assert_int_eq(stat(dump_path, &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_int_eq(dir_entries(test_dir), 1);

	/* Success renames over it: a reader that opened the old file still
	 * reads it whole; the path reads the new one. */
	int reader = open(dump_path, O_RDONLY);
	ck_assert_int_ge(reader, 0);
	ck_assert_int_eq(prof_writer_open(&w, dump_path, false), 0);
	prof_writer_printf(&w, "new dump\n");
	assert_file_is(dump_path, old, sizeof(old) - 1);
	ck_assert_int_eq(prof_writer_close(&w), 0);
	ck_assert_int_eq(prof_writer_close(&w), EBADF);
	assert_file_is(dump_path, "new dump\n", 9);
	ck_assert_int_eq(stat(dump_path, &after), 0);
	ck_assert_uint_ne(after.st_ino, before.st_ino);
	char buf[64];
	ck_assert_int_eq(read(reader, buf, sizeof(buf)), (ssize_t)sizeof(old) - 1);
	ck_assert(memcmp(buf, old, sizeof(old) - 1) == 0);
	close(reader);
	ck_assert_int_eq(dir_entries(test_dir), 1);
}
END_TEST

START_TEST(test_abandon_removes_tmp)
{
	use_named_tmp(_i);
	char *text = make_text(3 * PROF_WRITER_BUFSIZE, 9);
	for (int gzip = 0; gzip <= 1; gzip++) {
		prof_writer_t w;
		ck_assert_int_eq(prof_writer_open(&w, dump_path, gzip), 0);
		prof_writer_write(&w, text, 3 * PROF_WRITER_BUFSIZE);
		ck_assert_int_eq(dir_entries(test_dir), _i);
		errno = 55;
		prof_writer_abandon(&w);
		ck_assert_int_eq(errno, 55);
		ck_assert_int_eq(dir_entries(test_dir), 0);
		/* The writer is closed: writes do nothing, close reports it. */
		prof_writer_write(&w, "x", 1);
		ck_assert_int_eq(prof_writer_close(&w), EBADF);
		ck_assert_int_eq(dir_entries(test_dir), 0);
	}
	free(text);
}
END_TEST

/* Squats the first ten temporary names this process would pick. */
static void
squat_tmp_names(void)
{
	char squat[PATH_MAX + 64];
	for (int i = 0; i < 10; i++) {
		snprintf(squat, sizeof(squat), "%s.tmp.%d.%d", dump_path, (int)getpid(), i);
		close(open(squat, O_WRONLY | O_CREAT | O_EXCL, 0600));
	}
}

static void
assert_squats_untouched(void)
{
	char squat[PATH_MAX + 64];
	for (int i = 0; i < 10; i++) {
		snprintf(squat, sizeof(squat), "%s.tmp.%d.%d", dump_path, (int)getpid(), i);
		assert_file_is(squat, "", 0);
	}
}

/* Under temporary names from the start, two writers at once on one path
 * get separate temporary files, and names other files hold are skipped. */
START_TEST(test_temporary_names)
{
	use_named_tmp(1);
	squat_tmp_names();
	prof_writer_t a, b;
	ck_assert_int_eq(prof_writer_open(&a, dump_path, false), 0);
	ck_assert_int_eq(prof_writer_open(&b, dump_path, true), 0);
	ck_assert_int_eq(dir_entries(test_dir), 12);
	prof_writer_printf(&a, "from a\n");
	prof_writer_printf(&b, "from b\n");
	ck_assert_int_eq(prof_writer_close(&a), 0);
	assert_file_is(dump_path, "from a\n", 7);
	ck_assert_int_eq(prof_writer_close(&b), 0);
	assert_dump_is(true, "from b\n", 7);
	ck_assert_int_eq(dir_entries(test_dir), 11);
	assert_squats_untouched();
}
END_TEST

/* Unnamed, two writers at once on one path: the first close links the
 * path, the second finds it taken and replaces it through a temporary name,
 * skipping the names other files hold. */
START_TEST(test_unnamed_replaces_through_temporary_name)
{
	squat_tmp_names();
	prof_writer_t a, b;
	ck_assert_int_eq(prof_writer_open(&a, dump_path, true), 0);
	ck_assert_int_eq(prof_writer_open(&b, dump_path, false), 0);
	ck_assert_int_eq(dir_entries(test_dir), 10);
	prof_writer_printf(&a, "from a\n");
	prof_writer_printf(&b, "from b\n");
	ck_assert_int_eq(prof_writer_close(&a), 0);
	assert_dump_is(true, "from a\n", 7);
	ck_assert_int_eq(prof_writer_close(&b), 0);
	assert_file_is(dump_path, "from b\n", 7);
	ck_assert_int_eq(dir_entries(test_dir), 11);
	assert_squats_untouched();

	/* A folder at the path: the temporary name's rename fails and the
	 * temporary name is removed. */
	unlink(dump_path);
	ck_assert_int_eq(mkdir(dump_path, 0755), 0);
	ck_assert_int_eq(prof_writer_open(&a, dump_path, false), 0);
	prof_writer_printf(&a, "into a folder\n");
	ck_assert_int_eq(prof_writer_close(&a), EISDIR);
	ck_assert_int_eq(dir_entries(test_dir), 11);
	ck_assert_int_eq(dir_entries(dump_path), 0);
	assert_squats_untouched();
}
END_TEST

/* ---------------------------------------------------------------- memory */

static bool counting;
static unsigned mallocs, frees, maps, unmaps;
static size_t mapped_bytes;

static void
on_malloc(const volatile void *p, size_t size)
{
	(void)p;
	(void)size;
	mallocs += counting;
}

static void
on_free(const volatile void *p)
{
	(void)p;
	frees += counting;
}

static void *
count_map(size_t size, size_t alignment)
{
	maps++;
	mapped_bytes += size;
	return os_real_hooks.pages_map(size, alignment);
}

static void
count_unmap(void *addr, size_t size)
{
	unmaps++;
	mapped_bytes -= size;
	os_real_hooks.pages_unmap(addr, size);
}

START_TEST(test_no_malloc)
{
	size_t len = 3 * PROF_WRITER_BUFSIZE;
	char *text = make_text(len, 10);
	ck_assert_int_eq(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0, 1);
	os_test_hooks.pages_map = count_map;
	os_test_hooks.pages_unmap = count_unmap;
	for (int gzip = 0; gzip <= 1; gzip++) {
		maps = unmaps = 0;
		counting = true;
		/* No Check assertion until counting stops: they allocate. */
		prof_writer_t w;
		int open_err = prof_writer_open(&w, dump_path, gzip);
		unsigned maps_at_open = maps;
		prof_writer_write(&w, text, len);
		prof_writer_printf(&w, "%s|%d\n", text, 1);
		prof_writer_copy_file(&w, "/proc/self/maps");
		int close_err = prof_writer_close(&w);
		counting = false;
		ck_assert_int_eq(open_err, 0);
		ck_assert_int_eq(close_err, 0);
		ck_assert_uint_eq(mallocs, 0);
		ck_assert_uint_eq(frees, 0);
		/* The writer's space, plus zlib's state when gzip (deflateInit2
		 * makes five allocations); one more for the long printf. */
		if (gzip)
			ck_assert_uint_gt(maps_at_open, 1);
		else
			ck_assert_uint_eq(maps_at_open, 1);
		ck_assert_uint_eq(maps, maps_at_open + 1);
		ck_assert_uint_eq(unmaps, maps);
		ck_assert_uint_eq(mapped_bytes, 0);
	}
	/* A failed open gives back what it mapped, once: abandon and close
	 * of the failed writer unmap nothing more. */
	maps = unmaps = 0;
	counting = true;
	prof_writer_t w;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/missing/dump", test_dir);
	int open_err = prof_writer_open(&w, path, true);
	prof_writer_abandon(&w);
	int close_err = prof_writer_close(&w);
	counting = false;
	ck_assert_int_eq(open_err, ENOENT);
	ck_assert_int_eq(close_err, ENOENT);
	ck_assert_uint_eq(mallocs + frees, 0);
	ck_assert_uint_gt(maps, 1);
	ck_assert_uint_eq(unmaps, maps);
	ck_assert_uint_eq(mapped_bytes, 0);
	os_test_hooks = (os_hooks_t){0};
	free(text);
}
END_TEST

/* The first maps_allowed mappings succeed, the next ones fail. */
static unsigned maps_allowed;

static void *
map_fails_after_allowed(size_t size, size_t alignment)
{
	if (maps_allowed == 0)
		return NULL;
	maps_allowed--;
	return count_map(size, alignment);
}

/* Each mapping open makes fails in turn (the writer's space, then each of
 * zlib's): open reports ENOMEM, gives back what it had mapped and leaves
 * no file. */
START_TEST(test_map_fails)
{
	os_test_hooks.pages_map = map_fails_after_allowed;
	os_test_hooks.pages_unmap = count_unmap;
	maps = 0;
	for (unsigned allowed = 0;; allowed++) {
		maps_allowed = allowed;
		prof_writer_t w;
		int err = prof_writer_open(&w, dump_path, true);
		if (err == 0) {
			/* Every mapping open needs was allowed. */
			ck_assert_uint_gt(allowed, 1);
			ck_assert_int_eq(prof_writer_close(&w), 0);
			break;
		}
		ck_assert_int_eq(err, ENOMEM);
		ck_assert_uint_eq(mapped_bytes, 0);
		ck_assert_int_eq(dir_entries(test_dir), 0);
	}
	ck_assert_uint_eq(mapped_bytes, 0);
	ck_assert_uint_eq(unmaps, maps);
	os_test_hooks = (os_hooks_t){0};
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("prof_writer");
	TCase *tc = tcase_create("content");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_plain_content_exact);
	tcase_add_test(tc, test_printf_any_length_plain);
	tcase_add_test(tc, test_printf_any_length_gzip);
	tcase_add_test(tc, test_copy_file);
	tcase_add_test(tc, test_gzip_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_open_unwritable_folder);
	tcase_add_test(tc, test_rlimit_fsize);
	tcase_add_test(tc, test_full_tmpfs);
	tcase_add_test(tc, test_short_and_interrupted_writes);
	tcase_add_test(tc, test_write_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("atomicity");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_path_appears_only_at_close, 0, 2);
	tcase_add_loop_test(tc, test_replace_existing, 0, 2);
	tcase_add_loop_test(tc, test_abandon_removes_tmp, 0, 2);
	tcase_add_test(tc, test_death_mid_dump_leaves_nothing);
	tcase_add_test(tc, test_temporary_names);
	tcase_add_test(tc, test_unnamed_replaces_through_temporary_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_no_malloc);
	tcase_add_test(tc, test_map_fails);
	suite_add_tcase(s, tc);
	return s;
}
