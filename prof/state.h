/*
 * state.h — the profiler's process-wide state shared by its modules.
 *
 * prof_base holds every piece of profiler metadata (thread data, stacks,
 * per-thread counters); it is never freed.  The settings are atomics written
 * by mallctl and read anywhere.  Owned by prof.c.
 */
#ifndef STRATA_PROF_STATE_H
#define STRATA_PROF_STATE_H

#include "atomic.h"
#include "base.h"

extern base_t prof_base;
/* lg of the mean sampling distance (prof.lg_sample). */
extern _Atomic unsigned prof_lg_sample_now;
/* Copies the current dump prefix (prof.prefix) into buf. */
void prof_prefix_get(char *buf, size_t size);

#endif
