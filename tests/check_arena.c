/*
 * check_arena.c — arenas: arena_get with and without creation and out of
 * range; arena_malloc/arena_dalloc of small and large classes (usable sizes,
 * bin and page counters, the page map naming the owning arena through
 * arena_lookup, zeroing of reused pages); manual arenas (arena_create_manual,
 * arena_reset freeing every slab and large extent, arena_destroy making the
 * index reusable and refusing automatic arenas and arenas with bound
 * threads); arena_purge turning dirty pages into retained ones.
 *
 * The allocator is initialized by init_ensure() as in the other suites.
 * Tests that count dirty pages set opt_dirty_decay_ms to -1 (never purge on
 * its own) before creating their manual arena: each test runs in its own
 * forked child, so the option change stays there.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "arena.h"
#include "conf.h"
#include "emap.h"
#include "init.h"
#include "tsd.h"

static arena_t *arena0;

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
	arena0 = arena_get(0, false);
	ck_assert_ptr_nonnull(arena0);
}

static pages_stats_t
pstats(arena_t *a)
{
	pages_stats_t s;
	pages_stats_read(&a->pages, &s);
	return s;
}

static bin_stats_t
bstats(arena_t *a, unsigned binind)
{
	bin_stats_t s;
	bin_stats_read(&a->bins[binind], binind, a->pai, &s);
	return s;
}

/* A new manual arena that never purges on its own. */
static arena_t *
manual_arena(unsigned *ind)
{
	opt_dirty_decay_ms = -1;
	ck_assert_int_eq(arena_create_manual(ind), 0);
	arena_t *a = arena_get(*ind, false);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->ind, *ind);
	return a;
}

static void *
alloc_size(arena_t *a, size_t size, size_t alignment, bool zero)
{
	unsigned szind = sz_size2index(size);
	size_t usize = sz_index2size(szind);
	void *p = arena_malloc(a, usize, szind, alignment, zero);
	ck_assert_ptr_nonnull(p);
	return p;
}

static void
dalloc(void *p)
{
	arena_dalloc(p, emap_lookup(p));
}

static unsigned
owner(const void *p)
{
	unsigned ind = UINT_MAX;
	ck_assert_int_eq(arena_lookup(p, &ind), 0);
	return ind;
}

START_TEST(test_get_create_and_range)
{
	ck_assert_uint_eq(arena0->ind, 0);
	ck_assert(arena_is_initialized(0));
	unsigned nauto = arena_narenas_auto();
	unsigned total = arena_narenas_total();
	ck_assert_uint_ge(nauto, 1);
	ck_assert_uint_eq(total, nauto); /* no manual arena yet in this child */
	if (nauto >= 2) {
		/* Automatic arenas other than 0 exist only once asked for. */
		unsigned last = nauto - 1;
		ck_assert_ptr_null(arena_get(last, false));
		ck_assert(!arena_is_initialized(last));
		ck_assert_uint_eq(arena_nthreads(last), 0);
		arena_t *a = arena_get(last, true);
		ck_assert_ptr_nonnull(a);
		ck_assert_uint_eq(a->ind, last);
		ck_assert_ptr_eq(arena_get(last, false), a);
		ck_assert_ptr_eq(arena_get(last, true), a);
		ck_assert(arena_is_initialized(last));
	}
	/* Out of range, with or without create: nothing, and nothing grows. */
	ck_assert_ptr_null(arena_get(total, false));
	ck_assert_ptr_null(arena_get(total, true));
	ck_assert_ptr_null(arena_get(ARENAS_MAX, true));
	ck_assert_ptr_null(arena_get(UINT_MAX, true));
	ck_assert(!arena_is_initialized(total));
	ck_assert_uint_eq(arena_narenas_total(), total);
	ck_assert_uint_eq(arena_narenas_auto(), nauto);
	/* A manual arena takes the next index, which becomes valid. */
	unsigned ind;
	ck_assert_int_eq(arena_create_manual(&ind), 0);
	ck_assert_uint_eq(ind, total);
	ck_assert_uint_eq(arena_narenas_total(), total + 1);
	ck_assert_uint_eq(arena_narenas_auto(), nauto);
	ck_assert_ptr_nonnull(arena_get(ind, false));
	ck_assert_ptr_null(arena_get(ind + 1, true));
}
END_TEST

START_TEST(test_small_alloc_dalloc)
{
	unsigned mind;
	arena_t *m = manual_arena(&mind);
	static const size_t sizes[] = {1, 8, 16, 17, 100, 1024, 3000, 4096, 8192, 14336};
	arena_t *both[2] = {arena0, m};
	for (unsigned k = 0; k < 2; k++) {
		arena_t *a = both[k];
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			unsigned szind = sz_size2index(sizes[i]);
			size_t usize = sz_index2size(szind);
			ck_assert_uint_lt(szind, SZ_NBINS);
			ck_assert_uint_ge(usize, sizes[i]);
			bin_stats_t before = bstats(a, szind);
			void *p = arena_malloc(a, usize, szind, 0, false);
			void *q = arena_malloc(a, usize, szind, 0, false);
			ck_assert_ptr_nonnull(p);
			ck_assert_ptr_nonnull(q);
			/* Distinct, non-overlapping regions of exactly the class. */
			ck_assert((char *)p + usize <= (char *)q || (char *)q + usize <= (char *)p);
			memset(p, 0xa5, usize);
			memset(q, 0x5a, usize);
			uint64_t bits = emap_lookup(p);
			ck_assert(emap_bits_slab(bits));
			ck_assert_uint_eq(emap_bits_szind(bits), szind);
			ck_assert_uint_eq(emap_bits_extent(bits)->arena_ind, a->ind);
			ck_assert_uint_eq(owner(p), a->ind);
			ck_assert_uint_eq(owner(q), a->ind);
			/* A pointer into the region's last byte has the same owner. */
			ck_assert_uint_eq(owner((char *)p + usize - 1), a->ind);
			bin_stats_t during = bstats(a, szind);
			ck_assert_uint_eq(during.curregs, before.curregs + 2);
			ck_assert_uint_eq(during.nmalloc, before.nmalloc + 2);
			ck_assert_uint_eq(((unsigned char *)p)[usize - 1], 0xa5);
			arena_dalloc(p, bits);
			dalloc(q);
			bin_stats_t after = bstats(a, szind);
			ck_assert_uint_eq(after.curregs, before.curregs);
			ck_assert_uint_eq(after.ndalloc, before.ndalloc + 2);
		}
	}
	/* Not strata's: a stack address, and NULL. */
	int local;
	unsigned ind = 12345;
	ck_assert_int_eq(arena_lookup(&local, &ind), EINVAL);
	ck_assert_int_eq(arena_lookup(NULL, &ind), EINVAL);
	ck_assert_uint_eq(ind, 12345);
}
END_TEST

START_TEST(test_large_alloc_dalloc)
{
	unsigned mind;
	arena_t *m = manual_arena(&mind);
	static const size_t sizes[] = {16384, 20000, 100 * 1024, 1024 * 1024 + 1, 5 * 1024 * 1024};
	static const size_t aligns[] = {0, PAGE, 64 * 1024, 2 * 1024 * 1024};
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (unsigned j = 0; j < sizeof(aligns) / sizeof(aligns[0]); j++) {
			unsigned szind = sz_size2index(sizes[i]);
			size_t usize = sz_index2size(szind);
			ck_assert_uint_ge(szind, SZ_NBINS);
			ck_assert_uint_eq(usize % PAGE, 0);
			pages_stats_t ps0 = pstats(m);
			size_t alloc0 = atomic_load_relaxed(&m->large.allocated);
			void *p = arena_malloc(m, usize, szind, aligns[j], false);
			ck_assert_ptr_nonnull(p);
			if (aligns[j] != 0)
				ck_assert_uint_eq((uintptr_t)p % aligns[j], 0);
			memset(p, 0x77, usize);
			uint64_t bits = emap_lookup(p);
			ck_assert(!emap_bits_slab(bits));
			ck_assert_uint_eq(emap_bits_szind(bits), szind);
			extent_t *e = emap_bits_extent(bits);
			ck_assert_ptr_eq(e->addr, p);
			ck_assert_uint_eq(e->size, usize);
			ck_assert_uint_eq(e->state, EXTENT_ACTIVE);
			ck_assert_uint_eq(owner(p), mind);
			ck_assert_uint_eq(owner((char *)p + usize - 1), mind); /* last page */
			pages_stats_t ps1 = pstats(m);
			ck_assert_uint_eq(ps1.active_pages, ps0.active_pages + usize / PAGE);
			ck_assert_uint_eq(atomic_load_relaxed(&m->large.allocated), alloc0 + usize);
			arena_dalloc(p, bits);
			pages_stats_t ps2 = pstats(m);
			ck_assert_uint_eq(ps2.active_pages, ps0.active_pages);
			ck_assert_uint_eq(ps2.dirty_pages, ps1.dirty_pages + usize / PAGE);
			ck_assert_uint_eq(atomic_load_relaxed(&m->large.allocated), alloc0);
			/* The freed extent is no allocation any more. */
			unsigned ind;
			ck_assert_int_eq(arena_lookup(p, &ind), EINVAL);
		}
	}
	/* An automatic arena serves large sizes the same way. */
	void *p = alloc_size(arena0, 300 * 1024, 0, false);
	ck_assert_uint_eq(owner(p), 0);
	ck_assert_uint_eq(emap_bits_szind(emap_lookup(p)), sz_size2index(300 * 1024));
	dalloc(p);
}
END_TEST

START_TEST(test_zero_on_reused_pages)
{
	unsigned mind;
	arena_t *m = manual_arena(&mind);
	const size_t size = 64 * 1024;
	unsigned char *p = alloc_size(m, size, 0, false);
	memset(p, 0xff, size);
	dalloc(p);
	size_t dirty = pstats(m).dirty_pages;
	ck_assert_uint_ge(dirty, size / PAGE);
	/* The dirty pages are reused first, and zero asks for them cleared. */
	unsigned char *q = alloc_size(m, size, 0, true);
	ck_assert_uint_eq(pstats(m).dirty_pages, dirty - size / PAGE);
	for (size_t i = 0; i < size; i++)
		if (q[i] != 0)
			ck_abort_msg("byte %zu of a zeroed reused extent is %#x", i, q[i]);
	dalloc(q);
	/* Small: zero clears a region that held data. */
	unsigned szind = sz_size2index(200);
	size_t usize = sz_index2size(szind);
	unsigned char *s = arena_malloc(m, usize, szind, 0, false);
	memset(s, 0xee, usize);
	arena_dalloc(s, emap_lookup(s));
	unsigned char *t = arena_malloc(m, usize, szind, 0, true);
	ck_assert_ptr_eq(t, s); /* lowest free region of the current slab */
	for (size_t i = 0; i < usize; i++)
		ck_assert_uint_eq(t[i], 0);
	dalloc(t);
}
END_TEST

START_TEST(test_manual_reset_frees_everything)
{
	unsigned nauto = arena_narenas_auto();
	unsigned mind;
	arena_t *m = manual_arena(&mind);
	ck_assert_uint_ge(mind, nauto);
	/* First, while the arena's first mapping has free pages after it: a
	 * large allocation grown in place (it must stay listed for reset). */
	void *grow = alloc_size(m, 32768, 0, false);
	ck_assert(arena_resize_in_place(grow, emap_lookup(grow), 65536, false));
	ck_assert_uint_eq(emap_bits_extent(emap_lookup(grow))->size, 65536);
	/* Every small class: two full slabs and one partly used (full slabs
	 * are on the bin's full list, the rest in the heap or current). */
	enum { MAXP = 16384 };
	static void *ptrs[MAXP];
	unsigned n = 0;
	for (unsigned b = 0; b < SZ_NBINS; b++) {
		unsigned want = 2 * sz_bin_info[b].nregs + 1;
		ck_assert_uint_le(n + want, MAXP - 16);
		while (want > 0) {
			unsigned got = bin_malloc_batch(&m->bins[b], b, m->pai, ptrs + n, want);
			ck_assert_uint_gt(got, 0);
			n += got;
			want -= got;
		}
		ck_assert_uint_ge(bstats(m, b).curslabs, 3);
	}
	/* Free a few so that some slabs are partly used again. */
	for (unsigned i = 0; i < n; i += 97) {
		dalloc(ptrs[i]);
		ptrs[i] = NULL;
	}
	/* Large ones, one of them shrunk in place. */
	static const size_t lsizes[] = {16384, 40960, 262144, 1 << 20, 3 << 20, 65536};
	void *large[6];
	for (unsigned i = 0; i < 6; i++)
		large[i] = alloc_size(m, lsizes[i], 0, false);
	ck_assert(arena_resize_in_place(large[3], emap_lookup(large[3]), 512 * 1024, false));
	ck_assert_uint_gt(pstats(m).active_pages, 0);
	ck_assert_uint_gt(atomic_load_relaxed(&m->large.allocated), 0);

	ck_assert_int_eq(arena_reset(mind), 0);

	pages_stats_t ps = pstats(m);
	ck_assert_uint_eq(ps.active_pages, 0);
	ck_assert_uint_eq(atomic_load_relaxed(&m->large.allocated), 0);
	static large_stats_t ls;
	large_stats_read(&m->large, &ls);
	for (unsigned j = 0; j < SZ_NLEXTENTS; j++)
		ck_assert_uint_eq(ls.nmalloc[j], ls.ndalloc[j]);
	for (unsigned b = 0; b < SZ_NBINS; b++) {
		bin_stats_t bs = bstats(m, b);
		ck_assert_uint_eq(bs.curregs, 0);
		ck_assert_uint_eq(bs.curslabs, 0);
		ck_assert_uint_eq(bs.nmalloc, bs.ndalloc);
	}
	unsigned ind;
	for (unsigned i = 0; i < n; i++)
		if (ptrs[i] != NULL)
			ck_assert_int_eq(arena_lookup(ptrs[i], &ind), EINVAL);
	for (unsigned i = 0; i < 6; i++)
		ck_assert_int_eq(arena_lookup(large[i], &ind), EINVAL);
	ck_assert_int_eq(arena_lookup(grow, &ind), EINVAL);
	/* The arena keeps working, from the pages it got back. */
	size_t mapped = ps.mapped;
	void *p = alloc_size(m, 100, 0, false);
	void *q = alloc_size(m, 200000, 0, false);
	ck_assert_uint_eq(owner(p), mind);
	ck_assert_uint_eq(owner(q), mind);
	ck_assert_uint_eq(pstats(m).mapped, mapped);
	/* And a second reset frees what came after the first. */
	ck_assert_int_eq(arena_reset(mind), 0);
	ck_assert_uint_eq(pstats(m).active_pages, 0);
}
END_TEST

START_TEST(test_reset_refuses_automatic_and_missing)
{
	void *p = alloc_size(arena0, 64, 0, false);
	void *q = alloc_size(arena0, 100000, 0, false);
	size_t active = pstats(arena0).active_pages;
	ck_assert_int_eq(arena_reset(0), EFAULT);
	ck_assert_int_eq(arena_reset(arena_narenas_auto() - 1), EFAULT);
	ck_assert_int_eq(arena_reset(arena_narenas_total()), EFAULT);
	ck_assert_int_eq(arena_reset(ARENAS_MAX), EFAULT);
	ck_assert_int_eq(arena_reset(UINT_MAX), EFAULT);
	/* Nothing of arena 0 was freed. */
	ck_assert_uint_eq(pstats(arena0).active_pages, active);
	ck_assert_uint_eq(owner(p), 0);
	ck_assert_uint_eq(owner(q), 0);
	dalloc(p);
	dalloc(q);
}
END_TEST

START_TEST(test_destroy_then_create_reuses_index)
{
	unsigned a, b;
	arena_t *pa = manual_arena(&a);
	arena_t *pb = manual_arena(&b);
	ck_assert_uint_eq(b, a + 1);
	void *small = alloc_size(pa, 48, 0, false);
	void *large = alloc_size(pa, 1 << 20, 0, false);
	void *other = alloc_size(pb, 48, 0, false);
	unsigned total = arena_narenas_total();

	ck_assert_int_eq(arena_destroy(a), 0);
	ck_assert_ptr_null(arena_get(a, false));
	ck_assert_ptr_null(arena_get(a, true)); /* not revived by arena_get */
	ck_assert(!arena_is_initialized(a));
	ck_assert_int_eq(arena_destroy(a), EFAULT);
	ck_assert_int_eq(arena_reset(a), EFAULT);
	/* Everything was freed and purged. */
	pages_stats_t ps = pstats(pa);
	ck_assert_uint_eq(ps.active_pages, 0);
	ck_assert_uint_eq(ps.dirty_pages, 0);
	ck_assert_uint_gt(ps.retained_pages, 0);
	unsigned ind;
	ck_assert_int_eq(arena_lookup(small, &ind), EINVAL);
	ck_assert_int_eq(arena_lookup(large, &ind), EINVAL);
	ck_assert_uint_eq(owner(other), b); /* the neighbour is untouched */

	/* The next manual arena is the destroyed one, revived. */
	unsigned c;
	ck_assert_int_eq(arena_create_manual(&c), 0);
	ck_assert_uint_eq(c, a);
	ck_assert_uint_eq(arena_narenas_total(), total);
	ck_assert_ptr_eq(arena_get(a, false), pa);
	void *again = alloc_size(pa, 1 << 20, 0, false);
	ck_assert_uint_eq(owner(again), a);
	ck_assert_uint_eq(pstats(pa).mapped, ps.mapped); /* from its retained pages */
	dalloc(again);

	/* Two destroyed: the lowest index comes back first, then a new one. */
	dalloc(other);
	ck_assert_int_eq(arena_destroy(b), 0);
	ck_assert_int_eq(arena_destroy(a), 0);
	ck_assert_int_eq(arena_create_manual(&c), 0);
	ck_assert_uint_eq(c, a);
	ck_assert_int_eq(arena_create_manual(&c), 0);
	ck_assert_uint_eq(c, b);
	ck_assert_ptr_eq(arena_get(b, false), pb);
	ck_assert_int_eq(arena_create_manual(&c), 0);
	ck_assert_uint_eq(c, total);
	ck_assert_uint_eq(arena_narenas_total(), total + 1);
}
END_TEST

START_TEST(test_destroy_refuses_automatic_and_bound)
{
	ck_assert_int_eq(arena_destroy(0), EFAULT);
	ck_assert_int_eq(arena_destroy(arena_narenas_auto() - 1), EFAULT);
	ck_assert_int_eq(arena_destroy(arena_narenas_total()), EFAULT);
	ck_assert_ptr_eq(arena_get(0, false), arena0);

	unsigned mind;
	arena_t *m = manual_arena(&mind);
	tsd_t *tsd = tsd_fetch();
	ck_assert_ptr_nonnull(tsd);
	unsigned home = tsd_thread_arena_get();
	ck_assert_int_eq(tsd_thread_arena_set(mind), 0);
	ck_assert_uint_eq(arena_nthreads(mind), 1);
	void *p = alloc_size(m, 5000, 0, false);
	/* A thread is bound to it: refused, and nothing is freed. */
	ck_assert_int_eq(arena_destroy(mind), EFAULT);
	ck_assert_ptr_eq(arena_get(mind, false), m);
	ck_assert_uint_eq(owner(p), mind);
	ck_assert_uint_gt(pstats(m).active_pages, 0);
	/* Unbound, it can go. */
	ck_assert_int_eq(tsd_thread_arena_set(home), 0);
	ck_assert_uint_eq(arena_nthreads(mind), 0);
	ck_assert_int_eq(arena_destroy(mind), 0);
	ck_assert_ptr_null(arena_get(mind, false));
	ck_assert_uint_eq(pstats(m).active_pages, 0);
	/* A destroyed arena cannot be bound to. */
	ck_assert_int_eq(tsd_thread_arena_set(mind), EFAULT);
	ck_assert_uint_eq(tsd_thread_arena_get(), home);
}
END_TEST

START_TEST(test_purge_makes_dirty_retained)
{
	unsigned mind;
	arena_t *m = manual_arena(&mind);
	enum { N = 32 };
	const size_t size = 64 * 1024;
	unsigned char *p[N];
	for (unsigned i = 0; i < N; i++) {
		p[i] = alloc_size(m, size, 0, false);
		memset(p[i], 0xcc, size);
	}
	pages_stats_t before = pstats(m);
	for (unsigned i = 0; i < N; i++)
		dalloc(p[i]);
	pages_stats_t freed = pstats(m);
	size_t npages = N * size / PAGE;
	ck_assert_uint_eq(freed.dirty_pages, before.dirty_pages + npages); /* decay -1: kept */
	ck_assert_uint_eq(freed.active_pages, before.active_pages - npages);

	size_t purged = arena_purge(mind);
	ck_assert_uint_eq(purged, freed.dirty_pages * PAGE);
	pages_stats_t after = pstats(m);
	ck_assert_uint_eq(after.dirty_pages, 0);
	ck_assert_uint_eq(after.retained_pages, freed.retained_pages + freed.dirty_pages);
	ck_assert_uint_eq(after.dirty.purged, freed.dirty.purged + freed.dirty_pages);
	ck_assert_uint_gt(after.dirty.npurge, freed.dirty.npurge);
	ck_assert_uint_eq(after.mapped, freed.mapped);
	/* Purged for real: the pages read back zero without being cleared. */
	unsigned char *q = alloc_size(m, size, 0, false);
	for (size_t i = 0; i < size; i++)
		if (q[i] != 0)
			ck_abort_msg("byte %zu of a purged page is %#x", i, q[i]);
	dalloc(q);
	/* Nothing more to purge; missing arenas purge nothing. */
	ck_assert_uint_eq(arena_purge(mind), size); /* only what q just dirtied */
	ck_assert_uint_eq(arena_purge(mind), 0);
	ck_assert_uint_eq(arena_purge(arena_narenas_total()), 0);
	ck_assert_uint_eq(arena_purge(UINT_MAX), 0);
}
END_TEST

START_TEST(test_decay_zero_purges_at_once)
{
	/* New arenas take arenas.dirty_decay_ms, read from the option at boot. */
	ck_assert_int_eq(arena_set_default_decay_ms(false, 0), 0);
	unsigned mind;
	ck_assert_int_eq(arena_create_manual(&mind), 0);
	arena_t *m = arena_get(mind, false);
	void *p = alloc_size(m, 1 << 20, 0, false);
	pages_stats_t before = pstats(m);
	dalloc(p);
	pages_stats_t after = pstats(m);
	ck_assert_uint_eq(after.dirty_pages, 0);
	ck_assert_uint_eq(after.dirty.purged, before.dirty.purged + (1 << 20) / PAGE);
	ck_assert_uint_eq(arena_purge(mind), 0);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("arena");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_get_create_and_range);
	tcase_add_test(tc, test_small_alloc_dalloc);
	tcase_add_test(tc, test_large_alloc_dalloc);
	tcase_add_test(tc, test_zero_on_reused_pages);
	tcase_add_test(tc, test_manual_reset_frees_everything);
	tcase_add_test(tc, test_reset_refuses_automatic_and_missing);
	tcase_add_test(tc, test_destroy_then_create_reuses_index);
	tcase_add_test(tc, test_destroy_refuses_automatic_and_bound);
	tcase_add_test(tc, test_purge_makes_dirty_retained);
	tcase_add_test(tc, test_decay_zero_purges_at_once);
	suite_add_tcase(s, tc);
	return s;
}
