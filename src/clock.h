/*
 * clock.h — a cheap monotonic clock for coarse timing (decay epochs).  L0.
 *
 * CLOCK_MONOTONIC_COARSE is read from the vDSO without a system call; its
 * resolution (a few ms) is far below what its users need.
 *
 * Test injection (docs/design.md, "Injection"): in the internal test archive
 * a test that sets clock_test_now_ns to a non-zero value makes that the
 * time, so time-based behaviour (decay) is tested without sleeping.  Other
 * builds never read it.
 */
#ifndef STRATA_CLOCK_H
#define STRATA_CLOCK_H

#include <time.h>

#include "atomic.h"

extern _Atomic uint64_t clock_test_now_ns;

static inline uint64_t
clock_coarse_ns(void)
{
	if (config_test_hooks) {
		uint64_t now = atomic_load_relaxed(&clock_test_now_ns);
		if (now != 0)
			return now;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
