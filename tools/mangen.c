/*
 * mangen.c — writes the parts of man/strata.3 that are generated from
 * strata's tables, so that the manual cannot drift from the code.
 *
 *   mangen PAGE           rewrites every generated block of PAGE in place
 *   mangen --check PAGE   changes nothing; exits 1, printing the blocks that
 *                         differ as they should read, when PAGE is stale
 *
 * A block is the text between the lines `.\" BEGIN <NAME>` and
 * `.\" END <NAME>`; mangen_blocks[] says which function writes each.
 * Adding a block is one function and one row there, plus the two marker
 * lines in the page (a table that is a header X-macro needs nothing more;
 * one that needs code of src/ adds its object to the Makefile's rule).  Blocks now: CONF_OPTIONS (the TUNING list, every row
 * of src/conf.h's option table), OPT_NODES (the opt.<name> entries of
 * MALLCTL NAMESPACE, one per row that has a node) and STATS_COUNTERS (the
 * stats.* entries, one per node of src/stats_counters.h's counter table).
 *
 * A build tool, not part of the library: it links conf.o and msg.o for
 * the table and the defaults (Makefile, `make man`); tests/check_conf.c
 * runs `--check`.  Plain stdio, single threaded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "stats.h"

/* ------------------------------------------------------------ roff */

/* Writes s with roff's escapes for backslash and minus. */
static void
mangen_escaped(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

/* Formats into a static buffer (one use at a time). */
static const char *
mangen_format(const char *fmt, ...)
{
	static char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* ------------------------------------------------------------ CONF_OPTIONS */

/* How the option list shows an option's values (roff, already escaped). */
static void
mangen_conf_type(FILE *out, const conf_option_t *opt)
{
	switch (opt->kind) {
	case CONF_KIND_BOOL:
		fputs("bool", out);
		break;
	case CONF_KIND_CHOICE:
		for (size_t i = 0; opt->values[i] != NULL; i++) {
			fputs(i == 0 ? "" : "|", out);
			mangen_escaped(out, opt->values[i]);
		}
		break;
	case CONF_KIND_UINT:
	case CONF_KIND_UINT_CLIP:
	case CONF_KIND_SINT:
		fputs(opt->ctype, out);
		break;
	case CONF_KIND_UINT_AUTO:
		fprintf(out, "%s or default", opt->ctype);
		break;
	case CONF_KIND_LIMIT:
		fputs("auto|off|bytes", out);
		break;
	case CONF_KIND_LETTERS:
		fprintf(out, "letters from %s", opt->values[0]);
		break;
	case CONF_KIND_STRING:
		fputs("text", out);
		break;
	case CONF_KIND_LG_ALIAS:
		fprintf(out, "unsigned; sets \\fB%s\\fP to 2^value", opt->ctype);
		break;
	case CONF_KIND_FXP:
		fputs("fixed\\-point", out);
		if (opt->values[0] != NULL) {
			fputs(" or ", out);
			mangen_escaped(out, opt->values[0]);
		}
		break;
	case CONF_KIND_RANGES:
		fputs("start\\-end:n|...", out);
		break;
	}
}

/* The default as the list shows it (unescaped), from the reset globals. */
static const char *
mangen_conf_default(size_t id)
{
	const conf_option_t *opt = &conf_options[id];
	switch (opt->kind) {
	case CONF_KIND_BOOL:
		return opt->get() ? "true" : "false";
	case CONF_KIND_CHOICE:
		return opt->values[opt->get()];
	case CONF_KIND_UINT_AUTO:
		if (opt->get() == 0)
			return "default";
		/* fall through */
	case CONF_KIND_UINT:
	case CONF_KIND_UINT_CLIP:
		return mangen_format("%ju", opt->get());
	case CONF_KIND_SINT:
		return mangen_format("%jd", (intmax_t)opt->get());
	case CONF_KIND_LIMIT:
	case CONF_KIND_FXP:
		return opt->text;
	case CONF_KIND_LETTERS:
	case CONF_KIND_STRING:
		return mangen_format("\"%.200s\"", opt->text);
	case CONF_KIND_RANGES:
		return opt->values[0] != NULL ? opt->values[0] : "\"\"";
	case CONF_KIND_LG_ALIAS:
		break;
	}
	return "";
}

/* `.TP`, the name with its type and default (an alias has none), the doc. */
static void
mangen_conf_options(FILE *out)
{
	conf_reset_defaults();
	for (size_t id = 0; id < CONF_NALL; id++) {
		const conf_option_t *opt = &conf_options[id];
		fputs(".TP\n\\fB", out);
		mangen_escaped(out, opt->name);
		fputs("\\fP (", out);
		mangen_conf_type(out, opt);
		if (opt->kind != CONF_KIND_LG_ALIAS) {
			fputs("; default: \\fB", out);
			mangen_escaped(out, mangen_conf_default(id));
			fputs("\\fP", out);
		}
		fputs(")\n", out);
		mangen_escaped(out, opt->doc);
		fputc('\n', out);
	}
}

/* ------------------------------------------------------------ OPT_NODES */

/* The C type opt.<name> reads, or NULL for a row without a node (ctl.c's
 * CTL_OPT_* rules). */
static const char *
mangen_opt_node_type(const conf_option_t *opt)
{
	switch (opt->kind) {
	case CONF_KIND_BOOL:
		return "bool";
	case CONF_KIND_UINT:
	case CONF_KIND_UINT_CLIP:
	case CONF_KIND_UINT_AUTO:
	case CONF_KIND_SINT:
		return opt->ctype;
	case CONF_KIND_FXP:
		return "uint32_t";
	case CONF_KIND_CHOICE:
	case CONF_KIND_LIMIT:
	case CONF_KIND_LETTERS:
	case CONF_KIND_STRING:
		return "const char *";
	case CONF_KIND_LG_ALIAS:
	case CONF_KIND_RANGES:
		break;
	}
	return NULL;
}

static void
mangen_opt_nodes(FILE *out)
{
	for (size_t id = 0; id < CONF_NOPTIONS; id++) {
		const conf_option_t *opt = &conf_options[id];
		const char *type = mangen_opt_node_type(opt);
		if (type == NULL)
			continue;
		fprintf(out, ".TP\n.BR opt.%s \" (%s, r\\-)\"\n", opt->name, type);
		fputs("The final value of \\fB", out);
		mangen_escaped(out, opt->name);
		fputs("\\fP (see \\fBTUNING\\fP).\n", out);
	}
}

/* ------------------------------------------------------------ STATS_COUNTERS */

/* One stats.* entry: name (with <i>, <j>), its type and access, the row's
 * sentence and, after it, what the group adds. */
static void
mangen_stats_entry(FILE *out, const char *name, const char *type, const char *access,
                   const char *doc, const char *more)
{
	fprintf(out, ".TP\n.BR %s \" (%s, %s)\"\n", name, type, access);
	mangen_escaped(out, doc);
	if (more[0] != '\0') {
		fputc(' ', out);
		mangen_escaped(out, more);
	}
	fputc('\n', out);
}

#define MANGEN_STATS_COUNTER(name, type, merge, doc)                                      \
	mangen_stats_entry(out, mangen_format("%s%s", prefix, #name), #type, "r\\-", doc, more);

/* Every counter of the lock whose nodes start with prefix (ending in '.'). */
static void
mangen_stats_mutex(FILE *out, const char *prefix, const char *more)
{
	MUTEX_STATS_COUNTERS(MANGEN_STATS_COUNTER)
}

/* The counter table of src/stats_counters.h, group by group. */
static void
mangen_stats_counters(FILE *out)
{
	const char *prefix = "stats.", *more = "";
	STATS_GLOBAL_COUNTERS(MANGEN_STATS_COUNTER)
#define MANGEN_GLOBAL_MUTEX(name, lock, doc)                                              \
	mangen_stats_mutex(out, "stats.mutexes." #name ".", "Lock: " doc);
	STATS_GLOBAL_MUTEXES(MANGEN_GLOBAL_MUTEX)
	mangen_stats_entry(out, "stats.mutexes.reset", "void", "\\-\\-",
	                   "Zeroes the counters of every lock, as stats.mutexes.* and the arenas' "
	                   "mutexes show them after the next epoch.",
	                   "");
	prefix = "stats.arenas.<i>.";
	STATS_ARENA_COUNTERS_HEAD(MANGEN_STATS_COUNTER)
	STATS_ARENA_COUNTERS_TAIL(MANGEN_STATS_COUNTER)
	STATS_ARENA_COUNTERS_HPA(MANGEN_STATS_COUNTER)
	mangen_stats_entry(out, "stats.arenas.<i>.dss", "const char *", "r\\-",
	                   "The arena's dss precedence: \"disabled\", strata has no sbrk; \"N/A\" "
	                   "in the merged views.",
	                   "");
	prefix = "stats.arenas.<i>.small.";
	more = "Small classes.";
	STATS_CLASS_COUNTERS(MANGEN_STATS_COUNTER)
	prefix = "stats.arenas.<i>.large.";
	more = "Large classes.";
	STATS_CLASS_COUNTERS(MANGEN_STATS_COUNTER)
	prefix = "stats.arenas.<i>.bins.<j>.";
	more = "Small class j.";
	STATS_BIN_COUNTERS(MANGEN_STATS_COUNTER)
	mangen_stats_mutex(out, "stats.arenas.<i>.bins.<j>.mutex.", "Lock: the bin's.");
	prefix = "stats.arenas.<i>.lextents.<j>.";
	more = "Large class j.";
	STATS_LEXTENT_COUNTERS(MANGEN_STATS_COUNTER)
	prefix = "stats.arenas.<i>.extents.<j>.";
	more = "Free extents of page-size class j (0 to 198: at least the class's size and "
	       "less than the next's).";
	STATS_EXTENT_COUNTERS(MANGEN_STATS_COUNTER)
#define MANGEN_ARENA_MUTEX(name, doc)                                                     \
	mangen_stats_mutex(out, "stats.arenas.<i>.mutexes." #name ".", "Lock: " doc);
	STATS_ARENA_MUTEXES(MANGEN_ARENA_MUTEX)
}

/* ------------------------------------------------------------ the page */

static const struct mangen_block {
	const char *name;
	void (*write)(FILE *out);
} mangen_blocks[] = {
	{"CONF_OPTIONS", mangen_conf_options},
	{"OPT_NODES", mangen_opt_nodes},
	{"STATS_COUNTERS", mangen_stats_counters},
};

/* The whole file, NUL-terminated, or NULL. */
static char *
mangen_read(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char *text = NULL;
	size_t cap = 0, len = 0, n;
	do {
		if (len + 65536 + 1 > cap) {
			cap = (len + 65536 + 1) * 2;
			char *grown = realloc(text, cap);
			if (grown == NULL) {
				free(text);
				fclose(f);
				return NULL;
			}
			text = grown;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	text[len] = '\0';
	*lenp = len;
	return text;
}

/*
 * Writes page with each block's body regenerated into out; returns the
 * number of blocks whose body changed (printing them to stderr when
 * report is set), or -1 when a block's markers are missing.
 */
static int
mangen_rewrite(const char *page, FILE *out, int report)
{
	int changed = 0;
	const char *rest = page;
	for (size_t i = 0; i < sizeof(mangen_blocks) / sizeof(mangen_blocks[0]); i++) {
		const struct mangen_block *b = &mangen_blocks[i];
		char begin_line[128], end_line[128];
		snprintf(begin_line, sizeof(begin_line), ".\\\" BEGIN %s\n", b->name);
		snprintf(end_line, sizeof(end_line), ".\\\" END %s\n", b->name);
		const char *begin = strstr(page, begin_line);
		const char *end = strstr(page, end_line);
		if (begin == NULL || end == NULL || begin < rest || end < begin) {
			fprintf(stderr, "mangen: no \"%s\" ... \"%s\" in order in the page\n",
			        b->name, b->name);
			return -1;
		}
		const char *body = begin + strlen(begin_line);
		fwrite(rest, 1, (size_t)(body - rest), out);
		char *generated = NULL;
		size_t glen = 0;
		FILE *g = open_memstream(&generated, &glen);
		if (g == NULL)
			return -1;
		b->write(g);
		fclose(g);
		fwrite(generated, 1, glen, out);
		if (glen != (size_t)(end - body) || memcmp(generated, body, glen) != 0) {
			changed++;
			if (report)
				fprintf(stderr, "mangen: block %s should read:\n%s", b->name,
				        generated);
		}
		free(generated);
		rest = end;
	}
	fputs(rest, out);
	return changed;
}

int
main(int argc, char **argv)
{
	int check = argc == 3 && strcmp(argv[1], "--check") == 0;
	if (argc != 2 + check) {
		fprintf(stderr, "usage: mangen [--check] PAGE\n");
		return 2;
	}
	const char *path = argv[1 + check];
	size_t len;
	char *page = mangen_read(path, &len);
	if (page == NULL) {
		perror(path);
		return 2;
	}
	char *updated = NULL;
	size_t ulen = 0;
	FILE *out = open_memstream(&updated, &ulen);
	if (out == NULL)
		return 2;
	int changed = mangen_rewrite(page, out, check);
	fclose(out);
	int status = 0;
	if (changed < 0) {
		status = 2;
	} else if (check && changed > 0) {
		fprintf(stderr, "mangen: %s is stale: run `make man`\n", path);
		status = 1;
	} else if (!check && changed > 0) {
		FILE *f = fopen(path, "w");
		if (f == NULL || fwrite(updated, 1, ulen, f) != ulen || fclose(f) != 0) {
			perror(path);
			status = 2;
		}
	}
	free(updated);
	free(page);
	return status;
}
