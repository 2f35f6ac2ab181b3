#!/usr/bin/env bash
# tests/run.sh - runs test programs, each under a timeout, and closes with
# one summary line "N passed, N failed, N skipped".
# Usage: tests/run.sh [--timeout SECONDS] PROGRAM...
# A program passes with exit 0, is skipped with 77, fails otherwise.
set -u
timeout_s=${TEST_TIMEOUT:-120}
if [ "${1:-}" = "--timeout" ]; then timeout_s=$2; shift 2; fi
pass=0 fail=0 skip=0 failed=()
for t in "$@"; do
	name=$(basename "$t")
	log=$(mktemp)
	load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
	start=$(date +%s%N)
	timeout -k 5 "$timeout_s" "$t" >"$log" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000)); secs="$((ms / 1000)).$(((ms % 1000) / 100))"
	case $rc in
	0) pass=$((pass + 1)); printf 'PASS  %-40s %6ss\n' "$name" "$secs" ;;
	77) skip=$((skip + 1)); printf 'SKIP  %-40s %s\n' "$name" "$(tail -n 1 "$log")" ;;
	*)
		fail=$((fail + 1)); failed+=("$name")
		[ $rc -eq 124 ] && echo "(timed out after ${timeout_s}s)" >>"$log"
		# Was the machine busy? Timing-sensitive checks fail under load; say so.
		echo "(load average ${load_before:-?} at the start, $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo ?) at the end, on $(nproc 2>/dev/null || echo ?) CPUs)" >>"$log"
		printf 'FAIL  %-40s %6ss (exit %d)\n' "$name" "$secs" "$rc"
		sed 's/^/      | /' "$log" | tail -n 40
		;;
	esac
	rm -f "$log"
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
