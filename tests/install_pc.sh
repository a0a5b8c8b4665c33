#!/usr/bin/env bash
# install_pc.sh — `make install PREFIX=dir` after a plain `make` must install
# a strata.pc that points at dir: pkg-config then gives the flags that find
# the installed library and header, and a program built with them runs on
# strata.  (A strata.pc written for the default prefix at `make` time used to
# be copied as it was.)
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

# As the README says: build first (with the default prefix), then install.
"${MAKE:-make}" -s all >/dev/null
"${MAKE:-make}" -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"

fail() { echo "check-install: $*"; exit 1; }
libs=$(pkg-config --libs strata | xargs)
cflags=$(pkg-config --cflags strata | xargs)
[[ "$libs" == "-L$prefix/lib -lstrata" ]] || fail "pkg-config --libs strata gives '$libs'"
[[ "$cflags" == "-I$prefix/include" ]] || fail "pkg-config --cflags strata gives '$cflags'"

cat > "$tmp/prog.c" <<'PROG'
#include <stdio.h>
#include <strata.h>
int main(void)
{
	const char *version;
	size_t len = sizeof(version);
	void *p = mallocx(100, 0);
	if (p == NULL || mallctl("version", &version, &len, NULL, 0) != 0)
		return 1;
	dallocx(p, 0);
	printf("%s\n", version);
	return 0;
}
PROG
# shellcheck disable=SC2086 # the flags are words
cc $cflags -o "$tmp/prog" "$tmp/prog.c" $libs -Wl,-rpath,"$prefix/lib"
out=$("$tmp/prog") || fail "a program linked with pkg-config's flags failed"
# Not `ldd | grep -q`: under pipefail, grep's early exit can fail ldd with SIGPIPE.
libs_loaded=$(ldd "$tmp/prog")
[[ "$libs_loaded" == *"$prefix/lib/libstrata.so"* ]] || fail "the program did not load the installed library"
echo "check-install: ok (strata.pc for $prefix; linked program says version $out)"
