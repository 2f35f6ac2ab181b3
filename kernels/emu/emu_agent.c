/*
 * kernels/emu/emu_agent.c - the embedded kernel's agent side: the ghOSt
 * ioctls an agent makes, with the kernel's argument checks and error codes.
 *
 * Owns argument validation at the boundary (every value an agent passes is
 * checked before it indexes anything), agents attaching to CPUs, queues,
 * status-word lookups, commits, local yield and ping. The scheduling itself
 * is in emu_core.c; nothing here blocks except an agent giving up its CPU.
 * Beside the task side (emu_task.c), below the namespace (emu_ns.c) and the
 * ops table (emu_ops.c), which it never calls.
 */
#include "emu.h"

#include "internal.h"
#include "ring.h"

#include <ghost/channel.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t emu_id(struct ghost_kenclave *ke)
{
	return ke->id;
}

static bool alive(struct ghost_kenclave *ke)
{
	return __atomic_load_n(&ke->sh->state, __ATOMIC_ACQUIRE) == EMU_E_ALIVE;
}

static bool valid_cpu(struct ghost_kenclave *ke, int cpu)
{
	return cpu >= 0 && cpu < (int)ke->sh->ncpus;
}

int emu_cpu_data_map(struct ghost_kenclave *ke, struct ghost_cpu_data **out, int *ncpus)
{
	*out = ke->cpu_data;
	*ncpus = (int)ke->sh->ncpus;
	return 0;
}

void emu_sw_region_unmap(struct ghost_kenclave *ke, const struct ghost_sw_region_header *hdr,
			 size_t size)
{
	(void)ke;
	munmap((void *)hdr, size);
}

int emu_sw_get_info(struct ghost_kenclave *ke, int type, uint64_t arg, struct ghost_sw_info *out)
{
	struct emu_shared *sh = ke->sh;
	int err = 0;

	if (type == GHOST_AGENT) {
		struct emu_cpu *ec;

		if (arg >= sh->ncpus)
			return -EINVAL;
		ec = emu_cpu(sh, (int)arg);
		if (!ec->in_enclave)
			return -ENODEV;
		if ((err = emu_lock(ke)))
			return err;
		if (ec->agent_state == EMU_A_NONE) {
			err = -EINVAL;
		} else {
			out->id = ec->agent_sw_region;
			out->index = ec->agent_sw_index;
		}
		emu_unlock(ke);
		return err;
	}
	if (type != GHOST_TASK)
		return -EINVAL;
	if ((err = emu_lock(ke)))
		return err;
	{
		struct emu_task *t = emu_task_by_gtid(sh, (int64_t)arg);

		if (!t) {
			err = -ENOENT;
		} else {
			out->id = t->sw_region;
			out->index = t->sw_index;
		}
	}
	emu_unlock(ke);
	return err;
}

static void free_word(struct ghost_kenclave *ke, uint32_t region, uint32_t index)
{
	struct ghost_status_word *w = emu_sw_word(ke, region, index);
	struct ghost_sw_region_header *hdr;

	if (!w)
		return;
	hdr = (struct ghost_sw_region_header *)((char *)(w - index) - sizeof(*hdr));
	memset(w, 0, sizeof(*w));
	hdr->available++;
}

int emu_sw_free(struct ghost_kenclave *ke, const struct ghost_sw_info *info)
{
	struct emu_shared *sh = ke->sh;
	struct ghost_status_word *w;
	struct emu_task *t;
	int err;

	if ((err = emu_lock(ke)))
		return err;
	w = emu_sw_word(ke, info->id, info->index);
	if (!w) {
		err = -ENOENT;
	} else if (!(w->flags & GHOST_SW_F_ALLOCATED)) {
		err = -EALREADY;
	} else if (!(w->flags & GHOST_SW_F_CANFREE)) {
		err = -EINVAL;
	} else {
		t = emu_task_by_gtid(sh, (int64_t)w->gtid);
		if (t && t->sw_region == info->id && t->sw_index == info->index &&
		    (t->state == EMU_T_DEAD || t->state == EMU_T_DEPARTED)) {
			/* The safety net reads it without the lock (emu_net.c). */
			__atomic_store_n(&t->gtid, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&t->state, EMU_T_FREE, __ATOMIC_RELEASE);
		}
		free_word(ke, info->id, info->index);
	}
	emu_unlock(ke);
	return err;
}

/* ---- queues ---- */

static void queue_free_locked(struct ghost_kenclave *ke, int q)
{
	struct emu_queue *eq = emu_queue(ke->sh, q);
	char path[700];

	if (!eq->in_use)
		return;
	if (emu_queue_file(ke, q, path, sizeof(path)) == 0)
		unlink(path);
	eq->in_use = 0;
	emu_release_queue_tasks(ke, q);
}

int emu_queue_create(struct ghost_kenclave *ke, int elems, int node, int flags,
		     struct ghost_kqueue *out)
{
	struct emu_shared *sh = ke->sh;
	struct emu_queue *eq = NULL;
	size_t mapsize;
	char path[700];
	void *map;
	int q = -1, err;

	if (elems <= 0 || elems > GHOST_MAX_QUEUE_ELEMS || (elems & (elems - 1)) || flags)
		return -EINVAL;
	if (node != 0)
		return -EINVAL; /* one NUMA node is all this backend models */
	mapsize = ghost_queue_mapsize((uint32_t)elems);
	if ((err = emu_lock(ke)))
		return err;
	if (!alive(ke)) {
		err = -ENODEV;
		goto out;
	}
	for (int i = 0; i < EMU_MAX_QUEUES; i++) {
		if (!emu_queue(sh, i)->in_use) {
			q = i;
			break;
		}
	}
	if (q < 0) {
		err = -ENOSPC;
		goto out;
	}
	eq = emu_queue(sh, q);
	eq->gen++;
	eq->elems = (uint32_t)elems;
	eq->mapsize = mapsize;
	eq->owner_pid = getpid();
	eq->nwake = 0;
	if ((err = emu_queue_file(ke, q, path, sizeof(path))))
		goto out;
	if ((err = emu_create_file(path, mapsize, &map)))
		goto out;
	ghost_queue_format(map, mapsize, (uint32_t)elems);
	munmap(map, mapsize);
	__atomic_store_n(&eq->in_use, 1, __ATOMIC_RELEASE);
	out->map = emu_queue_map(ke, q);
	if (!out->map) {
		queue_free_locked(ke, q);
		err = -ENOMEM;
		goto out;
	}
	out->id = q;
	out->mapsize = mapsize;
out:
	emu_unlock(ke);
	return err;
}

void emu_queue_destroy(struct ghost_kenclave *ke, struct ghost_kqueue *kq)
{
	if (!kq || kq->id < 0 || kq->id >= EMU_MAX_QUEUES)
		return;
	if (emu_lock(ke) == 0) {
		if (emu_queue(ke->sh, kq->id)->owner_pid == getpid())
			queue_free_locked(ke, kq->id);
		emu_unlock(ke);
	}
	/* The mapping stays with ke (unmapped when the enclave is closed). */
	kq->map = NULL;
}

static bool queue_ok(struct ghost_kenclave *ke, int q)
{
	return q >= 0 && q < EMU_MAX_QUEUES && emu_queue(ke->sh, q)->in_use;
}

int emu_queue_assoc(struct ghost_kenclave *ke, int q, int64_t gtid, uint32_t barrier, int flags)
{
	struct emu_shared *sh = ke->sh;
	struct emu_task *t;
	int err, status = 0;

	if (flags)
		return -EINVAL;
	if ((err = emu_lock(ke)))
		return err;
	if (!queue_ok(ke, q)) {
		err = -EBADF;
		goto out;
	}
	t = emu_task_by_gtid(sh, gtid);
	if (!t) {
		/* An agent's own gtid redirects its CPU's messages. */
		for (int c = 0; c < (int)sh->ncpus; c++) {
			struct emu_cpu *ec = emu_cpu(sh, c);
			struct ghost_status_word *w;

			if (ec->agent_state == EMU_A_NONE || ec->agent_gtid != gtid)
				continue;
			w = emu_sw_word(ke, ec->agent_sw_region, ec->agent_sw_index);
			if (!w || w->barrier != barrier) {
				err = -ESTALE;
				goto out;
			}
			status = ec->agent_queue == q ? GHOST_ASSOC_SF_ALREADY : 0;
			ec->agent_queue = q;
			err = status;
			goto out;
		}
		err = -ENOENT;
		goto out;
	}
	if (t->state == EMU_T_DEAD || t->state == EMU_T_DEPARTED) {
		err = -ENOENT;
		goto out;
	}
	{
		struct ghost_status_word *w = emu_sw_word(ke, t->sw_region, t->sw_index);

		if (!w || w->barrier != barrier) {
			err = -ESTALE;
			goto out;
		}
	}
	if (t->queue == q && (t->flags & EMU_TF_ASSOCIATED))
		status |= GHOST_ASSOC_SF_ALREADY;
	if (t->flags & EMU_TF_NEW_PENDING)
		status |= GHOST_ASSOC_SF_BRAND_NEW;
	t->queue = q;
	emu_tflags_set(t, EMU_TF_ASSOCIATED);
	if (t->flags & EMU_TF_NEW_PENDING)
		emu_send_task_new(ke, t);
	err = status;
out:
	emu_unlock(ke);
	return err;
}

int emu_queue_set_default(struct ghost_kenclave *ke, int q)
{
	int err;

	if ((err = emu_lock(ke)))
		return err;
	if (!queue_ok(ke, q)) {
		err = -EBADF;
	} else {
		ke->sh->default_queue = q;
		emu_flush_new_pending(ke);
	}
	emu_unlock(ke);
	return err;
}

int emu_queue_config_wakeup(struct ghost_kenclave *ke, int q, const struct ghost_agent_wakeup *w,
			    int n)
{
	struct emu_queue *eq;
	int err;

	if (n < 0 || n > GHOST_MAX_WINFO || (n && !w))
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (w[i].prio != 0 || !valid_cpu(ke, w[i].cpu))
			return -EINVAL;
	if ((err = emu_lock(ke)))
		return err;
	if (!queue_ok(ke, q)) {
		err = -EBADF;
	} else {
		eq = emu_queue(ke->sh, q);
		for (int i = 0; i < n; i++)
			eq->wake_cpu[i] = w[i].cpu;
		eq->nwake = n;
		/* Messages may already be waiting for whoever we just named. */
		if (n)
			emu_agent_wake(ke, w[n - 1].cpu);
	}
	emu_unlock(ke);
	return err;
}

/* ---- agents ---- */

int emu_agent_online_claim(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;
	int err;

	if (!alive(ke))
		return -ENODEV;
	err = emu_agent_online(ke);
	if (err)
		return err;
	if ((err = emu_lock(ke))) {
		emu_agent_offline(ke);
		return err;
	}
	sh->agent_pid = getpid();
	__atomic_store_n(&sh->agent_gone_since, 0, __ATOMIC_RELAXED);
	/* Queues of an agent that died are gone with it. */
	for (int q = 0; q < EMU_MAX_QUEUES; q++)
		if (emu_queue(sh, q)->in_use && emu_queue(sh, q)->owner_pid != getpid())
			queue_free_locked(ke, q);
	emu_unlock(ke);
	return 0;
}

int emu_agent_online_op(struct ghost_kenclave *ke)
{
	int err = emu_agent_online_claim(ke);

	if (err)
		return err;
	emu_kthread_register(ke);
	return 0;
}

void emu_agent_offline_op(struct ghost_kenclave *ke)
{
	if (emu_lock(ke) == 0) {
		if (ke->sh->agent_pid == getpid())
			ke->sh->agent_pid = 0;
		emu_unlock(ke);
	}
	emu_agent_offline(ke);
}

/*
 * The calling agent sleeps until someone makes it RUNNING again, and then
 * until the ghost task it displaced has left the CPU (its thread handles the
 * preemption signal only once it gets the CPU, so we must sleep, not spin).
 * A task that never handles it (signal blocked) costs us at most 20 ms.
 */
bool emu_agent_may_run(struct ghost_kenclave *ke, int cpu)
{
	struct emu_cpu *ec = emu_cpu(ke->sh, cpu);
	int cur;

	if (__atomic_load_n(&ec->agent_state, __ATOMIC_ACQUIRE) == EMU_A_YIELDED)
		return false;
	cur = __atomic_load_n(&ec->current, __ATOMIC_ACQUIRE);
	if (cur < 0 || (uint32_t)cur >= ke->sh->max_tasks)
		return true;
	return !(__atomic_load_n(&emu_task(ke->sh, cur)->flags, __ATOMIC_ACQUIRE) &
		 EMU_TF_PREEMPT_REQ);
}

static void agent_wait(struct ghost_kenclave *ke, int cpu, uint32_t seen)
{
	struct emu_cpu *ec = emu_cpu(ke->sh, cpu);
	int64_t deadline = 0;

	for (;;) {
		if (!alive(ke) || emu_agent_may_run(ke, cpu))
			return;
		if (__atomic_load_n(&ec->agent_state, __ATOMIC_ACQUIRE) != EMU_A_YIELDED) {
			/* RUNNING, its CPU's task still leaving. */
			if (!deadline)
				deadline = emu_now() + 20000000;
			else if (emu_now() >= deadline)
				return;
		}
		emu_park_wait(&ec->agent_park, seen, 0, deadline, NULL, -1);
		seen = __atomic_load_n(&ec->agent_park.seq, __ATOMIC_ACQUIRE);
	}
}

/* A READY txn of a CPU whose agent changes is failed with NO_AGENT. */
static void fail_ready_txn(struct ghost_kenclave *ke, int cpu)
{
	struct ghost_txn *txn = &ke->cpu_data[cpu].txn;
	int32_t ready = GHOST_TXN_READY;

	if (__atomic_compare_exchange_n(&txn->state, &ready, cpu, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED)) {
		txn->commit_time = emu_now();
		__atomic_store_n(&txn->state, GHOST_TXN_NO_AGENT, __ATOMIC_RELEASE);
	}
}

int emu_agent_attach_locked(struct ghost_kenclave *ke, int cpu, int q, pid_t tid)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, cpu);
	struct ghost_status_word *w;
	uint32_t region, index;
	int err;

	if (!alive(ke))
		return -ENODEV;
	if (q < -1 || (q >= 0 && !queue_ok(ke, q)))
		return -EBADF;
	if (q == -1 && sh->default_queue < 0)
		return -ENXIO;
	if (ec->agent_state != EMU_A_NONE) {
		/* The old agent is live unless its process lost agent_online. */
		bool stale = ec->agent_pid != emu_getpid() && sh->agent_pid == getpid();

		if (!stale)
			return -EBUSY;
		free_word(ke, ec->agent_sw_region, ec->agent_sw_index);
		__atomic_store_n(&ec->agent_state, EMU_A_NONE, __ATOMIC_RELEASE);
	}
	err = emu_sw_alloc(ke, &region, &index);
	if (err)
		return err;
	w = emu_sw_word(ke, region, index);
	sh->gtid_gen++;
	ec->agent_gtid = ((int64_t)tid << GHOST_GTID_SEQ_BITS) |
			 ((int64_t)(sh->gtid_gen & 0x1fffff) << 20);
	w->gtid = (uint64_t)ec->agent_gtid;
	w->barrier = 0;
	__atomic_store_n(&w->flags,
			 GHOST_SW_F_ALLOCATED | GHOST_SW_F_INUSE | GHOST_SW_TASK_IS_AGENT |
				 GHOST_SW_TASK_ONCPU | GHOST_SW_TASK_RUNNABLE |
				 (ec->avail ? GHOST_SW_CPU_AVAIL : 0),
			 __ATOMIC_RELEASE);
	ec->agent_sw_region = region;
	ec->agent_sw_index = index;
	__atomic_store_n(&ec->agent_pid, getpid(), __ATOMIC_RELAXED);
	ec->agent_tid = tid;
	ec->agent_queue = q;
	ec->yield_flags = 0;
	__atomic_store_n(&ec->agent_state, EMU_A_RUNNING, __ATOMIC_RELEASE);
	fail_ready_txn(ke, cpu);
	/* The new agent takes its CPU from whatever ghost task held it. */
	if (ec->current >= 0)
		emu_preempt_current(ke, cpu, false);
	return 0;
}

int emu_agent_attach(struct ghost_kenclave *ke, int cpu, int q)
{
	struct emu_cpu *ec;
	uint32_t seen = 0;
	cpu_set_t set, old_set;
	int err;

	if (!valid_cpu(ke, cpu))
		return -EINVAL;
	ec = emu_cpu(ke->sh, cpu);
	if (!ec->in_enclave)
		return -ENODEV;
	if (emu_self || emu_agent_cpu >= 0)
		return -EBUSY; /* a ghost task, or already another CPU's agent */
	/* Pinned before the checks (we must be on the CPU once we own it);
	 * a failed attach gives the caller its old affinity back. */
	sched_getaffinity(0, sizeof(old_set), &old_set);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	if ((err = emu_lock(ke)))
		return err;
	err = emu_agent_attach_locked(ke, cpu, q, gettid());
	if (!err) {
		seen = __atomic_load_n(&ec->agent_park.seq, __ATOMIC_ACQUIRE);
		emu_agent_cpu = cpu;
	}
	emu_unlock(ke);
	/* After the unlock: the kernel thread takes its lock before ours. */
	if (!err)
		emu_kthread_agent(ke, cpu, true);
	if (!err)
		agent_wait(ke, cpu, seen);
	else
		sched_setaffinity(0, sizeof(old_set), &old_set);
	return err;
}

bool emu_agent_detach_locked(struct ghost_kenclave *ke, int cpu, pid_t tid)
{
	struct emu_cpu *ec = emu_cpu(ke->sh, cpu);

	if (ec->agent_state == EMU_A_NONE || ec->agent_tid != tid)
		return false;
	fail_ready_txn(ke, cpu);
	free_word(ke, ec->agent_sw_region, ec->agent_sw_index);
	__atomic_store_n(&ec->agent_state, EMU_A_NONE, __ATOMIC_RELEASE);
	ec->agent_tid = 0;
	__atomic_store_n(&ec->agent_pid, 0, __ATOMIC_RELAXED);
	ec->agent_gtid = 0;
	/* Whatever was latched may run now that nobody holds the CPU. */
	emu_schedule(ke, cpu);
	return true;
}

void emu_agent_detach(struct ghost_kenclave *ke, int cpu)
{
	bool detached;

	if (!valid_cpu(ke, cpu) || emu_lock(ke))
		return;
	detached = emu_agent_detach_locked(ke, cpu, gettid());
	emu_unlock(ke);
	if (detached)
		emu_kthread_agent(ke, cpu, false);
	if (emu_agent_cpu == cpu)
		emu_agent_cpu = -1;
}

/* Gives the agent's CPU to its latched task unless a message beat us. */
bool emu_agent_give_up(struct ghost_kenclave *ke, int cpu, uint32_t barrier, int flags,
		       uint32_t *seen)
{
	struct emu_cpu *ec = emu_cpu(ke->sh, cpu);
	struct ghost_status_word *w = emu_sw_word(ke, ec->agent_sw_region, ec->agent_sw_index);

	if (w && __atomic_load_n(&w->barrier, __ATOMIC_ACQUIRE) != barrier)
		return false; /* something arrived meanwhile: run again at once */
	*seen = __atomic_load_n(&ec->agent_park.seq, __ATOMIC_ACQUIRE);
	ec->yield_flags = flags;
	__atomic_store_n(&ec->agent_state, EMU_A_YIELDED, __ATOMIC_RELEASE);
	emu_schedule(ke, cpu);
	return true;
}

int emu_commit_locked(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, bool sync, int me,
		      int *sleep_cpu, uint32_t *seen)
{
	int local = -1, ret;

	*sleep_cpu = -1;
	if (!alive(ke))
		return -ENODEV;
	ret = emu_commit_cpus(ke, cpus, sync, me, me >= 0, &local);
	if (local >= 0) {
		struct ghost_txn *txn = &ke->cpu_data[local].txn;
		/* The commit itself moved the barrier once (unless elided). */
		uint32_t expect =
			txn->agent_barrier + !(txn->commit_flags & ELIDE_AGENT_BARRIER_INC);

		if (emu_agent_give_up(ke, local, expect, 0, seen))
			*sleep_cpu = local;
	}
	return ret;
}

static int commit_common(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, bool sync)
{
	int local, ret, err;
	uint32_t seen = 0;

	if (!cpus)
		return -EINVAL;
	if ((err = emu_lock(ke)))
		return err;
	ret = emu_commit_locked(ke, cpus, sync, emu_agent_cpu, &local, &seen);
	emu_unlock(ke);
	if (local >= 0)
		agent_wait(ke, local, seen);
	return ret;
}

int emu_commit(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, unsigned flags)
{
	if (flags & ~GHOST_KCOMMIT_SYNC_GROUP)
		return -EINVAL;
	return commit_common(ke, cpus, flags & GHOST_KCOMMIT_SYNC_GROUP);
}

int emu_enclave_cpus(struct ghost_kenclave *ke, struct ghost_cpuset *out)
{
	int err = emu_lock(ke);

	if (err)
		return err;
	*out = ke->sh->cpus;
	emu_unlock(ke);
	return 0;
}

int emu_exit_state(struct ghost_kenclave *ke, struct ghost_kexit *out)
{
	const char *why = emu_exit_reason(ke);

	out->ended = why != NULL;
	snprintf(out->why, sizeof(out->why), "%s", why ? why : "");
	return 0;
}

int emu_agent_present(struct ghost_kenclave *ke)
{
	return emu_agent_process_alive(ke) ? 1 : 0;
}

int emu_run_locked(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier, int cpu,
		   int run_flags, pid_t tid, uint32_t *seen)
{
	struct emu_cpu *ec = emu_cpu(ke->sh, cpu);
	struct ghost_status_word *w;

	if (!alive(ke))
		return -ENODEV;
	if (gtid == GHOST_AGENT_GTID) {
		/* Ping: only the agent's own process may. */
		if (ec->agent_state == EMU_A_NONE || ec->agent_pid != emu_getpid())
			return -EINVAL;
		emu_agent_barrier_bump(ke, cpu);
		emu_agent_wake(ke, cpu);
		return 0;
	}
	/* Local yield: the caller must be this CPU's agent. */
	if (ec->agent_state == EMU_A_NONE || ec->agent_tid != tid)
		return -EINVAL;
	w = emu_sw_word(ke, ec->agent_sw_region, ec->agent_sw_index);
	if (!w || __atomic_load_n(&w->barrier, __ATOMIC_ACQUIRE) != agent_barrier)
		return -ESTALE;
	return emu_agent_give_up(ke, cpu, agent_barrier, run_flags, seen) ? 1 : 0;
}

int emu_run(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier, uint32_t task_barrier,
	    int cpu, int run_flags)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec;
	uint32_t seen = 0;
	int err;

	(void)task_barrier;
	if (!valid_cpu(ke, cpu) || (run_flags & ~RTLA_ON_IDLE))
		return -EINVAL;
	ec = emu_cpu(sh, cpu);
	if (gtid != GHOST_NULL_GTID && gtid != GHOST_AGENT_GTID)
		return -EINVAL;
	if ((err = emu_lock(ke)))
		return err;
	/*
	 * RTLA_ON_IDLE with nothing of ours to run: the CPU goes to whatever
	 * higher class wanted it, and comes back when that would leave it
	 * idle. Nothing here sees that moment: give it a short while.
	 */
	if (gtid == GHOST_NULL_GTID && alive(ke) && ec->agent_state != EMU_A_NONE &&
	    ec->agent_tid == gettid() && (run_flags & RTLA_ON_IDLE) && ec->current < 0 &&
	    ec->latched < 0 &&
	    __atomic_load_n(&ke->cpu_data[cpu].txn.state, __ATOMIC_ACQUIRE) != GHOST_TXN_READY) {
		struct ghost_status_word *w =
			emu_sw_word(ke, ec->agent_sw_region, ec->agent_sw_index);

		if (w && __atomic_load_n(&w->barrier, __ATOMIC_ACQUIRE) == agent_barrier) {
			emu_unlock(ke);
			usleep(500);
			return 0;
		}
	}
	err = emu_run_locked(ke, gtid, agent_barrier, cpu, run_flags, gettid(), &seen);
	emu_unlock(ke);
	if (err == 1) {
		agent_wait(ke, cpu, seen);
		err = 0;
	}
	return err;
}

int emu_task_enter_op(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **self)
{
	if (!alive(ke))
		return -EXDEV;
	return emu_task_enter(ke, tid, self);
}

int emu_task_leave(struct ghost_kenclave *ke, pid_t tid)
{
	struct ghost_ktask *self = emu_self;

	if ((tid != 0 && tid != gettid()) || !self || self->ke != ke)
		return tid == 0 || tid == gettid() ? -EINVAL : -EOPNOTSUPP;
	return emu_task_leave_self(self);
}

int emu_get_cpu_time(struct ghost_kenclave *ke, int64_t gtid, uint64_t *ns)
{
	struct emu_task *t;
	int err;

	if ((err = emu_lock(ke)))
		return err;
	t = emu_task_by_gtid(ke->sh, gtid);
	if (!t) {
		err = -ESRCH;
	} else {
		*ns = t->runtime;
		if (t->state == EMU_T_ONCPU)
			*ns += (uint64_t)(emu_now() - t->oncpu_since);
	}
	emu_unlock(ke);
	return err;
}

int emu_gtid_of(struct ghost_kenclave *ke, pid_t tid, int64_t *gtid)
{
	struct emu_shared *sh = ke->sh;
	int err;

	if ((err = emu_lock(ke)))
		return err;
	err = -ENOENT;
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (t->tid == tid && (t->state == EMU_T_BLOCKED || t->state == EMU_T_RUNNABLE ||
				      t->state == EMU_T_ONCPU)) {
			*gtid = t->gtid;
			err = 0;
			break;
		}
	}
	emu_unlock(ke);
	return err;
}

int emu_timer_set(struct ghost_kenclave *ke, int cpu, int slot, uint64_t type, uint64_t cookie,
		  int64_t expires_ns, int64_t period_ns)
{
	struct emu_cpu *ec;
	int err;

	if (!valid_cpu(ke, cpu) || slot < 0 || slot >= EMU_TIMERS_PER_CPU || expires_ns < 0 ||
	    period_ns < 0)
		return -EINVAL;
	ec = emu_cpu(ke->sh, cpu);
	if ((err = emu_lock(ke)))
		return err;
	if (ec->agent_state == EMU_A_NONE || ec->agent_pid != emu_getpid()) {
		err = -EINVAL; /* the CPU's agent must be ours */
	} else {
		ec->timers[slot].type = type;
		ec->timers[slot].cookie = cookie;
		ec->timers[slot].period = period_ns;
		__atomic_store_n(&ec->timers[slot].expires, expires_ns, __ATOMIC_RELAXED);
	}
	emu_unlock(ke);
	return err;
}
