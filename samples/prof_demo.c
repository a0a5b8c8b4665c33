/*
 * prof_demo.c — a small server-like program to profile with strata.
 *
 * It is an ordinary C program: built with plain `cc`, not linked against
 * strata.  Run it under strata with the profiler on, ask it for a heap
 * profile while it runs, and read the profile with jeprof:
 *
 *     cc -O2 -g -pthread -o prof_demo samples/prof_demo.c
 *     LD_PRELOAD=lib/libstrata.so MALLOC_CONF=prof:true,prof_signal:USR2 ./prof_demo 10 &
 *     kill -USR2 <pid>                    # after its "ready" line
 *     bin/jeprof --text ./prof_demo strata.<pid>.0.m0.heap.gz
 *
 * Two worker threads serve made-up requests.  Each request holds a buffer
 * from a shared request-buffer pool while it is in flight, parses into a
 * scratch array freed at once, reads a big lookup table, finds or creates
 * its session in the worker's session cache and appends a line to a shared
 * log ring.  The session cache has a bug: a session evicted while it has an
 * upload pending is unlinked and never freed, so the program leaks slowly.
 * Each kind of memory comes from its own named, never-inlined function, so
 * a heap profile reads as a list of allocation sites:
 *
 *     lookup_table_build     one 16 MiB array, built at start
 *     request_buffer_alloc   32 KiB buffers, 512 in flight, recycled
 *     session_create         1 KiB sessions: 8 MiB cached, plus the leak
 *     log_format             log lines of 100..400 bytes, 32768 kept
 *     parse_request          scratch freed by the same request: not live
 *
 * The program first warms up (a fixed number of requests per worker, as
 * fast as it can), prints its own count of live bytes per site and a line
 * starting "prof_demo: ready", then serves at a slower pace for the number
 * of seconds given (default 10), frees what it can reach and exits.
 *
 * Through jemalloc's mallctl() — declared weak, so the program also runs
 * without strata — it names its threads in heap profiles
 * (thread.prof.name), asks which signal dumps (opt.prof_signal) and
 * installs experimental.hooks.prof_dump to print each profile's file name.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* jemalloc-compatible API, present only when strata (or jemalloc) is
 * loaded; weak, so the program links and runs without it. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

/* An allocation site: never inlined nor cloned, so that it keeps its name
 * in the profile.  (Each one also does some work after malloc returns, so
 * that the call is not turned into a jump and the function stays on the
 * stack.) */
#if defined(__clang__)
#define SITE __attribute__((noinline))
#else
#define SITE __attribute__((noinline, noclone))
#endif

#define NWORKERS 2
#define LOOKUP_ENTRIES ((size_t)4 << 20) /* uint32_t: 16 MiB */
#define INFLIGHT 256                     /* requests in flight per worker */
#define REQBUF_SIZE ((size_t)32 << 10)
#define POOL_SPARE 64             /* spare buffers the pool keeps */
#define SESSION_SLOTS 4096        /* per worker */
#define SESSION_IDS (4 * SESSION_SLOTS)
#define UPLOAD_ONE_IN 32          /* sessions with an upload pending */
#define LOG_SLOTS 32768
#define WARMUP_REQUESTS 150000    /* per worker */
#define BATCH 32                  /* requests between two waits, once ready */

#define MiB(bytes) ((double)(bytes) / (1 << 20))

static void
die(const char *what)
{
	fprintf(stderr, "prof_demo: %s: out of memory\n", what);
	exit(1);
}

/* Live bytes (as requested) per allocation site, and the leak. */
enum { LIVE_LOOKUP, LIVE_REQBUF, LIVE_SESSION, LIVE_LEAKED, LIVE_LOG, NLIVE };
static _Atomic size_t live[NLIVE];
static _Atomic size_t leaked_sessions;

static void
live_add(int site, size_t bytes)
{
	atomic_fetch_add_explicit(&live[site], bytes, memory_order_relaxed);
}

static void
live_sub(int site, size_t bytes)
{
	atomic_fetch_sub_explicit(&live[site], bytes, memory_order_relaxed);
}

static unsigned
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (unsigned)(*s >> 32);
}

/* ------------------------------------------------ the big lookup table */

static uint32_t *lookup;

SITE static uint32_t *
lookup_table_build(size_t n)
{
	uint32_t *t = malloc(n * sizeof(*t));
	if (t == NULL)
		die("lookup table");
	for (size_t i = 0; i < n; i++)
		t[i] = (uint32_t)(i * 2654435761u);
	live_add(LIVE_LOOKUP, n * sizeof(*t));
	return t;
}

/* ------------------------------------------------ the request-buffer pool */

static pthread_mutex_t pool_mtx = PTHREAD_MUTEX_INITIALIZER;
static char *pool[POOL_SPARE];
static unsigned pool_n;

SITE static char *
request_buffer_alloc(void)
{
	char *b = malloc(REQBUF_SIZE);
	if (b == NULL)
		die("request buffer");
	b[0] = '\0';
	live_add(LIVE_REQBUF, REQBUF_SIZE);
	return b;
}

static char *
request_buffer_get(void)
{
	pthread_mutex_lock(&pool_mtx);
	char *b = pool_n > 0 ? pool[--pool_n] : NULL;
	pthread_mutex_unlock(&pool_mtx);
	return b != NULL ? b : request_buffer_alloc();
}

static void
request_buffer_put(char *b)
{
	pthread_mutex_lock(&pool_mtx);
	bool kept = pool_n < POOL_SPARE;
	if (kept)
		pool[pool_n++] = b;
	pthread_mutex_unlock(&pool_mtx);
	if (!kept) {
		free(b);
		live_sub(LIVE_REQBUF, REQBUF_SIZE);
	}
}

/* ------------------------------------------------ the session cache */

struct session {
	uint64_t id;
	unsigned requests;
	bool upload_pending;
	char user[64];
	char attrs[1024 - 64 - 2 * sizeof(uint64_t)];
};
_Static_assert(sizeof(struct session) == 1024, "a session is 1 KiB");

SITE static struct session *
session_create(uint64_t id)
{
	struct session *s = malloc(sizeof(*s));
	if (s == NULL)
		die("session");
	s->id = id;
	s->requests = 0;
	s->upload_pending = id % UPLOAD_ONE_IN == 0;
	snprintf(s->user, sizeof(s->user), "user%llu", (unsigned long long)id);
	memset(s->attrs, 0, sizeof(s->attrs));
	live_add(LIVE_SESSION, sizeof(*s));
	return s;
}

/* The bug: a session with an upload pending is left for the upload to
 * free, and nothing ever does. */
static void
session_evict(struct session *s)
{
	live_sub(LIVE_SESSION, sizeof(*s));
	if (s->upload_pending) {
		live_add(LIVE_LEAKED, sizeof(*s));
		atomic_fetch_add_explicit(&leaked_sessions, 1, memory_order_relaxed);
		return;
	}
	free(s);
}

/* ------------------------------------------------ the log ring */

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char *log_ring[LOG_SLOTS];
static size_t log_next;

SITE static char *
log_format(unsigned worker, uint64_t session, const char *path, unsigned agent_len)
{
	static const char agent[] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
	                            "(KHTML, like Gecko) Chrome/120.0 Safari/537.36 "
	                            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
	                            "(KHTML, like Gecko) Chrome/120.0 Safari/537.36 "
	                            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
	                            "(KHTML, like Gecko) Chrome/120.0 Safari/537.36";
	int len = snprintf(NULL, 0, "worker-%u session=%llu GET %s agent=\"%.*s\"", worker,
	                   (unsigned long long)session, path, (int)agent_len, agent);
	char *line = malloc((size_t)len + 1);
	if (line == NULL)
		die("log line");
	snprintf(line, (size_t)len + 1, "worker-%u session=%llu GET %s agent=\"%.*s\"", worker,
	         (unsigned long long)session, path, (int)agent_len, agent);
	live_add(LIVE_LOG, (size_t)len + 1);
	return line;
}

static void
log_append(char *line)
{
	pthread_mutex_lock(&log_mtx);
	char *old = log_ring[log_next];
	log_ring[log_next] = line;
	log_next = (log_next + 1) % LOG_SLOTS;
	pthread_mutex_unlock(&log_mtx);
	if (old != NULL) {
		live_sub(LIVE_LOG, strlen(old) + 1);
		free(old);
	}
}

/* ------------------------------------------------ requests */

/* Offsets of a request's header lines: scratch, freed by the request. */
SITE static unsigned *
parse_request(const char *req, size_t len)
{
	unsigned *lines = malloc(512 * sizeof(*lines));
	if (lines == NULL)
		die("parse scratch");
	unsigned n = 0;
	lines[n++] = 0;
	for (size_t i = 0; i < len && n < 512; i++)
		if (req[i] == '\n')
			lines[n++] = (unsigned)i + 1;
	lines[511] = n;
	return lines;
}

struct worker {
	unsigned id;
	pthread_t thread;
	uint64_t rand;
	char *inflight[INFLIGHT];
	struct session *sessions[SESSION_SLOTS];
	unsigned long requests;
};

static atomic_bool stopping;
static pthread_barrier_t warmed_up;

static void
handle_request(struct worker *w)
{
	/* Complete one request in flight and start a new one in its place. */
	unsigned slot = next_rand(&w->rand) % INFLIGHT;
	if (w->inflight[slot] != NULL)
		request_buffer_put(w->inflight[slot]);
	char *buf = request_buffer_get();
	w->inflight[slot] = buf;

	uint64_t sid = next_rand(&w->rand) % SESSION_IDS;
	unsigned item = next_rand(&w->rand) % (unsigned)LOOKUP_ENTRIES;
	char path[64];
	snprintf(path, sizeof(path), "/item/%u", lookup[item]);
	int len = snprintf(buf, REQBUF_SIZE, "GET %s HTTP/1.1\nHost: demo\nCookie: s=%llu\n\n",
	                   path, (unsigned long long)sid);
	unsigned *lines = parse_request(buf, (size_t)len);

	struct session **slotp = &w->sessions[sid % SESSION_SLOTS];
	if (*slotp == NULL || (*slotp)->id != sid) {
		if (*slotp != NULL)
			session_evict(*slotp);
		*slotp = session_create(sid);
	}
	(*slotp)->requests++;

	log_append(log_format(w->id, sid, path, 40 + next_rand(&w->rand) % 260));
	free(lines);
	w->requests++;
}

/* Names the calling thread for the profiler (thread.prof.name: shown in
 * the dump's thread lines) and for the system (top, gdb). */
static void
name_thread(const char *name)
{
	if (mallctl != NULL)
		mallctl("thread.prof.name", NULL, NULL, &name, sizeof(name));
	pthread_setname_np(pthread_self(), name);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "worker-%u", w->id);
	name_thread(name);
	for (unsigned i = 0; i < WARMUP_REQUESTS; i++)
		handle_request(w);
	pthread_barrier_wait(&warmed_up);
	/* Steady state: a batch of requests, then a wait for more. */
	struct timespec wait = {0, 1000000};
	while (!atomic_load(&stopping)) {
		for (unsigned i = 0; i < BATCH; i++)
			handle_request(w);
		nanosleep(&wait, NULL);
	}
	return NULL;
}

/* ------------------------------------------------ the profiler, if any */

/* experimental.hooks.prof_dump: called (in strata's dumper thread, or the
 * thread calling prof.dump) with each profile written.  write(2), not
 * stdio: short and safe anywhere. */
static void
on_heap_profile(const char *filename)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "prof_demo: heap profile written: %s\n", filename);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(STDOUT_FILENO, line, (size_t)n);
}

/* Says whether allocations are profiled, and which signal dumps; returns
 * that signal's name ("" when none). */
static const char *
profiler_setup(void)
{
	bool prof = false;
	size_t len = sizeof(prof);
	if (mallctl == NULL || mallctl("opt.prof", &prof, &len, NULL, 0) != 0 || !prof) {
		printf("prof_demo: not profiled (run it under strata: LD_PRELOAD=lib/libstrata.so "
		       "MALLOC_CONF=prof:true,prof_signal:USR2)\n");
		return "";
	}
	size_t lg = 0;
	len = sizeof(lg);
	mallctl("prof.lg_sample", &lg, &len, NULL, 0);
	const char *sig = "none";
	len = sizeof(sig);
	mallctl("opt.prof_signal", &sig, &len, NULL, 0);
	void (*hook)(const char *) = on_heap_profile;
	mallctl("experimental.hooks.prof_dump", NULL, NULL, &hook, sizeof(hook));
	printf("prof_demo: profiled: one sample per %zu KiB allocated, on average "
	       "(lg_prof_sample %zu); dump signal: %s\n",
	       ((size_t)1 << lg) >> 10, lg, sig);
	return strcmp(sig, "none") == 0 ? "" : sig;
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	/* Line-buffered even into a pipe: run_demo.sh waits for "ready". */
	setvbuf(stdout, NULL, _IOLBF, 0);
	double seconds = argc > 1 ? atof(argv[1]) : 10;
	if (argc > 2 || !(seconds >= 0 && seconds <= 3600)) {
		fprintf(stderr, "usage: prof_demo [seconds, 0..3600; default 10]\n");
		return 2;
	}

	name_thread("main");
	const char *sig = profiler_setup();
	lookup = lookup_table_build(LOOKUP_ENTRIES);

	static struct worker workers[NWORKERS];
	pthread_barrier_init(&warmed_up, NULL, NWORKERS + 1);
	for (unsigned i = 0; i < NWORKERS; i++) {
		workers[i].id = i + 1;
		workers[i].rand = 0x9e3779b97f4a7c15ull * (i + 1);
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	pthread_barrier_wait(&warmed_up);

	printf("prof_demo: warmed up (%u requests); live now, as the program counts it:\n",
	       NWORKERS * WARMUP_REQUESTS);
	printf("  lookup_table_build    %6.1f MiB\n", MiB(live[LIVE_LOOKUP]));
	printf("  request_buffer_alloc  %6.1f MiB\n", MiB(live[LIVE_REQBUF]));
	printf("  session_create        %6.1f MiB cached + %.1f MiB leaked\n",
	       MiB(live[LIVE_SESSION]), MiB(live[LIVE_LEAKED]));
	printf("  log_format            %6.1f MiB\n", MiB(live[LIVE_LOG]));
	if (sig[0] != '\0')
		printf("prof_demo: ready, pid %d: serving for %g s; kill -%s %d writes a heap "
		       "profile\n",
		       (int)getpid(), seconds, sig, (int)getpid());
	else
		printf("prof_demo: ready, pid %d: serving for %g s\n", (int)getpid(), seconds);

	double start = now();
	struct timespec rest = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	while (nanosleep(&rest, &rest) != 0)
		;
	atomic_store(&stopping, true);
	unsigned long requests = 0;
	for (unsigned i = 0; i < NWORKERS; i++) {
		pthread_join(workers[i].thread, NULL);
		requests += workers[i].requests;
	}
	double took = now() - start;

	/* Free everything still reachable; the leaked sessions are not. */
	for (unsigned i = 0; i < NWORKERS; i++) {
		for (unsigned k = 0; k < INFLIGHT; k++)
			free(workers[i].inflight[k]);
		for (unsigned k = 0; k < SESSION_SLOTS; k++)
			free(workers[i].sessions[k]);
	}
	for (unsigned i = 0; i < pool_n; i++)
		free(pool[i]);
	for (size_t i = 0; i < LOG_SLOTS; i++)
		free(log_ring[i]);
	free(lookup);
	printf("prof_demo: done: %lu requests in %.1f s; %zu sessions (%.1f MiB) were never "
	       "freed\n",
	       requests, took, (size_t)leaked_sessions, MiB(live[LIVE_LEAKED]));
	return 0;
}
