/*
 * stats_json.c — malloc_stats_print's JSON ('J'), in jemalloc 5.3's layout:
 * {"jemalloc": {"version", "config", "opt", "prof", "arenas", "stats",
 * "stats.arenas": {"merged", "destroyed", "<i>"...}}}, with the keys and
 * nesting jemalloc emits (arrays for bins, lextents and extents), and
 * every figure the text report prints.  See stats.h.
 *
 * The snapshot lock is held by the caller.  The emitter keeps, per open
 * object or array, whether a member was written (for the commas); nothing
 * here allocates.
 */
#include "public_names.h"
#include <strata.h>

#include <string.h>

#include "arena.h"
#include "conf.h"
#include "msg.h"
#include "stats.h"

#define STATS_JSON_DEPTH 8

typedef struct stats_json {
	stats_out_t *out;
	unsigned depth;
	bool nonempty[STATS_JSON_DEPTH];
} stats_json_t;

/* The separator and "key": of a member (key NULL in arrays). */
static void
stats_json_key(stats_json_t *j, const char *key)
{
	const char *sep = j->nonempty[j->depth] ? "," : "";
	j->nonempty[j->depth] = true;
	if (key != NULL)
		stats_out(j->out, "%s\"%s\":", sep, key);
	else
		stats_out(j->out, "%s", sep);
}

static void
stats_json_open(stats_json_t *j, const char *key, char bracket)
{
	stats_json_key(j, key);
	stats_out(j->out, "%c", bracket);
	j->nonempty[++j->depth] = false;
}

static void
stats_json_close(stats_json_t *j, char bracket)
{
	j->depth--;
	stats_out(j->out, "%c\n", bracket);
}

static void
stats_json_u64(stats_json_t *j, const char *key, uint64_t v)
{
	stats_json_key(j, key);
	stats_out(j->out, "%llu", (unsigned long long)v);
}

static void
stats_json_i64(stats_json_t *j, const char *key, int64_t v)
{
	stats_json_key(j, key);
	stats_out(j->out, "%lld", (long long)v);
}

static void
stats_json_bool(stats_json_t *j, const char *key, bool v)
{
	stats_json_key(j, key);
	stats_out(j->out, "%s", v ? "true" : "false");
}

/* A string value; the option table's and the tree's strings need no
 * escaping but quotes and backslashes, which are escaped. */
static void
stats_json_str(stats_json_t *j, const char *key, const char *v)
{
	stats_json_key(j, key);
	stats_out(j->out, "\"");
	char buf[2] = {0};
	const char *run = v;
	for (const char *c = v; *c != '\0'; c++) {
		if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20)
			continue;
		stats_out(j->out, "%.*s", (int)(c - run), run);
		if ((unsigned char)*c < 0x20) {
			stats_out(j->out, "\\u%04x", (unsigned)(unsigned char)*c);
		} else {
			buf[0] = *c;
			stats_out(j->out, "\\%s", buf);
		}
		run = c + 1;
	}
	stats_out(j->out, "%s\"", run);
}

/* A counter of any of the table's types. */
#define STATS_JSON_NUM(j, key, v)                                                         \
	_Generic((v), ssize_t: stats_json_i64, default: stats_json_u64)(j, key, v)

/* "key": value (nothing for a setting the tree lacks). */
static void
stats_json_setting(stats_json_t *j, const char *key, stats_setting_t v)
{
	switch (v.kind) {
	case STATS_SETTING_BOOL:
		stats_json_bool(j, key, v.b);
		break;
	case STATS_SETTING_STR:
		stats_json_str(j, key, v.s);
		break;
	case STATS_SETTING_U64:
		stats_json_u64(j, key, v.u);
		break;
	case STATS_SETTING_I64:
		stats_json_i64(j, key, v.i);
		break;
	case STATS_SETTING_NONE:
		break;
	}
}

/* A number the tree has (unsigned, size_t or ssize_t by size and sign). */
static void
stats_json_ctl(stats_json_t *j, const char *key, const char *name, size_t size, bool sign)
{
	uint64_t v = 0;
	size_t len = size;
	if (mallctl(name, &v, &len, NULL, 0) != 0)
		return;
	if (sign)
		stats_json_i64(j, key, (int64_t)v);
	else
		stats_json_u64(j, key, size == sizeof(unsigned) ? (uint32_t)v : v);
}

static void
stats_json_arenas(stats_json_t *j)
{
	stats_json_open(j, "arenas", '{');
	stats_json_u64(j, "narenas", arena_narenas_total());
	stats_json_ctl(j, "dirty_decay_ms", "arenas.dirty_decay_ms", sizeof(ssize_t), true);
	stats_json_ctl(j, "muzzy_decay_ms", "arenas.muzzy_decay_ms", sizeof(ssize_t), true);
	stats_json_u64(j, "quantum", QUANTUM);
	stats_json_u64(j, "page", PAGE);
	stats_json_ctl(j, "tcache_max", "arenas.tcache_max", sizeof(size_t), false);
	stats_json_u64(j, "nbins", SZ_NBINS);
	stats_json_ctl(j, "nhbins", "arenas.nhbins", sizeof(unsigned), false);
	stats_json_open(j, "bin", '[');
	for (unsigned i = 0; i < SZ_NBINS; i++) {
		const bin_info_t *info = &sz_bin_info[i];
		stats_json_open(j, NULL, '{');
		stats_json_u64(j, "size", info->reg_size);
		stats_json_u64(j, "nregs", info->nregs);
		stats_json_u64(j, "slab_size", info->slab_size);
		stats_json_u64(j, "nshards", 1);
		stats_json_close(j, '}');
	}
	stats_json_close(j, ']');
	stats_json_u64(j, "nlextents", SZ_NLEXTENTS);
	stats_json_open(j, "lextent", '[');
	for (unsigned i = 0; i < SZ_NLEXTENTS; i++) {
		stats_json_open(j, NULL, '{');
		stats_json_u64(j, "size", sz_index2size(SZ_NBINS + i));
		stats_json_close(j, '}');
	}
	stats_json_close(j, ']');
	stats_json_close(j, '}');
}

static void
stats_json_mutex(stats_json_t *j, const char *key, const mutex_stats_t *m)
{
	stats_json_open(j, key, '{');
#define STATS_ROW(name, type, merge, doc) stats_json_u64(j, #name, m->name);
	MUTEX_STATS_COUNTERS(STATS_ROW)
#undef STATS_ROW
	stats_json_close(j, '}');
}

static void
stats_json_stats(stats_json_t *j, const stats_t *st, const stats_opts_t *opts)
{
	const stats_global_t *g = &st->global;
	stats_json_open(j, "stats", '{');
#define STATS_ROW(name, type, merge, doc) STATS_JSON_NUM(j, #name, g->name);
	STATS_GLOBAL_COUNTERS(STATS_ROW)
#undef STATS_ROW
	const background_stats_t *bg = &st->background;
	stats_json_open(j, "background_thread", '{');
	stats_json_u64(j, "num_threads", bg->num_threads);
	stats_json_u64(j, "num_runs", bg->num_runs);
	stats_json_u64(j, "run_interval", bg->run_interval_ns);
	stats_json_close(j, '}');
	stats_json_open(j, "memory_limit", '{');
	stats_json_str(j, "source", bg->memlimit_source);
	stats_json_u64(j, "limit", bg->memlimit_limit);
	stats_json_u64(j, "usage", bg->memlimit_usage);
	stats_json_u64(j, "releases", bg->memlimit_releases);
	stats_json_u64(j, "released", bg->memlimit_released);
	stats_json_close(j, '}');
	stats_json_open(j, "thp", '{');
	stats_json_u64(j, "huge_bytes", opts->huge_bytes < 0 ? 0 : (uint64_t)opts->huge_bytes);
#define STATS_THP_ROW(name, type, doc) stats_json_u64(j, #name, st->thp.name);
	STATS_THP_COUNTERS(STATS_THP_ROW)
#undef STATS_THP_ROW
	stats_json_close(j, '}');
	if (opts->mutex) {
		static const char *const names[] = {
#define STATS_ROW(name, lock, doc) #name,
			STATS_GLOBAL_MUTEXES(STATS_ROW)
#undef STATS_ROW
		};
		stats_json_open(j, "mutexes", '{');
		for (unsigned i = 0; i < STATS_NGLOBAL_MUTEXES; i++)
			stats_json_mutex(j, names[i], &st->mutexes[i]);
		stats_json_close(j, '}');
	}
	stats_json_close(j, '}');
}

static void
stats_json_class(stats_json_t *j, const char *key, const stats_class_t *c)
{
	stats_json_open(j, key, '{');
#define STATS_ROW(name, type, merge, doc) STATS_JSON_NUM(j, #name, c->name);
	STATS_CLASS_COUNTERS(STATS_ROW)
#undef STATS_ROW
	stats_json_close(j, '}');
}

static void
stats_json_arena(stats_json_t *j, const char *key, const stats_arena_t *a, bool merged,
                 const stats_opts_t *opts)
{
	stats_json_open(j, key, '{');
	stats_json_u64(j, "nthreads", a->nthreads);
	stats_json_u64(j, "uptime_ns", a->uptime);
	stats_json_str(j, "dss", merged ? "N/A" : "disabled");
#define STATS_ROW(name, type, merge, doc)                                                 \
	if (strcmp(#name, "nthreads") != 0 && strcmp(#name, "uptime") != 0)               \
		STATS_JSON_NUM(j, #name, a->name);
	STATS_ARENA_COUNTERS_HEAD(STATS_ROW)
#undef STATS_ROW
	stats_json_class(j, "small", &a->small);
	stats_json_class(j, "large", &a->large);
#define STATS_ROW(name, type, merge, doc) STATS_JSON_NUM(j, #name, a->name);
	STATS_ARENA_COUNTERS_TAIL(STATS_ROW)
#undef STATS_ROW
	if (opts->mutex) {
		static const char *const names[] = {
#define STATS_ROW(name, doc) #name,
			STATS_ARENA_MUTEXES(STATS_ROW)
#undef STATS_ROW
		};
		stats_json_open(j, "mutexes", '{');
		for (unsigned m = 0; m < STATS_NARENA_MUTEXES; m++)
			stats_json_mutex(j, names[m], &a->mutexes[m]);
		stats_json_close(j, '}');
	}
	if (opts->bins) {
		stats_json_open(j, "bins", '[');
		for (unsigned i = 0; i < SZ_NBINS; i++) {
			const stats_bin_t *b = &a->bins[i];
			stats_json_open(j, NULL, '{');
#define STATS_ROW(name, type, merge, doc) STATS_JSON_NUM(j, #name, b->name);
			STATS_BIN_COUNTERS(STATS_ROW)
#undef STATS_ROW
			if (opts->mutex)
				stats_json_mutex(j, "mutex", &b->mutex);
			stats_json_close(j, '}');
		}
		stats_json_close(j, ']');
	}
	if (opts->large) {
		stats_json_open(j, "lextents", '[');
		for (unsigned i = 0; i < SZ_NLEXTENTS; i++) {
			const stats_lextent_t *l = &a->lextents[i];
			stats_json_open(j, NULL, '{');
#define STATS_ROW(name, type, merge, doc) STATS_JSON_NUM(j, #name, l->name);
			STATS_LEXTENT_COUNTERS(STATS_ROW)
#undef STATS_ROW
			stats_json_close(j, '}');
		}
		stats_json_close(j, ']');
	}
	if (opts->extents) {
		stats_json_open(j, "extents", '[');
		for (unsigned i = 0; i < SZ_NPSIZES; i++) {
			const stats_extent_t *x = &a->extents[i];
			stats_json_open(j, NULL, '{');
#define STATS_ROW(name, type, merge, doc) STATS_JSON_NUM(j, #name, x->name);
			STATS_EXTENT_COUNTERS(STATS_ROW)
#undef STATS_ROW
			stats_json_close(j, '}');
		}
		stats_json_close(j, ']');
	}
	stats_json_u64(j, "sec_bytes", a->hpa_sec_bytes);
	stats_json_close(j, '}');
}

void
stats_json_print(stats_out_t *out, const stats_opts_t *opts)
{
	const stats_t *st = stats_get();
	stats_json_t j = {.out = out};
	stats_json_open(&j, NULL, '{');
	stats_json_open(&j, "jemalloc", '{');
	if (opts->general) {
		const char *version = "";
		size_t len = sizeof(version);
		mallctl("version", &version, &len, NULL, 0);
		stats_json_str(&j, "version", version);
		stats_json_open(&j, "config", '{');
		for (unsigned i = 0; i < STATS_NCONFIG; i++)
			stats_json_setting(&j, stats_config_names[i],
			                   stats_config_setting(stats_config_names[i]));
		stats_json_close(&j, '}');
		stats_json_open(&j, "opt", '{');
		for (unsigned i = 0; i < CONF_NOPTIONS; i++)
			stats_json_setting(&j, conf_options[i].name,
			                   stats_option_setting(&conf_options[i]));
		stats_json_close(&j, '}');
		stats_json_arenas(&j);
	}
	stats_json_stats(&j, st, opts);
	unsigned n = arena_narenas_total(), ninit = 0;
	for (unsigned i = 0; i < n; i++)
		ninit += stats_arena_get(i) != NULL;
	const stats_arena_t *destroyed = stats_arena_get(MALLCTL_ARENAS_DESTROYED);
	bool merged = opts->merged && ninit > 1;
	bool any_destroyed = opts->destroyed && destroyed != NULL;
	if (merged || any_destroyed || opts->per_arena) {
		stats_json_open(&j, "stats.arenas", '{');
		if (merged)
			stats_json_arena(&j, "merged", stats_arena_get(MALLCTL_ARENAS_ALL), true, opts);
		if (any_destroyed)
			stats_json_arena(&j, "destroyed", destroyed, true, opts);
		for (unsigned i = 0; opts->per_arena && i < n; i++) {
			const stats_arena_t *a = stats_arena_get(i);
			if (a == NULL)
				continue;
			char key[16];
			msg_format(key, sizeof(key), "%u", i);
			stats_json_arena(&j, key, a, false, opts);
		}
		stats_json_close(&j, '}');
	}
	stats_json_close(&j, '}');
	stats_json_close(&j, '}');
}
