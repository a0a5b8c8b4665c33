/*
 * hook.h — the program's allocation hooks (mallctl
 * experimental.hooks.install / remove, jemalloc 5.3's experimental API):
 * up to HOOK_MAX sets of alloc, dalloc and expand callbacks, called by the
 * API's slow paths.  L5.
 *
 * When each is called (as jemalloc 5.3 does; docs/compat.md, "Experimental
 * hooks"): the alloc hook after an allocation (also a failed one, with a
 * NULL result), the dalloc hook before a free, the expand hook after a
 * resize in place (realloc, rallocx, xallocx; also a resize that keeps the
 * size class, and an xallocx that could not resize).  A realloc that moves
 * calls the alloc hook on the new object, then the dalloc hook on the old
 * one.  result_raw is the entry point's return value as an integer
 * (posix_memalign's error code); args_raw its arguments.
 *
 * Costs: none on the fast paths while no hook is installed.  Installing
 * the first hook forces every thread onto the slow path
 * (event_force_slow), where hook_active is one relaxed load; removing the
 * last lifts it.
 *
 * Reentrancy: a thread inside a hook calls no hook (an allocation the hook
 * makes is served, unhooked): a thread-local guard.
 *
 * Concurrency: a slot is written under hook_mtx and read without a lock
 * through its sequence number (a seqlock): a reader that sees the number
 * odd, or changed across its copy, skips the slot, so it never calls a
 * half-written set.  As in jemalloc, removing a hook does not wait for
 * threads already calling it.
 */
#ifndef STRATA_HOOK_H
#define STRATA_HOOK_H

#include "public_names.h"
#include <strata.h>

#include "atomic.h"

#define HOOK_MAX 4

/* Which entry point a slow path serves, and its raw arguments, for the
 * hooks (args beyond the entry point's own are 0). */
typedef enum hook_entry {
	HOOK_ENTRY_MALLOC,
	HOOK_ENTRY_CALLOC,
	HOOK_ENTRY_POSIX_MEMALIGN,
	HOOK_ENTRY_ALIGNED_ALLOC,
	HOOK_ENTRY_MEMALIGN,
	HOOK_ENTRY_VALLOC,
	HOOK_ENTRY_PVALLOC,
	HOOK_ENTRY_MALLOCX,
	HOOK_ENTRY_REALLOC,
	HOOK_ENTRY_RALLOCX,
	HOOK_ENTRY_XALLOCX,
	HOOK_ENTRY_FREE,
	HOOK_ENTRY_DALLOCX,
	HOOK_ENTRY_SDALLOCX,
} hook_entry_t;

typedef struct hook_site {
	hook_entry_t entry;
	uintptr_t args[4];
} hook_site_t;

/* The number of hook sets installed (read relaxed: a slow path that sees 0
 * calls nothing). */
extern _Atomic unsigned hook_count;

static inline bool
hook_active(void)
{
	return UNLIKELY(atomic_load_relaxed(&hook_count) != 0);
}

/* Installs a set: its handle in *handle, or EAGAIN when HOOK_MAX are
 * installed. */
int hook_install(const hooks_t *hooks, void **handle);
/* Removes the set of handle: 0, or EINVAL when handle is not installed. */
int hook_remove(void *handle);

/* The calls (only when hook_active): an allocation of site's entry point
 * returned result; a free of address is about to happen; address was
 * resized in place from old_usize to new_usize. */
void hook_call_alloc(const hook_site_t *site, void *result);
void hook_call_dalloc(const hook_site_t *site, void *address);
void hook_call_expand(const hook_site_t *site, void *address, size_t old_usize,
                      size_t new_usize);

/* Registers the lock.  Called once by init. */
void hook_boot(void);

#endif
