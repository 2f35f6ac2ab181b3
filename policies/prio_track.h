/*
 * policies/prio_track.h - following the PrioTables of the processes whose
 * threads a policy schedules, for every policy that reads them (shinjuku,
 * edf).
 *
 * It owns the processes it has seen (one record per process with at least
 * one task, found through /proc on the task's first message), their tables
 * (attached, looked for again with back-off while a process has none), the
 * index from a thread to the item that names it, and the bounded reading of
 * each table's update stream. What an item means is the policy's: every item
 * read that names one of the process's own known tasks goes to the policy's
 * apply callback with the item and its work class. It makes no scheduling
 * decision, takes no lock (the policy holds its own) and never prints.
 */
#ifndef GHOST_POLICIES_PRIO_TRACK_H
#define GHOST_POLICIES_PRIO_TRACK_H

#include <ghost/priotable.h>
#include <ghost/sched.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct prio_idx_slot;

/* A process whose threads the policy schedules, and its PrioTable if it has one. */
struct prio_proc {
	pid_t pid;
	struct ghost_prio_table *pt; /* NULL until attached */
	int64_t next_try, backoff;   /* while pt is NULL */
	bool asked;		     /* the attacher is looking for its table */
	int64_t rescan;		     /* next item of a full re-read, -1 none */
	struct prio_idx_slot *idx;   /* gtid -> item, as last read */
	uint32_t idx_cap, idx_used;
	uint32_t ntasks;
	/* The policy's own per-process data (malloc'd by the policy), freed with the process. */
	void *policy_data;
	struct prio_proc *next;
};

/* What a policy's task record holds for the tracker (anywhere in the record). */
struct prio_link {
	struct prio_proc *proc; /* NULL: no process found */
	int32_t sid;		/* the item that last named the task, -1 none */
};

/*
 * An item now says si about task t (its link's sid is already set); wc is
 * the item's work class, NULL when the table has no such class.
 */
typedef void (*prio_apply_fn)(void *ctx, struct ghost_task *t, const struct ghost_sched_item *si,
			      const struct ghost_work_class *wc);

struct prio_attacher;

struct prio_track {
	struct ghost_task_table *tasks; /* the policy's, to find a task by gtid */
	size_t link_off;		/* of struct prio_link in the policy's task record */
	prio_apply_fn apply;
	void *ctx;
	struct prio_proc *procs;
	struct prio_attacher *attacher; /* looks tables up off the scheduling path */
	uint64_t item_updates;		/* items applied to a task */
};

void prio_track_init(struct prio_track *tr, struct ghost_task_table *tasks, size_t link_off,
		     prio_apply_fn apply, void *ctx);
/* Detaches every table and frees every process record (and its policy_data). */
void prio_track_fini(struct prio_track *tr);

/*
 * A new task (its TASK_NEW; the policy has set its own defaults): joins it
 * to its process, attaching the process's table if there is one, and
 * applies the item that already names it, if any was read before it came.
 */
void prio_track_task_new(struct prio_track *tr, struct ghost_task *t);
/* A task that is gone: its process is dropped with its last task. */
void prio_track_task_gone(struct prio_track *tr, struct ghost_task *t);

/*
 * Reads every table's update stream and any re-read under way, a bounded
 * amount per table; retries attaching the processes that have no table yet.
 * Returns how many items it read.
 */
int prio_track_poll(struct prio_track *tr);

/* How many of the processes have a table attached. */
int prio_track_tables(const struct prio_track *tr);

static inline struct prio_link *prio_link_of(const struct prio_track *tr, struct ghost_task *t)
{
	return (struct prio_link *)((char *)t + tr->link_off);
}

#endif
