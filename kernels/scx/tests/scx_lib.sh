# kernels/scx/tests/scx_lib.sh - what the sched_ext guest scripts (scx_policies.sh,
# scx_programs.sh, scx_kill.sh) share: the policies and their parameters, reporting,
# the sched_ext state, starting the agent and waiting with a time limit. Not a test:
# scripts/scx-tests.sh copies it into /tests as a data file, and a script sources it
# from its own directory after setting `me` (its name, the prefix of its messages):
#   me=scx_example
#   . "$(dirname "$0")/scx_lib.sh"
#
# It sets BIN (the static tools, /tests/bin or $GHOST_BIN), SCX (/sys/kernel/sched_ext),
# START_S and STOP_S (how long the agent may take to serve, to stop), apid (the agent's pid, "" when none) and
# others (more pids, killed with the agent when the script exits), and installs that exit
# trap. busybox sh.

: "${me:?a script sets me before it sources scx_lib.sh}"
BIN=${GHOST_BIN:-/tests/bin}
SCX=/sys/kernel/sched_ext
START_S=60
STOP_S=30
apid=""
others=""

# say TEXT: a progress line; fail TEXT: the failure line, and exit 1.
say() { echo "$me: $*"; }
fail() { echo "FAIL $me: $*" >&2; exit 1; }

# At exit, the agent and the others are killed.
kill_all() {
	[ -n "$apid" ] && kill -9 "$apid" 2>/dev/null
	for p in $others; do kill -9 "$p" 2>/dev/null; done
}
trap kill_all EXIT

# show FILE: prints FILE indented.
show() {
	sed 's/^/    | /' "$1"
}

# state: what /sys/kernel/sched_ext/state reads ("absent" without sched_ext).
state() {
	cat "$SCX/state" 2>/dev/null || echo absent
}

# state_is WANT: whether the state reads WANT.
state_is() {
	[ "$(state)" = "$1" ]
}

# ended PID: whether the process PID has ended (or never was).
ended() {
	! kill -0 "$1" 2>/dev/null
}

# wait_for SECONDS CMD [ARG...]: runs CMD every 0.1 s until it succeeds; false if it still
# fails after SECONDS.
wait_for() {
	_left=$(($1 * 10))
	shift
	while ! "$@"; do
		[ "$_left" -le 0 ] && return 1
		sleep 0.1
		_left=$((_left - 1))
	done
}

# wait_state WANT SECONDS WHEN: the state must read WANT within SECONDS.
wait_state() {
	wait_for "$2" state_is "$1" ||
		fail "$3: $SCX/state reads \"$(state)\" after $2 s, expected \"$1\""
}

# preflight TOOL...: exits 77 without sched_ext; every TOOL must be in BIN; no scheduler
# may be loaded (one of the previous test may still be on its way out: 10 s for that).
preflight() {
	if [ ! -d "$SCX" ]; then
		say "skipped: this kernel has no sched_ext ($SCX is absent)"
		exit 77
	fi
	for t in "$@"; do
		[ -x "$BIN/$t" ] || fail "no $BIN/$t"
	done
	wait_state disabled 10 "before the test (is another scheduler loaded?)"
}

# agent_served: sets enclave from the agent's line "ghost-agent: ..., enclave N, CPUs ..." in
# $_alog; false while there is none; fails if the agent has ended.
agent_served() {
	enclave=$(sed -n 's/^ghost-agent: .*, enclave \([0-9][0-9]*\), CPUs.*/\1/p' "$_alog")
	[ -n "$enclave" ] && return 0
	if ended "$apid"; then
		wait "$apid"
		rc=$?
		apid=""
		show "$_alog"
		fail "${_who}ghost-agent ended (status $rc) before it served"
	fi
	return 1
}

# policy_list: the policies `ghost-agent --list-policies` lists, in its order (fails if none).
policy_list() {
	_list=$("$BIN/ghost-agent" --list-policies | sed -n 's/^\([a-z0-9_-][a-z0-9_-]*\)$/\1/p')
	[ -n "$_list" ] || fail "ghost-agent --list-policies lists no policy"
	echo "$_list"
}

# params POLICY: the names of the "-o name=default" lines --list-policies shows for POLICY.
params() {
	"$BIN/ghost-agent" --list-policies | sed -n "/^$1\$/,/^[^ ]/p" | sed -n 's/^ *-o \([a-z_0-9]*\)=.*/\1/p'
}

# start_agent LOG WHO ARG...: starts `ghost-agent --kernel scx ARG...` in the background
# (apid) with its output in LOG, waits at most START_S seconds for its enclave (sets
# enclave), shows LOG; then the state must read "enabled" within 5 s. WHO, when not empty,
# begins the failure messages ("WHO: ...").
start_agent() {
	_alog=$1
	_who=${2:+$2: }
	shift 2
	# Emptied here, not by the background job's redirection, which may come after the
	# first look at the log and leave an earlier agent's "enclave N" line in it.
	: >"$_alog"
	"$BIN/ghost-agent" --kernel scx "$@" >>"$_alog" 2>&1 &
	apid=$!
	enclave=""
	wait_for "$START_S" agent_served ||
		{ show "$_alog"; fail "${_who}ghost-agent did not say \"enclave N\" within $START_S s"; }
	show "$_alog"
	wait_state enabled 5 "${_who}with the agent serving"
}

# stop_agent WHO LOG: SIGINT to the agent, which must exit 0 within STOP_S seconds (LOG is
# shown); then the state must read "disabled" within 5 s.
stop_agent() {
	kill -INT "$apid"
	wait_for "$STOP_S" ended "$apid" || { show "$2"; fail "$1: ghost-agent still runs $STOP_S s after SIGINT"; }
	wait "$apid"
	rc=$?
	apid=""
	show "$2"
	[ "$rc" -eq 0 ] || fail "$1: ghost-agent exited with status $rc after SIGINT, expected 0"
	wait_state disabled 5 "$1: after the agent stopped"
}
