/*
 * safety.c — the safety_check_abort hook and the report of a failed safety
 * check.  See safety.h.
 *
 * The message is formatted on the stack (msg.h: nothing allocates), so the
 * report works with any allocator lock dropped and in a fork child.  The
 * hook pointer is read with an acquire load, so a hook installed by one
 * thread is seen whole by any other.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "atomic.h"
#include "msg.h"
#include "safety.h"

#define SAFETY_MSG_BYTES 4096 /* what msg_fatal prints: a message and two short stacks */

static _Atomic(safety_abort_hook_t) safety_abort_hook;

safety_abort_hook_t
safety_get_abort_hook(void)
{
	return atomic_load_acquire(&safety_abort_hook);
}

void
safety_set_abort_hook(safety_abort_hook_t hook)
{
	atomic_store_release(&safety_abort_hook, hook);
}

/* The message to the hook, or, without one, to the message sink and
 * abort(). */
static void
safety_report(const char *fmt, va_list ap)
{
	char buf[SAFETY_MSG_BYTES];
	size_t n = msg_format(buf, sizeof(buf), "%s", MSG_PREFIX);
	msg_vformat(buf + n, sizeof(buf) - n, fmt, ap);
	safety_abort_hook_t hook = safety_get_abort_hook();
	if (hook == NULL)
		msg_fatal("%s", buf + n);
	hook(buf);
}

void
safety_check_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	safety_report(fmt, ap);
	va_end(ap);
}

void
safety_check_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	safety_report(fmt, ap);
	va_end(ap);
	abort();
}
