/*
 * out_recent.c — the --recent report of out_recent.h.
 *
 * Records are chosen newest first: by requested size, by allocating thread,
 * then by the names of their alloc stack (--focus keeps a record when any
 * frame's function matches, --ignore drops it when any does), until
 * max_records are chosen; only then is anything written, so a bad regex
 * leaves the output empty.  A stack is trimmed of allocator frames (and of
 * allocator functions inlined into its first kept frame) as the graph does
 * for heap dumps (graph.c), and names are jeprof's short function names.
 */
#include "out_recent.h"

#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>

#include "graph.h"
#include "symname.h"

/* One printed frame: an inline level of a location. */
typedef struct out_recent_frame {
	char *name;     /* short function name, the address when unsymbolized, or NULL (unknown) */
	bool inlined;   /* inlined into the next frame */
	uint32_t file;  /* strtab id in prof.strs; 0 unknown */
	uint32_t line;  /* 0 unknown */
} out_recent_frame_t;

typedef struct out_recent_stack {
	out_recent_frame_t *frames;
	size_t n, cap;
} out_recent_stack_t;

typedef struct out_recent_filter {
	const out_recent_options_t *o;
	regex_t focus, ignore;
	bool has_focus, has_ignore;
	out_recent_stack_t stack; /* scratch for matching */
} out_recent_filter_t;

static void
out_recent_clear(out_recent_stack_t *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->frames[i].name);
	st->n = 0;
}

static void
out_recent_push(out_recent_stack_t *st, char *name, bool inlined, uint32_t file, uint32_t line)
{
	mem_grow(&st->frames, &st->cap, st->n + 1, sizeof(*st->frames));
	st->frames[st->n++] = (out_recent_frame_t){name, inlined, file, line};
}

/* The frames of sample (a record's trace), innermost first, allocator frames removed. */
static void
out_recent_collect(const profile_t *p, uint32_t sample, out_recent_stack_t *st)
{
	const profile_sample_t *s = &p->samples[sample];
	out_recent_clear(st);
	uint32_t skip = profile_count_allocator_frames(p, s);
	for (uint32_t i = skip; i < s->n; i++) {
		const profile_location_t *l = &p->locs[p->stack[s->first + i]];
		if (l->nlines == 0) {
			/* As the file wrote it: every frame but the first was moved back. */
			uint64_t written = i == 0 || l->addr == 0 ? l->addr : l->addr + 1;
			out_recent_push(st, mem_printf("0x%" PRIx64, written), false, 0, 0);
			continue;
		}
		const profile_line_t *lines = profile_location_lines(p, l);
		for (uint32_t k = i == skip ? l->alloc_lines : 0; k < l->nlines; k++) {
			const profile_line_t *ln = &lines[k];
			const char *func = ln->func != 0 ? strtab_get(&p->strs, ln->func) : NULL;
			out_recent_push(st, func != NULL ? symname_shorten(func) : NULL,
					k + 1 < l->nlines, ln->file, ln->line);
		}
	}
}

static bool
out_recent_any_frame_matches(const out_recent_stack_t *st, const regex_t *re)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->frames[i].name != NULL && regexec(re, st->frames[i].name, 0, NULL, 0) == 0)
			return true;
	return false;
}

static bool
out_recent_keep(out_recent_filter_t *flt, const recent_t *r, const recent_record_t *rec)
{
	const out_recent_options_t *o = flt->o;
	if (rec->size < o->min_size || rec->size > o->max_size)
		return false;
	if (o->thread >= 0 && rec->alloc.thread_uid != (uint64_t)o->thread)
		return false;
	if (!flt->has_focus && !flt->has_ignore)
		return true;
	out_recent_collect(&r->prof, rec->alloc.sample, &flt->stack);
	if (flt->has_ignore && out_recent_any_frame_matches(&flt->stack, &flt->ignore))
		return false;
	return !flt->has_focus || out_recent_any_frame_matches(&flt->stack, &flt->focus);
}

/* Compiles the --option regex pattern (none when NULL) into re; *has tells. */
static int
out_recent_compile(regex_t *re, bool *has, const char *pattern, const char *option, diag_t *d)
{
	int err = pattern != NULL ? graph_compile_regex(re, pattern, option, d) : 0;
	*has = pattern != NULL && err == 0;
	return err;
}

/* "1234ns", then one decimal in the largest unit that keeps it above 1: "1.2ms", "3.0min". */
static void
out_recent_format_duration(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		double ns, below; /* the next unit starts at below of this one */
	} units[] = {
		{"us", 1e3, 1000},
		{"ms", 1e6, 1000},
		{"s", 1e9, 60},
		{"min", 60e9, 60},
		{"h", 3600e9, HUGE_VAL},
	};
	if (ns < 1000) {
		snprintf(buf, len, "%" PRIu64 "ns", ns);
		return;
	}
	size_t u = 0;
	/* 0.05 below the limit: what would round up to it is shown in the next unit. */
	while ((double)ns / units[u].ns >= units[u].below - 0.05)
		u++;
	snprintf(buf, len, "%.1f%s", (double)ns / units[u].ns, units[u].unit);
}

/* "live", "freed", or "freed <lifetime>" when the free's time is known. */
static void
out_recent_format_state(const recent_record_t *rec, char *buf, size_t len)
{
	if (!rec->released) {
		snprintf(buf, len, "live");
		return;
	}
	if (!rec->has_dalloc) {
		snprintf(buf, len, "freed");
		return;
	}
	char lifetime[32];
	bool backwards = rec->dalloc.time < rec->alloc.time; /* a clock stepped back */
	out_recent_format_duration(backwards ? rec->alloc.time - rec->dalloc.time
					     : rec->dalloc.time - rec->alloc.time,
				   lifetime, sizeof(lifetime));
	snprintf(buf, len, "freed %s%s", backwards ? "-" : "", lifetime);
}

static void
out_recent_format_time(uint64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64 ".%09" PRIu64, ns / 1000000000, ns % 1000000000);
}

/* "t<uid>" and the thread's name, its control characters shown as '?'. */
static void
out_recent_write_thread(FILE *f, const recent_t *r, const recent_event_t *ev)
{
	fprintf(f, "t%" PRIu64, ev->thread_uid);
	if (ev->thread_name == 0)
		return;
	const char *name = strtab_get(&r->prof.strs, ev->thread_name);
	size_t n = strtab_len(&r->prof.strs, ev->thread_name);
	fputc(' ', f);
	for (size_t i = 0; i < n; i++)
		fputc((unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i], f);
}

static void
out_recent_write_stack(FILE *f, const recent_t *r, uint32_t sample, out_recent_stack_t *st)
{
	out_recent_collect(&r->prof, sample, st);
	if (st->n == 0)
		fputs("          (no frames)\n", f);
	for (size_t i = 0; i < st->n; i++) {
		const out_recent_frame_t *fr = &st->frames[i];
		fprintf(f, "          %s%s", fr->name != NULL ? fr->name : "??",
			fr->inlined ? " (inline)" : "");
		if (fr->file != 0 && fr->line != 0)
			fprintf(f, " %s:%" PRIu32, strtab_get(&r->prof.strs, fr->file), fr->line);
		else if (fr->file != 0)
			fprintf(f, " %s:?", strtab_get(&r->prof.strs, fr->file));
		fputc('\n', f);
	}
}

static void
out_recent_write_record(FILE *f, const recent_t *r, size_t index, out_recent_stack_t *st)
{
	const recent_record_t *rec = &r->recs[index];
	char time[32], state[48];
	out_recent_format_time(rec->alloc.time, time, sizeof(time));
	out_recent_format_state(rec, state, sizeof(state));
	fprintf(f, "%6zu  %-20s %10" PRIu64 " %10" PRIu64 "  %-13s ", index, time, rec->size,
		rec->usize, state);
	out_recent_write_thread(f, r, &rec->alloc);
	fputc('\n', f);
	out_recent_write_stack(f, r, rec->alloc.sample, st);
	if (!rec->has_dalloc)
		return;
	out_recent_format_time(rec->dalloc.time, time, sizeof(time));
	fputs("        freed by ", f);
	out_recent_write_thread(f, r, &rec->dalloc);
	fprintf(f, " at %s:\n", time);
	out_recent_write_stack(f, r, rec->dalloc.sample, st);
}

static void
out_recent_write_summary(FILE *f, const recent_t *r, const size_t *chosen, size_t n)
{
	size_t freed = 0;
	for (size_t i = 0; i < n; i++)
		freed += r->recs[chosen[i]].released;
	char max[32] = "unlimited";
	if (r->recent_alloc_max >= 0)
		snprintf(max, sizeof(max), "%" PRId64, r->recent_alloc_max);
	fprintf(f,
		"Recent allocations: %zu of %zu shown (%zu live, %zu freed), "
		"sample_interval %" PRIu64 ", recent_alloc_max %s\n",
		n, r->nrecs, n - freed, freed, r->sample_interval, max);
}

int
out_recent_write(FILE *f, const recent_t *r, const out_recent_options_t *o, diag_t *d)
{
	out_recent_filter_t flt = {.o = o};
	int err = out_recent_compile(&flt.focus, &flt.has_focus, o->focus, "focus", d);
	if (err == 0)
		err = out_recent_compile(&flt.ignore, &flt.has_ignore, o->ignore, "ignore", d);
	size_t *chosen = mem_alloc(r->nrecs * sizeof(*chosen));
	size_t n = 0;
	for (size_t i = r->nrecs; err == 0 && i > 0 && n < o->max_records; i--)
		if (out_recent_keep(&flt, r, &r->recs[i - 1]))
			chosen[n++] = i - 1;
	if (err == 0) {
		out_recent_write_summary(f, r, chosen, n);
		if (n > 0)
			fprintf(f, "%6s  %-20s %10s %10s  %-13s %s\n", "#", "alloc time (s)",
				"size", "usize", "state", "thread");
		for (size_t i = 0; i < n; i++)
			out_recent_write_record(f, r, chosen[i], &flt.stack);
	}
	free(chosen);
	out_recent_clear(&flt.stack);
	free(flt.stack.frames);
	if (flt.has_focus)
		regfree(&flt.focus);
	if (flt.has_ignore)
		regfree(&flt.ignore);
	return err;
}
