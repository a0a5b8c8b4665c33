/*
 * tdata.h — the profiler's data of one thread: its uid in dumps (jemalloc's
 * t<uid> lines), its name, its own sampling switch, and its mark for
 * interval dumps.
 *
 * A thread's data is created at its first sample (or when it is named) and
 * never freed: dumps list exited threads while they own live sampled
 * objects, and the records of those objects point at it.  All data are on
 * one list, newest first.  Locks: prof_tdatas_mtx protects the list and
 * every name; active is atomic (written by its thread, read by it); the
 * rest belongs to the owning thread.
 */
#ifndef STRATA_PROF_TDATA_H
#define STRATA_PROF_TDATA_H

#include "atomic.h"
#include "mutex.h"

/* jemalloc 5.3 keeps the whole name; 32 bytes hold any kernel thread name
 * (16) and the usual program-given ones. */
#define PROF_THREAD_NAME_MAX 32

struct prof_tdata {
	struct prof_tdata *next; /* the list, under prof_tdatas_mtx */
	uint64_t uid;            /* 0, 1, 2 ... in order of creation */
	_Atomic bool active;     /* thread.prof.active */
	uint64_t interval_mark;  /* the thread's allocated bytes at its last sample */
	char name[PROF_THREAD_NAME_MAX]; /* "" when unnamed; under prof_tdatas_mtx */
	unsigned dump_slot;      /* scratch of the dump in progress (dump lock) */
};

extern mutex_t prof_tdatas_mtx;
extern struct prof_tdata *prof_tdatas;

/* Sets up the list and its lock.  Called by prof_boot. */
void prof_tdata_boot(void);
/* *tdatap, created (active as prof.thread_active_init says) when NULL;
 * NULL when out of metadata memory. */
struct prof_tdata *prof_tdata_get(struct prof_tdata **tdatap);
/* Copies name into the thread's data: EINVAL when it is not printable text
 * (jemalloc: isgraph or isblank characters only) or too long. */
int prof_tdata_name_set(struct prof_tdata *tdata, const char *name);
/* Reads the system's name of the calling thread into its data
 * (prof_sys_thread_name). */
void prof_tdata_name_from_system(struct prof_tdata *tdata);

#endif
