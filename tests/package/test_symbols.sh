#!/usr/bin/env bash
# tests/package/test_symbols.sh - scripts/check-symbols.sh passes on the
# build, and when the library, src/libghost.map and the headers disagree it
# fails naming exactly the symbols that differ: here a library linked from
# the same objects with a map that drops one declared function and lists
# one that does not exist (linked with libbpf where there is one, which a
# build with SCX=1 needs). Skipped (77) without a shared build.
set -u
cd "$(dirname "$0")/../.."
lib=build/lib/libghost.so
if [ ! -e "$lib" ]; then
	echo "no $lib (a STATIC=1 build?)"
	exit 77
fi
fail() {
	echo "FAIL: $*"
	exit 1
}
scripts/check-symbols.sh "$lib" || fail "scripts/check-symbols.sh fails on the build (above)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
real=$(basename "$(readlink -f "$lib")")
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
dropped=$(sed -n 's/^    \(ghost_[a-z0-9_]*\);$/\1/p' src/libghost.map | tail -n 1)
header=$(grep -l "GHOST_API.*[^a-z0-9_]$dropped(" include/ghost/*.h)
[ -n "$dropped" ] && [ -n "$header" ] || fail "no symbol of src/libghost.map declared GHOST_API to drop"
sed -e "/^    $dropped;\$/d" -e 's/^  global:$/  global:\n    ghost_no_such_symbol;/' \
	src/libghost.map >"$tmp/libghost.map"
${CC:-cc} -shared -Wl,--version-script="$tmp/libghost.map" -Wl,-soname,"$soname" -o "$tmp/$real" \
	-Wl,--whole-archive build/lib/libghost.a -Wl,--no-whole-archive -Wl,--as-needed -pthread -lm \
	$(pkg-config --libs libbpf 2>/dev/null) || fail "cannot link a library with the changed map"

scripts/check-symbols.sh "$tmp/$real" "$tmp/libghost.map" >"$tmp/out"
rc=$?
cat "$tmp/out"
[ $rc -eq 1 ] || fail "check-symbols exited $rc on a library and map that differ, not 1"
named=$(sed -n 's/^check-symbols: \(ghost_[a-z0-9_]*\) .*/\1/p' "$tmp/out" | sort -u | paste -sd' ')
want=$(printf '%s\n' "$dropped" ghost_no_such_symbol | sort | paste -sd' ')
[ "$named" = "$want" ] || fail "check-symbols named \"$named\", not \"$want\""
grep -q "^check-symbols: $dropped is declared GHOST_API in $header but .* does not export it" "$tmp/out" ||
	fail "check-symbols does not say that $dropped ($header) is not exported"
grep -q "^check-symbols: ghost_no_such_symbol is listed in .* does not export it" "$tmp/out" ||
	fail "check-symbols does not say that ghost_no_such_symbol is listed but not exported"
echo "check-symbols names exactly $want when they differ"
