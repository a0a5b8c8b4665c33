/*
 * emap.c — leaf creation and range writes of the page map.  See emap.h.
 */
#include <errno.h>

#include "emap.h"

_Atomic(emap_leaf_t *) emap_root[(size_t)1 << EMAP_ROOT_BITS];

static mutex_t emap_mtx = MUTEX_INITIALIZER("emap", MUTEX_RANK_EMAP);
static base_t *emap_base;

void
emap_boot(base_t *global_base)
{
	emap_base = global_base;
	mutex_register(&emap_mtx, NULL);
}

int
emap_ensure(const void *addr, size_t size)
{
	uintptr_t first = (uintptr_t)addr >> (LG_PAGE + EMAP_LEAF_BITS);
	uintptr_t last = ((uintptr_t)addr + size - 1) >> (LG_PAGE + EMAP_LEAF_BITS);
	for (uintptr_t i = first; i <= last; i++) {
		if (atomic_load_acquire(&emap_root[i]) != NULL)
			continue;
		mutex_lock(&emap_mtx);
		if (atomic_load_relaxed(&emap_root[i]) == NULL) {
			emap_leaf_t *leaf = base_alloc(emap_base, sizeof(emap_leaf_t), PAGE);
			if (leaf == NULL) {
				mutex_unlock(&emap_mtx);
				return ENOMEM;
			}
			atomic_store_release(&emap_root[i], leaf);
		}
		mutex_unlock(&emap_mtx);
	}
	return 0;
}

static inline _Atomic uint64_t *
emap_slot(uintptr_t page)
{
	emap_leaf_t *leaf = atomic_load_relaxed(&emap_root[page >> EMAP_LEAF_BITS]);
	return &leaf->entries[page & (((uintptr_t)1 << EMAP_LEAF_BITS) - 1)];
}

void
emap_set_range(const void *addr, size_t size, uint64_t bits)
{
	uintptr_t first = (uintptr_t)addr >> LG_PAGE;
	uintptr_t end = ((uintptr_t)addr + size) >> LG_PAGE;
	for (uintptr_t page = first; page < end; page++)
		atomic_store_release(emap_slot(page), bits);
}

void
emap_set_boundary(const void *addr, size_t size, uint64_t bits)
{
	uintptr_t first = (uintptr_t)addr >> LG_PAGE;
	uintptr_t last = ((uintptr_t)addr + size - 1) >> LG_PAGE;
	atomic_store_release(emap_slot(first), bits);
	atomic_store_release(emap_slot(last), bits);
}
