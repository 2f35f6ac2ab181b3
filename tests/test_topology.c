/*
 * test_topology.c - checks synthetic machines (numbering, sibling and cache groups, NUMA
 * splits, limits), the synthetic spec parser, sysfs parsing against fake trees built in a
 * temporary directory (including offline holes and missing files), and this machine.
 */
#include "test.h"

#include <ghost/topology.h>

#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ghost_cpuset list(const char *text)
{
	struct ghost_cpuset s;

	ghost_cpuset_zero(&s);
	CHECK_MSG(ghost_cpuset_parse_list(&s, text, GHOST_MAX_CPUS, 0) == 0, "\"%s\"", text);
	return s;
}

static bool set_is(const struct ghost_cpuset *s, const char *text)
{
	struct ghost_cpuset want = list(text);

	return ghost_cpuset_equal(s, &want);
}

static const char *fmt(const struct ghost_cpuset *s)
{
	static char buf[GHOST_CPUSET_LIST_MAX];

	ghost_cpuset_format_list(s, buf, sizeof(buf));
	return buf;
}

static const struct ghost_topo_cpu *cpu_of(const struct ghost_topo *t, int cpu)
{
	const struct ghost_topo_cpu *c = ghost_topo_cpu(t, cpu);

	CHECK_MSG(c != NULL, "cpu %d missing", cpu);
	CHECK_EQ(c->cpu, cpu);
	return c;
}

/* What must hold on any machine, real or made up. */
static void check_invariants(const struct ghost_topo *t)
{
	const struct ghost_cpuset *present = ghost_topo_cpus(t);
	struct ghost_cpuset all_nodes, node_cpus;
	int cpu, sibling, nodes = ghost_topo_num_numa_nodes(t);

	CHECK(present != NULL);
	CHECK(!ghost_cpuset_empty(present));
	CHECK_EQ(ghost_topo_num_cpus(t),
		 ghost_cpuset_nth(present, ghost_cpuset_count(present) - 1) + 1);
	CHECK(nodes >= 1);
	ghost_cpuset_for_each(cpu, present) {
		const struct ghost_topo_cpu *c = cpu_of(t, cpu);
		int rank = 0;

		CHECK(ghost_cpuset_test(&c->siblings, cpu));
		CHECK(ghost_cpuset_test(&c->l3_siblings, cpu));
		CHECK(ghost_cpuset_is_subset(&c->siblings, present));
		CHECK(ghost_cpuset_is_subset(&c->l3_siblings, present));
		CHECK(c->core >= 0 && c->socket >= 0 && c->l3_id >= 0);
		CHECK(c->numa_node >= 0 && c->numa_node < nodes);
		ghost_cpuset_for_each(sibling, &c->siblings) {
			const struct ghost_topo_cpu *s = cpu_of(t, sibling);

			CHECK_EQ(s->core, c->core);
			CHECK_EQ(s->socket, c->socket);
			CHECK(ghost_cpuset_equal(&s->siblings, &c->siblings));
			if (sibling < cpu)
				rank++;
		}
		CHECK_EQ(c->smt_idx, rank);
	}
	CHECK(ghost_topo_cpu(t, -1) == NULL);
	CHECK(ghost_topo_cpu(t, ghost_topo_num_cpus(t)) == NULL);
	CHECK(ghost_topo_cpu(t, GHOST_MAX_CPUS) == NULL);

	ghost_cpuset_zero(&all_nodes);
	for (int node = 0; node < nodes; node++) {
		int n = ghost_topo_numa_cpus(t, node, &node_cpus);

		CHECK_EQ(n, ghost_cpuset_count(&node_cpus));
		ghost_cpuset_or(&all_nodes, &all_nodes, &node_cpus);
	}
	CHECK(ghost_cpuset_equal(&all_nodes, present));
	CHECK_ERR(ghost_topo_numa_cpus(t, nodes, &node_cpus), EINVAL);
	CHECK_ERR(ghost_topo_numa_cpus(t, -1, &node_cpus), EINVAL);
}

static struct ghost_topo *synth(int sockets, int cores, int threads, int l3, int numa)
{
	struct ghost_topo_desc d = { sockets, cores, threads, l3, numa };
	struct ghost_topo *t = NULL;

	CHECK_EQ(ghost_topo_synthetic(&d, &t), 0);
	CHECK(t != NULL);
	check_invariants(t);
	return t;
}

static void test_synthetic_2x16x2(void)
{
	struct ghost_topo *t = synth(2, 16, 2, 0, 0);
	struct ghost_cpuset node;

	CHECK_EQ(ghost_topo_num_cpus(t), 64);
	CHECK_EQ(ghost_cpuset_count(ghost_topo_cpus(t)), 64);
	CHECK(set_is(&cpu_of(t, 0)->siblings, "0,32"));
	CHECK_EQ(cpu_of(t, 17)->socket, 1);
	CHECK(set_is(&cpu_of(t, 17)->siblings, "17,49"));
	CHECK_EQ(cpu_of(t, 0)->smt_idx, 0);
	CHECK_EQ(cpu_of(t, 32)->smt_idx, 1);
	CHECK_EQ(cpu_of(t, 32)->core, 0);
	CHECK_EQ(cpu_of(t, 17)->core, 17);
	CHECK_EQ(cpu_of(t, 49)->core, 17);
	CHECK_EQ(cpu_of(t, 49)->socket, 1);
	CHECK_EQ(cpu_of(t, 40)->socket, 0);
	/* One L3 and one node per socket by default. */
	CHECK(set_is(&cpu_of(t, 0)->l3_siblings, "0-15,32-47"));
	CHECK_EQ(cpu_of(t, 63)->l3_id, 1);
	CHECK_EQ(ghost_topo_num_numa_nodes(t), 2);
	CHECK_EQ(cpu_of(t, 20)->numa_node, 1);
	CHECK_EQ(ghost_topo_numa_cpus(t, 0, &node), 32);
	CHECK_MSG(set_is(&node, "0-15,32-47"), "%s", fmt(&node));
	ghost_topo_free(t);

	t = synth(2, 16, 2, 2, 1);
	CHECK_MSG(set_is(&cpu_of(t, 0)->l3_siblings, "0-7,32-39"), "%s",
		  fmt(&cpu_of(t, 0)->l3_siblings));
	CHECK(set_is(&cpu_of(t, 8)->l3_siblings, "8-15,40-47"));
	CHECK(set_is(&cpu_of(t, 60)->l3_siblings, "24-31,56-63"));
	CHECK_EQ(cpu_of(t, 0)->l3_id, 0);
	CHECK_EQ(cpu_of(t, 40)->l3_id, 1);
	CHECK_EQ(cpu_of(t, 16)->l3_id, 2);
	CHECK_EQ(cpu_of(t, 63)->l3_id, 3);
	CHECK_EQ(cpu_of(t, 20)->numa_node, 1);
	CHECK_EQ(ghost_topo_numa_cpus(t, 0, &node), 32);
	CHECK(set_is(&node, "0-15,32-47"));
	ghost_topo_free(t);

	t = synth(2, 16, 2, 1, 2);
	CHECK_EQ(ghost_topo_num_numa_nodes(t), 4);
	CHECK_EQ(cpu_of(t, 8)->numa_node, 1);
	CHECK_EQ(cpu_of(t, 16)->numa_node, 2);
	CHECK_EQ(cpu_of(t, 63)->numa_node, 3);
	CHECK_EQ(ghost_topo_numa_cpus(t, 3, &node), 16);
	CHECK(set_is(&node, "24-31,56-63"));
	CHECK(set_is(&cpu_of(t, 0)->l3_siblings, "0-15,32-47"));
	ghost_topo_free(t);
}

static void test_synthetic_shapes(void)
{
	struct ghost_topo *t;
	const struct ghost_topo_cpu *c;

	t = synth(1, 4, 1, 0, 0);
	CHECK_EQ(ghost_topo_num_cpus(t), 4);
	for (int cpu = 0; cpu < 4; cpu++) {
		c = cpu_of(t, cpu);
		CHECK_EQ(c->core, cpu);
		CHECK_EQ(c->socket, 0);
		CHECK_EQ(c->smt_idx, 0);
		CHECK_EQ(c->numa_node, 0);
		CHECK_EQ(ghost_cpuset_count(&c->siblings), 1);
		CHECK(set_is(&c->l3_siblings, "0-3"));
	}
	ghost_topo_free(t);

	t = synth(1, 1, 1, 0, 0);
	CHECK_EQ(ghost_topo_num_cpus(t), 1);
	CHECK_EQ(ghost_topo_num_numa_nodes(t), 1);
	CHECK(set_is(&cpu_of(t, 0)->siblings, "0"));
	ghost_topo_free(t);

	t = synth(8, 8, 8, 2, 4);
	CHECK_EQ(ghost_topo_num_cpus(t), 512);
	c = cpu_of(t, 511);
	CHECK_EQ(c->smt_idx, 7);
	CHECK_EQ(c->core, 63);
	CHECK_EQ(c->socket, 7);
	CHECK_EQ(ghost_cpuset_count(&c->siblings), 8);
	CHECK_EQ(ghost_cpuset_first(&c->siblings), 63);
	CHECK_EQ(ghost_cpuset_count(&c->l3_siblings), 32);
	CHECK_EQ(ghost_topo_num_numa_nodes(t), 32);
	ghost_topo_free(t);
}

static void test_synthetic_errors(void)
{
	static const struct {
		struct ghost_topo_desc d;
		int err;
	} bad[] = {
		{ { 8, 8, 9, 0, 0 }, ERANGE },
		{ { 1000, 1000, 1000, 0, 0 }, ERANGE },
		{ { 2147483647, 2147483647, 2147483647, 0, 0 }, ERANGE },
		{ { 0, 4, 1, 0, 0 }, EINVAL },
		{ { 1, 0, 1, 0, 0 }, EINVAL },
		{ { 1, 4, 0, 0, 0 }, EINVAL },
		{ { -1, 4, 1, 0, 0 }, EINVAL },
		{ { 1, 4, 1, -1, 0 }, EINVAL },
		{ { 1, 4, 1, 0, -2 }, EINVAL },
		{ { 2, 16, 2, 3, 0 }, EINVAL },
		{ { 2, 16, 2, 0, 5 }, EINVAL },
		{ { 1, 4, 1, 8, 0 }, EINVAL },
	};
	struct ghost_topo_desc ok = { 1, 1, 1, 0, 0 };
	struct ghost_topo *t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = NULL;
		CHECK_MSG(ghost_topo_synthetic(&bad[i].d, &t) == -bad[i].err, "case %zu", i);
		CHECK(t == NULL);
	}
	CHECK_ERR(ghost_topo_synthetic(NULL, &t), EINVAL);
	CHECK_ERR(ghost_topo_synthetic(&ok, NULL), EINVAL);

	ghost_topo_free(NULL);
	CHECK_ERR(ghost_topo_num_cpus(NULL), EINVAL);
	CHECK_ERR(ghost_topo_num_numa_nodes(NULL), EINVAL);
	errno = 0;
	CHECK(ghost_topo_cpus(NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(ghost_topo_cpu(NULL, 0) == NULL);
	CHECK_EQ(errno, EINVAL);
}

static void test_parse_synthetic(void)
{
	static const struct {
		const char *spec;
		struct ghost_topo_desc want;
	} good[] = {
		{ "2x16x2", { 2, 16, 2, 0, 0 } },
		{ "2x16x2,l3=2,numa=1", { 2, 16, 2, 2, 1 } },
		{ "1x4x1,numa=2,l3=4", { 1, 4, 1, 4, 2 } },
		{ " 1x1x1\n", { 1, 1, 1, 0, 0 } },
		{ "8x8x8", { 8, 8, 8, 0, 0 } },
		{ "1x12x2,l3=3", { 1, 12, 2, 3, 0 } },
	};
	static const struct {
		const char *spec;
		int err;
	} bad[] = {
		{ "", EINVAL },
		{ "2x16", EINVAL },
		{ "2x16x", EINVAL },
		{ "2x16x2x1", EINVAL },
		{ "2X16X2", EINVAL },
		{ "2 x16x2", EINVAL },
		{ "2x16x2,", EINVAL },
		{ "2x16x2,l3=", EINVAL },
		{ "2x16x2,l3=0", EINVAL },
		{ "2x16x2,l3=-1", EINVAL },
		{ "2x16x2,l3=2,l3=2", EINVAL },
		{ "2x16x2,foo=1", EINVAL },
		{ "2x16x2;l3=2", EINVAL },
		{ "2x16x2,l3=3", EINVAL },
		{ "2x16x2,numa=5", EINVAL },
		{ "-2x16x2", EINVAL },
		{ "+2x16x2", EINVAL },
		{ "0x4x1", EINVAL },
		{ "abc", EINVAL },
		{ "8x8x9", ERANGE },
		{ "99999999999999999999x1x1", ERANGE },
	};
	struct ghost_topo_desc d, marker = { 7, 7, 7, 7, 7 };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		d = marker;
		CHECK_MSG(ghost_topo_parse_synthetic(good[i].spec, &d) == 0, "\"%s\"",
			  good[i].spec);
		CHECK_MSG(memcmp(&d, &good[i].want, sizeof(d)) == 0, "\"%s\"", good[i].spec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = marker;
		CHECK_MSG(ghost_topo_parse_synthetic(bad[i].spec, &d) == -bad[i].err, "\"%s\"",
			  bad[i].spec);
		CHECK(memcmp(&d, &marker, sizeof(d)) == 0);
	}
	CHECK_ERR(ghost_topo_parse_synthetic(NULL, &d), EINVAL);
	CHECK_ERR(ghost_topo_parse_synthetic("1x1x1", NULL), EINVAL);
}

/* ---- fake sysfs trees ---- */

static char tree_root[256];

__attribute__((format(printf, 2, 3))) static void put(const char *content, const char *fmt_path,
						      ...)
{
	char rel[256], path[600];
	va_list ap;
	FILE *f;

	va_start(ap, fmt_path);
	vsnprintf(rel, sizeof(rel), fmt_path, ap);
	va_end(ap);
	/* Make every parent directory first. */
	for (char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		snprintf(path, sizeof(path), "%s/%s", tree_root, rel);
		CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
		*slash = '/';
	}
	snprintf(path, sizeof(path), "%s/%s", tree_root, rel);
	if (!content) {
		CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
		return;
	}
	f = fopen(path, "w");
	CHECK_MSG(f != NULL, "%s: %s", path, strerror(errno));
	fputs(content, f);
	CHECK(fclose(f) == 0);
}

static void new_tree(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(tree_root, sizeof(tree_root), "%s/ghost-topo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK_MSG(mkdtemp(tree_root) != NULL, "mkdtemp: %s", strerror(errno));
}

static void drop_tree(void)
{
	CHECK_EQ(test_rm_tree(tree_root), 0);
}

static int warnings;

static void count_warnings(enum ghost_log_level level, const char *msg, void *ctx)
{
	(void)msg;
	(void)ctx;
	if (level == GHOST_LOG_WARN)
		warnings++;
}

/* One CPU of a two-core, two-thread machine numbered like x86: cpu n's sibling is n ^ 2. */
static void put_smt_cpu(int cpu, const char *siblings)
{
	static const char *const levels[] = { "1\n", "1\n", "2\n", "3\n" };
	static const char *const shared[] = { NULL, NULL, NULL, "0-3\n" };
	char num[16];

	snprintf(num, sizeof(num), "%d\n", cpu % 2);
	put(num, "cpu%d/topology/core_id", cpu);
	put("0\n", "cpu%d/topology/physical_package_id", cpu);
	put(siblings, "cpu%d/topology/thread_siblings_list", cpu);
	for (int i = 0; i < 4; i++) {
		put(levels[i], "cpu%d/cache/index%d/level", cpu, i);
		put(shared[i] ? shared[i] : siblings, "cpu%d/cache/index%d/shared_cpu_list", cpu,
		    i);
	}
	put(NULL, "cpu%d/node0", cpu);
}

static void test_sysfs_smt(void)
{
	static const struct {
		int core, smt;
		const char *siblings;
	} want[] = { { 0, 0, "0,2" }, { 1, 0, "1,3" }, { 0, 1, "0,2" }, { 1, 1, "1,3" } };
	struct ghost_topo *t = NULL;
	struct ghost_cpuset node;

	new_tree();
	put("0-3\n", "online");
	put("0-3\n", "possible");
	for (int cpu = 0; cpu < 4; cpu++)
		put_smt_cpu(cpu, cpu % 2 ? "1,3\n" : "0,2\n");
	CHECK_EQ(ghost_topo_from_sysfs(tree_root, &t), 0);
	check_invariants(t);
	CHECK_EQ(ghost_topo_num_cpus(t), 4);
	CHECK(set_is(ghost_topo_cpus(t), "0-3"));
	CHECK_EQ(ghost_topo_num_numa_nodes(t), 1);
	for (int cpu = 0; cpu < 4; cpu++) {
		const struct ghost_topo_cpu *c = cpu_of(t, cpu);

		CHECK_EQ(c->core, want[cpu].core);
		CHECK_EQ(c->smt_idx, want[cpu].smt);
		CHECK_EQ(c->socket, 0);
		CHECK_EQ(c->numa_node, 0);
		CHECK_EQ(c->l3_id, 0);
		CHECK_MSG(set_is(&c->siblings, want[cpu].siblings), "cpu %d: %s", cpu,
			  fmt(&c->siblings));
		CHECK(set_is(&c->l3_siblings, "0-3"));
	}
	CHECK_EQ(ghost_topo_numa_cpus(t, 0, &node), 4);
	ghost_topo_free(t);

	/* Without "online", "possible" names the CPUs. */
	{
		char path[600];

		snprintf(path, sizeof(path), "%s/online", tree_root);
		CHECK_EQ(unlink(path), 0);
		t = NULL;
		CHECK_EQ(ghost_topo_from_sysfs(tree_root, &t), 0);
		CHECK_EQ(ghost_topo_num_cpus(t), 4);
		ghost_topo_free(t);
		snprintf(path, sizeof(path), "%s/possible", tree_root);
		CHECK_EQ(unlink(path), 0);
		t = NULL;
		CHECK_ERR(ghost_topo_from_sysfs(tree_root, &t), ENOENT);
		CHECK(t == NULL);
	}
	drop_tree();
}

static void test_sysfs_two_sockets(void)
{
	struct ghost_topo *t = NULL;
	struct ghost_cpuset node;

	/* Each package numbers its cores from 0; there is no cache directory and two nodes. */
	new_tree();
	put("0-3\n", "online");
	for (int cpu = 0; cpu < 4; cpu++) {
		put("0\n", "cpu%d/topology/core_id", cpu);
		put(cpu < 2 ? "0\n" : "1\n", "cpu%d/topology/physical_package_id", cpu);
		put(cpu < 2 ? "0-1\n" : "2-3\n", "cpu%d/topology/core_cpus_list", cpu);
		put(NULL, cpu < 2 ? "cpu%d/node0" : "cpu%d/node1", cpu);
	}
	CHECK_EQ(ghost_topo_from_sysfs(tree_root, &t), 0);
	check_invariants(t);
	CHECK_EQ(cpu_of(t, 1)->core, 0);
	CHECK_EQ(cpu_of(t, 2)->core, 1);
	CHECK_EQ(cpu_of(t, 3)->core, 1);
	CHECK_EQ(cpu_of(t, 3)->smt_idx, 1);
	CHECK_EQ(cpu_of(t, 2)->socket, 1);
	CHECK_EQ(cpu_of(t, 2)->l3_id, 1);
	CHECK(set_is(&cpu_of(t, 0)->l3_siblings, "0-1"));
	CHECK(set_is(&cpu_of(t, 3)->l3_siblings, "2-3"));
	CHECK_EQ(ghost_topo_num_numa_nodes(t), 2);
	CHECK_EQ(cpu_of(t, 2)->numa_node, 1);
	CHECK_EQ(ghost_topo_numa_cpus(t, 1, &node), 2);
	CHECK(set_is(&node, "2-3"));
	ghost_topo_free(t);
	drop_tree();
}

static void test_sysfs_offline(void)
{
	struct ghost_topo *t = NULL;
	struct ghost_cpuset s, marker = list("9");
	char why[128];

	new_tree();
	put("0-1,3\n", "online");
	put("0-3\n", "possible");
	/* A stale sibling list naming the offline CPU must not leak it into the topology. */
	put_smt_cpu(0, "0,2\n");
	put_smt_cpu(1, "1,3\n");
	put_smt_cpu(3, "1,3\n");
	put(NULL, "cpu2");
	CHECK_EQ(ghost_topo_from_sysfs(tree_root, &t), 0);
	check_invariants(t);
	CHECK_EQ(ghost_topo_num_cpus(t), 4);
	CHECK_EQ(ghost_cpuset_count(ghost_topo_cpus(t)), 3);
	CHECK(set_is(ghost_topo_cpus(t), "0-1,3"));
	errno = 0;
	CHECK(ghost_topo_cpu(t, 2) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(set_is(&cpu_of(t, 0)->siblings, "0"));
	CHECK(set_is(&cpu_of(t, 0)->l3_siblings, "0-1,3"));
	CHECK_EQ(cpu_of(t, 3)->smt_idx, 1);

	s = marker;
	CHECK_ERR(ghost_topo_parse_cpus(t, "1-2", &s, why, sizeof(why)), ERANGE);
	CHECK_MSG(strstr(why, "CPU 2 ") != NULL, "%s", why);
	CHECK(ghost_cpuset_equal(&s, &marker));
	CHECK_ERR(ghost_topo_parse_cpus(t, "4", &s, why, sizeof(why)), ERANGE);
	CHECK_MSG(strstr(why, "4") != NULL, "%s", why);
	CHECK_EQ(ghost_topo_parse_cpus(t, "0-1,3", &s, why, sizeof(why)), 0);
	CHECK(set_is(&s, "0-1,3"));
	ghost_topo_free(t);
	drop_tree();
}

static void test_sysfs_sparse_and_broken(void)
{
	struct ghost_topo *t = NULL;

	/* CPUs without topology files become lone cores, with a warning through the callback. */
	new_tree();
	put("0-1\n", "online");
	put(NULL, "cpu0");
	put(NULL, "cpu1");
	warnings = 0;
	ghost_log_set_callback(count_warnings, NULL, GHOST_LOG_WARN);
	CHECK_EQ(ghost_topo_from_sysfs(tree_root, &t), 0);
	ghost_log_set_callback(NULL, NULL, GHOST_LOG_WARN);
	CHECK_EQ(warnings, 1);
	check_invariants(t);
	CHECK_EQ(cpu_of(t, 0)->core, 0);
	CHECK_EQ(cpu_of(t, 1)->core, 1);
	CHECK_EQ(cpu_of(t, 1)->socket, 0);
	CHECK(set_is(&cpu_of(t, 1)->siblings, "1"));
	CHECK(set_is(&cpu_of(t, 1)->l3_siblings, "0-1"));
	ghost_topo_free(t);

	/* Garbage in a file is an error, not a guess. */
	put("zero\n", "cpu1/topology/core_id");
	t = NULL;
	CHECK_ERR(ghost_topo_from_sysfs(tree_root, &t), EINVAL);
	CHECK(t == NULL);
	put("1\n", "cpu1/topology/core_id");
	put("1-x\n", "cpu1/topology/thread_siblings_list");
	CHECK_ERR(ghost_topo_from_sysfs(tree_root, &t), EINVAL);
	put("1\n", "cpu1/topology/thread_siblings_list");
	CHECK_EQ(ghost_topo_from_sysfs(tree_root, &t), 0);
	ghost_topo_free(t);
	t = NULL;

	put("0-600\n", "online");
	CHECK_ERR(ghost_topo_from_sysfs(tree_root, &t), ERANGE);
	put("\n", "online");
	CHECK_ERR(ghost_topo_from_sysfs(tree_root, &t), EINVAL);
	CHECK(t == NULL);
	drop_tree();

	CHECK_ERR(ghost_topo_from_sysfs("/nonexistent/ghost/sysfs", &t), ENOENT);
	CHECK_ERR(ghost_topo_from_sysfs(NULL, &t), EINVAL);
	CHECK_ERR(ghost_topo_from_sysfs("/tmp", NULL), EINVAL);
}

static void test_machine(void)
{
	struct ghost_topo *t = NULL;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int ret = ghost_topo_from_machine(&t);

	CHECK_OK(ret);
	CHECK(t != NULL);
	CHECK(ghost_topo_num_cpus(t) >= 1);
	CHECK_EQ(ghost_cpuset_count(ghost_topo_cpus(t)), online);
	check_invariants(t);
	ghost_topo_free(t);
}

static void test_parse_cpus(void)
{
	struct ghost_topo *t = synth(2, 16, 2, 0, 0);
	struct ghost_cpuset s, marker = list("1");
	char why[128];

	CHECK_EQ(ghost_topo_parse_cpus(t, "0-63", &s, why, sizeof(why)), 0);
	CHECK_EQ(ghost_cpuset_count(&s), 64);
	CHECK_EQ(ghost_topo_parse_cpus(t, "5,40\n", &s, NULL, 0), 0);
	CHECK(set_is(&s, "5,40"));

	s = marker;
	CHECK_ERR(ghost_topo_parse_cpus(t, "64", &s, why, sizeof(why)), ERANGE);
	CHECK_MSG(strstr(why, "CPU 64 ") != NULL, "%s", why);
	CHECK_ERR(ghost_topo_parse_cpus(t, "0-70", &s, why, sizeof(why)), ERANGE);
	CHECK_MSG(strstr(why, "70") != NULL, "%s", why);
	CHECK_ERR(ghost_topo_parse_cpus(t, "600", &s, why, sizeof(why)), ERANGE);
	CHECK_MSG(strstr(why, "600") != NULL, "%s", why);
	CHECK_ERR(ghost_topo_parse_cpus(t, "abc", &s, why, sizeof(why)), EINVAL);
	CHECK(strstr(why, "abc") != NULL);
	CHECK_ERR(ghost_topo_parse_cpus(t, "", &s, why, sizeof(why)), EINVAL);
	CHECK_ERR(ghost_topo_parse_cpus(t, "1", NULL, why, sizeof(why)), EINVAL);
	CHECK_ERR(ghost_topo_parse_cpus(NULL, "1", &s, why, sizeof(why)), EINVAL);
	CHECK(ghost_cpuset_equal(&s, &marker));
	ghost_topo_free(t);
}

int main(void)
{
	test_synthetic_2x16x2();
	test_synthetic_shapes();
	test_synthetic_errors();
	test_parse_synthetic();
	test_sysfs_smt();
	test_sysfs_two_sockets();
	test_sysfs_offline();
	test_sysfs_sparse_and_broken();
	test_machine();
	test_parse_cpus();
	return 0;
}
