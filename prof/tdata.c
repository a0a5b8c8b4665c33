/*
 * tdata.c — per-thread profiler data.  See tdata.h.
 */
#include <sys/prctl.h>

#include <errno.h>
#include <string.h>

#include "prof/prof.h"
#include "prof/state.h"
#include "prof/tdata.h"

mutex_t prof_tdatas_mtx;
struct prof_tdata *prof_tdatas;
static uint64_t prof_tdata_next_uid; /* under prof_tdatas_mtx */

void
prof_tdata_boot(void)
{
	mutex_init(&prof_tdatas_mtx, "prof_tdatas", MUTEX_RANK_PROF_TDATAS);
	mutex_register(&prof_tdatas_mtx, NULL);
}

struct prof_tdata *
prof_tdata_get(struct prof_tdata **tdatap)
{
	if (*tdatap != NULL)
		return *tdatap;
	struct prof_tdata *t = base_alloc(&prof_base, sizeof(*t), CACHELINE);
	if (t == NULL)
		return NULL;
	atomic_store_relaxed(&t->active, prof_thread_active_init_get());
	mutex_lock(&prof_tdatas_mtx);
	t->uid = prof_tdata_next_uid++;
	t->next = prof_tdatas;
	prof_tdatas = t;
	mutex_unlock(&prof_tdatas_mtx);
	*tdatap = t;
	return t;
}

static bool
prof_tdata_name_char_ok(char c)
{
	return (c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t';
}

int
prof_tdata_name_set(struct prof_tdata *tdata, const char *name)
{
	size_t len = 0;
	for (; name[len] != '\0'; len++) {
		if (!prof_tdata_name_char_ok(name[len]) || len + 1 >= PROF_THREAD_NAME_MAX)
			return EINVAL;
	}
	mutex_lock(&prof_tdatas_mtx);
	memcpy(tdata->name, name, len + 1);
	mutex_unlock(&prof_tdatas_mtx);
	return 0;
}

void
prof_tdata_name_from_system(struct prof_tdata *tdata)
{
	char name[16 + 1] = {0};
	if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0)
		return;
	mutex_lock(&prof_tdatas_mtx);
	memcpy(tdata->name, name, sizeof(name));
	mutex_unlock(&prof_tdatas_mtx);
}
