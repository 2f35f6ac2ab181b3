/*
 * topology.c - builds the immutable CPU topology, from sysfs or from a description.
 *
 * Owns the mapping from the kernel's per-socket, possibly sparse ids to the dense global ids
 * the rest of the library indexes arrays with. It must never modify sysfs, never follow
 * hotplug after construction, and never hand out a record for a CPU that is not present.
 */
#include "internal.h"

#include <ghost/topology.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ghost_topo {
	int num_cpus;
	int num_numa_nodes;
	struct ghost_cpuset present;
	/* num_cpus records, indexed by CPU; holes (absent CPUs) have cpu == -1. */
	struct ghost_topo_cpu *cpus;
};

/* Members of s below cpu: a CPU's rank within a set. */
static int count_below(const struct ghost_cpuset *s, int cpu)
{
	int n = 0, word = cpu / 64;

	for (int i = 0; i < word; i++)
		n += __builtin_popcountll(s->bits[i]);
	if (cpu % 64)
		n += __builtin_popcountll(s->bits[word] & ((1ULL << (cpu % 64)) - 1));
	return n;
}

static struct ghost_topo *topo_alloc(const struct ghost_cpuset *present)
{
	struct ghost_topo *t;
	int last = -1, cpu;

	ghost_cpuset_for_each(cpu, present)
		last = cpu;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->num_cpus = last + 1;
	t->present = *present;
	t->cpus = calloc((size_t)t->num_cpus, sizeof(*t->cpus));
	if (!t->cpus) {
		free(t);
		return NULL;
	}
	for (int i = 0; i < t->num_cpus; i++)
		t->cpus[i].cpu = -1;
	return t;
}

void ghost_topo_free(struct ghost_topo *t)
{
	if (!t)
		return;
	free(t->cpus);
	free(t);
}

static void count_numa_nodes(struct ghost_topo *t)
{
	int cpu, highest = 0;

	ghost_cpuset_for_each(cpu, &t->present)
		if (t->cpus[cpu].numa_node > highest)
			highest = t->cpus[cpu].numa_node;
	t->num_numa_nodes = highest + 1;
}

/* ---- synthetic machines ---- */

static int check_desc(const struct ghost_topo_desc *d)
{
	int l3 = d->l3_per_socket ? d->l3_per_socket : 1;
	int numa = d->numa_per_socket ? d->numa_per_socket : 1;

	if (d->sockets < 1 || d->cores_per_socket < 1 || d->threads_per_core < 1 ||
	    d->l3_per_socket < 0 || d->numa_per_socket < 0)
		return -EINVAL;
	if (d->cores_per_socket % l3 || d->cores_per_socket % numa)
		return -EINVAL;
	/* Each factor is bounded first so that the product cannot overflow. */
	if (d->sockets > GHOST_MAX_CPUS || d->cores_per_socket > GHOST_MAX_CPUS ||
	    d->threads_per_core > GHOST_MAX_CPUS ||
	    (long)d->sockets * d->cores_per_socket * d->threads_per_core > GHOST_MAX_CPUS)
		return -ERANGE;
	return 0;
}

int ghost_topo_synthetic(const struct ghost_topo_desc *desc, struct ghost_topo **out)
{
	struct ghost_cpuset present;
	struct ghost_topo *t;
	int cores, total, l3_cores, numa_cores, ret;

	if (!desc || !out)
		return -EINVAL;
	ret = check_desc(desc);
	if (ret)
		return ret;

	cores = desc->sockets * desc->cores_per_socket;
	total = cores * desc->threads_per_core;
	l3_cores = desc->cores_per_socket / (desc->l3_per_socket ? desc->l3_per_socket : 1);
	numa_cores = desc->cores_per_socket / (desc->numa_per_socket ? desc->numa_per_socket : 1);
	ghost_cpuset_fill(&present, total);
	t = topo_alloc(&present);
	if (!t)
		return -ENOMEM;

	for (int cpu = 0; cpu < total; cpu++) {
		struct ghost_topo_cpu *c = &t->cpus[cpu];
		int core_in_socket;

		c->cpu = cpu;
		c->core = cpu % cores;
		c->smt_idx = cpu / cores;
		c->socket = c->core / desc->cores_per_socket;
		core_in_socket = c->core % desc->cores_per_socket;
		c->l3_id = c->core / l3_cores;
		c->numa_node = c->socket * (desc->cores_per_socket / numa_cores) +
			       core_in_socket / numa_cores;
	}
	/* Sets after ids, since a CPU's siblings include higher-numbered CPUs. */
	for (int cpu = 0; cpu < total; cpu++) {
		struct ghost_topo_cpu *c = &t->cpus[cpu];

		ghost_cpuset_zero(&c->siblings);
		ghost_cpuset_zero(&c->l3_siblings);
		for (int other = 0; other < total; other++) {
			if (t->cpus[other].core == c->core)
				ghost_cpuset_set(&c->siblings, other);
			if (t->cpus[other].l3_id == c->l3_id)
				ghost_cpuset_set(&c->l3_siblings, other);
		}
	}
	count_numa_nodes(t);
	*out = t;
	return 0;
}

/* Reads a decimal count >= 1; larger than any valid value saturates rather than overflows. */
static bool read_count(const char **pp, int *value)
{
	const char *p = *pp;
	long v = 0;

	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++)
		if (v <= INT_MAX / 10)
			v = v * 10 + (*p - '0');
	if (v < 1)
		return false;
	*value = v > INT_MAX ? INT_MAX : (int)v;
	*pp = p;
	return true;
}

static bool skip_char(const char **pp, char c)
{
	if (**pp != c)
		return false;
	(*pp)++;
	return true;
}

int ghost_topo_parse_synthetic(const char *spec, struct ghost_topo_desc *out)
{
	struct ghost_topo_desc d = { 0 };
	bool have_l3 = false, have_numa = false;
	const char *p = spec;
	int ret;

	if (!spec || !out)
		return -EINVAL;
	while (isspace((unsigned char)*p))
		p++;
	if (!read_count(&p, &d.sockets) || !skip_char(&p, 'x') ||
	    !read_count(&p, &d.cores_per_socket) || !skip_char(&p, 'x') ||
	    !read_count(&p, &d.threads_per_core))
		return -EINVAL;
	while (skip_char(&p, ',')) {
		if (!have_l3 && !strncmp(p, "l3=", 3)) {
			p += 3;
			have_l3 = true;
			if (!read_count(&p, &d.l3_per_socket))
				return -EINVAL;
		} else if (!have_numa && !strncmp(p, "numa=", 5)) {
			p += 5;
			have_numa = true;
			if (!read_count(&p, &d.numa_per_socket))
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return -EINVAL;
	ret = check_desc(&d);
	if (ret)
		return ret;
	*out = d;
	return 0;
}

/* ---- sysfs ---- */

struct sysfs_reader {
	const char *root;
	char path[PATH_MAX];
	/* Big enough for any list of GHOST_MAX_CPUS CPUs, plus a newline. */
	char text[GHOST_CPUSET_LIST_MAX + 64];
};

/*
 * Reads root/<fmt...> into r->text. -ENOENT is returned quietly because callers fall back
 * on missing files; every other failure is logged here, where the path is known.
 */
__attribute__((format(printf, 2, 0))) static int sysfs_vread(struct sysfs_reader *r,
							     const char *fmt, va_list ap)
{
	char rel[256];
	size_t used = 0;
	int fd, n;

	vsnprintf(rel, sizeof(rel), fmt, ap);
	n = snprintf(r->path, sizeof(r->path), "%s/%s", r->root, rel);
	if (n < 0 || (size_t)n >= sizeof(r->path)) {
		ghost_err("sysfs path too long under %s", r->root);
		return -ENAMETOOLONG;
	}
	fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (err != ENOENT)
			ghost_err("cannot open %s: %s", r->path, strerror(err));
		return -err;
	}
	for (;;) {
		ssize_t got = read(fd, r->text + used, sizeof(r->text) - 1 - used);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int err = errno;

			ghost_err("cannot read %s: %s", r->path, strerror(err));
			close(fd);
			return -err;
		}
		if (got == 0)
			break;
		used += (size_t)got;
		if (used == sizeof(r->text) - 1) {
			ghost_err("%s is larger than any file this reader expects", r->path);
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	r->text[used] = '\0';
	return 0;
}

__attribute__((format(printf, 3, 4))) static int sysfs_read_int(struct sysfs_reader *r, int *value,
								const char *fmt, ...)
{
	va_list ap;
	char *end;
	long v;
	int ret;

	va_start(ap, fmt);
	ret = sysfs_vread(r, fmt, ap);
	va_end(ap);
	if (ret)
		return ret;
	errno = 0;
	v = strtol(r->text, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (end == r->text || *end || errno || v < INT_MIN || v > INT_MAX) {
		ghost_err("%s: expected an integer", r->path);
		return -EINVAL;
	}
	*value = (int)v;
	return 0;
}

__attribute__((format(printf, 4, 5))) static int sysfs_read_list(struct sysfs_reader *r,
								 struct ghost_cpuset *set,
								 unsigned int flags,
								 const char *fmt, ...)
{
	char why[128];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = sysfs_vread(r, fmt, ap);
	va_end(ap);
	if (ret)
		return ret;
	ret = ghost_cpuset_parse_list_ex(set, r->text, GHOST_MAX_CPUS, flags, why, sizeof(why));
	if (ret)
		ghost_err("%s: %s", r->path, why);
	return ret;
}

/* What sysfs says about one CPU, before ids are made dense and global. */
struct sysfs_cpu {
	int package;
	int core_id;
	int node;
	bool has_l3;
	struct ghost_cpuset siblings;
	struct ghost_cpuset l3;
};

static int read_sibling_list(struct sysfs_reader *r, int cpu, struct ghost_cpuset *siblings)
{
	int ret;

	/* thread_siblings_list is the long-standing name, core_cpus_list its newer alias. */
	ret = sysfs_read_list(r, siblings, GHOST_CPUSET_ALLOW_EMPTY,
			      "cpu%d/topology/thread_siblings_list", cpu);
	if (ret == -ENOENT)
		ret = sysfs_read_list(r, siblings, GHOST_CPUSET_ALLOW_EMPTY,
				      "cpu%d/topology/core_cpus_list", cpu);
	return ret;
}

static int read_l3(struct sysfs_reader *r, int cpu, struct sysfs_cpu *c)
{
	/* Cache index directories are numbered densely; the bound only guards odd trees. */
	for (int index = 0; index < 64; index++) {
		int level, ret;

		ret = sysfs_read_int(r, &level, "cpu%d/cache/index%d/level", cpu, index);
		if (ret == -ENOENT)
			return 0;
		if (ret)
			return ret;
		if (level != 3)
			continue;
		ret = sysfs_read_list(r, &c->l3, GHOST_CPUSET_ALLOW_EMPTY,
				      "cpu%d/cache/index%d/shared_cpu_list", cpu, index);
		if (ret == -ENOENT)
			return 0;
		if (ret)
			return ret;
		c->has_l3 = true;
		return 0;
	}
	return 0;
}

/* The kernel links cpuN/nodeM to the CPU's node; without NUMA there is no such entry. */
static int read_node(struct sysfs_reader *r, int cpu, int *node)
{
	struct dirent *entry;
	DIR *dir;
	int n;

	*node = 0;
	n = snprintf(r->path, sizeof(r->path), "%s/cpu%d", r->root, cpu);
	if (n < 0 || (size_t)n >= sizeof(r->path))
		return -ENAMETOOLONG;
	dir = opendir(r->path);
	if (!dir) {
		int err = errno;

		if (err == ENOENT)
			return 0;
		ghost_err("cannot open %s: %s", r->path, strerror(err));
		return -err;
	}
	while ((entry = readdir(dir))) {
		const char *digits = entry->d_name + 4;
		char *end;
		long v;

		if (strncmp(entry->d_name, "node", 4) || !isdigit((unsigned char)*digits))
			continue;
		v = strtol(digits, &end, 10);
		/* Linux numbers nodes below MAX_NUMNODES, at most 1 << 10: a
		 * larger number is not a node (and would overflow the count). */
		if (*end || v >= 1 << 10)
			continue;
		*node = (int)v;
		break;
	}
	closedir(dir);
	return 0;
}

static int read_cpu(struct sysfs_reader *r, int cpu, const struct ghost_cpuset *online,
		    struct sysfs_cpu *c, bool *warned)
{
	bool missing = false;
	int ret;

	ret = read_sibling_list(r, cpu, &c->siblings);
	if (ret == -ENOENT) {
		ghost_cpuset_zero(&c->siblings);
		missing = true;
	} else if (ret) {
		return ret;
	}
	/* Offline siblings are not ours to schedule, and a CPU is always its own sibling. */
	ghost_cpuset_and(&c->siblings, &c->siblings, online);
	ghost_cpuset_set(&c->siblings, cpu);

	ret = sysfs_read_int(r, &c->package, "cpu%d/topology/physical_package_id", cpu);
	if (ret == -ENOENT) {
		c->package = 0;
		missing = true;
	} else if (ret) {
		return ret;
	}
	ret = sysfs_read_int(r, &c->core_id, "cpu%d/topology/core_id", cpu);
	if (ret == -ENOENT) {
		c->core_id = ghost_cpuset_first(&c->siblings);
		missing = true;
	} else if (ret) {
		return ret;
	}
	if (missing && !*warned) {
		ghost_warn("%s/cpu%d lacks topology files; such CPUs are treated as lone cores "
			   "on package 0",
			   r->root, cpu);
		*warned = true;
	}

	ret = read_l3(r, cpu, c);
	if (ret)
		return ret;
	return read_node(r, cpu, &c->node);
}

struct core_key {
	int package;
	int core_id;
	/* Splits cores that share a core_id within a package (multi-die parts may do so). */
	int first_sibling;
	int cpu;
};

static int compare_core_keys(const void *pa, const void *pb)
{
	const struct core_key *a = pa, *b = pb;

	if (a->package != b->package)
		return a->package < b->package ? -1 : 1;
	if (a->core_id != b->core_id)
		return a->core_id < b->core_id ? -1 : 1;
	if (a->first_sibling != b->first_sibling)
		return a->first_sibling < b->first_sibling ? -1 : 1;
	return 0;
}

static bool same_core(const struct core_key *a, const struct core_key *b)
{
	return a->package == b->package && a->core_id == b->core_id &&
	       a->first_sibling == b->first_sibling;
}

/*
 * Turns per-package core ids into global ones by numbering (package, core) pairs in order,
 * and packages into dense socket indexes the same way.
 */
static void number_cores_and_sockets(struct ghost_topo *t, const struct sysfs_cpu *raw,
				     struct core_key *keys)
{
	int n = 0, cpu, core = -1, socket = -1;

	ghost_cpuset_for_each(cpu, &t->present) {
		keys[n].package = raw[cpu].package;
		keys[n].core_id = raw[cpu].core_id;
		keys[n].first_sibling = ghost_cpuset_first(&raw[cpu].siblings);
		keys[n].cpu = cpu;
		n++;
	}
	qsort(keys, (size_t)n, sizeof(*keys), compare_core_keys);
	for (int i = 0; i < n; i++) {
		if (i == 0 || !same_core(&keys[i], &keys[i - 1]))
			core++;
		if (i == 0 || keys[i].package != keys[i - 1].package)
			socket++;
		t->cpus[keys[i].cpu].core = core;
		t->cpus[keys[i].cpu].socket = socket;
	}
}

static void finish_sysfs_topo(struct ghost_topo *t, struct sysfs_cpu *raw)
{
	struct ghost_cpuset l3_leaders;
	int cpu, other;

	ghost_cpuset_zero(&l3_leaders);
	ghost_cpuset_for_each(cpu, &t->present) {
		struct sysfs_cpu *c = &raw[cpu];

		if (!c->has_l3) {
			ghost_cpuset_zero(&c->l3);
			ghost_cpuset_for_each(other, &t->present)
				if (raw[other].package == c->package)
					ghost_cpuset_set(&c->l3, other);
		}
		ghost_cpuset_and(&c->l3, &c->l3, &t->present);
		ghost_cpuset_set(&c->l3, cpu);
		ghost_cpuset_set(&l3_leaders, ghost_cpuset_first(&c->l3));
	}
	ghost_cpuset_for_each(cpu, &t->present) {
		struct ghost_topo_cpu *tc = &t->cpus[cpu];

		tc->cpu = cpu;
		tc->smt_idx = count_below(&raw[cpu].siblings, cpu);
		tc->numa_node = raw[cpu].node;
		/* Numbering domains by their lowest CPU matches the synthetic machines. */
		tc->l3_id = count_below(&l3_leaders, ghost_cpuset_first(&raw[cpu].l3));
		tc->siblings = raw[cpu].siblings;
		tc->l3_siblings = raw[cpu].l3;
	}
	count_numa_nodes(t);
}

int ghost_topo_from_sysfs(const char *sysfs_cpu_dir, struct ghost_topo **out)
{
	struct ghost_cpuset online;
	struct sysfs_reader *r;
	struct sysfs_cpu *raw = NULL;
	struct core_key *keys = NULL;
	struct ghost_topo *t = NULL;
	bool warned = false;
	int cpu, ret;

	if (!sysfs_cpu_dir || !out)
		return -EINVAL;
	/* The reader's buffers are too big for the stack of a small agent thread. */
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->root = sysfs_cpu_dir;

	ret = sysfs_read_list(r, &online, 0, "online");
	if (ret == -ENOENT)
		ret = sysfs_read_list(r, &online, 0, "possible");
	if (ret == -ENOENT)
		ghost_err("%s has neither an online nor a possible CPU list", sysfs_cpu_dir);
	if (ret)
		goto out;

	ret = -ENOMEM;
	t = topo_alloc(&online);
	if (!t)
		goto out;
	raw = calloc((size_t)t->num_cpus, sizeof(*raw));
	keys = calloc((size_t)t->num_cpus, sizeof(*keys));
	if (!raw || !keys)
		goto out;

	ghost_cpuset_for_each(cpu, &online) {
		ret = read_cpu(r, cpu, &online, &raw[cpu], &warned);
		if (ret)
			goto out;
	}
	number_cores_and_sockets(t, raw, keys);
	finish_sysfs_topo(t, raw);
	*out = t;
	t = NULL;
	ret = 0;
out:
	ghost_topo_free(t);
	free(keys);
	free(raw);
	free(r);
	return ret;
}

int ghost_topo_from_machine(struct ghost_topo **out)
{
	return ghost_topo_from_sysfs("/sys/devices/system/cpu", out);
}

/* ---- queries ---- */

int ghost_topo_num_cpus(const struct ghost_topo *t)
{
	return t ? t->num_cpus : -EINVAL;
}

const struct ghost_cpuset *ghost_topo_cpus(const struct ghost_topo *t)
{
	if (!t) {
		errno = EINVAL;
		return NULL;
	}
	return &t->present;
}

const struct ghost_topo_cpu *ghost_topo_cpu(const struct ghost_topo *t, int cpu)
{
	if (!t || !ghost_cpuset_test(&t->present, cpu)) {
		errno = EINVAL;
		return NULL;
	}
	return &t->cpus[cpu];
}

int ghost_topo_num_numa_nodes(const struct ghost_topo *t)
{
	return t ? t->num_numa_nodes : -EINVAL;
}

int ghost_topo_numa_cpus(const struct ghost_topo *t, int node, struct ghost_cpuset *out)
{
	int cpu;

	if (!t || !out || node < 0 || node >= t->num_numa_nodes)
		return -EINVAL;
	ghost_cpuset_zero(out);
	ghost_cpuset_for_each(cpu, &t->present)
		if (t->cpus[cpu].numa_node == node)
			ghost_cpuset_set(out, cpu);
	return ghost_cpuset_count(out);
}

int ghost_topo_parse_cpus(const struct ghost_topo *t, const char *list, struct ghost_cpuset *out,
			  char *why, size_t why_len)
{
	struct ghost_cpuset parsed, absent;
	int ret;

	if (!t || !list || !out)
		return -EINVAL;
	ret = ghost_cpuset_parse_list_ex(&parsed, list, t->num_cpus, 0, why, why_len);
	if (ret)
		return ret;
	/* The bound above cannot see holes left by offline CPUs. */
	ghost_cpuset_andnot(&absent, &parsed, &t->present);
	if (!ghost_cpuset_empty(&absent)) {
		if (why && why_len)
			snprintf(why, why_len, "CPU %d is not present on this machine",
				 ghost_cpuset_first(&absent));
		return -ERANGE;
	}
	*out = parsed;
	return 0;
}
