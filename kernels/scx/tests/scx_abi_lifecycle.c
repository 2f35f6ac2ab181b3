/*
 * kernels/scx/tests/scx_abi_lifecycle.c - a task's first round trip on the sched_ext backend:
 * moved in asleep, woken, committed, run, blocked again.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h, which moves child A in asleep (TASK_NEW with runnable 0, its status word INUSE
 * only, policy SCHED_EXT, nothing more while it sleeps). Then:
 *   - a command written to its pipe wakes it: TASK_WAKEUP, after which its status word is
 *     RUNNABLE and not ONCPU (and its barrier the TASK_WAKEUP's seqnum);
 *   - CPU 1's agent commits it to CPU 2 (a commit refused with CPU_UNAVAIL while a higher
 *     class has the CPU is tried again): GHOST_TXN_COMPLETE with a commit_time and a new
 *     cpu_seqnum, then TASK_ON_CPU for CPU 2 with a commit_time; it reads its next command:
 *     TASK_BLOCKED.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_lifecycle"
#include "scx_abi.h"

static void step_wake_and_run(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	int from = c->nlog;

	begin("%s wakes -> TASK_WAKEUP; committed to CPU %d -> TASK_ON_CPU there, TASK_BLOCKED",
	      c->name, TARGET_CPU);
	wake_runnable(c);
	if (!ghost_sw_runnable(c->sw) || ghost_sw_on_cpu(c->sw))
		die("after TASK_WAKEUP the status word of %s has flags 0x%x: expected RUNNABLE, "
		    "not ONCPU",
		    c->name, ghost_sw_flags(c->sw));
	run_to_block(c, from, want, N(want));
}

int main(void)
{
	abi_start(1);
	step_wake_and_run(&child_a);
	abi_finish();
	return 0;
}
