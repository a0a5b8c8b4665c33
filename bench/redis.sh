#!/usr/bin/env bash
# redis.sh — redis-server under one allocator, driven by redis-benchmark.
#
# Measures requests per second for SET, GET and LPUSH (pipelined, -P 16, a
# fixed request count over a keyspace of REDIS_KEYSPACE random keys), the
# server's RSS after the load (used_memory_rss) and again after MEMORY PURGE,
# and what the allocator reports through redis's jemalloc calls:
# INFO memory's allocator_* fields (mallctl "stats.*"), the first line of
# MEMORY MALLOC-STATS (malloc_stats_print) and MEMORY PURGE's answer.
# The server is pinned to CPU 0 and redis-benchmark to CPU 1 (taskset) when
# there are two CPUs, so the two do not compete for a core (REDIS_PIN=0: no
# pinning).
#
# usage: bench/redis.sh NAME PRELOAD REQUESTS [PORT]
#   NAME      label printed in the result line
#   PRELOAD   library to LD_PRELOAD into redis-server ("" for none: Debian's
#             redis then uses the libjemalloc.so.2 it links)
#   REQUESTS  -n for redis-benchmark
#   PORT      loopback port (default: a free one)
# Prints one line:
#   REDIS allocator=NAME set_rps=.. get_rps=.. lpush_rps=.. rss_kb=.. ...
# Exits non-zero when the server does not come up or the benchmark fails.
# The server is always shut down (trap), and only 127.0.0.1 is used.
set -u
export LC_ALL=C

if [ $# -lt 3 ]; then
	echo "usage: $0 NAME PRELOAD REQUESTS [PORT]" >&2
	exit 2
fi
name=$1 preload=$2 requests=$3 port=${4:-}
keyspace=${REDIS_KEYSPACE:-1000000}
host=127.0.0.1
for t in redis-server redis-benchmark redis-cli; do
	command -v $t >/dev/null || { echo "redis.sh: $t not found" >&2; exit 2; }
done
if [ -z "$port" ]; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-redis.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		timeout 5 redis-cli -h $host -p "$port" shutdown nosave >/dev/null 2>&1
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cli() { timeout 20 redis-cli -h $host -p "$port" "$@"; }

# The server on CPU 0, the load generator on CPU 1 (when there are two),
# so the two do not fight over one core; less noise on a 2-core machine.
pin_server=() pin_client=()
if [ "${REDIS_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	pin_server=(taskset -c 0) pin_client=(taskset -c 1)
fi

unset LD_PRELOAD MALLOC_CONF
if [ -n "$preload" ]; then
	env LD_PRELOAD="$preload" "${pin_server[@]}" redis-server --port "$port" --bind $host --save '' \
		--appendonly no --dir "$tmp" --logfile "$tmp/server.log" --daemonize no &
else
	"${pin_server[@]}" redis-server --port "$port" --bind $host --save '' \
		--appendonly no --dir "$tmp" --logfile "$tmp/server.log" --daemonize no &
fi
pid=$!

up=0
for _ in $(seq 200); do # at most ~10 s
	if [ "$(cli ping 2>/dev/null)" = PONG ]; then
		up=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
if [ $up != 1 ]; then
	echo "redis.sh: redis-server ($name) did not come up on port $port" >&2
	tail -n 20 "$tmp/server.log" >&2 2>/dev/null
	exit 1
fi

out=$(timeout 300 "${pin_client[@]}" redis-benchmark -h $host -p "$port" -t set,get,lpush -P 16 \
	-n "$requests" -r "$keyspace" -q 2>&1 | tr '\r' '\n')
rc=$?
rps() { # last "TEST: <rps> requests per second" line
	printf '%s\n' "$out" | grep -E "^$1: [0-9.]+ requests per second" | tail -n 1 |
		sed -E 's/^[A-Z]+: ([0-9.]+) requests per second.*/\1/'
}
set_rps=$(rps SET) get_rps=$(rps GET) lpush_rps=$(rps LPUSH)
if [ $rc != 0 ] || [ -z "$set_rps" ] || [ -z "$get_rps" ] || [ -z "$lpush_rps" ]; then
	echo "redis.sh: redis-benchmark failed ($name): $out" >&2
	exit 1
fi

info=$(cli info memory | tr -d '\r')
field() { printf '%s\n' "$info" | sed -n "s/^$1://p" | head -n 1; }
kb() { local v; v=$(field "$1"); echo $(( ${v:-0} / 1024 )); }
rss_kb=$(kb used_memory_rss)
used_kb=$(kb used_memory)
alloc_kb=$(kb allocator_allocated)
active_kb=$(kb allocator_active)
resident_kb=$(kb allocator_resident)
mem_allocator=$(field mem_allocator)
stats=$(cli memory malloc-stats | tr -d '\r')
stats_first=$(printf '%s\n' "$stats" | grep -m1 -v '^[[:space:]]*$' | tr -c 'A-Za-z0-9._:\n-' '_')
stats_bytes=$(printf '%s' "$stats" | wc -c)
purge=$(cli memory purge | tr -d '\r\n' | tr -c 'A-Za-z0-9._-' '_')
info=$(cli info memory | tr -d '\r')
rss_purged_kb=$(kb used_memory_rss)
keys=$(cli dbsize | tr -d '\r')

echo "REDIS allocator=$name requests=$requests set_rps=$set_rps get_rps=$get_rps" \
	"lpush_rps=$lpush_rps rss_kb=$rss_kb rss_after_purge_kb=$rss_purged_kb" \
	"used_memory_kb=$used_kb allocator_allocated_kb=$alloc_kb" \
	"allocator_active_kb=$active_kb allocator_resident_kb=$resident_kb" \
	"keys=${keys:-0} mem_allocator=${mem_allocator:-none} purge=${purge:-none}" \
	"malloc_stats_bytes=$stats_bytes malloc_stats_first=${stats_first:-none}"
