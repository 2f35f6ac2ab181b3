#!/usr/bin/env bash
# tests/test_sim.sh - the simulator backend through ghost-sim:
#   - deterministic replay: the same seed and options give the same trace hash and counts,
#     another seed another hash;
#   - every built-in policy runs end to end in --check mode: no broken invariant, requests
#     served, every TASK_NEW matched by a TASK_DEAD, counts consistent;
#   - 512 CPUs run; a trace recorded in virtual time is read by ghost-trace stats;
#   - bad options exit 2 with one line.
# Never asserts a timing. Run from the top of the tree after `make`.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
command -v python3 >/dev/null || skip "needs python3 to parse the JSON"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sim=$bin/ghost-sim
# Each run makes a private namespace under $TMPDIR and must remove it.
export TMPDIR=$tmp/ns
mkdir -p "$TMPDIR"

field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# Replay.
$sim --cpus 16 --policy shinjuku --duration 0.05 --seed 7 --json >"$tmp/a" || fail "run a"
$sim --cpus 16 --policy shinjuku --duration 0.05 --seed 7 --json >"$tmp/b" || fail "run b"
$sim --cpus 16 --policy shinjuku --duration 0.05 --seed 8 --json >"$tmp/c" || fail "run c"
for k in trace_hash events messages commits completed; do
	[ "$(field "$tmp/a" "d['$k']")" = "$(field "$tmp/b" "d['$k']")" ] ||
		fail "same seed, different $k: $(cat "$tmp/a") / $(cat "$tmp/b")"
done
[ "$(field "$tmp/a" "d['trace_hash']")" != "$(field "$tmp/c" "d['trace_hash']")" ] ||
	fail "seeds 7 and 8 gave the same hash"

# Every built-in policy, checked on every event, for each workload.
for p in fifo-percpu fifo-centralized sol shinjuku edf cfs rr; do
	for w in rpc block-wake; do
		$sim --cpus 8 --policy "$p" --workload $w --duration 0.05 --check --json \
			>"$tmp/$p.json" 2>"$tmp/$p.err" || fail "$p $w: $(cat "$tmp/$p.err")"
		field "$tmp/$p.json" "(d['violations'] == 0 and d['completed'] > 0 and
			d['tasks_new'] == d['tasks_ended'] == 16 and d['commits'] > 0 and
			d['latency_us']['count'] > 0 and d['events'] > 0)" | grep -qx True ||
			fail "$p $w: $(cat "$tmp/$p.json")"
	done
done
field "$tmp/a" "d['requests'] > 0 and d['latency_us']['count'] <= d['requests']" |
	grep -qx True || fail "rpc counts: $(cat "$tmp/a")"

# 512 CPUs, spinners and antagonists, a trace in virtual time that ghost-trace reads.
$sim --cpus 512 --policy fifo-percpu --workload spin --tasks 600 --duration 0.01 --check \
	--trace "$tmp/t.trace" --json >"$tmp/big" 2>"$tmp/big.err" || fail "512 CPUs: $(cat "$tmp/big.err")"
field "$tmp/big" "d['cpus'] == 512 and d['violations'] == 0" | grep -qx True ||
	fail "512 CPUs: $(cat "$tmp/big")"
$bin/ghost-trace stats "$tmp/t.trace" >"$tmp/stats" 2>&1 || fail "ghost-trace stats: $(cat "$tmp/stats")"

# Bad options: exit 2, one line.
for args in "--cpus 513" "--cpus 0" "--policy nope" "--workload nope" "--duration -1" \
	"--service 50:4us" "--cpus 4 --topology 1x4x1" "-o nope=1" "--cost nope=1us" "extra"; do
	# shellcheck disable=SC2086
	$sim $args >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc = 2 ] || fail "ghost-sim $args: exit $rc, not 2"
	[ "$(wc -l <"$tmp/err")" = 1 ] || fail "ghost-sim $args: not one line: $(cat "$tmp/err")"
done
$sim --help | grep -q -- "--topology" || fail "--help"
[ -z "$(ls -A "$TMPDIR")" ] || fail "runs left their namespaces behind: $(ls -A "$TMPDIR")"
echo "test_sim.sh: ok"
