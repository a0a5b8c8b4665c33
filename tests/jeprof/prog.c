/*
 * prog.c — a test program with known allocation sites, profiled by
 * make_data.sh under Debian's jemalloc.  Each allocating line carries a
 * SITE:<name> marker that the tests look up to know the expected file:line.
 *
 * Allocations, all leaked so they are live at the final dump:
 *   leak_big:      <argv[1], default 8> x 1 MiB
 *   leak_small:    3000 x 48 B through an always-inlined helper
 *   jp_shared_alloc (libjpshared.so): 100 x 4 KiB
 *   thread_alloc (a second thread): 50 x 64 KiB
 */
#include <pthread.h>
#include <stdlib.h>

void *jp_shared_alloc(int i);

void *volatile jp_keep[8192];

__attribute__((noinline)) void
leak_big(int n)
{
	for (int i = 0; i < n; i++)
		jp_keep[i] = malloc(1 << 20); /* SITE:leak_big */
}

static inline __attribute__((always_inline)) void *
leak_inline_helper(size_t n)
{
	return malloc(n); /* SITE:leak_inline_helper */
}

__attribute__((noinline)) void
leak_small(void)
{
	for (int i = 0; i < 3000; i++)
		jp_keep[100 + i] = leak_inline_helper(48); /* SITE:leak_small */
}

__attribute__((noinline)) static void *
thread_alloc(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++)
		jp_keep[4000 + i] = calloc(1, 65536); /* SITE:thread_alloc */
	return NULL;
}

int
main(int argc, char **argv)
{
	leak_big(argc > 1 ? atoi(argv[1]) : 8);
	leak_small();
	for (int i = 0; i < 100; i++)
		jp_keep[5000 + i] = jp_shared_alloc(i);
	pthread_t t;
	if (pthread_create(&t, NULL, thread_alloc, NULL) != 0 || pthread_join(t, NULL) != 0)
		return 1;
	return 0;
}
