/*
 * strata_prog.c — the program of the jeprof tests' strata dumps, profiled by
 * make_strata_data.sh under the just-built lib/libstrata.so (LD_PRELOAD:
 * mallctl is looked up at run time, so the program links no allocator).
 * Each allocating line carries a SITE:<name> marker.
 *
 *   strata_prog <plain dump> <gzip dump, ends in .gz> [<recent allocations>]
 *
 * Live at the dumps, all leaked:
 *   site_big:        8 x 1 MiB (malloc)
 *   site_small:      3000 x 48 B (malloc, called from an always-inlined helper)
 *   site_realloc:    20 x 256 KiB, grown by realloc from 1 KiB
 *   site_aligned:    40 x 16 KiB (posix_memalign, 4 KiB aligned)
 *   jp_shared_alloc: 100 x 4 KiB (malloc in libjpshared.so)
 *   site_thread:     50 x 64 KiB (calloc) in the thread named "jp-worker",
 *                    alive (waiting) while the dumps are written
 * and site_freed's 10000 x 100 B are freed before the dumps.  The main thread
 * is named "jp-main".  Dumps: the plain path, the .gz path, then one under
 * the automatic name (prof.dump with NULL), with no allocation in between;
 * then, given a third path, the ring of recent allocations
 * (prof.recent.dump), whose newest records are jp_shared_alloc's, after
 * site_freed's.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void *jp_shared_alloc(int i);

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static mallctl_fn ctl;
static pthread_barrier_t allocated, dumped;
void *volatile jp_keep[8192];

static void
set_name(const char *name)
{
	if (ctl("thread.prof.name", NULL, NULL, (void *)&name, sizeof(name)) != 0) {
		fprintf(stderr, "strata_prog: thread.prof.name failed\n");
		exit(1);
	}
}

__attribute__((noinline)) void
site_big(void)
{
	for (int i = 0; i < 8; i++)
		jp_keep[i] = malloc(1 << 20); /* SITE:site_big */
}

static inline __attribute__((always_inline)) void *
small_helper(size_t n)
{
	return malloc(n); /* SITE:small_helper */
}

__attribute__((noinline)) void
site_small(void)
{
	for (int i = 0; i < 3000; i++)
		jp_keep[100 + i] = small_helper(48); /* SITE:site_small */
}

__attribute__((noinline)) void
site_realloc(void)
{
	for (int i = 0; i < 20; i++) {
		void *p = malloc(1024);
		jp_keep[3200 + i] = realloc(p, 256 << 10); /* SITE:site_realloc */
	}
}

__attribute__((noinline)) void
site_aligned(void)
{
	for (int i = 0; i < 40; i++) {
		void *p = NULL;
		if (posix_memalign(&p, 4096, 16 << 10) != 0) /* SITE:site_aligned */
			exit(1);
		jp_keep[3300 + i] = p;
	}
}

__attribute__((noinline)) void
site_freed(void)
{
	for (int i = 0; i < 10000; i++) {
		jp_keep[8000] = malloc(100); /* SITE:site_freed */
		free(jp_keep[8000]); /* SITE:site_freed_free */
	}
}

__attribute__((noinline)) static void *
site_thread(void *arg)
{
	(void)arg;
	set_name("jp-worker");
	for (int i = 0; i < 50; i++)
		jp_keep[4000 + i] = calloc(1, 65536); /* SITE:site_thread */
	pthread_barrier_wait(&allocated);
	pthread_barrier_wait(&dumped);
	return NULL;
}

static void
dump(const char *name, const char *path)
{
	if (ctl(name, NULL, NULL, path != NULL ? (void *)&path : NULL,
		path != NULL ? sizeof(path) : 0) != 0) {
		fprintf(stderr, "strata_prog: %s(%s) failed\n", name, path != NULL ? path : "NULL");
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: strata_prog <plain dump> <gzip dump> [<recent allocations>]\n");
		return 2;
	}
	ctl = (mallctl_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "mallctl");
	if (ctl == NULL) {
		fprintf(stderr, "strata_prog: no mallctl (run under LD_PRELOAD=libstrata.so)\n");
		return 1;
	}
	set_name("jp-main");
	pthread_t t;
	if (pthread_barrier_init(&allocated, NULL, 2) != 0 ||
	    pthread_barrier_init(&dumped, NULL, 2) != 0 ||
	    pthread_create(&t, NULL, site_thread, NULL) != 0)
		return 1;
	site_big();
	site_small();
	site_realloc();
	site_aligned();
	site_freed();
	for (int i = 0; i < 100; i++)
		jp_keep[5000 + i] = jp_shared_alloc(i);
	pthread_barrier_wait(&allocated);
	dump("prof.dump", argv[1]);
	dump("prof.dump", argv[2]);
	dump("prof.dump", NULL);
	if (argc == 4)
		dump("prof.recent.dump", argv[3]);
	pthread_barrier_wait(&dumped);
	return pthread_join(t, NULL) != 0;
}
