/*
 * policies/fifo_percpu.c - FIFO per-CPU: every agent schedules its own CPU.
 *
 * Each CPU has a channel (woken on that CPU) and a FIFO run queue. A new
 * runnable task gets the CPU with the fewest tasks and is moved there for good: its
 * messages are re-associated with that CPU's channel and that CPU's agent
 * is pinged. Each agent loop reads its barrier, drains its channel, picks
 * its current task or the head of its queue and commits it locally with
 * that barrier; preempted tasks and failed commits go to the front, wakeups
 * to the back (docs/policies.md: what each failure does). With nothing to run, or when a higher class wants the
 * CPU (BOOST_PRIO), the agent yields its CPU (RTLA_ON_IDLE if work waits).
 *
 * One policy lock guards the task table and every queue: TASK_NEW arrives
 * on CPU 0's channel and its agent fills other CPUs' queues. Commits happen
 * outside the lock (a local commit sleeps until the agent runs again).
 */
#include "fifo.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pcpu {
	struct ghost_channel *chan;
	struct ghost_task_queue rq;
	struct fifo_task *current;
	uint32_t assigned; /* live tasks moved here, blocked ones too */
};

struct percpu {
	struct ghost_sched sched; /* first: the library's scheduler base and lock */
	struct ghost_enclave *e;
	struct pcpu cpu[GHOST_MAX_CPUS];
};

struct percpu_config {
	int64_t queue_elems;
};

static const struct ghost_policy_param percpu_params[] = {
	POLICY_PARAM_QUEUE_ELEMS(struct percpu_config, queue_elems),
	{ 0 },
};

static struct percpu *of(struct ghost_sched *s)
{
	return s->policy;
}

static struct fifo_task *ft(struct ghost_task *t)
{
	return (struct fifo_task *)t;
}

static int least_loaded(struct percpu *p)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(p->e);
	uint32_t best_load = UINT32_MAX;
	int best = -1, cpu;

	/*
	 * Tasks stay where they are moved, so the load that counts is every task
	 * a CPU has, not just those runnable now: threads that start together
	 * and then wait for each other would otherwise all land on one CPU.
	 */
	ghost_cpuset_for_each(cpu, cpus) {
		uint32_t load = p->cpu[cpu].assigned;

		if (load < best_load) {
			best_load = load;
			best = cpu;
		}
	}
	return best;
}

/* Moves a runnable task to a CPU for good; false if its view is stale. */
static bool migrate(struct percpu *p, struct fifo_task *t)
{
	int cpu = least_loaded(p);
	int r;

	if (cpu < 0)
		return false;
	r = ghost_channel_associate(p->cpu[cpu].chan, t->base.gtid, t->base.seqnum);
	if (r < 0)
		return false; /* a newer message is on its way: retry then */
	t->cpu = cpu;
	p->cpu[cpu].assigned++;
	fifo_rq_push_back(&p->cpu[cpu].rq, t);
	/* Get that agent's attention (ours notices on its own). */
	ghost_txn_ping(p->e, cpu);
	return true;
}

static void enqueue(struct percpu *p, struct fifo_task *t, bool front)
{
	if (t->cpu < 0) {
		if (!migrate(p, t))
			t->state = FIFO_QUEUED; /* parked until its next message */
		return;
	}
	if (fifo_rq_contains(&p->cpu[t->cpu].rq, t))
		return;
	if (front)
		fifo_rq_push_front(&p->cpu[t->cpu].rq, t);
	else
		fifo_rq_push_back(&p->cpu[t->cpu].rq, t);
}

static void off_cpu(struct percpu *p, struct fifo_task *t)
{
	if (t->cpu >= 0 && p->cpu[t->cpu].current == t) {
		p->cpu[t->cpu].current = NULL;
	}
}

static void on_new(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct ghost_msg_payload_task_new pl;
	struct fifo_task *t = ft(task);

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	t->cpu = -1;
	t->state = FIFO_BLOCKED;
	/* Not runnable yet: its wakeup will come on this channel, then we move it. */
	if (pl.runnable)
		enqueue(of(s), t, false);
}

static void on_wakeup(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct fifo_task *t = ft(task);

	(void)m;
	/*
	 * At the back, in the order of arrival, deferrable or not (as
	 * fifo-centralized does): two tasks that wake each other in turn would
	 * otherwise keep the front of the queue for good, and the tasks behind
	 * them would never run. Preempted tasks still go to the front: they
	 * were running, and resume first.
	 */
	enqueue(of(s), t, false);
}

static void on_blocked(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct percpu *p = of(s);
	struct fifo_task *t = ft(task);

	(void)m;
	off_cpu(p, t);
	if (t->cpu >= 0)
		fifo_rq_remove(&p->cpu[t->cpu].rq, t);
	t->state = FIFO_BLOCKED;
}

static void on_preempt(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct percpu *p = of(s);
	struct fifo_task *t = ft(task);

	(void)m;
	off_cpu(p, t);
	t->prio_boost = true;
	enqueue(p, t, true);
}

static void on_yield(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct percpu *p = of(s);
	struct fifo_task *t = ft(task);

	(void)m;
	off_cpu(p, t);
	enqueue(p, t, false);
}

static void on_gone(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct percpu *p = of(s);
	struct fifo_task *t = ft(task);

	(void)m;
	off_cpu(p, t);
	if (t->cpu >= 0) {
		fifo_rq_remove(&p->cpu[t->cpu].rq, t);
		if (p->cpu[t->cpu].assigned)
			p->cpu[t->cpu].assigned--;
		t->cpu = -1;
	}
}

static void on_resync(struct ghost_sched *s, struct ghost_task *task, enum ghost_task_view view)
{
	struct percpu *p = of(s);
	struct fifo_task *t = ft(task);

	if (view != GHOST_TASK_VIEW_ONCPU)
		off_cpu(p, t);
	if (view == GHOST_TASK_VIEW_RUNNABLE) {
		enqueue(p, t, true);
	} else if (view == GHOST_TASK_VIEW_GONE) {
		on_gone(s, task, NULL);
	} else {
		if (t->cpu >= 0)
			fifo_rq_remove(&p->cpu[t->cpu].rq, t);
		if (view == GHOST_TASK_VIEW_BLOCKED)
			t->state = FIFO_BLOCKED;
	}
}

static const struct ghost_sched_ops percpu_ops = {
	.task_resync = on_resync,
	.task_new = on_new,
	.task_wakeup = on_wakeup,
	.task_blocked = on_blocked,
	.task_preempt = on_preempt,
	.task_yield = on_yield,
	.task_dead = on_gone,
	.task_departed = on_gone,
};

static int percpu_init(struct ghost_full_agent *fa, void **state)
{
	struct percpu *p = *state;
	int cpu;

	p->e = ghost_full_agent_enclave(fa);
	/* New tasks report to the first CPU's channel; its agent spreads them. */
	ghost_cpuset_for_each(cpu, ghost_enclave_cpus(p->e))
		p->cpu[cpu].chan = ghost_full_agent_channel(fa, cpu);
	return 0;
}

static void percpu_loop(void *state, struct ghost_agent *a)
{
	struct percpu *p = state;
	int cpu = ghost_agent_cpu(a);
	struct pcpu *pc = &p->cpu[cpu];
	const struct ghost_status_word *asw = ghost_agent_status_word(a);
	uint32_t barrier = ghost_sw_barrier(asw);
	int64_t gtid;
	uint32_t seqnum;
	struct fifo_task *next = NULL;
	bool boosted, pending, wait_off_cpu = false, refused = false;
	enum policy_failure why = POLICY_FAIL_RETRY;
	int32_t txn_state = 0;
	int r;

	pthread_mutex_lock(&p->sched.lock);
	ghost_sched_drain(&p->sched, pc->chan);
	if (ghost_agent_finishing(a)) {
		pthread_mutex_unlock(&p->sched.lock);
		return;
	}
	boosted = ghost_sw_boosted_priority(asw);
	if (!boosted) {
		next = pc->current;
		if (!next)
			next = fifo_rq_pop(&pc->rq);
	}
	pending = pc->current || pc->rq.count;
	/* Read under the lock: another agent's resync may change or free the record. */
	gtid = next ? next->base.gtid : 0;
	seqnum = next ? next->base.seqnum : 0;
	pthread_mutex_unlock(&p->sched.lock);

	if (!next) {
		ghost_txn_local_yield(p->e, cpu, barrier, boosted && pending ? RTLA_ON_IDLE : 0);
		return;
	}
	r = policy_commit_local(p->e, cpu, gtid, seqnum, barrier, &txn_state, &why);
	pthread_mutex_lock(&p->sched.lock);
	if (r == 1) {
		/* It ran; anything that happened since is in messages we drain next. */
		if (ghost_task_table_find(&p->sched.tasks, gtid) == &next->base &&
		    next->state != FIFO_BLOCKED) {
			pc->current = next;
			next->state = FIFO_ONCPU;
			next->prio_boost = false;
		}
	} else if (ghost_task_table_find(&p->sched.tasks, gtid) == &next->base &&
		   why == POLICY_FAIL_ONCPU && next->state != FIFO_BLOCKED) {
		/*
		 * Still on a CPU: we took ours from it when we woke, and its thread
		 * has yet to get off (on this backend a preemption completes only
		 * when the task's thread runs). Retrying now would keep it from
		 * doing so. It is our current task until its message says it
		 * left; give the CPU up until then.
		 */
		pc->current = next;
		next->state = FIFO_ONCPU;
		wait_off_cpu = true;
	} else if (ghost_task_table_find(&p->sched.tasks, gtid) == &next->base) {
		if (pc->current == next)
			pc->current = NULL;
		if (why == POLICY_FAIL_PARK) {
			/* Gone, blocked or not ours as far as the kernel knows,
			 * and we had read every message: its next one decides. */
			next->state = FIFO_BLOCKED;
		} else {
			next->prio_boost = true;
			if (next->state != FIFO_BLOCKED)
				fifo_rq_push_front(&pc->rq, next);
		}
		/* The CPU refused: give it up until something changes. */
		refused = why == POLICY_FAIL_CPU;
	}
	pthread_mutex_unlock(&p->sched.lock);
	if (wait_off_cpu || refused)
		ghost_txn_local_yield(p->e, cpu, barrier,
				      txn_state == GHOST_TXN_CPU_UNAVAIL ? RTLA_ON_IDLE : 0);
}

/* Tasks waiting in the run queues; under the base's lock. */
static uint32_t percpu_runnable(void *state)
{
	struct percpu *p = state;
	uint32_t n = 0;
	int cpu;

	ghost_cpuset_for_each(cpu, ghost_enclave_cpus(p->e))
		n += p->cpu[cpu].rq.count;
	return n;
}

const struct ghost_policy fifo_percpu_policy = {
	.name = "fifo-percpu",
	.summary = "FIFO per CPU: every agent schedules its own CPU",
	.params = percpu_params,
	.config_size = sizeof(struct percpu_config),
	.state_size = sizeof(struct percpu),
	.sched_ops = &percpu_ops,
	.task_size = sizeof(struct fifo_task),
	.channels = GHOST_POLICY_CHANNELS_PER_CPU,
	.init = percpu_init,
	.agent_loop = percpu_loop,
	.runnable = percpu_runnable,
};
