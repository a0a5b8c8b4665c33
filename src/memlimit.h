/*
 * memlimit.h — the memory limit that applies to the process, and how much
 * of it is in use.  Layer L0.
 *
 * Owns where the limit comes from (the memory_limit option: off, a byte
 * count, or the process's cgroup) and reading it.  The purger that acts on
 * it lives elsewhere; this module only reads.
 *
 * Invariants: the source and the paths it reads are resolved once by
 * memlimit_boot (under pthread_once, at the purger's first check of the
 * limit: background.c) and only read after that, so memlimit_read may run
 * in any thread that has seen the boot complete.  No locks.
 * Nothing here allocates, uses stdio or changes errno: files are read with
 * open/read/close into buffers of fixed size, and a path or line that does
 * not fit counts as no limit.
 *
 * Test injection (docs/design.md, "Injection"): in the internal test
 * archive, a non-NULL memlimit_test_root is put in front of every path
 * memlimit_boot opens (/proc/self/cgroup, /proc/self/mountinfo,
 * /proc/self/statm and the cgroup mount points), so a test builds a fake
 * tree under a folder and calls memlimit_boot again.  Other builds never
 * read it.
 */
#ifndef STRATA_MEMLIMIT_H
#define STRATA_MEMLIMIT_H

#include "config.h"

/* Room for a path memlimit opens (a cgroup folder plus a file name). */
#define MEMLIMIT_PATH_MAX 4096

extern const char *memlimit_test_root;

/*
 * Resolves the source from opt_memory_limit: off; manual (the option's
 * byte count, against the process's resident set from /proc/self/statm);
 * or auto: the process's memory cgroup, v1 when /proc/self/cgroup names a
 * v1 hierarchy with the memory controller that is mounted, else v2 when its
 * 0:: cgroup lies under a cgroup2 mount and it or an ancestor has
 * memory.current; else none.  Called once (background.c's pthread_once,
 * after conf_init), and again by tests.
 */
void memlimit_boot(void);

/*
 * The limit that applies now and the usage it is measured against, in
 * bytes.  For a cgroup every level from the process's cgroup up to the
 * mount's root counts: a level's limit is memory.max and memory.high,
 * whichever is lower (v2), or memory.limit_in_bytes (v1), and values of
 * 2^62 or more ("max", v1's page-rounded LONG_MAX) are none; its usage is
 * memory.current or memory.usage_in_bytes.  The level with the least room
 * left (limit - usage, 0 when over) gives both numbers, the deepest on a
 * tie; with one limited level that is its limit, and a parent with a
 * smaller limit wins over its child.  A level whose files are absent or
 * malformed limits nothing.  Returns false, writing nothing, when no limit
 * applies (off, none, no level limited) or reading fails.
 */
bool memlimit_read(size_t *limit, size_t *usage);

/* Where the limit comes from: "off", "manual", "cgroup2", "cgroup1" or
 * "none". */
const char *memlimit_source(void);

#endif
