#!/usr/bin/env bash
# tests/test_trace.sh - ghost-agent --trace and ghost-trace in the deployed shape (the agent
# in one process, ghost-workload in another, on the embedded kernel):
#   - a traced run (fifo-percpu, rpc and block/wake workloads) stopped by SIGTERM: the file
#     drops nothing, and its records agree exactly with the agent's summary line (commits
#     ok, failed by reason, messages by kind: each a record); the exported JSON parses, has
#     a "CPU n" track per CPU, exactly one X slice per on-CPU period (counted here from
#     `ghost-trace dump` by the rules of ghost-trace --help), never two overlapping slices
#     on one CPU's track, a flow start for every flow end, an instant per failed txn, and
#     agrees with `ghost-trace stats --json`;
#   - an agent killed by SIGTERM while its workload runs still writes a trace that parses;
#   - --trace-size 8K under many events: the file stays within its bound, says how many
#     records it dropped (kept + dropped = every commit and message of the summary), and
#     keeps the newest (the workload's last TASK_DEAD messages);
#   - bad input: usage errors exit 2, a truncated or foreign file exits 1, one line each.
# Run from the top of the tree after `make` (BUILD: the build directory, default build).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
command -v python3 >/dev/null || skip "needs python3 to parse the JSON"

# The checks of an exported trace against the dump, the stats and (if given) the summary.
check_export() {
	python3 - "$1" "$2" "$3" "$4" <<'EOF'
import json, re, sys
jpath, dump, stats, summary = sys.argv[1:5]
def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)
d = json.load(open(jpath))
if d.get("displayTimeUnit") != "ns" or not isinstance(d.get("traceEvents"), list):
    fail("not the trace-event object form")
ev = d["traceEvents"]
lines = open(dump).read().splitlines()
m = re.match(r"trace version 1, enclave (\d+), (\d+) CPUs, (\d+) records, (\d+) dropped", lines[0])
if not m:
    fail("dump header: " + lines[0])
enclave, ncpus, nrec, dropped = map(int, m.groups())
recs = lines[1:]
if len(recs) != nrec:
    fail("dump has %d records, its header %d" % (len(recs), nrec))
# The on-CPU periods by the rules ghost-trace --help gives, from the dump.
cur, where, periods, failed, msgs, ok = {}, {}, 0, {}, {}, 0
for line in recs:
    f = line.split()
    if f[3] == "MSG":
        typ, gtid, result = f[4], int(f[6]), int(f[12])
        if result != -22:
            msgs[typ] = msgs.get(typ, 0) + 1
        if result == 0 and typ in ("MSG_TASK_BLOCKED", "MSG_TASK_YIELD", "MSG_TASK_PREEMPT",
                                   "MSG_TASK_DEAD", "MSG_TASK_DEPARTED"):
            c = where.pop(gtid, None)
            if c is not None and cur.get(c) == gtid:
                del cur[c]
    else:
        cpu, gtid, state = int(f[5]), int(f[7]), f[10]
        if state != "COMPLETE":
            failed[state] = failed.get(state, 0) + 1
            continue
        ok += 1
        if gtid <= 0:
            g = cur.pop(cpu, None)
            if g is not None:
                where.pop(g, None)
            continue
        if cur.get(cpu) == gtid:
            continue
        old = where.get(gtid)
        if old is not None and cur.get(old) == gtid:
            del cur[old]
        prev = cur.get(cpu)
        if prev is not None:
            where.pop(prev, None)
        cur[cpu] = gtid
        where[gtid] = cpu
        periods += 1
st = json.load(open(stats))
cpus = [c["cpu"] for c in st["cpus"]]
if len(cpus) != ncpus:
    fail("stats name %d CPUs, the header %d" % (len(cpus), ncpus))
names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
         if e.get("ph") == "M" and e.get("name") == "thread_name"}
for c in cpus:
    if names.get((enclave, c)) != "CPU %d" % c:
        fail("no track named CPU %d" % c)
xs = [e for e in ev if e.get("ph") == "X" and e.get("cat") == "oncpu"]
if len(xs) != periods or st["oncpu_periods"] != periods:
    fail("%d X slices, stats %d periods, the trace records %d" % (len(xs), st["oncpu_periods"], periods))
if periods == 0:
    fail("no on-CPU period at all")
tracks = {}
for e in xs:
    if e["pid"] != enclave or e["tid"] not in cpus or not e["name"].startswith("gtid "):
        fail("slice off the CPU tracks: %r" % e)
    tracks.setdefault(e["tid"], []).append((round(e["ts"] * 1000), round(e["dur"] * 1000)))
for c, sl in tracks.items():
    sl.sort()
    for (t0, d0), (t1, d1) in zip(sl, sl[1:]):
        if t1 < t0 + d0:
            fail("CPU %d: a slice at %d ns overlaps the one at %d ns (%d ns long)" % (c, t1, t0, d0))
starts = {e["id"] for e in ev if e.get("ph") == "s"}
ends = [e for e in ev if e.get("ph") == "f"]
if len(ends) != st["latency_ns"]["count"] or any(e["id"] not in starts for e in ends):
    fail("%d flow ends for %d runs after a wake-up, or an end without a start" % (len(ends), st["latency_ns"]["count"]))
if any(e.get("bp") != "e" for e in ends):
    fail("a flow end that is not bound to its enclosing slice")
inst = {}
for e in ev:
    if e.get("ph") == "i":
        inst[e["name"]] = inst.get(e["name"], 0) + 1
if inst != failed:
    fail("instants %r, failed txns %r" % (inst, failed))
if not any(e.get("ph") == "C" and e.get("name") == "runnable tasks" for e in ev) or \
   not any(e.get("ph") == "C" and e.get("name") == "commits per second" for e in ev):
    fail("a counter is missing")
# What Perfetto's JSON importer (the one its UI runs) accepts, rule by rule: a phase it
# knows; pid and tid unsigned 32-bit numbers; ts a number; X with a numeric dur; C with an
# object of numbers; an instant's scope t (with a tid), p or g; flows matched by (id, cat,
# name), each end bound to the slice that encloses it on its track; names of tracks in
# thread_name/process_name metadata with args.name.
def u32(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xffffffff
def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)
flow_starts = {}
for e in ev:
    ph = e.get("ph")
    if ph not in ("X", "s", "f", "i", "C", "M"):
        fail("a phase the importer does not take: %r" % e)
    if not u32(e.get("pid")) or ("tid" in e and not u32(e["tid"])):
        fail("pid or tid not an unsigned 32-bit number: %r" % e)
    if ph != "M" and not num(e.get("ts")):
        fail("no numeric ts: %r" % e)
    if ph == "X" and (not num(e.get("dur")) or e["dur"] < 0):
        fail("a slice without a numeric dur: %r" % e)
    if ph == "C" and (not isinstance(e.get("args"), dict) or not e["args"] or
                      not all(num(a) for a in e["args"].values())):
        fail("a counter whose args are not numbers: %r" % e)
    if ph == "i" and (e.get("s") not in ("t", "p", "g") or (e["s"] == "t" and "tid" not in e)):
        fail("an instant without a usable scope: %r" % e)
    if ph in ("s", "f") and not (num(e.get("id")) or isinstance(e.get("id"), str)):
        fail("a flow event without an id: %r" % e)
    if ph == "s":
        flow_starts[(e["id"], e.get("cat"), e.get("name"))] = e
    if ph == "M" and e.get("name") in ("thread_name", "process_name") and \
            not isinstance(e.get("args", {}).get("name"), str):
        fail("a track name without args.name: %r" % e)
slices = {}
for e in ev:
    if e.get("ph") == "X":
        slices.setdefault((e["pid"], e.get("tid")), []).append((e["ts"], e["ts"] + e["dur"]))
for e in ev:
    if e.get("ph") != "f":
        continue
    if (e["id"], e.get("cat"), e.get("name")) not in flow_starts:
        fail("a flow end whose (id, cat, name) no start has: %r" % e)
    eps = 1e-3  # the timestamps are printed to the nanosecond
    if not any(a - eps <= e["ts"] <= b + eps for a, b in slices.get((e["pid"], e.get("tid")), [])):
        fail("a flow end outside every slice of its track: %r" % e)
if summary != "-":
    if dropped:
        fail("the trace dropped %d records" % dropped)
    s = open(summary).read()
    m = re.search(r"commits ok (\d+) failed (\d+)((?: [A-Z_]+ \d+)*) \| msgs (.*?) \|", s)
    if not m:
        fail("no summary line: " + s)
    if int(m.group(1)) != ok or int(m.group(2)) != sum(failed.values()):
        fail("summary commits ok %s failed %s, trace %d and %d" % (m.group(1), m.group(2), ok, sum(failed.values())))
    reasons = dict(zip(m.group(3).split()[0::2], map(int, m.group(3).split()[1::2])))
    if reasons != failed:
        fail("summary failures %r, trace %r" % (reasons, failed))
    kinds = m.group(4).split()
    for name, n in zip(kinds[0::2], map(int, kinds[1::2])):
        t = "MSG_TASK_" + name.upper() if name != "tick" else "MSG_CPU_TICK"
        if msgs.get(t, 0) != n:
            fail("summary %s %d, trace %d" % (name, n, msgs.get(t, 0)))
    if st["txn_outcomes"].get("COMPLETE", 0) != ok:
        fail("stats COMPLETE %r, trace %d" % (st["txn_outcomes"].get("COMPLETE"), ok))
print("%d records, %d periods, %d flows, %d failed txns" % (nrec, periods, len(ends), sum(failed.values())))
EOF
}

# ---- a traced run, stopped by SIGTERM once the workloads are done ----
traced_run 5 "$tmp/t.bin" 0.5 0.3
grep -q "^ghost-agent: trace of [0-9]* records written to $tmp/t.bin" "$tmp/agent" ||
	fail "no trace line: $(cat "$tmp/agent")"
"$bin/ghost-trace" dump "$tmp/t.bin" >"$tmp/dump" || fail "dump"
"$bin/ghost-trace" stats "$tmp/t.bin" --json >"$tmp/stats.json" || fail "stats --json"
"$bin/ghost-trace" stats "$tmp/t.bin" >"$tmp/stats" || fail "stats"
grep -q "^wake-up to run, us: [1-9]" "$tmp/stats" || fail "stats: $(cat "$tmp/stats")"
"$bin/ghost-trace" export "$tmp/t.bin" --format chrome -o "$tmp/t.json" || fail "export"
check_export "$tmp/t.json" "$tmp/dump" "$tmp/stats.json" "$tmp/agent" || exit 1

# ---- SIGTERM while the workload runs: the file is written all the same ----
"$bin/ghost-agent" --policy fifo-percpu --cpus 0-1 --enclave 6 --trace "$tmp/k.bin" \
	--quiet >"$tmp/agent" 2>&1 &
agent_pid=$!
"$bin/ghost-workload" --enclave 6 --wait 10 --threads 2 --pattern block-wake --duration 5 \
	>"$tmp/work" 2>&1 &
work_pid=$!
# Until the workload's threads have been scheduled (the trace is rewritten at the end only:
# watch the agent's enclave instead).
for _ in $(seq 1 500); do
	"$bin/ghostctl" tasks 6 2>/dev/null | grep -q . && break
	sleep 0.01
done
sleep 0.2
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "the agent killed mid-run exited $?: $(cat "$tmp/agent")"
agent_pid=
wait "$work_pid"
work_pid=
"$bin/ghost-trace" dump "$tmp/k.bin" >"$tmp/dump" || fail "dump of the mid-run trace"
"$bin/ghost-trace" stats --json "$tmp/k.bin" >"$tmp/stats.json" || fail "stats of the mid-run trace"
"$bin/ghost-trace" export "$tmp/k.bin" -o "$tmp/k.json" || fail "export of the mid-run trace"
check_export "$tmp/k.json" "$tmp/dump" "$tmp/stats.json" - || exit 1

# ---- the size bound ----
"$bin/ghost-agent" --policy fifo-percpu --cpus 0-1 --enclave 7 --trace "$tmp/s.bin" \
	--trace-size 8K --quiet >"$tmp/agent" 2>&1 &
agent_pid=$!
"$bin/ghost-workload" --enclave 7 --wait 10 --threads 2 --pattern block-wake --duration 0.3 \
	>"$tmp/work" 2>&1 || fail "block-wake workload: $(cat "$tmp/work")"
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "the agent exited $?: $(cat "$tmp/agent")"
agent_pid=
size=$(stat -c %s "$tmp/s.bin")
[ "$size" -le $((144 + 8192)) ] || fail "a trace of $size bytes under --trace-size 8K"
"$bin/ghost-trace" dump "$tmp/s.bin" >"$tmp/dump" || fail "dump of the bounded trace"
read -r kept dropped < <(sed -n '1s/.* \([0-9]*\) records, \([0-9]*\) dropped.*/\1 \2/p' "$tmp/dump")
summary=$(grep '^summary: ' "$tmp/agent")
read -r ok failed < <(sed 's/.*commits ok \([0-9]*\) failed \([0-9]*\).*/\1 \2/' <<<"$summary")
msgs=$(sed 's/.*| msgs \([^|]*\) |.*/\1/' <<<"$summary" | awk '{ for (i = 2; i <= NF; i += 2) n += $i } END { print n }')
events=$((ok + failed + msgs))
[ "$dropped" -gt 0 ] && [ $((kept + dropped)) -eq "$events" ] ||
	fail "kept $kept + dropped $dropped records, the summary counts $events: $summary"
dead=$(sed -n 's/.* dead \([0-9]*\) .*/\1/p' <<<"$summary")
[ "$(grep -c ' MSG MSG_TASK_DEAD ' "$tmp/dump")" -eq "$dead" ] ||
	fail "the bounded trace lost the newest records (the $dead TASK_DEAD messages)"

# ---- bad input ----
expect 2 "a command is required" "$bin/ghost-trace"
expect 2 "unknown command" "$bin/ghost-trace" show "$tmp/t.bin"
expect 2 "needs a trace FILE" "$bin/ghost-trace" stats
expect 2 "export needs -o" "$bin/ghost-trace" export "$tmp/t.bin"
expect 2 "unknown --format" "$bin/ghost-trace" export "$tmp/t.bin" --format svg -o "$tmp/x"
expect 2 "takes no --json" "$bin/ghost-trace" dump --json "$tmp/t.bin"
expect 1 "No such file" "$bin/ghost-trace" stats "$tmp/none.bin"
head -c 1000 "$tmp/t.bin" >"$tmp/short.bin"
expect 1 "truncated" "$bin/ghost-trace" stats "$tmp/short.bin"
head -c 100 "$tmp/t.bin" >"$tmp/short.bin"
expect 1 "truncated" "$bin/ghost-trace" export "$tmp/short.bin" -o "$tmp/x"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$tmp/foreign"
expect 1 "not a ghost trace" "$bin/ghost-trace" dump "$tmp/foreign"
expect 1 "cannot write" "$bin/ghost-trace" export "$tmp/t.bin" -o "$tmp/no/dir/x.json"
expect 2 "sizes the trace of --trace" "$bin/ghost-agent" --policy fifo-percpu --trace-size 1M
expect 2 "bad value \"100\" for --trace-size" "$bin/ghost-agent" --policy fifo-percpu \
	--trace "$tmp/x" --trace-size 100
expect 1 "cannot" "$bin/ghost-agent" --policy fifo-percpu --cpus 0-1 --enclave 8 \
	--trace "$tmp/no/dir/t.bin" --quiet
echo "trace: traced run, SIGTERM mid-run, size bound, bad input: ok"
