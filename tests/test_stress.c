/*
 * tests/test_stress.c - many short-lived ghost tasks with block/wake cycles
 * across two CPUs under the per-CPU FIFO agent (run under TSan and ASan
 * too).
 *
 * Checks: all 1,200 tasks finish; the mutex-protected counter is exact; the
 * kernel's books end empty; the switch trace holds its invariants; the agent
 * saw no sequence-number or malformed-message error, and as many TASK_DEAD
 * as TASK_NEW.
 */
#include "emu_helpers.h"

#include <stdatomic.h>

#define TASKS  1200
#define WAVE   60
#define ROUNDS 4

static struct ghost_mutex lock = GHOST_MUTEX_INIT;
static struct ghost_cond cond = GHOST_COND_INIT;
static long counter;
static atomic_int finished;

struct pair {
	uint32_t token;
};

static struct pair pairs[WAVE / 2];

static void *task(void *arg)
{
	int me = (int)(long)arg;
	struct pair *p = &pairs[(me % WAVE) / 2];
	uint32_t side = (uint32_t)(me & 1);

	for (int r = 0; r < ROUNDS; r++) {
		ghost_mutex_lock(&lock);
		counter++;
		ghost_cond_broadcast(&cond);
		ghost_mutex_unlock(&lock);
		/* Ping-pong with the partner: wait for our turn, pass the token. */
		while (__atomic_load_n(&p->token, __ATOMIC_ACQUIRE) % 2 != side)
			ghost_wait(&p->token, __atomic_load_n(&p->token, __ATOMIC_ACQUIRE) ^ 0,
				   ghost_now_ns() + 2000000);
		__atomic_add_fetch(&p->token, 1, __ATOMIC_RELEASE);
		ghost_wake(&p->token, 1);
		ghost_sleep_ns(20000);
	}
	atomic_fetch_add(&finished, 1);
	return NULL;
}

int main(void)
{
	struct ghost_enclave *e;
	struct ghost_full_agent *fa;
	struct ghost_thread *t[WAVE];
	char line[1024];
	struct emu_shared *sh;
	size_t size;

	test_root_make();
	ghost_log_set_callback(ghost_log_stderr, NULL, GHOST_LOG_WARN);
	e = test_enclave(test_ncpus() >= 2 ? "0-1" : "0", 7);
	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	fa = test_agent(e, "fifo-percpu", NULL);
	for (int base = 0; base < TASKS; base += WAVE) {
		for (int i = 0; i < WAVE / 2; i++)
			pairs[i].token = 0;
		for (int i = 0; i < WAVE; i++)
			CHECK_OK(ghost_thread_create(e, &t[i], task, (void *)(long)(base + i)));
		for (int i = 0; i < WAVE; i++)
			CHECK_OK(ghost_thread_join(t[i], NULL));
	}
	CHECK_EQ(atomic_load(&finished), TASKS);
	CHECK_EQ(counter, (long)TASKS * ROUNDS);
	/* The agent's own counters, read under its lock through the stats line. */
	for (int i = 0; i < 500; i++) {
		CHECK(ghost_full_agent_format_stats(fa, line, sizeof(line)) > 0);
		if (counter_after(line, " dead ") == TASKS)
			break;
		usleep(10000);
	}
	printf("%s\n", line);
	CHECK_EQ(counter_after(line, " new "), TASKS);
	CHECK_EQ(counter_after(line, " dead "), TASKS);
	CHECK_EQ(counter_after(line, "seqnum_errors "), 0);
	CHECK_EQ(counter_after(line, "bad_msgs "), 0);
	ghost_full_agent_stop(fa);
	/* The agent is gone: its counters are stable now. */
	sh = test_emu_state(7, &size);
	CHECK_EQ(sh->nr_tasks, 0);
	printf("%ld switches checked\n", test_check_trace(sh));
	munmap(sh, size);
	ghost_enclave_destroy(e);
	ghost_enclave_close(e);
	return 0;
}
