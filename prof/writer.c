/*
 * prof/writer.c — the dump file writer.  See prof/writer.h.
 *
 * Each open writer maps one prof_writer_space_t: the final and temporary
 * paths, the text buffer and the compressed-output buffer (whose pages a
 * plain dump never touches, so they cost no memory).  Text collects in buf;
 * a full buf goes to the file (plain) or through deflate into zbuf (gzip),
 * and a full zbuf goes to the file.  zlib's own state comes from
 * prof_writer_zalloc, one mapping per zlib allocation with its length in a
 * header in front of the pointer zlib gets.
 *
 * Internal steps that can fail record their error in w->err and do nothing
 * once it is set, so a dump stops at its first error and close reports it.
 * Every exported function saves errno on entry and restores it on return.
 *
 * Locks: none; prof_writer_tmp_seq is atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h> /* rename(2) only: no stdio streams here */
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "debug.h"
#include "msg.h"
#include "os.h"
#include "prof/writer.h"

struct prof_writer_space {
	char path[PATH_MAX];
	char tmp_path[PATH_MAX];
	char buf[PROF_WRITER_BUFSIZE];
	char zbuf[PROF_WRITER_BUFSIZE];
};
#define PROF_WRITER_SPACE_SIZE PAGE_CEILING(sizeof(prof_writer_space_t))

/* Numbers this process's temporary files. */
static _Atomic unsigned prof_writer_tmp_seq;
/* Temporary names tried before open gives up with EEXIST. */
#define PROF_WRITER_TMP_TRIES 64

/* In front of each zlib allocation: the length of its mapping.  16 bytes
 * keep the pointer zlib gets aligned as malloc's would be. */
#define PROF_WRITER_ZHDR 16

ssize_t (*prof_writer_test_write)(int fd, const void *buf, size_t n);
bool prof_writer_test_named_tmp;

/* Where the last part of path (the file's name) begins. */
static size_t
prof_writer_name_at(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash == NULL ? 0 : (size_t)(slash - path) + 1;
}

/* "/proc/self/fd/<fd>", through which linkat names an unnamed file. */
#define PROF_WRITER_FD_PATH_SIZE 32
static void
prof_writer_fd_path(char *buf, int fd)
{
	msg_format(buf, PROF_WRITER_FD_PATH_SIZE, "/proc/self/fd/%d", fd);
}

static voidpf
prof_writer_zalloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	/* Two 32-bit factors: the product fits in size_t. */
	size_t map = PAGE_CEILING((size_t)items * size + PROF_WRITER_ZHDR);
	char *p = os_pages_map(map, PAGE);
	if (p == NULL)
		return Z_NULL;
	memcpy(p, &map, sizeof(map));
	return p + PROF_WRITER_ZHDR;
}

static void
prof_writer_zfree(voidpf opaque, voidpf addr)
{
	(void)opaque;
	char *p = (char *)addr - PROF_WRITER_ZHDR;
	size_t map;
	memcpy(&map, p, sizeof(map));
	os_pages_unmap(p, map);
}

static void
prof_writer_set_error(prof_writer_t *w, int err)
{
	if (w->err == 0)
		w->err = err;
}

/* Writes all of data at the end of the file, unless that would pass the
 * soft RLIMIT_FSIZE (EFBIG then, before the kernel would raise SIGXFSZ). */
static void
prof_writer_put(prof_writer_t *w, const char *data, size_t len)
{
	if (w->err != 0)
		return;
	struct rlimit lim;
	if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
	    (w->off > lim.rlim_cur || len > lim.rlim_cur - w->off)) {
		prof_writer_set_error(w, EFBIG);
		return;
	}
	while (len > 0) {
		ssize_t n = config_test_hooks && prof_writer_test_write != NULL
		                ? prof_writer_test_write(w->fd, data, len)
		                : write(w->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			prof_writer_set_error(w, n < 0 ? errno : EIO);
			return;
		}
		data += n;
		len -= (size_t)n;
		w->off += (uint64_t)n;
	}
}

/* Compresses the text buffer into zbuf (mode Z_NO_FLUSH, or Z_FINISH to end
 * the stream), writing zbuf out each time it fills. */
static void
prof_writer_deflate(prof_writer_t *w, int mode)
{
	prof_writer_space_t *s = w->space;
	w->zs.next_in = (Bytef *)s->buf;
	w->zs.avail_in = (uInt)w->len;
	do {
		w->zs.next_out = (Bytef *)s->zbuf + w->zlen;
		w->zs.avail_out = (uInt)(PROF_WRITER_BUFSIZE - w->zlen);
		int ret = deflate(&w->zs, mode);
		DEBUG_ASSERT(ret != Z_STREAM_ERROR);
		w->zlen = PROF_WRITER_BUFSIZE - w->zs.avail_out;
		if (w->zlen == PROF_WRITER_BUFSIZE) {
			prof_writer_put(w, s->zbuf, w->zlen);
			w->zlen = 0;
		}
	} while (w->zs.avail_out == 0 && w->err == 0);
}

/* Empties the text buffer into the file or the gzip stream. */
static void
prof_writer_flush(prof_writer_t *w, int mode)
{
	if (w->err != 0)
		return;
	if (w->gzip)
		prof_writer_deflate(w, mode);
	else
		prof_writer_put(w, w->space->buf, w->len);
	w->len = 0;
}

/* Unmaps what open set up and closes the writer for good; a writer closed
 * without an error reports EBADF from then on. */
static void
prof_writer_release(prof_writer_t *w)
{
	if (w->gzip)
		deflateEnd(&w->zs);
	w->gzip = false;
	if (w->space != NULL)
		os_pages_unmap(w->space, PROF_WRITER_SPACE_SIZE);
	w->space = NULL;
	prof_writer_set_error(w, EBADF);
}

/*
 * Gives the dump its temporary name, the first free "<path>.tmp.<pid>.<n>":
 * creates a new file there (open_fd) or links the open unnamed file there
 * (!open_fd).  Of a final name longer than PROF_WRITER_TMP_NAME_KEEP bytes,
 * the temporary name keeps only that many, so that with its suffix (at
 * most 27 bytes) it fits in NAME_MAX wherever the final name does.
 */
#define PROF_WRITER_TMP_NAME_KEEP (NAME_MAX - 27)
static int
prof_writer_name_tmp(prof_writer_t *w, bool open_fd)
{
	prof_writer_space_t *s = w->space;
	int dir_len = (int)prof_writer_name_at(s->path);
	int name_len = (int)strnlen(s->path + dir_len, PROF_WRITER_TMP_NAME_KEEP);
	char fd_path[PROF_WRITER_FD_PATH_SIZE];
	if (!open_fd)
		prof_writer_fd_path(fd_path, w->fd);
	for (int i = 0; i < PROF_WRITER_TMP_TRIES; i++) {
		unsigned seq = atomic_add_relaxed(&prof_writer_tmp_seq, 1);
		if (msg_format(s->tmp_path, sizeof(s->tmp_path), "%.*s.tmp.%d.%u",
		               dir_len + name_len, s->path, (int)getpid(), seq) >= sizeof(s->tmp_path))
			return ENAMETOOLONG;
		if (open_fd) {
			w->fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (w->fd >= 0)
				return 0;
		} else if (linkat(AT_FDCWD, fd_path, AT_FDCWD, s->tmp_path, AT_SYMLINK_FOLLOW) == 0) {
			return 0;
		}
		if (errno != EEXIST && errno != EINTR)
			return errno;
	}
	return EEXIST;
}

/*
 * Opens an unnamed file (O_TMPFILE) in the path's folder, to be linked at
 * close (writer.h).  false, with nothing open, where the kernel or the file
 * system has no O_TMPFILE or /proc is not mounted (linkat reaches the file
 * through /proc/self/fd: AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
 * Uses s->tmp_path as scratch.
 */
static bool
prof_writer_open_unnamed(prof_writer_t *w)
{
	if (config_test_hooks && prof_writer_test_named_tmp)
		return false;
	prof_writer_space_t *s = w->space;
	/* The folder: up to the last slash, but "/" itself for the root. */
	size_t name_at = prof_writer_name_at(s->path);
	size_t dir_len = name_at > 1 ? name_at - 1 : name_at;
	if (dir_len == 0)
		memcpy(s->tmp_path, ".", 2);
	else {
		memcpy(s->tmp_path, s->path, dir_len);
		s->tmp_path[dir_len] = '\0';
	}
	int fd = open(s->tmp_path, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	char fd_path[PROF_WRITER_FD_PATH_SIZE];
	prof_writer_fd_path(fd_path, fd);
	if (access(fd_path, F_OK) != 0) {
		close(fd);
		return false;
	}
	w->fd = fd;
	w->unnamed = true;
	return true;
}

/* Opens the file the dump is written to: unnamed if it can, else under a
 * temporary name.  ENAMETOOLONG at once for a final name past NAME_MAX,
 * which no link or rename could make. */
static int
prof_writer_create_file(prof_writer_t *w)
{
	prof_writer_space_t *s = w->space;
	if (strnlen(s->path + prof_writer_name_at(s->path), NAME_MAX + 1) > NAME_MAX)
		return ENAMETOOLONG;
	return prof_writer_open_unnamed(w) ? 0 : prof_writer_name_tmp(w, true);
}

/* Links followed before open gives up with ELOOP (the kernel's limit). */
#define PROF_WRITER_MAX_LINKS 40

/* Replaces s->path, while it is a symbolic link, with what the link points
 * to (a relative target is read from the link's folder), so that the
 * temporary file and the rename go where the link leads and the link
 * stays (writer.h).  Uses s->tmp_path as scratch. */
static int
prof_writer_follow_links(prof_writer_space_t *s)
{
	for (int i = 0;; i++) {
		struct stat st;
		if (lstat(s->path, &st) != 0 || !S_ISLNK(st.st_mode))
			return 0;
		if (i == PROF_WRITER_MAX_LINKS)
			return ELOOP;
		ssize_t n = readlink(s->path, s->tmp_path, sizeof(s->tmp_path));
		if (n < 0)
			return errno;
		size_t keep = s->tmp_path[0] == '/' ? 0 : prof_writer_name_at(s->path);
		if (keep + (size_t)n >= sizeof(s->path))
			return ENAMETOOLONG;
		memcpy(s->path + keep, s->tmp_path, (size_t)n);
		s->path[keep + (size_t)n] = '\0';
	}
}

/* Opens a path that is no regular file for writing in place (writer.h). */
static int
prof_writer_open_in_place(prof_writer_t *w)
{
	w->fd = open(w->space->path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (w->fd < 0)
		return errno;
	int flags = fcntl(w->fd, F_GETFL);
	if (flags < 0 || fcntl(w->fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		int err = errno;
		close(w->fd);
		w->fd = -1;
		return err;
	}
	w->in_place = true;
	return 0;
}

static int
prof_writer_start(prof_writer_t *w, const char *path, bool gzip)
{
	size_t len = strlen(path);
	if (len == 0)
		return ENOENT;
	if (path[len - 1] == '/')
		return EISDIR;
	if (len >= PATH_MAX)
		return ENAMETOOLONG;
	w->space = os_pages_map(PROF_WRITER_SPACE_SIZE, PAGE);
	if (w->space == NULL)
		return ENOMEM;
	memcpy(w->space->path, path, len + 1);
	if (gzip) {
		w->zs = (z_stream){.zalloc = prof_writer_zalloc, .zfree = prof_writer_zfree};
		/* windowBits 15 + 16: a gzip wrapper around the deflate stream. */
		int ret = deflateInit2(&w->zs, PROF_WRITER_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
		                       Z_DEFAULT_STRATEGY);
		if (ret != Z_OK)
			return ret == Z_MEM_ERROR ? ENOMEM : EINVAL;
		w->gzip = true;
	}
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return prof_writer_open_in_place(w);
	int err = prof_writer_follow_links(w->space);
	return err != 0 ? err : prof_writer_create_file(w);
}

int
prof_writer_open(prof_writer_t *w, const char *path, bool gzip)
{
	int saved_errno = errno;
	*w = (prof_writer_t){.fd = -1};
	int err = prof_writer_start(w, path, gzip);
	if (err != 0) {
		w->err = err;
		prof_writer_release(w);
	}
	errno = saved_errno;
	return err;
}

void
prof_writer_write(prof_writer_t *w, const void *buf, size_t len)
{
	int saved_errno = errno;
	const char *p = buf;
	while (len > 0 && w->err == 0) {
		if (w->len == PROF_WRITER_BUFSIZE) {
			prof_writer_flush(w, Z_NO_FLUSH);
			continue;
		}
		size_t n = PROF_WRITER_BUFSIZE - w->len;
		if (n > len)
			n = len;
		memcpy(w->space->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
	errno = saved_errno;
}

/* Formats into the buffer's free space; if the text does not fit, flushes
 * and formats again into the whole buffer, and text longer than the buffer
 * goes through a mapping of its own. */
static void
prof_writer_vprintf(prof_writer_t *w, const char *fmt, va_list ap)
{
	size_t room = PROF_WRITER_BUFSIZE - w->len;
	va_list aq;
	va_copy(aq, ap);
	size_t n = msg_vformat(w->space->buf + w->len, room, fmt, aq);
	va_end(aq);
	if (n < room) {
		w->len += n;
		return;
	}
	if (n < PROF_WRITER_BUFSIZE) {
		prof_writer_flush(w, Z_NO_FLUSH);
		if (w->err != 0)
			return;
		va_copy(aq, ap);
		w->len = msg_vformat(w->space->buf, PROF_WRITER_BUFSIZE, fmt, aq);
		va_end(aq);
		return;
	}
	size_t map = PAGE_CEILING(n + 1);
	char *text = os_pages_map(map, PAGE);
	if (text == NULL) {
		prof_writer_set_error(w, ENOMEM);
		return;
	}
	va_copy(aq, ap);
	msg_vformat(text, n + 1, fmt, aq);
	va_end(aq);
	prof_writer_write(w, text, n);
	os_pages_unmap(text, map);
}

void
prof_writer_printf(prof_writer_t *w, const char *fmt, ...)
{
	if (w->err != 0)
		return;
	int saved_errno = errno;
	va_list ap;
	va_start(ap, fmt);
	prof_writer_vprintf(w, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
prof_writer_copy_file(prof_writer_t *w, const char *src_path)
{
	if (w->err != 0)
		return;
	int saved_errno = errno;
	int fd = open(src_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		prof_writer_set_error(w, errno);
	while (fd >= 0 && w->err == 0) {
		if (w->len == PROF_WRITER_BUFSIZE) {
			prof_writer_flush(w, Z_NO_FLUSH);
			continue;
		}
		ssize_t n = read(fd, w->space->buf + w->len, PROF_WRITER_BUFSIZE - w->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			prof_writer_set_error(w, errno);
		if (n <= 0)
			break;
		w->len += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	errno = saved_errno;
}

/* Names the finished unnamed file: links it at the path when nothing is
 * there; otherwise (linkat never replaces) links it under a temporary name,
 * which close then renames over what is there. */
static void
prof_writer_link(prof_writer_t *w)
{
	char fd_path[PROF_WRITER_FD_PATH_SIZE];
	prof_writer_fd_path(fd_path, w->fd);
	if (linkat(AT_FDCWD, fd_path, AT_FDCWD, w->space->path, AT_SYMLINK_FOLLOW) == 0)
		return;
	int err = errno == EEXIST ? prof_writer_name_tmp(w, false) : errno;
	if (err == 0)
		w->unnamed = false;
	else
		prof_writer_set_error(w, err);
}

int
prof_writer_close(prof_writer_t *w)
{
	if (w->space == NULL)
		return w->err;
	int saved_errno = errno;
	prof_writer_space_t *s = w->space;
	prof_writer_flush(w, Z_FINISH);
	if (w->gzip)
		prof_writer_put(w, s->zbuf, w->zlen);
	if (w->err == 0 && !w->in_place && fsync(w->fd) != 0)
		prof_writer_set_error(w, errno);
	if (w->err == 0 && w->unnamed)
		prof_writer_link(w);
	/* Linked at the path itself: a failing close takes the link back. */
	bool linked_at_path = w->err == 0 && w->unnamed;
	if (close(w->fd) != 0) {
		prof_writer_set_error(w, errno);
		if (linked_at_path)
			unlink(s->path);
	}
	w->fd = -1;
	bool named_tmp = !w->in_place && !w->unnamed;
	if (w->err == 0 && named_tmp && rename(s->tmp_path, s->path) != 0)
		prof_writer_set_error(w, errno);
	if (w->err != 0 && named_tmp)
		unlink(s->tmp_path);
	int err = w->err;
	prof_writer_release(w);
	errno = saved_errno;
	return err;
}

void
prof_writer_abandon(prof_writer_t *w)
{
	if (w->space == NULL)
		return;
	int saved_errno = errno;
	close(w->fd);
	w->fd = -1;
	if (!w->in_place && !w->unnamed)
		unlink(w->space->tmp_path);
	prof_writer_release(w);
	errno = saved_errno;
}
