/*
 * thread.c - ghost threads and the waits they block in.
 *
 * Owns the calling thread's "which enclave am I a ghost task of" (TLS), the
 * thread wrapper that enters an enclave before user code and leaves it after,
 * and the process-private wait table that turns a wait on a word into the
 * backend's task_block / task_unblock (and so into TASK_BLOCKED /
 * TASK_WAKEUP) when the backend schedules in user space. Everything else
 * waits with plain futexes. It never decides where anything runs.
 */
#include "backend.h"
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/thread.h>

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct thread_self {
	struct ghost_enclave *e;
	const struct ghost_kernel_ops *ops;
	struct ghost_ktask *kt; /* NULL for backends the kernel schedules */
};

static __thread struct thread_self cur;

int64_t ghost_now_ns(void)
{
	return ghost_clock_now();
}

/* Is the caller a ghost task whose blocking we must report ourselves? */
static bool user_scheduled(void)
{
	if (!cur.kt)
		return false;
	if (!cur.ops->task_managed(cur.kt)) {
		/* The enclave let it go (agent gone, enclave destroyed): from now
		 * on it is a normal thread. */
		cur.ops->task_exit(cur.kt);
		memset(&cur, 0, sizeof(cur));
		return false;
	}
	return true;
}

/* ---- the wait table ---- */

struct waiter {
	uint32_t *word;
	struct ghost_ktask *kt;
	const struct ghost_kernel_ops *ops;
	struct waiter *next;
	int woken; /* popped by a waker */
	int done;  /* the waker no longer touches kt */
};

void ghost_nopreempt_enter(void)
{
	if (cur.kt)
		cur.ops->task_nopreempt(cur.kt, true);
}

void ghost_nopreempt_leave(void)
{
	if (cur.kt)
		cur.ops->task_nopreempt(cur.kt, false);
}

/*
 * A bucket lock is held for a few instructions, but a ghost task preempted
 * while holding it would park with it, and another task blocked on it holds
 * its CPU meanwhile: preemption waits until the lock is released.
 */
static void bucket_lock(pthread_mutex_t *m)
{
	ghost_nopreempt_enter();
	pthread_mutex_lock(m);
}

static void bucket_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
	ghost_nopreempt_leave();
}

#define WAIT_BUCKETS 256
static struct {
	pthread_mutex_t lock;
	struct waiter *head;
} buckets[WAIT_BUCKETS];
static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

static void buckets_init(void)
{
	for (int i = 0; i < WAIT_BUCKETS; i++)
		pthread_mutex_init(&buckets[i].lock, NULL);
}

static unsigned bucket_of(const uint32_t *word)
{
	uintptr_t a = (uintptr_t)word;

	return (unsigned)((a >> 2) * 0x9E3779B97F4A7C15ull >> 56) % WAIT_BUCKETS;
}

static int futex_wait_abs(uint32_t *word, uint32_t val, int64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;

	if (deadline_ns > 0) {
		ts.tv_sec = deadline_ns / 1000000000;
		ts.tv_nsec = deadline_ns % 1000000000;
		tsp = &ts;
	}
	if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, val, tsp, NULL,
		    FUTEX_BITSET_MATCH_ANY) == 0)
		return 0;
	if (errno == ETIMEDOUT)
		return -ETIMEDOUT;
	if (errno == EAGAIN)
		return -EAGAIN;
	return 0; /* EINTR: a spurious wakeup, callers re-check */
}

int ghost_wait(uint32_t *word, uint32_t val, int64_t deadline_ns)
{
	struct waiter w = { .word = word };
	unsigned b;
	int r;

	if (!word)
		return -EINVAL;
	if (deadline_ns > 0 && ghost_now_ns() >= deadline_ns)
		return __atomic_load_n(word, __ATOMIC_ACQUIRE) == val ? -ETIMEDOUT : -EAGAIN;
	if (!user_scheduled())
		return futex_wait_abs(word, val, deadline_ns);
	pthread_once(&buckets_once, buckets_init);
	b = bucket_of(word);
	w.kt = cur.kt;
	w.ops = cur.ops;
	bucket_lock(&buckets[b].lock);
	if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != val) {
		bucket_unlock(&buckets[b].lock);
		return -EAGAIN;
	}
	w.next = buckets[b].head;
	buckets[b].head = &w;
	bucket_unlock(&buckets[b].lock);

	r = cur.ops->task_block(cur.kt, deadline_ns);

	bucket_lock(&buckets[b].lock);
	if (!w.woken) {
		for (struct waiter **pp = &buckets[b].head; *pp; pp = &(*pp)->next) {
			if (*pp == &w) {
				*pp = w.next;
				break;
			}
		}
	}
	bucket_unlock(&buckets[b].lock);
	/* A waker that popped us may still be unblocking us: our stack (and
	 * our task) must outlive that. */
	if (w.woken)
		while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
			sched_yield();
	if (r == -ESRCH) {
		/* No longer scheduled by the enclave: wait the ordinary way. */
		memset(&cur, 0, sizeof(cur));
		return futex_wait_abs(word, val, deadline_ns);
	}
	return r == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

int ghost_wake(uint32_t *word, int n)
{
	struct waiter *popped[64];
	int count = 0, np = 0, cpu = sched_getcpu();
	long r;

	if (!word || n <= 0)
		return word ? 0 : -EINVAL;
	pthread_once(&buckets_once, buckets_init);
	while (count < n) {
		unsigned b = bucket_of(word);

		np = 0;
		/*
		 * From popping a waiter to marking it done we owe it: it spins on
		 * `done` (its stack must outlive our use), and it may hold the only
		 * CPU we could be put back on. Preempted in between, we would never
		 * be (a FIFO CPU runs it until it blocks, and it never does).
		 */
		ghost_nopreempt_enter();
		bucket_lock(&buckets[b].lock);
		for (struct waiter **pp = &buckets[b].head; *pp && count + np < n && np < 64;) {
			struct waiter *w = *pp;

			if (w->word == word) {
				*pp = w->next;
				w->woken = 1;
				popped[np++] = w;
			} else {
				pp = &w->next;
			}
		}
		bucket_unlock(&buckets[b].lock);
		for (int i = 0; i < np; i++) {
			popped[i]->ops->task_unblock(popped[i]->kt, cpu);
			__atomic_store_n(&popped[i]->done, 1, __ATOMIC_RELEASE);
		}
		ghost_nopreempt_leave();
		count += np;
		if (np < 64)
			break;
	}
	/* Threads that are not user-scheduled ghost tasks sleep in the futex. */
	if (count < n) {
		r = syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n - count, NULL, NULL, 0);
		if (r > 0)
			count += (int)r;
	}
	return count;
}

int ghost_sleep_ns(int64_t ns)
{
	uint32_t word = 0;
	int64_t deadline = ghost_now_ns() + (ns > 0 ? ns : 0);
	int r;

	if (ns <= 0)
		return 0;
	do
		r = ghost_wait(&word, 0, deadline);
	while (r == 0 && ghost_now_ns() < deadline);
	return 0;
}

int ghost_yield(void)
{
	if (user_scheduled()) {
		int r = cur.ops->task_yield(cur.kt);

		if (r != -ESRCH)
			return r;
	}
	sched_yield();
	return 0;
}

/* ---- mutex and condition variable ---- */

bool ghost_mutex_trylock(struct ghost_mutex *m)
{
	uint32_t zero = 0;

	return __atomic_compare_exchange_n(&m->state, &zero, 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

void ghost_mutex_lock(struct ghost_mutex *m)
{
	uint32_t c = 0;

	if (__atomic_compare_exchange_n(&m->state, &c, 1, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	/* Contended: mark it so the unlocker knows to wake someone. */
	if (c != 2)
		c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		ghost_wait(&m->state, 2, 0);
		c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	}
}

void ghost_mutex_unlock(struct ghost_mutex *m)
{
	if (__atomic_exchange_n(&m->state, 0, __ATOMIC_RELEASE) == 2)
		ghost_wake(&m->state, 1);
}

int ghost_cond_wait(struct ghost_cond *c, struct ghost_mutex *m, int64_t deadline_ns)
{
	uint32_t seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
	int r;

	ghost_mutex_unlock(m);
	r = ghost_wait(&c->seq, seq, deadline_ns);
	ghost_mutex_lock(m);
	return r == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

void ghost_cond_signal(struct ghost_cond *c)
{
	__atomic_add_fetch(&c->seq, 1, __ATOMIC_RELEASE);
	ghost_wake(&c->seq, 1);
}

void ghost_cond_broadcast(struct ghost_cond *c)
{
	__atomic_add_fetch(&c->seq, 1, __ATOMIC_RELEASE);
	ghost_wake(&c->seq, INT_MAX);
}

/* ---- ghost threads ---- */

struct ghost_thread {
	pthread_t pthread;
	struct ghost_enclave *e;
	void *(*fn)(void *);
	void *arg;
	void *ret;
	pid_t tid;
	int enter_err; /* why it ran as a normal thread, if it did */
	uint32_t done;
};

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/* A thread that entered an enclave and ends without leaving it dies there. */
static void exit_destructor(void *unused)
{
	(void)unused;
	if (cur.e && cur.kt)
		cur.ops->task_exit(cur.kt);
	memset(&cur, 0, sizeof(cur));
}

/*
 * In a forked child the calling thread is a copy of the parent's thread: not the parent's
 * ghost task (the backend forgets its own side the same way), and the wait table holds the
 * parent's other threads, which the child does not have, maybe with a bucket lock one of them
 * held at the fork. The child starts with an empty table and as a normal thread.
 */
static void forked_child(void)
{
	memset(&cur, 0, sizeof(cur));
	for (int i = 0; i < WAIT_BUCKETS; i++) {
		pthread_mutex_init(&buckets[i].lock, NULL);
		buckets[i].head = NULL;
	}
}

static void exit_key_init(void)
{
	pthread_key_create(&exit_key, exit_destructor);
	pthread_atfork(NULL, NULL, forked_child);
}

static int enter(struct ghost_enclave *e)
{
	struct ghost_ktask *kt = NULL;
	int err;

	if (cur.e)
		return -EBUSY;
	pthread_once(&exit_key_once, exit_key_init);
	err = e->ops->task_enter(e->k, 0, &kt);
	if (err)
		return err;
	/* A task handle means the GHOST_KCAP_USER_TASKS ops, which the registry checked. */
	if (kt && !(e->ops->caps & GHOST_KCAP_USER_TASKS)) {
		e->ops->task_leave(e->k, 0);
		return -EPROTO;
	}
	cur.e = e;
	cur.ops = e->ops;
	cur.kt = kt;
	pthread_setspecific(exit_key, e);
	return 0;
}

static void *thread_main(void *arg)
{
	struct ghost_thread *t = arg;

	__atomic_store_n(&t->tid, gettid(), __ATOMIC_RELEASE);
	__atomic_store_n(&t->enter_err, enter(t->e), __ATOMIC_RELEASE);
	if (t->enter_err)
		ghost_warn(
			"thread %d could not enter enclave %llu (%s): it runs as a normal thread",
			gettid(), (unsigned long long)t->e->id, ghost_strerror(t->enter_err));
	t->ret = t->fn(t->arg);
	if (cur.e) {
		if (cur.kt)
			cur.ops->task_exit(cur.kt);
		memset(&cur, 0, sizeof(cur));
	}
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	ghost_wake(&t->done, INT_MAX);
	return NULL;
}

int ghost_thread_create(struct ghost_enclave *e, struct ghost_thread **out, void *(*fn)(void *),
			void *arg)
{
	struct ghost_thread *t;
	int err;

	if (!e || !out || !fn)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->e = e;
	t->fn = fn;
	t->arg = arg;
	err = -pthread_create(&t->pthread, NULL, thread_main, t);
	if (err) {
		free(t);
		return err;
	}
	*out = t;
	return 0;
}

int ghost_thread_join(struct ghost_thread *t, void **ret)
{
	int err;

	if (!t)
		return -EINVAL;
	while (!__atomic_load_n(&t->done, __ATOMIC_ACQUIRE))
		ghost_wait(&t->done, 0, 0);
	pthread_join(t->pthread, NULL);
	if (ret)
		*ret = t->ret;
	err = t->enter_err;
	free(t);
	return err;
}

pid_t ghost_thread_tid(const struct ghost_thread *t)
{
	pid_t tid;

	while (!(tid = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE)))
		sched_yield();
	return tid;
}

int ghost_thread_enter(struct ghost_enclave *e)
{
	if (!e)
		return -EINVAL;
	return enter(e);
}

int ghost_thread_move(struct ghost_enclave *e, pid_t tid)
{
	struct ghost_ktask *kt = NULL;

	if (!e || tid < 0)
		return -EINVAL;
	if (tid == 0 || tid == gettid())
		return enter(e);
	return e->ops->task_enter(e->k, tid, &kt);
}

int ghost_thread_remove(struct ghost_enclave *e, pid_t tid)
{
	if (!e || tid < 0)
		return -EINVAL;
	if ((tid == 0 || tid == gettid()) && cur.e == e)
		return ghost_thread_leave();
	return e->ops->task_leave(e->k, tid);
}

int ghost_thread_exiting(void)
{
	if (!cur.e)
		return -ESRCH;
	if (cur.kt)
		cur.ops->task_exit(cur.kt);
	memset(&cur, 0, sizeof(cur));
	return 0;
}

/* The caller's errno survives both: they sit between a program and its system calls. */
int ghost_thread_block_begin(void)
{
	int saved = errno, r;

	/* The common case outside the enclave: one thread-local load. */
	if (!cur.kt)
		return -ESRCH;
	r = user_scheduled() ? cur.ops->task_block_begin(cur.kt) : -ESRCH;
	errno = saved;
	return r;
}

int ghost_thread_block_end(void)
{
	int saved = errno, r;

	if (!cur.kt)
		return -ESRCH;
	r = cur.ops->task_block_end(cur.kt);
	errno = saved;
	return r;
}

int ghost_thread_leave(void)
{
	int err;

	if (!cur.e)
		return -EINVAL;
	err = cur.ops->task_leave(cur.e->k, 0);
	memset(&cur, 0, sizeof(cur));
	return err;
}

int ghost_thread_set_nice(int nice)
{
	if (nice < -20 || nice > 19)
		return -EINVAL;
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice))
		return -errno;
	if (user_scheduled())
		return cur.ops->task_changed(cur.kt, GHOST_TASK_NICE, nice, NULL);
	return 0;
}

int ghost_thread_set_affinity(const struct ghost_cpuset *cpus)
{
	cpu_set_t set;
	int cpu;

	if (!cpus || ghost_cpuset_empty(cpus))
		return -EINVAL;
	CPU_ZERO(&set);
	ghost_cpuset_for_each(cpu, cpus)
		if (cpu < CPU_SETSIZE)
			CPU_SET(cpu, &set);
	/* A backend that pins the thread itself keeps the set for later. */
	if (user_scheduled())
		return cur.ops->task_changed(cur.kt, GHOST_TASK_AFFINITY, 0, cpus);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int ghost_thread_affinity_of(struct ghost_enclave *e, int64_t gtid, struct ghost_cpuset *out)
{
	int64_t tid = ghost_gtid_to_tid(gtid);
	cpu_set_t set;

	if (!e || !out || gtid <= 0 || tid <= 0 || tid > INT_MAX)
		return -EINVAL;
	/* Such a backend pins the thread to the CPU it runs on (a simulator's tasks
	 * have no thread): only it knows. */
	if (e->ops->caps & (GHOST_KCAP_USER_TASKS | GHOST_KCAP_VIRTUAL))
		return e->ops->task_affinity(e->k, gtid, out);
	CPU_ZERO(&set);
	if (sched_getaffinity((pid_t)tid, sizeof(set), &set))
		return -errno;
	ghost_cpuset_zero(out);
	for (int cpu = 0; cpu < CPU_SETSIZE && cpu < GHOST_MAX_CPUS; cpu++)
		if (CPU_ISSET(cpu, &set))
			ghost_cpuset_set(out, cpu);
	return 0;
}

bool ghost_thread_is_ghost(void)
{
	return cur.e && (!cur.kt || user_scheduled());
}

int64_t ghost_thread_gtid_of(const struct ghost_thread *t, int64_t timeout_ns)
{
	int64_t gtid = 0, end;
	pid_t tid;

	if (!t)
		return 0;
	end = ghost_now_ns() + (timeout_ns > 0 ? timeout_ns : 1000000000);
	tid = ghost_thread_tid(t);
	/* Its task record exists from the moment it entered, before it runs. */
	while (t->e->ops->gtid_of(t->e->k, tid, &gtid) || gtid <= 0) {
		gtid = 0;
		if (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&t->enter_err, __ATOMIC_ACQUIRE) || ghost_now_ns() >= end)
			return 0;
		usleep(50);
	}
	return gtid;
}

int64_t ghost_thread_gtid(void)
{
	int64_t gtid = 0;

	if (!cur.e || cur.e->ops->gtid_of(cur.e->k, gettid(), &gtid))
		return 0;
	return gtid;
}
