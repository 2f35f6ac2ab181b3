/*
 * tests/test_contract.c - the backend contract and the options that grow.
 *
 * White-box (it includes src/backend.h): every built-in table passes the
 * registry's check or, for a backend not built in, is refused with the
 * backend's own sentence; hand-made broken tables (wrong version, a missing
 * mandatory op, a claimed capability without its ops) are refused with
 * -ENODEV and a sentence by every public entry point, never called; unknown
 * names (argument or GHOST_KERNEL) are errors that list the known backends;
 * the library's own ctl parsing; and every public options struct takes a
 * zeroed struct (defaults), an older smaller one, and a newer larger one only
 * with a zero tail (-E2BIG otherwise).
 */
#include "backend.h"
#include "emu_helpers.h"
#include "enclave_priv.h"

#include <ghost/ghost.h>

#include <stddef.h>

/* ---- the registry ---- */

static int never_called(const char *root, char *why, size_t why_len)
{
	(void)root;
	snprintf(why, why_len, "fake backend's probe");
	return -EHOSTDOWN;
}

static int fail_op_called;

static int fake_list(const char *root, uint64_t *ids, int max)
{
	(void)root, (void)ids, (void)max;
	fail_op_called = 1;
	return 0;
}

static void test_builtin_tables(void)
{
	const struct ghost_kernel_ops *const *all = ghost_kernel_all();
	int n = 0;

	for (; all[n]; n++) {
		char why[256] = "";
		int err = ghost_kernel_check(all[n], why, sizeof(why));

		CHECK_EQ(all[n]->version, GHOST_KERNEL_OPS_VERSION);
		CHECK(ghost_kernel_name(all[n]) && ghost_kernel_summary(all[n]));
		CHECK(ghost_kernel_find(ghost_kernel_name(all[n])) == all[n]);
		if (!strcmp(all[n]->name, "scx") && !all[n]->enclave_create) {
			/* The stand-in of a build without SCX=1: refused, but its probe explains. */
			CHECK_EQ(err, -ENODEV);
			CHECK_MSG(strstr(why, "lacks enclave_create") != NULL, "%s", why);
			CHECK_EQ(ghost_kernel_caps(all[n]), 0);
			CHECK_EQ(ghost_kernel_probe(all[n], NULL, why, sizeof(why)), -ENODEV);
			CHECK_MSG(strstr(why, "make SCX=1") != NULL, "%s", why);
			CHECK_EQ(ghost_kernel_list_enclaves(all[n], NULL, NULL, 0), -ENODEV);
		} else {
			CHECK_MSG(err == 0, "%s: %s", all[n]->name, why);
		}
	}
	CHECK_EQ(n, 4);
	CHECK_EQ(ghost_kernel_caps(ghost_kernel_find("emu")),
		 GHOST_KCAP_USER_TASKS | GHOST_KCAP_PERSISTENT | GHOST_KCAP_DISCOVERY |
			 GHOST_KCAP_SW_REGIONS | GHOST_KCAP_TIMERS | GHOST_KCAP_SELF_EXIT);
	CHECK(ghost_kernel_caps(ghost_kernel_find("sim")) & GHOST_KCAP_VIRTUAL);
}

static void test_broken_tables(void)
{
	struct ghost_kernel_ops t = *ghost_kernel_find("emu");
	char why[256];

	/* Complete: a copy of emu's table passes. */
	CHECK_OK(ghost_kernel_check(&t, why, sizeof(why)));

	/* Another version: refused before anything is looked at. */
	t.version = GHOST_KERNEL_OPS_VERSION + 1;
	CHECK_EQ(ghost_kernel_check(&t, why, sizeof(why)), -ENODEV);
	CHECK_MSG(strstr(why, "version") != NULL, "%s", why);
	CHECK_EQ(ghost_kernel_caps(&t), 0);
	t.version = GHOST_KERNEL_OPS_VERSION;

	/* A missing mandatory op: named, and the table is never called. */
	t.enclave_list = NULL;
	CHECK_EQ(ghost_kernel_check(&t, why, sizeof(why)), -ENODEV);
	CHECK_MSG(strstr(why, "lacks enclave_list") != NULL, "%s", why);
	t.probe = never_called;
	CHECK_EQ(ghost_kernel_probe(&t, NULL, why, sizeof(why)), -EHOSTDOWN);
	t.probe = ghost_kernel_find("emu")->probe;
	CHECK_EQ(ghost_kernel_probe(&t, NULL, why, sizeof(why)), -ENODEV);
	CHECK_MSG(strstr(why, "lacks enclave_list") != NULL, "%s", why);
	t.enclave_list = ghost_kernel_find("emu")->enclave_list;

	/* A capability without its ops. */
	t.timer_set = NULL;
	CHECK_EQ(ghost_kernel_check(&t, why, sizeof(why)), -ENODEV);
	CHECK_MSG(strstr(why, "timer_set") && strstr(why, "capability"), "%s", why);
	t.caps &= ~GHOST_KCAP_TIMERS;
	CHECK_OK(ghost_kernel_check(&t, why, sizeof(why)));
	/* A simulator's capability without the ops that run its agents. */
	t.caps |= GHOST_KCAP_VIRTUAL;
	CHECK_EQ(ghost_kernel_check(&t, why, sizeof(why)), -ENODEV);
	CHECK_MSG(strstr(why, "agent_spawn") && strstr(why, "capability"), "%s", why);
	t.caps &= ~GHOST_KCAP_VIRTUAL;

	/* Listing through a broken table answers -ENODEV and never calls it. */
	t.enclave_list = fake_list;
	t.commit = NULL;
	CHECK_EQ(ghost_kernel_list_enclaves(&t, NULL, NULL, 0), -ENODEV);
	CHECK_EQ(fail_op_called, 0);

	/* Bad arguments. */
	CHECK_EQ(ghost_kernel_check(NULL, why, sizeof(why)), -EINVAL);
	CHECK_EQ(ghost_kernel_probe(NULL, NULL, why, sizeof(why)), -EINVAL);
	CHECK_EQ(ghost_kernel_list_enclaves(ghost_kernel_find("emu"), NULL, NULL, 3), -EINVAL);
	CHECK(ghost_kernel_name(NULL) == NULL);
	CHECK_EQ(ghost_kernel_caps(NULL), 0);
}

static void test_names(void)
{
	const struct ghost_kernel_ops *k = NULL;
	char why[256];

	CHECK(ghost_kernel_find("nosuch") == NULL);
	CHECK_EQ(ghost_kernel_choose("nosuch", &k, why, sizeof(why)), -ENOENT);
	CHECK(k == NULL);
	CHECK_MSG(strstr(why, "\"nosuch\"") && strstr(why, "emu") && strstr(why, "ghostfs"), "%s",
		  why);
	CHECK_OK(ghost_kernel_choose("ghostfs", &k, why, sizeof(why)));
	CHECK_STR(ghost_kernel_name(k), "ghostfs");

	/* The default: GHOST_KERNEL when set; a typo there is an error, not emu. */
	unsetenv("GHOST_KERNEL");
	CHECK_STR(ghost_kernel_name(ghost_kernel_default()), "emu");
	setenv("GHOST_KERNEL", "emux", 1);
	CHECK(ghost_kernel_default() == NULL);
	CHECK(ghost_kernel_find(NULL) == NULL);
	CHECK_EQ(ghost_kernel_choose(NULL, &k, why, sizeof(why)), -ENOENT);
	CHECK_MSG(strstr(why, "\"emux\"") && strstr(why, "GHOST_KERNEL"), "%s", why);
	/* An explicit name wins over the variable. */
	CHECK_OK(ghost_kernel_choose("emu", &k, why, sizeof(why)));
	{
		struct ghost_cpuset cpus;
		struct ghost_enclave *e = NULL;
		struct ghost_enclave_opts o = { .root = test_root, .cpus = &cpus };

		ghost_cpuset_zero(&cpus);
		ghost_cpuset_set(&cpus, 0);
		CHECK_EQ(ghost_enclave_create(&o, &e), -ENOENT);
		CHECK(e == NULL);
	}
	setenv("GHOST_KERNEL", "emu", 1);
	CHECK_STR(ghost_kernel_name(ghost_kernel_default()), "emu");
	unsetenv("GHOST_KERNEL");
}

/* ---- options that grow ---- */

/* A "newer caller": our struct followed by a field this library does not know. */
struct enclave_opts_newer {
	struct ghost_enclave_opts o;
	uint64_t future;
};

static void test_enclave_opts(void)
{
	struct ghost_cpuset cpus;
	struct ghost_enclave *e;
	struct enclave_opts_newer n;
	struct ghost_enclave_opts z;

	ghost_cpuset_zero(&cpus);
	ghost_cpuset_set(&cpus, 0);

	/* sz 0 (a zeroed struct with fields set by name): this version's size. */
	memset(&z, 0, sizeof(z));
	z.root = test_root;
	z.cpus = &cpus;
	z.id = 41;
	CHECK_OK(ghost_enclave_create(&z, &e));
	CHECK_EQ(ghost_enclave_id(e), 41);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);

	/* Newer and larger, tail zero: accepted. */
	memset(&n, 0, sizeof(n));
	n.o.sz = sizeof(n);
	n.o.root = test_root;
	n.o.cpus = &cpus;
	n.o.id = 42;
	CHECK_OK(ghost_enclave_create(&n.o, &e));
	CHECK_EQ(ghost_enclave_id(e), 42);

	/* Newer with a field set that we cannot honour: -E2BIG, nothing made. */
	n.future = 1;
	n.o.id = 43;
	CHECK_EQ(ghost_enclave_create(&n.o, &e), -E2BIG);
	n.o.id = 42;
	CHECK_EQ(ghost_enclave_attach(&n.o, &e), -E2BIG);
	n.future = 0;
	{
		struct ghost_enclave *e2;

		CHECK_OK(ghost_enclave_attach(&n.o, &e2));
		CHECK_EQ(ghost_enclave_id(e2), 42);
		ghost_enclave_close(e2);
	}

	/* Older and smaller: up to and including cpus (no max_tasks, no ephemeral). */
	memset(&z, 0, sizeof(z));
	z.sz = offsetof(struct ghost_enclave_opts, max_tasks);
	z.root = test_root;
	z.cpus = &cpus;
	z.id = 44;
	z.ephemeral = true; /* beyond its sz: must be ignored, so the enclave stays */
	ghost_cpuset_zero(&cpus);
	ghost_cpuset_set(&cpus, test_ncpus() > 1 ? 1 : 0);
	if (test_ncpus() > 1) {
		struct ghost_enclave *e44, *again;

		CHECK_OK(ghost_enclave_create(&z, &e44));
		ghost_enclave_close(e44);
		z.ephemeral = false;
		CHECK_OK(ghost_enclave_attach(&z, &again));
		CHECK_OK(ghost_enclave_destroy(again));
		ghost_enclave_close(again);
	}
	/* Too small to hold even sz. */
	z.sz = 3;
	CHECK_EQ(ghost_enclave_create(&z, &e), -EINVAL);
	/* Garbage: far past any struct; refused before a byte past ours is read (ASan). */
	z.sz = (size_t)1 << 40;
	CHECK_EQ(ghost_enclave_create(&z, &e), -E2BIG);

	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

static void test_txn_opts(void)
{
	struct ghost_enclave *e = test_enclave("0", 50);
	struct ghost_txn *t = ghost_enclave_txn(e, 0);
	struct ghost_txn_opts zero = { 0 }, o;
	struct {
		struct ghost_txn_opts o;
		uint32_t future;
	} n;

	/* Zeroed: no sync group (it used to mean group 0), target nothing. */
	CHECK_OK(ghost_txn_open(e, 0, &zero));
	CHECK_EQ(t->u.sync_group_owner, -1);
	CHECK_EQ(t->gtid, GHOST_NULL_GTID);
	CHECK_EQ(t->commit_flags, 0);
	CHECK_OK(ghost_txn_abort(e, 0));

	/* A sync group is asked for explicitly; a negative owner is refused. */
	o = zero;
	o.sync_group = true;
	o.sync_group_owner = -3;
	CHECK_EQ(ghost_txn_open(e, 0, &o), -EINVAL);
	o.sync_group_owner = 5;
	CHECK_OK(ghost_txn_open(e, 0, &o));
	CHECK_EQ(t->u.sync_group_owner, 5);
	CHECK_OK(ghost_txn_abort(e, 0));
	__atomic_store_n(&t->u.sync_group_owner, -1, __ATOMIC_RELEASE);

	/* Older: sz ends before allow_task_on_cpu, which then reads as false. */
	o = zero;
	o.sz = offsetof(struct ghost_txn_opts, allow_task_on_cpu);
	o.allow_task_on_cpu = true;
	CHECK_OK(ghost_txn_open(e, 0, &o));
	CHECK_EQ(t->commit_flags & ALLOW_TASK_ONCPU, 0);
	CHECK_OK(ghost_txn_abort(e, 0));

	/* Newer: a zero tail is fine, anything else -E2BIG. */
	memset(&n, 0, sizeof(n));
	n.o.sz = sizeof(n);
	n.o.allow_task_on_cpu = true;
	CHECK_OK(ghost_txn_open(e, 0, &n.o));
	CHECK(t->commit_flags & ALLOW_TASK_ONCPU);
	CHECK_OK(ghost_txn_abort(e, 0));
	n.future = 9;
	CHECK_EQ(ghost_txn_open(e, 0, &n.o), -E2BIG);

	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

static void test_agent_opts(void)
{
	struct ghost_enclave *e = test_enclave("0", 51);
	struct ghost_full_agent *fa = NULL;
	struct {
		struct ghost_full_agent_opts o;
		uint64_t future;
	} n;

	memset(&n, 0, sizeof(n));
	n.o.sz = sizeof(n);
	n.o.enclave = e;
	n.o.policy = ghost_policy_find("fifo-percpu");
	n.o.prio = GHOST_AGENT_PRIO_NORMAL;
	n.future = 1;
	CHECK_EQ(ghost_full_agent_start(&n.o, &fa), -E2BIG);
	CHECK(fa == NULL);
	/* sz 0: this version's struct. */
	n.o.sz = 0;
	CHECK_OK(ghost_full_agent_start(&n.o, &fa));
	CHECK_OK(ghost_full_agent_stop(fa));
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/*
 * The embedded kernel's probe takes a root as its namespace does: one too long for it is
 * -ENAMETOOLONG, and nothing is made (it used to cut the name short and make that directory).
 */
static void test_emu_probe_long_root(void)
{
	const struct ghost_kernel_ops *emu = ghost_kernel_find("emu");
	char parent[512], root[1024], cut[1024], why[1200];
	struct stat st;
	size_t n;

	snprintf(parent, sizeof(parent), "%s/%0200d", test_root, 0);
	CHECK_OK(mkdir(parent, 0700) ? -errno : 0);
	n = (size_t)snprintf(root, sizeof(root), "%s/%0300d", parent, 0);
	CHECK(n >= 400);
	CHECK_EQ(ghost_kernel_probe(emu, root, why, sizeof(why)), -ENAMETOOLONG);
	CHECK_MSG(strstr(why, root) != NULL, "%s", why);
	/* Where the old probe made a directory: the first 399 bytes. */
	memcpy(cut, root, 399);
	cut[399] = '\0';
	CHECK_MSG(stat(cut, &st) != 0, "%s was made", cut);
}

/*
 * ghost_enclave_wait_agent: only -EOPNOTSUPP ("cannot tell") counts as served; another
 * error of agent_present (the enclave is gone) is returned, not taken for an agent.
 */
static int agent_present_err;
static int agent_present_fake(struct ghost_kenclave *ke)
{
	(void)ke;
	return agent_present_err;
}

static void test_wait_agent_errors(void)
{
	struct ghost_enclave *e = test_enclave("0", 60);
	const struct ghost_kernel_ops *real = e->ops;
	struct ghost_kernel_ops fake = *real;

	fake.agent_present = agent_present_fake;
	e->ops = &fake;
	agent_present_err = -EOPNOTSUPP;
	CHECK_OK(ghost_enclave_wait_agent(e, ghost_now_ns()));
	agent_present_err = 1;
	CHECK_OK(ghost_enclave_wait_agent(e, ghost_now_ns()));
	agent_present_err = 0;
	CHECK_EQ(ghost_enclave_wait_agent(e, ghost_now_ns() + 30000000), -ETIMEDOUT);
	agent_present_err = -ENODEV;
	CHECK_EQ(ghost_enclave_wait_agent(e, ghost_now_ns() + 30000000), -ENODEV);
	e->ops = real;
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/*
 * A policy whose init fails leaves nothing behind: the ASan tier's leak check
 * holds every built-in policy to that, with two failures - its real init runs
 * to the end and the call then fails anyway (everything it and the library
 * made must be undone), and an enclave with no queue left, so that the
 * library's own set-up (or the policy's, for a policy that makes its own
 * channels) fails - and the enclave takes an agent again.
 */
static const struct ghost_policy *real_policy;

static int init_then_fail(struct ghost_full_agent *fa, void **state)
{
	int err = real_policy->init(fa, state);

	return err ? err : -EIO;
}

static void test_failed_init(void)
{
	const struct ghost_policy *const *all = ghost_policy_all();

	for (int i = 0; all[i]; i++) {
		struct ghost_enclave *e = test_enclave("0-1", (uint64_t)(70 + i));
		struct ghost_policy failing = *all[i];
		struct ghost_full_agent_opts fo = {
			.enclave = e,
			.policy = &failing,
			.prio = GHOST_AGENT_PRIO_NORMAL,
		};
		struct ghost_full_agent *fa = NULL;
		struct ghost_channel *hog[1100];
		int nhog = 0, err;

		real_policy = all[i];
		failing.init = init_then_fail;
		CHECK_MSG(ghost_full_agent_start(&fo, &fa) == -EIO, "%s", all[i]->name);
		CHECK(fa == NULL);
		fo.policy = all[i];
		while (nhog < 1100 && !ghost_channel_create(e, 16, 0, &hog[nhog]))
			nhog++;
		CHECK_MSG(nhog > 0 && nhog < 1100, "%s: %d queues", all[i]->name, nhog);
		err = ghost_full_agent_start(&fo, &fa);
		CHECK_MSG(err < 0, "%s started with no queue left: %d", all[i]->name, err);
		CHECK(fa == NULL);
		while (nhog)
			ghost_channel_destroy(hog[--nhog]);
		CHECK_MSG(ghost_full_agent_start(&fo, &fa) == 0, "%s after a failed init",
			  all[i]->name);
		CHECK_OK(ghost_full_agent_stop(fa));
		CHECK_OK(ghost_enclave_destroy(e));
		ghost_enclave_close(e);
	}
}

/* ---- the library's ctl parsing, over the typed ops ---- */

static void test_ctl(void)
{
	struct ghost_enclave *e = test_enclave("0", 60);
	char why[160];

	CHECK_EQ(ghost_enclave_ctl(e, "create sw_region 0 0"), -EEXIST);
	CHECK_OK(ghost_enclave_ctl(e, "create sw_region 3 0\n"));
	CHECK_EQ(ghost_enclave_ctl(e, "create sw_region 64 0"), -EINVAL);
	CHECK_EQ(ghost_enclave_ctl(e, "create sw_region -1 0"), -EINVAL);
	CHECK_EQ(ghost_enclave_ctl(e, "create sw_region 4 1024"), -EINVAL);
	CHECK_EQ(ghost_enclave_ctl(e, "create sw_region 4"), -EINVAL);
	CHECK_EQ(ghost_enclave_ctl(e, "become agent 0"), -EINVAL);
	CHECK_EQ(ghost_enclave_ctl(e, "frobnicate"), -EINVAL);
	CHECK_EQ(ghost_enclave_ctl(e, ""), -EINVAL);
	{
		char longcmd[GHOST_CTL_MAX + 8];

		memset(longcmd, ' ', sizeof(longcmd) - 1);
		longcmd[sizeof(longcmd) - 1] = 0;
		memcpy(longcmd, "destroy", 7);
		CHECK_EQ(ghost_enclave_ctl(e, longcmd), -E2BIG); /* and nothing destroyed */
		longcmd[GHOST_CTL_MAX - 1] = 0;
		CHECK_EQ(ghost_enclave_ctl(e, longcmd + GHOST_CTL_MAX - 20), -EINVAL);
	}
	CHECK(ghost_enclave_ctl(e, "discover tasks") >= 0);
	CHECK_EQ(ghost_enclave_write_file(e, "ctl", "create sw_region 5 0"), 0);
	CHECK_EQ(ghost_enclave_exit_state(e, why, sizeof(why)), 0);
	CHECK_OK(ghost_enclave_ctl(e, "destroy"));
	CHECK_EQ(ghost_enclave_exit_state(e, why, sizeof(why)), 1);
	CHECK_STR(why, "destroyed");
	ghost_enclave_close(e);
}

int main(void)
{
	ghost_log_set_callback(NULL, NULL, GHOST_LOG_ERROR);
	test_root_make();
	test_builtin_tables();
	test_broken_tables();
	test_names();
	test_enclave_opts();
	test_txn_opts();
	test_agent_opts();
	test_failed_init();
	test_ctl();
	test_emu_probe_long_root();
	test_wait_agent_errors();
	printf("test_contract: ok\n");
	return 0;
}
