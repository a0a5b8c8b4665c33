/*
 * stats.c — the statistics snapshot: gathering each arena's counters,
 * the merged views (all arenas, destroyed arenas), the lock counters, and
 * malloc_stats_print's entry.  See stats.h for the invariants and locks.
 *
 * An arena's part of the snapshot (some 20 KiB) comes from its own base at
 * its first snapshot and is kept for the index, as is the baseline that
 * arena_destroy leaves; the merged views are static.  Nothing here calls
 * malloc.
 */
#include "public_names.h"
#include <strata.h>

#include <stdarg.h>
#include <string.h>

#include "arena.h"
#include "base.h"
#include "clock.h"
#include "conf.h"
#include "event.h"
#include "init.h"
#include "msg.h"
#include "stats.h"
#include "tcache.h"

static base_t *stats_global_base;
static _Atomic size_t stats_zero_reallocs;

/* The snapshot lock: jemalloc's "ctl". */
static mutex_t stats_mtx = MUTEX_INITIALIZER("ctl", MUTEX_RANK_CTL);
/* Protected by stats_mtx. */
static stats_t stats_current;
static stats_arena_t *stats_arenas[ARENAS_MAX];
static stats_arena_t stats_all, stats_destroyed_view;

/* The destroyed view as arena_destroy leaves it, and the counters each
 * destroyed index had (subtracted once it is revived). */
static mutex_t stats_destroyed_mtx =
    MUTEX_INITIALIZER("stats_destroyed", MUTEX_RANK_STATS_DESTROYED);
/* Protected by stats_destroyed_mtx. */
static stats_arena_t stats_destroyed;
static stats_arena_t *stats_baselines[ARENAS_MAX];

/* ------------------------------------------------------------ combining */

typedef enum stats_combine_mode {
	STATS_INTO_ALL,       /* d += s by the row's merge rule */
	STATS_INTO_DESTROYED, /* d += s for CUMUL rows only */
	STATS_MINUS_BASELINE, /* d -= s for CUMUL rows only */
} stats_combine_mode_t;

#define STATS_ALL_CUMUL(d, s) (d) += (s)
#define STATS_ALL_GAUGE(d, s) (d) += (s)
#define STATS_ALL_MAX(d, s) (d) = (s) > (d) ? (s) : (d)
#define STATS_ALL_SETTING(d, s) (d) = -1
#define STATS_DESTROYED_CUMUL(d, s) (d) += (s)
#define STATS_DESTROYED_GAUGE(d, s)
#define STATS_DESTROYED_MAX(d, s) (d) = (s) > (d) ? (s) : (d)
#define STATS_DESTROYED_SETTING(d, s) (d) = -1
#define STATS_MINUS_CUMUL(d, s) (d) -= (s)
#define STATS_MINUS_GAUGE(d, s)
#define STATS_MINUS_MAX(d, s)
#define STATS_MINUS_SETTING(d, s)

#define STATS_COMBINE_ROW(dst, src, name, merge)                                          \
	switch (mode) {                                                                   \
	case STATS_INTO_ALL: STATS_ALL_##merge((dst)->name, (src)->name); break;          \
	case STATS_INTO_DESTROYED: STATS_DESTROYED_##merge((dst)->name, (src)->name); break; \
	case STATS_MINUS_BASELINE: STATS_MINUS_##merge((dst)->name, (src)->name); break;  \
	}

static void
stats_mutex_combine(mutex_stats_t *d, const mutex_stats_t *s, stats_combine_mode_t mode)
{
#define STATS_ROW(name, type, merge, doc) STATS_COMBINE_ROW(d, s, name, merge)
	MUTEX_STATS_COUNTERS(STATS_ROW)
#undef STATS_ROW
}

/* Every counter but small and large, which stats_arena_sum_classes derives. */
static void
stats_arena_combine(stats_arena_t *d, const stats_arena_t *s, stats_combine_mode_t mode)
{
#define STATS_ROW(name, type, merge, doc) STATS_COMBINE_ROW(d, s, name, merge)
	STATS_ARENA_COUNTERS_HEAD(STATS_ROW)
	STATS_ARENA_COUNTERS_TAIL(STATS_ROW)
	STATS_ARENA_COUNTERS_HPA(STATS_ROW)
#undef STATS_ROW
	for (unsigned j = 0; j < SZ_NBINS; j++) {
		stats_bin_t *db = &d->bins[j];
		const stats_bin_t *sb = &s->bins[j];
#define STATS_ROW(name, type, merge, doc) STATS_COMBINE_ROW(db, sb, name, merge)
		STATS_BIN_COUNTERS(STATS_ROW)
#undef STATS_ROW
		stats_mutex_combine(&db->mutex, &sb->mutex, mode);
	}
	for (unsigned j = 0; j < SZ_NLEXTENTS; j++) {
		stats_lextent_t *dl = &d->lextents[j];
		const stats_lextent_t *sl = &s->lextents[j];
#define STATS_ROW(name, type, merge, doc) STATS_COMBINE_ROW(dl, sl, name, merge)
		STATS_LEXTENT_COUNTERS(STATS_ROW)
#undef STATS_ROW
	}
	for (unsigned j = 0; j < SZ_NPSIZES; j++) {
		stats_extent_t *dx = &d->extents[j];
		const stats_extent_t *sx = &s->extents[j];
#define STATS_ROW(name, type, merge, doc) STATS_COMBINE_ROW(dx, sx, name, merge)
		STATS_EXTENT_COUNTERS(STATS_ROW)
#undef STATS_ROW
	}
	for (unsigned m = 0; m < STATS_NARENA_MUTEXES; m++)
		stats_mutex_combine(&d->mutexes[m], &s->mutexes[m], mode);
	STATS_COMBINE_ROW(d, s, metadata_mapped, GAUGE)
}

/* small and large from the bins and the large classes. */
static void
stats_arena_sum_classes(stats_arena_t *a)
{
	stats_class_t small = {0}, large = {0};
	for (unsigned j = 0; j < SZ_NBINS; j++) {
		const stats_bin_t *b = &a->bins[j];
		small.allocated += b->curregs * sz_bin_info[j].reg_size;
		small.nmalloc += b->nmalloc;
		small.ndalloc += b->ndalloc;
		small.nrequests += b->nrequests;
		small.nfills += b->nfills;
		small.nflushes += b->nflushes;
	}
	for (unsigned j = 0; j < SZ_NLEXTENTS; j++) {
		const stats_lextent_t *l = &a->lextents[j];
		large.allocated += l->curlextents * sz_index2size(SZ_NBINS + j);
		large.nmalloc += l->nmalloc;
		large.ndalloc += l->ndalloc;
		large.nrequests += l->nrequests;
	}
	/* A large allocation is a batch of one. */
	large.nfills = large.nmalloc;
	large.nflushes = large.ndalloc;
	a->small = small;
	a->large = large;
}

/* ------------------------------------------------------------ reading */

#define STATS_ARENA_MUTEX_INDEX(name, doc) STATS_ARENA_MUTEX_##name,
enum { STATS_ARENA_MUTEXES(STATS_ARENA_MUTEX_INDEX) };

/* Arena a's counters as they stand, without baseline or class sums.  Takes
 * each of the arena's locks in turn, and the thread caches' list if
 * with_tcache (not under the arenas lock, which ranks above it). */
static void
stats_arena_read(arena_t *a, stats_arena_t *o, bool with_tcache)
{
	memset(o, 0, sizeof(*o));
	o->initialized = true;
	o->nthreads = atomic_load_relaxed(&a->nthreads);
	o->uptime = clock_coarse_ns() - a->create_ns;
	o->numa_node = arena_node(a);
	for (unsigned j = 0; j < SZ_NBINS; j++) {
		bin_stats_t bs;
		bin_stats_read(&a->bins[j], j, a->pai, &bs);
		o->bins[j] = (stats_bin_t){
			.nmalloc = bs.nmalloc,
			.ndalloc = bs.ndalloc,
			.curregs = bs.curregs,
			.nrequests = bs.nmalloc,
			.nfills = bs.nfills,
			.nflushes = bs.nflushes,
			.nreslabs = bs.nreslabs,
			.curslabs = bs.curslabs,
			.nonfull_slabs = bs.nnonfull,
			.nslabs = bs.nslabs,
			.mutex = bs.mutex,
		};
	}
	large_stats_t ls;
	large_stats_read(&a->large, &ls);
	for (unsigned j = 0; j < SZ_NLEXTENTS; j++)
		o->lextents[j] = (stats_lextent_t){
			.nmalloc = ls.nmalloc[j],
			.ndalloc = ls.ndalloc[j],
			.nrequests = ls.nmalloc[j],
			.curlextents = ls.nmalloc[j] - ls.ndalloc[j],
		};
	o->mutexes[STATS_ARENA_MUTEX_large] = ls.mutex;
	pages_stats_t ps;
	pages_stats_read(&a->pages, &ps);
	pages_extents_stats_read(&a->pages, o->extents);
	mutex_stats_read(&a->pages.mtx, &o->mutexes[STATS_ARENA_MUTEX_extents_dirty]);
	base_stats_t bs;
	base_stats_read(&a->base, &bs);
	mutex_stats_read(&a->base.mtx, &o->mutexes[STATS_ARENA_MUTEX_base]);
	o->dirty_decay_ms = ps.dirty_decay_ms;
	o->muzzy_decay_ms = ps.muzzy_decay_ms;
	o->pactive = ps.active_pages;
	o->pdirty = ps.dirty_pages;
	o->pmuzzy = ps.muzzy_pages;
	o->dirty_npurge = ps.dirty.npurge;
	o->dirty_nmadvise = ps.dirty.nmadvise;
	o->dirty_purged = ps.dirty.purged;
	o->muzzy_npurge = ps.muzzy.npurge;
	o->muzzy_nmadvise = ps.muzzy.nmadvise;
	o->muzzy_purged = ps.muzzy.purged;
	o->retained = ps.retained_pages << LG_PAGE;
	o->mapped = ps.mapped - o->retained;
	o->metadata_mapped = bs.mapped;
	o->base = bs.allocated;
	o->metadata_thp = bs.thp;
	o->resident = bs.resident + ((ps.active_pages + ps.dirty_pages) << LG_PAGE);
	if (with_tcache)
		o->tcache_bytes = tcache_bytes_of_arena(a->ind);
}

/* Scratch of the hook below.  Protected by stats_destroyed_mtx. */
static stats_arena_t stats_destroyed_scratch;

/* The destroyed-arena hook (arena.h): arenas lock held, the arena reset.
 * The view gets what the arena counted since its last revival. */
static void
stats_arena_destroyed(arena_t *a)
{
	mutex_lock(&stats_destroyed_mtx);
	stats_destroyed.initialized = true; /* the view exists from the first destruction */
	stats_arena_t *raw = &stats_destroyed_scratch;
	stats_arena_read(a, raw, false);
	stats_arena_t **baseline = &stats_baselines[a->ind];
	stats_arena_combine(&stats_destroyed, raw, STATS_INTO_DESTROYED);
	if (*baseline != NULL)
		stats_arena_combine(&stats_destroyed, *baseline, STATS_MINUS_BASELINE);
	else
		*baseline = base_alloc(&a->base, sizeof(stats_arena_t), CACHELINE);
	if (*baseline != NULL)
		**baseline = *raw;
	mutex_unlock(&stats_destroyed_mtx);
}

/* ------------------------------------------------------------ the snapshot */

/* Sums the locks named name (NULL: none) into *out. */
typedef struct stats_mutex_find {
	const char *name;
	mutex_stats_t *out;
} stats_mutex_find_t;

static void
stats_mutex_find_visit(mutex_t *m, void *arg)
{
	stats_mutex_find_t *f = arg;
	if (f->name == NULL || strcmp(m->name, f->name) != 0)
		return;
	mutex_stats_t s;
	mutex_stats_read(m, &s);
	mutex_stats_merge(f->out, &s);
}

static void
stats_mutex_reset_visit(mutex_t *m, void *arg)
{
	(void)arg;
	mutex_stats_reset(m);
}

static void
stats_global_mutexes_read(mutex_stats_t out[STATS_NGLOBAL_MUTEXES])
{
	static const char *const locks[] = {
#define STATS_ROW(name, lock, doc) lock,
		STATS_GLOBAL_MUTEXES(STATS_ROW)
#undef STATS_ROW
	};
	for (unsigned i = 0; i < STATS_NGLOBAL_MUTEXES; i++) {
		out[i] = (mutex_stats_t){0};
		stats_mutex_find_t f = {locks[i], &out[i]};
		mutex_registry_foreach(stats_mutex_find_visit, &f);
	}
}

void
stats_mutexes_reset(void)
{
	mutex_registry_foreach(stats_mutex_reset_visit, NULL);
}

/* Arena ind's table (made at its first snapshot); NULL without memory. */
static stats_arena_t *
stats_arena_table(arena_t *a)
{
	if (stats_arenas[a->ind] == NULL)
		stats_arenas[a->ind] = base_alloc(&a->base, sizeof(stats_arena_t), CACHELINE);
	return stats_arenas[a->ind];
}

void
stats_lock(void)
{
	mutex_lock(&stats_mtx);
}

void
stats_unlock(void)
{
	mutex_unlock(&stats_mtx);
}

/* stats.thp.*: every page allocator's huge-page figures, summed. */
static void
stats_thp_read(stats_thp_t *out)
{
	*out = (stats_thp_t){0};
	for (pages_t *p = pages_registry_first(); p != NULL; p = p->registry_next) {
		pages_hpage_stats_t hs;
		pages_hpage_stats_read(p, &hs);
		out->ranges += hs.ranges;
		out->huge_ranges += hs.huge_ranges;
		out->hugifies += hs.counters.hugifies;
		out->collapse_failures += hs.counters.collapse_failures;
		out->dissolves += hs.counters.dissolves;
		out->slab_pages_purged += hs.counters.slab_pages_purged;
	}
}

void
stats_refresh(void)
{
	stats_arena_t *all = &stats_all;
	memset(all, 0, sizeof(*all));
	unsigned n = arena_narenas_total();
	for (unsigned i = 0; i < n; i++) {
		arena_t *a = arena_get(i, false);
		if (a == NULL) {
			if (stats_arenas[i] != NULL)
				stats_arenas[i]->initialized = false;
			continue;
		}
		stats_arena_t *s = stats_arena_table(a);
		if (s == NULL)
			continue;
		stats_arena_read(a, s, true);
		mutex_lock(&stats_destroyed_mtx);
		if (stats_baselines[i] != NULL)
			stats_arena_combine(s, stats_baselines[i], STATS_MINUS_BASELINE);
		mutex_unlock(&stats_destroyed_mtx);
		stats_arena_sum_classes(s);
		stats_arena_combine(all, s, STATS_INTO_ALL);
	}
	all->initialized = true;
	all->dirty_decay_ms = all->muzzy_decay_ms = -1;
	stats_arena_sum_classes(all);

	mutex_lock(&stats_destroyed_mtx);
	stats_destroyed_view = stats_destroyed;
	mutex_unlock(&stats_destroyed_mtx);
	stats_destroyed_view.dirty_decay_ms = stats_destroyed_view.muzzy_decay_ms = -1;
	stats_arena_sum_classes(&stats_destroyed_view);

	stats_t *st = &stats_current;
	base_stats_t gb;
	base_stats_read(stats_global_base, &gb);
	size_t metadata = gb.allocated + all->base;
	st->global = (stats_global_t){
		.allocated = all->small.allocated + all->large.allocated,
		.active = all->pactive << LG_PAGE,
		.metadata = metadata,
		.resident = gb.resident + all->resident,
		.mapped = gb.mapped + all->metadata_mapped + all->mapped,
		.retained = all->retained,
		.metadata_thp = gb.thp + all->metadata_thp,
		.zero_reallocs = atomic_load_relaxed(&stats_zero_reallocs),
	};
	stats_global_mutexes_read(st->mutexes);
	background_stats_read(&st->background);
	stats_thp_read(&st->thp);
	st->epoch++;
}

const stats_t *
stats_get(void)
{
	if (stats_current.epoch == 0)
		stats_refresh();
	return &stats_current;
}

const stats_arena_t *
stats_arena_get(size_t index)
{
	stats_get();
	const stats_arena_t *s;
	if (index == MALLCTL_ARENAS_ALL)
		s = &stats_all;
	else if (index == MALLCTL_ARENAS_DESTROYED)
		s = &stats_destroyed_view;
	else
		s = index < ARENAS_MAX ? stats_arenas[index] : NULL;
	return s != NULL && s->initialized ? s : NULL;
}

/* ------------------------------------------------------------ without the snapshot */

void
stats_count_zero_realloc(void)
{
	atomic_add_relaxed(&stats_zero_reallocs, 1);
}

void
stats_snapshot(stats_global_t *out)
{
	base_stats_t gb;
	base_stats_read(stats_global_base, &gb);
	size_t meta = gb.allocated, meta_resident = gb.resident, meta_mapped = gb.mapped;
	size_t allocated = 0, active = 0, dirty = 0, muzzy = 0, retained = 0;
	for (unsigned i = 0; i < arena_narenas_total(); i++) {
		arena_t *a = arena_get(i, false);
		if (a == NULL)
			continue;
		for (unsigned j = 0; j < SZ_NBINS; j++) {
			bin_stats_t bs;
			bin_stats_read(&a->bins[j], j, a->pai, &bs);
			allocated += bs.curregs * sz_bin_info[j].reg_size;
		}
		allocated += atomic_load_relaxed(&a->large.allocated);
		pages_stats_t ps;
		pages_stats_read(&a->pages, &ps);
		base_stats_t bs;
		base_stats_read(&a->base, &bs);
		active += ps.active_pages << LG_PAGE;
		dirty += ps.dirty_pages << LG_PAGE;
		muzzy += ps.muzzy_pages << LG_PAGE;
		retained += ps.retained_pages << LG_PAGE;
		meta += bs.allocated;
		meta_resident += bs.resident;
		meta_mapped += bs.mapped;
	}
	*out = (stats_global_t){
		.allocated = allocated,
		.active = active,
		.metadata = meta,
		.resident = meta_resident + active + dirty,
		.mapped = meta_mapped + active + dirty + muzzy,
		.retained = retained,
	};
}

/* ------------------------------------------------------------ printing */

void
stats_out(stats_out_t *out, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	msg_vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out->cb(out->cbopaque, buf);
}

const char *const stats_config_names[STATS_NCONFIG] = {
	"cache_oblivious", "debug", "fill", "lazy_lock", "malloc_conf", "opt_safety_checks",
	"prof", "prof_libgcc", "prof_libunwind", "stats", "utrace", "xmalloc"};

stats_setting_t
stats_config_setting(const char *name)
{
	char node[64];
	msg_format(node, sizeof(node), "config.%s", name);
	stats_setting_t v = {.kind = STATS_SETTING_BOOL};
	size_t len = sizeof(v.b);
	if (mallctl(node, &v.b, &len, NULL, 0) == 0)
		return v;
	v.kind = STATS_SETTING_STR;
	len = sizeof(v.s);
	if (mallctl(node, &v.s, &len, NULL, 0) == 0) {
		if (v.s == NULL)
			v.s = "";
		return v;
	}
	return (stats_setting_t){.kind = STATS_SETTING_NONE};
}

stats_setting_t
stats_option_setting(const conf_option_t *o)
{
	switch (o->kind) {
	case CONF_KIND_BOOL:
		return (stats_setting_t){.kind = STATS_SETTING_BOOL, .b = o->get() != 0};
	case CONF_KIND_CHOICE:
		return (stats_setting_t){.kind = STATS_SETTING_STR, .s = o->values[o->get()]};
	case CONF_KIND_UINT:
	case CONF_KIND_UINT_CLIP:
		return (stats_setting_t){.kind = STATS_SETTING_U64, .u = o->get()};
	case CONF_KIND_UINT_AUTO: /* narenas: 0 means automatic */
		return (stats_setting_t){.kind = STATS_SETTING_U64, .u = arena_narenas_auto()};
	case CONF_KIND_SINT:
		return (stats_setting_t){.kind = STATS_SETTING_I64, .i = (int64_t)o->get()};
	case CONF_KIND_LIMIT: /* "auto", "off" or the byte count */
	case CONF_KIND_FXP:   /* jemalloc's fixed-point text */
	case CONF_KIND_LETTERS:
	case CONF_KIND_STRING:
		return (stats_setting_t){.kind = STATS_SETTING_STR, .s = o->text};
	case CONF_KIND_LG_ALIAS: /* no opt.<name> node of its own */
	case CONF_KIND_RANGES:
		break;
	}
	return (stats_setting_t){.kind = STATS_SETTING_NONE};
}

void
stats_print(stats_write_cb_t *write_cb, void *cbopaque, const char *opts)
{
	stats_out_t out = {write_cb, cbopaque};
	stats_opts_t o = {true, true, true, true, true, true, true, true, pages_huge_bytes()};
	bool json = false;
	for (const char *c = opts != NULL ? opts : ""; *c != '\0'; c++) {
		switch (*c) {
		case 'J': json = true; break;
		case 'g': o.general = false; break;
		case 'm': o.merged = false; break;
		case 'd': o.destroyed = false; break;
		case 'a': o.per_arena = false; break;
		case 'b': o.bins = false; break;
		case 'l': o.large = false; break;
		case 'x': o.mutex = false; break;
		case 'e': o.extents = false; break;
		default: break;
		}
	}
	stats_lock();
	stats_refresh();
	if (json)
		stats_json_print(&out, &o);
	else
		stats_text_print(&out, &o);
	stats_unlock();
}

static void
stats_write_default(void *cbopaque, const char *s)
{
	(void)cbopaque;
	msg_write(s);
}

void
stats_print_to_messages(const char *opts)
{
	stats_print(stats_write_default, NULL, opts);
}

EXPORT void
malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts)
{
	if (init_ensure() != 0)
		return;
	stats_print(write_cb != NULL ? write_cb : stats_write_default, cbopaque, opts);
}

/* stats_interval: bytes the threads reported (event.h). */
static _Atomic uint64_t stats_interval_accum;

/* Prints when the total crosses a multiple of the interval (reentrancy
 * raised by the event module). */
static void
stats_interval_account(uint64_t bytes)
{
	uint64_t interval = opt_stats_interval > 0 ? (uint64_t)opt_stats_interval : 1;
	uint64_t before = atomic_add_relaxed(&stats_interval_accum, bytes);
	if (before / interval != (before + bytes) / interval)
		stats_print_to_messages(opt_stats_interval_opts);
}

void
stats_boot(struct base *global_base)
{
	stats_global_base = global_base;
	mutex_register(&stats_mtx, NULL);
	mutex_register(&stats_destroyed_mtx, NULL);
	arena_destroyed_hook = stats_arena_destroyed;
	event_stats_interval = stats_interval_account;
}
