#!/bin/sh
# tests/numa/guest_check.sh — the NUMA tests, run inside the emulated
# machine by tests/numa/vm.sh (make check-numa; docs/design.md, "Testing
# NUMA").  Each test is one process of build/numa/numa_check under the
# MALLOC_CONF it needs, first on lib/libstrata.so, then on the debug build
# (build/debug/lib/libstrata.so: assertions and the lock-order witness on the
# real multi-node paths); every test runs even after a failure, and the
# script exits 1 if any failed.
set -eu

prog=build/numa/numa_check
failed=""
build=release

# run CONF TEST: the test under MALLOC_CONF=CONF (none when CONF is empty).
run() {
	if [ -n "$1" ]; then
		MALLOC_CONF=$1 "$prog" "$2" || failed="$failed $build:$2[$1]"
	else
		"$prog" "$2" || failed="$failed $build:$2"
	fi
}

# suite: every test, on the library the loader finds.
suite() {
	echo "== $build build"
	run "" topology
	run "" defaults
	run "" place
	run "" migrate
	run numa_migrate:stay stay
	run "" tier
	run "" create
	run "" handoff
	run "" churn
	run "" crossfree
	run "" stress
	# (filling a node is page faults, not allocator code: once is enough)
	[ "$build" = debug ] || run "" full_node
	run "" bad_node
	run "" stats
	run numa:off off
	run "" policy
	run numa_policy:bind policy
	run numa_policy:interleave policy

	# Bad option values: a conf message for each, and the defaults stay.
	bad=numa:sideways,numa_policy:spread,numa_migrate:wander
	MALLOC_CONF=$bad "$prog" defaults 2>/tmp/conf.err || failed="$failed $build:defaults[$bad]"
	missing=""
	for pair in numa:sideways numa_policy:spread numa_migrate:wander; do
		grep -q "Invalid conf value: $pair\$" /tmp/conf.err || missing="$missing $pair"
	done
	if [ -n "$missing" ]; then
		echo "  no \"Invalid conf value\" message for:$missing; stderr was:"
		cat /tmp/conf.err
		failed="$failed $build:conf-messages"
	fi

	# No NUMA system calls (a seccomp filter): NUMA off, and one warning.
	"$prog" nosys 2>/tmp/nosys.err || failed="$failed $build:nosys"
	if [ "$(wc -l </tmp/nosys.err)" -ne 1 ]; then
		echo "  nosys: want one warning on stderr, got:"
		cat /tmp/nosys.err
		failed="$failed $build:nosys-warning"
	fi
}

# topology checks config.debug against NUMA_CHECK_DEBUG: each suite runs
# on the library it names.
NUMA_CHECK_DEBUG=0
export NUMA_CHECK_DEBUG
suite
build=debug
NUMA_CHECK_DEBUG=1
# (LD_LIBRARY_PATH comes before numa_check's RUNPATH)
LD_LIBRARY_PATH=/strata/build/debug/lib
export LD_LIBRARY_PATH
suite

if [ -n "$failed" ]; then
	echo "NUMA tests FAILED:$failed"
	exit 1
fi
echo "NUMA tests: all passed"
