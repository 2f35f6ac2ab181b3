/*
 * policies/policies.h - the built-in policies' tables, for the registry
 * (policies/registry.c) and for the tests and benchmarks that look into a
 * policy's state. Tools find policies through ghost/policy.h, by name.
 *
 * Policies are written once for every backend: they include only public
 * libghost headers and reach the kernel only through them.
 */
#ifndef GHOST_POLICIES_POLICIES_H
#define GHOST_POLICIES_POLICIES_H

#include <ghost/agent.h>
#include <ghost/policy.h>
#include <ghost/sched.h>

#include <sys/types.h>

extern const struct ghost_policy fifo_percpu_policy;
extern const struct ghost_policy fifo_centralized_policy;
extern const struct ghost_policy shinjuku_policy;
extern const struct ghost_policy sol_policy;
extern const struct ghost_policy cfs_policy;
extern const struct ghost_policy edf_policy;
/* examples/round_robin.c, built in (its table renamed by the build). */
extern const struct ghost_policy builtin_round_robin_policy;

/*
 * Every built-in policy's state begins with its struct ghost_sched, so a
 * tool or a test can read the scheduler base's counters from it.
 */
static inline struct ghost_sched *policy_sched_of(void *policy_state)
{
	return (struct ghost_sched *)policy_state;
}

/* Where a centralized policy's global agent is now. */
int fifo_centralized_global_cpu(void *state);
int shinjuku_global_cpu(void *state);
int edf_global_cpu(void *state);

/*
 * edf: the runtime estimate (ns) of work class wcid of process pid's
 * PrioTable and how many observed runtimes it has folded in since it started
 * at the class's exectime; -ENOENT while the agent has not seen that class.
 * Takes the policy's lock.
 */
int edf_class_estimate(void *state, pid_t pid, uint32_t wcid, int64_t *estimate_ns,
		       uint64_t *samples);

/* edf: what the agent holds of one task (ns on ghost_now_ns's clock but item_deadline). */
struct edf_task_view {
	int32_t sid;	/* the item that last named it, -1 none */
	bool has_class; /* wcid names a class of its table */
	uint32_t qos, wcid;
	uint64_t item_deadline; /* as the agent last read the item, ns since the epoch; 0 none */
	bool in_request, queued;
	int64_t deadline, estimate, key; /* of the request under way */
};
/* edf: the view of task gtid; -ENOENT if the agent does not know it. Takes the policy's lock. */
int edf_task_view(void *state, int64_t gtid, struct edf_task_view *out);

#endif
