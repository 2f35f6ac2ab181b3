/*
 * kernels/scx/tests/scx_abi_txn_fail.c - commits the sched_ext backend must refuse: a stale
 * task barrier and a gtid nobody has.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h (child A moved in asleep). A command wakes child A (TASK_WAKEUP); then from
 * CPU 1's agent to CPU 2:
 *   - a commit of child A with its barrier minus one: GHOST_TXN_TARGET_STALE;
 *   - a commit of a gtid nobody has: GHOST_TXN_TARGET_NOT_FOUND;
 * each with a commit_time; neither produces a message for child A; then the right commit
 * still runs it: TASK_ON_CPU on CPU 2, TASK_BLOCKED.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_txn_fail"
#include "scx_abi.h"

static void expect_commit(struct child *c, int64_t gtid, uint32_t barrier, int32_t want,
			  const char *what)
{
	int32_t s = commit_to(TARGET_CPU, gtid, barrier);

	if (s != want)
		die("commit of %s to CPU %d (%s, task barrier %u, status word barrier %u): "
		    "expected %s, got %s",
		    c->name, TARGET_CPU, what, barrier, ghost_sw_barrier(c->sw),
		    ghost_txn_reason(want), ghost_txn_reason(s));
}

static void step_failing_commits(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	int from = c->nlog, n;

	begin("%s wakes; stale and unknown targets fail, the right commit runs it on CPU %d",
	      c->name, TARGET_CPU);
	wake_runnable(c);
	expect_commit(c, c->gtid, c->seq - 1, GHOST_TXN_TARGET_STALE, "task barrier - 1");
	expect_commit(c, BOGUS_GTID, 1, GHOST_TXN_TARGET_NOT_FOUND, "a gtid nobody has");
	n = c->nlog;
	drain();
	if (c->nlog != n)
		die("failed commits produced messages for %s: %s", c->name, log_text(c, n));
	run_to_block(c, from, want, N(want));
}

int main(void)
{
	abi_start(1);
	step_failing_commits(&child_a);
	abi_finish();
	return 0;
}
