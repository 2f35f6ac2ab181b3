/*
 * fuzz/policy_harness.h - the body of the policy targets (policy_*.c): one
 * built-in policy, set up once per process on an embedded-kernel enclave in a
 * private root, fed message sequences decoded from each input.
 *
 * Set-up (LLVMFuzzerInitialize): an enclave over this machine's CPUs, a full
 * agent running the policy wrapped so that, once warmed up, its agent threads
 * only sleep (they never touch the policy's state again), and a few real ghost
 * threads that the policy schedules during the warm-up and that then block
 * forever: their gtids and status words are real, so an input can name tasks
 * the kernel knows. After the warm-up this thread is the policy's only user.
 *
 * Each input is a list of operations: dispatch one message directly
 * (ghost_sched_dispatch), produce one into a ring of the harness's own, drain
 * that ring (ghost_sched_drain), drain it after an overflow (the policy
 * resynchronises from the status words), or format the stats line. Messages
 * take their type, length, gtid, seqnum and payload from the input, mostly
 * well formed, now and then anything.
 *
 * Invariants: the scheduler base's table and counters follow the message
 * rules of <ghost/sched.h> exactly (the harness keeps its own model of which
 * gtids are known and their seqnums, and checks every return value, the
 * table, and the deltas of msgs_total, bad_msgs, seqnum_errors and
 * duplicate_new); the stats line is terminated, fits, and reports the table's
 * task count and no more runnable tasks than that. At the end of every input a
 * TASK_DEAD goes to every task the policy still knows: afterwards its table
 * must be empty and nothing may be left runnable (no run queue keeps a task
 * that left), which is also the reset for the next input.
 */
#ifndef GHOST_FUZZ_POLICY_HARNESS_H
#define GHOST_FUZZ_POLICY_HARNESS_H

#include "fuzz_common.h"

#include <ghost/ghost.h>

#include "policies.h"
#include "ring.h"

#include <stdlib.h>
#include <time.h>

#ifndef FUZZ_POLICY
#error "define FUZZ_POLICY, the name of a built-in policy"
#endif

#define NREAL	    3 /* real ghost threads */
#define NPOOL	    8 /* gtids an input names by index */
#define RING_ELEMS  64
#define MAX_STEPS   96
#define MAX_PENDING RING_ELEMS
#define MODEL_MAX   (MAX_STEPS + 16)

static char root[256];
static struct ghost_enclave *enc;
static const struct ghost_policy *real;
static void *state;
static struct ghost_sched *sched;
static struct ghost_full_agent *full_agent;
static int warm = 1;
static int acked[GHOST_MAX_CPUS];
static int ncpus, cpu_list[GHOST_MAX_CPUS];
static uint32_t block_word;
static int ready;
static int64_t pool[NPOOL];
static int nreal;
static const struct ghost_status_word *real_sw[NREAL];
static struct ghost_sw_info real_info[NREAL];
static struct ghost_channel ring;
static void *ring_mem;

/* ---- the wrapped policy ---- */

static int w_init(struct ghost_full_agent *fa, void **st)
{
	int r = real->init(fa, st);

	state = *st;
	return r;
}

static void w_fini(void *st)
{
	if (real->fini)
		real->fini(st);
}

static void w_agent_start(void *st, struct ghost_agent *a)
{
	if (real->agent_start)
		real->agent_start(st, a);
}

static void w_loop(void *st, struct ghost_agent *a)
{
	int cpu = ghost_agent_cpu(a);

	if (__atomic_load_n(&warm, __ATOMIC_ACQUIRE)) {
		real->agent_loop(st, a);
		return;
	}
	__atomic_store_n(&acked[cpu], 1, __ATOMIC_RELEASE);
	if (!ghost_agent_finishing(a))
		ghost_txn_local_yield(enc, cpu, ghost_sw_barrier(ghost_agent_status_word(a)), 0);
}

static bool w_may_exit(void *st, struct ghost_agent *a)
{
	(void)st;
	(void)a;
	return true;
}

static int w_enclave_ready(void *st)
{
	return real->enclave_ready ? real->enclave_ready(st) : 0;
}

/* The real policy's declaration (state, base, channels, parameters) and these hooks. */
static struct ghost_policy wrapped = {
	.name = "fuzz-wrapper",
	.init = w_init,
	.fini = w_fini,
	.agent_start = w_agent_start,
	.agent_loop = w_loop,
	.agent_may_exit = w_may_exit,
	.enclave_ready = w_enclave_ready,
};

/* ---- set-up ---- */

static void *blocker(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&ready, 1, __ATOMIC_RELEASE);
	for (;;)
		ghost_wait(&block_word, 0, 0);
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void reset(void);

static void remove_root(void)
{
	fz_rm_tree(root);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "fuzz set-up: %s: %s\n", what, ghost_strerror(err));
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	_Alignas(16) static char cfg[4096];
	struct ghost_full_agent_opts fo = { .sz = sizeof(fo),
					    .policy_config = cfg,
					    .prio = GHOST_AGENT_PRIO_NORMAL };
	struct ghost_enclave_opts eo = { .sz = sizeof(eo), .id = 1, .max_tasks = 64 };
	struct ghost_full_agent *fa;
	struct ghost_thread *threads[NREAL];
	struct ghost_topo *topo;
	struct ghost_cpuset cpus;
	int cpu, err;

	(void)argc;
	(void)argv;
	fz_log_init();
	real = ghost_policy_find(FUZZ_POLICY);
	if (!real)
		die("no such policy", -ENOENT);
	wrapped.params = real->params;
	wrapped.config_size = real->config_size;
	wrapped.state_size = real->state_size;
	wrapped.sched_ops = real->sched_ops;
	wrapped.task_size = real->task_size;
	wrapped.min_cpus = real->min_cpus;
	wrapped.channels = real->channels;
	wrapped.agent_queue = real->agent_queue;
	wrapped.runnable = real->runnable;
	wrapped.format_stats = real->format_stats;
	if (real->config_size > sizeof(cfg) || (err = ghost_policy_config_defaults(real, cfg)))
		die("config", -EINVAL);
	if (ghost_policy_param_find(real, "queue_elems") &&
	    (err = ghost_policy_config_set(real, cfg, "queue_elems", "256", NULL, 0)))
		die("queue_elems", err);

	fz_mkdtemp(root, sizeof(root), "ghost-fuzz-policy");
	atexit(remove_root);
	setenv("GHOST_EMU_ROOT", root, 1);
	if ((err = ghost_topo_from_machine(&topo)))
		die("topology", err);
	cpus = *ghost_topo_cpus(topo);
	ghost_topo_free(topo);
	/* A few CPUs are plenty (one global agent, the rest scheduled). */
	ncpus = 0;
	ghost_cpuset_for_each(cpu, &cpus) {
		if (ncpus == 4)
			ghost_cpuset_clear(&cpus, cpu);
		else
			cpu_list[ncpus++] = cpu;
	}
	eo.root = root;
	eo.cpus = &cpus;
	if ((err = ghost_enclave_create(&eo, &enc)))
		die("enclave", err);
	fo.enclave = enc;
	fo.policy = &wrapped;
	if ((err = ghost_full_agent_start(&fo, &fa)))
		die("agent", err);
	full_agent = fa;
	sched = policy_sched_of(state);

	/* The warm-up: real threads enter, run, block; the policy sees it all. */
	for (int i = 0; i < NREAL; i++)
		if ((err = ghost_thread_create(enc, &threads[i], blocker, NULL)))
			die("ghost thread", err);
	for (int i = 0; i < 2000 && __atomic_load_n(&ready, __ATOMIC_ACQUIRE) < NREAL; i++)
		sleep_ms(5);
	for (int i = 0; i < 400 && __atomic_load_n(&sched->stats.msgs[MSG_TASK_BLOCKED],
						   __ATOMIC_RELAXED) < NREAL;
	     i++)
		sleep_ms(5);
	for (int i = 0; i < NREAL; i++) {
		int64_t gtid = ghost_thread_gtid_of(threads[i], 0);

		if (gtid > 0)
			pool[nreal++] = gtid;
	}
	/* Every agent thread leaves the policy's loop for good. */
	__atomic_store_n(&warm, 0, __ATOMIC_RELEASE);
	for (int k = 0; k < ncpus; k++) {
		for (int i = 0; !__atomic_load_n(&acked[cpu_list[k]], __ATOMIC_ACQUIRE); i++) {
			if (i == 5000)
				die("an agent does not come back from its loop", -ETIMEDOUT);
			ghost_txn_ping(enc, cpu_list[k]);
			sleep_ms(1);
		}
	}
	for (int i = 0; i < nreal; i++) {
		struct ghost_task *t = ghost_task_table_find(&sched->tasks, pool[i]);

		if (t) {
			real_info[i] = t->sw_info;
			real_sw[i] = t->sw;
		}
	}
	if (nreal < NREAL)
		fprintf(stderr, "fuzz set-up: only %d of %d ghost threads entered\n", nreal, NREAL);

	/* Made-up gtids: this process's tid (the policy may look at /proc), tids no
	 * process has, tid 0. */
	for (int i = nreal; i < NPOOL; i++) {
		static const int64_t tids[] = { 0, (1 << GHOST_GTID_PID_BITS) - 1,
						(1 << GHOST_GTID_PID_BITS) - 2 };
		int64_t tid = i == nreal ? (int64_t)getpid() : tids[i % 3];

		pool[i] = tid << GHOST_GTID_SEQ_BITS | (int64_t)(0x1000 + i);
	}

	/* The harness's ring: exactly the bytes a queue of RING_ELEMS slots needs. */
	size_t bytes = GHOST_QUEUE_RING_OFFSET + sizeof(struct ghost_ring) +
		       RING_ELEMS * sizeof(struct ghost_msg);

	if (posix_memalign(&ring_mem, 64, bytes) ||
	    ghost_queue_format(ring_mem, bytes, RING_ELEMS) ||
	    ghost_channel_init_mem(&ring, ring_mem, bytes))
		die("ring", -ENOMEM);
	/* Inputs start from a policy that knows no task. */
	reset();
	return 0;
}

/* ---- the model of the scheduler base ---- */

struct model_task {
	int64_t gtid;
	uint32_t seqnum;
};

static struct model_task model[MODEL_MAX + NREAL + 64];
static int nmodel;

struct counts {
	uint64_t total, bad, seq, dup;
};

static struct counts expected;

static uint32_t min_payload(uint16_t type)
{
	if (type == MSG_TASK_NEW)
		return offsetof(struct ghost_msg_payload_task_new, sw_info) +
		       sizeof(struct ghost_sw_info);
	switch (type) {
	case MSG_TASK_DEAD ... MSG_TASK_LATCH_FAILURE:
		return 8;
	case MSG_CPU_TICK ... MSG_CPU_AGENT_WAKEUP:
		return 4;
	default:
		return 0;
	}
}

static struct model_task *model_find(int64_t gtid)
{
	for (int i = 0; i < nmodel; i++)
		if (model[i].gtid == gtid)
			return &model[i];
	return NULL;
}

/* What ghost_sched_dispatch must return for a message, and its bookkeeping. */
static int model_apply(uint16_t type, uint16_t length, uint32_t seqnum, int64_t gtid)
{
	uint32_t need = min_payload(type);
	struct model_task *t;

	expected.total++;
	if (!need || length < sizeof(struct ghost_msg) + need) {
		expected.bad++;
		return -EINVAL;
	}
	if (ghost_msg_is_cpu(type))
		return 0;
	t = model_find(gtid);
	if (type == MSG_TASK_NEW) {
		if (t) {
			expected.dup++;
			return -EEXIST;
		}
		FZ_CHECK(nmodel < (int)(sizeof(model) / sizeof(model[0])), "model full");
		model[nmodel].gtid = gtid;
		model[nmodel].seqnum = seqnum;
		nmodel++;
		return 0;
	}
	if (!t) {
		expected.bad++;
		return -ENOENT;
	}
	if ((int32_t)(seqnum - t->seqnum) <= 0) {
		expected.seq++;
		return -ERANGE;
	}
	t->seqnum = seqnum;
	if (type == MSG_TASK_DEAD || type == MSG_TASK_DEPARTED)
		*t = model[--nmodel];
	return 0;
}

static void count_task(struct ghost_task *t, void *ctx)
{
	int *n = ctx;

	FZ_CHECK(ghost_task_table_find(&sched->tasks, t->gtid) == t, "gtid %lld not found",
		 (long long)t->gtid);
	(*n)++;
}

static void collect_task(struct ghost_task *t, void *ctx)
{
	struct model_task *m = &model[nmodel];

	(void)ctx;
	if (nmodel < (int)(sizeof(model) / sizeof(model[0]))) {
		m->gtid = t->gtid;
		m->seqnum = t->seqnum;
		nmodel++;
	}
}

/* The table holds exactly the model's tasks (or, with exact false, is sound). */
static void check_table(bool exact)
{
	int n = 0;

	ghost_task_table_for_each(&sched->tasks, count_task, &n);
	FZ_CHECK((uint32_t)n == sched->tasks.count, "walked %d tasks, count says %u", n,
		 sched->tasks.count);
	if (!exact)
		return;
	FZ_CHECK(n == nmodel, "%d tasks known, the message rules say %d", n, nmodel);
	for (int i = 0; i < nmodel; i++) {
		struct ghost_task *t = ghost_task_table_find(&sched->tasks, model[i].gtid);

		FZ_CHECK(t && t->seqnum == model[i].seqnum, "gtid %lld: %s seqnum %u, want %u",
			 (long long)model[i].gtid, t ? "has" : "missing", t ? t->seqnum : 0,
			 model[i].seqnum);
	}
}

static void check_counts(void)
{
	const struct ghost_sched_stats *st = &sched->stats;

	FZ_CHECK(st->msgs_total == expected.total && st->bad_msgs == expected.bad &&
			 st->seqnum_errors == expected.seq && st->duplicate_new == expected.dup,
		 "counters total %llu bad %llu seqnum %llu dup %llu, want %llu %llu %llu %llu",
		 (unsigned long long)st->msgs_total, (unsigned long long)st->bad_msgs,
		 (unsigned long long)st->seqnum_errors, (unsigned long long)st->duplicate_new,
		 (unsigned long long)expected.total, (unsigned long long)expected.bad,
		 (unsigned long long)expected.seq, (unsigned long long)expected.dup);
}

static void resync_expected(void)
{
	const struct ghost_sched_stats *st = &sched->stats;

	expected.total = st->msgs_total;
	expected.bad = st->bad_msgs;
	expected.seq = st->seqnum_errors;
	expected.dup = st->duplicate_new;
}

/* ---- messages from the input ---- */

static const uint16_t types[] = {
	MSG_TASK_NEW,
	MSG_TASK_WAKEUP,
	MSG_TASK_BLOCKED,
	MSG_TASK_PREEMPT,
	MSG_TASK_YIELD,
	MSG_TASK_DEAD,
	MSG_TASK_DEPARTED,
	MSG_TASK_ON_CPU,
	MSG_TASK_SWITCHTO,
	MSG_TASK_AFFINITY_CHANGED,
	MSG_TASK_PRIORITY_CHANGED,
	MSG_TASK_LATCH_FAILURE,
	MSG_CPU_TICK,
	MSG_CPU_TIMER_EXPIRED,
	MSG_CPU_NOT_IDLE,
	MSG_CPU_AVAILABLE,
	MSG_CPU_BUSY,
	MSG_CPU_AGENT_BLOCKED,
	MSG_CPU_AGENT_WAKEUP,
};

static uint16_t natural_payload(uint16_t type)
{
	switch (type) {
	case MSG_TASK_NEW:
		return sizeof(struct ghost_msg_payload_task_new);
	case MSG_TASK_WAKEUP:
		return sizeof(struct ghost_msg_payload_task_wakeup);
	case MSG_TASK_BLOCKED:
		return sizeof(struct ghost_msg_payload_task_blocked);
	case MSG_TASK_PREEMPT:
		return sizeof(struct ghost_msg_payload_task_preempt);
	case MSG_TASK_YIELD:
		return sizeof(struct ghost_msg_payload_task_yield);
	case MSG_TASK_DEAD:
		return sizeof(struct ghost_msg_payload_task_dead);
	case MSG_TASK_DEPARTED:
		return sizeof(struct ghost_msg_payload_task_departed);
	case MSG_TASK_ON_CPU:
		return sizeof(struct ghost_msg_payload_task_on_cpu);
	case MSG_TASK_SWITCHTO:
		return sizeof(struct ghost_msg_payload_task_switchto);
	case MSG_TASK_AFFINITY_CHANGED:
		return sizeof(struct ghost_msg_payload_task_affinity_changed);
	case MSG_TASK_PRIORITY_CHANGED:
		return sizeof(struct ghost_msg_payload_task_priority_changed);
	case MSG_TASK_LATCH_FAILURE:
		return sizeof(struct ghost_msg_payload_task_latch_failure);
	case MSG_CPU_TICK:
		return sizeof(struct ghost_msg_payload_cpu_tick);
	case MSG_CPU_TIMER_EXPIRED:
		return sizeof(struct ghost_msg_payload_timer);
	case MSG_CPU_NOT_IDLE:
		return sizeof(struct ghost_msg_payload_cpu_not_idle);
	default:
		return sizeof(int);
	}
}

struct built {
	uint16_t type;
	uint16_t length; /* header included */
	uint32_t seqnum;
	int64_t gtid;	      /* what the model reads from offset 0 */
	uint16_t payload_len; /* bytes of payload actually provided */
	uint8_t payload[256] __attribute__((aligned(8)));
};

static void build_msg(struct fz *in, struct built *b, bool for_ring)
{
	uint8_t tsel = fz_u8(in), gsel = fz_u8(in), ssel = fz_u8(in), lsel = fz_u8(in);
	uint16_t natural;
	struct model_task *mt;
	int real_idx = -1;

	memset(b, 0, sizeof(*b));
	b->type = tsel < 0xf0 ? types[tsel % (sizeof(types) / sizeof(types[0]))] : fz_u16(in);
	natural = natural_payload(b->type);

	if (ghost_msg_is_cpu(b->type)) {
		uint8_t csel = fz_u8(in);
		int cpu = csel < 0xe0 ? cpu_list[csel % ncpus] : (int)fz_u32(in);

		memcpy(b->payload, &cpu, sizeof(cpu));
		fz_fill(in, b->payload + sizeof(cpu), natural - sizeof(cpu));
	} else {
		if (gsel < 0xe0) {
			b->gtid = pool[gsel % NPOOL];
			if (gsel % NPOOL < nreal)
				real_idx = gsel % NPOOL;
		} else {
			b->gtid = (int64_t)fz_u64(in);
		}
		memcpy(b->payload, &b->gtid, sizeof(b->gtid));
		if (natural > 8)
			fz_fill(in, b->payload + 8, natural - 8);
		if (b->type == MSG_TASK_NEW) {
			/* Mostly a word that exists: a real task's, or any of region 0. */
			struct ghost_msg_payload_task_new *p = (void *)b->payload;
			uint8_t wsel = fz_u8(in);

			if (wsel < 0x60 && nreal) {
				p->sw_info = real_info[real_idx >= 0 ? real_idx : wsel % nreal];
			} else if (wsel < 0xc0) {
				p->sw_info.id = 0;
				p->sw_info.index = fz_u16(in);
			}
		}
	}
	memcpy(&b->gtid, b->payload, sizeof(b->gtid));
	if (ghost_msg_is_cpu(b->type))
		b->gtid = 0;

	mt = model_find(b->gtid);
	if (ssel < 0x80)
		b->seqnum = (mt ? mt->seqnum : 0) + 1 + (ssel & 7);
	else if (ssel < 0xa0 && real_idx >= 0 && real_sw[real_idx])
		b->seqnum = ghost_sw_barrier(real_sw[real_idx]);
	else if (ssel < 0xc0)
		b->seqnum = mt ? mt->seqnum : 0;
	else if (ssel < 0xd0)
		b->seqnum = (mt ? mt->seqnum : 0) - 1 - (ssel & 7);
	else
		b->seqnum = fz_u32(in);

	b->payload_len = natural;
	if (lsel < 0xa0) {
		b->length = (uint16_t)(sizeof(struct ghost_msg) + natural);
	} else if (lsel < 0xd0) {
		b->payload_len = natural > (lsel & 15) ? natural - (lsel & 15) : 0;
		b->length = (uint16_t)(sizeof(struct ghost_msg) + b->payload_len);
	} else if (lsel < 0xf0) {
		b->payload_len = natural + (lsel & 31);
		fz_fill(in, b->payload + natural, b->payload_len - natural);
		b->length = (uint16_t)(sizeof(struct ghost_msg) + b->payload_len);
	} else if (for_ring) {
		b->payload_len = fz_u8(in);
		b->length = (uint16_t)(sizeof(struct ghost_msg) + b->payload_len);
	} else {
		b->length = fz_u16(in);
	}
}

/* Direct dispatch: the message sits alone in a buffer of exactly its length. */
static void op_dispatch(struct fz *in)
{
	struct built b;
	size_t alloc, copy;
	struct ghost_msg *m;
	int r, want;

	build_msg(in, &b, false);
	alloc = b.length > sizeof(struct ghost_msg) ? b.length : sizeof(struct ghost_msg);
	m = calloc(1, alloc);
	if (!m)
		abort();
	m->type = b.type;
	m->length = b.length;
	m->seqnum = b.seqnum;
	copy = alloc - sizeof(*m) < b.payload_len ? alloc - sizeof(*m) : b.payload_len;
	memcpy(m->payload, b.payload, copy);
	/* What the base reads as the gtid is whatever sits at offset 0 of the payload. */
	if (alloc - sizeof(*m) < sizeof(int64_t))
		b.gtid = 0;
	want = model_apply(b.type, b.length, b.seqnum, b.gtid);
	r = ghost_sched_dispatch(sched, m);
	free(m);
	FZ_CHECK(r == want, "%s length %u seqnum %u gtid %lld: %d, the rules say %d",
		 ghost_msg_type_name(b.type), b.length, b.seqnum, (long long)b.gtid, r, want);
	check_counts();
	check_table(true);
}

static struct built pending[MAX_PENDING];
static int npending;

static void op_produce(struct fz *in)
{
	struct built b;

	build_msg(in, &b, true);
	if (npending == MAX_PENDING)
		return;
	/* A NOP is a filler to the consumer: skipped, never dispatched. */
	if (ghost_ring_produce(ring.ring, RING_ELEMS, b.type, b.seqnum, b.payload, b.payload_len) ==
		    0 &&
	    b.type != MSG_NOP)
		pending[npending++] = b;
}

static void op_drain(bool overflow, uint32_t lost)
{
	int n;

	if (overflow)
		__atomic_fetch_add(&ring.ring->overflow, lost, __ATOMIC_RELEASE);
	/* A produce that found the ring full counts as an overflow too. */
	overflow = ring.ring->overflow != ring.overflow_seen;
	for (int i = 0; i < npending; i++) {
		struct built *b = &pending[i];

		model_apply(b->type, b->length, b->seqnum, b->payload_len >= 8 ? b->gtid : 0);
	}
	n = ghost_sched_drain(sched, &ring);
	FZ_CHECK(n == npending, "drained %d of %d messages", n, npending);
	npending = 0;
	FZ_CHECK(ghost_ring_used(ring.ring) == 0, "the ring still holds %u slots",
		 ghost_ring_used(ring.ring));
	if (!overflow) {
		check_counts();
		check_table(true);
		return;
	}
	/* The resynchronisation may drop or adopt tasks: the table is the truth now. */
	check_table(false);
	nmodel = 0;
	ghost_task_table_for_each(&sched->tasks, collect_task, NULL);
	resync_expected();
}

/*
 * The stats line: the counts it reports, then every buffer size up to one
 * byte more than it needs (-ENOSPC below that, the same line from there).
 */
static void op_stats(void)
{
	char full[4096];
	unsigned int tasks, runnable;
	int n;

	n = ghost_full_agent_format_stats(full_agent, full, sizeof(full));
	FZ_CHECK(n > 0 && (size_t)n == strlen(full), "stats line: %d", n);
	FZ_CHECK(sscanf(full, "tasks %u runnable %u", &tasks, &runnable) == 2, "stats: %s", full);
	FZ_CHECK(tasks == sched->tasks.count && runnable <= tasks,
		 "stats say %u tasks %u runnable, the table has %u", tasks, runnable,
		 sched->tasks.count);
	if (fz_skip("stats-short"))
		return;
	/*
	 * The line holds an idle share computed from the wall clock, so two
	 * calls may differ by a few characters: a buffer well short of the line
	 * must fail, one well beyond it must succeed, and whatever succeeds is
	 * a whole, terminated line that fits.
	 */
	for (size_t len = 1; len <= (size_t)n + 24; len++) {
		char *buf = malloc(len);
		int r = ghost_full_agent_format_stats(full_agent, buf, len);

		FZ_CHECK(r == -ENOSPC || (r > 0 && (size_t)r < len && (size_t)r == strlen(buf) &&
					  !strncmp(buf, full, 6)),
			 "stats line of %d bytes in %zu: %d", n, len, r);
		FZ_CHECK(len + 8 > (size_t)n || r == -ENOSPC, "stats line of %d bytes fit in %zu",
			 n, len);
		FZ_CHECK(len <= (size_t)n + 8 || r >= 0, "stats line of %d bytes not in %zu: %d", n,
			 len, r);
		free(buf);
	}
}

/* Every known task dies: the table empties and nothing is left runnable. */
static void reset(void)
{
	struct {
		struct ghost_msg hdr;
		struct ghost_msg_payload_task_dead p;
	} __attribute__((packed, aligned(4))) dead;
	char full[4096];
	unsigned int tasks = 0, runnable = 0;

	nmodel = 0;
	ghost_task_table_for_each(&sched->tasks, collect_task, NULL);
	for (int i = 0; i < nmodel; i++) {
		memset(&dead, 0, sizeof(dead));
		dead.hdr.type = MSG_TASK_DEAD;
		dead.hdr.length = sizeof(dead);
		dead.hdr.seqnum = model[i].seqnum + 1;
		dead.p.gtid = (uint64_t)model[i].gtid;
		FZ_CHECK(ghost_sched_dispatch(sched, &dead.hdr) == 0, "TASK_DEAD of %lld refused",
			 (long long)model[i].gtid);
	}
	nmodel = 0;
	FZ_CHECK(sched->tasks.count == 0, "%u tasks left after every one died", sched->tasks.count);
	FZ_CHECK(ghost_full_agent_format_stats(full_agent, full, sizeof(full)) > 0 &&
			 sscanf(full, "tasks %u runnable %u", &tasks, &runnable) == 2 &&
			 tasks == 0 && runnable == 0,
		 "after every task died: %s", full);
	resync_expected();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };

	/* The ring starts empty at slot 0: where messages wrap depends on the input only. */
	ring.ring->head = ring.ring->tail = ring.ring->overflow = 0;
	ring.overflow_seen = 0;
	resync_expected();
	for (int step = 0; fz_left(&in) && step < MAX_STEPS; step++) {
		switch (fz_u8(&in) % 8) {
		case 0:
		case 1:
		case 2:
			op_dispatch(&in);
			break;
		case 3:
		case 4:
			op_produce(&in);
			break;
		case 5:
			op_drain(false, 0);
			break;
		case 6:
			op_drain(true, 1 + fz_u8(&in) % 4);
			break;
		case 7:
			op_stats();
			break;
		}
	}
	op_drain(false, 0);
	reset();
	return 0;
}

#endif
