/*
 * safety.h — where a failed safety check goes: the program's
 * safety_check_abort hook (mallctl experimental.hooks.safety_check_abort,
 * as in jemalloc 5.3), else a message and abort().  L0.
 *
 * A safety check is a test of the program's use of the API that the
 * allocator makes on its way (a double free, a pointer it never handed
 * out).  The hook gets the whole message, "<strata>: " included, and may
 * return: then safety_check_fail returns and its caller drops the faulty
 * call (the object stays as it was); safety_check_fatal, for a caller that
 * cannot step back, aborts after the hook returns (docs/compat.md,
 * "Experimental hooks").
 *
 * State: the hook, one atomic pointer; no locks, no allocation.
 */
#ifndef STRATA_SAFETY_H
#define STRATA_SAFETY_H

#include "config.h"

typedef void (*safety_abort_hook_t)(const char *message);

/* Reads and replaces the hook (NULL: abort). */
safety_abort_hook_t safety_get_abort_hook(void);
void safety_set_abort_hook(safety_abort_hook_t hook);

/* Reports a failed check; returns only when the hook returned. */
COLD void safety_check_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a failed check and never returns. */
COLD _Noreturn void safety_check_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
