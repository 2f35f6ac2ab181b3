/*
 * tests/test_policies.c - the policy platform: every built-in policy's
 * declaration and parameters, the text of each parameter type, the checks
 * that refuse a bad declaration, the library's run queue, a policy with no
 * task_resync surviving an overflow (resync by message), and what the full
 * agent refuses before a policy's init runs.
 */
#include "emu_helpers.h"

#include "policies.h"

#include <stdalign.h>
#include <stdatomic.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- every built-in policy's parameters ---- */

static void check_param(const struct ghost_policy *p, const struct ghost_policy_param *pp)
{
	alignas(16) char cfg[4096], again[4096];
	char text[64], why[256], big[64];
	int64_t min = pp->min, max = pp->max;

	CHECK_OK(ghost_policy_config_defaults(p, cfg));
	memcpy(again, cfg, p->config_size);
	/* The default, written out, reads back as the same value. */
	CHECK(ghost_policy_param_format(pp, cfg, text, sizeof(text)) > 0);
	CHECK_MSG(ghost_policy_config_set(p, again, pp->name, text, why, sizeof(why)) == 0,
		  "%s %s=%s: %s", p->name, pp->name, text, why);
	CHECK_MSG(!memcmp(cfg, again, p->config_size), "%s %s", p->name, pp->name);
	CHECK(pp->help && pp->help[0]);
	/* A value of another type is refused, naming the parameter; config unchanged. */
	CHECK_EQ(ghost_policy_config_set(p, again, pp->name, "banana", why, sizeof(why)), -EINVAL);
	CHECK_MSG(strstr(why, pp->name) != NULL, "%s", why);
	CHECK_MSG(!memcmp(cfg, again, p->config_size), "%s %s changed", p->name, pp->name);
	switch (pp->type) {
	case GHOST_PARAM_INT:
	case GHOST_PARAM_DURATION:
		if (!min && !max)
			max = INT64_MAX;
		if (max < INT64_MAX) {
			snprintf(big, sizeof(big), "%lld%s", (long long)max + 1,
				 pp->type == GHOST_PARAM_DURATION ? "ns" : "");
			CHECK_MSG(ghost_policy_config_set(p, again, pp->name, big, why,
							  sizeof(why)) == -ERANGE,
				  "%s %s=%s", p->name, pp->name, big);
			CHECK_MSG(strstr(why, pp->name) != NULL, "%s", why);
		}
		if (min > 0) {
			snprintf(big, sizeof(big), "%lld%s", (long long)min - 1,
				 pp->type == GHOST_PARAM_DURATION ? "ns" : "");
			CHECK_EQ(ghost_policy_config_set(p, again, pp->name, big, why, sizeof(why)),
				 -ERANGE);
		}
		/* Both ends are allowed. */
		snprintf(big, sizeof(big), "%lld%s", (long long)min,
			 pp->type == GHOST_PARAM_DURATION ? "ns" : "");
		CHECK_OK(ghost_policy_config_set(p, again, pp->name, big, why, sizeof(why)));
		break;
	case GHOST_PARAM_CPU:
		CHECK_EQ(ghost_policy_config_set(p, again, pp->name, "512", why, sizeof(why)),
			 -ERANGE);
		CHECK_OK(ghost_policy_config_set(p, again, pp->name, "1", why, sizeof(why)));
		CHECK_OK(ghost_policy_config_set(p, again, pp->name, "auto", why, sizeof(why)));
		break;
	case GHOST_PARAM_BOOL:
		CHECK_OK(ghost_policy_config_set(p, again, pp->name, "off", why, sizeof(why)));
		CHECK_OK(ghost_policy_config_set(p, again, pp->name, "yes", why, sizeof(why)));
		break;
	}
}

static void test_builtin_declarations(void)
{
	const struct ghost_policy *const *all = ghost_policy_all();
	char why[256];
	int n = 0;

	for (; all[n]; n++) {
		const struct ghost_policy *p = all[n];

		CHECK_MSG(ghost_policy_check(p, why, sizeof(why)) == 0, "%s: %s", p->name, why);
		CHECK(p->summary && p->summary[0]);
		CHECK(ghost_policy_find(p->name) == p);
		CHECK(p->config_size <= 4096);
		for (const struct ghost_policy_param *pp = p->params; pp && pp->name; pp++)
			check_param(p, pp);
		/* Names no parameter: -ENOENT naming the policy and the key. */
		CHECK_EQ(ghost_policy_config_set(p, NULL, "no_such_key", "1", why, sizeof(why)),
			 p->config_size ? -EINVAL : -ENOENT);
	}
	CHECK_MSG(n >= 7, "%d built-in policies", n);
}

/* ---- the text of each type, on a policy of our own ---- */

struct all_types {
	int64_t i, d;
	bool b;
	int cpu;
};

static void loop_nothing(void *state, struct ghost_agent *a)
{
	(void)state;
	(void)a;
}

static int init_nothing(struct ghost_full_agent *fa, void **state)
{
	(void)fa;
	(void)state;
	return 0;
}

static const struct ghost_policy_param typed_params[] = {
	{ "i", GHOST_PARAM_INT, offsetof(struct all_types, i), "7", -5, 100, "an int" },
	{ "d", GHOST_PARAM_DURATION, offsetof(struct all_types, d), "50us", 0, 0, "a duration" },
	{ "b", GHOST_PARAM_BOOL, offsetof(struct all_types, b), "false", 0, 0, "a bool" },
	{ "cpu", GHOST_PARAM_CPU, offsetof(struct all_types, cpu), "auto", 0, 0, "a CPU" },
	{ 0 },
};

static const struct ghost_policy typed = {
	.name = "typed",
	.summary = "parameters of every type",
	.params = typed_params,
	.config_size = sizeof(struct all_types),
	.init = init_nothing,
	.agent_loop = loop_nothing,
};

static void test_values(void)
{
	static const struct {
		const char *kv;
		int err;
		int64_t i, d;
		bool b;
		int cpu;
	} cases[] = {
		{ "i=42", 0, 42, 50000, false, -1 },
		{ "i=0x10", 0, 16, 50000, false, -1 },
		{ "i=-5", 0, -5, 50000, false, -1 },
		{ "i=-6", -ERANGE },
		{ "i=101", -ERANGE },
		{ "i=12abc", -EINVAL },
		{ "i=", -EINVAL },
		{ "i= 3", -EINVAL },
		{ "d=300ns", 0, 7, 300, false, -1 },
		{ "d=2ms", 0, 7, 2000000, false, -1 },
		{ "d=1s", 0, 7, 1000000000, false, -1 },
		{ "d=0us", 0, 7, 0, false, -1 },
		{ "d=5", -EINVAL },
		{ "d=-1us", -ERANGE },
		{ "d=5 ms", -EINVAL },
		{ "d=99999999999999s", -ERANGE },
		{ "d=1h", -EINVAL },
		{ "b=TRUE", 0, 7, 50000, true, -1 },
		{ "b=on", 0, 7, 50000, true, -1 },
		{ "b=1", 0, 7, 50000, true, -1 },
		{ "b=no", 0, 7, 50000, false, -1 },
		{ "b=2", -EINVAL },
		{ "cpu=3", 0, 7, 50000, false, 3 },
		{ "cpu=-1", 0, 7, 50000, false, -1 },
		{ "cpu=-2", -ERANGE },
		{ "cpu=512", -ERANGE },
		{ "nokey", -EINVAL },
		{ "=5", -EINVAL },
		{ "x=1", -ENOENT },
		{ "d=0", 0, 7, 0, false, -1 },
		{ "d=010ms", 0, 7, 10000000, false, -1 },
		{ "i=010", 0, 10, 50000, false, -1 },
		{ "i=08", 0, 8, 50000, false, -1 },
		{ "i=99999999999999999999", -ERANGE },
		{ "i=0x", -EINVAL },
		{ "d=1.5ms", -EINVAL },
		{ "d=1e3us", -EINVAL },
	};
	char why[256];

	for (size_t i = 0; i < N(cases); i++) {
		struct all_types cfg;
		int err;

		CHECK_OK(ghost_policy_config_defaults(&typed, &cfg));
		err = ghost_policy_config_parse(&typed, &cfg, cases[i].kv, why, sizeof(why));
		CHECK_MSG(err == cases[i].err, "%s: %d (%s), expected %d", cases[i].kv, err, why,
			  cases[i].err);
		if (err)
			continue;
		CHECK_MSG(cfg.i == cases[i].i && cfg.d == cases[i].d && cfg.b == cases[i].b &&
				  cfg.cpu == cases[i].cpu,
			  "%s: %lld %lld %d %d", cases[i].kv, (long long)cfg.i, (long long)cfg.d,
			  cfg.b, cfg.cpu);
	}
	/* The unknown key's error lists what there is. */
	CHECK_EQ(ghost_policy_config_set(&typed, &(struct all_types){ 0 }, "x", "1", why,
					 sizeof(why)),
		 -ENOENT);
	CHECK_MSG(strstr(why, "typed") && strstr(why, "\"x\"") && strstr(why, "i, d, b and cpu"),
		  "%s", why);
	/* Durations are written back with the largest whole unit. */
	{
		struct all_types cfg = { .d = 3000000 };
		char text[32];

		CHECK(ghost_policy_param_format(&typed_params[1], &cfg, text, sizeof(text)) > 0);
		CHECK_MSG(!strcmp(text, "3ms"), "%s", text);
		cfg.d = 1500;
		CHECK(ghost_policy_param_format(&typed_params[1], &cfg, text, sizeof(text)) > 0);
		CHECK_MSG(!strcmp(text, "1500ns"), "%s", text);
	}
	CHECK(!strcmp(ghost_param_type_name(GHOST_PARAM_DURATION), "duration"));
	/* Ranges as a user writes them; none for a bool or a CPU. */
	{
		char range[32];

		CHECK(ghost_policy_param_range(&typed_params[0], range, sizeof(range)) > 0);
		CHECK_MSG(!strcmp(range, "-5..100"), "%s", range);
		CHECK(ghost_policy_param_range(&typed_params[1], range, sizeof(range)) > 0);
		CHECK_MSG(!strcmp(range, "0ns..any"), "%s", range);
		CHECK_EQ(ghost_policy_param_range(&typed_params[1], range, 4), -ENOSPC);
		CHECK_EQ(ghost_policy_param_range(&typed_params[2], range, sizeof(range)), -EINVAL);
	}
	/* The CPU parameter outside a set of CPUs, if any. */
	{
		struct all_types cfg = { .cpu = 3 };
		struct ghost_cpuset cpus;

		ghost_cpuset_zero(&cpus);
		ghost_cpuset_set(&cpus, 0);
		CHECK(ghost_policy_cpu_outside(&typed, &cfg, &cpus) == &typed_params[3]);
		ghost_cpuset_set(&cpus, 3);
		CHECK(ghost_policy_cpu_outside(&typed, &cfg, &cpus) == NULL);
		cfg.cpu = -1; /* auto */
		ghost_cpuset_zero(&cpus);
		CHECK(ghost_policy_cpu_outside(&typed, &cfg, &cpus) == NULL);
	}
}

/* ---- declarations the library refuses ---- */

static const struct ghost_policy_param outside[] = {
	{ "far", GHOST_PARAM_INT, 64, "1", 0, 10, "past the config" },
	{ 0 },
};
static const struct ghost_policy_param bad_default[] = {
	{ "x", GHOST_PARAM_INT, 0, "11", 0, 10, "default out of range" },
	{ 0 },
};
static const struct ghost_policy_param twice[] = {
	{ "x", GHOST_PARAM_INT, 0, "1", 0, 10, "once" },
	{ "x", GHOST_PARAM_INT, 0, "2", 0, 10, "twice" },
	{ 0 },
};
static const struct ghost_policy_param inverted[] = {
	{ "x", GHOST_PARAM_INT, 0, "1", 10, 0, "min > max" },
	{ 0 },
};
static const struct ghost_policy_param bad_name[] = {
	{ "a-b", GHOST_PARAM_INT, 0, "1", 0, 10, "a dash" },
	{ 0 },
};
static const struct ghost_sched_ops no_ops;
static const struct ghost_policy_param wrapped_offset[] = {
	{ "x", GHOST_PARAM_INT, (size_t)-4, "1", 0, 10, "an offset that wraps" },
	{ 0 },
};
static const struct ghost_policy_param odd_ring[] = {
	{ "queue_elems", GHOST_PARAM_INT, 0, "64", 1, 65536, "not declared a power of two" },
	{ 0 },
};

static void test_check_refusals(void)
{
	static const struct {
		struct ghost_policy p;
		const char *says;
	} bad[] = {
		{ { .name = NULL, .init = init_nothing, .agent_loop = loop_nothing }, "name" },
		{ { .name = "a b", .init = init_nothing, .agent_loop = loop_nothing }, "name" },
		{ { .name = "x", .agent_loop = loop_nothing }, "init" },
		{ { .name = "x", .init = init_nothing }, "agent_loop" },
		{ { .name = "x",
		    .params = outside,
		    .config_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "outside" },
		{ { .name = "x",
		    .params = bad_default,
		    .config_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "default" },
		{ { .name = "x",
		    .params = twice,
		    .config_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "twice" },
		{ { .name = "x",
		    .params = inverted,
		    .config_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "min > max" },
		{ { .name = "x",
		    .params = bad_name,
		    .config_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "parameter's name" },
		{ { .name = "x",
		    .sched_ops = &no_ops,
		    .state_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "struct ghost_sched" },
		{ { .name = "x",
		    .params = wrapped_offset,
		    .config_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "outside" },
		{ { .name = "x",
		    .params = odd_ring,
		    .config_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "power of two" },
		{ { .name = "x",
		    .sched_ops = &no_ops,
		    .state_size = sizeof(struct ghost_sched),
		    .task_size = 8,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "task_size" },
		{ { .name = "x",
		    .channels = (enum ghost_policy_channels)7,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "channels" },
		{ { .name = "x",
		    .min_cpus = 100000,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "min_cpus" },
		{ { .name = "x",
		    .config_size = 5000,
		    .init = init_nothing,
		    .agent_loop = loop_nothing },
		  "config_size" },
	};
	struct ghost_enclave *e = test_enclave("0", 60);
	struct {
		int64_t guard, cfg;
	} mem = { 42, 0 };
	char why[256];

	/* The setter itself never writes outside the config, declaration checked or not. */
	CHECK_EQ(ghost_policy_config_set(&bad[10].p, &mem.cfg, "x", "5", why, sizeof(why)),
		 -EINVAL);
	CHECK_EQ(mem.guard, 42);
	CHECK_EQ(ghost_policy_config_defaults(&bad[10].p, &mem.cfg), -EINVAL);
	CHECK_EQ(mem.guard, 42);
	for (size_t i = 0; i < N(bad); i++) {
		struct ghost_full_agent_opts fo = { .enclave = e,
						    .policy = &bad[i].p,
						    .prio = GHOST_AGENT_PRIO_NORMAL };
		struct ghost_full_agent *fa = NULL;

		why[0] = 0;
		CHECK_EQ(ghost_policy_check(&bad[i].p, why, sizeof(why)), -EINVAL);
		CHECK_MSG(strstr(why, bad[i].says) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, why,
			  bad[i].says);
		/* The full agent refuses it before anything runs. */
		CHECK_EQ(ghost_full_agent_start(&fo, &fa), -EINVAL);
		CHECK(fa == NULL);
	}
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* ---- the full agent's own refusals: too few CPUs, a CPU outside the enclave ---- */

static void test_start_refusals(void)
{
	struct ghost_enclave *e = test_enclave("0", 61);
	const struct ghost_policy *central = ghost_policy_find("fifo-centralized");
	void *cfg = test_policy_config(central, "global_cpu=1");
	struct ghost_full_agent_opts fo = { .enclave = e,
					    .policy = central,
					    .prio = GHOST_AGENT_PRIO_NORMAL };
	struct ghost_full_agent *fa = NULL;

	/* One CPU for a policy whose global agent keeps one for itself. */
	CHECK_EQ(ghost_full_agent_start(&fo, &fa), -EINVAL);
	CHECK(fa == NULL);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
	if (test_ncpus() >= 3) {
		e = test_enclave("0,2", 62);
		fo.enclave = e;
		fo.policy_config = cfg; /* global_cpu=1: not the enclave's */
		CHECK_EQ(ghost_full_agent_start(&fo, &fa), -EINVAL);
		CHECK_OK(ghost_enclave_destroy(e));
		ghost_enclave_close(e);
	}
	free(cfg);
}

/* ---- the library's state is the library's ---- */

static int replacement_state; /* static: a replaced state must not be a leak of the test's */
static int fini_calls, init_calls;

static int init_replacing(struct ghost_full_agent *fa, void **state)
{
	(void)fa;
	init_calls++;
	*state = &replacement_state;
	return 0;
}

static void fini_counting(void *state)
{
	(void)state;
	fini_calls++;
}

static void test_state_rules(void)
{
	struct ghost_policy p = {
		.name = "replacer",
		.state_size = sizeof(struct ghost_sched),
		.sched_ops = &no_ops,
		.channels = GHOST_POLICY_CHANNELS_PER_CPU,
		.init = init_replacing,
		.fini = fini_counting,
		.agent_loop = loop_nothing,
	};
	struct ghost_enclave *e = test_enclave("0", 65);
	struct ghost_full_agent_opts fo = { .enclave = e,
					    .policy = &p,
					    .prio = GHOST_AGENT_PRIO_NORMAL };
	struct ghost_full_agent *fa = NULL;
	struct ghost_channel *hog[1100];
	int nhog = 0;

	/* init replaced *state: refused, and fini gets the library's state (no crash, no leak). */
	CHECK_EQ(ghost_full_agent_start(&fo, &fa), -EINVAL);
	CHECK(fa == NULL && init_calls == 1 && fini_calls == 1);
	/* The library's own set-up fails (no queue left): neither init nor fini runs. */
	while (nhog < 1100 && !ghost_channel_create(e, 16, 0, &hog[nhog]))
		nhog++;
	CHECK(ghost_full_agent_start(&fo, &fa) < 0);
	CHECK(fa == NULL && init_calls == 1 && fini_calls == 1);
	while (nhog)
		ghost_channel_destroy(hog[--nhog]);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* ---- the library's run queue ---- */

static void test_task_queue(void)
{
	struct ghost_task_table table;
	struct ghost_task_queue a = { 0 }, b = { 0 };
	struct ghost_task *t[4];

	CHECK_OK(ghost_task_table_init(&table, sizeof(struct ghost_task)));
	for (int i = 0; i < 4; i++)
		CHECK((t[i] = ghost_task_table_insert(&table, 100 + i)) != NULL);
	ghost_task_queue_push(&a, t[0], false);
	ghost_task_queue_push(&a, t[1], false);
	ghost_task_queue_push(&a, t[2], true); /* 2 0 1 */
	CHECK_EQ(a.count, 3);
	CHECK(a.head == t[2] && a.tail == t[1]);
	/* Pushing onto another queue moves it. */
	ghost_task_queue_push(&b, t[0], false); /* a: 2 1, b: 0 */
	CHECK(a.count == 2 && b.count == 1 && t[0]->queue == &b);
	/* Removing from a queue it is not on does nothing. */
	ghost_task_queue_remove(&a, t[0]);
	CHECK(a.count == 2 && b.count == 1);
	/* A record freed from the table leaves its queue. */
	ghost_task_table_remove(&table, t[1]);
	CHECK(a.count == 1 && a.head == t[2] && a.tail == t[2]);
	CHECK(ghost_task_queue_pop(&a) == t[2]);
	CHECK(ghost_task_queue_pop(&a) == NULL && a.count == 0 && !a.head && !a.tail);
	CHECK(t[2]->queue == NULL);
	ghost_task_table_fini(&table);
}

/* ---- a policy without task_resync across an overflow ---- */

static atomic_int finished;

static void *short_life(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++)
		ghost_sleep_ns(300000);
	atomic_fetch_add(&finished, 1);
	return NULL;
}

/* The example round robin with a queue size: its channels overflow. */
struct small_rr_config {
	int64_t slice_ns; /* first: what rr reads */
	int64_t queue_elems;
};
static const struct ghost_policy_param small_rr_params[] = {
	{ "slice", GHOST_PARAM_DURATION, offsetof(struct small_rr_config, slice_ns), "2ms", 1000000,
	  1000000000, "rr's slice" },
	{ "queue_elems", GHOST_PARAM_INT, offsetof(struct small_rr_config, queue_elems), "16", 16,
	  65536, "small rings", GHOST_PARAM_POWER_OF_2 },
	{ 0 },
};

static void test_resync_by_message(void)
{
	struct ghost_policy small = builtin_round_robin_policy;
	struct ghost_enclave *e = test_enclave(test_ncpus() >= 2 ? "0-1" : "0", 63);
	struct ghost_full_agent_opts fo = { .enclave = e,
					    .policy = &small,
					    .prio = GHOST_AGENT_PRIO_NORMAL };
	struct ghost_full_agent *fa;
	struct ghost_thread *t[24];
	struct ghost_sched *s;

	small.name = "rr-small";
	small.params = small_rr_params;
	small.config_size = sizeof(struct small_rr_config);
	CHECK(small.sched_ops->task_resync == NULL && small.sched_ops->channel_overflow == NULL);
	atomic_store(&finished, 0);
	/* The threads enter first: 24 TASK_NEWs meet a 16-slot ring at once. */
	for (int i = 0; i < 24; i++)
		CHECK_OK(ghost_thread_create(e, &t[i], short_life, NULL));
	for (int i = 0; i < 24; i++)
		CHECK(ghost_thread_gtid_of(t[i], 5000000000LL) > 0);
	CHECK_OK(ghost_full_agent_start(&fo, &fa));
	for (int i = 0; i < 24; i++)
		CHECK_OK(ghost_thread_join(t[i], NULL));
	CHECK_EQ(atomic_load(&finished), 24);
	s = policy_sched_of(ghost_full_agent_policy_state(fa));
	CHECK_MSG(s->stats.overflows > 0, "no overflow");
	ghost_full_agent_stop(fa);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* ---- the generic stats line and a policy's own part ---- */

static void test_stats_line(void)
{
	struct ghost_enclave *e = test_enclave("0-1", 64);
	struct ghost_full_agent *fa = test_agent(e, "fifo-centralized", NULL);
	struct ghost_agent_stats st;
	char line[1024];

	CHECK(ghost_full_agent_format_stats(fa, line, sizeof(line)) > 0);
	CHECK_MSG(strstr(line, "tasks 0 runnable 0 commits ok") && strstr(line, "| msgs new") &&
			  strstr(line, "| global cpu 0 moves 0"),
		  "%s", line);
	/* Too small a buffer is an error, never a cut line. */
	CHECK_EQ(ghost_full_agent_format_stats(fa, line, 20), -ENOSPC);
	CHECK_OK(ghost_full_agent_stats(fa, &st));
	CHECK_EQ(st.policy.tasks, 0);
	CHECK_EQ(ghost_cpuset_count(&st.cpus), 2);
	ghost_full_agent_stop(fa);
	CHECK_OK(ghost_enclave_destroy(e));
	ghost_enclave_close(e);
}

/* The refusals' log lines are expected: the reasons are checked from why. */
static void drop_log(enum ghost_log_level level, const char *msg, void *ctx)
{
	(void)level;
	(void)msg;
	(void)ctx;
}

int main(void)
{
	test_root_make();
	ghost_log_set_callback(ghost_log_stderr, NULL,
			       getenv("GHOST_TEST_DEBUG") ? GHOST_LOG_DEBUG : GHOST_LOG_WARN);
	test_builtin_declarations();
	test_values();
	ghost_log_set_callback(drop_log, NULL, GHOST_LOG_ERROR);
	test_check_refusals();
	test_start_refusals();
	test_state_rules();
	ghost_log_set_callback(ghost_log_stderr, NULL, GHOST_LOG_WARN);
	test_task_queue();
	test_resync_by_message();
	if (test_ncpus() >= 2)
		test_stats_line();
	return 0;
}
