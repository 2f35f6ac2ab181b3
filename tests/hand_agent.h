/*
 * tests/hand_agent.h - an enclave driven by hand, with no policy, for the
 * tests of transactions: CPUs 0-1, one 256-slot default channel that wakes
 * nobody, the agent claim taken, and the calling thread attached as CPU 0's
 * agent (pinned to CPU 0 from then on); and for the tests whose tasks live in
 * another process, an agent thread that sleeps in local yield on another CPU, a
 * commit retried until it lands, a counter that must move. Test code only.
 */
#ifndef GHOST_TEST_HAND_AGENT_H
#define GHOST_TEST_HAND_AGENT_H

#include "test.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/kernel.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static inline struct ghost_channel *test_hand_enclave(const char *root, struct ghost_enclave **e)
{
	struct ghost_enclave_opts opts = { .sz = sizeof(opts), .root = root };
	struct ghost_channel *c;
	struct ghost_cpuset cpus;

	ghost_cpuset_zero(&cpus);
	ghost_cpuset_set(&cpus, 0);
	ghost_cpuset_set(&cpus, 1);
	opts.cpus = &cpus;
	CHECK_OK(ghost_enclave_create(&opts, e));
	CHECK_OK(ghost_channel_create(*e, 256, 0, &c));
	CHECK_OK(ghost_channel_set_default(c));
	CHECK_OK(ghost_channel_config_wakeup(c, NULL, 0));
	CHECK_OK(ghost_enclave_agent_online(*e));
	CHECK_OK(ghost_enclave_agent_attach(*e, 0, c));
	return c;
}

/* An agent thread of one CPU that sleeps in local yield until stopped. */
struct test_yield_agent {
	struct ghost_enclave *e;
	struct ghost_channel *c;
	int cpu;
	pthread_t th;
	uint32_t ready, stop, returns; /* returns: yields that came back (a message, a ping) */
	int err;
};

static void *test_yield_agent_main(void *arg)
{
	struct test_yield_agent *a = arg;
	const struct ghost_status_word *sw = NULL;
	struct ghost_sw_info info;

	a->err = ghost_enclave_agent_attach(a->e, a->cpu, a->c);
	if (!a->err &&
	    (ghost_sw_agent_info(a->e, a->cpu, &info) || !(sw = ghost_sw_lookup(a->e, &info))))
		a->err = -EIO;
	__atomic_store_n(&a->ready, 1, __ATOMIC_RELEASE);
	if (a->err)
		return NULL;
	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
		int r = ghost_txn_local_yield(a->e, a->cpu, ghost_sw_barrier(sw), 0);

		if (r == 0)
			__atomic_add_fetch(&a->returns, 1, __ATOMIC_SEQ_CST);
		else if (r != -ESTALE)
			break;
	}
	ghost_enclave_agent_detach(a->e, a->cpu);
	return NULL;
}

/* Starts a's thread as the agent of cpu (its queue: c) and waits until it is attached. */
static inline void test_yield_agent_start(struct test_yield_agent *a, struct ghost_enclave *e,
					  struct ghost_channel *c, int cpu)
{
	a->e = e;
	a->c = c;
	a->cpu = cpu;
	CHECK_EQ(pthread_create(&a->th, NULL, test_yield_agent_main, a), 0);
	while (!__atomic_load_n(&a->ready, __ATOMIC_ACQUIRE))
		usleep(100);
	CHECK_OK(a->err);
}

static inline void test_yield_agent_stop(struct test_yield_agent *a)
{
	__atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
	CHECK_OK(ghost_txn_ping(a->e, a->cpu));
	pthread_join(a->th, NULL);
}

/*
 * Commits *gtid onto cpu at the barrier *seq, calling drain() (which keeps *seq up to date)
 * before each try, until a commit lands: a message not read yet, a task still leaving a
 * CPU. A failure after 10 s.
 */
static inline void test_commit_until(struct ghost_enclave *e, int cpu, const int64_t *gtid,
				     const uint32_t *seq, void (*drain)(void))
{
	struct ghost_txn_opts o = { .commit_flags = COMMIT_AT_TXN_COMMIT };
	int64_t end = ghost_now_ns() + 10000000000LL;

	for (;;) {
		drain();
		o.target = *gtid;
		o.target_barrier = *seq;
		CHECK_OK(ghost_txn_open(e, cpu, &o));
		if (ghost_txn_commit(e, cpu) == 1)
			return;
		CHECK_MSG(ghost_now_ns() < end, "commit of %lld keeps failing: %s",
			  (long long)*gtid,
			  ghost_txn_reason(ghost_txn_state(ghost_enclave_txn(e, cpu))));
		usleep(100);
	}
}

/* *counter (another process's progress) moves within the next 10 s. */
static inline void test_wait_moves(const uint64_t *counter, const char *what)
{
	uint64_t p = __atomic_load_n(counter, __ATOMIC_ACQUIRE);
	int64_t end = ghost_now_ns() + 10000000000LL;

	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) == p)
		CHECK_MSG(ghost_now_ns() < end, "%s made no progress in 10 s", what);
}

/*
 * The application role of a cross-process test: two ghost threads (fn[0], fn[1]) in
 * enclave id of root, their tids written to tid[] before they first run (the agent
 * matches TASK_NEW by them), joined. 0, or the step that failed (3 attach, 4 create,
 * 5 join) as an exit status.
 */
static inline int test_app_two_threads(const char *root, const char *id, void *(*fn[2])(void *),
				       int32_t tid[2])
{
	struct ghost_enclave_opts o = { .sz = sizeof(o),
					.root = root,
					.id = strtoull(id, NULL, 10) };
	struct ghost_thread *t[2];
	struct ghost_enclave *e;

	if (ghost_enclave_attach(&o, &e))
		return 3;
	for (int i = 0; i < 2; i++) {
		if (ghost_thread_create(e, &t[i], fn[i], (void *)(intptr_t)i))
			return 4;
		__atomic_store_n(&tid[i], ghost_thread_tid(t[i]), __ATOMIC_RELEASE);
	}
	for (int i = 0; i < 2; i++)
		if (ghost_thread_join(t[i], NULL))
			return 5;
	ghost_enclave_close(e);
	return 0;
}

/* Calls poll() until cond holds; a hang is a failure (bounded at 10 s). */
#define TEST_POLL_UNTIL(poll, cond, what)                                             \
	do {                                                                          \
		int64_t _end = ghost_now_ns() + 10000000000LL;                        \
		while (poll(), !(cond)) {                                             \
			CHECK_MSG(ghost_now_ns() < _end, "waited 10 s for %s", what); \
			usleep(100);                                                  \
		}                                                                     \
	} while (0)

#endif