#!/usr/bin/env bash
# tests/test_policies_procs.sh - every policy `ghost-agent --list-policies` names, in the
# deployed shape on the embedded kernel: the agent in one process, ghost-workload in others.
# For each: spinners (one per CPU the policy gives tasks, one more when it has a time slice,
# set to 10 ms where it is a parameter),
# block/wake pairs and the rpc pattern each exit 0 (ghost-workload fails a thread that had work
# and never ran, or that ran outside the enclave); the rpc run completes at least 90% of what
# it issued and leaves no request waiting for a second; the agent stops on SIGINT with exit 0
# and a summary without seqnum errors or bad messages.
# Run from the top of the tree after `make` (BUILD: the build directory, default build).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"

list=$("$bin/ghost-agent" --list-policies) || fail "--list-policies"
policies=$(sed -n 's/^\([a-z0-9_-][a-z0-9_-]*\)$/\1/p' <<<"$list")
[ "$(wc -w <<<"$policies")" -ge 7 ] || fail "fewer than 7 policies: $policies"

# workload POLICY NAME ARGS...: ghost-workload in enclave 3 must exit 0.
workload() {
	local policy=$1 name=$2
	shift 2
	"$bin/ghost-workload" --enclave 3 --wait 10 "$@" >"$tmp/work" 2>&1 ||
		fail "$policy: $name: ghost-workload exited $?: $(cat "$tmp/work")"
}

for p in $policies; do
	block=$(sed -n "/^$p\$/,/^[^ ]/p" <<<"$list")
	cpus=2
	grep -q "needs at least 2 CPUs" <<<"$block" && cpus=1
	threads=$cpus
	opts=()
	# A time slice lets one spinner more share the CPUs (set where it is a parameter).
	for k in time_slice slice; do
		grep -q -- "-o $k=" <<<"$block" && opts=(-o "$k=10ms")
	done
	grep -qE -- "-o (time_slice|slice|latency)=" <<<"$block" && threads=$((cpus + 1))
	"$bin/ghost-agent" --policy "$p" "${opts[@]}" --cpus 0-1 --enclave 3 --quiet >"$tmp/agent" 2>&1 &
	agent_pid=$!
	workload "$p" spin --threads "$threads" --pattern spin --duration 0.5
	workload "$p" block-wake --threads 2 --pattern block-wake --duration 0.5
	workload "$p" rpc --threads 2 --pattern rpc --rate 1000 --duration 0.5 --json
	issued=$(sed -n 's/.*"issued":\([0-9]*\).*/\1/p' "$tmp/work")
	completed=$(sed -n 's/.*"completed":\([0-9]*\).*/\1/p' "$tmp/work")
	oldest=$(sed -n 's/.*"oldest_unfinished_us":\([0-9]*\).*/\1/p' "$tmp/work")
	[ -n "$issued" ] && [ "$issued" -gt 0 ] && [ $((completed * 10)) -ge $((issued * 9)) ] &&
		[ -n "$oldest" ] && [ "$oldest" -lt 1000000 ] ||
		fail "$p: rpc issued ${issued:-?}, completed ${completed:-?}, oldest unfinished ${oldest:-?} us"
	kill -INT "$agent_pid"
	wait "$agent_pid" || fail "$p: the agent exited $?: $(cat "$tmp/agent")"
	agent_pid=
	summary=$(grep '^summary: ' "$tmp/agent")
	grep -q "seqnum_errors 0 bad_msgs 0" <<<"$summary" || fail "$p: $summary"
	echo "$p: spin ($threads threads), block-wake, rpc ($completed of $issued): ok"
done
