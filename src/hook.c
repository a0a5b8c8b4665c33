/*
 * hook.c — the slots of the program's allocation hooks, their installation
 * and their calls.  See hook.h.
 *
 * Slots: HOOK_MAX, each a seqlock over a copy of the program's hooks_t and
 * an in-use flag.  Writers (install, remove) hold hook_mtx; readers take no
 * lock.  hook_count is the number of slots in use; each installed set holds
 * one forcing of the slow path (event_force_slow), so that no thread's
 * fast path runs while a hook is installed.
 *
 * Locks: hook_mtx (rank HOOKS) around slot writes and the forcing (which
 * takes tsd.c's list lock, a leaf).
 */
#include <errno.h>

#include "event.h"
#include "hook.h"
#include "mutex.h"

typedef struct hook_slot {
	_Atomic unsigned seq; /* odd while a writer is changing the slot */
	_Atomic(hook_alloc) alloc_hook;
	_Atomic(hook_dalloc) dalloc_hook;
	_Atomic(hook_expand) expand_hook;
	_Atomic(void *) extra;
	_Atomic bool in_use;
} hook_slot_t;

_Atomic unsigned hook_count;
static hook_slot_t hook_slots[HOOK_MAX];
static mutex_t hook_mtx = MUTEX_INITIALIZER("hooks", MUTEX_RANK_HOOKS);
/* Set while the thread runs a hook: its own allocations call none. */
static __thread bool hook_in_call __attribute__((tls_model("initial-exec")));

void
hook_boot(void)
{
	mutex_register(&hook_mtx, NULL);
}

/*
 * The seqlock without fences (which ThreadSanitizer cannot follow): the
 * writer makes the number odd, then stores the fields with release
 * stores (none can be seen before the odd number), then makes it even
 * (release).  The reader loads the number (acquire), the fields (acquire:
 * the second load of the number cannot pass them), then the number again.
 * A reader that saw any field of a write in progress sees the odd number
 * or a later one on its second load, and skips the slot.
 */
static void
hook_slot_write(hook_slot_t *slot, const hooks_t *hooks, bool in_use)
{
	unsigned seq = atomic_load_relaxed(&slot->seq);
	atomic_store_relaxed(&slot->seq, seq + 1);
	atomic_store_release(&slot->alloc_hook, hooks->alloc_hook);
	atomic_store_release(&slot->dalloc_hook, hooks->dalloc_hook);
	atomic_store_release(&slot->expand_hook, hooks->expand_hook);
	atomic_store_release(&slot->extra, hooks->extra);
	atomic_store_release(&slot->in_use, in_use);
	atomic_store_release(&slot->seq, seq + 2);
}

/* Copies a slot without a lock; false when it is not in use or a writer
 * changed it meanwhile (the caller skips it). */
static bool
hook_slot_read(hook_slot_t *slot, hooks_t *hooks)
{
	unsigned seq = atomic_load_acquire(&slot->seq);
	if (seq & 1)
		return false;
	hooks->alloc_hook = atomic_load_acquire(&slot->alloc_hook);
	hooks->dalloc_hook = atomic_load_acquire(&slot->dalloc_hook);
	hooks->expand_hook = atomic_load_acquire(&slot->expand_hook);
	hooks->extra = atomic_load_acquire(&slot->extra);
	bool in_use = atomic_load_acquire(&slot->in_use);
	return in_use && atomic_load_relaxed(&slot->seq) == seq;
}

int
hook_install(const hooks_t *hooks, void **handle)
{
	int err = EAGAIN;
	mutex_lock(&hook_mtx);
	for (unsigned i = 0; i < HOOK_MAX; i++) {
		if (atomic_load_relaxed(&hook_slots[i].in_use))
			continue;
		hook_slot_write(&hook_slots[i], hooks, true);
		atomic_add_relaxed(&hook_count, 1);
		event_force_slow(true);
		*handle = &hook_slots[i];
		err = 0;
		break;
	}
	mutex_unlock(&hook_mtx);
	return err;
}

int
hook_remove(void *handle)
{
	static const hooks_t none = {NULL, NULL, NULL, NULL};
	int err = EINVAL;
	mutex_lock(&hook_mtx);
	for (unsigned i = 0; i < HOOK_MAX; i++) {
		hook_slot_t *slot = &hook_slots[i];
		if (handle != slot || !atomic_load_relaxed(&slot->in_use))
			continue;
		hook_slot_write(slot, &none, false);
		atomic_sub_relaxed(&hook_count, 1);
		event_force_slow(false);
		err = 0;
		break;
	}
	mutex_unlock(&hook_mtx);
	return err;
}

/* What each entry point is to each kind of hook (-1: never that kind). */
static const int8_t hook_alloc_type[] = {
	[HOOK_ENTRY_MALLOC] = hook_alloc_malloc,
	[HOOK_ENTRY_CALLOC] = hook_alloc_calloc,
	[HOOK_ENTRY_POSIX_MEMALIGN] = hook_alloc_posix_memalign,
	[HOOK_ENTRY_ALIGNED_ALLOC] = hook_alloc_aligned_alloc,
	[HOOK_ENTRY_MEMALIGN] = hook_alloc_memalign,
	[HOOK_ENTRY_VALLOC] = hook_alloc_valloc,
	[HOOK_ENTRY_PVALLOC] = hook_alloc_pvalloc,
	[HOOK_ENTRY_MALLOCX] = hook_alloc_mallocx,
	[HOOK_ENTRY_REALLOC] = hook_alloc_realloc,
	[HOOK_ENTRY_RALLOCX] = hook_alloc_rallocx,
	[HOOK_ENTRY_XALLOCX] = -1,
	[HOOK_ENTRY_FREE] = -1,
	[HOOK_ENTRY_DALLOCX] = -1,
	[HOOK_ENTRY_SDALLOCX] = -1,
};
static const int8_t hook_dalloc_type[] = {
	[HOOK_ENTRY_MALLOC ... HOOK_ENTRY_MALLOCX] = -1,
	[HOOK_ENTRY_REALLOC] = hook_dalloc_realloc,
	[HOOK_ENTRY_RALLOCX] = hook_dalloc_rallocx,
	[HOOK_ENTRY_XALLOCX] = -1,
	[HOOK_ENTRY_FREE] = hook_dalloc_free,
	[HOOK_ENTRY_DALLOCX] = hook_dalloc_dallocx,
	[HOOK_ENTRY_SDALLOCX] = hook_dalloc_sdallocx,
};
static const int8_t hook_expand_type[] = {
	[HOOK_ENTRY_MALLOC ... HOOK_ENTRY_MALLOCX] = -1,
	[HOOK_ENTRY_REALLOC] = hook_expand_realloc,
	[HOOK_ENTRY_RALLOCX] = hook_expand_rallocx,
	[HOOK_ENTRY_XALLOCX] = hook_expand_xallocx,
	[HOOK_ENTRY_FREE ... HOOK_ENTRY_SDALLOCX] = -1,
};

/* Enters a hook call; false when the thread is already inside one. */
static inline bool
hook_enter(void)
{
	if (hook_in_call)
		return false;
	hook_in_call = true;
	return true;
}

void
hook_call_alloc(const hook_site_t *site, void *result)
{
	int type = hook_alloc_type[site->entry];
	if (type < 0 || !hook_enter())
		return;
	uintptr_t raw = site->entry == HOOK_ENTRY_POSIX_MEMALIGN ? (result != NULL ? 0 : ENOMEM)
	                                                         : (uintptr_t)result;
	for (unsigned i = 0; i < HOOK_MAX; i++) {
		hooks_t h;
		/* The hook gets a copy of the arguments: it may write them. */
		uintptr_t args[4] = {site->args[0], site->args[1], site->args[2], site->args[3]};
		if (hook_slot_read(&hook_slots[i], &h) && h.alloc_hook != NULL)
			h.alloc_hook(h.extra, (hook_alloc_t)type, result, raw, args);
	}
	hook_in_call = false;
}

void
hook_call_dalloc(const hook_site_t *site, void *address)
{
	int type = hook_dalloc_type[site->entry];
	if (type < 0 || !hook_enter())
		return;
	for (unsigned i = 0; i < HOOK_MAX; i++) {
		hooks_t h;
		uintptr_t args[4] = {site->args[0], site->args[1], site->args[2], site->args[3]};
		if (hook_slot_read(&hook_slots[i], &h) && h.dalloc_hook != NULL)
			h.dalloc_hook(h.extra, (hook_dalloc_t)type, address, args);
	}
	hook_in_call = false;
}

void
hook_call_expand(const hook_site_t *site, void *address, size_t old_usize, size_t new_usize)
{
	int type = hook_expand_type[site->entry];
	if (type < 0 || !hook_enter())
		return;
	uintptr_t raw = site->entry == HOOK_ENTRY_XALLOCX ? new_usize : (uintptr_t)address;
	for (unsigned i = 0; i < HOOK_MAX; i++) {
		hooks_t h;
		uintptr_t args[4] = {site->args[0], site->args[1], site->args[2], site->args[3]};
		if (hook_slot_read(&hook_slots[i], &h) && h.expand_hook != NULL)
			h.expand_hook(h.extra, (hook_expand_t)type, address, old_usize, new_usize, raw,
			              args);
	}
	hook_in_call = false;
}
