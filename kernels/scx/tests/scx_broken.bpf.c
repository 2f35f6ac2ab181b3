/*
 * kernels/scx/tests/scx_broken.bpf.c - a sched_ext scheduler the BPF verifier must refuse.
 *
 * Data for scx_errors (case (e)): scripts/scx-tests.sh compiles it like the real scheduler
 * (kernels/scx/ghost.bpf.c) into scx_broken.bpf.o, and scx_errors hands that object to
 * ghost-agent through GHOST_SCX_OBJ, expecting the load to fail with the verifier's log.
 *
 * Its only callback, running, counts the runs of each task in a hash map and dereferences
 * the lookup's result without checking it for NULL: the verifier rejects the program with
 * "R<n> invalid mem access 'map_value_or_null'". (A hash map, not an array: the verifier
 * knows an array lookup with a constant key in range cannot fail.) Everything else is a
 * well-formed struct_ops scheduler named "ghost", in partial-switch mode, so that nothing
 * but the verifier stands between it and the kernel.
 *
 * Build: clang-19 -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I<dir of vmlinux.h> -c
 */
#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, s32);	/* pid */
	__type(value, u64);	/* times it started running */
} broken_runs SEC(".maps");

SEC("struct_ops/broken_running")
void BPF_PROG(broken_running, struct task_struct *p)
{
	s32 pid = p->pid;
	u64 *runs = bpf_map_lookup_elem(&broken_runs, &pid);

	/* Deliberately unchecked: runs is NULL for a pid not in the map. */
	*runs += 1;
}

SEC(".struct_ops.link")
struct sched_ext_ops broken_ops = {
	.running = (void *)broken_running,
	.flags = SCX_OPS_SWITCH_PARTIAL,
	.name = "ghost",
};
