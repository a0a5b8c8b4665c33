/*
 * malloc.c — every exported allocation function: the C standard, POSIX and
 * glibc names, jemalloc's mallocx family, and glibc's __libc_* aliases.  L5.
 *
 * Rules kept here (the man page states them): failure returns NULL (or an
 * error code) with errno ENOMEM; free and the size queries never change
 * errno; malloc(0) returns a unique pointer; calloc and reallocarray check
 * for overflow; posix_memalign wants a power of two that is a multiple of
 * sizeof(void *), aligned_alloc any power of two; realloc(p, 0) follows
 * opt.zero_realloc.  A pointer strata did not hand out aborts with a message.
 *
 * Every allocation adds its usable size to the thread's allocated counter,
 * every free to its deallocated counter, through the thread events
 * (event.h): the fast paths inline the add and compare, the slow paths call
 * malloc_count_alloc/malloc_count_dalloc, allocations before choosing
 * memory.  While the thread's reentrancy level is raised (tsd.h) nothing is
 * cached: allocations come straight from the arena.
 *
 * Profiler-sampled objects (the event said so) live alone on a large extent
 * whose page-map entries carry the sampled bit (emap.h): the free fast path
 * rejects them with the class compare it makes anyway, and the slow paths
 * hand their record back to the profiler.  Their usable size is the class
 * asked for.  A resize in place counts the whole new size, but only its new
 * bytes can be sampled (event_alloc_resized); a sampled object resized in
 * place stays sampled as the profiler decides (docs/design.md, "Profiler").
 */
#include "public_names.h"
#include <malloc.h>
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "conf.h"
#include "emap.h"
#include "event.h"
#include "init.h"
#include "malloc_cxx.h"
#include "msg.h"
#include "prof/prof.h"
#include "stats.h"
#include "tcache.h"
#include "tsd.h"

#define JUNK_ALLOC_BYTE 0xa5
#define JUNK_FREE_BYTE 0x5a

/* The calling thread's state, initializing the allocator on first use. */
static NOINLINE tsd_t *
malloc_tsd_slow(void)
{
	if (init_ensure() != 0)
		return NULL;
	return tsd_fetch_slow();
}

static ALWAYS_INLINE tsd_t *
malloc_tsd(void)
{
	tsd_t *tsd = &tsd_tls;
	if (UNLIKELY(tsd->state != TSD_NOMINAL))
		return malloc_tsd_slow();
	return tsd;
}

static COLD _Noreturn void
malloc_invalid_pointer(const char *func, const void *ptr)
{
	msg_fatal("%s(): invalid pointer %p\n", func, ptr);
}

/* The emap entry of an allocated pointer; aborts if strata did not hand it
 * out (unknown page, free extent, not the start of a slab region or of a
 * large extent).  The free fast path skips these checks; a bad pointer it
 * caches is caught when the cache is flushed. */
static uint64_t
malloc_lookup(const char *func, const void *ptr)
{
	uint64_t bits = emap_lookup(ptr);
	unsigned ind = emap_bits_usable_szind(bits);
	if (UNLIKELY(ind >= SZ_NSIZES)) /* also entry 0 */
		malloc_invalid_pointer(func, ptr);
	extent_t *e = emap_bits_extent(bits);
	bool region_start = emap_bits_slab(bits)
	                            ? slab_reg_index(e, &sz_bin_info[ind], ptr) != UINT32_MAX
	                            : e->addr == ptr;
	if (UNLIKELY(!region_start))
		malloc_invalid_pointer(func, ptr);
	return bits;
}

typedef struct malloc_route {
	arena_t *arena;     /* NULL: the thread's arena */
	tcache_t *tcache;   /* NULL: no cache */
} malloc_route_t;

static inline tcache_t *
malloc_thread_tcache(tsd_t *tsd)
{
	return tsd->tcache.enabled && tsd->reentrancy == 0 ? &tsd->tcache : NULL;
}

/* Counts an allocation of usize bytes, running the events that are due
 * (before any memory is chosen, so that a sample can choose it); true when
 * the profiler samples it. */
static inline bool
malloc_count_alloc(tsd_t *tsd, size_t usize)
{
	uint64_t allocated = tsd->allocated + usize;
	if (LIKELY(allocated < tsd->alloc_event)) {
		tsd->allocated = allocated;
		return false;
	}
	return event_alloc(tsd, usize);
}

static inline void
malloc_count_dalloc(tsd_t *tsd, size_t usize)
{
	uint64_t deallocated = tsd->deallocated + usize;
	if (LIKELY(deallocated < tsd->dalloc_event))
		tsd->deallocated = deallocated;
	else
		event_dalloc(tsd, usize);
}

/* The heap's active bytes, for the profiler's high-water dumps. */
static size_t
malloc_active_bytes(void)
{
	stats_global_t s;
	stats_snapshot(&s);
	return s.active;
}

/*
 * A sampled allocation of size bytes: the profiler records the stack (with
 * the thread's reentrancy raised: unwinding may allocate), then the object
 * gets its own extent.  NULL with *sampled false when the profiler declines
 * (sampling is off for the thread); NULL with *sampled true when out of
 * memory.
 */
static NOINLINE void *
malloc_alloc_sampled(tsd_t *tsd, size_t size, size_t usize, size_t alignment, bool zero,
                     arena_t *arena, bool *sampled)
{
	extent_sample_t s;
	tsd_reentrancy_raise(tsd);
	*sampled = prof_sample_begin(&tsd->prof_tdata, size, usize, tsd->allocated, &s);
	tsd_reentrancy_lower(tsd);
	if (!*sampled)
		return NULL;
	void *p = arena_malloc_sampled(arena, usize, alignment, zero, &s);
	if (p == NULL)
		prof_sample_cancel(&s, usize);
	else if (prof_gdump_wanted()) /* the heap as it is with this object */
		prof_gdump_observe(malloc_active_bytes());
	return p;
}

/*
 * Allocation once counted: size bytes asked for, usize computed, alignment
 * 0 or a power of two; sample: the profiler samples it.  Fills as the
 * options say.  NULL with errno ENOMEM on failure, which takes the count
 * back (a failed allocation is not counted).
 */
static void *
malloc_alloc_counted(tsd_t *tsd, size_t size, size_t usize, size_t alignment, bool zero,
                     malloc_route_t route, bool sample)
{
	unsigned ind = sz_size2index(usize);
	zero = zero || opt_zero;
	arena_t *arena = route.arena != NULL ? route.arena : tsd->arena;
	void *p = NULL;
	if (UNLIKELY(sample)) {
		bool sampled;
		p = malloc_alloc_sampled(tsd, size, usize, alignment, zero, arena, &sampled);
		if (sampled)
			goto allocated;
	}
	if (route.tcache != NULL && ind < tcache_nbins && alignment <= PAGE) {
		if (!tcache_alloc_easy(route.tcache, ind, &p))
			p = tcache_alloc_refill(route.tcache, ind);
		if (p != NULL && zero)
			memset(p, 0, usize);
	}
	if (p == NULL)
		p = arena_malloc(arena, usize, ind, alignment, zero);
allocated:
	if (UNLIKELY(p == NULL)) {
		tsd->allocated -= usize;
		errno = ENOMEM;
		return NULL;
	}
	if (!zero && (opt_junk == CONF_JUNK_TRUE || opt_junk == CONF_JUNK_ALLOC))
		memset(p, JUNK_ALLOC_BYTE, usize);
	return p;
}

/* The profiler data of a thread that may capture a stack now: NULL when
 * the thread has no state, or when it is already inside the allocator's
 * own work (its reentrancy level is raised). */
static inline prof_tdata_t **
malloc_prof_tdata(tsd_t *tsd)
{
	return tsd != NULL && tsd->reentrancy == 0 ? &tsd->prof_tdata : NULL;
}

/*
 * A large object resized in place (from old_usize to usize, size asked for)
 * when it was sampled or its new bytes are (sample).  Sampled: the old
 * record goes back and the object is recorded anew, with this stack.  Not
 * sampled: a sampled object keeps its record if the profiler says so
 * (prof_sample_resize), else it becomes an ordinary object.  The profiler
 * may capture stacks: the reentrancy level is raised around it.
 */
static NOINLINE void
malloc_resample_in_place(tsd_t *tsd, void *ptr, uint64_t bits, size_t size, size_t usize,
                         size_t old_usize, bool sample)
{
	extent_sample_t s = emap_bits_extent(bits)->sample;
	prof_tdata_t **tdatap = malloc_prof_tdata(tsd);
	bool sampled;
	tsd_reentrancy_raise(tsd);
	if (sample) {
		if (emap_bits_sampled(bits))
			prof_sample_free(tdatap, &s, old_usize);
		sampled = prof_sample_begin(&tsd->prof_tdata, size, usize, tsd->allocated, &s);
	} else {
		sampled = prof_sample_resize(tdatap, &s, old_usize, size, usize);
	}
	tsd_reentrancy_lower(tsd);
	arena_set_sample(ptr, usize, sampled ? &s : NULL);
}

/* Counts an in-place resize to usize that made fresh bytes new (see
 * event_alloc_resized); true when they are sampled.  Without sampling the
 * sample's clock need not move: the inline count of any allocation. */
static inline bool
malloc_count_resized(tsd_t *tsd, size_t usize, size_t old_usize)
{
	size_t fresh = usize > old_usize ? usize - old_usize : 0;
	if (fresh == usize || tsd->events.next[EVENT_PROF_SAMPLE] == EVENT_NEVER)
		return malloc_count_alloc(tsd, usize);
	return event_alloc_resized(tsd, usize, fresh);
}

/* The general allocation path: counts (running due events first), then
 * allocates. */
static void *
malloc_alloc(tsd_t *tsd, size_t size, size_t usize, size_t alignment, bool zero,
             malloc_route_t route)
{
	bool sample = malloc_count_alloc(tsd, usize);
	return malloc_alloc_counted(tsd, size, usize, alignment, zero, route, sample);
}

/* Frees a sampled object: its record goes back to the profiler, which may
 * capture the free's stack (with the reentrancy level raised). */
static NOINLINE void
malloc_dalloc_sampled(tsd_t *tsd, void *ptr, uint64_t bits, size_t usize)
{
	const extent_sample_t *s = &emap_bits_extent(bits)->sample;
	prof_tdata_t **tdatap = malloc_prof_tdata(tsd);
	if (tdatap != NULL) {
		tsd_reentrancy_raise(tsd);
		prof_sample_free(tdatap, s, usize);
		tsd_reentrancy_lower(tsd);
	} else {
		prof_sample_free(NULL, s, usize);
	}
	arena_dalloc_sampled(ptr, bits);
}

static void
malloc_dalloc(tsd_t *tsd, void *ptr, uint64_t bits, tcache_t *tcache)
{
	unsigned ind = emap_bits_usable_szind(bits);
	size_t usize = sz_index2size(ind);
	if (opt_junk == CONF_JUNK_TRUE || opt_junk == CONF_JUNK_FREE)
		memset(ptr, JUNK_FREE_BYTE, usize);
	int saved_errno = errno;
	if (UNLIKELY(emap_bits_sampled(bits))) {
		malloc_dalloc_sampled(tsd, ptr, bits, usize);
	} else if (tcache != NULL && ind < tcache_nbins && tcache->bins[ind].ncached_max != 0) {
		if (!tcache_dalloc_easy(tcache, ind, ptr))
			tcache_dalloc_flush(tcache, ind, ptr);
	} else {
		arena_dalloc(ptr, bits);
	}
	if (LIKELY(tsd != NULL))
		malloc_count_dalloc(tsd, usize);
	errno = saved_errno;
}

static inline size_t
malloc_usize(size_t size, size_t alignment)
{
	if (alignment != 0)
		return sz_sa2u(size, alignment);
	return sz_s2u(size);
}

/* Allocation through the thread's cache and arena: every standard entry point. */
static NOINLINE void *
malloc_default(size_t size, size_t alignment, bool zero)
{
	tsd_t *tsd = malloc_tsd(); /* first: it initializes the size classes */
	size_t usize = malloc_usize(size, alignment);
	if (UNLIKELY(tsd == NULL || usize == 0)) {
		errno = ENOMEM;
		return NULL;
	}
	malloc_route_t route = {NULL, malloc_thread_tcache(tsd)};
	return malloc_alloc(tsd, size, usize, alignment, zero, route);
}

/* free (func names the caller in messages) off its fast path. */
static NOINLINE void
free_default(void *ptr, const char *func)
{
	if (ptr == NULL)
		return;
	uint64_t bits = malloc_lookup(func, ptr);
	tsd_t *tsd = malloc_tsd();
	malloc_dalloc(tsd, ptr, bits, tsd != NULL ? malloc_thread_tcache(tsd) : NULL);
}

/*
 * Resizes ptr to size (alignment 0 or a power of two): in place when the
 * class is unchanged or a large extent can grow or shrink, else by moving.
 * As in jemalloc, an arena named by the flags only says where a moved
 * allocation goes: resizing in place is tried first whatever it is.
 * NULL with errno ENOMEM (ptr untouched) on failure.
 */
static void *
malloc_realloc(const char *func, void *ptr, size_t size, size_t alignment, bool zero,
               malloc_route_t route, bool explicit_route)
{
	uint64_t bits = malloc_lookup(func, ptr);
	size_t old_usize = sz_index2size(emap_bits_usable_szind(bits));
	tsd_t *tsd = malloc_tsd();
	size_t usize = malloc_usize(size, alignment);
	if (UNLIKELY(tsd == NULL || usize == 0)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!explicit_route)
		route.tcache = malloc_thread_tcache(tsd);
	/* In place when the class stays, or when a large extent (or a sampled
	 * small object's, alone on its extent) can be resized. */
	bool aligned = alignment == 0 || ((uintptr_t)ptr & (alignment - 1)) == 0;
	if (aligned && (usize == old_usize || (usize >= SZ_LARGE_MINCLASS &&
	                                       arena_resize_in_place(ptr, bits, usize, zero)))) {
		bool sample = malloc_count_resized(tsd, usize, old_usize);
		if (UNLIKELY(sample || emap_bits_sampled(bits)) && usize >= SZ_LARGE_MINCLASS)
			malloc_resample_in_place(tsd, ptr, bits, size, usize, old_usize, sample);
		/* Bytes a sampled small object's extent had beyond its size. */
		if (zero && old_usize < usize && old_usize < SZ_LARGE_MINCLASS)
			memset((char *)ptr + old_usize, 0, SZ_LARGE_MINCLASS - old_usize);
		malloc_count_dalloc(tsd, old_usize);
		return ptr;
	}
	bool sample = malloc_count_alloc(tsd, usize);
	void *p = malloc_alloc_counted(tsd, size, usize, alignment, false, route, sample);
	if (p == NULL)
		return NULL;
	size_t keep = old_usize < usize ? old_usize : usize;
	memcpy(p, ptr, keep);
	if (zero && usize > keep)
		memset((char *)p + keep, 0, usize - keep);
	malloc_dalloc(tsd, ptr, bits, route.tcache);
	return p;
}

/* ---------------------------------------------------------------- C, POSIX, glibc */

/*
 * The fast paths.  malloc: size class by table, pop the thread cache, one
 * add and compare against the event threshold.  free: one emap lookup gives
 * the class, push on the thread cache, the same add and compare.  A thread
 * that is not set up has empty caches and zero thresholds, so it always
 * falls through to the default paths, which initialize it.  mallocx,
 * dallocx, sdallocx and C++'s operators (malloc_cxx.h) share them.
 */

/* Pops an object of size bytes whose class is a multiple of align_mask + 1
 * (0 for no alignment); *usize gets the class.  false: take the default
 * path. */
static ALWAYS_INLINE bool
malloc_fast(size_t size, size_t align_mask, void **ret, size_t *usize)
{
	tsd_t *tsd = &tsd_tls;
	if (LIKELY(size <= SZ_LOOKUP_MAXCLASS)) {
		unsigned ind = sz_size2index_tab[(size + 7) >> 3];
		*usize = sz_index2size_tab[ind];
		/* A class that is a multiple of the alignment is what sz_sa2u
		 * gives, and naturally aligned in its slabs (sz.h). */
		if (UNLIKELY((*usize & align_mask) != 0))
			return false;
		uint64_t allocated = tsd->allocated + *usize;
		if (LIKELY(allocated < tsd->alloc_event) &&
		    LIKELY(tcache_alloc_easy(&tsd->tcache, ind, ret))) {
			tsd->allocated = allocated;
			return true;
		}
	}
	return false;
}

/* Pushes ptr, an object of class ind, on the thread cache; false: take the
 * default path. */
static ALWAYS_INLINE bool
free_fast_class(void *ptr, unsigned ind)
{
	tsd_t *tsd = &tsd_tls;
	uint64_t deallocated = tsd->deallocated + sz_index2size_tab[ind];
	if (LIKELY(deallocated < tsd->dalloc_event) &&
	    LIKELY(tcache_dalloc_easy(&tsd->tcache, ind, ptr))) {
		tsd->deallocated = deallocated;
		return true;
	}
	return false;
}

static ALWAYS_INLINE bool
free_fast(void *ptr)
{
	unsigned ind = emap_bits_szind(emap_lookup(ptr));
	/* false for entry 0, free extents and sampled objects */
	return LIKELY(ind < TCACHE_NBINS_MAX) && free_fast_class(ptr, ind);
}

/* A size hint (sdallocx, sized delete) that does not name ptr's class:
 * the caller broke jemalloc's rule for sized deallocation. */
static COLD _Noreturn void
malloc_bad_size_hint(const char *func, const void *ptr, size_t size)
{
	msg_fatal("%s(): size %zu does not match the allocation at %p\n", func, size, ptr);
}

/*
 * The sized free fast path: the class comes from the size hint (any size
 * from the one asked for to the usable size names it), with no emap
 * lookup.  Objects that are not in a slab (large ones, and profiler-sampled
 * ones, which live alone on an extent) are page-aligned: a page-aligned
 * pointer takes the unsized path, whose lookup tells them apart (and
 * rejects NULL).  A debug build checks the hint against the page map.
 */
static ALWAYS_INLINE bool
free_sized_fast(const char *func, void *ptr, size_t size, size_t align_mask)
{
	if (UNLIKELY(size > SZ_LOOKUP_MAXCLASS))
		return false;
	if (UNLIKELY(((uintptr_t)ptr & PAGE_MASK) == 0))
		return free_fast(ptr);
	unsigned ind = sz_size2index_tab[(size + 7) >> 3];
	if (UNLIKELY((sz_index2size_tab[ind] & align_mask) != 0))
		return false;
	if (config_debug && emap_bits_usable_szind(emap_lookup(ptr)) != ind)
		malloc_bad_size_hint(func, ptr, size);
	return free_fast_class(ptr, ind);
}

EXPORT void *
malloc(size_t size)
{
	void *p;
	size_t usize;
	if (LIKELY(malloc_fast(size, 0, &p, &usize)))
		return p;
	return malloc_default(size, 0, false);
}

EXPORT void
free(void *ptr)
{
	if (LIKELY(free_fast(ptr)))
		return;
	free_default(ptr, "free");
}

EXPORT void *
calloc(size_t num, size_t size)
{
	size_t total;
	if (UNLIKELY(__builtin_mul_overflow(num, size, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	void *p;
	size_t usize;
	if (LIKELY(malloc_fast(total, 0, &p, &usize))) {
		memset(p, 0, total);
		return p;
	}
	return malloc_default(total, 0, true);
}

EXPORT void *
realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return malloc_default(size, 0, false);
	if (UNLIKELY(size == 0)) {
		switch (opt_zero_realloc) {
		case CONF_ZERO_REALLOC_FREE:
			free(ptr);
			return NULL;
		case CONF_ZERO_REALLOC_ABORT:
			msg_fatal("realloc(): zero size with zero_realloc:abort\n");
		case CONF_ZERO_REALLOC_ALLOC:
			break;
		}
	}
	malloc_route_t route = {NULL, NULL};
	return malloc_realloc("realloc", ptr, size, 0, false, route, false);
}

EXPORT void *
reallocarray(void *ptr, size_t num, size_t size)
{
	size_t total;
	if (UNLIKELY(__builtin_mul_overflow(num, size, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(ptr, total);
}

static void *
malloc_aligned(size_t alignment, size_t size)
{
	if (alignment < QUANTUM)
		alignment = 0; /* every class is at least naturally aligned to this */
	return malloc_default(size, alignment, false);
}

EXPORT int
posix_memalign(void **memptr, size_t alignment, size_t size)
{
	if (!bits_is_pow2(alignment) || alignment < sizeof(void *))
		return EINVAL;
	int saved_errno = errno;
	void *p = malloc_aligned(alignment, size);
	errno = saved_errno;
	if (p == NULL)
		return ENOMEM;
	*memptr = p;
	return 0;
}

EXPORT void *
aligned_alloc(size_t alignment, size_t size)
{
	if (!bits_is_pow2(alignment)) {
		errno = EINVAL;
		return NULL;
	}
	return malloc_aligned(alignment, size);
}

EXPORT void *
memalign(size_t alignment, size_t size)
{
	/* glibc rounds a non-power-of-two alignment up to the next power of two. */
	if (alignment > SZ_LARGE_MAXCLASS) {
		errno = EINVAL;
		return NULL;
	}
	if (!bits_is_pow2(alignment))
		alignment = alignment == 0 ? 1 : (size_t)1 << bits_lg_ceil(alignment);
	return malloc_aligned(alignment, size);
}

EXPORT void *
valloc(size_t size)
{
	return malloc_aligned(PAGE, size);
}

EXPORT void *
pvalloc(size_t size)
{
	size_t rounded = PAGE_CEILING(size);
	if (UNLIKELY(rounded < size)) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc_aligned(PAGE, rounded == 0 ? PAGE : rounded);
}

/* The usable size of a live allocation.  Programs such as redis call this
 * on every allocation and free, so it checks only what the page map says
 * (an unknown page still aborts), like the free fast path. */
static size_t
malloc_usable_size_of(const char *func, const void *ptr)
{
	unsigned ind = emap_bits_usable_szind(emap_lookup(ptr));
	if (UNLIKELY(ind >= SZ_NSIZES))
		malloc_invalid_pointer(func, ptr);
	return sz_index2size(ind);
}

EXPORT size_t
malloc_usable_size(void *ptr)
{
	if (ptr == NULL)
		return 0;
	return malloc_usable_size_of("malloc_usable_size", ptr);
}

EXPORT int
malloc_trim(size_t pad)
{
	(void)pad;
	if (init_ensure() != 0)
		return 0;
	return arena_purge_all() != 0;
}

EXPORT int
mallopt(int param, int value)
{
	(void)param;
	(void)value;
	return 1; /* accepted; glibc's tunables have no meaning here */
}

EXPORT struct mallinfo2
mallinfo2(void)
{
	struct mallinfo2 mi = {0};
	if (init_ensure() != 0)
		return mi;
	stats_global_t s;
	stats_snapshot(&s);
	mi.arena = s.mapped;
	mi.uordblks = s.allocated;
	mi.fordblks = s.mapped - s.allocated;
	return mi;
}

/* ---------------------------------------------------------------- jemalloc API */

#define MALLOCX_LG_ALIGN_MASK 0x3f
#define MALLOCX_ZERO_BIT 0x40
#define MALLOCX_TCACHE_FIELD(flags) (((unsigned)(flags) >> 8) & 0xfff)
#define MALLOCX_ARENA_FIELD(flags) ((unsigned)(flags) >> 20)

static inline size_t
mallocx_alignment(int flags)
{
	unsigned lg = (unsigned)flags & MALLOCX_LG_ALIGN_MASK;
	return lg == 0 ? 0 : (size_t)1 << lg;
}

/* The alignment's low bits (0 without MALLOCX_LG_ALIGN), for the fast paths. */
static ALWAYS_INLINE size_t
mallocx_align_mask(int flags)
{
	return ((size_t)1 << ((unsigned)flags & MALLOCX_LG_ALIGN_MASK)) - 1;
}

/*
 * Where a mallocx-family call goes: MALLOCX_ARENA(a) names an arena (which
 * then bypasses the thread's cache, whose objects may come from elsewhere),
 * MALLOCX_TCACHE_NONE bypasses caches, MALLOCX_TCACHE(id) names an explicit
 * cache.  false when a named arena or cache does not exist.
 */
static bool
mallocx_route(tsd_t *tsd, int flags, malloc_route_t *route, bool *explicit_route)
{
	unsigned arena_field = MALLOCX_ARENA_FIELD(flags);
	unsigned tcache_field = MALLOCX_TCACHE_FIELD(flags);
	*route = (malloc_route_t){NULL, malloc_thread_tcache(tsd)};
	*explicit_route = arena_field != 0 || tcache_field != 0;
	if (arena_field != 0) {
		route->arena = arena_get(arena_field - 1, true);
		if (route->arena == NULL)
			return false;
		route->tcache = NULL;
	}
	if (tcache_field == 1) {
		route->tcache = NULL;
	} else if (tcache_field >= 2) {
		route->tcache = tcaches_get(tcache_field - 2);
		if (route->tcache == NULL)
			return false;
	}
	return true;
}

/* mallocx with flags the fast path does not take, or a miss of it. */
static NOINLINE void *
mallocx_default(size_t size, int flags)
{
	tsd_t *tsd = malloc_tsd();
	size_t alignment = mallocx_alignment(flags);
	size_t usize = malloc_usize(size, alignment);
	malloc_route_t route;
	bool explicit_route;
	if (UNLIKELY(tsd == NULL || usize == 0)) {
		errno = ENOMEM;
		return NULL;
	}
	if (UNLIKELY(!mallocx_route(tsd, flags, &route, &explicit_route)))
		return NULL;
	return malloc_alloc(tsd, size, usize, alignment, (flags & MALLOCX_ZERO_BIT) != 0, route);
}

/* mallocx with flags: only MALLOCX_ZERO, or an alignment that the size
 * class already has, still take malloc's fast path. */
static NOINLINE void *
mallocx_flags(size_t size, int flags)
{
	void *p;
	size_t usize;
	if (((unsigned)flags & ~(MALLOCX_LG_ALIGN_MASK | MALLOCX_ZERO_BIT)) == 0 &&
	    malloc_fast(size, mallocx_align_mask(flags), &p, &usize)) {
		if ((flags & MALLOCX_ZERO_BIT) != 0)
			memset(p, 0, usize);
		return p;
	}
	return mallocx_default(size, flags);
}

/* Flags-free mallocx is malloc. */
EXPORT void *
mallocx(size_t size, int flags)
{
	void *p;
	size_t usize;
	if (UNLIKELY(flags != 0))
		return mallocx_flags(size, flags);
	if (LIKELY(malloc_fast(size, 0, &p, &usize)))
		return p;
	return mallocx_default(size, 0);
}

EXPORT void *
rallocx(void *ptr, size_t size, int flags)
{
	malloc_route_t route = {NULL, NULL};
	bool explicit_route = false;
	if (UNLIKELY(MALLOCX_ARENA_FIELD(flags) != 0 || MALLOCX_TCACHE_FIELD(flags) != 0)) {
		tsd_t *tsd = malloc_tsd();
		if (UNLIKELY(tsd == NULL || !mallocx_route(tsd, flags, &route, &explicit_route)))
			return NULL;
	}
	return malloc_realloc("rallocx", ptr, size, mallocx_alignment(flags),
	                      (flags & MALLOCX_ZERO_BIT) != 0, route, explicit_route);
}

/* dallocx, sdallocx and sized delete off their fast paths: free through
 * the cache tcache_field names (MALLOCX_TCACHE_FIELD; an arena in the flags
 * does not matter to a free).  The size hint (0: none) and its alignment
 * are checked against the page map in a debug build. */
static NOINLINE void
mallocx_dalloc(const char *func, void *ptr, size_t size, size_t alignment, unsigned tcache_field)
{
	uint64_t bits = malloc_lookup(func, ptr);
	if (config_debug && size != 0 &&
	    malloc_usize(size, alignment) != sz_index2size(emap_bits_usable_szind(bits)))
		malloc_bad_size_hint(func, ptr, size);
	tsd_t *tsd = malloc_tsd();
	tcache_t *tcache = NULL;
	if (tcache_field >= 2)
		tcache = tcaches_get(tcache_field - 2);
	else if (tcache_field == 0 && tsd != NULL)
		tcache = malloc_thread_tcache(tsd);
	malloc_dalloc(tsd, ptr, bits, tcache);
}

EXPORT size_t
xallocx(void *ptr, size_t size, size_t extra, int flags)
{
	uint64_t bits = malloc_lookup("xallocx", ptr);
	size_t old_usize = sz_index2size(emap_bits_usable_szind(bits));
	size_t alignment = mallocx_alignment(flags);
	if (alignment != 0 && ((uintptr_t)ptr & (alignment - 1)) != 0)
		return old_usize;
	if (extra > SZ_LARGE_MAXCLASS - size || size > SZ_LARGE_MAXCLASS)
		extra = size > SZ_LARGE_MAXCLASS ? 0 : SZ_LARGE_MAXCLASS - size;
	size_t min = sz_s2u(size), max = sz_s2u(size + extra);
	if (min == 0 || old_usize < SZ_LARGE_MINCLASS)
		return old_usize;
	bool zero = (flags & MALLOCX_ZERO_BIT) != 0;
	size_t target = old_usize;
	if (old_usize < min) {
		if (arena_resize_in_place(ptr, bits, max, zero))
			target = max;
		else if (max != min && arena_resize_in_place(ptr, bits, min, zero))
			target = min;
	} else if (old_usize > max && max >= SZ_LARGE_MINCLASS) {
		if (arena_resize_in_place(ptr, bits, max, zero))
			target = max;
	}
	if (target != old_usize) {
		tsd_t *tsd = malloc_tsd();
		if (tsd != NULL) {
			bool sample = malloc_count_resized(tsd, target, old_usize);
			if (UNLIKELY(sample || emap_bits_sampled(bits)))
				malloc_resample_in_place(tsd, ptr, bits, size, target, old_usize, sample);
			malloc_count_dalloc(tsd, old_usize);
		}
	}
	return target;
}

EXPORT size_t
sallocx(const void *ptr, int flags)
{
	(void)flags;
	return malloc_usable_size_of("sallocx", ptr);
}

/* dallocx and sdallocx with flags: without a cache in them, the fast paths
 * still apply (sdallocx's with the alignment the flags give). */
static NOINLINE void
mallocx_dalloc_flags(const char *func, void *ptr, size_t size, int flags)
{
	if (MALLOCX_TCACHE_FIELD(flags) == 0 &&
	    (size == 0 ? free_fast(ptr) : free_sized_fast(func, ptr, size, mallocx_align_mask(flags))))
		return;
	mallocx_dalloc(func, ptr, size, mallocx_alignment(flags), MALLOCX_TCACHE_FIELD(flags));
}

/* Flags-free dallocx is free. */
EXPORT void
dallocx(void *ptr, int flags)
{
	if (UNLIKELY(flags != 0)) {
		mallocx_dalloc_flags("dallocx", ptr, 0, flags);
		return;
	}
	if (LIKELY(free_fast(ptr)))
		return;
	free_default(ptr, "dallocx");
}

/* As in jemalloc, size is any size from the one asked for (with the same
 * alignment flags) to the usable size; another size is undefined behaviour
 * (a debug build aborts with a message).  sdallocx(ptr, 0, flags) is
 * dallocx. */
EXPORT void
sdallocx(void *ptr, size_t size, int flags)
{
	if (UNLIKELY(flags != 0)) {
		mallocx_dalloc_flags("sdallocx", ptr, size, flags);
		return;
	}
	if (LIKELY(free_sized_fast("sdallocx", ptr, size, 0)))
		return;
	mallocx_dalloc("sdallocx", ptr, size, 0, 0);
}

EXPORT size_t
nallocx(size_t size, int flags)
{
	if (UNLIKELY(init_ensure() != 0))
		return 0;
	size_t usize = malloc_usize(size, mallocx_alignment(flags));
	return usize > SZ_LARGE_MAXCLASS ? 0 : usize;
}

/* ---------------------------------------------------------------- C++ (malloc_cxx.h) */

#ifndef STRATA_INTERNAL_TEST
void *
malloc_cxx_retry(size_t size, size_t alignment)
{
	if (alignment == 0)
		return malloc_default(size, 0, false);
	if (UNLIKELY(!bits_is_pow2(alignment))) {
		errno = EINVAL;
		return NULL;
	}
	return malloc_aligned(alignment, size);
}

/* operator new off its fast path: one more try, then the new_handler loop
 * (or, with experimental_infallible_new, an abort). */
static NOINLINE void *
malloc_cxx_new_slow(size_t size, size_t alignment, bool nothrow)
{
	void *p = malloc_cxx_retry(size, alignment);
	if (LIKELY(p != NULL))
		return p;
	if (opt_experimental_infallible_new)
		msg_fatal("operator new(%zu): out of memory and "
		          "opt.experimental_infallible_new is true; aborting\n",
		          size);
	if (nothrow)
		return malloc_cxx_new_failed_nothrow(size, alignment);
	return malloc_cxx_new_failed(size, alignment);
}

void
malloc_cxx_fatal_no_runtime(size_t size)
{
	msg_fatal("operator new(%zu): out of memory, and no C++ runtime loaded to throw "
	          "std::bad_alloc\n",
	          size);
}

void *
malloc_cxx_new(size_t size)
{
	void *p;
	size_t usize;
	if (LIKELY(malloc_fast(size, 0, &p, &usize)))
		return p;
	return malloc_cxx_new_slow(size, 0, false);
}

void *
malloc_cxx_new_nothrow(size_t size)
{
	void *p;
	size_t usize;
	if (LIKELY(malloc_fast(size, 0, &p, &usize)))
		return p;
	return malloc_cxx_new_slow(size, 0, true);
}

/* alignment - 1 is every bit for alignment 0: the slow path then. */
void *
malloc_cxx_new_aligned(size_t size, size_t alignment)
{
	void *p;
	size_t usize;
	if (LIKELY(malloc_fast(size, alignment - 1, &p, &usize)))
		return p;
	return malloc_cxx_new_slow(size, alignment, false);
}

void *
malloc_cxx_new_aligned_nothrow(size_t size, size_t alignment)
{
	void *p;
	size_t usize;
	if (LIKELY(malloc_fast(size, alignment - 1, &p, &usize)))
		return p;
	return malloc_cxx_new_slow(size, alignment, true);
}

void
malloc_cxx_delete(void *ptr)
{
	if (LIKELY(free_fast(ptr)))
		return;
	free_default(ptr, "operator delete");
}

static NOINLINE void
malloc_cxx_delete_slow(void *ptr, size_t size, size_t alignment)
{
	if (ptr != NULL)
		mallocx_dalloc("operator delete", ptr, size, alignment, 0);
}

void
malloc_cxx_delete_sized(void *ptr, size_t size)
{
	if (LIKELY(free_sized_fast("operator delete", ptr, size, 0)))
		return;
	malloc_cxx_delete_slow(ptr, size, 0);
}

void
malloc_cxx_delete_sized_aligned(void *ptr, size_t size, size_t alignment)
{
	if (LIKELY(free_sized_fast("operator delete", ptr, size, alignment - 1)))
		return;
	malloc_cxx_delete_slow(ptr, size, alignment);
}
#endif

/* ---------------------------------------------------------------- glibc aliases */

#ifndef STRATA_INTERNAL_TEST
#define MALLOC_ALIAS(name, target) \
	EXPORT __typeof__(target) name __attribute__((alias(#target), copy(target)))
MALLOC_ALIAS(__libc_malloc, malloc);
MALLOC_ALIAS(__libc_free, free);
MALLOC_ALIAS(__libc_calloc, calloc);
MALLOC_ALIAS(__libc_realloc, realloc);
MALLOC_ALIAS(__libc_memalign, memalign);
MALLOC_ALIAS(__libc_valloc, valloc);
MALLOC_ALIAS(__libc_pvalloc, pvalloc);
MALLOC_ALIAS(__posix_memalign, posix_memalign);
#endif
