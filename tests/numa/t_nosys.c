/*
 * t_nosys.c — test "nosys": on a kernel without NUMA system calls (ENOSYS,
 * as under a seccomp filter), strata falls back to NUMA off and still
 * allocates.  "nosys" installs a seccomp filter that answers ENOSYS to every
 * NUMA memory-policy call, then executes "nosys_child" under it (options
 * and topology are read when the allocator starts, before main).
 * guest_check.sh checks that the child wrote exactly one warning.
 */
#include "numa_check.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_set_mempolicy_home_node
#define SYS_set_mempolicy_home_node 450
#endif

void
test_nosys(void)
{
	/* Jumps: the k-th of the six comparisons goes 6 - k forward, past the
	 * remaining comparisons and the "allow", to the ENOSYS answer. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mbind, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_set_mempolicy, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_get_mempolicy, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_move_pages, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_migrate_pages, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_set_mempolicy_home_node, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		expect(0, "installing the seccomp filter: errno %d", errno);
		return;
	}
	expect(syscall(SYS_get_mempolicy, NULL, NULL, 0, NULL, 0) == -1 && errno == ENOSYS,
	       "the filter does not answer get_mempolicy with ENOSYS");
	fflush(stdout);
	execl("/proc/self/exe", "numa_check", "nosys_child", (char *)NULL);
	expect(0, "exec of nosys_child: errno %d", errno);
}

void
test_nosys_child(void)
{
	expect_inactive();
}
