/*
 * extent.c — pairing heaps and free-extent sets.  See extent.h.
 *
 * Pairing heap representation: each node has its first child (heap_child),
 * its next sibling (heap_next) and heap_prev, which is the previous sibling,
 * or the parent for a first child.  The root has no siblings and no prev.
 * Ordering: by address, so the minimum is the lowest-addressed extent.
 */
#include "extent.h"

static extent_t *
extent_heap_link(extent_t *a, extent_t *b)
{
	if ((uintptr_t)b->addr < (uintptr_t)a->addr) {
		extent_t *t = a;
		a = b;
		b = t;
	}
	b->heap_prev = a;
	b->heap_next = a->heap_child;
	if (a->heap_child != NULL)
		a->heap_child->heap_prev = b;
	a->heap_child = b;
	return a;
}

/* Two-pass pairing of a sibling list into one tree. */
static extent_t *
extent_heap_merge_siblings(extent_t *first)
{
	if (first == NULL)
		return NULL;
	extent_t *pairs = NULL; /* merged pairs, most recent first, linked by heap_next */
	extent_t *a = first;
	while (a != NULL) {
		extent_t *b = a->heap_next;
		extent_t *rest = b != NULL ? b->heap_next : NULL;
		a->heap_next = a->heap_prev = NULL;
		if (b != NULL) {
			b->heap_next = b->heap_prev = NULL;
			a = extent_heap_link(a, b);
		}
		a->heap_next = pairs;
		pairs = a;
		a = rest;
	}
	extent_t *root = pairs;
	pairs = pairs->heap_next;
	root->heap_next = NULL;
	while (pairs != NULL) {
		extent_t *next = pairs->heap_next;
		pairs->heap_next = NULL;
		root = extent_heap_link(root, pairs);
		pairs = next;
	}
	return root;
}

void
extent_heap_insert(extent_heap_t *h, extent_t *e)
{
	e->heap_child = e->heap_next = e->heap_prev = NULL;
	h->root = h->root == NULL ? e : extent_heap_link(h->root, e);
}

void
extent_heap_remove(extent_heap_t *h, extent_t *e)
{
	if (h->root == e) {
		h->root = extent_heap_merge_siblings(e->heap_child);
		return;
	}
	/* Unlink e (and its subtree) from its sibling list. */
	if (e->heap_prev->heap_child == e)
		e->heap_prev->heap_child = e->heap_next;
	else
		e->heap_prev->heap_next = e->heap_next;
	if (e->heap_next != NULL)
		e->heap_next->heap_prev = e->heap_prev;
	extent_t *sub = extent_heap_merge_siblings(e->heap_child);
	if (sub != NULL)
		h->root = extent_heap_link(h->root, sub);
}

extent_t *
extent_heap_walk_next(extent_t *e)
{
	if (e->heap_child != NULL)
		return e->heap_child;
	for (; e != NULL; e = e->heap_prev) {
		if (e->heap_next != NULL)
			return e->heap_next;
		/* Back over the earlier siblings to the first child, whose
		 * heap_prev is the parent (NULL above the root). */
		while (e->heap_prev != NULL && e->heap_prev->heap_child != e)
			e = e->heap_prev;
	}
	return NULL;
}

void
eset_init(eset_t *set)
{
	*set = (eset_t){0};
}

static void
eset_bit_set(eset_t *set, unsigned pind, bool on)
{
	uint64_t bit = (uint64_t)1 << (pind % 64);
	if (on)
		set->nonempty[pind / 64] |= bit;
	else
		set->nonempty[pind / 64] &= ~bit;
}

void
eset_insert(eset_t *set, extent_t *e)
{
	unsigned pind = sz_psz2ind_floor(e->size);
	extent_heap_insert(&set->heaps[pind], e);
	eset_bit_set(set, pind, true);
	set->npages += e->size >> LG_PAGE;
	set->nextents++;
	set->class_n[pind]++;
	set->class_bytes[pind] += e->size;
}

void
eset_remove(eset_t *set, extent_t *e)
{
	unsigned pind = sz_psz2ind_floor(e->size);
	extent_heap_remove(&set->heaps[pind], e);
	if (extent_heap_empty(&set->heaps[pind]))
		eset_bit_set(set, pind, false);
	set->npages -= e->size >> LG_PAGE;
	set->nextents--;
	set->class_n[pind]--;
	set->class_bytes[pind] -= e->size;
}

extent_t *
eset_find_fit(eset_t *set, size_t size)
{
	unsigned pind = sz_psz2ind_ceil(size);
	for (unsigned w = pind / 64; w < ESET_BITMAP_WORDS; w++) {
		uint64_t bits = set->nonempty[w];
		if (w == pind / 64)
			bits &= ~(uint64_t)0 << (pind % 64);
		if (bits != 0)
			return extent_heap_first(&set->heaps[w * 64 + bits_ctz(bits)]);
	}
	return NULL;
}

extent_t *
eset_find_largest(eset_t *set)
{
	for (unsigned w = ESET_BITMAP_WORDS; w-- > 0;) {
		uint64_t bits = set->nonempty[w];
		if (bits != 0)
			return extent_heap_first(&set->heaps[w * 64 + bits_lg_floor(bits)]);
	}
	return NULL;
}
