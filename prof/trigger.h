/*
 * trigger.h — what makes the profiler dump on its own: the dump signal,
 * allocation intervals, new high-water marks of the heap, and exit.
 *
 * Requests are bits in one word; the dumper thread sleeps on it (futex) and
 * writes the dumps, so the signal handler only sets a bit and wakes it, and
 * an allocating thread never writes a file.  Repeated requests before the
 * dumper gets to them coalesce into one dump.  The dumper thread is started
 * when the process can run threads (prof_start, at load time) if any trigger
 * is configured, again in a fork child (by the fork handler), and when a
 * trigger is turned on later (at the next sample).  At exit, requests still
 * pending are served by the exiting thread, the final dump is written, and
 * dumps then stop (dump.h), so exit never cuts one short.
 * Locks: none; the request word and the flags are atomics.
 */
#ifndef STRATA_PROF_TRIGGER_H
#define STRATA_PROF_TRIGGER_H

#include "config.h"

/* Installs the dump signal's handler (opt.prof_signal). 0 or an errno. */
int prof_trigger_boot(void);
/* Threads may be started from now on; starts the dumper if needed. */
void prof_trigger_start(void);
/* Starts the dumper thread if a trigger needs it and it is not running.
 * Must be called with the thread's reentrancy level raised. */
void prof_trigger_ensure_dumper(void);
/* A thread's sample: it has allocated bytes since its previous one. */
void prof_trigger_interval_add(uint64_t bytes);
/* Defined here and declared in prof.h: prof_exit, prof_interval,
 * prof_gdump_wanted, prof_gdump_observe, prof_gdump_get, prof_gdump_set. */
/* Fork child: the dumper thread is gone; starts a new one if needed. */
void prof_trigger_postfork_child(void);

#endif
