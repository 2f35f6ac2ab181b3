#!/bin/sh
# kernels/scx/tests/scx_programs.sh - real, unmodified programs under every policy, and
# after the agent is killed with SIGKILL.
#
# Runs inside the sched_ext virtual machine (scripts/scx-tests.sh) as root, busybox sh,
# with the static tools and Debian's hackbench (rt-tests, dynamically linked: its
# libraries come along) in /tests/bin ($GHOST_BIN to use others). The programs:
#   - hackbench in process mode (-g 2 -f 4 -l 40: 16 processes passing messages over
#     socket pairs) and in thread mode (-T, the same as threads of one process);
#   - a forking shell pipeline (forks): 30 command substitutions, each a pipeline of three
#     processes, then two background sleeps waited for; it prints "forks 111".
#   The runs that the agent's death interrupts are longer (-l 1000, 150 substitutions: it
#   prints "forks 642"), so that they are still running when it dies.
# First each runs without any scheduler, for the output to compare with (hackbench's lines
# but its "Time:"). Then, for each policy that `ghost-agent --list-policies` lists:
#   1. `ghost-agent --kernel scx --policy P --cpus 1-3` (with a 10 ms time slice where the
#      policy has one) serves enclave N;
#   2. each program, started with `ghostctl run --kernel scx --enclave N --`, must exit 0
#      within RUN_S seconds with the same output as without a scheduler, the agent still
#      serving;
#   3. the three longer runs start in the background, the agent is killed with SIGKILL one
#      second later (the line says how many were still running): sched_ext's state must
#      read "disabled" within 5 s, and each program must still exit 0 within RUN_S seconds
#      with the same output.
# Exit status: 0 passed, 1 failed (the message says what was wrong), 77 skipped (no
# sched_ext in this kernel).

me=scx_programs
# say, fail, show, state, wait_for, wait_state, preflight, start_agent: beside this script.
. "$(dirname "$0")/scx_lib.sh"
RUN_S=120
tmp=/tmp/$me
mkdir -p "$tmp"

forks='n=0
for i in $(seq 1 "$1"); do
	r=$(echo "x$i" | sed s/x/y/ | wc -c)
	n=$((n + r))
done
sleep 0.05 &
sleep 0.05 &
wait
echo "forks $n"'

# run NAME [PREFIX...]: runs program NAME (hb, hbt or forks; HB, HBT, FORKS: their longer
# runs) after PREFIX, output in $tmp/NAME.out, minus hackbench's timing line.
run() {
	name=$1
	shift
	case $name in
	hb) "$@" "$BIN/hackbench" -g 2 -f 4 -l 40 ;;
	hbt) "$@" "$BIN/hackbench" -T -g 2 -f 4 -l 40 ;;
	forks) "$@" sh -c "$forks" sh 30 ;;
	HB) "$@" "$BIN/hackbench" -g 2 -f 4 -l 1000 ;;
	HBT) "$@" "$BIN/hackbench" -T -g 2 -f 4 -l 1000 ;;
	FORKS) "$@" sh -c "$forks" sh 150 ;;
	esac >"$tmp/$name.raw" 2>&1
	rc=$?
	grep -v '^Time: ' "$tmp/$name.raw" >"$tmp/$name.out"
	return $rc
}

# same NAME WHEN: NAME's output is the one it gave without a scheduler.
same() {
	if ! cmp -s "$tmp/$1.out" "$tmp/$1.want"; then
		say "$2: $1 printed:"
		show "$tmp/$1.raw"
		say "without a scheduler it printed:"
		show "$tmp/$1.want"
		fail "$2: $1's output differs from its output without a scheduler"
	fi
}

preflight ghost-agent ghostctl hackbench

for p in hb hbt forks HB HBT FORKS; do
	run "$p" timeout "$RUN_S" || { show "$tmp/$p.raw"; fail "$p fails without any scheduler"; }
	mv "$tmp/$p.out" "$tmp/$p.want"
done
grep -qx 'forks 111' "$tmp/forks.want" && grep -qx 'forks 642' "$tmp/FORKS.want" ||
	{ show "$tmp/forks.raw"; show "$tmp/FORKS.raw"; fail "the forking pipeline printed the wrong sum"; }
say "without a scheduler: hackbench (processes, threads) and the forking pipeline ran"

policies=$(policy_list) || exit 1
for policy in $policies; do
	alog=$tmp/$policy.agent.log
	slice=""
	for p in $(params "$policy"); do
		case $p in time_slice | slice) slice="-o $p=10ms" ;; esac
	done
	# $slice is split into words on purpose.
	start_agent "$alog" "$policy" --policy "$policy" --cpus 1-3 $slice
	ctl="$BIN/ghostctl run --kernel scx --enclave $enclave --"
	for p in hb hbt forks; do
		t0=$(date +%s)
		# $ctl is split into words on purpose.
		run "$p" timeout "$RUN_S" $ctl || {
			show "$tmp/$p.raw"
			fail "$policy: $p exited with status $rc (>= 128 after $RUN_S s: the time limit)"
		}
		same "$p" "$policy"
		ended "$apid" && { show "$alog"; fail "$policy: ghost-agent is gone after $p"; }
		state_is enabled || fail "$policy: the scheduler left while $p ran: $(state)"
		say "$policy: $p: exit 0 in $(($(date +%s) - t0)) s, the same output"
	done

	# Again, and the agent dies half-way.
	pids=""
	for p in HB HBT FORKS; do
		rm -f "$tmp/$p.rc"
		(run "$p" timeout "$RUN_S" $ctl; echo $? >"$tmp/$p.rc") &
		pids="$pids $!"
	done
	others="$others $pids"
	sleep 1
	running=0
	for pid in $pids; do ended "$pid" || running=$((running + 1)); done
	kill -9 "$apid"
	wait "$apid" 2>/dev/null
	apid=""
	wait_state disabled 5 "$policy: after SIGKILL of the agent"
	for pid in $pids; do wait "$pid"; done
	for p in HB HBT FORKS; do
		rc=$(cat "$tmp/$p.rc" 2>/dev/null)
		[ "$rc" = 0 ] || { show "$tmp/$p.raw"; fail "$policy: after SIGKILL of the agent, $p exited with status ${rc:-?}"; }
		same "$p" "$policy, after SIGKILL of the agent"
	done
	say "$policy: SIGKILL of the agent with $running of the 3 programs running: all finished, the same output"
done
say "passed: $(echo $policies)"
