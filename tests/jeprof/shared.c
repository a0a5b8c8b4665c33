/*
 * shared.c — libjpshared.so of the jeprof tests: one allocation site in a
 * shared library (a mapping with its own load bias).  The store after the
 * call keeps the compiler from turning it into a tail call, which would
 * remove this frame from the stack.
 */
#include <stdlib.h>

void *volatile jp_shared_last;

__attribute__((noinline)) void *
jp_shared_alloc(int i)
{
	void *p = malloc(4096 + (size_t)(i & 0)); /* SITE:jp_shared_alloc */
	jp_shared_last = p;
	return p;
}
