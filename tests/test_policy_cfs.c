/*
 * tests/test_policy_cfs.c - the cfs policy scheduling real threads on the
 * embedded kernel, agent and tasks in one process; its run queue alone.
 *
 * Checks: the red-black run queue keeps its rules through random inserts and
 * erases; every parameter parses, refuses a bad value (-EINVAL) and one out of
 * range (-ERANGE); spinners, block/wake pairs and many short threads finish,
 * with the switch-trace invariants (never two tasks on a CPU, never a task on
 * two) and clean message counts, also with non-default parameters and rings
 * small enough to overflow; nice weights share a CPU unevenly (from TASK_NEW
 * and from TASK_PRIORITY_CHANGED); two spinners on one CPU both progress; an
 * idle CPU steals queued tasks (and does not with steal=false); after
 * TASK_AFFINITY_CHANGED a task never appears on a CPU it does not allow, and
 * ghost_thread_affinity_of reads what the thread asked for (the embedded
 * kernel's record, the host's affinity elsewhere); the enclave's ticks are
 * turned on and back off. Shares of CPU time are compared with wide margins;
 * nothing asserts a duration.
 */
#include "backend.h"
#include "emu_helpers.h"
#include "enclave_priv.h"

#include "common.h"
#include "rbtree.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>

/* ---- the run queue alone ---- */

struct item {
	struct policy_rb_node node;
	uint32_t key;
	uint32_t id; /* insertion order: equal keys keep it */
	bool in;
};

static bool item_less(const struct policy_rb_node *a, const struct policy_rb_node *b)
{
	return ((const struct item *)a)->key < ((const struct item *)b)->key;
}

static void rbtree_random(void)
{
	static struct item items[2000];
	struct policy_rb_tree t = { 0 };
	uint32_t rnd = 12345, next_id = 0, in = 0;

	for (int step = 0; step < 40000; step++) {
		struct item *it;

		rnd = rnd * 1103515245u + 12345u;
		it = &items[(rnd >> 8) % 2000];
		if (it->in) {
			policy_rb_erase(&t, &it->node);
			it->in = false;
			in--;
		} else {
			it->key = (rnd >> 20) % 64; /* many equal keys */
			it->id = next_id++;
			policy_rb_insert(&t, &it->node, item_less);
			it->in = true;
			in++;
		}
		if (step % 97 == 0 || in < 8)
			CHECK_MSG(policy_rb_check(&t, item_less) == 0, "broken after step %d",
				  step);
		CHECK_EQ(t.count, in);
	}
	/* In order; equal keys in the order they went in. */
	for (struct policy_rb_node *n = policy_rb_first(&t), *m; n && (m = policy_rb_next(n));
	     n = m) {
		const struct item *a = (const struct item *)n, *b = (const struct item *)m;

		CHECK(a->key < b->key || (a->key == b->key && a->id < b->id));
	}
	/* Drain from the front, as a scheduler picks. */
	while (t.count) {
		struct policy_rb_node *first = policy_rb_first(&t);

		policy_rb_erase(&t, first);
		CHECK_EQ(policy_rb_check(&t, item_less), 0);
	}
	CHECK(t.root == NULL && t.first == NULL);
}

/* ---- parameters ---- */

static void params(void)
{
	const struct ghost_policy *p = ghost_policy_find("cfs");
	static const struct {
		const char *kv;
		int err;
	} cases[] = {
		{ "queue_elems=1024", 0 },
		{ "queue_elems=many", -EINVAL },
		{ "queue_elems=0", -ERANGE },
		{ "queue_elems=1048576", -ERANGE },
		{ "min_granularity=2ms", 0 },
		{ "min_granularity=soon", -EINVAL },
		{ "min_granularity=5us", -ERANGE },
		{ "min_granularity=2s", -ERANGE },
		{ "latency=12ms", 0 },
		{ "latency=12 parsecs", -EINVAL },
		{ "latency=50us", -ERANGE },
		{ "latency=11s", -ERANGE },
		{ "steal=false", 0 },
		{ "steal=sometimes", -EINVAL },
		{ "ticks=off", 0 },
		{ "ticks=2", -EINVAL },
		{ "no_such=1", -ENOENT },
		{ "latency", -EINVAL },
	};
	char why[256], text[64];
	void *cfg;

	CHECK(p != NULL);
	CHECK_OK(ghost_policy_check(p, why, sizeof(why)));
	CHECK(p->params != NULL);
	cfg = calloc(1, p->config_size);
	CHECK(cfg != NULL);
	CHECK_OK(ghost_policy_config_defaults(p, cfg));
	/* The defaults, as a user reads them. */
	CHECK_OK(ghost_policy_param_format(ghost_policy_param_find(p, "min_granularity"), cfg, text,
					   sizeof(text)));
	CHECK_STR(text, "1ms");
	CHECK_OK(ghost_policy_param_format(ghost_policy_param_find(p, "latency"), cfg, text,
					   sizeof(text)));
	CHECK_STR(text, "6ms");
	CHECK_OK(ghost_policy_param_format(ghost_policy_param_find(p, "steal"), cfg, text,
					   sizeof(text)));
	CHECK_STR(text, "true");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = ghost_policy_config_parse(p, cfg, cases[i].kv, why, sizeof(why));

		CHECK_MSG(r == cases[i].err, "%s: %d (%s), expected %d", cases[i].kv, r, why,
			  cases[i].err);
	}
	/* What parsed is what is stored; what failed changed nothing. */
	CHECK_OK(ghost_policy_param_format(ghost_policy_param_find(p, "latency"), cfg, text,
					   sizeof(text)));
	CHECK_STR(text, "12ms");
	CHECK_OK(ghost_policy_param_format(ghost_policy_param_find(p, "min_granularity"), cfg, text,
					   sizeof(text)));
	CHECK_STR(text, "2ms");
	CHECK_OK(ghost_policy_param_format(ghost_policy_param_find(p, "steal"), cfg, text,
					   sizeof(text)));
	CHECK_STR(text, "false");
	/* Every parameter has a range (durations, ints) and a line of help. */
	for (const struct ghost_policy_param *pp = p->params; pp->name; pp++) {
		CHECK_MSG(pp->help && *pp->help, "%s has no help", pp->name);
		if (pp->type == GHOST_PARAM_INT || pp->type == GHOST_PARAM_DURATION)
			CHECK_MSG(pp->min < pp->max, "%s has no range", pp->name);
	}
	free(cfg);
}

/* ---- what every run checks ---- */

/* emu_helpers.h's checks, and the table empty. */
static void check_sched_clean(struct ghost_full_agent *fa)
{
	struct ghost_sched *s = policy_sched_of(ghost_full_agent_policy_state(fa));

	test_check_sched_clean(fa);
	pthread_mutex_lock(&s->lock);
	CHECK_EQ(s->tasks.count, 0);
	pthread_mutex_unlock(&s->lock);
}

/* The policy's own counter called key, from its stats line. */
static long cfs_counter(struct ghost_full_agent *fa, const char *key)
{
	char line[2048];

	CHECK(ghost_full_agent_format_stats(fa, line, sizeof(line)) > 0);
	return counter_after(line, key);
}

static long long tunable(struct ghost_enclave *e, enum ghost_tunable t)
{
	long long v = -1;

	CHECK_OK(ghost_enclave_get_tunable(e, t, &v));
	return v;
}

static void finish(struct ghost_full_agent *fa, struct ghost_enclave *e)
{
	ghost_full_agent_stop(fa);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* ---- spinners, block/wake pairs and many short threads ---- */

static atomic_int completed;

static void spin_for(int iters)
{
	volatile unsigned long x = 0;

	for (int j = 0; j < iters; j++)
		x += (unsigned long)j;
}

static void *spin_sleep(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++) {
		spin_for(100000);
		ghost_sleep_ns(500000);
	}
	atomic_fetch_add(&completed, 1);
	return NULL;
}

static void *spin_long(void *arg)
{
	(void)arg;
	spin_for(3000000);
	atomic_fetch_add(&completed, 1);
	return NULL;
}

struct pair {
	uint32_t turn; /* whose turn: 0 or 1 */
};

struct pair_arg {
	struct pair *pair;
	uint32_t me;
};

/* Two threads pass a token back and forth: each pass blocks one and wakes the other. */
static void *pass_token(void *arg)
{
	struct pair_arg *pa = arg;
	uint32_t other = 1 - pa->me;

	for (int i = 0; i < 200; i++) {
		while (__atomic_load_n(&pa->pair->turn, __ATOMIC_ACQUIRE) != pa->me)
			ghost_wait(&pa->pair->turn, other, 0);
		spin_for(2000);
		__atomic_store_n(&pa->pair->turn, other, __ATOMIC_RELEASE);
		ghost_wake(&pa->pair->turn, 1);
	}
	atomic_fetch_add(&completed, 1);
	return NULL;
}

/*
 * 24 short threads (spin, sleep, five times), 4 spinners and 4 token-passing
 * pairs on CPUs 0-1. queue_elems > 0: the short threads enter first and their
 * TASK_NEWs overflow rings that small when the agent starts.
 */
static void run_mix(uint64_t id, const char *opts, int queue_elems)
{
	struct ghost_enclave *e = test_enclave("0-1", id);
	struct ghost_full_agent *fa = NULL;
	struct ghost_thread *t[24 + 4 + 8];
	struct pair pairs[4] = { { 0 } };
	struct pair_arg pa[8];
	struct ghost_sched *s;
	struct emu_shared *sh;
	char cfg[256];
	size_t size;
	int n = 0;

	snprintf(cfg, sizeof(cfg), "%s%squeue_elems=%d", opts ? opts : "", opts ? " " : "",
		 queue_elems ? queue_elems : GHOST_MAX_QUEUE_ELEMS);
	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	atomic_store(&completed, 0);
	if (!queue_elems)
		fa = test_agent(e, "cfs", cfg);
	for (int i = 0; i < 24; i++)
		CHECK_OK(ghost_thread_create(e, &t[n++], spin_sleep, NULL));
	if (queue_elems) {
		for (int i = 0; i < 24; i++)
			CHECK(ghost_thread_gtid_of(t[i], 5000000000LL) > 0);
		fa = test_agent(e, "cfs", cfg);
	}
	for (int i = 0; i < 4; i++)
		CHECK_OK(ghost_thread_create(e, &t[n++], spin_long, NULL));
	for (int i = 0; i < 8; i++) {
		pa[i].pair = &pairs[i / 2];
		pa[i].me = (uint32_t)(i % 2);
		CHECK_OK(ghost_thread_create(e, &t[n++], pass_token, &pa[i]));
	}
	for (int i = 0; i < n; i++)
		CHECK_OK(ghost_thread_join(t[i], NULL));
	CHECK_EQ(atomic_load(&completed), n);
	s = policy_sched_of(ghost_full_agent_policy_state(fa));
	if (queue_elems) {
		/* Rings too small: messages were lost, the agent resynchronised from
		 * the status words (older messages still in flight are dropped and
		 * counted), and every task finished. */
		CHECK_MSG(s->stats.overflows > 0, "no overflow with %d-slot queues", queue_elems);
	} else {
		check_sched_clean(fa);
		CHECK_EQ(s->stats.msgs[MSG_TASK_NEW], n);
		CHECK(s->stats.msgs[MSG_TASK_BLOCKED] > 0);
	}
	sh = test_emu_state(id, &size);
	/* Each short thread ran once per sleep and once more; every other at least once. */
	CHECK(test_check_trace(sh) >= 24 * 6 + 4 + 8);
	for (int i = 0; i < 400 && sh->nr_tasks; i++)
		usleep(5000);
	CHECK_EQ(sh->nr_tasks, 0);
	munmap(sh, size);
	finish(fa, e);
}

/* ---- shares of one CPU ---- */

static atomic_int stop_spinning;
static _Atomic int64_t cpu_ns[4];
static atomic_int renice_now, reniced;

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until told to stop, publishing the CPU time it got; thread 1 renices
 * itself to 10 when asked. */
static void *share_spinner(void *arg)
{
	int me = (int)(long)arg;

	while (!atomic_load(&stop_spinning)) {
		spin_for(20000);
		atomic_store(&cpu_ns[me], thread_cpu_ns());
		if (me == 1 && atomic_load(&renice_now) && !atomic_load(&reniced)) {
			CHECK_OK(ghost_thread_set_nice(10));
			atomic_store(&reniced, 1);
		}
	}
	return NULL;
}

struct nice_create {
	struct ghost_enclave *e;
	struct ghost_thread **t;
	int nice;
	void *arg;
};

/* A normal thread at another nice creates a ghost thread, which inherits it. */
static void *create_at_nice(void *arg)
{
	struct nice_create *nc = arg;

	CHECK(setpriority(PRIO_PROCESS, (id_t)gettid(), nc->nice) == 0);
	CHECK_OK(ghost_thread_create(nc->e, nc->t, share_spinner, nc->arg));
	return NULL;
}

static void shares_reset(void)
{
	atomic_store(&stop_spinning, 0);
	atomic_store(&renice_now, 0);
	atomic_store(&reniced, 0);
	for (int i = 0; i < 4; i++)
		atomic_store(&cpu_ns[i], 0);
}

/* CPU time each of two spinners got over about ms milliseconds. */
static void measure(int ms, int64_t got[2])
{
	int64_t a0 = atomic_load(&cpu_ns[0]), b0 = atomic_load(&cpu_ns[1]);

	usleep((useconds_t)ms * 1000);
	got[0] = atomic_load(&cpu_ns[0]) - a0;
	got[1] = atomic_load(&cpu_ns[1]) - b0;
}

static void wait_both_ran(void)
{
	for (int i = 0; i < 500 && (!atomic_load(&cpu_ns[0]) || !atomic_load(&cpu_ns[1])); i++)
		usleep(10000);
	CHECK_MSG(atomic_load(&cpu_ns[0]) && atomic_load(&cpu_ns[1]), "a spinner never ran");
}

/*
 * Two spinners on one CPU: with equal nice both progress while both run (the
 * slice shares the CPU); at nice 0 and 10 (weights 1024 and 110) the nice-0
 * one gets far more. from_new: the second is created at nice 10 (TASK_NEW
 * says so); else it renices itself mid-run (TASK_PRIORITY_CHANGED).
 */
static void shares(uint64_t id, bool from_new)
{
	struct ghost_enclave *e = test_enclave("0", id);
	struct ghost_full_agent *fa = test_agent(e, "cfs", NULL);
	struct ghost_sched *s = policy_sched_of(ghost_full_agent_policy_state(fa));
	struct ghost_thread *t[2];
	int base = getpriority(PRIO_PROCESS, (id_t)gettid());
	int64_t got[2];

	if (base > 9) {
		printf("shares: the test runs at nice %d already, skipped\n", base);
		finish(fa, e);
		return;
	}
	shares_reset();
	CHECK_OK(ghost_thread_create(e, &t[0], share_spinner, (void *)0L));
	if (from_new) {
		struct nice_create nc = { e, &t[1], base + 10, (void *)1L };
		pthread_t creator;

		CHECK(pthread_create(&creator, NULL, create_at_nice, &nc) == 0);
		CHECK(pthread_join(creator, NULL) == 0);
	} else {
		CHECK_OK(ghost_thread_create(e, &t[1], share_spinner, (void *)1L));
	}
	wait_both_ran();
	if (!from_new) {
		/* Equal weights: the slice lets both progress while both run. */
		measure(300, got);
		CHECK_MSG(got[0] > 0 && got[1] > 0, "one spinner starved: %lld / %lld ns",
			  (long long)got[0], (long long)got[1]);
		CHECK_MSG(got[0] < 4 * got[1] && got[1] < 4 * got[0],
			  "equal nice, unequal shares: %lld / %lld ns", (long long)got[0],
			  (long long)got[1]);
		CHECK(cfs_counter(fa, "slices ") > 0);
		atomic_store(&renice_now, 1);
		for (int i = 0; i < 500 && !atomic_load(&reniced); i++)
			usleep(10000);
		CHECK(atomic_load(&reniced));
		usleep(50000); /* the weight change reaches the agent */
	}
	measure(600, got);
	atomic_store(&stop_spinning, 1);
	CHECK_OK(ghost_thread_join(t[0], NULL));
	CHECK_OK(ghost_thread_join(t[1], NULL));
	printf("shares (%s): nice %d %lld us, nice %d %lld us\n",
	       from_new ? "TASK_NEW" : "TASK_PRIORITY_CHANGED", base, (long long)got[0] / 1000,
	       base + 10, (long long)got[1] / 1000);
	/* About 9 to 1 by weight; a wide margin for a busy host. */
	CHECK_MSG(got[0] > 2 * got[1] && got[1] > 0,
		  "nice %d got %lld ns, nice %d got %lld ns (%s)", base, (long long)got[0],
		  base + 10, (long long)got[1], from_new ? "TASK_NEW" : "TASK_PRIORITY_CHANGED");
	check_sched_clean(fa);
	CHECK_EQ(s->stats.msgs[MSG_TASK_PRIORITY_CHANGED], from_new ? 0 : 1);
	CHECK_EQ(cfs_counter(fa, "reniced "), from_new ? 0 : 1);
	finish(fa, e);
}

/* ---- stealing ---- */

struct steal_arg {
	atomic_int *widen;
	atomic_int widened;
};

/* Spins; once told, allows every CPU; spins until told to stop. */
static void *widening_spinner(void *arg)
{
	struct steal_arg *sa = arg;
	struct ghost_cpuset all;

	while (!atomic_load(&stop_spinning)) {
		spin_for(20000);
		if (atomic_load(sa->widen) && !atomic_load(&sa->widened)) {
			ghost_cpuset_fill(&all, 2);
			CHECK_OK(ghost_thread_set_affinity(&all));
			atomic_store(&sa->widened, 1);
		}
	}
	return NULL;
}

struct pinned_create {
	struct ghost_enclave *e;
	struct ghost_thread **t;
	struct steal_arg *args;
	int n;
};

/* Created by a thread pinned to CPU 0, ghost threads allow CPU 0 only. */
static void *create_on_cpu0(void *arg)
{
	struct pinned_create *pc = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0);
	for (int i = 0; i < pc->n; i++)
		CHECK_OK(ghost_thread_create(pc->e, &pc->t[i], widening_spinner, &pc->args[i]));
	return NULL;
}

/* Switch-ins of gtid on cpu in the trace from entry `from` on. */
static long ins_on(const struct emu_shared *sh, int64_t gtid, int cpu, uint32_t from)
{
	const struct emu_trace_ent *tr = (const void *)((const char *)sh + sh->trace_off);
	uint32_t head = __atomic_load_n(&sh->trace_head, __ATOMIC_ACQUIRE);
	long n = 0;

	CHECK(head <= EMU_TRACE_LEN);
	for (uint32_t i = from; i < head; i++)
		n += tr[i].gtid == gtid && tr[i].cpu == cpu && tr[i].on;
	return n;
}

/*
 * Four spinners that allow only CPU 0 queue there; then they allow CPUs 0-1.
 * With steal=true the idle CPU 1 takes some; with steal=false they stay.
 */
static void stealing(uint64_t id, bool steal)
{
	struct ghost_enclave *e = test_enclave("0-1", id);
	struct ghost_full_agent *fa = test_agent(e, "cfs", steal ? "steal=true" : "steal=false");
	struct ghost_thread *t[4];
	struct steal_arg args[4];
	atomic_int widen = 0;
	struct pinned_create pc = { e, t, args, 4 };
	struct emu_shared *sh;
	pthread_t creator;
	int64_t gtid[4];
	long on1 = 0, on0 = 0;
	size_t size;

	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	shares_reset();
	for (int i = 0; i < 4; i++) {
		args[i].widen = &widen;
		atomic_store(&args[i].widened, 0);
	}
	CHECK(pthread_create(&creator, NULL, create_on_cpu0, &pc) == 0);
	CHECK(pthread_join(creator, NULL) == 0);
	for (int i = 0; i < 4; i++)
		CHECK((gtid[i] = ghost_thread_gtid_of(t[i], 5000000000LL)) > 0);
	usleep(200000);
	sh = test_emu_state(id, &size);
	for (int i = 0; i < 4; i++) {
		CHECK_MSG(ins_on(sh, gtid[i], 1, 0) == 0,
			  "task %d ran on CPU 1, which it disallows", i);
		on0 += ins_on(sh, gtid[i], 0, 0);
	}
	CHECK_MSG(on0 >= 4, "the spinners hardly ran on CPU 0 (%ld switch-ins)", on0);
	atomic_store(&widen, 1);
	for (int i = 0; i < 4; i++)
		for (int w = 0; w < 500 && !atomic_load(&args[i].widened); w++)
			usleep(10000);
	usleep(400000);
	atomic_store(&stop_spinning, 1);
	for (int i = 0; i < 4; i++) {
		CHECK(atomic_load(&args[i].widened));
		CHECK_OK(ghost_thread_join(t[i], NULL));
	}
	test_check_trace(sh);
	for (int i = 0; i < 4; i++)
		on1 += ins_on(sh, gtid[i], 1, 0);
	printf("stealing (steal=%s): switch-ins on CPU 1 %ld, steals %ld\n",
	       steal ? "true" : "false", on1, cfs_counter(fa, "steals "));
	if (steal) {
		CHECK_MSG(on1 > 0, "CPU 1 idled while four tasks queued on CPU 0");
		CHECK(cfs_counter(fa, "steals ") > 0);
	} else {
		CHECK_MSG(on1 == 0, "steal=false, yet CPU 1 ran the tasks of CPU 0 (%ld)", on1);
		CHECK_EQ(cfs_counter(fa, "steals "), 0);
	}
	CHECK_EQ(cfs_counter(fa, "affinity "), 4);
	check_sched_clean(fa);
	munmap(sh, size);
	finish(fa, e);
}

/* ---- TASK_AFFINITY_CHANGED ---- */

struct affine_arg {
	struct emu_shared *sh;
	uint32_t marks[4]; /* trace positions: on 1 from, till; on 0 from */
};

static uint32_t trace_pos(const struct emu_shared *sh)
{
	return __atomic_load_n(&sh->trace_head, __ATOMIC_ACQUIRE);
}

static void spin_ms(int ms)
{
	int64_t end = ghost_now_ns() + (int64_t)ms * 1000000;

	while (ghost_now_ns() < end)
		spin_for(2000);
}

/* Moves itself to CPU 1, then to CPU 0, noting where the trace was. */
static void *moving(void *arg)
{
	struct affine_arg *aa = arg;
	struct ghost_cpuset one;

	spin_ms(50);
	ghost_cpuset_zero(&one);
	ghost_cpuset_set(&one, 1);
	CHECK_OK(ghost_thread_set_affinity(&one));
	aa->marks[0] = trace_pos(aa->sh); /* running, on CPU 1 */
	spin_ms(300);
	aa->marks[1] = trace_pos(aa->sh);
	ghost_cpuset_zero(&one);
	ghost_cpuset_set(&one, 0);
	CHECK_OK(ghost_thread_set_affinity(&one));
	aa->marks[2] = trace_pos(aa->sh); /* running, on CPU 0 */
	spin_ms(300);
	return NULL;
}

static void *spin_until_stopped(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_spinning))
		spin_for(20000);
	return NULL;
}

/* One task moves itself between the CPUs while three spinners keep both busy. */
static void affinity(uint64_t id)
{
	struct ghost_enclave *e = test_enclave("0-1", id);
	struct ghost_full_agent *fa = test_agent(e, "cfs", NULL);
	struct affine_arg aa = { 0 };
	struct ghost_thread *mover, *others[3];
	const struct emu_trace_ent *tr;
	size_t size;
	int64_t gtid;
	uint32_t end;
	long n1 = 0, n0 = 0;

	CHECK_OK(ghost_enclave_write_file(e, "trace", "1"));
	aa.sh = test_emu_state(id, &size);
	tr = (const void *)((const char *)aa.sh + aa.sh->trace_off);
	shares_reset();
	for (int i = 0; i < 3; i++)
		CHECK_OK(ghost_thread_create(e, &others[i], spin_until_stopped, NULL));
	CHECK_OK(ghost_thread_create(e, &mover, moving, &aa));
	CHECK((gtid = ghost_thread_gtid_of(mover, 5000000000LL)) > 0);
	CHECK_OK(ghost_thread_join(mover, NULL));
	end = trace_pos(aa.sh);
	atomic_store(&stop_spinning, 1);
	for (int i = 0; i < 3; i++)
		CHECK_OK(ghost_thread_join(others[i], NULL));
	CHECK(end <= EMU_TRACE_LEN);
	for (uint32_t i = aa.marks[0]; i < aa.marks[1]; i++) {
		if (tr[i].gtid != gtid)
			continue;
		CHECK_MSG(tr[i].cpu == 1, "allowed CPU 1 only, it was on CPU %d (entry %u)",
			  tr[i].cpu, i);
		n1 += tr[i].on;
	}
	for (uint32_t i = aa.marks[2]; i < end; i++) {
		if (tr[i].gtid != gtid)
			continue;
		CHECK_MSG(tr[i].cpu == 0, "allowed CPU 0 only, it was on CPU %d (entry %u)",
			  tr[i].cpu, i);
		n0 += tr[i].on;
	}
	printf("affinity: switch-ins on CPU 1 %ld, then on CPU 0 %ld\n", n1, n0);
	/* It did run in both windows (every tick takes it off and back). */
	CHECK_MSG(n1 > 0 && n0 > 0, "switch-ins on CPU 1: %ld, on CPU 0: %ld", n1, n0);
	test_check_trace(aa.sh);
	check_sched_clean(fa);
	CHECK_EQ(cfs_counter(fa, "affinity "), 2);
	CHECK(cfs_counter(fa, "moves ") >= 1);
	CHECK_EQ(cfs_counter(fa, "unaffine "), 0);
	munmap(aa.sh, size);
	finish(fa, e);
}

/* ---- reading a task's allowed CPUs ---- */

static atomic_int affine_set, affine_go;

static void *set_cpu1_and_wait(void *arg)
{
	struct ghost_cpuset one;

	(void)arg;
	ghost_cpuset_zero(&one);
	ghost_cpuset_set(&one, 1);
	CHECK_OK(ghost_thread_set_affinity(&one));
	atomic_store(&affine_set, 1);
	while (!atomic_load(&affine_go))
		ghost_sleep_ns(1000000);
	return NULL;
}

static void affinity_of(uint64_t id)
{
	struct ghost_enclave *e = test_enclave("0-1", id);
	struct ghost_full_agent *fa = test_agent(e, "cfs", NULL);
	struct ghost_kernel_ops no_user_tasks = *e->ops;
	const struct ghost_kernel_ops *real = e->ops;
	struct ghost_cpuset set, mine;
	struct ghost_thread *t;
	cpu_set_t host;
	int64_t gtid;

	atomic_store(&affine_set, 0);
	atomic_store(&affine_go, 0);
	CHECK_OK(ghost_thread_create(e, &t, set_cpu1_and_wait, NULL));
	CHECK((gtid = ghost_thread_gtid_of(t, 5000000000LL)) > 0);
	for (int i = 0; i < 500 && !atomic_load(&affine_set); i++)
		usleep(10000);
	/* The embedded kernel answers from its record: what the thread asked for,
	 * not the CPU it is pinned to now. */
	CHECK_OK(ghost_thread_affinity_of(e, gtid, &set));
	CHECK_EQ(ghost_cpuset_count(&set), 1);
	CHECK(ghost_cpuset_test(&set, 1));
	CHECK_ERR(ghost_thread_affinity_of(e, 0, &set), EINVAL);
	CHECK_ERR(ghost_thread_affinity_of(e, gtid, NULL), EINVAL);
	CHECK_ERR(ghost_thread_affinity_of(NULL, gtid, &set), EINVAL);
	atomic_store(&affine_go, 1);
	CHECK_OK(ghost_thread_join(t, NULL));
	check_sched_clean(fa);
	CHECK_ERR(ghost_thread_affinity_of(e, gtid, &set), ESRCH);
	ghost_full_agent_stop(fa); /* nothing else reads e->ops now */
	/* A backend the host kernel schedules: the thread's own affinity. */
	no_user_tasks.caps &= ~GHOST_KCAP_USER_TASKS;
	e->ops = &no_user_tasks;
	CHECK_OK(ghost_thread_affinity_of(e, (int64_t)gettid() << GHOST_GTID_SEQ_BITS | 1, &set));
	e->ops = real;
	CHECK(sched_getaffinity(0, sizeof(host), &host) == 0);
	ghost_cpuset_zero(&mine);
	for (int c = 0; c < CPU_SETSIZE && c < GHOST_MAX_CPUS; c++)
		if (CPU_ISSET(c, &host))
			ghost_cpuset_set(&mine, c);
	CHECK(ghost_cpuset_equal(&set, &mine));
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* ---- the enclave's ticks ---- */

static void ticks(uint64_t id)
{
	struct ghost_enclave *e = test_enclave("0-1", id);
	struct ghost_full_agent *fa;
	struct ghost_thread *t[4];
	struct pair pair = { 0 };
	struct pair_arg pa[2] = { { &pair, 0 }, { &pair, 1 } };

	/* Off: never turned on; tasks that block still get through. */
	CHECK_EQ(tunable(e, GHOST_TUNABLE_DELIVER_TICKS), 0);
	fa = test_agent(e, "cfs", "ticks=false min_granularity=500us latency=3ms");
	CHECK_EQ(tunable(e, GHOST_TUNABLE_DELIVER_TICKS), 0);
	atomic_store(&completed, 0);
	for (int i = 0; i < 2; i++)
		CHECK_OK(ghost_thread_create(e, &t[i], pass_token, &pa[i]));
	for (int i = 2; i < 4; i++)
		CHECK_OK(ghost_thread_create(e, &t[i], spin_sleep, NULL));
	for (int i = 0; i < 4; i++)
		CHECK_OK(ghost_thread_join(t[i], NULL));
	CHECK_EQ(atomic_load(&completed), 4);
	CHECK_EQ(policy_sched_of(ghost_full_agent_policy_state(fa))->stats.msgs[MSG_CPU_TICK], 0);
	{
		char line[2048];

		CHECK(ghost_full_agent_format_stats(fa, line, sizeof(line)) > 0);
		CHECK_MSG(strstr(line, "ticks off") != NULL, "%s", line);
	}
	check_sched_clean(fa);
	ghost_full_agent_stop(fa);

	/* On while the agent runs, off again after it. */
	fa = test_agent(e, "cfs", NULL);
	CHECK_EQ(tunable(e, GHOST_TUNABLE_DELIVER_TICKS), 1);
	ghost_full_agent_stop(fa);
	CHECK_EQ(tunable(e, GHOST_TUNABLE_DELIVER_TICKS), 0);

	/* Already on: left on. */
	CHECK_OK(ghost_enclave_set_tunable(e, GHOST_TUNABLE_DELIVER_TICKS, 1));
	fa = test_agent(e, "cfs", NULL);
	ghost_full_agent_stop(fa);
	CHECK_EQ(tunable(e, GHOST_TUNABLE_DELIVER_TICKS), 1);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

int main(void)
{
	test_root_make();
	ghost_log_set_callback(ghost_log_stderr, NULL,
			       getenv("GHOST_TEST_DEBUG") ? GHOST_LOG_DEBUG : GHOST_LOG_WARN);
	rbtree_random();
	params();
	if (test_ncpus() < 2) {
		printf("the scheduling tests need 2 CPUs\n");
		return TEST_SKIP;
	}
	run_mix(1, NULL, 0);
	run_mix(2, "min_granularity=2ms latency=12ms steal=false", 0);
	run_mix(3, NULL, 16);
	shares(4, false);
	shares(5, true);
	stealing(6, true);
	stealing(7, false);
	affinity(8);
	affinity_of(10);
	ticks(9);
	return 0;
}
