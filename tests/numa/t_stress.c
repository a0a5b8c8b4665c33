/*
 * t_stress.c — test "stress": the long stress's NUMA part
 * (tests/check_stress_long.c is the rest).  NTHREADS threads, started
 * half on each CPU, move between node 0's and node 1's CPU (pin_self:
 * sched_setaffinity) every phase while they allocate blocks of mixed sizes,
 * free their own and hand half of them to the next thread, which checks
 * and frees them: frees of the other node's memory by a thread that
 * itself keeps moving.  After the last move each thread allocates enough
 * to be rebound (numa_migrate:rebind, as tests/numa/t_migrate.c), then
 * expects its node, its arena's home node and the pages of a batch it keeps
 * to be those of the CPU it ended on.  With every thread gone: each
 * arena's home node is a node of the machine, the arenas' small and large
 * bytes sum to stats.allocated, and allocated is back to its value before
 * the run.  Every block carries a pattern checked before it is freed.
 */
#include "numa_check.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define PHASES 6
#define OPS_PER_PHASE 1500
#define LOCAL_SLOTS 64
#define REBIND_BYTES (4 * MiB)
#define KEEP_N 512

typedef struct hand {
	struct hand *next;
	size_t n;
} hand_t;

/* Per thread: a stack of blocks handed to it, under its lock. */
static struct {
	pthread_mutex_t mu;
	hand_t *head;
} inbox[NTHREADS];

static size_t
pick(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	unsigned r = (unsigned)(*s % 100);
	if (r < 70)
		return sizeof(hand_t) + 1 + *s / 100 % 256;
	if (r < 95)
		return 512 + *s / 100 % 8192;
	return 32 * KiB + *s / 100 % (192 * KiB);
}

static unsigned char
pattern(const void *p, size_t n)
{
	return (unsigned char)(((uintptr_t)p >> 4) * 31 + n);
}

/* A block: its first bytes are its hand_t (for handing it over), the rest
 * the pattern, checked at the first byte after them, the middle and the
 * end. */
static void *
block_new(size_t n)
{
	hand_t *h = xmalloc(n);
	memset(h + 1, pattern(h, n), n - sizeof(*h));
	h->n = n;
	return h;
}

static size_t
block_free(hand_t *h)
{
	const unsigned char *c = (const unsigned char *)h, want = pattern(h, h->n);
	size_t bad =
	    c[sizeof(*h)] != want || c[h->n / 2 + sizeof(*h) / 2] != want || c[h->n - 1] != want;
	free(h);
	return bad;
}

static size_t
inbox_drain(int t)
{
	pthread_mutex_lock(&inbox[t].mu);
	hand_t *h = inbox[t].head;
	inbox[t].head = NULL;
	pthread_mutex_unlock(&inbox[t].mu);
	size_t bad = 0;
	while (h != NULL) {
		hand_t *next = h->next;
		bad += block_free(h);
		h = next;
	}
	return bad;
}

static pthread_barrier_t all_done;

static unsigned
arena_node(unsigned arena)
{
	unsigned node = UINT_MAX;
	expect(ctl_read_ui("arena", arena, "numa_node", &node) == 0,
	       "arena.%u.numa_node does not answer", arena);
	return node;
}

static void *
stress_thread(void *arg)
{
	int self = (int)(intptr_t)arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(self + 1);
	hand_t *local[LOCAL_SLOTS] = {0};
	size_t bad = 0;
	int cpu = self % 2;
	for (int phase = 0; phase < PHASES; phase++) {
		cpu = 1 - cpu;
		pin_self(cpu);
		for (int op = 0; op < OPS_PER_PHASE; op++) {
			if (op % 16 == 0)
				bad += inbox_drain(self);
			hand_t *h = block_new(pick(&rng));
			if (rng % 2) {
				int to = (self + 1) % NTHREADS;
				pthread_mutex_lock(&inbox[to].mu);
				h->next = inbox[to].head;
				inbox[to].head = h;
				pthread_mutex_unlock(&inbox[to].mu);
				continue;
			}
			unsigned s = (unsigned)(rng >> 20) % LOCAL_SLOTS;
			if (local[s] != NULL)
				bad += block_free(local[s]);
			local[s] = h;
		}
	}
	for (int s = 0; s < LOCAL_SLOTS; s++)
		if (local[s] != NULL)
			bad += block_free(local[s]);
	pthread_barrier_wait(&all_done);
	bad += inbox_drain(self);
	expect(bad == 0, "thread %d: %zu blocks lost their pattern", self, bad);

	/* Rebound to the node it ended on, as a single move is. */
	for (size_t done = 0; done < REBIND_BYTES; done += 4 * KiB)
		free(block_new(4 * KiB));
	unsigned node = thread_node(), arena = UINT_MAX;
	expect(node == (unsigned)cpu, "thread %d ended on CPU %d with thread.numa_node %u", self,
	       cpu, node);
	expect(ctl_read_u("thread.arena", &arena) == 0 && arena_node(arena) == (unsigned)cpu,
	       "thread %d on CPU %d uses arena %u of node %u", self, cpu, arena, arena_node(arena));
	pageset_t kept;
	pageset_init(&kept, KEEP_N);
	void **keep = scratch(KEEP_N * sizeof(void *));
	for (int i = 0; i < KEEP_N; i++) {
		keep[i] = xmalloc(256);
		pageset_touch_add(&kept, keep[i], 256);
	}
	expect_on_node(&kept, (unsigned)cpu, "a moved thread's blocks");
	for (int i = 0; i < KEEP_N; i++)
		free(keep[i]);
	pageset_free(&kept);
	return NULL;
}

static size_t
read_size(const char *name)
{
	size_t v = 0, len = sizeof(v);
	int err = mallctl(name, &v, &len, NULL, 0);
	expect(err == 0, "%s: error %d", name, err);
	return v;
}

void
test_stress(void)
{
	expect(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0, "thread.tcache.flush");
	ctl_refresh_stats();
	size_t baseline = read_size("stats.allocated");
	pthread_barrier_init(&all_done, NULL, NTHREADS);
	pthread_t th[NTHREADS];
	for (int t = 0; t < NTHREADS; t++) {
		pthread_mutex_init(&inbox[t].mu, NULL);
		start_pinned(&th[t], t % 2, stress_thread, (void *)(intptr_t)t);
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&all_done);

	ctl_refresh_stats();
	unsigned narenas = 0;
	expect(ctl_read_u("arenas.narenas", &narenas) == 0, "arenas.narenas");
	size_t sum = 0;
	for (unsigned i = 0; i < narenas; i++) {
		char name[96];
		size_t small, len = sizeof(small);
		snprintf(name, sizeof(name), "stats.arenas.%u.small.allocated", i);
		if (mallctl(name, &small, &len, NULL, 0) != 0)
			continue; /* not created */
		snprintf(name, sizeof(name), "stats.arenas.%u.large.allocated", i);
		sum += small + read_size(name);
		unsigned node = arena_node(i);
		expect(node < LOC_NODES, "arena %u has home node %u", i, node);
	}
	size_t allocated = read_size("stats.allocated");
	expect(sum == allocated, "arenas sum to %zu bytes, stats.allocated is %zu", sum, allocated);
	expect(allocated <= baseline + 64 * KiB,
	       "stats.allocated %zu after freeing everything, %zu before", allocated, baseline);
	expect(read_size("stats.active") >= allocated, "stats.active below stats.allocated");
}
