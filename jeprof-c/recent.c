/*
 * recent.c — reads a prof_recent JSON file into the records of recent.h.
 *
 * The whole file is inflated into memory (read_load_file), then walked once
 * with the JSON reader.  Traces are collected as they come and added to the
 * profile only at the end, after mapped_libraries (which strata writes last)
 * has given the mappings, so that every location finds its mapping.
 * Invariants: each key of a record or of the top-level object is read at
 * most once (a duplicate is an error), unknown keys are skipped, and errors
 * inside a record carry "record <i>: " (i its index in the file, from 0).
 */
#include "recent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "json.h"
#include "read.h"

enum recent_top_key {
	RECENT_SAMPLE_INTERVAL,
	RECENT_ALLOC_MAX,
	RECENT_ALLOC,
	RECENT_MAPS,
	RECENT_NTOP_KEYS,
};

static const char *const recent_top_keys[RECENT_NTOP_KEYS] = {
	"sample_interval",
	"recent_alloc_max",
	"recent_alloc",
	"mapped_libraries",
};

/* The fields an allocation and a free both have, in the order of their keys. */
enum recent_event_field {
	RECENT_THREAD_UID,
	RECENT_THREAD_NAME,
	RECENT_TIME,
	RECENT_TRACE,
	RECENT_NEVENT_FIELDS,
};

enum recent_record_key {
	RECENT_SIZE,
	RECENT_USIZE,
	RECENT_RELEASED,
	RECENT_ALLOC_FIRST, /* alloc_<field>, then dalloc_<field> */
	RECENT_DALLOC_FIRST = RECENT_ALLOC_FIRST + RECENT_NEVENT_FIELDS,
	RECENT_NRECORD_KEYS = RECENT_DALLOC_FIRST + RECENT_NEVENT_FIELDS,
};

static const char *const recent_record_keys[RECENT_NRECORD_KEYS] = {
	"size",
	"usize",
	"released",
	"alloc_thread_uid",
	"alloc_thread_name",
	"alloc_time",
	"alloc_trace",
	"dalloc_thread_uid",
	"dalloc_thread_name",
	"dalloc_time",
	"dalloc_trace",
};

#define RECENT_BIT(k) (1u << (k))
#define RECENT_REQUIRED_TOP                                                                        \
	(RECENT_BIT(RECENT_SAMPLE_INTERVAL) | RECENT_BIT(RECENT_ALLOC_MAX) |                       \
	 RECENT_BIT(RECENT_ALLOC))
/* The fields of an event that must be there when it is (not the name). */
#define RECENT_EVENT_REQUIRED(first)                                                               \
	(RECENT_BIT((first) + RECENT_THREAD_UID) | RECENT_BIT((first) + RECENT_TIME) |             \
	 RECENT_BIT((first) + RECENT_TRACE))
#define RECENT_REQUIRED_RECORD                                                                     \
	(RECENT_BIT(RECENT_SIZE) | RECENT_BIT(RECENT_USIZE) | RECENT_BIT(RECENT_RELEASED) |        \
	 RECENT_EVENT_REQUIRED(RECENT_ALLOC_FIRST))
#define RECENT_DALLOC_ANY (((1u << RECENT_NEVENT_FIELDS) - 1) << RECENT_DALLOC_FIRST)

/* A trace read but not yet in the profile: pcs[first, first + n). */
typedef struct recent_trace {
	size_t first, n;
} recent_trace_t;

typedef struct recent_parser {
	recent_t *r;
	json_reader_t json;
	uint32_t source;
	uint64_t *pcs;
	size_t npcs, cappcs;
	recent_trace_t *traces; /* two per record: its alloc_trace, its dalloc_trace */
	size_t captraces;
} recent_parser_t;

void
recent_init(recent_t *r)
{
	memset(r, 0, sizeof(*r));
	profile_init(&r->prof);
}

void
recent_fini(recent_t *r)
{
	profile_fini(&r->prof);
	free(r->recs);
	memset(r, 0, sizeof(*r));
}

/* The index of key in keys[0, n), or -1 for a key this reader skips. */
static int
recent_find_key(json_str_t key, const char *const *keys, int n)
{
	for (int k = 0; k < n; k++)
		if (json_str_eq(key, keys[k]))
			return k;
	return -1;
}

/* Marks key k of keys seen; a second one is an error. */
static int
recent_mark_seen(json_reader_t *j, uint32_t *seen, int k, const char *const *keys)
{
	if (*seen & RECENT_BIT(k))
		return json_fail_at(j, j->p, "duplicate key \"%s\"", keys[k]);
	*seen |= RECENT_BIT(k);
	return 0;
}

/* Fails at at (the object's '{') on the first key of required not seen. */
static int
recent_check_required(json_reader_t *j, const char *at, uint32_t seen, uint32_t required,
		      const char *const *keys, const char *why)
{
	uint32_t missing = required & ~seen;
	if (missing == 0)
		return 0;
	return json_fail_at(j, at, "missing required key \"%s\"%s", keys[__builtin_ctz(missing)],
			    why);
}

/* Whether s is "0x" and 1 to 16 hex digits; *pc is their value. */
static bool
recent_parse_address(json_str_t s, uint64_t *pc)
{
	if (s.len < 3 || s.len > 18 || s.s[0] != '0' || (s.s[1] != 'x' && s.s[1] != 'X'))
		return false;
	char digits[17];
	for (size_t i = 2; i < s.len; i++) {
		char c = s.s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
		digits[i - 2] = c;
	}
	digits[s.len - 2] = '\0';
	*pc = strtoull(digits, NULL, 16);
	return true;
}

static int
recent_parse_trace(recent_parser_t *rp, const char *key, recent_trace_t *t)
{
	json_reader_t *j = &rp->json;
	char element[64];
	snprintf(element, sizeof(element), "%s element", key);
	json_iter_t it;
	bool more;
	int err = json_array_begin(j, &it, key);
	*t = (recent_trace_t){rp->npcs, 0};
	while (err == 0 && (err = json_array_next(j, &it, &more)) == 0 && more) {
		if (json_peek(j) != JSON_STRING)
			return json_fail_not(j, element, "an address string");
		const char *at = j->p;
		json_str_t s;
		uint64_t pc;
		if ((err = json_read_string(j, element, &s)) != 0)
			return err;
		if (!recent_parse_address(s, &pc))
			return json_fail_at(j, at, "%s is not an address string", element);
		mem_grow(&rp->pcs, &rp->cappcs, rp->npcs + 1, sizeof(*rp->pcs));
		rp->pcs[rp->npcs++] = pc;
		t->n++;
	}
	return err;
}

/* Reads the alloc_* or dalloc_* key k of rec (traces: its two traces). */
static int
recent_parse_event_key(recent_parser_t *rp, recent_record_t *rec, recent_trace_t traces[2], int k)
{
	json_reader_t *j = &rp->json;
	const char *key = recent_record_keys[k];
	int e = (k - RECENT_ALLOC_FIRST) / RECENT_NEVENT_FIELDS; /* 0 alloc, 1 dalloc */
	recent_event_t *ev = e == 0 ? &rec->alloc : &rec->dalloc;
	json_str_t name;
	int err;
	switch ((enum recent_event_field)((k - RECENT_ALLOC_FIRST) % RECENT_NEVENT_FIELDS)) {
	case RECENT_THREAD_UID:
		return json_read_uint64(j, key, &ev->thread_uid);
	case RECENT_THREAD_NAME:
		if ((err = json_read_string(j, key, &name)) == 0)
			ev->thread_name = strtab_intern(&rp->r->prof.strs, name.s, name.len);
		return err;
	case RECENT_TIME:
		return json_read_uint64(j, key, &ev->time);
	default:
		return recent_parse_trace(rp, key, &traces[e]);
	}
}

/* What a whole record must satisfy once all its keys are read. */
static int
recent_check_record(json_reader_t *j, const char *at, uint32_t seen, recent_record_t *rec)
{
	const char *const *keys = recent_record_keys;
	int err = recent_check_required(j, at, seen, RECENT_REQUIRED_RECORD, keys, "");
	if (err != 0 || (seen & RECENT_DALLOC_ANY) == 0)
		return err;
	if (!rec->released)
		return json_fail_at(j, at, "dalloc keys in a record that is not released");
	rec->has_dalloc = true;
	return recent_check_required(j, at, seen, RECENT_EVENT_REQUIRED(RECENT_DALLOC_FIRST), keys,
				     " (the record has other dalloc keys)");
}

static int
recent_parse_record_keys(recent_parser_t *rp, recent_record_t *rec, recent_trace_t traces[2],
			 uint32_t *seen)
{
	json_reader_t *j = &rp->json;
	json_iter_t it;
	json_str_t key;
	bool more;
	int err = json_object_begin(j, &it, "the record");
	while (err == 0 && (err = json_object_next(j, &it, &key, &more)) == 0 && more) {
		int k = recent_find_key(key, recent_record_keys, RECENT_NRECORD_KEYS);
		if (k < 0) {
			err = json_skip_value(j, "the record");
			continue;
		}
		if ((err = recent_mark_seen(j, seen, k, recent_record_keys)) != 0)
			break;
		const char *name = recent_record_keys[k];
		if (k == RECENT_SIZE)
			err = json_read_uint64(j, name, &rec->size);
		else if (k == RECENT_USIZE)
			err = json_read_uint64(j, name, &rec->usize);
		else if (k == RECENT_RELEASED)
			err = json_read_bool(j, name, &rec->released);
		else
			err = recent_parse_event_key(rp, rec, traces, k);
	}
	return err;
}

static int
recent_parse_record(recent_parser_t *rp)
{
	recent_t *r = rp->r;
	json_reader_t *j = &rp->json;
	size_t index = r->nrecs;
	char context[48];
	snprintf(context, sizeof(context), "record %zu", index);
	j->context = context;
	mem_grow(&rp->traces, &rp->captraces, 2 * index + 2, sizeof(*rp->traces));
	recent_trace_t *traces = rp->traces + 2 * index;
	traces[0] = traces[1] = (recent_trace_t){0, 0};
	recent_record_t rec = {0};
	uint32_t seen = 0;
	json_peek(j);
	const char *at = j->p;
	int err = recent_parse_record_keys(rp, &rec, traces, &seen);
	if (err == 0)
		err = recent_check_record(j, at, seen, &rec);
	j->context = NULL;
	if (err == 0) {
		mem_grow(&r->recs, &r->caprecs, r->nrecs + 1, sizeof(*r->recs));
		r->recs[r->nrecs++] = rec;
	}
	return err;
}

static int
recent_parse_records(recent_parser_t *rp)
{
	json_reader_t *j = &rp->json;
	json_iter_t it;
	bool more;
	int err = json_array_begin(j, &it, "recent_alloc");
	while (err == 0 && (err = json_array_next(j, &it, &more)) == 0 && more)
		err = recent_parse_record(rp);
	return err;
}

/* mapped_libraries: the process's /proc/self/maps, read as a heap dump's. */
static int
recent_parse_maps(recent_parser_t *rp)
{
	json_reader_t *j = &rp->json;
	json_peek(j);
	const char *at = j->p;
	json_str_t text;
	int err = json_read_string(j, "mapped_libraries", &text);
	if (err != 0)
		return err;
	diag_t why = {0};
	if (read_mappings_buffer(&rp->r->prof, rp->source, "mapped_libraries", text.s, text.len,
				 &why) != 0)
		return json_fail_at(j, at, "%s", why.msg);
	rp->r->has_maps = true;
	return 0;
}

static int
recent_parse_top_value(recent_parser_t *rp, enum recent_top_key k)
{
	recent_t *r = rp->r;
	json_reader_t *j = &rp->json;
	const char *name = recent_top_keys[k];
	switch (k) {
	case RECENT_SAMPLE_INTERVAL:
		return json_read_uint64(j, name, &r->sample_interval);
	case RECENT_ALLOC_MAX: {
		json_peek(j);
		const char *at = j->p;
		int err = json_read_int64(j, name, &r->recent_alloc_max);
		if (err == 0 && r->recent_alloc_max < -1)
			err = json_fail_at(j, at, "%s is below -1 (unlimited)", name);
		return err;
	}
	case RECENT_ALLOC:
		return recent_parse_records(rp);
	default:
		return recent_parse_maps(rp);
	}
}

static int
recent_parse_top(recent_parser_t *rp)
{
	json_reader_t *j = &rp->json;
	const char *at = j->p;
	json_iter_t it;
	json_str_t key;
	bool more;
	uint32_t seen = 0;
	int err = json_object_begin(j, &it, "the top-level object");
	while (err == 0 && (err = json_object_next(j, &it, &key, &more)) == 0 && more) {
		int k = recent_find_key(key, recent_top_keys, RECENT_NTOP_KEYS);
		if (k < 0)
			err = json_skip_value(j, "the top-level object");
		else if ((err = recent_mark_seen(j, &seen, k, recent_top_keys)) == 0)
			err = recent_parse_top_value(rp, (enum recent_top_key)k);
	}
	if (err == 0)
		err = recent_check_required(j, at, seen, RECENT_REQUIRED_TOP, recent_top_keys, "");
	if (err == 0)
		err = json_expect_end(j);
	return err;
}

/* Refuses what is plainly not a prof_recent file, with a hint when it is a heap profile. */
static int
recent_check_kind(json_reader_t *j)
{
	static const char *const heap_starts[] = {"heap_v2/", "heap profile:", "--- symbol"};
	enum json_kind kind = json_peek(j);
	if (kind == JSON_END)
		return diag_fail(j->d, "%s: empty file, not a prof_recent JSON file", j->name);
	for (size_t i = 0; i < sizeof(heap_starts) / sizeof(heap_starts[0]); i++) {
		size_t n = strlen(heap_starts[i]);
		if ((size_t)(j->end - j->p) >= n && memcmp(j->p, heap_starts[i], n) == 0)
			return diag_fail(j->d,
					 "%s: this is a heap profile, not a prof_recent JSON file: "
					 "drop --recent",
					 j->name);
	}
	if (kind != JSON_OBJECT)
		return json_fail_at(j, j->p, "not a prof_recent JSON file (expected '{')");
	return 0;
}

/*
 * Without mapped_libraries (jemalloc's files), the program named on the
 * command line is taken as mapped at its link addresses: what a non-PIE
 * program's stacks need, and what the perl jeprof assumes too.
 */
static int
recent_map_program(recent_t *r, uint32_t source, const char *program, diag_t *d)
{
	char *path = realpath(program, NULL);
	if (path == NULL) {
		int e = errno;
		diag_fail(d, "%s: %s", program, strerror(e));
		return e;
	}
	profile_mapping_t m = {
		.start = 0,
		.end = UINT64_MAX,
		.path = strtab_intern_cstr(&r->prof.strs, path),
		.exec = true,
	};
	profile_add_mapping(&r->prof, source, &m);
	free(path);
	return 0;
}

static void
recent_add_samples(recent_parser_t *rp)
{
	static const double unused[PROFILE_NVALUES];
	recent_t *r = rp->r;
	for (size_t i = 0; i < r->nrecs; i++) {
		recent_record_t *rec = &r->recs[i];
		recent_event_t *events[2] = {&rec->alloc, rec->has_dalloc ? &rec->dalloc : NULL};
		for (int e = 0; e < 2 && events[e] != NULL; e++) {
			const recent_trace_t *t = &rp->traces[2 * i + (size_t)e];
			events[e]->sample = (uint32_t)r->prof.nsamples;
			profile_add_sample(&r->prof, rp->source, rp->pcs + t->first, t->n, unused);
		}
	}
}

int
recent_read_buffer(recent_t *r, const char *name, const char *buf, size_t len,
		   const char *program, diag_t *d)
{
	recent_parser_t rp = {.r = r};
	mem_grow(&rp.pcs, &rp.cappcs, 1, sizeof(*rp.pcs));
	rp.source = profile_add_source(&r->prof, name, false);
	json_init(&rp.json, name, buf, len, d);
	int err = recent_check_kind(&rp.json);
	if (err == 0)
		err = recent_parse_top(&rp);
	if (err == 0 && !r->has_maps && program != NULL)
		err = recent_map_program(r, rp.source, program, d);
	if (err == 0)
		recent_add_samples(&rp);
	json_fini(&rp.json);
	free(rp.pcs);
	free(rp.traces);
	return err;
}

int
recent_read_file(recent_t *r, const char *path, const char *program, diag_t *d)
{
	char *buf;
	size_t len;
	int err = read_load_file(path, &buf, &len, d);
	if (err != 0)
		return err;
	err = recent_read_buffer(r, path, buf, len, program, d);
	free(buf);
	return err;
}

bool
recent_is_file(const char *path)
{
	gzFile gz = gzopen(path, "rb");
	if (gz == NULL)
		return false;
	char head[64];
	int n = gzread(gz, head, sizeof(head));
	gzclose(gz);
	int i = 0;
	while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r'))
		i++;
	return i < n && head[i] == '{';
}
