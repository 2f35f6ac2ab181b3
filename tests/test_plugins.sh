#!/usr/bin/env bash
# tests/test_plugins.sh - policies from shared objects, in the deployed shape (agent and
# workload in separate processes, nothing rebuilt):
#   - the example plugin (`make examples`) lists its parameter and schedules two spinners
#     on one CPU: both run (its time slice shares the CPU); with a slice longer than the
#     run, one waits the whole time (ghost-workload then fails, as it says it does);
#   - ghost-agent refuses a missing file, a shared object that is no plugin, a plugin built
#     for another policy ABI, one that needs a symbol the agent lacks, and one whose
#     declaration is bad: exit 1 with one line saying why; a bad -o for a plugin: exit 2;
#   - an agent of one's own (ghost_agent_main, examples/rr_agent.c) lists and runs its policy.
# Run from the top of the tree after `make` (BUILD: the build directory, default build).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
plugin=$build/examples/round_robin.so
[ -f "$plugin" ] || skip "no $plugin (make examples; a STATIC=1 build has none)"

# expect STATUS TEXT COMMAND...: COMMAND exits with STATUS and its one line of stderr holds
# TEXT (a fixed string, unlike tests/lib.sh's pattern).
expect() {
	local want=$1 text=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = "$want" ] || fail "$* exited $rc, not $want: $(cat "$tmp/err")"
	grep -qF -- "$text" "$tmp/err" || fail "$*: no \"$text\" in: $(cat "$tmp/err")"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$*: more than one line: $(cat "$tmp/err")"
}

# run_spinners SECONDS AGENT-COMMAND... : starts the agent on CPU 0 (enclave 7), runs two
# spinners for SECONDS; leaves the workload's JSON in $tmp/work and its status in $work_rc.
run_spinners() {
	local secs=$1
	shift
	"$@" --cpus 0 --enclave 7 --quiet >"$tmp/agent" 2>&1 &
	agent_pid=$!
	"$bin/ghost-workload" --enclave 7 --wait 10 --threads 2 --pattern spin --duration "$secs" \
		--json >"$tmp/work" 2>"$tmp/work.err"
	work_rc=$?
	kill -INT "$agent_pid"
	wait "$agent_pid" || fail "the agent ($*) exited $?: $(cat "$tmp/agent")"
	agent_pid=
	grep -q "^summary: .*commits ok [1-9]" "$tmp/agent" || fail "no commits: $(cat "$tmp/agent")"
}

# ---- the example plugin ----
out=$("$bin/ghost-agent" --policy "$plugin" --list-policies) || fail "--list-policies"
[ "$(head -n 1 <<<"$out")" = rr ] || fail "the plugin is not listed first: $out"
grep -q -- "-o slice=10ms  (duration, 1ms..1s)" <<<"$out" || fail "its parameter: $out"

run_spinners 1 "$bin/ghost-agent" --policy "$plugin" -o slice=3ms
[ "$work_rc" = 0 ] || fail "spinners under the plugin: $(cat "$tmp/work.err")"
min=$(sed -n 's/.*"per_thread_min":\([0-9]*\).*/\1/p' "$tmp/work")
[ "${min:-0}" -gt 0 ] || fail "a spinner never ran: $(cat "$tmp/work")"
echo "plugin rr, slice 3ms: both spinners ran ($(sed -n 's/.*"per_thread":\(\[[^]]*\]\).*/\1/p' "$tmp/work"))"

# (The slice starts when the first spinner does, before the measured half second.)
run_spinners 0.5 "$bin/ghost-agent" --policy "$plugin" -o slice=1s
[ "$work_rc" = 1 ] || fail "with a 1 s slice both spinners ran in 0.5 s: $(cat "$tmp/work")"
grep -q "got no CPU time" "$tmp/work.err" || fail "$(cat "$tmp/work.err")"
echo "plugin rr, slice 1s: one spinner waited the whole half second"

# ---- plugins ghost-agent refuses ----
cc_so() { # cc_so NAME SOURCE: a shared object built as a plugin is
	printf '%s\n' "$2" >"$tmp/$1.c"
	${CC:-cc} -shared -fPIC -Iinclude -o "$tmp/$1.so" "$tmp/$1.c" || fail "cannot build $1"
}
expect 1 "No such file" "$bin/ghost-agent" --policy "$tmp/missing.so" --cpus 0
echo 'not a shared object' >"$tmp/text.so"
expect 1 "cannot load" "$bin/ghost-agent" --policy "$tmp/text.so" --cpus 0
cc_so none 'int not_a_policy = 1;'
expect 1 "is not a policy plugin" "$bin/ghost-agent" --policy "$tmp/none.so" --cpus 0
cc_so abi '#include <ghost/policy.h>
const struct ghost_policy_plugin ghost_policy_plugin = { 99, sizeof(struct ghost_policy), 0 };'
expect 1 "built for policy ABI 99" "$bin/ghost-agent" --policy "$tmp/abi.so" --cpus 0
cc_so undefined '#include <ghost/policy.h>
int ghost_no_such_function(void);
static int init(struct ghost_full_agent *fa, void **s) { (void)fa; (void)s; return ghost_no_such_function(); }
static void loop(void *s, struct ghost_agent *a) { (void)s; (void)a; }
static const struct ghost_policy p = { .name = "u", .init = init, .agent_loop = loop };
GHOST_POLICY_PLUGIN(p);'
expect 1 "undefined symbol: ghost_no_such_function" "$bin/ghost-agent" --policy "$tmp/undefined.so" --cpus 0
cc_so noinit '#include <ghost/policy.h>
static void loop(void *s, struct ghost_agent *a) { (void)s; (void)a; }
static const struct ghost_policy p = { .name = "noinit", .agent_loop = loop };
GHOST_POLICY_PLUGIN(p);'
expect 1 "policy noinit has no init hook" "$bin/ghost-agent" --policy "$tmp/noinit.so" --cpus 0
expect 2 "-o slice=5: slice=\"5\": not a duration" "$bin/ghost-agent" --policy "$plugin" -o slice=5 --cpus 0
expect 2 "-o quantum=5ms: policy rr has no parameter \"quantum\"" "$bin/ghost-agent" --policy "$plugin" -o quantum=5ms --cpus 0
echo "refused: a missing file, text, no plugin symbol, ABI 99, an undefined symbol, no init, bad -o"

# ---- an agent of one's own ----
own=$build/examples/rr-agent
out=$("$own" --list-policies) || fail "rr-agent --list-policies"
[ "$(head -n 1 <<<"$out")" = rr ] || fail "rr-agent does not list its policy first: $out"
[ "$(grep -c '^rr$' <<<"$out")" = 1 ] || fail "rr listed twice: $out"
run_spinners 1 "$own" -o slice=3ms
[ "$work_rc" = 0 ] || fail "spinners under rr-agent: $(cat "$tmp/work.err")"
grep -q "^rr-agent: rr on the emu kernel" "$tmp/agent" || fail "rr-agent: $(cat "$tmp/agent")"
echo "rr-agent: its own policy by default, both spinners ran"
