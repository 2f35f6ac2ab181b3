/*
 * policies/prio_track.c - the PrioTables of the processes a policy schedules:
 * processes found through /proc, tables attached with back-off, the index
 * from a thread to its item, the bounded reading of each update stream.
 *
 * Everything read from a table is the application's: the tracker trusts no
 * index it finds there (the PrioTable API checks each against the mapping),
 * applies an item only to a thread of the table's own process, and bounds the
 * work of one poll whatever the application writes. No lock (the caller holds
 * its policy's), no output.
 *
 * Finding a process's table means reading /proc/PID/fd, which can sleep on the
 * process itself (its exec or fork holds the locks /proc takes): done by the
 * agent, it would wait for a thread that waits for the agent, and the whole
 * enclave would stop (on sched_ext until the kernel's watchdog). So an attacher
 * thread of its own looks tables up; the agent only posts a pid and collects
 * the answer at a later poll, and never waits for it.
 */
#include "prio_track.h"

#include <ghost/thread.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRIO_ATTACH_FIRST_NS  10000000LL   /* a process without a table: look again */
#define PRIO_ATTACH_MAX_NS    1000000000LL /* ...backing off up to once a second */
/*
 * Per table and poll: stream entries read, and items re-read after an
 * overflow or an attach; what is left waits for the next poll.
 */
#define PRIO_UPDATES_PER_POLL 256
#define PRIO_RESCAN_PER_POLL  256

/*
 * The mailbox between the agent and the attacher thread. Its lock is held only
 * to move a pid or an answer, never across a /proc lookup. Whichever of the
 * tracker and the thread lets go last frees it: the tracker's end never waits
 * for a thread that may be stuck in /proc.
 */
#define PRIO_ATTACH_QUEUE 64

struct prio_answer {
	pid_t pid;
	int err;
	struct ghost_prio_table *pt;
};

struct prio_attacher {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs; /* the tracker, the thread */
	bool stop;
	pid_t asks[PRIO_ATTACH_QUEUE];
	unsigned nasks;
	struct prio_answer answers[PRIO_ATTACH_QUEUE];
	unsigned nanswers;
};

static void attacher_put(struct prio_attacher *a)
{
	bool last;

	pthread_mutex_lock(&a->mu);
	last = --a->refs == 0;
	pthread_mutex_unlock(&a->mu);
	if (!last)
		return;
	for (unsigned i = 0; i < a->nanswers; i++)
		ghost_prio_table_detach(a->answers[i].pt);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static void *attacher_main(void *arg)
{
	struct prio_attacher *a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct prio_answer ans = { 0 };

		while (!a->stop && (!a->nasks || a->nanswers == PRIO_ATTACH_QUEUE))
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->stop)
			break;
		ans.pid = a->asks[0];
		memmove(a->asks, a->asks + 1, --a->nasks * sizeof(a->asks[0]));
		pthread_mutex_unlock(&a->mu);
		ans.err = ghost_prio_table_attach(ans.pid, &ans.pt); /* may sleep */
		if (ans.err)
			ans.pt = NULL;
		pthread_mutex_lock(&a->mu);
		if (a->stop) {
			ghost_prio_table_detach(ans.pt);
			break;
		}
		a->answers[a->nanswers++] = ans;
	}
	pthread_mutex_unlock(&a->mu);
	attacher_put(a);
	return NULL;
}

/*
 * The attacher, started on first use: an ordinary thread on any CPU (a thread
 * inherits its creator's real-time class and pinning, an agent's).
 */
static struct prio_attacher *attacher_get(struct prio_track *tr)
{
	struct prio_attacher *a = tr->attacher;
	struct sched_param sp = { 0 };
	pthread_attr_t attr;
	cpu_set_t all;
	pthread_t thr;
	int err;

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->refs = 2;
	CPU_ZERO(&all);
	for (int c = 0; c < CPU_SETSIZE; c++)
		CPU_SET(c, &all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
	pthread_attr_setschedparam(&attr, &sp);
	pthread_attr_setaffinity_np(&attr, sizeof(all), &all);
	err = pthread_create(&thr, &attr, attacher_main, a);
	pthread_attr_destroy(&attr);
	if (err) {
		pthread_cond_destroy(&a->cv);
		pthread_mutex_destroy(&a->mu);
		free(a);
		return NULL;
	}
	tr->attacher = a;
	return a;
}

/* Which item names a gtid, as last read: open addressing, checked on use. */
struct prio_idx_slot {
	int64_t gpid; /* 0 = empty */
	int32_t sid;
};

void prio_track_init(struct prio_track *tr, struct ghost_task_table *tasks, size_t link_off,
		     prio_apply_fn apply, void *ctx)
{
	memset(tr, 0, sizeof(*tr));
	tr->tasks = tasks;
	tr->link_off = link_off;
	tr->apply = apply;
	tr->ctx = ctx;
}

static void proc_free(struct prio_proc *p)
{
	ghost_prio_table_detach(p->pt);
	free(p->idx);
	free(p->policy_data);
	free(p);
}

void prio_track_fini(struct prio_track *tr)
{
	struct prio_attacher *a = tr->attacher;

	if (a) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		attacher_put(a);
		tr->attacher = NULL;
	}
	while (tr->procs) {
		struct prio_proc *p = tr->procs;

		tr->procs = p->next;
		proc_free(p);
	}
}

static pid_t tgid_of(int64_t gtid)
{
	char path[64], line[128];
	pid_t tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/status", (long long)ghost_gtid_to_tid(gtid));
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/* ---- the gtid -> item index of a process's table ---- */

static uint32_t idx_hash(int64_t gpid, uint32_t cap)
{
	return (uint32_t)(((uint64_t)gpid * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static int32_t idx_get(const struct prio_proc *p, int64_t gpid)
{
	if (!p->idx)
		return -1;
	for (uint32_t i = idx_hash(gpid, p->idx_cap), n = 0; n < p->idx_cap;
	     i = (i + 1) & (p->idx_cap - 1), n++) {
		if (!p->idx[i].gpid)
			return -1;
		if (p->idx[i].gpid == gpid)
			return p->idx[i].sid;
	}
	return -1;
}

/*
 * Notes that item sid names gpid. Entries are never removed (an item that
 * names another thread later leaves a stale one, which its reader checks);
 * when the index fills up it starts afresh and the table is re-read.
 */
static void idx_put(struct prio_proc *p, int64_t gpid, uint32_t sid)
{
	uint32_t i;

	if (!p->idx) {
		uint32_t cap = 64;

		while (cap < 2 * ghost_prio_table_items(p->pt))
			cap *= 2;
		p->idx = calloc(cap, sizeof(*p->idx));
		if (!p->idx)
			return;
		p->idx_cap = cap;
	}
	for (i = idx_hash(gpid, p->idx_cap);; i = (i + 1) & (p->idx_cap - 1)) {
		if (p->idx[i].gpid == gpid) {
			p->idx[i].sid = (int32_t)sid;
			return;
		}
		if (!p->idx[i].gpid)
			break;
	}
	if (p->idx_used + 1 > p->idx_cap / 4 * 3) {
		memset(p->idx, 0, p->idx_cap * sizeof(*p->idx));
		p->idx_used = 0;
		p->rescan = 0;
		i = idx_hash(gpid, p->idx_cap);
	}
	p->idx[i].gpid = gpid;
	p->idx[i].sid = (int32_t)sid;
	p->idx_used++;
}

/* Hands what item sid of p's table now says to the policy, if it names one of p's tasks. */
static void apply_item(struct prio_track *tr, struct prio_proc *p, uint32_t sid)
{
	struct ghost_sched_item si;
	struct ghost_work_class wc;
	struct ghost_task *t;
	struct prio_link *link;

	if (ghost_prio_table_read_item(p->pt, sid, &si) || !si.gpid)
		return;
	idx_put(p, (int64_t)si.gpid, sid);
	t = ghost_task_table_find(tr->tasks, (int64_t)si.gpid);
	/* Unknown yet (its TASK_NEW reads the item), or a thread of another
	 * process: a table speaks only for its own process's threads. */
	if (!t || (link = prio_link_of(tr, t))->proc != p)
		return;
	tr->item_updates++;
	link->sid = (int32_t)sid;
	tr->apply(tr->ctx, t, &si, ghost_prio_table_read_class(p->pt, si.wcid, &wc) ? NULL : &wc);
}

/* Asks the attacher for p's table, unless it was asked or it is too early. */
static void try_attach(struct prio_track *tr, struct prio_proc *p, int64_t now)
{
	struct prio_attacher *a;

	if (p->pt || p->asked || now < p->next_try || !(a = attacher_get(tr)))
		return;
	pthread_mutex_lock(&a->mu);
	if (a->nasks < PRIO_ATTACH_QUEUE) {
		a->asks[a->nasks++] = p->pid;
		p->asked = true;
		pthread_cond_signal(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
}

/* The attacher's answers: a table for a process still here, or back-off. */
static void collect_answers(struct prio_track *tr, int64_t now)
{
	struct prio_attacher *a = tr->attacher;
	struct prio_answer ans[PRIO_ATTACH_QUEUE];
	unsigned n;

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	n = a->nanswers;
	memcpy(ans, a->answers, n * sizeof(ans[0]));
	a->nanswers = 0;
	if (n)
		pthread_cond_signal(&a->cv); /* room again */
	pthread_mutex_unlock(&a->mu);
	for (unsigned i = 0; i < n; i++) {
		struct prio_proc *p;

		for (p = tr->procs; p; p = p->next)
			if (p->pid == ans[i].pid && p->asked && !p->pt)
				break;
		if (!p) { /* gone meanwhile */
			ghost_prio_table_detach(ans[i].pt);
			continue;
		}
		p->asked = false;
		if (!ans[i].pt) {
			p->backoff = p->backoff ? p->backoff * 2 : PRIO_ATTACH_FIRST_NS;
			if (p->backoff > PRIO_ATTACH_MAX_NS)
				p->backoff = PRIO_ATTACH_MAX_NS;
			p->next_try = now + p->backoff;
			continue;
		}
		p->pt = ans[i].pt;
		/* The stream told nothing of what was written before we came. */
		p->rescan = 0;
	}
}

static struct prio_proc *proc_get(struct prio_track *tr, pid_t pid)
{
	struct prio_proc *p;

	for (p = tr->procs; p; p = p->next)
		if (p->pid == pid)
			break;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->pid = pid;
		p->rescan = -1;
		p->next = tr->procs;
		tr->procs = p;
	}
	p->ntasks++;
	return p;
}

void prio_track_task_new(struct prio_track *tr, struct ghost_task *t)
{
	struct prio_link *link = prio_link_of(tr, t);
	pid_t pid = tgid_of(t->gtid);
	struct prio_proc *p;
	int32_t sid;

	link->sid = -1;
	link->proc = p = pid > 0 ? proc_get(tr, pid) : NULL;
	if (!p)
		return;
	try_attach(tr, p, ghost_now_ns());
	/* Its item, if one named it before it arrived (else a later update or
	 * the re-read of a fresh table finds it). */
	if (p->pt && (sid = idx_get(p, t->gtid)) >= 0)
		apply_item(tr, p, (uint32_t)sid);
}

void prio_track_task_gone(struct prio_track *tr, struct ghost_task *t)
{
	struct prio_link *link = prio_link_of(tr, t);
	struct prio_proc *p = link->proc;

	link->proc = NULL;
	if (!p || --p->ntasks)
		return;
	for (struct prio_proc **pp = &tr->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	proc_free(p);
}

int prio_track_poll(struct prio_track *tr)
{
	int64_t now = ghost_now_ns();
	int n = 0;

	collect_answers(tr, now);
	for (struct prio_proc *p = tr->procs; p; p = p->next) {
		uint32_t items;

		if (!p->pt) {
			try_attach(tr, p, now);
			continue;
		}
		for (int k = 0; k < PRIO_UPDATES_PER_POLL; k++) {
			int idx = ghost_prio_table_next_updated(p->pt);

			if (idx == GHOST_PRIO_TABLE_NO_UPDATES || idx < GHOST_PRIO_TABLE_OVERFLOW)
				break;
			if (idx == GHOST_PRIO_TABLE_OVERFLOW)
				p->rescan = 0; /* every item may have changed */
			else
				apply_item(tr, p, (uint32_t)idx);
			n++;
		}
		items = ghost_prio_table_items(p->pt);
		for (int k = 0; k < PRIO_RESCAN_PER_POLL && p->rescan >= 0; k++, n++) {
			if (p->rescan >= items) {
				p->rescan = -1;
				break;
			}
			apply_item(tr, p, (uint32_t)p->rescan++);
		}
	}
	return n;
}

int prio_track_tables(const struct prio_track *tr)
{
	int n = 0;

	for (const struct prio_proc *p = tr->procs; p; p = p->next)
		n += p->pt != NULL;
	return n;
}
