#!/bin/sh
# kernels/scx/tests/scx_kill.sh - the agent is killed with SIGKILL mid-run: sched_ext's exit
# path gives every task back to the normal class and the programs finish.
#
# Runs inside the sched_ext virtual machine (scripts/scx-tests.sh) as root, busybox sh,
# with the static tools in /tests/bin ($GHOST_BIN to use others):
#   1. starts `ghost-agent --kernel scx --policy fifo-percpu --cpus 1-3` and waits (at most
#      START_S seconds) for its "enclave N" line; the state must read "enabled";
#   2. starts three busy loops of about 2 s in the enclave, in the background, each with
#      `ghostctl --kernel scx run --enclave N -- sh -c ...`; each loop first writes its
#      scheduling policy to a file;
#   3. 0.5 s later, checks that all three still run and were started as SCHED_EXT (7), and
#      that the agent still runs with its scheduler loaded, then kills it with SIGKILL;
#   4. /sys/kernel/sched_ext/state must read "disabled" within 5 s, and every loop must
#      exit 0 within LOOP_S seconds;
#   5. an agent started with --keep and stopped with SIGINT exits 0 and says that the
#      enclave did not outlive it (a sched_ext enclave ends with its agent); the state
#      reads "disabled".
# Exit status: 0 passed, 1 failed (the message says what was wrong), 77 skipped (no
# sched_ext in this kernel).

me=scx_kill
# say, fail, show, state, wait_for, wait_state, preflight, start_agent, stop_agent: beside
# this script.
. "$(dirname "$0")/scx_lib.sh"
LOOP_S=60
tmp=/tmp/$me
alog=$tmp/agent.log

# The loop: records its policy (field 41 of /proc/PID/stat), then spins for about 2 s,
# looking at the clock every 500 rounds. Its $0 is the file for the policy.
loop='read -r l </proc/$$/stat; set -- $l; echo "${41}" >"$0"
end=$(($(date +%s) + 2))
while [ "$(date +%s)" -lt "$end" ]; do
	i=0
	while [ $i -lt 500 ]; do i=$((i + 1)); done
done'

start_loops() {
	for k in 1 2 3; do
		"$BIN/ghostctl" --kernel scx run --enclave "$enclave" -- \
			sh -c "$loop" "$tmp/policy.$k" >"$tmp/loop.$k.log" 2>&1 &
		others="$others $!"
		eval "loop_$k=$!"
	done
	say "three 2 s loops started:$others"
}

kill_agent() {
	sleep 0.5
	for k in 1 2 3; do
		eval "p=\$loop_$k"
		if ended "$p"; then
			wait "$p"
			rc=$?
			show "$tmp/loop.$k.log"
			fail "loop $k ended (status $rc) before the agent was killed"
		fi
		if ! wait_for "$START_S" test -s "$tmp/policy.$k"; then
			show "$tmp/loop.$k.log"
			show "$alog"
			fail "loop $k has not started running after $START_S s"
		fi
		policy=$(cat "$tmp/policy.$k")
		[ "$policy" = 7 ] || fail "loop $k runs with policy $policy, expected SCHED_EXT (7)"
	done
	# Their policy stays 7 if sched_ext handed them back to the normal class: the
	# scheduler must still be there, or they did not run under the agent.
	ended "$apid" && { show "$alog"; fail "ghost-agent died before it was killed"; }
	state_is enabled || { show "$alog"; fail "the scheduler left before the agent was killed: $SCX/state reads \"$(state)\""; }
	say "all three run as SCHED_EXT under the agent; kill -9 the agent (pid $apid)"
	kill -9 "$apid"
	wait "$apid" 2>/dev/null
	apid=""
	show "$alog"
	wait_state disabled 5 "after the agent was killed"
	say "sched_ext $(state)"
}

wait_loops() {
	for k in 1 2 3; do
		eval "p=\$loop_$k"
		wait_for "$LOOP_S" ended "$p" || fail "loop $k still runs $LOOP_S s after the agent was killed"
		wait "$p"
		rc=$?
		show "$tmp/loop.$k.log"
		[ "$rc" -eq 0 ] || fail "loop $k exited with status $rc, expected 0"
		say "loop $k: exit 0"
	done
	others=""
}

preflight ghost-agent ghostctl
rm -rf "$tmp" && mkdir -p "$tmp" || fail "cannot make $tmp"

start_agent "$alog" "" --policy fifo-percpu --cpus 1-3
say "enclave $enclave, sched_ext $(state)"
start_loops
kill_agent
wait_loops

# --keep cannot keep a sched_ext enclave (the scheduler goes with its agent): the agent says so.
start_agent "$tmp/keep.log" "--keep" --policy fifo-percpu --cpus 1-3 --keep --quiet
sleep 1	# its signal handlers are in place once it serves
stop_agent "--keep" "$tmp/keep.log"
grep -q "did not outlive this agent" "$tmp/keep.log" ||
	fail "--keep: the agent did not say that the enclave ended with it"
say "--keep: the enclave ended with its agent, and the agent said so"
say "passed"
