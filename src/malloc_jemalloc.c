/*
 * malloc_jemalloc.c — jemalloc's extended API (mallocx, rallocx, xallocx,
 * sallocx, dallocx, sdallocx, nallocx), experimental.batch_alloc, and the C
 * entry points of C++'s operator new and delete (malloc_cxx.h).  L5 (part
 * of malloc).
 *
 * Flags-free mallocx, dallocx and sdallocx are malloc's and free's fast
 * paths after one test of the flags (malloc_internal.h); sdallocx and sized
 * delete take the class from the size hint, which, as in jemalloc, must lie
 * between the size asked for and the usable size (a debug build checks it
 * against the page map).  Anything else goes to malloc.c's general paths,
 * with the arena and cache the flags name; they call the hooks (hook.h),
 * which the fast paths never do: installing one forces every thread off
 * them.  The rules of errno, counting and sampling are malloc.c's.  C++'s
 * new calls the hooks as malloc (aligned new: aligned_alloc), delete as
 * free and sized delete as sdallocx, as jemalloc's operators do.
 *
 * No locks of its own.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "conf.h"
#include "hook.h"
#include "init.h"
#include "malloc_cxx.h"
#include "malloc_internal.h"
#include "msg.h"
#include "safety.h"

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
		return malloc_checked(NULL, "in mallocx()");
	}
	if (UNLIKELY(!mallocx_route(tsd, flags, &route, &explicit_route)))
		return NULL;
	return malloc_checked(
		malloc_alloc(tsd, size, usize, alignment, (flags & MALLOCX_ZERO_BIT) != 0, route,
	                     &(hook_site_t){HOOK_ENTRY_MALLOCX, {size, (uintptr_t)flags}}),
		"in mallocx()");
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
	void *p = malloc_realloc("rallocx", ptr, size, mallocx_alignment(flags),
	                         (flags & MALLOCX_ZERO_BIT) != 0, route, explicit_route,
	                         hook_active() ? &(hook_site_t){HOOK_ENTRY_RALLOCX,
	                                                        {(uintptr_t)ptr, size,
	                                                         (uintptr_t)flags}}
	                                       : NULL);
	return malloc_checked(p, "in rallocx()");
}

/* The dalloc hooks of a dallocx or sdallocx (size: sdallocx's). */
static NOINLINE void
mallocx_hook_dalloc(hook_entry_t entry, void *ptr, int flags, size_t size)
{
	hook_site_t site = {entry, {(uintptr_t)ptr, (uintptr_t)flags}};
	if (entry == HOOK_ENTRY_SDALLOCX)
		site = (hook_site_t){entry, {(uintptr_t)ptr, size, (uintptr_t)flags}};
	hook_call_dalloc(&site, ptr);
}

/* dallocx, sdallocx (entry) and sized delete off their fast paths: free
 * through the cache the flags name (an arena in them does not matter to a
 * free).  The size hint (sdallocx's; 0: none) and the flags' alignment
 * are checked against the page map in a debug build. */
static NOINLINE void
mallocx_dalloc(const char *func, void *ptr, size_t size, int flags, hook_entry_t entry)
{
	uint64_t bits = malloc_lookup(func, ptr);
	if ((config_debug || opt_safety_checks) && size != 0 &&
	    malloc_usize(size, mallocx_alignment(flags)) !=
	            sz_index2size(emap_bits_usable_szind(bits)))
		malloc_bad_size_hint(func, ptr, size);
	tsd_t *tsd = malloc_tsd();
	tcache_t *tcache = NULL;
	unsigned tcache_field = MALLOCX_TCACHE_FIELD(flags);
	if (tcache_field >= 2)
		tcache = tcaches_get(tcache_field - 2);
	else if (tcache_field == 0 && tsd != NULL)
		tcache = malloc_thread_tcache(tsd);
	if (hook_active())
		mallocx_hook_dalloc(entry, ptr, flags, size);
	malloc_dalloc(tsd, ptr, bits, tcache, NULL);
}

size_t
malloc_batch_alloc(void **ptrs, size_t num, size_t size, int flags)
{
	tsd_t *tsd = malloc_tsd();
	size_t alignment = mallocx_alignment(flags);
	size_t usize = malloc_usize(size, alignment);
	malloc_route_t route;
	bool explicit_route;
	if (UNLIKELY(tsd == NULL || usize == 0 || !mallocx_route(tsd, flags, &route, &explicit_route)))
		return 0;
	bool zero = (flags & MALLOCX_ZERO_BIT) != 0;
	unsigned ind = sz_size2index(usize);
	bool cached = route.tcache != NULL && ind < tcache_nbins && alignment <= PAGE;
	size_t n;
	for (n = 0; n < num; n++) {
		void *p;
		/* malloc's fast path, in the loop: the threshold compare (any
		 * event, junk, a forcing: the general path) and a pop. */
		if (cached && LIKELY(tsd->allocated + usize < tsd->alloc_event) &&
		    LIKELY(tcache_alloc_easy(route.tcache, ind, &p))) {
			tsd->allocated += usize;
			if (zero)
				memset(p, 0, usize);
		} else {
			bool sample = malloc_count_alloc(tsd, usize);
			p = malloc_alloc_counted(tsd, size, usize, alignment, zero, route, sample);
			if (p == NULL)
				break;
		}
		ptrs[n] = p;
	}
	return n;
}

/* xallocx's resize: the usable size ptr has after it. */
static size_t
malloc_xalloc(void *ptr, uint64_t bits, size_t old_usize, size_t size, size_t extra, int flags)
{
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

/* The expand hooks see every call, also one that could not resize (as in
 * jemalloc). */
EXPORT size_t
xallocx(void *ptr, size_t size, size_t extra, int flags)
{
	uint64_t bits = malloc_lookup("xallocx", ptr);
	size_t old_usize = sz_index2size(emap_bits_usable_szind(bits));
	size_t usize = malloc_xalloc(ptr, bits, old_usize, size, extra, flags);
	if (hook_active())
		hook_call_expand(&(hook_site_t){HOOK_ENTRY_XALLOCX,
		                                {(uintptr_t)ptr, size, extra, (uintptr_t)flags}},
		                 ptr, old_usize, usize);
	return usize;
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
mallocx_dalloc_flags(const char *func, void *ptr, size_t size, int flags, hook_entry_t entry)
{
	if (MALLOCX_TCACHE_FIELD(flags) == 0 &&
	    (size == 0 ? free_fast(ptr) : free_sized_fast(func, ptr, size, mallocx_align_mask(flags))))
		return;
	mallocx_dalloc(func, ptr, size, flags, entry);
}

/* Flags-free dallocx is free. */
EXPORT void
dallocx(void *ptr, int flags)
{
	if (UNLIKELY(flags != 0)) {
		mallocx_dalloc_flags("dallocx", ptr, 0, flags, HOOK_ENTRY_DALLOCX);
		return;
	}
	if (LIKELY(free_fast(ptr)))
		return;
	mallocx_dalloc("dallocx", ptr, 0, 0, HOOK_ENTRY_DALLOCX);
}

/* As in jemalloc, size is any size from the one asked for (with the same
 * alignment flags) to the usable size; another size is undefined behaviour
 * (a debug build aborts with a message).  sdallocx(ptr, 0, flags) is
 * dallocx. */
EXPORT void
sdallocx(void *ptr, size_t size, int flags)
{
	if (UNLIKELY(flags != 0)) {
		mallocx_dalloc_flags("sdallocx", ptr, size, flags, HOOK_ENTRY_SDALLOCX);
		return;
	}
	if (LIKELY(free_sized_fast("sdallocx", ptr, size, 0)))
		return;
	mallocx_dalloc("sdallocx", ptr, size, 0, HOOK_ENTRY_SDALLOCX);
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
		return malloc_checked(malloc_default(size, 0, false, NULL), "in malloc()");
	if (UNLIKELY(!bits_is_pow2(alignment))) {
		errno = EINVAL;
		return NULL;
	}
	return malloc_aligned(alignment, size,
	                      hook_active() ? &(hook_site_t){HOOK_ENTRY_ALIGNED_ALLOC,
	                                                     {alignment, size}}
	                                    : NULL);
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
		safety_check_fatal("operator new(%zu): out of memory and "
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
	free_default(ptr, NULL);
}

static NOINLINE void
malloc_cxx_delete_slow(void *ptr, size_t size, size_t alignment)
{
	if (ptr != NULL)
		mallocx_dalloc("operator delete", ptr, size,
		               alignment == 0 ? 0 : MALLOCX_LG_ALIGN(bits_lg_floor(alignment)),
		               HOOK_ENTRY_SDALLOCX);
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

