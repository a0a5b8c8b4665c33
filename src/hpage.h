/*
 * hpage.h — transparent huge pages: the heap's huge-page mode, and the
 * 2 MiB ranges of one page allocator's mapped space with their active page
 * counts and huge state.  L2.  docs/design.md, "Transparent huge pages".
 *
 * Modes (opt_thp, resolved once by hpage_boot against the kernel's mode in
 * /sys/kernel/mm/transparent_hugepage/enabled):
 *   off    — thp:default, or thp:auto when the kernel's mode is never or
 *            THP is missing: no advice;
 *   always — thp:always: every new mapping gets MADV_HUGEPAGE;
 *   never  — thp:never: every new mapping gets MADV_NOHUGEPAGE;
 *   policy — thp:auto otherwise: new mappings get MADV_HUGEPAGE, and the
 *            page allocator (pages.c, pages_hpage.c) keeps their ranges
 *            dense, dissolves them and makes them huge again.
 * In every mode the ranges of an allocator's own mappings are tracked (the
 * statistics read them), but under retain:false.
 *
 * A range is huge while its advice is MADV_HUGEPAGE (a fresh mapping's
 * ranges start huge, so the first touch faults a whole huge page).  While
 * a huge range has at least hpage_dissolve_pages active pages (and one),
 * the free pages inside it are held: decay does not purge them, because a
 * partial purge would split the huge page.  The first purge inside a huge
 * range dissolves it (MADV_NOHUGEPAGE, so that khugepaged does not fill
 * the holes back), and it is purged at 4 KiB grain from then on; so is an
 * empty range purged whole: memory that comes and goes is faulted back by
 * the page, as it is used, not 2 MiB at a time.  A dissolved range whose
 * active pages reach hpage_hugify_pages is queued, and once it has stayed
 * so for hpage_hugify_delay_ns the purger makes it huge again
 * (MADV_HUGEPAGE, then MADV_COLLAPSE where the kernel has it).  A range is
 * warm when a huge fault or a collapse may have brought in pages that the
 * counts call retained (pages_purge_warm returns them).
 *
 * Locks: the block list only grows and is read without a lock; a range's
 * active, huge, queued, warm and queued_at fields, the writes of nqueued
 * and the counters are protected by the owning pages lock; idle_free
 * belongs to the idle pass (pages.h), which one purger thread runs at a
 * time per arena.
 */
#ifndef STRATA_HPAGE_H
#define STRATA_HPAGE_H

#include "atomic.h"
#include "base.h"

#define HPAGE_RANGE_PAGES (HUGEPAGE / PAGE)

typedef enum hpage_mode { HPAGE_OFF, HPAGE_ALWAYS, HPAGE_NEVER, HPAGE_POLICY } hpage_mode_t;

typedef struct hpage_range {
	uint16_t active; /* active pages */
	bool huge;       /* advised MADV_HUGEPAGE */
	bool queued;     /* dissolved and dense: waiting for the purger */
	bool warm;       /* huge, and retained pages were taken from it: its
	                  * retained pages may be resident (a huge fault brings
	                  * the whole range in) */
	_Atomic uint16_t idle_free; /* the idle pass: free pages inside its slabs */
	uint64_t queued_at; /* when it was queued (clock_coarse_ns) */
} hpage_range_t;

typedef struct hpage_block hpage_block_t;
struct hpage_block {
	hpage_block_t *next; /* the block mapped before it */
	char *addr;          /* HUGEPAGE-aligned */
	size_t nranges;
	hpage_range_t ranges[];
};

/* What the policy did, ever (stats.thp.*). */
typedef struct hpage_counters {
	uint64_t hugifies;          /* dissolved ranges made huge again */
	uint64_t collapse_failures; /* MADV_COLLAPSE refused (no huge page free) */
	uint64_t dissolves;         /* huge ranges dissolved */
	uint64_t slab_pages_purged; /* free pages purged inside partly used slabs */
} hpage_counters_t;

typedef struct hpage {
	_Atomic(hpage_block_t *) blocks; /* newest first */
	_Atomic size_t nqueued;          /* ranges queued for the purger (written
	                                  * under the pages lock, read without) */
	hpage_counters_t counters;
} hpage_t;

extern hpage_mode_t hpage_mode;
extern size_t hpage_dissolve_pages; /* from opt_thp_dissolve_threshold */
extern size_t hpage_hugify_pages;   /* from opt_hpa_hugification_threshold */
extern uint64_t hpage_hugify_delay_ns; /* from opt_hpa_hugify_delay_ms */

/* Resolves the mode; before any arena maps memory. */
void hpage_boot(void);

static inline bool
hpage_policy(void)
{
	return hpage_mode == HPAGE_POLICY;
}

void hpage_init(hpage_t *h);
/*
 * A new mapping of the allocator's own (HUGEPAGE-aligned, a HUGEPAGE
 * multiple): gives it the mode's advice and tracks its ranges (huge unless
 * the mode is never, nothing active; the statistics read the ranges in
 * every mode, the policy acts on them), with the block's record from
 * base; with retain:false (mappings come and go) nothing is tracked.
 * ENOMEM when the record cannot be had.  Lock not held.
 */
int hpage_map(hpage_t *h, base_t *base, void *addr, size_t size);
/* The range holding addr, NULL when the address is not tracked. */
hpage_range_t *hpage_range_of(hpage_t *h, const void *addr);
/* The first byte of the range holding addr. */
static inline char *
hpage_range_base(const void *addr)
{
	return (char *)((uintptr_t)addr & ~(uintptr_t)HUGEPAGE_MASK);
}
/* Its free pages are held from decay (see above). */
static inline bool
hpage_range_holds(const hpage_range_t *r)
{
	return r->huge && r->active != 0 && r->active >= hpage_dissolve_pages;
}
/* Calls fn(range, range_base, arg) for every tracked range. */
void hpage_foreach(hpage_t *h, void (*fn)(hpage_range_t *r, char *base, void *arg), void *arg);
/* The bases of the first max ranges for which pick(range, arg) is true,
 * into out (pick may change the range); how many. */
size_t hpage_pick(hpage_t *h, bool (*pick)(hpage_range_t *r, void *arg), void *arg, char **out,
                  size_t max);

/*
 * Reads /proc/self/smaps and calls vma(lo, hi, anon_huge_bytes, arg) for
 * every mapping with AnonHugePages; 0, or -1 when it cannot be read.  No
 * allocation (a fixed buffer).
 */
int hpage_smaps_scan(void (*vma)(uintptr_t lo, uintptr_t hi, size_t anon_huge, void *arg),
                     void *arg);
/* Bytes of [lo, hi) inside h's tracked mappings. */
size_t hpage_overlap(hpage_t *h, uintptr_t lo, uintptr_t hi);
/* The kernel's THP fallback and collapse-failure counts from /proc/vmstat
 * (system-wide), 0 when unreadable. */
uint64_t hpage_kernel_fallbacks(void);
/* A one-time message when the kernel refuses huge pages (a collapse
 * failed); called by the purger. */
void hpage_warn_refused(int err);

#endif
