/*
 * check_api_ctl.c — mallctl, mallctlnametomib and mallctlbymib through the
 * public API of lib/libstrata.so: jemalloc's return codes and length rules
 * (docs/compat.md, "mallctl return codes"), MIBs (full, partial, indexed), every node of the tree
 * with its type and a plausible value, and opt.* reflecting MALLOC_CONF
 * (the thread-cache nodes' behaviour is in check_api_tcache.c).
 *
 * This program defines the `malloc_conf` global (source 2), so every test
 * starts with opt.stats_print_opts "g".  Options read at startup are checked
 * in a re-executed copy of this program (see ctl_child) with MALLOC_CONF set.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strata.h>

#include "api_util.h"

const char *malloc_conf = "stats_print_opts:g";

#define CHILD_ENV "STRATA_CHECK_API_CTL_CHILD"

/* What narenas:default resolves to: four arenas per CPU this process may use,
 * one on a single CPU (jemalloc's rule). */
static unsigned
auto_narenas_expected(void)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	unsigned ncpus = (unsigned)CPU_COUNT(&set);
	return ncpus == 1 ? 1 : 4 * ncpus;
}

static uint64_t
read_u64(const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof(v);
	ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), 0);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

static const char *
read_str(const char *name)
{
	const char *v = NULL;
	size_t len = sizeof(v);
	ck_assert_int_eq(mallctl(name, &v, &len, NULL, 0), 0);
	ck_assert_uint_eq(len, sizeof(v));
	ck_assert_ptr_nonnull(v);
	return v;
}

/* ------------------------------------------------------------ return codes */

START_TEST(test_enoent)
{
	static const char *const names[] = {
		"nope", "", "arenas", "arenas.", "arenas..nbins", ".arenas", "version.x",
		"arenas.nbins.0", "opt", "opt.nope", "arenas.bin", "arenas.bin.0",
		"arenas.bin.36.size", "arenas.bin.abc.size", "arenas.bin.0x1.size",
		"arenas.bin. 1.size", "arenas.bin.-1.size", "arenas.bin.0.nope",
		"arenas.bin.99999999999999999999999.size", "arenas.lextent.196.size",
		"stats", "stats.allocated.x", "thread.allocated.0", "Version",
		"a.b.c.d.e.f.g.h.i.j", "opt.lg_tcache_max", "thread.tcache", "tcache", "arena",
		"arena.0", "arena.0.nope", "arena.4097.initialized", "arena.x.initialized",
		"stats.arenas", "stats.arenas.0", "stats.arenas.4097.nthreads",
		"stats.arenas.4095.nthreads", "tcache.create.0",
	};
	size_t v[2], len = sizeof(size_t);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_msg(mallctl(names[i], v, &len, NULL, 0) == ENOENT, "%s", names[i]);
		ck_assert_uint_eq(len, sizeof(size_t));
	}
}
END_TEST

START_TEST(test_eperm_on_read_only)
{
	unsigned u = 3;
	const char *s = "x";
	bool b = true;
	ck_assert_int_eq(mallctl("arenas.nbins", NULL, NULL, &u, sizeof(u)), EPERM);
	ck_assert_int_eq(mallctl("version", NULL, NULL, &s, sizeof(s)), EPERM);
	ck_assert_int_eq(mallctl("opt.abort", NULL, NULL, &b, sizeof(b)), EPERM);
	ck_assert_int_eq(mallctl("opt.narenas", NULL, NULL, &u, sizeof(u)), EPERM);
	/* A newlen alone counts as a write attempt, as in jemalloc. */
	ck_assert_int_eq(mallctl("arenas.nbins", NULL, NULL, NULL, sizeof(u)), EPERM);
	/* The read-only node was not changed and a read still works. */
	ck_assert(!read_bool("opt.abort"));
	ck_assert_uint_eq(read_unsigned("arenas.nbins"), 36);
}
END_TEST

START_TEST(test_einval_lengths)
{
	/* Short *oldlenp: EINVAL, the first bytes copied, *oldlenp kept. */
	unsigned u = 0xffffffffu;
	size_t len = 2;
	ck_assert_int_eq(mallctl("arenas.nbins", &u, &len, NULL, 0), EINVAL);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(u, 0xffff0000u | 36u);
	/* Long *oldlenp: EINVAL, the value copied, *oldlenp set to its size. */
	uint64_t big = 0xdeadbeefdeadbeefull;
	len = sizeof(big);
	ck_assert_int_eq(mallctl("arenas.nbins", &big, &len, NULL, 0), EINVAL);
	ck_assert_uint_eq(len, sizeof(unsigned));
	ck_assert_uint_eq(big, 0xdeadbeef00000000ull | 36u);
	/* A pointer-sized node read into 4 bytes. */
	const char *s = NULL;
	len = 4;
	ck_assert_int_eq(mallctl("opt.junk", &s, &len, NULL, 0), EINVAL);
	ck_assert_uint_eq(len, 4);
	/* Wrong newlen on a writable node. */
	uint64_t e = 1;
	ck_assert_int_eq(mallctl("epoch", NULL, NULL, &e, 4), EINVAL);
	/* oldp NULL with a length: nothing read, nothing changed. */
	len = 3;
	ck_assert_int_eq(mallctl("arenas.nbins", NULL, &len, NULL, 0), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(mallctl("arenas.nbins", NULL, NULL, NULL, 0), 0);
}
END_TEST

/* ------------------------------------------------------------ MIBs */

START_TEST(test_nametomib_full_and_partial)
{
	size_t mib[8], full[8];
	size_t len = 8;
	ck_assert_int_eq(mallctlnametomib("arenas.bin.5.size", full, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(full[2], 5);

	/* Partial: only the first *miblenp components are translated. */
	memset(mib, 0xff, sizeof(mib));
	len = 2;
	ck_assert_int_eq(mallctlnametomib("arenas.bin.5.size", mib, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(mib[0], full[0]);
	ck_assert_uint_eq(mib[1], full[1]);
	ck_assert_uint_eq(mib[2], SIZE_MAX);

	/* An inner node's full name translates too (it is not readable). */
	len = 8;
	ck_assert_int_eq(mallctlnametomib("arenas.bin.0", mib, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(mib[2], 0);

	len = 0;
	ck_assert_int_eq(mallctlnametomib("version", mib, &len), 0);
	ck_assert_uint_eq(len, 0);

	/* Errors leave *miblenp alone. */
	len = 8;
	ck_assert_int_eq(mallctlnametomib("arenas.bin.36.size", mib, &len), ENOENT);
	ck_assert_int_eq(mallctlnametomib("arenas.nope", mib, &len), ENOENT);
	ck_assert_int_eq(mallctlnametomib("version.x", mib, &len), ENOENT);
	ck_assert_uint_eq(len, 8);
}
END_TEST

START_TEST(test_bymib_loop_over_bins)
{
	size_t mib[4], len = 4;
	ck_assert_int_eq(mallctlnametomib("arenas.bin.0.size", mib, &len), 0);
	size_t nregs_mib[4], nlen = 4;
	ck_assert_int_eq(mallctlnametomib("arenas.bin.0.nregs", nregs_mib, &nlen), 0);
	size_t slab_mib[4], slen = 4;
	ck_assert_int_eq(mallctlnametomib("arenas.bin.0.slab_size", slab_mib, &slen), 0);
	size_t prev = 0;
	for (size_t i = 0; i < 36; i++) {
		mib[2] = nregs_mib[2] = slab_mib[2] = i;
		size_t size, slab, sz = sizeof(size_t);
		uint32_t nregs;
		size_t nsz = sizeof(nregs);
		ck_assert_int_eq(mallctlbymib(mib, 4, &size, &sz, NULL, 0), 0);
		ck_assert_int_eq(mallctlbymib(nregs_mib, 4, &nregs, &nsz, NULL, 0), 0);
		ck_assert_int_eq(mallctlbymib(slab_mib, 4, &slab, &sz, NULL, 0), 0);
		ck_assert_uint_gt(size, prev);
		ck_assert_uint_eq(size % 8, 0);
		ck_assert_uint_eq(slab % 4096, 0);
		ck_assert_uint_eq((size_t)nregs, slab / size);
		/* Same answer by name. */
		char name[64];
		snprintf(name, sizeof(name), "arenas.bin.%zu.size", i);
		ck_assert_uint_eq(read_size(name), size);
		prev = size;
	}
	ck_assert_uint_eq(prev, 14336);
	mib[2] = 0;
	size_t v, vlen = sizeof(v);
	ck_assert_int_eq(mallctlbymib(mib, 4, &v, &vlen, NULL, 0), 0);
	ck_assert_uint_eq(v, 8);
}
END_TEST

START_TEST(test_bymib_errors)
{
	size_t mib[6], len = 4;
	size_t v, vlen = sizeof(v);
	ck_assert_int_eq(mallctlnametomib("arenas.bin.0.size", mib, &len), 0);
	mib[2] = 36; /* index out of range */
	ck_assert_int_eq(mallctlbymib(mib, 4, &v, &vlen, NULL, 0), ENOENT);
	mib[2] = 0;
	ck_assert_int_eq(mallctlbymib(mib, 3, &v, &vlen, NULL, 0), ENOENT); /* inner node */
	mib[4] = 0;
	ck_assert_int_eq(mallctlbymib(mib, 5, &v, &vlen, NULL, 0), ENOENT); /* past a leaf */
	ck_assert_int_eq(mallctlbymib(mib, 0, &v, &vlen, NULL, 0), ENOENT); /* the root */
	size_t bad[4] = {mib[0], 1000, 0, 0};                          /* no such child */
	ck_assert_int_eq(mallctlbymib(bad, 2, &v, &vlen, NULL, 0), ENOENT);
	mib[3] = 1000;
	ck_assert_int_eq(mallctlbymib(mib, 4, &v, &vlen, NULL, 0), ENOENT);
	ck_assert_uint_eq(vlen, sizeof(v));
}
END_TEST

START_TEST(test_lextents)
{
	ck_assert_uint_eq(read_unsigned("arenas.nlextents"), 196);
	ck_assert_uint_eq(read_size("arenas.lextent.0.size"), 16384);
	ck_assert_uint_eq(read_size("arenas.lextent.1.size"), 20480);
	ck_assert_uint_eq(read_size("arenas.lextent.195.size"), (size_t)7 << 60);
	size_t mib[4], len = 4, prev = 14336;
	ck_assert_int_eq(mallctlnametomib("arenas.lextent.0.size", mib, &len), 0);
	ck_assert_uint_eq(len, 4);
	for (size_t i = 0; i < 196; i++) {
		size_t size, sz = sizeof(size);
		mib[2] = i;
		ck_assert_int_eq(mallctlbymib(mib, 4, &size, &sz, NULL, 0), 0);
		ck_assert_uint_gt(size, prev);
		ck_assert_uint_eq(size % 4096, 0);
		prev = size;
	}
	mib[2] = 196;
	size_t size, sz = sizeof(size);
	ck_assert_int_eq(mallctlbymib(mib, 4, &size, &sz, NULL, 0), ENOENT);
}
END_TEST

/* ------------------------------------------------------------ nodes */

START_TEST(test_version_and_arenas)
{
	ck_assert_str_eq(read_str("version"), STRATA_VERSION);
	ck_assert_uint_eq(read_size("arenas.quantum"), 16);
	ck_assert_uint_eq(read_size("arenas.page"), 4096);
	ck_assert_uint_eq(read_unsigned("arenas.nbins"), 36);
	unsigned narenas = read_unsigned("arenas.narenas");
	unsigned auto_narenas = read_unsigned("opt.narenas");
	ck_assert_uint_gt(auto_narenas, 0);
	ck_assert_uint_ge(narenas, auto_narenas);
	ck_assert_uint_eq(auto_narenas, auto_narenas_expected());
}
END_TEST

START_TEST(test_opt_defaults)
{
	ck_assert(!read_bool("opt.abort"));
	ck_assert(!read_bool("opt.abort_conf"));
	ck_assert(!read_bool("opt.confirm_conf"));
	ck_assert(!read_bool("opt.zero"));
	ck_assert(!read_bool("opt.stats_print"));
	ck_assert_str_eq(read_str("opt.zero_realloc"), "free");
	ck_assert_str_eq(read_str("opt.junk"), "false");
	ck_assert_str_eq(read_str("opt.stats_print_opts"), "g"); /* from malloc_conf above */
	/* Thread caches: jemalloc 5.3's defaults, as Debian's build reports. */
	ck_assert(read_bool("opt.tcache"));
	ck_assert_uint_eq(read_size("opt.tcache_max"), 32768);
	ck_assert_uint_eq(read_unsigned("opt.tcache_nslots_small_min"), 20);
	ck_assert_uint_eq(read_unsigned("opt.tcache_nslots_small_max"), 200);
	ck_assert_uint_eq(read_unsigned("opt.tcache_nslots_large"), 20);
	ssize_t mul = 0;
	size_t len = sizeof(mul);
	ck_assert_int_eq(mallctl("opt.lg_tcache_nslots_mul", &mul, &len, NULL, 0), 0);
	ck_assert_uint_eq(len, sizeof(ssize_t));
	ck_assert_int_eq(mul, 1);
	ck_assert_uint_eq(read_size("opt.tcache_gc_incr_bytes"), 65536);
	ck_assert_uint_eq(read_unsigned("opt.lg_tcache_flush_small_div"), 1);
	ck_assert_uint_eq(read_unsigned("opt.lg_tcache_flush_large_div"), 1);
	ck_assert_str_eq(read_str("opt.percpu_arena"), "disabled");
	ck_assert_str_eq(read_str("opt.memory_limit"), "auto");
	/* An alias has no node of its own. */
	size_t v;
	len = sizeof(v);
	ck_assert_int_eq(mallctl("opt.lg_tcache_max", &v, &len, NULL, 0), ENOENT);
	bool b = false;
	ck_assert_int_eq(mallctl("opt.tcache", NULL, NULL, &b, sizeof(b)), EPERM);
}
END_TEST

START_TEST(test_epoch)
{
	uint64_t e0 = read_u64("epoch");
	ck_assert_uint_ge(e0, 1);
	ck_assert_uint_eq(read_u64("epoch"), e0); /* reading does not advance */
	uint64_t one = 1, e1 = 0;
	size_t len = sizeof(e1);
	/* Read and write at once: the epoch after the refresh. */
	ck_assert_int_eq(mallctl("epoch", &e1, &len, &one, sizeof(one)), 0);
	ck_assert_uint_eq(e1, e0 + 1);
	ck_assert_int_eq(mallctl("epoch", NULL, NULL, &one, sizeof(one)), 0);
	ck_assert_uint_eq(read_u64("epoch"), e0 + 2);
}
END_TEST

static void
epoch_advance(void)
{
	uint64_t one = 1;
	ck_assert_int_eq(mallctl("epoch", NULL, NULL, &one, sizeof(one)), 0);
}

START_TEST(test_stats_snapshot)
{
	epoch_advance();
	size_t allocated = read_size("stats.allocated");
	size_t active = read_size("stats.active");
	size_t mapped = read_size("stats.mapped");
	size_t resident = read_size("stats.resident");
	size_t metadata = read_size("stats.metadata");
	(void)read_size("stats.retained");
	ck_assert_uint_gt(allocated, 0);
	ck_assert_uint_ge(active, allocated);
	ck_assert_uint_eq(active % 4096, 0);
	ck_assert_uint_ge(mapped, active);
	ck_assert_uint_gt(metadata, 0);
	ck_assert_uint_gt(resident, 0);

	/* Stats change only when the epoch is written. */
	size_t big = 16 << 20;
	void *p = malloc(big);
	ck_assert_ptr_nonnull(p);
	memset(p, 1, big);
	ck_assert_uint_eq(read_size("stats.allocated"), allocated);
	epoch_advance();
	ck_assert_uint_ge(read_size("stats.allocated"), allocated + big);
	ck_assert_uint_ge(read_size("stats.active"), active + big);
	ck_assert_uint_ge(read_size("stats.mapped"), mapped + big);
	free(p);
	epoch_advance();
	ck_assert_uint_lt(read_size("stats.allocated"), allocated + big);
}
END_TEST

/* Reads a uint64_t node without calling into Check (which allocates). */
static int
raw_u64(const char *name, uint64_t *v)
{
	size_t len = sizeof(*v);
	int err = mallctl(name, v, &len, NULL, 0);
	return err != 0 ? err : len == sizeof(*v) ? 0 : EINVAL;
}

START_TEST(test_thread_counters)
{
	uint64_t *ap = NULL, *dp = NULL;
	size_t len = sizeof(ap);
	ck_assert_int_eq(mallctl("thread.allocatedp", &ap, &len, NULL, 0), 0);
	ck_assert_int_eq(mallctl("thread.deallocatedp", &dp, &len, NULL, 0), 0);
	ck_assert_ptr_nonnull(ap);
	ck_assert_ptr_nonnull(dp);

	/* No allocation between the reads below but the one measured. */
	uint64_t a0, d0, a1, d1, live_a0, live_d0, live_a1, live_d1;
	int e0 = raw_u64("thread.allocated", &a0) | raw_u64("thread.deallocated", &d0);
	live_a0 = *ap;
	live_d0 = *dp;
	void *volatile p = malloc(1000);
	int e1 = raw_u64("thread.allocated", &a1);
	live_a1 = *ap;
	free(p);
	e1 |= raw_u64("thread.deallocated", &d1);
	live_d1 = *dp;

	ck_assert_int_eq(e0 | e1, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(live_a0, a0); /* the pointers read the live counters */
	ck_assert_uint_eq(live_d0, d0);
	ck_assert_uint_eq(live_a1, a1);
	ck_assert_uint_eq(live_d1, d1);
	ck_assert_uint_ge(a1 - a0, 1000); /* usable size of malloc(1000) */
	ck_assert_uint_le(a1 - a0, 1024);
	ck_assert_uint_eq(d1 - d0, a1 - a0);
	/* The pointer is stable. */
	uint64_t *ap2 = NULL;
	ck_assert_int_eq(mallctl("thread.allocatedp", &ap2, &len, NULL, 0), 0);
	ck_assert_ptr_eq(ap2, ap);
}
END_TEST

/* ------------------------------------------------------------ MALLOC_CONF */

/*
 * In the re-executed child: print every opt.* value on stdout and exit
 * before main.  Runs as a constructor so that check_main.c stays generic.
 */
/* The child's second line: the thread-cache options and what they give. */
static void
ctl_child_print_tcache(void)
{
	bool tcache;
	const char *percpu;
	size_t tcache_max, arenas_tcache_max, gc;
	ssize_t mul;
	unsigned nhbins, smin, smax, large, sdiv, ldiv;
	size_t len = sizeof(tcache);
	int err = mallctl("opt.tcache", &tcache, &len, NULL, 0);
	len = sizeof(percpu);
	err |= mallctl("opt.percpu_arena", &percpu, &len, NULL, 0);
	len = sizeof(size_t);
	err |= mallctl("opt.tcache_max", &tcache_max, &len, NULL, 0);
	err |= mallctl("arenas.tcache_max", &arenas_tcache_max, &len, NULL, 0);
	err |= mallctl("opt.tcache_gc_incr_bytes", &gc, &len, NULL, 0);
	len = sizeof(mul);
	err |= mallctl("opt.lg_tcache_nslots_mul", &mul, &len, NULL, 0);
	len = sizeof(unsigned);
	err |= mallctl("arenas.nhbins", &nhbins, &len, NULL, 0);
	err |= mallctl("opt.tcache_nslots_small_min", &smin, &len, NULL, 0);
	err |= mallctl("opt.tcache_nslots_small_max", &smax, &len, NULL, 0);
	err |= mallctl("opt.tcache_nslots_large", &large, &len, NULL, 0);
	err |= mallctl("opt.lg_tcache_flush_small_div", &sdiv, &len, NULL, 0);
	err |= mallctl("opt.lg_tcache_flush_large_div", &ldiv, &len, NULL, 0);
	if (err != 0)
		_exit(3);
	printf("tcache=%d tcache_max=%zu arenas.tcache_max=%zu nhbins=%u nslots=%u/%u/%u mul=%zd "
	       "gc=%zu div=%u/%u percpu_arena=%s\n",
	       tcache, tcache_max, arenas_tcache_max, nhbins, smin, smax, large, mul, gc, sdiv,
	       ldiv, percpu);
}

__attribute__((constructor)) static void
ctl_child(void)
{
	if (getenv(CHILD_ENV) == NULL)
		return;
	bool b[5];
	static const char *const bools[5] = {"opt.abort", "opt.abort_conf", "opt.confirm_conf",
	                                     "opt.zero", "opt.stats_print"};
	static const char *const strs[4] = {"opt.zero_realloc", "opt.junk",
	                                    "opt.stats_print_opts", "opt.memory_limit"};
	const char *s[4];
	unsigned narenas;
	size_t len = sizeof(narenas);
	int err = mallctl("opt.narenas", &narenas, &len, NULL, 0);
	for (int i = 0; i < 5; i++) {
		len = sizeof(b[i]);
		err |= mallctl(bools[i], &b[i], &len, NULL, 0);
	}
	for (int i = 0; i < 4; i++) {
		len = sizeof(s[i]);
		err |= mallctl(strs[i], &s[i], &len, NULL, 0);
	}
	if (err != 0)
		_exit(2);
	printf("abort=%d abort_conf=%d confirm_conf=%d zero=%d stats_print=%d narenas=%u "
	       "zero_realloc=%s junk=%s stats_print_opts=%s memory_limit=%s\n",
	       b[0], b[1], b[2], b[3], b[4], narenas, s[0], s[1], s[2], s[3]);
	ctl_child_print_tcache();
	fflush(stdout);
	_exit(0);
}

/* Runs this program again with MALLOC_CONF=conf; returns its stdout and
 * stderr in out/err. */
static void
run_child(const char *conf, char *out, size_t outsize, char *err, size_t errsize)
{
	int pout[2], perr[2];
	ck_assert_int_eq(pipe(pout), 0);
	ck_assert_int_eq(pipe(perr), 0);
	char env_conf[512];
	snprintf(env_conf, sizeof(env_conf), "MALLOC_CONF=%s", conf);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pout[1], STDOUT_FILENO);
		dup2(perr[1], STDERR_FILENO);
		char *argv[] = {"check_api_ctl", NULL};
		char *envp[] = {env_conf, CHILD_ENV "=1", NULL};
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	close(pout[1]);
	close(perr[1]);
	int fds[2] = {pout[0], perr[0]};
	char *bufs[2] = {out, err};
	size_t sizes[2] = {outsize, errsize};
	for (int i = 0; i < 2; i++) {
		size_t len = 0;
		ssize_t n;
		while (len + 1 < sizes[i] &&
		       (n = read(fds[i], bufs[i] + len, sizes[i] - 1 - len)) > 0)
			len += (size_t)n;
		bufs[i][len] = '\0';
		close(fds[i]);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: %s", err);
}

START_TEST(test_opt_reflects_malloc_conf)
{
	char out[1024], err[4096];
	run_child("abort:true,zero:true,stats_print:false,narenas:3,zero_realloc:alloc,"
	          "junk:free,stats_print_opts:Ja,abort_conf:false,memory_limit:1g",
	          out, sizeof(out), err, sizeof(err));
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(out, "abort=1 abort_conf=0 confirm_conf=0 zero=1 stats_print=0 "
	                      "narenas=3 zero_realloc=alloc junk=free stats_print_opts=gJa "
	                      "memory_limit=1073741824\n"
	                      "tcache=1 tcache_max=32768 arenas.tcache_max=32768 nhbins=41 "
	                      "nslots=20/200/20 mul=1 gc=65536 div=1/1 percpu_arena=disabled\n");
	run_child("narenas:default,junk:true,zero_realloc:abort,memory_limit:off", out,
	          sizeof(out), err, sizeof(err));
	char expected[512];
	snprintf(expected, sizeof(expected),
	         "abort=0 abort_conf=0 confirm_conf=0 zero=0 stats_print=0 narenas=%u "
	         "zero_realloc=abort junk=true stats_print_opts=g memory_limit=off\n",
	         auto_narenas_expected());
	ck_assert_ptr_eq(strstr(out, expected), out);
}
END_TEST

/* The second line the child prints for conf. */
static const char *
child_tcache_line(const char *conf, char *out, size_t size)
{
	char err[4096];
	run_child(conf, out, size, err, sizeof(err));
	ck_assert_msg(strcmp(err, "") == 0, "%s printed %s", conf, err);
	char *second = strchr(out, '\n');
	ck_assert_ptr_nonnull(second);
	return second + 1;
}

START_TEST(test_tcache_options_reflect_malloc_conf)
{
	char out[1024];
	/* Clipping as jemalloc 5.3 does (observed with Debian's build). */
	ck_assert_str_eq(child_tcache_line("tcache:false,tcache_max:5000,lg_tcache_nslots_mul:-3,"
	                                   "tcache_nslots_small_min:0,"
	                                   "tcache_nslots_small_max:99999,"
	                                   "tcache_nslots_large:7,tcache_gc_incr_bytes:0,"
	                                   "lg_tcache_flush_small_div:3,"
	                                   "lg_tcache_flush_large_div:20,percpu_arena:phycpu",
	                                   out, sizeof(out)),
	                 "tcache=0 tcache_max=5000 arenas.tcache_max=5120 nhbins=30 "
	                 "nslots=1/2048/7 mul=-3 gc=1024 div=3/16 percpu_arena=phycpu\n");
	/* The alias: 2^12, read back through opt.tcache_max. */
	ck_assert_str_eq(child_tcache_line("lg_tcache_max:12", out, sizeof(out)),
	                 "tcache=1 tcache_max=4096 arenas.tcache_max=4096 nhbins=29 "
	                 "nslots=20/200/20 mul=1 gc=65536 div=1/1 percpu_arena=disabled\n");
	ck_assert_str_eq(child_tcache_line("lg_tcache_max:40", out, sizeof(out)),
	                 "tcache=1 tcache_max=8388608 arenas.tcache_max=8388608 nhbins=73 "
	                 "nslots=20/200/20 mul=1 gc=65536 div=1/1 percpu_arena=disabled\n");
	/* Below the smallest class nothing is cached. */
	ck_assert_str_eq(child_tcache_line("tcache_max:7", out, sizeof(out)),
	                 "tcache=1 tcache_max=7 arenas.tcache_max=8 nhbins=1 "
	                 "nslots=20/200/20 mul=1 gc=65536 div=1/1 percpu_arena=disabled\n");
	ck_assert_str_eq(child_tcache_line("tcache_max:14336,percpu_arena:percpu", out,
	                                   sizeof(out)),
	                 "tcache=1 tcache_max=14336 arenas.tcache_max=14336 nhbins=36 "
	                 "nslots=20/200/20 mul=1 gc=65536 div=1/1 percpu_arena=percpu\n");
}
END_TEST

START_TEST(test_invalid_conf_still_starts)
{
	char out[1024], err[4096];
	run_child("narenas:0,bogus:1,narenas:2", out, sizeof(out), err, sizeof(err));
	ck_assert_str_eq(err, "<strata>: Out-of-range conf value: narenas:0\n"
	                      "<strata>: Invalid conf pair: bogus:1\n");
	ck_assert_ptr_nonnull(strstr(out, " narenas=2 "));
	run_child("lg_tcache_nslots_mul:17,tcache_max:lots,percpu_arena:per", out, sizeof(out),
	          err, sizeof(err));
	ck_assert_str_eq(err, "<strata>: Out-of-range conf value: lg_tcache_nslots_mul:17\n"
	                      "<strata>: Invalid conf value: tcache_max:lots\n"
	                      "<strata>: Invalid conf value: percpu_arena:per\n");
	ck_assert_ptr_nonnull(strstr(out, " tcache_max=32768 "));
	ck_assert_ptr_nonnull(strstr(out, " mul=1 "));
	/* A bad memory_limit leaves the default, auto. */
	run_child("memory_limit:0,memory_limit:12q", out, sizeof(out), err, sizeof(err));
	ck_assert_str_eq(err, "<strata>: Out-of-range conf value: memory_limit:0\n"
	                      "<strata>: Invalid conf value: memory_limit:12q\n");
	ck_assert_ptr_nonnull(strstr(out, " memory_limit=auto\n"));
}
END_TEST

START_TEST(test_confirm_conf_end_to_end)
{
	char out[1024], err[4096];
	run_child("confirm_conf:true", out, sizeof(out), err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(out, "confirm_conf=1"));
	ck_assert_ptr_nonnull(strstr(err, "<strata>: malloc_conf #2 (string pointed to by the "
	                                  "global variable malloc_conf): \"stats_print_opts:g\"\n"
	                                  "<strata>: -- Set conf value: stats_print_opts:g\n"));
	ck_assert_ptr_nonnull(strstr(err, "<strata>: malloc_conf #4 (value of the environment "
	                                  "variable MALLOC_CONF): \"confirm_conf:true\"\n"
	                                  "<strata>: -- Set conf value: confirm_conf:true\n"));
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("api_ctl");
	TCase *tc = tcase_create("codes");
	tcase_add_test(tc, test_enoent);
	tcase_add_test(tc, test_eperm_on_read_only);
	tcase_add_test(tc, test_einval_lengths);
	suite_add_tcase(s, tc);

	tc = tcase_create("mib");
	tcase_add_test(tc, test_nametomib_full_and_partial);
	tcase_add_test(tc, test_bymib_loop_over_bins);
	tcase_add_test(tc, test_bymib_errors);
	tcase_add_test(tc, test_lextents);
	suite_add_tcase(s, tc);

	tc = tcase_create("nodes");
	tcase_add_test(tc, test_version_and_arenas);
	tcase_add_test(tc, test_opt_defaults);
	tcase_add_test(tc, test_epoch);
	tcase_add_test(tc, test_stats_snapshot);
	tcase_add_test(tc, test_thread_counters);
	suite_add_tcase(s, tc);

	tc = tcase_create("malloc_conf");
	tcase_add_test(tc, test_opt_reflects_malloc_conf);
	tcase_add_test(tc, test_tcache_options_reflect_malloc_conf);
	tcase_add_test(tc, test_invalid_conf_still_starts);
	tcase_add_test(tc, test_confirm_conf_end_to_end);
	suite_add_tcase(s, tc);
	return s;
}
