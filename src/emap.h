/*
 * emap.h — the page map: for every page of the heap, which extent owns it,
 * the size class of the allocation there, and whether it is a slab.  L1.
 *
 * A two-level radix tree over the 48-bit address space (36 bits of page
 * number: 18 bits of root index, 18 bits of leaf index).  The root is a
 * static array (its untouched pages cost nothing); leaves (2 MiB of virtual
 * space each, covering 1 GiB of addresses) come from the global base and are
 * created by emap_ensure() when memory is first mapped, so registering never
 * fails.
 *
 * A leaf entry (docs/design.md, "Page-map entry") packs:
 *   bit 0       slab: the page belongs to a slab of small regions;
 *   bits 1..5   zero;
 *   bits 6..47  the extent descriptor (descriptors are 64-byte aligned);
 *   bits 48..55 size class + 1 (0 for free extents);
 *   bits 56..60 the home NUMA node of an allocated extent (its
 *               descriptor's node; 0 for free extents and without NUMA);
 *   bits 61..62 zero;
 *   bit 63      sampled: a profiler-sampled object, alone on a large
 *               extent whose descriptor holds the profiler's record; the
 *               class field is the class the caller asked for.
 * The free fast path subtracts its thread's emap_free_bias(node) from bits
 * 48..63, so one compare against a class count rejects "not ours" (entry
 * 0), free extents, sampled objects and other nodes' objects alike: it
 * needs no other test.  emap_bits_szind() ignores the node.
 * Writers hold the owning arena's pages lock (or own the extent
 * exclusively) and store with release order, so a reader that loads an
 * entry with acquire order (emap_lookup_acquire) may read the descriptor's
 * immutable fields (its arena) even when another arena owns it.  The fast
 * paths load relaxed: a pointer being freed was published to the freeing
 * thread with the allocation.
 *
 * Lock: emap_mtx, only to create leaves; taken after arena locks, before the
 * global base's.
 */
#ifndef STRATA_EMAP_H
#define STRATA_EMAP_H

#include "atomic.h"
#include "base.h"

struct extent;

#define EMAP_LEAF_BITS 18
#define EMAP_ROOT_BITS (LG_VADDR - LG_PAGE - EMAP_LEAF_BITS)
#define EMAP_SZIND_SHIFT 48
/* Size class of free (not allocated) extents, as passed to emap_pack. */
#define EMAP_SZIND_NONE 0xffu
#define EMAP_NODE_SHIFT 56
#define EMAP_NODE_BITS 5
#define EMAP_NODE_MASK ((((uint64_t)1 << EMAP_NODE_BITS) - 1) << EMAP_NODE_SHIFT)
#define EMAP_EXTENT_MASK ((((uint64_t)1 << EMAP_SZIND_SHIFT) - 1) & ~(uint64_t)63)
#define EMAP_SAMPLED_BIT ((uint64_t)1 << 63)

typedef struct emap_leaf {
	_Atomic uint64_t entries[(size_t)1 << EMAP_LEAF_BITS];
} emap_leaf_t;

extern _Atomic(emap_leaf_t *) emap_root[(size_t)1 << EMAP_ROOT_BITS];

void emap_boot(base_t *global_base);
/* Creates the leaves covering [addr, addr + size).  0 or ENOMEM. */
int emap_ensure(const void *addr, size_t size);

/* The entry of extent e (its node when allocated: node < 32). */
static inline uint64_t
emap_pack(struct extent *e, unsigned szind, bool slab, unsigned node)
{
	uint64_t field = szind == EMAP_SZIND_NONE ? 0 : szind + 1 + (node << 8);
	return (uint64_t)(uintptr_t)e | (field << EMAP_SZIND_SHIFT) | (uint64_t)slab;
}

/* What the free fast path of a thread whose arena is on node (0 without
 * NUMA) subtracts from bits 48..63: the class of its own node's objects,
 * a value above every class for anything else. */
static inline uint64_t
emap_free_bias(unsigned node)
{
	return 1 + ((uint64_t)node << 8);
}

/* A bias under which the free fast path takes no object: bits 48..63 are
 * below it, so the difference wraps above every class (safety_checks sends
 * every free to the checked path this way). */
#define EMAP_FREE_BIAS_REJECT_ALL ((uint64_t)1 << 16)

/*
 * The free fast path's class: bits 48..63 minus *free_bias (emap_free_bias
 * of the thread's node).  On x86-64 the subtraction takes *free_bias as a
 * memory operand, as the constant 1 it replaces was an immediate: written
 * in C, GCC loads the thread's value into a register of its own, ahead of
 * the page-map lookup's branch, one instruction more on every free.
 */
static ALWAYS_INLINE uint64_t
emap_bits_fast_szind(uint64_t bits, const uint64_t *free_bias)
{
	uint64_t v = bits >> EMAP_SZIND_SHIFT;
#if defined(__x86_64__)
	__asm__("subq %1, %0" : "+r"(v) : "m"(*free_bias));
#else
	v -= *free_bias;
#endif
	return v;
}

/* The home node of an allocated extent's entry. */
static inline unsigned
emap_bits_node(uint64_t bits)
{
	return (unsigned)((bits & EMAP_NODE_MASK) >> EMAP_NODE_SHIFT);
}

static inline struct extent *
emap_bits_extent(uint64_t bits)
{
	return (struct extent *)(uintptr_t)(bits & EMAP_EXTENT_MASK);
}

/* The size class; UINT_MAX for entry 0 and for free extents, and a value
 * above every class for sampled objects. */
static ALWAYS_INLINE unsigned
emap_bits_szind(uint64_t bits)
{
	return (unsigned)((bits & ~EMAP_NODE_MASK) >> EMAP_SZIND_SHIFT) - 1;
}

static inline bool
emap_bits_sampled(uint64_t bits)
{
	return (bits & EMAP_SAMPLED_BIT) != 0;
}

/* The size class of an entry with or without the sampled bit: for a sampled
 * object, the class its caller asked for (its extent is larger). */
static inline unsigned
emap_bits_usable_szind(uint64_t bits)
{
	return emap_bits_szind(bits & ~EMAP_SAMPLED_BIT);
}

static inline bool
emap_bits_slab(uint64_t bits)
{
	return (bits & 1) != 0;
}

/* Whether an entry is a slab page of class szind (one compare: the class
 * field's byte, whatever the node). */
static ALWAYS_INLINE bool
emap_bits_is_slab_of(uint64_t bits, unsigned szind)
{
	return emap_bits_slab(bits) && (uint8_t)(bits >> EMAP_SZIND_SHIFT) == szind + 1;
}

/*
 * The page-map slot of the page holding ptr; NULL when no leaf covers it.
 * Address bits above LG_VADDR are ignored (they are zero in every user
 * address on x86-64), which keeps a lookup to two dependent loads.
 */
static ALWAYS_INLINE _Atomic uint64_t *
emap_find_slot(const void *ptr)
{
	uintptr_t page = (uintptr_t)ptr >> LG_PAGE;
	uintptr_t root_ind = (page >> EMAP_LEAF_BITS) & (((uintptr_t)1 << EMAP_ROOT_BITS) - 1);
	emap_leaf_t *leaf = atomic_load_acquire(&emap_root[root_ind]);
	if (UNLIKELY(leaf == NULL))
		return NULL;
	return &leaf->entries[page & (((uintptr_t)1 << EMAP_LEAF_BITS) - 1)];
}

/* Entry for the page holding ptr; 0 when strata does not own that page. */
static ALWAYS_INLINE uint64_t
emap_lookup(const void *ptr)
{
	_Atomic uint64_t *slot = emap_find_slot(ptr);
	return slot != NULL ? atomic_load_relaxed(slot) : 0;
}

/* emap_lookup with acquire order: for reading another arena's entries. */
static inline uint64_t
emap_lookup_acquire(const void *ptr)
{
	_Atomic uint64_t *slot = emap_find_slot(ptr);
	return slot != NULL ? atomic_load_acquire(slot) : 0;
}

/* Writes bits for every page of [addr, addr + size) (leaves must exist). */
void emap_set_range(const void *addr, size_t size, uint64_t bits);
/* Writes bits for the first and last page of [addr, addr + size). */
void emap_set_boundary(const void *addr, size_t size, uint64_t bits);

#endif
