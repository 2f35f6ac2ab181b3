/*
 * policies/common.c - what every built-in policy shares: accounting, the
 * stats line, the global agent's moves.
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

void policy_fill_stats(struct ghost_policy_stats *out, struct ghost_sched *s, uint32_t runnable)
{
	out->tasks = s->tasks.count;
	out->runnable = runnable;
	out->task_runtime_ns = ghost_sched_task_runtime_ns(s, ghost_now_ns());
	out->msgs = s->stats.msgs_total;
	out->seqnum_errors = s->stats.seqnum_errors;
	out->bad_msgs = s->stats.bad_msgs;
}

int policy_format_stats(char *buf, size_t len, struct ghost_sched *s, struct ghost_enclave *e,
			uint32_t runnable, int64_t started_ns)
{
	static const struct {
		uint16_t type;
		const char *name;
	} kinds[] = {
		{ MSG_TASK_NEW, "new" },	   { MSG_TASK_WAKEUP, "wakeup" },
		{ MSG_TASK_BLOCKED, "blocked" },   { MSG_TASK_PREEMPT, "preempt" },
		{ MSG_TASK_YIELD, "yield" },	   { MSG_TASK_DEAD, "dead" },
		{ MSG_TASK_DEPARTED, "departed" }, { MSG_CPU_TICK, "tick" },
	};
	struct ghost_txn_counts c;
	const struct ghost_cpuset *set = ghost_enclave_cpus(e);
	int64_t now = ghost_now_ns();
	uint64_t busy, wall;
	size_t pos = 0;
	int n, ncpus = 0, navail = 0, cpu;

	ghost_txn_get_counts(e, &c);
	ghost_cpuset_for_each(cpu, set) {
		ncpus++;
		navail += policy_cpu_available(e, cpu);
	}
	/* Since the policy started: what its tasks ran (including tasks it
	 * took over, which may have run before), against its CPUs' time. */
	busy = ghost_sched_task_runtime_ns(s, now);
	wall = (uint64_t)(now - started_ns) * (uint64_t)(ncpus ? ncpus : 1);
	n = snprintf(buf, len, "tasks %u runnable %u commits ok %llu failed %llu", s->tasks.count,
		     runnable, (unsigned long long)c.succeeded,
		     (unsigned long long)(c.committed - c.succeeded));
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	pos = (size_t)n;
	for (int i = 1; i < 16; i++) {
		if (!c.failed[i])
			continue;
		n = snprintf(buf + pos, len - pos, " %s %llu",
			     ghost_txn_reason(GHOST_TXN_COMPLETE + i),
			     (unsigned long long)c.failed[i]);
		if (n < 0 || (size_t)n >= len - pos)
			return -ENOSPC;
		pos += (size_t)n;
	}
	n = snprintf(buf + pos, len - pos, " | msgs");
	if (n < 0 || (size_t)n >= len - pos)
		return -ENOSPC;
	pos += (size_t)n;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = snprintf(buf + pos, len - pos, " %s %llu", kinds[i].name,
			     (unsigned long long)s->stats.msgs[kinds[i].type]);
		if (n < 0 || (size_t)n >= len - pos)
			return -ENOSPC;
		pos += (size_t)n;
	}
	n = snprintf(buf + pos, len - pos,
		     " | idle %.1f%% | cpus available %d/%d | seqnum_errors %llu bad_msgs %llu",
		     wall && busy < wall ? 100.0 * (1.0 - (double)busy / (double)wall) : 0.0,
		     navail, ncpus, (unsigned long long)s->stats.seqnum_errors,
		     (unsigned long long)s->stats.bad_msgs);
	if (n < 0 || (size_t)n >= len - pos)
		return -ENOSPC;
	return (int)(pos + (size_t)n);
}

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

int policy_central_init(struct ghost_enclave *e, const struct policy_config *cfg,
			struct ghost_sched *s, const struct ghost_sched_ops *ops, void *state,
			size_t task_size, struct ghost_channel **chan, int *global_cpu)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(e);
	int err;

	*global_cpu = cfg && cfg->global_cpu >= 0 && ghost_cpuset_test(cpus, cfg->global_cpu)
			      ? cfg->global_cpu
			      : ghost_cpuset_first(cpus);
	err = ghost_sched_init(s, e, ops, state, task_size);
	if (err)
		return err;
	err = ghost_channel_create(
		e, cfg && cfg->queue_elems ? cfg->queue_elems : GHOST_MAX_QUEUE_ELEMS, 0, chan);
	if (err)
		return err;
	/* Polled by the global agent: nobody is woken for its messages. */
	err = ghost_channel_config_wakeup(*chan, NULL, 0);
	if (!err)
		err = ghost_channel_set_default(*chan);
	return err;
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

int policy_take_over(struct ghost_sched *s, bool take_over)
{
	int n;

	if (!take_over)
		return 0;
	n = ghost_sched_discover(s);
	return n < 0 ? n : 0;
}
