/*
 * prof.h — the sampling heap profiler, as src's top layer sees it.
 *
 * Only malloc.c, tsd.c, ctl.c and init.c include this (tests/check_layers.sh);
 * prof/ itself uses src layers L0 to L2 only.  docs/design.md, "Profiler",
 * has the whole picture.
 *
 * What the allocator does for the profiler: the thread events decide which
 * allocations are sampled (event.h, a geometric distance in bytes); the
 * allocation path then calls prof_sample_begin, places a sampled object on
 * its own extent with the page map's sampled bit, and keeps the returned
 * record in the extent descriptor; the free path hands that record back to
 * prof_sample_free.  Unsampled allocations and frees never call in here.
 *
 * Every function may be called with no allocator lock held only.  Those
 * that can allocate (stack capture through libunwind, starting the dumper
 * thread) must be called with the thread's reentrancy level raised, so that
 * what they allocate is never sampled and never reaches a thread cache.
 */
#ifndef STRATA_PROF_PROF_H
#define STRATA_PROF_PROF_H

#include <sys/types.h>

#include "base.h"
#include "extent.h"

typedef struct prof_tdata prof_tdata_t;

/* Sets the profiler up from the options (nothing when opt_prof is false):
 * its metadata base, the stack table, the dump signal's handler.  Called
 * once by init, single threaded.  0 or an errno. */
int prof_boot(void);
/* Once the process can run threads (init's load-time constructor): starts
 * the dumper thread when a trigger needs one. */
void prof_start(void);
/* The exit action (init registers it): requests still pending, the final
 * dump, then the leak report, which may end the process.  Call with the
 * thread's reentrancy level raised: what runs here allocates (the leak
 * report's symbolizer, a dump hook) and must not be sampled. */
void prof_exit(void);
/* Fork child: the dump lock is free and the dumper thread is gone; a new
 * one is started if a trigger needs it.  Call with the thread's
 * reentrancy level raised (thread creation allocates). */
void prof_postfork_child(void);

/*
 * A sampled allocation of usize bytes (req asked for) by the thread whose
 * profiler data is *tdatap (created here on first use); allocated is the
 * thread's allocated bytes counter.  Captures the stack, counts it, makes
 * the object's record in the ring of recent allocations, and fills *s,
 * which the object's extent keeps.  false when sampling is off for this
 * thread or globally (prof.active, thread.prof.active): the allocation is
 * then an ordinary one.
 */
bool prof_sample_begin(prof_tdata_t **tdatap, size_t req, size_t usize, uint64_t allocated,
                       extent_sample_t *s);
/* The allocation begun with s could not be made: takes it all back. */
void prof_sample_cancel(const extent_sample_t *s, size_t usize);
/*
 * The sampled object of s, usize bytes, is freed (or forgotten): takes its
 * counts back, and completes its recent record with the free's time, the
 * thread of *tdatap and its stack.  tdatap NULL: the caller cannot capture
 * a stack (no thread state, or its reentrancy level was already raised);
 * the record then only says the object was released.
 */
void prof_sample_free(prof_tdata_t **tdatap, const extent_sample_t *s, size_t usize);
/*
 * The sampled object of *s was resized in place from old_usize to usize
 * (req asked for), and the new bytes were not sampled.  Grown, it stays
 * sampled with its new size; shrunk, it stays sampled with probability
 * p(usize) / p(old_usize), p(z) = 1 - e^(-z/2^lg), so that its chance of
 * being sampled is that of an object allocated at its new size.  true: *s
 * is updated; false: the profiler forgot it (prof_sample_free with
 * tdatap), and it is an ordinary object now.
 */
bool prof_sample_resize(prof_tdata_t **tdatap, extent_sample_t *s, size_t old_usize, size_t req,
                        size_t usize);
/* High-water dumps (prof.gdump): at a sample, prof_gdump_wanted says
 * whether the heap's size should be checked now (at most once per
 * prof_gdump_min_interval_ms); prof_gdump_observe then asks for a dump if
 * active_bytes is a new high. */
bool prof_gdump_wanted(void);
void prof_gdump_observe(size_t active_bytes);

/* ------------------------------------------------ mallctl (ctl.c) */

/* prof.dump: to path, or to the automatic name when path is NULL.  0 or
 * EFAULT (jemalloc's code for every failure); ENOENT without opt.prof. */
int prof_dump_manual(const char *path);
/* prof.recent.dump: the ring of recent allocations as JSON to path
 * (gzip-compressed when it ends in .gz and prof_dump_compress is on).
 * experimental.prof_recent.alloc_dump: the same through write_cb (NULL:
 * as messages are written).  0, EINVAL (no path), EFAULT (failed); ENOENT
 * without opt.prof. */
int prof_recent_dump_path(const char *path);
int prof_recent_dump_callback(void (*write_cb)(void *, const char *), void *cbopaque);
/* experimental.prof_recent.alloc_max: -1 no limit, 0 off; a smaller limit
 * evicts the oldest records at once.  EINVAL below -1. */
ssize_t prof_recent_alloc_max_get(void);
int prof_recent_alloc_max_set(ssize_t max);
/* prof.prefix (copied; EINVAL when too long). */
int prof_prefix_set(const char *prefix);
bool prof_active_get(void);
void prof_active_set(bool active);
bool prof_gdump_get(void);
void prof_gdump_set(bool on);
bool prof_thread_active_init_get(void);
void prof_thread_active_init_set(bool active);
/* prof.reset: forget every sample; lg becomes the sampling rate. */
void prof_reset(unsigned lg);
unsigned prof_lg_sample(void);
/* prof.interval: bytes between interval dumps (0: none). */
uint64_t prof_interval(void);
/* thread.prof.name, thread.prof.active of the calling thread. */
const char *prof_thread_name_get(prof_tdata_t **tdatap);
int prof_thread_name_set(prof_tdata_t **tdatap, const char *name);
bool prof_thread_active_get(prof_tdata_t **tdatap);
int prof_thread_active_set(prof_tdata_t **tdatap, bool active);
/* prof.stats.{bins,lextents}.<i>.{live,accum} of class szind: false
 * without opt.prof_stats. */
typedef struct prof_class_stats prof_class_stats_t;
bool prof_stats_read(unsigned szind, prof_class_stats_t *live, prof_class_stats_t *accum);
/* experimental.hooks.prof_dump: called with each dump's file name. */
typedef void (*prof_dump_hook_t)(const char *filename);
prof_dump_hook_t prof_dump_hook_get(void);
void prof_dump_hook_set(prof_dump_hook_t hook);

/*
 * Safety checks' reports (describe.c, docs/design.md "Safety checks").
 * prof_sample_placed: under safety_checks, the sampled object whose
 * allocation s began is at ptr (its recent record remembers the address).
 * prof_describe_object: writes to buf (size bytes, always terminated) the
 * lines "<strata>: allocated at:" and "<strata>: freed at:" with their
 * frames, for the object at ptr (live: its sample when it is a live
 * sampled object, else NULL and the ring of recent allocations is
 * searched); what it knew.  The caller raises its reentrancy level (naming
 * frames loads libdw and allocates).
 */
typedef enum prof_described {
	PROF_DESCRIBED_NONE,  /* nothing written */
	PROF_DESCRIBED_LIVE,  /* its allocation stack */
	PROF_DESCRIBED_FREED, /* it was freed: both stacks, as far as known */
} prof_described_t;
void prof_sample_placed(const extent_sample_t *s, const void *ptr);
prof_described_t prof_describe_object(const void *ptr, const extent_sample_t *live, char *buf,
                                      size_t size);

#endif
