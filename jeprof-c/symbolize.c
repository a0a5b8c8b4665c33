/*
 * symbolize.c — libdw symbolization of profile locations.
 *
 * For each distinct mapping set: one Dwfl; each executable file mapping is
 * opened once, its load bias computed from the PT_LOAD segment that the
 * mapping's file offset falls in, and reported with dwfl_report_elf.  A
 * location then resolves as
 *   - inline chain and lines from DWARF: the CU from the address ranges,
 *     the function from a per-CU sorted index of function ranges (built on
 *     first use: libdw's dwarf_getscopes walks the whole CU on every call,
 *     far too slow for big CUs), then the nest of inlined subroutines
 *     holding the address; the innermost line comes from the line table,
 *     each outer frame's line from the call site of the inlined
 *     subroutine below it,
 *   - else the ELF symbol containing the address, else (stripped objects)
 *     the nearest preceding function symbol, as nm-based jeprof does.
 * Module-private data (allocator flag, sorted symbol table) hangs off the
 * module's userdata slot and is freed with the session.
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "symname.h"

typedef struct symbolize_sym {
	GElf_Addr addr;
	const char *name; /* owned by libdw's ELF data */
} symbolize_sym_t;

/* One address range of a function defined in a CU. */
typedef struct symbolize_func {
	Dwarf_Addr lo, hi; /* [lo, hi) in DWARF addresses */
	Dwarf_Off die;     /* the DW_TAG_subprogram */
} symbolize_func_t;

/* The functions of one CU sorted by lo; top-level functions never overlap. */
typedef struct symbolize_cu {
	Dwarf_Off offset; /* of the CU DIE */
	symbolize_func_t *funcs;
	size_t nfuncs, capfuncs;
} symbolize_cu_t;

typedef struct symbolize_module {
	bool allocator;        /* libjemalloc / libstrata / libtcmalloc */
	bool syms_loaded;
	symbolize_sym_t *syms; /* function symbols sorted by address */
	size_t nsyms, capsyms;
	symbolize_cu_t *cus;   /* CUs indexed so far */
	size_t ncus, capcus;
	Dwarf_Die *chain;      /* scratch for symbolize_find_chain */
	size_t capchain;
} symbolize_module_t;

typedef struct symbolize_session {
	Dwfl *dwfl;
	char *debuginfo_path;
	Dwfl_Callbacks callbacks;
	symbolize_module_t **mods; /* to free at the end */
	size_t nmods, capmods;
} symbolize_session_t;

static const char *
symbolize_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

static bool
symbolize_is_allocator_path(const char *path)
{
	const char *base = symbolize_basename(path);
	return strncmp(base, "libjemalloc.so", 14) == 0 || strncmp(base, "libstrata.so", 12) == 0 ||
	       strncmp(base, "libtcmalloc", 11) == 0;
}

const char *
symbolize_program_path(const profile_t *p, uint32_t source)
{
	const profile_source_t *s = &p->sources[source];
	if (s->binary != 0)
		return strtab_get(&p->strs, s->binary);
	for (size_t i = 0; i < s->nmaps; i++) {
		const char *path = strtab_get(&p->strs, s->maps[i].path);
		if (path[0] == '/')
			return path;
	}
	return NULL;
}

/* The bias that places the file mapping m of the ELF on fd where it was. */
static GElf_Addr
symbolize_compute_bias(int fd, const profile_mapping_t *m, bool *ok)
{
	GElf_Addr bias = m->start - m->offset;
	*ok = false;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf == NULL)
		return bias;
	GElf_Ehdr ehdr;
	size_t phnum;
	if (elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &ehdr) != NULL &&
	    elf_getphdrnum(elf, &phnum) == 0) {
		*ok = true;
		if (ehdr.e_type == ET_EXEC)
			bias = 0;
		for (size_t i = 0; ehdr.e_type != ET_EXEC && i < phnum; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD)
				continue;
			GElf_Off page = 4096;
			if (ph.p_offset / page * page == m->offset ||
			    (m->offset >= ph.p_offset && m->offset < ph.p_offset + ph.p_filesz)) {
				GElf_Addr vaddr = ph.p_vaddr - (ph.p_offset - m->offset);
				bias = m->start - vaddr;
				break;
			}
		}
	}
	elf_end(elf);
	return bias;
}

/* Reports the ELF file at path as mapped by m; false when it cannot be used. */
static bool
symbolize_report_mapping(symbolize_session_t *ss, const char *path, const profile_mapping_t *m)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok;
	GElf_Addr bias = symbolize_compute_bias(fd, m, &ok);
	if (!ok) {
		close(fd);
		return false;
	}
	/* dwfl_report_elf consumes fd on success only. */
	Dwfl_Module *mod = dwfl_report_elf(ss->dwfl, symbolize_basename(path), path, fd, bias, true);
	if (mod == NULL) {
		close(fd);
		return false;
	}
	void **userdata;
	dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	symbolize_module_t *sm = mem_zalloc(sizeof(*sm));
	sm->allocator = symbolize_is_allocator_path(path);
	*userdata = sm;
	mem_grow(&ss->mods, &ss->capmods, ss->nmods + 1, sizeof(*ss->mods));
	ss->mods[ss->nmods++] = sm;
	return true;
}

static void
symbolize_session_begin(symbolize_session_t *ss, const profile_t *p, uint32_t source,
			const symbolize_options_t *o)
{
	memset(ss, 0, sizeof(*ss));
	ss->debuginfo_path = mem_strdup(":.debug:/usr/lib/debug");
	for (size_t i = 0; i < o->ndebug_dirs; i++) {
		/* libdw looks up build-ids only under absolute directories. */
		char *abs = realpath(o->debug_dirs[i], NULL);
		if (abs == NULL)
			continue;
		ss->debuginfo_path = mem_realloc(ss->debuginfo_path,
						 strlen(ss->debuginfo_path) + strlen(abs) + 2);
		strcat(ss->debuginfo_path, ":");
		strcat(ss->debuginfo_path, abs);
		free(abs);
	}
	ss->callbacks.find_elf = dwfl_build_id_find_elf;
	ss->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	ss->callbacks.debuginfo_path = &ss->debuginfo_path;
	ss->dwfl = dwfl_begin(&ss->callbacks);
	if (ss->dwfl == NULL)
		return;
	dwfl_report_begin(ss->dwfl);
	const profile_source_t *s = &p->sources[source];
	const char *exe = symbolize_program_path(p, source);
	for (size_t i = 0; i < s->nmaps; i++) {
		const profile_mapping_t *m = &s->maps[i];
		const char *path = strtab_get(&p->strs, m->path);
		if (!m->exec || path[0] != '/')
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = s->maps[j].exec && s->maps[j].path == m->path;
		if (seen)
			continue;
		/* The program named on the command line stands for the executable. */
		if (o->program != NULL && exe != NULL && strcmp(path, exe) == 0 &&
		    symbolize_report_mapping(ss, o->program, m))
			continue;
		char *file = mem_strdup(path);
		size_t flen = strlen(file);
		if (flen > 10 && strcmp(file + flen - 10, " (deleted)") == 0)
			file[flen - 10] = '\0';
		symbolize_report_mapping(ss, file, m);
		free(file);
	}
	dwfl_report_end(ss->dwfl, NULL, NULL);
}

static void
symbolize_session_end(symbolize_session_t *ss)
{
	if (ss->dwfl != NULL)
		dwfl_end(ss->dwfl);
	for (size_t i = 0; i < ss->nmods; i++) {
		symbolize_module_t *sm = ss->mods[i];
		for (size_t c = 0; c < sm->ncus; c++)
			free(sm->cus[c].funcs);
		free(sm->cus);
		free(sm->chain);
		free(sm->syms);
		free(sm);
	}
	free(ss->mods);
	free(ss->debuginfo_path);
}

static int
symbolize_compare_syms(const void *a, const void *b)
{
	const symbolize_sym_t *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The nearest function symbol at or below addr (stripped objects). */
static const char *
symbolize_find_preceding(Dwfl_Module *mod, symbolize_module_t *sm, GElf_Addr addr)
{
	if (!sm->syms_loaded) {
		sm->syms_loaded = true;
		int n = dwfl_module_getsymtab(mod);
		for (int i = 1; i < n; i++) {
			GElf_Sym sym;
			GElf_Addr value;
			GElf_Word shndx;
			const char *name = dwfl_module_getsym_info(mod, i, &sym, &value, &shndx,
								   NULL, NULL);
			if (name == NULL || name[0] == '\0' || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    shndx == SHN_UNDEF || value == 0)
				continue;
			mem_grow(&sm->syms, &sm->capsyms, sm->nsyms + 1, sizeof(*sm->syms));
			sm->syms[sm->nsyms++] = (symbolize_sym_t){value, name};
		}
		if (sm->nsyms > 1)
			qsort(sm->syms, sm->nsyms, sizeof(*sm->syms), symbolize_compare_syms);
	}
	size_t lo = 0, hi = sm->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sm->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? sm->syms[lo - 1].name : NULL;
}

/* The demangled name of a subprogram or inlined-subroutine DIE, or NULL. */
static char *
symbolize_die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != NULL ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != NULL)
		name = dwarf_formstring(&attr);
	if (name == NULL && dwarf_attr_integrate(die, DW_AT_name, &attr) != NULL)
		name = dwarf_formstring(&attr);
	return name != NULL ? symname_demangle(name) : NULL;
}

typedef struct symbolize_frames {
	profile_line_t *lines;
	size_t n, cap;
} symbolize_frames_t;

static void
symbolize_push(profile_t *p, symbolize_frames_t *f, const char *func, const char *file,
	       uint32_t line)
{
	mem_grow(&f->lines, &f->cap, f->n + 1, sizeof(*f->lines));
	f->lines[f->n++] = (profile_line_t){
		.func = func != NULL ? strtab_intern_cstr(&p->strs, func) : 0,
		.file = file != NULL ? strtab_intern_cstr(&p->strs, file) : 0,
		.line = line,
	};
}

/*
 * A source file name as addr2line prints it (and so the perl jeprof): a name
 * that libdw gives relative (the program was compiled by relative paths) is
 * relative to the CU's compilation directory, so the two are joined.
 * Returns file itself or a joined copy to free (*owned).
 */
static const char *
symbolize_source_path(const char *comp_dir, const char *file, char **owned)
{
	*owned = NULL;
	if (file == NULL || file[0] == '/' || comp_dir == NULL || comp_dir[0] == '\0')
		return file;
	size_t n = strlen(comp_dir);
	*owned = mem_printf("%s%s%s", comp_dir, comp_dir[n - 1] == '/' ? "" : "/", file);
	return *owned;
}

/* Appends the ranges of every function defined under parent (namespaces and classes too). */
static void
symbolize_index_functions(Dwarf_Die *parent, symbolize_cu_t *cu)
{
	Dwarf_Die die;
	if (dwarf_child(parent, &die) != 0)
		return;
	do {
		int tag = dwarf_tag(&die);
		if (tag == DW_TAG_subprogram) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;
			while ((off = dwarf_ranges(&die, off, &base, &lo, &hi)) > 0) {
				mem_grow(&cu->funcs, &cu->capfuncs, cu->nfuncs + 1, sizeof(*cu->funcs));
				cu->funcs[cu->nfuncs++] = (symbolize_func_t){lo, hi, dwarf_dieoffset(&die)};
			}
		} else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
			   tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
			   tag == DW_TAG_module) {
			symbolize_index_functions(&die, cu);
		}
	} while (dwarf_siblingof(&die, &die) == 0);
}

static int
symbolize_compare_funcs(const void *a, const void *b)
{
	const symbolize_func_t *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The function index of the CU whose DIE is cudie, built on first use. */
static symbolize_cu_t *
symbolize_get_cu(symbolize_module_t *sm, Dwarf_Die *cudie)
{
	Dwarf_Off off = dwarf_dieoffset(cudie);
	for (size_t i = 0; i < sm->ncus; i++)
		if (sm->cus[i].offset == off)
			return &sm->cus[i];
	mem_grow(&sm->cus, &sm->capcus, sm->ncus + 1, sizeof(*sm->cus));
	symbolize_cu_t *cu = &sm->cus[sm->ncus++];
	memset(cu, 0, sizeof(*cu));
	cu->offset = off;
	symbolize_index_functions(cudie, cu);
	if (cu->nfuncs > 1)
		qsort(cu->funcs, cu->nfuncs, sizeof(*cu->funcs), symbolize_compare_funcs);
	return cu;
}

/*
 * Finds, among the children of parent (looking through lexical blocks), the
 * inlined subroutine whose ranges hold pc.
 */
static bool
symbolize_find_inlined(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *out)
{
	Dwarf_Die die;
	if (dwarf_child(parent, &die) != 0)
		return false;
	do {
		int tag = dwarf_tag(&die);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_lexical_block)
			continue;
		if (dwarf_haspc(&die, pc) != 1)
			continue;
		if (tag == DW_TAG_inlined_subroutine) {
			*out = die;
			return true;
		}
		if (symbolize_find_inlined(&die, pc, out))
			return true;
	} while (dwarf_siblingof(&die, &die) == 0);
	return false;
}

/*
 * The chain of DIEs at pc, innermost first: inlined subroutines, then the
 * subprogram they are all inlined into.  Returns the count (0: none).
 */
static size_t
symbolize_find_chain(Dwarf *dwarf, symbolize_cu_t *cu, Dwarf_Addr pc, Dwarf_Die **chain,
		     size_t *cap)
{
	size_t lo = 0, hi = cu->nfuncs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cu->funcs[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || pc >= cu->funcs[lo - 1].hi)
		return 0;
	size_t n = 0;
	mem_grow(chain, cap, 1, sizeof(**chain));
	if (dwarf_offdie(dwarf, cu->funcs[lo - 1].die, &(*chain)[0]) == NULL)
		return 0;
	n = 1;
	for (;;) {
		mem_grow(chain, cap, n + 1, sizeof(**chain));
		if (!symbolize_find_inlined(&(*chain)[n - 1], pc, &(*chain)[n]))
			break;
		n++;
	}
	/* Innermost first. */
	for (size_t i = 0; i < n / 2; i++) {
		Dwarf_Die t = (*chain)[i];
		(*chain)[i] = (*chain)[n - 1 - i];
		(*chain)[n - 1 - i] = t;
	}
	return n;
}

/* Appends the DWARF inline chain at addr; returns false when there is none. */
static bool
symbolize_add_dwarf_frames(profile_t *p, symbolize_frames_t *f, Dwfl_Module *mod,
			   symbolize_module_t *sm, GElf_Addr addr)
{
	Dwarf_Addr bias;
	Dwarf_Die *cudie = dwfl_module_addrdie(mod, addr, &bias);
	if (cudie == NULL)
		return false;
	Dwarf *dwarf = dwfl_module_getdwarf(mod, &bias);
	if (dwarf == NULL)
		return false;
	Dwarf_Attribute attr;
	const char *comp_dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &attr));
	const char *file = NULL;
	int lineno = 0;
	Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
	if (line != NULL)
		file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
	char *owned;
	file = symbolize_source_path(comp_dir, file, &owned);
	size_t nchain = symbolize_find_chain(dwarf, symbolize_get_cu(sm, cudie), addr - bias,
					     &sm->chain, &sm->capchain);
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	size_t before = f->n;
	for (size_t i = 0; i < nchain; i++) {
		Dwarf_Die *die = &sm->chain[i];
		char *name = symbolize_die_name(die);
		symbolize_push(p, f, name, file, lineno > 0 ? (uint32_t)lineno : 0);
		free(name);
		free(owned);
		owned = NULL;
		file = NULL;
		lineno = 0;
		if (i + 1 == nchain)
			break;
		/* The caller's line is this inlined call's site. */
		Dwarf_Word cfile = 0, cline = 0;
		if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &cfile) == 0 &&
		    (files != NULL || dwarf_getsrcfiles(cudie, &files, &nfiles) == 0) && cfile < nfiles)
			file = symbolize_source_path(comp_dir, dwarf_filesrc(files, cfile, NULL, NULL),
						     &owned);
		if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &cline) == 0 &&
		    cline <= INT32_MAX)
			lineno = (int)cline;
	}
	bool found = f->n > before;
	if (!found && file != NULL) {
		symbolize_push(p, f, NULL, file, lineno > 0 ? (uint32_t)lineno : 0);
		found = true;
	}
	free(owned);
	return found;
}

static void
symbolize_location(profile_t *p, symbolize_session_t *ss, uint32_t id, symbolize_frames_t *f)
{
	profile_location_t *l = &p->locs[id];
	f->n = 0;
	Dwfl_Module *mod = ss->dwfl != NULL ? dwfl_addrmodule(ss->dwfl, l->addr) : NULL;
	if (mod == NULL)
		return;
	void **userdata;
	dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	symbolize_module_t *sm = *userdata;
	bool dwarf = symbolize_add_dwarf_frames(p, f, mod, sm, l->addr);
	if (!dwarf || f->lines[f->n - 1].func == 0) {
		GElf_Off off;
		GElf_Sym sym;
		const char *name = dwfl_module_addrinfo(mod, l->addr, &off, &sym, NULL, NULL, NULL);
		if (name == NULL)
			name = symbolize_find_preceding(mod, sm, l->addr);
		if (name != NULL) {
			char *dem = symname_demangle(name);
			if (dwarf)
				f->lines[f->n - 1].func = strtab_intern_cstr(&p->strs, dem);
			else
				symbolize_push(p, f, dem, NULL, 0);
			free(dem);
		}
	}
	if (f->n > 0) {
		profile_set_lines(p, id, f->lines, (uint32_t)f->n);
		l = &p->locs[id];
	}
	if (sm->allocator)
		l->trim = PROFILE_TRIM_MAPPING;
}

/* Names from a symbolized profile: outermost first there, innermost first here. */
static void
symbolize_location_from_names(profile_t *p, uint32_t id, symbolize_frames_t *f)
{
	const profile_location_t *l = &p->locs[id];
	const profile_symbol_t *sym = profile_find_symbol(p, l->source, l->addr);
	f->n = 0;
	if (sym == NULL)
		return;
	for (uint32_t i = sym->n; i > 0; i--) {
		uint32_t func = p->symnames[sym->first + i - 1];
		mem_grow(&f->lines, &f->cap, f->n + 1, sizeof(*f->lines));
		/* "??" is how an unknown function is written. */
		f->lines[f->n++] = (profile_line_t){
			.func = strcmp(strtab_get(&p->strs, func), "??") == 0 ? 0 : func};
	}
	profile_set_lines(p, id, f->lines, (uint32_t)f->n);
}

/* Whether line i of l is in an allocator entry point. */
static bool
symbolize_is_allocator_line(const profile_t *p, const profile_location_t *l, uint32_t i)
{
	uint32_t func = p->lines[l->first_line + i].func;
	if (func == 0)
		return false;
	char *short_name = symname_shorten(strtab_get(&p->strs, func));
	bool alloc = symname_is_allocator(short_name);
	free(short_name);
	return alloc;
}

static void
symbolize_mark_entry_points(profile_t *p)
{
	for (size_t id = 0; id < p->nlocs; id++) {
		profile_location_t *l = &p->locs[id];
		if (l->nlines == 0)
			continue;
		/* Outermost line decides (docs/compat.md "Allocator frames"); inlines counted. */
		uint32_t n = 0;
		while (n < l->nlines && symbolize_is_allocator_line(p, l, n))
			n++;
		if (n == l->nlines || symbolize_is_allocator_line(p, l, l->nlines - 1))
			l->trim = PROFILE_TRIM_NAME;
		else
			l->alloc_lines = n;
	}
}

void
symbolize_profile(profile_t *p, const symbolize_options_t *o)
{
	/* Never reach out to debuginfod servers: symbolization stays local. */
	unsetenv("DEBUGINFOD_URLS");
	elf_version(EV_CURRENT);
	symbolize_frames_t f = {0};
	bool *done = mem_zalloc(p->nsources * sizeof(*done));
	for (uint32_t src = 0; src < p->nsources; src++) {
		if (done[src])
			continue;
		const profile_source_t *s = &p->sources[src];
		bool *group = mem_zalloc(p->nsources * sizeof(*group));
		for (uint32_t j = src; j < p->nsources; j++) {
			const profile_source_t *t = &p->sources[j];
			group[j] = !done[j] && t->nsyms == 0 && s->nsyms == 0 &&
				   t->maps_hash == s->maps_hash && t->nmaps == s->nmaps;
			done[j] = done[j] || group[j];
		}
		group[src] = done[src] = true;
		symbolize_session_t ss;
		if (s->nsyms == 0)
			symbolize_session_begin(&ss, p, src, o);
		for (size_t id = 0; id < p->nlocs; id++) {
			if (!group[p->locs[id].source])
				continue;
			if (s->nsyms != 0)
				symbolize_location_from_names(p, (uint32_t)id, &f);
			else
				symbolize_location(p, &ss, (uint32_t)id, &f);
		}
		if (s->nsyms == 0)
			symbolize_session_end(&ss);
		free(group);
	}
	free(done);
	free(f.lines);
	symbolize_mark_entry_points(p);
}
