/*
 * prof.c — the profiler's facade: boot, the sampled-allocation entry
 * points, thread data and the mallctl settings.  See prof.h.
 *
 * Settings (prof.active, prof.thread_active_init, prof.lg_sample, the dump
 * hook) are atomics; the dump prefix is copied under prof_prefix_mtx, a
 * leaf lock.
 */
#include <errno.h>
#include <string.h>

#include "conf.h"
#include "msg.h"
#include "prng.h"
#include "sz.h"
#include "prof/backtrace.h"
#include "prof/class_stats.h"
#include "prof/dump.h"
#include "prof/prof.h"
#include "prof/recent.h"
#include "prof/recent_json.h"
#include "prof/stacks.h"
#include "prof/state.h"
#include "prof/tdata.h"
#include "prof/trigger.h"

base_t prof_base;
_Atomic unsigned prof_lg_sample_now;
static _Atomic bool prof_active_now;
static _Atomic bool prof_thread_active_init_now;
static _Atomic(prof_dump_hook_t) prof_dump_hook;
static mutex_t prof_prefix_mtx = MUTEX_INITIALIZER("prof_prefix", MUTEX_RANK_PROF_DUMP);
static char prof_prefix[CONF_PROF_PREFIX_MAX]; /* under prof_prefix_mtx */

int
prof_boot(void)
{
	if (!opt_prof) {
		/* The handler is installed anyway: a dump signal must not
		 * kill a process that was merely started without prof:true. */
		if (opt_prof_signal == CONF_PROF_SIGNAL_NONE)
			return 0;
		msg_error("prof_signal:%s has no effect without prof:true\n",
		          conf_options[CONF_ID_prof_signal].values[opt_prof_signal]);
		return prof_trigger_boot();
	}
	base_init(&prof_base, MUTEX_RANK_GLOBAL_BASE);
	mutex_register(&prof_base.mtx, NULL);
	atomic_store_relaxed(&prof_lg_sample_now, (unsigned)opt_lg_prof_sample);
	prof_stacks_set_rate((unsigned)opt_lg_prof_sample);
	atomic_store_relaxed(&prof_active_now, opt_prof_active);
	atomic_store_relaxed(&prof_thread_active_init_now, opt_prof_thread_active_init);
	memcpy(prof_prefix, opt_prof_prefix, sizeof(prof_prefix));
	prof_tdata_boot();
	prof_dump_boot();
	prof_backtrace_boot();
	prof_recent_boot();
	prof_recent_json_boot();
	int err = prof_stacks_boot();
	return err != 0 ? err : prof_trigger_boot();
}

void
prof_start(void)
{
	if (opt_prof)
		prof_trigger_start();
}

void
prof_postfork_child(void)
{
	if (!opt_prof)
		return;
	mutex_init(&prof_prefix_mtx, "prof_prefix", MUTEX_RANK_PROF_DUMP);
	prof_dump_postfork_child();
	prof_recent_json_postfork_child();
	prof_recent_postfork_child();
	prof_trigger_postfork_child();
}

/* ------------------------------------------------ sampled objects */

bool
prof_sample_begin(prof_tdata_t **tdatap, size_t req, size_t usize, uint64_t allocated,
                  extent_sample_t *s)
{
	if (!atomic_load_relaxed(&prof_active_now))
		return false;
	prof_tdata_t *td = prof_tdata_get(tdatap);
	if (td == NULL || !atomic_load_relaxed(&td->active))
		return false;
	prof_trigger_interval_add(allocated - td->interval_mark);
	td->interval_mark = allocated;
	prof_trigger_ensure_dumper();
	if (opt_prof_sys_thread_name)
		prof_tdata_name_from_system(td);
	uintptr_t pcs[CONF_PROF_BT_MAX_LIMIT + PROF_BACKTRACE_SLACK];
	unsigned depth = prof_backtrace(pcs, opt_prof_bt_max);
	struct prof_tctx *tctx = prof_stacks_count(td, pcs, depth, usize);
	if (tctx == NULL)
		return false;
	if (opt_prof_stats)
		prof_class_stats_add(sz_size2index(usize), req);
	s->tctx = tctx;
	s->req = req;
	prof_recent_alloc(s, req, usize, td, tctx->stack);
	return true;
}

/* Takes back the counts of the object of s, usize bytes. */
static void
prof_sample_uncount(const extent_sample_t *s, size_t usize)
{
	prof_stacks_uncount(s->tctx, usize);
	if (opt_prof_stats)
		prof_class_stats_sub(sz_size2index(usize), s->req);
}

void
prof_sample_cancel(const extent_sample_t *s, size_t usize)
{
	prof_recent_cancel(s);
	prof_sample_uncount(s, usize);
}

void
prof_sample_free(prof_tdata_t **tdatap, const extent_sample_t *s, size_t usize)
{
	if (prof_recent_is_live(s)) {
		/* Its record wants the free's thread and stack. */
		prof_tdata_t *td = tdatap != NULL ? prof_tdata_get(tdatap) : NULL;
		const prof_stack_t *stack = NULL;
		if (td != NULL) {
			uintptr_t pcs[CONF_PROF_BT_MAX_LIMIT + PROF_BACKTRACE_SLACK];
			unsigned depth = prof_backtrace(pcs, opt_prof_bt_max);
			stack = prof_stacks_intern(pcs, depth);
		}
		prof_recent_dalloc(s, td, stack);
	}
	prof_sample_uncount(s, usize);
}

/* A uniform draw in [0, 1) for thinning, from a process-wide counter. */
static double
prof_uniform(void)
{
	static _Atomic uint64_t prof_uniform_counter;
	uint64_t x = atomic_add_relaxed(&prof_uniform_counter, 1);
	return (double)(prng_next(&x) >> 11) * 0x1p-53;
}

bool
prof_sample_resize(prof_tdata_t **tdatap, extent_sample_t *s, size_t old_usize, size_t req,
                   size_t usize)
{
	/* The chance of being sampled is the inverse of the weight. */
	if (usize < old_usize &&
	    prof_uniform() >= prof_stacks_weight(old_usize) / prof_stacks_weight(usize)) {
		prof_sample_free(tdatap, s, old_usize);
		return false;
	}
	prof_stacks_recount(s->tctx, old_usize, usize);
	if (opt_prof_stats)
		prof_class_stats_move(sz_size2index(old_usize), s->req, sz_size2index(usize), req);
	s->req = req;
	prof_recent_resize(s, req, usize);
	return true;
}

bool
prof_stats_read(unsigned szind, prof_class_stats_t *live, prof_class_stats_t *accum)
{
	if (!opt_prof || !opt_prof_stats)
		return false;
	prof_class_stats_read(szind, live, accum);
	return true;
}

/* ------------------------------------------------ mallctl */

/* An explicit name is written as given: compressed only when it says so
 * (.gz) and compression is on. */
static bool
prof_path_wants_gzip(const char *path)
{
	size_t len = strlen(path);
	return opt_prof_dump_compress && len > 3 && strcmp(path + len - 3, ".gz") == 0;
}

int
prof_dump_manual(const char *path)
{
	if (!opt_prof)
		return ENOENT;
	int err;
	if (path == NULL) {
		char auto_path[PROF_DUMP_PATH_MAX];
		err = prof_dump_auto(PROF_DUMP_MANUAL, true, auto_path);
	} else {
		err = prof_dump_write(path, prof_path_wants_gzip(path));
	}
	return err == 0 ? 0 : EFAULT;
}

int
prof_recent_dump_path(const char *path)
{
	if (!opt_prof)
		return ENOENT;
	if (path == NULL)
		return EINVAL;
	return prof_recent_json_dump_file(path, prof_path_wants_gzip(path)) == 0 ? 0 : EFAULT;
}

int
prof_recent_dump_callback(void (*write_cb)(void *, const char *), void *cbopaque)
{
	if (!opt_prof)
		return ENOENT;
	return prof_recent_json_dump_cb(write_cb, cbopaque) == 0 ? 0 : EFAULT;
}

void
prof_prefix_get(char *buf, size_t size)
{
	mutex_lock(&prof_prefix_mtx);
	size_t len = strnlen(prof_prefix, size - 1);
	memcpy(buf, prof_prefix, len);
	buf[len] = '\0';
	mutex_unlock(&prof_prefix_mtx);
}

int
prof_prefix_set(const char *prefix)
{
	size_t len = strlen(prefix);
	if (len >= sizeof(prof_prefix))
		return EINVAL;
	mutex_lock(&prof_prefix_mtx);
	memcpy(prof_prefix, prefix, len + 1);
	mutex_unlock(&prof_prefix_mtx);
	return 0;
}

bool
prof_active_get(void)
{
	return atomic_load_relaxed(&prof_active_now);
}

void
prof_active_set(bool active)
{
	atomic_store_relaxed(&prof_active_now, active);
}

bool
prof_thread_active_init_get(void)
{
	return atomic_load_relaxed(&prof_thread_active_init_now);
}

void
prof_thread_active_init_set(bool active)
{
	atomic_store_relaxed(&prof_thread_active_init_now, active);
}

void
prof_reset(unsigned lg)
{
	prof_stacks_reset();
	prof_stacks_set_rate(lg);
	atomic_store_relaxed(&prof_lg_sample_now, lg);
}

unsigned
prof_lg_sample(void)
{
	return atomic_load_relaxed(&prof_lg_sample_now);
}

const char *
prof_thread_name_get(prof_tdata_t **tdatap)
{
	prof_tdata_t *td = prof_tdata_get(tdatap);
	return td != NULL ? td->name : "";
}

int
prof_thread_name_set(prof_tdata_t **tdatap, const char *name)
{
	prof_tdata_t *td = prof_tdata_get(tdatap);
	if (td == NULL)
		return EAGAIN;
	return prof_tdata_name_set(td, name) == 0 ? 0 : EFAULT;
}

bool
prof_thread_active_get(prof_tdata_t **tdatap)
{
	prof_tdata_t *td = prof_tdata_get(tdatap);
	return td != NULL && atomic_load_relaxed(&td->active);
}

int
prof_thread_active_set(prof_tdata_t **tdatap, bool active)
{
	prof_tdata_t *td = prof_tdata_get(tdatap);
	if (td == NULL)
		return EAGAIN;
	atomic_store_relaxed(&td->active, active);
	return 0;
}

prof_dump_hook_t
prof_dump_hook_get(void)
{
	return atomic_load_relaxed(&prof_dump_hook);
}

void
prof_dump_hook_set(prof_dump_hook_t hook)
{
	atomic_store_relaxed(&prof_dump_hook, hook);
}
