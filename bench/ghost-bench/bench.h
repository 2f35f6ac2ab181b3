/*
 * bench/ghost-bench/bench.h - the state of one ghost-bench run, and what its phases share.
 *
 * One struct bench holds everything a run knows (options, CPUs, result rows, the enclave,
 * its queues, agents and tasks); every phase takes it as its first argument. The phases,
 * a file each:
 *
 *   main.c       the command line and the order of the run
 *   rows.c       samples and result rows: figures, their baselines and targets
 *   baselines.c  null system call, futex and cache-line hand-offs, signal, CPU stalls
 *   memory.c     the agents' memory (and the --rss-child role)
 *   backend.c    the enclave, its two agents and its tasks
 *   micro.c      the operations: message delivery, local and remote schedule, group
 *                commits, global-agent throughput
 *   preempt.c    preempting a spinner of another process (and the --preempt-child role)
 *   net.c        the embedded kernel's safety net: how soon a task asleep in a raw system
 *                call of another process is reported blocked, then woken (--net-child)
 *   macro.c      the rpc macro benchmark (ghost-agent and ghost-workload processes)
 *   procs.c      the processes the bench starts and its scratch directory: both go with it
 *   report.c     the table, the JSON list, the SVG plot
 *
 * The bench reaches a kernel backend only through libghost's public API: it never looks
 * inside a struct ghost_kernel_ops.
 */
#ifndef GHOST_BENCH_H
#define GHOST_BENCH_H

#include <ghost/ghost.h>

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define PROG "ghost-bench"

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

#define MAX_LOADS  16
#define MAX_REPEAT 9
#define MAX_ROWS   256

/* ---- options ---- */

struct bench_opts {
	const char *kernel;
	long iterations; /* per operation, after the warm-up; 0 = the default */
	bool quick;
	bool macro;
	bool micro; /* the operations (everything but the macro benchmark) */
	bool json;
	enum ghost_agent_prio prio; /* of the sleeping agent */
	int loads[MAX_LOADS];	    /* macro: offered loads, req/s */
	int nloads;
	double macro_seconds; /* macro: measured seconds per point */
	int repeat;	      /* macro: runs per point (medians are shown) */
	bool antagonist;      /* macro: also every point with an antagonist */
	const char *svg;      /* macro: write the plot here */
	char slice_us[32];    /* macro: shinjuku's --time-slice */
};

/* ---- samples and result rows ---- */

struct samples {
	double *v;
	size_t n, cap;
};

struct macro_cfg;

struct row {
	char name[64];	 /* stable identifier */
	char label[112]; /* for people */
	bool timed;	 /* median/p99/min are ns */
	double med, p99, min, p999;
	size_t n;
	char base[64];	       /* name of the baseline row, "" = none */
	double target;	       /* NAN = none */
	const char *target_on; /* "ratio" or "value" */
	double value;	       /* non-time rows (NAN if unused) */
	const char *unit;
	double thr, offered;	       /* macro rows */
	const struct macro_cfg *macro; /* macro rows: the scheduler */
	bool antagonist;	       /* macro and headline rows */
	double antag_cpus;
	bool headline, below_saturation;
	/* macro rows run --repeat times: each run's figures, the row shows their medians */
	double rep[6][MAX_REPEAT]; /* p50, p99, p99.9, throughput, antagonist CPUs,
					   generator lag p99 */
	int nrep;
	char note[320];
	bool failed;
};

/* The macro benchmark's schedulers: plain Linux threads and each policy. */
struct macro_cfg {
	const char *name;   /* row and plot name */
	const char *policy; /* NULL: plain Linux threads */
	bool worker_cpus;   /* Linux: only on the CPUs the enclave gives its tasks */
	bool prio_table;    /* the workload publishes a PrioTable */
	bool sliced;	    /* gets --time-slice (opts.slice_us) */
};

extern const struct macro_cfg macro_cfgs[];
extern const int n_macro_cfgs;

/* ---- the backend: tasks and agents ---- */

enum task_mode { MODE_BLOCK, MODE_YIELD, MODE_EXIT };
enum agent_view { V_RUNNABLE, V_ONCPU, V_BLOCKED, V_WAKING };

struct btask {
	const char *name;
	struct ghost_thread *th;
	pid_t tid;
	int64_t gtid;
	struct ghost_sw_info swi;
	const struct ghost_status_word *sw;
	uint32_t seq; /* agent side: seqnum of the last message read for it */
	int view;     /* agent side: enum agent_view */
	bool queued;  /* throughput: on the agent's FIFO */
	/* written by the task */
	int mode;
	uint32_t word; /* MODE_BLOCK waits on it (always 0) */
	int64_t t_run; /* first thing after it was put on a CPU */
	int64_t t_ev;  /* just before it blocks or yields */
	uint64_t runs;
};

enum { T_LOCAL, T_G1, T_G2, NTASKS };

/* The agent's view of a task of a child process (preempt.c, net.c). */
struct child_task {
	int64_t gtid;
	uint32_t seq;
	int view; /* enum agent_view */
	const struct ghost_status_word *sw;
};

/* What the main thread asks CPU B's agent to do. */
enum { CMD_IDLE, CMD_LOCAL, CMD_STOP };

/* CPU B's agent: a thread that sleeps in local yield, or runs the local measurement. */
struct sleeping_agent {
	pthread_t th;
	int attach_err;
	uint32_t ready;
	int cmd;
	uint32_t done;
	int abort;
	int err;
	char why[160];
	struct samples deliv, sched;
	long fails;
};

/* ---- the run ---- */

struct bench {
	struct bench_opts opt;
	long n_iter;		 /* iterations per operation */
	long n_warm;		 /* warm-up iterations */
	int cpu_a, cpu_b;	 /* the global agent's CPU and the other one */
	cpu_set_t orig_affinity; /* the process's mask at start: children get it back */
	char self_exe[PATH_MAX];
	char bin_dir[PATH_MAX]; /* where ghost-agent, ghostctl and ghost-workload are */
	char root[256];		/* the run's scratch directory (namespace roots) */
	bool progress_on;

	struct row rows[MAX_ROWS];
	int nrows;

	/* the backend (micro phases) */
	const char *kernel_name; /* the backend's, as libghost names it */
	struct ghost_enclave *enclave;
	struct ghost_channel *queue_a; /* the enclave's default queue: nobody is woken (polled) */
	struct ghost_channel *queue_b; /* CPU B's agent's queue: wakes CPU B's agent */
	const struct ghost_status_word *agent_word_a, *agent_word_b;
	bool park_spin_ok;
	const char *prio_used; /* the sleeping agent's class, as run */
	long unavail_waits;    /* times CPU B was found unavailable (wait_cpu_b_available) */
	struct btask tasks[NTASKS];
	struct sleeping_agent agent_b;
};

/* Baselines that ratios refer to. */
#define B_SYSCALL "baseline_null_syscall"
#define B_FUTEX	  "baseline_futex_handoff_same_cpu"
#define B_LINE	  "baseline_cacheline_handoff_cross_cpu"
#define B_XWAKE	  "baseline_futex_wake_cross_cpu"

/* main.c */
void progress(const struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* rows.c */
int64_t now_ns(void);
int pin_self(int cpu);
void samples_add(struct samples *s, double x);
void samples_free(struct samples *s);
int cmp_double(const void *a, const void *b);
double samples_quantile(const double *sorted, size_t n, double q);
struct row *row_new(struct bench *b, const char *name, const char *label);
struct row *row_find(struct bench *b, const char *name);
void row_note(struct row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct row *row_time(struct bench *b, const char *name, const char *label, struct samples *s,
		     const char *base, double target);
double row_ratio(struct bench *b, const struct row *r);
int row_met(struct bench *b, const struct row *r);
void phase_fail(struct row *r, const char *why, long fails);

/* baselines.c */
void run_baselines(struct bench *b);

/* memory.c */
void mem_rows(struct bench *b);
int rss_child(long n);

/* backend.c */
void setup_backend(struct bench *b);
void create_tasks(struct bench *b);
void teardown_backend(struct bench *b);
struct btask *msg_task(struct bench *b, const struct ghost_msg *m);
struct ghost_txn_opts txn_opts(int64_t target, uint32_t barrier);
void set_park_spin(struct bench *b, long ns);
bool wait_cpu_b_available(struct bench *b, int ms);
void note_unavail(struct bench *b, struct row *r, long before);
void drain_a(struct bench *b);
bool find_child_tasks(struct bench *b, const int32_t *tid, struct child_task *pt, int n,
		      int64_t deadline);
void stop_child(struct bench *b, pid_t child, struct child_task *pt, int n);

/* micro.c */
void local_phase(struct bench *b);
void run_emu_ops(struct bench *b);

/* preempt.c */
void preempt_phase(struct bench *b);
int preempt_child(const char *root, const char *id);

/* net.c */
void net_phase(struct bench *b);
int net_child(const char *root, const char *id);

/* macro.c */
void run_macro(struct bench *b);
/* ghost-agent running c's policy on enclave 1 of root (-1, r failed: it did not come online),
 * and its stop (SIGINT, SIGKILL after 10 s). */
pid_t macro_agent(struct bench *b, const struct macro_cfg *c, const char *root, struct row *r);
void macro_stop_agent(pid_t agent, struct row *r);

/* interpose.c */
void interpose_rows(struct bench *b);
int interpose_child(long batches);

/* procs.c */
pid_t fork_child(void);
void child_started(pid_t pid);
void child_reaped(pid_t pid);
int run_capture(char *const argv[], char *buf, size_t len, int timeout_ms, bool quiet);
void make_scratch_dir(struct bench *b);
pid_t start_role(struct bench *b, const char *role, const char *name, size_t size, void **shm);
int role_attach(const char *root, const char *id, const char *name, size_t size, void **shm,
		struct ghost_enclave **e);
void guard_exit(unsigned alarm_s);

/* report.c */
void print_json(struct bench *b);
void print_table(struct bench *b);
void write_svg(struct bench *b, const char *path);

#endif
