/*
 * kernels/emu/emu_task.c - ghost tasks of the embedded kernel: the thread's
 * own side of entering, blocking, yielding, being preempted and leaving.
 *
 * Owns the preemption signal and its handler (installed as emu_lock.c's
 * deferred-preemption hook too), and the parking loop that keeps a thread off user code until the
 * enclave puts it on a CPU. The handler may only do what is safe for an
 * interrupted thread: it never touches the enclave lock while the thread is
 * already inside the library (it defers instead), and it restores errno.
 * Beside the agent side (emu_agent.c), above the kernel thread; it never
 * calls the namespace or the ops table.
 */
#include "emu.h"

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

__thread int emu_agent_cpu __attribute__((tls_model("initial-exec"))) = -1;
int emu_preempt_signal;

static pthread_once_t signal_once = PTHREAD_ONCE_INIT;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int signal_err;

/* Takes the task off its CPU if a preemption asked it to, and parks it until it runs again. */
static void emu_handle_preempt(struct ghost_ktask *self);

static void preempt_handler(int sig, siginfo_t *si, void *uc)
{
	struct ghost_ktask *self = emu_self;
	int saved = errno;

	(void)sig;
	(void)si;
	(void)uc;
	if (self) {
		if (self->in_kernel)
			self->preempt_deferred = 1; /* handled at emu_unlock */
		else
			emu_handle_preempt(self);
	}
	errno = saved;
}

static void signal_init(void)
{
	const char *env = getenv("GHOST_EMU_SIGNAL");
	struct sigaction sa;
	int sig = SIGRTMIN + 6;

	if (env && *env) {
		int v = atoi(env);

		if (v >= SIGRTMIN && v <= SIGRTMAX)
			sig = v;
	}
	/* A preemption deferred while the task held the enclave lock: emu_unlock runs this. */
	emu_set_preempt_hook(emu_handle_preempt);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = preempt_handler;
	/* SA_RESTART: a system call the preemption interrupted carries on. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL)) {
		signal_err = -errno;
		return;
	}
	emu_preempt_signal = sig;
}

int emu_signal_setup(void)
{
	pthread_once(&signal_once, signal_init);
	return signal_err;
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void become_unmanaged(struct ghost_ktask *self)
{
	if (self->unmanaged)
		return;
	self->unmanaged = true;
	sched_setaffinity(0, sizeof(self->orig_affinity), &self->orig_affinity);
}

static int64_t spin_ns(struct emu_shared *sh)
{
	return __atomic_load_n(&sh->park_spin_ns, __ATOMIC_RELAXED);
}

/* The current-task word of the CPU t last ran on (NULL if none). */
static const int32_t *cpu_current(struct emu_shared *sh, struct emu_task *t)
{
	int cpu = __atomic_load_n(&t->cpu, __ATOMIC_ACQUIRE);

	return cpu < 0 || cpu >= (int)sh->ncpus ? NULL : &emu_cpu(sh, cpu)->current;
}

static bool cpu_is_free(struct emu_shared *sh, struct emu_task *t)
{
	int cpu = __atomic_load_n(&t->cpu, __ATOMIC_ACQUIRE);

	return cpu < 0 || cpu >= (int)sh->ncpus ||
	       __atomic_load_n(&emu_cpu(sh, cpu)->current, __ATOMIC_ACQUIRE) < 0;
}

/*
 * Parks the calling task until the enclave puts it on a CPU (or lets it go),
 * then makes sure it is pinned there. Runs as "inside the kernel" so that a
 * preemption landing meanwhile is handled only once it runs again.
 */
static void wait_oncpu(struct ghost_ktask *self)
{
	struct emu_task *t = self->t;
	struct emu_shared *sh = self->ke->sh;

	emu_self_enter(self);
	for (;;) {
		uint32_t seen = __atomic_load_n(&t->park.seq, __ATOMIC_ACQUIRE);
		uint32_t s = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&t->flags, __ATOMIC_ACQUIRE) & EMU_TF_UNMANAGED ||
		    __atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) != EMU_E_ALIVE) {
			become_unmanaged(self);
			break;
		}
		if (s == EMU_T_ONCPU)
			break;
		if (s != EMU_T_RUNNABLE && s != EMU_T_BLOCKED) {
			become_unmanaged(self);
			break;
		}
		/* Poll only while our CPU is free: a task that just left it would
		 * otherwise spin on the CPU its successor needs. */
		emu_park_wait(&t->park, seen, cpu_is_free(sh, t) ? spin_ns(sh) : 0, 0,
			      cpu_current(sh, t), self->idx);
	}
	if (!self->unmanaged) {
		int cpu = __atomic_load_n(&t->cpu, __ATOMIC_ACQUIRE);

		/* The committer pins us before waking us when it may. */
		if (__atomic_load_n(&t->affinity_cpu, __ATOMIC_ACQUIRE) != cpu) {
			pin_self(cpu);
			__atomic_store_n(&t->affinity_cpu, cpu, __ATOMIC_RELEASE);
		}
	}
	if (emu_self_leave(self) && self->preempt_deferred) {
		self->preempt_deferred = 0;
		emu_handle_preempt(self);
	}
}

static void emu_handle_preempt(struct ghost_ktask *self)
{
	bool off;

	if (self->unmanaged || emu_lock(self->ke))
		return;
	/* Taken off its CPU now, or earlier by the safety net while it slept in the host
	 * kernel (it must not run user code uncommitted: it parks as well). */
	off = emu_task_preempted(self->ke, self->t) || emu_task_net_resume(self->ke, self->t);
	emu_unlock(self->ke);
	if (off)
		wait_oncpu(self);
}

int emu_task_alloc_record(struct emu_shared *sh)
{
	for (uint32_t n = 0; n < sh->max_tasks; n++) {
		uint32_t i = (sh->task_hint + n) % sh->max_tasks;

		if (emu_task(sh, (int)i)->state == EMU_T_FREE) {
			sh->task_hint = i + 1;
			return (int)i;
		}
	}
	return -1;
}

int emu_task_record_init(struct ghost_kenclave *ke, int idx, pid_t pid, pid_t tid, int sig,
			 int nice)
{
	struct emu_shared *sh = ke->sh;
	struct emu_task *t = emu_task(sh, idx);
	struct ghost_status_word *sw;
	uint32_t region, index;
	int err;

	err = emu_sw_alloc(ke, &region, &index);
	if (err)
		return err;
	sw = emu_sw_word(ke, region, index);
	if (!sw)
		return -EIO;
	sh->gtid_gen++;
	t->gtid = ((int64_t)tid << GHOST_GTID_SEQ_BITS) |
		  ((int64_t)(sh->gtid_gen & 0x1fffff) << 20) | (idx + 1);
	t->pid = pid;
	t->tid = tid;
	t->cpu = -1;
	t->latched_cpu = -1;
	t->affinity_cpu = -1;
	t->queue = sh->default_queue;
	t->sw_region = region;
	t->sw_index = index;
	t->sig = sig;
	t->nice = nice;
	t->runnable_since = emu_now();
	__atomic_store_n(&t->state, EMU_T_RUNNABLE, __ATOMIC_RELEASE);
	sw->gtid = (uint64_t)t->gtid;
	sw->barrier = 0;
	sw->runtime = 0;
	/* INUSE last: a reader that sees it sees the rest. */
	__atomic_store_n(&sw->flags,
			 GHOST_SW_F_ALLOCATED | GHOST_SW_TASK_RUNNABLE | GHOST_SW_F_INUSE,
			 __ATOMIC_RELEASE);
	sh->nr_tasks++;
	if (t->queue >= 0)
		emu_send_task_new(ke, t);
	else
		emu_tflags_set(t, EMU_TF_NEW_PENDING); /* sent when a default queue appears */
	return 0;
}

/*
 * In a forked child the calling thread is a copy of a ghost task or agent, not one: the record
 * and the CPU stay the parent's. The child forgets them (without touching the shared record)
 * and gets back the CPUs the task had before this kernel pinned it; it may enter as a task of
 * its own. Runs in the child only, which has this one thread.
 */
static void task_forked(void)
{
	struct ghost_ktask *self = emu_self;

	emu_agent_cpu = -1;
	if (!self)
		return;
	emu_self = NULL;
	if (!self->unmanaged)
		sched_setaffinity(0, sizeof(self->orig_affinity), &self->orig_affinity);
	free(self);
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, task_forked);
}

int emu_task_enter(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **out)
{
	struct emu_shared *sh = ke->sh;
	struct ghost_ktask *self;
	struct emu_task *t = NULL;
	sigset_t set;
	pid_t me = gettid();
	int idx, err;

	*out = NULL;
	if (tid != 0 && tid != me)
		return -EOPNOTSUPP; /* only a thread running this library can be scheduled */
	if (emu_self || emu_agent_cpu >= 0)
		return -EBUSY;
	pthread_once(&fork_once, watch_forks);
	err = emu_signal_setup();
	if (err)
		return err;
	sigemptyset(&set);
	sigaddset(&set, emu_preempt_signal);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	self = calloc(1, sizeof(*self));
	if (!self)
		return -ENOMEM;
	sched_getaffinity(0, sizeof(self->orig_affinity), &self->orig_affinity);
	self->ke = ke;
	self->cur_affinity = -1;
	/* The kernel thread (watchdog, reaper) must run in every process with
	 * tasks; registered before we hold any lock of ours. */
	emu_kthread_register(ke);

	/*
	 * Reserve a record, then take its life lock with the enclave lock
	 * released: a task holds its life lock for good and takes the enclave
	 * lock under it, so the enclave lock never comes first.
	 */
	err = emu_lock(ke);
	if (err)
		goto out_free;
	idx = sh->state == EMU_E_ALIVE ? emu_task_alloc_record(sh) : -1;
	if (idx >= 0) {
		t = emu_task(sh, idx);
		memset(t, 0, sizeof(*t));
		__atomic_store_n(&t->state, EMU_T_NEW, __ATOMIC_RELEASE);
	}
	emu_unlock(ke);
	if (idx < 0) {
		err = sh->state == EMU_E_ALIVE ? -ENOMEM : -EXDEV;
		goto out_free;
	}
	err = emu_init_task_life(t);
	if (!err)
		err = -pthread_mutex_lock(&t->life);
	if (err) {
		__atomic_store_n(&t->state, EMU_T_FREE, __ATOMIC_RELEASE);
		goto out_free;
	}
	err = emu_lock(ke);
	if (err)
		goto out_life;
	if (sh->state != EMU_E_ALIVE) {
		err = -EXDEV;
		goto out_unlock;
	}
	for (int c = 0; c < CPU_SETSIZE && c < GHOST_MAX_CPUS; c++)
		if (CPU_ISSET(c, &self->orig_affinity))
			t->orig_mask[c / 64] |= 1ull << (c % 64);
	/* From here on we count as inside: emu_unlock below balances this. */
	self->in_kernel = 1;
	emu_self = self;
	err = emu_task_record_init(ke, idx, getpid(), me, emu_preempt_signal,
				   getpriority(PRIO_PROCESS, 0));
	if (err) {
		emu_self = NULL;
		goto out_unlock;
	}
	self->t = t;
	self->idx = idx;
	self->gtid = t->gtid;
	emu_unlock(ke);
	*out = self;
	wait_oncpu(self);
	return 0;

out_unlock:
	emu_unlock(ke);
out_life:
	emu_mutex_unlock_sane(&t->life);
	__atomic_store_n(&t->state, EMU_T_FREE, __ATOMIC_RELEASE);
out_free:
	free(self);
	return err;
}

static void release_self(struct ghost_ktask *self)
{
	emu_self = NULL;
	free(self);
}

void emu_task_exit(struct ghost_ktask *self)
{
	struct ghost_kenclave *ke = self->ke;
	struct emu_task *t = self->t;

	if (emu_lock(ke) == 0) {
		if (!(t->flags & EMU_TF_UNMANAGED))
			emu_task_stop(ke, t, MSG_TASK_DEAD, EMU_T_DEAD);
		emu_mutex_unlock_sane(&t->life);
		emu_unlock(ke);
	}
	release_self(self);
}

int emu_task_leave_self(struct ghost_ktask *self)
{
	struct ghost_kenclave *ke = self->ke;
	struct emu_task *t = self->t;
	int err = emu_lock(ke);

	if (err)
		return err;
	if (!(t->flags & EMU_TF_UNMANAGED))
		emu_task_stop(ke, t, MSG_TASK_DEPARTED, EMU_T_DEPARTED);
	emu_tflags_set(t, EMU_TF_UNMANAGED);
	emu_mutex_unlock_sane(&t->life);
	emu_unlock(ke);
	become_unmanaged(self);
	release_self(self);
	return 0;
}

bool emu_task_managed(struct ghost_ktask *self)
{
	if (self->unmanaged)
		return false;
	if ((__atomic_load_n(&self->t->flags, __ATOMIC_ACQUIRE) & EMU_TF_UNMANAGED) ||
	    __atomic_load_n(&self->ke->sh->state, __ATOMIC_ACQUIRE) != EMU_E_ALIVE) {
		become_unmanaged(self);
		return false;
	}
	return true;
}

/*
 * The on-CPU edge of blocking: 0 the calling task left its CPU as TASK_BLOCKED; 1 a wake-up
 * that came before the block was taken instead (take_pending: the task stays on its CPU);
 * -ESRCH not ours to schedule (wait the ordinary way), or the lock's error.
 */
static int block_stop(struct ghost_ktask *self, bool take_pending)
{
	struct ghost_kenclave *ke = self->ke;
	struct emu_task *t = self->t;
	int err = emu_lock(ke);

	if (err)
		return err;
	/* The safety net took us off our CPU while we slept in the host kernel: back on one
	 * first (a wake-up sent meanwhile waits in WAKE_PENDING), then block as usual. */
	while (emu_task_managed(self) && emu_task_net_resume(ke, t)) {
		emu_unlock(ke);
		wait_oncpu(self);
		if ((err = emu_lock(ke)))
			return err;
	}
	if (!emu_task_managed(self) || t->state != EMU_T_ONCPU) {
		emu_unlock(ke);
		return -ESRCH;
	}
	if (take_pending && (t->flags & EMU_TF_WAKE_PENDING)) {
		emu_tflags_clear(t, EMU_TF_WAKE_PENDING);
		emu_unlock(ke);
		return 1;
	}
	emu_task_stop(ke, t, MSG_TASK_BLOCKED, EMU_T_BLOCKED);
	emu_unlock(ke);
	return 0;
}

/* The blocked task wakes itself (its timer fired, its foreign wait ended): TASK_WAKEUP. */
static int wake_self(struct ghost_ktask *self, bool *woke)
{
	struct ghost_kenclave *ke = self->ke;
	struct emu_task *t = self->t;
	int err = emu_lock(ke);

	*woke = false;
	if (err)
		return err;
	if (t->state == EMU_T_BLOCKED) {
		emu_task_wakeup(ke, t, t->cpu);
		*woke = true;
	}
	emu_unlock(ke);
	return 0;
}

int emu_task_block(struct ghost_ktask *self, int64_t deadline_ns)
{
	struct emu_task *t = self->t;
	int ret = 0, err;
	bool woke;

	err = block_stop(self, true);
	if (err)
		return err < 0 ? err : 0;

	if (deadline_ns > 0) {
		/* Sleep until woken (state leaves BLOCKED) or the deadline. */
		emu_self_enter(self);
		for (;;) {
			uint32_t seen = __atomic_load_n(&t->park.seq, __ATOMIC_ACQUIRE);

			if (__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != EMU_T_BLOCKED ||
			    (__atomic_load_n(&t->flags, __ATOMIC_ACQUIRE) & EMU_TF_UNMANAGED))
				break;
			if (emu_park_wait(&t->park, seen, 0, deadline_ns, NULL, -1) == -ETIMEDOUT) {
				/* The timer fired first: the task wakes itself. */
				if (wake_self(self, &woke) == 0 && woke)
					ret = -ETIMEDOUT;
				break;
			}
		}
		emu_self_leave(self);
	}
	wait_oncpu(self);
	return ret;
}

/* The preemption signal, alone in a set. */
static void preempt_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, emu_preempt_signal);
}

/*
 * A foreign wait: the calling task is about to block outside this library (a system call, a
 * lock of the C library). begin takes it off its CPU as TASK_BLOCKED; end wakes it
 * (TASK_WAKEUP) and parks it until the enclave puts it on a CPU again. Between the two the
 * preemption signal is held off: a preemption asked for just before begin took the CPU would
 * otherwise land in the wait and cut short a call that SA_RESTART does not restart (poll,
 * nanosleep); once unblocked at end it finds the task off its CPU and does nothing. As safe
 * in a signal handler as the preemption handler itself: -EBUSY while the thread is inside
 * the library (it may hold the enclave lock).
 */
int emu_task_block_begin(struct ghost_ktask *self)
{
	sigset_t set;
	int err;

	if (self->in_kernel)
		return -EBUSY;
	preempt_sigset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	err = block_stop(self, false);
	if (err)
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return err;
}

int emu_task_block_end(struct ghost_ktask *self)
{
	sigset_t set;
	bool woke;
	int err;

	preempt_sigset(&set);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (!emu_task_managed(self))
		return 0; /* let go meanwhile (the agent died): a normal thread now */
	err = wake_self(self, &woke);
	if (err) {
		/* No lock, no way back onto a CPU: run on as a normal thread. */
		become_unmanaged(self);
		return err;
	}
	wait_oncpu(self);
	return 0;
}

int emu_task_unblock(struct ghost_ktask *task, int waker_cpu)
{
	struct ghost_kenclave *ke = task->ke;
	struct emu_task *t = task->t;
	int err = emu_lock(ke);

	if (err)
		return err;
	if (t->flags & EMU_TF_UNMANAGED)
		emu_park_wake(&t->park);
	else if (t->state == EMU_T_BLOCKED && !(t->flags & EMU_TF_NET))
		emu_task_wakeup(ke, t, waker_cpu);
	/* A net-blocked task sleeps in the host, not here: it wakes when its thread runs, and
	 * this wake-up is for its next block (as for a task still on its CPU). */
	else if (t->state == EMU_T_BLOCKED || t->state == EMU_T_RUNNABLE || t->state == EMU_T_ONCPU)
		emu_tflags_set(t, EMU_TF_WAKE_PENDING);
	emu_unlock(ke);
	return 0;
}

int emu_task_yield(struct ghost_ktask *self)
{
	struct ghost_kenclave *ke = self->ke;
	struct emu_task *t = self->t;
	int err = emu_lock(ke);

	if (err)
		return err;
	if (emu_task_managed(self) && emu_task_net_resume(ke, t)) {
		/* Off its CPU already (the safety net): parking until committed is the yield. */
		emu_unlock(ke);
		wait_oncpu(self);
		return 0;
	}
	if (!emu_task_managed(self) || t->state != EMU_T_ONCPU) {
		emu_unlock(ke);
		return -ESRCH;
	}
	emu_task_stop(ke, t, MSG_TASK_YIELD, EMU_T_RUNNABLE);
	emu_unlock(ke);
	wait_oncpu(self);
	return 0;
}

int emu_task_changed(struct ghost_ktask *self, int what, int nice, const struct ghost_cpuset *cpus)
{
	struct ghost_kenclave *ke = self->ke;
	struct emu_task *t = self->t;
	int err, cpu;

	if (what != GHOST_TASK_NICE && what != GHOST_TASK_AFFINITY)
		return -EINVAL;
	if (what == GHOST_TASK_AFFINITY) {
		if (!cpus)
			return -EINVAL;
		CPU_ZERO(&self->orig_affinity);
		ghost_cpuset_for_each(cpu, cpus)
			if (cpu < CPU_SETSIZE)
				CPU_SET(cpu, &self->orig_affinity);
	}
	err = emu_lock(ke);
	if (err)
		return err;
	if (!emu_task_managed(self)) {
		emu_unlock(ke);
		return what == GHOST_TASK_AFFINITY
			       ? (sched_setaffinity(0, sizeof(self->orig_affinity),
						    &self->orig_affinity)
					  ? -errno
					  : 0)
			       : 0;
	}
	if (what == GHOST_TASK_NICE) {
		struct ghost_msg_payload_task_priority_changed p = {
			.gtid = (uint64_t)t->gtid,
			.nice = nice,
		};

		t->nice = nice;
		emu_task_msg(ke, t, MSG_TASK_PRIORITY_CHANGED, &p, sizeof(p));
	} else {
		struct ghost_msg_payload_task_affinity_changed p = { .gtid = (uint64_t)t->gtid };

		memset(t->orig_mask, 0, sizeof(t->orig_mask));
		ghost_cpuset_for_each(cpu, cpus)
			t->orig_mask[cpu / 64] |= 1ull << (cpu % 64);
		emu_task_msg(ke, t, MSG_TASK_AFFINITY_CHANGED, &p, sizeof(p));
	}
	/* A running task whose attributes change leaves its CPU (the
	 * preemption lands when we leave the lock). */
	if (t->state == EMU_T_ONCPU)
		emu_preempt_current(ke, t->cpu, false);
	emu_unlock(ke);
	return 0;
}

/*
 * The CPUs a task may run on. Its thread's own affinity is no answer here: this kernel pins
 * the thread to whichever CPU runs it, and keeps what the thread asked for in its record.
 */
int emu_task_affinity(struct ghost_kenclave *ke, int64_t gtid, struct ghost_cpuset *out)
{
	struct emu_task *t;
	int err;

	if (!out)
		return -EINVAL;
	if ((err = emu_lock(ke)))
		return err;
	t = emu_task_by_gtid(ke->sh, gtid);
	if (!t || t->state == EMU_T_DEAD || t->state == EMU_T_DEPARTED) {
		err = -ESRCH;
	} else {
		ghost_cpuset_zero(out);
		for (int c = 0; c < GHOST_MAX_CPUS; c++)
			if (t->orig_mask[c / 64] & (1ull << (c % 64)))
				ghost_cpuset_set(out, c);
	}
	emu_unlock(ke);
	return err;
}

void emu_task_nopreempt(struct ghost_ktask *self, bool on)
{
	/* The same deferral as inside the enclave lock. */
	if (on) {
		emu_self_enter(self);
		return;
	}
	if (emu_self_leave(self) && self->preempt_deferred) {
		self->preempt_deferred = 0;
		emu_handle_preempt(self);
	}
}
