#!/bin/sh
# tests/numa/guest_check.sh — the NUMA tests, run inside the emulated
# machine by tests/numa/vm.sh (make check-numa; docs/design.md, "Testing
# NUMA").  Each test is one process of build/numa/numa_check under the
# MALLOC_CONF it needs; every test runs even after a failure, and the script
# exits 1 if any failed.
set -eu

prog=build/numa/numa_check
failed=""

# run CONF TEST: the test under MALLOC_CONF=CONF (none when CONF is empty).
run() {
	if [ -n "$1" ]; then
		MALLOC_CONF=$1 "$prog" "$2" || failed="$failed $2[$1]"
	else
		"$prog" "$2" || failed="$failed $2"
	fi
}

run "" topology
run "" defaults
run "" place
run "" migrate
run numa_migrate:stay stay
run "" tier
run "" create
run "" handoff
run "" churn
run "" bad_node
run "" stats
run numa:off off
run "" policy
run numa_policy:bind policy
run numa_policy:interleave policy

# Bad option values: a conf message for each, and the defaults stay.
bad=numa:sideways,numa_policy:spread,numa_migrate:wander
MALLOC_CONF=$bad "$prog" defaults 2>/tmp/conf.err || failed="$failed defaults[$bad]"
missing=""
for pair in numa:sideways numa_policy:spread numa_migrate:wander; do
	grep -q "Invalid conf value: $pair\$" /tmp/conf.err || missing="$missing $pair"
done
if [ -n "$missing" ]; then
	echo "  no \"Invalid conf value\" message for:$missing; stderr was:"
	cat /tmp/conf.err
	failed="$failed conf-messages"
fi

# No NUMA system calls (a seccomp filter): NUMA off, and one warning.
"$prog" nosys 2>/tmp/nosys.err || failed="$failed nosys"
if [ "$(wc -l </tmp/nosys.err)" -ne 1 ]; then
	echo "  nosys: want one warning on stderr, got:"
	cat /tmp/nosys.err
	failed="$failed nosys-warning"
fi

if [ -n "$failed" ]; then
	echo "NUMA tests FAILED:$failed"
	exit 1
fi
echo "NUMA tests: all passed"
