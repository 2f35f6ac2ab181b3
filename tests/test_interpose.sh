#!/usr/bin/env bash
# tests/test_interpose.sh - unmodified Debian programs under the FIFO policies and Shinjuku on
# the embedded kernel, in the deployed shape: ghost-agent in its own process, each program
# started by `ghostctl run` (so under libghost-preload.so). The programs: sort --parallel=2
# (threads, locks, condition variables), xz -T2 compressing and a second xz decompressing
# through a pipe (threads, pipes), a five-process shell pipeline, and a shell loop that
# blocks on a pipe and sleeps at every line, and a Python program (threads, a socket pair, a
# child shell through subprocess). For each policy: every program exits as it does
# without an agent with the same output; the agent's trace has a TASK_NEW for every task it
# heard of, each ended by TASK_DEAD or TASK_DEPARTED, and TASK_BLOCKED / TASK_WAKEUP for their
# blocking; the switch trace holds its invariants (no CPU with two tasks, no task on two
# CPUs). Then kill -9 of the agent while the programs run: each still finishes with the same
# output (its threads run on as normal threads). Also: a statically linked program is refused
# in one line, and `ghostctl tasks add` of a foreign thread stays refused with the reason.
# Run from the top of the tree after `make` (BUILD: the build directory, default build).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
[ -e "$build/lib/libghost-preload.so" ] || skip "no libghost-preload.so in $build (STATIC=1 or a sanitizer build)"
for p in sort xz seq uniq sh python3; do
	command -v "$p" >/dev/null || skip "needs $p (scripts/setup.sh installs it)"
done
check_trace=$build/tests/test_interpose
bin=$(cd "$bin" && pwd) # the programs run from $tmp

seq 1 20000 | awk '{ print ($1 * 7919) % 100003 }' >"$tmp/input"
# A Python program: threads sharing a lock and sleeping, a socket pair between two threads,
# and a child shell through subprocess (CPython forks it with vfork, resets the child's signal
# handlers and execs; its output comes back through pipes).
cat >"$tmp/py_prog.py" <<'PY'
import socket, subprocess, threading, time
lock, total = threading.Lock(), [0]
def work(k):
    for i in range(300):
        with lock:
            total[0] += i * k
        if i % 60 == 0:
            time.sleep(0.001)
threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
for t in threads:
    t.start()
for t in threads:
    t.join()
a, b = socket.socketpair()
echo = threading.Thread(target=lambda: b.sendall(b.recv(64).upper()))
echo.start()
a.sendall(b"socket pair")
print(a.recv(64).decode(), total[0])
echo.join()
for n in (3, 30):
    r = subprocess.run(["sh", "-c", "seq %d | wc -l" % n], capture_output=True, text=True)
    print(r.returncode, r.stdout.strip())
PY
# The programs, one shell command line each; run from $tmp.
programs=(
	"sort --parallel=2 -S 1M -n input | md5sum"
	"xz -T2 -3 -c input | xz -d | md5sum"
	"seq 1 5000 | sort -r | uniq -c | sort -n | tail -3"
	"seq 1 40 | while read x; do echo \$x; sleep 0.001; done | tail -2"
	"python3 py_prog.py"
)

# run_all PREFIX...: each program under PREFIX (nothing, or ghostctl run ...), its output and
# exit status into $tmp/out.N.PHASE ($phase).
run_all() {
	local i
	for i in "${!programs[@]}"; do
		(cd "$tmp" && "$@" sh -c "${programs[$i]}") >"$tmp/out.$i.$phase" 2>&1
		echo "exit $?" >>"$tmp/out.$i.$phase"
	done
}
same_as_plain() {
	local i
	for i in "${!programs[@]}"; do
		cmp -s "$tmp/out.$i.plain" "$tmp/out.$i.$phase" ||
			fail "$phase: \"${programs[$i]}\" differs from the run without agent: $(diff "$tmp/out.$i.plain" "$tmp/out.$i.$phase" | head -5)"
	done
}

phase=plain
run_all
grep -q "exit 0" "$tmp/out.0.plain" || fail "sort alone: $(cat "$tmp/out.0.plain")"

id=5
for policy in fifo-percpu fifo-centralized shinjuku; do
	phase=$policy
	"$bin/ghost-agent" --policy "$policy" --cpus 0-1 --enclave "$id" --trace "$tmp/trace" \
		--quiet >"$tmp/agent" 2>&1 &
	agent_pid=$!
	"$bin/ghostctl" run --wait 10 --enclave "$id" -- true || fail "$policy: no enclave to run in"
	"$bin/ghostctl" set "$id" trace 1 || fail "$policy: cannot switch the switch trace on"
	run_all "$bin/ghostctl" run --enclave "$id" --
	same_as_plain
	"$check_trace" check-trace "$GHOST_EMU_ROOT" "$id" >"$tmp/check" 2>&1 ||
		fail "$policy: $(cat "$tmp/check")"
	kill -TERM "$agent_pid"
	wait "$agent_pid" || fail "$policy: the agent exited $?: $(cat "$tmp/agent")"
	agent_pid=
	"$bin/ghost-trace" dump "$tmp/trace" >"$tmp/dump" || fail "$policy: ghost-trace dump"
	grep -q " dropped" "$tmp/dump" && ! grep -q " 0 dropped" "$tmp/dump" &&
		fail "$policy: the trace dropped records"
	msgs() { grep -c " MSG MSG_TASK_$1 " "$tmp/dump"; }
	new=$(msgs NEW) dead=$(msgs DEAD) departed=$(msgs DEPARTED)
	blocked=$(msgs BLOCKED) wakeup=$(msgs WAKEUP)
	# Every task the agent heard of was new to it first, and ended.
	awk '/ MSG MSG_TASK_/ { for (i = 1; i < NF; i++) if ($i == "gtid") g = $(i + 1);
		if ($5 == "MSG_TASK_NEW") seen[g] = 1; else if (!(g in seen)) { print g; exit 1 } }' \
		"$tmp/dump" >"$tmp/unknown" || fail "$policy: a message for task $(cat "$tmp/unknown") before its TASK_NEW"
	# At least the tasks these programs are made of: sort's 2 threads, 2 xz of 2+ threads
	# and their shells, the pipelines' processes.
	[ "$new" -ge 20 ] && [ $((dead + departed)) -eq "$new" ] ||
		fail "$policy: TASK_NEW $new, TASK_DEAD $dead + TASK_DEPARTED $departed"
	[ "$blocked" -gt 0 ] && [ "$wakeup" -gt 0 ] ||
		fail "$policy: TASK_BLOCKED $blocked, TASK_WAKEUP $wakeup"
	echo "$policy: ${#programs[@]} programs as without the agent; $new tasks (new = dead $dead + departed $departed), $blocked blocked, $wakeup woken; switch trace ok"
	id=$((id + 1))
done

# kill -9 of the agent mid-run: every program still finishes, with the same output.
phase=killed
"$bin/ghost-agent" --policy fifo-percpu --cpus 0-1 --enclave "$id" --quiet >"$tmp/agent" 2>&1 &
agent_pid=$!
"$bin/ghostctl" run --wait 10 --enclave "$id" -- true || fail "killed: no enclave to run in"
# All the programs at once, the agent killed while they run.
pids=()
for i in "${!programs[@]}"; do
	(
		(cd "$tmp" && "$bin/ghostctl" run --enclave "$id" -- sh -c "${programs[$i]}") \
			>"$tmp/out.$i.$phase" 2>&1
		echo "exit $?" >>"$tmp/out.$i.$phase"
	) &
	pids+=($!)
done
sleep 0.3
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null
agent_pid=
for p in "${pids[@]}"; do
	wait "$p"
done
same_as_plain
echo "killed: kill -9 of the agent mid-run; every program finished as without it"

# A statically linked program is refused in one line (when one can be built here).
printf 'int main(void) { return 0; }\n' >"$tmp/static.c"
if cc -static "$tmp/static.c" -o "$tmp/static" 2>/dev/null; then
	"$bin/ghost-agent" --policy fifo-percpu --cpus 0-1 --enclave 20 --quiet >"$tmp/agent" 2>&1 &
	agent_pid=$!
	expect 1 "statically linked" "$bin/ghostctl" run --wait 10 --enclave 20 -- "$tmp/static"
	sleep 5 &
	expect 1 "cannot add thread $!" "$bin/ghostctl" tasks add 20 $!
	kill $! 2>/dev/null
	echo "a static program and a foreign thread: refused in one line"
fi
