/*
 * tests/test_tools.c - ghost-agent and ghostctl as a user drives them.
 *
 * Checks: --help exits 0; every bad argument exits 2 with a message that
 * names it; setup errors exit 1 with one line saying why; ghostctl's
 * create / list / status / get / set / cat / ctl / tasks / destroy round
 * trip; ghost-agent starts, serves, and shuts down cleanly on SIGTERM; where
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
	expect(RUN("ghost-agent", "--policy", "fifo-centralized", "--cpus", "0", "--time-slice",
		   "50"), 2, "at least 2 CPUs");
	if (test_ncpus() >= 2)
		expect(RUN("ghost-agent", "--policy", "shinjuku", "--cpus", "0-1", "--global-cpu",
			   "5"), 2, "--global-cpu 5");
	/* Setup errors: exit 1 with the reason. */
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--kernel", "ghostfs", "--cpus", "0"),
	       1, "ghostfs");
	expect(RUN("ghost-agent", "--policy", "fifo-percpu", "--attach", "77", "--root", test_root),
	       1, "77");
}

static void ctl_args(void)
{
	expect(RUN("ghostctl", "--help"), 0, "create");
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
	expect(RUN("ghostctl", "--root", test_root, "set", "5", "status", "1"), 2,
	       "not a tunable");
	expect(RUN("ghostctl", "--root", test_root, "cat", "5", "cpumask"), 0, "00000001");
	expect(RUN("ghostctl", "--root", test_root, "cat", "5", "nonesuch"), 1, "no such file");
	expect(RUN("ghostctl", "--root", test_root, "ctl", "5", "create", "sw_region", "3", "0"),
	       0, NULL);
	expect(RUN("ghostctl", "--root", test_root, "ctl", "5", "explode"), 2, "explode");
	expect(RUN("ghostctl", "--root", test_root, "tasks", "5"), 0, NULL);
	expect(RUN("ghostctl", "--root", test_root, "tasks", "add", "5", "1"), 1, "emu");
	expect(RUN("ghostctl", "--root", test_root, "run", "--enclave", "5", "--", "true"), 1,
	       "libghost");
	expect(RUN("ghostctl", "--root", test_root, "kernels"), 0, "emu");
	expect(RUN("ghostctl", "--root", test_root, "destroy", "5"), 0, NULL);
	expect(RUN("ghostctl", "--root", test_root, "status", "5"), 1, "no enclave 5");
}

static void agent_lifecycle(void)
{
	const char *args[] = { "--policy", test_ncpus() >= 2 ? "fifo-centralized" : "fifo-percpu",
			       "--cpus", test_ncpus() >= 2 ? "0-1" : "0", "--enclave", "9",
			       "--root", test_root, "--prio", "normal", "--stats", "1", NULL };
	char first[sizeof(out)];
	int fd, rc;
	pid_t pid = spawn_tool("ghost-agent", args, &fd);

	usleep(1500000);	/* at least one stats line */
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

/* --keep leaves the enclave for the next agent, and says so only because it is still there. */
static void agent_keep(void)
{
	const char *args[] = { "--policy", "fifo-percpu", "--cpus", "0", "--enclave", "11",
			       "--root", test_root, "--prio", "normal", "--keep", "--quiet", NULL };
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
	CHECK_MSG(rc != 0 && rc < 128, "ghost-agent --kernel scx: exit %d, wanted a failure; "
		  "output: %s", rc, out);
	CHECK_MSG(strstr(out, why) != NULL, "no \"%s\" in: %s", why, out);
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
	scx_absent();
	return 0;
}
