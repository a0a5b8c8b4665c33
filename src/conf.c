/*
 * conf.c — MALLOC_CONF: the option globals, the five sources and the
 * parser, all generated from the option table (CONF_ALL_OPTIONS, conf.h).
 * Layer L0.
 *
 * Runs inside malloc's bootstrap, so it never allocates: sources are read
 * into stack buffers (readlink) or used in place (environment, globals), and
 * messages go through msg.  Single threaded: conf_init runs once before the
 * first allocation; nothing here takes a lock.
 *
 * Parsing follows jemalloc 5.3 (docs/compat.md, "MALLOC_CONF"): a conf string is
 * `key:value[,key:value]...`; keys are [A-Za-z0-9_]+, a value runs to the
 * next comma.  The sources are applied in order, each pair overriding the
 * earlier value of its key.  A first, silent pass reads only confirm_conf,
 * so that the second pass can echo every source when any of them sets it.
 * A syntax error ends the current source (pairs before it stay applied).
 * After each source, if abort_conf is set and any pair so far was invalid
 * (keys starting with experimental_ excepted), strata aborts.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "msg.h"

/* Source 1: options fixed when strata is built (-DSTRATA_MALLOC_CONF=...). */
#ifndef STRATA_MALLOC_CONF
#define STRATA_MALLOC_CONF ""
#endif
static const char config_malloc_conf[] = STRATA_MALLOC_CONF;

/* Sources 2 and 5: weak, so that a program may define them. */
EXPORT const char *malloc_conf __attribute__((weak));
EXPORT const char *malloc_conf_2_conf_harder __attribute__((weak));

/* ------------------------------------------------------------ the globals */

/* What opt.<name> of a LIMIT option reads: "auto", "off" or the count. */
static void
conf_limit_format(char text[CONF_LIMIT_TEXT_MAX], size_t value)
{
	if (value == CONF_LIMIT_AUTO)
		memcpy(text, "auto", sizeof("auto"));
	else if (value == CONF_LIMIT_OFF)
		memcpy(text, "off", sizeof("off"));
	else
		msg_format(text, CONF_LIMIT_TEXT_MAX, "%zu", value);
}

/* What opt.<name> of an FXP option and stats print: jemalloc's form, the
 * integer part, a point and up to 8 fraction digits without trailing zeros
 * ("0.25", "4.0"), or "-1". */
static void
conf_fxp_format(char text[CONF_FXP_TEXT_MAX], uint32_t value)
{
	if (value == CONF_FXP_MINUS_ONE) {
		memcpy(text, "-1", sizeof("-1"));
		return;
	}
	uint64_t frac = ((uint64_t)(value & (CONF_FXP_ONE - 1)) * 100000000) >> 16;
	char digits[9];
	msg_format(digits, sizeof(digits), "%08u", (unsigned)frac);
	size_t n = 8;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	msg_format(text, CONF_FXP_TEXT_MAX, "%u.%s", (unsigned)(value >> 16), digits);
}

#define CONF_DEFINE(name, kind, ctype, dflt, min, max, values, doc)                      \
	CONF_DEFINE_##kind(name, ctype, dflt, max)
#define CONF_DEFINE_SCALAR(name, ctype, dflt)                                             \
	ctype opt_##name = dflt;                                                          \
	static void conf_set_##name(uintmax_t v)                                          \
	{                                                                                 \
		opt_##name = (ctype)v;                                                    \
	}                                                                                 \
	static uintmax_t conf_get_##name(void)                                            \
	{                                                                                 \
		return (uintmax_t)opt_##name;                                             \
	}
#define CONF_DEFINE_BOOL(name, ctype, dflt, max) CONF_DEFINE_SCALAR(name, ctype, dflt)
#define CONF_DEFINE_CHOICE(name, ctype, dflt, max) CONF_DEFINE_SCALAR(name, ctype, dflt)
#define CONF_DEFINE_UINT(name, ctype, dflt, max) CONF_DEFINE_SCALAR(name, ctype, dflt)
#define CONF_DEFINE_UINT_CLIP(name, ctype, dflt, max) CONF_DEFINE_SCALAR(name, ctype, dflt)
#define CONF_DEFINE_UINT_AUTO(name, ctype, dflt, max) CONF_DEFINE_SCALAR(name, ctype, dflt)
#define CONF_DEFINE_SINT(name, ctype, dflt, max) CONF_DEFINE_SCALAR(name, ctype, dflt)
#define CONF_DEFINE_LIMIT(name, ctype, dflt, max)                                         \
	STATIC_ASSERT((uintmax_t)(max) < (uintmax_t)CONF_LIMIT_OFF, #name ": max meets off"); \
	ctype opt_##name = dflt;                                                          \
	static char conf_text_##name[CONF_LIMIT_TEXT_MAX];                                \
	static void conf_set_##name(uintmax_t v)                                          \
	{                                                                                 \
		opt_##name = (ctype)v;                                                    \
		conf_limit_format(conf_text_##name, opt_##name);                          \
	}                                                                                 \
	static uintmax_t conf_get_##name(void)                                            \
	{                                                                                 \
		return (uintmax_t)opt_##name;                                             \
	}
#define CONF_DEFINE_LETTERS(name, ctype, dflt, max)                                       \
	char opt_##name[max] = dflt;                                                      \
	STATIC_ASSERT(sizeof(dflt) <= (max), "default of " #name " too long");
#define CONF_DEFINE_STRING(name, ctype, dflt, max) CONF_DEFINE_LETTERS(name, ctype, dflt, max)
#define CONF_DEFINE_LG_ALIAS(name, target, dflt, max)                                     \
	STATIC_ASSERT((max) < sizeof(opt_##target) * CHAR_BIT, #name " exceeds " #target);    \
	static void conf_set_##name(uintmax_t v)                                          \
	{                                                                                 \
		opt_##target = (__typeof__(opt_##target))1 << v;                          \
	}
#define CONF_DEFINE_FXP(name, ctype, dflt, max)                                           \
	ctype opt_##name = dflt;                                                          \
	static char conf_text_##name[CONF_FXP_TEXT_MAX];                                  \
	static void conf_set_##name(uintmax_t v)                                          \
	{                                                                                 \
		opt_##name = (ctype)v;                                                    \
		conf_fxp_format(conf_text_##name, opt_##name);                            \
	}                                                                                 \
	static uintmax_t conf_get_##name(void)                                            \
	{                                                                                 \
		return (uintmax_t)opt_##name;                                             \
	}
#define CONF_DEFINE_RANGES(name, ctype, dflt, max) ctype opt_##name = dflt;
CONF_ALL_OPTIONS(CONF_DEFINE)
#undef CONF_DEFINE

/* Value names: { "a", "b", NULL } from CONF_VALUES("a", "b"), { NULL } from
 * CONF_NO_VALUES. */
#define CONF_UNPAREN(...) __VA_ARGS__
#define CONF_DEFINE_VALUES(name, kind, ctype, dflt, min, max, values, doc)               \
	static const char *const conf_values_##name[] = {CONF_UNPAREN values NULL};
CONF_ALL_OPTIONS(CONF_DEFINE_VALUES)
#undef CONF_DEFINE_VALUES

#define CONF_SET_BOOL(name) conf_set_##name
#define CONF_SET_CHOICE(name) conf_set_##name
#define CONF_SET_UINT(name) conf_set_##name
#define CONF_SET_UINT_CLIP(name) conf_set_##name
#define CONF_SET_UINT_AUTO(name) conf_set_##name
#define CONF_SET_SINT(name) conf_set_##name
#define CONF_SET_LIMIT(name) conf_set_##name
#define CONF_SET_LETTERS(name) NULL
#define CONF_SET_STRING(name) NULL
#define CONF_SET_LG_ALIAS(name) conf_set_##name
#define CONF_GET_BOOL(name) conf_get_##name
#define CONF_GET_CHOICE(name) conf_get_##name
#define CONF_GET_UINT(name) conf_get_##name
#define CONF_GET_UINT_CLIP(name) conf_get_##name
#define CONF_GET_UINT_AUTO(name) conf_get_##name
#define CONF_GET_SINT(name) conf_get_##name
#define CONF_GET_LIMIT(name) conf_get_##name
#define CONF_GET_LETTERS(name) NULL
#define CONF_GET_STRING(name) NULL
#define CONF_GET_LG_ALIAS(name) NULL
#define CONF_BUF_BOOL(name) NULL
#define CONF_BUF_CHOICE(name) NULL
#define CONF_BUF_UINT(name) NULL
#define CONF_BUF_UINT_CLIP(name) NULL
#define CONF_BUF_UINT_AUTO(name) NULL
#define CONF_BUF_SINT(name) NULL
#define CONF_BUF_LIMIT(name) conf_text_##name
#define CONF_BUF_LETTERS(name) opt_##name
#define CONF_BUF_STRING(name) opt_##name
#define CONF_BUF_LG_ALIAS(name) NULL
#define CONF_SET_FXP(name) conf_set_##name
#define CONF_GET_FXP(name) conf_get_##name
#define CONF_BUF_FXP(name) conf_text_##name
#define CONF_SET_RANGES(name) NULL
#define CONF_GET_RANGES(name) NULL
#define CONF_BUF_RANGES(name) NULL
#define CONF_RANGES_OF(kind, name) CONF_RANGES_OF_##kind(name)
#define CONF_RANGES_OF_RANGES(name) &opt_##name
#define CONF_RANGES_OF_BOOL(name) NULL
#define CONF_RANGES_OF_CHOICE(name) NULL
#define CONF_RANGES_OF_UINT(name) NULL
#define CONF_RANGES_OF_UINT_CLIP(name) NULL
#define CONF_RANGES_OF_UINT_AUTO(name) NULL
#define CONF_RANGES_OF_SINT(name) NULL
#define CONF_RANGES_OF_LIMIT(name) NULL
#define CONF_RANGES_OF_LETTERS(name) NULL
#define CONF_RANGES_OF_STRING(name) NULL
#define CONF_RANGES_OF_LG_ALIAS(name) NULL
#define CONF_RANGES_OF_FXP(name) NULL
#define CONF_DESCRIBE(name_, kind_, ctype_, dflt_, min_, max_, values_, doc_)           \
	[CONF_ID_##name_] = {                                                             \
		.name = #name_,                                                           \
		.kind = CONF_KIND_##kind_,                                                \
		.ctype = #ctype_,                                                         \
		.min = (uintmax_t)(min_),                                                 \
		.max = (uintmax_t)(max_),                                                 \
		.values = conf_values_##name_,                                            \
		.set = CONF_SET_##kind_(name_),                                           \
		.get = CONF_GET_##kind_(name_),                                           \
		.text = CONF_BUF_##kind_(name_),                                          \
		.ranges = CONF_RANGES_OF(kind_, name_),                                   \
		.doc = doc_,                                                              \
	},
const conf_option_t conf_options[CONF_NALL] = {CONF_ALL_OPTIONS(CONF_DESCRIBE)};
#undef CONF_DESCRIBE

void
conf_reset_defaults(void)
{
#define CONF_RESET(name, kind, ctype, dflt, min, max, values, doc)                       \
	CONF_RESET_##kind(name, dflt)
#define CONF_RESET_BOOL(name, dflt) opt_##name = dflt;
#define CONF_RESET_CHOICE(name, dflt) opt_##name = dflt;
#define CONF_RESET_UINT(name, dflt) opt_##name = dflt;
#define CONF_RESET_UINT_CLIP(name, dflt) opt_##name = dflt;
#define CONF_RESET_UINT_AUTO(name, dflt) opt_##name = dflt;
#define CONF_RESET_SINT(name, dflt) opt_##name = dflt;
#define CONF_RESET_LIMIT(name, dflt) conf_set_##name(dflt);
#define CONF_RESET_LETTERS(name, dflt) memcpy(opt_##name, dflt, sizeof(dflt));
#define CONF_RESET_STRING(name, dflt) memcpy(opt_##name, dflt, sizeof(dflt));
#define CONF_RESET_LG_ALIAS(name, dflt)
#define CONF_RESET_FXP(name, dflt) conf_set_##name(dflt);
#define CONF_RESET_RANGES(name, dflt) opt_##name.n = 0;
	CONF_ALL_OPTIONS(CONF_RESET)
#undef CONF_RESET
}

/* ------------------------------------------------------------ values */

/*
 * Reads v[0..vlen) as leading blanks, an optional sign and digits in base 0
 * (decimal, 0x hex, 0 octal), nothing after them.  0, or EINVAL when that
 * is not the whole of v or the digits overflow uintmax_t.
 */
static int
conf_parse_magnitude(const char *v, size_t vlen, bool *negative, uintmax_t *magnitude)
{
	const char *p = v, *end = v + vlen;
	while (p < end && (*p == ' ' || (*p >= '\t' && *p <= '\r')))
		p++;
	*negative = false;
	if (p < end && (*p == '+' || *p == '-'))
		*negative = *p++ == '-';
	unsigned base = 10;
	if (p < end && *p == '0') {
		base = 8;
		if (end - p >= 3 && (p[1] == 'x' || p[1] == 'X') &&
		    ((p[2] >= '0' && p[2] <= '9') || ((p[2] | 0x20) >= 'a' && (p[2] | 0x20) <= 'f'))) {
			base = 16;
			p += 2;
		}
	}
	const char *digits = p;
	uintmax_t value = 0;
	for (; p < end; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')
			d = (unsigned)((*p | 0x20) - 'a' + 10);
		else
			break;
		if (d >= base)
			break;
		if (value > (UINTMAX_MAX - d) / base)
			return EINVAL; /* overflow, as strtoumax's ERANGE */
		value = value * base + d;
	}
	if (p == digits || p != end)
		return EINVAL;
	*magnitude = value;
	return 0;
}

int
conf_parse_uint(const char *v, size_t vlen, uintmax_t min, uintmax_t max, bool clip,
                uintmax_t *out)
{
	bool negative;
	uintmax_t value;
	int err = conf_parse_magnitude(v, vlen, &negative, &value);
	if (err != 0)
		return err;
	if (negative)
		value = -value; /* strtoumax's rule: "-1" is UINTMAX_MAX */
	if (value < min || value > max) {
		if (!clip)
			return ERANGE;
		value = value < min ? min : max;
	}
	*out = value;
	return 0;
}

int
conf_parse_bytes(const char *v, size_t vlen, uintmax_t min, uintmax_t max, uintmax_t *out)
{
	unsigned shift = 0;
	if (vlen > 0) {
		char last = (char)(v[vlen - 1] | 0x20);
		shift = last == 'k' ? 10 : last == 'm' ? 20 : last == 'g' ? 30 : 0;
	}
	if (shift != 0)
		vlen--;
	uintmax_t value;
	int err = conf_parse_uint(v, vlen, 0, UINTMAX_MAX, false, &value);
	if (err != 0)
		return err;
	if (value > (UINTMAX_MAX >> shift))
		return ERANGE;
	value <<= shift;
	if (value < min || value > max)
		return ERANGE;
	*out = value;
	return 0;
}

int
conf_parse_int(const char *v, size_t vlen, intmax_t min, intmax_t max, intmax_t *out)
{
	bool negative;
	uintmax_t magnitude;
	int err = conf_parse_magnitude(v, vlen, &negative, &magnitude);
	if (err != 0)
		return err;
	if (magnitude > (uintmax_t)INTMAX_MAX + (negative ? 1 : 0))
		return ERANGE;
	intmax_t value;
	if (!negative)
		value = (intmax_t)magnitude;
	else if (magnitude == (uintmax_t)INTMAX_MAX + 1)
		value = INTMAX_MIN;
	else
		value = -(intmax_t)magnitude;
	if (value < min || value > max)
		return ERANGE;
	*out = value;
	return 0;
}

static bool
conf_value_is(const char *v, size_t vlen, const char *word)
{
	return strlen(word) == vlen && memcmp(v, word, vlen) == 0;
}

/* Index of v in the NULL-terminated names, or -1. */
static int
conf_value_index(const char *const *names, const char *v, size_t vlen)
{
	for (int i = 0; names[i] != NULL; i++) {
		if (conf_value_is(v, vlen, names[i]))
			return i;
	}
	return -1;
}

/* Adds the accepted letters of v not yet in buf (size bytes). */
static void
conf_add_letters(char *buf, size_t size, const char *accepted, const char *v, size_t vlen)
{
	size_t len = strlen(buf);
	for (size_t i = 0; i < vlen; i++) {
		if (strchr(accepted, v[i]) == NULL || strchr(buf, v[i]) != NULL)
			continue;
		if (len + 1 < size) {
			buf[len++] = v[i];
			buf[len] = '\0';
		}
	}
}

/*
 * Parses v[0..vlen) as jemalloc's fixed-point text: digits (an integer part
 * below 65536), optionally a point and more digits (the first 8 count).
 * 0 or EINVAL.
 */
int
conf_parse_fxp(const char *v, size_t vlen, uint32_t *out)
{
	const char *p = v, *end = v + vlen;
	uint64_t integer = 0;
	if (p == end || *p < '0' || *p > '9')
		return EINVAL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		integer = integer * 10 + (uint64_t)(*p - '0');
		if (integer >= ((uint64_t)1 << 16))
			return EINVAL;
	}
	uint64_t frac = 0, scale = 1;
	if (p < end && *p == '.') {
		p++;
		if (p == end || *p < '0' || *p > '9')
			return EINVAL;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (scale < 100000000) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		}
	}
	if (p != end)
		return EINVAL;
	*out = (uint32_t)((integer << 16) + (frac << 16) / scale); /* truncated, as jemalloc */
	return 0;
}

/* Length of the number at p[0..end) as strtoumax would read it: blanks, a
 * sign, then the digits of its base (0x hex, leading-0 octal, decimal). */
static size_t
conf_number_length(const char *p, const char *end)
{
	const char *q = p;
	while (q < end && (*q == ' ' || (*q >= '\t' && *q <= '\r')))
		q++;
	if (q < end && (*q == '+' || *q == '-'))
		q++;
	unsigned base = 10;
	if (q < end && *q == '0') {
		base = 8;
		if (end - q >= 3 && (q[1] | 0x20) == 'x' &&
		    ((q[2] >= '0' && q[2] <= '9') || ((q[2] | 0x20) >= 'a' && (q[2] | 0x20) <= 'f'))) {
			base = 16;
			q += 2;
		}
	}
	for (; q < end; q++) {
		unsigned d = *q >= '0' && *q <= '9' ? (unsigned)(*q - '0')
		           : (*q | 0x20) >= 'a' && (*q | 0x20) <= 'f' ? (unsigned)((*q | 0x20) - 'a' + 10)
		                                                      : 99;
		if (d >= base)
			break;
	}
	return (size_t)(q - p);
}

/* One number of a RANGES segment at *pp, followed by `stop` (or, for stop
 * '\0', by anything: an optional '|' is consumed and the rest is left for
 * the next segment, jemalloc's rule).  Advances *pp past it. */
static bool
conf_scan_number(const char **pp, const char *end, char stop, uintmax_t *out)
{
	const char *p = *pp;
	size_t len = conf_number_length(p, end);
	if (conf_parse_uint(p, len, 0, UINTMAX_MAX, false, out) != 0)
		return false;
	p += len;
	if (stop != '\0') {
		if (p == end || *p != stop)
			return false;
		p++;
	} else if (p < end && *p == '|') {
		p++;
	}
	*pp = p;
	return true;
}

/*
 * Applies a RANGES value (jemalloc's malloc_conf_multi_sizes_next rules):
 * segments are added one by one; 0, or EDOM ("Invalid settings for") at the
 * first bad one, with the earlier ones kept.
 */
static int
conf_apply_ranges(const conf_option_t *opt, const char *v, size_t vlen)
{
	conf_ranges_t *ranges = opt->ranges;
	if (opt->values[0] != NULL && conf_value_is(v, vlen, opt->values[0])) {
		ranges->n = 0;
		return 0;
	}
	const char *p = v, *end = v + vlen;
	do {
		uintmax_t start, last, value;
		if (!conf_scan_number(&p, end, '-', &start) ||
		    !conf_scan_number(&p, end, ':', &last) ||
		    !conf_scan_number(&p, end, '\0', &value) || value < opt->min ||
		    value > opt->max || ranges->n == CONF_RANGES_MAX)
			return EDOM;
		ranges->r[ranges->n++] = (struct conf_range){
			.start = (size_t)start, .end = (size_t)last, .value = (size_t)value};
	} while (p < end);
	return 0;
}

/*
 * Applies one value to an option: 0, EINVAL ("Invalid conf value"),
 * ERANGE ("Out-of-range conf value") or EDOM ("Invalid settings for").
 */
static int
conf_apply(const conf_option_t *opt, const char *v, size_t vlen)
{
	uintmax_t value;
	int index;
	switch (opt->kind) {
	case CONF_KIND_BOOL:
		if (conf_value_is(v, vlen, "true"))
			opt->set(1);
		else if (conf_value_is(v, vlen, "false"))
			opt->set(0);
		else
			return EINVAL;
		return 0;
	case CONF_KIND_CHOICE:
		index = conf_value_index(opt->values, v, vlen);
		if (index < 0)
			return EINVAL;
		opt->set((uintmax_t)index);
		return 0;
	case CONF_KIND_UINT_AUTO:
		if (conf_value_is(v, vlen, "default")) {
			opt->set(0);
			return 0;
		}
		/* fall through */
	case CONF_KIND_UINT:
	case CONF_KIND_UINT_CLIP:
	case CONF_KIND_LG_ALIAS: {
		bool clip = opt->kind == CONF_KIND_UINT_CLIP || opt->kind == CONF_KIND_LG_ALIAS;
		int err = conf_parse_uint(v, vlen, opt->min, opt->max, clip, &value);
		if (err == 0)
			opt->set(value);
		return err;
	}
	case CONF_KIND_SINT: {
		intmax_t signed_value;
		int err = conf_parse_int(v, vlen, (intmax_t)opt->min, (intmax_t)opt->max,
		                         &signed_value);
		if (err == 0)
			opt->set((uintmax_t)signed_value);
		return err;
	}
	case CONF_KIND_LIMIT: {
		if (conf_value_is(v, vlen, "auto")) {
			opt->set(CONF_LIMIT_AUTO);
			return 0;
		}
		if (conf_value_is(v, vlen, "off")) {
			opt->set(CONF_LIMIT_OFF);
			return 0;
		}
		int err = conf_parse_bytes(v, vlen, opt->min, opt->max, &value);
		if (err == 0)
			opt->set(value);
		return err;
	}
	case CONF_KIND_LETTERS:
		conf_add_letters(opt->text, (size_t)opt->max, opt->values[0], v, vlen);
		return 0;
	case CONF_KIND_STRING:
		if (vlen >= opt->max)
			return ERANGE;
		memcpy(opt->text, v, vlen);
		opt->text[vlen] = '\0';
		return 0;
	case CONF_KIND_FXP: {
		uint32_t fxp;
		if (opt->values[0] != NULL && conf_value_is(v, vlen, opt->values[0])) {
			opt->set(CONF_FXP_MINUS_ONE);
			return 0;
		}
		if (conf_parse_fxp(v, vlen, &fxp) != 0 || fxp > opt->max)
			return EINVAL;
		opt->set(fxp);
		return 0;
	}
	case CONF_KIND_RANGES:
		return conf_apply_ranges(opt, v, vlen);
	}
	return EINVAL;
}

static const conf_option_t *
conf_lookup(const char *k, size_t klen)
{
	for (size_t i = 0; i < CONF_NALL; i++) {
		if (conf_value_is(k, klen, conf_options[i].name))
			return &conf_options[i];
	}
	return NULL;
}

/* ------------------------------------------------------------ the parser */

static bool
conf_is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

struct conf_pair {
	const char *k, *v;
	size_t klen, vlen;
};

/*
 * Reads the pair at *optsp and advances past it (and its comma).  Returns
 * false at the end of the string or on a syntax error, which it reports
 * unless quiet.
 */
static bool
conf_next(const char **optsp, struct conf_pair *pair, bool quiet)
{
	const char *p = *optsp;
	if (*p == '\0')
		return false;
	pair->k = p;
	while (conf_is_key_char(*p))
		p++;
	if (*p != ':') {
		if (!quiet)
			msg_error(*p == '\0' ? "Conf string ends with key\n"
			                     : "Malformed conf string\n");
		return false;
	}
	pair->klen = (size_t)(p - pair->k);
	pair->v = ++p;
	while (*p != ',' && *p != '\0')
		p++;
	pair->vlen = (size_t)(p - pair->v);
	if (*p == ',') {
		p++;
		if (*p == '\0' && !quiet)
			msg_error("Conf string ends with comma\n");
	}
	*optsp = p;
	return true;
}

/* How confirm_conf names each source, in conf_source order. */
static const char *const conf_source_names[CONF_NSOURCES] = {
	"string compiled into strata",
	"string pointed to by the global variable malloc_conf",
	"target name of the symbolic link /etc/malloc.conf",
	"value of the environment variable MALLOC_CONF",
	"string pointed to by the global variable malloc_conf_2_conf_harder",
};

static bool
conf_is_experimental(const char *k, size_t klen)
{
	static const char prefix[] = "experimental_";
	return klen >= sizeof(prefix) - 1 && memcmp(k, prefix, sizeof(prefix) - 1) == 0;
}

/* The first pass: only confirm_conf, silently. */
static void
conf_parse_confirm(const char *opts)
{
	const conf_option_t *confirm = &conf_options[CONF_ID_confirm_conf];
	struct conf_pair pair;
	while (conf_next(&opts, &pair, true)) {
		if (conf_value_is(pair.k, pair.klen, confirm->name))
			conf_apply(confirm, pair.v, pair.vlen);
	}
}

/* The second pass over one source; returns whether any pair was invalid. */
static bool
conf_parse_string(const char *opts)
{
	bool had_error = false;
	struct conf_pair pair;
	while (conf_next(&opts, &pair, false)) {
		const conf_option_t *opt = conf_lookup(pair.k, pair.klen);
		const char *what = NULL, *whose = "";
		if (opt == NULL) {
			what = "Invalid conf pair";
		} else {
			int err = conf_apply(opt, pair.v, pair.vlen);
			if (err == ERANGE)
				what = "Out-of-range conf value";
			else if (err == EDOM) {
				what = "Invalid settings for ";
				whose = opt->name;
			} else if (err != 0)
				what = "Invalid conf value";
		}
		if (what != NULL) {
			msg_error("%s%s: %.*s:%.*s\n", what, whose, (int)pair.klen, pair.k,
			          (int)pair.vlen, pair.v);
			if (!conf_is_experimental(pair.k, pair.klen))
				had_error = true;
		} else if (opt_confirm_conf) {
			msg_error("-- Set conf value: %.*s:%.*s\n", (int)pair.klen, pair.k,
			          (int)pair.vlen, pair.v);
		}
	}
	return had_error;
}

/*
 * Options that imply others (jemalloc's rules, plus strata's default ring):
 * prof_leak_error implies prof_leak; prof_leak turns the profiler on and
 * dumps at exit; without the profiler there is no recent-allocation ring.
 */
static void
conf_derive(void)
{
	if (opt_prof_leak_error)
		opt_prof_leak = true;
	if (opt_prof_leak) {
		opt_prof = true;
		opt_prof_final = true;
	}
	if (!opt_prof)
		opt_prof_recent_alloc_max = 0;
}

void
conf_parse_sources(const char *const sources[CONF_NSOURCES])
{
	conf_reset_defaults();
	for (unsigned i = 0; i < CONF_NSOURCES; i++) {
		if (sources[i] != NULL)
			conf_parse_confirm(sources[i]);
	}
	bool had_error = false;
	for (unsigned i = 0; i < CONF_NSOURCES; i++) {
		if (opt_confirm_conf) {
			msg_error("malloc_conf #%u (%s): \"%s\"\n", i + 1, conf_source_names[i],
			          sources[i] != NULL ? sources[i] : "");
		}
		if (sources[i] != NULL && conf_parse_string(sources[i]))
			had_error = true;
		if (had_error && opt_abort_conf)
			msg_fatal("Abort (abort_conf:true) on invalid conf value (see above).\n");
	}
	conf_derive();
}

const char *
conf_read_symlink(const char *path, char buf[CONF_LINK_BUFSIZE])
{
	int saved_errno = errno;
	ssize_t len = readlink(path, buf, CONF_LINK_BUFSIZE - 1);
	if (len < 0) {
		errno = saved_errno;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

const char *conf_source_text[CONF_NSOURCES];

void
conf_init(void)
{
	static char link[CONF_LINK_BUFSIZE];
	const char *sources[CONF_NSOURCES] = {
		[CONF_SOURCE_BUILTIN] = config_malloc_conf,
		[CONF_SOURCE_GLOBAL] = malloc_conf,
		[CONF_SOURCE_SYMLINK] = conf_read_symlink("/etc/malloc.conf", link),
		[CONF_SOURCE_ENV] = secure_getenv("MALLOC_CONF"),
		[CONF_SOURCE_HARDER] = malloc_conf_2_conf_harder,
	};
	memcpy(conf_source_text, sources, sizeof(sources));
	conf_parse_sources(sources);
}
