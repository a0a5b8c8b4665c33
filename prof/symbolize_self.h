/*
 * symbolize_self.h — names for addresses of this process's own code, found
 * in the process at exit (the leak report, leak.h).
 *
 * libdw is loaded with dlopen when a session begins, never earlier: strata
 * does not link it, and a process that reports nothing never loads it.
 * With libdw an address gets its function (from the symbol table, or the
 * dynamic one when the file is stripped; C++ names demangled when the
 * process has libstdc++'s __cxa_demangle), where debug information exists
 * its file and line and the functions inlined there, and its file's name.
 * Without libdw, dladdr gives the file and the names of exported
 * functions; without either, the address alone is left.
 *
 * What it allocates (dlopen, libdw, the demangler; the results of
 * __cxa_demangle and dwarf_getscopes are given back with free, the calls
 * to the public allocator here)
 * happens after the report's counters were copied, so it cannot change
 * them.  Sessions are made by the exiting thread only, one at a time; the
 * state is this file's and needs no lock.
 */
#ifndef STRATA_PROF_SYMBOLIZE_SELF_H
#define STRATA_PROF_SYMBOLIZE_SELF_H

#include "config.h"

/* The most functions one address is reported in: the innermost inlined
 * one, the functions it is inlined into, and the one the code is in. */
#define PROF_SYM_INLINE_MAX 8

/* One function at an address, with the source line it is at there. */
typedef struct prof_sym_func {
	const char *name; /* demangled when possible; NULL: unknown */
	const char *file; /* source file; NULL without line information */
	int line;
} prof_sym_func_t;

/* What is known of one address; strings stay valid until the next
 * prof_symbolize_self call or the end of the session. */
typedef struct prof_sym {
	/* Innermost first; the last is the function the code is in (its
	 * name from the symbol table when it has one), and each of the
	 * others is inlined into the next, at the line the next one shows.
	 * At least one, maybe nameless. */
	prof_sym_func_t funcs[PROF_SYM_INLINE_MAX];
	unsigned nfuncs;
	const char *symbol;      /* the symbol the code is in, as its file names it */
	uintptr_t symbol_offset; /* the address minus the symbol's start */
	const char *module_path; /* the mapped file; NULL when in none */
	const char *module;      /* its base name */
	uintptr_t module_offset; /* the address minus the file's load address */
} prof_sym_t;

/* Begins a session: loads libdw and reads the process's mappings (or
 * settles for dladdr). */
void prof_symbolize_self_begin(void);
/* What is known of the code at pc (an address inside an instruction). */
void prof_symbolize_self(uintptr_t pc, prof_sym_t *out);
/*
 * Line i (0 .. sym->nfuncs - 1) of a report's frame at addr, numbered n,
 * as "<strata>:     #n 0x... function file:line (module)\n" or what is
 * known of it: one line per function inlined there, innermost first, then
 * the function the code is in.
 */
#define PROF_SYM_LINE_BYTES 4224
void prof_sym_frame_line(char *buf, size_t size, unsigned n, uintptr_t addr, const prof_sym_t *sym,
                         unsigned i);
/* Ends the session: libdw's files are closed (libdw stays loaded). */
void prof_symbolize_self_end(void);

#endif
