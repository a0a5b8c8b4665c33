/*
 * fuzz_api.c — differential fuzzing of the allocation API against a shadow
 * model (docs/design.md, "Fuzzing").
 *
 * The input is a program: each operation is an opcode byte and its
 * arguments (fuzz_util.h's reader).  Operations: malloc, calloc (also with
 * an overflowing count), realloc (also to 0 and from NULL), free,
 * aligned_alloc and posix_memalign (also with bad alignments), mallocx,
 * rallocx, xallocx, sdallocx, dallocx, nallocx, malloc_usable_size,
 * mallctl arena.<i>.purge and thread.tcache.flush, and a step that runs a
 * sub-program on two or three threads at once, each on its own share of
 * the blocks (so one thread frees what another allocated).  Sizes go from
 * 0 to 64 MiB, skewed small (a block above 1 MiB is rare and live bytes are
 * capped, so that an input runs in milliseconds); alignments up to 1 MiB;
 * flags MALLOCX_ZERO, MALLOCX_TCACHE_NONE, MALLOCX_TCACHE of an explicit
 * cache (on the main thread only: explicit caches are not thread-safe),
 * MALLOCX_ARENA of an automatic arena, of one the harness created, or of
 * one that does not exist.
 *
 * The shadow model keeps every live block: address, request, usable size,
 * alignment and the seed of the pattern written into it.  Checked after
 * every operation (man/strata.3, "Standard API", "Non-standard API"):
 *   - alignment: the requested one, and at least 16 (8 for the 8-byte
 *     class) for malloc;
 *   - malloc_usable_size >= request and == nallocx(request, flags), also
 *     after rallocx and xallocx; nallocx of a usable size is itself;
 *   - realloc, rallocx and xallocx keep the contents up to the smaller
 *     size; xallocx never moves and returns the usable size it left;
 *   - calloc and MALLOCX_ZERO give zeroes over the whole usable size;
 *     rallocx and xallocx with MALLOCX_ZERO zero what lies past the old
 *     usable size;
 *   - no two live blocks overlap (checked against every live block, and
 *     over the sorted blocks after every threaded step);
 *   - errors: NULL with ENOMEM (calloc overflow), NULL with EINVAL
 *     (aligned_alloc with a bad alignment), EINVAL returned and errno kept
 *     (posix_memalign), NULL from mallocx with an arena that does not exist;
 *     free, sdallocx and the size queries leave errno alone.
 * At the end of each input every block is freed, the caches flushed, and
 * the statistics must give back the allocated bytes seen at start, equal
 * the small and large sums of all arenas, and stay within active and
 * mapped bytes.
 *
 * Contents are written and checked in full up to 64 KiB; beyond that on
 * probes (the first and last 4 KiB and 64 bytes at each eighth), so that
 * a 64 MiB block touches a few (huge) pages, not all of them.  The
 * byte loops are left out of libFuzzer's comparison tracing.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "fuzz/fuzz_util.h"

#define NSLOTS 64
#define MAX_OPS 256
#define LIVE_CAP ((size_t)256 << 20)
#define FULL_CHECK ((size_t)64 << 10)
#define PROBE_EDGE ((size_t)4 << 10)
#define PROBES 8
#define PROBE_LEN 64
#define JOIN_WAIT_S 30
#define NO_TRACE __attribute__((no_sanitize("coverage")))

typedef struct block {
	unsigned char *p;
	size_t req;     /* bytes holding the pattern */
	size_t usize;   /* malloc_usable_size */
	unsigned lg;    /* lg of the alignment asked for (0: none) */
	uint8_t seed;   /* pattern seed */
} block_t;

static block_t slots[NSLOTS];
static size_t live_bytes;
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned narenas_auto;
static unsigned arena_manual; /* created at start */
static unsigned tcache_explicit;
static size_t allocated_base;

/* ------------------------------------------------------------ contents */

static inline unsigned char
pattern(size_t i, uint8_t seed)
{
	return (unsigned char)(seed * 151u + i * 31u + (i >> 9));
}

/* Runs body with [from, to) each probed range of [0, n). */
#define FOR_PROBES(n, from, to, body)                                                   \
	do {                                                                               \
		if ((n) <= FULL_CHECK) {                                                   \
			size_t from = 0, to = (n);                                        \
			body;                                                              \
		} else {                                                                   \
			for (size_t k = 0; k < PROBES; k++) {                              \
				size_t from = k * ((n) / PROBES);                          \
				size_t to = from + (k == 0 ? PROBE_EDGE : PROBE_LEN);      \
				body;                                                      \
			}                                                                  \
			size_t from = (n) - PROBE_EDGE, to = (n);                          \
			body;                                                              \
		}                                                                          \
	} while (0)

static NO_TRACE void
content_fill(unsigned char *p, size_t n, uint8_t seed)
{
	FOR_PROBES(n, from, to, {
		for (size_t i = from; i < to; i++)
			p[i] = pattern(i, seed);
	});
}

/* The pattern written for n bytes is still there in [0, limit). */
static NO_TRACE void
content_check(const unsigned char *p, size_t n, size_t limit, uint8_t seed, const char *what)
{
	FOR_PROBES(n, from, to, {
		for (size_t i = from; i < to && i < limit; i++)
			FUZZ_REQUIRE(p[i] == pattern(i, seed), "%s: %p byte %zu of %zu", what,
			             (void *)p, i, n);
	});
}

static NO_TRACE void
zero_check(const unsigned char *p, size_t start, size_t end, const char *what)
{
	if (end <= start)
		return;
	size_t n = end - start;
	FOR_PROBES(n, from, to, {
		for (size_t i = from; i < to; i++)
			FUZZ_REQUIRE(p[start + i] == 0, "%s: %p byte %zu not zero", what,
			             (void *)p, start + i);
	});
}

/* ------------------------------------------------------------ arguments */

/* 0 .. 64 MiB, skewed small. */
static size_t
pick_size(fuzz_input_t *in)
{
	uint8_t cls = fuzz_u8(in);
	uint32_t r = fuzz_u32(in);
	if (cls < 150)
		return r % 1025;
	if (cls < 215)
		return 1024 + r % (63 * 1024);
	if (cls < 245)
		return ((size_t)64 << 10) + r % ((size_t)960 << 10);
	if (cls < 253)
		return ((size_t)1 << 20) + r % ((size_t)7 << 20);
	return ((size_t)8 << 20) + r % ((size_t)56 << 20);
}

static bool
live_would_pass_cap(size_t size)
{
	pthread_mutex_lock(&live_mu);
	bool over = live_bytes + size > LIVE_CAP;
	pthread_mutex_unlock(&live_mu);
	return over;
}

/* The size, or a small one when the live bytes would pass the cap. */
static size_t
size_within_cap(size_t size)
{
	return live_would_pass_cap(size) ? size % 1025 : size;
}

/* A size from the input within the cap, at least 1 (mallocx and rallocx
 * leave 0 undefined, as jemalloc does). */
static size_t
pick_size_nonzero(fuzz_input_t *in)
{
	size_t size = size_within_cap(pick_size(in));
	return size == 0 ? 1 : size;
}

static void
live_add(ssize_t delta)
{
	pthread_mutex_lock(&live_mu);
	live_bytes += (size_t)delta;
	pthread_mutex_unlock(&live_mu);
}

/* Flags for an allocating *allocx call; *lg gets the alignment's lg. */
static int
pick_flags(fuzz_input_t *in, bool main_thread, unsigned *lg, bool *bad_arena)
{
	uint8_t f = fuzz_u8(in);
	int flags = 0;
	*lg = 0;
	*bad_arena = false;
	if (f & 1) {
		*lg = fuzz_u8(in) % 21;
		flags |= MALLOCX_LG_ALIGN(*lg);
	}
	if (f & 2)
		flags |= MALLOCX_ZERO;
	switch ((f >> 2) & 7) {
	case 1:
		flags |= MALLOCX_TCACHE_NONE;
		break;
	case 2:
		if (main_thread)
			flags |= MALLOCX_TCACHE(tcache_explicit);
		break;
	case 3:
		flags |= MALLOCX_ARENA(fuzz_u8(in) % narenas_auto);
		break;
	case 4:
		flags |= MALLOCX_ARENA(arena_manual);
		break;
	case 5:
		if ((f >> 5) == 7) {
			flags |= MALLOCX_ARENA(arena_manual + 1 + fuzz_u8(in));
			*bad_arena = true;
		}
		break;
	default:
		break;
	}
	return flags;
}

static size_t
min_align(size_t usize)
{
	return usize >= 16 ? 16 : 8;
}

/* ------------------------------------------------------------ the model */

static void
overlap_check_one(unsigned skip, const unsigned char *p, size_t usize, unsigned stride,
                  unsigned first)
{
	for (unsigned i = first; i < NSLOTS; i += stride) {
		const block_t *b = &slots[i];
		if (i == skip || b->p == NULL)
			continue;
		FUZZ_REQUIRE(p + usize <= b->p || b->p + b->usize <= p,
		             "block %p+%zu overlaps live %p+%zu", (void *)p, usize, (void *)b->p,
		             b->usize);
	}
}

static int
cmp_block(const void *a, const void *b)
{
	const block_t *x = a, *y = b;
	return x->p < y->p ? -1 : x->p > y->p;
}

/* Every live block against its successor in address order. */
static void
overlap_check_all(void)
{
	block_t sorted[NSLOTS];
	unsigned n = 0;
	for (unsigned i = 0; i < NSLOTS; i++) {
		if (slots[i].p != NULL)
			sorted[n++] = slots[i];
	}
	qsort(sorted, n, sizeof(sorted[0]), cmp_block);
	for (unsigned i = 1; i < n; i++)
		FUZZ_REQUIRE(sorted[i - 1].p + sorted[i - 1].usize <= sorted[i].p,
		             "live %p+%zu overlaps live %p", (void *)sorted[i - 1].p,
		             sorted[i - 1].usize, (void *)sorted[i].p);
}

/* Records a new block in slot i: the usual checks (zeroes in [0, zero_to)
 * and the usable size), then the pattern. */
static void
block_new(unsigned i, unsigned char *p, size_t req, unsigned lg, int flags, size_t zero_to,
          uint8_t seed, unsigned stride, unsigned first, const char *what)
{
	size_t usize = malloc_usable_size(p);
	size_t expect = nallocx(req == 0 ? 1 : req, flags);
	FUZZ_REQUIRE(usize >= req, "%s(%zu): usable %zu", what, req, usize);
	if (req != 0)
		FUZZ_REQUIRE(usize == expect, "%s(%zu, %#x): usable %zu, nallocx %zu", what, req,
		             (unsigned)flags, usize, expect);
	FUZZ_REQUIRE(nallocx(usize, flags) == usize, "%s: nallocx(%zu) is not itself", what,
	             usize);
	size_t align = lg != 0 ? (size_t)1 << lg : min_align(usize);
	FUZZ_REQUIRE(((uintptr_t)p & (align - 1)) == 0, "%s(%zu): %p not aligned to %zu", what,
	             req, (void *)p, align);
	zero_check(p, 0, zero_to < usize ? zero_to : usize, what);
	overlap_check_one(i, p, usize, stride, first);
	slots[i] = (block_t){.p = p, .req = req, .usize = usize, .lg = lg, .seed = seed};
	content_fill(p, req, seed);
	p[usize - 1] = pattern(usize - 1, seed);
	live_add((ssize_t)usize);
}

static void
block_drop(unsigned i)
{
	live_add(-(ssize_t)slots[i].usize);
	slots[i].p = NULL;
}

static void
block_check(const block_t *b, const char *what)
{
	content_check(b->p, b->req, b->req, b->seed, what);
}

/* ------------------------------------------------------------ operations */

typedef struct ctx {
	fuzz_input_t in;
	unsigned stride, first; /* this thread's slots: first, first + stride, ... */
	bool main_thread;
} ctx_t;

static unsigned
pick_slot(ctx_t *c)
{
	unsigned per = (NSLOTS - c->first + c->stride - 1) / c->stride;
	return c->first + (fuzz_u8(&c->in) % per) * c->stride;
}

static void
free_slot(ctx_t *c, unsigned i, uint8_t how)
{
	block_t *b = &slots[i];
	block_check(b, "before free");
	int flags = b->lg != 0 ? MALLOCX_LG_ALIGN(b->lg) : 0;
	errno = 4242;
	switch (how % 4) {
	case 0:
		free(b->p);
		break;
	case 1: {
		/* Through no cache, the explicit one (main thread) or the thread's. */
		int tc = how & 4 ? MALLOCX_TCACHE_NONE
		                 : (how & 8) && c->main_thread ? MALLOCX_TCACHE(tcache_explicit) : 0;
		dallocx(b->p, tc);
		break;
	}
	default: {
		size_t span = b->usize - b->req;
		size_t size = b->req + (span == 0 ? 0 : fuzz_u32(&c->in) % (span + 1));
		sdallocx(b->p, size == 0 ? 1 : size, flags);
		break;
	}
	}
	FUZZ_REQUIRE(errno == 4242, "free changed errno to %d", errno);
	block_drop(i);
}

static void op_threads(ctx_t *c);

static void
op_one(ctx_t *c)
{
	fuzz_input_t *in = &c->in;
	uint8_t op = fuzz_u8(in) % 16;
	unsigned i = pick_slot(c);
	block_t *b = &slots[i];
	uint8_t seed = fuzz_u8(in);
	if (b->p != NULL && op <= 5) {
		free_slot(c, i, fuzz_u8(in));
		return;
	}
	switch (op) {
	case 0: { /* malloc */
		size_t size = size_within_cap(pick_size(in));
		unsigned char *p = malloc(size);
		FUZZ_REQUIRE(p != NULL, "malloc(%zu) failed", size);
		block_new(i, p, size, 0, 0, 0, seed, c->stride, c->first, "malloc");
		break;
	}
	case 1: { /* calloc, or its overflow */
		size_t size = size_within_cap(pick_size(in));
		size_t num = 1 + fuzz_u8(in) % 4;
		if (fuzz_u8(in) == 0xff) {
			errno = 0;
			FUZZ_REQUIRE(calloc(SIZE_MAX / 2, 3 + size) == NULL && errno == ENOMEM,
			             "calloc overflow: errno %d", errno);
			break;
		}
		unsigned char *p = calloc(num, size / num);
		FUZZ_REQUIRE(p != NULL, "calloc(%zu, %zu) failed", num, size / num);
		size_t total = num * (size / num);
		block_new(i, p, total, 0, 0, total, seed, c->stride, c->first, "calloc");
		break;
	}
	case 2: { /* aligned_alloc, or a bad alignment */
		size_t size = size_within_cap(pick_size(in));
		unsigned lg = fuzz_u8(in) % 21;
		if (fuzz_u8(in) == 0xff) {
			size_t bad = fuzz_u8(in) & 1 ? 0 : (size_t)3 << lg;
			errno = 0;
			FUZZ_REQUIRE(aligned_alloc(bad, size) == NULL && errno == EINVAL,
			             "aligned_alloc(%zu): errno %d", bad, errno);
			break;
		}
		unsigned char *p = aligned_alloc((size_t)1 << lg, size);
		FUZZ_REQUIRE(p != NULL, "aligned_alloc(%zu, %zu) failed", (size_t)1 << lg, size);
		block_new(i, p, size, lg, MALLOCX_LG_ALIGN(lg), 0, seed, c->stride, c->first,
		          "aligned_alloc");
		break;
	}
	case 3: { /* posix_memalign, or a bad alignment */
		size_t size = size_within_cap(pick_size(in));
		unsigned lg = 3 + fuzz_u8(in) % 18;
		void *p = NULL;
		errno = 4242;
		if (fuzz_u8(in) == 0xff) {
			size_t bad = fuzz_u8(in) & 1 ? 4 : (size_t)3 << lg;
			FUZZ_REQUIRE(posix_memalign(&p, bad, size) == EINVAL && errno == 4242,
			             "posix_memalign(%zu): errno %d", bad, errno);
			break;
		}
		int err = posix_memalign(&p, (size_t)1 << lg, size);
		FUZZ_REQUIRE(err == 0 && p != NULL && errno == 4242,
		             "posix_memalign(%zu, %zu): %d, errno %d", (size_t)1 << lg, size, err,
		             errno);
		block_new(i, p, size, lg, MALLOCX_LG_ALIGN(lg), 0, seed, c->stride, c->first,
		          "posix_memalign");
		break;
	}
	case 4:
	case 5: { /* mallocx */
		size_t size = pick_size_nonzero(in);
		unsigned lg;
		bool bad_arena;
		int flags = pick_flags(in, c->main_thread, &lg, &bad_arena);
		unsigned char *p = mallocx(size, flags);
		if (bad_arena) {
			FUZZ_REQUIRE(p == NULL, "mallocx with a nonexistent arena: %p", (void *)p);
			break;
		}
		FUZZ_REQUIRE(p != NULL, "mallocx(%zu, %#x) failed", size, (unsigned)flags);
		block_new(i, p, size, lg, flags & 0x3f, flags & MALLOCX_ZERO ? SIZE_MAX : 0,
		          seed, c->stride, c->first, "mallocx");
		break;
	}
	case 6:
	case 7: { /* realloc: from NULL, to 0, or a resize */
		size_t size = size_within_cap(pick_size(in));
		if (b->p == NULL) {
			unsigned char *p = realloc(NULL, size);
			FUZZ_REQUIRE(p != NULL, "realloc(NULL, %zu) failed", size);
			block_new(i, p, size, 0, 0, 0, seed, c->stride, c->first,
			          "realloc(NULL)");
			break;
		}
		block_check(b, "before realloc");
		if (size == 0)
			size = 1;
		if (op == 7 && fuzz_u8(in) < 16) {
			FUZZ_REQUIRE(realloc(b->p, 0) == NULL, "realloc(p, 0) returned a block");
			block_drop(i);
			break;
		}
		block_t old = *b;
		block_drop(i);
		unsigned char *p = realloc(old.p, size);
		FUZZ_REQUIRE(p != NULL, "realloc(%zu) failed", size);
		size_t keep = old.req < size ? old.req : size;
		content_check(p, old.req, keep, old.seed, "realloc kept");
		block_new(i, p, size, 0, 0, 0, seed, c->stride, c->first, "realloc");
		break;
	}
	case 8:
	case 9: { /* rallocx */
		if (b->p == NULL)
			break;
		block_check(b, "before rallocx");
		size_t size = pick_size_nonzero(in);
		unsigned lg;
		bool bad_arena;
		int flags = pick_flags(in, c->main_thread, &lg, &bad_arena);
		if (bad_arena)
			break;
		block_t old = *b;
		block_drop(i);
		unsigned char *p = rallocx(old.p, size, flags);
		FUZZ_REQUIRE(p != NULL, "rallocx(%zu, %#x) failed", size, (unsigned)flags);
		size_t keep = old.req < size ? old.req : size;
		content_check(p, old.req, keep, old.seed, "rallocx kept");
		if (flags & MALLOCX_ZERO)
			zero_check(p, old.usize, malloc_usable_size(p), "rallocx zero");
		block_new(i, p, size, lg, flags & 0x3f, 0, seed,
		          c->stride, c->first, "rallocx");
		break;
	}
	case 10: { /* xallocx: in place only */
		if (b->p == NULL)
			break;
		block_check(b, "before xallocx");
		size_t size = pick_size(in);
		if (size == 0)
			size = 1;
		size_t extra = fuzz_u8(in) & 1 ? fuzz_u32(in) % ((size_t)1 << 20) : 0;
		if (live_would_pass_cap(size + extra))
			break;
		int flags = (fuzz_u8(in) & 1 ? MALLOCX_ZERO : 0) |
		            (b->lg != 0 ? MALLOCX_LG_ALIGN(b->lg) : 0);
		block_t old = *b;
		block_drop(i);
		size_t got = xallocx(old.p, size, extra, flags);
		size_t usize = malloc_usable_size(old.p);
		FUZZ_REQUIRE(got == usize, "xallocx returned %zu, usable %zu", got, usize);
		int align = flags & 0x3f;
		FUZZ_REQUIRE(got == old.usize || (got >= nallocx(size, align) &&
		                                  got <= nallocx(size + extra, align)),
		             "xallocx(%zu -> %zu + %zu): %zu", old.usize, size, extra, got);
		size_t keep = old.req < got ? old.req : got;
		content_check(old.p, old.req, keep, old.seed, "xallocx kept");
		if (flags & MALLOCX_ZERO)
			zero_check(old.p, old.usize, got, "xallocx zero");
		overlap_check_one(i, old.p, got, c->stride, c->first);
		slots[i] = (block_t){.p = old.p, .req = keep, .usize = got, .lg = old.lg,
		                     .seed = old.seed};
		content_fill(old.p, keep, old.seed);
		old.p[got - 1] = pattern(got - 1, old.seed);
		live_add((ssize_t)got);
		break;
	}
	case 11: { /* nallocx and usable-size queries */
		size_t size = pick_size(in);
		unsigned lg = fuzz_u8(in) % 21;
		errno = 4242;
		size_t n = nallocx(size == 0 ? 1 : size, MALLOCX_LG_ALIGN(lg));
		FUZZ_REQUIRE(n >= size && n == nallocx(n, MALLOCX_LG_ALIGN(lg)),
		             "nallocx(%zu, lg %u) = %zu", size, lg, n);
		FUZZ_REQUIRE(nallocx(SIZE_MAX - fuzz_u8(in), 0) == 0, "nallocx(huge) != 0");
		FUZZ_REQUIRE(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL)");
		if (b->p != NULL)
			FUZZ_REQUIRE(malloc_usable_size(b->p) == b->usize &&
			                 sallocx(b->p, 0) == b->usize,
			             "usable size of %p changed", (void *)b->p);
		FUZZ_REQUIRE(errno == 4242, "a size query changed errno to %d", errno);
		break;
	}
	case 12: { /* purge an arena or all of them */
		char name[64];
		unsigned a = fuzz_u8(in) & 1 ? MALLCTL_ARENAS_ALL : fuzz_u8(in) % narenas_auto;
		snprintf(name, sizeof(name), "arena.%u.purge", a);
		int err = mallctl(name, NULL, NULL, NULL, 0);
		FUZZ_REQUIRE(err == 0, "%s: %d", name, err);
		break;
	}
	case 13: {
		int err = mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
		FUZZ_REQUIRE(err == 0, "thread.tcache.flush: %d", err);
		break;
	}
	case 14:
		if (c->main_thread)
			op_threads(c);
		break;
	default:
		if (b->p != NULL)
			free_slot(c, i, fuzz_u8(in));
		break;
	}
}

/* A thread's sub-program: its own slice of the input, its own slots. */
static void *
thread_main(void *arg)
{
	ctx_t *c = arg;
	for (unsigned n = 0; n < MAX_OPS / 4 && !fuzz_done(&c->in); n++)
		op_one(c);
	return NULL;
}

static void
join_bounded(pthread_t th)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += JOIN_WAIT_S;
	int err = pthread_timedjoin_np(th, NULL, &deadline);
	FUZZ_REQUIRE(err == 0, "a thread did not exit within %d s: %d", JOIN_WAIT_S, err);
}

static void
op_threads(ctx_t *c)
{
	unsigned n = 2 + fuzz_u8(&c->in) % 2;
	size_t len = 1 + fuzz_u8(&c->in);
	ctx_t sub[3];
	pthread_t th[3];
	for (unsigned k = 0; k < n; k++) {
		size_t take = len < c->in.left ? len : c->in.left;
		sub[k] = (ctx_t){.in = {c->in.p, take}, .stride = n, .first = k,
		                 .main_thread = false};
		c->in.p += take;
		c->in.left -= take;
	}
	for (unsigned k = 0; k < n; k++)
		FUZZ_REQUIRE(pthread_create(&th[k], NULL, thread_main, &sub[k]) == 0,
		             "pthread_create");
	for (unsigned k = 0; k < n; k++)
		join_bounded(th[k]);
	overlap_check_all();
}

/* ------------------------------------------------------------ statistics */

static size_t
read_size(const char *name)
{
	size_t v = 0, len = sizeof(v);
	int err = mallctl(name, &v, &len, NULL, 0);
	FUZZ_REQUIRE(err == 0 && len == sizeof(v), "%s: %d", name, err);
	return v;
}

static void
flush_caches(void)
{
	FUZZ_REQUIRE(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0, "flush");
	FUZZ_REQUIRE(mallctl("tcache.flush", NULL, NULL, &tcache_explicit,
	                     sizeof(tcache_explicit)) == 0,
	             "tcache.flush");
	uint64_t e = 1;
	FUZZ_REQUIRE(mallctl("epoch", NULL, NULL, &e, sizeof(e)) == 0, "epoch");
}

static size_t
stats_allocated_checked(void)
{
	size_t allocated = read_size("stats.allocated");
	size_t sums = read_size("stats.arenas.4096.small.allocated") +
	              read_size("stats.arenas.4096.large.allocated");
	FUZZ_REQUIRE(sums == allocated, "small + large %zu, stats.allocated %zu", sums,
	             allocated);
	FUZZ_REQUIRE(read_size("stats.active") >= allocated, "active < allocated");
	FUZZ_REQUIRE(read_size("stats.mapped") >= read_size("stats.active"), "mapped < active");
	return allocated;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	unsigned v;
	size_t len = sizeof(v);
	FUZZ_REQUIRE(mallctl("arenas.narenas", &v, &len, NULL, 0) == 0, "arenas.narenas");
	narenas_auto = v;
	len = sizeof(v);
	FUZZ_REQUIRE(mallctl("arenas.create", &arena_manual, &len, NULL, 0) == 0,
	             "arenas.create");
	len = sizeof(v);
	FUZZ_REQUIRE(mallctl("tcache.create", &tcache_explicit, &len, NULL, 0) == 0,
	             "tcache.create");
	flush_caches();
	allocated_base = stats_allocated_checked();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ctx_t c = {.in = {data, size}, .stride = 1, .first = 0, .main_thread = true};
	for (unsigned n = 0; n < MAX_OPS && !fuzz_done(&c.in); n++)
		op_one(&c);
	overlap_check_all();
	for (unsigned i = 0; i < NSLOTS; i++) {
		if (slots[i].p != NULL)
			free_slot(&c, i, (uint8_t)i);
	}
	flush_caches();
	size_t allocated = stats_allocated_checked();
	FUZZ_REQUIRE(allocated == allocated_base,
	             "stats.allocated %zu after freeing everything, %zu at start", allocated,
	             allocated_base);
	return 0;
}
