/*
 * ctl_experimental.c — the experimental.* subtree of the mallctl tree:
 * the program's allocation hooks (experimental.hooks.install, .remove),
 * the safety-check hook and experimental.batch_alloc, with the profiler's
 * nodes linked in from ctl_prof.c.  L5.  See ctl.h for the tree and
 * docs/compat.md, "Experimental hooks", for the rules.
 *
 * Every node forwards to hook.c, safety.c or malloc.c; nothing here keeps
 * state or takes a lock of its own.  Return codes are jemalloc 5.3's.
 */
#include "public_names.h"
#include <strata.h>

#include <errno.h>

#include "ctl.h"
#include "hook.h"
#include "malloc_internal.h"
#include "safety.h"

/* experimental.hooks.install: new value a hooks_t, old value the handle
 * (both required: EINVAL).  EAGAIN when HOOK_MAX sets are installed.  An
 * old length other than a pointer's gets jemalloc's partial copy (of a
 * NULL handle) and EINVAL, and installs nothing. */
static int
ctl_experimental_hooks_install(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                               void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (oldp == NULL || oldlenp == NULL || newp == NULL)
		return EINVAL;
	hooks_t hooks;
	int err = ctl_write(newp, newlen, &hooks, sizeof(hooks));
	if (err != 0)
		return err;
	void *handle = NULL;
	if (*oldlenp != sizeof(handle))
		return ctl_read(oldp, oldlenp, &handle, sizeof(handle));
	err = hook_install(&hooks, &handle);
	if (err != 0)
		return err;
	return ctl_read(oldp, oldlenp, &handle, sizeof(handle));
}

/* experimental.hooks.remove: write-only; the handle install gave (EINVAL
 * for NULL or a handle that is not installed). */
static int
ctl_experimental_hooks_remove(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                              void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	void *handle = NULL;
	int err = ctl_write(newp, newlen, &handle, sizeof(handle));
	if (err != 0)
		return err;
	if (handle == NULL)
		return EINVAL;
	return hook_remove(handle);
}

/* experimental.hooks.safety_check_abort: write-only, as in jemalloc 5.3;
 * NULL puts abort() back. */
static int
ctl_experimental_hooks_safety_check_abort(const size_t *mib, size_t miblen, void *oldp,
                                          size_t *oldlenp, void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	if (!ctl_is_write_only_call(oldp, oldlenp))
		return EPERM;
	if (newp == NULL)
		return 0;
	safety_check_abort_hook_t hook;
	int err = ctl_write(newp, newlen, &hook, sizeof(hook));
	if (err != 0)
		return err;
	safety_set_abort_hook(hook);
	return 0;
}

/* jemalloc 5.3's batch_alloc_packet_t. */
typedef struct ctl_batch_alloc_packet {
	void **ptrs;
	size_t num;
	size_t size;
	int flags;
} ctl_batch_alloc_packet_t;

/* experimental.batch_alloc: the old value (required, a size_t) is the
 * number of objects allocated into the packet's ptrs. */
static int
ctl_experimental_batch_alloc(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                             void *newp, size_t newlen)
{
	(void)mib;
	(void)miblen;
	size_t filled;
	int err = ctl_require_read(oldp, oldlenp, sizeof(filled));
	if (err != 0)
		return err;
	ctl_batch_alloc_packet_t packet;
	err = ctl_require_write(newp, newlen, &packet, sizeof(packet));
	if (err != 0)
		return err;
	filled = malloc_batch_alloc(packet.ptrs, packet.num, packet.size, packet.flags);
	return ctl_read(oldp, oldlenp, &filled, sizeof(filled));
}

static const ctl_node_t ctl_experimental_hooks_nodes[] = {
	CTL_LEAF(install, ctl_experimental_hooks_install),
	CTL_LEAF(remove, ctl_experimental_hooks_remove),
	CTL_LEAF(prof_dump, ctl_experimental_hooks_prof_dump),
	CTL_LEAF(safety_check_abort, ctl_experimental_hooks_safety_check_abort),
};

static const ctl_node_t ctl_experimental_nodes[] = {
	CTL_LEAF(arenas_create_ext, ctl_experimental_arenas_create_ext),
	CTL_NAMED(hooks, ctl_experimental_hooks_nodes),
	CTL_LINK(prof_recent, ctl_experimental_prof_recent_tree),
	CTL_LEAF(batch_alloc, ctl_experimental_batch_alloc),
};

const ctl_node_t ctl_experimental_tree = CTL_INNER(ctl_experimental_nodes);
