/*
 * check_pages.c — the page allocator's failure, fork and time paths, with
 * the OS calls and the clock replaced (os.h, clock.h test hooks):
 *   - a failed mapping fails the allocation and changes no counter; a
 *     failed purge leaves the extent dirty and reusable;
 *   - a fork while an extent is being purged (the lock dropped around
 *     madvise) leaves the child with every page accounted for: the busy
 *     extent comes back as dirty;
 *   - a shrink with no descriptor left for the tail fails and leaves the
 *     extent and the large counters as they were;
 *   - descriptors come from the base without the pages lock held, so a new
 *     metadata chunk is never mapped under it;
 *   - free extents of two arenas side by side are never merged, also with
 *     both arenas busy at once;
 *   - decay follows the (injected) clock: nothing is purged before its
 *     time, everything after dirty_decay_ms, and pages freed after an idle
 *     spell count as freed now;
 *   - arena creation and large allocations fail cleanly when mapping fails;
 *     a growth step that does not fit maps the request alone.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "hpage.h"
#include "init.h"
#include "large.h"
#include "os.h"
#include "pages.h"
/* Last: malloc below is strata's (strata_test_malloc). */
#include "public_names.h"
#include <strata.h>

#define ARENA_A 7
#define ARENA_B 8

static base_t test_base;

static void
setup(void)
{
	ck_assert_int_eq(init_ensure(), 0);
	/* The hooks below tell metadata chunks by their page alignment:
	 * metadata stays off huge pages (metadata_thp) here. */
	base_thp = BASE_THP_NONE;
	os_test_hooks = (os_hooks_t){0};
	atomic_store(&clock_test_now_ns, 0);
	base_init(&test_base, MUTEX_RANK_ARENA_BASE);
}

static pages_stats_t
stats_of(pages_t *p)
{
	pages_stats_t st;
	pages_stats_read(p, &st);
	return st;
}

/* Every mapped page is active, dirty or retained. */
static void
assert_accounted(pages_t *p)
{
	pages_stats_t st = stats_of(p);
	ck_assert_uint_eq((st.active_pages + st.dirty_pages + st.retained_pages) << LG_PAGE,
	                  st.mapped);
}

static void *
map_fails(size_t size, size_t alignment)
{
	(void)size;
	(void)alignment;
	return NULL;
}

static int
purge_fails(void *addr, size_t size)
{
	(void)addr;
	(void)size;
	return EAGAIN;
}

START_TEST(test_map_failure_fails_cleanly)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, -1, 0);
	os_test_hooks.pages_map = map_fails;
	ck_assert_ptr_null(pages_alloc(&p, 16 * PAGE, PAGE, false, SZ_NBINS, false));
	pages_stats_t st = stats_of(&p);
	ck_assert_uint_eq(st.mapped, 0);
	ck_assert_uint_eq(st.active_pages, 0);
	os_test_hooks.pages_map = NULL;
	extent_t *e = pages_alloc(&p, 16 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(e);
	assert_accounted(&p);
}
END_TEST

START_TEST(test_purge_failure_keeps_dirty)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, -1, 0);
	extent_t *e = pages_alloc(&p, 32 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(e);
	memset(e->addr, 0x5a, 32 * PAGE);
	pages_free(&p, e);
	os_test_hooks.purge_forced = purge_fails;
	ck_assert_uint_eq(pages_purge_all(&p), 0);
	pages_stats_t st = stats_of(&p);
	ck_assert_uint_eq(st.dirty_pages, 32);
	ck_assert_uint_eq(st.dirty.purged, 0);
	assert_accounted(&p);
	/* Still dirty, so not known to be zero: zeroing is still done. */
	extent_t *again = pages_alloc(&p, 32 * PAGE, PAGE, true, SZ_NBINS, false);
	ck_assert_ptr_nonnull(again);
	ck_assert_uint_eq(((unsigned char *)again->addr)[PAGE], 0);
}
END_TEST

/* Fork from inside the purge: the extent is busy, the lock dropped. */
static pages_t fork_pages; /* registered, so it must outlive the test */
static int fork_child_status = -1;

static int
child_checks_pages(void)
{
	pages_stats_t st = stats_of(&fork_pages);
	if (((st.active_pages + st.dirty_pages + st.retained_pages) << LG_PAGE) != st.mapped)
		return 1;
	if (st.dirty_pages < 64)
		return 2;
	/* The recovered pages are allocatable without mapping more. */
	extent_t *e = pages_alloc(&fork_pages, 64 * PAGE, PAGE, true, SZ_NBINS, false);
	if (e == NULL || stats_of(&fork_pages).mapped != st.mapped)
		return 3;
	return 0;
}

static int
purge_forks(void *addr, size_t size)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_checks_pages());
	int status;
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		fork_child_status = WEXITSTATUS(status);
	return os_real_hooks.purge_forced(addr, size);
}

START_TEST(test_fork_during_purge_keeps_every_page)
{
	pages_init(&fork_pages, ARENA_A, &test_base, -1, 0);
	pages_register(&fork_pages);
	extent_t *e = pages_alloc(&fork_pages, 64 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(e);
	memset(e->addr, 1, 64 * PAGE);
	pages_free(&fork_pages, e);
	os_test_hooks.purge_forced = purge_forks;
	ck_assert_uint_eq(pages_purge_all(&fork_pages), 64 * PAGE);
	ck_assert_msg(fork_child_status == 0, "child found pages unaccounted for (code %d)",
	              fork_child_status);
	assert_accounted(&fork_pages);
}
END_TEST

START_TEST(test_shrink_without_descriptor_changes_nothing)
{
	static pages_t p;
	static large_t large;
	pages_init(&p, ARENA_A, &test_base, -1, 0);
	large_init(&large, false);
	size_t usize = 8 * PAGE, smaller = 4 * PAGE;
	void *ptr = large_malloc(&p.pai, &large, usize, PAGE, false);
	ck_assert_ptr_nonnull(ptr);
	extent_t *e = emap_bits_extent(emap_lookup(ptr));
	/* Take the spare descriptors away, use up the descriptor chunk, then
	 * make the next chunk fail. */
	p.spare = NULL;
	atomic_store(&p.nspare, 0);
	base_alloc(&test_base, (size_t)(test_base.end - test_base.cur), 1);
	os_test_hooks.pages_map = map_fails;
	ck_assert(!large_resize_in_place(&p.pai, &large, e, smaller, false));
	ck_assert_uint_eq(e->size, usize);
	ck_assert_uint_eq(emap_bits_szind(emap_lookup(ptr)), sz_size2index(usize));
	ck_assert_uint_eq(atomic_load(&large.allocated), usize);
	large_free(&p.pai, &large, e);
	ck_assert_uint_eq(atomic_load(&large.allocated), 0);
	assert_accounted(&p);
}
END_TEST

/* The base's chunk mappings are PAGE-aligned (the page allocator's own are
 * HUGEPAGE-aligned and made without its lock): note any made while the
 * watched page allocator's lock is held. */
static pages_t *watched;
static unsigned base_maps, base_maps_locked;

static void *
map_watching_lock(size_t size, size_t alignment)
{
	if (alignment == PAGE) {
		base_maps++;
		base_maps_locked += atomic_load(&watched->mtx.state) != 0;
	}
	return os_real_hooks.pages_map(size, alignment);
}

START_TEST(test_descriptors_never_mapped_under_the_lock)
{
	static base_t fresh; /* no chunk yet: the first descriptor maps one */
	static pages_t p;
	base_init(&fresh, MUTEX_RANK_ARENA_BASE);
	pages_init(&p, ARENA_A, &fresh, -1, 0);
	watched = &p;
	os_test_hooks.pages_map = map_watching_lock;
	extent_t *held[64];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 64; i++) {
			held[i] = pages_alloc(&p, (size_t)(1 + i % 7) * PAGE, PAGE, false, SZ_NBINS,
			                      false);
			ck_assert_ptr_nonnull(held[i]);
		}
		for (int i = 0; i < 64; i += 2)
			pages_free(&p, held[i]);
		/* Use up the chunk: the next descriptors need a new one. */
		base_alloc(&fresh, (size_t)(fresh.end - fresh.cur), 1);
		for (int i = 1; i < 64; i += 2)
			pages_free(&p, held[i]);
	}
	ck_assert_uint_ge(base_maps, 2);
	ck_assert_uint_eq(base_maps_locked, 0);
	assert_accounted(&p);
}
END_TEST

/* Two arenas on adjacent address ranges: the hook hands out consecutive
 * 2 MiB slices of one reservation. */
static _Atomic(char *) slice_next;
static char *slice_end;

static void *
map_adjacent(size_t size, size_t alignment)
{
	if (alignment != HUGEPAGE) /* metadata (bases): elsewhere */
		return os_real_hooks.pages_map(size, alignment);
	char *p = atomic_load(&slice_next);
	do {
		if (p + size > slice_end)
			return NULL;
	} while (!atomic_compare_exchange_weak(&slice_next, &p, p + size));
	return p;
}

static void
use_adjacent_slices(void)
{
	size_t total = 8 * HUGEPAGE;
	char *region = os_real_hooks.pages_map(total, HUGEPAGE);
	ck_assert_ptr_nonnull(region);
	slice_end = region + total;
	atomic_store(&slice_next, region);
	os_test_hooks.pages_map = map_adjacent;
}

START_TEST(test_adjacent_arenas_never_merge)
{
	static pages_t a, b;
	pages_init(&a, ARENA_A, &test_base, -1, 0);
	pages_init(&b, ARENA_B, &test_base, -1, 0);
	use_adjacent_slices();
	extent_t *ea = pages_alloc(&a, HUGEPAGE, PAGE, false, SZ_NBINS, false);
	extent_t *eb = pages_alloc(&b, PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(ea);
	ck_assert_ptr_nonnull(eb);
	ck_assert_ptr_eq((char *)ea->addr + HUGEPAGE, eb->addr);
	pages_free(&b, eb);
	pages_free(&a, ea); /* its next neighbour is b's free extent */
	ck_assert_uint_eq(stats_of(&a).dirty_pages, HUGEPAGE >> LG_PAGE);
	ck_assert_uint_eq(stats_of(&b).dirty_pages, 1);
	extent_t *first_of_b = emap_bits_extent(emap_lookup(eb->addr));
	ck_assert_uint_eq(first_of_b->arena_ind, ARENA_B);
	assert_accounted(&a);
	assert_accounted(&b);
}
END_TEST

/* Both arenas churn at once next to each other: every descriptor a
 * neighbour lookup can see keeps its arena. */
#define CHURN_ROUNDS 3000

static void *
churn(void *arg)
{
	pages_t *p = arg;
	extent_t *held[8] = {0};
	uint64_t x = (uintptr_t)arg;
	for (int i = 0; i < CHURN_ROUNDS; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		unsigned slot = (unsigned)(x >> 60) & 7;
		if (held[slot] != NULL) {
			pages_free(p, held[slot]);
			held[slot] = NULL;
		} else {
			size_t npages = 1 + (unsigned)(x >> 40) % 64;
			held[slot] = pages_alloc(p, npages * PAGE, PAGE, false, SZ_NBINS, false);
			if (held[slot] == NULL || held[slot]->arena_ind != p->arena_ind)
				return (void *)1;
		}
	}
	for (int s = 0; s < 8; s++)
		if (held[s] != NULL)
			pages_free(p, held[s]);
	return NULL;
}

START_TEST(test_adjacent_arenas_churn_concurrently)
{
	static pages_t a, b;
	pages_init(&a, ARENA_A, &test_base, 0, 0); /* purge at once: busy extents too */
	pages_init(&b, ARENA_B, &test_base, 0, 0);
	use_adjacent_slices();
	pthread_t ta, tb;
	void *ra, *rb;
	ck_assert_int_eq(pthread_create(&ta, NULL, churn, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, churn, &b), 0);
	ck_assert_int_eq(pthread_join(ta, &ra), 0);
	ck_assert_int_eq(pthread_join(tb, &rb), 0);
	ck_assert_ptr_null(ra);
	ck_assert_ptr_null(rb);
	ck_assert_uint_eq(stats_of(&a).active_pages, 0);
	ck_assert_uint_eq(stats_of(&b).active_pages, 0);
	assert_accounted(&a);
	assert_accounted(&b);
}
END_TEST

/* Decay purges whole extents: 64 separate dirty extents of 4 pages (kept
 * apart by active guard pages) let the test see the curve. */
#define DECAY_RUNS 64
#define DECAY_RUN_PAGES 4

static size_t
decay_probe(pages_t *p, uint64_t now)
{
	atomic_store(&clock_test_now_ns, now);
	/* Page activity runs decay: one page in and out. */
	extent_t *probe = pages_alloc(p, PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(probe);
	pages_free(p, probe);
	return stats_of(p).dirty_pages;
}

START_TEST(test_decay_follows_the_clock)
{
	static pages_t p;
	uint64_t t0 = 1000ull * 1000000000u, ms = 1000000u;
	atomic_store(&clock_test_now_ns, t0);
	pages_init(&p, ARENA_A, &test_base, 1000, 0);
	extent_t *runs[DECAY_RUNS];
	for (int i = 0; i < DECAY_RUNS; i++) {
		runs[i] = pages_alloc(&p, DECAY_RUN_PAGES * PAGE, PAGE, false, SZ_NBINS, false);
		ck_assert_ptr_nonnull(runs[i]);
		ck_assert_ptr_nonnull(pages_alloc(&p, PAGE, PAGE, false, SZ_NBINS, false)); /* guard */
	}
	for (int i = 0; i < DECAY_RUNS; i++)
		pages_free(&p, runs[i]);
	size_t all = DECAY_RUNS * DECAY_RUN_PAGES;
	ck_assert_uint_eq(stats_of(&p).dirty_pages, all);
	ck_assert_uint_ge(decay_probe(&p, t0 + 100 * ms), all - 2 * DECAY_RUN_PAGES);
	size_t half = decay_probe(&p, t0 + 500 * ms);
	ck_assert_uint_gt(half, all / 4);
	ck_assert_uint_lt(half, 3 * all / 4);
	ck_assert_uint_le(decay_probe(&p, t0 + 1100 * ms), DECAY_RUN_PAGES);
	assert_accounted(&p);
}
END_TEST

/* Pages freed after the arena idled are freed now: the curve keeps them
 * whole (they were counted in an older epoch and purged at once). */
START_TEST(test_pages_freed_after_idle_are_kept)
{
	static pages_t p;
	uint64_t t0 = 1000ull * 1000000000u, ms = 1000000u;
	atomic_store(&clock_test_now_ns, t0);
	pages_init(&p, ARENA_A, &test_base, 1000, 0);
	extent_t *e = pages_alloc(&p, 1024 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(e);
	atomic_store(&clock_test_now_ns, t0 + 150 * ms);
	pages_free(&p, e);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 1024);
	ck_assert_uint_eq(stats_of(&p).dirty.purged, 0);
}
END_TEST

START_TEST(test_mapping_failure_through_the_api)
{
	os_test_hooks.pages_map = map_fails;
	errno = 0;
	ck_assert_ptr_null(malloc((size_t)64 << 20));
	ck_assert_int_eq(errno, ENOMEM);
	unsigned ind;
	int err = arena_create_manual(&ind); /* its metadata cannot be mapped */
	os_test_hooks.pages_map = NULL;
	if (err == 0) {
		/* The global base had room for the arena itself: then its first
		 * allocation must still work now that mapping does. */
		void *q = arena_malloc(arena_get(ind, false), 64, sz_size2index(64), 0, false);
		ck_assert_ptr_nonnull(q);
	} else {
		ck_assert_int_eq(err, EAGAIN);
	}
	void *p = malloc((size_t)64 << 20);
	ck_assert_ptr_nonnull(p);
	free(p);
}
END_TEST

/* Address space short of the growth step (RLIMIT_AS): mappings above
 * 4 MiB fail, and the allocation maps what it needs instead of failing. */
static void *
map_at_most_4m(size_t size, size_t alignment)
{
	return size > 2 * HUGEPAGE ? NULL : os_real_hooks.pages_map(size, alignment);
}

START_TEST(test_growth_step_too_big_maps_the_request)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, -1, 0);
	os_test_hooks.pages_map = map_at_most_4m;
	/* Growth steps of 2 and 4 MiB, then 8 MiB, which fails: the third
	 * allocation maps its own 2 MiB. */
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(pages_alloc(&p, HUGEPAGE, PAGE, false, SZ_NBINS, false));
	pages_stats_t st = stats_of(&p);
	ck_assert_uint_eq(st.active_pages, 4 * HUGEPAGE / PAGE);
	ck_assert_uint_eq(st.mapped, 4 * HUGEPAGE);
	/* A request larger than any mapping allowed still fails cleanly. */
	ck_assert_ptr_null(pages_alloc(&p, 3 * HUGEPAGE, PAGE, false, SZ_NBINS, false));
	assert_accounted(&p);
}
END_TEST

/* Out of address space, a free dirty extent too big to split under
 * lg_extent_max_active_fit (more than 2^10 times the request) still
 * serves: before, the allocation failed with 8 MiB free (an RLIMIT_AS
 * process that had freed everything could not allocate a slab). */
START_TEST(test_no_address_space_splits_any_free_extent)
{
	static pages_t p;
	pages_init(&p, ARENA_A, &test_base, -1, 0);
	extent_t *big = pages_alloc(&p, 4 * HUGEPAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(stats_of(&p).mapped, 4 * HUGEPAGE);
	pages_free(&p, big);
	ck_assert_uint_eq(stats_of(&p).dirty_pages, 4 * HUGEPAGE / PAGE);
	os_test_hooks.pages_map = map_fails;
	extent_t *e = pages_alloc(&p, PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(stats_of(&p).mapped, 4 * HUGEPAGE);
	pages_free(&p, e);
	assert_accounted(&p);
}
END_TEST

/* A neighbour freed while a merged extent is being purged must not meet
 * the descriptor its merge released (the merged extent's last page still
 * named it until the merged boundaries were registered). */
static pages_t stale_pages;
static extent_t *stale_next;

static int
purge_frees_neighbor(void *addr, size_t size)
{
	if (stale_next != NULL) {
		extent_t *e = stale_next;
		stale_next = NULL;
		pages_free(&stale_pages, e); /* with the lock dropped */
	}
	return os_real_hooks.purge_forced(addr, size);
}

START_TEST(test_neighbor_freed_during_merged_purge)
{
	hpage_mode = HPAGE_OFF;
	pages_init(&stale_pages, ARENA_A, &test_base, -1, 0);
	/* Slabs are filed unmerged: a (4 pages) and b (2 pages) stay apart
	 * until the purge merges them; c, after b, is freed meanwhile. */
	extent_t *a = pages_alloc(&stale_pages, 4 * PAGE, PAGE, false, 1, true);
	extent_t *b = pages_alloc(&stale_pages, 2 * PAGE, PAGE, false, 1, true);
	extent_t *c = pages_alloc(&stale_pages, 4 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_eq((char *)a->addr + 4 * PAGE, b->addr);
	ck_assert_ptr_eq((char *)b->addr + 2 * PAGE, c->addr);
	pages_free(&stale_pages, a);
	pages_free(&stale_pages, b);
	stale_next = c;
	os_test_hooks.purge_forced = purge_frees_neighbor;
	pages_purge_all(&stale_pages);
	ck_assert_ptr_null(stale_next);
	/* c, freed meanwhile, was purged by the same pass. */
	pages_stats_t st = stats_of(&stale_pages);
	ck_assert_uint_eq(st.active_pages, 0);
	ck_assert_uint_eq(st.dirty_pages, 0);
	assert_accounted(&stale_pages);
	/* The sets are sound: the three are one free extent again. */
	extent_t *again = pages_alloc(&stale_pages, 10 * PAGE, PAGE, false, SZ_NBINS, false);
	ck_assert_ptr_eq(again->addr, a->addr);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("pages");
	TCase *tc = tcase_create("pages");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_failure_fails_cleanly);
	tcase_add_test(tc, test_purge_failure_keeps_dirty);
	tcase_add_test(tc, test_fork_during_purge_keeps_every_page);
	tcase_add_test(tc, test_shrink_without_descriptor_changes_nothing);
	tcase_add_test(tc, test_descriptors_never_mapped_under_the_lock);
	tcase_add_test(tc, test_adjacent_arenas_never_merge);
	tcase_add_test(tc, test_adjacent_arenas_churn_concurrently);
	tcase_add_test(tc, test_decay_follows_the_clock);
	tcase_add_test(tc, test_pages_freed_after_idle_are_kept);
	tcase_add_test(tc, test_mapping_failure_through_the_api);
	tcase_add_test(tc, test_neighbor_freed_during_merged_purge);
	tcase_add_test(tc, test_growth_step_too_big_maps_the_request);
	tcase_add_test(tc, test_no_address_space_splits_any_free_extent);
	suite_add_tcase(s, tc);
	return s;
}
