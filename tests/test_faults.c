/*
 * tests/test_faults.c - faults at random moments, as deployed: ghost-agent
 * and ghost-workload in their own processes, killed, stopped and destroyed
 * under each other. After every fault a follow-up workload must run to its
 * end (every thread started, none stuck), and agents must exit as documented.
 *
 *  - app kill: under each policy, kill -9 a workload (rpc, block-wake or
 *    spin, in turn) at a random moment, then run a short spin workload on the
 *    same agent; the agent ends on SIGINT with no sequence-number error;
 *  - agent kill + take-over: kill -9 a fifo-percpu agent under an 8-thread
 *    block-wake run (then a spin run), start `ghost-agent --attach`; the run
 *    ends in time, and no agent has a commit-failure storm;
 *  - SIGSTOP/SIGCONT of the agent under a spin run, at random moments;
 *  - destroy under a running agent: the agent exits 1 saying why, and an
 *    enclave created meanwhile with the same id survives its exit;
 *  - kill -9 of an agent with no tasks: the next agent on its CPUs starts.
 *
 * Bounded: about half a minute. Random moments come from a seed printed at
 * the start (GHOST_FAULT_SEED repeats a run); GHOST_FAULT_ROUNDS scales the
 * app-kill loop.
 */
#include "emu_helpers.h"

#include <signal.h>
#include <sys/wait.h>

static unsigned seed, first_seed;
static int rounds = 5;

static int rnd(int lo, int hi)
{
	return lo + (int)(rand_r(&seed) % (unsigned)(hi - lo + 1));
}

static void msleep(int ms)
{
	usleep((useconds_t)ms * 1000);
}

static char *path_in_root(const char *name)
{
	static char buf[4][512];
	static int k;
	char *p = buf[k++ % 4];

	snprintf(p, 512, "%s/%s", test_root, name);
	return p;
}

/* The output of a finished tool, for failure messages. */
static const char *output(const char *file)
{
	static char buf[8192];

	test_read_file(path_in_root(file), buf, sizeof(buf));
	return buf;
}

/* Runs ghostctl with args to completion; its exit status. */
static int ctl(char *const args[], const char *out)
{
	return test_wait_exit(test_spawn_tool("ghostctl", args, path_in_root(out)), 10000);
}

/*
 * An agent of policy on CPUs 0-1. The centralized ones get a 2 ms time slice:
 * without one, FIFO lets the first of two spinners keep the one CPU it
 * schedules, and the follow-up could not tell that from a wedged CPU.
 */
static pid_t start_agent(const char *policy, const char *id, const char *out, bool attach)
{
	char *args_new[] = { "--policy",  (char *)policy, "--cpus", "0-1",
			     "--enclave", (char *)id,	  "--root", test_root,
			     "--quiet",	  "--time-slice", "2000",   NULL };
	char *args_attach[] = { "--policy", (char *)policy, "--attach",	    (char *)id, "--root",
				test_root,  "--quiet",	    "--time-slice", "2000",	NULL };
	char *get[] = { "--root", test_root, "get", (char *)id, "agent_online", NULL };
	pid_t pid;

	if (!strcmp(policy, "fifo-percpu")) {
		/* It has no time slice. */
		args_new[9] = NULL;
		args_attach[7] = NULL;
	}
	pid = test_spawn_tool("ghost-agent", attach ? args_attach : args_new, path_in_root(out));

	for (int i = 0; i < 500; i++) {
		if (ctl(get, "online.out") == 0 && output("online.out")[0] == '1')
			return pid;
		CHECK_MSG(waitpid(pid, NULL, WNOHANG) == 0, "ghost-agent exited: %s", output(out));
		msleep(10);
	}
	FAIL("agent of enclave %s never came online: %s", id, output(out));
}

static pid_t start_workload(const char *id, const char *pattern, const char *threads,
			    const char *seconds, const char *out)
{
	char *args[] = {
		"--enclave",	 (char *)id,  "--root",	       test_root,    "--threads",
		(char *)threads, "--pattern", (char *)pattern, "--duration", (char *)seconds,
		"--warmup",	 "0",	      "--json",	       NULL
	};

	return test_spawn_tool("ghost-workload", args, path_in_root(out));
}

/* The enclave's stats file, for failure messages. */
static const char *kernel_stats(const char *id)
{
	static char buf[8192];
	char *cat[] = { "--root", test_root, "cat", (char *)id, "stats", NULL };

	ctl(cat, "stats.out");
	test_read_file(path_in_root("stats.out"), buf, sizeof(buf));
	return buf;
}

/*
 * Waits for the kernel to have reaped every task of a killed workload, and
 * then for the agent to have read of their deaths: fifo-percpu places a new
 * task by how many tasks each CPU has, and a CPU whose agent never hears
 * (a wedged one) keeps its count, so two new spinners share the other CPU
 * and one of them starves, which the follow-up sees.
 */
static void settle(const char *id)
{
	char *status[] = { "--root", test_root, "cat", (char *)id, "status", NULL };

	for (int i = 0; i < 500; i++) {
		CHECK_EQ(ctl(status, "status.out"), 0);
		if (strstr(output("status.out"), "nr_tasks 0\n"))
			break;
		msleep(10);
	}
	CHECK_MSG(strstr(output("status.out"), "nr_tasks 0\n"), "seed %u: tasks left: %s",
		  first_seed, output("status.out"));
	msleep(100);
}

/* A short spin run on the enclave: every thread starts, and it ends in time. */
static void follow_up(const char *id, const char *what)
{
	pid_t w;

	settle(id);
	w = start_workload(id, "spin", "2", "0.3", "follow.json");
	int st = test_wait_exit(w, 20000);
	char json[8192];

	snprintf(json, sizeof(json), "%s", output("follow.json"));
	CHECK_MSG(st == 0, "seed %u, %s: the follow-up workload exited %d: %s\n%s", first_seed,
		  what, st, json, kernel_stats(id));
	/* Exit 0: every thread started (got a CPU) and stopped in time. Not
	 * more: on a loaded machine a thread may get no share of 0.3 s. */
	CHECK_MSG(test_json_num(json, "work_units") > 0, "seed %u, %s: no work done: %s\n%s",
		  first_seed, what, json, kernel_stats(id));
}

static void stop_agent(pid_t agent, const char *out)
{
	int st;

	kill(agent, SIGINT);
	st = test_wait_exit(agent, 10000);
	CHECK_MSG(st == 0, "seed %u: ghost-agent exited %d on SIGINT: %s", first_seed, st,
		  output(out));
	CHECK_MSG(strstr(output(out), "seqnum_errors 0"), "seed %u: %s", first_seed, output(out));
	/* No commit-failure storm: the library names one after 1000 identical
	 * failures of one task in a row. */
	CHECK_MSG(!strstr(output(out), "txn storm"), "seed %u: %s", first_seed, output(out));
}

static void app_kill(const char *policy, const char *id)
{
	static const char *patterns[] = { "rpc", "block-wake", "spin" };
	char what[128];
	pid_t agent = start_agent(policy, id, "agent.out", false);

	for (int i = 0; i < rounds; i++) {
		pid_t w = start_workload(id, patterns[i % 3], "4", "2", "victim.json");

		msleep(rnd(20, 400));
		kill(w, SIGKILL);
		CHECK_EQ(test_wait_exit(w, 10000), 128 + SIGKILL);
		snprintf(what, sizeof(what), "%s, %s killed, round %d", policy, patterns[i % 3], i);
		follow_up(id, what);
	}
	stop_agent(agent, "agent.out");
}

static void agent_kill_attach(const char *id)
{
	/* Over blocking tasks, then over spinners that hold their CPUs. */
	for (int i = 0; i < 2; i++) {
		pid_t agent = start_agent("fifo-percpu", id, "agent.out", false);
		pid_t w = start_workload(id, i ? "spin" : "block-wake", i ? "2" : "8", "1.5",
					 "bw.json");
		pid_t next;
		int st;

		msleep(rnd(100, 900));
		kill(agent, SIGKILL);
		CHECK_EQ(test_wait_exit(agent, 10000), 128 + SIGKILL);
		next = start_agent("fifo-percpu", id, "attach.out", true);
		/* The run ends on time: 1.5 s, plus its stop grace, plus slack. */
		st = test_wait_exit(w, 15000);
		CHECK_MSG(st == 0, "seed %u, take-over %d: the workload exited %d: %s", first_seed,
			  i, st, output("bw.json"));
		CHECK_MSG(!strstr(output("bw.json"), "did not stop"),
			  "seed %u, take-over %d: threads stuck: %s", first_seed, i,
			  output("bw.json"));
		follow_up(id, "after a take-over");
		stop_agent(next, "attach.out");
	}
}

static void agent_stop_cont(const char *id)
{
	pid_t agent = start_agent("fifo-centralized", id, "agent.out", false);
	pid_t w = start_workload(id, "spin", "2", "1.5", "spin.json");
	const char *json;

	for (int i = 0; i < 4; i++) {
		msleep(rnd(50, 250));
		kill(agent, SIGSTOP);
		msleep(rnd(20, 200));
		kill(agent, SIGCONT);
	}
	CHECK_EQ(test_wait_exit(w, 20000), 0);
	json = output("spin.json");
	CHECK_MSG(test_json_num(json, "work_units") > 0, "seed %u: %s", first_seed, json);
	follow_up(id, "after SIGSTOP/SIGCONT");
	stop_agent(agent, "agent.out");
}

static void destroy_under_agent(const char *id)
{
	char *destroy[] = { "--root", test_root, "destroy", (char *)id, NULL };
	char *create[] = {
		"--root", test_root, "create", "--id", (char *)id, "--cpus", "0-1", NULL
	};
	char *list[] = { "--root", test_root, "list", NULL };
	pid_t agent = start_agent("fifo-percpu", id, "agent.out", false);
	pid_t w = start_workload(id, "spin", "2", "1", "spin.json");
	int st;

	msleep(rnd(50, 300));
	CHECK_EQ(ctl(destroy, "ctl.out"), 0);
	/* An enclave with the same id, made before the old agent is gone. */
	CHECK_MSG(ctl(create, "ctl.out") == 0, "%s", output("ctl.out"));
	st = test_wait_exit(agent, 5000);
	CHECK_MSG(st == 1, "seed %u: the agent exited %d after a destroy: %s", first_seed, st,
		  output("agent.out"));
	CHECK_MSG(strstr(output("agent.out"), "ended under the agent (destroyed)"), "%s",
		  output("agent.out"));
	test_wait_exit(w, 15000);
	/* The old agent's exit left the new enclave alone. */
	CHECK_EQ(ctl(list, "list.out"), 0);
	CHECK_MSG(strstr(output("list.out"), "cpus 0-1"), "%s", output("list.out"));
	CHECK_EQ(ctl(destroy, "ctl.out"), 0);
}

static void orphan(const char *id)
{
	pid_t agent = start_agent("fifo-percpu", id, "agent.out", false);

	kill(agent, SIGKILL);
	CHECK_EQ(test_wait_exit(agent, 10000), 128 + SIGKILL);
	/* Nobody else has it open: the next agent on its CPUs reaps it. Until
	 * the reaper may be sure nobody watches (a few watchdog periods), the
	 * CPUs may still be taken. */
	msleep(200);
	agent = start_agent("fifo-percpu", id, "agent2.out", false);
	follow_up(id, "after an orphaned enclave");
	stop_agent(agent, "agent2.out");
}

int main(void)
{
	const char *s = getenv("GHOST_FAULT_SEED"), *r = getenv("GHOST_FAULT_ROUNDS");

	if (test_ncpus() < 2) {
		printf("test_faults: needs 2 CPUs\n");
		return TEST_SKIP;
	}
	seed = s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)ghost_now_ns();
	first_seed = seed;
	if (r)
		rounds = atoi(r) > 0 ? atoi(r) : rounds;
	printf("test_faults: seed %u (GHOST_FAULT_SEED repeats it)\n", first_seed);
	fflush(stdout);
	test_root_make();
	app_kill("fifo-percpu", "1");
	app_kill("fifo-centralized", "2");
	app_kill("shinjuku", "3");
	agent_kill_attach("4");
	agent_stop_cont("5");
	destroy_under_agent("6");
	orphan("7");
	printf("test_faults: ok\n");
	return 0;
}
