/*
 * ghost/sim.h - the simulator backend ("sim"): the embedded kernel's
 * scheduling class over virtual CPUs in virtual time, driven by one host
 * thread, with model tasks instead of threads.
 *
 * The same policies run unmodified: their agents run inside the simulation
 * (ghost_full_agent_start on a simulated enclave), and every decision they
 * make is charged in virtual time from a cost model. Runs are deterministic:
 * the same options (seed included) give the same events, and the same
 * trace_hash. docs/design.md ("Simulator") says how it works.
 */
#ifndef GHOST_SIM_H
#define GHOST_SIM_H

#include <ghost/common.h>
#include <ghost/enclave.h>

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Virtual nanoseconds an agent is charged (0 in an options struct: the default). */
struct ghost_sim_costs {
	int64_t msg_ns;	      /* per message it consumes */
	int64_t txn_ns;	      /* per txn of a commit */
	int64_t commit_ns;    /* per commit call */
	int64_t loop_ns;      /* per iteration of its loop */
	int64_t wake_ns;      /* from its wake-up to it running */
	int64_t preempt_ns;   /* from a preemption to the task off its CPU */
	int64_t switch_ns;    /* a task put on a CPU starts its work this much later */
	int64_t idle_poll_ns; /* a polling agent that found nothing to do looks again after
			       * this at the latest (sooner if anything happens) */
};

enum ghost_sim_workload {
	GHOST_SIM_RPC = 1,    /* open-loop Poisson requests served by worker tasks */
	GHOST_SIM_BLOCK_WAKE, /* tasks that run, block, wake, again */
	GHOST_SIM_SPIN,	      /* tasks that never block */
};

#define GHOST_SIM_MAX_SERVICE 8
#define GHOST_SIM_MAX_TASKS   200000

/* One class of an rpc service-time mix: pct percent of requests take ns. */
struct ghost_sim_service {
	double pct;
	int64_t ns;
};

/* Options that grow (see ghost_enclave_opts); zero fields are defaults. */
struct ghost_sim_opts {
	size_t sz;
	const char *topology; /* "SxCxT[,l3=N][,numa=N]" (ghost_topo_parse_synthetic), or NULL */
	int ncpus;	      /* without topology: 1..512 one-thread cores (default 8) */
	uint64_t seed;
	bool check; /* verify the invariants on every event (ghost_sim_results' violations) */
	enum ghost_sim_workload workload; /* default GHOST_SIM_RPC */
	uint32_t tasks;			  /* workers / tasks (default: 2 per CPU) */
	uint32_t antagonists;		  /* spinning tasks added */
	double rate;			  /* rpc: requests per second (default 50% load) */
	struct ghost_sim_service service[GHOST_SIM_MAX_SERVICE]; /* default 99.5:4us,0.5:10ms */
	int nservice;
	int64_t run_ns;	  /* block-wake: mean run between blocks (exponential; default 50us) */
	int64_t block_ns; /* block-wake: mean time blocked (exponential; default 200us) */
	struct ghost_sim_costs costs;
};

/* A latency distribution, in ns. */
struct ghost_sim_latency {
	uint64_t count;
	int64_t p50, p90, p99, p99_9, max;
	double mean;
};

struct ghost_sim_results {
	int64_t sim_ns;			  /* virtual time simulated */
	double host_s;			  /* host time spent simulating */
	uint64_t events;		  /* simulated scheduling events */
	uint64_t trace_hash;		  /* of every event and message, in order */
	uint64_t messages;		  /* produced */
	uint64_t commits;		  /* txns committed */
	uint64_t commit_failed;		  /* txns failed */
	uint64_t preemptions;		  /* tasks taken off a CPU by a commit or an agent */
	uint64_t requests;		  /* rpc: arrived */
	uint64_t completed;		  /* rpc: served; else run periods completed */
	uint64_t tasks_new;		  /* TASK_NEW produced */
	uint64_t tasks_ended;		  /* TASK_DEAD + TASK_DEPARTED produced */
	uint64_t violations;		  /* invariants broken (check mode) */
	char violation[200];		  /* the first, in words */
	struct ghost_sim_latency latency; /* rpc: arrival to completion; else wake-up to run */
	struct ghost_sim_latency wake_to_run;
	int ncpus;
	double cpu_busy;      /* mean share of the CPUs' time tasks ran, 0..1 */
	double agent_busy;    /* share of one CPU's time the agents were charged, summed */
	double busiest_agent; /* the most charged agent's share of its CPU */
};

/* The default costs (docs/performance.md says how they were calibrated). */
GHOST_API void ghost_sim_default_costs(struct ghost_sim_costs *out);
/*
 * Creates an ephemeral simulated enclave over every virtual CPU, with the
 * workload of opts (its tasks appear at the first ghost_sim_run). 0, or
 * -EINVAL (with a logged reason) for options out of range.
 */
GHOST_API int ghost_sim_create(const struct ghost_sim_opts *opts, struct ghost_enclave **out);
/* Runs the simulation for ns of virtual time: 0, or -EINVAL (not simulated). */
GHOST_API int ghost_sim_run(struct ghost_enclave *e, int64_t ns);
/* Ends the workload: no more arrivals, every task dies (TASK_DEAD); runs until the agents
 * have read it (at most 100 ms of virtual time). */
GHOST_API int ghost_sim_finish(struct ghost_enclave *e);
GHOST_API int ghost_sim_results(struct ghost_enclave *e, struct ghost_sim_results *out);

#ifdef __cplusplus
}
#endif

#endif
