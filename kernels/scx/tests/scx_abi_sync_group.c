/*
 * kernels/scx/tests/scx_abi_sync_group.c - sync groups on the sched_ext backend commit all
 * their txns or none.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h (child A moved in asleep). From CPU 1's agent, running on CPU 1, over CPUs 2
 * and 3 with ghost_txn_commit_sync_group(), every txn opened with sync_group_owner 1 (read
 * back as 1):
 *   - child A woken (TASK_WAKEUP) and not committed; CPU 2's txn for a gtid nobody has (the
 *     lower CPU, checked first) and CPU 3's for child A: the call returns 0, CPU 2
 *     GHOST_TXN_TARGET_NOT_FOUND, CPU 3 GHOST_TXN_POISONED, neither with a new cpu_seqnum,
 *     both with a commit_time and sync_group_owner -1; for NO_RUN_MS child A gets no
 *     message, does not run (does not answer), its word stays RUNNABLE and not ONCPU and its
 *     barrier does not move; then a plain commit of it to CPU 3 with the same barrier is
 *     GHOST_TXN_COMPLETE (CPU_UNAVAIL tried again, at most BUSY_TRIES commits) and runs it
 *     there: TASK_ON_CPU for CPU 3, TASK_BLOCKED;
 *   - woken again: child A to CPU 2 and a NULL commit to CPU 3: 1, both GHOST_TXN_COMPLETE
 *     with a new cpu_seqnum and sync_group_owner -1, then TASK_ON_CPU for CPU 2 and
 *     TASK_BLOCKED (a group refused with CPU_UNAVAIL on CPU 2 and the NULL commit POISONED
 *     is tried again, at most BUSY_TRIES calls, each leaving both txns out of the group and
 *     no message for child A).
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_sync_group"
#include "scx_abi.h"

#define GROUP_OWNER AGENT_CPU /* the sync_group_owner of every group txn: the caller's CPU */
#define NO_RUN_MS   300	      /* how long a task of a failed group must stay off CPU */

/* Opens cpu's txn for a sync group owned by GROUP_OWNER; any error fails the program. */
static struct ghost_txn *open_group_txn(int cpu, int64_t gtid, uint32_t barrier, uint16_t run_flags)
{
	return open_txn_owned(cpu, gtid, barrier, run_flags, 0, GROUP_OWNER);
}

/* One sync-group call over set (TARGET_CPU and BUSY_CPU), timed; an errno fails the program. */
static int sync_group_call(const struct ghost_cpuset *set, int64_t *t0, int64_t *t1)
{
	int r;

	*t0 = ghost_now_ns();
	r = ghost_txn_commit_sync_group(E, set);
	*t1 = ghost_now_ns();
	if (r < 0)
		die("ghost_txn_commit_sync_group(CPUs %d, %d): %s", TARGET_CPU, BUSY_CPU,
		    strerror(-r));
	return r;
}

/* After a sync-group call, cpu's txn belongs to no group any more. */
static void expect_unowned(int cpu, const char *what)
{
	const struct ghost_txn *txn = ghost_enclave_txn(E, cpu);
	int32_t owner = __atomic_load_n(&txn->u.sync_group_owner, __ATOMIC_ACQUIRE);

	if (owner != -1)
		die("%s: the txn of CPU %d still has sync_group_owner %d, expected -1", what, cpu,
		    (int)owner);
}

/*
 * Sync groups (all or nothing) from CPU 1's agent over CPUs 2 and 3, c runnable:
 *  - failure: TARGET_CPU's txn for a gtid nobody has, BUSY_CPU's for c. The backend checks
 *    the CPUs in order (others than the caller's by increasing id), so TARGET_CPU's txn is
 *    the first to fail whatever happens on BUSY_CPU: the call returns 0, TARGET_CPU's txn is
 *    TARGET_NOT_FOUND, BUSY_CPU's POISONED, neither took a cpu_seqnum, both are out of the
 *    group; c is not latched, gets no message and does not run (no answer) for NO_RUN_MS,
 *    and a plain commit of c to BUSY_CPU with the same barrier then goes through and runs it;
 *  - success, c woken again: c to TARGET_CPU plus a NULL commit to BUSY_CPU: 1, both
 *    COMPLETE with a new cpu_seqnum and out of the group, then c runs on TARGET_CPU
 *    (TASK_ON_CPU there). A group refused with CPU_UNAVAIL on TARGET_CPU (a higher class
 *    holds it for a moment; the NULL commit POISONED) is tried again, at most BUSY_TRIES calls.
 */
static void step_sync_group(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	struct ghost_txn *bad, *good, *task, *null;
	struct ghost_cpuset set;
	uint64_t bad_seq, good_seq, task_seq, null_seq;
	int64_t t0, t1, end;
	int from = c->nlog, n, r, tries, a;
	long refused;
	int32_t s, s_task, s_null;

	begin("sync groups over CPUs %d and %d: a gtid nobody has on CPU %d fails the group "
	      "(0; %s POISONED on CPU %d, does not run); %s to CPU %d with a NULL commit to "
	      "CPU %d: 1, both COMPLETE, it runs",
	      TARGET_CPU, BUSY_CPU, TARGET_CPU, c->name, BUSY_CPU, c->name, TARGET_CPU, BUSY_CPU);
	expect_blocked(c);
	if (sched_getcpu() != AGENT_CPU)
		die("the agent of CPU %d runs on CPU %d", AGENT_CPU, sched_getcpu());
	ghost_cpuset_zero(&set);
	ghost_cpuset_set(&set, TARGET_CPU);
	ghost_cpuset_set(&set, BUSY_CPU);

	/* (a) c wakes and waits, runnable: nobody commits it yet. */
	wake_runnable(c);
	n = c->nlog;

	bad = open_group_txn(TARGET_CPU, BOGUS_GTID, 1, SEND_TASK_ON_CPU);
	good = open_group_txn(BUSY_CPU, c->gtid, c->seq, SEND_TASK_ON_CPU);
	bad_seq = bad->cpu_seqnum;
	good_seq = good->cpu_seqnum;
	r = sync_group_call(&set, &t0, &t1);
	s = ghost_txn_state(good);
	if (r != 0)
		die("ghost_txn_commit_sync_group(CPUs %d, %d) with a gtid nobody has on CPU %d "
		    "returned %d, expected 0; the txn of CPU %d is %s, of CPU %d %s",
		    TARGET_CPU, BUSY_CPU, TARGET_CPU, r, TARGET_CPU, txn_text(ghost_txn_state(bad)),
		    BUSY_CPU, txn_text(s));
	expect_state(TARGET_CPU, GHOST_TXN_TARGET_NOT_FOUND, t0,
		     "the txn for a gtid nobody has, in a failed sync group");
	expect_state(BUSY_CPU, GHOST_TXN_POISONED, t0,
		     "the valid txn of a sync group where another one failed");
	if (bad->cpu_seqnum != bad_seq)
		die("the failed group txn of CPU %d moved cpu_seqnum from %" PRIu64 " to %" PRIu64,
		    TARGET_CPU, bad_seq, bad->cpu_seqnum);
	if (good->cpu_seqnum != good_seq)
		die("the poisoned group txn of CPU %d moved cpu_seqnum from %" PRIu64 " to %" PRIu64
		    " (it must not be carried out)",
		    BUSY_CPU, good_seq, good->cpu_seqnum);
	expect_unowned(TARGET_CPU, "after a failed sync group");
	expect_unowned(BUSY_CPU, "after a failed sync group");
	note("failed sync group (the call took %" PRId64 " us): CPU %d %s, CPU %d %s, both "
	     "out of the group",
	     (t1 - t0) / 1000, TARGET_CPU, txn_text(ghost_txn_state(bad)), BUSY_CPU,
	     txn_text(ghost_txn_state(good)));

	/* Nothing of the group happened: c waits, runnable, and does not run. */
	end = ghost_now_ns() + (int64_t)NO_RUN_MS * 1000000;
	while (ghost_now_ns() < end) {
		a = try_ack(c);
		if (a)
			die("%s answered '%c' (it ran) after the sync group that was to run it "
			    "failed",
			    c->name, a > 0 ? a : '?');
		drain();
		if (c->nlog != n)
			die("messages for %s after the sync group that was to run it failed: %s",
			    c->name, log_text(c, n));
		if (!ghost_sw_runnable(c->sw) || ghost_sw_on_cpu(c->sw))
			die("after the failed sync group the status word of %s has flags 0x%x: "
			    "expected RUNNABLE, not ONCPU",
			    c->name, ghost_sw_flags(c->sw));
		usleep(1000);
	}
	if (ghost_sw_barrier(c->sw) != c->seq)
		die("the status word barrier of %s moved from %u to %u after the failed sync "
		    "group",
		    c->name, c->seq, ghost_sw_barrier(c->sw));
	note("%s did not run in the %d ms after the failed group (no message, no answer)", c->name,
	     NO_RUN_MS);

	/* It is still runnable and committable: the same request alone goes through. */
	for (tries = 1;; tries++) {
		s = commit_to(BUSY_CPU, c->gtid, c->seq);
		if (s == GHOST_TXN_COMPLETE)
			break;
		if (s != GHOST_TXN_CPU_UNAVAIL || tries >= BUSY_TRIES)
			die("commit %d of %s to CPU %d after the failed sync group (task barrier %u, "
			    "status word barrier %u): expected %s, got %s; agent word of CPU %d %s",
			    tries, c->name, BUSY_CPU, c->seq, ghost_sw_barrier(c->sw),
			    ghost_txn_reason(GHOST_TXN_COMPLETE), ghost_txn_reason(s), BUSY_CPU,
			    avail_text(BUSY_CPU));
		note("commit %d of %s to CPU %d after the failed group: %s (a higher class there "
		     "for a moment); again",
		     tries, c->name, BUSY_CPU, ghost_txn_reason(s));
		usleep(10000);
	}
	c->latched = true;
	c->commits++;
	refused = run_committed(c, BUSY_CPU, from, n, want, N(want));
	note("a plain commit of %s to CPU %d with the same barrier ran it (commit %d; %ld "
	     "refused with CPU_UNAVAIL after it ran)",
	     c->name, BUSY_CPU, tries, refused);

	/* (b) c wakes again: c to TARGET_CPU and a NULL commit to BUSY_CPU, all or nothing. */
	from = c->nlog;
	wake_runnable(c);
	n = c->nlog;
	for (tries = 1;; tries++) {
		task = open_group_txn(TARGET_CPU, c->gtid, c->seq, SEND_TASK_ON_CPU);
		null = open_group_txn(BUSY_CPU, GHOST_NULL_GTID, 0, 0);
		task_seq = task->cpu_seqnum;
		null_seq = null->cpu_seqnum;
		r = sync_group_call(&set, &t0, &t1);
		s_task = ghost_txn_state(task);
		s_null = ghost_txn_state(null);
		if (r == 1 || s_task != GHOST_TXN_CPU_UNAVAIL || s_null != GHOST_TXN_POISONED ||
		    tries >= BUSY_TRIES)
			break;
		note("sync group %d: CPU %d %s, CPU %d %s (a higher class on CPU %d for a "
		     "moment); again",
		     tries, TARGET_CPU, txn_text(s_task), BUSY_CPU, txn_text(s_null), TARGET_CPU);
		expect_unowned(TARGET_CPU, "after a failed sync group");
		expect_unowned(BUSY_CPU, "after a failed sync group");
		drain();
		if (c->nlog != n)
			die("messages for %s after a failed sync group: %s", c->name,
			    log_text(c, n));
		usleep(10000);
	}
	if (r != 1)
		die("ghost_txn_commit_sync_group(CPUs %d, %d) of %s to CPU %d (task barrier %u, "
		    "status word barrier %u) and a NULL commit to CPU %d returned %d, expected 1; "
		    "the txn of CPU %d is %s, of CPU %d %s (call %d)",
		    TARGET_CPU, BUSY_CPU, c->name, TARGET_CPU, c->seq, ghost_sw_barrier(c->sw),
		    BUSY_CPU, r, TARGET_CPU, txn_text(s_task), BUSY_CPU, txn_text(s_null), tries);
	c->latched = true;
	c->commits++;
	expect_state(TARGET_CPU, GHOST_TXN_COMPLETE, t0, "the task's txn of a sync group");
	expect_state(BUSY_CPU, GHOST_TXN_COMPLETE, t0, "the NULL txn of a sync group");
	if (task->cpu_seqnum <= task_seq)
		die("the complete group txn of CPU %d left cpu_seqnum at %" PRIu64, TARGET_CPU,
		    task->cpu_seqnum);
	if (null->cpu_seqnum <= null_seq)
		die("the complete group txn of CPU %d left cpu_seqnum at %" PRIu64, BUSY_CPU,
		    null->cpu_seqnum);
	expect_unowned(TARGET_CPU, "after a sync group that committed");
	expect_unowned(BUSY_CPU, "after a sync group that committed");
	note("sync group (call %d, it took %" PRId64 " us): CPU %d %s, CPU %d %s, both out of "
	     "the group",
	     tries, (t1 - t0) / 1000, TARGET_CPU, txn_text(s_task), BUSY_CPU, txn_text(s_null));

	refused = run_committed(c, TARGET_CPU, from, from, want, N(want));
	if (refused)
		note("%ld commits of %s refused with CPU_UNAVAIL after it ran", refused, c->name);
}

int main(void)
{
	abi_start(1);
	step_sync_group(&child_a);
	abi_finish();
	return 0;
}
