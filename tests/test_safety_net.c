/*
 * tests/test_safety_net.c - the embedded kernel's safety net, in the deployed shape: the
 * agent in one process, its tasks in another.
 *
 * Checks, by hand (this program is the agent of CPUs 0 and 1, a re-executed copy of it the
 * application): a task on CPU 1 that sleeps in the host kernel outside the library, with a
 * raw nanosleep, a raw futex wait or a raw read of a pipe, gets TASK_BLOCKED from the net;
 * another task then runs on CPU 1; once the sleeper wakes it gets TASK_WAKEUP and stays
 * parked (its progress stops) until it is committed again, then runs. A sleep inside the
 * library (ghost_sleep_ns) is reported once, by the library, never by the net; a task that
 * spins in user code all along is never reported; the switch trace shows no CPU running two
 * tasks. With the tools: under fifo-percpu, tasks that sleep in raw system calls finish and
 * the agent's books balance; with the agent killed (SIGKILL) while they are net-blocked,
 * they finish as normal threads.
 *
 * Needs CPUs 0 and 1 (skips otherwise). "test_safety_net --app ROOT ID" and
 * "test_safety_net --sleepers ROOT ID N" are the application roles.
 */
#include "emu_helpers.h"
#include "hand_agent.h"

#include <ghost/channel.h>
#include <ghost/kernel.h>

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <time.h>

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

extern char **environ;

/* What the sleeper does next (the agent sets it, the sleeper does each once). */
enum { K_SPIN, K_NANOSLEEP, K_FUTEX, K_PIPE, K_GHOST_SLEEP, K_DONE };
static const char *const kind_name[] = { "spin", "raw nanosleep", "raw futex wait", "raw pipe read",
					 "ghost_sleep_ns" };

/* Shared between the agent (this process) and the application (a file). */
struct shared {
	uint64_t progress[2]; /* user-code iterations of the sleeper (0) and the spinner (1) */
	int32_t tid[2];
	uint32_t kind;	/* K_*: what the sleeper does next */
	uint32_t slept; /* the last kind the sleeper returned from */
	uint32_t fword; /* the raw futex: the agent sets it and wakes */
	uint32_t exit;
};

/* ---- the application ---- */

static struct shared *app_sh;
static char fifo_path[300];

static void raw_nanosleep(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 }, left;

	while (syscall(SYS_nanosleep, &ts, &left) && errno == EINTR)
		ts = left;
}

static void *sleeper(void *arg)
{
	int fd = open(fifo_path, O_RDWR); /* read-write: the open never waits for a writer */
	uint32_t done = K_SPIN;
	char c;

	(void)arg;
	for (;;) {
		uint32_t k = LOAD(app_sh->kind);

		if (k == K_DONE)
			break;
		if (k == done) {
			__atomic_add_fetch(&app_sh->progress[0], 1, __ATOMIC_RELAXED);
			continue;
		}
		switch (k) {
		case K_NANOSLEEP:
			raw_nanosleep(300000000);
			break;
		case K_FUTEX:
			while (!LOAD(app_sh->fword))
				syscall(SYS_futex, &app_sh->fword, FUTEX_WAIT, 0, NULL, NULL, 0);
			break;
		case K_PIPE:
			while (syscall(SYS_read, fd, &c, 1) < 0 && errno == EINTR)
				;
			break;
		case K_GHOST_SLEEP:
			ghost_sleep_ns(100000000);
			break;
		}
		STORE(app_sh->slept, k);
		done = k;
	}
	close(fd);
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	/* Never calls the library, never sleeps: only a signal stops it. */
	while (!LOAD(app_sh->exit))
		__atomic_add_fetch(&app_sh->progress[1], 1, __ATOMIC_RELAXED);
	return NULL;
}

static int app_main(const char *root, const char *id)
{
	void *(*fn[2])(void *) = { sleeper, spinner };

	app_sh = test_map_shared(root, "shared", sizeof(struct shared), false);
	snprintf(fifo_path, sizeof(fifo_path), "%s/fifo", root);
	return test_app_two_threads(root, id, fn, app_sh->tid);
}

/* ---- the agent, by hand ---- */

static struct ghost_enclave *E;
static const struct ghost_kernel_ops *K;
static struct ghost_channel *C;
static struct shared *SH;

struct tinfo {
	int64_t gtid;
	uint32_t seq;
	int blocked, wakeups, deads;
};
static struct tinfo TI[2];

static struct test_yield_agent A1; /* CPU 1's: sleeps in local yield while the tasks run */

static struct {
	int64_t gtid;
	uint32_t seq;
} news[8];
static int nnews;

/* Reads the default queue into TI (TASK_NEWs matched by the tids the application wrote). */
static void drain(void)
{
	const struct ghost_msg *m;

	while ((m = ghost_channel_peek(C))) {
		int64_t gtid = ghost_msg_gtid(m);

		if (m->type == MSG_TASK_NEW && nnews < 8) {
			news[nnews].gtid = gtid;
			news[nnews++].seq = m->seqnum;
		}
		for (int i = 0; i < 2; i++) {
			if (!TI[i].gtid || TI[i].gtid != gtid)
				continue;
			CHECK_MSG(m->seqnum > TI[i].seq, "task %d: seqnum %u after %u", i,
				  m->seqnum, TI[i].seq);
			TI[i].seq = m->seqnum;
			TI[i].blocked += m->type == MSG_TASK_BLOCKED;
			TI[i].wakeups += m->type == MSG_TASK_WAKEUP;
			TI[i].deads += m->type == MSG_TASK_DEAD;
		}
		ghost_channel_consume(C, m);
	}
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < nnews && !TI[i].gtid; k++)
			if (LOAD(SH->tid[i]) &&
			    ghost_gtid_to_tid(news[k].gtid) == LOAD(SH->tid[i])) {
				TI[i].gtid = news[k].gtid;
				TI[i].seq = news[k].seq;
			}
}

/* Polls the queue until cond holds; a hang is a failure (bounded at 10 s). */
#define WAIT_UNTIL(cond, what) TEST_POLL_UNTIL(drain, cond, what)

static void commit_to_cpu1(int i)
{
	test_commit_until(E, 1, &TI[i].gtid, &TI[i].seq, drain);
}

static void wait_progress(int i)
{
	test_wait_moves(&SH->progress[i], i ? "the spinner" : "the sleeper");
}

/* progress[i] comes to a stop within 10 s, and then stays still over 50 ms. */
static void wait_parked(int i)
{
	int64_t end = ghost_now_ns() + 10000000000LL;
	uint64_t p;

	do {
		p = LOAD(SH->progress[i]);
		usleep(5000);
		CHECK_MSG(ghost_now_ns() < end, "task %d still runs user code after 10 s", i);
	} while (LOAD(SH->progress[i]) != p);
	usleep(50000);
	CHECK_MSG(LOAD(SH->progress[i]) == p, "task %d ran uncommitted (%llu -> %llu)", i,
		  (unsigned long long)p, (unsigned long long)LOAD(SH->progress[i]));
}

/*
 * The kernel's count of net blocks, read through a mapping of its own: the stats file's
 * task lines are read without the lock, which the thread sanitizer would see race with
 * the kernel thread in this process.
 */
static struct emu_shared *STATE;
static size_t state_size;

static long net_blocks(void)
{
	return (long)__atomic_load_n(&STATE->stats.net_blocks, __ATOMIC_RELAXED);
}

/* Lets the sleeper out of the sleep of kind k (a raw sleep or a ghost sleep ends itself). */
static void wake_sleeper(int k)
{
	char path[512];
	int fd;

	if (k == K_FUTEX) {
		STORE(SH->fword, 1);
		syscall(SYS_futex, &SH->fword, FUTEX_WAKE, 1, NULL, NULL, 0);
	} else if (k == K_PIPE) {
		snprintf(path, sizeof(path), "%s/fifo", test_root);
		fd = open(path, O_WRONLY | O_NONBLOCK);
		CHECK_MSG(fd >= 0, "%s: %s", path, strerror(errno));
		CHECK_EQ(write(fd, "x", 1), 1);
		close(fd);
	}
}

/*
 * One round, the sleeper on CPU 1 and the spinner runnable: the sleeper sleeps (kind k),
 * is reported blocked once (by the net unless it slept in the library), the spinner runs
 * on CPU 1, the sleeper wakes (TASK_WAKEUP once), stays parked, and runs once committed.
 */
static void round_of(int k)
{
	long before = net_blocks();
	int blocked = TI[0].blocked, wakeups = TI[0].wakeups;

	STORE(SH->kind, k);
	WAIT_UNTIL(TI[0].blocked == blocked + 1, "the sleeper's TASK_BLOCKED");
	CHECK_EQ(net_blocks(), before + (k != K_GHOST_SLEEP));
	commit_to_cpu1(1);
	wait_progress(1);
	wake_sleeper(k);
	WAIT_UNTIL(TI[0].wakeups == wakeups + 1, "the sleeper's TASK_WAKEUP");
	/* Woken, not committed: it parks (a raw sleep's thread may run uncommitted until the
	 * net's signal reaches it) while the spinner keeps CPU 1. */
	wait_parked(0);
	wait_progress(1);
	commit_to_cpu1(0);
	wait_progress(0);
	CHECK_EQ(LOAD(SH->slept), (uint32_t)k);
	drain();
	CHECK_EQ(TI[0].blocked, blocked + 1);
	CHECK_EQ(TI[0].wakeups, wakeups + 1);
	CHECK_EQ(net_blocks(), before + (k != K_GHOST_SLEEP));
	printf("%s: TASK_BLOCKED (%s), the other task ran on its CPU, TASK_WAKEUP, parked "
	       "until committed\n",
	       kind_name[k], k == K_GHOST_SLEEP ? "by the library" : "by the safety net");
}

static void by_hand(void)
{
	struct ghost_enclave_opts opts = { .sz = sizeof(opts), .root = test_root, .id = 1 };
	struct ghost_cpuset cpus;
	char *argv[] = { "test_safety_net", "--app", test_root, "1", NULL };
	char path[512];
	pid_t app;
	int st;

	ghost_cpuset_zero(&cpus);
	ghost_cpuset_set(&cpus, 0);
	ghost_cpuset_set(&cpus, 1);
	opts.cpus = &cpus;
	SH = test_map_shared(test_root, "shared", sizeof(struct shared), true);
	snprintf(path, sizeof(path), "%s/fifo", test_root);
	CHECK_MSG(mkfifo(path, 0600) == 0, "%s: %s", path, strerror(errno));
	CHECK_OK(ghost_enclave_create(&opts, &E));
	CHECK_OK(ghost_enclave_write_file(E, "trace", "1"));
	STATE = test_emu_state(1, &state_size);
	K = ghost_enclave_kernel(E);
	CHECK_OK(ghost_channel_create(E, 256, 0, &C));
	CHECK_OK(ghost_channel_set_default(C));
	CHECK_OK(ghost_channel_config_wakeup(C, NULL, 0));
	CHECK_OK(ghost_enclave_agent_online(E));
	CHECK_OK(K->agent_attach(ghost_enclave_kernel_handle(E), 0, C->qid));
	test_yield_agent_start(&A1, E, C, 1);

	CHECK_EQ(posix_spawn(&app, "/proc/self/exe", NULL, NULL, argv, environ), 0);
	test_track_child(app);
	WAIT_UNTIL(TI[0].gtid && TI[1].gtid, "both tasks' TASK_NEW");

	commit_to_cpu1(0);
	wait_progress(0);
	round_of(K_NANOSLEEP);
	round_of(K_FUTEX);
	round_of(K_PIPE);
	round_of(K_GHOST_SLEEP);
	/* The spinner ran for many net periods and never slept: never reported. */
	CHECK_EQ(TI[1].blocked, 0);

	/* Both finish. */
	STORE(SH->kind, K_DONE);
	STORE(SH->exit, 1);
	WAIT_UNTIL(TI[0].deads == 1, "TASK_DEAD of the sleeper");
	commit_to_cpu1(1);
	WAIT_UNTIL(TI[1].deads == 1, "TASK_DEAD of the spinner");
	CHECK_EQ(waitpid(app, &st, 0), app);
	test_untrack_child(app);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "application status 0x%x", st);
	CHECK(test_check_trace(STATE) >= 8);
	munmap(STATE, state_size);
	test_yield_agent_stop(&A1);
	K->agent_detach(ghost_enclave_kernel_handle(E), 0);
	ghost_enclave_agent_offline(E);
	CHECK_OK(ghost_enclave_destroy(E));
	ghost_enclave_close(E);
}

/* ---- with the tools ---- */

/* Each of n ghost threads: spins a little, sleeps 1 s in a raw nanosleep, spins, says so. */
static uint32_t *sleepers_done;

static void *raw_sleeper(void *arg)
{
	int64_t until = ghost_now_ns() + 5000000;

	(void)arg;
	while (ghost_now_ns() < until)
		;
	raw_nanosleep(1000000000);
	until = ghost_now_ns() + 5000000;
	while (ghost_now_ns() < until)
		;
	__atomic_add_fetch(sleepers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int sleepers_main(const char *root, const char *id, int n)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o),
					.root = root,
					.id = strtoull(id, NULL, 10) };
	struct ghost_thread *t[16];
	struct ghost_enclave *e;

	sleepers_done = test_map_shared(root, "done", sizeof(uint32_t), false);
	if (n > 16 || ghost_enclave_attach(&o, &e))
		return 3;
	for (int i = 0; i < n; i++)
		if (ghost_thread_create(e, &t[i], raw_sleeper, NULL))
			return 4;
	for (int i = 0; i < n; i++)
		if (ghost_thread_join(t[i], NULL))
			return 5;
	ghost_enclave_close(e);
	return LOAD(*sleepers_done) == (uint32_t)n ? 0 : 6;
}

/*
 * Four raw sleepers under fifo-percpu on CPUs 0-1 (two per CPU): the net reports each
 * blocked. Then either the agent is killed (SIGKILL) while they sleep, and they finish as
 * normal threads, or they finish under it and its books balance.
 */
static void sleepers_under_agent(uint64_t id, bool kill_agent)
{
	char idbuf[16], nbuf[8], aout[512], text[8192];
	char *agent_args[] = { "--policy", "fifo-percpu", "--cpus", "0-1",    "--enclave", idbuf,
			       "--root",   test_root,	  "--prio", "normal", NULL };
	char *argv[] = { "test_safety_net", "--sleepers", test_root, idbuf, nbuf, NULL };
	struct ghost_enclave *e;
	const char *sum;
	uint32_t *done;
	int64_t end;
	pid_t agent, app;
	char buf[16384];

	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)id);
	snprintf(nbuf, sizeof(nbuf), "%d", 4);
	snprintf(aout, sizeof(aout), "%s/agent-%llu.out", test_root, (unsigned long long)id);
	done = test_map_shared(test_root, "done", sizeof(uint32_t), true);
	agent = test_spawn_tool("ghost-agent", agent_args, aout);
	e = test_wait_enclave(id);
	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	CHECK_EQ(posix_spawn(&app, "/proc/self/exe", NULL, NULL, argv, environ), 0);
	test_track_child(app);
	/* Every sleeper is found asleep while it sleeps (1 s each, two per CPU). */
	end = ghost_now_ns() + 20000000000LL;
	do {
		CHECK_MSG(ghost_now_ns() < end, "the net never reported a sleeper: %s", buf);
		usleep(1000);
		CHECK(ghost_enclave_read_file(e, "stats", buf, sizeof(buf)) > 0);
	} while (counter_after(buf, "net_blocks ") < (kill_agent ? 1 : 4));
	if (kill_agent) {
		kill(agent, SIGKILL);
		CHECK_EQ(test_wait_exit(agent, 10000), 128 + SIGKILL);
	}
	CHECK_EQ(test_wait_exit(app, 30000), 0);
	CHECK_EQ(LOAD(*done), 4u);
	if (!kill_agent) {
		struct emu_shared *sh;
		size_t size;

		sh = test_emu_state(id, &size);
		test_check_trace(sh);
		munmap(sh, size);
		usleep(100000); /* the last TASK_DEADs reach the agent */
		kill(agent, SIGTERM);
		CHECK_EQ(test_wait_exit(agent, 10000), 0);
		test_read_file(aout, text, sizeof(text));
		sum = strstr(text, "summary:");
		CHECK_MSG(sum != NULL, "no summary: %s", text);
		CHECK_EQ(counter_after(sum, "seqnum_errors "), 0);
		CHECK_EQ(counter_after(sum, "bad_msgs "), 0);
		CHECK_EQ(counter_after(sum, " new "), 4);
		CHECK_EQ(counter_after(sum, " dead "), 4);
	}
	printf("fifo-percpu, four raw sleepers: %s\n",
	       kill_agent ? "the agent killed while they slept, all finished as normal threads"
			  : "each reported blocked, all finished, the agent's books balance");
	munmap(done, sizeof(uint32_t));
	ghost_enclave_close(e);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--app"))
		return app_main(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "--sleepers"))
		return sleepers_main(argv[2], argv[3], atoi(argv[4]));
	if (test_ncpus() < 2) {
		printf("needs CPUs 0 and 1\n");
		return TEST_SKIP;
	}
	test_root_make();
	by_hand();
	{
		char agent[600];

		snprintf(agent, sizeof(agent), "%s/ghost-agent", GHOST_BIN_DIR);
		if (access(agent, X_OK)) {
			printf("no %s: build the tools first\n", agent);
			return TEST_SKIP;
		}
	}
	sleepers_under_agent(2, false);
#ifdef __SANITIZE_THREAD__
	/* An agent killed holding the enclave lock leaves it owner-dead: the repair after it
	 * has no happens-before edge the thread sanitizer could see. The plain tier runs it. */
	printf("kill -9 of the agent: not under the thread sanitizer\n");
#else
	sleepers_under_agent(3, true);
#endif
	printf("test_safety_net: ok\n");
	return 0;
}
