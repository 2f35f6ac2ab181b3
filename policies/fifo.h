/*
 * policies/fifo.h - what the two FIFO policies share: the task record, the
 * run queue and the resynchronisation after a ring overflow.
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

/*
 * After a channel dropped messages: every known task takes its barrier
 * from its status word and its state from the word's flags (fix says
 * where it belongs now: runnable and waiting, on a CPU, or blocked; gone
 * tasks are removed), then tasks whose TASK_NEW was lost are adopted from
 * their status words into adopt_into (nothing is written into the rings:
 * they may be full).
 */
enum fifo_resync_state {
	FIFO_RESYNC_RUNNABLE,
	FIFO_RESYNC_ONCPU,
	FIFO_RESYNC_BLOCKED,
	FIFO_RESYNC_GONE
};
void fifo_resync(struct ghost_sched *s, struct ghost_channel *adopt_into,
		 void (*fix)(struct ghost_sched *s, struct fifo_task *t,
			     enum fifo_resync_state st));

#endif
