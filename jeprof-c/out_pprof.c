/*
 * out_pprof.c — a hand-written protobuf encoder for profile.proto and the
 * gzip stream around it.
 *
 * Encoding: varints and length-delimited fields only; a nested message is
 * encoded into its own buffer first, then appended with its length.  Ids of
 * mappings, locations and functions start at 1 (0 means "none" in pprof);
 * string 0 is "" as the format requires.  Allocator frames are removed from
 * each sample exactly as for the other outputs.
 */
#include "out_pprof.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct out_pprof_buf {
	uint8_t *b;
	size_t n, cap;
} out_pprof_buf_t;

static void
out_pprof_put_varint(out_pprof_buf_t *w, uint64_t v)
{
	mem_grow(&w->b, &w->cap, w->n + 10, 1);
	while (v >= 0x80) {
		w->b[w->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->b[w->n++] = (uint8_t)v;
}

static void
out_pprof_put_uint(out_pprof_buf_t *w, uint32_t field, uint64_t v)
{
	out_pprof_put_varint(w, (uint64_t)field << 3);
	out_pprof_put_varint(w, v);
}

static void
out_pprof_put_bytes(out_pprof_buf_t *w, uint32_t field, const void *data, size_t len)
{
	out_pprof_put_varint(w, (uint64_t)field << 3 | 2);
	out_pprof_put_varint(w, len);
	mem_grow(&w->b, &w->cap, w->n + len, 1);
	memcpy(w->b + w->n, data, len);
	w->n += len;
}

/* Appends sub as field of w and empties sub for reuse. */
static void
out_pprof_put_message(out_pprof_buf_t *w, uint32_t field, out_pprof_buf_t *sub)
{
	out_pprof_put_bytes(w, field, sub->b, sub->n);
	sub->n = 0;
}

typedef struct out_pprof_writer {
	const profile_t *p;
	strtab_t strs;      /* the string_table */
	strtab_t funcs;     /* "name\nfile" keys of emitted functions, id = function id */
	uint32_t *loc_id;   /* profile location -> pprof location id, 0 = not yet */
	uint32_t *map_base; /* per source: pprof id of its mapping 0, minus 1 */
	out_pprof_buf_t out, sub, sub2;
} out_pprof_writer_t;

static uint32_t
out_pprof_string(out_pprof_writer_t *w, uint32_t profile_str)
{
	const char *s = strtab_get(&w->p->strs, profile_str);
	return strtab_intern(&w->strs, s, strtab_len(&w->p->strs, profile_str));
}

static void
out_pprof_value_type(out_pprof_writer_t *w, uint32_t field, const char *type, const char *unit)
{
	out_pprof_put_uint(&w->sub, 1, strtab_intern_cstr(&w->strs, type));
	out_pprof_put_uint(&w->sub, 2, strtab_intern_cstr(&w->strs, unit));
	out_pprof_put_message(&w->out, field, &w->sub);
}

/* The function id for (func, file), emitting the Function message once. */
static uint32_t
out_pprof_function(out_pprof_writer_t *w, const profile_line_t *ln)
{
	const char *name = strtab_get(&w->p->strs, ln->func);
	const char *file = strtab_get(&w->p->strs, ln->file);
	char *key = mem_printf("%s\n%s", name, file);
	size_t before = w->funcs.n;
	uint32_t id = strtab_intern_cstr(&w->funcs, key);
	free(key);
	if (w->funcs.n > before) {
		uint32_t sname = out_pprof_string(w, ln->func);
		out_pprof_put_uint(&w->sub2, 1, id);
		out_pprof_put_uint(&w->sub2, 2, sname);
		out_pprof_put_uint(&w->sub2, 3, sname);
		out_pprof_put_uint(&w->sub2, 4, out_pprof_string(w, ln->file));
		out_pprof_put_message(&w->out, 5, &w->sub2);
	}
	return id;
}

static uint32_t
out_pprof_location(out_pprof_writer_t *w, uint32_t loc)
{
	if (w->loc_id[loc] != 0)
		return w->loc_id[loc];
	const profile_location_t *l = &w->p->locs[loc];
	uint32_t id = loc + 1;
	w->loc_id[loc] = id;
	/* Functions first: their messages go to w->out before this location's. */
	uint32_t *fids = mem_alloc((l->nlines + 1) * sizeof(*fids));
	const profile_line_t *lines = profile_location_lines(w->p, l);
	for (uint32_t i = 0; i < l->nlines; i++)
		fids[i] = lines[i].func != 0 ? out_pprof_function(w, &lines[i]) : 0;
	out_pprof_put_uint(&w->sub, 1, id);
	if (l->mapping != PROFILE_NONE)
		out_pprof_put_uint(&w->sub, 2, w->map_base[l->source] + l->mapping + 1);
	out_pprof_put_uint(&w->sub, 3, l->addr);
	for (uint32_t i = 0; i < l->nlines; i++) {
		if (fids[i] == 0)
			continue;
		out_pprof_put_uint(&w->sub2, 1, fids[i]);
		out_pprof_put_uint(&w->sub2, 2, lines[i].line);
		out_pprof_put_message(&w->sub, 4, &w->sub2);
	}
	free(fids);
	out_pprof_put_message(&w->out, 4, &w->sub);
	return id;
}

static void
out_pprof_write_mappings(out_pprof_writer_t *w)
{
	const profile_t *p = w->p;
	uint32_t next = 0;
	for (size_t s = 0; s < p->nsources; s++) {
		const profile_source_t *src = &p->sources[s];
		w->map_base[s] = next;
		for (size_t i = 0; i < src->nmaps; i++) {
			const profile_mapping_t *m = &src->maps[i];
			out_pprof_put_uint(&w->sub, 1, next + i + 1);
			out_pprof_put_uint(&w->sub, 2, m->start);
			out_pprof_put_uint(&w->sub, 3, m->end);
			out_pprof_put_uint(&w->sub, 4, m->offset);
			out_pprof_put_uint(&w->sub, 5, out_pprof_string(w, m->path));
			out_pprof_put_uint(&w->sub, 7, 1);
			out_pprof_put_uint(&w->sub, 8, 1);
			out_pprof_put_uint(&w->sub, 9, 1);
			out_pprof_put_uint(&w->sub, 10, 1);
			out_pprof_put_message(&w->out, 3, &w->sub);
		}
		next += (uint32_t)src->nmaps;
	}
}

static void
out_pprof_encode(out_pprof_writer_t *w, const out_options_t *o)
{
	static const char *const types[PROFILE_NVALUES] = {
		[PROFILE_INUSE_OBJECTS] = "inuse_objects",
		[PROFILE_INUSE_SPACE] = "inuse_space",
		[PROFILE_ALLOC_OBJECTS] = "alloc_objects",
		[PROFILE_ALLOC_SPACE] = "alloc_space",
	};
	/* pprof's conventional order for heap profiles. */
	static const enum profile_value order[PROFILE_NVALUES] = {
		PROFILE_ALLOC_OBJECTS, PROFILE_ALLOC_SPACE, PROFILE_INUSE_OBJECTS,
		PROFILE_INUSE_SPACE};
	const profile_t *p = w->p;
	for (int i = 0; i < PROFILE_NVALUES; i++)
		out_pprof_value_type(w, 1, types[order[i]],
				     order[i] == PROFILE_INUSE_OBJECTS ||
						     order[i] == PROFILE_ALLOC_OBJECTS
					     ? "count"
					     : "bytes");
	out_pprof_write_mappings(w);
	out_pprof_buf_t ids = {0}, vals = {0};
	for (size_t s = 0; s < p->nsamples; s++) {
		const profile_sample_t *sm = &p->samples[s];
		uint32_t skip = profile_count_allocator_frames(p, sm);
		ids.n = vals.n = 0;
		for (uint32_t i = skip; i < sm->n; i++)
			out_pprof_put_varint(&ids, out_pprof_location(w, p->stack[sm->first + i]));
		for (int i = 0; i < PROFILE_NVALUES; i++)
			out_pprof_put_varint(&vals, (uint64_t)llround(sm->v[order[i]]));
		out_pprof_put_bytes(&w->sub, 1, ids.b, ids.n);
		out_pprof_put_bytes(&w->sub, 2, vals.b, vals.n);
		out_pprof_put_message(&w->out, 2, &w->sub);
	}
	free(ids.b);
	free(vals.b);
	out_pprof_value_type(w, 11, "space", "bytes");
	out_pprof_put_uint(&w->out, 12, p->nsources > 0 ? p->sources[0].period : 1);
	out_pprof_put_uint(&w->out, 14, strtab_intern_cstr(&w->strs, types[o->value]));
	/* The string table goes last: every string is interned by now. */
	for (size_t i = 0; i < w->strs.n; i++)
		out_pprof_put_bytes(&w->out, 6, strtab_get(&w->strs, (uint32_t)i),
				    strtab_len(&w->strs, (uint32_t)i));
}

/* Writes data gzip-compressed to f. */
static int
out_pprof_gzip(FILE *f, const uint8_t *data, size_t len, diag_t *d)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return diag_fail(d, "zlib: cannot start compression");
	uint8_t chunk[1 << 15];
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	int rc, err = 0;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		size_t have = sizeof(chunk) - z.avail_out;
		if (fwrite(chunk, 1, have, f) != have) {
			err = diag_fail(d, "writing the profile: %s", strerror(errno));
			break;
		}
	} while (rc == Z_OK);
	if (err == 0 && rc != Z_STREAM_END)
		err = diag_fail(d, "zlib: compression failed");
	deflateEnd(&z);
	return err;
}

int
out_pprof_write(FILE *f, const profile_t *p, const out_options_t *o, diag_t *d)
{
	out_pprof_writer_t w = {.p = p};
	strtab_init(&w.strs);
	strtab_init(&w.funcs);
	w.loc_id = mem_zalloc((p->nlocs + 1) * sizeof(*w.loc_id));
	w.map_base = mem_zalloc((p->nsources + 1) * sizeof(*w.map_base));
	out_pprof_encode(&w, o);
	int err = out_pprof_gzip(f, w.out.b, w.out.n, d);
	strtab_fini(&w.strs);
	strtab_fini(&w.funcs);
	free(w.loc_id);
	free(w.map_base);
	free(w.out.b);
	free(w.sub.b);
	free(w.sub2.b);
	return err;
}
