#!/usr/bin/env bash
# tests/package/test_cxx.sh - the public headers are C++ as well as C: each
# header of include/ghost/ compiles on its own as C++17 and as C11 with
# -Wall -Wextra -Werror, every one that declares functions wraps them in
# extern "C", and tests/cxx/all_headers.cc builds against the shared
# library and runs. Skipped (77) without a C++ compiler or a shared build.
set -u
cd "$(dirname "$0")/../.."
cxx=${CXX:-g++} cc=${CC:-cc}
if ! command -v "$cxx" >/dev/null; then
	echo "no C++ compiler ($cxx)"
	exit 77
fi
if [ ! -e build/lib/libghost.so ]; then
	echo "no build/lib/libghost.so (a STATIC=1 build?)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for h in include/ghost/*.h; do
	name=ghost/$(basename "$h")
	printf '#include <%s>\n' "$name" >"$tmp/one.cc"
	"$cxx" -std=c++17 -Wall -Wextra -Werror -Iinclude -fsyntax-only "$tmp/one.cc" ||
		{ echo "FAIL: <$name> as C++17"; fail=1; }
	"$cc" -std=c11 -Wall -Wextra -Werror -Iinclude -fsyntax-only -x c "$tmp/one.cc" ||
		{ echo "FAIL: <$name> on its own as C11"; fail=1; }
	if grep -Eq 'GHOST_API|static inline' "$h" && ! grep -q 'extern "C" {' "$h"; then
		echo "FAIL: <$name> declares functions without extern \"C\""
		fail=1
	fi
done
if "$cxx" -std=c++17 -Wall -Wextra -Werror -Iinclude tests/cxx/all_headers.cc \
	-Lbuild/lib -lghost -Wl,-rpath,"$PWD/build/lib" -o "$tmp/all_headers"; then
	"$tmp/all_headers" || { echo "FAIL: tests/cxx/all_headers.cc ran and failed"; fail=1; }
else
	echo "FAIL: tests/cxx/all_headers.cc does not build against build/lib/libghost.so"
	fail=1
fi
exit $fail
