/*
 * sched.c - the scheduler base: the task table and message dispatch.
 *
 * Owns the gtid -> task table (a chained hash whose records come from slabs
 * of policy-sized records, recycled through a free list) and the per-type
 * dispatch of ghOSt messages, with the bookkeeping every policy needs before
 * its callback runs: TASK_NEW creates the task and looks up its status word,
 * every later message advances the task's seqnum (the barrier the policy
 * must pass when it commits), TASK_DEAD / TASK_DEPARTED free the status word
 * and drop the task after the policy saw it.
 *
 * Must never: make a scheduling decision, print, exit or abort on bad input
 * (messages come from shared memory; anything malformed is counted in the
 * stats and refused with a negative errno), or allocate per task (the agent's
 * message loop inserts and removes tasks at kernel speed).
 *
 * Memory is a high-water mark on purpose: slabs and buckets are only given
 * back in ghost_task_table_fini, so a churning workload reaches a steady
 * state with no allocation at all.
 */
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/sched.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>
#include <ghost/enclave.h>
#include <ghost/trace.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MIN_BUCKETS 64U
#define TABLE_MAX_BUCKETS (1U << 31)
#define CHUNK_RECORDS	  256U
/* Records are 16-byte aligned so a policy may put any scalar type in its part. */
#define RECORD_ALIGN	  16U
/* Bounds a slab (CHUNK_RECORDS records) to 16 MiB: no sane policy task is bigger. */
#define RECORD_MAX	  65536U

/* ---- Task table ---------------------------------------------------------------------------- */

/*
 * gtids are (tid << 41) | seq with seq from one global counter, so the low
 * bits alone are not evenly spread across a table that also holds old tasks:
 * mix all 64 bits (the splitmix64 finalizer) and index with the low bits,
 * which also lets a doubling split bucket i into i and i + n in place.
 */
static inline uint64_t gtid_hash(int64_t gtid)
{
	return ghost_mix64((uint64_t)gtid);
}

static inline struct ghost_task **bucket_of(const struct ghost_task_table *t, int64_t gtid)
{
	return &t->buckets[gtid_hash(gtid) & (t->nbuckets - 1)];
}

int ghost_task_table_init(struct ghost_task_table *t, size_t task_size)
{
	if (!t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	if (task_size < sizeof(struct ghost_task) || task_size > RECORD_MAX)
		return -EINVAL;
	t->task_size = (task_size + RECORD_ALIGN - 1) & ~(size_t)(RECORD_ALIGN - 1);
	t->nbuckets = TABLE_MIN_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		memset(t, 0, sizeof(*t));
		return -ENOMEM;
	}
	return 0;
}

void ghost_task_table_fini(struct ghost_task_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->nchunks; i++)
		free(t->chunks[i]);
	free(t->chunks);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

struct ghost_task *ghost_task_table_find(const struct ghost_task_table *t, int64_t gtid)
{
	struct ghost_task *task;

	if (!t || !t->buckets)
		return NULL;
	for (task = *bucket_of(t, gtid); task; task = task->hash_next)
		if (task->gtid == gtid)
			return task;
	return NULL;
}

/* A fresh record: recycled if possible, else the next one of the newest slab. */
static struct ghost_task *record_alloc(struct ghost_task_table *t)
{
	struct ghost_task *rec = t->free_list;

	if (rec) {
		/* Free records are chained through hash_next. */
		t->free_list = rec->hash_next;
		return rec;
	}
	if (t->nchunks == 0 || t->chunk_used == CHUNK_RECORDS) {
		void *chunk;

		if (t->nchunks == t->chunk_cap) {
			uint32_t cap = t->chunk_cap ? t->chunk_cap * 2 : 8;
			void **chunks = realloc(t->chunks, cap * sizeof(*chunks));

			if (!chunks)
				return NULL;
			t->chunks = chunks;
			t->chunk_cap = cap;
		}
		chunk = aligned_alloc(RECORD_ALIGN, CHUNK_RECORDS * t->task_size);
		if (!chunk)
			return NULL;
		t->chunks[t->nchunks++] = chunk;
		t->chunk_used = 0;
	}
	rec = (struct ghost_task *)((char *)t->chunks[t->nchunks - 1] +
				    (size_t)t->chunk_used * t->task_size);
	t->chunk_used++;
	return rec;
}

/*
 * Doubles the bucket array and splits each chain in place: with the low
 * bits as index, a task of bucket i stays there or moves to i + old size.
 * Failing to grow is harmless (chains get longer), so it is not reported.
 */
static void table_grow(struct ghost_task_table *t)
{
	uint32_t old = t->nbuckets;
	struct ghost_task **b;

	if (old >= TABLE_MAX_BUCKETS)
		return;
	b = realloc(t->buckets, 2 * (size_t)old * sizeof(*b));
	if (!b)
		return;
	memset(b + old, 0, old * sizeof(*b));
	t->buckets = b;
	t->nbuckets = 2 * old;
	for (uint32_t i = 0; i < old; i++) {
		struct ghost_task **pp = &b[i], **hi = &b[i + old];

		while (*pp) {
			struct ghost_task *task = *pp;

			if (gtid_hash(task->gtid) & old) {
				*pp = task->hash_next;
				task->hash_next = NULL;
				*hi = task;
				hi = &task->hash_next;
			} else {
				pp = &task->hash_next;
			}
		}
	}
}

struct ghost_task *ghost_task_table_insert(struct ghost_task_table *t, int64_t gtid)
{
	struct ghost_task **head, *task;

	if (!t || !t->buckets) {
		errno = EINVAL;
		return NULL;
	}
	if (ghost_task_table_find(t, gtid)) {
		errno = EEXIST;
		return NULL;
	}
	task = record_alloc(t);
	if (!task) {
		errno = ENOMEM;
		return NULL;
	}
	memset(task, 0, t->task_size);
	task->gtid = gtid;
	head = bucket_of(t, gtid);
	task->hash_next = *head;
	*head = task;
	if (++t->count > t->nbuckets)
		table_grow(t);
	return task;
}

void ghost_task_table_remove(struct ghost_task_table *t, struct ghost_task *task)
{
	struct ghost_task **pp;

	if (!t || !t->buckets || !task)
		return;
	/* A freed record on a run queue would be a dangling link. */
	ghost_task_queue_remove(task->queue, task);
	for (pp = bucket_of(t, task->gtid); *pp; pp = &(*pp)->hash_next) {
		if (*pp == task) {
			*pp = task->hash_next;
			task->hash_next = t->free_list;
			t->free_list = task;
			t->count--;
			return;
		}
	}
	/* Not ours (a policy bug): leave the table alone rather than corrupt it. */
	ghost_warn("task table: remove of unknown task %p (gtid %lld)", (void *)task,
		   (long long)task->gtid);
}

void ghost_task_table_for_each(struct ghost_task_table *t,
			       void (*fn)(struct ghost_task *task, void *ctx), void *ctx)
{
	if (!t || !t->buckets || !fn)
		return;
	for (uint32_t i = 0; i < t->nbuckets; i++) {
		struct ghost_task *task = t->buckets[i], *next;

		for (; task; task = next) {
			next = task->hash_next;
			fn(task, ctx);
		}
	}
}

/* ---- Scheduler base ------------------------------------------------------------------------ */

/* A task's CPU time by its status word, counting a stint on a CPU still under way. */
static uint64_t sw_runtime(const struct ghost_status_word *sw, int64_t now)
{
	uint64_t run;
	int64_t since;

	if (!sw)
		return 0;
	run = __atomic_load_n(&sw->runtime, __ATOMIC_RELAXED);
	since = __atomic_load_n(&sw->switch_time, __ATOMIC_RELAXED);
	if ((__atomic_load_n(&sw->flags, __ATOMIC_ACQUIRE) & GHOST_SW_TASK_ONCPU) && since > 0 &&
	    now > since)
		run += (uint64_t)(now - since);
	return run;
}

struct runtime_sum {
	int64_t now;
	uint64_t total;
};

static void add_runtime(struct ghost_task *task, void *ctx)
{
	struct runtime_sum *sum = ctx;

	sum->total += sw_runtime(task->sw, sum->now);
}

uint64_t ghost_sched_task_runtime_ns(struct ghost_sched *s, int64_t now_ns)
{
	struct runtime_sum sum = { .now = now_ns };

	if (!s)
		return 0;
	ghost_task_table_for_each(&s->tasks, add_runtime, &sum);
	return s->stats.retired_runtime_ns + sum.total;
}

static const struct ghost_sched_ops no_ops;

int ghost_sched_init(struct ghost_sched *s, struct ghost_enclave *e,
		     const struct ghost_sched_ops *ops, void *policy, size_t task_size)
{
	int err;

	if (!s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	/* 0 = the policy keeps no per-task state of its own. */
	if (task_size == 0)
		task_size = sizeof(struct ghost_task);
	err = ghost_task_table_init(&s->tasks, task_size);
	if (err)
		return err;
	s->enclave = e;
	s->ops = ops ? ops : &no_ops;
	s->policy = policy;
	pthread_mutex_init(&s->lock, NULL);
	return 0;
}

void ghost_sched_fini(struct ghost_sched *s)
{
	if (!s)
		return;
	/* Live tasks keep their status words: the kernel frees them with the enclave. */
	/* Only an initialised base has a table (and a lock) to finish. */
	if (!s->tasks.buckets)
		return;
	ghost_task_table_fini(&s->tasks);
	pthread_mutex_destroy(&s->lock);
	s->ops = &no_ops;
}

typedef void (*task_cb)(struct ghost_sched *s, struct ghost_task *t, const struct ghost_msg *m);
typedef void (*cpu_cb)(struct ghost_sched *s, const struct ghost_msg *m);

/*
 * The smallest payload each type must carry: what the base itself reads
 * (the gtid or cpu at offset 0, TASK_NEW's sw_info). Callbacks that read
 * further copy with ghost_msg_copy_payload(), which zero-fills, so shorter
 * messages of older ABIs stay usable. 0 = not a type we dispatch.
 */
static uint32_t min_payload(uint16_t type)
{
	switch (type) {
	case MSG_TASK_NEW:
		return offsetof(struct ghost_msg_payload_task_new, sw_info) +
		       sizeof(struct ghost_sw_info);
	case MSG_TASK_DEAD:
	case MSG_TASK_BLOCKED:
	case MSG_TASK_WAKEUP:
	case MSG_TASK_PREEMPT:
	case MSG_TASK_YIELD:
	case MSG_TASK_DEPARTED:
	case MSG_TASK_SWITCHTO:
	case MSG_TASK_AFFINITY_CHANGED:
	case MSG_TASK_ON_CPU:
	case MSG_TASK_PRIORITY_CHANGED:
	case MSG_TASK_LATCH_FAILURE:
		return sizeof(int64_t);
	case MSG_CPU_TICK:
	case MSG_CPU_TIMER_EXPIRED:
	case MSG_CPU_NOT_IDLE:
	case MSG_CPU_AVAILABLE:
	case MSG_CPU_BUSY:
	case MSG_CPU_AGENT_BLOCKED:
	case MSG_CPU_AGENT_WAKEUP:
		return sizeof(int);
	default:
		return 0;
	}
}

static task_cb task_callback(const struct ghost_sched_ops *ops, uint16_t type)
{
	switch (type) {
	case MSG_TASK_NEW:
		return ops->task_new;
	case MSG_TASK_DEAD:
		return ops->task_dead;
	case MSG_TASK_BLOCKED:
		return ops->task_blocked;
	case MSG_TASK_WAKEUP:
		return ops->task_wakeup;
	case MSG_TASK_PREEMPT:
		return ops->task_preempt;
	case MSG_TASK_YIELD:
		return ops->task_yield;
	case MSG_TASK_DEPARTED:
		return ops->task_departed;
	case MSG_TASK_SWITCHTO:
		return ops->task_switchto;
	case MSG_TASK_AFFINITY_CHANGED:
		return ops->task_affinity_changed;
	case MSG_TASK_ON_CPU:
		return ops->task_on_cpu;
	case MSG_TASK_PRIORITY_CHANGED:
		return ops->task_priority_changed;
	case MSG_TASK_LATCH_FAILURE:
		return ops->task_latch_failure;
	default:
		return NULL;
	}
}

static cpu_cb cpu_callback(const struct ghost_sched_ops *ops, uint16_t type)
{
	switch (type) {
	case MSG_CPU_TICK:
		return ops->cpu_tick;
	case MSG_CPU_TIMER_EXPIRED:
		return ops->cpu_timer_expired;
	case MSG_CPU_NOT_IDLE:
		return ops->cpu_not_idle;
	case MSG_CPU_AVAILABLE:
		return ops->cpu_available;
	case MSG_CPU_BUSY:
		return ops->cpu_busy;
	case MSG_CPU_AGENT_BLOCKED:
		return ops->cpu_agent_blocked;
	case MSG_CPU_AGENT_WAKEUP:
		return ops->cpu_agent_wakeup;
	default:
		return NULL;
	}
}

static int dispatch_task_new(struct ghost_sched *s, const struct ghost_msg *m, int64_t gtid)
{
	struct ghost_task *t = ghost_task_table_insert(&s->tasks, gtid);

	if (!t) {
		if (errno == EEXIST) {
			s->stats.duplicate_new++;
			ghost_dbg("TASK_NEW for known gtid %lld", (long long)gtid);
			return -EEXIST;
		}
		ghost_warn("no memory for task gtid %lld", (long long)gtid);
		return -ENOMEM;
	}
	t->seqnum = m->seqnum;
	memcpy(&t->sw_info,
	       (const char *)ghost_msg_payload(m) +
		       offsetof(struct ghost_msg_payload_task_new, sw_info),
	       sizeof(t->sw_info));
	if (s->enclave) {
		t->sw = ghost_sw_lookup(s->enclave, &t->sw_info);
		if (!t->sw)
			ghost_dbg("gtid %lld: no status word at region %u index %u: %s",
				  (long long)gtid, t->sw_info.id, t->sw_info.index,
				  ghost_strerror(-errno));
	}
	if (s->ops->task_new)
		s->ops->task_new(s, t, m);
	return 0;
}

static int dispatch(struct ghost_sched *s, const struct ghost_msg *m)
{
	uint32_t need;
	struct ghost_task *t;
	int64_t gtid;
	task_cb cb;
	int ret = 0;

	s->stats.msgs_total++;
	need = min_payload(m->type);
	if (need == 0 || m->length < sizeof(*m) + need) {
		s->stats.bad_msgs++;
		ghost_dbg("bad message: type %u (%s) length %u", m->type,
			  ghost_msg_type_name(m->type), m->length);
		return -EINVAL;
	}
	/* Only known types get here, and they are all < 256. */
	s->stats.msgs[m->type]++;

	if (ghost_msg_is_cpu(m->type)) {
		cpu_cb ccb = cpu_callback(s->ops, m->type);

		if (ccb)
			ccb(s, m);
		return 0;
	}

	gtid = ghost_msg_gtid(m);
	if (m->type == MSG_TASK_NEW)
		return dispatch_task_new(s, m, gtid);

	t = ghost_task_table_find(&s->tasks, gtid);
	if (!t) {
		s->stats.bad_msgs++;
		ghost_dbg("%s for unknown gtid %lld", ghost_msg_type_name(m->type),
			  (long long)gtid);
		return -ENOENT;
	}
	/*
	 * Barriers only grow (wrapping at 2^32): a message that does not
	 * advance the task's seqnum is older than what we know (it can only
	 * happen after a resynchronisation took the barrier from the status
	 * word). Acting on it would undo newer state, so it is counted and
	 * dropped.
	 */
	if ((int32_t)(m->seqnum - t->seqnum) <= 0) {
		s->stats.seqnum_errors++;
		ghost_dbg("%s gtid %lld: seqnum %u after %u, dropped", ghost_msg_type_name(m->type),
			  (long long)gtid, m->seqnum, t->seqnum);
		return -ERANGE;
	}
	/* Before the callback, so a commit made from it carries this barrier. */
	t->seqnum = m->seqnum;
	cb = task_callback(s->ops, m->type);
	if (cb)
		cb(s, t, m);

	if (m->type == MSG_TASK_DEAD || m->type == MSG_TASK_DEPARTED) {
		/* Off every CPU by now: its word holds its final runtime. */
		s->stats.retired_runtime_ns += sw_runtime(t->sw, 0);
		if (s->enclave) {
			int err = ghost_sw_free(s->enclave, &t->sw_info);

			if (err < 0)
				ghost_dbg("gtid %lld: freeing status word %u/%u: %s",
					  (long long)gtid, t->sw_info.id, t->sw_info.index,
					  ghost_strerror(err));
		}
		ghost_task_table_remove(&s->tasks, t);
	}
	return ret;
}

int ghost_sched_dispatch(struct ghost_sched *s, const struct ghost_msg *m)
{
	struct ghost_trace *tr;
	int64_t t0;
	int ret;

	if (!s || !m)
		return -EINVAL;
	tr = ghost_enclave_tracer(s->enclave);
	if (__builtin_expect(!tr, 1))
		return dispatch(s, m);
	/* Timed before the callback: a commit it makes comes after the message. */
	t0 = ghost_now_ns();
	ret = dispatch(s, m);
	ghost_trace_msg(tr, t0, m, ret, 0);
	return ret;
}

int ghost_sched_drain(struct ghost_sched *s, struct ghost_channel *c)
{
	const struct ghost_msg *m;
	uint32_t lost;
	int n = 0;

	if (!s || !c || !c->ring)
		return -EINVAL;
	while ((m = ghost_channel_peek(c))) {
		if (!ghost_channel_msg_valid(c, m)) {
			struct ghost_trace *tr = ghost_enclave_tracer(s->enclave);

			if (tr)
				ghost_trace_msg(tr, ghost_now_ns(), m, -EINVAL,
						GHOST_TRACE_F_MALFORMED);
			s->stats.msgs_total++;
			s->stats.bad_msgs++;
			ghost_dbg("malformed message in ring: type %u length %u", m->type,
				  m->length);
			ghost_channel_consume(c, m);
			continue;
		}
		/* Errors are counted in stats; one bad message must not stall the rest. */
		(void)ghost_sched_dispatch(s, m);
		ghost_channel_consume(c, m);
		if (n < INT32_MAX)
			n++;
	}
	/*
	 * Lost messages are dealt with after what the ring still held was
	 * read, so the policy's resynchronisation sees the newest state.
	 */
	lost = ghost_channel_overflow(c);
	if (lost) {
		s->stats.overflows += lost;
		if (s->stats.overflows == lost)
			ghost_warn("a channel lost %u messages to a full ring: resynchronising",
				   lost);
		if (s->ops->channel_overflow)
			s->ops->channel_overflow(s, c, lost);
		else
			(void)ghost_sched_resync(s, c);
	}
	return n;
}

/* ---- Run queues ---------------------------------------------------------------------------- */

void ghost_task_queue_push(struct ghost_task_queue *q, struct ghost_task *t, bool front)
{
	if (!q || !t)
		return;
	if (t->queue)
		ghost_task_queue_remove(t->queue, t);
	t->queue = q;
	t->q_prev = front ? NULL : q->tail;
	t->q_next = front ? q->head : NULL;
	*(t->q_prev ? &t->q_prev->q_next : &q->head) = t;
	*(t->q_next ? &t->q_next->q_prev : &q->tail) = t;
	q->count++;
}

void ghost_task_queue_remove(struct ghost_task_queue *q, struct ghost_task *t)
{
	if (!q || !t || t->queue != q)
		return;
	*(t->q_prev ? &t->q_prev->q_next : &q->head) = t->q_next;
	*(t->q_next ? &t->q_next->q_prev : &q->tail) = t->q_prev;
	t->q_prev = t->q_next = NULL;
	t->queue = NULL;
	q->count--;
}

struct ghost_task *ghost_task_queue_pop(struct ghost_task_queue *q)
{
	struct ghost_task *t = q ? q->head : NULL;

	if (t)
		ghost_task_queue_remove(q, t);
	return t;
}

/* ---- After an overflow ----------------------------------------------------------------------- */

struct adopt_ctx {
	struct ghost_sched *s;
	struct ghost_channel *c;
	int adopted;
};

static int adopt_one(const struct ghost_status_word *sw, const struct ghost_sw_info *info,
		     void *arg)
{
	struct adopt_ctx *ac = arg;
	struct {
		struct ghost_msg hdr;
		struct ghost_msg_payload_task_new p;
	} __attribute__((packed, aligned(4))) msg;
	struct ghost_sw_snapshot sn;
	int status = -ESTALE;

	for (int tries = 0; tries < 2 && status == -ESTALE; tries++) {
		ghost_sw_read(sw, &sn);
		if (sn.flags & (GHOST_SW_TASK_IS_AGENT | GHOST_SW_F_CANFREE) ||
		    !(sn.flags & GHOST_SW_F_INUSE) || sn.gtid <= 0 ||
		    ghost_task_table_find(&ac->s->tasks, sn.gtid))
			return 0;
		status = ghost_channel_associate(ac->c, sn.gtid, sn.barrier);
	}
	/*
	 * Gone, still moving, or its TASK_NEW is still to come: nothing to add.
	 * (ALREADY is no reason to wait: the messages it already sent to this
	 * queue may be the ones that were lost.)
	 */
	if (status < 0 || (status & GHOST_ASSOC_SF_BRAND_NEW))
		return 0;
	memset(&msg, 0, sizeof(msg));
	msg.hdr.type = MSG_TASK_NEW;
	msg.hdr.length = sizeof(msg);
	msg.hdr.seqnum = sn.barrier;
	msg.p.gtid = (uint64_t)sn.gtid;
	msg.p.runtime = sn.runtime;
	msg.p.runnable = (sn.flags & GHOST_SW_TASK_RUNNABLE) != 0;
	msg.p.sw_info = *info;
	if (ghost_sched_dispatch(ac->s, &msg.hdr) == 0)
		ac->adopted++;
	return 0;
}

int ghost_sched_adopt(struct ghost_sched *s, struct ghost_channel *c)
{
	struct adopt_ctx ac = { .s = s, .c = c };
	int err;

	if (!s || !s->enclave || !c)
		return -EINVAL;
	err = ghost_sw_for_each_in_use(s->enclave, adopt_one, &ac);
	return err < 0 ? err : ac.adopted;
}

/*
 * A policy without task_resync hears what the overflow hid as the message
 * its handlers already take: TASK_WAKEUP for a runnable task, TASK_BLOCKED
 * for a blocked one, TASK_DEPARTED for one that is gone (so they must take
 * a message that repeats what they know). Every task payload begins with
 * the gtid; the rest is zero.
 */
static void resync_by_message(struct ghost_sched *s, struct ghost_task *task,
			      enum ghost_task_view view)
{
	struct {
		struct ghost_msg hdr;
		uint64_t payload[8];
	} __attribute__((packed, aligned(4))) msg;
	task_cb cb;

	if (view == GHOST_TASK_VIEW_ONCPU)
		return;
	memset(&msg, 0, sizeof(msg));
	msg.hdr.type = view == GHOST_TASK_VIEW_RUNNABLE	 ? MSG_TASK_WAKEUP
		       : view == GHOST_TASK_VIEW_BLOCKED ? MSG_TASK_BLOCKED
							 : MSG_TASK_DEPARTED;
	msg.hdr.length = sizeof(msg);
	msg.hdr.seqnum = task->seqnum;
	msg.payload[0] = (uint64_t)task->gtid;
	cb = task_callback(s->ops, msg.hdr.type);
	if (cb)
		cb(s, task, &msg.hdr);
}

struct resync_ctx {
	struct ghost_sched *s;
	struct ghost_task **gone; /* room for every task of the table */
	uint32_t ngone;
};

static void resync_one(struct ghost_task *task, void *arg)
{
	struct resync_ctx *rc = arg;
	struct ghost_sw_snapshot sn;
	enum ghost_task_view view;

	if (!task->sw)
		return;
	ghost_sw_read(task->sw, &sn);
	if (!(sn.flags & GHOST_SW_F_INUSE) || (sn.flags & GHOST_SW_F_CANFREE) ||
	    sn.gtid != task->gtid)
		view = GHOST_TASK_VIEW_GONE;
	else if (sn.flags & GHOST_SW_TASK_ONCPU)
		view = GHOST_TASK_VIEW_ONCPU;
	else if (sn.flags & GHOST_SW_TASK_RUNNABLE)
		view = GHOST_TASK_VIEW_RUNNABLE;
	else
		view = GHOST_TASK_VIEW_BLOCKED;
	if (view == GHOST_TASK_VIEW_GONE)
		rc->gone[rc->ngone++] = task;
	else
		task->seqnum = sn.barrier;
	if (rc->s->ops->task_resync)
		rc->s->ops->task_resync(rc->s, task, view);
	else
		resync_by_message(rc->s, task, view);
}

int ghost_sched_resync(struct ghost_sched *s, struct ghost_channel *adopt_into)
{
	struct resync_ctx rc = { .s = s };
	int n, cpu;

	if (!s || !s->enclave || !adopt_into)
		return -EINVAL;
	rc.gone = calloc(s->tasks.count ? s->tasks.count : 1, sizeof(*rc.gone));
	if (!rc.gone)
		return -ENOMEM;
	ghost_task_table_for_each(&s->tasks, resync_one, &rc);
	/* The table cannot change while it is walked: the gone ones go after. */
	for (uint32_t i = 0; i < rc.ngone; i++) {
		struct ghost_task *t = rc.gone[i];

		/* Account what it ran while the word is still its own (freed, it
		 * may be reused). */
		if (ghost_sw_gtid(t->sw) == t->gtid)
			s->stats.retired_runtime_ns += sw_runtime(t->sw, 0);
		if (ghost_sw_gtid(t->sw) == t->gtid && ghost_sw_can_free(t->sw))
			ghost_sw_free(s->enclave, &t->sw_info);
		ghost_task_table_remove(&s->tasks, t);
	}
	free(rc.gone);
	n = ghost_sched_adopt(s, adopt_into);
	/*
	 * What the resync learnt may have queued work for any CPU, and the agent
	 * that ran it is only one of them: wake them all (an overflow is rare; an
	 * agent asleep beside a queued task is a stall).
	 */
	ghost_cpuset_for_each(cpu, ghost_enclave_cpus(s->enclave))
		ghost_txn_ping(s->enclave, cpu);
	return n;
}

void ghost_sched_fill_stats(struct ghost_sched *s, struct ghost_policy_stats *out)
{
	if (!s || !out)
		return;
	out->tasks = s->tasks.count;
	out->task_runtime_ns = ghost_sched_task_runtime_ns(s, ghost_now_ns());
	out->msgs = s->stats.msgs_total;
	out->seqnum_errors = s->stats.seqnum_errors;
	out->bad_msgs = s->stats.bad_msgs;
}
