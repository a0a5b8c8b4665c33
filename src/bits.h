/*
 * bits.h — bit tricks: find-first-set, log2, population count, power-of-two
 * tests.  L0.
 */
#ifndef STRATA_BITS_H
#define STRATA_BITS_H

#include "config.h"

/* Index of the lowest set bit; x must be non-zero. */
static inline unsigned
bits_ctz(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

/* floor(log2(x)); x must be non-zero. */
static inline unsigned
bits_lg_floor(uint64_t x)
{
	return 63u - (unsigned)__builtin_clzll(x);
}

/* ceil(log2(x)); x must be non-zero. */
static inline unsigned
bits_lg_ceil(uint64_t x)
{
	return x <= 1 ? 0 : bits_lg_floor(x - 1) + 1;
}

/* Number of set bits. */
static inline unsigned
bits_popcount(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

static inline bool
bits_is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

#endif
