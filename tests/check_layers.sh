#!/usr/bin/env bash
# check_layers.sh — fails when a file includes a header from a higher layer
# than its own (the layer table of docs/design.md), or when prof/ is reached from
# anywhere but malloc.c, tsd.c, ctl.c and init.c.
set -euo pipefail
cd "$(dirname "$0")/.."

# module -> layer (src/), from docs/design.md "Layers of src/".
declare -A layer=(
	[config]=0 [bits]=0 [atomic]=0 [os]=0 [numa]=0 [mutex]=0 [msg]=0 [conf]=0
	[prng]=0 [clock]=0 [public_names]=0 [debug]=0 [memlimit]=0 [safety]=0
	[base]=1 [emap]=1 [sz]=1
	[extent]=2 [pai]=2 [pages]=2 [hpage]=2 [decay]=2 [background]=2 [pages_purge]=2 [pages_internal]=2
	[slab]=3 [bin]=3 [large]=3 [arena]=3
	[tsd]=4 [event]=4 [tcache]=4 [arena_select]=4
	[malloc]=5 [ctl]=5 [stats]=5 [init]=5 [hook]=5
)
prof_callers=" malloc tsd ctl init "
fail=0

module_of() { local f=${1##*/}; echo "${f%.*}"; }
# A module may span files named <module>_<part> (ctl_stats.c is ctl's).
module_or_parent() {
	local mod=$1
	if [[ -z "${layer[$mod]+x}" && -n "${layer[${mod%%_*}]+x}" ]]; then
		mod=${mod%%_*}
	fi
	echo "$mod"
}

for file in src/*.[ch]; do
	mod=$(module_or_parent "$(module_of "$file")")
	if [[ -z "${layer[$mod]+x}" ]]; then
		echo "check-layers: $file: module '$mod' is not in the layer table"
		fail=1
		continue
	fi
	own=${layer[$mod]}
	while read -r inc; do
		if [[ "$inc" == prof/* ]]; then
			if [[ "$prof_callers" != *" $mod "* ]]; then
				echo "check-layers: $file includes $inc: only malloc, tsd, ctl and init may call prof/"
				fail=1
			fi
			continue
		fi
		dep=$(module_or_parent "$(module_of "$inc")")
		[[ -z "${layer[$dep]+x}" ]] && continue
		if (( ${layer[$dep]} > own )); then
			echo "check-layers: $file (L$own) includes $inc (L${layer[$dep]})"
			fail=1
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done

# prof/ sits beside L5 and may call src L0-L2 only.
for file in $(ls prof/*.[ch] 2>/dev/null); do
	while read -r inc; do
		[[ "$inc" == prof/* || "$inc" != *.h ]] && continue
		dep=$(module_of "$inc")
		[[ -f "prof/$dep.h" ]] && continue
		if [[ -n "${layer[$dep]+x}" ]] && (( ${layer[$dep]} > 2 )); then
			echo "check-layers: $file includes $inc (L${layer[$dep]}); prof/ may use src L0-L2"
			fail=1
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done

if (( fail )); then
	exit 1
fi
echo "check-layers: ok"
