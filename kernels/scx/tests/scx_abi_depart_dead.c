/*
 * kernels/scx/tests/scx_abi_depart_dead.c - a task leaves a sched_ext enclave: by leaving the
 * sched_ext class on its own (it departs and runs on outside), or by exiting (it dies).
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h with two children (child A moved in asleep, child B forked before the enclave).
 * Each child committed to CPU 2 whenever it is runnable and off CPU:
 *   - a command makes child A call sched_setscheduler(SCHED_OTHER): TASK_WAKEUP,
 *     TASK_ON_CPU, then TASK_DEPARTED as its last message; it runs on as a normal process (it
 *     answers, its policy is SCHED_OTHER); its status word carries CANFREE and
 *     ghost_sw_free() gives it back; it exits 0 when told;
 *   - child B moves in asleep (the checks of the fixture's step_enter: TASK_NEW with runnable
 *     0 and the rest); a command makes it exit 0: TASK_WAKEUP, TASK_ON_CPU, then TASK_DEAD
 *     as its last message; it is reaped with exit status 0; its status word carries CANFREE
 *     and ghost_sw_free() gives it back.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_depart_dead"
#include "scx_abi.h"

/* The child switches itself to SCHED_OTHER: TASK_DEPARTED; it runs on outside. */
static void step_depart(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_DEPARTED };
	int from = c->nlog, policy;
	bool answered;

	begin("%s: sched_setscheduler(SCHED_OTHER) -> TASK_DEPARTED", c->name);
	send_cmd(c, 'o');
	answered = run_until(c, END_GONE, from);
	check_sequence(c, from, want, N(want));
	expect_left_with(c, MSG_TASK_DEPARTED);
	/* It runs on outside the enclave and answers. */
	if (!answered && wait_ack(c, WAIT_MS) != 'k')
		die("%s says sched_setscheduler(SCHED_OTHER) failed", c->name);
	policy = sched_getscheduler(c->pid);
	if (policy != SCHED_OTHER)
		die("%s has policy %d after departing, expected SCHED_OTHER", c->name, policy);
	free_word(c);
	send_cmd(c, 'q');
	reap(c);
}

/* The child exits inside the enclave: TASK_DEAD. */
static void step_exit(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_DEAD };
	int from = c->nlog;

	begin("%s exits inside the enclave -> TASK_DEAD", c->name);
	send_cmd(c, 'x');
	run_until(c, END_GONE, from);
	check_sequence(c, from, want, N(want));
	expect_left_with(c, MSG_TASK_DEAD);
	reap(c);
	free_word(c);
}

int main(void)
{
	abi_start(2);
	step_depart(&child_a);
	step_enter(&child_b);
	step_exit(&child_b);
	abi_finish();
	return 0;
}
