/*
 * kernels/scx/scx.c - the sched_ext backend: the ghOSt kernel side runs as a BPF scheduler
 * (kernels/scx/ghost.bpf.c) on a stock Linux kernel with CONFIG_SCHED_CLASS_EXT.
 *
 * Owns the user-space half: loading the BPF object (built into the library), attaching it
 * as the machine's sched_ext scheduler in partial-switch mode, the ops table (each op is a
 * map mmap or one BPF_PROG_TEST_RUN of a SEC("syscall") program), the agents' doorbell
 * sleeps, moving threads in and out with sched_setscheduler(SCHED_EXT), and the pins that let
 * other processes (ghostctl) open the enclave.
 *
 * It must never print or exit (diagnostics, the verifier log included, go to the library's
 * log callback), never leave a scheduler loaded that nobody owns (the struct_ops link belongs
 * to the creating process and is not pinned: if that process dies, the kernel unloads the
 * scheduler and every task returns to the fair class), and never trust the mmapped memory for
 * anything the BPF side decides (it keeps its own copies).
 *
 * One enclave per machine: sched_ext has one root scheduler.
 *
 * Built with SCX=1 (libbpf >= 1.4); otherwise kernels/scx/scx_stub.c stands in for it.
 */
#include "internal.h"

#include "backend.h"

#include <errno.h>
#include <stdio.h>

#include <linux/bpf.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "ghost_scx.h"

#ifndef SCHED_EXT
#define SCHED_EXT 7
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define SCX_SYSFS	    "/sys/kernel/sched_ext"
#define SCX_OPS_NAME	    "ghost"
#define SCX_PIN_ROOT	    "/sys/fs/bpf/ghost"
#define SCX_ENABLE_WAIT_MS  5000
#define SCX_DISABLE_WAIT_MS 2000
#define SCX_SLEEP_SLICE_MS  100 /* a sleeping agent re-checks for the scheduler's exit */

/* ---- the layouts shared with the BPF side must be the ABI's ---- */

#define SAME_SIZE(a, b) _Static_assert(sizeof(struct a) == sizeof(struct b), #a " vs " #b)
#define SAME_OFF(a, b, fa, fb) \
	_Static_assert(offsetof(struct a, fa) == offsetof(struct b, fb), #a "." #fa)
SAME_SIZE(gs_sw, ghost_status_word);
SAME_OFF(gs_sw, ghost_status_word, flags, flags);
SAME_OFF(gs_sw, ghost_status_word, gtid, gtid);
SAME_OFF(gs_sw, ghost_status_word, switch_time, switch_time);
SAME_OFF(gs_sw, ghost_status_word, runtime, runtime);
_Static_assert(offsetof(struct gs_sw_region, words) == GS_SW_HDR_BYTES, "sw words at 64");
SAME_OFF(gs_sw_region, ghost_sw_region_header, capacity, capacity);
SAME_OFF(gs_sw_region, ghost_sw_region_header, available, available);
SAME_SIZE(gs_txn, ghost_txn);
SAME_OFF(gs_txn, ghost_txn, state, state);
SAME_OFF(gs_txn, ghost_txn, agent_barrier, agent_barrier);
SAME_OFF(gs_txn, ghost_txn, task_barrier, task_barrier);
SAME_OFF(gs_txn, ghost_txn, run_flags, run_flags);
SAME_OFF(gs_txn, ghost_txn, commit_flags, commit_flags);
SAME_OFF(gs_txn, ghost_txn, gtid, gtid);
SAME_OFF(gs_txn, ghost_txn, commit_time, commit_time);
SAME_OFF(gs_txn, ghost_txn, cpu_seqnum, cpu_seqnum);
SAME_OFF(gs_txn, ghost_txn, sync_group_owner, u.sync_group_owner);
SAME_SIZE(gs_cpu_data, ghost_cpu_data);
_Static_assert(offsetof(struct gs_queue, head) ==
		       sizeof(struct ghost_queue_header) + offsetof(struct ghost_ring, head),
	       "ring head");
_Static_assert(offsetof(struct gs_queue, slots) ==
		       sizeof(struct ghost_queue_header) + offsetof(struct ghost_ring, msgs),
	       "ring slots");
_Static_assert(sizeof(struct gs_queue) % 4096 == 0, "one queue = whole pages");
SAME_SIZE(gs_p_task_new, ghost_msg_payload_task_new);
SAME_OFF(gs_p_task_new, ghost_msg_payload_task_new, runnable, runnable);
SAME_OFF(gs_p_task_new, ghost_msg_payload_task_new, nice, nice);
SAME_OFF(gs_p_task_new, ghost_msg_payload_task_new, sw_id, sw_info.id);
SAME_OFF(gs_p_task_new, ghost_msg_payload_task_new, sw_index, sw_info.index);
SAME_OFF(gs_p_task_new, ghost_msg_payload_task_new, agent_data, agent_data);
SAME_SIZE(gs_p_task_preempt, ghost_msg_payload_task_preempt);
SAME_OFF(gs_p_task_preempt, ghost_msg_payload_task_preempt, cpu, cpu);
SAME_OFF(gs_p_task_preempt, ghost_msg_payload_task_preempt, was_latched, was_latched);
SAME_OFF(gs_p_task_preempt, ghost_msg_payload_task_yield, cpu, cpu);
SAME_SIZE(gs_p_task_blocked, ghost_msg_payload_task_blocked);
SAME_OFF(gs_p_task_blocked, ghost_msg_payload_task_blocked, cpu, cpu);
SAME_SIZE(gs_p_task_dead, ghost_msg_payload_task_dead);
SAME_SIZE(gs_p_task_departed, ghost_msg_payload_task_departed);
SAME_OFF(gs_p_task_departed, ghost_msg_payload_task_departed, was_current, was_current);
SAME_SIZE(gs_p_task_affinity, ghost_msg_payload_task_affinity_changed);
SAME_SIZE(gs_p_task_priority, ghost_msg_payload_task_priority_changed);
SAME_SIZE(gs_p_task_wakeup, ghost_msg_payload_task_wakeup);
SAME_OFF(gs_p_task_wakeup, ghost_msg_payload_task_wakeup, last_ran_cpu, last_ran_cpu);
SAME_OFF(gs_p_task_wakeup, ghost_msg_payload_task_wakeup, waker_cpu, waker_cpu);
SAME_SIZE(gs_p_task_on_cpu, ghost_msg_payload_task_on_cpu);
SAME_SIZE(gs_p_cpu_tick, ghost_msg_payload_cpu_tick);
_Static_assert(GS_ABI_VERSION == GHOST_VERSION, "ABI");
_Static_assert(GS_TXN_READY == GHOST_TXN_READY && GS_TXN_COMPLETE == GHOST_TXN_COMPLETE, "txn");
_Static_assert(GS_TXN_COMPLETE + GS_F_TARGET_STALE == GHOST_TXN_TARGET_STALE, "fail order");
_Static_assert(GS_TXN_COMPLETE + GS_F_POISONED == GHOST_TXN_POISONED, "fail order");
_Static_assert(GS_MSG_TASK_NEW == MSG_TASK_NEW && GS_MSG_TASK_ON_CPU == MSG_TASK_ON_CPU &&
		       GS_MSG_TASK_PRIORITY_CHANGED == MSG_TASK_PRIORITY_CHANGED &&
		       GS_MSG_CPU_BUSY == MSG_CPU_BUSY && GS_MSG_CPU_TICK == MSG_CPU_TICK,
	       "message types");
_Static_assert(GS_SW_TASK_IS_AGENT == GHOST_SW_TASK_IS_AGENT &&
		       GS_SW_BOOST_PRIO == GHOST_SW_BOOST_PRIO &&
		       GS_SW_F_CANFREE == GHOST_SW_F_CANFREE,
	       "status word flags");
_Static_assert(GS_SEND_TASK_ON_CPU == SEND_TASK_ON_CPU && GS_DO_NOT_PREEMPT == DO_NOT_PREEMPT &&
		       GS_RTLA_ON_IDLE == RTLA_ON_IDLE &&
		       GS_RUN_FLAGS_VALID == (RTLA_ON_PREEMPT | RTLA_ON_BLOCKED | RTLA_ON_YIELD |
					      RTLA_ON_IDLE | NEED_L1D_FLUSH | NEED_CPU_NOT_IDLE |
					      ELIDE_PREEMPT | SEND_TASK_ON_CPU |
					      DEFER_LATCHED_PREEMPTION_BY_AGENT | DO_NOT_PREEMPT),
	       "run flags");
_Static_assert(GS_MAX_CPUS <= GHOST_MAX_CPUS, "CPU sets hold every CPU the BPF side knows");

/* The BPF object, embedded at build time (GHOST_SCX_BPF_OBJ is its path). */
__asm__(".pushsection .rodata\n"
	".balign 8\n"
	".globl ghost_scx_bpf_obj_start\n"
	".hidden ghost_scx_bpf_obj_start\n"
	"ghost_scx_bpf_obj_start:\n"
	".incbin \"" GHOST_SCX_BPF_OBJ "\"\n"
	".globl ghost_scx_bpf_obj_end\n"
	".hidden ghost_scx_bpf_obj_end\n"
	"ghost_scx_bpf_obj_end:\n"
	".popsection\n");
extern const char ghost_scx_bpf_obj_start[], ghost_scx_bpf_obj_end[];

struct scx_bell {
	struct ring_buffer *rb;
	bool rung;
};

struct ghost_kenclave {
	uint64_t id;
	bool owner; /* this process loaded the scheduler and holds its link */
	bool destroyed;
	bool agent_claimed;
	char pin_dir[PATH_MAX];
	struct bpf_object *obj; /* owner only */
	struct bpf_link *link;	/* owner only */
	int state_fd, sw_fd, queues_fd, cd_fd, exit_fd, bells_fd;
	int commit_fd, run_fd, admin_fd;
	int ncpus; /* possible CPUs = pages of cpu_data */
	struct ghost_cpu_data *cd;
	struct ghost_cpuset cpus;
	int bell_fd[GS_MAX_CPUS];	   /* owner only: each CPU's doorbell ring buffer */
	struct scx_bell bell[GS_MAX_CPUS]; /* per agent thread */
	pthread_mutex_t lock;		   /* the queue mappings */
	void *qmap[GS_MAX_QUEUES];
};

static void set_why(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return (int)n;
}

/* The loaded scheduler's name ("" when none) and state ("enabled", "disabled", ...). */
static void scx_sysfs(char *state, size_t slen, char *ops, size_t olen)
{
	if (read_text(SCX_SYSFS "/state", state, slen) < 0)
		snprintf(state, slen, "unknown");
	if (read_text(SCX_SYSFS "/root/ops", ops, olen) < 0)
		ops[0] = 0;
}

/* The first release with sched_ext: the oldest kernel line this backend loads on. */
#define SCX_OLDEST_MAJOR 6
#define SCX_OLDEST_MINOR 12

/* Whether a kernel release ("6.6.30-foo") is older than major.minor; false if unreadable. */
static bool release_before(const char *release, int major, int minor)
{
	int a, b;

	if (sscanf(release, "%d.%d", &a, &b) != 2)
		return false;
	return a < major || (a == major && b < minor);
}

static int scx_probe(const char *root, char *why, size_t why_len)
{
	char state[32], ops[64];
	struct utsname u;
	struct stat st;

	(void)root;
	uname(&u);
	if (stat(SCX_SYSFS, &st)) {
		set_why(why, why_len,
			"this kernel (%s) has no sched_ext: it needs Linux >= %d.%d built with "
			"CONFIG_SCHED_CLASS_EXT=y (check: grep SCHED_CLASS_EXT /boot/config-%s)",
			u.release, SCX_OLDEST_MAJOR, SCX_OLDEST_MINOR, u.release);
		return -ENODEV;
	}
	/*
	 * What the BPF object needs is probed when it loads (compat.bpf.h), never by version;
	 * only a sched_ext older than its first release (patched into an older kernel) is
	 * told apart by the version, as nothing in it can be relied on.
	 */
	if (release_before(u.release, SCX_OLDEST_MAJOR, SCX_OLDEST_MINOR)) {
		set_why(why, why_len,
			"this kernel (%s) has a sched_ext from before Linux %d.%d, its first release "
			"and the oldest this backend supports",
			u.release, SCX_OLDEST_MAJOR, SCX_OLDEST_MINOR);
		return -ENODEV;
	}
	if (stat("/sys/kernel/btf/vmlinux", &st)) {
		set_why(why, why_len,
			"this kernel (%s) has sched_ext but no BTF (/sys/kernel/btf/vmlinux): the BPF "
			"scheduler needs CONFIG_DEBUG_INFO_BTF=y",
			u.release);
		return -ENODEV;
	}
	if (geteuid() != 0) {
		set_why(why, why_len,
			"loading a sched_ext scheduler needs root (CAP_SYS_ADMIN and CAP_BPF)");
		return -EPERM;
	}
	scx_sysfs(state, sizeof(state), ops, sizeof(ops));
	if (strcmp(state, "disabled") && ops[0] && strcmp(ops, SCX_OPS_NAME)) {
		set_why(why, why_len,
			"another sched_ext scheduler (%s) is loaded; only one can run at a time",
			ops);
		return -EBUSY;
	}
	return 0;
}

/* ---- running the SEC("syscall") programs ---- */

static int prog_run(int fd, void *ctx, size_t size)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = ctx, .ctx_size_in = (__u32)size);

	/* The kernel copies ctx back into ctx_in after the run. */
	return bpf_prog_test_run_opts(fd, &o) ? -errno : 0;
}

static int admin(struct ghost_kenclave *ke, struct gs_admin_args *a)
{
	int err = prog_run(ke->admin_fd, a, sizeof(*a));

	return err ? err : a->err;
}

static bool scx_exited(struct ghost_kenclave *ke, struct gs_exit *out)
{
	struct gs_exit ex;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(ke->exit_fd, &zero, &ex))
		return false;
	if (out)
		*out = ex;
	return ex.kind != 0;
}

/* ---- pins: how other processes find the enclave ---- */

/*
 * The BPF maps and programs the backend uses, by name: where their fd goes in the enclave
 * handle, and whether they are pinned for other processes (the doorbells serve only the
 * agents, which live in the creating process).
 */
static const struct scx_obj {
	const char *name;
	size_t fd_off; /* offsetof the fd in struct ghost_kenclave */
	bool prog;
	bool pinned;
} scx_objs[] = {
	{ "g_state", offsetof(struct ghost_kenclave, state_fd), false, true },
	{ "g_sw", offsetof(struct ghost_kenclave, sw_fd), false, true },
	{ "g_queues", offsetof(struct ghost_kenclave, queues_fd), false, true },
	{ "g_cpu_data", offsetof(struct ghost_kenclave, cd_fd), false, true },
	{ "g_exit", offsetof(struct ghost_kenclave, exit_fd), false, true },
	{ "g_bells", offsetof(struct ghost_kenclave, bells_fd), false, false },
	{ "gs_commit", offsetof(struct ghost_kenclave, commit_fd), true, true },
	{ "gs_run", offsetof(struct ghost_kenclave, run_fd), true, true },
	{ "gs_admin", offsetof(struct ghost_kenclave, admin_fd), true, true },
};

static int *obj_fd(struct ghost_kenclave *ke, const struct scx_obj *o)
{
	return (int *)((char *)ke + o->fd_off);
}

static void pin_path(const struct ghost_kenclave *ke, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", ke->pin_dir, name);
}

static void unpin_dir(const char *dir)
{
	char p[PATH_MAX + 64];

	for (size_t i = 0; i < GHOST_ARRAY_SIZE(scx_objs); i++) {
		if (!scx_objs[i].pinned)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, scx_objs[i].name);
		unlink(p);
	}
	rmdir(dir);
}

static void set_pin_dir(struct ghost_kenclave *ke, const char *root, uint64_t id)
{
	snprintf(ke->pin_dir, sizeof(ke->pin_dir), "%s/enclave_%" PRIu64,
		 root ? root : SCX_PIN_ROOT, id);
}

static void unpin_all(struct ghost_kenclave *ke)
{
	unpin_dir(ke->pin_dir);
}

/* Pins live on a BPF filesystem; mount one at the default place if there is none. */
static int ensure_bpffs(const char *root)
{
	struct statfs sfs;
	const char *base = "/sys/fs/bpf";

	if (root)
		return mkdir(root, 0700) && errno != EEXIST ? -errno : 0;
	if (statfs(base, &sfs) || (unsigned long)sfs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", base, "bpf", 0, NULL))
			return -errno;
	}
	if (mkdir(SCX_PIN_ROOT, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- create ---- */

static struct ghost_kenclave *ke_alloc(void)
{
	struct ghost_kenclave *ke = calloc(1, sizeof(*ke));

	if (!ke)
		return NULL;
	for (size_t i = 0; i < GHOST_ARRAY_SIZE(scx_objs); i++)
		*obj_fd(ke, &scx_objs[i]) = -1;
	for (int i = 0; i < GS_MAX_CPUS; i++)
		ke->bell_fd[i] = -1;
	pthread_mutex_init(&ke->lock, NULL);
	return ke;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void ke_free(struct ghost_kenclave *ke)
{
	if (!ke)
		return;
	for (int q = 0; q < GS_MAX_QUEUES; q++)
		if (ke->qmap[q])
			munmap(ke->qmap[q], sizeof(struct gs_queue));
	for (int c = 0; c < GS_MAX_CPUS; c++) {
		if (ke->bell[c].rb)
			ring_buffer__free(ke->bell[c].rb);
		close_fd(&ke->bell_fd[c]);
	}
	if (ke->cd)
		munmap(ke->cd, (size_t)ke->ncpus * GHOST_CPU_DATA_SIZE);
	if (ke->link)
		bpf_link__destroy(ke->link);
	if (ke->owner)
		unpin_all(ke);
	/* The fds are the object's when this process loaded it, else ours (from the pins). */
	if (ke->obj)
		bpf_object__close(ke->obj);
	else
		for (size_t i = 0; i < GHOST_ARRAY_SIZE(scx_objs); i++)
			close_fd(obj_fd(ke, &scx_objs[i]));
	pthread_mutex_destroy(&ke->lock);
	free(ke);
}

/*
 * libbpf speaks through a process-wide print callback: while this backend loads its object,
 * the warnings (the verifier log among them) go to the library's log, line by line.
 */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

#define LOG_TAIL_LINES 40

static int libbpf_to_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum ghost_log_level to = level == LIBBPF_WARN ? GHOST_LOG_ERROR : GHOST_LOG_INFO;
	char *text = NULL, *line, *next;
	int lines = 0, skip;

	if (level == LIBBPF_DEBUG || vasprintf(&text, fmt, ap) < 0)
		return 0;
	/* A verifier log can be megabytes: its last lines say why. */
	for (line = text; *line; line++)
		lines += *line == '\n';
	skip = lines > LOG_TAIL_LINES ? lines - LOG_TAIL_LINES : 0;
	if (skip)
		ghost_log(to, "sched_ext: ... (%d lines of the log left out)", skip);
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (skip > 0) {
			skip--;
			continue;
		}
		if (*line)
			ghost_log(to, "sched_ext: %s", line);
	}
	free(text);
	return 0;
}

static int read_object(void **buf, size_t *size, bool *allocated)
{
	const char *path = getenv("GHOST_SCX_OBJ");
	struct stat st;
	ssize_t n;
	int fd;

	*allocated = false;
	if (!path || !*path) {
		*buf = (void *)ghost_scx_bpf_obj_start;
		*size = (size_t)(ghost_scx_bpf_obj_end - ghost_scx_bpf_obj_start);
		return 0;
	}
	/* An explicit object (GHOST_SCX_OBJ) replaces the built-in one. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		int err = -errno;

		ghost_err("sched_ext: cannot open the BPF object %s: %s", path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(*buf);
		return -EIO;
	}
	*size = (size_t)n;
	*allocated = true;
	return 0;
}

static int find_fds(struct ghost_kenclave *ke)
{
	for (size_t i = 0; i < GHOST_ARRAY_SIZE(scx_objs); i++) {
		const struct scx_obj *o = &scx_objs[i];
		int fd = -1;

		if (o->prog) {
			struct bpf_program *p = bpf_object__find_program_by_name(ke->obj, o->name);

			fd = p ? bpf_program__fd(p) : -1;
		} else {
			struct bpf_map *m = bpf_object__find_map_by_name(ke->obj, o->name);

			fd = m ? bpf_map__fd(m) : -1;
		}
		if (fd < 0) {
			ghost_err("sched_ext: the BPF object has no %s %s",
				  o->prog ? "program" : "map", o->name);
			return -ENOENT;
		}
		*obj_fd(ke, o) = fd;
	}
	return 0;
}

/* Whether enum ENUM of this kernel's BTF has the value NAME (*val gets it). */
static bool kernel_enum_value(const struct btf *btf, const char *enum_name, const char *name,
			      uint64_t *val)
{
	int id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM64);
	const struct btf_type *t;

	if (id < 0)
		id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM);
	t = id < 0 ? NULL : btf__type_by_id(btf, (uint32_t)id);
	for (int i = 0; t && i < btf_vlen(t); i++) {
		bool wide = btf_is_enum64(t);
		uint32_t off = wide ? btf_enum64(t)[i].name_off : btf_enum(t)[i].name_off;
		const char *n = btf__name_by_offset(btf, off);

		if (n && !strcmp(n, name)) {
			*val = wide ? btf_enum64_value(&btf_enum64(t)[i])
				    : (uint64_t)(uint32_t)btf_enum(t)[i].val;
			return true;
		}
	}
	return false;
}

/*
 * The ops flags this kernel needs beyond the object's own, probed in its BTF. A kernel
 * that has SCX_OPS_ENQ_MIGRATION_DISABLED but not SCX_ENQ_IMMED (6.16 and 6.18 among the
 * tested) sends a migration-disabled task straight to its CPU's local queue, past
 * ops.enqueue, unless that flag is set; and the task ops.cpu_release hands back looks
 * migration-disabled while the BPF program runs on it (ghost.bpf.c, pinned_here). Without
 * the flag, a task a higher class preempted would go back to its CPU without the agent's
 * say.
 */
static int adapt_ops_flags(struct bpf_object *obj)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "ghost_ops");
	const struct btf *local = bpf_object__btf(obj);
	const struct btf_type *t = NULL;
	uint64_t mig = 0, immed = 0, flags;
	struct btf *vmlinux;
	size_t size = 0;
	char *data;
	int id;

	/* Not our scheduler, or no BTF to probe: the load or the attach says what is wrong. */
	if (!map || !(vmlinux = btf__load_vmlinux_btf()))
		return 0;
	if (kernel_enum_value(vmlinux, "scx_enq_flags", "SCX_ENQ_IMMED", &immed) ||
	    !kernel_enum_value(vmlinux, "scx_ops_flags", "SCX_OPS_ENQ_MIGRATION_DISABLED", &mig)) {
		btf__free(vmlinux);
		return 0;
	}
	btf__free(vmlinux);
	data = map ? bpf_map__initial_value(map, &size) : NULL;
	id = local ? btf__find_by_name_kind(local, "sched_ext_ops", BTF_KIND_STRUCT) : -1;
	if (id >= 0)
		t = btf__type_by_id(local, (uint32_t)id);
	for (int i = 0; data && t && i < btf_vlen(t); i++) {
		const struct btf_member *m = &btf_members(t)[i];
		size_t off = btf_member_bit_offset(t, (uint32_t)i) / 8;

		if (strcmp(btf__name_by_offset(local, m->name_off), "flags") ||
		    off + sizeof(flags) > size)
			continue;
		memcpy(&flags, data + off, sizeof(flags));
		flags |= mig;
		memcpy(data + off, &flags, sizeof(flags));
		return 0;
	}
	ghost_err("sched_ext: the BPF object has no ghost_ops.flags to set");
	return -ENOENT;
}

static int load_object(struct ghost_kenclave *ke)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "ghost");
	libbpf_print_fn_t old;
	bool allocated = false;
	size_t size = 0;
	void *buf = NULL;
	int err;

	err = read_object(&buf, &size, &allocated);
	if (err)
		return err;
	pthread_mutex_lock(&load_lock);
	old = libbpf_set_print(libbpf_to_log);
	ke->obj = bpf_object__open_mem(buf, size, &oo);
	if (!ke->obj) {
		err = -errno;
		ghost_err("sched_ext: cannot open the BPF object: %s", strerror(-err));
	} else if (!(err = adapt_ops_flags(ke->obj))) {
		err = bpf_object__load(ke->obj);
		if (err)
			ghost_err("sched_ext: the kernel refused the BPF scheduler (%s); the "
				  "verifier's log is above",
				  strerror(-err));
	}
	libbpf_set_print(old);
	pthread_mutex_unlock(&load_lock);
	if (allocated)
		free(buf);
	if (err) {
		if (ke->obj)
			bpf_object__close(ke->obj);
		ke->obj = NULL;
		return err;
	}
	return find_fds(ke);
}

static int init_state(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus)
{
	struct gs_state *st = calloc(1, sizeof(*st));
	struct gs_sw_region *sw = calloc(1, sizeof(*sw));
	uint32_t zero = 0;
	int err = 0, cpu;

	if (!st || !sw) {
		free(st);
		free(sw);
		return -ENOMEM;
	}
	st->nr_cpus = (uint32_t)ke->ncpus;
	st->default_qid = -1;
	st->owner_tgid = (uint32_t)getpid();
	st->nfree = GS_MAX_TASKS;
	/* Popped from the end: slot 0 goes first. */
	for (int i = 0; i < GS_MAX_TASKS; i++)
		st->free_slots[i] = (uint16_t)(GS_MAX_TASKS - 1 - i);
	for (int i = 0; i < GS_MAX_CPUS; i++) {
		st->cpus[i].latch_slot = -1;
		st->cpus[i].cur_slot = -1;
		st->cpus[i].agent_slot = -1;
		st->cpus[i].agent_qid = -1;
	}
	ghost_cpuset_for_each(cpu, cpus)
		if (cpu < GS_MAX_CPUS)
			st->cpus[cpu].in_enclave = 1;
	for (int i = 0; i < GS_MAX_TASKS; i++) {
		st->tasks[i].latch_cpu = -1;
		st->tasks[i].qid = -1;
	}
	sw->version = GHOST_SW_REGION_VERSION;
	sw->start = GS_SW_HDR_BYTES;
	sw->capacity = GS_MAX_TASKS;
	sw->available = GS_MAX_TASKS;
	if (bpf_map_update_elem(ke->state_fd, &zero, st, 0) ||
	    bpf_map_update_elem(ke->sw_fd, &zero, sw, 0))
		err = -errno;
	free(st);
	free(sw);
	return err;
}

static int make_bells(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus)
{
	int cpu;

	ghost_cpuset_for_each(cpu, cpus) {
		uint32_t key = (uint32_t)cpu;
		int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, GS_BELL_BYTES, NULL);

		if (fd < 0)
			return -errno;
		ke->bell_fd[cpu] = fd;
		if (bpf_map_update_elem(ke->bells_fd, &key, &fd, 0))
			return -errno;
	}
	return 0;
}

static int map_cpu_data(struct ghost_kenclave *ke)
{
	void *m = mmap(NULL, (size_t)ke->ncpus * GHOST_CPU_DATA_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, ke->cd_fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	ke->cd = m;
	return 0;
}

static int pin_all(struct ghost_kenclave *ke)
{
	char p[PATH_MAX + 64];
	int err;

	if (mkdir(ke->pin_dir, 0700) && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < GHOST_ARRAY_SIZE(scx_objs); i++) {
		const struct scx_obj *o = &scx_objs[i];

		if (!o->pinned)
			continue;
		pin_path(ke, o->name, p, sizeof(p));
		unlink(p);
		/* find_fds() checked that each exists. */
		err = o->prog ? bpf_program__pin(bpf_object__find_program_by_name(ke->obj, o->name),
						 p)
			      : bpf_map__pin(bpf_object__find_map_by_name(ke->obj, o->name), p);
		if (err)
			return err;
	}
	return 0;
}

/* Removes what a dead creator left behind (its scheduler is gone with it). */
static void remove_stale_pins(const char *root)
{
	const char *dir = root ? root : SCX_PIN_ROOT;
	char sub[PATH_MAX];
	struct dirent *d;
	DIR *dp;

	dp = opendir(dir);
	if (!dp)
		return;
	while ((d = readdir(dp))) {
		if (strncmp(d->d_name, "enclave_", 8) ||
		    snprintf(sub, sizeof(sub), "%s/%.200s", dir, d->d_name) >= (int)sizeof(sub))
			continue;
		unpin_dir(sub);
	}
	closedir(dp);
}

static bool scx_is_ours_enabled(void)
{
	char state[32], ops[64];

	scx_sysfs(state, sizeof(state), ops, sizeof(ops));
	return !strcmp(state, "enabled") && !strcmp(ops, SCX_OPS_NAME);
}

static int wait_enabled(void)
{
	for (int waited = 0; waited < SCX_ENABLE_WAIT_MS; waited += 10) {
		if (scx_is_ours_enabled())
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static int scx_enclave_create(const struct ghost_kernel_create_args *args,
			      struct ghost_kenclave **out)
{
	struct ghost_kenclave *ke;
	char why[256], state[32], ops[64];
	struct bpf_map *ops_map;
	int err, cpu;

	if (!args || args->sz < sizeof(*args) || !args->cpus || !out)
		return -EINVAL;
	if (args->abi != GHOST_VERSION)
		return -ESRCH;
	err = scx_probe(args->root, why, sizeof(why));
	if (err) {
		ghost_err("%s", why);
		return err;
	}
	/*
	 * A scheduler that was just unloaded (the previous agent exited) takes a moment to
	 * reach "disabled": give it that before calling the machine taken.
	 */
	for (int waited = 0;; waited += 10) {
		scx_sysfs(state, sizeof(state), ops, sizeof(ops));
		if (!strcmp(state, "disabled"))
			break;
		if (waited >= SCX_DISABLE_WAIT_MS) {
			ghost_err("a ghost enclave already runs on this machine (sched_ext has one "
				  "scheduler at a time)");
			return -EBUSY;
		}
		usleep(10000);
	}
	ghost_cpuset_for_each(cpu, args->cpus) {
		if (cpu >= GS_MAX_CPUS) {
			ghost_err("sched_ext: CPU %d is beyond the %d this scheduler was built for",
				  cpu, GS_MAX_CPUS);
			return -EINVAL;
		}
	}
	ke = ke_alloc();
	if (!ke)
		return -ENOMEM;
	ke->owner = true;
	ke->id = args->id ? args->id : 1;
	ke->cpus = *args->cpus;
	ke->ncpus = libbpf_num_possible_cpus();
	if (ke->ncpus <= 0 || ke->ncpus > GS_MAX_CPUS) {
		ghost_err("sched_ext: %d possible CPUs; this scheduler was built for at most %d",
			  ke->ncpus, GS_MAX_CPUS);
		ke->owner = false;
		ke_free(ke);
		return -E2BIG;
	}
	err = ensure_bpffs(args->root);
	if (err) {
		ghost_err("sched_ext: no BPF filesystem for the enclave's pins: %s",
			  strerror(-err));
		ke->owner = false;
		ke_free(ke);
		return err;
	}
	remove_stale_pins(args->root);
	set_pin_dir(ke, args->root, ke->id);
	if ((err = load_object(ke)) || (err = init_state(ke, args->cpus)) ||
	    (err = make_bells(ke, args->cpus)) || (err = map_cpu_data(ke)))
		goto fail;
	/* Every txn starts finished, not "claimed by CPU 0" (the zeroed map's state). */
	for (int c = 0; c < ke->ncpus; c++) {
		struct ghost_txn *t = &ke->cd[c].txn;

		t->version = GHOST_TXN_VERSION;
		t->cpu = c;
		t->u.sync_group_owner = -1;
		__atomic_store_n(&t->state, GHOST_TXN_COMPLETE, __ATOMIC_RELEASE);
	}
	ops_map = bpf_object__find_map_by_name(ke->obj, "ghost_ops");
	ke->link = ops_map ? bpf_map__attach_struct_ops(ops_map) : NULL;
	if (!ke->link) {
		err = ops_map ? -errno : -ENOENT;
		scx_sysfs(state, sizeof(state), ops, sizeof(ops));
		if (err == -EBUSY || err == -EEXIST || (ops[0] && strcmp(ops, SCX_OPS_NAME)))
			ghost_err("sched_ext: another scheduler (%s) took the machine first",
				  ops[0] ? ops : "unknown");
		else
			ghost_err("sched_ext: cannot attach the scheduler: %s", strerror(-err));
		goto fail;
	}
	if ((err = wait_enabled())) {
		ghost_err("sched_ext: the scheduler did not become enabled");
		goto fail;
	}
	if ((err = pin_all(ke))) {
		ghost_err("sched_ext: cannot pin the enclave under %s: %s", ke->pin_dir,
			  strerror(-err));
		goto fail;
	}
	*out = ke;
	return 0;
fail:
	ke_free(ke);
	return err;
}

/* ---- attach (other processes) ---- */

static int scx_enclave_attach(const char *root, uint64_t id, struct ghost_kenclave **out)
{
	struct ghost_kenclave *ke;
	char p[PATH_MAX + 64];
	int err;

	if (!id || !out)
		return -EINVAL;
	ke = ke_alloc();
	if (!ke)
		return -ENOMEM;
	ke->id = id;
	set_pin_dir(ke, root, id);
	for (size_t i = 0; i < GHOST_ARRAY_SIZE(scx_objs); i++) {
		int *fd = obj_fd(ke, &scx_objs[i]);

		if (!scx_objs[i].pinned)
			continue;
		pin_path(ke, scx_objs[i].name, p, sizeof(p));
		*fd = bpf_obj_get(p);
		if (*fd < 0) {
			err = errno == ENOENT ? -ENOENT : -errno;
			goto fail;
		}
	}
	/* Pins of a creator that died outlive its scheduler: not an enclave any more. */
	if (!scx_is_ours_enabled() || scx_exited(ke, NULL)) {
		err = -ENOENT;
		goto fail;
	}
	ke->ncpus = libbpf_num_possible_cpus();
	if ((err = map_cpu_data(ke)))
		goto fail;
	/* The CPU set, from the kernel side's own record. */
	{
		struct gs_state *st = malloc(sizeof(*st));
		uint32_t zero = 0;

		if (!st) {
			err = -ENOMEM;
			goto fail;
		}
		if (bpf_map_lookup_elem(ke->state_fd, &zero, st)) {
			err = -errno;
			free(st);
			goto fail;
		}
		ghost_cpuset_zero(&ke->cpus);
		for (int c = 0; c < GS_MAX_CPUS; c++)
			if (st->cpus[c].in_enclave)
				ghost_cpuset_set(&ke->cpus, c);
		free(st);
	}
	*out = ke;
	return 0;
fail:
	ke_free(ke);
	return err;
}

static void scx_enclave_close(struct ghost_kenclave *ke)
{
	struct gs_run_args r = { .op = GS_RUN_WAKE_ALL };

	if (!ke)
		return;
	if (ke->owner && ke->run_fd >= 0)
		prog_run(ke->run_fd, &r, sizeof(r));
	ke_free(ke);
}

static int scx_enclave_list(const char *root, uint64_t *ids, int max)
{
	char dir[PATH_MAX];
	struct dirent *d;
	int n = 0;
	DIR *dp;

	if (!scx_is_ours_enabled())
		return 0;
	snprintf(dir, sizeof(dir), "%s", root ? root : SCX_PIN_ROOT);
	dp = opendir(dir);
	if (!dp)
		return 0;
	while ((d = readdir(dp))) {
		char *end;
		unsigned long long v;

		if (strncmp(d->d_name, "enclave_", 8))
			continue;
		v = strtoull(d->d_name + 8, &end, 10);
		if (*end || !v)
			continue;
		if (n < max && ids)
			ids[n] = v;
		n++;
	}
	closedir(dp);
	return n;
}

static uint64_t scx_enclave_id(struct ghost_kenclave *ke)
{
	return ke->id;
}

/* ---- the agents' doorbells ---- */

static int bell_cb(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	((struct scx_bell *)ctx)->rung = true;
	return 0;
}

/*
 * The calling agent of cpu sleeps until its doorbell rings (the BPF side rings it when a
 * message, a ping or an RTLA edge arrives while the agent is marked waiting). A slice ends
 * the wait now and then so that an agent whose scheduler was unloaded notices; waking
 * without a reason is allowed (the agent loop drains and yields again).
 */
static int bell_sleep(struct ghost_kenclave *ke, int cpu)
{
	struct scx_bell *b;
	int n;

	if (cpu < 0 || cpu >= GS_MAX_CPUS || !ke->bell[cpu].rb)
		return -EINVAL;
	b = &ke->bell[cpu];
	b->rung = false;
	n = ring_buffer__poll(b->rb, SCX_SLEEP_SLICE_MS);
	if (n < 0 && n != -EINTR)
		return n;
	if (!b->rung) {
		struct gs_run_args r = { .op = GS_RUN_CHECK_BUSY, .cpu = cpu };

		if (scx_exited(ke, NULL))
			return -ENOTCONN;
		/* A slice without a ring: is a higher class holding this CPU unannounced? */
		prog_run(ke->run_fd, &r, sizeof(r));
	}
	return 0;
}

/* ---- namespace files and ctl ---- */

static int get_state(struct ghost_kenclave *ke, struct gs_state **out)
{
	struct gs_state *st = malloc(sizeof(*st));
	uint32_t zero = 0;

	if (!st)
		return -ENOMEM;
	if (bpf_map_lookup_elem(ke->state_fd, &zero, st)) {
		int err = -errno;

		free(st);
		return err;
	}
	*out = st;
	return 0;
}

static int scx_enclave_destroy(struct ghost_kenclave *ke)
{
	struct gs_admin_args a = { .op = GS_A_EXIT };
	struct gs_run_args r = { .op = GS_RUN_WAKE_ALL };

	if (ke->owner) {
		/* Unloading the scheduler hands every task back to the fair class. */
		prog_run(ke->run_fd, &r, sizeof(r));
		ke->destroyed = true;
		if (ke->link) {
			bpf_link__destroy(ke->link);
			ke->link = NULL;
		}
		unpin_all(ke);
		return 0;
	}
	return admin(ke, &a);
}

/* Region 0 is made with the enclave; sched_ext keeps every word there. */
static int scx_sw_region_create(struct ghost_kenclave *ke, uint32_t id, uint32_t node)
{
	(void)ke, (void)node;
	return id == 0 ? -EEXIST : -EOPNOTSUPP;
}

static int scx_enclave_cpus(struct ghost_kenclave *ke, struct ghost_cpuset *out)
{
	*out = ke->cpus;
	return 0;
}

static int scx_enclave_set_cpus(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus)
{
	(void)cpus;
	return ghost_cpuset_equal(cpus, &ke->cpus) ? 0 : -EBUSY; /* fixed when it was loaded */
}

static int scx_exit_state(struct ghost_kenclave *ke, struct ghost_kexit *out)
{
	struct gs_exit ex;

	out->ended = scx_exited(ke, &ex);
	out->why[0] = 0;
	if (out->ended) {
		ex.reason[sizeof(ex.reason) - 1] = 0;
		ex.msg[sizeof(ex.msg) - 1] = 0;
		snprintf(out->why, sizeof(out->why), "kind %d (%s)%s%s", ex.kind, ex.reason,
			 ex.msg[0] ? ": " : "", ex.msg);
	}
	return 0;
}

static int scx_agent_present(struct ghost_kenclave *ke)
{
	struct gs_state *st;
	int err = get_state(ke, &st), present = 0;

	if (err)
		return err;
	for (int c = 0; c < GS_MAX_CPUS; c++)
		if (st->cpus[c].agent_tid)
			present = 1;
	free(st);
	return present;
}

static int tunable_field(const char *name, uint32_t **field, struct gs_tunables *t)
{
	if (!strcmp(name, "deliver_ticks"))
		*field = &t->deliver_ticks;
	else if (!strcmp(name, "deliver_cpu_availability"))
		*field = &t->deliver_cpu_availability;
	else if (!strcmp(name, "wake_on_waker_cpu"))
		*field = &t->wake_on_waker_cpu;
	else
		return -ENOENT;
	return 0;
}

/* Tunables the ghOSt kernel has and this one accepts without acting on them. */
static bool inert_tunable(const char *name)
{
	return !strcmp(name, "deliver_agent_runnability") || !strcmp(name, "commit_at_tick") ||
	       !strcmp(name, "live_dangerously") || !strcmp(name, "switchto_disabled");
}

static int put(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 ? -EINVAL : (size_t)n >= len ? -ENOSPC : n;
}

static int read_tasks(struct ghost_kenclave *ke, char *buf, size_t len)
{
	struct gs_admin_args a;
	size_t used = 0;
	int64_t start = 0;

	buf[0] = 0;
	while (start < GS_MAX_TASKS) {
		int err;

		memset(&a, 0, sizeof(a));
		a.op = GS_A_TASKS;
		a.arg = start;
		if ((err = admin(ke, &a)))
			return err;
		for (uint32_t i = 0; i < a.n && i < 64; i++) {
			int n = put(buf + used, len - used, "%d\n", a.tids[i]);

			if (n < 0)
				return n;
			used += (size_t)n;
		}
		start = (int64_t)a.out;
	}
	return (int)used;
}

static int scx_file_read(struct ghost_kenclave *ke, const char *name, char *buf, size_t len)
{
	struct gs_state *st;
	uint32_t *field;
	int err;

	if (!name || !buf || !len)
		return -EINVAL;
	if (!strcmp(name, "cpulist")) {
		char list[GHOST_CPUSET_LIST_MAX];

		ghost_cpuset_format_list(&ke->cpus, list, sizeof(list));
		return put(buf, len, "%s", list);
	}
	if (!strcmp(name, "cpumask")) {
		char mask[GHOST_CPUSET_MASK_MAX];

		ghost_cpuset_format_mask(&ke->cpus, ke->ncpus, mask, sizeof(mask));
		return put(buf, len, "%s", mask);
	}
	if (!strcmp(name, "abi_version"))
		return put(buf, len, "%d", GHOST_VERSION);
	if (!strcmp(name, "runnable_timeout"))
		return put(buf, len, "30000");
	if (inert_tunable(name))
		return put(buf, len, "0");
	if (!strcmp(name, "tasks"))
		return read_tasks(ke, buf, len);
	if (!strcmp(name, "exit_info")) {
		struct ghost_kexit ex;

		scx_exit_state(ke, &ex);
		return put(buf, len, "%s", ex.ended ? ex.why : "running");
	}
	if (!strcmp(name, "agent_online")) {
		err = scx_agent_present(ke);
		return err < 0 ? err : put(buf, len, "%d", err);
	}
	err = get_state(ke, &st);
	if (err)
		return err;
	if (!tunable_field(name, &field, &st->tun)) {
		err = put(buf, len, "%u", *field);
	} else if (!strcmp(name, "status")) {
		const struct gs_stats *s = &st->stats;

		err = put(
			buf, len,
			"active %s\nnr_tasks %u\ncommits %llu\ncommit_failures %llu\n"
			"dispatches %llu\ndispatch_skips %llu\nmsgs_dropped %llu\nunmanaged %llu\n"
			"preempted_tasks_back_by %s\ncpu_releases %llu\nhanded_back %llu\n"
			"busy_dispatches %llu\nbusy_checks %llu\n",
			ke->destroyed || scx_exited(ke, NULL) ? "no" : "yes",
			GS_MAX_TASKS - st->nfree, (unsigned long long)s->commits,
			(unsigned long long)s->commit_fails, (unsigned long long)s->dispatches,
			(unsigned long long)s->dispatch_skips, (unsigned long long)s->dropped,
			(unsigned long long)s->unmanaged,
			st->immed ? "SCX_ENQ_IMMED" : "cpu_release",
			(unsigned long long)s->cpu_releases, (unsigned long long)s->handed_back,
			(unsigned long long)s->busy_dispatches, (unsigned long long)s->busy_checks);
		for (int c = 0; c < GS_MAX_CPUS && err > 0; c++) {
			const struct gs_cpu *cr = &st->cpus[c];
			int n;

			if (!cr->in_enclave)
				continue;
			n = put(buf + err, len - (size_t)err, "cpu %d agent %d %s%s%s\n", c,
				cr->agent_tid, cr->unavail ? "busy" : "available",
				cr->waiting ? " sleeping" : "",
				cr->latch_slot >= 0 ? " latched" : "");
			err = n < 0 ? n : err + n;
		}
	} else {
		err = -ENOENT;
	}
	free(st);
	return err;
}

static int scx_task_enter(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **self);

static int scx_file_write(struct ghost_kenclave *ke, const char *name, const char *text)
{
	struct gs_admin_args a = { .op = GS_A_TUNE };
	struct gs_state *st;
	uint32_t *field;
	char *end;
	long v;
	int err;

	if (!name || !text)
		return -EINVAL;
	errno = 0;
	v = strtol(text, &end, 10);
	while (*end == '\n' || *end == ' ')
		end++;
	if (!strcmp(name, "tasks")) {
		if (end == text || *end || errno || v < 0 || v > INT_MAX)
			return -EINVAL;
		return scx_task_enter(ke, (pid_t)v, NULL);
	}
	if (!strcmp(name, "cpulist") || !strcmp(name, "cpumask"))
		return -EBUSY; /* fixed when the scheduler was loaded */
	if (!strcmp(name, "runnable_timeout") || !strcmp(name, "abi_version") ||
	    !strcmp(name, "status") || !strcmp(name, "agent_online") || !strcmp(name, "exit_info"))
		return -EACCES;
	if (inert_tunable(name))
		return end == text || *end || errno ? -EINVAL : 0;
	err = get_state(ke, &st);
	if (err)
		return err;
	a.tun = st->tun;
	free(st);
	if (tunable_field(name, &field, &a.tun))
		return -ENOENT;
	if (end == text || *end || errno || v < 0 || v > 1)
		return -EINVAL;
	*field = (uint32_t)v;
	return admin(ke, &a);
}

/* ---- shared memory ---- */

static int scx_cpu_data_map(struct ghost_kenclave *ke, struct ghost_cpu_data **out, int *ncpus)
{
	if (!ke->cd)
		return -ENOENT;
	*out = ke->cd;
	*ncpus = ke->ncpus;
	return 0;
}

static int scx_sw_region_map(struct ghost_kenclave *ke, uint32_t id,
			     const struct ghost_sw_region_header **out, size_t *size)
{
	void *m;

	if (id != 0)
		return -ENOENT;
	m = mmap(NULL, sizeof(struct gs_sw_region), PROT_READ, MAP_SHARED, ke->sw_fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	*out = m;
	*size = sizeof(struct gs_sw_region);
	return 0;
}

static void scx_sw_region_unmap(struct ghost_kenclave *ke, const struct ghost_sw_region_header *hdr,
				size_t size)
{
	(void)ke;
	munmap((void *)hdr, size);
}

static int scx_sw_get_info(struct ghost_kenclave *ke, int type, uint64_t arg,
			   struct ghost_sw_info *out)
{
	struct gs_admin_args a = { .op = GS_A_SW_INFO, .arg = (int64_t)arg };
	int err;

	if (type != GHOST_AGENT && type != GHOST_TASK)
		return -EINVAL;
	a.n = type == GHOST_AGENT ? 0 : 1;
	err = admin(ke, &a);
	if (err)
		return err;
	out->id = 0;
	out->index = (uint32_t)a.out;
	return 0;
}

static int scx_sw_free(struct ghost_kenclave *ke, const struct ghost_sw_info *info)
{
	struct gs_admin_args a = { .op = GS_A_SW_FREE };

	if (!info)
		return -EINVAL;
	if (info->id != 0 || info->index >= GS_MAX_TASKS)
		return -ENOENT;
	a.arg = info->index;
	return admin(ke, &a);
}

/* ---- queues ---- */

static int scx_queue_create(struct ghost_kenclave *ke, int elems, int node, int flags,
			    struct ghost_kqueue *out)
{
	struct gs_admin_args a = { .op = GS_A_QUEUE_CREATE, .arg = elems };
	void *m;
	int err;

	if (flags || elems < 1 || elems > GHOST_MAX_QUEUE_ELEMS || (elems & (elems - 1)) || !out)
		return -EINVAL;
	if (node != 0)
		return -ENODEV;
	err = admin(ke, &a);
	if (err)
		return err;
	m = mmap(NULL, sizeof(struct gs_queue), PROT_READ | PROT_WRITE, MAP_SHARED, ke->queues_fd,
		 (off_t)a.qid * (off_t)sizeof(struct gs_queue));
	if (m == MAP_FAILED) {
		err = -errno;
		a.op = GS_A_QUEUE_DESTROY;
		admin(ke, &a);
		return err;
	}
	pthread_mutex_lock(&ke->lock);
	ke->qmap[a.qid] = m;
	pthread_mutex_unlock(&ke->lock);
	out->id = a.qid;
	out->map = m;
	out->mapsize = sizeof(struct gs_queue);
	return 0;
}

static void scx_queue_destroy(struct ghost_kenclave *ke, struct ghost_kqueue *q)
{
	struct gs_admin_args a = { .op = GS_A_QUEUE_DESTROY };

	if (!q || q->id < 0 || q->id >= GS_MAX_QUEUES)
		return;
	a.qid = q->id;
	admin(ke, &a);
	pthread_mutex_lock(&ke->lock);
	if (ke->qmap[q->id] == q->map) {
		munmap(q->map, sizeof(struct gs_queue));
		ke->qmap[q->id] = NULL;
	}
	pthread_mutex_unlock(&ke->lock);
	q->map = NULL;
}

static int scx_queue_assoc(struct ghost_kenclave *ke, int qid, int64_t gtid, uint32_t barrier,
			   int flags)
{
	struct gs_admin_args a = {
		.op = GS_A_QUEUE_ASSOC, .qid = qid, .arg = gtid, .barrier = barrier
	};
	int err;

	if (flags)
		return -EINVAL;
	err = admin(ke, &a);
	return err ? err : (int)a.out;
}

static int scx_queue_set_default(struct ghost_kenclave *ke, int qid)
{
	struct gs_admin_args a = { .op = GS_A_QUEUE_DEFAULT, .qid = qid };

	return admin(ke, &a);
}

static int scx_queue_config_wakeup(struct ghost_kenclave *ke, int qid,
				   const struct ghost_agent_wakeup *w, int n)
{
	struct gs_admin_args a = { .op = GS_A_QUEUE_WAKEUP, .qid = qid };

	if (n < 0 || n > GHOST_MAX_WINFO || (n && !w))
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		if (w[i].prio)
			return -EINVAL;
		a.cpus[i] = w[i].cpu;
	}
	a.n = (uint32_t)n;
	return admin(ke, &a);
}

/* ---- agents ---- */

static int scx_agent_online(struct ghost_kenclave *ke)
{
	/* The agents must live in the process that holds the scheduler's link. */
	if (!ke->owner)
		return -EBUSY;
	if (__atomic_exchange_n(&ke->agent_claimed, true, __ATOMIC_ACQ_REL))
		return -EBUSY;
	return 0;
}

static void scx_agent_offline(struct ghost_kenclave *ke)
{
	__atomic_store_n(&ke->agent_claimed, false, __ATOMIC_RELEASE);
}

static int scx_agent_attach(struct ghost_kenclave *ke, int cpu, int qid)
{
	struct gs_admin_args a = { .op = GS_A_AGENT_ATTACH, .cpu = cpu, .qid = qid };
	cpu_set_t set;
	int err;

	if (cpu < 0 || cpu >= GS_MAX_CPUS || !ghost_cpuset_test(&ke->cpus, cpu))
		return -ENODEV;
	if (!ke->owner || ke->bell_fd[cpu] < 0)
		return -EBADF;
	/* Pinned first: the kernel side identifies a calling agent by the CPU it runs on. */
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	if (!ke->bell[cpu].rb) {
		ke->bell[cpu].rb =
			ring_buffer__new(ke->bell_fd[cpu], bell_cb, &ke->bell[cpu], NULL);
		if (!ke->bell[cpu].rb)
			return -errno;
	}
	err = admin(ke, &a);
	return err;
}

static void scx_agent_detach(struct ghost_kenclave *ke, int cpu)
{
	struct gs_admin_args a = { .op = GS_A_AGENT_DETACH, .cpu = cpu };

	if (cpu < 0 || cpu >= GS_MAX_CPUS)
		return;
	admin(ke, &a);
}

/* ---- transactions ---- */

/* GHOST_IOC_COMMIT_TXN (sync = false, returns 0) or GHOST_IOC_SYNC_GROUP_TXN (1 / 0). */
static int commit_cpus(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, bool sync)
{
	struct gs_commit_args a;
	int cpu, err;

	if (!cpus)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.sync = sync;
	ghost_cpuset_for_each(cpu, cpus) {
		if (cpu >= GS_MAX_CPUS)
			return -EINVAL;
		a.mask[cpu / 64] |= 1ull << (cpu % 64);
	}
	err = prog_run(ke->commit_fd, &a, sizeof(a));
	if (err)
		return err;
	if (a.err)
		return a.err;
	/* A successful local commit gives the CPU to the task: the agent sleeps. */
	if (a.local_cpu >= 0)
		bell_sleep(ke, a.local_cpu);
	return sync ? a.result : 0;
}

static int scx_commit(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, unsigned flags)
{
	if (flags & ~GHOST_KCOMMIT_SYNC_GROUP)
		return -EINVAL;
	return commit_cpus(ke, cpus, flags & GHOST_KCOMMIT_SYNC_GROUP);
}

static int scx_run(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier,
		   uint32_t task_barrier, int cpu, int run_flags)
{
	struct gs_run_args r = { .cpu = cpu,
				 .agent_barrier = agent_barrier,
				 .run_flags = (uint32_t)run_flags };
	int err;

	(void)task_barrier;
	if (cpu < 0 || cpu >= GS_MAX_CPUS)
		return -EINVAL;
	if (gtid == GHOST_NULL_GTID) {
		if (run_flags & ~RTLA_ON_IDLE)
			return -EINVAL;
		r.op = GS_RUN_YIELD;
	} else if (gtid == GHOST_AGENT_GTID) {
		r.op = GS_RUN_PING;
	} else {
		return -EINVAL;
	}
	err = prog_run(ke->run_fd, &r, sizeof(r));
	if (err)
		return err;
	if (r.err)
		return r.err;
	return r.op == GS_RUN_YIELD ? bell_sleep(ke, cpu) : 0;
}

/* ---- tasks ---- */

static int scx_task_enter(struct ghost_kenclave *ke, pid_t tid, struct ghost_ktask **self)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (self)
		*self = NULL;
	if (tid < 0)
		return -EINVAL;
	if (ke->destroyed || !scx_is_ours_enabled() || scx_exited(ke, NULL))
		return -EXDEV;
	/* Any thread in SCHED_EXT is a task of the (only) enclave; its children too. */
	return sched_setscheduler(tid, SCHED_EXT, &sp) ? -errno : 0;
}

static int scx_task_leave(struct ghost_kenclave *ke, pid_t tid)
{
	struct sched_param sp = { .sched_priority = 0 };

	(void)ke;
	if (tid < 0)
		return -EINVAL;
	return sched_setscheduler(tid, SCHED_OTHER, &sp) ? -errno : 0;
}

static int scx_gtid_of(struct ghost_kenclave *ke, pid_t tid, int64_t *gtid)
{
	struct gs_admin_args a = { .op = GS_A_GTID_OF };
	int err;

	if (tid < 0 || !gtid)
		return -EINVAL;
	a.arg = tid ? tid : gettid();
	err = admin(ke, &a);
	if (err)
		return err;
	*gtid = (int64_t)a.out;
	return 0;
}

static int scx_get_cpu_time(struct ghost_kenclave *ke, int64_t gtid, uint64_t *ns)
{
	char path[64], text[128];
	int64_t now_gtid;
	pid_t tid;
	int err;

	if (gtid <= 0 || !ns)
		return -EINVAL;
	tid = (pid_t)((uint64_t)gtid >> GHOST_GTID_SEQ_BITS);
	err = scx_gtid_of(ke, tid, &now_gtid);
	if (err || now_gtid != gtid)
		return -ESRCH;
	/* First field of schedstat: time on a CPU, in ns. */
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)tid);
	if (read_text(path, text, sizeof(text)) < 0)
		return -ESRCH;
	*ns = strtoull(text, NULL, 10);
	return 0;
}

static int scx_timer_set(struct ghost_kenclave *ke, int cpu, int slot, uint64_t type,
			 uint64_t cookie, int64_t expires_ns, int64_t period_ns)
{
	(void)ke, (void)cpu, (void)slot, (void)type, (void)cookie, (void)expires_ns,
		(void)period_ns;
	return -EOPNOTSUPP;
}

/*
 * No GHOST_KCAP_USER_TASKS: the kernel itself sees exits, ordinary futex waits, affinity
 * and nice changes, and preempts tasks safely. No timers, no discovery: the enclave ends
 * with its agent's process.
 */
const struct ghost_kernel_ops ghost_kernel_scx = {
	.version = GHOST_KERNEL_OPS_VERSION,
	.name = "scx",
	.summary = "sched_ext BPF scheduler on a stock kernel (>= 6.12)",
	.caps = GHOST_KCAP_FOREIGN_TASKS | GHOST_KCAP_SELF_EXIT,
	.probe = scx_probe,
	.enclave_create = scx_enclave_create,
	.enclave_attach = scx_enclave_attach,
	.enclave_close = scx_enclave_close,
	.enclave_list = scx_enclave_list,
	.enclave_id = scx_enclave_id,
	.enclave_destroy = scx_enclave_destroy,
	.enclave_cpus = scx_enclave_cpus,
	.enclave_set_cpus = scx_enclave_set_cpus,
	.exit_state = scx_exit_state,
	.agent_present = scx_agent_present,
	.file_read = scx_file_read,
	.file_write = scx_file_write,
	.cpu_data_map = scx_cpu_data_map,
	.sw_region_create = scx_sw_region_create,
	.sw_region_map = scx_sw_region_map,
	.sw_region_unmap = scx_sw_region_unmap,
	.sw_get_info = scx_sw_get_info,
	.sw_free = scx_sw_free,
	.queue_create = scx_queue_create,
	.queue_destroy = scx_queue_destroy,
	.queue_assoc = scx_queue_assoc,
	.queue_set_default = scx_queue_set_default,
	.queue_config_wakeup = scx_queue_config_wakeup,
	.agent_online = scx_agent_online,
	.agent_offline = scx_agent_offline,
	.agent_attach = scx_agent_attach,
	.agent_detach = scx_agent_detach,
	.commit = scx_commit,
	.run = scx_run,
	.task_enter = scx_task_enter,
	.task_leave = scx_task_leave,
	.get_cpu_time = scx_get_cpu_time,
	.gtid_of = scx_gtid_of,
	.timer_set = scx_timer_set,
};
