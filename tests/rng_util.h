/*
 * rng_util.h — the stress suites' randomness: a xorshift64* generator
 * (fixed seeds give the same run every time) and the size distribution
 * they draw from, skewed to small sizes.
 */
#ifndef STRATA_TESTS_RNG_UTIL_H
#define STRATA_TESTS_RNG_UTIL_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* A size in bucket (0..99) drawn with v: 60% 1..128 B, 25% ..4 KiB,
 * 10% ..64 KiB, 4% ..1 MiB, 1% ..4 MiB. */
static inline size_t
size_in_bucket(unsigned bucket, uint64_t v)
{
	const size_t kib = (size_t)1 << 10, mib = (size_t)1 << 20;
	if (bucket < 60)
		return 1 + v % 128;
	if (bucket < 85)
		return 129 + v % (4 * kib - 128);
	if (bucket < 95)
		return 4 * kib + 1 + v % (60 * kib);
	if (bucket < 99)
		return 64 * kib + 1 + v % (mib - 64 * kib);
	return mib + 1 + v % (3 * mib);
}

#endif
