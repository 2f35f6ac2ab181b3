#!/usr/bin/env bash
# scripts/check-format.sh - does every C and C++ file of the tree follow .clang-format?
#
# Usage: scripts/check-format.sh [--fix]
# Checks the files git tracks (*.c, *.h, *.cc; not the BPF programs, which follow the
# kernel's own tools, nor a generated vmlinux.h) with clang-format --dry-run and names each
# file that differs with the first lines of the difference; --fix rewrites them instead.
# Exit 0: all follow it; 1: some differ; 77: no clang-format of the version the tree was
# formatted with (its line breaking differs from version to version), so nothing to say.
set -u
cd "$(dirname "$0")/.."
want=14
cf=$(command -v clang-format-$want || command -v clang-format || true)
if [ -z "$cf" ]; then
	echo "check-format: no clang-format (the packaging installs clang-format $want)"
	exit 77
fi
have=$("$cf" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
if [ "$have" != "$want" ]; then
	echo "check-format: clang-format $have here; the tree is formatted with $want"
	exit 77
fi
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cc' 2>/dev/null | grep -v '\.bpf\.c$\|vmlinux\.h$')
if [ ${#files[@]} -eq 0 ]; then
	echo "check-format: no files (not a git checkout?)"
	exit 77
fi
if [ "${1:-}" = --fix ]; then
	"$cf" -i "${files[@]}"
	exit 0
fi
bad=0
for f in "${files[@]}"; do
	if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad=$((bad + 1))
		echo "check-format: $f does not follow .clang-format:"
		"$cf" "$f" | diff -u "$f" - | sed -n '3,12p' | sed 's/^/    /'
	fi
done
if [ $bad -gt 0 ]; then
	echo "check-format: $bad of ${#files[@]} files differ (scripts/check-format.sh --fix, or make format)"
	exit 1
fi
echo "check-format: ${#files[@]} files follow .clang-format"
