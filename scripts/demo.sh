#!/usr/bin/env bash
# scripts/demo.sh - the main job in one command (`make demo`): the ghOSt
# paper's dispersive request mix (99.5% of requests 4 us, 0.5% 10 ms, open
# loop) served by 8 worker threads, first as plain Linux threads, then as
# ghost threads of another process scheduled by the Shinjuku policy from a
# user-space agent on the embedded kernel. Ends with each run's latency
# percentiles and the ratio of their p99s.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
seconds=${DEMO_SECONDS:-8}
rate=${DEMO_RATE:-4000}
root=$(mktemp -d /tmp/ghost-demo-XXXXXX)
agent_pid=
cleanup() {
	if [ -n "$agent_pid" ]; then
		kill -INT "$agent_pid" 2>/dev/null || true
		wait "$agent_pid" 2>/dev/null || true
	fi
	rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 143' TERM
# Ctrl-C stops the demo, not just the run in progress: ghost-workload ends a
# run cleanly on SIGINT, reports it as interrupted and exits 0 (so bash would
# carry on to the next run).
trap 'exit 130' INT
stop_if_interrupted() {
	if grep -q '"interrupted":true' "$1"; then
		echo "demo: interrupted" >&2
		exit 130
	fi
}

if [ "$(nproc)" -lt 2 ]; then
	echo "demo: needs 2 CPUs (one for the global agent, one for the workers)" >&2
	exit 1
fi
# The global agent spins on CPU 0 and schedules CPU 1; the load generator
# (standing in for the network) runs on CPU 0 in every run.
wl_args=(--threads 8 --pattern rpc --rate "$rate" --duration "$seconds" --warmup 0.5
	--generator-cpu 0 --json)

# One number out of ghost-workload's JSON: json FILE OBJECT KEY.
json() {
	sed -n "s/.*\"$2\":{[^}]*\"$3\":\([0-9.]*\).*/\1/p" "$1"
}

row() {
	printf '  %-34s %10s req/s  p50 %9s us  p99 %9s us  p99.9 %9s us\n' "$1" \
		"$(sed -n 's/.*"throughput_rps":\([0-9.]*\).*/\1/p' "$2")" \
		"$(json "$2" latency_us p50)" "$(json "$2" latency_us p99)" \
		"$(json "$2" latency_us p99_9)"
}

echo "=== the dispersive mix (99.5% 4 us, 0.5% 10 ms) at $rate requests/s, 8 workers, ${seconds}s each"
echo
echo "--- plain Linux threads on every CPU"
"$bin/ghost-workload" --no-ghost "${wl_args[@]}" >"$root/linux.json"
stop_if_interrupted "$root/linux.json"
echo "--- plain Linux threads on CPU 1 only (the CPU the enclave gives its tasks)"
"$bin/ghost-workload" --no-ghost --cpus 1 "${wl_args[@]}" >"$root/linux1.json"
stop_if_interrupted "$root/linux1.json"

echo "--- shinjuku: ghost-agent (spinning global agent on CPU 0, 50 us slices) schedules CPU 1"
"$bin/ghost-agent" --policy shinjuku --cpus 0-1 --global-cpu 0 --enclave 1 --root "$root" \
	--stats 2 --prio normal &
agent_pid=$!
for _ in $(seq 100); do
	"$bin/ghostctl" --root "$root" get 1 agent_online 2>/dev/null | grep -q 1 && break
	sleep 0.05
done
"$bin/ghost-workload" --enclave 1 --root "$root" --prio-table "${wl_args[@]}" >"$root/shinjuku.json"
kill -INT "$agent_pid"
wait "$agent_pid"
agent_pid=
stop_if_interrupted "$root/shinjuku.json"

echo
echo "=== results"
row "plain Linux threads, CPUs 0-1" "$root/linux.json"
row "plain Linux threads, CPU 1" "$root/linux1.json"
row "shinjuku (ghOSt), tasks on CPU 1" "$root/shinjuku.json"
sj=$(json "$root/shinjuku.json" latency_us p99)
l2=$(json "$root/linux.json" latency_us p99)
l1=$(json "$root/linux1.json" latency_us p99)
awk -v s="$sj" -v a="$l2" -v b="$l1" 'BEGIN {
	printf "\n  p99 ratio shinjuku / Linux: %.2f (Linux on CPUs 0-1), %.2f (Linux on CPU 1)\n",
		s / a, s / b }'
echo
echo "The workers ran as ghost threads of another process, scheduled from user space: every"
echo "request is preempted after 50 us, so short requests never wait behind a 10 ms one for"
echo "long. ghost-bench sweeps the load (docs/performance.md says what bounds the figures on"
echo "this machine). On Linux >= 6.12 with sched_ext, a build with SCX=1 schedules unmodified"
echo "programs the same way (as root: ghost-agent --kernel scx --policy shinjuku)."
