/*
 * stats.c — gathering counters and the text report.  See stats.h.
 *
 * Output goes through the caller's write_cb one line at a time, formatted
 * with msg_format into a stack buffer: nothing here allocates.
 */
#include "public_names.h"
#include <strata.h>

#include <stdarg.h>
#include <string.h>

#include "arena.h"
#include "background.h"
#include "conf.h"
#include "init.h"
#include "msg.h"
#include "stats.h"
#include "tcache.h"

static base_t *stats_global_base;

void
stats_boot(struct base *global_base)
{
	stats_global_base = global_base;
}

typedef struct stats_arena {
	bin_stats_t bins[SZ_NBINS];
	pages_stats_t pages;
	base_stats_t base;
	uint64_t large_nmalloc, large_ndalloc;
	size_t large_allocated;
	size_t small_allocated;
	size_t tcache_bytes;
	unsigned nthreads;
} stats_arena_t;

static void
stats_arena_read(arena_t *a, stats_arena_t *out)
{
	out->small_allocated = 0;
	for (unsigned i = 0; i < SZ_NBINS; i++) {
		bin_stats_read(&a->bins[i], &out->bins[i]);
		out->small_allocated += out->bins[i].curregs * sz_bin_info[i].reg_size;
	}
	pages_stats_read(&a->pages, &out->pages);
	base_stats_read(&a->base, &out->base);
	out->large_nmalloc = atomic_load_relaxed(&a->large.nmalloc);
	out->large_ndalloc = atomic_load_relaxed(&a->large.ndalloc);
	out->large_allocated = atomic_load_relaxed(&a->large.allocated);
	out->nthreads = atomic_load_relaxed(&a->nthreads);
	out->tcache_bytes = tcache_bytes_of_arena(a->ind);
}

void
stats_snapshot(stats_global_t *out)
{
	base_stats_t gb;
	base_stats_read(stats_global_base, &gb);
	size_t meta = gb.allocated, meta_resident = gb.resident, meta_mapped = gb.mapped;
	size_t allocated = 0, active = 0, dirty = 0, retained = 0;
	for (unsigned i = 0; i < arena_narenas_total(); i++) {
		arena_t *a = arena_get(i, false);
		if (a == NULL)
			continue;
		stats_arena_t s;
		stats_arena_read(a, &s);
		allocated += s.small_allocated + s.large_allocated;
		active += s.pages.active_pages << LG_PAGE;
		dirty += s.pages.dirty_pages << LG_PAGE;
		retained += s.pages.retained_pages << LG_PAGE;
		meta += s.base.allocated;
		meta_resident += s.base.resident;
		meta_mapped += s.base.mapped;
	}
	*out = (stats_global_t){
		.allocated = allocated,
		.active = active,
		.metadata = meta,
		.resident = meta_resident + active + dirty,
		.mapped = meta_mapped + active + dirty,
		.retained = retained,
	};
}

typedef struct stats_out {
	stats_write_cb_t *cb;
	void *cbopaque;
} stats_out_t;

__attribute__((format(printf, 2, 3))) static void
stats_line(stats_out_t *out, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	msg_vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out->cb(out->cbopaque, buf);
}

/* One line per option of the option table, as opt.<name> reads. */
static void
stats_print_options(stats_out_t *out)
{
	stats_line(out, "Run-time option settings:\n");
	for (unsigned i = 0; i < CONF_NOPTIONS; i++) {
		const conf_option_t *o = &conf_options[i];
		switch (o->kind) {
		case CONF_KIND_BOOL:
			stats_line(out, "  opt.%s: %s\n", o->name, o->get() ? "true" : "false");
			break;
		case CONF_KIND_CHOICE:
			stats_line(out, "  opt.%s: \"%s\"\n", o->name, o->values[o->get()]);
			break;
		case CONF_KIND_UINT:
		case CONF_KIND_UINT_CLIP:
			stats_line(out, "  opt.%s: %ju\n", o->name, o->get());
			break;
		case CONF_KIND_UINT_AUTO: /* narenas: 0 means automatic */
			stats_line(out, "  opt.%s: %u\n", o->name, arena_narenas_auto());
			break;
		case CONF_KIND_SINT:
			stats_line(out, "  opt.%s: %jd\n", o->name, (intmax_t)o->get());
			break;
		case CONF_KIND_LIMIT: /* "auto", "off" or the byte count */
		case CONF_KIND_FXP:   /* jemalloc's fixed-point text */
		case CONF_KIND_LETTERS:
		case CONF_KIND_STRING:
			stats_line(out, "  opt.%s: \"%s\"\n", o->name, o->text);
			break;
		case CONF_KIND_LG_ALIAS:
		case CONF_KIND_RANGES:
			break;
		}
	}
}

static void
stats_print_general(stats_out_t *out)
{
	stats_line(out, "Version: \"%s\"\n", STRATA_VERSION);
	stats_print_options(out);
	stats_line(out, "Arenas: %u\n", arena_narenas_total());
	stats_line(out, "Quantum size: %zu\n", QUANTUM);
	stats_line(out, "Page size: %zu\n", PAGE);
	background_stats_t bg;
	background_stats_read(&bg);
	stats_line(out, "Background threads: %zu, num_runs: %llu, run_interval: %llu ns\n",
	           bg.num_threads, (unsigned long long)bg.num_runs,
	           (unsigned long long)bg.run_interval_ns);
	stats_line(out, "Memory limit: %zu (%s), usage: %zu, releases: %llu, released: %llu\n",
	           bg.memlimit_limit, bg.memlimit_source, bg.memlimit_usage,
	           (unsigned long long)bg.memlimit_releases,
	           (unsigned long long)bg.memlimit_released);
}

/* The free extents of arena a by page-size class, the non-empty classes
 * only (stats.arenas.<i>.extents.<j>). */
static void
stats_print_extents(stats_out_t *out, arena_t *a)
{
	pages_extent_stats_t x[SZ_NPSIZES];
	pages_extents_stats_read(&a->pages, x);
	stats_line(out, "extents:        size ind       ndirty        dirty       nmuzzy        muzzy"
	                "    nretained     retained\n");
	for (unsigned j = 0; j < SZ_NPSIZES; j++) {
		if (x[j].ndirty + x[j].nmuzzy + x[j].nretained == 0)
			continue;
		stats_line(out, "     %15zu %3u %12zu %12zu %12zu %12zu %12zu %12zu\n",
		           sz_pind2sz_tab[j], j, x[j].ndirty, x[j].dirty_bytes, x[j].nmuzzy,
		           x[j].muzzy_bytes, x[j].nretained, x[j].retained_bytes);
	}
}

static void
stats_print_arena(stats_out_t *out, unsigned ind, const stats_arena_t *s, bool bins, bool large)
{
	stats_line(out, "arena[%u]:\n", ind);
	stats_line(out, "assigned threads: %u\n", s->nthreads);
	stats_line(out, "bytes in thread caches: %zu\n", s->tcache_bytes);
	stats_line(out, "decay: dirty_decay_ms: %zd  muzzy_decay_ms: %zd\n",
	           s->pages.dirty_decay_ms, s->pages.muzzy_decay_ms);
	stats_line(out, "pactive: %zu  pdirty: %zu  pmuzzy: %zu  retained: %zu  mapped: %zu\n",
	           s->pages.active_pages, s->pages.dirty_pages, s->pages.muzzy_pages,
	           s->pages.retained_pages << LG_PAGE, s->pages.mapped);
	stats_line(out, "                   npurge       nmadvise         purged\n");
	stats_line(out, "dirty:     %12llu   %12llu   %12llu\n",
	           (unsigned long long)s->pages.dirty.npurge,
	           (unsigned long long)s->pages.dirty.nmadvise,
	           (unsigned long long)s->pages.dirty.purged);
	stats_line(out, "muzzy:     %12llu   %12llu   %12llu\n",
	           (unsigned long long)s->pages.muzzy.npurge,
	           (unsigned long long)s->pages.muzzy.nmadvise,
	           (unsigned long long)s->pages.muzzy.purged);
	stats_line(out, "metadata: %zu bytes\n", s->base.allocated);
	stats_line(out, "small: allocated %zu\n", s->small_allocated);
	if (large)
		stats_line(out, "large: allocated %zu  nmalloc %llu  ndalloc %llu\n",
		           s->large_allocated, (unsigned long long)s->large_nmalloc,
		           (unsigned long long)s->large_ndalloc);
	if (!bins)
		return;
	stats_line(out, "bins:           size ind    allocated      nmalloc      ndalloc"
	                "    curregs   curslabs  nslabs regs pgs\n");
	for (unsigned i = 0; i < SZ_NBINS; i++) {
		const bin_stats_t *b = &s->bins[i];
		if (b->nmalloc == 0)
			continue;
		const bin_info_t *info = &sz_bin_info[i];
		stats_line(out, "            %8zu %3u %12zu %12llu %12llu %10zu %10zu %7llu %4u %3zu\n",
		           info->reg_size, i, b->curregs * info->reg_size,
		           (unsigned long long)b->nmalloc, (unsigned long long)b->ndalloc,
		           b->curregs, b->curslabs, (unsigned long long)b->nslabs, info->nregs,
		           info->slab_size >> LG_PAGE);
	}
}

void
stats_print(stats_write_cb_t *write_cb, void *cbopaque, const char *opts)
{
	stats_out_t out = {write_cb, cbopaque};
	bool general = true, per_arena = true, bins = true, large = true, extents = true;
	for (const char *o = opts != NULL ? opts : ""; *o != '\0'; o++) {
		switch (*o) {
		case 'g': general = false; break;
		case 'a': per_arena = false; break;
		case 'b': bins = false; break;
		case 'l': large = false; break;
		case 'e': extents = false; break;
		default: break;
		}
	}
	stats_line(&out, "___ Begin strata statistics ___\n");
	if (general)
		stats_print_general(&out);
	stats_global_t g;
	stats_snapshot(&g);
	stats_line(&out, "Allocated: %zu, active: %zu, metadata: %zu, resident: %zu, mapped: %zu, "
	                 "retained: %zu\n",
	           g.allocated, g.active, g.metadata, g.resident, g.mapped, g.retained);
	if (per_arena) {
		for (unsigned i = 0; i < arena_narenas_total(); i++) {
			arena_t *a = arena_get(i, false);
			if (a == NULL)
				continue;
			stats_arena_t s;
			stats_arena_read(a, &s);
			stats_print_arena(&out, i, &s, bins, large);
			if (extents)
				stats_print_extents(&out, a);
		}
	}
	stats_line(&out, "--- End strata statistics ---\n");
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
