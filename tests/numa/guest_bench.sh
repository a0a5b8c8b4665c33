#!/bin/sh
# tests/numa/guest_bench.sh — make bench-numa's guest script, run inside the
# emulated machine by tests/numa/vm.sh (docs/design.md, "Testing NUMA"):
# bench/numa_locality under strata, glibc, jemalloc and mimalloc (each but
# glibc by LD_PRELOAD), then one table of node-local page fractions.
set -eu

prog=build/numa/numa_locality
lib=/usr/lib/x86_64-linux-gnu
out=/tmp/numa_locality.out

for shape in handoff churn own; do
	"$prog" glibc $shape
	LD_PRELOAD=/strata/lib/libstrata.so "$prog" strata $shape
	LD_PRELOAD=$lib/libjemalloc.so.2 "$prog" jemalloc $shape
	LD_PRELOAD=$lib/libmimalloc.so.2 "$prog" mimalloc $shape
done >"$out"

echo "node-local pages (%), bench/numa_locality:"
awk '
	{ for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	  a = f["allocator"]; s = f["shape"]
	  if (!(a in seen_a)) { seen_a[a] = 1; order_a[na++] = a }
	  if (!(s in seen_s)) { seen_s[s] = 1; order_s[ns++] = s }
	  pct[a, s] = f["local_pct"]; pages[a, s] = f["pages"] }
	END {
		printf "%-10s", "allocator"
		for (j = 0; j < ns; j++) printf " %16s", order_s[j]
		printf "\n"
		for (i = 0; i < na; i++) {
			printf "%-10s", order_a[i]
			for (j = 0; j < ns; j++)
				printf " %7s (%6s)", pct[order_a[i], order_s[j]], pages[order_a[i], order_s[j]]
			printf "\n"
		}
		print "(in parentheses: the pages measured)"
	}' "$out"
