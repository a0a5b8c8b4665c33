#!/usr/bin/env bash
# real_programs.sh — real programs under LD_PRELOAD=lib/libstrata.so.
#
# Each program runs three times on the same input: on the system allocator,
# with strata preloaded (MALLOC_CONF empty), and with strata preloaded and
# the heap profiler on (one sample per 16 KiB, a final dump at exit, and
# the dump signal, prof_signal:URG, sent to the run's process group every
# 0.2 s).  Its output must be identical byte for byte, it must exit the
# same way, the preloaded runs must print no "<strata>: " message, and the
# profiled run must leave final dumps and signal dumps, every one of them a
# complete gzip heap_v2 profile, every recent-allocations file beside a
# signal's dump complete JSON, and no temporary file (python3's final dump
# is also read by bin/jeprof).  Programs: python3 (dicts, lists, strings,
# big ints, PYTHONMALLOC=malloc), sqlite3 (100k-row table, indexes,
# queries), perl (a large hash sorted), git (a repository with two commits,
# gc, fsck), cc (compiling a generated C file), sort (a 50 MB file),
# pytests (28 of CPython's own test modules, each one's exit status
# compared), gcc-large (gcc -O2 on a generated 21,000-line file), cxx
# (tests/programs/cxx_containers.cpp: threads, containers, exceptions) and
# redis (redis-server driven by redis-cli and redis-benchmark; its "plain"
# run is on the jemalloc it is linked with).  First it checks that strata
# really is what the preloaded runs get.
#
# PROGRAMS="name ..." runs only the programs named.
# Prints one line per check and "N passed, N failed"; exits 1 on any
# failure.  Run by `make check-programs` from the repository root.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# STRATA_LIB: another library to check the script itself with (e.g. jemalloc).
LIB="${STRATA_LIB:-$ROOT/lib/libstrata.so}"
if [ ! -f "$LIB" ]; then
	echo "real_programs: $LIB is not built (run make)" >&2
	exit 2
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || echo python3)
# The dump signal of the profiled runs (prof_signal): ignored by default, so
# a process that has not installed strata's handler yet is not disturbed.
DUMP_SIG=URG
PY_TESTSUITE=/usr/lib/python3.11/test

TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-programs.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
unset LD_PRELOAD

passed=0
failed=0

ok() {
	passed=$((passed + 1))
	printf 'ok    %s\n' "$*"
}

fail() {
	failed=$((failed + 1))
	printf 'FAIL  %s\n' "$*"
}

# Indented excerpt of a file, for failure reports.
excerpt() {
	head -c 2000 "$1" | head -n 15 | sed 's/^/      | /'
}

now() {
	echo "${EPOCHREALTIME/,/.}"
}

# run_pair NAME FUNCTION [FOREIGN]: runs FUNCTION (a shell function writing
# its result to stdout) in a fresh directory, plain and preloaded, and
# compares.  FOREIGN: the suffix of files another profiler leaves among the
# dumps (see check_dumps).
run_pair() {
	local name=$1 fn=$2 foreign=${3:-} mode t0 t1
	local -A secs rc
	local dumps="$TMP/$name.dumps"
	mkdir -p "$dumps"
	for mode in plain strata prof; do
		local dir="$TMP/$name.$mode"
		mkdir -p "$dir"
		t0=$(now)
		# The profiled run is a process group of its own, so that the dump
		# signal reaches every process it starts and nothing else.
		[ "$mode" = prof ] && set -m
		(
			cd "$dir" || exit 99
			set -o pipefail # a crash anywhere in a pipeline fails the run
			export MALLOC_CONF=
			[ "$mode" != plain ] && export LD_PRELOAD="$LIB"
			[ "$mode" = prof ] &&
				export MALLOC_CONF="prof:true,lg_prof_sample:14,prof_final:true,prof_signal:$DUMP_SIG,prof_prefix:$dumps/heap"
			"$fn"
		) </dev/null >"$TMP/$name.$mode.out" 2>"$TMP/$name.$mode.err" &
		local pid=$!
		set +m
		local signaller=
		if [ "$mode" = prof ]; then
			signal_group "$pid" &
			signaller=$!
		fi
		wait "$pid"
		rc[$mode]=$?
		if [ -n "$signaller" ]; then
			kill "$signaller" 2>/dev/null
			wait "$signaller" 2>/dev/null
		fi
		t1=$(now)
		secs[$mode]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	done
	local times="(plain ${secs[plain]} s, strata ${secs[strata]} s, profiled ${secs[prof]} s)"
	if [ "${rc[plain]}" != 0 ]; then
		fail "$name: the plain run itself failed (exit ${rc[plain]}) $times"
		excerpt "$TMP/$name.plain.err"
		return
	fi
	for mode in strata prof; do
		if [ "${rc[$mode]}" != 0 ]; then
			fail "$name: exit ${rc[$mode]} under strata ($mode run), 0 without $times"
			excerpt "$TMP/$name.$mode.err"
			return
		elif ! cmp -s "$TMP/$name.plain.out" "$TMP/$name.$mode.out"; then
			fail "$name: output differs under strata ($mode run) $times"
			diff "$TMP/$name.plain.out" "$TMP/$name.$mode.out" | head -n 15 | sed 's/^/      | /'
			excerpt "$TMP/$name.$mode.err"
			return
		elif grep -q '<strata>: ' "$TMP/$name.$mode.err"; then
			fail "$name: strata printed messages ($mode run) $times"
			grep '<strata>: ' "$TMP/$name.$mode.err" | head -n 10 | sed 's/^/      | /'
			return
		fi
	done
	if [ ! -s "$TMP/$name.plain.out" ]; then
		fail "$name: no output to compare $times"
	elif ! check_dumps "$name" "$dumps" "$foreign"; then
		return
	else
		ok "$name $times, $DUMPS_SEEN"
	fi
}

# signal_group PGID: sends the dump signal to the process group PGID every
# 0.2 s until the group is gone (the caller also kills this loop when the
# group's leader has been waited for).  Processes that have not (yet)
# installed strata's handler ignore it: SIGURG's default action is to ignore.
signal_group() {
	while kill -"$DUMP_SIG" -- "-$1" 2>/dev/null; do
		sleep 0.2
	done
}

# check_dumps NAME DIR: the profiled run left at least one final dump and
# at least one dump asked for by the signal in DIR; every dump is a complete
# gzip file holding a heap_v2 profile, every ring of recent allocations
# written beside a signal's dump is complete JSON, and no other file (a
# temporary one) is left, except files named *FOREIGN when FOREIGN is not
# empty (a program linked with jemalloc: its profiler reads MALLOC_CONF too).
# Sets DUMPS_SEEN to what was found.
check_dumps() {
	local name=$1 dir=$2 foreign=$3 out f
	out=$("$PY" - "$dir" "$foreign" 2>&1 <<'EOF'
import gzip, json, os, sys, zlib
d, foreign = sys.argv[1], sys.argv[2]
final = signal = recent = other = 0
for f in sorted(os.listdir(d)):
    p = os.path.join(d, f)
    if foreign and f.endswith(foreign):
        other += 1
        continue
    try:
        with gzip.open(p, "rb") as g:
            text = g.read()
    except (OSError, EOFError, zlib.error) as e:
        sys.exit("%s is not a complete gzip file: %s" % (f, e))
    if f.endswith(".recent.json.gz"):
        try:
            json.loads(text)
        except ValueError as e:
            sys.exit("%s is not complete JSON: %s" % (f, e))
        recent += 1
    elif f.endswith(".heap.gz") and (".f." in f or ".m" in f):
        if not text.startswith(b"heap_v2/") or b"\nMAPPED_LIBRARIES:\n" not in text:
            sys.exit("%s is not a complete heap profile" % f)
        if ".f." in f:
            final += 1
        else:
            signal += 1
    else:
        sys.exit("%s is no dump" % f)
if final == 0:
    sys.exit("no final dump")
if signal == 0:
    sys.exit("the dump signal made no dump")
print("dumps: %d final, %d on signal, %d recent" % (final, signal, recent) +
      (", %d *%s not strata's" % (other, foreign) if other else ""))
EOF
	)
	if [ $? != 0 ]; then
		fail "$name: in the profiled run's dumps: $out"
		return 1
	fi
	DUMPS_SEEN=$out
	f=$(ls "$dir"/*.f.heap.gz | head -n 1)
	if [ "$name" = python3 ] && ! "$ROOT/bin/jeprof" --text "$PY" "$f" 2>&1 | grep -q '^Total: '; then
		fail "$name: bin/jeprof cannot read the final dump $f"
		return 1
	fi
	return 0
}

# ------------------------------------------------------------ the programs

prog_python3() {
	cat >work.py <<'EOF'
# Allocation-heavy and deterministic: dicts, lists, strings, big ints, sets.
import hashlib, json, random
rng = random.Random(20240601)
h = hashlib.sha256()
d = {}
for i in range(100000):
    k = "key-%d-%s" % (i, "x" * (i % 37))
    d[k] = [i, str(i * 7), (i, i + 1), {"n": i % 101}]
for i in range(0, 100000, 2):
    del d["key-%d-%s" % (i, "x" * (i % 37))]
h.update(json.dumps(sorted(d.items())[:2000]).encode())
f = 1
for i in range(2, 5000):
    f *= i
h.update(f.to_bytes((f.bit_length() + 7) // 8, "little"))
p = pow(3, 100000, 10**10000 + 7) * (7 ** 20000)
h.update(p.to_bytes((p.bit_length() + 7) // 8, "little"))
s = "".join(chr(97 + rng.randrange(26)) for _ in range(500000))
parts = s.split("q")
s2 = "|".join(x[::-1] for x in parts).replace("a", "AA")
h.update(s2.encode())
rows = [[rng.random(), rng.randrange(10**9), "r%d" % i] for i in range(60000)]
rows.sort()
blob = json.dumps(rows)
assert json.loads(blob) == rows
h.update(blob.encode())
acc = set()
for i in range(200000):
    acc.add((i % 9973, str(i % 7919)))
h.update(str(sorted(acc)[:1000]).encode())
b = bytearray()
for i in range(100000):
    b += i.to_bytes(4, "little") * (i % 5)
h.update(b)
print(len(d), len(parts), len(rows), len(acc), len(b))
print(h.hexdigest())
EOF
	PYTHONHASHSEED=0 PYTHONMALLOC=malloc "$PY" work.py
}

prog_sqlite3() {
	sqlite3 t.db <<'EOF'
PRAGMA cache_size = -65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO t SELECT i, (i * 7919) % 100003,
	printf('row-%06d-%s', i, substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26)),
	(i % 1000) / 8.0 FROM n;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a), min(b), max(b), sum(c) FROM t;
SELECT a % 10 AS k, count(*), sum(c), max(b) FROM t GROUP BY k ORDER BY k;
SELECT id, a, b FROM t WHERE a BETWEEN 500 AND 530 ORDER BY b;
SELECT group_concat(b, ',') FROM (SELECT b FROM t ORDER BY a DESC LIMIT 40);
UPDATE t SET b = b || '-updated-' || (id % 97) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), sum(length(b)), total(c) FROM t;
SELECT t1.id, t2.id, t2.b FROM t t1 JOIN t t2 ON t1.a = t2.id WHERE t1.id < 40 ORDER BY t1.id;
SELECT sum(x) FROM (SELECT (a * id) % 1000003 AS x FROM t ORDER BY b DESC);
SELECT substr(b, 1, 8), count(*) FROM t GROUP BY substr(b, 1, 8) ORDER BY 2 DESC, 1 LIMIT 10;
VACUUM;
PRAGMA integrity_check;
EOF
}

prog_perl() {
	PERL_HASH_SEED=0 perl -MDigest::MD5 -e '
		my %h;
		for my $i (1 .. 150000) {
			$h{"k$i" . ("y" x ($i % 13))} = ($i * 7919) % 1000003;
		}
		delete $h{"k$_" . ("y" x ($_ % 13))} for grep { $_ % 4 == 0 } 1 .. 150000;
		my @k = sort { $h{$a} <=> $h{$b} || $a cmp $b } keys %h;
		my $md5 = Digest::MD5->new;
		$md5->add("$_=$h{$_}\n") for @k;
		my $s = join(",", @k[0 .. 999]);
		my @w = split /y+/, $s;
		(my $t = $s) =~ s/k(\d+)/<$1>/g;
		print scalar(@k), " ", scalar(@w), " ", length($t), "\n", $md5->hexdigest, "\n";
	'
}

prog_git() {
	export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
	export GIT_AUTHOR_NAME=strata GIT_AUTHOR_EMAIL=strata@example.com
	export GIT_COMMITTER_NAME=strata GIT_COMMITTER_EMAIL=strata@example.com
	export GIT_AUTHOR_DATE='2024-01-01T00:00:00+0000' GIT_COMMITTER_DATE='2024-01-01T00:00:00+0000'
	git -c init.defaultBranch=main init -q repo && cd repo || return 1
	mkdir -p src docs
	awk 'BEGIN {
		for (i = 0; i < 300; i++) {
			f = "src/file" i ".txt"
			for (j = i; j <= i * 40 + 100; j++)
				print "line " i ": " j > f
			close(f)
		}
	}' || return 1
	seq 1 20000 >docs/numbers.txt
	local i
	git add -A && git commit -q -m "first commit" || return 1
	for ((i = 0; i < 300; i += 3)); do
		echo "changed $i" >>"src/file$i.txt"
	done
	git rm -q "src/file299.txt"
	git commit -q -am "second commit" || return 1
	export GIT_COMMITTER_DATE='2024-01-02T00:00:00+0000'
	git tag -a v1 -m "tag" HEAD~1
	git log --format='%H %T %s'
	git cat-file -p 'HEAD^{tree}'
	git cat-file -p HEAD:src/file3.txt | tail -n 3
	git rev-list --objects --all | sort | sha256sum
	git diff --stat HEAD~1 HEAD | tail -n 1
	git gc -q || return 1
	git fsck --no-progress --full || return 1
	git count-objects -v | grep -v -e size -e garbage
	git log --format='%H' --all | sha256sum
}

prog_cc() {
	# A generated translation unit big enough to keep cc1 allocating.
	local i
	{
		echo '#include <string.h>'
		for ((i = 0; i < 300; i++)); do
			echo "struct s$i { int a[$((i % 17 + 1))]; char name[32]; };"
			echo "static int f$i(struct s$i *p, int x) { for (int k = 0; k < $((i % 17 + 1)); k++) x += p->a[k] * $i ^ k; if (x % 3) memcpy(p->name, \"n$i\", 3); return x + (int)strlen(p->name); }"
		done
		echo 'int run(int x) {'
		for ((i = 0; i < 300; i++)); do
			echo "  { struct s$i v; memset(&v, $((i % 7)), sizeof v); x = f$i(&v, x); }"
		done
		echo '  return x; }'
	} >gen.c
	cc -O2 -g -frandom-seed=strata -ffile-prefix-map="$PWD"=. -c gen.c -o gen.o || return 1
	sha256sum gen.o
	wc -l <gen.c
}

prog_sort() {
	sort --parallel=2 -S 256M "$TMP/sort.input" | sha256sum
	sort --parallel=2 -S 256M -t ' ' -k2,2 -k1,1n "$TMP/sort.input" | tail -n 5
	wc -l <"$TMP/sort.input"
}

# CPython's own test modules (Debian's libpython3.11-testsuite), chosen for
# allocation-heavy coverage and run one by one; the output is each module's
# exit status, so none may fail under strata that passes without it.  The
# regrtest log of a failing module goes to stderr.
PY_TESTS="test_dict test_list test_tuple test_set test_unicode test_bytes test_long
	test_float test_decimal test_json test_pickle test_re test_deque test_heapq
	test_bisect test_sort test_collections test_ordered_dict test_itertools
	test_functools test_array test_memoryview test_struct test_gc
	test_zlib test_descr test_generators test_copy"

prog_pytests() {
	local m rc
	for m in $PY_TESTS; do
		PYTHONHASHSEED=0 PYTHONMALLOC=malloc "$PY" -m test "$m" >"$m.log" 2>&1
		rc=$?
		echo "$m $rc"
		[ "$rc" = 0 ] || tail -n 40 "$m.log" >&2
	done
}

# gcc -O2 on a generated translation unit of ~21,000 lines: 400 functions
# (switches, loops, structs, string tables, inlining candidates) and a
# 12,000-row initialized table.
prog_gcc_large() {
	awk 'BEGIN {
		print "#include <stdint.h>\n#include <string.h>"
		for (i = 0; i < 400; i++) {
			n = i % 23 + 2
			printf "struct r%d { uint32_t v[%d]; const char *tag; double w; };\n", i, n
			printf "static const char *const names%d[] = {", i
			for (k = 0; k < 6; k++)
				printf "\"n%d_%d_%s\", ", i, k, substr("abcdefghijklmnop", 1 + (i + k) % 16)
			print "};"
			printf "static inline uint32_t mixer%d(uint32_t x) { return (x * %du) ^ (x >> %d); }\n",
				i, 2654435761 % (i + 97), i % 13 + 1
			printf "uint64_t f%d(struct r%d *r, uint64_t acc, int sel) {\n", i, i
			printf "  for (int k = 0; k < %d; k++) {\n", n
			printf "    r->v[k] = mixer%d(r->v[k] + (uint32_t)acc);\n", i
			print "    switch ((r->v[k] + sel) & 7) {"
			for (c = 0; c < 8; c++)
				printf "    case %d: acc += r->v[k] * %du + strlen(names%d[%d]); break;\n",
					c, c * 31 + i, i, c % 6
			print "    }"
			print "  }"
			printf "  if (acc %% %d == 0) r->tag = names%d[acc %% 6];\n", i % 5 + 2, i
			printf "  r->w = (double)acc / %d.5;\n", i + 1
			printf "  return acc ^ (uint64_t)r->w;\n}\n"
		}
		print "struct row { int id; const char *name; double w; uint16_t bits[4]; };"
		print "const struct row table[] = {"
		for (i = 0; i < 12000; i++)
			printf "  { %d, \"row%d_%x\", %d.25, { %d, %d, %d, %d } },\n", i, i, i * 7919, i % 1000,
				i % 65536, (i * 3) % 65536, (i * 5) % 65536, (i * 7) % 65536
		print "};"
		print "uint64_t run_all(uint64_t acc) {"
		for (i = 0; i < 400; i++)
			printf "  { struct r%d r; memset(&r, %d, sizeof r); acc = f%d(&r, acc, %d); }\n", i, i % 9, i, i % 5
		print "  return acc;\n}"
	}' >big.c || return 1
	gcc -O2 -frandom-seed=strata -c big.c -o big.o || return 1
	wc -l <big.c
	sha256sum big.o
	size big.o
}

# The C++ program of tests/programs/: its checksums.
prog_cxx() {
	"$ROOT/build/programs/cxx_containers"
}

# redis-server on a unix socket: a fixed script of commands (SET, APPEND,
# INCRBY, DEL, RPUSH, LTRIM, HSET, SADD, ZADD) piped in, redis-benchmark's
# pipelined SET/GET/LPUSH/LPOP/LRANGE/HSET/SADD/ZADD/MSET in database 1
# (random keys, flushed after), then the data checked (DBSIZE, INFO keyspace,
# DEBUG DIGEST, sorted dumps of some keys), DEBUG RELOAD (the whole data
# set freed and read back) and the digest again, the allocator's mallctl
# figures (INFO memory, MEMORY PURGE, MEMORY MALLOC-STATS), and SHUTDOWN
# NOSAVE with the server's exit status.  Debian's redis is linked with
# libjemalloc.so.2 and calls malloc, mallctl, nallocx, malloc_usable_size
# and malloc_stats_print unprefixed, so LD_PRELOAD replaces jemalloc with
# strata; the "plain" run is on jemalloc.  jemalloc still initializes
# itself and reads MALLOC_CONF: in the profiled run it complains about
# strata's options and leaves its own (empty) final dump, *.f.heap.
prog_redis() {
	local sock=$PWD/redis.sock pid i
	redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no \
		--enable-debug-command yes --dir "$PWD" --logfile "$PWD/server.log" &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		[ "$(redis-cli -s "$sock" ping 2>/dev/null)" = PONG ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	local cli=(redis-cli -s "$sock")
	awk 'function cmd(a, b, c, d,   n) {
		n = (d != "") ? 4 : (c != "") ? 3 : (b != "") ? 2 : 1
		printf "*%d\r\n$%d\r\n%s\r\n", n, length(a), a
		if (n > 1) printf "$%d\r\n%s\r\n", length(b), b
		if (n > 2) printf "$%d\r\n%s\r\n", length(c), c
		if (n > 3) printf "$%d\r\n%s\r\n", length(d), d
	}
	BEGIN {
		for (i = 0; i < 40000; i++) {
			cmd("SET", "k:" i, "value-" i "-" substr("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1, i % 48))
			if (i % 3 == 0) cmd("APPEND", "k:" i, sprintf("%0" (i % 300) "d", i))
			if (i % 10 == 0) cmd("DEL", "k:" (i / 2))
			if (i % 7 == 0) cmd("INCRBY", "c:" (i % 100), i)
			cmd("RPUSH", "l:" (i % 200), "e-" i)
			if (i % 1000 == 999) cmd("LTRIM", "l:" (i % 200), 0, 150)
			cmd("HSET", "h:" (i % 500), "f:" i, "hv-" (i * 31 % 977))
			cmd("SADD", "s:" (i % 300), "m:" (i * 7 % 10007))
			cmd("ZADD", "z:" (i % 100), i * 13 % 1000, "zm:" i)
		}
	}' | "${cli[@]}" --pipe | grep -v -e '^All data transferred' -e '^Waiting for the last'
	redis-benchmark -s "$sock" --dbnum 1 -n 20000 -c 8 -P 16 -r 5000 --csv \
		-t set,get,lpush,lpop,lrange_100,hset,sadd,zadd,mset | cut -d, -f1
	"${cli[@]}" -n 1 flushdb
	"${cli[@]}" dbsize
	"${cli[@]}" info keyspace | tr -d '\r' | grep '^db'
	"${cli[@]}" debug digest
	"${cli[@]}" lrange l:7 0 -1 | sha256sum
	"${cli[@]}" zrange z:3 0 -1 withscores | sha256sum
	"${cli[@]}" hgetall h:11 | paste - - | sort | sha256sum
	"${cli[@]}" smembers s:5 | sort | sha256sum
	"${cli[@]}" mget k:3 k:9999 k:39999 c:7 | sha256sum
	"${cli[@]}" debug reload
	"${cli[@]}" debug digest
	"${cli[@]}" info memory | tr -d '\r' |
		awk -F: '/^allocator_(allocated|active|resident):/ { print $1, ($2 > 0 ? "> 0" : "= 0") }'
	"${cli[@]}" memory purge
	echo "malloc-stats lines > 20: $("${cli[@]}" memory malloc-stats | awk 'END { print (NR > 20) }')"
	"${cli[@]}" shutdown nosave
	wait "$pid"
	echo "server exit $?"
}

# ----------------------------------------------------- is strata loaded?

check_loaded() {
	local out
	out=$(LD_PRELOAD="$LIB" MALLOC_CONF='' "$PY" -c '
import ctypes
maps = open("/proc/self/maps").read()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc_usable_size.argtypes = [ctypes.c_void_p]
libc.malloc_usable_size.restype = ctypes.c_size_t
p = libc.malloc(100)
print("libstrata.so" in maps, hasattr(libc, "mallctl"), libc.malloc_usable_size(p))
' 2>&1)
	# glibc would say 104 for malloc(100) and has no mallctl; strata's
	# size class for 100 bytes is 112.
	if [ "$out" = "True True 112" ]; then
		ok "strata is loaded by LD_PRELOAD (mapped, mallctl found, malloc(100) usable 112)"
	else
		fail "strata is not what LD_PRELOAD'ed programs get: \"$out\" (expected \"True True 112\")"
	fi

	local stats
	stats=$(LD_PRELOAD="$LIB" MALLOC_CONF=stats_print:true "$PY" -c pass 2>&1 >/dev/null)
	if [ "$(printf '%s\n' "$stats" | wc -l)" -ge 5 ] && printf '%s' "$stats" | grep -qi strata; then
		ok "MALLOC_CONF=stats_print:true prints strata's statistics at exit"
	else
		fail "MALLOC_CONF=stats_print:true printed no strata statistics"
		printf '%s\n' "$stats" | head -n 10 | sed 's/^/      | /'
	fi
}

# --------------------------------------------------------------- main

check_loaded

for p in "$PY" sqlite3 perl git cc sort gcc redis-server redis-cli redis-benchmark; do
	if ! command -v "$p" >/dev/null 2>&1; then
		fail "$p is not installed (make test-deps installs it)"
	fi
done
if [ ! -e "$PY_TESTSUITE/test_dict.py" ]; then
	fail "CPython's test modules are not installed in $PY_TESTSUITE (make test-deps installs libpython3.11-testsuite)"
fi
if [ ! -x "$ROOT/build/programs/cxx_containers" ]; then
	fail "build/programs/cxx_containers is not built (make check-programs builds it)"
fi

# wanted NAME: NAME is in $PROGRAMS, or $PROGRAMS is empty (all programs).
wanted() {
	[ -z "${PROGRAMS:-}" ] || [[ " $PROGRAMS " == *" $1 "* ]]
}

if wanted sort; then
	# The sort input: 50 MB, generated once, outside the measured runs.
	awk 'BEGIN {
		srand(42)
		for (i = 0; i < 1850000; i++)
			printf "%09d %s%05d %c%c%c%c\n", int(rand() * 1e9), (i % 3 ? "w" : "z"), int(rand() * 1e5),
				97 + int(rand() * 26), 97 + int(rand() * 26), 97 + int(rand() * 26), 97 + int(rand() * 26)
	}' >"$TMP/sort.input"
fi

# run NAME FUNCTION NEEDS [FOREIGN]: run_pair NAME FUNCTION [FOREIGN] when
# NAME is wanted and NEEDS (a command or a file) is there; a missing one
# failed above.
run() {
	wanted "$1" && { command -v "$3" >/dev/null 2>&1 || [ -e "$3" ]; } && run_pair "$1" "$2" "${4:-}"
}

run python3 prog_python3 "$PY"
run sqlite3 prog_sqlite3 sqlite3
run perl prog_perl perl
run git prog_git git
run cc prog_cc cc
run sort prog_sort sort
run pytests prog_pytests "$PY_TESTSUITE/test_dict.py"
run gcc-large prog_gcc_large gcc
run cxx prog_cxx "$ROOT/build/programs/cxx_containers"
run redis prog_redis redis-benchmark .f.heap

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
