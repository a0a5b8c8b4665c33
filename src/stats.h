/*
 * stats.h — allocator-wide counters gathered from every arena, and
 * malloc_stats_print.  L5.
 *
 * A snapshot reads each arena's bins, large counters, pages and bases under
 * their own locks, one at a time: totals are exact when the program is
 * quiescent and approximate while it allocates.
 */
#ifndef STRATA_STATS_H
#define STRATA_STATS_H

#include "config.h"

typedef struct stats_global {
	size_t allocated; /* bytes in use by the application (usable sizes) */
	size_t active;    /* bytes of pages holding allocations */
	size_t metadata;  /* bytes of metadata handed out by the bases */
	size_t resident;  /* metadata pages touched + active + dirty pages */
	size_t mapped;    /* mapped address space that is not retained */
	size_t retained;  /* mapped address space purged and kept for reuse */
} stats_global_t;

void stats_snapshot(stats_global_t *out);

typedef void stats_write_cb_t(void *cbopaque, const char *s);
/* The text report; opts letters as jemalloc's: g (no general), a (no
 * per-arena), b (no bins), l (no large), e (no extents). */
void stats_print(stats_write_cb_t *write_cb, void *cbopaque, const char *opts);

/* stats_print through malloc_message (or stderr). */
void stats_print_to_messages(const char *opts);

/* Set up by init: the global metadata base (emap leaves, arena structs). */
struct base;
void stats_boot(struct base *global_base);

#endif
