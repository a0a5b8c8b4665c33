/*
 * check_stats.c — the counter table (stats_counters.h) against the man
 * page: the stats.* entries of man/strata.3 between the STATS_COUNTERS
 * markers are exactly what the table generates (one entry per node, with
 * its type, access and the row's sentence), so the page cannot drift from
 * the tree.  On a mismatch the test prints the text to paste.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static char expected[512 * 1024];
static size_t expected_len;

/* Roff-escapes s: backslash and minus. */
static void
man_escape(const char *s, char *out, size_t size)
{
	size_t n = 0;
	for (; *s != '\0' && n + 3 < size; s++) {
		if (*s == '\\' || *s == '-') {
			out[n++] = '\\';
			out[n++] = *s == '\\' ? 'e' : '-';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

/* One entry: name (with <i>, <j>), its type and access, its sentence(s). */
static void
man_entry(const char *name, const char *type, const char *access, const char *doc,
          const char *more)
{
	char esc[1024], esc_more[1024];
	man_escape(doc, esc, sizeof(esc));
	man_escape(more, esc_more, sizeof(esc_more));
	expected_len += (size_t)snprintf(expected + expected_len, sizeof(expected) - expected_len,
	                                 ".TP\n.BR %s \" (%s, %s)\"\n%s%s%s\n", name, type, access,
	                                 esc, more[0] != '\0' ? " " : "", esc_more);
	ck_assert_uint_lt(expected_len, sizeof(expected));
}

#define MAN_ROW(prefix, more)                                                             \
	{                                                                                 \
		char full[256];                                                           \
		snprintf(full, sizeof(full), "%s%s", prefix, row_name);                   \
		man_entry(full, row_type, "r\\-", row_doc, more);                         \
	}
#define MAN_COUNTER(name, type, merge, doc)                                               \
	{                                                                                 \
		const char *row_name = #name, *row_type = #type, *row_doc = doc;          \
		MAN_ROW(man_prefix, man_more)                                             \
	}

/* Every lock counter of the lock at prefix (ending in '.'). */
static void
man_mutex_counters(const char *man_prefix, const char *man_more)
{
	MUTEX_STATS_COUNTERS(MAN_COUNTER)
}

static void
man_generate(void)
{
	const char *man_prefix, *man_more = "";
	man_prefix = "stats.";
	STATS_GLOBAL_COUNTERS(MAN_COUNTER)
#define MAN_GLOBAL_MUTEX(name, lock, doc)                                                 \
	man_mutex_counters("stats.mutexes." #name ".", "Lock: " doc);
	STATS_GLOBAL_MUTEXES(MAN_GLOBAL_MUTEX)
	man_entry("stats.mutexes.reset", "void", "\\-\\-",
	          "Zeroes the counters of every lock, as stats.mutexes.* and the arenas' "
	          "mutexes show them after the next epoch.",
	          "");
	man_prefix = "stats.arenas.<i>.";
	man_more = "";
	STATS_ARENA_COUNTERS_HEAD(MAN_COUNTER)
	STATS_ARENA_COUNTERS_TAIL(MAN_COUNTER)
	STATS_ARENA_COUNTERS_HPA(MAN_COUNTER)
	man_entry("stats.arenas.<i>.dss", "const char *", "r\\-",
	          "The arena's dss precedence: \"disabled\", strata has no sbrk; \"N/A\" in the "
	          "merged views.",
	          "");
	man_prefix = "stats.arenas.<i>.small.";
	man_more = "Small classes.";
	STATS_CLASS_COUNTERS(MAN_COUNTER)
	man_prefix = "stats.arenas.<i>.large.";
	man_more = "Large classes.";
	STATS_CLASS_COUNTERS(MAN_COUNTER)
	man_prefix = "stats.arenas.<i>.bins.<j>.";
	man_more = "Small class j.";
	STATS_BIN_COUNTERS(MAN_COUNTER)
	man_mutex_counters("stats.arenas.<i>.bins.<j>.mutex.", "Lock: the bin's.");
	man_prefix = "stats.arenas.<i>.lextents.<j>.";
	man_more = "Large class j.";
	STATS_LEXTENT_COUNTERS(MAN_COUNTER)
	man_prefix = "stats.arenas.<i>.extents.<j>.";
	man_more = "Free extents of page-size class j (0 to 198: at least the class's size and "
	           "less than the next's).";
	STATS_EXTENT_COUNTERS(MAN_COUNTER)
#define MAN_ARENA_MUTEX(name, doc)                                                        \
	man_mutex_counters("stats.arenas.<i>.mutexes." #name ".", "Lock: " doc);
	STATS_ARENA_MUTEXES(MAN_ARENA_MUTEX)
}

START_TEST(test_man_page_lists_every_counter)
{
	static char page[512 * 1024];
	FILE *f = fopen("man/strata.3", "r");
	ck_assert_msg(f != NULL, "cannot open man/strata.3 (run from the repository root)");
	size_t len = fread(page, 1, sizeof(page) - 1, f);
	fclose(f);
	page[len] = '\0';
	const char *begin = strstr(page, ".\\\" BEGIN STATS_COUNTERS\n");
	const char *end = strstr(page, ".\\\" END STATS_COUNTERS\n");
	ck_assert_msg(begin != NULL && end != NULL && begin < end,
	              "man/strata.3 lacks the STATS_COUNTERS markers");
	begin = strchr(begin, '\n') + 1;
	man_generate();
	size_t got_len = (size_t)(end - begin);
	if (got_len != expected_len || memcmp(begin, expected, expected_len) != 0) {
		fprintf(stderr, "man/strata.3: replace the lines between the STATS_COUNTERS "
		                "markers with:\n%s",
		        expected);
		ck_abort_msg("man/strata.3's stats entries differ from the counter table");
	}
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("man");
	tcase_add_test(tc, test_man_page_lists_every_counter);
	suite_add_tcase(s, tc);
	return s;
}
