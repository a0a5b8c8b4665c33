#!/bin/bash
# make_recent_data.sh <outdir> — builds tests/jeprof/recent_prog.c (PIE, and
# non-PIE) and runs it for the prof_recent files of the jeprof --recent tests
# (tests/check_jeprof_recent.c).  Addresses change with every build, so
# nothing here is committed.
#
# The programs are compiled from the repository root by a relative path, as
# a Makefile does, without sibling calls (a site's call of capture() must not
# become a jump, or its frame would vanish from the stack).
#
#   recent_prog, recent_prog_nopie
#   strata.recent.json strata.recent.json.gz pretty.recent.json jemalloc.recent.json
#   nopie/jemalloc.recent.json     the non-PIE program's, without mapped_libraries
set -euo pipefail
out=${1:?usage: make_recent_data.sh <outdir>}
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-cc}
rm -rf "$out"
mkdir -p "$out/nopie"
out=$(cd "$out" && pwd)

cd "$root"
flags=(-O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-omit-frame-pointer -fno-optimize-sibling-calls -pthread)
"$cc" "${flags[@]}" -fPIE -pie -o "$out/recent_prog" tests/jeprof/recent_prog.c
"$cc" "${flags[@]}" -fno-pie -no-pie -o "$out/recent_prog_nopie" tests/jeprof/recent_prog.c
"$out/recent_prog" "$out"
gzip -c "$out/strata.recent.json" > "$out/strata.recent.json.gz"
"$out/recent_prog_nopie" "$out/nopie"
