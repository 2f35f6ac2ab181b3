/*
 * tests/test_e2e_policies.c - every built-in policy scheduling real threads
 * on the embedded kernel, agent and tasks in one process.
 *
 * Checks, for each policy of the registry: every task completes; the switch
 * trace never shows two tasks on a CPU or a task on two CPUs; no
 * sequence-number or malformed-message errors; with rings too small for the
 * load, the overflow is resynchronised and every task still completes.
 * Then: FIFO order on one CPU; the centralized and the round-robin time
 * slices let a second spinner in; the global agent moves when a normal
 * thread takes its CPU.
 */
#include "emu_helpers.h"

#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

static atomic_int completed;

static void *spin_sleep(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++) {
		volatile unsigned long x = 0;

		for (int j = 0; j < 100000; j++)
			x += (unsigned long)j;
		ghost_sleep_ns(500000);
	}
	atomic_fetch_add(&completed, 1);
	return NULL;
}

static void run_many(const char *policy, uint64_t id, int queue_elems)
{
	char cfg[64];
	struct ghost_enclave *e = test_enclave(test_ncpus() >= 2 ? "0-1" : "0", id);
	struct ghost_full_agent *fa;
	struct ghost_thread *t[24];
	struct emu_shared *sh;
	size_t size;

	snprintf(cfg, sizeof(cfg), "?time_slice=2ms ?slice=2ms ?queue_elems=%d",
		 queue_elems ? queue_elems : GHOST_MAX_QUEUE_ELEMS);
	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	atomic_store(&completed, 0);
	/*
	 * With small queues the threads enter first: their 24 TASK_NEWs wait for
	 * a queue and all go into the 16-slot ring at once when the agent sets
	 * its default queue, so the ring overflows whatever the timing.
	 */
	if (!queue_elems)
		fa = test_agent(e, policy, cfg);
	for (int i = 0; i < 24; i++)
		CHECK_OK(ghost_thread_create(e, &t[i], spin_sleep, NULL));
	if (queue_elems) {
		/* Every thread has entered (each has a task record). */
		for (int i = 0; i < 24; i++)
			CHECK(ghost_thread_gtid_of(t[i], 5000000000LL) > 0);
		fa = test_agent(e, policy, cfg);
	}
	for (int i = 0; i < 24; i++)
		CHECK_OK(ghost_thread_join(t[i], NULL));
	CHECK_EQ(atomic_load(&completed), 24);
	/* Let the last TASK_DEADs reach the agent before reading its counters. */
	for (int i = 0; i < 200; i++) {
		struct ghost_sched *s = policy_sched_of(ghost_full_agent_policy_state(fa));
		uint64_t dead;

		pthread_mutex_lock(&s->lock);
		dead = s->stats.msgs[MSG_TASK_DEAD];
		pthread_mutex_unlock(&s->lock);
		if (dead == 24)
			break;
		usleep(5000);
	}
	if (queue_elems) {
		/*
		 * Rings too small for the load: messages were lost, the agent
		 * resynchronised from the status words and every task finished
		 * (messages still in flight then are stale: older seqnums, or
		 * tasks the resync found gone; both are dropped and counted).
		 */
		struct ghost_sched *s = policy_sched_of(ghost_full_agent_policy_state(fa));

		CHECK_MSG(s->stats.overflows > 0, "%s: no overflow with %d-slot queues", policy,
			  queue_elems);
	} else {
		test_check_sched_clean(fa);
		CHECK_EQ(policy_sched_of(ghost_full_agent_policy_state(fa))
				 ->stats.msgs[MSG_TASK_NEW],
			 24);
	}
	sh = test_emu_state(id, &size);
	{
		int switches = test_check_trace(sh);

		/* Each ran at least 6 times (it starts, and wakes 5 times). */
		CHECK_MSG(switches >= 24 * 6, "%s, queues of %d: %d switches", policy, queue_elems,
			  switches);
	}
	CHECK_EQ(sh->nr_tasks, 0);
	munmap(sh, size);
	ghost_full_agent_stop(fa);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* ---- FIFO order on one CPU ---- */

static atomic_int order_next;
static int start_order[5], finish_order[5];

static void *ordered(void *arg)
{
	int me = (int)(long)arg;
	int64_t until;

	start_order[me] = atomic_fetch_add(&order_next, 1);
	until = ghost_now_ns() + 30000000;
	while (ghost_now_ns() < until)
		;
	finish_order[me] = atomic_fetch_add(&order_next, 1);
	return NULL;
}

static int nr_tasks(struct ghost_enclave *e)
{
	char buf[256], *p;

	CHECK(ghost_enclave_read_file(e, "status", buf, sizeof(buf)) > 0);
	p = strstr(buf, "nr_tasks ");
	CHECK(p != NULL);
	return atoi(p + 9);
}

static void fifo_order(void)
{
	struct ghost_enclave *e = test_enclave("0", 3);
	struct ghost_full_agent *fa = test_agent(e, "fifo-percpu", NULL);
	struct ghost_thread *t[5];

	atomic_store(&order_next, 0);
	/* Each task arrives (its TASK_NEW is sent) before the next is created. */
	for (int i = 0; i < 5; i++) {
		CHECK_OK(ghost_thread_create(e, &t[i], ordered, (void *)(long)i));
		for (int w = 0; w < 1000 && nr_tasks(e) < i + 1 && start_order[i] == 0; w++)
			usleep(1000);
	}
	for (int i = 0; i < 5; i++)
		CHECK_OK(ghost_thread_join(t[i], NULL));
	/* Run to completion in arrival order: start i, finish i, start i+1... */
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(start_order[i], 2 * i);
		CHECK_EQ(finish_order[i], 2 * i + 1);
	}
	test_check_sched_clean(fa);
	ghost_full_agent_stop(fa);
	ghost_enclave_destroy(e);
	ghost_enclave_close(e);
}

/* ---- the centralized time slice ---- */

static atomic_int stop_spinning;
static atomic_long progress[2];

static void *spinner(void *arg)
{
	int me = (int)(long)arg;

	while (!atomic_load(&stop_spinning))
		atomic_fetch_add(&progress[me], 1);
	return NULL;
}

/*
 * Two spinners on the one CPU that runs tasks (a centralized policy's global
 * agent owns CPU 0; rr runs on CPU 0 alone): only a time slice lets both run.
 */
static void time_slice(const char *policy, const char *cpus, uint64_t id, const char *opts,
		       bool sliced)
{
	struct ghost_enclave *e = test_enclave(cpus, id);
	struct ghost_full_agent *fa = test_agent(e, policy, opts);
	struct ghost_thread *t[2];
	long a, b;

	atomic_store(&stop_spinning, 0);
	atomic_store(&progress[0], 0);
	atomic_store(&progress[1], 0);
	for (int i = 0; i < 2; i++)
		CHECK_OK(ghost_thread_create(e, &t[i], spinner, (void *)(long)i));
	usleep(400000);
	if (sliced) {
		/* One of the two always waits: the stats count it (rr: the library's default). */
		struct ghost_agent_stats st = { 0 };

		for (int i = 0; i < 200 && !st.policy.runnable; i++) {
			CHECK_OK(ghost_full_agent_stats(fa, &st));
			usleep(2000);
		}
		CHECK_MSG(st.policy.runnable >= 1 && st.policy.tasks == 2,
			  "%s: tasks %u runnable %u", policy, st.policy.tasks, st.policy.runnable);
	}
	a = atomic_load(&progress[0]);
	b = atomic_load(&progress[1]);
	atomic_store(&stop_spinning, 1);
	for (int i = 0; i < 2; i++)
		CHECK_OK(ghost_thread_join(t[i], NULL));
	if (sliced)
		CHECK_MSG(a > 0 && b > 0, "%s %s: both spinners ran (%ld, %ld)", policy, opts, a,
			  b);
	else
		CHECK_MSG((a == 0) != (b == 0), "%s %s: only one spinner ran (%ld, %ld)", policy,
			  opts, a, b);
	test_check_sched_clean(fa);
	ghost_full_agent_stop(fa);
	ghost_enclave_destroy(e);
	ghost_enclave_close(e);
}

/* ---- attribute changes reach the agent ---- */

static void *changes_attrs(void *arg)
{
	struct ghost_cpuset all;

	(void)arg;
	ghost_cpuset_fill(&all, test_ncpus());
	CHECK_OK(ghost_thread_set_nice(5));
	CHECK_OK(ghost_thread_set_affinity(&all));
	CHECK(ghost_thread_is_ghost());
	return NULL;
}

static void attr_changes(void)
{
	struct ghost_enclave *e = test_enclave("0", 8);
	struct ghost_full_agent *fa = test_agent(e, "fifo-percpu", NULL);
	struct ghost_sched *s = policy_sched_of(ghost_full_agent_policy_state(fa));
	struct ghost_thread *t;

	CHECK_OK(ghost_thread_create(e, &t, changes_attrs, NULL));
	CHECK_OK(ghost_thread_join(t, NULL));
	test_check_sched_clean(fa);
	CHECK_EQ(s->stats.msgs[MSG_TASK_PRIORITY_CHANGED], 1);
	CHECK_EQ(s->stats.msgs[MSG_TASK_AFFINITY_CHANGED], 1);
	/* Each change took the task off its CPU. */
	CHECK(s->stats.msgs[MSG_TASK_PREEMPT] >= 2);
	ghost_full_agent_stop(fa);
	ghost_enclave_destroy(e);
	ghost_enclave_close(e);
}

/* ---- a destroyed enclave lets a spinning task go ---- */

static atomic_int released;

static void *spin_until_unpinned(void *arg)
{
	int64_t until = ghost_now_ns() + 5000000000LL;
	cpu_set_t set;

	(void)arg;
	/* Never calls the library: only the destroyer can unpin it. */
	while (ghost_now_ns() < until) {
		if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 1) {
			atomic_store(&released, 1);
			break;
		}
	}
	return NULL;
}

static void destroy_releases(void)
{
	struct ghost_enclave *e = test_enclave("1", 9);
	struct ghost_full_agent *fa = test_agent(e, "fifo-percpu", NULL);
	struct ghost_thread *t;

	atomic_store(&released, 0);
	CHECK_OK(ghost_thread_create(e, &t, spin_until_unpinned, NULL));
	usleep(200000); /* it runs, pinned to CPU 1 */
	CHECK_EQ(atomic_load(&released), 0);
	ghost_full_agent_stop(fa);
	CHECK_OK(ghost_enclave_destroy(e));
	CHECK_OK(ghost_thread_join(t, NULL));
	CHECK_MSG(atomic_load(&released), "the spinning task kept its CPU pin after the destroy");
	ghost_enclave_close(e);
}

/* ---- the global agent moves off a CPU that another thread wants ---- */

static atomic_int hog_stop;

static void *hog(void *arg)
{
	cpu_set_t set;

	(void)arg;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	while (!atomic_load(&hog_stop))
		;
	return NULL;
}

/*
 * A thread hogging the global agent's CPU: by default it just shares the CPU
 * (ghost tasks and agents are ordinary threads here) and the agent stays;
 * with ghOSt's strict semantics it is a higher class and the agent moves.
 */
static void global_moves(const char *policy, uint64_t id, int (*global_cpu)(void *state))
{
	struct ghost_enclave *e = test_enclave("0-1", id);
	struct ghost_full_agent *fa = test_agent(e, policy, "global_cpu=0");
	void *state = ghost_full_agent_policy_state(fa);
	char avail[32];
	pthread_t h;
	int where = 0;

	CHECK_EQ(global_cpu(state), 0);
	atomic_store(&hog_stop, 0);
	CHECK(pthread_create(&h, NULL, hog, NULL) == 0);
	usleep(300000); /* five of the kernel thread's windows */
	CHECK_MSG(global_cpu(state) == 0,
		  "%s: the global agent moved off a CPU it shares with "
		  "an ordinary thread",
		  policy);
	CHECK_OK(ghost_enclave_write_file(e, "strict_classes", "1"));
	for (int i = 0; i < 300 && where == 0; i++) {
		usleep(10000);
		where = global_cpu(state);
	}
	atomic_store(&hog_stop, 1);
	pthread_join(h, NULL);
	CHECK_MSG(where == 1, "%s: the global agent stayed on CPU %d", policy, where);
	/* Back to the default: every CPU is available again. */
	CHECK_OK(ghost_enclave_write_file(e, "strict_classes", "0"));
	CHECK_OK(ghost_enclave_read_file(e, "strict_classes", avail, sizeof(avail)));
	CHECK_EQ(atoi(avail), 0);
	for (int i = 0; i < 300 && !policy_cpu_available(e, 0); i++)
		usleep(10000);
	CHECK_MSG(policy_cpu_available(e, 0), "%s: CPU 0 stayed unavailable", policy);
	ghost_full_agent_stop(fa);
	ghost_enclave_destroy(e);
	ghost_enclave_close(e);
}

int main(void)
{
	test_root_make();
	ghost_log_set_callback(ghost_log_stderr, NULL,
			       getenv("GHOST_TEST_DEBUG") ? GHOST_LOG_DEBUG : GHOST_LOG_WARN);
	for (int i = 0; ghost_policy_all()[i]; i++) {
		const struct ghost_policy *p = ghost_policy_all()[i];

		if (p->min_cpus > (uint32_t)test_ncpus()) {
			printf("%s needs %u CPUs: skipped\n", p->name, p->min_cpus);
			continue;
		}
		run_many(p->name, (uint64_t)(20 + i), 0);
		/* Overflowing rings (a policy with its own queue size). */
		if (ghost_policy_param_find(p, "queue_elems"))
			run_many(p->name, (uint64_t)(40 + i), 16);
	}
	fifo_order();
	attr_changes();
	if (test_ncpus() < 2) {
		printf("the remaining tests need 2 CPUs\n");
		return 0;
	}
	destroy_releases();
	time_slice("fifo-centralized", "0-1", 4, "global_cpu=0 time_slice=5ms", true);
	time_slice("fifo-centralized", "0-1", 5, "global_cpu=0", false);
	time_slice("rr", "0", 9, "slice=5ms", true);
	time_slice("rr", "0", 10, "slice=1s", false);
	global_moves("fifo-centralized", 6, fifo_centralized_global_cpu);
	global_moves("shinjuku", 7, shinjuku_global_cpu);
	return 0;
}
