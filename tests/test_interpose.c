/*
 * tests/test_interpose.c - libghost-preload.so seen from the program it runs in: the
 * deployed shape (ghost-agent in its own process, this program started by `ghostctl run` in
 * another), then the wrappers' promises checked from inside a ghost task: errno as the real
 * call left it on every fast path and after a wait; EINTR from a handler without SA_RESTART
 * and a restarted read with it; write from a signal handler during a wrapped wait; a
 * contended mutex, a condition variable, a semaphore, a join and a child wait that block and
 * come back; select's sets as the real call leaves them. The agent's summary counts blocks
 * and wake-ups; the switch trace holds its invariants.
 *
 * Modes: no argument: the whole test. `child`: the checks (run under the interposer).
 * `check-trace ROOT ID`: the switch-trace invariants of enclave ID (tests/test_interpose.sh).
 * No timing is asserted: waits are ordered by pipes and flags, never by the clock.
 */
#include "emu_helpers.h"

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>

#define ENCLAVE "4"

/* ---- the child: runs under the interposer ---- */

static int pipefd[2];
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	static const char msg[] = "handler\n";
	int saved = errno;

	got_signal = sig;
	/* A wrapped call in a handler, while the thread is in a wrapped wait. */
	CHECK(write(pipefd[1], msg, sizeof(msg) - 1) == (ssize_t)(sizeof(msg) - 1));
	errno = saved;
}

static void *signal_later(void *arg)
{
	pthread_t target = *(pthread_t *)arg;

	usleep(20000);
	pthread_kill(target, SIGUSR1);
	return NULL;
}

static void fast_paths_keep_errno(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	sem_t s;
	struct pollfd p;
	char c;
	int st;

	CHECK(pipe(pipefd) == 0);
	errno = 1234;
	CHECK(pthread_mutex_lock(&m) == 0 && errno == 1234);
	CHECK(pthread_mutex_unlock(&m) == 0);
	CHECK(write(pipefd[1], "x", 1) == 1 && errno == 1234);
	CHECK(read(pipefd[0], &c, 1) == 1 && c == 'x' && errno == 1234);
	p = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	CHECK(poll(&p, 1, 0) == 0 && errno == 1234);
	CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
	errno = 1234;
	CHECK(sem_init(&s, 0, 1) == 0);
	CHECK(sem_wait(&s) == 0 && errno == 1234); /* the try succeeded */
	CHECK(sem_post(&s) == 0);
	CHECK(sem_destroy(&s) == 0);
	/* A failing call sets errno as the real one does. */
	CHECK(read(-1, &c, 1) == -1 && errno == EBADF);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* A read that waits, cut by a signal: EINTR without SA_RESTART, carried on with it. */
static void eintr_and_restart(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	pthread_t me = pthread_self(), t;
	char buf[16];
	ssize_t n;

	CHECK(pipe(pipefd) == 0);
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	got_signal = 0;
	CHECK(pthread_create(&t, NULL, signal_later, &me) == 0);
	/* Empty pipe: the read waits (bracketed) until the handler writes into it... */
	errno = 0;
	n = read(pipefd[0], buf, sizeof(buf));
	/* ...which either interrupts it (EINTR) or, if the handler's write came first in the
	 * pipe's eyes, lets it read the handler's bytes: both are what the C library does. */
	CHECK_MSG((n == -1 && errno == EINTR) || n == 8, "read: %zd (%s)", n, strerror(errno));
	CHECK(got_signal == SIGUSR1);
	CHECK(pthread_join(t, NULL) == 0);
	close(pipefd[0]);
	close(pipefd[1]);

	/* With SA_RESTART the read goes on, and gets what the handler wrote. */
	CHECK(pipe(pipefd) == 0);
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	got_signal = 0;
	CHECK(pthread_create(&t, NULL, signal_later, &me) == 0);
	n = read(pipefd[0], buf, sizeof(buf));
	CHECK_MSG(n == 8 && !memcmp(buf, "handler\n", 8), "restarted read: %zd", n);
	CHECK(pthread_join(t, NULL) == 0);
	close(pipefd[0]);
	close(pipefd[1]);
	signal(SIGUSR1, SIG_DFL);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stage;

static void *holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	stage = 1;
	pthread_cond_signal(&cond);
	/* Holds the lock across a sleep: the main thread's lock waits. */
	usleep(20000);
	stage = 2;
	pthread_mutex_unlock(&lock);
	return (void *)7;
}

static void blocking_calls(void)
{
	pthread_t t;
	void *ret;
	pid_t pid;
	int st;
	fd_set r;
	struct timeval tv = { 5, 0 };

	/* A condition variable, then a contended mutex, then a join. */
	CHECK(pthread_create(&t, NULL, holder, NULL) == 0);
	pthread_mutex_lock(&lock);
	while (stage == 0)
		CHECK(pthread_cond_wait(&cond, &lock) == 0);
	pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&lock);
	CHECK(stage == 2);
	pthread_mutex_unlock(&lock);
	CHECK(pthread_join(t, &ret) == 0 && ret == (void *)7);

	/* A forked child (a task of its own) waited for. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* The forked child is a task of its own: it sleeps and exits 5. */
		usleep(10000);
		_exit(5);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 5);

	/* select: nothing ready yet, then the data; the sets say exactly that. */
	CHECK(pipe(pipefd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		usleep(10000);
		_exit(write(pipefd[1], "y", 1) == 1 ? 0 : 1);
	}
	FD_ZERO(&r);
	FD_SET(pipefd[0], &r);
	CHECK(select(pipefd[0] + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(pipefd[0], &r));
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

static int child_main(void)
{
	fast_paths_keep_errno();
	eintr_and_restart();
	blocking_calls();
	printf("child checks: ok\n");
	return 0;
}

/* ---- the orchestration ---- */

static void check_trace_of(uint64_t id)
{
	size_t size;
	struct emu_shared *sh = test_emu_state(id, &size);
	long ins = test_check_trace(sh);

	CHECK_MSG(ins > 0, "no task ever ran in enclave %llu", (unsigned long long)id);
	munmap(sh, size);
}

static int whole_test(const char *self)
{
	char agent_out[600], run_out[600], buf[8192];
	char *agent_args[] = { "--policy",  "fifo-percpu", "--cpus",  "0-1",
			       "--enclave", ENCLAVE,	   "--quiet", NULL };
	char *run_args[] = { "run", "--wait",	  "10",	   "--enclave", ENCLAVE,
			     "--",  (char *)self, "child", NULL };
	struct ghost_enclave *e;
	pid_t agent, run;
	int rc;

	if (test_ncpus() < 2) {
		printf("needs 2 CPUs\n");
		return 77;
	}
	{
		char lib[600];

		snprintf(lib, sizeof(lib), "%s/../lib/libghost-preload.so", GHOST_BIN_DIR);
		if (access(lib, R_OK)) {
			printf("no libghost-preload.so in this build (STATIC=1 or a sanitizer build)\n");
			return 77;
		}
	}
	test_root_make();
	snprintf(agent_out, sizeof(agent_out), "%s/agent.out", test_root);
	snprintf(run_out, sizeof(run_out), "%s/run.out", test_root);
	agent = test_spawn_tool("ghost-agent", agent_args, agent_out);
	e = test_wait_enclave(strtoull(ENCLAVE, NULL, 10));
	/* The switch trace, from before the program's first task. */
	CHECK(ghost_enclave_write_file(e, "trace", "1") == 0);
	run = test_spawn_tool("ghostctl", run_args, run_out);
	rc = test_wait_exit(run, 60000);
	test_read_file(run_out, buf, sizeof(buf));
	CHECK_MSG(rc == 0 && strstr(buf, "child checks: ok"), "child exit %d: %s", rc, buf);
	check_trace_of(strtoull(ENCLAVE, NULL, 10));
	ghost_enclave_close(e);
	kill(agent, SIGINT);
	CHECK(test_wait_exit(agent, 10000) == 0);
	test_read_file(agent_out, buf, sizeof(buf));
	CHECK_MSG(counter_after(buf, " blocked ") > 0 && counter_after(buf, " wakeup ") > 0,
		  "the agent saw no block or wake-up: %s", buf);
	CHECK_MSG(strstr(buf, "seqnum_errors 0 bad_msgs 0") != NULL, "%s", buf);
	printf("interposed program: fast paths, errno, EINTR/SA_RESTART, handlers, blocking "
	       "calls: ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "child"))
		return child_main();
	if (argc == 4 && !strcmp(argv[1], "check-trace")) {
		snprintf(test_root, sizeof(test_root), "%s", argv[2]);
		check_trace_of(strtoull(argv[3], NULL, 10));
		test_root[0] = 0;
		printf("switch trace of enclave %s: ok\n", argv[3]);
		return 0;
	}
	return whole_test(argv[0]);
}
