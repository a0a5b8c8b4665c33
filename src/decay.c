/*
 * decay.c — the smootherstep decay curve.  See decay.h.
 *
 * Weights are fixed point with DECAY_FRAC_BITS fractional bits:
 * weight[i] = 1 - smootherstep((DECAY_NSTEPS - i - 1) / DECAY_NSTEPS) for
 * backlog slot i (slot DECAY_NSTEPS - 1 is the current epoch, weight 1),
 * smootherstep(x) = 6x^5 - 15x^4 + 10x^3.
 */
#include <string.h>

#include "decay.h"

#define DECAY_FRAC_BITS 24

static uint64_t decay_weight[DECAY_NSTEPS];

void
decay_boot(void)
{
	for (unsigned i = 0; i < DECAY_NSTEPS; i++) {
		double x = (double)(DECAY_NSTEPS - 1 - i) / DECAY_NSTEPS; /* age in decay_ms */
		double s = x * x * x * (x * (6 * x - 15) + 10);
		decay_weight[i] = (uint64_t)((1.0 - s) * (double)((uint64_t)1 << DECAY_FRAC_BITS));
	}
}

void
decay_init(decay_t *decay, ssize_t decay_ms, uint64_t now)
{
	memset(decay, 0, sizeof(*decay));
	decay->decay_ms = decay_ms;
	decay->epoch_ns = decay_ms > 0 ? (uint64_t)decay_ms * 1000000u / DECAY_NSTEPS : 0;
	if (decay->epoch_ns == 0)
		decay->epoch_ns = 1;
	decay->deadline = now + decay->epoch_ns;
	decay->npages_limit = decay_ms < 0 ? SIZE_MAX : 0;
}

static size_t
decay_limit(const decay_t *decay)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < DECAY_NSTEPS; i++)
		sum += (uint64_t)decay->backlog[i] * decay_weight[i];
	return (size_t)(sum >> DECAY_FRAC_BITS);
}

size_t
decay_update(decay_t *decay, uint64_t now, size_t npages, size_t nfresh)
{
	if (decay->decay_ms <= 0)
		return decay->decay_ms < 0 ? SIZE_MAX : 0;
	/* The fresh pages belong to the current epoch, whatever ends now. */
	size_t nolder = npages - nfresh;
	/* Dirty pages reused since the epoch began were old ones: no longer owed. */
	if (nolder < decay->nunpurged)
		decay->nunpurged = nolder;
	if (now >= decay->deadline) {
		uint64_t nadvance = (now - decay->deadline) / decay->epoch_ns + 1;
		decay->deadline += nadvance * decay->epoch_ns;
		size_t shift = nadvance >= DECAY_NSTEPS ? DECAY_NSTEPS : (size_t)nadvance;
		memmove(decay->backlog, decay->backlog + shift,
		        (DECAY_NSTEPS - shift) * sizeof(decay->backlog[0]));
		memset(decay->backlog + DECAY_NSTEPS - shift, 0, shift * sizeof(decay->backlog[0]));
		/* Pages dirtied since the last update were dirtied in the epoch of
		 * that update (the page allocator updates as it dirties them): the
		 * first of the epochs that just ended, or older than the curve. */
		if (shift < DECAY_NSTEPS)
			decay->backlog[DECAY_NSTEPS - shift] = nolder - decay->nunpurged;
		decay->nunpurged = nolder;
		decay->npages_limit = decay_limit(decay);
	}
	/* Pages dirtied in the current epoch are all kept (weight 1). */
	return decay->npages_limit + (npages - decay->nunpurged);
}

void
decay_purged(decay_t *decay, size_t npages_left)
{
	decay->nunpurged = npages_left;
}
