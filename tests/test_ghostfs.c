/*
 * tests/test_ghostfs.c - the ghostfs backend, tested without a ghOSt kernel.
 *
 * No machine here runs Google's ghOSt kernel, so this checks what can be checked honestly:
 * probe's verdicts (on this machine and on fake roots), the namespace walk, the file-name
 * rules, and the exact text the backend writes to ctl/cpumask/tasks files, using a fake
 * ghostfs tree of regular files made with mkdtemp. ioctls on regular files fail with
 * ENOTTY, which proves the backend issues them on the ctl fd and maps errors to -errno.
 */
#include "backend.h"
#include "test.h"

#include <ghost/kernel.h>

#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern const struct ghost_kernel_ops ghost_kernel_ghostfs;

static const struct ghost_kernel_ops *K = &ghost_kernel_ghostfs;
static char tmp_root[64];

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK_MSG(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	CHECK(fclose(f) == 0);
}

static void sized_file(const char *dir, const char *name, size_t size)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	close(fd);
}

/* The whole text of dir/name (a test-sized file). */
static const char *slurp(const char *dir, const char *name)
{
	static char buf[4096];
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	CHECK_MSG(f != NULL, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void make_dir(const char *path)
{
	CHECK_MSG(mkdir(path, 0700) == 0, "%s: %s", path, strerror(errno));
}

/* A fake enclave directory with the files the backend opens. */
static void fake_enclave(const char *root, uint64_t id, const char *abi)
{
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/enclave_%" PRIu64, root, id);
	make_dir(dir);
	put_file(dir, "ctl", "");
	put_file(dir, "abi_version", abi);
	put_file(dir, "agent_online", "0");
	put_file(dir, "tasks", "");
	put_file(dir, "cpumask", "");
	put_file(dir, "deliver_ticks", "0\n");
	sized_file(dir, "cpu_data", 2 * GHOST_CPU_DATA_SIZE);
}

static void cleanup(void)
{
	if (tmp_root[0])
		test_rm_tree(tmp_root);
}

static void new_root(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp_root, name);
	make_dir(buf);
}

static void test_table(void)
{
	char why[160] = "";

	CHECK_EQ(K->version, GHOST_KERNEL_OPS_VERSION);
	CHECK_STR(K->name, "ghostfs");
	CHECK_STR(K->summary, "Google's ghOSt kernel (/sys/fs/ghost)");
	/* Every mandatory op and every op of the capabilities it claims (the registry's check). */
	CHECK_MSG(ghost_kernel_check(K, why, sizeof(why)) == 0, "%s", why);
	CHECK_EQ(ghost_kernel_caps(K), GHOST_KCAP_FOREIGN_TASKS | GHOST_KCAP_PERSISTENT |
					       GHOST_KCAP_DISCOVERY | GHOST_KCAP_SW_REGIONS);
	/* The real kernel sees exits and futex waits itself: no user-space task hooks. */
	CHECK(!K->task_exit && !K->task_block && !K->task_unblock && !K->task_yield);
	CHECK(!K->task_managed && !K->task_changed && !K->task_nopreempt);
}

static void test_probe_fake(void)
{
	char root[256], why[512];

	new_root(root, sizeof(root), "probe");
	/* A directory without the version file: ghostfs not mounted there. */
	CHECK_ERR(K->probe(root, why, sizeof(why)), ENODEV);
	CHECK_MSG(strstr(why, "mount -t ghost") != NULL, "why: %s", why);

	/* ABIs this library does not speak, old and new: the reason lists both sides. */
	put_file(root, "version", "83\n92\n");
	CHECK_ERR(K->probe(root, why, sizeof(why)), EPROTONOSUPPORT);
	CHECK_MSG(strstr(why, "83, 92") && strstr(why, "91, 90 and 84"), "why: %s", why);

	/* The right ABI (any of 91, 90, 84; old kernels: one number, no newline) but no
	 * top-level ctl: not ghostfs (an embedded kernel's root has a version file too). */
	put_file(root, "version", "84");
	CHECK_ERR(K->probe(root, why, sizeof(why)), ENODEV);
	CHECK_MSG(strstr(why, "no ctl") != NULL, "why: %s", why);
	put_file(root, "version", "91\n90\n");
	CHECK_ERR(K->probe(root, why, sizeof(why)), ENODEV);
	CHECK_MSG(strstr(why, "no ctl") != NULL, "why: %s", why);
	put_file(root, "ctl", "");
	for (int i = 0; i < 3; i++) {
		static const char *const lists[] = { "90\n84\n", "84", "83\n90\n" };

		put_file(root, "version", lists[i]);
		CHECK_MSG(K->probe(root, why, sizeof(why)) == 0, "%s: %s", lists[i], why);
	}
	put_file(root, "version", "91\n90\n");
	put_file(root, "ctl", "");
	CHECK_OK(K->probe(root, why, sizeof(why)));
	CHECK_STR(why, "");
	CHECK_OK(K->probe(root, NULL, 0));

	/* A root that does not exist at all. */
	snprintf(root, sizeof(root), "%s/nowhere", tmp_root);
	CHECK_ERR(K->probe(root, why, sizeof(why)), ENODEV);
	CHECK_MSG(strstr(why, "ghOSt") != NULL, "why: %s", why);
}

static void test_list(void)
{
	char root[256], path[512];
	uint64_t ids[4] = { 0 }, one[1] = { 0 };

	new_root(root, sizeof(root), "list");
	for (int i = 0; i < 4; i++) {
		static const char *const names[] = { "enclave_3", "enclave_1", "junk",
						     "enclave_x" };

		snprintf(path, sizeof(path), "%s/%s", root, names[i]);
		make_dir(path);
	}
	CHECK_EQ(K->enclave_list(root, ids, 4), 2);
	CHECK_EQ(ids[0], 1);
	CHECK_EQ(ids[1], 3);
	/* Fewer slots than enclaves: the smallest ids, and still the full count. */
	CHECK_EQ(K->enclave_list(root, one, 1), 2);
	CHECK_EQ(one[0], 1);
	CHECK_EQ(K->enclave_list(root, NULL, 0), 2);
	snprintf(path, sizeof(path), "%s/nowhere", tmp_root);
	CHECK_EQ(K->enclave_list(path, ids, 4), 0);
}

static void test_attach_errors(void)
{
	char root[256];
	struct ghost_kenclave *ke = NULL;

	new_root(root, sizeof(root), "attach");
	CHECK_ERR(K->enclave_attach(root, 42, &ke), ENOENT);
	CHECK_ERR(K->enclave_attach(root, 0, &ke), EINVAL);
	/* An ABI this backend does not speak (it speaks 91, 90 and 84). */
	fake_enclave(root, 5, "89\n");
	CHECK_ERR(K->enclave_attach(root, 5, &ke), EPROTONOSUPPORT);
	CHECK(ke == NULL);
	fake_enclave(root, 6, "90\n");
	CHECK_OK(K->enclave_attach(root, 6, &ke));
	K->enclave_close(ke);
}

static void test_fake_enclave(void)
{
	static const char *const bad[] = { "../x", "a/b", "..", ".", "", "x/../y" };
	char root[256], dir[512], buf[64];
	struct ghost_kenclave *ke = NULL;
	struct ghost_cpu_data *cd;
	struct ghost_sw_info info = { 0 };
	struct ghost_kqueue q = { .id = -1 };
	struct ghost_agent_wakeup w[3] = { { 0, 0 }, { 1, 0 }, { 0, 0 } };
	struct ghost_cpuset cpus;
	const struct ghost_sw_region_header *hdr;
	struct ghost_ktask *self = (struct ghost_ktask *)&ke;
	int64_t gtid;
	uint64_t ns;
	size_t size;
	int ncpus;

	new_root(root, sizeof(root), "fake");
	fake_enclave(root, 7, "91\n");
	snprintf(dir, sizeof(dir), "%s/enclave_7", root);
	CHECK_OK(K->enclave_attach(root, 7, &ke));
	CHECK_EQ(K->enclave_id(ke), 7);

	/* cpu_data: the whole file, shared with it. */
	CHECK_OK(K->cpu_data_map(ke, &cd, &ncpus));
	CHECK_EQ(ncpus, 2);
	cd[1].txn.cpu = 1;
	cd[1].txn.state = GHOST_TXN_COMPLETE;
	{
		char path[600];
		int32_t v[3];
		int fd;

		snprintf(path, sizeof(path), "%s/cpu_data", dir);
		fd = open(path, O_RDONLY);
		CHECK(fd >= 0);
		CHECK_EQ(pread(fd, v, sizeof(v), GHOST_CPU_DATA_SIZE), sizeof(v));
		close(fd);
		CHECK_EQ(v[1], 1);
		CHECK_EQ(v[2], GHOST_TXN_COMPLETE);
	}

	/* Files by name. */
	CHECK_EQ(K->file_read(ke, "abi_version", buf, sizeof(buf)), 3);
	CHECK_STR(buf, "91\n");
	CHECK_EQ(K->file_read(ke, "abi_version", buf, 4), 3);
	CHECK_ERR(K->file_read(ke, "abi_version", buf, 3), ENOSPC);
	CHECK_ERR(K->file_read(ke, "no_such_file", buf, sizeof(buf)), ENOENT);
	CHECK_OK(K->file_write(ke, "deliver_ticks", "1"));
	CHECK_EQ(K->file_read(ke, "deliver_ticks", buf, sizeof(buf)), 2);
	CHECK_ERR(K->file_write(ke, "no_such_file", "1"), ENOENT);
	CHECK_ERR(K->file_write(ke, "agent_online", "1"), EACCES);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_ERR(K->file_read(ke, bad[i], buf, sizeof(buf)), EINVAL);
		CHECK_ERR(K->file_write(ke, bad[i], "1"), EINVAL);
	}

	/* ctl: the command text, one write each. */
	CHECK_OK(K->ctl(ke, "discover tasks"));
	CHECK_STR(slurp(dir, "ctl"), "discover tasks");
	CHECK_ERR(K->ctl(ke, ""), EINVAL);

	/* Every ioctl goes to the ctl fd: a regular file answers ENOTTY. */
	CHECK_ERR(K->sw_get_info(ke, GHOST_AGENT, 0, &info), ENOTTY);
	CHECK_ERR(K->sw_free(ke, &info), ENOTTY);
	CHECK_ERR(K->queue_create(ke, 64, 0, 0, &q), ENOTTY);
	CHECK_EQ(q.id, -1);
	CHECK_ERR(K->queue_assoc(ke, 3, 1LL << GHOST_GTID_SEQ_BITS, 0, 0), ENOTTY);
	CHECK_ERR(K->queue_set_default(ke, 3), ENOTTY);
	CHECK_ERR(K->queue_config_wakeup(ke, 3, w, 2), ENOTTY);
	CHECK_ERR(K->queue_config_wakeup(ke, 3, w, 3), EINVAL);
	CHECK_ERR(K->queue_config_wakeup(ke, 3, NULL, 1), EINVAL);
	ghost_cpuset_zero(&cpus);
	ghost_cpuset_set(&cpus, 0);
	CHECK_ERR(K->commit(ke, &cpus, 0), ENOTTY);
	CHECK_ERR(K->commit(ke, &cpus, GHOST_KCOMMIT_SYNC_GROUP), ENOTTY);
	CHECK_ERR(K->commit(ke, &cpus, 1u << 7), EINVAL);
	CHECK_ERR(K->run(ke, GHOST_AGENT_GTID, 0, 0, 0, 0), ENOTTY);
	CHECK_ERR(K->get_cpu_time(ke, 1LL << GHOST_GTID_SEQ_BITS, &ns), ENOTTY);

	/* Status-word regions: missing, valid, and one whose header lies. */
	CHECK_ERR(K->sw_region_map(ke, 0, &hdr, &size), ENOENT);
	{
		char swdir[600];
		struct ghost_sw_region_header h = {
			.version = GHOST_SW_REGION_VERSION,
			.id = 1,
			.start = 64,
			.capacity = GHOST_SW_REGION_CAPACITY,
			.available = GHOST_SW_REGION_CAPACITY,
		};
		char path[700];
		int fd;

		snprintf(swdir, sizeof(swdir), "%s/sw_regions", dir);
		make_dir(swdir);
		for (int id = 1; id <= 2; id++) {
			snprintf(path, sizeof(path), "%s/sw_%d", swdir, id);
			fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
			CHECK(fd >= 0);
			CHECK(ftruncate(fd, GHOST_SW_REGION_SIZE) == 0);
			h.id = id == 1 ? 1 : 5;
			CHECK_EQ(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
			close(fd);
		}
	}
	CHECK_OK(K->sw_region_map(ke, 1, &hdr, &size));
	CHECK_EQ(size, GHOST_SW_REGION_SIZE);
	CHECK_EQ(hdr->id, 1);
	CHECK_EQ(hdr->capacity, GHOST_SW_REGION_CAPACITY);
	K->sw_region_unmap(ke, hdr, size);
	CHECK_ERR(K->sw_region_map(ke, 2, &hdr, &size), EINVAL);

	/* agent_online: held open, exclusive within the handle. */
	CHECK_OK(K->agent_online(ke));
	CHECK_ERR(K->agent_online(ke), EBUSY);
	K->agent_offline(ke);
	CHECK_OK(K->agent_online(ke));
	K->agent_offline(ke);
	K->agent_offline(ke);

	/*
	 * "become agent" is written, but this thread does not end up in SCHED_GHOST on a
	 * machine without the ghOSt kernel: the post-check refuses with EPERM.
	 */
	{
		cpu_set_t saved;

		CHECK(sched_getaffinity(0, sizeof(saved), &saved) == 0);
		CHECK_ERR(K->agent_attach(ke, 0, -1), EPERM);
		CHECK_MSG(strstr(slurp(dir, "ctl"), "become agent 0 -1") != NULL, "ctl: %s",
			  slurp(dir, "ctl"));
		K->agent_detach(ke, 0);
		CHECK(sched_setaffinity(0, sizeof(saved), &saved) == 0);
	}
	CHECK_ERR(K->agent_attach(ke, -1, -1), EINVAL);

	/* Tasks. */
	CHECK_OK(K->task_enter(ke, 0, &self));
	CHECK(self == NULL);
	CHECK_STR(slurp(dir, "tasks"), "0");
	CHECK_ERR(K->task_enter(ke, -3, &self), EINVAL);
	CHECK_OK(K->task_leave(ke, 0));
	if (access("/proc/self/ghost/gtid", F_OK) != 0)
		CHECK_ERR(K->gtid_of(ke, 0, &gtid), ENOENT);

	/* Timers are bound to timerfds by this kernel, not to slots. */
	CHECK_ERR(K->timer_set(ke, 0, 0, 1, 2, 1000, 0), EOPNOTSUPP);

	K->enclave_close(ke);
	/* Not created by this handle: closing never destroys. */
	CHECK(strstr(slurp(dir, "ctl"), "destroy") == NULL);
}

static void test_create(void)
{
	char root[256], dir[512], none[256];
	struct ghost_kernel_create_args args = { .sz = sizeof(args) };
	struct ghost_kenclave *ke = NULL;
	struct ghost_cpuset cpus;

	new_root(root, sizeof(root), "create");
	put_file(root, "ctl", "");
	put_file(root, "version", "91\n");
	fake_enclave(root, 1, "91\n");
	snprintf(dir, sizeof(dir), "%s/enclave_1", root);

	ghost_cpuset_zero(&cpus);
	ghost_cpuset_set(&cpus, 0);
	ghost_cpuset_set(&cpus, 1);
	args.root = root;
	args.cpus = &cpus;
	args.abi = GHOST_VERSION;
	args.flags = GHOST_KCREATE_EPHEMERAL;

	/* Argument checks before anything reaches the kernel: an ABI not spoken here. */
	args.abi = 83;
	CHECK_ERR(K->enclave_create(&args, &ke), ESRCH);
	args.abi = GHOST_VERSION;
	{
		struct ghost_cpuset empty;

		ghost_cpuset_zero(&empty);
		args.cpus = &empty;
		CHECK_ERR(K->enclave_create(&args, &ke), EINVAL);
		args.cpus = &cpus;
	}
	new_root(none, sizeof(none), "create_none");
	args.root = none;
	CHECK_ERR(K->enclave_create(&args, &ke), ENODEV);
	snprintf(none, sizeof(none), "%s/nowhere", tmp_root);
	CHECK_ERR(K->enclave_create(&args, &ke), ENODEV);
	args.root = root;

	/* The regular-file ctl "accepts" the first id; the texts are what ghostfs expects. */
	CHECK_OK(K->enclave_create(&args, &ke));
	CHECK_EQ(K->enclave_id(ke), 1);
	CHECK_STR(slurp(root, "ctl"), "create 1 91 ephemeral");
	/* cpu_data has 2 pages, so 2 possible cpus: one 32-bit group. */
	CHECK_STR(slurp(dir, "cpumask"), "00000003");
	K->enclave_close(ke);
	/* Ephemeral and created by this handle: destroyed on close. */
	CHECK_STR(slurp(dir, "ctl"), "destroy");

	/* A cpu beyond the enclave's possible cpus: EINVAL, and the new enclave is destroyed. */
	put_file(dir, "ctl", "");
	put_file(root, "ctl", "");
	args.flags = 0;
	args.id = 1;
	ghost_cpuset_set(&cpus, 5);
	ke = NULL;
	CHECK_ERR(K->enclave_create(&args, &ke), EINVAL);
	CHECK(ke == NULL);
	CHECK_STR(slurp(root, "ctl"), "create 1 91");
	CHECK_STR(slurp(dir, "ctl"), "destroy");

	/* An explicit id whose directory never appears. */
	args.id = 9;
	ghost_cpuset_clear(&cpus, 5);
	CHECK_ERR(K->enclave_create(&args, &ke), ENOENT);

	/*
	 * A kernel of older ABIs (ghost-userspace's "ABI mismatch" case): the library's
	 * request becomes the newest the kernel lists that this backend speaks, and the
	 * enclave it made (abi_version 90, then 84) is opened.
	 */
	for (int i = 0; i < 2; i++) {
		static const char *const lists[] = { "90\n84\n", "84" };
		static const char *const want[] = { "create 1 90", "create 1 84" };
		char buf[16];

		put_file(root, "version", lists[i]);
		put_file(root, "ctl", "");
		put_file(dir, "ctl", "");
		put_file(dir, "abi_version", i ? "84" : "90\n");
		args.id = 1;
		args.abi = GHOST_VERSION;
		CHECK_OK(K->enclave_create(&args, &ke));
		CHECK_STR(slurp(root, "ctl"), want[i]);
		CHECK(K->file_read(ke, "abi_version", buf, sizeof(buf)) > 0);
		CHECK_MSG(atoi(buf) == (i ? 84 : 90), "abi_version %s", buf);
		K->enclave_close(ke);
	}
	/* An enclave of an ABI not spoken here does not open. */
	put_file(dir, "abi_version", "83\n");
	CHECK_ERR(K->enclave_attach(root, 1, &ke), EPROTONOSUPPORT);
	put_file(root, "version", "91\n");
}

static void test_probe_default(void)
{
	char why[512];

	if (access("/sys/fs/ghost/version", F_OK) == 0) {
		printf("SKIP: /sys/fs/ghost/version exists (a real ghOSt kernel)\n");
		exit(TEST_SKIP);
	}
	CHECK_ERR(K->probe(NULL, why, sizeof(why)), ENODEV);
	CHECK_MSG(strstr(why, "ghOSt") != NULL, "why: %s", why);
	CHECK_ERR(K->probe("", why, sizeof(why)), ENODEV);
	CHECK_MSG(strstr(why, "/sys/fs/ghost") != NULL, "why: %s", why);
}

int main(void)
{
	snprintf(tmp_root, sizeof(tmp_root), "%s", "/tmp/test_ghostfs.XXXXXX");
	CHECK(mkdtemp(tmp_root) != NULL);
	atexit(cleanup);

	test_table();
	test_probe_fake();
	test_list();
	test_attach_errors();
	test_fake_enclave();
	test_create();
	test_probe_default();
	return 0;
}
