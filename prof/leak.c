/*
 * leak.c — the leak report at exit.  See leak.h.
 *
 *   <strata>: Leak approximation summary: ~B bytes, ~N objects, >= C contexts
 *   <strata>: #1 ~B bytes in ~N objects
 *   <strata>:     #0 0x<pc> <function> <file>:<line> (<library>)
 *   ...                                     the prof_leak_top largest contexts
 *   <strata>: ... C more contexts: ~B bytes in ~N objects
 *   <strata>: Suppressed: ~B bytes in ~N objects, C contexts (built-in rules C,
 *             prof_leak_suppress C)                  (one line)
 *   <strata>: Final dump: <path>
 *   <strata>: Exiting with error code because memory leaks were detected
 *
 * The summary and the contexts are the leaks the suppressions leave; a
 * line appears only when it has something to say.
 * Scratch memory is mapped (scratch.h).  The report runs at exit with the
 * thread's reentrancy level raised (leak.h), so what qsort and the
 * symbolizer allocate takes the allocator's own path.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "msg.h"
#include "prof/leak.h"
#include "prof/leak_filter.h"
#include "prof/prof.h"
#include "prof/scratch.h"
#include "prof/suppress.h"
#include "prof/symbolize_self.h"

/* The copy of standard error (-1: none) and the file it refers to;
 * written at start, read at exit. */
#define PROF_LEAK_STDERR_FD_MIN 100
static int prof_leak_stderr = -1;
static dev_t prof_leak_stderr_dev;
static ino_t prof_leak_stderr_ino;
/* Where this report's lines go (prof_leak_write). */
static int prof_leak_out = STDERR_FILENO;

void
prof_leak_start(void)
{
	int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, PROF_LEAK_STDERR_FD_MIN);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return;
	}
	prof_leak_stderr = fd;
	prof_leak_stderr_dev = st.st_dev;
	prof_leak_stderr_ino = st.st_ino;
}

/* Standard error, or the copy when the program has closed it and the
 * copy's number still holds the file it had at start. */
static int
prof_leak_stderr_now(void)
{
	struct stat st;
	if (fcntl(STDERR_FILENO, F_GETFD) >= 0 || prof_leak_stderr < 0 ||
	    fstat(prof_leak_stderr, &st) != 0 || st.st_dev != prof_leak_stderr_dev ||
	    st.st_ino != prof_leak_stderr_ino)
		return STDERR_FILENO;
	return prof_leak_stderr;
}

static void
prof_leak_write(const char *line)
{
	msg_write_fd(prof_leak_out, line);
}

/* Writes the report's lines (msg_write_fd: a reader that has gone loses
 * them but raises no SIGPIPE, so the status stays the report's). */
static void
prof_leak_write_text(prof_scratch_text_t *text)
{
	prof_leak_out = prof_leak_stderr_now();
	prof_scratch_text_each(text, prof_leak_write);
	if (text->dropped != 0) {
		char line[128];
		msg_format(line, sizeof(line), "%s%zu lines of the leak report dropped: out of memory\n",
		           MSG_PREFIX, text->dropped);
		prof_leak_write(line);
	}
}

/* One context: a stack with live objects, summed over its threads. */
typedef struct prof_leak_site {
	const prof_stack_t *stack;
	double objs, bytes; /* unbiased */
	prof_suppress_verdict_t verdict;
} prof_leak_site_t;

typedef struct prof_leak_sites {
	prof_leak_site_t *sites;
	size_t n, bytes;
} prof_leak_sites_t;

/* Sums of some contexts. */
typedef struct prof_leak_sum {
	double objs, bytes;
	size_t contexts;
} prof_leak_sum_t;

/* The contexts of the copied lines (which come grouped by stack). */
static int
prof_leak_sites_make(const prof_scratch_lines_t *l, prof_leak_sites_t *s)
{
	size_t nstacks = 0;
	for (size_t i = 0; i < l->nlines; i++)
		nstacks += i == 0 || l->lines[i].stack != l->lines[i - 1].stack;
	s->bytes = nstacks * sizeof(prof_leak_site_t);
	s->sites = prof_scratch_map(s->bytes);
	if (s->sites == NULL)
		return ENOMEM;
	for (size_t i = 0; i < l->nlines; i++) {
		const prof_stacks_line_t *line = &l->lines[i];
		if (line->cnt.curobjs == 0)
			continue;
		if (s->n == 0 || s->sites[s->n - 1].stack != line->stack)
			s->sites[s->n++].stack = line->stack;
		s->sites[s->n - 1].objs += line->cnt.cur_objs_u;
		s->sites[s->n - 1].bytes += line->cnt.cur_bytes_u;
	}
	return 0;
}

/* Report order: unsuppressed first, then more bytes, then more objects. */
static int
prof_leak_order(const void *pa, const void *pb)
{
	const prof_leak_site_t *a = pa, *b = pb;
	bool a_left = a->verdict == PROF_SUPPRESS_NONE, b_left = b->verdict == PROF_SUPPRESS_NONE;
	if (a_left != b_left)
		return a_left ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return (a->objs < b->objs) - (a->objs > b->objs);
}

static size_t
prof_leak_round(double v)
{
	return v > 0.0 ? (size_t)llround(v) : 0;
}

static const char *
prof_leak_s(size_t n)
{
	return n == 1 ? "" : "s";
}

/* "~B bytes<sep>~N objects", rounded, singular for exactly 1. */
static const char *
prof_leak_amount(char buf[96], double bytes_u, double objs_u, const char *sep)
{
	size_t bytes = prof_leak_round(bytes_u), objs = prof_leak_round(objs_u);
	msg_format(buf, 96, "~%zu byte%s%s~%zu object%s", bytes, prof_leak_s(bytes), sep, objs,
	           prof_leak_s(objs));
	return buf;
}

/* The lines of one address, numbered from *n on (prof_sym_frame_line). */
static void
prof_leak_frame(prof_scratch_text_t *t, unsigned *n, uintptr_t addr, const prof_sym_t *sym)
{
	for (unsigned i = 0; i < sym->nfuncs; i++) {
		char line[PROF_SYM_LINE_BYTES];
		prof_sym_frame_line(line, sizeof(line), (*n)++, addr, sym, i);
		prof_scratch_text_line(t, "%s", line);
	}
}

static void
prof_leak_site_lines(prof_scratch_text_t *t, size_t rank, const prof_leak_site_t *site)
{
	char amount[96];
	prof_scratch_text_line(t, "%s#%zu %s\n", MSG_PREFIX, rank,
	                       prof_leak_amount(amount, site->bytes, site->objs, " in "));
	unsigned n = 0;
	for (unsigned f = 0; f < site->stack->depth; f++) {
		prof_sym_t sym;
		prof_symbolize_self(prof_leak_frame_pc(site->stack, f), &sym);
		prof_leak_frame(t, &n, site->stack->pcs[f], &sym);
	}
}

static void
prof_leak_add(prof_leak_sum_t *sum, const prof_leak_site_t *site)
{
	sum->objs += site->objs;
	sum->bytes += site->bytes;
	sum->contexts++;
}

static void
prof_leak_dump_line(prof_scratch_text_t *t, const char *dump_path, int dump_err)
{
	if (dump_err == 0)
		prof_scratch_text_line(t, "%sFinal dump: %s\n", MSG_PREFIX, dump_path);
	else if (dump_path[0] == '\0')
		prof_scratch_text_line(t, "%sNo final dump: prof_prefix is empty\n", MSG_PREFIX);
	else
		prof_scratch_text_line(t, "%sNo final dump: writing \"%s\" failed: %s\n", MSG_PREFIX,
		                       dump_path, strerrordesc_np(dump_err));
}

/* Sets each context's verdict and sums the contexts left and those
 * suppressed (by_builtin: how many by the built-in rules). */
static void
prof_leak_filter_all(prof_leak_sites_t *s, const prof_suppress_t *sup, prof_leak_sum_t *left,
                     prof_leak_sum_t *gone, size_t *by_builtin)
{
	size_t nframes = 0;
	for (size_t i = 0; i < s->n; i++)
		nframes += s->sites[i].stack->depth;
	prof_leak_filter_t filter;
	prof_leak_filter_begin(&filter, sup, nframes);
	for (size_t i = 0; i < s->n; i++) {
		prof_leak_site_t *site = &s->sites[i];
		site->verdict = prof_leak_filter_stack(&filter, site->stack);
		prof_leak_add(site->verdict == PROF_SUPPRESS_NONE ? left : gone, site);
		*by_builtin += site->verdict == PROF_SUPPRESS_BUILTIN;
	}
	prof_leak_filter_end(&filter);
}

/* The report of the contexts into t; whether leaks are left after the
 * suppressions. */
static bool
prof_leak_compose(prof_scratch_text_t *t, prof_leak_sites_t *s, const prof_suppress_t *sup,
                  const char *dump_path, int dump_err)
{
	prof_symbolize_self_begin();
	prof_leak_sum_t left = {0}, gone = {0}, rest = {0};
	size_t by_builtin = 0;
	prof_leak_filter_all(s, sup, &left, &gone, &by_builtin);
	qsort(s->sites, s->n, sizeof(*s->sites), prof_leak_order);
	char amount[96];
	if (left.contexts != 0)
		prof_scratch_text_line(t, "%sLeak approximation summary: %s, >= %zu context%s\n",
		                       MSG_PREFIX, prof_leak_amount(amount, left.bytes, left.objs, ", "),
		                       left.contexts, prof_leak_s(left.contexts));
	for (size_t i = 0; i < left.contexts; i++) {
		if (i < opt_prof_leak_top)
			prof_leak_site_lines(t, i + 1, &s->sites[i]);
		else
			prof_leak_add(&rest, &s->sites[i]);
	}
	if (rest.contexts != 0)
		prof_scratch_text_line(t, "%s... %zu more context%s: %s\n", MSG_PREFIX, rest.contexts,
		                       prof_leak_s(rest.contexts),
		                       prof_leak_amount(amount, rest.bytes, rest.objs, " in "));
	if (gone.contexts != 0)
		prof_scratch_text_line(t,
		                       "%sSuppressed: %s, %zu context%s (built-in rules %zu, "
		                       "prof_leak_suppress %zu)\n",
		                       MSG_PREFIX, prof_leak_amount(amount, gone.bytes, gone.objs, " in "),
		                       gone.contexts, prof_leak_s(gone.contexts), by_builtin,
		                       gone.contexts - by_builtin);
	prof_symbolize_self_end();
	prof_leak_dump_line(t, dump_path, dump_err);
	return left.contexts != 0;
}

void
prof_leak_report(const char *dump_path, int dump_err)
{
	prof_scratch_lines_t lines = {0};
	int err = prof_scratch_lines_copy(&lines);
	prof_scratch_text_t text = {0};
	prof_suppress_t sup = {.builtin = opt_prof_leak_suppress_defaults};
	int sup_err = prof_suppress_load(&sup, opt_prof_leak_suppress);
	if (sup_err != 0)
		prof_scratch_text_line(&text,
		                       "%scannot read prof_leak_suppress file \"%s\": %s; its "
		                       "patterns are not applied\n",
		                       MSG_PREFIX, opt_prof_leak_suppress, strerrordesc_np(sup_err));
	prof_leak_sites_t sites = {0};
	if (err == 0)
		err = prof_leak_sites_make(&lines, &sites);
	bool leaking = false;
	if (err != 0)
		prof_scratch_text_line(&text, "%scannot make the leak report: %s\n", MSG_PREFIX,
		                       strerrordesc_np(err));
	else if (sites.n != 0)
		leaking = prof_leak_compose(&text, &sites, &sup, dump_path, dump_err);
	if (leaking && opt_prof_leak_error)
		prof_scratch_text_line(&text,
		                       "%sExiting with error code because memory leaks were detected\n",
		                       MSG_PREFIX);
	prof_scratch_unmap(sites.sites, sites.bytes);
	prof_suppress_free(&sup);
	prof_scratch_lines_free(&lines);
	prof_leak_write_text(&text);
	prof_scratch_text_free(&text);
	if (leaking && opt_prof_leak_error) {
		fflush(NULL);
		_exit((int)opt_prof_leak_error_code);
	}
}
