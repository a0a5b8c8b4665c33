/*
 * malloc_cxx.cpp — C++'s replaceable operator new and delete, every form
 * libstdc++ declares: plain, array, nothrow, sized delete (C++14), aligned
 * new and delete with std::align_val_t and their sized and nothrow forms
 * (C++17).  Exported from libstrata.so like jemalloc's, so that a C++
 * program gets strata's fast paths and sized deallocation.  L5 (part of
 * malloc).
 *
 * Each operator is one tail call into malloc.c (malloc_cxx.h): new takes
 * malloc's fast path, delete free's, sized delete the sized free path
 * (the class from the size, no page-map lookup).  When new finds no memory,
 * malloc.c calls malloc_cxx_new_failed below, which does what jemalloc's
 * operator new does (its jemalloc_cpp.cpp): call the std::new_handler and
 * retry while there is one, stop when it throws std::bad_alloc, then
 * throw std::bad_alloc (the nothrow forms return NULL).  With
 * experimental_infallible_new:true malloc.c aborts with a message first.
 *
 * libstrata.so links libstdc++ dynamically (as jemalloc's Debian library
 * does): std::get_new_handler must read the handler the program set, which
 * a static copy of libstdc++ inside libstrata.so would not share.
 *
 * No locks, no state of its own.
 */
#include <cstddef>
#include <new>

#include "malloc_cxx.h"

#define CXX_EXPORT __attribute__((visibility("default")))

extern "C" void *
malloc_cxx_new_failed(std::size_t size, std::size_t alignment, int nothrow)
{
	void *p = nullptr;
	while (p == nullptr) {
		std::new_handler handler = std::get_new_handler();
		if (handler == nullptr)
			break;
		try {
			handler();
		} catch (const std::bad_alloc &) {
			break;
		}
		p = malloc_cxx_retry(size, alignment);
	}
	if (p == nullptr && !nothrow)
		throw std::bad_alloc();
	return p;
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
