/*
 * mem.h — allocation helpers and the error-message carrier of jeprof-c.
 *
 * jeprof is an ordinary program on libc malloc.  Running out of memory is not
 * a recoverable condition for a report generator, so the mem_* helpers print
 * one message and exit with status 1 instead of returning NULL; callers never
 * check their result.  Input errors, on the other hand, are carried back to
 * main() in a diag_t so that the message can name the file and line.
 */
#ifndef JEPROF_MEM_H
#define JEPROF_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *mem_alloc(size_t size);
void *mem_zalloc(size_t size);
void *mem_realloc(void *ptr, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
char *mem_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Grows *ptr (an array of elem-sized items with capacity *cap) so that it
 * holds at least need items.  Capacity doubles, so appends are amortized O(1).
 */
void mem_grow(void *ptr, size_t *cap, size_t need, size_t elem);

/* An error message: the first failure wins, later ones are ignored. */
typedef struct diag {
	char msg[512];
	int set;
} diag_t;

int diag_fail(diag_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
