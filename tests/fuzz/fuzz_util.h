/*
 * fuzz_util.h — what the libFuzzer harnesses (tests/fuzz/fuzz_*.c) share:
 * a reader that turns the input bytes into choices (past the end every
 * read gives 0, so any input is a valid program), the failure macro, and
 * the public names of the allocator under test.
 *
 * The harnesses link build/fuzz/libstrata_fuzz.a, whose exported names are
 * strata_test_* (src/public_names.h, included here before strata.h): in a
 * harness, malloc() and mallctl() are strata's, while libFuzzer, ASan and
 * libc keep their own malloc.
 *
 * A failed invariant prints what failed and calls abort(), which libFuzzer
 * records as a crash with the input that caused it.
 */
#ifndef STRATA_TESTS_FUZZ_UTIL_H
#define STRATA_TESTS_FUZZ_UTIL_H

#include "src/public_names.h"
#include <strata.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_REQUIRE(cond, ...)                                                            \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz invariant failed: %s (%s:%d): ", #cond,      \
			        __FILE__, __LINE__);                                       \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

typedef struct fuzz_input {
	const uint8_t *p;
	size_t left;
} fuzz_input_t;

static inline uint8_t
fuzz_u8(fuzz_input_t *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint16_t
fuzz_u16(fuzz_input_t *in)
{
	uint16_t lo = fuzz_u8(in);
	return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t
fuzz_u32(fuzz_input_t *in)
{
	uint32_t lo = fuzz_u16(in);
	return lo | (uint32_t)fuzz_u16(in) << 16;
}

static inline bool
fuzz_done(const fuzz_input_t *in)
{
	return in->left == 0;
}

#endif
