/*
 * ghost/thread.h - ghost threads and the waits they block in.
 *
 * A ghost thread is a thread scheduled by an enclave's agent. It is created
 * straight into an enclave, or an existing thread moves in or out. The wait
 * primitives (sleep, wait/wake on a word, mutex, condition variable, join,
 * yield) are how a ghost thread blocks: under a backend that schedules in
 * user space they produce the messages a kernel would (TASK_BLOCKED,
 * TASK_WAKEUP, TASK_YIELD); elsewhere, and in threads that are not ghost
 * threads, they are the ordinary futex operations. Words are process-private.
 */
#ifndef GHOST_THREAD_H
#define GHOST_THREAD_H

#include <ghost/common.h>

#include <pthread.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_enclave;
struct ghost_thread;

/*
 * Starts fn(arg) in a new thread that is a ghost task of e from its first
 * instruction; it leaves the enclave when fn returns.
 */
GHOST_API int ghost_thread_create(struct ghost_enclave *e, struct ghost_thread **out,
				  void *(*fn)(void *), void *arg);
/* Waits for the thread to end (a ghost wait) and frees it. */
GHOST_API int ghost_thread_join(struct ghost_thread *t, void **ret);
GHOST_API pid_t ghost_thread_tid(const struct ghost_thread *t);

/* The calling thread enters e as a ghost task (returns once it runs). */
GHOST_API int ghost_thread_enter(struct ghost_enclave *e);
/* Moves thread tid into / out of e where the backend allows it. */
GHOST_API int ghost_thread_move(struct ghost_enclave *e, pid_t tid);
GHOST_API int ghost_thread_remove(struct ghost_enclave *e, pid_t tid);
/* The calling thread leaves its enclave and runs as a normal thread. */
GHOST_API int ghost_thread_leave(void);
/*
 * The calling thread is about to end (its last act, say at exit() for the main thread, whose
 * thread-exit hooks never run): its enclave hears TASK_DEAD now rather than when the backend
 * notices the thread gone, and it runs its last instructions as a normal thread. -ESRCH if
 * it is not a ghost thread.
 */
GHOST_API int ghost_thread_exiting(void);
/*
 * A foreign wait: the calling ghost thread is about to make a call that may block outside
 * this library (a system call, a lock of the C library). ghost_thread_block_begin gives its
 * CPU back to the agent (TASK_BLOCKED): on 0 the caller makes the call, then calls
 * ghost_thread_block_end, which reports it woken (TASK_WAKEUP) and returns once the agent has
 * put it on a CPU again (at once if the enclave let it go meanwhile). -ESRCH: not a ghost
 * thread whose blocking this library reports (a normal thread, or a backend whose kernel sees
 * blocking itself): make the call alone; the check costs a thread-local load. -EBUSY: the
 * thread is inside the library (a signal handler interrupted it there): make the call alone.
 * Neither touches errno; both are as safe in a signal handler as the backend's preemption.
 */
GHOST_API int ghost_thread_block_begin(void);
GHOST_API int ghost_thread_block_end(void);
/*
 * The calling thread's nice value / allowed CPUs. A ghost thread's agent
 * hears of it (TASK_PRIORITY_CHANGED / TASK_AFFINITY_CHANGED) and the thread
 * is taken off its CPU until the agent schedules it again.
 */
GHOST_API int ghost_thread_set_nice(int nice);
struct ghost_cpuset;
GHOST_API int ghost_thread_set_affinity(const struct ghost_cpuset *cpus);
/*
 * The CPUs ghost task gtid of e may run on, as its thread last set them (the
 * agent's side of TASK_AFFINITY_CHANGED; any thread). A backend that pins
 * ghost threads itself keeps that set in its task record; on the others it is
 * the thread's own affinity (sched_getaffinity of the gtid's tid, read
 * without a lock: a gtid whose thread is gone and whose tid was reused
 * answers for the new thread, which an agent only asks about a task it has
 * just heard from). 0, -ESRCH (no such task), -EINVAL.
 */
GHOST_API int ghost_thread_affinity_of(struct ghost_enclave *e, int64_t gtid,
				       struct ghost_cpuset *out);

/* Is the calling thread a ghost task managed by an enclave right now? */
GHOST_API bool ghost_thread_is_ghost(void);
/* The calling ghost thread's gtid (0 if it is not one). */
GHOST_API int64_t ghost_thread_gtid(void);
/*
 * The gtid of a thread from ghost_thread_create, once it has entered its
 * enclave (it may still be waiting for its first turn on a CPU): what an
 * application writes into the PrioTable item that describes the thread.
 * Waits up to timeout_ns (0 = 1 s); 0 if the thread never became a ghost
 * task (it failed to enter, or already left).
 */
GHOST_API int64_t ghost_thread_gtid_of(const struct ghost_thread *t, int64_t timeout_ns);

/* Blocks while *word == val, until woken or the deadline (absolute
 * CLOCK_MONOTONIC ns; 0 = none): 0, -EAGAIN (*word != val), -ETIMEDOUT. */
GHOST_API int ghost_wait(uint32_t *word, uint32_t val, int64_t deadline_ns);
/* Wakes up to n waiters of word; returns how many were woken. */
GHOST_API int ghost_wake(uint32_t *word, int n);
GHOST_API int ghost_sleep_ns(int64_t ns);
/* Gives the CPU back to the agent (TASK_YIELD) and waits to be rescheduled. */
GHOST_API int ghost_yield(void);

/* A process-private mutex and condition variable built on ghost_wait. */
struct ghost_mutex {
	uint32_t state; /* 0 free, 1 locked, 2 locked with waiters */
};
#define GHOST_MUTEX_INIT \
	{                \
		0        \
	}
GHOST_API void ghost_mutex_lock(struct ghost_mutex *m);
GHOST_API bool ghost_mutex_trylock(struct ghost_mutex *m);
GHOST_API void ghost_mutex_unlock(struct ghost_mutex *m);

struct ghost_cond {
	uint32_t seq;
};
#define GHOST_COND_INIT \
	{               \
		0       \
	}
/* 0, or -ETIMEDOUT when deadline_ns (absolute, 0 = none) passes. */
GHOST_API int ghost_cond_wait(struct ghost_cond *c, struct ghost_mutex *m, int64_t deadline_ns);
GHOST_API void ghost_cond_signal(struct ghost_cond *c);
GHOST_API void ghost_cond_broadcast(struct ghost_cond *c);

/* CLOCK_MONOTONIC now, in ns (the clock of every ghOSt timestamp). */
GHOST_API int64_t ghost_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif
