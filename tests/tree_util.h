/*
 * tree_util.h — a suite's temporary folders: makes a fresh one, and removes
 * one with everything below it, folders made unwritable by a test included
 * (each is made writable again before it is emptied).
 */
#ifndef STRATA_TESTS_TREE_UTIL_H
#define STRATA_TESTS_TREE_UTIL_H

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A fresh folder /tmp/strata-<tag>-XXXXXX; its path in dir. */
static inline void
temp_dir_make(char *dir, size_t size, const char *tag)
{
	snprintf(dir, size, "/tmp/strata-%s-XXXXXX", tag);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

static inline int
tree_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		chmod(path, 0700);
	return remove(path);
}

static inline void
tree_remove(const char *dir)
{
	chmod(dir, 0700);
	nftw(dir, tree_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
