/*
 * decay.c — the smootherstep decay curve and the burst model.  See decay.h.
 *
 * Weights are fixed point with DECAY_FRAC_BITS fractional bits:
 * weight[i] = 1 - smootherstep((DECAY_NSTEPS - i - 1) / DECAY_NSTEPS) for
 * backlog slot i (slot DECAY_NSTEPS - 1 is the current epoch, weight 1),
 * smootherstep(x) = 6x^5 - 15x^4 + 10x^3.  The weights grow with the slot,
 * so what a backlog allows only falls as it ages.
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
	decay->weighted_valid = true;
}

/* Moves the epochs forward to now: the entries of epochs that ended shift
 * toward the old end, and those older than the curve are dropped. */
static void
decay_advance(decay_t *decay, uint64_t now)
{
	if (now < decay->deadline)
		return;
	uint64_t nadvance = (now - decay->deadline) / decay->epoch_ns + 1;
	decay->deadline += nadvance * decay->epoch_ns;
	size_t shift = nadvance >= DECAY_NSTEPS ? DECAY_NSTEPS : (size_t)nadvance;
	memmove(decay->backlog, decay->backlog + shift,
	        (DECAY_NSTEPS - shift) * sizeof(decay->backlog[0]));
	memset(decay->backlog + DECAY_NSTEPS - shift, 0, shift * sizeof(decay->backlog[0]));
	decay->weighted_valid = false;
}

void
decay_record(decay_t *decay, uint64_t now, size_t npages)
{
	if (decay->decay_ms <= 0)
		return;
	decay_advance(decay, now);
	decay->backlog[DECAY_NSTEPS - 1] += npages;
	decay->weighted += (uint64_t)npages * decay_weight[DECAY_NSTEPS - 1];
	decay->nleft += npages;
}

void
decay_purged(decay_t *decay, size_t npages)
{
	decay->nleft = npages < decay->nleft ? decay->nleft - npages : 0;
}

/* Takes n reused pages off the newest entries. */
static void
decay_unrecord(decay_t *decay, size_t n)
{
	for (unsigned i = DECAY_NSTEPS; n != 0 && i-- > 0;) {
		size_t take = n < decay->backlog[i] ? n : decay->backlog[i];
		decay->backlog[i] -= take;
		decay->weighted -= (uint64_t)take * decay_weight[i];
		n -= take;
	}
}

/* The weighted backlog (fixed point) once it is `later` epochs older. */
static uint64_t
decay_weighted_after(const decay_t *decay, unsigned later)
{
	uint64_t sum = 0;
	for (unsigned i = later; i < DECAY_NSTEPS; i++)
		sum += (uint64_t)decay->backlog[i] * decay_weight[i - later];
	return sum;
}

/* What the backlog allows once it is `later` epochs older. */
static size_t
decay_allowed_after(const decay_t *decay, unsigned later)
{
	return (size_t)(decay_weighted_after(decay, later) >> DECAY_FRAC_BITS);
}

size_t
decay_allowed(decay_t *decay, uint64_t now, size_t npages)
{
	if (decay->decay_ms <= 0)
		return decay->decay_ms < 0 ? SIZE_MAX : 0;
	decay_advance(decay, now);
	if (npages < decay->nleft)
		decay_unrecord(decay, decay->nleft - npages);
	/* More pages than recorded: the rest count as older than the curve. */
	decay->nleft = npages;
	if (!decay->weighted_valid) {
		decay->weighted = decay_weighted_after(decay, 0);
		decay->weighted_valid = true;
	}
	size_t allowed = (size_t)(decay->weighted >> DECAY_FRAC_BITS);
	return allowed < npages ? allowed : npages;
}

uint64_t
decay_next_purge(const decay_t *decay, size_t allowed, size_t min_pages)
{
	if (decay->decay_ms <= 0 || allowed == 0)
		return UINT64_MAX;
	size_t want = min_pages < allowed ? min_pages : allowed;
	/* Find the fewest epochs after which `want` pages fewer are allowed;
	 * after DECAY_NSTEPS of them nothing is. */
	unsigned lo = 1, hi = DECAY_NSTEPS;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		size_t later = decay_allowed_after(decay, mid);
		if (later > allowed || allowed - later < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return decay->deadline + (uint64_t)(lo - 1) * decay->epoch_ns;
}

void
decay_forget(decay_t *decay)
{
	memset(decay->backlog, 0, sizeof(decay->backlog));
	decay->weighted = 0;
	decay->weighted_valid = true;
}

void
burst_init(burst_t *burst)
{
	memset(burst, 0, sizeof(*burst));
}

/* Activity at now, with `active` pages active before it: when it ends a
 * quiet time, the burst before that time is history (if it was one) and a
 * new one begins here. */
static void
burst_activity(burst_t *burst, uint64_t now, size_t active)
{
	if (burst->last_active != 0 && now - burst->last_active < BURST_QUIET_NS)
		return;
	size_t demand = burst->peak_active - burst->base_active;
	if (burst->last_active != 0 && demand >= BURST_MIN_PAGES) {
		burst->gaps[burst->next] = now - burst->last_active;
		burst->demands[burst->next] = demand;
		burst->next = (burst->next + 1) % BURST_NHIST;
		if (burst->nhist < BURST_NHIST)
			burst->nhist++;
	}
	burst->base_active = burst->peak_active = active;
}

void
burst_take(burst_t *burst, uint64_t now, size_t active_before, size_t active_after)
{
	burst_activity(burst, now, active_before);
	if (active_after > burst->peak_active)
		burst->peak_active = active_after;
	if (active_before < burst->base_active)
		burst->base_active = active_before;
	burst->last_active = now;
}

void
burst_return(burst_t *burst, uint64_t now, size_t active_before)
{
	burst_activity(burst, now, active_before);
	burst->last_active = now;
}

/* The third quartile of the recorded gaps: a typical gap, but long enough
 * that the occasional longer one among short ones still finds its pages
 * (bench/bursty: the median made a quarter more page faults at the same
 * RSS-time; the seventh octile held memory through long gaps). */
static uint64_t
burst_gap_q3(const burst_t *burst)
{
	uint64_t sorted[BURST_NHIST];
	unsigned n = burst->nhist;
	memcpy(sorted, burst->gaps, n * sizeof(sorted[0]));
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			uint64_t t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	return sorted[(3 * n - 1) / 4];
}

burst_advice_t
burst_advise(const burst_t *burst, uint64_t now, ssize_t decay_ms, size_t *keep_pages,
             uint64_t *until)
{
	if (until != NULL)
		*until = UINT64_MAX;
	if (decay_ms <= 0 || burst->nhist < BURST_MIN_HISTORY)
		return BURST_NO_ADVICE;
	if (now - burst->last_active < BURST_QUIET_NS) {
		/* Busy: the advice changes when the quiet time is over. */
		if (until != NULL)
			*until = burst->last_active + BURST_QUIET_NS;
		return BURST_NO_ADVICE;
	}
	uint64_t horizon = 2 * burst_gap_q3(burst);
	uint64_t horizon_max = (uint64_t)decay_ms * 1000000u;
	if (horizon > horizon_max)
		horizon = horizon_max;
	if (now - burst->last_active > horizon)
		return BURST_OVERDUE;
	size_t keep = 0;
	for (unsigned i = 0; i < burst->nhist; i++)
		if (burst->demands[i] > keep)
			keep = burst->demands[i];
	*keep_pages = keep;
	if (until != NULL)
		*until = burst->last_active + horizon + 1;
	return BURST_EXPECTED;
}
