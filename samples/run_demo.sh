#!/usr/bin/env bash
# run_demo.sh — what `make demo` runs: builds the samples with plain cc (they
# are ordinary programs, not linked against strata) and runs them with
# strata preloaded, so the user sees what the allocator did.
#
#   samples/run_demo.sh          every demo
#   samples/run_demo.sh prof     one of them (see DEMOS below)
#
# Each demo is a function demo_<name> listed in DEMOS.  Commands are printed
# as a user would type them from the repository root, where the script runs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LIB=lib/libstrata.so
OUT=build/samples
CC=${CC:-cc}
DEMOS=(stats prof)

if [ ! -f "$LIB" ]; then
	echo "run_demo: $LIB is not built; run make first" >&2
	exit 1
fi
mkdir -p "$OUT"

# banner TEXT: a visible section header.
banner() {
	printf '\n==== %s ====\n' "$*"
}

# quote WORD: WORD as the shell reads it, quoted only where it must be.
quote() {
	if [[ $1 =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then
		printf '%s' "$1"
	else
		printf '%q' "$1"
	fi
}

# cmdline WORD...: a command line as the user would type it.
cmdline() {
	local sep=
	for w in "$@"; do
		printf '%s' "$sep"
		quote "$w"
		sep=' '
	done
}

# show CMD...: prints the command as the user would type it, then runs it.
show() {
	printf '$ %s\n' "$(cmdline "$@")"
	"$@"
}

# show_to FILE CMD...: the same, with the command's output going to FILE.
show_to() {
	local file=$1
	shift
	printf '$ %s > %s\n' "$(cmdline "$@")" "$(quote "$file")"
	"$@" >"$file"
}

# fail MESSAGE: the demo cannot go on.
fail() {
	echo "run_demo: $*" >&2
	exit 1
}

# build NAME [cc flags...]: samples/NAME.c -> build/samples/NAME.
build() {
	local name=$1
	shift
	show "$CC" -O2 -g -pthread -o "$OUT/$name" "samples/$name.c" "$@"
}

# strata_run [VAR=value...] PROG [args...]: PROG with strata preloaded.
strata_run() {
	printf '$ %s\n' "$(cmdline LD_PRELOAD="$LIB" "$@")"
	env LD_PRELOAD="$LIB" "$@"
}

demo_stats() {
	banner "stats: a program's allocations, and strata's statistics at exit"
	build stats_demo
	strata_run MALLOC_CONF=stats_print:true "$OUT/stats_demo"
}

# The profiler on a running program: prof_demo serves made-up requests
# (samples/prof_demo.c); once it says it is ready, SIGUSR2 makes strata's
# dumper thread write a heap profile, which jeprof then reads.  Every wait
# is bounded: the program's lines (read with a timeout), the dump file.
demo_prof() {
	banner "prof: a heap profile of a running program, read with jeprof"
	build prof_demo
	local prog=$OUT/prof_demo prefix=$OUT/prof seconds=2
	local conf=prof:true,prof_signal:USR2,prof_prefix:$prefix
	rm -f "$prefix".*.heap.gz "$prefix".*.recent.json.gz # dumps of earlier runs

	# The program runs in the background; its output comes through a FIFO
	# so that the script can wait for its "ready" line.
	local fifo line pid fd ready=
	fifo=$(mktemp -u "$OUT/prof_demo.fifo.XXXXXX")
	mkfifo "$fifo"
	printf '$ %s &\n' "$(cmdline LD_PRELOAD="$LIB" MALLOC_CONF="$conf" "$prog" "$seconds")"
	env LD_PRELOAD="$LIB" MALLOC_CONF="$conf" "$prog" "$seconds" >"$fifo" 2>&1 &
	pid=$!
	exec {fd}<"$fifo"
	rm -f "$fifo"
	local deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)) && IFS= read -r -t $((deadline - SECONDS)) -u "$fd" line; do
		printf '%s\n' "$line"
		if [[ $line == "prof_demo: ready"* ]]; then
			ready=1
			break
		fi
	done
	if [ -z "$ready" ]; then
		kill "$pid" 2>/dev/null || true
		fail "prof_demo did not say it was ready within 30 s"
	fi

	show kill -USR2 "$pid"
	# The dump appears whole (written under a temporary name, then renamed).
	local dump='' i f
	for ((i = 0; i < 200; i++)); do
		for f in "$prefix.$pid".*.heap.gz; do
			if [ -e "$f" ]; then
				dump=$f
			fi
		done
		if [ -n "$dump" ]; then
			break
		fi
		sleep 0.05
	done

	# The rest of its output, until it exits (it serves $seconds s).
	local rc=0
	deadline=$((SECONDS + seconds + 30))
	while :; do
		if ((SECONDS >= deadline)); then
			rc=142
			break
		fi
		IFS= read -r -t $((deadline - SECONDS)) -u "$fd" line || {
			rc=$?
			break
		}
		printf '%s\n' "$line"
	done
	exec {fd}<&-
	if [ "$rc" -gt 128 ]; then
		kill "$pid" 2>/dev/null || true
		fail "prof_demo did not finish within $((seconds + 30)) s"
	fi
	wait "$pid" || fail "prof_demo failed (exit status $?)"
	[ -n "$dump" ] || fail "no heap profile $prefix.$pid.*.heap.gz within 10 s of the signal"

	echo
	echo "The profile's live memory by function (estimated from the samples):"
	show bin/jeprof --text "$prog" "$dump"
	echo "(What is still allocated at exit is the leak: add prof_leak:true to MALLOC_CONF"
	echo " and strata reports session_create's leak at exit, with the final dump's name.)"
	echo
	# The signal's dump also wrote the ring of recent allocations beside it.
	local recent=${dump%.heap.gz}.recent.json.gz
	[ -e "$recent" ] || fail "no $recent beside the heap profile"
	echo "The last sampled allocations, newest first (written beside the profile):"
	show bin/jeprof --recent --recent_max=2 "$prog" "$recent"
	echo
	show_to "$OUT/prof_demo.flame.svg" bin/jeprof --flame "$prog" "$dump"
	local graphs=("$OUT/prof_demo.flame.svg")
	if command -v dot >/dev/null; then
		show_to "$OUT/prof_demo.callgraph.svg" bin/jeprof --svg "$prog" "$dump"
		graphs+=("$OUT/prof_demo.callgraph.svg")
	else
		echo "(no call graph: jeprof --svg needs graphviz's dot; sudo apt-get install graphviz)"
	fi
	echo "Open in a browser:"
	for f in "${graphs[@]}"; do
		echo "  $ROOT/$f"
	done
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
banner "done: LD_PRELOAD=$ROOT/$LIB works the same way for any program"
