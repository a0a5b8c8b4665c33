/*
 * dump_util.h — what the heap-dump suites (check_prof_writer,
 * check_api_prof_dumpfail, check_api_prof_triggers) look at on disk: a
 * folder's entries, whether a path is there, whether a file is gzip, whether
 * a file holds one whole dump; and a private mount namespace for the tests
 * that mount a small tmpfs.  Nothing here calls into Check, so that forked
 * children may use all of it: failures come back as results (and a reason).
 */
#ifndef STRATA_TESTS_DUMP_UTIL_H
#define STRATA_TESTS_DUMP_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Entries of a folder but . and .. (-1 when it cannot be read); the first
 * one's name into first, when first is not NULL. */
static inline int
dir_entries_named(const char *dir, char *first, size_t size)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n++ == 0 && first != NULL)
			snprintf(first, size, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static inline int
dir_entries(const char *dir)
{
	return dir_entries_named(dir, NULL, 0);
}

/* Nothing at path, not even a dangling symbolic link. */
static inline bool
path_missing(const char *path)
{
	struct stat st;
	return lstat(path, &st) != 0 && errno == ENOENT;
}

/* Whether path starts with gzip's magic bytes. */
static inline bool
file_is_gzip(const char *path)
{
	unsigned char magic[2] = {0};
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, magic, 2);
	close(fd);
	return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

/*
 * Whether path holds one whole dump: gzip-compressed exactly when gz (then
 * `gzip -t` passes), zlib inflates it to its end without an error, its
 * text starts with "heap_v2/", holds at least min_stacks stacks and
 * "MAPPED_LIBRARIES:" followed by at least one mapping, and, when want is
 * not NULL, contains want.  When not, why (for the failure message).
 */
static inline bool
dump_whole(const char *path, bool gz, unsigned min_stacks, const char *want, char *why,
           size_t why_size)
{
	if (file_is_gzip(path) != gz) {
		snprintf(why, why_size, "%s: %s", path,
		         gz ? "missing, or not gzip" : "gzip, expected plain text");
		return false;
	}
	if (gz) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "gzip -t '%s' 2>/dev/null", path);
		if (system(cmd) != 0) {
			snprintf(why, why_size, "%s: gzip -t fails", path);
			return false;
		}
	}
	gzFile f = gzopen(path, "rb");
	if (f == NULL) {
		snprintf(why, why_size, "%s: gzopen fails", path);
		return false;
	}
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap + 1);
	int n = 0;
	while (text != NULL && (n = gzread(f, text + len, (unsigned)(cap - len))) > 0) {
		len += (size_t)n;
		if (len == cap) {
			char *more = realloc(text, (cap *= 2) + 1);
			if (more == NULL)
				free(text);
			text = more;
		}
	}
	int zerr;
	const char *zmsg = gzerror(f, &zerr);
	char zwhy[128];
	snprintf(zwhy, sizeof(zwhy), "%s", zmsg != NULL ? zmsg : "");
	gzclose(f);
	if (text == NULL) {
		snprintf(why, why_size, "%s: out of memory after %zu bytes", path, len);
		return false;
	}
	text[len] = '\0';
	unsigned stacks = 0;
	for (const char *p = text; (p = strstr(p, "\n@ ")) != NULL; p++)
		stacks++;
	const char *maps = memmem(text, len, "\nMAPPED_LIBRARIES:\n", 19);
	bool ok = false;
	if (n != 0 || zerr != Z_OK)
		snprintf(why, why_size, "%s: inflating fails after %zu bytes: %s", path, len, zwhy);
	else if (len < 8 || memcmp(text, "heap_v2/", 8) != 0)
		snprintf(why, why_size, "%s: does not start with heap_v2/: %.40s", path, text);
	else if (stacks < min_stacks)
		snprintf(why, why_size, "%s: %u stacks, not %u", path, stacks, min_stacks);
	else if (maps == NULL)
		snprintf(why, why_size, "%s: no MAPPED_LIBRARIES: (%zu bytes)", path, len);
	else if (strchr(maps + 19, '-') == NULL)
		snprintf(why, why_size, "%s: no mapping after MAPPED_LIBRARIES:", path);
	else if (want != NULL && strstr(text, want) == NULL)
		snprintf(why, why_size, "%s: lacks \"%s\"", path, want);
	else
		ok = true;
	free(text);
	return ok;
}

/*
 * Gives this (forked) process its own mount namespace with private mounts:
 * as root directly, otherwise in a new user namespace mapping the user to
 * itself.  false, with why, where neither is allowed.
 */
static inline bool
private_mounts(char *why, size_t why_size)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWNS) != 0) {
		int first = errno;
		char map[64];
		int fd;
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0 ||
		    (fd = open("/proc/self/setgroups", O_WRONLY)) < 0 || write(fd, "deny", 4) != 4 ||
		    close(fd) != 0 || (fd = open("/proc/self/uid_map", O_WRONLY)) < 0 ||
		    write(fd, map, (size_t)snprintf(map, sizeof(map), "%u %u 1", uid, uid)) < 0 ||
		    close(fd) != 0 || (fd = open("/proc/self/gid_map", O_WRONLY)) < 0 ||
		    write(fd, map, (size_t)snprintf(map, sizeof(map), "%u %u 1", gid, gid)) < 0 ||
		    close(fd) != 0) {
			snprintf(why, why_size, "unshare(CLONE_NEWNS): %s; with CLONE_NEWUSER: %s",
			         strerror(first), strerror(errno));
			return false;
		}
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		snprintf(why, why_size, "making mounts private: %s", strerror(errno));
		return false;
	}
	return true;
}

#endif
