/*
 * stats_counters.h — the counter table: every statistic strata reports, in
 * jemalloc 5.3's names and types, one row each.  L5.
 *
 * Each row is X(name, type, merge, doc).  The rows generate the snapshot's
 * fields (stats.h), the stats.* mallctl nodes (ctl_stats.c), both printers
 * (stats_text.c, stats_json.c) and, through doc, the man page's entries
 * (docs/compat.md, "Statistics").  merge says how the merged views combine
 * arenas:
 *
 *   CUMUL    a count since the arena was created: summed into
 *            MALLCTL_ARENAS_ALL, and kept in MALLCTL_ARENAS_DESTROYED when
 *            the arena is destroyed (a revived arena counts from zero);
 *   GAUGE    a current amount: summed into MALLCTL_ARENAS_ALL only;
 *   MAX      the largest over the arenas;
 *   SETTING  a per-arena setting: -1 in the merged views.
 *
 * The lock counters are MUTEX_STATS_COUNTERS (mutex.h), whose rows have the
 * same form.  Where strata has no such thing (dss, hpa, internal
 * allocations, stashed pointers) the counter reads what jemalloc reads with
 * the feature off.
 */
#ifndef STRATA_STATS_COUNTERS_H
#define STRATA_STATS_COUNTERS_H

/* stats.<name>: allocator-wide totals. */
#define STATS_GLOBAL_COUNTERS(X)                                                              \
	X(allocated, size_t, GAUGE, "Bytes allocated by the application (usable sizes).")    \
	X(active, size_t, GAUGE, "Bytes in pages holding allocations: a multiple of the page size, at least stats.allocated.") \
	X(metadata, size_t, GAUGE, "Bytes of metadata: every base allocator's allocations.") \
	X(metadata_thp, size_t, GAUGE, "Bytes of metadata chunks advised onto transparent huge pages (metadata_thp).") \
	X(resident, size_t, GAUGE, "Upper bound of the bytes physically resident: metadata pages touched, active and dirty pages.") \
	X(mapped, size_t, GAUGE, "Bytes of address space mapped and not retained: metadata, active, dirty and muzzy pages.") \
	X(retained, size_t, GAUGE, "Bytes of address space purged and kept for reuse instead of unmapped.") \
	X(zero_reallocs, size_t, CUMUL, "Calls of realloc with a non-NULL pointer and size 0.")

/* stats.arenas.<i>.<name>, the part jemalloc's JSON prints before
 * small and large. */
#define STATS_ARENA_COUNTERS_HEAD(X)                                                          \
	X(nthreads, unsigned, GAUGE, "Threads assigned to the arena.")                        \
	X(uptime, uint64_t, MAX, "Nanoseconds since the arena was created (or revived).")     \
	X(dirty_decay_ms, ssize_t, SETTING, "The arena's dirty_decay_ms; -1 in the merged views.") \
	X(muzzy_decay_ms, ssize_t, SETTING, "The arena's muzzy_decay_ms; -1 in the merged views.") \
	X(numa_node, unsigned, SETTING, "The arena's home NUMA node; UINT_MAX when NUMA is inactive and in the merged views.") \
	X(pactive, size_t, GAUGE, "Pages in active extents.")                                 \
	X(pdirty, size_t, GAUGE, "Pages unused and dirty, to be purged by decay.")            \
	X(pmuzzy, size_t, GAUGE, "Pages unused and lazily purged (MADV_FREE).")               \
	X(dirty_npurge, uint64_t, CUMUL, "Purge passes over dirty pages that purged something.") \
	X(dirty_nmadvise, uint64_t, CUMUL, "madvise calls that purged dirty pages.")          \
	X(dirty_purged, uint64_t, CUMUL, "Dirty pages purged.")                               \
	X(muzzy_npurge, uint64_t, CUMUL, "Purge passes over muzzy pages that purged something.") \
	X(muzzy_nmadvise, uint64_t, CUMUL, "madvise calls that purged muzzy pages.")          \
	X(muzzy_purged, uint64_t, CUMUL, "Muzzy pages purged.")

/* stats.arenas.<i>.<name>, the part after small and large. */
#define STATS_ARENA_COUNTERS_TAIL(X)                                                          \
	X(mapped, size_t, GAUGE, "Bytes mapped by the arena for its active, dirty and muzzy pages (its metadata counts in stats.mapped only).") \
	X(retained, size_t, GAUGE, "Bytes of the arena's address space purged and kept for reuse.") \
	X(base, size_t, GAUGE, "Bytes allocated by the arena's metadata allocator.")          \
	X(internal, size_t, GAUGE, "Bytes of internal allocations charged to the arena; 0, strata makes none.") \
	X(metadata_thp, size_t, GAUGE, "Bytes of the arena's metadata chunks advised onto huge pages (metadata_thp).")      \
	X(tcache_bytes, size_t, GAUGE, "Bytes of the arena's memory held in thread caches.") \
	X(tcache_stashed_bytes, size_t, GAUGE, "Bytes of stashed pointers in thread caches; 0, strata stashes none.") \
	X(resident, size_t, GAUGE, "Upper bound of the arena's resident bytes: metadata pages touched, active and dirty pages.") \
	X(abandoned_vm, size_t, CUMUL, "Bytes of address space leaked after failed purges; 0.") \
	X(extent_avail, size_t, GAUGE, "Extent descriptors cached for reuse; 0, strata keeps them in the page allocator.")

/* stats.arenas.<i>.<name>, printed after the tables (JSON key sec_bytes). */
#define STATS_ARENA_COUNTERS_HPA(X)                                                           \
	X(hpa_sec_bytes, size_t, GAUGE, "Bytes in the huge-page allocator's small extent cache; 0, strata has no HPA.")

/* stats.arenas.<i>.{small,large}.<name>: all small (or large) classes. */
#define STATS_CLASS_COUNTERS(X)                                                               \
	X(allocated, size_t, GAUGE, "Bytes allocated in these classes (usable sizes).")      \
	X(nmalloc, uint64_t, CUMUL, "Allocations served by the arena (thread cache fills count each object).") \
	X(ndalloc, uint64_t, CUMUL, "Deallocations returned to the arena.")                   \
	X(nrequests, uint64_t, CUMUL, "Allocation requests: as nmalloc (strata does not count thread cache hits).") \
	X(nfills, uint64_t, CUMUL, "Batches in which the arena handed out objects.")          \
	X(nflushes, uint64_t, CUMUL, "Batches in which objects came back to the arena.")

/* stats.arenas.<i>.bins.<j>.<name>: small class j. */
#define STATS_BIN_COUNTERS(X)                                                                 \
	X(nmalloc, uint64_t, CUMUL, "Regions handed out by the bin.")                         \
	X(ndalloc, uint64_t, CUMUL, "Regions returned to the bin.")                           \
	X(curregs, size_t, GAUGE, "Regions in use now.")                                      \
	X(nrequests, uint64_t, CUMUL, "Allocation requests: as nmalloc (thread cache hits are not counted).") \
	X(nfills, uint64_t, CUMUL, "Batches of regions handed out (thread cache fills and direct allocations).") \
	X(nflushes, uint64_t, CUMUL, "Batches of regions returned (thread cache flushes and direct frees).") \
	X(nreslabs, uint64_t, CUMUL, "Times the bin took its current slab from the non-full slabs.") \
	X(curslabs, size_t, GAUGE, "Slabs the bin owns now.")                                 \
	X(nonfull_slabs, size_t, GAUGE, "Slabs partly used, other than the current one.")    \
	X(nslabs, uint64_t, CUMUL, "Slabs created.")

/* stats.arenas.<i>.lextents.<j>.<name>: large class j. */
#define STATS_LEXTENT_COUNTERS(X)                                                             \
	X(nmalloc, uint64_t, CUMUL, "Allocations of the class (an in-place resize counts as a free of the old class and an allocation of the new).") \
	X(ndalloc, uint64_t, CUMUL, "Deallocations of the class.")                            \
	X(nrequests, uint64_t, CUMUL, "Allocation requests: as nmalloc.")                      \
	X(curlextents, size_t, GAUGE, "Allocations of the class live now.")

/* stats.arenas.<i>.extents.<j>.<name>: free extents of page-size class j. */
#define STATS_EXTENT_COUNTERS(X)                                                              \
	X(ndirty, size_t, GAUGE, "Dirty extents.")                                            \
	X(nmuzzy, size_t, GAUGE, "Muzzy extents.")                                            \
	X(nretained, size_t, GAUGE, "Retained extents.")                                      \
	X(dirty_bytes, size_t, GAUGE, "Bytes of dirty extents.")                              \
	X(muzzy_bytes, size_t, GAUGE, "Bytes of muzzy extents.")                              \
	X(retained_bytes, size_t, GAUGE, "Bytes of retained extents.")

/*
 * stats.mutexes.<name>: the allocator-wide locks, X(name, lock, doc) where
 * lock is the name of the strata lock (or locks, summed) playing that role
 * (mutex_init), or NULL where strata has none (all counters 0).  The rows
 * after prof_stats are strata's own locks.
 */
#define STATS_GLOBAL_MUTEXES(X)                                                               \
	X(background_thread, "background", "The purger threads' lock.")                       \
	X(max_per_bg_thd, NULL, "The busiest purger thread's lock; strata's purgers share one lock, shown as background_thread.") \
	X(ctl, "ctl", "The lock of the stats snapshot (epoch and stats.*).")                  \
	X(prof, "prof_stacks", "The profiler's stack table (all its shards).")                \
	X(prof_thds_data, "prof_tdatas", "The profiler's per-thread records.")                \
	X(prof_dump, "prof_dump", "Heap profile dumps.")                                     \
	X(prof_recent_alloc, "prof_recent", "The ring of recent sampled allocations.")        \
	X(prof_recent_dump, "prof_recent_dump", "Dumps of the recent allocations.")           \
	X(prof_stats, NULL, "The profiler's size-class statistics; no lock in strata.")       \
	X(init, "init", "Initialization.")                                                    \
	X(arenas, "arenas", "Creation and destruction of arenas.")                            \
	X(emap, "emap", "Growth of the page map.")                                            \
	X(base, "global base", "The global metadata allocators.")                             \
	X(tcache_list, "tcache list", "The list of thread caches.")                           \
	X(prof_prefix, "prof_prefix", "The profiler's dump file prefix.")                     \
	X(prof_unwind, "prof_unwind", "The profiler's unwinder gates (all of them).")

/*
 * stats.arenas.<i>.mutexes.<name>: an arena's locks, X(name, doc).  strata's
 * page allocator has one lock for all its sets and decay (reported as
 * extents_dirty); the names it has no lock for read 0.
 */
#define STATS_ARENA_MUTEXES(X)                                                                \
	X(large, "The list of live large allocations (manual arenas).")                       \
	X(extent_avail, "No lock in strata: 0.")                                              \
	X(extents_dirty, "The page allocator's lock: dirty, muzzy and retained sets and decay.") \
	X(extents_muzzy, "No lock in strata (see extents_dirty): 0.")                         \
	X(extents_retained, "No lock in strata (see extents_dirty): 0.")                      \
	X(decay_dirty, "No lock in strata (see extents_dirty): 0.")                           \
	X(decay_muzzy, "No lock in strata (see extents_dirty): 0.")                           \
	X(base, "The arena's metadata allocator.")                                            \
	X(tcache_list, "No lock in strata (the list of thread caches is global): 0.")         \
	X(hpa_shard, "No HPA in strata: 0.")                                                  \
	X(hpa_shard_grow, "No HPA in strata: 0.")                                             \
	X(hpa_sec, "No HPA in strata: 0.")

#define STATS_COUNT_ROW(...) +1
enum {
	STATS_NGLOBAL_MUTEXES = 0 STATS_GLOBAL_MUTEXES(STATS_COUNT_ROW),
	STATS_NARENA_MUTEXES = 0 STATS_ARENA_MUTEXES(STATS_COUNT_ROW),
};

#endif
