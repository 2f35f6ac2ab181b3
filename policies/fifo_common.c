/*
 * policies/fifo_common.c - the pieces both FIFO policies use: an intrusive
 * run queue and the resynchronisation after a ring overflow.
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
