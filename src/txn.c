/*
 * txn.c - run requests over the shared per-CPU txn array.
 *
 * Owns the user half of the txn protocol: fill the fields, publish READY
 * with release, hand CPUs to the kernel in one call, wait for each state to
 * become final, release sync-group ownership. It counts outcomes by reason
 * for the agent's stats. It never reopens a txn the kernel may still read.
 */
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/txn.h>

#include <errno.h>

static const char *const reasons[] = {
	"COMPLETE",	  "ABORTED",	    "TARGET_ONCPU", "TARGET_STALE",
	"TARGET_NOT_FOUND", "TARGET_NOT_RUNNABLE", "AGENT_STALE", "CPU_OFFLINE",
	"CPU_UNAVAIL",	  "INVALID_FLAGS",  "INVALID_TARGET", "NOT_PERMITTED",
	"INVALID_CPU",	  "NO_AGENT",	    "UNSUPPORTED_VERSION", "POISONED",
};

const char *ghost_txn_reason(int32_t state)
{
	/* Unsigned: a claimed or READY state (>= 0) minus INT_MIN would overflow an int. */
	uint32_t i = (uint32_t)state - (uint32_t)GHOST_TXN_COMPLETE;

	if (state < 0 && i < GHOST_ARRAY_SIZE(reasons))
		return reasons[i];
	if (state == GHOST_TXN_READY)
		return "READY";
	if (state >= 0)
		return "CLAIMED";
	return "UNKNOWN";
}

void ghost_txn_get_counts(struct ghost_enclave *e, struct ghost_txn_counts *out)
{
	out->committed = __atomic_load_n(&e->txn_stats.committed, __ATOMIC_RELAXED);
	out->succeeded = __atomic_load_n(&e->txn_stats.succeeded, __ATOMIC_RELAXED);
	for (int i = 0; i < 16; i++)
		out->failed[i] = __atomic_load_n(&e->txn_stats.failed[i], __ATOMIC_RELAXED);
}

int ghost_txn_open(struct ghost_enclave *e, int cpu, const struct ghost_txn_opts *o)
{
	struct ghost_txn *t = ghost_enclave_txn(e, cpu);

	if (!t || !o)
		return -EINVAL;
	/* Never reopen a txn the kernel has not finished with. */
	if (ghost_txn_state(t) >= 0)
		return -EBUSY;
	if (o->sync_group_owner >= 0) {
		int32_t free_owner = -1;

		while (!__atomic_compare_exchange_n(&t->u.sync_group_owner, &free_owner,
						    o->sync_group_owner, false, __ATOMIC_ACQUIRE,
						    __ATOMIC_RELAXED)) {
			if (free_owner == o->sync_group_owner)
				break;
			free_owner = -1;
			ghost_cpu_relax();
		}
	}
	t->gtid = o->target;
	t->task_barrier = o->target_barrier;
	t->agent_barrier = o->agent_barrier;
	t->run_flags = o->run_flags;
	t->commit_flags = o->commit_flags | (o->allow_task_on_cpu ? ALLOW_TASK_ONCPU : 0);
	/* Release: the fields above are visible to whoever claims READY. */
	__atomic_store_n(&t->state, GHOST_TXN_READY, __ATOMIC_RELEASE);
	return 0;
}

int ghost_txn_abort(struct ghost_enclave *e, int cpu)
{
	struct ghost_txn *t = ghost_enclave_txn(e, cpu);
	int32_t ready = GHOST_TXN_READY;

	if (!t)
		return -EINVAL;
	if (__atomic_compare_exchange_n(&t->state, &ready, GHOST_TXN_ABORTED, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;
	return -EALREADY;
}

/* Waits until the kernel has finished with cpu's txn; counts the outcome. */
static bool wait_committed(struct ghost_enclave *e, int cpu)
{
	struct ghost_txn *t = &e->cpu_data[cpu].txn;
	int32_t s;

	/* Remote greedy commits can complete asynchronously. */
	while ((s = ghost_txn_state(t)) >= 0)
		ghost_cpu_relax();
	__atomic_add_fetch(&e->txn_stats.committed, 1, __ATOMIC_RELAXED);
	if (s == GHOST_TXN_COMPLETE) {
		__atomic_add_fetch(&e->txn_stats.succeeded, 1, __ATOMIC_RELAXED);
		return true;
	}
	__atomic_add_fetch(&e->txn_stats.failed[(uint32_t)(s - GHOST_TXN_COMPLETE) & 15], 1,
			   __ATOMIC_RELAXED);
	return false;
}

int ghost_txn_commit(struct ghost_enclave *e, int cpu)
{
	struct ghost_cpuset one;

	if (!ghost_enclave_txn(e, cpu))
		return -EINVAL;
	ghost_cpuset_zero(&one);
	ghost_cpuset_set(&one, cpu);
	return ghost_txn_commit_set(e, &one);
}

int ghost_txn_commit_set(struct ghost_enclave *e, const struct ghost_cpuset *cpus)
{
	struct ghost_cpuset in, ready;
	int err, ok = 0, cpu;

	if (!e || !cpus)
		return -EINVAL;
	ghost_cpuset_and(&in, cpus, &e->cpus);
	if (!ghost_cpuset_equal(&in, cpus))
		return -EINVAL;
	ghost_cpuset_zero(&ready);
	ghost_cpuset_for_each(cpu, cpus)
		if (ghost_txn_is_open(&e->cpu_data[cpu].txn))
			ghost_cpuset_set(&ready, cpu);
	err = ghost_enclave_note_gone(e, e->ops->commit(e->k, cpus));
	if (err < 0)
		return err;
	ghost_cpuset_for_each(cpu, &ready) {
		struct ghost_txn *t = &e->cpu_data[cpu].txn;

		/* Staged for the target's next schedule: nothing to wait for now. */
		if (ghost_txn_is_open(t) &&
		    (t->commit_flags & COMMIT_AT_FLAGS) == COMMIT_AT_SCHEDULE)
			continue;
		ok += wait_committed(e, cpu);
	}
	return ok;
}

int ghost_txn_commit_sync_group(struct ghost_enclave *e, const struct ghost_cpuset *cpus)
{
	struct ghost_cpuset in;
	int r, cpu;

	if (!e || !cpus)
		return -EINVAL;
	ghost_cpuset_and(&in, cpus, &e->cpus);
	if (!ghost_cpuset_equal(&in, cpus))
		return -EINVAL;
	r = ghost_enclave_note_gone(e, e->ops->sync_group_commit(e->k, cpus));
	if (r < 0)
		return r;
	ghost_cpuset_for_each(cpu, cpus) {
		wait_committed(e, cpu);
		/* On success the kernel released ownership; on failure we do. */
		if (r == 0)
			__atomic_store_n(&e->cpu_data[cpu].txn.u.sync_group_owner, -1,
					 __ATOMIC_RELEASE);
	}
	return r ? 1 : 0;
}

int ghost_txn_local_yield(struct ghost_enclave *e, int cpu, uint32_t agent_barrier,
			  int run_flags)
{
	if (!ghost_enclave_txn(e, cpu))
		return -EINVAL;
	return ghost_enclave_note_gone(
		e, e->ops->run(e->k, GHOST_NULL_GTID, agent_barrier, 0, cpu, run_flags));
}

int ghost_txn_ping(struct ghost_enclave *e, int cpu)
{
	if (!ghost_enclave_txn(e, cpu))
		return -EINVAL;
	return ghost_enclave_note_gone(e, e->ops->run(e->k, GHOST_AGENT_GTID, 0, 0, cpu, 0));
}
