/*
 * tests/test_emu_corrupt.c - a live enclave whose shared state another
 * process overwrote: every reader and every locker says so, none crashes
 * or hangs.
 *
 * With an agent and a ghost thread running, the test writes into the state
 * file behind the library's back: a task record's queue index out of range
 * (then task discovery, which every take-over runs), a CPU's agent state out
 * of range (then the stats file), a task's life lock with a type the C
 * library would abort on (then the reaper). With the agent stopped, the
 * enclave lock itself: its type bytes (then a ctl, a tunable write and a
 * destroy), and a lock word naming a thread that does not exist (then a
 * ctl, which must give up with -EIO instead of waiting for good).
 */
#include "emu_helpers.h"

#include <pthread.h>

static struct emu_shared *sh; /* the state file, mapped writable */
static uint32_t go;

static struct emu_task *record_of(pid_t tid)
{
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (t->tid == tid && t->state != EMU_T_FREE && t->state != EMU_T_DEAD &&
		    t->state != EMU_T_DEPARTED)
			return t;
	}
	return NULL;
}

/* A ghost thread that sleeps in the enclave until told to go. */
static void *sleeper(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		ghost_wait(&go, 0, ghost_now_ns() + 50 * 1000000LL);
	return NULL;
}

static const char *stats(struct ghost_enclave *e)
{
	static char buf[1 << 16];

	CHECK(ghost_enclave_read_file(e, "stats", buf, sizeof(buf)) > 0);
	return buf;
}

/*
 * Stores a bad agent state for CPU 0 and reads the stats file. Only we ever
 * store a bad state, so if it is still there after the read it was there
 * throughout, and the file must say so; if the live agent replaced it
 * meanwhile, try again.
 */
static bool corrupt_state_reported(struct emu_shared *s, int32_t bad, struct ghost_enclave *e)
{
	for (int i = 0; i < 1000; i++) {
		const char *text;

		__atomic_store_n(&emu_cpu(s, 0)->agent_state, bad, __ATOMIC_RELEASE);
		text = stats(e);
		if (__atomic_load_n(&emu_cpu(s, 0)->agent_state, __ATOMIC_ACQUIRE) == bad)
			return strstr(text, "cpu 0 agent corrupt") != NULL;
	}
	return false;
}

#ifdef __GLIBC__
static void lock_tests(struct ghost_enclave *e)
{
	pthread_mutex_t *m = &sh->lock;
	int kind = m->__data.__kind;
	int64_t t0;

	/* A priority-protocol type: glibc would abort in its lock. */
	m->__data.__kind = 0x40;
	CHECK_ERR(ghost_enclave_ctl(e, "discover tasks"), EIO);
	CHECK_ERR(ghost_enclave_write_file(e, "tick_us", "2000"), EIO);
	/* Readers that take no lock still work. */
	CHECK(strstr(stats(e), "commits") != NULL);
	m->__data.__kind = kind;
	CHECK_OK(ghost_enclave_write_file(e, "tick_us", "2000"));

	/* Held by a thread that does not exist (above any pid_max): no unlock
	 * and no owner-died notice will ever come. */
	m->__data.__lock = 0x3ffffff0;
	t0 = ghost_now_ns();
	CHECK_ERR(ghost_enclave_ctl(e, "discover tasks"), EIO);
	CHECK(ghost_now_ns() - t0 < 10 * 1000000000LL);
	m->__data.__lock = 0;
	CHECK_OK(ghost_enclave_write_file(e, "tick_us", "1000"));

	/* Destroy works on a corrupt lock too: nobody could use the enclave. */
	m->__data.__kind = 0x40;
}
#endif

int main(void)
{
	struct ghost_full_agent *fa;
	struct ghost_enclave *e;
	struct ghost_thread *th;
	struct emu_task *t;
	char buf[1 << 16];
	int32_t saved_q, saved_state;

	test_root_make();
	e = test_enclave(test_ncpus() >= 2 ? "0-1" : "0", 1);
	sh = test_emu_state_map(1, NULL, true);
	fa = test_agent(e, "fifo-percpu", NULL);
	CHECK_OK(ghost_thread_create(e, &th, sleeper, NULL));
	CHECK(ghost_thread_gtid_of(th, 2000000000LL) > 0);
	t = record_of(ghost_thread_tid(th));
	CHECK(t != NULL);
	/* Scheduled once, now asleep in its wait. */
	for (int i = 0; i < 500 && __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != EMU_T_BLOCKED;
	     i++)
		usleep(10000);
	CHECK_EQ(t->state, EMU_T_BLOCKED);

	/* A queue index out of range, both ways: discovery reports the task
	 * nowhere instead of indexing past the queue table. */
	saved_q = t->queue;
	t->queue = EMU_MAX_QUEUES + 5;
	CHECK(ghost_enclave_ctl(e, "discover tasks") >= 0);
	t->queue = INT32_MAX;
	CHECK(ghost_enclave_ctl(e, "discover tasks") >= 0);
	t->queue = -7;
	CHECK(ghost_enclave_ctl(e, "discover tasks") >= 0);
	t->queue = saved_q;
	CHECK(ghost_enclave_ctl(e, "discover tasks") >= 0);

	/* A CPU's agent state out of range: the stats file says so. The
	 * agent is live and may store its state between our write and the
	 * read (the discoveries above woke it): a read that saw a good state
	 * is tried again, one that saw the bad state must say so. */
	saved_state = emu_cpu(sh, 0)->agent_state;
	CHECK(corrupt_state_reported(sh, -5, e));
	CHECK(corrupt_state_reported(sh, 1 << 30, e));
	__atomic_store_n(&emu_cpu(sh, 0)->agent_state, saved_state, __ATOMIC_RELEASE);
	CHECK(strstr(stats(e), "cpu 0 agent corrupt") == NULL);

#ifdef __GLIBC__
	/* A task's life lock with a type the C library aborts on: the reaper
	 * counts the record as dead (its thread runs on as a normal thread)
	 * instead of taking the lock. */
	t->life.__data.__kind = 0x40;
	for (int i = 0; i < 200 && record_of(ghost_thread_tid(th)); i++)
		usleep(10000);
	CHECK(record_of(ghost_thread_tid(th)) == NULL);
	CHECK(counter_after(stats(e), "reaped_tasks ") >= 1);
#endif
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	ghost_wake(&go, 1);
	CHECK_OK(ghost_thread_join(th, NULL));
	CHECK_OK(ghost_full_agent_stop(fa));

#ifdef __GLIBC__
	lock_tests(e);
#endif
	CHECK_OK(ghost_enclave_ctl(e, "destroy"));
	ghost_enclave_close(e);
	snprintf(buf, sizeof(buf), "%s/enclave_1", test_root);
	CHECK_MSG(access(buf, F_OK) != 0, "%s still exists", buf);
	printf("test_emu_corrupt: ok\n");
	return 0;
}
