/*
 * ghost/agent.h - agents: one thread per enclave CPU, pinned to it, running
 * a policy's loop; the full agent that owns them; the agent-process wrapper.
 *
 * Lifecycle of each agent thread: attach to its CPU (ready) -> wait until
 * every agent of the enclave is attached (enclave ready) -> call the policy's
 * loop until told to finish and the policy has nothing left -> detach.
 * Both models fit: per-CPU (every agent schedules its own CPU) and
 * centralized (one global agent schedules every CPU, the rest local-yield).
 * This layer makes no scheduling decision and never prints.
 */
#ifndef GHOST_AGENT_H
#define GHOST_AGENT_H

#include <ghost/common.h>
#include <ghost/cpuset.h>
#include <ghost/enclave.h>
#include <ghost/policy.h>
#include <ghost/sched.h>
#include <ghost/txn.h>

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_agent;
struct ghost_full_agent;

enum ghost_agent_prio {
	GHOST_AGENT_PRIO_AUTO = 0, /* SCHED_FIFO if the process may, else normal */
	GHOST_AGENT_PRIO_RT,	   /* SCHED_FIFO or fail */
	GHOST_AGENT_PRIO_NORMAL,   /* stay in the normal class */
};

/* Options that grow: see ghost_enclave_opts (sz 0 = this version; zero = the default). */
struct ghost_full_agent_opts {
	size_t sz;		       /* sizeof(struct ghost_full_agent_opts), or 0 */
	struct ghost_enclave *enclave; /* created or attached by the caller */
	const struct ghost_policy *policy;
	const void *policy_config; /* handed to the policy's init */
	enum ghost_agent_prio prio;
	bool take_over; /* attach to a live enclave: discover its tasks */
	/*
	 * Records every message the agents consume and every commit outcome
	 * (ghost/trace.h) into trace_size bytes (0: GHOST_TRACE_DEFAULT_SIZE)
	 * and writes them to trace_path: an empty trace at the start (a path
	 * that cannot be written fails the start), the whole trace once the
	 * agents have stopped (ghost_full_agent_finish or _stop), also after a
	 * failed start. NULL: no recording.
	 */
	const char *trace_path;
	size_t trace_size;
};

/* Starts one agent per enclave CPU and returns once all are scheduling. */
GHOST_API int ghost_full_agent_start(const struct ghost_full_agent_opts *opts,
				     struct ghost_full_agent **out);
/*
 * Asks every agent to finish, wakes them, joins them, releases the
 * enclave's agent claim. Safe to call once; frees fa.
 */
GHOST_API int ghost_full_agent_stop(struct ghost_full_agent *fa);
/*
 * Asks every agent to finish, wakes them and joins them, and writes the
 * trace (trace_path); the full agent's stats and stats line still read
 * (final, nothing changes them any more) until ghost_full_agent_stop. Returns
 * how many records the trace file got (0 without one), or the negative errno
 * of writing it; a second call does nothing and returns 0.
 */
GHOST_API int ghost_full_agent_finish(struct ghost_full_agent *fa);
GHOST_API struct ghost_enclave *ghost_full_agent_enclave(const struct ghost_full_agent *fa);
GHOST_API const void *ghost_full_agent_policy_config(const struct ghost_full_agent *fa);
GHOST_API void *ghost_full_agent_policy_state(const struct ghost_full_agent *fa);
/*
 * A channel the library made for the policy (struct ghost_policy's
 * channels): cpu's with PER_CPU, the one (any cpu) with GLOBAL; NULL if
 * there is none.
 */
GHOST_API struct ghost_channel *ghost_full_agent_channel(const struct ghost_full_agent *fa,
							 int cpu);
GHOST_API bool ghost_full_agent_is_rt(const struct ghost_full_agent *fa);
GHOST_API int ghost_full_agent_format_stats(struct ghost_full_agent *fa, char *buf, size_t len);

/* A snapshot of a running full agent: its policy's view, the enclave's
 * commit counters, and which CPUs no other thread wants (CPU_AVAIL). */
struct ghost_agent_stats {
	int64_t now_ns;
	struct ghost_policy_stats policy;
	struct ghost_txn_counts txn;
	struct ghost_cpuset cpus;      /* the agents' CPUs */
	struct ghost_cpuset available; /* ... whose status word says CPU_AVAIL */
};
GHOST_API int ghost_full_agent_stats(struct ghost_full_agent *fa, struct ghost_agent_stats *out);

/* Per-agent accessors for policies. */
GHOST_API int ghost_agent_cpu(const struct ghost_agent *a);
GHOST_API struct ghost_enclave *ghost_agent_enclave(const struct ghost_agent *a);
GHOST_API const struct ghost_status_word *ghost_agent_status_word(const struct ghost_agent *a);
/* True once the full agent was asked to stop. */
GHOST_API bool ghost_agent_finishing(const struct ghost_agent *a);
GHOST_API void *ghost_agent_policy_data(const struct ghost_agent *a);
/* ghost_full_agent_channel of a's CPU. */
GHOST_API struct ghost_channel *ghost_agent_channel(const struct ghost_agent *a);
GHOST_API void ghost_agent_set_policy_data(struct ghost_agent *a, void *data);

/*
 * Called by agent a's own thread: from now on it polls (a global agent that
 * never sleeps), or it stops polling. A polling agent leaves the real-time
 * class for the normal one, at the strongest nice the process may use:
 * Linux throttles a real-time thread that never sleeps (sched_rt_runtime_us,
 * by default 50 ms of every second go to the other classes), and every
 * scheduling decision would stop for that long. When polling ends the
 * thread returns to the class the full agent gave it. Cheap when nothing
 * changes; 0 or a negative errno from the system calls.
 */
GHOST_API int ghost_agent_set_polling(struct ghost_agent *a, bool polling);
/*
 * A polling agent's round found nothing to do: another thread that waits
 * for this CPU runs now (it may hold a lock the next commit needs); with
 * nobody waiting this returns at once.
 */
GHOST_API void ghost_agent_relax(struct ghost_agent *a);

/*
 * The agent-process wrapper: lets the full agent run until SIGINT or
 * SIGTERM arrives (or *stop becomes true, or the kernel side of the enclave
 * stops on its own), calling tick every interval_ms (for stats lines; may be
 * NULL). Returns the signal that ended it, 0 for *stop, or -ENOTCONN when the
 * kernel side stopped (its reason is in the enclave file "exit_info"); the
 * caller then reads its last stats and calls ghost_full_agent_stop().
 */
GHOST_API int ghost_agent_process_run(struct ghost_full_agent *fa, int interval_ms,
				      void (*tick)(struct ghost_full_agent *fa, void *ctx),
				      void *ctx, volatile int *stop);

#ifdef __cplusplus
}
#endif

#endif
