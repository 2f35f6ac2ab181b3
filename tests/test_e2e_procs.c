/*
 * tests/test_e2e_procs.c - the deployment shape: ghost-agent in its own
 * process, application threads in others, on the embedded kernel.
 *
 * Checks: two application processes share one enclave and all their tasks
 * finish; the switch trace shows no CPU running two tasks and no task on two
 * CPUs; the agent saw every TASK_NEW matched by TASK_DEAD/DEPARTED and no
 * sequence-number error; SIGTERM or SIGKILL of the agent mid-run leaves no
 * task behind; a replacement agent takes a live enclave over.
 *
 * The same binary is the application: `test_e2e_procs app ROOT ID THREADS ROUNDS`.
 */
#include "emu_helpers.h"

#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#ifndef GHOST_BIN_DIR
#define GHOST_BIN_DIR "build/bin"
#endif

static char self_exe[512];

/* ---- the application role ---- */

static int app_rounds;
static atomic_int app_done;

static void *app_task(void *arg)
{
	(void)arg;
	for (int i = 0; i < app_rounds; i++) {
		int64_t until = ghost_now_ns() + 1000000; /* 1 ms of work */

		while (ghost_now_ns() < until)
			;
		ghost_sleep_ns(1000000);
	}
	atomic_fetch_add(&app_done, 1);
	return NULL;
}

static int app_main(char **argv)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o), .root = argv[0] };
	int n = atoi(argv[2]), entered = 0;
	struct ghost_thread *t[64];
	struct ghost_enclave *e;

	app_rounds = atoi(argv[3]);
	o.id = strtoull(argv[1], NULL, 10);
	if (ghost_enclave_attach(&o, &e))
		return 3;
	for (int i = 0; i < n && i < 64; i++)
		if (ghost_thread_create(e, &t[i], app_task, NULL))
			return 4;
	for (int i = 0; i < n && i < 64; i++)
		entered += ghost_thread_join(t[i], NULL) == 0;
	printf("done %d entered %d\n", atomic_load(&app_done), entered);
	ghost_enclave_close(e);
	return atomic_load(&app_done) == n ? 0 : 5;
}

/* ---- helpers of the driver ---- */

static pid_t spawn(char *const argv[], const char *out_path)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		if (out_path) {
			int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(126);
	}
	test_track_child(pid);
	return pid;
}

/* Says where each thread of a process that did not end is: its state and kernel wait. */
static void describe_threads(pid_t pid)
{
	char path[320], stat[512], wchan[128];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		stat[0] = wchan[0] = 0;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, d->d_name);
		if ((f = fopen(path, "r"))) {
			if (!fgets(stat, sizeof(stat), f))
				stat[0] = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%s/wchan", (int)pid, d->d_name);
		if ((f = fopen(path, "r"))) {
			if (!fgets(wchan, sizeof(wchan), f))
				wchan[0] = 0;
			fclose(f);
		}
		stat[strcspn(stat, "\n")] = 0;
		fprintf(stderr, "  pid %d thread %s: wchan %s; stat %.120s\n", (int)pid, d->d_name,
			wchan, stat);
	}
	closedir(dir);
}

/* Exit status of pid, or -1 if it did not end within timeout_ms (its threads described). */
static int wait_for(pid_t pid, int timeout_ms)
{
	int status;

	for (int i = 0; i < timeout_ms / 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	describe_threads(pid);
	return -1;
}

static pid_t start_agent(const char *policy, uint64_t id, bool attach, const char *out)
{
	char idbuf[32], agent[600];
	char *argv[16];
	int a = 0;

	snprintf(agent, sizeof(agent), "%s/ghost-agent", GHOST_BIN_DIR);
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)id);
	argv[a++] = agent;
	argv[a++] = "--policy";
	argv[a++] = (char *)policy;
	argv[a++] = attach ? "--attach" : "--enclave";
	argv[a++] = idbuf;
	if (!attach) {
		argv[a++] = "--cpus";
		argv[a++] = test_ncpus() >= 2 ? "0-1" : "0";
	}
	argv[a++] = "--root";
	argv[a++] = test_root;
	argv[a++] = "--prio";
	argv[a++] = "normal";
	argv[a] = NULL;
	return spawn(argv, out);
}

/* Waits until the enclave exists and has an agent online. */
static struct ghost_enclave *wait_online(uint64_t id)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o), .root = test_root, .id = id };
	struct ghost_enclave *e = NULL;
	char buf[16];

	for (int i = 0; i < 500; i++) {
		if (!e && ghost_enclave_attach(&o, &e))
			e = NULL;
		if (e && ghost_enclave_read_file(e, "agent_online", buf, sizeof(buf)) > 0 &&
		    buf[0] == '1')
			return e;
		usleep(10000);
	}
	FAIL("enclave %llu never got an agent", (unsigned long long)id);
}

static pid_t start_app(uint64_t id, int threads, int rounds)
{
	char idbuf[32], tbuf[16], rbuf[16];
	char *argv[] = { self_exe, "app", test_root, idbuf, tbuf, rbuf, NULL };

	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)id);
	snprintf(tbuf, sizeof(tbuf), "%d", threads);
	snprintf(rbuf, sizeof(rbuf), "%d", rounds);
	return spawn(argv, NULL);
}

/* The agent's summary line: TASK_NEWs all ended, no seqnum error. */
static void check_summary(const char *path, bool complete)
{
	char text[8192] = "";
	FILE *f = fopen(path, "r");
	const char *sum;
	size_t n;

	CHECK(f != NULL);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	sum = strstr(text, "summary:");
	CHECK_MSG(sum != NULL, "no summary in the agent's output: %s", text);
	CHECK_EQ(counter_after(sum, "seqnum_errors "), 0);
	CHECK_EQ(counter_after(sum, "bad_msgs "), 0);
	if (complete)
		CHECK_EQ(counter_after(sum, " new "),
			 counter_after(sum, " dead ") + counter_after(sum, " departed "));
}

/* ---- scenarios ---- */

static void two_apps(const char *policy, uint64_t id)
{
	char out[512];
	struct ghost_enclave *e;
	struct emu_shared *sh;
	size_t size;
	pid_t agent, a1, a2;

	snprintf(out, sizeof(out), "%s/agent-%llu.out", test_root, (unsigned long long)id);
	agent = start_agent(policy, id, false, out);
	e = wait_online(id);
	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	a1 = start_app(id, 8, 20);
	a2 = start_app(id, 8, 20);
	CHECK_EQ(wait_for(a1, 60000), 0);
	CHECK_EQ(wait_for(a2, 60000), 0);
	sh = test_emu_state(id, &size);
	/* 16 tasks x 21 runs each at least. */
	CHECK(test_check_trace(sh) >= 16 * 21);
	for (int i = 0; i < 200 && sh->nr_tasks; i++)
		usleep(10000);
	CHECK_EQ(sh->nr_tasks, 0);
	munmap(sh, size);
	usleep(100000); /* the last TASK_DEADs reach the agent */
	kill(agent, SIGTERM);
	CHECK_EQ(wait_for(agent, 10000), 0);
	check_summary(out, true);
	ghost_enclave_close(e);
}

static void agent_dies(int sig, uint64_t id)
{
	char out[512];
	struct ghost_enclave *e;
	pid_t agent, app;
	int64_t t0;

	snprintf(out, sizeof(out), "%s/agent-%llu.out", test_root, (unsigned long long)id);
	agent = start_agent("fifo-percpu", id, false, out);
	e = wait_online(id);
	app = start_app(id, 8, 400); /* about 0.8 s of work each, more than we wait */
	usleep(300000);
	t0 = ghost_now_ns();
	kill(agent, sig);
	CHECK_EQ(wait_for(agent, 10000), sig == SIGKILL ? 128 + SIGKILL : 0);
	/* Every task finishes, scheduled or not. */
	CHECK_EQ(wait_for(app, 30000), 0);
	printf("agent killed with signal %d: the application finished %.2f s later\n", sig,
	       (double)(ghost_now_ns() - t0) / 1e9);
	ghost_enclave_close(e);
	{
		struct ghost_enclave_opts o = { .sz = sizeof(o), .root = test_root, .id = id };
		struct ghost_enclave *gone;

		/* SIGTERM destroys it at once; SIGKILL leaves it to the watchdog. */
		CHECK_ERR(ghost_enclave_attach(&o, &gone), ENOENT);
	}
}

static void take_over(uint64_t id)
{
	char out1[512], out2[512];
	struct ghost_enclave *e;
	struct emu_shared *sh;
	size_t size;
	pid_t a1, a2, app;

	snprintf(out1, sizeof(out1), "%s/agent-%llu-a.out", test_root, (unsigned long long)id);
	snprintf(out2, sizeof(out2), "%s/agent-%llu-b.out", test_root, (unsigned long long)id);
	a1 = start_agent("fifo-percpu", id, false, out1);
	e = wait_online(id);
	/* Long enough for the replacement to arrive before the watchdog acts. */
	CHECK_OK(ghost_enclave_write_file(e, "agent_timeout_ms", "20000"));
	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	app = start_app(id, 8, 300);
	usleep(200000);
	kill(a1, SIGKILL);
	CHECK_EQ(wait_for(a1, 10000), 128 + SIGKILL);
	usleep(100000);
	a2 = start_agent("fifo-percpu", id, true, out2);
	CHECK_EQ(wait_for(app, 60000), 0);
	sh = test_emu_state(id, &size);
	test_check_trace(sh);
	munmap(sh, size);
	usleep(100000);
	kill(a2, SIGTERM);
	CHECK_EQ(wait_for(a2, 10000), 0);
	check_summary(out2, false);
	{
		char text[8192] = "";
		FILE *f = fopen(out2, "r");
		size_t n = fread(text, 1, sizeof(text) - 1, f);

		fclose(f);
		text[n] = 0;
		/* It learned about the live tasks through discovery. */
		CHECK_MSG(counter_after(strstr(text, "summary:"), " new ") >= 1, "%s", text);
	}
	ghost_enclave_close(e);
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "app"))
		return app_main(argv + 2);
	CHECK(readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1) > 0);
	{
		char agent[600];

		snprintf(agent, sizeof(agent), "%s/ghost-agent", GHOST_BIN_DIR);
		if (access(agent, X_OK)) {
			printf("no %s: build the tools first\n", agent);
			return TEST_SKIP;
		}
	}
	test_root_make();
	two_apps("fifo-percpu", 21);
	two_apps("fifo-centralized", 22);
	two_apps("shinjuku", 26);
	agent_dies(SIGTERM, 23);
	agent_dies(SIGKILL, 24);
	take_over(25);
	return 0;
}
