/*
 * check_ctl_walk.c — the mallctl tree (src/ctl*.c, walked by ctl_walk) and
 * the names man/strata.3 documents (tests/man_util.h) are the same set:
 * no leaf is undocumented, no documented name is missing from the tree.
 * Whether each name answers mallctl as documented (type size, access,
 * return codes) is tests/check_api_ctl_walk.c's part.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "man_util.h"

static man_entry_t entries[MAN_ENTRIES_MAX];
static char leaves[MAN_ENTRIES_MAX][CTL_WALK_NAME_MAX];
static size_t nleaves;

static int
collect(const char *name, void *arg)
{
	(void)arg;
	ck_assert_uint_lt(nleaves, MAN_ENTRIES_MAX);
	snprintf(leaves[nleaves++], CTL_WALK_NAME_MAX, "%s", name);
	return 0;
}

static void
walk_tree(void)
{
	nleaves = 0;
	ck_assert_int_eq(ctl_walk(collect, NULL), 0);
}

/* The walk names indexed levels <i>, <j> and reaches linked subtrees. */
START_TEST(test_walk_names)
{
	walk_tree();
	static const char *const expected[] = {
		"version", "epoch", "opt.abort", "opt.malloc_conf.env_var", "config.prof",
		"arenas.bin.<i>.slab_size", "arena.<i>.purge", "stats.allocated",
		"thread.tcache.flush", "prof.dump",
	};
	for (size_t e = 0; e < sizeof(expected) / sizeof(expected[0]); e++) {
		bool found = false;
		for (size_t i = 0; i < nleaves && !found; i++)
			found = strcmp(leaves[i], expected[e]) == 0;
		ck_assert_msg(found, "ctl_walk did not visit %s", expected[e]);
	}
	for (size_t i = 0; i < nleaves; i++) {
		ck_assert_msg(strstr(leaves[i], "..") == NULL && leaves[i][0] != '.',
		              "malformed name %s", leaves[i]);
		for (size_t j = i + 1; j < nleaves; j++)
			ck_assert_msg(strcmp(leaves[i], leaves[j]) != 0, "%s twice", leaves[i]);
	}
}
END_TEST

static int
stop_at_third(const char *name, void *arg)
{
	(void)name;
	return ++*(int *)arg == 3 ? EEXIST : 0;
}

/* A nonzero visit result stops the walk and is returned. */
START_TEST(test_walk_stops)
{
	int calls = 0;
	ck_assert_int_eq(ctl_walk(stop_at_third, &calls), EEXIST);
	ck_assert_int_eq(calls, 3);
}
END_TEST

START_TEST(test_every_leaf_is_documented)
{
	size_t n = man_read_mallctl_names(entries, MAN_ENTRIES_MAX);
	walk_tree();
	size_t missing = 0;
	for (size_t i = 0; i < nleaves; i++) {
		bool found = false;
		for (size_t e = 0; e < n && !found; e++)
			found = strcmp(entries[e].name, leaves[i]) == 0;
		if (!found) {
			fprintf(stderr, "undocumented in " MAN_PAGE ": %s\n", leaves[i]);
			missing++;
		}
	}
	ck_assert_msg(missing == 0, "%zu mallctl names lack an entry in " MAN_PAGE
	              "'s MALLCTL NAMESPACE (see stderr)", missing);
}
END_TEST

START_TEST(test_every_documented_name_is_a_leaf)
{
	size_t n = man_read_mallctl_names(entries, MAN_ENTRIES_MAX);
	ck_assert_uint_gt(n, 100);
	walk_tree();
	size_t missing = 0;
	for (size_t e = 0; e < n; e++) {
		bool found = false;
		for (size_t i = 0; i < nleaves && !found; i++)
			found = strcmp(entries[e].name, leaves[i]) == 0;
		if (!found) {
			fprintf(stderr, MAN_PAGE " documents a name the tree lacks: %s\n",
			        entries[e].name);
			missing++;
		}
	}
	ck_assert_msg(missing == 0, "%zu documented names are not mallctl leaves (see stderr)",
	              missing);
}
END_TEST

/* Every documented type has a size the API suite can check. */
START_TEST(test_documented_types_are_known)
{
	size_t n = man_read_mallctl_names(entries, MAN_ENTRIES_MAX);
	for (size_t e = 0; e < n; e++) {
		ck_assert_msg(man_type_size(entries[e].type) != SIZE_MAX,
		              "%s: type \"%s\" unknown to tests/man_util.h", entries[e].name,
		              entries[e].type);
	}
	ck_assert_uint_eq(man_type_size("struct { uint64_t req_sum, count; }"), 16);
	ck_assert_uint_eq(man_type_size("struct { void **ptrs; size_t num; size_t size; int flags; }"),
	                  32);
	ck_assert_uint_eq(man_type_size("struct { void (*write_cb)(void *, const char *); "
	                                "void *cbopaque; }"),
	                  16);
	ck_assert_uint_eq(man_type_size("void (*)(const char *filename)"), 8);
	ck_assert_uint_eq(man_type_size("void"), 0);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("ctl_walk");
	TCase *tc = tcase_create("walk");
	tcase_add_test(tc, test_walk_names);
	tcase_add_test(tc, test_walk_stops);
	tcase_add_test(tc, test_every_leaf_is_documented);
	tcase_add_test(tc, test_every_documented_name_is_a_leaf);
	tcase_add_test(tc, test_documented_types_are_known);
	suite_add_tcase(s, tc);
	return s;
}
