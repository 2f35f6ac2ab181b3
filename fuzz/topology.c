/*
 * fuzz/topology.c - the topology parsers (src/topology.c): ghost_topo_parse_synthetic,
 * ghost_topo_parse_cpus over the machine it describes, and ghost_topo_from_sysfs over a
 * small sysfs-like tree written from the input (online/possible lists, per-CPU topology
 * files, cache indexes, node entries).
 *
 * Beyond "no crash": a refused spec or CPU list leaves *out untouched; an accepted spec
 * builds (ghost_topo_synthetic) into a machine of exactly S*C*T CPUs with T SMT siblings
 * per core, symmetric sibling sets and S*numa nodes, and prints back to the same
 * description; ghost_topo_parse_cpus accepts exactly the lists the CPU-list parser
 * accepts whose CPUs are all present; any topology read from sysfs is self-consistent:
 * its CPUs are the online list, every record exists for present CPUs only, sibling and
 * L3 sets contain the CPU and only present CPUs, smt_idx is the CPU's rank among its
 * siblings, ids are in range, and the NUMA nodes partition the CPUs.
 */
#include "fuzz_common.h"

#include <ghost/topology.h>

#include <fcntl.h>
#include <limits.h>

static char sysfs_dir[256];

/* ---- a topology's invariants ---- */

static void check_topo(const struct ghost_topo *t, const struct ghost_cpuset *want_present)
{
	const struct ghost_cpuset *present = ghost_topo_cpus(t);
	int n = ghost_topo_num_cpus(t), nodes = ghost_topo_num_numa_nodes(t), cpu, last = -1;
	int total = 0;

	FZ_CHECK(present && n > 0 && n <= GHOST_MAX_CPUS, "%d CPUs", n);
	FZ_CHECK(!want_present || ghost_cpuset_equal(present, want_present),
		 "present CPUs differ from the online list");
	ghost_cpuset_for_each(cpu, present)
		last = cpu;
	FZ_CHECK(last == n - 1, "highest CPU %d, num_cpus %d", last, n);
	FZ_CHECK(nodes >= 1, "%d NUMA nodes", nodes);
	FZ_CHECK(!ghost_topo_cpu(t, -1) && !ghost_topo_cpu(t, n) && !ghost_topo_cpu(t, INT_MAX),
		 "a record for a CPU out of range");

	for (cpu = 0; cpu < n; cpu++) {
		const struct ghost_topo_cpu *c = ghost_topo_cpu(t, cpu);
		struct ghost_cpuset below;
		int rank;

		if (!ghost_cpuset_test(present, cpu)) {
			FZ_CHECK(!c, "a record for absent CPU %d", cpu);
			continue;
		}
		FZ_CHECK(c && c->cpu == cpu, "CPU %d has no record of its own", cpu);
		FZ_CHECK(ghost_cpuset_test(&c->siblings, cpu) &&
				 ghost_cpuset_is_subset(&c->siblings, present),
			 "CPU %d: siblings", cpu);
		FZ_CHECK(ghost_cpuset_test(&c->l3_siblings, cpu) &&
				 ghost_cpuset_is_subset(&c->l3_siblings, present),
			 "CPU %d: L3 siblings", cpu);
		ghost_cpuset_fill(&below, cpu);
		ghost_cpuset_and(&below, &below, &c->siblings);
		rank = ghost_cpuset_count(&below);
		FZ_CHECK(c->smt_idx == rank, "CPU %d: smt_idx %d, rank %d", cpu, c->smt_idx, rank);
		FZ_CHECK(c->core >= 0 && c->core < n && c->socket >= 0 && c->socket < n &&
				 c->l3_id >= 0 && c->l3_id < n,
			 "CPU %d: core %d socket %d l3 %d", cpu, c->core, c->socket, c->l3_id);
		FZ_CHECK(c->numa_node >= 0 && c->numa_node < nodes, "CPU %d: node %d of %d", cpu,
			 c->numa_node, nodes);
	}
	for (int node = 0; node < nodes && node < 4096; node++) {
		struct ghost_cpuset in_node;
		int k = ghost_topo_numa_cpus(t, node, &in_node);

		FZ_CHECK(k >= 0 && k == ghost_cpuset_count(&in_node) &&
				 ghost_cpuset_is_subset(&in_node, present),
			 "node %d", node);
		total += k;
	}
	if (nodes <= 4096)
		FZ_CHECK(total == ghost_cpuset_count(present), "nodes hold %d of %d CPUs", total,
			 ghost_cpuset_count(present));
	FZ_CHECK(ghost_topo_numa_cpus(t, nodes, &(struct ghost_cpuset){ 0 }) == -EINVAL &&
			 ghost_topo_numa_cpus(t, -1, &(struct ghost_cpuset){ 0 }) == -EINVAL,
		 "a node out of range");
}

/* What a synthetic machine must be, exactly. */
static void check_synthetic(const struct ghost_topo *t, const struct ghost_topo_desc *d)
{
	int l3 = d->l3_per_socket ? d->l3_per_socket : 1;
	int numa = d->numa_per_socket ? d->numa_per_socket : 1;
	int total = d->sockets * d->cores_per_socket * d->threads_per_core, cpu, other;
	struct ghost_cpuset all;

	ghost_cpuset_fill(&all, total);
	check_topo(t, &all);
	FZ_CHECK(ghost_topo_num_numa_nodes(t) == d->sockets * numa, "%d nodes",
		 ghost_topo_num_numa_nodes(t));
	for (cpu = 0; cpu < total; cpu++) {
		const struct ghost_topo_cpu *c = ghost_topo_cpu(t, cpu);

		FZ_CHECK(ghost_cpuset_count(&c->siblings) == d->threads_per_core,
			 "CPU %d: %d siblings", cpu, ghost_cpuset_count(&c->siblings));
		FZ_CHECK(ghost_cpuset_count(&c->l3_siblings) ==
				 d->cores_per_socket / l3 * d->threads_per_core,
			 "CPU %d: %d L3 siblings", cpu, ghost_cpuset_count(&c->l3_siblings));
		FZ_CHECK(c->socket < d->sockets && c->smt_idx < d->threads_per_core,
			 "CPU %d: socket %d smt %d", cpu, c->socket, c->smt_idx);
		ghost_cpuset_for_each(other, &c->siblings) {
			const struct ghost_topo_cpu *o = ghost_topo_cpu(t, other);

			FZ_CHECK(o->core == c->core && ghost_cpuset_test(&o->siblings, cpu) &&
					 o->socket == c->socket && o->l3_id == c->l3_id,
				 "CPUs %d and %d: asymmetric siblings", cpu, other);
		}
	}
}

/* ---- the three inputs ---- */

static void fuzz_parse_cpus(const struct ghost_topo *t, const char *list)
{
	struct ghost_cpuset out, ref, absent, pattern;
	char why[96];
	int r, rr;

	memset(&pattern, 0x5a, sizeof(pattern));
	out = pattern;
	r = ghost_topo_parse_cpus(t, list, &out, why, sizeof(why));
	rr = ghost_cpuset_parse_list(&ref, list, ghost_topo_num_cpus(t), 0);
	if (rr == 0) {
		ghost_cpuset_andnot(&absent, &ref, ghost_topo_cpus(t));
		if (!ghost_cpuset_empty(&absent))
			rr = -ERANGE;
	}
	FZ_CHECK(r == rr, "\"%s\": %d, the list parser and the present set say %d", list, r, rr);
	if (r) {
		FZ_CHECK(ghost_cpuset_equal(&out, &pattern), "output changed on error %d", r);
		FZ_CHECK(strnlen(why, sizeof(why)) < sizeof(why) && why[0], "reason for %d", r);
		return;
	}
	FZ_CHECK(ghost_cpuset_equal(&out, &ref) && !ghost_cpuset_empty(&out) &&
			 ghost_cpuset_is_subset(&out, ghost_topo_cpus(t)),
		 "\"%s\"", list);
}

static void fuzz_synthetic(const char *spec, const char *list)
{
	struct ghost_topo_desc d, again, pattern;
	struct ghost_topo *t = NULL;
	char text[128];
	int r, n;

	memset(&pattern, 0x77, sizeof(pattern));
	d = pattern;
	r = ghost_topo_parse_synthetic(spec, &d);
	if (r) {
		FZ_CHECK(r == -EINVAL || r == -ERANGE, "\"%s\": %d", spec, r);
		FZ_CHECK(!memcmp(&d, &pattern, sizeof(d)), "output changed on error %d", r);
		return;
	}
	FZ_CHECK(d.sockets >= 1 && d.cores_per_socket >= 1 && d.threads_per_core >= 1 &&
			 (long)d.sockets * d.cores_per_socket * d.threads_per_core <=
				 GHOST_MAX_CPUS,
		 "\"%s\" accepted as %dx%dx%d", spec, d.sockets, d.cores_per_socket,
		 d.threads_per_core);
	n = snprintf(text, sizeof(text), "%dx%dx%d", d.sockets, d.cores_per_socket,
		     d.threads_per_core);
	if (d.l3_per_socket)
		n += snprintf(text + n, sizeof(text) - (size_t)n, ",l3=%d", d.l3_per_socket);
	if (d.numa_per_socket)
		snprintf(text + n, sizeof(text) - (size_t)n, ",numa=%d", d.numa_per_socket);
	FZ_CHECK(ghost_topo_parse_synthetic(text, &again) == 0 && !memcmp(&again, &d, sizeof(d)),
		 "\"%s\" printed as \"%s\" reads back otherwise", spec, text);

	r = ghost_topo_synthetic(&d, &t);
	FZ_CHECK(r == 0, "\"%s\" parsed but does not build: %d", spec, r);
	check_synthetic(t, &d);
	fuzz_parse_cpus(t, list);
	ghost_topo_free(t);
}

/*
 * Input records: one byte naming the file (low 4 bits: which; high 4 bits: the
 * CPU), one length byte, then the content. Names of node entries come from the
 * content.
 */
static void write_file(const char *rel, const uint8_t *content, size_t len)
{
	char path[512], dir[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", sysfs_dir, rel);
	/* Each parent directory in turn. */
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *s = dir + strlen(sysfs_dir) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(dir, 0700);
		*s = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return;
	if (len && write(fd, content, len) < 0)
		perror("write");
	close(fd);
}

static void fuzz_sysfs(struct fz *in)
{
	struct ghost_cpuset online;
	struct ghost_topo *t = NULL;
	char rel[256], online_text[256] = "", possible_text[256] = "";
	const char *list;
	bool have_online = false, have_possible = false;
	int r;

	fz_empty_dir(sysfs_dir);
	for (int files = 0; fz_left(in) && files < 64; files++) {
		uint8_t sel = fz_u8(in), kind = sel & 15, len = fz_u8(in);
		int cpu = sel >> 4;
		uint8_t content[256];
		size_t clen = len < fz_left(in) ? len : fz_left(in);

		fz_fill(in, content, clen);
		switch (kind) {
		case 0:
		case 1:
			snprintf(rel, sizeof(rel), "%s", kind ? "possible" : "online");
			memcpy(kind ? possible_text : online_text, content, clen);
			(kind ? possible_text : online_text)[clen < 255 ? clen : 255] = '\0';
			*(kind ? &have_possible : &have_online) = true;
			break;
		case 2:
			snprintf(rel, sizeof(rel), "cpu%d/topology/thread_siblings_list", cpu);
			break;
		case 3:
			snprintf(rel, sizeof(rel), "cpu%d/topology/core_cpus_list", cpu);
			break;
		case 4:
			snprintf(rel, sizeof(rel), "cpu%d/topology/physical_package_id", cpu);
			break;
		case 5:
			snprintf(rel, sizeof(rel), "cpu%d/topology/core_id", cpu);
			break;
		case 6:
		case 7:
		case 8:
			snprintf(rel, sizeof(rel), "cpu%d/cache/index%d/level", cpu, kind - 6);
			break;
		case 9:
		case 10:
		case 11:
			snprintf(rel, sizeof(rel), "cpu%d/cache/index%d/shared_cpu_list", cpu,
				 kind - 9);
			break;
		default: {
			/* A directory entry of cpuN named by the content ("node1", ...). */
			char name[64];
			size_t k = 0;

			for (size_t i = 0; i < clen && k < sizeof(name) - 1; i++)
				if (content[i] != '/' && content[i] != '\0')
					name[k++] = (char)content[i];
			name[k] = '\0';
			if (!k || !strcmp(name, ".") || !strcmp(name, ".."))
				continue;
			snprintf(rel, sizeof(rel), "cpu%d/%s", cpu, name);
			clen = 0;
			break;
		}
		}
		write_file(rel, content, clen);
	}

	r = ghost_topo_from_sysfs(sysfs_dir, &t);
	if (r) {
		FZ_CHECK(r < 0 && !t, "from_sysfs returned %d", r);
		return;
	}
	/* The CPUs are exactly the online list's (the possible list's without one). */
	FZ_CHECK(have_online || have_possible, "a topology without a CPU list");
	list = have_online ? online_text : possible_text;
	FZ_CHECK(ghost_cpuset_parse_list(&online, list, GHOST_MAX_CPUS, 0) == 0,
		 "accepted the CPU list \"%s\" the parser refuses", list);
	check_topo(t, &online);
	fuzz_parse_cpus(t, "0");
	ghost_topo_free(t);
}

static void remove_sysfs_dir(void)
{
	fz_rm_tree(sysfs_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_log_init();
	fz_mkdtemp(sysfs_dir, sizeof(sysfs_dir), "ghost-fuzz-topology");
	atexit(remove_sysfs_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	uint8_t mode = fz_u8(&in);

	if (mode < 0xc0) {
		/* "spec\0list": a machine description, then a CPU list over it. */
		size_t slen, llen;
		const uint8_t *spec = fz_chunk(&in, 0, 512, &slen);
		const uint8_t *list = fz_chunk(&in, 0, 4096, &llen);
		char *s = fz_strndup(spec, slen), *l = fz_strndup(list, llen);

		fuzz_synthetic(s, l);
		free(s);
		free(l);
	} else {
		fuzz_sysfs(&in);
	}
	return 0;
}
