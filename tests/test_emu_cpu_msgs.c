/*
 * tests/test_emu_cpu_msgs.c - the embedded kernel's CPU messages.
 *
 * An agent thread attached by hand to CPU 0 checks: CPU_TICK arrives while
 * deliver_ticks is on (and not while it is off), a ghost timer produces
 * CPU_TIMER_EXPIRED with its type and cookie (and a periodic one keeps
 * firing), and with deliver_agent_runnability the agent sleeping in the
 * host kernel (not in a yield) produces CPU_AGENT_BLOCKED then
 * CPU_AGENT_WAKEUP; every CPU message moves the agent barrier and carries
 * it as its seqnum.
 */
#include "emu_helpers.h"

#include <pthread.h>

static struct ghost_enclave *e;
static struct ghost_channel *chan;
static const struct ghost_status_word *asw;

/* Waits up to ms for a message of type; counts what else passed by. */
static bool wait_msg(uint16_t type, int ms, struct ghost_msg_payload_timer *timer, int *count)
{
	int64_t until = ghost_now_ns() + (int64_t)ms * 1000000;
	bool seen = false;

	while (ghost_now_ns() < until) {
		const struct ghost_msg *m = ghost_channel_peek(chan);

		if (!m) {
			/* Poll (stay runnable): sleeping here would itself be an
			 * agent blocking in the host kernel. */
			ghost_cpu_relax();
			continue;
		}
		CHECK(ghost_channel_msg_valid(chan, m));
		CHECK(ghost_msg_is_cpu(m->type));
		CHECK_EQ(ghost_msg_cpu(m), 0);
		/* A CPU message's seqnum is the agent barrier it moved to. */
		CHECK((int32_t)(ghost_sw_barrier(asw) - m->seqnum) >= 0);
		if (m->type == type) {
			if (timer)
				ghost_msg_copy_payload(m, timer, sizeof(*timer));
			if (count)
				(*count)++;
			seen = true;
		}
		ghost_channel_consume(chan, m);
		if (seen && !count)
			return true;
	}
	return seen;
}

static void drain(void)
{
	const struct ghost_msg *m;

	while ((m = ghost_channel_peek(chan)))
		ghost_channel_consume(chan, m);
}

static void *agent(void *arg)
{
	struct ghost_sw_info info;
	struct ghost_msg_payload_timer tm;
	int n = 0;

	(void)arg;
	{
		char cmd[64];

		/* ghostfs's way of becoming an agent, through the ctl file. */
		CHECK_ERR(ghost_enclave_ctl(e, "become agent 7 0"), EINVAL);
		snprintf(cmd, sizeof(cmd), "become agent 0 %d", chan->qid);
		CHECK_OK(ghost_enclave_ctl(e, cmd));
		CHECK_ERR(ghost_enclave_ctl(e, cmd), EBUSY);
	}
	CHECK_OK(ghost_sw_agent_info(e, 0, &info));
	asw = ghost_sw_lookup(e, &info);
	CHECK(asw != NULL);
	CHECK(ghost_sw_is_agent(asw));

	/* Ticks only while asked for. */
	drain();
	CHECK(!wait_msg(MSG_CPU_TICK, 100, NULL, NULL));
	CHECK_OK(ghost_enclave_set_tunable(e, GHOST_TUNABLE_DELIVER_TICKS, 1));
	CHECK(wait_msg(MSG_CPU_TICK, 2000, NULL, NULL));
	CHECK_OK(ghost_enclave_set_tunable(e, GHOST_TUNABLE_DELIVER_TICKS, 0));
	usleep(20000);
	drain();

	/* A one-shot timer, then a periodic one. */
	CHECK_ERR(ghost_enclave_kernel(e)->timer_set(ghost_enclave_kernel_handle(e), 0, 99, 1, 2, 1,
						     0),
		  EINVAL);
	CHECK_OK(ghost_enclave_kernel(e)->timer_set(ghost_enclave_kernel_handle(e), 0, 0, 7,
						    0xc0ffee, ghost_now_ns() + 20000000, 0));
	CHECK(wait_msg(MSG_CPU_TIMER_EXPIRED, 2000, &tm, NULL));
	CHECK_EQ(tm.type, 7);
	CHECK_EQ(tm.cookie, 0xc0ffee);
	CHECK_EQ(tm.cpu, 0);
	CHECK(!wait_msg(MSG_CPU_TIMER_EXPIRED, 100, NULL, NULL)); /* one-shot */
	CHECK_OK(ghost_enclave_kernel(e)->timer_set(ghost_enclave_kernel_handle(e), 0, 1, 8, 1,
						    ghost_now_ns() + 5000000, 10000000));
	wait_msg(MSG_CPU_TIMER_EXPIRED, 300, NULL, &n);
	CHECK_MSG(n >= 5, "a 10 ms periodic timer fired %d times in 300 ms", n);
	CHECK_OK(ghost_enclave_kernel(e)->timer_set(ghost_enclave_kernel_handle(e), 0, 1, 8, 1, 0,
						    0));
	usleep(30000);
	drain();

	/* The agent thread itself sleeping in the host kernel. */
	CHECK_OK(ghost_enclave_set_tunable(e, GHOST_TUNABLE_DELIVER_AGENT_RUNNABILITY, 1));
	usleep(200000);
	CHECK(wait_msg(MSG_CPU_AGENT_BLOCKED, 10, NULL, NULL) ||
	      wait_msg(MSG_CPU_AGENT_BLOCKED, 10, NULL, NULL));
	CHECK(wait_msg(MSG_CPU_AGENT_WAKEUP, 1000, NULL, NULL));
	CHECK_OK(ghost_enclave_set_tunable(e, GHOST_TUNABLE_DELIVER_AGENT_RUNNABILITY, 0));

	ghost_enclave_kernel(e)->agent_detach(ghost_enclave_kernel_handle(e), 0);
	return NULL;
}

int main(void)
{
	pthread_t t;

	test_root_make();
	e = test_enclave("0", 1);
	CHECK_OK(ghost_channel_create(e, 1024, 0, &chan));
	CHECK_OK(ghost_channel_config_wakeup(chan, NULL, 0));
	CHECK_OK(ghost_channel_set_default(chan));
	CHECK_OK(ghost_enclave_agent_online(e));
	CHECK(pthread_create(&t, NULL, agent, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	ghost_channel_destroy(chan);
	ghost_enclave_agent_offline(e);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
	return 0;
}
