/*
 * kernels/emu/emu_lock.c - the embedded kernel's locks and waits: the bottom
 * of its scheduling layers, above only the shared memory (emu_shm.c).
 *
 * Owns the process's identity (a cached pid that follows forks) and clock,
 * parking (a generation word and a waiter count: no system call when nobody
 * sleeps), the enclave's robust process-shared mutex with its corruption
 * checks and the repair of the shared state after a holder died, the
 * agent_online flock, and the calling thread's ghost task (emu_self) with the
 * preemption deferred while it holds the lock. It calls nothing above it: a
 * preemption deferred until the unlock is carried out by the hook the task
 * side installs (emu_set_preempt_hook).
 */
#include "emu.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__thread struct ghost_ktask *emu_self __attribute__((tls_model("initial-exec")));

/*
 * What to do with a preemption that landed while the task was inside the
 * kernel, once it leaves (the task side parks the thread). Set once, before
 * any task exists; read with relaxed loads (it never changes afterwards).
 */
static void (*preempt_hook)(struct ghost_ktask *self);

void emu_set_preempt_hook(void (*hook)(struct ghost_ktask *self))
{
	__atomic_store_n(&preempt_hook, hook, __ATOMIC_RELAXED);
}

void emu_run_deferred_preempt(struct ghost_ktask *self)
{
	void (*hook)(struct ghost_ktask *) = __atomic_load_n(&preempt_hook, __ATOMIC_RELAXED);

	if (hook)
		hook(self);
}

/* getpid() is a system call each time; commits ask for it on every call. */
static pid_t cached_pid;

static void forget_pid(void)
{
	__atomic_store_n(&cached_pid, 0, __ATOMIC_RELAXED);
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, forget_pid);
}

pid_t emu_getpid(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pid_t pid = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);

	if (!pid) {
		pthread_once(&once, watch_forks);
		pid = getpid();
		__atomic_store_n(&cached_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

int64_t emu_now(void)
{
	return ghost_clock_now(); /* the simulator's clock in its thread */
}

/* ---- parking: a generation word and a waiter count (no syscall if nobody sleeps) ---- */

/*
 * Wake-ups issued while the enclave lock is held are sent once it is
 * released: a woken thread would otherwise run (on one CPU, preempt us) only
 * to block on the lock we still hold.
 */
static __thread struct emu_park *deferred_wakes[32] __attribute__((tls_model("initial-exec")));
static __thread int ndeferred __attribute__((tls_model("initial-exec")));
static __thread bool holding_lock __attribute__((tls_model("initial-exec")));

static void futex_wake_all(struct emu_park *p)
{
	syscall(SYS_futex, &p->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void emu_park_wake(struct emu_park *p)
{
	/* Seq-cst pairs with the waiter's increment of waiters then re-read of
	 * seq: one of the two sides always sees the other. */
	__atomic_add_fetch(&p->seq, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&p->waiters, __ATOMIC_SEQ_CST))
		return;
	/* A late wake of a reused record is a spurious wake-up: harmless. */
	if (holding_lock && ndeferred < (int)GHOST_ARRAY_SIZE(deferred_wakes))
		deferred_wakes[ndeferred++] = p;
	else
		futex_wake_all(p);
}

int emu_park_wait(struct emu_park *p, uint32_t seen, int64_t spin_ns, int64_t deadline_ns,
		  const int32_t *busy, int32_t self)
{
	int32_t b;
	int ret = 0;

	/* Poll first (no system call on either side), but only while *busy
	 * says no other task needs this CPU. */
	if (spin_ns > 0) {
		int64_t until = emu_now() + spin_ns;

		do {
			for (int i = 0; i < 64; i++) {
				if (__atomic_load_n(&p->seq, __ATOMIC_ACQUIRE) != seen)
					return 0;
				if (busy && (b = __atomic_load_n(busy, __ATOMIC_RELAXED)) >= 0 &&
				    b != self)
					goto sleep;
				ghost_cpu_relax();
			}
		} while (emu_now() < until);
	}
sleep:
	__atomic_add_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&p->seq, __ATOMIC_SEQ_CST) == seen) {
		struct timespec ts, *tsp = NULL;

		if (deadline_ns > 0) {
			ts.tv_sec = deadline_ns / 1000000000;
			ts.tv_nsec = deadline_ns % 1000000000;
			tsp = &ts;
		}
		/* Shared (not private) futex: wakers live in other processes. */
		if (syscall(SYS_futex, &p->seq, FUTEX_WAIT_BITSET, seen, tsp, NULL,
			    FUTEX_BITSET_MATCH_ANY) &&
		    errno == ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	__atomic_sub_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
	return ret;
}

/* ---- the lock ---- */

static void mutex_attr(pthread_mutexattr_t *a)
{
	pthread_mutexattr_init(a);
	pthread_mutexattr_setpshared(a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(a, PTHREAD_MUTEX_ROBUST);
}

int emu_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int err;

	mutex_attr(&a);
	err = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -err;
}

#ifdef __GLIBC__
static int good_kind;

static void learn_kind(void)
{
	pthread_mutex_t m;

	/* What this C library writes for our attributes, not a constant of ours. */
	if (emu_mutex_init(&m) == 0) {
		good_kind = m.__data.__kind;
		pthread_mutex_destroy(&m);
	}
}

bool emu_mutex_sane(const pthread_mutex_t *m)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, learn_kind);
	/* The type never changes after init; a relaxed load of it suffices. */
	return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == good_kind;
}
#else
bool emu_mutex_sane(const pthread_mutex_t *m)
{
	(void)m;
	return true;
}
#endif

void emu_mutex_unlock_sane(pthread_mutex_t *m)
{
	/* An overwritten type would make the C library abort in the unlock; the
	 * kernel marks a robust lock its holder exits with as owner-dead. */
	if (emu_mutex_sane(m))
		pthread_mutex_unlock(m);
}

/* The thread that holds m, by its lock word (0 = free); glibc only. */
static pid_t mutex_owner(const pthread_mutex_t *m)
{
#ifdef __GLIBC__
	return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) & FUTEX_TID_MASK;
#else
	(void)m;
	return 0;
#endif
}

static void emu_repair(struct ghost_kenclave *ke);

/*
 * The enclave lock, robust against a holder that dies (EOWNERDEAD: repair)
 * and against bytes overwritten by a buggy or hostile process: a type the
 * C library would abort on is refused, and a lock word naming a thread that
 * does not exist (so that no unlock and no owner-died notice can ever come)
 * is found after a second of waiting. Both make the enclave unusable: -EIO,
 * said once per process.
 */
static int lock_shared(struct ghost_kenclave *ke)
{
	static int reported;
	pthread_mutex_t *m = &ke->sh->lock;
	const char *why = "its type bytes were overwritten";
	struct timespec ts;
	pid_t owner;
	int r;

	while (emu_mutex_sane(m)) {
		/* timedlock (the realtime clock), not clocklock: the thread
		 * sanitizer knows only the former. A clock step makes one wait
		 * shorter or longer, and a short one only looks at the owner. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		r = pthread_mutex_timedlock(m, &ts);
		if (r != ETIMEDOUT)
			return r;
		owner = mutex_owner(m);
		if (owner > 0 && kill(owner, 0) && errno == ESRCH) {
			why = "it names a holder that does not exist";
			break;
		}
	}
	if (!__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
		ghost_err("enclave %llu: its shared lock is corrupt (%s); the enclave is unusable",
			  (unsigned long long)ke->id, why);
	return EIO;
}

int emu_lock(struct ghost_kenclave *ke)
{
	struct ghost_ktask *self = emu_self;
	int r;

	/* Preemption signals that land while we hold the lock are deferred
	 * until emu_unlock: the handler must never take it recursively. */
	if (self)
		emu_self_enter(self);
	r = lock_shared(ke);
	if (r == EOWNERDEAD) {
		/* The previous holder died mid-operation (kill -9): bring the
		 * cross references back in line before anyone relies on them. */
		pthread_mutex_consistent(&ke->sh->lock);
		ke->sh->repairs++;
		emu_repair(ke);
		r = 0;
	}
	if (r) {
		if (self)
			emu_self_leave(self);
		return -EIO;
	}
	holding_lock = true;
	return 0;
}

void emu_unlock(struct ghost_kenclave *ke)
{
	struct ghost_ktask *self = emu_self;
	int n = ndeferred;

	holding_lock = false;
	ndeferred = 0;
	pthread_mutex_unlock(&ke->sh->lock);
	for (int i = 0; i < n; i++)
		futex_wake_all(deferred_wakes[i]);
	if (self && emu_self_leave(self) && self->preempt_deferred) {
		self->preempt_deferred = 0;
		emu_run_deferred_preempt(self);
	}
}

/* ---- repair after a holder died ---- */

static void emu_repair(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;
	uint32_t live = 0;

	for (int c = 0; c < (int)sh->ncpus; c++) {
		struct emu_cpu *ec = emu_cpu(sh, c);
		struct emu_task *t = emu_task_at(sh, ec->current);

		if (t && (t->state != EMU_T_ONCPU || t->cpu != c))
			emu_set_current(ec, -1);
		else if (!t)
			emu_set_current(ec, -1);
		t = emu_task_at(sh, ec->latched);
		if (!t || t->state != EMU_T_RUNNABLE || t->latched_cpu != c)
			ec->latched = -1;
	}
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (t->state == EMU_T_BLOCKED || t->state == EMU_T_RUNNABLE ||
		    t->state == EMU_T_ONCPU)
			live++;
		if (t->state == EMU_T_ONCPU &&
		    (!emu_cpu_ok(sh, t->cpu) || emu_cpu(sh, t->cpu)->current != (int)i)) {
			if (emu_cpu_ok(sh, t->cpu) && emu_cpu(sh, t->cpu)->current < 0) {
				emu_set_current(emu_cpu(sh, t->cpu), (int)i);
			} else {
				/* Half switched in: send it back to the runqueue. */
				emu_task_set_state(t, EMU_T_RUNNABLE);
				emu_park_wake(&t->park);
			}
		}
		if (t->latched_cpu >= 0 && (!emu_cpu_ok(sh, t->latched_cpu) ||
					    emu_cpu(sh, t->latched_cpu)->latched != (int)i))
			t->latched_cpu = -1;
	}
	sh->nr_tasks = live;
	/*
	 * The dead holder's wake-ups were still to be sent (they go out after
	 * the unlock it never reached): wake every sleeper. Each re-reads its
	 * state, so a wake it did not need costs it one check.
	 */
	emu_wake_sleepers(ke);
}

void emu_wake_sleepers(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;

	for (int c = 0; c < (int)sh->ncpus; c++)
		if (emu_cpu(sh, c)->agent_state != EMU_A_NONE)
			emu_park_wake(&emu_cpu(sh, c)->agent_park);
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (t->state != EMU_T_FREE && __atomic_load_n(&t->park.waiters, __ATOMIC_RELAXED))
			emu_park_wake(&t->park);
	}
}

int emu_init_task_life(struct emu_task *t)
{
	return emu_mutex_init(&t->life);
}

int emu_agent_online(struct ghost_kenclave *ke)
{
	char path[700];
	int fd;

	if (ke->online_fd >= 0)
		return -EBUSY;
	snprintf(path, sizeof(path), "%s/agent_online", ke->dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	/* A prober may hold a shared lock for an instant: retry briefly. */
	for (int i = 0; flock(fd, LOCK_EX | LOCK_NB); i++) {
		if (errno != EWOULDBLOCK || i >= 50) {
			close(fd);
			return -EBUSY;
		}
		usleep(1000);
	}
	/* The kernel thread reads it without our locks. */
	__atomic_store_n(&ke->online_fd, fd, __ATOMIC_RELEASE);
	return 0;
}

void emu_agent_offline(struct ghost_kenclave *ke)
{
	int fd = __atomic_exchange_n(&ke->online_fd, -1, __ATOMIC_ACQ_REL);

	if (fd >= 0) {
		close(fd);
	}
}

bool emu_agent_process_alive(struct ghost_kenclave *ke)
{
	char path[700];
	bool alive;
	int fd;

	if (__atomic_load_n(&ke->online_fd, __ATOMIC_ACQUIRE) >= 0)
		return true;
	snprintf(path, sizeof(path), "%s/agent_online", ke->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	alive = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd); /* drops the shared lock if we got it */
	return alive;
}
