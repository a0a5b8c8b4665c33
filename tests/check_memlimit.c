/*
 * check_memlimit.c — the memory limit's source and reading (src/memlimit.c).
 *
 * Most tests build a fake tree in a temporary folder (/proc/self/cgroup,
 * /proc/self/mountinfo, /proc/self/statm and cgroup folders under the mount
 * points those name), point memlimit_test_root at it (docs/design.md,
 * "Injection"), boot the module and check the exact source, limit and
 * usage: cgroup v2 (memory.max, memory.high, "max", nested levels), v1
 * (a limit, the "unlimited" value), a hybrid system, missing and malformed
 * files, too-long lines and paths, the manual limit and off.
 *
 * One test forks while another thread is inside the boot (it must run again
 * in the child).  The last test uses the real host: it makes a child cgroup under the
 * process's cgroup v1 memory cgroup with a 256 MiB limit, moves a forked
 * child into it and reads the limit there.  Where the host does not let it
 * (no v1 memory hierarchy, or mkdir/write refused: EACCES, EROFS, ...) it
 * prints one note line and passes without asserting.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "background.h"
#include "cgroup_util.h"
#include "child_util.h"
#include "conf.h"
#include "memlimit.h"
#include "tree_util.h"

#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

static char root[256];

/* A fresh, empty fake root; opt_memory_limit back to auto. */
static void
setup(void)
{
	temp_dir_make(root, sizeof(root), "memlimit");
	memlimit_test_root = root;
	opt_memory_limit = CONF_LIMIT_AUTO;
}

static void
teardown(void)
{
	tree_remove(root);
}

/* Makes every folder above root/rel. */
static void
make_parents(const char *rel)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
		              strerror(errno));
		*p = '/';
	}
}

/* Writes root/rel (rel without its leading slash), making its folders. */
static void
put(const char *rel, const char *content)
{
	if (rel[0] == '/')
		rel++;
	make_parents(rel);
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(content, 1, strlen(content), f), strlen(content));
	ck_assert_int_eq(fclose(f), 0);
}

/* A mountinfo with the usual neighbours: /, a proc mount, and the line. */
static void
put_mountinfo(const char *lines)
{
	char text[16384];
	snprintf(text, sizeof(text),
	         "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	         "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
	         "%s",
	         lines);
	put("/proc/self/mountinfo", text);
}

#define V2_MOUNT                                                                          \
	"30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "  \
	"cgroup2 rw,nsdelegate,memory_recursiveprot\n"
#define V1_MOUNTS                                                                         \
	"31 22 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n" \
	"32 31 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:10 - cgroup cgroup "    \
	"rw,cpu,cpuacct\n"                                                                \
	"35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - "   \
	"cgroup cgroup rw,memory\n"

/* Boots and expects a limit. */
static void
expect_limit(const char *source, size_t limit, size_t usage)
{
	memlimit_boot();
	ck_assert_str_eq(memlimit_source(), source);
	size_t l = 1, u = 1;
	ck_assert_msg(memlimit_read(&l, &u), "no limit read (source %s)", source);
	ck_assert_uint_eq(l, limit);
	ck_assert_uint_eq(u, usage);
}

/* Boots and expects no limit, with nothing written. */
static void
expect_no_limit(const char *source)
{
	memlimit_boot();
	ck_assert_str_eq(memlimit_source(), source);
	size_t l = 7, u = 9;
	ck_assert(!memlimit_read(&l, &u));
	ck_assert(l == 7 && u == 9);
}

/* ------------------------------------------------------------ cgroup v2 */

static void
v2_tree(const char *cgroup_path)
{
	char line[4200];
	snprintf(line, sizeof(line), "0::%s\n", cgroup_path);
	put("/proc/self/cgroup", line);
	put_mountinfo(V2_MOUNT);
	/* The root cgroup's files: no memory.max, no memory.current. */
	put("/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
}

START_TEST(test_v2_max_only)
{
	v2_tree("/app.slice/app.service");
	put("/sys/fs/cgroup/app.slice/app.service/memory.max", "268435456\n");
	put("/sys/fs/cgroup/app.slice/app.service/memory.current", "1000\n");
	expect_limit("cgroup2", 256 * MiB, 1000);
	/* A limit changed while the process runs is read at the next call. */
	put("/sys/fs/cgroup/app.slice/app.service/memory.max", "134217728\n");
	size_t l, u;
	ck_assert(memlimit_read(&l, &u));
	ck_assert_uint_eq(l, 128 * MiB);
}
END_TEST

START_TEST(test_v2_high_below_max)
{
	v2_tree("/job");
	put("/sys/fs/cgroup/job/memory.max", "1073741824\n");
	put("/sys/fs/cgroup/job/memory.high", "536870912\n");
	put("/sys/fs/cgroup/job/memory.current", "4096\n");
	expect_limit("cgroup2", 512 * MiB, 4096);
	/* high alone (max is "max") limits too; a higher high changes nothing. */
	put("/sys/fs/cgroup/job/memory.max", "max\n");
	expect_limit("cgroup2", 512 * MiB, 4096);
	put("/sys/fs/cgroup/job/memory.max", "104857600\n");
	expect_limit("cgroup2", 100 * MiB, 4096);
}
END_TEST

START_TEST(test_v2_both_max)
{
	v2_tree("/job");
	put("/sys/fs/cgroup/job/memory.max", "max\n");
	put("/sys/fs/cgroup/job/memory.high", "max\n");
	put("/sys/fs/cgroup/job/memory.current", "123456\n");
	expect_no_limit("cgroup2");
	/* 2^62 or more counts as none, 2^62 - 1 is a limit. */
	put("/sys/fs/cgroup/job/memory.max", "4611686018427387904\n");
	expect_no_limit("cgroup2");
	put("/sys/fs/cgroup/job/memory.max", "4611686018427387903\n");
	expect_limit("cgroup2", ((size_t)1 << 62) - 1, 123456);
}
END_TEST

START_TEST(test_v2_parent_limits)
{
	v2_tree("/a/b/c");
	put("/sys/fs/cgroup/a/memory.max", "314572800\n"); /* 300 MiB */
	put("/sys/fs/cgroup/a/memory.current", "209715200\n");
	put("/sys/fs/cgroup/a/b/memory.max", "max\n");
	put("/sys/fs/cgroup/a/b/memory.current", "150000000\n");
	put("/sys/fs/cgroup/a/b/c/memory.max", "1073741824\n");
	put("/sys/fs/cgroup/a/b/c/memory.current", "104857600\n");
	/* The grandparent's smaller limit applies, with its usage. */
	expect_limit("cgroup2", 300 * MiB, 200 * MiB);
	/* A larger parent limit with less room left is the one near. */
	put("/sys/fs/cgroup/a/memory.max", "2147483648\n");
	put("/sys/fs/cgroup/a/memory.current", "2040109465\n");
	expect_limit("cgroup2", 2 * GiB, 2040109465);
	/* With room to spare above, the process's own limit. */
	put("/sys/fs/cgroup/a/memory.current", "209715200\n");
	expect_limit("cgroup2", 1 * GiB, 100 * MiB);
	/* Usage over a limit counts as no room (memory.high can be passed). */
	put("/sys/fs/cgroup/a/b/memory.high", "104857600\n");
	expect_limit("cgroup2", 100 * MiB, 150000000);
}
END_TEST

START_TEST(test_v2_without_memory_controller)
{
	/* No memory.current anywhere: the memory controller is not on. */
	v2_tree("/job");
	put("/sys/fs/cgroup/job/cgroup.procs", "1\n");
	expect_no_limit("none");
	/* The process in the root cgroup: nothing can limit it. */
	v2_tree("/");
	expect_no_limit("none");
}
END_TEST

START_TEST(test_v2_mount_root_and_escapes)
{
	/* A cgroup namespace's view: the mount's root is the cgroup itself. */
	put("/proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
	put_mountinfo("30 22 0:26 /kubepods/pod1/ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
	put("/sys/fs/cgroup/memory.max", "67108864\n");
	put("/sys/fs/cgroup/memory.current", "65536\n");
	expect_limit("cgroup2", 64 * MiB, 65536);
	/* A root that is no ancestor of the path (a sibling's name prefix). */
	put("/proc/self/cgroup", "0::/kubepods/pod1/ctr2\n");
	expect_no_limit("none");
	/* A mount point with a blank, written \040 by the kernel. */
	put("/proc/self/cgroup", "0::/x\n");
	put_mountinfo("30 22 0:26 / /cg\\040two rw - cgroup2 none rw\n");
	put("/cg two/x/memory.max", "1048576\n");
	put("/cg two/x/memory.current", "10\n");
	expect_limit("cgroup2", 1 * MiB, 10);
}
END_TEST

/* ------------------------------------------------------------ cgroup v1 */

static void
v1_tree(void)
{
	put("/proc/self/cgroup", "12:pids:/job\n"
	                         "4:memory:/job/task\n"
	                         "3:cpu,cpuacct:/job\n"
	                         "1:name=systemd:/job\n");
	put_mountinfo(V1_MOUNTS);
	put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
	put("/sys/fs/cgroup/memory/memory.usage_in_bytes", "8589934592\n");
	put("/sys/fs/cgroup/memory/job/memory.limit_in_bytes", "9223372036854771712\n");
	put("/sys/fs/cgroup/memory/job/memory.usage_in_bytes", "500000000\n");
}

START_TEST(test_v1_limit)
{
	v1_tree();
	put("/sys/fs/cgroup/memory/job/task/memory.limit_in_bytes", "134217728\n");
	put("/sys/fs/cgroup/memory/job/task/memory.usage_in_bytes", "5000\n");
	expect_limit("cgroup1", 128 * MiB, 5000);
	/* A parent's smaller limit applies. */
	put("/sys/fs/cgroup/memory/job/memory.limit_in_bytes", "67108864\n");
	put("/sys/fs/cgroup/memory/job/memory.usage_in_bytes", "6000\n");
	expect_limit("cgroup1", 64 * MiB, 6000);
}
END_TEST

START_TEST(test_v1_unlimited)
{
	v1_tree();
	put("/sys/fs/cgroup/memory/job/task/memory.limit_in_bytes", "9223372036854771712\n");
	put("/sys/fs/cgroup/memory/job/task/memory.usage_in_bytes", "5000\n");
	expect_no_limit("cgroup1");
	put("/sys/fs/cgroup/memory/job/task/memory.limit_in_bytes", "4611686018427387904\n");
	expect_no_limit("cgroup1");
	/* v1 has no "max". */
	put("/sys/fs/cgroup/memory/job/task/memory.limit_in_bytes", "max\n");
	expect_no_limit("cgroup1");
}
END_TEST

START_TEST(test_v1_usage_missing)
{
	v1_tree();
	put("/sys/fs/cgroup/memory/job/task/memory.limit_in_bytes", "134217728\n");
	/* The limit without its usage limits nothing. */
	expect_no_limit("cgroup1");
}
END_TEST

START_TEST(test_hybrid)
{
	/* systemd's hybrid layout: v1 controllers plus an empty v2 tree. */
	put("/proc/self/cgroup", "9:name=systemd:/svc\n"
	                         "4:memory:/svc\n"
	                         "0::/svc\n");
	put_mountinfo(V1_MOUNTS "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 "
	                        "cgroup2 rw\n");
	put("/sys/fs/cgroup/unified/svc/cgroup.procs", "1\n");
	put("/sys/fs/cgroup/memory/svc/memory.limit_in_bytes", "1073741824\n");
	put("/sys/fs/cgroup/memory/svc/memory.usage_in_bytes", "77\n");
	expect_limit("cgroup1", 1 * GiB, 77);
	/* The v1 memory folder gone: v2 has no memory controller either. */
	teardown();
	ck_assert_int_eq(mkdir(root, 0700), 0);
	put("/proc/self/cgroup", "4:memory:/svc\n0::/svc\n");
	put_mountinfo(V1_MOUNTS "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
	put("/sys/fs/cgroup/unified/svc/cgroup.procs", "1\n");
	expect_no_limit("none");
	/* ... unless it has (a v2 memory tree next to v1 without memory). */
	put("/sys/fs/cgroup/unified/svc/memory.max", "2097152\n");
	put("/sys/fs/cgroup/unified/svc/memory.current", "3\n");
	expect_limit("cgroup2", 2 * MiB, 3);
}
END_TEST

/* ------------------------------------------------------------ bad input */

START_TEST(test_missing_files)
{
	expect_no_limit("none"); /* nothing at all */
	put("/proc/self/cgroup", "0::/job\n");
	expect_no_limit("none"); /* no mountinfo */
	put_mountinfo(V2_MOUNT);
	expect_no_limit("none"); /* no cgroup folder */
	put("/sys/fs/cgroup/job/memory.current", "5\n");
	expect_no_limit("cgroup2"); /* no memory.max or memory.high */
	put("/sys/fs/cgroup/job/memory.high", "100\n");
	expect_limit("cgroup2", 100, 5);
}
END_TEST

START_TEST(test_malformed_values)
{
	static const char *const bad[] = {
		"",           "\n",          "lots\n",     "123",       "123\n\n",
		"12 34\n",    "-5\n",        "+5\n",       " 5\n",      "0x10\n",
		"max",        "Max\n",       "maximum\n",  "99999999999999999999999\n",
		"18446744073709551616\n",    "5\0\n",      "\x80\xff\n",
	};
	v2_tree("/job");
	put("/sys/fs/cgroup/job/memory.current", "5\n");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put("/sys/fs/cgroup/job/memory.max", bad[i]);
		expect_no_limit("cgroup2");
	}
	/* A good limit with a malformed usage: no limit either. */
	put("/sys/fs/cgroup/job/memory.max", "1000\n");
	put("/sys/fs/cgroup/job/memory.current", "max\n");
	expect_no_limit("cgroup2");
	put("/sys/fs/cgroup/job/memory.current", "18446744073709551615\n");
	expect_limit("cgroup2", 1000, SIZE_MAX);
	/* A file far too long for its buffer. */
	char big[200];
	memset(big, '1', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	put("/sys/fs/cgroup/job/memory.max", big);
	expect_no_limit("cgroup2");
}
END_TEST

START_TEST(test_malformed_proc_files)
{
	static const char *const cgroups[] = {
		"",     "garbage",   "\n\n\n",     "0:\n",       "0::\n",    "0::job\n",
		"::\n", "4:memory\n", "4:memoryx:/job\n", "0:memory\n", "\xff\xfe:\x01",
	};
	put_mountinfo(V2_MOUNT V1_MOUNTS);
	put("/sys/fs/cgroup/job/memory.max", "100\n");
	put("/sys/fs/cgroup/job/memory.current", "5\n");
	for (size_t i = 0; i < sizeof(cgroups) / sizeof(cgroups[0]); i++) {
		put("/proc/self/cgroup", cgroups[i]);
		expect_no_limit("none");
	}
	/* The last line without its newline still counts. */
	put("/proc/self/cgroup", "1:cpu:/\n0::/job");
	expect_limit("cgroup2", 100, 5);
	static const char *const mounts[] = {
		"",
		"garbage\n",
		"30 22 0:26 / /sys/fs/cgroup\n",
		"30 22 0:26 / /sys/fs/cgroup rw - cgroup2\n",
		"30 22 0:26 / /sys/fs/cgroup rw cgroup2 cgroup2 rw\n",
		"30 22 0:26 / /sys/fs/cgroup rw - cgroup cgroup rw,memory\n",
		"30 22 0:26 /other /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
	};
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		put("/proc/self/mountinfo", mounts[i]);
		expect_no_limit("none");
	}
}
END_TEST

START_TEST(test_long_lines_and_paths)
{
	/* A path too long to keep, with the mount point: no limit, no crash. */
	static char path[6000], line[7000], mounts[12000];
	memset(path, 'p', sizeof(path) - 1);
	for (size_t i = 0; i < sizeof(path) - 1; i += 200)
		path[i] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(line, sizeof(line), "0::%s\n", path);
	put("/proc/self/cgroup", line);
	put_mountinfo(V2_MOUNT);
	expect_no_limit("none");
	/* One that fits in a line but not, with the mount point and a file
	 * name, in a path. */
	path[4090] = '\0';
	snprintf(line, sizeof(line), "0::%s\n", path);
	put("/proc/self/cgroup", line);
	expect_no_limit("none");
	/* Long lines before the one that matters are skipped. */
	snprintf(line, sizeof(line), "7:cpu:%s\n0::/job\n", path + 10);
	put("/proc/self/cgroup", line);
	snprintf(mounts, sizeof(mounts), "40 22 0:40 / /mnt/%s rw - ext4 /dev/x rw\n" V2_MOUNT,
	         path + 1000);
	put_mountinfo(mounts);
	put("/sys/fs/cgroup/job/memory.max", "4096\n");
	put("/sys/fs/cgroup/job/memory.current", "1\n");
	expect_limit("cgroup2", 4096, 1);
	/* A test root too long leaves no room for any path. */
	static char long_root[5000];
	memset(long_root, 'r', sizeof(long_root) - 1);
	long_root[0] = '/';
	long_root[sizeof(long_root) - 1] = '\0';
	memlimit_test_root = long_root;
	expect_no_limit("none");
	opt_memory_limit = 1000;
	expect_no_limit("manual");
}
END_TEST

/* ------------------------------------------------------------ manual, off */

START_TEST(test_manual)
{
	opt_memory_limit = 64 * MiB;
	put("/proc/self/statm", "10000 250 30 1 0 100 0\n");
	expect_limit("manual", 64 * MiB, 250 * 4096);
	/* A cgroup limit is ignored when a count is given. */
	v2_tree("/job");
	put("/sys/fs/cgroup/job/memory.max", "100\n");
	put("/sys/fs/cgroup/job/memory.current", "5\n");
	expect_limit("manual", 64 * MiB, 250 * 4096);
	static const char *const bad[] = {"", "10000\n", "10000 250", "x 250 1\n", "10000 x 1\n",
	                                  "10000  250 1\n", "10000 99999999999999999999 1\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put("/proc/self/statm", bad[i]);
		expect_no_limit("manual");
	}
	/* The real statm: some resident pages. */
	memlimit_test_root = NULL;
	memlimit_boot();
	size_t l, u;
	ck_assert(memlimit_read(&l, &u));
	ck_assert_uint_eq(l, 64 * MiB);
	ck_assert_uint_gt(u, 0);
}
END_TEST

START_TEST(test_off)
{
	opt_memory_limit = CONF_LIMIT_OFF;
	v2_tree("/job");
	put("/sys/fs/cgroup/job/memory.max", "100\n");
	put("/sys/fs/cgroup/job/memory.current", "5\n");
	expect_no_limit("off");
	/* And back to auto. */
	opt_memory_limit = CONF_LIMIT_AUTO;
	expect_limit("cgroup2", 100, 5);
}
END_TEST

START_TEST(test_errno_preserved)
{
	errno = 4242;
	memlimit_boot();
	size_t l, u;
	ck_assert(!memlimit_read(&l, &u));
	ck_assert_int_eq(errno, 4242);
	v2_tree("/job");
	put("/sys/fs/cgroup/job/memory.max", "100\n");
	put("/sys/fs/cgroup/job/memory.current", "1\n");
	errno = 4343;
	memlimit_boot();
	ck_assert_int_eq(errno, 4343);
	ck_assert(memlimit_read(&l, &u));
	ck_assert_int_eq(errno, 4343);
	/* Usage gone: the read fails on a missing file, errno unchanged. */
	char path[512];
	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/job/memory.current", root);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert(!memlimit_read(&l, &u));
	ck_assert_int_eq(errno, 4343);
}
END_TEST

/* ------------------------------------------------------------ the host */

static char host_cgroup[4300];

/* In the child: join host_cgroup, use some memory, read the limit; prints
 * "skip <why>" or "<ok> <source> <limit> <usage>" on stderr. */
static void
host_child(const void *arg)
{
	(void)arg;
	char path[4400], pid[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", host_cgroup);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (!cgroup_write_text(path, pid)) {
		dprintf(2, "skip cannot join %s: %s", host_cgroup, strerror(errno));
		return;
	}
	/* Pages touched now are charged to the new cgroup. */
	size_t size = 4 * MiB;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		memset(p, 1, size);
	memlimit_test_root = NULL;
	opt_memory_limit = CONF_LIMIT_AUTO;
	memlimit_boot();
	size_t l = 0, u = 0;
	bool ok = memlimit_read(&l, &u);
	dprintf(2, "%d %s %zu %zu", ok, memlimit_source(), l, u);
}

START_TEST(test_host_cgroup_v1)
{
	char current[4096];
	if (!cgroup_v1_memory_folder(current, sizeof(current))) {
		fprintf(stderr, "check_memlimit: note: no cgroup v1 memory hierarchy here; "
		                "the host test asserts nothing\n");
		return;
	}
	snprintf(host_cgroup, sizeof(host_cgroup), "%s/strata-memlimit-%d", current,
	         (int)getpid());
	if (mkdir(host_cgroup, 0755) != 0) {
		fprintf(stderr, "check_memlimit: note: cannot create %s (%s); the host test "
		                "asserts nothing\n", host_cgroup, strerror(errno));
		return;
	}
	char path[4400];
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", host_cgroup);
	if (!cgroup_write_text(path, "268435456\n")) {
		fprintf(stderr, "check_memlimit: note: cannot set %s (%s); the host test "
		                "asserts nothing\n", path, strerror(errno));
		rmdir(host_cgroup);
		return;
	}
	/* Whether an ancestor is limited too (then its room may be the least). */
	char stat_path[4400], line[256];
	snprintf(stat_path, sizeof(stat_path), "%s/memory.stat", current);
	unsigned long long above = UINT64_MAX;
	FILE *f = fopen(stat_path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		sscanf(line, "hierarchical_memory_limit %llu", &above);
	if (f != NULL)
		fclose(f);

	char out[512];
	int status = child_run_capture(host_child, NULL, out, sizeof(out));
	/* The child is gone: its cgroup is empty and can go. */
	int rmdir_err = rmdir(host_cgroup) == 0 ? 0 : errno;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s", out);
	if (strncmp(out, "skip ", 5) == 0) {
		fprintf(stderr, "check_memlimit: note: %s; the host test asserts nothing\n",
		        out + 5);
		return;
	}
	ck_assert_msg(rmdir_err == 0, "rmdir %s: %s", host_cgroup, strerror(rmdir_err));
	int ok;
	char source[32];
	size_t limit, usage;
	ck_assert_msg(sscanf(out, "%d %31s %zu %zu", &ok, source, &limit, &usage) == 4, "%s",
	              out);
	ck_assert_msg(ok == 1, "%s", out);
	ck_assert_str_eq(source, "cgroup1");
	if (above >= ((unsigned long long)1 << 62))
		ck_assert_uint_eq(limit, 256 * MiB);
	ck_assert_uint_gt(usage, 0);
}
END_TEST

/*
 * A fork while another thread is inside the boot (run once, lazily, by the
 * background module): the child must boot again instead of waiting for a
 * thread it does not have.  The thread's boot blocks on root's
 * /proc/self/cgroup, a FIFO, until the parent closes its write end; the
 * child finds an ordinary file there.  (glibc's pthread_once restarts an
 * interrupted boot in a child by itself; ThreadSanitizer's waited for ever
 * before background_postfork_child reset it, so this fails under
 * `make check-tsan` without the reset.)
 */
static void *
boot_from_thread(void *arg)
{
	(void)arg;
	background_stats_t st;
	background_stats_read(&st);
	return NULL;
}

static void
child_reads_stats(const void *arg)
{
	(void)arg;
	background_postfork_child(); /* what init's fork handler runs */
	background_stats_t st;
	background_stats_read(&st);
	if (strcmp(st.memlimit_source, "none") != 0)
		fprintf(stderr, "source %s, not none\n", st.memlimit_source);
}

START_TEST(test_boot_in_flight_at_fork)
{
	make_parents("proc/self/cgroup");
	char fifo[8192], aside[8192];
	snprintf(fifo, sizeof(fifo), "%s/proc/self/cgroup", root);
	snprintf(aside, sizeof(aside), "%s/proc/self/cgroup.fifo", root);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, boot_from_thread, NULL), 0);
	/* A write end opens (without blocking) only once the thread has the
	 * FIFO open for reading: it is inside the boot then, and stays there
	 * reading until the write end closes. */
	int wfd = -1;
	double deadline = child_now_s() + CHILD_WAIT_S;
	while ((wfd = open(fifo, O_WRONLY | O_NONBLOCK)) < 0) {
		ck_assert_msg(errno == ENXIO, "open %s: %s", fifo, strerror(errno));
		ck_assert_msg(child_now_s() < deadline, "the thread never opened the FIFO");
		sched_yield();
	}
	ck_assert_int_eq(rename(fifo, aside), 0);
	put("/proc/self/cgroup", "0::/\n");
	char out[256];
	int status = child_run_capture(child_reads_stats, NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && out[0] == '\0',
	              "child: status %d, %s", status, out);
	close(wfd);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
}
END_TEST

Suite *
test_suite(void)
{
	Suite *s = suite_create("memlimit");
	TCase *tc = tcase_create("fake");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_v2_max_only);
	tcase_add_test(tc, test_v2_high_below_max);
	tcase_add_test(tc, test_v2_both_max);
	tcase_add_test(tc, test_v2_parent_limits);
	tcase_add_test(tc, test_v2_without_memory_controller);
	tcase_add_test(tc, test_v2_mount_root_and_escapes);
	tcase_add_test(tc, test_v1_limit);
	tcase_add_test(tc, test_v1_unlimited);
	tcase_add_test(tc, test_v1_usage_missing);
	tcase_add_test(tc, test_hybrid);
	tcase_add_test(tc, test_missing_files);
	tcase_add_test(tc, test_malformed_values);
	tcase_add_test(tc, test_malformed_proc_files);
	tcase_add_test(tc, test_long_lines_and_paths);
	tcase_add_test(tc, test_manual);
	tcase_add_test(tc, test_off);
	tcase_add_test(tc, test_errno_preserved);
	tcase_add_test(tc, test_boot_in_flight_at_fork);
	suite_add_tcase(s, tc);

	tc = tcase_create("host");
	tcase_add_test(tc, test_host_cgroup_v1);
	suite_add_tcase(s, tc);
	return s;
}
