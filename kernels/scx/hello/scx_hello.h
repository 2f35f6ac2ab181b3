/*
 * kernels/scx/hello/scx_hello.h - what the hello sched_ext scheduler (scx_hello.bpf.c) and
 * its loader (hello_test.c) share: the maps' names and layouts.
 *
 * Included by BPF code after vmlinux.h and by user code after <linux/types.h>, so it uses
 * only the kernel's __u64/__s32 types.
 */
#ifndef SCX_HELLO_H
#define SCX_HELLO_H

/* The scheduler's one dispatch queue (ids with bit 63 set are the kernel's built-in ones). */
#define HELLO_DSQ 0

/* Names the loader looks the maps up by. */
#define HELLO_OPS_MAP	"hello_ops"
#define HELLO_STATS_MAP "hello_stats"
#define HELLO_EXIT_MAP	"hello_exit"

/* Counters in the hello_stats array, one u64 per index. */
enum hello_stat {
	HELLO_STAT_INIT,     /* ops.init ran (the queue was created) */
	HELLO_STAT_LOCAL,    /* select_cpu found an idle CPU: inserted into its local queue */
	HELLO_STAT_ENQUEUE,  /* enqueue inserted a task into HELLO_DSQ */
	HELLO_STAT_DISPATCH, /* dispatch moved a task from HELLO_DSQ to a CPU */
	HELLO_NR_STATS,
};

/* Why the scheduler stopped, recorded by ops.exit into hello_exit[0]. */
struct hello_exit {
	__s32 kind; /* enum scx_exit_kind: 0 = still running, 64 = unregistered */
	__s32 exit_cpu;
	__s64 exit_code;
	char reason[128];
	char msg[1024];
};

#endif
