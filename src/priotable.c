/*
 * priotable.c - the PrioTable: creation by the application, attachment by
 * an agent, the seqcount protocol and the stream of updated indices.
 *
 * Owns the shared memory (a sealed memfd named "ghost-prio-table" that an
 * agent finds through /proc/PID/fd) and the process-local handle. The agent
 * side copies the header's geometry once, checked against the file's size,
 * and uses only its copy: the application may scribble over the shared
 * header afterwards without sending the agent out of bounds. The memfd is
 * sealed against shrinking, so a mapping never loses its pages under the
 * agent (which would be SIGBUS). The agent never open()s the application's
 * file: it takes a duplicate of the descriptor (pidfd_getfd) and checks what
 * that descriptor is, so no lease, FIFO, terminal or FUSE file can block or
 * steer it, and the file cannot be swapped between the check and the use.
 * Every loop over shared memory is bounded. It never blocks, never prints.
 */
#include "internal.h"

#include <ghost/priotable.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MEMFD_NAME	"ghost-prio-table"
#define DEFAULT_STREAM	83
#define MAX_ITEMS	65536u
#define MAX_CLASSES	1024u
#define MAX_STREAM	4096u /* ghost-userspace uses at most 97 */
#define MAX_FDS_SCANNED 1024  /* entries of /proc/PID/fd an attach looks at */
#define STREAM_FREE	(-1)  /* an empty stream cell (ghost-userspace: UINT32_MAX) */
#define MARK_RETRIES	3     /* cells tried before falling back to scrape_all */
#define READ_RETRIES	64    /* a writer holds an item for a few stores only */

_Static_assert(sizeof(struct ghost_prio_table_hdr) == 64, "header is one cache line");
_Static_assert(sizeof(struct ghost_sched_item) == 64, "sched item is one cache line");
_Static_assert(sizeof(struct ghost_work_class) == 64, "work class is one cache line");

struct prio_stream {
	int32_t scrape_all; /* > 0: changes were lost, read every item */
	int32_t entries[];
};

struct ghost_prio_table {
	void *map;
	size_t maplen;
	int fd;
	bool owner;
	pid_t pid;
	/* The geometry, copied and checked once (the agent's side trusts no
	 * later change to the shared header). */
	uint32_t si_num, si_off, wc_num, wc_off, st_cap, st_off;
	uint32_t cursor; /* agent: the stream cell to look at next */
};

/* One table per process: an agent finds it by this process's pid. */
static int table_exists;
static struct ghost_prio_table *own_table;

/*
 * A forked child inherits the descriptor but is another process: it may create
 * a table of its own, and an agent must not take the parent's for the child's.
 */
static void forget_in_child(void)
{
	if (own_table && own_table->fd >= 0) {
		close(own_table->fd);
		own_table->fd = -1;
	}
	own_table = NULL;
	__atomic_store_n(&table_exists, 0, __ATOMIC_RELAXED);
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, forget_in_child);
}

static struct ghost_sched_item *item_at(const struct ghost_prio_table *pt, uint32_t sid)
{
	return (struct ghost_sched_item *)((char *)pt->map + pt->si_off) + sid;
}

static struct ghost_work_class *class_at(const struct ghost_prio_table *pt, uint32_t wcid)
{
	return (struct ghost_work_class *)((char *)pt->map + pt->wc_off) + wcid;
}

static struct prio_stream *stream_of(const struct ghost_prio_table *pt)
{
	return (struct prio_stream *)((char *)pt->map + pt->st_off);
}

/* ---- the seqcount ---- */

/*
 * The writer's side. A writer holds the item for a few stores, and the
 * enclave must not preempt it in between: a ghost task parked with the
 * seqcount odd would keep every other writer of the item waiting, and if one
 * of those runs where the agent needs to (a real-time load generator on the
 * agent's CPU, say), nothing would ever run it again. So the section is a
 * no-preemption section, and a writer that finds the item held spins a
 * little, then gives its CPU up between tries.
 */
static uint32_t write_begin(struct ghost_sched_item *si)
{
	uint32_t s;

	ghost_nopreempt_enter();
	s = __atomic_load_n(&si->seqcount, __ATOMIC_RELAXED);
	for (unsigned tries = 0;; tries++) {
		/* Odd: another writer (of this process) is inside. */
		if (s & 1) {
			if (tries < 1000) {
				ghost_cpu_relax();
			} else {
				struct timespec ts = { 0, 1000 };

				nanosleep(&ts, NULL);
			}
			s = __atomic_load_n(&si->seqcount, __ATOMIC_RELAXED);
			continue;
		}
		/* Acquire: our field stores stay after the odd value. */
		if (__atomic_compare_exchange_n(&si->seqcount, &s, s + 1, true, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return s + 1;
	}
}

static void write_end(struct ghost_sched_item *si, uint32_t begin)
{
	/* Release: a reader that sees the even value sees every field. */
	__atomic_store_n(&si->seqcount, begin + 1, __ATOMIC_RELEASE);
	ghost_nopreempt_leave();
}

/* Announces that item idx changed (a free cell near idx, else scrape_all). */
static void mark_updated(struct ghost_prio_table *pt, uint32_t idx)
{
	struct prio_stream *s = stream_of(pt);

	if (__atomic_load_n(&s->scrape_all, __ATOMIC_RELAXED) > 0) {
		/* Already overflowed: the reader's full pass covers us. Release
		 * orders our item write before the count it will see. */
		__atomic_add_fetch(&s->scrape_all, 1, __ATOMIC_RELEASE);
		return;
	}
	for (uint32_t i = 0; i <= MARK_RETRIES; i++) {
		int32_t *cell = &s->entries[(idx + i) % pt->st_cap];
		int32_t free_cell = STREAM_FREE;

		if (__atomic_load_n(cell, __ATOMIC_RELAXED) == STREAM_FREE &&
		    __atomic_compare_exchange_n(cell, &free_cell, (int32_t)idx, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED))
			return;
	}
	__atomic_add_fetch(&s->scrape_all, 1, __ATOMIC_RELEASE);
}

/* ---- creating (the application) ---- */

static size_t round_up(size_t v, size_t to)
{
	return (v + to - 1) / to * to;
}

int ghost_prio_table_create(const struct ghost_prio_table_opts *opts, struct ghost_prio_table **out)
{
	struct ghost_prio_table_opts o = { 0 };
	struct ghost_prio_table *pt;
	struct ghost_prio_table_hdr *hdr;
	size_t size, page = (size_t)sysconf(_SC_PAGESIZE);
	int expected = 0, err;

	if (!opts || !out)
		return -EINVAL;
	err = ghost_opts_copy(&o, sizeof(o), opts);
	if (err)
		return err;
	if (!o.stream)
		o.stream = DEFAULT_STREAM;
	if (!o.items || o.items > MAX_ITEMS || !o.classes || o.classes > MAX_CLASSES ||
	    o.stream > MAX_STREAM)
		return -EINVAL;
	{
		static pthread_once_t once = PTHREAD_ONCE_INIT;

		pthread_once(&once, watch_forks);
	}
	if (!__atomic_compare_exchange_n(&table_exists, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return -EEXIST;
	pt = calloc(1, sizeof(*pt));
	if (!pt) {
		err = -ENOMEM;
		goto fail;
	}
	pt->owner = true;
	pt->pid = getpid();
	pt->si_num = o.items;
	pt->si_off = sizeof(*hdr);
	pt->wc_num = o.classes;
	pt->wc_off = pt->si_off + o.items * (uint32_t)sizeof(struct ghost_sched_item);
	pt->st_cap = o.stream;
	pt->st_off = pt->wc_off + o.classes * (uint32_t)sizeof(struct ghost_work_class);
	size = pt->st_off + sizeof(struct prio_stream) + o.stream * sizeof(int32_t);
	pt->maplen = round_up(size, page);
	pt->fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (pt->fd < 0) {
		err = -errno;
		goto fail_free;
	}
	if (ftruncate(pt->fd, (off_t)pt->maplen) ||
	    fcntl(pt->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		err = -errno;
		goto fail_close;
	}
	pt->map = mmap(NULL, pt->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, pt->fd, 0);
	if (pt->map == MAP_FAILED) {
		err = -errno;
		goto fail_close;
	}
	hdr = pt->map;
	hdr->version = GHOST_PRIO_TABLE_VERSION;
	hdr->maplen = (uint32_t)size;
	hdr->si_num = pt->si_num;
	hdr->si_off = pt->si_off;
	hdr->wc_num = pt->wc_num;
	hdr->wc_off = pt->wc_off;
	hdr->st_cap = pt->st_cap;
	hdr->st_off = pt->st_off;
	for (uint32_t i = 0; i < o.items; i++)
		item_at(pt, i)->sid = i;
	for (uint32_t i = 0; i < o.stream; i++)
		stream_of(pt)->entries[i] = STREAM_FREE;
	/* Release, last: an agent that sees hdrlen sees a complete table. */
	__atomic_store_n(&hdr->hdrlen, (uint16_t)sizeof(*hdr), __ATOMIC_RELEASE);
	own_table = pt;
	*out = pt;
	return 0;

fail_close:
	close(pt->fd);
fail_free:
	free(pt);
fail:
	__atomic_store_n(&table_exists, 0, __ATOMIC_RELEASE);
	return err;
}

void ghost_prio_table_destroy(struct ghost_prio_table *pt)
{
	if (!pt)
		return;
	if (!pt->owner) {
		ghost_prio_table_detach(pt);
		return;
	}
	munmap(pt->map, pt->maplen);
	if (pt->fd >= 0)
		close(pt->fd);
	/* A table a forked child inherited is not this process's own. */
	if (pt == own_table) {
		own_table = NULL;
		__atomic_store_n(&table_exists, 0, __ATOMIC_RELEASE);
	}
	free(pt);
}

int ghost_prio_table_set_class(struct ghost_prio_table *pt, const struct ghost_work_class *wc)
{
	struct ghost_work_class *dst;

	if (!pt || !pt->owner || !wc || wc->id >= pt->wc_num)
		return -EINVAL;
	if ((wc->flags & GHOST_WORK_CLASS_ONESHOT) && (wc->flags & GHOST_WORK_CLASS_REPEATING))
		return -EINVAL;
	dst = class_at(pt, wc->id);
	/* Classes are read-only after set-up (as in ghost-userspace): no seqcount. */
	__atomic_store_n(&dst->flags, wc->flags, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->qos, wc->qos, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->exectime, wc->exectime, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->period, wc->period, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->id, wc->id, __ATOMIC_RELEASE);
	return 0;
}

int ghost_prio_table_set_item(struct ghost_prio_table *pt, uint32_t sid,
			      const struct ghost_sched_item *si)
{
	struct ghost_sched_item *dst;
	uint32_t begin;

	if (!pt || !pt->owner || !si || sid >= pt->si_num || si->wcid >= pt->wc_num)
		return -EINVAL;
	dst = item_at(pt, sid);
	begin = write_begin(dst);
	__atomic_store_n(&dst->sid, sid, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->wcid, si->wcid, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->gpid, si->gpid, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->flags, si->flags, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->deadline, si->deadline, __ATOMIC_RELAXED);
	write_end(dst, begin);
	mark_updated(pt, sid);
	return 0;
}

static int mark(struct ghost_prio_table *pt, uint32_t sid, bool runnable)
{
	struct ghost_sched_item *si;
	uint32_t begin, f;

	if (!pt || !pt->owner || sid >= pt->si_num)
		return -EINVAL;
	si = item_at(pt, sid);
	begin = write_begin(si);
	f = __atomic_load_n(&si->flags, __ATOMIC_RELAXED);
	f = runnable ? f | GHOST_SCHED_ITEM_RUNNABLE : f & ~GHOST_SCHED_ITEM_RUNNABLE;
	__atomic_store_n(&si->flags, f, __ATOMIC_RELAXED);
	write_end(si, begin);
	mark_updated(pt, sid);
	return 0;
}

int ghost_prio_table_mark_runnable(struct ghost_prio_table *pt, uint32_t sid)
{
	return mark(pt, sid, true);
}

int ghost_prio_table_mark_idle(struct ghost_prio_table *pt, uint32_t sid)
{
	return mark(pt, sid, false);
}

bool ghost_prio_table_is_runnable(const struct ghost_prio_table *pt, uint32_t sid)
{
	if (!pt || sid >= pt->si_num)
		return false;
	return __atomic_load_n(&item_at(pt, sid)->flags, __ATOMIC_ACQUIRE) &
	       GHOST_SCHED_ITEM_RUNNABLE;
}

/* ---- attaching (the agent) ---- */

static bool names_table(const char *link)
{
	static const char want[] = "/memfd:" MEMFD_NAME;
	char target[128];
	ssize_t n = readlink(link, target, sizeof(target) - 1);

	if (n <= 0)
		return false;
	target[n] = 0;
	/* "/memfd:ghost-prio-table (deleted)" */
	return !strncmp(target, want, sizeof(want) - 1) &&
	       (target[sizeof(want) - 1] == ' ' || target[sizeof(want) - 1] == 0);
}

/* The number of pid's descriptor of its table (/proc/PID/fd), or a negative errno. */
static int find_fd(pid_t pid)
{
	char dir[32], link[64];
	struct dirent *de;
	int found = -ENOENT, seen = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return errno == EACCES || errno == EPERM ? -EACCES : -ENOENT;
	while ((de = readdir(d)) && seen++ < MAX_FDS_SCANNED) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (*end || end == de->d_name || fd < 0 || fd > 1 << 30)
			continue;
		snprintf(link, sizeof(link), "/proc/%d/fd/%ld", (int)pid, fd);
		if (!names_table(link))
			continue;
		found = (int)fd;
		break;
	}
	closedir(d);
	return found;
}

/*
 * A descriptor of our own for pid's descriptor fd: a duplicate through a
 * pidfd (no open(), so nothing about the file can block us), or, on kernels
 * without pidfd_getfd, an open() that cannot block or take a terminal.
 */
static int dup_remote_fd(pid_t pid, int fd)
{
	char path[64];
	int pidfd, nfd;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		nfd = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		if (nfd < 0)
			nfd = -errno;
		close(pidfd);
		if (nfd >= 0 || nfd != -ENOSYS)
			return nfd == -EPERM ? -EACCES : nfd == -EBADF ? -ENOENT : nfd;
	} else if (errno != ENOSYS) {
		return errno == ESRCH ? -ENOENT : errno == EPERM ? -EACCES : -errno;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	nfd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (nfd < 0)
		return errno == EACCES || errno == EPERM ? -EACCES : -ENOENT;
	return nfd;
}

/* Does the shared header describe a table that fits in size bytes? */
static int check_geometry(struct ghost_prio_table *pt, const struct ghost_prio_table_hdr *hdr,
			  size_t size)
{
	uint64_t si_end, wc_end, st_end;

	if (__atomic_load_n(&hdr->hdrlen, __ATOMIC_ACQUIRE) != sizeof(*hdr))
		return -EAGAIN; /* not initialised yet */
	pt->si_num = hdr->si_num;
	pt->si_off = hdr->si_off;
	pt->wc_num = hdr->wc_num;
	pt->wc_off = hdr->wc_off;
	pt->st_cap = hdr->st_cap;
	pt->st_off = hdr->st_off;
	if (hdr->version != GHOST_PRIO_TABLE_VERSION || hdr->maplen > size)
		return -EPROTO;
	if (!pt->si_num || pt->si_num > MAX_ITEMS || !pt->wc_num || pt->wc_num > MAX_CLASSES ||
	    !pt->st_cap || pt->st_cap > MAX_STREAM)
		return -EPROTO;
	if (pt->si_off % 64 || pt->wc_off % 64 || pt->st_off % 64 || pt->si_off < sizeof(*hdr))
		return -EPROTO;
	si_end = (uint64_t)pt->si_off + (uint64_t)pt->si_num * sizeof(struct ghost_sched_item);
	wc_end = (uint64_t)pt->wc_off + (uint64_t)pt->wc_num * sizeof(struct ghost_work_class);
	st_end = (uint64_t)pt->st_off + sizeof(struct prio_stream) +
		 (uint64_t)pt->st_cap * sizeof(int32_t);
	/* In the order the creator lays them out, none over another. */
	if (pt->wc_off < si_end || pt->st_off < wc_end || st_end > size)
		return -EPROTO;
	return 0;
}

int ghost_prio_table_attach(pid_t pid, struct ghost_prio_table **out)
{
	struct ghost_prio_table *pt;
	char self_link[64];
	struct statfs sfs;
	struct stat st;
	int err, seals, fd;

	if (pid <= 0 || !out)
		return -EINVAL;
	fd = find_fd(pid);
	if (fd < 0)
		return fd;
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->pid = pid;
	pt->fd = dup_remote_fd(pid, fd);
	if (pt->fd < 0) {
		err = pt->fd;
		goto fail_free;
	}
	/*
	 * What we hold now is what we check: still the table's memfd (the process
	 * may have put something else at that number meanwhile), on tmpfs (no
	 * hugetlbfs, whose holes could fault), sealed against shrinking (the owner
	 * could otherwise take pages from under our mapping).
	 */
	snprintf(self_link, sizeof(self_link), "/proc/self/fd/%d", pt->fd);
	seals = fcntl(pt->fd, F_GET_SEALS);
	if (!names_table(self_link) || fstatfs(pt->fd, &sfs) || sfs.f_type != TMPFS_MAGIC ||
	    fstat(pt->fd, &st) || !S_ISREG(st.st_mode) || seals < 0 || !(seals & F_SEAL_SHRINK) ||
	    st.st_size < (off_t)sizeof(struct ghost_prio_table_hdr) || st.st_size > (1LL << 32)) {
		err = -EPROTO;
		goto fail_close;
	}
	pt->maplen = (size_t)st.st_size;
	pt->map = mmap(NULL, pt->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, pt->fd, 0);
	if (pt->map == MAP_FAILED) {
		err = -errno;
		goto fail_close;
	}
	err = check_geometry(pt, pt->map, pt->maplen);
	if (err) {
		munmap(pt->map, pt->maplen);
		goto fail_close;
	}
	/* The mapping is all we need. */
	close(pt->fd);
	pt->fd = -1;
	*out = pt;
	return 0;

fail_close:
	close(pt->fd);
fail_free:
	free(pt);
	return err;
}

void ghost_prio_table_detach(struct ghost_prio_table *pt)
{
	if (!pt)
		return;
	if (pt->owner) {
		ghost_prio_table_destroy(pt);
		return;
	}
	munmap(pt->map, pt->maplen);
	if (pt->fd >= 0)
		close(pt->fd);
	free(pt);
}

uint32_t ghost_prio_table_items(const struct ghost_prio_table *pt)
{
	return pt ? pt->si_num : 0;
}

uint32_t ghost_prio_table_classes(const struct ghost_prio_table *pt)
{
	return pt ? pt->wc_num : 0;
}

pid_t ghost_prio_table_owner(const struct ghost_prio_table *pt)
{
	return pt ? pt->pid : 0;
}

int ghost_prio_table_read_item(const struct ghost_prio_table *pt, uint32_t sid,
			       struct ghost_sched_item *out)
{
	const struct ghost_sched_item *si;

	if (!pt || !out || sid >= pt->si_num)
		return -EINVAL;
	si = item_at(pt, sid);
	for (int i = 0; i < READ_RETRIES; i++) {
		/* Acquire: the fields are read after an even count... */
		uint32_t begin = __atomic_load_n(&si->seqcount, __ATOMIC_ACQUIRE);

		if (begin & 1) {
			ghost_cpu_relax();
			continue;
		}
		/* ...and each with acquire, so the count is read again only after
		 * them: unchanged means no writer was inside meanwhile. */
		out->sid = __atomic_load_n(&si->sid, __ATOMIC_ACQUIRE);
		out->wcid = __atomic_load_n(&si->wcid, __ATOMIC_ACQUIRE);
		out->gpid = __atomic_load_n(&si->gpid, __ATOMIC_ACQUIRE);
		out->flags = __atomic_load_n(&si->flags, __ATOMIC_ACQUIRE);
		out->deadline = __atomic_load_n(&si->deadline, __ATOMIC_ACQUIRE);
		out->seqcount = begin;
		if (__atomic_load_n(&si->seqcount, __ATOMIC_RELAXED) == begin)
			return 0;
	}
	return -EAGAIN;
}

int ghost_prio_table_read_class(const struct ghost_prio_table *pt, uint32_t wcid,
				struct ghost_work_class *out)
{
	const struct ghost_work_class *wc;

	if (!pt || !out || wcid >= pt->wc_num)
		return -EINVAL;
	wc = class_at(pt, wcid);
	out->id = __atomic_load_n(&wc->id, __ATOMIC_ACQUIRE);
	out->flags = __atomic_load_n(&wc->flags, __ATOMIC_RELAXED);
	out->qos = __atomic_load_n(&wc->qos, __ATOMIC_RELAXED);
	out->exectime = __atomic_load_n(&wc->exectime, __ATOMIC_RELAXED);
	out->period = __atomic_load_n(&wc->period, __ATOMIC_RELAXED);
	return out->id == wcid ? 0 : -EINVAL;
}

int ghost_prio_table_next_updated(struct ghost_prio_table *pt)
{
	struct prio_stream *s;
	bool full = false;

	if (!pt || pt->owner)
		return -EINVAL;
	s = stream_of(pt);
	if (__atomic_load_n(&s->scrape_all, __ATOMIC_RELAXED) > 0) {
		/* Acquire: pairs with the writers' release increments. */
		__atomic_exchange_n(&s->scrape_all, 0, __ATOMIC_ACQUIRE);
		full = true;
	}
	/*
	 * One pass over the cells at most, from where the last call stopped: a
	 * drain costs one pass however the cells are filled. With scrape_all
	 * set the caller re-reads every item, so the pass only frees the cells.
	 */
	for (uint32_t n = 0; n < pt->st_cap; n++) {
		uint32_t i = (pt->cursor + n) % pt->st_cap;
		/* Acquire: the item write announced by this cell is visible. */
		int32_t idx = __atomic_load_n(&s->entries[i], __ATOMIC_ACQUIRE);

		if (idx == STREAM_FREE)
			continue;
		/*
		 * Only one writer can have filled the cell (its CAS from free), so
		 * a plain store frees it; a writer that races with us is seen by
		 * a later call.
		 */
		__atomic_store_n(&s->entries[i], STREAM_FREE, __ATOMIC_RELAXED);
		if (full)
			continue;
		pt->cursor = (i + 1) % pt->st_cap;
		/* An index the table cannot hold: the stream is corrupt, so
		 * whatever it said, everything may have changed. */
		if (idx < 0 || (uint32_t)idx >= pt->si_num)
			return GHOST_PRIO_TABLE_OVERFLOW;
		return idx;
	}
	return full ? GHOST_PRIO_TABLE_OVERFLOW : GHOST_PRIO_TABLE_NO_UPDATES;
}
