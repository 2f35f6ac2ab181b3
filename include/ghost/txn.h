/*
 * ghost/txn.h - run requests: "run task T on CPU C" transactions.
 *
 * Each enclave CPU has one txn in the shared per-CPU array. An agent opens
 * it (fills the fields, then publishes state READY with release), commits
 * one CPU or a set of CPUs in one kernel call, and reads the outcome from
 * the state word. The kernel side claims, validates and completes it. Only
 * one agent may use a given CPU's txn at a time; nothing here locks.
 */
#ifndef GHOST_TXN_H
#define GHOST_TXN_H

#include <ghost/abi.h>
#include <ghost/common.h>
#include <ghost/cpuset.h>

struct ghost_enclave;

struct ghost_txn_opts {
	int64_t target;			/* gtid, or GHOST_NULL/AGENT/IDLE_GTID */
	uint32_t target_barrier;	/* the seqnum of the last message seen for target */
	uint32_t agent_barrier;		/* checked on local commits only */
	uint8_t commit_flags;		/* COMMIT_AT_*, ELIDE_AGENT_BARRIER_INC... */
	uint16_t run_flags;		/* RTLA_*, SEND_TASK_ON_CPU, ... */
	int32_t sync_group_owner;	/* >= 0: take the txn for this sync group; -1 none */
	bool allow_task_on_cpu;		/* sets ALLOW_TASK_ONCPU */
};

static inline int32_t ghost_txn_state(const struct ghost_txn *t)
{
	/* Acquire: the kernel stores the final state with release after
	 * writing commit_time and cpu_seqnum. */
	return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
}
static inline bool ghost_txn_is_open(const struct ghost_txn *t)
{
	return ghost_txn_state(t) == GHOST_TXN_READY;
}
static inline bool ghost_txn_is_claimed(const struct ghost_txn *t)
{
	int32_t s = ghost_txn_state(t);

	return s >= 0 && s < GHOST_MAX_CPUS;
}
static inline bool ghost_txn_is_committed(const struct ghost_txn *t)
{
	return ghost_txn_state(t) < 0;
}
static inline bool ghost_txn_succeeded(const struct ghost_txn *t)
{
	return ghost_txn_state(t) == GHOST_TXN_COMPLETE;
}
static inline bool ghost_txn_failed(const struct ghost_txn *t)
{
	int32_t s = ghost_txn_state(t);

	return s < 0 && s != GHOST_TXN_COMPLETE;
}

/*
 * Opens cpu's txn with o. -EBUSY if the previous one is not committed yet
 * (never reopen a txn the kernel may still be reading), -EINVAL for a cpu
 * outside the enclave. With o->sync_group_owner >= 0 the txn is first taken
 * for that owner (spinning while another owner holds it).
 */
GHOST_API int ghost_txn_open(struct ghost_enclave *e, int cpu, const struct ghost_txn_opts *o);
/* Aborts an open txn: 0 if aborted, -EALREADY if the kernel already took it. */
GHOST_API int ghost_txn_abort(struct ghost_enclave *e, int cpu);
/* Commits cpu's open txn; waits for the outcome: 1 succeeded, 0 failed. */
GHOST_API int ghost_txn_commit(struct ghost_enclave *e, int cpu);
/*
 * Group commit: every open txn of cpus in one kernel call, then waits until
 * each is committed. Returns how many succeeded.
 */
GHOST_API int ghost_txn_commit_set(struct ghost_enclave *e, const struct ghost_cpuset *cpus);
/*
 * Sync-group commit: all of cpus' txns or none. 1 = all committed, 0 = none
 * did (every txn's sync-group ownership is released either way).
 */
GHOST_API int ghost_txn_commit_sync_group(struct ghost_enclave *e,
					  const struct ghost_cpuset *cpus);
/*
 * The calling agent of cpu gives its CPU up until a message for its queue,
 * a ping, or (with run_flags RTLA_ON_IDLE) the CPU going idle.
 * -ESTALE if agent_barrier is stale.
 */
GHOST_API int ghost_txn_local_yield(struct ghost_enclave *e, int cpu, uint32_t agent_barrier,
				    int run_flags);
/* Wakes cpu's agent (its barrier moves on). */
GHOST_API int ghost_txn_ping(struct ghost_enclave *e, int cpu);

/* Commit outcomes this process saw on the enclave, by final state. */
struct ghost_txn_counts {
	uint64_t committed;
	uint64_t succeeded;
	uint64_t failed[16];	/* by state - GHOST_TXN_COMPLETE */
};
GHOST_API void ghost_txn_get_counts(struct ghost_enclave *e, struct ghost_txn_counts *out);

/* Name of a failure state without the GHOST_TXN_ prefix: "TARGET_STALE"... */
GHOST_API const char *ghost_txn_reason(int32_t state);

#endif
