/*
 * ghost/topology.h - which logical CPUs exist and how they share cores, caches and memory.
 *
 * A topology is read once (from sysfs, or made up from a description for tests and
 * emulation) and is immutable afterwards, so any number of threads may query it without
 * locking. Nothing here follows CPU hotplug: build a new topology to see changes.
 */
#ifndef GHOST_TOPOLOGY_H
#define GHOST_TOPOLOGY_H

#include <ghost/common.h>
#include <ghost/cpuset.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_topo;

/*
 * One logical CPU. core, socket and l3_id are dense and global, counted from 0: core is
 * unique across sockets (unlike sysfs core_id, which restarts in each package), cores and
 * sockets are numbered in (package, core_id) order, and l3_id numbers the L3 domains in order
 * of their lowest CPU. numa_node is the kernel's node number, usable with mbind() and friends.
 * smt_idx is the CPU's position among its core's present siblings (0 for the lowest).
 * Both sibling sets include the CPU itself and only present CPUs.
 */
struct ghost_topo_cpu {
	int cpu;
	int core;
	int socket;
	int smt_idx;
	int numa_node;
	int l3_id;
	struct ghost_cpuset siblings;
	struct ghost_cpuset l3_siblings;
};

/*
 * A made-up machine. l3_per_socket and numa_per_socket split each socket's cores into that
 * many equal groups and must divide cores_per_socket; 0 means one per socket.
 */
struct ghost_topo_desc {
	int sockets;
	int cores_per_socket;
	int threads_per_core;
	int l3_per_socket;
	int numa_per_socket;
};

/* Reads this machine's online CPUs from /sys/devices/system/cpu. */
GHOST_API int ghost_topo_from_machine(struct ghost_topo **out);

/*
 * Reads a sysfs CPU directory laid out like /sys/devices/system/cpu: the "online" list (or
 * "possible" if there is none), then for each listed CPU its cpuN/topology files, the
 * cpuN/cache/indexK with level 3 (else the whole package counts as one L3 domain) and a
 * cpuN/nodeM entry (else node 0). Missing topology files make a CPU its own core on socket
 * 0, with a warning logged. Returns 0, -ERANGE if a CPU number is >= GHOST_MAX_CPUS,
 * -EINVAL for unparsable files, -ENOMEM, or the negative errno of a failed read.
 */
GHOST_API int ghost_topo_from_sysfs(const char *sysfs_cpu_dir, struct ghost_topo **out);

/*
 * Builds the machine desc describes, numbered as Linux numbers x86 machines: first SMT thread
 * 0 of every core of every socket, then thread 1 of every core, and so on; so with 2 sockets
 * of 16 two-thread cores, CPUs 0-15 and 32-47 are socket 0 and CPU n's sibling is n + 32.
 * Returns 0, -EINVAL for a bad description, -ERANGE for more than GHOST_MAX_CPUS CPUs, or
 * -ENOMEM.
 */
GHOST_API int ghost_topo_synthetic(const struct ghost_topo_desc *desc, struct ghost_topo **out);

/*
 * Parses "SxCxT" (sockets x cores per socket x threads per core, lowercase 'x'), optionally
 * followed by ",l3=N" and/or ",numa=N" (per socket, each at most once, N >= 1), e.g.
 * "2x16x2,l3=2,numa=1". The result is checked as ghost_topo_synthetic() would check it.
 * Returns 0, -EINVAL for bad text or a bad description, -ERANGE for too many CPUs; *out is
 * unchanged on error.
 */
GHOST_API int ghost_topo_parse_synthetic(const char *spec, struct ghost_topo_desc *out);

/* Accepts NULL. */
GHOST_API void ghost_topo_free(struct ghost_topo *t);

/* Highest present CPU + 1: the size for arrays indexed by CPU. -EINVAL for NULL. */
GHOST_API int ghost_topo_num_cpus(const struct ghost_topo *t);

/* The present CPUs; there may be holes below ghost_topo_num_cpus(). NULL + EINVAL for NULL. */
GHOST_API const struct ghost_cpuset *ghost_topo_cpus(const struct ghost_topo *t);

/* The CPU's record, or NULL with errno EINVAL if it is not present. Valid until freed. */
GHOST_API const struct ghost_topo_cpu *ghost_topo_cpu(const struct ghost_topo *t, int cpu);

/* Highest NUMA node + 1 (nodes without present CPUs, if any, count too). -EINVAL for NULL. */
GHOST_API int ghost_topo_num_numa_nodes(const struct ghost_topo *t);

/* Fills out with the node's present CPUs and returns how many; -EINVAL for a bad node. */
GHOST_API int ghost_topo_numa_cpus(const struct ghost_topo *t, int node, struct ghost_cpuset *out);

/*
 * Parses a CPU list (as ghost_cpuset_parse_list_ex(); the empty list is an error) that
 * must name only present CPUs. Returns 0, -EINVAL for malformed text, or -ERANGE for a CPU
 * this machine lacks, with why naming it. *out is unchanged on error.
 */
GHOST_API int ghost_topo_parse_cpus(const struct ghost_topo *t, const char *list,
				    struct ghost_cpuset *out, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif
