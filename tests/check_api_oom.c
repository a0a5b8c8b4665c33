/*
 * check_api_oom.c — out of memory through the public API (docs/compat.md,
 * "Out of memory").  The address space is limited (RLIMIT_AS) to what the
 * test process uses plus a little headroom, inside the test's own forked
 * process or a re-executed one: every allocating entry point then fails
 * with NULL and ENOMEM, for large sizes at once and for small ones once
 * the headroom is filled; metadata that cannot grow (a new arena, a new
 * thread's state, the profiler's stacks) fails cleanly; freeing
 * everything gives the memory back to later allocations, and what was
 * written before is intact.  The same under memory_limit, under several
 * threads at once, and with xmalloc:true, which aborts with jemalloc's
 * message instead.
 *
 * While the address space is exhausted nothing calls into Check (its
 * messages allocate): results are kept in static memory and asserted after
 * the memory is freed.  Block lists live in mmap'd memory taken before the
 * limit is set.  A re-executed child (OOM_CHILD_ENV names its scenario)
 * runs before main, from a constructor, and reports through its exit
 * status and standard output.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>

#include "api_util.h"
#include "as_util.h"
#include "thread_util.h"

#define OOM_CHILD_ENV "STRATA_OOM_CHILD"
/* Far beyond any headroom: fails at once. */
#define HUGE_REQUEST ((size_t)256 << 20)
#define HEADROOM ((size_t)32 << 20)
#define FILL_SIZE 1024
#define MAX_BLOCKS ((size_t)1 << 18)
/* The bytes of each block that blocks_fill writes (the smallest size it
 * is asked for). */
#define PATTERN_BYTES 16

/* Blocks kept while the address space fills: their list is mapped before
 * the limit, so that it needs no allocation. */
typedef struct blocks {
	void **p;
	size_t n;
} blocks_t;

static blocks_t
blocks_new(void)
{
	void *m = mmap(NULL, MAX_BLOCKS * sizeof(void *), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m == MAP_FAILED)
		abort();
	return (blocks_t){m, 0};
}

static void
blocks_delete(blocks_t *b)
{
	munmap(b->p, MAX_BLOCKS * sizeof(void *));
}

/* Allocates size-byte blocks, each filled with its pattern, until malloc
 * fails; how many it got.  *err: errno of the failure (0: none). */
static size_t
blocks_fill(blocks_t *b, size_t size, int *err)
{
	size_t before = b->n;
	*err = 0;
	while (b->n < MAX_BLOCKS) {
		errno = 0;
		void *p = malloc(size);
		if (p == NULL) {
			*err = errno;
			break;
		}
		memset(p, (int)(b->n & 0xff), PATTERN_BYTES);
		b->p[b->n++] = p;
	}
	return b->n - before;
}

/* Frees every block; false if one's first bytes changed (check: they
 * were written by blocks_fill). */
static bool
blocks_free(blocks_t *b, bool check)
{
	bool intact = true;
	for (size_t i = 0; i < b->n; i++) {
		if (check && first_not(b->p[i], 0, PATTERN_BYTES, (unsigned char)(i & 0xff)) !=
		             SIZE_MAX)
			intact = false;
		free(b->p[i]);
	}
	b->n = 0;
	return intact;
}

/* ------------------------------------------------ the failures, recorded */

/* Results of one scenario, kept in static memory while nothing can be
 * allocated, checked afterwards.  what: the first failed expectation. */
static char oom_failure[512];

#define OOM_EXPECT(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond) && oom_failure[0] == '\0')                                             \
			snprintf(oom_failure, sizeof(oom_failure), __VA_ARGS__);                   \
	} while (0)

/* Blocks an entry point got before it failed (the class asked for may
 * have had room in slabs made earlier); freed after each check. */
static blocks_t got;

/*
 * Every allocating entry point asked for size bytes, again until it
 * fails: the failure is NULL (posix_memalign: ENOMEM) with errno ENOMEM
 * (rallocx and posix_memalign leave errno alone, as in jemalloc); old (a
 * live block of old_size bytes, pattern 7) is intact after the failed
 * resizes, which come after malloc has drained the class.
 */
static void
expect_every_entry_fails(size_t size, void *old, size_t old_size)
{
	void *p;
	int err;
#define TRY(label, call)                                                                           \
	do {                                                                                       \
		do {                                                                               \
			errno = 0;                                                                 \
			p = (call);                                                                \
			err = errno;                                                               \
		} while (p != NULL && got.n < MAX_BLOCKS && (got.p[got.n++] = p) != NULL);       \
		OOM_EXPECT(p == NULL && err == ENOMEM, "%s(%zu): %p, errno %d", label, size, p,  \
		           err);                                                                   \
	} while (0)
	TRY("malloc", malloc(hide(size)));
	TRY("realloc", realloc(launder(old), hide(size)));
	TRY("reallocarray", reallocarray(launder(old), 1, hide(size)));
	TRY("calloc", calloc(1, hide(size)));
	TRY("aligned_alloc", aligned_alloc(16, hide(size)));
	TRY("memalign", memalign(8, hide(size)));
	TRY("valloc", valloc(hide(size)));
	TRY("pvalloc", pvalloc(hide(size)));
	TRY("mallocx", mallocx(hide(size), MALLOCX_ZERO));
	TRY("mallocx aligned", mallocx(hide(size), MALLOCX_ALIGN(4096)));
#undef TRY
	void *q = rallocx(launder(old), hide(size), 0);
	OOM_EXPECT(q == NULL, "rallocx(%zu) returned %p", size, q);
	do {
		p = NULL;
		err = posix_memalign(&p, sizeof(void *), hide(size));
	} while (err == 0 && got.n < MAX_BLOCKS && (got.p[got.n++] = p) != NULL);
	OOM_EXPECT(err == ENOMEM && p == NULL, "posix_memalign(%zu): %d, %p", size, err, p);
	OOM_EXPECT(first_mismatch(old, old_size, 7) == SIZE_MAX,
	           "the block of a failed resize changed");
	free(q);
	for (size_t i = 0; i < got.n; i++)
		free(got.p[i]);
	got.n = 0;
}

/*
 * The scenario of the exhaustion tests: under a headroom of HEADROOM
 * bytes, large requests fail; FILL_SIZE blocks fill the address space
 * until malloc fails; then every entry point fails for small sizes too
 * (each size's class drained first: its slabs may have had room); then
 * everything is freed, and a large block and as many small ones as before
 * fit again.  Leaves oom_failure empty when all held.
 */
static void
exhaust_and_recover(void)
{
	static const size_t small[] = {16, 48, 160, 640, 3072, 12288};
	blocks_t b = blocks_new(), drain = blocks_new();
	got = blocks_new();
	void *old = malloc(300);
	fill(old, 300, 7);
	/* The purger threads' stacks (8 MiB each) take address space when
	 * they start: started now, they are not counted in the headroom. */
	bool on = true;
	mallctl("background_thread", NULL, NULL, &on, sizeof(on));
	as_limit(HEADROOM);
	expect_every_entry_fails(HUGE_REQUEST, old, 300);
	int err;
	size_t first = blocks_fill(&b, FILL_SIZE, &err);
	OOM_EXPECT(first > 0 && err == ENOMEM, "the fill got %zu blocks, errno %d", first, err);
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		blocks_fill(&drain, small[i], &err);
		OOM_EXPECT(err == ENOMEM, "draining %zu: errno %d", small[i], err);
		expect_every_entry_fails(small[i], old, 300);
	}
	OOM_EXPECT(blocks_free(&drain, true), "a drained block changed");
	OOM_EXPECT(blocks_free(&b, true), "a block written before the failures changed");
	void *big = malloc(HEADROOM / 8);
	OOM_EXPECT(big != NULL, "no %zu-byte block after freeing everything", HEADROOM / 8);
	free(big);
	size_t again = blocks_fill(&b, FILL_SIZE, &err);
	OOM_EXPECT(again >= first - first / 16, "after freeing: %zu blocks, before %zu", again,
	           first);
	blocks_free(&b, true);
	as_unlimit();
	OOM_EXPECT(first_mismatch(old, 300, 7) == SIZE_MAX, "the old block changed");
	free(old);
	blocks_delete(&b);
	blocks_delete(&drain);
	blocks_delete(&got);
}

START_TEST(test_exhaustion_and_recovery)
{
	exhaust_and_recover();
	ck_assert_msg(oom_failure[0] == '\0', "%s", oom_failure);
}
END_TEST

/* ------------------------------------------------ metadata */

struct thread_try {
	struct gate *go; /* NULL: start at once */
	void *small, *large;
	int small_err;
	int flush_ret;
};

/* A thread's first allocations: its state and cache are set up then. */
static void *
thread_try_alloc(void *arg)
{
	struct thread_try *t = arg;
	if (t->go != NULL && !gate_wait(t->go))
		return NULL;
	errno = 0;
	t->small = malloc(200);
	t->small_err = errno;
	t->large = malloc(HUGE_REQUEST);
	t->flush_ret = mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	free(t->small);
	return NULL;
}

/*
 * With the address space exhausted, what needs new metadata fails cleanly:
 * new arenas (arenas.create: EAGAIN once their metadata finds no room, as
 * jemalloc), a new thread
 * (its state and cache: it allocates or gets NULL with ENOMEM), a size
 * class and an alignment never used before.  After freeing everything each
 * of them works.
 */
START_TEST(test_metadata_exhaustion)
{
	static struct gate go = GATE_INIT;
	struct thread_try t = {.go = &go};
	pthread_t th;
	/* A thread that exists but has not allocated yet. */
	ck_assert_int_eq(pthread_create(&th, NULL, thread_try_alloc, &t), 0);
	blocks_t b = blocks_new();
	as_limit(HEADROOM);
	int err;
	blocks_fill(&b, FILL_SIZE, &err);
	blocks_fill(&b, 16, &err);
	/* Arenas until their metadata finds no room (some fit in the base's
	 * last chunk); the last one allocates or fails cleanly. */
	unsigned arena = 0, created = 0;
	size_t len = sizeof(arena);
	int create_ret = 0;
	while (create_ret == 0 && created < 256) {
		create_ret = mallctl("arenas.create", &arena, &len, NULL, 0);
		created += create_ret == 0;
	}
	void *in_arena = created > 0 ? mallocx(64, MALLOCX_ARENA(arena)) : NULL;
	gate_open(&go);
	struct timespec deadline = deadline_in(THREAD_WAIT_S);
	int join_ret = pthread_timedjoin_np(th, NULL, &deadline);
	errno = 0;
	void *unused_class = mallocx(hide(5 << 20) + 1, MALLOCX_ALIGN(4 << 20));
	int unused_err = errno;
	blocks_free(&b, true);
	free(in_arena);

	ck_assert_msg(create_ret == EAGAIN, "arenas.create: %d after %u", create_ret, created);
	ck_assert_int_eq(join_ret, 0);
	ck_assert_msg(t.small != NULL || t.small_err == ENOMEM, "new thread: %p, errno %d", t.small,
	              t.small_err);
	ck_assert_ptr_null(t.large);
	/* EFAULT: jemalloc's answer for a thread without a cache */
	ck_assert_msg(t.flush_ret == 0 || t.flush_ret == EFAULT, "flush: %d", t.flush_ret);
	ck_assert_ptr_null(unused_class);
	ck_assert_int_eq(unused_err, ENOMEM);

	/* Everything freed and the address space grown again (memory freed
	 * elsewhere): the same requests succeed, and nothing was left broken.
	 * (A new arena gets none of the space the others freed; docs/compat.md,
	 * "Out of memory".) */
	as_limit(HEADROOM);
	len = sizeof(arena);
	ck_assert_int_eq(mallctl("arenas.create", &arena, &len, NULL, 0), 0);
	void *p = mallocx(64, MALLOCX_ARENA(arena));
	ck_assert_ptr_nonnull(p);
	free(p);
	t = (struct thread_try){0};
	ck_assert_int_eq(pthread_create(&th, NULL, thread_try_alloc, &t), 0);
	join_bounded(th);
	ck_assert_ptr_nonnull(t.small);
	ck_assert_int_eq(t.flush_ret, 0);
	p = mallocx(hide(5 << 20) + 1, MALLOCX_ALIGN(4 << 20));
	ck_assert_ptr_nonnull(p);
	free(p);
	as_unlimit();
	blocks_delete(&b);
}
END_TEST

/* ------------------------------------------------ threads */

#define NTHREADS 4

struct filler {
	blocks_t b;
	struct gate *go;
	size_t first, second;
	int first_err, second_err;
	bool intact;
};

/* Fills until NULL, frees every other block, fills again until NULL (the
 * holes it made), then frees everything. */
static void *
filler_run(void *arg)
{
	struct filler *f = arg;
	if (!gate_wait(f->go))
		return NULL;
	f->first = blocks_fill(&f->b, FILL_SIZE, &f->first_err);
	size_t kept = 0;
	for (size_t i = 0; i < f->b.n; i++) {
		if (i % 2 == 0)
			f->b.p[kept++] = f->b.p[i];
		else
			free(f->b.p[i]);
	}
	f->b.n = kept;
	f->second = blocks_fill(&f->b, FILL_SIZE, &f->second_err);
	for (size_t i = 0; i < f->b.n; i++)
		free(f->b.p[i]);
	f->b.n = 0;
	return NULL;
}

/* Threads meet the exhausted address space together: each gets NULL with
 * ENOMEM, twice, nobody deadlocks, and once they freed everything this
 * thread allocates most of the headroom, large blocks once the address
 * space grows. */
START_TEST(test_threads_exhaust_together)
{
	static struct gate go = GATE_INIT;
	static struct filler f[NTHREADS];
	pthread_t th[NTHREADS];
	blocks_t b = blocks_new();
	bool on = true; /* the purger threads' stacks, out of the headroom */
	mallctl("background_thread", NULL, NULL, &on, sizeof(on));
	for (int i = 0; i < NTHREADS; i++) {
		f[i] = (struct filler){.b = blocks_new(), .go = &go};
		ck_assert_int_eq(pthread_create(&th[i], NULL, filler_run, &f[i]), 0);
	}
	as_limit(HEADROOM);
	gate_open(&go);
	for (int i = 0; i < NTHREADS; i++)
		join_bounded(th[i]);
	/* Threads take each other's holes (sharing an arena, borrowing from
	 * another when theirs is full, in their first fill or their second):
	 * no count is bound to another's. */
	size_t second = 0;
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_msg(f[i].first_err == ENOMEM && f[i].second_err == ENOMEM,
		              "thread %d: errno %d then %d", i, f[i].first_err, f[i].second_err);
		second += f[i].second;
		blocks_delete(&f[i].b);
	}
	ck_assert_uint_gt(second, 0);
	/* All freed: this thread gets most of the headroom, whichever arenas
	 * hold it. */
	int err;
	size_t after = blocks_fill(&b, FILL_SIZE, &err);
	blocks_free(&b, true);
	blocks_delete(&b);
	ck_assert_msg(after >= HEADROOM / FILL_SIZE / 4 * 3, "%zu blocks after", after);
	void *p = malloc(100);
	ck_assert_ptr_nonnull(p);
	free(p);
	as_limit(HEADROOM);
	p = malloc(HEADROOM / 2);
	ck_assert_ptr_nonnull(p);
	free(p);
	as_unlimit();
}
END_TEST

/* ------------------------------------------------ space of another arena */

struct arena_filler {
	blocks_t b;
	struct gate *go;
	unsigned arena;
	int set_ret;
	size_t filled;
};

/* On its own arena: fills the address space, then frees it all. */
static void *
arena_filler_run(void *arg)
{
	struct arena_filler *f = arg;
	f->set_ret = mallctl("thread.arena", NULL, NULL, &f->arena, sizeof(f->arena));
	if (f->set_ret != 0 || !gate_wait(f->go))
		return NULL;
	int err;
	f->filled = blocks_fill(&f->b, FILL_SIZE, &err);
	blocks_free(&f->b, true);
	return NULL;
}

/* The address space another arena mapped and freed serves this thread's
 * arena when that one cannot map more: before, the thread failed with
 * 30 MiB free in the other arena. */
START_TEST(test_other_arena_space_serves)
{
	static struct gate go = GATE_INIT;
	static struct arena_filler f;
	f = (struct arena_filler){.b = blocks_new(), .go = &go};
	f.arena = read_unsigned("thread.arena") == 1 ? 2 : 1;
	bool on = true;
	mallctl("background_thread", NULL, NULL, &on, sizeof(on));
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, arena_filler_run, &f), 0);
	as_limit(HEADROOM);
	gate_open(&go);
	join_bounded(th);
	int err;
	size_t here = blocks_fill(&f.b, FILL_SIZE, &err);
	blocks_free(&f.b, true);
	as_unlimit();
	blocks_delete(&f.b);
	ck_assert_int_eq(f.set_ret, 0);
	ck_assert_uint_gt(f.filled, HEADROOM / FILL_SIZE / 2);
	ck_assert_int_eq(err, ENOMEM);
	ck_assert_msg(here >= f.filled - f.filled / 8, "%zu blocks here, %zu in arena %u", here,
	              f.filled, f.arena);
}
END_TEST

/* ------------------------------------------------ re-executed children */

/* The child's scenarios: what it runs once strata has initialized. */
static void
child_exhaust(void)
{
	exhaust_and_recover();
	printf("%s\n", oom_failure[0] == '\0' ? "ok" : oom_failure);
	fflush(stdout);
	_exit(oom_failure[0] == '\0' ? 0 : 1);
}

/* xmalloc: the entry point named fails under the limit; with xmalloc:true
 * it aborts, else the child exits 0. */
static void
child_xmalloc(const char *entry)
{
	void *old = malloc(64);
	as_limit(HEADROOM);
	void *p = NULL;
	size_t huge = hide(HUGE_REQUEST);
	if (strcmp(entry, "malloc") == 0)
		p = malloc(huge);
	else if (strcmp(entry, "calloc") == 0)
		p = calloc(huge, 1);
	else if (strcmp(entry, "calloc_overflow") == 0)
		p = calloc(huge, SIZE_MAX / 2);
	else if (strcmp(entry, "realloc") == 0)
		p = realloc(launder(old), huge);
	else if (strcmp(entry, "realloc_null") == 0)
		p = realloc(launder(NULL), huge);
	else if (strcmp(entry, "reallocarray") == 0)
		p = reallocarray(launder(old), huge, SIZE_MAX / 2);
	else if (strcmp(entry, "posix_memalign") == 0)
		(void)posix_memalign(&p, 64, huge);
	else if (strcmp(entry, "aligned_alloc") == 0)
		p = aligned_alloc(4096, huge);
	else if (strcmp(entry, "memalign") == 0)
		p = memalign(4096, huge);
	else if (strcmp(entry, "valloc") == 0)
		p = valloc(huge);
	else if (strcmp(entry, "pvalloc") == 0)
		p = pvalloc(huge);
	else if (strcmp(entry, "mallocx") == 0)
		p = mallocx(huge, MALLOCX_ZERO);
	else if (strcmp(entry, "rallocx") == 0)
		p = rallocx(launder(old), huge, 0);
	else
		_exit(3);
	_exit(p == NULL ? 0 : 2);
}

/*
 * The profiler under exhaustion: every allocation is sampled
 * (lg_prof_sample:0), from many distinct stacks (recursion depths), until
 * memory runs out: each allocation succeeds or fails with ENOMEM, with
 * the stack table unable to grow; a dump then succeeds or fails with an
 * error code; after freeing, objects are sampled again (the dump counts
 * them).
 */
static blocks_t prof_blocks;
static int prof_fill_err;

__attribute__((noinline)) static void
prof_fill_at(unsigned depth)
{
	if (depth > 0) {
		prof_fill_at(depth - 1);
		__asm__ volatile("" ::: "memory"); /* no tail call: a distinct stack */
		return;
	}
	errno = 0;
	void *p = malloc(100);
	if (p == NULL) {
		prof_fill_err = errno;
		return;
	}
	prof_blocks.p[prof_blocks.n++] = p;
}

/* The objects a plain-text dump at path counts in its t*: line; -1 when
 * unreadable. */
static long long
dump_objects(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	char line[256];
	long long objs = -1, bytes;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " t*: %lld: %lld", &objs, &bytes) == 2)
			break;
	fclose(f);
	return objs;
}

static void
child_prof(const char *dir)
{
	char path[256], fail[256];
	snprintf(path, sizeof(path), "%s/oom.heap", dir);
	prof_blocks = blocks_new();
	as_limit(HEADROOM);
	for (unsigned i = 0; prof_fill_err == 0 && prof_blocks.n < MAX_BLOCKS; i++)
		prof_fill_at(i % 64);
	const char *p = path;
	int dump_ret = mallctl("prof.dump", NULL, NULL, &p, sizeof(p));
	blocks_free(&prof_blocks, false);
	fail[0] = '\0';
	if (prof_fill_err != ENOMEM)
		snprintf(fail, sizeof(fail), "fill: errno %d after %zu", prof_fill_err,
		         prof_blocks.n);
	else if (dump_ret != 0 && dump_ret != ENOMEM && dump_ret != EFAULT && dump_ret != EAGAIN)
		snprintf(fail, sizeof(fail), "prof.dump under exhaustion: %d", dump_ret);
	/* Recovery: 100 live objects, all sampled, are in the next dump. */
	void *live[100];
	for (int i = 0; i < 100; i++)
		live[i] = malloc(100);
	snprintf(path, sizeof(path), "%s/after.heap", dir);
	p = path;
	int ret = mallctl("prof.dump", NULL, NULL, &p, sizeof(p));
	long long objs = dump_objects(path);
	if (fail[0] == '\0' && (ret != 0 || objs < 100))
		snprintf(fail, sizeof(fail), "after recovery: dump %d, %lld objects", ret, objs);
	for (int i = 0; i < 100; i++)
		free(live[i]);
	as_unlimit();
	printf("dump under exhaustion: %d; %s\n", dump_ret, fail[0] == '\0' ? "ok" : fail);
	fflush(stdout);
	_exit(fail[0] == '\0' ? 0 : 1);
}

/* A failed allocation leaves the sampling as it was: with every byte
 * sampled (lg_prof_sample:0), the 100 objects allocated after a failed
 * 256 MiB request are all in the dump.  (The failure took its bytes back
 * from the thread's count but not from the sample's clock: the next 256
 * MiB were never sampled.) */
static void
child_prof_after_failure(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/after_failure.heap", dir);
	as_limit(HEADROOM);
	void *huge = malloc(hide(HUGE_REQUEST));
	as_unlimit();
	void *live[100];
	for (int i = 0; i < 100; i++)
		live[i] = launder(malloc(100));
	const char *p = path;
	int ret = mallctl("prof.dump", NULL, NULL, &p, sizeof(p));
	long long objs = dump_objects(path);
	for (int i = 0; i < 100; i++)
		free(live[i]);
	printf("%p, dump %d, %lld objects\n", huge, ret, objs);
	fflush(stdout);
	_exit(huge == NULL && ret == 0 && objs == 100 ? 0 : 1);
}

__attribute__((constructor)) static void
oom_child(void)
{
	const char *mode = getenv(OOM_CHILD_ENV);
	if (mode == NULL)
		return;
	if (strcmp(mode, "exhaust") == 0)
		child_exhaust();
	else if (strncmp(mode, "xmalloc:", 8) == 0)
		child_xmalloc(mode + 8);
	else if (strncmp(mode, "prof:", 5) == 0)
		child_prof(mode + 5);
	else if (strncmp(mode, "prof_after_failure:", 19) == 0)
		child_prof_after_failure(mode + 19);

	_exit(4);
}

/* Runs this program again in mode with MALLOC_CONF=conf; its wait status,
 * with its standard output and error in out. */
static int
run_child(const char *mode, const char *conf, char *out, size_t size)
{
	return child_run_self_conf(OOM_CHILD_ENV, mode, conf, CHILD_STDERR_PIPE, NULL, out, size);
}

/* memory_limit (its purges at the limit) changes nothing of the above:
 * NULL with ENOMEM when the address space runs out, then recovery. */
START_TEST(test_memory_limit_exhaustion)
{
	char out[1024];
	int status = run_child("exhaust", "memory_limit:16m,dirty_decay_ms:0", out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status,
	              out);
	ck_assert_str_eq(out, "ok\n");
}
END_TEST

static const struct {
	const char *entry, *message;
} xmalloc_cases[] = {
	{"malloc", "Error in malloc(): out of memory"},
	{"calloc", "Error in calloc(): out of memory"},
	{"calloc_overflow", "Error in calloc(): out of memory"},
	{"realloc", "Error in realloc(): out of memory"},
	{"realloc_null", "Error in realloc(): out of memory"},
	{"reallocarray", "Error in reallocarray(): out of memory"},
	{"posix_memalign", "Error allocating aligned memory: out of memory"},
	{"aligned_alloc", "Error allocating aligned memory: out of memory"},
	{"memalign", "Error allocating aligned memory: out of memory"},
	{"valloc", "Error allocating aligned memory: out of memory"},
	{"pvalloc", "Error allocating aligned memory: out of memory"},
	{"mallocx", "Error in mallocx(): out of memory"},
	{"rallocx", "Error in rallocx(): out of memory"},
};
#define NXMALLOC_CASES (sizeof(xmalloc_cases) / sizeof(xmalloc_cases[0]))

/* xmalloc:true: each entry point's failure aborts with jemalloc's message,
 * alone on standard error; xmalloc:false: NULL, and the child exits 0. */
START_TEST(test_xmalloc_messages)
{
	const char *entry = xmalloc_cases[_i].entry;
	char mode[64], out[1024], expected[128];
	snprintf(mode, sizeof(mode), "xmalloc:%s", entry);
	int status = run_child(mode, "xmalloc:false", out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %#x: %s", entry,
	              status, out);
	ck_assert_str_eq(out, "");
	status = run_child(mode, "xmalloc:true", out, sizeof(out));
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s: status %#x: %s",
	              entry, status, out);
	snprintf(expected, sizeof(expected), "<strata>: %s\n", xmalloc_cases[_i].message);
	ck_assert_str_eq(out, expected);
}
END_TEST

/* The test process itself becomes the xmalloc:true child: Check sees the
 * abort. */
START_TEST(test_xmalloc_aborts)
{
	char *env[] = {OOM_CHILD_ENV "=xmalloc:malloc", "MALLOC_CONF=xmalloc:true", NULL};
	char *argv[] = {"strata-oom-child", NULL};
	ck_assert(read_bool("config.xmalloc"));
	ck_assert(!read_bool("opt.xmalloc"));
	int null = open("/dev/null", O_WRONLY); /* the message is test_xmalloc_messages' */
	ck_assert_int_ge(null, 0);
	dup2(null, STDERR_FILENO);
	execve("/proc/self/exe", argv, env);
	ck_abort_msg("execve: %s", strerror(errno));
}
END_TEST

/* Runs the child mode "<mode>:<a fresh folder>" with every allocation
 * sampled and fails the test unless it exits 0; its output in out. */
static void
run_prof_child(const char *mode, char *out, size_t size)
{
	char dir[] = "/tmp/strata-oom-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char arg[128];
	snprintf(arg, sizeof(arg), "%s:%s", mode, dir);
	int status = run_child(arg, "prof:true,lg_prof_sample:0,prof_final:false", out, size);
	temp_dir_remove(dir);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status,
	              out);
}

START_TEST(test_prof_exhaustion)
{
	char out[1024];
	run_prof_child("prof", out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "; ok\n"));
}
END_TEST

START_TEST(test_prof_sampling_after_failure)
{
	char out[1024];
	run_prof_child("prof_after_failure", out, sizeof(out));
}
END_TEST

/* In a fork child (whose purger threads are wanted again), k blocks of
 * 256 bytes, then mallctl("background_thread", true): the threads'
 * creation allocates (glibc's thread-local storage), and for one k that
 * allocation meets the thread's cache GC event. */
static void
background_start_after(const void *arg)
{
	int k = *(const int *)arg;
	for (int i = 0; i < k; i++)
		launder(malloc(256));
	bool on = true;
	if (mallctl("background_thread", NULL, NULL, &on, sizeof(on)) != 0)
		_exit(1);
}

/* The GC event met while starting the purgers started them again, under
 * the purger lock the mallctl held: the thread hung (found by
 * test_other_arena_space_serves, whose fork child hung there). */
START_TEST(test_background_start_by_mallctl)
{
	char out[256];
	for (int k = 0; k < 256; k++) {
		int status = child_run_capture(background_start_after, &k, out, sizeof(out));
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "k %d: status %#x: %s",
		              k, status, out);
	}
}
END_TEST

#ifdef STRATA_TSAN
static const bool under_tsan = true;
#else
static const bool under_tsan = false;
#endif

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_oom");
	TCase *tc = tcase_create("oom");
	tcase_set_timeout(tc, 60);
	/* ThreadSanitizer's runtime fails (aborts, or stalls) when it cannot
	 * map its own memory, and these leave it none: under it
	 * (tests/tsan.mk) only the tests that ask for one huge block run. */
	if (!under_tsan) {
		tcase_add_test(tc, test_exhaustion_and_recovery);
		tcase_add_test(tc, test_memory_limit_exhaustion);
		tcase_add_test(tc, test_metadata_exhaustion);
		tcase_add_test(tc, test_threads_exhaust_together);
		tcase_add_test(tc, test_other_arena_space_serves);
		tcase_add_test(tc, test_prof_exhaustion);
	}
	tcase_add_loop_test(tc, test_xmalloc_messages, 0, NXMALLOC_CASES);
	tcase_add_test_raise_signal(tc, test_xmalloc_aborts, SIGABRT);
	tcase_add_test(tc, test_prof_sampling_after_failure);
	/* Its children start threads after a multi-threaded fork, which
	 * ThreadSanitizer does not support (tests/tsan.mk). */
	if (!under_tsan)
		tcase_add_test(tc, test_background_start_by_mallctl);
	suite_add_tcase(s, tc);
	return s;
}
