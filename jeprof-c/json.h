/*
 * json.h — a strict pull reader of JSON text (RFC 8259) held in memory.
 *
 * The caller walks the document: it opens an object or array with
 * json_*_begin, steps through it with json_*_next, and reads each value with
 * the json_read_* function of the type it expects, or skips it.  The reader
 * keeps no stack of its own, so the caller's nesting is the only nesting;
 * json_skip_value walks a skipped value with a bounded explicit stack
 * (JSON_MAX_DEPTH levels), never by recursion.
 *
 * Invariants: no byte past the end of the buffer is read; a failed call sets
 * the diag to "name:line:column: [context: ]why" (line and column of the
 * offending byte, both from 1) and the reader is not used again; at the end
 * of the input "why" starts with "truncated file".
 */
#ifndef JEPROF_JSON_H
#define JEPROF_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

/* Deepest nesting json_skip_value accepts inside the value it skips. */
#define JSON_MAX_DEPTH 256

typedef struct json_reader {
	const char *name;    /* file name for messages */
	const char *context; /* prefix of messages ("record 3"), or NULL */
	const char *start, *p, *end;
	char *scratch; /* the last string read, decoded */
	size_t capscratch;
	diag_t *d;
} json_reader_t;

/* A decoded string; valid until the next string is read. */
typedef struct json_str {
	const char *s;
	size_t len;
} json_str_t;

/* The position in one object or array being walked. */
typedef struct json_iter {
	const char *what; /* its name in messages: "alloc_trace" */
	char close;       /* '}' or ']' */
	bool first;       /* no element stepped to yet */
} json_iter_t;

/* What the next value is, told by its first byte. */
enum json_kind {
	JSON_END,     /* no byte left */
	JSON_INVALID, /* a byte that starts no value */
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_LITERAL, /* true, false or null (not yet checked) */
};

void json_init(json_reader_t *r, const char *name, const char *buf, size_t len, diag_t *d);
void json_fini(json_reader_t *r);

/* Skips whitespace and tells what the next value is; r->p is then at it. */
enum json_kind json_peek(json_reader_t *r);

/* Fails with "why" (printf format) at position at of the input. */
int json_fail_at(json_reader_t *r, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Fails at the next value: "truncated file (expected <what>)" at the end of
 * the input, else "<what> is not <kind>".
 */
int json_fail_not(json_reader_t *r, const char *what, const char *kind);

/* Opens the object (or array) what that must come next. */
int json_object_begin(json_reader_t *r, json_iter_t *it, const char *what);
int json_array_begin(json_reader_t *r, json_iter_t *it, const char *what);

/*
 * Steps to the next member of it: *more is true with its key in *key and
 * the reader at its value, or false once the closing '}' is passed.
 */
int json_object_next(json_reader_t *r, json_iter_t *it, json_str_t *key, bool *more);

/* The same for an array: *more true with the reader at the next element. */
int json_array_next(json_reader_t *r, json_iter_t *it, bool *more);

/* Reads a value of one type; what names it in messages ("size"). */
int json_read_string(json_reader_t *r, const char *what, json_str_t *out);
int json_read_bool(json_reader_t *r, const char *what, bool *out);
/* An integer: a number written without fraction or exponent. */
int json_read_int64(json_reader_t *r, const char *what, int64_t *out);
/* The same, at least 0: "<what> is not a non-negative integer". */
int json_read_uint64(json_reader_t *r, const char *what, uint64_t *out);

/* Checks and skips any value; what names the container it is in. */
int json_skip_value(json_reader_t *r, const char *what);

/* Checks that only whitespace follows the top-level value. */
int json_expect_end(json_reader_t *r);

static inline bool
json_str_eq(json_str_t s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.s, lit, n) == 0;
}

#endif
