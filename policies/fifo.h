/*
 * policies/fifo.h - what the two FIFO policies share: the task record, the
 * run queue.
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
	struct ghost_task base;	       /* first: the scheduler base's record */
	struct fifo_task *prev, *next; /* run queue links */
	struct fifo_rq *rq;	       /* the queue it is on, NULL if none */
	int cpu;		       /* per-CPU: the CPU it belongs to; -1 none */
	uint8_t state;		       /* enum fifo_run_state */
	bool prio_boost;
	bool sliced; /* centralized: preempted by the time slice */
};

struct fifo_rq {
	struct fifo_task *head, *tail;
	uint32_t count;
};

void fifo_rq_push_back(struct fifo_rq *rq, struct fifo_task *t);
void fifo_rq_push_front(struct fifo_rq *rq, struct fifo_task *t);
struct fifo_task *fifo_rq_pop(struct fifo_rq *rq);
void fifo_rq_remove(struct fifo_rq *rq, struct fifo_task *t);
bool fifo_rq_contains(const struct fifo_rq *rq, const struct fifo_task *t);

#endif
