/*
 * kernels/scx/tests/scx_abi_affinity_nice.c - a task on the sched_ext backend that changes its
 * CPU affinity, or its nice value, says so.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h (child A moved in asleep). One step per command, child A committed to CPU 2
 * whenever it is runnable, off CPU and its barrier read, until it blocks reading its next
 * command; the messages of the step must come in this order (others may come in between):
 *   - sched_setaffinity(CPUs 2-3): TASK_WAKEUP, TASK_ON_CPU, TASK_AFFINITY_CHANGED,
 *     TASK_BLOCKED;
 *   - setpriority(nice 5): TASK_WAKEUP, TASK_ON_CPU, TASK_PRIORITY_CHANGED (nice 5),
 *     TASK_BLOCKED.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_affinity_nice"
#include "scx_abi.h"

static void step_affinity(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU,
					 MSG_TASK_AFFINITY_CHANGED, MSG_TASK_BLOCKED };

	step_cmd(c, 'a', "sched_setaffinity(CPUs 2-3) -> TASK_AFFINITY_CHANGED", want, N(want));
}

static void step_nice(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU,
					 MSG_TASK_PRIORITY_CHANGED, MSG_TASK_BLOCKED };

	step_cmd(c, 'n', "setpriority(nice 5) -> TASK_PRIORITY_CHANGED", want, N(want));
	if (c->nice != 5)
		die("TASK_PRIORITY_CHANGED of %s says nice %d, expected 5", c->name, c->nice);
}

int main(void)
{
	abi_start(1);
	step_affinity(&child_a);
	step_nice(&child_a);
	abi_finish();
	return 0;
}
