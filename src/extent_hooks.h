/*
 * extent_hooks.h — the calls an arena with extent hooks makes instead of
 * the OS calls (arena.<i>.extent_hooks, arenas.create), and the default
 * hook table, whose functions do what strata does without hooks.  L2.
 * docs/compat.md, "Extent hooks".
 *
 * pages.c keeps an arena's hooks as a pointer that is NULL for the default
 * table: an arena without hooks of its own calls os.c directly and pays
 * nothing for this module.  Each wrapper here applies jemalloc's rule for a
 * missing (NULL) hook: the operation is not done (true, "opted out"), except
 * that a missing alloc cannot be installed (extent_hooks_valid).
 *
 * No locks and no state.  The hooks are the program's: they may block, so
 * pages.c calls alloc, dalloc, destroy, commit, decommit and the purges
 * without holding any allocator lock; split and merge are called with the
 * arena's pages lock held (they must not allocate from that arena).
 */
#ifndef STRATA_EXTENT_HOOKS_H
#define STRATA_EXTENT_HOOKS_H

#include "config.h"

/* strata.h defines the structure; src sees only the type. */
typedef struct extent_hooks_s extent_hooks_t;

/* The table arena.<i>.extent_hooks reads for an arena without hooks of its
 * own: mmap, munmap, madvise (jemalloc's extent_hooks_default). */
extern const extent_hooks_t extent_hooks_default;

/* Whether hooks can be installed: non-NULL with an alloc function. */
bool extent_hooks_valid(const extent_hooks_t *h);

/*
 * size bytes aligned to alignment (both PAGE multiples), committed, for
 * arena ind; *zeroed says whether they read zero.  NULL when the hook
 * fails.
 */
void *extent_hooks_alloc(extent_hooks_t *h, size_t size, size_t alignment, bool *zeroed,
                         unsigned ind);
/* false: the extent was given back; true: the hook opted out (or is NULL),
 * the memory stays mapped. */
bool extent_hooks_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed,
                         unsigned ind);
bool extent_hooks_can_dalloc(const extent_hooks_t *h);
/* Gives back an extent for good (arena destruction); a NULL hook keeps it. */
void extent_hooks_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed,
                          unsigned ind);
/* The whole extent: false when done, true when refused or NULL. */
bool extent_hooks_commit(extent_hooks_t *h, void *addr, size_t size, unsigned ind);
bool extent_hooks_decommit(extent_hooks_t *h, void *addr, size_t size, unsigned ind);
bool extent_hooks_purge_lazy(extent_hooks_t *h, void *addr, size_t size, unsigned ind);
bool extent_hooks_purge_forced(extent_hooks_t *h, void *addr, size_t size, unsigned ind);
/* false: the extent may be split at size_a (or the two merged); true:
 * refused, it stays whole (they stay apart). */
bool extent_hooks_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a,
                        bool committed, unsigned ind);
bool extent_hooks_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b,
                        size_t size_b, bool committed, unsigned ind);

#endif
