/*
 * kernel.c - the registry of kernel backends compiled into the library.
 *
 * Owns the list, the choice of a default and the check of every table
 * against the contract of src/backend.h (version, mandatory ops, the ops of
 * each capability it claims) before anything calls into it. Knows each
 * backend only by its ops table; adding a backend is one line here.
 */
#include "backend.h"
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct ghost_kernel_ops ghost_kernel_emu;
extern const struct ghost_kernel_ops ghost_kernel_ghostfs;
extern const struct ghost_kernel_ops ghost_kernel_scx;
extern const struct ghost_kernel_ops ghost_kernel_sim;

static const struct ghost_kernel_ops *const backends[] = {
	&ghost_kernel_emu, &ghost_kernel_scx, &ghost_kernel_ghostfs, &ghost_kernel_sim, NULL,
};

const struct ghost_kernel_ops *const *ghost_kernel_all(void)
{
	return backends;
}

static const struct ghost_kernel_ops *by_name(const char *name)
{
	for (int i = 0; backends[i]; i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

int ghost_kernel_choose(const char *name, const struct ghost_kernel_ops **out, char *why,
			size_t why_len)
{
	const char *env = getenv("GHOST_KERNEL");
	const char *asked = name && *name ? name : env && *env ? env : "emu";
	const struct ghost_kernel_ops *k = by_name(asked);
	size_t pos;

	if (!out || (!why && why_len))
		return -EINVAL;
	*out = k;
	if (k)
		return 0;
	if (!why_len)
		return -ENOENT;
	pos = (size_t)snprintf(why, why_len, "no kernel backend called \"%s\"%s; known:", asked,
			       name && *name ? "" : " (from GHOST_KERNEL)");
	for (int i = 0; backends[i] && pos < why_len; i++)
		pos += (size_t)snprintf(why + pos, why_len - pos, "%s %s", i ? "," : "",
					backends[i]->name);
	return -ENOENT;
}

const struct ghost_kernel_ops *ghost_kernel_find(const char *name)
{
	const struct ghost_kernel_ops *k;

	if (!name || !*name)
		return ghost_kernel_default();
	return ghost_kernel_choose(name, &k, NULL, 0) ? NULL : k;
}

const struct ghost_kernel_ops *ghost_kernel_default(void)
{
	const struct ghost_kernel_ops *k;

	return ghost_kernel_choose(NULL, &k, NULL, 0) ? NULL : k;
}

/* ---- the check of a table ---- */

struct op_rule {
	const char *name;
	size_t off;
	uint64_t cap; /* 0: mandatory; else required when the table claims cap */
};

/* A row per op, on one line each. */
/* clang-format off */
#define OP(member, cap) { #member, offsetof(struct ghost_kernel_ops, member), cap }
/* clang-format on */
static const struct op_rule op_rules[] = {
	OP(probe, 0),
	OP(enclave_create, 0),
	OP(enclave_attach, 0),
	OP(enclave_close, 0),
	OP(enclave_list, 0),
	OP(enclave_id, 0),
	OP(enclave_destroy, 0),
	OP(enclave_cpus, 0),
	OP(enclave_set_cpus, 0),
	OP(agent_present, 0),
	OP(file_read, 0),
	OP(file_write, 0),
	OP(cpu_data_map, 0),
	OP(sw_region_create, 0),
	OP(sw_region_map, 0),
	OP(sw_region_unmap, 0),
	OP(sw_get_info, 0),
	OP(sw_free, 0),
	OP(queue_create, 0),
	OP(queue_destroy, 0),
	OP(queue_assoc, 0),
	OP(queue_set_default, 0),
	OP(queue_config_wakeup, 0),
	OP(agent_online, 0),
	OP(agent_offline, 0),
	OP(agent_attach, 0),
	OP(agent_detach, 0),
	OP(commit, 0),
	OP(run, 0),
	OP(task_enter, 0),
	OP(task_leave, 0),
	OP(get_cpu_time, 0),
	OP(gtid_of, 0),
	OP(exit_state, GHOST_KCAP_SELF_EXIT),
	OP(discover_tasks, GHOST_KCAP_DISCOVERY),
	OP(task_block, GHOST_KCAP_USER_TASKS),
	OP(task_unblock, GHOST_KCAP_USER_TASKS),
	OP(task_block_begin, GHOST_KCAP_USER_TASKS),
	OP(task_block_end, GHOST_KCAP_USER_TASKS),
	OP(task_yield, GHOST_KCAP_USER_TASKS),
	OP(task_managed, GHOST_KCAP_USER_TASKS),
	OP(task_exit, GHOST_KCAP_USER_TASKS),
	OP(task_changed, GHOST_KCAP_USER_TASKS),
	OP(task_nopreempt, GHOST_KCAP_USER_TASKS),
	OP(task_affinity, GHOST_KCAP_USER_TASKS),
	OP(task_affinity, GHOST_KCAP_VIRTUAL),
	OP(timer_set, GHOST_KCAP_TIMERS),
	OP(agent_spawn, GHOST_KCAP_VIRTUAL),
	OP(agent_step, GHOST_KCAP_VIRTUAL),
	OP(agent_join, GHOST_KCAP_VIRTUAL),
	OP(advance, GHOST_KCAP_VIRTUAL),
};

static bool has_op(const struct ghost_kernel_ops *k, size_t off)
{
	void *fn;

	memcpy(&fn, (const char *)k + off, sizeof(fn));
	return fn != NULL;
}

/* The whole check, uncached: 0 or -ENODEV with the sentence. */
static int check_table(const struct ghost_kernel_ops *k, char *why, size_t why_len)
{
	const char *name = k->name ? k->name : "(unnamed)";

	if (k->version != GHOST_KERNEL_OPS_VERSION) {
		snprintf(why, why_len,
			 "the %s backend's table is of version %u, this library needs %u", name,
			 k->version, GHOST_KERNEL_OPS_VERSION);
		return -ENODEV;
	}
	if (!k->name || !k->summary || !k->probe) {
		snprintf(why, why_len, "the %s backend's table has no %s", name,
			 !k->name      ? "name"
			 : !k->summary ? "summary"
				       : "probe");
		return -ENODEV;
	}
	for (size_t i = 0; i < GHOST_ARRAY_SIZE(op_rules); i++) {
		const struct op_rule *r = &op_rules[i];

		if ((r->cap == 0 || (k->caps & r->cap)) && !has_op(k, r->off)) {
			snprintf(why, why_len, "the %s backend's table lacks %s%s", name, r->name,
				 r->cap ? ", which a capability it claims needs" : "");
			return -ENODEV;
		}
	}
	return 0;
}

/* One verdict per backend, computed once (the tables are const). */
static struct {
	int state; /* 0 unchecked, 1 good, -1 refused; set last with release */
	char why[160];
} verdicts[GHOST_ARRAY_SIZE(backends)];
static pthread_mutex_t verdicts_lock = PTHREAD_MUTEX_INITIALIZER;

int ghost_kernel_check(const struct ghost_kernel_ops *k, char *why, size_t why_len)
{
	char local[160];
	int slot = -1, state;

	if (!k)
		return -EINVAL;
	for (int i = 0; backends[i]; i++)
		if (backends[i] == k)
			slot = i;
	if (slot < 0) {
		/* Not one of ours: checked every time (tests pass their own tables). */
		int err = check_table(k, local, sizeof(local));

		if (err && why_len)
			snprintf(why, why_len, "%s", local);
		return err;
	}
	/* Acquire: pairs with the release below, after which why never changes. The first
	 * check is made once, under the lock: two threads never write why at once. */
	state = __atomic_load_n(&verdicts[slot].state, __ATOMIC_ACQUIRE);
	if (state == 0) {
		pthread_mutex_lock(&verdicts_lock);
		state = __atomic_load_n(&verdicts[slot].state, __ATOMIC_ACQUIRE);
		if (state == 0) {
			int err = check_table(k, verdicts[slot].why, sizeof(verdicts[slot].why));

			state = err ? -1 : 1;
			__atomic_store_n(&verdicts[slot].state, state, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&verdicts_lock);
	}
	if (state > 0)
		return 0;
	if (why_len)
		snprintf(why, why_len, "%s", verdicts[slot].why);
	return -ENODEV;
}

const char *ghost_kernel_name(const struct ghost_kernel_ops *k)
{
	return k ? k->name : NULL;
}

const char *ghost_kernel_summary(const struct ghost_kernel_ops *k)
{
	return k ? k->summary : NULL;
}

uint64_t ghost_kernel_caps(const struct ghost_kernel_ops *k)
{
	return k && !ghost_kernel_check(k, NULL, 0) ? k->caps : 0;
}

int ghost_kernel_probe(const struct ghost_kernel_ops *k, const char *root, char *why,
		       size_t why_len)
{
	char local[160];
	int err;

	if (!k || (!why && why_len))
		return -EINVAL;
	if (why_len)
		why[0] = 0;
	err = ghost_kernel_check(k, local, sizeof(local));
	if (err) {
		/* A table with a probe says best why it is incomplete (a backend not built in). */
		int perr = k->version == GHOST_KERNEL_OPS_VERSION && k->probe
				   ? k->probe(root, why, why_len)
				   : 0;

		if (perr)
			return perr;
		if (why_len)
			snprintf(why, why_len, "%s", local);
		return err;
	}
	return k->probe(root, why, why_len);
}

int ghost_kernel_list_enclaves(const struct ghost_kernel_ops *k, const char *root, uint64_t *ids,
			       int max)
{
	char why[160];
	int err;

	if (!k || max < 0 || (max && !ids))
		return -EINVAL;
	/* The reason is ghost_kernel_probe's to give (tools probe first). */
	err = ghost_kernel_check(k, why, sizeof(why));
	return err ? err : k->enclave_list(root, ids, max);
}
