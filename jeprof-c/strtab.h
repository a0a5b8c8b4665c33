/*
 * strtab.h — a string table: interns strings and hands out dense ids.
 *
 * Id 0 is always the empty string (as in pprof's profile.proto string table),
 * ids are assigned in first-interned order and never change, and the bytes of
 * an interned string never move, so strtab_get() pointers stay valid until
 * strtab_fini().
 */
#ifndef JEPROF_STRTAB_H
#define JEPROF_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct strtab {
	char **strs;      /* id -> string (owned) */
	size_t *lens;     /* id -> length */
	size_t n, cap;    /* number of strings, capacity of strs/lens */
	uint32_t *slots;  /* open-addressing hash: id + 1, 0 = empty */
	size_t nslots;    /* power of two, > 2 * n */
} strtab_t;

void strtab_init(strtab_t *t);
void strtab_fini(strtab_t *t);
uint32_t strtab_intern(strtab_t *t, const char *s, size_t len);
uint32_t strtab_intern_cstr(strtab_t *t, const char *s);
/* Returns the id of s, or UINT32_MAX when it was never interned. */
uint32_t strtab_find(const strtab_t *t, const char *s, size_t len);

static inline const char *
strtab_get(const strtab_t *t, uint32_t id)
{
	return t->strs[id];
}

static inline size_t
strtab_len(const strtab_t *t, uint32_t id)
{
	return t->lens[id];
}

/* FNV-1a, shared by the other hash tables of jeprof-c. */
static inline uint64_t
strtab_hash_bytes(const void *p, size_t len, uint64_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#define STRTAB_HASH_SEED 14695981039346656037ULL

#endif
