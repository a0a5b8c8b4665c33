/*
 * check_stress_long.c — libstrata.so under a long, mixed load: 16 worker
 * slots on however many CPUs there are, each running several generations
 * of threads (a thread that ends is joined and replaced, so thread-state
 * and cache teardown race with the others), every allocation function
 * (malloc, calloc, realloc, free, aligned_alloc, posix_memalign, mallocx,
 * rallocx, xallocx, dallocx, sdallocx, sallocx, nallocx,
 * malloc_usable_size), explicit caches (tcache.create/flush/destroy with
 * MALLOCX_TCACHE), manual arenas (arenas.create, MALLOCX_ARENA,
 * arena.<i>.reset and .destroy once none of their blocks is live),
 * cross-thread frees through per-slot queues, thread.tcache.flush,
 * arena.<i>.purge and .decay for one arena and purge for
 * MALLCTL_ARENAS_ALL, epoch and stats reads; beside them a forker thread
 * whose children allocate and free in several threads and in a manual
 * arena, some dump a profile, and report through their exit status; and a
 * dumper thread that calls prof.dump, sends the dump signal and runs
 * malloc_stats_print.
 *
 * Every block carries a pattern derived from its address and size, checked
 * before it is freed or resized; every allocation's usable size is checked
 * against the request, sallocx and nallocx, and its alignment.  At the end,
 * with blocks still live and again once all are freed: the stats identities
 * of tests/check_api_stats.c, the large classes summing to large.allocated,
 * nmalloc >= ndalloc per arena and per bin; allocated back near its starting
 * value; and a read of every readable mallctl name of man/strata.3 for every
 * arena index (and MALLCTL_ARENAS_ALL and _DESTROYED), bin and large class.
 *
 * The load runs in this program executed again (options are read before
 * main) with prof:true, a small sample interval, prof_signal:USR2 and dumps
 * into a temporary folder; that process reports through its exit status and
 * one line of totals on standard output (the "stress operations" count).
 * The test then checks every dump is a complete gzip file and no other
 * file (a dump's temporary) is left.  Fixed seeds, a fixed number of
 * operations (fewer in the debug build, which config.debug reveals, and
 * under ThreadSanitizer), no sleeps: every wait is on a condition or a
 * pipe, with a bound.  A second test is the regression case of a bug the
 * load found (a dump request pending at fork, served by the child).
 */
#include <strata.h>

#include "api_util.h"

#include <check.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "man_util.h"
#include "rng_util.h"

#define MODE_ENV "STRATA_TEST_STRESS_LONG"
#define NSLOTS 16
#define GENERATIONS 4
#define LOCAL_SLOTS 128
#define ARENA_SLOTS 32
#define NFORKS 24
#define NDUMPS 12
#define FORK_CHILD_OPS 3000
#define FORK_CHILD_THREADS 2
#define FORK_WAIT_MS 30000
#define RUN_WAIT_S 600
#define SUPERVISE_WAIT_S 300
/* What may stay allocated after the run: libc's own blocks (a cached thread
 * stack's TLS vector), each a 16 KiB large extent when it was sampled (as
 * in jemalloc, a sampled small object takes the smallest large class). */
#define BASELINE_SLACK (256 * KiB)

/* Operations per worker thread: fewer in the debug build (assertions) and
 * under ThreadSanitizer, whose fork children also start no thread and
 * where workers read no stats while others run (see worker_control). */
#define OPS_PER_GEN 20000
#define OPS_DEBUG_DIVISOR 4
#ifdef STRATA_TSAN
#define OPS_DIVISOR 20
#define FORK_CHILD_TOTAL FORK_CHILD_OPS
#define STATS_WHILE_RUNNING false
#else
#define OPS_DIVISOR 1
#define FORK_CHILD_TOTAL (FORK_CHILD_OPS * 2 + FORK_CHILD_THREADS * 64)
#define STATS_WHILE_RUNNING true
#endif

/* ------------------------------------------------------------ randomness */

/* 1 in 400 is 0; then size_in_bucket's distribution (rng_util.h). */
static size_t
pick_size(uint64_t r)
{
	unsigned bucket = (unsigned)(r % 400);
	if (bucket == 0)
		return 0;
	return size_in_bucket(bucket / 4, r >> 12);
}

/* ------------------------------------------------------------ problems */

/* The load's failures: counted, the first few printed (stdout is the
 * Check test's pipe). */
static atomic_long problems;

static void
problem(const char *fmt, ...)
{
	if (atomic_fetch_add(&problems, 1) >= 20)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("problem: %s\n", line);
	fflush(stdout);
}

/* ------------------------------------------------------------ the pattern */

static uint64_t
block_seed(const void *p, size_t n)
{
	return ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)n << 17) ^ n;
}

enum pat { PAT_WRITE, PAT_CHECK, PAT_ZERO };

/* Bytes [from, to) of the pattern seeded seed: written, checked, or checked
 * to be zero.  Returns 1 on a mismatch. */
static int
pattern_span(unsigned char *p, size_t from, size_t to, uint64_t seed, enum pat mode)
{
	for (size_t i = from; i < to;) {
		uint64_t x = seed + (i / 8) * 0xd6e8feb86659fd93ull;
		uint64_t w = mode == PAT_ZERO ? 0 : x ^ (x >> 29);
		size_t end = (i / 8 + 1) * 8 < to ? (i / 8 + 1) * 8 : to;
		for (; i < end; i++) {
			unsigned char b = (unsigned char)(w >> ((i % 8) * 8));
			if (mode == PAT_WRITE)
				p[i] = b;
			else if (p[i] != b)
				return 1;
		}
	}
	return 0;
}

/* Small blocks whole; big ones by their first and last 4 KiB and 8 bytes of
 * every 4 KiB between, so every page is touched.  Only bytes below limit. */
static int
pattern_block(void *vp, size_t n, uint64_t seed, size_t limit, enum pat mode)
{
	unsigned char *p = vp;
#define SPAN(a, b) ((a) < limit ? pattern_span(p, (a), (b) < limit ? (b) : limit, seed, mode) : 0)
	if (n <= 16 * KiB)
		return SPAN(0, n);
	int bad = SPAN(0, 4 * KiB);
	for (size_t off = 4 * KiB; off + 8 <= n - 4 * KiB; off += 4 * KiB)
		bad |= SPAN(off, off + 8);
	bad |= SPAN(n - 4 * KiB, n);
	return bad;
#undef SPAN
}

static void
block_write(void *p, size_t n)
{
	pattern_block(p, n, block_seed(p, n), n, PAT_WRITE);
}

/* ------------------------------------------------------------ counters */

static atomic_long n_alloc, n_free, n_resize, n_ctl, n_checked, n_threads, n_forks, n_fork_ops,
    n_dumps, n_signals, n_walk_reads, n_handed, n_received;
static atomic_long ops_done; /* worker operations so far: paces the helpers */
static long ops_per_gen;     /* set before any thread starts */

/* A live block: its address, logical size and the flags it was allocated
 * with (the alignment bits and MALLOCX_ZERO; no cache or arena). */
typedef struct blk {
	void *p;
	size_t n;
	int flags;
} blk_t;

static void
block_check(const blk_t *b, const char *what)
{
	atomic_fetch_add_explicit(&n_checked, 1, memory_order_relaxed);
	if (pattern_block(b->p, b->n, block_seed(b->p, b->n), b->n, PAT_CHECK))
		problem("%s: block %p of %zu bytes lost its pattern", what, b->p, b->n);
}

/* The checks every fresh block passes: usable size, sallocx, nallocx,
 * alignment, zeroing. */
static void
block_fresh(void *p, size_t n, size_t align, bool zeroed, const char *what)
{
	size_t usable = malloc_usable_size(p);
	if (usable < n)
		problem("%s(%zu): usable size %zu", what, n, usable);
	if (sallocx(p, 0) != usable)
		problem("%s(%zu): sallocx %zu, malloc_usable_size %zu", what, n, sallocx(p, 0),
			usable);
	int aflags = align != 0 ? MALLOCX_ALIGN(align) : 0;
	if (n != 0 && nallocx(n, aflags) != usable)
		problem("%s(%zu, align %zu): nallocx %zu, usable %zu", what, n, align,
			nallocx(n, aflags), usable);
	size_t need = align != 0 ? align : n >= 16 ? 16 : 1;
	if (!is_aligned(p, need))
		problem("%s(%zu): %p not aligned to %zu", what, n, p, need);
	if (zeroed && pattern_block(p, n, 0, n, PAT_ZERO))
		problem("%s(%zu): not zeroed", what, n);
	atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
}

/* Frees b one of three ways; tc is this thread's explicit cache or -1. */
static void
block_free(const blk_t *b, uint64_t r, int tc)
{
	int fl = b->flags & ~MALLOCX_ZERO;
	if (tc >= 0 && (r & 8))
		fl |= MALLOCX_TCACHE(tc);
	switch (r % 3) {
	case 0:
		/* Sized only when the size names the block's class. */
		if (b->n != 0 && nallocx(b->n, b->flags & ~MALLOCX_ZERO) == sallocx(b->p, 0)) {
			sdallocx(b->p, b->n, fl);
			break;
		}
		/* fall through */
	case 1:
		dallocx(b->p, fl);
		break;
	default:
		free(b->p);
		break;
	}
	atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------ queues */

struct qnode {
	struct qnode *next;
	blk_t b;
};

static struct {
	pthread_mutex_t mu;
	struct qnode *head;
} queues[NSLOTS];

static void
queue_push(int slot, const blk_t *b)
{
	struct qnode *e = malloc(sizeof(*e));
	if (e == NULL) {
		problem("queue node: malloc failed");
		return;
	}
	e->b = *b;
	pthread_mutex_lock(&queues[slot].mu);
	e->next = queues[slot].head;
	queues[slot].head = e;
	pthread_mutex_unlock(&queues[slot].mu);
	atomic_fetch_add_explicit(&n_handed, 1, memory_order_relaxed);
}

/* Checks and frees everything in slot's queue; how each block is freed
 * depends on its address, so that the drainer's own sequence does not
 * depend on what the others handed it. */
static void
queue_drain(int slot, int tc)
{
	pthread_mutex_lock(&queues[slot].mu);
	struct qnode *list = queues[slot].head;
	queues[slot].head = NULL;
	pthread_mutex_unlock(&queues[slot].mu);
	while (list != NULL) {
		struct qnode *next = list->next;
		block_check(&list->b, "handed-off");
		block_free(&list->b, block_seed(list->b.p, list->b.n) >> 7, tc);
		free(list);
		atomic_fetch_add_explicit(&n_received, 1, memory_order_relaxed);
		list = next;
	}
}

/* ------------------------------------------------------------ mallctl */

static int
ctl_void(const char *name)
{
	atomic_fetch_add_explicit(&n_ctl, 1, memory_order_relaxed);
	return mallctl(name, NULL, NULL, NULL, 0);
}

static int
ctl_arena_void(const char *fmt, unsigned ind)
{
	char name[64];
	snprintf(name, sizeof(name), fmt, ind);
	return ctl_void(name);
}

static int
ctl_read(const char *name, void *v, size_t size)
{
	atomic_fetch_add_explicit(&n_ctl, 1, memory_order_relaxed);
	size_t len = size;
	int err = mallctl(name, v, &len, NULL, 0);
	if (err == 0 && len != size)
		problem("%s: length %zu, expected %zu", name, len, size);
	return err;
}

static size_t
stat_size(const char *fmt, unsigned i, unsigned j)
{
	char name[128];
	snprintf(name, sizeof(name), fmt, i, j);
	size_t v = 0;
	int err = ctl_read(name, &v, sizeof(v));
	if (err != 0)
		problem("%s: error %d", name, err);
	return v;
}

static uint64_t
stat_u64(const char *fmt, unsigned i, unsigned j)
{
	char name[128];
	snprintf(name, sizeof(name), fmt, i, j);
	uint64_t v = 0;
	int err = ctl_read(name, &v, sizeof(v));
	if (err != 0)
		problem("%s: error %d", name, err);
	return v;
}

static void
epoch_advance(void)
{
	uint64_t e = 1;
	atomic_fetch_add_explicit(&n_ctl, 1, memory_order_relaxed);
	if (mallctl("epoch", NULL, NULL, &e, sizeof(e)) != 0)
		problem("epoch: write failed");
}

/* opt.tcache: without thread caches, thread.tcache.flush is EFAULT
 * (jemalloc's answer). */
static bool tcache_on;
/* opt.prof: the dumper thread runs, and some fork children dump; with
 * opt.prof_signal USR2 it also sends the signal. */
static bool prof_on, signal_on;
/* opt.narenas: the automatic arenas, which thread.arena may choose unless
 * opt.percpu_arena is on. */
static unsigned narenas_auto;
static bool percpu;

static void
tcache_flush_own(void)
{
	if (ctl_void("thread.tcache.flush") != 0 && tcache_on)
		problem("thread.tcache.flush failed");
}

static unsigned
narenas_read(void)
{
	unsigned n = 0;
	if (ctl_read("arenas.narenas", &n, sizeof(n)) != 0)
		problem("arenas.narenas unreadable");
	return n;
}

/* Reads the totals while others allocate: every read must succeed. */
static void
stats_read_some(void)
{
	epoch_advance();
	static const char *const names[] = {"stats.allocated", "stats.active",	 "stats.resident",
					    "stats.mapped",    "stats.metadata", "stats.retained"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		(void)stat_size(names[i], 0, 0);
	(void)stat_u64("stats.arenas.%u.small.nmalloc", MALLCTL_ARENAS_ALL, 0);
}

/* ------------------------------------------------------------ workers */

typedef struct worker {
	int slot;
	uint64_t rng;
	int tc;		/* explicit cache */
	unsigned arena; /* manual arena */
	blk_t local[LOCAL_SLOTS];
	blk_t in_arena[ARENA_SLOTS]; /* blocks of the manual arena */
	unsigned n_in_arena;
} worker_t;

static unsigned
arena_create(void)
{
	unsigned ind = 0;
	if (ctl_read("arenas.create", &ind, sizeof(ind)) != 0)
		problem("arenas.create failed");
	return ind;
}

static int
tcache_create(void)
{
	unsigned tc = 0;
	if (ctl_read("tcache.create", &tc, sizeof(tc)) != 0) {
		problem("tcache.create failed");
		return -1;
	}
	return (int)tc;
}

static void
tcache_ctl(const char *name, int tc)
{
	unsigned v = (unsigned)tc;
	atomic_fetch_add_explicit(&n_ctl, 1, memory_order_relaxed);
	if (mallctl(name, NULL, NULL, &v, sizeof(v)) != 0)
		problem("%s(%d) failed", name, tc);
}

/* Frees every block of the manual arena, then resets it or destroys it and
 * creates another. */
static void
arena_cycle(worker_t *w, bool destroy)
{
	for (unsigned i = 0; i < w->n_in_arena; i++) {
		block_check(&w->in_arena[i], "manual arena");
		dallocx(w->in_arena[i].p, w->in_arena[i].flags | MALLOCX_TCACHE_NONE);
		atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
	}
	w->n_in_arena = 0;
	if (!destroy) {
		if (ctl_arena_void("arena.%u.reset", w->arena) != 0)
			problem("arena.%u.reset failed", w->arena);
		return;
	}
	if (ctl_arena_void("arena.%u.destroy", w->arena) != 0)
		problem("arena.%u.destroy failed", w->arena);
	w->arena = arena_create();
}

/* Allocates one block (by the function r picks) into *b; false if it went
 * into the manual arena or failed. */
static bool
worker_alloc(worker_t *w, uint64_t r, blk_t *b)
{
	size_t n = pick_size(rng_next(&w->rng));
	size_t align = (size_t)16 << ((r >> 40) % 9); /* 16 B .. 4 KiB */
	if ((r >> 50) % 64 == 0)
		align = (size_t)8192 << ((r >> 44) % 8); /* .. 1 MiB */
	void *p = NULL;
	int flags = 0;
	bool zero = false;
	const char *what;
	switch ((r >> 8) % 12) {
	case 0:
		what = "calloc";
		p = calloc(1 + (r >> 20) % 4, n / 4 + 1);
		n = (1 + (r >> 20) % 4) * (n / 4 + 1);
		zero = true;
		align = 0;
		break;
	case 1:
		what = "aligned_alloc";
		n = n == 0 ? align : n;
		p = aligned_alloc(align, n);
		flags = MALLOCX_ALIGN(align);
		break;
	case 2:
		what = "posix_memalign";
		n = n == 0 ? 1 : n;
		if (posix_memalign(&p, align, n) != 0)
			p = NULL;
		flags = MALLOCX_ALIGN(align);
		break;
	case 3:
	case 4: {
		what = "mallocx";
		n = n == 0 ? 1 : n;
		flags = (r & 1) ? MALLOCX_ALIGN(align) : 0;
		flags |= (r & 2) ? MALLOCX_ZERO : 0;
		zero = (r & 2) != 0;
		int cache = (r >> 16) % 3 == 0		       ? MALLOCX_TCACHE_NONE
			    : (r >> 16) % 3 == 1 && w->tc >= 0 ? MALLOCX_TCACHE(w->tc)
							       : 0;
		p = mallocx(n, flags | cache);
		align = (r & 1) ? align : 0;
		break;
	}
	case 5:
		if (w->n_in_arena < ARENA_SLOTS) {
			n = n == 0 ? 1 : n;
			p = mallocx(n, MALLOCX_ARENA(w->arena) | MALLOCX_TCACHE_NONE);
			if (p == NULL) {
				problem("mallocx(%zu) in arena %u failed", n, w->arena);
				return false;
			}
			block_fresh(p, n, 0, false, "mallocx arena");
			block_write(p, n);
			w->in_arena[w->n_in_arena++] = (blk_t){p, n, 0};
			return false;
		}
		/* fall through */
	default:
		what = "malloc";
		p = malloc(n);
		align = 0;
		break;
	}
	if (p == NULL) {
		problem("%s(%zu, align %zu) failed", what, n, align);
		return false;
	}
	block_fresh(p, n, align, zero, what);
	block_write(p, n);
	*b = (blk_t){p, n, flags & ~MALLOCX_ZERO};
	return true;
}

/* Resizes a live block by realloc, rallocx or xallocx (or frees it with
 * realloc(p, 0)); the prefix keeps the old pattern. */
static void
worker_resize(worker_t *w, blk_t *b, uint64_t r)
{
	block_check(b, "before resize");
	size_t nn = pick_size(rng_next(&w->rng));
	nn = nn == 0 && (r >> 8) % 3 != 0 ? 1 : nn;
	uint64_t old_seed = block_seed(b->p, b->n);
	size_t old_n = b->n;
	void *q;
	size_t n_after = nn;
	atomic_fetch_add_explicit(&n_resize, 1, memory_order_relaxed);
	switch ((r >> 8) % 3) {
	case 0:
		q = realloc(b->p, nn);
		if (nn == 0) {
			/* zero_realloc:free */
			if (q != NULL)
				problem("realloc(p, 0) returned %p", q);
			b->p = NULL;
			return;
		}
		if (q == NULL) {
			problem("realloc(%zu -> %zu) failed", old_n, nn);
			free(b->p);
			b->p = NULL;
			return;
		}
		b->flags = 0;
		break;
	case 1:
		q = rallocx(b->p, nn, b->flags);
		if (q == NULL) {
			problem("rallocx(%zu -> %zu) failed", old_n, nn);
			dallocx(b->p, b->flags);
			b->p = NULL;
			return;
		}
		break;
	default: {
		size_t extra = (r >> 20) % 2 ? nn / 4 : 0;
		size_t got = xallocx(b->p, nn, extra, b->flags);
		q = b->p;
		if (got != sallocx(q, 0))
			problem("xallocx returned %zu, sallocx %zu", got, sallocx(q, 0));
		n_after = got >= nn ? nn : old_n;
		break;
	}
	}
	size_t keep = old_n < n_after ? old_n : n_after;
	atomic_fetch_add_explicit(&n_checked, 1, memory_order_relaxed);
	if (pattern_block(q, old_n, old_seed, keep, PAT_CHECK))
		problem("resize %zu -> %zu lost the prefix", old_n, n_after);
	if (malloc_usable_size(q) < n_after)
		problem("resize to %zu: usable size %zu", n_after, malloc_usable_size(q));
	if (q != b->p || (r >> 8) % 3 != 2) {
		if (nallocx(n_after, b->flags) != malloc_usable_size(q))
			problem("resize to %zu (flags %#x): usable size %zu, nallocx %zu", n_after,
				b->flags, malloc_usable_size(q), nallocx(n_after, b->flags));
	}
	if (b->flags != 0 && !is_aligned(q, (size_t)1 << (b->flags & 0x3f)))
		problem("resize lost the alignment");
	b->p = q;
	b->n = n_after;
	block_write(q, n_after);
}

/* An occasional control operation. */
static void
worker_control(worker_t *w, uint64_t r)
{
	switch ((r >> 8) % 10) {
	case 0:
		tcache_flush_own();
		break;
	case 1: {
		unsigned n = narenas_read();
		unsigned ind = (unsigned)((r >> 16) % (n != 0 ? n : 1));
		/* A manual arena may be destroyed meanwhile: EFAULT or ENOENT is fine. */
		(void)ctl_arena_void("arena.%u.purge", ind);
		break;
	}
	case 2:
		if ((r >> 16) % 4 == 0 && ctl_arena_void("arena.%u.purge", MALLCTL_ARENAS_ALL) != 0)
			problem("arena.<ALL>.purge failed");
		break;
	case 3:
		if (w->tc >= 0)
			tcache_ctl("tcache.flush", w->tc);
		break;
	case 4:
		/* Under ThreadSanitizer a stats read races with every
		 * other thread's cache (tests/tsan.supp, tcache_bytes_of_arena),
		 * and with 16 threads the report's other stack is often lost,
		 * so the suppression does not match: no reads while others run. */
		if (STATS_WHILE_RUNNING)
			stats_read_some();
		break;
	case 5:
		arena_cycle(w, (r >> 16) & 1);
		break;
	case 6:
		if (ctl_arena_void("arena.%u.decay", w->arena) != 0)
			problem("arena.%u.decay failed", w->arena);
		break;
	case 7: {
		/* Move to another automatic arena (never a manual one: a
		 * bound arena cannot be destroyed).  Under percpu_arena the
		 * CPU chooses: EPERM, as in jemalloc. */
		unsigned ind = (unsigned)((r >> 16) % narenas_auto);
		atomic_fetch_add_explicit(&n_ctl, 1, memory_order_relaxed);
		int err = mallctl("thread.arena", NULL, NULL, &ind, sizeof(ind));
		if (err != 0 && !(err == EPERM && percpu))
			problem("thread.arena = %u failed: %d", ind, err);
		break;
	}
	case 8: {
		/* The cache off and on again: torn down and rebuilt mid-thread. */
		bool off = false, on = true;
		atomic_fetch_add_explicit(&n_ctl, 2, memory_order_relaxed);
		if (tcache_on &&
		    (mallctl("thread.tcache.enabled", NULL, NULL, &off, sizeof(off)) != 0 ||
		     mallctl("thread.tcache.enabled", NULL, NULL, &on, sizeof(on)) != 0))
			problem("thread.tcache.enabled failed");
		break;
	}
	default: {
		ssize_t ms = (r >> 16) % 2 ? 0 : -1;
		char name[64];
		snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", w->arena);
		atomic_fetch_add_explicit(&n_ctl, 1, memory_order_relaxed);
		if (mallctl(name, NULL, NULL, &ms, sizeof(ms)) != 0)
			problem("%s = %zd failed", name, ms);
		break;
	}
	}
}

static void *
worker_main(void *arg)
{
	worker_t *w = arg;
	w->tc = tcache_create();
	w->arena = arena_create();
	for (long op = 0; op < ops_per_gen; op++) {
		if (op % 16 == 0)
			queue_drain(w->slot, w->tc);
		uint64_t r = rng_next(&w->rng);
		blk_t *slot = &w->local[(r >> 24) % LOCAL_SLOTS];
		unsigned kind = (unsigned)(r % 100);
		if (kind < 60) {
			blk_t b;
			if (worker_alloc(w, rng_next(&w->rng), &b)) {
				if ((r >> 32) % 3 == 0) {
					int to = (w->slot + 1 + (int)((r >> 36) % (NSLOTS - 1))) %
						 NSLOTS;
					queue_push(to, &b);
				} else {
					if (slot->p != NULL) {
						block_check(slot, "local");
						block_free(slot, r >> 40, w->tc);
					}
					*slot = b;
				}
			}
		} else if (kind < 80) {
			if (slot->p != NULL)
				worker_resize(w, slot, rng_next(&w->rng));
		} else if (kind < 98) {
			if (slot->p != NULL) {
				block_check(slot, "local");
				block_free(slot, r >> 40, w->tc);
				slot->p = NULL;
			}
		} else {
			worker_control(w, rng_next(&w->rng));
		}
		atomic_fetch_add_explicit(&ops_done, 1, memory_order_relaxed);
	}
	for (int i = 0; i < LOCAL_SLOTS; i++) {
		if (w->local[i].p != NULL) {
			block_check(&w->local[i], "local at exit");
			block_free(&w->local[i], rng_next(&w->rng), w->tc);
			w->local[i].p = NULL;
		}
	}
	queue_drain(w->slot, w->tc);
	arena_cycle(w, true);
	if (ctl_arena_void("arena.%u.destroy", w->arena) != 0)
		problem("arena.%u.destroy at exit failed", w->arena);
	if (w->tc >= 0)
		tcache_ctl("tcache.destroy", w->tc);
	return NULL;
}

/* ------------------------------------------------------------ churn */

/* A little allocation work, for the helpers between their events and for
 * the fork children; returns 1 on a pattern mismatch. */
static int
churn(uint64_t *rng, int rounds)
{
	void *held[32] = {0};
	size_t sizes[32] = {0};
	int bad = 0;
	for (int i = 0; i < rounds; i++) {
		uint64_t r = rng_next(rng);
		unsigned s = (unsigned)(r % 32);
		if (held[s] != NULL) {
			bad |= pattern_block(held[s], sizes[s], block_seed(held[s], sizes[s]),
					     sizes[s], PAT_CHECK);
			free(held[s]);
		}
		sizes[s] = pick_size(r >> 8);
		held[s] = malloc(sizes[s]);
		if (held[s] == NULL)
			return 1;
		block_write(held[s], sizes[s]);
	}
	for (unsigned s = 0; s < 32; s++) {
		if (held[s] != NULL)
			bad |= pattern_block(held[s], sizes[s], block_seed(held[s], sizes[s]),
					     sizes[s], PAT_CHECK);
		free(held[s]);
	}
	return bad;
}

/* Waits until the workers have done `target` operations, churning. */
static void
pace(uint64_t *rng, long target)
{
	while (atomic_load(&ops_done) < target)
		churn(rng, 64);
}

/* ------------------------------------------------------------ fork */

#ifndef STRATA_TSAN
static void *
fork_child_thread(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	/* Half its blocks are freed by the child's main thread. */
	void **out = malloc(64 * sizeof(void *));
	if (out == NULL || churn(&rng, FORK_CHILD_OPS / 2))
		return NULL;
	for (int i = 0; i < 64; i++)
		out[i] = malloc(pick_size(rng_next(&rng)) + 1);
	return out;
}
#endif

/* The forked child: allocates and frees in its main thread and in threads
 * of its own, in a manual arena it then destroys, dumps a profile when
 * dump is set, then exits with 0 or the failure's number. */
static void
fork_child(uint64_t seed, bool dump)
{
	uint64_t rng = seed;
	if (churn(&rng, FORK_CHILD_OPS))
		_exit(2);
#ifndef STRATA_TSAN
	pthread_t t[FORK_CHILD_THREADS];
	for (int i = 0; i < FORK_CHILD_THREADS; i++)
		if (pthread_create(&t[i], NULL, fork_child_thread, (void *)(uintptr_t)(seed + i)) !=
		    0)
			_exit(3);
	for (int i = 0; i < FORK_CHILD_THREADS; i++) {
		void **out;
		if (pthread_join(t[i], (void **)&out) != 0 || out == NULL)
			_exit(4);
		for (int k = 0; k < 64; k++)
			free(out[k]);
		free(out);
	}
#endif
	if ((ctl_void("thread.tcache.flush") != 0 && tcache_on) ||
	    ctl_arena_void("arena.%u.purge", MALLCTL_ARENAS_ALL) != 0)
		_exit(5);
	unsigned arena = 0;
	size_t len = sizeof(arena);
	if (mallctl("arenas.create", &arena, &len, NULL, 0) != 0)
		_exit(6);
	void *held[64];
	for (int i = 0; i < 64; i++) {
		held[i] = mallocx(pick_size(rng_next(&rng)) + 1,
				  MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE);
		if (held[i] == NULL)
			_exit(7);
	}
	for (int i = 0; i < 64; i++)
		dallocx(held[i], MALLOCX_TCACHE_NONE);
	if (ctl_arena_void("arena.%u.destroy", arena) != 0)
		_exit(8);
	const char *path = NULL;
	if (dump && mallctl("prof.dump", NULL, NULL, &path, sizeof(path)) != 0)
		_exit(9);
	/* exit, not _exit: a dump the child's own triggers started ends first. */
	exit(0);
}

static void *
forker_main(void *arg)
{
	(void)arg;
	uint64_t rng = 0x5851f42d4c957f2dull;
	long total = (long)NSLOTS * GENERATIONS * ops_per_gen;
	for (int k = 0; k < NFORKS; k++) {
		pace(&rng, total * k / (NFORKS + 1));
		int fds[2];
		if (pipe(fds) != 0) {
			problem("pipe failed");
			return NULL;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			fork_child(rng_next(&rng), prof_on && k % 4 == 1);
		}
		close(fds[1]);
		if (pid < 0) {
			problem("fork failed");
			close(fds[0]);
			return NULL;
		}
		/* The child's exit closes the pipe.  The dump signal may
		 * interrupt the wait: it starts again, with the same bound. */
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		double deadline = child_now_s() + FORK_WAIT_MS / 1000.0;
		int ready;
		do
			ready = poll(&pfd, 1, (int)((deadline - child_now_s()) * 1000));
		while (ready < 0 && errno == EINTR && child_now_s() < deadline);
		char c;
		if (ready != 1 || read(fds[0], &c, 1) != 0) {
			problem("fork child %d hung", (int)pid);
			kill(pid, SIGKILL);
		}
		close(fds[0]);
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			problem("fork child %d: status %#x", (int)pid, status);
		else
			atomic_fetch_add(&n_fork_ops, FORK_CHILD_TOTAL);
		atomic_fetch_add(&n_forks, 1);
	}
	return NULL;
}

/* ------------------------------------------------------------ dumps */

/* malloc_stats_print's writer: counts what it is given. */
static void
stats_count(void *opaque, const char *s)
{
	*(size_t *)opaque += strlen(s);
}

static void *
dumper_main(void *arg)
{
	(void)arg;
	uint64_t rng = 0x14057b7ef767814full;
	long total = (long)NSLOTS * GENERATIONS * ops_per_gen;
	for (int k = 0; k < NDUMPS; k++) {
		pace(&rng, total * k / (NDUMPS + 1) + total / (2 * (NDUMPS + 1)));
		stats_read_some();
		size_t printed = 0;
		malloc_stats_print(stats_count, &printed, k % 2 ? "J" : NULL);
		if (printed < 1000)
			problem("malloc_stats_print wrote %zu bytes", printed);
		if (k % 3 == 2 && signal_on) {
			if (kill(getpid(), SIGUSR2) != 0)
				problem("kill(SIGUSR2) failed");
			atomic_fetch_add(&n_signals, 1);
			continue;
		}
		const char *path = NULL;
		if (mallctl("prof.dump", NULL, NULL, &path, sizeof(path)) != 0)
			problem("prof.dump failed");
		atomic_fetch_add(&n_dumps, 1);
	}
	return NULL;
}

/* ------------------------------------------------------------ supervisor */

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int done_slots[NSLOTS * GENERATIONS];
static int n_done_slots;
static worker_t workers[NSLOTS];

static void *
worker_thread(void *arg)
{
	worker_t *w = arg;
	worker_main(w);
	pthread_mutex_lock(&done_mu);
	done_slots[n_done_slots++] = w->slot;
	pthread_cond_signal(&done_cv);
	pthread_mutex_unlock(&done_mu);
	return NULL;
}

static bool
worker_start(pthread_t *t, int slot, int gen)
{
	worker_t *w = &workers[slot];
	memset(w, 0, sizeof(*w));
	w->slot = slot;
	w->rng = 0x243f6a8885a308d3ull * (uint64_t)(slot + 1) + 0x9e37ull * (uint64_t)gen;
	atomic_fetch_add(&n_threads, 1);
	if (pthread_create(t, NULL, worker_thread, w) != 0) {
		problem("pthread_create failed");
		return false;
	}
	return true;
}

/* Runs every generation of every slot: a slot whose thread ended gets the
 * next one.  Returns false when a thread could not start or none ended in
 * SUPERVISE_WAIT_S. */
static bool
supervise(void)
{
	pthread_t t[NSLOTS];
	int gen[NSLOTS] = {0};
	for (int s = 0; s < NSLOTS; s++)
		if (!worker_start(&t[s], s, 0))
			return false;
	int running = NSLOTS, seen = 0;
	while (running > 0) {
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += SUPERVISE_WAIT_S;
		pthread_mutex_lock(&done_mu);
		int err = 0;
		while (n_done_slots == seen && err == 0)
			err = pthread_cond_timedwait(&done_cv, &done_mu, &deadline);
		int slot = n_done_slots > seen ? done_slots[seen++] : -1;
		pthread_mutex_unlock(&done_mu);
		if (slot < 0) {
			problem("no worker ended within %d s", SUPERVISE_WAIT_S);
			return false;
		}
		pthread_join(t[slot], NULL);
		running--;
		if (++gen[slot] < GENERATIONS) {
			if (!worker_start(&t[slot], slot, gen[slot]))
				return false;
			running++;
		}
	}
	return true;
}

/* ------------------------------------------------------------ final checks */

/* The identities of tests/check_api_stats.c, with every thread gone (so
 * nothing moves between the reads), plus the large classes' sum; returns
 * stats.allocated. */
static size_t
stats_identities(const char *when)
{
	epoch_advance();
	unsigned narenas = narenas_read(), nbins = 0, nlextents = 0;
	(void)ctl_read("arenas.nbins", &nbins, sizeof(nbins));
	(void)ctl_read("arenas.nlextents", &nlextents, sizeof(nlextents));
	size_t allocated = 0;
	for (unsigned i = 0; i < narenas; i++) {
		char name[64];
		snprintf(name, sizeof(name), "stats.arenas.%u.small.allocated", i);
		size_t small;
		if (ctl_read(name, &small, sizeof(small)) == ENOENT)
			continue;
		size_t large = stat_size("stats.arenas.%u.large.allocated", i, 0);
		allocated += small + large;
		size_t bins = 0, lextents = 0;
		for (unsigned j = 0; j < nbins; j++) {
			char bin[64];
			snprintf(bin, sizeof(bin), "arenas.bin.%u.size", j);
			bins += stat_size("stats.arenas.%u.bins.%u.curregs", i, j) *
				stat_size(bin, 0, 0);
			uint64_t m = stat_u64("stats.arenas.%u.bins.%u.nmalloc", i, j);
			uint64_t d = stat_u64("stats.arenas.%u.bins.%u.ndalloc", i, j);
			if (m < d)
				problem("%s: arena %u bin %u: nmalloc %llu < ndalloc %llu", when, i,
					j, (unsigned long long)m, (unsigned long long)d);
		}
		for (unsigned j = 0; j < nlextents; j++) {
			char lext[64];
			snprintf(lext, sizeof(lext), "arenas.lextent.%u.size", j);
			size_t cur = stat_size("stats.arenas.%u.lextents.%u.curlextents", i, j);
			lextents += cur != 0 ? cur * stat_size(lext, 0, 0) : 0;
		}
		if (bins != small)
			problem("%s: arena %u: bins hold %zu bytes, small.allocated %zu", when, i,
				bins, small);
		if (lextents != large)
			problem("%s: arena %u: large classes hold %zu bytes, large.allocated %zu",
				when, i, lextents, large);
		static const char *const kinds[] = {"small", "large"};
		for (int k = 0; k < 2; k++) {
			char m[64], d[64];
			snprintf(m, sizeof(m), "stats.arenas.%%u.%s.nmalloc", kinds[k]);
			snprintf(d, sizeof(d), "stats.arenas.%%u.%s.ndalloc", kinds[k]);
			if (stat_u64(m, i, 0) < stat_u64(d, i, 0))
				problem("%s: arena %u: %s nmalloc < ndalloc", when, i, kinds[k]);
		}
	}
	size_t total = stat_size("stats.allocated", 0, 0);
	size_t active = stat_size("stats.active", 0, 0);
	size_t resident = stat_size("stats.resident", 0, 0);
	size_t mapped = stat_size("stats.mapped", 0, 0);
	if (allocated != total)
		problem("%s: arenas sum to %zu bytes, stats.allocated %zu", when, allocated, total);
	if (stat_size("stats.arenas.%u.small.allocated", MALLCTL_ARENAS_ALL, 0) +
		stat_size("stats.arenas.%u.large.allocated", MALLCTL_ARENAS_ALL, 0) !=
	    total)
		problem("%s: the merged arena's allocated differs from stats.allocated", when);
	if (!(total <= active && active <= resident && active <= mapped))
		problem("%s: allocated %zu, active %zu, resident %zu, mapped %zu", when, total,
			active, resident, mapped);
	return total;
}

/* Where the bytes still allocated are: each arena's non-empty classes. */
static void
live_print(void)
{
	unsigned narenas = narenas_read(), nbins = 0, nlextents = 0;
	(void)ctl_read("arenas.nbins", &nbins, sizeof(nbins));
	(void)ctl_read("arenas.nlextents", &nlextents, sizeof(nlextents));
	for (unsigned i = 0; i < narenas; i++) {
		char name[64];
		size_t v;
		snprintf(name, sizeof(name), "stats.arenas.%u.small.allocated", i);
		if (ctl_read(name, &v, sizeof(v)) != 0)
			continue;
		for (unsigned j = 0; j < nbins + nlextents; j++) {
			size_t cur = j < nbins
					 ? stat_size("stats.arenas.%u.bins.%u.curregs", i, j)
					 : stat_size("stats.arenas.%u.lextents.%u.curlextents", i,
						     j - nbins);
			if (cur != 0)
				printf("live: arena %u, %s %u: %zu\n", i,
				       j < nbins ? "bin" : "large", j < nbins ? j : j - nbins, cur);
		}
	}
	fflush(stdout);
}

/* Names whose read has an effect (creates something) or needs a write. */
static bool
walk_skip(const char *name)
{
	static const char *const skip[] = {"arenas.create", "tcache.create",
					   "experimental.arenas_create_ext",
					   "experimental.batch_alloc"};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcmp(name, skip[i]) == 0)
			return true;
	return false;
}

static man_entry_t entries[MAN_ENTRIES_MAX];

/* Reads name; ENOENT ends an index range.  A read-only name may fail only
 * with ENOENT (an index that does not exist); a read-write one is only
 * required not to crash. */
static int
walk_read(const char *name, const man_entry_t *e)
{
	unsigned char buf[128];
	size_t size = man_type_size(e->type);
	if (size == SIZE_MAX || size > sizeof(buf)) {
		problem("walk: %s has a type of unknown size", name);
		return EINVAL;
	}
	atomic_fetch_add_explicit(&n_walk_reads, 1, memory_order_relaxed);
	size_t len = size;
	int err = mallctl(name, buf, &len, NULL, 0);
	if (strcmp(e->access, "r-") == 0 && err != 0 && err != ENOENT)
		problem("walk: reading %s gave %d", name, err);
	return err;
}

/* Every readable documented name, for every arena index that exists (and
 * MALLCTL_ARENAS_ALL), every bin and every large class. */
static void
walk_all(void)
{
	size_t n = man_read_mallctl_names(entries, MAN_ENTRIES_MAX);
	unsigned narenas = narenas_read();
	char name[MAN_NAME_MAX];
	for (size_t k = 0; k < n; k++) {
		const man_entry_t *e = &entries[k];
		if (e->access[0] != 'r' || walk_skip(e->name))
			continue;
		bool per_arena = strncmp(e->name, "arena.<i>", 9) == 0 ||
				 strncmp(e->name, "stats.arenas.<i>", 16) == 0;
		bool has_i = strstr(e->name, "<i>") != NULL, has_j = strstr(e->name, "<j>") != NULL;
		unsigned imax = has_i ? (per_arena ? narenas + 2 : 1024) : 1;
		for (unsigned i = 0; i < imax; i++) {
			unsigned ind = per_arena && i == narenas       ? MALLCTL_ARENAS_ALL
				       : per_arena && i == narenas + 1 ? MALLCTL_ARENAS_DESTROYED
								       : i;
			bool i_exists = false;
			for (unsigned j = 0; j < (has_j ? 1024u : 1u); j++) {
				man_instantiate(e->name, ind, j, name, sizeof(name));
				int err = walk_read(name, e);
				if (err == ENOENT)
					break;
				i_exists = true;
			}
			/* An index past the last bin or class ends a non-arena range. */
			if (has_i && !per_arena && !i_exists)
				break;
		}
	}
}

/* ------------------------------------------------------------ the run */

static void
run_load(void)
{
	bool debug = false;
	size_t len = sizeof(debug);
	mallctl("config.debug", &debug, &len, NULL, 0);
	ops_per_gen = OPS_PER_GEN / OPS_DIVISOR / (debug ? OPS_DEBUG_DIVISOR : 1);
	len = sizeof(tcache_on);
	if (mallctl("opt.tcache", &tcache_on, &len, NULL, 0) != 0)
		problem("opt.tcache unreadable");
	len = sizeof(narenas_auto);
	if (mallctl("opt.narenas", &narenas_auto, &len, NULL, 0) != 0 || narenas_auto == 0)
		problem("opt.narenas unreadable");
	const char *percpu_opt = "disabled";
	len = sizeof(percpu_opt);
	percpu = mallctl("opt.percpu_arena", &percpu_opt, &len, NULL, 0) == 0 &&
		 strcmp(percpu_opt, "disabled") != 0;
	len = sizeof(prof_on);
	if (mallctl("opt.prof", &prof_on, &len, NULL, 0) != 0)
		prof_on = false;
	const char *sig = "";
	len = sizeof(sig);
	signal_on = prof_on && mallctl("opt.prof_signal", &sig, &len, NULL, 0) == 0 &&
		    strcmp(sig, "USR2") == 0;
	for (int s = 0; s < NSLOTS; s++)
		pthread_mutex_init(&queues[s].mu, NULL);
	tcache_flush_own();
	epoch_advance();
	size_t baseline = stat_size("stats.allocated", 0, 0);

	pthread_t forker, dumper;
	if (pthread_create(&forker, NULL, forker_main, NULL) != 0 ||
	    (prof_on && pthread_create(&dumper, NULL, dumper_main, NULL) != 0)) {
		problem("cannot start the helpers");
		_exit(1);
	}
	if (!supervise())
		_exit(1);
	pthread_join(forker, NULL);
	if (prof_on)
		pthread_join(dumper, NULL);
	/* The blocks still in the queues are live here. */
	size_t live = 0;
	for (int s = 0; s < NSLOTS; s++)
		for (struct qnode *e = queues[s].head; e != NULL; e = e->next)
			live += malloc_usable_size(e->b.p);
	if (stats_identities("with handed-off blocks live") < baseline + live)
		problem("stats.allocated below the %zu bytes still live", live);
	for (int s = 0; s < NSLOTS; s++)
		queue_drain(s, -1);
	tcache_flush_own();
	if (atomic_load(&n_handed) != atomic_load(&n_received))
		problem("%ld blocks handed off, %ld received", atomic_load(&n_handed),
			atomic_load(&n_received));
	size_t allocated = stats_identities("after freeing everything");
	if (allocated > baseline + BASELINE_SLACK) {
		problem("allocated %zu after freeing everything, %zu before the run", allocated,
			baseline);
		live_print();
	}
	walk_all();

	long total = atomic_load(&n_alloc) + atomic_load(&n_free) + atomic_load(&n_resize) +
		     atomic_load(&n_ctl) + atomic_load(&n_fork_ops) + atomic_load(&n_forks) +
		     atomic_load(&n_dumps) + atomic_load(&n_signals) + atomic_load(&n_threads);
	printf("stress operations: %ld (allocations %ld, frees %ld, resizes %ld, mallctl %ld, "
	       "blocks checked %ld, handed off %ld, threads %ld, forks %ld with %ld child "
	       "operations, prof.dump %ld, dump signals %ld, walk reads %ld)%s\n",
	       total, atomic_load(&n_alloc), atomic_load(&n_free), atomic_load(&n_resize),
	       atomic_load(&n_ctl), atomic_load(&n_checked), atomic_load(&n_handed),
	       atomic_load(&n_threads), atomic_load(&n_forks), atomic_load(&n_fork_ops),
	       atomic_load(&n_dumps), atomic_load(&n_signals), atomic_load(&n_walk_reads),
	       debug ? " [debug build]" : "");
	printf("problems: %ld\n", atomic_load(&problems));
	fflush(stdout);
	/* exit, not _exit: pending signal dumps are written at exit. */
	exit(atomic_load(&problems) == 0 ? 0 : 1);
}

/* ------------------------------------------------------------ fork and dumps */

/*
 * The regression case of a dump request pending at fork (the load above
 * found it: its fork children left the temporary files of dumps they were
 * writing for the parent when they exited).  The dump hook holds the
 * dumper thread after the first signal's dump, so that a second signal stays
 * pending; then a child is forked and exits.  The request was the parent's:
 * the child must not write a dump for it (neither its own dumper thread
 * nor its exit, which serves what is pending).  Prints the dumps named
 * after the child, exits 0 when there is none.
 */
static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hook_cv = PTHREAD_COND_INITIALIZER;
static bool hook_entered, hook_release;

static bool
hook_wait(bool *flag)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&hook_mu);
	int err = 0;
	while (!*flag && err == 0)
		err = pthread_cond_timedwait(&hook_cv, &hook_mu, &deadline);
	bool set = *flag;
	pthread_mutex_unlock(&hook_mu);
	return set;
}

static void
hook_set(bool *flag)
{
	pthread_mutex_lock(&hook_mu);
	*flag = true;
	pthread_cond_broadcast(&hook_cv);
	pthread_mutex_unlock(&hook_mu);
}

static void
dump_hook(const char *filename)
{
	(void)filename;
	hook_set(&hook_entered);
	hook_wait(&hook_release);
}

static void
run_pending_at_fork(const char *dir)
{
	void (*hook)(const char *) = dump_hook;
	if (mallctl("experimental.hooks.prof_dump", NULL, NULL, &hook, sizeof(hook)) != 0)
		_exit(2);
	raise(SIGUSR2);
	if (!hook_wait(&hook_entered))
		_exit(3);
	raise(SIGUSR2); /* pending: the dumper thread is in the hook */
	int fds[2];
	if (pipe(fds) != 0)
		_exit(4);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		exit(0);
	}
	close(fds[1]);
	struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
	int status;
	if (pid < 0 || poll(&pfd, 1, FORK_WAIT_MS) != 1 || waitpid(pid, &status, 0) != pid)
		_exit(5);
	hook_set(&hook_release);
	char child_prefix[64];
	snprintf(child_prefix, sizeof(child_prefix), "p.%d.", (int)pid);
	DIR *d = opendir(dir);
	if (d == NULL)
		_exit(6);
	int found = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (strncmp(e->d_name, child_prefix, strlen(child_prefix)) == 0) {
			printf("the child wrote %s\n", e->d_name);
			found++;
		}
	}
	closedir(d);
	printf("%d dumps by the child\n", found);
	fflush(stdout);
	exit(found == 0 ? 0 : 1);
}

__attribute__((constructor)) static void
load_start(void)
{
	const char *mode = getenv(MODE_ENV);
	if (mode != NULL && strncmp(mode, "pending:", 8) == 0)
		run_pending_at_fork(mode + 8);
	if (mode != NULL)
		run_load();
}

/* ------------------------------------------------------------ the test */

/* In run_self's child, before exec: MALLOC_CONF and MODE_ENV set to
 * arg's two strings (conf, mode); exits 127 when it cannot. */
static void
set_load_env(const void *arg)
{
	const char *const *conf_mode = arg;
	if (setenv("MALLOC_CONF", conf_mode[0], 1) != 0 || setenv(MODE_ENV, conf_mode[1], 1) != 0)
		_exit(127);
}

/* Runs this program in mode `mode` with MALLOC_CONF=conf (the rest of the
 * environment kept: TSAN_OPTIONS, for one); its wait status, with its
 * standard output in out (bounded by RUN_WAIT_S). */
static int
run_self(const char *mode, const char *conf, char *out, size_t size)
{
	const char *conf_mode[] = {conf, mode};
	child_how_t how = {.wait_s = RUN_WAIT_S, .prep = set_load_env, .arg = conf_mode};
	char *argv[] = {"strata-stress-long", NULL};
	return child_run_exec_with("/proc/self/exe", argv, NULL, CHILD_STDERR_KEEP, &how, "the load",
	                           out, size);
}

static char out[1 << 16];

START_TEST(test_long_mixed_load)
{
	char dir[] = "/tmp/strata-stress-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char conf[256];
#ifdef STRATA_TSAN
	/* Under ThreadSanitizer no thread but the main one may sample
	 * (tests/tsan.mk): no profiler. */
	snprintf(conf, sizeof(conf), "prof:false");
#else
	snprintf(conf, sizeof(conf),
		 "prof:true,lg_prof_sample:16,prof_signal:USR2,prof_prefix:%s/s", dir);
#endif
	int status = run_self("load", conf, out, sizeof(out));
	printf("%s", out);
	fflush(stdout);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, out);
	ck_assert_ptr_nonnull(strstr(out, "stress operations: "));
	ck_assert_ptr_nonnull(strstr(out, "problems: 0\n"));

	/* Every dump is a complete gzip file; the manual and signal dumps of
	 * the load's own process are all there. */
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int ndumps = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "gzip -t '%s/%s'", dir, e->d_name);
		ck_assert_msg(system(cmd) == 0, "%s is not a complete gzip file", e->d_name);
		ck_assert_msg(strstr(e->d_name, ".heap.gz") != NULL ||
				  strstr(e->d_name, ".recent.json.gz") != NULL,
			      "unexpected file %s", e->d_name);
		ndumps += strstr(e->d_name, ".heap.gz") != NULL;
	}
	closedir(d);
#ifndef STRATA_TSAN
	/* NDUMPS events: two thirds prof.dump, one third signals (which may
	 * coalesce into one dump each time the dumper thread is busy); and one
	 * fork child in four dumps. */
	ck_assert_msg(ndumps >= NDUMPS * 2 / 3 + 1 + NFORKS / 4, "%d dumps", ndumps);
#endif
	temp_dir_remove(dir);
}
END_TEST

#ifndef STRATA_TSAN
START_TEST(test_dump_pending_at_fork_stays_the_parents)
{
	char dir[] = "/tmp/strata-stress-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char conf[256], mode[128];
	snprintf(conf, sizeof(conf), "prof:true,prof_signal:USR2,prof_prefix:%s/p", dir);
	snprintf(mode, sizeof(mode), "pending:%s", dir);
	int status = run_self(mode, conf, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, out);
	ck_assert_str_eq(out, "0 dumps by the child\n");
	temp_dir_remove(dir);
}
END_TEST
#endif

Suite *
test_suite(void)
{
	Suite *s = suite_create("stress_long");
	TCase *tc = tcase_create("load");
	tcase_set_timeout(tc, RUN_WAIT_S + 30);
	tcase_add_test(tc, test_long_mixed_load);
#ifndef STRATA_TSAN
	/* (under ThreadSanitizer no thread but the main one may sample, and
	 * the profiler is off: tests/tsan.mk) */
	tcase_add_test(tc, test_dump_pending_at_fork_stays_the_parents);
#endif
	suite_add_tcase(s, tc);
	return s;
}
