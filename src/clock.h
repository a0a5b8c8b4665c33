/*
 * clock.h — a cheap monotonic clock for coarse timing (decay epochs).  L0.
 *
 * CLOCK_MONOTONIC_COARSE is read from the vDSO without a system call; its
 * resolution (a few ms) is far below what its users need.
 */
#ifndef STRATA_CLOCK_H
#define STRATA_CLOCK_H

#include <time.h>

#include "config.h"

static inline uint64_t
clock_coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
