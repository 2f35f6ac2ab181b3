/*
 * tests/test_trace.c - the trace recorder and its reader (ghost/trace.h),
 * white-box: an enclave handle made by hand (no kernel) records through the
 * library's own hooks (ghost_trace_msg, ghost_trace_txn).
 *
 * Checks: every field of a message and a txn record as written and read
 * back; the rings keep exactly the newest records of each CPU and the file
 * says how many were dropped, and never grows past its bound; saves that
 * race four writers (two per-CPU rings, two threads on the shared ring)
 * only ever hold whole records, and after the writers stop the records
 * kept plus those dropped are exactly those written; the reader refuses
 * every truncation and each kind of damage with -EINVAL and a reason.
 * Also in the TSan tier (tests/tsan.list).
 */
#include "enclave_priv.h"
#include "test.h"

#include <ghost/channel.h>
#include <ghost/thread.h>
#include <ghost/trace.h>

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/test_trace.XXXXXX";
static char path[256];

static struct ghost_enclave *fake_enclave(uint64_t id, int ncpus)
{
	struct ghost_enclave *e = calloc(1, sizeof(*e));

	CHECK(e);
	e->id = id;
	for (int c = 0; c < ncpus; c++)
		ghost_cpuset_set(&e->cpus, c);
	return e;
}

/* A message of type with a payload (its first bytes) of len bytes. */
struct msgbuf {
	struct ghost_msg hdr;
	uint32_t payload[16];
};

static const struct ghost_msg *make_msg(struct msgbuf *b, uint16_t type, uint32_t seq,
					const void *payload, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->hdr.type = type;
	b->hdr.seqnum = seq;
	b->hdr.length = (uint16_t)(sizeof(b->hdr) + len);
	memcpy(b->payload, payload, len);
	return &b->hdr;
}

static void *load(struct ghost_trace_view *v)
{
	char why[256] = "";
	void *buf = NULL;
	int err = ghost_trace_load(path, &buf, v, why, sizeof(why));

	CHECK_MSG(err == 0, "%s: %d %s", path, err, why);
	return buf;
}

static void test_fields(void)
{
	struct ghost_enclave *e = fake_enclave(42, 3);
	struct ghost_trace_opts o = { .sz = sizeof(o), .size = 1 << 20 };
	struct ghost_msg_payload_task_new tn = { .gtid = 1234, .runnable = 1 };
	struct ghost_msg_payload_task_preempt pre = { .gtid = 1234, .cpu = 2, .was_latched = 1 };
	struct ghost_msg_payload_task_blocked bl = { .gtid = 1234, .cpu = 1 };
	struct ghost_msg_payload_cpu_tick tick = { .cpu = 2 };
	struct ghost_txn txn = { .gtid = 1234, .task_barrier = 7 };
	struct ghost_trace_view v;
	struct msgbuf b;
	void *buf;

	CHECK_ERR(ghost_trace_save(e, path), ENOENT);
	CHECK_ERR(ghost_trace_stop(e), ENOENT);
	o.size = GHOST_TRACE_MIN_SIZE - 1;
	CHECK_ERR(ghost_trace_start(e, &o), EINVAL);
	o.size = 1 << 20;
	CHECK_OK(ghost_trace_start(e, &o));
	CHECK_ERR(ghost_trace_start(e, &o), EBUSY);
	CHECK(ghost_enclave_tracer(e) != NULL);

	ghost_trace_set_thread_cpu(1);
	ghost_trace_msg(e->trace, ghost_now_ns(), make_msg(&b, MSG_TASK_NEW, 1, &tn, sizeof(tn)), 0,
			0);
	ghost_trace_msg(e->trace, ghost_now_ns(),
			make_msg(&b, MSG_TASK_PREEMPT, 2, &pre, sizeof(pre)), 0, 0);
	ghost_trace_msg(e->trace, ghost_now_ns(),
			make_msg(&b, MSG_TASK_BLOCKED, 3, &bl, sizeof(bl)), -ERANGE, 0);
	ghost_trace_msg(e->trace, ghost_now_ns(),
			make_msg(&b, MSG_CPU_TICK, 9, &tick, sizeof(tick)), 0, 0);
	/* Malformed: nothing past the header is read, whatever it says. */
	ghost_trace_msg(e->trace, ghost_now_ns(), make_msg(&b, 77, 5, &bl, sizeof(bl)), -EINVAL,
			GHOST_TRACE_F_MALFORMED);
	txn.commit_time = (uint64_t)ghost_now_ns();
	ghost_trace_txn(e->trace, 2, &txn, GHOST_TXN_COMPLETE);
	txn.commit_time = 0; /* no kernel time: the agent's */
	ghost_trace_set_thread_cpu(-1);
	ghost_trace_txn(e->trace, 0, &txn, GHOST_TXN_TARGET_STALE);
	CHECK_EQ(ghost_trace_save(e, path), 7);
	CHECK_OK(ghost_trace_stop(e));
	CHECK(e->trace == NULL);

	buf = load(&v);
	CHECK_EQ(v.nrecords, 7);
	CHECK_EQ(v.hdr.enclave_id, 42);
	CHECK_EQ(v.hdr.ncpus, 3);
	CHECK_EQ(v.hdr.cpus[0], 7);
	CHECK_EQ(v.hdr.dropped, 0);
	CHECK_EQ(v.hdr.complete_ns, v.hdr.start_ns);
	const struct ghost_trace_record *r = v.records;

	CHECK(r[0].kind == GHOST_TRACE_MSG && r[0].type == MSG_TASK_NEW && r[0].gtid == 1234 &&
	      r[0].seqnum == 1 && r[0].cpu == -1 && r[0].agent_cpu == 1 &&
	      r[0].flags == GHOST_TRACE_F_RUNNABLE && r[0].value == 0);
	CHECK(r[1].type == MSG_TASK_PREEMPT && r[1].cpu == 2 &&
	      r[1].flags == GHOST_TRACE_F_LATCHED);
	CHECK(r[2].type == MSG_TASK_BLOCKED && r[2].cpu == 1 && r[2].value == -ERANGE &&
	      r[2].flags == 0);
	CHECK(r[3].type == MSG_CPU_TICK && r[3].cpu == 2 && r[3].gtid == 0 && r[3].seqnum == 9);
	CHECK(r[4].type == 77 && r[4].cpu == -1 && r[4].gtid == 0 &&
	      r[4].flags == GHOST_TRACE_F_MALFORMED && r[4].value == -EINVAL);
	CHECK(r[5].kind == GHOST_TRACE_TXN && r[5].gtid == 1234 && r[5].seqnum == 7 &&
	      r[5].cpu == 2 && r[5].agent_cpu == 1 && r[5].value == GHOST_TXN_COMPLETE &&
	      r[5].flags == GHOST_TRACE_F_KERNEL_TIME && r[5].type == 0);
	CHECK(r[6].kind == GHOST_TRACE_TXN && r[6].cpu == 0 && r[6].agent_cpu == -1 &&
	      r[6].value == GHOST_TXN_TARGET_STALE && r[6].flags == 0);
	for (size_t i = 1; i < v.nrecords; i++)
		CHECK(r[i].time_ns >= r[i - 1].time_ns);
	free(buf);
	free(e);
}

/* The newest records of each ring, the count of the others, a file within the bound. */
static void test_bound(void)
{
	struct ghost_enclave *e = fake_enclave(3, 2);
	struct ghost_trace_opts o = { .sz = sizeof(o), .size = GHOST_TRACE_MIN_SIZE };
	/* 4096 bytes over 3 rings (2 CPUs and the shared one) of 32-byte slots,
	 * one of each kept free for a writer. */
	const uint64_t cap = GHOST_TRACE_MIN_SIZE / 32 / 3 - 1;
	struct ghost_trace_view v;
	struct ghost_txn txn = { 0 };
	struct stat st;
	void *buf;

	CHECK_OK(ghost_trace_start(e, &o));
	ghost_trace_set_thread_cpu(0);
	for (uint32_t i = 0; i < 1000; i++) {
		txn.gtid = 100 + i;
		txn.task_barrier = i;
		ghost_trace_txn(e->trace, 0, &txn, GHOST_TXN_COMPLETE);
	}
	ghost_trace_set_thread_cpu(1);
	for (uint32_t i = 0; i < 5; i++) {
		txn.task_barrier = 5000 + i;
		ghost_trace_txn(e->trace, 1, &txn, GHOST_TXN_COMPLETE);
	}
	CHECK_EQ(ghost_trace_save(e, path), cap + 5);
	CHECK_OK(ghost_trace_stop(e));
	CHECK(stat(path, &st) == 0);
	CHECK((size_t)st.st_size <= sizeof(struct ghost_trace_header) + GHOST_TRACE_MIN_SIZE);
	buf = load(&v);
	CHECK_EQ(v.hdr.dropped, 1000 - cap);
	CHECK_EQ(v.nrecords, cap + 5);
	CHECK(v.hdr.complete_ns > v.hdr.start_ns);
	uint64_t seen0 = 0;

	for (size_t i = 0; i < v.nrecords; i++) {
		const struct ghost_trace_record *r = &v.records[i];

		if (r->agent_cpu == 1) {
			CHECK(r->seqnum >= 5000);
			continue;
		}
		/* CPU 0's ring: exactly its newest, in order. */
		CHECK_EQ(r->seqnum, 1000 - cap + seen0);
		if (seen0 == 0)
			CHECK_EQ(r->time_ns, v.hdr.complete_ns);
		seen0++;
	}
	CHECK_EQ(seen0, cap);
	free(buf);
	free(e);
}

/* ---- writers racing saves ---- */

#define WRITERS	   4
#define PER_WRITER 200000
#define SAVES	   20

struct writer {
	struct ghost_enclave *e;
	int cpu; /* -1: the shared ring */
	int id;
};

static int writers_done;

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct ghost_txn txn = { 0 };

	ghost_trace_set_thread_cpu(w->cpu);
	for (uint32_t i = 0; i < PER_WRITER; i++) {
		/* Every field tells the others: a torn record cannot pass for whole. */
		txn.gtid = (int64_t)w->id << 32 | i;
		txn.task_barrier = i;
		ghost_trace_txn(w->e->trace, w->id, &txn, (int32_t)(i * 7u));
	}
	__atomic_add_fetch(&writers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void check_whole(const struct ghost_trace_view *v)
{
	int64_t last[WRITERS];

	for (int i = 0; i < WRITERS; i++)
		last[i] = -1;
	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];
		int id = (int)(r->gtid >> 32);

		CHECK(id >= 0 && id < WRITERS && r->cpu == id);
		CHECK_EQ(r->seqnum, (uint32_t)r->gtid);
		CHECK_EQ(r->value, (int32_t)(r->seqnum * 7u));
		CHECK(r->agent_cpu == (id < 2 ? id : -1));
		/* One writer's records in its own order (its times never go back). */
		CHECK((int64_t)r->seqnum > last[id]);
		last[id] = r->seqnum;
	}
}

static void test_race(void)
{
	struct ghost_enclave *e = fake_enclave(9, 2);
	struct ghost_trace_opts o = { .sz = sizeof(o), .size = 3 * 32 * 4096 };
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	struct ghost_trace_view v;
	uint64_t total;
	void *buf;

	CHECK_OK(ghost_trace_start(e, &o));
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .e = e, .cpu = i < 2 ? i : -1, .id = i };
		CHECK(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
	}
	/* Saves all the while the writers write (and a few more). */
	for (int s = 0; s < SAVES || __atomic_load_n(&writers_done, __ATOMIC_ACQUIRE) < WRITERS;
	     s++) {
		CHECK_OK(ghost_trace_save(e, path));
		buf = load(&v);
		check_whole(&v);
		free(buf);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	CHECK_OK(ghost_trace_save(e, path));
	buf = load(&v);
	check_whole(&v);
	total = (uint64_t)WRITERS * PER_WRITER;
	CHECK_EQ(v.nrecords + v.hdr.dropped, total);
	CHECK_EQ(v.nrecords, 3 * (4096 - 1)); /* every ring full */
	free(buf);
	CHECK_OK(ghost_trace_stop(e));
	free(e);
}

/* ---- the reader ---- */

static void expect_refused(const void *buf, size_t len, const char *what)
{
	struct ghost_trace_view v;
	char why[256] = "";
	int err = ghost_trace_parse(buf, len, &v, why, sizeof(why));

	CHECK_MSG(err == -EINVAL, "%s: accepted (%d)", what, err);
	CHECK_MSG(why[0] != 0, "%s: no reason", what);
}

static void test_reader(void)
{
	struct ghost_enclave *e = fake_enclave(1, 1);
	struct ghost_txn txn = { .gtid = 5 };
	struct ghost_trace_view v;
	struct ghost_trace_header *h;
	struct ghost_trace_record *r;
	uint64_t *copy;
	size_t len;
	void *buf;

	CHECK_OK(ghost_trace_start(e, NULL));
	for (int i = 0; i < 3; i++)
		ghost_trace_txn(e->trace, 0, &txn, GHOST_TXN_COMPLETE);
	CHECK_EQ(ghost_trace_save(e, path), 3);
	CHECK_OK(ghost_trace_stop(e));
	buf = load(&v);
	len = sizeof(v.hdr) + 3 * sizeof(*v.records);
	copy = malloc(len + 8);
	CHECK(copy);
	/* Every truncation. */
	for (size_t n = 0; n < len; n++) {
		memcpy(copy, buf, n);
		expect_refused(copy, n, "a truncated file");
	}
	h = (struct ghost_trace_header *)copy;
	r = (struct ghost_trace_record *)(h + 1);
#define DAMAGED(what, change)                    \
	do {                                     \
		memcpy(copy, buf, len);          \
		change;                          \
		expect_refused(copy, len, what); \
	} while (0)
	DAMAGED("a foreign magic", h->magic[0] = 'X');
	DAMAGED("another version", h->version = 2);
	DAMAGED("another record size", h->record_size = 40);
	DAMAGED("another clock", h->clock = 0);
	DAMAGED("a CPU count that is not its set's", h->ncpus = 2);
	DAMAGED("more records than it holds", h->nrecords = 4);
	DAMAGED("fewer records than it holds", h->nrecords = 2);
	DAMAGED("an unknown kind", r[1].kind = 9);
	DAMAGED("a CPU out of range", r[1].cpu = GHOST_MAX_CPUS);
	DAMAGED("an agent CPU out of range", r[2].agent_cpu = -2);
	DAMAGED("a time going back", r[2].time_ns = r[0].time_ns - 1);
	DAMAGED("a time after the end", r[2].time_ns = h->end_ns + 1);
	DAMAGED("an end before the start", h->end_ns = h->start_ns - 1);
#undef DAMAGED
	memcpy(copy, buf, len);
	((char *)copy)[len] = 0;
	expect_refused(copy, len + 1, "a byte after the records");
	/* The file itself, parsed in place, and a buffer that is not aligned. */
	CHECK_OK(ghost_trace_parse(copy, len, &v, NULL, 0));
	CHECK_EQ(v.nrecords, 3);
	CHECK_ERR(ghost_trace_parse((char *)copy + 1, len - 1, &v, NULL, 0), EINVAL);
	free(copy);
	free(buf);
	free(e);
}

int main(void)
{
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/trace", dir);
	test_fields();
	test_bound();
	test_race();
	test_reader();
	test_rm_tree(dir);
	printf("trace: fields, bound, racing saves, reader: ok\n");
	return 0;
}
