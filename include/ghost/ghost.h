/*
 * ghost/ghost.h - everything libghost offers, in one include.
 */
#ifndef GHOST_GHOST_H
#define GHOST_GHOST_H

#include <ghost/abi.h>
#include <ghost/agent.h>
#include <ghost/channel.h>
#include <ghost/common.h>
#include <ghost/cpuset.h>
#include <ghost/enclave.h>
#include <ghost/kernel.h>
#include <ghost/policy.h>
#include <ghost/priotable.h>
#include <ghost/sched.h>
#include <ghost/sim.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/topology.h>
#include <ghost/trace.h>
#include <ghost/txn.h>

#endif
