/*
 * fuzz/emu_shm.c - everything that reads the embedded kernel's shared memory, over
 * files an input has corrupted. At start-up a child process makes a real enclave
 * (kernels/emu/emu_ns.c lays out its files): an agent, ghost threads that block,
 * sleep and spin, then the child dies abruptly, leaving state, cpu_data, the
 * status-word region and the queues as a crash leaves them; "discover tasks" puts
 * messages in the queues. That is the pristine image. Each input overwrites bytes of
 * it (the state's header, CPU, queue and task records, cpu_data, status words, queue
 * headers and rings), then runs the readers: listing and attaching (ghostctl list and
 * open), every enclave file (ghostctl cat ID stats, status), the queue readers of
 * <ghost/channel.h> (peek, validity, consume, and ghost_sched_drain dispatching what
 * they read, status-word lookups included), and task discovery (ghost_sched_discover
 * and ghost_sched_adopt, what ghost-agent --attach runs). The image is restored after.
 *
 * Beyond "no crash": nothing read from shared memory is trusted. The queue readers
 * run on a copy of each queue exactly as large as its header says the ring is, so a
 * read past the ring's end is caught; every file read returns an error or a terminated
 * text of the length it says; a drain consumes no more than was published and leaves
 * the ring empty; the scheduler's table stays sound.
 *
 * GHOST_FUZZ_SKIP (a comma-separated list) can leave alone, while a known defect awaits
 * its fix: shm-lock, the enclave lock of the state file; shm-task-queue, the queue
 * index of the task records.
 */
#include "fuzz_common.h"

#include <ghost/ghost.h>

#include "../kernels/emu/emu.h"
#include "policies.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define ENCLAVE_ID  1
#define MAX_TASKS   32
#define QUEUE_ELEMS 64
#define MAX_FILES   32

struct image_file {
	char path[600];
	uint8_t *pristine; /* the bytes as the image has them */
	uint8_t *map;	   /* the file, mapped shared: patched, then restored */
	size_t size;
	bool queue;
};

static char root[256], dir[512];
static struct image_file files[MAX_FILES];
static int nfiles, f_state = -1, f_cpu_data = -1, f_sw0 = -1;
static int queues[MAX_FILES], nqueues;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the image: made by a child that dies with its enclave in use ---- */

static uint32_t block_word;
static int started;

static void *blocker(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
	for (;;)
		ghost_wait(&block_word, 0, 0);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
	for (;;)
		ghost_sleep_ns(1000000);
	return NULL;
}

static unsigned long spun;

static void *spinner(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
	for (;;) {
		for (int i = 0; i < 100000; i++)
			__atomic_add_fetch(&spun, 1, __ATOMIC_RELAXED);
		ghost_yield();
	}
	return NULL;
}

static void child(void)
{
	struct ghost_cpuset cpus = fz_some_cpus();
	struct ghost_enclave_opts eo = { .sz = sizeof(eo),
					 .root = root,
					 .id = ENCLAVE_ID,
					 .cpus = &cpus,
					 .max_tasks = MAX_TASKS };
	struct ghost_full_agent_opts fo = { .sz = sizeof(fo), .prio = GHOST_AGENT_PRIO_NORMAL };
	_Alignas(16) char cfg[256];
	char kv[64];
	void *(*fns[])(void *) = { blocker, blocker, sleeper, spinner };
	struct ghost_full_agent *fa;
	struct ghost_enclave *e;
	struct ghost_thread *t;

	if (ghost_enclave_create(&eo, &e))
		_exit(2);
	fo.enclave = e;
	fo.policy = ghost_policy_find("fifo-percpu");
	/* Small queues: the images hold overflowed rings too. */
	snprintf(kv, sizeof(kv), "queue_elems=%d", QUEUE_ELEMS);
	if (ghost_policy_config_defaults(fo.policy, cfg) ||
	    ghost_policy_config_parse(fo.policy, cfg, kv, NULL, 0))
		_exit(3);
	fo.policy_config = cfg;
	if (ghost_full_agent_start(&fo, &fa))
		_exit(3);
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (ghost_thread_create(e, &t, fns[i], NULL))
			_exit(4);
	for (int i = 0; i < 2000 && __atomic_load_n(&started, __ATOMIC_ACQUIRE) < 4; i++)
		sleep_ms(5);
	sleep_ms(50);
	/* As a crash leaves it: no clean-up at all. */
	_exit(0);
}

static void load_file(const char *name)
{
	struct image_file *f;
	struct stat st;
	int fd;

	if (nfiles == MAX_FILES)
		return;
	f = &files[nfiles];
	snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
	fd = open(f->path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_size == 0)
		fz_die(f->path, -errno);
	f->size = (size_t)st.st_size;
	f->map = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	f->pristine = malloc(f->size);
	if (f->map == MAP_FAILED || !f->pristine)
		fz_die(f->path, -ENOMEM);
	memcpy(f->pristine, f->map, f->size);
	if (!strcmp(name, "state"))
		f_state = nfiles;
	else if (!strcmp(name, "cpu_data"))
		f_cpu_data = nfiles;
	else if (!strcmp(name, "sw_0"))
		f_sw0 = nfiles;
	else if (!strncmp(name, "queue_", 6))
		queues[nqueues++] = nfiles;
	nfiles++;
}

static void remove_root(void)
{
	fz_rm_tree(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo), .id = ENCLAVE_ID };
	struct ghost_enclave *e;
	struct dirent *de;
	DIR *d;
	pid_t pid;
	int st, err;

	(void)argc;
	(void)argv;
	fz_log_init();
	fz_mkdtemp(root, sizeof(root), "ghost-fuzz-shm");
	atexit(remove_root);
	setenv("GHOST_EMU_ROOT", root, 1);
	snprintf(dir, sizeof(dir), "%s/enclave_%d", root, ENCLAVE_ID);

	pid = fork();
	if (pid < 0)
		fz_die("fork", -errno);
	if (pid == 0)
		child();
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fz_die("the child that makes the enclave", -ECHILD);

	/* Messages in the queues: a TASK_NEW for every task. */
	eo.root = root;
	if ((err = ghost_enclave_attach(&eo, &e)))
		fz_die("attach", err);
	if ((err = ghost_enclave_ctl(e, "discover tasks")) < 0)
		fz_die("discover", err);
	ghost_enclave_close(e);

	d = opendir(dir);
	if (!d)
		fz_die(dir, -errno);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "agent_online"))
			load_file(de->d_name);
	closedir(d);
	if (f_state < 0 || f_cpu_data < 0 || f_sw0 < 0 || !nqueues)
		fz_die("the enclave's files", -ENOENT);
	return 0;
}

/* ---- patches ---- */

static void restore(void)
{
	for (int i = 0; i < nfiles; i++) {
		struct image_file *f = &files[i];

		for (size_t off = 0; off < f->size; off += 4096) {
			size_t n = f->size - off < 4096 ? f->size - off : 4096;

			if (memcmp(f->map + off, f->pristine + off, n))
				memcpy(f->map + off, f->pristine + off, n);
		}
	}
}

/* Where a patch lands: which file, and the byte range worth aiming at. */
static void patch(struct fz *in)
{
	const struct emu_shared *sh = (const void *)files[f_state].pristine;
	uint8_t where = fz_u8(in), len = 1 + fz_u8(in) % 16;
	uint32_t off = fz_u16(in);
	struct image_file *f;
	size_t base, span;
	uint8_t bytes[16];

	switch (where % 8) {
	case 0: /* the state's header */
		f = &files[f_state];
		base = 0;
		span = sizeof(struct emu_shared);
		break;
	case 1: /* per-CPU records of the machine's CPUs */
		f = &files[f_state];
		base = sh->cpus_off;
		span = sizeof(struct emu_cpu) * sh->ncpus;
		break;
	case 2: /* the first queue records */
		f = &files[f_state];
		base = sh->queues_off;
		span = sizeof(struct emu_queue) * 8;
		break;
	case 3: /* task records */
		f = &files[f_state];
		base = sh->tasks_off;
		span = sizeof(struct emu_task) * sh->max_tasks;
		break;
	case 4: /* the txn pages */
		f = &files[f_cpu_data];
		base = 0;
		span = f->size;
		break;
	case 5: /* the status-word region's header and first words */
		f = &files[f_sw0];
		base = 0;
		span = 64 + 64 * sizeof(struct ghost_status_word);
		break;
	default: { /* a queue: header, ring indices, slots */
		const size_t ring_at = sizeof(struct ghost_queue_header);
		struct ghost_ring *r;
		uint32_t v;

		f = &files[queues[(where / 8) % nqueues]];
		r = (struct ghost_ring *)(f->map + ring_at);
		switch (off % 4) {
		case 0: /* any bytes */
			base = 0;
			span = ring_at + sizeof(struct ghost_ring) +
			       QUEUE_ELEMS * sizeof(struct ghost_msg);
			off >>= 2;
			break;
		case 1: /* head, mostly a little past tail */
		case 2: /* tail, mostly a little before head */
			v = fz_u32(in);
			if (v & 0x80000000u)
				v = off % 4 == 1 ? r->tail + (v & 127) : r->head - (v & 127);
			memcpy(off % 4 == 1 ? &r->head : &r->tail, &v, sizeof(v));
			return;
		default: /* a slot's header: type, length, seqnum */
			base = ring_at + sizeof(struct ghost_ring) +
			       (size_t)((off >> 2) % QUEUE_ELEMS) * sizeof(struct ghost_msg);
			span = sizeof(struct ghost_msg);
			off = 0;
			break;
		}
		break;
	}
	}
	fz_fill(in, bytes, len);
	if (base >= f->size)
		return;
	if (span > f->size - base)
		span = f->size - base;
	off = (uint32_t)(base + off % span);
	if (off + len > f->size)
		len = (uint8_t)(f->size - off);
	if (f == &files[f_state] && fz_skip("shm-lock") &&
	    off < offsetof(struct emu_shared, lock) + sizeof(pthread_mutex_t) &&
	    off + len > offsetof(struct emu_shared, lock))
		return;
	if (f == &files[f_state] && fz_skip("shm-task-queue") && off + len > sh->tasks_off) {
		size_t in_task = (off - sh->tasks_off) % sizeof(struct emu_task);
		size_t q = offsetof(struct emu_task, queue);

		if (off >= sh->tasks_off && in_task < q + sizeof(int32_t) && in_task + len > q)
			return;
		if (off < sh->tasks_off || in_task + len > sizeof(struct emu_task) + q)
			return; /* reaches into the next record's field: left alone too */
	}
	memcpy(f->map + off, bytes, len);
}

/* ---- the readers ---- */

static const char *const names[] = {
	"abi_version",
	"agent_online",
	"commit_at_tick",
	"cpulist",
	"cpumask",
	"ctl",
	"deliver_agent_runnability",
	"deliver_cpu_availability",
	"deliver_ticks",
	"live_dangerously",
	"runnable_timeout",
	"status",
	"strict_classes",
	"switchto_disabled",
	"tasks",
	"wake_on_waker_cpu",
	"agent_timeout_ms",
	"tick_us",
	"park_spin_ns",
	"net_period_us",
	"trace",
	"stats",
	"exit_info",
};

static void read_files(struct ghost_enclave *e)
{
	static char buf[1 << 16];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n = ghost_enclave_read_file(e, names[i], buf, sizeof(buf));

		FZ_CHECK(n < 0 || ((size_t)n < sizeof(buf) && strlen(buf) == (size_t)n), "%s: %d",
			 names[i], n);
	}
}

/*
 * A queue file's bytes in a buffer exactly as long as its header says the
 * queue is (or as the file, when the header is nonsense).
 */
static void *queue_copy(const struct image_file *f, size_t *size)
{
	const struct ghost_queue_header *h = (const void *)f->map;
	uint64_t want = (uint64_t)h->start + sizeof(struct ghost_ring) +
			(uint64_t)h->nelems * sizeof(struct ghost_msg);
	void *p;

	*size = want >= sizeof(*h) && want <= f->size ? (size_t)want : f->size;
	if (posix_memalign(&p, 64, *size))
		abort();
	memcpy(p, f->map, *size);
	return p;
}

/* Reads every message of a queue the way an agent's loop does. */
static void read_queue(const struct image_file *f, struct ghost_sched *s)
{
	struct ghost_channel c;
	const struct ghost_msg *m;
	size_t size;
	void *mem = queue_copy(f, &size);
	uint8_t payload[64];
	uint32_t n = 0;

	if (ghost_channel_init_mem(&c, mem, size) == 0) {
		uint32_t published = c.ring->head - c.ring->tail;

		FZ_CHECK(published <= c.nelems, "init_mem took a ring with %u of %u slots used",
			 published, c.nelems);
		while ((m = ghost_channel_peek(&c))) {
			FZ_CHECK(n++ <= published, "more messages than slots published");
			if (ghost_channel_msg_valid(&c, m)) {
				ghost_msg_copy_payload(m, payload, sizeof(payload));
				(void)ghost_msg_gtid(m);
			}
			ghost_channel_consume(&c, m);
		}
		FZ_CHECK(c.ring->head == c.ring->tail, "peek gave up before the ring was empty");
		ghost_channel_overflow(&c);
	}
	/* Again, through the scheduler base (status words looked up on the way). */
	memcpy(mem, f->map, size);
	if (s && ghost_channel_init_mem(&c, mem, size) == 0) {
		uint32_t published = c.ring->head - c.ring->tail;
		int got = ghost_sched_drain(s, &c);

		FZ_CHECK(got >= 0 && (uint32_t)got <= published && c.ring->head == c.ring->tail,
			 "drained %d of %u slots", got, published);
	}
	free(mem);
}

static void count_task(struct ghost_task *t, void *ctx)
{
	(*(uint32_t *)ctx)++;
	(void)t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo), .root = root, .id = ENCLAVE_ID };
	const struct ghost_kernel_ops *ops = ghost_kernel_find("emu");
	struct ghost_enclave *e;
	struct ghost_sched s;
	struct fz in = { data, size };
	uint64_t ids[8];
	uint32_t n = 0;

	for (int i = 0; fz_left(&in) && i < 64; i++)
		patch(&in);

	ghost_kernel_list_enclaves(ops, root, ids, 8);
	if (ghost_enclave_attach(&eo, &e) == 0) {
		read_files(e);
		FZ_CHECK(ghost_sched_init(&s, e, NULL, NULL, 0) == 0, "sched init");
		for (int q = 0; q < nqueues; q++)
			read_queue(&files[queues[q]], &s);
		ghost_sched_discover(&s);
		for (int q = 0; q < nqueues; q++)
			read_queue(&files[queues[q]], &s);
		{
			struct ghost_channel bare;
			size_t qsize;
			void *mem = queue_copy(&files[queues[0]], &qsize);

			if (ghost_channel_init_mem(&bare, mem, qsize) == 0)
				ghost_sched_adopt(&s, &bare);
			free(mem);
		}
		ghost_task_table_for_each(&s.tasks, count_task, &n);
		FZ_CHECK(n == s.tasks.count, "walked %u tasks, count says %u", n, s.tasks.count);
		read_files(e);
		ghost_sched_fini(&s);
		ghost_enclave_close(e);
	} else {
		/* Nothing mapped: the queues are read as bare rings. */
		for (int q = 0; q < nqueues; q++)
			read_queue(&files[queues[q]], NULL);
	}
	restore();
	return 0;
}
