#!/usr/bin/env bash
# run_demo.sh — what `make demo` runs: builds the samples with plain cc (they
# are ordinary programs, not linked against strata) and runs them with
# strata preloaded, so the user sees what the allocator did.
#
#   samples/run_demo.sh          every demo
#   samples/run_demo.sh stats    one of them (see DEMOS below)
#
# Each demo is a function demo_<name>; adding one (the profiler demo:
# prof:true, a dump, jeprof on it) means writing the function and listing
# it in DEMOS.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB="$ROOT/lib/libstrata.so"
OUT="$ROOT/build/samples"
CC=${CC:-cc}
DEMOS=(stats)

if [ ! -f "$LIB" ]; then
	echo "run_demo: $LIB is not built; run make first" >&2
	exit 1
fi
mkdir -p "$OUT"

# banner TEXT: a visible section header.
banner() {
	printf '\n==== %s ====\n' "$*"
}

# show CMD...: prints the command as the user would type it, then runs it.
show() {
	printf '$'
	printf ' %q' "$@"
	printf '\n'
	"$@"
}

# build NAME [cc flags...]: samples/NAME.c -> build/samples/NAME.
build() {
	local name=$1
	shift
	show "$CC" -O2 -g -pthread -o "$OUT/$name" "$ROOT/samples/$name.c" "$@"
}

# strata_run [VAR=value...] PROG [args...]: PROG with strata preloaded.
strata_run() {
	show env LD_PRELOAD="$LIB" "$@"
}

demo_stats() {
	banner "stats: a program's allocations, and strata's statistics at exit"
	build stats_demo
	strata_run MALLOC_CONF=stats_print:true "$OUT/stats_demo"
}

want=("$@")
[ ${#want[@]} -eq 0 ] && want=("${DEMOS[@]}")
for d in "${want[@]}"; do
	if ! declare -F "demo_$d" >/dev/null; then
		echo "run_demo: no demo \"$d\" (have: ${DEMOS[*]})" >&2
		exit 1
	fi
	"demo_$d"
done
banner "done: LD_PRELOAD=$LIB works the same way for any program"
