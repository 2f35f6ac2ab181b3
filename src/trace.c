/*
 * trace.c - the recorder of what agents did (messages consumed, txn
 * outcomes) and the reader of the file it writes (include/ghost/trace.h).
 *
 * Owns the rings: one per CPU of the enclave, written without a lock by
 * that CPU's agent thread only, and one shared by every other thread under
 * a mutex. A ring keeps its newest records; a writer never waits for a
 * reader, and a reader (ghost_trace_save) that races a writer leaves out
 * the records it may have seen half-written instead of stopping it: the
 * ring's head works as a sequence count (see ring_put and ring_copy).
 *
 * Must never: take a lock or allocate on an agent's path, print, or trust a
 * file it reads (every field is checked before anything else looks at it,
 * and nothing is read past the buffer it was given).
 */
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/channel.h>
#include <ghost/thread.h>
#include <ghost/trace.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A record as the ring stores it: four words, each stored and loaded whole. */
union trace_slot {
	struct ghost_trace_record r;
	uint64_t w[4];
};

struct trace_ring {
	uint64_t head; /* records ever written: stored by the ring's writer, with release */
	union trace_slot *slots;
} __attribute__((aligned(64))); /* one line each: rings of different CPUs never share one */

struct ghost_trace {
	uint64_t enclave_id;
	struct ghost_cpuset cpus;
	int64_t start_ns;
	uint64_t nslots; /* per ring */
	uint64_t cap;	 /* records a ring keeps: one slot fewer, the one a writer may be in */
	pthread_mutex_t shared_lock;
	struct trace_ring shared;
	struct trace_ring *rings[GHOST_MAX_CPUS]; /* the enclave's CPUs' */
};

/* The CPU whose ring the calling thread writes (ghost_trace_set_thread_cpu). */
static __thread int thread_cpu = -1;

void ghost_trace_set_thread_cpu(int cpu)
{
	thread_cpu = cpu;
}

/* That CPU, or in a simulator's thread the CPU whose agent it runs now. */
static int my_cpu(void)
{
	struct ghost_vclock *vc = ghost_vclock_get();

	return vc ? vc->agent_cpu : thread_cpu;
}

/*
 * One writer at a time per ring. The ring's head is a sequence count: the
 * words are stored with release, so a reader whose acquire load sees any word
 * of record h also sees the head = h stored before it, and knows to discard
 * the record h overwrote (ring_copy). On x86 both are plain moves. The
 * release store of head publishes the record.
 */
static void ring_put(struct ghost_trace *tr, struct trace_ring *ring,
		     const struct ghost_trace_record *rec)
{
	uint64_t h = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);
	union trace_slot *slot = &ring->slots[h % tr->nslots], in = { .r = *rec };

	for (int i = 0; i < 4; i++)
		__atomic_store_n(&slot->w[i], in.w[i], __ATOMIC_RELEASE);
	__atomic_store_n(&ring->head, h + 1, __ATOMIC_RELEASE);
}

static void record(struct ghost_trace *tr, const struct ghost_trace_record *rec)
{
	int cpu = my_cpu();

	if (cpu >= 0 && cpu < GHOST_MAX_CPUS && tr->rings[cpu]) {
		ring_put(tr, tr->rings[cpu], rec);
		return;
	}
	/* Not an agent of this enclave (a set-up thread, a test): rare, so a lock. */
	pthread_mutex_lock(&tr->shared_lock);
	ring_put(tr, &tr->shared, rec);
	pthread_mutex_unlock(&tr->shared_lock);
}

/* The CPU a message's payload names, -1 none; flags from its payload. */
static int msg_cpu(const struct ghost_msg *m, uint8_t *flags)
{
	union {
		struct ghost_msg_payload_task_new newt;
		struct ghost_msg_payload_task_preempt preempt;
		struct ghost_msg_payload_task_yield yield;
		struct ghost_msg_payload_task_blocked blocked;
		struct ghost_msg_payload_task_dead dead;
		struct ghost_msg_payload_task_departed departed;
		struct ghost_msg_payload_task_wakeup wakeup;
		struct ghost_msg_payload_task_on_cpu on_cpu;
		struct ghost_msg_payload_task_switchto switchto;
	} p;

	if (ghost_msg_is_cpu(m->type))
		return ghost_msg_cpu(m);
	ghost_msg_copy_payload(m, &p, sizeof(p));
	switch (m->type) {
	case MSG_TASK_NEW:
		*flags |= p.newt.runnable ? GHOST_TRACE_F_RUNNABLE : 0;
		return -1;
	case MSG_TASK_PREEMPT:
		*flags |= p.preempt.was_latched ? GHOST_TRACE_F_LATCHED : 0;
		return p.preempt.cpu;
	case MSG_TASK_YIELD:
		return p.yield.cpu;
	case MSG_TASK_BLOCKED:
		return p.blocked.cpu;
	case MSG_TASK_DEAD:
		return p.dead.cpu;
	case MSG_TASK_DEPARTED:
		return p.departed.cpu;
	case MSG_TASK_WAKEUP:
		return p.wakeup.waker_cpu;
	case MSG_TASK_ON_CPU:
		return p.on_cpu.cpu;
	case MSG_TASK_SWITCHTO:
		return p.switchto.cpu;
	default:
		return -1;
	}
}

static int16_t cpu_field(int cpu)
{
	return cpu >= 0 && cpu < GHOST_MAX_CPUS ? (int16_t)cpu : -1;
}

void ghost_trace_msg(struct ghost_trace *tr, int64_t t0, const struct ghost_msg *m, int ret,
		     uint8_t flags)
{
	struct ghost_trace_record rec = {
		.time_ns = t0,
		.seqnum = m->seqnum,
		.value = ret,
		.type = m->type,
		.kind = GHOST_TRACE_MSG,
		.cpu = -1,
		.agent_cpu = cpu_field(my_cpu()),
	};

	/* Only a message dispatch accepted (its length covers what we read) is read further. */
	if (!(flags & GHOST_TRACE_F_MALFORMED) && ret != -EINVAL) {
		rec.cpu = cpu_field(msg_cpu(m, &flags));
		if (ghost_msg_is_task(m->type))
			rec.gtid = ghost_msg_gtid(m);
	}
	rec.flags = flags;
	record(tr, &rec);
}

/* A kernel's commit_time this close to now is taken as the commit's time. */
#define KERNEL_TIME_SLACK_NS 1000000000LL

void ghost_trace_txn(struct ghost_trace *tr, int cpu, const struct ghost_txn *t, int32_t state)
{
	int64_t now = ghost_now_ns(), kt = (int64_t)t->commit_time;
	struct ghost_trace_record rec = {
		.time_ns = now,
		.gtid = t->gtid,
		.seqnum = t->task_barrier,
		.value = state,
		.kind = GHOST_TRACE_TXN,
		.cpu = cpu_field(cpu),
		.agent_cpu = cpu_field(my_cpu()),
	};

	/* The kernel's time is when the task was latched, before any message it
	 * caused; a kernel whose clock is another (or none) keeps ours. */
	if (kt > 0 && kt <= now && now - kt < KERNEL_TIME_SLACK_NS) {
		rec.time_ns = kt;
		rec.flags = GHOST_TRACE_F_KERNEL_TIME;
	}
	record(tr, &rec);
}

static void trace_destroy(struct ghost_trace *tr)
{
	for (int cpu = 0; cpu < GHOST_MAX_CPUS; cpu++) {
		if (tr->rings[cpu]) {
			free(tr->rings[cpu]->slots);
			free(tr->rings[cpu]);
		}
	}
	free(tr->shared.slots);
	pthread_mutex_destroy(&tr->shared_lock);
	free(tr);
}

int ghost_trace_start(struct ghost_enclave *e, const struct ghost_trace_opts *user_opts)
{
	struct ghost_trace_opts o;
	struct ghost_trace *tr, *none = NULL;
	size_t size;
	int err, cpu, nrings;

	if (!e)
		return -EINVAL;
	err = ghost_opts_copy(&o, sizeof(o), user_opts);
	if (err)
		return err;
	size = o.size ? o.size : GHOST_TRACE_DEFAULT_SIZE;
	if (size < GHOST_TRACE_MIN_SIZE)
		return -EINVAL;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	pthread_mutex_init(&tr->shared_lock, NULL);
	tr->enclave_id = e->id;
	tr->cpus = e->cpus;
	nrings = ghost_cpuset_count(&e->cpus) + 1;
	tr->nslots = size / sizeof(struct ghost_trace_record) / (size_t)nrings;
	if (tr->nslots < 2) { /* room for no record beside the writer's slot */
		trace_destroy(tr);
		return -EINVAL;
	}
	tr->cap = tr->nslots - 1;
	/* Untouched pages cost nothing: a large bound is only a bound. */
	tr->shared.slots = calloc(tr->nslots, sizeof(union trace_slot));
	err = tr->shared.slots ? 0 : -ENOMEM;
	ghost_cpuset_for_each(cpu, &e->cpus) {
		if (err)
			break;
		tr->rings[cpu] = aligned_alloc(64, sizeof(struct trace_ring));
		if (!tr->rings[cpu]) {
			err = -ENOMEM;
			break;
		}
		memset(tr->rings[cpu], 0, sizeof(struct trace_ring));
		tr->rings[cpu]->slots = calloc(tr->nslots, sizeof(union trace_slot));
		if (!tr->rings[cpu]->slots)
			err = -ENOMEM;
	}
	if (err) {
		trace_destroy(tr);
		return err;
	}
	tr->start_ns = ghost_now_ns();
	/* Release: a thread that sees the pointer sees the rings. */
	if (!__atomic_compare_exchange_n(&e->trace, &none, tr, false, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED)) {
		trace_destroy(tr);
		return -EBUSY;
	}
	return 0;
}

int ghost_trace_stop(struct ghost_enclave *e)
{
	struct ghost_trace *tr = e ? __atomic_exchange_n(&e->trace, NULL, __ATOMIC_ACQ_REL) : NULL;

	if (!tr)
		return -ENOENT;
	trace_destroy(tr);
	return 0;
}

void ghost_trace_free(struct ghost_enclave *e)
{
	(void)ghost_trace_stop(e);
}

/* A record copied out of a ring, with where it was (ties in time keep ring order). */
struct saved {
	struct ghost_trace_record r;
	uint32_t ring;
	uint64_t seq;
};

/*
 * Appends what ring holds to out[*n]; returns the records it ever had that
 * are not copied (overwritten, or possibly half-written while we read).
 * *first_kept: the time of the oldest record copied, if any was dropped.
 */
static uint64_t ring_copy(const struct ghost_trace *tr, struct trace_ring *ring, uint32_t idx,
			  struct saved *out, size_t *n, int64_t *first_kept)
{
	uint64_t h1 = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE), h2, from, keep;
	size_t base = *n;

	from = h1 > tr->cap ? h1 - tr->cap : 0;
	for (uint64_t i = from; i < h1; i++) {
		union trace_slot s;

		for (int w = 0; w < 4; w++)
			s.w[w] = __atomic_load_n(&ring->slots[i % tr->nslots].w[w],
						 __ATOMIC_ACQUIRE);
		out[base + (i - from)] = (struct saved){ .r = s.r, .ring = idx, .seq = i };
	}
	/* The words were loaded with acquire: a slot we read while it was
	 * rewritten shows in head now (ring_put). The record at h2 may be under
	 * way in the slot of record h2 - nslots (which no ring keeps: cap is one
	 * less), so from h2 - cap on every record is whole. */
	h2 = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
	keep = h2 > tr->cap ? h2 - tr->cap : 0;
	if (keep < from)
		keep = from;
	if (keep > h1)
		keep = h1;
	/* Shift the good ones down over the doubtful ones. */
	memmove(&out[base], &out[base + (keep - from)], (size_t)(h1 - keep) * sizeof(*out));
	*n = base + (size_t)(h1 - keep);
	if (keep > 0 && h1 > keep && out[base].r.time_ns > *first_kept)
		*first_kept = out[base].r.time_ns;
	return keep;
}

static int saved_cmp(const void *a, const void *b)
{
	const struct saved *x = a, *y = b;

	if (x->r.time_ns != y->r.time_ns)
		return x->r.time_ns < y->r.time_ns ? -1 : 1;
	if (x->ring != y->ring)
		return x->ring < y->ring ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int ghost_trace_save(struct ghost_enclave *e, const char *path)
{
	struct ghost_trace *tr = ghost_enclave_tracer(e);
	struct ghost_trace_header hdr;
	struct ghost_trace_record *recs;
	struct saved *all;
	size_t n = 0, max;
	char tmp[4096];
	int fd, err = 0, cpu;

	if (!path)
		return -EINVAL;
	if (!tr)
		return -ENOENT;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	max = (size_t)tr->cap * (size_t)(ghost_cpuset_count(&tr->cpus) + 1);
	all = malloc((max ? max : 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	memset(&hdr, 0, sizeof(hdr));
	memcpy(hdr.magic, GHOST_TRACE_MAGIC, sizeof(hdr.magic));
	hdr.version = GHOST_TRACE_VERSION;
	hdr.header_size = sizeof(hdr);
	hdr.record_size = sizeof(struct ghost_trace_record);
	hdr.clock = GHOST_TRACE_CLOCK_MONOTONIC;
	hdr.enclave_id = tr->enclave_id;
	hdr.start_ns = hdr.complete_ns = tr->start_ns;
	ghost_cpuset_for_each(cpu, &tr->cpus) {
		hdr.dropped +=
			ring_copy(tr, tr->rings[cpu], (uint32_t)cpu, all, &n, &hdr.complete_ns);
		hdr.cpus[cpu / 64] |= 1ULL << (cpu % 64);
		hdr.ncpus++;
	}
	pthread_mutex_lock(&tr->shared_lock);
	hdr.dropped += ring_copy(tr, &tr->shared, GHOST_MAX_CPUS, all, &n, &hdr.complete_ns);
	pthread_mutex_unlock(&tr->shared_lock);
	qsort(all, n, sizeof(*all), saved_cmp);
	/* The records, packed in place (each is no bigger than its struct saved). */
	recs = (struct ghost_trace_record *)all;
	for (size_t i = 0; i < n; i++)
		memmove(&recs[i], &all[i].r, sizeof(recs[i]));
	hdr.nrecords = n;
	hdr.end_ns = ghost_now_ns();
	if (n && recs[n - 1].time_ns > hdr.end_ns)
		hdr.end_ns = recs[n - 1].time_ns;
	if (n && recs[0].time_ns < hdr.start_ns)
		hdr.start_ns = recs[0].time_ns; /* a kernel's commit time from before the start */
	if (hdr.complete_ns < hdr.start_ns)
		hdr.complete_ns = hdr.start_ns;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		free(all);
		return err;
	}
	err = write_all(fd, &hdr, sizeof(hdr));
	if (!err)
		err = write_all(fd, recs, n * sizeof(*recs));
	if (close(fd) && !err)
		err = -errno;
	free(all);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* ---- the reader ---- */

#define WHY(...)                                             \
	do {                                                 \
		if (why && why_len)                          \
			snprintf(why, why_len, __VA_ARGS__); \
		return -EINVAL;                              \
	} while (0)

int ghost_trace_parse(const void *buf, size_t len, struct ghost_trace_view *out, char *why,
		      size_t why_len)
{
	const struct ghost_trace_header *h = buf;
	const struct ghost_trace_record *r;
	uint32_t ncpus = 0;
	uint64_t room;

	if (why && why_len)
		why[0] = 0;
	if (!buf || !out || ((uintptr_t)buf & 7))
		return -EINVAL;
	if (len < 8 || memcmp(h->magic, GHOST_TRACE_MAGIC, 8))
		WHY("not a ghost trace (no \"%s\" at its start)", GHOST_TRACE_MAGIC);
	if (len < 16)
		WHY("truncated: %zu bytes, the header alone takes %zu", len, sizeof(*h));
	if (h->version != GHOST_TRACE_VERSION)
		WHY("trace format version %u (this library reads version %u)", h->version,
		    GHOST_TRACE_VERSION);
	if (len < sizeof(*h))
		WHY("truncated: %zu bytes, the header alone takes %zu", len, sizeof(*h));
	if (h->header_size != sizeof(*h) || h->record_size != sizeof(*r))
		WHY("header of %u bytes and records of %u (version %u has %zu and %zu)",
		    h->header_size, h->record_size, GHOST_TRACE_VERSION, sizeof(*h), sizeof(*r));
	if (h->clock != GHOST_TRACE_CLOCK_MONOTONIC)
		WHY("unknown clock %u", h->clock);
	for (int i = 0; i < 8; i++)
		ncpus += (uint32_t)__builtin_popcountll(h->cpus[i]);
	if (ncpus != h->ncpus || ncpus == 0)
		WHY("the header says %u CPUs and its CPU set holds %u", h->ncpus, ncpus);
	room = (uint64_t)(len - sizeof(*h)) / sizeof(*r);
	if (h->nrecords > room)
		WHY("truncated: the header says %llu records and the file holds %llu",
		    (unsigned long long)h->nrecords, (unsigned long long)room);
	if ((len - sizeof(*h)) % sizeof(*r) || h->nrecords < room)
		WHY("%zu bytes after the last of its %llu records",
		    len - sizeof(*h) - (size_t)h->nrecords * sizeof(*r),
		    (unsigned long long)h->nrecords);
	if (h->start_ns > h->end_ns)
		WHY("the recording ends (%lld) before it starts (%lld)", (long long)h->end_ns,
		    (long long)h->start_ns);
	r = (const struct ghost_trace_record *)(h + 1);
	for (uint64_t i = 0; i < h->nrecords; i++) {
		if (r[i].kind != GHOST_TRACE_MSG && r[i].kind != GHOST_TRACE_TXN)
			WHY("record %llu: unknown kind %u", (unsigned long long)i, r[i].kind);
		if (r[i].cpu < -1 || r[i].agent_cpu < -1 || r[i].cpu >= GHOST_MAX_CPUS ||
		    r[i].agent_cpu >= GHOST_MAX_CPUS)
			WHY("record %llu: CPU %d, agent CPU %d", (unsigned long long)i, r[i].cpu,
			    r[i].agent_cpu);
		if (r[i].time_ns < h->start_ns || r[i].time_ns > h->end_ns)
			WHY("record %llu: time %lld outside the recording (%lld..%lld)",
			    (unsigned long long)i, (long long)r[i].time_ns, (long long)h->start_ns,
			    (long long)h->end_ns);
		if (i && r[i].time_ns < r[i - 1].time_ns)
			WHY("record %llu: time goes back", (unsigned long long)i);
	}
	out->hdr = *h;
	out->records = r;
	out->nrecords = (size_t)h->nrecords;
	return 0;
}

#undef WHY

int ghost_trace_load(const char *path, void **bufp, struct ghost_trace_view *out, char *why,
		     size_t why_len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, err;

	if (!path || !bufp || !out)
		return -EINVAL;
	*bufp = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > (4ULL << 30)) {
		close(fd);
		if (S_ISREG(st.st_mode))
			return -EFBIG;
		if (why && why_len)
			snprintf(why, why_len, "not a regular file");
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1); /* malloc's alignment is enough for the records */
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : 0;
			if (err) {
				close(fd);
				free(buf);
				return err;
			}
			break; /* it shrank: parse what there is */
		}
		got += (size_t)r;
	}
	close(fd);
	err = ghost_trace_parse(buf, got, out, why, why_len);
	if (err) {
		free(buf);
		return err;
	}
	*bufp = buf;
	return 0;
}
