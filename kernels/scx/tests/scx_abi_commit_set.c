/*
 * kernels/scx/tests/scx_abi_commit_set.c - one commit call over several CPUs of a sched_ext
 * enclave: a failed txn poisons the caller's own, which is never tried; a COMMIT_AT_SCHEDULE
 * txn is committed by its CPU at its next schedule, not by the call.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h (child A moved in asleep). From CPU 1's agent, running on CPU 1:
 *   - child A blocked: one ghost_txn_commit_set() call over CPUs 1-3, CPU 2's txn for a gtid
 *     nobody has, CPU 3's a NULL commit, CPU 1's (the caller's own) a local NULL commit: it
 *     returns 1; CPU 2 GHOST_TXN_TARGET_NOT_FOUND with its cpu_seqnum unchanged, CPU 3
 *     GHOST_TXN_COMPLETE with a new cpu_seqnum, CPU 1 GHOST_TXN_POISONED, never tried (its
 *     cpu_seqnum unchanged) and committed last (its commit_time not before the others'), each
 *     with a commit_time;
 *   - one call over CPUs 1-2, a NULL commit for CPU 2 and CPU 1's local NULL commit (made
 *     again, at most STALE_TRIES calls, while the local one meets a moved agent barrier,
 *     GHOST_TXN_AGENT_STALE): it returns 2, both GHOST_TXN_COMPLETE, nothing poisoned, CPU
 *     1's with a new cpu_seqnum and committed last; child A got no message from any of this;
 *   - child A, woken (TASK_WAKEUP), is committed to CPU 2 (idle, its agent asleep) with
 *     COMMIT_AT_SCHEDULE: ghost_txn_commit_set() returns without waiting for it (0, or 1
 *     with the txn COMPLETE) and the txn is still READY (or, if CPU 2 scheduled in between,
 *     already taken by CPU 2 or COMPLETE: allowed, and said which); no message comes for
 *     child A while the txn waits; CPU 2 commits it at its next schedule (its agent's sleep
 *     passes through the scheduler; if it has not within AT_SCHEDULE_MS, a ping wakes that
 *     agent, and the output says so): GHOST_TXN_COMPLETE with a new cpu_seqnum and a
 *     commit_time not before the call (not before its return if it was seen READY after
 *     it), then TASK_ON_CPU for CPU 2 and TASK_BLOCKED.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_commit_set"
#include "scx_abi.h"

#define STALE_TRIES    3    /* calls whose local commit may meet a moved agent barrier */
#define AT_SCHEDULE_MS 2000 /* a COMMIT_AT_SCHEDULE txn's wait for its CPU, unpinged */

/*
 * One commit call from CPU 1's agent over CPUs 1-3: the others first, the caller's own last.
 * CPU 2's txn fails (a gtid nobody has), so CPU 1's own (a local NULL commit, which would
 * give up the CPU) is POISONED without being tried; CPU 3's (a NULL commit) goes through.
 * Then one call whose other txn (a NULL commit to CPU 2) succeeds: CPU 1's own is tried and
 * COMPLETE. c, blocked, gets no message from any of this.
 */
static void step_poison(struct child *c)
{
	struct ghost_txn *own, *two, *three;
	struct ghost_cpuset set;
	uint64_t own_seq, two_seq, three_seq;
	int64_t t0, t1;
	int r, n = c->nlog, tries;
	int32_t s;

	begin("one commit call over CPUs " ENCLAVE_CPUS " from CPU %d's agent: CPU %d's txn "
	      "fails -> the caller's own is POISONED, CPU %d's commits; none fails -> the "
	      "caller's own commits",
	      AGENT_CPU, TARGET_CPU, BUSY_CPU);
	expect_blocked(c);
	/* The backend takes the caller's CPU from where the call runs. */
	if (sched_getcpu() != AGENT_CPU)
		die("the agent of CPU %d runs on CPU %d", AGENT_CPU, sched_getcpu());
	drain();

	two = open_txn(TARGET_CPU, BOGUS_GTID, 1, SEND_TASK_ON_CPU, 0);
	three = open_txn(BUSY_CPU, GHOST_NULL_GTID, 0, 0, 0);
	own = open_txn(AGENT_CPU, GHOST_NULL_GTID, 0, 0, 0);
	own_seq = own->cpu_seqnum;
	two_seq = two->cpu_seqnum;
	three_seq = three->cpu_seqnum;
	ghost_cpuset_zero(&set);
	ghost_cpuset_set(&set, AGENT_CPU);
	ghost_cpuset_set(&set, TARGET_CPU);
	ghost_cpuset_set(&set, BUSY_CPU);
	t0 = ghost_now_ns();
	r = ghost_txn_commit_set(E, &set);
	t1 = ghost_now_ns();
	if (r < 0)
		die("ghost_txn_commit_set(CPUs " ENCLAVE_CPUS "): %s", strerror(-r));
	expect_state(TARGET_CPU, GHOST_TXN_TARGET_NOT_FOUND, t0, "a gtid nobody has");
	expect_state(BUSY_CPU, GHOST_TXN_COMPLETE, t0,
		     "a NULL commit in the same call, after the failed one");
	expect_state(AGENT_CPU, GHOST_TXN_POISONED, t0,
		     "the caller's own txn in a call where another one failed");
	if (r != 1)
		die("ghost_txn_commit_set(CPUs " ENCLAVE_CPUS ") returned %d, expected 1 (CPU %d's "
		    "NULL commit)",
		    r, BUSY_CPU);
	if (own->cpu_seqnum != own_seq)
		die("the poisoned txn of CPU %d moved cpu_seqnum from %" PRIu64 " to %" PRIu64
		    " (it must not be tried)",
		    AGENT_CPU, own_seq, own->cpu_seqnum);
	if (two->cpu_seqnum != two_seq)
		die("the failed txn of CPU %d moved cpu_seqnum from %" PRIu64 " to %" PRIu64,
		    TARGET_CPU, two_seq, two->cpu_seqnum);
	if (three->cpu_seqnum <= three_seq)
		die("the complete txn of CPU %d left cpu_seqnum at %" PRIu64, BUSY_CPU,
		    three->cpu_seqnum);
	if (own->commit_time < two->commit_time || own->commit_time < three->commit_time)
		die("the caller's own txn (CPU %d) has commit_time %" PRId64 ", before CPU %d's "
		    "%" PRId64 " or CPU %d's %" PRId64 " (the caller's CPU goes last)",
		    AGENT_CPU, own->commit_time, TARGET_CPU, two->commit_time, BUSY_CPU,
		    three->commit_time);
	note("one call over CPUs " ENCLAVE_CPUS ": CPU %d %s, CPU %d %s, CPU %d (the caller's) %s, "
	     "committed %" PRId64 " ns after CPU %d's and %" PRId64 " ns after CPU %d's (the "
	     "call took %" PRId64 " us)",
	     TARGET_CPU, txn_text(ghost_txn_state(two)), BUSY_CPU, txn_text(ghost_txn_state(three)),
	     AGENT_CPU, txn_text(ghost_txn_state(own)), own->commit_time - two->commit_time,
	     TARGET_CPU, own->commit_time - three->commit_time, BUSY_CPU, (t1 - t0) / 1000);

	/*
	 * No failure: the caller's own local NULL commit is tried and gives the CPU up (the call
	 * sleeps on the doorbell a while). A CPU message for CPU 1 between reading its agent's
	 * barrier and the commit makes it AGENT_STALE: then the call is made again.
	 */
	ghost_cpuset_zero(&set);
	ghost_cpuset_set(&set, AGENT_CPU);
	ghost_cpuset_set(&set, TARGET_CPU);
	for (tries = 1;; tries++) {
		two = open_txn(TARGET_CPU, GHOST_NULL_GTID, 0, 0, 0);
		own = open_txn(AGENT_CPU, GHOST_NULL_GTID, 0, 0, 0);
		own_seq = own->cpu_seqnum;
		t0 = ghost_now_ns();
		r = ghost_txn_commit_set(E, &set);
		t1 = ghost_now_ns();
		if (r < 0)
			die("ghost_txn_commit_set(CPUs %d-%d): %s", AGENT_CPU, TARGET_CPU,
			    strerror(-r));
		s = ghost_txn_state(own);
		if (s != GHOST_TXN_AGENT_STALE || tries >= STALE_TRIES)
			break;
		note("call %d: the caller's own NULL commit met a moved agent barrier (%s); again",
		     tries, txn_text(s));
	}
	expect_state(TARGET_CPU, GHOST_TXN_COMPLETE, t0, "a NULL commit");
	expect_state(AGENT_CPU, GHOST_TXN_COMPLETE, t0,
		     "the caller's own txn in a call where no other one failed");
	if (r != 2)
		die("ghost_txn_commit_set(CPUs %d-%d) returned %d with both txns COMPLETE",
		    AGENT_CPU, TARGET_CPU, r);
	if (own->cpu_seqnum <= own_seq)
		die("the complete txn of CPU %d left cpu_seqnum at %" PRIu64, AGENT_CPU,
		    own->cpu_seqnum);
	if (own->commit_time < two->commit_time)
		die("the caller's own txn (CPU %d) has commit_time %" PRId64 ", before CPU %d's "
		    "%" PRId64 " (the caller's CPU goes last)",
		    AGENT_CPU, own->commit_time, TARGET_CPU, two->commit_time);
	note("one call over CPUs %d-%d, no failure: CPU %d %s, CPU %d (the caller's) %s, "
	     "not poisoned (call %d; it slept %" PRId64 " ms on the doorbell)",
	     AGENT_CPU, TARGET_CPU, TARGET_CPU, txn_text(ghost_txn_state(two)), AGENT_CPU,
	     txn_text(ghost_txn_state(own)), tries, (t1 - t0) / 1000000);
	drain();
	if (c->nlog != n)
		die("commits to other targets produced messages for %s: %s", c->name,
		    log_text(c, n));
}

/*
 * c, woken, is committed to TARGET_CPU (idle, its agent asleep) with COMMIT_AT_SCHEDULE: the
 * commit call leaves the txn READY for that CPU and ghost_txn_commit_set() does not wait for
 * it. The CPU commits it at its next schedule, which its sleeping agent passes through when
 * it wakes (if that has not happened within AT_SCHEDULE_MS, a ping wakes it): the txn
 * becomes COMPLETE, then c runs there.
 */
static void step_commit_at_schedule(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	struct ghost_txn *txn;
	struct ghost_cpuset one;
	pid_t agent_tid = (pid_t)ghost_gtid_to_tid(ghost_sw_gtid(agent_sw[TARGET_CPU]));
	int64_t t0, t1, t_done, end;
	uint64_t seq0;
	int from = c->nlog, woken, r;
	int32_t s_after, s;
	bool pinged = false;
	long refused;
	const char *after;

	begin("%s committed to idle CPU %d with COMMIT_AT_SCHEDULE: READY after the call, "
	      "COMPLETE at CPU %d's next schedule, TASK_ON_CPU there",
	      c->name, TARGET_CPU, TARGET_CPU);
	expect_blocked(c);
	/* c wakes and waits, runnable: nobody commits it yet. */
	wake_runnable(c);
	woken = c->nlog;
	wait_agent_asleep(TARGET_CPU);

	txn = open_txn(TARGET_CPU, c->gtid, c->seq, SEND_TASK_ON_CPU, COMMIT_AT_SCHEDULE);
	seq0 = txn->cpu_seqnum;
	ghost_cpuset_zero(&one);
	ghost_cpuset_set(&one, TARGET_CPU);
	t0 = ghost_now_ns();
	r = ghost_txn_commit_set(E, &one);
	t1 = ghost_now_ns();
	s_after = ghost_txn_state(txn);
	if (r < 0)
		die("ghost_txn_commit_set(CPU %d) of a COMMIT_AT_SCHEDULE txn: %s", TARGET_CPU,
		    strerror(-r));
	c->latched = true;
	c->commits++;
	if (s_after == GHOST_TXN_READY) {
		after = "still READY";
	} else if (s_after == TARGET_CPU) {
		after = "already taken by its CPU (its schedule came in between)";
	} else if (s_after == GHOST_TXN_COMPLETE) {
		after = "already COMPLETE (its CPU scheduled in between)";
	} else {
		die("right after the commit call the COMMIT_AT_SCHEDULE txn of CPU %d is %s (%d), "
		    "expected READY (or taken by CPU %d, or COMPLETE)",
		    TARGET_CPU, txn_text(s_after), s_after, TARGET_CPU);
	}
	if (r > 1 || (r == 1 && s_after != GHOST_TXN_COMPLETE))
		die("ghost_txn_commit_set(CPU %d) returned %d with the txn %s afterwards",
		    TARGET_CPU, r, txn_text(s_after));
	note("the commit call returned %d after %" PRId64 " us; the txn of CPU %d: %s", r,
	     (t1 - t0) / 1000, TARGET_CPU, after);

	/* CPU 2 commits it at its next schedule. */
	end = t1 + (int64_t)AT_SCHEDULE_MS * 1000000;
	/* READY, or claimed (>= 0) while CPU 2 commits it. */
	while ((s = ghost_txn_state(txn)) >= 0) {
		if (ghost_now_ns() > end) {
			if (pinged)
				die("the COMMIT_AT_SCHEDULE txn of CPU %d is %s %d ms after the "
				    "commit call and %d ms after a ping of CPU %d's agent (agent "
				    "tid %d, state '%c', word %s); %s: runnable %d, on CPU %d; its "
				    "messages: %s; the CPU messages: %s",
				    TARGET_CPU, txn_text(s), AT_SCHEDULE_MS + WAIT_MS, WAIT_MS,
				    TARGET_CPU, (int)agent_tid, proc_state(agent_tid),
				    avail_text(TARGET_CPU), c->name, c->runnable, c->on_cpu,
				    log_text(c, from), cpu_log_text());
			note("the txn of CPU %d is still %s %d ms after the commit call (CPU %d's "
			     "agent, tid %d, state '%c'): a ping wakes that agent",
			     TARGET_CPU, txn_text(s), AT_SCHEDULE_MS, TARGET_CPU, (int)agent_tid,
			     proc_state(agent_tid));
			CHECK_OK(ghost_txn_ping(E, TARGET_CPU));
			pinged = true;
			end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
		}
		drain();
		if (c->nlog > woken)
			die("%s while its COMMIT_AT_SCHEDULE txn of CPU %d is %s; its messages: %s",
			    msg_name(c->log[c->nlog - 1]), TARGET_CPU, txn_text(s),
			    log_text(c, from));
		usleep(200);
	}
	t_done = ghost_now_ns();
	if (s != GHOST_TXN_COMPLETE)
		die("the COMMIT_AT_SCHEDULE txn of %s to CPU %d (task barrier %u, status word "
		    "barrier %u) ended %s",
		    c->name, TARGET_CPU, c->seq, ghost_sw_barrier(c->sw), txn_text(s));
	if (txn->cpu_seqnum <= seq0)
		die("the complete txn of CPU %d left cpu_seqnum at %" PRIu64, TARGET_CPU,
		    txn->cpu_seqnum);
	/* Seen READY after the call returned (t1): committed after that. */
	if (txn->commit_time < t0 || (s_after == GHOST_TXN_READY && txn->commit_time < t1))
		die("the COMMIT_AT_SCHEDULE txn of CPU %d has commit_time %" PRId64 ": before "
		    "the commit call (%" PRId64 "), or, seen READY after it, before it returned "
		    "(%" PRId64 ")",
		    TARGET_CPU, txn->commit_time, t0, t1);
	note("CPU %d committed it %" PRId64 " ms after the call returned (%s; seen COMPLETE "
	     "after %" PRId64 " ms)",
	     TARGET_CPU, (txn->commit_time - t1) / 1000000,
	     pinged ? "after a ping of its agent" : "no ping needed", (t_done - t1) / 1000000);

	refused = run_committed(c, TARGET_CPU, from, from, want, N(want));
	if (refused)
		note("%ld commits of %s refused with CPU_UNAVAIL after it ran", refused, c->name);
}

int main(void)
{
	abi_start(1);
	step_poison(&child_a);
	step_commit_at_schedule(&child_a);
	abi_finish();
	return 0;
}
