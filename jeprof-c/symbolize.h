/*
 * symbolize.h — turns the addresses of a profile into functions, files and
 * lines with libdw (elfutils).
 *
 * One Dwfl session serves every source that has the same MAPPED_LIBRARIES.
 * Every executable, file-backed mapping is reported at its load bias (PIE,
 * shared libraries, " (deleted)" files), ELF symbol tables and DWARF line
 * tables and inline chains are read, separate debug files are found by
 * build-id and .gnu_debuglink under /usr/lib/debug and the --debug-dir
 * directories, and C++ names are demangled.  Sources read from a symbolized
 * profile (jeprof --raw) use the names they carry instead.
 */
#ifndef JEPROF_SYMBOLIZE_H
#define JEPROF_SYMBOLIZE_H

#include <stddef.h>

#include "profile.h"

typedef struct symbolize_options {
	const char *program;      /* the program named on the command line, or NULL */
	const char **debug_dirs;  /* extra debug-file roots (--debug-dir) */
	size_t ndebug_dirs;
} symbolize_options_t;

/* Fills the lines and trim flags of every location of p. */
void symbolize_profile(profile_t *p, const symbolize_options_t *o);

/* The path of the main executable of source (its first file mapping), or NULL. */
const char *symbolize_program_path(const profile_t *p, uint32_t source);

#endif
