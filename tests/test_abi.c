/*
 * tests/test_abi.c - run-time checks of the ghOSt ABI header.
 *
 * The header asserts its layout at compile time; this program re-checks the same facts at run
 * time through real objects (so a broken build flag or a packed-struct pragma leaking in from
 * elsewhere shows up), and exercises the pure helpers and the ring/slot arithmetic that agents
 * and the emulated kernel both depend on.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "ghost/abi.h"
#include "test.h"

/* Byte distance between two addresses. */
#define BYTE_DIFF(a, b) ((long long)((const char *)(a) - (const char *)(b)))

static void test_txn_layout(void)
{
	struct ghost_txn txn;

	CHECK_EQ(sizeof(struct ghost_txn), 64);
	CHECK_EQ(_Alignof(struct ghost_txn), 64);
	CHECK_EQ(offsetof(struct ghost_txn, version), 0);
	CHECK_EQ(offsetof(struct ghost_txn, cpu), 4);
	CHECK_EQ(offsetof(struct ghost_txn, state), 8);
	CHECK_EQ(offsetof(struct ghost_txn, agent_barrier), 12);
	CHECK_EQ(offsetof(struct ghost_txn, task_barrier), 16);
	CHECK_EQ(offsetof(struct ghost_txn, run_flags), 20);
	CHECK_EQ(offsetof(struct ghost_txn, commit_flags), 22);
	CHECK_EQ(offsetof(struct ghost_txn, unused), 23);
	CHECK_EQ(offsetof(struct ghost_txn, gtid), 24);
	CHECK_EQ(offsetof(struct ghost_txn, commit_time), 32);
	CHECK_EQ(offsetof(struct ghost_txn, cpu_seqnum), 40);
	CHECK_EQ(offsetof(struct ghost_txn, u.sync_group_owner), 48);
	CHECK_EQ(sizeof(txn.state), 4);
	CHECK_EQ(sizeof(txn.u), 4);
	CHECK_EQ(sizeof(txn.run_flags), 2);
	CHECK_EQ(sizeof(txn.commit_flags), 1);
	CHECK_EQ((uintptr_t)&txn % 64, 0);

	/* The flag fields must hold every defined flag without truncation. */
	txn.run_flags = DO_NOT_PREEMPT | SEND_TASK_ON_CPU | RTLA_ON_IDLE;
	CHECK_EQ(txn.run_flags, 0x1420);
	txn.commit_flags = INC_AGENT_BARRIER_ON_FAILURE | ALLOW_TASK_ONCPU | COMMIT_AT_TXN_COMMIT;
	CHECK_EQ(txn.commit_flags, 0x16);
}

static void test_cpu_data(void)
{
	struct ghost_cpu_data *cd;
	const int ncpus = 4;

	CHECK_EQ(sizeof(struct ghost_cpu_data), GHOST_CPU_DATA_SIZE);
	CHECK_EQ(sizeof(struct ghost_cpu_data), 4096);
	CHECK_EQ(_Alignof(struct ghost_cpu_data), 4096);
	CHECK_EQ(offsetof(struct ghost_cpu_data, txn), 0);

	cd = aligned_alloc(_Alignof(struct ghost_cpu_data), ncpus * sizeof(*cd));
	CHECK(cd != NULL);
	CHECK_EQ((uintptr_t)cd % 4096, 0);
	memset(cd, 0, ncpus * sizeof(*cd));

	/* Page i holds cpu i's txn at offset 0, as in the cpu_data mapping. */
	for (int i = 0; i < ncpus; i++) {
		CHECK_EQ(BYTE_DIFF(&cd[i].txn, cd), 4096LL * i);
		CHECK_EQ((uintptr_t)&cd[i].txn % 4096, 0);
		/* Initialise like the kernel does for a fresh enclave cpu. */
		cd[i].txn.cpu = i;
		cd[i].txn.version = GHOST_TXN_VERSION;
		cd[i].txn.u.sync_group_owner = -1;
		cd[i].txn.state = GHOST_TXN_COMPLETE;
	}
	/* Through raw bytes: cpu 2's state is at 2 * 4096 + 8. */
	{
		int32_t raw;

		memcpy(&raw, (char *)cd + 2 * 4096 + 8, sizeof(raw));
		CHECK_EQ(raw, INT_MIN);
		memcpy(&raw, (char *)cd + 3 * 4096 + 4, sizeof(raw));
		CHECK_EQ(raw, 3);
		memcpy(&raw, (char *)cd + 1 * 4096 + 48, sizeof(raw));
		CHECK_EQ(raw, -1);
	}
	free(cd);
}

static void test_status_words(void)
{
	struct ghost_sw_region_header *hdr;
	struct ghost_status_word *sw;

	CHECK_EQ(sizeof(struct ghost_status_word), 32);
	CHECK_EQ(_Alignof(struct ghost_status_word), 32);
	CHECK_EQ(offsetof(struct ghost_status_word, barrier), 0);
	CHECK_EQ(offsetof(struct ghost_status_word, flags), 4);
	CHECK_EQ(offsetof(struct ghost_status_word, gtid), 8);
	CHECK_EQ(offsetof(struct ghost_status_word, switch_time), 16);
	CHECK_EQ(offsetof(struct ghost_status_word, runtime), 24);

	CHECK_EQ(sizeof(struct ghost_sw_region_header), 64);
	CHECK_EQ(_Alignof(struct ghost_sw_region_header), 64);
	CHECK_EQ(offsetof(struct ghost_sw_region_header, start), 12);
	CHECK_EQ(offsetof(struct ghost_sw_region_header, capacity), 16);
	CHECK_EQ(offsetof(struct ghost_sw_region_header, available), 20);

	/* The whole region: header + capacity words is exactly 2 MiB. */
	CHECK_EQ(64 + (long long)GHOST_SW_REGION_CAPACITY * 32, GHOST_SW_REGION_SIZE);

	hdr = aligned_alloc(64, GHOST_SW_REGION_SIZE);
	CHECK(hdr != NULL);
	memset(hdr, 0, GHOST_SW_REGION_SIZE);
	hdr->start = sizeof(*hdr);
	hdr->capacity = GHOST_SW_REGION_CAPACITY;
	sw = (struct ghost_status_word *)((char *)hdr + hdr->start);
	CHECK_EQ(BYTE_DIFF(&sw[hdr->capacity], hdr), GHOST_SW_REGION_SIZE);
	CHECK_EQ(BYTE_DIFF(&sw[7], hdr), 64 + 7 * 32);
	CHECK_EQ((uintptr_t)&sw[7] % 32, 0);
	free(hdr);

	CHECK_EQ(GHOST_SW_F_INUSE, 0x1);
	CHECK_EQ(GHOST_SW_F_CANFREE, 0x2);
	CHECK_EQ(GHOST_SW_F_ALLOCATED, 0x4);
	CHECK_EQ(GHOST_SW_CPU_AVAIL, 0x100);
	CHECK_EQ(GHOST_SW_BOOST_PRIO, 0x200);
	CHECK_EQ(GHOST_SW_TASK_ONCPU, 0x10000);
	CHECK_EQ(GHOST_SW_TASK_RUNNABLE, 0x20000);
	CHECK_EQ(GHOST_SW_TASK_IS_AGENT, 0x40000);
	CHECK_EQ(GHOST_SW_TASK_MSG_GATED, 0x80000);
}

static void test_queue_layout(void)
{
	CHECK_EQ(sizeof(struct ghost_queue_header), 64);
	CHECK_EQ(_Alignof(struct ghost_queue_header), 64);
	CHECK_EQ(offsetof(struct ghost_queue_header, version), 0);
	CHECK_EQ(offsetof(struct ghost_queue_header, start), 4);
	CHECK_EQ(offsetof(struct ghost_queue_header, nelems), 8);

	CHECK_EQ(sizeof(struct ghost_ring), 12);
	CHECK_EQ(_Alignof(struct ghost_ring), 4);
	CHECK_EQ(offsetof(struct ghost_ring, head), 0);
	CHECK_EQ(offsetof(struct ghost_ring, tail), 4);
	CHECK_EQ(offsetof(struct ghost_ring, overflow), 8);
	CHECK_EQ(offsetof(struct ghost_ring, msgs), 12);

	CHECK_EQ(sizeof(struct ghost_msg), 8);
	CHECK_EQ(_Alignof(struct ghost_msg), 4);
	CHECK_EQ(offsetof(struct ghost_msg, type), 0);
	CHECK_EQ(offsetof(struct ghost_msg, length), 2);
	CHECK_EQ(offsetof(struct ghost_msg, seqnum), 4);
	CHECK_EQ(offsetof(struct ghost_msg, payload), 8);

	/* Largest queue: 64 + 12 + 8 * 65536 bytes, page-aligned, is 129 pages. */
	{
		long long raw = 64 + 12 + 8LL * GHOST_MAX_QUEUE_ELEMS;

		CHECK_EQ((raw + 4095) / 4096 * 4096, 528384);
	}
}

/* A queue in one buffer, laid out as the kernel maps it. */
struct test_queue {
	struct ghost_queue_header *hdr;
	struct ghost_ring *ring;
	uint32_t nelems;
};

/* The kernel side: place a message, with a NOP filler if it would not fit before the end. */
static int test_produce(struct test_queue *q, uint16_t type, uint32_t seqnum, const void *payload,
			size_t payload_len)
{
	uint32_t length = sizeof(struct ghost_msg) + payload_len;
	uint32_t need = ghost_msg_slots(length);
	uint32_t head = q->ring->head;
	uint32_t tail = __atomic_load_n(&q->ring->tail, __ATOMIC_ACQUIRE);
	uint32_t idx = head & (q->nelems - 1);
	uint32_t skip = 0;
	struct ghost_msg *m;

	if (idx + need > q->nelems)
		skip = q->nelems - idx;
	if (head - tail + skip + need > q->nelems) {
		q->ring->overflow++;
		return -1;
	}
	if (skip) {
		m = &q->ring->msgs[idx];
		m->type = MSG_NOP;
		m->length = skip * sizeof(struct ghost_msg);
		m->seqnum = 0;
		idx = 0;
	}
	m = &q->ring->msgs[idx];
	m->type = type;
	m->length = length;
	m->seqnum = seqnum;
	memcpy(m->payload, payload, payload_len);
	__atomic_store_n(&q->ring->head, head + skip + need, __ATOMIC_RELEASE);
	return 0;
}

/* The agent side: next non-NOP message, or NULL when the ring is empty. */
static struct ghost_msg *test_peek(struct test_queue *q)
{
	for (;;) {
		uint32_t tail = q->ring->tail;
		uint32_t head = __atomic_load_n(&q->ring->head, __ATOMIC_ACQUIRE);
		struct ghost_msg *m;

		if (head == tail)
			return NULL;
		m = &q->ring->msgs[tail & (q->nelems - 1)];
		if (m->type != MSG_NOP)
			return m;
		__atomic_store_n(&q->ring->tail, tail + ghost_msg_slots(m->length),
				 __ATOMIC_RELEASE);
	}
}

static void test_consume(struct test_queue *q, const struct ghost_msg *m)
{
	__atomic_store_n(&q->ring->tail, q->ring->tail + ghost_msg_slots(m->length),
			 __ATOMIC_RELEASE);
}

static void test_ring(void)
{
	const uint32_t nelems = 16;
	size_t size = 64 + 12 + 8 * nelems;
	struct ghost_msg_payload_task_new tn, out;
	struct ghost_msg_payload_task_dead td;
	struct ghost_msg_payload_cpu_tick tick;
	struct test_queue q;
	struct ghost_msg *m;
	char *base;

	base = aligned_alloc(4096, 4096);
	CHECK(base != NULL);
	CHECK(size <= 4096);
	memset(base, 0, 4096);
	q.hdr = (struct ghost_queue_header *)base;
	q.hdr->version = GHOST_QUEUE_VERSION;
	q.hdr->start = sizeof(struct ghost_queue_header);
	q.hdr->nelems = nelems;
	q.nelems = nelems;
	q.ring = (struct ghost_ring *)(base + q.hdr->start);

	/* Ring at +64, slot i at +76 + 8 * i, so every slot is 4 mod 8. */
	CHECK_EQ(BYTE_DIFF(q.ring, base), 64);
	CHECK_EQ(BYTE_DIFF(&q.ring->msgs[0], base), 76);
	for (uint32_t i = 0; i < nelems; i++) {
		CHECK_EQ(BYTE_DIFF(&q.ring->msgs[i], base), 76 + 8 * (long long)i);
		CHECK_EQ((uintptr_t)&q.ring->msgs[i] % 8, 4);
		CHECK_EQ(BYTE_DIFF(q.ring->msgs[i].payload, &q.ring->msgs[i + 1]), 0);
	}
	CHECK_EQ(BYTE_DIFF(&q.ring->msgs[nelems], base), (long long)size);

	memset(&tn, 0, sizeof(tn));
	tn.gtid = ((uint64_t)1234 << GHOST_GTID_SEQ_BITS) | 99;
	tn.parent_gtid = ((uint64_t)1 << GHOST_GTID_SEQ_BITS) | 1;
	tn.runtime = 5000;
	tn.runnable = 1;
	tn.nice = -5;
	tn.sw_info.id = 0;
	tn.sw_info.index = 42;
	tn.agent_data = 0xfeedfacecafebeefULL;

	/* TASK_NEW: 56 bytes, 7 slots (0..6). */
	CHECK_OK(test_produce(&q, MSG_TASK_NEW, 1, &tn, sizeof(tn)));
	CHECK_EQ(q.ring->head, 7);
	m = test_peek(&q);
	CHECK(m == &q.ring->msgs[0]);
	CHECK_EQ(m->type, MSG_TASK_NEW);
	CHECK_EQ(m->length, 56);
	CHECK_EQ(m->seqnum, 1);
	/* The payload is 4 mod 8; copy it out before using the 64-bit fields. */
	CHECK_EQ((uintptr_t)m->payload % 8, 4);
	memcpy(&out, m->payload, sizeof(out));
	CHECK(memcmp(&out, &tn, sizeof(tn)) == 0);
	CHECK_EQ(out.agent_data, 0xfeedfacecafebeefULL);
	CHECK_EQ(ghost_gtid_to_tid((int64_t)out.gtid), 1234);
	{
		/* gtid is the first u64 of every task payload. */
		uint64_t gtid;

		memcpy(&gtid, m->payload, sizeof(gtid));
		CHECK_EQ(gtid, tn.gtid);
	}
	test_consume(&q, m);
	CHECK_EQ(q.ring->tail, 7);
	CHECK(test_peek(&q) == NULL);

	/* Two more TASK_NEWs: the second would need slots 14..20, so a NOP fills 14..15. */
	CHECK_OK(test_produce(&q, MSG_TASK_NEW, 2, &tn, sizeof(tn)));
	CHECK_EQ(q.ring->head, 14);
	m = test_peek(&q);
	CHECK(m == &q.ring->msgs[7]);
	test_consume(&q, m);
	CHECK_OK(test_produce(&q, MSG_TASK_NEW, 3, &tn, sizeof(tn)));
	CHECK_EQ(q.ring->head, 14 + 2 + 7);
	CHECK_EQ(q.ring->msgs[14].type, MSG_NOP);
	CHECK_EQ(q.ring->msgs[14].length, 16);
	m = test_peek(&q);
	CHECK(m == &q.ring->msgs[0]);
	CHECK_EQ(m->seqnum, 3);
	CHECK_EQ(q.ring->tail, 16);
	test_consume(&q, m);
	CHECK_EQ(q.ring->tail, 23);

	/* Small messages: TASK_DEAD 24 bytes = 3 slots; CPU_TICK 16 bytes = 2 slots. */
	memset(&td, 0, sizeof(td));
	td.gtid = tn.gtid;
	td.cpu = 3;
	CHECK_OK(test_produce(&q, MSG_TASK_DEAD, 4, &td, sizeof(td)));
	memset(&tick, 0, sizeof(tick));
	tick.cpu = 3;
	tick.is_agent = 1;
	CHECK_OK(test_produce(&q, MSG_CPU_TICK, 9, &tick, sizeof(tick)));
	CHECK_EQ(q.ring->head, 23 + 3 + 2);
	m = test_peek(&q);
	CHECK(m == &q.ring->msgs[7]);
	CHECK_EQ(m->length, 24);
	CHECK(ghost_msg_is_task(m->type));
	test_consume(&q, m);
	m = test_peek(&q);
	CHECK(m == &q.ring->msgs[10]);
	CHECK_EQ(m->type, MSG_CPU_TICK);
	CHECK(ghost_msg_is_cpu(m->type));
	{
		int cpu;

		memcpy(&cpu, m->payload, sizeof(cpu));
		CHECK_EQ(cpu, 3);
	}
	test_consume(&q, m);
	CHECK(test_peek(&q) == NULL);

	/*
	 * Fill it exactly. Head is at index 12: TASK_NEW wraps behind a 4-slot NOP (11 slots),
	 * TASK_DEAD takes 3 and CPU_TICK the last 2; then even a 2-slot message overflows.
	 */
	CHECK_EQ(q.ring->head & (nelems - 1), 12);
	CHECK_OK(test_produce(&q, MSG_TASK_NEW, 5, &tn, sizeof(tn)));
	CHECK_EQ(q.ring->msgs[12].length, 32);
	CHECK_OK(test_produce(&q, MSG_TASK_DEAD, 6, &td, sizeof(td)));
	CHECK_OK(test_produce(&q, MSG_CPU_TICK, 10, &tick, sizeof(tick)));
	CHECK_EQ(q.ring->head - q.ring->tail, nelems);
	CHECK_EQ(test_produce(&q, MSG_CPU_TICK, 11, &tick, sizeof(tick)), -1);
	CHECK_EQ(q.ring->overflow, 1);
	/* Drain: the NOP is skipped, then the three messages come out in order. */
	{
		static const uint32_t want[] = { 5, 6, 10 };

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			m = test_peek(&q);
			CHECK(m != NULL);
			CHECK_EQ(m->seqnum, want[i]);
			test_consume(&q, m);
		}
		CHECK(test_peek(&q) == NULL);
	}
	CHECK_EQ(q.ring->tail, q.ring->head);
	free(base);
}

struct wire_row {
	uint16_t type;
	size_t payload;
	int length;
	int slots;
};

static void test_wire_lengths(void)
{
	/* Section 3.7, v91 column. */
	static const struct wire_row rows[] = {
		{ MSG_TASK_DEAD, sizeof(struct ghost_msg_payload_task_dead), 24, 3 },
		{ MSG_TASK_BLOCKED, sizeof(struct ghost_msg_payload_task_blocked), 40, 5 },
		{ MSG_TASK_WAKEUP, sizeof(struct ghost_msg_payload_task_wakeup), 40, 5 },
		{ MSG_TASK_NEW, sizeof(struct ghost_msg_payload_task_new), 56, 7 },
		{ MSG_TASK_PREEMPT, sizeof(struct ghost_msg_payload_task_preempt), 48, 6 },
		{ MSG_TASK_YIELD, sizeof(struct ghost_msg_payload_task_yield), 48, 6 },
		{ MSG_TASK_DEPARTED, sizeof(struct ghost_msg_payload_task_departed), 32, 4 },
		{ MSG_TASK_SWITCHTO, sizeof(struct ghost_msg_payload_task_switchto), 40, 5 },
		{ MSG_TASK_AFFINITY_CHANGED, sizeof(struct ghost_msg_payload_task_affinity_changed),
		  16, 2 },
		{ MSG_TASK_ON_CPU, sizeof(struct ghost_msg_payload_task_on_cpu), 40, 5 },
		{ MSG_TASK_PRIORITY_CHANGED, sizeof(struct ghost_msg_payload_task_priority_changed),
		  24, 3 },
		{ MSG_TASK_LATCH_FAILURE, sizeof(struct ghost_msg_payload_task_latch_failure), 24,
		  3 },
		{ MSG_CPU_TICK, sizeof(struct ghost_msg_payload_cpu_tick), 16, 2 },
		{ MSG_CPU_TIMER_EXPIRED, sizeof(struct ghost_msg_payload_timer), 32, 4 },
		{ MSG_CPU_NOT_IDLE, sizeof(struct ghost_msg_payload_cpu_not_idle), 24, 3 },
		{ MSG_CPU_AVAILABLE, sizeof(struct ghost_msg_payload_cpu_available), 12, 2 },
		{ MSG_CPU_BUSY, sizeof(struct ghost_msg_payload_cpu_busy), 12, 2 },
		{ MSG_CPU_AGENT_BLOCKED, sizeof(struct ghost_msg_payload_agent_blocked), 12, 2 },
		{ MSG_CPU_AGENT_WAKEUP, sizeof(struct ghost_msg_payload_agent_wakeup), 12, 2 },
	};
	static const int values[] = { 64, 65, 66,  67,	68,  69,  70,  71,  72, 73,
				      74, 75, 128, 129, 130, 131, 132, 133, 134 };
	size_t n = sizeof(rows) / sizeof(rows[0]);

	CHECK_EQ(n, sizeof(values) / sizeof(values[0]));
	for (size_t i = 0; i < n; i++) {
		int length = (int)(sizeof(struct ghost_msg) + rows[i].payload);

		CHECK_MSG(rows[i].type == values[i], "row %zu: type %u", i, rows[i].type);
		CHECK_MSG(length == rows[i].length, "%s: length %d, want %d",
			  ghost_msg_type_name(rows[i].type), length, rows[i].length);
		CHECK_MSG((int)ghost_msg_slots(length) == rows[i].slots, "%s: slots %u, want %d",
			  ghost_msg_type_name(rows[i].type), ghost_msg_slots(length),
			  rows[i].slots);
		CHECK(ghost_msg_is_task(rows[i].type) != ghost_msg_is_cpu(rows[i].type));
		CHECK(strcmp(ghost_msg_type_name(rows[i].type), "unknown") != 0);
	}

	/* The renamed latch-failure field is still the int at offset 8, next to <errno.h>. */
	CHECK_EQ(offsetof(struct ghost_msg_payload_task_latch_failure, err), 8);
	{
		struct ghost_msg_payload_task_latch_failure lf = { .gtid = 7, .err = EBUSY };

		errno = 0;
		CHECK_EQ(lf.err, EBUSY);
		CHECK_EQ(errno, 0);
	}

	/* Cpu payloads start with the cpu, task payloads with the gtid. */
	CHECK_EQ(offsetof(struct ghost_msg_payload_cpu_not_idle, cpu), 0);
	CHECK_EQ(offsetof(struct ghost_msg_payload_timer, cpu), 0);
	CHECK_EQ(offsetof(struct ghost_msg_payload_task_wakeup, gtid), 0);
	CHECK_EQ(offsetof(struct ghost_msg_payload_task_new, agent_data), 40);
	CHECK_EQ(offsetof(struct ghost_msg_payload_task_wakeup, last_ran_cpu), 20);

	/* BPF view: the union is as large as the largest payload (TASK_NEW). */
	CHECK_EQ(sizeof(struct bpf_ghost_msg), 64);
	CHECK_EQ(offsetof(struct bpf_ghost_msg, type), 48);
	CHECK_EQ(offsetof(struct bpf_ghost_msg, seqnum), 52);
	CHECK_EQ(offsetof(struct bpf_ghost_msg, pref_cpu), 56);
	CHECK_EQ(sizeof(struct bpf_ghost_sched), 16);
	CHECK_EQ(offsetof(struct bpf_ghost_sched, next_gtid), 8);
	CHECK_EQ(sizeof(struct bpf_ghost_select_rq), 32);
	CHECK_EQ(sizeof(struct bpf_ghost_halt_poll), 4);
	CHECK_EQ(sizeof(struct bpf_sync_commit_args), 48);
	CHECK_EQ(offsetof(struct bpf_sync_commit_args, commit_flags), 40);
}

static void test_msg_helpers(void)
{
	CHECK_EQ(ghost_msg_slots(0), 0);
	CHECK_EQ(ghost_msg_slots(1), 1);
	CHECK_EQ(ghost_msg_slots(8), 1);
	CHECK_EQ(ghost_msg_slots(9), 2);
	CHECK_EQ(ghost_msg_slots(12), 2);
	CHECK_EQ(ghost_msg_slots(16), 2);
	CHECK_EQ(ghost_msg_slots(17), 3);
	CHECK_EQ(ghost_msg_slots(56), 7);
	CHECK_EQ(ghost_msg_slots(65535), 8192);

	CHECK_STR(ghost_msg_type_name(MSG_NOP), "MSG_NOP");
	CHECK_STR(ghost_msg_type_name(MSG_TASK_DEAD), "MSG_TASK_DEAD");
	CHECK_STR(ghost_msg_type_name(MSG_TASK_NEW), "MSG_TASK_NEW");
	CHECK_STR(ghost_msg_type_name(73), "MSG_TASK_ON_CPU");
	CHECK_STR(ghost_msg_type_name(MSG_TASK_LATCH_FAILURE), "MSG_TASK_LATCH_FAILURE");
	CHECK_STR(ghost_msg_type_name(MSG_CPU_TICK), "MSG_CPU_TICK");
	CHECK_STR(ghost_msg_type_name(129), "MSG_CPU_TIMER_EXPIRED");
	CHECK_STR(ghost_msg_type_name(MSG_CPU_AGENT_WAKEUP), "MSG_CPU_AGENT_WAKEUP");
	CHECK_STR(ghost_msg_type_name(76), "unknown");
	CHECK_STR(ghost_msg_type_name(135), "unknown");
	CHECK_STR(ghost_msg_type_name(1), "unknown");
	CHECK_STR(ghost_msg_type_name(0xffff), "unknown");

	CHECK(!ghost_msg_is_task(MSG_NOP) && !ghost_msg_is_cpu(MSG_NOP));
	CHECK(ghost_msg_is_task(_MSG_TASK_FIRST) && ghost_msg_is_task(_MSG_TASK_LAST));
	CHECK(!ghost_msg_is_task(63) && !ghost_msg_is_task(128));
	CHECK(ghost_msg_is_cpu(_MSG_CPU_FIRST) && ghost_msg_is_cpu(_MSG_CPU_LAST));
	CHECK(!ghost_msg_is_cpu(127) && !ghost_msg_is_cpu(192));
	CHECK_EQ(_MSG_TASK_LAST, 127);
	CHECK_EQ(_MSG_CPU_LAST, 191);
}

static void test_txn_states(void)
{
	struct ghost_txn txn;
	int32_t expect;

	CHECK_EQ(GHOST_TXN_COMPLETE, INT_MIN);
	CHECK_EQ((uint32_t)GHOST_TXN_COMPLETE, 0x80000000u);
	CHECK_EQ(GHOST_TXN_ABORTED, INT_MIN + 1);
	CHECK_EQ(GHOST_TXN_TARGET_STALE, INT_MIN + 3);
	CHECK_EQ(GHOST_TXN_NO_AGENT, INT_MIN + 13);
	CHECK_EQ((uint32_t)GHOST_TXN_POISONED, 0x8000000fu);
	CHECK_EQ(GHOST_TXN_READY, INT_MAX);
	CHECK_EQ(sizeof(enum ghost_txn_state), 4);

	CHECK_STR(ghost_txn_state_name(GHOST_TXN_COMPLETE), "GHOST_TXN_COMPLETE");
	CHECK_STR(ghost_txn_state_name(INT_MIN + 2), "GHOST_TXN_TARGET_ONCPU");
	CHECK_STR(ghost_txn_state_name(GHOST_TXN_AGENT_STALE), "GHOST_TXN_AGENT_STALE");
	CHECK_STR(ghost_txn_state_name(GHOST_TXN_UNSUPPORTED_VERSION),
		  "GHOST_TXN_UNSUPPORTED_VERSION");
	CHECK_STR(ghost_txn_state_name(GHOST_TXN_POISONED), "GHOST_TXN_POISONED");
	CHECK_STR(ghost_txn_state_name(GHOST_TXN_READY), "GHOST_TXN_READY");
	CHECK_STR(ghost_txn_state_name(0), "claimed");
	CHECK_STR(ghost_txn_state_name(5), "claimed");
	CHECK_STR(ghost_txn_state_name(INT_MAX - 1), "claimed");
	CHECK_STR(ghost_txn_state_name(INT_MIN + 16), "unknown");
	CHECK_STR(ghost_txn_state_name(-1), "unknown");

	/* Every failure code is committed-and-failed; only COMPLETE succeeded. */
	for (int32_t s = GHOST_TXN_ABORTED; s <= GHOST_TXN_POISONED; s++) {
		CHECK(ghost_txn_state_is_committed(s));
		CHECK(ghost_txn_state_is_failed(s));
		CHECK(!ghost_txn_state_is_claimed(s) && !ghost_txn_state_is_open(s));
		CHECK(strncmp(ghost_txn_state_name(s), "GHOST_TXN_", 10) == 0);
	}
	CHECK(ghost_txn_state_is_committed(GHOST_TXN_COMPLETE));
	CHECK(!ghost_txn_state_is_failed(GHOST_TXN_COMPLETE));
	CHECK(ghost_txn_state_is_open(GHOST_TXN_READY));
	CHECK(!ghost_txn_state_is_claimed(GHOST_TXN_READY));
	CHECK(!ghost_txn_state_is_committed(GHOST_TXN_READY));
	CHECK(ghost_txn_state_is_claimed(0) && ghost_txn_state_is_claimed(511));

	/* The state machine as both sides drive it, with the same atomics. */
	memset(&txn, 0, sizeof(txn));
	txn.state = GHOST_TXN_COMPLETE;
	__atomic_store_n(&txn.state, GHOST_TXN_READY, __ATOMIC_RELEASE);
	expect = GHOST_TXN_READY;
	CHECK(__atomic_compare_exchange_n(&txn.state, &expect, 3, false, __ATOMIC_ACQUIRE,
					  __ATOMIC_RELAXED));
	CHECK_STR(ghost_txn_state_name(txn.state), "claimed");
	/* Abort loses once claimed. */
	expect = GHOST_TXN_READY;
	CHECK(!__atomic_compare_exchange_n(&txn.state, &expect, GHOST_TXN_ABORTED, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	CHECK_EQ(expect, 3);
	__atomic_store_n(&txn.state, GHOST_TXN_TARGET_STALE, __ATOMIC_RELEASE);
	CHECK(ghost_txn_state_is_failed(__atomic_load_n(&txn.state, __ATOMIC_ACQUIRE)));

	/* Sync-group ownership: CAS -1 -> owner. */
	txn.u.sync_group_owner = -1;
	expect = -1;
	CHECK(__atomic_compare_exchange_n(&txn.u.sync_group_owner, &expect, 7, false,
					  __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	CHECK_EQ(txn.u.sync_group_owner, 7);
}

static void test_gtid(void)
{
	int64_t max_tid = ((int64_t)1 << GHOST_GTID_PID_BITS) - 1;
	int64_t seq_mask = ((int64_t)1 << GHOST_GTID_SEQ_BITS) - 1;
	int64_t gtid;

	CHECK_EQ(GHOST_GTID_PID_BITS + GHOST_GTID_SEQ_BITS, 63);
	CHECK_EQ(ghost_gtid_to_tid(((int64_t)1 << GHOST_GTID_SEQ_BITS) | 1), 1);
	CHECK_EQ(ghost_gtid_to_tid(((int64_t)4242 << GHOST_GTID_SEQ_BITS) | seq_mask), 4242);
	gtid = (max_tid << GHOST_GTID_SEQ_BITS) | 12345;
	CHECK(gtid > 0);
	CHECK_EQ(ghost_gtid_to_tid(gtid), 4194303);
	CHECK_EQ(ghost_gtid_to_tid(GHOST_NULL_GTID), 0);
	CHECK(ghost_gtid_to_tid(GHOST_AGENT_GTID) < 0);
	CHECK(ghost_gtid_to_tid(GHOST_IDLE_GTID) < 0);
	CHECK_EQ(GHOST_AGENT_GTID, -1);
	CHECK_EQ(GHOST_IDLE_GTID, -2);
}

static void test_ioctls_and_flags(void)
{
	CHECK_EQ(GHOST_IOC_NULL, 0x00006700);
	CHECK_EQ(GHOST_IOC_SW_GET_INFO, 0xc0186701u);
	CHECK_EQ(GHOST_IOC_CREATE_QUEUE, 0xc0186703u);
	CHECK_EQ(GHOST_IOC_COMMIT_TXN, 0x40106708);
	CHECK_EQ(GHOST_IOC_SYNC_GROUP_TXN, 0x40106709);
	CHECK_EQ(GHOST_IOC_TIMERFD_SETTIME, 0xc030670au);
	CHECK_EQ(GHOST_IOC_RUN, 0x4018670b);
	CHECK_EQ(_IOC_TYPE(GHOST_IOC_RUN), 'g');
	CHECK_EQ(_IOC_NR(GHOST_IOC_RUN), 11);
	CHECK_EQ(_IOC_SIZE(GHOST_IOC_RUN), sizeof(struct ghost_ioc_run));
	CHECK_EQ(_IOC_DIR(GHOST_IOC_RUN), _IOC_WRITE);
	CHECK_EQ(_IOC_DIR(GHOST_IOC_GET_CPU_TIME), _IOC_READ | _IOC_WRITE);
	CHECK_EQ(_IOC_SIZE(GHOST_IOC_ASSOC_QUEUE), 32);

	CHECK_EQ(sizeof(struct ghost_ioc_commit_txn), 16);
	CHECK_EQ(offsetof(struct ghost_ioc_assoc_queue, src), 8);
	CHECK_EQ(offsetof(struct ghost_ioc_timerfd_settime, timerfd_ghost), 24);
	CHECK_EQ(offsetof(struct ghost_ioc_config_queue_wakeup, ninfo), 16);
	CHECK_EQ(offsetof(struct ghost_ioc_create_queue, mapsize), 16);

	CHECK_EQ(COMMIT_AT_FLAGS, 0x03);
	CHECK_EQ(INC_AGENT_BARRIER_ON_FAILURE, 0x10);
	CHECK_EQ(RTLA_ON_IDLE, 0x20);
	CHECK_EQ(NEED_CPU_NOT_IDLE, 0x80);
	CHECK_EQ(ELIDE_PREEMPT, 0x200);
	CHECK_EQ(DEFER_LATCHED_PREEMPTION_BY_AGENT, 0x800);
	CHECK_EQ(DO_NOT_PREEMPT, 0x1000);
	CHECK_EQ(GHOST_ASSOC_SF_BRAND_NEW, 2);
	CHECK_EQ(GHOST_RESCHED_CPU_MAX, 0x40);
	CHECK_EQ(BPF_GHOST_MSG_SKIP_AGENT_WAKE, -2);
	CHECK_EQ(GHOSTFS_MAGIC, 0xBAD1DEA2u);
	CHECK_EQ(SCHED_GHOST, 18);
	CHECK_EQ(GHOST_VERSION, 91);
}

int main(void)
{
	test_txn_layout();
	test_cpu_data();
	test_status_words();
	test_queue_layout();
	test_ring();
	test_wire_lengths();
	test_msg_helpers();
	test_txn_states();
	test_gtid();
	test_ioctls_and_flags();
	printf("test_abi: ok\n");
	return 0;
}
