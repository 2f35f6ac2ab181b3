/*
 * kernels/emu/emu_core.c - the embedded kernel's scheduler: what ghOSt's
 * scheduling class does in the kernel, done under the enclave lock by
 * whichever thread triggers it.
 *
 * Above the locks (emu_lock.c) and the shared memory (emu_shm.c), below
 * everything else of the backend, which it never calls.
 *
 * Owns task and CPU run state, message production (barriers, routing,
 * agent wake-ups), transaction validation and commit, latching, switching a
 * CPU to its next task, and preemption requests. Every function here runs
 * with the enclave lock held (emu_lock) unless it says otherwise; none of
 * them may block, and none may trust a field of the shared state that some
 * other process could have corrupted without checking its range first.
 *
 * Invariants kept here (and checked by the tests):
 *  - a CPU has at most one current task, and a current task's record says
 *    ONCPU on that CPU (and only an ONCPU task's thread runs user code);
 *  - a task's status-word barrier moves before each message about it, and
 *    the message carries the new value;
 *  - TASK_ONCPU is cleared only after the off-CPU message is produced.
 */
#include "emu.h"

#include "internal.h"
#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- lookups ---- */

/* Wakes whoever sleeps on p: a futex, or the simulator driving the enclave. */
static void park_wake(struct ghost_kenclave *ke, struct emu_park *p)
{
	if (ke->virt)
		ke->virt->wake(ke->virt->ctx, p);
	else
		emu_park_wake(p);
}

struct emu_task *emu_task_by_gtid(struct emu_shared *sh, int64_t gtid)
{
	int idx = emu_gtid_index(gtid);
	struct emu_task *t;

	if (gtid <= 0 || idx < 0 || (uint32_t)idx >= sh->max_tasks)
		return NULL;
	t = emu_task(sh, idx);
	if (t->gtid != gtid || t->state == EMU_T_FREE)
		return NULL;
	return t;
}

static int task_index(struct emu_shared *sh, struct emu_task *t)
{
	return (int)(t - emu_task(sh, 0));
}

static struct ghost_status_word *task_sw(struct ghost_kenclave *ke, struct emu_task *t)
{
	return emu_sw_word(ke, t->sw_region, t->sw_index);
}

static struct ghost_status_word *agent_sw(struct ghost_kenclave *ke, int cpu)
{
	struct emu_cpu *ec = emu_cpu(ke->sh, cpu);

	if (ec->agent_state == EMU_A_NONE)
		return NULL;
	return emu_sw_word(ke, ec->agent_sw_region, ec->agent_sw_index);
}

static void sw_set_flags(struct ghost_status_word *sw, uint32_t set, uint32_t clear)
{
	uint32_t f;

	if (!sw)
		return;
	f = (__atomic_load_n(&sw->flags, __ATOMIC_RELAXED) | set) & ~clear;
	__atomic_store_n(&sw->flags, f, __ATOMIC_RELEASE);
}

static uint32_t sw_bump(struct ghost_status_word *sw)
{
	uint32_t b;

	if (!sw)
		return 0;
	b = __atomic_load_n(&sw->barrier, __ATOMIC_RELAXED) + 1;
	/* Release: whatever changed with this event is visible to a reader
	 * that sees the new barrier. */
	__atomic_store_n(&sw->barrier, b, __ATOMIC_RELEASE);
	return b;
}

uint32_t emu_agent_barrier_bump(struct ghost_kenclave *ke, int cpu)
{
	return sw_bump(agent_sw(ke, cpu));
}

static void trace(struct ghost_kenclave *ke, int cpu, struct emu_task *t, int on)
{
	struct emu_shared *sh = ke->sh;
	struct emu_trace_ent *e;

	if (!sh->trace_on)
		return;
	e = &emu_trace(sh)[sh->trace_head % EMU_TRACE_LEN];
	e->ts = emu_now();
	e->gtid = t->gtid;
	e->cpu = cpu;
	e->on = on;
	__atomic_store_n(&sh->trace_head, sh->trace_head + 1, __ATOMIC_RELEASE);
}

/* ---- messages ---- */

static bool produce(struct ghost_kenclave *ke, int q, uint16_t type, uint32_t seqnum,
		    const void *payload, uint16_t len)
{
	struct emu_shared *sh = ke->sh;
	struct emu_queue *eq;
	void *map;

	if (q < 0 || q >= EMU_MAX_QUEUES || !(eq = emu_queue(sh, q))->in_use) {
		sh->stats.msgs_dropped++;
		return false;
	}
	map = emu_queue_map(ke, q);
	if (!map || ghost_ring_produce(
			    (struct ghost_ring *)((char *)map + sizeof(struct ghost_queue_header)),
			    eq->elems, type, seqnum, payload, len)) {
		sh->stats.msgs_dropped++;
		return false;
	}
	sh->stats.msgs[type & 0xff]++;
	if (ke->virt)
		ke->virt->msg(ke->virt->ctx, q, type, seqnum, payload, len);
	return true;
}

void emu_task_msg(struct ghost_kenclave *ke, struct emu_task *t, uint16_t type, const void *payload,
		  uint16_t len)
{
	struct emu_shared *sh = ke->sh;
	struct emu_queue *eq;
	uint32_t seq;
	int cpu;

	/* The barrier moves even when the message goes nowhere, so decisions
	 * taken on the old state fail instead of doing harm. */
	seq = sw_bump(task_sw(ke, t));
	if (t->flags & EMU_TF_UNMANAGED)
		return;
	if (!produce(ke, t->queue, type, seq, payload, len))
		return;
	eq = emu_queue(sh, t->queue);
	if (eq->nwake <= 0)
		return;
	cpu = eq->wake_cpu[0];
	for (int i = 0; i < eq->nwake && i < GHOST_MAX_WINFO; i++)
		if (eq->wake_cpu[i] == t->cpu)
			cpu = t->cpu;
	if (!emu_cpu_ok(sh, cpu))
		return;
	emu_agent_barrier_bump(ke, cpu);
	emu_agent_wake(ke, cpu);
}

void emu_cpu_msg(struct ghost_kenclave *ke, int cpu, uint16_t type, const void *payload,
		 uint16_t len)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, cpu);
	uint32_t seq;
	int q;

	if (ec->agent_state == EMU_A_NONE) {
		sh->stats.msgs_dropped++;
		return;
	}
	seq = emu_agent_barrier_bump(ke, cpu);
	q = ec->agent_queue >= 0 ? ec->agent_queue : sh->default_queue;
	produce(ke, q, type, seq, payload, len);
	emu_agent_wake(ke, cpu);
}

/* ---- running and stopping ---- */

void emu_preempt_current(struct ghost_kenclave *ke, int cpu, bool elide)
{
	struct emu_shared *sh = ke->sh;
	struct emu_task *t = emu_task_at(sh, emu_cpu(sh, cpu)->current);

	if (!t || t->state != EMU_T_ONCPU || (t->flags & EMU_TF_PREEMPT_REQ))
		return;
	if (emu_tflags_any(t, EMU_TF_VIRTUAL) && ke->virt) {
		/* No thread to signal: the simulator delivers the preemption. */
		emu_tflags_set(t, EMU_TF_PREEMPT_REQ | (elide ? EMU_TF_ELIDE_PREEMPT : 0));
		sh->stats.preempt_signals++;
		ke->virt->preempt(ke->virt->ctx, t);
		return;
	}
	/*
	 * The signal is the one the task's own process handles, recorded when it
	 * entered: the preempting thread may live in a process that never set
	 * one up. A record whose number is not a real-time signal is corrupt;
	 * its thread could never be stopped, so it leaves the enclave instead.
	 */
	if (t->sig < SIGRTMIN || t->sig > SIGRTMAX) {
		emu_task_release(ke, t);
		return;
	}
	emu_tflags_set(t, EMU_TF_PREEMPT_REQ);
	if (elide)
		emu_tflags_set(t, EMU_TF_ELIDE_PREEMPT);
	sh->stats.preempt_signals++;
	/* The thread parks itself in its signal handler (or at its next exit
	 * from the library if the signal finds it inside). */
	if (syscall(SYS_tgkill, t->pid, t->tid, t->sig) && errno == ESRCH)
		emu_task_reap(ke, t);
}

void emu_agent_wake(struct ghost_kenclave *ke, int cpu)
{
	struct emu_cpu *ec = emu_cpu(ke->sh, cpu);

	if (ec->agent_state == EMU_A_YIELDED) {
		__atomic_store_n(&ec->agent_state, EMU_A_RUNNING, __ATOMIC_RELEASE);
		/* The agent outranks every ghost task of its CPU. */
		if (ec->current >= 0)
			emu_preempt_current(ke, cpu, false);
	} else if (ec->agent_state != EMU_A_RUNNING) {
		return;
	}
	/*
	 * Also when it is RUNNING already: whoever made it so may have died
	 * between releasing the lock and its futex wake (which is sent after
	 * the unlock), leaving the agent asleep in a state that says it runs.
	 * Every later event then wakes it again; for an agent that really runs
	 * this costs one atomic add (nobody waits on the word).
	 */
	park_wake(ke, &ec->agent_park);
}

static void pin_thread(struct emu_task *t, int cpu)
{
	cpu_set_t set;

	if (t->affinity_cpu == cpu || emu_tflags_any(t, EMU_TF_VIRTUAL))
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Pin before waking so the thread never runs user code elsewhere; if
	 * we may not, the thread pins itself when it wakes. */
	if (sched_setaffinity(t->tid, sizeof(set), &set) == 0)
		__atomic_store_n(&t->affinity_cpu, cpu, __ATOMIC_RELEASE);
}

static void put_on_cpu(struct ghost_kenclave *ke, int cpu, struct emu_task *t, uint16_t run_flags)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, cpu);
	struct ghost_status_word *sw = task_sw(ke, t);
	int64_t now = emu_now();

	__atomic_store_n(&t->cpu, cpu, __ATOMIC_RELEASE);
	t->run_flags = run_flags;
	/* The safety net reads it without the lock (it tells one stay on a CPU from the next). */
	__atomic_store_n(&t->oncpu_since, now, __ATOMIC_RELAXED);
	t->latched_cpu = -1;
	/* Committed again: whatever the safety net did to it is over. */
	emu_tflags_clear(t, EMU_TF_NET);
	emu_set_current(ec, task_index(sh, t));
	ec->current_run_flags = run_flags;
	if (sw) {
		__atomic_store_n(&sw->switch_time, now, __ATOMIC_RELAXED);
		sw_set_flags(sw, GHOST_SW_TASK_ONCPU | GHOST_SW_TASK_RUNNABLE, 0);
	}
	sh->stats.switches++;
	trace(ke, cpu, t, 1);
	if (run_flags & SEND_TASK_ON_CPU) {
		struct ghost_msg_payload_task_on_cpu p = {
			.gtid = (uint64_t)t->gtid,
			.commit_time = (uint64_t)now,
			.cpu_seqnum = ++ec->cpu_seqnum,
			.cpu = cpu,
		};

		emu_task_msg(ke, t, MSG_TASK_ON_CPU, &p, sizeof(p));
	}
	pin_thread(t, cpu);
	emu_task_set_state(t, EMU_T_ONCPU);
	park_wake(ke, &t->park);
}

/* Takes t off its CPU's books; returns the time it left (the caller produces
 * its message). */
static int64_t leave_cpu(struct ghost_kenclave *ke, struct emu_task *t)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec;
	int64_t now = emu_now();

	if (!emu_cpu_ok(sh, t->cpu))
		return now;
	ec = emu_cpu(sh, t->cpu);
	t->runtime += (uint64_t)(now - t->oncpu_since);
	ec->busy_ns += (uint64_t)(now - t->oncpu_since);
	if (ec->current == task_index(sh, t))
		emu_set_current(ec, -1);
	emu_tflags_clear(t, EMU_TF_PREEMPT_REQ | EMU_TF_ELIDE_PREEMPT);
	trace(ke, t->cpu, t, 0);
	return now;
}

static void drop_latch(struct ghost_kenclave *ke, struct emu_task *t)
{
	struct emu_shared *sh = ke->sh;

	if (emu_cpu_ok(sh, t->latched_cpu) &&
	    emu_cpu(sh, t->latched_cpu)->latched == task_index(sh, t))
		emu_cpu(sh, t->latched_cpu)->latched = -1;
	t->latched_cpu = -1;
}

/* A latched task that lost its latch before it ran (was_latched = 1). */
static void preempt_latched(struct ghost_kenclave *ke, int cpu)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, cpu);
	struct emu_task *t = emu_task_at(sh, ec->latched);
	struct ghost_msg_payload_task_preempt p;

	ec->latched = -1;
	if (!t)
		return;
	t->latched_cpu = -1;
	if (t->state != EMU_T_RUNNABLE)
		return;
	memset(&p, 0, sizeof(p));
	p.gtid = (uint64_t)t->gtid;
	p.runtime = t->runtime;
	p.cpu_seqnum = ++ec->cpu_seqnum;
	p.cpu = cpu;
	p.was_latched = 1;
	emu_task_msg(ke, t, MSG_TASK_PREEMPT, &p, sizeof(p));
}

void emu_schedule(struct ghost_kenclave *ke, int cpu)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec;
	struct emu_task *t;

	if (!emu_cpu_ok(sh, cpu))
		return;
	ec = emu_cpu(sh, cpu);
	if (!ec->in_enclave || ec->current >= 0 || ec->agent_state == EMU_A_RUNNING)
		return;
	/* This CPU passes through its scheduler: a commit point. */
	emu_commit_at_schedule(ke, cpu, false);
	t = emu_task_at(sh, ec->latched);
	if (t) {
		ec->latched = -1;
		t->latched_cpu = -1;
		if (t->state == EMU_T_RUNNABLE && !(t->flags & EMU_TF_UNMANAGED)) {
			put_on_cpu(ke, cpu, t, ec->latched_run_flags);
			return;
		}
	}
	/* Idle: an agent that asked to hear about it gets its CPU back. */
	if (ec->agent_state == EMU_A_YIELDED && (ec->yield_flags & RTLA_ON_IDLE))
		emu_agent_wake(ke, cpu);
}

/* ---- task events (the caller is the task's own thread unless said) ---- */

/* The preempted task's own thread takes it off its CPU. */
bool emu_task_preempted(struct ghost_kenclave *ke, struct emu_task *t)
{
	struct emu_shared *sh = ke->sh;
	struct ghost_msg_payload_task_preempt p;
	struct emu_cpu *ec;
	bool elide;
	int cpu = t->cpu;

	if (t->state != EMU_T_ONCPU || !(t->flags & EMU_TF_PREEMPT_REQ) || !emu_cpu_ok(sh, cpu))
		return false;
	ec = emu_cpu(sh, cpu);
	elide = t->flags & EMU_TF_ELIDE_PREEMPT;
	t->runnable_since = leave_cpu(ke, t);
	/* An agent that woke on this CPU waits for exactly this moment. */
	if (ec->agent_state == EMU_A_RUNNING)
		park_wake(ke, &ec->agent_park);
	emu_task_set_state(t, EMU_T_RUNNABLE);
	if (!elide) {
		memset(&p, 0, sizeof(p));
		p.gtid = (uint64_t)t->gtid;
		p.runtime = t->runtime;
		p.cpu_seqnum = ++ec->cpu_seqnum;
		p.cpu = cpu;
		emu_task_msg(ke, t, MSG_TASK_PREEMPT, &p, sizeof(p));
	}
	{
		struct ghost_status_word *sw = task_sw(ke, t);

		if (sw)
			__atomic_store_n(&sw->runtime, t->runtime, __ATOMIC_RELAXED);
		sw_set_flags(sw, 0, GHOST_SW_TASK_ONCPU);
	}
	if (t->run_flags & RTLA_ON_PREEMPT)
		emu_agent_wake(ke, cpu);
	emu_schedule(ke, cpu);
	return true;
}

/*
 * The off-CPU edge of block, yield, exit and departure: produce the message
 * for it, then clear ONCPU (in that order: "not ONCPU" means the barrier is
 * stable), then let the CPU pick its next task.
 */
void emu_task_stop(struct ghost_kenclave *ke, struct emu_task *t, uint16_t type, uint32_t new_state)
{
	struct emu_shared *sh = ke->sh;
	struct ghost_status_word *sw = task_sw(ke, t);
	bool was_on = t->state == EMU_T_ONCPU;
	int cpu = t->cpu;
	struct emu_cpu *ec = emu_cpu_ok(sh, cpu) ? emu_cpu(sh, cpu) : NULL;
	uint64_t seqnum = 0;
	union {
		struct ghost_msg_payload_task_blocked blocked;
		struct ghost_msg_payload_task_yield yield;
		struct ghost_msg_payload_task_dead dead;
		struct ghost_msg_payload_task_departed departed;
	} p;
	uint16_t len = 0;
	int64_t now = 0;

	if (was_on)
		now = leave_cpu(ke, t);
	else
		drop_latch(ke, t);
	if (ec && was_on)
		seqnum = ++ec->cpu_seqnum;
	emu_task_set_state(t, new_state);
	if (new_state == EMU_T_RUNNABLE)
		t->runnable_since = now ? now : emu_now();
	if (sw)
		__atomic_store_n(&sw->runtime, t->runtime, __ATOMIC_RELAXED);
	memset(&p, 0, sizeof(p));
	switch (type) {
	case MSG_TASK_BLOCKED:
		p.blocked.gtid = (uint64_t)t->gtid;
		p.blocked.runtime = t->runtime;
		p.blocked.cpu_seqnum = seqnum;
		p.blocked.cpu = cpu;
		len = sizeof(p.blocked);
		break;
	case MSG_TASK_YIELD:
		p.yield.gtid = (uint64_t)t->gtid;
		p.yield.runtime = t->runtime;
		p.yield.cpu_seqnum = seqnum;
		p.yield.cpu = cpu;
		len = sizeof(p.yield);
		break;
	case MSG_TASK_DEAD:
		p.dead.gtid = (uint64_t)t->gtid;
		p.dead.cpu = cpu;
		len = sizeof(p.dead);
		break;
	case MSG_TASK_DEPARTED:
		p.departed.gtid = (uint64_t)t->gtid;
		p.departed.cpu_seqnum = seqnum;
		p.departed.cpu = cpu;
		p.departed.was_current = was_on;
		len = sizeof(p.departed);
		break;
	}
	if (new_state == EMU_T_DEAD || new_state == EMU_T_DEPARTED) {
		if (sh->nr_tasks)
			sh->nr_tasks--;
	}
	emu_task_msg(ke, t, type, &p, len);
	if (new_state == EMU_T_BLOCKED)
		sw_set_flags(sw, 0, GHOST_SW_TASK_ONCPU | GHOST_SW_TASK_RUNNABLE);
	else if (new_state == EMU_T_RUNNABLE)
		sw_set_flags(sw, 0, GHOST_SW_TASK_ONCPU);
	else
		sw_set_flags(sw, GHOST_SW_F_CANFREE, GHOST_SW_TASK_ONCPU | GHOST_SW_TASK_RUNNABLE);
	if (was_on && ec) {
		uint16_t rtla = type == MSG_TASK_BLOCKED ? RTLA_ON_BLOCKED
				: type == MSG_TASK_YIELD ? RTLA_ON_YIELD
							 : 0;
		if (t->run_flags & rtla)
			emu_agent_wake(ke, cpu);
		emu_schedule(ke, cpu);
	}
}

/* A blocked task becomes runnable (the waker's thread, any process). */
void emu_task_wakeup(struct ghost_kenclave *ke, struct emu_task *t, int waker_cpu)
{
	struct emu_shared *sh = ke->sh;
	struct ghost_msg_payload_task_wakeup p;

	if (t->state != EMU_T_BLOCKED)
		return;
	emu_task_set_state(t, EMU_T_RUNNABLE);
	t->runnable_since = emu_now();
	t->wake_waker_cpu = waker_cpu;
	sw_set_flags(task_sw(ke, t), GHOST_SW_TASK_RUNNABLE, 0);
	memset(&p, 0, sizeof(p));
	p.gtid = (uint64_t)t->gtid;
	p.last_ran_cpu = t->cpu;
	p.waker_cpu = waker_cpu;
	p.wake_up_cpu = sh->wake_on_waker_cpu && emu_cpu_ok(sh, waker_cpu) ? waker_cpu : t->cpu;
	emu_task_msg(ke, t, MSG_TASK_WAKEUP, &p, sizeof(p));
}

/* ---- the safety net's edges (emu_net.c decides; these run under the lock) ---- */

void emu_task_net_block(struct ghost_kenclave *ke, struct emu_task *t)
{
	if (t->state != EMU_T_ONCPU || (t->flags & (EMU_TF_UNMANAGED | EMU_TF_VIRTUAL)))
		return;
	/* Flag first: whoever takes the lock next sees a BLOCKED task that its thread
	 * did not block (a wake-up from the library goes to WAKE_PENDING instead). */
	emu_tflags_set(t, EMU_TF_NET);
	ke->sh->stats.net_blocks++;
	emu_task_stop(ke, t, MSG_TASK_BLOCKED, EMU_T_BLOCKED);
}

void emu_task_net_wake(struct ghost_kenclave *ke, struct emu_task *t)
{
	if (t->state != EMU_T_BLOCKED || !(t->flags & EMU_TF_NET) || (t->flags & EMU_TF_UNMANAGED))
		return;
	/* Woken on the CPU its thread is still pinned to. NET stays: the thread, running
	 * uncommitted, parks in the preemption handler until a commit clears it. */
	emu_task_wakeup(ke, t, t->cpu);
	ke->sh->stats.net_wakes++;
	if (t->sig < SIGRTMIN || t->sig > SIGRTMAX) {
		emu_task_release(ke, t); /* a corrupt record: as emu_preempt_current */
		return;
	}
	ke->sh->stats.preempt_signals++;
	if (syscall(SYS_tgkill, t->pid, t->tid, t->sig) && errno == ESRCH)
		emu_task_reap(ke, t);
}

bool emu_task_net_resume(struct ghost_kenclave *ke, struct emu_task *t)
{
	if (!(t->flags & EMU_TF_NET) || (t->flags & EMU_TF_UNMANAGED))
		return false;
	/* Its own thread runs, so it woke in the host: it says so itself, before the net. */
	if (t->state == EMU_T_BLOCKED) {
		emu_task_wakeup(ke, t, t->cpu);
		ke->sh->stats.net_wakes++;
	}
	return t->state == EMU_T_RUNNABLE;
}

bool emu_task_thread_dead(struct emu_task *t)
{
	int r;

	if (emu_tflags_any(t, EMU_TF_VIRTUAL))
		return false; /* a model task dies only when its model says so */
	/* A record whose life lock was overwritten cannot say: it goes. */
	if (!emu_mutex_sane(&t->life))
		return true;
	r = pthread_mutex_trylock(&t->life);

	if (r == EBUSY)
		return false;
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&t->life);
	if (r == 0 || r == EOWNERDEAD) {
		pthread_mutex_unlock(&t->life);
		return true;
	}
	return false;
}

/* A task whose thread vanished (its process was killed): it died. */
void emu_task_reap(struct ghost_kenclave *ke, struct emu_task *t)
{
	if (t->state != EMU_T_BLOCKED && t->state != EMU_T_RUNNABLE && t->state != EMU_T_ONCPU)
		return;
	ke->sh->stats.reaped_tasks++;
	emu_task_stop(ke, t, MSG_TASK_DEAD, EMU_T_DEAD);
}

/* ---- transactions ---- */

#define RUN_FLAGS_VALID                                                                      \
	(RTLA_ON_PREEMPT | RTLA_ON_BLOCKED | RTLA_ON_YIELD | RTLA_ON_IDLE | NEED_L1D_FLUSH | \
	 NEED_CPU_NOT_IDLE | ELIDE_PREEMPT | SEND_TASK_ON_CPU |                              \
	 DEFER_LATCHED_PREEMPTION_BY_AGENT | DO_NOT_PREEMPT)

static bool flags_valid(int64_t gtid, uint32_t run_flags, uint32_t commit_flags)
{
	if (commit_flags & ~0x1fu)
		return false;
	if ((commit_flags & COMMIT_AT_FLAGS) == COMMIT_AT_FLAGS)
		return false;
	if ((commit_flags & ELIDE_AGENT_BARRIER_INC) &&
	    (commit_flags & INC_AGENT_BARRIER_ON_FAILURE))
		return false;
	if (run_flags & ~(uint32_t)RUN_FLAGS_VALID)
		return false;
	if ((run_flags & RTLA_ON_IDLE) && gtid < 0)
		return false;
	if ((run_flags & NEED_CPU_NOT_IDLE) && gtid != GHOST_IDLE_GTID)
		return false;
	if (gtid == GHOST_AGENT_GTID && run_flags)
		return false;
	return true;
}

struct commit_ctx {
	int claimer_cpu; /* agent CPU of the caller, -1 if not an agent */
	pid_t caller_pid;
	bool caller_is_agent;
	bool from_kernel; /* a commit point inside the kernel (schedule, tick) */
};

static bool is_agent_gtid(struct emu_shared *sh, int64_t gtid)
{
	for (int c = 0; c < (int)sh->ncpus; c++)
		if (emu_cpu(sh, c)->agent_state != EMU_A_NONE && emu_cpu(sh, c)->agent_gtid == gtid)
			return true;
	return false;
}

/* The checks of the ghOSt kernel, in its order; no side effects but reaping. */
static int32_t txn_validate(struct ghost_kenclave *ke, int cpu, struct ghost_txn *txn,
			    const struct commit_ctx *cc, bool *already_on)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, cpu);
	int64_t gtid = txn->gtid;
	struct emu_task *t = NULL;
	bool local;

	*already_on = false;
	if (txn->version != GHOST_TXN_VERSION)
		return GHOST_TXN_UNSUPPORTED_VERSION;
	if (txn->cpu != cpu || !ec->in_enclave)
		return GHOST_TXN_INVALID_CPU;
	if (!flags_valid(gtid, txn->run_flags, txn->commit_flags))
		return GHOST_TXN_INVALID_FLAGS;
	if (gtid > 0) {
		t = emu_task_by_gtid(sh, gtid);
		if (!t)
			return is_agent_gtid(sh, gtid) ? GHOST_TXN_INVALID_TARGET
						       : GHOST_TXN_TARGET_NOT_FOUND;
		if (t->state == EMU_T_DEPARTED || (t->flags & EMU_TF_UNMANAGED))
			return GHOST_TXN_INVALID_TARGET;
		if (t->state == EMU_T_DEAD)
			return GHOST_TXN_TARGET_STALE;
		if (emu_task_thread_dead(t)) {
			emu_task_reap(ke, t);
			return GHOST_TXN_TARGET_STALE;
		}
		{
			struct ghost_status_word *sw = task_sw(ke, t);

			if (!sw ||
			    __atomic_load_n(&sw->barrier, __ATOMIC_ACQUIRE) != txn->task_barrier)
				return GHOST_TXN_TARGET_STALE;
		}
		if (t->state == EMU_T_BLOCKED)
			return GHOST_TXN_TARGET_NOT_RUNNABLE;
		if (t->state == EMU_T_ONCPU) {
			if (t->cpu != cpu || !(txn->commit_flags & ALLOW_TASK_ONCPU))
				return GHOST_TXN_TARGET_ONCPU;
			if (t->flags & EMU_TF_PREEMPT_REQ)
				return GHOST_TXN_TARGET_STALE;
			*already_on = true;
		}
	} else if (gtid < GHOST_IDLE_GTID) {
		return GHOST_TXN_INVALID_TARGET;
	} else if (gtid == GHOST_IDLE_GTID && ec->agent_state == EMU_A_YIELDED && ec->current < 0 &&
		   ec->latched < 0 && !(txn->commit_flags & ALLOW_TASK_ONCPU)) {
		/* The CPU idles already. */
		return GHOST_TXN_TARGET_ONCPU;
	}
	if (ec->agent_state == EMU_A_NONE)
		return GHOST_TXN_NO_AGENT;
	if (!cc->from_kernel && cc->caller_pid != ec->agent_pid)
		return GHOST_TXN_NOT_PERMITTED;
	if ((txn->run_flags & DO_NOT_PREEMPT) && !*already_on &&
	    (ec->current >= 0 || ec->latched >= 0))
		return GHOST_TXN_AGENT_STALE;
	if ((gtid > 0 || gtid == GHOST_IDLE_GTID) && !ec->avail)
		return GHOST_TXN_CPU_UNAVAIL;
	local = !cc->from_kernel && cc->caller_is_agent && cc->claimer_cpu == cpu;
	if (local && gtid != GHOST_AGENT_GTID) {
		struct ghost_status_word *asw = agent_sw(ke, cpu);

		if (!asw || __atomic_load_n(&asw->barrier, __ATOMIC_ACQUIRE) != txn->agent_barrier)
			return GHOST_TXN_AGENT_STALE;
	}
	return GHOST_TXN_COMPLETE;
}

/* Carries out a validated txn (under the lock). Returns true if the local
 * agent must now give up its CPU. */
static bool txn_apply(struct ghost_kenclave *ke, int cpu, struct ghost_txn *txn,
		      const struct commit_ctx *cc, bool already_on)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, cpu);
	int64_t gtid = txn->gtid;
	bool local = !cc->from_kernel && cc->caller_is_agent && cc->claimer_cpu == cpu;
	struct emu_task *t;

	if (!(txn->commit_flags & ELIDE_AGENT_BARRIER_INC) && !already_on)
		emu_agent_barrier_bump(ke, cpu);
	txn->cpu_seqnum = ++ec->cpu_seqnum;
	if (gtid > 0) {
		t = emu_task_by_gtid(sh, gtid);
		if (already_on) {
			t->run_flags = txn->run_flags;
			ec->current_run_flags = txn->run_flags;
			if (ec->latched >= 0)
				preempt_latched(ke, cpu);
			return false;
		}
		/* A latch elsewhere is dropped silently: the task moves here. */
		if (t->latched_cpu >= 0 && t->latched_cpu != cpu)
			drop_latch(ke, t);
		if (ec->latched >= 0 && ec->latched != task_index(sh, t))
			preempt_latched(ke, cpu);
		ec->latched = task_index(sh, t);
		ec->latched_run_flags = txn->run_flags;
		ec->idle_latched = 0;
		t->latched_cpu = cpu;
		if (ec->current >= 0)
			emu_preempt_current(ke, cpu, txn->run_flags & ELIDE_PREEMPT);
		if (local)
			return true;
		if (!cc->from_kernel)
			emu_schedule(ke, cpu);
		return false;
	}
	switch (gtid) {
	case GHOST_AGENT_GTID:
		emu_agent_wake(ke, cpu);
		return false;
	case GHOST_IDLE_GTID:
		ec->idle_latched = 1;
		ec->idle_need_not_idle = (txn->run_flags & NEED_CPU_NOT_IDLE) != 0;
		/* nothing may run: */
		__attribute__((fallthrough));
	case GHOST_NULL_GTID:
	default:
		if (ec->latched >= 0)
			preempt_latched(ke, cpu);
		if (ec->current >= 0)
			emu_preempt_current(ke, cpu, txn->run_flags & ELIDE_PREEMPT);
		return local;
	}
}

static void txn_finish(struct ghost_kenclave *ke, int cpu, struct ghost_txn *txn, int32_t state)
{
	struct emu_shared *sh = ke->sh;

	if (state != GHOST_TXN_COMPLETE) {
		if (txn->commit_flags & INC_AGENT_BARRIER_ON_FAILURE)
			emu_agent_barrier_bump(ke, cpu);
		sh->stats.commit_fail[(uint32_t)(state - GHOST_TXN_COMPLETE) & 15]++;
	} else {
		sh->stats.commits++;
	}
	txn->commit_time = emu_now();
	/* Release: commit_time and cpu_seqnum are visible to whoever reads the
	 * final state. */
	__atomic_store_n(&txn->state, state, __ATOMIC_RELEASE);
}

static bool txn_claim(struct ghost_txn *txn, int claimer)
{
	int32_t ready = GHOST_TXN_READY;

	/* Acquire: the fields the agent wrote before publishing READY. */
	return __atomic_compare_exchange_n(&txn->state, &ready, claimer, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

/*
 * Commits the READY txns of cpus, the caller's own CPU last. Returns 1/0 for
 * a sync group (all / none), else 0. *local_cpu is set when the calling
 * agent committed its own CPU and must now give it up.
 */
int emu_commit_cpus(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, bool sync,
		    int claimer_cpu, bool caller_is_agent, int *local_cpu)
{
	struct emu_shared *sh = ke->sh;
	struct commit_ctx cc = {
		.claimer_cpu = claimer_cpu,
		.caller_pid = emu_getpid(),
		.caller_is_agent = caller_is_agent,
	};
	int order[GHOST_MAX_CPUS], n = 0, claimer = claimer_cpu >= 0 ? claimer_cpu : 0;
	int32_t result[GHOST_MAX_CPUS];
	bool on[GHOST_MAX_CPUS];
	bool failed = false;

	*local_cpu = -1;
	for (int c = ghost_cpuset_next(cpus, claimer_cpu); c >= 0; c = ghost_cpuset_next(cpus, c))
		if (c < (int)sh->ncpus)
			order[n++] = c;
	for (int c = ghost_cpuset_first(cpus); c >= 0 && c <= claimer_cpu;
	     c = ghost_cpuset_next(cpus, c))
		if (c < (int)sh->ncpus)
			order[n++] = c;

	if (sync) {
		int first_fail = -1;

		for (int i = 0; i < n; i++) {
			struct ghost_txn *txn = &ke->cpu_data[order[i]].txn;

			if (!txn_claim(txn, claimer)) {
				result[i] = GHOST_TXN_POISONED;
				if (first_fail < 0)
					first_fail = i;
				continue;
			}
			result[i] = txn_validate(ke, order[i], txn, &cc, &on[i]);
			if (result[i] != GHOST_TXN_COMPLETE && first_fail < 0)
				first_fail = i;
		}
		for (int i = 0; i < n; i++) {
			struct ghost_txn *txn = &ke->cpu_data[order[i]].txn;
			int32_t st = __atomic_load_n(&txn->state, __ATOMIC_RELAXED);

			if (st != claimer)
				continue; /* not ours (was not READY) */
			if (first_fail >= 0) {
				txn_finish(ke, order[i], txn,
					   i == first_fail ? result[i] : GHOST_TXN_POISONED);
				continue;
			}
			if (txn_apply(ke, order[i], txn, &cc, on[i]))
				*local_cpu = order[i];
			txn->u.sync_group_owner = -1;
			txn_finish(ke, order[i], txn, GHOST_TXN_COMPLETE);
		}
		return first_fail < 0 ? 1 : 0;
	}

	for (int i = 0; i < n; i++) {
		int cpu = order[i];
		struct ghost_txn *txn = &ke->cpu_data[cpu].txn;
		bool remote = !(caller_is_agent && cpu == claimer_cpu);
		int32_t st;

		if (__atomic_load_n(&txn->state, __ATOMIC_ACQUIRE) != GHOST_TXN_READY)
			continue;
		/* A remote txn staged for the target's next pass through its
		 * scheduler is left for that moment. */
		if (remote && (txn->commit_flags & COMMIT_AT_FLAGS) == COMMIT_AT_SCHEDULE &&
		    emu_cpu(sh, cpu)->in_enclave)
			continue;
		if (!txn_claim(txn, claimer))
			continue;
		if (!remote && failed)
			st = GHOST_TXN_POISONED;
		else
			st = txn_validate(ke, cpu, txn, &cc, &on[i]);
		if (st == GHOST_TXN_COMPLETE && txn_apply(ke, cpu, txn, &cc, on[i]))
			*local_cpu = cpu;
		failed |= st != GHOST_TXN_COMPLETE;
		txn_finish(ke, cpu, txn, st);
	}
	return 0;
}

/* Commit point inside the kernel: cpu schedules (or ticks, greedy only). */
void emu_commit_at_schedule(struct ghost_kenclave *ke, int cpu, bool tick)
{
	struct ghost_txn *txn = &ke->cpu_data[cpu].txn;
	struct commit_ctx cc = { .claimer_cpu = cpu, .from_kernel = true };
	uint8_t at;
	bool on;
	int32_t st;

	if (__atomic_load_n(&txn->state, __ATOMIC_ACQUIRE) != GHOST_TXN_READY)
		return;
	at = txn->commit_flags & COMMIT_AT_FLAGS;
	if (at == COMMIT_AT_TXN_COMMIT || (tick && at != 0))
		return;
	if (!txn_claim(txn, cpu))
		return;
	st = txn_validate(ke, cpu, txn, &cc, &on);
	if (st == GHOST_TXN_COMPLETE)
		txn_apply(ke, cpu, txn, &cc, on);
	txn_finish(ke, cpu, txn, st);
}

void emu_cpu_tick(struct ghost_kenclave *ke, int cpu, int64_t now, bool tick)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, cpu);

	for (int i = 0; i < EMU_TIMERS_PER_CPU; i++) {
		struct emu_timer *tm = &ec->timers[i];
		struct ghost_msg_payload_timer p;

		if (!tm->expires || tm->expires > now)
			continue;
		memset(&p, 0, sizeof(p));
		p.cpu = cpu;
		p.type = tm->type;
		p.cookie = tm->cookie;
		__atomic_store_n(&tm->expires, tm->period > 0 ? now + tm->period : 0,
				 __ATOMIC_RELAXED);
		emu_cpu_msg(ke, cpu, MSG_CPU_TIMER_EXPIRED, &p, sizeof(p));
	}
	if (!tick || (ec->current < 0 && ec->agent_state != EMU_A_RUNNING))
		return;
	if (sh->commit_at_tick)
		emu_commit_at_schedule(ke, cpu, true);
	if (sh->deliver_ticks) {
		struct ghost_msg_payload_cpu_tick p = {
			.cpu = cpu,
			.is_agent = ec->agent_state == EMU_A_RUNNING,
		};

		emu_cpu_msg(ke, cpu, MSG_CPU_TICK, &p, sizeof(p));
	}
	ec->last_tick = now;
}

/* ---- availability (a higher class wants the CPU) ---- */

void emu_set_avail(struct ghost_kenclave *ke, int cpu, bool avail, bool boost)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, cpu);
	struct ghost_status_word *asw = agent_sw(ke, cpu);

	sw_set_flags(asw, boost ? GHOST_SW_BOOST_PRIO : 0, boost ? 0 : GHOST_SW_BOOST_PRIO);
	if (ec->avail == (int)avail)
		return;
	ec->avail = avail;
	sw_set_flags(asw, avail ? GHOST_SW_CPU_AVAIL : 0, avail ? 0 : GHOST_SW_CPU_AVAIL);
	if (!avail && ec->idle_latched && ec->idle_need_not_idle) {
		struct ghost_msg_payload_cpu_not_idle p = { .cpu = cpu, .next_gtid = 0 };

		ec->idle_need_not_idle = 0;
		emu_cpu_msg(ke, cpu, MSG_CPU_NOT_IDLE, &p, sizeof(p));
	}
	if (sh->deliver_cpu_availability) {
		struct ghost_msg_payload_cpu_available p = { .cpu = cpu };

		emu_cpu_msg(ke, cpu, avail ? MSG_CPU_AVAILABLE : MSG_CPU_BUSY, &p, sizeof(p));
	}
}

/* ---- queues going away, discovery ---- */

/* Is q (read from a task record: anything) a queue in use? */
static bool queue_live(struct emu_shared *sh, int32_t q)
{
	return q >= 0 && q < EMU_MAX_QUEUES && emu_queue(sh, q)->in_use;
}

void emu_release_queue_tasks(struct ghost_kenclave *ke, int q)
{
	struct emu_shared *sh = ke->sh;

	if (sh->default_queue == q)
		sh->default_queue = -1;
	for (int c = 0; c < (int)sh->ncpus; c++)
		if (emu_cpu(sh, c)->agent_queue == q)
			emu_cpu(sh, c)->agent_queue = -1;
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (t->state != EMU_T_FREE && t->queue == q) {
			t->queue = sh->default_queue;
			emu_tflags_clear(t, EMU_TF_ASSOCIATED);
		}
	}
}

void emu_send_task_new(struct ghost_kenclave *ke, struct emu_task *t)
{
	struct ghost_msg_payload_task_new p;

	memset(&p, 0, sizeof(p));
	p.gtid = (uint64_t)t->gtid;
	p.parent_gtid = (uint64_t)t->parent_gtid;
	p.runtime = t->runtime;
	p.runnable = t->state == EMU_T_RUNNABLE || t->state == EMU_T_ONCPU;
	p.nice = t->nice;
	p.sw_info.id = t->sw_region;
	p.sw_info.index = t->sw_index;
	emu_tflags_clear(t, EMU_TF_NEW_PENDING);
	emu_task_msg(ke, t, MSG_TASK_NEW, &p, sizeof(p));
}

/* "discover tasks": a fresh TASK_NEW for every task in the enclave. */
int emu_discover(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;
	int n = 0, err;

	err = emu_lock(ke);
	if (err)
		return err;
	if (sh->state != EMU_E_ALIVE) {
		emu_unlock(ke);
		return -ENODEV;
	}
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (t->state != EMU_T_BLOCKED && t->state != EMU_T_RUNNABLE &&
		    t->state != EMU_T_ONCPU)
			continue;
		if (!queue_live(sh, t->queue))
			t->queue = sh->default_queue;
		emu_send_task_new(ke, t);
		n++;
	}
	emu_unlock(ke);
	return n;
}

/* Deliver the TASK_NEW of tasks that had no queue to report to. */
void emu_flush_new_pending(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;

	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (t->state == EMU_T_FREE || t->state == EMU_T_DEAD || t->state == EMU_T_DEPARTED)
			continue;
		if (!queue_live(sh, t->queue))
			t->queue = sh->default_queue;
		if (t->flags & EMU_TF_NEW_PENDING)
			emu_send_task_new(ke, t);
	}
}

/* ---- letting a task go ---- */

void emu_task_release(struct ghost_kenclave *ke, struct emu_task *t)
{
	cpu_set_t set;

	if (t->state == EMU_T_BLOCKED || t->state == EMU_T_RUNNABLE || t->state == EMU_T_ONCPU)
		emu_task_stop(ke, t, MSG_TASK_DEPARTED, EMU_T_DEPARTED);
	/* From now on the thread is a normal thread: unpinned here, since one
	 * spinning in user code may never come back to the library. */
	emu_tflags_set(t, EMU_TF_UNMANAGED);
	__atomic_store_n(&t->affinity_cpu, -1, __ATOMIC_RELEASE);
	if (emu_tflags_any(t, EMU_TF_VIRTUAL)) {
		park_wake(ke, &t->park);
		return;
	}
	CPU_ZERO(&set);
	for (int c = 0; c < GHOST_MAX_CPUS && c < CPU_SETSIZE; c++)
		if (t->orig_mask[c / 64] & (1ull << (c % 64)))
			CPU_SET(c, &set);
	if (CPU_COUNT(&set))
		sched_setaffinity(t->tid, sizeof(set), &set);
	park_wake(ke, &t->park);
}

/* ---- death of the enclave ---- */

void emu_enclave_kill(struct ghost_kenclave *ke, uint32_t reason)
{
	struct emu_shared *sh = ke->sh;

	if (sh->state != EMU_E_ALIVE)
		return;
	/* Release: a reader that sees DEAD sees why. */
	__atomic_store_n(&sh->dead_reason, reason, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->state, EMU_E_DEAD, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (t->state != EMU_T_BLOCKED && t->state != EMU_T_RUNNABLE &&
		    t->state != EMU_T_ONCPU)
			continue;
		emu_task_release(ke, t);
	}
	for (int c = 0; c < (int)sh->ncpus; c++) {
		struct emu_cpu *ec = emu_cpu(sh, c);

		emu_set_current(ec, -1);
		ec->latched = -1;
		if (ec->agent_state == EMU_A_YIELDED)
			__atomic_store_n(&ec->agent_state, EMU_A_RUNNING, __ATOMIC_RELEASE);
		park_wake(ke, &ec->agent_park);
	}
	sh->nr_tasks = 0;
}

const char *emu_exit_reason(struct ghost_kenclave *ke)
{
	static const char *const why[] = {
		[EMU_DEAD_UNKNOWN] = "ended",
		[EMU_DEAD_DESTROYED] = "destroyed",
		[EMU_DEAD_AGENT_TIMEOUT] = "reaped: its agent was gone for agent_timeout_ms",
		[EMU_DEAD_RUNNABLE_TIMEOUT] = "reaped: a task waited past runnable_timeout",
		[EMU_DEAD_OWNER_EXITED] = "reaped: the process that made it ephemeral exited",
	};
	struct emu_shared *sh = ke->sh;
	uint32_t r;

	/* Acquire, then the reason: pairs with emu_enclave_kill's release. */
	if (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) == EMU_E_ALIVE)
		return NULL;
	r = __atomic_load_n(&sh->dead_reason, __ATOMIC_RELAXED);
	return r < GHOST_ARRAY_SIZE(why) ? why[r] : why[EMU_DEAD_UNKNOWN];
}
