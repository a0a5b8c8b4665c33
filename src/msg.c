/*
 * msg.c — malloc-free formatting and the message sink.  See msg.h.
 *
 * Invariants: no allocation, no locks, no stdio; stack use bounded by
 * MSG_BUFSIZE per call.  The sink is write(2) on fd 2 (or the one
 * msg_write_fd is given) unless the program installed `malloc_message`
 * (jemalloc's hook, same signature).
 */
#include "public_names.h"
#include <strata.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

#include "debug.h"
#include "msg.h"

#define MSG_BUFSIZE 4096

EXPORT void (*malloc_message)(void *cbopaque, const char *s);

static void (*msg_guard_enter)(void);
static void (*msg_guard_leave)(void);

/* Bootstrap deferral, written only by the initializing thread. */
static bool msg_deferring;
static char msg_deferred[MSG_DEFER_BYTES];
static size_t msg_deferred_len;
static size_t msg_deferred_dropped;

struct msg_out {
	char *buf;
	size_t size; /* capacity including the NUL */
	size_t len;  /* characters produced so far (may exceed size) */
};

static void
msg_putc(struct msg_out *out, char c)
{
	if (out->len + 1 < out->size)
		out->buf[out->len] = c;
	out->len++;
}

static void
msg_pad(struct msg_out *out, char c, int n)
{
	for (; n > 0; n--)
		msg_putc(out, c);
}

struct msg_spec {
	bool left, zero, alt, plus, space;
	int width;
	int prec; /* -1 when absent */
};

static void
msg_put_str(struct msg_out *out, const struct msg_spec *sp, const char *s)
{
	size_t n = strlen(s);
	if (sp->prec >= 0 && (size_t)sp->prec < n)
		n = (size_t)sp->prec;
	int pad = sp->width > (int)n ? sp->width - (int)n : 0;
	if (!sp->left)
		msg_pad(out, ' ', pad);
	for (size_t i = 0; i < n; i++)
		msg_putc(out, s[i]);
	if (sp->left)
		msg_pad(out, ' ', pad);
}

static void
msg_put_uint(struct msg_out *out, const struct msg_spec *sp, uint64_t v, unsigned base,
             bool upper, bool negative, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v != 0);
	int ndigits = n;
	if (sp->prec > ndigits)
		ndigits = sp->prec;
	char sign = negative ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
	int plen = (int)strlen(prefix);
	int total = ndigits + plen + (sign != 0);
	int pad = sp->width > total ? sp->width - total : 0;
	bool zero_pad = sp->zero && !sp->left && sp->prec < 0;
	if (!sp->left && !zero_pad)
		msg_pad(out, ' ', pad);
	if (sign)
		msg_putc(out, sign);
	for (int i = 0; i < plen; i++)
		msg_putc(out, prefix[i]);
	if (zero_pad)
		msg_pad(out, '0', pad);
	msg_pad(out, '0', ndigits - n);
	while (n > 0)
		msg_putc(out, tmp[--n]);
	if (sp->left)
		msg_pad(out, ' ', pad);
}

enum msg_len { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_PTRDIFF, LEN_MAX };

static int64_t
msg_arg_signed(va_list *ap, enum msg_len len)
{
	switch (len) {
	case LEN_CHAR: return (signed char)va_arg(*ap, int);
	case LEN_SHORT: return (short)va_arg(*ap, int);
	case LEN_LONG: return va_arg(*ap, long);
	case LEN_LLONG: return va_arg(*ap, long long);
	case LEN_SIZE: return va_arg(*ap, ssize_t);
	case LEN_PTRDIFF: return va_arg(*ap, ptrdiff_t);
	case LEN_MAX: return va_arg(*ap, intmax_t);
	default: return va_arg(*ap, int);
	}
}

static uint64_t
msg_arg_unsigned(va_list *ap, enum msg_len len)
{
	switch (len) {
	case LEN_CHAR: return (unsigned char)va_arg(*ap, unsigned);
	case LEN_SHORT: return (unsigned short)va_arg(*ap, unsigned);
	case LEN_LONG: return va_arg(*ap, unsigned long);
	case LEN_LLONG: return va_arg(*ap, unsigned long long);
	case LEN_SIZE: return va_arg(*ap, size_t);
	case LEN_PTRDIFF: return (uint64_t)va_arg(*ap, ptrdiff_t);
	case LEN_MAX: return va_arg(*ap, uintmax_t);
	default: return va_arg(*ap, unsigned);
	}
}

static const char *
msg_parse_spec(const char *f, struct msg_spec *sp, va_list *ap)
{
	*sp = (struct msg_spec){.prec = -1};
	for (;; f++) {
		if (*f == '-') sp->left = true;
		else if (*f == '0') sp->zero = true;
		else if (*f == '#') sp->alt = true;
		else if (*f == '+') sp->plus = true;
		else if (*f == ' ') sp->space = true;
		else break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = -sp->width;
		}
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		f++;
		sp->prec = 0;
		if (*f == '*') {
			sp->prec = va_arg(*ap, int);
			f++;
		}
		while (*f >= '0' && *f <= '9')
			sp->prec = sp->prec * 10 + (*f++ - '0');
	}
	return f;
}

static const char *
msg_parse_len(const char *f, enum msg_len *len)
{
	*len = LEN_INT;
	switch (*f) {
	case 'h':
		f++;
		*len = LEN_SHORT;
		if (*f == 'h') {
			f++;
			*len = LEN_CHAR;
		}
		break;
	case 'l':
		f++;
		*len = LEN_LONG;
		if (*f == 'l') {
			f++;
			*len = LEN_LLONG;
		}
		break;
	case 'z': f++; *len = LEN_SIZE; break;
	case 't': f++; *len = LEN_PTRDIFF; break;
	case 'j': f++; *len = LEN_MAX; break;
	default: break;
	}
	return f;
}

size_t
msg_vformat(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	struct msg_out out = {buf, size, 0};
	va_list ap;
	va_copy(ap, ap_in);
	for (const char *f = fmt; *f != '\0'; f++) {
		if (*f != '%') {
			msg_putc(&out, *f);
			continue;
		}
		struct msg_spec sp;
		enum msg_len len;
		f = msg_parse_spec(f + 1, &sp, &ap);
		f = msg_parse_len(f, &len);
		switch (*f) {
		case 'd':
		case 'i': {
			int64_t v = msg_arg_signed(&ap, len);
			uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			msg_put_uint(&out, &sp, mag, 10, false, v < 0, "");
			break;
		}
		case 'u':
			msg_put_uint(&out, &sp, msg_arg_unsigned(&ap, len), 10, false, false, "");
			break;
		case 'o':
			msg_put_uint(&out, &sp, msg_arg_unsigned(&ap, len), 8, false, false,
			             sp.alt ? "0" : "");
			break;
		case 'x':
		case 'X': {
			uint64_t v = msg_arg_unsigned(&ap, len);
			const char *pfx = sp.alt && v != 0 ? (*f == 'x' ? "0x" : "0X") : "";
			msg_put_uint(&out, &sp, v, 16, *f == 'X', false, pfx);
			break;
		}
		case 'p': {
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			if (v == 0) {
				msg_put_str(&out, &sp, "(nil)");
				break;
			}
			msg_put_uint(&out, &sp, v, 16, false, false, "0x");
			break;
		}
		case 'c': {
			char s[2] = {(char)va_arg(ap, int), '\0'};
			msg_put_str(&out, &sp, s);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			msg_put_str(&out, &sp, s != NULL ? s : "(null)");
			break;
		}
		case '%':
			msg_putc(&out, '%');
			break;
		case '\0':
			f--; /* a lone trailing '%' prints nothing */
			break;
		default: /* unknown conversion: print it verbatim */
			msg_putc(&out, '%');
			msg_putc(&out, *f);
			break;
		}
	}
	va_end(ap);
	if (size > 0)
		buf[out.len < size ? out.len : size - 1] = '\0';
	return out.len;
}

size_t
msg_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = msg_vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void
msg_set_hook_guard(void (*enter)(void), void (*leave)(void))
{
	msg_guard_enter = enter;
	msg_guard_leave = leave;
}

static void
msg_keep(const char *s)
{
	size_t len = strlen(s);
	if (len > sizeof(msg_deferred) - 1 - msg_deferred_len) {
		msg_deferred_dropped++;
		return;
	}
	memcpy(msg_deferred + msg_deferred_len, s, len + 1);
	msg_deferred_len += len;
}

void
msg_defer_begin(void)
{
	msg_deferring = true;
	msg_deferred_len = 0;
	msg_deferred_dropped = 0;
}

void
msg_defer_end(void)
{
	msg_deferring = false;
	if (msg_deferred_len != 0)
		msg_write(msg_deferred);
	if (msg_deferred_dropped != 0)
		msg_error("%zu more messages dropped during bootstrap\n", msg_deferred_dropped);
	msg_deferred_len = 0;
	msg_deferred_dropped = 0;
}

void
msg_write(const char *s)
{
	msg_write_fd(STDERR_FILENO, s);
}

void
msg_write_fd(int fd, const char *s)
{
	if (msg_deferring) {
		msg_keep(s);
		return;
	}
	if (malloc_message != NULL) {
		if (msg_guard_enter != NULL)
			msg_guard_enter();
		malloc_message(NULL, s);
		if (msg_guard_leave != NULL)
			msg_guard_leave();
		return;
	}
	int saved_errno = errno;
	/* With SIGPIPE and SIGXFSZ held: a message to a reader that has gone
	 * (prog 2>&1 | head -1), or to a file at the RLIMIT_FSIZE limit, is
	 * lost, but must not end the process by the signal.  A signal the
	 * write raised (sent to this thread) is taken back; one pending
	 * before is left as it was. */
	sigset_t held, old, pending;
	sigemptyset(&held);
	sigaddset(&held, SIGPIPE);
	sigaddset(&held, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &held, &old);
	sigset_t take_back;
	sigemptyset(&take_back);
	if (sigpending(&pending) == 0) {
		if (!sigismember(&pending, SIGPIPE))
			sigaddset(&take_back, SIGPIPE);
		if (!sigismember(&pending, SIGXFSZ))
			sigaddset(&take_back, SIGXFSZ);
	}
	size_t len = strlen(s);
	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		s += n;
		len -= (size_t)n;
	}
	const struct timespec now = {0, 0};
	while (!sigisemptyset(&take_back) && sigtimedwait(&take_back, NULL, &now) > 0)
		continue;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved_errno;
}

static void
msg_verror(const char *fmt, va_list ap)
{
	char buf[MSG_BUFSIZE];
	size_t n = msg_format(buf, sizeof(buf), "%s", MSG_PREFIX);
	msg_vformat(buf + n, sizeof(buf) - n, fmt, ap);
	msg_write(buf);
}

void
msg_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg_verror(fmt, ap);
	va_end(ap);
}

void
msg_fatal(const char *fmt, ...)
{
	if (msg_deferring)
		msg_defer_end();
	va_list ap;
	va_start(ap, fmt);
	msg_verror(fmt, ap);
	va_end(ap);
	abort();
}

void
debug_assert_fail(const char *file, int line, const char *cond)
{
	msg_fatal("%s:%d: assertion failed: %s\n", file, line, cond);
}
