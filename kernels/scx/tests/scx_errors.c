/*
 * kernels/scx/tests/scx_errors.c - how the tools fail on the sched_ext backend.
 *
 * Runs inside the sched_ext virtual machine (scripts/scx-tests.sh), as root, with the static
 * tools in /tests/bin ($GHOST_BIN to use others) and hello_test and scx_broken.bpf.o in /tests
 * ($GHOST_TESTS to use another directory). Written in C rather than as a script
 * because busybox cannot drop root privileges. It checks:
 *   (a) while one `ghost-agent --kernel scx` serves CPUs 1-3, a second one (over CPU 0, then
 *       over the same CPUs 1-3) fails cleanly with a message containing "another" or
 *       "already"; the first goes on undisturbed (still running, state "enabled"), stops on
 *       SIGINT with exit 0, and the state reads "disabled" within 5 s;
 *   (b) `ghost-agent --kernel scx` as an ordinary user (uid and gid 65534, set with
 *       setresuid/setresgid) fails cleanly with a message containing "root", and loads
 *       nothing;
 *   (c) `ghostctl --kernel scx run --enclave 99 -- true` when there is no enclave fails
 *       cleanly with a message;
 *   (d) while another sched_ext scheduler is loaded (`/tests/hello_test --hold 10`, the hello
 *       scheduler, once /sys/kernel/sched_ext/root/ops reads "hello" and the state
 *       "enabled"), `ghost-agent --kernel scx` fails cleanly with a message containing
 *       "another sched_ext scheduler (hello) is loaded" and leaves hello loaded; hello ends
 *       on SIGTERM with exit 0 and the state reads "disabled" within 5 s;
 *   (e) `ghost-agent --kernel scx` with GHOST_SCX_OBJ=/tests/scx_broken.bpf.o (a scheduler
 *       the verifier refuses, kernels/scx/tests/scx_broken.bpf.c) fails cleanly with one
 *       line containing "refused the BPF scheduler" and the verifier's log among its lines
 *       "libghost: error: sched_ext: ...", the line saying why included ("invalid mem access
 *       'map_value_or_null'"); the state stays "disabled".
 * "Fails cleanly": exits by itself within its time limit with a status from 1 to 125 (not
 * killed by a signal), having printed something. Every tool's output is shown.
 *
 * Exit status: 0 passed, 1 failed (the message says what was wrong), 77 skipped (no
 * sched_ext in this kernel, or not root).
 */
/* note, die, the sched_ext state, fork and wait: shared with the scx_abi_* programs. */
#define PROG "scx_errors"
#include "scx_test.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>

#define NOBODY	  65534
#define START_MS  60000 /* an agent loading the scheduler under emulation */
#define TOOL_MS	  60000 /* a tool that must fail */
#define STOP_MS	  30000 /* an agent stopping after SIGINT */
#define STATE_MS  5000
#define TIMED_OUT (-1)

#define HOLD_S	   "10" /* how long hello_test --hold keeps its scheduler */
#define LOG_PREFIX "libghost: error: sched_ext: "

static const char *bin_dir = "/tests/bin";
static const char *tests_dir = "/tests";
static char out[65536];

/* A tool that runs in the background while others are tried: (a)'s first agent, (d)'s hello. */
struct bg_tool {
	const char *name; /* its name in show() */
	const char *out;  /* the file of its stdout and stderr */
	pid_t pid;	  /* 0 when it does not run; stopped if the test fails */
};

static struct bg_tool agent_bg = { "ghost-agent", "/tmp/" PROG ".agent", 0 };
static struct bg_tool hello_bg = { "hello_test", "/tmp/" PROG ".hello", 0 };

/* ---- helpers --------------------------------------------------------------------------------- */

static void kill_agent(void)
{
	if (agent_bg.pid > 0)
		kill(agent_bg.pid, SIGKILL);
	/* SIGTERM: hello_test detaches its scheduler on the way out. */
	if (hello_bg.pid > 0)
		kill(hello_bg.pid, SIGTERM);
}

/* The name of the loaded scheduler ("" when none). */
static const char *scx_ops(void)
{
	static char buf[160];

	return sysfs_line(SCX_OPS, buf, sizeof(buf), "");
}

/* The whole file (at most sizeof(out) - 1 bytes) in out. */
static const char *slurp(const char *path)
{
	ssize_t n = 0, r;
	int fd = open(path, O_RDONLY);

	out[0] = 0;
	if (fd < 0)
		return out;
	while (n < (ssize_t)sizeof(out) - 1 &&
	       (r = read(fd, out + n, sizeof(out) - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	out[n] = 0;
	return out;
}

/* Prints a tool's output, indented. */
static void show(const char *what, const char *text)
{
	const char *p = text;

	note("%s said:%s", what, *p ? "" : " (nothing)");
	while (*p) {
		size_t len = strcspn(p, "\n");

		printf("    | %.*s\n", (int)len, p);
		p += len;
		if (*p)
			p++;
	}
	fflush(stdout);
}

/*
 * Starts bin_dir/argv[0] (argv[0] itself if it is a path) with stdout and stderr into the
 * file outpath, as uid/gid `uid` (0: as we are), with the environment variable `env`
 * ("NAME=VALUE") added unless it is NULL.
 */
static pid_t spawn(const char *const *argv, uid_t uid, const char *outpath, const char *env)
{
	char path[512];
	pid_t pid;

	if (strchr(argv[0], '/'))
		snprintf(path, sizeof(path), "%s", argv[0]);
	else
		snprintf(path, sizeof(path), "%s/%s", bin_dir, argv[0]);
	pid = fork_child();
	if (pid == 0) {
		int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		if (env && putenv((char *)env)) {
			fprintf(stderr, PROG ": cannot set %s: %s\n", env, strerror(errno));
			_exit(126);
		}
		if (uid &&
		    (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))) {
			fprintf(stderr, PROG ": cannot become uid %u: %s\n", (unsigned)uid,
				strerror(errno));
			_exit(126);
		}
		execv(path, (char *const *)argv);
		fprintf(stderr, PROG ": cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Waits for pid at most ms: its exit status, 128 + signal, or TIMED_OUT (then killed). */
static int finish(pid_t pid, int ms)
{
	int st;
	pid_t r = wait_exit(pid, ms, &st);

	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return TIMED_OUT;
	}
	if (r != pid)
		die("waitpid(%d): %s", (int)pid, strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *status_text(int rc)
{
	static char buf[64];

	if (rc == TIMED_OUT)
		snprintf(buf, sizeof(buf), "still running after its time limit (killed)");
	else if (rc > 128)
		snprintf(buf, sizeof(buf), "killed by signal %d", rc - 128);
	else
		snprintf(buf, sizeof(buf), "exit %d", rc);
	return buf;
}

/*
 * Runs a tool (with the environment variable env, if not NULL) that must fail cleanly, with
 * a message containing one of the words (NULL: any message). Returns its output.
 */
static const char *expect_failure_env(const char *what, const char *const *argv, uid_t uid,
				      const char *env, const char *word1, const char *word2)
{
	static const char path[] = "/tmp/" PROG ".out";
	const char *text;
	int rc;

	note("%s", what);
	rc = finish(spawn(argv, uid, path, env), TOOL_MS);
	text = slurp(path);
	show(argv[0], text);
	if (rc == 0)
		die("%s: it succeeded (exit 0); it must fail", what);
	if (rc == TIMED_OUT || rc > 125)
		die("%s: %s; it must fail by itself with a message", what, status_text(rc));
	if (!*text)
		die("%s: it failed (%s) without a word", what, status_text(rc));
	if (word1 && !strstr(text, word1) && !(word2 && strstr(text, word2)))
		die("%s: its message does not say \"%s\"%s%s%s", what, word1, word2 ? " or \"" : "",
		    word2 ? word2 : "", word2 ? "\"" : "");
	note("%s: failed as it should (%s)", what, status_text(rc));
	return text;
}

static const char *expect_failure(const char *what, const char *const *argv, uid_t uid,
				  const char *word1, const char *word2)
{
	return expect_failure_env(what, argv, uid, NULL, word1, word2);
}

/* Fails if t has ended: "WHO (status 0x...) WHEN", its output shown. */
static void bg_check(struct bg_tool *t, const char *who, const char *when)
{
	int st;

	if (waitpid(t->pid, &st, WNOHANG) == t->pid) {
		t->pid = 0;
		show(t->name, slurp(t->out));
		die("%s (status 0x%x) %s", who, st, when);
	}
}

/*
 * Starts t with argv and waits at most START_MS until ready(t): true; false, its output
 * shown, when the time ran out. Fails if t ends before (bg_check(t, who, when)).
 */
static bool bg_start(struct bg_tool *t, const char *const *argv, bool (*ready)(struct bg_tool *),
		     const char *who, const char *when)
{
	int64_t end = now_ms() + START_MS;

	t->pid = spawn(argv, 0, t->out, NULL);
	while (!ready(t)) {
		bg_check(t, who, when);
		if (now_ms() > end) {
			show(t->name, slurp(t->out));
			return false;
		}
		usleep(10000);
	}
	return true;
}

/* Stops t with the signal sig (named signame): it must exit 0 within STOP_MS. */
static void bg_stop(struct bg_tool *t, int sig, const char *signame, const char *who)
{
	int rc;

	kill(t->pid, sig);
	rc = finish(t->pid, STOP_MS);
	t->pid = 0;
	show(t->name, slurp(t->out));
	if (rc != 0)
		die("%s ended with %s after %s, expected exit 0", who, status_text(rc), signame);
}

/* ---- (a) a second agent while one runs ------------------------------------------------------- */

/* The agent has said "... enclave N, CPUs ...". */
static bool agent_serves(struct bg_tool *t)
{
	return strstr(slurp(t->out), ", enclave ") != NULL;
}

static void start_first_agent(void)
{
	static const char *const argv[] = { "ghost-agent", "--kernel", "scx", "--policy",
					    "fifo-percpu", "--cpus",   "1-3", NULL };

	note("(a) starting ghost-agent --kernel scx --policy fifo-percpu --cpus 1-3");
	if (!bg_start(&agent_bg, argv, agent_serves, "(a) the first agent ended",
		      "before it served"))
		die("(a) the first agent did not say \"enclave N\" within %d ms", START_MS);
	show(agent_bg.name, out);
	wait_scx_state("enabled", STATE_MS, "(a) with the first agent serving");
}

static void stop_first_agent(void)
{
	bg_check(&agent_bg, "(a) the first agent died", "while the second one tried");
	wait_scx_state("enabled", STATE_MS, "(a) after the second agents failed");
	note("(a) SIGINT to the first agent");
	bg_stop(&agent_bg, SIGINT, "SIGINT", "(a) the first agent");
	wait_scx_state("disabled", STATE_MS, "(a) after the agent stopped");
}

static void test_second_agent(void)
{
	static const char *const other_cpus[] = { "ghost-agent", "--kernel", "scx", "--policy",
						  "fifo-percpu", "--cpus",   "0",   NULL };
	static const char *const same_cpus[] = { "ghost-agent", "--kernel", "scx", "--policy",
						 "fifo-percpu", "--cpus",   "1-3", NULL };

	start_first_agent();
	expect_failure("(a) a second ghost-agent --kernel scx over CPU 0", other_cpus, 0, "another",
		       "already");
	expect_failure("(a) a second ghost-agent --kernel scx over the same CPUs 1-3", same_cpus, 0,
		       "another", "already");
	stop_first_agent();
}

/* ---- (b) not root ---------------------------------------------------------------------------- */

static void test_not_root(void)
{
	static const char *const argv[] = { "ghost-agent", "--kernel", "scx", "--policy",
					    "fifo-percpu", "--cpus",   "1-3", NULL };
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/ghost-agent", bin_dir);
	if (stat(path, &st) || !(st.st_mode & S_IXOTH))
		die("(b) %s cannot be run by other users (mode %o): the check would be void", path,
		    (unsigned)st.st_mode & 07777);
	expect_failure("(b) ghost-agent --kernel scx as uid 65534", argv, NOBODY, "root", NULL);
	wait_scx_state("disabled", STATE_MS, "(b) after an unprivileged agent");
}

/* ---- (c) no enclave -------------------------------------------------------------------------- */

static void test_no_enclave(void)
{
	static const char *const argv[] = { "ghostctl", "--kernel", "scx",  "run", "--enclave",
					    "99",	"--",	    "true", NULL };

	expect_failure("(c) ghostctl --kernel scx run --enclave 99 -- true, with no enclave", argv,
		       0, NULL, NULL);
	wait_scx_state("disabled", STATE_MS, "(c) after ghostctl run without an enclave");
}

/* ---- (d) another sched_ext scheduler is loaded ------------------------------------------------ */

/* The hello scheduler is loaded: the state "enabled", the ops "hello". */
static bool hello_loaded(struct bg_tool *t)
{
	(void)t;
	return !strcmp(scx_state(), "enabled") && !strcmp(scx_ops(), "hello");
}

static void test_foreign_scheduler(void)
{
	static const char *const agent[] = { "ghost-agent", "--kernel", "scx", "--policy",
					     "fifo-percpu", "--cpus",	"1-3", NULL };
	char hello[512];
	const char *hold[] = { hello, "--hold", HOLD_S, NULL };

	snprintf(hello, sizeof(hello), "%s/hello_test", tests_dir);
	if (access(hello, X_OK))
		die("(d) no %s (%s): scripts/scx-tests.sh passes it to the guest", hello,
		    strerror(errno));
	note("(d) starting %s --hold " HOLD_S ": the hello scheduler stays loaded", hello);
	if (!bg_start(&hello_bg, hold, hello_loaded, "(d) hello_test --hold ended",
		      "before its scheduler was loaded"))
		die("(d) after %d ms the state is \"%s\" and the ops \"%s\", expected "
		    "\"enabled\" and \"hello\"",
		    START_MS, scx_state(), scx_ops());
	note("(d) sched_ext %s, ops %s", scx_state(), scx_ops());
	expect_failure("(d) ghost-agent --kernel scx while the hello scheduler is loaded", agent, 0,
		       "another sched_ext scheduler (hello) is loaded", NULL);
	bg_check(&hello_bg, "(d) hello_test ended",
		 "while ghost-agent tried; it holds for " HOLD_S " s");
	if (!hello_loaded(&hello_bg))
		die("(d) after the failed ghost-agent the state is \"%s\" and the ops \"%s\", "
		    "expected hello still \"enabled\"",
		    scx_state(), scx_ops());
	note("(d) SIGTERM to hello_test");
	bg_stop(&hello_bg, SIGTERM, "SIGTERM", "(d) hello_test --hold");
	wait_scx_state("disabled", STATE_MS, "(d) after hello_test detached");
}

/* ---- (e) the verifier refuses the scheduler --------------------------------------------------- */

/* Whether text has a line that starts with prefix and contains word after it. */
static bool has_line(const char *text, const char *prefix, const char *word)
{
	size_t plen = strlen(prefix);

	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");

		if (len >= plen && !strncmp(p, prefix, plen)) {
			const char *w = p + plen;

			if (!*word)
				return true;
			for (; (size_t)(w - p) + strlen(word) <= len; w++)
				if (!strncmp(w, word, strlen(word)))
					return true;
		}
		p += len;
		if (*p)
			p++;
	}
	return false;
}

/* How many times needle occurs in text. */
static int count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_verifier_log(void)
{
	static const char *const agent[] = { "ghost-agent", "--kernel", "scx", "--policy",
					     "fifo-percpu", "--cpus",	"1-3", NULL };
	/* What the verifier says about the unchecked lookup in scx_broken.bpf.c. */
	static const char *const verifier_says[] = { "invalid mem access 'map_value_or_null'" };
	static char env[600];
	char obj[512];
	const char *text;

	snprintf(obj, sizeof(obj), "%s/scx_broken.bpf.o", tests_dir);
	if (access(obj, R_OK))
		die("(e) no %s (%s): scripts/scx-tests.sh builds it from "
		    "kernels/scx/tests/scx_broken.bpf.c",
		    obj, strerror(errno));
	snprintf(env, sizeof(env), "GHOST_SCX_OBJ=%s", obj);
	text = expect_failure_env(
		"(e) ghost-agent --kernel scx with GHOST_SCX_OBJ=scx_broken.bpf.o, "
		"a scheduler the verifier refuses",
		agent, 0, env, "refused the BPF scheduler", NULL);
	/* Said once, in the tool's own line; the verifier's log beside it. */
	if (count_of(text, "refused the BPF scheduler") != 1)
		die("(e) \"refused the BPF scheduler\" is said %d times, not once",
		    count_of(text, "refused the BPF scheduler"));
	for (size_t i = 0; i < sizeof(verifier_says) / sizeof(verifier_says[0]); i++)
		if (!has_line(text, LOG_PREFIX, verifier_says[i]))
			die("(e) the verifier's log is not among the lines \"" LOG_PREFIX
			    "...\": none says \"%s\"",
			    verifier_says[i]);
	wait_scx_state("disabled", STATE_MS, "(e) after the verifier refused the scheduler");
}

int main(void)
{
	struct stat st;
	const char *env = getenv("GHOST_BIN");
	const char *tdir = getenv("GHOST_TESTS");
	static const char *const tools[] = { "ghost-agent", "ghostctl" };

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (env && *env)
		bin_dir = env;
	if (tdir && *tdir)
		tests_dir = tdir;
	if (stat(SCX_DIR, &st) != 0) {
		note("skipped: this kernel has no sched_ext (" SCX_DIR " is absent)");
		return 77;
	}
	if (geteuid() != 0) {
		note("skipped: needs root");
		return 77;
	}
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", bin_dir, tools[i]);
		if (access(path, X_OK))
			die("no %s (%s); the tools are expected in %s", path, strerror(errno),
			    bin_dir);
	}
	/* A scheduler of the previous test may still be on its way out. */
	wait_scx_state("disabled", STATE_MS, "before the test (is another scheduler loaded?)");
	atexit(kill_agent);

	test_second_agent();
	test_not_root();
	test_no_enclave();
	test_foreign_scheduler();
	test_verifier_log();
	note("passed");
	return 0;
}
