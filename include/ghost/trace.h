/*
 * ghost/trace.h - a record of what an agent did: every message it consumed
 * and every txn it committed with its outcome, timestamped, kept in memory
 * per agent thread and written to a file on request (ghost-agent --trace,
 * read by ghost-trace).
 *
 * Recording: ghost_trace_start() attaches a recorder to an enclave handle;
 * from then on every message ghost_sched_dispatch() hands to a policy for
 * that enclave (and every malformed one ghost_sched_drain() drops) and
 * every commit outcome ghost_txn_commit*() waits for on it is one record.
 * Each agent thread writes into its own CPU's ring (no lock: one writer per
 * ring); other threads share one ring under a lock. The rings are bounded:
 * they keep the newest records, and the file says how many were dropped.
 * A handle that is not recording costs one predictable branch per message
 * and per commit. This header never prints, and the library writes a file
 * only when asked (ghost_trace_save, or the full agent's trace_path).
 *
 * The file (GHOST_TRACE_VERSION 1), in the writer's byte order: a header
 * (struct ghost_trace_header, 144 bytes) then nrecords records (struct
 * ghost_trace_record, 32 bytes each) sorted by time, nothing after them.
 * Times are CLOCK_MONOTONIC nanoseconds (ghost_now_ns).
 */
#ifndef GHOST_TRACE_H
#define GHOST_TRACE_H

#include <ghost/common.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_enclave;

#define GHOST_TRACE_MAGIC	    "GHOSTTRC" /* 8 bytes, no terminating NUL in the file */
#define GHOST_TRACE_VERSION	    1
/* The clock of every time in the file. */
#define GHOST_TRACE_CLOCK_MONOTONIC 1
/* The rings' bound when none is given, and the smallest one accepted (bytes). */
#define GHOST_TRACE_DEFAULT_SIZE    (64u << 20)
#define GHOST_TRACE_MIN_SIZE	    4096u

enum ghost_trace_kind {
	GHOST_TRACE_MSG = 1, /* a message the agent consumed */
	GHOST_TRACE_TXN = 2, /* a txn outcome the agent waited for */
};

/* ghost_trace_record.flags */
#define GHOST_TRACE_F_RUNNABLE	  0x01 /* TASK_NEW: the task is runnable */
#define GHOST_TRACE_F_LATCHED	  0x02 /* TASK_PREEMPT: latched, replaced before it ran */
#define GHOST_TRACE_F_MALFORMED	  0x04 /* a message dropped unread (bad length or type) */
#define GHOST_TRACE_F_KERNEL_TIME 0x08 /* TXN: time_ns is the kernel's commit_time */

struct ghost_trace_record {
	int64_t time_ns;   /* MSG: when the agent began to handle it; TXN: when it committed */
	int64_t gtid;	   /* the task (0 for CPU messages); TXN: the target (or a special gtid) */
	uint32_t seqnum;   /* MSG: its seqnum; TXN: the task barrier it carried */
	int32_t value;	   /* MSG: what ghost_sched_dispatch returned; TXN: the final state */
	uint16_t type;	   /* MSG: its type (MSG_*); TXN: 0 */
	uint8_t kind;	   /* enum ghost_trace_kind */
	uint8_t flags;	   /* GHOST_TRACE_F_* */
	int16_t cpu;	   /* MSG: the CPU its payload names, -1 none; TXN: the txn's CPU */
	int16_t agent_cpu; /* the CPU whose agent recorded it, -1 another thread */
};

struct ghost_trace_header {
	char magic[8];	      /* GHOST_TRACE_MAGIC */
	uint32_t version;     /* GHOST_TRACE_VERSION */
	uint32_t header_size; /* sizeof(struct ghost_trace_header) */
	uint32_t record_size; /* sizeof(struct ghost_trace_record) */
	uint32_t clock;	      /* GHOST_TRACE_CLOCK_MONOTONIC */
	uint64_t enclave_id;
	uint64_t nrecords; /* the records that follow */
	uint64_t dropped;  /* records the bounded rings overwrote (older ones) */
	int64_t start_ns;  /* recording began */
	int64_t end_ns;	   /* the file was written */
	/* No ring dropped anything from here on (start_ns when nothing was dropped). */
	int64_t complete_ns;
	uint32_t ncpus; /* CPUs in cpus */
	uint32_t reserved;
	uint64_t cpus[8]; /* the enclave's CPUs, a bitmap (CPU n: bit n % 64 of word n / 64) */
};

#ifdef __cplusplus
static_assert(sizeof(struct ghost_trace_record) == 32, "trace record layout");
static_assert(sizeof(struct ghost_trace_header) == 144, "trace header layout");
#else
_Static_assert(sizeof(struct ghost_trace_record) == 32, "trace record layout");
_Static_assert(sizeof(struct ghost_trace_header) == 144, "trace header layout");
#endif

/* Options that grow: see ghost_enclave_opts (sz 0 = this version; zero = the default). */
struct ghost_trace_opts {
	size_t sz;   /* sizeof(struct ghost_trace_opts), or 0 */
	size_t size; /* bytes of records kept in memory, at most (0: GHOST_TRACE_DEFAULT_SIZE) */
};

/*
 * Starts recording e: one ring per CPU of e and one shared, each
 * size / (CPUs + 1) bytes of 32-byte slots, one of which is kept free (a
 * writer's), so a file holds at most size bytes of records. 0, -EBUSY (e
 * records already), -EINVAL (size under GHOST_TRACE_MIN_SIZE, or under two
 * slots per ring), -ENOMEM.
 */
GHOST_API int ghost_trace_start(struct ghost_enclave *e, const struct ghost_trace_opts *opts);
/*
 * Writes what e's rings hold to path (through a temporary file renamed over
 * it, so a reader sees the old file or the new one). Safe while agents
 * record: a record being overwritten meanwhile is left out and counted as
 * dropped. Returns how many records it wrote, -ENOENT if e does not
 * record, or the errno of the failed system call.
 */
GHOST_API int ghost_trace_save(struct ghost_enclave *e, const char *path);
/*
 * Stops recording e and frees the rings. Only when no thread of e is in a
 * dispatch or a commit (the full agent calls it after its agents stopped).
 * 0, or -ENOENT if e did not record.
 */
GHOST_API int ghost_trace_stop(struct ghost_enclave *e);
/*
 * The calling thread records into cpu's ring (one thread per CPU, as agents
 * are; the full agent's threads say so themselves); -1, or a CPU without a
 * ring, is the shared ring.
 */
GHOST_API void ghost_trace_set_thread_cpu(int cpu);

/* A trace file checked and read in place. */
struct ghost_trace_view {
	struct ghost_trace_header hdr;
	const struct ghost_trace_record *records; /* inside the caller's buffer */
	size_t nrecords;
};

/*
 * Checks a whole trace file held in buf (len bytes, 8-byte aligned) and
 * points out at its records: the header's magic, version, sizes and CPUs,
 * that exactly nrecords records follow, and each record (a known kind, CPUs
 * in -1..GHOST_MAX_CPUS-1, times never going back). Reads nothing past
 * buf + len. 0, or -EINVAL with a sentence in why.
 */
GHOST_API int ghost_trace_parse(const void *buf, size_t len, struct ghost_trace_view *out,
				char *why, size_t why_len);
/*
 * Reads the file at path into memory (*buf, the caller frees it) and
 * parses it. 0, -EINVAL (not a valid trace, why says how), -EFBIG (over
 * 4 GiB) or the errno of the failed read.
 */
GHOST_API int ghost_trace_load(const char *path, void **buf, struct ghost_trace_view *out,
			       char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif
