/*
 * policies/common.c - what the built-in policies share: what a failed
 * commit means, a per-CPU agent's local commit, the global agent's set-up,
 * loop and moves.
 *
 * Pure bookkeeping over the public API: nothing here takes a lock (the
 * callers hold their policy's lock) or prints.
 */
#include "common.h"

#include <ghost/channel.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/topology.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum policy_failure policy_failure_of(int32_t txn_state)
{
	switch (txn_state) {
	case GHOST_TXN_TARGET_ONCPU:
		return POLICY_FAIL_ONCPU;
	case GHOST_TXN_TARGET_NOT_FOUND:
	case GHOST_TXN_TARGET_NOT_RUNNABLE:
	case GHOST_TXN_INVALID_TARGET:
	case GHOST_TXN_NOT_PERMITTED:
		return POLICY_FAIL_PARK;
	case GHOST_TXN_CPU_OFFLINE:
	case GHOST_TXN_CPU_UNAVAIL:
	case GHOST_TXN_INVALID_FLAGS:
	case GHOST_TXN_INVALID_CPU:
	case GHOST_TXN_NO_AGENT:
	case GHOST_TXN_UNSUPPORTED_VERSION:
		return POLICY_FAIL_CPU;
	default: /* TARGET_STALE, AGENT_STALE, POISONED, ABORTED */
		return POLICY_FAIL_RETRY;
	}
}

int policy_commit_local(struct ghost_enclave *e, int cpu, int64_t gtid, uint32_t seqnum,
			uint32_t barrier, int32_t *txn_state, enum policy_failure *why)
{
	struct ghost_txn_opts o = { 0 };
	int r;

	o.target = gtid;
	o.target_barrier = seqnum;
	o.agent_barrier = barrier;
	o.commit_flags = COMMIT_AT_TXN_COMMIT;
	r = ghost_txn_open(e, cpu, &o);
	if (!r)
		r = ghost_txn_commit(e, cpu);
	if (r == 1) {
		*txn_state = GHOST_TXN_COMPLETE;
		*why = POLICY_FAIL_RETRY;
		return 1;
	}
	*txn_state = ghost_txn_state(ghost_enclave_txn(e, cpu));
	*why = r < 0 ? POLICY_FAIL_CPU : policy_failure_of(*txn_state);
	return r;
}

bool policy_cpu_available(struct ghost_enclave *e, int cpu)
{
	struct ghost_agent *a = ghost_enclave_agent(e, cpu);
	const struct ghost_status_word *sw = a ? ghost_agent_status_word(a) : NULL;

	return sw && ghost_sw_cpu_available(sw);
}

int policy_move_global(struct ghost_enclave *e, int from, int *global_cpu)
{
	const struct ghost_topo *topo = ghost_enclave_topology(e);
	const struct ghost_topo_cpu *me = ghost_topo_cpu(topo, from);
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(e);
	struct ghost_cpuset tiers[4];
	int cpu;

	if (!me)
		return -1;
	tiers[0] = me->siblings;
	tiers[1] = me->l3_siblings;
	ghost_topo_numa_cpus(topo, me->numa_node, &tiers[2]);
	tiers[3] = *cpus;
	for (int i = 0; i < 4; i++) {
		ghost_cpuset_and(&tiers[i], &tiers[i], cpus);
		ghost_cpuset_for_each(cpu, &tiers[i]) {
			if (cpu == from || !policy_cpu_available(e, cpu))
				continue;
			__atomic_store_n(global_cpu, cpu, __ATOMIC_RELEASE);
			ghost_txn_ping(e, cpu);
			return cpu;
		}
	}
	return -1;
}

int policy_global_cpu(struct ghost_enclave *e, const struct policy_central_config *cfg)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(e);

	return cfg->global_cpu >= 0 && ghost_cpuset_test(cpus, cfg->global_cpu)
		       ? cfg->global_cpu
		       : ghost_cpuset_first(cpus);
}

void policy_central_loop(struct ghost_agent *a, pthread_mutex_t *lock, int *global_cpu,
			 uint64_t *moves, int (*round)(void *state, bool finishing), void *state)
{
	struct ghost_enclave *e = ghost_agent_enclave(a);
	int cpu = ghost_agent_cpu(a), work;

	if (cpu != __atomic_load_n(global_cpu, __ATOMIC_ACQUIRE)) {
		ghost_agent_set_polling(a, false);
		if (!ghost_agent_finishing(a))
			ghost_txn_local_yield(e, cpu, ghost_sw_barrier(ghost_agent_status_word(a)),
					      0);
		return;
	}
	ghost_agent_set_polling(a, true);
	pthread_mutex_lock(lock);
	if (ghost_sw_boosted_priority(ghost_agent_status_word(a)) &&
	    policy_move_global(e, cpu, global_cpu) >= 0) {
		(*moves)++;
		pthread_mutex_unlock(lock);
		return;
	}
	work = round(state, ghost_agent_finishing(a));
	pthread_mutex_unlock(lock);
	if (work <= 0)
		ghost_agent_relax(a);
}
