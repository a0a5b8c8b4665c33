/*
 * stacks.h — the stacks of sampled allocations and their counters.
 *
 * Each distinct stack is interned once in a hash table cut into
 * PROF_SHARDS shards, each with its own lock, so that threads sampling
 * different stacks rarely meet.  A stack has one counter record (tctx) per
 * thread that allocated from it, for the dump's per-thread lines; a sampled
 * object keeps a pointer to its tctx, and its free subtracts from it.
 *
 * Counters are in sampled objects and bytes, and unbiased: each sampled
 * object of z bytes stands for 1 / (1 - e^(-z/R)) objects and z times that
 * many bytes (R the mean sampling distance), summed per tctx, so that a
 * dump can write each line the way jeprof un-samples it (dump.c).
 *
 * prof.reset expires every tctx: new samples get new ones, and frees of
 * objects sampled before the reset find their tctx expired and count
 * nothing.  Stacks, tctxs and expired tctxs are never freed (prof_base):
 * memory grows with the number of distinct (stack, thread) pairs ever
 * sampled.
 *
 * Locks: a shard's lock protects its chains, its stacks' tctx lists and
 * every counter of those tctxs.  A stack's frames never change once it is
 * published, so a dump reads them after dropping the lock.
 */
#ifndef STRATA_PROF_STACKS_H
#define STRATA_PROF_STACKS_H

#include "mutex.h"
#include "prof/tdata.h"

#define PROF_SHARDS 64
#define PROF_SHARD_BUCKETS 1024

typedef struct prof_cnt {
	uint64_t curobjs, curbytes;     /* sampled objects live, their bytes */
	double cur_objs_u, cur_bytes_u; /* the same, unbiased */
	uint64_t accumobjs, accumbytes; /* ever sampled (prof_accum) */
	double accum_objs_u, accum_bytes_u;
} prof_cnt_t;

typedef struct prof_stack prof_stack_t;
struct prof_tctx {
	struct prof_tctx *next; /* the stack's list */
	prof_stack_t *stack;
	struct prof_tdata *tdata;
	bool expired;           /* by prof.reset: counts nothing any more */
	prof_cnt_t cnt;
};

struct prof_stack {
	prof_stack_t *hash_next;
	struct prof_tctx *tctxs;
	uint64_t hash;
	unsigned depth;
	uintptr_t pcs[]; /* innermost first */
};

/* Sets up the shards (their tables come from prof_base).  0 or ENOMEM. */
int prof_stacks_boot(void);
/*
 * Counts one sampled object of usize bytes for (the stack pcs[0..depth),
 * the thread tdata), interning the stack and creating the tctx if needed.
 * NULL when out of metadata memory.
 */
struct prof_tctx *prof_stacks_count(struct prof_tdata *tdata, const uintptr_t *pcs,
                                    unsigned depth, size_t usize);
/* The interned stack pcs[0..depth) (for a record that needs a stack but no
 * counter: the free of a recent allocation); NULL when out of metadata
 * memory. */
const prof_stack_t *prof_stacks_intern(const uintptr_t *pcs, unsigned depth);
/* Takes back one object of usize bytes counted on tctx (freed, or its
 * allocation failed). */
void prof_stacks_uncount(struct prof_tctx *tctx, size_t usize);
/* One object counted on tctx changes size from old_usize to usize (the
 * accumulated counts are left alone). */
void prof_stacks_recount(struct prof_tctx *tctx, size_t old_usize, size_t usize);
/* prof.reset: expires every tctx. */
void prof_stacks_reset(void);

/* One (stack, thread) line of a dump, copied under the shard lock. */
typedef struct prof_stacks_line {
	const prof_stack_t *stack;
	struct prof_tdata *tdata;
	prof_cnt_t cnt;
} prof_stacks_line_t;

/*
 * Copies every tctx with live (or, with prof_accum, accumulated) samples
 * into lines[0..max), grouped by stack; returns how many there are (more
 * than max means the caller's buffer was short: call again with room).
 * Each shard's lock is held only while its counters are copied.
 */
size_t prof_stacks_snapshot(prof_stacks_line_t *lines, size_t max);

/* Sets the sampling rate the weights are for (2^lg bytes): the table of
 * weights per size class.  Called by prof_boot and prof.reset. */
void prof_stacks_set_rate(unsigned lg);
/* The unbiased weight of one sampled object of usize bytes (a size class)
 * at the current rate: how many objects it stands for, 1 / (1 - e^(-z/R)). */
double prof_stacks_weight(size_t usize);

#endif
