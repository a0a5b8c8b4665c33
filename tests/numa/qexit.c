/*
 * qexit.c — the guest's way to end the NUMA VM with a status (docs/design.md,
 * "Testing NUMA").  Writes its argument to QEMU's isa-debug-exit port (0xf4),
 * which makes QEMU exit with (value << 1) | 1.  Linked statically: it runs in
 * the initramfs before anything else, and Debian's cloud kernel has no
 * /dev/port for a shell to write the port with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: qexit VALUE\n");
		return 2;
	}
	if (ioperm(0xf4, 4, 1) != 0) {
		perror("qexit: ioperm");
		return 1;
	}
	outl((unsigned)atoi(argv[1]), 0xf4);
	/* Reached only when no isa-debug-exit device is there. */
	fprintf(stderr, "qexit: no isa-debug-exit device answered\n");
	return 1;
}
