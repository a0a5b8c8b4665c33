/*
 * recent.h — the ring of recent sampled allocations (jemalloc's
 * prof_recent): the last prof_recent_alloc_max sampled allocations, each
 * with its sizes, time, thread and stack, and once it is freed, the time,
 * thread and stack of its free.  A freed record stays until it is evicted.
 *
 * The ring is a FIFO list of records, oldest first.  A new sample appends a
 * record; when the ring is full, the oldest record is reused for it.  A
 * sampled object keeps (in its extent's descriptor, extent_sample_t) the
 * record's address and the id the record had when it was made; a record
 * gets a new id each time it is reused, so the free of an object whose
 * record was evicted finds the id changed and leaves the record alone.
 * Records come from prof_base and are never unmapped (evicted ones go on a
 * free list), so reading an id through a stale pointer is always safe.
 *
 * A dump (recent_json.c) detaches the list and reads it record by record,
 * each under the ring lock for the time of a copy; new samples meanwhile
 * go to a fresh list, so recording never waits for a dump's writes.  When
 * the dump is over the lists are joined, oldest first, and cut to the
 * limit again.
 *
 * Locks: prof_recent_mtx (rank PROF_RECENT, registered: fork waits for it)
 * protects the lists, every record's fields and the limit; it is taken
 * with no other profiler lock held, and only the metadata base's lock is
 * taken under it.  Stacks are captured and interned before it is taken.
 */
#ifndef STRATA_PROF_RECENT_H
#define STRATA_PROF_RECENT_H

#include "extent.h"
#include "mutex.h"
#include "prof/stacks.h"
#include "prof/tdata.h"

typedef struct prof_recent_rec prof_recent_rec_t;
struct prof_recent_rec {
	prof_recent_rec_t *next;  /* the ring (older to newer) or the free list */
	_Atomic uint64_t id;      /* nonzero while it holds a record; new at each reuse */
	size_t req, usize;
	uint64_t alloc_time;
	struct prof_tdata *alloc_tdata;
	const prof_stack_t *alloc_stack;
	const void *ptr;          /* the object, under safety_checks (else NULL) */
	bool released;            /* the object was freed (or forgotten) */
	uint64_t dalloc_time;     /* the rest only when dalloc_tdata != NULL */
	struct prof_tdata *dalloc_tdata;
	const prof_stack_t *dalloc_stack;
};

/* Sets the ring up with opt.prof_recent_alloc_max.  Called by prof_boot. */
void prof_recent_boot(void);
void prof_recent_postfork_child(void);
/* The time recorded for an allocation or a free (opt.prof_time_resolution). */
uint64_t prof_recent_now(void);

/*
 * A sampled allocation of usize bytes (req asked for) by tdata, stack
 * interned: appends its record (evicting the oldest when the ring is full)
 * and leaves the record's address and id in s->recent and s->recent_id
 * (NULL and 0 when the ring is off or out of metadata memory).
 */
void prof_recent_alloc(extent_sample_t *s, size_t req, size_t usize, struct prof_tdata *tdata,
                       const prof_stack_t *stack);
/* Whether the object's record is still its own (a free worth a stack). */
bool prof_recent_is_live(const extent_sample_t *s);
/* The object of s was freed by tdata (NULL: no thread data; then no free
 * thread, time or stack are recorded) at stack (NULL: not captured). */
void prof_recent_dalloc(const extent_sample_t *s, struct prof_tdata *tdata,
                        const prof_stack_t *stack);
/* The object's allocation failed after its record was made: the record
 * goes back unseen. */
void prof_recent_cancel(const extent_sample_t *s);
/* Under safety_checks: the object of s was placed at ptr. */
void prof_recent_place(const extent_sample_t *s, const void *ptr);
/*
 * The newest record of an object at ptr (prof_recent_place): its stacks go
 * to *alloc_stack and *dalloc_stack (NULL: not captured, or not freed);
 * false when there is none.  *released says whether it was freed.
 */
bool prof_recent_find(const void *ptr, const prof_stack_t **alloc_stack,
                      const prof_stack_t **dalloc_stack, bool *released);
/* The object was resized in place and stays sampled: its record says so. */
void prof_recent_resize(const extent_sample_t *s, size_t req, size_t usize);

/* Defined here and declared in prof.h: prof_recent_alloc_max_get and
 * prof_recent_alloc_max_set (experimental.prof_recent.alloc_max). */

/*
 * For a dump: under the ring lock, takes the whole list (recording goes on
 * into a new one) and returns its oldest record; prof_recent_next then
 * copies one record and returns the next (NULL at the end), each copy under
 * the lock; prof_recent_dump_end joins the lists back.  One dump at a time
 * (the caller serializes them).
 */
const prof_recent_rec_t *prof_recent_dump_begin(void);
const prof_recent_rec_t *prof_recent_dump_next(const prof_recent_rec_t *rec,
                                               prof_recent_rec_t *copy);
void prof_recent_dump_end(void);

#endif
