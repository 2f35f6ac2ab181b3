/*
 * include/ghost/abi.h - the ghOSt kernel/user ABI, version 91.
 *
 * Binary-compatible with the real ghOSt kernel on x86-64 (LP64): every struct here is shared
 * with the kernel through ioctls, mmap'ed regions or BPF contexts, so names, types and layouts
 * follow the kernel's own header. This file holds only types, constants and pure helpers, no
 * code with side effects.
 *
 * Never change a layout: every size, offset and ioctl number is asserted at the bottom, so an
 * accidental change fails the build of anything that includes this header.
 */
#ifndef GHOST_ABI_H
#define GHOST_ABI_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/ioctl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Only pointers to it appear here; <time.h> defines it for users that need the body. */
struct itimerspec;

/* ---- General ------------------------------------------------------------------------------ */

#define GHOST_VERSION 91

/* Policy number; only reachable through ghostfs (a direct sched_setscheduler fails EBADF). */
#define SCHED_GHOST 18

#define GHOST_MAX_WINFO		2     /* wakeup targets per queue */
#define GHOST_MAX_QUEUE_ELEMS	65536 /* ring slots, power of 2 */
#define GHOST_QUEUE_VERSION	0
#define GHOST_SW_REGION_VERSION 0
#define GHOST_TXN_VERSION	0 /* the kernel rejects any other value */

#define TIMERFD_GHOST_ENABLED (1 << 0)

/* gtid = (tid << GHOST_GTID_SEQ_BITS) | seq, with seq != 0, so real gtids are always > 0. */
#define GHOST_GTID_PID_BITS 22
#define GHOST_GTID_SEQ_BITS 41

/* One status-word region: a 64-byte header followed by 32-byte words. */
#define GHOST_SW_REGION_SIZE	 2097152
#define GHOST_SW_REGION_CAPACITY 65534

/* cpu_data holds one page per possible cpu, with that cpu's txn at offset 0. */
#define GHOST_CPU_DATA_SIZE 4096

#define GHOSTFS_MAGIC 0xBAD1DEA2U

enum ghost_type {
	GHOST_AGENT = 0,
	GHOST_TASK = 1,
};

/* ---- 3.1 Small identifier structs --------------------------------------------------------- */

struct ghost_agent_wakeup {
	int cpu;
	int prio; /* must be 0 */
};

struct ghost_msg_src {
	enum ghost_type type;
	uint64_t arg; /* cpu for GHOST_AGENT, gtid for GHOST_TASK */
};

struct ghost_sw_info {
	uint32_t id;	/* status-word region id */
	uint32_t index; /* word index inside that region */
};

struct timerfd_ghost {
	int cpu;
	int flags;	 /* TIMERFD_GHOST_ENABLED */
	uint64_t type;	 /* opaque, echoed back in MSG_CPU_TIMER_EXPIRED */
	uint64_t cookie; /* opaque, echoed back in MSG_CPU_TIMER_EXPIRED */
};

/* ---- 3.2 ioctl argument structs ----------------------------------------------------------- */

struct ghost_ioc_sw_get_info {
	struct ghost_msg_src request;  /* in */
	struct ghost_sw_info response; /* out */
};

struct ghost_ioc_create_queue {
	int elems;	  /* in: power of 2, 1..GHOST_MAX_QUEUE_ELEMS */
	int node;	  /* in: online NUMA node */
	int flags;	  /* in: must be 0 */
	uint64_t mapsize; /* out: bytes to mmap */
};

struct ghost_ioc_assoc_queue {
	int fd;			  /* queue fd */
	struct ghost_msg_src src; /* src.type must be GHOST_TASK */
	uint32_t barrier;	  /* the source's current barrier, else ESTALE */
	int flags;		  /* must be 0 */
};

struct ghost_ioc_set_default_queue {
	int fd;
};

struct ghost_ioc_config_queue_wakeup {
	int qfd;
	struct ghost_agent_wakeup *w; /* array of ninfo entries */
	int ninfo;		      /* 0..GHOST_MAX_WINFO; 0 = nobody is woken */
	int flags;		      /* must be 0 */
};

struct ghost_ioc_get_cpu_time {
	int64_t gtid;	  /* in */
	uint64_t runtime; /* out: ns */
};

/* Used by both GHOST_IOC_COMMIT_TXN and GHOST_IOC_SYNC_GROUP_TXN. */
struct ghost_ioc_commit_txn {
	void *mask_ptr;	   /* cpu_set_t *; void * keeps <sched.h> optional */
	uint32_t mask_len; /* bytes at mask_ptr */
	int flags;	   /* must be 0 */
};

struct ghost_ioc_timerfd_settime {
	int timerfd;
	int flags; /* timerfd_settime(2) flags */
	struct itimerspec *in_tmr;
	struct itimerspec *out_tmr; /* may be NULL */
	struct timerfd_ghost timerfd_ghost;
};

struct ghost_ioc_run {
	int64_t gtid; /* GHOST_NULL_GTID = local yield, GHOST_AGENT_GTID = ping */
	uint32_t agent_barrier;
	uint32_t task_barrier; /* not used by the kernel */
	int run_cpu;
	int run_flags; /* only RTLA_ON_IDLE is accepted */
};

/* ---- 3.3 Status words --------------------------------------------------------------------- */

struct ghost_sw_region_header {
	uint32_t version; /* GHOST_SW_REGION_VERSION */
	uint32_t id;
	uint32_t numa_node;
	uint32_t start;	    /* byte offset of the first word (64) */
	uint32_t capacity;  /* number of words */
	uint32_t available; /* free words */
} __attribute__((__aligned__(64)));

/* 32-byte aligned so that two words share a cache line and none straddles one. */
struct ghost_status_word {
	uint32_t barrier; /* task barrier, or the agent barrier for an agent */
	uint32_t flags;	  /* GHOST_SW_* */
	uint64_t gtid;
	int64_t switch_time; /* ns, CLOCK_MONOTONIC, last switch onto a cpu */
	uint64_t runtime;    /* ns of cpu time */
} __attribute__((__aligned__(32)));

/* ---- 3.4 Message queue -------------------------------------------------------------------- */

struct ghost_queue_header {
	uint32_t version; /* GHOST_QUEUE_VERSION */
	uint32_t start;	  /* byte offset of the ring from this header (64) */
	uint32_t nelems;  /* slot count, power of 2 */
} __attribute__((__aligned__(64)));

/*
 * One 8-byte slot. A message spans ghost_msg_slots(length) contiguous slots and its payload
 * starts in the next slot. In the ring, slots sit at addresses that are 4 mod 8, so 64-bit
 * payload fields are only 4-byte aligned: copy payloads out before reading them.
 */
struct ghost_msg {
	uint16_t type;	 /* MSG_* */
	uint16_t length; /* header + payload bytes, not rounded up */
	uint32_t seqnum; /* the source's barrier after this message */
	uint32_t payload[0];
};

/*
 * Indices are free-running slot counters shared with the kernel. They are plain integers (not
 * volatile or _Atomic) so that the layout is obvious; access them with __atomic builtins:
 * head is loaded with acquire, tail is stored with release by the single consumer.
 */
struct ghost_ring {
	uint32_t head;		  /* producer index */
	uint32_t tail;		  /* consumer index */
	uint32_t overflow;	  /* messages dropped because the ring was full */
	struct ghost_msg msgs[0]; /* nelems slots */
};

/* ---- 3.5 Transactions --------------------------------------------------------------------- */

/*
 * Failure codes count up from INT_MIN so that "committed" is simply state < 0. What makes the
 * kernel return each one and what a policy should do about it: the table in ghost/txn.h (and
 * docs/policies.md).
 */
enum ghost_txn_state {
	GHOST_TXN_COMPLETE = INT_MIN,
	GHOST_TXN_ABORTED,
	GHOST_TXN_TARGET_ONCPU,
	GHOST_TXN_TARGET_STALE,
	GHOST_TXN_TARGET_NOT_FOUND,
	GHOST_TXN_TARGET_NOT_RUNNABLE,
	GHOST_TXN_AGENT_STALE,
	GHOST_TXN_CPU_OFFLINE,
	GHOST_TXN_CPU_UNAVAIL,
	GHOST_TXN_INVALID_FLAGS,
	GHOST_TXN_INVALID_TARGET,
	GHOST_TXN_NOT_PERMITTED,
	GHOST_TXN_INVALID_CPU,
	GHOST_TXN_NO_AGENT,
	GHOST_TXN_UNSUPPORTED_VERSION,
	GHOST_TXN_POISONED,
	/* 0 .. nr_cpu_ids - 1: claimed by the kernel running on that cpu */
	GHOST_TXN_READY = INT_MAX,
};

/* One cache line: the agent writes it, then the kernel claims it with a CAS on state. */
struct ghost_txn {
	int32_t version; /* GHOST_TXN_VERSION */
	int32_t cpu;	 /* target cpu; read-only after init */
	int32_t state;	 /* enum ghost_txn_state or a claiming cpu; atomic */
	uint32_t agent_barrier;
	uint32_t task_barrier;
	uint16_t run_flags;
	uint8_t commit_flags;
	uint8_t unused;
	int64_t gtid;	     /* target task or a special gtid */
	int64_t commit_time; /* ns when the commit finished, ok or not */
	uint64_t cpu_seqnum; /* out: cpu sequence number of this commit */
	union {
		int32_t sync_group_owner; /* atomic; -1 = not owned */
	} u;
} __attribute__((__aligned__(64)));

/* One page per cpu, so each cpu's txn lives alone in its page of the cpu_data mapping. */
struct ghost_cpu_data {
	struct ghost_txn txn;
} __attribute__((__aligned__(4096)));

/* ---- 3.6 Message payloads (ABI 91) -------------------------------------------------------- */

/*
 * Every task payload starts with the gtid (u64 at offset 0) and every cpu payload with the cpu
 * (int at offset 0); dispatch code relies on that.
 */

struct ghost_msg_payload_task_new {
	uint64_t gtid;
	uint64_t parent_gtid;
	uint64_t runtime;
	uint16_t runnable;
	int nice;
	struct ghost_sw_info sw_info;
	uint64_t agent_data; /* ABI 88+ */
};

struct ghost_msg_payload_task_preempt {
	uint64_t gtid;
	uint64_t runtime;
	uint64_t cpu_seqnum;
	uint64_t agent_data;
	int cpu;
	char from_switchto;
	char was_latched; /* latched, then replaced before it ever ran */
};

struct ghost_msg_payload_task_yield {
	uint64_t gtid;
	uint64_t runtime;
	uint64_t cpu_seqnum;
	uint64_t agent_data;
	int cpu;
	char from_switchto;
};

struct ghost_msg_payload_task_blocked {
	uint64_t gtid;
	uint64_t runtime;
	uint64_t cpu_seqnum;
	int cpu;
	char from_switchto;
};

struct ghost_msg_payload_task_dead {
	uint64_t gtid;
	int cpu; /* ABI 89+ */
};

struct ghost_msg_payload_task_departed {
	uint64_t gtid;
	uint64_t cpu_seqnum;
	int cpu;
	char from_switchto;
	char was_current;
};

struct ghost_msg_payload_task_affinity_changed {
	uint64_t gtid;
};

struct ghost_msg_payload_task_priority_changed {
	uint64_t gtid;
	int nice;
};

struct ghost_msg_payload_task_wakeup {
	uint64_t gtid;
	uint64_t agent_data;
	char deferrable;
	int last_ran_cpu;
	int wake_up_cpu;
	int waker_cpu;
};

struct ghost_msg_payload_task_switchto {
	uint64_t gtid;
	uint64_t runtime;
	uint64_t cpu_seqnum;
	int cpu;
};

struct ghost_msg_payload_task_on_cpu {
	uint64_t gtid;
	uint64_t commit_time;
	uint64_t cpu_seqnum;
	int cpu;
};

/*
 * The kernel calls the int at offset 8 "errno", which the <errno.h> macro would rewrite; it is
 * renamed "err" here with the same type and offset.
 */
struct ghost_msg_payload_task_latch_failure {
	uint64_t gtid;
	int err;
};

struct ghost_msg_payload_cpu_not_idle {
	int cpu;
	uint64_t next_gtid;
};

struct ghost_msg_payload_cpu_tick {
	int cpu;
	int is_agent; /* ABI 90+: the tick landed on the agent */
};

struct ghost_msg_payload_timer {
	int cpu;
	uint64_t type;	 /* from timerfd_ghost.type */
	uint64_t cookie; /* from timerfd_ghost.cookie */
};

struct ghost_msg_payload_cpu_available {
	int cpu;
};

struct ghost_msg_payload_cpu_busy {
	int cpu;
};

struct ghost_msg_payload_agent_blocked {
	int cpu;
};

struct ghost_msg_payload_agent_wakeup {
	int cpu;
};

/* ---- 3.8 BPF context structs -------------------------------------------------------------- */

/* The union member names are this port's choice; only the union's size is ABI. */
struct bpf_ghost_msg {
	union {
		struct ghost_msg_payload_task_dead dead;
		struct ghost_msg_payload_task_blocked blocked;
		struct ghost_msg_payload_task_wakeup wakeup;
		struct ghost_msg_payload_task_new newt;
		struct ghost_msg_payload_task_preempt preempt;
		struct ghost_msg_payload_task_yield yield;
		struct ghost_msg_payload_task_departed departed;
		struct ghost_msg_payload_task_switchto switchto;
		struct ghost_msg_payload_task_affinity_changed affinity;
		struct ghost_msg_payload_task_on_cpu on_cpu;
		struct ghost_msg_payload_task_priority_changed priority;
		struct ghost_msg_payload_task_latch_failure latch_failure;
		struct ghost_msg_payload_cpu_tick cpu_tick;
		struct ghost_msg_payload_timer timer;
		struct ghost_msg_payload_cpu_not_idle cpu_not_idle;
		struct ghost_msg_payload_cpu_available cpu_available;
		struct ghost_msg_payload_cpu_busy cpu_busy;
		struct ghost_msg_payload_agent_blocked agent_blocked;
		struct ghost_msg_payload_agent_wakeup agent_wakeup;
	};
	uint16_t type;
	uint32_t seqnum;
	int pref_cpu; /* a cpu, or BPF_GHOST_MSG_* */
};

struct bpf_ghost_sched {
	uint8_t agent_on_rq;
	uint8_t agent_runnable;
	uint8_t might_yield;
	uint8_t dont_idle;
	uint8_t must_resched;
	uint64_t next_gtid;
};

struct bpf_ghost_select_rq {
	uint64_t gtid;
	uint32_t task_cpu;
	uint32_t waker_cpu;
	uint32_t sd_flag;
	uint32_t wake_flags;
	uint8_t skip_ttwu_queue;
};

struct bpf_ghost_halt_poll {
	uint32_t type;
};

#define BPF_SYNC_COMMIT_MAX_CPUS 2

/* Unused slots have cpu -1. */
struct bpf_sync_commit_args {
	int cpus[BPF_SYNC_COMMIT_MAX_CPUS];
	uint64_t gtids[BPF_SYNC_COMMIT_MAX_CPUS];
	uint32_t task_barriers[BPF_SYNC_COMMIT_MAX_CPUS];
	int run_flags[BPF_SYNC_COMMIT_MAX_CPUS];
	int commit_flags[BPF_SYNC_COMMIT_MAX_CPUS];
};

/* ---- 4.2 Message types -------------------------------------------------------------------- */

#define MSG_NOP 0 /* ring filler up to the end of the ring */

#define _MSG_TASK_FIRST		  64
#define MSG_TASK_DEAD		  64
#define MSG_TASK_BLOCKED	  65
#define MSG_TASK_WAKEUP		  66
#define MSG_TASK_NEW		  67
#define MSG_TASK_PREEMPT	  68
#define MSG_TASK_YIELD		  69
#define MSG_TASK_DEPARTED	  70
#define MSG_TASK_SWITCHTO	  71
#define MSG_TASK_AFFINITY_CHANGED 72
#define MSG_TASK_ON_CPU		  73 /* MSG_TASK_LATCHED before ABI 78 */
#define MSG_TASK_PRIORITY_CHANGED 74
#define MSG_TASK_LATCH_FAILURE	  75 /* BPF only */
#define _MSG_TASK_LAST		  127

#define _MSG_CPU_FIRST	      128
#define MSG_CPU_TICK	      128
#define MSG_CPU_TIMER_EXPIRED 129
#define MSG_CPU_NOT_IDLE      130
#define MSG_CPU_AVAILABLE     131
#define MSG_CPU_BUSY	      132
#define MSG_CPU_AGENT_BLOCKED 133
#define MSG_CPU_AGENT_WAKEUP  134
#define _MSG_CPU_LAST	      191

/* ---- 4.3 Status-word flags ---------------------------------------------------------------- */

#define GHOST_SW_F_INUSE	(1U << 0) /* set last, after gtid/barrier/runtime */
#define GHOST_SW_F_CANFREE	(1U << 1) /* dead or departed: agent may SW_FREE */
#define GHOST_SW_F_ALLOCATED	(1U << 2)
#define GHOST_SW_CPU_AVAIL	(1U << 8) /* agent word: no higher class wants it */
#define GHOST_SW_BOOST_PRIO	(1U << 9) /* agent word: give the cpu back soon */
#define GHOST_SW_TASK_ONCPU	(1U << 16)
#define GHOST_SW_TASK_RUNNABLE	(1U << 17)
#define GHOST_SW_TASK_IS_AGENT	(1U << 18)
#define GHOST_SW_TASK_MSG_GATED (1U << 19) /* later messages held until SW_FREE */

/* ---- 4.5 Commit flags (ghost_txn.commit_flags) -------------------------------------------- */

#define COMMIT_AT_SCHEDULE	     (1 << 0)
#define COMMIT_AT_TXN_COMMIT	     (1 << 1)
#define ALLOW_TASK_ONCPU	     (1 << 2)
#define ELIDE_AGENT_BARRIER_INC	     (1 << 3)
#define INC_AGENT_BARRIER_ON_FAILURE (1 << 4)
/* At most one COMMIT_AT_* bit; neither means "greedy": any commit point may take the txn. */
#define COMMIT_AT_FLAGS		     (COMMIT_AT_SCHEDULE | COMMIT_AT_TXN_COMMIT)

/* ---- 4.6 Run flags (ghost_txn.run_flags, ghost_ioc_run.run_flags) ------------------------- */

#define RTLA_ON_PREEMPT			  (1 << 0)
#define RTLA_ON_BLOCKED			  (1 << 1)
#define RTLA_ON_YIELD			  (1 << 2)
#define RTLA_ON_IDLE			  (1 << 5)
#define NEED_L1D_FLUSH			  (1 << 6)
#define NEED_CPU_NOT_IDLE		  (1 << 7) /* only with GHOST_IDLE_GTID */
#define ELIDE_PREEMPT			  (1 << 9)
#define SEND_TASK_ON_CPU		  (1 << 10) /* SEND_TASK_LATCHED before ABI 78 */
#define DEFER_LATCHED_PREEMPTION_BY_AGENT (1 << 11)
#define DO_NOT_PREEMPT			  (1 << 12)

/* ---- 4.7 Special gtids -------------------------------------------------------------------- */

#define GHOST_NULL_GTID	 (0)
#define GHOST_AGENT_GTID (-1)
#define GHOST_IDLE_GTID	 (-2)

/* ---- 4.8 GHOST_IOC_ASSOC_QUEUE result flags ----------------------------------------------- */

#define GHOST_ASSOC_SF_ALREADY	 (1 << 0)
#define GHOST_ASSOC_SF_BRAND_NEW (1 << 1)

/* ---- 4.9 ioctls (on an enclave ctl fd opened O_RDWR) -------------------------------------- */

#define GHOST_IOC_NULL		      _IO('g', 0)
#define GHOST_IOC_SW_GET_INFO	      _IOWR('g', 1, struct ghost_ioc_sw_get_info)
#define GHOST_IOC_SW_FREE	      _IOW('g', 2, struct ghost_sw_info)
#define GHOST_IOC_CREATE_QUEUE	      _IOWR('g', 3, struct ghost_ioc_create_queue)
#define GHOST_IOC_ASSOC_QUEUE	      _IOW('g', 4, struct ghost_ioc_assoc_queue)
#define GHOST_IOC_SET_DEFAULT_QUEUE   _IOW('g', 5, struct ghost_ioc_set_default_queue)
#define GHOST_IOC_CONFIG_QUEUE_WAKEUP _IOW('g', 6, struct ghost_ioc_config_queue_wakeup)
#define GHOST_IOC_GET_CPU_TIME	      _IOWR('g', 7, struct ghost_ioc_get_cpu_time)
#define GHOST_IOC_COMMIT_TXN	      _IOW('g', 8, struct ghost_ioc_commit_txn)
#define GHOST_IOC_SYNC_GROUP_TXN      _IOW('g', 9, struct ghost_ioc_commit_txn)
#define GHOST_IOC_TIMERFD_SETTIME     _IOWR('g', 10, struct ghost_ioc_timerfd_settime)
#define GHOST_IOC_RUN		      _IOW('g', 11, struct ghost_ioc_run)

/* ---- 4.11 BPF values ---------------------------------------------------------------------- */

/* bpf_ghost_msg.pref_cpu */
#define BPF_GHOST_MSG_NO_WAKEUP_PREF  (-1)
#define BPF_GHOST_MSG_SKIP_AGENT_WAKE (-2) /* produce the message, wake nobody */

/* Flags of the bpf_ghost_resched_cpu2 helper. */
#define RESCHED_ANY_CLASS     (1 << 0)
#define RESCHED_GHOST_CLASS   (1 << 1)
#define RESCHED_IDLE_CLASS    (1 << 2)
#define RESCHED_OTHER_CLASS   (1 << 3)
#define SET_MUST_RESCHED      (1 << 4)
#define WAKE_AGENT	      (1 << 5)
#define GHOST_RESCHED_CPU_MAX (1 << 6)

#define GHOST_BPF_PROG_TYPE_SCHED     1000
#define GHOST_BPF_PROG_TYPE_MSG	      1001
#define GHOST_BPF_PROG_TYPE_SELECT_RQ 1002
#define GHOST_BPF_PROG_TYPE_HALT_POLL 1003

/* The ABI number rides in the upper 16 bits of expected_attach_type. */
#define GHOST_BPF_ATTACH_SCHED_PNT 2000
#define GHOST_BPF_ATTACH_MSG_SEND  2001
#define GHOST_BPF_ATTACH_SELECT_RQ 2002
#define GHOST_BPF_ATTACH_HALT_POLL 2003

#define GHOST_BPF_FUNC_WAKE_AGENT   3000
#define GHOST_BPF_FUNC_RUN_GTID	    3001
#define GHOST_BPF_FUNC_RESCHED_CPU  3002 /* before ABI 79 */
#define GHOST_BPF_FUNC_RESCHED_CPU2 3003
#define GHOST_BPF_FUNC_SYNC_COMMIT  3004
#define GHOST_BPF_FUNC_GET_AFFINITY 3005
#define GHOST_BPF_FUNC_GET_COMM	    3006

/* ---- Pure helpers ------------------------------------------------------------------------- */

/* The tid a gtid was issued for; special (negative) gtids stay negative. */
static inline int64_t ghost_gtid_to_tid(int64_t gtid)
{
	return gtid >> GHOST_GTID_SEQ_BITS;
}

static inline int ghost_msg_is_task(uint32_t type)
{
	return type >= _MSG_TASK_FIRST && type <= _MSG_TASK_LAST;
}

static inline int ghost_msg_is_cpu(uint32_t type)
{
	return type >= _MSG_CPU_FIRST && type <= _MSG_CPU_LAST;
}

/* Ring slots taken by a message of `length` bytes (header included). */
static inline uint32_t ghost_msg_slots(uint32_t length)
{
	return (length + 7) / 8;
}

/* Txn predicates; a state between 0 and READY is the id of the cpu that claimed the txn. */
static inline int ghost_txn_state_is_open(int32_t state)
{
	return state == GHOST_TXN_READY;
}

static inline int ghost_txn_state_is_claimed(int32_t state)
{
	return state >= 0 && state < GHOST_TXN_READY;
}

static inline int ghost_txn_state_is_committed(int32_t state)
{
	return state < 0;
}

static inline int ghost_txn_state_is_failed(int32_t state)
{
	return state < 0 && state != GHOST_TXN_COMPLETE;
}

static inline const char *ghost_txn_state_name(int32_t state)
{
	switch (state) {
	case GHOST_TXN_COMPLETE:
		return "GHOST_TXN_COMPLETE";
	case GHOST_TXN_ABORTED:
		return "GHOST_TXN_ABORTED";
	case GHOST_TXN_TARGET_ONCPU:
		return "GHOST_TXN_TARGET_ONCPU";
	case GHOST_TXN_TARGET_STALE:
		return "GHOST_TXN_TARGET_STALE";
	case GHOST_TXN_TARGET_NOT_FOUND:
		return "GHOST_TXN_TARGET_NOT_FOUND";
	case GHOST_TXN_TARGET_NOT_RUNNABLE:
		return "GHOST_TXN_TARGET_NOT_RUNNABLE";
	case GHOST_TXN_AGENT_STALE:
		return "GHOST_TXN_AGENT_STALE";
	case GHOST_TXN_CPU_OFFLINE:
		return "GHOST_TXN_CPU_OFFLINE";
	case GHOST_TXN_CPU_UNAVAIL:
		return "GHOST_TXN_CPU_UNAVAIL";
	case GHOST_TXN_INVALID_FLAGS:
		return "GHOST_TXN_INVALID_FLAGS";
	case GHOST_TXN_INVALID_TARGET:
		return "GHOST_TXN_INVALID_TARGET";
	case GHOST_TXN_NOT_PERMITTED:
		return "GHOST_TXN_NOT_PERMITTED";
	case GHOST_TXN_INVALID_CPU:
		return "GHOST_TXN_INVALID_CPU";
	case GHOST_TXN_NO_AGENT:
		return "GHOST_TXN_NO_AGENT";
	case GHOST_TXN_UNSUPPORTED_VERSION:
		return "GHOST_TXN_UNSUPPORTED_VERSION";
	case GHOST_TXN_POISONED:
		return "GHOST_TXN_POISONED";
	case GHOST_TXN_READY:
		return "GHOST_TXN_READY";
	default:
		return state >= 0 ? "claimed" : "unknown";
	}
}

static inline const char *ghost_msg_type_name(uint16_t type)
{
	switch (type) {
	case MSG_NOP:
		return "MSG_NOP";
	case MSG_TASK_DEAD:
		return "MSG_TASK_DEAD";
	case MSG_TASK_BLOCKED:
		return "MSG_TASK_BLOCKED";
	case MSG_TASK_WAKEUP:
		return "MSG_TASK_WAKEUP";
	case MSG_TASK_NEW:
		return "MSG_TASK_NEW";
	case MSG_TASK_PREEMPT:
		return "MSG_TASK_PREEMPT";
	case MSG_TASK_YIELD:
		return "MSG_TASK_YIELD";
	case MSG_TASK_DEPARTED:
		return "MSG_TASK_DEPARTED";
	case MSG_TASK_SWITCHTO:
		return "MSG_TASK_SWITCHTO";
	case MSG_TASK_AFFINITY_CHANGED:
		return "MSG_TASK_AFFINITY_CHANGED";
	case MSG_TASK_ON_CPU:
		return "MSG_TASK_ON_CPU";
	case MSG_TASK_PRIORITY_CHANGED:
		return "MSG_TASK_PRIORITY_CHANGED";
	case MSG_TASK_LATCH_FAILURE:
		return "MSG_TASK_LATCH_FAILURE";
	case MSG_CPU_TICK:
		return "MSG_CPU_TICK";
	case MSG_CPU_TIMER_EXPIRED:
		return "MSG_CPU_TIMER_EXPIRED";
	case MSG_CPU_NOT_IDLE:
		return "MSG_CPU_NOT_IDLE";
	case MSG_CPU_AVAILABLE:
		return "MSG_CPU_AVAILABLE";
	case MSG_CPU_BUSY:
		return "MSG_CPU_BUSY";
	case MSG_CPU_AGENT_BLOCKED:
		return "MSG_CPU_AGENT_BLOCKED";
	case MSG_CPU_AGENT_WAKEUP:
		return "MSG_CPU_AGENT_WAKEUP";
	default:
		return "unknown";
	}
}

/* ---- Layout checks (x86-64 LP64) ---------------------------------------------------------- */

/* C11's keywords, or C++'s for the same checks. */
#ifdef __cplusplus
#define GHOST_ABI_ASSERT(cond, what) static_assert(cond, what)
#define GHOST_ABI_ALIGNOF(t)	     alignof(t)
#else
#define GHOST_ABI_ASSERT(cond, what) _Static_assert(cond, what)
#define GHOST_ABI_ALIGNOF(t)	     _Alignof(t)
#endif
#define GHOST_ABI_SIZE(s, n)   GHOST_ABI_ASSERT(sizeof(struct s) == (n), "sizeof " #s)
#define GHOST_ABI_ALIGN(s, n)  GHOST_ABI_ASSERT(GHOST_ABI_ALIGNOF(struct s) == (n), "alignof " #s)
#define GHOST_ABI_OFF(s, f, n) GHOST_ABI_ASSERT(offsetof(struct s, f) == (n), "offset " #s "." #f)
#define GHOST_ABI_IOC(c, n)    GHOST_ABI_ASSERT((c) == (n), "ioctl number " #c)

GHOST_ABI_ASSERT(sizeof(int) == 4 && sizeof(long) == 8 && sizeof(void *) == 8, "LP64 only");
GHOST_ABI_ASSERT(sizeof(enum ghost_type) == 4, "enum ghost_type is 4 bytes");
GHOST_ABI_ASSERT(sizeof(enum ghost_txn_state) == 4, "enum ghost_txn_state is 4 bytes");
GHOST_ABI_ASSERT(GHOST_SW_REGION_SIZE ==
			 64 + GHOST_SW_REGION_CAPACITY * sizeof(struct ghost_status_word),
		 "sw region size");
GHOST_ABI_ASSERT(GHOST_CPU_DATA_SIZE == sizeof(struct ghost_cpu_data), "cpu data size");
GHOST_ABI_ASSERT(GHOST_TXN_POISONED == INT_MIN + 15, "txn failure codes");
GHOST_ABI_ASSERT(COMMIT_AT_FLAGS == 0x03, "COMMIT_AT_FLAGS");

/* 3.1 */
GHOST_ABI_SIZE(ghost_agent_wakeup, 8);
GHOST_ABI_ALIGN(ghost_agent_wakeup, 4);
GHOST_ABI_OFF(ghost_agent_wakeup, cpu, 0);
GHOST_ABI_OFF(ghost_agent_wakeup, prio, 4);

GHOST_ABI_SIZE(ghost_msg_src, 16);
GHOST_ABI_ALIGN(ghost_msg_src, 8);
GHOST_ABI_OFF(ghost_msg_src, type, 0);
GHOST_ABI_OFF(ghost_msg_src, arg, 8);

GHOST_ABI_SIZE(ghost_sw_info, 8);
GHOST_ABI_ALIGN(ghost_sw_info, 4);
GHOST_ABI_OFF(ghost_sw_info, id, 0);
GHOST_ABI_OFF(ghost_sw_info, index, 4);

GHOST_ABI_SIZE(timerfd_ghost, 24);
GHOST_ABI_ALIGN(timerfd_ghost, 8);
GHOST_ABI_OFF(timerfd_ghost, cpu, 0);
GHOST_ABI_OFF(timerfd_ghost, flags, 4);
GHOST_ABI_OFF(timerfd_ghost, type, 8);
GHOST_ABI_OFF(timerfd_ghost, cookie, 16);

/* 3.2 */
GHOST_ABI_SIZE(ghost_ioc_sw_get_info, 24);
GHOST_ABI_OFF(ghost_ioc_sw_get_info, request, 0);
GHOST_ABI_OFF(ghost_ioc_sw_get_info, response, 16);

GHOST_ABI_SIZE(ghost_ioc_create_queue, 24);
GHOST_ABI_OFF(ghost_ioc_create_queue, elems, 0);
GHOST_ABI_OFF(ghost_ioc_create_queue, node, 4);
GHOST_ABI_OFF(ghost_ioc_create_queue, flags, 8);
GHOST_ABI_OFF(ghost_ioc_create_queue, mapsize, 16);

GHOST_ABI_SIZE(ghost_ioc_assoc_queue, 32);
GHOST_ABI_OFF(ghost_ioc_assoc_queue, fd, 0);
GHOST_ABI_OFF(ghost_ioc_assoc_queue, src, 8);
GHOST_ABI_OFF(ghost_ioc_assoc_queue, barrier, 24);
GHOST_ABI_OFF(ghost_ioc_assoc_queue, flags, 28);

GHOST_ABI_SIZE(ghost_ioc_set_default_queue, 4);
GHOST_ABI_OFF(ghost_ioc_set_default_queue, fd, 0);

GHOST_ABI_SIZE(ghost_ioc_config_queue_wakeup, 24);
GHOST_ABI_OFF(ghost_ioc_config_queue_wakeup, qfd, 0);
GHOST_ABI_OFF(ghost_ioc_config_queue_wakeup, w, 8);
GHOST_ABI_OFF(ghost_ioc_config_queue_wakeup, ninfo, 16);
GHOST_ABI_OFF(ghost_ioc_config_queue_wakeup, flags, 20);

GHOST_ABI_SIZE(ghost_ioc_get_cpu_time, 16);
GHOST_ABI_OFF(ghost_ioc_get_cpu_time, gtid, 0);
GHOST_ABI_OFF(ghost_ioc_get_cpu_time, runtime, 8);

GHOST_ABI_SIZE(ghost_ioc_commit_txn, 16);
GHOST_ABI_OFF(ghost_ioc_commit_txn, mask_ptr, 0);
GHOST_ABI_OFF(ghost_ioc_commit_txn, mask_len, 8);
GHOST_ABI_OFF(ghost_ioc_commit_txn, flags, 12);

GHOST_ABI_SIZE(ghost_ioc_timerfd_settime, 48);
GHOST_ABI_OFF(ghost_ioc_timerfd_settime, timerfd, 0);
GHOST_ABI_OFF(ghost_ioc_timerfd_settime, flags, 4);
GHOST_ABI_OFF(ghost_ioc_timerfd_settime, in_tmr, 8);
GHOST_ABI_OFF(ghost_ioc_timerfd_settime, out_tmr, 16);
GHOST_ABI_OFF(ghost_ioc_timerfd_settime, timerfd_ghost, 24);

GHOST_ABI_SIZE(ghost_ioc_run, 24);
GHOST_ABI_OFF(ghost_ioc_run, gtid, 0);
GHOST_ABI_OFF(ghost_ioc_run, agent_barrier, 8);
GHOST_ABI_OFF(ghost_ioc_run, task_barrier, 12);
GHOST_ABI_OFF(ghost_ioc_run, run_cpu, 16);
GHOST_ABI_OFF(ghost_ioc_run, run_flags, 20);

/* 3.3 */
GHOST_ABI_SIZE(ghost_sw_region_header, 64);
GHOST_ABI_ALIGN(ghost_sw_region_header, 64);
GHOST_ABI_OFF(ghost_sw_region_header, version, 0);
GHOST_ABI_OFF(ghost_sw_region_header, id, 4);
GHOST_ABI_OFF(ghost_sw_region_header, numa_node, 8);
GHOST_ABI_OFF(ghost_sw_region_header, start, 12);
GHOST_ABI_OFF(ghost_sw_region_header, capacity, 16);
GHOST_ABI_OFF(ghost_sw_region_header, available, 20);

GHOST_ABI_SIZE(ghost_status_word, 32);
GHOST_ABI_ALIGN(ghost_status_word, 32);
GHOST_ABI_OFF(ghost_status_word, barrier, 0);
GHOST_ABI_OFF(ghost_status_word, flags, 4);
GHOST_ABI_OFF(ghost_status_word, gtid, 8);
GHOST_ABI_OFF(ghost_status_word, switch_time, 16);
GHOST_ABI_OFF(ghost_status_word, runtime, 24);

/* 3.4 */
GHOST_ABI_SIZE(ghost_queue_header, 64);
GHOST_ABI_ALIGN(ghost_queue_header, 64);
GHOST_ABI_OFF(ghost_queue_header, version, 0);
GHOST_ABI_OFF(ghost_queue_header, start, 4);
GHOST_ABI_OFF(ghost_queue_header, nelems, 8);

GHOST_ABI_SIZE(ghost_ring, 12);
GHOST_ABI_ALIGN(ghost_ring, 4);
GHOST_ABI_OFF(ghost_ring, head, 0);
GHOST_ABI_OFF(ghost_ring, tail, 4);
GHOST_ABI_OFF(ghost_ring, overflow, 8);
GHOST_ABI_OFF(ghost_ring, msgs, 12);

GHOST_ABI_SIZE(ghost_msg, 8);
GHOST_ABI_ALIGN(ghost_msg, 4);
GHOST_ABI_OFF(ghost_msg, type, 0);
GHOST_ABI_OFF(ghost_msg, length, 2);
GHOST_ABI_OFF(ghost_msg, seqnum, 4);
GHOST_ABI_OFF(ghost_msg, payload, 8);

/* 3.5 */
GHOST_ABI_SIZE(ghost_txn, 64);
GHOST_ABI_ALIGN(ghost_txn, 64);
GHOST_ABI_OFF(ghost_txn, version, 0);
GHOST_ABI_OFF(ghost_txn, cpu, 4);
GHOST_ABI_OFF(ghost_txn, state, 8);
GHOST_ABI_OFF(ghost_txn, agent_barrier, 12);
GHOST_ABI_OFF(ghost_txn, task_barrier, 16);
GHOST_ABI_OFF(ghost_txn, run_flags, 20);
GHOST_ABI_OFF(ghost_txn, commit_flags, 22);
GHOST_ABI_OFF(ghost_txn, unused, 23);
GHOST_ABI_OFF(ghost_txn, gtid, 24);
GHOST_ABI_OFF(ghost_txn, commit_time, 32);
GHOST_ABI_OFF(ghost_txn, cpu_seqnum, 40);
GHOST_ABI_OFF(ghost_txn, u.sync_group_owner, 48);

GHOST_ABI_SIZE(ghost_cpu_data, 4096);
GHOST_ABI_ALIGN(ghost_cpu_data, 4096);
GHOST_ABI_OFF(ghost_cpu_data, txn, 0);

/* 3.6 */
GHOST_ABI_SIZE(ghost_msg_payload_task_new, 48);
GHOST_ABI_ALIGN(ghost_msg_payload_task_new, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_new, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_new, parent_gtid, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_new, runtime, 16);
GHOST_ABI_OFF(ghost_msg_payload_task_new, runnable, 24);
GHOST_ABI_OFF(ghost_msg_payload_task_new, nice, 28);
GHOST_ABI_OFF(ghost_msg_payload_task_new, sw_info, 32);
GHOST_ABI_OFF(ghost_msg_payload_task_new, agent_data, 40);

GHOST_ABI_SIZE(ghost_msg_payload_task_preempt, 40);
GHOST_ABI_ALIGN(ghost_msg_payload_task_preempt, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_preempt, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_preempt, runtime, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_preempt, cpu_seqnum, 16);
GHOST_ABI_OFF(ghost_msg_payload_task_preempt, agent_data, 24);
GHOST_ABI_OFF(ghost_msg_payload_task_preempt, cpu, 32);
GHOST_ABI_OFF(ghost_msg_payload_task_preempt, from_switchto, 36);
GHOST_ABI_OFF(ghost_msg_payload_task_preempt, was_latched, 37);

GHOST_ABI_SIZE(ghost_msg_payload_task_yield, 40);
GHOST_ABI_ALIGN(ghost_msg_payload_task_yield, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_yield, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_yield, runtime, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_yield, cpu_seqnum, 16);
GHOST_ABI_OFF(ghost_msg_payload_task_yield, agent_data, 24);
GHOST_ABI_OFF(ghost_msg_payload_task_yield, cpu, 32);
GHOST_ABI_OFF(ghost_msg_payload_task_yield, from_switchto, 36);

GHOST_ABI_SIZE(ghost_msg_payload_task_blocked, 32);
GHOST_ABI_ALIGN(ghost_msg_payload_task_blocked, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_blocked, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_blocked, runtime, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_blocked, cpu_seqnum, 16);
GHOST_ABI_OFF(ghost_msg_payload_task_blocked, cpu, 24);
GHOST_ABI_OFF(ghost_msg_payload_task_blocked, from_switchto, 28);

GHOST_ABI_SIZE(ghost_msg_payload_task_dead, 16);
GHOST_ABI_ALIGN(ghost_msg_payload_task_dead, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_dead, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_dead, cpu, 8);

GHOST_ABI_SIZE(ghost_msg_payload_task_departed, 24);
GHOST_ABI_ALIGN(ghost_msg_payload_task_departed, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_departed, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_departed, cpu_seqnum, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_departed, cpu, 16);
GHOST_ABI_OFF(ghost_msg_payload_task_departed, from_switchto, 20);
GHOST_ABI_OFF(ghost_msg_payload_task_departed, was_current, 21);

GHOST_ABI_SIZE(ghost_msg_payload_task_affinity_changed, 8);
GHOST_ABI_ALIGN(ghost_msg_payload_task_affinity_changed, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_affinity_changed, gtid, 0);

GHOST_ABI_SIZE(ghost_msg_payload_task_priority_changed, 16);
GHOST_ABI_ALIGN(ghost_msg_payload_task_priority_changed, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_priority_changed, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_priority_changed, nice, 8);

GHOST_ABI_SIZE(ghost_msg_payload_task_wakeup, 32);
GHOST_ABI_ALIGN(ghost_msg_payload_task_wakeup, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_wakeup, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_wakeup, agent_data, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_wakeup, deferrable, 16);
GHOST_ABI_OFF(ghost_msg_payload_task_wakeup, last_ran_cpu, 20);
GHOST_ABI_OFF(ghost_msg_payload_task_wakeup, wake_up_cpu, 24);
GHOST_ABI_OFF(ghost_msg_payload_task_wakeup, waker_cpu, 28);

GHOST_ABI_SIZE(ghost_msg_payload_task_switchto, 32);
GHOST_ABI_ALIGN(ghost_msg_payload_task_switchto, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_switchto, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_switchto, runtime, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_switchto, cpu_seqnum, 16);
GHOST_ABI_OFF(ghost_msg_payload_task_switchto, cpu, 24);

GHOST_ABI_SIZE(ghost_msg_payload_task_on_cpu, 32);
GHOST_ABI_ALIGN(ghost_msg_payload_task_on_cpu, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_on_cpu, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_on_cpu, commit_time, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_on_cpu, cpu_seqnum, 16);
GHOST_ABI_OFF(ghost_msg_payload_task_on_cpu, cpu, 24);

GHOST_ABI_SIZE(ghost_msg_payload_task_latch_failure, 16);
GHOST_ABI_ALIGN(ghost_msg_payload_task_latch_failure, 8);
GHOST_ABI_OFF(ghost_msg_payload_task_latch_failure, gtid, 0);
GHOST_ABI_OFF(ghost_msg_payload_task_latch_failure, err, 8);

GHOST_ABI_SIZE(ghost_msg_payload_cpu_not_idle, 16);
GHOST_ABI_ALIGN(ghost_msg_payload_cpu_not_idle, 8);
GHOST_ABI_OFF(ghost_msg_payload_cpu_not_idle, cpu, 0);
GHOST_ABI_OFF(ghost_msg_payload_cpu_not_idle, next_gtid, 8);

GHOST_ABI_SIZE(ghost_msg_payload_cpu_tick, 8);
GHOST_ABI_ALIGN(ghost_msg_payload_cpu_tick, 4);
GHOST_ABI_OFF(ghost_msg_payload_cpu_tick, cpu, 0);
GHOST_ABI_OFF(ghost_msg_payload_cpu_tick, is_agent, 4);

GHOST_ABI_SIZE(ghost_msg_payload_timer, 24);
GHOST_ABI_ALIGN(ghost_msg_payload_timer, 8);
GHOST_ABI_OFF(ghost_msg_payload_timer, cpu, 0);
GHOST_ABI_OFF(ghost_msg_payload_timer, type, 8);
GHOST_ABI_OFF(ghost_msg_payload_timer, cookie, 16);

GHOST_ABI_SIZE(ghost_msg_payload_cpu_available, 4);
GHOST_ABI_ALIGN(ghost_msg_payload_cpu_available, 4);
GHOST_ABI_OFF(ghost_msg_payload_cpu_available, cpu, 0);

GHOST_ABI_SIZE(ghost_msg_payload_cpu_busy, 4);
GHOST_ABI_ALIGN(ghost_msg_payload_cpu_busy, 4);
GHOST_ABI_OFF(ghost_msg_payload_cpu_busy, cpu, 0);

GHOST_ABI_SIZE(ghost_msg_payload_agent_blocked, 4);
GHOST_ABI_ALIGN(ghost_msg_payload_agent_blocked, 4);
GHOST_ABI_OFF(ghost_msg_payload_agent_blocked, cpu, 0);

GHOST_ABI_SIZE(ghost_msg_payload_agent_wakeup, 4);
GHOST_ABI_ALIGN(ghost_msg_payload_agent_wakeup, 4);
GHOST_ABI_OFF(ghost_msg_payload_agent_wakeup, cpu, 0);

/* 3.8 */
GHOST_ABI_SIZE(bpf_ghost_msg, 64);
GHOST_ABI_OFF(bpf_ghost_msg, newt, 0);
GHOST_ABI_OFF(bpf_ghost_msg, type, 48);
GHOST_ABI_OFF(bpf_ghost_msg, seqnum, 52);
GHOST_ABI_OFF(bpf_ghost_msg, pref_cpu, 56);

GHOST_ABI_SIZE(bpf_ghost_sched, 16);
GHOST_ABI_OFF(bpf_ghost_sched, agent_on_rq, 0);
GHOST_ABI_OFF(bpf_ghost_sched, agent_runnable, 1);
GHOST_ABI_OFF(bpf_ghost_sched, might_yield, 2);
GHOST_ABI_OFF(bpf_ghost_sched, dont_idle, 3);
GHOST_ABI_OFF(bpf_ghost_sched, must_resched, 4);
GHOST_ABI_OFF(bpf_ghost_sched, next_gtid, 8);

GHOST_ABI_SIZE(bpf_ghost_select_rq, 32);
GHOST_ABI_OFF(bpf_ghost_select_rq, gtid, 0);
GHOST_ABI_OFF(bpf_ghost_select_rq, task_cpu, 8);
GHOST_ABI_OFF(bpf_ghost_select_rq, waker_cpu, 12);
GHOST_ABI_OFF(bpf_ghost_select_rq, sd_flag, 16);
GHOST_ABI_OFF(bpf_ghost_select_rq, wake_flags, 20);
GHOST_ABI_OFF(bpf_ghost_select_rq, skip_ttwu_queue, 24);

GHOST_ABI_SIZE(bpf_ghost_halt_poll, 4);
GHOST_ABI_OFF(bpf_ghost_halt_poll, type, 0);

GHOST_ABI_SIZE(bpf_sync_commit_args, 48);
GHOST_ABI_OFF(bpf_sync_commit_args, cpus, 0);
GHOST_ABI_OFF(bpf_sync_commit_args, gtids, 8);
GHOST_ABI_OFF(bpf_sync_commit_args, task_barriers, 24);
GHOST_ABI_OFF(bpf_sync_commit_args, run_flags, 32);
GHOST_ABI_OFF(bpf_sync_commit_args, commit_flags, 40);

/* 4.9 */
GHOST_ABI_IOC(GHOST_IOC_NULL, 0x00006700);
GHOST_ABI_IOC(GHOST_IOC_SW_GET_INFO, 0xc0186701);
GHOST_ABI_IOC(GHOST_IOC_SW_FREE, 0x40086702);
GHOST_ABI_IOC(GHOST_IOC_CREATE_QUEUE, 0xc0186703);
GHOST_ABI_IOC(GHOST_IOC_ASSOC_QUEUE, 0x40206704);
GHOST_ABI_IOC(GHOST_IOC_SET_DEFAULT_QUEUE, 0x40046705);
GHOST_ABI_IOC(GHOST_IOC_CONFIG_QUEUE_WAKEUP, 0x40186706);
GHOST_ABI_IOC(GHOST_IOC_GET_CPU_TIME, 0xc0106707);
GHOST_ABI_IOC(GHOST_IOC_COMMIT_TXN, 0x40106708);
GHOST_ABI_IOC(GHOST_IOC_SYNC_GROUP_TXN, 0x40106709);
GHOST_ABI_IOC(GHOST_IOC_TIMERFD_SETTIME, 0xc030670a);
GHOST_ABI_IOC(GHOST_IOC_RUN, 0x4018670b);

#undef GHOST_ABI_SIZE
#undef GHOST_ABI_ALIGN
#undef GHOST_ABI_OFF
#undef GHOST_ABI_IOC
#undef GHOST_ABI_ALIGNOF
#undef GHOST_ABI_ASSERT

#ifdef __cplusplus
}
#endif

#endif /* GHOST_ABI_H */
