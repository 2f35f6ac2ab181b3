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
#      exit 0 within LOOP_S seconds.
# Exit status: 0 passed, 1 failed (the message says what was wrong), 77 skipped (no
# sched_ext in this kernel).

BIN=${GHOST_BIN:-/tests/bin}
SCX=/sys/kernel/sched_ext
START_S=60
LOOP_S=60
me=scx_kill
tmp=/tmp/$me
alog=$tmp/agent.log
apid=""
loops=""

say() { echo "$me: $*"; }
fail() {
	echo "FAIL $me: $*" >&2
	exit 1
}
cleanup() {
	[ -n "$apid" ] && kill -9 "$apid" 2>/dev/null
	for p in $loops; do kill -9 "$p" 2>/dev/null; done
}
trap cleanup EXIT

show() {
	sed 's/^/    | /' "$1"
}

state() {
	cat "$SCX/state" 2>/dev/null || echo absent
}

# wait_state WANT SECONDS WHEN
wait_state() {
	n=0
	while [ "$(state)" != "$1" ]; do
		[ "$n" -ge $(($2 * 10)) ] && fail "$3: $SCX/state reads \"$(state)\" after $2 s, expected \"$1\""
		sleep 0.1
		n=$((n + 1))
	done
}

start_agent() {
	"$BIN/ghost-agent" --kernel scx --policy fifo-percpu --cpus 1-3 >"$alog" 2>&1 &
	apid=$!
	n=0
	enclave=""
	while :; do
		enclave=$(sed -n 's/^ghost-agent: .*, enclave \([0-9][0-9]*\), CPUs.*/\1/p' "$alog")
		[ -n "$enclave" ] && break
		if ! kill -0 "$apid" 2>/dev/null; then
			wait "$apid"
			rc=$?
			apid=""
			show "$alog"
			fail "ghost-agent ended (status $rc) before it served"
		fi
		[ "$n" -ge $((START_S * 10)) ] && { show "$alog"; fail "ghost-agent did not say \"enclave N\" within $START_S s"; }
		sleep 0.1
		n=$((n + 1))
	done
	show "$alog"
	wait_state enabled 5 "with the agent serving"
	say "enclave $enclave, sched_ext $(state)"
}

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
		loops="$loops $!"
		eval "loop_$k=$!"
	done
	say "three 2 s loops started:$loops"
}

kill_agent() {
	sleep 0.5
	for k in 1 2 3; do
		eval "p=\$loop_$k"
		if ! kill -0 "$p" 2>/dev/null; then
			wait "$p"
			rc=$?
			show "$tmp/loop.$k.log"
			fail "loop $k ended (status $rc) before the agent was killed"
		fi
		n=0
		while [ ! -s "$tmp/policy.$k" ]; do
			if [ "$n" -ge $((START_S * 10)) ]; then
				show "$tmp/loop.$k.log"
				show "$alog"
				fail "loop $k has not started running after $START_S s"
			fi
			sleep 0.1
			n=$((n + 1))
		done
		policy=$(cat "$tmp/policy.$k")
		[ "$policy" = 7 ] || fail "loop $k runs with policy $policy, expected SCHED_EXT (7)"
	done
	# Their policy stays 7 if sched_ext handed them back to the normal class: the
	# scheduler must still be there, or they did not run under the agent.
	kill -0 "$apid" 2>/dev/null || { show "$alog"; fail "ghost-agent died before it was killed"; }
	[ "$(state)" = enabled ] || { show "$alog"; fail "the scheduler left before the agent was killed: $SCX/state reads \"$(state)\""; }
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
		n=0
		while kill -0 "$p" 2>/dev/null; do
			[ "$n" -ge $((LOOP_S * 10)) ] && fail "loop $k still runs $LOOP_S s after the agent was killed"
			sleep 0.1
			n=$((n + 1))
		done
		wait "$p"
		rc=$?
		show "$tmp/loop.$k.log"
		[ "$rc" -eq 0 ] || fail "loop $k exited with status $rc, expected 0"
		say "loop $k: exit 0"
	done
	loops=""
}

if [ ! -d "$SCX" ]; then
	say "skipped: this kernel has no sched_ext ($SCX is absent)"
	exit 77
fi
for t in ghost-agent ghostctl; do
	[ -x "$BIN/$t" ] || fail "no $BIN/$t"
done
# A scheduler of the previous test may still be on its way out.
wait_state disabled 10 "before the test (is another scheduler loaded?)"
rm -rf "$tmp" && mkdir -p "$tmp" || fail "cannot make $tmp"

start_agent
start_loops
kill_agent
wait_loops
say "passed"
