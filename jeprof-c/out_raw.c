/*
 * out_raw.c — symbolized-profile writer.
 *
 * The heap section holds the samples of the non-base inputs, allocator
 * frames already removed (the reader of this file cannot tell which library
 * an address was in), return addresses restored (+1 on every frame but the
 * first, which already is the call instruction) and each
 * count line pre-biased with jemalloc's inverse of the unsampling formula
 * (docs/compat.md, "Unbiasing") for the first input's rate, so that reading the
 * file back unbiases to the same values, up to integer rounding.
 */
#include "out_raw.h"

#include <inttypes.h>
#include <math.h>

#include "symbolize.h"

/* The integers (objs, bytes) that unbias to (objs_out, bytes_out) at period. */
static void
out_raw_prebias(double objs_out, double bytes_out, uint64_t period, uint64_t *objs,
		uint64_t *bytes)
{
	*objs = *bytes = 0;
	if (!(objs_out > 0) || !(bytes_out > 0))
		return;
	double avg = bytes_out / objs_out;
	double b = bytes_out * (1 - exp(-avg / (double)period));
	double o = b / avg;
	*bytes = b >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)llround(b);
	*objs = o >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)llround(o);
}

static void
out_raw_write_symbols(FILE *f, const profile_t *p)
{
	for (size_t id = 0; id < p->nlocs; id++) {
		const profile_location_t *l = &p->locs[id];
		if (l->nlines == 0 || p->sources[l->source].is_base)
			continue;
		const profile_line_t *lines = profile_location_lines(p, l);
		fprintf(f, "0x%016" PRIx64, l->addr);
		for (uint32_t i = l->nlines; i > 0; i--) {
			uint32_t func = lines[i - 1].func;
			fprintf(f, "%s%s", i == l->nlines ? " " : "--",
				func != 0 ? strtab_get(&p->strs, func) : "??");
		}
		fputc('\n', f);
	}
}

int
out_raw_write(FILE *f, const profile_t *p, const char *program, diag_t *d)
{
	if (p->nsources == 0 || p->sources[0].is_base)
		return diag_fail(d, "--raw: no profile to write");
	const profile_source_t *first = &p->sources[0];
	uint64_t period = first->period;
	const char *binary = program != NULL ? program : symbolize_program_path(p, 0);
	fputs("--- symbol\n", f);
	if (binary != NULL)
		fprintf(f, "binary=%s\n", binary);
	out_raw_write_symbols(f, p);
	fputs("---\n--- heap\n", f);
	fprintf(f, "heap_v2/%" PRIu64 "\n", period);
	double total[PROFILE_NVALUES] = {0};
	for (size_t s = 0; s < p->nsamples; s++)
		if (!p->sources[p->samples[s].source].is_base)
			for (int k = 0; k < PROFILE_NVALUES; k++)
				total[k] += p->samples[s].v[k];
	uint64_t c[4];
	out_raw_prebias(total[0], total[1], period, &c[0], &c[1]);
	out_raw_prebias(total[2], total[3], period, &c[2], &c[3]);
	fprintf(f, "  t*: %" PRIu64 ": %" PRIu64 " [%" PRIu64 ": %" PRIu64 "]\n", c[0], c[1], c[2],
		c[3]);
	for (size_t s = 0; s < p->nsamples; s++) {
		const profile_sample_t *sm = &p->samples[s];
		if (p->sources[sm->source].is_base)
			continue;
		fputc('@', f);
		uint32_t skip = profile_count_allocator_frames(p, sm);
		for (uint32_t i = skip; i < sm->n; i++) {
			uint64_t addr = p->locs[p->stack[sm->first + i]].addr;
			fprintf(f, " 0x%" PRIx64, i == skip || addr == 0 ? addr : addr + 1);
		}
		out_raw_prebias(sm->v[PROFILE_INUSE_OBJECTS], sm->v[PROFILE_INUSE_SPACE], period,
				&c[0], &c[1]);
		out_raw_prebias(sm->v[PROFILE_ALLOC_OBJECTS], sm->v[PROFILE_ALLOC_SPACE], period,
				&c[2], &c[3]);
		fprintf(f, "\n  t*: %" PRIu64 ": %" PRIu64 " [%" PRIu64 ": %" PRIu64 "]\n", c[0],
			c[1], c[2], c[3]);
	}
	fputs("\nMAPPED_LIBRARIES:\n", f);
	for (size_t i = 0; i < first->nmaps; i++) {
		const profile_mapping_t *m = &first->maps[i];
		fprintf(f, "%" PRIx64 "-%" PRIx64 " %s %08" PRIx64 " 00:00 0 %s\n", m->start, m->end,
			m->exec ? "r-xp" : "r--p", m->offset, strtab_get(&p->strs, m->path));
	}
	return 0;
}
