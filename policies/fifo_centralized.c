/*
 * policies/fifo_centralized.c - FIFO centralized: one global agent spins on
 * one CPU and schedules every other CPU; the other agents yield forever.
 *
 * The global agent polls the enclave's single channel (no wake-ups), keeps
 * one FIFO, and each round hands the queue's head to every available CPU
 * (no higher class on it, and either idle or its task's time slice used
 * up) in one group commit. Tasks with unread messages (seqnum behind their
 * status-word barrier) or still leaving a CPU sit the round out; a failed
 * commit puts its task back at the front; yielding tasks rejoin after the
 * round. When a higher class wants the global agent's own CPU it moves to
 * an available CPU: SMT siblings first, then L3 siblings, then its NUMA
 * node, then any, and pings the agent there.
 *
 * Only the global agent touches the scheduler state; the lock makes the
 * hand-over between agent threads safe.
 *
 * sol ("speed of light") is the same machinery with the least work per
 * decision: no time slice to check, and a yielding task goes straight to
 * the back of the queue instead of sitting a round out. It measures how
 * many decisions one global agent can make, as ghOSt's own SOL policy does.
 */
#include "fifo.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/topology.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ccpu {
	struct fifo_task *current;
	int64_t last_commit;
	int64_t refused_until; /* the CPU refused a commit: left alone until */
};

struct central {
	struct ghost_sched sched; /* first: the library's scheduler base and lock */
	struct ghost_enclave *e;
	struct ghost_channel *chan;
	struct ghost_task_queue rq;
	struct ghost_task_queue yielding;
	struct ccpu cpu[GHOST_MAX_CPUS];
	int global_cpu;	       /* read by every agent, written under lock */
	int64_t time_slice_ns; /* 0 = never preempt for time */
	uint64_t moves;	       /* times the global agent moved */
	bool sol;	       /* the sol policy: yields go straight back */
};

struct central_config {
	struct policy_central_config base; /* queue_elems, global_cpu */
	int64_t time_slice_ns;
};

static const struct ghost_policy_param central_params[] = {
	POLICY_PARAM_QUEUE_ELEMS(struct central_config, base.queue_elems),
	POLICY_PARAM_GLOBAL_CPU(struct central_config, base.global_cpu),
	{ .name = "time_slice",
	  .type = GHOST_PARAM_DURATION,
	  .offset = offsetof(struct central_config, time_slice_ns),
	  .def = "0ns",
	  .min = 0,
	  .max = 3600000000000LL,
	  .help = "preempt a task that ran this long while others wait (0: never)" },
	{ 0 },
};

static struct central *of(struct ghost_sched *s)
{
	return s->policy;
}

static struct fifo_task *ft(struct ghost_task *t)
{
	return (struct fifo_task *)t;
}

static void off_cpu(struct central *c, struct fifo_task *t)
{
	if (t->cpu >= 0 && c->cpu[t->cpu].current == t) {
		c->cpu[t->cpu].current = NULL;
	}
	t->cpu = -1;
}

static void on_new(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct ghost_msg_payload_task_new pl;
	struct fifo_task *t = ft(task);

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	t->cpu = -1;
	t->state = FIFO_BLOCKED;
	if (pl.runnable)
		fifo_rq_push_back(&of(s)->rq, t);
}

static void on_wakeup(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct fifo_task *t = ft(task);

	(void)m;
	if (t->state == FIFO_BLOCKED)
		fifo_rq_push_back(&of(s)->rq, t);
}

static void on_blocked(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct central *c = of(s);
	struct fifo_task *t = ft(task);

	(void)m;
	off_cpu(c, t);
	fifo_rq_remove(&c->rq, t);
	t->state = FIFO_BLOCKED;
}

static void on_preempt(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct central *c = of(s);
	struct fifo_task *t = ft(task);

	(void)m;
	off_cpu(c, t);
	if (fifo_rq_contains(&c->rq, t))
		return;
	/* Sliced tasks queue behind the others; anything else lost its CPU
	 * through no fault of its own and goes first. */
	if (t->sliced)
		fifo_rq_push_back(&c->rq, t);
	else
		fifo_rq_push_front(&c->rq, t);
	t->sliced = false;
}

static void on_yield(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct central *c = of(s);
	struct fifo_task *t = ft(task);

	(void)m;
	off_cpu(c, t);
	fifo_rq_remove(&c->rq, t);
	if (c->sol) {
		fifo_rq_push_back(&c->rq, t);
		return;
	}
	fifo_rq_push_back(&c->yielding, t);
	t->state = FIFO_YIELDING;
}

static void on_gone(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct central *c = of(s);
	struct fifo_task *t = ft(task);

	(void)m;
	off_cpu(c, t);
	fifo_rq_remove(&c->rq, t);
	fifo_rq_remove(&c->yielding, t);
}

static void on_resync(struct ghost_sched *s, struct ghost_task *task, enum ghost_task_view view)
{
	struct central *c = of(s);
	struct fifo_task *t = ft(task);

	if (view == GHOST_TASK_VIEW_ONCPU)
		return;
	off_cpu(c, t);
	fifo_rq_remove(&c->yielding, t);
	if (view == GHOST_TASK_VIEW_RUNNABLE) {
		if (!fifo_rq_contains(&c->rq, t))
			fifo_rq_push_front(&c->rq, t);
	} else {
		fifo_rq_remove(&c->rq, t);
		t->state = FIFO_BLOCKED;
	}
}

static const struct ghost_sched_ops central_ops = {
	.task_resync = on_resync,
	.task_new = on_new,
	.task_wakeup = on_wakeup,
	.task_blocked = on_blocked,
	.task_preempt = on_preempt,
	.task_yield = on_yield,
	.task_dead = on_gone,
	.task_departed = on_gone,
};

/* One round; returns how many txns it committed. */
static int global_schedule(struct central *c)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(c->e);
	struct ghost_cpuset avail, assigned;
	struct ghost_task_queue skipped = { 0 };
	struct fifo_task *prev[GHOST_MAX_CPUS];
	int64_t now = ghost_now_ns();
	int cpu;

	ghost_cpuset_zero(&avail);
	ghost_cpuset_zero(&assigned);
	ghost_cpuset_for_each(cpu, cpus) {
		struct ccpu *cc = &c->cpu[cpu];

		if (cpu == c->global_cpu || !policy_cpu_available(c->e, cpu) ||
		    now < cc->refused_until)
			continue;
		if (cc->current && (!c->time_slice_ns || now - cc->last_commit < c->time_slice_ns))
			continue;
		ghost_cpuset_set(&avail, cpu);
	}
	while (!ghost_cpuset_empty(&avail)) {
		struct fifo_task *next = fifo_rq_pop(&c->rq);
		struct ghost_txn_opts o = { 0 };
		struct ccpu *cc;

		if (!next)
			break;
		/* Unread messages, or still leaving a CPU: not this round. */
		if (!next->base.sw || ghost_sw_barrier(next->base.sw) != next->base.seqnum ||
		    ghost_sw_on_cpu(next->base.sw)) {
			fifo_rq_push_back(&skipped, next);
			continue;
		}
		cpu = ghost_cpuset_first(&avail);
		cc = &c->cpu[cpu];
		prev[cpu] = cc->current;
		if (cc->current)
			cc->current->sliced = true; /* its PREEMPT requeues it */
		cc->current = next;
		next->state = FIFO_ASSIGNED;
		next->cpu = cpu;
		o.target = next->base.gtid;
		o.target_barrier = next->base.seqnum;
		/* Remote commits do not check the agent barrier. */
		o.commit_flags = COMMIT_AT_TXN_COMMIT;
		if (ghost_txn_open(c->e, cpu, &o)) {
			cc->current = prev[cpu];
			cc->refused_until = now + POLICY_CPU_BACKOFF_NS;
			fifo_rq_push_front(&c->rq, next);
			next->cpu = -1;
			break;
		}
		ghost_cpuset_clear(&avail, cpu);
		ghost_cpuset_set(&assigned, cpu);
	}
	if (!ghost_cpuset_empty(&assigned)) {
		ghost_txn_commit_set(c->e, &assigned);
		now = ghost_now_ns();
		ghost_cpuset_for_each(cpu, &assigned) {
			struct ccpu *cc = &c->cpu[cpu];
			struct fifo_task *t = cc->current;

			if (ghost_txn_succeeded(ghost_enclave_txn(c->e, cpu))) {
				t->state = FIFO_ONCPU;
				t->prio_boost = false;
				cc->last_commit = now;
			} else {
				enum policy_failure why = policy_failure_of(
					ghost_txn_state(ghost_enclave_txn(c->e, cpu)));

				/* The CPU keeps what it had; the task goes back to the
				 * front, or waits for a message about it. */
				t->cpu = -1;
				if (why == POLICY_FAIL_PARK) {
					t->state = FIFO_BLOCKED;
				} else {
					t->prio_boost = true;
					fifo_rq_push_front(&c->rq, t);
				}
				if (why == POLICY_FAIL_CPU)
					cc->refused_until = now + POLICY_CPU_BACKOFF_NS;
				cc->current = prev[cpu];
				if (prev[cpu])
					prev[cpu]->sliced = false;
			}
		}
	}
	while (skipped.tail) {
		struct fifo_task *t = (struct fifo_task *)skipped.tail;

		fifo_rq_remove(&skipped, t);
		fifo_rq_push_front(&c->rq, t);
	}
	/* Yielders sat out one round; now they queue again. */
	while (c->yielding.head)
		fifo_rq_push_back(&c->rq, fifo_rq_pop(&c->yielding));
	return ghost_cpuset_count(&assigned);
}

/* The global agent's round: messages, then decisions. */
static int central_round(void *state, bool finishing)
{
	struct central *c = state;
	int work = ghost_sched_drain(&c->sched, c->chan);

	if (!finishing)
		work += global_schedule(c);
	return work;
}

static void central_loop(void *state, struct ghost_agent *a)
{
	struct central *c = state;

	policy_central_loop(a, &c->sched.lock, &c->global_cpu, &c->moves, central_round, c);
}

static int central_init(struct ghost_full_agent *fa, void **state)
{
	const struct central_config *cfg = ghost_full_agent_policy_config(fa);
	struct central *c = *state;

	c->e = ghost_full_agent_enclave(fa);
	c->chan = ghost_full_agent_channel(fa, 0);
	c->time_slice_ns = cfg->time_slice_ns;
	c->global_cpu = policy_global_cpu(c->e, &cfg->base);
	return 0;
}

static int sol_init(struct ghost_full_agent *fa, void **state)
{
	const struct policy_central_config *cfg = ghost_full_agent_policy_config(fa);
	struct central *c = *state;

	c->e = ghost_full_agent_enclave(fa);
	c->chan = ghost_full_agent_channel(fa, 0);
	c->sol = true;
	c->global_cpu = policy_global_cpu(c->e, cfg);
	return 0;
}

static uint32_t central_runnable(void *state)
{
	struct central *c = state;

	return c->rq.count + c->yielding.count;
}

/* Under the base's lock, after the generic line. */
static int central_format_stats(void *state, char *buf, size_t len)
{
	struct central *c = state;
	int n = snprintf(buf, len, "global cpu %d moves %llu",
			 __atomic_load_n(&c->global_cpu, __ATOMIC_ACQUIRE),
			 (unsigned long long)c->moves);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int fifo_centralized_global_cpu(void *state)
{
	return __atomic_load_n(&((struct central *)state)->global_cpu, __ATOMIC_ACQUIRE);
}

const struct ghost_policy fifo_centralized_policy = {
	.name = "fifo-centralized",
	.summary = "FIFO centralized: one spinning global agent schedules every CPU",
	.params = central_params,
	.config_size = sizeof(struct central_config),
	.state_size = sizeof(struct central),
	.sched_ops = &central_ops,
	.task_size = sizeof(struct fifo_task),
	.min_cpus = 2,
	.channels = GHOST_POLICY_CHANNELS_GLOBAL,
	.init = central_init,
	.agent_loop = central_loop,
	.runnable = central_runnable,
	.format_stats = central_format_stats,
};

static const struct ghost_policy_param sol_params[] = {
	POLICY_PARAM_QUEUE_ELEMS(struct policy_central_config, queue_elems),
	POLICY_PARAM_GLOBAL_CPU(struct policy_central_config, global_cpu),
	{ 0 },
};

const struct ghost_policy sol_policy = {
	.name = "sol",
	.summary = "speed-of-light centralized FIFO: the least work per decision (no time "
		   "slice), to measure what one global agent can drive",
	.params = sol_params,
	.config_size = sizeof(struct policy_central_config),
	.state_size = sizeof(struct central),
	.sched_ops = &central_ops,
	.task_size = sizeof(struct fifo_task),
	.min_cpus = 2,
	.channels = GHOST_POLICY_CHANNELS_GLOBAL,
	.init = sol_init,
	.agent_loop = central_loop,
	.runnable = central_runnable,
	.format_stats = central_format_stats,
};
