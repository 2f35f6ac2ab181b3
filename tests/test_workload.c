/*
 * test_workload.c - ghost-workload's command line, as a user runs it.
 *
 * Owns running the built binary (fork/exec, stdout and stderr captured
 * through pipes, a hard time limit) and checking what comes back: --help,
 * every kind of bad argument (exit 2, one line naming the argument; --wait
 * too), short --no-ghost runs of each pattern with their --json output parsed
 * and its numbers checked for sanity (every worker got the CPU:
 * no_cpu_threads 0), and the "no enclave" setup error (exit 1, one line, at
 * once with --wait 0, after the wait otherwise). Runs against a real agent
 * are test_tools.c's.
 */
#include "test.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef GHOST_BIN_DIR
#define GHOST_BIN_DIR "build/bin"
#endif

#define TOOL	    GHOST_BIN_DIR "/ghost-workload"
#define RUN_LIMIT_S 20
#define MAX_ARGS    32

struct output {
	int status; /* exit code, or 128 + signal */
	char out[65536];
	char err[16384];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void child_exec(const char *const *args, int out_fd, int err_fd)
{
	char *argv[MAX_ARGS + 2];
	int n = 0;

	argv[n++] = (char *)TOOL;
	for (; args[n - 1] && n <= MAX_ARGS; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	execv(TOOL, argv);
	_exit(127);
}

/* Reads whatever fd has into buf (keeping it NUL-terminated); false at EOF. */
static bool drain(int fd, char *buf, size_t cap, size_t *len)
{
	char scratch[4096];
	ssize_t n = read(fd, scratch, sizeof(scratch));
	size_t room;

	if (n <= 0)
		return n < 0 && errno == EINTR;
	room = cap - 1 - *len;
	if ((size_t)n < room)
		room = (size_t)n;
	memcpy(buf + *len, scratch, room);
	*len += room;
	buf[*len] = '\0';
	return true;
}

static void collect(pid_t pid, int out_fd, int err_fd, struct output *o)
{
	struct pollfd fds[2] = { { .fd = out_fd, .events = POLLIN },
				 { .fd = err_fd, .events = POLLIN } };
	size_t out_len = 0, err_len = 0;
	int64_t deadline = mono_ms() + RUN_LIMIT_S * 1000;
	int open_fds = 2, ws;

	while (open_fds) {
		int left = (int)(deadline - mono_ms());

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &ws, 0);
			FAIL("ghost-workload ran longer than %d s; stderr so far: %s", RUN_LIMIT_S,
			     o->err);
		}
		if (poll(fds, 2, left) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			bool more;

			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			more = i ? drain(err_fd, o->err, sizeof(o->err), &err_len)
				 : drain(out_fd, o->out, sizeof(o->out), &out_len);
			if (!more) {
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	CHECK_EQ(waitpid(pid, &ws, 0), pid);
	o->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Runs ghost-workload with the NULL-terminated args; fills *o. */
static void run(struct output *o, const char *const *args)
{
	int out_pipe[2], err_pipe[2];
	pid_t pid;

	memset(o, 0, sizeof(*o));
	CHECK_OK(pipe2(out_pipe, O_CLOEXEC));
	CHECK_OK(pipe2(err_pipe, O_CLOEXEC));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		child_exec(args, out_pipe[1], err_pipe[1]);
	close(out_pipe[1]);
	close(err_pipe[1]);
	collect(pid, out_pipe[0], err_pipe[0], o);
	close(out_pipe[0]);
	close(err_pipe[0]);
}

#define RUN(o, ...) run((o), (const char *const[]){ __VA_ARGS__, NULL })

/* ---- a small JSON checker: is the text one well-formed value? ---- */

static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\' && !*++p)
			return NULL;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p)
{
	char *end;

	if (!(*p == '-' || (*p >= '0' && *p <= '9')))
		return NULL;
	strtod(p, &end);
	return end > p ? end : NULL;
}

/* Members of an object (with keys) or elements of an array, up to close. */
static const char *json_list(const char *p, char close, bool keys)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			p = json_string(json_ws(p));
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p)
{
	p = json_ws(p);
	if (*p == '{')
		return json_list(p, '}', true);
	if (*p == '[')
		return json_list(p, ']', false);
	if (*p == '"')
		return json_string(p);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	return json_number(p);
}

static void check_json(const char *text)
{
	const char *end;

	CHECK_MSG(json_ws(text)[0] == '{', "not a JSON object: %s", text);
	end = json_value(text);
	CHECK_MSG(end && !*json_ws(end), "malformed JSON: %s", text);
}

/* The number after "key": (the first occurrence). */
static double json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;
	char *end;
	double v;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	CHECK_MSG(p, "no key \"%s\" in %s", key, json);
	p += strlen(pat);
	v = strtod(p, &end);
	CHECK_MSG(end > p, "key \"%s\" is not a number in %s", key, json);
	return v;
}

static void check_keys(const char *json, const char *const *keys)
{
	char pat[64];

	for (; *keys; keys++) {
		snprintf(pat, sizeof(pat), "\"%s\":", *keys);
		CHECK_MSG(strstr(json, pat), "no key \"%s\" in %s", *keys, json);
	}
}

/* ---- the cases ---- */

static void test_help(void)
{
	struct output o;

	RUN(&o, "--help");
	CHECK_MSG(o.status == 0, "--help exited %d: %s", o.status, o.err);
	CHECK(strstr(o.out, "spin"));
	CHECK(strstr(o.out, "block-wake"));
	CHECK(strstr(o.out, "rpc"));
	CHECK(strstr(o.out, "--enclave"));
	CHECK(strstr(o.out, "--no-ghost"));
}

/* A bad command line: exit 2, nothing on stdout, one stderr line naming what. */
static void expect_usage_error(const char *names, const char *const *args)
{
	struct output o;
	const char *nl;

	run(&o, args);
	CHECK_MSG(o.status == 2, "expected exit 2 for a bad %s, got %d (stderr: %s)", names,
		  o.status, o.err);
	CHECK_MSG(!o.out[0], "bad %s printed to stdout: %s", names, o.out);
	CHECK_MSG(strstr(o.err, names), "error for a bad %s does not name it: %s", names, o.err);
	nl = strchr(o.err, '\n');
	CHECK_MSG(nl && !nl[1], "error for a bad %s is not one line: %s", names, o.err);
}

#define BAD(names, ...) expect_usage_error((names), (const char *const[]){ __VA_ARGS__, NULL })

static void test_bad_arguments(void)
{
	BAD("--bogus", "--bogus", "--enclave", "1", "--threads", "2", "--pattern", "spin",
	    "--duration", "1");
	BAD("--enclave", "--threads", "2", "--pattern", "spin", "--duration", "1");
	BAD("--enclave", "--enclave", "x", "--threads", "2", "--pattern", "spin", "--duration",
	    "1");
	BAD("--threads", "--enclave", "1", "--threads", "0", "--pattern", "spin", "--duration",
	    "1");
	BAD("--threads", "--enclave", "1", "--threads", "two", "--pattern", "spin", "--duration",
	    "1");
	BAD("--threads", "--enclave", "1", "--threads", "3x", "--pattern", "spin", "--duration",
	    "1");
	BAD("--duration", "--enclave", "1", "--threads", "2", "--pattern", "spin", "--duration",
	    "-1");
	BAD("--duration", "--enclave", "1", "--threads", "2", "--pattern", "spin", "--duration",
	    "soon");
	BAD("--pattern", "--enclave", "1", "--threads", "2", "--pattern", "juggle", "--duration",
	    "1");
	BAD("--service", "--enclave", "1", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--service", "99.5:4xs,0.5:10ms");
	BAD("--service", "--enclave", "1", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--service", "50:4us");
	BAD("--service", "--enclave", "1", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--service", "99.5-4us,0.5:10ms");
	BAD("--service", "--enclave", "1", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--service", "");
	BAD("--rate", "--enclave", "1", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--rate", "0");
	BAD("--rate", "--enclave", "1", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--rate", "-100");
	BAD("--rate", "--enclave", "1", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--rate", "lots");
	BAD("--kernel", "--enclave", "1", "--kernel", "no-such-kernel", "--threads", "2",
	    "--pattern", "spin", "--duration", "1");
	BAD("--warmup", "--no-ghost", "--threads", "2", "--pattern", "spin", "--duration", "1",
	    "--warmup", "-2");
	BAD("--pattern", "--no-ghost", "--threads", "2", "--duration", "1");
	BAD("--prio-table", "--enclave", "1", "--threads", "2", "--pattern", "block-wake",
	    "--duration", "1", "--prio-table");
	BAD("--prio-table", "--no-ghost", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--prio-table");
	BAD("--antagonists", "--no-ghost", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--antagonists", "65");
	BAD("--antagonists", "--no-ghost", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--antagonists", "-1");
	BAD("--cpus", "--enclave", "1", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--cpus", "0");
	BAD("--cpus", "--no-ghost", "--threads", "2", "--pattern", "rpc", "--duration", "1",
	    "--cpus", "0-x");
	BAD("--generator-cpu", "--no-ghost", "--threads", "2", "--pattern", "spin", "--duration",
	    "1", "--generator-cpu", "0");
	BAD("--generator-cpu", "--no-ghost", "--threads", "2", "--pattern", "rpc", "--duration",
	    "1", "--generator-cpu", "4096");
	BAD("--generator-prio", "--no-ghost", "--threads", "2", "--pattern", "rpc", "--duration",
	    "1", "--generator-prio", "high");
	BAD("--wait", "--enclave", "1", "--threads", "2", "--pattern", "spin", "--duration", "1",
	    "--wait", "-1");
	BAD("--wait", "--enclave", "1", "--threads", "2", "--pattern", "spin", "--duration", "1",
	    "--wait", "5s");
	BAD("--wait", "--enclave", "1", "--threads", "2", "--pattern", "spin", "--duration", "1",
	    "--wait", "86401");
	BAD("--wait", "--enclave", "1", "--threads", "2", "--pattern", "spin", "--duration", "1",
	    "--wait", "nan");
	BAD("--wait", "--enclave", "1", "--threads", "2", "--pattern", "spin", "--duration", "1",
	    "--wait");
}

static const char *const common_keys[] = {
	"pattern", "threads", "duration_s", "kernel", "enclave", NULL,
};

/* A 1 s --no-ghost run of pattern with 2 threads; returns its JSON in o->out. */
static void run_json(struct output *o, const char *pattern)
{
	char want[64];

	RUN(o, "--no-ghost", "--threads", "2", "--pattern", pattern, "--duration", "1", "--json");
	CHECK_MSG(o->status == 0, "--pattern %s exited %d: %s", pattern, o->status, o->err);
	check_json(o->out);
	check_keys(o->out, common_keys);
	snprintf(want, sizeof(want), "\"pattern\":\"%s\"", pattern);
	CHECK_MSG(strstr(o->out, want), "no %s in %s", want, o->out);
	CHECK_EQ(json_num(o->out, "threads"), 2);
	CHECK_MSG(json_num(o->out, "no_cpu_threads") == 0, "a thread got no CPU: %s", o->out);
	CHECK_MSG(json_num(o->out, "duration_s") > 0.9 && json_num(o->out, "duration_s") < 1.5,
		  "duration_s off: %s", o->out);
}

static void check_latency(const char *json)
{
	static const char *const keys[] = { "latency_us", "p50", "p99", "p99_9", "max", NULL };
	double p50, p99, p999, max;

	check_keys(json, keys);
	p50 = json_num(json, "p50");
	p99 = json_num(json, "p99");
	p999 = json_num(json, "p99_9");
	max = json_num(json, "max");
	CHECK_MSG(p50 > 0 && p50 <= p99 && p99 <= p999 && p999 <= max,
		  "latency percentiles out of order: %s", json);
}

static void test_spin(void)
{
	static const char *const keys[] = { "work_units", "per_thread_min", "per_thread_max",
					    NULL };
	struct output o;

	run_json(&o, "spin");
	check_keys(o.out, keys);
	CHECK_MSG(json_num(o.out, "work_units") > 0, "no work done: %s", o.out);
	CHECK(json_num(o.out, "per_thread_min") <= json_num(o.out, "per_thread_max"));
	CHECK(json_num(o.out, "per_thread_max") <= json_num(o.out, "work_units"));
}

static void test_block_wake(void)
{
	static const char *const keys[] = { "round_trips", "round_trips_per_s", NULL };
	struct output o;

	run_json(&o, "block-wake");
	check_keys(o.out, keys);
	CHECK_MSG(json_num(o.out, "round_trips") > 0, "no round trips: %s", o.out);
	CHECK(json_num(o.out, "round_trips_per_s") > 0);
	check_latency(o.out);
}

static void test_rpc(void)
{
	static const char *const keys[] = {
		"offered_rps", "completed",	   "throughput_rps",
		"wait_us",     "generator_lag_us", "oldest_unfinished_us",
		NULL
	};
	struct output o;
	double completed;

	run_json(&o, "rpc");
	check_keys(o.out, keys);
	CHECK_EQ(json_num(o.out, "offered_rps"), 10000);
	completed = json_num(o.out, "completed");
	CHECK_MSG(completed > 0, "no requests completed: %s", o.out);
	/* 10000 req/s for 1 s, Poisson: far inside these bounds. */
	CHECK_MSG(completed > 5000 && completed < 15000, "completed off: %s", o.out);
	CHECK(json_num(o.out, "throughput_rps") > 0);
	check_latency(o.out);
	/* Half a percent of requests take 10 ms: the tail must show it. */
	CHECK_MSG(json_num(o.out, "p99_9") >= 10000, "p99.9 below 10 ms: %s", o.out);
	/* Whatever was unfinished at the stop arrived within the run. */
	CHECK(json_num(o.out, "oldest_unfinished_us") <= 1e6 * json_num(o.out, "duration_s") + 1e6);
}

/* Plain threads on one CPU beside a SCHED_IDLE antagonist, the generator pinned. */
static void test_rpc_antagonist(void)
{
	struct output o;
	double cpus;

	RUN(&o, "--no-ghost", "--threads", "2", "--pattern", "rpc", "--duration", "1", "--rate",
	    "1000", "--cpus", "0", "--generator-cpu", "0", "--antagonists", "1", "--json");
	CHECK_MSG(o.status == 0, "exited %d: %s", o.status, o.err);
	CHECK_MSG(json_num(o.out, "completed") > 500, "%s", o.out);
	cpus = json_num(o.out, "antagonist_cpus");
	/* It runs in what the workers (and whatever else the machine runs) leave of CPU 0:
	 * something, never more than its one CPU. */
	CHECK_MSG(cpus > 0 && cpus < 1.05, "antagonist got %.3f CPUs: %s", cpus, o.out);
}

/* The table form, with a warmup and a custom service mix. */
static void test_table(void)
{
	struct output o;

	RUN(&o, "--no-ghost", "--threads", "2", "--pattern", "rpc", "--duration", "0.3", "--warmup",
	    "0.1", "--rate", "2000", "--service", "90:10us,10:100us");
	CHECK_MSG(o.status == 0, "table run exited %d: %s", o.status, o.err);
	CHECK_MSG(strstr(o.out, "throughput") && strstr(o.out, "p99.9"), "table: %s", o.out);
	CHECK_MSG(!strchr(o.out, '{'), "table run printed JSON: %s", o.out);
}

/* One line on stderr, nothing on stdout. */
static void check_one_line(const struct output *o)
{
	const char *nl = strchr(o->err, '\n');

	CHECK_MSG(nl && !nl[1], "not one line: %s", o->err);
	CHECK_MSG(!o->out[0], "stdout: %s", o->out);
}

static void test_no_enclave(void)
{
	char root[] = "/tmp/test_workload.XXXXXX";
	struct output o;
	int64_t t0;

	CHECK(mkdtemp(root));
	/* --wait 0: at once. */
	t0 = mono_ms();
	RUN(&o, "--enclave", "999", "--kernel", "emu", "--root", root, "--threads", "2",
	    "--pattern", "spin", "--duration", "1", "--wait", "0");
	CHECK_MSG(o.status == 1, "missing enclave exited %d: %s", o.status, o.err);
	CHECK_MSG(mono_ms() - t0 < 2000, "--wait 0 took %lld ms", (long long)(mono_ms() - t0));
	CHECK_MSG(strstr(o.err, "no enclave 999 on the emu kernel (start one with: "), "stderr: %s",
		  o.err);
	CHECK_MSG(strstr(o.err, "ghost-agent --enclave 999"), "stderr: %s", o.err);
	check_one_line(&o);
	/* A wait: it says how long, and it did wait that long. */
	t0 = mono_ms();
	RUN(&o, "--enclave", "999", "--kernel", "emu", "--root", root, "--threads", "2",
	    "--pattern", "spin", "--duration", "1", "--wait", "0.5");
	CHECK_MSG(o.status == 1, "missing enclave exited %d: %s", o.status, o.err);
	CHECK_MSG(mono_ms() - t0 >= 500, "gave up after %lld ms", (long long)(mono_ms() - t0));
	CHECK_MSG(strstr(o.err, "no enclave 999 on the emu kernel after waiting 0.5 s"),
		  "stderr: %s", o.err);
	CHECK_MSG(strstr(o.err, "ghost-agent --enclave 999"), "stderr: %s", o.err);
	check_one_line(&o);
	test_rm_tree(root);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (access(TOOL, X_OK))
		FAIL("%s is not built (make tools)", TOOL);
	test_help();
	test_bad_arguments();
	test_no_enclave();
	test_table();
	test_spin();
	test_block_wake();
	test_rpc();
	test_rpc_antagonist();
	printf("test_workload: ok\n");
	return 0;
}
