/*
 * tests/hand_agent.h - an enclave driven by hand, with no policy, for the
 * tests of transactions: CPUs 0-1, one 256-slot default channel that wakes
 * nobody, the agent claim taken, and the calling thread attached as CPU 0's
 * agent (pinned to CPU 0 from then on). Test code only.
 */
#ifndef GHOST_TEST_HAND_AGENT_H
#define GHOST_TEST_HAND_AGENT_H

#include "test.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/kernel.h>

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

#endif
