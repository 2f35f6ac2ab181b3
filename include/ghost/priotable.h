/*
 * ghost/priotable.h - the PrioTable: scheduling hints an application shares
 * with the agent that schedules it.
 *
 * An application creates one table per process: a sched item per unit of
 * work it wants scheduled (usually a worker thread: the item names the
 * thread's gtid), the work classes those items belong to (QoS, expected
 * execution time, one-shot or repeating with a period), and a stream of
 * updated item indices. It marks an item runnable when the thread has work
 * and idle when it has none; an agent attached to the table schedules only
 * runnable items and takes an item that went idle off its CPU. The layouts
 * are ghost-userspace's (shared/prio_table.h): a 64-byte header, 64-byte
 * items and classes, then the stream.
 *
 * Writers (the application) change an item inside its seqcount (odd while a
 * write is under way) and then announce its index in the stream; readers
 * (the agent) copy an item and retry while the seqcount moved. The agent
 * side trusts nothing in the table: every offset, count and index is
 * checked against the mapping before use. Nothing here blocks or prints.
 */
#ifndef GHOST_PRIOTABLE_H
#define GHOST_PRIOTABLE_H

#include <ghost/common.h>

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GHOST_PRIO_TABLE_VERSION 0

/* The table's own header, at offset 0 of the shared memory. */
struct ghost_prio_table_hdr {
	uint16_t version;
	uint16_t hdrlen;
	uint32_t maplen;
	uint32_t si_num; /* elements of the sched item array */
	uint32_t si_off; /* its offset from the header */
	uint32_t wc_num; /* elements of the work class array */
	uint32_t wc_off;
	uint32_t st_cap; /* capacity of the stream */
	uint32_t st_off;
} __attribute__((aligned(64)));

struct ghost_sched_item {
	uint32_t sid;	   /* the item's index, written by its owner */
	uint32_t wcid;	   /* work class */
	uint64_t gpid;	   /* gtid of the thread that does the work */
	uint32_t flags;	   /* GHOST_SCHED_ITEM_* */
	uint32_t seqcount; /* odd while a writer changes the item */
	uint64_t deadline; /* ns since the Unix epoch, for deadline policies */
} __attribute__((aligned(64)));

#define GHOST_SCHED_ITEM_RUNNABLE (1u << 0) /* the thread has work */

struct ghost_work_class {
	uint32_t id;
	uint32_t flags;	   /* GHOST_WORK_CLASS_ONESHOT or _REPEATING */
	uint32_t qos;	   /* higher runs first */
	uint64_t exectime; /* expected execution time, ns */
	uint64_t period;   /* repeating classes: ns between runs */
} __attribute__((aligned(64)));

#define GHOST_WORK_CLASS_ONESHOT   (1u << 0)
#define GHOST_WORK_CLASS_REPEATING (1u << 1)

/* What ghost_prio_table_next_updated() returns besides an index. */
#define GHOST_PRIO_TABLE_NO_UPDATES (-1) /* nothing changed */
#define GHOST_PRIO_TABLE_OVERFLOW   (-2) /* too many changes: re-read every item */

struct ghost_prio_table;

struct ghost_prio_table_opts {
	size_t sz;	  /* sizeof(struct ghost_prio_table_opts), or 0 (options that grow) */
	uint32_t items;	  /* sched items (1 .. 65536) */
	uint32_t classes; /* work classes (1 .. 1024) */
	uint32_t stream;  /* stream capacity; 0 = 83 (ghost-userspace's choice) */
};

/* ---- the application's side ---- */

/*
 * Creates this process's table (anonymous shared memory an agent finds
 * through /proc/PID/fd). Every item starts empty (gpid 0, idle); every class
 * zeroed. -EEXIST if this process already has one, -EINVAL bad sizes.
 */
GHOST_API int ghost_prio_table_create(const struct ghost_prio_table_opts *opts,
				      struct ghost_prio_table **out);
/* Unmaps and closes the table (an agent's mapping stays valid). */
GHOST_API void ghost_prio_table_destroy(struct ghost_prio_table *pt);

GHOST_API int ghost_prio_table_set_class(struct ghost_prio_table *pt,
					 const struct ghost_work_class *wc);
/*
 * Writes item sid (its sid field is set here) under its seqcount and
 * announces it. -EINVAL for a bad sid or a wcid that names no class.
 */
GHOST_API int ghost_prio_table_set_item(struct ghost_prio_table *pt, uint32_t sid,
					const struct ghost_sched_item *si);
/* Sets or clears GHOST_SCHED_ITEM_RUNNABLE of item sid and announces it. */
GHOST_API int ghost_prio_table_mark_runnable(struct ghost_prio_table *pt, uint32_t sid);
GHOST_API int ghost_prio_table_mark_idle(struct ghost_prio_table *pt, uint32_t sid);
/* The item's runnable flag as the application last wrote it. */
GHOST_API bool ghost_prio_table_is_runnable(const struct ghost_prio_table *pt, uint32_t sid);

/* ---- the agent's side ---- */

/*
 * Maps the table of process pid. -ENOENT if it has none (or is gone),
 * -EACCES if we may not open its files, -EPROTO for a table whose header
 * does not hold up (version, sizes, offsets).
 */
GHOST_API int ghost_prio_table_attach(pid_t pid, struct ghost_prio_table **out);
GHOST_API void ghost_prio_table_detach(struct ghost_prio_table *pt);

GHOST_API uint32_t ghost_prio_table_items(const struct ghost_prio_table *pt);
GHOST_API uint32_t ghost_prio_table_classes(const struct ghost_prio_table *pt);
GHOST_API pid_t ghost_prio_table_owner(const struct ghost_prio_table *pt);

/*
 * A consistent copy of item sid (retrying while a writer is inside).
 * -EINVAL bad sid, -EAGAIN a writer stayed inside for all of the retries.
 */
GHOST_API int ghost_prio_table_read_item(const struct ghost_prio_table *pt, uint32_t sid,
					 struct ghost_sched_item *out);
/* A copy of work class wcid; -EINVAL if there is no such class. */
GHOST_API int ghost_prio_table_read_class(const struct ghost_prio_table *pt, uint32_t wcid,
					  struct ghost_work_class *out);
/*
 * The index of an item that changed since it was last returned, taking it
 * out of the stream; GHOST_PRIO_TABLE_NO_UPDATES, or GHOST_PRIO_TABLE_OVERFLOW
 * when changes were lost (then every item may have changed).
 */
GHOST_API int ghost_prio_table_next_updated(struct ghost_prio_table *pt);

#ifdef __cplusplus
}
#endif

#endif
