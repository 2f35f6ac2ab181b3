/*
 * tests/test_channel.c - the message queue: layout, the producer in src/ring.c and the inline
 * consumer of <ghost/channel.h>, alone and across threads.
 *
 * Environment: GHOST_TEST_CHANNEL_MSGS overrides the number of messages of the two-thread test
 * (default 1,000,000; 200,000 under a sanitizer).
 */
#include "test.h"

#include "ring.h"

#include <ghost/channel.h>

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define THREAD_MSGS_DEFAULT 200000
#else
#define THREAD_MSGS_DEFAULT 1000000
#endif

/* A formatted queue of elems slots in its own page-aligned buffer. */
struct queue {
	void *map;
	size_t mapsize;
	struct ghost_channel c;
};

static void queue_new(struct queue *q, uint32_t elems)
{
	q->mapsize = ghost_queue_mapsize(elems);
	CHECK(q->mapsize > 0);
	q->map = aligned_alloc(GHOST_QUEUE_PAGE_SIZE, q->mapsize);
	CHECK(q->map != NULL);
	memset(q->map, 0xA5, q->mapsize);
	CHECK_OK(ghost_queue_format(q->map, q->mapsize, elems));
	CHECK_OK(ghost_channel_init_mem(&q->c, q->map, q->mapsize));
}

static void queue_free(struct queue *q)
{
	free(q->map);
	q->map = NULL;
}

static struct ghost_queue_header *hdr_of(void *map)
{
	return map;
}

static struct ghost_ring *ring_of(void *map)
{
	return (struct ghost_ring *)((char *)map + 64);
}

/* Puts both indices at idx by hand (the ring must be empty and unshared). */
static void ring_set_indices(struct ghost_ring *r, uint32_t idx)
{
	r->head = idx;
	r->tail = idx;
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 12345;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}

/* ---- layout ------------------------------------------------------------------------------ */

static void test_mapsize(void)
{
	CHECK_EQ(ghost_queue_mapsize(1), 4096);
	CHECK_EQ(ghost_queue_mapsize(2), 4096);
	CHECK_EQ(ghost_queue_mapsize(64), 4096);
	CHECK_EQ(ghost_queue_mapsize(502), 0);
	CHECK_EQ(ghost_queue_mapsize(512), 8192); /* 64 + 12 + 4096 */
	CHECK_EQ(ghost_queue_mapsize(65536), 528384);
	CHECK_EQ(ghost_queue_mapsize(0), 0);
	CHECK_EQ(ghost_queue_mapsize(3), 0);
	CHECK_EQ(ghost_queue_mapsize(100), 0);
	CHECK_EQ(ghost_queue_mapsize(65535), 0);
	CHECK_EQ(ghost_queue_mapsize(131072), 0);
	CHECK_EQ(ghost_queue_mapsize(1u << 31), 0);
	CHECK_EQ(ghost_queue_mapsize(UINT32_MAX), 0);
	for (uint32_t e = 1; e <= 65536; e <<= 1) {
		size_t sz = ghost_queue_mapsize(e);

		CHECK_EQ(sz % 4096, 0);
		CHECK(sz >= 64 + 12 + 8 * (size_t)e);
		CHECK(sz - 4096 < 64 + 12 + 8 * (size_t)e);
	}
}

static void test_format(void)
{
	size_t sz = ghost_queue_mapsize(16);
	uint8_t *map = aligned_alloc(4096, sz);
	struct ghost_channel c;

	CHECK(map);
	CHECK_ERR(ghost_queue_format(map, sz, 0), EINVAL);
	CHECK_ERR(ghost_queue_format(map, sz, 3), EINVAL);
	CHECK_ERR(ghost_queue_format(map, sz, 131072), EINVAL);
	CHECK_ERR(ghost_queue_format(map, 64 + 12 + 8 * 16 - 1, 16), EINVAL);
	CHECK_ERR(ghost_queue_format(NULL, sz, 16), EINVAL);
	CHECK_ERR(ghost_queue_format(map + 4, sz - 4, 16), EINVAL);

	memset(map, 0xA5, sz);
	CHECK_OK(ghost_queue_format(map, sz, 16));
	CHECK_EQ(hdr_of(map)->version, GHOST_QUEUE_VERSION);
	CHECK_EQ(hdr_of(map)->start, 64);
	CHECK_EQ(hdr_of(map)->nelems, 16);
	for (size_t i = 12; i < sz; i++)
		CHECK_MSG(map[i] == 0, "byte %zu not zeroed", i);

	/* Exactly the bytes the ring needs are enough. */
	CHECK_OK(ghost_queue_format(map, 64 + 12 + 8 * 16, 16));

	CHECK_OK(ghost_queue_format(map, sz, 16));
	ring_of(map)->overflow = 5;
	memset(&c, 0x5A, sizeof(c));
	CHECK_OK(ghost_channel_init_mem(&c, map, sz));
	CHECK(c.hdr == (void *)map);
	CHECK(c.ring == ring_of(map));
	CHECK_EQ(c.nelems, 16);
	CHECK_EQ(c.overflow_seen, 5);
	CHECK_EQ(c.qid, -1);
	CHECK_EQ(c.node, 0);
	CHECK(c.enclave == NULL);
	CHECK(c.map == (void *)map);
	CHECK_EQ(c.mapsize, sz);
	CHECK_EQ(ghost_channel_overflow(&c), 0);

	/* A queue that is not empty but consistent attaches. */
	ring_of(map)->head = 0xFFFFFFFE;
	ring_of(map)->tail = 0xFFFFFFF0;
	CHECK_OK(ghost_channel_init_mem(&c, map, sz));
	ring_of(map)->head = 0x0000000E; /* wrapped past 2^32: 30 used > 16 */
	CHECK_ERR(ghost_channel_init_mem(&c, map, sz), EINVAL);
	ring_of(map)->head = 0; /* exactly full */
	CHECK_OK(ghost_channel_init_mem(&c, map, sz));

	/* A ring placed further than 64 bytes (4-aligned) is accepted where the header says. */
	CHECK_OK(ghost_queue_format(map, sz, 16));
	hdr_of(map)->start = 128;
	CHECK_OK(ghost_channel_init_mem(&c, map, sz));
	CHECK(c.ring == (struct ghost_ring *)(map + 128));
	free(map);
}

/* Formats a 16-slot queue of exactly the size it needs, corrupts it, expects -EINVAL. */
static void expect_reject(const char *what, void (*corrupt)(uint8_t *map, size_t *mapsize))
{
	size_t need = 64 + 12 + 8 * 16, mapsize = need;
	struct ghost_channel c, before;
	void *p = NULL;
	uint8_t *map;
	int ret;

	/* Exactly `need` bytes on the heap, so that ASan catches any read past them. */
	CHECK_EQ(posix_memalign(&p, 64, need), 0);
	map = p;
	CHECK_OK(ghost_queue_format(map, need, 16));
	corrupt(map, &mapsize);
	memset(&c, 0x77, sizeof(c));
	before = c;
	ret = ghost_channel_init_mem(&c, map, mapsize);
	CHECK_MSG(ret == -EINVAL, "%s: got %d", what, ret);
	CHECK_MSG(memcmp(&c, &before, sizeof(c)) == 0, "%s: channel written on failure", what);
	free(map);
}

static void bad_version(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->version = 1;
}
static void bad_version2(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->version = 0xFFFFFFFF;
}
static void nelems_3(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->nelems = 3;
}
static void nelems_0(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->nelems = 0;
}
static void nelems_32(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->nelems = 32;
}
static void nelems_big(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->nelems = 131072;
}
static void nelems_top(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->nelems = 1u << 31;
}
static void start_0(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->start = 0;
}
static void start_12(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->start = 12;
}
static void start_odd(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->start = 66;
}
static void start_far(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->start = 68;
}
static void start_huge(uint8_t *m, size_t *s)
{
	(void)s;
	hdr_of(m)->start = 0xFFFFFFFC;
}
static void size_short(uint8_t *m, size_t *s)
{
	(void)m;
	*s -= 1;
}
static void size_hdr(uint8_t *m, size_t *s)
{
	(void)m;
	*s = 64;
}
static void size_tiny(uint8_t *m, size_t *s)
{
	(void)m;
	*s = 12;
}
static void size_zero(uint8_t *m, size_t *s)
{
	(void)m;
	*s = 0;
}
static void head_ahead(uint8_t *m, size_t *s)
{
	(void)s;
	ring_of(m)->head = 17;
}
static void tail_ahead(uint8_t *m, size_t *s)
{
	(void)s;
	ring_of(m)->tail = 1;
}
static void head_wrapped(uint8_t *m, size_t *s)
{
	(void)s;
	ring_of(m)->tail = 0xFFFFFFF8;
	ring_of(m)->head = 9; /* 17 used */
}

static void test_init_rejects(void)
{
	struct ghost_channel c;
	uint8_t *map = aligned_alloc(64, 256);

	expect_reject("version 1", bad_version);
	expect_reject("version ~0", bad_version2);
	expect_reject("nelems 3", nelems_3);
	expect_reject("nelems 0", nelems_0);
	expect_reject("nelems 32 (ring past the end)", nelems_32);
	expect_reject("nelems 131072", nelems_big);
	expect_reject("nelems 2^31", nelems_top);
	expect_reject("start 0", start_0);
	expect_reject("start 12", start_12);
	expect_reject("start 66", start_odd);
	expect_reject("start 68 (ring past the end)", start_far);
	expect_reject("start ~0", start_huge);
	expect_reject("mapsize one short", size_short);
	expect_reject("mapsize header only", size_hdr);
	expect_reject("mapsize 12", size_tiny);
	expect_reject("mapsize 0", size_zero);
	expect_reject("head - tail = 17", head_ahead);
	expect_reject("tail ahead of head", tail_ahead);
	expect_reject("head - tail = 17 across 2^32", head_wrapped);

	CHECK(map);
	CHECK_OK(ghost_queue_format(map, 256, 16));
	CHECK_ERR(ghost_channel_init_mem(NULL, map, 256), EINVAL);
	CHECK_ERR(ghost_channel_init_mem(&c, NULL, 256), EINVAL);
	CHECK_ERR(ghost_channel_init_mem(&c, map + 4, 252), EINVAL);
	free(map);
}

/* ---- single thread ----------------------------------------------------------------------- */

struct wire {
	uint16_t type;
	uint16_t length; /* ABI 91, section 3.7 */
	uint16_t slots;
	size_t payload_size; /* sizeof of the payload struct */
};

#define WIRE(t, len, sl, s)                  \
	{                                    \
		t, len, sl, sizeof(struct s) \
	}
static const struct wire wires[] = {
	WIRE(MSG_TASK_DEAD, 24, 3, ghost_msg_payload_task_dead),
	WIRE(MSG_TASK_BLOCKED, 40, 5, ghost_msg_payload_task_blocked),
	WIRE(MSG_TASK_WAKEUP, 40, 5, ghost_msg_payload_task_wakeup),
	WIRE(MSG_TASK_NEW, 56, 7, ghost_msg_payload_task_new),
	WIRE(MSG_TASK_PREEMPT, 48, 6, ghost_msg_payload_task_preempt),
	WIRE(MSG_TASK_YIELD, 48, 6, ghost_msg_payload_task_yield),
	WIRE(MSG_TASK_DEPARTED, 32, 4, ghost_msg_payload_task_departed),
	WIRE(MSG_TASK_SWITCHTO, 40, 5, ghost_msg_payload_task_switchto),
	WIRE(MSG_TASK_AFFINITY_CHANGED, 16, 2, ghost_msg_payload_task_affinity_changed),
	WIRE(MSG_TASK_ON_CPU, 40, 5, ghost_msg_payload_task_on_cpu),
	WIRE(MSG_TASK_PRIORITY_CHANGED, 24, 3, ghost_msg_payload_task_priority_changed),
	WIRE(MSG_TASK_LATCH_FAILURE, 24, 3, ghost_msg_payload_task_latch_failure),
	WIRE(MSG_CPU_TICK, 16, 2, ghost_msg_payload_cpu_tick),
	WIRE(MSG_CPU_TIMER_EXPIRED, 32, 4, ghost_msg_payload_timer),
	WIRE(MSG_CPU_NOT_IDLE, 24, 3, ghost_msg_payload_cpu_not_idle),
	WIRE(MSG_CPU_AVAILABLE, 12, 2, ghost_msg_payload_cpu_available),
	WIRE(MSG_CPU_BUSY, 12, 2, ghost_msg_payload_cpu_busy),
	WIRE(MSG_CPU_AGENT_BLOCKED, 12, 2, ghost_msg_payload_agent_blocked),
	WIRE(MSG_CPU_AGENT_WAKEUP, 12, 2, ghost_msg_payload_agent_wakeup),
};

static void check_msg(const struct ghost_msg *m, uint16_t type, uint32_t seqnum,
		      const uint8_t *payload, size_t payload_len)
{
	CHECK(m != NULL);
	CHECK_EQ(m->type, type);
	CHECK_EQ(m->length, 8 + payload_len);
	CHECK_EQ(m->seqnum, seqnum);
	CHECK(memcmp(ghost_msg_payload(m), payload, payload_len) == 0);
}

static void test_single_thread(void)
{
	struct queue q;
	struct ghost_ring *r;
	uint8_t payload[64];
	uint32_t expect_head = 0;
	const size_t n = sizeof(wires) / sizeof(wires[0]);

	queue_new(&q, 128);
	r = q.c.ring;
	CHECK(ghost_channel_peek(&q.c) == NULL);
	CHECK_EQ(ghost_ring_used(r), 0);

	for (size_t i = 0; i < n; i++) {
		const struct wire *w = &wires[i];

		CHECK_EQ(8 + w->payload_size, w->length);
		CHECK_EQ(ghost_msg_slots(w->length), w->slots);
		fill_pattern(payload, w->payload_size, (uint32_t)i);
		CHECK_OK(ghost_ring_produce(r, 128, w->type, 1000 + (uint32_t)i, payload,
					    (uint16_t)w->payload_size));
		expect_head += w->slots;
		CHECK_EQ(r->head, expect_head);
		CHECK_EQ(ghost_ring_used(r), expect_head);
	}
	CHECK_EQ(r->tail, 0);
	CHECK_EQ(r->overflow, 0);

	for (size_t i = 0; i < n; i++) {
		const struct wire *w = &wires[i];
		const struct ghost_msg *m = ghost_channel_peek(&q.c);
		uint32_t tail = r->tail;

		fill_pattern(payload, w->payload_size, (uint32_t)i);
		check_msg(m, w->type, 1000 + (uint32_t)i, payload, w->payload_size);
		CHECK(m == &r->msgs[tail & 127]);
		CHECK(ghost_channel_msg_valid(&q.c, m));
		/* Peek does not consume. */
		CHECK(ghost_channel_peek(&q.c) == m);
		if (ghost_msg_is_task(m->type)) {
			int64_t gtid;

			memcpy(&gtid, payload, sizeof(gtid));
			CHECK_EQ(ghost_msg_gtid(m), gtid);
		} else {
			int cpu;

			CHECK(ghost_msg_is_cpu(m->type));
			memcpy(&cpu, payload, sizeof(cpu));
			CHECK_EQ(ghost_msg_cpu(m), cpu);
		}
		ghost_channel_consume(&q.c, m);
		CHECK_EQ(r->tail, tail + w->slots);
	}
	CHECK(ghost_channel_peek(&q.c) == NULL);
	CHECK_EQ(r->tail, r->head);
	CHECK_EQ(ghost_channel_overflow(&q.c), 0);

	/* The padding of the last slot is zeroed, even over stale bytes. */
	memset(r->msgs, 0xEE, 128 * 8);
	ring_set_indices(r, 0);
	fill_pattern(payload, 4, 7);
	CHECK_OK(ghost_ring_produce(r, 128, MSG_CPU_BUSY, 7, payload, 4));
	CHECK(memcmp((char *)r->msgs + 12, "\0\0\0\0", 4) == 0);

	/* ghost_msg_copy_payload: the payload, zero-filled past its end. */
	{
		const struct ghost_msg *m = ghost_channel_peek(&q.c);
		uint8_t out[16];

		CHECK(m != NULL);
		memset(out, 0xCC, sizeof(out));
		ghost_msg_copy_payload(m, out, sizeof(out));
		CHECK(memcmp(out, payload, 4) == 0);
		for (size_t i = 4; i < sizeof(out); i++)
			CHECK_EQ(out[i], 0);
		ghost_channel_consume(&q.c, m);
	}

	/* An empty payload is one slot. */
	CHECK_OK(ghost_ring_produce(r, 128, MSG_CPU_TICK, 9, NULL, 0));
	CHECK_EQ(ghost_ring_used(r), 1);
	check_msg(ghost_channel_peek(&q.c), MSG_CPU_TICK, 9, payload, 0);
	ghost_channel_consume(&q.c, ghost_channel_peek(&q.c));
	CHECK(ghost_channel_peek(&q.c) == NULL);
	queue_free(&q);
}

static void test_produce_limits(void)
{
	static uint8_t big[65536];
	struct queue q;
	struct ghost_ring *r;

	queue_new(&q, 16);
	r = q.c.ring;
	CHECK_ERR(ghost_ring_produce(NULL, 16, MSG_CPU_TICK, 0, big, 8), EINVAL);
	CHECK_ERR(ghost_ring_produce(r, 0, MSG_CPU_TICK, 0, big, 8), EINVAL);
	CHECK_ERR(ghost_ring_produce(r, 3, MSG_CPU_TICK, 0, big, 8), EINVAL);
	CHECK_ERR(ghost_ring_produce(r, 131072, MSG_CPU_TICK, 0, big, 8), EINVAL);
	CHECK_ERR(ghost_ring_produce(r, 16, MSG_CPU_TICK, 0, NULL, 8), EINVAL);

	/* Longer than the ring (17 slots), or than a u16 length: never fits, nothing changes. */
	CHECK_ERR(ghost_ring_produce(r, 16, MSG_TASK_NEW, 0, big, 16 * 8 - 7), EMSGSIZE);
	CHECK_ERR(ghost_ring_produce(r, 16, MSG_TASK_NEW, 0, big, 65535), EMSGSIZE);
	CHECK_ERR(ghost_ring_produce(r, 16, MSG_TASK_NEW, 0, big, 65528), EMSGSIZE);
	CHECK_EQ(r->head, 0);
	CHECK_EQ(r->tail, 0);
	CHECK_EQ(r->overflow, 0);

	/* A message of exactly the ring's size fits an empty ring whose head is at slot 0. */
	fill_pattern(big, 120, 1);
	CHECK_OK(ghost_ring_produce(r, 16, MSG_TASK_NEW, 1, big, 120));
	CHECK_EQ(r->head, 16);
	check_msg(ghost_channel_peek(&q.c), MSG_TASK_NEW, 1, big, 120);
	ghost_channel_consume(&q.c, ghost_channel_peek(&q.c));
	CHECK_EQ(r->tail, 16);
	queue_free(&q);

	/* The largest message (length 65535, 8192 slots) in the largest ring, with a filler of
	 * 8191 slots (65528 bytes, the longest filler possible) before it. */
	queue_new(&q, 65536);
	r = q.c.ring;
	ring_set_indices(r, 65536 - 8191);
	fill_pattern(big, 65527, 2);
	CHECK_OK(ghost_ring_produce(r, 65536, MSG_TASK_NEW, 2, big, 65527));
	CHECK_EQ(r->msgs[65536 - 8191].type, MSG_NOP);
	CHECK_EQ(r->msgs[65536 - 8191].length, 65528);
	CHECK_EQ(r->head, 65536 + 8192);
	{
		const struct ghost_msg *m = ghost_channel_peek(&q.c);

		check_msg(m, MSG_TASK_NEW, 2, big, 65527);
		CHECK(m == &r->msgs[0]);
		CHECK(ghost_channel_msg_valid(&q.c, m));
		ghost_channel_consume(&q.c, m);
	}
	CHECK_EQ(r->tail, r->head);
	queue_free(&q);
}

/* ---- wrap-around ------------------------------------------------------------------------- */

static void wrap_run(uint32_t base)
{
	struct queue q;
	struct ghost_ring *r;
	uint8_t payload[48];
	bool tail_seen[16] = { false }, start_seen[16] = { false };
	unsigned fillers = 0, seq = 0;
	bool wrapped32 = false;

	queue_new(&q, 16);
	r = q.c.ring;
	/* Every starting tail position, then enough 7-slot messages to wrap several times. */
	for (uint32_t s = 0; s < 16; s++) {
		ring_set_indices(r, base + s);
		for (int k = 0; k < 40; k++, seq++) {
			uint32_t head = r->head, idx = head & 15, to_end = 16 - idx;
			bool need_filler = to_end < 7;
			const struct ghost_msg *m;

			tail_seen[r->tail & 15] = true;
			fill_pattern(payload, sizeof(payload), seq);
			/* Put a stale NOP-looking garbage where a filler could go: it must be
			 * overwritten correctly, not trusted. */
			r->msgs[idx].type = 0xBEEF;
			r->msgs[idx].length = 0xFFFF;
			CHECK_OK(ghost_ring_produce(r, 16, MSG_TASK_NEW, seq, payload,
						    sizeof(payload)));
			if (need_filler) {
				fillers++;
				CHECK_EQ(r->msgs[idx].type, MSG_NOP);
				CHECK_EQ(r->msgs[idx].length, to_end * 8);
				CHECK_EQ(r->head, head + to_end + 7);
			} else {
				CHECK_EQ(r->head, head + 7);
			}
			if (r->head < head)
				wrapped32 = true;
			m = ghost_channel_peek(&q.c);
			check_msg(m, MSG_TASK_NEW, seq, payload, sizeof(payload));
			CHECK(ghost_channel_msg_valid(&q.c, m));
			CHECK(m == &r->msgs[need_filler ? 0 : idx]);
			/* The filler has been consumed by peek already. */
			CHECK_EQ(r->tail, need_filler ? head + to_end : head);
			start_seen[(m - r->msgs) & 15] = true;
			ghost_channel_consume(&q.c, m);
			CHECK_EQ(r->tail, r->head);
			CHECK(ghost_channel_peek(&q.c) == NULL);
		}
	}
	for (int i = 0; i < 16; i++)
		CHECK_MSG(tail_seen[i], "tail position %d never exercised", i);
	for (int i = 0; i < 16; i++)
		CHECK_MSG(start_seen[i] == (i <= 9), "message start %d: %d", i, start_seen[i]);
	CHECK(fillers > 0);
	if (base > UINT32_MAX - 16 * 40 * 16)
		CHECK_MSG(wrapped32, "indices never wrapped past 2^32 from %#x", base);
	CHECK_EQ(r->overflow, 0);
	queue_free(&q);
}

/* Two messages in flight, so a filler is produced while the consumer lags. */
static void wrap_lagging(uint32_t base)
{
	struct queue q;
	struct ghost_ring *r;
	uint8_t payload[32];
	uint32_t next_cons = 0;

	queue_new(&q, 16);
	r = q.c.ring;
	ring_set_indices(r, base);
	for (uint32_t seq = 0; seq < 1000; seq++) {
		fill_pattern(payload, sizeof(payload), seq);
		/* 5 slots; with one message (5 slots, maybe + filler) waiting, it always fits. */
		CHECK_OK(ghost_ring_produce(r, 16, MSG_TASK_WAKEUP, seq, payload, sizeof(payload)));
		if (seq == 0)
			continue;
		fill_pattern(payload, sizeof(payload), next_cons);
		check_msg(ghost_channel_peek(&q.c), MSG_TASK_WAKEUP, next_cons, payload,
			  sizeof(payload));
		ghost_channel_consume(&q.c, ghost_channel_peek(&q.c));
		next_cons++;
		CHECK(ghost_ring_used(r) <= 16);
	}
	fill_pattern(payload, sizeof(payload), next_cons);
	check_msg(ghost_channel_peek(&q.c), MSG_TASK_WAKEUP, next_cons, payload, sizeof(payload));
	ghost_channel_consume(&q.c, ghost_channel_peek(&q.c));
	CHECK(ghost_channel_peek(&q.c) == NULL);
	CHECK_EQ(r->overflow, 0);
	queue_free(&q);
}

static void test_wrap(void)
{
	wrap_run(0);
	wrap_run(0xFFFFFFF0);
	wrap_run(0xFFFFFF00);
	wrap_lagging(0);
	wrap_lagging(0xFFFFFFF0);
}

/* ---- overflow ---------------------------------------------------------------------------- */

static void test_overflow(void)
{
	struct queue q;
	struct ghost_ring *r;
	uint8_t payload[48];
	uint32_t seq = 0;
	int ok = 0;

	queue_new(&q, 16);
	r = q.c.ring;
	for (;;) {
		int ret;

		fill_pattern(payload, 8, seq);
		ret = ghost_ring_produce(r, 16, MSG_CPU_TICK, seq, payload, 8);
		if (ret == -ENOSPC)
			break;
		CHECK_OK(ret);
		ok++;
		seq++;
	}
	CHECK_EQ(ok, 8);
	CHECK_EQ(r->overflow, 1);
	for (int i = 0; i < 5; i++)
		CHECK_ERR(ghost_ring_produce(r, 16, MSG_CPU_TICK, 100, payload, 8), ENOSPC);
	/* Even a 1-slot message does not fit a full ring. */
	CHECK_ERR(ghost_ring_produce(r, 16, MSG_CPU_TICK, 100, NULL, 0), ENOSPC);
	CHECK_EQ(r->overflow, 7);
	CHECK_EQ(r->head, 16);
	CHECK_EQ(ghost_channel_overflow(&q.c), 7);
	CHECK_EQ(ghost_channel_overflow(&q.c), 0);

	for (uint32_t i = 0; i < 8; i++) {
		const struct ghost_msg *m = ghost_channel_peek(&q.c);

		fill_pattern(payload, 8, i);
		check_msg(m, MSG_CPU_TICK, i, payload, 8);
		ghost_channel_consume(&q.c, m);
	}
	CHECK(ghost_channel_peek(&q.c) == NULL);

	/* Room again. */
	fill_pattern(payload, 8, 42);
	CHECK_OK(ghost_ring_produce(r, 16, MSG_CPU_TICK, 42, payload, 8));
	check_msg(ghost_channel_peek(&q.c), MSG_CPU_TICK, 42, payload, 8);
	ghost_channel_consume(&q.c, ghost_channel_peek(&q.c));
	CHECK_EQ(ghost_channel_overflow(&q.c), 0);
	CHECK_EQ(r->overflow, 7);

	/* The filler counts: at slot 12 with 6 slots used, a 7-slot message would fit in the
	 * 10 free slots but needs 4 of filler first; it is dropped and nothing is written. */
	ring_set_indices(r, 12);
	r->tail = 6;
	memset(&r->msgs[12], 0, 4 * 8);
	fill_pattern(payload, 48, 3);
	CHECK_ERR(ghost_ring_produce(r, 16, MSG_TASK_NEW, 3, payload, 48), ENOSPC);
	CHECK_EQ(r->head, 12);
	CHECK_EQ(r->msgs[12].type, 0);
	CHECK_EQ(r->msgs[12].length, 0);
	CHECK_EQ(ghost_channel_overflow(&q.c), 1);
	/* With one slot fewer in use it fits, filler and all. */
	r->tail = 7;
	CHECK_OK(ghost_ring_produce(r, 16, MSG_TASK_NEW, 3, payload, 48));
	CHECK_EQ(r->head, 12 + 4 + 7);
	CHECK_EQ(ghost_ring_used(r), 16);
	CHECK_EQ(r->msgs[12].type, MSG_NOP);
	CHECK_EQ(r->msgs[12].length, 32);

	/* A consumer that corrupted tail (ahead of head) makes the producer refuse, not
	 * overwrite. */
	ring_set_indices(r, 100);
	r->tail = 101;
	CHECK_ERR(ghost_ring_produce(r, 16, MSG_CPU_TICK, 0, payload, 8), ENOSPC);
	CHECK_EQ(r->head, 100);

	/* The drop count is modular. */
	ring_set_indices(r, 0);
	r->overflow = 0xFFFFFFFF;
	CHECK_OK(ghost_channel_init_mem(&q.c, q.map, q.mapsize));
	CHECK_EQ(ghost_channel_overflow(&q.c), 0);
	for (int i = 0; i < 9; i++)
		ghost_ring_produce(r, 16, MSG_CPU_TICK, 0, payload, 8);
	CHECK_EQ(r->overflow, 0);
	CHECK_EQ(ghost_channel_overflow(&q.c), 1);
	queue_free(&q);
}

/* ---- two threads ------------------------------------------------------------------------- */

struct xfer {
	struct ghost_channel *c;
	uint32_t nelems;
	uint32_t nmsgs;
	uint64_t enospc; /* producer only */
};

/* The wire shape of message i: 2 to 7 slots, lengths not always a multiple of 8. */
static uint16_t xfer_length(uint32_t i)
{
	uint32_t h = i * 2654435761u;
	uint32_t slots = 2 + (h >> 16) % 6;
	uint32_t length = slots * 8 - ((h >> 8) & 7);

	if (slots == 2)
		length = 16; /* the payload needs 8 bytes: sequence and checksum */
	return (uint16_t)length;
}

static uint16_t xfer_type(uint32_t i)
{
	return (uint16_t)(i % 3 == 0 ? MSG_CPU_TICK : MSG_TASK_DEAD + i % 12);
}

static uint32_t fnv1a(const uint8_t *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Payload of message i: [u32 seq][u32 checksum of seq and the rest][pattern bytes]. */
static size_t xfer_payload(uint32_t i, uint8_t *buf)
{
	size_t len = xfer_length(i) - 8;
	uint32_t sum;

	memcpy(buf, &i, 4);
	fill_pattern(buf + 8, len - 8, i);
	sum = fnv1a(buf + 8, len - 8, fnv1a(buf, 4, 2166136261u));
	memcpy(buf + 4, &sum, 4);
	return len;
}

static void *producer(void *arg)
{
	struct xfer *x = arg;
	uint8_t buf[64];

	for (uint32_t i = 0; i < x->nmsgs; i++) {
		size_t len = xfer_payload(i, buf);
		unsigned spins = 0;
		int ret;

		while ((ret = ghost_ring_produce(x->c->ring, x->nelems, xfer_type(i), i, buf,
						 (uint16_t)len)) == -ENOSPC) {
			x->enospc++;
			if (++spins < 64)
				ghost_cpu_relax();
			else
				sched_yield();
		}
		if (ret != 0)
			return (void *)(intptr_t)ret;
	}
	return NULL;
}

static void consumer(struct xfer *x)
{
	uint8_t buf[64], want[64];
	unsigned spins = 0;

	for (uint32_t i = 0; i < x->nmsgs;) {
		const struct ghost_msg *m = ghost_channel_peek(x->c);
		uint32_t seq, sum;
		size_t len;

		if (!m) {
			if (++spins < 64)
				ghost_cpu_relax();
			else
				sched_yield();
			continue;
		}
		spins = 0;
		CHECK_MSG(ghost_channel_msg_valid(x->c, m), "message %u invalid", i);
		CHECK_MSG(m->seqnum == i, "got seqnum %u, expected %u", m->seqnum, i);
		CHECK_EQ(m->type, xfer_type(i));
		CHECK_EQ(m->length, xfer_length(i));
		len = m->length - 8u;
		ghost_msg_copy_payload(m, buf, len);
		ghost_channel_consume(x->c, m);

		memcpy(&seq, buf, 4);
		memcpy(&sum, buf + 4, 4);
		CHECK_EQ(seq, i);
		CHECK_EQ(sum, fnv1a(buf + 8, len - 8, fnv1a(buf, 4, 2166136261u)));
		CHECK_EQ(xfer_payload(i, want), len);
		CHECK_MSG(memcmp(buf, want, len) == 0, "payload of message %u corrupted", i);
		i++;
	}
}

static void test_threads(void)
{
	struct queue q;
	struct xfer x;
	pthread_t t;
	void *ret;
	const char *env = getenv("GHOST_TEST_CHANNEL_MSGS");

	queue_new(&q, 64);
	x.c = &q.c;
	x.nelems = 64;
	x.nmsgs = env ? (uint32_t)strtoul(env, NULL, 0) : THREAD_MSGS_DEFAULT;
	x.enospc = 0;
	CHECK_EQ(pthread_create(&t, NULL, producer, &x), 0);
	consumer(&x);
	CHECK_EQ(pthread_join(t, &ret), 0);
	CHECK_MSG(ret == NULL, "producer failed: %d", (int)(intptr_t)ret);
	CHECK(ghost_channel_peek(&q.c) == NULL);
	CHECK_EQ(q.c.ring->tail, q.c.ring->head);
	/* Every refusal was counted, and nothing was lost: the producer retried each. */
	CHECK_EQ(q.c.ring->overflow, (uint32_t)x.enospc);
	CHECK_EQ(ghost_channel_overflow(&q.c), (uint32_t)x.enospc);
	printf("threads: %u messages, %llu full-ring retries\n", x.nmsgs,
	       (unsigned long long)x.enospc);
	queue_free(&q);
}

/* ---- malformed content ------------------------------------------------------------------- */

/* Publishes a hand-written message header at the ring's head, advancing head by `publish`. */
static void publish_raw(struct ghost_ring *r, uint16_t type, uint16_t length, uint32_t publish)
{
	struct ghost_msg *m = &r->msgs[r->head & 15];

	m->type = type;
	m->length = length;
	m->seqnum = 77;
	__atomic_store_n(&r->head, r->head + publish, __ATOMIC_RELEASE);
}

static void test_malformed(void)
{
	struct queue q;
	struct ghost_ring *r;
	const struct ghost_msg *m;

	queue_new(&q, 16);
	r = q.c.ring;

	/* Length 0 (a task message): returned as is, invalid, consume stops at head. */
	publish_raw(r, MSG_TASK_NEW, 0, 1);
	m = ghost_channel_peek(&q.c);
	CHECK(m == &r->msgs[0]);
	CHECK(!ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK_EQ(r->tail, 1);
	CHECK_EQ(r->head, 1);
	CHECK(ghost_channel_peek(&q.c) == NULL);

	/* Length 0 with more published after it: tail never passes head. */
	publish_raw(r, MSG_TASK_DEAD, 0, 3);
	m = ghost_channel_peek(&q.c);
	CHECK(m != NULL);
	CHECK(!ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK(r->head - r->tail <= 16);
	CHECK_EQ(r->tail, r->head);

	/* A NOP of length 0 is not skipped forever: peek returns it, and it is invalid. */
	publish_raw(r, MSG_NOP, 0, 1);
	m = ghost_channel_peek(&q.c);
	CHECK(m != NULL);
	CHECK_EQ(m->type, MSG_NOP);
	CHECK(!ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK_EQ(r->tail, r->head);

	/* A length claiming 7 slots where 3 were published: invalid, consume stops at head. */
	publish_raw(r, MSG_TASK_NEW, 56, 3);
	m = ghost_channel_peek(&q.c);
	CHECK(m != NULL);
	CHECK(!ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK_EQ(r->tail, r->head);

	/* A length of 2 slots published as 2: valid (the boundary). */
	publish_raw(r, MSG_CPU_TICK, 16, 2);
	m = ghost_channel_peek(&q.c);
	CHECK(m != NULL);
	CHECK(ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK_EQ(r->tail, r->head);

	/* A header shorter than 8 bytes: invalid. */
	publish_raw(r, MSG_CPU_TICK, 7, 1);
	m = ghost_channel_peek(&q.c);
	CHECK(m != NULL);
	CHECK(!ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK_EQ(r->tail, r->head);

	/*
	 * A NOP whose length claims more slots than were published: peek must hand it
	 * out as malformed instead of moving tail past head.
	 */
	publish_raw(r, MSG_NOP, 15 * 8, 2);
	m = ghost_channel_peek(&q.c);
	CHECK(r->head - r->tail <= 16);
	CHECK(m == &r->msgs[(r->head - 2) & 15]);
	CHECK(!ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK_EQ(r->tail, r->head);

	/*
	 * A message at the last slot whose length runs past the end of the ring
	 * (enough was published, so only its position gives it away): invalid,
	 * and nothing reads beyond the ring.
	 */
	ring_set_indices(r, 15);
	publish_raw(r, MSG_TASK_NEW, 24, 3);
	m = ghost_channel_peek(&q.c);
	CHECK(m == &r->msgs[15]);
	CHECK(!ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK_EQ(r->tail, r->head);
	/* The same length one slot earlier fits exactly: valid. */
	ring_set_indices(r, 14);
	publish_raw(r, MSG_TASK_NEW, 16, 2);
	m = ghost_channel_peek(&q.c);
	CHECK(m == &r->msgs[14]);
	CHECK(ghost_channel_msg_valid(&q.c, m));
	ghost_channel_consume(&q.c, m);
	CHECK_EQ(r->tail, r->head);

	/* The producer still works after all that. */
	CHECK_OK(ghost_ring_produce(r, 16, MSG_CPU_BUSY, 5, "abcd", 4));
	check_msg(ghost_channel_peek(&q.c), MSG_CPU_BUSY, 5, (const uint8_t *)"abcd", 4);
	ghost_channel_consume(&q.c, ghost_channel_peek(&q.c));
	CHECK(ghost_channel_peek(&q.c) == NULL);
	queue_free(&q);
}

int main(void)
{
	test_mapsize();
	test_format();
	test_init_rejects();
	test_single_thread();
	test_produce_limits();
	test_wrap();
	test_overflow();
	test_malformed();
	test_threads();
	return 0;
}
