/*
 * recent_prog.c — writes prof_recent JSON files as strata's allocator does,
 * from stacks it captures in named functions of its own, for the jeprof
 * --recent tests (tests/check_jeprof_recent.c).  Run by make_recent_data.sh;
 * nothing it writes is committed (addresses change with every build).
 *
 *   recent_prog <dir>
 *
 * writes <dir>/strata.recent.json (strata's compact form, mapped_libraries
 * last), <dir>/pretty.recent.json (the same records with JSON whitespace of
 * every kind between all tokens, every object's keys in reverse order,
 * escaped '/' in mapped_libraries, and unknown keys holding nested values)
 * and <dir>/jemalloc.recent.json (jemalloc's form: no mapped_libraries).
 *
 * Records, oldest first: index, site, size / usize, thread, state
 *   0  recent_small   100 / 112          t0 jp-main  live
 *   1  recent_big     5000 / 5120        t0 jp-main  freed by t1 in worker_release,
 *                                                    1234567 ns later
 *   2  recent_worker  70000 / 73728      t1 unnamed  live
 *   3  recent_small   300 / 320          t0 jp-main  freed by t0 in main_release,
 *                                                    2500 ns later
 *   4  recent_big     48 / 48            t0 jp-main  released, the free not recorded
 *                                                    (jemalloc may write that)
 *   5  recent_outer   1048576 / 1048576  t0 jp-main  live; its first frame is the
 *                                                    inlined recent_inline_helper
 * Allocations are RECENT_GAP_NS apart, from the monotonic time at start.
 * Each capture's call carries a SITE:<function> marker; like strata's, a
 * stack starts at that call (its return address minus one).
 */
#include <execinfo.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FRAMES 64
#define NRECORDS 6
#define RECENT_GAP_NS 1000000

typedef struct trace {
	void *pcs[MAX_FRAMES];
	int n;
} trace_t;

typedef struct event {
	unsigned uid;
	const char *name; /* NULL: an unnamed thread */
	uint64_t time;
	trace_t trace;
} event_t;

typedef struct record {
	unsigned long size, usize;
	bool released, free_recorded;
	event_t alloc, dalloc;
} record_t;

static record_t records[NRECORDS];

/* The stack of capture's caller, innermost first, from the call of capture. */
__attribute__((noinline)) static void
capture(trace_t *t)
{
	void *all[MAX_FRAMES + 1];
	int n = backtrace(all, MAX_FRAMES + 1);
	t->n = n - 1;
	for (int i = 1; i < n; i++)
		t->pcs[i - 1] = all[i];
	t->pcs[0] = (char *)t->pcs[0] - 1;
}

__attribute__((noinline)) void
recent_small(trace_t *t)
{
	capture(t); /* SITE:recent_small */
}

__attribute__((noinline)) void
recent_big(trace_t *t)
{
	capture(t); /* SITE:recent_big */
}

static inline __attribute__((always_inline)) void
recent_inline_helper(trace_t *t)
{
	capture(t); /* SITE:recent_inline_helper */
}

__attribute__((noinline)) void
recent_outer(trace_t *t)
{
	recent_inline_helper(t); /* SITE:recent_outer */
}

__attribute__((noinline)) void
recent_worker(trace_t *t)
{
	capture(t); /* SITE:recent_worker */
}

__attribute__((noinline)) void
worker_release(trace_t *t)
{
	capture(t); /* SITE:worker_release */
}

__attribute__((noinline)) void
main_release(trace_t *t)
{
	capture(t); /* SITE:main_release */
}

static void *
worker_main(void *arg)
{
	(void)arg;
	recent_worker(&records[2].alloc.trace);
	worker_release(&records[1].dalloc.trace);
	return NULL;
}

/* How a file is written. */
typedef struct style {
	const char *space; /* between any two tokens */
	bool reverse;      /* every object's keys last to first */
	bool unknown_keys; /* add keys no reader knows, with nested values */
	bool maps;         /* mapped_libraries */
} style_t;

/* The members of one object being written, each "\"key\":value". */
typedef struct members {
	char *m[16];
	int n;
} members_t;

static char *
format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
format(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		exit(1);
	va_end(ap);
	return s;
}

/* Adds "key": value (value is taken over). */
static void
add(members_t *ms, const style_t *st, const char *key, char *value)
{
	ms->m[ms->n++] = format("\"%s\"%s:%s%s", key, st->space, st->space, value);
	free(value);
}

/* The object or array of the n items, freed, in style's order for objects. */
static char *
join(const style_t *st, char open, char **items, int n, bool object)
{
	size_t cap = 16;
	for (int i = 0; i < n; i++)
		cap += strlen(items[i]) + 2 * strlen(st->space) + 2;
	char *out = malloc(cap);
	if (out == NULL)
		exit(1);
	char *p = out;
	p += sprintf(p, "%c%s", open, st->space);
	for (int k = 0; k < n; k++) {
		int i = object && st->reverse ? n - 1 - k : k;
		p += sprintf(p, "%s%s%s", k > 0 ? "," : "", k > 0 ? st->space : "", items[i]);
		free(items[i]);
	}
	sprintf(p, "%s%c", st->space, open == '{' ? '}' : ']');
	return out;
}

static char *
trace_json(const style_t *st, const trace_t *t)
{
	char *items[MAX_FRAMES];
	for (int i = 0; i < t->n; i++)
		items[i] = format("\"%p\"", t->pcs[i]);
	return join(st, '[', items, t->n, false);
}

static char *
quoted(const char *s, bool escape_slash)
{
	size_t n = strlen(s);
	char *out = malloc(6 * n + 3), *p = out;
	if (out == NULL)
		exit(1);
	*p++ = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\' || (c == '/' && escape_slash))
			p += sprintf(p, "\\%c", c);
		else if (c == '\n')
			p += sprintf(p, "\\n");
		else if (c < 0x20)
			p += sprintf(p, "\\u%04x", c);
		else
			*p++ = (char)c;
	}
	*p++ = '"';
	*p = '\0';
	return out;
}

static void
add_event(members_t *ms, const style_t *st, const char *prefix, const event_t *ev)
{
	char key[32];
	snprintf(key, sizeof(key), "%s_thread_uid", prefix);
	add(ms, st, key, format("%u", ev->uid));
	if (ev->name != NULL) {
		snprintf(key, sizeof(key), "%s_thread_name", prefix);
		add(ms, st, key, quoted(ev->name, false));
	}
	snprintf(key, sizeof(key), "%s_time", prefix);
	add(ms, st, key, format("%" PRIu64, ev->time));
	snprintf(key, sizeof(key), "%s_trace", prefix);
	add(ms, st, key, trace_json(st, &ev->trace));
}

static char *
record_json(const style_t *st, const record_t *r)
{
	members_t ms = {0};
	add(&ms, st, "size", format("%lu", r->size));
	add(&ms, st, "usize", format("%lu", r->usize));
	add(&ms, st, "released", format("%s", r->released ? "true" : "false"));
	add_event(&ms, st, "alloc", &r->alloc);
	if (r->free_recorded)
		add_event(&ms, st, "dalloc", &r->dalloc);
	if (st->unknown_keys)
		add(&ms, st, "future",
		    format("{\"a\":[1,-2.5e-3,true,false,null,"
			   "\"x\\u00e9\\ud83d\\ude00\"],\"b\":{}}"));
	return join(st, '{', ms.m, ms.n, true);
}

static char *
read_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		exit(1);
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	if (buf == NULL)
		exit(1);
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void
write_file(const char *dir, const char *name, const style_t *st, const char *maps)
{
	members_t top = {0};
	char *recs[NRECORDS];
	for (int i = 0; i < NRECORDS; i++)
		recs[i] = record_json(st, &records[i]);
	add(&top, st, "sample_interval", format("524288"));
	add(&top, st, "recent_alloc_max", format("1000"));
	add(&top, st, "recent_alloc", join(st, '[', recs, NRECORDS, false));
	if (st->unknown_keys)
		add(&top, st, "strata_extension", format("[[[]],{\"k\":-0.0}]"));
	if (st->maps)
		add(&top, st, "mapped_libraries", quoted(maps, st->reverse));
	char *text = join(st, '{', top.m, top.n, true);
	char *path = format("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "recent_prog: cannot write %s\n", path);
		exit(1);
	}
	free(path);
	free(text);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: recent_prog <dir>\n");
		return 2;
	}
	static const struct {
		unsigned long size, usize;
		unsigned uid;
		bool released, free_recorded;
		uint64_t lifetime;
	} shape[NRECORDS] = {
		{100, 112, 0, false, false, 0},          {5000, 5120, 0, true, true, 1234567},
		{70000, 73728, 1, false, false, 0},      {300, 320, 0, true, true, 2500},
		{48, 48, 0, true, false, 0},             {1048576, 1048576, 0, false, false, 0},
	};
	uint64_t start = now_ns();
	for (int i = 0; i < NRECORDS; i++) {
		record_t *r = &records[i];
		r->size = shape[i].size;
		r->usize = shape[i].usize;
		r->released = shape[i].released;
		r->free_recorded = shape[i].free_recorded;
		r->alloc = (event_t){
			.uid = shape[i].uid,
			.name = shape[i].uid == 0 ? "jp-main" : NULL,
			.time = start + (uint64_t)i * RECENT_GAP_NS,
		};
		r->dalloc.time = r->alloc.time + shape[i].lifetime;
	}
	records[1].dalloc.uid = 1;
	records[3].dalloc.uid = 0;
	records[3].dalloc.name = "jp-main";
	recent_small(&records[0].alloc.trace);
	recent_big(&records[1].alloc.trace);
	pthread_t t;
	if (pthread_create(&t, NULL, worker_main, NULL) != 0 || pthread_join(t, NULL) != 0)
		return 1;
	recent_small(&records[3].alloc.trace);
	main_release(&records[3].dalloc.trace);
	recent_big(&records[4].alloc.trace);
	recent_outer(&records[5].alloc.trace);
	char *maps = read_maps();
	const style_t strata = {.space = "", .maps = true};
	const style_t pretty = {
		.space = " \r\n\t", .reverse = true, .unknown_keys = true, .maps = true};
	const style_t jemalloc = {.space = ""};
	write_file(argv[1], "strata.recent.json", &strata, maps);
	write_file(argv[1], "pretty.recent.json", &pretty, maps);
	write_file(argv[1], "jemalloc.recent.json", &jemalloc, maps);
	free(maps);
	return 0;
}
