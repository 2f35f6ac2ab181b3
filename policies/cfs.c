/*
 * policies/cfs.c - CFS-like per CPU: every agent schedules its own CPU from a
 * run queue ordered by virtual runtime.
 *
 * Owns one channel and one red-black run queue per CPU; per task its
 * vruntime, weight (from its nice: TASK_NEW, then TASK_PRIORITY_CHANGED),
 * allowed CPUs and home CPU (the one whose channel its messages go to); per
 * CPU the current task and its slice. vruntime grows by the CPU time the
 * task's status word reports, times NICE_0_WEIGHT / weight. An agent runs the
 * queued task with the smallest vruntime for a slice of max(min_granularity,
 * latency * weight / the weight of every runnable task of the CPU), then
 * picks the smallest again. A new or woken task starts no lower than the
 * CPU's min_vruntime - latency / 2: a sleeper gets that much credit and no
 * more, so it cannot starve the others.
 *
 * What ends a slice: CPU_TICK. init turns the enclave's deliver_ticks on
 * (fini turns it off again if it was off): the kernel then ticks the agent of
 * every CPU that runs a task (each tick_us on the embedded kernel, each HZ on
 * ghOSt and sched_ext), which wakes it and takes the task off its CPU; the
 * agent gives the CPU back to the same task until its slice is used. Ticks are
 * what every backend has; ghost timers are not in the public API and a local
 * yield has no deadline. With ticks=false, or a backend that refuses them
 * ("ticks off" in the stats), a task keeps its CPU until it blocks or yields
 * or its agent wakes for something else.
 *
 * Affinity: ghost_thread_affinity_of() on TASK_NEW and TASK_AFFINITY_CHANGED
 * (the embedded kernel's own record of what the thread asked for, since it
 * pins the thread itself; elsewhere the thread's affinity). A task is queued
 * and run only on the enclave CPUs it allows; one that allows none of them
 * may use any (counted as "unaffine": stranding it would be worse).
 *
 * A new task goes to its least-loaded allowed CPU; with steal=true a CPU
 * with nothing to run takes a task from the CPU with the most queued. Every
 * move re-associates the task's messages with the new CPU's channel first,
 * and does not happen while a message about it is on its way (the message
 * brings it back to a decision).
 *
 * It never commits another CPU (local commits with the agent barrier only),
 * never commits a failed task again before draining (policy_failure_of),
 * never queues a task on a CPU it may not use, and never prints. One lock
 * (the base's) guards the table, every queue and the counters: TASK_NEW
 * arrives on the first CPU's channel and that agent fills the others' queues,
 * and thieves take from other CPUs' queues. Commits and yields happen
 * outside it.
 */
#include "common.h"
#include "rbtree.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CFS_NICE_0_WEIGHT 1024
/* How many of a victim's queued tasks a thief looks at for one it may run. */
#define CFS_STEAL_SCAN	  16

/* Weight by nice, -20 to 19: one nice level is about 10% of a CPU (x1.25). */
static const uint32_t cfs_weights[40] = {
	88761, 71755, 56483, 46273, 36291, /* -20 */
	29154, 23254, 18705, 14949, 11916, /* -15 */
	9548,  7620,  6100,  4904,  3906,  /* -10 */
	3121,  2501,  1991,  1586,  1277,  /* -5 */
	1024,  820,   655,   526,   423,   /* 0 */
	335,   272,   215,   172,   137,   /* 5 */
	110,   87,    70,    56,    45,	   /* 10 */
	36,    29,    23,    18,    15,	   /* 15 */
};

enum cfs_state {
	CFS_BLOCKED = 0, /* not runnable, or parked until its next message */
	CFS_QUEUED,	 /* in its home CPU's run queue */
	CFS_CURRENT,	 /* its home CPU's current task: on it, or about to be again */
	CFS_LEAVING,	 /* on a CPU it no longer owns: its off-CPU message queues it */
	CFS_UNPLACED,	 /* runnable, but a move failed: any message about it retries */
};

struct cfs_task {
	struct ghost_task base; /* first: the scheduler base's record */
	struct policy_rb_node node;
	struct policy_rb_tree *rq; /* the run queue it is in, NULL if none */
	uint64_t vruntime;
	uint64_t seq;	      /* when it was queued: equal vruntimes go in that order */
	uint64_t accounted;   /* its CPU time already turned into vruntime */
	uint64_t slice_start; /* its CPU time when its slice began */
	uint64_t slice_ns;
	struct ghost_cpuset allowed; /* the enclave CPUs it may run on */
	uint32_t weight;
	int nice;
	int cpu;       /* home: whose channel its messages go to; -1 none yet */
	uint8_t state; /* enum cfs_state */
	bool oncpu;    /* committed, and its off-CPU message not read yet */
};

struct cfs_cpu {
	struct policy_rb_tree rq;
	struct cfs_task *curr;
	uint64_t min_vruntime;	/* never decreases */
	uint64_t queued_weight; /* of the tasks in rq */
	uint32_t assigned;	/* live tasks at home here */
	bool idle;		/* its agent yields with nothing to do: ping it for work */
	bool slice_ended;	/* a slice ended since its agent last picked */
};

struct cfs_config {
	int64_t queue_elems;
	int64_t min_granularity_ns;
	int64_t latency_ns;
	bool steal;
	bool ticks;
};

struct cfs {
	struct ghost_sched sched; /* first: the library's scheduler base and lock */
	struct ghost_enclave *e;
	struct ghost_channel *chan[GHOST_MAX_CPUS]; /* the library's, one per CPU */
	struct cfs_config cfg;
	int self_cpu;	/* the CPU whose agent holds the lock; -1 */
	bool ticking;	/* the enclave delivers CPU_TICK */
	bool ticks_set; /* init turned deliver_ticks on: fini turns it off */
	uint64_t seq;
	uint64_t slices, steals, moves, renices, affinity_changes, unaffine;
	struct cfs_cpu cpu[GHOST_MAX_CPUS];
};

static const struct ghost_policy_param cfs_params[] = {
	POLICY_PARAM_QUEUE_ELEMS(struct cfs_config, queue_elems),
	{ .name = "min_granularity",
	  .type = GHOST_PARAM_DURATION,
	  .offset = offsetof(struct cfs_config, min_granularity_ns),
	  .def = "1ms",
	  .min = 10000,
	  .max = 1000000000,
	  .help = "the shortest slice a task gets, however many share its CPU" },
	{ .name = "latency",
	  .type = GHOST_PARAM_DURATION,
	  .offset = offsetof(struct cfs_config, latency_ns),
	  .def = "6ms",
	  .min = 100000,
	  .max = 10000000000LL,
	  .help = "the period a CPU's runnable tasks share by weight; a waking task starts at "
		  "most half of it behind" },
	{ .name = "steal",
	  .type = GHOST_PARAM_BOOL,
	  .offset = offsetof(struct cfs_config, steal),
	  .def = "true",
	  .help = "a CPU with nothing to run takes a task from the CPU with the most queued" },
	{ .name = "ticks",
	  .type = GHOST_PARAM_BOOL,
	  .offset = offsetof(struct cfs_config, ticks),
	  .def = "true",
	  .help = "turn the enclave's CPU ticks on to end slices (false: a task keeps its CPU "
		  "until it blocks or yields)" },
	{ 0 },
};

static struct cfs *of(struct ghost_sched *s)
{
	return s->policy;
}

static struct cfs_task *ct(struct ghost_task *t)
{
	return (struct cfs_task *)t;
}

static struct cfs_task *task_of(const struct policy_rb_node *n)
{
	return n ? (struct cfs_task *)((char *)n - offsetof(struct cfs_task, node)) : NULL;
}

static bool before(const struct policy_rb_node *a, const struct policy_rb_node *b)
{
	const struct cfs_task *x = task_of(a), *y = task_of(b);

	return x->vruntime < y->vruntime || (x->vruntime == y->vruntime && x->seq < y->seq);
}

static uint32_t weight_of(int nice)
{
	return cfs_weights[(nice < -20 ? -20 : nice > 19 ? 19 : nice) + 20];
}

/*
 * t's CPU time by its status word, with a stint on a CPU still under way. The
 * word is read without the kernel's lock: a switch between the loads may
 * leave a stint out or count a little past its end. Accounting only moves
 * forward, so the next read makes up for it. A task without a word (its
 * region could not be mapped) is charged min_granularity at each look, so it
 * neither keeps its CPU nor the smallest vruntime for good.
 */
static uint64_t cpu_time(const struct cfs *p, const struct cfs_task *t, int64_t now)
{
	struct ghost_sw_snapshot sn;

	if (!t->base.sw)
		return t->accounted + (uint64_t)p->cfg.min_granularity_ns;
	ghost_sw_read(t->base.sw, &sn);
	if ((sn.flags & GHOST_SW_TASK_ONCPU) && sn.switch_time > 0 && now > sn.switch_time)
		sn.runtime += (uint64_t)(now - sn.switch_time);
	return sn.runtime;
}

/* What t ran since it was last accounted, as vruntime (never while queued:
 * its key would move under the tree, and a queued task does not run). */
static void account(const struct cfs *p, struct cfs_task *t, int64_t now)
{
	uint64_t run;

	if (t->rq)
		return;
	run = cpu_time(p, t, now);
	if (run <= t->accounted)
		return;
	t->vruntime += (run - t->accounted) * CFS_NICE_0_WEIGHT / t->weight;
	t->accounted = run;
}

static bool may_run(const struct cfs_task *t, int cpu)
{
	return ghost_cpuset_test(&t->allowed, cpu);
}

static struct cfs_task *rq_first(const struct cfs_cpu *pc)
{
	return task_of(policy_rb_first(&pc->rq));
}

static void rq_add(struct cfs *p, struct cfs_task *t)
{
	struct cfs_cpu *pc = &p->cpu[t->cpu];

	t->seq = ++p->seq;
	policy_rb_insert(&pc->rq, &t->node, before);
	t->rq = &pc->rq;
	t->state = CFS_QUEUED;
	pc->queued_weight += t->weight;
}

/* Out of its queue (a queued task's queue is its home CPU's). */
static void rq_del(struct cfs *p, struct cfs_task *t)
{
	if (!t->rq)
		return;
	policy_rb_erase(t->rq, &t->node);
	t->rq = NULL;
	p->cpu[t->cpu].queued_weight -= t->weight;
}

static void update_min_vruntime(struct cfs_cpu *pc)
{
	struct cfs_task *first = rq_first(pc);
	uint64_t v = pc->curr ? pc->curr->vruntime : UINT64_MAX;

	if (first && first->vruntime < v)
		v = first->vruntime;
	if (v != UINT64_MAX && v > pc->min_vruntime)
		pc->min_vruntime = v;
}

/* A new or woken task starts no lower than min_vruntime - latency / 2. */
static void place_waking(struct cfs *p, struct cfs_task *t)
{
	uint64_t credit = (uint64_t)p->cfg.latency_ns / 2, min = p->cpu[t->cpu].min_vruntime;
	uint64_t floor = min > credit ? min - credit : 0;

	if (t->vruntime < floor)
		t->vruntime = floor;
}

/* What each CPU's agent must run soon: its queue and its current task. */
static uint64_t cpu_load(const struct cfs_cpu *pc)
{
	return pc->queued_weight + (pc->curr ? pc->curr->weight : 0);
}

/* t's allowed CPU with the least runnable weight, then the fewest tasks at home. */
static int least_loaded(const struct cfs *p, const struct cfs_task *t)
{
	uint64_t best_load = UINT64_MAX;
	uint32_t best_assigned = UINT32_MAX;
	int best = -1, cpu;

	ghost_cpuset_for_each(cpu, &t->allowed) {
		const struct cfs_cpu *pc = &p->cpu[cpu];
		uint64_t load = cpu_load(pc);

		if (load < best_load || (load == best_load && pc->assigned < best_assigned)) {
			best_load = load;
			best_assigned = pc->assigned;
			best = cpu;
		}
	}
	return best;
}

/* t's messages go to cpu's channel from now on; false while one is on its way. */
static bool associate(struct cfs *p, struct cfs_task *t, int cpu)
{
	return ghost_channel_associate(p->chan[cpu], t->base.gtid, t->base.seqnum) >= 0;
}

/* t (in no queue) moves home to cpu, keeping its lead or lag on min_vruntime. */
static void rehome(struct cfs *p, struct cfs_task *t, int cpu)
{
	struct cfs_cpu *to = &p->cpu[cpu];

	if (t->cpu >= 0) {
		struct cfs_cpu *from = &p->cpu[t->cpu];
		int64_t rel = (int64_t)(t->vruntime - from->min_vruntime);

		t->vruntime = rel < 0 && (uint64_t)-rel > to->min_vruntime
				      ? 0
				      : to->min_vruntime + (uint64_t)rel;
		if (from->assigned)
			from->assigned--;
	}
	t->cpu = cpu;
	to->assigned++;
}

/*
 * Gets cpu's agent to look at its queue if it sleeps with nothing to do. A
 * busy agent looks at its next tick (and without ticks a waiting task could
 * not take the CPU anyway); ours is looking already.
 */
static void nudge(struct cfs *p, int cpu)
{
	struct cfs_cpu *pc = &p->cpu[cpu];

	if (cpu == p->self_cpu || !pc->idle)
		return;
	pc->idle = false;
	ghost_txn_ping(p->e, cpu);
}

/* t waits behind others: an idle CPU it may run on can come and take it. */
static void kick_thief(struct cfs *p, const struct cfs_task *t)
{
	int cpu;

	if (!p->cfg.steal)
		return;
	ghost_cpuset_for_each(cpu, &t->allowed) {
		if (cpu != t->cpu && p->cpu[cpu].idle) {
			nudge(p, cpu);
			return;
		}
	}
}

/* t is runnable and off every CPU: into the queue of a CPU it may use. */
static void enqueue(struct cfs *p, struct cfs_task *t, bool waking)
{
	struct cfs_cpu *pc;

	t->oncpu = false;
	if (t->rq)
		return;
	if (t->cpu < 0 || !may_run(t, t->cpu)) {
		int cpu = least_loaded(p, t);

		if (cpu < 0 || !associate(p, t, cpu)) {
			/* A newer message about it is on its way and decides again. */
			t->state = CFS_UNPLACED;
			return;
		}
		/* A first home: no lag to carry, it starts as a waking task does. */
		waking |= t->cpu < 0;
		p->moves += t->cpu >= 0;
		rehome(p, t, cpu);
	}
	pc = &p->cpu[t->cpu];
	if (waking)
		place_waking(p, t);
	rq_add(p, t);
	nudge(p, t->cpu);
	if (pc->curr || pc->rq.count > 1)
		kick_thief(p, t);
}

/* t no longer owns its home CPU (it left it, or never got there). */
static void drop_current(struct cfs *p, struct cfs_task *t)
{
	if (t->cpu >= 0 && p->cpu[t->cpu].curr == t)
		p->cpu[t->cpu].curr = NULL;
}

/* t is off every CPU and out of the queues, as a message about it says. */
static void detach(struct cfs *p, struct cfs_task *t)
{
	drop_current(p, t);
	rq_del(p, t);
	t->oncpu = false;
}

/* t (current, in no queue) gets a new slice: its weight's share of latency. */
static void start_slice(struct cfs *p, struct cfs_task *t, int64_t now)
{
	uint64_t total = p->cpu[t->cpu].queued_weight + t->weight;
	uint64_t slice = (uint64_t)p->cfg.latency_ns * t->weight / total;

	if (slice < (uint64_t)p->cfg.min_granularity_ns)
		slice = (uint64_t)p->cfg.min_granularity_ns;
	t->slice_start = cpu_time(p, t, now);
	t->slice_ns = slice;
}

static bool slice_left(const struct cfs *p, const struct cfs_task *t, int64_t now)
{
	uint64_t run = cpu_time(p, t, now);

	return run < t->slice_start || run - t->slice_start < t->slice_ns;
}

static uint32_t nr_running(const struct cfs_cpu *pc)
{
	return pc->rq.count + (pc->curr != NULL);
}

/*
 * cpu, which has `have` tasks, takes the smallest queued task it may run from
 * the CPU with the most queued, if that one has at least two tasks more (so
 * the two end no further apart than one) or, when cpu has none, if a higher
 * class holds its CPU. A lone task on a free CPU is its own agent's next pick.
 */
static void steal(struct cfs *p, int cpu, uint32_t have)
{
	struct cfs_cpu *victim = NULL;
	uint32_t most = 0;
	int c, scanned = 0;

	ghost_cpuset_for_each(c, ghost_enclave_cpus(p->e)) {
		struct cfs_cpu *pc = &p->cpu[c];

		if (c == cpu || pc->rq.count <= most)
			continue;
		if (nr_running(pc) < have + 2 && (have || policy_cpu_available(p->e, c)))
			continue;
		most = pc->rq.count;
		victim = pc;
	}
	if (!victim)
		return;
	for (struct policy_rb_node *n = policy_rb_first(&victim->rq); n && scanned < CFS_STEAL_SCAN;
	     n = policy_rb_next(n), scanned++) {
		struct cfs_task *t = task_of(n);

		if (!may_run(t, cpu) || t->oncpu || !associate(p, t, cpu))
			continue;
		rq_del(p, t);
		rehome(p, t, cpu);
		rq_add(p, t);
		p->steals++;
		return;
	}
}

/* Under the lock: what cpu runs next (NULL: nothing). */
static struct cfs_task *pick_next(struct cfs *p, int cpu, int64_t now)
{
	struct cfs_cpu *pc = &p->cpu[cpu];
	struct cfs_task *curr = pc->curr, *next;
	bool ended = pc->slice_ended;

	pc->slice_ended = false;
	if (curr) {
		account(p, curr, now);
		if (slice_left(p, curr, now)) {
			update_min_vruntime(pc);
			return curr;
		}
		p->slices++;
		ended = true;
		if (curr->oncpu && !pc->rq.count) {
			/* Nobody waits, and it has yet to leave: another slice. */
			start_slice(p, curr, now);
			update_min_vruntime(pc);
			return curr;
		}
		/* Its slice is used: it competes again with those waiting. */
		pc->curr = NULL;
		if (curr->oncpu)
			curr->state = CFS_LEAVING; /* the next commit takes it off */
		else
			rq_add(p, curr);
	}
	/* Idle, or a slice ended: a CPU with two tasks more gives one. */
	if (p->cfg.steal && (ended || !pc->rq.count))
		steal(p, cpu, pc->rq.count + (curr && curr->state == CFS_LEAVING));
	next = rq_first(pc);
	if (next) {
		rq_del(p, next);
		pc->curr = next;
		next->state = CFS_CURRENT;
		start_slice(p, next, now);
		/* Others still wait behind it: an idle CPU may take one. */
		if (pc->rq.count)
			kick_thief(p, rq_first(pc));
	}
	update_min_vruntime(pc);
	return next;
}

/* A higher class has cpu: its waiting current task queues where thieves see it. */
static void release_cpu(struct cfs *p, int cpu)
{
	struct cfs_cpu *pc = &p->cpu[cpu];
	struct cfs_task *t = pc->curr;

	if (t && !t->oncpu) {
		pc->curr = NULL;
		rq_add(p, t);
	}
	if (pc->rq.count)
		kick_thief(p, rq_first(pc));
}

/*
 * A failed local commit of cpu's current task t (policies/common.h: never
 * again before a drain). True when the agent should give its CPU up until
 * something wakes it.
 */
static bool commit_failed(struct cfs *p, int cpu, struct cfs_task *t, enum policy_failure why)
{
	struct cfs_cpu *pc = &p->cpu[cpu];

	switch (why) {
	case POLICY_FAIL_ONCPU:
		/* Still on a CPU (its thread has yet to get off, maybe this one):
		 * ours until its message says it left; committing it again now
		 * would keep it from leaving. */
		t->oncpu = true;
		return true;
	case POLICY_FAIL_PARK:
		/* Gone, blocked or not ours as far as the kernel knows, with
		 * every message read: the next one about it decides. */
		pc->curr = NULL;
		t->state = CFS_BLOCKED;
		return false;
	case POLICY_FAIL_CPU:
		pc->curr = NULL;
		rq_add(p, t);
		kick_thief(p, t);
		return true;
	default:
		/* Our view was behind: decided again once the news is drained. */
		return false;
	}
}

static void cfs_loop(void *state, struct ghost_agent *a)
{
	struct cfs *p = state;
	int cpu = ghost_agent_cpu(a);
	struct cfs_cpu *pc = &p->cpu[cpu];
	const struct ghost_status_word *asw = ghost_agent_status_word(a);
	uint32_t barrier = ghost_sw_barrier(asw), seqnum = 0;
	enum policy_failure why = POLICY_FAIL_RETRY;
	struct cfs_task *next = NULL;
	bool boosted, pending, yield = false;
	int32_t txn_state = 0;
	int64_t gtid = 0;
	int r;

	pthread_mutex_lock(&p->sched.lock);
	p->self_cpu = cpu;
	pc->idle = false;
	ghost_sched_drain(&p->sched, p->chan[cpu]);
	if (ghost_agent_finishing(a)) {
		p->self_cpu = -1;
		pthread_mutex_unlock(&p->sched.lock);
		return;
	}
	boosted = ghost_sw_boosted_priority(asw);
	if (boosted)
		release_cpu(p, cpu);
	else
		next = pick_next(p, cpu, ghost_now_ns());
	pending = pc->curr || pc->rq.count;
	/* Set under the lock before the yield: a ping after it (enqueue, a
	 * thief's kick) moves our barrier and the yield returns at once. */
	pc->idle = !next && !boosted;
	if (next) {
		gtid = next->base.gtid;
		seqnum = next->base.seqnum;
	}
	p->self_cpu = -1;
	pthread_mutex_unlock(&p->sched.lock);

	if (!next) {
		ghost_txn_local_yield(p->e, cpu, barrier, boosted && pending ? RTLA_ON_IDLE : 0);
		return;
	}
	r = policy_commit_local(p->e, cpu, gtid, seqnum, barrier, &txn_state, &why);

	pthread_mutex_lock(&p->sched.lock);
	/* Another agent's resync may have moved it meanwhile: act only on a task
	 * that is still ours. */
	if (ghost_task_table_find(&p->sched.tasks, gtid) == &next->base && pc->curr == next) {
		if (r == 1)
			next->oncpu = true; /* its off-CPU message is the next news of it */
		else
			yield = commit_failed(p, cpu, next, why);
	}
	pthread_mutex_unlock(&p->sched.lock);
	if (yield)
		ghost_txn_local_yield(p->e, cpu, barrier,
				      txn_state == GHOST_TXN_CPU_UNAVAIL ? RTLA_ON_IDLE : 0);
}

/* t's allowed CPUs among the enclave's. */
static void read_allowed(struct cfs *p, struct cfs_task *t)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(p->e);
	struct ghost_cpuset set;

	if (ghost_thread_affinity_of(p->e, t->base.gtid, &set) < 0) {
		/* Gone (its death is on its way): keep what we knew. */
		if (ghost_cpuset_empty(&t->allowed))
			t->allowed = *cpus;
		return;
	}
	ghost_cpuset_and(&set, &set, cpus);
	if (ghost_cpuset_empty(&set)) {
		p->unaffine++;
		set = *cpus;
	}
	t->allowed = set;
}

static void on_new(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct ghost_msg_payload_task_new pl;
	struct cfs *p = of(s);
	struct cfs_task *t = ct(task);

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	t->cpu = -1;
	t->nice = pl.nice;
	t->weight = weight_of(pl.nice);
	t->accounted = cpu_time(p, t, ghost_now_ns());
	t->state = CFS_BLOCKED;
	read_allowed(p, t);
	if (!pl.runnable)
		return; /* its wake-up places it */
	if (t->base.sw && ghost_sw_on_cpu(t->base.sw)) {
		/* Running as we take the enclave over: its off-CPU message places it. */
		t->state = CFS_LEAVING;
		t->oncpu = true;
		return;
	}
	enqueue(p, t, true);
}

static void on_wakeup(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct cfs_task *t = ct(task);

	(void)m;
	if (t->state != CFS_QUEUED && t->state != CFS_CURRENT)
		enqueue(of(s), t, true);
}

static void on_blocked(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct cfs *p = of(s);
	struct cfs_task *t = ct(task);

	(void)m;
	detach(p, t);
	account(p, t, ghost_now_ns());
	t->state = CFS_BLOCKED;
}

static void on_preempt(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct cfs *p = of(s);
	struct cfs_task *t = ct(task);
	int64_t now = ghost_now_ns();

	(void)m;
	t->oncpu = false;
	account(p, t, now);
	if (t->cpu >= 0 && p->cpu[t->cpu].curr == t && may_run(t, t->cpu)) {
		/* Taken off by its agent waking (a tick, a message): it resumes
		 * its slice, or queues if the slice is used. */
		if (slice_left(p, t, now))
			return;
		p->slices++;
		p->cpu[t->cpu].slice_ended = true;
	}
	drop_current(p, t);
	enqueue(p, t, false);
}

static void on_yield(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct cfs *p = of(s);
	struct cfs_task *t = ct(task);
	struct cfs_task *first;

	(void)m;
	detach(p, t);
	account(p, t, ghost_now_ns());
	/* It gives way: behind the first task waiting at home, if any. */
	first = t->cpu >= 0 ? rq_first(&p->cpu[t->cpu]) : NULL;
	if (first && first->vruntime > t->vruntime)
		t->vruntime = first->vruntime;
	enqueue(p, t, false);
}

static void on_gone(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct cfs *p = of(s);
	struct cfs_task *t = ct(task);

	(void)m;
	detach(p, t);
	if (t->cpu >= 0 && p->cpu[t->cpu].assigned)
		p->cpu[t->cpu].assigned--;
	t->cpu = -1;
	t->state = CFS_BLOCKED;
}

static void on_priority(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct ghost_msg_payload_task_priority_changed pl;
	struct cfs *p = of(s);
	struct cfs_task *t = ct(task);
	uint32_t w;

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	/* What it ran so far counts at the old weight. */
	account(p, t, ghost_now_ns());
	w = weight_of(pl.nice);
	if (t->rq)
		p->cpu[t->cpu].queued_weight += (uint64_t)w - t->weight;
	t->nice = pl.nice;
	t->weight = w;
	p->renices++;
	if (t->state == CFS_UNPLACED)
		enqueue(p, t, false);
}

static void on_affinity(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct cfs *p = of(s);
	struct cfs_task *t = ct(task);

	(void)m;
	p->affinity_changes++;
	read_allowed(p, t);
	if (t->state == CFS_UNPLACED) {
		enqueue(p, t, false);
		return;
	}
	if (t->cpu < 0 || may_run(t, t->cpu))
		return;
	switch (t->state) {
	case CFS_QUEUED:
		rq_del(p, t);
		enqueue(p, t, false);
		break;
	case CFS_CURRENT:
		drop_current(p, t);
		if (t->oncpu)
			t->state = CFS_LEAVING; /* the kernel takes it off: TASK_PREEMPT moves it */
		else
			enqueue(p, t, false);
		break;
	default:
		break; /* blocked or leaving: its next message places it */
	}
	/* It may now be allowed where a CPU idles. */
	if (t->state == CFS_QUEUED && p->cpu[t->cpu].curr)
		kick_thief(p, t);
}

/* After an overflow: where the status word says t is now. */
static void on_resync(struct ghost_sched *s, struct ghost_task *task, enum ghost_task_view view)
{
	struct cfs *p = of(s);
	struct cfs_task *t = ct(task);

	switch (view) {
	case GHOST_TASK_VIEW_GONE:
		on_gone(s, task, NULL);
		break;
	case GHOST_TASK_VIEW_ONCPU:
		/* Its off-CPU message is still to come: the kernel clears ONCPU
		 * only after producing it. */
		rq_del(p, t);
		t->oncpu = true;
		if (t->state != CFS_CURRENT)
			t->state = CFS_LEAVING;
		break;
	case GHOST_TASK_VIEW_RUNNABLE:
		t->oncpu = false;
		if (t->state != CFS_QUEUED && t->state != CFS_CURRENT)
			enqueue(p, t, false);
		break;
	case GHOST_TASK_VIEW_BLOCKED:
		detach(p, t);
		t->state = CFS_BLOCKED;
		break;
	}
}

static const struct ghost_sched_ops cfs_ops = {
	.task_new = on_new,
	.task_wakeup = on_wakeup,
	.task_blocked = on_blocked,
	.task_preempt = on_preempt,
	.task_yield = on_yield,
	.task_dead = on_gone,
	.task_departed = on_gone,
	.task_priority_changed = on_priority,
	.task_affinity_changed = on_affinity,
	.task_resync = on_resync,
};

static int cfs_init(struct ghost_full_agent *fa, void **state)
{
	const struct cfs_config *cfg = ghost_full_agent_policy_config(fa);
	struct cfs *p = *state;
	long long ticks = 0;
	int cpu;

	p->e = ghost_full_agent_enclave(fa);
	p->cfg = *cfg;
	p->self_cpu = -1;
	ghost_cpuset_for_each(cpu, ghost_enclave_cpus(p->e))
		p->chan[cpu] = ghost_full_agent_channel(fa, cpu);
	if (!cfg->ticks)
		return 0;
	/* Slices end on CPU ticks; a backend that refuses them leaves "ticks off". */
	if (!ghost_enclave_get_tunable(p->e, GHOST_TUNABLE_DELIVER_TICKS, &ticks) && ticks)
		p->ticking = true;
	else if (!ghost_enclave_set_tunable(p->e, GHOST_TUNABLE_DELIVER_TICKS, 1))
		p->ticking = p->ticks_set = true;
	return 0;
}

static void cfs_fini(void *state)
{
	struct cfs *p = state;

	if (p->ticks_set)
		ghost_enclave_set_tunable(p->e, GHOST_TUNABLE_DELIVER_TICKS, 0);
}

/*
 * Tasks waiting for a CPU, under the base's lock: queued, or current and off
 * their CPU. A local commit returns only once the agent runs again, so while
 * a current task runs its oncpu is not set yet: its status word says.
 */
static uint32_t cfs_runnable(void *state)
{
	struct cfs *p = state;
	uint32_t n = 0;
	int cpu;

	ghost_cpuset_for_each(cpu, ghost_enclave_cpus(p->e)) {
		const struct cfs_cpu *pc = &p->cpu[cpu];
		const struct cfs_task *t = pc->curr;

		n += pc->rq.count;
		n += t && !t->oncpu && !(t->base.sw && ghost_sw_on_cpu(t->base.sw));
	}
	return n;
}

/* Under the base's lock, after the generic line. */
static int cfs_format_stats(void *state, char *buf, size_t len)
{
	struct cfs *p = state;
	int n = snprintf(buf, len,
			 "slices %llu steals %llu moves %llu reniced %llu affinity %llu "
			 "unaffine %llu ticks %s",
			 (unsigned long long)p->slices, (unsigned long long)p->steals,
			 (unsigned long long)p->moves, (unsigned long long)p->renices,
			 (unsigned long long)p->affinity_changes, (unsigned long long)p->unaffine,
			 p->ticking ? "on" : "off");

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

const struct ghost_policy cfs_policy = {
	.name = "cfs",
	.summary = "CFS-like per CPU: run queues by virtual runtime, nice weights, slices ended "
		   "by CPU ticks, idle CPUs steal",
	.params = cfs_params,
	.config_size = sizeof(struct cfs_config),
	.state_size = sizeof(struct cfs),
	.sched_ops = &cfs_ops,
	.task_size = sizeof(struct cfs_task),
	.channels = GHOST_POLICY_CHANNELS_PER_CPU,
	.init = cfs_init,
	.fini = cfs_fini,
	.agent_loop = cfs_loop,
	.runnable = cfs_runnable,
	.format_stats = cfs_format_stats,
};
