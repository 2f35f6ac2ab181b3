#!/usr/bin/env bash
# fuzz/run.sh - runs the libFuzzer targets of fuzz/ over their corpora and closes
# with one line "N passed, N failed, N skipped", like tests/run.sh.
#
# Usage: fuzz/run.sh [--smoke] [--seconds N] [TARGET...]
#   --smoke      build every target, replay its whole corpus and fuzz it for
#                FUZZ_SMOKE_SECONDS (default 6) more: the "fuzz smoke" test tier
#   --seconds N  fuzz each target N seconds (`make fuzz` passes FUZZ_SECONDS)
#   TARGET       built fuzz programs (default: every fuzz/*.c, built first)
#
# Each target reads fuzz/corpus/<target> and adds what it finds to
# $FUZZ_BUILD/corpus/<target>; a crashing input is kept as
# $FUZZ_BUILD/crashes/<target>-crash-<sha1>. A target passes if it ran its time
# without a crash. Without a clang that links libFuzzer, every target is
# skipped (scripts/setup.sh installs one). GHOST_FUZZ_SKIP is passed on (see
# docs/design.md, "Fuzzing").
set -u
cd "$(dirname "$0")/.."
cc=${FUZZ_CC:-clang}
build=${FUZZ_BUILD:-build/fuzz}
seconds=${FUZZ_SECONDS:-60}
smoke=0
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1; seconds=${FUZZ_SMOKE_SECONDS:-6} ;;
	--seconds) seconds=$2; shift ;;
	*) targets+=("$1") ;;
	esac
	shift
done

# Can this compiler build a fuzzer at all?
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! command -v "$cc" >/dev/null 2>&1 ||
	! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	rm -rf "$probe"
	printf 'SKIP  %-40s %s\n' "fuzz targets" \
		"no $cc that links libFuzzer (scripts/setup.sh installs clang and libclang-rt-14-dev)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
rm -rf "$probe"

if [ ${#targets[@]} -eq 0 ]; then
	if ! make -s -j"$(nproc 2>/dev/null || echo 2)" FUZZ_CC="$cc" FUZZ_BUILD="$build" fuzz-build >/dev/null; then
		make -j1 FUZZ_CC="$cc" FUZZ_BUILD="$build" fuzz-build
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	for src in fuzz/*.c; do
		targets+=("$build/$(basename "$src" .c)")
	done
fi

pass=0 fail=0 skip=0 failed=()
mkdir -p "$build/crashes"
for bin in "${targets[@]}"; do
	name=$(basename "$bin")
	if [ ! -x "$bin" ]; then
		skip=$((skip + 1))
		printf 'SKIP  %-40s %s\n' "$name" "not built"
		continue
	fi
	work="$build/corpus/$name"
	log="$build/$name.log"
	mkdir -p "$work" "fuzz/corpus/$name"
	# Enclave roots and other scratch files of the target: in memory if possible.
	tmp=$(mktemp -d /dev/shm/ghost-fuzz-XXXXXX 2>/dev/null || mktemp -d)
	start=$(date +%s%N)
	TMPDIR="$tmp" "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$build/crashes/$name-" \
		"$work" "fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	rm -rf "$tmp"
	ms=$((($(date +%s%N) - start) / 1000000)); secs="$((ms / 1000)).$(((ms % 1000) / 100))"
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		printf 'PASS  %-40s %6ss  %s runs, corpus %s + %s\n' "$name" "$secs" "${runs:-?}" \
			"$(ls "fuzz/corpus/$name" | wc -l)" "$(ls "$work" | wc -l)"
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL  %-40s %6ss (exit %d)\n' "$name" "$secs" "$rc"
		grep -m1 -E 'INVARIANT BROKEN|ERROR: (AddressSanitizer|libFuzzer)|runtime error|Assertion' "$log" |
			sed 's/^/      | /'
		grep -E '^    #[0-9]+ ' "$log" | grep -v -E 'libFuzzer|fuzzer::|__sanitizer|libc\.so|abort|raise|fz_fail|_start|main ' |
			head -n 6 | sed 's/^/      | /'
		grep -E '^artifact_prefix=|Test unit written' "$log" | sed 's/^/      | /'
		echo "      | full log: $log"
	fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
