/*
 * tests/test_emu_ns.c - the embedded kernel's namespace, its files, and bad input.
 *
 *  - enclaves: create with an explicit id, the same id again (-EEXIST), over a CPU that a
 *    live enclave owns (-EBUSY), a CPU the machine lacks (-EINVAL), the wrong ABI (-ESRCH),
 *    attach to a missing id (-ENOENT); the list of live enclaves;
 *  - more enclaves than 256: a create without an id never returns (or resets) a live one, an
 *    existing id is -EEXIST wherever it sorts, ids past 256 work, ids past
 *    GHOST_ENCLAVE_ID_MAX are -EINVAL, every enclave's CPUs count; a dead enclave's leftover
 *    directory is not handed out by a create without an id;
 *  - files: cpulist, cpumask, abi_version, status (active no/yes, nr_tasks), agent_online,
 *    ctl, tasks, tunables read back what was written; bad text (-EINVAL), unknown files
 *    (-ENOENT), read-only files (-EACCES), short buffers (-ENOSPC); every numeric tunable
 *    refuses values past its bounds (-EINVAL, the old value stays), however large;
 *  - ctl: create sw_region (again -EEXIST, bad node -ENODEV), unknown commands (-EINVAL),
 *    negative, huge or out-of-range numbers (-EINVAL, nothing created),
 *    destroy (the enclave disappears; its tasks depart and run on as normal threads);
 *  - agent_online is exclusive across handles; agent_attach outside the enclave (-ENODEV),
 *    twice on one CPU (-EBUSY), with a bad queue (-EBADF) or no default queue (-ENXIO);
 *    queue creation, wakeup configuration and association with bad arguments;
 *  - corrupted or truncated shared memory (state, cpu_data, sw region): attach fails with a
 *    negative errno and nothing crashes; a corrupt leftover does not block a new create;
 *  - sw_free of a word in use (-EINVAL), out of range (-ENOENT), already free (-EALREADY).
 *
 * Needs CPUs 0 and 1 (skips otherwise).
 */
#include "test.h"

#include <ghost/channel.h>
#include <ghost/enclave.h>
#include <ghost/kernel.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/txn.h>

/* The layout of the state file, to corrupt single fields of it. */
#include "../kernels/emu/emu.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static char g_root[128];
static const struct ghost_kernel_ops *K;
static struct ghost_kenclave *KH;
static struct ghost_cpuset CPUS01, CPU0, CPU1;

static void cleanup_root(void)
{
	if (g_root[0])
		test_rm_tree(g_root);
}

static struct ghost_enclave_opts opts_for(const char *root, uint64_t id,
					  const struct ghost_cpuset *cpus)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o), .root = root, .id = id, .cpus = cpus };

	return o;
}

static const char *rd(struct ghost_enclave *e, const char *name)
{
	static char buf[8192];
	int n = ghost_enclave_read_file(e, name, buf, sizeof(buf));

	CHECK_MSG(n >= 0, "read %s: %d", name, n);
	CHECK_EQ((size_t)n, strlen(buf));
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == 0))
			return true;
	return false;
}

static int list_ids(const char *root, uint64_t *ids, int max)
{
	return K->enclave_list(root, ids, max);
}

static bool listed(const char *root, uint64_t id)
{
	uint64_t ids[64];
	int n = list_ids(root, ids, 64);

	CHECK(n >= 0);
	for (int i = 0; i < n && i < 64; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* ---- enclaves in the namespace --------------------------------------------------------------- */

static void test_namespace(struct ghost_enclave **e1_out, struct ghost_enclave **e2_out)
{
	struct ghost_enclave_opts o;
	struct ghost_enclave *e1, *e2, *x = NULL;
	struct ghost_cpuset bad, empty;
	struct ghost_kernel_create_args args = { .sz = sizeof(args) };
	struct ghost_kenclave *kx = NULL;
	uint64_t ids[8];

	o = opts_for(g_root, 7, &CPUS01);
	CHECK_OK(ghost_enclave_create(&o, &e1));
	CHECK_EQ(ghost_enclave_id(e1), 7);
	CHECK(ghost_cpuset_equal(ghost_enclave_cpus(e1), &CPUS01));
	K = ghost_enclave_kernel(e1);
	KH = ghost_enclave_kernel_handle(e1);
	CHECK_STR(K->name, "emu");
	CHECK_EQ(list_ids(g_root, ids, 8), 1);
	CHECK_EQ(ids[0], 7);

	/* Same id again: -EEXIST (whatever the CPUs). */
	CHECK_ERR(ghost_enclave_create(&o, &x), EEXIST);
	o = opts_for(g_root, 7, &CPU1);
	CHECK_ERR(ghost_enclave_create(&o, &x), EEXIST);
	/* Another id over a CPU enclave 7 owns: -EBUSY. */
	o = opts_for(g_root, 0, &CPU1);
	CHECK_ERR(ghost_enclave_create(&o, &x), EBUSY);
	o = opts_for(g_root, 8, &CPU0);
	CHECK_ERR(ghost_enclave_create(&o, &x), EBUSY);
	CHECK(x == NULL);
	/* Missing ids. */
	o = opts_for(g_root, 999, NULL);
	CHECK_ERR(ghost_enclave_attach(&o, &x), ENOENT);
	o = opts_for(g_root, 0, NULL);
	CHECK_ERR(ghost_enclave_attach(&o, &x), EINVAL);
	/* A CPU the machine lacks; no CPU at all. */
	ghost_cpuset_zero(&bad);
	ghost_cpuset_set(&bad, 300);
	o = opts_for(g_root, 9, &bad);
	CHECK_ERR(ghost_enclave_create(&o, &x), EINVAL);
	ghost_cpuset_zero(&empty);
	o = opts_for(g_root, 9, &empty);
	CHECK_ERR(ghost_enclave_create(&o, &x), EINVAL);
	o = opts_for(g_root, 9, NULL);
	CHECK_ERR(ghost_enclave_create(&o, &x), EINVAL);
	/* The backend checks the same things itself, and the ABI number. */
	args.root = g_root;
	args.id = 9;
	args.cpus = &bad;
	args.abi = GHOST_VERSION;
	CHECK_ERR(K->enclave_create(&args, &kx), EINVAL);
	args.cpus = &empty;
	CHECK_ERR(K->enclave_create(&args, &kx), EINVAL);
	args.cpus = &CPU1;
	CHECK_ERR(K->enclave_create(&args, &kx), EBUSY);
	args.abi = 84;
	CHECK_ERR(K->enclave_create(&args, &kx), ESRCH);
	CHECK(kx == NULL);
	CHECK_EQ(list_ids(g_root, ids, 8), 1);

	/* A second handle on enclave 7. */
	o = opts_for(g_root, 7, NULL);
	CHECK_OK(ghost_enclave_attach(&o, &e2));
	CHECK_EQ(ghost_enclave_id(e2), 7);
	CHECK(ghost_cpuset_equal(ghost_enclave_cpus(e2), &CPUS01));
	*e1_out = e1;
	*e2_out = e2;
}

/* ---- files ----------------------------------------------------------------------------------- */

/*
 * Every numeric tunable has bounds: the largest value is taken, anything past it (up to
 * INT64_MAX and beyond) or below the smallest is -EINVAL and leaves the old value. A value
 * that overflowed when scaled to ns made a huge runnable_timeout tear the enclave down and a
 * huge agent_timeout_ms release its tasks at once.
 */
static void test_tunable_bounds(struct ghost_enclave *e)
{
	static const struct {
		const char *name, *lo, *hi, *below, *above;
	} t[] = {
		{ "runnable_timeout", "0", "86400000", "-1", "86400001" },
		{ "agent_timeout_ms", "0", "86400000", "-1", "86400001" },
		{ "tick_us", "100", "1000000", "99", "1000001" },
		{ "park_spin_ns", "0", "1000000000", "-1", "1000000001" },
		{ "net_period_us", "0", "1000000", "-1", "1000001" },
	};
	static const char *const huge[] = { "9223372036854775807", "9223372036854775808",
					    "18446744073709551615", "-9223372036854775808",
					    "99999999999999999999999" };
	static const char *const bools[] = {
		"deliver_ticks",     "deliver_cpu_availability", "deliver_agent_runnability",
		"commit_at_tick",    "wake_on_waker_cpu",	 "live_dangerously",
		"switchto_disabled", "strict_classes",		 "trace"
	};
	char was[64], with_nl[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(was, sizeof(was), "%s", rd(e, t[i].name));
		CHECK_OK(ghost_enclave_write_file(e, t[i].name, t[i].lo));
		snprintf(with_nl, sizeof(with_nl), "%s\n", t[i].lo);
		CHECK_STR(rd(e, t[i].name), with_nl);
		CHECK_OK(ghost_enclave_write_file(e, t[i].name, t[i].hi));
		snprintf(with_nl, sizeof(with_nl), "%s\n", t[i].hi);
		CHECK_STR(rd(e, t[i].name), with_nl);
		CHECK_MSG(ghost_enclave_write_file(e, t[i].name, t[i].below) == -EINVAL, "%s %s",
			  t[i].name, t[i].below);
		CHECK_MSG(ghost_enclave_write_file(e, t[i].name, t[i].above) == -EINVAL, "%s %s",
			  t[i].name, t[i].above);
		for (size_t j = 0; j < sizeof(huge) / sizeof(huge[0]); j++)
			CHECK_MSG(ghost_enclave_write_file(e, t[i].name, huge[j]) == -EINVAL,
				  "%s %s", t[i].name, huge[j]);
		CHECK_STR(rd(e, t[i].name), with_nl); /* the refused writes changed nothing */
		CHECK_OK(ghost_enclave_write_file(e, t[i].name, was));
		CHECK_STR(rd(e, t[i].name), was);
	}
	/* The safety net's period: 0 turns it off, a period under 100 us is refused. */
	CHECK_ERR(ghost_enclave_write_file(e, "net_period_us", "99"), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "net_period_us", "1"), EINVAL);
	CHECK_OK(ghost_enclave_write_file(e, "net_period_us", "100"));
	CHECK_STR(rd(e, "net_period_us"), "100\n");
	CHECK_OK(ghost_enclave_write_file(e, "net_period_us", "1000"));
	/* Through the enum too: the library passes a long long, the backend bounds it. */
	CHECK_ERR(ghost_enclave_set_tunable(e, GHOST_TUNABLE_RUNNABLE_TIMEOUT_MS, INT64_MAX),
		  EINVAL);
	CHECK_ERR(ghost_enclave_set_tunable(e, GHOST_TUNABLE_RUNNABLE_TIMEOUT_MS, 86400001),
		  EINVAL);
	CHECK_STR(rd(e, "runnable_timeout"), "0\n");
	/* Booleans take any int (non-zero is on, read back as 1), nothing wider. */
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		snprintf(was, sizeof(was), "%s", rd(e, bools[i]));
		CHECK_OK(ghost_enclave_write_file(e, bools[i], "-2147483648"));
		CHECK_STR(rd(e, bools[i]), "1\n");
		CHECK_OK(ghost_enclave_write_file(e, bools[i], "2147483647"));
		CHECK_STR(rd(e, bools[i]), "1\n");
		CHECK_OK(ghost_enclave_write_file(e, bools[i], "0"));
		CHECK_MSG(ghost_enclave_write_file(e, bools[i], "4294967296") == -EINVAL, "%s",
			  bools[i]);
		CHECK_MSG(ghost_enclave_write_file(e, bools[i], "-2147483649") == -EINVAL, "%s",
			  bools[i]);
		CHECK_MSG(ghost_enclave_write_file(e, bools[i], huge[0]) == -EINVAL, "%s",
			  bools[i]);
		CHECK_STR(rd(e, bools[i]), "0\n");
		CHECK_OK(ghost_enclave_write_file(e, bools[i], was));
	}
	/* tasks: a thread id is 0..INT_MAX; anything else is bad text, not a foreign thread. */
	CHECK_ERR(ghost_enclave_write_file(e, "tasks", "-1"), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "tasks", "2147483648"), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "tasks", huge[0]), EINVAL);
}

static void test_files(struct ghost_enclave *e)
{
	char want[1100], mask[1100], small[4];
	const char *s;
	struct ghost_cpuset back;
	long long v;
	int n;

	CHECK_STR(rd(e, "cpulist"), "0-1\n");
	n = ghost_cpuset_format_mask(&CPUS01, (int)sysconf(_SC_NPROCESSORS_CONF), want,
				     sizeof(want) - 1);
	CHECK(n > 0);
	strcat(want, "\n");
	s = rd(e, "cpumask");
	CHECK_STR(s, want);
	snprintf(mask, sizeof(mask), "%s", s);
	for (char *p = mask; *p; p++)
		CHECK_MSG(*p == ',' || *p == '\n' || (*p >= '0' && *p <= '9') ||
				  (*p >= 'a' && *p <= 'f'),
			  "cpumask \"%s\"", s);
	CHECK_OK(ghost_cpuset_parse_mask(&back, mask, GHOST_MAX_CPUS));
	CHECK(ghost_cpuset_equal(&back, &CPUS01));
	CHECK_STR(rd(e, "abi_version"), "91\n");
	s = rd(e, "status");
	CHECK_MSG(has_line(s, "version 91"), "%s", s);
	CHECK_MSG(has_line(s, "active no"), "%s", s);
	CHECK_MSG(has_line(s, "nr_tasks 0"), "%s", s);
	CHECK_STR(rd(e, "agent_online"), "0");
	CHECK_STR(rd(e, "ctl"), "7");
	CHECK_STR(rd(e, "tasks"), "");
	CHECK_STR(rd(e, "switchto_disabled"), "1\n");

	/* Tunables read back what was written, by file and by enum. */
	for (int t = 0; t < GHOST_TUNABLE_COUNT; t++) {
		const char *name = ghost_tunable_name((enum ghost_tunable)t);
		long long orig;
		char text[32];

		CHECK(name != NULL);
		CHECK_OK(ghost_enclave_get_tunable(e, (enum ghost_tunable)t, &orig));
		CHECK_OK(ghost_enclave_set_tunable(e, (enum ghost_tunable)t, 1));
		CHECK_OK(ghost_enclave_get_tunable(e, (enum ghost_tunable)t, &v));
		CHECK_EQ(v, 1);
		CHECK_STR(rd(e, name), "1\n");
		snprintf(text, sizeof(text), "%lld\n", orig);
		CHECK_OK(ghost_enclave_write_file(e, name, text));
		CHECK_STR(rd(e, name), text);
		/* Unparsable text changes nothing. */
		CHECK_ERR(ghost_enclave_write_file(e, name, "abc"), EINVAL);
		CHECK_ERR(ghost_enclave_write_file(e, name, "12abc"), EINVAL);
		CHECK_ERR(ghost_enclave_write_file(e, name, ""), EINVAL);
		CHECK_STR(rd(e, name), text);
	}
	CHECK(ghost_tunable_name(GHOST_TUNABLE_COUNT) == NULL);
	CHECK_ERR(ghost_enclave_set_tunable(e, GHOST_TUNABLE_COUNT, 1), EINVAL);
	CHECK_ERR(ghost_enclave_get_tunable(e, GHOST_TUNABLE_COUNT, &v), EINVAL);
	CHECK_OK(ghost_enclave_write_file(e, "runnable_timeout", "250"));
	CHECK_STR(rd(e, "runnable_timeout"), "250\n");
	CHECK_OK(ghost_enclave_get_tunable(e, GHOST_TUNABLE_RUNNABLE_TIMEOUT_MS, &v));
	CHECK_EQ(v, 250);
	CHECK_ERR(ghost_enclave_write_file(e, "runnable_timeout", "-5"), EINVAL);
	CHECK_OK(ghost_enclave_write_file(e, "runnable_timeout", "0\n"));
	CHECK_STR(rd(e, "runnable_timeout"), "0\n");
	/* Booleans are stored as 0/1. */
	CHECK_OK(ghost_enclave_write_file(e, "deliver_ticks", "5"));
	CHECK_STR(rd(e, "deliver_ticks"), "1\n");
	CHECK_OK(ghost_enclave_write_file(e, "deliver_ticks", "0"));
	CHECK_STR(rd(e, "deliver_ticks"), "0\n");
	/* This backend's own tunables. */
	CHECK_STR(rd(e, "tick_us"), "1000\n");
	CHECK_ERR(ghost_enclave_write_file(e, "tick_us", "50"), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "tick_us", "abc"), EINVAL);
	CHECK_OK(ghost_enclave_write_file(e, "tick_us", "2000"));
	CHECK_STR(rd(e, "tick_us"), "2000\n");
	CHECK_OK(ghost_enclave_write_file(e, "tick_us", "1000"));
	test_tunable_bounds(e);

	/* Unknown files, read-only files, bad arguments. */
	CHECK_ERR(ghost_enclave_read_file(e, "nope", small, sizeof(small)), ENOENT);
	CHECK_ERR(ghost_enclave_write_file(e, "nope", "1"), ENOENT);
	CHECK_ERR(ghost_enclave_read_file(e, "", small, sizeof(small)), ENOENT);
	CHECK_ERR(ghost_enclave_write_file(e, "status", "1"), EACCES);
	CHECK_ERR(ghost_enclave_write_file(e, "abi_version", "91"), EACCES);
	CHECK_ERR(ghost_enclave_write_file(e, "agent_online", "1"), EACCES);
	CHECK_ERR(ghost_enclave_write_file(e, "stats", "0"), EACCES);
	CHECK_ERR(ghost_enclave_read_file(e, "status", small, sizeof(small)), ENOSPC);
	CHECK_ERR(ghost_enclave_read_file(e, "status", small, 0), EINVAL);
	CHECK_ERR(ghost_enclave_read_file(e, NULL, small, sizeof(small)), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "deliver_ticks", NULL), EINVAL);
	/* tasks: only a thread running this library can be moved in. */
	CHECK_ERR(ghost_enclave_write_file(e, "tasks", "abc"), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "tasks", "1"), EOPNOTSUPP);
	/* cpulist / cpumask: bad text and CPUs past the machine. */
	CHECK_ERR(ghost_enclave_write_file(e, "cpulist", "0-zz"), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "cpulist", "0,300"), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "cpumask", "xyz"), EINVAL);
	CHECK_STR(rd(e, "cpulist"), "0-1\n");
}

/* ---- ctl ------------------------------------------------------------------------------------- */

static void test_ctl(struct ghost_enclave *e)
{
	struct ghost_sw_info info = { .id = 1, .index = 0 };
	const struct ghost_status_word *w;

	CHECK_OK(ghost_enclave_ctl(e, "create sw_region 1 0"));
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 1 0"), EEXIST);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 0 0"), EEXIST); /* made by create */
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 2 5"), ENODEV);
	CHECK_ERR(ghost_enclave_ctl(e, "bogus"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, ""), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 3"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 3 0 x"), EINVAL);
	/* Numbers are bounded, never wrapped: -1 is not region 4294967295. */
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region -1 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 4294967295 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 4294967296 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 64 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region +5 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 0x5 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 5 -1"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 5 1024"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "create sw_region 5 99999999999999999999"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "become agent -1 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "become agent 4294967296 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "become agent 99999999999999999999 0"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "become agent 0 -2"), EINVAL);
	CHECK_ERR(ghost_enclave_ctl(e, "become agent 0 99999999999999999999"), EINVAL);
	CHECK(!strstr(rd(e, "stats"), "agent running"));
	{
		char path[700];

		/* Not made under another name either. */
		snprintf(path, sizeof(path), "%s/enclave_7/sw_4294967295", g_root);
		CHECK(access(path, F_OK) != 0);
	}
	CHECK_OK(ghost_enclave_ctl(e, "create sw_region 63 0")); /* the largest id */
	CHECK_ERR(ghost_enclave_ctl(e, "destroy now"), EINVAL);
	CHECK_ERR(ghost_enclave_write_file(e, "ctl", "bogus\n"), EINVAL);
	/* One trailing newline is stripped, as ghostfs does. */
	CHECK_OK(ghost_enclave_write_file(e, "ctl", "create sw_region 4 0\n"));
	/* "discover tasks" with no tasks: nothing to send. */
	CHECK_EQ(ghost_enclave_ctl(e, "discover tasks"), 0);

	/* The new region is there, empty. */
	w = ghost_sw_lookup(e, &info);
	CHECK(w != NULL);
	CHECK(!ghost_sw_in_use(w));
	info.index = GHOST_SW_REGION_CAPACITY;
	errno = 0;
	CHECK(ghost_sw_lookup(e, &info) == NULL);
	CHECK_EQ(errno, ERANGE);
	info.id = 5;
	info.index = 0;
	errno = 0;
	CHECK(ghost_sw_lookup(e, &info) == NULL);
	CHECK_EQ(errno, ENOENT);
}

/* ---- agent_online ---------------------------------------------------------------------------- */

static void test_agent_online(struct ghost_enclave *e1, struct ghost_enclave *e2)
{
	CHECK_MSG(has_line(rd(e2, "status"), "active no"), "%s", rd(e2, "status"));
	CHECK_OK(ghost_enclave_agent_online(e1));
	CHECK_OK(ghost_enclave_agent_online(e1)); /* already ours */
	CHECK_ERR(ghost_enclave_agent_online(e2), EBUSY);
	CHECK_STR(rd(e1, "agent_online"), "1");
	CHECK_STR(rd(e2, "agent_online"), "1");
	CHECK_MSG(has_line(rd(e1, "status"), "active yes"), "%s", rd(e1, "status"));
	CHECK_MSG(has_line(rd(e2, "status"), "active yes"), "%s", rd(e2, "status"));
	ghost_enclave_agent_offline(e1);
	CHECK_STR(rd(e2, "agent_online"), "0");
	CHECK_OK(ghost_enclave_agent_online(e2));
	CHECK_ERR(ghost_enclave_agent_online(e1), EBUSY);
	CHECK_MSG(has_line(rd(e1, "status"), "active yes"), "%s", rd(e1, "status"));
	ghost_enclave_agent_offline(e2);
	CHECK_MSG(has_line(rd(e1, "status"), "active no"), "%s", rd(e1, "status"));
	CHECK_STR(rd(e1, "agent_online"), "0");
}

/* ---- agents and queues ----------------------------------------------------------------------- */

/* A thread that becomes cpu's agent and holds it until released. */
struct holder {
	pthread_t th;
	int cpu, q;
	int r;	     /* its attach */
	int r_other; /* a second attach (another CPU) while it is an agent */
	uint32_t ready, release;
};

static void *holder_main(void *arg)
{
	struct holder *h = arg;

	h->r = K->agent_attach(KH, h->cpu, h->q);
	if (h->r == 0)
		h->r_other = K->agent_attach(KH, h->cpu ? 0 : 1, h->q);
	STORE(h->ready, 1);
	if (h->r == 0) {
		while (!LOAD(h->release))
			usleep(1000);
		K->agent_detach(KH, h->cpu);
	}
	return NULL;
}

static void hold(struct holder *h, int cpu, int q)
{
	memset(h, 0, sizeof(*h));
	h->cpu = cpu;
	h->q = q;
	CHECK_EQ(pthread_create(&h->th, NULL, holder_main, h), 0);
	while (!LOAD(h->ready))
		usleep(100);
}

static void unhold(struct holder *h)
{
	STORE(h->release, 1);
	CHECK_EQ(pthread_join(h->th, NULL), 0);
}

/* One attach attempt from a fresh thread (a failed attach may still pin its caller). */
static int try_attach(int cpu, int q)
{
	struct holder h;

	hold(&h, cpu, q);
	unhold(&h);
	return h.r;
}

static uint32_t ns_task_ran;

static void *ns_task(void *arg)
{
	(void)arg;
	STORE(ns_task_ran, 1);
	return NULL;
}

/* The next message of c within a second, copied out. */
static bool next_msg(struct ghost_channel *c, struct ghost_msg *hdr, void *payload, size_t len)
{
	int64_t end = ghost_now_ns() + 1000000000LL;

	for (;;) {
		const struct ghost_msg *m = ghost_channel_peek(c);

		if (m) {
			CHECK(ghost_channel_msg_valid(c, m));
			*hdr = *m;
			ghost_msg_copy_payload(m, payload, len);
			ghost_channel_consume(c, m);
			return true;
		}
		if (ghost_now_ns() > end)
			return false;
		usleep(200);
	}
}

static void test_agents_and_queues(struct ghost_enclave *e)
{
	struct ghost_channel *c, *c2, *x = NULL;
	struct ghost_kqueue kq;
	struct ghost_agent_wakeup w[3] = { { 0, 0 }, { 1, 0 }, { 0, 0 } };
	struct holder h0;
	struct ghost_thread *th;
	struct ghost_msg hdr;
	struct ghost_msg_payload_task_new pn;
	struct ghost_msg_payload_task_departed pd;
	struct ghost_sw_info swi, info;
	int cpus3[3] = { 0, 1, 0 }, cpu999 = 999;
	int64_t gtid, bogus = (12345LL << 41) | 77;
	uint32_t seq;
	char line[32];
	pid_t tid;

	CHECK_OK(ghost_enclave_agent_online(e));

	/* Queues: elems a power of two in 1..65536, node 0, flags 0. */
	CHECK_ERR(ghost_channel_create(e, 3, 0, &x), EINVAL);
	CHECK_ERR(ghost_channel_create(e, 0, 0, &x), EINVAL);
	CHECK_ERR(ghost_channel_create(e, 131072, 0, &x), EINVAL);
	CHECK_ERR(ghost_channel_create(e, 256, 1, &x), EINVAL);
	CHECK_ERR(K->queue_create(KH, 256, 0, 1, &kq), EINVAL);
	CHECK(x == NULL);
	CHECK_OK(ghost_channel_create(e, 256, 0, &c));
	CHECK_OK(ghost_channel_create(e, 16, 0, &c2));
	CHECK(c->qid != c2->qid);

	/* Wakeup configuration: at most 2 entries, real CPUs, prio 0, a real queue. */
	CHECK_ERR(ghost_channel_config_wakeup(c, cpus3, 3), EINVAL);
	CHECK_ERR(K->queue_config_wakeup(KH, c->qid, w, 3), EINVAL);
	CHECK_ERR(ghost_channel_config_wakeup(c, &cpu999, 1), EINVAL);
	CHECK_ERR(ghost_channel_config_wakeup(c, NULL, 1), EINVAL);
	CHECK_ERR(ghost_channel_config_wakeup(c, cpus3, -1), EINVAL);
	w[0].cpu = -1;
	CHECK_ERR(K->queue_config_wakeup(KH, c->qid, w, 1), EINVAL);
	w[0].cpu = 0;
	w[0].prio = 1;
	CHECK_ERR(K->queue_config_wakeup(KH, c->qid, w, 1), EINVAL);
	w[0].prio = 0;
	CHECK_ERR(K->queue_config_wakeup(KH, 999, w, 1), EBADF);
	CHECK_OK(ghost_channel_config_wakeup(c, cpus3, 2));
	CHECK_OK(ghost_channel_config_wakeup(c, NULL, 0));
	CHECK_ERR(K->queue_set_default(KH, 999), EBADF);
	CHECK_ERR(K->queue_set_default(KH, -1), EBADF);

	/* agent_attach: bad CPU, bad queue, no default queue yet. */
	CHECK_ERR(try_attach(999, c->qid), EINVAL);
	CHECK_ERR(try_attach(-1, c->qid), EINVAL);
	CHECK_ERR(try_attach(1, 12345), EBADF);
	CHECK_ERR(try_attach(1, -5), EBADF);
	CHECK_ERR(try_attach(1, -1), ENXIO);
	CHECK_OK(ghost_channel_set_default(c));
	CHECK_OK(try_attach(1, -1)); /* default queue now */

	/* Twice on one CPU from two threads; a thread is the agent of one CPU only. */
	hold(&h0, 0, c->qid);
	CHECK_OK(h0.r);
	CHECK_ERR(h0.r_other, EBUSY);
	CHECK_OK(ghost_sw_agent_info(e, 0, &info));
	CHECK_ERR(try_attach(0, c->qid), EBUSY);
	CHECK_ERR(try_attach(0, -1), EBUSY);
	/* Removing a CPU that has an agent: -EEXIST. */
	CHECK_ERR(ghost_enclave_write_file(e, "cpulist", "1"), EEXIST);
	/* Shrink the enclave to CPU 0: CPU 1 is outside it now. */
	CHECK_OK(ghost_enclave_write_file(e, "cpulist", "0"));
	CHECK_STR(rd(e, "cpulist"), "0\n");
	CHECK(ghost_cpuset_equal(ghost_enclave_cpus(e), &CPU0));
	CHECK_ERR(try_attach(1, c->qid), ENODEV);
	CHECK_ERR(ghost_sw_agent_info(e, 1, &info), ENODEV);
	CHECK(ghost_enclave_txn(e, 1) == NULL);
	CHECK_OK(ghost_enclave_write_file(e, "cpulist", "0-1"));
	CHECK(ghost_cpuset_equal(ghost_enclave_cpus(e), &CPUS01));
	CHECK(ghost_enclave_txn(e, 1) != NULL);
	CHECK_ERR(ghost_sw_agent_info(e, 1, &info), EINVAL); /* in, but no agent */
	CHECK_ERR(ghost_sw_agent_info(e, 999, &info), EINVAL);
	unhold(&h0);
	CHECK_ERR(ghost_sw_agent_info(e, 0, &info), EINVAL);

	/* A ghost task (parked: nobody commits it) to associate and to list. */
	CHECK_OK(ghost_thread_create(e, &th, ns_task, NULL));
	tid = ghost_thread_tid(th);
	CHECK_MSG(next_msg(c, &hdr, &pn, sizeof(pn)), "no TASK_NEW");
	CHECK_EQ(hdr.type, MSG_TASK_NEW);
	gtid = (int64_t)pn.gtid;
	seq = hdr.seqnum;
	swi = pn.sw_info;
	CHECK_EQ(ghost_gtid_to_tid(gtid), tid);
	CHECK_MSG(has_line(rd(e, "status"), "nr_tasks 1"), "%s", rd(e, "status"));
	snprintf(line, sizeof(line), "%d", (int)tid);
	CHECK_MSG(has_line(rd(e, "tasks"), line), "%s", rd(e, "tasks"));
	CHECK_OK(K->sw_get_info(KH, GHOST_TASK, (uint64_t)gtid, &info));
	CHECK(info.id == swi.id && info.index == swi.index);
	CHECK_ERR(K->sw_get_info(KH, GHOST_TASK, (uint64_t)bogus, &info), ENOENT);
	CHECK_ERR(K->sw_get_info(KH, 7, 0, &info), EINVAL);
	CHECK_EQ(LOAD(ns_task_ran), 0);

	/* Association checks the barrier and the gtid. */
	CHECK_ERR(ghost_channel_associate(c, gtid, seq - 1), ESTALE);
	CHECK_ERR(ghost_channel_associate(c, gtid, seq + 1), ESTALE);
	CHECK_ERR(ghost_channel_associate(c, bogus, 0), ENOENT);
	CHECK_ERR(ghost_channel_associate(c, bogus, seq), ENOENT);
	CHECK_ERR(K->queue_assoc(KH, 999, gtid, seq, 0), EBADF);
	CHECK_ERR(K->queue_assoc(KH, c->qid, gtid, seq, 1), EINVAL);
	CHECK_EQ(ghost_channel_associate(c, gtid, seq), 0);
	CHECK_EQ(ghost_channel_associate(c, gtid, seq), GHOST_ASSOC_SF_ALREADY);
	CHECK_EQ(ghost_channel_associate(c2, gtid, seq), 0);

	/* sw_free: in use and not CANFREE, out of range, unknown region, already free. */
	CHECK_ERR(ghost_sw_free(e, &swi), EINVAL);
	info.id = 0;
	info.index = GHOST_SW_REGION_CAPACITY;
	CHECK_ERR(ghost_sw_free(e, &info), ENOENT);
	info.index = 1000000;
	CHECK_ERR(ghost_sw_free(e, &info), ENOENT);
	info.id = 9;
	info.index = 0;
	CHECK_ERR(ghost_sw_free(e, &info), ENOENT);
	info.id = 0;
	info.index = GHOST_SW_REGION_CAPACITY - 1;
	CHECK_ERR(ghost_sw_free(e, &info), EALREADY);
	CHECK_ERR(ghost_sw_free(e, &swi), EINVAL); /* still there */
	CHECK(ghost_sw_in_use(ghost_sw_lookup(e, &swi)));

	/* destroy: the task departs (its message goes to its queue, c2) and runs on. */
	CHECK_OK(ghost_enclave_ctl(e, "destroy"));
	CHECK_OK(ghost_thread_join(th, NULL));
	CHECK_EQ(LOAD(ns_task_ran), 1);
	CHECK_MSG(next_msg(c2, &hdr, &pd, sizeof(pd)), "no TASK_DEPARTED");
	CHECK_EQ(hdr.type, MSG_TASK_DEPARTED);
	CHECK_EQ((int64_t)pd.gtid, gtid);
	CHECK(hdr.seqnum > seq);
	CHECK_EQ(pd.was_current, 0);
	CHECK(ghost_channel_peek(c) == NULL);
	CHECK(!listed(g_root, 7));
	ghost_channel_destroy(c2);
	ghost_channel_destroy(c);
}

/* ---- corrupted shared memory ----------------------------------------------------------------- */

static void sub_root(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_root, name);
	CHECK_MSG(mkdir(buf, 0700) == 0, "%s: %s", buf, strerror(errno));
}

/* Creates enclave 3 in root and closes it (it lives on: not ephemeral). */
static void make_closed(const char *root)
{
	struct ghost_enclave_opts o = opts_for(root, 3, &CPUS01);
	struct ghost_enclave *e;

	CHECK_OK(ghost_enclave_create(&o, &e));
	ghost_enclave_close(e);
	CHECK(listed(root, 3));
}

static void file_path(char *buf, size_t len, const char *root, const char *file)
{
	snprintf(buf, len, "%s/enclave_3/%s", root, file);
}

static off_t file_size(const char *path)
{
	struct stat st;

	CHECK_MSG(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
	return st.st_size;
}

static void poke(const char *path, off_t off, const void *bytes, size_t len)
{
	int fd = open(path, O_RDWR);

	CHECK_MSG(fd >= 0, "%s: %s", path, strerror(errno));
	CHECK_EQ(pwrite(fd, bytes, len, off), (ssize_t)len);
	close(fd);
}

static void cut(const char *path, off_t size)
{
	CHECK_MSG(truncate(path, size) == 0, "%s: %s", path, strerror(errno));
}

static int attach3(const char *root, struct ghost_enclave **e)
{
	struct ghost_enclave_opts o = opts_for(root, 3, NULL);

	*e = NULL;
	return ghost_enclave_attach(&o, e);
}

static void destroy3(const char *root)
{
	struct ghost_enclave *e;

	CHECK_OK(attach3(root, &e));
	CHECK_OK(ghost_enclave_ctl(e, "destroy"));
	ghost_enclave_close(e);
	CHECK(!listed(root, 3));
}

static void test_corruption(void)
{
	char root[256], path[512];
	struct ghost_enclave *e;
	struct ghost_enclave_opts o;
	uint64_t zero8 = 0;
	uint32_t u32;
	off_t size;

	/* The magic zeroed: refused, not listed, and a new create replaces the leftover. */
	sub_root(root, sizeof(root), "magic");
	make_closed(root);
	file_path(path, sizeof(path), root, "state");
	poke(path, 0, &zero8, sizeof(zero8));
	CHECK_ERR(attach3(root, &e), EINVAL);
	CHECK(e == NULL);
	CHECK(!listed(root, 3));
	o = opts_for(root, 3, &CPUS01);
	CHECK_OK(ghost_enclave_create(&o, &e));
	CHECK_STR(rd(e, "cpulist"), "0-1\n");
	CHECK_OK(ghost_enclave_ctl(e, "destroy"));
	ghost_enclave_close(e);

	/* The state file cut to half its size, or to less than its header. */
	sub_root(root, sizeof(root), "half");
	make_closed(root);
	file_path(path, sizeof(path), root, "state");
	size = file_size(path);
	cut(path, size / 2);
	CHECK_ERR(attach3(root, &e), EINVAL);
	CHECK(!listed(root, 3));
	cut(path, 16);
	CHECK_ERR(attach3(root, &e), EINVAL);
	cut(path, 0);
	CHECK_ERR(attach3(root, &e), EINVAL);
	/* Grown past its size: also refused. */
	cut(path, size + 4096);
	CHECK_ERR(attach3(root, &e), EINVAL);

	/* Fields that would index out of bounds. */
	sub_root(root, sizeof(root), "fields");
	make_closed(root);
	file_path(path, sizeof(path), root, "state");
	u32 = 100000;
	poke(path, offsetof(struct emu_shared, ncpus), &u32, sizeof(u32));
	CHECK_ERR(attach3(root, &e), EINVAL);
	u32 = 0;
	poke(path, offsetof(struct emu_shared, ncpus), &u32, sizeof(u32));
	CHECK_ERR(attach3(root, &e), EINVAL);
	u32 = (uint32_t)sysconf(_SC_NPROCESSORS_CONF);
	poke(path, offsetof(struct emu_shared, ncpus), &u32, sizeof(u32));
	CHECK_OK(attach3(root, &e)); /* repaired: fine again */
	ghost_enclave_close(e);
	u32 = 0;
	poke(path, offsetof(struct emu_shared, max_tasks), &u32, sizeof(u32));
	CHECK_ERR(attach3(root, &e), EINVAL);
	u32 = 0xffffffffu;
	poke(path, offsetof(struct emu_shared, max_tasks), &u32, sizeof(u32));
	CHECK_ERR(attach3(root, &e), EINVAL);
	u32 = EMU_DEFAULT_MAX_TASKS * 2; /* believable, but not this file's size */
	poke(path, offsetof(struct emu_shared, max_tasks), &u32, sizeof(u32));
	CHECK_ERR(attach3(root, &e), EINVAL);
	u32 = EMU_DEFAULT_MAX_TASKS;
	poke(path, offsetof(struct emu_shared, max_tasks), &u32, sizeof(u32));
	CHECK_OK(attach3(root, &e));
	ghost_enclave_close(e);
	u32 = 77;
	poke(path, offsetof(struct emu_shared, layout), &u32, sizeof(u32));
	CHECK_ERR(attach3(root, &e), EINVAL);

	/* cpu_data cut to half, or gone: the state is fine (listed) but attach fails. */
	sub_root(root, sizeof(root), "cpudata");
	make_closed(root);
	file_path(path, sizeof(path), root, "cpu_data");
	size = file_size(path);
	cut(path, size / 2);
	CHECK_ERR(attach3(root, &e), EINVAL);
	CHECK(listed(root, 3));
	cut(path, 0);
	CHECK_ERR(attach3(root, &e), EINVAL);
	CHECK_EQ(unlink(path), 0);
	CHECK_ERR(attach3(root, &e), ENOENT);
	/* The id is still taken by a live-looking enclave. */
	o = opts_for(root, 3, &CPUS01);
	CHECK_ERR(ghost_enclave_create(&o, &e), EEXIST);

	/* A status-word region cut short: attach works, the region is refused. */
	sub_root(root, sizeof(root), "swregion");
	make_closed(root);
	file_path(path, sizeof(path), root, "sw_0");
	cut(path, file_size(path) / 2);
	CHECK_OK(attach3(root, &e));
	{
		struct ghost_sw_info info = { .id = 0, .index = 0 };

		errno = 0;
		CHECK(ghost_sw_lookup(e, &info) == NULL);
		CHECK_EQ(errno, EINVAL);
	}
	ghost_enclave_close(e);
	destroy3(root);
}

/* ---- more enclaves than a table of 256 ------------------------------------------------------ */

#define MANY 258

/*
 * Creates an enclave in root (id 0: the first free) over CPU 0, then takes every CPU off it
 * so that the next one can have CPU 0 too, and marks it: tick_us = 1000 + its id. Returns
 * its id.
 */
static uint64_t make_cpuless(const char *root, uint64_t id)
{
	struct ghost_enclave_opts o = opts_for(root, id, &CPU0);
	struct ghost_enclave *e;
	char mark[32];
	uint64_t got;

	o.max_tasks = 16;
	CHECK_OK(ghost_enclave_create(&o, &e));
	got = ghost_enclave_id(e);
	CHECK_OK(ghost_enclave_write_file(e, "cpulist", ""));
	snprintf(mark, sizeof(mark), "%llu", 1000 + (unsigned long long)got % 100000);
	CHECK_OK(ghost_enclave_write_file(e, "tick_us", mark));
	ghost_enclave_close(e);
	return got;
}

/* A fresh handle on enclave id still shows what make_cpuless left there. */
static void check_untouched(const char *root, uint64_t id)
{
	struct ghost_enclave_opts o = opts_for(root, id, NULL);
	struct ghost_enclave *e;
	char want[32];

	CHECK_MSG(ghost_enclave_attach(&o, &e) == 0, "enclave %llu is gone",
		  (unsigned long long)id);
	snprintf(want, sizeof(want), "%llu\n", 1000 + (unsigned long long)id % 100000);
	CHECK_MSG(!strcmp(rd(e, "tick_us"), want), "enclave %llu was reset: tick_us %s",
		  (unsigned long long)id, rd(e, "tick_us"));
	CHECK_MSG(ghost_cpuset_empty(ghost_enclave_cpus(e)), "enclave %llu was reset: cpulist %s",
		  (unsigned long long)id, rd(e, "cpulist"));
	ghost_enclave_close(e);
}

static void test_many_enclaves(void)
{
	static const uint64_t taken[] = { 1, 2, 100, 255, 256, 257, 258 };
	static bool seen[MANY + 2];
	static uint64_t ids[MANY + 16];
	char root[256], path[512];
	struct ghost_enclave_opts o;
	struct ghost_enclave *e = NULL;
	uint32_t dead = EMU_E_DEAD;
	uint64_t got;

	sub_root(root, sizeof(root), "many");
	for (int i = 1; i <= MANY; i++) {
		got = make_cpuless(root, 0);
		CHECK_MSG(got >= 1 && got <= MANY && !seen[got],
			  "create #%d without an id returned %llu, an id in use", i,
			  (unsigned long long)got);
		seen[got] = true;
	}
	CHECK_EQ(list_ids(root, ids, MANY + 16), MANY);
	/* An id in use is -EEXIST, wherever it sorts and whatever the CPUs. */
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		o = opts_for(root, taken[i], &CPU1);
		CHECK_MSG(ghost_enclave_create(&o, &e) == -EEXIST, "create --id %llu",
			  (unsigned long long)taken[i]);
		CHECK(e == NULL);
	}
	/* One more without an id: a new one. Ids past 256 work when asked for; past the
	 * documented limit they are refused. */
	CHECK_EQ(make_cpuless(root, 0), MANY + 1);
	CHECK_EQ(make_cpuless(root, 1000), 1000);
	CHECK_EQ(make_cpuless(root, GHOST_ENCLAVE_ID_MAX), GHOST_ENCLAVE_ID_MAX);
	o = opts_for(root, GHOST_ENCLAVE_ID_MAX + 1, &CPU1);
	CHECK_ERR(ghost_enclave_create(&o, &e), EINVAL);
	o = opts_for(root, UINT64_MAX, &CPU1);
	CHECK_ERR(ghost_enclave_create(&o, &e), EINVAL);
	CHECK_ERR(ghost_enclave_attach(&o, &e), EINVAL);
	CHECK_EQ(list_ids(root, ids, MANY + 16), MANY + 3);
	/* Not one of them was reset. */
	for (uint64_t id = 1; id <= MANY + 1; id++)
		check_untouched(root, id);
	check_untouched(root, 1000);
	check_untouched(root, GHOST_ENCLAVE_ID_MAX);
	/* Every enclave's CPUs count, the last of hundreds too. */
	o = opts_for(root, GHOST_ENCLAVE_ID_MAX, NULL);
	CHECK_OK(ghost_enclave_attach(&o, &e));
	CHECK_OK(ghost_enclave_write_file(e, "cpulist", "1"));
	ghost_enclave_close(e);
	e = NULL;
	o = opts_for(root, 0, &CPU1);
	CHECK_ERR(ghost_enclave_create(&o, &e), EBUSY);
	o = opts_for(root, 5000, &CPUS01);
	CHECK_ERR(ghost_enclave_create(&o, &e), EBUSY);
	CHECK(e == NULL);

	/*
	 * A dead enclave whose files are still there (its destroyer has not removed them yet):
	 * a create without an id leaves it to its destroyer and takes a fresh id; asked for by
	 * id, it is replaced.
	 */
	sub_root(root, sizeof(root), "dead");
	CHECK_EQ(make_cpuless(root, 0), 1);
	CHECK_EQ(make_cpuless(root, 0), 2);
	snprintf(path, sizeof(path), "%s/enclave_1/state", root);
	poke(path, offsetof(struct emu_shared, state), &dead, sizeof(dead));
	CHECK(!listed(root, 1));
	CHECK_EQ(make_cpuless(root, 0), 3);
	CHECK_EQ(make_cpuless(root, 1), 1);
	check_untouched(root, 1);
	check_untouched(root, 2);
	check_untouched(root, 3);
}

int main(void)
{
	struct ghost_enclave *e1, *e2;
	struct ghost_enclave_opts o;
	cpu_set_t mine;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || sched_getaffinity(0, sizeof(mine), &mine) ||
	    !CPU_ISSET(0, &mine) || !CPU_ISSET(1, &mine)) {
		printf("SKIP: needs CPUs 0 and 1\n");
		return TEST_SKIP;
	}
	alarm(60);
	snprintf(g_root, sizeof(g_root), "/tmp/test_emu_ns.XXXXXX");
	CHECK(mkdtemp(g_root) != NULL);
	atexit(cleanup_root);
	ghost_cpuset_zero(&CPUS01);
	ghost_cpuset_set(&CPUS01, 0);
	ghost_cpuset_set(&CPUS01, 1);
	ghost_cpuset_zero(&CPU0);
	ghost_cpuset_set(&CPU0, 0);
	ghost_cpuset_zero(&CPU1);
	ghost_cpuset_set(&CPU1, 1);

	test_namespace(&e1, &e2);
	test_files(e1);
	test_ctl(e1);
	test_agent_online(e1, e2);
	test_agents_and_queues(e1);
	/* Enclave 7 is gone for everyone. */
	o = opts_for(g_root, 7, NULL);
	{
		struct ghost_enclave *x = NULL;

		CHECK_ERR(ghost_enclave_attach(&o, &x), ENOENT);
		CHECK(x == NULL);
	}
	CHECK_ERR(ghost_enclave_agent_online(e2), ENODEV);
	CHECK_EQ(list_ids(g_root, NULL, 0), 0);
	ghost_enclave_close(e2);
	ghost_enclave_close(e1);
	/* Its CPUs are free again. */
	o = opts_for(g_root, 0, &CPUS01);
	CHECK_OK(ghost_enclave_create(&o, &e1));
	CHECK_EQ(ghost_enclave_id(e1), 1);
	CHECK_OK(ghost_enclave_ctl(e1, "destroy"));
	ghost_enclave_close(e1);

	test_corruption();
	test_many_enclaves();
	printf("test_emu_ns: ok\n");
	return 0;
}
