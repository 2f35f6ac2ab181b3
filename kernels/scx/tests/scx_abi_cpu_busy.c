/*
 * kernels/scx/tests/scx_abi_cpu_busy.c - a CPU of a sched_ext enclave taken by a higher class
 * says CPU_BUSY, given back CPU_AVAILABLE: taken from a running ghost task, and taken while
 * idle.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h (child A moved in asleep). The CPU messages of a CPU go to the queue of its
 * agent, here the one channel.
 *   - a command makes child A spin on CPU 2 (a busy loop until the next byte), committed
 *     there whenever it is runnable and off CPU: TASK_WAKEUP, TASK_ON_CPU for CPU 2, and no
 *     CPU_TICK (deliver_ticks is 0);
 *   - the word of CPU 2's agent has CPU_AVAIL without BOOST_PRIO; deliver_cpu_availability
 *     set to 1 (read back as 1); an ordinary SCHED_OTHER process pinned to CPU 2 takes the
 *     CPU from sched_ext (ops.cpu_release): CPU_BUSY for CPU 2, and the agent's word loses
 *     CPU_AVAIL and gains BOOST_PRIO, still so 200 ms later; once that process exits,
 *     sched_ext gets the CPU back (ops.cpu_acquire): CPU_AVAILABLE for CPU 2 and the flags
 *     are back (child A, meanwhile, committed again whenever it is runnable and off CPU);
 *   - child A stops spinning and blocks reading its next command: TASK_BLOCKED;
 *   - with deliver_cpu_availability 1 again, CPU 3 idle (no ghost task, its agent asleep, its
 *     word CPU_AVAIL without BOOST_PRIO) is taken by a SCHED_OTHER process pinned there:
 *     no ops.cpu_release (sched_ext did not have the CPU), but the CPU's dispatch as it leaves
 *     idle may see the process queued (CPU_BUSY then, before any commit). Child A, woken (TASK_WAKEUP), is
 *     committed to CPU 3 while that process runs there: GHOST_TXN_CPU_UNAVAIL (a commit that
 *     met the process momentarily off the CPU is taken back with a NULL commit, which must be
 *     GHOST_TXN_COMPLETE, and tried again, at most BUSY_TRIES commits), then CPU_BUSY for CPU
 *     3 and the word of CPU 3's agent without CPU_AVAIL and with BOOST_PRIO; HOLD_MS later,
 *     the process still there, a commit is still refused with CPU_UNAVAIL and the word still
 *     so after CPU_BUSY. Once that process exits (CPU 3 idle, its dispatch runs):
 *     CPU_AVAILABLE for CPU 3, the flags are back, and a commit to CPU 3 runs child A there:
 *     TASK_WAKEUP, TASK_ON_CPU for CPU 3, TASK_BLOCKED.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_cpu_busy"
#include "scx_abi.h"

#define HOLD_MS 200 /* how long BUSY_CPU must stay unavailable */

/*
 * deliver_cpu_availability 1 while c spins on TARGET_CPU: an ordinary process pinned there
 * takes the CPU from sched_ext (ops.cpu_release): CPU_BUSY, the agent's word BOOST_PRIO
 * without CPU_AVAIL; it exits and sched_ext gets the CPU back (ops.cpu_acquire):
 * CPU_AVAILABLE, CPU_AVAIL without BOOST_PRIO.
 */
static void step_cpu_avail(struct child *c)
{
	int64_t end;
	long busy0, avail0, busy_n, avail_n;

	begin("deliver_cpu_availability 1; a SCHED_OTHER process pinned to CPU %d while %s spins "
	      "there: CPU_BUSY, BOOST_PRIO; it exits: CPU_AVAILABLE, CPU_AVAIL",
	      TARGET_CPU, c->name);
	deliver_avail_from(TARGET_CPU, c, &busy0, &avail0);

	g_hog = spawn_hog(TARGET_CPU);
	end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	while (cpu_count[TARGET_CPU][CM_BUSY] == busy0) {
		if (ghost_now_ns() > end)
			die("no CPU_BUSY for CPU %d within %d ms of a SCHED_OTHER process pinned "
			    "there (%s on CPU %d: %d, runnable %d, latched %d, %d commits, %ld "
			    "refused; agent word %s); the CPU messages: %s",
			    TARGET_CPU, WAIT_MS, c->name, TARGET_CPU, c->on_cpu, c->runnable,
			    c->latched, c->commits, g_unavail_commits, avail_text(TARGET_CPU),
			    cpu_log_text());
		check_hog(TARGET_CPU);
		serve_spinning(c);
		usleep(200);
	}
	while (!cpu_busy(TARGET_CPU)) {
		if (ghost_now_ns() > end)
			die("after CPU_BUSY for CPU %d its agent's word has flags %s, expected "
			    "BOOST_PRIO without CPU_AVAIL (the CPU messages: %s)",
			    TARGET_CPU, avail_text(TARGET_CPU), cpu_log_text());
		check_hog(TARGET_CPU);
		serve_spinning(c);
		usleep(200);
	}
	note("CPU_BUSY for CPU %d; its agent's word: %s", TARGET_CPU, avail_text(TARGET_CPU));
	/* It keeps the CPU a while: still busy. */
	spin_for(c, 200);
	check_hog(TARGET_CPU);
	if (!cpu_busy(TARGET_CPU))
		die("with the SCHED_OTHER process still on CPU %d its agent's word has flags %s, "
		    "expected BOOST_PRIO without CPU_AVAIL (the CPU messages: %s)",
		    TARGET_CPU, avail_text(TARGET_CPU), cpu_log_text());

	stop_hog(TARGET_CPU, busy0, avail0, c);
	set_tunable(GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY, 0);
	busy_n = cpu_count[TARGET_CPU][CM_BUSY] - busy0;
	avail_n = cpu_count[TARGET_CPU][CM_AVAILABLE] - avail0;
	note("CPU_AVAILABLE for CPU %d; its agent's word: %s (%ld CPU_BUSY, %ld CPU_AVAILABLE, "
	     "%ld commits refused with CPU_UNAVAIL)",
	     TARGET_CPU, avail_text(TARGET_CPU), busy_n, avail_n, g_unavail_commits);
}

/* The CPU a process last ran on (field 39 of /proc/PID/stat), -1 if none. */
static int proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p, *save = NULL;
	ssize_t n;
	int fd, field = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (p = strtok_r(p + 1, " ", &save); p; p = strtok_r(NULL, " ", &save), field++)
		if (field == 39)
			return atoi(p);
	return -1;
}

/* The CPU time a process has had in ns (the first field of /proc/PID/schedstat), -1 if none. */
static long long proc_runtime(pid_t pid)
{
	char path[64];
	long long ns = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &ns) != 1)
		ns = -1;
	fclose(f);
	return ns;
}

/* g_hog has not died on its own and is running or runnable ('R'), last on cpu. */
static bool hog_on(int cpu)
{
	check_hog(cpu);
	return proc_state(g_hog) == 'R' && proc_cpu(g_hog) == cpu;
}

/*
 * Waits until g_hog runs on cpu: it is there ('R', last on cpu; pinned, it stays) and its CPU
 * time has grown since, so it has been running there, not only queued.
 */
static void wait_hog_on(int cpu)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	long long t0 = -1, t;

	for (;;) {
		if (!hog_on(cpu))
			t0 = -1;
		else if ((t = proc_runtime(g_hog)) < 0)
			die("no CPU time for the SCHED_OTHER process (pid %d) in /proc/%d/schedstat",
			    (int)g_hog, (int)g_hog);
		else if (t0 < 0)
			t0 = t;
		else if (t > t0)
			return;
		if (ghost_now_ns() > end)
			die("the SCHED_OTHER process (pid %d) pinned to CPU %d is not running there "
			    "after %d ms (state '%c', last on CPU %d, %lld ns of CPU time)",
			    (int)g_hog, cpu, WAIT_MS, proc_state(g_hog), proc_cpu(g_hog),
			    proc_runtime(g_hog));
		drain();
		usleep(1000);
	}
}

/*
 * Waits until c is runnable, off CPU, not latched and its status word's barrier read, ready
 * for a commit. If it ran and answered meanwhile, it is woken again ('w') once it blocks.
 */
static void wait_committable(struct child *c)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	bool answered = false;

	for (;;) {
		if (child_round(c, 0, false))
			answered = true;
		if (answered && !c->runnable) {
			send_cmd(c, 'w');
			answered = false;
		} else if (!answered && committable(c)) {
			return;
		}
		if (ghost_now_ns() > end)
			die("%s is not ready for a commit after %d ms: runnable %d, on CPU %d, "
			    "latched %d, answered %d; its messages: %s",
			    c->name, WAIT_MS, c->runnable, c->on_cpu, c->latched, answered,
			    log_text(c, 0));
		usleep(200);
	}
}

/*
 * deliver_cpu_availability 1; BUSY_CPU idle (no ghost task there, its agent asleep) is taken
 * by an ordinary process pinned there. sched_ext never had the CPU, so no ops.cpu_release
 * tells: the CPU's dispatch, if it ran with the process queued, or else the commit of a
 * runnable c there finds the higher class on it. The commit fails with CPU_UNAVAIL, CPU_BUSY
 * has come, the agent's word has BOOST_PRIO without CPU_AVAIL. Once
 * the process exits, the CPU's dispatch (it is idle) gives it back: CPU_AVAILABLE, CPU_AVAIL
 * without BOOST_PRIO, and a commit there runs c.
 */
static void step_busy_idle_cpu(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	int64_t end;
	int from = c->nlog, tries = 0;
	long busy0, avail0, busy_pre, refused;
	int32_t s;

	begin("idle CPU %d taken by a SCHED_OTHER process: %s committed there -> CPU_UNAVAIL, "
	      "CPU_BUSY; it exits: CPU_AVAILABLE, %s runs there",
	      BUSY_CPU, c->name, c->name);
	expect_blocked(c);
	deliver_avail_from(BUSY_CPU, NULL, &busy0, &avail0);
	wait_agent_asleep(BUSY_CPU);

	/* c wakes and waits, runnable: nobody commits it yet. */
	wake_runnable(c);

	g_hog = spawn_hog(BUSY_CPU);
	wait_hog_on(BUSY_CPU);
	busy_pre = cpu_count[BUSY_CPU][CM_BUSY] - busy0;
	note("a SCHED_OTHER process (pid %d) runs on CPU %d; before any commit there: %ld "
	     "CPU_BUSY, its agent's word %s",
	     (int)g_hog, BUSY_CPU, busy_pre, avail_text(BUSY_CPU));

	for (;;) {
		wait_committable(c);
		wait_hog_on(BUSY_CPU);
		s = commit_to(BUSY_CPU, c->gtid, c->seq);
		tries++;
		if (s == GHOST_TXN_CPU_UNAVAIL)
			break;
		if (s != GHOST_TXN_COMPLETE)
			die("commit %d of %s to CPU %d with a SCHED_OTHER process there (barrier %u): "
			    "expected %s, got %s; its agent's word %s",
			    tries, c->name, BUSY_CPU, c->seq,
			    ghost_txn_reason(GHOST_TXN_CPU_UNAVAIL), ghost_txn_reason(s),
			    avail_text(BUSY_CPU));
		c->latched = true;
		c->commits++;
		if (tries >= BUSY_TRIES)
			die("%d commits of %s to CPU %d with a SCHED_OTHER process running there all "
			    "succeeded, expected %s; its agent's word %s; the CPU messages: %s",
			    tries, c->name, BUSY_CPU, ghost_txn_reason(GHOST_TXN_CPU_UNAVAIL),
			    avail_text(BUSY_CPU), cpu_log_text());
		/*
		 * The process was not current there at that moment (its agent, say, woken by
		 * its sleep slice, was): the latch is taken back, and again.
		 */
		note("commit %d of %s to CPU %d succeeded (the SCHED_OTHER process was not "
		     "current there then); a NULL commit takes it back",
		     tries, c->name, BUSY_CPU);
		s = commit_to(BUSY_CPU, GHOST_NULL_GTID, 0);
		if (s != GHOST_TXN_COMPLETE)
			die("a NULL commit to CPU %d to take %s back: %s", BUSY_CPU, c->name,
			    ghost_txn_reason(s));
	}

	wait_cpu_state(BUSY_CPU, MSG_CPU_BUSY, busy0, avail0, NULL,
		       "a commit to the CPU failed CPU_UNAVAIL");
	note("commit %d of %s to CPU %d: %s; CPU_BUSY for CPU %d; its agent's word: %s", tries,
	     c->name, BUSY_CPU, ghost_txn_reason(GHOST_TXN_CPU_UNAVAIL), BUSY_CPU,
	     avail_text(BUSY_CPU));

	/* The process keeps the CPU a while: still busy, a commit still refused. */
	end = ghost_now_ns() + (int64_t)HOLD_MS * 1000000;
	while (ghost_now_ns() < end) {
		hog_on(BUSY_CPU);
		drain();
		usleep(1000);
	}
	wait_committable(c);
	wait_hog_on(BUSY_CPU);
	s = commit_to(BUSY_CPU, c->gtid, c->seq);
	if (s != GHOST_TXN_CPU_UNAVAIL)
		die("a commit of %s to CPU %d %d ms later, the SCHED_OTHER process still there: "
		    "expected %s, got %s; its agent's word %s; the CPU messages: %s",
		    c->name, BUSY_CPU, HOLD_MS, ghost_txn_reason(GHOST_TXN_CPU_UNAVAIL),
		    ghost_txn_reason(s), avail_text(BUSY_CPU), cpu_log_text());
	drain();
	if (!cpu_busy(BUSY_CPU) || cpu_last_avail[BUSY_CPU] != MSG_CPU_BUSY)
		die("with the SCHED_OTHER process still on CPU %d its agent's word has flags %s "
		    "and the last of CPU_BUSY/CPU_AVAILABLE is %s, expected BOOST_PRIO without "
		    "CPU_AVAIL after CPU_BUSY (the CPU messages: %s)",
		    BUSY_CPU, avail_text(BUSY_CPU), msg_name(cpu_last_avail[BUSY_CPU]),
		    cpu_log_text());

	stop_hog(BUSY_CPU, busy0, avail0, NULL);
	note("CPU_AVAILABLE for CPU %d; its agent's word: %s", BUSY_CPU, avail_text(BUSY_CPU));

	/* The CPU is sched_ext's again: the commit goes through, c runs there. */
	wait_committable(c);
	refused = run_on(c, BUSY_CPU, from);
	check_sequence(c, from, want, N(want));
	expect_ran_on(c, BUSY_CPU);
	set_tunable(GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY, 0);
	note("%s ran on CPU %d (%ld CPU_BUSY, %ld CPU_AVAILABLE for CPU %d, %d commits until "
	     "CPU_UNAVAIL, %ld refused after CPU_AVAILABLE)",
	     c->name, BUSY_CPU, cpu_count[BUSY_CPU][CM_BUSY] - busy0,
	     cpu_count[BUSY_CPU][CM_AVAILABLE] - avail0, BUSY_CPU, tries, refused);
}

int main(void)
{
	abi_start(1);
	step_spin_start(&child_a);
	step_cpu_avail(&child_a);
	step_spin_stop(&child_a);
	step_busy_idle_cpu(&child_a);
	abi_finish();
	return 0;
}
