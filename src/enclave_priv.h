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
	/* Set while recording (ghost_trace_start): what dispatch and commits look at. */
	struct ghost_trace *trace;
};

/*
 * ghost_enclave_create with the backend's own settings (create args'
 * backend_args) and, for a simulated machine, its topology (taken over:
 * freed whatever the outcome; NULL = the machine's, or a simulator's default).
 */
int ghost_enclave_create_ex(const struct ghost_enclave_opts *opts, const void *backend_args,
			    struct ghost_topo *topo, struct ghost_enclave **out);

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

/*
 * The recorder of e, or NULL: the one branch the message and commit paths
 * take when nothing records. Acquire: the rings it points to are set up.
 */
static inline struct ghost_trace *ghost_enclave_tracer(const struct ghost_enclave *e)
{
	return __builtin_expect(e != NULL, 1) ? __atomic_load_n(&e->trace, __ATOMIC_ACQUIRE) : NULL;
}

/* The recording hooks (trace.c): a message handled (t0: when its handling
 * began; ret: what dispatch returned), a txn outcome, freeing at close. */
struct ghost_msg;
void ghost_trace_msg(struct ghost_trace *tr, int64_t t0, const struct ghost_msg *m, int ret,
		     uint8_t flags);
void ghost_trace_txn(struct ghost_trace *tr, int cpu, const struct ghost_txn *t, int32_t state);
void ghost_trace_free(struct ghost_enclave *e);

#endif
