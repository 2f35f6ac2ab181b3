/*
 * kernels/emu/emu_ns.c - the embedded kernel's namespace: the ghostfs of
 * this backend, made of ordinary files under a root directory.
 *
 * Owns creating, attaching, listing and destroying enclaves, the layout and
 * validation of their state file, the text files a person reads (status,
 * cpulist, tunables...) and the CPU set. The files themselves and the
 * mappings are emu_shm.c's; above the task and agent sides, below only the
 * ops table (emu_ops.c). A file that fails
 * validation (wrong magic, truncated, sizes that do not add up) is refused
 * with an error; nothing here trusts what it maps before checking it.
 */
#include "emu.h"

#include "internal.h"
#include "ring.h"

#include <ghost/channel.h>

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int emu_root_default(char *buf, size_t len)
{
	const char *env = getenv("GHOST_EMU_ROOT");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (xdg && *xdg && access(xdg, W_OK) == 0)
		n = snprintf(buf, len, "%s/ghost", xdg);
	else if (access("/dev/shm", W_OK) == 0)
		n = snprintf(buf, len, "/dev/shm/ghost-%u", (unsigned)getuid());
	else
		n = snprintf(buf, len, "/tmp/ghost-%u", (unsigned)getuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int resolve_root(const char *root, char *buf, size_t len)
{
	if (root && *root) {
		if (strlen(root) >= len)
			return -ENAMETOOLONG;
		strcpy(buf, root);
		return 0;
	}
	return emu_root_default(buf, len);
}

static int ensure_root(const char *root)
{
	char path[600];
	int fd;

	if (mkdir(root, 0700) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/version", root);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0444);
	if (fd >= 0) {
		char v[16];
		int n = snprintf(v, sizeof(v), "%d\n", GHOST_VERSION);

		if (write(fd, v, (size_t)n) != n) {
			close(fd);
			return -EIO;
		}
		close(fd);
	} else if (errno != EEXIST) {
		return -errno;
	}
	return 0;
}

static size_t state_size(uint32_t max_tasks, uint64_t *cpus_off, uint64_t *queues_off,
			 uint64_t *tasks_off, uint64_t *trace_off)
{
	size_t off = (sizeof(struct emu_shared) + 63) & ~(size_t)63;

	*cpus_off = off;
	off += sizeof(struct emu_cpu) * GHOST_MAX_CPUS;
	off = (off + 63) & ~(size_t)63;
	*queues_off = off;
	off += sizeof(struct emu_queue) * EMU_MAX_QUEUES;
	off = (off + 63) & ~(size_t)63;
	*tasks_off = off;
	off += sizeof(struct emu_task) * (size_t)max_tasks;
	off = (off + 63) & ~(size_t)63;
	*trace_off = off;
	off += sizeof(struct emu_trace_ent) * EMU_TRACE_LEN;
	return emu_page_align(off);
}

static int machine_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	if (n < 1)
		n = 1;
	if (n > GHOST_MAX_CPUS)
		n = GHOST_MAX_CPUS;
	return (int)n;
}

/* Is the state mapping believable? Checked before anything else is read. */
static int validate_shared(const struct emu_shared *sh, size_t file_size)
{
	uint64_t c, q, t, tr;

	if (file_size < sizeof(*sh))
		return -EINVAL;
	if (__atomic_load_n(&sh->magic, __ATOMIC_ACQUIRE) != EMU_MAGIC || sh->layout != EMU_LAYOUT)
		return -EINVAL;
	if (sh->max_tasks == 0 || sh->max_tasks >= EMU_MAX_TASKS || sh->ncpus == 0 ||
	    sh->ncpus > GHOST_MAX_CPUS)
		return -EINVAL;
	if (state_size(sh->max_tasks, &c, &q, &t, &tr) != file_size || sh->size != file_size ||
	    c != sh->cpus_off || q != sh->queues_off || t != sh->tasks_off || tr != sh->trace_off)
		return -EINVAL;
	return 0;
}

/*
 * A copy of the header of a state file and the file's size. A copy, not a mapping: listing
 * hundreds of enclaves must not cost a map and unmap of each. -ENOENT no file, -ENODATA
 * shorter than the header, else -errno.
 */
static int read_state_header(const char *path, struct emu_shared *sh, size_t *size)
{
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if ((size_t)st.st_size < sizeof(*sh))
		err = -ENODATA;
	else if ((n = pread(fd, sh, sizeof(*sh), 0)) != (ssize_t)sizeof(*sh))
		err = n < 0 ? -errno : -ENODATA;
	else
		*size = (size_t)st.st_size;
	close(fd);
	return err;
}

static bool enclave_cpus_of(const char *root, uint64_t id, struct ghost_cpuset *cpus)
{
	char path[700];
	struct emu_shared sh;
	size_t size;

	snprintf(path, sizeof(path), "%s/enclave_%" PRIu64 "/state", root, id);
	if (read_state_header(path, &sh, &size) || validate_shared(&sh, size) ||
	    sh.state != EMU_E_ALIVE)
		return false;
	*cpus = sh.cpus;
	return true;
}

/* Does another live enclave of the list (not self) own any CPU of want? */
static bool cpus_owned_elsewhere(const char *root, const uint64_t *ids, int n, uint64_t self,
				 const struct ghost_cpuset *want)
{
	for (int i = 0; i < n; i++) {
		struct ghost_cpuset other, both;

		if (ids[i] == self || !enclave_cpus_of(root, ids[i], &other))
			continue;
		ghost_cpuset_and(&both, &other, want);
		if (!ghost_cpuset_empty(&both))
			return true;
	}
	return false;
}

/* The id an "enclave_<id>" directory name stands for; 0 for any other name. */
static uint64_t enclave_dir_id(const char *name)
{
	unsigned long long id;
	char *end;

	if (strncmp(name, "enclave_", 8) || !isdigit((unsigned char)name[8]))
		return 0;
	errno = 0;
	id = strtoull(name + 8, &end, 10);
	return errno || *end ? 0 : (uint64_t)id;
}

static int list_enclaves(const char *root_in, uint64_t *ids, int max)
{
	char root[400];
	struct ghost_cpuset cpus;
	struct dirent *de;
	int n = 0, err;
	DIR *d;

	err = resolve_root(root_in, root, sizeof(root));
	if (err)
		return err;
	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		uint64_t id;

		if (!(id = enclave_dir_id(de->d_name)))
			continue;
		if (!enclave_cpus_of(root, id, &cpus))
			continue;
		if (n < max && ids)
			ids[n] = id;
		n++;
	}
	closedir(d);
	/* Sorted output is easier on people and tests. */
	if (ids) {
		int lim = n < max ? n : max;

		for (int i = 1; i < lim; i++)
			for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
				uint64_t tmp = ids[j];

				ids[j] = ids[j - 1];
				ids[j - 1] = tmp;
			}
	}
	return n;
}

/* Every live enclave's id, however many: *ids is malloc'ed (NULL if none); returns how many. */
static int list_live(const char *root, uint64_t **ids)
{
	uint64_t *buf = NULL;
	int n = list_enclaves(root, NULL, 0);

	*ids = NULL;
	while (n > 0) {
		int room = n + 16, got;
		uint64_t *more = realloc(buf, (size_t)room * sizeof(*buf));

		if (!more) {
			free(buf);
			return -ENOMEM;
		}
		buf = more;
		got = list_enclaves(root, buf, room);
		if (got <= room) {
			if (got < 0)
				free(buf);
			else
				*ids = buf;
			return got;
		}
		n = got; /* more came meanwhile: again, with room for them */
	}
	free(buf);
	return n;
}

static int map_enclave(struct ghost_kenclave *ke);
static struct ghost_kenclave *ke_alloc(const char *root, uint64_t id);
static void ke_unmap(struct ghost_kenclave *ke);

/*
 * Reaps the enclaves of root whose agent died with nobody left to notice
 * (no process of theirs runs the watchdog any more): their CPUs would stay
 * taken for good. Listing, creating and moving CPUs run it first, so the
 * next ghostctl or ghost-agent call is the one that notices. Never under
 * the namespace lock (removing the files takes it).
 */
static void reap_orphans(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct ghost_kenclave *ke;
		struct emu_shared sh;
		char path[700];
		uint64_t id;
		size_t size;

		if (!(id = enclave_dir_id(de->d_name)))
			continue;
		/* The header first: most enclaves are plainly not orphans. */
		snprintf(path, sizeof(path), "%s/%s/state", root, de->d_name);
		if (read_state_header(path, &sh, &size) || validate_shared(&sh, size) ||
		    sh.state != EMU_E_ALIVE || !sh.agent_pid)
			continue;
		ke = ke_alloc(root, id);
		if (!ke)
			break;
		if (map_enclave(ke) == 0 && emu_reap_unwatched(ke))
			emu_remove_files(ke);
		ke_unmap(ke);
		pthread_mutex_destroy(&ke->local_lock);
		free(ke);
	}
	closedir(d);
}

int emu_enclave_list(const char *root_in, uint64_t *ids, int max)
{
	char root[400];

	if (resolve_root(root_in, root, sizeof(root)) == 0)
		reap_orphans(root);
	return list_enclaves(root_in, ids, max);
}

/*
 * What the directory of id holds, as create sees it (under the namespace lock, so no
 * create is half done): nothing; the leftover of a create that died (no state, a short
 * one, or one without its magic: the magic is stored last); a dead enclave whose files
 * its destroyer has not removed yet; or anything else, a live enclave or one this build
 * cannot read, which create never touches. Or a negative errno.
 */
enum id_use { ID_FREE, ID_LEFTOVER, ID_DEAD, ID_TAKEN };

static int id_use(const char *root, uint64_t id)
{
	char path[700];
	struct emu_shared sh;
	struct stat st;
	size_t size;
	int err;

	snprintf(path, sizeof(path), "%s/enclave_%" PRIu64, root, id);
	if (lstat(path, &st))
		return errno == ENOENT ? ID_FREE : -errno;
	if (!S_ISDIR(st.st_mode))
		return ID_TAKEN;
	snprintf(path, sizeof(path), "%s/enclave_%" PRIu64 "/state", root, id);
	err = read_state_header(path, &sh, &size);
	if (err == -ENOENT || err == -ENODATA || (!err && sh.magic == 0))
		return ID_LEFTOVER;
	if (err)
		return err;
	if (validate_shared(&sh, size))
		return ID_TAKEN;
	return sh.state == EMU_E_ALIVE ? ID_TAKEN : ID_DEAD;
}

/*
 * The smallest id with no directory at all: a create without an id never takes over
 * anything, not even a leftover (asking for that id by number does).
 */
static int first_free_id(const char *root, uint64_t *out)
{
	char path[700];
	struct stat st;

	for (uint64_t id = 1; id <= GHOST_ENCLAVE_ID_MAX; id++) {
		snprintf(path, sizeof(path), "%s/enclave_%" PRIu64, root, id);
		if (!lstat(path, &st))
			continue;
		if (errno != ENOENT)
			return -errno;
		*out = id;
		return 0;
	}
	return -ENOSPC;
}

static int map_enclave(struct ghost_kenclave *ke)
{
	char path[700];
	struct stat st;
	int fd, err;

	snprintf(path, sizeof(path), "%s/state", ke->dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (fstat(fd, &st) || (size_t)st.st_size < sizeof(struct emu_shared)) {
		close(fd);
		return -EINVAL;
	}
	ke->sh_size = (size_t)st.st_size;
	ke->sh = mmap(NULL, ke->sh_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ke->sh == MAP_FAILED) {
		ke->sh = NULL;
		close(fd);
		return -ENOMEM;
	}
	ke->state_fd = fd;
	err = validate_shared(ke->sh, ke->sh_size);
	if (err)
		return err;
	if (__atomic_load_n(&ke->sh->state, __ATOMIC_ACQUIRE) != EMU_E_ALIVE)
		return -EXDEV;
	ke->cpu_data_size = (size_t)ke->sh->ncpus * sizeof(struct ghost_cpu_data);
	snprintf(path, sizeof(path), "%s/cpu_data", ke->dir);
	ke->cpu_data = emu_map_file(path, ke->cpu_data_size, PROT_READ | PROT_WRITE, NULL);
	if (!ke->cpu_data)
		return errno == ENOENT ? -ENOENT : -EINVAL;
	return 0;
}

static struct ghost_kenclave *ke_alloc(const char *root, uint64_t id)
{
	struct ghost_kenclave *ke = calloc(1, sizeof(*ke));

	if (!ke)
		return NULL;
	snprintf(ke->root, sizeof(ke->root), "%s", root);
	snprintf(ke->dir, sizeof(ke->dir), "%s/enclave_%" PRIu64, root, id);
	ke->id = id;
	ke->state_fd = -1;
	ke->online_fd = -1;
	ke->refs = 1;
	pthread_mutex_init(&ke->local_lock, NULL);
	return ke;
}

static void ke_unmap(struct ghost_kenclave *ke)
{
	for (int i = 0; i < EMU_MAX_REGIONS; i++)
		if (ke->rw_regions[i])
			munmap(ke->rw_regions[i], GHOST_SW_REGION_SIZE);
	for (int i = 0; i < EMU_MAX_QUEUES; i++)
		if (ke->qmaps[i].map)
			munmap(ke->qmaps[i].map, ke->qmaps[i].size);
	if (ke->cpu_data)
		munmap(ke->cpu_data, ke->cpu_data_size);
	if (ke->sh)
		munmap(ke->sh, ke->sh_size);
	if (ke->state_fd >= 0)
		close(ke->state_fd);
	if (ke->online_fd >= 0)
		close(ke->online_fd);
}

int emu_enclave_attach(const char *root_in, uint64_t id, struct ghost_kenclave **out)
{
	char root[400];
	struct ghost_kenclave *ke;
	int err;

	if (id == 0 || id > GHOST_ENCLAVE_ID_MAX)
		return -EINVAL;
	err = resolve_root(root_in, root, sizeof(root));
	if (err)
		return err;
	ke = ke_alloc(root, id);
	if (!ke)
		return -ENOMEM;
	err = map_enclave(ke);
	if (err) {
		ke_unmap(ke);
		free(ke);
		return err;
	}
	*out = ke;
	return 0;
}

int emu_enclave_create(const struct ghost_kernel_create_args *args, struct ghost_kenclave **out)
{
	return emu_enclave_create_n(args, 0, out);
}

int emu_enclave_create_n(const struct ghost_kernel_create_args *args, int machine_cpus,
			 struct ghost_kenclave **out)
{
	char root[400], path[700];
	uint64_t cpus_off, queues_off, tasks_off, trace_off, id;
	struct ghost_kenclave *ke = NULL;
	struct emu_shared *sh = NULL;
	struct ghost_cpu_data *cd = NULL;
	uint32_t max_tasks;
	size_t size;
	int ncpus = machine_cpus > 0 ? machine_cpus : machine_ncpus();
	int lockfd, err, fd, use = ID_FREE;

	if (!args || args->sz < sizeof(*args) || !args->cpus || args->id > GHOST_ENCLAVE_ID_MAX)
		return -EINVAL;
	if (args->abi != GHOST_VERSION)
		return -ESRCH; /* ghostfs: ABI not supported */
	if (ghost_cpuset_empty(args->cpus))
		return -EINVAL;
	for (int c = ghost_cpuset_first(args->cpus); c >= 0; c = ghost_cpuset_next(args->cpus, c))
		if (c >= ncpus)
			return -EINVAL;
	max_tasks = args->max_tasks ? args->max_tasks : EMU_DEFAULT_MAX_TASKS;
	if (max_tasks >= EMU_MAX_TASKS)
		return -EINVAL;

	err = resolve_root(args->root, root, sizeof(root));
	if (err)
		return err;
	err = ensure_root(root);
	if (err)
		return err;
	reap_orphans(root);
	lockfd = emu_ns_lock(root);
	if (lockfd < 0)
		return lockfd;

	/*
	 * Pick the id, refusing CPUs that another live enclave owns. Whatever is in use stays
	 * untouched: an id asked for is -EEXIST unless its directory is free, a leftover or
	 * dead; without one, the first id with no directory.
	 */
	id = args->id;
	if (id) {
		use = id_use(root, id);
		if (use < 0 || use == ID_TAKEN) {
			err = use < 0 ? use : -EEXIST;
			goto out_unlock;
		}
	}
	{
		uint64_t *ids;
		int n = list_live(root, &ids);
		bool busy = n > 0 && cpus_owned_elsewhere(root, ids, n, 0, args->cpus);

		free(ids);
		if (n < 0 || busy) {
			err = n < 0 ? n : -EBUSY;
			goto out_unlock;
		}
	}
	if (!id) {
		err = first_free_id(root, &id);
		if (err)
			goto out_unlock;
	}
	ke = ke_alloc(root, id);
	if (!ke) {
		err = -ENOMEM;
		goto out_unlock;
	}
	if (strlen(ke->dir) + 32 >= sizeof(ke->dir)) {
		err = -ENAMETOOLONG;
		goto out_unlock;
	}
	if (use != ID_FREE)
		emu_remove_dir_files(ke->dir);
	if (mkdir(ke->dir, 0700)) {
		err = -errno;
		goto out_unlock;
	}

	size = state_size(max_tasks, &cpus_off, &queues_off, &tasks_off, &trace_off);
	snprintf(path, sizeof(path), "%s/state", ke->dir);
	err = emu_create_file(path, size, (void **)&sh);
	if (err)
		goto out_rmdir;
	sh->layout = EMU_LAYOUT;
	sh->abi = args->abi;
	sh->id = id;
	sh->size = size;
	sh->ncpus = (uint32_t)ncpus;
	sh->max_tasks = max_tasks;
	sh->cpus_off = cpus_off;
	sh->queues_off = queues_off;
	sh->tasks_off = tasks_off;
	sh->trace_off = trace_off;
	err = emu_mutex_init(&sh->lock);
	if (err)
		goto out_rmdir;
	sh->state = EMU_E_ALIVE;
	sh->cpus = *args->cpus;
	sh->switchto_disabled = 1; /* no switchto fast path in this backend */
	sh->agent_timeout_ms = 500;
	sh->tick_us = 1000;
	sh->park_spin_ns = 0;
	sh->net_period_us = 1000; /* the safety net: asleep 1-2 ms in the host kernel = blocked */
	sh->default_queue = -1;
	__atomic_store_n(&sh->ephemeral_pid, (args->flags & GHOST_KCREATE_EPHEMERAL) ? getpid() : 0,
			 __ATOMIC_RELAXED);
	for (int c = 0; c < GHOST_MAX_CPUS; c++) {
		struct emu_cpu *ec = emu_cpu(sh, c);

		__atomic_store_n(&ec->in_enclave, ghost_cpuset_test(args->cpus, c),
				 __ATOMIC_RELAXED);
		emu_set_current(ec, -1);
		ec->latched = -1;
		ec->agent_queue = -1;
		ec->avail = 1;
	}

	snprintf(path, sizeof(path), "%s/cpu_data", ke->dir);
	err = emu_create_file(path, (size_t)ncpus * sizeof(struct ghost_cpu_data), (void **)&cd);
	if (err)
		goto out_rmdir;
	for (int c = 0; c < ncpus; c++) {
		if (!ghost_cpuset_test(args->cpus, c))
			continue;
		cd[c].txn.cpu = c;
		cd[c].txn.version = GHOST_TXN_VERSION;
		cd[c].txn.u.sync_group_owner = -1;
		cd[c].txn.state = GHOST_TXN_COMPLETE;
	}
	munmap(cd, (size_t)ncpus * sizeof(struct ghost_cpu_data));

	snprintf(path, sizeof(path), "%s/agent_online", ke->dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out_rmdir;
	}
	close(fd);

	/* Release: everything above is visible to whoever sees the magic. */
	__atomic_store_n(&sh->magic, EMU_MAGIC, __ATOMIC_RELEASE);
	munmap(sh, size);
	sh = NULL;

	err = map_enclave(ke);
	if (err)
		goto out_rmdir;
	ke->creator = true;
	ke->ephemeral = args->flags & GHOST_KCREATE_EPHEMERAL;
	emu_ns_unlock(lockfd);
	*out = ke;
	return 0;

out_rmdir:
	if (sh)
		munmap(sh, size);
	emu_remove_dir_files(ke->dir);
out_unlock:
	emu_ns_unlock(lockfd);
	if (ke) {
		ke_unmap(ke);
		free(ke);
	}
	return err;
}

void emu_enclave_close(struct ghost_kenclave *ke)
{
	if (!ke)
		return;
	emu_kthread_unregister(ke);
	if (ke->ephemeral && ke->sh && emu_lock(ke) == 0) {
		emu_enclave_kill(ke, EMU_DEAD_OWNER_EXITED);
		emu_unlock(ke);
		emu_remove_files(ke);
	}
	ke_unmap(ke);
	pthread_mutex_destroy(&ke->local_lock);
	free(ke);
}

/* ---- text files ---- */

enum file_kind { F_BOOL, F_MS, F_NUM, F_SPECIAL };

struct emu_file {
	const char *name;
	enum file_kind kind;
	size_t off; /* of the tunable in struct emu_shared */
	bool writable;
	long long min, max; /* a value outside is -EINVAL (docs/design.md lists them) */
};

/*
 * Bounds keep every use of a value in range: the kernel threads scale the ms tunables to
 * ns, tick_us to ns and add park_spin_ns to a clock in ns, all in int64_t. A boolean takes
 * any int, non-zero is on.
 */
#define MS_MAX 86400000LL /* one day */
#define TUNE(n, k, f, lo, hi)                                      \
	{                                                          \
		n, k, offsetof(struct emu_shared, f), true, lo, hi \
	}
#define TUNE_BOOL(n, f) TUNE(n, F_BOOL, f, INT32_MIN, INT32_MAX)
static const struct emu_file emu_files[] = {
	{ "abi_version", F_SPECIAL, 0, false },
	{ "agent_online", F_SPECIAL, 0, false },
	TUNE_BOOL("commit_at_tick", commit_at_tick),
	{ "cpulist", F_SPECIAL, 0, true },
	{ "cpumask", F_SPECIAL, 0, true },
	{ "ctl", F_SPECIAL, 0, true },
	TUNE_BOOL("deliver_agent_runnability", deliver_agent_runnability),
	TUNE_BOOL("deliver_cpu_availability", deliver_cpu_availability),
	TUNE_BOOL("deliver_ticks", deliver_ticks),
	TUNE_BOOL("live_dangerously", live_dangerously),
	TUNE("runnable_timeout", F_MS, runnable_timeout_ms, 0, MS_MAX), /* 0 = off */
	{ "status", F_SPECIAL, 0, false },
	TUNE_BOOL("strict_classes", strict_classes),
	TUNE_BOOL("switchto_disabled", switchto_disabled),
	{ "tasks", F_SPECIAL, 0, true },
	TUNE_BOOL("wake_on_waker_cpu", wake_on_waker_cpu),
	/* this backend's own */
	TUNE("agent_timeout_ms", F_MS, agent_timeout_ms, 0, MS_MAX), /* 0 = at once */
	TUNE("tick_us", F_NUM, tick_us, 100, 1000000),
	TUNE("park_spin_ns", F_NUM, park_spin_ns, 0, 1000000000), /* 0 = no polling */
	/* 0 = off; 1..99 refused (emu_file_write): the kernel thread would hardly sleep */
	TUNE("net_period_us", F_NUM, net_period_us, 0, 1000000),
	TUNE_BOOL("trace", trace_on),
	{ "stats", F_SPECIAL, 0, false },
	{ "exit_info", F_SPECIAL, 0, false },
};

static const struct emu_file *find_file(const char *name)
{
	for (size_t i = 0; i < GHOST_ARRAY_SIZE(emu_files); i++)
		if (!strcmp(emu_files[i].name, name))
			return &emu_files[i];
	return NULL;
}

static int put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *pos)
		return -ENOSPC;
	*pos += (size_t)n;
	return 0;
}

static const char *task_state_name(uint32_t s)
{
	static const char *names[] = { "free", "blocked",  "runnable", "oncpu",
				       "dead", "departed", "new" };

	return s < GHOST_ARRAY_SIZE(names) ? names[s] : "?";
}

int emu_file_read(struct ghost_kenclave *ke, const char *name, char *buf, size_t len)
{
	const struct emu_file *f = find_file(name);
	struct emu_shared *sh = ke->sh;
	size_t pos = 0;
	int err = 0;

	if (!f)
		return -ENOENT;
	if (!buf || len == 0)
		return -EINVAL;
	buf[0] = 0;
	if (f->kind == F_BOOL || f->kind == F_MS || f->kind == F_NUM) {
		char *p = (char *)sh + f->off;
		long long v = f->kind == F_BOOL ? *(int32_t *)p : *(int64_t *)p;

		err = put(buf, len, &pos, "%lld\n", v);
	} else if (!strcmp(name, "abi_version")) {
		err = put(buf, len, &pos, "%u\n", sh->abi);
	} else if (!strcmp(name, "agent_online")) {
		err = put(buf, len, &pos, "%d", emu_agent_process_alive(ke) ? 1 : 0);
	} else if (!strcmp(name, "ctl")) {
		err = put(buf, len, &pos, "%" PRIu64, sh->id);
	} else if (!strcmp(name, "cpulist")) {
		char list[2048];
		int n = ghost_cpuset_format_list(&sh->cpus, list, sizeof(list));

		err = n < 0 ? n : put(buf, len, &pos, "%s\n", list);
	} else if (!strcmp(name, "cpumask")) {
		char mask[1024];
		int n = ghost_cpuset_format_mask(&sh->cpus, (int)sh->ncpus, mask, sizeof(mask));

		err = n < 0 ? n : put(buf, len, &pos, "%s\n", mask);
	} else if (!strcmp(name, "exit_info")) {
		/* "running", or why the enclave ended (agents watch this). */
		const char *why = emu_exit_reason(ke);

		err = put(buf, len, &pos, "%s\n", why ? why : "running");
	} else if (!strcmp(name, "status")) {
		err = put(buf, len, &pos, "version %u\nactive %s\nnr_tasks %u\n", sh->abi,
			  emu_agent_process_alive(ke) ? "yes" : "no", sh->nr_tasks);
		if (!err && sh->ephemeral_pid)
			err = put(buf, len, &pos, "ephemeral %d\n", sh->ephemeral_pid);
	} else if (!strcmp(name, "tasks")) {
		/* One line per member thread, like ghostfs (tids). */
		for (uint32_t i = 0; i < sh->max_tasks && !err; i++) {
			struct emu_task *t = emu_task(sh, (int)i);
			uint32_t s = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);

			if (s == EMU_T_FREE || s == EMU_T_DEAD || s == EMU_T_DEPARTED)
				continue;
			err = put(buf, len, &pos, "%d\n", t->tid);
		}
	} else if (!strcmp(name, "stats")) {
		struct emu_stats *st = &sh->stats;
		int64_t now = emu_now();
		uint64_t msgs = 0;

		for (int i = 0; i < 256; i++)
			msgs += st->msgs[i];
		err = put(buf, len, &pos,
			  "commits %" PRIu64 "\nswitches %" PRIu64 "\npreempt_signals %" PRIu64
			  "\nmsgs %" PRIu64 "\nmsgs_dropped %" PRIu64 "\nreaped_tasks %" PRIu64
			  "\nnet_blocks %" PRIu64 "\nnet_wakes %" PRIu64
			  "\nrepairs %u\nagent_pid %d\n",
			  st->commits, st->switches, st->preempt_signals, msgs, st->msgs_dropped,
			  st->reaped_tasks, st->net_blocks, st->net_wakes, sh->repairs,
			  emu_agent_process_alive(ke)
				  ? __atomic_load_n(&sh->agent_pid, __ATOMIC_RELAXED)
				  : 0);
		for (int i = 1; i < 16 && !err; i++)
			if (st->commit_fail[i])
				/* "GHOST_TXN_TARGET_STALE" -> "fail_TARGET_STALE" */
				err = put(buf, len, &pos, "fail_%s %" PRIu64 "\n",
					  ghost_txn_state_name(GHOST_TXN_COMPLETE + i) + 10,
					  st->commit_fail[i]);
		for (int c = 0; c < (int)sh->ncpus && !err; c++) {
			static const char *agent[] = { "none", "running", "yielded" };
			struct emu_cpu *ec = emu_cpu(sh, c);
			/* Read without the lock: the task may leave meanwhile (off by a switch). */
			struct emu_task *cur =
				emu_task_at(sh, __atomic_load_n(&ec->current, __ATOMIC_ACQUIRE));
			int64_t since = cur ? __atomic_load_n(&cur->oncpu_since, __ATOMIC_RELAXED)
					    : 0;
			uint64_t busy = __atomic_load_n(&ec->busy_ns, __ATOMIC_RELAXED);

			if (!ec->in_enclave)
				continue;
			if (cur && since > 0 && since <= now)
				busy += (uint64_t)(now - since);
			err = put(buf, len, &pos,
				  "cpu %d agent %s current %d latched %d available %d txn %s "
				  "current_tid %d busy_ns %" PRIu64 "\n",
				  c,
				  (uint32_t)ec->agent_state < GHOST_ARRAY_SIZE(agent)
					  ? agent[ec->agent_state]
					  : "corrupt",
				  ec->current, ec->latched, ec->avail,
				  ghost_txn_state_name(ke->cpu_data[c].txn.state),
				  cur ? cur->tid : 0, busy);
		}
		for (uint32_t i = 0; i < sh->max_tasks && !err; i++) {
			struct emu_task *t = emu_task(sh, (int)i);
			uint32_t s = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);

			if (s == EMU_T_FREE)
				continue;
			err = put(buf, len, &pos,
				  "task %d gtid %" PRId64
				  " %s cpu %d latched %d flags %#x runtime_ns %" PRIu64 "\n",
				  t->tid, t->gtid, task_state_name(s), t->cpu, t->latched_cpu,
				  t->flags, t->runtime);
		}
	}
	return err ? err : (int)pos;
}

static int parse_ll(const char *text, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(text, &end, 0);
	if (errno || end == text)
		return -EINVAL;
	while (*end == '\n' || *end == ' ')
		end++;
	return *end ? -EINVAL : 0;
}

int emu_enclave_set_cpus(struct ghost_kenclave *ke, const struct ghost_cpuset *want)
{
	struct emu_shared *sh = ke->sh;
	uint64_t *ids;
	bool busy;
	int n, err = 0;

	for (int c = ghost_cpuset_first(want); c >= 0; c = ghost_cpuset_next(want, c))
		if (c >= (int)sh->ncpus)
			return -EINVAL;
	reap_orphans(ke->root);
	n = list_live(ke->root, &ids);
	if (n < 0)
		return n;
	busy = cpus_owned_elsewhere(ke->root, ids, n, sh->id, want);
	free(ids);
	if (busy)
		return -EBUSY;
	if ((err = emu_lock(ke)))
		return err;
	for (int c = 0; c < (int)sh->ncpus && !err; c++) {
		struct emu_cpu *ec = emu_cpu(sh, c);

		if (!ghost_cpuset_test(want, c) && ec->in_enclave &&
		    (ec->agent_state != EMU_A_NONE || ec->current >= 0))
			err = -EEXIST; /* ghostfs: removing a CPU that has an agent */
	}
	if (!err) {
		for (int c = 0; c < (int)sh->ncpus; c++) {
			struct emu_cpu *ec = emu_cpu(sh, c);
			bool in = ghost_cpuset_test(want, c);

			if (in && !ec->in_enclave) {
				struct ghost_txn *txn = &ke->cpu_data[c].txn;

				memset(txn, 0, sizeof(*txn));
				txn->cpu = c;
				txn->u.sync_group_owner = -1;
				txn->state = GHOST_TXN_COMPLETE;
				emu_set_current(ec, -1);
				ec->latched = -1;
				ec->agent_queue = -1;
				ec->avail = 1;
			}
			__atomic_store_n(&ec->in_enclave, in, __ATOMIC_RELAXED);
		}
		sh->cpus = *want;
	}
	emu_unlock(ke);
	return err;
}

int emu_file_write(struct ghost_kenclave *ke, const char *name, const char *text)
{
	const struct emu_file *f = find_file(name);
	struct emu_shared *sh = ke->sh;
	long long v;
	int err;

	if (!f)
		return -ENOENT;
	if (!f->writable)
		return -EACCES;
	if (!text)
		return -EINVAL;
	if (f->kind == F_BOOL || f->kind == F_MS || f->kind == F_NUM) {
		char *p = (char *)sh + f->off;

		err = parse_ll(text, &v);
		if (err)
			return err;
		if (v < f->min || v > f->max)
			return -EINVAL;
		if (f->off == offsetof(struct emu_shared, net_period_us) && v > 0 && v < 100)
			return -EINVAL;
		if ((err = emu_lock(ke)))
			return err;
		if (f->kind == F_BOOL)
			__atomic_store_n((int32_t *)p, v != 0, __ATOMIC_RELEASE);
		else
			__atomic_store_n((int64_t *)p, (int64_t)v, __ATOMIC_RELEASE);
		emu_unlock(ke);
		return 0;
	}
	if (!strcmp(name, "ctl"))
		return -EOPNOTSUPP; /* the library parses ctl commands into the typed ops */
	if (!strcmp(name, "cpulist") || !strcmp(name, "cpumask")) {
		struct ghost_cpuset want;

		err = !strcmp(name, "cpulist")
			      ? ghost_cpuset_parse_list(&want, text, (int)sh->ncpus,
							GHOST_CPUSET_ALLOW_EMPTY)
			      : ghost_cpuset_parse_mask(&want, text, (int)sh->ncpus);
		if (err)
			return err == -ERANGE ? -EINVAL : err;
		return emu_enclave_set_cpus(ke, &want);
	}
	if (!strcmp(name, "tasks")) {
		err = parse_ll(text, &v);
		if (err)
			return err;
		if (v < 0 || v > INT_MAX)
			return -EINVAL; /* not a thread id */
		/*
		 * Only a thread running this library can be scheduled from user
		 * space: "0" (the writer itself) goes through task_enter.
		 */
		return v == 0 ? -EINVAL : -EOPNOTSUPP;
	}
	return -EACCES;
}

int emu_enclave_destroy(struct ghost_kenclave *ke)
{
	int err = emu_lock(ke);

	/* A corrupt lock: nobody can use it, so its files go all the same. */
	if (!err) {
		emu_enclave_kill(ke, EMU_DEAD_DESTROYED);
		emu_unlock(ke);
	}
	return emu_remove_files(ke);
}

int emu_sw_region_make(struct ghost_kenclave *ke, uint32_t id, uint32_t node)
{
	int err;

	if (id > GHOST_SW_REGION_ID_MAX || node > GHOST_NUMA_NODE_MAX)
		return -EINVAL;
	if ((err = emu_lock(ke)))
		return err;
	err = emu_sw_region_create(ke, id, node);
	emu_unlock(ke);
	return err;
}
