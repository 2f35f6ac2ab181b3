#!/usr/bin/env bash
# scripts/demo.sh - the main job in one command (`make demo`): an agent
# process schedules the CPUs of an enclave on the embedded kernel while the
# bundled workload, in another process, serves requests from ghost threads.
# Runs each FIFO policy for a few seconds with live stats, then prints the
# workload's throughput and latency table and the agent's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
seconds=${DEMO_SECONDS:-8}
root=$(mktemp -d /tmp/ghost-demo-XXXXXX)
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	rm -rf "$root"
}
trap cleanup EXIT

ncpus=$(nproc)
cpus="0-$((ncpus - 1))"
[ "$ncpus" -gt 8 ] && cpus="0-7"

run() {
	local policy=$1 id=$2
	echo
	echo "=== $policy: ghost-agent on CPUs $cpus, ghost-workload rpc (99.5% 4 us, 0.5% 10 ms) for ${seconds}s"
	"$bin/ghost-agent" --policy "$policy" --cpus "$cpus" --enclave "$id" --root "$root" \
		--stats 1 --prio normal &
	agent_pid=$!
	for _ in $(seq 100); do
		"$bin/ghostctl" --root "$root" get "$id" agent_online 2>/dev/null | grep -q 1 && break
		sleep 0.05
	done
	"$bin/ghost-workload" --enclave "$id" --root "$root" --threads 4 --pattern rpc \
		--rate 2000 --duration "$seconds"
	kill -INT "$agent_pid"
	wait "$agent_pid"
	agent_pid=
}

run fifo-percpu 1
run fifo-centralized 2
echo
echo "Both runs scheduled real threads of another process from a user-space agent."
echo "On Linux >= 7.1 with sched_ext, a build with SCX=1 schedules unmodified programs the same way"
echo "(as root: ghost-agent --kernel scx, ghostctl run --kernel scx --enclave ID -- CMD); on Google's"
echo "ghOSt kernel the same commands take --kernel ghostfs (see README)."
