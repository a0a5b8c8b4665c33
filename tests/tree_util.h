/*
 * tree_util.h — removes a suite's temporary folder and everything below
 * it, folders made unwritable by a test included (each is made writable
 * again before it is emptied).
 */
#ifndef STRATA_TESTS_TREE_UTIL_H
#define STRATA_TESTS_TREE_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

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
