/*
 * kernels/scx/ghost_scx.h - what the sched_ext BPF scheduler (ghost.bpf.c) and its loader
 * (scx.c) share: limits, the layouts of the BPF maps, and the arguments of the SEC("syscall")
 * programs the loader runs.
 *
 * Included by BPF code (against vmlinux.h) and by user code (against <linux/types.h>), so it
 * uses only the __u32/__u64 family and defines no functions. The ABI structs that live in
 * shared memory (status words, txns, queue headers, message payloads) are mirrored here with
 * the same field types; scx.c asserts at compile time that every mirrored size and offset
 * equals include/ghost/abi.h, so the two can never drift apart silently.
 *
 * Must never hold policy: these are the kernel side's own records.
 */
#ifndef GHOST_SCX_H
#define GHOST_SCX_H

/* ---- limits (compile-time: BPF maps are sized when the object is built) ---- */

#define GS_MAX_CPUS   256 /* CPU ids the enclave may use: 0..255 */
#define GS_MASK_WORDS (GS_MAX_CPUS / 64)
#define GS_MAX_TASKS  4096 /* status words = task and agent slots */
#define GS_MAX_QUEUES 16
#define GS_QSLOTS     4096 /* the largest ring (power of 2) */
#define GS_QSLACK     16   /* spare u32s after the ring: bounds slack for the verifier */
#define GS_BELL_BYTES 4096 /* one doorbell ring buffer per CPU */
#define GS_GEN_BITS   25   /* gtid = tid << 41 | gen << 16 | (slot + 1) */
#define GS_SLOT_BITS  16

/* Mirrors of ABI constants the BPF side needs (asserted equal in scx.c). */
#define GS_ABI_VERSION	   91
#define GS_TXN_READY	   0x7fffffff
#define GS_TXN_COMPLETE	   (-0x7fffffff - 1)
#define GS_SW_HDR_BYTES	   64
#define GS_QUEUE_HDR_BYTES 64

/* ---- shared-memory layouts (mmapable maps) ---- */

struct gs_sw { /* struct ghost_status_word */
	__u32 barrier;
	__u32 flags;
	__u64 gtid;
	__s64 switch_time;
	__u64 runtime;
};

struct gs_sw_region { /* the whole status-word region, ABI layout */
	__u32 version, id, numa_node, start, capacity, available;
	__u32 hdr_pad[10];
	struct gs_sw words[GS_MAX_TASKS];
};

struct gs_txn { /* struct ghost_txn */
	__s32 version;
	__s32 cpu;
	__s32 state;
	__u32 agent_barrier;
	__u32 task_barrier;
	__u16 run_flags;
	__u8 commit_flags;
	__u8 unused;
	__s64 gtid;
	__s64 commit_time;
	__u64 cpu_seqnum;
	__s32 sync_group_owner;
	__u32 pad[3];
};

struct gs_cpu_data { /* struct ghost_cpu_data: one page per CPU */
	struct gs_txn txn;
	__u8 pad[4096 - sizeof(struct gs_txn)];
};

/*
 * One queue: struct ghost_queue_header, then struct ghost_ring (head, tail, overflow) with
 * its 8-byte slots at byte 76 of the element. The slots are declared as u32 pairs because
 * 76 is 4 mod 8: the BPF producer only ever stores 32-bit words.
 */
struct gs_queue {
	__u32 version, start, nelems;
	__u32 hdr_pad[13];
	__u32 head, tail, overflow;
	__u32 slots[2 * GS_QSLOTS + GS_QSLACK];
	__u32 page_pad[(4096 - ((GS_QUEUE_HDR_BYTES + 12 + 4 * GS_QSLACK) % 4096)) / 4];
};

/* Message types, flags and special values (each asserted equal to abi.h in scx.c). */
#define GS_MSG_NOP		     0
#define GS_MSG_TASK_DEAD	     64
#define GS_MSG_TASK_BLOCKED	     65
#define GS_MSG_TASK_WAKEUP	     66
#define GS_MSG_TASK_NEW		     67
#define GS_MSG_TASK_PREEMPT	     68
#define GS_MSG_TASK_YIELD	     69
#define GS_MSG_TASK_DEPARTED	     70
#define GS_MSG_TASK_AFFINITY_CHANGED 72
#define GS_MSG_TASK_ON_CPU	     73
#define GS_MSG_TASK_PRIORITY_CHANGED 74
#define GS_MSG_CPU_TICK		     128
#define GS_MSG_CPU_AVAILABLE	     131
#define GS_MSG_CPU_BUSY		     132

#define GS_SW_F_INUSE	    (1u << 0)
#define GS_SW_F_CANFREE	    (1u << 1)
#define GS_SW_F_ALLOCATED   (1u << 2)
#define GS_SW_CPU_AVAIL	    (1u << 8)
#define GS_SW_BOOST_PRIO    (1u << 9)
#define GS_SW_TASK_ONCPU    (1u << 16)
#define GS_SW_TASK_RUNNABLE (1u << 17)
#define GS_SW_TASK_IS_AGENT (1u << 18)

#define GS_COMMIT_AT_SCHEDULE		(1u << 0)
#define GS_COMMIT_AT_TXN_COMMIT		(1u << 1)
#define GS_ALLOW_TASK_ONCPU		(1u << 2)
#define GS_ELIDE_AGENT_BARRIER_INC	(1u << 3)
#define GS_INC_AGENT_BARRIER_ON_FAILURE (1u << 4)

#define GS_RTLA_ON_IDLE	     (1u << 5)
#define GS_NEED_CPU_NOT_IDLE (1u << 7)
#define GS_SEND_TASK_ON_CPU  (1u << 10)
#define GS_DO_NOT_PREEMPT    (1u << 12)
#define GS_RUN_FLAGS_VALID \
	0x1ee7u /* RTLA_ON_*, NEED_*, ELIDE_PREEMPT, SEND_*, DEFER_*, DO_NOT_PREEMPT */

#define GS_AGENT_GTID (-1)
#define GS_IDLE_GTID  (-2)

/* Txn failure states: GS_TXN_COMPLETE + n, in the order of enum ghost_txn_state. */
enum gs_txn_fail {
	GS_F_ABORTED = 1,
	GS_F_TARGET_ONCPU,
	GS_F_TARGET_STALE,
	GS_F_TARGET_NOT_FOUND,
	GS_F_TARGET_NOT_RUNNABLE,
	GS_F_AGENT_STALE,
	GS_F_CPU_OFFLINE,
	GS_F_CPU_UNAVAIL,
	GS_F_INVALID_FLAGS,
	GS_F_INVALID_TARGET,
	GS_F_NOT_PERMITTED,
	GS_F_INVALID_CPU,
	GS_F_NO_AGENT,
	GS_F_UNSUPPORTED_VERSION,
	GS_F_POISONED,
};

/* Message payloads, ABI 91 layouts. */
struct gs_p_task_new {
	__u64 gtid, parent_gtid, runtime;
	__u16 runnable;
	__u16 pad0;
	__s32 nice;
	__u32 sw_id, sw_index;
	__u64 agent_data;
};
struct gs_p_task_preempt { /* also TASK_YIELD: the same fields up to cpu */
	__u64 gtid, runtime, cpu_seqnum, agent_data;
	__s32 cpu;
	__s8 from_switchto, was_latched;
	__u8 pad[2];
};
struct gs_p_task_blocked {
	__u64 gtid, runtime, cpu_seqnum;
	__s32 cpu;
	__s8 from_switchto;
	__u8 pad[3];
};
struct gs_p_task_dead {
	__u64 gtid;
	__s32 cpu;
	__u32 pad;
};
struct gs_p_task_departed {
	__u64 gtid, cpu_seqnum;
	__s32 cpu;
	__s8 from_switchto, was_current;
	__u8 pad[2];
};
struct gs_p_task_affinity {
	__u64 gtid;
};
struct gs_p_task_priority {
	__u64 gtid;
	__s32 nice;
	__u32 pad;
};
struct gs_p_task_wakeup {
	__u64 gtid, agent_data;
	__s8 deferrable;
	__u8 pad[3];
	__s32 last_ran_cpu, wake_up_cpu, waker_cpu;
};
struct gs_p_task_on_cpu {
	__u64 gtid, commit_time, cpu_seqnum;
	__s32 cpu;
	__u32 pad;
};
struct gs_p_cpu_tick {
	__s32 cpu, is_agent;
};
struct gs_p_cpu { /* CPU_AVAILABLE, CPU_BUSY */
	__s32 cpu;
};

/* ---- the kernel side's private state (one map value, one lock) ---- */

enum gs_phase { /* where a task is, as far as the agent has been told */
		GS_FREE = 0,
		GS_NEW,		 /* entered; TASK_NEW not sent yet */
		GS_BLOCKED,	 /* sleeping (TASK_NEW runnable 0, or TASK_BLOCKED sent) */
		GS_QUEUED,	 /* runnable, held by the scheduler, waiting for a commit */
		GS_LATCHED,	 /* committed to latch_cpu, waiting for its dispatch */
		GS_DISPATCHED,	 /* inserted into latch_cpu's local queue */
		GS_ONCPU,	 /* running after a commit */
		GS_OFF_RUNNABLE, /* stopped, still runnable: PREEMPT/YIELD comes with enqueue */
		GS_OFF_SLEEPING, /* stopped, not runnable: BLOCKED comes with quiescent */
		GS_CHANGE_ONCPU, /* running task taken off its queue for a property change */
		GS_CHANGE_HELD,	 /* held task taken off for a property change */
		GS_GONE,	 /* dead or departed; the word waits for SW_FREE */
};

enum gs_kind { GS_K_NONE = 0, GS_K_TASK, GS_K_AGENT };

#define GS_TF_YIELDING	(1u << 0) /* sched_yield: the next stop is a YIELD */
#define GS_TF_FORCE_OFF (1u << 1) /* preempt it as soon as it runs (ghOSt semantics) */
#define GS_TF_ONCPU	(1u << 2) /* the kernel has it on a CPU (running..stopping) */
#define GS_TF_UNMANAGED (1u << 3) /* no slot: runs in the global queue */
#define GS_TF_DEAD	(1u << 4) /* GONE by death (else departed) */

struct gs_task {
	__u64 gtid;
	__u64 parent_gtid;
	__u64 mask[GS_MASK_WORDS]; /* allowed CPUs, as last reported */
	__u64 qseq;	 /* QUEUED..DISPATCHED: the kernel's sequence of this stay (ghost.bpf.c) */
	__u64 task_addr; /* the task_struct's address: which task owns the slot (gs_disable) */
	__s32 tid;
	__u32 gen;
	__u16 kind;
	__u16 phase;
	__u32 flags; /* GS_TF_* */
	__s32 qid;
	__s32 nice;
	__s32 cpu;	 /* last CPU it ran on */
	__s32 latch_cpu; /* LATCHED/DISPATCHED: where */
	__s32 waker_cpu;
	__u32 pad;
};

struct gs_cpu {
	__u64 cpu_seqnum;
	__u64 latch_gtid; /* committed, not yet dispatched (0 = none) */
	__s32 latch_slot; /* slot of latch_gtid, -1 = none */
	__u16 latch_run_flags;
	__u16 run_flags; /* of the task now running */
	__s32 cur_slot;	 /* ghost task on this CPU (running..stopping), -1 */
	__s32 agent_tid; /* 0 = no agent */
	__s32 agent_slot;
	__s32 agent_qid; /* -1 = the default queue */
	__u32 waiting;	 /* agent sleeps on its doorbell */
	__u32 rtla_on_idle;
	__u32 unavail; /* a higher class took the CPU */
	__u32 in_enclave;
	__u32 latch_pending; /* latched by a sync group not yet decided: not dispatched */
	__s32 handing_back;  /* the task gs_cpu_release hands back right now, 0 = none */
	__u32 pad;
};

struct gs_qctl {
	__u32 live;
	__u32 nelems;
	__u32 nwake;
	__s32 wake_cpu[2];
	__u32 pad;
};

struct gs_tunables {
	__u32 deliver_ticks;
	__u32 deliver_cpu_availability;
	__u32 wake_on_waker_cpu;
	__u32 pad;
};

struct gs_stats {
	__u64 msgs[16]; /* by type: task types 64.. at [type - 64], CPU 128.. at [8 + type - 128] */
	__u64 dropped;	/* no queue, or the ring was full */
	__u64 commits, commit_fails, dispatches, dispatch_skips, unmanaged;
	__u64 cpu_releases;    /* a higher class took a CPU (ops.cpu_release) */
	__u64 handed_back;     /* tasks it handed back then (kernels without SCX_ENQ_IMMED) */
	__u64 busy_dispatches; /* dispatches that found a higher class queued on their CPU */
	__u64 busy_checks;     /* sleeping agents that found one on theirs (GS_RUN_CHECK_BUSY) */
};

struct gs_state {
	struct bpf_spin_lock lock;
	__u32 nr_cpus;	   /* possible CPUs */
	__s32 default_qid; /* -1 until set */
	__u32 nfree;
	__u32 owner_tgid;
	__u32 immed; /* the kernel has SCX_ENQ_IMMED (set by every gs_admin call) */
	__u32 pad;
	struct gs_tunables tun;
	struct gs_stats stats;
	__u16 free_slots[GS_MAX_TASKS];
	struct gs_cpu cpus[GS_MAX_CPUS];
	struct gs_qctl q[GS_MAX_QUEUES];
	struct gs_task tasks[GS_MAX_TASKS];
};

/* Why the BPF side stopped (copied from struct scx_exit_info in ops.exit). */
struct gs_exit {
	__s32 kind; /* enum scx_exit_kind, 0 = still running */
	__s32 exit_cpu;
	__s64 exit_code;
	char reason[128];
	char msg[1024];
};

/* ---- SEC("syscall") program arguments ---- */

struct gs_commit_args {
	__u64 mask[GS_MASK_WORDS]; /* in: CPUs whose READY txns to commit */
	__u32 sync;		   /* in: a sync group (all or nothing) */
	__s32 local_cpu;	   /* out: the caller committed its own CPU and must sleep */
	__s32 err;		   /* out: negative errno */
	__s32 result;		   /* out, sync: 1 = all committed, 0 = none */
};

enum gs_run_op {
	GS_RUN_YIELD = 1,
	GS_RUN_PING,
	GS_RUN_WAKE_ALL,
	GS_RUN_CHECK_BUSY, /* the agent of cpu, woken by its sleep slice: is a higher class waiting? */
};

struct gs_run_args {
	__u32 op;
	__s32 cpu;
	__u32 agent_barrier;
	__u32 run_flags;
	__s32 err; /* out */
	__u32 pad;
};

enum gs_admin_op {
	GS_A_QUEUE_CREATE = 1, /* arg0 = elems; out qid, nelems */
	GS_A_QUEUE_DESTROY,    /* qid */
	GS_A_QUEUE_DEFAULT,    /* qid */
	GS_A_QUEUE_WAKEUP,     /* qid, n, cpus[0..1] */
	GS_A_QUEUE_ASSOC,      /* qid, gtid, barrier; out status */
	GS_A_AGENT_ATTACH,     /* cpu, qid (caller = the agent thread) */
	GS_A_AGENT_DETACH,     /* cpu */
	GS_A_SW_INFO,	       /* type 0 agent (cpu) / 1 task (gtid); out index */
	GS_A_SW_FREE,	       /* index */
	GS_A_GTID_OF,	       /* tid; out gtid */
	GS_A_TUNE,	       /* tunables */
	GS_A_EXIT,	       /* ask the scheduler to unload */
	GS_A_TASKS,	       /* out: up to 64 tids from slot arg0 on */
};

struct gs_admin_args {
	__u32 op;
	__s32 err; /* out: negative errno */
	__s32 qid;
	__s32 cpu;
	__s64 arg; /* gtid, elems, tid, index, type, start slot */
	__u32 barrier;
	__u32 n;
	__s32 cpus[2];
	__u64 out; /* gtid, status, index */
	__u64 out2;
	__u64 mask[GS_MASK_WORDS];
	struct gs_tunables tun;
	__s32 tids[64];
};

#endif
