/*
 * msg.h — malloc-free, async-signal-safe formatted output.  L0.
 *
 * Owns the `malloc_message` hook and the "<strata>: " message convention.
 * Formatting writes into caller-provided buffers only; nothing here
 * allocates, takes a lock, or calls stdio, so it is safe inside the
 * allocator, before initialization, in a fork child and in signal handlers.
 *
 * Supported conversions: %d %i %u %x %X %o %c %s %p %% with the length
 * modifiers hh h l ll z t j, the flags '-' '0' '#' '+' ' ', a width and a
 * precision (also '*').  %s of NULL prints "(null)".
 */
#ifndef STRATA_MSG_H
#define STRATA_MSG_H

#include <stdarg.h>
#include "config.h"

#define MSG_PREFIX "<strata>: "

/*
 * Formats into buf (always NUL-terminated when size > 0).  Returns the length
 * the full output would have had, like snprintf.
 */
size_t msg_vformat(char *buf, size_t size, const char *fmt, va_list ap);
size_t msg_format(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes s through malloc_message if the program set one, else to stderr.
 * The hook runs between the guard's enter and leave calls (below).  A
 * standard error nobody reads any more loses the message, and raises no
 * SIGPIPE. */
void msg_write(const char *s);
/* msg_write with fd in place of stderr (the hook, when set, still gets s). */
void msg_write_fd(int fd, const char *s);

/*
 * The hook guard: init sets functions that raise and lower the thread's
 * reentrancy level, so that what a malloc_message hook allocates (printf
 * does) takes the allocator's re-entrant path.
 */
void msg_set_hook_guard(void (*enter)(void), void (*leave)(void));

/*
 * Bootstrap deferral: between msg_defer_begin and msg_defer_end, messages
 * are kept (up to MSG_DEFER_BYTES; the rest is counted as dropped) and
 * msg_defer_end writes them.  init defers while the arenas do not exist, so
 * a hook that allocates never runs before allocation can be served.
 * msg_fatal writes what was kept before its own message.  Only the
 * initializing thread writes messages while they are deferred.
 */
#define MSG_DEFER_BYTES 8192
void msg_defer_begin(void);
void msg_defer_end(void);

/* "<strata>: " + formatted text; the caller supplies the newline. */
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* msg_error, then abort(). */
_Noreturn void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
