/*
 * stats_demo.c — a small program to watch strata work from the outside.
 *
 * It is an ordinary C program: built with plain `cc`, not linked against
 * strata, it uses whatever malloc it is given.  Run it under strata to see
 * what the allocator did:
 *
 *     cc -O2 -pthread -o stats_demo samples/stats_demo.c
 *     LD_PRELOAD=lib/libstrata.so MALLOC_CONF=stats_print:true ./stats_demo
 *
 * It allocates a mix of sizes (many small strings and nodes, some page-sized
 * buffers, a few multi-megabyte arrays), from the main thread and from two
 * worker threads, grows some with realloc, frees about half, and prints a
 * summary of its own.  While the blocks are live it asks the allocator for
 * its counters through jemalloc's mallctl() — found at run time, so the
 * program also runs on glibc — and at exit stats_print:true makes strata
 * print its full statistics (per-arena, per-size-class) on stderr.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jemalloc-compatible API, present only when strata (or jemalloc) is
 * loaded; weak, so the program links and runs without it. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

struct node {
	struct node *next;
	char *name;
	double value[4];
};

struct work {
	unsigned seed;
	size_t nodes;	   /* nodes built */
	size_t bytes_live; /* bytes (requested) still allocated at the end */
	struct node *head; /* the list that stays live */
};

static unsigned
next_rand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xffffff;
}

/* Builds a list of small nodes with names of 8..200 bytes, then frees
 * every other node: small size classes, half-empty slabs. */
static void *
build_list(void *arg)
{
	struct work *w = arg;
	struct node *head = NULL;
	for (int i = 0; i < 20000; i++) {
		struct node *n = malloc(sizeof(*n));
		size_t len = 8 + next_rand(&w->seed) % 193;
		if (n == NULL || (n->name = malloc(len)) == NULL) {
			perror("malloc");
			exit(1);
		}
		memset(n->name, 'a' + i % 26, len - 1);
		n->name[len - 1] = '\0';
		n->next = head;
		head = n;
		w->nodes++;
	}
	/* Free every other node. */
	struct node **pp = &head;
	int k = 0;
	while (*pp != NULL) {
		struct node *n = *pp;
		if (k++ % 2 == 0) {
			*pp = n->next;
			free(n->name);
			free(n);
		} else {
			w->bytes_live += sizeof(*n) + strlen(n->name) + 1;
			pp = &n->next;
		}
	}
	w->head = head;
	return NULL;
}

static void
free_list(struct node *n)
{
	while (n != NULL) {
		struct node *next = n->next;
		free(n->name);
		free(n);
		n = next;
	}
}

/* Prints one counter if the allocator has it. */
static void
print_counter(const char *name)
{
	size_t v, len = sizeof(v);
	if (mallctl(name, &v, &len, NULL, 0) == 0)
		printf("  %-16s %12zu bytes\n", name, v);
}

int
main(void)
{
	/* Line-buffered even into a pipe, so our lines come out before the
	 * statistics strata prints at exit. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Two worker threads and the main thread build lists. */
	struct work w[3] = {{.seed = 1}, {.seed = 2}, {.seed = 3}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, build_list, &w[i]);
	build_list(&w[2]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);

	/* Page-sized buffers, grown by realloc; a third are freed. */
	char *buf[64];
	size_t buf_live = 0;
	for (int i = 0; i < 64; i++) {
		size_t n = 4096 + (size_t)i * 512;
		char *p = malloc(n);
		if (p == NULL || (buf[i] = realloc(memset(p, i, n), n * 3)) == NULL) {
			perror("malloc/realloc");
			return 1;
		}
		memset(buf[i], i, n * 3);
	}
	for (int i = 0; i < 64; i++) {
		if (i % 3 == 0) {
			free(buf[i]);
			buf[i] = NULL;
		} else {
			buf_live += (4096 + (size_t)i * 512) * 3;
		}
	}

	/* A few large arrays: 1, 2, 4 and 8 MiB; the two largest are freed. */
	double *big[4];
	for (int i = 0; i < 4; i++) {
		size_t n = ((size_t)1 << 20) << i;
		big[i] = calloc(n / sizeof(double), sizeof(double));
		if (big[i] == NULL) {
			perror("calloc");
			return 1;
		}
		for (size_t k = 0; k < n / sizeof(double); k += 512)
			big[i][k] = (double)k;
	}
	free(big[2]);
	free(big[3]);

	size_t nodes = w[0].nodes + w[1].nodes + w[2].nodes;
	size_t live =
	    w[0].bytes_live + w[1].bytes_live + w[2].bytes_live + buf_live + 3 * ((size_t)1 << 20);
	printf("stats_demo: built %zu list nodes in 3 threads, 64 buffers, 4 large arrays\n",
	       nodes);
	printf("stats_demo: about %zu bytes requested are live now\n", live);

	if (mallctl != NULL) {
		/* Refresh the allocator's statistics, then read a few. */
		uint64_t epoch = 1;
		size_t len = sizeof(epoch);
		mallctl("epoch", &epoch, &len, &epoch, len);
		const char *version = NULL;
		len = sizeof(version);
		if (mallctl("version", &version, &len, NULL, 0) == 0)
			printf("allocator: %s, while those blocks are live:\n", version);
		print_counter("stats.allocated");
		print_counter("stats.active");
		print_counter("stats.metadata");
		print_counter("stats.resident");
		print_counter("stats.mapped");
		print_counter("stats.retained");
	} else {
		printf("allocator: not strata (run with LD_PRELOAD=lib/libstrata.so to see its "
		       "stats)\n");
	}

	/* Clean up everything, as a tidy program does. */
	for (int i = 0; i < 3; i++)
		free_list(w[i].head);
	for (int i = 0; i < 64; i++)
		free(buf[i]);
	free(big[0]);
	free(big[1]);
	printf("stats_demo: all freed; with MALLOC_CONF=stats_print:true strata prints its full\n"
	       "statistics on stderr as the program exits.\n");
	return 0;
}
