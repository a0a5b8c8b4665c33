/*
 * ctl_thread.c — the thread.* and tcache.* subtrees of the mallctl tree
 * (thread.prof.* is in ctl_prof.c).  L5.  See ctl.h for the tree and
 * docs/compat.md, "mallctl", for the rules.
 *
 * Every node forwards to tsd.c, tcache.c or arena.c; nothing here keeps
 * state or takes a lock of its own.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "conf.h"
#include "ctl.h"
#include "tcache.h"
#include "tsd.h"

/* ------------------------------------------------------------ thread.* */

CTL_RO(ctl_thread_allocated, uint64_t, *tsd_thread_allocatedp())
CTL_RO(ctl_thread_deallocated, uint64_t, *tsd_thread_deallocatedp())
CTL_RO(ctl_thread_allocatedp, uint64_t *, tsd_thread_allocatedp())
CTL_RO(ctl_thread_deallocatedp, uint64_t *, tsd_thread_deallocatedp())

/* thread.peak.read: the calling thread's highest net allocated bytes
 * (allocated minus deallocated) since thread.peak.reset, as of the last
 * cache GC event or this read (docs/compat.md).  thread.peak.reset: void. */
CTL_RO(ctl_thread_peak_read, uint64_t, tsd_thread_peak_read())
CTL_RO(ctl_thread_numa_node, unsigned, tsd_thread_numa_node())

static int
ctl_thread_peak_reset(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                      size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	tsd_thread_peak_reset();
	return 0;
}

/* thread.arena: read the old index, then rebind if a different one is
 * written (nothing happens when the read fails, as in jemalloc).  Under
 * percpu_arena the CPU picks the automatic arena: moving to another one is
 * EPERM (jemalloc's rule), to a manual arena is allowed. */
static int
ctl_thread_arena(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen)
{
	(void)mib;
	(void)miblen;
	unsigned old = tsd_thread_arena_get(), ind = old;
	int err = ctl_write(newp, newlen, &ind, sizeof(ind));
	if (err == 0)
		err = ctl_read(oldp, oldlenp, &old, sizeof(old));
	if (err != 0 || ind == old)
		return err;
	if (opt_percpu_arena != CONF_PERCPU_ARENA_DISABLED && ind < arena_narenas_auto())
		return EPERM;
	return tsd_thread_arena_set(ind);
}

/* thread.tcache.enabled: the write happens even when the read then fails
 * (jemalloc's order); EAGAIN when the cache cannot be set up. */
static int
ctl_thread_tcache_enabled(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                          void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	bool old = tsd_thread_tcache_enabled();
	uint8_t enable; /* a byte, so that any nonzero bool a program passes is true */
	int err = ctl_write(newp, newlen, &enable, sizeof(bool));
	if (err != 0)
		return err;
	if (newp != NULL) {
		err = tsd_thread_tcache_set_enabled(enable != 0);
		if (err != 0)
			return err == ENOMEM ? EAGAIN : err;
	}
	return ctl_read(oldp, oldlenp, &old, sizeof(old));
}

/* thread.tcache.flush: void; EFAULT while the thread's cache is off. */
static int
ctl_thread_tcache_flush(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                        void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!tsd_thread_tcache_enabled())
		return EFAULT;
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	tsd_thread_tcache_flush();
	return 0;
}

/* thread.idle: void; the calling thread will not allocate for a while:
 * empties its cache (if on) and runs the decay of its arena. */
static int
ctl_thread_idle(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_void_call(oldp, oldlenp, newp, newlen))
		return EPERM;
	if (tsd_thread_tcache_enabled())
		tsd_thread_tcache_flush();
	arena_decay(tsd_thread_arena_get());
	return 0;
}

static const ctl_node_t ctl_thread_tcache_nodes[] = {
	CTL_LEAF(enabled, ctl_thread_tcache_enabled),
	CTL_LEAF(flush, ctl_thread_tcache_flush),
};

static const ctl_node_t ctl_thread_peak_nodes[] = {
	CTL_LEAF(read, ctl_thread_peak_read),
	CTL_LEAF(reset, ctl_thread_peak_reset),
};

static const ctl_node_t ctl_thread_nodes[] = {
	CTL_LEAF(arena, ctl_thread_arena),
	CTL_LEAF(numa_node, ctl_thread_numa_node),
	CTL_LINK(prof, ctl_thread_prof_tree),
	CTL_NAMED(tcache, ctl_thread_tcache_nodes),
	CTL_LEAF(allocated, ctl_thread_allocated),
	CTL_LEAF(allocatedp, ctl_thread_allocatedp),
	CTL_LEAF(deallocated, ctl_thread_deallocated),
	CTL_LEAF(deallocatedp, ctl_thread_deallocatedp),
	CTL_LEAF(idle, ctl_thread_idle),
	CTL_NAMED(peak, ctl_thread_peak_nodes),
};

/* ------------------------------------------------------------ tcache.* */

/* tcache.create: a new explicit cache's id, refilled from the calling
 * thread's arena; nothing is created unless the id can be returned. */
static int
ctl_tcache_create(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_read_only_call(newp, newlen))
		return EPERM;
	unsigned id;
	int err = ctl_require_read(oldp, oldlenp, sizeof(id));
	if (err != 0)
		return err;
	if (tcaches_create(NULL, &id) != 0)
		return EFAULT;
	return ctl_read(oldp, oldlenp, &id, sizeof(id));
}

/* tcache.flush and tcache.destroy: write-only; EINVAL without an id,
 * EFAULT for an id that is not live. */
static int
ctl_tcache_action(void *oldp, size_t *oldlenp, void *newp, size_t newlen,
                  int (*action)(unsigned id))
{
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	unsigned id;
	int err = ctl_require_write(newp, newlen, &id, sizeof(id));
	if (err != 0)
		return err;
	return action(id) == 0 ? 0 : EFAULT;
}

static int
ctl_tcache_flush(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_tcache_action(oldp, oldlenp, newp, newlen, tcaches_flush);
}

static int
ctl_tcache_destroy(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                   size_t newlen)
{
	(void)mib;
	(void)miblen;
	return ctl_tcache_action(oldp, oldlenp, newp, newlen, tcaches_destroy);
}

static const ctl_node_t ctl_tcache_nodes[] = {
	CTL_LEAF(create, ctl_tcache_create),
	CTL_LEAF(flush, ctl_tcache_flush),
	CTL_LEAF(destroy, ctl_tcache_destroy),
};

const ctl_node_t ctl_thread_tree = CTL_INNER(ctl_thread_nodes);
const ctl_node_t ctl_tcache_tree = CTL_INNER(ctl_tcache_nodes);
