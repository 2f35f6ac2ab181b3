/*
 * policies/shinjuku.c - Shinjuku: one spinning global agent schedules every
 * other CPU and preempts each task after a time slice of tens of
 * microseconds, so short requests never wait long behind long ones.
 *
 * The global agent polls the enclave's only channel and the PrioTables of
 * the processes whose threads it schedules. A task runs only while it is
 * runnable and, if its process published a sched item for it, while the
 * item says it has work; its work class sets its QoS (higher first: a
 * low-QoS antagonist runs only when no higher-QoS task waits). Each round
 * fills idle CPUs first, then preempts a CPU whose task used up its slice
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

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/priotable.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SJ_QOS_LEVELS	     8		  /* QoS values above 7 count as 7 */
#define SJ_PAUSED	     16		  /* fifo_task.state: runnable, no work */
#define SJ_ATTACH_FIRST_NS   10000000LL	  /* a process without a table: look again */
#define SJ_ATTACH_MAX_NS     1000000000LL /* ...backing off up to once a second */
/*
 * A task whose item went idle usually gives its CPU up itself a moment later
 * (it yields or blocks): forcing it off costs a preemption, far dearer than
 * waiting for that. It is taken off only if it has not left this long after.
 */
#define SJ_IDLE_GRACE_NS     20000
/*
 * A table is the application's: whatever it writes, the agent's work per
 * round stays bounded (stream entries read, items re-read after an overflow
 * or an attach), and what is left waits for the next round.
 */
#define SJ_UPDATES_PER_ROUND 256
#define SJ_RESCAN_PER_ROUND  256

/* How soon a running task must leave its CPU (ghost-userspace's levels). */
enum sj_unschedule {
	SJ_KEEP = 0, /* nothing pending */
	SJ_COULD,    /* its item changed: it may yield the CPU to a waiting task */
	SJ_MUST,     /* its item went idle: off the CPU once its grace is over */
};

/* Which item names a gtid, as last read: open addressing, checked on use. */
struct sj_idx_slot {
	int64_t gpid; /* 0 = empty */
	int32_t sid;
};

/* A process whose threads we schedule, and its PrioTable if it has one. */
struct sj_proc {
	pid_t pid;
	struct ghost_prio_table *pt;
	int64_t next_try, backoff; /* while pt is NULL */
	int64_t rescan;		   /* next item of a full re-read, -1 none */
	struct sj_idx_slot *idx;
	uint32_t idx_cap, idx_used;
	uint32_t ntasks;
	struct sj_proc *next;
};

struct sj_task {
	struct fifo_task f; /* first: run queue links and run state */
	struct sj_proc *proc;
	int32_t sid; /* its sched item, -1 without one */
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
	struct sj_proc *procs;
	int global_cpu; /* read by every agent, written under lock */
	int64_t slice_ns;
	uint64_t moves, slices, unschedules, item_updates;
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

/* ---- processes and their PrioTables ---- */

static pid_t tgid_of(int64_t gtid)
{
	char path[64], line[128];
	pid_t tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/status", (long long)ghost_gtid_to_tid(gtid));
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/* ---- the gtid -> item index of a process's table ---- */

static uint32_t idx_hash(int64_t gpid, uint32_t cap)
{
	return (uint32_t)(((uint64_t)gpid * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static int32_t idx_get(const struct sj_proc *p, int64_t gpid)
{
	if (!p->idx)
		return -1;
	for (uint32_t i = idx_hash(gpid, p->idx_cap), n = 0; n < p->idx_cap;
	     i = (i + 1) & (p->idx_cap - 1), n++) {
		if (!p->idx[i].gpid)
			return -1;
		if (p->idx[i].gpid == gpid)
			return p->idx[i].sid;
	}
	return -1;
}

/*
 * Notes that item sid names gpid. Entries are never removed (an item that
 * names another thread later leaves a stale one, which its reader checks);
 * when the index fills up it starts afresh and the table is re-read.
 */
static void idx_put(struct sj_proc *p, int64_t gpid, uint32_t sid)
{
	uint32_t i;

	if (!p->idx) {
		uint32_t cap = 64;

		while (cap < 2 * ghost_prio_table_items(p->pt))
			cap *= 2;
		p->idx = calloc(cap, sizeof(*p->idx));
		if (!p->idx)
			return;
		p->idx_cap = cap;
	}
	for (i = idx_hash(gpid, p->idx_cap);; i = (i + 1) & (p->idx_cap - 1)) {
		if (p->idx[i].gpid == gpid) {
			p->idx[i].sid = (int32_t)sid;
			return;
		}
		if (!p->idx[i].gpid)
			break;
	}
	if (p->idx_used + 1 > p->idx_cap / 4 * 3) {
		memset(p->idx, 0, p->idx_cap * sizeof(*p->idx));
		p->idx_used = 0;
		p->rescan = 0;
		i = idx_hash(gpid, p->idx_cap);
	}
	p->idx[i].gpid = gpid;
	p->idx[i].sid = (int32_t)sid;
	p->idx_used++;
}

/* Applies what item sid of proc's table now says to the task it names. */
static void apply_item(struct shinjuku *sj, struct sj_proc *p, uint32_t sid)
{
	struct ghost_sched_item si;
	struct ghost_work_class wc;
	struct sj_task *t;
	bool had_work;

	if (ghost_prio_table_read_item(p->pt, sid, &si) || !si.gpid)
		return;
	idx_put(p, (int64_t)si.gpid, sid);
	t = st(ghost_task_table_find(&sj->sched.tasks, (int64_t)si.gpid));
	/* Unknown yet (its TASK_NEW reads the item), or a thread of another
	 * process: a table speaks only for its own process's threads. */
	if (!t || t->proc != p)
		return;
	sj->item_updates++;
	had_work = t->has_work;
	t->sid = (int32_t)sid;
	t->has_work = si.flags & GHOST_SCHED_ITEM_RUNNABLE;
	if (ghost_prio_table_read_class(p->pt, si.wcid, &wc) == 0) {
		uint8_t qos = wc.qos < SJ_QOS_LEVELS ? (uint8_t)wc.qos : SJ_QOS_LEVELS - 1;

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

static void try_attach(struct sj_proc *p, int64_t now)
{
	if (p->pt || now < p->next_try)
		return;
	if (ghost_prio_table_attach(p->pid, &p->pt)) {
		p->pt = NULL;
		p->backoff = p->backoff ? p->backoff * 2 : SJ_ATTACH_FIRST_NS;
		if (p->backoff > SJ_ATTACH_MAX_NS)
			p->backoff = SJ_ATTACH_MAX_NS;
		p->next_try = now + p->backoff;
		return;
	}
	/* The stream told nothing of what was written before we came. */
	p->rescan = 0;
}

static struct sj_proc *proc_get(struct shinjuku *sj, pid_t pid)
{
	struct sj_proc *p;

	for (p = sj->procs; p; p = p->next)
		if (p->pid == pid)
			break;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->pid = pid;
		p->rescan = -1;
		p->next = sj->procs;
		sj->procs = p;
	}
	p->ntasks++;
	return p;
}

static void proc_put(struct shinjuku *sj, struct sj_proc *p)
{
	if (!p || --p->ntasks)
		return;
	for (struct sj_proc **pp = &sj->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	ghost_prio_table_detach(p->pt);
	free(p->idx);
	free(p);
}

/* Reads every table's stream, a bounded amount each round; returns how many items it read. */
static int poll_tables(struct shinjuku *sj)
{
	int64_t now = 0;
	int n = 0;

	for (struct sj_proc *p = sj->procs; p; p = p->next) {
		uint32_t items;

		if (!p->pt) {
			if (!now)
				now = ghost_now_ns();
			try_attach(p, now);
			continue;
		}
		for (int k = 0; k < SJ_UPDATES_PER_ROUND; k++) {
			int idx = ghost_prio_table_next_updated(p->pt);

			if (idx == GHOST_PRIO_TABLE_NO_UPDATES || idx < GHOST_PRIO_TABLE_OVERFLOW)
				break;
			if (idx == GHOST_PRIO_TABLE_OVERFLOW)
				p->rescan = 0; /* every item may have changed */
			else
				apply_item(sj, p, (uint32_t)idx);
			n++;
		}
		items = ghost_prio_table_items(p->pt);
		for (int k = 0; k < SJ_RESCAN_PER_ROUND && p->rescan >= 0; k++, n++) {
			if (p->rescan >= items) {
				p->rescan = -1;
				break;
			}
			apply_item(sj, p, (uint32_t)p->rescan++);
		}
	}
	return n;
}

/* ---- messages ---- */

static void on_new(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct shinjuku *sj = of(s);
	struct ghost_msg_payload_task_new pl;
	struct sj_task *t = st(task);
	pid_t pid;

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	t->f.cpu = -1;
	t->f.state = FIFO_BLOCKED;
	t->sid = -1;
	t->has_work = true;
	pid = tgid_of(task->gtid);
	t->proc = pid > 0 ? proc_get(sj, pid) : NULL;
	if (t->proc) {
		int32_t sid;

		try_attach(t->proc, ghost_now_ns());
		/* Its item, if one named it before it arrived (else a later update
		 * or the re-read of a fresh table finds it). */
		if (t->proc->pt && (sid = idx_get(t->proc, task->gtid)) >= 0)
			apply_item(sj, t->proc, (uint32_t)sid);
	}
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
	proc_put(sj, t->proc);
	t->proc = NULL;
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

	work += poll_tables(sj);
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
	sj->global_cpu = policy_global_cpu(sj->e, &cfg->base);
	return 0;
}

static void sj_fini(void *state)
{
	struct shinjuku *sj = state;

	while (sj->procs) {
		struct sj_proc *p = sj->procs;

		sj->procs = p->next;
		ghost_prio_table_detach(p->pt);
		free(p->idx);
		free(p);
	}
}

static uint32_t sj_runnable(void *state)
{
	return queued(state);
}

/* Under the base's lock, after the generic line. */
static int sj_format_stats(void *state, char *buf, size_t len)
{
	struct shinjuku *sj = state;
	int n, tables = 0;

	for (struct sj_proc *p = sj->procs; p; p = p->next)
		tables += p->pt != NULL;
	n = snprintf(buf, len,
		     "slice %lld us: sliced %llu unscheduled %llu | prio tables %d, item "
		     "updates %llu | global cpu %d moves %llu",
		     (long long)(sj->slice_ns / 1000), (unsigned long long)sj->slices,
		     (unsigned long long)sj->unschedules, tables,
		     (unsigned long long)sj->item_updates,
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
