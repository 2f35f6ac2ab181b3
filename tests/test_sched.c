/*
 * test_sched.c - the scheduler base: task table under churn, its memory per
 * task, dispatch of every message type, the seqnum rule, and draining a ring.
 */
#include "test.h"

#include <ghost/sched.h>
#include <ghost/status.h>

#include "ring.h"

#include <stdalign.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Test doubles --------------------------------------------------------------------------- */

/*
 * TEST DOUBLES for the status-word functions of src/status.c, which this
 * program does not link. They only record what the base asked for; the
 * dispatch tests hand the base a fake enclave pointer that nothing
 * dereferences.
 */
static struct ghost_status_word fake_sw;
static struct ghost_sw_info last_lookup, last_free;
static int nlookups, nfrees;
static int free_result;

const struct ghost_status_word *ghost_sw_lookup(struct ghost_enclave *e,
						const struct ghost_sw_info *info)
{
	(void)e;
	nlookups++;
	last_lookup = *info;
	if (info->id == 0xdead) {
		errno = ENOENT;
		return NULL;
	}
	return &fake_sw;
}

int ghost_sw_free(struct ghost_enclave *e, const struct ghost_sw_info *info)
{
	(void)e;
	nfrees++;
	last_free = *info;
	return free_result;
}

/* The base adopts tasks from the words in use after an overflow: here there are none. */
int ghost_sw_for_each_in_use(struct ghost_enclave *e, ghost_sw_visit_fn fn, void *ctx)
{
	(void)e;
	(void)fn;
	(void)ctx;
	return 0;
}

/* ---- Helpers -------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static int64_t make_gtid(uint64_t tid, uint64_t seq)
{
	return (int64_t)((tid << GHOST_GTID_SEQ_BITS) | seq);
}

/* ---- Task table ----------------------------------------------------------------------------- */

struct big_task {
	struct ghost_task base;
	uint64_t mark; /* gtid, to catch records that overlap */
	char pad[128 - sizeof(struct ghost_task) - 2 * sizeof(uint64_t)];
	uint64_t tail_mark; /* last 8 bytes of the record */
};
_Static_assert(sizeof(struct big_task) == 128, "policy task of 128 bytes");

static void count_cb(struct ghost_task *task, void *ctx)
{
	uint64_t *acc = ctx;

	acc[0]++;
	acc[1] += (uint64_t)task->gtid;
}

/* Records per slab, found from the outside: how many inserts fill the first slab. */
static uint32_t records_per_chunk(size_t task_size)
{
	struct ghost_task_table t;
	uint32_t n = 0;

	CHECK_OK(ghost_task_table_init(&t, task_size));
	for (;;) {
		CHECK(ghost_task_table_insert(&t, make_gtid(n + 1, 1)));
		if (t.nchunks > 1)
			break;
		n++;
	}
	ghost_task_table_fini(&t);
	return n;
}

static size_t table_bytes(const struct ghost_task_table *t, uint32_t per_chunk)
{
	return (size_t)t->nchunks * per_chunk * t->task_size +
	       (size_t)t->nbuckets * sizeof(*t->buckets) + (size_t)t->chunk_cap * sizeof(void *);
}

static void check_all(struct ghost_task_table *t, const int64_t *gtids, const char *live, int n,
		      const char *phase)
{
	uint64_t acc[2] = { 0, 0 }, want_sum = 0;
	uint32_t nlive = 0;

	for (int i = 0; i < n; i++) {
		struct ghost_task *task = ghost_task_table_find(t, gtids[i]);

		if (live[i]) {
			struct big_task *bt = (struct big_task *)task;

			CHECK_MSG(task, "%s: gtid %d missing", phase, i);
			CHECK_EQ(task->gtid, gtids[i]);
			CHECK_EQ(bt->mark, (uint64_t)gtids[i]);
			CHECK_EQ(bt->tail_mark, ~(uint64_t)gtids[i]);
			CHECK_EQ((uintptr_t)task % 16, 0);
			nlive++;
			want_sum += (uint64_t)gtids[i];
		} else {
			CHECK_MSG(!task, "%s: removed gtid %d still found", phase, i);
		}
	}
	CHECK_EQ(t->count, nlive);
	ghost_task_table_for_each(t, count_cb, acc);
	CHECK_EQ(acc[0], nlive);
	CHECK_EQ(acc[1], want_sum);
	/* The table never lets chains grow past one task per bucket on average. */
	CHECK(t->count <= t->nbuckets);
	CHECK((t->nbuckets & (t->nbuckets - 1)) == 0);
}

static void insert_marked(struct ghost_task_table *t, int64_t gtid)
{
	struct big_task *bt = (struct big_task *)ghost_task_table_insert(t, gtid);

	CHECK_MSG(bt, "insert %lld: %s", (long long)gtid, strerror(errno));
	CHECK_EQ(bt->base.gtid, gtid);
	/* A record must come back zeroed, recycled or not. */
	CHECK_EQ(bt->base.seqnum, 0);
	CHECK(bt->base.sw == NULL);
	CHECK_EQ(bt->mark, 0);
	CHECK_EQ(bt->tail_mark, 0);
	bt->mark = (uint64_t)gtid;
	memset(bt->pad, 0xa5, sizeof(bt->pad));
	bt->tail_mark = ~(uint64_t)gtid;
}

static void test_table_churn(void)
{
	enum { N = 100000 };
	struct ghost_task_table t;
	int64_t *gtids = calloc(N, sizeof(*gtids));
	char *live = calloc(N, 1);
	uint32_t chunks_before;
	int removed = 0;

	CHECK(gtids && live);
	CHECK_ERR(ghost_task_table_init(&t, sizeof(struct ghost_task) - 1), EINVAL);
	CHECK_OK(ghost_task_table_init(&t, sizeof(struct big_task)));
	CHECK_EQ(t.task_size, 128);
	CHECK_EQ(t.nbuckets, 64);

	/* Real gtid shape: distinct tids, seq from one global counter. */
	for (int i = 0; i < N; i++) {
		gtids[i] = make_gtid(1 + (uint64_t)i * 37 % 4000000, 1000 + (uint64_t)i);
		insert_marked(&t, gtids[i]);
		live[i] = 1;
	}
	check_all(&t, gtids, live, N, "after insert");

	/* Duplicates are refused and do not disturb the table. */
	for (int i = 0; i < N; i += 997) {
		errno = 0;
		CHECK(ghost_task_table_insert(&t, gtids[i]) == NULL);
		CHECK_EQ(errno, EEXIST);
	}
	CHECK_EQ(t.count, N);

	/* Remove a random half. */
	for (int i = 0; i < N; i++) {
		if (rnd() & 1) {
			ghost_task_table_remove(&t, ghost_task_table_find(&t, gtids[i]));
			live[i] = 0;
			removed++;
		}
	}
	CHECK(removed > N / 3 && removed < 2 * N / 3);
	check_all(&t, gtids, live, N, "after remove");

	/* Re-insert them: every record must come from the free list. */
	chunks_before = t.nchunks;
	for (int i = 0; i < N; i++) {
		if (!live[i]) {
			insert_marked(&t, gtids[i]);
			live[i] = 1;
		}
	}
	CHECK_EQ(t.nchunks, chunks_before);
	check_all(&t, gtids, live, N, "after re-insert");

	/* Remove everything, then refill with new gtids: still no new slab. */
	for (int i = 0; i < N; i++) {
		ghost_task_table_remove(&t, ghost_task_table_find(&t, gtids[i]));
		live[i] = 0;
	}
	check_all(&t, gtids, live, N, "after remove all");
	CHECK_EQ(t.count, 0);
	for (int i = 0; i < N; i++) {
		gtids[i] = make_gtid(1 + (uint64_t)i, 500000 + (uint64_t)i);
		insert_marked(&t, gtids[i]);
		live[i] = 1;
	}
	CHECK_EQ(t.nchunks, chunks_before);
	check_all(&t, gtids, live, N, "after refill");

	/* Removing a record twice or one never inserted must not corrupt the table. */
	{
		struct big_task stray;

		memset(&stray, 0, sizeof(stray));
		stray.base.gtid = gtids[0];
		ghost_task_table_remove(&t, &stray.base);
		ghost_task_table_remove(&t, NULL);
		CHECK_EQ(t.count, N);
		check_all(&t, gtids, live, N, "after stray remove");
	}

	ghost_task_table_fini(&t);
	CHECK(t.buckets == NULL && t.chunks == NULL && t.count == 0);
	ghost_task_table_fini(&t); /* twice is harmless */
	free(gtids);
	free(live);
}

static void test_table_memory(void)
{
	enum { N = 10000 };
	struct ghost_task_table t;
	uint32_t per_chunk = records_per_chunk(128);
	size_t bytes;
	double per_task;

	CHECK(per_chunk >= 16);
	CHECK_OK(ghost_task_table_init(&t, 128));
	for (int i = 0; i < N; i++)
		CHECK(ghost_task_table_insert(&t, make_gtid(100 + (uint64_t)i, 7 + (uint64_t)i)));
	bytes = table_bytes(&t, per_chunk);
	per_task = (double)bytes / N;
	printf("task table: %u records/slab, %u slabs, %u buckets: %zu bytes for %d tasks = "
	       "%.1f bytes/task (task_size 128)\n",
	       per_chunk, t.nchunks, t.nbuckets, bytes, N, per_task);
	CHECK_MSG(per_task <= 256.0, "%.1f bytes per task", per_task);
	ghost_task_table_fini(&t);

	/* Odd sizes round up to 16 bytes; records stay 16-byte aligned. */
	CHECK_OK(ghost_task_table_init(&t, sizeof(struct ghost_task) + 1));
	CHECK_EQ(t.task_size % 16, 0);
	CHECK(t.task_size >= sizeof(struct ghost_task) + 1);
	CHECK(t.task_size < sizeof(struct ghost_task) + 17);
	for (int i = 0; i < 1000; i++) {
		struct ghost_task *task;

		task = ghost_task_table_insert(&t, make_gtid(9, 1 + (uint64_t)i));
		CHECK(task);
		CHECK_EQ((uintptr_t)task % 16, 0);
	}
	ghost_task_table_fini(&t);
}

/* ---- Dispatch ------------------------------------------------------------------------------- */

struct seen {
	int calls;
	uint16_t type; /* which callback ran, as the MSG_* it serves */
	struct ghost_task *task;
	int64_t gtid;	      /* from the task record, at callback time */
	uint32_t task_seqnum; /* the task's seqnum while its callback ran */
	int cpu;
	uint16_t length;
	int still_in_table; /* the task was findable during its callback */
	uint16_t order[16];
	int norder;
	uint32_t lost;
	struct ghost_channel *lost_channel;
};
static struct seen seen;

static void record_task(uint16_t type, struct ghost_sched *s, struct ghost_task *t,
			const struct ghost_msg *m)
{
	seen.calls++;
	seen.type = type;
	seen.task = t;
	seen.gtid = t->gtid;
	seen.task_seqnum = t->seqnum;
	seen.length = m->length;
	seen.cpu = -1;
	seen.still_in_table = ghost_task_table_find(&s->tasks, t->gtid) == t;
	CHECK_EQ(ghost_msg_gtid(m), t->gtid);
	CHECK_EQ(m->type, type);
	if (seen.norder < 16)
		seen.order[seen.norder++] = type;
}

static void record_cpu(uint16_t type, struct ghost_sched *s, const struct ghost_msg *m)
{
	(void)s;
	seen.calls++;
	seen.type = type;
	seen.task = NULL;
	seen.gtid = 0;
	seen.cpu = ghost_msg_cpu(m);
	seen.length = m->length;
	CHECK_EQ(m->type, type);
	if (seen.norder < 16)
		seen.order[seen.norder++] = type;
}

#define TASK_CB(name, type)                                                \
	static void cb_##name(struct ghost_sched *s, struct ghost_task *t, \
			      const struct ghost_msg *m)                   \
	{                                                                  \
		record_task(type, s, t, m);                                \
	}
#define CPU_CB(name, type)                                                      \
	static void cb_##name(struct ghost_sched *s, const struct ghost_msg *m) \
	{                                                                       \
		record_cpu(type, s, m);                                         \
	}

TASK_CB(task_new, MSG_TASK_NEW)
TASK_CB(task_wakeup, MSG_TASK_WAKEUP)
TASK_CB(task_blocked, MSG_TASK_BLOCKED)
TASK_CB(task_yield, MSG_TASK_YIELD)
TASK_CB(task_preempt, MSG_TASK_PREEMPT)
TASK_CB(task_dead, MSG_TASK_DEAD)
TASK_CB(task_departed, MSG_TASK_DEPARTED)
TASK_CB(task_switchto, MSG_TASK_SWITCHTO)
TASK_CB(task_affinity_changed, MSG_TASK_AFFINITY_CHANGED)
TASK_CB(task_on_cpu, MSG_TASK_ON_CPU)
TASK_CB(task_priority_changed, MSG_TASK_PRIORITY_CHANGED)
TASK_CB(task_latch_failure, MSG_TASK_LATCH_FAILURE)
CPU_CB(cpu_tick, MSG_CPU_TICK)
CPU_CB(cpu_timer_expired, MSG_CPU_TIMER_EXPIRED)
CPU_CB(cpu_not_idle, MSG_CPU_NOT_IDLE)
CPU_CB(cpu_available, MSG_CPU_AVAILABLE)
CPU_CB(cpu_busy, MSG_CPU_BUSY)
CPU_CB(cpu_agent_blocked, MSG_CPU_AGENT_BLOCKED)
CPU_CB(cpu_agent_wakeup, MSG_CPU_AGENT_WAKEUP)

static void cb_overflow(struct ghost_sched *s, struct ghost_channel *c, uint32_t lost)
{
	(void)s;
	seen.lost += lost;
	seen.lost_channel = c;
}

static const struct ghost_sched_ops all_ops = {
	.task_new = cb_task_new,
	.task_wakeup = cb_task_wakeup,
	.task_blocked = cb_task_blocked,
	.task_yield = cb_task_yield,
	.task_preempt = cb_task_preempt,
	.task_dead = cb_task_dead,
	.task_departed = cb_task_departed,
	.task_switchto = cb_task_switchto,
	.task_affinity_changed = cb_task_affinity_changed,
	.task_on_cpu = cb_task_on_cpu,
	.task_priority_changed = cb_task_priority_changed,
	.task_latch_failure = cb_task_latch_failure,
	.cpu_tick = cb_cpu_tick,
	.cpu_timer_expired = cb_cpu_timer_expired,
	.cpu_not_idle = cb_cpu_not_idle,
	.cpu_available = cb_cpu_available,
	.cpu_busy = cb_cpu_busy,
	.cpu_agent_blocked = cb_cpu_agent_blocked,
	.cpu_agent_wakeup = cb_cpu_agent_wakeup,
	.channel_overflow = cb_overflow,
};

/* A message buffer whose header sits at 4 mod 8, like every slot of a real ring. */
static alignas(8) unsigned char msgbuf[256];

static struct ghost_msg *build(uint16_t type, uint16_t length, uint32_t seqnum, const void *payload,
			       size_t payload_len)
{
	struct ghost_msg *m = (struct ghost_msg *)(msgbuf + 4);

	CHECK_EQ((uintptr_t)m % 8, 4);
	memset(msgbuf, 0x5a, sizeof(msgbuf));
	m->type = type;
	m->length = length;
	m->seqnum = seqnum;
	memcpy((char *)m + sizeof(*m), payload, payload_len);
	return m;
}

/* A wire-length message whose payload is a zeroed struct with gtid or cpu at offset 0. */
static struct ghost_msg *build_wire(uint16_t type, size_t payload_size, uint32_t seqnum,
				    int64_t gtid, int cpu)
{
	unsigned char payload[64];

	CHECK(payload_size <= sizeof(payload));
	memset(payload, 0, sizeof(payload));
	if (ghost_msg_is_task(type))
		memcpy(payload, &gtid, sizeof(gtid));
	else
		memcpy(payload, &cpu, sizeof(cpu));
	return build(type, (uint16_t)(sizeof(struct ghost_msg) + payload_size), seqnum, payload,
		     payload_size);
}

static struct ghost_msg *build_new(int64_t gtid, uint32_t seqnum, uint32_t sw_id, uint32_t sw_index)
{
	struct ghost_msg_payload_task_new p;

	memset(&p, 0, sizeof(p));
	p.gtid = (uint64_t)gtid;
	p.parent_gtid = 12345;
	p.runnable = 1;
	p.nice = -3;
	p.sw_info.id = sw_id;
	p.sw_info.index = sw_index;
	return build(MSG_TASK_NEW, sizeof(struct ghost_msg) + sizeof(p), seqnum, &p, sizeof(p));
}

static const struct {
	uint16_t type;
	size_t payload;
	uint16_t wire; /* 3.7 of the ABI notes */
} task_types[] = {
	{ MSG_TASK_DEAD, sizeof(struct ghost_msg_payload_task_dead), 24 },
	{ MSG_TASK_BLOCKED, sizeof(struct ghost_msg_payload_task_blocked), 40 },
	{ MSG_TASK_WAKEUP, sizeof(struct ghost_msg_payload_task_wakeup), 40 },
	{ MSG_TASK_NEW, sizeof(struct ghost_msg_payload_task_new), 56 },
	{ MSG_TASK_PREEMPT, sizeof(struct ghost_msg_payload_task_preempt), 48 },
	{ MSG_TASK_YIELD, sizeof(struct ghost_msg_payload_task_yield), 48 },
	{ MSG_TASK_DEPARTED, sizeof(struct ghost_msg_payload_task_departed), 32 },
	{ MSG_TASK_SWITCHTO, sizeof(struct ghost_msg_payload_task_switchto), 40 },
	{ MSG_TASK_AFFINITY_CHANGED, sizeof(struct ghost_msg_payload_task_affinity_changed), 16 },
	{ MSG_TASK_ON_CPU, sizeof(struct ghost_msg_payload_task_on_cpu), 40 },
	{ MSG_TASK_PRIORITY_CHANGED, sizeof(struct ghost_msg_payload_task_priority_changed), 24 },
	{ MSG_TASK_LATCH_FAILURE, sizeof(struct ghost_msg_payload_task_latch_failure), 24 },
}, cpu_types[] = {
	{ MSG_CPU_TICK, sizeof(struct ghost_msg_payload_cpu_tick), 16 },
	{ MSG_CPU_TIMER_EXPIRED, sizeof(struct ghost_msg_payload_timer), 32 },
	{ MSG_CPU_NOT_IDLE, sizeof(struct ghost_msg_payload_cpu_not_idle), 24 },
	{ MSG_CPU_AVAILABLE, sizeof(struct ghost_msg_payload_cpu_available), 12 },
	{ MSG_CPU_BUSY, sizeof(struct ghost_msg_payload_cpu_busy), 12 },
	{ MSG_CPU_AGENT_BLOCKED, sizeof(struct ghost_msg_payload_agent_blocked), 12 },
	{ MSG_CPU_AGENT_WAKEUP, sizeof(struct ghost_msg_payload_agent_wakeup), 12 },
};

static void test_dispatch_all_types(void)
{
	struct ghost_sched s;
	const int64_t gtid = make_gtid(4242, 77);
	struct ghost_task *task;
	struct ghost_msg *m;
	uint32_t seq = 10;
	uint64_t total = 0;

	memset(&seen, 0, sizeof(seen));
	CHECK_OK(ghost_sched_init(&s, NULL, &all_ops, &seen, 64));
	CHECK(s.policy == &seen);

	/* TASK_NEW creates the task, records seqnum and sw_info, then calls task_new. */
	CHECK_OK(ghost_sched_dispatch(&s, build_new(gtid, seq, 3, 77)));
	total++;
	task = ghost_task_table_find(&s.tasks, gtid);
	CHECK(task);
	CHECK_EQ(seen.calls, 1);
	CHECK_EQ(seen.type, MSG_TASK_NEW);
	CHECK(seen.task == task);
	CHECK_EQ(seen.gtid, gtid);
	CHECK_EQ(seen.task_seqnum, seq);
	CHECK_EQ(seen.length, 56);
	CHECK_EQ(task->seqnum, seq);
	CHECK_EQ(task->sw_info.id, 3);
	CHECK_EQ(task->sw_info.index, 77);
	CHECK(task->sw == NULL); /* no enclave: no lookup */
	CHECK_EQ(nlookups, 0);
	CHECK_EQ(s.stats.msgs[MSG_TASK_NEW], 1);

	for (size_t i = 0; i < ARRAY_SIZE(task_types); i++) {
		uint16_t type = task_types[i].type;
		int64_t g = gtid;
		int calls;
		int is_end = type == MSG_TASK_DEAD || type == MSG_TASK_DEPARTED;

		CHECK_EQ(sizeof(struct ghost_msg) + task_types[i].payload, task_types[i].wire);
		if (type == MSG_TASK_NEW)
			continue; /* done above */
		if (is_end) {
			/* Each ending gets its own task, so the main one lives on. */
			g = make_gtid(5000 + i, 900 + i);
			CHECK_OK(ghost_sched_dispatch(&s, build_new(g, 1, 0, (uint32_t)i)));
			total++;
			CHECK(ghost_task_table_find(&s.tasks, g));
		}
		task = ghost_task_table_find(&s.tasks, g);
		calls = seen.calls;
		seq++;
		m = build_wire(type, task_types[i].payload, seq, g, 0);
		CHECK_OK(ghost_sched_dispatch(&s, m));
		total++;
		CHECK_MSG(seen.calls == calls + 1, "%s", ghost_msg_type_name(type));
		CHECK_MSG(seen.type == type, "%s ran the callback of %s", ghost_msg_type_name(type),
			  ghost_msg_type_name(seen.type));
		CHECK(seen.task == task);
		CHECK_EQ(seen.gtid, g);
		CHECK_EQ(seen.task_seqnum, seq);
		CHECK_EQ(seen.length, task_types[i].wire);
		CHECK(seen.still_in_table);
		CHECK_EQ(s.stats.msgs[type], 1);
		if (is_end)
			CHECK_MSG(ghost_task_table_find(&s.tasks, g) == NULL, "%s left the task",
				  ghost_msg_type_name(type));
		else
			CHECK_EQ(ghost_task_table_find(&s.tasks, g)->seqnum, seq);
	}
	CHECK_EQ(s.stats.msgs[MSG_TASK_NEW], 3);
	CHECK_EQ(s.tasks.count, 1);
	CHECK(ghost_task_table_find(&s.tasks, gtid));
	CHECK_EQ(nfrees, 0); /* no enclave: nothing to free */

	for (size_t i = 0; i < ARRAY_SIZE(cpu_types); i++) {
		uint16_t type = cpu_types[i].type;
		int cpu = 3 + (int)i * 50;
		int calls = seen.calls;

		CHECK_EQ(sizeof(struct ghost_msg) + cpu_types[i].payload, cpu_types[i].wire);
		m = build_wire(type, cpu_types[i].payload, 1, 0, cpu);
		CHECK_OK(ghost_sched_dispatch(&s, m));
		total++;
		CHECK_MSG(seen.calls == calls + 1, "%s", ghost_msg_type_name(type));
		CHECK_MSG(seen.type == type, "%s ran the callback of %s", ghost_msg_type_name(type),
			  ghost_msg_type_name(seen.type));
		CHECK_EQ(seen.cpu, cpu);
		CHECK_EQ(seen.length, cpu_types[i].wire);
		CHECK_EQ(s.stats.msgs[type], 1);
	}
	CHECK_EQ(s.stats.msgs_total, total);
	CHECK_EQ(s.stats.bad_msgs, 0);
	CHECK_EQ(s.stats.seqnum_errors, 0);
	CHECK_EQ(s.stats.duplicate_new, 0);

	/* A base with no callbacks at all still keeps the books. */
	ghost_sched_fini(&s);
	CHECK_OK(ghost_sched_init(&s, NULL, NULL, NULL, 0));
	CHECK_OK(ghost_sched_dispatch(&s, build_new(gtid, 1, 0, 0)));
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_WAKEUP, 32, 2, gtid, 0)));
	CHECK_EQ(ghost_task_table_find(&s.tasks, gtid)->seqnum, 2);
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_CPU_TICK, 8, 1, 0, 1)));
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_DEAD, 16, 3, gtid, 0)));
	CHECK_EQ(s.tasks.count, 0);
	ghost_sched_fini(&s);
}

/* With an enclave, TASK_NEW looks the status word up and the endings free it. */
static void test_status_words(void)
{
	struct ghost_sched s;
	static char fake_enclave;
	struct ghost_enclave *e = (struct ghost_enclave *)(void *)&fake_enclave;
	const int64_t g1 = make_gtid(11, 1), g2 = make_gtid(12, 2), g3 = make_gtid(13, 3);
	struct ghost_task *t;

	memset(&seen, 0, sizeof(seen));
	nlookups = nfrees = 0;
	CHECK_OK(ghost_sched_init(&s, e, &all_ops, NULL, sizeof(struct ghost_task)));

	CHECK_OK(ghost_sched_dispatch(&s, build_new(g1, 5, 2, 40)));
	t = ghost_task_table_find(&s.tasks, g1);
	CHECK(t && t->sw == &fake_sw);
	CHECK_EQ(nlookups, 1);
	CHECK_EQ(last_lookup.id, 2);
	CHECK_EQ(last_lookup.index, 40);

	/* A missing word is not an error: the task lives on without one. */
	CHECK_OK(ghost_sched_dispatch(&s, build_new(g2, 5, 0xdead, 1)));
	t = ghost_task_table_find(&s.tasks, g2);
	CHECK(t && t->sw == NULL);
	CHECK_EQ(nlookups, 2);

	free_result = 0;
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_DEAD, 16, 6, g1, 0)));
	CHECK_EQ(nfrees, 1);
	CHECK_EQ(last_free.id, 2);
	CHECK_EQ(last_free.index, 40);
	CHECK(ghost_task_table_find(&s.tasks, g1) == NULL);

	/* A failing SW_FREE is only logged: the task still goes. */
	free_result = -EBUSY;
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_DEPARTED, 24, 6, g2, 0)));
	CHECK_EQ(nfrees, 2);
	CHECK_EQ(last_free.id, 0xdead);
	CHECK(ghost_task_table_find(&s.tasks, g2) == NULL);
	free_result = 0;

	/* Other messages never touch status words. */
	CHECK_OK(ghost_sched_dispatch(&s, build_new(g3, 1, 1, 1)));
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_BLOCKED, 32, 2, g3, 0)));
	CHECK_EQ(nfrees, 2);
	CHECK_EQ(nlookups, 3);
	ghost_sched_fini(&s);
}

static void test_seqnum_and_errors(void)
{
	struct ghost_sched s;
	const int64_t gtid = make_gtid(777, 3);
	struct ghost_task *t;
	unsigned char junk[64];

	memset(&seen, 0, sizeof(seen));
	CHECK_OK(ghost_sched_init(&s, NULL, &all_ops, NULL, 96));

	CHECK_OK(ghost_sched_dispatch(&s, build_new(gtid, 5, 0, 0)));
	t = ghost_task_table_find(&s.tasks, gtid);
	CHECK(t);
	CHECK_EQ(t->seqnum, 5);

	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_WAKEUP, 32, 6, gtid, 0)));
	CHECK_EQ(seen.type, MSG_TASK_WAKEUP);
	CHECK_EQ(seen.task_seqnum, 6); /* already advanced inside the callback */
	CHECK_EQ(t->seqnum, 6);

	/* Same seqnum again: stale, counted, -ERANGE, not delivered. */
	seen.calls = 0;
	CHECK_ERR(ghost_sched_dispatch(&s, build_wire(MSG_TASK_BLOCKED, 32, 6, gtid, 0)), ERANGE);
	CHECK_EQ(s.stats.seqnum_errors, 1);
	CHECK_EQ(seen.calls, 0);
	CHECK_EQ(s.stats.msgs[MSG_TASK_BLOCKED], 1);

	/* Going backwards: dropped too, and the newest barrier seen is kept. */
	CHECK_ERR(ghost_sched_dispatch(&s, build_wire(MSG_TASK_YIELD, 40, 4, gtid, 0)), ERANGE);
	CHECK_EQ(s.stats.seqnum_errors, 2);
	CHECK_EQ(seen.calls, 0);
	CHECK_EQ(t->seqnum, 6);

	/* Gaps are legal (BPF may consume messages), and so is wrapping at 2^32. */
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_PREEMPT, 40, 100, gtid, 0)));
	CHECK_EQ(t->seqnum, 100);
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_WAKEUP, 32, 0x70000000u, gtid, 0)));
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_BLOCKED, 32, 0xe0000000u, gtid, 0)));
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_WAKEUP, 32, 0xfffffff0u, gtid, 0)));
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_BLOCKED, 32, 0xffffffffu, gtid, 0)));
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_WAKEUP, 32, 2, gtid, 0)));
	CHECK_EQ(t->seqnum, 2);
	CHECK_EQ(s.stats.seqnum_errors, 2);

	/* Unknown gtid. */
	seen.calls = 0;
	CHECK_ERR(ghost_sched_dispatch(&s, build_wire(MSG_TASK_WAKEUP, 32, 9, gtid + 1, 0)),
		  ENOENT);
	CHECK_EQ(s.stats.bad_msgs, 1);
	CHECK_EQ(seen.calls, 0);
	CHECK_ERR(ghost_sched_dispatch(&s, build_wire(MSG_TASK_DEAD, 16, 9, 0, 0)), ENOENT);
	CHECK_EQ(s.stats.bad_msgs, 2);

	/* Duplicate TASK_NEW: refused before the callback, the task is untouched. */
	CHECK_ERR(ghost_sched_dispatch(&s, build_new(gtid, 50, 9, 9)), EEXIST);
	CHECK_EQ(s.stats.duplicate_new, 1);
	CHECK_EQ(seen.calls, 0);
	CHECK(ghost_task_table_find(&s.tasks, gtid) == t);
	CHECK_EQ(t->seqnum, 2);
	CHECK_EQ(t->sw_info.id, 0);

	/* Truncated messages. */
	memset(junk, 0, sizeof(junk));
	memcpy(junk, &gtid, sizeof(gtid));
	CHECK_ERR(ghost_sched_dispatch(&s, build(MSG_TASK_WAKEUP, 8, 10, junk, 0)), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(&s, build(MSG_TASK_WAKEUP, 15, 10, junk, 7)), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(&s, build(MSG_TASK_NEW, 16, 10, junk, 8)), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(&s, build(MSG_CPU_TICK, 11, 10, junk, 3)), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(&s, build(MSG_CPU_BUSY, 0, 10, junk, 0)), EINVAL);
	/* The minimum is enough: an affinity change is only the gtid, a cpu message the cpu. */
	CHECK_OK(ghost_sched_dispatch(&s, build(MSG_TASK_AFFINITY_CHANGED, 16, 11, junk, 8)));
	CHECK_OK(ghost_sched_dispatch(&s, build(MSG_CPU_BUSY, 12, 1, junk, 4)));
	CHECK_EQ(s.stats.bad_msgs, 7);

	/* Unknown types, inside and outside the task and cpu ranges, and NOP. */
	CHECK_ERR(ghost_sched_dispatch(&s, build(99, 24, 10, junk, 16)), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(&s, build(150, 24, 10, junk, 16)), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(&s, build(1, 24, 10, junk, 16)), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(&s, build(0xffff, 24, 10, junk, 16)), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(&s, build(MSG_NOP, 24, 10, junk, 16)), EINVAL);
	CHECK_EQ(s.stats.bad_msgs, 12);
	CHECK_EQ(seen.calls, 2); /* only the two well-formed ones */
	CHECK_EQ(s.stats.msgs[99], 0);
	CHECK_EQ(s.stats.msgs[MSG_NOP], 0);
	CHECK_EQ(s.stats.msgs_total, 25);

	CHECK_ERR(ghost_sched_dispatch(&s, NULL), EINVAL);
	CHECK_ERR(ghost_sched_dispatch(NULL, build_new(gtid, 1, 0, 0)), EINVAL);
	ghost_sched_fini(&s);
}

/* ---- Drain ---------------------------------------------------------------------------------- */

#define RING_ELEMS 32U

/* The kernel's side (src/ring.c): a NOP filler when the message would wrap. */
static void produce(struct ghost_channel *c, uint16_t type, const void *payload, size_t plen,
		    uint32_t seqnum)
{
	CHECK_OK(ghost_ring_produce(c->ring, c->nelems, type, seqnum, payload, (uint16_t)plen));
}

static void test_drain(void)
{
	static alignas(4096) unsigned char map[4096];
	struct ghost_channel c;
	struct ghost_ring *ring = (struct ghost_ring *)(map + 64);
	struct ghost_sched s;
	const int64_t gtid = make_gtid(31337, 5);
	struct ghost_msg_payload_task_new pn;
	struct ghost_msg_payload_task_wakeup pw;
	struct ghost_msg_payload_cpu_tick pt;
	/* Free-running indices about to wrap past 2^32, at slot 22 of 32. */
	const uint32_t start = 0xfffffff6u;

	CHECK(ghost_queue_mapsize(RING_ELEMS) <= sizeof(map));
	CHECK_OK(ghost_queue_format(map, sizeof(map), RING_ELEMS));
	ring->head = ring->tail = start;
	CHECK_OK(ghost_channel_init_mem(&c, map, sizeof(map)));
	CHECK(c.ring == ring);
	CHECK_EQ(c.nelems, RING_ELEMS);
	CHECK_EQ(start & (RING_ELEMS - 1), 22);
	CHECK_EQ((uintptr_t)ghost_channel_slot(&c, 0) % 8, 4);

	memset(&seen, 0, sizeof(seen));
	CHECK_OK(ghost_sched_init(&s, NULL, &all_ops, NULL, 128));
	CHECK_EQ(ghost_sched_drain(&s, &c), 0);

	memset(&pn, 0, sizeof(pn));
	pn.gtid = (uint64_t)gtid;
	pn.sw_info.id = 1;
	pn.sw_info.index = 2;
	memset(&pw, 0, sizeof(pw));
	pw.gtid = (uint64_t)gtid;
	memset(&pt, 0, sizeof(pt));
	pt.cpu = 17;
	produce(&c, MSG_TASK_NEW, &pn, sizeof(pn), 1);	  /* slots 22..28 */
	produce(&c, MSG_TASK_WAKEUP, &pw, sizeof(pw), 2); /* NOP 29..31, then 0..4 */
	produce(&c, MSG_CPU_TICK, &pt, sizeof(pt), 1);	  /* slots 5..6 */
	CHECK_EQ(ghost_channel_slot(&c, 29)->type, MSG_NOP);
	CHECK_EQ(ghost_channel_slot(&c, 29)->length, 24);
	CHECK_EQ(c.ring->head - c.ring->tail, 7 + 3 + 5 + 2);
	CHECK(c.ring->head < start); /* the index wrapped */

	CHECK_EQ(ghost_sched_drain(&s, &c), 3);
	CHECK_EQ(seen.norder, 3);
	CHECK_EQ(seen.order[0], MSG_TASK_NEW);
	CHECK_EQ(seen.order[1], MSG_TASK_WAKEUP);
	CHECK_EQ(seen.order[2], MSG_CPU_TICK);
	CHECK_EQ(seen.cpu, 17);
	CHECK_EQ(c.ring->tail, c.ring->head);
	CHECK(ghost_channel_peek(&c) == NULL);
	CHECK_EQ(ghost_task_table_find(&s.tasks, gtid)->seqnum, 2);
	CHECK_EQ(s.stats.msgs_total, 3);
	CHECK_EQ(s.stats.overflows, 0);
	CHECK_EQ(seen.lost, 0);

	/* Overflow is reported once, before the messages, with the channel. */
	__atomic_store_n(&c.ring->overflow, 2, __ATOMIC_RELEASE);
	produce(&c, MSG_CPU_TICK, &pt, sizeof(pt), 2);
	CHECK_EQ(ghost_sched_drain(&s, &c), 1);
	CHECK_EQ(seen.lost, 2);
	CHECK(seen.lost_channel == &c);
	CHECK_EQ(s.stats.overflows, 2);
	CHECK_EQ(ghost_sched_drain(&s, &c), 0);
	CHECK_EQ(seen.lost, 2);
	CHECK_EQ(s.stats.overflows, 2);

	/* A message claiming more than was produced is counted and skipped, not dispatched. */
	{
		struct ghost_msg *m = ghost_channel_slot(&c, c.ring->head);
		int calls = seen.calls;

		m->type = MSG_CPU_TICK;
		m->length = 200;
		m->seqnum = 3;
		__atomic_store_n(&c.ring->head, c.ring->head + 2, __ATOMIC_RELEASE);
		CHECK_EQ(ghost_sched_drain(&s, &c), 0);
		CHECK_EQ(seen.calls, calls);
		CHECK_EQ(s.stats.bad_msgs, 1);
		CHECK_EQ(c.ring->tail, c.ring->head);
	}

	/* A bad message amid good ones does not stall the rest. */
	produce(&c, MSG_TASK_DEAD, &pw, sizeof(struct ghost_msg_payload_task_dead), 3);
	produce(&c, MSG_TASK_DEAD, &pw, sizeof(struct ghost_msg_payload_task_dead), 4);
	CHECK_EQ(ghost_sched_drain(&s, &c), 2);
	CHECK_EQ(s.stats.bad_msgs, 2); /* the second DEAD: task already gone */
	CHECK_EQ(s.tasks.count, 0);
	CHECK_EQ(c.ring->tail, c.ring->head);

	/* A real drop: fill the ring with ticks until the producer refuses one. */
	{
		int produced = 0, rc;

		while ((rc = ghost_ring_produce(c.ring, c.nelems, MSG_CPU_TICK, 9, &pt,
						(uint16_t)sizeof(pt))) == 0)
			produced++;
		CHECK_EQ(rc, -ENOSPC);
		CHECK(produced >= (int)RING_ELEMS / 2 - 1);
		CHECK_EQ(ghost_sched_drain(&s, &c), produced);
		CHECK_EQ(seen.lost, 3);
		CHECK_EQ(s.stats.overflows, 3);
		CHECK_EQ(c.ring->tail, c.ring->head);
	}

	CHECK_ERR(ghost_sched_drain(&s, NULL), EINVAL);
	ghost_sched_fini(&s);
}

/*
 * ABI 84's shorter payloads (TASK_NEW without agent_data: 40 bytes, TASK_DEAD
 * without cpu: 8, CPU_TICK without is_agent: 4), as a ghOSt kernel of that ABI
 * writes them: dispatched like ABI 91's, the missing fields read as zero.
 */
static void test_abi84_payloads(void)
{
	struct ghost_sched s;
	const int64_t gtid = make_gtid(4343, 78);
	struct ghost_msg_payload_task_new p;
	struct ghost_msg_payload_task_new got;
	struct ghost_msg *m;

	memset(&seen, 0, sizeof(seen));
	CHECK_OK(ghost_sched_init(&s, NULL, &all_ops, &seen, 64));
	memset(&p, 0xee, sizeof(p)); /* agent_data: bytes the wire does not carry */
	p.gtid = (uint64_t)gtid;
	p.parent_gtid = 1;
	p.runtime = 2;
	p.runnable = 1;
	p.nice = 4;
	p.sw_info.id = 3;
	p.sw_info.index = 9;
	m = build(MSG_TASK_NEW, sizeof(struct ghost_msg) + 40, 5, &p, 40);
	CHECK_OK(ghost_sched_dispatch(&s, m));
	CHECK_EQ(seen.type, MSG_TASK_NEW);
	CHECK_EQ(ghost_task_table_find(&s.tasks, gtid)->sw_info.index, 9);
	ghost_msg_copy_payload(m, &got, sizeof(got));
	CHECK(got.nice == 4 && got.runnable == 1 && got.agent_data == 0);
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_CPU_TICK, 4, 0, 0, 1)));
	CHECK_EQ(seen.type, MSG_CPU_TICK);
	CHECK_OK(ghost_sched_dispatch(&s, build_wire(MSG_TASK_DEAD, 8, 6, gtid, 0)));
	CHECK_EQ(seen.type, MSG_TASK_DEAD);
	CHECK(ghost_task_table_find(&s.tasks, gtid) == NULL);
	CHECK_EQ(s.stats.bad_msgs, 0);
	ghost_sched_fini(&s);
}

int main(void)
{
	test_abi84_payloads();
	test_table_churn();
	test_table_memory();
	test_dispatch_all_types();
	test_status_words();
	test_seqnum_and_errors();
	test_drain();
	return 0;
}
