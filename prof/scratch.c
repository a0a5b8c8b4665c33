/*
 * scratch.c — mapped scratch memory, copies of the stack counters and
 * texts of lines.  See scratch.h.
 */
#include <errno.h>
#include <string.h>

#include "msg.h"
#include "os.h"
#include "prof/scratch.h"

void *
prof_scratch_map(size_t bytes)
{
	return os_pages_map(PAGE_CEILING(bytes == 0 ? 1 : bytes), PAGE);
}

void
prof_scratch_unmap(void *p, size_t bytes)
{
	if (p != NULL)
		os_pages_unmap(p, PAGE_CEILING(bytes == 0 ? 1 : bytes));
}

int
prof_scratch_lines_copy(prof_scratch_lines_t *l)
{
	size_t room = 1024;
	for (;;) {
		l->bytes = room * sizeof(prof_stacks_line_t);
		l->lines = prof_scratch_map(l->bytes);
		if (l->lines == NULL)
			return ENOMEM;
		l->nlines = prof_stacks_snapshot(l->lines, room);
		if (l->nlines <= room)
			return 0;
		prof_scratch_unmap(l->lines, l->bytes);
		l->lines = NULL;
		room = l->nlines + l->nlines / 4 + 64;
	}
}

void
prof_scratch_lines_free(prof_scratch_lines_t *l)
{
	prof_scratch_unmap(l->lines, l->bytes);
	l->lines = NULL;
	l->nlines = 0;
}

/* Room for need more bytes: a bigger mapping takes the text over. */
static bool
prof_scratch_text_reserve(prof_scratch_text_t *t, size_t need)
{
	if (t->len + need <= t->cap)
		return true;
	size_t cap = t->cap == 0 ? 16 * 1024 : t->cap;
	while (cap < t->len + need)
		cap *= 2;
	char *buf = prof_scratch_map(cap);
	if (buf == NULL)
		return false;
	if (t->len != 0)
		memcpy(buf, t->buf, t->len);
	prof_scratch_unmap(t->buf, t->cap);
	t->buf = buf;
	t->cap = PAGE_CEILING(cap);
	return true;
}

void
prof_scratch_text_line(prof_scratch_text_t *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = msg_vformat(NULL, 0, fmt, ap);
	va_end(ap);
	if (!prof_scratch_text_reserve(t, n + 1)) {
		t->dropped++;
		return;
	}
	va_start(ap, fmt);
	msg_vformat(t->buf + t->len, n + 1, fmt, ap);
	va_end(ap);
	t->len += n + 1;
}

void
prof_scratch_text_each(const prof_scratch_text_t *t, void (*write)(const char *line))
{
	for (size_t off = 0; off < t->len; off += strlen(t->buf + off) + 1)
		write(t->buf + off);
}

void
prof_scratch_text_free(prof_scratch_text_t *t)
{
	prof_scratch_unmap(t->buf, t->cap);
	*t = (prof_scratch_text_t){0};
}
