/*
 * extent_hooks.c — the default extent hook table and the wrappers through
 * which an arena with hooks calls them.  See extent_hooks.h; the contract
 * of each hook is jemalloc's (docs/compat.md, "Extent hooks").
 *
 * The default functions do what pages.c does for an arena without hooks:
 * mmap (always zeroed and committed), munmap, MADV_FREE and MADV_DONTNEED.
 * Memory is never decommitted (decommit opts out: Linux overcommits) and
 * extents always split and merge.  A default function called for another
 * arena's extents, or for extents a program's own hooks handed out, would
 * unmap or advise them too: a program wrapping the defaults passes them
 * only what they mapped, as with jemalloc.  No locks, no state.
 */
#include "public_names.h"
#include <strata.h>

#include "extent_hooks.h"
#include "os.h"

static void *
extent_hooks_default_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment,
                           bool *zero, bool *commit, unsigned ind)
{
	(void)h;
	(void)ind;
	/* The OS layer cannot map at a chosen address. */
	if (new_addr != NULL)
		return NULL;
	void *addr = os_pages_map(size, alignment < PAGE ? PAGE : alignment);
	if (addr != NULL) {
		*zero = true;
		*commit = true;
	}
	return addr;
}

static bool
extent_hooks_default_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed,
                            unsigned ind)
{
	(void)h;
	(void)committed;
	(void)ind;
	os_pages_unmap(addr, size);
	return false;
}

static void
extent_hooks_default_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed,
                             unsigned ind)
{
	(void)h;
	(void)committed;
	(void)ind;
	os_pages_unmap(addr, size);
}

static bool
extent_hooks_default_commit(extent_hooks_t *h, void *addr, size_t size, size_t offset,
                            size_t length, unsigned ind)
{
	(void)h;
	(void)addr;
	(void)size;
	(void)offset;
	(void)length;
	(void)ind;
	return false; /* mapped memory is always committed */
}

static bool
extent_hooks_default_decommit(extent_hooks_t *h, void *addr, size_t size, size_t offset,
                              size_t length, unsigned ind)
{
	(void)h;
	(void)addr;
	(void)size;
	(void)offset;
	(void)length;
	(void)ind;
	return true; /* opt out: purging does the job */
}

static bool
extent_hooks_default_purge_lazy(extent_hooks_t *h, void *addr, size_t size, size_t offset,
                                size_t length, unsigned ind)
{
	(void)h;
	(void)size;
	(void)ind;
	return os_purge_lazy((char *)addr + offset, length) != 0;
}

static bool
extent_hooks_default_purge_forced(extent_hooks_t *h, void *addr, size_t size, size_t offset,
                                  size_t length, unsigned ind)
{
	(void)h;
	(void)size;
	(void)ind;
	return os_purge_forced((char *)addr + offset, length) != 0;
}

static bool
extent_hooks_default_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a,
                           size_t size_b, bool committed, unsigned ind)
{
	(void)h;
	(void)addr;
	(void)size;
	(void)size_a;
	(void)size_b;
	(void)committed;
	(void)ind;
	return false;
}

static bool
extent_hooks_default_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b,
                           size_t size_b, bool committed, unsigned ind)
{
	(void)h;
	(void)addr_a;
	(void)size_a;
	(void)addr_b;
	(void)size_b;
	(void)committed;
	(void)ind;
	return false;
}

const extent_hooks_t extent_hooks_default = {
	.alloc = extent_hooks_default_alloc,
	.dalloc = extent_hooks_default_dalloc,
	.destroy = extent_hooks_default_destroy,
	.commit = extent_hooks_default_commit,
	.decommit = extent_hooks_default_decommit,
	.purge_lazy = extent_hooks_default_purge_lazy,
	.purge_forced = extent_hooks_default_purge_forced,
	.split = extent_hooks_default_split,
	.merge = extent_hooks_default_merge,
};

bool
extent_hooks_valid(const extent_hooks_t *h)
{
	return h != NULL && h->alloc != NULL;
}

void *
extent_hooks_alloc(extent_hooks_t *h, size_t size, size_t alignment, bool *zeroed, unsigned ind)
{
	bool zero = false, commit = true;
	void *addr = h->alloc(h, NULL, size, alignment, &zero, &commit, ind);
	/* Committing was asked for, so it is mandatory. */
	*zeroed = zero;
	return addr;
}

bool
extent_hooks_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
	return h->dalloc == NULL || h->dalloc(h, addr, size, committed, ind);
}

bool
extent_hooks_can_dalloc(const extent_hooks_t *h)
{
	return h->dalloc != NULL;
}

void
extent_hooks_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
	if (h->destroy != NULL)
		h->destroy(h, addr, size, committed, ind);
}

bool
extent_hooks_commit(extent_hooks_t *h, void *addr, size_t size, unsigned ind)
{
	return h->commit == NULL || h->commit(h, addr, size, 0, size, ind);
}

bool
extent_hooks_decommit(extent_hooks_t *h, void *addr, size_t size, unsigned ind)
{
	return h->decommit == NULL || h->decommit(h, addr, size, 0, size, ind);
}

bool
extent_hooks_purge_lazy(extent_hooks_t *h, void *addr, size_t size, unsigned ind)
{
	return h->purge_lazy == NULL || h->purge_lazy(h, addr, size, 0, size, ind);
}

bool
extent_hooks_purge_forced(extent_hooks_t *h, void *addr, size_t size, unsigned ind)
{
	return h->purge_forced == NULL || h->purge_forced(h, addr, size, 0, size, ind);
}

bool
extent_hooks_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a, bool committed,
                   unsigned ind)
{
	return h->split == NULL || h->split(h, addr, size, size_a, size - size_a, committed, ind);
}

bool
extent_hooks_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b, size_t size_b,
                   bool committed, unsigned ind)
{
	return h->merge == NULL || h->merge(h, addr_a, size_a, addr_b, size_b, committed, ind);
}
