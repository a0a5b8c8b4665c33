/*
 * hpage.c — the huge-page mode, range tracking, and what the kernel says
 * about huge pages (smaps, vmstat).  See hpage.h.
 *
 * Reading /proc files allocates nothing: smaps is read through a fixed
 * buffer a line at a time, vmstat whole into one.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "hpage.h"
#include "msg.h"
#include "os.h"

hpage_mode_t hpage_mode;
size_t hpage_dissolve_pages;
size_t hpage_hugify_pages;
uint64_t hpage_hugify_delay_ns;
/* The kernel's THP mode: the bracketed word of its enabled file ("always
 * [madvise] never"); false when THP is missing or the mode is never. */
static bool
hpage_kernel_allows(void)
{
	char buf[128];
	if (os_read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) < 0)
		return false;
	const char *open = strchr(buf, '[');
	return open != NULL && strncmp(open + 1, "never]", 6) != 0;
}

void
hpage_boot(void)
{
	hpage_dissolve_pages = opt_thp_dissolve_threshold >> LG_PAGE;
	hpage_hugify_pages = opt_hpa_hugification_threshold >> LG_PAGE;
	hpage_hugify_delay_ns = opt_hpa_hugify_delay_ms > UINT64_MAX / 1000000u
	                            ? UINT64_MAX
	                            : opt_hpa_hugify_delay_ms * 1000000u;
	/* The kernel's mode matters to thp:auto and to huge metadata only:
	 * other settings read no file at start-up. */
	bool wanted = opt_thp == CONF_THP_AUTO ||
	              (opt_thp != CONF_THP_NEVER && opt_metadata_thp != CONF_METADATA_THP_DISABLED);
	bool kernel = wanted && hpage_kernel_allows();
	base_thp = !kernel || opt_thp == CONF_THP_NEVER        ? BASE_THP_NONE
	           : opt_metadata_thp == CONF_METADATA_THP_AUTO   ? BASE_THP_AUTO
	           : opt_metadata_thp == CONF_METADATA_THP_ALWAYS ? BASE_THP_ALWAYS
	                                                          : BASE_THP_NONE;
	switch (opt_thp) {
	case CONF_THP_ALWAYS:
		hpage_mode = HPAGE_ALWAYS;
		break;
	case CONF_THP_NEVER:
		hpage_mode = HPAGE_NEVER;
		break;
	case CONF_THP_AUTO:
		hpage_mode = kernel ? HPAGE_POLICY : HPAGE_OFF;
		break;
	default:
		hpage_mode = HPAGE_OFF;
	}
}

void
hpage_init(hpage_t *h)
{
	atomic_store_relaxed(&h->blocks, NULL);
	atomic_store_relaxed(&h->nqueued, 0);
	h->counters = (hpage_counters_t){0};
}

int
hpage_map(hpage_t *h, base_t *base, void *addr, size_t size)
{
	if (hpage_mode == HPAGE_NEVER)
		os_advise_huge(addr, size, OS_HUGE_FORBID);
	else if (hpage_mode != HPAGE_OFF)
		os_advise_huge(addr, size, OS_HUGE_ADVISE);
	/* Without retain, purged space is unmapped and mapped again: records
	 * of mappings that come and go would pile up, so nothing is tracked
	 * (and the policy has no ranges to act on). */
	if (!opt_retain)
		return 0;
	size_t n = size >> LG_HUGEPAGE;
	hpage_block_t *b =
	    base_alloc(base, sizeof(*b) + n * sizeof(hpage_range_t), _Alignof(hpage_block_t));
	if (b == NULL)
		return ENOMEM;
	b->addr = addr;
	b->nranges = n;
	for (size_t i = 0; i < n; i++)
		b->ranges[i].huge = hpage_mode != HPAGE_NEVER;
	hpage_block_t *head = atomic_load_relaxed(&h->blocks);
	do {
		b->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&h->blocks, &head, b, memory_order_release,
	                                                memory_order_relaxed));
	return 0;
}

hpage_range_t *
hpage_range_of(hpage_t *h, const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	for (hpage_block_t *b = atomic_load_acquire(&h->blocks); b != NULL; b = b->next) {
		uintptr_t lo = (uintptr_t)b->addr;
		if (a - lo < (b->nranges << LG_HUGEPAGE))
			return &b->ranges[(a - lo) >> LG_HUGEPAGE];
	}
	return NULL;
}

void
hpage_foreach(hpage_t *h, void (*fn)(hpage_range_t *r, char *base, void *arg), void *arg)
{
	for (hpage_block_t *b = atomic_load_acquire(&h->blocks); b != NULL; b = b->next) {
		for (size_t i = 0; i < b->nranges; i++)
			fn(&b->ranges[i], b->addr + (i << LG_HUGEPAGE), arg);
	}
}

size_t
hpage_pick(hpage_t *h, bool (*pick)(hpage_range_t *r, void *arg), void *arg, char **out,
           size_t max)
{
	size_t n = 0;
	for (hpage_block_t *b = atomic_load_acquire(&h->blocks); b != NULL; b = b->next) {
		for (size_t i = 0; i < b->nranges && n < max; i++) {
			if (pick(&b->ranges[i], arg))
				out[n++] = b->addr + (i << LG_HUGEPAGE);
		}
	}
	return n;
}

size_t
hpage_overlap(hpage_t *h, uintptr_t lo, uintptr_t hi)
{
	size_t bytes = 0;
	for (hpage_block_t *b = atomic_load_acquire(&h->blocks); b != NULL; b = b->next) {
		uintptr_t blo = (uintptr_t)b->addr, bhi = blo + (b->nranges << LG_HUGEPAGE);
		uintptr_t from = lo > blo ? lo : blo, to = hi < bhi ? hi : bhi;
		if (from < to)
			bytes += to - from;
	}
	return bytes;
}

/* A hexadecimal number at *s, advancing *s past it. */
static uintptr_t
hpage_parse_hex(const char **s)
{
	uintptr_t v = 0;
	for (;; (*s)++) {
		char c = **s;
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		                                    : 16u;
		if (d == 16)
			return v;
		v = v * 16 + d;
	}
}

/* The decimal number after the field name at s ("AnonHugePages:   2048 kB"). */
static uint64_t
hpage_parse_field(const char *s)
{
	while (*s != '\0' && (*s < '0' || *s > '9'))
		s++;
	uint64_t v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

/* One line of smaps: a mapping's header ("lo-hi perms ...") or a field. */
typedef struct hpage_smaps {
	uintptr_t lo, hi;
	void (*vma)(uintptr_t lo, uintptr_t hi, size_t anon_huge, void *arg);
	void *arg;
} hpage_smaps_t;

static void
hpage_smaps_line(hpage_smaps_t *st, const char *line)
{
	static const char field[] = "AnonHugePages:";
	if (strncmp(line, field, sizeof(field) - 1) == 0) {
		uint64_t kb = hpage_parse_field(line + sizeof(field) - 1);
		if (kb != 0)
			st->vma(st->lo, st->hi, (size_t)kb << 10, st->arg);
		return;
	}
	const char *s = line;
	uintptr_t lo = hpage_parse_hex(&s);
	if (*s != '-' || s == line)
		return;
	s++;
	const char *hi_start = s;
	uintptr_t hi = hpage_parse_hex(&s);
	if (*s == ' ' && s != hi_start) {
		st->lo = lo;
		st->hi = hi;
	}
}

int
hpage_smaps_scan(void (*vma)(uintptr_t lo, uintptr_t hi, size_t anon_huge, void *arg), void *arg)
{
	int saved_errno = errno;
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = saved_errno;
		return -1;
	}
	hpage_smaps_t st = {.vma = vma, .arg = arg};
	char buf[4096];
	size_t have = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			hpage_smaps_line(&st, line);
			line = nl + 1;
		}
		size_t rest = have - (size_t)(line - buf);
		if (n == 0)
			break;
		if (rest == sizeof(buf) - 1)
			rest = 0; /* a line longer than the buffer (a path): dropped */
		memmove(buf, line, rest);
		have = rest;
	}
	close(fd);
	errno = saved_errno;
	return rc;
}

uint64_t
hpage_kernel_fallbacks(void)
{
	static const char *const names[] = {"thp_fault_fallback ", "thp_collapse_alloc_failed "};
	char buf[16384];
	if (os_read_file("/proc/vmstat", buf, sizeof(buf)) < 0)
		return 0;
	uint64_t sum = 0;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *at = strstr(buf, names[i]);
		if (at != NULL)
			sum += hpage_parse_field(at + strlen(names[i]));
	}
	return sum;
}

void
hpage_warn_refused(int err)
{
	static _Atomic bool warned;
	if (atomic_exchange_explicit(&warned, true, memory_order_relaxed))
		return;
	msg_error("the kernel refused a huge page (MADV_COLLAPSE: errno %d, %llu THP "
	          "fallbacks system-wide); the heap runs on 4 KiB pages where it must\n",
	          err, (unsigned long long)hpage_kernel_fallbacks());
}
