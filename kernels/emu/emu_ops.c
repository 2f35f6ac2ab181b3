/*
 * kernels/emu/emu_ops.c - the embedded kernel's ops table, the top of its
 * layers: the probe and the table that names every op; nothing else.
 *
 * The layers below, each calling only downwards: emu_shm.c (files and
 * mappings) -> emu_lock.c (locks and waits) -> emu_core.c (messages, the
 * scheduling class, txns) -> emu_kthread.c (the per-process kernel thread)
 * -> emu_task.c and emu_agent.c (the task side and the agent side) ->
 * emu_ns.c (the namespace and its files) -> here. scripts/check-layers.sh
 * checks it on the objects.
 */
#include "emu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int emu_probe(const char *root_in, char *why, size_t why_len)
{
	char root[400] = "";
	int err;

	/* As the namespace takes it: a root too long is refused, never cut short (a cut one
	 * would make a directory nobody named). */
	if (root_in && *root_in)
		err = strlen(root_in) < sizeof(root)
			      ? (snprintf(root, sizeof(root), "%s", root_in), 0)
			      : -ENAMETOOLONG;
	else
		err = emu_root_default(root, sizeof(root));
	if (!err && mkdir(root, 0700) && errno != EEXIST)
		err = -errno;
	if (!err && access(root, W_OK | X_OK))
		err = -errno;
	if (err && why)
		snprintf(why, why_len, "cannot use %s as the enclave root: %s",
			 root_in && *root_in ? root_in : root, strerror(-err));
	return err;
}

const struct ghost_kernel_ops ghost_kernel_emu = {
	.version = GHOST_KERNEL_OPS_VERSION,
	.name = "emu",
	.summary = "embedded user-space kernel (any Linux, no privileges)",
	.caps = GHOST_KCAP_USER_TASKS | GHOST_KCAP_PERSISTENT | GHOST_KCAP_DISCOVERY |
		GHOST_KCAP_SW_REGIONS | GHOST_KCAP_TIMERS | GHOST_KCAP_SELF_EXIT,
	.probe = emu_probe,
	.enclave_create = emu_enclave_create,
	.enclave_attach = emu_enclave_attach,
	.enclave_close = emu_enclave_close,
	.enclave_list = emu_enclave_list,
	.enclave_id = emu_id,
	.enclave_destroy = emu_enclave_destroy,
	.enclave_cpus = emu_enclave_cpus,
	.enclave_set_cpus = emu_enclave_set_cpus,
	.exit_state = emu_exit_state,
	.agent_present = emu_agent_present,
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
	.agent_online = emu_agent_online_op,
	.agent_offline = emu_agent_offline_op,
	.agent_attach = emu_agent_attach,
	.agent_detach = emu_agent_detach,
	.discover_tasks = emu_discover,
	.commit = emu_commit,
	.run = emu_run,
	.task_enter = emu_task_enter_op,
	.task_leave = emu_task_leave,
	.task_exit = emu_task_exit,
	.get_cpu_time = emu_get_cpu_time,
	.gtid_of = emu_gtid_of,
	.task_block = emu_task_block,
	.task_block_begin = emu_task_block_begin,
	.task_block_end = emu_task_block_end,
	.task_unblock = emu_task_unblock,
	.task_yield = emu_task_yield,
	.task_managed = emu_task_managed,
	.task_changed = emu_task_changed,
	.task_nopreempt = emu_task_nopreempt,
	.task_affinity = emu_task_affinity,
	.timer_set = emu_timer_set,
};
