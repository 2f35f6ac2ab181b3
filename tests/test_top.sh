#!/usr/bin/env bash
# tests/test_top.sh - `ghostctl top` against a live enclave in the deployed shape (ghost-agent
# in one process, ghost-workload in another, on the embedded kernel): three spinners under
# fifo-percpu on CPUs 0-1, so that two run for good and the third waits (FIFO never takes a
# CPU back from a spinner):
#   - --json --once: exactly one JSON object; its CPUs are the enclave's (ghostctl get ID
#     cpulist); each CPU runs one of the enclave's tasks (ghostctl tasks ID); 3 tasks, 1
#     runnable; every count, total and rate is a number >= 0, utilisations within 0..1; the
#     agent is the agent process;
#   - --once: one text view with a row per CPU naming its task;
#   - not on a terminal and without --once: one view after another until SIGINT, exit 0
#     (text views apart, or one JSON object per line);
#   - a missing enclave exits 1 with one line; bad options exit 2 with one line.
# Run from the top of the tree after `make` (BUILD: the build directory, default build).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
command -v python3 >/dev/null || skip "needs python3 to parse the JSON"

"$bin/ghost-agent" --policy fifo-percpu --cpus 0-1 --enclave 4 --quiet >"$tmp/agent" 2>&1 &
agent_pid=$!
"$bin/ghost-workload" --enclave 4 --wait 10 --threads 3 --pattern spin --duration 60 \
	>"$tmp/work" 2>&1 &
work_pid=$!
# Until the three spinners are in, two of them on the CPUs.
for _ in $(seq 1 1000); do
	[ "$("$bin/ghostctl" tasks 4 2>/dev/null | wc -l)" -eq 3 ] &&
		[ "$("$bin/ghostctl" cat 4 stats 2>/dev/null | grep -c '^task .* oncpu ')" -eq 2 ] && break
	sleep 0.01
done
"$bin/ghostctl" tasks 4 >"$tmp/tasks" || fail "ghostctl tasks"
[ "$(wc -l <"$tmp/tasks")" -eq 3 ] || fail "the workload's 3 spinners are not in: $(cat "$tmp/tasks")"
cpulist=$("$bin/ghostctl" get 4 cpulist) || fail "ghostctl get cpulist"

# ---- --json --once ----
"$bin/ghostctl" top 4 --json --once --interval 0.2 >"$tmp/top.json" 2>"$tmp/err" ||
	fail "top --json --once exited $?: $(cat "$tmp/err")"
[ -s "$tmp/err" ] && fail "top --json --once said: $(cat "$tmp/err")"
python3 - "$tmp/top.json" "$cpulist" "$tmp/tasks" "$agent_pid" <<'EOF' || exit 1
import json, sys
path, cpulist, tasks_file, agent_pid = sys.argv[1:5]
def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)
lines = open(path).read().splitlines()
if len(lines) != 1:
    fail("%d lines, not one JSON object" % len(lines))
t = json.loads(lines[0])
for k in ("enclave", "kernel", "time_ns", "interval_s", "cpus", "agent", "tasks", "runnable",
          "rates", "totals", "failures", "unavailable"):
    if k not in t:
        fail("no \"%s\": %s" % (k, lines[0]))
want = []
for part in cpulist.split(","):
    lo, _, hi = part.partition("-")
    want += range(int(lo), int(hi or lo) + 1)
if [c["cpu"] for c in t["cpus"]] != want:
    fail("CPUs %r, the enclave's %r" % ([c["cpu"] for c in t["cpus"]], want))
tids = {int(l) for l in open(tasks_file).read().split()}
def count(v, what):
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
        fail("%s is %r, not a count" % (what, v))
count(t["tasks"], "tasks")
count(t["runnable"], "runnable")
if t["runnable"] > t["tasks"]:
    fail("%d runnable of %d tasks" % (t["runnable"], t["tasks"]))
if (t["tasks"], t["runnable"]) != (3, 1):
    fail("%d tasks, %d runnable: not the 3 spinners, one waiting" % (t["tasks"], t["runnable"]))
running = []
for c in t["cpus"]:
    u = c["utilisation"]
    count(u, "CPU %d's utilisation" % c["cpu"])
    if u > 1:
        fail("CPU %d's utilisation %r" % (c["cpu"], u))
    if c["current_tid"] not in tids:
        fail("CPU %d runs %r, not one of the enclave's tasks %r" % (c["cpu"], c["current_tid"], tids))
    running.append(c["current_tid"])
    if c["last_txn"]["state"] != "COMPLETE" or c["last_txn"]["target_tid"] != c["current_tid"]:
        fail("CPU %d's last txn %r, not the commit of its task" % (c["cpu"], c["last_txn"]))
if len(set(running)) != len(running):
    fail("one task on two CPUs: %r" % running)
for group in ("rates", "totals"):
    for k in ("commits", "msgs", "failed"):
        count(t[group][k], "%s.%s" % (group, k))
if t["totals"]["commits"] < 3 or t["totals"]["msgs"] < 3:
    fail("totals %r: fewer commits or messages than tasks" % t["totals"])
for reason, f in t["failures"].items():
    count(f["total"], reason + " total")
    count(f["per_s"], reason + " per_s")
if sum(f["total"] for f in t["failures"].values()) != t["totals"]["failed"]:
    fail("failures %r do not add up to %d" % (t["failures"], t["totals"]["failed"]))
a = t["agent"]
if not a["online"] or a["pid"] != int(agent_pid):
    fail("agent %r, not the agent process %s" % (a, agent_pid))
count(a["cpu_share"], "the agent's CPU share")
count(a["enclave_share"], "the agent's share of the enclave")
if t["unavailable"]:
    fail("the emu kernel reports everything, yet: %r" % t["unavailable"])
print("top --json: CPUs %r running %r, %d tasks, %d runnable" % (want, running, t["tasks"], t["runnable"]))
EOF

# ---- --once ----
"$bin/ghostctl" top 4 --once --interval 0.2 >"$tmp/top.txt" 2>"$tmp/err" ||
	fail "top --once exited $?: $(cat "$tmp/err")"
grep -q "^enclave 4 (emu kernel), CPUs $cpulist: agent online, 3 tasks, 1 runnable$" "$tmp/top.txt" ||
	fail "top --once: no header: $(cat "$tmp/top.txt")"
grep -q "^over 0\.[0-9]* s: [0-9]* commits/s, [0-9]* messages/s" "$tmp/top.txt" ||
	fail "top --once: no rates: $(cat "$tmp/top.txt")"
grep -q "^agent: pid $agent_pid, " "$tmp/top.txt" || fail "top --once: no agent line: $(cat "$tmp/top.txt")"
for cpu in 0 1; do
	grep -qE "^ +$cpu  tid ($(paste -sd'|' "$tmp/tasks")) " "$tmp/top.txt" ||
		fail "top --once: no row of CPU $cpu with a task: $(cat "$tmp/top.txt")"
done
[ "$(grep -c '^enclave ' "$tmp/top.txt")" -eq 1 ] || fail "top --once: more than one view"
grep -q $'\033' "$tmp/top.txt" && fail "top --once wrote terminal escapes"

# ---- not on a terminal: one view after another until SIGINT ----
timeout --preserve-status -s INT 1 "$bin/ghostctl" top 4 --interval 0.2 </dev/null \
	>"$tmp/top.txt" 2>"$tmp/err" || fail "top until SIGINT exited $?: $(cat "$tmp/err")"
[ "$(grep -c '^enclave 4 ' "$tmp/top.txt")" -ge 1 ] || fail "top until SIGINT: no view"
grep -q $'\033' "$tmp/top.txt" && fail "top off a terminal wrote terminal escapes"
timeout --preserve-status -s INT 1 "$bin/ghostctl" top 4 --json --interval 0.2 </dev/null \
	>"$tmp/top.json" 2>"$tmp/err" || fail "top --json until SIGINT exited $?: $(cat "$tmp/err")"
python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines and all(json.loads(l)["enclave"] == 4 for l in lines), lines
' "$tmp/top.json" || fail "top --json until SIGINT: not one JSON object per line"

# ---- errors ----
expect 1 "no enclave 9" "$bin/ghostctl" top 9 --once
expect 2 "top needs an enclave id" "$bin/ghostctl" top
expect 2 "top needs an enclave id" "$bin/ghostctl" top --once
expect 2 "bad enclave id \"x\"" "$bin/ghostctl" top x --once
expect 2 "unexpected argument \"5\"" "$bin/ghostctl" top 4 5
expect 2 "unknown option \"--bogus\"" "$bin/ghostctl" top 4 --bogus
expect 2 "bad --interval \"0\"" "$bin/ghostctl" top 4 --interval 0
expect 2 "bad --interval \"-1\"" "$bin/ghostctl" top 4 --interval -1
expect 2 "bad --interval \"1s\"" "$bin/ghostctl" top 4 --interval 1s
expect 2 "--interval needs a value" "$bin/ghostctl" top 4 --interval

kill -INT "$agent_pid"
wait "$agent_pid" || fail "the agent exited $?: $(cat "$tmp/agent")"
agent_pid=
kill -TERM "$work_pid" 2>/dev/null
wait "$work_pid"
work_pid=
echo "top: --json --once, --once, views until SIGINT, errors: ok"
