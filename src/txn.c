/*
 * txn.c - run requests over the shared per-CPU txn array.
 *
 * Owns the user half of the txn protocol: fill the fields, publish READY
 * with release, hand CPUs to the kernel in one call, wait for each state to
 * become final, release sync-group ownership. It counts outcomes by reason
 * for the agent's stats, and watches for commit-failure storms (one task
 * failing for one reason over and over), which it reports once per task and
 * reason through the log. It never reopens a txn the kernel may still read,
 * never fakes an outcome (every commit goes to the kernel) and never takes a
 * lock on the commit path.
 */
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/thread.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>

static const char *const reasons[] = {
	"COMPLETE",	 "ABORTED",	     "TARGET_ONCPU",
	"TARGET_STALE",	 "TARGET_NOT_FOUND", "TARGET_NOT_RUNNABLE",
	"AGENT_STALE",	 "CPU_OFFLINE",	     "CPU_UNAVAIL",
	"INVALID_FLAGS", "INVALID_TARGET",   "NOT_PERMITTED",
	"INVALID_CPU",	 "NO_AGENT",	     "UNSUPPORTED_VERSION",
	"POISONED",
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

int ghost_txn_open(struct ghost_enclave *e, int cpu, const struct ghost_txn_opts *user_opts)
{
	struct ghost_txn *t = ghost_enclave_txn(e, cpu);
	struct ghost_txn_opts opts, *o = &opts;
	int err;

	if (!t || !user_opts)
		return -EINVAL;
	err = ghost_opts_copy(&opts, sizeof(opts), user_opts);
	if (err)
		return err;
	if (o->sync_group && o->sync_group_owner < 0)
		return -EINVAL;
	/* Never reopen a txn the kernel has not finished with. */
	if (ghost_txn_state(t) >= 0)
		return -EBUSY;
	if (o->sync_group) {
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

/*
 * ---- Storm watch ----
 *
 * A storm is GHOST_TXN_STORM_RUN failures in a row of one target for one
 * reason: no success of that target in between, no failure of it for
 * another reason. Runs are kept in a fixed, process-wide table of 64-bit
 * slots, one per target (hashed with its enclave; the special gtids <= 0
 * are told apart by CPU), updated with a CAS of the whole slot and no lock:
 *
 *   bits 63..40  tag: more bits of the hash, never 0 (0 = empty slot)
 *   bits 39..24  reasons already reported for this target (1 << index)
 *   bits 23..20  reason index of the current run (state - GHOST_TXN_COMPLETE)
 *   bits 19..0   length of the current run, saturating at GHOST_TXN_STORM_RUN
 *
 * The CAS that takes a run to GHOST_TXN_STORM_RUN for an unreported reason
 * also sets the reason's bit, so one thread reports it, exactly once, however
 * many agents commit the task at once. A saturated run rewrites nothing (the
 * CAS is skipped when the slot would not change), so a storm already
 * reported costs a load per failure. A success costs a load, and a CAS only
 * after failures. Slots share cache lines (eight to a line): agents of
 * different CPUs whose failing tasks land in one line contend on it, on the
 * failure path only. Two targets that hash to one slot take it from each other (a run
 * restarts, an already-reported reason may be reported again): the table
 * forgets, it never misattributes, since the line names the gtid of the txn
 * itself. The reports themselves are capped process-wide (see storm_report).
 */
#define STORM_SLOTS		 1024u /* power of two */
#define STORM_TAG_SHIFT		 40
#define STORM_MASK_SHIFT	 24
#define STORM_REASON_SHIFT	 20
#define STORM_RUN_BITS		 0xfffffu
#define STORM_REPORTS_PER_WINDOW 16 /* lines per window, process-wide */
#define STORM_WINDOW_NS		 (10 * 1000000000LL)

_Static_assert(GHOST_TXN_STORM_RUN > 1 && GHOST_TXN_STORM_RUN <= STORM_RUN_BITS,
	       "a run must fit its field");

static uint64_t storm_slots[STORM_SLOTS];
static uint64_t storm_window; /* (window number << 32) | lines reported in it */

/* What to do about each failure, in a phrase (docs/policies.md says more). */
static const char *const storm_hints[] = {
	[GHOST_TXN_TARGET_ONCPU - GHOST_TXN_COMPLETE] =
		"the task is still on a CPU: wait for its off-CPU message (or for TASK_ONCPU to "
		"clear in its status word) instead of committing it again",
	[GHOST_TXN_TARGET_STALE - GHOST_TXN_COMPLETE] =
		"the txn's task barrier is not the task's: drain its messages and commit with the "
		"seqnum of the last one read",
	[GHOST_TXN_TARGET_NOT_FOUND - GHOST_TXN_COMPLETE] =
		"no task has this gtid (it is gone, or the gtid is wrong): drop it, do not retry",
	[GHOST_TXN_TARGET_NOT_RUNNABLE - GHOST_TXN_COMPLETE] =
		"the task is blocked: wait for its TASK_WAKEUP",
	[GHOST_TXN_AGENT_STALE - GHOST_TXN_COMPLETE] =
		"the agent barrier moved (or DO_NOT_PREEMPT met a busy CPU): drain, re-read the "
		"barrier, decide again",
	[GHOST_TXN_CPU_OFFLINE - GHOST_TXN_COMPLETE] = "the CPU is offline: stop using it",
	[GHOST_TXN_CPU_UNAVAIL - GHOST_TXN_COMPLETE] =
		"a higher class owns the CPU: wait for its CPU_AVAIL bit (or MSG_CPU_AVAILABLE)",
	[GHOST_TXN_INVALID_FLAGS - GHOST_TXN_COMPLETE] = "a policy bug: this txn can never succeed",
	[GHOST_TXN_INVALID_TARGET - GHOST_TXN_COMPLETE] =
		"not a ghost task (an agent, departed, or a bad gtid): drop it",
	[GHOST_TXN_NOT_PERMITTED - GHOST_TXN_COMPLETE] =
		"this process is not the agent of that CPU",
	[GHOST_TXN_INVALID_CPU - GHOST_TXN_COMPLETE] =
		"the txn is not that CPU's (a corrupt txn page?)",
	[GHOST_TXN_NO_AGENT - GHOST_TXN_COMPLETE] =
		"that CPU has no agent: leave it out until one attaches",
	[GHOST_TXN_UNSUPPORTED_VERSION - GHOST_TXN_COMPLETE] =
		"txn->version was overwritten: a bug or a corrupt txn page",
};

static uint64_t storm_hash(const struct ghost_enclave *e, int64_t gtid, int cpu)
{
	/* Over the enclave, the gtid and (special gtids only) the CPU. */
	uint64_t x = (uint64_t)(uintptr_t)e * 0x9e3779b97f4a7c15ull ^ (uint64_t)gtid;

	if (gtid <= 0)
		x ^= ((uint64_t)(uint32_t)cpu + 1) << 44;
	return ghost_mix64(x);
}

static uint64_t storm_tag(uint64_t h)
{
	uint64_t tag = h >> STORM_TAG_SHIFT;

	return tag ? tag : 1;
}

/* One line per storm, at most STORM_REPORTS_PER_WINDOW per window process-wide. */
static void storm_report(const struct ghost_enclave *e, int64_t gtid, int cpu, uint32_t reason)
{
	int32_t state = GHOST_TXN_COMPLETE + (int32_t)reason;
	uint64_t window = (uint64_t)(ghost_now_ns() / STORM_WINDOW_NS) & 0xffffffffu;
	uint64_t old = __atomic_load_n(&storm_window, __ATOMIC_RELAXED), nw;
	char who[160];

	do {
		nw = (old >> 32) == window ? old + 1 : (window << 32) | 1;
	} while (!__atomic_compare_exchange_n(&storm_window, &old, nw, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	if ((uint32_t)nw > STORM_REPORTS_PER_WINDOW + 1)
		return;
	if ((uint32_t)nw == STORM_REPORTS_PER_WINDOW + 1) {
		ghost_warn("txn storm: more than %d storms within %lld s; storm warnings stop "
			   "for the rest of this window (every failure is still counted: "
			   "ghost_txn_get_counts)",
			   STORM_REPORTS_PER_WINDOW, STORM_WINDOW_NS / 1000000000LL);
		return;
	}
	if (gtid > 0)
		snprintf(who, sizeof(who),
			 "task gtid %lld failed %s %d times in a row (thread %lld,",
			 (long long)gtid, ghost_txn_reason(state), GHOST_TXN_STORM_RUN,
			 (long long)ghost_gtid_to_tid(gtid));
	else /* special gtids are watched per CPU */
		snprintf(who, sizeof(who), "%s target gtid %lld failed %s %d times in a row (",
			 gtid == GHOST_NULL_GTID    ? "the NULL"
			 : gtid == GHOST_AGENT_GTID ? "the AGENT"
			 : gtid == GHOST_IDLE_GTID  ? "the IDLE"
						    : "a bad",
			 (long long)gtid, ghost_txn_reason(state), GHOST_TXN_STORM_RUN);
	ghost_warn("txn storm: %s last on cpu %d, enclave %llu): %s. Not reported again for this "
		   "target and reason; every failure is still counted (ghost_txn_get_counts). What "
		   "a policy should do about each failure: docs/policies.md",
		   who, cpu, (unsigned long long)e->id,
		   reason < GHOST_ARRAY_SIZE(storm_hints) && storm_hints[reason]
			   ? storm_hints[reason]
			   : "see the table in ghost/txn.h");
}

/* A failed commit of gtid on cpu with state s (not COMPLETE). */
static void storm_failed(struct ghost_enclave *e, int64_t gtid, int cpu, int32_t s)
{
	uint32_t reason = (uint32_t)(s - GHOST_TXN_COMPLETE) & 15;
	uint64_t h, tag, old, nw, mask, run;
	bool report;
	uint64_t *slot;

	/* Not the target's doing: ABORTED is the agent's own choice, POISONED
	 * follows another txn's failure (which is watched itself). Nor a state
	 * no kernel gives (a corrupt txn page). */
	if (s <= GHOST_TXN_ABORTED || s >= GHOST_TXN_POISONED)
		return;
	/* Nobody listens (the default): no report to prepare. */
	if (!ghost_log_enabled(GHOST_LOG_WARN))
		return;
	h = storm_hash(e, gtid, cpu);
	tag = storm_tag(h);
	slot = &storm_slots[h & (STORM_SLOTS - 1)];
	old = __atomic_load_n(slot, __ATOMIC_RELAXED);
	do {
		if (old >> STORM_TAG_SHIFT == tag) {
			mask = (old >> STORM_MASK_SHIFT) & 0xffff;
			run = ((old >> STORM_REASON_SHIFT) & 15) == reason ? old & STORM_RUN_BITS
									   : 0;
		} else {
			mask = 0; /* empty, or another target's: take it */
			run = 0;
		}
		if (run < GHOST_TXN_STORM_RUN)
			run++;
		report = run == GHOST_TXN_STORM_RUN && !(mask & (1u << reason));
		if (report)
			mask |= 1u << reason;
		nw = tag << STORM_TAG_SHIFT | mask << STORM_MASK_SHIFT |
		     (uint64_t)reason << STORM_REASON_SHIFT | run;
		if (nw == old)
			return; /* saturated and reported: nothing changes */
	} while (!__atomic_compare_exchange_n(slot, &old, nw, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	if (report)
		storm_report(e, gtid, cpu, reason);
}

/* A successful commit of gtid on cpu: its run of failures, if any, ends. */
static void storm_succeeded(struct ghost_enclave *e, int64_t gtid, int cpu)
{
	uint64_t h = storm_hash(e, gtid, cpu), tag = storm_tag(h);
	uint64_t *slot = &storm_slots[h & (STORM_SLOTS - 1)];
	uint64_t old = __atomic_load_n(slot, __ATOMIC_RELAXED);

	/* The reported reasons stay: the same storm later is not news. */
	while (old >> STORM_TAG_SHIFT == tag && (old & STORM_RUN_BITS) &&
	       !__atomic_compare_exchange_n(slot, &old, old & ~(uint64_t)STORM_RUN_BITS, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Waits until the kernel has finished with cpu's txn; counts the outcome. */
static bool wait_committed(struct ghost_enclave *e, int cpu)
{
	struct ghost_txn *t = &e->cpu_data[cpu].txn;
	int32_t s;

	struct ghost_trace *tr;

	/* Remote greedy commits can complete asynchronously. */
	while ((s = ghost_txn_state(t)) >= 0)
		ghost_cpu_relax();
	tr = ghost_enclave_tracer(e);
	if (__builtin_expect(tr != NULL, 0))
		ghost_trace_txn(tr, cpu, t, s);
	__atomic_add_fetch(&e->txn_stats.committed, 1, __ATOMIC_RELAXED);
	/* The gtid is the committing agent's own write: the kernel never changes it. */
	if (s == GHOST_TXN_COMPLETE) {
		__atomic_add_fetch(&e->txn_stats.succeeded, 1, __ATOMIC_RELAXED);
		storm_succeeded(e, t->gtid, cpu);
		return true;
	}
	__atomic_add_fetch(&e->txn_stats.failed[(uint32_t)(s - GHOST_TXN_COMPLETE) & 15], 1,
			   __ATOMIC_RELAXED);
	storm_failed(e, t->gtid, cpu, s);
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
	err = ghost_enclave_note_gone(e, e->ops->commit(e->k, cpus, 0));
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
	r = ghost_enclave_note_gone(e, e->ops->commit(e->k, cpus, GHOST_KCOMMIT_SYNC_GROUP));
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

int ghost_txn_local_yield(struct ghost_enclave *e, int cpu, uint32_t agent_barrier, int run_flags)
{
	if (!ghost_enclave_txn(e, cpu))
		return -EINVAL;
	return ghost_enclave_note_gone(e, e->ops->run(e->k, GHOST_NULL_GTID, agent_barrier, 0, cpu,
						      run_flags));
}

int ghost_txn_ping(struct ghost_enclave *e, int cpu)
{
	if (!ghost_enclave_txn(e, cpu))
		return -EINVAL;
	return ghost_enclave_note_gone(e, e->ops->run(e->k, GHOST_AGENT_GTID, 0, 0, cpu, 0));
}
