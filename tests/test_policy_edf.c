/*
 * tests/test_policy_edf.c - the edf policy on the embedded kernel, agent and
 * tasks in one process (2 CPUs: the global agent keeps one, tasks run on the
 * other).
 *
 * Checks: spinners, block/wake threads and many short threads all complete
 * (with roomy queues, and with queues so small that the rings overflow and
 * the agent resynchronises), the switch trace never shows two tasks on a CPU
 * or one task on two, no sequence-number or malformed-message errors; tasks
 * queued together run in the order of their keys (deadline minus the class's
 * estimate: an item's deadline, a repeating class's period, least laxity
 * first, a missed deadline counted) and a higher QoS before any deadline of
 * a lower one; a class's estimate starts at its exectime and moves toward
 * the runtimes seen; a waiting task preempts a running one only when its key
 * is earlier by more than preempt_margin; spinners of one QoS share the CPU
 * through postponed keys; every parameter parses, is refused when malformed
 * (-EINVAL) or out of range (-ERANGE), and takes effect in a run.
 *
 * The process has one PrioTable (the tests' "application"); a blocked ghost
 * thread (the keeper) keeps the agent's record of the process, and so the
 * class estimates, alive between batches. Orders come from each task taking
 * a sequence number when it first runs; nothing here asserts a duration.
 */
#include "emu_helpers.h"

#include <ghost/priotable.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define SEC 1000000000LL

/* Work classes of the process's table. */
enum {
	WC_GATE,   /* QoS 7: holds the task CPU while a batch queues */
	WC_SHORT,  /* QoS 1, 1 ms */
	WC_LONG,   /* QoS 1, 3.5 s: least laxity */
	WC_REPEAT, /* QoS 1, repeating every 13 s */
	WC_TINY,   /* QoS 1, 1 us: its estimate must grow */
	WC_HIGH,   /* QoS 3 */
	WC_COUNT
};
#define LONG_EXECTIME 3500000000ULL
#define TINY_EXECTIME 1000ULL

static struct ghost_prio_table *table;

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static void table_make(void)
{
	struct ghost_prio_table_opts po = { .sz = sizeof(po), .items = 32, .classes = WC_COUNT };
	static const struct {
		uint32_t qos, flags;
		uint64_t exectime, period;
	} wc[WC_COUNT] = {
		[WC_GATE] = { 7, GHOST_WORK_CLASS_ONESHOT, 0, 0 },
		[WC_SHORT] = { 1, GHOST_WORK_CLASS_ONESHOT, 1000000, 0 },
		[WC_LONG] = { 1, GHOST_WORK_CLASS_ONESHOT, LONG_EXECTIME, 0 },
		[WC_REPEAT] = { 1, GHOST_WORK_CLASS_REPEATING, 1000000, 13 * SEC },
		[WC_TINY] = { 1, GHOST_WORK_CLASS_ONESHOT, TINY_EXECTIME, 0 },
		[WC_HIGH] = { 3, GHOST_WORK_CLASS_ONESHOT, 1000000, 0 },
	};

	CHECK_OK(ghost_prio_table_create(&po, &table));
	for (uint32_t i = 0; i < WC_COUNT; i++) {
		struct ghost_work_class c = { .id = i,
					      .flags = wc[i].flags,
					      .qos = wc[i].qos,
					      .exectime = wc[i].exectime,
					      .period = wc[i].period };

		CHECK_OK(ghost_prio_table_set_class(table, &c));
	}
}

static void set_item(uint32_t sid, uint32_t wcid, int64_t gtid, uint64_t deadline)
{
	struct ghost_sched_item si = { .wcid = wcid,
				       .gpid = (uint64_t)gtid,
				       .flags = GHOST_SCHED_ITEM_RUNNABLE,
				       .deadline = deadline };

	CHECK_OK(ghost_prio_table_set_item(table, sid, &si));
}

/* Waits (up to 10 s) until cond holds. */
#define WAIT_FOR(cond, ...)                                            \
	do {                                                           \
		int64_t _end = ghost_now_ns() + 10 * SEC;              \
		while (!(cond)) {                                      \
			CHECK_MSG(ghost_now_ns() < _end, __VA_ARGS__); \
			usleep(1000);                                  \
		}                                                      \
	} while (0)

static long stat_of(struct ghost_full_agent *fa, const char *key)
{
	char line[2048];

	CHECK(ghost_full_agent_format_stats(fa, line, sizeof(line)) > 0);
	return counter_after(line, key);
}

static bool view_of(struct ghost_full_agent *fa, int64_t gtid, struct edf_task_view *v)
{
	return edf_task_view(ghost_full_agent_policy_state(fa), gtid, v) == 0;
}

static void agent_done(struct ghost_full_agent *fa, struct ghost_enclave *e)
{
	CHECK_OK(ghost_full_agent_stop(fa));
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* ---- the keeper: a blocked ghost thread of the process ---- */

static uint32_t keeper_word;
static struct ghost_thread *keeper;

static void *keeper_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&keeper_word, __ATOMIC_ACQUIRE))
		ghost_wait(&keeper_word, 0, 0);
	return NULL;
}

/* Returns once the keeper has blocked (the agent saw it finish its request). */
static void keeper_start(struct ghost_full_agent *fa, struct ghost_enclave *e)
{
	struct edf_task_view v;
	int64_t gtid;

	__atomic_store_n(&keeper_word, 0, __ATOMIC_RELEASE);
	CHECK_OK(ghost_thread_create(e, &keeper, keeper_main, NULL));
	gtid = ghost_thread_gtid_of(keeper, 5 * SEC);
	CHECK(gtid > 0);
	WAIT_FOR(view_of(fa, gtid, &v) && !v.queued && !v.in_request, "the keeper never blocked");
}

static void keeper_stop(void)
{
	__atomic_store_n(&keeper_word, 1, __ATOMIC_RELEASE);
	ghost_wake(&keeper_word, 1);
	CHECK_OK(ghost_thread_join(keeper, NULL));
}

/* The end of a test with a keeper: it goes, the agent saw every task end cleanly, all stop. */
static void keeper_done(struct ghost_full_agent *fa, struct ghost_enclave *e)
{
	keeper_stop();
	test_check_sched_clean(fa);
	agent_done(fa, e);
}

/* ---- every kind of thread runs to completion ---- */

static atomic_int completed;

static void spin_for(int64_t ns)
{
	int64_t until = ghost_now_ns() + ns;

	while (ghost_now_ns() < until)
		;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++) {
		spin_for(100000);
		ghost_sleep_ns(500000);
	}
	atomic_fetch_add(&completed, 1);
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	spin_for(30000000);
	atomic_fetch_add(&completed, 1);
	return NULL;
}

static void *short_one(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	for (int j = 0; j < 1000; j++)
		x += (unsigned long)j;
	atomic_fetch_add(&completed, 1);
	return NULL;
}

#define N_SLEEPERS 16
#define N_SPINNERS 2
#define N_SHORT	   40
#define N_MIX	   (N_SLEEPERS + N_SPINNERS + N_SHORT)

/*
 * Every kind at once. With overflow (and small queues in opts) the threads
 * enter before the agent starts: their TASK_NEWs all go into a ring too
 * small for them when the agent sets its queue, which overflows whatever the
 * timing.
 */
static void run_mix(uint64_t id, const char *opts, bool overflow, int task_cpu)
{
	struct ghost_enclave *e = test_enclave("0-1", id);
	struct ghost_full_agent *fa = NULL;
	struct ghost_thread *t[N_MIX];
	struct emu_shared *sh;
	const struct emu_trace_ent *tr;
	size_t size;

	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	atomic_store(&completed, 0);
	if (!overflow)
		fa = test_agent(e, "edf", opts);
	for (int i = 0; i < N_MIX; i++)
		CHECK_OK(ghost_thread_create(e, &t[i],
					     i < N_SLEEPERS		   ? sleeper
					     : i < N_SLEEPERS + N_SPINNERS ? spinner
									   : short_one,
					     NULL));
	if (overflow) {
		for (int i = 0; i < N_MIX; i++)
			CHECK(ghost_thread_gtid_of(t[i], 5 * SEC) > 0);
		fa = test_agent(e, "edf", opts);
	}
	for (int i = 0; i < N_MIX; i++)
		CHECK_OK(ghost_thread_join(t[i], NULL));
	CHECK_EQ(atomic_load(&completed), N_MIX);
	if (overflow) {
		struct ghost_sched *s = policy_sched_of(ghost_full_agent_policy_state(fa));

		/* Messages were lost, the agent resynchronised, every task finished. */
		CHECK_MSG(s->stats.overflows > 0, "no overflow with %s", opts);
	} else {
		test_check_sched_clean(fa);
		CHECK_EQ(policy_sched_of(ghost_full_agent_policy_state(fa))
				 ->stats.msgs[MSG_TASK_NEW],
			 N_MIX);
	}
	sh = test_emu_state(id, &size);
	CHECK(test_check_trace(sh) >= N_MIX + N_SLEEPERS * 5);
	CHECK_EQ(sh->nr_tasks, 0);
	/* Tasks ran only on the CPU the global agent leaves them. */
	tr = (const void *)((const char *)sh + sh->trace_off);
	for (uint32_t i = 0; i < sh->trace_head; i++)
		CHECK_MSG(tr[i].cpu == task_cpu, "task %lld on CPU %d", (long long)tr[i].gtid,
			  tr[i].cpu);
	munmap(sh, size);
	agent_done(fa, e);
	printf("mix (%s): %d threads done\n", opts, N_MIX);
}

/* ---- orders ---- */

static atomic_int run_seq;
static int first_run[16];
static atomic_int gate_running, gate_open;

static void *gate_main(void *arg)
{
	(void)arg;
	atomic_store(&gate_running, 1);
	while (!atomic_load(&gate_open))
		;
	return NULL;
}

static atomic_int done[16];

static void *job_main(void *arg)
{
	first_run[(long)arg] = atomic_fetch_add(&run_seq, 1);
	spin_for(2000000);
	atomic_store(&done[(long)arg], 1);
	return NULL;
}

struct job {
	uint32_t sid, wcid;
	int64_t deadline; /* realtime ns, 0 none */
	int expect;	  /* its place in the order the jobs first run */
	int64_t gtid;
	struct ghost_thread *t;
};

struct gate {
	struct ghost_thread *t;
	int64_t gtid;
};

/*
 * A gate task of the highest QoS takes the task CPU and keeps it until
 * gate_open: returns once the agent has read its item.
 */
static void gate_close(struct ghost_full_agent *fa, struct ghost_enclave *e, struct gate *g)
{
	struct edf_task_view v;

	atomic_store(&run_seq, 0);
	atomic_store(&gate_running, 0);
	atomic_store(&gate_open, 0);
	CHECK_OK(ghost_thread_create(e, &g->t, gate_main, NULL));
	g->gtid = ghost_thread_gtid_of(g->t, 5 * SEC);
	CHECK(g->gtid > 0);
	WAIT_FOR(atomic_load(&gate_running), "the gate never ran");
	set_item(0, WC_GATE, g->gtid, (uint64_t)(realtime_ns() + 1000 * SEC));
	WAIT_FOR(view_of(fa, g->gtid, &v) && v.qos == 7, "the gate's item was never read");
}

/* Starts the jobs behind the gate; returns once each waits with what its item says. */
static void jobs_queue(struct ghost_full_agent *fa, struct ghost_enclave *e, struct job *jobs,
		       int n)
{
	struct ghost_agent_stats st;
	struct edf_task_view v;

	for (int i = 0; i < n; i++) {
		CHECK_OK(ghost_thread_create(e, &jobs[i].t, job_main, (void *)(long)i));
		jobs[i].gtid = ghost_thread_gtid_of(jobs[i].t, 5 * SEC);
		CHECK(jobs[i].gtid > 0);
		set_item(jobs[i].sid, jobs[i].wcid, jobs[i].gtid, (uint64_t)jobs[i].deadline);
	}
	for (int i = 0; i < n; i++)
		WAIT_FOR(view_of(fa, jobs[i].gtid, &v) && v.sid == (int32_t)jobs[i].sid &&
				 v.wcid == jobs[i].wcid &&
				 v.item_deadline == (uint64_t)jobs[i].deadline && v.queued &&
				 v.in_request,
			 "job %d's item was never read", i);
	CHECK_OK(ghost_full_agent_stats(fa, &st));
	CHECK_EQ(st.policy.runnable, n);
	for (int i = 0; i < n; i++)
		CHECK_EQ(first_run[i], -1);
}

/*
 * Opens the gate; returns once every job ran and the agent heard of its end
 * (the keeper keeps the process known), having checked the order they
 * first ran in.
 */
static void jobs_release(struct ghost_full_agent *fa, struct gate *g, struct job *jobs, int n)
{
	struct edf_task_view v;

	atomic_store(&gate_open, 1);
	CHECK_OK(ghost_thread_join(g->t, NULL));
	for (int i = 0; i < n; i++)
		CHECK_OK(ghost_thread_join(jobs[i].t, NULL));
	for (int i = 0; i < n; i++)
		WAIT_FOR(!view_of(fa, jobs[i].gtid, &v), "job %d's death never arrived", i);
	WAIT_FOR(!view_of(fa, g->gtid, &v), "the gate's death never arrived");
	printf("  first runs of jobs 0..%d:", n - 1);
	for (int i = 0; i < n; i++)
		printf(" %d", first_run[i]);
	printf("\n");
	for (int i = 0; i < n; i++)
		CHECK_MSG(first_run[i] == jobs[i].expect, "job %d ran %d-th, not %d-th", i,
			  first_run[i], jobs[i].expect);
}

/*
 * Runs jobs queued together on the task CPU behind the gate. Returns the
 * deadline misses counted while they ran. The agent runs with
 * overrun_factor 0: a job's budget is then its whole span (seconds), so no
 * job committed but not yet running (its thread waiting for a busy host CPU)
 * is postponed behind the next one before it takes its sequence number.
 */
static long run_batch(struct ghost_full_agent *fa, struct ghost_enclave *e, struct job *jobs, int n)
{
	struct gate g;
	long misses;

	gate_close(fa, e, &g);
	jobs_queue(fa, e, jobs, n);
	misses = stat_of(fa, "deadline misses ");
	jobs_release(fa, &g, jobs, n);
	return stat_of(fa, "deadline misses ") - misses;
}

static void reset_first_run(void)
{
	for (int i = 0; i < 16; i++) {
		first_run[i] = -1;
		atomic_store(&done[i], 0);
	}
}

static void deadline_order(void)
{
	struct ghost_enclave *e = test_enclave("0-1", 20);
	struct ghost_full_agent *fa = test_agent(e, "edf", "global_cpu=0 overrun_factor=0");
	void *state = ghost_full_agent_policy_state(fa);
	int64_t base = realtime_ns() + 10 * SEC;
	/* Created in this order; the keys (deadline - estimate) say which runs when. */
	struct job jobs[] = {
		{ 1, WC_SHORT, base + 4 * SEC, 5 },  /* key base+4s-1ms */
		{ 2, WC_LONG, base + 6 * SEC, 3 },   /* base+2.5s: later deadline, less laxity */
		{ 3, WC_SHORT, base, 1 },	     /* base-1ms */
		{ 4, WC_REPEAT, 0, 4 },		     /* its period: about base+3s */
		{ 5, WC_SHORT, base + 2 * SEC, 2 },  /* base+2s-1ms */
		{ 6, WC_TINY, base + 8 * SEC, 6 },   /* base+8s */
		{ 7, WC_SHORT, base - 11 * SEC, 0 }, /* already a second late */
	};
	int n = (int)(sizeof(jobs) / sizeof(jobs[0]));
	struct edf_task_view v;
	int64_t est;
	uint64_t samples;
	long misses;

	keeper_start(fa, e);
	reset_first_run();
	/* What the estimates start from, before any request of the class ended. */
	misses = run_batch(fa, e, jobs, n);
	printf("deadline order: ok, %ld miss(es)\n", misses);
	CHECK_EQ(misses, 1);
	/* The long class started at its exectime and moved toward the ~2 ms its job ran;
	 * the tiny one moved up. */
	CHECK_OK(edf_class_estimate(state, getpid(), WC_LONG, &est, &samples));
	printf("estimates: long class %lld ns after %llu run(s)\n", (long long)est,
	       (unsigned long long)samples);
	CHECK_EQ(samples, 1);
	CHECK(est > 0 && est < (int64_t)LONG_EXECTIME);
	CHECK_OK(edf_class_estimate(state, getpid(), WC_TINY, &est, &samples));
	printf("estimates: tiny class %lld ns after %llu run(s)\n", (long long)est,
	       (unsigned long long)samples);
	CHECK_EQ(samples, 1);
	CHECK(est > (int64_t)TINY_EXECTIME);
	CHECK_ERR(edf_class_estimate(state, getpid(), WC_COUNT + 3, &est, &samples), ENOENT);
	CHECK_ERR(edf_task_view(state, 12345, &v), ENOENT);
	keeper_done(fa, e);
}

/* The estimate at a class's first request is its exectime, and the key is deadline - it. */
static void estimate_start(void)
{
	struct ghost_enclave *e = test_enclave("0-1", 21);
	struct ghost_full_agent *fa = test_agent(e, "edf", "estimate_weight=100 overrun_factor=0");
	void *state = ghost_full_agent_policy_state(fa);
	int64_t base = realtime_ns() + 10 * SEC, est;
	struct job jobs[] = {
		{ 1, WC_LONG, base, 0 },
		{ 2, WC_LONG, base + SEC, 1 },
	};
	struct edf_task_view v;
	struct gate g;
	uint64_t samples;

	keeper_start(fa, e);
	reset_first_run();
	/* One job alone, held back by the gate, to look at before it runs. */
	gate_close(fa, e, &g);
	jobs_queue(fa, e, jobs, 1);
	CHECK(view_of(fa, jobs[0].gtid, &v));
	CHECK_OK(edf_class_estimate(state, getpid(), WC_LONG, &est, &samples));
	CHECK_EQ(est, LONG_EXECTIME);
	CHECK_EQ(samples, 0);
	CHECK(v.has_class && v.qos == 1);
	CHECK_EQ(v.estimate, LONG_EXECTIME);
	CHECK_EQ(v.key, v.deadline - (int64_t)LONG_EXECTIME);
	jobs_release(fa, &g, jobs, 1);
	/* With weight 100 the estimate is the last runtime seen: far below 3.5 s. */
	CHECK_OK(edf_class_estimate(state, getpid(), WC_LONG, &est, &samples));
	CHECK_EQ(samples, 1);
	CHECK(est > 0 && est < (int64_t)LONG_EXECTIME / 2);
	/* The next request of the class is keyed with what was learnt. */
	reset_first_run();
	jobs[1].expect = 0;
	run_batch(fa, e, &jobs[1], 1);
	CHECK_OK(edf_class_estimate(state, getpid(), WC_LONG, &est, &samples));
	CHECK_EQ(samples, 2);
	printf("estimate: exectime %llu ns, then %lld ns after %llu runs (weight 100%%)\n",
	       (unsigned long long)LONG_EXECTIME, (long long)est, (unsigned long long)samples);
	keeper_done(fa, e);
}

static void qos_first(void)
{
	struct ghost_enclave *e = test_enclave("0-1", 22);
	struct ghost_full_agent *fa = test_agent(e, "edf", "overrun_factor=0");
	int64_t base = realtime_ns() + 10 * SEC;
	struct job jobs[] = {
		{ 8, WC_SHORT, base, 1 },
		{ 9, WC_HIGH, base + 20 * SEC, 0 }, /* the latest deadline, the highest QoS */
		{ 10, WC_SHORT, base + SEC, 2 },
	};

	keeper_start(fa, e);
	reset_first_run();
	CHECK_EQ(run_batch(fa, e, jobs, 3), 0);
	printf("QoS before deadline: ok\n");
	keeper_done(fa, e);
}

/* ---- preemption ---- */

static atomic_int stop_long;

static void *long_runner(void *arg)
{
	first_run[(long)arg] = atomic_fetch_add(&run_seq, 1);
	while (!atomic_load(&stop_long))
		;
	return NULL;
}

/*
 * L runs for good (deadline base+10s). E (base+9s) is within the 5 s margin:
 * it waits. F (base+1s) is beyond it: it takes L's CPU at once and runs
 * first; E gets the CPU only when F leaves it. Default deadlines of an hour (3600s)
 * keep any task from winning before its item is read; overrun_factor 0 keeps
 * L's key where it is.
 */
static void preemption(void)
{
	struct ghost_enclave *e = test_enclave("0-1", 23);
	struct ghost_full_agent *fa = test_agent(
		e, "edf", "preempt_margin=5s default_deadline=3600s overrun_factor=0 global_cpu=0");
	int64_t base = realtime_ns() + 10 * SEC;
	struct ghost_thread *l, *te, *tf;
	int64_t lg, eg, fg;
	struct edf_task_view v;
	long preempts;

	keeper_start(fa, e);
	reset_first_run();
	atomic_store(&run_seq, 0);
	atomic_store(&stop_long, 0);
	CHECK_OK(ghost_thread_create(e, &l, long_runner, (void *)0L));
	lg = ghost_thread_gtid_of(l, 5 * SEC);
	set_item(11, WC_SHORT, lg, (uint64_t)(base + 10 * SEC));
	WAIT_FOR(first_run[0] == 0 && view_of(fa, lg, &v) && v.sid == 11 && !v.queued,
		 "L never ran with its item");
	preempts = stat_of(fa, "preemptions ");
	CHECK_OK(ghost_thread_create(e, &te, job_main, (void *)1L));
	eg = ghost_thread_gtid_of(te, 5 * SEC);
	set_item(12, WC_SHORT, eg, (uint64_t)(base + 9 * SEC));
	WAIT_FOR(view_of(fa, eg, &v) && v.sid == 12 && v.queued, "E's item was never read");
	CHECK_OK(ghost_thread_create(e, &tf, job_main, (void *)2L));
	fg = ghost_thread_gtid_of(tf, 5 * SEC);
	set_item(13, WC_SHORT, fg, (uint64_t)(base + SEC));
	/* F and then E run while L still spins: L was preempted. */
	WAIT_FOR(atomic_load(&done[2]) && atomic_load(&done[1]), "F %d, E %d: not both done",
		 atomic_load(&done[2]), atomic_load(&done[1]));
	CHECK_OK(ghost_thread_join(tf, NULL));
	CHECK_OK(ghost_thread_join(te, NULL));
	printf("preemption: L %d, F %d, E %d (first runs)\n", first_run[0], first_run[2],
	       first_run[1]);
	CHECK_EQ(first_run[2], 1);
	CHECK_EQ(first_run[1], 2);
	CHECK(stat_of(fa, "preemptions ") - preempts >= 1);
	atomic_store(&stop_long, 1);
	CHECK_OK(ghost_thread_join(l, NULL));
	keeper_done(fa, e);
}

/*
 * Overrun: L (due at base+1s, its class expects 1 ms) spins for good; E (due
 * at base+5s) waits behind it only until L has run overrun_factor times its
 * estimate: then L's key moves a span (about 11 s) later and E takes the CPU.
 */
static void overrun(void)
{
	struct ghost_enclave *e = test_enclave("0-1", 25);
	struct ghost_full_agent *fa =
		test_agent(e, "edf", "overrun_factor=4 default_deadline=3600s global_cpu=0");
	int64_t base = realtime_ns() + 10 * SEC;
	struct ghost_thread *l, *te;
	struct edf_task_view v;
	int64_t lg, eg;
	long postponed, preempts;

	keeper_start(fa, e);
	reset_first_run();
	atomic_store(&run_seq, 0);
	atomic_store(&stop_long, 0);
	postponed = stat_of(fa, "postponed ");
	preempts = stat_of(fa, "preemptions ");
	CHECK_OK(ghost_thread_create(e, &l, long_runner, (void *)0L));
	lg = ghost_thread_gtid_of(l, 5 * SEC);
	set_item(14, WC_SHORT, lg, (uint64_t)(base + SEC));
	WAIT_FOR(first_run[0] == 0 && view_of(fa, lg, &v) && v.sid == 14 && v.in_request,
		 "L never ran with its item");
	CHECK_OK(ghost_thread_create(e, &te, job_main, (void *)1L));
	eg = ghost_thread_gtid_of(te, 5 * SEC);
	set_item(15, WC_SHORT, eg, (uint64_t)(base + 5 * SEC));
	WAIT_FOR(atomic_load(&done[1]), "E never ran beside an overrunning L");
	CHECK_OK(ghost_thread_join(te, NULL));
	printf("overrun: E ran while L spun; %ld postponement(s), %ld preemption(s)\n",
	       stat_of(fa, "postponed ") - postponed, stat_of(fa, "preemptions ") - preempts);
	CHECK(stat_of(fa, "postponed ") > postponed);
	CHECK(stat_of(fa, "preemptions ") > preempts);
	atomic_store(&stop_long, 1);
	CHECK_OK(ghost_thread_join(l, NULL));
	keeper_done(fa, e);
}

/* Two spinners of one QoS with no items share the CPU through postponed keys. */
static atomic_long progress[2];

static void *progress_spinner(void *arg)
{
	long me = (long)arg;

	while (!atomic_load(&stop_long))
		atomic_fetch_add(&progress[me], 1);
	return NULL;
}

static void postponed_turns(void)
{
	struct ghost_enclave *e = test_enclave("0-1", 24);
	struct ghost_full_agent *fa =
		test_agent(e, "edf", "default_deadline=1ms preempt_margin=20us global_cpu=0");
	struct ghost_thread *t[2];
	long a, b;

	atomic_store(&stop_long, 0);
	atomic_store(&progress[0], 0);
	atomic_store(&progress[1], 0);
	for (long i = 0; i < 2; i++)
		CHECK_OK(ghost_thread_create(e, &t[i], progress_spinner, (void *)i));
	/* One task CPU, two spinners that never yield: only postponed keys let both run. */
	WAIT_FOR(atomic_load(&progress[0]) > 0 && atomic_load(&progress[1]) > 0 &&
			 stat_of(fa, "postponed ") > 0,
		 "one spinner never ran (%ld, %ld)", (long)atomic_load(&progress[0]),
		 (long)atomic_load(&progress[1]));
	a = stat_of(fa, "preemptions ");
	b = stat_of(fa, "postponed ");
	atomic_store(&stop_long, 1);
	for (int i = 0; i < 2; i++)
		CHECK_OK(ghost_thread_join(t[i], NULL));
	printf("two spinners: both ran, %ld preemption(s) after %ld postponement(s)\n", a, b);
	CHECK(a >= 1);
	test_check_sched_clean(fa);
	agent_done(fa, e);
}

/* ---- parameters ---- */

static void params(void)
{
	const struct ghost_policy *p = ghost_policy_find("edf");
	static const struct {
		const char *good, *shown, *bad, *range;
	} cases[] = {
		{ "queue_elems=1024", "1024", "queue_elems=many", "queue_elems=0" },
		{ "global_cpu=1", "1", "global_cpu=first", "global_cpu=100000" },
		{ "default_deadline=2ms", "2ms", "default_deadline=soon", "default_deadline=50us" },
		{ "estimate_weight=50", "50", "estimate_weight=half", "estimate_weight=101" },
		{ "preempt_margin=20us", "20us", "preempt_margin=20furlongs",
		  "preempt_margin=10ns" },
		{ "overrun_factor=8", "8", "overrun_factor=twice", "overrun_factor=1001" },
	};
	char why[256], text[64];
	void *cfg;
	int n = 0;

	CHECK(p != NULL);
	CHECK_OK(ghost_policy_check(p, why, sizeof(why)));
	CHECK_EQ(p->min_cpus, 2);
	cfg = calloc(1, p->config_size);
	CHECK(cfg != NULL);
	CHECK_OK(ghost_policy_config_defaults(p, cfg));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char key[64];
		const struct ghost_policy_param *pp;

		snprintf(key, sizeof(key), "%.*s", (int)strcspn(cases[i].good, "="), cases[i].good);
		pp = ghost_policy_param_find(p, key);
		CHECK_MSG(pp != NULL && pp->help && pp->help[0], "%s", key);
		CHECK_OK(ghost_policy_config_parse(p, cfg, cases[i].good, why, sizeof(why)));
		CHECK_OK(ghost_policy_param_format(pp, cfg, text, sizeof(text)));
		CHECK_STR(text, cases[i].shown);
		CHECK_ERR(ghost_policy_config_parse(p, cfg, cases[i].bad, why, sizeof(why)),
			  EINVAL);
		CHECK_MSG(strstr(why, key) != NULL, "%s", why);
		CHECK_ERR(ghost_policy_config_parse(p, cfg, cases[i].range, why, sizeof(why)),
			  ERANGE);
		CHECK_MSG(strstr(why, key) != NULL, "%s", why);
		/* A refused value leaves the good one in place. */
		CHECK_OK(ghost_policy_param_format(pp, cfg, text, sizeof(text)));
		CHECK_STR(text, cases[i].shown);
	}
	/* Every parameter is covered above. */
	for (const struct ghost_policy_param *pp = p->params; pp->name; pp++)
		n++;
	CHECK_EQ(n, (int)(sizeof(cases) / sizeof(cases[0])));
	CHECK_ERR(ghost_policy_config_parse(p, cfg, "time_slice=1ms", why, sizeof(why)), ENOENT);
	free(cfg);
	printf("parameters: %d checked\n", n);
}

int main(void)
{
	test_root_make();
	ghost_log_set_callback(ghost_log_stderr, NULL,
			       getenv("GHOST_TEST_DEBUG") ? GHOST_LOG_DEBUG : GHOST_LOG_WARN);
	params();
	if (test_ncpus() < 2) {
		printf("the scheduling tests need CPUs 0 and 1\n");
		return 0;
	}
	table_make();
	run_mix(1, "global_cpu=0", false, 1);
	run_mix(2, "global_cpu=0 queue_elems=16", true, 1);
	/* Every parameter away from its default; the global agent on CPU 1. */
	run_mix(3,
		"queue_elems=1024 global_cpu=1 default_deadline=2ms estimate_weight=50 "
		"preempt_margin=20us overrun_factor=2",
		false, 0);
	deadline_order();
	estimate_start();
	qos_first();
	preemption();
	overrun();
	postponed_turns();
	ghost_prio_table_destroy(table);
	printf("test_policy_edf: ok\n");
	return 0;
}
