/*
 * profile.c — the profile model: sources, mappings, interned locations,
 * samples and the unsampling formula.  See profile.h for the invariants.
 *
 * The location table is an open-addressing hash on (source, address), kept at
 * most half full.
 */
#include "profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void
profile_init(profile_t *p)
{
	memset(p, 0, sizeof(*p));
	strtab_init(&p->strs);
	p->nlochash = 1024;
	p->lochash = mem_zalloc(p->nlochash * sizeof(*p->lochash));
}

void
profile_fini(profile_t *p)
{
	for (size_t i = 0; i < p->nsources; i++) {
		free(p->sources[i].maps);
		free(p->sources[i].syms);
	}
	free(p->sources);
	free(p->locs);
	free(p->lochash);
	free(p->lines);
	free(p->stack);
	free(p->samples);
	free(p->symnames);
	strtab_fini(&p->strs);
	memset(p, 0, sizeof(*p));
}

uint32_t
profile_add_source(profile_t *p, const char *file, bool is_base)
{
	mem_grow(&p->sources, &p->capsources, p->nsources + 1, sizeof(*p->sources));
	profile_source_t *s = &p->sources[p->nsources];
	memset(s, 0, sizeof(*s));
	s->file = strtab_intern_cstr(&p->strs, file);
	s->is_base = is_base;
	s->period = 1;
	s->maps_hash = STRTAB_HASH_SEED;
	return (uint32_t)p->nsources++;
}

void
profile_add_mapping(profile_t *p, uint32_t source, const profile_mapping_t *m)
{
	profile_source_t *s = &p->sources[source];
	mem_grow(&s->maps, &s->capmaps, s->nmaps + 1, sizeof(*s->maps));
	s->maps[s->nmaps++] = *m;
	uint64_t key[4] = {m->start, m->end, m->offset, m->path};
	s->maps_hash = strtab_hash_bytes(key, sizeof(key), s->maps_hash);
	s->maps_hash = strtab_hash_bytes(&m->exec, sizeof(m->exec), s->maps_hash);
}

void
profile_add_symbol(profile_t *p, uint32_t source, uint64_t addr, const uint32_t *names, uint32_t n)
{
	profile_source_t *s = &p->sources[source];
	mem_grow(&s->syms, &s->capsyms, s->nsyms + 1, sizeof(*s->syms));
	mem_grow(&p->symnames, &p->capsymnames, p->nsymnames + n, sizeof(*p->symnames));
	s->syms[s->nsyms++] = (profile_symbol_t){addr, (uint32_t)p->nsymnames, n};
	memcpy(p->symnames + p->nsymnames, names, n * sizeof(*names));
	p->nsymnames += n;
}

static int
profile_compare_symbols(const void *a, const void *b)
{
	const profile_symbol_t *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void
profile_sort_symbols(profile_t *p, uint32_t source)
{
	profile_source_t *s = &p->sources[source];
	if (s->nsyms > 1)
		qsort(s->syms, s->nsyms, sizeof(*s->syms), profile_compare_symbols);
}

const profile_symbol_t *
profile_find_symbol(const profile_t *p, uint32_t source, uint64_t addr)
{
	const profile_source_t *s = &p->sources[source];
	size_t lo = 0, hi = s->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->syms[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nsyms && s->syms[lo].addr == addr ? &s->syms[lo] : NULL;
}

static uint64_t
profile_hash_location(uint32_t source, uint64_t addr)
{
	uint64_t key[2] = {source, addr};
	return strtab_hash_bytes(key, sizeof(key), STRTAB_HASH_SEED);
}

static void
profile_grow_lochash(profile_t *p)
{
	size_t n = p->nlochash * 2;
	uint32_t *h = mem_zalloc(n * sizeof(*h));
	for (size_t id = 0; id < p->nlocs; id++) {
		size_t i = profile_hash_location(p->locs[id].source, p->locs[id].addr) & (n - 1);
		while (h[i] != 0)
			i = (i + 1) & (n - 1);
		h[i] = (uint32_t)id + 1;
	}
	free(p->lochash);
	p->lochash = h;
	p->nlochash = n;
}

static uint32_t
profile_find_mapping(const profile_source_t *s, uint64_t addr)
{
	for (size_t i = 0; i < s->nmaps; i++)
		if (addr >= s->maps[i].start && addr < s->maps[i].end)
			return (uint32_t)i;
	return PROFILE_NONE;
}

uint32_t
profile_intern_location(profile_t *p, uint32_t source, uint64_t addr)
{
	size_t mask = p->nlochash - 1;
	size_t i = profile_hash_location(source, addr) & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t slot = p->lochash[i];
		if (slot == 0)
			break;
		const profile_location_t *l = &p->locs[slot - 1];
		if (l->addr == addr && l->source == source)
			return slot - 1;
	}
	mem_grow(&p->locs, &p->caplocs, p->nlocs + 1, sizeof(*p->locs));
	uint32_t id = (uint32_t)p->nlocs++;
	p->locs[id] = (profile_location_t){
		.addr = addr,
		.source = source,
		.mapping = PROFILE_NONE,
		.trim = PROFILE_TRIM_NO,
	};
	p->lochash[i] = id + 1;
	if (2 * p->nlocs > p->nlochash)
		profile_grow_lochash(p);
	return id;
}

void
profile_add_sample(profile_t *p, uint32_t source, const uint64_t *pcs, size_t npcs,
		   const double v[PROFILE_NVALUES])
{
	mem_grow(&p->samples, &p->capsamples, p->nsamples + 1, sizeof(*p->samples));
	mem_grow(&p->stack, &p->capstack, p->nstack + npcs, sizeof(*p->stack));
	profile_sample_t *s = &p->samples[p->nsamples++];
	s->first = (uint32_t)p->nstack;
	s->n = (uint32_t)npcs;
	s->source = source;
	double sign = p->sources[source].is_base ? -1.0 : 1.0;
	for (int k = 0; k < PROFILE_NVALUES; k++)
		s->v[k] = sign * v[k];
	for (size_t i = 0; i < npcs; i++) {
		uint64_t addr = i == 0 || pcs[i] == 0 ? pcs[i] : pcs[i] - 1;
		uint32_t loc = profile_intern_location(p, source, addr);
		if (p->locs[loc].mapping == PROFILE_NONE)
			p->locs[loc].mapping = profile_find_mapping(&p->sources[source], addr);
		p->stack[p->nstack++] = loc;
	}
}

void
profile_set_lines(profile_t *p, uint32_t loc, const profile_line_t *lines, uint32_t n)
{
	mem_grow(&p->lines, &p->caplines, p->nlines + n, sizeof(*p->lines));
	memcpy(p->lines + p->nlines, lines, n * sizeof(*lines));
	p->locs[loc].first_line = (uint32_t)p->nlines;
	p->locs[loc].nlines = n;
	p->nlines += n;
}

void
profile_unbias(double *objs, double *bytes, uint64_t period)
{
	if (*objs == 0 || period == 0)
		return;
	double ratio = (*bytes / *objs) / (double)period;
	double scale = 1.0 / (1.0 - exp(-ratio));
	*objs *= scale;
	*bytes *= scale;
}

uint32_t
profile_count_allocator_frames(const profile_t *p, const profile_sample_t *s)
{
	const uint32_t *stack = p->stack + s->first;
	uint32_t trim = 0;
	while (trim < s->n && p->locs[stack[trim]].trim == PROFILE_TRIM_MAPPING)
		trim++;
	for (uint32_t i = s->n; i > trim; i--)
		if (p->locs[stack[i - 1]].trim == PROFILE_TRIM_NAME)
			return i;
	return trim;
}
