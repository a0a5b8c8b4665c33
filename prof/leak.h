/*
 * leak.h — the leak report at exit (prof_leak, prof_leak_error).
 *
 * After the final dump, what is still allocated is a leak: the live
 * counters are copied (scratch.h), summed per stack (a context, as
 * jemalloc calls it), the stacks the suppressions cover are set aside
 * (suppress.h), and the report is written through msg_write, one write per
 * line: jemalloc's summary line, the prof_leak_top largest contexts with
 * their frames named in the process (symbolize_self.h), the suppressed
 * bytes, and the final dump's path.  Bytes are the usable sizes the
 * profiler counts, estimated as the dump estimates them (exact with
 * lg_prof_sample:0).  The text is formatted whole before the first line is
 * written, and the final dump is closed before that, so nothing of the
 * report can reach a file that took over a closed standard error.  A
 * program that closes its standard error at exit (GNU programs do, from
 * an atexit handler that runs before strata's) still gets the report on
 * the standard error it started with: a copy of it is kept from the start
 * (close-on-exec, at a high number), and used while it still refers to
 * the same file.
 *
 * With prof_leak_error and leaks left after the suppressions the process
 * then ends with _exit(prof_leak_error_code), after flushing stdio: an
 * atexit handler cannot change the status exit() was given, and the
 * program's buffered output would otherwise be lost (jemalloc loses it).
 *
 * docs/design.md, "Profiler", has the picture.  Called by the exiting
 * thread only, once (prof_exit), with no allocator lock held and the
 * thread's reentrancy level raised, so the symbolizer's allocations are
 * not sampled.
 */
#ifndef STRATA_PROF_LEAK_H
#define STRATA_PROF_LEAK_H

/* At start (prof_leak): keeps a copy of standard error for the report. */
void prof_leak_start(void);

/* The report, for the final dump written at dump_path (dump_err 0), or
 * not written (ENOENT: the prefix is empty; else the write's errno). */
void prof_leak_report(const char *dump_path, int dump_err);

#endif
