/*
 * kernels/scx/hello/scx_hello.bpf.c - the smallest sched_ext scheduler worth testing: one
 * global FIFO dispatch queue.
 *
 * It exists to prove the real-kernel test tier end to end (a sched_ext kernel in a virtual
 * machine, a BPF object built against that kernel's vmlinux.h, a static loader), not to
 * schedule well. With SCX_OPS_SWITCH_PARTIAL it manages only the tasks whose policy is
 * SCHED_EXT; everything else stays in the fair class.
 *
 * A waking task goes straight to the local queue of an idle CPU when select_cpu finds one;
 * otherwise enqueue appends it to HELLO_DSQ, and a CPU that runs out of work takes the head
 * of HELLO_DSQ in dispatch. Counters in hello_stats show that each path ran; ops.exit
 * records why the scheduler stopped in hello_exit.
 *
 * Build: clang-19 -g -O2 -target bpf -D__TARGET_ARCH_x86 -I<dir of vmlinux.h> -c (build.sh).
 */

/* vmlinux.h from bpftool >= 7.4 declares every kfunc; this file declares the ones it uses. */
#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "compat.bpf.h"
#include "scx_hello.h"

char _license[] SEC("license") = "GPL";

/* The sched_ext kfuncs used here that every line has; compat.bpf.h the others. */
extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
extern s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				  bool *is_idle) __ksym;

#define BPF_STRUCT_OPS(name, args...) \
	SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) \
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HELLO_NR_STATS);
	__type(key, u32);
	__type(value, u64);
} hello_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct hello_exit);
} hello_exit SEC(".maps");

static void stat_inc(u32 idx)
{
	u64 *cnt = bpf_map_lookup_elem(&hello_stats, &idx);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

s32 BPF_STRUCT_OPS(hello_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		/* enqueue is skipped for a task inserted here. */
		stat_inc(HELLO_STAT_LOCAL);
		compat_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(hello_enqueue, struct task_struct *p, u64 enq_flags)
{
	stat_inc(HELLO_STAT_ENQUEUE);
	compat_dsq_insert(p, HELLO_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(hello_dispatch, s32 cpu, struct task_struct *prev)
{
	if (compat_dsq_move_to_local(HELLO_DSQ))
		stat_inc(HELLO_STAT_DISPATCH);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(hello_init)
{
	s32 ret = scx_bpf_create_dsq(HELLO_DSQ, -1);

	if (!ret)
		stat_inc(HELLO_STAT_INIT);
	return ret;
}

void BPF_STRUCT_OPS(hello_exit_op, struct scx_exit_info *ei)
{
	u32 zero = 0;
	struct hello_exit *e = bpf_map_lookup_elem(&hello_exit, &zero);

	if (!e)
		return;
	e->kind = ei->kind;
	e->exit_cpu = compat_exit_cpu(ei);
	e->exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(e->reason, sizeof(e->reason), ei->reason);
	bpf_probe_read_kernel_str(e->msg, sizeof(e->msg), ei->msg);
}

SEC(".struct_ops.link")
struct sched_ext_ops hello_ops = {
	.select_cpu	= (void *)hello_select_cpu,
	.enqueue	= (void *)hello_enqueue,
	.dispatch	= (void *)hello_dispatch,
	.init		= (void *)hello_init,
	.exit		= (void *)hello_exit_op,
	.flags		= SCX_OPS_SWITCH_PARTIAL,
	.name		= "hello",
};
