/*
 * profile.h — the in-memory model of one or more heap profiles, shaped like
 * pprof's profile.proto: samples point at locations (one per distinct address
 * of one input), locations carry their symbolized lines (inline chain), and
 * every string lives once in the string table.
 *
 * Invariants:
 * - sample values are already unbiased (docs/compat.md "Unbiasing": each dump line scaled
 *   on its own, before anything is summed) and base samples (--base) are
 *   stored negated, so any sum over samples is the diff.
 * - a sample's stack is innermost frame first; every frame but the first
 *   holds the return address minus one (the call instruction), as jeprof
 *   does, so symbolization of callers lands on the call's line.
 * - a location's lines are innermost first; the last line is the function
 *   the address really belongs to, the earlier ones are inlined into it.
 * - locations are unique per (source, address).
 */
#ifndef JEPROF_PROFILE_H
#define JEPROF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strtab.h"

enum profile_value {
	PROFILE_INUSE_OBJECTS,
	PROFILE_INUSE_SPACE,
	PROFILE_ALLOC_OBJECTS,
	PROFILE_ALLOC_SPACE,
	PROFILE_NVALUES
};

#define PROFILE_NONE UINT32_MAX

typedef struct profile_mapping {
	uint64_t start, end, offset;
	uint32_t path; /* strtab id; 0 for an anonymous mapping */
	bool exec;     /* 'x' in the permissions */
} profile_mapping_t;

/* Names given for one address by a symbolized profile (--raw output). */
typedef struct profile_symbol {
	uint64_t addr;
	uint32_t first, n; /* into profile.symnames, outermost first as jeprof writes */
} profile_symbol_t;

/* One input file. */
typedef struct profile_source {
	uint32_t file;   /* strtab id of the file name */
	uint32_t binary; /* strtab id of "binary=" of a symbolized profile, else 0 */
	uint64_t period; /* the sampling rate R of heap_v2/<R> */
	bool is_base;    /* given with --base: values are negated */
	profile_mapping_t *maps;
	size_t nmaps, capmaps;
	uint64_t maps_hash; /* equal hashes and counts: the same mapping set */
	profile_symbol_t *syms; /* sorted by addr; only for symbolized profiles */
	size_t nsyms, capsyms;
} profile_source_t;

typedef struct profile_line {
	uint32_t func; /* strtab id of the demangled name; 0 when unknown */
	uint32_t file; /* strtab id of the source file; 0 when unknown */
	uint32_t line; /* 0 when unknown */
} profile_line_t;

/* Why a location belongs to the allocator (docs/compat.md, "Allocator frames"). */
enum profile_trim {
	PROFILE_TRIM_NO,      /* an application frame */
	PROFILE_TRIM_NAME,    /* its function is an allocator entry point (malloc, ...) */
	PROFILE_TRIM_MAPPING, /* it lies in the allocator's library (libjemalloc, libstrata) */
};

typedef struct profile_location {
	uint64_t addr;
	uint32_t source;
	uint32_t mapping;           /* index into the source's maps or PROFILE_NONE */
	uint32_t first_line, nlines; /* into profile.lines; nlines 0 = unsymbolized */
	uint8_t trim;                /* enum profile_trim, set by the symbolizer */
	uint32_t alloc_lines;        /* innermost lines that are allocator functions
					inlined here (fewer than nlines) */
} profile_location_t;

typedef struct profile_sample {
	uint32_t first, n; /* into profile.stack: location ids, innermost first */
	uint32_t source;
	double v[PROFILE_NVALUES];
} profile_sample_t;

typedef struct profile {
	strtab_t strs;
	profile_source_t *sources;
	size_t nsources, capsources;
	profile_location_t *locs;
	size_t nlocs, caplocs;
	uint32_t *lochash; /* open addressing: loc id + 1, 0 empty */
	size_t nlochash;
	profile_line_t *lines;
	size_t nlines, caplines;
	uint32_t *stack;
	size_t nstack, capstack;
	profile_sample_t *samples;
	size_t nsamples, capsamples;
	uint32_t *symnames; /* strtab ids referenced by profile_symbol_t */
	size_t nsymnames, capsymnames;
} profile_t;

void profile_init(profile_t *p);
void profile_fini(profile_t *p);

uint32_t profile_add_source(profile_t *p, const char *file, bool is_base);
void profile_add_mapping(profile_t *p, uint32_t source, const profile_mapping_t *m);
void profile_add_symbol(profile_t *p, uint32_t source, uint64_t addr, const uint32_t *names,
			uint32_t n);
/* Sorts the symbols of a symbolized source; call once its section is read. */
void profile_sort_symbols(profile_t *p, uint32_t source);
const profile_symbol_t *profile_find_symbol(const profile_t *p, uint32_t source, uint64_t addr);

/* Returns the id of the location for (source, addr), creating it. */
uint32_t profile_intern_location(profile_t *p, uint32_t source, uint64_t addr);
/* Appends a sample; pcs are raw return addresses, innermost first. */
void profile_add_sample(profile_t *p, uint32_t source, const uint64_t *pcs, size_t npcs,
			const double v[PROFILE_NVALUES]);
/* Sets the lines of a location (innermost first). */
void profile_set_lines(profile_t *p, uint32_t loc, const profile_line_t *lines, uint32_t n);

/*
 * jeprof's unsampling of one count line of a heap_v2/<period> dump: scales
 * *objs and *bytes by 1 / (1 - exp(-(bytes / objs) / period)).
 */
void profile_unbias(double *objs, double *bytes, uint64_t period);

/*
 * The number of innermost frames of a sample that belong to the allocator
 * (docs/compat.md "Allocator frames"): everything up to and including the outermost frame whose
 * function is an allocator entry point, and the innermost run of frames that
 * lie in the allocator's library.
 */
uint32_t profile_count_allocator_frames(const profile_t *p, const profile_sample_t *s);

static inline const profile_line_t *
profile_location_lines(const profile_t *p, const profile_location_t *l)
{
	return p->lines + l->first_line;
}

#endif
