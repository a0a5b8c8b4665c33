/*
 * tree — build and tear down a large hash map of strings.
 *
 * Each round inserts N entries into a chained hash map: per entry one node
 * (malloc 32 B), a key string (strdup-like, 12–40 B) and a value string
 * (8–200 B); the bucket array doubles by calloc + rehash + free as the map
 * grows.  Then every key is looked up once and the map is torn down in a
 * different random order.  Measures a pointer-heavy, small-object build /
 * teardown as in caches, symbol tables and parsers: three allocations per
 * entry, frees in an order unrelated to allocation.  Single thread.
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
	struct node *next;
	char *key;
	char *val;
	uint64_t hash;
} node_t;

typedef struct map {
	node_t **b;
	size_t nb, n;
} map_t;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static char *dup_str(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d == NULL)
		abort();
	memcpy(d, s, n + 1);
	return d;
}

/* Key i is a deterministic string of 12–40 characters. */
static size_t make_key(char *buf, uint64_t seed, size_t i)
{
	uint64_t r = prng_seed(seed, i);
	int len = snprintf(buf, 64, "k%zx-", i);
	size_t want = prng_range(&r, 12, 40);
	while ((size_t)len < want)
		buf[len++] = (char)('a' + prng_below(&r, 26));
	buf[len] = '\0';
	return (size_t)len;
}

static void map_grow(map_t *m)
{
	size_t nb = m->nb ? m->nb * 2 : 1024;
	node_t **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		abort();
	for (size_t i = 0; i < m->nb; i++) {
		node_t *e = m->b[i];
		while (e) {
			node_t *next = e->next;
			size_t j = e->hash & (nb - 1);
			e->next = b[j];
			b[j] = e;
			e = next;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "tree");
	size_t n = o.quick ? 100000 : 400000;
	int rounds = o.quick ? 1 : 2;
	char key[64], val[256];
	uint64_t acc = 0;
	uint32_t *perm = malloc(n * sizeof(*perm));
	if (perm == NULL)
		abort();

	double t0 = bench_now();
	for (int round = 0; round < rounds; round++) {
		map_t m = { 0 };
		uint64_t kseed = prng_seed(o.seed, 300 + (uint64_t)round);
		uint64_t r = prng_seed(o.seed, 400 + (uint64_t)round);
		for (size_t i = 0; i < n; i++) {
			if (m.n >= m.nb)
				map_grow(&m);
			size_t kl = make_key(key, kseed, i);
			size_t vl = prng_range(&r, 8, 200);
			memset(val, 'a' + (int)(i % 26), vl);
			val[vl] = '\0';
			node_t *e = malloc(sizeof(*e));
			if (e == NULL)
				abort();
			e->key = dup_str(key, kl);
			e->val = dup_str(val, vl);
			e->hash = hash_str(key);
			size_t j = e->hash & (m.nb - 1);
			e->next = m.b[j];
			m.b[j] = e;
			m.n++;
		}
		for (size_t i = 0; i < n; i++) {
			make_key(key, kseed, i);
			uint64_t h = hash_str(key);
			node_t *e = m.b[h & (m.nb - 1)];
			while (e && (e->hash != h || strcmp(e->key, key) != 0))
				e = e->next;
			if (e == NULL)
				abort();
			acc += (unsigned char)e->val[0];
			perm[i] = (uint32_t)i;
		}
		bench_shuffle(perm, n, &r);
		for (size_t i = 0; i < n; i++) {
			make_key(key, kseed, perm[i]);
			uint64_t h = hash_str(key);
			node_t **pp = &m.b[h & (m.nb - 1)];
			while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
				pp = &(*pp)->next;
			node_t *e = *pp;
			if (e == NULL)
				abort();
			*pp = e->next;
			free(e->key);
			free(e->val);
			free(e);
		}
		free(m.b);
	}
	double t1 = bench_now();
	bench_sink += acc;

	char extra[96];
	snprintf(extra, sizeof(extra), "entries=%zu rounds=%d", n, rounds);
	bench_report("tree", t1 - t0, extra);
	free(perm);
	return 0;
}
