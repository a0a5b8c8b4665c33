/*
 * trigger.c — the dumper thread and its triggers.  See trigger.h.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "msg.h"
#include "mutex.h"
#include "prof/dump.h"
#include "prof/leak.h"
#include "prof/prof.h"
#include "prof/recent_json.h"
#include "prof/trigger.h"

enum {
	PROF_TRIGGER_SIGNAL = 1u << 0,
	PROF_TRIGGER_INTERVAL = 1u << 1,
	PROF_TRIGGER_GDUMP = 1u << 2,
};

static _Atomic uint32_t prof_trigger_pending;
/* Held while one thread serves a batch of requests (prof_trigger_serve):
 * exit waits for the dumper's batch before its final dump and the end of
 * dumps, so no request taken before exit is cancelled by it.  Not taken
 * by fork: a child re-initializes it. */
static mutex_t prof_trigger_serve_mtx;
static __thread bool prof_trigger_in_dumper;
static _Atomic bool prof_trigger_dumper_running;
static _Atomic bool prof_trigger_started; /* prof_start ran: threads may be made */
static uint64_t prof_trigger_interval_bytes; /* 0: no interval dumps; set at boot */
static _Atomic uint64_t prof_trigger_interval_accum;
static _Atomic bool prof_trigger_gdump_on;
static _Atomic size_t prof_trigger_gdump_high;     /* highest active bytes seen */
static _Atomic uint64_t prof_trigger_gdump_last_ns; /* time of the last high-water check */

static void
prof_trigger_request(uint32_t bits)
{
	atomic_fetch_or_explicit(&prof_trigger_pending, bits, memory_order_release);
	syscall(SYS_futex, &prof_trigger_pending, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL,
	        NULL, 0);
}

static void
prof_trigger_on_signal(int sig)
{
	(void)sig;
	int saved_errno = errno;
	prof_trigger_request(PROF_TRIGGER_SIGNAL);
	errno = saved_errno;
}

static const int prof_trigger_signals[] = {
	[CONF_PROF_SIGNAL_NONE] = 0,      [CONF_PROF_SIGNAL_HUP] = SIGHUP,
	[CONF_PROF_SIGNAL_USR1] = SIGUSR1, [CONF_PROF_SIGNAL_USR2] = SIGUSR2,
	[CONF_PROF_SIGNAL_URG] = SIGURG,   [CONF_PROF_SIGNAL_PWR] = SIGPWR,
	[CONF_PROF_SIGNAL_WINCH] = SIGWINCH,
};

int
prof_trigger_boot(void)
{
	mutex_init(&prof_trigger_serve_mtx, "prof_trigger", MUTEX_RANK_PROF_TRIGGER);
	if (opt_lg_prof_interval >= 0)
		prof_trigger_interval_bytes = (uint64_t)1 << opt_lg_prof_interval;
	atomic_store_relaxed(&prof_trigger_gdump_on, opt_prof_gdump);
	int sig = prof_trigger_signals[opt_prof_signal];
	if (sig == 0)
		return 0;
	struct sigaction sa = {0};
	sa.sa_handler = prof_trigger_on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL) == 0 ? 0 : errno;
}

static bool
prof_trigger_dumper_needed(void)
{
	return opt_prof_signal != CONF_PROF_SIGNAL_NONE || prof_trigger_interval_bytes != 0 ||
	       atomic_load_relaxed(&prof_trigger_gdump_on);
}

/* After the signal's heap dump to heap_path (<stem>.heap[.gz]), the ring of
 * recent allocations, when it is on, to <stem>.recent.json[.gz]. */
static void
prof_trigger_dump_recent_beside(const char *heap_path)
{
	if (prof_recent_alloc_max_get() == 0)
		return;
	const char *suffix = opt_prof_dump_compress ? ".recent.json.gz" : ".recent.json";
	char path[PROF_DUMP_PATH_MAX + 16];
	msg_format(path, sizeof(path), "%.*s%s", (int)prof_dump_auto_stem(heap_path), heap_path,
	           suffix);
	int err = prof_recent_json_dump_file(path, opt_prof_dump_compress);
	if (err != 0 && err != ECANCELED)
		msg_error("failed to write recent allocations \"%s\": %s\n", path,
		          strerrordesc_np(err));
}

/* Takes the pending requests and writes one dump per kind; a failure is
 * reported in one line.  false when nothing was pending.  Serve mutex
 * held. */
static bool
prof_trigger_serve_locked(void)
{
	uint32_t bits = atomic_exchange_explicit(&prof_trigger_pending, 0, memory_order_acquire);
	char path[PROF_DUMP_PATH_MAX];
	if ((bits & PROF_TRIGGER_SIGNAL) && prof_dump_auto(PROF_DUMP_MANUAL, false, path) == 0)
		prof_trigger_dump_recent_beside(path);
	if (bits & PROF_TRIGGER_INTERVAL)
		prof_dump_auto(PROF_DUMP_INTERVAL, false, path);
	if (bits & PROF_TRIGGER_GDUMP)
		prof_dump_auto(PROF_DUMP_GDUMP, false, path);
	return bits != 0;
}

static bool
prof_trigger_serve(void)
{
	mutex_lock(&prof_trigger_serve_mtx);
	bool served = prof_trigger_serve_locked();
	mutex_unlock(&prof_trigger_serve_mtx);
	return served;
}

static void *
prof_trigger_dumper_main(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	prof_trigger_in_dumper = true;
	for (;;) {
		if (!prof_trigger_serve())
			syscall(SYS_futex, &prof_trigger_pending, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0,
			        NULL, NULL, 0);
	}
	return NULL;
}

void
prof_trigger_ensure_dumper(void)
{
	if (!atomic_load_relaxed(&prof_trigger_started) ||
	    atomic_load_relaxed(&prof_trigger_dumper_running) || !prof_trigger_dumper_needed())
		return;
	bool expected = false;
	if (!atomic_compare_exchange_strong(&prof_trigger_dumper_running, &expected, true))
		return;
	pthread_attr_t attr;
	pthread_t thread;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, prof_trigger_dumper_main, NULL) != 0)
		atomic_store_relaxed(&prof_trigger_dumper_running, false);
	else
		pthread_setname_np(thread, "strata-dumper");
	pthread_attr_destroy(&attr);
}

/* The rest of the dumper's batch, what is pending, the final dump, then no
 * more dumps, then the leak report, which may end the process (leak.h).
 * From the dumper thread itself (a dump hook that exits) the batch it is
 * in is not waited for. */
void
prof_exit(void)
{
	if (!opt_prof)
		return;
	bool wait = !prof_trigger_in_dumper;
	if (wait)
		mutex_lock(&prof_trigger_serve_mtx);
	prof_trigger_serve_locked();
	char path[PROF_DUMP_PATH_MAX] = "";
	int err = ENOENT;
	if (opt_prof_final)
		err = prof_dump_auto(PROF_DUMP_FINAL, false, path);
	prof_dump_shutdown();
	prof_recent_json_shutdown();
	if (wait)
		mutex_unlock(&prof_trigger_serve_mtx);
	if (opt_prof_leak)
		prof_leak_report(path, err);
}

void
prof_trigger_start(void)
{
	atomic_store_relaxed(&prof_trigger_started, true);
	prof_trigger_ensure_dumper();
	if (opt_prof_leak)
		prof_leak_start();
}

void
prof_trigger_interval_add(uint64_t bytes)
{
	if (prof_trigger_interval_bytes == 0)
		return;
	uint64_t before = atomic_add_relaxed(&prof_trigger_interval_accum, bytes);
	if (before + bytes < prof_trigger_interval_bytes)
		return;
	/* One request per interval crossed; the accumulator keeps the rest. */
	atomic_sub_relaxed(&prof_trigger_interval_accum, prof_trigger_interval_bytes);
	prof_trigger_request(PROF_TRIGGER_INTERVAL);
}

uint64_t
prof_interval(void)
{
	return prof_trigger_interval_bytes;
}

/* At most one check per prof_gdump_min_interval_ms, process-wide: the
 * thread that wins the exchange makes it. */
bool
prof_gdump_wanted(void)
{
	if (!opt_prof || !atomic_load_relaxed(&prof_trigger_gdump_on))
		return false;
	uint64_t last = atomic_load_relaxed(&prof_trigger_gdump_last_ns);
	uint64_t now = clock_coarse_ns();
	if (now - last < opt_prof_gdump_min_interval_ms * 1000000)
		return false;
	return atomic_compare_exchange_strong(&prof_trigger_gdump_last_ns, &last, now);
}

void
prof_gdump_observe(size_t active_bytes)
{
	size_t high = atomic_load_relaxed(&prof_trigger_gdump_high);
	do {
		if (active_bytes <= high)
			return;
	} while (!atomic_compare_exchange_weak(&prof_trigger_gdump_high, &high, active_bytes));
	prof_trigger_request(PROF_TRIGGER_GDUMP);
}

void
prof_gdump_set(bool on)
{
	atomic_store_relaxed(&prof_trigger_gdump_on, on);
}

bool
prof_gdump_get(void)
{
	return atomic_load_relaxed(&prof_trigger_gdump_on);
}

/* What was pending at fork was asked of the parent, which serves it: a
 * child that served it too wrote a dump of itself under the parent's
 * request, and one that exec'd or _exit'd meanwhile cut it short. */
void
prof_trigger_postfork_child(void)
{
	atomic_store_relaxed(&prof_trigger_pending, 0);
	mutex_init(&prof_trigger_serve_mtx, "prof_trigger", MUTEX_RANK_PROF_TRIGGER);
	atomic_store_relaxed(&prof_trigger_dumper_running, false);
	prof_trigger_ensure_dumper();
}
