/*
 * tests/test_agent_stats.c - what an agent reports is true: the CPU time
 * ghost tasks ran counts a task that never leaves its CPU (the idle share
 * comes from it), the snapshot carries the CPUs and their availability,
 * and an agent whose tasks wait while nothing runs says so once, then says
 * when the stall ends.
 *
 * The stall is made by a policy of this file that never commits: what it
 * reports is exactly what waits. No timing is asserted; the stall check
 * runs once a second, so that part takes a few seconds.
 */
#include "emu_helpers.h"

#include <time.h>

/* ---- a task that runs and never leaves its CPU ---- */

static uint64_t spinner_cpu_ns;	  /* the spinner's own CPU clock, published */
static uint64_t spinner_start_ns; /* ... when it first ran on its ghost CPU */
static uint32_t spinner_stop;

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *spinner(void *arg)
{
	(void)arg;
	/* What the thread used before (entering the enclave) is not task time. */
	__atomic_store_n(&spinner_start_ns, thread_cpu_ns(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&spinner_stop, __ATOMIC_ACQUIRE))
		__atomic_store_n(&spinner_cpu_ns, thread_cpu_ns(), __ATOMIC_RELEASE);
	return NULL;
}

/*
 * While a spinner holds its CPU, the runtime the agent reports is at least
 * the CPU time the spinner has used: its status word counts the stint under
 * way (the messages would say nothing until it leaves).
 */
static void test_runtime_of_a_running_task(void)
{
	struct ghost_enclave *e = test_enclave("0", 1);
	struct ghost_full_agent *fa = test_agent(e, "fifo-percpu", NULL);
	struct ghost_agent_stats st;
	struct ghost_thread *th;
	uint64_t used = 0;

	CHECK_OK(ghost_thread_create(e, &th, spinner, NULL));
	for (int i = 0; i < 1000 && used < 50000000ULL; i++) {
		usleep(5000);
		used = __atomic_load_n(&spinner_cpu_ns, __ATOMIC_ACQUIRE);
	}
	CHECK_MSG(used >= 50000000ULL, "the spinner ran only %llu ns", (unsigned long long)used);
	for (int round = 0; round < 5; round++) {
		used = __atomic_load_n(&spinner_cpu_ns, __ATOMIC_ACQUIRE) -
		       __atomic_load_n(&spinner_start_ns, __ATOMIC_ACQUIRE);
		CHECK_OK(ghost_full_agent_stats(fa, &st));
		CHECK_MSG(st.policy.task_runtime_ns >= used,
			  "reported %llu ns of task time, the spinner alone used %llu",
			  (unsigned long long)st.policy.task_runtime_ns, (unsigned long long)used);
		CHECK_EQ(st.policy.tasks, 1);
		CHECK_EQ(st.policy.runnable, 0);
		CHECK(ghost_cpuset_test(&st.cpus, 0));
		CHECK_EQ(ghost_cpuset_count(&st.cpus), 1);
		CHECK(st.txn.committed >= 1);
		usleep(20000);
	}
	/* The stats line's idle share says the CPU was busy, not idle. */
	{
		char line[2048];
		const char *idle;

		CHECK(ghost_full_agent_format_stats(fa, line, sizeof(line)) > 0);
		idle = strstr(line, "| idle ");
		CHECK_MSG(idle != NULL, "%s", line);
		CHECK_MSG(strtod(idle + 7, NULL) < 100.0, "%s", line);
		CHECK_MSG(strstr(line, "cpus available") != NULL, "%s", line);
	}
	__atomic_store_n(&spinner_stop, 1, __ATOMIC_RELEASE);
	CHECK_OK(ghost_thread_join(th, NULL));
	/* Gone from the table, its time stays counted. */
	for (int i = 0; i < 500; i++) {
		CHECK_OK(ghost_full_agent_stats(fa, &st));
		if (st.policy.tasks == 0)
			break;
		usleep(10000);
	}
	CHECK_EQ(st.policy.tasks, 0);
	CHECK(st.policy.task_runtime_ns >= used);
	CHECK_OK(ghost_full_agent_stop(fa));
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* ---- a policy that never schedules anything ---- */

static uint32_t waiting; /* tasks that said TASK_NEW, minus those gone */

static void never_new(struct ghost_sched *s, struct ghost_task *t, const struct ghost_msg *m)
{
	(void)s, (void)t, (void)m;
	__atomic_add_fetch(&waiting, 1, __ATOMIC_RELAXED);
}

static void never_gone(struct ghost_sched *s, struct ghost_task *t, const struct ghost_msg *m)
{
	(void)s, (void)t, (void)m;
	__atomic_sub_fetch(&waiting, 1, __ATOMIC_RELAXED);
}

static const struct ghost_sched_ops never_ops = {
	.task_new = never_new,
	.task_dead = never_gone,
	.task_departed = never_gone,
};

struct never {
	struct ghost_sched sched;
	struct ghost_channel *chan;
	pthread_mutex_t lock;
};

static int never_init(struct ghost_full_agent *fa, void **state)
{
	struct ghost_enclave *e = ghost_full_agent_enclave(fa);
	struct never *n = calloc(1, sizeof(*n));
	int cpu0 = 0;

	CHECK(n != NULL);
	pthread_mutex_init(&n->lock, NULL);
	CHECK_OK(ghost_sched_init(&n->sched, e, &never_ops, n, sizeof(struct ghost_task)));
	CHECK_OK(ghost_channel_create(e, 64, 0, &n->chan));
	CHECK_OK(ghost_channel_config_wakeup(n->chan, &cpu0, 1));
	CHECK_OK(ghost_channel_set_default(n->chan));
	*state = n;
	return 0;
}

static void never_fini(void *state)
{
	struct never *n = state;

	ghost_sched_fini(&n->sched);
	ghost_channel_destroy(n->chan);
	free(n);
}

/* Reads every message, commits nothing, gives the CPU up until the next. */
static void never_loop(void *state, struct ghost_agent *a)
{
	struct never *n = state;
	uint32_t barrier = ghost_sw_barrier(ghost_agent_status_word(a));

	pthread_mutex_lock(&n->lock);
	ghost_sched_drain(&n->sched, n->chan);
	pthread_mutex_unlock(&n->lock);
	ghost_txn_local_yield(ghost_agent_enclave(a), ghost_agent_cpu(a), barrier, 0);
}

static void never_stats(void *state, struct ghost_policy_stats *out)
{
	struct never *n = state;

	pthread_mutex_lock(&n->lock);
	out->tasks = n->sched.tasks.count;
	out->runnable = __atomic_load_n(&waiting, __ATOMIC_RELAXED);
	out->task_runtime_ns = ghost_sched_task_runtime_ns(&n->sched, ghost_now_ns());
	pthread_mutex_unlock(&n->lock);
}

static const struct ghost_policy never_policy = {
	.name = "never",
	.init = never_init,
	.fini = never_fini,
	.agent_loop = never_loop,
	.get_stats = never_stats,
};

static char warnings[8192];
static pthread_mutex_t warnings_lock = PTHREAD_MUTEX_INITIALIZER;

static void collect(enum ghost_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level > GHOST_LOG_WARN)
		return;
	pthread_mutex_lock(&warnings_lock);
	if (strlen(warnings) + strlen(msg) + 2 < sizeof(warnings)) {
		strcat(warnings, msg);
		strcat(warnings, "\n");
	}
	pthread_mutex_unlock(&warnings_lock);
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static volatile int run_stop;
static struct ghost_full_agent *run_fa;

static void *process_run(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)ghost_agent_process_run(run_fa, 0, NULL, NULL, &run_stop);
}

static void *waiter(void *arg)
{
	(void)arg;
	/* Never scheduled: it only ever runs once it has left the enclave. */
	return NULL;
}

static void test_stall_is_reported(void)
{
	struct ghost_enclave *e = test_enclave("0", 2);
	struct ghost_full_agent_opts fo = {
		.sz = sizeof(fo),
		.enclave = e,
		.policy = &never_policy,
		.prio = GHOST_AGENT_PRIO_NORMAL,
	};
	struct ghost_thread *th[2];
	pthread_t runner;
	void *ret;

	ghost_log_set_callback(collect, NULL, GHOST_LOG_WARN);
	CHECK_OK(ghost_full_agent_start(&fo, &run_fa));
	CHECK_OK(pthread_create(&runner, NULL, process_run, NULL));
	for (int i = 0; i < 2; i++)
		CHECK_OK(ghost_thread_create(e, &th[i], waiter, NULL));
	/* Checked once a second: within four, the stall is reported. */
	for (int i = 0; i < 400; i++) {
		pthread_mutex_lock(&warnings_lock);
		bool seen = strstr(warnings, "nothing scheduled") != NULL;
		pthread_mutex_unlock(&warnings_lock);
		if (seen)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&warnings_lock);
	CHECK_MSG(count_of(warnings, "nothing scheduled") == 1, "%s", warnings);
	CHECK_MSG(strstr(warnings, "2 task(s) wait") != NULL, "%s", warnings);
	CHECK_MSG(strstr(warnings, "CPUs 0") != NULL, "%s", warnings);
	CHECK_MSG(strstr(warnings, "available to ghost: 0") != NULL, "%s", warnings);
	pthread_mutex_unlock(&warnings_lock);
	/* Still stalled a while later: said once, not every second. */
	usleep(2300000);
	pthread_mutex_lock(&warnings_lock);
	CHECK_MSG(count_of(warnings, "nothing scheduled") == 1, "%s", warnings);
	pthread_mutex_unlock(&warnings_lock);

	/* The enclave goes: its tasks leave and run; nothing waits any more. */
	__atomic_store_n(&waiting, 0, __ATOMIC_RELAXED);
	for (int i = 0; i < 400; i++) {
		pthread_mutex_lock(&warnings_lock);
		bool seen = strstr(warnings, "no task waits any more") != NULL;
		pthread_mutex_unlock(&warnings_lock);
		if (seen)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&warnings_lock);
	CHECK_MSG(count_of(warnings, "no task waits any more") == 1, "%s", warnings);
	pthread_mutex_unlock(&warnings_lock);

	__atomic_store_n(&run_stop, 1, __ATOMIC_RELAXED);
	CHECK_OK(pthread_join(runner, &ret));
	CHECK_EQ((intptr_t)ret, 0);
	CHECK_OK(ghost_full_agent_stop(run_fa));
	CHECK_OK(ghost_enclave_destroy(e));
	for (int i = 0; i < 2; i++)
		CHECK_OK(ghost_thread_join(th[i], NULL));
	ghost_enclave_close(e);
	ghost_log_set_callback(ghost_log_stderr, NULL, GHOST_LOG_WARN);
}

int main(void)
{
	test_root_make();
	test_runtime_of_a_running_task();
	test_stall_is_reported();
	printf("test_agent_stats: ok\n");
	return 0;
}
