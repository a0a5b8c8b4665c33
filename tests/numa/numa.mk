# tests/numa/numa.mk — the NUMA proof (docs/design.md, "Testing NUMA"):
# check-numa runs the one-node test on this machine, then boots an emulated
# three-node machine once (tests/numa/vm.sh) and runs every other NUMA test
# inside it (tests/numa/guest_check.sh), on the release and on the debug
# library; bench-numa runs
# bench/numa_locality there under strata, glibc, jemalloc and mimalloc
# (tests/numa/guest_bench.sh) and prints the node-local page fractions.
# Included at the end of the top Makefile, which owns CC, CSTD, WARN, SUDO
# and the deps step.
#
#   build/numa-vm/          the cached kernel, qexit, initramfs, console.log
#   build/numa/numa_check   tests/numa/numa_check.c and t_*.c, on libstrata.so
#   build/numa/numa_locality  bench/numa_locality.c, for any LD_PRELOAD

.PHONY: check-numa bench-numa numa-vm-deps

NUMA_VM_PKGS := qemu-system-x86_64:qemu-system-x86 cpio:cpio
NUMA_PEERS   := /usr/lib/x86_64-linux-gnu/libjemalloc.so.2:libjemalloc2 \
	/usr/lib/x86_64-linux-gnu/libmimalloc.so.2:libmimalloc2.0
NUMA_CHECK_SRC := tests/numa/numa_check.c tests/numa/locality.c $(wildcard tests/numa/t_*.c)

numa-vm-deps: build/.numa-vm-deps-ok
build/.numa-vm-deps-ok: | deps
	@missing=""; \
	for t in $(NUMA_VM_PKGS); do \
		command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; \
	done; \
	[ -x /bin/busybox ] || missing="$$missing busybox-static"; \
	if [ -n "$$missing" ]; then \
		echo "installing missing NUMA VM dependencies:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	elif [ ! -s build/numa-vm/vmlinuz ] && \
	     ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then \
		echo "apt's lists name no linux-image-cloud-amd64 (for tests/numa/vm.sh): updating them"; \
		$(SUDO) apt-get update -qq; \
	fi
	@touch $@

# The guest's exit helper: static, it runs before any library is there.
build/numa-vm/qexit: tests/numa/qexit.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -O2 $(WARN) -static -o $@ $<

# -fno-builtin-*: a block allocated, written and freed without escaping is
# otherwise folded away, and the migration test's 4 MiB of traffic with it.
build/numa/numa_check: $(NUMA_CHECK_SRC) tests/numa/numa_check.h tests/numa/locality.h \
		lib/libstrata.so | deps
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -O1 -g $(WARN) -D_GNU_SOURCE -fno-builtin-malloc -fno-builtin-free \
		-Iinclude -o $@ $(filter %.c,$^) \
		-Llib -Wl,-rpath,'$$ORIGIN/../../lib' -lstrata -lpthread

build/numa/numa_locality: bench/numa_locality.c tests/numa/locality.c tests/numa/locality.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -O2 -g $(WARN) -D_GNU_SOURCE -fno-builtin-malloc -fno-builtin-free \
		-Itests/numa -o $@ $(filter %.c,$^) -lpthread

# The one-node test on this machine, then the VM; both run whatever the
# other gives.
check-numa: numa-vm-deps build/numa-vm/qexit build/numa/numa_check lib/libstrata.so \
		build/debug/lib/libstrata.so
	@echo "== build/numa/numa_check one_node (this machine)"
	@rc=0; build/numa/numa_check one_node || rc=1; \
	echo "== NUMA tests in an emulated three-node machine (tests/numa/vm.sh)"; \
	tests/numa/vm.sh tests/numa/guest_check.sh build/numa/numa_check lib/libstrata.so \
		build/debug/lib/libstrata.so || rc=1; \
	exit $$rc

bench-numa: numa-vm-deps build/numa-vm/qexit build/numa/numa_locality lib/libstrata.so
	@missing=""; \
	for p in $(NUMA_PEERS); do [ -e $${p%%:*} ] || missing="$$missing $${p##*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing missing peers:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@tests/numa/vm.sh tests/numa/guest_bench.sh build/numa/numa_locality lib/libstrata.so \
		$(foreach p,$(NUMA_PEERS),$(firstword $(subst :, ,$(p))))
