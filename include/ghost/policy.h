/*
 * ghost/policy.h - what a scheduling policy is to libghost: its hooks, the
 * parameters it declares, the built-in policies, and policies loaded from
 * shared objects (plugins).
 *
 * A policy is written once for every backend and reaches the kernel only
 * through the public API. The library does the plumbing every policy
 * repeats (its state's memory, the scheduler base, discovering the tasks of
 * a live enclave, resynchronising after a ring overflow, the generic stats)
 * when the policy asks for it by declaring state_size and sched_ops; a hook
 * left NULL has the default its comment gives. docs/policies.md is the guide.
 */
#ifndef GHOST_POLICY_H
#define GHOST_POLICY_H

#include <ghost/common.h>
#include <ghost/cpuset.h>
#include <ghost/sched.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_agent;
struct ghost_full_agent;

/*
 * The version of struct ghost_policy and of what a policy's hooks are
 * handed. A plugin records the one it was built with (GHOST_POLICY_PLUGIN);
 * a loader refuses any other.
 */
#define GHOST_POLICY_ABI 1

/* The kinds of value a parameter takes, and where it is stored. */
enum ghost_param_type {
	GHOST_PARAM_INT,      /* int64_t; decimal (leading zeros too), or 0x hex */
	GHOST_PARAM_DURATION, /* int64_t nanoseconds; a number and a unit: 300ns, 50us, 2ms,
			       * 1s (0 needs none) */
	GHOST_PARAM_BOOL,     /* bool; true/false, yes/no, on/off, 1/0 */
	GHOST_PARAM_CPU,      /* int; a CPU number, or "auto" (stored as -1) */
};

/* Flags of a parameter. */
#define GHOST_PARAM_POWER_OF_2 0x1u /* INT: only powers of two (a ring size) */

/*
 * One parameter a policy declares: `-o name=value` sets it. Values are
 * checked against [min, max] (INT and DURATION; both 0 means any value >= 0;
 * a CPU is checked against the enclave when the agent starts). The default
 * is mandatory and must pass the same checks.
 */
struct ghost_policy_param {
	const char *name; /* letters, digits and '_'; NULL ends the list */
	enum ghost_param_type type;
	size_t offset;	  /* of the value in the policy's config struct */
	const char *def;  /* the default, written as a user would */
	int64_t min, max; /* INT, DURATION: the allowed range */
	const char *help; /* one line */
	unsigned flags;	  /* GHOST_PARAM_POWER_OF_2 */
};

/*
 * The message channels the library makes for a policy before its init (and
 * destroys after its fini). Their ring size is the policy's parameter
 * "queue_elems" if it declares one (an int: a power of two from
 * GHOST_MIN_QUEUE_ELEMS, enough for the largest message, to
 * GHOST_MAX_QUEUE_ELEMS), else GHOST_MAX_QUEUE_ELEMS.
 */
#define GHOST_MIN_QUEUE_ELEMS 16

/* The largest config a policy may declare. */
#define GHOST_POLICY_CONFIG_MAX 4096
enum ghost_policy_channels {
	GHOST_POLICY_CHANNELS_OWN = 0, /* none: the policy makes its own */
	/* One per enclave CPU, woken on that CPU and that CPU's agent queue;
	 * the first CPU's is the enclave's default queue (TASK_NEW). */
	GHOST_POLICY_CHANNELS_PER_CPU,
	/* One, the default queue, waking nobody: a polling global agent's. */
	GHOST_POLICY_CHANNELS_GLOBAL,
};

/* A scheduling policy, written once for every backend. */
struct ghost_policy {
	const char *name;    /* letters, digits, '-' and '_' */
	const char *summary; /* one line */

	/* ---- declared: what the library does for the policy ---- */
	/* Its parameters (ended by a NULL name), or NULL. */
	const struct ghost_policy_param *params;
	/* The struct params fill (ghost_full_agent_policy_config); 0 = none;
	 * at most GHOST_POLICY_CONFIG_MAX. */
	size_t config_size;
	/*
	 * > 0: the library allocates the policy's state (zeroed, this many
	 * bytes) before init and frees it after fini; init finds it in *state
	 * and must leave *state as it is, and fini must not free it.
	 */
	size_t state_size;
	/*
	 * With state_size: the state begins with a struct ghost_sched that the
	 * library initialises with these callbacks (task records of task_size
	 * bytes, 0 = struct ghost_task) before init and finishes after fini.
	 * The library then also discovers the tasks of an enclave it takes over
	 * (after enclave_ready), resynchronises a channel that overflowed when
	 * the callbacks have task_resync and no channel_overflow, and builds the
	 * stats from the base under its lock (ghost_sched.lock).
	 */
	const struct ghost_sched_ops *sched_ops;
	size_t task_size;
	/* The enclave needs at least this many CPUs (0 or 1: any). A centralized
	 * policy whose global agent keeps a CPU for itself says 2. */
	uint32_t min_cpus;
	/* Channels the library makes (ghost_full_agent_channel). */
	enum ghost_policy_channels channels;

	/* ---- hooks ---- */
	/*
	 * Sets up the policy over the enclave (queues, scheduler state) before
	 * any agent thread starts. Mandatory. Without state_size it allocates
	 * its own state and sets *state. Whatever it returns, fini runs after
	 * it if *state is set, so fini must take a half-made state. (If the
	 * library's own set-up fails before init, neither runs.)
	 */
	int (*init)(struct ghost_full_agent *fa, void **state);
	/* Frees what init made (NULL: nothing to free beyond what the library owns). */
	void (*fini)(void *state);
	/* In the agent thread, before attach: the queue for cpu's own messages
	 * (-1 = the enclave default queue). NULL: the CPU's own channel with
	 * GHOST_POLICY_CHANNELS_PER_CPU, else the default queue. */
	int (*agent_queue)(void *state, struct ghost_agent *a);
	/* In the agent thread, once the enclave is ready. NULL: nothing. */
	void (*agent_start)(void *state, struct ghost_agent *a);
	/* One iteration of the agent loop of a's CPU. Mandatory. */
	void (*agent_loop)(void *state, struct ghost_agent *a);
	/* May a's loop end now that finishing was asked for? NULL: yes (tasks
	 * left are released with the enclave or wait for the next agent). */
	bool (*agent_may_exit)(void *state, struct ghost_agent *a);
	/* Runs once in the full agent after every agent is attached and before
	 * the enclave is declared ready (default queue...). NULL: nothing. */
	int (*enclave_ready)(void *state);
	/* With sched_ops: how many tasks wait in the policy's queues, called
	 * under the base's lock. NULL: the tasks whose status word says
	 * runnable and not on a CPU. */
	uint32_t (*runnable)(void *state);
	/*
	 * Writes a one-line summary of the policy's counters. With sched_ops
	 * only the policy's own ones, appended to the generic line the library
	 * writes, under the base's lock. Returns the length written (less than
	 * len), or -ENOSPC if it does not fit. NULL: nothing of its own.
	 */
	int (*format_stats)(void *state, char *buf, size_t len);
	/* Without sched_ops: fills *out (any thread, any time). NULL: the policy
	 * tells nothing. With sched_ops the library fills it. */
	void (*get_stats)(void *state, struct ghost_policy_stats *out);
};

/*
 * Checks a policy's declaration: a name, init and agent_loop, well-formed
 * parameters whose defaults parse and fit config_size, a state large enough
 * for the scheduler base. 0, or -EINVAL with the reason in why.
 */
GHOST_API int ghost_policy_check(const struct ghost_policy *p, char *why, size_t len);

/* The parameter called name, or NULL. */
GHOST_API const struct ghost_policy_param *ghost_policy_param_find(const struct ghost_policy *p,
								   const char *name);
/* Fills config (config_size bytes) with every parameter's default. */
GHOST_API int ghost_policy_config_defaults(const struct ghost_policy *p, void *config);
/*
 * Sets one parameter from its text: 0, -ENOENT (no such parameter),
 * -EINVAL (not a value of its type) or -ERANGE (outside its range), with a
 * sentence naming the parameter in why.
 */
GHOST_API int ghost_policy_config_set(const struct ghost_policy *p, void *config, const char *key,
				      const char *value, char *why, size_t len);
/* The same from "key=value" (-EINVAL without '='). */
GHOST_API int ghost_policy_config_parse(const struct ghost_policy *p, void *config,
					const char *key_value, char *why, size_t len);
/* A parameter's value in config, as text that ghost_policy_config_set takes. */
GHOST_API int ghost_policy_param_format(const struct ghost_policy_param *param, const void *config,
					char *buf, size_t len);
/* An INT or DURATION parameter's range as a user writes it ("16..65536",
 * "1us..3600s", "0ns..any"); -EINVAL for other types, -ENOSPC. */
GHOST_API int ghost_policy_param_range(const struct ghost_policy_param *param, char *buf,
				       size_t len);
/* The first CPU parameter whose CPU (set in config) is not in cpus; NULL if none. */
GHOST_API const struct ghost_policy_param *ghost_policy_cpu_outside(
	const struct ghost_policy *p, const void *config, const struct ghost_cpuset *cpus);
/* The name of a parameter type ("int", "duration", "bool", "cpu"). */
GHOST_API const char *ghost_param_type_name(enum ghost_param_type type);

/* Every built-in policy, NULL-terminated. */
GHOST_API const struct ghost_policy *const *ghost_policy_all(void);
/* A built-in policy by name; NULL if there is none. */
GHOST_API const struct ghost_policy *ghost_policy_find(const char *name);

/* What a plugin exports, under the name ghost_policy_plugin. */
struct ghost_policy_plugin {
	uint32_t abi;	      /* GHOST_POLICY_ABI of the headers it was built with */
	uint32_t policy_size; /* sizeof(struct ghost_policy) there */
	const struct ghost_policy *policy;
};

/*
 * Makes a policy loadable from the shared object this file is built into:
 *     GHOST_POLICY_PLUGIN(my_policy);
 * (The library's own build defines GHOST_POLICY_BUILTIN when it compiles an
 * example policy in as a built-in one: then nothing is exported.)
 */
#ifdef GHOST_POLICY_BUILTIN
#define GHOST_POLICY_PLUGIN(policy) _Static_assert(sizeof(policy) > 0, "built in")
#else
#define GHOST_POLICY_PLUGIN(policy)                                                           \
	extern const struct ghost_policy_plugin ghost_policy_plugin                           \
		__attribute__((visibility("default")));                                       \
	const struct ghost_policy_plugin ghost_policy_plugin = { GHOST_POLICY_ABI,            \
								 sizeof(struct ghost_policy), \
								 &(policy) }
#endif

/*
 * Loads a policy from a plugin (dlopen of path, then its
 * ghost_policy_plugin, checked for the ABI and with ghost_policy_check).
 * The plugin is linked against the program that loads it: build it with
 * `cc -shared -fPIC $(pkg-config --cflags libghost)`. It stays loaded for
 * the life of the process. 0, or -ENOENT / -ENOEXEC / -EPROTO (another
 * ABI) / -EINVAL / -ENOTSUP (a statically linked program), with why.
 */
GHOST_API int ghost_policy_load(const char *path, const struct ghost_policy **out, char *why,
				size_t len);
/*
 * A built-in policy's name, or a plugin's path (anything with a '/' in it):
 * what `ghost-agent --policy` takes. -ENOENT names the known policies.
 */
GHOST_API int ghost_policy_resolve(const char *name_or_path, const struct ghost_policy **out,
				   char *why, size_t len);

#ifdef __cplusplus
}
#endif

#endif
