#!/usr/bin/env bash
# scripts/run-tests.sh - the whole test suite (`make test`): the plain build
# and its packaging (install, pkg-config, exported symbols), then
# AddressSanitizer+UBSan, then ThreadSanitizer on the concurrency
# tests, then a smoke run of the fuzz targets. Ends with one line
# "N passed, N failed, N skipped" over all tiers and exits non-zero if
# anything failed.
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
total_pass=0 total_fail=0 total_skip=0
summary() {
	# Adds a tier's closing line to the totals.
	local line=$1
	local p f s
	p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$line")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$line")
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-1}))
	total_skip=$((total_skip + ${s:-0}))
}
tier() {
	local name=$1 log
	shift
	echo "== $name"
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	summary "$(tail -n 1 "$log")"
	rm -f "$log"
}

echo "== build"
if ! make -s -j"$jobs" all >/dev/null; then
	make -j1 all
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
tier "unit and end-to-end tests" tests/run.sh build/tests/test_* tests/test_layers.sh tests/test_plugins.sh \
	tests/test_policies_procs.sh tests/test_trace.sh tests/test_trace_html.sh tests/test_top.sh tests/test_sim.sh tests/test_interpose.sh \
	scripts/check-format.sh
# make install into temporary trees and the installed library used through
# pkg-config (shared, static, C++); the exports against src/libghost.map.
tier "packaging" tests/run.sh tests/package/test_*.sh

echo "== build with AddressSanitizer and UndefinedBehaviorSanitizer"
if make -s -j"$jobs" BUILD=build/asan SAN=asan OPT=-O1 all >/dev/null; then
	tier "tests under ASan/UBSan" env ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh build/asan/tests/test_*
else
	total_fail=$((total_fail + 1))
fi

echo "== build with ThreadSanitizer"
if make -s -j"$jobs" BUILD=build/tsan SAN=tsan OPT=-O1 all >/dev/null; then
	tsan_tests=()
	while read -r name; do
		case $name in '#'* | '') continue ;; esac
		[ -x "build/tsan/tests/$name" ] && tsan_tests+=("build/tsan/tests/$name")
	done <tests/tsan.list
	tier "concurrency tests under TSan" env TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" \
		tests/run.sh "${tsan_tests[@]}"
else
	total_fail=$((total_fail + 1))
fi

# Every fuzz target over its corpus, then a few seconds of new inputs each
# (skipped without a clang that links libFuzzer).
tier "fuzz smoke" fuzz/run.sh --smoke

if [ -x scripts/scx-tests.sh ] && [ "${GHOST_SKIP_SCX:-0}" != 1 ]; then
	tier "sched_ext tests in a virtual machine" scripts/scx-tests.sh
fi

echo "== all tiers"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
