/*
 * fuzz_conf.c — fuzzing of the MALLOC_CONF parser, src/conf.c's
 * conf_parse_sources() (docs/design.md, "Fuzzing").
 *
 * The input is up to five conf strings, one per source (the first byte says
 * which sources are present, the rest is split at NUL bytes), parsed as
 * strata parses them at start-up.  The messages are captured through the
 * malloc_message hook and compared with what a tokenizer written from
 * jemalloc's rules (docs/compat.md, "MALLOC_CONF syntax and messages") expects, source by
 * source and in order:
 *   - a key of [A-Za-z0-9_] ended by ':', then a value up to the next ','
 *     or the end; a key that ends the string gives "Conf string ends with
 *     key", another character "Malformed conf string", and either ends the
 *     source; a ',' that ends it gives "Conf string ends with comma";
 *   - an unknown key gives "Invalid conf pair: k:v"; a known one gives
 *     nothing, or one of "Invalid conf value: k:v", "Out-of-range conf
 *     value: k:v", "Invalid settings for <name>: k:v" (exactly which one
 *     is checked for booleans, named values and strings); with
 *     confirm_conf:true, each source is announced ("malloc_conf #n (...)")
 *     and each accepted pair confirmed ("-- Set conf value: k:v"); as in
 *     jemalloc, a first pass reads confirm_conf alone, and the second
 *     applies it again where it stands.
 * Every message starts with "<strata>: " and no other message may appear.
 * After parsing, every option holds a value its row allows (a boolean
 * 0 or 1, a named value's index, an integer in [min, max]), and a boolean,
 * named-value or string option the last value accepted for it.
 *
 * Deny list: the key abort_conf is renamed (abort_cong, an unknown key):
 * with abort_conf:true any invalid pair aborts the process by design.
 *
 * The parser only sets the opt_* globals; the harness never allocates
 * through strata, so no option it sets is ever used.
 */
#include <errno.h>
#include <stdarg.h>

#include "conf.h"
#include "fuzz/fuzz_util.h"

#define CONF_INPUT_MAX 2048
#define MAX_MSGS 4096
#define PREFIX "<strata>: "

static char msgs[MAX_MSGS][CONF_INPUT_MAX + 256];
static unsigned nmsgs;

static void
capture(void *cbopaque, const char *s)
{
	(void)cbopaque;
	FUZZ_REQUIRE(nmsgs < MAX_MSGS, "too many messages");
	size_t n = strlen(s);
	FUZZ_REQUIRE(n < sizeof(msgs[0]), "message of %zu bytes", n);
	memcpy(msgs[nmsgs++], s, n + 1);
}

/* ------------------------------------------------------------ the oracle */

static unsigned next_msg;

/* The last accepted value of each boolean, named-value and string option. */
static const char *last_value[CONF_NALL];
static size_t last_len[CONF_NALL];

/* The next message is PREFIX followed by the formatted text. */
static void
expect_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
expect_msg(const char *fmt, ...)
{
	char want[sizeof(msgs[0])];
	size_t n = (size_t)snprintf(want, sizeof(want), "%s", PREFIX);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(want + n, sizeof(want) - n, fmt, ap);
	va_end(ap);
	FUZZ_REQUIRE(next_msg < nmsgs, "missing message: %s", want);
	FUZZ_REQUIRE(strcmp(msgs[next_msg], want) == 0, "message %u: got \"%s\", want \"%s\"",
	             next_msg, msgs[next_msg], want);
	next_msg++;
}

static bool
is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static const conf_option_t *
lookup(const char *k, size_t klen)
{
	for (size_t i = 0; i < CONF_NALL; i++) {
		if (strlen(conf_options[i].name) == klen && memcmp(conf_options[i].name, k, klen) == 0)
			return &conf_options[i];
	}
	return NULL;
}

static bool
value_is(const char *v, size_t vlen, const char *word)
{
	return strlen(word) == vlen && memcmp(v, word, vlen) == 0;
}

/* For the kinds where it is simple: 0 accepted, EINVAL, ERANGE; else -1. */
static int
expected_result(const conf_option_t *opt, const char *v, size_t vlen)
{
	switch (opt->kind) {
	case CONF_KIND_BOOL:
		return value_is(v, vlen, "true") || value_is(v, vlen, "false") ? 0 : EINVAL;
	case CONF_KIND_CHOICE:
		for (const char *const *w = opt->values; *w != NULL; w++) {
			if (value_is(v, vlen, *w))
				return 0;
		}
		return EINVAL;
	case CONF_KIND_STRING:
		return vlen >= opt->max ? ERANGE : 0;
	default:
		return -1;
	}
}

/* One pair of a known key: what the parser printed for it, if anything. */
static void
expect_pair_result(const conf_option_t *opt, const char *k, size_t klen, const char *v,
                   size_t vlen, bool confirm)
{
	static const char *const forms[] = {"Invalid conf value", "Out-of-range conf value",
	                                    "Invalid settings for "};
	static const int codes[] = {EINVAL, ERANGE, EDOM};
	int want = expected_result(opt, v, vlen);
	char text[sizeof(msgs[0])];
	for (unsigned f = 0; f < 3 && next_msg < nmsgs; f++) {
		snprintf(text, sizeof(text), "%s%s%s: %.*s:%.*s\n", PREFIX, forms[f],
		         f == 2 ? opt->name : "", (int)klen, k, (int)vlen, v);
		if (strcmp(msgs[next_msg], text) == 0) {
			FUZZ_REQUIRE(want == -1 || want == codes[f], "%s for a value that is %s",
			             forms[f], want == 0 ? "valid" : "invalid another way");
			next_msg++;
			return;
		}
	}
	FUZZ_REQUIRE(want <= 0, "no message for the invalid pair %.*s:%.*s", (int)klen, k,
	             (int)vlen, v);
	if (want == 0) {
		last_value[opt - conf_options] = v;
		last_len[opt - conf_options] = vlen;
	}
	if (confirm)
		expect_msg("-- Set conf value: %.*s:%.*s\n", (int)klen, k, (int)vlen, v);
}

/* Syntax outcomes of reading one pair. */
enum pair_read { PAIR_OK, PAIR_END, PAIR_ENDS_WITH_KEY, PAIR_MALFORMED };

/* Reads the pair at *pp as jemalloc does; *comma_ends: a ',' ended the string. */
static enum pair_read
pair_next(const char **pp, const char **k, size_t *klen, const char **v, size_t *vlen,
          bool *comma_ends)
{
	const char *p = *pp;
	if (*p == '\0')
		return PAIR_END;
	*k = p;
	while (is_key_char(*p))
		p++;
	if (*p != ':')
		return *p == '\0' ? PAIR_ENDS_WITH_KEY : PAIR_MALFORMED;
	*klen = (size_t)(p - *k);
	*v = ++p;
	while (*p != ',' && *p != '\0')
		p++;
	*vlen = (size_t)(p - *v);
	*comma_ends = *p == ',' && p[1] == '\0';
	*pp = p + (*p == ',');
	return PAIR_OK;
}

/* confirm_conf as the pair k:v leaves it (pairs of other keys, or invalid
 * values, leave it as it was). */
static bool
confirm_after(bool confirm, const char *k, size_t klen, const char *v, size_t vlen)
{
	if (!value_is(k, klen, "confirm_conf"))
		return confirm;
	if (value_is(v, vlen, "true"))
		return true;
	return value_is(v, vlen, "false") ? false : confirm;
}

/* The first pass: confirm_conf alone, silently, over every source. */
static bool
confirm_first_pass(const char *const sources[CONF_NSOURCES])
{
	bool confirm = false, comma_ends;
	const char *k, *v;
	size_t klen, vlen;
	for (unsigned i = 0; i < CONF_NSOURCES; i++) {
		const char *p = sources[i];
		while (p != NULL && pair_next(&p, &k, &klen, &v, &vlen, &comma_ends) == PAIR_OK)
			confirm = confirm_after(confirm, k, klen, v, vlen);
	}
	return confirm;
}

/* The second pass over one source; confirm_conf changes as its pairs are
 * applied (as in jemalloc). */
static void
expect_source(const char *s, bool *confirm)
{
	const char *p = s, *k, *v;
	size_t klen, vlen;
	bool comma_ends;
	for (;;) {
		switch (pair_next(&p, &k, &klen, &v, &vlen, &comma_ends)) {
		case PAIR_END:
			return;
		case PAIR_ENDS_WITH_KEY:
			expect_msg("Conf string ends with key\n");
			return;
		case PAIR_MALFORMED:
			expect_msg("Malformed conf string\n");
			return;
		case PAIR_OK:
			break;
		}
		if (comma_ends)
			expect_msg("Conf string ends with comma\n");
		*confirm = confirm_after(*confirm, k, klen, v, vlen);
		const conf_option_t *opt = lookup(k, klen);
		if (opt == NULL)
			expect_msg("Invalid conf pair: %.*s:%.*s\n", (int)klen, k, (int)vlen, v);
		else
			expect_pair_result(opt, k, klen, v, vlen, *confirm);
	}
}

/* ------------------------------------------------------------ the values */

static void
check_option_values(void)
{
	for (size_t i = 0; i < CONF_NALL; i++) {
		const conf_option_t *o = &conf_options[i];
		if (o->get == NULL)
			continue;
		uintmax_t v = o->get();
		switch (o->kind) {
		case CONF_KIND_BOOL:
			FUZZ_REQUIRE(v <= 1, "%s = %ju", o->name, v);
			break;
		case CONF_KIND_CHOICE: {
			size_t n = 0;
			while (o->values[n] != NULL)
				n++;
			FUZZ_REQUIRE(v < n, "%s = %ju of %zu values", o->name, v, n);
			break;
		}
		case CONF_KIND_UINT:
		case CONF_KIND_UINT_CLIP:
			FUZZ_REQUIRE(v >= o->min && v <= o->max, "%s = %ju", o->name, v);
			break;
		case CONF_KIND_UINT_AUTO:
			FUZZ_REQUIRE(v == 0 || (v >= o->min && v <= o->max), "%s = %ju", o->name, v);
			break;
		case CONF_KIND_SINT:
			FUZZ_REQUIRE((intmax_t)v >= (intmax_t)o->min && (intmax_t)v <= (intmax_t)o->max,
			             "%s = %jd", o->name, (intmax_t)v);
			break;
		case CONF_KIND_LIMIT:
			FUZZ_REQUIRE(v == CONF_LIMIT_AUTO || v == CONF_LIMIT_OFF ||
			                 (v >= o->min && v <= o->max),
			             "%s = %ju", o->name, v);
			break;
		default:
			break;
		}
	}
}

/* The last accepted value won, except where an option implies another
 * (conf_derive: prof_leak_error, prof_leak turn prof, prof_leak and
 * prof_final on). */
static void
check_last_wins(void)
{
	for (size_t i = 0; i < CONF_NALL; i++) {
		const conf_option_t *o = &conf_options[i];
		const char *v = last_value[i];
		size_t vlen = last_len[i];
		if (v == NULL)
			continue;
		if (o->kind == CONF_KIND_BOOL) {
			bool want = value_is(v, vlen, "true");
			bool derived = strcmp(o->name, "prof") == 0 ||
			               strcmp(o->name, "prof_leak") == 0 ||
			               strcmp(o->name, "prof_final") == 0;
			FUZZ_REQUIRE(o->get() == want || (derived && !want), "%s is %ju, last %.*s",
			             o->name, o->get(), (int)vlen, v);
		} else if (o->kind == CONF_KIND_CHOICE) {
			FUZZ_REQUIRE(value_is(v, vlen, o->values[o->get()]), "%s is %s, last %.*s",
			             o->name, o->values[o->get()], (int)vlen, v);
		} else if (o->kind == CONF_KIND_STRING) {
			FUZZ_REQUIRE(value_is(v, vlen, o->text), "%s is %s, last %.*s", o->name,
			             o->text, (int)vlen, v);
		}
	}
}

/* ------------------------------------------------------------ the harness */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > CONF_INPUT_MAX)
		return 0;
	static char text[CONF_INPUT_MAX + CONF_NSOURCES];
	uint8_t present = data[0];
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	/* Every source: memmem, as the text holds NULs between them. */
	for (char *a = text; (a = memmem(a, (size_t)(text + size - 1 - a), "abort_conf", 10)) != NULL;)
		a[9] = 'g';
	const char *sources[CONF_NSOURCES] = {0};
	const char *p = text, *end = text + size - 1;
	for (unsigned i = 0; i < CONF_NSOURCES && p <= end; i++) {
		if (!(present & (1u << i)))
			continue;
		sources[i] = p;
		p += strlen(p) + 1;
	}
	nmsgs = 0;
	malloc_message = capture;
	conf_parse_sources(sources);
	malloc_message = NULL;

	next_msg = 0;
	memset(last_value, 0, sizeof(last_value));
	bool confirm = confirm_first_pass(sources);
	for (unsigned i = 0; i < CONF_NSOURCES; i++) {
		if (confirm) {
			FUZZ_REQUIRE(next_msg < nmsgs &&
			                 strncmp(msgs[next_msg], PREFIX "malloc_conf #", 23) == 0,
			             "no malloc_conf #%u line", i + 1);
			next_msg++;
		}
		if (sources[i] != NULL)
			expect_source(sources[i], &confirm);
	}
	FUZZ_REQUIRE(next_msg == nmsgs, "unexpected message: %s", msgs[next_msg]);
	check_option_values();
	check_last_wins();
	return 0;
}
