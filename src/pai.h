/*
 * pai.h — the page allocator interface: how the objects layer (bin.c,
 * large.c) gets, resizes and returns runs of pages without knowing which
 * page backend serves it.  L2.
 *
 * A backend embeds a pai_t as the first member of its own state and fills
 * in the operations; an arena holds a pointer to the backend it uses.
 * Today the extent page allocator (pages.c) is the only backend; a
 * huge-page-aware one and node-bound ones plug in beside it
 * (docs/design.md, "Page backends").  Every operation is a slow-path call:
 * slabs are allocated and freed in batches, large extents one at a time.
 *
 * Contracts, whichever backend:
 *   alloc  — an active extent of size bytes (a PAGE multiple) aligned to
 *            alignment (a power of two >= PAGE), registered in the page map
 *            with szind and the slab bit, zeroed if asked; NULL when out of
 *            memory.
 *   expand — grows an active large extent in place to new_size; false when
 *            it cannot (the extent is unchanged).  New bytes zeroed if asked.
 *   shrink — shrinks an active large extent in place to new_size; false
 *            when it cannot (the extent is unchanged).
 *   free   — takes an active extent back.
 *   purge  — returns every freed page the backend holds to the OS; the bytes
 *            purged.
 */
#ifndef STRATA_PAI_H
#define STRATA_PAI_H

#include "extent.h"

typedef struct pai pai_t;
struct pai {
	extent_t *(*alloc)(pai_t *self, size_t size, size_t alignment, bool zero, unsigned szind,
	                   bool slab);
	bool (*expand)(pai_t *self, extent_t *e, size_t new_size, unsigned szind, bool zero);
	bool (*shrink)(pai_t *self, extent_t *e, size_t new_size, unsigned szind);
	void (*free)(pai_t *self, extent_t *e);
	size_t (*purge)(pai_t *self);
};

static inline extent_t *
pai_alloc(pai_t *pai, size_t size, size_t alignment, bool zero, unsigned szind, bool slab)
{
	return pai->alloc(pai, size, alignment, zero, szind, slab);
}

static inline bool
pai_expand(pai_t *pai, extent_t *e, size_t new_size, unsigned szind, bool zero)
{
	return pai->expand(pai, e, new_size, szind, zero);
}

static inline bool
pai_shrink(pai_t *pai, extent_t *e, size_t new_size, unsigned szind)
{
	return pai->shrink(pai, e, new_size, szind);
}

static inline void
pai_free(pai_t *pai, extent_t *e)
{
	pai->free(pai, e);
}

static inline size_t
pai_purge(pai_t *pai)
{
	return pai->purge(pai);
}

#endif
