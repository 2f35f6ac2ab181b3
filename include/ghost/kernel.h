/*
 * ghost/kernel.h - the kernel-interface layer: one ops table per backend.
 *
 * Everything in libghost above this line (enclaves, channels, status words,
 * transactions, agents, policies, tools) reaches "the kernel" only through a
 * struct ghost_kernel_ops. Each backend (the embedded user-space kernel, the
 * sched_ext BPF scheduler, the real ghOSt kernel's ghostfs, a simulator) is
 * one static const table; its state hides behind opaque handles. Nothing
 * above this layer includes a backend's header or knows which one it has.
 *
 * The contract of every op (what it guarantees, which errors it returns) is
 * written out in docs/design.md; the short form is beside each member. All
 * ops return 0 (or a count) or a negative errno, exactly like the ghOSt
 * ioctls they mirror, and never print.
 */
#ifndef GHOST_KERNEL_H
#define GHOST_KERNEL_H

#include <ghost/abi.h>
#include <ghost/common.h>
#include <ghost/cpuset.h>

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GHOST_KERNEL_OPS_VERSION 1

/* Opaque per-process handles owned by a backend. */
struct ghost_kenclave; /* an open enclave */
struct ghost_ktask;    /* the calling thread as a ghost task (backends with task_block) */

/*
 * Enclave ids are 1..GHOST_ENCLAVE_ID_MAX; "create sw_region <id> <node>" takes region ids
 * 0..GHOST_SW_REGION_ID_MAX (the library maps no others) and nodes 0..GHOST_NUMA_NODE_MAX.
 * The library, the tools and the embedded kernel refuse anything outside with -EINVAL (the
 * tools: exit status 2); nothing is wrapped or truncated.
 */
#define GHOST_ENCLAVE_ID_MAX	(1ull << 40)
#define GHOST_SW_REGION_ID_MAX	63
#define GHOST_NUMA_NODE_MAX	1023

struct ghost_kernel_create_args {
	size_t sz;			/* sizeof(struct ghost_kernel_create_args) */
	const char *root;		/* namespace root; NULL = the backend's default */
	uint64_t id;			/* enclave id; 0 = first free id */
	const struct ghost_cpuset *cpus;
	uint32_t abi;			/* must be GHOST_VERSION */
	uint32_t flags;			/* GHOST_KCREATE_* */
	uint32_t max_tasks;		/* capacity hint (emulated backends); 0 = default */
};
/* Destroy the enclave when the creating process's handle is closed. */
#define GHOST_KCREATE_EPHEMERAL (1u << 0)

/* Where an agent thread should be woken for messages of a queue. */
struct ghost_kqueue {
	int id;			/* backend handle: an fd for ghostfs, an index for emu */
	void *map;		/* header + ring, mapped read-write */
	size_t mapsize;
};

struct ghost_kernel_ops {
	uint32_t version;	/* GHOST_KERNEL_OPS_VERSION */
	const char *name;	/* "emu", "scx", "ghostfs", ... */
	const char *summary;	/* one line for --help texts */

	/*
	 * Can this backend run here? 0, or a negative errno with a sentence
	 * in why (e.g. "no /sys/fs/ghost: this kernel has no ghOSt support").
	 */
	int (*probe)(const char *root, char *why, size_t why_len);

	/* ---- namespace (ghostfs top level) ---- */
	int (*enclave_create)(const struct ghost_kernel_create_args *args,
			      struct ghost_kenclave **out);
	/* -ENOENT unknown id; -EXDEV the enclave is being destroyed. */
	int (*enclave_attach)(const char *root, uint64_t id, struct ghost_kenclave **out);
	/* Drops this process's handle; never destroys (but see EPHEMERAL). */
	void (*enclave_close)(struct ghost_kenclave *ke);
	/* Fills up to max ids of live enclaves, returns how many exist. */
	int (*enclave_list)(const char *root, uint64_t *ids, int max);
	uint64_t (*enclave_id)(struct ghost_kenclave *ke);

	/*
	 * The enclave's ctl file: "destroy", "create sw_region <id> <node>",
	 * "discover tasks", "become agent <cpu> <queue>" (one command per
	 * call). Unknown text, or a number out of its bounds (see above): -EINVAL.
	 */
	int (*ctl)(struct ghost_kenclave *ke, const char *cmd);
	/*
	 * Enclave files by ghostfs name ("cpulist", "cpumask", "status",
	 * "tasks", "agent_online", "abi_version", every tunable ...): read
	 * returns the text length written to buf (NUL-terminated, -ENOSPC if
	 * it does not fit); write takes the same text ghostfs accepts.
	 * Unknown name: -ENOENT; read-only file: -EACCES.
	 */
	int (*file_read)(struct ghost_kenclave *ke, const char *name, char *buf, size_t len);
	int (*file_write)(struct ghost_kenclave *ke, const char *name, const char *text);

	/* ---- shared memory ---- */
	/* The per-CPU txn pages (read-write), *ncpus pages long. */
	int (*cpu_data_map)(struct ghost_kenclave *ke, struct ghost_cpu_data **out, int *ncpus);
	/* A status-word region, mapped read-only; -ENOENT if it does not exist. */
	int (*sw_region_map)(struct ghost_kenclave *ke, uint32_t id,
			     const struct ghost_sw_region_header **out, size_t *size);
	void (*sw_region_unmap)(struct ghost_kenclave *ke, const struct ghost_sw_region_header *hdr,
				size_t size);
	/* GHOST_IOC_SW_GET_INFO: type GHOST_AGENT (arg = cpu) or GHOST_TASK (arg = gtid). */
	int (*sw_get_info)(struct ghost_kenclave *ke, int type, uint64_t arg,
			   struct ghost_sw_info *out);
	/* GHOST_IOC_SW_FREE: -ENOENT no such word, -EINVAL not CANFREE, -EALREADY free. */
	int (*sw_free)(struct ghost_kenclave *ke, const struct ghost_sw_info *info);

	/* ---- queues (GHOST_IOC_CREATE_QUEUE and friends) ---- */
	int (*queue_create)(struct ghost_kenclave *ke, int elems, int node, int flags,
			    struct ghost_kqueue *out);
	void (*queue_destroy)(struct ghost_kenclave *ke, struct ghost_kqueue *q);
	/* Returns the GHOST_ASSOC_SF_* status (>= 0); -ENOENT, -ESTALE, -EINVAL. */
	int (*queue_assoc)(struct ghost_kenclave *ke, int qid, int64_t gtid, uint32_t barrier,
			   int flags);
	int (*queue_set_default)(struct ghost_kenclave *ke, int qid);
	int (*queue_config_wakeup)(struct ghost_kenclave *ke, int qid,
				   const struct ghost_agent_wakeup *w, int n);

	/* ---- agents ---- */
	/* Exclusive "an agent serves this enclave" claim: -EBUSY if held. */
	int (*agent_online)(struct ghost_kenclave *ke);
	void (*agent_offline)(struct ghost_kenclave *ke);
	/*
	 * "become agent <cpu> <qid>": the calling thread becomes cpu's agent,
	 * pinned there, its CPU messages going to qid (-1 = default queue).
	 * -EBUSY the cpu has a live agent; -ENODEV cpu not in the enclave.
	 */
	int (*agent_attach)(struct ghost_kenclave *ke, int cpu, int qid);
	/* The calling agent thread stops being cpu's agent. */
	void (*agent_detach)(struct ghost_kenclave *ke, int cpu);

	/*
	 * ---- transactions ----
	 * commit, sync_group_commit and run return -ENODEV once the enclave is
	 * gone (destroyed, reaped): agents stop on it.
	 */
	/* GHOST_IOC_COMMIT_TXN over a CPU set; outcomes are in each txn's state. */
	int (*commit)(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus);
	/* GHOST_IOC_SYNC_GROUP_TXN: 1 = all committed, 0 = failed, or -errno. */
	int (*sync_group_commit)(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus);
	/*
	 * GHOST_IOC_RUN: gtid 0 = local yield of the calling agent on cpu (it
	 * sleeps until a message for its queue, a ping, or an RTLA edge;
	 * -ESTALE if agent_barrier is stale), gtid GHOST_AGENT_GTID = ping
	 * cpu's agent. Anything else: -EINVAL.
	 */
	int (*run)(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier,
		   uint32_t task_barrier, int cpu, int run_flags);

	/* ---- tasks ---- */
	/*
	 * Moves thread tid (0 = the caller) into the enclave as a ghost task.
	 * When tid is the caller and the backend schedules in user space, the
	 * call returns only once the task has been put on a CPU, with *self
	 * set (else *self = NULL). -EPERM / -EOPNOTSUPP where not allowed.
	 */
	int (*task_enter)(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **self);
	/* Moves tid (0 = caller) out of the enclave back to the normal class. */
	int (*task_leave)(struct ghost_kenclave *ke, pid_t tid);
	/* The calling ghost task is exiting (thread end). */
	void (*task_exit)(struct ghost_ktask *self);
	int (*get_cpu_time)(struct ghost_kenclave *ke, int64_t gtid, uint64_t *ns);
	int (*gtid_of)(struct ghost_kenclave *ke, pid_t tid, int64_t *gtid);

	/*
	 * How a ghost task blocks, under backends that schedule in user space
	 * (NULL elsewhere: the kernel sees ordinary futex waits). task_block
	 * parks the caller until task_unblock (-> 0) or the timeout (absolute
	 * CLOCK_MONOTONIC ns, 0 = none; -> -ETIMEDOUT), emitting the messages a
	 * kernel would. An unblock that comes before the block is not lost.
	 */
	int (*task_block)(struct ghost_ktask *self, int64_t deadline_ns);
	int (*task_unblock)(struct ghost_ktask *task, int waker_cpu);
	int (*task_yield)(struct ghost_ktask *self);
	/* Does the enclave still manage this task? (false once it departed) */
	bool (*task_managed)(struct ghost_ktask *self);
	/*
	 * The calling task changed its nice value (what = GHOST_TASK_NICE, nice)
	 * or wants other CPUs (GHOST_TASK_AFFINITY, cpus: the backend keeps them
	 * for when the thread leaves, since it pins the thread itself): the
	 * backend reports it (TASK_PRIORITY_CHANGED / TASK_AFFINITY_CHANGED) and
	 * takes the task off its CPU, as the kernel does. NULL where the kernel
	 * sees the change itself.
	 */
	int (*task_changed)(struct ghost_ktask *self, int what, int nice,
			    const struct ghost_cpuset *cpus);
	/*
	 * Holds off (on = true) or lets through again (false) preemption of
	 * the calling task, around the library's own short critical sections:
	 * a task preempted while holding a lock another task spins or sleeps on
	 * would stall both. Nests. NULL where the kernel preempts safely.
	 */
	void (*task_nopreempt)(struct ghost_ktask *self, bool on);

	/* ---- timers ---- */
	/*
	 * Arms (expires_ns > 0, absolute CLOCK_MONOTONIC) or disarms (0) the
	 * ghost timer `slot` of cpu: on expiry cpu's agent gets
	 * MSG_CPU_TIMER_EXPIRED {cpu, type, cookie}; period_ns > 0 re-arms.
	 */
	int (*timer_set)(struct ghost_kenclave *ke, int cpu, int slot, uint64_t type,
			 uint64_t cookie, int64_t expires_ns, int64_t period_ns);
};

#define GHOST_TASK_NICE 1
#define GHOST_TASK_AFFINITY 2

/* The backends compiled into this library, in preference order. */
GHOST_API const struct ghost_kernel_ops *ghost_kernel_find(const char *name);
/* NULL-terminated list of every compiled-in backend. */
GHOST_API const struct ghost_kernel_ops *const *ghost_kernel_all(void);
/* A backend's name ("emu", "scx", ...) and one-line summary. */
GHOST_API const char *ghost_kernel_name(const struct ghost_kernel_ops *k);
GHOST_API const char *ghost_kernel_summary(const struct ghost_kernel_ops *k);
/*
 * Can backend k run here (root: a namespace root, NULL = its default)? 0, or
 * a negative errno with a sentence in why.
 */
GHOST_API int ghost_kernel_probe(const struct ghost_kernel_ops *k, const char *root, char *why,
				 size_t why_len);
/* The default backend: $GHOST_KERNEL if set, else "emu". */
GHOST_API const struct ghost_kernel_ops *ghost_kernel_default(void);

#ifdef __cplusplus
}
#endif

#endif
