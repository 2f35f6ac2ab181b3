/*
 * backend.h - the contract between the library and its kernel backends.
 *
 * Private to libghost: src/ drives a backend only through this table, and a
 * backend (kernels/<name>/) implements it and includes nothing of src/ but
 * this header and the utility layer (cpuset, log, topology). One static const
 * table per backend, listed in src/kernel.c, which checks every table's
 * version and mandatory ops before anything uses it: an incomplete table is
 * refused with -ENODEV and a sentence, never called.
 *
 * Rules for every op: it returns 0 (or a count) or a negative errno, exactly
 * like the ghOSt ioctls it mirrors, and never prints. A member is either
 * mandatory (checked) or belongs to a capability (GHOST_KCAP_*, checked the
 * same way when the table claims it); the library never tests an op for NULL
 * to guess what a backend can do. Text commands (`ctl`) and files stay for
 * people; the library itself uses the typed ops. The full contract of each
 * op is in docs/design.md.
 */
#ifndef GHOST_BACKEND_H
#define GHOST_BACKEND_H

#include <ghost/abi.h>
#include <ghost/common.h>
#include <ghost/cpuset.h>
#include <ghost/kernel.h>

#include <stdbool.h>
#include <sys/types.h>

/* Version 2: typed destroy/sw_region/discovery/CPU set/exit state, one commit op, caps. */
#define GHOST_KERNEL_OPS_VERSION 2

/* Opaque per-process handles owned by a backend. */
struct ghost_kenclave; /* an open enclave */
struct ghost_ktask;    /* the calling thread as a ghost task (GHOST_KCAP_USER_TASKS) */

struct ghost_kernel_create_args {
	size_t sz;	  /* sizeof(struct ghost_kernel_create_args) */
	const char *root; /* namespace root; NULL = the backend's default */
	uint64_t id;	  /* enclave id; 0 = first free id */
	const struct ghost_cpuset *cpus;
	uint32_t abi;		  /* must be GHOST_VERSION */
	uint32_t flags;		  /* GHOST_KCREATE_* */
	uint32_t max_tasks;	  /* capacity hint (emulated backends); 0 = default */
	const void *backend_args; /* the backend's own settings (a simulator's); NULL = defaults */
};
/* Destroy the enclave when the creating process's handle is closed. */
#define GHOST_KCREATE_EPHEMERAL (1u << 0)

/* Where an agent thread should be woken for messages of a queue. */
struct ghost_kqueue {
	int id;	   /* backend handle: an fd for ghostfs, an index for emu */
	void *map; /* header + ring, mapped read-write */
	size_t mapsize;
};

/* Why an enclave's kernel side stopped (exit_state). */
struct ghost_kexit {
	bool ended;	/* false: it runs */
	char why[1200]; /* NUL-terminated sentence when ended */
};

/* commit flags */
#define GHOST_KCOMMIT_SYNC_GROUP (1u << 0) /* all-or-nothing (GHOST_IOC_SYNC_GROUP_TXN) */

/* task_changed what */
#define GHOST_TASK_NICE	    1
#define GHOST_TASK_AFFINITY 2

struct ghost_kernel_ops {
	uint32_t version;    /* GHOST_KERNEL_OPS_VERSION */
	const char *name;    /* "emu", "scx", "ghostfs", ... */
	const char *summary; /* one line for --help texts */
	uint64_t caps;	     /* GHOST_KCAP_* */

	/*
	 * Can this backend run here? 0, or a negative errno with a sentence
	 * in why (e.g. "no /sys/fs/ghost: this kernel has no ghOSt support").
	 * Mandatory, even in a table that has nothing else (a backend not
	 * built in says how to get it).
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
	/* Tears the enclave down for everyone; its tasks go back to the normal class. */
	int (*enclave_destroy)(struct ghost_kenclave *ke);
	/* The enclave's CPUs now (they change with enclave_set_cpus). */
	int (*enclave_cpus)(struct ghost_kenclave *ke, struct ghost_cpuset *out);
	/* Gives the enclave exactly these CPUs: -EBUSY one belongs to another enclave. */
	int (*enclave_set_cpus)(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus);
	/* Is the kernel side still running, and if not why (GHOST_KCAP_SELF_EXIT). */
	int (*exit_state)(struct ghost_kenclave *ke, struct ghost_kexit *out);
	/* Does an agent serve the enclave now? 1 / 0, -EOPNOTSUPP: cannot tell, or an error. */
	int (*agent_present)(struct ghost_kenclave *ke);

	/*
	 * For people: a backend's own ctl commands beyond the ones the library
	 * parses itself ("destroy", "discover tasks", "create sw_region <id>
	 * <node>", "become agent <cpu> <queue>"). Unknown text: -EINVAL.
	 * Optional (NULL: no further commands).
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
	/*
	 * Creates status-word region id on NUMA node node: -EEXIST if it exists
	 * (region 0 may be made by enclave_create), -EOPNOTSUPP for id > 0
	 * without GHOST_KCAP_SW_REGIONS.
	 */
	int (*sw_region_create)(struct ghost_kenclave *ke, uint32_t id, uint32_t node);
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
	 * Discovery ("discover tasks"): a TASK_NEW for every task of the
	 * enclave, for an agent taking over. Returns how many
	 * (GHOST_KCAP_DISCOVERY; -EOPNOTSUPP without).
	 */
	int (*discover_tasks)(struct ghost_kenclave *ke);

	/*
	 * ---- transactions ----
	 * commit and run return -ENODEV once the enclave is gone (destroyed,
	 * reaped): agents stop on it.
	 */
	/*
	 * GHOST_IOC_COMMIT_TXN over a CPU set (flags 0: outcomes are in each
	 * txn's state, returns 0) or GHOST_IOC_SYNC_GROUP_TXN
	 * (GHOST_KCOMMIT_SYNC_GROUP: 1 = all committed, 0 = failed).
	 */
	int (*commit)(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, unsigned flags);
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
	int (*get_cpu_time)(struct ghost_kenclave *ke, int64_t gtid, uint64_t *ns);
	int (*gtid_of)(struct ghost_kenclave *ke, pid_t tid, int64_t *gtid);

	/*
	 * ---- GHOST_KCAP_USER_TASKS: how a ghost task lives under a backend
	 * that schedules in user space (the kernel sees ordinary futex waits
	 * elsewhere) ----
	 * task_block parks the caller until task_unblock (-> 0) or the timeout
	 * (absolute CLOCK_MONOTONIC ns, 0 = none; -> -ETIMEDOUT), emitting the
	 * messages a kernel would. An unblock that comes before the block is
	 * not lost.
	 */
	int (*task_block)(struct ghost_ktask *self, int64_t deadline_ns);
	int (*task_unblock)(struct ghost_ktask *task, int waker_cpu);
	/*
	 * A foreign wait: the caller is about to block outside the library (a
	 * system call, a C library lock). task_block_begin takes it off its CPU
	 * (TASK_BLOCKED): 0, then the caller makes its call and must call
	 * task_block_end, which wakes it (TASK_WAKEUP) and returns once it is on
	 * a CPU again (or no longer managed). -ESRCH: not a task on a CPU now
	 * (call through); -EBUSY: the thread is inside the library (a signal
	 * handler interrupted it there), call through. Both are safe in a
	 * signal handler as far as the preemption handler is.
	 */
	int (*task_block_begin)(struct ghost_ktask *self);
	int (*task_block_end)(struct ghost_ktask *self);
	int (*task_yield)(struct ghost_ktask *self);
	/* Does the enclave still manage this task? (false once it departed) */
	bool (*task_managed)(struct ghost_ktask *self);
	/* The calling ghost task is exiting (thread end). */
	void (*task_exit)(struct ghost_ktask *self);
	/*
	 * The calling task changed its nice value (what = GHOST_TASK_NICE, nice)
	 * or wants other CPUs (GHOST_TASK_AFFINITY, cpus: the backend keeps them
	 * for when the thread leaves, since it pins the thread itself): the
	 * backend reports it (TASK_PRIORITY_CHANGED / TASK_AFFINITY_CHANGED) and
	 * takes the task off its CPU, as the kernel does.
	 */
	int (*task_changed)(struct ghost_ktask *self, int what, int nice,
			    const struct ghost_cpuset *cpus);
	/*
	 * Holds off (on = true) or lets through again (false) preemption of
	 * the calling task, around the library's own short critical sections:
	 * a task preempted while holding a lock another task spins or sleeps on
	 * would stall both. Nests.
	 */
	void (*task_nopreempt)(struct ghost_ktask *self, bool on);
	/*
	 * The CPUs task gtid may run on: what its thread last asked for
	 * (task_changed GHOST_TASK_AFFINITY, else its affinity when it
	 * entered). A backend that pins ghost threads itself is the only one
	 * that knows; elsewhere the library asks the host kernel. -ESRCH: no
	 * such task.
	 */
	int (*task_affinity)(struct ghost_kenclave *ke, int64_t gtid, struct ghost_cpuset *out);

	/*
	 * ---- GHOST_KCAP_VIRTUAL: a simulator, which runs the agents itself in
	 * virtual time (one host thread, no real tasks) ----
	 * agent_spawn: fn(arg) becomes cpu's agent thread in the simulation,
	 * started by the simulation's next step (the caller has attached it).
	 */
	int (*agent_spawn)(struct ghost_kenclave *ke, int cpu, void (*fn)(void *arg), void *arg);
	/*
	 * Called by cpu's agent after each iteration of its loop (idle: the
	 * iteration found nothing to do): its cost is charged in virtual time
	 * and the rest of the simulation runs meanwhile.
	 */
	void (*agent_step)(struct ghost_kenclave *ke, int cpu, bool idle);
	/* Runs the simulation until cpu's agent fn has returned: 0, or -ETIMEDOUT. */
	int (*agent_join)(struct ghost_kenclave *ke, int cpu);
	/* Runs the simulation for ns more of virtual time (any caller outside it). */
	int (*advance)(struct ghost_kenclave *ke, int64_t ns);

	/* ---- GHOST_KCAP_TIMERS ---- */
	/*
	 * Arms (expires_ns > 0, absolute CLOCK_MONOTONIC) or disarms (0) the
	 * ghost timer `slot` of cpu: on expiry cpu's agent gets
	 * MSG_CPU_TIMER_EXPIRED {cpu, type, cookie}; period_ns > 0 re-arms.
	 */
	int (*timer_set)(struct ghost_kenclave *ke, int cpu, int slot, uint64_t type,
			 uint64_t cookie, int64_t expires_ns, int64_t period_ns);
};

/*
 * Is k a complete table of this version? 0, or -ENODEV with a sentence in
 * why ("the scx backend's table lacks enclave_list"); cached per backend.
 */
int ghost_kernel_check(const struct ghost_kernel_ops *k, char *why, size_t why_len);

struct ghost_enclave;
/* The backend handle of an open enclave (white-box tests; the library). */
struct ghost_kenclave *ghost_enclave_kernel_handle(const struct ghost_enclave *e);

#endif
