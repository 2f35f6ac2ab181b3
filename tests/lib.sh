# tests/lib.sh - what the shell tests of the deployed shape share (sourced from the top of the
# tree, never run): the programs ($build: $BUILD or build, $bin), skip, a private temporary
# directory and embedded-kernel namespace ($tmp, $GHOST_EMU_ROOT), the
# clean-up at exit (the agent and workload processes the test started, by their pids in
# $agent_pid and $work_pid, then $tmp), fail, and expect for one-line errors.
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
