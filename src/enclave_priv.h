/*
 * enclave_priv.h - the enclave object as the library's own files see it.
 * Never installed; backends do not include it.
 */
#ifndef GHOST_ENCLAVE_PRIV_H
#define GHOST_ENCLAVE_PRIV_H

#include <ghost/enclave.h>
#include "backend.h"
#include <ghost/topology.h>
#include <ghost/txn.h>

#include <pthread.h>

#define GHOST_SW_MAX_REGION_ID (GHOST_SW_REGION_ID_MAX + 1)

struct ghost_sw_map {
	const struct ghost_sw_region_header *hdr; /* NULL: not mapped (yet) */
	size_t size;
	bool absent; /* the kernel said ENOENT */
};

struct ghost_enclave {
	const struct ghost_kernel_ops *ops;
	struct ghost_kenclave *k;
	uint64_t id;
	struct ghost_cpuset cpus;
	struct ghost_cpu_data *cpu_data;
	int ncpu_data;
	struct ghost_topo *topo;
	bool created;
	bool online;
	pthread_mutex_t lock; /* guards sw_maps */
	struct ghost_sw_map sw_maps[GHOST_SW_MAX_REGION_ID];
	struct ghost_agent *agents[GHOST_MAX_CPUS];
	struct ghost_txn_counts txn_stats;
	int ended; /* the kernel said the enclave is gone */
};

/* Notes a kernel answer of -ENODEV (the enclave is gone); returns err. */
static inline int ghost_enclave_note_gone(struct ghost_enclave *e, int err)
{
	if (err == -ENODEV)
		__atomic_store_n(&e->ended, 1, __ATOMIC_RELEASE);
	return err;
}

static inline bool ghost_enclave_gone(const struct ghost_enclave *e)
{
	return __atomic_load_n(&e->ended, __ATOMIC_ACQUIRE);
}

#endif
