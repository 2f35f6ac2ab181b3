/*
 * ghost/sched.h - the scheduler base every policy builds on.
 *
 * It owns the task table (gtid -> task, O(1) lookup, insert and remove, in
 * policy-sized records so a policy embeds struct ghost_task first in its own
 * task type) and the dispatch of every message type to a per-type callback.
 * It enforces the sequence-number rule: TASK_NEW sets a task's seqnum, every
 * later message must carry a larger one. It makes no scheduling decision.
 */
#ifndef GHOST_SCHED_H
#define GHOST_SCHED_H

#include <ghost/abi.h>
#include <ghost/channel.h>
#include <ghost/common.h>

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_enclave;

struct ghost_task_queue;

struct ghost_task {
	int64_t gtid;
	uint32_t seqnum; /* seqnum of the last message dispatched for it */
	struct ghost_sw_info sw_info;
	const struct ghost_status_word *sw;
	struct ghost_task *hash_next; /* private to the task table */
	/* The policy's run queue it is on (ghost_task_queue_*), NULL if none. */
	struct ghost_task_queue *queue;
	struct ghost_task *q_prev, *q_next;
};

/*
 * A policy's run queue: a list of tasks linked through their own records,
 * so queueing never allocates. A task is on at most one queue; the base
 * takes a task off its queue before it frees the record (TASK_DEAD,
 * TASK_DEPARTED, a resync that found it gone). Not locked: the policy's.
 */
struct ghost_task_queue {
	struct ghost_task *head, *tail;
	uint32_t count;
};

/* Puts t at the back (or the front) of q, off whatever queue it was on. */
GHOST_API void ghost_task_queue_push(struct ghost_task_queue *q, struct ghost_task *t, bool front);
/* Takes t off q (nothing if t is not on q). */
GHOST_API void ghost_task_queue_remove(struct ghost_task_queue *q, struct ghost_task *t);
/* Takes the task at the front off q; NULL if q is empty. */
GHOST_API struct ghost_task *ghost_task_queue_pop(struct ghost_task_queue *q);

struct ghost_task_table {
	struct ghost_task **buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t count;
	size_t task_size;
	void *free_list; /* recycled records */
	void **chunks;	 /* slabs of records, freed with the table */
	uint32_t nchunks, chunk_cap;
	uint32_t chunk_used; /* records handed out of the newest chunk */
};

GHOST_API int ghost_task_table_init(struct ghost_task_table *t, size_t task_size);
GHOST_API void ghost_task_table_fini(struct ghost_task_table *t);
GHOST_API struct ghost_task *ghost_task_table_find(const struct ghost_task_table *t, int64_t gtid);
/* A zeroed record for gtid; NULL with errno EEXIST if known, ENOMEM. */
GHOST_API struct ghost_task *ghost_task_table_insert(struct ghost_task_table *t, int64_t gtid);
/* Also takes task off its run queue, if it is on one. */
GHOST_API void ghost_task_table_remove(struct ghost_task_table *t, struct ghost_task *task);
/* Calls fn on every task; fn may not insert or remove. */
GHOST_API void ghost_task_table_for_each(struct ghost_task_table *t,
					 void (*fn)(struct ghost_task *task, void *ctx), void *ctx);

struct ghost_sched;

/* Where ghost_sched_resync found a task, from its status word. */
enum ghost_task_view {
	GHOST_TASK_VIEW_RUNNABLE, /* waiting for a CPU */
	GHOST_TASK_VIEW_ONCPU,	  /* on a CPU */
	GHOST_TASK_VIEW_BLOCKED,  /* neither */
	GHOST_TASK_VIEW_GONE,	  /* dead or departed: removed after the callback */
};

/* Per-message callbacks a policy overrides; NULL ones are ignored. */
struct ghost_sched_ops {
	/* Task messages: the task exists in the table (TASK_NEW created it). */
	void (*task_new)(struct ghost_sched *s, struct ghost_task *t, const struct ghost_msg *m);
	void (*task_wakeup)(struct ghost_sched *s, struct ghost_task *t, const struct ghost_msg *m);
	void (*task_blocked)(struct ghost_sched *s, struct ghost_task *t,
			     const struct ghost_msg *m);
	void (*task_yield)(struct ghost_sched *s, struct ghost_task *t, const struct ghost_msg *m);
	void (*task_preempt)(struct ghost_sched *s, struct ghost_task *t,
			     const struct ghost_msg *m);
	/* After task_dead / task_departed the base frees the status word and
	 * removes the task: the policy must drop every pointer to it. */
	void (*task_dead)(struct ghost_sched *s, struct ghost_task *t, const struct ghost_msg *m);
	void (*task_departed)(struct ghost_sched *s, struct ghost_task *t,
			      const struct ghost_msg *m);
	void (*task_switchto)(struct ghost_sched *s, struct ghost_task *t,
			      const struct ghost_msg *m);
	void (*task_affinity_changed)(struct ghost_sched *s, struct ghost_task *t,
				      const struct ghost_msg *m);
	void (*task_on_cpu)(struct ghost_sched *s, struct ghost_task *t, const struct ghost_msg *m);
	void (*task_priority_changed)(struct ghost_sched *s, struct ghost_task *t,
				      const struct ghost_msg *m);
	void (*task_latch_failure)(struct ghost_sched *s, struct ghost_task *t,
				   const struct ghost_msg *m);
	/* CPU messages. */
	void (*cpu_tick)(struct ghost_sched *s, const struct ghost_msg *m);
	void (*cpu_timer_expired)(struct ghost_sched *s, const struct ghost_msg *m);
	void (*cpu_not_idle)(struct ghost_sched *s, const struct ghost_msg *m);
	void (*cpu_available)(struct ghost_sched *s, const struct ghost_msg *m);
	void (*cpu_busy)(struct ghost_sched *s, const struct ghost_msg *m);
	void (*cpu_agent_blocked)(struct ghost_sched *s, const struct ghost_msg *m);
	void (*cpu_agent_wakeup)(struct ghost_sched *s, const struct ghost_msg *m);
	/*
	 * A channel dropped messages: the view of its tasks is stale. NULL:
	 * ghost_sched_resync(s, c).
	 */
	void (*channel_overflow)(struct ghost_sched *s, struct ghost_channel *c, uint32_t lost);
	/*
	 * From ghost_sched_resync: where the task really is now (its seqnum is
	 * already its status word's barrier). The policy moves it to the
	 * matching queue or state; after GONE it must drop every pointer to it.
	 * NULL: the task callbacks get what the lost messages would have said
	 * (TASK_WAKEUP, TASK_BLOCKED or TASK_DEPARTED; nothing for ONCPU).
	 */
	void (*task_resync)(struct ghost_sched *s, struct ghost_task *t, enum ghost_task_view view);
};

/* What the base counted; policies read it for their stats lines. */
struct ghost_sched_stats {
	uint64_t msgs[256]; /* by message type */
	uint64_t msgs_total;
	uint64_t bad_msgs;	     /* malformed, unknown type, or task unknown */
	uint64_t seqnum_errors;	     /* a task's seqnum did not increase */
	uint64_t duplicate_new;	     /* TASK_NEW for a known task */
	uint64_t overflows;	     /* messages lost to full rings */
	uint64_t retired_runtime_ns; /* CPU time of the tasks that died or departed */
};

struct ghost_sched {
	struct ghost_enclave *enclave;
	const struct ghost_sched_ops *ops;
	void *policy; /* the policy's own state */
	struct ghost_task_table tasks;
	struct ghost_sched_stats stats;
	/*
	 * The policy's lock, if it wants one: the base never takes it itself;
	 * the full agent takes it to read the stats of a policy whose base it
	 * owns (struct ghost_policy's sched_ops), so such a policy keeps every
	 * change of the table and of its queues under it.
	 */
	pthread_mutex_t lock;
};

GHOST_API int ghost_sched_init(struct ghost_sched *s, struct ghost_enclave *e,
			       const struct ghost_sched_ops *ops, void *policy, size_t task_size);
GHOST_API void ghost_sched_fini(struct ghost_sched *s);

/*
 * Hands one message to its callback, after the table and seqnum bookkeeping.
 * Returns 0, or -EINVAL (malformed), -ENOENT (task unknown), -EEXIST
 * (TASK_NEW for a known task), -ERANGE (a seqnum that does not move past the
 * task's: an older message, dropped without a callback); each is counted in
 * stats.
 */
GHOST_API int ghost_sched_dispatch(struct ghost_sched *s, const struct ghost_msg *m);
/*
 * CPU time every task the table ever knew has run, as of now_ns: the
 * runtime in each live task's status word (plus the time since its switch
 * onto a CPU while it is there) and that of the tasks that left. What ran,
 * not what messages reported: a task that never leaves its CPU counts too.
 * Read without the kernel's lock, so a value may be off by one switch.
 */
GHOST_API uint64_t ghost_sched_task_runtime_ns(struct ghost_sched *s, int64_t now_ns);
/* Dispatches and consumes every message of c; returns how many. */
GHOST_API int ghost_sched_drain(struct ghost_sched *s, struct ghost_channel *c);

/*
 * After a channel dropped messages: every known task takes its barrier from
 * its status word and goes to ops->task_resync (or the matching callback)
 * with where the word says it is; gone ones are then removed; tasks whose TASK_NEW was lost are adopted
 * (ghost_sched_adopt) into adopt_into; then every agent of the enclave is
 * pinged (the resync may have queued work for any CPU). Writes nothing into
 * the rings (they may be full). Returns how many tasks were adopted, or a
 * negative errno.
 */
GHOST_API int ghost_sched_resync(struct ghost_sched *s, struct ghost_channel *adopt_into);

/* What a policy knows of its tasks, for stats lines and stall reports. */
struct ghost_policy_stats {
	uint32_t tasks;		  /* in the policy's table */
	uint32_t runnable;	  /* waiting for a CPU in the policy's queues */
	uint64_t task_runtime_ns; /* ghost_sched_task_runtime_ns */
	uint64_t msgs;		  /* messages dispatched */
	uint64_t seqnum_errors, bad_msgs;
};

/*
 * The generic part of a policy's statistics from the base (the caller holds
 * whatever lock guards the table): tasks, their runtime, messages.
 */
GHOST_API void ghost_sched_fill_stats(struct ghost_sched *s, struct ghost_policy_stats *out);

/*
 * Finds every task of the enclave the table does not know (an agent
 * taking over a live enclave) and has the kernel send TASK_NEW for it.
 */
GHOST_API int ghost_sched_discover(struct ghost_sched *s);

/*
 * Discovery from the status words (the way ghost-userspace does it): every
 * task whose word is in use but that the table does not know is associated
 * with c and handed to the policy as a synthesised TASK_NEW carrying its
 * current barrier. Unlike ghost_sched_discover it writes nothing into the
 * rings, so it is safe right after a ring overflowed. Returns how many
 * tasks were adopted.
 */
GHOST_API int ghost_sched_adopt(struct ghost_sched *s, struct ghost_channel *c);

#ifdef __cplusplus
}
#endif

#endif
