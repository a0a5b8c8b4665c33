#!/bin/bash
# make_strata_data.sh <outdir> <libstrata.so> — builds tests/jeprof/strata_prog.c
# and profiles it under strata itself (the library just built, preloaded).
# Addresses change with every build, so nothing here is committed: the
# tests (tests/check_jeprof_strata.c) assert what does not depend on them.
#
# The program and libjpshared.so are compiled from the repository root by
# relative paths, as a Makefile does (their DWARF names are relative to the
# compilation directory), with frame pointers for prof_backtrace:fp.
#
#   strata_prog, libjpshared.so
#   exact.heap exact.heap.gz   lg_prof_sample:0 (every allocation sampled),
#                              plain then gzip, taken one after the other
#   exact.recent.json.gz       the same run's last 1200 sampled allocations
#   auto/strata.<pid>.0.m0.heap.gz   the same, prof.dump's automatic name
#   fp.heap                    lg_prof_sample:0 with prof_backtrace:fp
#   sampled.heap               lg_prof_sample:10 (1 KiB mean interval)
set -euo pipefail
out=${1:?usage: make_strata_data.sh <outdir> <libstrata.so>}
lib=${2:?usage: make_strata_data.sh <outdir> <libstrata.so>}
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-cc}
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
[ -e "$lib" ] || { echo "make_strata_data.sh: $lib missing (make lib/libstrata.so)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)

cd "$root"
flags=(-O2 -g -fno-omit-frame-pointer)
"$cc" "${flags[@]}" -fPIC -shared -o "$out/libjpshared.so" tests/jeprof/shared.c
"$cc" "${flags[@]}" -fPIE -pie -pthread "-L$out" -Wl,-rpath,"$out" -o "$out/strata_prog" \
	tests/jeprof/strata_prog.c -ljpshared -ldl

# profile <conf> <automatic dumps' folder> <plain dump> <gzip dump> [<recent>]
profile() {
	mkdir -p "$2"
	LD_PRELOAD=$lib MALLOC_CONF="prof:true,prof_prefix:$2/strata,$1" \
		"$out/strata_prog" "${@:3}" || { echo "make_strata_data.sh: run with $1 failed" >&2; exit 1; }
	for f in "${@:3}"; do
		[ -s "$f" ] || { echo "make_strata_data.sh: no $f with $1" >&2; exit 1; }
	done
}
profile lg_prof_sample:0,prof_recent_alloc_max:1200 "$out/auto" "$out/exact.heap" \
	"$out/exact.heap.gz" "$out/exact.recent.json.gz"
# The other runs keep only their plain dump.
profile lg_prof_sample:0,prof_backtrace:fp "$out/tmp" "$out/fp.heap" "$out/tmp/fp.heap.gz"
profile lg_prof_sample:10 "$out/tmp" "$out/sampled.heap" "$out/tmp/sampled.heap.gz"
rm -rf "$out/tmp"
