/*
 * memlimit.c — finding and reading the process's memory limit.  See
 * memlimit.h.  Layer L0.
 *
 * memlimit_boot reads /proc/self/cgroup and /proc/self/mountinfo line by
 * line through one fixed buffer (a longer line is skipped, so a path too
 * long to hold is never matched) and keeps the process's cgroup folder and
 * where its mount point ends in it; memlimit_read then walks that folder
 * and its parents up to the mount point, reading each level's small value
 * files afresh (a limit may change while the process runs).  The folder is
 * kept short enough that every file name still fits after it, so a read
 * never truncates a path.  Every value is parsed strictly (decimal digits
 * or "max", one newline, nothing else, no overflow); anything else limits
 * nothing.
 *
 * State: written only by memlimit_boot (run once, under pthread_once),
 * read by memlimit_read without locks after that.  Boot's scratch buffers are static for the
 * same reason; memlimit_read uses only its stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "memlimit.h"
#include "os.h"

enum memlimit_kind {
	MEMLIMIT_NONE,
	MEMLIMIT_OFF,
	MEMLIMIT_MANUAL,
	MEMLIMIT_CGROUP2,
	MEMLIMIT_CGROUP1
};

/* Indexed by enum memlimit_kind. */
static const char *const memlimit_kind_names[] = {"none", "off", "manual", "cgroup2",
                                                  "cgroup1"};

/* Limits of 2^62 bytes or more are none (cgroup v1 writes its "unlimited"
 * as LONG_MAX rounded down to a page, v2 as "max"). */
#define MEMLIMIT_UNLIMITED ((uint64_t)1 << 62)
/* The longest file name appended to a folder, with its slash and NUL. */
#define MEMLIMIT_NAME_MAX sizeof("/memory.limit_in_bytes")
/* The longest line of /proc/self/cgroup or mountinfo that is looked at. */
#define MEMLIMIT_LINE_MAX 4096

const char *memlimit_test_root;

static enum memlimit_kind memlimit_kind = MEMLIMIT_NONE;
/* MANUAL: the option's byte count. */
static size_t memlimit_manual;
/* MANUAL: the statm file; CGROUP*: the process's cgroup folder.  Both end
 * at least MEMLIMIT_NAME_MAX bytes before the end of the buffer. */
static char memlimit_path[MEMLIMIT_PATH_MAX];
static size_t memlimit_path_len;
/* CGROUP*: memlimit_path[0..memlimit_mount_len) is the mount point, the
 * highest level the walk reads. */
static size_t memlimit_mount_len;

/* ------------------------------------------------------------ files */

/* The prefix of every path boot opens: the test root, else nothing. */
static const char *
memlimit_root(void)
{
	if (config_test_hooks && memlimit_test_root != NULL)
		return memlimit_test_root;
	return "";
}

/* Appends s[0..n) to buf (MEMLIMIT_PATH_MAX bytes) at *len, NUL-terminated,
 * keeping room for a file name after it; false when it does not fit. */
static bool
memlimit_append(char *buf, size_t *len, const char *s, size_t n)
{
	if (n >= MEMLIMIT_PATH_MAX - MEMLIMIT_NAME_MAX - *len)
		return false;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
	return true;
}

/*
 * Parses a whole value file: decimal digits, or "max" when allow_max (read
 * as UINT64_MAX), then exactly one newline.  False when malformed (empty,
 * garbage, no newline, a number above UINT64_MAX).
 */
static bool
memlimit_parse_value(const char *s, size_t len, bool allow_max, uint64_t *value)
{
	if (len == 0 || s[len - 1] != '\n')
		return false;
	len--;
	if (allow_max && len == 3 && memcmp(s, "max", 3) == 0) {
		*value = UINT64_MAX;
		return true;
	}
	if (len == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*value = v;
	return true;
}

/* Reads the value file `name` ("/memory.max") of the folder dir[0..len),
 * where dir has room for it. */
static bool
memlimit_read_value(char *dir, size_t len, const char *name, bool allow_max, uint64_t *value)
{
	char buf[32];
	memcpy(dir + len, name, strlen(name) + 1);
	ssize_t n = os_read_file(dir, buf, sizeof(buf));
	dir[len] = '\0';
	return n >= 0 && memlimit_parse_value(buf, (size_t)n, allow_max, value);
}

/* Whether the file `name` of the folder dir[0..len) can be read. */
static bool
memlimit_file_readable(char *dir, size_t len, const char *name)
{
	char buf[64];
	memcpy(dir + len, name, strlen(name) + 1);
	int fd = open(dir, O_RDONLY | O_CLOEXEC);
	dir[len] = '\0';
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n >= 0;
}

/* The length of the parent of dir[0..len), len being above the mount
 * point's length. */
static size_t
memlimit_parent(const char *dir, size_t len)
{
	while (len > memlimit_mount_len && dir[len - 1] != '/')
		len--;
	if (len > memlimit_mount_len)
		len--; /* the slash */
	return len;
}

/* ------------------------------------------------------------ reading */

/* One level's limit and usage; false when the level limits nothing or its
 * files are absent or malformed. */
static bool
memlimit_level(char *dir, size_t len, bool v2, uint64_t *limit, uint64_t *usage)
{
	uint64_t lim = UINT64_MAX, v;
	if (v2) {
		if (memlimit_read_value(dir, len, "/memory.max", true, &v))
			lim = v;
		if (memlimit_read_value(dir, len, "/memory.high", true, &v) && v < lim)
			lim = v;
	} else if (memlimit_read_value(dir, len, "/memory.limit_in_bytes", false, &v)) {
		lim = v;
	}
	if (lim >= MEMLIMIT_UNLIMITED)
		return false;
	const char *name = v2 ? "/memory.current" : "/memory.usage_in_bytes";
	if (!memlimit_read_value(dir, len, name, false, &v))
		return false;
	*limit = lim;
	*usage = v;
	return true;
}

/* The cgroup levels from the process's own up to the mount point. */
static bool
memlimit_read_cgroup(bool v2, size_t *limitp, size_t *usagep)
{
	char dir[MEMLIMIT_PATH_MAX];
	size_t len = memlimit_path_len;
	memcpy(dir, memlimit_path, len + 1);
	bool found = false;
	uint64_t best_room = 0, best_limit = 0, best_usage = 0;
	for (;;) {
		uint64_t limit, usage;
		if (memlimit_level(dir, len, v2, &limit, &usage)) {
			uint64_t room = usage >= limit ? 0 : limit - usage;
			if (!found || room < best_room) {
				found = true;
				best_room = room;
				best_limit = limit;
				best_usage = usage;
			}
		}
		if (len <= memlimit_mount_len)
			break;
		len = memlimit_parent(dir, len);
		dir[len] = '\0';
	}
	if (!found)
		return false;
	*limitp = (size_t)best_limit;
	*usagep = (size_t)(best_usage > SIZE_MAX ? SIZE_MAX : best_usage);
	return true;
}

/* The resident set from statm's second field (pages). */
static bool
memlimit_read_statm(size_t *usage)
{
	char buf[256];
	ssize_t n = os_read_file(memlimit_path, buf, sizeof(buf));
	if (n <= 0 || buf[n - 1] != '\n')
		return false;
	const char *p = buf;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == buf || *p != ' ')
		return false;
	const char *digits = ++p;
	uint64_t pages = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (pages > (UINT64_MAX - d) / 10)
			return false;
		pages = pages * 10 + d;
	}
	if (p == digits || (*p != ' ' && *p != '\n') || pages > SIZE_MAX / PAGE)
		return false;
	*usage = (size_t)pages * PAGE;
	return true;
}

bool
memlimit_read(size_t *limit, size_t *usage)
{
	enum memlimit_kind kind = memlimit_kind;
	if (kind == MEMLIMIT_NONE || kind == MEMLIMIT_OFF)
		return false;
	int saved_errno = errno;
	bool ok;
	if (kind == MEMLIMIT_MANUAL) {
		size_t rss;
		ok = memlimit_read_statm(&rss);
		if (ok) {
			*limit = memlimit_manual;
			*usage = rss;
		}
	} else {
		ok = memlimit_read_cgroup(kind == MEMLIMIT_CGROUP2, limit, usage);
	}
	errno = saved_errno;
	return ok;
}

const char *
memlimit_source(void)
{
	return memlimit_kind_names[memlimit_kind];
}

/* ------------------------------------------------------------ boot */

/* Lines of one file through a fixed buffer. */
typedef struct memlimit_lines {
	int fd;
	bool eof;
	size_t start, end; /* unread bytes: buf[start..end) */
	char buf[MEMLIMIT_LINE_MAX];
} memlimit_lines_t;

/* Boot's scratch, static so that boot (single threaded, maybe on a small
 * thread stack inside malloc's bootstrap) keeps its frames small: the file
 * being read, a path being built, and the cgroup paths named by
 * /proc/self/cgroup. */
static memlimit_lines_t memlimit_lines;
static char memlimit_boot_path[MEMLIMIT_PATH_MAX];
static char memlimit_cg_v1[MEMLIMIT_PATH_MAX], memlimit_cg_v2[MEMLIMIT_PATH_MAX];

static bool
memlimit_lines_open(memlimit_lines_t *r, const char *name)
{
	char *path = memlimit_boot_path;
	size_t len = 0;
	const char *root = memlimit_root();
	if (!memlimit_append(path, &len, root, strlen(root)) ||
	    !memlimit_append(path, &len, name, strlen(name)))
		return false;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	r->eof = false;
	r->start = r->end = 0;
	return r->fd >= 0;
}

/* The next line, NUL-terminated without its newline (the last one may lack
 * it), or NULL at the end or on a read error.  A line that does not fit in
 * the buffer is skipped whole. */
static char *
memlimit_lines_next(memlimit_lines_t *r)
{
	bool skipping = false;
	for (;;) {
		char *p = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *nl = memchr(p, '\n', avail);
		if (nl != NULL) {
			*nl = '\0';
			r->start += (size_t)(nl - p) + 1;
			if (skipping) {
				skipping = false;
				continue;
			}
			return p;
		}
		if (r->eof) {
			r->start = r->end;
			if (avail == 0 || skipping)
				return NULL;
			p[avail] = '\0'; /* end < sizeof(buf): room for it */
			return p;
		}
		memmove(r->buf, p, avail);
		r->start = 0;
		r->end = avail;
		if (r->end == sizeof(r->buf) - 1) {
			skipping = true; /* a line longer than the buffer */
			r->end = 0;
		}
		ssize_t n = read(r->fd, r->buf + r->end, sizeof(r->buf) - 1 - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r->start = r->end = 0;
			r->eof = true;
			return NULL;
		}
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
}

/* The next blank-separated token of *p, NUL-terminated; NULL at the end. */
static char *
memlimit_token(char **p)
{
	char *s = *p;
	if (*s == '\0')
		return NULL;
	char *e = strchr(s, ' ');
	if (e != NULL) {
		*e = '\0';
		*p = e + 1;
	} else {
		*p = s + strlen(s);
	}
	return s;
}

/* Whether the comma-separated list holds word. */
static bool
memlimit_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list;;) {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == n && memcmp(p, word, n) == 0)
			return true;
		if (e == NULL)
			return false;
		p = e + 1;
	}
}

/* Undoes mountinfo's octal escapes (\040 for a blank) in place. */
static void
memlimit_unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r != '\0';) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Copies the cgroup path of a /proc/self/cgroup line into out; false when
 * it is not absolute or does not fit. */
static bool
memlimit_copy_cgroup(char out[MEMLIMIT_PATH_MAX], const char *path)
{
	size_t n = strlen(path);
	if (path[0] != '/' || n >= MEMLIMIT_PATH_MAX)
		return false;
	memcpy(out, path, n + 1);
	return true;
}

/* Reads /proc/self/cgroup: the v1 memory hierarchy's path and the v2 path. */
static void
memlimit_read_self_cgroup(bool *has_v1, bool *has_v2)
{
	*has_v1 = *has_v2 = false;
	memlimit_lines_t *r = &memlimit_lines;
	if (!memlimit_lines_open(r, "/proc/self/cgroup"))
		return;
	char *line;
	while ((line = memlimit_lines_next(r)) != NULL) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c1 = *c2 = '\0';
		const char *controllers = c1 + 1, *path = c2 + 1;
		if (strcmp(line, "0") == 0 && controllers[0] == '\0') {
			if (!*has_v2)
				*has_v2 = memlimit_copy_cgroup(memlimit_cg_v2, path);
		} else if (memlimit_has_word(controllers, "memory")) {
			if (!*has_v1)
				*has_v1 = memlimit_copy_cgroup(memlimit_cg_v1, path);
		}
	}
	close(r->fd);
}

/* The part of the cgroup path below the mount's root ("" or "/..."), or
 * NULL when the path is not inside that root. */
static const char *
memlimit_below(const char *path, const char *root)
{
	size_t n = strlen(root);
	while (n > 0 && root[n - 1] == '/')
		n--;
	if (strncmp(path, root, n) != 0 || (path[n] != '\0' && path[n] != '/'))
		return NULL;
	return strcmp(path + n, "/") == 0 ? "" : path + n;
}

/* Makes memlimit_path the cgroup folder below a mount point; false when it
 * does not fit. */
static bool
memlimit_set_folder(const char *mount_point, const char *rel)
{
	const char *root = memlimit_root();
	size_t mlen = strlen(mount_point);
	while (mlen > 0 && mount_point[mlen - 1] == '/')
		mlen--;
	size_t len = 0;
	memlimit_path[0] = '\0';
	if (!memlimit_append(memlimit_path, &len, root, strlen(root)) ||
	    !memlimit_append(memlimit_path, &len, mount_point, mlen))
		return false;
	memlimit_mount_len = len;
	if (!memlimit_append(memlimit_path, &len, rel, strlen(rel)))
		return false;
	memlimit_path_len = len;
	return true;
}

/* Whether the folder just set is a usable cgroup of the version: v1 has
 * memory.limit_in_bytes; for v2 it or an ancestor has memory.current (a
 * cgroup without the memory controller has neither). */
static bool
memlimit_folder_usable(bool v2)
{
	char *dir = memlimit_boot_path;
	size_t len = memlimit_path_len;
	memcpy(dir, memlimit_path, len + 1);
	if (!v2)
		return memlimit_file_readable(dir, len, "/memory.limit_in_bytes");
	for (;;) {
		if (memlimit_file_readable(dir, len, "/memory.current"))
			return true;
		if (len <= memlimit_mount_len)
			return false;
		len = memlimit_parent(dir, len);
		dir[len] = '\0';
	}
}

/* Looks through mountinfo for a mount of the hierarchy holding the cgroup
 * path (v2: cgroup2; v1: cgroup with the memory option) under which the
 * cgroup's folder is usable; sets memlimit_path to it. */
static bool
memlimit_find_mount(bool v2, const char *cgroup)
{
	memlimit_lines_t *r = &memlimit_lines;
	if (!memlimit_lines_open(r, "/proc/self/mountinfo"))
		return false;
	bool found = false;
	char *line;
	while (!found && (line = memlimit_lines_next(r)) != NULL) {
		/* id parent major:minor root mount-point options [optional...] -
		 * fstype source super-options */
		char *p = line, *f[6];
		int i;
		for (i = 0; i < 6 && (f[i] = memlimit_token(&p)) != NULL; i++)
			;
		if (i < 6)
			continue;
		char *t;
		while ((t = memlimit_token(&p)) != NULL && strcmp(t, "-") != 0)
			;
		char *fstype = t != NULL ? memlimit_token(&p) : NULL;
		char *source = fstype != NULL ? memlimit_token(&p) : NULL;
		char *super = source != NULL ? memlimit_token(&p) : NULL;
		if (super == NULL)
			continue;
		if (v2 ? strcmp(fstype, "cgroup2") != 0
		       : strcmp(fstype, "cgroup") != 0 || !memlimit_has_word(super, "memory"))
			continue;
		char *root = f[3], *mount_point = f[4];
		memlimit_unescape(root);
		memlimit_unescape(mount_point);
		const char *rel = memlimit_below(cgroup, root);
		if (rel != NULL && memlimit_set_folder(mount_point, rel) &&
		    memlimit_folder_usable(v2))
			found = true;
	}
	close(r->fd);
	return found;
}

static enum memlimit_kind
memlimit_boot_cgroup(void)
{
	bool has_v1, has_v2;
	memlimit_read_self_cgroup(&has_v1, &has_v2);
	/* A hybrid system mounts v2 too, but its memory controller is v1's. */
	if (has_v1 && memlimit_find_mount(false, memlimit_cg_v1))
		return MEMLIMIT_CGROUP1;
	if (has_v2 && memlimit_find_mount(true, memlimit_cg_v2))
		return MEMLIMIT_CGROUP2;
	return MEMLIMIT_NONE;
}

void
memlimit_boot(void)
{
	int saved_errno = errno;
	memlimit_path[0] = '\0';
	memlimit_path_len = memlimit_mount_len = 0;
	memlimit_manual = 0;
	enum memlimit_kind kind;
	if (opt_memory_limit == CONF_LIMIT_OFF) {
		kind = MEMLIMIT_OFF;
	} else if (opt_memory_limit != CONF_LIMIT_AUTO) {
		kind = MEMLIMIT_MANUAL;
		memlimit_manual = opt_memory_limit;
		const char *root = memlimit_root();
		size_t len = 0;
		if (!memlimit_append(memlimit_path, &len, root, strlen(root)) ||
		    !memlimit_append(memlimit_path, &len, "/proc/self/statm",
		                     sizeof("/proc/self/statm") - 1))
			memlimit_path[0] = '\0'; /* statm cannot be named: reads fail */
		memlimit_path_len = strlen(memlimit_path);
	} else {
		kind = memlimit_boot_cgroup();
		if (kind == MEMLIMIT_NONE) {
			memlimit_path[0] = '\0';
			memlimit_path_len = memlimit_mount_len = 0;
		}
	}
	memlimit_kind = kind;
	errno = saved_errno;
}
