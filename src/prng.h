/*
 * prng.h — a small per-thread pseudo-random generator and the geometric
 * distance of the profiler's byte sampling.  L0.
 *
 * The generator is splitmix64 (one add, three xor-shifts and two multiplies
 * per draw): statistically far beyond what sampling needs, and its whole
 * state is one word, so a thread's state lives in its block.  Nothing here
 * allocates or locks.
 */
#ifndef STRATA_PRNG_H
#define STRATA_PRNG_H

#include <math.h>

#include "config.h"

/* The next 64 random bits; advances *state. */
static inline uint64_t
prng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Bytes to the next sample when each byte is sampled with probability
 * 1/2^lg (lg 0..63): a geometric variate with mean 2^lg, at least 1.
 * floor(log(u) / log(1 - 2^-lg)) + 1 with u uniform in (0, 1] (53 bits),
 * which makes sampling a Poisson process over bytes: an allocation of z
 * bytes is sampled with probability 1 - (1 - 2^-lg)^z.
 */
static inline uint64_t
prng_geometric_bytes(uint64_t *state, unsigned lg)
{
	if (lg == 0)
		return 1;
	double u = (double)((prng_next(state) >> 11) + 1) * 0x1p-53; /* (0, 1] */
	double d = floor(log(u) / log1p(-ldexp(1.0, -(int)lg))) + 1.0;
	return d >= 0x1p62 ? (uint64_t)1 << 62 : (uint64_t)d;
}

#endif
