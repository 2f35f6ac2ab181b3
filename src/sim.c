/*
 * sim.c - the simulator's public face (ghost/sim.h): options checked and
 * defaulted, a simulated enclave created over its virtual machine, and the
 * calls that run it and read its results.
 *
 * Mechanism only: the engine is kernels/sim, reached through the enclave's
 * backend handle; this file decides nothing about scheduling and never
 * prints (a bad option is logged once and is -EINVAL).
 */
#include "enclave_priv.h"
#include "internal.h"
#include "../kernels/sim/sim.h"

#include <ghost/sim.h>
#include <ghost/topology.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct ghost_kenclave *sim_handle(struct ghost_enclave *e)
{
	return e && (e->ops->caps & GHOST_KCAP_VIRTUAL) ? e->k : NULL;
}

/* Defaults and bounds; -EINVAL with the reason logged. */
static int check_opts(struct ghost_sim_opts *o, struct ghost_topo **topo)
{
	struct ghost_topo_desc d = { 0 };
	double sum = 0, mean = 0;
	int err;

	*topo = NULL;
	if (o->topology) {
		err = ghost_topo_parse_synthetic(o->topology, &d);
		if (err) {
			ghost_err("bad topology \"%s\" (SxCxT[,l3=N][,numa=N], at most %d CPUs)",
				  o->topology, GHOST_MAX_CPUS);
			return -EINVAL;
		}
	} else {
		if (!o->ncpus)
			o->ncpus = 8;
		if (o->ncpus < 1 || o->ncpus > GHOST_MAX_CPUS) {
			ghost_err("the simulator has 1 to %d CPUs, not %d", GHOST_MAX_CPUS,
				  o->ncpus);
			return -EINVAL;
		}
		d.sockets = 1;
		d.cores_per_socket = o->ncpus;
		d.threads_per_core = 1;
	}
	err = ghost_topo_synthetic(&d, topo);
	if (err) {
		ghost_err("cannot build the topology: %s", ghost_strerror(err));
		return err;
	}
	o->ncpus = ghost_topo_num_cpus(*topo);
	if (!o->workload)
		o->workload = GHOST_SIM_RPC;
	if (o->workload < GHOST_SIM_RPC || o->workload > GHOST_SIM_SPIN) {
		ghost_err("unknown workload %d", (int)o->workload);
		return -EINVAL;
	}
	if (!o->tasks)
		o->tasks = 2 * (uint32_t)o->ncpus;
	if ((uint64_t)o->tasks + o->antagonists > GHOST_SIM_MAX_TASKS) {
		ghost_err("at most %d tasks", GHOST_SIM_MAX_TASKS);
		return -EINVAL;
	}
	if (!o->nservice) {
		o->service[0] = (struct ghost_sim_service){ 99.5, 4000 };
		o->service[1] = (struct ghost_sim_service){ 0.5, 10000000 };
		o->nservice = 2;
	}
	if (o->nservice < 0 || o->nservice > GHOST_SIM_MAX_SERVICE) {
		ghost_err("1 to %d service classes", GHOST_SIM_MAX_SERVICE);
		return -EINVAL;
	}
	for (int i = 0; i < o->nservice; i++) {
		if (!(o->service[i].pct > 0 && o->service[i].pct <= 100) || o->service[i].ns <= 0) {
			ghost_err("service class %d: a share in (0, 100] and a time > 0", i + 1);
			return -EINVAL;
		}
		sum += o->service[i].pct;
		mean += o->service[i].pct / 100.0 * (double)o->service[i].ns;
	}
	if (fabs(sum - 100.0) > 0.01) {
		ghost_err("service shares add up to %g%%, not 100%%", sum);
		return -EINVAL;
	}
	if (o->rate == 0) /* half the machine busy */
		o->rate = 0.5 * (double)o->ncpus / (mean / 1e9);
	if (!(o->rate > 0 && o->rate <= 1e9)) {
		ghost_err("rate: requests per second in (0, 1e9]");
		return -EINVAL;
	}
	if (!o->run_ns)
		o->run_ns = 50000;
	if (!o->block_ns)
		o->block_ns = 200000;
	if (o->run_ns < 0 || o->block_ns < 0) {
		ghost_err("run and block times must be positive");
		return -EINVAL;
	}
	return 0;
}

int ghost_sim_create(const struct ghost_sim_opts *user_opts, struct ghost_enclave **out)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo), .kernel = "sim", .ephemeral = true };
	struct ghost_sim_opts o;
	struct ghost_topo *topo;
	struct ghost_cpuset cpus;
	int err;

	if (!out)
		return -EINVAL;
	err = ghost_opts_copy(&o, sizeof(o), user_opts);
	if (err)
		return err;
	err = check_opts(&o, &topo);
	if (err) {
		ghost_topo_free(topo);
		return err;
	}
	o.topology = NULL; /* not kept: the backend has ncpus, the enclave the topology */
	cpus = *ghost_topo_cpus(topo);
	eo.cpus = &cpus;
	eo.max_tasks = o.tasks + o.antagonists + 64;
	return ghost_enclave_create_ex(&eo, &o, topo, out);
}

int ghost_sim_run(struct ghost_enclave *e, int64_t ns)
{
	struct ghost_kenclave *k = sim_handle(e);

	return k ? sim_advance(k, ns) : -EINVAL;
}

int ghost_sim_finish(struct ghost_enclave *e)
{
	struct ghost_kenclave *k = sim_handle(e);

	return k ? sim_finish_workload(k) : -EINVAL;
}

int ghost_sim_results(struct ghost_enclave *e, struct ghost_sim_results *out)
{
	struct ghost_kenclave *k = sim_handle(e);

	return k ? sim_get_results(k, out) : -EINVAL;
}
