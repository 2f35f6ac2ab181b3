/*
 * ghost/txn.h - run requests: "run task T on CPU C" transactions.
 *
 * Each enclave CPU has one txn in the shared per-CPU array. An agent opens
 * it (fills the fields, then publishes state READY with release), commits
 * one CPU or a set of CPUs in one kernel call, and reads the outcome from
 * the state word. The kernel side claims, validates and completes it. Only
 * one agent may use a given CPU's txn at a time; nothing here locks.
 *
 * Why a commit fails and what a policy should do about each reason: the
 * table before ghost_txn_get_counts() below, and docs/policies.md. The
 * library counts every outcome and warns once per commit-failure storm; it
 * never answers a commit itself (see "What the library does" there).
 */
#ifndef GHOST_TXN_H
#define GHOST_TXN_H

#include <ghost/abi.h>
#include <ghost/common.h>
#include <ghost/cpuset.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_enclave;

/*
 * What to put in a txn. Zero means the default in every field (a zeroed
 * struct is a plain "run nothing, no barrier check" txn with no sync group);
 * sz may stay 0 (see ghost_enclave_opts: options that grow).
 */
struct ghost_txn_opts {
	size_t sz;		  /* sizeof(struct ghost_txn_opts), or 0 */
	int64_t target;		  /* gtid, or GHOST_NULL/AGENT/IDLE_GTID */
	uint32_t target_barrier;  /* the seqnum of the last message seen for target */
	uint32_t agent_barrier;	  /* checked on local commits only */
	uint8_t commit_flags;	  /* COMMIT_AT_*, ELIDE_AGENT_BARRIER_INC... */
	uint16_t run_flags;	  /* RTLA_*, SEND_TASK_ON_CPU, ... */
	bool sync_group;	  /* take the txn for sync group sync_group_owner */
	int32_t sync_group_owner; /* >= 0, read only with sync_group */
	/*
	 * Sets ALLOW_TASK_ONCPU: if target is already running on this txn's
	 * own CPU, the commit succeeds and leaves it there (no preemption, no
	 * agent-barrier bump; a task latched on the CPU is dropped and the
	 * run_flags are replaced). Running on any other CPU is still
	 * TARGET_ONCPU; on its way off this CPU (preemption pending) it is
	 * TARGET_STALE. With GHOST_IDLE_GTID it lets "idle this CPU" succeed on
	 * a CPU that idles already. For txns that must name what a CPU runs now
	 * as well as what it runs next: a sync group (ghost-userspace allows it
	 * only on sync-group-owned txns; this library does not check), or new
	 * run_flags for the running task. It is not a cure for TARGET_ONCPU:
	 * none of the built-in policies sets it.
	 */
	bool allow_task_on_cpu;
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
 * outside the enclave, -E2BIG for options of a newer library. With
 * o->sync_group the txn is first taken for o->sync_group_owner (spinning
 * while another owner holds it; -EINVAL for a negative owner).
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
GHOST_API int ghost_txn_commit_sync_group(struct ghost_enclave *e, const struct ghost_cpuset *cpus);
/*
 * The calling agent of cpu gives its CPU up until a message for its queue,
 * a ping, or (with run_flags RTLA_ON_IDLE) the CPU going idle.
 * -ESTALE if agent_barrier is stale.
 */
GHOST_API int ghost_txn_local_yield(struct ghost_enclave *e, int cpu, uint32_t agent_barrier,
				    int run_flags);
/* Wakes cpu's agent (its barrier moves on). */
GHOST_API int ghost_txn_ping(struct ghost_enclave *e, int cpu);

/*
 * ---- Why a commit fails, and what a policy does about it ----
 *
 * A failed txn's state says why; ghost_txn_reason() names it without the
 * GHOST_TXN_ prefix ("TARGET_ONCPU"), the name the agents' stats lines give
 * the counts of ghost_txn_get_counts() ("TARGET_ONCPU 12"). Every
 * failure means the agent decided on a view older than the kernel's. The
 * rule for all of them: never re-commit the same txn at once. Find out what
 * changed (drain the task's and the agent's messages, read the status
 * words), then decide again. A policy that re-commits the failed task in a
 * tight loop turns one failure into millions a second (a storm) and starves
 * everything queued behind that task.
 *
 * Below: when the kernel gives each state / what a policy should do / what
 * the built-in policies do (pc fifo-percpu, fc fifo-centralized, sj
 * shinjuku). All three sort a failure into one of four reactions
 * (policies/common.h, policy_failure_of): RETRY (TARGET_STALE, AGENT_STALE,
 * POISONED, ABORTED: the task goes back to the front and is decided again
 * after the messages are drained), ONCPU (TARGET_ONCPU: pc keeps the task
 * current and yields its CPU until a message; fc, sj requeue it and skip it
 * while it is on a CPU), PARK (TARGET_NOT_FOUND, TARGET_NOT_RUNNABLE,
 * INVALID_TARGET, NOT_PERMITTED: the task leaves the queues until a message
 * about it comes, which requeues it or removes it), CPU (CPU_OFFLINE,
 * CPU_UNAVAIL, INVALID_FLAGS, INVALID_CPU, NO_AGENT, UNSUPPORTED_VERSION:
 * the task is requeued; pc yields its CPU until its agent is woken, fc, sj
 * leave that CPU out for 10 ms). Before committing, fc and sj also skip
 * tasks whose status-word barrier is not their seqnum or that are on a CPU,
 * and CPUs that are not available.
 *
 * ABORTED      The agent withdrew the txn (ghost_txn_abort) before the kernel
 *              took it. / Nothing: it was the agent's decision. / None aborts.
 * TARGET_ONCPU The task runs on a CPU: another CPU, or this one without
 *              ALLOW_TASK_ONCPU (GHOST_IDLE_GTID: the CPU idles already). A
 *              preempted task stays "on CPU" until it is really off (on the
 *              embedded kernel, until its thread notices). / Do not
 *              re-commit it until its TASK_PREEMPT, TASK_BLOCKED or TASK_YIELD
 *              arrives, or until ghost_sw_on_cpu() is false: a per-CPU agent
 *              keeps it as its current task and yields its CPU meanwhile
 *              (the task may need that very CPU to get off); a centralized
 *              agent leaves it out of the round. / pc keeps it current and
 *              local-yields until a message or ping wakes it (a yield with a
 *              barrier that moved returns at once: one more failure per
 *              arrival); fc, sj skip on-CPU tasks, so they see it only in
 *              the race between that check and the commit.
 * TARGET_STALE The txn's task barrier is not the task's: a message about it
 *              came after the last one the agent read (also: the task died,
 *              its departure is not acknowledged yet, or with
 *              ALLOW_TASK_ONCPU it is on its way off its CPU). / Drain the
 *              queue its messages go to, then decide again with its new
 *              seqnum; the same barrier can never succeed. After a ring
 *              overflow, resynchronise from the status words. / pc's next
 *              iteration drains first, so it retries with the new seqnum;
 *              fc, sj skip a task until barrier == seqnum.
 * TARGET_NOT_FOUND No task has that gtid (it is gone, or the gtid is wrong). /
 *              Drop it; never retry (its TASK_DEAD, if any, removes it). /
 *              PARK: out of the queues until a message about it.
 * TARGET_NOT_RUNNABLE The task is blocked, and its barrier matched: the
 *              policy queued a task it knows is blocked (or whose TASK_NEW
 *              said not runnable). / Keep it off the run queue until its
 *              TASK_WAKEUP. / PARK: out of the queues until its next message
 *              (the wake-up requeues it).
 * AGENT_STALE  A local commit's agent barrier is behind the agent's (a
 *              message for this agent, a ping or a commit came after it read
 *              its barrier); or DO_NOT_PREEMPT met a CPU that runs or has
 *              latched a ghost task. / Barrier: re-read it, drain, decide
 *              again (the normal "something arrived" signal, one failure per
 *              arrival). DO_NOT_PREEMPT: that CPU is busy; choose another or
 *              wait for its task's off-CPU message. / pc: its next iteration
 *              re-reads the barrier. fc, sj: remote commits, never see it.
 * CPU_OFFLINE  The target CPU is offline (the embedded kernel never says
 *              so). / Leave the CPU out until it is back. / Treated as any
 *              failure: retried.
 * CPU_UNAVAIL  A higher class (CFS, RT) owns the CPU; checked only when a
 *              task or GHOST_IDLE_GTID is to run. / Do not commit to it until
 *              its agent's word says CPU_AVAIL again (or MSG_CPU_AVAILABLE);
 *              a per-CPU agent yields with RTLA_ON_IDLE to get its CPU back
 *              when the higher class leaves. / pc yields (RTLA_ON_IDLE if work
 *              waits) when its word says BOOST_PRIO, and on this failure
 *              (RTLA_ON_IDLE), so it fails at most once per wake-up; fc, sj
 *              skip CPUs without CPU_AVAIL, and one that refused for 10 ms.
 * INVALID_FLAGS Bad run_flags/commit_flags: two COMMIT_AT_* bits,
 *              ELIDE_AGENT_BARRIER_INC with INC_AGENT_BARRIER_ON_FAILURE,
 *              unknown bits, RTLA_ON_IDLE with a special gtid,
 *              NEED_CPU_NOT_IDLE without GHOST_IDLE_GTID, any run flag with
 *              GHOST_AGENT_GTID. / A policy bug: the same txn always fails.
 *              / Never set.
 * INVALID_TARGET Not a ghost task: an agent, a task that departed or left
 *              the ghost class, a gtid below GHOST_IDLE_GTID. / Drop it (a
 *              TASK_DEPARTED removes a departed one). / As TARGET_NOT_FOUND.
 * NOT_PERMITTED The calling process is not the agent process of that CPU. /
 *              Commit only from the agent process. / Never.
 * INVALID_CPU  The txn is not that CPU's (txn->cpu overwritten, CPU outside
 *              the enclave); ghost_txn_open() never builds one. / A bug or a
 *              corrupt txn page: stop. / Never.
 * NO_AGENT     The target CPU has no agent (not attached yet, or it left; a
 *              READY txn is failed with it when an agent comes or goes). /
 *              Leave the CPU out until its agent attaches. / pc commits only
 *              its own CPU; fc, sj skip CPUs without an agent status word.
 * UNSUPPORTED_VERSION txn->version is not GHOST_TXN_VERSION (the library
 *              never writes it): corruption. / Stop. / Never.
 * POISONED     Not attempted: an earlier txn of the same call failed
 *              (ghost_txn_commit_set: the caller's own CPU, committed last;
 *              a sync group: every txn after the first failure). / Nothing
 *              is wrong with this task: decide it again like any task whose
 *              commit did not happen. / fc, sj never commit their own CPU,
 *              so nothing they commit is poisoned.
 *
 * What the library does: it counts every outcome (ghost_txn_get_counts),
 * and it watches for storms. When one target (a gtid; a special gtid per
 * CPU) fails GHOST_TXN_STORM_RUN times in a row for one reason (no success
 * of it, no failure of it for another reason in between), it logs one
 * warning through the log callback (GHOST_LOG_WARN) naming the gtid and its
 * thread, the reason, the count, the CPU and the enclave, with what to do
 * and a pointer to docs/policies.md; it does not report that target and
 * reason again (unless another target took its slot in the watch's table
 * meanwhile). At most 16 such warnings go out per 10 s in a process, then
 * one line says the rest are held back. ABORTED and POISONED are never
 * reported (the failure that poisoned a txn is). The watch takes no lock:
 * per failure a CAS on the target's 64-bit slot in a process-wide table (a
 * load alone once its storm is reported, or with no log callback
 * installed), per success a load. The library does not slow a storm down
 * or answer a retry itself: every commit reaches the kernel and returns its
 * verdict. A commit's outcome depends on what the library cannot see (the
 * task got off its CPU, woke, the CPU came back), and a cached answer would
 * fail commits that would now succeed and skip the kernel's own effects of
 * a failure (INC_AGENT_BARRIER_ON_FAILURE, commit_time, poisoning the rest
 * of a group). Ending a storm is the policy's job.
 */
#define GHOST_TXN_STORM_RUN 1000

/* Commit outcomes this process saw on the enclave, by final state. */
struct ghost_txn_counts {
	uint64_t committed;
	uint64_t succeeded;
	uint64_t failed[16]; /* by state - GHOST_TXN_COMPLETE */
};
GHOST_API void ghost_txn_get_counts(struct ghost_enclave *e, struct ghost_txn_counts *out);

/*
 * Name of a txn state without the GHOST_TXN_ prefix: "COMPLETE",
 * "TARGET_STALE"... (the table above), "READY" for an open txn, "CLAIMED"
 * while the kernel holds it, "UNKNOWN" for anything else. Static strings;
 * any thread. ghost_txn_state_name() (ghost/abi.h) gives the full name.
 */
GHOST_API const char *ghost_txn_reason(int32_t state);

#ifdef __cplusplus
}
#endif

#endif
