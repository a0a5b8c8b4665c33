/*
 * man_util.h — the mallctl names man/strata.3 documents, for the tree-walk
 * suites (tests/check_ctl_walk.c, tests/check_api_ctl_walk.c).
 *
 * An entry of the section MALLCTL NAMESPACE is a tag line right after
 * `.TP` (or `.TQ`, a further tag of the same entry):
 *
 *   .BR name " (type, access)"
 *   .BR name ", " name2 ", " name3 " (type, access)"
 *
 * where a name without a dot is a sibling of the tag's first name
 * (`stats.arenas.<i>.pactive ", " pdirty`) and a tag without its
 * " (type, access)" has the type of the entry's nearest tag that has one.
 * Indices are written <i>, <j>; access is r-, rw, -w or -- (roff's \- read
 * as -).  man_type_size gives a documented type's size.
 *
 * Usable outside a Check test (the API suite reads the page in a child
 * started before main): a page it cannot read is reported on stderr and
 * aborts, failing the test that reads it.
 */
#ifndef STRATA_TEST_MAN_UTIL_H
#define STRATA_TEST_MAN_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fails the reader: the message on stderr, then abort. */
#define MAN_REQUIRE(cond, ...)                                                            \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			abort();                                                          \
		}                                                                         \
	} while (0)

#define MAN_PAGE "man/strata.3"
#define MAN_NAME_MAX 256
#define MAN_TYPE_MAX 160
#define MAN_ENTRIES_MAX 4096

typedef struct man_entry {
	char name[MAN_NAME_MAX];
	char type[MAN_TYPE_MAX]; /* "" until the entry's type is known */
	char access[4];          /* "r-", "rw", "-w" or "--" */
	int group;               /* the .TP the tag belongs to */
} man_entry_t;

/* Copies roff text, reading \- as -; returns false when it does not fit. */
static inline bool
man_unescape(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] == '-')
			i++;
		if (n + 1 >= size)
			return false;
		out[n++] = s[i];
	}
	out[n] = '\0';
	return true;
}

/* Splits a request's arguments (after `.BR `): blank-separated, or quoted
 * (with blanks inside); returns their number, each unescaped into args. */
static inline size_t
man_split_args(const char *line, char args[][MAN_NAME_MAX], size_t max)
{
	size_t n = 0;
	const char *p = line;
	while (*p != '\0' && n < max) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		const char *start, *end;
		if (*p == '"') {
			start = ++p;
			end = strchr(p, '"');
			MAN_REQUIRE(end != NULL, "man: unclosed quote in .BR %s", line);
			p = end + 1;
		} else {
			start = p;
			while (*p != ' ' && *p != '\0')
				p++;
			end = p;
		}
		MAN_REQUIRE(man_unescape(start, (size_t)(end - start), args[n], MAN_NAME_MAX),
		              "man: argument too long in .BR %s", line);
		n++;
	}
	return n;
}

/* Parses " (type, access)" into the entry; false when arg is not one. */
static inline bool
man_parse_type(const char *arg, man_entry_t *e)
{
	size_t len = strlen(arg);
	if (len < 6 || strncmp(arg, " (", 2) != 0 || arg[len - 1] != ')')
		return false;
	const char *comma = NULL;
	for (const char *c = arg; (c = strstr(c, ", ")) != NULL; c++)
		comma = c;
	if (comma == NULL || (size_t)(arg + len - 1 - (comma + 2)) != 2)
		return false;
	size_t tlen = (size_t)(comma - (arg + 2));
	if (tlen == 0 || tlen >= sizeof(e->type))
		return false;
	memcpy(e->type, arg + 2, tlen);
	e->type[tlen] = '\0';
	memcpy(e->access, comma + 2, 2);
	e->access[2] = '\0';
	return strcmp(e->access, "r-") == 0 || strcmp(e->access, "rw") == 0 ||
	       strcmp(e->access, "-w") == 0 || strcmp(e->access, "--") == 0;
}

/* Adds the names of one tag line to entries[*np...]. */
static inline void
man_parse_tag(const char *line, int group, man_entry_t *entries, size_t *np, size_t max)
{
	static char args[32][MAN_NAME_MAX];
	size_t nargs = man_split_args(line, args, 32);
	size_t first = *np;
	man_entry_t typed = {.type = ""};
	for (size_t a = 0; a < nargs; a++) {
		if (a % 2 == 1) { /* a separator or the type */
			if (strcmp(args[a], ", ") == 0)
				continue;
			MAN_REQUIRE(a == nargs - 1 && man_parse_type(args[a], &typed),
			              "man: tag `.BR %s`: \"%s\" is neither \", \" nor \" (type, "
			              "access)\"",
			              line, args[a]);
			continue;
		}
		MAN_REQUIRE(*np < max, "man: more than %zu names", max);
		man_entry_t *e = &entries[(*np)++];
		memset(e, 0, sizeof(*e));
		e->group = group;
		if (strchr(args[a], '.') == NULL && a > 0) {
			const char *base = args[0];
			const char *dot = strrchr(base, '.');
			MAN_REQUIRE(dot != NULL, "man: `%s` has no parent in `.BR %s`", args[a], line);
			int w = snprintf(e->name, sizeof(e->name), "%.*s%s", (int)(dot + 1 - base),
			                 base, args[a]);
			MAN_REQUIRE(w > 0 && (size_t)w < sizeof(e->name), "man: long name %s", line);
		} else {
			int w = snprintf(e->name, sizeof(e->name), "%s", args[a]);
			MAN_REQUIRE(w > 0 && (size_t)w < sizeof(e->name), "man: long name %s", line);
		}
	}
	if (typed.type[0] != '\0') {
		for (size_t i = first; i < *np; i++) {
			memcpy(entries[i].type, typed.type, sizeof(typed.type));
			memcpy(entries[i].access, typed.access, sizeof(typed.access));
		}
	}
}

/*
 * Reads the entries of MAN_PAGE's MALLCTL NAMESPACE section into entries
 * (at most max); returns their number.  Fails the test on a tag it cannot
 * read, or a name whose entry has no type.
 */
static inline size_t
man_read_mallctl_names(man_entry_t *entries, size_t max)
{
	FILE *f = fopen(MAN_PAGE, "r");
	MAN_REQUIRE(f != NULL, "cannot open " MAN_PAGE " (run from the repository root)");
	static char line[4096];
	bool in_section = false, after_tag = false;
	int group = 0;
	size_t n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, ".SH ", 4) == 0) {
			in_section = strcmp(line, ".SH MALLCTL NAMESPACE") == 0;
			continue;
		}
		if (!in_section)
			continue;
		if (strcmp(line, ".TP") == 0 || strcmp(line, ".TQ") == 0) {
			group += line[2] == 'P';
			after_tag = true;
			continue;
		}
		if (after_tag && strncmp(line, ".BR ", 4) == 0)
			man_parse_tag(line + 4, group, entries, &n, max);
		after_tag = false;
	}
	fclose(f);
	/* Untyped tags take the type of their entry's nearest typed tag. */
	for (size_t i = 0; i < n; i++) {
		if (entries[i].type[0] != '\0')
			continue;
		for (size_t d = 1; d < n && entries[i].type[0] == '\0'; d++) {
			for (int side = -1; side <= 1; side += 2) {
				size_t j = i + (size_t)side * d;
				if (j >= n || entries[j].group != entries[i].group ||
				    entries[j].type[0] == '\0' || entries[i].type[0] != '\0')
					continue;
				memcpy(entries[i].type, entries[j].type, sizeof(entries[i].type));
				memcpy(entries[i].access, entries[j].access, sizeof(entries[i].access));
			}
		}
		MAN_REQUIRE(entries[i].type[0] != '\0', "man: %s has no (type, access)",
		              entries[i].name);
	}
	return n;
}

/* The size of a scalar type, 8 for a pointer, or SIZE_MAX. */
static inline size_t
man_scalar_size(const char *type)
{
	static const struct {
		const char *name;
		size_t size;
	} scalars[] = {
		{"bool", 1},     {"char", 1},     {"int", 4},      {"unsigned", 4},
		{"uint32_t", 4}, {"int32_t", 4},  {"size_t", 8},   {"ssize_t", 8},
		{"uint64_t", 8}, {"int64_t", 8},  {"void", 0},
	};
	if (strchr(type, '*') != NULL)
		return 8;
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		if (strcmp(type, scalars[i].name) == 0)
			return scalars[i].size;
	}
	return SIZE_MAX;
}

/*
 * The size of a documented type: a scalar, a pointer (`T *`, `void
 * (*)(...)`), or `struct { T a, b; U *c; ... }` laid out as C does; SIZE_MAX
 * for what it cannot read.
 */
static inline size_t
man_type_size(const char *type)
{
	if (strncmp(type, "struct {", 8) != 0)
		return strstr(type, "(*") != NULL ? 8 : man_scalar_size(type);
	size_t size = 0, align_max = 1;
	char member[MAN_TYPE_MAX];
	const char *p = type + 8;
	for (const char *semi; (semi = strchr(p, ';')) != NULL; p = semi + 1) {
		snprintf(member, sizeof(member), "%.*s", (int)(semi - p), p);
		char *m = member;
		while (*m == ' ')
			m++;
		size_t msize, count = 1;
		if (strstr(m, "(*") != NULL) {
			msize = 8;
		} else {
			for (char *c = m; *c != '\0'; c++)
				count += *c == ',';
			char *first = strtok(m, ",");
			char *name = strrchr(first, ' ');
			if (name == NULL)
				return SIZE_MAX;
			msize = strchr(name, '*') != NULL ? 8 : (*name = '\0', man_scalar_size(first));
		}
		if (msize == SIZE_MAX || msize == 0)
			return SIZE_MAX;
		for (size_t k = 0; k < count; k++) {
			size = (size + msize - 1) / msize * msize + msize;
			align_max = msize > align_max ? msize : align_max;
		}
	}
	return (size + align_max - 1) / align_max * align_max;
}

/* The name with its first index <i> and second <j> replaced by i and j. */
static inline void
man_instantiate(const char *name, unsigned i, unsigned j, char *out, size_t size)
{
	size_t n = 0;
	for (const char *p = name; *p != '\0' && n + 12 < size;) {
		if (p[0] == '<' && (p[1] == 'i' || p[1] == 'j') && p[2] == '>') {
			n += (size_t)snprintf(out + n, size - n, "%u", p[1] == 'i' ? i : j);
			p += 3;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
}

#endif
