/*
 * symname.h — function-name helpers: C++ demangling and jeprof's short names.
 *
 * Both return newly allocated strings owned by the caller.
 */
#ifndef JEPROF_SYMNAME_H
#define JEPROF_SYMNAME_H

#include <stdbool.h>

/* The demangled form of an Itanium-ABI name, or a copy of name itself. */
char *symname_demangle(const char *name);

/*
 * jeprof's short function name: argument lists (with a trailing "const"),
 * template arguments and a leading return type removed, so
 * "std::vector<int>::push_back(int const&)" becomes "std::vector::push_back".
 */
char *symname_shorten(const char *name);

/* Whether a short name is an allocator entry point (docs/compat.md, "Allocator frames"). */
bool symname_is_allocator(const char *short_name);

#endif
