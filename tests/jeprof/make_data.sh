#!/bin/bash
# make_data.sh <outdir> — builds the jeprof test programs and profiles them
# with Debian's jemalloc (lg_prof_sample:0, so every allocation is sampled
# and byte counts are exact, plus one sampled run).  Nothing here is
# committed: everything lands in <outdir>.
#
#   libjpshared.so, prog (PIE), prog_nopie, prog_stripped (+ debug/.build-id/)
#   prog.heap prog.heap.gz prog16.heap nopie.heap stripped.heap sampled.heap
set -euo pipefail
out=${1:?usage: make_data.sh <outdir>}
src=$(cd "$(dirname "$0")" && pwd)
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
cc=${CC:-cc}
[ -e "$jemalloc" ] || { echo "make_data.sh: $jemalloc missing (apt-get install libjemalloc2)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/debug"
out=$(cd "$out" && pwd)

"$cc" -O2 -g -fPIC -shared -o "$out/libjpshared.so" "$src/shared.c"
common=(-O2 -g -pthread "-L$out" -Wl,-rpath,"$out" -o)
"$cc" -fPIE -pie "${common[@]}" "$out/prog" "$src/prog.c" -ljpshared
"$cc" -fno-pie -no-pie "${common[@]}" "$out/prog_nopie" "$src/prog.c" -ljpshared

# A stripped copy whose debug info is only in debug/.build-id/xx/yyyy.debug.
cp "$out/prog" "$out/prog_stripped"
id=$(readelf -n "$out/prog_stripped" | sed -n 's/.*Build ID: *//p')
mkdir -p "$out/debug/.build-id/${id:0:2}"
objcopy --only-keep-debug "$out/prog_stripped" "$out/debug/.build-id/${id:0:2}/${id:2}.debug"
strip --strip-all "$out/prog_stripped"

# profile <name> <lg_prof_sample> <program> [args...]
profile() {
	local name=$1 lg=$2
	shift 2
	LD_PRELOAD=$jemalloc \
		MALLOC_CONF="prof:true,prof_final:true,lg_prof_sample:$lg,prof_prefix:$out/tmp.$name" \
		"$@"
	local dumps=("$out"/tmp."$name".*.f.heap)
	[ "${#dumps[@]}" = 1 ] && [ -s "${dumps[0]}" ] || { echo "make_data.sh: no dump for $name" >&2; exit 1; }
	mv "${dumps[0]}" "$out/$name.heap"
}
profile prog 0 "$out/prog"
profile prog16 0 "$out/prog" 16
profile nopie 0 "$out/prog_nopie"
profile stripped 0 "$out/prog_stripped"
profile sampled 10 "$out/prog"
gzip -c "$out/prog.heap" > "$out/prog.heap.gz"
