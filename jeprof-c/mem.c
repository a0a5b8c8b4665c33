/*
 * mem.c — allocation helpers that never return NULL, and diag_fail.
 *
 * Invariant: every pointer returned here is non-NULL; on exhaustion the
 * process prints "jeprof: out of memory" and exits with status 1.
 */
#include "mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
mem_fail_exhausted(void)
{
	fputs("jeprof: out of memory\n", stderr);
	exit(1);
}

void *
mem_alloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);
	if (p == NULL)
		mem_fail_exhausted();
	return p;
}

void *
mem_zalloc(size_t size)
{
	void *p = calloc(1, size == 0 ? 1 : size);
	if (p == NULL)
		mem_fail_exhausted();
	return p;
}

void *
mem_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size == 0 ? 1 : size);
	if (p == NULL)
		mem_fail_exhausted();
	return p;
}

char *
mem_strndup(const char *s, size_t n)
{
	char *p = mem_alloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
mem_strdup(const char *s)
{
	return mem_strndup(s, strlen(s));
}

char *
mem_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *out = NULL;
	int n = vasprintf(&out, fmt, ap);
	va_end(ap);
	if (n < 0)
		mem_fail_exhausted();
	return out;
}

void
mem_grow(void *ptr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return;
	size_t ncap = *cap < 16 ? 16 : *cap;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			mem_fail_exhausted();
		ncap *= 2;
	}
	void **pp = ptr;
	*pp = mem_realloc(*pp, ncap * elem);
	*cap = ncap;
}

int
diag_fail(diag_t *d, const char *fmt, ...)
{
	if (!d->set) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
		d->set = 1;
	}
	return EINVAL;
}
