/*
 * recent.c — the ring of recent sampled allocations.  See recent.h.
 */
#include <errno.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "prof/prof.h"
#include "prof/recent.h"
#include "prof/state.h"

static mutex_t prof_recent_mtx;

/* Under prof_recent_mtx. */
static ssize_t prof_recent_max;          /* -1: no limit; 0: off */
static prof_recent_rec_t *prof_recent_head, *prof_recent_tail; /* oldest, newest */
static size_t prof_recent_count;
static prof_recent_rec_t *prof_recent_detached; /* the list a dump is reading */
static prof_recent_rec_t *prof_recent_free;     /* evicted records */
static uint64_t prof_recent_next_id = 1;

void
prof_recent_boot(void)
{
	mutex_init(&prof_recent_mtx, "prof_recent", MUTEX_RANK_PROF_RECENT);
	mutex_register(&prof_recent_mtx, NULL);
	prof_recent_max = opt_prof_recent_alloc_max;
}

void
prof_recent_postfork_child(void)
{
	/* The dumping thread is not in the child: its list is joined back. */
	prof_recent_dump_end();
}

uint64_t
prof_recent_now(void)
{
	if (opt_prof_time_resolution == CONF_PROF_TIME_RESOLUTION_DEFAULT)
		return clock_coarse_ns();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Under the lock: the oldest record of the live list, unlinked. */
static prof_recent_rec_t *
prof_recent_pop_oldest(void)
{
	prof_recent_rec_t *r = prof_recent_head;
	prof_recent_head = r->next;
	if (prof_recent_head == NULL)
		prof_recent_tail = NULL;
	prof_recent_count--;
	return r;
}

/* Under the lock: drops the oldest records until at most max are kept. */
static void
prof_recent_trim(void)
{
	while (prof_recent_max >= 0 && prof_recent_count > (size_t)prof_recent_max) {
		prof_recent_rec_t *r = prof_recent_pop_oldest();
		atomic_store_relaxed(&r->id, 0);
		r->next = prof_recent_free;
		prof_recent_free = r;
	}
}

/* Under the lock: a record for a new sample (the oldest one when the ring
 * is full), unlinked; NULL when out of metadata memory. */
static prof_recent_rec_t *
prof_recent_take(void)
{
	if (prof_recent_max > 0 && prof_recent_count >= (size_t)prof_recent_max)
		return prof_recent_pop_oldest();
	prof_recent_rec_t *r = prof_recent_free;
	if (r != NULL) {
		prof_recent_free = r->next;
		return r;
	}
	return base_alloc(&prof_base, sizeof(*r), sizeof(void *));
}

void
prof_recent_alloc(extent_sample_t *s, size_t req, size_t usize, struct prof_tdata *tdata,
                  const prof_stack_t *stack)
{
	s->recent = NULL;
	s->recent_id = 0;
	uint64_t now = prof_recent_now();
	mutex_lock(&prof_recent_mtx);
	prof_recent_rec_t *r = prof_recent_max != 0 ? prof_recent_take() : NULL;
	if (r != NULL) {
		/* Field by field: frees read the id without the lock. */
		uint64_t id = prof_recent_next_id++;
		atomic_store_relaxed(&r->id, id);
		r->next = NULL;
		r->req = req;
		r->usize = usize;
		r->alloc_time = now;
		r->alloc_tdata = tdata;
		r->alloc_stack = stack;
		r->ptr = NULL;
		r->released = false;
		r->dalloc_tdata = NULL;
		if (prof_recent_tail != NULL)
			prof_recent_tail->next = r;
		else
			prof_recent_head = r;
		prof_recent_tail = r;
		prof_recent_count++;
		s->recent = r;
		s->recent_id = id;
	}
	mutex_unlock(&prof_recent_mtx);
}

bool
prof_recent_is_live(const extent_sample_t *s)
{
	const prof_recent_rec_t *r = s->recent;
	return r != NULL && atomic_load_relaxed(&r->id) == s->recent_id;
}

/* Under the lock: the object's own record, NULL when it was evicted. */
static prof_recent_rec_t *
prof_recent_own(const extent_sample_t *s)
{
	prof_recent_rec_t *r = s->recent;
	return r != NULL && atomic_load_relaxed(&r->id) == s->recent_id ? r : NULL;
}

void
prof_recent_dalloc(const extent_sample_t *s, struct prof_tdata *tdata, const prof_stack_t *stack)
{
	uint64_t now = prof_recent_now();
	mutex_lock(&prof_recent_mtx);
	prof_recent_rec_t *r = prof_recent_own(s);
	if (r != NULL && !r->released) {
		r->released = true;
		r->dalloc_tdata = tdata;
		r->dalloc_time = now;
		r->dalloc_stack = stack;
	}
	mutex_unlock(&prof_recent_mtx);
}

void
prof_recent_cancel(const extent_sample_t *s)
{
	/* The record stays in its place (a dump may be walking the list) but
	 * holds nothing: dumps skip it, and it is reused in its turn. */
	mutex_lock(&prof_recent_mtx);
	prof_recent_rec_t *r = prof_recent_own(s);
	if (r != NULL)
		atomic_store_relaxed(&r->id, 0);
	mutex_unlock(&prof_recent_mtx);
}

void
prof_recent_place(const extent_sample_t *s, const void *ptr)
{
	mutex_lock(&prof_recent_mtx);
	prof_recent_rec_t *r = prof_recent_own(s);
	if (r != NULL)
		r->ptr = ptr;
	mutex_unlock(&prof_recent_mtx);
}

/* The newest record at ptr in the list from rec on, or match. */
static const prof_recent_rec_t *
prof_recent_newest_at(const prof_recent_rec_t *rec, const void *ptr,
                      const prof_recent_rec_t *match)
{
	for (; rec != NULL; rec = rec->next) {
		if (rec->ptr == ptr && atomic_load_relaxed(&rec->id) != 0)
			match = rec;
	}
	return match;
}

bool
prof_recent_find(const void *ptr, const prof_stack_t **alloc_stack,
                 const prof_stack_t **dalloc_stack, bool *released)
{
	mutex_lock(&prof_recent_mtx);
	/* A dump's detached list is older than the live one. */
	const prof_recent_rec_t *r = prof_recent_newest_at(prof_recent_detached, ptr, NULL);
	r = prof_recent_newest_at(prof_recent_head, ptr, r);
	if (r != NULL) {
		*alloc_stack = r->alloc_stack;
		*dalloc_stack = r->dalloc_tdata != NULL ? r->dalloc_stack : NULL;
		*released = r->released;
	}
	mutex_unlock(&prof_recent_mtx);
	return r != NULL;
}

void
prof_recent_resize(const extent_sample_t *s, size_t req, size_t usize)
{
	mutex_lock(&prof_recent_mtx);
	prof_recent_rec_t *r = prof_recent_own(s);
	if (r != NULL) {
		r->req = req;
		r->usize = usize;
	}
	mutex_unlock(&prof_recent_mtx);
}

ssize_t
prof_recent_alloc_max_get(void)
{
	mutex_lock(&prof_recent_mtx);
	ssize_t max = prof_recent_max;
	mutex_unlock(&prof_recent_mtx);
	return max;
}

int
prof_recent_alloc_max_set(ssize_t max)
{
	if (max < -1)
		return EINVAL;
	mutex_lock(&prof_recent_mtx);
	prof_recent_max = max;
	prof_recent_trim();
	mutex_unlock(&prof_recent_mtx);
	return 0;
}

const prof_recent_rec_t *
prof_recent_dump_begin(void)
{
	mutex_lock(&prof_recent_mtx);
	prof_recent_detached = prof_recent_head;
	prof_recent_head = prof_recent_tail = NULL;
	prof_recent_count = 0;
	mutex_unlock(&prof_recent_mtx);
	return prof_recent_detached;
}

const prof_recent_rec_t *
prof_recent_dump_next(const prof_recent_rec_t *rec, prof_recent_rec_t *copy)
{
	mutex_lock(&prof_recent_mtx);
	*copy = *rec;
	const prof_recent_rec_t *next = rec->next;
	mutex_unlock(&prof_recent_mtx);
	return next;
}

void
prof_recent_dump_end(void)
{
	mutex_lock(&prof_recent_mtx);
	if (prof_recent_detached != NULL) {
		/* The detached records are the older ones: they go in front. */
		size_t n = 1;
		prof_recent_rec_t *last = prof_recent_detached;
		for (; last->next != NULL; last = last->next)
			n++;
		last->next = prof_recent_head;
		if (prof_recent_tail == NULL)
			prof_recent_tail = last;
		prof_recent_head = prof_recent_detached;
		prof_recent_count += n;
		prof_recent_detached = NULL;
		prof_recent_trim();
	}
	mutex_unlock(&prof_recent_mtx);
}
