/*
 * thp — pointer chasing over a large heap of small objects (issue 15): how
 * much of it the allocator gets onto huge pages, what building it costs in
 * page faults, and what the lookups cost per dependent load.
 *
 * Build: until 1 GiB (--quick: 64 MiB) of requested bytes are live, insert
 * entry i into a chained hash table (a 40 B entry, a separately allocated
 * key of 16-48 B and a value of 16-256 B) and, every fourth entry, a node
 * into an unbalanced binary search tree on random 64-bit keys (a 32 B node
 * and a 16-128 B payload).  The two interleave, as a server's indexes do, so
 * the heap is 16-256 B objects of every class mixed.  The bucket array
 * (one calloc, next power of two of bytes/256 buckets) is the only large
 * allocation.  Everything is written when allocated.
 *
 * Lookups: a fixed number of random hash lookups (bucket, the chain's
 * entries, the key compared, the value read) then of tree lookups (root to
 * the node, its payload read), each load depending on the one before.
 * ns_per_access = the lookups' time / the dependent loads they made.
 *
 * Then, the heap still live: Rss and AnonHugePages (/proc/self/smaps_rollup),
 * huge_pct = AnonHugePages / Rss; minor faults of the build (build_minflt)
 * and of the whole run so far (minflt).  time_s is the lookups' time.  The
 * heap is not freed: the process's exit drops it, a teardown is not what
 * this measures.  Fixed seeds; a run takes 6-17 s at full size on the
 * 2-core VM (bench/README.md: huge-page faults are slow there).
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
	struct entry *next;
	char *key;          /* klen bytes, the first 16 the hex of hash */
	unsigned char *val; /* vlen bytes, every one (unsigned char)hash */
	uint64_t hash;      /* mix(i): the table is indexed by its low bits */
	uint32_t klen, vlen;
} entry_t;

typedef struct tnode {
	struct tnode *left, *right;
	uint64_t key;
	unsigned char *payload; /* 16-128 B, the first byte (unsigned char)key */
} tnode_t;

/* A bijection of 64-bit integers (splitmix64's finalizer): distinct indexes
 * give distinct hashes, so keys are unique and can be rebuilt from i. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBULL;
	x ^= x >> 31;
	return x;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL)
		abort();
	return p;
}

/* The key of the entry whose hash is h: 16 hex digits of h, then filler. */
static void key_make(char *k, uint32_t klen, uint64_t h)
{
	static const char hex[] = "0123456789abcdef";
	for (int d = 0; d < 16; d++)
		k[d] = hex[(h >> (60 - 4 * d)) & 15];
	memset(k + 16, 'a' + (int)(h % 26), klen - 16);
}

int main(int argc, char **argv)
{
	bench_opts_t o;
	bench_parse(argc, argv, &o, "thp");
	size_t target = o.quick ? (64u << 20) : (1024u << 20);
	long hash_lookups = o.quick ? 200000 : 3000000;
	long tree_lookups = o.quick ? 40000 : 400000;
	uint64_t salt = prng_seed(o.seed, 1500);

	size_t nbuckets = 1;
	while (nbuckets < target / 256)
		nbuckets <<= 1;
	entry_t **buckets = calloc(nbuckets, sizeof(*buckets));
	if (buckets == NULL)
		abort();
	uint64_t r = prng_seed(o.seed, 1501);
	size_t bytes = nbuckets * sizeof(*buckets), nentries = 0, nnodes = 0;
	tnode_t *root = NULL;

	long flt0 = bench_minflt();
	double t0 = bench_now();
	while (bytes < target) {
		uint64_t h = mix(nentries ^ salt);
		entry_t *e = xmalloc(sizeof(*e));
		e->hash = h;
		e->klen = (uint32_t)prng_range(&r, 16, 48);
		e->vlen = (uint32_t)prng_range(&r, 16, 256);
		e->key = xmalloc(e->klen);
		key_make(e->key, e->klen, h);
		e->val = xmalloc(e->vlen);
		memset(e->val, (unsigned char)h, e->vlen);
		e->next = buckets[h & (nbuckets - 1)];
		buckets[h & (nbuckets - 1)] = e;
		bytes += sizeof(*e) + e->klen + e->vlen;
		if (nentries++ % 4 != 0)
			continue;
		tnode_t *n = xmalloc(sizeof(*n));
		n->left = n->right = NULL;
		n->key = mix(nnodes++ ^ ~salt);
		size_t plen = prng_range(&r, 16, 128);
		n->payload = xmalloc(plen);
		memset(n->payload, (unsigned char)n->key, plen);
		bytes += sizeof(*n) + plen;
		tnode_t **link = &root;
		while (*link != NULL)
			link = n->key < (*link)->key ? &(*link)->left : &(*link)->right;
		*link = n;
	}
	double t1 = bench_now();
	long flt1 = bench_minflt();

	/* Lookups: every one finds its entry (the check below aborts if not). */
	uint64_t acc = 0, loads = 0;
	char kbuf[48];
	for (long q = 0; q < hash_lookups; q++) {
		uint64_t h = mix(prng_below(&r, nentries) ^ salt);
		entry_t *e = buckets[h & (nbuckets - 1)];
		while (e != NULL && e->hash != h) {
			e = e->next;
			loads++;
		}
		if (e == NULL)
			abort();
		key_make(kbuf, e->klen, h);
		if (memcmp(e->key, kbuf, e->klen) != 0)
			abort();
		acc += e->val[e->vlen - 1];
		loads += 4; /* the bucket, the chain's first entry, the key, the value */
	}
	double t2 = bench_now();
	for (long q = 0; q < tree_lookups; q++) {
		uint64_t k = mix(prng_below(&r, nnodes) ^ ~salt);
		tnode_t *n = root;
		while (n != NULL && n->key != k) {
			n = k < n->key ? n->left : n->right;
			loads++;
		}
		if (n == NULL)
			abort();
		acc += n->payload[0];
		loads += 2; /* the root, the payload */
	}
	double t3 = bench_now();
	bench_sink += acc;

	long rss_kb, huge_kb;
	bench_huge_kb(&rss_kb, &huge_kb);
	char extra[512];
	snprintf(extra, sizeof(extra),
		 "ns_per_access=%.2f hash_ns=%.1f tree_ns=%.1f build_s=%.3f "
		 "build_minflt=%ld minflt=%ld rss_kb=%ld anon_huge_kb=%ld huge_pct=%.2f "
		 "heap_mib=%zu entries=%zu nodes=%zu loads=%llu",
		 (t3 - t1) * 1e9 / (double)loads, (t2 - t1) * 1e9 / (double)hash_lookups,
		 (t3 - t2) * 1e9 / (double)tree_lookups, t1 - t0, flt1 - flt0,
		 bench_minflt(), rss_kb, huge_kb, bench_huge_pct(rss_kb, huge_kb),
		 bytes >> 20, nentries, nnodes, (unsigned long long)loads);
	bench_report("thp", t3 - t1, extra);
	return 0;
}
