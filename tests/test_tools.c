/*
 * tests/test_tools.c - ghost-agent and ghostctl as a user drives them.
 *
 * Checks: --help exits 0 (ghostctl's names its exit codes); every bad
 * argument exits 2 with a message that names it (ghostctl: one line; unknown
 * tunables and files, negative, huge and out-of-range numbers: ids, region
 * and node numbers, thread ids, tunable values); setup errors exit 1 with one
 * line saying why; ghostctl's create / list / status / get / set / cat / ctl /
 * tasks / destroy round trip; with more than 256 enclaves, `ghostctl create`
 * neither hands out nor resets a live one, and an id in use fails; ghost-agent
 * starts, serves, and shuts down cleanly on SIGTERM; ghost-workload and
 * `ghostctl run` started before the agent wait for its enclave (--wait), and
 * say how long they waited and how to start one when none comes (exit 1), a
 * bad --wait exits 2; a workload whose thread a policy starves (FIFO per CPU,
 * two spinners on one CPU) exits 1 saying so, one whose idle rpc workers get
 * no request exits 0; the README's by-hand block, run by bash as written
 * (a shorter run), works; where
 * the sched_ext backend cannot run (a build without it, or a kernel without
 * /sys/kernel/sched_ext), `ghostctl kernels` lists scx as absent and
 * `ghost-agent --kernel scx` exits 1 saying why.
 */
#include "emu_helpers.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GHOST_BIN_DIR
#define GHOST_BIN_DIR "build/bin"
#endif

/* Whether this build has the interposer beside its tools (sanitizer builds do not). */
static bool have_preload(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/../lib/libghost-preload.so", GHOST_BIN_DIR);
	return access(path, R_OK) == 0;
}

static char out[65536];

/* Starts build/bin/<tool> with args; its stdout+stderr go to *fd. */
static pid_t spawn_tool(const char *tool, const char *const *args, int *fd)
{
	char path[600];
	const char *argv[32];
	int fds[2], a = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", GHOST_BIN_DIR, tool);
	argv[a++] = path;
	for (; *args && a < 30; args++)
		argv[a++] = *args;
	argv[a] = NULL;
	CHECK(pipe(fds) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		execv(path, (char *const *)argv);
		_exit(126);
	}
	close(fds[1]);
	*fd = fds[0];
	test_track_child(pid);
	return pid;
}

/* Reads everything into out, reaps pid, returns its exit status. */
static int finish(pid_t pid, int fd)
{
	int status, n = 0;

	for (ssize_t r; (r = read(fd, out + n, sizeof(out) - 1 - (size_t)n)) > 0;)
		n += (int)r;
	out[n] = 0;
	close(fd);
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The whole output of a tool that has exited (reaped elsewhere), into out. */
static void finish_output(int fd)
{
	int n = 0;

	for (ssize_t r; (r = read(fd, out + n, sizeof(out) - 1 - (size_t)n)) > 0;)
		n += (int)r;
	out[n] = 0;
	close(fd);
}

/* Runs a tool to the end, its output in out. */
static int run(const char *tool, const char *const *args)
{
	int fd;
	pid_t pid = spawn_tool(tool, args, &fd);

	return finish(pid, fd);
}

#define RUN(tool, ...) run(tool, (const char *const[]){ __VA_ARGS__, NULL })

static void expect(int rc, int want, const char *must_contain)
{
	CHECK_MSG(rc == want, "exit %d, wanted %d; output: %s", rc, want, out);
	if (must_contain)
		CHECK_MSG(strstr(out, must_contain) != NULL, "no \"%s\" in: %s", must_contain, out);
}

/* Whether out is one line. */
static bool one_line(void)
{
	const char *nl = strchr(out, '\n');

	return nl && !nl[1];
}

/* A usage error: exit 2, one line, naming the bad input. */
static void expect_usage(int rc, const char *names)
{
	const char *nl = strchr(out, '\n');

	expect(rc, 2, names);
	CHECK_MSG(nl && !nl[1], "not one line: %s", out);
}

static void agent_args(void)
{
	expect(RUN("ghost-agent", "--help"), 0, "--policy");
	expect(RUN("ghost-agent", "--cpus", "0"), 2, "--policy");
	expect(RUN("ghost-agent", "--policy", "lifo"), 2, "\"lifo\"");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--cpus", "3-1"), 2, "3-1");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--cpus", "600"), 2, "600");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--cpus", "abc"), 2, "abc");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--kernel", "nope"), 2, "\"nope\"");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--enclave", "x"), 2, "\"x\"");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--stats", "-1"), 2, "--stats");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--time-slice", "100"), 2,
	       "--time-slice");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--enclave", "1", "--attach", "2"), 2,
	       "--attach");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--bogus"), 2, "bogus");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "extra"), 2, "\"extra\"");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--prio", "high"), 2, "\"high\"");
	/* A centralized policy's global agent needs a CPU of the enclave besides the others. */
	expect(RUN("ghost-agent", "--policy", "shinjuku", "--cpus", "0"), 2, "at least 2 CPUs");
	/* -o: an unknown key or a bad value of each kind, named in one line, exit 2. */
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "-o", "speed=3"), 2,
	       "-o speed=3: policy fifo-percpu has no parameter \"speed\" (its parameters: "
	       "queue_elems)");
	CHECK(one_line());
	expect(RUN("ghost-agent", "--policy", "shinjuku", "-o", "time_slice=50"), 2,
	       "-o time_slice=50: time_slice=\"50\": not a duration");
	expect(RUN("ghost-agent", "--policy", "shinjuku", "-o", "time_slice=2h"), 2, "time_slice");
	expect(RUN("ghost-agent", "--policy", "shinjuku", "--option", "time_slice=0us"), 2,
	       "time_slice=0us: outside 1us..3600s");
	expect(RUN("ghost-agent", "--policy", "shinjuku", "-o", "global_cpu=x"), 2,
	       "global_cpu=\"x\"");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "-o", "queue_elems=70000"), 2,
	       "queue_elems=70000: outside 16..65536");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "-o", "queue_elems=100"), 2,
	       "queue_elems=100: not a power of two");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--time-slice", "5ms"), 2,
	       "--time-slice takes a number");
	expect(RUN("ghost-agent", "--list-policies", "-o", "queue_elems=16"), 2, "-o sets");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "-o", "queue_elems"), 2,
	       "\"queue_elems\" is not key=value");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "-o"), 2, "-o needs a value");
	/* --list-policies: every built-in policy with each of its parameters. */
	expect(RUN("ghost-agent", "--list-policies"), 0, "fifo-percpu");
	{
		const struct ghost_policy *const *all = ghost_policy_all();
		int n = 0;

		for (; all[n]; n++) {
			char line[128];

			snprintf(line, sizeof(line), "\n%s\n    %s\n", all[n]->name,
				 all[n]->summary);
			CHECK_MSG(strstr(out, line) || !strncmp(out, line + 1, strlen(line + 1)),
				  "no %s in: %s", all[n]->name, out);
			for (const struct ghost_policy_param *pp = all[n]->params; pp && pp->name;
			     pp++) {
				snprintf(line, sizeof(line), "    -o %s=", pp->name);
				CHECK_MSG(strstr(out, line), "%s: no %s in the list", all[n]->name,
					  pp->name);
			}
		}
		CHECK_MSG(n >= 7, "%d policies", n);
	}
	expect(RUN("ghost-agent", "--policy", "fifo-centralized", "--cpus", "0", "--time-slice",
		   "50"),
	       2, "at least 2 CPUs");
	if (test_ncpus() >= 2)
		expect(RUN("ghost-agent", "--policy", "shinjuku", "--cpus", "0-1", "--global-cpu",
			   "5"),
		       2, "--global-cpu 5");
	/* Setup errors: exit 1 with the reason. */
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--kernel", "ghostfs", "--cpus", "0"),
	       1, "ghostfs");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--attach", "77", "--root", test_root),
	       1, "77");
}

static void ctl_args(void)
{
	expect(RUN("ghostctl", "--help"), 0, "create");
	CHECK_MSG(strstr(out, "exit status") && strstr(out, " 2 "), "no exit codes in: %s", out);
	expect(RUN("ghostctl", "status", "--help"), 0, "status ID");
	expect(RUN("ghostctl", "--root", test_root), 2, "missing command");
	expect(RUN("ghostctl", "--root", test_root, "frobnicate"), 2, "\"frobnicate\"");
	expect(RUN("ghostctl", "--root", test_root, "--bogus", "list"), 2, "\"--bogus\"");
	expect(RUN("ghostctl", "--root", test_root, "status", "abc"), 2, "\"abc\"");
	expect(RUN("ghostctl", "--root", test_root, "status", "0"), 2, "\"0\"");
	expect(RUN("ghostctl", "--root", test_root, "status"), 2, "status");
	expect(RUN("ghostctl", "--root", test_root, "create"), 2, "--cpus");
	expect(RUN("ghostctl", "--root", test_root, "create", "--cpus", "1,,2"), 2, "1,,2");
	expect(RUN("ghostctl", "--root", test_root, "create", "--cpus", "0", "--id", "-3"), 2,
	       "\"-3\"");
	expect(RUN("ghostctl", "--kernel", "nope", "list"), 2, "\"nope\"");
	expect(RUN("ghostctl", "--root", test_root, "status", "42"), 1, "no enclave 42");
	expect(RUN("ghostctl", "--root", test_root, "run", "--enclave", "42"), 2, "--");
	/* Usage errors: one line, exit 2. Ids are 1..GHOST_ENCLAVE_ID_MAX, never wrapped. */
	expect_usage(RUN("ghostctl", "--root", test_root, "frobnicate"), "\"frobnicate\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "status", "-1"), "\"-1\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "status", "1099511627777"),
		     "\"1099511627777\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "status", "18446744073709551617"),
		     "\"18446744073709551617\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "status", " 5"), "\" 5\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "create", "--cpus", "0", "--id",
			 "1099511627777"),
		     "\"1099511627777\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "destroy", "+5"), "\"+5\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "tasks", "add", "5", "-1"), "\"-1\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "tasks", "add", "5", "2147483648"),
		     "\"2147483648\"");
}

static void ctl_round_trip(void)
{
	expect(RUN("ghostctl", "--root", test_root, "create", "--id", "5", "--cpus", "0"), 0, "5");
	expect(RUN("ghostctl", "--root", test_root, "create", "--id", "5", "--cpus", "0"), 1,
	       "taken");
	expect(RUN("ghostctl", "--root", test_root, "list"), 0, "enclave 5");
	expect(RUN("ghostctl", "--root", test_root, "status", "5"), 0, "active no");
	CHECK(strstr(out, "cpulist") && strstr(out, "nr_tasks 0"));
	expect(RUN("ghostctl", "--root", test_root, "set", "5", "deliver_ticks", "1"), 0, NULL);
	expect(RUN("ghostctl", "--root", test_root, "get", "5", "deliver_ticks"), 0, "1");
	expect(RUN("ghostctl", "--root", test_root, "set", "5", "deliver_ticks", "yes"), 2,
	       "bad value");
	expect(RUN("ghostctl", "--root", test_root, "set", "5", "status", "1"), 2, "not a tunable");
	expect(RUN("ghostctl", "--root", test_root, "cat", "5", "cpumask"), 0, "00000001");
	/* Unknown tunables and files are usage errors, for get, set and cat alike. */
	expect_usage(RUN("ghostctl", "--root", test_root, "cat", "5", "nonesuch"), "\"nonesuch\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "get", "5", "nonesuch"), "\"nonesuch\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "set", "5", "nonesuch", "1"),
		     "\"nonesuch\"");
	/* Tunable values past their bounds: refused, the value unchanged. */
	expect_usage(RUN("ghostctl", "--root", test_root, "set", "5", "runnable_timeout",
			 "9223372036854775807"),
		     "\"9223372036854775807\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "set", "5", "agent_timeout_ms",
			 "9223372036854775807"),
		     "\"9223372036854775807\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "set", "5", "runnable_timeout", "-1"),
		     "\"-1\"");
	expect(RUN("ghostctl", "--root", test_root, "get", "5", "runnable_timeout"), 0, NULL);
	CHECK_STR(out, "0\n");
	expect(RUN("ghostctl", "--root", test_root, "get", "5", "agent_timeout_ms"), 0, NULL);
	CHECK_STR(out, "500\n");
	expect(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region", "3", "0"), 0,
	       NULL);
	/* Runtime failures exit 1: the region exists; this backend has no node 5. */
	expect(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region", "3", "0"), 1,
	       "exists");
	expect(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region", "6", "5"), 1,
	       NULL);
	/* Region and node numbers are bounded, never wrapped: -1 is not region 4294967295. */
	expect_usage(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region", "-1",
			 "0"),
		     "\"-1\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region",
			 "4294967295", "0"),
		     "\"4294967295\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region", "64",
			 "0"),
		     "\"64\"");
	/* The same quoted as one argument (as the help's "discover tasks"): the number named. */
	expect_usage(RUN("ghostctl", "--root", test_root, "ctl", "5", "create sw_region 64 0"),
		     "bad region \"64\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "ctl", "5", "create sw_region 7 -2\n"),
		     "bad NUMA node \"-2\"");
	/* An option without its value, before or after the command; stray words. */
	expect_usage(RUN("ghostctl", "--root"), "--root needs a value");
	expect_usage(RUN("ghostctl", "--root", test_root, "list", "--kernel"),
		     "--kernel needs a value");
	expect_usage(RUN("ghostctl", "--root", test_root, "kernels", "extra"), "\"extra\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region", "6",
			 "-1"),
		     "\"-1\"");
	expect_usage(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region", "6",
			 "x"),
		     "\"x\"");
	expect(RUN("ghostctl", "--root", test_root, "cat", "5", "sw_4294967295"), 2, NULL);
	expect_usage(RUN("ghostctl", "--root", test_root, "ctl", "5", "explode"), "explode");
	expect(RUN("ghostctl", "--root", test_root, "tasks", "5"), 0, NULL);
	expect(RUN("ghostctl", "--root", test_root, "tasks", "add", "5", "1"), 1, "emu");
	/* A program for the interposer: first it waits for an agent, which enclave 5 has not (a
	 * build without the interposer, as the sanitizer builds, says so instead). */
	expect(RUN("ghostctl", "--root", test_root, "run", "--wait", "0", "--enclave", "5", "--",
		   "true"),
	       1, have_preload() ? "no agent" : "cannot find libghost-preload.so");
	expect(RUN("ghostctl", "--root", test_root, "kernels"), 0, "emu");
	expect(RUN("ghostctl", "--root", test_root, "destroy", "5"), 0, NULL);
	expect(RUN("ghostctl", "--root", test_root, "status", "5"), 1, "no enclave 5");
}

static void agent_lifecycle(void)
{
	const char *args[] = { "--policy",  test_ncpus() >= 2 ? "fifo-centralized" : "fifo-percpu",
			       "--cpus",    test_ncpus() >= 2 ? "0-1" : "0",
			       "--enclave", "9",
			       "--root",    test_root,
			       "--prio",    "normal",
			       "--stats",   "1",
			       NULL };
	char first[sizeof(out)];
	int fd, rc;
	pid_t pid = spawn_tool("ghost-agent", args, &fd);

	usleep(1500000); /* at least one stats line */
	/* A second agent for the same enclave is refused. */
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--attach", "9", "--root", test_root),
	       1, "already has an agent");
	expect(RUN("ghostctl", "--root", test_root, "status", "9"), 0, "active yes");
	kill(pid, SIGTERM);
	rc = finish(pid, fd);
	memcpy(first, out, sizeof(out));
	CHECK_MSG(rc == 0, "agent exit %d: %s", rc, first);
	CHECK_MSG(strstr(first, "stats: tasks") != NULL, "no stats line in: %s", first);
	CHECK_MSG(strstr(first, "summary: tasks") != NULL, "no summary in: %s", first);
	CHECK_MSG(strstr(first, "destroyed") != NULL, "%s", first);
	expect(RUN("ghostctl", "--root", test_root, "status", "9"), 1, "no enclave 9");
}

/* A namespace root of its own under the test root, for a test that wants its own enclave ids. */
static const char *sub_root(const char *name)
{
	static char dirs[8][600];
	static int n;
	char *dir;

	CHECK(n < 8);
	dir = dirs[n++];
	snprintf(dir, sizeof(dirs[0]), "%s/%s", test_root, name);
	CHECK_MSG(mkdir(dir, 0700) == 0, "%s: %s", dir, strerror(errno));
	return dir;
}

/* An agent for enclave id of root, FIFO per CPU over cpus, normal priority, quiet. */
static pid_t spawn_agent(const char *root, const char *id, const char *cpus, int *fd)
{
	const char *args[] = { "--policy", "fifo-percpu", "--cpus", cpus,     "--enclave", id,
			       "--root",   root,	  "--prio", "normal", "--quiet",   NULL };

	return spawn_tool("ghost-agent", args, fd);
}

/* SIGINT to the agent: it must exit 0; its output is in out. */
static void stop_agent(pid_t pid, int fd)
{
	int rc;

	kill(pid, SIGINT);
	rc = finish(pid, fd);
	CHECK_MSG(rc == 0, "agent exit %d: %s", rc, out);
}

/*
 * The by-hand order of the README, at once: the workload (and `ghostctl run`) started
 * before the agent, which comes 300 ms later, wait for its enclave with the default
 * --wait and then run under it.
 */
static void wait_for_agent(void)
{
	const char *root = sub_root("late");
	bool two = test_ncpus() >= 2;
	const char *wl_args[] = { "--enclave",	   "1",		"--root", root,		"--threads",
				  two ? "2" : "1", "--pattern", "spin",	  "--duration", "0.5",
				  "--json",	   NULL };
	const char *run_args[] = { "--root", root, "run", "--enclave", "1", "--", "true", NULL };
	char wl_out[sizeof(out)];
	int wl_fd, run_fd, agent_fd, rc;
	pid_t wl, run_pid, agent;

	wl = spawn_tool("ghost-workload", wl_args, &wl_fd);
	run_pid = spawn_tool("ghostctl", run_args, &run_fd);
	usleep(300000);
	agent = spawn_agent(root, "1", two ? "0-1" : "0", &agent_fd);
	rc = finish(wl, wl_fd);
	memcpy(wl_out, out, sizeof(out));
	CHECK_MSG(rc == 0, "workload started before the agent: exit %d: %s", rc, wl_out);
	CHECK_MSG(strstr(wl_out, "\"no_cpu_threads\":0") && test_json_num(wl_out, "work_units") > 0,
		  "%s", wl_out);
	/* It waited for the enclave and its agent, then ran the program under the interposer. */
	rc = finish(run_pid, run_fd);
	if (have_preload())
		CHECK_MSG(rc == 0 && !strstr(out, "no enclave"),
			  "ghostctl run started before the agent: exit %d: %s", rc, out);
	else
		CHECK_MSG(rc == 1 && strstr(out, "cannot find libghost-preload.so"),
			  "ghostctl run started before the agent, no interposer in this build: "
			  "exit %d: %s",
			  rc, out);
	stop_agent(agent, agent_fd);
}

/* No enclave, or no agent, within --wait: exit 1, one line with the wait and the way out. */
static void wait_elapses(void)
{
	const char *root = sub_root("none");
	int64_t t0;

	t0 = ghost_now_ns();
	expect(RUN("ghost-workload", "--enclave", "7", "--root", root, "--threads", "1",
		   "--pattern", "spin", "--duration", "1", "--wait", "0.3"),
	       1, "no enclave 7 on the emu kernel after waiting 0.3 s");
	CHECK_MSG(ghost_now_ns() - t0 >= 300000000, "gave up before 0.3 s: %s", out);
	CHECK_MSG(strstr(out, "ghost-agent --enclave 7 --policy fifo-percpu --root ") && one_line(),
		  "%s", out);
	expect(RUN("ghost-workload", "--enclave", "7", "--root", root, "--threads", "1",
		   "--pattern", "spin", "--duration", "1", "--wait", "0"),
	       1, "no enclave 7");
	CHECK_MSG(!strstr(out, "waiting") && one_line(), "%s", out);
	expect(RUN("ghostctl", "--root", root, "run", "--wait", "0.2", "--enclave", "7", "--",
		   "true"),
	       1, "no enclave 7 on the emu kernel after waiting 0.2 s");
	CHECK_MSG(strstr(out, "ghost-agent --enclave 7") && one_line(), "%s", out);
	/* An enclave nobody serves: its threads would never run. */
	expect(RUN("ghostctl", "--root", root, "create", "--id", "7", "--cpus", "0"), 0, "7");
	expect(RUN("ghost-workload", "--enclave", "7", "--root", root, "--threads", "1",
		   "--pattern", "spin", "--duration", "1", "--wait", "0.3"),
	       1, "enclave 7 on the emu kernel has no agent after waiting 0.3 s");
	CHECK_MSG(strstr(out, "ghost-agent --attach 7") && one_line(), "%s", out);
	expect(RUN("ghostctl", "--root", root, "destroy", "7"), 0, NULL);
	/* Bad waits: usage errors. */
	expect_usage(RUN("ghost-workload", "--enclave", "7", "--threads", "1", "--pattern", "spin",
			 "--duration", "1", "--wait", "-1"),
		     "--wait '-1'");
	expect_usage(RUN("ghost-workload", "--enclave", "7", "--threads", "1", "--pattern", "spin",
			 "--duration", "1", "--wait", "soon"),
		     "--wait 'soon'");
	expect_usage(RUN("ghostctl", "--root", root, "run", "--wait", "-1", "--enclave", "7", "--",
			 "true"),
		     "--wait \"-1\"");
	expect_usage(RUN("ghostctl", "--root", root, "run", "--wait", "1e9", "--enclave", "7", "--",
			 "true"),
		     "--wait \"1e9\"");
	expect(RUN("ghostctl", "--help"), 0, "run [--wait S]");
	expect(RUN("ghost-workload", "--help"), 0, "--wait S");
}

/*
 * A thread that had work and never ran fails the run: FIFO per CPU runs the first of two
 * spinners on its one CPU to the end of the run, the other never. rpc workers that nobody
 * hands a request (50 requests/s for four) go without the CPU and that is fine.
 */
static void no_cpu(void)
{
	const char *root = sub_root("starve");
	char json[sizeof(out)];
	int agent_fd, rc;
	pid_t agent = spawn_agent(root, "1", "0", &agent_fd);

	rc = RUN("ghost-workload", "--enclave", "1", "--root", root, "--threads", "2", "--pattern",
		 "spin", "--duration", "0.5", "--json");
	memcpy(json, out, sizeof(out));
	CHECK_MSG(rc == 1, "a starved spinner: exit %d: %s", rc, json);
	CHECK_MSG(strstr(json, "1 of 2 threads got no CPU time") &&
			  strstr(json, "\"no_cpu_threads\":1") &&
			  strstr(json, "\"per_thread_min\":0,"),
		  "%s", json);
	rc = RUN("ghost-workload", "--enclave", "1", "--root", root, "--threads", "4", "--pattern",
		 "rpc", "--rate", "50", "--duration", "0.5", "--json");
	memcpy(json, out, sizeof(out));
	CHECK_MSG(rc == 0 && strstr(json, "\"no_cpu_threads\":0"), "idle rpc workers: exit %d: %s",
		  rc, json);
	rc = RUN("ghost-workload", "--enclave", "1", "--root", root, "--threads", "2", "--pattern",
		 "block-wake", "--duration", "0.5", "--json");
	memcpy(json, out, sizeof(out));
	CHECK_MSG(rc == 0 && strstr(json, "\"no_cpu_threads\":0"), "block-wake: exit %d: %s", rc,
		  json);
	stop_agent(agent, agent_fd);
}

/* The README block's process group while it runs: killed if the test fails meanwhile. */
static pid_t readme_group;

static void kill_readme_group(void)
{
	if (readme_group > 0)
		kill(-readme_group, SIGKILL);
}

/*
 * The README's block "Running it by hand", run by bash as one piece: build/bin/ becomes
 * the tools' directory, the build step goes, the runs are 1 s instead of 10, and the
 * enclaves live in a root of their own ($GHOST_EMU_ROOT). Everything must work: the
 * workload (started right after the agent) reports, ghostctl shows the enclave served,
 * and the agent is stopped within the block.
 */
static void readme_by_hand(void)
{
	static char script[8192];
	char text[16384], line[1024], *p, *from, *end;
	const char *root;
	size_t len = 0;
	FILE *f = fopen("README.md", "r");
	int rc;
	pid_t pid;

	if (!f || test_ncpus() < 2) {
		printf("readme_by_hand: %s: not checked\n",
		       f ? "needs 2 CPUs" : "no README.md here");
		if (f)
			fclose(f);
		return;
	}
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	from = strstr(text, "## Running it by hand");
	CHECK_MSG(from && (from = strstr(from, "```sh\n")), "no by-hand block in README.md");
	from += strlen("```sh\n");
	end = strstr(from, "```");
	CHECK(end);
	*end = '\0';
	for (char *l = strtok(from, "\n"); l; l = strtok(NULL, "\n")) {
		if (!strcmp(l, "make"))
			continue;
		line[0] = '\0';
		for (; (p = strstr(l, "build/bin/")); l = p + strlen("build/bin/"))
			snprintf(line + strlen(line), sizeof(line) - strlen(line), "%.*s%s/",
				 (int)(p - l), l, GHOST_BIN_DIR);
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s", l);
		if ((p = strstr(line, "--duration 10")))
			memmove(p + strlen("--duration 1"), p + strlen("--duration 10"),
				strlen(p + strlen("--duration 10")) + 1);
		len += (size_t)snprintf(script + len, sizeof(script) - len, "%s\n", line);
		CHECK(len < sizeof(script));
	}
	root = sub_root("readme");
	snprintf(line, sizeof(line), "%s/readme.out", root);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(line, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		setpgid(0, 0);
		setenv("GHOST_EMU_ROOT", root, 1);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("bash", "bash", "-c", script, (char *)NULL);
		_exit(126);
	}
	setpgid(pid, pid);
	readme_group = pid;
	atexit(kill_readme_group);
	test_track_child(pid);
	rc = test_wait_exit(pid, 60000);
	readme_group = 0;
	test_read_file(line, out, sizeof(out));
	CHECK_MSG(rc == 0, "the README block exited %d:\n%s\n%s", rc, script, out);
	CHECK_MSG(strstr(out, "ghost-workload: rpc, 4 ghost threads in enclave 1") &&
			  strstr(out, "active yes") && strstr(out, "summary:") &&
			  !strstr(out, "ghost-workload: warning") && !strstr(out, "no CPU") &&
			  !strstr(out, "no enclave"),
		  "the README block:\n%s\n%s", script, out);
}

/* --keep leaves the enclave for the next agent, and says so only because it is still there. */
static void agent_keep(void)
{
	const char *args[] = { "--policy", "fifo-percpu", "--cpus",  "0",      "--enclave",
			       "11",	   "--root",	  test_root, "--prio", "normal",
			       "--keep",   "--quiet",	  NULL };
	int fd, rc;
	pid_t pid = spawn_tool("ghost-agent", args, &fd);

	usleep(1000000);
	kill(pid, SIGINT);
	rc = finish(pid, fd);
	CHECK_MSG(rc == 0, "agent exit %d: %s", rc, out);
	CHECK_MSG(strstr(out, "enclave 11 kept for the next agent") != NULL, "%s", out);
	expect(RUN("ghostctl", "--root", test_root, "list"), 0, "enclave 11");
	expect(RUN("ghostctl", "--root", test_root, "destroy", "11"), 0, NULL);
	expect(RUN("ghostctl", "--root", test_root, "status", "11"), 1, "no enclave 11");
}

/* The line of `ghostctl kernels` (in out) for the backend name, copied into line. */
static bool kernels_line(const char *name, char *line, size_t size)
{
	size_t n = strlen(name);

	for (const char *p = out; *p;) {
		size_t len = strcspn(p, "\n");

		if (len > n && !strncmp(p, name, n) && p[n] == ' ') {
			snprintf(line, size, "%.*s", (int)len, p);
			return true;
		}
		p += len;
		if (*p)
			p++;
	}
	return false;
}

/*
 * The sched_ext backend where it cannot run. A build without it (no SCX=1) says so whatever
 * the kernel; a build with it says the kernel has no sched_ext, which holds only where
 * /sys/kernel/sched_ext is missing: elsewhere (a sched_ext kernel) it may well run, and
 * nothing is asserted.
 */
static void scx_absent(void)
{
#ifdef GHOST_HAVE_SCX
	static const char why[] = "has no sched_ext";

	if (access("/sys/kernel/sched_ext", F_OK) == 0) {
		printf("scx_absent: /sys/kernel/sched_ext exists here: the sched_ext backend may "
		       "run, not checked\n");
		return;
	}
#else
	static const char why[] = "this build has no sched_ext backend";
#endif
	char line[1024];
	int rc;

	expect(RUN("ghostctl", "--root", test_root, "kernels"), 0, "scx");
	CHECK_MSG(kernels_line("scx", line, sizeof(line)), "no line for scx in: %s", out);
	CHECK_MSG(strstr(line, " absent ") != NULL, "scx is not listed as absent: %s", line);
	CHECK_MSG(strstr(line, why) != NULL, "no \"%s\" in: %s", why, line);
	rc = RUN("ghost-agent", "--kernel", "scx", "--policy", "fifo-percpu", "--cpus", "0");
	CHECK_MSG(rc != 0 && rc < 128,
		  "ghost-agent --kernel scx: exit %d, wanted a failure; "
		  "output: %s",
		  rc, out);
	CHECK_MSG(strstr(out, why) != NULL, "no \"%s\" in: %s", why, out);
	/* Every ghostctl command on it: one line why, exit 1, never a crash (list used to
	 * call an op the stand-in does not have). */
	expect(RUN("ghostctl", "--root", test_root, "--kernel", "scx", "list"), 1, why);
	expect(RUN("ghostctl", "--root", test_root, "--kernel", "scx", "status", "1"), 1, why);
	/* A backend name that does not exist, in the option or in GHOST_KERNEL: exit 2, listed. */
	expect(RUN("ghostctl", "--root", test_root, "--kernel", "nope", "list"), 2,
	       "known: emu, scx, ghostfs");
	setenv("GHOST_KERNEL", "emux", 1);
	expect(RUN("ghostctl", "--root", test_root, "list"), 2, "(from GHOST_KERNEL)");
	/* ghost-workload without --kernel checks GHOST_KERNEL too (it said "the (null) kernel
	 * cannot run here: Invalid argument", exit 1). */
	expect_usage(RUN("ghost-workload", "--root", test_root, "--enclave", "1", "--wait", "0",
			 "--threads", "1", "--pattern", "spin", "--duration", "0.1"),
		     "(from GHOST_KERNEL)");
	CHECK_MSG(!strstr(out, "(null)"), "%s", out);
	unsetenv("GHOST_KERNEL");
}

/*
 * More enclaves than a table of 256 ids: `ghostctl create` without an id hands out a new id,
 * with the id of a live enclave it fails, and no live enclave is reset. The first 257 are
 * made through the library (faster than a process each), each without CPUs so that the
 * next can have CPU 0, and marked: tick_us = 1000 + id.
 */
static void ctl_many_enclaves(void)
{
	struct ghost_cpuset cpu0;
	char mark[32];

	ghost_cpuset_zero(&cpu0);
	ghost_cpuset_set(&cpu0, 0);
	for (int i = 1; i <= 257; i++) {
		struct ghost_enclave_opts o = {
			.sz = sizeof(o), .root = test_root, .cpus = &cpu0, .max_tasks = 16
		};
		struct ghost_enclave *e;

		CHECK_OK(ghost_enclave_create(&o, &e));
		CHECK_OK(ghost_enclave_write_file(e, "cpulist", ""));
		snprintf(mark, sizeof(mark), "%llu",
			 1000 + (unsigned long long)ghost_enclave_id(e));
		CHECK_OK(ghost_enclave_write_file(e, "tick_us", mark));
		ghost_enclave_close(e);
	}
	expect(RUN("ghostctl", "--root", test_root, "create", "--cpus", "0"), 0, NULL);
	CHECK_STR(out, "258\n");
	expect(RUN("ghostctl", "--root", test_root, "create", "--id", "3", "--cpus", "1"), 1,
	       "taken");
	expect(RUN("ghostctl", "--root", test_root, "create", "--id", "257", "--cpus", "1"), 1,
	       "taken");
	expect(RUN("ghostctl", "--root", test_root, "create", "--id", "258", "--cpus", "1"), 1,
	       "taken");
	/* The live ones are as they were. */
	for (int id = 1; id <= 257; id += 64) {
		char idtext[16];

		snprintf(idtext, sizeof(idtext), "%d", id);
		snprintf(mark, sizeof(mark), "%d\n", 1000 + id);
		expect(RUN("ghostctl", "--root", test_root, "get", idtext, "tick_us"), 0, NULL);
		CHECK_MSG(!strcmp(out, mark), "enclave %d was reset: tick_us %s", id, out);
		expect(RUN("ghostctl", "--root", test_root, "get", idtext, "cpulist"), 0, NULL);
		CHECK_MSG(!strcmp(out, "\n"), "enclave %d was reset: cpulist %s", id, out);
	}
	expect(RUN("ghostctl", "--root", test_root, "get", "257", "tick_us"), 0, "1257");
	expect(RUN("ghostctl", "--root", test_root, "list"), 0, "enclave 258 ");
	{
		int lines = 0;

		for (const char *p = out; (p = strchr(p, '\n')); p++)
			lines++;
		CHECK_MSG(lines == 258, "%d enclaves listed: %s", lines, out);
	}
	expect(RUN("ghostctl", "--root", test_root, "destroy", "258"), 0, NULL);
}

/*
 * SIGINT at any moment of an agent's life ends it: right after the start (before or
 * while the enclave and agents are set up), and twice in a row (the second lands during
 * the shutdown). Either the agent caught it and exits 0 with its summary, or it came
 * before the program's first instruction and the default action ended it; it never
 * runs on.
 */
static void early_signals(void)
{
	static const int delays_us[] = { 0, 200, 1000, 3000, 10000, 30000, 100000, 300000 };
	const char *root = sub_root("early");
	char id[16];

	for (unsigned i = 0; i < 2 * sizeof(delays_us) / sizeof(delays_us[0]); i++) {
		bool twice = i % 2;
		int fd, rc;
		pid_t pid;

		snprintf(id, sizeof(id), "%u", i + 1);
		pid = spawn_agent(root, id, "0", &fd);
		usleep((useconds_t)delays_us[i / 2]);
		kill(pid, SIGINT);
		if (twice) {
			usleep(1000);
			kill(pid, SIGINT);
		}
		rc = test_wait_exit(pid, 10000);
		finish_output(fd);
		CHECK_MSG(rc == 0 || rc == 128 + SIGINT, "SIGINT after %d us%s: exit %d: %s",
			  delays_us[i / 2], twice ? ", twice" : "", rc, out);
		CHECK_MSG(rc != 0 || strstr(out, "summary:") || !strstr(out, "agents "),
			  "SIGINT after %d us%s: no summary: %s", delays_us[i / 2],
			  twice ? ", twice" : "", out);
	}
}

int main(void)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/ghostctl", GHOST_BIN_DIR);
	if (access(path, X_OK)) {
		printf("no %s: build the tools first\n", path);
		return TEST_SKIP;
	}
	test_root_make();
	agent_args();
	ctl_args();
	ctl_round_trip();
	agent_lifecycle();
	agent_keep();
	wait_for_agent();
	wait_elapses();
	no_cpu();
	readme_by_hand();
	scx_absent();
	ctl_many_enclaves();
	early_signals();
	return 0;
}
