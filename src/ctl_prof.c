/*
 * ctl_prof.c — the profiler's nodes of the mallctl tree: prof.*,
 * thread.prof.*, experimental.prof_recent.* and
 * experimental.hooks.prof_dump.  L5.  See ctl.h for the tree and
 * docs/compat.md, "mallctl", for the rules.
 *
 * Every node forwards to prof/prof.h; without opt.prof they are ENOENT, as
 * in jemalloc.  Nothing here keeps state or takes a lock of its own.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "prof/class_stats.h"
#include "prof/prof.h"
#include "sz.h"
#include "tsd.h"

/* thread.prof.name: read-only or write-only in one call (jemalloc's rule:
 * both is EPERM); a name of other than printable characters is EFAULT. */
static int
ctl_thread_prof_name(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                     size_t newlen)
{
	(void)mib;
	(void)miblen;
	tsd_t *tsd = tsd_fetch();
	if (!opt_prof)
		return ENOENT;
	if (tsd == NULL)
		return EAGAIN;
	if (newp != NULL) {
		if (!ctl_is_write_only_call(oldp, oldlenp))
			return EPERM;
		const char *name;
		int err = ctl_require_write(newp, newlen, &name, sizeof(name));
		if (err != 0)
			return err;
		return name == NULL ? EFAULT : prof_thread_name_set(&tsd->prof_tdata, name);
	}
	const char *name = prof_thread_name_get(&tsd->prof_tdata);
	return ctl_read(oldp, oldlenp, &name, sizeof(name));
}

/*
 * A read-write bool of the profiler: the old value is read before the new
 * one is set (any nonzero byte is true).  Without opt.prof, as jemalloc 5.3
 * built with the profiler answers (observed with Debian's): a read gives
 * false, and a write is ENOENT, but for prof.active (off_writable), which
 * takes false.
 */
static int
ctl_prof_bool(void *oldp, size_t *oldlenp, void *newp, size_t newlen, bool old,
              void (*set)(bool value), bool off_writable)
{
	uint8_t value;
	int err = ctl_write(newp, newlen, &value, sizeof(bool));
	if (err != 0)
		return err;
	if (newp != NULL && opt_prof)
		set(value != 0);
	else if (newp != NULL && (value != 0 || !off_writable))
		return ENOENT;
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* The calling thread's thread.prof.active, for ctl_prof_bool. */
static void
ctl_thread_prof_active_set(bool active)
{
	tsd_t *tsd = tsd_fetch();
	if (tsd != NULL)
		prof_thread_active_set(&tsd->prof_tdata, active);
}

static int
ctl_thread_prof_active(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                       void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	tsd_t *tsd = tsd_fetch();
	if (tsd == NULL)
		return opt_prof ? EAGAIN : ENOENT;
	bool old = opt_prof && prof_thread_active_get(&tsd->prof_tdata);
	return ctl_prof_bool(oldp, oldlenp, newp, newlen, old, ctl_thread_prof_active_set, false);
}

static const ctl_node_t ctl_thread_prof_nodes[] = {
	CTL_LEAF(name, ctl_thread_prof_name),
	CTL_LEAF(active, ctl_thread_prof_active),
};


/* ------------------------------------------------------------ prof.* */

static int
ctl_prof_active(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_bool(oldp, oldlenp, newp, newlen, opt_prof && prof_active_get(),
	                     prof_active_set, true);
}

static int
ctl_prof_thread_active_init(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                            void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_bool(oldp, oldlenp, newp, newlen,
	                     opt_prof && prof_thread_active_init_get(),
	                     prof_thread_active_init_set, false);
}

static int
ctl_prof_gdump(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
               size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_bool(oldp, oldlenp, newp, newlen, opt_prof && prof_gdump_get(),
	                     prof_gdump_set, false);
}

/* A write-only const char * of the profiler (prof.dump, prof.recent.dump,
 * prof.prefix), handed to action. */
static int
ctl_prof_string(void *oldp, size_t *oldlenp, void *newp, size_t newlen,
                int (*action)(const char *value))
{
	if (!opt_prof)
		return ENOENT;
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	const char *value = NULL;
	int err = ctl_write(newp, newlen, &value, sizeof(value));
	return err != 0 ? err : action(value);
}

/* prof.dump: NULL (or no value) dumps to the automatic name. */
static int
ctl_prof_dump(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
              size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_string(oldp, oldlenp, newp, newlen, prof_dump_manual);
}

/* prof.recent.dump: the ring of recent allocations to a path (required). */
static int
ctl_prof_recent_dump(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                     size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_string(oldp, oldlenp, newp, newlen, prof_recent_dump_path);
}

static int
ctl_prof_prefix_set(const char *prefix)
{
	return prefix == NULL ? EFAULT : prof_prefix_set(prefix);
}

static int
ctl_prof_prefix(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_prof_string(oldp, oldlenp, newp, newlen, ctl_prof_prefix_set);
}

/* prof.reset: write-only; the new lg_sample (clipped to 63) or, without a
 * value, the current one.  The calling thread samples at the new rate at
 * once; the others from their next sample on. */
static int
ctl_prof_reset(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
               size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!opt_prof)
		return ENOENT;
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	size_t lg = prof_lg_sample();
	int err = ctl_write(newp, newlen, &lg, sizeof(lg));
	if (err != 0)
		return err;
	if (lg > 63)
		lg = 63;
	prof_reset((unsigned)lg);
	event_set_sample_lg((int)lg);
	tsd_t *tsd = tsd_fetch();
	if (tsd != NULL)
		event_sample_redraw(tsd);
	return 0;
}

/* prof.stats.{bins,lextents}.<i>.{live,accum}: read-only pairs
 * {req_sum, count}; ENOENT without opt.prof_stats. */
static int
ctl_prof_stats_class(unsigned szind, bool live, void *oldp, size_t *oldlenp, void *newp,
                     size_t newlen)
{
	prof_class_stats_t l, a;
	if (!prof_stats_read(szind, &l, &a))
		return ENOENT;
	if (!ctl_is_read_only_call(newp, newlen))
		return EPERM;
	return ctl_read(oldp, oldlenp, live ? &l : &a, sizeof(l));
}

#define CTL_PROF_STATS(fn, szind, live)                                                   \
	static int fn(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,      \
	              void *newp, size_t newlen)                                          \
	{                                                                                 \
		(void)miblen;                                                             \
		return ctl_prof_stats_class(szind, live, oldp, oldlenp, newp, newlen);    \
	}
CTL_PROF_STATS(ctl_prof_stats_bins_i_live, (unsigned)mib[3], true)
CTL_PROF_STATS(ctl_prof_stats_bins_i_accum, (unsigned)mib[3], false)
CTL_PROF_STATS(ctl_prof_stats_lextents_i_live, SZ_NBINS + (unsigned)mib[3], true)
CTL_PROF_STATS(ctl_prof_stats_lextents_i_accum, SZ_NBINS + (unsigned)mib[3], false)

static const ctl_node_t ctl_prof_stats_bins_i_nodes[] = {
	CTL_LEAF(live, ctl_prof_stats_bins_i_live),
	CTL_LEAF(accum, ctl_prof_stats_bins_i_accum),
};
static const ctl_node_t ctl_prof_stats_bins_i = CTL_INNER(ctl_prof_stats_bins_i_nodes);
static const ctl_node_t ctl_prof_stats_lextents_i_nodes[] = {
	CTL_LEAF(live, ctl_prof_stats_lextents_i_live),
	CTL_LEAF(accum, ctl_prof_stats_lextents_i_accum),
};
static const ctl_node_t ctl_prof_stats_lextents_i = CTL_INNER(ctl_prof_stats_lextents_i_nodes);
static const ctl_node_t ctl_prof_stats_nodes[] = {
	CTL_INDEXED(bins, ctl_prof_stats_bins_i, ctl_bin_index_valid),
	CTL_INDEXED(lextents, ctl_prof_stats_lextents_i, ctl_lextent_index_valid),
};

CTL_RO(ctl_prof_lg_sample, size_t, opt_prof ? prof_lg_sample() : 0)
CTL_RO(ctl_prof_interval, uint64_t, opt_prof ? prof_interval() : 0)

static const ctl_node_t ctl_prof_recent_nodes[] = {
	CTL_LEAF(dump, ctl_prof_recent_dump),
};

static const ctl_node_t ctl_prof_nodes[] = {
	CTL_LEAF(thread_active_init, ctl_prof_thread_active_init),
	CTL_LEAF(active, ctl_prof_active),
	CTL_LEAF(dump, ctl_prof_dump),
	CTL_LEAF(prefix, ctl_prof_prefix),
	CTL_LEAF(gdump, ctl_prof_gdump),
	CTL_LEAF(reset, ctl_prof_reset),
	CTL_LEAF(lg_sample, ctl_prof_lg_sample),
	CTL_LEAF(interval, ctl_prof_interval),
	CTL_NAMED(stats, ctl_prof_stats_nodes),
	CTL_NAMED(recent, ctl_prof_recent_nodes),
};

/* experimental.hooks.prof_dump: read the old hook, install a new one. */
int
ctl_experimental_hooks_prof_dump(const size_t *mib, size_t miblen, void *oldp,
                                 size_t *oldlenp, void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	/* Without opt.prof, as jemalloc 5.3: reads NULL, a write is ENOENT. */
	prof_dump_hook_t old = opt_prof ? prof_dump_hook_get() : NULL, hook;
	int err = ctl_write(newp, newlen, &hook, sizeof(hook));
	if (err != 0)
		return err;
	if (newp != NULL && !opt_prof)
		return ENOENT;
	if (newp != NULL)
		prof_dump_hook_set(hook);
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* experimental.prof_recent.alloc_max: the ring's limit, read and set. */
static int
ctl_experimental_prof_recent_alloc_max(const size_t *mib, size_t miblen, void *oldp,
                                       size_t *oldlenp, void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!opt_prof)
		return ENOENT;
	ssize_t old = prof_recent_alloc_max_get(), max;
	int err = ctl_write(newp, newlen, &max, sizeof(max));
	if (err == 0 && newp != NULL)
		err = prof_recent_alloc_max_set(max);
	return err != 0 ? err : ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* experimental.prof_recent.alloc_dump: write-only, jemalloc's pair of a
 * write callback and its argument. */
static int
ctl_experimental_prof_recent_alloc_dump(const size_t *mib, size_t miblen, void *oldp,
                                        size_t *oldlenp, void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!opt_prof)
		return ENOENT;
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	struct {
		void (*write_cb)(void *, const char *);
		void *cbopaque;
	} out;
	int err = ctl_require_write(newp, newlen, &out, sizeof(out));
	return err != 0 ? err : prof_recent_dump_callback(out.write_cb, out.cbopaque);
}

static const ctl_node_t ctl_experimental_prof_recent_nodes[] = {
	CTL_LEAF(alloc_max, ctl_experimental_prof_recent_alloc_max),
	CTL_LEAF(alloc_dump, ctl_experimental_prof_recent_alloc_dump),
};

const ctl_node_t ctl_thread_prof_tree = CTL_INNER(ctl_thread_prof_nodes);
const ctl_node_t ctl_prof_tree = CTL_INNER(ctl_prof_nodes);
const ctl_node_t ctl_experimental_prof_recent_tree =
    CTL_INNER(ctl_experimental_prof_recent_nodes);
