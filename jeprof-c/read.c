/*
 * read.c — heap_v2 reader (plain or gzip), with line-numbered errors.
 *
 * The whole file is inflated into memory first (zlib's gzread passes plain
 * files through unchanged), then parsed line by line.  Invariants: the
 * parser never reads past buf + len, every number is checked for overflow,
 * and each count line is unbiased on its own (docs/compat.md, "Unbiasing") before
 * it reaches the model.
 */
#include "read.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Refuse inputs that inflate past this: no real dump is that large. */
#define READ_MAX_BYTES ((size_t)1 << 32)

typedef struct read_cursor {
	const char *name; /* file name for messages */
	const char *p, *end;
	const char *line; /* current line, without its '\n' */
	size_t len;
	unsigned long lineno;
	diag_t *d;
} read_cursor_t;

static bool
read_next_line(read_cursor_t *c)
{
	if (c->p >= c->end)
		return false;
	const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	const char *stop = nl != NULL ? nl : c->end;
	c->line = c->p;
	c->len = (size_t)(stop - c->p);
	if (c->len > 0 && c->line[c->len - 1] == '\r')
		c->len--;
	c->p = nl != NULL ? nl + 1 : c->end;
	c->lineno++;
	return true;
}

static int
read_fail(read_cursor_t *c, const char *why)
{
	return diag_fail(c->d, "%s:%lu: %s", c->name, c->lineno, why);
}

static bool
read_starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

static const char *
read_skip_blanks(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* Parses a decimal number; returns the first byte after it or NULL. */
static const char *
read_parse_decimal(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = s;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return NULL;
		v = v * 10 + d;
		s++;
	}
	if (s == start)
		return NULL;
	*out = v;
	return s;
}

/* Parses a hex number with an optional 0x; returns the byte after it or NULL. */
static const char *
read_parse_hex(const char *s, const char *end, uint64_t *out)
{
	if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	uint64_t v = 0;
	const char *start = s;
	while (s < end) {
		char ch = *s;
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			break;
		if (v >> 60)
			return NULL;
		v = v << 4 | d;
		s++;
	}
	if (s == start)
		return NULL;
	*out = v;
	return s;
}

static const char *
read_expect(const char *s, const char *end, char ch)
{
	return s < end && *s == ch ? s + 1 : NULL;
}

/*
 * Parses "t*: a: b [c: d]" or "t<n>: ...".  *thread is -1 for "t*".  When
 * strict, nothing may follow the closing bracket but blanks.
 */
static bool
read_parse_counts(const char *s, const char *end, bool strict, long *thread, uint64_t v[4])
{
	s = read_skip_blanks(s, end);
	if ((s = read_expect(s, end, 't')) == NULL)
		return false;
	if (s < end && *s == '*') {
		*thread = READ_ALL_THREADS;
		s++;
	} else {
		uint64_t id;
		if ((s = read_parse_decimal(s, end, &id)) == NULL || id > LONG_MAX)
			return false;
		*thread = (long)id;
	}
	if ((s = read_expect(s, end, ':')) == NULL)
		return false;
	if ((s = read_parse_decimal(read_skip_blanks(s, end), end, &v[0])) == NULL)
		return false;
	if ((s = read_expect(s, end, ':')) == NULL)
		return false;
	if ((s = read_parse_decimal(read_skip_blanks(s, end), end, &v[1])) == NULL)
		return false;
	if ((s = read_expect(read_skip_blanks(s, end), end, '[')) == NULL)
		return false;
	if ((s = read_parse_decimal(read_skip_blanks(s, end), end, &v[2])) == NULL)
		return false;
	if ((s = read_expect(s, end, ':')) == NULL)
		return false;
	if ((s = read_parse_decimal(read_skip_blanks(s, end), end, &v[3])) == NULL)
		return false;
	if ((s = read_expect(read_skip_blanks(s, end), end, ']')) == NULL)
		return false;
	return !strict || read_skip_blanks(s, end) == end;
}

/* Parses "start-end perms offset dev inode [path]" of /proc/<pid>/maps. */
static int
read_parse_mapping(read_cursor_t *c, profile_t *p, uint32_t source)
{
	const char *s = c->line, *end = c->line + c->len;
	profile_mapping_t m = {0};
	uint64_t inode;
	if ((s = read_parse_hex(s, end, &m.start)) == NULL || (s = read_expect(s, end, '-')) == NULL ||
	    (s = read_parse_hex(s, end, &m.end)) == NULL || m.end < m.start)
		return read_fail(c, "malformed MAPPED_LIBRARIES line (address range)");
	s = read_skip_blanks(s, end);
	if (end - s < 4)
		return read_fail(c, "malformed MAPPED_LIBRARIES line (permissions)");
	m.exec = s[2] == 'x';
	s += 4;
	if ((s = read_parse_hex(read_skip_blanks(s, end), end, &m.offset)) == NULL)
		return read_fail(c, "malformed MAPPED_LIBRARIES line (offset)");
	s = read_skip_blanks(s, end);
	while (s < end && *s != ' ' && *s != '\t')
		s++; /* device major:minor */
	if ((s = read_parse_decimal(read_skip_blanks(s, end), end, &inode)) == NULL)
		return read_fail(c, "malformed MAPPED_LIBRARIES line (inode)");
	s = read_skip_blanks(s, end);
	const char *pend = end;
	while (pend > s && (pend[-1] == ' ' || pend[-1] == '\t'))
		pend--;
	m.path = strtab_intern(&p->strs, s, (size_t)(pend - s));
	profile_add_mapping(p, source, &m);
	return 0;
}

static int
read_parse_maps(read_cursor_t *c, profile_t *p, uint32_t source)
{
	while (read_next_line(c)) {
		if (c->len == 0)
			continue;
		int err = read_parse_mapping(c, p, source);
		if (err != 0)
			return err;
	}
	return 0;
}

int
read_mappings_buffer(profile_t *p, uint32_t source, const char *name, const char *buf, size_t len,
		     diag_t *d)
{
	read_cursor_t c = {.name = name, .p = buf, .end = buf + len, .d = d};
	return read_parse_maps(&c, p, source);
}

/* Parses "@ 0x... 0x..." into *pcs; returns the count or -1. */
static long
read_parse_stack(read_cursor_t *c, uint64_t **pcs, size_t *cap)
{
	const char *s = c->line + 1, *end = c->line + c->len;
	size_t n = 0;
	for (;;) {
		s = read_skip_blanks(s, end);
		if (s == end)
			return (long)n;
		mem_grow(pcs, cap, n + 1, sizeof(**pcs));
		if ((s = read_parse_hex(s, end, &(*pcs)[n])) == NULL)
			return -1;
		if (s < end && *s != ' ' && *s != '\t')
			return -1;
		n++;
	}
}

/* Reads the "--- symbol" section of a symbolized profile, up to "---". */
static int
read_parse_symbols(read_cursor_t *c, profile_t *p, uint32_t source)
{
	uint32_t *names = NULL;
	size_t cap = 0;
	int err = 0;
	bool closed = false;
	while (err == 0 && read_next_line(c)) {
		const char *s = c->line, *end = c->line + c->len;
		if (c->len == 3 && memcmp(s, "---", 3) == 0) {
			closed = true;
			break;
		}
		if (read_starts(s, c->len, "binary=")) {
			p->sources[source].binary = strtab_intern(&p->strs, s + 7, c->len - 7);
			continue;
		}
		uint64_t addr;
		if ((s = read_parse_hex(s, end, &addr)) == NULL || s == end || *s != ' ') {
			err = read_fail(c, "malformed symbol line (expected \"0x<address> <name>\")");
			break;
		}
		s++;
		uint32_t n = 0;
		for (;;) {
			const char *sep = s;
			while (sep + 1 < end && !(sep[0] == '-' && sep[1] == '-'))
				sep++;
			if (sep + 1 >= end)
				sep = end;
			mem_grow(&names, &cap, n + 1, sizeof(*names));
			names[n++] = strtab_intern(&p->strs, s, (size_t)(sep - s));
			if (sep == end)
				break;
			s = sep + 2;
		}
		profile_add_symbol(p, source, addr, names, n);
	}
	free(names);
	if (err == 0 && !closed)
		err = read_fail(c, "truncated symbol section (no closing \"---\")");
	if (err == 0 && (!read_next_line(c) || !read_starts(c->line, c->len, "--- heap")))
		err = read_fail(c, "expected \"--- heap\" after the symbol section");
	if (err == 0)
		profile_sort_symbols(p, source);
	return err;
}

static int
read_parse_header(read_cursor_t *c, profile_t *p, uint32_t source)
{
	if (!read_next_line(c))
		return read_fail(c, "empty file, not a heap profile");
	if (read_starts(c->line, c->len, "--- symbol")) {
		int err = read_parse_symbols(c, p, source);
		if (err != 0)
			return err;
		if (!read_next_line(c))
			return read_fail(c, "truncated profile (no heap_v2 header)");
	}
	if (read_starts(c->line, c->len, "heap profile:"))
		return read_fail(c, "unsupported heap profile version (only heap_v2 is read)");
	const char *end = c->line + c->len;
	uint64_t period;
	const char *s;
	if (!read_starts(c->line, c->len, "heap_v2/") ||
	    (s = read_parse_decimal(c->line + 8, end, &period)) == NULL ||
	    read_skip_blanks(s, end) != end)
		return read_fail(c, "not a heap profile (expected \"heap_v2/<sample rate>\")");
	if (period == 0)
		return read_fail(c, "sample rate 0 in heap_v2 header");
	p->sources[source].period = period;
	return 0;
}

int
read_profile_buffer(profile_t *p, const char *name, const char *buf, size_t len, long thread,
		    bool is_base, diag_t *d)
{
	read_cursor_t c = {.name = name, .p = buf, .end = buf + len, .d = d};
	uint32_t source = profile_add_source(p, name, is_base);
	int err = read_parse_header(&c, p, source);
	uint64_t *pcs = NULL;
	size_t cap = 0;
	long npcs = -1; /* pcs of the open stack; -1 before the first '@' */
	bool counted = true, have_maps = false;
	double chosen[PROFILE_NVALUES];
	bool chose = false;
	uint64_t period = p->sources[source].period;
	while (err == 0 && read_next_line(&c)) {
		const char *s = c.line, *end = c.line + c.len;
		if (c.len > 0 && s[0] == '@') {
			if (!counted) {
				err = read_fail(&c, "stack without count lines before this one");
				break;
			}
			if ((npcs = read_parse_stack(&c, &pcs, &cap)) < 0) {
				err = read_fail(&c, "malformed stack line (expected \"@ 0x<pc> ...\")");
				break;
			}
			counted = chose = false;
			continue;
		}
		if (read_starts(s, c.len, "MAPPED_LIBRARIES:") ||
		    read_starts(s, c.len, "--- Memory map:")) {
			if (!counted) {
				err = read_fail(&c, "stack without count lines before this line");
				break;
			}
			have_maps = true;
			err = read_parse_maps(&c, p, source);
			break;
		}
		if (read_skip_blanks(s, end) == end)
			continue;
		uint64_t v[4];
		long tid;
		if (!read_parse_counts(s, end, npcs >= 0, &tid, v)) {
			err = read_fail(&c, "malformed count line (expected \"t*: <objs>: <bytes> "
					    "[<objs>: <bytes>]\")");
			break;
		}
		if (npcs < 0)
			continue; /* header totals: jeprof recomputes them from the stacks */
		counted = true;
		if (tid != thread)
			continue;
		if (chose) {
			err = read_fail(&c, "duplicate count line for the same thread");
			break;
		}
		chosen[PROFILE_INUSE_OBJECTS] = (double)v[0];
		chosen[PROFILE_INUSE_SPACE] = (double)v[1];
		chosen[PROFILE_ALLOC_OBJECTS] = (double)v[2];
		chosen[PROFILE_ALLOC_SPACE] = (double)v[3];
		profile_unbias(&chosen[PROFILE_INUSE_OBJECTS], &chosen[PROFILE_INUSE_SPACE], period);
		profile_unbias(&chosen[PROFILE_ALLOC_OBJECTS], &chosen[PROFILE_ALLOC_SPACE], period);
		profile_add_sample(p, source, pcs, (size_t)npcs, chosen);
		chose = true;
	}
	free(pcs);
	if (err == 0 && !have_maps)
		err = read_fail(&c, "truncated profile (no MAPPED_LIBRARIES section)");
	return err;
}

int
read_load_file(const char *path, char **out, size_t *outlen, diag_t *d)
{
	errno = 0;
	gzFile gz = gzopen(path, "rb");
	if (gz == NULL) {
		int e = errno != 0 ? errno : ENOMEM;
		diag_fail(d, "%s: %s", path, strerror(e));
		return e;
	}
	gzbuffer(gz, 1 << 17);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int err = 0;
	for (;;) {
		mem_grow(&buf, &cap, len + (1 << 16), 1);
		int n = gzread(gz, buf + len, (unsigned)(cap - len));
		if (n < 0) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);
			err = diag_fail(d, "%s: corrupt compressed data (%s)",
					path, zerr == Z_ERRNO ? strerror(errno) : msg);
			break;
		}
		if (n == 0) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);
			if (zerr != Z_OK)
				err = diag_fail(d, "%s: truncated or corrupt compressed data (%s)",
						path, msg);
			break;
		}
		len += (size_t)n;
		if (len > READ_MAX_BYTES) {
			err = diag_fail(d, "%s: larger than %zu bytes, too large to be a profile", path,
					READ_MAX_BYTES);
			break;
		}
	}
	gzclose(gz);
	if (err != 0) {
		free(buf);
		return err;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int
read_profile_file(profile_t *p, const char *path, long thread, bool is_base, diag_t *d)
{
	char *buf;
	size_t len;
	int err = read_load_file(path, &buf, &len, d);
	if (err != 0)
		return err;
	err = read_profile_buffer(p, path, buf, len, thread, is_base, d);
	free(buf);
	return err;
}

bool
read_is_profile(const char *path)
{
	gzFile gz = gzopen(path, "rb");
	if (gz == NULL)
		return false;
	char head[16] = {0};
	int n = gzread(gz, head, sizeof(head) - 1);
	gzclose(gz);
	return n > 0 && (strncmp(head, "heap", 4) == 0 || strncmp(head, "--- symbol", 10) == 0);
}
