/*
 * policies/edf.c - Earliest Deadline First: one spinning global agent
 * schedules every other CPU, giving each to the waiting task whose request
 * must start soonest.
 *
 * A request is what a task does between becoming runnable with work (its
 * wakeup, or its PrioTable item turning runnable) and finishing (it blocks,
 * its item goes idle, it dies). An item that changes its deadline or class
 * while the task runs ends the request and starts the next; while the task
 * waits, the new request replaces the old one uncounted. A request's
 * deadline is its item's when the item sets one, else one period after it
 * began for a repeating work class, else `default_deadline` after it began
 * (a task with no table or no item). Each work class of a process keeps an
 * estimate of a request's runtime: it starts at the class's exectime and
 * moves toward every runtime observed by `estimate_weight` percent of the
 * difference (an exponentially weighted mean). A request's key is its latest
 * start time, deadline - estimate (an estimate of 0 without a class): among
 * tasks of one QoS, the least laxity goes first.
 *
 * Order of the waiting tasks: boosted ones first (they lost their CPU to a
 * higher scheduling class, or a commit of theirs failed: they resume first),
 * then higher QoS (a task with no class keeps QoS 0), then the earlier key,
 * then the earlier arrival. Each round fills the vacant CPUs in that order,
 * then preempts, all in one group commit.
 *
 * Preemption. A running task gives way to a waiting task of a higher QoS, or
 * of its QoS whose key is earlier by more than `preempt_margin`. A waiting
 * task's key moves only when its item changes, so a preempted task cannot
 * take its CPU back until the winner's key moves: a new request, or an
 * overrun. Overrun: a request that has used its budget of CPU time -
 * `overrun_factor` times its class's estimate (at least EDF_MIN_BUDGET_NS),
 * or its whole span (deadline - start; default_deadline if that was under
 * EDF_MIN_SPAN_NS) without a class or with factor 0 - has its key postponed
 * by its span and gets a new budget; the margin rule then says whether a
 * waiting task takes the CPU. So a task loses its CPU at most once per
 * budget of its own CPU time, never in a loop; a request far beyond its
 * estimate lets the ones it holds up pass (as a time slice would), and
 * spinners of one QoS take turns of a budget.
 *
 * A task whose item goes idle while it runs is taken off after a grace (a
 * NULL txn when nothing replaces it), as in shinjuku. Deadline misses
 * (requests that finished after their deadline, counted by the original
 * deadline whatever the postponements), preemptions, postponements and the
 * estimates are in the stats line.
 *
 * Only the global agent touches the scheduler state, under the base's lock
 * (the stats and the accessors take it too). Written once for every
 * backend: public headers, policies/common.h and the shared PrioTable
 * tracker (policies/prio_track.h); nothing here prints.
 */
#include "fifo.h"
#include "prio_track.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/priotable.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define EDF_PAUSED	  16 /* fifo_task.state: runnable, but its item has no work */
/* An idle item's task usually leaves by itself at once (it yields or blocks): wait that long. */
#define EDF_IDLE_GRACE_NS 20000
/* The shortest span (deadline - start) a request is postponed by when it overruns. */
#define EDF_MIN_SPAN_NS	  100000LL
/* The least CPU time a request runs between postponements: no task is preempted more often. */
#define EDF_MIN_BUDGET_NS 50000LL
#define EDF_MAX_NS	  3600000000000LL /* estimates, spans and periods are capped at 1 h */
#define EDF_STATS_CLASSES 3		  /* estimates named in the stats line */

/* One work class of one process: its runtime estimate. */
struct edf_class {
	uint64_t exectime; /* as the table said: another value restarts the estimate */
	int64_t estimate;
	uint64_t samples; /* observed runtimes folded in since it (re)started */
	bool known;
};

/* A process's classes (its prio_proc's policy_data), as many as its table has. */
struct edf_classes {
	uint32_t n;
	struct edf_class c[];
};

/* A pairing heap of waiting tasks; the root goes first. */
struct edf_heap {
	struct edf_task *root;
	uint32_t count;
};

struct edf_task {
	struct fifo_task f;    /* first: base record, run state, CPU, sit-out links, boost */
	struct prio_link link; /* its process and sched item */
	struct edf_heap *heap; /* the heap it waits in, NULL if none */
	/* Heap links: first child, next sibling, previous sibling or (first child) parent. */
	struct edf_task *child, *sibling, *prev;
	bool has_work;	 /* its item is runnable (true without an item) */
	bool has_class;	 /* wcid names a class of its table */
	bool in_request; /* deadline, span, key... describe a request under way */
	bool must_leave; /* on a CPU while its item is idle: off after the grace */
	uint32_t qos, wcid;
	uint64_t period;	     /* its class repeats: ns; else 0 */
	uint64_t item_deadline;	     /* ns since the epoch as its item says, 0 none */
	int64_t deadline;	     /* of the request, ghost_now_ns's clock */
	int64_t span;		     /* the key moves this much later when the budget is used up */
	int64_t budget;		     /* CPU time the request may use per span */
	int64_t estimate;	     /* its class's estimate when the request began */
	struct edf_class *req_class; /* the class the request began in, NULL none */
	int64_t key;		     /* latest start: deadline - estimate, + postponements */
	uint64_t arrival;	     /* ties between equal keys */
	int64_t req_run0;	     /* its CPU time when the request began */
	int64_t budget_run0;	     /* ... when the current budget began */
	int64_t idle_since;	     /* must_leave: since when */
};

struct edf_cpu {
	struct edf_task *current;
	struct edf_task *next; /* chosen this round */
	int64_t refused_until; /* the CPU refused a commit: left alone until */
};

struct edf {
	struct ghost_sched sched; /* first: the library's scheduler base and lock */
	struct ghost_enclave *e;
	struct ghost_channel *chan;
	struct edf_heap boosted, rq;
	struct ghost_task_queue
		sitout; /* not runnable this round (unread messages, still on a CPU, yielded) */
	struct edf_cpu cpu[GHOST_MAX_CPUS];
	struct prio_track track;
	int global_cpu; /* read by every agent, written under lock */
	int64_t default_deadline, margin, weight, overrun;
	uint64_t arrivals;
	uint64_t moves, preemptions, unschedules, postponed, requests, misses;
};

struct edf_config {
	struct policy_central_config base; /* queue_elems, global_cpu */
	int64_t default_deadline_ns;
	int64_t estimate_weight;
	int64_t preempt_margin_ns;
	int64_t overrun_factor;
};

static const struct ghost_policy_param edf_params[] = {
	POLICY_PARAM_QUEUE_ELEMS(struct edf_config, base.queue_elems),
	POLICY_PARAM_GLOBAL_CPU(struct edf_config, base.global_cpu),
	{ .name = "default_deadline",
	  .type = GHOST_PARAM_DURATION,
	  .offset = offsetof(struct edf_config, default_deadline_ns),
	  .def = "10ms",
	  .min = EDF_MIN_SPAN_NS,
	  .max = EDF_MAX_NS,
	  .help = "deadline of a request that no PrioTable item dates, after it began" },
	{ .name = "estimate_weight",
	  .type = GHOST_PARAM_INT,
	  .offset = offsetof(struct edf_config, estimate_weight),
	  .def = "25",
	  .min = 1,
	  .max = 100,
	  .help = "percent of the gap to each observed runtime a class's estimate moves" },
	{ .name = "preempt_margin",
	  .type = GHOST_PARAM_DURATION,
	  .offset = offsetof(struct edf_config, preempt_margin_ns),
	  .def = "50us",
	  .min = 1000,
	  .max = EDF_MAX_NS,
	  .help = "preempt only for a waiting task of the same QoS whose latest start is this "
		  "much earlier" },
	{ .name = "overrun_factor",
	  .type = GHOST_PARAM_INT,
	  .offset = offsetof(struct edf_config, overrun_factor),
	  .def = "4",
	  .min = 0,
	  .max = 1000,
	  .help = "a request that ran this many times its class's estimate is postponed by its "
		  "span (0: only after a whole span)" },
	{ 0 },
};

static struct edf *of(struct ghost_sched *s)
{
	return s->policy;
}

static struct edf_task *et(struct ghost_task *t)
{
	return (struct edf_task *)t;
}

static int64_t cap(int64_t v)
{
	return v > EDF_MAX_NS ? EDF_MAX_NS : v;
}

/* A duration the table gave (anything an application wrote), capped. */
static int64_t cap_u64(uint64_t v)
{
	return v > (uint64_t)EDF_MAX_NS ? EDF_MAX_NS : (int64_t)v;
}

/*
 * The task's CPU time: its word's runtime, plus the stint under way. The two
 * fields are read apart from each other, so the sum may be off by one
 * switch; it only moves an overrun check or a sample by that much.
 */
static int64_t cpu_time(const struct edf_task *t, int64_t now)
{
	const struct ghost_status_word *sw = t->f.base.sw;
	int64_t run, since;

	if (!sw)
		return 0;
	run = (int64_t)ghost_sw_runtime(sw);
	since = ghost_sw_switch_time(sw);
	return ghost_sw_on_cpu(sw) && since > 0 && now > since ? run + (now - since) : run;
}

/* ---- the heaps ---- */

/* Does a go before b? Higher QoS, then the earlier key, then the earlier arrival. */
static bool before(const struct edf_task *a, const struct edf_task *b)
{
	if (a->qos != b->qos)
		return a->qos > b->qos;
	if (a->key != b->key)
		return a->key < b->key;
	return a->arrival < b->arrival;
}

/* Two roots (no siblings) into one; the later becomes the first child of the earlier. */
static struct edf_task *meld(struct edf_task *a, struct edf_task *b)
{
	struct edf_task *x;

	if (!a || !b)
		return a ? a : b;
	if (before(b, a)) {
		x = a;
		a = b;
		b = x;
	}
	b->prev = a;
	b->sibling = a->child;
	if (a->child)
		a->child->prev = b;
	a->child = b;
	return a;
}

/* A list of siblings into one root: meld them pairwise left to right, then the pairs back. */
static struct edf_task *meld_siblings(struct edf_task *first)
{
	struct edf_task *pairs = NULL, *root = NULL;

	while (first) {
		struct edf_task *a = first, *b = a->sibling;

		first = b ? b->sibling : NULL;
		a->sibling = a->prev = NULL;
		if (b)
			b->sibling = b->prev = NULL;
		a = meld(a, b);
		a->sibling = pairs; /* a stack of the pairs, through the free sibling link */
		pairs = a;
	}
	while (pairs) {
		struct edf_task *next = pairs->sibling;

		pairs->sibling = NULL;
		root = meld(root, pairs);
		pairs = next;
	}
	return root;
}

static void heap_push(struct edf_heap *h, struct edf_task *t)
{
	t->child = t->sibling = t->prev = NULL;
	h->root = meld(h->root, t);
	t->heap = h;
	h->count++;
}

static void heap_remove(struct edf_task *t)
{
	struct edf_heap *h = t->heap;
	struct edf_task *rest = meld_siblings(t->child);

	if (h->root == t) {
		h->root = rest;
	} else {
		/* Out of its parent's list of children. */
		if (t->prev->child == t)
			t->prev->child = t->sibling;
		else
			t->prev->sibling = t->sibling;
		if (t->sibling)
			t->sibling->prev = t->prev;
		h->root = meld(h->root, rest);
	}
	t->child = t->sibling = t->prev = NULL;
	t->heap = NULL;
	h->count--;
}

static uint32_t queued(const struct edf *s)
{
	return s->boosted.count + s->rq.count + s->sitout.count;
}

static void dequeue(struct edf_task *t)
{
	if (t->heap)
		heap_remove(t);
	ghost_task_queue_remove(t->f.base.queue, &t->f.base);
}

/* Queues a task that may run, boosted ones apart; one whose item has no work is paused. */
static void enqueue(struct edf *s, struct edf_task *t)
{
	dequeue(t);
	if (!t->has_work) {
		t->f.state = EDF_PAUSED; /* runs again when its item has work */
		return;
	}
	t->f.state = FIFO_QUEUED;
	heap_push(t->f.prio_boost ? &s->boosted : &s->rq, t);
}

static void off_cpu(struct edf *s, struct edf_task *t)
{
	if (t->f.cpu >= 0 && s->cpu[t->f.cpu].current == t)
		s->cpu[t->f.cpu].current = NULL;
	t->f.cpu = -1;
	t->must_leave = false;
}

/* ---- work classes and requests ---- */

/* The task's class record, made on first use; NULL without a class. */
static struct edf_class *class_of(struct edf_task *t)
{
	struct prio_proc *p = t->link.proc;
	struct edf_classes *cl;

	if (!t->has_class || !p || !p->pt)
		return NULL;
	cl = p->policy_data;
	if (!cl) {
		uint32_t n = ghost_prio_table_classes(p->pt);

		cl = calloc(1, sizeof(*cl) + (size_t)n * sizeof(cl->c[0]));
		if (!cl)
			return NULL;
		cl->n = n;
		p->policy_data = cl;
	}
	return t->wcid < cl->n ? &cl->c[t->wcid] : NULL;
}

/* A class as its table now describes it: a new exectime restarts the estimate. */
static void class_seen(struct edf_task *t, const struct ghost_work_class *wc)
{
	struct edf_class *c = class_of(t);

	if (!c || (c->known && c->exectime == wc->exectime))
		return;
	c->known = true;
	c->exectime = wc->exectime;
	c->estimate = cap_u64(wc->exectime);
	c->samples = 0;
}

/* Ns since the epoch (an item's deadline) on ghost_now_ns's clock. */
static int64_t from_epoch(uint64_t epoch_ns, int64_t now)
{
	struct timespec ts;
	int64_t real;

	clock_gettime(CLOCK_REALTIME, &ts);
	real = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	/* Far enough for any deadline, and no overflow in the sums below. */
	if (epoch_ns > (uint64_t)real + (uint64_t)(1LL << 60))
		epoch_ns = (uint64_t)real + (uint64_t)(1LL << 60);
	return now + ((int64_t)epoch_ns - real);
}

/*
 * The CPU time the request may use before its key is postponed: what its
 * class now expects a request to need, times the factor; without a class
 * (or with overrun_factor 0) its whole span.
 */
static int64_t budget_of(const struct edf *s, const struct edf_task *t)
{
	int64_t b = t->req_class && s->overrun ? t->req_class->estimate * s->overrun : t->span;

	if (b < EDF_MIN_BUDGET_NS)
		b = EDF_MIN_BUDGET_NS;
	return b < t->span ? b : t->span;
}

static void start_request(struct edf *s, struct edf_task *t, int64_t now)
{
	struct edf_class *c = class_of(t);

	if (t->item_deadline)
		t->deadline = from_epoch(t->item_deadline, now);
	else if (t->period)
		t->deadline = now + cap_u64(t->period);
	else
		t->deadline = now + s->default_deadline;
	t->span = t->deadline - now;
	if (t->span < EDF_MIN_SPAN_NS)
		t->span = s->default_deadline; /* already late, or nearly */
	t->span = cap(t->span);
	t->estimate = c ? c->estimate : 0;
	t->req_class = c;
	t->budget = budget_of(s, t);
	t->key = t->deadline - t->estimate;
	t->arrival = ++s->arrivals;
	t->req_run0 = t->budget_run0 = cpu_time(t, now);
	t->in_request = true;
}

/* A request that ends unseen (replaced, or its end never reported): nothing counted. */
static void drop_request(struct edf_task *t)
{
	t->in_request = false;
	t->req_class = NULL;
}

/*
 * The request is over at now, the task having run run_now in all: count it,
 * and teach its runtime to the class it began in (not to one an item named
 * later: a request that began without a class teaches none).
 */
static void end_request(struct edf *s, struct edf_task *t, int64_t now, int64_t run_now)
{
	struct edf_class *c = t->req_class;
	int64_t ran = run_now - t->req_run0;

	if (!t->in_request)
		return;
	drop_request(t);
	s->requests++;
	if (now > t->deadline)
		s->misses++;
	if (c && ran > 0) {
		ran = cap(ran);
		c->estimate += (ran - c->estimate) * s->weight / 100;
		c->samples++;
	}
}

/* A task that may run now: a new request if none is under way, then the queue. */
static void make_ready(struct edf *s, struct edf_task *t, int64_t now)
{
	if (t->has_work && !t->in_request)
		start_request(s, t, now);
	enqueue(s, t);
}

/* What an item of its process's table now says about task (prio_track's apply). */
static void apply_item(void *ctx, struct ghost_task *task, const struct ghost_sched_item *si,
		       const struct ghost_work_class *wc)
{
	struct edf *s = ctx;
	struct edf_task *t = et(task);
	int64_t now = ghost_now_ns();
	bool had_work = t->has_work;
	bool redated = si->deadline != t->item_deadline;

	t->has_work = si->flags & GHOST_SCHED_ITEM_RUNNABLE;
	t->item_deadline = si->deadline;
	if (wc) {
		uint64_t period = wc->flags & GHOST_WORK_CLASS_REPEATING ? wc->period : 0;

		redated |= !t->has_class || t->qos != wc->qos || t->wcid != si->wcid ||
			   t->period != period;
		t->has_class = true;
		t->qos = wc->qos;
		t->wcid = si->wcid;
		t->period = period;
		class_seen(t, wc);
	} else {
		/* No such class: the QoS stays as it was, the estimate goes. */
		redated |= t->has_class;
		t->has_class = false;
		t->period = 0;
	}
	switch (t->f.state) {
	case FIFO_BLOCKED:
		break; /* its wakeup starts a request from what the item says now */
	case EDF_PAUSED:
		if (t->has_work)
			make_ready(s, t, now);
		break;
	case FIFO_QUEUED:
	case FIFO_YIELDING:
		if (!t->has_work) {
			end_request(s, t, now, cpu_time(t, now));
			dequeue(t);
			t->f.state = EDF_PAUSED;
		} else if (redated) {
			/* The item rewrote the request before it was done: the new
			 * one replaces it, uncounted, with a new key (out of the heap
			 * and back in). */
			drop_request(t);
			dequeue(t);
			make_ready(s, t, now);
		}
		break;
	case FIFO_ONCPU:
		if (!t->has_work && had_work) {
			end_request(s, t, now, cpu_time(t, now));
			t->must_leave = true;
			t->idle_since = now;
		} else if (t->has_work && (!had_work || redated)) {
			/* Work again before it left, or the next request: the round
			 * compares its new key with the waiting ones. */
			end_request(s, t, now, cpu_time(t, now));
			t->must_leave = false;
			start_request(s, t, now);
		}
		break;
	}
}

/* ---- messages ---- */

static void edf_new(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct edf *p = of(s);
	struct ghost_msg_payload_task_new pl;
	struct edf_task *t = et(task);

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	t->f.cpu = -1;
	t->f.state = FIFO_BLOCKED;
	t->has_work = true;
	prio_track_task_new(&p->track, task);
	if (pl.runnable)
		make_ready(p, t, ghost_now_ns());
}

static void edf_wakeup(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct edf_task *t = et(task);

	(void)m;
	if (t->f.state != FIFO_BLOCKED)
		return;
	/* Always a new request: one left open (a commit that found the task
	 * blocked parks it without its TASK_BLOCKED) is dropped uncounted. */
	drop_request(t);
	make_ready(of(s), t, ghost_now_ns());
}

/* The task blocked, having run run_now in all: its request is over. */
static void to_blocked(struct edf *p, struct edf_task *t, int64_t now, int64_t run_now)
{
	off_cpu(p, t);
	dequeue(t);
	t->f.state = FIFO_BLOCKED;
	end_request(p, t, now, run_now);
}

static void edf_blocked(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct ghost_msg_payload_task_blocked pl;

	ghost_msg_copy_payload(m, &pl, sizeof(pl));
	to_blocked(of(s), et(task), ghost_now_ns(), (int64_t)pl.runtime);
}

static void edf_preempt(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct edf *p = of(s);
	struct edf_task *t = et(task);
	bool ours = t->f.sliced;

	(void)m;
	off_cpu(p, t);
	t->f.sliced = false;
	if (t->f.state == FIFO_QUEUED || t->f.state == FIFO_YIELDING)
		return;
	/* We took its CPU: it waits by its key. Anything else took it (a higher
	 * class, a latch replaced): it resumes first. */
	t->f.prio_boost = !ours;
	enqueue(p, t);
}

static void edf_yield(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct edf *p = of(s);
	struct edf_task *t = et(task);

	(void)m;
	off_cpu(p, t);
	dequeue(t);
	t->f.sliced = false;
	if (!t->has_work) {
		t->f.state = EDF_PAUSED;
		return;
	}
	/* Out for one round; its request and key stay as they were. */
	fifo_rq_push_back(&p->sitout, &t->f);
	t->f.state = FIFO_YIELDING;
}

static void edf_gone(struct ghost_sched *s, struct ghost_task *task, const struct ghost_msg *m)
{
	struct edf *p = of(s);
	struct edf_task *t = et(task);
	int64_t now = ghost_now_ns();

	(void)m;
	off_cpu(p, t);
	dequeue(t);
	/* Its word still holds its final runtime (the base frees it after us). */
	end_request(p, t, now, cpu_time(t, now));
	prio_track_task_gone(&p->track, task);
}

static void edf_resync(struct ghost_sched *s, struct ghost_task *task, enum ghost_task_view view)
{
	struct edf *p = of(s);
	struct edf_task *t = et(task);
	int64_t now = ghost_now_ns();

	switch (view) {
	case GHOST_TASK_VIEW_ONCPU:
		return;
	case GHOST_TASK_VIEW_RUNNABLE:
		off_cpu(p, t);
		t->f.prio_boost = true; /* whatever it lost, it lost through no fault of its own */
		make_ready(p, t, now);
		return;
	case GHOST_TASK_VIEW_BLOCKED:
		to_blocked(p, t, now, cpu_time(t, now));
		return;
	case GHOST_TASK_VIEW_GONE:
		edf_gone(s, task, NULL);
		return;
	}
}

static const struct ghost_sched_ops edf_ops = {
	.task_resync = edf_resync,
	.task_new = edf_new,
	.task_wakeup = edf_wakeup,
	.task_blocked = edf_blocked,
	.task_preempt = edf_preempt,
	.task_yield = edf_yield,
	.task_dead = edf_gone,
	.task_departed = edf_gone,
};

/* ---- the global agent's round ---- */

/*
 * A running request that used up its budget: its key moves a span later
 * (but not past an hour from now: a task that overruns for ever, with
 * nothing to preempt it, does not grow its key without bound), and it gets a
 * new budget from its class's estimate as it is now, so that the requests
 * of one class that overrun share a CPU evenly whenever they began.
 */
static void charge(struct edf *s, struct edf_task *t, int64_t now)
{
	if (!t || !t->in_request || t->f.state != FIFO_ONCPU ||
	    cpu_time(t, now) - t->budget_run0 < t->budget)
		return;
	if (t->key + t->span <= now + EDF_MAX_NS)
		t->key += t->span;
	else if (t->key < now + EDF_MAX_NS)
		t->key = now + EDF_MAX_NS;
	t->budget_run0 += t->budget;
	t->budget = budget_of(s, t); /* from what the class expects now */
	s->postponed++;
}

/* Does waiting task w justify taking the CPU from cur? */
static bool beats(const struct edf *s, const struct edf_task *w, const struct edf_task *cur)
{
	if (w->qos != cur->qos)
		return w->qos > cur->qos;
	return cur->in_request && w->key < cur->key - s->margin;
}

/*
 * The next task for a CPU: the first waiting one if the CPU is vacant,
 * else one that beats cur. Tasks with unread messages or still leaving a
 * CPU sit the round out (keeping their keys).
 */
static struct edf_task *pick(struct edf *s, struct edf_task *cur, bool vacant)
{
	for (;;) {
		struct edf_task *t = s->boosted.root ? s->boosted.root : s->rq.root;
		const struct ghost_status_word *sw;

		if (!vacant && t && !beats(s, t, cur))
			t = s->boosted.root && s->rq.root && beats(s, s->rq.root, cur) ? s->rq.root
										       : NULL;
		if (!t)
			return NULL;
		heap_remove(t);
		sw = t->f.base.sw;
		if (sw && ghost_sw_barrier(sw) == t->f.base.seqnum && !ghost_sw_on_cpu(sw))
			return t;
		fifo_rq_push_back(&s->sitout, &t->f);
		t->f.state = FIFO_YIELDING;
	}
}

static bool open_txn(struct edf *s, int cpu, int64_t target, uint32_t barrier)
{
	struct ghost_txn_opts o = { .target = target,
				    .target_barrier = barrier,
				    /* remote commits do not check the agent barrier */
				    .commit_flags = COMMIT_AT_TXN_COMMIT };

	return ghost_txn_open(s->e, cpu, &o) == 0;
}

/*
 * A commit that failed: the CPU keeps what it had; next (if any) goes first
 * again once the messages are drained, or waits for a message about it.
 */
static void commit_failed(struct edf *s, struct edf_cpu *cs, struct edf_task *next, int32_t state,
			  int64_t now)
{
	switch (policy_failure_of(state)) {
	case POLICY_FAIL_PARK:
		if (next)
			next->f.state = FIFO_BLOCKED;
		return;
	case POLICY_FAIL_CPU:
		cs->refused_until = now + POLICY_CPU_BACKOFF_NS;
		break;
	default:
		break;
	}
	if (next) {
		next->f.prio_boost = true;
		enqueue(s, next);
	}
}

/* What became of cpu's commit. */
static void settle(struct edf *s, int cpu, int64_t now)
{
	struct edf_cpu *cs = &s->cpu[cpu];
	struct edf_task *prev = cs->current, *next = cs->next;
	int32_t state = ghost_txn_state(ghost_enclave_txn(s->e, cpu));

	cs->next = NULL;
	if (state != GHOST_TXN_COMPLETE) {
		commit_failed(s, cs, next, state, now);
		return;
	}
	if (prev) {
		prev->f.sliced = true; /* ours: its TASK_PREEMPT does not boost it */
		if (prev->must_leave)
			s->unschedules++;
		else
			s->preemptions++;
		prev->must_leave = false;
	}
	cs->current = next;
	if (next) {
		next->f.state = FIFO_ONCPU;
		next->f.cpu = cpu;
		next->f.prio_boost = false;
		/* Its item went idle while the commit was on its way. */
		next->must_leave = !next->has_work;
		next->idle_since = now;
	}
}

/*
 * One round; returns how many txns it committed. Pass 0 serves the vacant
 * CPUs: idle ones get the first waiting task, one whose task's item went
 * idle (and whose grace is over) gets it too, or a NULL txn that takes that
 * task off. Pass 1 preempts for waiting tasks that beat the running ones.
 * Everything goes in one group commit.
 */
static int global_schedule(struct edf *s)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(s->e);
	struct ghost_cpuset open;
	int64_t now = ghost_now_ns();
	int cpu, n;

	ghost_cpuset_zero(&open);
	ghost_cpuset_for_each(cpu, cpus)
		charge(s, s->cpu[cpu].current, now);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !s->boosted.root && !s->rq.root)
			break; /* nobody waits to preempt for */
		ghost_cpuset_for_each(cpu, cpus) {
			/* (Not &s->cpu[cpu]: gcc 12 warns of bounds it gets wrong there.) */
			struct edf_cpu *cs = s->cpu + cpu;
			struct edf_task *cur = cs->current, *next;
			bool vacant = !cur || (cur->must_leave &&
					       now - cur->idle_since >= EDF_IDLE_GRACE_NS);

			if (cpu == s->global_cpu || cs->next || ghost_cpuset_test(&open, cpu) ||
			    vacant != (pass == 0) || now < cs->refused_until)
				continue;
			next = (s->boosted.root || s->rq.root) && policy_cpu_available(s->e, cpu)
				       ? pick(s, cur, vacant)
				       : NULL;
			if (!next && !(vacant && cur))
				continue; /* nothing to run, nothing to take off */
			if (!open_txn(s, cpu, next ? next->f.base.gtid : GHOST_NULL_GTID,
				      next ? next->f.base.seqnum : 0)) {
				cs->refused_until = now + POLICY_CPU_BACKOFF_NS;
				if (next)
					enqueue(s, next);
				continue;
			}
			cs->next = next;
			if (next)
				next->f.state = FIFO_ASSIGNED;
			ghost_cpuset_set(&open, cpu);
		}
	}
	n = ghost_cpuset_count(&open);
	if (n)
		ghost_txn_commit_set(s->e, &open);
	now = ghost_now_ns();
	ghost_cpuset_for_each(cpu, &open)
		settle(s, cpu, now);
	/* Whoever sat this round out waits again. */
	while (s->sitout.head)
		enqueue(s, (struct edf_task *)fifo_rq_pop(&s->sitout));
	return n;
}

/* The global agent's round: messages, PrioTable updates, decisions. */
static int edf_round(void *state, bool finishing)
{
	struct edf *s = state;
	int work = ghost_sched_drain(&s->sched, s->chan);

	work += prio_track_poll(&s->track);
	if (!finishing)
		work += global_schedule(s);
	return work;
}

static void edf_loop(void *state, struct ghost_agent *a)
{
	struct edf *s = state;

	policy_central_loop(a, &s->sched.lock, &s->global_cpu, &s->moves, edf_round, s);
}

/* ---- set-up, stats, accessors ---- */

static int edf_init(struct ghost_full_agent *fa, void **state)
{
	const struct edf_config *cfg = ghost_full_agent_policy_config(fa);
	struct edf *s = *state;

	s->e = ghost_full_agent_enclave(fa);
	s->default_deadline = cfg->default_deadline_ns;
	s->margin = cfg->preempt_margin_ns;
	s->weight = cfg->estimate_weight;
	s->overrun = cfg->overrun_factor;
	prio_track_init(&s->track, &s->sched.tasks, offsetof(struct edf_task, link), apply_item, s);
	s->chan = ghost_full_agent_channel(fa, 0);
	s->global_cpu = policy_global_cpu(s->e, &cfg->base);
	return 0;
}

static void edf_fini(void *state)
{
	struct edf *s = state;

	prio_track_fini(&s->track);
}

static uint32_t edf_runnable(void *state)
{
	return queued(state);
}

/* The first EDF_STATS_CLASSES estimates, "pid/wcid 12.5us x7" each, then how many more. */
static int format_estimates(struct edf *s, char *buf, size_t len)
{
	size_t pos = 0;
	int shown = 0, more = 0, n;

	for (struct prio_proc *p = s->track.procs; p; p = p->next) {
		const struct edf_classes *cl = p->policy_data;

		for (uint32_t i = 0; cl && i < cl->n; i++) {
			const struct edf_class *c = &cl->c[i];

			if (!c->known)
				continue;
			if (shown == EDF_STATS_CLASSES) {
				more++;
				continue;
			}
			n = snprintf(buf + pos, len - pos, " %d/%u %.1fus x%llu", (int)p->pid, i,
				     (double)c->estimate / 1000.0, (unsigned long long)c->samples);
			if (n < 0 || (size_t)n >= len - pos)
				return -ENOSPC;
			pos += (size_t)n;
			shown++;
		}
	}
	n = !shown ? snprintf(buf + pos, len - pos, " none")
	    : more ? snprintf(buf + pos, len - pos, " +%d", more)
		   : 0;
	return n < 0 || (size_t)n >= len - pos ? -ENOSPC : (int)pos + n;
}

/* Under the base's lock, after the generic line. */
static int edf_format_stats(void *state, char *buf, size_t len)
{
	struct edf *s = state;
	char est[160];
	int n;

	if (format_estimates(s, est, sizeof(est)) < 0)
		snprintf(est, sizeof(est), " ?");
	n = snprintf(buf, len,
		     "deadline misses %llu of %llu requests | preemptions %llu postponed %llu "
		     "unscheduled %llu | estimates%s | prio tables %d, item updates %llu | "
		     "default deadline %lld us margin %lld us weight %lld%% | global cpu %d moves "
		     "%llu",
		     (unsigned long long)s->misses, (unsigned long long)s->requests,
		     (unsigned long long)s->preemptions, (unsigned long long)s->postponed,
		     (unsigned long long)s->unschedules, est, prio_track_tables(&s->track),
		     (unsigned long long)s->track.item_updates,
		     (long long)(s->default_deadline / 1000), (long long)(s->margin / 1000),
		     (long long)s->weight, __atomic_load_n(&s->global_cpu, __ATOMIC_ACQUIRE),
		     (unsigned long long)s->moves);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int edf_global_cpu(void *state)
{
	return __atomic_load_n(&((struct edf *)state)->global_cpu, __ATOMIC_ACQUIRE);
}

int edf_class_estimate(void *state, pid_t pid, uint32_t wcid, int64_t *estimate_ns,
		       uint64_t *samples)
{
	struct edf *s = state;
	int err = -ENOENT;

	pthread_mutex_lock(&s->sched.lock);
	for (struct prio_proc *p = s->track.procs; p; p = p->next) {
		const struct edf_classes *cl = p->policy_data;

		if (p->pid != pid || !cl || wcid >= cl->n || !cl->c[wcid].known)
			continue;
		*estimate_ns = cl->c[wcid].estimate;
		*samples = cl->c[wcid].samples;
		err = 0;
		break;
	}
	pthread_mutex_unlock(&s->sched.lock);
	return err;
}

int edf_task_view(void *state, int64_t gtid, struct edf_task_view *out)
{
	struct edf *s = state;
	struct edf_task *t;

	pthread_mutex_lock(&s->sched.lock);
	t = et(ghost_task_table_find(&s->sched.tasks, gtid));
	if (t) {
		out->sid = t->link.sid;
		out->has_class = t->has_class;
		out->qos = t->qos;
		out->wcid = t->wcid;
		out->item_deadline = t->item_deadline;
		out->in_request = t->in_request;
		out->queued = t->heap != NULL || t->f.base.queue != NULL;
		out->deadline = t->deadline;
		out->estimate = t->estimate;
		out->key = t->key;
	}
	pthread_mutex_unlock(&s->sched.lock);
	return t ? 0 : -ENOENT;
}

const struct ghost_policy edf_policy = {
	.name = "edf",
	.summary = "Earliest Deadline First: a spinning global agent runs the least laxity first "
		   "within the highest QoS, deadlines and classes from the PrioTable",
	.params = edf_params,
	.config_size = sizeof(struct edf_config),
	.state_size = sizeof(struct edf),
	.sched_ops = &edf_ops,
	.task_size = sizeof(struct edf_task),
	.min_cpus = 2,
	.channels = GHOST_POLICY_CHANNELS_GLOBAL,
	.init = edf_init,
	.fini = edf_fini,
	.agent_loop = edf_loop,
	.runnable = edf_runnable,
	.format_stats = edf_format_stats,
};
