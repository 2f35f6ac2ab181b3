/*
 * tests/test_shinjuku.c - the Shinjuku policy end to end, in the deployed
 * shape (ghost-agent in one process, applications in others).
 *
 * Checks: QoS from the PrioTable: a runnable worker of a higher class keeps
 * a lower-class antagonist off the CPU entirely; when the worker's item goes
 * idle while it spins, the agent takes it off its CPU (its progress stops)
 * and the antagonist runs; marked runnable again, the worker is back and the
 * antagonist stops. With ghost-workload: spinners with a PrioTable starve a
 * low-QoS antagonist under shinjuku but not under fifo-centralized (which
 * has no QoS); the rpc pattern through a PrioTable serves the requests it
 * issues (none left waiting at the end), the antagonist gets the idle time,
 * and the agent reads the items.
 * Every run: no sequence-number error, every TASK_NEW ended by TASK_DEAD.
 *
 * Needs CPUs 0 and 1 (skips otherwise). "test_shinjuku --app ROOT ID" is the
 * application of the by-hand part.
 */
#include "emu_helpers.h"

#include <ghost/priotable.h>

#include <pthread.h>
#include <spawn.h>

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

extern char **environ;

enum { CMD_NONE, CMD_IDLE, CMD_RUNNABLE, CMD_EXIT };

struct shared {
	uint64_t progress[2]; /* 0: the worker (QoS 2), 1: the antagonist (QoS 1) */
	uint32_t items_set;
	uint32_t cmd, ack;
};

/* ---- the application ---- */

static struct shared *app_sh;
static struct ghost_prio_table *app_pt;
static uint32_t app_exit;

static void *spinner(void *arg)
{
	uint32_t i = (uint32_t)(intptr_t)arg;

	while (!LOAD(app_exit))
		__atomic_add_fetch(&app_sh->progress[i], 1, __ATOMIC_RELAXED);
	return NULL;
}

static int app_main(const char *root, const char *id)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o),
					.root = root,
					.id = strtoull(id, NULL, 10) };
	struct ghost_prio_table_opts po = { .sz = sizeof(po), .items = 2, .classes = 2 };
	struct ghost_work_class worker = { .id = 0, .flags = GHOST_WORK_CLASS_ONESHOT, .qos = 2 };
	struct ghost_work_class antagonist = { .id = 1,
					       .flags = GHOST_WORK_CLASS_ONESHOT,
					       .qos = 1 };
	struct ghost_thread *t[2];
	struct ghost_enclave *e;

	app_sh = test_map_shared(root, "shared", sizeof(struct shared), false);
	if (ghost_prio_table_create(&po, &app_pt) || ghost_prio_table_set_class(app_pt, &worker) ||
	    ghost_prio_table_set_class(app_pt, &antagonist))
		return 2;
	if (ghost_enclave_attach(&o, &e))
		return 3;
	/* The application describes its threads (the main thread is no ghost
	 * task): the worker's item in the high class, the antagonist's low. */
	for (int i = 0; i < 2; i++) {
		struct ghost_sched_item si = { .wcid = (uint32_t)i,
					       .flags = GHOST_SCHED_ITEM_RUNNABLE };

		if (ghost_thread_create(e, &t[i], spinner, (void *)(intptr_t)i))
			return 4;
		si.gpid = (uint64_t)ghost_thread_gtid_of(t[i], 0);
		if (!si.gpid || ghost_prio_table_set_item(app_pt, (uint32_t)i, &si))
			return 6;
	}
	STORE(app_sh->items_set, 2);
	/* The main thread is not a ghost task: it answers the test's commands. */
	for (;;) {
		uint32_t cmd = LOAD(app_sh->cmd);

		if (cmd == CMD_IDLE)
			ghost_prio_table_mark_idle(app_pt, 0);
		else if (cmd == CMD_RUNNABLE || cmd == CMD_EXIT)
			ghost_prio_table_mark_runnable(app_pt, 0);
		if (cmd != CMD_NONE) {
			STORE(app_sh->cmd, CMD_NONE);
			STORE(app_sh->ack, cmd);
		}
		if (cmd == CMD_EXIT)
			break;
		usleep(1000);
	}
	STORE(app_exit, 1);
	for (int i = 0; i < 2; i++)
		if (ghost_thread_join(t[i], NULL))
			return 5;
	ghost_enclave_close(e);
	ghost_prio_table_destroy(app_pt);
	return 0;
}

/* ---- checks ---- */

static struct shared *SH;

static void command(uint32_t cmd)
{
	int64_t end = ghost_now_ns() + 10000000000LL;

	STORE(SH->ack, CMD_NONE);
	STORE(SH->cmd, cmd);
	while (LOAD(SH->ack) != cmd)
		CHECK_MSG(ghost_now_ns() < end, "the application did not take command %u", cmd);
}

static void wait_progress(int i)
{
	uint64_t p = LOAD(SH->progress[i]);
	int64_t end = ghost_now_ns() + 10000000000LL;

	while (LOAD(SH->progress[i]) == p)
		CHECK_MSG(ghost_now_ns() < end, "%s made no progress in 10 s",
			  i ? "the antagonist" : "the worker");
}

/* Progress of i over window_ms. */
static uint64_t progress_over(int i, int window_ms)
{
	uint64_t p = LOAD(SH->progress[i]);

	usleep((useconds_t)window_ms * 1000);
	return LOAD(SH->progress[i]) - p;
}

/* Progress of thread i within max_ms: the first non-zero count seen, else 0. */
static uint64_t progress_within(int i, int max_ms)
{
	uint64_t p = LOAD(SH->progress[i]);

	for (int waited = 0; waited < max_ms && LOAD(SH->progress[i]) == p; waited += 10)
		usleep(10000);
	return LOAD(SH->progress[i]) - p;
}

static void agent_summary(const char *out, char *text, size_t len, const char **sum)
{
	test_read_file(out, text, len);
	*sum = strstr(text, "summary:");
	CHECK_MSG(*sum != NULL, "no summary: %s", text);
	CHECK_EQ(counter_after(*sum, "seqnum_errors "), 0);
	CHECK_EQ(counter_after(*sum, "bad_msgs "), 0);
	CHECK_EQ(counter_after(*sum, " new "),
		 counter_after(*sum, " dead ") + counter_after(*sum, " departed "));
}

/* A 1 ms slice for fifo-centralized: its default never preempts. */
static pid_t start_agent(const char *policy, uint64_t id, char *out, size_t len)
{
	char idbuf[16];
	bool fifo = !strcmp(policy, "fifo-centralized");
	char *args[] = { "--policy",
			 (char *)policy,
			 "--cpus",
			 "0-1",
			 "--enclave",
			 idbuf,
			 "--root",
			 test_root,
			 "--prio",
			 "normal",
			 fifo ? "--time-slice" : NULL,
			 "1000",
			 NULL };

	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)id);
	snprintf(out, len, "%s/agent-%llu.out", test_root, (unsigned long long)id);
	return test_spawn_tool("ghost-agent", args, out);
}

static void idle_item_leaves_cpu(void)
{
	char *argv[] = { "test_shinjuku", "--app", test_root, "1", NULL };
	char out[512], text[16384];
	struct ghost_enclave *e;
	struct emu_shared *sh;
	const char *sum;
	uint64_t worker, antagonist;
	size_t size;
	pid_t agent, app;

	SH = test_map_shared(test_root, "shared", sizeof(struct shared), true);
	agent = start_agent("shinjuku", 1, out, sizeof(out));
	e = test_wait_enclave(1);
	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	CHECK_EQ(posix_spawn(&app, "/proc/self/exe", NULL, NULL, argv, environ), 0);
	test_track_child(app);
	{
		int64_t end = ghost_now_ns() + 10000000000LL;

		while (LOAD(SH->items_set) < 2)
			CHECK_MSG(ghost_now_ns() < end, "the threads never published their items");
	}
	usleep(100000); /* the agent reads both items */
	/* The worker's class outranks the antagonist's: the antagonist never runs. */
	antagonist = progress_over(1, 300);
	/* The worker runs (however long the machine's other threads keep its CPU), and the
	 * antagonist still does not. */
	{
		uint64_t before = LOAD(SH->progress[1]);

		worker = progress_within(0, 5000);
		antagonist += LOAD(SH->progress[1]) - before;
	}
	printf("both runnable: worker +%llu, antagonist +%llu\n", (unsigned long long)worker,
	       (unsigned long long)antagonist);
	CHECK(worker > 0);
	CHECK_EQ(antagonist, 0);
	/* The worker's item goes idle; its thread keeps spinning, yet leaves. */
	command(CMD_IDLE);
	wait_progress(1);
	worker = progress_over(0, 100);
	printf("worker idle: worker +%llu, antagonist running\n", (unsigned long long)worker);
	CHECK_EQ(worker, 0);
	/* Runnable again: back on its CPU, the antagonist off. */
	command(CMD_RUNNABLE);
	wait_progress(0);
	usleep(20000);
	antagonist = progress_over(1, 100);
	printf("worker runnable again: antagonist +%llu\n", (unsigned long long)antagonist);
	CHECK_EQ(antagonist, 0);
	command(CMD_EXIT);
	CHECK_EQ(test_wait_exit(app, 30000), 0);
	sh = test_emu_state(1, &size);
	test_check_trace(sh);
	munmap(sh, size);
	usleep(100000);
	kill(agent, SIGINT);
	CHECK_EQ(test_wait_exit(agent, 10000), 0);
	agent_summary(out, text, sizeof(text), &sum);
	CHECK_MSG(counter_after(sum, "unscheduled ") >= 1, "%s", sum);
	ghost_enclave_close(e);
}

/* ghost-workload under an agent; returns the workload's JSON in json. */
static void workload_run(const char *policy, uint64_t id, char *const wl_extra[], char *json,
			 size_t len, char *sum_text, size_t sum_len, const char **sum)
{
	char out[512], wout[512], idbuf[16];
	char *args[32] = { "--enclave", idbuf, "--root", test_root, "--json" };
	struct ghost_enclave *e;
	pid_t agent, wl;
	int a = 5;

	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)id);
	snprintf(wout, sizeof(wout), "%s/workload-%llu.out", test_root, (unsigned long long)id);
	for (; *wl_extra && a < 31; wl_extra++)
		args[a++] = *wl_extra;
	args[a] = NULL;
	agent = start_agent(policy, id, out, sizeof(out));
	e = test_wait_enclave(id);
	wl = test_spawn_tool("ghost-workload", args, wout);
	CHECK_EQ(test_wait_exit(wl, 60000), 0);
	test_read_file(wout, json, len);
	usleep(100000);
	kill(agent, SIGINT);
	CHECK_EQ(test_wait_exit(agent, 10000), 0);
	agent_summary(out, sum_text, sum_len, sum);
	ghost_enclave_close(e);
}

static void with_workload(void)
{
	char *spin[] = { "--pattern", "spin",	      "--threads",     "2", "--duration",
			 "1",	      "--prio-table", "--antagonists", "1", NULL };
	/* Half the rate the workers could serve alone: a machine busy with other work still
	 * leaves room, so what is checked is that nothing is lost, not how fast. */
	char *rpc[] = { "--pattern",	"rpc",		 "--threads", "4",	  "--rate",
			"1000",		"--duration",	 "2",	      "--warmup", "0.2",
			"--prio-table", "--antagonists", "1",	      NULL };
	char json[8192], text[16384];
	const char *sum;
	double cpus;

	workload_run("shinjuku", 2, spin, json, sizeof(json), text, sizeof(text), &sum);
	cpus = test_json_num(json, "antagonist_cpus");
	printf("spin, shinjuku: antagonist got %.3f CPUs\n", cpus);
	CHECK_MSG(cpus < 0.01, "%s", json);
	workload_run("fifo-centralized", 3, spin, json, sizeof(json), text, sizeof(text), &sum);
	cpus = test_json_num(json, "antagonist_cpus");
	{
		/* The workers' CPU time: their 50 us chunks over the run. */
		double workers = test_json_num(json, "work_units") * 50e-6 /
				 test_json_num(json, "duration_s");
		double share = cpus / (cpus + workers);

		printf("spin, fifo-centralized (no QoS, 1 ms slice): antagonist got %.3f CPUs, %.2f "
		       "of what the three threads got\n",
		       cpus, share);
		/* A third in fair turns, whatever else the machine runs on that CPU. */
		CHECK_MSG(share > 0.2 && share < 0.5, "%s", json);
	}

	workload_run("shinjuku", 4, rpc, json, sizeof(json), text, sizeof(text), &sum);
	printf("rpc through a PrioTable: %.0f issued, %.0f completed, p99 %.0f us, antagonist "
	       "%.3f CPUs\n",
	       test_json_num(json, "issued"), test_json_num(json, "completed"),
	       test_json_num(json, "p99"), test_json_num(json, "antagonist_cpus"));
	CHECK_EQ(test_json_num(json, "dropped"), 0);
	/* Nothing waited long: a lost wake-up would leave a request behind for the rest of the
	 * run (requests still in flight at the stop are a few milliseconds old, tens on a
	 * machine whose other threads take the CPU for that long). */
	CHECK_MSG(test_json_num(json, "oldest_unfinished_us") < 500000, "%s", json);
	CHECK_MSG(test_json_num(json, "completed") >= 0.95 * test_json_num(json, "issued"), "%s",
		  json);
	/* The antagonist runs while the workers idle. How much it gets depends on what else
	 * the machine runs on that CPU; the spin case above checks the fair share. */
	CHECK_MSG(test_json_num(json, "antagonist_cpus") > 0, "%s", json);
	/* The agent followed the table's update stream: updates seen for at least a quarter of
	 * the requests (each makes its item runnable and idle again; the stream coalesces
	 * updates of an item the agent has not read yet). */
	CHECK_MSG(counter_after(sum, "item updates ") > test_json_num(json, "issued") / 4, "%s",
		  sum);
}

int main(int argc, char **argv)
{
	char agent[600];

	if (argc == 4 && !strcmp(argv[1], "--app"))
		return app_main(argv[2], argv[3]);
	if (test_ncpus() < 2) {
		printf("needs CPUs 0 and 1\n");
		return TEST_SKIP;
	}
	snprintf(agent, sizeof(agent), "%s/ghost-agent", GHOST_BIN_DIR);
	if (access(agent, X_OK)) {
		printf("no %s: build the tools first\n", agent);
		return TEST_SKIP;
	}
	test_root_make();
	idle_item_leaves_cpu();
	with_workload();
	printf("test_shinjuku: ok\n");
	return 0;
}
