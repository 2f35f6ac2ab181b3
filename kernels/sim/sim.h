/*
 * kernels/sim/sim.h - the simulator backend: the embedded kernel's state and
 * scheduling class (kernels/emu) over virtual CPUs in virtual time.
 *
 * Private to kernels/sim/. One host thread runs everything: an event heap
 * ordered by (virtual time, insertion), model tasks (no threads: emu task
 * records flagged EMU_TF_VIRTUAL whose work is a number of nanoseconds), and
 * the agents, each a fiber on a stack of its own that the event loop resumes
 * and that gives control back whenever it would block (a local yield or
 * commit), when an iteration of its loop ends, and whenever the cost it is
 * charged moves its clock past the next event. Nothing here may read the
 * host's clock or depend on the host's scheduling: that is what makes a
 * run reproducible.
 */
#ifndef GHOST_SIM_PRIV_H
#define GHOST_SIM_PRIV_H

#include "../emu/emu.h"
#include "internal.h"

#include <ghost/sim.h>

#include <stdbool.h>
#include <stdint.h>

/* ---- sim_fiber.c: stacks and switching ---- */
struct sim_fiber {
	void *sp; /* saved stack pointer while switched out */
	void *stack;
	size_t size;
	void (*fn)(void *arg);
	void *arg;
	struct sim_fiber *back; /* where it returns when fn ends */
	bool done;
	void *uc; /* a ucontext_t where there is no hand-written switch */
};
/* A fiber that will run fn(arg) when first switched to. 0 or -ENOMEM. */
int sim_fiber_init(struct sim_fiber *f, void (*fn)(void *), void *arg);
void sim_fiber_free(struct sim_fiber *f);
/* Saves the caller's context in from and resumes to. */
void sim_fiber_switch(struct sim_fiber *from, struct sim_fiber *to);

/* ---- sim_model.c: random numbers, distributions, latency histograms ---- */
struct sim_rng {
	uint64_t s[4];
};
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *r);
/* Exponential with this mean, at least 1 ns. */
int64_t sim_rng_exp(struct sim_rng *r, double mean_ns);
int64_t sim_draw_service(struct sim_rng *r, const struct ghost_sim_service *svc, int n);

#define SIM_HIST_SUB 64
#define SIM_HIST_EXP 40
struct sim_hist {
	uint64_t count;
	double sum;
	int64_t max;
	uint64_t b[SIM_HIST_EXP][SIM_HIST_SUB];
};
void sim_hist_add(struct sim_hist *h, int64_t ns);
void sim_hist_summary(const struct sim_hist *h, struct ghost_sim_latency *out);

/* FNV-1a over 64-bit words. */
static inline uint64_t sim_hash(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 0x100000001b3ull;
	}
	return h;
}
#define SIM_HASH_SEED 0xcbf29ce484222325ull

/* ---- sim_core.c: the engine ---- */
enum sim_ev_kind {
	SIM_EV_TASK = 1, /* a task's timer: its work done (on a CPU) or its sleep over */
	SIM_EV_AGENT,	 /* resume cpu's agent */
	SIM_EV_PREEMPT,	 /* a preemption reaches a task */
	SIM_EV_TICK,	 /* every CPU's tick */
	SIM_EV_ARRIVAL,	 /* an rpc request arrives */
	SIM_EV_TIMER,	 /* a ghost timer of cpu may be due */
};

struct sim_ev {
	int64_t t;
	uint64_t seq;
	uint32_t kind;
	uint32_t gen;
	int32_t id;
	int32_t pad;
};

enum sim_model_kind { SIM_M_WORKER = 1, SIM_M_BLOCKER, SIM_M_SPINNER };

struct sim_task {
	uint8_t kind;  /* enum sim_model_kind; 0 = no model task */
	bool has_work; /* worker: serving a request */
	bool woke;     /* runnable since a wake-up not yet run */
	bool seen_new; /* check: its TASK_NEW was produced */
	bool ended;    /* check: its TASK_DEAD / DEPARTED was produced */
	int16_t oncpu; /* the simulator's view: its CPU, or -1 */
	uint32_t gen;  /* bumped to cancel its pending timer */
	uint32_t last_seq;
	int64_t remaining; /* ns of work left in this run */
	int64_t since;	   /* on its CPU since (work starts switch_ns later) */
	int64_t arrival;   /* worker: the request's arrival */
	int64_t woke_at;
	int32_t next_idle; /* worker: the idle stack's link */
};

struct sim_agent {
	struct sim_fiber f;
	bool spawned, sleeping, queued;
	bool polled; /* its next resume is an idle poll (no event of its own) */
	uint32_t gen;
	int64_t busy_until; /* charged for what it did: runs again no sooner */
	int64_t busy_ns;    /* charged to it */
};

/* Messages of a queue not read yet: where each ends in the ring. */
struct sim_qtrack {
	uint32_t *end;
	uint32_t head, count, cap;
	bool listed;
};

struct sim {
	struct ghost_kenclave *ke;
	struct emu_virt virt;
	struct ghost_vclock vc;
	struct ghost_vclock *saved_vc; /* the caller's, while the simulation runs */
	char root[256];
	struct ghost_sim_opts opts;
	struct ghost_sim_costs costs;
	int ncpus;
	/* events */
	struct sim_ev *heap;
	size_t nheap, capheap;
	uint64_t seq;
	int64_t start_ns, finish_ns; /* the workload began / was told to finish */
	bool running;		     /* inside sim_advance */
	bool started;		     /* the workload's tasks exist */
	bool finishing;		     /* no new work: tasks die */
	/* agents */
	struct sim_fiber main;
	int cur;		  /* the CPU whose agent runs, -1: the event loop */
	int join_cpu;		  /* agent_join waits for this one */
	struct sim_agent *agents; /* [GHOST_MAX_CPUS] */
	/* tasks */
	struct sim_task *tasks; /* by emu record index */
	uint32_t max_tasks;
	uint32_t ntasks;
	int32_t *task_idx; /* model task n -> record index */
	int32_t idle_head; /* rpc: blocked workers */
	int64_t *reqs;	   /* rpc: arrival times waiting for a worker */
	uint32_t req_head, req_count, req_cap;
	struct sim_rng rng_arrival, rng_work;
	int32_t cpu_task[GHOST_MAX_CPUS]; /* check: the task on each CPU */
	int64_t cpu_busy[GHOST_MAX_CPUS];
	/* consumption accounting */
	struct sim_qtrack q[EMU_MAX_QUEUES];
	int32_t qlist[EMU_MAX_QUEUES];
	int nqlist;
	int64_t debt; /* charged to the running agent, not paid yet */
	/* results */
	uint64_t events, hash, msgs, requests, completed, preemptions, tasks_new, tasks_ended;
	uint64_t violations;
	char violation[200];
	struct sim_hist lat, wake;
	int64_t host_ns;
};

#define SIM_START_NS 1000000000ll /* virtual time begins at 1 s */

/* The simulation of an enclave of this backend (NULL for any other). */
struct sim *sim_of(struct ghost_kenclave *ke);
int sim_setup(struct ghost_kenclave *ke, const struct ghost_sim_opts *opts, int ncpus);
void sim_teardown(struct ghost_kenclave *ke);
int sim_advance(struct ghost_kenclave *ke, int64_t ns);
int sim_finish_workload(struct ghost_kenclave *ke);
int sim_get_results(struct ghost_kenclave *ke, struct ghost_sim_results *out);
/* The ops of the table that differ from the embedded kernel's. */
int sim_agent_online(struct ghost_kenclave *ke);
int sim_agent_attach(struct ghost_kenclave *ke, int cpu, int q);
void sim_agent_detach(struct ghost_kenclave *ke, int cpu);
int sim_commit(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, unsigned flags);
int sim_run(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier, uint32_t task_barrier,
	    int cpu, int run_flags);
int sim_timer_set(struct ghost_kenclave *ke, int cpu, int slot, uint64_t type, uint64_t cookie,
		  int64_t expires_ns, int64_t period_ns);
int sim_agent_spawn(struct ghost_kenclave *ke, int cpu, void (*fn)(void *), void *arg);
void sim_agent_step(struct ghost_kenclave *ke, int cpu, bool idle);
int sim_agent_join(struct ghost_kenclave *ke, int cpu);

#endif
