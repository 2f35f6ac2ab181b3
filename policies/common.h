/*
 * policies/common.h - pieces every built-in policy uses: busy-time
 * accounting from off-CPU messages, the generic half of the stats line, and
 * what a centralized policy's global agent needs (is a CPU available, move
 * the global role off a CPU a higher class wants).
 *
 * Pure helpers over the public API: no kernel knowledge, no locks (callers
 * hold their policy's lock), no output.
 */
#ifndef GHOST_POLICIES_COMMON_H
#define GHOST_POLICIES_COMMON_H

#include "policies.h"

#include <ghost/enclave.h>

#include <pthread.h>

/* The stats line's common part (tasks, runnable, commits, messages, idle
 * share from what the tasks ran, CPUs available). */
int policy_format_stats(char *buf, size_t len, struct ghost_sched *s, struct ghost_enclave *e,
			uint32_t runnable, int64_t started_ns);

/* What every policy's get_stats reports, from the scheduler base. */
void policy_fill_stats(struct ghost_policy_stats *out, struct ghost_sched *s, uint32_t runnable);

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

/* No higher class wants cpu (its agent's CPU_AVAIL). */
bool policy_cpu_available(struct ghost_enclave *e, int cpu);

/*
 * The global agent's CPU (from) is wanted by a higher class: hand the role
 * to an available CPU, SMT siblings first, then L3 siblings, the NUMA node,
 * any; its agent is pinged. Returns the new CPU, or -1 if none is free.
 */
int policy_move_global(struct ghost_enclave *e, int from, int *global_cpu);

/*
 * A centralized policy's set-up: the scheduler base over task records of
 * task_size, one channel polled by the global agent (the enclave's default
 * queue, waking nobody), and where the global agent starts (cfg's CPU if
 * the enclave has it, else the enclave's first).
 */
int policy_central_init(struct ghost_enclave *e, const struct policy_config *cfg,
			struct ghost_sched *s, const struct ghost_sched_ops *ops, void *state,
			size_t task_size, struct ghost_channel **chan, int *global_cpu);

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

/* enclave_ready of a policy taking over a live enclave: discover its tasks. */
int policy_take_over(struct ghost_sched *s, bool take_over);

#endif
