/*
 * policies/common.h - pieces the built-in policies share: the parameters
 * most of them declare, what a failed commit means to a policy, a per-CPU
 * agent's local commit, and what a centralized policy's global agent needs
 * (is a CPU available, move the global role off a CPU a higher class wants).
 *
 * Pure helpers over the public API: no kernel knowledge, no locks (callers
 * hold their policy's lock), no output.
 */
#ifndef GHOST_POLICIES_COMMON_H
#define GHOST_POLICIES_COMMON_H

#include "policies.h"

#include <ghost/enclave.h>
#include <ghost/policy.h>

#include <stddef.h>

#include <pthread.h>

/* Parameters several built-in policies declare, as field f of their config struct T. */
#define POLICY_PARAM_QUEUE_ELEMS(T, f)                                                      \
	{                                                                                   \
		.name = "queue_elems", .type = GHOST_PARAM_INT, .offset = offsetof(T, f),   \
		.def = "65536", .min = GHOST_MIN_QUEUE_ELEMS, .max = GHOST_MAX_QUEUE_ELEMS, \
		.help = "slots of each message queue (a power of 2; a ring that fills "     \
			"loses messages and is resynchronised)",                            \
		.flags = GHOST_PARAM_POWER_OF_2                                             \
	}
#define POLICY_PARAM_GLOBAL_CPU(T, f)                                                    \
	{                                                                                \
		.name = "global_cpu", .type = GHOST_PARAM_CPU, .offset = offsetof(T, f), \
		.def = "auto",                                                           \
		.help = "where the global agent starts (auto: the enclave's first CPU)"  \
	}

/* The config every centralized built-in policy begins its own with. */
struct policy_central_config {
	int64_t queue_elems;
	int global_cpu; /* -1: the enclave's first CPU */
};

/*
 * What a policy does about a failed commit, by the txn's state (the table in
 * include/ghost/txn.h). None of them is "commit it again at once": that is a
 * storm.
 */
enum policy_failure {
	POLICY_FAIL_RETRY, /* the view was behind: requeue at the front, decide
				 * again after draining (STALE, POISONED, ABORTED) */
	POLICY_FAIL_ONCPU, /* still on a CPU: wait for the message that it left */
	POLICY_FAIL_PARK,  /* the task cannot run as the policy thought (gone,
				 * blocked, not ours): out of the queues until a
				 * message about it comes */
	POLICY_FAIL_CPU,   /* the CPU refused (unavailable, offline, no agent,
				 * bad txn): requeue the task, leave the CPU alone for
				 * POLICY_CPU_BACKOFF_NS or until its agent wakes */
};
#define POLICY_CPU_BACKOFF_NS 10000000LL
enum policy_failure policy_failure_of(int32_t txn_state);

/*
 * A per-CPU agent's local commit: gtid (its last seqnum) on cpu, with the
 * agent barrier the loop read before draining. Returns 1 (it ran; the call
 * returns when the agent runs again), else 0 or a negative errno from the
 * open or the commit, with the txn's state in *txn_state and what to do in
 * *why (POLICY_FAIL_CPU for an errno).
 */
int policy_commit_local(struct ghost_enclave *e, int cpu, int64_t gtid, uint32_t seqnum,
			uint32_t barrier, int32_t *txn_state, enum policy_failure *why);

/* No higher class wants cpu (its agent's CPU_AVAIL). */
bool policy_cpu_available(struct ghost_enclave *e, int cpu);

/*
 * The global agent's CPU (from) is wanted by a higher class: hand the role
 * to an available CPU, SMT siblings first, then L3 siblings, the NUMA node,
 * any; its agent is pinged. Returns the new CPU, or -1 if none is free.
 */
int policy_move_global(struct ghost_enclave *e, int from, int *global_cpu);

/* Where a centralized policy's global agent starts: cfg's CPU if set and
 * in the enclave, else the enclave's first. */
int policy_global_cpu(struct ghost_enclave *e, const struct policy_central_config *cfg);

/*
 * One iteration of a centralized policy's agent loop. A satellite (not the
 * global agent) gives its CPU up until a ping wakes it (finishing, or the
 * global role moved to it). The global agent polls (ghost_agent_set_polling):
 * under lock it hands its role on if a higher class wants its CPU (counted in
 * *moves), else runs round(state, finishing) - read messages, decide, commit -
 * which returns how much it did; a round that did nothing relaxes the CPU.
 */
void policy_central_loop(struct ghost_agent *a, pthread_mutex_t *lock, int *global_cpu,
			 uint64_t *moves, int (*round)(void *state, bool finishing), void *state);

#endif
