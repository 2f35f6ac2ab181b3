/*
 * kernels/scx/ghost.bpf.c - the ghOSt kernel side as a sched_ext BPF scheduler.
 *
 * Owns, for the tasks of one enclave (the threads switched to SCHED_EXT while it is loaded,
 * partial-switch mode: everything else stays in the fair class):
 *   - the task events -> ghOSt messages translation (struct_ops callbacks below), written
 *     straight into the ABI rings of mmapable map "g_queues", with per-task sequence numbers
 *     kept in the ABI status words of mmapable map "g_sw";
 *   - the transactions: the agent writes txns into mmapable "g_cpu_data"; the SEC("syscall")
 *     program gs_commit (run by the loader with BPF_PROG_TEST_RUN, one bpf(2) call per
 *     commit) claims, validates in the ghOSt kernel's order and latches them; the target
 *     CPU's ops.dispatch then inserts the latched task into its local queue;
 *   - agent wake-ups: a per-CPU BPF ring buffer ("doorbell") the agent thread sleeps on.
 *
 * It must never run a held task without a commit (tasks are only inserted from dispatch, and
 * only the latched one), never trust the mmapped memory user space can write (queue indices
 * and sizes are the kernel's own copies in g_state, txn fields are read once), and never call
 * a helper while holding g_state's lock (the verifier forbids it): every event is "lock,
 * update, unlock, then kick CPUs / ring doorbells". One lock serialises the whole enclave, as
 * the embedded kernel's enclave lock does; this keeps per-task sequence numbers in ring order
 * whichever context produces them.
 *
 * Ordering: user space reads status words and ring heads with acquire loads. Plain BPF
 * stores are not ordered by the language, so every store another CPU reads locklessly goes
 * through WRITE_ONCE (a volatile store, which the compiler keeps in program order) and relies
 * on x86-64's store ordering (TSO) for the rest: fields before the barrier, slots before the
 * head. This scheduler is built for x86-64 only.
 */
#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "compat.bpf.h"
#include "ghost_scx.h"

char _license[] SEC("license") = "GPL";

extern void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
extern s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym;
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern void scx_bpf_exit_bstr(s64 exit_code, char *fmt, unsigned long long *data,
			      u32 data__sz) __ksym;
/* Callable from ops.cpu_release only (6.12 on); kernels with SCX_ENQ_IMMED do without it. */
extern u32 scx_bpf_reenqueue_local(void) __ksym __weak;

#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)

#define GS_BY_KERNEL (-2)	/* caller_cpu of a commit the kernel side makes itself */
#define TASK_NEW_STATE 0x800	/* task_struct.__state of a child not yet woken */
#define TASK_DEAD_STATE 0x80
#define PF_EXITING_FLAG 0x4

/* ---- maps ---- */

struct gs_queues {
	struct gs_queue q[GS_MAX_QUEUES];
};
struct gs_cpu_pages {
	struct gs_cpu_data cpu[GS_MAX_CPUS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct gs_state);
} g_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct gs_sw_region);
} g_sw SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct gs_queues);
} g_queues SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct gs_cpu_pages);
} g_cpu_data SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GS_MAX_TASKS);
	__type(key, s32);	/* tid */
	__type(value, u32);	/* slot */
} g_tid2slot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct gs_exit);
} g_exit SEC(".maps");

struct gs_bell {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GS_BELL_BYTES);
};

/* Inner ring buffers are created and inserted by the loader, one per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, GS_MAX_CPUS);
	__type(key, u32);
	__array(values, struct gs_bell);
} g_bells SEC(".maps");

/* ---- the context every program starts with ---- */

/*
 * Side effects collected under the lock, carried out after it (ctx_finish): the CPUs to
 * kick and the doorbells to ring; local, for a commit: the CPU whose agent must sleep.
 * A program keeps them on its stack; a global function (gs_commit_cpu) writes its
 * caller's.
 */
struct fx_out {
	u64 ring[GS_MASK_WORDS];
	u64 kick[GS_MASK_WORDS];
	s32 local;
	s32 pad;
};

struct ctx {
	struct gs_state *st;
	struct gs_sw_region *sw;
	struct gs_queues *qs;
	struct gs_cpu_pages *cd;
	u64 now;
	struct fx_out *fx;
};

/* Every program starts with these two lines (and then ctx_init). */
#define CTX_DECLARE(c)                          \
	struct fx_out c##_fx = { .local = -1 }; \
	struct ctx c = { .fx = &c##_fx }

static __always_inline bool ctx_init(struct ctx *c)
{
	struct gs_state *st;
	struct gs_sw_region *sw;
	struct gs_queues *qs;
	struct gs_cpu_pages *cd;
	u32 zero = 0;

	st = bpf_map_lookup_elem(&g_state, &zero);
	sw = bpf_map_lookup_elem(&g_sw, &zero);
	qs = bpf_map_lookup_elem(&g_queues, &zero);
	cd = bpf_map_lookup_elem(&g_cpu_data, &zero);
	if (!st || !sw || !qs || !cd)
		return false;
	c->st = st;
	c->sw = sw;
	c->qs = qs;
	c->cd = cd;
	c->now = bpf_ktime_get_ns();
	return true;
}

static __always_inline void mask_set(u64 *m, s32 cpu)
{
	if (cpu >= 0 && cpu < GS_MAX_CPUS)
		m[(cpu >> 6) & (GS_MASK_WORDS - 1)] |= 1ull << (cpu & 63);
}

static __always_inline bool mask_test(const u64 *m, s32 cpu)
{
	if (cpu < 0 || cpu >= GS_MAX_CPUS)
		return false;
	return m[(cpu >> 6) & (GS_MASK_WORDS - 1)] & (1ull << (cpu & 63));
}

/* After the unlock: kick and ring what the locked section decided. */
static __always_inline void ctx_finish(struct ctx *c)
{
	u64 any = 0;
	u32 i;

	/* Most events kick and ring nothing: skip the walk over every CPU then. */
	for (int w = 0; w < GS_MASK_WORDS; w++)
		any |= c->fx->ring[w] | c->fx->kick[w];
	if (!any)
		return;
	bpf_for(i, 0, GS_MAX_CPUS) {
		u64 bit = 1ull << (i & 63);
		u32 w = (i >> 6) & (GS_MASK_WORDS - 1);

		if (c->fx->kick[w] & bit)
			scx_bpf_kick_cpu(i, SCX_KICK_PREEMPT);
		if (c->fx->ring[w] & bit) {
			void *bell = bpf_map_lookup_elem(&g_bells, &i);

			if (bell)
				bpf_ringbuf_output(bell, &i, sizeof(i), BPF_RB_FORCE_WAKEUP);
		}
	}
}

static __always_inline struct gs_cpu *cpu_rec(struct ctx *c, s32 cpu)
{
	return &c->st->cpus[cpu & (GS_MAX_CPUS - 1)];
}

static __always_inline struct gs_task *task_rec(struct ctx *c, u32 slot)
{
	return &c->st->tasks[slot & (GS_MAX_TASKS - 1)];
}

static __always_inline struct gs_sw *sw_word(struct ctx *c, u32 slot)
{
	return &c->sw->words[slot & (GS_MAX_TASKS - 1)];
}

static __always_inline u32 slot_of_gtid(s64 gtid)
{
	return (u32)((gtid & ((1 << GS_SLOT_BITS) - 1)) - 1);
}

/* ---- the ring producer (under the lock) ---- */

static __always_inline void slot_put(struct gs_queue *Q, u32 idx, u32 k, u32 v)
{
	/* At most 2 * (GS_QSLOTS - 1) + 15 < 2 * GS_QSLOTS + GS_QSLACK: in bounds by construction. */
	Q->slots[(idx & (GS_QSLOTS - 1)) * 2 + (k & 15)] = v;
}

/*
 * Writes one message (8-byte header + len payload bytes) into queue qid, padding the end of
 * the ring with a NOP when it would straddle. A full ring counts an overflow and drops the
 * message (the sender's barrier has moved anyway, as in the ghOSt kernel).
 *
 * The same ring discipline as ghost_ring_produce() in src/ring.c, which the embedded kernel
 * uses; it cannot be shared: BPF has no memcpy of a variable length, may only store 32-bit
 * words at the ring's 4-mod-8 slot addresses, and needs every index masked for the verifier.
 */
static __always_inline int produce(struct gs_state *st, struct gs_queues *qs, s32 qid, u32 type,
			      u32 seq, const u32 *pl, u32 len)
{
	struct gs_qctl *qc;
	struct gs_queue *Q;
	u32 nelems, head, tail, length, slots, idx, to_end, filler, needed, used;

	if (qid < 0 || qid >= GS_MAX_QUEUES)
		goto drop;
	qc = &st->q[qid & (GS_MAX_QUEUES - 1)];
	Q = &qs->q[qid & (GS_MAX_QUEUES - 1)];
	nelems = qc->nelems;
	if (!qc->live || nelems < 8 || nelems > GS_QSLOTS || (nelems & (nelems - 1)))
		goto drop;
	if (len > 56)
		goto drop;
	length = 8 + len;
	slots = (length + 7) / 8;
	head = Q->head;
	tail = READ_ONCE(Q->tail);
	used = head - tail;
	idx = head & (nelems - 1);
	to_end = nelems - idx;
	filler = slots > to_end ? to_end : 0;
	needed = filler + slots;
	if (used > nelems || needed > nelems - used) {
		__sync_fetch_and_add(&Q->overflow, 1);
		goto drop;
	}
	if (filler) {
		slot_put(Q, idx, 0, GS_MSG_NOP | ((filler * 8) << 16));
		slot_put(Q, idx, 1, 0);
		idx = 0;
	}
	slot_put(Q, idx, 0, type | (length << 16));
	slot_put(Q, idx, 1, seq);
	for (u32 i = 0; i < 14; i++) {
		if (i >= (slots - 1) * 2)
			break;
		slot_put(Q, idx, 2 + i, i < len / 4 ? pl[i] : 0);
	}
	/* Slots first, then head (x86 TSO + volatile store: the consumer's acquire sees them). */
	WRITE_ONCE(Q->head, head + needed);
	if (type >= 64 && type < 80)
		st->stats.msgs[(type - 64) & 15]++;
	return 0;
drop:
	st->stats.dropped++;
	return -1;
}

static __always_inline u32 sw_bump(struct gs_sw *w)
{
	u32 b = w->barrier + 1;

	WRITE_ONCE(w->barrier, b);
	return b;
}

/* Wakes cpu's agent if it sleeps on its doorbell (the ring happens after the unlock). */
static __always_inline void agent_wake(struct ctx *c, s32 cpu)
{
	struct gs_cpu *cr = cpu_rec(c, cpu);

	if (cr->waiting) {
		cr->waiting = 0;
		mask_set(c->fx->ring, cpu);
	}
}

static __always_inline u32 agent_bump(struct ctx *c, s32 cpu)
{
	struct gs_cpu *cr = cpu_rec(c, cpu);

	if (!cr->agent_tid)
		return 0;
	return sw_bump(sw_word(c, cr->agent_slot));
}

/* A CPU message for cpu's agent: its barrier is the sequence number. */
static __always_inline void cpu_msg(struct ctx *c, s32 cpu, u32 type, const void *pl, u32 len)
{
	struct gs_cpu *cr = cpu_rec(c, cpu);
	s32 qid;
	u32 seq;

	if (!cr->agent_tid) {
		c->st->stats.dropped++;
		return;
	}
	seq = agent_bump(c, cpu);
	qid = cr->agent_qid >= 0 ? cr->agent_qid : c->st->default_qid;
	produce(c->st, c->qs, qid, type, seq, pl, len);
	agent_wake(c, cpu);
}

/*
 * A task message: the task's barrier moves (even if the message is dropped), then the
 * message goes to the task's queue and the queue's wake-up agent is told (the one on the
 * task's CPU if it is among the targets, else the first).
 */
static __always_inline void task_msg(struct ctx *c, u32 slot, u32 type, const void *pl, u32 len)
{
	struct gs_task *t = task_rec(c, slot);
	struct gs_qctl *qc;
	u32 seq;
	s32 w;

	seq = sw_bump(sw_word(c, slot));
	if (produce(c->st, c->qs, t->qid, type, seq, pl, len))
		return;
	qc = &c->st->q[t->qid & (GS_MAX_QUEUES - 1)];
	if (!qc->nwake)
		return;
	w = qc->wake_cpu[0];
	if (qc->nwake > 1 && qc->wake_cpu[1] == t->cpu)
		w = t->cpu;
	if (w < 0 || w >= GS_MAX_CPUS)
		return;
	agent_bump(c, w);
	agent_wake(c, w);
}

static __always_inline void sw_set_flags(struct ctx *c, u32 slot, u32 set, u32 clear)
{
	struct gs_sw *w = sw_word(c, slot);

	WRITE_ONCE(w->flags, (w->flags & ~clear) | set);
}

/* ---- task messages ---- */

static __always_inline void msg_preempt(struct ctx *c, u32 slot, s32 cpu, bool yield,
					bool was_latched)
{
	struct gs_task *t = task_rec(c, slot);
	struct gs_p_task_preempt p = {};

	p.gtid = t->gtid;
	p.runtime = sw_word(c, slot)->runtime;
	p.cpu_seqnum = cpu_rec(c, cpu)->cpu_seqnum;
	p.cpu = cpu;
	p.was_latched = yield ? 0 : was_latched;
	sw_set_flags(c, slot, GS_SW_TASK_RUNNABLE, GS_SW_TASK_ONCPU);
	/* TASK_YIELD's payload is TASK_PREEMPT's without was_latched (same size and offsets). */
	task_msg(c, slot, yield ? GS_MSG_TASK_YIELD : GS_MSG_TASK_PREEMPT, &p, sizeof(p));
}

static __always_inline void msg_new(struct ctx *c, u32 slot, bool runnable)
{
	struct gs_task *t = task_rec(c, slot);
	struct gs_p_task_new p = {};

	p.gtid = t->gtid;
	p.parent_gtid = t->parent_gtid;
	p.runtime = sw_word(c, slot)->runtime;
	p.runnable = runnable;
	p.nice = t->nice;
	p.sw_id = 0;
	p.sw_index = slot;
	sw_set_flags(c, slot, runnable ? GS_SW_TASK_RUNNABLE : 0,
		     GS_SW_TASK_ONCPU | (runnable ? 0 : GS_SW_TASK_RUNNABLE));
	task_msg(c, slot, GS_MSG_TASK_NEW, &p, sizeof(p));
}

static __always_inline void msg_wakeup(struct ctx *c, u32 slot)
{
	struct gs_task *t = task_rec(c, slot);
	struct gs_p_task_wakeup p = {};

	p.gtid = t->gtid;
	p.last_ran_cpu = t->cpu;
	p.wake_up_cpu = t->cpu;
	p.waker_cpu = t->waker_cpu;
	sw_set_flags(c, slot, GS_SW_TASK_RUNNABLE, 0);
	task_msg(c, slot, GS_MSG_TASK_WAKEUP, &p, sizeof(p));
}

static __always_inline void msg_blocked(struct ctx *c, u32 slot)
{
	struct gs_task *t = task_rec(c, slot);
	struct gs_p_task_blocked p = {};

	p.gtid = t->gtid;
	p.runtime = sw_word(c, slot)->runtime;
	p.cpu_seqnum = cpu_rec(c, t->cpu)->cpu_seqnum;
	p.cpu = t->cpu;
	sw_set_flags(c, slot, 0, GS_SW_TASK_ONCPU | GS_SW_TASK_RUNNABLE);
	task_msg(c, slot, GS_MSG_TASK_BLOCKED, &p, sizeof(p));
}

/* A latch that will not be dispatched: its task goes back to the agent. */
static __always_inline void unlatch(struct ctx *c, s32 cpu, bool tell)
{
	struct gs_cpu *cr = cpu_rec(c, cpu);
	s32 slot = cr->latch_slot;
	struct gs_task *t;

	if (slot < 0)
		return;
	cr->latch_slot = -1;
	cr->latch_gtid = 0;
	cr->latch_pending = 0;
	t = task_rec(c, slot);
	if (t->phase != GS_LATCHED || t->latch_cpu != cpu)
		return;
	t->phase = GS_QUEUED;
	t->latch_cpu = -1;
	if (tell)
		msg_preempt(c, slot, cpu, false, true);
}

/* A latched task that leaves (changes, dies, moves): its CPU forgets the latch, silently. */
static __always_inline void latch_forget(struct ctx *c, struct gs_task *t, s32 slot)
{
	struct gs_cpu *cr;

	if (t->phase != GS_LATCHED)
		return;
	cr = cpu_rec(c, t->latch_cpu);
	if (cr->latch_slot == slot) {
		cr->latch_slot = -1;
		cr->latch_gtid = 0;
		cr->latch_pending = 0;
	}
}

/* ---- status-word slots (under the lock) ---- */

static __always_inline s32 slot_alloc(struct ctx *c)
{
	struct gs_state *st = c->st;
	u32 n = st->nfree;

	if (n == 0 || n > GS_MAX_TASKS)
		return -1;
	st->nfree = --n;
	if (c->sw->available)
		c->sw->available--;
	/*
	 * Keep the mask: the compiler knows n < GS_MAX_TASKS from the test above and would
	 * drop it, and verifiers before 7.x cannot follow the range test it emits instead.
	 */
	barrier_var(n);
	return st->free_slots[n & (GS_MAX_TASKS - 1)] & (GS_MAX_TASKS - 1);
}

static __always_inline void slot_release(struct ctx *c, u32 slot)
{
	struct gs_state *st = c->st;
	struct gs_task *t = task_rec(c, slot);

	WRITE_ONCE(sw_word(c, slot)->flags, 0);
	t->kind = GS_K_NONE;
	t->phase = GS_FREE;
	if (st->nfree < GS_MAX_TASKS) {
		st->free_slots[st->nfree & (GS_MAX_TASKS - 1)] = slot;
		st->nfree++;
		c->sw->available++;
	}
}

/*
 * The task in slot is dead (or never announced and leaving): TASK_DEAD, its word for the
 * agent to free; a task never announced just gives its word back. Called at its final
 * dequeue (gs_quiescent: every line dequeues a task whose state is TASK_DEAD one last
 * time), else from gs_disable. Before 7.x ops.disable of a dead task comes only when its
 * task_struct is freed (sched_ext_free from __put_task_struct), after its parent reaped it:
 * waiting for that would have the agent keep a CPU for a task that no longer runs, while
 * the parent that would reap it may wait for that very CPU.
 */
static __always_inline void task_dead(struct ctx *c, struct gs_task *t, u32 slot)
{
	struct gs_p_task_dead pl = { .gtid = t->gtid, .cpu = t->cpu };

	latch_forget(c, t, slot);
	if (t->phase == GS_NEW) {
		slot_release(c, slot);
		return;
	}
	t->phase = GS_GONE;
	t->flags |= GS_TF_DEAD;
	sw_set_flags(c, slot, GS_SW_F_CANFREE, GS_SW_TASK_ONCPU | GS_SW_TASK_RUNNABLE);
	task_msg(c, slot, GS_MSG_TASK_DEAD, &pl, sizeof(pl));
}

/* ---- looking a task up ---- */

static __always_inline s32 slot_of(struct task_struct *p)
{
	s32 pid = p->pid;
	u32 *s = bpf_map_lookup_elem(&g_tid2slot, &pid);

	return s ? (s32)(*s & (GS_MAX_TASKS - 1)) : -1;
}

/* Under the lock: is slot still p's record? */
static __always_inline bool is_mine(struct ctx *c, s32 slot, s32 pid)
{
	struct gs_task *t;

	if (slot < 0)
		return false;
	t = task_rec(c, slot);
	return t->kind == GS_K_TASK && t->tid == pid && t->phase != GS_GONE;
}

static __always_inline s32 nice_of(struct task_struct *p)
{
	return p->static_prio - 120;
}

/* ---- struct_ops callbacks ---- */

s32 OPS(gs_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(p), me = bpf_get_smp_processor_id();

	if (slot < 0 || !ctx_init(&c))
		return prev_cpu;
	bpf_spin_lock(&c.st->lock);
	if (is_mine(&c, slot, p->pid))
		task_rec(&c, slot)->waker_cpu = me;
	bpf_spin_unlock(&c.st->lock);
	return prev_cpu;
}

/*
 * p may not leave its CPU (migrate_disable()). A BPF program's trampoline disables
 * migration for the task it runs on (rcu_read_lock_dont_migrate(), with CONFIG_PREEMPT_RCU
 * as Debian's kernels have it), so the current task's count includes one per program of
 * ours on the stack: this one, and gs_cpu_release when it hands p back (the current
 * task, the one a higher class preempts). Those do not count: without them, a task a
 * higher class preempts would look pinned on every kernel that sends pinned tasks past
 * ops.enqueue, and stay on its CPU without the agent's say. Where a kernel's trampoline
 * does not disable migration, a pinned current task may pass for a free one: the agent
 * then gets it back, and gs_dispatch still runs it only on its own CPU.
 */
static __always_inline bool pinned_here(struct ctx *c, struct task_struct *p)
{
	u32 ours = 0;

	if (p == bpf_get_current_task_btf()) {
		ours = 1;
		if (READ_ONCE(cpu_rec(c, bpf_get_smp_processor_id())->handing_back) == p->pid)
			ours = 2;
	}
	return p->migration_disabled > ours;
}

/*
 * The kernel's sequence number of p's current stay in our custody: do_enqueue_task() gives
 * each one a new value (ops_state's bits above the two state bits, the same on every line
 * from 6.12), and an insert made for an older stay must not run p. See gs_dispatch.
 */
static __always_inline u64 custody_seq(const struct task_struct *p)
{
	return (u64)READ_ONCE(p->scx.ops_state.counter) & ~3ull;
}

void OPS(gs_enqueue, struct task_struct *p, u64 enq_flags)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(p), cpu = scx_bpf_task_cpu(p);
	u64 qseq = custody_seq(p);
	struct gs_task *t;

	if (!ctx_init(&c))
		goto global;
	/*
	 * A task that may not leave its CPU comes here only where the loader set
	 * SCX_OPS_ENQ_MIGRATION_DISABLED (kernels without SCX_ENQ_IMMED): it runs where it
	 * is, as the kernel runs it without that flag.
	 */
	if (pinned_here(&c, p)) {
		compat_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, enq_flags);
		return;
	}
	bpf_spin_lock(&c.st->lock);
	if (!is_mine(&c, slot, p->pid)) {
		/* No word was free when it entered: it runs from the global queue. */
		c.st->stats.unmanaged++;
		bpf_spin_unlock(&c.st->lock);
		goto global;
	}
	t = task_rec(&c, slot);
	t->flags &= ~GS_TF_ONCPU;
	switch (t->phase) {
	case GS_NEW:
		t->phase = GS_QUEUED;
		msg_new(&c, slot, true);
		break;
	case GS_BLOCKED:
		t->phase = GS_QUEUED;
		msg_wakeup(&c, slot);
		break;
	case GS_OFF_RUNNABLE:
	case GS_CHANGE_ONCPU:
	case GS_ONCPU:
		t->phase = GS_QUEUED;
		msg_preempt(&c, slot, t->cpu, t->flags & GS_TF_YIELDING, false);
		break;
	case GS_DISPATCHED:
		/* Inserted, but the CPU went to a higher class before it ran (SCX_ENQ_IMMED). */
		t->phase = GS_QUEUED;
		t->latch_cpu = -1;
		msg_preempt(&c, slot, cpu, false, true);
		break;
	default:
		/* GS_CHANGE_HELD and the like: back where it was, nothing new to say. */
		if (t->phase == GS_CHANGE_HELD)
			t->phase = GS_QUEUED;
		break;
	}
	t->flags &= ~(GS_TF_YIELDING | GS_TF_FORCE_OFF);
	t->qseq = qseq;
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
	/* Held: never inserted here; only a commit's dispatch runs it. */
	return;
global:
	compat_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

static __always_inline void set_avail(struct ctx *c, s32 cpu, bool avail)
{
	struct gs_cpu *cr = cpu_rec(c, cpu);
	struct gs_p_cpu pl = { .cpu = cpu };

	if (!cr->agent_tid || !cr->in_enclave || cr->unavail == !avail)
		return;
	cr->unavail = !avail;
	if (avail)
		sw_set_flags(c, cr->agent_slot, GS_SW_CPU_AVAIL, GS_SW_BOOST_PRIO);
	else
		sw_set_flags(c, cr->agent_slot, GS_SW_BOOST_PRIO, GS_SW_CPU_AVAIL);
	if (c->st->tun.deliver_cpu_availability)
		cpu_msg(c, cpu, avail ? GS_MSG_CPU_AVAILABLE : GS_MSG_CPU_BUSY, &pl, sizeof(pl));
	else
		agent_bump(c, cpu);
}

int gs_commit_cpu(s32 cpu, s32 caller_cpu, u32 poison, struct fx_out *o);

/*
 * From cpu's dispatch (its run queue locked): does a task of a higher class than ours, other
 * than the CPU's agent, wait on this CPU? The kernel picks it before anything dispatch
 * inserts. Dispatch normally runs only when the higher classes have nothing here, but a CPU
 * coming out of idle balances sched_ext first whatever is queued above it, and nothing
 * (no ops.cpu_release: sched_ext did not have the CPU) would tell of a task inserted then and
 * left waiting under, say, a SCHED_OTHER process that keeps the CPU. Tasks queued on the run
 * queue minus sched_ext's own and the fair class's sleepers still queued (delayed dequeue);
 * the agent, queued here and not ours, does not count (it runs first and gives the CPU back,
 * as ghOSt's agents do).
 */
/* Tasks of classes above ours queued on rq (current included): all but sched_ext's and the
 * fair class's delayed-dequeue sleepers. */
static __always_inline s64 higher_class_count(struct rq *rq)
{
	return (s64)rq->nr_running - (s64)rq->scx.nr_running - (s64)compat_fair_delayed(rq);
}

static __always_inline bool higher_class_queued(struct ctx *c, s32 cpu)
{
	struct rq *rq = compat_locked_rq(cpu);
	s32 agent = READ_ONCE(cpu_rec(c, cpu)->agent_tid);
	struct task_struct *a;
	s64 others;

	if (!rq)
		return false;
	others = higher_class_count(rq);
	if (others > 0 && agent) {
		a = bpf_task_from_pid(agent);
		if (a) {
			/* Queued (not migrating), not a delayed sleeper (counted above already). */
			if (compat_task_on_rq(a) == 1 && !a->se.sched_delayed && a->policy != 7 /* SCHED_EXT */ &&
			    scx_bpf_task_cpu(a) == cpu)
				others--;
			bpf_task_release(a);
		}
	}
	return others > 0;
}

void OPS(gs_dispatch, s32 cpu, struct task_struct *prev)
{
	CTX_DECLARE(c);
	struct gs_cpu *cr;
	struct gs_task *t;
	s32 slot, tid = 0;
	struct task_struct *p;
	struct gs_txn *x;
	u64 qseq = 0;
	bool taken;

	if (!ctx_init(&c))
		return;
	taken = higher_class_queued(&c, cpu); /* helpers: not under the lock */
	/* A txn staged with COMMIT_AT_SCHEDULE is committed here, this CPU's schedule. */
	x = &c.cd->cpu[cpu & (GS_MAX_CPUS - 1)].txn;
	if (READ_ONCE(x->state) == GS_TXN_READY &&
	    (READ_ONCE(x->commit_flags) & (GS_COMMIT_AT_SCHEDULE | GS_COMMIT_AT_TXN_COMMIT)) ==
		    GS_COMMIT_AT_SCHEDULE) {
		gs_commit_cpu(cpu, GS_BY_KERNEL, 0, c.fx);
		/* It latched here, where we are about to look: no kick needed. */
		c.fx->kick[(cpu >> 6) & (GS_MASK_WORDS - 1)] &= ~(1ull << (cpu & 63));
	}
	bpf_spin_lock(&c.st->lock);
	cr = cpu_rec(&c, cpu);
	if (taken) {
		/*
		 * A higher class runs here next: the CPU is busy (as a commit would have found),
		 * and not "ours again". What is latched is still inserted below: it runs once
		 * that class lets the CPU go (running() then says the CPU is available), as a
		 * task the kernel keeps at the head of the local queue does.
		 */
		c.st->stats.busy_dispatches++;
		set_avail(&c, cpu, false);
	} else if (cr->unavail) {
		/* Nothing above us wants this CPU: it is ours again. */
		set_avail(&c, cpu, true);
	}
	slot = cr->latch_slot;
	if (slot >= 0 && cr->latch_pending) {
		/* A sync group is still deciding: not yet. */
		slot = -1;
	} else if (slot >= 0) {
		t = task_rec(&c, slot);
		cr->latch_slot = -1;
		if (t->phase == GS_LATCHED && t->latch_cpu == cpu && t->gtid == cr->latch_gtid) {
			t->phase = GS_DISPATCHED;
			cr->run_flags = cr->latch_run_flags;
			tid = t->tid;
			qseq = t->qseq;
		}
		cr->latch_gtid = 0;
	} else if (cr->rtla_on_idle) {
		cr->rtla_on_idle = 0;
		agent_wake(&c, cpu);
	}
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
	if (!tid)
		return;
	p = bpf_task_from_pid(tid);
	if (p) {
		/*
		 * Between the unlock above and the insert, another CPU may take p out of our
		 * custody and give it back (a property change: dequeue, then enqueue, which
		 * makes the agent decide again). The kernel drops an insert whose sequence is
		 * no longer p's, but it reads the sequence at the insert, so an insert made
		 * now would pass for the new stay: compare with the stay the commit was for.
		 * Accepted race: the few instructions between this read and the kernel's.
		 */
		if (custody_seq(p) != qseq) {
			bpf_task_release(p);
			__sync_fetch_and_add(&c.st->stats.dispatch_skips, 1);
			return;
		}
		/* A task that may not leave its CPU runs only there (else the kernel errors out). */
		if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
		    (!p->migration_disabled || scx_bpf_task_cpu(p) == cpu)) {
			compat_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_INF, compat_enq_immed());
			bpf_task_release(p);
			__sync_fetch_and_add(&c.st->stats.dispatches, 1);
			return;
		}
		bpf_task_release(p);
	}
	/* Gone or no longer allowed here: give it back to the agent. */
	__sync_fetch_and_add(&c.st->stats.dispatch_skips, 1);
	bpf_spin_lock(&c.st->lock);
	t = task_rec(&c, slot);
	if (t->phase == GS_DISPATCHED && t->tid == tid) {
		t->phase = GS_QUEUED;
		t->latch_cpu = -1;
		msg_preempt(&c, slot, cpu, false, true);
	}
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
}

void OPS(gs_running, struct task_struct *p)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(p), cpu = scx_bpf_task_cpu(p);
	struct gs_task *t;
	struct gs_sw *w;
	bool pinned;

	if (slot < 0 || !ctx_init(&c))
		return;
	pinned = pinned_here(&c, p); /* helpers: not under the lock */
	bpf_spin_lock(&c.st->lock);
	if (!is_mine(&c, slot, p->pid))
		goto out;
	t = task_rec(&c, slot);
	t->flags |= GS_TF_ONCPU;
	t->cpu = cpu;
	cpu_rec(&c, cpu)->cur_slot = slot;
	/* A task of ours runs here: the CPU is sched_ext's (a dispatch that found it busy may
	 * have been the last to look: the local queue runs without one). */
	if (cpu_rec(&c, cpu)->unavail)
		set_avail(&c, cpu, true);
	if (t->phase == GS_DISPATCHED) {
		struct gs_cpu *cr = cpu_rec(&c, cpu);

		t->phase = GS_ONCPU;
		w = sw_word(&c, slot);
		WRITE_ONCE(w->switch_time, (s64)c.now);
		sw_set_flags(&c, slot, GS_SW_TASK_ONCPU | GS_SW_TASK_RUNNABLE, 0);
		if (cr->run_flags & GS_SEND_TASK_ON_CPU) {
			struct gs_p_task_on_cpu pl = {};

			pl.gtid = t->gtid;
			pl.commit_time = c.now;
			pl.cpu_seqnum = cr->cpu_seqnum;
			pl.cpu = cpu;
			task_msg(&c, slot, GS_MSG_TASK_ON_CPU, &pl, sizeof(pl));
		}
	} else if (t->phase == GS_OFF_RUNNABLE) {
		/*
		 * Resumed from the head of its local queue without going through enqueue:
		 * the kernel keeps a task preempted by a higher class there now and then,
		 * instead of handing it back (SCX_ENQ_IMMED). See txn_apply().
		 */
		t->phase = GS_ONCPU;
	} else if (t->phase == GS_CHANGE_ONCPU) {
		/* Back on the CPU after a property change: ghOSt takes it off (FORCE_OFF). */
		t->phase = GS_ONCPU;
	} else if (t->phase == GS_NEW) {
		/* Running without a commit (it entered while running): stop it soon. */
		t->flags |= GS_TF_FORCE_OFF;
	}
	/*
	 * Other runs without a commit are the kernel's own exceptions (an exiting or
	 * migration-disabled task goes straight to a local queue): let them finish. A task
	 * that may not leave its CPU is not taken off it either: it would come straight back
	 * (past ops.enqueue, or through pinned_here's local insert) and be taken off again.
	 */
	if ((t->flags & GS_TF_FORCE_OFF) && !pinned)
		mask_set(c.fx->kick, cpu);
out:
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
}

void OPS(gs_stopping, struct task_struct *p, bool runnable)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(p), cpu = scx_bpf_task_cpu(p);
	u64 runtime = p->se.sum_exec_runtime;
	struct gs_task *t;

	if (slot < 0 || !ctx_init(&c))
		return;
	bpf_spin_lock(&c.st->lock);
	if (!is_mine(&c, slot, p->pid))
		goto out;
	t = task_rec(&c, slot);
	t->flags &= ~GS_TF_ONCPU;
	if (cpu_rec(&c, cpu)->cur_slot == slot)
		cpu_rec(&c, cpu)->cur_slot = -1;
	WRITE_ONCE(sw_word(&c, slot)->runtime, runtime);
	if (t->phase == GS_ONCPU)
		t->phase = runnable ? GS_OFF_RUNNABLE : GS_OFF_SLEEPING;
out:
	bpf_spin_unlock(&c.st->lock);
}

void OPS(gs_quiescent, struct task_struct *p, u64 deq_flags)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(p), pid = p->pid;
	bool dying = p->__state == TASK_DEAD_STATE, dead = false;
	struct gs_task *t;

	if (slot < 0 || !ctx_init(&c))
		return;
	bpf_spin_lock(&c.st->lock);
	if (!is_mine(&c, slot, pid))
		goto out;
	t = task_rec(&c, slot);
	if (deq_flags & SCX_DEQ_SLEEP) {
		if (dying) {
			/* Its final dequeue: TASK_DEAD now, not when it is reaped. */
			task_dead(&c, t, slot);
			dead = true;
		} else if (t->phase == GS_NEW) {
			t->phase = GS_BLOCKED;
			msg_new(&c, slot, false);
		} else if (t->phase == GS_OFF_SLEEPING || t->phase == GS_ONCPU) {
			t->phase = GS_BLOCKED;
			msg_blocked(&c, slot);
		}
	} else if (!(deq_flags & SCX_DEQ_CORE_SCHED_EXEC)) {
		/*
		 * A property change (affinity, nice, policy): neither sleep nor a core-sched
		 * pick. Newer lines (7.2 here) name this SCX_DEQ_SCHED_CHANGE and set it on these;
		 * older lines pass the core's flags, so the test is the same on every line.
		 */
		if (t->phase == GS_OFF_SLEEPING || t->phase == GS_OFF_RUNNABLE ||
		    t->phase == GS_ONCPU) {
			t->phase = GS_CHANGE_ONCPU;
		} else if (t->phase == GS_QUEUED || t->phase == GS_LATCHED ||
			   t->phase == GS_DISPATCHED) {
			latch_forget(&c, t, slot);
			t->latch_cpu = -1;
			t->phase = GS_CHANGE_HELD;
		}
	}
out:
	bpf_spin_unlock(&c.st->lock);
	/* gs_disable, which comes later (at the reap before 7.x), then has nothing to do. */
	if (dead)
		bpf_map_delete_elem(&g_tid2slot, &pid);
	ctx_finish(&c);
}

bool OPS(gs_yield, struct task_struct *from, struct task_struct *to)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(from);

	/* An expired slice makes the kernel stop it: then enqueue reports TASK_YIELD. */
	from->scx.slice = 0;
	if (slot < 0 || !ctx_init(&c))
		return false;
	bpf_spin_lock(&c.st->lock);
	if (is_mine(&c, slot, from->pid))
		task_rec(&c, slot)->flags |= GS_TF_YIELDING;
	bpf_spin_unlock(&c.st->lock);
	return false;
}

static __always_inline void mask_of(struct task_struct *p, u64 *m)
{
	const struct cpumask *cm = p->cpus_ptr;

	for (int i = 0; i < GS_MASK_WORDS; i++)
		m[i] = cm->bits[i];
}

static __always_inline void changed(struct ctx *c, u32 slot, u32 type, s32 nice)
{
	struct gs_task *t = task_rec(c, slot);

	if (t->phase == GS_NEW || t->phase == GS_GONE)
		return;
	if (type == GS_MSG_TASK_AFFINITY_CHANGED) {
		struct gs_p_task_affinity pl = { .gtid = t->gtid };

		task_msg(c, slot, type, &pl, sizeof(pl));
	} else {
		struct gs_p_task_priority pl = { .gtid = t->gtid, .nice = nice };

		task_msg(c, slot, type, &pl, sizeof(pl));
	}
	/* The ghOSt kernel takes a running task off its CPU after such a change. */
	if (t->phase == GS_CHANGE_ONCPU || t->phase == GS_ONCPU)
		t->flags |= GS_TF_FORCE_OFF;
	if (t->phase == GS_ONCPU)
		mask_set(c->fx->kick, t->cpu);
}

void OPS(gs_set_weight, struct task_struct *p, u32 weight)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(p), nice = nice_of(p);
	struct gs_task *t;

	if (slot < 0 || !ctx_init(&c))
		return;
	bpf_spin_lock(&c.st->lock);
	if (is_mine(&c, slot, p->pid)) {
		t = task_rec(&c, slot);
		if (t->nice != nice) {
			t->nice = nice;
			changed(&c, slot, GS_MSG_TASK_PRIORITY_CHANGED, nice);
		}
	}
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
}

void OPS(gs_set_cpumask, struct task_struct *p, const struct cpumask *cpumask)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(p);
	u64 m[GS_MASK_WORDS];
	struct gs_task *t;
	bool diff = false;

	if (slot < 0 || !ctx_init(&c))
		return;
	/*
	 * A task that may not leave its CPU is pinned to it by the kernel while it is switched
	 * out (migrate_disable_switch): then the mask is not the task's own (p->cpus_mask,
	 * which a real change updates first). Not the user's affinity, nothing for the agent,
	 * and taking the task off its CPU (FORCE_OFF) would only send it back to the same CPU
	 * again and again. The mask migrate_enable() restores is the task's own again, and
	 * the user may have changed it meanwhile: that one counts.
	 */
	for (int i = 0; i < GS_MASK_WORDS; i++) {
		m[i] = cpumask->bits[i];
		if (m[i] != p->cpus_mask.bits[i])
			return;
	}
	bpf_spin_lock(&c.st->lock);
	if (is_mine(&c, slot, p->pid)) {
		t = task_rec(&c, slot);
		for (int i = 0; i < GS_MASK_WORDS; i++) {
			if (t->mask[i] != m[i])
				diff = true;
			t->mask[i] = m[i];
		}
		if (diff)
			changed(&c, slot, GS_MSG_TASK_AFFINITY_CHANGED, 0);
	}
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
}

void OPS(gs_enable, struct task_struct *p)
{
	CTX_DECLARE(c);
	struct task_struct *cur = bpf_get_current_task_btf();
	s32 pid = p->pid, parent_slot = -1, cpu = scx_bpf_task_cpu(p);
	u32 pstate = p->__state;
	bool child = pstate & TASK_NEW_STATE, queued = pstate == 0;
	bool running = compat_task_on_cpu(p) || p == cur;
	u64 m[GS_MASK_WORDS];
	struct gs_task *t;
	s32 slot = -1;
	u32 s;

	if (!ctx_init(&c))
		return;
	mask_of(p, m);
	if (child)
		parent_slot = slot_of(cur);
	bpf_spin_lock(&c.st->lock);
	slot = slot_alloc(&c);
	if (slot >= 0) {
		t = task_rec(&c, slot);
		t->gen = (t->gen + 1) & ((1u << GS_GEN_BITS) - 1);
		t->gtid = ((u64)(u32)pid << 41) | ((u64)t->gen << GS_SLOT_BITS) | (u64)(slot + 1);
		t->parent_gtid = 0;
		if (parent_slot >= 0 && is_mine(&c, parent_slot, cur->pid))
			t->parent_gtid = task_rec(&c, parent_slot)->gtid;
		t->tid = pid;
		t->task_addr = (u64)p;
		t->kind = GS_K_TASK;
		t->flags = 0;
		t->qid = c.st->default_qid;
		t->nice = nice_of(p);
		t->cpu = cpu;
		t->latch_cpu = -1;
		t->waker_cpu = -1;
		for (int i = 0; i < GS_MASK_WORDS; i++)
			t->mask[i] = m[i];
		{
			struct gs_sw *w = sw_word(&c, slot);

			WRITE_ONCE(w->gtid, t->gtid);
			WRITE_ONCE(w->runtime, p->se.sum_exec_runtime);
			WRITE_ONCE(w->switch_time, 0);
			WRITE_ONCE(w->barrier, 0);
			WRITE_ONCE(w->flags, GS_SW_F_ALLOCATED | GS_SW_F_INUSE);
		}
		if (!child && !queued) {
			t->phase = GS_BLOCKED;
			msg_new(&c, slot, false);
		} else {
			t->phase = GS_NEW;
			if (running) {
				t->flags |= GS_TF_FORCE_OFF;
				mask_set(c.fx->kick, cpu);
			}
		}
	}
	bpf_spin_unlock(&c.st->lock);
	if (slot < 0)
		return;	/* no slot: enqueue runs it from the global queue */
	s = slot;
	bpf_map_update_elem(&g_tid2slot, &pid, &s, BPF_ANY);
	ctx_finish(&c);
}

void OPS(gs_disable, struct task_struct *p)
{
	CTX_DECLARE(c);
	s32 slot = slot_of(p), pid = p->pid;
	bool dead = p->flags & PF_EXITING_FLAG, mine = false;
	struct gs_task *t;

	if (slot < 0 || !ctx_init(&c))
		return;
	bpf_spin_lock(&c.st->lock);
	/*
	 * The slot must still be this very task's: before 7.x a dead task is disabled only
	 * when its task_struct is freed, after its final dequeue reported it (task_dead) and
	 * its pid may already belong to a new task.
	 */
	t = task_rec(&c, slot);
	mine = is_mine(&c, slot, pid) && t->task_addr == (u64)p;
	if (mine) {
		if (t->phase == GS_GONE) {
			/* Reported at its final dequeue. */
		} else if (t->phase == GS_NEW || dead) {
			task_dead(&c, t, slot);
		} else {
			latch_forget(&c, t, slot);
			struct gs_p_task_departed pl = {};

			pl.gtid = t->gtid;
			pl.cpu_seqnum = cpu_rec(&c, t->cpu)->cpu_seqnum;
			pl.cpu = t->cpu;
			pl.was_current = (t->flags & GS_TF_ONCPU) || t->phase == GS_CHANGE_ONCPU;
			t->phase = GS_GONE;
			sw_set_flags(&c, slot, GS_SW_F_CANFREE, GS_SW_TASK_ONCPU | GS_SW_TASK_RUNNABLE);
			task_msg(&c, slot, GS_MSG_TASK_DEPARTED, &pl, sizeof(pl));
		}
	}
	bpf_spin_unlock(&c.st->lock);
	if (mine)
		bpf_map_delete_elem(&g_tid2slot, &pid);
	ctx_finish(&c);
}

void OPS(gs_tick, struct task_struct *p)
{
	CTX_DECLARE(c);
	s32 cpu = bpf_get_smp_processor_id();

	if (!ctx_init(&c))
		return;
	bpf_spin_lock(&c.st->lock);
	if (c.st->tun.deliver_ticks && cpu_rec(&c, cpu)->in_enclave) {
		struct gs_p_cpu_tick pl = { .cpu = cpu, .is_agent = 0 };

		cpu_msg(&c, cpu, GS_MSG_CPU_TICK, &pl, sizeof(pl));
	}
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
}

void OPS(gs_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	CTX_DECLARE(c);
	s32 tid = args->task ? args->task->pid : 0;

	if (!ctx_init(&c))
		return;
	bpf_spin_lock(&c.st->lock);
	/* Our own agent taking its CPU is how agents run; anyone else means "busy". */
	if (tid != cpu_rec(&c, cpu)->agent_tid)
		set_avail(&c, cpu, false);
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
	/*
	 * Without SCX_ENQ_IMMED the kernel keeps a task that a higher class preempts, and one
	 * inserted here that has not run yet, at the head of this CPU's local queue
	 * (put_prev_task_scx, then this callback) and runs it again when the CPU comes back,
	 * without asking us. ghOSt gives such a task back to the agent (TASK_PREEMPT)
	 * instead: hand every task of the local queue back through ops.enqueue, which says
	 * so (scx_bpf_reenqueue_local may only be called from here on those kernels; the
	 * current task, the preempted one, goes too: see pinned_here). With SCX_ENQ_IMMED
	 * the kernel hands them back by itself.
	 */
	__sync_fetch_and_add(&c.st->stats.cpu_releases, 1);
	if (!compat_enq_immed() && bpf_ksym_exists(scx_bpf_reenqueue_local)) {
		struct task_struct *cur = bpf_get_current_task_btf();
		struct gs_cpu *cr = cpu_rec(&c, cpu);

		/* Read by the nested gs_enqueue on this CPU only (pinned_here): no lock needed. */
		WRITE_ONCE(cr->handing_back, cur->pid);
		__sync_fetch_and_add(&c.st->stats.handed_back, scx_bpf_reenqueue_local());
		WRITE_ONCE(cr->handing_back, 0);
	}
}

void OPS(gs_cpu_acquire, s32 cpu, struct scx_cpu_acquire_args *args)
{
	CTX_DECLARE(c);

	if (!ctx_init(&c))
		return;
	bpf_spin_lock(&c.st->lock);
	set_avail(&c, cpu, true);
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
}

void OPS(gs_exit, struct scx_exit_info *ei)
{
	u32 zero = 0;
	struct gs_exit *e = bpf_map_lookup_elem(&g_exit, &zero);

	if (!e)
		return;
	bpf_probe_read_kernel_str(e->reason, sizeof(e->reason), ei->reason);
	bpf_probe_read_kernel_str(e->msg, sizeof(e->msg), ei->msg);
	e->exit_cpu = compat_exit_cpu(ei);
	e->exit_code = ei->exit_code;
	WRITE_ONCE(e->kind, ei->kind ? ei->kind : -1);
}

/* ---- transactions (SEC("syscall"), run by the loader in the calling agent's context) ---- */

static __always_inline bool flags_valid(s64 gtid, u32 rf, u32 cf)
{
	if (cf & ~0x1fu)
		return false;
	if ((cf & (GS_COMMIT_AT_SCHEDULE | GS_COMMIT_AT_TXN_COMMIT)) ==
	    (GS_COMMIT_AT_SCHEDULE | GS_COMMIT_AT_TXN_COMMIT))
		return false;
	if ((cf & GS_ELIDE_AGENT_BARRIER_INC) && (cf & GS_INC_AGENT_BARRIER_ON_FAILURE))
		return false;
	if (rf & ~GS_RUN_FLAGS_VALID)
		return false;
	if ((rf & GS_RTLA_ON_IDLE) && gtid < 0)
		return false;
	if ((rf & GS_NEED_CPU_NOT_IDLE) && gtid != GS_IDLE_GTID)
		return false;
	if (gtid == GS_AGENT_GTID && rf)
		return false;
	return true;
}

struct txn_in {
	s32 version, tcpu;
	u32 agent_barrier, task_barrier, run_flags, commit_flags;
	s64 gtid;
};

/*
 * The checks of the ghOSt kernel in its order (ghost-abi 8.2), then the latch. Under the
 * lock. Returns 0 for success or the failure's offset from GHOST_TXN_COMPLETE.
 */
enum txn_mode {
	TXN_NOW,	/* check and carry out */
	TXN_CHECK,	/* check only (a sync group's first pass) */
	TXN_PENDING,	/* check and latch, held back from dispatch until the group decides */
};

static __always_inline u32 txn_apply(struct ctx *c, s32 cpu, s32 caller_cpu,
				     const struct txn_in *in, struct gs_txn *x, s32 *local,
				     u32 mode)
{
	struct gs_cpu *cr = cpu_rec(c, cpu);
	struct gs_task *t = NULL;
	bool already_on = false, resume = false, is_local;
	u32 slot = 0;
	s64 gtid = in->gtid;

	if (in->version != 0)
		return GS_F_UNSUPPORTED_VERSION;
	if (in->tcpu != cpu || !cr->in_enclave)
		return GS_F_INVALID_CPU;
	if (!flags_valid(gtid, in->run_flags, in->commit_flags))
		return GS_F_INVALID_FLAGS;
	if (gtid > 0) {
		slot = slot_of_gtid(gtid);
		if (slot >= GS_MAX_TASKS)
			return GS_F_TARGET_NOT_FOUND;
		t = task_rec(c, slot);
		if (t->gtid != (u64)gtid || t->kind == GS_K_NONE)
			return GS_F_TARGET_NOT_FOUND;
		if (t->kind == GS_K_AGENT)
			return GS_F_INVALID_TARGET;
		if (t->phase == GS_GONE)
			return (t->flags & GS_TF_DEAD) ? GS_F_TARGET_STALE : GS_F_INVALID_TARGET;
		if (sw_word(c, slot)->barrier != in->task_barrier)
			return GS_F_TARGET_STALE;
		if (t->phase == GS_BLOCKED || t->phase == GS_NEW)
			return GS_F_TARGET_NOT_RUNNABLE;
		if (t->phase == GS_ONCPU) {
			if (t->cpu != cpu || !(in->commit_flags & GS_ALLOW_TASK_ONCPU) ||
			    (t->flags & GS_TF_FORCE_OFF))
				return GS_F_TARGET_ONCPU;
			already_on = true;
		} else if (t->phase == GS_OFF_RUNNABLE && t->cpu == cpu) {
			/*
			 * Stopped for a higher class (the agent) and not handed back: it waits
			 * at the head of this CPU's local queue and runs again as soon as the
			 * CPU is free, which is what this commit asks. Failing instead would
			 * have the agent retry without ever giving the CPU up. If the hand-back
			 * comes after all, its TASK_PREEMPT makes the agent commit it again.
			 */
			resume = true;
		} else if (t->phase != GS_QUEUED && t->phase != GS_LATCHED) {
			/* Dispatched, or still leaving a CPU: its message is on the way. */
			return GS_F_TARGET_ONCPU;
		}
		if (!mask_test(t->mask, cpu))
			return GS_F_INVALID_TARGET;
	} else if (gtid < GS_IDLE_GTID) {
		return GS_F_INVALID_TARGET;
	}
	if (!cr->agent_tid)
		return GS_F_NO_AGENT;
	/* Agents may commit; so may the kernel itself (a COMMIT_AT_SCHEDULE txn). */
	if (caller_cpu < 0 && caller_cpu != GS_BY_KERNEL)
		return GS_F_NOT_PERMITTED;
	if ((in->run_flags & GS_DO_NOT_PREEMPT) && !already_on &&
	    (cr->cur_slot >= 0 || cr->latch_slot >= 0))
		return GS_F_AGENT_STALE;
	if ((gtid > 0 || gtid == GS_IDLE_GTID) && cr->unavail)
		return GS_F_CPU_UNAVAIL;
	is_local = caller_cpu == cpu;
	if (is_local && gtid != GS_AGENT_GTID) {
		/* Mark the agent asleep first, then check: a message after this wakes it. */
		if (sw_word(c, cr->agent_slot)->barrier != in->agent_barrier)
			return GS_F_AGENT_STALE;
		if (mode == TXN_CHECK)
			return 0;
		cr->waiting = 1;
		cr->rtla_on_idle = 0;
		*local = cpu;
	}
	if (mode == TXN_CHECK)
		return 0;

	if (!(in->commit_flags & GS_ELIDE_AGENT_BARRIER_INC) && !already_on && !is_local)
		agent_bump(c, cpu);
	cr->cpu_seqnum++;
	x->cpu_seqnum = cr->cpu_seqnum;
	if (t) {
		if (already_on || resume) {
			cr->run_flags = in->run_flags;
			if (cr->latch_slot >= 0)
				unlatch(c, cpu, true);
			return 0;
		}
		/* Latched elsewhere and not dispatched yet: it moves here, silently. */
		if (t->latch_cpu != cpu)
			latch_forget(c, t, slot);
		if (cr->latch_slot >= 0 && cr->latch_slot != (s32)slot)
			unlatch(c, cpu, true);
		cr->latch_slot = slot;
		cr->latch_gtid = gtid;
		cr->latch_run_flags = in->run_flags;
		cr->latch_pending = mode == TXN_PENDING;
		t->phase = GS_LATCHED;
		t->latch_cpu = cpu;
		if (!is_local && mode != TXN_PENDING)
			mask_set(c->fx->kick, cpu);
		return 0;
	}
	if (gtid == GS_AGENT_GTID) {
		agent_wake(c, cpu);
		return 0;
	}
	/* NULL or IDLE: nothing may run there. */
	unlatch(c, cpu, true);
	if (cr->cur_slot >= 0)
		mask_set(c->fx->kick, cpu);
	return 0;
}

/*
 * Is cpu running a thread of a higher class than ours (not its agent, not idle, not a
 * SCHED_EXT task)? Racy by nature: the answer is only as fresh as the moment it was read,
 * which is all the ghOSt kernel's own check gives an agent too.
 */
static __always_inline bool cpu_taken(struct ctx *c, s32 cpu)
{
	struct task_struct *cur;
	bool taken = false;

	bpf_rcu_read_lock();
	cur = compat_cpu_curr(cpu);
	if (cur)
		taken = cur->pid != 0 && cur->policy != 7 /* SCHED_EXT */ &&
			cur->pid != READ_ONCE(cpu_rec(c, cpu)->agent_tid);
	bpf_rcu_read_unlock();
	return taken;
}

/* The txn's fields, read once after the claim: user space may keep writing them. */
static __always_inline void txn_read(struct gs_txn *x, struct txn_in *in)
{
	in->version = READ_ONCE(x->version);
	in->tcpu = READ_ONCE(x->cpu);
	in->agent_barrier = READ_ONCE(x->agent_barrier);
	in->task_barrier = READ_ONCE(x->task_barrier);
	in->run_flags = READ_ONCE(x->run_flags);
	in->commit_flags = READ_ONCE(x->commit_flags);
	in->gtid = READ_ONCE(x->gtid);
}

/* Final state of a txn: commit_time first, the state last (the agent acquires it). */
static __always_inline void txn_finish(struct gs_txn *x, u32 fail)
{
	WRITE_ONCE(x->commit_time, (s64)bpf_ktime_get_ns());
	WRITE_ONCE(x->state, (s32)(GS_TXN_COMPLETE + fail));
}

/*
 * Claims and commits cpu's READY txn: returns 0 (committed), the failure's offset from
 * GHOST_TXN_COMPLETE, or -1 if there was no READY txn. poison: fail it POISONED unseen
 * (the caller's own txn after another one of the same call failed, as the ghOSt kernel does).
 */
static __always_inline int commit_one(struct ctx *c, s32 cpu, s32 caller_cpu, s32 *local,
				      bool poison)
{
	bool taken = false;
	struct gs_txn *x = &c->cd->cpu[cpu & (GS_MAX_CPUS - 1)].txn;
	s32 claimer = caller_cpu >= 0 ? caller_cpu : (s32)bpf_get_smp_processor_id();
	struct txn_in in;
	u32 fail;

	/* Claim: READY -> our CPU. Fails if the agent aborted it or nobody opened it. */
	if (__sync_val_compare_and_swap(&x->state, GS_TXN_READY, claimer) != GS_TXN_READY)
		return -1;
	txn_read(x, &in);
	/* From dispatch, the CPU is sched_ext's by definition (its current task is leaving). */
	if (caller_cpu != GS_BY_KERNEL)
		taken = cpu_taken(c, cpu);
	bpf_spin_lock(&c->st->lock);
	/* A higher class holds the CPU and sched_ext never had it: no cpu_release told us. */
	if (taken && !cpu_rec(c, cpu)->unavail)
		set_avail(c, cpu, false);
	fail = poison ? GS_F_POISONED : txn_apply(c, cpu, caller_cpu, &in, x, local, TXN_NOW);
	if (fail) {
		if ((in.commit_flags & GS_INC_AGENT_BARRIER_ON_FAILURE) &&
		    cpu_rec(c, cpu)->agent_tid)
			agent_bump(c, cpu);
		c->st->stats.commit_fails++;
	} else {
		c->st->stats.commits++;
	}
	bpf_spin_unlock(&c->st->lock);
	txn_finish(x, fail);
	return (int)fail;
}

/*
 * A sync group (all or nothing) goes through every CPU of the call four times, each time
 * other CPUs first and the caller's own last: claim every txn (one that is not READY fails
 * the group), check them all, latch them all held back from dispatch (the state may have
 * moved since the check), then decide: release the latches and kick, or take them back
 * and fail every txn, the first failure with its reason and the rest POISONED. A NULL or
 * AGENT member acts when latched, like the ghOSt kernel's own pre-rendezvous work.
 */
enum group_step { G_CLAIM, G_CHECK, G_LATCH, G_DECIDE };

struct group {
	u64 claimed[GS_MASK_WORDS];
	s32 caller;
	s32 local;
	s32 fail_cpu;		/* the first failure, -1 = none yet */
	u32 fail;		/* its reason */
	u32 step;
};

static __always_inline int group_one(struct ctx *c, s32 cpu, struct group *g)
{
	struct gs_txn *x = &c->cd->cpu[cpu & (GS_MAX_CPUS - 1)].txn;
	s32 claimer = g->caller >= 0 ? g->caller : (s32)bpf_get_smp_processor_id();
	struct gs_cpu *cr = cpu_rec(c, cpu);
	struct txn_in in;
	bool taken = false;
	u32 fail = 0;

	if (g->step == G_CLAIM) {
		if (__sync_val_compare_and_swap(&x->state, GS_TXN_READY, claimer) == GS_TXN_READY)
			mask_set(g->claimed, cpu);
		else if (g->fail_cpu < 0) {
			/* Not ours to finish: it only fails the others. */
			g->fail_cpu = cpu;
			g->fail = GS_F_POISONED;
		}
		return 0;
	}
	if (!mask_test(g->claimed, cpu))
		return 0;
	if (g->step == G_CHECK || g->step == G_LATCH) {
		if (g->fail_cpu >= 0)
			return 0;
		txn_read(x, &in);
		if (g->step == G_CHECK)
			taken = cpu_taken(c, cpu);
		bpf_spin_lock(&c->st->lock);
		if (taken && !cr->unavail)
			set_avail(c, cpu, false);
		fail = txn_apply(c, cpu, g->caller, &in, x, &g->local,
				 g->step == G_CHECK ? TXN_CHECK : TXN_PENDING);
		bpf_spin_unlock(&c->st->lock);
		if (fail) {
			g->fail_cpu = cpu;
			g->fail = fail;
		}
		return 0;
	}
	/* G_DECIDE */
	bpf_spin_lock(&c->st->lock);
	if (g->fail_cpu < 0) {
		if (cr->latch_pending) {
			cr->latch_pending = 0;
			if (cpu != g->caller)
				mask_set(c->fx->kick, cpu);
		}
		c->st->stats.commits++;
	} else {
		if (cr->latch_pending) {
			s32 slot = cr->latch_slot;

			if (slot >= 0) {
				struct gs_task *t = task_rec(c, slot);

				if (t->phase == GS_LATCHED && t->latch_cpu == cpu) {
					t->phase = GS_QUEUED;
					t->latch_cpu = -1;
				}
			}
			cr->latch_slot = -1;
			cr->latch_gtid = 0;
			cr->latch_pending = 0;
		}
		if (cpu == g->caller)
			cr->waiting = 0;
		fail = cpu == g->fail_cpu ? g->fail : GS_F_POISONED;
		if ((READ_ONCE(x->commit_flags) & GS_INC_AGENT_BARRIER_ON_FAILURE) && cr->agent_tid)
			agent_bump(c, cpu);
		c->st->stats.commit_fails++;
	}
	bpf_spin_unlock(&c->st->lock);
	if (!fail)
		WRITE_ONCE(x->sync_group_owner, -1);
	txn_finish(x, fail);
	return 0;
}

/*
 * The per-CPU steps of a commit as global functions: the verifier checks a global function
 * once, on its own, instead of again for every state a caller's loop over the CPUs reaches
 * (which exhausts its budget on the 6.x lines). A global function cannot be handed map
 * pointers, so each one looks the maps up itself; the side effects it decides go to its
 * caller's *fx, which the caller carries out after the unlock.
 */
__noinline int gs_commit_cpu(s32 cpu, s32 caller_cpu, u32 poison, struct fx_out *fx)
{
	struct ctx c = { .fx = fx };

	if (!fx || cpu < 0 || cpu >= GS_MAX_CPUS || !ctx_init(&c))
		return -1;
	return commit_one(&c, cpu, caller_cpu, &fx->local, poison);
}

__noinline int gs_group_cpu(s32 cpu, struct group *g, struct fx_out *fx)
{
	struct ctx c = { .fx = fx };

	if (!g || !fx || cpu < 0 || cpu >= GS_MAX_CPUS || !ctx_init(&c))
		return 0;
	return group_one(&c, cpu, g);
}

static __noinline int group_pass(const u64 *mask, struct group *g, struct fx_out *fx)
{
	u32 k;

	bpf_for(k, 0, GS_MAX_CPUS + 1) {
		s32 cpu = k < GS_MAX_CPUS ? (s32)k : g->caller;

		if (k < GS_MAX_CPUS && cpu == g->caller)
			continue;
		if (!mask_test(mask, cpu))
			continue;
		gs_group_cpu(cpu, g, fx);
	}
	return 0;
}

/* Caller = the agent thread of the CPU it runs on (agents are pinned), else -1. */
static __always_inline s32 caller_agent_cpu(struct ctx *c)
{
	s32 cpu = bpf_get_smp_processor_id();
	s32 tid = (s32)bpf_get_current_pid_tgid();

	if (cpu < 0 || cpu >= GS_MAX_CPUS)
		return -1;
	return READ_ONCE(cpu_rec(c, cpu)->agent_tid) == tid ? cpu : -1;
}

SEC("syscall")
int gs_commit(struct gs_commit_args *a)
{
	CTX_DECLARE(c);
	bool failed = false;
	u64 mask[GS_MASK_WORDS];
	s32 caller;
	u32 k;

	if (!ctx_init(&c)) {
		a->err = -22;
		return 0;
	}
	/* A copy: verifiers before 7.x refuse a variable offset into a program's context. */
	for (int w = 0; w < GS_MASK_WORDS; w++)
		mask[w] = a->mask[w];
	caller = caller_agent_cpu(&c);
	if (a->sync) {
		struct group g = { .caller = caller, .local = -1, .fail_cpu = -1 };

		for (u32 step = G_CLAIM; step <= G_DECIDE; step++) {
			g.step = step;
			group_pass(mask, &g, c.fx);
		}
		ctx_finish(&c);
		a->result = g.fail_cpu < 0;
		a->local_cpu = g.fail_cpu < 0 ? g.local : -1;
		a->err = 0;
		return 0;
	}
	/* Every other CPU first, the caller's own last (a local commit gives up the CPU). */
	bpf_for(k, 0, GS_MAX_CPUS + 1) {
		s32 cpu = k < GS_MAX_CPUS ? (s32)k : caller;

		if (k < GS_MAX_CPUS && cpu == caller)
			continue;
		if (!mask_test(mask, cpu))
			continue;
		/* A remote COMMIT_AT_SCHEDULE txn waits for its CPU's next dispatch. */
		if (cpu != caller && (READ_ONCE(c.cd->cpu[cpu & (GS_MAX_CPUS - 1)].txn.commit_flags) &
				      (GS_COMMIT_AT_SCHEDULE | GS_COMMIT_AT_TXN_COMMIT)) ==
					     GS_COMMIT_AT_SCHEDULE)
			continue;
		if (gs_commit_cpu(cpu, caller, k == GS_MAX_CPUS && failed, c.fx) > 0)
			failed = true;
	}
	ctx_finish(&c);
	a->local_cpu = c.fx->local;
	a->err = 0;
	return 0;
}

/* ---- agents sleeping and waking ---- */

SEC("syscall")
int gs_run(struct gs_run_args *a)
{
	CTX_DECLARE(c);
	s32 cpu = a->cpu, caller;
	struct gs_cpu *cr;
	bool busy = false;
	u32 k;

	a->err = 0;
	if (!ctx_init(&c) || cpu < 0 || cpu >= GS_MAX_CPUS) {
		a->err = -22;
		return 0;
	}
	caller = caller_agent_cpu(&c);
	if (a->op == GS_RUN_CHECK_BUSY && caller == cpu) {
		/*
		 * The agent of cpu, running there (its sleep slice ended): a task of a higher class
		 * waiting here besides it (the agent itself is one) holds the CPU, where nothing
		 * else may have said so: sched_ext had the CPU idle or held by this agent when
		 * that task came, so no ops.cpu_release, and no dispatch runs while it stays (a
		 * task latched here waits unseen). Read without the run queue's lock: a count
		 * caught mid-change says "busy" for one slice at worst, undone by the next
		 * dispatch or run.
		 */
		struct rq *rq = compat_cpu_rq_unlocked(cpu);

		busy = rq && higher_class_count(rq) > 1;
	}
	bpf_spin_lock(&c.st->lock);
	cr = cpu_rec(&c, cpu);
	if (a->op == GS_RUN_CHECK_BUSY) {
		if (caller != cpu || !cr->agent_tid) {
			a->err = -22;
		} else if (busy) {
			c.st->stats.busy_checks++;
			set_avail(&c, cpu, false);
		}
	} else if (a->op == GS_RUN_YIELD) {
		if (caller != cpu || !cr->agent_tid) {
			a->err = -22;
		} else if (sw_word(&c, cr->agent_slot)->barrier != a->agent_barrier) {
			a->err = -116;	/* ESTALE */
		} else {
			cr->waiting = 1;
			cr->rtla_on_idle = (a->run_flags & GS_RTLA_ON_IDLE) != 0;
		}
	} else if (a->op == GS_RUN_PING) {
		if (!cr->agent_tid)
			a->err = -22;
		else
			agent_wake(&c, cpu);
	} else {
		a->err = -22;
	}
	bpf_spin_unlock(&c.st->lock);
	if (a->op == GS_RUN_WAKE_ALL) {
		/* Shutdown: every doorbell rings, whoever sleeps. */
		a->err = 0;
		bpf_for(k, 0, GS_MAX_CPUS)
			mask_set(c.fx->ring, k);
	}
	ctx_finish(&c);
	return 0;
}

/* ---- administration: queues, agents, status words, tunables ---- */

static __always_inline bool queue_live(struct ctx *c, s32 qid)
{
	return qid >= 0 && qid < GS_MAX_QUEUES && c->st->q[qid & (GS_MAX_QUEUES - 1)].live;
}

static __always_inline s32 admin_locked(struct ctx *c, struct gs_admin_args *a, s32 tid,
					s32 hashed_slot)
{
	struct gs_state *st = c->st;
	s32 qid = a->qid, cpu = a->cpu;
	struct gs_cpu *cr = cpu_rec(c, cpu);
	struct gs_task *t;
	u32 slot;

	switch (a->op) {
	case GS_A_QUEUE_CREATE: {
		u32 n = (u32)a->arg;

		if (n < 1 || n > 65536 || (n & (n - 1)))
			return -22;
		if (n < 8)
			n = 8;	/* room for the largest message */
		if (n > GS_QSLOTS)
			n = GS_QSLOTS;
		for (s32 q = 0; q < GS_MAX_QUEUES; q++) {
			struct gs_qctl *qc = &st->q[q];
			struct gs_queue *Q = &c->qs->q[q];

			if (qc->live)
				continue;
			qc->live = 1;
			qc->nelems = n;
			qc->nwake = 0;
			Q->version = 0;
			Q->start = GS_QUEUE_HDR_BYTES;
			Q->head = 0;
			Q->tail = 0;
			Q->overflow = 0;
			WRITE_ONCE(Q->nelems, n);
			a->qid = q;
			a->out = n;
			return 0;
		}
		return -28;	/* ENOSPC */
	}
	case GS_A_QUEUE_DESTROY:
		if (!queue_live(c, qid))
			return -9;	/* EBADF */
		st->q[qid & (GS_MAX_QUEUES - 1)].live = 0;
		if (st->default_qid == qid)
			st->default_qid = -1;
		return 0;
	case GS_A_QUEUE_DEFAULT:
		if (!queue_live(c, qid))
			return -9;
		st->default_qid = qid;
		return 0;
	case GS_A_QUEUE_WAKEUP: {
		struct gs_qctl *qc;

		if (!queue_live(c, qid) || a->n > 2)
			return -22;
		qc = &st->q[qid & (GS_MAX_QUEUES - 1)];
		for (u32 i = 0; i < 2; i++) {
			if (i < a->n && (a->cpus[i] < 0 || a->cpus[i] >= GS_MAX_CPUS ||
					 !cpu_rec(c, a->cpus[i])->in_enclave))
				return -22;
		}
		qc->wake_cpu[0] = a->n > 0 ? a->cpus[0] : -1;
		qc->wake_cpu[1] = a->n > 1 ? a->cpus[1] : -1;
		qc->nwake = a->n;
		return 0;
	}
	case GS_A_QUEUE_ASSOC: {
		u32 status = 0;

		if (!queue_live(c, qid))
			return -9;
		slot = slot_of_gtid(a->arg);
		if (a->arg <= 0 || slot >= GS_MAX_TASKS)
			return -2;
		t = task_rec(c, slot);
		if (t->gtid != (u64)a->arg || t->kind == GS_K_NONE || t->phase == GS_GONE)
			return -2;
		if (sw_word(c, slot)->barrier != a->barrier)
			return -116;
		if (t->kind == GS_K_AGENT) {
			/* An agent's gtid redirects its CPU's messages. */
			struct gs_cpu *ac = cpu_rec(c, t->cpu);

			if (ac->agent_slot == (s32)slot && ac->agent_tid) {
				status = ac->agent_qid == qid ? 1 : 0;
				ac->agent_qid = qid;
			}
			a->out = status;
			return 0;
		}
		if (t->qid == qid)
			status |= 1;	/* GHOST_ASSOC_SF_ALREADY */
		t->qid = qid;
		a->out = status;
		return 0;
	}
	case GS_A_AGENT_ATTACH: {
		s32 s;

		if (cpu < 0 || cpu >= GS_MAX_CPUS || !cr->in_enclave)
			return -19;	/* ENODEV */
		if (cr->agent_tid)
			return -16;	/* EBUSY */
		if (qid >= 0 && !queue_live(c, qid))
			return -9;
		if (qid < 0 && st->default_qid < 0)
			return -6;	/* ENXIO */
		if (hashed_slot >= 0)
			return -17;	/* EEXIST: a ghost task cannot be an agent */
		s = slot_alloc(c);
		if (s < 0)
			return -12;
		t = task_rec(c, s);
		t->gen = (t->gen + 1) & ((1u << GS_GEN_BITS) - 1);
		t->gtid = ((u64)(u32)tid << 41) | ((u64)t->gen << GS_SLOT_BITS) | (u64)(s + 1);
		t->kind = GS_K_AGENT;
		t->phase = GS_QUEUED;
		t->tid = tid;
		t->cpu = cpu;
		t->qid = qid;
		{
			struct gs_sw *w = sw_word(c, s);

			WRITE_ONCE(w->gtid, t->gtid);
			WRITE_ONCE(w->runtime, 0);
			WRITE_ONCE(w->barrier, 0);
			WRITE_ONCE(w->flags, GS_SW_F_ALLOCATED | GS_SW_F_INUSE | GS_SW_TASK_IS_AGENT |
						     GS_SW_TASK_ONCPU | GS_SW_TASK_RUNNABLE |
						     (cr->unavail ? GS_SW_BOOST_PRIO : GS_SW_CPU_AVAIL));
		}
		cr->agent_slot = s;
		cr->agent_qid = qid;
		cr->waiting = 0;
		cr->rtla_on_idle = 0;
		WRITE_ONCE(cr->agent_tid, tid);
		a->out = t->gtid;
		return 0;
	}
	case GS_A_AGENT_DETACH:
		if (cpu < 0 || cpu >= GS_MAX_CPUS || !cr->agent_tid)
			return -22;
		unlatch(c, cpu, true);
		slot_release(c, cr->agent_slot);
		WRITE_ONCE(cr->agent_tid, 0);
		cr->agent_slot = -1;
		cr->waiting = 0;
		return 0;
	case GS_A_SW_INFO:
		if (a->n == 0) {	/* GHOST_AGENT: arg = cpu */
			s32 acpu = (s32)a->arg;

			if (acpu < 0 || acpu >= GS_MAX_CPUS || !cpu_rec(c, acpu)->agent_tid)
				return -2;
			a->out = cpu_rec(c, acpu)->agent_slot;
			return 0;
		}
		slot = slot_of_gtid(a->arg);
		if (a->arg <= 0 || slot >= GS_MAX_TASKS)
			return -2;
		t = task_rec(c, slot);
		if (t->gtid != (u64)a->arg || t->kind == GS_K_NONE)
			return -2;
		a->out = slot;
		return 0;
	case GS_A_SW_FREE: {
		u32 f;

		if (a->arg < 0 || a->arg >= GS_MAX_TASKS)
			return -2;
		slot = (u32)a->arg;
		f = sw_word(c, slot)->flags;
		if (!(f & GS_SW_F_INUSE))
			return -114;	/* EALREADY */
		if (!(f & GS_SW_F_CANFREE) || task_rec(c, slot)->phase != GS_GONE)
			return -22;
		slot_release(c, slot);
		return 0;
	}
	case GS_A_GTID_OF:
		if (hashed_slot < 0)
			return -2;
		t = task_rec(c, hashed_slot);
		if (t->tid != (s32)a->arg || t->kind != GS_K_TASK || t->phase == GS_GONE)
			return -2;
		a->out = t->gtid;
		return 0;
	case GS_A_TUNE:
		st->tun = a->tun;
		return 0;
	default:
		return -22;
	}
}

SEC("syscall")
int gs_admin(struct gs_admin_args *a)
{
	CTX_DECLARE(c);
	s32 tid = (s32)bpf_get_current_pid_tgid();
	s32 key = a->op == GS_A_GTID_OF ? (s32)a->arg : tid;
	u32 *hs = bpf_map_lookup_elem(&g_tid2slot, &key);
	s32 hashed = hs ? (s32)(*hs & (GS_MAX_TASKS - 1)) : -1;

	if (!ctx_init(&c)) {
		a->err = -22;
		return 0;
	}
	/* What the loader shows in the status file: constant, known at load time. */
	WRITE_ONCE(c.st->immed, compat_enq_immed() != 0);
	if (a->op == GS_A_EXIT) {
		unsigned long long data[1] = { bpf_get_current_pid_tgid() >> 32 };
		static char fmt[] = "enclave destroyed by process %llu";

		scx_bpf_exit_bstr(0, fmt, data, sizeof(data));
		a->err = 0;
		return 0;
	}
	if (a->op == GS_A_TASKS) {
		/*
		 * A listing for the "tasks" file: read without the lock, a snapshot is enough.
		 * At most 16 per call (the loader calls again from a->out): they are gathered on
		 * the stack and stored at constant offsets, as verifiers before 7.x refuse a
		 * variable offset into a program's context, and 64 would not fit the stack.
		 */
		u32 i, n = 0;
		s32 tids[16] = {};

		a->out = GS_MAX_TASKS;
		bpf_for(i, 0, GS_MAX_TASKS) {
			struct gs_task *t;

			if (i < (u32)a->arg)
				continue;
			t = task_rec(&c, i);
			if (t->kind != GS_K_TASK || t->phase == GS_GONE)
				continue;
			if (n >= 16) {
				a->out = i;
				break;
			}
			tids[n & 15] = t->tid;
			n++;
		}
		for (int j = 0; j < 16; j++)
			a->tids[j] = tids[j];
		a->n = n;
		a->err = 0;
		return 0;
	}
	bpf_spin_lock(&c.st->lock);
	a->err = admin_locked(&c, a, tid, hashed);
	bpf_spin_unlock(&c.st->lock);
	ctx_finish(&c);
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops ghost_ops = {
	.select_cpu = (void *)gs_select_cpu,
	.enqueue = (void *)gs_enqueue,
	.dispatch = (void *)gs_dispatch,
	.running = (void *)gs_running,
	.stopping = (void *)gs_stopping,
	.quiescent = (void *)gs_quiescent,
	.yield = (void *)gs_yield,
	.set_weight = (void *)gs_set_weight,
	.set_cpumask = (void *)gs_set_cpumask,
	.enable = (void *)gs_enable,
	.disable = (void *)gs_disable,
	.tick = (void *)gs_tick,
	.cpu_release = (void *)gs_cpu_release,
	.cpu_acquire = (void *)gs_cpu_acquire,
	.exit = (void *)gs_exit,
	/* Only SCHED_EXT tasks; a task whose slice ends with nothing else to run still goes
	 * through enqueue (ENQ_LAST) instead of silently running on. */
	.flags = SCX_OPS_SWITCH_PARTIAL | SCX_OPS_ENQ_LAST,
	.timeout_ms = 30000,
	.name = "ghost",
};
