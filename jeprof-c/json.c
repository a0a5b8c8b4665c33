/*
 * json.c — the strict JSON pull reader of json.h.
 *
 * Grammar is RFC 8259's, with nothing relaxed: no comments, no trailing
 * commas, no leading zeros or '+', no unescaped control characters in
 * strings, \u escapes with their surrogate pairs (decoded to UTF-8); other
 * bytes of a string pass through as they are.  Invariants: every access
 * checks r->p < r->end first; the reader never recurses (json_skip_value
 * keeps its own stack of JSON_MAX_DEPTH iterators); line and column are
 * counted only when an error is reported.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
json_init(json_reader_t *r, const char *name, const char *buf, size_t len, diag_t *d)
{
	*r = (json_reader_t){.name = name, .start = buf, .p = buf, .end = buf + len, .d = d};
}

void
json_fini(json_reader_t *r)
{
	free(r->scratch);
	r->scratch = NULL;
	r->capscratch = 0;
}

static bool
json_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void
json_skip_blanks(json_reader_t *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

enum json_kind
json_peek(json_reader_t *r)
{
	json_skip_blanks(r);
	if (r->p >= r->end)
		return JSON_END;
	switch (*r->p) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 't':
	case 'f':
	case 'n':
		return JSON_LITERAL;
	case '-':
		return JSON_NUMBER;
	default:
		return json_is_digit(*r->p) ? JSON_NUMBER : JSON_INVALID;
	}
}

int
json_fail_at(json_reader_t *r, const char *at, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	unsigned long line = 1;
	const char *bol = r->start;
	for (const char *s = r->start; s < at; s++) {
		if (*s == '\n') {
			line++;
			bol = s + 1;
		}
	}
	return diag_fail(r->d, "%s:%lu:%lu: %s%s%s", r->name, line, (unsigned long)(at - bol) + 1,
			 r->context != NULL ? r->context : "", r->context != NULL ? ": " : "", why);
}

static const char *const json_literals[] = {"true", "false", "null"};

/* The literal (true, false, null) at r->p: its length, or 0 for none. */
static size_t
json_literal_len(const json_reader_t *r)
{
	for (size_t i = 0; i < sizeof(json_literals) / sizeof(json_literals[0]); i++) {
		size_t n = strlen(json_literals[i]);
		if ((size_t)(r->end - r->p) >= n && memcmp(r->p, json_literals[i], n) == 0)
			return n;
	}
	return 0;
}

/* Whether the input ends at r->p, or with the first bytes of a literal there. */
static bool
json_is_cut(const json_reader_t *r)
{
	size_t left = (size_t)(r->end - r->p);
	for (size_t i = 0; i < sizeof(json_literals) / sizeof(json_literals[0]); i++)
		if (left < strlen(json_literals[i]) && memcmp(r->p, json_literals[i], left) == 0)
			return true;
	return false;
}

/* Fails at r->p: "expected <what>", or "truncated file (expected <what>)" at the end. */
static int
json_fail_expected(json_reader_t *r, const char *what)
{
	const char *fmt = json_is_cut(r) ? "truncated file (expected %s)" : "expected %s";
	return json_fail_at(r, r->p, fmt, what);
}

int
json_fail_not(json_reader_t *r, const char *what, const char *kind)
{
	json_skip_blanks(r);
	if (json_is_cut(r))
		return json_fail_expected(r, what);
	return json_fail_at(r, r->p, "%s is not %s", what, kind);
}

static int
json_begin(json_reader_t *r, json_iter_t *it, char open, const char *what)
{
	json_skip_blanks(r);
	if (r->p >= r->end || *r->p != open)
		return json_fail_not(r, what, open == '{' ? "an object" : "an array");
	r->p++;
	*it = (json_iter_t){.what = what, .close = open == '{' ? '}' : ']', .first = true};
	return 0;
}

int
json_object_begin(json_reader_t *r, json_iter_t *it, const char *what)
{
	return json_begin(r, it, '{', what);
}

int
json_array_begin(json_reader_t *r, json_iter_t *it, const char *what)
{
	return json_begin(r, it, '[', what);
}

/*
 * Passes the ',' before the next element or the closing bracket.  An
 * element after a ',' is required by whoever reads it, so a trailing comma
 * fails there.
 */
static int
json_next(json_reader_t *r, json_iter_t *it, bool *more)
{
	json_skip_blanks(r);
	if (r->p < r->end && *r->p == it->close && it->first) {
		r->p++;
		*more = false;
		return 0;
	}
	if (it->first) {
		it->first = false;
		*more = true;
		return 0;
	}
	if (r->p < r->end && (*r->p == ',' || *r->p == it->close)) {
		*more = *r->p++ == ',';
		return 0;
	}
	char what[160];
	snprintf(what, sizeof(what), "',' or '%c' in %s", it->close, it->what);
	return json_fail_expected(r, what);
}

static unsigned
json_hex_value(char c)
{
	if (json_is_digit(c))
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (unsigned)(c - 'A' + 10);
	return 16;
}

/* The four hex digits of a \u escape (esc is its '\'), r->p at the first. */
static int
json_parse_hex4(json_reader_t *r, const char *esc, uint32_t *out)
{
	if (r->end - r->p < 4)
		return json_fail_at(r, r->end,
				    "truncated file (expected four hex digits after \\u)");
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned d = json_hex_value(r->p[i]);
		if (d == 16)
			return json_fail_at(r, esc,
					    "invalid \\u escape (expected four hex digits)");
		v = v << 4 | d;
	}
	r->p += 4;
	*out = v;
	return 0;
}

/* The code point of a \u escape, a surrogate pair joined; r->p after the 'u'. */
static int
json_parse_code_point(json_reader_t *r, const char *esc, uint32_t *cp)
{
	int err = json_parse_hex4(r, esc, cp);
	if (err != 0)
		return err;
	if (*cp >= 0xdc00 && *cp < 0xe000)
		return json_fail_at(r, esc, "invalid \\u escape (a low surrogate alone)");
	if (*cp < 0xd800 || *cp >= 0xdc00)
		return 0;
	uint32_t low;
	if (r->end - r->p < 2 && memcmp(r->p, "\\u", (size_t)(r->end - r->p)) == 0) {
		r->p = r->end;
		return json_fail_expected(r, "the low surrogate after a high one");
	}
	if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
		return json_fail_at(r, esc, "invalid \\u escape (a high surrogate alone)");
	r->p += 2;
	if ((err = json_parse_hex4(r, esc, &low)) != 0)
		return err;
	if (low < 0xdc00 || low >= 0xe000)
		return json_fail_at(r, esc, "invalid \\u escape (a high surrogate alone)");
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (low - 0xdc00);
	return 0;
}

static size_t
json_encode_utf8(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The one-character escapes and what they stand for. */
static char
json_unescape(char c)
{
	switch (c) {
	case '"':
	case '\\':
	case '/':
		return c;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return '\0';
	}
}

/* Decodes the string at r->p (its opening '"') into the scratch buffer. */
static int
json_parse_string(json_reader_t *r, json_str_t *out)
{
	size_t n = 0;
	r->p++;
	for (;;) {
		mem_grow(&r->scratch, &r->capscratch, n + 4, 1);
		if (r->p >= r->end)
			return json_fail_expected(r, "'\"' closing a string");
		char c = *r->p;
		if (c == '"')
			break;
		if ((unsigned char)c < 0x20)
			return json_fail_at(r, r->p,
					    "control character in a string (must be escaped)");
		if (c != '\\') {
			r->scratch[n++] = c;
			r->p++;
			continue;
		}
		const char *esc = r->p++;
		if (r->p >= r->end)
			return json_fail_expected(r, "an escaped character after '\\'");
		char e = *r->p++;
		if (e == 'u') {
			uint32_t cp;
			int err = json_parse_code_point(r, esc, &cp);
			if (err != 0)
				return err;
			n += json_encode_utf8(cp, r->scratch + n);
		} else if (json_unescape(e) != '\0') {
			r->scratch[n++] = json_unescape(e);
		} else {
			return json_fail_at(r, esc, "invalid escape '\\%c' in a string", e);
		}
	}
	r->p++;
	*out = (json_str_t){r->scratch, n};
	return 0;
}

/*
 * Checks the number at r->p against the grammar and moves past it.
 * *integer: written without fraction or exponent.
 */
static int
json_scan_number(json_reader_t *r, bool *integer)
{
	const char *s = r->p, *e = r->end;
	*integer = true;
	if (s < e && *s == '-')
		s++;
	if (s < e && *s == '0') {
		s++;
	} else if (s < e && json_is_digit(*s)) {
		while (s < e && json_is_digit(*s))
			s++;
	} else {
		r->p = s;
		return json_fail_expected(r, "a digit in a number");
	}
	if (s < e && *s == '.') {
		*integer = false;
		if (++s >= e || !json_is_digit(*s)) {
			r->p = s;
			return json_fail_expected(r, "a digit after '.' in a number");
		}
		while (s < e && json_is_digit(*s))
			s++;
	}
	if (s < e && (*s == 'e' || *s == 'E')) {
		*integer = false;
		if (++s < e && (*s == '+' || *s == '-'))
			s++;
		if (s >= e || !json_is_digit(*s)) {
			r->p = s;
			return json_fail_expected(r, "a digit in the exponent of a number");
		}
		while (s < e && json_is_digit(*s))
			s++;
	}
	r->p = s;
	return 0;
}

int
json_object_next(json_reader_t *r, json_iter_t *it, json_str_t *key, bool *more)
{
	int err = json_next(r, it, more);
	if (err != 0 || !*more)
		return err;
	char what[160];
	json_skip_blanks(r);
	if (r->p >= r->end || *r->p != '"') {
		snprintf(what, sizeof(what), "a key string in %s", it->what);
		return json_fail_expected(r, what);
	}
	if ((err = json_parse_string(r, key)) != 0)
		return err;
	json_skip_blanks(r);
	if (r->p >= r->end || *r->p != ':') {
		snprintf(what, sizeof(what), "':' after a key in %s", it->what);
		return json_fail_expected(r, what);
	}
	r->p++;
	return 0;
}

int
json_array_next(json_reader_t *r, json_iter_t *it, bool *more)
{
	return json_next(r, it, more);
}

int
json_read_string(json_reader_t *r, const char *what, json_str_t *out)
{
	if (json_peek(r) != JSON_STRING)
		return json_fail_not(r, what, "a string");
	return json_parse_string(r, out);
}

int
json_read_bool(json_reader_t *r, const char *what, bool *out)
{
	size_t n = json_peek(r) == JSON_LITERAL ? json_literal_len(r) : 0;
	if (n == 0 || *r->p == 'n')
		return json_fail_not(r, what, "true or false");
	*out = *r->p == 't';
	r->p += n;
	return 0;
}

/*
 * An integer: a number without fraction or exponent ("<what> is not <kind>"
 * otherwise), negative only when negative_ok, of at most max_magnitude
 * (max_magnitude + 1 when negative).
 */
static int
json_read_integer(json_reader_t *r, const char *what, const char *kind, bool negative_ok,
		  uint64_t max_magnitude, bool *negative, uint64_t *magnitude)
{
	if (json_peek(r) != JSON_NUMBER)
		return json_fail_not(r, what, "a number");
	const char *start = r->p;
	bool integer;
	int err = json_scan_number(r, &integer);
	if (err != 0)
		return err;
	if (!integer)
		return json_fail_at(r, start, "%s is not %s", what, kind);
	*negative = *start == '-';
	uint64_t v = 0;
	for (const char *s = start + *negative; s < r->p; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return json_fail_at(r, start, "%s does not fit in 64 bits", what);
		v = v * 10 + d;
	}
	if (*negative && v != 0 && !negative_ok)
		return json_fail_at(r, start, "%s is not %s", what, kind);
	if (v > (*negative && negative_ok ? max_magnitude + 1 : max_magnitude))
		return json_fail_at(r, start, "%s does not fit in 64 bits", what);
	*magnitude = v;
	return 0;
}

int
json_read_int64(json_reader_t *r, const char *what, int64_t *out)
{
	bool negative;
	uint64_t v;
	int err = json_read_integer(r, what, "an integer", true, INT64_MAX, &negative, &v);
	if (err == 0)
		*out = negative ? (int64_t)(0 - v) : (int64_t)v;
	return err;
}

int
json_read_uint64(json_reader_t *r, const char *what, uint64_t *out)
{
	bool negative;
	return json_read_integer(r, what, "a non-negative integer", false, UINT64_MAX, &negative,
				 out);
}

int
json_skip_value(json_reader_t *r, const char *what)
{
	json_iter_t stack[JSON_MAX_DEPTH];
	size_t depth = 0;
	for (;;) {
		int err = 0;
		bool integer;
		json_str_t s;
		switch (json_peek(r)) {
		case JSON_OBJECT:
		case JSON_ARRAY:
			if (depth == JSON_MAX_DEPTH)
				return json_fail_at(r, r->p, "%s nests deeper than %d levels", what,
						    JSON_MAX_DEPTH);
			err = json_begin(r, &stack[depth++], *r->p, what);
			break;
		case JSON_STRING:
			err = json_parse_string(r, &s);
			break;
		case JSON_NUMBER:
			err = json_scan_number(r, &integer);
			break;
		default: {
			size_t n = json_literal_len(r);
			if (n == 0) {
				char expected[160];
				snprintf(expected, sizeof(expected), "a value in %s", what);
				return json_fail_expected(r, expected);
			}
			r->p += n;
			break;
		}
		}
		if (err != 0)
			return err;
		/* Step to the next value, leaving every container that ends here. */
		while (depth > 0) {
			json_iter_t *it = &stack[depth - 1];
			bool more;
			err = it->close == '}' ? json_object_next(r, it, &s, &more)
					       : json_array_next(r, it, &more);
			if (err != 0)
				return err;
			if (more)
				break;
			depth--;
		}
		if (depth == 0)
			return 0;
	}
}

int
json_expect_end(json_reader_t *r)
{
	json_skip_blanks(r);
	if (r->p < r->end)
		return json_fail_at(r, r->p, "unexpected data after the top-level object");
	return 0;
}
