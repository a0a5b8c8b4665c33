/*
 * check_emap.c — the page map: leaves created on demand over sparse
 * addresses, range and boundary writes, lookups of unknown and
 * out-of-range addresses, the packing of extent, class and slab bit, and
 * the entry layout itself (docs/design.md, "Page-map entry"): bit
 * positions, the reserved node and sampled fields, and the one compare of
 * the free fast path rejecting free extents, unknown pages and sampled
 * objects.
 */
#include <check.h>

#include "emap.h"
#include "extent.h"
#include "tcache.h"

static base_t test_base;

static void
setup(void)
{
	base_init(&test_base, MUTEX_RANK_GLOBAL_BASE);
	emap_boot(&test_base);
}

/* Page-aligned addresses far apart: different leaves, never mapped. */
static void *
sparse_addr(unsigned i)
{
	return (void *)((uintptr_t)0x100000000000 + (uintptr_t)i * ((uintptr_t)1 << 33) +
	                (uintptr_t)i * 3 * PAGE);
}

START_TEST(test_pack_roundtrip)
{
	static extent_t e;
	for (unsigned szind = 0; szind < SZ_NSIZES; szind += 7) {
		for (int slab = 0; slab <= 1; slab++) {
			uint64_t bits = emap_pack(&e, szind, slab, 0);
			ck_assert_ptr_eq(emap_bits_extent(bits), &e);
			ck_assert_uint_eq(emap_bits_szind(bits), szind);
			ck_assert_int_eq(emap_bits_slab(bits), slab);
		}
	}
	uint64_t none = emap_pack(&e, EMAP_SZIND_NONE, false, 0);
	ck_assert_uint_ge(emap_bits_szind(none), SZ_NSIZES);
	ck_assert_uint_ge(emap_bits_szind(0), SZ_NSIZES);
}
END_TEST

/* The layout is a contract with the free fast path, the profiler and the
 * NUMA routing of frees: pin every field's position. */
START_TEST(test_entry_layout_is_pinned)
{
	static extent_t e;
	uintptr_t ep = (uintptr_t)&e;
	ck_assert_uint_eq(ep & 63, 0); /* descriptors leave bits 0..5 free */
	ck_assert_uint_eq(emap_pack(&e, 0, false, 0), (uint64_t)ep | ((uint64_t)1 << 48));
	ck_assert_uint_eq(emap_pack(&e, 5, true, 0), (uint64_t)ep | ((uint64_t)6 << 48) | 1);
	ck_assert_uint_eq(emap_pack(&e, 5, true, 3),
	                  (uint64_t)ep | ((uint64_t)3 << 56) | ((uint64_t)6 << 48) | 1);
	ck_assert_uint_eq(emap_pack(&e, EMAP_SZIND_NONE, false, 3), (uint64_t)ep);
	ck_assert_uint_eq(EMAP_NODE_MASK, (uint64_t)0x1f << 56);
	ck_assert_uint_eq(EMAP_SAMPLED_BIT, (uint64_t)1 << 63);
	ck_assert_uint_eq(EMAP_EXTENT_MASK, (((uint64_t)1 << 48) - 1) & ~(uint64_t)63);
	STATIC_ASSERT(SZ_NSIZES < 255, "class + 1 fits in bits 48..55");
}
END_TEST

/* The node field does not disturb the others, and each reads back. */
START_TEST(test_node_field_coexists)
{
	static extent_t e;
	for (unsigned node = 0; node < 32; node++) {
		uint64_t bits = emap_pack(&e, 9, true, node);
		ck_assert_uint_eq(emap_bits_node(bits), node);
		ck_assert(emap_bits_is_slab_of(bits, 9));
		ck_assert(!emap_bits_is_slab_of(bits, 8));
		ck_assert(!emap_bits_is_slab_of(emap_pack(&e, 9, false, node), 9));
		ck_assert_ptr_eq(emap_bits_extent(bits), &e);
		ck_assert_uint_eq(emap_bits_szind(bits), 9);
		ck_assert(emap_bits_slab(bits));
		ck_assert_uint_eq(bits & EMAP_SAMPLED_BIT, 0);
		ck_assert_ptr_eq(emap_bits_extent(bits | EMAP_SAMPLED_BIT), &e);
	}
}
END_TEST

/* free's fast path takes the cache only when emap_bits_fast_szind() is
 * below TCACHE_NBINS_MAX: the same compare must turn away every entry that
 * is not a live, unsampled, cacheable allocation of the freeing thread's
 * node, for every pair of nodes. */
START_TEST(test_fast_path_compare_rejects)
{
	static extent_t e;
	for (unsigned mine = 0; mine < 32; mine++) {
		uint64_t bias = emap_free_bias(mine);
		ck_assert_uint_ge(emap_bits_fast_szind(0, &bias), TCACHE_NBINS_MAX);
		for (unsigned node = 0; node < 32; node++) {
			uint64_t none = emap_pack(&e, EMAP_SZIND_NONE, false, node);
			ck_assert_uint_ge(emap_bits_fast_szind(none, &bias), TCACHE_NBINS_MAX);
			for (unsigned szind = 0; szind < SZ_NSIZES; szind++) {
				uint64_t bits = emap_pack(&e, szind, szind < SZ_NBINS, node);
				bool cached = node == mine && szind < TCACHE_NBINS_MAX;
				ck_assert_int_eq(emap_bits_fast_szind(bits, &bias) < TCACHE_NBINS_MAX, cached);
				if (cached)
					ck_assert_uint_eq(emap_bits_fast_szind(bits, &bias), szind);
				uint64_t sampled = bits | EMAP_SAMPLED_BIT;
				ck_assert_uint_ge(emap_bits_fast_szind(sampled, &bias), SZ_NSIZES);
				ck_assert_uint_ge(emap_bits_szind(sampled), SZ_NSIZES);
				ck_assert_uint_eq(emap_bits_szind(bits), szind);
			}
		}
	}
}
END_TEST

START_TEST(test_sparse_insert_lookup_remove)
{
	static extent_t ext[64];
	for (unsigned i = 0; i < 64; i++) {
		void *a = sparse_addr(i);
		ck_assert_uint_eq(emap_lookup(a), 0);
		ck_assert_int_eq(emap_ensure(a, 8 * PAGE), 0);
		emap_set_range(a, 8 * PAGE, emap_pack(&ext[i], i, true, 0));
	}
	for (unsigned i = 0; i < 64; i++) {
		char *a = sparse_addr(i);
		for (unsigned p = 0; p < 8; p++) {
			uint64_t bits = emap_lookup(a + p * PAGE + 17);
			ck_assert_ptr_eq(emap_bits_extent(bits), &ext[i]);
			ck_assert_uint_eq(emap_bits_szind(bits), i);
		}
		ck_assert_uint_eq(emap_lookup(a + 8 * PAGE), 0);
		ck_assert_uint_eq(emap_lookup(a - PAGE), 0);
	}
	for (unsigned i = 0; i < 64; i += 2)
		emap_set_range(sparse_addr(i), 8 * PAGE, 0);
	for (unsigned i = 0; i < 64; i++) {
		uint64_t bits = emap_lookup(sparse_addr(i));
		if (i % 2 == 0)
			ck_assert_uint_eq(bits, 0);
		else
			ck_assert_ptr_eq(emap_bits_extent(bits), &ext[i]);
	}
}
END_TEST

START_TEST(test_boundary_only)
{
	static extent_t e;
	char *a = sparse_addr(100);
	ck_assert_int_eq(emap_ensure(a, 16 * PAGE), 0);
	emap_set_boundary(a, 16 * PAGE, emap_pack(&e, 40, false, 0));
	ck_assert_ptr_eq(emap_bits_extent(emap_lookup(a)), &e);
	ck_assert_ptr_eq(emap_bits_extent(emap_lookup(a + 15 * PAGE)), &e);
	for (unsigned p = 1; p < 15; p++)
		ck_assert_uint_eq(emap_lookup(a + p * PAGE), 0);
}
END_TEST

START_TEST(test_range_crossing_leaves)
{
	static extent_t e;
	/* Two pages on each side of a 1 GiB leaf boundary. */
	char *a = (char *)((uintptr_t)0x200000000000 + ((uintptr_t)1 << 30) - 2 * PAGE);
	ck_assert_int_eq(emap_ensure(a, 4 * PAGE), 0);
	emap_set_range(a, 4 * PAGE, emap_pack(&e, 3, true, 0));
	for (unsigned p = 0; p < 4; p++)
		ck_assert_ptr_eq(emap_bits_extent(emap_lookup(a + p * PAGE)), &e);
}
END_TEST

START_TEST(test_unmapped_addresses)
{
	ck_assert_uint_eq(emap_lookup(NULL), 0);
	ck_assert_uint_eq(emap_lookup((void *)(uintptr_t)0x12345), 0);
	/* Kernel-half addresses alias nothing that is mapped by these tests. */
	ck_assert_uint_eq(emap_lookup((void *)~(uintptr_t)0), 0);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("emap");
	TCase *tc = tcase_create("emap");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_pack_roundtrip);
	tcase_add_test(tc, test_entry_layout_is_pinned);
	tcase_add_test(tc, test_node_field_coexists);
	tcase_add_test(tc, test_fast_path_compare_rejects);
	tcase_add_test(tc, test_sparse_insert_lookup_remove);
	tcase_add_test(tc, test_boundary_only);
	tcase_add_test(tc, test_range_crossing_leaves);
	tcase_add_test(tc, test_unmapped_addresses);
	suite_add_tcase(s, tc);
	return s;
}
