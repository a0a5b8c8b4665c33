/*
 * conf.h — run-time options: the option table, the opt_* globals and the
 * MALLOC_CONF parser.  Layer L0: includes only config.h.
 *
 * CONF_OPTIONS is the single source of truth for every option.  It
 * generates the opt_* globals and their defaults (conf.c), the parser's
 * descriptor table (conf.c), the read-only opt.<name> mallctl nodes (ctl.c)
 * and is checked against the option list of man/strata.3 (tests/check_conf.c).
 *
 * One row per option:
 *
 *   X(name, kind, ctype, default, min, max, values, "one-line doc")
 *
 *   name     the MALLOC_CONF key; the global is opt_<name>, the mallctl
 *            node opt.<name>.
 *   kind     how the value is parsed and reported (enum conf_kind without
 *            its CONF_KIND_ prefix):
 *              BOOL       `true` or `false`; opt.<name> is bool.
 *              CHOICE     one of `values`; the global holds the index of the
 *                         value (an enum whose order matches `values`);
 *                         opt.<name> is the value's name (const char *).
 *              UINT       an unsigned integer (decimal, 0x hex, 0 octal);
 *                         outside [min, max] is "Out-of-range".
 *              UINT_CLIP  as UINT, but silently clipped to [min, max].
 *              UINT_AUTO  as UINT, and the word `default` sets 0, meaning
 *                         "chosen automatically"; opt.<name> reports the
 *                         effective value (ctl.c defines
 *                         ctl_opt_effective_<name>() for each such row).
 *              SINT       a signed integer (the forms of UINT, with an
 *                         optional minus sign); outside [min, max] is
 *                         "Out-of-range".
 *              STRING     any text without a comma (a file-name prefix);
 *                         the global is char[max], and a longer value is
 *                         "Out-of-range"; opt.<name> is const char *.
 *              LG_ALIAS   another name for the option written in the ctype
 *                         column (the target): value v, an unsigned clipped
 *                         silently to [min, max], sets opt_<target> to 2^v.
 *                         The row has no global of its own and no
 *                         opt.<name> node (jemalloc's lg_tcache_max);
 *                         default is unused (write 0).
 *              LIMIT      a byte count, `auto` or `off`: the forms of UINT with
 *                         an optional last letter k/K, m/M or g/G (times
 *                         2^10, 2^20, 2^30); a count outside [min, max]
 *                         after the suffix is "Out-of-range" (so 0 is, as
 *                         min is at least 1).  ctype is size_t; the global
 *                         holds the count, CONF_LIMIT_AUTO (0) for `auto`
 *                         or CONF_LIMIT_OFF (SIZE_MAX) for `off`, so max
 *                         must stay below SIZE_MAX; opt.<name> is
 *                         const char *: "auto", "off" or the count in
 *                         decimal (kept in the row's text buffer).
 *              FXP        an unsigned fixed-point number, digits with an
 *                         optional fraction (`0.25`, at most 65535.99...), kept
 *                         as 16.16 bits in a uint32_t (jemalloc's fxp_t; the
 *                         fraction's first 8 digits count, truncated);
 *                         above max (in those units) is "Invalid conf value";
 *                         values CONF_VALUES("-1") also accepts -1, stored as
 *                         UINT32_MAX; opt.<name> is uint32_t, and the row's
 *                         text buffer holds the value as jemalloc prints it.
 *              RANGES     `start-end:n[|start-end:n]...` (jemalloc's
 *                         slab_sizes and bin_shards): each segment gives the
 *                         size classes from start to end bytes the value n;
 *                         the global (conf_ranges_t) keeps the segments in
 *                         order, later ones winning where they overlap; an n
 *                         outside [min, max] or a malformed segment is
 *                         "Invalid settings for <name>" (segments before it
 *                         stay); the word in values (CONF_VALUES("default"))
 *                         empties the list.  Only in CONF_HIDDEN_OPTIONS.
 *              LETTERS    a set of letters: each occurrence adds its letters
 *                         that are in values[0] and not yet present, ignoring
 *                         the rest (jemalloc's stats_print_opts rule); the
 *                         global is char[max]; opt.<name> is const char *.
 *   ctype    the C type of opt_<name> (ignored for LETTERS and STRING: char[max];
 *            the target option's name for LG_ALIAS).
 *   default  the initial value (for LETTERS and STRING a string literal).
 *   min,max  UINT*, SINT: the accepted range; LG_ALIAS: the accepted
 *            exponents; LETTERS, STRING: max is the buffer size.
 *   values   CONF_VALUES("a", "b", ...) for CHOICE and LETTERS, else
 *            CONF_NO_VALUES.
 *   doc      one sentence for the man page (no roff requests).
 *
 * CONF_HIDDEN_OPTIONS holds the rows that MALLOC_CONF accepts but that
 * have no opt.<name> node, as in jemalloc 5.3 (narenas_ratio, slab_sizes,
 * bin_shards, san_guard_*, prof_unbias, prof_log; docs/compat.md).  Their
 * ids follow CONF_OPTIONS' ones: conf_options[0 .. CONF_NOPTIONS) have
 * nodes, conf_options[CONF_NOPTIONS .. CONF_NALL) do not.
 *
 * Adding an option is one row here (plus, for CHOICE, the enum its global
 * uses, and for UINT_AUTO the effective-value function in ctl.c); then
 * `make man` rewrites the option list of man/strata.3 from the table
 * (tools/mangen.c; the conf test fails while the page differs).
 *
 * Invariants: the globals are written only by conf_init (once, single
 * threaded, before the first allocation) and by the test entry points;
 * afterwards they are read without locks.  Nothing here allocates.
 */
#ifndef STRATA_CONF_H
#define STRATA_CONF_H

#include <limits.h>
#include <sys/types.h>
#include "config.h"

/* Values of opt_zero_realloc: what realloc(ptr, 0) does. */
enum conf_zero_realloc {
	CONF_ZERO_REALLOC_FREE,
	CONF_ZERO_REALLOC_ALLOC,
	CONF_ZERO_REALLOC_ABORT
};

/* Values of opt_junk: when memory is filled with junk bytes. */
enum conf_junk { CONF_JUNK_FALSE, CONF_JUNK_TRUE, CONF_JUNK_ALLOC, CONF_JUNK_FREE };

/* Values of opt_percpu_arena: whether arenas are tied to CPUs. */
enum conf_percpu_arena {
	CONF_PERCPU_ARENA_DISABLED,
	CONF_PERCPU_ARENA_PERCPU,
	CONF_PERCPU_ARENA_PHYCPU
};

/* Values of opt_numa: whether arenas are bound to NUMA nodes. */
enum conf_numa { CONF_NUMA_AUTO, CONF_NUMA_OFF };

/* Values of opt_numa_policy: the memory policy of an arena's mappings. */
enum conf_numa_policy {
	CONF_NUMA_POLICY_PREFERRED,
	CONF_NUMA_POLICY_BIND,
	CONF_NUMA_POLICY_INTERLEAVE
};

/* Values of opt_numa_migrate: what a thread does when it moved to another node. */
enum conf_numa_migrate { CONF_NUMA_MIGRATE_REBIND, CONF_NUMA_MIGRATE_STAY };

/* Values of opt_prof_signal: the signal that asks for a heap dump. */
enum conf_prof_signal {
	CONF_PROF_SIGNAL_NONE,
	CONF_PROF_SIGNAL_HUP,
	CONF_PROF_SIGNAL_USR1,
	CONF_PROF_SIGNAL_USR2,
	CONF_PROF_SIGNAL_URG,
	CONF_PROF_SIGNAL_PWR,
	CONF_PROF_SIGNAL_WINCH
};

/* Values of opt_prof_time_resolution: the clock of prof_recent records. */
enum conf_prof_time_resolution {
	CONF_PROF_TIME_RESOLUTION_DEFAULT,
	CONF_PROF_TIME_RESOLUTION_HIGH
};

/* Values of opt_prof_backtrace: how a sampled allocation's stack is read. */
enum conf_prof_backtrace { CONF_PROF_BACKTRACE_LIBUNWIND, CONF_PROF_BACKTRACE_FP };

/* Values of opt_dss: strata has no sbrk, so only jemalloc's "disabled". */
enum conf_dss { CONF_DSS_DISABLED };

/* Values of opt_metadata_thp: huge pages for metadata (hpage.h). */
enum conf_metadata_thp {
	CONF_METADATA_THP_DISABLED,
	CONF_METADATA_THP_AUTO,
	CONF_METADATA_THP_ALWAYS
};

/* Values of opt_thp: the huge-page policy of the heap (hpage.h). */
enum conf_thp { CONF_THP_DEFAULT, CONF_THP_ALWAYS, CONF_THP_NEVER, CONF_THP_AUTO };

/* A RANGES option's value: segments in the order given. */
#define CONF_RANGES_MAX 64
typedef struct conf_ranges {
	unsigned n;
	struct conf_range {
		size_t start, end; /* request sizes in bytes, inclusive */
		size_t value;
	} r[CONF_RANGES_MAX];
} conf_ranges_t;

/* An FXP option's value (jemalloc's fxp_t: 16 integer, 16 fraction bits),
 * its 1.0, its -1, and room for its text ("65535.99998474" at most). */
#define CONF_FXP_ONE ((uint32_t)1 << 16)
#define CONF_FXP_MINUS_ONE UINT32_MAX
#define CONF_FXP_TEXT_MAX 24

/* The largest size class (sz.h's SZ_LARGE_MAXCLASS, which L0 cannot see). */
#define CONF_LARGE_MAXCLASS ((size_t)7 << 60)

/* Room for a dump file-name prefix, and the deepest stack a profile keeps. */
#define CONF_PROF_PREFIX_MAX 1024
/* Room for a file path given as an option's value. */
#define CONF_PATH_MAX 1024
#define CONF_PROF_BT_MAX_LIMIT 256

/* The two words of a LIMIT option, as its global holds them, the largest
 * count one accepts (4 EiB; cgroup v1 reads larger limits as none) and the
 * size of the text opt.<name> reports ("auto", "off" or up to 20 digits). */
#define CONF_LIMIT_AUTO ((size_t)0)
#define CONF_LIMIT_OFF SIZE_MAX
#define CONF_LIMIT_MAX ((size_t)1 << 62)
#define CONF_LIMIT_TEXT_MAX 24

/* Limits of the thread-cache options (jemalloc 5.3's; tcache.h relies on
 * them): the largest tcache_max, and the most slots of one cache bin. */
#define CONF_TCACHE_MAX_LIMIT ((size_t)8 << 20)
#define CONF_LG_TCACHE_MAX_LIMIT 23
#define CONF_TCACHE_NSLOTS_LIMIT 2048

#define CONF_VALUES(...) (__VA_ARGS__, )
#define CONF_NO_VALUES ()

/* clang-format off */
#define CONF_OPTIONS(X)                                                                   \
	X(abort, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                                 \
	  "Abort instead of printing a warning when an internal check fails.")            \
	X(abort_conf, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                            \
	  "Abort at startup when an option is invalid, once the source holding it is read.")     \
	X(confirm_conf, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                          \
	  "Print each option source and every value accepted from it at startup.")        \
	X(narenas, UINT_AUTO, unsigned, 0, 1, UINT_MAX, CONF_NO_VALUES,                   \
	  "Number of automatic arenas (at least 1); default means narenas_ratio (4) per CPU.") \
	X(zero_realloc, CHOICE, enum conf_zero_realloc, CONF_ZERO_REALLOC_FREE, 0, 0,     \
	  CONF_VALUES("free", "alloc", "abort"),                                          \
	  "What realloc(ptr, 0) does: free ptr and return NULL, act as malloc(0), or abort.") \
	X(junk, CHOICE, enum conf_junk, CONF_JUNK_FALSE, 0, 0,                            \
	  CONF_VALUES("false", "true", "alloc", "free"),                                  \
	  "Fill new memory with 0xa5 (alloc), freed memory with 0x5a (free), both (true) or neither.") \
	X(zero, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                                  \
	  "Fill every new allocation with zero bytes.")                                   \
	X(safety_checks, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                         \
	  "Check every free at the time of the call (double free, pointer never handed "  \
	  "out, interior pointer, wrong size) and abort naming the address, the kind "    \
	  "and, for a sampled object, its allocation stack.")                             \
	X(xmalloc, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                               \
	  "Abort with a message when an allocation finds no memory, instead of "        \
	  "returning NULL (errno ENOMEM).")                                              \
	X(experimental_infallible_new, BOOL, bool, false, 0, 0, CONF_NO_VALUES,           \
	  "Abort with a message when C++'s operator new finds no memory, instead of "    \
	  "calling the new_handler and throwing std::bad_alloc.")                        \
	X(dirty_decay_ms, SINT, ssize_t, 10000, -1, INT64_MAX / 1000000, CONF_NO_VALUES,   \
	  "Milliseconds over which freed pages are returned to the kernel on a "          \
	  "smootherstep curve; 0 returns them at once, -1 never.")                        \
	X(muzzy_decay_ms, SINT, ssize_t, 0, -1, INT64_MAX / 1000000, CONF_NO_VALUES,     \
	  "Milliseconds over which decayed pages stay muzzy (MADV_FREE) before they are "  \
	  "released; 0 skips the muzzy state, -1 keeps them muzzy.")                       \
	X(dirty_max_bytes, UINT, size_t, 0, 0, SIZE_MAX, CONF_NO_VALUES,                  \
	  "Most bytes of dirty pages all arenas together may hold, whatever the decay "    \
	  "curves allow; 0 sets no cap.")                                                 \
	X(retain, BOOL, bool, true, 0, 0, CONF_NO_VALUES,                                 \
	  "Keep released address space mapped (purged) for reuse instead of unmapping it.") \
	X(cache_oblivious, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                      \
	  "Accepted as jemalloc 5.3.1 does; no effect: strata never offsets large "      \
	  "allocations within their first page.")                                        \
	X(trust_madvise, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                        \
	  "Accepted for jemalloc; no effect: strata never relies on MADV_DONTNEED "      \
	  "zeroing pages.")                                                              \
	X(oversize_threshold, UINT, size_t, 8388608, 0, CONF_LARGE_MAXCLASS,             \
	  CONF_NO_VALUES,                                                                \
	  "Accepted for jemalloc (at most the largest size class); no effect: strata "   \
	  "has no dedicated arena for huge requests.")                                   \
	X(dss, CHOICE, enum conf_dss, CONF_DSS_DISABLED, 0, 0, CONF_VALUES("disabled"),  \
	  "sbrk precedence; strata has no sbrk, so only disabled is accepted (primary "  \
	  "and secondary are invalid values, as in a jemalloc built without dss).")      \
	X(metadata_thp, CHOICE, enum conf_metadata_thp, CONF_METADATA_THP_AUTO, 0, 0,     \
	  CONF_VALUES("disabled", "auto", "always"),                                     \
	  "Huge pages for metadata (extent descriptors, page map, arena structures): "   \
	  "disabled; auto, an arena's metadata past its first 2 MiB chunk (the global "  \
	  "page map's sparse leaves stay on small pages); always, every chunk.  "        \
	  "Nothing under thp:never or a system mode of never.")                          \
	X(thp, CHOICE, enum conf_thp, CONF_THP_AUTO, 0, 0,                               \
	  CONF_VALUES("default", "always", "never", "auto"),                             \
	  "Huge pages for the heap: auto (strata's policy: fresh space advised "         \
	  "MADV_HUGEPAGE, dense ranges kept huge, sparse ones dissolved; nothing when "  \
	  "the system mode is never); default, no advice; always, MADV_HUGEPAGE on "     \
	  "every mapping; never, MADV_NOHUGEPAGE on every mapping.")                     \
	X(thp_dissolve_threshold, UINT_CLIP, size_t, 1468006, 0, HUGEPAGE,               \
	  CONF_NO_VALUES,                                                                \
	  "thp:auto: a huge range whose active bytes fall below this is dissolved: its " \
	  "free pages are purged at 4 KiB grain and it gets MADV_NOHUGEPAGE (clipped to " \
	  "0..2097152; default 70% of 2 MiB).")                                          \
	X(mutex_max_spin, SINT, int64_t, 600, -1, INT64_MAX, CONF_NO_VALUES,             \
	  "Accepted for jemalloc (-1 or more); no effect: strata's locks spin a fixed "  \
	  "100 times before they sleep.")                                                \
	X(lg_extent_max_active_fit, UINT_CLIP, size_t, 10, 0, 63, CONF_NO_VALUES,         \
	  "Never split a dirty or muzzy free extent more than 2^value times a request "   \
	  "to serve it (clipped to 0..63).")                                              \
	X(background_thread, BOOL, bool, true, 0, 0, CONF_NO_VALUES,                      \
	  "Purge decayed pages from background threads, also while the program is idle, " \
	  "instead of from allocating threads.")                                          \
	X(max_background_threads, UINT_CLIP, size_t, 4, 1, 4095, CONF_NO_VALUES,          \
	  "Most purger threads (clipped to 1..4095); each serves every n-th arena.")      \
	X(memory_limit, LIMIT, size_t, CONF_LIMIT_AUTO, 1, CONF_LIMIT_MAX, CONF_NO_VALUES,  \
	  "The memory limit near which strata returns its freed pages to the kernel at "  \
	  "once: auto takes the process's cgroup limit (v2 or v1), off sets none, or a "  \
	  "byte count with an optional k, m or g suffix (KiB, MiB, GiB).")               \
	X(stats_print, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                           \
	  "Print statistics with malloc_stats_print at exit.")                            \
	X(stats_print_opts, LETTERS, char, "", 0, 16, CONF_VALUES("Jgmdablxeh"),          \
	  "Letters passed as opts to the exit-time malloc_stats_print; each setting adds letters.") \
	X(stats_interval, SINT, int64_t, -1, -1, INT64_MAX, CONF_NO_VALUES,                \
	  "Print statistics with malloc_stats_print each time the threads have allocated " \
	  "about this many more bytes in all; -1 never.")                                 \
	X(stats_interval_opts, LETTERS, char, "", 0, 16, CONF_VALUES("Jgmdablxeh"),       \
	  "Letters passed as opts to stats_interval's malloc_stats_print; each setting adds " \
	  "letters.")                                                                     \
	X(percpu_arena, CHOICE, enum conf_percpu_arena, CONF_PERCPU_ARENA_DISABLED, 0, 0, \
	  CONF_VALUES("disabled", "percpu", "phycpu"),                                    \
	  "Tie automatic arenas to CPUs: not at all, one arena per CPU, or one per physical " \
	  "core.")                                                                        \
	X(numa, CHOICE, enum conf_numa, CONF_NUMA_AUTO, 0, 0, CONF_VALUES("auto", "off"),  \
	  "Bind arenas to NUMA nodes: auto does when more than one node has memory; "    \
	  "off never does.")                                                              \
	X(numa_policy, CHOICE, enum conf_numa_policy, CONF_NUMA_POLICY_PREFERRED, 0, 0,  \
	  CONF_VALUES("preferred", "bind", "interleave"),                                 \
	  "How an arena's memory is bound to its node: preferred (another node when it " \
	  "is full), bind (only that node), or interleave (over every node with memory).") \
	X(numa_migrate, CHOICE, enum conf_numa_migrate, CONF_NUMA_MIGRATE_REBIND, 0, 0,  \
	  CONF_VALUES("rebind", "stay"),                                                  \
	  "A thread that has moved to another node for good: rebind it to an arena of "  \
	  "that node (its cache flushed first), or let it stay on its arena.")            \
	X(tcache, BOOL, bool, true, 0, 0, CONF_NO_VALUES,                                 \
	  "Give each thread a cache of recently freed objects (thread.tcache.enabled sets it " \
	  "per thread).")                                                                 \
	X(tcache_max, UINT_CLIP, size_t, 32768, 0, CONF_TCACHE_MAX_LIMIT, CONF_NO_VALUES, \
	  "Thread caches hold the size classes up to this many bytes; values above 8388608 " \
	  "(8 MiB) are clipped to it.")                                                   \
	X(lg_tcache_max, LG_ALIAS, tcache_max, 0, 0, CONF_LG_TCACHE_MAX_LIMIT, CONF_NO_VALUES, \
	  "Sets tcache_max to 2^value (values above 23 count as 23); read it back as "    \
	  "opt.tcache_max.")                                                              \
	X(tcache_nslots_small_min, UINT_CLIP, unsigned, 20, 1, CONF_TCACHE_NSLOTS_LIMIT,  \
	  CONF_NO_VALUES,                                                                 \
	  "Fewest objects a thread cache holds for a small size class (clipped to 1..2048).") \
	X(tcache_nslots_small_max, UINT_CLIP, unsigned, 200, 1, CONF_TCACHE_NSLOTS_LIMIT, \
	  CONF_NO_VALUES,                                                                 \
	  "Most objects a thread cache holds for a small size class (clipped to 1..2048).") \
	X(tcache_nslots_large, UINT_CLIP, unsigned, 20, 1, CONF_TCACHE_NSLOTS_LIMIT,      \
	  CONF_NO_VALUES,                                                                 \
	  "Objects a thread cache holds for each large size class up to tcache_max "      \
	  "(clipped to 1..2048).")                                                        \
	X(lg_tcache_nslots_mul, SINT, ssize_t, 1, -16, 16, CONF_NO_VALUES,                \
	  "A small class caches 2^value times its objects per slab, within "              \
	  "tcache_nslots_small_min..max (-16..16).")                                      \
	X(tcache_gc_incr_bytes, UINT_CLIP, size_t, 65536, 1024, SIZE_MAX, CONF_NO_VALUES, \
	  "Bytes a thread allocates between two incremental cache collection steps "      \
	  "(at least 1024).")                                                             \
	X(lg_tcache_flush_small_div, UINT_CLIP, unsigned, 1, 1, 16, CONF_NO_VALUES,       \
	  "A full small-class cache bin keeps 1/2^value of its capacity and returns the rest " \
	  "(clipped to 1..16).")                                                          \
	X(lg_tcache_flush_large_div, UINT_CLIP, unsigned, 1, 1, 16, CONF_NO_VALUES,       \
	  "A full large-class cache bin keeps 1/2^value of its capacity and returns the rest " \
	  "(clipped to 1..16).")                                                          \
	X(tcache_gc_delay_bytes, UINT, size_t, 0, 0, SIZE_MAX, CONF_NO_VALUES,           \
	  "Accepted for jemalloc; no effect: strata's cache collection never delays "    \
	  "a bin's flush.")                                                              \
	X(hpa, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                                  \
	  "Accepted for jemalloc; no effect: strata's huge-page policy is thp:auto, "    \
	  "and of the hpa_ options only hpa_hugification_threshold and "                 \
	  "hpa_hugify_delay_ms have an effect.")                                         \
	X(hpa_slab_max_alloc, UINT_CLIP, size_t, 65536, PAGE, HUGEPAGE, CONF_NO_VALUES,  \
	  "HPA: largest request served from huge-page slabs (clipped to 4096..2097152; " \
	  "no effect).")                                                                 \
	X(hpa_hugification_threshold, UINT_CLIP, size_t, 1992294, PAGE, HUGEPAGE,        \
	  CONF_NO_VALUES,                                                                \
	  "thp:auto: active bytes of a dissolved 2 MiB range before the purger makes it " \
	  "huge again (MADV_HUGEPAGE, MADV_COLLAPSE; clipped to 4096..2097152).")        \
	X(hpa_hugify_delay_ms, UINT, uint64_t, 10000, 0, UINT64_MAX, CONF_NO_VALUES,     \
	  "thp:auto: milliseconds a dissolved 2 MiB range stays dense before the purger " \
	  "makes it huge again.")                                                        \
	X(hpa_min_purge_interval_ms, UINT, uint64_t, 5000, 0, UINT64_MAX, CONF_NO_VALUES, \
	  "HPA: fewest milliseconds between two purges (no effect).")                    \
	X(hpa_dirty_mult, FXP, uint32_t, CONF_FXP_ONE / 4, 0, UINT32_MAX,                \
	  CONF_VALUES("-1"),                                                             \
	  "HPA: dirty pages allowed as a fraction of active ones, or -1 for no limit "   \
	  "(no effect).")                                                                \
	X(hpa_sec_nshards, UINT_CLIP, size_t, 4, 0, SIZE_MAX, CONF_NO_VALUES,            \
	  "HPA: shards of the small extent cache (no effect).")                          \
	X(hpa_sec_max_alloc, UINT_CLIP, size_t, 32768, PAGE, SIZE_MAX, CONF_NO_VALUES,   \
	  "HPA: largest extent the small extent cache holds (at least 4096; no "         \
	  "effect).")                                                                    \
	X(hpa_sec_max_bytes, UINT_CLIP, size_t, 262144, PAGE, SIZE_MAX, CONF_NO_VALUES,  \
	  "HPA: most bytes one shard of the small extent cache holds (at least 4096; "   \
	  "no effect).")                                                                 \
	X(hpa_sec_bytes_after_flush, UINT_CLIP, size_t, 131072, PAGE, SIZE_MAX,          \
	  CONF_NO_VALUES,                                                                \
	  "HPA: bytes a shard keeps when it flushes (at least 4096; no effect).")        \
	X(hpa_sec_batch_fill_extra, UINT_CLIP, size_t, 0, 0, HUGEPAGE / PAGE,            \
	  CONF_NO_VALUES,                                                                \
	  "HPA: extra extents a shard fills on a miss (clipped to 0..512; no effect).")  \
	X(prof, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                                  \
	  "Turn on the sampling heap profiler.")                                          \
	X(prof_active, BOOL, bool, true, 0, 0, CONF_NO_VALUES,                            \
	  "Initial value of prof.active: whether allocations are sampled (with prof:true).") \
	X(prof_thread_active_init, BOOL, bool, true, 0, 0, CONF_NO_VALUES,                \
	  "Initial thread.prof.active of new threads.")                                   \
	X(lg_prof_sample, UINT_CLIP, size_t, 19, 0, 63, CONF_NO_VALUES,                   \
	  "Mean distance between samples is 2^value bytes of allocation (0 samples every " \
	  "allocation; values above 63 count as 63).")                                    \
	X(prof_prefix, STRING, char, "strata", 0, CONF_PROF_PREFIX_MAX, CONF_NO_VALUES,   \
	  "File-name prefix of automatic dumps (may hold a folder); empty turns automatic " \
	  "dumps off.")                                                                   \
	X(lg_prof_interval, SINT, ssize_t, -1, -1, 63, CONF_NO_VALUES,                    \
	  "Dump each time the process has allocated about 2^value more bytes; -1 never.") \
	X(prof_gdump, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                            \
	  "Dump when the heap's active pages reach a new high-water mark (rate limited).") \
	X(prof_gdump_min_interval_ms, UINT, uint64_t, 1000, 0, UINT64_MAX / 1000000,      \
	  CONF_NO_VALUES,                                                                 \
	  "Fewest milliseconds between two high-water-mark dumps.")                       \
	X(prof_final, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                            \
	  "Dump at exit.")                                                                \
	X(prof_accum, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                            \
	  "Also count every sampled allocation ever made, freed or not (the alloc_space " \
	  "and alloc_objects views).")                                                    \
	X(prof_bt_max, UINT_CLIP, unsigned, 128, 1, CONF_PROF_BT_MAX_LIMIT, CONF_NO_VALUES, \
	  "Deepest stack kept for a sampled allocation, in frames (clipped to 1..256).")  \
	X(prof_backtrace, CHOICE, enum conf_prof_backtrace, CONF_PROF_BACKTRACE_LIBUNWIND, \
	  0, 0, CONF_VALUES("libunwind", "fp"),                                           \
	  "How stacks are read: libunwind's unwinder, or the frame-pointer chain (faster; " \
	  "needs code built with frame pointers).")                                       \
	X(prof_sys_thread_name, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                  \
	  "Name each thread in dumps by its system name, read at each sample.")           \
	X(prof_stats, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                            \
	  "Keep per-size-class counts of sampled allocations (prof.stats.*).")            \
	X(prof_dump_compress, BOOL, bool, true, 0, 0, CONF_NO_VALUES,                     \
	  "Write dumps gzip-compressed (.heap.gz); false writes plain .heap files.")       \
	X(prof_signal, CHOICE, enum conf_prof_signal, CONF_PROF_SIGNAL_NONE, 0, 0,        \
	  CONF_VALUES("none", "HUP", "USR1", "USR2", "URG", "PWR", "WINCH"),              \
	  "A signal that makes the profiler dump (handled by a thread, never in the "     \
	  "handler); none installs no handler.")                                          \
	X(prof_time_resolution, CHOICE, enum conf_prof_time_resolution,                   \
	  CONF_PROF_TIME_RESOLUTION_DEFAULT, 0, 0, CONF_VALUES("default", "high"),        \
	  "Clock of the recent-allocation records: default is the coarse monotonic clock " \
	  "(ns since boot, a few ms resolution), high the real-time clock (ns since 1970).") \
	X(prof_recent_alloc_max, SINT, ssize_t, 1000, -1, SSIZE_MAX, CONF_NO_VALUES,      \
	  "How many recent sampled allocations the profiler remembers (-1: all, 0: none); " \
	  "0 without prof:true.")                                                         \
	X(prof_leak, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                             \
	  "Report the heap still allocated at exit: a summary and the top leak sites; "   \
	  "implies prof:true and prof_final:true.")                                       \
	X(prof_leak_error, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                       \
	  "As prof_leak, and exit with status prof_leak_error_code when leaks remain "    \
	  "after suppressions.")                                                          \
	X(prof_leak_error_code, UINT, unsigned, 1, 1, 255, CONF_NO_VALUES,                \
	  "Exit status of a process that prof_leak_error finds leaking.")                 \
	X(prof_leak_top, UINT, unsigned, 10, 0, 1000, CONF_NO_VALUES,                     \
	  "How many leak sites the exit report lists, largest first.")                    \
	X(prof_leak_suppress, STRING, char, "", 0, CONF_PATH_MAX, CONF_NO_VALUES,         \
	  "A file of suppressions: one pattern per line, matched against the function "   \
	  "and library names of a leak's stack.")                                         \
	X(prof_leak_suppress_defaults, BOOL, bool, true, 0, 0, CONF_NO_VALUES,            \
	  "Also apply the built-in suppressions (one-time allocations of the C and C++ "  \
	  "runtimes and the dynamic loader).")

/* The rows without an opt.<name> node (see above). */
#define CONF_HIDDEN_OPTIONS(X)                                                            \
	X(narenas_ratio, FXP, uint32_t, 4 * CONF_FXP_ONE, 0, UINT32_MAX, CONF_NO_VALUES,  \
	  "Automatic arenas per CPU when narenas is left to default (a fixed-point "     \
	  "number such as 2.5, rounded to nearest, at least 1; no opt node).")                                           \
	X(slab_sizes, RANGES, conf_ranges_t, {0}, 0, SIZE_MAX, CONF_VALUES("default"),   \
	  "Pages per slab for the small size classes from start to end bytes, as "       \
	  "start-end:pages|...; clipped to fit the class (at least one region, at most " \
	  "512 regions per slab); default restores the built-in sizes (no opt node; "    \
	  "read arenas.bin.<i>.slab_size).")                                             \
	X(bin_shards, RANGES, conf_ranges_t, {0}, 1, 64, CONF_NO_VALUES,                 \
	  "Accepted for jemalloc as start-end:shards|... (1..64); no effect: strata "    \
	  "keeps one bin per size class and arena (no opt node).")                       \
	X(hpa_hugification_threshold_ratio, FXP, uint32_t, 62259, 0, CONF_FXP_ONE,       \
	  CONF_NO_VALUES,                                                                \
	  "HPA: hpa_hugification_threshold as a fraction of a huge page, at most 1 (no " \
	  "effect; no opt node).")                                                       \
	X(san_guard_small, UINT, size_t, 0, 0, SIZE_MAX, CONF_NO_VALUES,                 \
	  "Accepted for jemalloc; no effect: strata puts no guard pages around small "   \
	  "extents (no opt node).")                                                      \
	X(san_guard_large, UINT, size_t, 0, 0, SIZE_MAX, CONF_NO_VALUES,                 \
	  "Accepted for jemalloc; no effect: strata puts no guard pages around large "   \
	  "extents (no opt node).")                                                      \
	X(prof_unbias, BOOL, bool, true, 0, 0, CONF_NO_VALUES,                           \
	  "Accepted for jemalloc; no effect: strata always writes dumps as jemalloc's "  \
	  "default prof_unbias:true does (no opt node).")                      \
	X(prof_log, BOOL, bool, false, 0, 0, CONF_NO_VALUES,                             \
	  "Accepted for jemalloc; no effect: strata has no allocation log (no opt "      \
	  "node).")

/* Every row: those with an opt.<name> node, then the hidden ones. */
#define CONF_ALL_OPTIONS(X) CONF_OPTIONS(X) CONF_HIDDEN_OPTIONS(X)
/* clang-format on */

/* The globals, one per row but LG_ALIAS: opt_abort, opt_abort_conf,
 * opt_confirm_conf, opt_narenas, opt_zero_realloc, opt_junk, opt_zero,
 * opt_xmalloc, opt_experimental_infallible_new, opt_dirty_decay_ms, opt_muzzy_decay_ms,
 * opt_dirty_max_bytes, opt_retain, opt_lg_extent_max_active_fit, opt_background_thread,
 * opt_max_background_threads, opt_memory_limit, opt_stats_print,
 * opt_stats_print_opts, opt_stats_interval, opt_stats_interval_opts,
 * opt_percpu_arena, opt_numa, opt_numa_policy, opt_numa_migrate, opt_tcache, opt_tcache_max,
 * opt_tcache_nslots_small_min, opt_tcache_nslots_small_max,
 * opt_tcache_nslots_large, opt_lg_tcache_nslots_mul,
 * opt_tcache_gc_incr_bytes, opt_lg_tcache_flush_small_div,
 * opt_lg_tcache_flush_large_div, opt_prof... for the profiler's rows, and
 * the hidden rows' opt_narenas_ratio, opt_slab_sizes, ... */
#define CONF_DECLARE(name, kind, ctype, dflt, min, max, values, doc)                     \
	CONF_DECLARE_##kind(name, ctype, max)
#define CONF_DECLARE_BOOL(name, ctype, max) extern ctype opt_##name;
#define CONF_DECLARE_CHOICE(name, ctype, max) extern ctype opt_##name;
#define CONF_DECLARE_UINT(name, ctype, max) extern ctype opt_##name;
#define CONF_DECLARE_UINT_CLIP(name, ctype, max) extern ctype opt_##name;
#define CONF_DECLARE_UINT_AUTO(name, ctype, max) extern ctype opt_##name;
#define CONF_DECLARE_SINT(name, ctype, max) extern ctype opt_##name;
#define CONF_DECLARE_LIMIT(name, ctype, max) extern ctype opt_##name;
#define CONF_DECLARE_LETTERS(name, ctype, max) extern char opt_##name[max];
#define CONF_DECLARE_STRING(name, ctype, max) extern char opt_##name[max];
#define CONF_DECLARE_LG_ALIAS(name, target, max)
#define CONF_DECLARE_FXP(name, ctype, max) extern ctype opt_##name;
#define CONF_DECLARE_RANGES(name, ctype, max) extern ctype opt_##name;
CONF_ALL_OPTIONS(CONF_DECLARE)
#undef CONF_DECLARE

enum conf_kind {
	CONF_KIND_BOOL,
	CONF_KIND_CHOICE,
	CONF_KIND_UINT,
	CONF_KIND_UINT_CLIP,
	CONF_KIND_UINT_AUTO,
	CONF_KIND_SINT,
	CONF_KIND_LIMIT,
	CONF_KIND_LETTERS,
	CONF_KIND_STRING,
	CONF_KIND_LG_ALIAS,
	CONF_KIND_FXP,
	CONF_KIND_RANGES
};

/* CONF_ID_<name>: an option's index in conf_options[]; the rows with an
 * opt.<name> node come first (CONF_NOPTIONS of them), CONF_NALL in all. */
#define CONF_ID(name, ...) CONF_ID_##name,
enum conf_id {
	CONF_OPTIONS(CONF_ID) CONF_NOPTIONS,
	CONF_ID_LAST_NODE = CONF_NOPTIONS - 1,
	CONF_HIDDEN_OPTIONS(CONF_ID) CONF_NALL
};
#undef CONF_ID

/* What the parser (and ctl, tests) know about one option, from its row. */
typedef struct conf_option {
	const char *name;
	enum conf_kind kind;
	/* The row's ctype as text: the type of opt_<name>, or for LG_ALIAS
	 * the target option's name. */
	const char *ctype;
	/* The row's range; for SINT two's-complement intmax_t values. */
	uintmax_t min, max;
	/* CHOICE: value names indexed by value; LETTERS: [0] the accepted
	 * letters; NULL-terminated. */
	const char *const *values;
	/* Stores a parsed BOOL (0/1), CHOICE (index), UINT*, SINT (as
	 * uintmax_t), LIMIT (count or CONF_LIMIT_AUTO/OFF, which also
	 * rewrites its text) or LG_ALIAS (the exponent) value. */
	void (*set)(uintmax_t value);
	/* Reads the value back the same way (NULL for LETTERS, STRING and
	 * LG_ALIAS). */
	uintmax_t (*get)(void);
	/* LETTERS and STRING: the global buffer (max bytes); LIMIT and FXP:
	 * the value as text (CONF_LIMIT_TEXT_MAX or CONF_FXP_TEXT_MAX bytes,
	 * written by set, so by conf_reset_defaults before any source); NULL
	 * otherwise. */
	char *text;
	/* RANGES: the global; NULL otherwise. */
	conf_ranges_t *ranges;
	const char *doc;
} conf_option_t;

extern const conf_option_t conf_options[CONF_NALL];



/* The sources, in the order they are applied (later wins key by key). */
enum conf_source {
	CONF_SOURCE_BUILTIN,    /* config_malloc_conf, fixed at build time */
	CONF_SOURCE_GLOBAL,     /* the program's `malloc_conf` symbol */
	CONF_SOURCE_SYMLINK,    /* target name of /etc/malloc.conf */
	CONF_SOURCE_ENV,        /* MALLOC_CONF (secure_getenv) */
	CONF_SOURCE_HARDER,     /* the program's `malloc_conf_2_conf_harder` */
	CONF_NSOURCES
};

/*
 * The raw text of each source as conf_init found it (NULL for an absent
 * one), for the opt.malloc_conf.* nodes; conf_source_text[CONF_SOURCE_
 * BUILTIN] is config.malloc_conf.  Written by conf_init only.
 */
extern const char *conf_source_text[CONF_NSOURCES];

/* Size of the buffer conf_read_symlink fills (PATH_MAX plus the NUL). */
#define CONF_LINK_BUFSIZE (PATH_MAX + 1)

/*
 * Reads all real sources and applies them to the defaults.  Called once by
 * init before anything else, single threaded.  Invalid options are reported
 * through msg and skipped; with abort_conf:true they abort (jemalloc's rule).
 */
void conf_init(void);

/*
 * Resets every option to its default, then applies sources[0..] in order
 * (NULL entries are absent sources), exactly as conf_init does with the real
 * ones.  The entry point for tests, and conf_init's own worker.
 */
void conf_parse_sources(const char *const sources[CONF_NSOURCES]);

/* Sets every option to its default value from the table. */
void conf_reset_defaults(void);

/*
 * Reads the target name of the symbolic link `path` into buf (size
 * CONF_LINK_BUFSIZE): returns buf, or NULL when path is not a readable
 * symlink.  errno is preserved.
 */
const char *conf_read_symlink(const char *path, char buf[CONF_LINK_BUFSIZE]);

/*
 * Parses v[0..vlen) as an unsigned integer the way MALLOC_CONF does (leading
 * blanks, optional sign, base 0; a minus sign wraps like strtoumax), then
 * applies [min, max]: out of range is ERANGE, or clipped when clip is set.
 * Returns 0, EINVAL (not a number, trailing characters, overflow) or ERANGE.
 */
int conf_parse_uint(const char *v, size_t vlen, uintmax_t min, uintmax_t max, bool clip,
                    uintmax_t *out);

/*
 * Parses v[0..vlen) as a byte count: the forms of conf_parse_uint (without
 * clipping), optionally followed by one of k, K, m, M, g, G, which multiply
 * by 2^10, 2^20, 2^30.  Returns 0, EINVAL (not such a number, digits that
 * overflow) or ERANGE (the product overflows or is outside [min, max]).
 */
int conf_parse_bytes(const char *v, size_t vlen, uintmax_t min, uintmax_t max, uintmax_t *out);

/*
 * Parses v[0..vlen) as a signed integer: the forms of conf_parse_uint, where
 * a minus sign negates.  Returns 0, EINVAL (not a number) or ERANGE (below
 * INTMAX_MIN, above INTMAX_MAX or outside [min, max]; jemalloc wraps such
 * values instead).
 */
int conf_parse_int(const char *v, size_t vlen, intmax_t min, intmax_t max, intmax_t *out);

/*
 * Parses v[0..vlen) as a fixed-point number (jemalloc's fxp_parse: digits
 * with an integer part below 65536, optionally a point and digits, of which
 * the first 8 count) into 16.16 bits, the fraction truncated.  Returns 0 or
 * EINVAL.
 */
int conf_parse_fxp(const char *v, size_t vlen, uint32_t *out);

#endif
