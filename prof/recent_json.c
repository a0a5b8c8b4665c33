/*
 * recent_json.c — the prof_recent JSON.  See recent_json.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "os.h"
#include "prof/prof.h"
#include "prof/recent.h"
#include "prof/recent_json.h"
#include "prof/state.h"
#include "prof/writer.h"

static mutex_t prof_recent_dump_mtx;
/* Under prof_recent_dump_mtx: file dumps are over (exit). */
static bool prof_recent_dump_closed;

void
prof_recent_json_boot(void)
{
	mutex_init(&prof_recent_dump_mtx, "prof_recent_dump", MUTEX_RANK_PROF_DUMP);
}

void
prof_recent_json_postfork_child(void)
{
	mutex_init(&prof_recent_dump_mtx, "prof_recent_dump", MUTEX_RANK_PROF_DUMP);
}

/* Where the text goes: a file's writer, or the callback's chunks. */
typedef struct prof_recent_out {
	prof_writer_t *file;
	void (*write_cb)(void *, const char *);
	void *cbopaque;
	char *buf; /* PROF_WRITER_BUFSIZE + 1 bytes, for the callback */
	size_t len;
} prof_recent_out_t;

static void
prof_recent_out_flush(prof_recent_out_t *o)
{
	if (o->file != NULL || o->len == 0)
		return;
	o->buf[o->len] = '\0';
	if (o->write_cb != NULL)
		o->write_cb(o->cbopaque, o->buf);
	else
		msg_write(o->buf);
	o->len = 0;
}

static void
prof_recent_out_write(prof_recent_out_t *o, const char *s, size_t n)
{
	if (o->file != NULL) {
		prof_writer_write(o->file, s, n);
		return;
	}
	while (n > 0) {
		size_t room = PROF_WRITER_BUFSIZE - o->len;
		size_t k = n < room ? n : room;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == PROF_WRITER_BUFSIZE)
			prof_recent_out_flush(o);
	}
}

static void __attribute__((format(printf, 2, 3)))
prof_recent_out_printf(prof_recent_out_t *o, const char *fmt, ...)
{
	char text[128]; /* a key and a number, or an address */
	va_list ap;
	va_start(ap, fmt);
	size_t n = msg_vformat(text, sizeof(text), fmt, ap);
	va_end(ap);
	prof_recent_out_write(o, text, n < sizeof(text) ? n : sizeof(text) - 1);
}

/* n bytes of s as the inside of a JSON string. */
static void
prof_recent_out_escaped(prof_recent_out_t *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = {'\\', (char)c};
		size_t len = 2;
		if (c == '\n') {
			esc[1] = 'n';
		} else if (c == '\t') {
			esc[1] = 't';
		} else if (c < 0x20) {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			len = 6;
		} else if (c != '"' && c != '\\') {
			esc[0] = (char)c;
			len = 1;
		}
		prof_recent_out_write(o, esc, len);
	}
}

static void
prof_recent_out_trace(prof_recent_out_t *o, const char *key, const prof_stack_t *stack)
{
	prof_recent_out_printf(o, ",\"%s\":[", key);
	for (unsigned i = 0; stack != NULL && i < stack->depth; i++)
		prof_recent_out_printf(o, "%s\"%p\"", i == 0 ? "" : ",", (void *)stack->pcs[i]);
	prof_recent_out_write(o, "]", 1);
}

/* ,"<role>_thread_uid":<uid>[,"<role>_thread_name":"<name>"] */
static void
prof_recent_out_thread(prof_recent_out_t *o, const char *role, struct prof_tdata *tdata)
{
	char name[PROF_THREAD_NAME_MAX];
	mutex_lock(&prof_tdatas_mtx);
	memcpy(name, tdata->name, sizeof(name));
	mutex_unlock(&prof_tdatas_mtx);
	prof_recent_out_printf(o, ",\"%s_thread_uid\":%llu", role,
	                       (unsigned long long)tdata->uid);
	if (name[0] != '\0') {
		prof_recent_out_printf(o, ",\"%s_thread_name\":\"", role);
		prof_recent_out_escaped(o, name, strnlen(name, sizeof(name)));
		prof_recent_out_write(o, "\"", 1);
	}
}

static void
prof_recent_out_record(prof_recent_out_t *o, const prof_recent_rec_t *r, bool first)
{
	prof_recent_out_printf(o, "%s{\"size\":%zu,\"usize\":%zu,\"released\":%s", first ? "" : ",",
	                       r->req, r->usize, r->released ? "true" : "false");
	prof_recent_out_thread(o, "alloc", r->alloc_tdata);
	prof_recent_out_printf(o, ",\"alloc_time\":%llu", (unsigned long long)r->alloc_time);
	prof_recent_out_trace(o, "alloc_trace", r->alloc_stack);
	if (r->released && r->dalloc_tdata != NULL) {
		prof_recent_out_thread(o, "dalloc", r->dalloc_tdata);
		prof_recent_out_printf(o, ",\"dalloc_time\":%llu", (unsigned long long)r->dalloc_time);
		prof_recent_out_trace(o, "dalloc_trace", r->dalloc_stack);
	}
	prof_recent_out_write(o, "}", 1);
}

/* "mapped_libraries":"<escaped /proc/self/maps>" */
static void
prof_recent_out_maps(prof_recent_out_t *o)
{
	prof_recent_out_printf(o, ",\"mapped_libraries\":\"");
	int saved_errno = errno;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char chunk[4096];
		ssize_t n;
		while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR)) {
			if (n > 0)
				prof_recent_out_escaped(o, chunk, (size_t)n);
		}
		close(fd);
	}
	errno = saved_errno;
	prof_recent_out_write(o, "\"", 1);
}

/* The whole document; the ring is detached while its records are copied. */
static void
prof_recent_out_document(prof_recent_out_t *o)
{
	unsigned lg = atomic_load_relaxed(&prof_lg_sample_now);
	prof_recent_out_printf(o, "{\"sample_interval\":%llu,\"recent_alloc_max\":%zd",
	                       (unsigned long long)1 << lg, prof_recent_alloc_max_get());
	prof_recent_out_write(o, ",\"recent_alloc\":[", 17);
	bool first = true;
	prof_recent_rec_t copy;
	for (const prof_recent_rec_t *r = prof_recent_dump_begin(); r != NULL;) {
		r = prof_recent_dump_next(r, &copy);
		if (atomic_load_relaxed(&copy.id) == 0)
			continue; /* cancelled: its allocation failed */
		prof_recent_out_record(o, &copy, first);
		first = false;
	}
	prof_recent_dump_end();
	prof_recent_out_write(o, "]", 1);
	prof_recent_out_maps(o);
	prof_recent_out_write(o, "}", 1);
}

int
prof_recent_json_dump_cb(void (*write_cb)(void *, const char *), void *cbopaque)
{
	prof_recent_out_t o = {.write_cb = write_cb, .cbopaque = cbopaque};
	size_t size = PAGE_CEILING(PROF_WRITER_BUFSIZE + 1);
	o.buf = os_pages_map(size, PAGE);
	if (o.buf == NULL)
		return ENOMEM;
	mutex_lock(&prof_recent_dump_mtx);
	prof_recent_out_document(&o);
	prof_recent_out_flush(&o);
	mutex_unlock(&prof_recent_dump_mtx);
	os_pages_unmap(o.buf, size);
	return 0;
}

void
prof_recent_json_shutdown(void)
{
	mutex_lock(&prof_recent_dump_mtx);
	prof_recent_dump_closed = true;
	mutex_unlock(&prof_recent_dump_mtx);
}

int
prof_recent_json_dump_file(const char *path, bool gzip)
{
	prof_writer_t w;
	prof_recent_out_t o = {.file = &w};
	mutex_lock(&prof_recent_dump_mtx);
	int err = prof_recent_dump_closed ? ECANCELED : prof_writer_open(&w, path, gzip);
	if (err == 0) {
		prof_recent_out_document(&o);
		err = prof_writer_close(&w);
	}
	mutex_unlock(&prof_recent_dump_mtx);
	return err;
}
