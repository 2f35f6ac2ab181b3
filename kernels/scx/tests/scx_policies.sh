#!/bin/sh
# kernels/scx/tests/scx_policies.sh - the policies schedule unmodified programs on the
# sched_ext backend.
#
# Runs inside the sched_ext virtual machine (scripts/scx-tests.sh) as root, busybox sh,
# with the static tools in /tests/bin ($GHOST_BIN to use others). For each policy that
# `ghost-agent --list-policies` lists, in its order:
#   1. starts `ghost-agent --kernel scx --policy P --cpus 1-3` (with -o time_slice=10ms
#      or -o slice=10ms if the policy has that parameter, so that a task that used 10 ms
#      while others wait is preempted) and waits (at most START_S seconds) for its line
#      "... enclave N, CPUs 1-3 ..."; then
#      /sys/kernel/sched_ext/state must read "enabled" and /sys/kernel/sched_ext/root/ops
#      "ghost";
#   2. runs programs in enclave N, each of which must exit 0 within its time limit, with
#      the agent still running and the state still "enabled" after it:
#      through `ghostctl run --kernel scx --enclave N -- sh -c ...`: a shell that checks it
#      runs with policy SCHED_EXT (7), a busy loop (20000 rounds of shell arithmetic), a
#      sleep/wake loop (5 x sleep 0.05), two busy subshells forked and waited for; then
#      `ghost-workload --kernel scx --enclave N --threads 4 --pattern spin --duration 1`
#      (more threads than CPUs, so that they contend; a policy without a time slice gets
#      one spinner per CPU it gives tasks: it never takes a CPU back from a spinner, and
#      ghost-workload fails a thread that got no CPU); for shinjuku also the rpc pattern
#      through a PrioTable with a low-priority antagonist (`--pattern rpc --prio-table
#      --antagonists 1`), whose JSON must show 90% of the issued requests completed and
#      none left waiting for a second at the stop;
#   3. stops the agent with SIGINT: it must exit 0 within STOP_S seconds and print its
#      summary line ("summary: ... | msgs new N wakeup N blocked N preempt N yield N dead N
#      ... | ... seqnum_errors N bad_msgs N"), in which new, wakeup, blocked, dead and
#      preempt + yield must be > 0 and seqnum_errors and bad_msgs 0; the state must read
#      "disabled" within 5 s.
# Exit status: 0 passed, 1 failed (the message says what was wrong), 77 skipped (no
# sched_ext in this kernel).

me=scx_policies
# say, fail, show, state, wait_for, wait_state, preflight, start_agent: beside this script.
. "$(dirname "$0")/scx_lib.sh"
RUN_S=120

# still_serving WHEN: the agent still runs and its scheduler is still loaded (a task
# that sched_ext's watchdog or exit path handed back to the normal class would finish
# too, and keep policy 7, so a program's exit 0 alone proves nothing).
still_serving() {
	if ended "$apid"; then
		show "$alog"
		fail "$1: ghost-agent is gone"
	fi
	if ! state_is enabled; then
		show "$alog"
		fail "$1: the scheduler left: $SCX/state reads \"$(state)\""
	fi
}

# run_ok POLICY NAME CMD...: CMD must exit 0 within RUN_S seconds, under the agent.
run_ok() {
	policy=$1
	name=$2
	shift 2
	log=/tmp/$me.run.log
	t0=$(date +%s)
	timeout "$RUN_S" "$@" >"$log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		show "$log"
		ended "$apid" && say "(the agent is gone)"
		say "(sched_ext: $(state))"
		fail "$policy: $name exited with status $rc (a status >= 128 after ${RUN_S} s is the time limit)"
	fi
	still_serving "$policy: after $name"
	say "$policy: $name: exit 0 in $(($(date +%s) - t0)) s"
}

# count KEY: the number after " KEY " in the summary line.
count() {
	v=$(echo "$summary" | sed -n "s/.* $1 \([0-9][0-9]*\).*/\1/p")
	[ -n "$v" ] || fail "$policy: the summary line has no \"$1 N\": $summary"
	echo "$v"
}

check_summary() {
	policy=$1
	summary=$(grep '^summary: ' "$2" | tail -n 1)
	[ -n "$summary" ] || fail "$policy: ghost-agent printed no \"summary:\" line"
	new=$(count new) || exit 1
	wakeup=$(count wakeup) || exit 1
	blocked=$(count blocked) || exit 1
	preempt=$(count preempt) || exit 1
	yield=$(count yield) || exit 1
	dead=$(count dead) || exit 1
	seqerr=$(count seqnum_errors) || exit 1
	bad=$(count bad_msgs) || exit 1
	[ "$new" -gt 0 ] || fail "$policy: no TASK_NEW counted: $summary"
	[ "$wakeup" -gt 0 ] || fail "$policy: no TASK_WAKEUP counted: $summary"
	[ "$blocked" -gt 0 ] || fail "$policy: no TASK_BLOCKED counted: $summary"
	[ "$dead" -gt 0 ] || fail "$policy: no TASK_DEAD counted: $summary"
	[ $((preempt + yield)) -gt 0 ] || fail "$policy: neither TASK_PREEMPT nor TASK_YIELD counted: $summary"
	[ "$seqerr" -eq 0 ] || fail "$policy: $seqerr seqnum errors: $summary"
	[ "$bad" -eq 0 ] || fail "$policy: $bad bad messages: $summary"
	say "$policy: new $new wakeup $wakeup blocked $blocked preempt $preempt yield $yield dead $dead, no seqnum errors"
}

one_policy() {
	policy=$1
	alog=/tmp/$me.$policy.log
	slice=""
	has_slice=""
	for p in $(params "$policy"); do
		case $p in
		time_slice | slice) slice="-o $p=10ms"; has_slice=1 ;;
		latency) has_slice=1 ;;
		esac
	done
	global=0
	"$BIN/ghost-agent" --list-policies | sed -n "/^$policy\$/,/^[^ ]/p" | grep -q "needs at least 2 CPUs" && global=1
	say "$policy: starting ghost-agent --kernel scx --policy $policy --cpus 1-3${slice:+ $slice}"
	# $slice is split into words on purpose.
	start_agent "$alog" "$policy" --policy "$policy" --cpus 1-3 $slice
	ops=$(cat "$SCX/root/ops" 2>/dev/null)
	[ "$ops" = ghost ] || fail "$policy: $SCX/root/ops reads \"$ops\", expected \"ghost\""
	say "$policy: enclave $enclave, sched_ext $(state), ops $ops"

	# $ctl is split into words on purpose; the single-quoted scripts expand in the child.
	ctl="$BIN/ghostctl run --kernel scx --enclave $enclave --"
	run_ok "$policy" "policy check" $ctl sh -c 'read -r l </proc/$$/stat; set -- $l; [ "${41}" = 7 ] || { echo "policy ${41}, expected SCHED_EXT (7)"; exit 1; }'
	run_ok "$policy" "busy loop" $ctl sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'
	run_ok "$policy" "sleep/wake loop" $ctl sh -c 'for i in 1 2 3 4 5; do sleep 0.05; done'
	run_ok "$policy" "fork/exit" $ctl sh -c 'loop() { i=0; while [ $i -lt 5000 ]; do i=$((i+1)); done; }; (loop) & a=$!; (loop) & b=$!; wait $a && wait $b'
	# A policy without a time slice never takes a CPU back from a spinner: one spinner per
	# CPU it gives tasks (a global agent keeps one of the three), or one would get no CPU
	# and ghost-workload fails a run where a thread got none.
	threads=4
	[ -z "$has_slice" ] && threads=$((3 - global))
	run_ok "$policy" "ghost-workload spin" "$BIN/ghost-workload" --kernel scx --enclave "$enclave" \
		--threads "$threads" --pattern spin --duration 1
	if [ "$policy" = shinjuku ]; then
		run_ok "$policy" "ghost-workload rpc with a PrioTable" "$BIN/ghost-workload" --kernel scx \
			--enclave "$enclave" --threads 4 --pattern rpc --rate 200 --duration 2 \
			--prio-table --antagonists 1 --json
		issued=$(sed -n 's/.*"issued":\([0-9]*\).*/\1/p' "$log")
		completed=$(sed -n 's/.*"completed":\([0-9]*\).*/\1/p' "$log")
		oldest=$(sed -n 's/.*"oldest_unfinished_us":\([0-9]*\).*/\1/p' "$log")
		# Requests in flight when the run stopped are fine; one left waiting for a
		# second is a lost wake-up.
		[ -n "$issued" ] && [ "$issued" -gt 0 ] && [ -n "$completed" ] &&
			[ $((completed * 10)) -ge $((issued * 9)) ] && [ -n "$oldest" ] &&
			[ "$oldest" -lt 1000000 ] ||
			fail "$policy: rpc through a PrioTable: issued ${issued:-?}, completed ${completed:-?}, oldest unfinished ${oldest:-?} us"
		say "$policy: rpc through a PrioTable: $completed of $issued requests completed, oldest unfinished at the stop ${oldest} us"
	fi

	stop_agent "$policy" "$alog"
	check_summary "$policy" "$alog"
}

preflight ghost-agent ghostctl ghost-workload

policies=$(policy_list) || exit 1
for p in $policies; do
	one_policy "$p"
done
say "passed: $(echo $policies)"
