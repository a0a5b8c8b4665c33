/*
 * malloc_cxx.h — what C++'s operator new and delete (malloc_cxx.cpp) call
 * in malloc_jemalloc.c, and what it calls back there.  L5 (part of malloc).
 * Plain C types only: both languages include it.
 *
 * The operators are thin: each is a tail call of one function below, which
 * takes malloc's, free's or the sized free's fast path (docs/design.md,
 * "What makes it fast").  A new that finds no memory ends in
 * malloc_cxx_new_failed (the std::new_handler loop, then std::bad_alloc)
 * or malloc_cxx_new_failed_nothrow.  std::bad_alloc leaves through the C
 * frames (malloc_jemalloc.c, malloc.c), built with -fexceptions for it.
 * With experimental_infallible_new:true malloc_jemalloc.c aborts with a
 * message instead, before calling them, as jemalloc does (the nothrow forms
 * too).
 *
 * No locks, no state of its own.
 */
#ifndef STRATA_MALLOC_CXX_H
#define STRATA_MALLOC_CXX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* operator new and new[]: size bytes aligned to alignment (0: the default
 * alignment; else a power of two); on failure the new_handler loop, then
 * std::bad_alloc (new) or NULL (nothrow: the _nothrow forms). */
void *malloc_cxx_new(size_t size);
void *malloc_cxx_new_nothrow(size_t size);
void *malloc_cxx_new_aligned(size_t size, size_t alignment);
void *malloc_cxx_new_aligned_nothrow(size_t size, size_t alignment);

/* One more try after the new_handler ran: NULL when out of memory. */
void *malloc_cxx_retry(size_t size, size_t alignment);

/* operator delete and delete[]: NULL does nothing.  The sized forms take
 * the size given to new (and its alignment, 0 for none): the sized free
 * path, as sdallocx. */
void malloc_cxx_delete(void *ptr) __attribute__((nothrow));
void malloc_cxx_delete_sized(void *ptr, size_t size) __attribute__((nothrow));
void malloc_cxx_delete_sized_aligned(void *ptr, size_t size, size_t alignment)
        __attribute__((nothrow));

/* Aborts: operator new found no memory in a program without a C++ runtime
 * to throw std::bad_alloc with (a C program calling it by its name). */
__attribute__((noreturn)) void malloc_cxx_fatal_no_runtime(size_t size);

/* Defined in malloc_cxx.cpp.  The throwing forms' failure: runs the
 * new_handler until one try succeeds, then the memory, or std::bad_alloc
 * thrown.  The nothrow forms': the memory, or NULL. */
void *malloc_cxx_new_failed(size_t size, size_t alignment);
void *malloc_cxx_new_failed_nothrow(size_t size, size_t alignment);

#ifdef __cplusplus
}
#endif

#endif
