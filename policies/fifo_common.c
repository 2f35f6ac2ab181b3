/*
 * policies/fifo_common.c - the pieces both FIFO policies use: an intrusive
 * run queue, busy-time accounting and the stats line.
 *
 * Pure bookkeeping: nothing here talks to the kernel or takes a lock (the
 * callers hold their policy's lock).
 */
#include "fifo.h"

#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

void fifo_rq_push_back(struct fifo_rq *rq, struct fifo_task *t)
{
	if (t->rq)
		fifo_rq_remove(t->rq, t);
	t->rq = rq;
	t->next = NULL;
	t->prev = rq->tail;
	if (rq->tail)
		rq->tail->next = t;
	else
		rq->head = t;
	rq->tail = t;
	rq->count++;
	t->state = FIFO_QUEUED;
}

void fifo_rq_push_front(struct fifo_rq *rq, struct fifo_task *t)
{
	if (t->rq)
		fifo_rq_remove(t->rq, t);
	t->rq = rq;
	t->prev = NULL;
	t->next = rq->head;
	if (rq->head)
		rq->head->prev = t;
	else
		rq->tail = t;
	rq->head = t;
	rq->count++;
	t->state = FIFO_QUEUED;
}

bool fifo_rq_contains(const struct fifo_rq *rq, const struct fifo_task *t)
{
	return t->rq == rq;
}

void fifo_rq_remove(struct fifo_rq *rq, struct fifo_task *t)
{
	if (!fifo_rq_contains(rq, t))
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		rq->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		rq->tail = t->prev;
	t->prev = t->next = NULL;
	t->rq = NULL;
	rq->count--;
}

struct fifo_task *fifo_rq_pop(struct fifo_rq *rq)
{
	struct fifo_task *t = rq->head;

	if (t)
		fifo_rq_remove(rq, t);
	return t;
}

void fifo_account(struct fifo_cpu_stats *stats, struct fifo_task *t, const struct ghost_msg *m)
{
	/* blocked, preempt and yield payloads: gtid, runtime, cpu_seqnum, then cpu. */
	struct ghost_msg_payload_task_blocked pl;

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	if (pl.cpu < 0 || pl.cpu >= GHOST_MAX_CPUS || pl.runtime < t->runtime_seen)
		return;
	stats[pl.cpu].busy_ns += pl.runtime - t->runtime_seen;
	t->runtime_seen = pl.runtime;
}

int fifo_format_stats(char *buf, size_t len, struct ghost_sched *s, struct ghost_enclave *e,
		      uint32_t runnable, struct fifo_cpu_stats *cpus, int64_t started_ns)
{
	static const struct {
		uint16_t type;
		const char *name;
	} kinds[] = {
		{ MSG_TASK_NEW, "new" },	 { MSG_TASK_WAKEUP, "wakeup" },
		{ MSG_TASK_BLOCKED, "blocked" }, { MSG_TASK_PREEMPT, "preempt" },
		{ MSG_TASK_YIELD, "yield" },	 { MSG_TASK_DEAD, "dead" },
		{ MSG_TASK_DEPARTED, "departed" }, { MSG_CPU_TICK, "tick" },
	};
	struct ghost_txn_counts c;
	const struct ghost_cpuset *set = ghost_enclave_cpus(e);
	int64_t now = ghost_now_ns();
	uint64_t busy = 0, wall;
	size_t pos = 0;
	int n, ncpus = 0, cpu;

	ghost_txn_get_counts(e, &c);
	ghost_cpuset_for_each(cpu, set) {
		busy += cpus[cpu].busy_ns;
		ncpus++;
	}
	wall = (uint64_t)(now - started_ns) * (uint64_t)(ncpus ? ncpus : 1);
	n = snprintf(buf, len, "tasks %u runnable %u commits ok %llu failed %llu", s->tasks.count,
		     runnable, (unsigned long long)c.succeeded,
		     (unsigned long long)(c.committed - c.succeeded));
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	pos = (size_t)n;
	for (int i = 1; i < 16; i++) {
		if (!c.failed[i])
			continue;
		n = snprintf(buf + pos, len - pos, " %s %llu",
			     ghost_txn_reason(GHOST_TXN_COMPLETE + i),
			     (unsigned long long)c.failed[i]);
		if (n < 0 || (size_t)n >= len - pos)
			return -ENOSPC;
		pos += (size_t)n;
	}
	n = snprintf(buf + pos, len - pos, " | msgs");
	pos += n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && pos < len; i++) {
		n = snprintf(buf + pos, len - pos, " %s %llu", kinds[i].name,
			     (unsigned long long)s->stats.msgs[kinds[i].type]);
		if (n < 0 || (size_t)n >= len - pos)
			return -ENOSPC;
		pos += (size_t)n;
	}
	n = snprintf(buf + pos, len - pos, " | idle %.1f%% | seqnum_errors %llu bad_msgs %llu",
		     wall && busy < wall ? 100.0 * (1.0 - (double)busy / (double)wall) : 0.0,
		     (unsigned long long)s->stats.seqnum_errors,
		     (unsigned long long)s->stats.bad_msgs);
	if (n < 0 || (size_t)n >= len - pos)
		return -ENOSPC;
	return (int)(pos + (size_t)n);
}

struct resync_ctx {
	struct ghost_sched *s;
	void (*fix)(struct ghost_sched *s, struct fifo_task *t, enum fifo_resync_state st);
	int64_t gone[256];
	int ngone;
};

static void resync_one(struct ghost_task *task, void *arg)
{
	struct resync_ctx *rc = arg;
	struct fifo_task *t = (struct fifo_task *)task;
	struct ghost_sw_snapshot sn;
	enum fifo_resync_state st;

	if (!task->sw)
		return;
	ghost_sw_read(task->sw, &sn);
	if (!(sn.flags & GHOST_SW_F_INUSE) || (sn.flags & GHOST_SW_F_CANFREE) ||
	    sn.gtid != task->gtid) {
		st = FIFO_RESYNC_GONE;
		if (rc->ngone < 256)
			rc->gone[rc->ngone++] = task->gtid;
	} else if (sn.flags & GHOST_SW_TASK_ONCPU) {
		st = FIFO_RESYNC_ONCPU;
	} else if (sn.flags & GHOST_SW_TASK_RUNNABLE) {
		st = FIFO_RESYNC_RUNNABLE;
	} else {
		st = FIFO_RESYNC_BLOCKED;
	}
	task->seqnum = sn.barrier;
	rc->fix(rc->s, t, st);
}

void fifo_resync(struct ghost_sched *s, struct ghost_channel *adopt_into,
		 void (*fix)(struct ghost_sched *s, struct fifo_task *t, enum fifo_resync_state st))
{
	struct resync_ctx rc = { .s = s, .fix = fix };

	ghost_task_table_for_each(&s->tasks, resync_one, &rc);
	for (int i = 0; i < rc.ngone; i++) {
		struct ghost_task *t = ghost_task_table_find(&s->tasks, rc.gone[i]);

		if (!t)
			continue;
		if (ghost_sw_can_free(t->sw))
			ghost_sw_free(s->enclave, &t->sw_info);
		ghost_task_table_remove(&s->tasks, t);
	}
	ghost_sched_adopt(s, adopt_into);
}

const struct ghost_policy *ghost_policy_find(const char *name)
{
	if (!name)
		return NULL;
	if (!strcmp(name, fifo_percpu_policy.name))
		return &fifo_percpu_policy;
	if (!strcmp(name, fifo_centralized_policy.name))
		return &fifo_centralized_policy;
	return NULL;
}
