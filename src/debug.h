/*
 * debug.h — assertions of the invariants that file comments state.  L0.
 *
 * DEBUG_ASSERT(cond) checks cond in a debug build (make DEBUG=1, which
 * defines STRATA_DEBUG) and aborts with the file, line and condition; a
 * release build compiles the condition out entirely (config_debug is a
 * constant false), so assertions may be as expensive as they need to be.
 */
#ifndef STRATA_DEBUG_H
#define STRATA_DEBUG_H

#include "config.h"

COLD _Noreturn void debug_assert_fail(const char *file, int line, const char *cond);

#define DEBUG_ASSERT(cond)                                                     \
	do {                                                                   \
		if (config_debug && UNLIKELY(!(cond)))                         \
			debug_assert_fail(__FILE__, __LINE__, #cond);          \
	} while (0)

#endif
