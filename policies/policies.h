/*
 * policies/policies.h - the built-in policies as the tools see them: the
 * list, the options the command line sets, and what tests and benchmarks
 * read from a policy's state.
 *
 * Policies are written once for every backend: they include only public
 * libghost headers and reach the kernel only through them.
 */
#ifndef GHOST_POLICIES_POLICIES_H
#define GHOST_POLICIES_POLICIES_H

#include <ghost/agent.h>
#include <ghost/sched.h>

/* Options of the built-in policies (ghost-agent's command line). */
struct policy_config {
	int64_t time_slice_ns; /* centralized: 0 = the policy's default */
	int global_cpu;	       /* centralized: -1 = first enclave CPU */
	bool take_over;	       /* discover the tasks of a live enclave */
	int queue_elems;       /* slots per queue; 0 = GHOST_MAX_QUEUE_ELEMS */
};

extern const struct ghost_policy fifo_percpu_policy;
extern const struct ghost_policy fifo_centralized_policy;
extern const struct ghost_policy shinjuku_policy;

/* Looks a built-in policy up by name; NULL if there is none. */
const struct ghost_policy *ghost_policy_find(const char *name);
/* Every built-in policy, NULL-terminated. */
const struct ghost_policy *const *ghost_policy_all(void);

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
