/*
 * policies/fifo_common.c - the pieces both FIFO policies use: an intrusive
 * run queue.
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
