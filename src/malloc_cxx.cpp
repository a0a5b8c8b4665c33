/*
 * malloc_cxx.cpp — C++'s replaceable operator new and delete, every form
 * libstdc++ declares: plain, array, nothrow, sized delete (C++14), aligned
 * new and delete with std::align_val_t and their sized and nothrow forms
 * (C++17).  Exported from libstrata.so like jemalloc's, so that a C++
 * program gets strata's fast paths and sized deallocation.  L5 (part of
 * malloc).
 *
 * Each operator is one tail call into malloc_jemalloc.c (malloc_cxx.h):
 * new takes malloc's fast path, delete free's, sized delete the sized free
 * path (the class from the size, no page-map lookup).  When new finds no
 * memory, malloc_jemalloc.c calls malloc_cxx_new_failed below, which does
 * what jemalloc's operator new does (its jemalloc_cpp.cpp): call the
 * std::new_handler and retry while there is one, then throw std::bad_alloc.  The nothrow forms
 * hand a failure to libstdc++'s own nothrow operator, which calls the
 * throwing one (this file's) and returns NULL for what it throws.  With
 * experimental_infallible_new:true malloc_jemalloc.c aborts with a message
 * first.
 *
 * libstrata.so does not link libstdc++: a C program then loads no C++
 * runtime (and none of its start-up allocations).  This file is built
 * without exceptions and refers to no libstdc++ symbol; the few it needs
 * on the failure path (std::get_new_handler, std::__throw_bad_alloc,
 * libstdc++'s nothrow operators) are looked up with dlsym when a new first
 * fails.  A C++ program has libstdc++ loaded, so they are found; an
 * exception leaves through this file's and the C files' frames by their
 * unwind tables (docs/compat.md, "API functions").
 *
 * No locks; the looked-up functions are cached in relaxed atomics (a race
 * looks the same symbol up twice).
 */
#include <atomic>
#include <cstddef>
#include <dlfcn.h>
#include <new>

#include "malloc_cxx.h"

#define CXX_EXPORT __attribute__((visibility("default")))

/* A function of the C++ runtime by its mangled name, looked up once from
 * here (where: RTLD_DEFAULT, or RTLD_NEXT for the definition that this
 * library's own interposes); NULL when no C++ runtime is loaded. */
static void *
cxx_runtime_symbol(std::atomic<void *> &cache, void *where, const char *name)
{
	void *f = cache.load(std::memory_order_relaxed);
	if (f == nullptr) {
		f = dlsym(where, name);
		cache.store(f, std::memory_order_relaxed);
	}
	return f;
}

static std::atomic<void *> cxx_get_new_handler, cxx_throw_bad_alloc, cxx_nothrow_new,
        cxx_nothrow_new_aligned;

extern "C" void *
malloc_cxx_new_failed(std::size_t size, std::size_t alignment)
{
	auto get_handler = reinterpret_cast<std::new_handler (*)()>(cxx_runtime_symbol(
	        cxx_get_new_handler, RTLD_DEFAULT, "_ZSt15get_new_handlerv"));
	void *p = nullptr;
	while (p == nullptr && get_handler != nullptr) {
		std::new_handler handler = get_handler();
		if (handler == nullptr)
			break;
		handler(); /* may throw: std::bad_alloc leaves from here */
		p = malloc_cxx_retry(size, alignment);
	}
	if (p != nullptr)
		return p;
	auto throw_bad_alloc = reinterpret_cast<void (*)()>(cxx_runtime_symbol(
	        cxx_throw_bad_alloc, RTLD_DEFAULT, "_ZSt17__throw_bad_allocv"));
	if (throw_bad_alloc != nullptr)
		throw_bad_alloc();
	malloc_cxx_fatal_no_runtime(size);
}

extern "C" void *
malloc_cxx_new_failed_nothrow(std::size_t size, std::size_t alignment)
{
	const std::nothrow_t nothrow{}; /* not std::nothrow, libstdc++'s object */
	void *f;
	if (alignment == 0) {
		f = cxx_runtime_symbol(cxx_nothrow_new, RTLD_NEXT, "_ZnwmRKSt9nothrow_t");
		if (f != nullptr)
			return reinterpret_cast<void *(*)(std::size_t, const std::nothrow_t &)>(f)(
			        size, nothrow);
	} else {
		f = cxx_runtime_symbol(cxx_nothrow_new_aligned, RTLD_NEXT,
		                       "_ZnwmSt11align_val_tRKSt9nothrow_t");
		if (f != nullptr)
			return reinterpret_cast<void *(*)(std::size_t, std::align_val_t,
			                                  const std::nothrow_t &)>(f)(
			        size, std::align_val_t(alignment), nothrow);
	}
	return nullptr; /* no C++ runtime: no new_handler either */
}

/* ---------------------------------------------------------------- new */

CXX_EXPORT void *
operator new(std::size_t size)
{
	return malloc_cxx_new(size);
}

CXX_EXPORT void *
operator new[](std::size_t size)
{
	return malloc_cxx_new(size);
}

CXX_EXPORT void *
operator new(std::size_t size, const std::nothrow_t &) noexcept
{
	return malloc_cxx_new_nothrow(size);
}

CXX_EXPORT void *
operator new[](std::size_t size, const std::nothrow_t &) noexcept
{
	return malloc_cxx_new_nothrow(size);
}

CXX_EXPORT void *
operator new(std::size_t size, std::align_val_t alignment)
{
	return malloc_cxx_new_aligned(size, static_cast<std::size_t>(alignment));
}

CXX_EXPORT void *
operator new[](std::size_t size, std::align_val_t alignment)
{
	return malloc_cxx_new_aligned(size, static_cast<std::size_t>(alignment));
}

CXX_EXPORT void *
operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t &) noexcept
{
	return malloc_cxx_new_aligned_nothrow(size, static_cast<std::size_t>(alignment));
}

CXX_EXPORT void *
operator new[](std::size_t size, std::align_val_t alignment, const std::nothrow_t &) noexcept
{
	return malloc_cxx_new_aligned_nothrow(size, static_cast<std::size_t>(alignment));
}

/* ---------------------------------------------------------------- delete */

CXX_EXPORT void
operator delete(void *ptr) noexcept
{
	malloc_cxx_delete(ptr);
}

CXX_EXPORT void
operator delete[](void *ptr) noexcept
{
	malloc_cxx_delete(ptr);
}

CXX_EXPORT void
operator delete(void *ptr, const std::nothrow_t &) noexcept
{
	malloc_cxx_delete(ptr);
}

CXX_EXPORT void
operator delete[](void *ptr, const std::nothrow_t &) noexcept
{
	malloc_cxx_delete(ptr);
}

CXX_EXPORT void
operator delete(void *ptr, std::size_t size) noexcept
{
	malloc_cxx_delete_sized(ptr, size);
}

CXX_EXPORT void
operator delete[](void *ptr, std::size_t size) noexcept
{
	malloc_cxx_delete_sized(ptr, size);
}

CXX_EXPORT void
operator delete(void *ptr, std::align_val_t) noexcept
{
	malloc_cxx_delete(ptr);
}

CXX_EXPORT void
operator delete[](void *ptr, std::align_val_t) noexcept
{
	malloc_cxx_delete(ptr);
}

CXX_EXPORT void
operator delete(void *ptr, std::align_val_t, const std::nothrow_t &) noexcept
{
	malloc_cxx_delete(ptr);
}

CXX_EXPORT void
operator delete[](void *ptr, std::align_val_t, const std::nothrow_t &) noexcept
{
	malloc_cxx_delete(ptr);
}

CXX_EXPORT void
operator delete(void *ptr, std::size_t size, std::align_val_t alignment) noexcept
{
	malloc_cxx_delete_sized_aligned(ptr, size, static_cast<std::size_t>(alignment));
}

CXX_EXPORT void
operator delete[](void *ptr, std::size_t size, std::align_val_t alignment) noexcept
{
	malloc_cxx_delete_sized_aligned(ptr, size, static_cast<std::size_t>(alignment));
}
