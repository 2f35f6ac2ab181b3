/*
 * kernels/ghostfs/ghostfs.c - the backend that drives Google's ghOSt kernel through ghostfs
 * (/sys/fs/ghost) and the enclave ctl-file ioctls.
 *
 * Owns the translation of every op of struct ghost_kernel_ops into what the real kernel
 * understands: text commands written to the top-level and enclave ctl files, enclave files
 * read and written by name, the cpu_data / status-word / queue mappings, and the GHOST_IOC_*
 * ioctls on the enclave ctl fd. The kernel does the scheduling, the argument checks and the
 * error codes; this file passes its errno values through unchanged wherever the contract
 * already speaks the kernel's language, and only adds what the library itself did on top
 * (retries on EBUSY, the id search on create, the checks after "become agent").
 *
 * It must never print, never exit and never block except where the kernel itself blocks (a
 * local commit or yield) or where the library retried with a sleep. It must never open an
 * enclave file from a thread that is already an agent (the kernel answers EDEADLK unless
 * live_dangerously is set): everything an agent needs later is opened at create/attach time.
 * Every error is a negative errno.
 */
#include "internal.h"

#include "backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GHOSTFS_DEFAULT_ROOT "/sys/fs/ghost"

/* With id 0, "create <id>" is tried for ids 1, 2, ... up to this many while EEXIST. */
#define GHOSTFS_MAX_AUTO_ID 4096

/* The library retries cpumask writes on EBUSY: enclave teardown releases CPUs later. */
#define GHOSTFS_CPUMASK_TRIES	10
#define GHOSTFS_CPUMASK_WAIT_NS 50000000L

/* "become agent" is retried on EBUSY while the cpu's previous agent finishes exiting. */
#define GHOSTFS_BECOME_TRIES   100
#define GHOSTFS_BECOME_WAIT_NS 1000000L

struct ghost_kenclave {
	char root[PATH_MAX];
	uint64_t id;
	int dir_fd;			 /* enclave_<id>/, O_PATH: base of every openat() */
	int ctl_fd;			 /* enclave_<id>/ctl, O_RDWR: commands and every ioctl */
	struct ghost_cpu_data *cpu_data; /* whole cpu_data file, MAP_SHARED RW */
	size_t cpu_data_size;
	int online_fd;	/* agent_online held O_RDWR, or -1 */
	uint32_t abi;	/* the enclave's ABI (abi_version): one of spoken_abis */
	bool creator;	/* this handle created the enclave */
	bool ephemeral; /* ... with GHOST_KCREATE_EPHEMERAL */
};

/*
 * The ABIs this backend speaks, newest first (the one chosen when the kernel
 * offers several). They differ only in three payloads, each grown at its end
 * in a later ABI: TASK_NEW's agent_data (88+), TASK_DEAD's cpu (89+),
 * CPU_TICK's is_agent (90+); the txn, the status word, the rings, the queue
 * header and every ioctl are the same. The library reads every payload with
 * ghost_msg_copy_payload(), which zero-fills what a shorter message lacks,
 * and needs nothing of TASK_NEW past its sw_info (bytes 32-39, in all three),
 * so messages need no conversion: one parser serves every ABI listed here.
 */
static const uint32_t spoken_abis[] = { 91, 90, 84 };

static bool abi_spoken(unsigned long abi)
{
	for (size_t i = 0; i < sizeof(spoken_abis) / sizeof(spoken_abis[0]); i++)
		if (abi == spoken_abis[i])
			return true;
	return false;
}

/*
 * The version file's ABIs (one per line; old kernels: one number, no
 * newline): the newest one spoken here, or 0; the whole list into list.
 */
static uint32_t best_abi(const char *text, char *list, size_t len)
{
	uint32_t best = 0;
	size_t lpos = 0;
	const char *p = text;
	char *end;

	if (len)
		list[0] = 0;
	for (;;) {
		unsigned long v;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (end == p || errno)
			break;
		p = end;
		if (abi_spoken(v) && v > best)
			best = (uint32_t)v;
		if (lpos < len) {
			int w = snprintf(list + lpos, len - lpos, "%s%lu", lpos ? ", " : "", v);

			if (w > 0)
				lpos += (size_t)w;
		}
	}
	return best;
}

/* ---- small helpers ---- */

static void sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static const char *root_or_default(const char *root)
{
	return root && *root ? root : GHOSTFS_DEFAULT_ROOT;
}

static void set_why(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* One write() of the whole text; a short write means the kernel did not take the command. */
static int write_all_once(int fd, const char *text, size_t n)
{
	ssize_t w;

	do {
		w = write(fd, text, n);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	return (size_t)w == n ? 0 : -EIO;
}

/* Opens path (relative to dirfd) write-only and writes text once. */
static int write_file_at(int dirfd, const char *path, const char *text)
{
	int fd, err;

	fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = write_all_once(fd, text, strlen(text));
	close(fd);
	return err;
}

/*
 * Reads the whole of path (relative to dirfd) into buf, NUL-terminated: the length, or
 * -ENOSPC if it does not fit (buf then holds what did fit). Loops because ghostfs files are
 * seq files that may hand out their text in pieces.
 */
static int read_file_at(int dirfd, const char *path, char *buf, size_t len)
{
	size_t pos = 0;
	ssize_t r;
	int fd, err = 0;

	if (!buf || len == 0)
		return -EINVAL;
	buf[0] = 0;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (pos == len - 1) {
			char extra;

			/* Full: one more byte tells "exactly fits" from "too long". */
			do {
				r = read(fd, &extra, 1);
			} while (r < 0 && errno == EINTR);
			if (r > 0)
				err = -ENOSPC;
			else if (r < 0)
				err = -errno;
			break;
		}
		do {
			r = read(fd, buf + pos, len - 1 - pos);
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		pos += (size_t)r;
	}
	close(fd);
	buf[pos] = 0;
	if (err)
		return err;
	return pos > INT_MAX ? -ENOSPC : (int)pos;
}

/* Enclave file names are single ghostfs entries: no path walking out of the enclave. */
static bool name_ok(const char *name)
{
	return name && *name && !strchr(name, '/') && !strstr(name, "..") && strcmp(name, ".");
}

static int enclave_dir(const char *root, uint64_t id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/enclave_%" PRIu64, root, id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- probe ---- */

static int ghostfs_probe(const char *root_in, char *why, size_t why_len)
{
	const char *root = root_or_default(root_in);
	char text[4096], list[256];
	struct stat st;
	bool found, has_ctl;
	int dirfd, n;

	set_why(why, why_len, "%s", "");
	dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			set_why(why, why_len,
				"no %s: this kernel has no ghOSt support (it needs Google's ghOSt "
				"kernel)",
				root);
			return -ENODEV;
		}
		n = -errno;
		set_why(why, why_len, "cannot open %s: %s", root, strerror(-n));
		return n;
	}
	n = read_file_at(dirfd, "version", text, sizeof(text));
	/* ghostfs has its top-level ctl beside version; an embedded kernel's root has no ctl. */
	has_ctl = faccessat(dirfd, "ctl", F_OK, 0) == 0;
	close(dirfd);
	if (n == -ENOENT) {
		/*
		 * The ghOSt kernel creates /sys/fs/ghost as a mount point, so the directory
		 * without its files means the kernel has ghOSt but ghostfs is not mounted.
		 */
		if (stat(root, &st) == 0 && S_ISDIR(st.st_mode))
			set_why(why, why_len,
				"%s exists but ghostfs is not mounted there (the kernel has ghOSt "
				"support): mount it with `mount -t ghost ghost %s`",
				root, root);
		else
			set_why(why, why_len,
				"no %s: this kernel has no ghOSt support (it needs Google's ghOSt "
				"kernel)",
				root);
		return -ENODEV;
	}
	if (n < 0 && n != -ENOSPC) {
		set_why(why, why_len, "cannot read %s/version: %s", root, strerror(-n));
		return n;
	}
	found = best_abi(text, list, sizeof(list)) != 0;
	if (found && !has_ctl) {
		set_why(why, why_len,
			"%s has a version file but no ctl: it is not ghostfs (an embedded kernel's "
			"namespace root?)",
			root);
		return -ENODEV;
	}
	if (found)
		return 0;
	set_why(why, why_len,
		"the ghOSt kernel at %s supports ABI %s, but libghost speaks ABI 91, 90 and 84",
		root, list[0] ? list : "(none listed)");
	return -EPROTONOSUPPORT;
}

/* ---- enclaves ---- */

static struct ghost_kenclave *ke_alloc(const char *root, uint64_t id)
{
	struct ghost_kenclave *ke;

	if (strlen(root) >= sizeof(ke->root)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	ke = calloc(1, sizeof(*ke));
	if (!ke) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(ke->root, sizeof(ke->root), "%s", root);
	ke->id = id;
	ke->dir_fd = -1;
	ke->ctl_fd = -1;
	ke->online_fd = -1;
	return ke;
}

static void ke_free(struct ghost_kenclave *ke)
{
	if (ke->online_fd >= 0)
		close(ke->online_fd);
	if (ke->cpu_data)
		munmap(ke->cpu_data, ke->cpu_data_size);
	if (ke->ctl_fd >= 0)
		close(ke->ctl_fd);
	if (ke->dir_fd >= 0)
		close(ke->dir_fd);
	free(ke);
}

static int map_cpu_data(struct ghost_kenclave *ke)
{
	struct stat st;
	size_t size;
	void *map;
	int fd, err = 0;

	fd = openat(ke->dir_fd, "cpu_data", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	size = (size_t)st.st_size;
	if (size == 0) {
		/* Not every kernfs build reports the size: one page per possible cpu. */
		long n = sysconf(_SC_NPROCESSORS_CONF);

		size = (size_t)(n > 0 ? n : 1) * GHOST_CPU_DATA_SIZE;
	}
	if (size % GHOST_CPU_DATA_SIZE) {
		err = -EINVAL;
		goto out;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	ke->cpu_data = map;
	ke->cpu_data_size = size;
out:
	close(fd);
	return err;
}

static int ke_ncpus(const struct ghost_kenclave *ke)
{
	return (int)(ke->cpu_data_size / GHOST_CPU_DATA_SIZE);
}

/* Opens the directory and ctl, checks the ABI and maps cpu_data: shared by create and attach. */
static int ke_open(struct ghost_kenclave *ke)
{
	char path[PATH_MAX + 32], text[64], *end;
	unsigned long abi;
	int err, n;

	err = enclave_dir(ke->root, ke->id, path, sizeof(path));
	if (err)
		return err;
	ke->dir_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ke->dir_fd < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	/* Read-write: a read-only ctl fd makes every ioctl fail with EACCES. */
	ke->ctl_fd = openat(ke->dir_fd, "ctl", O_RDWR | O_CLOEXEC);
	if (ke->ctl_fd < 0)
		return -errno;
	n = read_file_at(ke->dir_fd, "abi_version", text, sizeof(text));
	if (n < 0)
		return n == -ENOSPC ? -EPROTONOSUPPORT : n;
	errno = 0;
	abi = strtoul(text, &end, 10);
	if (end == text || errno || !abi_spoken(abi))
		return -EPROTONOSUPPORT;
	ke->abi = (uint32_t)abi;
	return map_cpu_data(ke);
}

static int ghostfs_enclave_attach(const char *root_in, uint64_t id, struct ghost_kenclave **out)
{
	struct ghost_kenclave *ke;
	int err;

	if (!out || id == 0)
		return -EINVAL;
	ke = ke_alloc(root_or_default(root_in), id);
	if (!ke)
		return -errno;
	err = ke_open(ke);
	if (err) {
		ke_free(ke);
		return err;
	}
	*out = ke;
	return 0;
}

/* Writes "create <id> <abi>[ ephemeral]" to the top-level ctl: 0 or the kernel's -errno. */
static int create_one(int rootfd, uint64_t id, uint32_t abi, bool ephemeral)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "create %" PRIu64 " %u%s", id, abi,
		 ephemeral ? " ephemeral" : "");
	return write_file_at(rootfd, "ctl", cmd);
}

static int write_cpumask(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus)
{
	char mask[GHOST_CPUSET_MASK_MAX + 2];
	int ncpus = ke_ncpus(ke), n, err = 0;

	if (ncpus <= 0) {
		long c = sysconf(_SC_NPROCESSORS_CONF);

		ncpus = c > 0 ? (int)c : 1;
	}
	/* Leading zero groups are optional to the kernel, so a narrower mask is fine. */
	if (ncpus > GHOST_MAX_CPUS)
		ncpus = GHOST_MAX_CPUS;
	n = ghost_cpuset_format_mask(cpus, ncpus, mask, sizeof(mask));
	if (n < 0)
		return n == -ERANGE ? -EINVAL : n;
	for (int i = 0; i < GHOSTFS_CPUMASK_TRIES; i++) {
		err = write_file_at(ke->dir_fd, "cpumask", mask);
		if (err != -EBUSY || i + 1 == GHOSTFS_CPUMASK_TRIES)
			break;
		ghost_dbg("ghostfs: enclave %" PRIu64 ": cpumask busy, retrying", ke->id);
		sleep_ns(GHOSTFS_CPUMASK_WAIT_NS);
	}
	/* EOVERFLOW is the kernel's "bit beyond nr_cpu_ids": a bad cpu set, as elsewhere. */
	return err == -EOVERFLOW ? -EINVAL : err;
}

static int ghostfs_enclave_create(const struct ghost_kernel_create_args *args,
				  struct ghost_kenclave **out)
{
	const char *root;
	struct ghost_kenclave *ke;
	bool ephemeral;
	uint64_t id;
	uint32_t abi, kernel_abi;
	int rootfd, err;

	if (!args || args->sz < sizeof(*args) || !args->cpus || !out)
		return -EINVAL;
	/* An ABI this file does not speak; the kernel itself would say ESRCH too. */
	if (!abi_spoken(args->abi))
		return -ESRCH;
	if (ghost_cpuset_empty(args->cpus))
		return -EINVAL;
	root = root_or_default(args->root);
	ephemeral = args->flags & GHOST_KCREATE_EPHEMERAL;
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENODEV : -errno;
	/* No ctl at the root: this is not ghostfs (checked apart from the kernel's ENOENT). */
	if (faccessat(rootfd, "ctl", F_OK, 0)) {
		err = errno == ENOENT ? -ENODEV : -errno;
		close(rootfd);
		return err;
	}

	/*
	 * The library asks for its own ABI (GHOST_VERSION); a kernel that lists
	 * only older ones it also speaks gets the newest of those.
	 */
	abi = args->abi;
	if (abi == GHOST_VERSION) {
		char text[4096], list[8];

		int n = read_file_at(rootfd, "version", text, sizeof(text));

		if ((n >= 0 || n == -ENOSPC) && (kernel_abi = best_abi(text, list, sizeof(list))))
			abi = kernel_abi;
	}
	id = args->id;
	if (id) {
		err = create_one(rootfd, id, abi, ephemeral);
	} else {
		/* The library's id search: the kernel's EEXIST says the id is taken. */
		err = -EEXIST;
		for (id = 1; id <= GHOSTFS_MAX_AUTO_ID && err == -EEXIST; id++) {
			err = create_one(rootfd, id, abi, ephemeral);
			if (!err)
				break;
		}
	}
	close(rootfd);
	/* The kernel's ENOENT on create is an unknown option: "ephemeral" on an old kernel. */
	if (err == -ENOENT)
		return -EOPNOTSUPP;
	if (err)
		return err;

	ke = ke_alloc(root, id);
	if (!ke)
		err = -errno;
	else
		err = ke_open(ke);
	if (!err)
		err = write_cpumask(ke, args->cpus);
	if (err) {
		/* Do not leak the enclave the kernel made for us. */
		if (ke && ke->ctl_fd >= 0)
			write_all_once(ke->ctl_fd, "destroy", 7);
		if (ke)
			ke_free(ke);
		return err;
	}
	ke->creator = true;
	ke->ephemeral = ephemeral;
	*out = ke;
	return 0;
}

static void ghostfs_enclave_close(struct ghost_kenclave *ke)
{
	if (!ke)
		return;
	/*
	 * The contract destroys an ephemeral enclave when its creator's handle is closed (the
	 * kernel would otherwise wait for the process to exit). The kernel SIGKILLs agents on
	 * destroy, so callers detach their agent threads before closing.
	 */
	if (ke->creator && ke->ephemeral && ke->ctl_fd >= 0)
		write_all_once(ke->ctl_fd, "destroy", 7);
	ke_free(ke);
}

/* Parses "enclave_<decimal id>" strictly; 0 if the name is anything else. */
static uint64_t parse_enclave_name(const char *name)
{
	unsigned long long id;
	char *end;

	if (strncmp(name, "enclave_", 8) || name[8] < '0' || name[8] > '9')
		return 0;
	errno = 0;
	id = strtoull(name + 8, &end, 10);
	if (errno || *end)
		return 0;
	return id;
}

static int ghostfs_enclave_list(const char *root_in, uint64_t *ids, int max)
{
	struct dirent *de;
	int n = 0, kept = 0;
	DIR *d;

	if (max < 0)
		return -EINVAL;
	if (!ids)
		max = 0;
	d = opendir(root_or_default(root_in));
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		uint64_t id = parse_enclave_name(de->d_name);
		int j;

		if (!id)
			continue;
		n++;
		/* Keep the max smallest ids, sorted: insertion, dropping the largest. */
		if (kept < max)
			kept++;
		else if (max == 0 || ids[max - 1] <= id)
			continue;
		for (j = kept - 1; j > 0 && ids[j - 1] > id; j--)
			ids[j] = ids[j - 1];
		ids[j] = id;
	}
	closedir(d);
	return n;
}

static uint64_t ghostfs_enclave_id(struct ghost_kenclave *ke)
{
	return ke->id;
}

/* ---- enclave commands and files ---- */

static int ghostfs_ctl(struct ghost_kenclave *ke, const char *cmd)
{
	size_t n;

	if (!cmd || !(n = strlen(cmd)))
		return -EINVAL;
	/* One command per write(): the kernel parses each write on its own. */
	return write_all_once(ke->ctl_fd, cmd, n);
}

/* The typed ops the library uses, over the kernel's own text interface. */
static int ghostfs_enclave_destroy(struct ghost_kenclave *ke)
{
	return ghostfs_ctl(ke, "destroy");
}

static int ghostfs_sw_region_create(struct ghost_kenclave *ke, uint32_t id, uint32_t node)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "create sw_region %u %u", id, node);
	return ghostfs_ctl(ke, cmd);
}

static int ghostfs_discover_tasks(struct ghost_kenclave *ke)
{
	return ghostfs_ctl(ke, "discover tasks");
}

static int ghostfs_enclave_cpus(struct ghost_kenclave *ke, struct ghost_cpuset *out)
{
	char list[GHOST_CPUSET_LIST_MAX];
	int n = read_file_at(ke->dir_fd, "cpulist", list, sizeof(list));

	if (n < 0)
		return n;
	return ghost_cpuset_parse_list(out, list, GHOST_MAX_CPUS, GHOST_CPUSET_ALLOW_EMPTY) ? -EIO
											    : 0;
}

static int ghostfs_agent_present(struct ghost_kenclave *ke)
{
	char buf[16];
	int n = read_file_at(ke->dir_fd, "agent_online", buf, sizeof(buf));

	if (n < 0)
		return -EOPNOTSUPP;
	return buf[0] >= '1' && buf[0] <= '9';
}

static int ghostfs_file_read(struct ghost_kenclave *ke, const char *name, char *buf, size_t len)
{
	if (!name_ok(name))
		return -EINVAL;
	return read_file_at(ke->dir_fd, name, buf, len);
}

static int ghostfs_file_write(struct ghost_kenclave *ke, const char *name, const char *text)
{
	int err;

	if (!name_ok(name) || !text)
		return -EINVAL;
	/*
	 * Opening agent_online writable IS the "an agent serves this enclave" claim (and a
	 * write to it is always EINVAL); that is agent_online()'s job, not a file write.
	 */
	if (!strcmp(name, "agent_online"))
		return -EACCES;
	err = write_file_at(ke->dir_fd, name, text);
	/* EOVERFLOW is the kernel's "cpu beyond nr_cpu_ids": a bad cpu set, as elsewhere. */
	if (err == -EOVERFLOW && (!strcmp(name, "cpumask") || !strcmp(name, "cpulist")))
		err = -EINVAL;
	return err;
}

/* The cpulist file, as a person would write it (its errors are file_write's). */
static int ghostfs_enclave_set_cpus(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus)
{
	char list[GHOST_CPUSET_LIST_MAX];
	int n = ghost_cpuset_format_list(cpus, list, sizeof(list));

	return n < 0 ? n : ghostfs_file_write(ke, "cpulist", list);
}

/* ---- shared memory ---- */

static int ghostfs_cpu_data_map(struct ghost_kenclave *ke, struct ghost_cpu_data **out, int *ncpus)
{
	/* Mapped once at create/attach, when opening files is still allowed. */
	if (!ke->cpu_data)
		return -ENODEV;
	*out = ke->cpu_data;
	*ncpus = ke_ncpus(ke);
	return 0;
}

static int ghostfs_sw_region_map(struct ghost_kenclave *ke, uint32_t id,
				 const struct ghost_sw_region_header **out, size_t *size)
{
	const struct ghost_sw_region_header *hdr;
	const size_t max_words =
		(GHOST_SW_REGION_SIZE - sizeof(*hdr)) / sizeof(struct ghost_status_word);
	char path[48];
	void *map;
	int fd, err;

	snprintf(path, sizeof(path), "sw_regions/sw_%u", id);
	fd = openat(ke->dir_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The kernel refuses a writable mapping of a status-word region (EINVAL). */
	map = mmap(NULL, GHOST_SW_REGION_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	err = map == MAP_FAILED ? -errno : 0;
	close(fd);
	if (err)
		return err;
	hdr = map;
	if (hdr->version != GHOST_SW_REGION_VERSION || hdr->id != id ||
	    hdr->start != sizeof(*hdr) || hdr->capacity == 0 || hdr->capacity > max_words) {
		munmap(map, GHOST_SW_REGION_SIZE);
		return -EINVAL;
	}
	*out = hdr;
	*size = GHOST_SW_REGION_SIZE;
	return 0;
}

static void ghostfs_sw_region_unmap(struct ghost_kenclave *ke,
				    const struct ghost_sw_region_header *hdr, size_t size)
{
	(void)ke;
	if (hdr)
		munmap((void *)hdr, size);
}

/* An ioctl on the enclave ctl fd: its result (>= 0) or -errno. */
static int ctl_ioctl(struct ghost_kenclave *ke, unsigned long req, void *arg)
{
	int r = ioctl(ke->ctl_fd, req, arg);

	return r < 0 ? -errno : r;
}

static int ghostfs_sw_get_info(struct ghost_kenclave *ke, int type, uint64_t arg,
			       struct ghost_sw_info *out)
{
	struct ghost_ioc_sw_get_info req = {
		.request = { .type = (enum ghost_type)type, .arg = arg },
	};
	int r = ctl_ioctl(ke, GHOST_IOC_SW_GET_INFO, &req);

	if (r < 0)
		return r;
	*out = req.response;
	return 0;
}

static int ghostfs_sw_free(struct ghost_kenclave *ke, const struct ghost_sw_info *info)
{
	struct ghost_sw_info copy;
	int r;

	if (!info)
		return -EINVAL;
	copy = *info;
	r = ctl_ioctl(ke, GHOST_IOC_SW_FREE, &copy);
	return r < 0 ? r : 0;
}

/* ---- queues ---- */

static int ghostfs_queue_create(struct ghost_kenclave *ke, int elems, int node, int flags,
				struct ghost_kqueue *out)
{
	struct ghost_ioc_create_queue req = { .elems = elems, .node = node, .flags = flags };
	void *map;
	int fd, err;

	/* The result is a new queue fd (O_RDWR | O_CLOEXEC); it is the queue's id. */
	fd = ctl_ioctl(ke, GHOST_IOC_CREATE_QUEUE, &req);
	if (fd < 0)
		return fd;
	map = mmap(NULL, (size_t)req.mapsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	out->id = fd;
	out->map = map;
	out->mapsize = (size_t)req.mapsize;
	return 0;
}

static void ghostfs_queue_destroy(struct ghost_kenclave *ke, struct ghost_kqueue *q)
{
	(void)ke;
	if (!q)
		return;
	if (q->map)
		munmap(q->map, q->mapsize);
	/* Closing the last reference frees the queue (and clears it as the default). */
	if (q->id >= 0)
		close(q->id);
	q->map = NULL;
	q->mapsize = 0;
	q->id = -1;
}

static int ghostfs_queue_assoc(struct ghost_kenclave *ke, int qid, int64_t gtid, uint32_t barrier,
			       int flags)
{
	struct ghost_ioc_assoc_queue req = {
		.fd = qid,
		.src = { .type = GHOST_TASK, .arg = (uint64_t)gtid },
		.barrier = barrier,
		.flags = flags,
	};

	/* Since ABI 64 the ioctl's non-negative result is the GHOST_ASSOC_SF_* status. */
	return ctl_ioctl(ke, GHOST_IOC_ASSOC_QUEUE, &req);
}

static int ghostfs_queue_set_default(struct ghost_kenclave *ke, int qid)
{
	struct ghost_ioc_set_default_queue req = { .fd = qid };
	int r = ctl_ioctl(ke, GHOST_IOC_SET_DEFAULT_QUEUE, &req);

	return r < 0 ? r : 0;
}

static int ghostfs_queue_config_wakeup(struct ghost_kenclave *ke, int qid,
				       const struct ghost_agent_wakeup *w, int n)
{
	struct ghost_agent_wakeup copy[GHOST_MAX_WINFO];
	struct ghost_ioc_config_queue_wakeup req = { .qfd = qid, .w = copy, .ninfo = n };
	int r;

	/* The kernel says EINVAL for these too; checking here keeps the copy in bounds. */
	if (n < 0 || n > GHOST_MAX_WINFO || (n && !w))
		return -EINVAL;
	memset(copy, 0, sizeof(copy));
	if (n)
		memcpy(copy, w, (size_t)n * sizeof(*w));
	r = ctl_ioctl(ke, GHOST_IOC_CONFIG_QUEUE_WAKEUP, &req);
	return r < 0 ? r : 0;
}

/* ---- agents ---- */

static int ghostfs_agent_online(struct ghost_kenclave *ke)
{
	int fd, expected = -1;

	if (__atomic_load_n(&ke->online_fd, __ATOMIC_ACQUIRE) >= 0)
		return -EBUSY;
	/* Holding agent_online open read-write is the claim; a second writer gets EBUSY. */
	fd = openat(ke->dir_fd, "agent_online", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!__atomic_compare_exchange_n(&ke->online_fd, &expected, fd, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		close(fd);
		return -EBUSY;
	}
	return 0;
}

static void ghostfs_agent_offline(struct ghost_kenclave *ke)
{
	int fd = __atomic_exchange_n(&ke->online_fd, -1, __ATOMIC_ACQ_REL);

	/* Closing it drops agent_online to 0 and notifies its pollers. */
	if (fd >= 0)
		close(fd);
}

static int ghostfs_agent_attach(struct ghost_kenclave *ke, int cpu, int qid)
{
	char cmd[64];
	cpu_set_t set;
	int err = 0;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	/*
	 * Pin first, as the library does, so the thread is already where it will live. A
	 * failure (the cpu outside our cpuset) is not final: since ABI 74 "become agent" sets
	 * the affinity inside the kernel, bypassing cpuset limits, and gives the real verdict.
	 */
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);

	snprintf(cmd, sizeof(cmd), "become agent %d %d", cpu, qid);
	for (int i = 0; i < GHOSTFS_BECOME_TRIES; i++) {
		err = write_all_once(ke->ctl_fd, cmd, strlen(cmd));
		/* EBUSY: the cpu's previous agent is still on its way out. */
		if (err != -EBUSY || i + 1 == GHOSTFS_BECOME_TRIES)
			break;
		sleep_ns(GHOSTFS_BECOME_WAIT_NS);
	}
	if (err)
		return err;
	/* The kernel puts an agent in SCHED_GHOST with reset-on-fork; anything else failed. */
	if (sched_getscheduler(0) != (SCHED_GHOST | SCHED_RESET_ON_FORK))
		return -EPERM;
	return 0;
}

static void ghostfs_agent_detach(struct ghost_kenclave *ke, int cpu)
{
	struct sched_param param = { .sched_priority = 0 };

	(void)ke;
	(void)cpu;
	/* Leaving the ghost class is how an agent quits; the kernel then releases the cpu. */
	if ((sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_GHOST)
		(void)sched_setscheduler(0, SCHED_OTHER, &param);
}

/* ---- transactions ---- */

static int commit_ioctl(struct ghost_kenclave *ke, unsigned long req,
			const struct ghost_cpuset *cpus)
{
	struct ghost_ioc_commit_txn arg;
	cpu_set_t set;
	int cpu;

	if (!cpus)
		return -EINVAL;
	/* The kernel copies the mask like sched_setaffinity(2): a cpu_set_t of its own size. */
	CPU_ZERO(&set);
	ghost_cpuset_for_each(cpu, cpus) {
		if (cpu < CPU_SETSIZE)
			CPU_SET(cpu, &set);
	}
	arg.mask_ptr = &set;
	arg.mask_len = sizeof(set);
	arg.flags = 0;
	return ctl_ioctl(ke, req, &arg);
}

static int ghostfs_commit(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus,
			  unsigned flags)
{
	int r;

	if (flags & ~GHOST_KCOMMIT_SYNC_GROUP)
		return -EINVAL;
	/* 1 = all committed, 0 = the group failed: a result, not an errno. */
	if (flags & GHOST_KCOMMIT_SYNC_GROUP)
		return commit_ioctl(ke, GHOST_IOC_SYNC_GROUP_TXN, cpus);
	r = commit_ioctl(ke, GHOST_IOC_COMMIT_TXN, cpus);
	/* Per-txn outcomes are in each txn's state, not in the result. */
	return r < 0 ? r : 0;
}

static int ghostfs_run(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier,
		       uint32_t task_barrier, int cpu, int run_flags)
{
	struct ghost_ioc_run req = {
		.gtid = gtid,
		.agent_barrier = agent_barrier,
		.task_barrier = task_barrier,
		.run_cpu = cpu,
		.run_flags = run_flags,
	};
	int r = ctl_ioctl(ke, GHOST_IOC_RUN, &req);

	return r < 0 ? r : 0;
}

/* ---- tasks ---- */

static int ghostfs_task_enter(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **self)
{
	char text[24];

	/* The kernel schedules the task: no user-space handle, the call does not wait. */
	if (self)
		*self = NULL;
	if (tid < 0)
		return -EINVAL;
	/* "0" is the writing thread itself. */
	snprintf(text, sizeof(text), "%d", (int)tid);
	return write_file_at(ke->dir_fd, "tasks", text);
}

static int ghostfs_task_leave(struct ghost_kenclave *ke, pid_t tid)
{
	struct sched_param param = { .sched_priority = 0 };

	(void)ke;
	if (tid < 0)
		return -EINVAL;
	/* Any other policy takes a task out of ghost; the kernel sends TASK_DEPARTED. */
	return sched_setscheduler(tid, SCHED_OTHER, &param) ? -errno : 0;
}

static int ghostfs_get_cpu_time(struct ghost_kenclave *ke, int64_t gtid, uint64_t *ns)
{
	struct ghost_ioc_get_cpu_time req = { .gtid = gtid };
	int r = ctl_ioctl(ke, GHOST_IOC_GET_CPU_TIME, &req);

	if (r < 0)
		return r;
	*ns = req.runtime;
	return 0;
}

static int ghostfs_gtid_of(struct ghost_kenclave *ke, pid_t tid, int64_t *gtid)
{
	char path[64], text[32], *end;
	long long v;
	int n;

	(void)ke;
	if (tid < 0 || !gtid)
		return -EINVAL;
	if (tid == 0)
		tid = gettid();
	/* The current library reads the gtid from procfs rather than a syscall. */
	snprintf(path, sizeof(path), "/proc/%d/ghost/gtid", (int)tid);
	n = read_file_at(AT_FDCWD, path, text, sizeof(text));
	if (n < 0)
		return n == -ENOSPC ? -EINVAL : n;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || errno || v <= 0)
		return -EINVAL;
	*gtid = v;
	return 0;
}

/* ---- timers ---- */

static int ghostfs_timer_set(struct ghost_kenclave *ke, int cpu, int slot, uint64_t type,
			     uint64_t cookie, int64_t expires_ns, int64_t period_ns)
{
	(void)ke;
	(void)cpu;
	(void)slot;
	(void)type;
	(void)cookie;
	(void)expires_ns;
	(void)period_ns;
	/*
	 * The ghOSt kernel binds CPU timers to timerfds: GHOST_IOC_TIMERFD_SETTIME arms a
	 * timerfd the caller owns (created with timerfd_create and kept open for as long as
	 * the timer lives), with a struct timerfd_ghost naming cpu, type and cookie. A slot
	 * number with no fd behind it has nothing to bind to.
	 */
	return -EOPNOTSUPP;
}

/*
 * task_exit, task_block, task_unblock, task_yield and task_managed are NULL: the real
 * kernel schedules ghost tasks itself and sees their exits and ordinary futex waits, so
 * there is nothing for user space to report.
 */
const struct ghost_kernel_ops ghost_kernel_ghostfs = {
	.version = GHOST_KERNEL_OPS_VERSION,
	.name = "ghostfs",
	.summary = "Google's ghOSt kernel (/sys/fs/ghost)",
	.caps = GHOST_KCAP_FOREIGN_TASKS | GHOST_KCAP_PERSISTENT | GHOST_KCAP_DISCOVERY |
		GHOST_KCAP_SW_REGIONS,
	.probe = ghostfs_probe,
	.enclave_create = ghostfs_enclave_create,
	.enclave_attach = ghostfs_enclave_attach,
	.enclave_close = ghostfs_enclave_close,
	.enclave_list = ghostfs_enclave_list,
	.enclave_id = ghostfs_enclave_id,
	.enclave_destroy = ghostfs_enclave_destroy,
	.enclave_cpus = ghostfs_enclave_cpus,
	.enclave_set_cpus = ghostfs_enclave_set_cpus,
	.agent_present = ghostfs_agent_present,
	.ctl = ghostfs_ctl,
	.file_read = ghostfs_file_read,
	.file_write = ghostfs_file_write,
	.cpu_data_map = ghostfs_cpu_data_map,
	.sw_region_create = ghostfs_sw_region_create,
	.sw_region_map = ghostfs_sw_region_map,
	.sw_region_unmap = ghostfs_sw_region_unmap,
	.sw_get_info = ghostfs_sw_get_info,
	.sw_free = ghostfs_sw_free,
	.queue_create = ghostfs_queue_create,
	.queue_destroy = ghostfs_queue_destroy,
	.queue_assoc = ghostfs_queue_assoc,
	.queue_set_default = ghostfs_queue_set_default,
	.queue_config_wakeup = ghostfs_queue_config_wakeup,
	.agent_online = ghostfs_agent_online,
	.agent_offline = ghostfs_agent_offline,
	.agent_attach = ghostfs_agent_attach,
	.agent_detach = ghostfs_agent_detach,
	.discover_tasks = ghostfs_discover_tasks,
	.commit = ghostfs_commit,
	.run = ghostfs_run,
	.task_enter = ghostfs_task_enter,
	.task_leave = ghostfs_task_leave,
	.get_cpu_time = ghostfs_get_cpu_time,
	.gtid_of = ghostfs_gtid_of,
	.timer_set = ghostfs_timer_set,
};
