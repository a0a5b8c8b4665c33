/*
 * stacks.c — interned stacks and their per-thread counters.  See stacks.h.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "conf.h"
#include "sz.h"
#include "prof/stacks.h"
#include "prof/state.h"

typedef struct prof_shard {
	mutex_t mtx;
	prof_stack_t **buckets; /* PROF_SHARD_BUCKETS chains */
} __attribute__((aligned(CACHELINE))) prof_shard_t;

static prof_shard_t prof_shards[PROF_SHARDS];
/* The weight of each size class at the current rate: read on every count,
 * so a table rather than an exponential each time. */
static _Atomic double prof_weights[SZ_NSIZES];

int
prof_stacks_boot(void)
{
	for (unsigned i = 0; i < PROF_SHARDS; i++) {
		prof_shard_t *sh = &prof_shards[i];
		mutex_init(&sh->mtx, "prof_stacks", MUTEX_RANK_PROF_STACKS);
		mutex_register(&sh->mtx, NULL);
		sh->buckets = base_alloc(&prof_base, PROF_SHARD_BUCKETS * sizeof(prof_stack_t *),
		                         CACHELINE);
		if (sh->buckets == NULL)
			return ENOMEM;
	}
	return 0;
}

void
prof_stacks_set_rate(unsigned lg)
{
	for (unsigned i = 0; i < SZ_NSIZES; i++) {
		double z = (double)sz_index2size(i);
		/* -expm1(-x) is 1 - e^(-x) without cancellation for small x. */
		double w = lg == 0 ? 1.0 : 1.0 / -expm1(-ldexp(z, -(int)lg));
		atomic_store_relaxed(&prof_weights[i], w);
	}
}

double
prof_stacks_weight(size_t usize)
{
	return atomic_load_relaxed(&prof_weights[sz_size2index(usize)]);
}

/* FNV-1a over the frames' bytes, then mixed so that the shard (low bits)
 * and the bucket (next bits) are both well spread. */
static uint64_t
prof_stacks_hash(const uintptr_t *pcs, unsigned depth)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (unsigned i = 0; i < depth; i++) {
		h ^= (uint64_t)pcs[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static prof_shard_t *
prof_stacks_shard(uint64_t hash)
{
	return &prof_shards[hash % PROF_SHARDS];
}

static prof_stack_t **
prof_stacks_bucket(prof_shard_t *sh, uint64_t hash)
{
	return &sh->buckets[(hash / PROF_SHARDS) % PROF_SHARD_BUCKETS];
}

/* Under the shard lock: the interned stack, created if absent. */
static prof_stack_t *
prof_stacks_intern_locked(prof_shard_t *sh, uint64_t hash, const uintptr_t *pcs, unsigned depth)
{
	prof_stack_t **bucket = prof_stacks_bucket(sh, hash);
	for (prof_stack_t *s = *bucket; s != NULL; s = s->hash_next) {
		if (s->hash == hash && s->depth == depth &&
		    memcmp(s->pcs, pcs, depth * sizeof(*pcs)) == 0)
			return s;
	}
	prof_stack_t *s = base_alloc(&prof_base, sizeof(*s) + depth * sizeof(*pcs),
	                             sizeof(void *));
	if (s == NULL)
		return NULL;
	s->hash = hash;
	s->depth = depth;
	memcpy(s->pcs, pcs, depth * sizeof(*pcs));
	s->hash_next = *bucket;
	*bucket = s;
	return s;
}

/* Under the shard lock: the stack's live tctx for tdata, created if absent. */
static struct prof_tctx *
prof_stacks_tctx(prof_stack_t *s, struct prof_tdata *tdata)
{
	for (struct prof_tctx *t = s->tctxs; t != NULL; t = t->next) {
		if (t->tdata == tdata)
			return t;
	}
	struct prof_tctx *t = base_alloc(&prof_base, sizeof(*t), sizeof(void *));
	if (t == NULL)
		return NULL;
	t->stack = s;
	t->tdata = tdata;
	t->next = s->tctxs;
	s->tctxs = t;
	return t;
}

struct prof_tctx *
prof_stacks_count(struct prof_tdata *tdata, const uintptr_t *pcs, unsigned depth,
                  size_t usize)
{
	uint64_t hash = prof_stacks_hash(pcs, depth);
	double w = prof_stacks_weight(usize);
	prof_shard_t *sh = prof_stacks_shard(hash);
	mutex_lock(&sh->mtx);
	prof_stack_t *s = prof_stacks_intern_locked(sh, hash, pcs, depth);
	struct prof_tctx *t = s != NULL ? prof_stacks_tctx(s, tdata) : NULL;
	if (t != NULL) {
		prof_cnt_t *c = &t->cnt;
		c->curobjs++;
		c->curbytes += usize;
		c->cur_objs_u += w;
		c->cur_bytes_u += w * (double)usize;
		if (opt_prof_accum) {
			c->accumobjs++;
			c->accumbytes += usize;
			c->accum_objs_u += w;
			c->accum_bytes_u += w * (double)usize;
		}
	}
	mutex_unlock(&sh->mtx);
	return t;
}

const prof_stack_t *
prof_stacks_intern(const uintptr_t *pcs, unsigned depth)
{
	uint64_t hash = prof_stacks_hash(pcs, depth);
	prof_shard_t *sh = prof_stacks_shard(hash);
	mutex_lock(&sh->mtx);
	const prof_stack_t *s = prof_stacks_intern_locked(sh, hash, pcs, depth);
	mutex_unlock(&sh->mtx);
	return s;
}

void
prof_stacks_uncount(struct prof_tctx *tctx, size_t usize)
{
	double w = prof_stacks_weight(usize);
	prof_shard_t *sh = prof_stacks_shard(tctx->stack->hash);
	mutex_lock(&sh->mtx);
	prof_cnt_t *c = &tctx->cnt;
	if (!tctx->expired && c->curobjs != 0) {
		c->curobjs--;
		c->curbytes -= usize;
		/* Sums of doubles drift by rounding: the last object out leaves
		 * exactly nothing. */
		c->cur_objs_u = c->curobjs == 0 ? 0.0 : c->cur_objs_u - w;
		c->cur_bytes_u = c->curobjs == 0 ? 0.0 : c->cur_bytes_u - w * (double)usize;
	}
	mutex_unlock(&sh->mtx);
}

void
prof_stacks_recount(struct prof_tctx *tctx, size_t old_usize, size_t usize)
{
	double w_old = prof_stacks_weight(old_usize), w = prof_stacks_weight(usize);
	prof_shard_t *sh = prof_stacks_shard(tctx->stack->hash);
	mutex_lock(&sh->mtx);
	prof_cnt_t *c = &tctx->cnt;
	if (!tctx->expired && c->curobjs != 0) {
		c->curbytes += usize - old_usize; /* wraps correctly when shrinking */
		c->cur_objs_u += w - w_old;
		c->cur_bytes_u += w * (double)usize - w_old * (double)old_usize;
	}
	mutex_unlock(&sh->mtx);
}

void
prof_stacks_reset(void)
{
	for (unsigned i = 0; i < PROF_SHARDS; i++) {
		prof_shard_t *sh = &prof_shards[i];
		mutex_lock(&sh->mtx);
		for (unsigned b = 0; b < PROF_SHARD_BUCKETS; b++) {
			for (prof_stack_t *s = sh->buckets[b]; s != NULL; s = s->hash_next) {
				for (struct prof_tctx *t = s->tctxs; t != NULL; t = t->next)
					t->expired = true;
				s->tctxs = NULL;
			}
		}
		mutex_unlock(&sh->mtx);
	}
}

static bool
prof_stacks_line_wanted(const prof_cnt_t *c)
{
	return c->curobjs != 0 || c->accumobjs != 0;
}

size_t
prof_stacks_snapshot(prof_stacks_line_t *lines, size_t max)
{
	size_t n = 0;
	for (unsigned i = 0; i < PROF_SHARDS; i++) {
		prof_shard_t *sh = &prof_shards[i];
		mutex_lock(&sh->mtx);
		for (unsigned b = 0; b < PROF_SHARD_BUCKETS; b++) {
			for (prof_stack_t *s = sh->buckets[b]; s != NULL; s = s->hash_next) {
				for (struct prof_tctx *t = s->tctxs; t != NULL; t = t->next) {
					if (!prof_stacks_line_wanted(&t->cnt))
						continue;
					if (n < max)
						lines[n] = (prof_stacks_line_t){s, t->tdata, t->cnt};
					n++;
				}
			}
		}
		mutex_unlock(&sh->mtx);
	}
	return n;
}
