/*
 * examples/round_robin.c - per-CPU round robin, the example of docs/policies.md.
 *
 * Every CPU has its own channel, queue and agent. New tasks are dealt to the CPUs in turn; a
 * task runs for a time slice, then goes to the back of its CPU's queue. CPU ticks wake the
 * agent to check the slice. Built in as "rr"; `make examples` builds it as a plugin.
 */
#include <ghost/ghost.h>

struct rr_task {
	struct ghost_task base; /* first: the scheduler base's record and queue links */
	int cpu;		/* the CPU whose queue and channel it uses */
};

struct rr_cpu {
	struct ghost_task_queue queue;
	struct rr_task *current, *last;
	int64_t since; /* when last got this CPU */
};

struct rr {
	struct ghost_sched sched; /* first: the library's scheduler base and lock */
	struct ghost_full_agent *fa;
	struct ghost_enclave *e;
	int64_t slice_ns;
	int deal; /* the CPU the last new task went to */
	struct rr_cpu cpu[GHOST_MAX_CPUS];
};

/* Its one parameter: name, type, offset (the config is one int64_t), default, range, help, flags */
static const struct ghost_policy_param rr_params[] = {
	{ "slice", GHOST_PARAM_DURATION, 0, "10ms", 1000000, 1000000000,
	  "how long a task runs while others wait on its CPU", 0 },
	{ 0 },
};

static void enqueue(struct rr *p, struct rr_task *t, bool front)
{
	if (p->cpu[t->cpu].current != t)
		ghost_task_queue_push(&p->cpu[t->cpu].queue, &t->base, front);
}

static void on_message(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct rr *p = s->policy;
	struct rr_task *t = (struct rr_task *)task;
	struct rr_cpu *c = &p->cpu[t->cpu];
	bool slice_left = c->last == t && ghost_now_ns() - c->since < p->slice_ns;

	if (c->current == t)
		c->current = NULL;
	if (c->last == t && m->type != MSG_TASK_PREEMPT)
		c->last = NULL; /* its next turn gets a whole slice */
	if (m->type == MSG_TASK_WAKEUP || m->type == MSG_TASK_YIELD || m->type == MSG_TASK_PREEMPT)
		enqueue(p, t, m->type == MSG_TASK_PREEMPT && slice_left); /* resumes its slice */
	else
		ghost_task_queue_remove(&c->queue, task); /* blocked, dead, departed */
}

static void on_new(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct rr *p = s->policy;
	struct rr_task *t = (struct rr_task *)task;
	struct ghost_msg_payload_task_new pl;
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(p->e);
	int cpu = ghost_cpuset_next(cpus, p->deal), r;

	p->deal = cpu = cpu < 0 ? ghost_cpuset_first(cpus) : cpu;
	/* Its messages go to its CPU's channel from now on, if it moved in time. */
	r = ghost_channel_associate(ghost_full_agent_channel(p->fa, cpu), task->gtid, task->seqnum);
	t->cpu = r >= 0 ? cpu : ghost_cpuset_first(cpus);
	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	if (pl.runnable) {
		enqueue(p, t, false);
		ghost_txn_ping(p->e, t->cpu); /* its agent may be asleep */
	}
}

static const struct ghost_sched_ops rr_ops = {
	.task_new = on_new,
	.task_wakeup = on_message,
	.task_blocked = on_message,
	.task_yield = on_message,
	.task_preempt = on_message,
	.task_dead = on_message,
	.task_departed = on_message,
};

static int rr_init(struct ghost_full_agent *fa, void **state)
{
	struct rr *p = *state;

	p->fa = fa;
	p->e = ghost_full_agent_enclave(fa);
	p->slice_ns = *(const int64_t *)ghost_full_agent_policy_config(fa);
	return ghost_enclave_set_tunable(p->e, GHOST_TUNABLE_DELIVER_TICKS, 1);
}

static void rr_loop(void *state, struct ghost_agent *a)
{
	struct rr *p = state;
	int cpu = ghost_agent_cpu(a), r = -1;
	struct rr_cpu *c = &p->cpu[cpu];
	struct ghost_txn_opts o = { .commit_flags = COMMIT_AT_TXN_COMMIT };
	struct rr_task *next;

	/* The barrier first: a message that comes after it makes the commit fail. */
	o.agent_barrier = ghost_sw_barrier(ghost_agent_status_word(a));
	pthread_mutex_lock(&p->sched.lock);
	ghost_sched_drain(&p->sched, ghost_agent_channel(a)); /* the library made it */
	next = c->current;
	if (next && c->queue.count && ghost_now_ns() - c->since >= p->slice_ns)
		next = NULL; /* its slice is used up: the next one in line (its PREEMPT requeues it) */
	if (!next)
		next = (struct rr_task *)ghost_task_queue_pop(&c->queue);
	o.target = next ? next->base.gtid : 0;
	o.target_barrier = next ? next->base.seqnum : 0;
	pthread_mutex_unlock(&p->sched.lock);
	/* Outside the lock: a local commit returns only when this agent runs again. */
	if (next && !ghost_agent_finishing(a))
		r = ghost_txn_open(p->e, cpu, &o) ? -1 : ghost_txn_commit(p->e, cpu);
	pthread_mutex_lock(&p->sched.lock);
	if (next && ghost_task_table_find(&p->sched.tasks, o.target) == &next->base) {
		if (r == 1 && next != c->last)
			c->since = ghost_now_ns();
		if (r == 1)
			c->current = c->last = next;
		else if (ghost_txn_state(ghost_enclave_txn(p->e, cpu)) !=
			 GHOST_TXN_TARGET_NOT_RUNNABLE)
			enqueue(p, next, true); /* a message is on its way: decide again then */
	}
	pthread_mutex_unlock(&p->sched.lock);
	if (r != 1) /* nothing to run, or a failed commit: wait for a message */
		ghost_txn_local_yield(p->e, cpu, o.agent_barrier, 0);
}

const struct ghost_policy round_robin_policy = {
	.name = "rr",
	.summary = "round robin per CPU: a time slice counted in CPU ticks (the guide's example)",
	.params = rr_params,
	.config_size = sizeof(int64_t),
	.state_size = sizeof(struct rr),
	.sched_ops = &rr_ops,
	.task_size = sizeof(struct rr_task),
	.channels = GHOST_POLICY_CHANNELS_PER_CPU, /* TASK_NEW comes to the first CPU's */
	.init = rr_init,
	.agent_loop = rr_loop,
};

GHOST_POLICY_PLUGIN(round_robin_policy);
