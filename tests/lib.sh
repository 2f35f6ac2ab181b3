# tests/lib.sh - what the shell tests of the deployed shape share (sourced from the top of the
# tree, never run): the programs ($build: $BUILD or build, $bin), skip, a private temporary
# directory and embedded-kernel namespace ($tmp, $GHOST_EMU_ROOT), the
# clean-up at exit (the agent and workload processes the test started, by their pids in
# $agent_pid and $work_pid, then $tmp), fail, expect for one-line errors, and traced_run.
# A test may define test_cleanup_extra, which the clean-up calls first. Never kills anything
# it did not start, never touches files outside $tmp.
build=${BUILD:-build}
bin=$build/bin
# skip REASON: the test cannot run here (exit 77: tests/run.sh counts it as skipped).
skip() {
	echo "$*"
	exit 77
}
tmp=$(mktemp -d)
agent_pid= work_pid=
test_cleanup() {
	declare -F test_cleanup_extra >/dev/null && test_cleanup_extra
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	[ -n "$work_pid" ] && kill -9 "$work_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap test_cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export GHOST_EMU_ROOT=$tmp/root
mkdir -p "$GHOST_EMU_ROOT"

# expect STATUS TEXT COMMAND...: COMMAND exits with STATUS and says TEXT in one line of stderr.
expect() {
	local status=$1 text=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$status" ] || fail "$* exited $rc, not $status: $(cat "$tmp/err")"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$text" "$tmp/err" ||
		fail "$*: not one line saying \"$text\": $(cat "$tmp/err")"
}

# traced_run ENCLAVE FILE RPC_S BLOCK_WAKE_S: a traced run in the deployed shape: ghost-agent
# (fifo-percpu on CPUs 0-1) recording into FILE, an rpc workload of 4 threads for RPC_S seconds
# and a block-wake one of 2 for BLOCK_WAKE_S in other processes, then SIGTERM to the agent
# (its output in $tmp/agent).
traced_run() {
	"$bin/ghost-agent" --policy fifo-percpu --cpus 0-1 --enclave "$1" --trace "$2" \
		--quiet >"$tmp/agent" 2>&1 &
	agent_pid=$!
	"$bin/ghost-workload" --enclave "$1" --wait 10 --threads 4 --pattern rpc --rate 2000 \
		--duration "$3" >"$tmp/work" 2>&1 || fail "rpc workload: $(cat "$tmp/work")"
	"$bin/ghost-workload" --enclave "$1" --threads 2 --pattern block-wake --duration "$4" \
		>"$tmp/work" 2>&1 || fail "block-wake workload: $(cat "$tmp/work")"
	kill -TERM "$agent_pid"
	wait "$agent_pid" || fail "the agent exited $?: $(cat "$tmp/agent")"
	agent_pid=
}
