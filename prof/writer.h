/*
 * prof/writer.h — writes one heap-profile dump file, whole or not at all.
 * Beside L5 (prof/); uses src L0 only.
 *
 * Owns the dump's temporary file, its output buffer and, for a gzip dump,
 * the zlib stream.  The text goes to an unnamed file (O_TMPFILE) in the
 * final path's folder, which prof_writer_close links at the final path
 * once everything is written and synced: a reader sees no file, the file
 * that was there before, or the whole dump, never part of one, and a
 * process killed or calling _exit in the middle of a dump leaves nothing
 * behind.  Where a file is already there (linkat never replaces one) the
 * finished file is linked under a temporary name in the same folder
 * ("<path>.tmp.<pid>.<n>", the final name cut to NAME_MAX - 27 bytes so
 * that the whole fits in NAME_MAX) and renamed onto the path.  Where the
 * file system has no O_TMPFILE, or /proc is not mounted, the dump is
 * written under that temporary name from the start (a process killed in
 * the middle then leaves it).  On any error the temporary file is removed
 * and the final path is left as it was.
 *
 * A path that names something other than a regular file or a folder (a
 * FIFO, a character device such as /dev/null or /dev/full, a socket) is
 * written in place, as jemalloc does: renaming a file onto it would
 * replace the device node or FIFO itself (as root, /dev/null), and what
 * reaches a device or a FIFO cannot be taken back anyway.  It is opened
 * without blocking, so a FIFO that nobody reads fails with ENXIO rather
 * than stalling the dump.
 *
 * A path whose last part is a symbolic link is followed to the end of its
 * chain: the temporary file goes beside, and is renamed onto, the name the
 * last link gives (which may not exist yet), and the links stay.  Renamed
 * onto the link itself, the dump would replace the link (as root, a
 * dump to /dev/stdout would replace /dev/stdout).
 *
 * Invariants:
 *   - Nothing here calls malloc, free or stdio: the buffers, the paths and
 *     zlib's state live in mappings from os_pages_map (zlib is given zalloc
 *     and zfree callbacks over it), and text is formatted by msg_vformat.
 *     So the writer can run inside the allocator.
 *   - The first error met (an errno value) is kept; after it every call
 *     does nothing but close or abandon, which report it.
 *   - No write goes past the soft RLIMIT_FSIZE: the writer checks the limit
 *     before each write(2) and fails with EFBIG instead, so the kernel never
 *     sends SIGXFSZ (whose default action kills the process).
 *   - Writes are retried after EINTR and continued after a short write.
 *   - errno is as the caller left it after every call (a dump may run
 *     inside an allocation call, which must not change errno on success).
 *   - The file is synced before the rename; the folder is not, so after a
 *     system crash the path may still show the previous file (or none),
 *     but never a part of the new one.
 *
 * Locks: none.  A writer and all its fields belong to one thread from open
 * to close or abandon; separate writers are independent.  Callers must hold
 * no allocator lock: the writer blocks on file I/O and fsync.
 *
 * prof_writer_t itself is small (the buffers are mapped at open), so it may
 * live on any stack.
 */
#ifndef STRATA_PROF_WRITER_H
#define STRATA_PROF_WRITER_H

#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

#include "config.h"

/* Bytes of text buffered before a write (or a deflate), and of compressed
 * output buffered before a write. */
#define PROF_WRITER_BUFSIZE ((size_t)64 << 10)
/*
 * zlib level of gzip dumps.  A 20 MiB synthetic heap_v2 dump on the
 * development machine: level 1 took 0.15 s to 23% of the text, level 6
 * (zlib's default) 0.46 s to 17%, level 9 2.2 s to 16%; a plain dump
 * 0.03 s.  A dump can stall the thread that triggered it inside malloc, so
 * speed wins, as in Go's runtime/pprof (gzip.BestSpeed).
 */
#define PROF_WRITER_GZIP_LEVEL 1

typedef struct prof_writer_space prof_writer_space_t;

typedef struct prof_writer {
	int fd;                     /* the temporary file; -1 when none is open */
	int err;                    /* first error since open; 0 if none */
	bool gzip;                  /* the text goes through zs */
	bool in_place;              /* fd is the path itself, not a temporary file */
	bool unnamed;               /* fd is an O_TMPFILE file, not linked anywhere yet */
	size_t len;                 /* text bytes held in space->buf */
	size_t zlen;                /* compressed bytes held in space->zbuf */
	uint64_t off;               /* bytes written to fd so far */
	prof_writer_space_t *space; /* buffers and paths; NULL when closed */
	z_stream zs;                /* valid while gzip and space != NULL */
} prof_writer_t;

/*
 * Test injection (docs/design.md, "Injection"): in the internal test archive
 * (config_test_hooks) a test may point this at its own write(2), to make
 * writes short, interrupted or failing; NULL means write(2).  Other builds
 * never read it.
 */
extern ssize_t (*prof_writer_test_write)(int fd, const void *buf, size_t n);
/* Test injection as above: true makes open use a temporary name from the
 * start, as on a file system without O_TMPFILE. */
extern bool prof_writer_test_named_tmp;

/*
 * Creates the unnamed or temporary file for a dump to path (O_WRONLY,
 * mode 0644 before the umask), or opens a path that is
 * no regular file in place, compressed with gzip if gzip.  0, or an errno
 * value: ENOENT (missing folder, empty path), EACCES (folder not
 * writable), ENOTDIR, EISDIR (path ends in '/'), ENAMETOOLONG (a name past
 * NAME_MAX; where no unnamed file can be made, also a temporary path past
 * PATH_MAX), EEXIST (then, 64 temporary names in a row taken), ENXIO (a FIFO with no reader), ELOOP (more than 40
 * links), ENOMEM...; then nothing was created and w is closed (writes do
 * nothing, close returns the error, abandon does nothing).  On success w
 * must end in prof_writer_close or prof_writer_abandon.
 */
int prof_writer_open(prof_writer_t *w, const char *path, bool gzip);
/* Appends len bytes. */
void prof_writer_write(prof_writer_t *w, const void *buf, size_t len);
/* Appends text formatted by msg_vformat (see msg.h for the conversions),
 * of any length. */
void prof_writer_printf(prof_writer_t *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends what read(2) of src_path gives up to its end ("/proc/self/maps"
 * for a dump); failing to open or read it is the writer's error. */
void prof_writer_copy_file(prof_writer_t *w, const char *src_path);
/*
 * Writes what is buffered, ends the gzip stream, fsyncs the file and gives
 * it the path given to open, linked or renamed (a path written in place is
 * only closed).  0, or the first error since open (an errno value; EEXIST
 * or ENAMETOOLONG also when a file at the path is to be replaced and no
 * temporary name can be made); then no temporary file is left and
 * the writer has left the path alone.  w is closed afterwards: writes do
 * nothing and another close returns the error again (EBADF after a
 * successful close).
 */
int prof_writer_close(prof_writer_t *w);
/* Closes and removes the unnamed or temporary file; nothing happens at the path.
 * Does nothing to a closed writer. */
void prof_writer_abandon(prof_writer_t *w);

#endif
