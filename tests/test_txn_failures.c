/*
 * tests/test_txn_failures.c - commit-failure storms on the embedded kernel, driven by hand (no
 * policy): the library warns once per storm and still counts, and the kernel still sees, every
 * failure.
 *
 * The main thread is the agent of CPU 0 and drains the default queue; a second thread is the
 * agent of CPU 1 and sits in local yield. Spinning task A is committed to CPU 1 and stays there;
 * B and C stay runnable, never run until the end. Storms are provoked by committing the same
 * txn over and over, exactly as a policy retrying at once would:
 *
 *  - A to CPU 1 without ALLOW_TASK_ONCPU: TARGET_ONCPU. No warning after GHOST_TXN_STORM_RUN - 1
 *    failures, exactly one at GHOST_TXN_STORM_RUN, none after 3 x GHOST_TXN_STORM_RUN, none after
 *    a success of A (ALLOW_TASK_ONCPU) and another full storm: reported once per task and reason.
 *    The line names the gtid, the reason, the count and docs/policies.md;
 *  - a different reason of the same task (A, TARGET_STALE) and a different task with that
 *    reason (B, TARGET_STALE) get a warning each;
 *  - only failures in a row count: a failure of C for another reason, or a success of A, in the
 *    middle of a run starts it again;
 *  - two threads storming one target at once (an unknown gtid, TARGET_NOT_FOUND, on CPU 0 and
 *    CPU 1): one warning between them;
 *  - more storms than the per-window cap: every storm line is for a distinct target and reason,
 *    at least the cap's worth go out, and some were held back if and only if a line said so
 *    (whatever the clock did meanwhile);
 *  - throughout, the per-reason counters and the kernel's own failure counters grow by exactly
 *    the number of commits made: the library answers no commit itself.
 *
 * Needs CPUs 0 and 1 (skips otherwise). Asserts outcomes and log lines, never timings.
 */
#include "hand_agent.h"
#include "test.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/kernel.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#define RUN	     GHOST_TXN_STORM_RUN
#define CAP	     16 /* storm lines per window (ghost/txn.h) */
/* Gtids no task of this test's enclave has (its three tasks are the only ones). */
#define FAKE_GTID(k) ((((int64_t)4190000 + (k)) << GHOST_GTID_SEQ_BITS) | 77)

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static char g_root[128];
static struct ghost_enclave *E;
static struct ghost_channel *C;
static uint32_t g_exit;

static void cleanup_root(void)
{
	if (g_root[0])
		test_rm_tree(g_root);
}

/* ---- the log ---------------------------------------------------------------------------- */

#define MAX_LINES 256
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_lines[MAX_LINES];
static int log_n;

static void on_log(enum ghost_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level != GHOST_LOG_WARN || !strstr(msg, "txn storm"))
		return;
	pthread_mutex_lock(&log_lock);
	if (log_n < MAX_LINES)
		log_lines[log_n++] = strdup(msg);
	pthread_mutex_unlock(&log_lock);
}

/*
 * Storm lines that report gtid failing for reason: for any reason with reason NULL, every
 * storm line with gtid 0 and reason NULL.
 */
static int storm_lines(int64_t gtid, const char *reason)
{
	char want[160];
	int n = 0;

	if (reason)
		snprintf(want, sizeof(want), "gtid %lld failed %s %d times in a row",
			 (long long)gtid, reason, RUN);
	else if (gtid)
		snprintf(want, sizeof(want), "gtid %lld failed ", (long long)gtid);
	else
		snprintf(want, sizeof(want), " times in a row ");
	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < log_n; i++) {
		if (!strstr(log_lines[i], want))
			continue;
		n++;
		/* Whole (not cut at the library's buffer) and pointing at the guide. */
		CHECK_MSG(strstr(log_lines[i], "docs/policies.md") != NULL, "%s", log_lines[i]);
	}
	pthread_mutex_unlock(&log_lock);
	return n;
}

/* Lines saying further storm lines are held back. */
static int held_back_lines(void)
{
	int n = 0;

	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < log_n; i++)
		n += strstr(log_lines[i], "storm warnings stop") != NULL;
	pthread_mutex_unlock(&log_lock);
	return n;
}

/* ---- counters --------------------------------------------------------------------------- */

static uint64_t lib_failed(int32_t state)
{
	struct ghost_txn_counts c;

	ghost_txn_get_counts(E, &c);
	return c.failed[state - GHOST_TXN_COMPLETE];
}

/* The kernel's own count of failures with state ("fail_TARGET_ONCPU <n>" in its stats file). */
static uint64_t kernel_failed(int32_t state)
{
	char buf[8192], key[64];
	const char *p;

	CHECK(ghost_enclave_read_file(E, "stats", buf, sizeof(buf)) > 0);
	snprintf(key, sizeof(key), "fail_%s ", ghost_txn_reason(state));
	p = strstr(buf, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* ---- tasks ------------------------------------------------------------------------------ */

struct task {
	const char *name;
	struct ghost_thread *th;
	pid_t tid;
	int64_t gtid;
	struct ghost_sw_info swi;
	const struct ghost_status_word *sw;
	uint32_t seq; /* seqnum of the last message read for it */
	int news, deads;
	uint64_t progress; /* written by the task */
};

enum { TA, TB, TC, NT };
static struct task T[NT] = {
	[TA] = { .name = "A" }, [TB] = { .name = "B" }, [TC] = { .name = "C" }
};

static void *task_fn(void *arg)
{
	struct task *t = arg;

	/* A tight loop that never calls the library. */
	while (!__atomic_load_n(&g_exit, __ATOMIC_RELAXED))
		__atomic_add_fetch(&t->progress, 1, __ATOMIC_RELAXED);
	return NULL;
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

static void drain(void)
{
	const struct ghost_msg *m;

	while ((m = ghost_channel_peek(C))) {
		int64_t gtid;
		struct task *t;

		CHECK(ghost_channel_msg_valid(C, m));
		CHECK_MSG(ghost_msg_is_task(m->type), "unexpected message type %u", m->type);
		gtid = ghost_msg_gtid(m);
		t = find_task(gtid, m->type == MSG_TASK_NEW);
		CHECK_MSG(t != NULL, "message type %u for unknown gtid %" PRId64, m->type, gtid);
		CHECK(m->seqnum > t->seq);
		t->seq = m->seqnum;
		if (m->type == MSG_TASK_NEW) {
			struct ghost_msg_payload_task_new p;

			ghost_msg_copy_payload(m, &p, sizeof(p));
			t->gtid = gtid;
			t->swi = p.sw_info;
			t->sw = ghost_sw_lookup(E, &t->swi);
			CHECK(t->sw != NULL);
			t->news++;
		} else if (m->type == MSG_TASK_DEAD) {
			t->deads++;
		}
		ghost_channel_consume(C, m);
	}
	CHECK_EQ(ghost_channel_overflow(C), 0);
}

/* Drains until cond holds; fails after ms (a hang, not a timing assertion). */
#define CHECK_WAIT(cond, ms)                                                   \
	do {                                                                   \
		int64_t _end = ghost_now_ns() + (int64_t)(ms)*1000000;         \
		for (;;) {                                                     \
			drain();                                               \
			if (cond)                                              \
				break;                                         \
			if (ghost_now_ns() > _end)                             \
				FAIL("waited %d ms for %s", (int)(ms), #cond); \
			usleep(100);                                           \
		}                                                              \
	} while (0)

/* ---- the agent of CPU 1: local yield until told to stop --------------------------------- */

static struct {
	pthread_t th;
	int attach_err;
	uint32_t ready, stop;
	int err;
} A1;

static void *agent1_main(void *arg)
{
	struct ghost_sw_info info;
	const struct ghost_status_word *sw = NULL;

	(void)arg;
	A1.attach_err = ghost_enclave_agent_attach(E, 1, C);
	if (!A1.attach_err &&
	    (ghost_sw_agent_info(E, 1, &info) || !(sw = ghost_sw_lookup(E, &info))))
		A1.attach_err = -EIO;
	STORE(A1.ready, 1);
	if (A1.attach_err)
		return NULL;
	while (!LOAD(A1.stop)) {
		int r = ghost_txn_local_yield(E, 1, ghost_sw_barrier(sw), 0);

		if (r && r != -ESTALE) {
			A1.err = r;
			break;
		}
	}
	ghost_enclave_agent_detach(E, 1);
	return NULL;
}

/* ---- commits ---------------------------------------------------------------------------- */

static struct ghost_txn_opts O(int64_t target, uint32_t barrier) {
	struct ghost_txn_opts o = {
		.target = target,
		.target_barrier = barrier,
		.commit_flags = COMMIT_AT_TXN_COMMIT,
	};

	return o;
}

/* Commits o on cpu n times; each must end in want (and reach the kernel: commit_time moves). */
static void
commit_n(int cpu, struct ghost_txn_opts o, int32_t want, int n, int line)
{
	struct ghost_txn *txn = ghost_enclave_txn(E, cpu);

	for (int i = 0; i < n; i++) {
		int64_t before = txn->commit_time;
		int r = ghost_txn_open(E, cpu, &o);

		if (r)
			FAIL("line %d: ghost_txn_open(cpu %d): %d", line, cpu, r);
		r = ghost_txn_commit(E, cpu);
		if (ghost_txn_state(txn) != want || r != (want == GHOST_TXN_COMPLETE))
			FAIL("line %d: commit %d of %d on cpu %d: %s (returned %d), expected %s",
			     line, i + 1, n, cpu, ghost_txn_reason(ghost_txn_state(txn)), r,
			     ghost_txn_reason(want));
		if (txn->commit_time < before)
			FAIL("line %d: commit %d: no commit_time from the kernel", line, i + 1);
	}
}
#define COMMIT_N(cpu, o, want, n) commit_n((cpu), (o), (want), (n), __LINE__)

/* ---- set-up and tear-down --------------------------------------------------------------- */

static void setup(void)
{
	/* The main thread is CPU 0's agent from now on (pinned to CPU 0). */
	C = test_hand_enclave(g_root, &E);
	CHECK_EQ(pthread_create(&A1.th, NULL, agent1_main, NULL), 0);
	while (!LOAD(A1.ready))
		usleep(100);
	CHECK_OK(A1.attach_err);
	for (int i = 0; i < NT; i++) {
		struct task *t = &T[i];

		CHECK_OK(ghost_thread_create(E, &t->th, task_fn, t));
		t->tid = ghost_thread_tid(t->th);
		CHECK_WAIT(t->news == 1, 2000);
		CHECK_WAIT(ghost_sw_barrier(t->sw) == t->seq, 1000);
	}
}

/* Every task runs to its end (committed to CPU 1 in turn), then the enclave goes. */
static void finish(void)
{
	STORE(g_exit, 1);
	for (int i = 0; i < NT; i++) {
		struct task *t = &T[i];
		int64_t end = ghost_now_ns() + 5000000000LL;

		for (;;) {
			uint32_t f;

			drain();
			if (t->deads)
				break;
			CHECK_MSG(ghost_now_ns() < end, "task %s never finished", t->name);
			f = ghost_sw_flags(t->sw);
			if ((f & GHOST_SW_TASK_RUNNABLE) && !(f & GHOST_SW_TASK_ONCPU) &&
			    ghost_sw_barrier(t->sw) == t->seq) {
				struct ghost_txn_opts o = O(t->gtid, t->seq);

				CHECK_OK(ghost_txn_open(E, 1, &o));
				CHECK_OK(ghost_txn_commit(E, 1));
			}
			usleep(200);
		}
	}
	for (int i = 0; i < NT; i++)
		CHECK_OK(ghost_thread_join(T[i].th, NULL));
	STORE(A1.stop, 1);
	CHECK_OK(ghost_txn_ping(E, 1));
	CHECK_EQ(pthread_join(A1.th, NULL), 0);
	CHECK_EQ(A1.err, 0);
	ghost_enclave_agent_detach(E, 0);
	ghost_channel_destroy(C);
	CHECK_OK(ghost_enclave_ctl(E, "destroy"));
	ghost_enclave_close(E);
}

/* ---- the scenarios ---------------------------------------------------------------------- */

/* A runs on CPU 1 and stays there. */
static void start_a(void)
{
	struct task *a = &T[TA];
	uint64_t p0;

	COMMIT_N(1, O(a->gtid, a->seq), GHOST_TXN_COMPLETE, 1);
	CHECK_WAIT(ghost_sw_on_cpu(a->sw), 1000);
	p0 = LOAD(a->progress);
	CHECK_WAIT(LOAD(a->progress) > p0, 1000);
	CHECK_WAIT(ghost_sw_barrier(a->sw) == a->seq, 1000);
}

/* TARGET_ONCPU over and over: one warning, at the RUN-th failure; every failure counted. */
static void test_oncpu_storm(void)
{
	struct task *a = &T[TA];
	uint64_t lib0 = lib_failed(GHOST_TXN_TARGET_ONCPU);
	uint64_t k0 = kernel_failed(GHOST_TXN_TARGET_ONCPU);
	struct ghost_txn_counts c0, c1;
	struct ghost_txn_opts allow;

	ghost_txn_get_counts(E, &c0);
	COMMIT_N(1, O(a->gtid, a->seq), GHOST_TXN_TARGET_ONCPU, RUN - 1);
	CHECK_EQ(storm_lines(a->gtid, "TARGET_ONCPU"), 0);
	COMMIT_N(1, O(a->gtid, a->seq), GHOST_TXN_TARGET_ONCPU, 1);
	CHECK_EQ(storm_lines(a->gtid, "TARGET_ONCPU"), 1);
	CHECK_EQ(storm_lines(0, NULL), 1);
	COMMIT_N(1, O(a->gtid, a->seq), GHOST_TXN_TARGET_ONCPU, 2 * RUN + 1);
	CHECK_EQ(storm_lines(a->gtid, "TARGET_ONCPU"), 1);
	/* Counted, every one, by the library and by the kernel. */
	ghost_txn_get_counts(E, &c1);
	CHECK_EQ(lib_failed(GHOST_TXN_TARGET_ONCPU) - lib0, 3 * RUN + 1);
	CHECK_EQ(kernel_failed(GHOST_TXN_TARGET_ONCPU) - k0, 3 * RUN + 1);
	CHECK_EQ(c1.committed - c0.committed, 3 * RUN + 1);
	CHECK_EQ(c1.succeeded, c0.succeeded);

	/* A success of A, then the same storm again: reported already, so quiet. */
	allow = O(a->gtid, a->seq);
	allow.allow_task_on_cpu = true;
	COMMIT_N(1, allow, GHOST_TXN_COMPLETE, 1);
	COMMIT_N(1, O(a->gtid, a->seq), GHOST_TXN_TARGET_ONCPU, 2 * RUN);
	CHECK_EQ(storm_lines(a->gtid, "TARGET_ONCPU"), 1);
	CHECK_EQ(storm_lines(0, NULL), 1);
	CHECK_EQ(lib_failed(GHOST_TXN_TARGET_ONCPU) - lib0, 5 * RUN + 1);
	CHECK_EQ(kernel_failed(GHOST_TXN_TARGET_ONCPU) - k0, 5 * RUN + 1);
	/* A never moved. */
	CHECK(ghost_sw_on_cpu(a->sw));
}

/* Another reason of the same task, and another task with that reason: a warning each. */
static void test_other_reason_and_task(void)
{
	struct task *a = &T[TA], *b = &T[TB];
	uint64_t lib0 = lib_failed(GHOST_TXN_TARGET_STALE);
	uint64_t k0 = kernel_failed(GHOST_TXN_TARGET_STALE);

	/* The barrier is checked before "on a CPU". */
	COMMIT_N(1, O(a->gtid, a->seq - 1), GHOST_TXN_TARGET_STALE, RUN + 5);
	CHECK_EQ(storm_lines(a->gtid, "TARGET_STALE"), 1);
	CHECK_EQ(storm_lines(a->gtid, "TARGET_ONCPU"), 1);
	COMMIT_N(1, O(b->gtid, b->seq + 1), GHOST_TXN_TARGET_STALE, RUN - 1);
	CHECK_EQ(storm_lines(b->gtid, "TARGET_STALE"), 0);
	COMMIT_N(1, O(b->gtid, b->seq + 1), GHOST_TXN_TARGET_STALE, 1);
	CHECK_EQ(storm_lines(b->gtid, "TARGET_STALE"), 1);
	CHECK_EQ(storm_lines(0, NULL), 3);
	CHECK_EQ(lib_failed(GHOST_TXN_TARGET_STALE) - lib0, 2 * RUN + 5);
	CHECK_EQ(kernel_failed(GHOST_TXN_TARGET_STALE) - k0, 2 * RUN + 5);
	CHECK(!ghost_sw_on_cpu(b->sw));
}

/* Only failures in a row make a storm. */
static void test_runs_restart(void)
{
	struct task *a = &T[TA], *c = &T[TC];
	struct ghost_txn_opts bad_c = O(c->gtid, c->seq), bad_a = O(a->gtid, a->seq), allow;

	/* Another reason in between (both COMMIT_AT bits: INVALID_FLAGS). */
	bad_c.commit_flags = COMMIT_AT_FLAGS;
	COMMIT_N(1, O(c->gtid, c->seq - 1), GHOST_TXN_TARGET_STALE, RUN - 1);
	COMMIT_N(1, bad_c, GHOST_TXN_INVALID_FLAGS, 1);
	COMMIT_N(1, O(c->gtid, c->seq - 1), GHOST_TXN_TARGET_STALE, RUN - 1);
	CHECK_EQ(storm_lines(c->gtid, NULL), 0);
	COMMIT_N(1, O(c->gtid, c->seq - 1), GHOST_TXN_TARGET_STALE, 1);
	CHECK_EQ(storm_lines(c->gtid, "TARGET_STALE"), 1);
	CHECK_EQ(storm_lines(c->gtid, "INVALID_FLAGS"), 0);

	/* A success in between. */
	bad_a.commit_flags = COMMIT_AT_FLAGS;
	allow = O(a->gtid, a->seq);
	allow.allow_task_on_cpu = true;
	COMMIT_N(1, bad_a, GHOST_TXN_INVALID_FLAGS, RUN - 1);
	COMMIT_N(1, allow, GHOST_TXN_COMPLETE, 1);
	COMMIT_N(1, bad_a, GHOST_TXN_INVALID_FLAGS, RUN - 1);
	CHECK_EQ(storm_lines(a->gtid, "INVALID_FLAGS"), 0);
	COMMIT_N(1, bad_a, GHOST_TXN_INVALID_FLAGS, 1);
	CHECK_EQ(storm_lines(a->gtid, "INVALID_FLAGS"), 1);
	CHECK_EQ(storm_lines(0, NULL), 5);
	CHECK(ghost_sw_on_cpu(a->sw));
}

/* Two threads storm one target at once, each on its own CPU's txn: one warning. */
static pthread_barrier_t go;

static void *second_committer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&go);
	/* Remote commits to CPU 0 from a thread that is no agent: the target is checked first. */
	COMMIT_N(0, O(FAKE_GTID(0), 0), GHOST_TXN_TARGET_NOT_FOUND, 5 * RUN);
	return NULL;
}

static void test_concurrent(void)
{
	uint64_t lib0 = lib_failed(GHOST_TXN_TARGET_NOT_FOUND);
	uint64_t k0 = kernel_failed(GHOST_TXN_TARGET_NOT_FOUND);
	pthread_t th;

	CHECK_EQ(pthread_barrier_init(&go, NULL, 2), 0);
	CHECK_EQ(pthread_create(&th, NULL, second_committer, NULL), 0);
	pthread_barrier_wait(&go);
	COMMIT_N(1, O(FAKE_GTID(0), 0), GHOST_TXN_TARGET_NOT_FOUND, 5 * RUN);
	CHECK_EQ(pthread_join(th, NULL), 0);
	pthread_barrier_destroy(&go);
	CHECK_EQ(storm_lines(FAKE_GTID(0), "TARGET_NOT_FOUND"), 1);
	CHECK_EQ(storm_lines(0, NULL), 6);
	CHECK_EQ(lib_failed(GHOST_TXN_TARGET_NOT_FOUND) - lib0, 10 * RUN);
	CHECK_EQ(kernel_failed(GHOST_TXN_TARGET_NOT_FOUND) - k0, 10 * RUN);
}

/* More storms than a window lets through; which window each falls in is the clock's business. */
static void test_cap(void)
{
	const int more = CAP + 4, storms = 6 + more;
	int lines, held;

	for (int k = 1; k <= more; k++)
		COMMIT_N(1, O(FAKE_GTID(k), 0), GHOST_TXN_TARGET_NOT_FOUND, RUN);
	lines = storm_lines(0, NULL);
	held = held_back_lines();
	CHECK_MSG(lines <= storms && lines >= CAP, "%d storm lines for %d storms", lines, storms);
	/* Something was held back if and only if a line said so. */
	CHECK_MSG((lines < storms) == (held > 0), "%d storm lines for %d storms, %d held back",
		  lines, storms, held);
	/* No target and reason twice. */
	for (int k = 1; k <= more; k++)
		CHECK(storm_lines(FAKE_GTID(k), "TARGET_NOT_FOUND") <= 1);
}

int main(void)
{
	cpu_set_t mine;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || sched_getaffinity(0, sizeof(mine), &mine) ||
	    !CPU_ISSET(0, &mine) || !CPU_ISSET(1, &mine)) {
		printf("SKIP: needs CPUs 0 and 1\n");
		return TEST_SKIP;
	}
	alarm(120);
	snprintf(g_root, sizeof(g_root), "/tmp/test_txn_failures.XXXXXX");
	CHECK(mkdtemp(g_root) != NULL);
	atexit(cleanup_root);
	ghost_log_set_callback(on_log, NULL, GHOST_LOG_WARN);

	setup();
	start_a();
	test_oncpu_storm();
	test_other_reason_and_task();
	test_runs_restart();
	test_concurrent();
	test_cap();
	finish();
	/* What a policy's author would have read. */
	for (int i = 0; i < log_n; i++) {
		printf("%s\n", log_lines[i]);
		free(log_lines[i]);
	}
	printf("test_txn_failures: ok\n");
	return 0;
}
