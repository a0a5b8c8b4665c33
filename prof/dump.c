/*
 * dump.c — the heap_v2 writer.  See dump.h; the format is in docs/compat.md,
 * "Heap profiles".
 *
 *   heap_v2/<R>
 *     t*: <objs>: <bytes> [<objs>: <bytes>]            totals
 *     t<uid>: <objs>: <bytes> [<objs>: <bytes>][ name]  one per thread
 *   @ 0x<pc> 0x<pc> ...                                 one per stack
 *     t*: ...                                           the stack's totals
 *     t<uid>: ...                                       its per-thread split
 *   <blank line>
 *   MAPPED_LIBRARIES:
 *   <the contents of /proc/self/maps>
 *
 * Scratch memory (the copied counters, the thread table) is mapped for the
 * dump and unmapped after it (scratch.h): nothing here calls malloc.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "msg.h"
#include "prof/dump.h"
#include "prof/prof.h"
#include "prof/scratch.h"
#include "prof/stacks.h"
#include "prof/state.h"
#include "prof/writer.h"

static mutex_t prof_dump_mtx;
/* Under prof_dump_mtx: the process-wide dump sequence and each kind's, and
 * whether dumps are over (exit). */
static uint64_t prof_dump_seq, prof_dump_seq_m, prof_dump_seq_i, prof_dump_seq_u;
static bool prof_dump_closed;

void
prof_dump_boot(void)
{
	mutex_init(&prof_dump_mtx, "prof_dump", MUTEX_RANK_PROF_DUMP);
}

void
prof_dump_postfork_child(void)
{
	mutex_init(&prof_dump_mtx, "prof_dump", MUTEX_RANK_PROF_DUMP);
}

void
prof_dump_shutdown(void)
{
	mutex_lock(&prof_dump_mtx);
	prof_dump_closed = true;
	mutex_unlock(&prof_dump_mtx);
}

/* One thread's header line: its data and the sums of its lines. */
typedef struct prof_dump_thread {
	uint64_t uid;
	char name[PROF_THREAD_NAME_MAX];
	prof_cnt_t sum;
} prof_dump_thread_t;

/* Scratch of one dump, mapped and unmapped with it (scratch.h). */
typedef struct prof_dump_scratch {
	prof_scratch_lines_t lines;
	prof_dump_thread_t *threads;
	size_t nthreads, threads_bytes;
} prof_dump_scratch_t;

static void
prof_dump_scratch_free(prof_dump_scratch_t *s)
{
	prof_scratch_lines_free(&s->lines);
	prof_scratch_unmap(s->threads, s->threads_bytes);
}

static void
prof_dump_add(prof_cnt_t *to, const prof_cnt_t *c)
{
	to->curobjs += c->curobjs;
	to->curbytes += c->curbytes;
	to->cur_objs_u += c->cur_objs_u;
	to->cur_bytes_u += c->cur_bytes_u;
	to->accumobjs += c->accumobjs;
	to->accumbytes += c->accumbytes;
	to->accum_objs_u += c->accum_objs_u;
	to->accum_bytes_u += c->accum_bytes_u;
}

/* The thread table: every thread that has lines, indexed by dump_slot. */
static int
prof_dump_copy_threads(prof_dump_scratch_t *s)
{
	mutex_lock(&prof_tdatas_mtx);
	size_t n = 0;
	for (struct prof_tdata *t = prof_tdatas; t != NULL; t = t->next)
		n++;
	s->threads_bytes = n * sizeof(prof_dump_thread_t);
	s->threads = prof_scratch_map(s->threads_bytes);
	if (s->threads == NULL) {
		mutex_unlock(&prof_tdatas_mtx);
		return ENOMEM;
	}
	/* The list is newest first; the table is in uid order. */
	size_t i = n;
	for (struct prof_tdata *t = prof_tdatas; t != NULL; t = t->next) {
		t->dump_slot = (unsigned)--i;
		s->threads[i].uid = t->uid;
		memcpy(s->threads[i].name, t->name, sizeof(t->name));
	}
	mutex_unlock(&prof_tdatas_mtx);
	s->nthreads = n;
	const prof_scratch_lines_t *ls = &s->lines;
	for (size_t l = 0; l < ls->nlines; l++)
		prof_dump_add(&s->threads[ls->lines[l].tdata->dump_slot].sum, &ls->lines[l].cnt);
	return 0;
}

static uint64_t
prof_dump_round(double v)
{
	if (!(v > 0.0))
		return 0;
	return v >= 0x1p64 ? UINT64_MAX : (uint64_t)llround(v);
}

/*
 * The pair jeprof turns back into (objs_u, bytes_u): for a line whose
 * average object size is x, jeprof multiplies both numbers by
 * 1 / (1 - e^(-x/R)), so write bytes_u * (1 - e^(-x/R)) and that divided
 * by x.
 */
static void
prof_dump_pair(prof_writer_t *w, double objs_u, double bytes_u, double period)
{
	uint64_t objs = 0, bytes = 0;
	if (objs_u > 0.0 && bytes_u > 0.0) {
		double x = bytes_u / objs_u;
		double s = bytes_u * -expm1(-x / period);
		bytes = prof_dump_round(s);
		objs = prof_dump_round(s / x);
	}
	prof_writer_printf(w, "%llu: %llu", (unsigned long long)objs, (unsigned long long)bytes);
}

static void
prof_dump_counts(prof_writer_t *w, const char *who, uint64_t uid, const prof_cnt_t *c,
                 double period)
{
	if (who != NULL)
		prof_writer_printf(w, "  %s: ", who);
	else
		prof_writer_printf(w, "  t%llu: ", (unsigned long long)uid);
	prof_dump_pair(w, c->cur_objs_u, c->cur_bytes_u, period);
	prof_writer_printf(w, " [");
	prof_dump_pair(w, c->accum_objs_u, c->accum_bytes_u, period);
	prof_writer_printf(w, "]");
}

static void
prof_dump_format(prof_writer_t *w, const prof_dump_scratch_t *s)
{
	unsigned lg = atomic_load_relaxed(&prof_lg_sample_now);
	double period = ldexp(1.0, (int)lg);
	prof_writer_printf(w, "heap_v2/%llu\n", (unsigned long long)1 << lg);
	prof_cnt_t total = {0};
	for (size_t i = 0; i < s->nthreads; i++)
		prof_dump_add(&total, &s->threads[i].sum);
	prof_dump_counts(w, "t*", 0, &total, period);
	prof_writer_printf(w, "\n");
	for (size_t i = 0; i < s->nthreads; i++) {
		const prof_dump_thread_t *t = &s->threads[i];
		if (t->sum.curobjs == 0 && t->sum.accumobjs == 0)
			continue;
		prof_dump_counts(w, NULL, t->uid, &t->sum, period);
		prof_writer_printf(w, t->name[0] != '\0' ? " %s\n" : "\n", t->name);
	}
	/* Lines come grouped by stack. */
	const prof_stacks_line_t *lines = s->lines.lines;
	for (size_t l = 0; l < s->lines.nlines;) {
		const prof_stack_t *stack = lines[l].stack;
		size_t end = l;
		prof_cnt_t sum = {0};
		for (; end < s->lines.nlines && lines[end].stack == stack; end++)
			prof_dump_add(&sum, &lines[end].cnt);
		prof_writer_printf(w, "@");
		for (unsigned f = 0; f < stack->depth; f++)
			prof_writer_printf(w, " %#lx", (unsigned long)stack->pcs[f]);
		prof_writer_printf(w, "\n");
		prof_dump_counts(w, "t*", 0, &sum, period);
		prof_writer_printf(w, "\n");
		for (; l < end; l++) {
			prof_dump_counts(w, NULL, lines[l].tdata->uid, &lines[l].cnt, period);
			prof_writer_printf(w, "\n");
		}
	}
	prof_writer_printf(w, "\nMAPPED_LIBRARIES:\n");
	prof_writer_copy_file(w, "/proc/self/maps");
}

int
prof_dump_write(const char *path, bool gzip)
{
	prof_dump_scratch_t s = {0};
	prof_writer_t w;
	mutex_lock(&prof_dump_mtx);
	int err = prof_dump_closed ? ECANCELED : prof_scratch_lines_copy(&s.lines);
	if (err == 0)
		err = prof_dump_copy_threads(&s);
	if (err == 0)
		err = prof_writer_open(&w, path, gzip);
	if (err == 0) {
		prof_dump_format(&w, &s);
		err = prof_writer_close(&w);
	}
	mutex_unlock(&prof_dump_mtx);
	prof_dump_scratch_free(&s);
	if (err == 0) {
		prof_dump_hook_t hook = prof_dump_hook_get();
		if (hook != NULL)
			hook(path);
	}
	return err;
}

/* What follows an automatic dump's stem. */
static const char *
prof_dump_auto_suffix(void)
{
	return opt_prof_dump_compress ? ".heap.gz" : ".heap";
}

size_t
prof_dump_auto_stem(const char *path)
{
	return strlen(path) - strlen(prof_dump_auto_suffix());
}

int
prof_dump_auto(char kind, bool quiet, char path[PROF_DUMP_PATH_MAX])
{
	path[0] = '\0';
	char prefix[CONF_PROF_PREFIX_MAX];
	prof_prefix_get(prefix, sizeof(prefix));
	if (prefix[0] == '\0')
		return ENOENT;
	mutex_lock(&prof_dump_mtx);
	uint64_t seq = prof_dump_seq++;
	uint64_t *kind_seq = kind == PROF_DUMP_MANUAL     ? &prof_dump_seq_m
	                     : kind == PROF_DUMP_INTERVAL ? &prof_dump_seq_i
	                     : kind == PROF_DUMP_GDUMP    ? &prof_dump_seq_u
	                                                  : NULL;
	char number[24] = "";
	if (kind_seq != NULL)
		msg_format(number, sizeof(number), "%llu", (unsigned long long)(*kind_seq)++);
	mutex_unlock(&prof_dump_mtx);
	const char *suffix = prof_dump_auto_suffix();
	size_t len = msg_format(path, PROF_DUMP_PATH_MAX, "%s.%d.%llu.%c%s%s", prefix,
	                        (int)getpid(), (unsigned long long)seq, kind, number, suffix);
	int err = len >= PROF_DUMP_PATH_MAX ? ENAMETOOLONG : prof_dump_write(path, opt_prof_dump_compress);
	if (err != 0 && err != ECANCELED && !quiet)
		msg_error("failed to write heap profile \"%s\": %s\n", path, strerrordesc_np(err));
	return err;
}
