/*
 * symname.c — demangling through the C++ runtime's __cxa_demangle, jeprof's
 * short-name rules, and the set of allocator entry points whose frames (and
 * everything inside them) are dropped from heap stacks.
 */
#include "symname.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Provided by libstdc++ (the Itanium C++ ABI runtime). */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

char *
symname_demangle(const char *name)
{
	if (name[0] == '_' && name[1] == 'Z') {
		int status = 0;
		char *out = __cxa_demangle(name, NULL, NULL, &status);
		if (out != NULL && status == 0) {
			char *copy = mem_strdup(out);
			free(out);
			return copy;
		}
		free(out);
	}
	return mem_strdup(name);
}

/* Removes every innermost "open ... close" group with no nested open/close. */
static bool
symname_strip_innermost(char *s, char open, char close, bool with_const)
{
	bool changed = false;
	char *w = s;
	for (char *r = s; *r != '\0';) {
		if (*r == open) {
			char *q = r + 1;
			while (*q != '\0' && *q != open && *q != close)
				q++;
			if (*q == close) {
				r = q + 1;
				if (with_const) {
					char *k = r;
					while (*k == ' ')
						k++;
					if (strncmp(k, "const", 5) == 0)
						r = k + 5;
				}
				changed = true;
				continue;
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
	return changed;
}

char *
symname_shorten(const char *name)
{
	/* As in jeprof, "operator()" and "operator<" lose their operator text. */
	char *s = mem_strdup(name);
	while (symname_strip_innermost(s, '(', ')', true))
		;
	while (symname_strip_innermost(s, '<', '>', false))
		;
	/* A leading return type: "int ns::f" -> "ns::f" (jeprof keeps from "\w+::"). */
	char *last_space = NULL;
	for (char *r = s; *r != '\0'; r++) {
		if (*r == ' ') {
			char *k = r + 1;
			while ((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
			       (*k >= '0' && *k <= '9') || *k == '_')
				k++;
			if (k > r + 1 && k[0] == ':' && k[1] == ':')
				last_space = r;
		}
	}
	if (last_space != NULL)
		memmove(s, last_space + 1, strlen(last_space + 1) + 1);
	return s;
}

static const char *const symname_allocator_names[] = {
	"calloc", "cfree", "malloc", "newImpl", "free", "memalign", "posix_memalign",
	"aligned_alloc", "pvalloc", "valloc", "realloc", "mallocx", "rallocx", "xallocx",
	"reallocarray", "dallocx", "sdallocx", "sdallocx_noflags", "tc_calloc", "tc_cfree", "tc_malloc",
	"tc_free", "tc_memalign", "tc_posix_memalign", "tc_pvalloc", "tc_valloc", "tc_realloc",
	"tc_new", "tc_delete", "tc_newarray", "tc_deletearray", "tc_new_nothrow",
	"tc_newarray_nothrow", "do_malloc", "::do_malloc", "DoSampledAllocation",
	"simple_alloc::allocate", "__malloc_alloc_template::allocate", "__builtin_delete",
	"__builtin_new", "__builtin_vec_delete", "__builtin_vec_new", "operator new",
	"operator new[]", "operator delete", "operator delete[]", "je_malloc_default",
	"imalloc", "imalloc_body", "prof_alloc_prep", "prof_backtrace_impl", "je_prof_backtrace",
	"je_prof_tctx_create", "irallocx_prof", "do_rallocx", "ixallocx_prof", "fallbackNewImpl",
	"malloc_default", "je_calloc", "je_malloc", "je_realloc", "je_free", "je_mallocx",
	"je_rallocx", "je_posix_memalign", "je_aligned_alloc", "je_memalign", "je_valloc",
};

bool
symname_is_allocator(const char *short_name)
{
	if (strncmp(short_name, "malloc_zone_", 12) == 0 || strncmp(short_name, "tcmalloc::", 10) == 0 ||
	    strstr(short_name, "TCMalloc") != NULL)
		return true;
	size_t n = sizeof(symname_allocator_names) / sizeof(symname_allocator_names[0]);
	for (size_t i = 0; i < n; i++)
		if (strcmp(short_name, symname_allocator_names[i]) == 0)
			return true;
	return false;
}
