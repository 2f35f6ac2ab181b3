/*
 * policies/fifo.h - what the FIFO policies share: the task record and its
 * run queue (the library's, typed).
 *
 * Policies are written once for every backend: they include only public
 * libghost headers and reach the kernel only through them.
 */
#ifndef GHOST_POLICIES_FIFO_H
#define GHOST_POLICIES_FIFO_H

#include "common.h"

#include <pthread.h>

enum fifo_run_state {
	FIFO_BLOCKED = 0,
	FIFO_QUEUED,
	FIFO_ONCPU,
	FIFO_YIELDING,
	FIFO_ASSIGNED, /* committed elsewhere, not yet confirmed on a CPU */
};

struct fifo_task {
	struct ghost_task base; /* first: the scheduler base's record (and queue links) */
	int cpu;		/* per-CPU: the CPU it belongs to; -1 none */
	uint8_t state;		/* enum fifo_run_state */
	bool prio_boost;
	bool sliced; /* centralized: preempted by the time slice */
};

/* The FIFO policies' run queue is the library's, with their task type. */
static inline void fifo_rq_push_back(struct ghost_task_queue *rq, struct fifo_task *t)
{
	ghost_task_queue_push(rq, &t->base, false);
	t->state = FIFO_QUEUED;
}

static inline void fifo_rq_push_front(struct ghost_task_queue *rq, struct fifo_task *t)
{
	ghost_task_queue_push(rq, &t->base, true);
	t->state = FIFO_QUEUED;
}

static inline struct fifo_task *fifo_rq_pop(struct ghost_task_queue *rq)
{
	return (struct fifo_task *)ghost_task_queue_pop(rq);
}

static inline void fifo_rq_remove(struct ghost_task_queue *rq, struct fifo_task *t)
{
	ghost_task_queue_remove(rq, &t->base);
}

static inline bool fifo_rq_contains(const struct ghost_task_queue *rq, const struct fifo_task *t)
{
	return t->base.queue == rq;
}

#endif
