/*
 * suppress.c — suppression patterns and the built-in rules.  See suppress.h.
 *
 * The file is read whole into mapped scratch memory (scratch.h) and its
 * patterns point into it; nothing here calls malloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prof/scratch.h"
#include "prof/suppress.h"

/* The most a suppression file may hold. */
#define PROF_SUPPRESS_FILE_MAX ((size_t)16 << 20)

/*
 * A built-in rule, in suppress.h's pattern syntax:
 *   PROF_SUPPRESS_FUNC: some frame is in func, which is in module;
 *   PROF_SUPPRESS_INIT: every frame is in module or in the dynamic loader,
 *     and some in module: the library's own initialisation, run by the
 *     loader before main, with no code of the program on the stack.
 * module is matched against the file's base name.
 */
typedef enum { PROF_SUPPRESS_FUNC, PROF_SUPPRESS_INIT } prof_suppress_kind_t;

typedef struct prof_suppress_rule {
	prof_suppress_kind_t kind;
	const char *func;
	const char *module;
} prof_suppress_rule_t;

#define PROF_SUPPRESS_LOADER "^ld-linux"

/*
 * Each rule was seen in programs run with prof_leak under lg_prof_sample:0
 * and prof_leak_suppress_defaults:false (Debian 12: glibc 2.36, GCC 12),
 * with and without glibc's debug symbols: a name that only the debug
 * symbols give (an internal function) is paired with the exported one
 * that stands on the same stacks without them.
 */
static const prof_suppress_rule_t prof_suppress_rules[] = {
	/* stdio's buffer of a stream, made at its first use and kept (for
	 * stdout, stderr and stdin, until exit): every program that prints
	 * to a pipe or file (a C program's printf, the C++ test's, bash's).
	 * A stream the program opened and never closed is still reported, by
	 * the fopen that made it. */
	{PROF_SUPPRESS_FUNC, "^_IO_file_doallocate$", "^libc.so"},
	/* The locale setlocale loads (names, alias table, locale data),
	 * kept for the process's life: ls, sort, git, python3. */
	{PROF_SUPPRESS_FUNC, "^setlocale$", "^libc.so"},
	/* gettext's bound message domains (textdomain, bindtextdomain,
	 * bind_textdomain_codeset): ls, sort, git. */
	{PROF_SUPPRESS_FUNC, "textdomain", "^libc.so"},
	/* The multibyte conversion functions of the locale's character set,
	 * loaded at the first conversion and cached: python3 (mbstowcs;
	 * __wcsmbs_load_conv with debug symbols). */
	{PROF_SUPPRESS_FUNC, "^mbstowcs$", "^libc.so"},
	{PROF_SUPPRESS_FUNC, "^__wcsmbs_load_conv$", "^libc.so"},
	/* The time zone tzset reads (its strings and the tzfile's data),
	 * kept for the process's life: python3 (localtime; named only with
	 * debug symbols, since localtime_r jumps to it). */
	{PROF_SUPPRESS_FUNC, "^tzset_internal$", "^libc.so"},
	/* Strings setenv adds to the environment, which glibc never frees
	 * (a pointer to one may still be held): git (setenv jumps to it, so
	 * only debug symbols name it). */
	{PROF_SUPPRESS_FUNC, "^__add_to_environ$", "^libc.so"},
	/* A thread's dynamic TLS vector, kept with its stack in glibc's
	 * cache of thread stacks after the thread is joined: the C++ test's
	 * std::thread and any pthread_create. */
	{PROF_SUPPRESS_FUNC, "^_dl_allocate_tls$", PROF_SUPPRESS_LOADER},
	/* libstdc++'s emergency pool for exceptions thrown when malloc
	 * fails (81920 bytes in GCC 12), allocated by its initialisation
	 * and never freed: every C++ program (the C++ test; jemalloc
	 * reports it, docs/compat.md, "Leak reports"). */
	{PROF_SUPPRESS_INIT, NULL, "^libstdc++.so"},
};
#define PROF_SUPPRESS_NRULES (sizeof(prof_suppress_rules) / sizeof(prof_suppress_rules[0]))
_Static_assert(PROF_SUPPRESS_NRULES <= 64, "one bit per rule");

/* Whether the pattern p[0..n) matches s: '*' matches any run, and an
 * unanchored end matches any run before (start) or after (end) it. */
static bool
prof_suppress_glob(const char *p, size_t n, bool start, bool end, const char *s)
{
	size_t i = 0;
	size_t star = start ? SIZE_MAX : 0; /* the pattern's position after the last '*' */
	const char *mark = s;               /* where that '*' began to match */
	while (*s != '\0') {
		if (i == n && !end)
			return true;
		if (i < n && p[i] == '*') {
			star = ++i;
			mark = s;
		} else if (i < n && p[i] == *s) {
			i++;
			s++;
		} else if (star != SIZE_MAX) {
			i = star;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (i < n && p[i] == '*')
		i++;
	return i == n;
}

static bool
prof_suppress_pattern_match(const prof_suppress_pattern_t *p, const char *s)
{
	return s != NULL && prof_suppress_glob(p->text, p->len, p->start, p->end, s);
}

/* The pattern of a line (leak: and spaces stripped, anchors noted);
 * false for blank lines and comments. */
static bool
prof_suppress_parse(const char *line, size_t len, prof_suppress_pattern_t *p)
{
	while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	if (len == 0 || line[0] == '#')
		return false;
	if (len >= 5 && memcmp(line, "leak:", 5) == 0) {
		line += 5;
		len -= 5;
		while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
			line++;
			len--;
		}
	}
	p->start = len > 0 && line[0] == '^';
	if (p->start) {
		line++;
		len--;
	}
	p->end = len > 0 && line[len - 1] == '$';
	if (p->end)
		len--;
	p->text = line;
	p->len = len;
	return len > 0;
}

/* Reads the file at path whole into s->text.  0 or an errno. */
static int
prof_suppress_read(prof_suppress_t *s, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct stat st;
	int err = fstat(fd, &st) == 0 ? 0 : errno;
	if (err == 0 && (size_t)st.st_size > PROF_SUPPRESS_FILE_MAX)
		err = EFBIG;
	if (err == 0) {
		s->text_bytes = (size_t)st.st_size + 1;
		s->text = prof_scratch_map(s->text_bytes);
		err = s->text == NULL ? ENOMEM : 0;
	}
	size_t len = 0;
	while (err == 0 && len + 1 < s->text_bytes) {
		ssize_t n = read(fd, s->text + len, s->text_bytes - 1 - len);
		if (n < 0 && errno != EINTR)
			err = errno;
		else if (n == 0)
			break;
		else if (n > 0)
			len += (size_t)n;
	}
	close(fd);
	return err;
}

int
prof_suppress_load(prof_suppress_t *s, const char *path)
{
	if (path[0] == '\0')
		return 0;
	int err = prof_suppress_read(s, path);
	size_t nlines = 1;
	for (size_t i = 0; err == 0 && s->text[i] != '\0'; i++)
		nlines += s->text[i] == '\n';
	if (err == 0) {
		s->patterns_bytes = nlines * sizeof(prof_suppress_pattern_t);
		s->patterns = prof_scratch_map(s->patterns_bytes);
		err = s->patterns == NULL ? ENOMEM : 0;
	}
	if (err != 0) {
		bool builtin = s->builtin;
		prof_suppress_free(s);
		s->builtin = builtin;
		return err;
	}
	for (const char *line = s->text; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if (prof_suppress_parse(line, len, &s->patterns[s->npatterns]))
			s->npatterns++;
		line += len + (nl != NULL);
	}
	return 0;
}

void
prof_suppress_free(prof_suppress_t *s)
{
	prof_scratch_unmap(s->patterns, s->patterns_bytes);
	prof_scratch_unmap(s->text, s->text_bytes);
	*s = (prof_suppress_t){0};
}


/* Whether p matches a function of the frame: one inlined there, the one
 * the code is in, or the symbol as its file spells it (mangled). */
static bool
prof_suppress_func_match(const prof_suppress_pattern_t *p, const prof_sym_t *sym)
{
	for (unsigned i = 0; i < sym->nfuncs; i++) {
		if (prof_suppress_pattern_match(p, sym->funcs[i].name))
			return true;
	}
	return prof_suppress_pattern_match(p, sym->symbol);
}

/* Whether a built-in pattern (a NUL-terminated string) matches s. */
static bool
prof_suppress_builtin_match(const char *pattern, const char *s)
{
	prof_suppress_pattern_t p;
	return prof_suppress_parse(pattern, strlen(pattern), &p) && prof_suppress_pattern_match(&p, s);
}

/* The built-in rules on one frame. */
static void
prof_suppress_frame_rules(prof_suppress_match_t *m, const prof_sym_t *sym)
{
	for (size_t r = 0; r < PROF_SUPPRESS_NRULES; r++) {
		const prof_suppress_rule_t *rule = &prof_suppress_rules[r];
		uint64_t bit = (uint64_t)1 << r;
		bool in_module = prof_suppress_builtin_match(rule->module, sym->module);
		if (rule->kind == PROF_SUPPRESS_FUNC) {
			prof_suppress_pattern_t func;
			if (in_module && prof_suppress_parse(rule->func, strlen(rule->func), &func) &&
			    prof_suppress_func_match(&func, sym))
				m->builtin_hit |= bit;
		} else if (in_module) {
			m->builtin_hit |= bit;
		} else if (!prof_suppress_builtin_match(PROF_SUPPRESS_LOADER, sym->module)) {
			m->builtin_broken |= bit;
		}
	}
}

void
prof_suppress_frame(const prof_suppress_t *s, prof_suppress_match_t *m, const prof_sym_t *sym)
{
	for (size_t i = 0; !m->file && i < s->npatterns; i++) {
		const prof_suppress_pattern_t *p = &s->patterns[i];
		m->file = prof_suppress_func_match(p, sym) ||
		          prof_suppress_pattern_match(p, sym->module) ||
		          prof_suppress_pattern_match(p, sym->module_path);
	}
	if (s->builtin)
		prof_suppress_frame_rules(m, sym);
}

void
prof_suppress_add(prof_suppress_match_t *m, const prof_suppress_match_t *frame)
{
	m->builtin_hit |= frame->builtin_hit;
	m->builtin_broken |= frame->builtin_broken;
	m->file = m->file || frame->file;
}

prof_suppress_verdict_t
prof_suppress_verdict(const prof_suppress_t *s, const prof_suppress_match_t *m)
{
	if (m->file)
		return PROF_SUPPRESS_FILE;
	if (s->builtin && (m->builtin_hit & ~m->builtin_broken) != 0)
		return PROF_SUPPRESS_BUILTIN;
	return PROF_SUPPRESS_NONE;
}
