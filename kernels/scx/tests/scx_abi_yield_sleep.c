/*
 * kernels/scx/tests/scx_abi_yield_sleep.c - a task on the sched_ext backend that yields, or
 * sleeps, says so.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h (child A moved in asleep). One step per command, child A committed to CPU 2
 * whenever it is runnable, off CPU and its barrier read, until it blocks reading its next
 * command; the messages of the step must come in this order (others may come in between):
 *   - sched_yield(): TASK_WAKEUP, TASK_ON_CPU, TASK_YIELD, TASK_ON_CPU, TASK_BLOCKED;
 *   - usleep(20 ms): TASK_WAKEUP, TASK_ON_CPU, TASK_BLOCKED, TASK_WAKEUP, TASK_ON_CPU,
 *     TASK_BLOCKED.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_yield_sleep"
#include "scx_abi.h"

static void step_yield(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_YIELD,
					 MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };

	step_cmd(c, 'y', "sched_yield() -> TASK_YIELD", want, N(want));
}

static void step_sleep(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED,
					 MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };

	step_cmd(c, 's', "usleep(20 ms) -> TASK_BLOCKED, TASK_WAKEUP", want, N(want));
}

int main(void)
{
	abi_start(1);
	step_yield(&child_a);
	step_sleep(&child_a);
	abi_finish();
	return 0;
}
