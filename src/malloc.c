/*
 * malloc.c — the exported allocation functions of the C standard, POSIX and
 * glibc (and glibc's __libc_* aliases), and the general paths behind every
 * entry point.  L5.  jemalloc's mallocx family, experimental.batch_alloc and
 * the C entry points of C++'s operators are in malloc_jemalloc.c; the fast
 * paths they all share are inline in malloc_internal.h.
 *
 * Rules kept here (the man page states them): failure returns NULL (or an
 * error code) with errno ENOMEM; free and the size queries never change
 * errno; malloc(0) returns a unique pointer; calloc and reallocarray check
 * for overflow; posix_memalign wants a power of two that is a multiple of
 * sizeof(void *), aligned_alloc any power of two; realloc(p, 0) follows
 * opt.zero_realloc.  A pointer strata did not hand out aborts with a message
 * (malloc_safety.c, through the safety_check_abort hook).  With opt.xmalloc
 * a failure for want of memory aborts instead, with jemalloc's message for
 * the entry point (malloc_checked, on the slow paths only).
 *
 * The program's allocation hooks (hook.h) are called from the slow paths
 * below, which every entry point reaches while a hook is installed (the
 * installation forces the slow path on every thread): each entry point
 * hands its slow path a hook_site_t naming it and its arguments, built
 * only while a hook is installed (NULL otherwise: no call), so that no
 * fast path pays for it; malloc and free pass NULL for themselves and
 * malloc_default and free_default build their sites.
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
#include "hook.h"
#include "init.h"
#include "malloc_internal.h"
#include "msg.h"
#include "numa.h"
#include "prof/prof.h"
#include "stats.h"
#include "tcache.h"
#include "tsd.h"

#define JUNK_ALLOC_BYTE 0xa5
#define JUNK_FREE_BYTE 0x5a

/* The calling thread's state, initializing the allocator on first use. */
NOINLINE tsd_t *
malloc_tsd_slow(void)
{
	if (init_ensure() != 0)
		return NULL;
	return tsd_fetch_slow();
}

/* The emap entry of an allocated pointer; aborts if strata did not hand it
 * out (unknown page, free extent, not the start of a slab region or of a
 * large extent).  The free fast path skips these checks; a bad pointer it
 * caches is caught when the cache is flushed. */
uint64_t
malloc_lookup(const char *func, const void *ptr)
{
	uint64_t bits = emap_lookup(ptr);
	unsigned ind = emap_bits_usable_szind(bits);
	if (UNLIKELY(ind >= SZ_NSIZES)) /* also entry 0 */
		malloc_invalid_pointer(func, ptr, bits);
	extent_t *e = emap_bits_extent(bits);
	bool region_start = emap_bits_slab(bits)
	                            ? slab_reg_index(e, &sz_bin_info[ind], ptr) != UINT32_MAX
	                            : e->addr == ptr;
	if (UNLIKELY(!region_start))
		malloc_invalid_pointer(func, ptr, bits);
	return bits;
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
	else if (opt_safety_checks) /* its record names it, for a report */
		prof_sample_placed(&s, p);
	if (p != NULL && prof_gdump_wanted()) /* the heap as it is with this object */
		prof_gdump_observe(malloc_active_bytes());
	return p;
}

/*
 * Out of memory in the automatic arena tried: another automatic arena's
 * free pages may still serve.  The address space an arena frees stays
 * with it (its retained and dirty extents), so that without this a thread
 * whose arena cannot map more would fail with the other arenas' space
 * free (docs/compat.md, "Out of memory").  Arenas a program created (and
 * threads bound to them) are left to it.
 */
static COLD NOINLINE void *
malloc_alloc_elsewhere(const arena_t *tried, size_t usize, unsigned ind, size_t alignment,
                       bool zero)
{
	if (tried->ind >= arena_narenas_auto())
		return NULL;
	for (unsigned i = 0; i < arena_narenas_auto(); i++) {
		arena_t *a = arena_get(i, false);
		if (a == NULL || a == tried)
			continue;
		void *p = arena_malloc(a, usize, ind, alignment, zero);
		if (p != NULL)
			return p;
	}
	return NULL;
}

/*
 * Allocation once counted: size bytes asked for, usize computed, alignment
 * 0 or a power of two; sample: the profiler samples it.  Fills as the
 * options say.  An automatic arena the route does not name that is out of
 * memory borrows from the other automatic arenas.  NULL with errno ENOMEM on
 * failure, which takes the count back (a failed allocation is not
 * counted).
 */
void *
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
	if (UNLIKELY(p == NULL) && route.arena == NULL)
		p = malloc_alloc_elsewhere(arena, usize, ind, alignment, zero);
allocated:
	if (UNLIKELY(p == NULL)) {
		event_alloc_failed(tsd, usize);
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
NOINLINE void
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

/* The alloc hooks of an allocation: site, or malloc(size)'s when NULL
 * (built here, so that a call without hooks builds none). */
static COLD NOINLINE void
malloc_alloc_hook(const hook_site_t *site, size_t size, void *p)
{
	hook_call_alloc(site != NULL ? site : &(hook_site_t){HOOK_ENTRY_MALLOC, {size}}, p);
}

/* The general allocation path: counts (running due events first), then
 * allocates; the alloc hooks see the result. */
static ALWAYS_INLINE void *
malloc_alloc_inline(tsd_t *tsd, size_t size, size_t usize, size_t alignment, bool zero,
                    malloc_route_t route, const hook_site_t *site)
{
	bool sample = malloc_count_alloc(tsd, usize);
	void *p = malloc_alloc_counted(tsd, size, usize, alignment, zero, route, sample);
	if (UNLIKELY(hook_active()))
		malloc_alloc_hook(site, size, p);
	return p;
}

void *
malloc_alloc(tsd_t *tsd, size_t size, size_t usize, size_t alignment, bool zero,
             malloc_route_t route, const hook_site_t *site)
{
	return malloc_alloc_inline(tsd, size, usize, alignment, zero, route, site);
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

void
malloc_dalloc(tsd_t *tsd, void *ptr, uint64_t bits, tcache_t *tcache, const hook_site_t *site)
{
	if (UNLIKELY(opt_safety_checks) &&
	    !malloc_safety_dalloc_ok("free", "double free of", ptr, bits, tcache))
		return;
	if (hook_active() && site != NULL)
		hook_call_dalloc(site, ptr);
	unsigned ind = emap_bits_usable_szind(bits);
	size_t usize = sz_index2size(ind);
	if (opt_junk == CONF_JUNK_TRUE || opt_junk == CONF_JUNK_FREE)
		memset(ptr, JUNK_FREE_BYTE, usize);
	int saved_errno = errno;
	if (UNLIKELY(emap_bits_sampled(bits))) {
		malloc_dalloc_sampled(tsd, ptr, bits, usize);
	} else if (UNLIKELY(numa_active()) && tcache != NULL &&
	           emap_bits_node(bits) != arena_node(tcache->arena)) {
		arena_dalloc_home(ptr, bits); /* another node's: not to be handed out here */
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

/* Allocation through the thread's cache and arena: every standard entry
 * point.  site NULL: malloc(size) itself. */
NOINLINE void *
malloc_default(size_t size, size_t alignment, bool zero, const hook_site_t *site)
{
	tsd_t *tsd = malloc_tsd(); /* first: it initializes the size classes */
	size_t usize = malloc_usize(size, alignment);
	if (UNLIKELY(tsd == NULL || usize == 0)) {
		errno = ENOMEM;
		if (hook_active()) /* a failure is reported too (jemalloc) */
			malloc_alloc_hook(site, size, NULL);
		return NULL;
	}
	malloc_route_t route = {NULL, malloc_thread_tcache(tsd)};
	return malloc_alloc_inline(tsd, size, usize, alignment, zero, route, site);
}

/* site NULL: free(ptr) itself. */
NOINLINE void
free_default(void *ptr, const hook_site_t *site)
{
	if (ptr == NULL)
		return;
	hook_site_t free_site; /* built only while hooks are installed */
	if (site == NULL && hook_active()) {
		free_site = (hook_site_t){HOOK_ENTRY_FREE, {(uintptr_t)ptr}};
		site = &free_site;
	}
	uint64_t bits = malloc_lookup("free", ptr);
	tsd_t *tsd = malloc_tsd();
	malloc_dalloc(tsd, ptr, bits, tsd != NULL ? malloc_thread_tcache(tsd) : NULL, site);
}

/*
 * Resizes ptr to size (alignment 0 or a power of two): in place when the
 * class is unchanged or a large extent can grow or shrink, else by moving.
 * As in jemalloc, an arena named by the flags only says where a moved
 * allocation goes: resizing in place is tried first whatever it is.
 * NULL with errno ENOMEM (ptr untouched) on failure.  Hooks: expand in
 * place; moved, alloc on the new object, then dalloc on the old.
 */
void *
malloc_realloc(const char *func, void *ptr, size_t size, size_t alignment, bool zero,
               malloc_route_t route, bool explicit_route, const hook_site_t *site)
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
	if (UNLIKELY(opt_safety_checks) &&
	    !malloc_safety_dalloc_ok(func, "use after free of", ptr, bits, route.tcache)) {
		errno = EINVAL;
		return NULL;
	}
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
		if (hook_active() && site != NULL)
			hook_call_expand(site, ptr, old_usize, usize);
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
	if (hook_active() && site != NULL)
		hook_call_alloc(site, p);
	malloc_dalloc(tsd, ptr, bits, route.tcache, site);
	return p;
}

/* ---------------------------------------------------------------- C, POSIX, glibc */

COLD _Noreturn void
malloc_xmalloc_fatal(const char *what)
{
	msg_fatal("Error %s: out of memory\n", what);
}

/* malloc's slow path (its own, so that malloc's fast path needs no frame). */
static NOINLINE void *
malloc_slow(size_t size)
{
	return malloc_checked(malloc_default(size, 0, false, NULL), "in malloc()");
}

/* The fast paths are malloc_internal.h's. */
EXPORT void *
malloc(size_t size)
{
	void *p;
	size_t usize;
	if (LIKELY(malloc_fast(size, 0, &p, &usize)))
		return p;
	return malloc_slow(size);
}

EXPORT void
free(void *ptr)
{
	if (LIKELY(free_fast(ptr)))
		return;
	free_default(ptr, NULL);
}

/* calloc's slow path (its own, so that calloc's fast path needs no frame). */
static NOINLINE void *
calloc_default(size_t num, size_t size, size_t total)
{
	return malloc_checked(
		malloc_default(total, 0, true, &(hook_site_t){HOOK_ENTRY_CALLOC, {num, size}}),
		"in calloc()");
}

EXPORT void *
calloc(size_t num, size_t size)
{
	size_t total;
	if (UNLIKELY(__builtin_mul_overflow(num, size, &total))) {
		errno = ENOMEM;
		return malloc_checked(NULL, "in calloc()");
	}
	void *p;
	size_t usize;
	if (LIKELY(malloc_fast(total, 0, &p, &usize))) {
		memset(p, 0, total);
		return p;
	}
	return calloc_default(num, size, total);
}

EXPORT void *
realloc(void *ptr, size_t size)
{
	/* As jemalloc 5.3 reports them: realloc(NULL, size) to the hooks as
	 * malloc(size), realloc(ptr, 0) that frees as realloc's free. */
	const hook_site_t site = {HOOK_ENTRY_REALLOC, {(uintptr_t)ptr, size}};
	if (ptr == NULL)
		return malloc_checked(malloc_default(size, 0, false, NULL), "in realloc()");
	if (UNLIKELY(size == 0)) {
		stats_count_zero_realloc();
		switch (opt_zero_realloc) {
		case CONF_ZERO_REALLOC_FREE:
			free_default(ptr, &site);
			return NULL;
		case CONF_ZERO_REALLOC_ABORT:
			msg_fatal("realloc(): zero size with zero_realloc:abort\n");
		case CONF_ZERO_REALLOC_ALLOC:
			break;
		}
	}
	malloc_route_t route = {NULL, NULL};
	return malloc_checked(malloc_realloc("realloc", ptr, size, 0, false, route, false, &site),
	                      "in realloc()");
}

EXPORT void *
reallocarray(void *ptr, size_t num, size_t size)
{
	size_t total;
	if (UNLIKELY(__builtin_mul_overflow(num, size, &total))) {
		errno = ENOMEM;
		return malloc_checked(NULL, "in reallocarray()");
	}
	return realloc(ptr, total);
}

void *
malloc_aligned(size_t alignment, size_t size, const hook_site_t *site)
{
	if (alignment < QUANTUM)
		alignment = 0; /* every class is at least naturally aligned to this */
	return malloc_checked(malloc_default(size, alignment, false, site),
	                      "allocating aligned memory");
}

EXPORT int
posix_memalign(void **memptr, size_t alignment, size_t size)
{
	if (!bits_is_pow2(alignment) || alignment < sizeof(void *))
		return EINVAL;
	int saved_errno = errno;
	void *p = malloc_aligned(alignment, size,
	                         &(hook_site_t){HOOK_ENTRY_POSIX_MEMALIGN,
	                                        {(uintptr_t)memptr, alignment, size}});
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
	return malloc_aligned(alignment, size,
	                      &(hook_site_t){HOOK_ENTRY_ALIGNED_ALLOC, {alignment, size}});
}

EXPORT void *
memalign(size_t alignment, size_t size)
{
	/* glibc rounds a non-power-of-two alignment up to the next power of two. */
	if (alignment > SZ_LARGE_MAXCLASS) {
		errno = EINVAL;
		return NULL;
	}
	const hook_site_t site = {HOOK_ENTRY_MEMALIGN, {alignment, size}};
	if (!bits_is_pow2(alignment))
		alignment = alignment == 0 ? 1 : (size_t)1 << bits_lg_ceil(alignment);
	return malloc_aligned(alignment, size, &site);
}

EXPORT void *
valloc(size_t size)
{
	return malloc_aligned(PAGE, size, &(hook_site_t){HOOK_ENTRY_VALLOC, {size}});
}

EXPORT void *
pvalloc(size_t size)
{
	size_t rounded = PAGE_CEILING(size);
	if (UNLIKELY(rounded < size)) {
		errno = ENOMEM;
		return malloc_checked(NULL, "allocating aligned memory");
	}
	return malloc_aligned(PAGE, rounded == 0 ? PAGE : rounded,
	                      &(hook_site_t){HOOK_ENTRY_PVALLOC, {size}});
}

/* The usable size of a live allocation.  Programs such as redis call this
 * on every allocation and free, so it checks only what the page map says
 * (an unknown page still aborts), like the free fast path. */
size_t
malloc_usable_size_of(const char *func, const void *ptr)
{
	uint64_t bits = emap_lookup(ptr);
	unsigned ind = emap_bits_usable_szind(bits);
	if (UNLIKELY(ind >= SZ_NSIZES))
		malloc_invalid_pointer(func, ptr, bits);
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
