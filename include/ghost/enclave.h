/*
 * ghost/enclave.h - enclaves: a set of CPUs scheduled by one agent process.
 *
 * An enclave is created on (or attached to through) one kernel backend,
 * chosen by name at creation: that is the only place a program says which
 * backend it wants. The enclave object owns the process's mappings of the
 * enclave's shared memory (per-CPU txns, status-word regions) and the
 * per-CPU agent table; it never schedules anything itself.
 */
#ifndef GHOST_ENCLAVE_H
#define GHOST_ENCLAVE_H

#include <ghost/abi.h>
#include <ghost/common.h>
#include <ghost/cpuset.h>
#include <ghost/kernel.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_enclave;
struct ghost_topo;
struct ghost_channel;

/*
 * Options that grow, as every public *_opts struct: sz is the size the
 * caller was built with (0: this header's). A smaller sz (an older caller)
 * gets the default for every field it does not have; a larger one (a newer
 * caller) is accepted only if every byte this library does not know is zero
 * (-E2BIG otherwise). A zero field always means the default.
 */
struct ghost_enclave_opts {
	size_t sz;	    /* sizeof(struct ghost_enclave_opts), or 0: lets the struct grow */
	const char *kernel; /* backend name; NULL = ghost_kernel_default() */
	const char *root;   /* backend namespace root; NULL = its default */
	uint64_t id;	    /* create: 0 = first free; attach: required; at most
					   GHOST_ENCLAVE_ID_MAX (-EINVAL past it) */
	const struct ghost_cpuset *cpus; /* create: required */
	uint32_t max_tasks;		 /* create: capacity hint; 0 = backend default */
	bool ephemeral;			 /* create: destroy when this process closes it */
};

/*
 * Creates a new enclave over opts->cpus (every CPU must exist on this
 * machine: -EINVAL otherwise) with one status-word region (id 0).
 * -EEXIST if opts->id is taken, -ENODEV if the backend cannot run here.
 */
GHOST_API int ghost_enclave_create(const struct ghost_enclave_opts *opts,
				   struct ghost_enclave **out);
/* Opens the existing enclave opts->id (-ENOENT if there is none). */
GHOST_API int ghost_enclave_attach(const struct ghost_enclave_opts *opts,
				   struct ghost_enclave **out);
/*
 * ghost_enclave_attach for a program started together with the agent that
 * creates the enclave: while the enclave is not there yet, half made or
 * being destroyed (-ENOENT, -EINVAL, -ENODATA, -EXDEV from the backend) it
 * tries again every 20 ms until deadline_ns (ghost_now_ns's clock), then
 * returns the last error (a missing enclave is logged once).
 */
GHOST_API int ghost_enclave_attach_wait(const struct ghost_enclave_opts *opts, int64_t deadline_ns,
					struct ghost_enclave **out);
/*
 * Waits until an agent serves e ("agent_online"; a backend that cannot tell
 * counts as served): 0, -ETIMEDOUT at deadline_ns, or the backend's error
 * (-ENODEV: the enclave is gone).
 */
GHOST_API int ghost_enclave_wait_agent(struct ghost_enclave *e, int64_t deadline_ns);
/* Tears the enclave down for everyone: its tasks go back to normal threads. */
GHOST_API int ghost_enclave_destroy(struct ghost_enclave *e);
/* Releases this process's handle (an ephemeral enclave is destroyed). */
GHOST_API void ghost_enclave_close(struct ghost_enclave *e);

GHOST_API uint64_t ghost_enclave_id(const struct ghost_enclave *e);
GHOST_API const struct ghost_cpuset *ghost_enclave_cpus(const struct ghost_enclave *e);
/* The backend the enclave lives on (see ghost/kernel.h). */
GHOST_API const struct ghost_kernel_ops *ghost_enclave_kernel(const struct ghost_enclave *e);
/* The machine topology (shared by all enclaves of the process). */
GHOST_API const struct ghost_topo *ghost_enclave_topology(const struct ghost_enclave *e);

/* ghostfs-style files ("status", "cpulist", "tasks", tunables...). */
GHOST_API int ghost_enclave_read_file(struct ghost_enclave *e, const char *name, char *buf,
				      size_t len);
GHOST_API int ghost_enclave_write_file(struct ghost_enclave *e, const char *name, const char *text);
/*
 * One enclave ctl command, as ghostfs takes it: "destroy", "discover tasks",
 * "create sw_region <id> <node>", "become agent <cpu> <queue>", or one the
 * backend adds. Unknown text or a number out of its bounds: -EINVAL; text of
 * GHOST_CTL_MAX bytes or more: -E2BIG; -EOPNOTSUPP: the backend cannot do it.
 */
#define GHOST_CTL_MAX 256
GHOST_API int ghost_enclave_ctl(struct ghost_enclave *e, const char *cmd);
/* Gives the enclave exactly these CPUs (-EBUSY: one belongs to another enclave). */
GHOST_API int ghost_enclave_set_cpus(struct ghost_enclave *e, const struct ghost_cpuset *cpus);
/*
 * Has the enclave's kernel side stopped by itself (a sched_ext scheduler
 * unloaded, an embedded enclave destroyed or reaped)? 1 with the reason in
 * why, 0 while it runs (and always on backends without GHOST_KCAP_SELF_EXIT),
 * or a negative errno.
 */
GHOST_API int ghost_enclave_exit_state(struct ghost_enclave *e, char *why, size_t why_len);

/*
 * A single agent, for programs that run their own loop on one CPU (hand-made
 * agents, benchmarks) instead of a full agent: the calling thread becomes
 * cpu's agent, pinned there, its CPU messages going to q (NULL: the enclave's
 * default queue). -EBUSY: cpu has a live agent; -ENODEV: cpu is not in the
 * enclave or the enclave is gone; -EINVAL: bad arguments.
 */
GHOST_API int ghost_enclave_agent_attach(struct ghost_enclave *e, int cpu,
					 const struct ghost_channel *q);
/* The calling thread stops being cpu's agent (it must be that agent). */
GHOST_API void ghost_enclave_agent_detach(struct ghost_enclave *e, int cpu);

enum ghost_tunable {
	GHOST_TUNABLE_DELIVER_TICKS,
	GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY,
	GHOST_TUNABLE_DELIVER_AGENT_RUNNABILITY,
	GHOST_TUNABLE_COMMIT_AT_TICK,
	GHOST_TUNABLE_RUNNABLE_TIMEOUT_MS,
	GHOST_TUNABLE_WAKE_ON_WAKER_CPU,
	GHOST_TUNABLE_LIVE_DANGEROUSLY,
	GHOST_TUNABLE_SWITCHTO_DISABLED,
	GHOST_TUNABLE_COUNT
};
/* The ghostfs file name of a tunable ("deliver_ticks"...), NULL if unknown. */
GHOST_API const char *ghost_tunable_name(enum ghost_tunable t);
/* -EINVAL for a value outside the tunable's bounds (docs/design.md); the old value stays. */
GHOST_API int ghost_enclave_set_tunable(struct ghost_enclave *e, enum ghost_tunable t,
					long long value);
GHOST_API int ghost_enclave_get_tunable(struct ghost_enclave *e, enum ghost_tunable t,
					long long *value);

/*
 * Advertises that an agent serves this enclave (exclusive, like holding
 * ghostfs agent_online open): -EBUSY if another agent already does.
 */
GHOST_API int ghost_enclave_agent_online(struct ghost_enclave *e);
GHOST_API void ghost_enclave_agent_offline(struct ghost_enclave *e);

/* The txn of cpu in the shared per-CPU array, NULL if cpu is not ours. */
GHOST_API struct ghost_txn *ghost_enclave_txn(struct ghost_enclave *e, int cpu);

struct ghost_agent;
/* The agent registered for cpu in this process, NULL if none. */
GHOST_API struct ghost_agent *ghost_enclave_agent(struct ghost_enclave *e, int cpu);

#ifdef __cplusplus
}
#endif

#endif
