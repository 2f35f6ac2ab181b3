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

extern const struct ghost_policy fifo_percpu_policy;
extern const struct ghost_policy fifo_centralized_policy;
extern const struct ghost_policy shinjuku_policy;
extern const struct ghost_policy sol_policy;
extern const struct ghost_policy cfs_policy;
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

#endif
