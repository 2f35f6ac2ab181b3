/*
 * policies/shinjuku.c - Shinjuku: one spinning global agent schedules every
 * other CPU and preempts each task after a time slice of tens of
 * microseconds, so short requests never wait long behind long ones.
 *
 * The global agent polls the enclave's only channel and the PrioTables of
 * the processes whose threads it schedules (policies/prio_track.c follows
 * them and hands each item that changed to apply_item). A task runs only
 * while it is runnable and, if its process published a sched item for it,
 * while the item says it has work; its work class sets its QoS (higher
 * first: a low-QoS antagonist runs only when no higher-QoS task waits). Each
 * round fills idle CPUs first, then preempts a CPU whose task used up its slice
 * (or whose item went idle, or that runs a lower QoS than a waiting task),
 * all in one group commit. A task preempted by the slice goes to the back
 * of its queue; one that lost its CPU otherwise (a higher class, the agent)
 * or that woke non-deferrably is boosted to the front. An item that went
 * idle while its task ran is taken off its CPU (a NULL txn when nothing
 * replaces it). When a higher class wants the global agent's CPU, the role
 * moves as in fifo-centralized.
 *
 * Only the global agent touches the scheduler state; the lock makes the
 * hand-over between agent threads safe. Written once for every backend.
 */
#include "fifo.h"
#include "prio_track.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/priotable.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>

#define SJ_QOS_LEVELS	 8  /* QoS values above 7 count as 7 */
#define SJ_PAUSED	 16 /* fifo_task.state: runnable, no work */
/*
 * A task whose item went idle usually gives its CPU up itself a moment later
 * (it yields or blocks): forcing it off costs a preemption, far dearer than
 * waiting for that. It is taken off only if it has not left this long after.
 */
#define SJ_IDLE_GRACE_NS 20000

/* How soon a running task must leave its CPU (ghost-userspace's levels). */
enum sj_unschedule {
	SJ_KEEP = 0, /* nothing pending */
	SJ_COULD,    /* its item changed: it may yield the CPU to a waiting task */
	SJ_MUST,     /* its item went idle: off the CPU once its grace is over */
};

struct sj_task {
	struct fifo_task f;    /* first: run queue links and run state */
	struct prio_link link; /* its process and sched item (sid -1 without one) */
	uint8_t qos;
	bool has_work;	    /* its item is runnable (true without an item) */
	uint8_t unschedule; /* enum sj_unschedule */
	int64_t idle_since; /* SJ_MUST: when its item went idle */
};

struct sj_cpu {
	struct sj_task *current;
	struct sj_task *next;  /* chosen this round */
	int64_t last_commit;   /* start of current's slice */
	int64_t refused_until; /* the CPU refused a commit: left alone until */
};

struct shinjuku {
	struct ghost_sched sched; /* first: the library's scheduler base and lock */
	struct ghost_enclave *e;
	struct ghost_channel *chan;
	struct ghost_task_queue rq[SJ_QOS_LEVELS];
	struct ghost_task_queue yielding; /* sit out one round */
	struct sj_cpu cpu[GHOST_MAX_CPUS];
	struct prio_track track; /* the PrioTables of our tasks' processes */
	int global_cpu;		 /* read by every agent, written under lock */
	int64_t slice_ns;
	uint64_t moves, slices, unschedules;
};

struct sj_config {
	struct policy_central_config base; /* queue_elems, global_cpu */
	int64_t time_slice_ns;
};

static const struct ghost_policy_param sj_params[] = {
	POLICY_PARAM_QUEUE_ELEMS(struct sj_config, base.queue_elems),
	POLICY_PARAM_GLOBAL_CPU(struct sj_config, base.global_cpu),
	{ .name = "time_slice",
	  .type = GHOST_PARAM_DURATION,
	  .offset = offsetof(struct sj_config, time_slice_ns),
	  .def = "50us", /* ghost-userspace's default */
	  .min = 1000,
	  .max = 3600000000000LL,
	  .help = "preempt a task after it ran this long while others wait" },
	{ 0 },
};

static struct shinjuku *of(struct ghost_sched *s)
{
	return s->policy;
}

static struct sj_task *st(struct ghost_task *t)
{
	return (struct sj_task *)t;
}

static uint32_t queued(const struct shinjuku *sj)
{
	uint32_t n = sj->yielding.count;

	for (int q = 0; q < SJ_QOS_LEVELS; q++)
		n += sj->rq[q].count;
	return n;
}

/* ---- run queues ---- */

static void dequeue(struct sj_task *t)
{
	ghost_task_queue_remove(t->f.base.queue, &t->f.base);
}

/* Queues a task that may run: front if boosted (or asked), else back. */
static void enqueue(struct shinjuku *sj, struct sj_task *t, bool front)
{
	struct ghost_task_queue *rq;

	dequeue(t);
	if (!t->has_work) {
		t->f.state = SJ_PAUSED; /* runs again when its item has work */
		return;
	}
	rq = &sj->rq[t->qos];
	if (front || t->f.prio_boost)
		fifo_rq_push_front(rq, &t->f);
	else
		fifo_rq_push_back(rq, &t->f);
}

static struct sj_task *peek(struct shinjuku *sj)
{
	for (int q = SJ_QOS_LEVELS - 1; q >= 0; q--)
		if (sj->rq[q].head)
			return (struct sj_task *)sj->rq[q].head;
	return NULL;
}

static void off_cpu(struct shinjuku *sj, struct sj_task *t)
{
	if (t->f.cpu >= 0 && sj->cpu[t->f.cpu].current == t)
		sj->cpu[t->f.cpu].current = NULL;
	t->f.cpu = -1;
	t->unschedule = SJ_KEEP;
}

/* ---- what the PrioTable says ---- */

/* What an item of its process's table now says about task (prio_track's apply). */
static void apply_item(void *ctx, struct ghost_task *task, const struct ghost_sched_item *si,
		       const struct ghost_work_class *wc)
{
	struct shinjuku *sj = ctx;
	struct sj_task *t = st(task);
	bool had_work = t->has_work;

	t->has_work = si->flags & GHOST_SCHED_ITEM_RUNNABLE;
	if (wc) {
		uint8_t qos = wc->qos < SJ_QOS_LEVELS ? (uint8_t)wc->qos : SJ_QOS_LEVELS - 1;

		if (qos != t->qos && t->f.state == FIFO_QUEUED) {
			t->qos = qos;
			enqueue(sj, t, false);
		}
		t->qos = qos;
	}
	switch (t->f.state) {
	case FIFO_BLOCKED:
		break; /* its wakeup looks at has_work */
	case SJ_PAUSED:
		if (t->has_work)
			enqueue(sj, t, false);
		break;
	case FIFO_QUEUED:
	case FIFO_YIELDING:
		if (!t->has_work) {
			dequeue(t);
			t->f.state = SJ_PAUSED;
		}
		break;
	case FIFO_ONCPU:
		/* Idle: off its CPU (after SJ_IDLE_GRACE_NS). New work after work:
		 * it may give the CPU to a waiting task. */
		t->unschedule = !t->has_work ? SJ_MUST : had_work ? SJ_COULD : SJ_KEEP;
		if (t->unschedule == SJ_MUST && !had_work)
			break; /* still going idle: keep its first moment */
		t->idle_since = ghost_now_ns();
		break;
	}
}

/* ---- messages ---- */

static void on_new(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct shinjuku *sj = of(s);
	struct ghost_msg_payload_task_new pl;
	struct sj_task *t = st(task);

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	t->f.cpu = -1;
	t->f.state = FIFO_BLOCKED;
	t->has_work = true;
	prio_track_task_new(&sj->track, task);
	if (pl.runnable)
		enqueue(sj, t, false);
}

static void on_wakeup(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct ghost_msg_payload_task_wakeup pl;
	struct sj_task *t = st(task);

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	if (t->f.state != FIFO_BLOCKED)
		return;
	/* A non-deferrable wakeup may hold what others wait for: front. */
	t->f.prio_boost = !pl.deferrable;
	enqueue(of(s), t, false);
}

static void on_blocked(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct shinjuku *sj = of(s);
	struct sj_task *t = st(task);

	(void)m;
	off_cpu(sj, t);
	dequeue(t);
	t->f.state = FIFO_BLOCKED;
}

static void on_preempt(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct shinjuku *sj = of(s);
	struct sj_task *t = st(task);
	bool sliced = t->f.sliced;

	(void)m;
	off_cpu(sj, t);
	t->f.sliced = false;
	if (t->f.state == FIFO_QUEUED || t->f.state == FIFO_YIELDING)
		return;
	/* Its slice ran out: the back. It lost the CPU any other way (a
	 * higher class, a latch replaced): boosted to the front. */
	t->f.prio_boost = !sliced;
	enqueue(sj, t, false);
}

static void on_yield(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct shinjuku *sj = of(s);
	struct sj_task *t = st(task);

	(void)m;
	off_cpu(sj, t);
	dequeue(t);
	t->f.sliced = false;
	if (!t->has_work) {
		t->f.state = SJ_PAUSED;
		return;
	}
	fifo_rq_push_back(&sj->yielding, &t->f);
	t->f.state = FIFO_YIELDING;
}

static void on_gone(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct shinjuku *sj = of(s);
	struct sj_task *t = st(task);

	(void)m;
	off_cpu(sj, t);
	dequeue(t);
	prio_track_task_gone(&sj->track, task);
}

static void on_resync(struct ghost_sched *s, struct ghost_task *task, enum ghost_task_view view)
{
	struct shinjuku *sj = of(s);
	struct sj_task *t = st(task);

	switch (view) {
	case GHOST_TASK_VIEW_ONCPU:
		return;
	case GHOST_TASK_VIEW_RUNNABLE:
		off_cpu(sj, t);
		t->f.prio_boost = true;
		enqueue(sj, t, true);
		return;
	case GHOST_TASK_VIEW_BLOCKED:
		off_cpu(sj, t);
		dequeue(t);
		t->f.state = FIFO_BLOCKED;
		return;
	case GHOST_TASK_VIEW_GONE:
		on_gone(s, task, NULL);
		return;
	}
}

static const struct ghost_sched_ops sj_ops = {
	.task_resync = on_resync,
	.task_new = on_new,
	.task_wakeup = on_wakeup,
	.task_blocked = on_blocked,
	.task_preempt = on_preempt,
	.task_yield = on_yield,
	.task_dead = on_gone,
	.task_departed = on_gone,
};

/* ---- the global agent's round ---- */

/*
 * The best waiting task that can run now. Tasks with unread messages or
 * still leaving a CPU sit the round out (on the yielding list).
 */
static struct sj_task *pop_next(struct shinjuku *sj)
{
	struct sj_task *t;

	while ((t = peek(sj))) {
		dequeue(t);
		if (t->f.base.sw && ghost_sw_barrier(t->f.base.sw) == t->f.base.seqnum &&
		    !ghost_sw_on_cpu(t->f.base.sw))
			return t;
		fifo_rq_push_front(&sj->yielding, &t->f);
		t->f.state = FIFO_YIELDING;
		t->f.prio_boost = true;
	}
	return NULL;
}

/*
 * May cpu, running cur, take a waiting task now? Pass 0 takes only CPUs
 * whose task must leave; pass 1 also preempts for QoS, slice or new work.
 */
static bool replaceable(struct shinjuku *sj, struct sj_cpu *cs, int pass, int64_t now)
{
	struct sj_task *cur = cs->current, *top;

	if (!cur)
		return true;
	if (cur->unschedule == SJ_MUST)
		return now - cur->idle_since >= SJ_IDLE_GRACE_NS;
	if (pass == 0 || !(top = peek(sj)))
		return false;
	if (top->qos != cur->qos)
		return top->qos > cur->qos;
	return now - cs->last_commit >= sj->slice_ns || cur->unschedule == SJ_COULD;
}

static bool open_txn(struct shinjuku *sj, int cpu, int64_t target, uint32_t barrier)
{
	struct ghost_txn_opts o = { .target = target,
				    .target_barrier = barrier,
				    /* remote commits do not check the agent barrier */
				    .commit_flags = COMMIT_AT_TXN_COMMIT };

	return ghost_txn_open(sj->e, cpu, &o) == 0;
}

/* One round; returns how many txns it committed. */
static int global_schedule(struct shinjuku *sj)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(sj->e);
	struct ghost_cpuset open;
	int64_t now = ghost_now_ns();
	int cpu, n;

	ghost_cpuset_zero(&open);
	for (int pass = 0; pass < 2 && peek(sj); pass++) {
		ghost_cpuset_for_each(cpu, cpus) {
			struct sj_cpu *cs = &sj->cpu[cpu];
			struct sj_task *next;

			if (cpu == sj->global_cpu || cs->next || ghost_cpuset_test(&open, cpu) ||
			    !policy_cpu_available(sj->e, cpu) || now < cs->refused_until ||
			    !replaceable(sj, cs, pass, now))
				continue;
			next = pop_next(sj);
			if (!next)
				break;
			if (!open_txn(sj, cpu, next->f.base.gtid, next->f.base.seqnum)) {
				cs->refused_until = now + POLICY_CPU_BACKOFF_NS;
				enqueue(sj, next, true);
				continue;
			}
			cs->next = next;
			next->f.state = FIFO_ASSIGNED;
			ghost_cpuset_set(&open, cpu);
		}
	}
	/* Tasks whose item went idle leave even with nothing to replace them. */
	ghost_cpuset_for_each(cpu, cpus) {
		struct sj_cpu *cs = &sj->cpu[cpu];

		if (cs->current && !cs->next && cs->current->unschedule == SJ_MUST &&
		    now >= cs->refused_until && now - cs->current->idle_since >= SJ_IDLE_GRACE_NS &&
		    !ghost_cpuset_test(&open, cpu) && open_txn(sj, cpu, GHOST_NULL_GTID, 0))
			ghost_cpuset_set(&open, cpu);
		else if (cs->current && !cs->next && cs->current->unschedule == SJ_COULD)
			cs->current->unschedule = SJ_KEEP; /* nobody waits for its CPU */
	}
	n = ghost_cpuset_count(&open);
	if (n)
		ghost_txn_commit_set(sj->e, &open);
	now = ghost_now_ns();
	ghost_cpuset_for_each(cpu, &open) {
		struct sj_cpu *cs = &sj->cpu[cpu];
		struct sj_task *prev = cs->current, *next = cs->next;
		bool ok = ghost_txn_succeeded(ghost_enclave_txn(sj->e, cpu));

		cs->next = NULL;
		if (!ok) {
			enum policy_failure why =
				policy_failure_of(ghost_txn_state(ghost_enclave_txn(sj->e, cpu)));

			/* The CPU keeps what it had; the task goes back to the
			 * front, or waits for a message about it. */
			if (next && why == POLICY_FAIL_PARK) {
				next->f.state = FIFO_BLOCKED;
			} else if (next) {
				next->f.prio_boost = true;
				enqueue(sj, next, true);
			}
			if (why == POLICY_FAIL_CPU)
				cs->refused_until = now + POLICY_CPU_BACKOFF_NS;
			continue;
		}
		if (prev) {
			/* Its TASK_PREEMPT requeues it: at the back unless a higher
			 * QoS pushed it out. */
			prev->f.sliced = !next || next->qos == prev->qos;
			if (prev->unschedule == SJ_MUST)
				sj->unschedules++;
			else
				sj->slices++;
			prev->unschedule = SJ_KEEP;
		}
		cs->current = next;
		if (next) {
			next->f.state = FIFO_ONCPU;
			next->f.cpu = cpu;
			next->f.prio_boost = false;
			/* Its item went idle while the commit was on its way. */
			next->unschedule = next->has_work ? SJ_KEEP : SJ_MUST;
			next->idle_since = now;
			cs->last_commit = now;
		}
	}
	/* Yielders sat out one round; now they queue again. */
	while (sj->yielding.head) {
		struct sj_task *t = (struct sj_task *)fifo_rq_pop(&sj->yielding);

		enqueue(sj, t, false);
	}
	return n;
}

/* The global agent's round: messages, PrioTable updates, decisions. */
static int sj_round(void *state, bool finishing)
{
	struct shinjuku *sj = state;
	int work = ghost_sched_drain(&sj->sched, sj->chan);

	work += prio_track_poll(&sj->track);
	if (!finishing)
		work += global_schedule(sj);
	return work;
}

static void sj_loop(void *state, struct ghost_agent *a)
{
	struct shinjuku *sj = state;

	policy_central_loop(a, &sj->sched.lock, &sj->global_cpu, &sj->moves, sj_round, sj);
}

/* ---- set-up and stats ---- */

static int sj_init(struct ghost_full_agent *fa, void **state)
{
	const struct sj_config *cfg = ghost_full_agent_policy_config(fa);
	struct shinjuku *sj = *state;

	sj->e = ghost_full_agent_enclave(fa);
	sj->chan = ghost_full_agent_channel(fa, 0);
	sj->slice_ns = cfg->time_slice_ns;
	prio_track_init(&sj->track, &sj->sched.tasks, offsetof(struct sj_task, link), apply_item,
			sj);
	sj->global_cpu = policy_global_cpu(sj->e, &cfg->base);
	return 0;
}

static void sj_fini(void *state)
{
	struct shinjuku *sj = state;

	prio_track_fini(&sj->track);
}

static uint32_t sj_runnable(void *state)
{
	return queued(state);
}

/* Under the base's lock, after the generic line. */
static int sj_format_stats(void *state, char *buf, size_t len)
{
	struct shinjuku *sj = state;
	int n = snprintf(buf, len,
			 "slice %lld us: sliced %llu unscheduled %llu | prio tables %d, item "
			 "updates %llu | global cpu %d moves %llu",
			 (long long)(sj->slice_ns / 1000), (unsigned long long)sj->slices,
			 (unsigned long long)sj->unschedules, prio_track_tables(&sj->track),
			 (unsigned long long)sj->track.item_updates,
			 __atomic_load_n(&sj->global_cpu, __ATOMIC_ACQUIRE),
			 (unsigned long long)sj->moves);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int shinjuku_global_cpu(void *state)
{
	return __atomic_load_n(&((struct shinjuku *)state)->global_cpu, __ATOMIC_ACQUIRE);
}

const struct ghost_policy shinjuku_policy = {
	.name = "shinjuku",
	.summary = "Shinjuku: a spinning global agent preempts every task after a short slice "
		   "(default 50 us), QoS classes from the PrioTable",
	.params = sj_params,
	.config_size = sizeof(struct sj_config),
	.state_size = sizeof(struct shinjuku),
	.sched_ops = &sj_ops,
	.task_size = sizeof(struct sj_task),
	.min_cpus = 2,
	.channels = GHOST_POLICY_CHANNELS_GLOBAL,
	.init = sj_init,
	.fini = sj_fini,
	.agent_loop = sj_loop,
	.runnable = sj_runnable,
	.format_stats = sj_format_stats,
};
