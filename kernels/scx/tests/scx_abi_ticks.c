/*
 * kernels/scx/tests/scx_abi_ticks.c - CPU_TICK messages on the sched_ext backend come only
 * while deliver_ticks asks for them.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h (child A moved in asleep). The CPU messages of CPU 2 go to the queue of CPU
 * 2's agent, here the one channel.
 *   - a command makes child A spin on CPU 2 (a busy loop until the next byte), committed
 *     there whenever it is runnable and off CPU: TASK_WAKEUP, TASK_ON_CPU for CPU 2; with
 *     deliver_ticks 0 (the default) no CPU_TICK for any CPU, also 200 ms later;
 *   - deliver_ticks set to 1 (read back as 1): TICKS_WANTED CPU_TICKs for CPU 2 within
 *     WAIT_MS; set back to 0: at most TICKS_IN_FLIGHT more in the next QUIET_MS;
 *   - child A stops spinning and blocks reading its next command: TASK_BLOCKED.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_ticks"
#include "scx_abi.h"

#define TICKS_WANTED	5   /* CPU_TICKs that show ticks are delivered */
#define TICKS_IN_FLIGHT 2   /* CPU_TICKs allowed after deliver_ticks is 0 again */
#define QUIET_MS	500 /* how long ticks must stay away */

/* deliver_ticks 1: CPU_TICKs for TARGET_CPU while c spins there; 0 again: they stop. */
static void step_ticks(struct child *c)
{
	int64_t end;
	long t0, t1, more;

	begin("deliver_ticks 1 while %s spins on CPU %d: CPU_TICK for CPU %d; 0 again: they stop",
	      c->name, TARGET_CPU, TARGET_CPU);
	set_tunable(GHOST_TUNABLE_DELIVER_TICKS, 1);
	t0 = cpu_count[TARGET_CPU][CM_TICK];
	end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	while (cpu_count[TARGET_CPU][CM_TICK] - t0 < TICKS_WANTED) {
		if (ghost_now_ns() > end)
			die("%ld CPU_TICK for CPU %d within %d ms of deliver_ticks 1 (wanted %d); "
			    "%s on CPU %d: %d; the CPU messages: %s",
			    cpu_count[TARGET_CPU][CM_TICK] - t0, TARGET_CPU, WAIT_MS, TICKS_WANTED,
			    c->name, TARGET_CPU, c->on_cpu, cpu_log_text());
		serve_spinning(c);
		usleep(200);
	}
	set_tunable(GHOST_TUNABLE_DELIVER_TICKS, 0);
	drain();
	t1 = cpu_count[TARGET_CPU][CM_TICK];
	spin_for(c, QUIET_MS);
	more = cpu_count[TARGET_CPU][CM_TICK] - t1;
	if (more > TICKS_IN_FLIGHT)
		die("%ld CPU_TICK for CPU %d in the %d ms after deliver_ticks went back to 0 "
		    "(at most %d allowed in flight)",
		    more, TARGET_CPU, QUIET_MS, TICKS_IN_FLIGHT);
	note("%ld CPU_TICK for CPU %d with deliver_ticks 1, %ld after it went back to 0", t1 - t0,
	     TARGET_CPU, more);
}

int main(void)
{
	abi_start(1);
	step_spin_start(&child_a);
	step_ticks(&child_a);
	step_spin_stop(&child_a);
	abi_finish();
	return 0;
}
