/*
 * kernels/emu/emu_net.c - the safety net: a ghost task whose thread sleeps in the host
 * kernel outside the library (a raw system call, a lock inside the C library, a read on a
 * pipe) is reported blocked, and woken once its thread runs again, as if it had said so.
 *
 * Run by the kernel thread of the agent's process (emu_kthread.c) every net_period_us.
 * Owns its samples: each CPU's current task's host state (/proc/PID/task/TID/stat) and
 * switch-in count (.../schedstat), with those files kept open, and the tasks it took off
 * their CPUs until they run again. A current task found asleep (S, D or stopped) at two
 * samples a period apart, not switched in between and not inside the library (in_lib),
 * gets TASK_BLOCKED through emu_core; one that then runs gets TASK_WAKEUP and the
 * preemption signal, which parks it until it is committed. It reads /proc without the
 * enclave lock, takes the lock only to act and re-checks everything under it. It never
 * reports a thread inside the library, never blocks on anything but the enclave lock, and
 * calls only emu_core, emu_lock and emu_shm (the kernel thread's layer).
 */
#include "emu.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NET_FDS	     128	 /* threads whose /proc files stay open */
#define NET_ADOPT_NS 50000000LL	 /* net-blocked tasks it does not know of: looked for */
#define NET_BUSY_NS  100000000LL /* sampled at full rate this long after a task ran */
#define NET_STRIKES  2		 /* asleep at this many samples in a row: blocked */

/* The open /proc files of one thread. */
struct net_fds {
	int32_t pid, tid;
	int stat_fd, sched_fd;
	int64_t used;
};

/* What the last samples of a CPU's current task said. */
struct net_cpu {
	int64_t gtid;  /* 0: nothing sampled */
	int64_t since; /* its oncpu_since: one stay on the CPU */
	uint64_t runs; /* times switched in by the host, at the first sample */
	int strikes;   /* samples in a row that found it asleep */
};

/* A task the net took off its CPU, watched until its thread runs. */
struct net_watch {
	int32_t idx;
	int64_t gtid;
	uint64_t runs; /* when it was found blocked */
};

struct emu_net_local {
	struct net_fds fds[NET_FDS];
	struct net_cpu cpu[GHOST_MAX_CPUS];
	struct net_watch *watch;
	int nwatch, capwatch;
	int64_t last_run, last_adopt, busy_until;
};

int64_t emu_net_period(struct ghost_kenclave *ke)
{
	int64_t us = __atomic_load_n(&ke->sh->net_period_us, __ATOMIC_RELAXED);

	if (us <= 0 || ke->virt)
		return 0;
	/* An enclave where nothing ran for a while is sampled at the kernel thread's own pace;
	 * the first sample after a task starts running may then come up to that late. */
	if (ke->net && (ke->net->nwatch || emu_now() < ke->net->busy_until))
		return us * 1000;
	for (int c = 0; c < (int)ke->sh->ncpus; c++)
		if (__atomic_load_n(&emu_cpu(ke->sh, c)->current, __ATOMIC_ACQUIRE) >= 0)
			return us * 1000;
	return 0;
}

static void fds_close(struct net_fds *f)
{
	if (f->stat_fd >= 0)
		close(f->stat_fd);
	if (f->sched_fd >= 0)
		close(f->sched_fd);
	f->pid = f->tid = 0;
	f->stat_fd = f->sched_fd = -1;
	f->used = 0;
}

/* The open files of thread tid of process pid (opened, or the least used reopened). */
static struct net_fds *fds_get(struct emu_net_local *nl, int32_t pid, int32_t tid, int64_t now)
{
	struct net_fds *f = &nl->fds[0];
	char path[64];

	if (pid <= 0 || tid <= 0)
		return NULL;
	for (int i = 0; i < NET_FDS; i++) {
		if (nl->fds[i].tid == tid && nl->fds[i].pid == pid) {
			nl->fds[i].used = now;
			return &nl->fds[i];
		}
		if (nl->fds[i].used < f->used)
			f = &nl->fds[i];
	}
	fds_close(f);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->stat_fd < 0)
		return NULL;
	/* Without schedstat (no CONFIG_SCHED_INFO) the state alone decides. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pid, tid);
	f->sched_fd = open(path, O_RDONLY | O_CLOEXEC);
	f->pid = pid;
	f->tid = tid;
	f->used = now;
	return f;
}

static bool read_text(int fd, char *buf, size_t len)
{
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, len - 1, 0);

	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* Times the host switched the thread in (schedstat's third field); false if unknown. */
static bool sample_runs(struct net_fds *f, uint64_t *runs)
{
	unsigned long long run_ns, wait_ns, n;
	char buf[96];

	if (!read_text(f->sched_fd, buf, sizeof(buf)) ||
	    sscanf(buf, "%llu %llu %llu", &run_ns, &wait_ns, &n) != 3)
		return false;
	*runs = n;
	return true;
}

/* The thread's state letter, 0 if unknown (its thread is gone: the files are dropped). */
static char sample_state(struct net_fds *f)
{
	char buf[512], *p;

	if (!read_text(f->stat_fd, buf, sizeof(buf))) {
		fds_close(f);
		return 0;
	}
	/* The name in parentheses may hold anything, ')' included: the last one ends it. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Not running and not waiting for a host CPU: asleep, in a disk wait, or stopped. */
static bool asleep(char s)
{
	return s == 'S' || s == 'D' || s == 'T' || s == 't';
}

static void watch_add(struct emu_net_local *nl, int32_t idx, int64_t gtid, uint64_t runs)
{
	for (int i = 0; i < nl->nwatch; i++)
		if (nl->watch[i].idx == idx) {
			nl->watch[i].gtid = gtid;
			nl->watch[i].runs = runs;
			return;
		}
	if (nl->nwatch == nl->capwatch) {
		int cap = nl->capwatch ? 2 * nl->capwatch : 16;
		struct net_watch *w = realloc(nl->watch, (size_t)cap * sizeof(*w));

		/* Unwatched, it is found again by adopt() (or wakes itself in the library). */
		if (!w)
			return;
		nl->watch = w;
		nl->capwatch = cap;
	}
	nl->watch[nl->nwatch++] = (struct net_watch){ idx, gtid, runs };
}

/*
 * CPU c's current task: asleep in the host at NET_STRIKES samples in a row, never switched
 * in between and never inside the library, it is blocked.
 */
static void check_current(struct ghost_kenclave *ke, struct emu_net_local *nl, int c, int64_t now)
{
	struct emu_shared *sh = ke->sh;
	struct emu_cpu *ec = emu_cpu(sh, c);
	struct net_cpu *nc = &nl->cpu[c];
	int32_t idx = __atomic_load_n(&ec->current, __ATOMIC_ACQUIRE);
	struct emu_task *t = emu_task_at(sh, idx);
	int64_t gtid, since;
	struct net_fds *f;
	uint64_t runs = 0;
	bool have_runs;
	char st;

	if (!t || !__atomic_load_n(&ec->in_enclave, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != EMU_T_ONCPU ||
	    emu_tflags_any(t, EMU_TF_UNMANAGED | EMU_TF_VIRTUAL)) {
		nc->gtid = 0;
		return;
	}
	nl->busy_until = now + NET_BUSY_NS;
	/*
	 * Read without the lock: the record may change under us (the task leaves, its record
	 * is freed, gtid atomically). Whatever we read only decides whether to look closer;
	 * every fact is checked again under the lock before anything is done. In this process
	 * a record is reused only by a thread that entered after it took kt_lock, which we
	 * hold: pid and tid (written once, when it entered) do not change while we read them.
	 */
	gtid = __atomic_load_n(&t->gtid, __ATOMIC_RELAXED);
	since = __atomic_load_n(&t->oncpu_since, __ATOMIC_RELAXED);
	f = fds_get(nl, __atomic_load_n(&t->pid, __ATOMIC_RELAXED),
		    __atomic_load_n(&t->tid, __ATOMIC_RELAXED), now);
	if (!f)
		return;
	have_runs = sample_runs(f, &runs);
	if (nc->gtid != gtid || nc->since != since) {
		/* A new stay on the CPU: this is its first sample. */
		nc->gtid = gtid;
		nc->since = since;
		nc->runs = runs;
		nc->strikes = 0;
	} else if (runs != nc->runs) {
		nc->runs = runs; /* switched in since: it ran */
		nc->strikes = 0;
		return;
	}
	st = sample_state(f);
	/*
	 * The state first, then in_lib: a thread about to sleep inside the library set in_lib
	 * (release) before it entered the host kernel, and the host's scheduler records the
	 * sleep after that (a full barrier as the thread goes to sleep). So a sleep we saw is
	 * one whose in_lib we see: our load comes after the read of /proc, a system call,
	 * which the host kernel's entry and exit keep it behind.
	 */
	if (!asleep(st) || __atomic_load_n(&t->in_lib, __ATOMIC_ACQUIRE)) {
		nc->strikes = 0;
		return;
	}
	if (++nc->strikes < NET_STRIKES)
		return;
	nc->strikes = 0;
	if (emu_lock(ke))
		return;
	/* Still the same stay, still outside the library (a thread waiting for the lock we
	 * hold set in_lib), and not switched in since the first sample. */
	if (ec->current == idx && t->gtid == gtid && t->state == EMU_T_ONCPU &&
	    t->oncpu_since == since && !__atomic_load_n(&t->in_lib, __ATOMIC_ACQUIRE) &&
	    (!have_runs || (sample_runs(f, &runs) && runs == nc->runs))) {
		emu_task_net_block(ke, t);
		watch_add(nl, idx, gtid, nc->runs);
	}
	emu_unlock(ke);
	nc->gtid = 0;
}

/* Drops watch entry i (the order does not matter). */
static void watch_drop(struct emu_net_local *nl, int i)
{
	nl->watch[i] = nl->watch[--nl->nwatch];
}

/* Net-blocked tasks whose threads run again wake, and are sent the signal that parks them. */
static void check_watched(struct ghost_kenclave *ke, struct emu_net_local *nl, int64_t now)
{
	struct emu_shared *sh = ke->sh;

	for (int i = 0; i < nl->nwatch;) {
		struct net_watch *w = &nl->watch[i];
		struct emu_task *t = emu_task_at(sh, w->idx);
		struct net_fds *f;
		uint64_t runs;
		bool awake;
		char st;

		/* Woken already (by its own thread, in the library), released, dead, reused. */
		if (!t || __atomic_load_n(&t->gtid, __ATOMIC_RELAXED) != w->gtid ||
		    __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != EMU_T_BLOCKED ||
		    !emu_tflags_any(t, EMU_TF_NET) || emu_tflags_any(t, EMU_TF_UNMANAGED)) {
			watch_drop(nl, i);
			continue;
		}
		f = fds_get(nl, __atomic_load_n(&t->pid, __ATOMIC_RELAXED),
			    __atomic_load_n(&t->tid, __ATOMIC_RELAXED), now);
		if (!f) {
			i++; /* gone: the dead-thread scan reaps it */
			continue;
		}
		if (sample_runs(f, &runs) && runs != w->runs) {
			awake = true; /* switched in since: it ran, whatever it does now */
		} else {
			st = sample_state(f);
			/* R: running, or waiting for a host CPU (it will run user code). */
			awake = st == 'R';
		}
		if (!awake) {
			i++;
			continue;
		}
		if (emu_lock(ke) == 0) {
			if (t->gtid == w->gtid)
				emu_task_net_wake(ke, t);
			emu_unlock(ke);
		}
		watch_drop(nl, i);
	}
}

/* Net-blocked tasks it has no entry for (a previous agent's process blocked them). */
static void adopt(struct ghost_kenclave *ke, struct emu_net_local *nl)
{
	struct emu_shared *sh = ke->sh;

	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);
		bool known = false;

		if (!emu_tflags_any(t, EMU_TF_NET) ||
		    __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != EMU_T_BLOCKED)
			continue;
		for (int k = 0; k < nl->nwatch && !known; k++)
			known = nl->watch[k].idx == (int32_t)i;
		/* Its switch count is unknown: only a state of R will wake it. */
		if (!known)
			watch_add(nl, (int32_t)i, __atomic_load_n(&t->gtid, __ATOMIC_RELAXED),
				  UINT64_MAX);
	}
}

void emu_net_run(struct ghost_kenclave *ke, int64_t now)
{
	struct emu_shared *sh = ke->sh;
	int64_t us = __atomic_load_n(&sh->net_period_us, __ATOMIC_RELAXED);
	struct emu_net_local *nl = ke->net;

	/* Turned off, it still wakes what it took off (at the kernel thread's own pace). */
	if (ke->virt || (us <= 0 && (!nl || !nl->nwatch)))
		return;
	if (!nl) {
		nl = calloc(1, sizeof(*nl));
		if (!nl)
			return;
		for (int i = 0; i < NET_FDS; i++)
			nl->fds[i].stat_fd = nl->fds[i].sched_fd = -1;
		ke->net = nl;
	}
	/* A pass per period: the kernel thread's sleep for a period may end a little early or
	 * late, and a pass skipped for being a hair early would make the period two. */
	if (us > 0 && now - nl->last_run < us * 1000 * 3 / 4)
		return;
	nl->last_run = now;
	if (us > 0) {
		for (int c = 0; c < (int)sh->ncpus && c < GHOST_MAX_CPUS; c++)
			check_current(ke, nl, c, now);
		if (now - nl->last_adopt >= NET_ADOPT_NS) {
			nl->last_adopt = now;
			adopt(ke, nl);
		}
	}
	check_watched(ke, nl, now);
}

void emu_net_forget(struct ghost_kenclave *ke)
{
	struct emu_net_local *nl = ke->net;

	if (!nl)
		return;
	for (int i = 0; i < NET_FDS; i++)
		fds_close(&nl->fds[i]);
	free(nl->watch);
	free(nl);
	ke->net = NULL;
}
