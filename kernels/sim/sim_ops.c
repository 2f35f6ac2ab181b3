/*
 * kernels/sim/sim_ops.c - the simulator's ops table, the top of its layers:
 * the probe, creating and closing a simulated enclave, and the table.
 *
 * A simulated enclave is the embedded kernel's, in a namespace of its own
 * (a private directory, removed with it) and private to the process that
 * runs the simulation: nobody else can list or attach it. Every op that
 * touches threads, time or sleeping is the simulator's (sim_core.c); the
 * rest is the embedded kernel's own. Never prints.
 */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sim_probe(const char *root, char *why, size_t why_len)
{
	(void)root;
	(void)why;
	(void)why_len;
	return 0; /* runs anywhere: nothing of the host is used */
}

/* A private namespace root: $TMPDIR (else /dev/shm, else /tmp)/ghost-sim-XXXXXX. */
static int make_root(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(buf, len, "%s/ghost-sim-XXXXXX", tmp) >= len)
		return -ENAMETOOLONG;
	return mkdtemp(buf) ? 0 : -errno;
}

/* The namespace's own files (.lock, version) and the directory (the enclave's are gone). */
static void remove_root(const char *root)
{
	emu_remove_dir_files(root);
}

static int sim_enclave_create(const struct ghost_kernel_create_args *args,
			      struct ghost_kenclave **out)
{
	struct ghost_sim_opts opts = { .sz = sizeof(opts) };
	struct ghost_kernel_create_args a;
	struct ghost_kenclave *ke;
	char root[256];
	int ncpus, last, err;
	uint32_t need;

	if (!args || args->sz < sizeof(*args) || !args->cpus || ghost_cpuset_empty(args->cpus))
		return -EINVAL;
	if (args->backend_args)
		opts = *(const struct ghost_sim_opts *)args->backend_args;
	last = ghost_cpuset_nth(args->cpus, ghost_cpuset_count(args->cpus) - 1);
	ncpus = opts.ncpus > 0 ? opts.ncpus : last + 1;
	if (ncpus > GHOST_MAX_CPUS || last >= ncpus)
		return -EINVAL;
	opts.ncpus = ncpus;
	need = opts.tasks + opts.antagonists + 64;
	if (need >= EMU_MAX_TASKS)
		return -EINVAL;
	err = make_root(root, sizeof(root));
	if (err)
		return err;
	a = *args;
	a.root = root;
	a.flags |= GHOST_KCREATE_EPHEMERAL;
	a.max_tasks = need > EMU_DEFAULT_MAX_TASKS ? need : EMU_DEFAULT_MAX_TASKS;
	err = emu_enclave_create_n(&a, ncpus, &ke);
	if (err) {
		remove_root(root);
		return err;
	}
	err = sim_setup(ke, &opts, ncpus);
	if (err) {
		emu_enclave_close(ke);
		remove_root(root);
		return err;
	}
	snprintf(sim_of(ke)->root, sizeof(sim_of(ke)->root), "%s", root);
	*out = ke;
	return 0;
}

static void sim_enclave_close(struct ghost_kenclave *ke)
{
	char root[256];

	if (!ke)
		return;
	snprintf(root, sizeof(root), "%s", sim_of(ke) ? sim_of(ke)->root : "");
	sim_teardown(ke);
	emu_enclave_close(ke);
	if (root[0])
		remove_root(root);
}

static int sim_enclave_attach(const char *root, uint64_t id, struct ghost_kenclave **out)
{
	(void)root;
	(void)id;
	(void)out;
	return -ENOENT; /* a simulated enclave lives only in the process simulating it */
}

static int sim_enclave_list(const char *root, uint64_t *ids, int max)
{
	(void)root;
	(void)ids;
	(void)max;
	return 0;
}

static int sim_agent_present(struct ghost_kenclave *ke)
{
	return ke->sh->agent_pid ? 1 : 0;
}

static int sim_task_enter(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **self)
{
	(void)ke;
	(void)tid;
	*self = NULL;
	return -EOPNOTSUPP; /* its tasks are models, not threads */
}

static int sim_task_leave(struct ghost_kenclave *ke, pid_t tid)
{
	(void)ke;
	(void)tid;
	return -EOPNOTSUPP;
}

const struct ghost_kernel_ops ghost_kernel_sim = {
	.version = GHOST_KERNEL_OPS_VERSION,
	.name = "sim",
	.summary = "deterministic simulator: virtual CPUs and time, model tasks (ghost-sim)",
	.caps = GHOST_KCAP_VIRTUAL | GHOST_KCAP_DISCOVERY | GHOST_KCAP_SW_REGIONS |
		GHOST_KCAP_TIMERS | GHOST_KCAP_SELF_EXIT,
	.probe = sim_probe,
	.enclave_create = sim_enclave_create,
	.enclave_attach = sim_enclave_attach,
	.enclave_close = sim_enclave_close,
	.enclave_list = sim_enclave_list,
	.enclave_id = emu_id,
	.enclave_destroy = emu_enclave_destroy,
	.enclave_cpus = emu_enclave_cpus,
	.enclave_set_cpus = emu_enclave_set_cpus,
	.exit_state = emu_exit_state,
	.agent_present = sim_agent_present,
	.file_read = emu_file_read,
	.file_write = emu_file_write,
	.cpu_data_map = emu_cpu_data_map,
	.sw_region_create = emu_sw_region_make,
	.sw_region_map = emu_sw_region_map,
	.sw_region_unmap = emu_sw_region_unmap,
	.sw_get_info = emu_sw_get_info,
	.sw_free = emu_sw_free,
	.queue_create = emu_queue_create,
	.queue_destroy = emu_queue_destroy,
	.queue_assoc = emu_queue_assoc,
	.queue_set_default = emu_queue_set_default,
	.queue_config_wakeup = emu_queue_config_wakeup,
	.agent_online = sim_agent_online,
	.agent_offline = emu_agent_offline_op,
	.agent_attach = sim_agent_attach,
	.agent_detach = sim_agent_detach,
	.discover_tasks = emu_discover,
	.commit = sim_commit,
	.run = sim_run,
	.task_enter = sim_task_enter,
	.task_leave = sim_task_leave,
	.get_cpu_time = emu_get_cpu_time,
	.gtid_of = emu_gtid_of,
	.task_affinity = emu_task_affinity,
	.timer_set = sim_timer_set,
	.agent_spawn = sim_agent_spawn,
	.agent_step = sim_agent_step,
	.agent_join = sim_agent_join,
	.advance = sim_advance,
};
