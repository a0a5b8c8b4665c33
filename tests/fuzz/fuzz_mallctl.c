/*
 * fuzz_mallctl.c — fuzzing of mallctl(), mallctlnametomib() and
 * mallctlbymib(): names, lengths and values (docs/design.md, "Fuzzing").
 *
 * The input is a sequence of calls.  A call's name is a name documented in
 * man/strata.3's MALLCTL NAMESPACE (read with tests/man_util.h) with its
 * <i> and <j> made an arena or bin index, 4096, 4097 or any number; or
 * such a name mutated (cut, a byte changed, a component added); or raw
 * bytes.  The call reads, writes, both or neither, with the documented
 * length or another one, and NULL oldp, oldlenp or newp in any mix.
 * Checked (docs/compat.md, "mallctl return codes"; man/strata.3):
 *   - the result is 0, ENOENT, EINVAL, EPERM, EFAULT or EAGAIN, and never
 *     a crash;
 *   - a name that matches no documented one is ENOENT;
 *   - writing a read-only node, reading a write-only node, and reading or
 *     writing an action fail;
 *   - a successful read with a scalar type reports its size in *oldlenp;
 *     no call writes past *oldlenp bytes of oldp, nor makes *oldlenp grow;
 *   - mallctlbymib gives the same result as mallctl for a read of the same
 *     whole name, and a MIB with a component changed to any number gives a
 *     listed result.
 *
 * Deny list, the calls that are not made (each would end the run or make
 * it depend on more than its input):
 *   - arena.<i>.destroy and arena.<i>.reset: they free every block of the
 *     arena, including the caches' blocks of other threads (jemalloc: the
 *     program must not use the arena's memory any more);
 *   - writes of a function pointer or hook table (arena.<i>.extent_hooks,
 *     the new values of arenas.create and experimental.arenas_create_ext,
 *     experimental.hooks.*, experimental.prof_recent.alloc_dump): strata
 *     calls what it is given;
 *   - background_thread and max_background_threads writes: threads that
 *     purge on their own clock;
 *   - prof.dump and prof.recent.dump (they write a file anywhere the value
 *     names) and prof.reset;
 *   - arenas.create and experimental.arenas_create_ext beyond 8 arenas, so
 *     that the arena count, and with it the time of a call, stays bounded
 *     (each arena maps its own metadata).
 * A pointer-typed value that is written is a pointer to a NUL-terminated
 * string from the input (or NULL); arenas.lookup is given NULL, a block
 * strata returned, or one it did not (from libc).
 */
#include <errno.h>

#include "fuzz/fuzz_util.h"
#include "man_util.h"

#define MAX_CALLS 32
#define NAME_MAX_LEN 200
#define BUF 64
#define CANARY 0xa5
#define ARENAS_CREATED_MAX 8

static man_entry_t entries[MAN_ENTRIES_MAX];
static size_t nentries;
static void *strata_block;
static void *libc_block;
static unsigned arenas_created;

/* ------------------------------------------------------------ names */

/* Whether name matches the documented pattern (<i> and <j>: digits). */
static bool
name_matches(const char *pattern, const char *name)
{
	while (*pattern != '\0') {
		if (pattern[0] == '<' && pattern[2] == '>') {
			if (*name < '0' || *name > '9')
				return false;
			while (*name >= '0' && *name <= '9')
				name++;
			pattern += 3;
		} else if (*pattern++ != *name++) {
			return false;
		}
	}
	return *name == '\0';
}

static const man_entry_t *
documented(const char *name)
{
	for (size_t i = 0; i < nentries; i++) {
		if (name_matches(entries[i].name, name))
			return &entries[i];
	}
	return NULL;
}

static unsigned
pick_index(fuzz_input_t *in)
{
	uint8_t k = fuzz_u8(in);
	switch (k % 8) {
	case 0:
		return MALLCTL_ARENAS_ALL;
	case 1:
		return MALLCTL_ARENAS_DESTROYED;
	case 2:
		return fuzz_u32(in);
	default:
		return k % 40;
	}
}

static void
pick_name(fuzz_input_t *in, char name[NAME_MAX_LEN])
{
	uint8_t how = fuzz_u8(in) % 8;
	if (how == 7) { /* raw bytes */
		size_t n = fuzz_u8(in) % 48, k = 0;
		while (k < n && !fuzz_done(in))
			name[k++] = (char)fuzz_u8(in);
		name[k] = '\0';
		return;
	}
	const man_entry_t *e = &entries[fuzz_u16(in) % nentries];
	unsigned i = pick_index(in), j = pick_index(in);
	man_instantiate(e->name, i, j, name, NAME_MAX_LEN - 16);
	size_t len = strlen(name);
	switch (how) {
	case 4: /* cut */
		name[fuzz_u8(in) % (len + 1)] = '\0';
		break;
	case 5: /* one byte changed */
		name[fuzz_u8(in) % len] = (char)fuzz_u8(in);
		break;
	case 6: { /* a component added */
		static const char *const tails[] = {".0", ".x", ".", "0", ".4096", ".purge"};
		strcat(name, tails[fuzz_u8(in) % 6]);
		break;
	}
	default:
		break;
	}
}

static size_t
name_components(const char *name)
{
	size_t n = 1;
	for (const char *p = name; *p != '\0'; p++)
		n += *p == '.';
	return n;
}

static bool
creates_arena(const man_entry_t *e)
{
	return strcmp(e->name, "arenas.create") == 0 ||
	       strcmp(e->name, "experimental.arenas_create_ext") == 0;
}

static bool
denied(const man_entry_t *e, bool writes)
{
	static const char *const never[] = {"arena.<i>.destroy", "arena.<i>.reset", "prof.dump",
	                                    "prof.recent.dump", "prof.reset"};
	static const char *const no_write[] = {"arena.<i>.extent_hooks", "arenas.create",
	                                       "experimental.arenas_create_ext",
	                                       "background_thread", "max_background_threads"};
	for (size_t k = 0; k < sizeof(never) / sizeof(never[0]); k++) {
		if (strcmp(e->name, never[k]) == 0)
			return true;
	}
	if (!writes)
		return false;
	for (size_t k = 0; k < sizeof(no_write) / sizeof(no_write[0]); k++) {
		if (strcmp(e->name, no_write[k]) == 0)
			return true;
	}
	return strstr(e->type, "(*") != NULL || strstr(e->type, "hooks") != NULL ||
	       strncmp(e->name, "experimental.hooks.", 19) == 0;
}

/* ------------------------------------------------------------ one call */

static bool
result_listed(int err)
{
	return err == 0 || err == ENOENT || err == EINVAL || err == EPERM || err == EFAULT ||
	       err == EAGAIN;
}

static size_t
pick_len(fuzz_input_t *in, size_t documented_size)
{
	static const size_t lens[] = {0, 1, 2, 4, 8, 16, 3, BUF};
	uint8_t k = fuzz_u8(in);
	if (k < 128 && documented_size <= BUF)
		return documented_size;
	return lens[k % 8];
}

static void
call_one(fuzz_input_t *in)
{
	char name[NAME_MAX_LEN];
	pick_name(in, name);
	const man_entry_t *e = documented(name);
	size_t size = e != NULL ? man_type_size(e->type) : SIZE_MAX;
	if (size == SIZE_MAX)
		size = 8;
	uint8_t mode = fuzz_u8(in);
	bool read = mode & 1, write = mode & 2;
	if (e != NULL && denied(e, write))
		return;
	if (e != NULL && creates_arena(e) && arenas_created++ >= ARENAS_CREATED_MAX)
		return;

	/* oldp, oldlenp: the buffer is surrounded by canaries. */
	unsigned char old[BUF + 16] __attribute__((aligned(16)));
	memset(old, CANARY, sizeof(old));
	size_t oldlen = pick_len(in, size), oldlen_given = oldlen;
	void *oldp = read ? old : (mode & 4 ? old : NULL);
	size_t *oldlenp = read ? (mode & 8 ? NULL : &oldlen) : (mode & 4 ? NULL : &oldlen);

	/* newp, newlen: bytes from the input, or a string pointer. */
	static char str[64];
	size_t slen = fuzz_u8(in) % sizeof(str);
	for (size_t k = 0; k < slen; k++)
		str[k] = (char)fuzz_u8(in);
	str[slen] = '\0';
	union {
		unsigned char bytes[BUF];
		const void *ptr;
	} new;
	for (size_t k = 0; k < BUF; k++)
		new.bytes[k] = fuzz_u8(in);
	if (e != NULL && strchr(e->type, '*') != NULL)
		new.ptr = mode & 16 ? NULL : str;
	if (e != NULL && strcmp(e->name, "arenas.lookup") == 0) {
		const void *ptrs[] = {NULL, strata_block, libc_block};
		new.ptr = ptrs[fuzz_u8(in) % 3];
	}
	size_t newlen = write ? pick_len(in, size) : (mode & 32 ? 8 : 0);
	void *newp = write ? (mode & 64 ? NULL : &new) : NULL;

	int err = mallctl(name, oldp, oldlenp, newp, newlen);
	FUZZ_REQUIRE(result_listed(err), "mallctl(\"%s\") = %d", name, err);
	for (size_t k = oldlen_given; k < sizeof(old); k++)
		FUZZ_REQUIRE(old[k] == CANARY, "mallctl(\"%s\") wrote byte %zu of oldp, oldlen %zu",
		             name, k, oldlen_given);
	FUZZ_REQUIRE(oldlen <= oldlen_given, "mallctl(\"%s\"): oldlen %zu -> %zu", name,
	             oldlen_given, oldlen);
	if (e == NULL) {
		FUZZ_REQUIRE(err == ENOENT, "undocumented name \"%s\": %d", name, err);
		return;
	}
	bool reads = oldp != NULL || oldlenp != NULL, writes = newp != NULL || newlen != 0;
	if ((e->access[0] == 'r' && e->access[1] == '-' && writes) ||
	    (e->access[0] == '-' && reads) || (strcmp(e->access, "--") == 0 && writes))
		FUZZ_REQUIRE(err != 0, "mallctl(\"%s\", %s) succeeded (%s)", name,
		             reads ? (writes ? "read+write" : "read") : "write", e->access);
	size_t scalar = man_scalar_size(e->type);
	if (err == 0 && oldp != NULL && oldlenp != NULL && scalar != SIZE_MAX && scalar != 0)
		FUZZ_REQUIRE(oldlen == scalar, "mallctl(\"%s\") read %zu bytes of a %s", name,
		             oldlen, e->type);
	if (err == 0 && strcmp(e->name, "tcache.create") == 0 && oldp != NULL &&
	    oldlen == sizeof(unsigned)) {
		unsigned id;
		memcpy(&id, old, sizeof(id));
		FUZZ_REQUIRE(mallctl("tcache.destroy", NULL, NULL, &id, sizeof(id)) == 0,
		             "tcache.destroy(%u)", id);
	}

	/* The same call through a MIB, read-only (a write would act twice). */
	size_t mib[8], miblen = 1 + fuzz_u8(in) % 8;
	int terr = mallctlnametomib(name, mib, &miblen);
	FUZZ_REQUIRE(result_listed(terr), "mallctlnametomib(\"%s\") = %d", name, terr);
	if (terr != 0 || writes || strcmp(e->name, "tcache.create") == 0 || creates_arena(e))
		return;
	size_t len1 = oldlen_given;
	int berr = mallctlbymib(mib, miblen, oldp, oldlenp != NULL ? &len1 : NULL, NULL, 0);
	if (miblen == name_components(name))
		FUZZ_REQUIRE(berr == err, "mallctlbymib(\"%s\") = %d, mallctl %d", name, berr, err);
	FUZZ_REQUIRE(result_listed(berr), "mallctlbymib(\"%s\") = %d", name, berr);
	mib[fuzz_u8(in) % miblen] = fuzz_u32(in);
	len1 = oldlen_given;
	berr = mallctlbymib(mib, miblen, oldp, oldlenp != NULL ? &len1 : NULL, NULL, 0);
	FUZZ_REQUIRE(result_listed(berr), "mallctlbymib(changed \"%s\") = %d", name, berr);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	nentries = man_read_mallctl_names(entries, MAN_ENTRIES_MAX);
	FUZZ_REQUIRE(nentries > 100, "only %zu names in " MAN_PAGE, nentries);
	strata_block = malloc(100);
	libc_block = strdup("not strata's");
	FUZZ_REQUIRE(strata_block != NULL && libc_block != NULL, "no memory");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_t in = {data, size};
	for (unsigned n = 0; n < MAX_CALLS && !fuzz_done(&in); n++)
		call_one(&in);
	return 0;
}
