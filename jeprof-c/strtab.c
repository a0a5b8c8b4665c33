/*
 * strtab.c — string interning with an open-addressing hash table.
 *
 * Invariants: slots has nslots entries (a power of two) and is at most half
 * full; each non-zero slot holds id + 1 of a string whose hash probes to it.
 */
#include "strtab.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

static void
strtab_rehash(strtab_t *t, size_t nslots)
{
	free(t->slots);
	t->slots = mem_zalloc(nslots * sizeof(*t->slots));
	t->nslots = nslots;
	for (size_t id = 0; id < t->n; id++) {
		uint64_t h = strtab_hash_bytes(t->strs[id], t->lens[id], STRTAB_HASH_SEED);
		size_t i = h & (nslots - 1);
		while (t->slots[i] != 0)
			i = (i + 1) & (nslots - 1);
		t->slots[i] = (uint32_t)id + 1;
	}
}

void
strtab_init(strtab_t *t)
{
	memset(t, 0, sizeof(*t));
	strtab_rehash(t, 64);
	strtab_intern(t, "", 0);
}

void
strtab_fini(strtab_t *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->strs[i]);
	free(t->strs);
	free(t->lens);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

uint32_t
strtab_find(const strtab_t *t, const char *s, size_t len)
{
	uint64_t h = strtab_hash_bytes(s, len, STRTAB_HASH_SEED);
	for (size_t i = h & (t->nslots - 1);; i = (i + 1) & (t->nslots - 1)) {
		uint32_t slot = t->slots[i];
		if (slot == 0)
			return UINT32_MAX;
		uint32_t id = slot - 1;
		if (t->lens[id] == len && memcmp(t->strs[id], s, len) == 0)
			return id;
	}
}

uint32_t
strtab_intern(strtab_t *t, const char *s, size_t len)
{
	uint32_t found = strtab_find(t, s, len);
	if (found != UINT32_MAX)
		return found;
	if (2 * (t->n + 1) > t->nslots)
		strtab_rehash(t, t->nslots * 2);
	size_t cap = t->cap;
	mem_grow(&t->strs, &cap, t->n + 1, sizeof(*t->strs));
	mem_grow(&t->lens, &t->cap, t->n + 1, sizeof(*t->lens));
	uint32_t id = (uint32_t)t->n++;
	t->strs[id] = mem_strndup(s, len);
	t->lens[id] = len;
	uint64_t h = strtab_hash_bytes(s, len, STRTAB_HASH_SEED);
	size_t i = h & (t->nslots - 1);
	while (t->slots[i] != 0)
		i = (i + 1) & (t->nslots - 1);
	t->slots[i] = id + 1;
	return id;
}

uint32_t
strtab_intern_cstr(strtab_t *t, const char *s)
{
	return strtab_intern(t, s, strlen(s));
}
