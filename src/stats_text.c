/*
 * stats_text.c — malloc_stats_print's text report, in jemalloc 5.3's
 * layout (section headers, column order, "---" between runs of empty size
 * classes, rates per second of uptime).  See stats.h.
 *
 * Reads the snapshot (snapshot lock held by the caller) and the option
 * table; the config.* and arenas.* settings come from mallctl, so the report
 * shows what the tree shows.  Nothing here allocates: every line is
 * formatted into a stack buffer (stats_out).
 */
#include "public_names.h"
#include <strata.h>

#include "arena.h"
#include "conf.h"
#include "msg.h"
#include "numa.h"
#include "stats.h"

/* count per second of uptime, as jemalloc computes it (0 under a second). */
static uint64_t
stats_rate(uint64_t count, uint64_t uptime_ns)
{
	uint64_t secs = uptime_ns / 1000000000u;
	return secs == 0 ? 0 : count / secs;
}

/* "  <prefix><name>: <value>" (nothing for a setting the tree lacks). */
static void
stats_text_setting(stats_out_t *out, const char *prefix, const char *name, stats_setting_t v)
{
	switch (v.kind) {
	case STATS_SETTING_BOOL:
		stats_out(out, "  %s%s: %s\n", prefix, name, v.b ? "true" : "false");
		break;
	case STATS_SETTING_STR:
		stats_out(out, "  %s%s: \"%s\"\n", prefix, name, v.s);
		break;
	case STATS_SETTING_U64:
		stats_out(out, "  %s%s: %ju\n", prefix, name, (uintmax_t)v.u);
		break;
	case STATS_SETTING_I64:
		stats_out(out, "  %s%s: %jd\n", prefix, name, (intmax_t)v.i);
		break;
	case STATS_SETTING_NONE:
		break;
	}
}

/* An arenas.* number (unsigned or size_t, by size), or 0 if absent. */
static size_t
stats_text_arenas_value(const char *name, size_t size)
{
	unsigned u = 0;
	size_t z = 0;
	size_t len = size;
	if (size == sizeof(u))
		return mallctl(name, &u, &len, NULL, 0) == 0 ? u : 0;
	return mallctl(name, &z, &len, NULL, 0) == 0 ? z : 0;
}

static void
stats_text_general(stats_out_t *out)
{
	const char *version = "";
	size_t len = sizeof(version);
	mallctl("version", &version, &len, NULL, 0);
	stats_out(out, "Version: \"%s\"\n", version);
	stats_out(out, "Build-time option settings\n");
	for (unsigned i = 0; i < STATS_NCONFIG; i++)
		stats_text_setting(out, "config.", stats_config_names[i],
		                   stats_config_setting(stats_config_names[i]));
	stats_out(out, "Run-time option settings\n");
	for (unsigned i = 0; i < CONF_NOPTIONS; i++)
		stats_text_setting(out, "opt.", conf_options[i].name,
		                   stats_option_setting(&conf_options[i]));
	stats_out(out, "Arenas: %u\n", arena_narenas_total());
	stats_out(out, "Quantum size: %zu\n", QUANTUM);
	stats_out(out, "Page size: %zu\n", PAGE);
	stats_out(out, "Maximum thread-cached size class: %zu\n",
	          stats_text_arenas_value("arenas.tcache_max", sizeof(size_t)));
	stats_out(out, "Number of bin size classes: %u\n", SZ_NBINS);
	stats_out(out, "Number of thread-cache bin size classes: %zu\n",
	          stats_text_arenas_value("arenas.nhbins", sizeof(unsigned)));
	stats_out(out, "Number of large size classes: %u\n", SZ_NLEXTENTS);
}

#define STATS_MUTEX_HEADER                                                                \
	"n_lock_ops (#/sec)       n_waiting (#/sec)      n_spin_acq (#/sec)  n_owner_switch " \
	"(#/sec)   total_wait_ns   (#/sec)     max_wait_ns  max_n_thds\n"

static void
stats_text_mutex_row(stats_out_t *out, const char *name, const mutex_stats_t *m,
                     uint64_t uptime)
{
	stats_out(out,
	          "%-20s %16llu %7llu %15llu %7llu %15llu %7llu %15llu %7llu %15llu %9llu %15llu "
	          "%11u\n",
	          name, (unsigned long long)m->num_ops,
	          (unsigned long long)stats_rate(m->num_ops, uptime),
	          (unsigned long long)m->num_wait,
	          (unsigned long long)stats_rate(m->num_wait, uptime),
	          (unsigned long long)m->num_spin_acq,
	          (unsigned long long)stats_rate(m->num_spin_acq, uptime),
	          (unsigned long long)m->num_owner_switch,
	          (unsigned long long)stats_rate(m->num_owner_switch, uptime),
	          (unsigned long long)m->total_wait_time,
	          (unsigned long long)stats_rate(m->total_wait_time, uptime),
	          (unsigned long long)m->max_wait_time, m->max_num_thds);
}

/* Each node with memory: its arenas and their resident bytes (where they
 * bound their pages); nothing while NUMA is inactive. */
static void
stats_text_numa(stats_out_t *out)
{
	if (!numa_active())
		return;
	size_t resident[NUMA_NODES_MAX] = {0};
	unsigned narenas[NUMA_NODES_MAX] = {0};
	for (unsigned i = 0, n = arena_narenas_total(); i < n; i++) {
		const stats_arena_t *a = stats_arena_get(i);
		if (a == NULL || a->numa_node >= NUMA_NODES_MAX)
			continue;
		resident[a->numa_node] += a->resident;
		narenas[a->numa_node]++;
	}
	for (uint64_t m = numa_memory_nodes(); m != 0; m &= m - 1) {
		unsigned k = bits_ctz(m);
		stats_out(out, "NUMA node %u: arenas: %u, resident: %zu\n", k, narenas[k], resident[k]);
	}
}

static void
stats_text_totals(stats_out_t *out, const stats_t *st, const stats_opts_t *opts)
{
	const stats_global_t *g = &st->global;
	stats_out(out,
	          "Allocated: %zu, active: %zu, metadata: %zu (n_thp %zu), resident: %zu, "
	          "mapped: %zu, retained: %zu\n",
	          g->allocated, g->active, g->metadata, g->metadata_thp >> LG_PAGE, g->resident,
	          g->mapped, g->retained);
	stats_out(out, "Count of realloc(non-null-ptr, 0) calls: %zu\n", g->zero_reallocs);
	const background_stats_t *bg = &st->background;
	stats_out(out, "Background threads: %zu, num_runs: %llu, run_interval: %llu ns\n",
	          bg->num_threads, (unsigned long long)bg->num_runs,
	          (unsigned long long)bg->run_interval_ns);
	stats_out(out, "Memory limit: %zu (%s), usage: %zu, releases: %llu, released: %llu\n",
	          bg->memlimit_limit, bg->memlimit_source, bg->memlimit_usage,
	          (unsigned long long)bg->memlimit_releases,
	          (unsigned long long)bg->memlimit_released);
	const stats_thp_t *t = &st->thp;
	stats_out(out,
	          "Huge pages: %zd bytes, ranges: %zu (huge: %zu), hugifies: %llu, collapse "
	          "failures: %llu, dissolves: %llu, slab pages purged: %llu\n",
	          opts->huge_bytes, t->ranges, t->huge_ranges, (unsigned long long)t->hugifies,
	          (unsigned long long)t->collapse_failures, (unsigned long long)t->dissolves,
	          (unsigned long long)t->slab_pages_purged);
	stats_text_numa(out);
	if (!opts->mutex)
		return;
	static const char *const names[] = {
#define STATS_ROW(name, lock, doc) #name,
		STATS_GLOBAL_MUTEXES(STATS_ROW)
#undef STATS_ROW
	};
	const stats_arena_t *all = stats_arena_get(MALLCTL_ARENAS_ALL);
	stats_out(out, "                           " STATS_MUTEX_HEADER);
	for (unsigned i = 0; i < STATS_NGLOBAL_MUTEXES; i++)
		stats_text_mutex_row(out, names[i], &st->mutexes[i], all->uptime);
}

/* The "---" that stands for a run of empty classes: called for each class;
 * true when the class is empty (and not printed). */
static bool
stats_text_gap(stats_out_t *out, bool empty, bool *in_gap)
{
	if (empty) {
		if (!*in_gap)
			stats_out(out, "                     ---\n");
		*in_gap = true;
		return true;
	}
	*in_gap = false;
	return false;
}

static void
stats_text_bins(stats_out_t *out, const stats_arena_t *a, const stats_opts_t *opts)
{
	stats_out(out, "bins:           size ind    allocated      nmalloc (#/sec)      ndalloc "
	               "(#/sec)    nrequests   (#/sec)  nshards      curregs     curslabs "
	               "nonfull_slabs regs pgs   util       nfills (#/sec)     nflushes (#/sec)  "
	               "     nslabs     nreslabs (#/sec)%s",
	          opts->mutex ? "      " STATS_MUTEX_HEADER : "\n");
	bool in_gap = false;
	for (unsigned j = 0; j < SZ_NBINS; j++) {
		const stats_bin_t *b = &a->bins[j];
		if (stats_text_gap(out, b->nslabs == 0, &in_gap))
			continue;
		const bin_info_t *info = &sz_bin_info[j];
		size_t capacity = b->curslabs * info->nregs;
		unsigned util_milli = capacity == 0 ? 0 : (unsigned)(b->curregs * 1000 / capacity);
		char util[8];
		if (util_milli == 1000)
			msg_format(util, sizeof(util), "1");
		else
			msg_format(util, sizeof(util), "0.%03u", util_milli);
		char line[512];
		msg_format(line, sizeof(line),
		           "%20zu %3u %12zu %12llu %7llu %12llu %7llu %12llu %9llu %8u %12zu %12zu "
		           "%14zu %4u %3zu %6s %12llu %7llu %12llu %7llu %12llu %12llu %7llu",
		           info->reg_size, j, b->curregs * info->reg_size,
		           (unsigned long long)b->nmalloc,
		           (unsigned long long)stats_rate(b->nmalloc, a->uptime),
		           (unsigned long long)b->ndalloc,
		           (unsigned long long)stats_rate(b->ndalloc, a->uptime),
		           (unsigned long long)b->nrequests,
		           (unsigned long long)stats_rate(b->nrequests, a->uptime), 1u, b->curregs,
		           b->curslabs, b->nonfull_slabs, info->nregs, info->slab_size >> LG_PAGE,
		           util, (unsigned long long)b->nfills,
		           (unsigned long long)stats_rate(b->nfills, a->uptime),
		           (unsigned long long)b->nflushes,
		           (unsigned long long)stats_rate(b->nflushes, a->uptime),
		           (unsigned long long)b->nslabs, (unsigned long long)b->nreslabs,
		           (unsigned long long)stats_rate(b->nreslabs, a->uptime));
		if (opts->mutex)
			stats_text_mutex_row(out, line, &b->mutex, a->uptime);
		else
			stats_out(out, "%s\n", line);
	}
}

static void
stats_text_lextents(stats_out_t *out, const stats_arena_t *a)
{
	stats_out(out, "large:          size ind    allocated      nmalloc (#/sec)      ndalloc "
	               "(#/sec)    nrequests (#/sec)  curlextents\n");
	bool in_gap = false;
	for (unsigned j = 0; j < SZ_NLEXTENTS; j++) {
		const stats_lextent_t *l = &a->lextents[j];
		if (stats_text_gap(out, l->nmalloc == 0, &in_gap))
			continue;
		size_t size = sz_index2size(SZ_NBINS + j);
		stats_out(out, "%20zu %3u %12zu %12llu %7llu %12llu %7llu %12llu %7llu %12zu\n", size,
		          SZ_NBINS + j, l->curlextents * size, (unsigned long long)l->nmalloc,
		          (unsigned long long)stats_rate(l->nmalloc, a->uptime),
		          (unsigned long long)l->ndalloc,
		          (unsigned long long)stats_rate(l->ndalloc, a->uptime),
		          (unsigned long long)l->nrequests,
		          (unsigned long long)stats_rate(l->nrequests, a->uptime), l->curlextents);
	}
}

static void
stats_text_extents(stats_out_t *out, const stats_arena_t *a)
{
	stats_out(out, "extents:        size ind       ndirty        dirty       nmuzzy        muzzy"
	               "    nretained     retained       ntotal        total\n");
	bool in_gap = false;
	for (unsigned j = 0; j < SZ_NPSIZES; j++) {
		const stats_extent_t *x = &a->extents[j];
		size_t n = x->ndirty + x->nmuzzy + x->nretained;
		if (stats_text_gap(out, n == 0, &in_gap))
			continue;
		stats_out(out, "%20zu %3u %12zu %12zu %12zu %12zu %12zu %12zu %12zu %12zu\n",
		          sz_pind2sz_tab[j], j, x->ndirty, x->dirty_bytes, x->nmuzzy, x->muzzy_bytes,
		          x->nretained, x->retained_bytes, n,
		          x->dirty_bytes + x->muzzy_bytes + x->retained_bytes);
	}
}

static void
stats_text_class_row(stats_out_t *out, const char *name, const stats_class_t *c, uint64_t up)
{
	stats_out(out, "%-12s %24zu %15llu %9llu %15llu %9llu %15llu %9llu %15llu %9llu %15llu %9llu\n",
	          name, c->allocated, (unsigned long long)c->nmalloc,
	          (unsigned long long)stats_rate(c->nmalloc, up), (unsigned long long)c->ndalloc,
	          (unsigned long long)stats_rate(c->ndalloc, up), (unsigned long long)c->nrequests,
	          (unsigned long long)stats_rate(c->nrequests, up), (unsigned long long)c->nfills,
	          (unsigned long long)stats_rate(c->nfills, up), (unsigned long long)c->nflushes,
	          (unsigned long long)stats_rate(c->nflushes, up));
}

static void
stats_text_decay_row(stats_out_t *out, const char *name, ssize_t decay_ms, size_t npages,
                     uint64_t sweeps, uint64_t madvises, uint64_t purged)
{
	char time[24];
	if (decay_ms >= 0)
		msg_format(time, sizeof(time), "%zd", decay_ms);
	else
		msg_format(time, sizeof(time), "N/A");
	stats_out(out, "   %s: %5s %12zu %12llu %12llu %12llu\n", name, time, npages,
	          (unsigned long long)sweeps, (unsigned long long)madvises,
	          (unsigned long long)purged);
}

static void
stats_text_arena(stats_out_t *out, const stats_arena_t *a, bool merged, const stats_opts_t *opts)
{
	stats_out(out, "assigned threads: %u\n", a->nthreads);
	stats_out(out, "uptime: %llu\n", (unsigned long long)a->uptime);
	stats_out(out, "dss allocation precedence: \"%s\"\n", merged ? "N/A" : "disabled");
	stats_out(out, "decaying:  time       npages       sweeps     madvises       purged\n");
	stats_text_decay_row(out, "dirty", a->dirty_decay_ms, a->pdirty, a->dirty_npurge,
	                     a->dirty_nmadvise, a->dirty_purged);
	stats_text_decay_row(out, "muzzy", a->muzzy_decay_ms, a->pmuzzy, a->muzzy_npurge,
	                     a->muzzy_nmadvise, a->muzzy_purged);
	stats_out(out, "                            allocated         nmalloc   (#/sec)         "
	               "ndalloc   (#/sec)       nrequests   (#/sec)           nfill   (#/sec)      "
	               "    nflush   (#/sec)\n");
	stats_text_class_row(out, "small:", &a->small, a->uptime);
	stats_text_class_row(out, "large:", &a->large, a->uptime);
	stats_class_t total = {
		.allocated = a->small.allocated + a->large.allocated,
		.nmalloc = a->small.nmalloc + a->large.nmalloc,
		.ndalloc = a->small.ndalloc + a->large.ndalloc,
		.nrequests = a->small.nrequests + a->large.nrequests,
		.nfills = a->small.nfills + a->large.nfills,
		.nflushes = a->small.nflushes + a->large.nflushes,
	};
	stats_text_class_row(out, "total:", &total, a->uptime);
	stats_out(out, "                                     \n");
	stats_out(out, "%-21s %15zu\n", "active:", a->pactive << LG_PAGE);
#define STATS_ROW(name, type, merge, doc)                                                 \
	stats_out(out, "%-21s %15llu\n", #name ":", (unsigned long long)a->name);
	STATS_ARENA_COUNTERS_TAIL(STATS_ROW)
#undef STATS_ROW
	if (opts->mutex) {
		static const char *const names[] = {
#define STATS_ROW(name, doc) #name,
			STATS_ARENA_MUTEXES(STATS_ROW)
#undef STATS_ROW
		};
		stats_out(out, "                           " STATS_MUTEX_HEADER);
		for (unsigned m = 0; m < STATS_NARENA_MUTEXES; m++)
			stats_text_mutex_row(out, names[m], &a->mutexes[m], a->uptime);
	}
	if (opts->bins)
		stats_text_bins(out, a, opts);
	if (opts->large)
		stats_text_lextents(out, a);
	if (opts->extents)
		stats_text_extents(out, a);
	stats_out(out, "Bytes in small extent cache: %zu\n", a->hpa_sec_bytes);
}

void
stats_text_print(stats_out_t *out, const stats_opts_t *opts)
{
	const stats_t *st = stats_get();
	stats_out(out, "___ Begin jemalloc statistics ___\n");
	if (opts->general)
		stats_text_general(out);
	stats_text_totals(out, st, opts);
	unsigned n = arena_narenas_total(), ninit = 0;
	for (unsigned i = 0; i < n; i++)
		ninit += stats_arena_get(i) != NULL;
	if (opts->merged && ninit > 1) {
		stats_out(out, "Merged arenas stats:\n");
		stats_text_arena(out, stats_arena_get(MALLCTL_ARENAS_ALL), true, opts);
	}
	const stats_arena_t *destroyed = stats_arena_get(MALLCTL_ARENAS_DESTROYED);
	if (opts->destroyed && destroyed != NULL) {
		stats_out(out, "Destroyed arenas stats:\n");
		stats_text_arena(out, destroyed, true, opts);
	}
	if (opts->per_arena) {
		for (unsigned i = 0; i < n; i++) {
			const stats_arena_t *a = stats_arena_get(i);
			if (a == NULL)
				continue;
			stats_out(out, "arenas[%u]:\n", i);
			stats_text_arena(out, a, false, opts);
		}
	}
	stats_out(out, "--- End jemalloc statistics ---\n");
}
