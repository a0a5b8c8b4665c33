#!/usr/bin/env bash
# real_programs.sh — real programs under LD_PRELOAD=lib/libstrata.so.
#
# Each program runs three times on the same input: on the system allocator,
# with strata preloaded (MALLOC_CONF empty), and with strata preloaded and
# the heap profiler on (one sample per 16 KiB, a final dump at exit).  Its
# output must be identical byte for byte, it must exit the same way, the
# preloaded runs must print no "<strata>: " message, and every process of
# the profiled run must leave a complete gzip dump (python3's is also read
# by bin/jeprof).  Programs: python3
# (dicts, lists, strings, big ints, PYTHONMALLOC=malloc), sqlite3 (100k-row
# table, indexes, queries), perl (a large hash sorted), git (a repository
# with two commits, gc, fsck), cc (compiling a generated C file), sort (a
# 50 MB file).  First it checks that strata really is what the preloaded
# runs get.
#
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

# run_pair NAME FUNCTION: runs FUNCTION (a shell function writing its
# result to stdout) in a fresh directory, plain and preloaded, and compares.
run_pair() {
	local name=$1 fn=$2 mode t0 t1
	local -A secs rc
	local dumps="$TMP/$name.dumps"
	mkdir -p "$dumps"
	for mode in plain strata prof; do
		local dir="$TMP/$name.$mode"
		mkdir -p "$dir"
		t0=$(now)
		(
			cd "$dir" || exit 99
			set -o pipefail # a crash anywhere in a pipeline fails the run
			export MALLOC_CONF=
			[ "$mode" != plain ] && export LD_PRELOAD="$LIB"
			[ "$mode" = prof ] &&
				export MALLOC_CONF="prof:true,lg_prof_sample:14,prof_final:true,prof_prefix:$dumps/heap"
			"$fn"
		) >"$TMP/$name.$mode.out" 2>"$TMP/$name.$mode.err"
		rc[$mode]=$?
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
			return
		elif grep -q '<strata>: ' "$TMP/$name.$mode.err"; then
			fail "$name: strata printed messages ($mode run) $times"
			grep '<strata>: ' "$TMP/$name.$mode.err" | head -n 10 | sed 's/^/      | /'
			return
		fi
	done
	if [ ! -s "$TMP/$name.plain.out" ]; then
		fail "$name: no output to compare $times"
	elif ! check_final_dumps "$name" "$dumps"; then
		return
	else
		ok "$name $times"
	fi
}

# check_final_dumps NAME DIR: the profiled run left at least one final dump
# in DIR, each one a complete gzip file holding a heap_v2 profile.
check_final_dumps() {
	local name=$1 dir=$2 n=0 f
	for f in "$dir"/heap.*.f.heap.gz; do
		[ -e "$f" ] || break
		n=$((n + 1))
		if ! gzip -t "$f" 2>/dev/null || [ "$(zcat "$f" | head -c 8)" != "heap_v2/" ] ||
			! zcat "$f" | grep -q '^MAPPED_LIBRARIES:$'; then
			fail "$name: the final dump $f is not a complete heap profile"
			return 1
		fi
	done
	if [ "$n" = 0 ]; then
		fail "$name: the profiled run left no final dump"
		return 1
	fi
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

for p in "$PY" sqlite3 perl git cc sort; do
	if ! command -v "$p" >/dev/null 2>&1; then
		fail "$p is not installed (make test-deps installs it)"
	fi
done

# The sort input: 50 MB, generated once, outside the measured runs.
awk 'BEGIN {
	srand(42)
	for (i = 0; i < 1850000; i++)
		printf "%09d %s%05d %c%c%c%c\n", int(rand() * 1e9), (i % 3 ? "w" : "z"), int(rand() * 1e5),
			97 + int(rand() * 26), 97 + int(rand() * 26), 97 + int(rand() * 26), 97 + int(rand() * 26)
}' >"$TMP/sort.input"

command -v "$PY" >/dev/null 2>&1 && run_pair python3 prog_python3
command -v sqlite3 >/dev/null 2>&1 && run_pair sqlite3 prog_sqlite3
command -v perl >/dev/null 2>&1 && run_pair perl prog_perl
command -v git >/dev/null 2>&1 && run_pair git prog_git
command -v cc >/dev/null 2>&1 && run_pair cc prog_cc
run_pair sort prog_sort

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
