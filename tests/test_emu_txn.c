/*
 * tests/test_emu_txn.c - transactions on the embedded kernel, driven by hand (no policy).
 *
 * The main thread is the agent of CPU 0 and drains the enclave's default queue; a second
 * thread is the agent of CPU 1 and sits in local yield, so that CPU 1 runs whatever the main
 * thread commits to it remotely. Every failure state of a txn is produced by a txn built to
 * cause it and asserted by its exact state; the success paths are checked by what the task
 * does (it runs, its status word says ONCPU, the messages ghOSt promises arrive):
 *
 *  - COMPLETE (+ SEND_TASK_ON_CPU -> MSG_TASK_ON_CPU), TARGET_STALE, TARGET_NOT_FOUND,
 *    TARGET_NOT_RUNNABLE (ghost_wait and ghost_sleep_ns), TARGET_ONCPU (and ALLOW_TASK_ONCPU),
 *    AGENT_STALE (local commit with a stale agent barrier; DO_NOT_PREEMPT on a busy CPU),
 *    INVALID_FLAGS (each rule), INVALID_TARGET, NO_AGENT, NOT_PERMITTED (another process),
 *    UNSUPPORTED_VERSION, INVALID_CPU, POISONED (group commit), ABORTED;
 *  - a CPU outside the enclave (library -EINVAL), sync-group commits (all / none, ownership),
 *    INC_AGENT_BARRIER_ON_FAILURE / ELIDE_AGENT_BARRIER_INC, ping, stale local yield;
 *  - preemption by GHOST_NULL_GTID and by another task, of a task spinning in a tight loop
 *    that never calls the library;
 *  - at the end every task runs to completion: each TASK_NEW is matched by a TASK_DEAD and
 *    every task's seqnums were strictly increasing.
 *
 * Needs CPUs 0 and 1 (skips otherwise). The role "--child-commit ROOT ID CPU..." is the
 * other process of the NOT_PERMITTED check (this program re-executed).
 */
#include "hand_agent.h"
#include "test.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/kernel.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- shared state ---------------------------------------------------------------------------- */

static char g_root[128];
static struct ghost_enclave *E;
static struct ghost_channel *C;
static const struct ghost_status_word *SW0, *SW1; /* agent words of CPU 0 and 1 */
static uint32_t g_exit;				  /* tasks return when set */

enum task_kind { K_SPIN, K_WAIT, K_SLEEP };

struct task {
	const char *name;
	enum task_kind kind;
	struct ghost_thread *th;
	pid_t tid;
	int64_t gtid;
	struct ghost_sw_info swi;
	const struct ghost_status_word *sw;
	uint32_t seq;	 /* seqnum of the last message read for it */
	int nmsg[16];	 /* by type - _MSG_TASK_FIRST */
	int on_cpu_cpu;	 /* from the last TASK_ON_CPU */
	int preempt_cpu; /* from the last TASK_PREEMPT */
	int preempt_was_latched;
	/* written by the task itself */
	uint32_t ran;	   /* times its function started */
	uint32_t woke;	   /* came back from its wait/sleep */
	uint32_t word;	   /* K_WAIT waits on it */
	uint64_t progress; /* spin iterations */
};

enum { TA, TB, TC, TD, TE, NT };
static struct task T[NT] = {
	[TA] = { .name = "A", .kind = K_SPIN },	 [TB] = { .name = "B", .kind = K_SPIN },
	[TC] = { .name = "C", .kind = K_WAIT },	 [TD] = { .name = "D", .kind = K_SPIN },
	[TE] = { .name = "E", .kind = K_SLEEP },
};

#define NMSG(t, type) ((t)->nmsg[(type)-_MSG_TASK_FIRST])
#define LOAD(x)	      __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)   __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* ---- helpers --------------------------------------------------------------------------------- */

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL test_emu_txn: timed out (a commit or wait hung)\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static void cleanup_root(void)
{
	if (g_root[0])
		test_rm_tree(g_root);
}

static struct ghost_txn_opts O(int64_t target, uint32_t barrier) {
	struct ghost_txn_opts o = {
		.target = target,
		.target_barrier = barrier,
	};

	return o;
}

static uint32_t
ab(int cpu)
{
	return ghost_sw_barrier(cpu ? SW1 : SW0);
}

static struct task *find_task(int64_t gtid, bool is_new)
{
	for (int i = 0; i < NT; i++) {
		if (is_new && T[i].tid && ghost_gtid_to_tid(gtid) == T[i].tid && !T[i].gtid)
			return &T[i];
		if (!is_new && T[i].gtid == gtid)
			return &T[i];
	}
	return NULL;
}

/* Reads every message of the default queue into the task records. */
static int drain(void)
{
	const struct ghost_msg *m;
	int n = 0;

	while ((m = ghost_channel_peek(C))) {
		int64_t gtid;
		struct task *t;

		CHECK_MSG(ghost_channel_msg_valid(C, m), "malformed message type %u len %u",
			  m->type, m->length);
		CHECK_MSG(ghost_msg_is_task(m->type), "unexpected message type %u", m->type);
		gtid = ghost_msg_gtid(m);
		t = find_task(gtid, m->type == MSG_TASK_NEW);
		CHECK_MSG(t != NULL, "message type %u for unknown gtid %" PRId64, m->type, gtid);
		CHECK_MSG(m->seqnum > t->seq, "task %s: seqnum %u after %u (type %u)", t->name,
			  m->seqnum, t->seq, m->type);
		t->seq = m->seqnum;
		t->nmsg[m->type - _MSG_TASK_FIRST]++;
		switch (m->type) {
		case MSG_TASK_NEW: {
			struct ghost_msg_payload_task_new p;

			ghost_msg_copy_payload(m, &p, sizeof(p));
			CHECK_EQ(NMSG(t, MSG_TASK_NEW), 1);
			CHECK_EQ(p.runnable, 1);
			t->gtid = gtid;
			t->swi = p.sw_info;
			t->sw = ghost_sw_lookup(E, &t->swi);
			CHECK_MSG(t->sw != NULL, "task %s: no status word", t->name);
			CHECK_EQ(ghost_sw_gtid(t->sw), gtid);
			break;
		}
		case MSG_TASK_ON_CPU: {
			struct ghost_msg_payload_task_on_cpu p;

			ghost_msg_copy_payload(m, &p, sizeof(p));
			t->on_cpu_cpu = p.cpu;
			CHECK(p.commit_time > 0);
			break;
		}
		case MSG_TASK_PREEMPT: {
			struct ghost_msg_payload_task_preempt p;

			ghost_msg_copy_payload(m, &p, sizeof(p));
			t->preempt_cpu = p.cpu;
			t->preempt_was_latched = p.was_latched;
			break;
		}
		case MSG_TASK_DEAD:
			CHECK_EQ(NMSG(t, MSG_TASK_DEAD), 1);
			break;
		default:
			break;
		}
		ghost_channel_consume(C, m);
		n++;
	}
	CHECK_EQ(ghost_channel_overflow(C), 0);
	return n;
}

/* Polls (draining the queue) until cond holds or ms pass. */
#define WAIT_UNTIL(cond, ms)                                           \
	({                                                             \
		int64_t _end = ghost_now_ns() + (int64_t)(ms)*1000000; \
		bool _ok;                                              \
		for (;;) {                                             \
			drain();                                       \
			if (cond) {                                    \
				_ok = true;                            \
				break;                                 \
			}                                              \
			if (ghost_now_ns() > _end) {                   \
				_ok = false;                           \
				break;                                 \
			}                                              \
			usleep(100);                                   \
		}                                                      \
		_ok;                                                   \
	})
#define CHECK_WAIT(cond, ms)                                                        \
	do {                                                                        \
		if (!WAIT_UNTIL(cond, ms))                                          \
			FAIL("timed out (%d ms) waiting for %s", (int)(ms), #cond); \
	} while (0)

/* Drains until the task's barrier is the seqnum of the last message we read. */
static void sync_task(struct task *t)
{
	CHECK_WAIT(ghost_sw_barrier(t->sw) == t->seq, 1000);
}

static bool on_cpu(const struct task *t)
{
	return ghost_sw_on_cpu(t->sw);
}

/* Opens and commits cpu's txn; fails the test unless it ends in state want. */
static void expect_txn_at(int cpu, struct ghost_txn_opts o, int32_t want, int line)
{
	struct ghost_txn *txn = ghost_enclave_txn(E, cpu);
	int64_t before = ghost_now_ns();
	int r;
	int32_t s;

	if (!txn)
		FAIL("line %d: no txn for cpu %d", line, cpu);
	r = ghost_txn_open(E, cpu, &o);
	if (r)
		FAIL("line %d: ghost_txn_open(cpu %d): %d", line, cpu, r);
	if (ghost_txn_state(txn) != GHOST_TXN_READY)
		FAIL("line %d: opened txn is not READY", line);
	r = ghost_txn_commit(E, cpu);
	s = ghost_txn_state(txn);
	if (s != want)
		FAIL("line %d: txn on cpu %d: expected %s, got %s", line, cpu,
		     ghost_txn_reason(want), ghost_txn_reason(s));
	if (r != (want == GHOST_TXN_COMPLETE))
		FAIL("line %d: ghost_txn_commit returned %d for %s", line, r, ghost_txn_reason(s));
	if (txn->commit_time < before)
		FAIL("line %d: commit_time %" PRId64 " not set", line, txn->commit_time);
}
#define EXPECT_TXN(cpu, o, want) expect_txn_at((cpu), (o), (want), __LINE__)

/* The task runs: its status word says ONCPU and it makes progress. */
static void check_running(struct task *t)
{
	uint64_t p0;

	CHECK_WAIT(LOAD(t->ran) > 0 && on_cpu(t), 1000);
	CHECK(ghost_sw_runnable(t->sw));
	p0 = LOAD(t->progress);
	CHECK_WAIT(LOAD(t->progress) > p0 || t->kind != K_SPIN, 1000);
	CHECK(on_cpu(t));
}

/* The task is off every CPU and stays so for a while (no progress). */
static void check_parked(struct task *t, int ms)
{
	uint64_t p0 = LOAD(t->progress);
	uint32_t r0 = LOAD(t->ran);
	int64_t end = ghost_now_ns() + (int64_t)ms * 1000000;

	while (ghost_now_ns() < end) {
		CHECK_MSG(!on_cpu(t), "task %s is on a CPU", t->name);
		usleep(200);
	}
	CHECK_EQ(LOAD(t->progress), p0);
	CHECK_EQ(LOAD(t->ran), r0);
}

/* ---- ghost tasks ----------------------------------------------------------------------------- */

static void *task_fn(void *arg)
{
	struct task *t = arg;

	__atomic_add_fetch(&t->ran, 1, __ATOMIC_SEQ_CST);
	if (t->kind == K_WAIT) {
		while (!LOAD(t->word) && !LOAD(g_exit))
			ghost_wait(&t->word, 0, 0);
		__atomic_add_fetch(&t->woke, 1, __ATOMIC_SEQ_CST);
	} else if (t->kind == K_SLEEP) {
		ghost_sleep_ns(400 * 1000000LL);
		__atomic_add_fetch(&t->woke, 1, __ATOMIC_SEQ_CST);
	}
	/* A tight loop that never calls the library: only a signal can take the CPU away. */
	while (!__atomic_load_n(&g_exit, __ATOMIC_RELAXED))
		__atomic_add_fetch(&t->progress, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* ---- the agent of CPU 1: local yield until told to stop ---------------------------------------- */

static struct {
	pthread_t th;
	int attach_err;
	uint32_t ready;
	uint32_t stop;
	uint32_t returns; /* local yields that returned 0 */
	uint32_t stale;	  /* local yields that returned -ESTALE */
	int err;	  /* any other result */
} A1;

static void *agent1_main(void *arg)
{
	struct ghost_sw_info info;
	const struct ghost_status_word *sw;

	(void)arg;
	A1.attach_err = ghost_enclave_agent_attach(E, 1, C);
	if (A1.attach_err) {
		STORE(A1.ready, 1);
		return NULL;
	}
	if (ghost_sw_agent_info(E, 1, &info) || !(sw = ghost_sw_lookup(E, &info))) {
		A1.attach_err = -EIO;
		STORE(A1.ready, 1);
		return NULL;
	}
	STORE(A1.ready, 1);
	while (!LOAD(A1.stop)) {
		uint32_t b = ghost_sw_barrier(sw);
		int r = ghost_txn_local_yield(E, 1, b, 0);

		if (r == 0) {
			__atomic_add_fetch(&A1.returns, 1, __ATOMIC_SEQ_CST);
		} else if (r == -ESTALE) {
			__atomic_add_fetch(&A1.stale, 1, __ATOMIC_SEQ_CST);
		} else {
			A1.err = r;
			break;
		}
	}
	ghost_enclave_agent_detach(E, 1);
	return NULL;
}

/* ---- the other process (NOT_PERMITTED) ------------------------------------------------------- */

static int child_main(int argc, char **argv)
{
	struct ghost_enclave_opts opts = { .sz = sizeof(opts) };
	struct ghost_enclave *e;

	CHECK(argc >= 5);
	opts.root = argv[2];
	opts.id = strtoull(argv[3], NULL, 10);
	CHECK_OK(ghost_enclave_attach(&opts, &e));
	for (int i = 4; i < argc; i++) {
		int cpu = atoi(argv[i]);
		struct ghost_txn *txn = ghost_enclave_txn(e, cpu);
		struct ghost_txn_opts o = O(GHOST_NULL_GTID, 0);

		CHECK(txn != NULL);
		CHECK_OK(ghost_txn_open(e, cpu, &o));
		CHECK_EQ(ghost_txn_commit(e, cpu), 0);
		CHECK_MSG(ghost_txn_state(txn) == GHOST_TXN_NOT_PERMITTED,
			  "child commit on cpu %d: %s", cpu,
			  ghost_txn_reason(ghost_txn_state(txn)));
		/* Pinging another process's agent is refused too. */
		CHECK_ERR(ghost_txn_ping(e, cpu), EINVAL);
	}
	ghost_enclave_close(e);
	return 0;
}

static void run_child(const char *cpus0, const char *cpus1)
{
	char id[32];
	char *argv[] = { "test_emu_txn", "--child-commit", g_root, id,
			 (char *)cpus0,	 (char *)cpus1,	   NULL };
	pid_t pid;
	int st;

	snprintf(id, sizeof(id), "%" PRIu64, ghost_enclave_id(E));
	CHECK_EQ(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ), 0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child process status 0x%x", st);
}

/* ---- sub-test: a CPU outside the enclave ----------------------------------------------------- */

static void test_cpu_outside(void)
{
	char sub[256];
	struct ghost_enclave_opts opts = { .sz = sizeof(opts) };
	struct ghost_cpuset one, both;
	struct ghost_enclave *e;
	struct ghost_txn_opts o = O(GHOST_NULL_GTID, 0);
	struct ghost_txn *txn;

	snprintf(sub, sizeof(sub), "%s/one", g_root);
	CHECK(mkdir(sub, 0700) == 0);
	ghost_cpuset_zero(&one);
	ghost_cpuset_set(&one, 1);
	ghost_cpuset_zero(&both);
	ghost_cpuset_set(&both, 0);
	ghost_cpuset_set(&both, 1);
	opts.root = sub;
	opts.cpus = &one;
	CHECK_OK(ghost_enclave_create(&opts, &e));
	CHECK(ghost_enclave_txn(e, 0) == NULL);
	CHECK(ghost_enclave_txn(e, 1) != NULL);
	CHECK_ERR(ghost_txn_open(e, 0, &o), EINVAL);
	CHECK_ERR(ghost_txn_commit(e, 0), EINVAL);
	CHECK_ERR(ghost_txn_abort(e, 0), EINVAL);
	CHECK_ERR(ghost_txn_ping(e, 0), EINVAL);
	CHECK_ERR(ghost_txn_local_yield(e, 0, 0, 0), EINVAL);
	CHECK_ERR(ghost_txn_commit_set(e, &both), EINVAL);
	CHECK_ERR(ghost_txn_commit_sync_group(e, &both), EINVAL);
	CHECK_ERR(ghost_txn_open(e, -1, &o), EINVAL);
	CHECK_ERR(ghost_txn_open(e, GHOST_MAX_CPUS, &o), EINVAL);
	/* CPU 1 is ours but nobody is its agent. */
	txn = ghost_enclave_txn(e, 1);
	CHECK_EQ(ghost_txn_state(txn), GHOST_TXN_COMPLETE); /* a fresh txn */
	CHECK_OK(ghost_txn_open(e, 1, &o));
	CHECK_ERR(ghost_txn_open(e, 1, &o), EBUSY); /* not committed yet */
	CHECK_EQ(ghost_txn_commit(e, 1), 0);
	CHECK_EQ(ghost_txn_state(txn), GHOST_TXN_NO_AGENT);
	CHECK_OK(ghost_enclave_ctl(e, "destroy"));
	ghost_enclave_close(e);
}

/* ---- the main enclave ------------------------------------------------------------------------ */

static void setup(void)
{
	struct ghost_sw_info info;

	/* The main thread is CPU 0's agent from now on (pinned to CPU 0). */
	C = test_hand_enclave(g_root, &E);
	CHECK_OK(ghost_sw_agent_info(E, 0, &info));
	SW0 = ghost_sw_lookup(E, &info);
	CHECK(SW0 != NULL);
	CHECK(ghost_sw_is_agent(SW0));
	CHECK(ghost_sw_gtid(SW0) > 0);
	/* CPU 1 has no agent yet. */
	CHECK_ERR(ghost_sw_agent_info(E, 1, &info), EINVAL);
}

static void create_tasks(void)
{
	for (int i = 0; i < NT; i++) {
		struct task *t = &T[i];

		CHECK_OK(ghost_thread_create(E, &t->th, task_fn, t));
		t->tid = ghost_thread_tid(t->th);
		CHECK_WAIT(NMSG(t, MSG_TASK_NEW) == 1, 2000);
		CHECK(t->gtid > 0);
		CHECK_EQ(ghost_gtid_to_tid(t->gtid), t->tid);
		sync_task(t);
		CHECK(ghost_sw_runnable(t->sw));
		CHECK(!on_cpu(t));
		CHECK(ghost_sw_in_use(t->sw));
		CHECK(!ghost_sw_is_agent(t->sw));
	}
	/* Nothing runs before it is committed. */
	usleep(20000);
	for (int i = 0; i < NT; i++)
		CHECK_EQ(LOAD(T[i].ran), 0);
}

static void start_agent1(void)
{
	struct ghost_sw_info info;

	CHECK_EQ(pthread_create(&A1.th, NULL, agent1_main, NULL), 0);
	while (!LOAD(A1.ready))
		usleep(100);
	CHECK_OK(A1.attach_err);
	CHECK_OK(ghost_sw_agent_info(E, 1, &info));
	SW1 = ghost_sw_lookup(E, &info);
	CHECK(SW1 != NULL);
	CHECK(ghost_sw_is_agent(SW1));
	CHECK(SW1 != SW0);
	CHECK(ghost_sw_gtid(SW1) != ghost_sw_gtid(SW0));
}

static void stop_agent1(void)
{
	STORE(A1.stop, 1);
	CHECK_OK(ghost_txn_ping(E, 1));
	CHECK_EQ(pthread_join(A1.th, NULL), 0);
	CHECK_EQ(A1.err, 0);
}

/* ---- the scenarios --------------------------------------------------------------------------- */

static void test_no_agent(void)
{
	struct task *b = &T[TB];

	EXPECT_TXN(1, O(GHOST_NULL_GTID, 0), GHOST_TXN_NO_AGENT);
	EXPECT_TXN(1, O(b->gtid, b->seq), GHOST_TXN_NO_AGENT);
	CHECK_EQ(LOAD(b->ran), 0);
}

/* COMPLETE: A runs on CPU 1; TASK_ON_CPU comes with SEND_TASK_ON_CPU. */
static void test_complete(void)
{
	struct task *a = &T[TA];
	struct ghost_txn *txn = ghost_enclave_txn(E, 1);
	struct ghost_txn_opts o = O(a->gtid, a->seq);
	uint32_t b1 = ab(1);
	uint64_t seq0 = txn->cpu_seqnum;

	sync_task(a);
	o.target_barrier = a->seq;
	o.run_flags = SEND_TASK_ON_CPU;
	EXPECT_TXN(1, o, GHOST_TXN_COMPLETE);
	CHECK(txn->cpu_seqnum > seq0);
	check_running(a);
	CHECK_WAIT(NMSG(a, MSG_TASK_ON_CPU) == 1, 1000);
	CHECK_EQ(a->on_cpu_cpu, 1);
	/* A successful commit moves the target CPU's agent barrier once. */
	CHECK_EQ(ab(1), b1 + 1);
	sync_task(a);
}

/* A runs on CPU 1: TARGET_ONCPU, then ALLOW_TASK_ONCPU succeeds without disturbing it. */
static void test_target_oncpu(void)
{
	struct task *a = &T[TA];
	struct ghost_txn_opts o;
	uint32_t b1 = ab(1), b0 = ab(0);
	int npre = NMSG(a, MSG_TASK_PREEMPT);

	sync_task(a);
	EXPECT_TXN(1, O(a->gtid, a->seq), GHOST_TXN_TARGET_ONCPU);
	CHECK_EQ(ab(1), b1);
	o = O(a->gtid, a->seq);
	o.allow_task_on_cpu = true;
	EXPECT_TXN(1, o, GHOST_TXN_COMPLETE);
	CHECK(ghost_enclave_txn(E, 1)->commit_flags & ALLOW_TASK_ONCPU);
	/* Already running there: no barrier bump, no preemption. */
	CHECK_EQ(ab(1), b1);
	check_running(a);
	usleep(20000);
	drain();
	CHECK_EQ(NMSG(a, MSG_TASK_PREEMPT), npre);
	CHECK(on_cpu(a));
	/* Running on a different CPU is still TARGET_ONCPU (local commit of CPU 0). */
	o = O(a->gtid, a->seq);
	o.allow_task_on_cpu = true;
	o.agent_barrier = b0;
	EXPECT_TXN(0, o, GHOST_TXN_TARGET_ONCPU);
	check_running(a);
}

/* DO_NOT_PREEMPT on a CPU that runs a task. */
static void test_do_not_preempt_busy(void)
{
	struct task *a = &T[TA], *b = &T[TB];
	struct ghost_txn_opts o = O(b->gtid, b->seq);

	sync_task(b);
	o.target_barrier = b->seq;
	o.run_flags = DO_NOT_PREEMPT;
	EXPECT_TXN(1, o, GHOST_TXN_AGENT_STALE);
	check_running(a);
	check_parked(b, 20);
}

static void test_target_failures(void)
{
	struct task *a = &T[TA], *b = &T[TB];
	struct ghost_txn_opts o;
	uint32_t b1;

	sync_task(b);
	b1 = ab(1);
	/* TARGET_STALE, either side of the right barrier; no barrier bump without the flag. */
	EXPECT_TXN(1, O(b->gtid, b->seq - 1), GHOST_TXN_TARGET_STALE);
	EXPECT_TXN(1, O(b->gtid, b->seq + 1), GHOST_TXN_TARGET_STALE);
	CHECK_EQ(ab(1), b1);
	/* INC_AGENT_BARRIER_ON_FAILURE bumps the target CPU's agent barrier on failure. */
	o = O(b->gtid, b->seq - 1);
	o.commit_flags = INC_AGENT_BARRIER_ON_FAILURE;
	EXPECT_TXN(1, o, GHOST_TXN_TARGET_STALE);
	CHECK_EQ(ab(1), b1 + 1);
	/* TARGET_NOT_FOUND: a gtid nobody has. */
	EXPECT_TXN(1, O((12345LL << 41) | 77, 0), GHOST_TXN_TARGET_NOT_FOUND);
	EXPECT_TXN(1, O((12345LL << 41) | 77, b->seq), GHOST_TXN_TARGET_NOT_FOUND);
	/* INVALID_TARGET: below the special gtids, and agents. */
	EXPECT_TXN(1, O(-5, 0), GHOST_TXN_INVALID_TARGET);
	EXPECT_TXN(1, O(INT64_MIN, 0), GHOST_TXN_INVALID_TARGET);
	EXPECT_TXN(1, O(ghost_sw_gtid(SW0), ghost_sw_barrier(SW0)), GHOST_TXN_INVALID_TARGET);
	EXPECT_TXN(1, O(ghost_sw_gtid(SW1), ghost_sw_barrier(SW1)), GHOST_TXN_INVALID_TARGET);
	check_running(a);
	check_parked(b, 10);
}

static void test_invalid_flags(void)
{
	struct task *a = &T[TA], *b = &T[TB];
	struct ghost_txn_opts o;

	sync_task(b);
	o = O(b->gtid, b->seq);
	o.commit_flags = COMMIT_AT_SCHEDULE | COMMIT_AT_TXN_COMMIT;
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	o = O(b->gtid, b->seq);
	o.commit_flags = ELIDE_AGENT_BARRIER_INC | INC_AGENT_BARRIER_ON_FAILURE;
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	o = O(b->gtid, b->seq);
	o.commit_flags = 1 << 5; /* outside 0x1f */
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	o = O(b->gtid, b->seq);
	o.run_flags = 1 << 3; /* an undefined run flag */
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	o = O(b->gtid, b->seq);
	o.run_flags = 1 << 8;
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	o = O(b->gtid, b->seq);
	o.run_flags = NEED_CPU_NOT_IDLE; /* only with GHOST_IDLE_GTID */
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	o = O(GHOST_AGENT_GTID, 0);
	o.run_flags = RTLA_ON_IDLE; /* not with a negative gtid */
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	o = O(GHOST_IDLE_GTID, 0);
	o.run_flags = RTLA_ON_IDLE;
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	o = O(GHOST_AGENT_GTID, 0);
	o.run_flags = SEND_TASK_ON_CPU; /* GHOST_AGENT_GTID takes no run flags */
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	/* Flags are checked before the target: a bad target still says INVALID_FLAGS. */
	o = O(-5, 0);
	o.run_flags = 1 << 3;
	EXPECT_TXN(1, o, GHOST_TXN_INVALID_FLAGS);
	check_running(a);
	check_parked(b, 10);
}

/* Fields tampered with after open: version and cpu. */
static void test_tampered(void)
{
	struct task *a = &T[TA], *b = &T[TB];
	struct ghost_txn *txn = ghost_enclave_txn(E, 1);
	struct ghost_txn_opts o;

	sync_task(b);
	o = O(b->gtid, b->seq);
	CHECK_OK(ghost_txn_open(E, 1, &o));
	txn->version = 1;
	CHECK_EQ(ghost_txn_commit(E, 1), 0);
	CHECK_MSG(ghost_txn_state(txn) == GHOST_TXN_UNSUPPORTED_VERSION, "%s",
		  ghost_txn_reason(ghost_txn_state(txn)));
	txn->version = GHOST_TXN_VERSION;

	CHECK_OK(ghost_txn_open(E, 1, &o));
	txn->cpu = 0;
	CHECK_EQ(ghost_txn_commit(E, 1), 0);
	CHECK_MSG(ghost_txn_state(txn) == GHOST_TXN_INVALID_CPU, "%s",
		  ghost_txn_reason(ghost_txn_state(txn)));
	txn->cpu = 1;
	check_running(a);
	check_parked(b, 10);
}

static void test_abort(void)
{
	struct task *a = &T[TA], *b = &T[TB];
	struct ghost_txn *txn = ghost_enclave_txn(E, 1);
	struct ghost_txn_opts o;

	sync_task(b);
	o = O(b->gtid, b->seq);
	CHECK_OK(ghost_txn_open(E, 1, &o));
	CHECK_EQ(ghost_txn_abort(E, 1), 0);
	CHECK_EQ(ghost_txn_state(txn), GHOST_TXN_ABORTED);
	CHECK_ERR(ghost_txn_abort(E, 1), EALREADY);
	/* An aborted txn is not committed by a later commit call. */
	CHECK_EQ(ghost_txn_commit(E, 1), 0);
	CHECK_EQ(ghost_txn_state(txn), GHOST_TXN_ABORTED);
	check_parked(b, 20);
	/* Abort of a committed txn. */
	EXPECT_TXN(1, O(b->gtid, b->seq - 1), GHOST_TXN_TARGET_STALE);
	CHECK_ERR(ghost_txn_abort(E, 1), EALREADY);
	CHECK_EQ(ghost_txn_state(txn), GHOST_TXN_TARGET_STALE);
	check_running(a);
}

/* Local commits (CPU 0's agent committing CPU 0) check the agent barrier. */
static void test_agent_stale_local(void)
{
	struct ghost_txn_opts o;
	uint32_t b0 = ab(0);

	o = O(GHOST_NULL_GTID, 0);
	o.agent_barrier = b0 - 1;
	EXPECT_TXN(0, o, GHOST_TXN_AGENT_STALE);
	o.agent_barrier = b0 + 1;
	EXPECT_TXN(0, o, GHOST_TXN_AGENT_STALE);
	CHECK_EQ(ab(0), b0);
	/* Local yield with a stale barrier returns at once. */
	CHECK_ERR(ghost_txn_local_yield(E, 0, b0 - 1, 0), ESTALE);
	CHECK_ERR(ghost_txn_local_yield(E, 0, b0 + 7, 0), ESTALE);
	/* Only CPU 1's own agent may yield CPU 1; only RTLA_ON_IDLE is a yield flag. */
	CHECK_ERR(ghost_txn_local_yield(E, 1, ab(1), 0), EINVAL);
	CHECK_ERR(ghost_txn_local_yield(E, 0, b0, RTLA_ON_PREEMPT), EINVAL);
	CHECK_EQ(ab(0), b0);
}

/*
 * Group commit of CPUs {0, 1} from CPU 0's agent: CPU 1's txn fails, so the caller's own
 * txn (which would succeed: right agent barrier, NULL target) is POISONED.
 */
static void test_poisoned(void)
{
	struct task *a = &T[TA], *b = &T[TB];
	struct ghost_txn *t0 = ghost_enclave_txn(E, 0), *t1 = ghost_enclave_txn(E, 1);
	struct ghost_txn_opts o;
	struct ghost_cpuset both;
	uint32_t b0 = ab(0), b1 = ab(1);

	sync_task(b);
	ghost_cpuset_zero(&both);
	ghost_cpuset_set(&both, 0);
	ghost_cpuset_set(&both, 1);
	o = O(b->gtid, b->seq - 1);
	CHECK_OK(ghost_txn_open(E, 1, &o));
	o = O(GHOST_NULL_GTID, 0);
	o.agent_barrier = b0;
	CHECK_OK(ghost_txn_open(E, 0, &o));
	CHECK_EQ(ghost_txn_commit_set(E, &both), 0);
	CHECK_MSG(ghost_txn_state(t1) == GHOST_TXN_TARGET_STALE, "cpu 1: %s",
		  ghost_txn_reason(ghost_txn_state(t1)));
	CHECK_MSG(ghost_txn_state(t0) == GHOST_TXN_POISONED, "cpu 0: %s",
		  ghost_txn_reason(ghost_txn_state(t0)));
	CHECK_EQ(ab(0), b0);
	CHECK_EQ(ab(1), b1);
	check_running(a);
	check_parked(b, 10);
}

/* A spins in a tight loop on CPU 1; B is committed there: A is preempted, B runs. */
static void test_preempt_spinner(void)
{
	struct task *a = &T[TA], *b = &T[TB];
	int npre = NMSG(a, MSG_TASK_PREEMPT);
	int64_t t0;

	check_running(a);
	sync_task(b);
	t0 = ghost_now_ns();
	EXPECT_TXN(1, O(b->gtid, b->seq), GHOST_TXN_COMPLETE);
	CHECK_WAIT(NMSG(a, MSG_TASK_PREEMPT) == npre + 1 && !on_cpu(a), 1000);
	CHECK_WAIT(LOAD(b->ran) == 1 && on_cpu(b), 1000);
	CHECK_MSG(ghost_now_ns() - t0 < 1000000000LL, "preemption took %" PRId64 " ns",
		  ghost_now_ns() - t0);
	CHECK_EQ(a->preempt_cpu, 1);
	CHECK_EQ(a->preempt_was_latched, 0);
	CHECK(ghost_sw_runnable(a->sw));
	check_running(b);
	check_parked(a, 20);
	/* B was committed without SEND_TASK_ON_CPU. */
	CHECK_EQ(NMSG(b, MSG_TASK_ON_CPU), 0);
}

/* GHOST_NULL_GTID on a busy CPU forces its task off. */
static void test_null_preempts(void)
{
	struct task *b = &T[TB];
	int npre = NMSG(b, MSG_TASK_PREEMPT);
	uint32_t b1 = ab(1);

	check_running(b);
	EXPECT_TXN(1, O(GHOST_NULL_GTID, 0), GHOST_TXN_COMPLETE);
	CHECK_EQ(ab(1), b1 + 1);
	CHECK_WAIT(NMSG(b, MSG_TASK_PREEMPT) == npre + 1, 1000);
	CHECK_WAIT(!on_cpu(b), 1000);
	CHECK_EQ(b->preempt_cpu, 1);
	CHECK(ghost_sw_runnable(b->sw));
	check_parked(b, 20);
	/* NULL on an idle CPU is fine too. */
	EXPECT_TXN(1, O(GHOST_NULL_GTID, 0), GHOST_TXN_COMPLETE);
}

/* C blocks in ghost_wait, E in ghost_sleep_ns: committing them is TARGET_NOT_RUNNABLE. */
static void test_not_runnable(void)
{
	struct task *c = &T[TC], *e = &T[TE];
	uint64_t seq0;

	/* C runs, then blocks. */
	sync_task(c);
	EXPECT_TXN(1, O(c->gtid, c->seq), GHOST_TXN_COMPLETE);
	CHECK_WAIT(NMSG(c, MSG_TASK_BLOCKED) == 1, 1000);
	CHECK_EQ(LOAD(c->ran), 1);
	sync_task(c);
	CHECK(!ghost_sw_runnable(c->sw));
	CHECK(!on_cpu(c));
	EXPECT_TXN(1, O(c->gtid, c->seq), GHOST_TXN_TARGET_NOT_RUNNABLE);
	/* The stale check comes first. */
	EXPECT_TXN(1, O(c->gtid, c->seq - 1), GHOST_TXN_TARGET_STALE);

	/* E runs, then sleeps 400 ms. */
	sync_task(e);
	EXPECT_TXN(1, O(e->gtid, e->seq), GHOST_TXN_COMPLETE);
	CHECK_WAIT(NMSG(e, MSG_TASK_BLOCKED) == 1, 1000);
	sync_task(e);
	CHECK(!ghost_sw_runnable(e->sw));
	EXPECT_TXN(1, O(e->gtid, e->seq), GHOST_TXN_TARGET_NOT_RUNNABLE);
	CHECK_EQ(LOAD(e->woke), 0);

	/* Wake C from this (non-ghost) thread: TASK_WAKEUP, then it can run again. */
	seq0 = c->seq;
	STORE(c->word, 1);
	CHECK_EQ(ghost_wake(&c->word, 1), 1);
	CHECK_WAIT(NMSG(c, MSG_TASK_WAKEUP) == 1, 1000);
	CHECK(c->seq > seq0);
	sync_task(c);
	CHECK(ghost_sw_runnable(c->sw));
	CHECK_EQ(LOAD(c->woke), 0);
	EXPECT_TXN(1, O(c->gtid, c->seq), GHOST_TXN_COMPLETE);
	CHECK_WAIT(LOAD(c->woke) == 1, 1000);
	check_running(c);

	/* E's timer wakes it by itself (TASK_WAKEUP without anyone calling ghost_wake). */
	CHECK_WAIT(NMSG(e, MSG_TASK_WAKEUP) == 1, 2000);
	sync_task(e);
	CHECK(ghost_sw_runnable(e->sw));
	CHECK(!on_cpu(e));
	CHECK_EQ(LOAD(e->woke), 0);
}

static void test_sync_group(void)
{
	struct task *a = &T[TA], *c = &T[TC], *d = &T[TD];
	struct ghost_txn *txn = ghost_enclave_txn(E, 1);
	struct ghost_txn_opts o;
	struct ghost_cpuset one;
	int npre = NMSG(c, MSG_TASK_PREEMPT);

	ghost_cpuset_zero(&one);
	ghost_cpuset_set(&one, 1);
	CHECK_EQ(txn->u.sync_group_owner, -1);

	/* All (of one): D replaces C on CPU 1; the kernel releases ownership. */
	sync_task(d);
	o = O(d->gtid, d->seq);
	o.sync_group = true;
	o.sync_group_owner = 7;
	CHECK_OK(ghost_txn_open(E, 1, &o));
	CHECK_EQ(__atomic_load_n(&txn->u.sync_group_owner, __ATOMIC_ACQUIRE), 7);
	CHECK_EQ(ghost_txn_commit_sync_group(E, &one), 1);
	CHECK_EQ(ghost_txn_state(txn), GHOST_TXN_COMPLETE);
	CHECK_EQ(__atomic_load_n(&txn->u.sync_group_owner, __ATOMIC_ACQUIRE), -1);
	check_running(d);
	CHECK_WAIT(NMSG(c, MSG_TASK_PREEMPT) == npre + 1 && !on_cpu(c), 1000);

	/* None: a stale barrier for A; nothing runs, ownership is released. */
	sync_task(a);
	CHECK(!on_cpu(a));
	o = O(a->gtid, a->seq - 1);
	o.sync_group = true;
	o.sync_group_owner = 7;
	CHECK_OK(ghost_txn_open(E, 1, &o));
	CHECK_EQ(ghost_txn_commit_sync_group(E, &one), 0);
	CHECK_MSG(ghost_txn_state(txn) == GHOST_TXN_TARGET_STALE, "%s",
		  ghost_txn_reason(ghost_txn_state(txn)));
	CHECK_EQ(__atomic_load_n(&txn->u.sync_group_owner, __ATOMIC_ACQUIRE), -1);
	check_parked(a, 100);
	CHECK(ghost_sw_runnable(a->sw));
	check_running(d);
}

/* ELIDE_AGENT_BARRIER_INC: no bump on success; DO_NOT_PREEMPT on an idle CPU succeeds. */
static void test_elide_and_idle(void)
{
	struct task *a = &T[TA], *d = &T[TD], *e = &T[TE];
	struct ghost_txn_opts o;
	int npre = NMSG(d, MSG_TASK_PREEMPT);
	uint32_t b1;

	sync_task(a);
	b1 = ab(1);
	o = O(a->gtid, a->seq);
	o.commit_flags = ELIDE_AGENT_BARRIER_INC;
	EXPECT_TXN(1, o, GHOST_TXN_COMPLETE);
	CHECK_WAIT(NMSG(d, MSG_TASK_PREEMPT) == npre + 1 && !on_cpu(d), 1000);
	check_running(a);
	CHECK_EQ(ab(1), b1);
	npre = NMSG(a, MSG_TASK_PREEMPT);
	EXPECT_TXN(1, O(GHOST_NULL_GTID, 0), GHOST_TXN_COMPLETE);
	CHECK_EQ(ab(1), b1 + 1);
	CHECK_WAIT(NMSG(a, MSG_TASK_PREEMPT) == npre + 1 && !on_cpu(a), 1000);

	/* CPU 1 is idle now: DO_NOT_PREEMPT has nothing to refuse. */
	sync_task(e);
	o = O(e->gtid, e->seq);
	o.run_flags = DO_NOT_PREEMPT;
	EXPECT_TXN(1, o, GHOST_TXN_COMPLETE);
	CHECK_WAIT(LOAD(e->woke) == 1, 1000);
	check_running(e);
	npre = NMSG(e, MSG_TASK_PREEMPT);
	EXPECT_TXN(1, O(GHOST_NULL_GTID, 0), GHOST_TXN_COMPLETE);
	CHECK_WAIT(NMSG(e, MSG_TASK_PREEMPT) == npre + 1 && !on_cpu(e), 1000);
}

/* Ping wakes CPU 1's agent from its local yield and moves its barrier. */
static void test_ping(void)
{
	uint32_t b1, b0, r0;

	usleep(20000); /* CPU 1's agent is asleep in its local yield by now */
	b1 = ab(1);
	r0 = LOAD(A1.returns);
	CHECK_OK(ghost_txn_ping(E, 1));
	CHECK_WAIT(LOAD(A1.returns) > r0, 1000);
	CHECK_EQ(ab(1), b1 + 1);
	/* A second ping, a second return. */
	usleep(20000);
	r0 = LOAD(A1.returns);
	CHECK_OK(ghost_txn_ping(E, 1));
	CHECK_WAIT(LOAD(A1.returns) > r0, 1000);
	CHECK_EQ(ab(1), b1 + 2);
	/* Pinging ourselves (running) only moves our barrier. */
	b0 = ab(0);
	CHECK_OK(ghost_txn_ping(E, 0));
	CHECK_EQ(ab(0), b0 + 1);
	/* The same effect as a txn: GHOST_AGENT_GTID with run_flags 0, once CPU 1's agent is back
	 * asleep (a txn landing before it yields again moves the barrier it is about to pass:
	 * -ESTALE, not a return). */
	usleep(20000);
	b1 = ab(1);
	r0 = LOAD(A1.returns);
	EXPECT_TXN(1, O(GHOST_AGENT_GTID, 0), GHOST_TXN_COMPLETE);
	CHECK_WAIT(LOAD(A1.returns) > r0, 1000);
	CHECK_EQ(ab(1), b1 + 1);
	CHECK_EQ(A1.err, 0);
}

/* Every task runs to completion; TASK_NEW and TASK_DEAD pair up. */
static void finish_tasks(void)
{
	STORE(g_exit, 1);
	for (int i = 0; i < NT; i++) {
		struct task *t = &T[i];
		int64_t end = ghost_now_ns() + 5000000000LL;

		for (;;) {
			uint32_t f;

			drain();
			if (NMSG(t, MSG_TASK_DEAD))
				break;
			CHECK_MSG(ghost_now_ns() < end, "task %s never finished", t->name);
			f = ghost_sw_flags(t->sw);
			if ((f & GHOST_SW_TASK_RUNNABLE) && !(f & GHOST_SW_TASK_ONCPU) &&
			    ghost_sw_barrier(t->sw) == t->seq) {
				struct ghost_txn_opts o = O(t->gtid, t->seq);
				struct ghost_txn *txn = ghost_enclave_txn(E, 1);

				CHECK_OK(ghost_txn_open(E, 1, &o));
				ghost_txn_commit(E, 1);
				CHECK_MSG(ghost_txn_state(txn) == GHOST_TXN_COMPLETE ||
						  ghost_txn_state(txn) == GHOST_TXN_TARGET_STALE,
					  "finishing %s: %s", t->name,
					  ghost_txn_reason(ghost_txn_state(txn)));
				(void)WAIT_UNTIL(NMSG(t, MSG_TASK_DEAD) > 0, 1000);
			} else if (!(f & (GHOST_SW_TASK_RUNNABLE | GHOST_SW_TASK_ONCPU |
					  GHOST_SW_F_CANFREE))) {
				STORE(t->word, 1);
				ghost_wake(&t->word, 1);
			}
			usleep(200);
		}
	}
	for (int i = 0; i < NT; i++) {
		CHECK_OK(ghost_thread_join(T[i].th, NULL));
		T[i].th = NULL;
	}
	drain();
	for (int i = 0; i < NT; i++) {
		struct task *t = &T[i];

		CHECK_MSG(NMSG(t, MSG_TASK_NEW) == 1 && NMSG(t, MSG_TASK_DEAD) == 1,
			  "task %s: %d TASK_NEW, %d TASK_DEAD", t->name, NMSG(t, MSG_TASK_NEW),
			  NMSG(t, MSG_TASK_DEAD));
		CHECK_EQ(ghost_sw_barrier(t->sw), t->seq);
		CHECK(ghost_sw_can_free(t->sw));
		CHECK(!on_cpu(t));
		/* What each did: */
		CHECK(LOAD(t->ran) == 1);
		if (t->kind != K_SPIN)
			CHECK_EQ(LOAD(t->woke), 1);
		CHECK_OK(ghost_sw_free(E, &t->swi));
		CHECK_ERR(ghost_sw_free(E, &t->swi), EALREADY);
	}
	CHECK_EQ(NMSG(&T[TC], MSG_TASK_BLOCKED), 1);
	CHECK_EQ(NMSG(&T[TE], MSG_TASK_BLOCKED), 1);
	CHECK_EQ(NMSG(&T[TA], MSG_TASK_ON_CPU), 1);
}

/* The kernel's "stats" file has the line "fail_<state> <n>" (state named either way). */
static bool stats_has(const char *buf, int32_t state, int n)
{
	char a[96], b[96];

	snprintf(a, sizeof(a), "fail_%s %d\n", ghost_txn_state_name(state), n);
	snprintf(b, sizeof(b), "fail_%s %d\n", ghost_txn_reason(state), n);
	return strstr(buf, a) || strstr(buf, b);
}

static void check_counts(void)
{
	struct ghost_txn_counts n;
	char buf[8192];

	ghost_txn_get_counts(E, &n);
	CHECK(n.committed >= n.succeeded);
	CHECK(n.succeeded >= 10);
	CHECK_EQ(n.failed[GHOST_TXN_POISONED - GHOST_TXN_COMPLETE], 1);
	CHECK_EQ(n.failed[GHOST_TXN_UNSUPPORTED_VERSION - GHOST_TXN_COMPLETE], 1);
	CHECK_EQ(n.failed[GHOST_TXN_INVALID_CPU - GHOST_TXN_COMPLETE], 1);
	CHECK(n.failed[GHOST_TXN_INVALID_FLAGS - GHOST_TXN_COMPLETE] >= 10);
	/* The kernel side counted them too (the child's NOT_PERMITTED included). */
	CHECK(ghost_enclave_read_file(E, "stats", buf, sizeof(buf)) > 0);
	CHECK_MSG(stats_has(buf, GHOST_TXN_POISONED, 1), "%s", buf);
	CHECK_MSG(stats_has(buf, GHOST_TXN_NOT_PERMITTED, 2), "%s", buf);
	CHECK_MSG(stats_has(buf, GHOST_TXN_UNSUPPORTED_VERSION, 1), "%s", buf);
}

int main(int argc, char **argv)
{
	cpu_set_t mine;

	if (argc >= 2 && !strcmp(argv[1], "--child-commit"))
		return child_main(argc, argv);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || sched_getaffinity(0, sizeof(mine), &mine) ||
	    !CPU_ISSET(0, &mine) || !CPU_ISSET(1, &mine)) {
		printf("SKIP: needs CPUs 0 and 1\n");
		return TEST_SKIP;
	}
	signal(SIGALRM, on_alarm);
	alarm(60);
	snprintf(g_root, sizeof(g_root), "/tmp/test_emu_txn.XXXXXX");
	CHECK(mkdtemp(g_root) != NULL);
	atexit(cleanup_root);

	/* Reasons for every state a txn can show, the non-final ones included. */
	CHECK_STR(ghost_txn_reason(GHOST_TXN_COMPLETE), "COMPLETE");
	CHECK_STR(ghost_txn_reason(GHOST_TXN_POISONED), "POISONED");
	CHECK_STR(ghost_txn_reason(GHOST_TXN_READY), "READY");
	CHECK_STR(ghost_txn_reason(0), "CLAIMED");
	CHECK_STR(ghost_txn_reason(511), "CLAIMED");
	CHECK_STR(ghost_txn_reason(GHOST_TXN_POISONED + 1), "UNKNOWN");

	test_cpu_outside();

	setup();
	create_tasks();
	test_no_agent();
	start_agent1();
	run_child("0", "1"); /* NOT_PERMITTED from another process */
	test_complete();
	test_target_oncpu();
	test_do_not_preempt_busy();
	test_target_failures();
	test_invalid_flags();
	test_tampered();
	test_abort();
	test_agent_stale_local();
	test_poisoned();
	test_preempt_spinner();
	test_null_preempts();
	test_not_runnable();
	test_sync_group();
	test_elide_and_idle();
	test_ping();
	finish_tasks();
	check_counts();

	stop_agent1();
	/* CPU 1's agent is gone: its CPU has no agent again. */
	EXPECT_TXN(1, O(GHOST_NULL_GTID, 0), GHOST_TXN_NO_AGENT);
	ghost_enclave_agent_detach(E, 0);
	ghost_channel_destroy(C);
	CHECK_OK(ghost_enclave_ctl(E, "destroy"));
	ghost_enclave_close(E);
	printf("test_emu_txn: ok\n");
	return 0;
}
