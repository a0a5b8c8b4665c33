/*
 * symbolize_self.c — addresses of this process to names, at exit.  See
 * symbolize_self.h.
 *
 * The libdw functions are looked up with dlsym in a handle of "libdw.so.1"
 * opened RTLD_LOCAL; their types come from libdwfl.h, which is only a
 * header here.  A session reports the process's mappings
 * (dwfl_linux_proc_report: /proc/self/maps) and finds each file, and its
 * separate debug information, the standard way (build id,
 * .gnu_debuglink).  The functions inlined at an address are the
 * DW_TAG_inlined_subroutine scopes around it (dwarf_getscopes, innermost
 * first); each one's caller is at its DW_AT_call_file and DW_AT_call_line.
 */
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "prof/symbolize_self.h"

/* The libdw functions used, from the loaded library. */
static struct {
	__typeof__(dwfl_begin) *begin;
	__typeof__(dwfl_report_begin) *report_begin;
	__typeof__(dwfl_linux_proc_report) *linux_proc_report;
	__typeof__(dwfl_report_end) *report_end;
	__typeof__(dwfl_addrmodule) *addrmodule;
	__typeof__(dwfl_module_addrinfo) *module_addrinfo;
	__typeof__(dwfl_module_getsrc) *module_getsrc;
	__typeof__(dwfl_lineinfo) *lineinfo;
	__typeof__(dwfl_module_info) *module_info;
	__typeof__(dwfl_module_addrdie) *module_addrdie;
	__typeof__(dwfl_end) *end;
	__typeof__(dwfl_linux_proc_find_elf) *linux_proc_find_elf;
	__typeof__(dwfl_standard_find_debuginfo) *standard_find_debuginfo;
	__typeof__(dwarf_getscopes) *getscopes;
	__typeof__(dwarf_tag) *tag;
	__typeof__(dwarf_diename) *diename;
	__typeof__(dwarf_attr) *attr;
	__typeof__(dwarf_formudata) *formudata;
	__typeof__(dwarf_getsrcfiles) *getsrcfiles;
	__typeof__(dwarf_filesrc) *filesrc;
} prof_dw;

static const struct {
	const char *name;
	void **fn;
} prof_dw_names[] = {
	{"dwfl_begin", (void **)&prof_dw.begin},
	{"dwfl_report_begin", (void **)&prof_dw.report_begin},
	{"dwfl_linux_proc_report", (void **)&prof_dw.linux_proc_report},
	{"dwfl_report_end", (void **)&prof_dw.report_end},
	{"dwfl_addrmodule", (void **)&prof_dw.addrmodule},
	{"dwfl_module_addrinfo", (void **)&prof_dw.module_addrinfo},
	{"dwfl_module_getsrc", (void **)&prof_dw.module_getsrc},
	{"dwfl_lineinfo", (void **)&prof_dw.lineinfo},
	{"dwfl_module_info", (void **)&prof_dw.module_info},
	{"dwfl_module_addrdie", (void **)&prof_dw.module_addrdie},
	{"dwfl_end", (void **)&prof_dw.end},
	{"dwfl_linux_proc_find_elf", (void **)&prof_dw.linux_proc_find_elf},
	{"dwfl_standard_find_debuginfo", (void **)&prof_dw.standard_find_debuginfo},
	{"dwarf_getscopes", (void **)&prof_dw.getscopes},
	{"dwarf_tag", (void **)&prof_dw.tag},
	{"dwarf_diename", (void **)&prof_dw.diename},
	{"dwarf_attr", (void **)&prof_dw.attr},
	{"dwarf_formudata", (void **)&prof_dw.formudata},
	{"dwarf_getsrcfiles", (void **)&prof_dw.getsrcfiles},
	{"dwarf_filesrc", (void **)&prof_dw.filesrc},
};

typedef char *(*prof_demangle_fn)(const char *name, char *buf, size_t *len, int *status);

static Dwfl *prof_sym_dwfl; /* NULL: no libdw this session */
static Dwfl_Callbacks prof_sym_callbacks;
static char *prof_sym_debuginfo_path; /* NULL: the standard search path */
static prof_demangle_fn prof_sym_demangle;
static char *prof_sym_demangled;         /* the last demangled name (malloc'd) */
static char prof_sym_unversioned[1024]; /* the last symbol without its version */

/* The libdw functions, loaded once; false when libdw is missing. */
static bool
prof_symbolize_load(void)
{
	if (prof_dw.begin != NULL)
		return true;
	void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return false;
	for (size_t i = 0; i < sizeof(prof_dw_names) / sizeof(prof_dw_names[0]); i++) {
		*prof_dw_names[i].fn = dlsym(h, prof_dw_names[i].name);
		if (*prof_dw_names[i].fn == NULL) {
			memset(&prof_dw, 0, sizeof(prof_dw));
			return false;
		}
	}
	return true;
}

void
prof_symbolize_self_begin(void)
{
	prof_sym_demangle = (prof_demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
	if (!prof_symbolize_load())
		return;
	prof_sym_callbacks.find_elf = prof_dw.linux_proc_find_elf;
	prof_sym_callbacks.find_debuginfo = prof_dw.standard_find_debuginfo;
	prof_sym_callbacks.debuginfo_path = &prof_sym_debuginfo_path;
	prof_sym_dwfl = prof_dw.begin(&prof_sym_callbacks);
	if (prof_sym_dwfl == NULL)
		return;
	prof_dw.report_begin(prof_sym_dwfl);
	int err = prof_dw.linux_proc_report(prof_sym_dwfl, getpid());
	if (prof_dw.report_end(prof_sym_dwfl, NULL, NULL) != 0 || err != 0) {
		prof_dw.end(prof_sym_dwfl);
		prof_sym_dwfl = NULL;
	}
}

static const char *
prof_symbolize_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

/* sym->symbol without a version ("_IO_file_overflow@@GLIBC_2.2.5"); its
 * name, demangled when it is a C++ one and the process has the
 * demangler. */
static const char *
prof_symbolize_symbol_name(prof_sym_t *sym)
{
	const char *at = sym->symbol != NULL ? strchr(sym->symbol, '@') : NULL;
	if (at != NULL && (size_t)(at - sym->symbol) < sizeof(prof_sym_unversioned)) {
		memcpy(prof_sym_unversioned, sym->symbol, (size_t)(at - sym->symbol));
		prof_sym_unversioned[at - sym->symbol] = '\0';
		sym->symbol = prof_sym_unversioned;
	}
	if (sym->symbol == NULL || prof_sym_demangle == NULL || strncmp(sym->symbol, "_Z", 2) != 0)
		return sym->symbol;
	free(prof_sym_demangled);
	int status = -1;
	prof_sym_demangled = prof_sym_demangle(sym->symbol, NULL, NULL, &status);
	return status == 0 && prof_sym_demangled != NULL ? prof_sym_demangled : sym->symbol;
}

/* The source file at index idx of the compilation unit cu, or NULL. */
static const char *
prof_symbolize_cu_file(Dwarf_Die *cu, Dwarf_Word idx)
{
	Dwarf_Files *files;
	size_t nfiles;
	if (prof_dw.getsrcfiles(cu, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	return prof_dw.filesrc(files, idx, NULL, NULL);
}

/* The functions at pc from the debug information: sym->funcs[0], which
 * holds the line already, gets the innermost one's name, and each
 * function it is inlined into is added with the line of the call. */
static void
prof_symbolize_inlined(Dwfl_Module *mod, uintptr_t pc, prof_sym_t *sym)
{
	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = prof_dw.module_addrdie(mod, pc, &bias);
	Dwarf_Die *scopes = NULL;
	int n = cu != NULL ? prof_dw.getscopes(cu, pc - bias, &scopes) : -1;
	for (int i = 0; i < n && sym->nfuncs < PROF_SYM_INLINE_MAX; i++) {
		int tag = prof_dw.tag(&scopes[i]);
		prof_sym_func_t *inner = &sym->funcs[sym->nfuncs - 1];
		if (tag == DW_TAG_subprogram) {
			inner->name = prof_dw.diename(&scopes[i]);
			break;
		}
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		inner->name = prof_dw.diename(&scopes[i]);
		prof_sym_func_t *outer = &sym->funcs[sym->nfuncs++];
		Dwarf_Attribute attr;
		Dwarf_Word file = 0, line = 0;
		if (prof_dw.formudata(prof_dw.attr(&scopes[i], DW_AT_call_file, &attr), &file) == 0)
			outer->file = prof_symbolize_cu_file(cu, file);
		if (prof_dw.formudata(prof_dw.attr(&scopes[i], DW_AT_call_line, &attr), &line) == 0)
			outer->line = (int)line;
	}
	free(scopes);
}

static void
prof_symbolize_dwfl(uintptr_t pc, prof_sym_t *out)
{
	Dwfl_Module *mod = prof_dw.addrmodule(prof_sym_dwfl, pc);
	if (mod == NULL)
		return;
	Dwarf_Addr start = 0;
	out->module_path = prof_dw.module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	out->module_offset = pc - (uintptr_t)start;
	GElf_Off off = 0;
	GElf_Sym sym;
	out->symbol = prof_dw.module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
	out->symbol_offset = (uintptr_t)off;
	Dwfl_Line *line = prof_dw.module_getsrc(mod, pc);
	if (line != NULL)
		out->funcs[0].file = prof_dw.lineinfo(line, NULL, &out->funcs[0].line, NULL, NULL, NULL);
	prof_symbolize_inlined(mod, pc, out);
}

static void
prof_symbolize_dladdr(uintptr_t pc, prof_sym_t *out)
{
	Dl_info info;
	if (dladdr((void *)pc, &info) == 0)
		return;
	out->module_path = info.dli_fname;
	out->module_offset = pc - (uintptr_t)info.dli_fbase;
	if (info.dli_sname != NULL) {
		out->symbol = info.dli_sname;
		out->symbol_offset = pc - (uintptr_t)info.dli_saddr;
	}
}

void
prof_symbolize_self(uintptr_t pc, prof_sym_t *out)
{
	*out = (prof_sym_t){.nfuncs = 1};
	if (prof_sym_dwfl != NULL)
		prof_symbolize_dwfl(pc, out);
	else
		prof_symbolize_dladdr(pc, out);
	if (out->module_path != NULL && out->module_path[0] == '\0')
		out->module_path = NULL;
	if (out->module_path != NULL)
		out->module = prof_symbolize_basename(out->module_path);
	/* The outermost function is named as its symbol (qualified, for C++)
	 * rather than as its debug information names it. */
	const char *name = prof_symbolize_symbol_name(out);
	if (name != NULL)
		out->funcs[out->nfuncs - 1].name = name;
}

void
prof_sym_frame_line(char *buf, size_t size, unsigned n, uintptr_t addr, const prof_sym_t *sym,
                    unsigned i)
{
	const prof_sym_func_t *f = &sym->funcs[i];
	char where[4096] = "";
	if (f->name != NULL && f->file != NULL)
		msg_format(where, sizeof(where), " %s %s:%d", f->name, f->file, f->line);
	else if (f->name != NULL)
		msg_format(where, sizeof(where), " %s+%#zx", f->name, (size_t)sym->symbol_offset);
	if (sym->module != NULL && f->name != NULL)
		msg_format(buf, size, "%s    #%u %#zx%s (%s)\n", MSG_PREFIX, n, (size_t)addr, where,
		           sym->module);
	else if (sym->module != NULL)
		msg_format(buf, size, "%s    #%u %#zx (%s+%#zx)\n", MSG_PREFIX, n, (size_t)addr,
		           sym->module, (size_t)sym->module_offset);
	else
		msg_format(buf, size, "%s    #%u %#zx%s\n", MSG_PREFIX, n, (size_t)addr, where);
}

void
prof_symbolize_self_end(void)
{
	if (prof_sym_dwfl != NULL)
		prof_dw.end(prof_sym_dwfl);
	prof_sym_dwfl = NULL;
	free(prof_sym_demangled);
	prof_sym_demangled = NULL;
}
