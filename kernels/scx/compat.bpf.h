/*
 * kernels/scx/compat.bpf.h - what differs between the sched_ext kernel lines, probed when
 * the BPF object loads, never by version number.
 *
 * One object, compiled against any vmlinux.h with sched_ext, loads on every kernel from 6.12
 * on: a kfunc that some line lacks is declared __weak (libbpf resolves a missing one to 0 and
 * the verifier drops the branch that bpf_ksym_exists() rules out); a struct field or enum
 * value that some line lacks is read through a local "flavour" type (the name before "___"
 * is what libbpf matches against the kernel's BTF), so this file compiles whichever
 * vmlinux.h it meets and each probe is a constant the verifier knows at load time.
 *
 * Facts, from the sources of 6.12.118, 6.18.15 and 7.2.13 and the BTF of 6.16.12:
 *   scx_bpf_dispatch        in 6.12 and 6.16, not in 6.18: scx_bpf_dsq_insert (6.13 on)
 *   scx_bpf_consume         in 6.12, not in 6.16: scx_bpf_dsq_move_to_local (6.13 on)
 *   scx_bpf_cpu_rq          6.12 on (deprecated once scx_bpf_cpu_curr came)
 *   scx_bpf_cpu_curr        not in 6.16; in 6.18 and 7.2
 *   scx_bpf_locked_rq       not in 6.16; in 6.18 and 7.2 (the rq whose lock an op holds)
 *   scx_exit_info.exit_cpu  not in 6.18; in 7.2
 *   task_struct.on_cpu      int in 6.18, u8 in 7.2 (on_rq likewise)
 *   cfs_rq.h_nr_runnable    6.14 on (fair tasks queued but not sleeping-delayed; before,
 *                           h_nr_delayed counted those): rq->nr_running counts delayed ones
 *   SCX_ENQ_IMMED           not in 6.18; in 7.2 (ghost.bpf.c's gs_cpu_release does its work
 *                           without it)
 *
 * Must never call a kfunc without its bpf_ksym_exists() guard when the kfunc is weak, and
 * never read a flavoured field without bpf_core_field_exists().
 */
#ifndef GHOST_SCX_COMPAT_BPF_H
#define GHOST_SCX_COMPAT_BPF_H

#include <bpf/bpf_core_read.h>

extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
			       u64 enq_flags) __ksym __weak;
extern void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice,
			     u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym __weak;
extern bool scx_bpf_consume(u64 dsq_id) __ksym __weak;
extern struct task_struct *scx_bpf_cpu_curr(s32 cpu) __ksym __weak;
extern struct rq *scx_bpf_cpu_rq(s32 cpu) __ksym __weak;
extern struct rq *scx_bpf_locked_rq(void) __ksym __weak;

/* Insert p into a dispatch queue: the 6.13 name, else the 6.12 one. */
static __always_inline void compat_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
					      u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch(p, dsq_id, slice, enq_flags);
}

/* Move the head of a user dispatch queue to this CPU's local one (from ops.dispatch). */
static __always_inline bool compat_dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume(dsq_id);
}

/*
 * The task current on cpu, or NULL. The caller holds bpf_rcu_read_lock() (scx_bpf_cpu_curr
 * requires it; for the older path it keeps the task from being freed while it is read).
 */
static __always_inline struct task_struct *compat_cpu_curr(s32 cpu)
{
	struct rq *rq;

	if (bpf_ksym_exists(scx_bpf_cpu_curr))
		return scx_bpf_cpu_curr(cpu);
	rq = scx_bpf_cpu_rq(cpu);
	/* A plain load, not BPF_CORE_READ: the verifier must see a task pointer, not a number. */
	return rq ? rq->curr : NULL;
}

/*
 * The run queue of cpu, without its lock (fields read from it are only as fresh as the read):
 * scx_bpf_cpu_rq, deprecated from 6.18 on (it warns once in the kernel log), NULL without it.
 */
static __always_inline struct rq *compat_cpu_rq_unlocked(s32 cpu)
{
	return bpf_ksym_exists(scx_bpf_cpu_rq) ? scx_bpf_cpu_rq(cpu) : NULL;
}

/*
 * The run queue of cpu from an op that holds its lock (ops.dispatch of cpu): the 6.18 kfunc,
 * else the older one (which later lines deprecate). NULL if neither exists.
 */
static __always_inline struct rq *compat_locked_rq(s32 cpu)
{
	if (bpf_ksym_exists(scx_bpf_locked_rq))
		return scx_bpf_locked_rq();
	if (bpf_ksym_exists(scx_bpf_cpu_rq))
		return scx_bpf_cpu_rq(cpu);
	return NULL;
}

struct cfs_rq___gs_v614 {
	unsigned int h_nr_queued;
	unsigned int h_nr_runnable;
} __attribute__((preserve_access_index));

struct cfs_rq___gs_v612 {
	unsigned int h_nr_delayed;
} __attribute__((preserve_access_index));

/*
 * The fair tasks rq counts in nr_running that the fair class will not run: those that
 * slept but stay queued until their lag is spent (delayed dequeue, 6.12 on). 0 where the
 * kernel keeps no count.
 */
static __always_inline u32 compat_fair_delayed(struct rq *rq)
{
	struct cfs_rq___gs_v614 *q = (void *)&rq->cfs;
	struct cfs_rq___gs_v612 *o = (void *)&rq->cfs;

	if (bpf_core_field_exists(q->h_nr_runnable))
		return BPF_CORE_READ(q, h_nr_queued) - BPF_CORE_READ(q, h_nr_runnable);
	if (bpf_core_field_exists(o->h_nr_delayed))
		return BPF_CORE_READ(o, h_nr_delayed);
	return 0;
}

struct scx_exit_info___gs_v71 {
	s32 exit_cpu;
} __attribute__((preserve_access_index));

/* The CPU that triggered the exit (7.1 on), -1 where the kernel does not say. */
static __always_inline s32 compat_exit_cpu(const struct scx_exit_info *ei)
{
	const struct scx_exit_info___gs_v71 *e = (const void *)ei;

	if (bpf_core_field_exists(e->exit_cpu))
		return BPF_CORE_READ(e, exit_cpu);
	return -1;
}

struct task_struct___gs_int_state {
	int on_cpu;
	int on_rq;
} __attribute__((preserve_access_index));
struct task_struct___gs_u8_state {
	u8 on_cpu;
	u8 on_rq;
} __attribute__((preserve_access_index));

/* A task_struct field that is an int up to 6.18 and a u8 in 7.2, read at its width. */
#define COMPAT_TASK_STATE(p, field)                                                   \
	({                                                                            \
		const struct task_struct___gs_u8_state *n__ = (const void *)(p);      \
		const struct task_struct___gs_int_state *o__ = (const void *)(p);     \
		bpf_core_field_size(n__->field) == 1 ? (int)BPF_CORE_READ(n__, field) \
						     : BPF_CORE_READ(o__, field);     \
	})

/* task_struct.on_cpu, whichever width this kernel gives it. */
static __always_inline bool compat_task_on_cpu(const struct task_struct *p)
{
	return COMPAT_TASK_STATE(p, on_cpu) != 0;
}

/* task_struct.on_rq (TASK_ON_RQ_QUEUED 1, TASK_ON_RQ_MIGRATING 2), at its width. */
static __always_inline int compat_task_on_rq(const struct task_struct *p)
{
	return COMPAT_TASK_STATE(p, on_rq);
}

enum scx_enq_flags___gs_v71 {
	SCX_ENQ_IMMED___gs_v71 = 1ULL << 33,
};

/*
 * SCX_ENQ_IMMED where the kernel has it (7.1 on: a task inserted into a local queue runs at
 * once or goes back through ops.enqueue, also when a higher class preempts it), else 0.
 */
static __always_inline u64 compat_enq_immed(void)
{
	if (bpf_core_enum_value_exists(enum scx_enq_flags___gs_v71, SCX_ENQ_IMMED___gs_v71))
		return bpf_core_enum_value(enum scx_enq_flags___gs_v71, SCX_ENQ_IMMED___gs_v71);
	return 0;
}

#endif /* GHOST_SCX_COMPAT_BPF_H */
