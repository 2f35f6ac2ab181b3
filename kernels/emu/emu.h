/*
 * kernels/emu/emu.h - the embedded kernel: ghOSt's kernel side in user space.
 *
 * Private to kernels/emu/. An enclave lives in files under a namespace root
 * (default: a per-user runtime directory), shared by every process that
 * opens it: the agent's and any number of application processes. The state
 * file holds the "kernel" (per-CPU run state, queues table, task records)
 * behind one robust process-shared mutex; the other files are laid out
 * exactly as the ghOSt ABI lays out its shared memory (cpu_data with the
 * per-CPU txns, sw_<id> status-word regions, queue rings).
 *
 * There is no privileged code: every "kernel" operation runs in the thread
 * that triggers it (an agent committing, a task blocking, a timer firing),
 * under the enclave lock. A ghost task is a real thread that runs user code
 * only while the state says it is on a CPU, pinned to that CPU; otherwise it
 * is parked on a futex in its task record. Preempting a task that never
 * calls the library is a signal whose handler parks the thread.
 */
#ifndef GHOST_EMU_H
#define GHOST_EMU_H

#include <ghost/abi.h>
#include <ghost/cpuset.h>
#include "backend.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define EMU_MAGIC	      0x756d6574736f6867ull /* "ghostemu" */
#define EMU_LAYOUT	      4
#define EMU_MAX_QUEUES	      1024
#define EMU_MAX_REGIONS	      16
#define EMU_TIMERS_PER_CPU    4
#define EMU_DEFAULT_MAX_TASKS 8192
#define EMU_MAX_TASKS	      (1u << 20) /* the task index lives in the gtid's low 20 bits */
#define EMU_TRACE_LEN	      131072

/* Task record states. */
enum emu_task_state {
	EMU_T_FREE = 0,
	EMU_T_BLOCKED,	/* not runnable */
	EMU_T_RUNNABLE, /* runnable, not on a CPU (maybe latched) */
	EMU_T_ONCPU,	/* current task of t->cpu */
	EMU_T_DEAD,	/* exited; kept until the agent frees the word */
	EMU_T_DEPARTED, /* left the enclave; kept until the word is freed */
	EMU_T_NEW,	/* being set up by its thread */
};

/* Task record flags. */
#define EMU_TF_PREEMPT_REQ   (1u << 0) /* a preemption signal is on its way */
#define EMU_TF_WAKE_PENDING  (1u << 1) /* unblocked before it blocked */
#define EMU_TF_NEW_PENDING   (1u << 2) /* TASK_NEW not delivered yet (no queue) */
#define EMU_TF_UNMANAGED     (1u << 3) /* released: runs as a normal thread */
#define EMU_TF_GATED	     (1u << 4) /* departed, word not freed yet */
#define EMU_TF_ELIDE_PREEMPT (1u << 5) /* the pending preemption sends no message */
#define EMU_TF_ASSOCIATED    (1u << 6) /* its queue was set by ASSOC_QUEUE */
#define EMU_TF_VIRTUAL	     (1u << 7) /* a simulator's model task: no thread behind it */
/*
 * The safety net (emu_net.c) took it off its CPU: its thread sleeps in the host kernel
 * outside the library (state BLOCKED), or woke there and has not been put on a CPU since
 * (state RUNNABLE: it must park before it runs more user code). Cleared on its next switch in.
 */
#define EMU_TF_NET	     (1u << 8)

/* Agent states of a CPU. */
enum emu_agent_state {
	EMU_A_NONE = 0, /* no agent attached */
	EMU_A_RUNNING,	/* the agent owns the CPU */
	EMU_A_YIELDED,	/* the agent sleeps in run/commit; tasks may run */
};

/* A futex word pair: who waits on it, and the generation they wait for. */
struct emu_park {
	uint32_t seq;
	uint32_t waiters;
};

struct emu_timer {
	int64_t expires; /* absolute CLOCK_MONOTONIC ns, 0 = disarmed */
	int64_t period;
	uint64_t type;
	uint64_t cookie;
};

struct emu_cpu {
	int32_t in_enclave;
	int32_t agent_state; /* enum emu_agent_state */
	int32_t agent_pid;
	int32_t agent_tid;
	int64_t agent_gtid;
	uint32_t agent_sw_region;
	uint32_t agent_sw_index;
	int32_t agent_queue; /* CPU messages go here; -1 = none */
	int32_t yield_flags; /* run_flags of the agent's last yield */
	struct emu_park agent_park;
	int32_t current; /* task index on this CPU, -1 = none */
	int32_t latched; /* task index latched to run next, -1 */
	uint16_t latched_run_flags;
	uint16_t current_run_flags;
	int32_t idle_latched;	    /* GHOST_IDLE_GTID was committed */
	int32_t idle_need_not_idle; /* ... with NEED_CPU_NOT_IDLE */
	uint64_t cpu_seqnum;
	int32_t avail;	       /* no higher class wants this CPU */
	int32_t agent_blocked; /* the agent thread sleeps outside run */
	int64_t last_tick;
	uint64_t busy_ns; /* tasks ran here this long, up to their last switch off (stats) */
	struct emu_timer timers[EMU_TIMERS_PER_CPU];
};

struct emu_queue {
	uint32_t in_use;
	uint32_t gen; /* bumped on every create: remap when it moves */
	uint32_t elems;
	int32_t owner_pid;
	int32_t nwake;
	int32_t wake_cpu[GHOST_MAX_WINFO];
	uint64_t mapsize;
};

struct emu_task {
	int64_t gtid;	/* 0 when free */
	uint32_t state; /* enum emu_task_state */
	uint32_t flags; /* EMU_TF_* */
	int32_t pid, tid;
	int32_t cpu;	      /* CPU it is on, or last ran on; -1 never */
	int32_t latched_cpu;  /* -1 unless latched */
	int32_t affinity_cpu; /* CPU its thread is pinned to, -1 none */
	int32_t queue;	      /* -1 = none */
	uint32_t queue_gen;
	uint32_t sw_region, sw_index;
	uint16_t run_flags; /* of the commit that put it on its CPU */
	uint16_t pad0;
	int32_t sig; /* the preemption signal its process handles */
	/*
	 * Non-zero while its thread runs the library's own code (struct ghost_ktask's in_kernel
	 * is non-zero): a sleep there is the library's (the enclave lock, a park, a bucket lock
	 * in a no-preemption section), which the safety net must never report. Written by the
	 * thread only, atomically; read by the net without the lock.
	 */
	uint32_t in_lib;
	uint64_t orig_mask[GHOST_MAX_CPUS / 64]; /* its affinity before it entered */
	int32_t nice;
	int32_t wake_waker_cpu;
	struct emu_park park; /* the thread sleeps here while not on a CPU */
	int64_t oncpu_since;
	int64_t runnable_since;
	uint64_t runtime;
	int64_t parent_gtid;
	pthread_mutex_t life; /* robust; held by the thread while it lives */
};

/* Trace of CPU switches, for invariant checks (tunable "trace"). */
struct emu_trace_ent {
	int64_t ts;
	int64_t gtid;
	int32_t cpu;
	int32_t on; /* 1 switched in, 0 switched out */
};

struct emu_region {
	uint32_t in_use;
	uint32_t id;
	uint32_t node;
	uint32_t hint; /* next index to try */
};

struct emu_stats {
	uint64_t commits;
	uint64_t commit_fail[16]; /* by state - GHOST_TXN_COMPLETE */
	uint64_t msgs[256];
	uint64_t msgs_dropped; /* no queue, gated or ring full */
	uint64_t preempt_signals;
	uint64_t switches;
	uint64_t reaped_tasks; /* threads found dead */
	uint64_t net_blocks;   /* tasks the safety net found asleep in the host kernel */
	uint64_t net_wakes;    /* ... and found running again */
};

enum emu_enclave_state {
	EMU_E_ALIVE = 1,
	EMU_E_DEAD,
};

/* Why an enclave died (file "exit_info"). */
enum emu_dead_reason {
	EMU_DEAD_UNKNOWN = 0,
	EMU_DEAD_DESTROYED,	   /* ctl "destroy" */
	EMU_DEAD_AGENT_TIMEOUT,	   /* no agent for agent_timeout_ms */
	EMU_DEAD_RUNNABLE_TIMEOUT, /* a task runnable for runnable_timeout */
	EMU_DEAD_OWNER_EXITED,	   /* ephemeral: its creator is gone */
};

struct emu_shared {
	uint64_t magic;
	uint32_t layout;
	uint32_t abi;
	uint64_t id;
	uint64_t size;	/* bytes of the state file */
	uint32_t ncpus; /* pages in cpu_data: the machine's CPU count */
	uint32_t max_tasks;
	pthread_mutex_t lock; /* robust, process-shared: guards everything */
	uint32_t state;	      /* enum emu_enclave_state */
	uint32_t repairs;     /* times the lock was found owner-dead */
	struct ghost_cpuset cpus;
	/* ghostfs tunables */
	int32_t deliver_ticks;
	int32_t deliver_cpu_availability;
	int32_t deliver_agent_runnability;
	int32_t commit_at_tick;
	int32_t live_dangerously;
	int32_t switchto_disabled;
	int32_t wake_on_waker_cpu;
	int32_t trace_on;
	int64_t runnable_timeout_ms;
	/* tunables of this backend */
	int64_t agent_timeout_ms; /* agent gone this long: the enclave is reaped */
	int64_t tick_us;	  /* tick period while ticks are wanted */
	int64_t park_spin_ns;	  /* parked threads poll this long before sleeping */
	int64_t net_period_us;	  /* the safety net samples current tasks this often, 0 = off */
	int32_t ephemeral_pid;	  /* destroy when this process goes, 0 = no */
	int32_t default_queue;
	int32_t agent_pid;	  /* process that holds agent_online */
	int32_t strict_classes;	  /* another thread wanting a CPU is a higher class */
	int64_t agent_gone_since; /* when the watchdog first saw no agent */
	int64_t watchdog_beat;	  /* the last watchdog pass of any process */
	uint32_t nr_tasks;	  /* live (not dead/departed) tasks */
	uint32_t gtid_gen;
	int32_t free_task; /* head of the free-record list... by scan */
	uint32_t task_hint;
	struct emu_region regions[EMU_MAX_REGIONS];
	struct emu_stats stats;
	uint32_t trace_head;
	uint32_t dead_reason; /* enum emu_dead_reason, once the state is DEAD */
	/* offsets (bytes from the start) of the arrays that follow */
	uint64_t cpus_off, queues_off, tasks_off, trace_off;
};

/*
 * A simulator driving this enclave (kernels/sim): what the core does instead
 * of touching threads. wake replaces the futex wake of a park word (a task's
 * or an agent's), preempt the signal to a virtual task (its flags already say
 * PREEMPT_REQ), msg sees every message produced. All run under the lock, in
 * the simulator's thread.
 */
struct emu_virt {
	void (*wake)(void *ctx, struct emu_park *p);
	void (*preempt)(void *ctx, struct emu_task *t);
	void (*msg)(void *ctx, int q, uint16_t type, uint32_t seqnum, const void *payload,
		    uint16_t len);
	void *ctx;
};

/* Process-local view of an open enclave. */
struct emu_qmap {
	uint32_t gen;
	void *map;
	size_t size;
};

struct ghost_kenclave {
	char dir[512];
	char root[400];
	uint64_t id;
	int state_fd;
	struct emu_shared *sh;
	size_t sh_size;
	struct ghost_cpu_data *cpu_data;
	size_t cpu_data_size;
	void *rw_regions[EMU_MAX_REGIONS]; /* read-write maps, kernel side */
	struct emu_qmap qmaps[EMU_MAX_QUEUES];
	int online_fd; /* held while this process is the agent */
	bool creator;
	bool ephemeral;
	pthread_mutex_t local_lock;  /* guards the process-local maps */
	struct ghost_kenclave *next; /* in the process's list, for the kernel thread */
	const struct emu_virt *virt; /* NULL: real threads (see struct emu_virt) */
	int refs;
	bool kthread_registered;
	/* the kernel thread's bookkeeping, process-local */
	int64_t last_watchdog, last_scan, last_avail, last_runnability, next_tick;
	struct emu_net_local *net; /* the safety net's samples (emu_net.c), NULL until it runs */
	struct emu_agent_local {
		clockid_t clock;
		int tid;
		bool valid;
		bool busy;
		bool blocked;
		int64_t cpu_ns, wall_ns;
		long nvcsw;
		int streak;
		long long idle_ticks;
		int64_t idle_wall;
	} agents[GHOST_MAX_CPUS];
};

/* A ghost task's process-local handle (the TLS "current"). */
struct ghost_ktask {
	struct ghost_kenclave *ke;
	struct emu_task *t;
	int32_t idx;
	int64_t gtid;
	cpu_set_t orig_affinity;
	int cur_affinity;	       /* CPU this thread is pinned to, -1 */
	volatile int in_kernel;	       /* inside an emu critical section */
	volatile int preempt_deferred; /* a preemption signal arrived meanwhile */
	bool unmanaged;
};

/*
 * The calling task enters / leaves the library's own code: in_kernel counts the nesting
 * (the preemption handler defers while it is non-zero) and the record's in_lib mirrors
 * "non-zero" for the safety net. A signal landing between the count and the mirror sees the
 * count and balances both. emu_self_leave returns true when the outermost section ended.
 */
static inline void emu_self_enter(struct ghost_ktask *self)
{
	if (self->in_kernel++ == 0 && self->t)
		/* Release: ordered before the thread's next sleep in the host kernel, which the
		 * net sees through /proc only after the host's scheduler recorded it. */
		__atomic_store_n(&self->t->in_lib, 1, __ATOMIC_RELEASE);
}
static inline bool emu_self_leave(struct ghost_ktask *self)
{
	if (--self->in_kernel)
		return false;
	if (self->t)
		__atomic_store_n(&self->t->in_lib, 0, __ATOMIC_RELEASE);
	return true;
}

/* ---- accessors ---- */
static inline struct emu_cpu *emu_cpu(struct emu_shared *sh, int cpu)
{
	return (struct emu_cpu *)((char *)sh + sh->cpus_off) + cpu;
}
static inline struct emu_queue *emu_queue(struct emu_shared *sh, int q)
{
	return (struct emu_queue *)((char *)sh + sh->queues_off) + q;
}
static inline struct emu_task *emu_task(struct emu_shared *sh, int idx)
{
	return (struct emu_task *)((char *)sh + sh->tasks_off) + idx;
}
static inline struct emu_trace_ent *emu_trace(struct emu_shared *sh)
{
	return (struct emu_trace_ent *)((char *)sh + sh->trace_off);
}
/*
 * Fields that threads read without the lock (a parked task reads its state,
 * flags and cpu; an agent reads its CPU's agent state and current task) are
 * written with atomic stores, even though writers hold the lock.
 */
static inline void emu_tflags_set(struct emu_task *t, uint32_t f)
{
	__atomic_or_fetch(&t->flags, f, __ATOMIC_RELEASE);
}
static inline void emu_tflags_clear(struct emu_task *t, uint32_t f)
{
	__atomic_and_fetch(&t->flags, ~f, __ATOMIC_RELEASE);
}
/* Whether t has any of f, read without the lock (the flags change atomically under it). */
static inline bool emu_tflags_any(const struct emu_task *t, uint32_t f)
{
	return __atomic_load_n(&t->flags, __ATOMIC_ACQUIRE) & f;
}
static inline void emu_set_current(struct emu_cpu *ec, int32_t idx)
{
	__atomic_store_n(&ec->current, idx, __ATOMIC_RELEASE);
}

static inline int emu_gtid_index(int64_t gtid)
{
	return (int)(gtid & (EMU_MAX_TASKS - 1)) - 1;
}

/* The task record at idx, NULL outside the table (an index read from shared memory). */
static inline struct emu_task *emu_task_at(struct emu_shared *sh, int idx)
{
	if (idx < 0 || (uint32_t)idx >= sh->max_tasks)
		return NULL;
	return emu_task(sh, idx);
}

static inline bool emu_cpu_ok(struct emu_shared *sh, int cpu)
{
	return cpu >= 0 && cpu < (int)sh->ncpus && cpu < GHOST_MAX_CPUS;
}

static inline void emu_task_set_state(struct emu_task *t, uint32_t s)
{
	/* Release: a parked thread that reads ONCPU also sees its cpu. */
	__atomic_store_n(&t->state, s, __ATOMIC_RELEASE);
}

/* ---- emu_shm.c: files and mappings (the bottom layer) ---- */
/* The namespace lock (an flock on <root>/.lock): an fd, or -errno. */
int emu_ns_lock(const char *root);
void emu_ns_unlock(int fd);
size_t emu_page_align(size_t n);
/* Maps a whole file (size 0: whatever it holds, else exactly size); NULL with errno. */
void *emu_map_file(const char *path, size_t size, int prot, int *fd_out);
/* Creates path with size bytes, mapped read-write in *map. */
int emu_create_file(const char *path, size_t size, void **map);
void emu_remove_dir_files(const char *dir);
int emu_remove_files(struct ghost_kenclave *ke);
int emu_sw_region_create(struct ghost_kenclave *ke, uint32_t id, uint32_t node);
int emu_sw_region_map(struct ghost_kenclave *ke, uint32_t id,
		      const struct ghost_sw_region_header **out, size_t *size);
struct ghost_status_word *emu_sw_word(struct ghost_kenclave *ke, uint32_t region, uint32_t index);
int emu_sw_alloc(struct ghost_kenclave *ke, uint32_t *region, uint32_t *index);
void *emu_queue_map(struct ghost_kenclave *ke, int q);
int emu_queue_file(struct ghost_kenclave *ke, int q, char *buf, size_t len);

/* ---- emu_lock.c: locks and waits ---- */
/* A robust, process-shared mutex, as every lock in the shared files is. */
int emu_mutex_init(pthread_mutex_t *m);
/*
 * Could m be one emu_mutex_init made? False for a mutex whose type bytes
 * were overwritten: the C library would abort on it (a priority-protocol
 * type) or hang. Checked before every lock of a shared mutex.
 */
bool emu_mutex_sane(const pthread_mutex_t *m);
/* Unlocks m unless it was overwritten (then the thread's exit releases it). */
void emu_mutex_unlock_sane(pthread_mutex_t *m);
/* Takes the lock, repairing after a dead owner; -EIO if it is corrupt. */
int emu_lock(struct ghost_kenclave *ke);
void emu_unlock(struct ghost_kenclave *ke);
int64_t emu_now(void);
pid_t emu_getpid(void);
int emu_init_task_life(struct emu_task *t);
void emu_park_wake(struct emu_park *p);
int emu_park_wait(struct emu_park *p, uint32_t seen, int64_t spin_ns, int64_t deadline_ns,
		  const int32_t *busy, int32_t self);
/* Wakes every agent and task thread asleep on its park word (lock held). */
void emu_wake_sleepers(struct ghost_kenclave *ke);
bool emu_agent_process_alive(struct ghost_kenclave *ke);
int emu_agent_online(struct ghost_kenclave *ke);
void emu_agent_offline(struct ghost_kenclave *ke);
/* Initial-exec TLS: the preemption signal handler reads these. */
extern __thread struct ghost_ktask *emu_self __attribute__((tls_model("initial-exec")));
/*
 * The task side's handler of a preemption deferred while its task held the
 * lock (emu_unlock calls it when the outermost section ends): installed once.
 */
void emu_set_preempt_hook(void (*hook)(struct ghost_ktask *self));
void emu_run_deferred_preempt(struct ghost_ktask *self);

/* ---- emu_core.c: messages, the scheduling class, txns (lock held unless noted) ---- */
struct emu_task *emu_task_by_gtid(struct emu_shared *sh, int64_t gtid);
void emu_task_msg(struct ghost_kenclave *ke, struct emu_task *t, uint16_t type, const void *payload,
		  uint16_t len);
void emu_cpu_msg(struct ghost_kenclave *ke, int cpu, uint16_t type, const void *payload,
		 uint16_t len);
void emu_agent_wake(struct ghost_kenclave *ke, int cpu);
uint32_t emu_agent_barrier_bump(struct ghost_kenclave *ke, int cpu);
void emu_schedule(struct ghost_kenclave *ke, int cpu);
void emu_preempt_current(struct ghost_kenclave *ke, int cpu, bool elide);
void emu_task_reap(struct ghost_kenclave *ke, struct emu_task *t);
bool emu_task_preempted(struct ghost_kenclave *ke, struct emu_task *t);
void emu_task_stop(struct ghost_kenclave *ke, struct emu_task *t, uint16_t type,
		   uint32_t new_state);
void emu_task_wakeup(struct ghost_kenclave *ke, struct emu_task *t, int waker_cpu);
void emu_send_task_new(struct ghost_kenclave *ke, struct emu_task *t);
void emu_flush_new_pending(struct ghost_kenclave *ke);
bool emu_task_thread_dead(struct emu_task *t);
/*
 * The safety net (lock held): t, current on its CPU, sleeps in the host kernel outside the
 * library: TASK_BLOCKED as if it had blocked itself, flagged EMU_TF_NET.
 */
void emu_task_net_block(struct ghost_kenclave *ke, struct emu_task *t);
/* A net-blocked t's thread runs again (seen from outside): TASK_WAKEUP, then the preemption
 * signal makes it park until it is committed. */
void emu_task_net_wake(struct ghost_kenclave *ke, struct emu_task *t);
/*
 * t's own thread runs (lock held): if the net took it off its CPU, it wakes (TASK_WAKEUP)
 * unless it did already; true if it must now park until it is committed.
 */
bool emu_task_net_resume(struct ghost_kenclave *ke, struct emu_task *t);
/* Reap (reason: enum emu_dead_reason): every task departs, agents wake. */
void emu_enclave_kill(struct ghost_kenclave *ke, uint32_t reason);
/* t departs (if live) and its thread runs on as a normal thread, unpinned. */
void emu_task_release(struct ghost_kenclave *ke, struct emu_task *t);
void emu_set_avail(struct ghost_kenclave *ke, int cpu, bool avail, bool boost);
void emu_release_queue_tasks(struct ghost_kenclave *ke, int q);
int emu_discover(struct ghost_kenclave *ke);
int emu_commit_cpus(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, bool sync,
		    int claimer_cpu, bool caller_is_agent, int *local_cpu);
void emu_commit_at_schedule(struct ghost_kenclave *ke, int cpu, bool tick);
/* cpu's expired ghost timers fire, then (tick) its tick: commit at tick, CPU_TICK. */
void emu_cpu_tick(struct ghost_kenclave *ke, int cpu, int64_t now, bool tick);
/* NULL while the enclave is alive, else why it ended. */
const char *emu_exit_reason(struct ghost_kenclave *ke);

/* ---- emu_kthread.c: the per-process kernel thread ---- */
int emu_kthread_register(struct ghost_kenclave *ke);
void emu_kthread_unregister(struct ghost_kenclave *ke);
void emu_kthread_agent(struct ghost_kenclave *ke, int cpu, bool attach);
void emu_kthread_run_once(struct ghost_kenclave *ke, bool is_agent_process);
/*
 * For a process with no kernel thread on ke (ghostctl, a new agent): if
 * ke's agent died and no process watches ke any more, reap ke now (its
 * files stay: the caller removes them). True if it did.
 */
bool emu_reap_unwatched(struct ghost_kenclave *ke);

/* ---- emu_net.c: the safety net, run by the agent process's kernel thread ---- */
/* How long the kernel thread may sleep for the net's sake, in ns (0: as long as it likes). */
int64_t emu_net_period(struct ghost_kenclave *ke);
/* A pass when one is due: current tasks asleep in the host kernel block, net-blocked ones
 * that run wake (these also with the net turned off). */
void emu_net_run(struct ghost_kenclave *ke, int64_t now);
/* Closes what the net holds open (the kernel thread stops watching ke). */
void emu_net_forget(struct ghost_kenclave *ke);

/* ---- emu_task.c: the task side (the calling thread as a ghost task) ---- */
int emu_signal_setup(void);
extern int emu_preempt_signal;
/* The CPU the calling thread is the agent of, or -1 (the signal handler reads it). */
extern __thread int emu_agent_cpu __attribute__((tls_model("initial-exec")));
int emu_task_enter(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **out);
/* A free task record's index, or -1 (lock held). */
int emu_task_alloc_record(struct emu_shared *sh);
/*
 * Makes record idx a RUNNABLE task of thread tid with a status word and a
 * gtid, and sends its TASK_NEW (lock held): the part of entering that is the
 * same for a thread and a simulator's model task. 0 or -errno.
 */
int emu_task_record_init(struct ghost_kenclave *ke, int idx, pid_t pid, pid_t tid, int sig,
			 int nice);
void emu_task_exit(struct ghost_ktask *self);
int emu_task_leave_self(struct ghost_ktask *self);
bool emu_task_managed(struct ghost_ktask *self);
int emu_task_block(struct ghost_ktask *self, int64_t deadline_ns);
int emu_task_block_begin(struct ghost_ktask *self);
int emu_task_block_end(struct ghost_ktask *self);
int emu_task_unblock(struct ghost_ktask *task, int waker_cpu);
int emu_task_yield(struct ghost_ktask *self);
int emu_task_changed(struct ghost_ktask *self, int what, int nice, const struct ghost_cpuset *cpus);
void emu_task_nopreempt(struct ghost_ktask *self, bool on);
int emu_task_affinity(struct ghost_kenclave *ke, int64_t gtid, struct ghost_cpuset *out);

/* ---- emu_agent.c: the agent side (the ops an agent calls) ---- */
uint64_t emu_id(struct ghost_kenclave *ke);
int emu_cpu_data_map(struct ghost_kenclave *ke, struct ghost_cpu_data **out, int *ncpus);
void emu_sw_region_unmap(struct ghost_kenclave *ke, const struct ghost_sw_region_header *hdr,
			 size_t size);
int emu_sw_get_info(struct ghost_kenclave *ke, int type, uint64_t arg, struct ghost_sw_info *out);
int emu_sw_free(struct ghost_kenclave *ke, const struct ghost_sw_info *info);
int emu_queue_create(struct ghost_kenclave *ke, int elems, int node, int flags,
		     struct ghost_kqueue *out);
void emu_queue_destroy(struct ghost_kenclave *ke, struct ghost_kqueue *kq);
int emu_queue_assoc(struct ghost_kenclave *ke, int q, int64_t gtid, uint32_t barrier, int flags);
int emu_queue_set_default(struct ghost_kenclave *ke, int q);
int emu_queue_config_wakeup(struct ghost_kenclave *ke, int q, const struct ghost_agent_wakeup *w,
			    int n);
int emu_agent_online_op(struct ghost_kenclave *ke);
void emu_agent_offline_op(struct ghost_kenclave *ke);
int emu_agent_attach(struct ghost_kenclave *ke, int cpu, int q);
/* The claim of agent_online without this process's kernel thread (a simulator has none). */
int emu_agent_online_claim(struct ghost_kenclave *ke);
/*
 * The part of attaching done under the lock: cpu gets an agent (thread tid
 * of this process) with a status word, RUNNING, its queue q. 0 or -errno.
 */
int emu_agent_attach_locked(struct ghost_kenclave *ke, int cpu, int q, pid_t tid);
/* The part of detaching done under the lock: true if tid was cpu's agent. */
bool emu_agent_detach_locked(struct ghost_kenclave *ke, int cpu, pid_t tid);
/* Gives the agent's CPU to its latched task unless a message beat it (lock held). */
bool emu_agent_give_up(struct ghost_kenclave *ke, int cpu, uint32_t barrier, int flags,
		       uint32_t *seen);
/*
 * A commit (lock held) by agent me (-1: not an agent): returns what
 * emu_commit_cpus does, or -ENODEV; *sleep_cpu is the caller's CPU if it
 * committed it and must now give it up (it is YIELDED), else -1.
 */
int emu_commit_locked(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, bool sync, int me,
		      int *sleep_cpu, uint32_t *seen);
/* May cpu's agent run on now (RUNNING, no task still leaving its CPU)? (any thread) */
bool emu_agent_may_run(struct ghost_kenclave *ke, int cpu);
/* The ping and local-yield checks of run (lock held): 1 give the CPU up, 0 done, or -errno. */
int emu_run_locked(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier, int cpu,
		   int run_flags, pid_t tid, uint32_t *seen);
void emu_agent_detach(struct ghost_kenclave *ke, int cpu);
int emu_commit(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, unsigned flags);
int emu_run(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier, uint32_t task_barrier,
	    int cpu, int run_flags);
int emu_task_enter_op(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **self);
int emu_task_leave(struct ghost_kenclave *ke, pid_t tid);
int emu_get_cpu_time(struct ghost_kenclave *ke, int64_t gtid, uint64_t *ns);
int emu_gtid_of(struct ghost_kenclave *ke, pid_t tid, int64_t *gtid);
int emu_timer_set(struct ghost_kenclave *ke, int cpu, int slot, uint64_t type, uint64_t cookie,
		  int64_t expires_ns, int64_t period_ns);
int emu_enclave_cpus(struct ghost_kenclave *ke, struct ghost_cpuset *out);
int emu_exit_state(struct ghost_kenclave *ke, struct ghost_kexit *out);
int emu_agent_present(struct ghost_kenclave *ke);

/* ---- emu_ns.c: namespace, enclave files ---- */
int emu_root_default(char *buf, size_t len);
int emu_enclave_create(const struct ghost_kernel_create_args *args, struct ghost_kenclave **out);
/* The same over a machine of ncpus CPUs (a simulator's), 0 = this machine's. */
int emu_enclave_create_n(const struct ghost_kernel_create_args *args, int ncpus,
			 struct ghost_kenclave **out);
int emu_enclave_attach(const char *root, uint64_t id, struct ghost_kenclave **out);
void emu_enclave_close(struct ghost_kenclave *ke);
int emu_enclave_list(const char *root, uint64_t *ids, int max);
int emu_file_read(struct ghost_kenclave *ke, const char *name, char *buf, size_t len);
int emu_file_write(struct ghost_kenclave *ke, const char *name, const char *text);
int emu_enclave_destroy(struct ghost_kenclave *ke);
int emu_enclave_set_cpus(struct ghost_kenclave *ke, const struct ghost_cpuset *want);
/* Takes the lock; -EINVAL out of the ABI's bounds. */
int emu_sw_region_make(struct ghost_kenclave *ke, uint32_t id, uint32_t node);

extern const struct ghost_kernel_ops ghost_kernel_emu;

#endif
