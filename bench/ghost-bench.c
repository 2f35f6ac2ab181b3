/*
 * bench/ghost-bench.c - the ghOSt paper's overhead table (SOSP 2021, Table 3), measured on
 * a kernel backend next to baselines taken in the same run (issue 5).
 *
 * Every figure is the distribution (median, p99, min) of many iterations after a warm-up,
 * printed beside its ratio to the matching baseline of the same run and the target:
 *
 *   baselines   null system call (getppid); futex hand-off between two threads pinned on one
 *               CPU (one way: half a ping-pong round trip); spinning cache-line hand-off
 *               between two CPUs (one way); and, for scale, a futex wake of a thread that
 *               sleeps on the other CPU (one way).
 *   operations  driven by hand on the backend, no policy: the main thread is the agent of
 *               CPU A (it spins on the enclave's default queue, which wakes nobody), a second
 *               thread is the agent of CPU B (it sleeps in local yield; its queue wakes it).
 *               Ghost tasks record CLOCK_MONOTONIC timestamps (ghost_now_ns's clock) in
 *               shared memory: when they start running after being scheduled, and just
 *               before they block or yield.
 *   throughput  one global agent re-committing tasks that yield at once, txns per second.
 *   memory      agent state per task (policy record + task table share, 10,000 tasks), per
 *               CPU (computed from the structs, see mem_rows()), resident size of a process
 *               holding 10,000 tasks' agent state.
 *   macro       ghost-workload's rpc pattern at several offered loads with no agent,
 *               fifo-percpu and fifo-centralized (separate processes: ghost-agent and
 *               ghost-workload from the same bin directory).
 *
 * Output: a table, or --json (a list of objects, one per figure). Exit 0 on success, 1 if
 * the backend or the machine cannot run the benchmark, 2 for bad arguments.
 */
#include <ghost/ghost.h>

#include "fifo.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "ghost-bench"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* ---- options --------------------------------------------------------------------------------- */

#define MAX_LOADS 16
#define MAX_REPEAT 9

static struct {
	const char *kernel;
	long iterations;	/* per operation, after the warm-up */
	bool quick;
	bool macro;
	bool micro;		/* the operations (everything but the macro benchmark) */
	bool json;
	enum { PRIO_AUTO, PRIO_RT, PRIO_NORMAL } prio;	/* of the sleeping agent */
	int loads[MAX_LOADS];	/* macro: offered loads, req/s */
	int nloads;
	double macro_seconds;	/* macro: measured seconds per point */
	int repeat;		/* macro: runs per point (medians are shown) */
	bool antagonist;	/* macro: also every point with an antagonist */
	const char *svg;	/* macro: write the plot here */
} opt = { .kernel = NULL, .iterations = 0, .macro = true, .micro = true,
	  .loads = { 1000, 2000, 4000, 6000, 8000 }, .nloads = 5, .macro_seconds = 2.0, .repeat = 1,
	  .antagonist = true };

static const char usage_text[] =
	"usage: " PROG " [--kernel K] [--iterations N] [--quick] [--no-macro | --macro-only]\n"
	"                   [--loads LIST] [--seconds S] [--repeat N] [--slice-us N]\n"
	"                   [--no-antagonist]\n"
	"                   [--svg FILE] [--prio {auto,rt,normal}] [--json]\n"
	"\n"
	"Measures the ghOSt paper's overhead table (message delivery, local and remote\n"
	"schedule, group commit, preemption), global-agent throughput, agent memory, and\n"
	"the rpc macro benchmark (p50/p99/p99.9 against offered load under plain Linux\n"
	"threads and each policy) on a kernel backend, next to baselines measured in the\n"
	"same run (null system call, futex hand-off on one CPU, cache-line hand-off and a\n"
	"signal across CPUs). Every figure is printed with its ratio to its baseline and\n"
	"its target.\n"
	"\n"
	"  --kernel K        kernel backend (default: $GHOST_KERNEL, else emu)\n"
	"  --iterations N    iterations per operation after the warm-up (default 20000;\n"
	"                    100..10000000)\n"
	"  --quick           a smoke run: few iterations, short throughput windows, no macro\n"
	"  --no-macro        skip the rpc macro benchmark (several minutes)\n"
	"  --macro-only      only the rpc macro benchmark\n"
	"  --loads LIST      macro: offered loads in requests/s, comma-separated\n"
	"                    (default 1000,2000,4000,6000,8000)\n"
	"  --seconds S       macro: seconds measured per point (default 2; 0.2..600)\n"
	"  --repeat N        macro: runs per point, interleaved; rows show the medians\n"
	"                    (default 1; 1..9)\n"
	"  --slice-us N      macro: shinjuku's time slice (default 50)\n"
	"  --no-antagonist   macro: skip the runs beside a low-priority antagonist\n"
	"  --svg FILE        macro: write p99 against load (log scale) as an SVG plot\n"
	"  --prio MODE       the sleeping (per-CPU) agents: auto = SCHED_FIFO where\n"
	"                    permitted, else normal (the default, as ghost-agent); rt =\n"
	"                    SCHED_FIFO or exit 1; normal. The spinning global agent and\n"
	"                    every baseline thread run at normal priority\n"
	"  --json            print a JSON list of {name, median_ns, p99_ns, baseline, ratio,\n"
	"                    target, met, ...} instead of the table\n"
	"  -h, --help        this text\n"
	"\n"
	"Needs two CPUs (it uses the first two of its affinity mask). Exit status: 0 done,\n"
	"1 the backend or machine cannot run it, 2 bad arguments.\n";

static void bad_arg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see " PROG " --help)\n");
	exit(2);
}

static bool progress_on;

static void progress(const char *fmt, ...)
{
	va_list ap;

	if (!progress_on)
		return;
	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- time, pinning, samples ----------------------------------------------------------------- */

static inline int64_t now_ns(void)
{
	struct timespec ts;

	/* The clock of ghost_now_ns() and of every ghOSt timestamp. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

struct samples {
	double *v;
	size_t n, cap;
};

static void s_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			die("out of memory");
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

static void s_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* q in [0, 1]: the smallest sample with at least q of them at or below it. */
static double s_quantile(const double *sorted, size_t n, double q)
{
	size_t i;

	if (!n)
		return NAN;
	i = (size_t)ceil(q * (double)n);
	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return sorted[i - 1];
}

/* ---- result rows ------------------------------------------------------------------------------ */

struct macro_cfg;

struct row {
	char name[64];		/* stable identifier */
	char label[112];	/* for people */
	bool timed;		/* median/p99/min are ns */
	double med, p99, min, p999;
	size_t n;
	char base[64];		/* name of the baseline row, "" = none */
	double target;		/* NAN = none */
	const char *target_on;	/* "ratio" or "value" */
	double value;		/* non-time rows (NAN if unused) */
	const char *unit;
	double thr, offered;	/* macro rows */
	const struct macro_cfg *macro;	/* macro rows: the scheduler */
	bool antagonist;	/* macro and headline rows */
	double antag_cpus;
	bool headline, below_saturation;
	/* macro rows run --repeat times: each run's figures, the row shows their medians */
	double rep[6][MAX_REPEAT];	/* p50, p99, p99.9, throughput, antagonist CPUs,
					   generator lag p99 */
	int nrep;
	char note[320];
	bool failed;
};

#define MAX_ROWS 256
static struct row rows[MAX_ROWS];
static int nrows;

static struct row *row_new(const char *name, const char *label)
{
	struct row *r;

	if (nrows == MAX_ROWS)
		die("too many result rows");
	r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->label, sizeof(r->label), "%s", label);
	r->med = r->p99 = r->min = r->p999 = NAN;
	r->target = NAN;
	r->value = NAN;
	r->thr = r->offered = r->antag_cpus = NAN;
	r->target_on = "ratio";
	return r;
}

static struct row *row_find(const char *name)
{
	for (int i = 0; i < nrows; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	return NULL;
}

static void row_note(struct row *r, const char *fmt, ...)
{
	size_t len = strlen(r->note);
	va_list ap;

	if (len && len < sizeof(r->note) - 2) {
		strcat(r->note, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->note + len, sizeof(r->note) - len, fmt, ap);
	va_end(ap);
}

/* A timed row from samples (ns per event); frees the samples. */
static struct row *row_time(const char *name, const char *label, struct samples *s,
			    const char *base, double target)
{
	struct row *r = row_new(name, label);

	r->timed = true;
	r->n = s->n;
	if (base)
		snprintf(r->base, sizeof(r->base), "%s", base);
	r->target = target;
	if (s->n) {
		qsort(s->v, s->n, sizeof(double), cmp_double);
		r->med = s_quantile(s->v, s->n, 0.5);
		r->p99 = s_quantile(s->v, s->n, 0.99);
		r->min = s->v[0];
	} else {
		r->failed = true;
	}
	s_free(s);
	return r;
}

static double row_ratio(const struct row *r)
{
	const struct row *b;

	if (!r->base[0] || !(b = row_find(r->base)) || !(b->med > 0) || !r->timed)
		return NAN;
	return r->med / b->med;
}

/* true, false, or -1 (no target / no figure). */
static int row_met(const struct row *r)
{
	double x;

	if (isnan(r->target))
		return -1;
	x = !strcmp(r->target_on, "value") ? r->value : row_ratio(r);
	if (isnan(x))
		return -1;
	return x <= r->target;
}

/* ---- baselines --------------------------------------------------------------------------------- */

static long n_iter;	/* iterations per operation */
static long n_warm;	/* warm-up iterations */
static int CPU_A = -1, CPU_B = -1;	/* the global agent's CPU and the other one */

static long futex_op(uint32_t *w, int op, uint32_t val)
{
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void bl_null_syscall(void)
{
	enum { BATCH = 64 };
	struct samples s = { 0 };

	for (long i = 0; i < n_warm + n_iter; i++) {
		int64_t t0 = now_ns();

		for (int j = 0; j < BATCH; j++)
			syscall(SYS_getppid);
		if (i >= n_warm)
			s_add(&s, (double)(now_ns() - t0) / BATCH);
	}
	row_time("baseline_null_syscall", "baseline: null system call (getppid)", &s, NULL, NAN);
}

/* Two threads hand a token back and forth: futex (sleeping) or spinning on one word. */
struct pingpong {
	uint32_t word;		/* odd: the pong side's turn; even: the ping side's */
	int cpu_ping, cpu_pong;
	bool spin;
	long rounds;
	int err;
	uint32_t ready;
};

static void *pong_main(void *arg)
{
	struct pingpong *p = arg;
	uint32_t seen = 0;

	if (pin_self(p->cpu_pong))
		p->err = 1;
	STORE(p->ready, 1);
	for (long i = 0; i < p->rounds; i++) {
		uint32_t w;

		/* Wait for the odd value that follows seen. */
		while ((w = LOAD(p->word)) == seen) {
			if (!p->spin)
				futex_op(&p->word, FUTEX_WAIT_PRIVATE, seen);
			else
				ghost_cpu_relax();
		}
		STORE(p->word, w + 1);
		seen = w + 1;
		if (!p->spin)
			futex_op(&p->word, FUTEX_WAKE_PRIVATE, 1);
	}
	return NULL;
}

/* One sample per batch of round trips: ns per one-way hand-off. */
static void pingpong_run(const char *name, const char *label, int cpu_ping, int cpu_pong,
			 bool spin, int batch)
{
	struct pingpong p = { .cpu_ping = cpu_ping, .cpu_pong = cpu_pong, .spin = spin };
	struct samples s = { 0 };
	pthread_t th;
	long nsamples = n_warm + n_iter;

	p.rounds = nsamples * batch;
	if (pthread_create(&th, NULL, pong_main, &p))
		die("cannot start a thread");
	while (!LOAD(p.ready))
		usleep(100);
	/* This runs in a thread of its own (in_thread): the main thread keeps its mask. */
	if (pin_self(cpu_ping))
		p.err = 1;
	for (long i = 0; i < nsamples; i++) {
		int64_t t0 = now_ns();

		for (int j = 0; j < batch; j++) {
			uint32_t mine = LOAD(p.word) + 1;	/* odd */

			STORE(p.word, mine);
			if (!spin)
				futex_op(&p.word, FUTEX_WAKE_PRIVATE, 1);
			while (LOAD(p.word) == mine) {
				if (!spin)
					futex_op(&p.word, FUTEX_WAIT_PRIVATE, mine);
				else
					ghost_cpu_relax();
			}
		}
		if (i >= n_warm)
			s_add(&s, (double)(now_ns() - t0) / (2.0 * batch));
	}
	pthread_join(th, NULL);
	{
		struct row *r = row_time(name, label, &s, NULL, NAN);

		if (p.err)
			row_note(r, "could not pin the threads");
	}
}

struct ping_thread {
	void (*fn)(void);
};

static void *run_fn(void *arg)
{
	((struct ping_thread *)arg)->fn();
	return NULL;
}

/* Runs fn in a fresh thread (so pinning never touches the main thread's mask). */
static void in_thread(void (*fn)(void))
{
	struct ping_thread pt = { fn };
	pthread_t th;

	if (pthread_create(&th, NULL, run_fn, &pt))
		die("cannot start a thread");
	pthread_join(th, NULL);
}

static void bl_futex_same_cpu(void)
{
	pingpong_run("baseline_futex_handoff_same_cpu",
		     "baseline: futex hand-off, two threads on one CPU (one way)", CPU_B, CPU_B,
		     false, 1);
}

static void bl_cacheline(void)
{
	pingpong_run("baseline_cacheline_handoff_cross_cpu",
		     "baseline: cache-line hand-off, spinning, across CPUs (one way)", CPU_A,
		     CPU_B, true, 64);
}

/* A futex wake of a thread that sleeps on the other CPU (which has gone idle). */
static struct {
	uint32_t word, ack;
	int64_t t_wake;
	long n;
	struct samples s;
} xw;

static void *xw_sleeper(void *arg)
{
	(void)arg;
	pin_self(CPU_B);
	for (long i = 0; i < xw.n; i++) {
		uint32_t want = (uint32_t)i + 1;

		while (LOAD(xw.word) != want)
			futex_op(&xw.word, FUTEX_WAIT_PRIVATE, want - 1);
		if (i >= n_warm / 10)
			s_add(&xw.s, (double)(now_ns() - LOAD(xw.t_wake)));
		STORE(xw.ack, want);
	}
	return NULL;
}

static void bl_futex_cross_cpu_body(void)
{
	pthread_t th;

	xw.n = n_iter / 10 + n_warm / 10;
	if (xw.n > 2000)
		xw.n = 2000;
	if (xw.n < 20)
		xw.n = 20;
	pin_self(CPU_A);
	if (pthread_create(&th, NULL, xw_sleeper, NULL))
		die("cannot start a thread");
	for (long i = 0; i < xw.n; i++) {
		/* Let the other CPU fall asleep: 200 us of nothing on it. */
		int64_t until = now_ns() + 200000;

		while (now_ns() < until)
			ghost_cpu_relax();
		STORE(xw.t_wake, now_ns());
		STORE(xw.word, (uint32_t)i + 1);
		futex_op(&xw.word, FUTEX_WAKE_PRIVATE, 1);
		while (LOAD(xw.ack) != (uint32_t)i + 1)
			ghost_cpu_relax();
	}
	pthread_join(th, NULL);
	row_time("baseline_futex_wake_cross_cpu",
		 "baseline: futex wake of a thread asleep on the other CPU (one way)", &xw.s, NULL,
		 NAN);
}

/*
 * A signal to a thread spinning on the other CPU: the floor under any preemption of a task
 * that never calls in (the embedded kernel's is such a signal). Samples: tgkill -> the
 * handler's first instruction, and the spinner's last progress -> its handler (CPU time the
 * interruption itself takes from the spinner).
 */
static struct {
	int64_t last, last_seen, handled;
	pid_t tid;
	uint32_t stop;
} sg;

static void sg_handler(int sig)
{
	int64_t t = now_ns();

	(void)sig;
	/* The spinner's last progress before it was interrupted: read here, before it
	 * resumes and stamps again. */
	STORE(sg.last_seen, LOAD(sg.last));
	STORE(sg.handled, t);
}

static void *sg_spinner(void *arg)
{
	(void)arg;
	pin_self(CPU_B);
	STORE(sg.tid, gettid());
	while (!LOAD(sg.stop))
		STORE(sg.last, now_ns());
	return NULL;
}

static void bl_signal_cross_cpu_body(void)
{
	struct sigaction sa = { .sa_handler = sg_handler }, old;
	struct samples lat = { 0 }, lost = { 0 };
	long n = n_iter / 10 < 200 ? 200 : n_iter / 10;
	int sig = SIGRTMIN + 7;
	pthread_t th;

	if (n > 5000)
		n = 5000;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, &old);
	pin_self(CPU_A);
	if (pthread_create(&th, NULL, sg_spinner, NULL))
		die("cannot start a thread");
	while (!LOAD(sg.tid))
		ghost_cpu_relax();
	for (long i = 0; i < n_warm / 10 + n; i++) {
		int64_t t0, until = now_ns() + 50000;

		while (now_ns() < until)	/* the spinner is back at it */
			ghost_cpu_relax();
		STORE(sg.handled, 0);
		t0 = now_ns();
		syscall(SYS_tgkill, getpid(), sg.tid, sig);
		while (!LOAD(sg.handled))
			ghost_cpu_relax();
		if (i >= n_warm / 10) {
			s_add(&lat, (double)(LOAD(sg.handled) - t0));
			s_add(&lost, (double)(LOAD(sg.handled) - LOAD(sg.last_seen)));
		}
	}
	STORE(sg.stop, 1);
	pthread_join(th, NULL);
	sigaction(sig, &old, NULL);
	row_time("baseline_signal_cross_cpu",
		 "baseline: signal to a thread spinning on the other CPU (tgkill -> handler)", &lat,
		 NULL, NAN);
	row_time("baseline_signal_cpu_lost",
		 "baseline: the spinner's CPU time a signal takes (last progress -> handler)",
		 &lost, NULL, NAN);
}

/*
 * How often something else takes CPU B from a thread that wants it all, while CPU A is
 * busy as a polling global agent keeps it (nice -20 where permitted): a spinner pinned to
 * CPU B notes every gap of at least 200 us in its own progress (another thread or the host
 * ran meanwhile). Whatever scheduler runs the workers, such a stall stops that CPU's work.
 */
static uint32_t stall_stop;

static void *stall_poller(void *arg)
{
	(void)arg;
	pin_self(CPU_A);
	setpriority(PRIO_PROCESS, (id_t)gettid(), -20);
	while (!LOAD(stall_stop))
		ghost_cpu_relax();
	return NULL;
}

static void bl_stalls_body(void)
{
	int64_t start, end, last, gap_total = 0, worst = 0;
	double secs = opt.quick ? 0.3 : 3.0;
	size_t n = 0;
	pthread_t th;
	struct row *r;

	STORE(stall_stop, 0);
	if (pthread_create(&th, NULL, stall_poller, NULL))
		die("cannot start a thread");
	pin_self(CPU_B);
	start = last = now_ns();
	end = start + (int64_t)(secs * 1e9);
	for (int64_t t; (t = now_ns()) < end; last = t) {
		if (t - last >= 200000) {
			n++;
			gap_total += t - last;
			if (t - last > worst)
				worst = t - last;
		}
	}
	STORE(stall_stop, 1);
	pthread_join(th, NULL);
	r = row_new("env_stalls_cpu_b", "stalls of a CPU: another thread or the host took it >= 200 us");
	r->value = (double)n / secs;
	r->unit = "per s";
	row_note(r, "CPU %d over %.1f s, CPU %d polling beside it: %zu stalls, %.2f%% of the time, "
		    "longest %.2f ms", CPU_B, secs, CPU_A, n,
		 100.0 * (double)gap_total / (double)(end - start), (double)worst / 1e6);
}

static void run_baselines(void)
{
	progress("baselines");
	in_thread(bl_stalls_body);
	bl_null_syscall();
	in_thread(bl_futex_same_cpu);
	in_thread(bl_cacheline);
	in_thread(bl_futex_cross_cpu_body);
	in_thread(bl_signal_cross_cpu_body);
}

/* ---- memory ------------------------------------------------------------------------------------ */

static long vm_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int64_t bench_gtid(uint64_t tid, uint64_t seq)
{
	return (int64_t)((tid << GHOST_GTID_SEQ_BITS) | seq);
}

/* Records per slab of a table of task_size records, found from the outside. */
static uint32_t records_per_slab(size_t task_size)
{
	struct ghost_task_table t;
	uint32_t n = 0;

	if (ghost_task_table_init(&t, task_size))
		return 0;
	for (;;) {
		if (!ghost_task_table_insert(&t, bench_gtid(n + 1, 1)))
			break;
		if (t.nchunks > 1)
			break;
		n++;
	}
	ghost_task_table_fini(&t);
	return n;
}

/*
 * The "--rss-child N" role: a fresh process that builds the agent state of N tasks (the
 * FIFO policies' records in the scheduler base's task table, every one on a run queue, as
 * a FIFO agent holds them) and prints its VmRSS in kB before and after.
 */
static int rss_child(long n)
{
	struct ghost_task_table t;
	struct fifo_rq rq = { 0 };
	long before = vm_rss_kb(), after;

	if (ghost_task_table_init(&t, sizeof(struct fifo_task)))
		return 1;
	for (long i = 0; i < n; i++) {
		struct fifo_task *ft = (struct fifo_task *)ghost_task_table_insert(
			&t, bench_gtid(1000 + (uint64_t)i, 1 + (uint64_t)i));

		if (!ft)
			return 1;
		ft->cpu = -1;
		ft->state = FIFO_QUEUED;
		fifo_rq_push_back(&rq, ft);
	}
	after = vm_rss_kb();
	printf("%ld %ld %u\n", before, after, rq.count);
	ghost_task_table_fini(&t);
	return 0;
}

static char self_exe[PATH_MAX];
static char bin_dir[PATH_MAX];

/* Runs argv, capturing stdout into buf; kills it after timeout_ms. Returns its status. */
/*
 * Processes the bench started and has not reaped yet: killed if the bench is
 * interrupted or times out, so that no agent goes on spinning without it.
 */
static volatile pid_t children[8];

static void child_started(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (!children[i]) {
			children[i] = pid;
			return;
		}
}

static void child_reaped(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == pid)
			children[i] = 0;
}

/*
 * fork() for the bench's children: each dies with the bench, however the
 * bench ends (kill_children covers the ways it can see; SIGKILL, say from
 * a test's timeout, it cannot, and a preemption child spins for good).
 */
static pid_t fork_child(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent))
		_exit(127);	/* the bench is already gone */
	return pid;
}

static void kill_children(void)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
}

static int run_capture(char *const argv[], char *buf, size_t len, int timeout_ms,
		       bool quiet)
{
	int pfd[2], status = -1;
	size_t used = 0;
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
	pid_t pid;

	if (len)
		buf[0] = 0;
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid = fork_child();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		dup2(pfd[1], 1);
		if (devnull >= 0) {
			dup2(devnull, 0);
			if (quiet)
				dup2(devnull, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	child_started(pid);
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		ssize_t r;

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if (used + 1 >= len) {
			char sink[512];

			r = read(pfd[0], sink, sizeof(sink));
		} else {
			r = read(pfd[0], buf + used, len - used - 1);
			if (r > 0) {
				used += (size_t)r;
				buf[used] = 0;
			}
		}
		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_reaped(pid);
	return status;
}

static void mem_rows(void)
{
	enum { N = 10000 };
	struct ghost_task_table t;
	uint32_t per_slab = records_per_slab(sizeof(struct fifo_task));
	size_t bytes, qbytes;
	struct row *r;

	progress("memory");
	/* Per task: the FIFO policies' record in the scheduler base's table, 10,000 of them. */
	r = row_new("mem_agent_state_per_task", "agent state per task (fifo record + table share)");
	r->unit = "bytes";
	r->target = 256;
	r->target_on = "value";
	if (per_slab && ghost_task_table_init(&t, sizeof(struct fifo_task)) == 0) {
		for (int i = 0; i < N; i++)
			if (!ghost_task_table_insert(&t, bench_gtid(100 + (uint64_t)i, 7 + (uint64_t)i)))
				break;
		bytes = (size_t)t.nchunks * per_slab * t.task_size +
			(size_t)t.nbuckets * sizeof(*t.buckets) + (size_t)t.chunk_cap * sizeof(void *);
		r->value = (double)bytes / N;
		row_note(r, "struct fifo_task %zu B (record %zu B); %d tasks: %u slabs of %u records "
			    "+ %u buckets = %zu B",
			 sizeof(struct fifo_task), t.task_size, N, t.nchunks, per_slab, t.nbuckets,
			 bytes);
		ghost_task_table_fini(&t);
	} else {
		r->failed = true;
	}

	/*
	 * Per CPU, computed: the policies' per-CPU structs are private to their .c files, so
	 * their sizes are written out here from policies/fifo_percpu.c (struct pcpu: channel
	 * pointer, run queue, current = 40 B), fifo_centralized.c
	 * (struct ccpu: current, last_commit = 16 B) and src/agent.c (struct
	 * ghost_agent: 48 B). What is measured: the channel object and the message ring's
	 * mapping (ghost_queue_mapsize of the ring size fifo-percpu creates per CPU), the
	 * per-CPU txn page of the ABI.
	 */
	qbytes = ghost_queue_mapsize(GHOST_MAX_QUEUE_ELEMS);
	{
		size_t pcpu = 40, agent = 48;
		size_t chan = sizeof(struct ghost_channel), txn = sizeof(struct ghost_cpu_data);
		size_t fixed = 8 /* ghost_enclave.agents[] */ + 8 /* full agent's agents[] */;

		r = row_new("mem_agent_state_per_cpu_percpu", "agent state per CPU, fifo-percpu");
		r->unit = "bytes";
		r->value = (double)(pcpu + agent + chan + qbytes + txn);
		row_note(r, "computed: policy %zu B + agent record %zu B + channel %zu B + its ring "
			    "(%d slots) %zu B + txn page %zu B; also %zu B of per-CPU slots "
			    "allocated for all %d possible CPUs",
			 pcpu, agent, chan, GHOST_MAX_QUEUE_ELEMS, qbytes, txn, pcpu + fixed,
			 GHOST_MAX_CPUS);

		pcpu = 16;
		r = row_new("mem_agent_state_per_cpu_centralized",
			    "agent state per CPU, fifo-centralized");
		r->unit = "bytes";
		r->value = (double)(pcpu + agent + txn);
		row_note(r, "computed: policy %zu B + agent record %zu B + txn page %zu B; one "
			    "shared ring of %zu B for the enclave; also %zu B of per-CPU slots "
			    "allocated for all %d possible CPUs",
			 pcpu, agent, txn, qbytes, pcpu + fixed, GHOST_MAX_CPUS);
	}

	/* Resident size of a process holding 10,000 tasks' agent state. */
	r = row_new("mem_agent_rss_10000_tasks", "agent resident set with 10,000 tasks");
	r->unit = "bytes";
	{
		char out[256], n[16];
		char *argv[] = { self_exe, "--rss-child", n, NULL };
		long before = -1, after = -1;
		unsigned count = 0;
		int st;

		snprintf(n, sizeof(n), "%d", N);
		st = run_capture(argv, out, sizeof(out), 20000, false);
		if (st == 0 && sscanf(out, "%ld %ld %u", &before, &after, &count) == 3 && after > 0) {
			r->value = (double)after * 1024;
			row_note(r, "VmRSS of a process building the fifo task table and run queue of "
				    "%u tasks: %ld kB before, %ld kB after (%.1f B per task)",
				 count, before, after, (double)(after - before) * 1024 / N);
		} else {
			r->failed = true;
			row_note(r, "the measuring process failed (status 0x%x)", st);
		}
	}
}

/* ---- the backend: enclave, agents, tasks ------------------------------------------------------- */

static char g_root[256];
static cpu_set_t orig_affinity;	/* the process's mask at start: children get it back */
static struct ghost_enclave *E;
static const struct ghost_kernel_ops *K;
static struct ghost_channel *QA;	/* the enclave's default queue: nobody is woken (polled) */
static struct ghost_channel *QB;	/* CPU B's agent's queue: wakes CPU B's agent */
static const struct ghost_status_word *SWA, *SWB;	/* agent words */
static bool park_spin_ok;
static const char *prio_used = "normal";

enum task_mode { MODE_BLOCK, MODE_YIELD, MODE_EXIT };
enum agent_view { V_RUNNABLE, V_ONCPU, V_BLOCKED, V_WAKING };

struct btask {
	const char *name;
	struct ghost_thread *th;
	pid_t tid;
	int64_t gtid;
	struct ghost_sw_info swi;
	const struct ghost_status_word *sw;
	uint32_t seq;		/* agent side: seqnum of the last message read for it */
	int view;		/* agent side: enum agent_view */
	bool queued;		/* throughput: on the agent's FIFO */
	/* written by the task */
	int mode;
	uint32_t word;		/* MODE_BLOCK waits on it (always 0) */
	int64_t t_run;		/* first thing after it was put on a CPU */
	int64_t t_ev;		/* just before it blocks or yields */
	uint64_t runs;
};

enum { T_LOCAL, T_G1, T_G2, NTASKS };
static struct btask T[NTASKS] = {
	[T_LOCAL] = { .name = "local", .mode = MODE_BLOCK },
	[T_G1] = { .name = "global-1", .mode = MODE_YIELD },
	[T_G2] = { .name = "global-2", .mode = MODE_YIELD },
};

static void *task_main(void *arg)
{
	struct btask *t = arg;

	for (;;) {
		int mode;

		STORE(t->t_run, ghost_now_ns());
		__atomic_add_fetch(&t->runs, 1, __ATOMIC_RELAXED);
		mode = LOAD(t->mode);
		if (mode == MODE_EXIT)
			return NULL;
		STORE(t->t_ev, ghost_now_ns());
		if (mode == MODE_BLOCK)
			ghost_wait(&t->word, 0, 0);
		else
			ghost_yield();
	}
}

static struct btask *task_of(int64_t gtid)
{
	for (int i = 0; i < NTASKS; i++)
		if (T[i].gtid == gtid)
			return &T[i];
	return NULL;
}

/* Reads a message's seqnum into its task; returns the task (NULL for others). */
static struct btask *msg_task(const struct ghost_msg *m)
{
	struct btask *t;

	if (!ghost_msg_is_task(m->type))
		return NULL;
	t = task_of(ghost_msg_gtid(m));
	if (t && m->seqnum > t->seq)
		t->seq = m->seqnum;
	return t;
}

static struct ghost_txn_opts txn_opts(int64_t target, uint32_t barrier)
{
	struct ghost_txn_opts o = {
		.target = target,
		.target_barrier = barrier,
		.sync_group_owner = -1,
	};

	return o;
}

static void set_park_spin(long ns)
{
	char v[32];

	snprintf(v, sizeof(v), "%ld", ns);
	park_spin_ok = ghost_enclave_write_file(E, "park_spin_ns", v) == 0;
}

/*
 * The embedded kernel takes a CPU away from ghost tasks (CPU_UNAVAIL) when it judges that
 * another thread wants it (its agent gets under 60% of the CPU while being switched out
 * involuntarily, kernels/emu/emu_kthread.c availability()), and gives it back after three
 * clean 20 ms windows, or 100 ms with idle time. Waits for CPU B to be available again.
 */
static long unavail_waits;

static bool wait_cpu_b_available(int ms)
{
	int64_t end = now_ns() + (int64_t)ms * 1000000;

	if (ghost_sw_cpu_available(SWB))
		return true;
	__atomic_add_fetch(&unavail_waits, 1, __ATOMIC_RELAXED);
	while (!ghost_sw_cpu_available(SWB)) {
		if (now_ns() > end)
			return false;
		usleep(5000);
	}
	return true;
}

/* The sleeping agent outranks its CPU's tasks, as ghOSt's agents do (when permitted). */
static bool want_rt(void)
{
	struct sched_param sp = { .sched_priority = 10 };
	int err;

	if (opt.prio == PRIO_NORMAL)
		return false;
	err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	if (err == 0) {
		prio_used = "SCHED_FIFO 10";
		return true;
	}
	prio_used = "normal (SCHED_FIFO not permitted)";
	return false;
}

static void drop_rt(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
}

/* ---- CPU B's agent: local yield, or the local-agent measurements on command ------------------ */

enum { CMD_IDLE, CMD_LOCAL, CMD_STOP };

static struct {
	pthread_t th;
	int attach_err;
	uint32_t ready;
	int cmd;
	uint32_t done;
	int abort;
	int err;
	char why[160];
	struct samples deliv, sched;
	long fails;
} AB;

static void local_phase(void)
{
	struct btask *t = &T[T_LOCAL];
	long got = 0, need = n_warm + n_iter;
	int64_t t_c = 0;
	bool valid = false;

	t->view = V_RUNNABLE;
	while (got < need && !LOAD(AB.abort)) {
		uint32_t ab = ghost_sw_barrier(SWB);
		const struct ghost_msg *m;
		int r;

		while ((m = ghost_channel_peek(QB))) {
			int64_t t_deq = now_ns();
			struct btask *mt = msg_task(m);

			if (mt == t) {
				switch (m->type) {
				case MSG_TASK_BLOCKED:
					if (t->view == V_ONCPU && valid) {
						if (got >= n_warm) {
							s_add(&AB.deliv, (double)(t_deq - LOAD(t->t_ev)));
							s_add(&AB.sched, (double)(LOAD(t->t_run) - t_c));
						}
						got++;
					}
					t->view = V_BLOCKED;
					valid = false;
					break;
				case MSG_TASK_WAKEUP:
					t->view = V_RUNNABLE;
					break;
				case MSG_TASK_PREEMPT:
				case MSG_TASK_YIELD:
					t->view = V_RUNNABLE;
					valid = false;
					break;
				default:
					break;
				}
			}
			ghost_channel_consume(QB, m);
		}
		if (t->view == V_BLOCKED) {
			/* Wake it from here: its TASK_WAKEUP comes to this queue. */
			t->view = V_WAKING;
			ghost_wake(&t->word, 1);
			continue;
		}
		if (t->view == V_RUNNABLE && ghost_sw_barrier(t->sw) == t->seq) {
			struct ghost_txn_opts o = txn_opts(t->gtid, t->seq);
			struct ghost_txn *txn = ghost_enclave_txn(E, CPU_B);

			o.agent_barrier = ab;
			t_c = now_ns();
			ghost_txn_open(E, CPU_B, &o);
			r = ghost_txn_commit(E, CPU_B);
			if (r == 1) {
				t->view = V_ONCPU;
				valid = true;
			} else if (ghost_txn_state(txn) == GHOST_TXN_CPU_UNAVAIL &&
				   wait_cpu_b_available(5000)) {
				continue;
			} else if (++AB.fails > 1000 + need / 10) {
				snprintf(AB.why, sizeof(AB.why), "local commits keep failing (%s)",
					 ghost_txn_reason(ghost_txn_state(txn)));
				AB.err = -EIO;
				return;
			}
			continue;
		}
		if (ghost_channel_peek(QB))
			continue;
		r = ghost_txn_local_yield(E, CPU_B, ab, 0);
		if (r && r != -ESTALE) {
			snprintf(AB.why, sizeof(AB.why), "local yield: %s", ghost_strerror(r));
			AB.err = r;
			return;
		}
	}
	if (got < need) {
		snprintf(AB.why, sizeof(AB.why), "timed out after %ld of %ld iterations", got, need);
		AB.err = -ETIMEDOUT;
	}
}

static void *agent_b_main(void *arg)
{
	struct ghost_sw_info info;
	bool rt;

	(void)arg;
	AB.attach_err = ghost_enclave_agent_attach(E, CPU_B, QB);
	if (!AB.attach_err && (ghost_sw_agent_info(E, CPU_B, &info) ||
			       !(SWB = ghost_sw_lookup(E, &info))))
		AB.attach_err = -EIO;
	if (AB.attach_err) {
		STORE(AB.ready, 1);
		return NULL;
	}
	rt = want_rt();
	if (!rt && opt.prio == PRIO_RT) {
		AB.attach_err = -EPERM;
		ghost_enclave_agent_detach(E, CPU_B);
		return NULL;
	}
	STORE(AB.ready, 1);
	for (;;) {
		int cmd = LOAD(AB.cmd);
		uint32_t b;
		const struct ghost_msg *m;
		int r;

		if (cmd == CMD_STOP)
			break;
		if (cmd == CMD_LOCAL) {
			local_phase();
			STORE(AB.cmd, CMD_IDLE);
			STORE(AB.done, 1);
			continue;
		}
		b = ghost_sw_barrier(SWB);
		while ((m = ghost_channel_peek(QB))) {
			msg_task(m);
			ghost_channel_consume(QB, m);
		}
		if (LOAD(AB.cmd) != CMD_IDLE)
			continue;
		r = ghost_txn_local_yield(E, CPU_B, b, 0);
		if (r && r != -ESTALE) {
			AB.err = r;
			break;
		}
	}
	if (rt)
		drop_rt();
	ghost_enclave_agent_detach(E, CPU_B);
	return NULL;
}

/* ---- CPU A's agent (the main thread): the global-agent measurements --------------------------- */

/* Drains QA into the tasks' views (for setup and between phases). */
static void drain_a(void)
{
	const struct ghost_msg *m;

	while ((m = ghost_channel_peek(QA))) {
		struct btask *t = msg_task(m);

		if (t) {
			switch (m->type) {
			case MSG_TASK_BLOCKED:
				t->view = V_BLOCKED;
				break;
			case MSG_TASK_WAKEUP:
			case MSG_TASK_YIELD:
			case MSG_TASK_PREEMPT:
				t->view = V_RUNNABLE;
				break;
			default:
				break;
			}
		}
		ghost_channel_consume(QA, m);
	}
}

/* Waits (draining QA) until cond holds or ms pass. */
#define WAIT_UNTIL(cond, ms)                                                                \
	({                                                                                  \
		int64_t _end = now_ns() + (int64_t)(ms) * 1000000;                          \
		bool _ok = false;                                                           \
		for (;;) {                                                                  \
			drain_a();                                                          \
			if (cond) {                                                         \
				_ok = true;                                                 \
				break;                                                      \
			}                                                                   \
			if (now_ns() > _end)                                                \
				break;                                                      \
			usleep(100);                                                        \
		}                                                                           \
		_ok;                                                                        \
	})

enum gmode { G_SINGLE, G_GROUP2 };

struct gresult {
	struct samples deliv, ovh, e2e;
	long fails;
	const char *why;
};

/*
 * Task t (yielding at once each time it runs) on CPU B, re-committed by this agent every
 * time its TASK_YIELD arrives. Samples: delivery (its yield call -> our peek), agent
 * overhead (our open + commit call), end to end (our open -> its first instruction).
 */
static void global_phase(enum gmode mode, struct btask *t, long need, struct gresult *res)
{
	struct ghost_cpuset group;
	struct ghost_txn *txn = ghost_enclave_txn(E, CPU_B);
	int64_t t_c = 0, deadline = now_ns() + 30000000000LL;
	long got = 0, spins = 0;
	bool valid = false;

	ghost_cpuset_zero(&group);
	ghost_cpuset_set(&group, CPU_B);
	if (mode == G_GROUP2)
		ghost_cpuset_set(&group, CPU_A);
	while (got < need) {
		const struct ghost_msg *m;

		while ((m = ghost_channel_peek(QA))) {
			int64_t t_seen = now_ns();
			struct btask *mt = msg_task(m);

			if (mt == t) {
				switch (m->type) {
				case MSG_TASK_YIELD:
					if (t->view == V_ONCPU && valid) {
						if (got >= n_warm) {
							s_add(&res->deliv,
							      (double)(t_seen - LOAD(t->t_ev)));
							s_add(&res->e2e, (double)(LOAD(t->t_run) - t_c));
						}
						got++;
					}
					t->view = V_RUNNABLE;
					valid = false;
					break;
				case MSG_TASK_PREEMPT:
				case MSG_TASK_WAKEUP:
					t->view = V_RUNNABLE;
					valid = false;
					break;
				case MSG_TASK_BLOCKED:
					t->view = V_BLOCKED;
					res->why = "the task blocked";
					return;
				default:
					break;
				}
			} else if (mt && (m->type == MSG_TASK_YIELD || m->type == MSG_TASK_PREEMPT ||
					  m->type == MSG_TASK_WAKEUP)) {
				mt->view = V_RUNNABLE;
			}
			ghost_channel_consume(QA, m);
		}
		if (t->view == V_RUNNABLE && ghost_sw_barrier(t->sw) == t->seq) {
			struct ghost_txn_opts o = txn_opts(t->gtid, t->seq);
			int64_t t1;

			o.commit_flags = COMMIT_AT_TXN_COMMIT;
			if (mode == G_GROUP2) {
				struct ghost_txn_opts oa = txn_opts(GHOST_AGENT_GTID, 0);

				oa.agent_barrier = ghost_sw_barrier(SWA);
				oa.commit_flags = COMMIT_AT_TXN_COMMIT;
				t_c = now_ns();
				ghost_txn_open(E, CPU_B, &o);
				ghost_txn_open(E, CPU_A, &oa);
				ghost_txn_commit_set(E, &group);
			} else {
				t_c = now_ns();
				ghost_txn_open(E, CPU_B, &o);
				ghost_txn_commit(E, CPU_B);
			}
			t1 = now_ns();
			if (ghost_txn_succeeded(txn)) {
				t->view = V_ONCPU;
				valid = true;
				if (got >= n_warm)
					s_add(&res->ovh, (double)(t1 - t_c) / (mode == G_GROUP2 ? 2 : 1));
			} else if (ghost_txn_state(txn) == GHOST_TXN_CPU_UNAVAIL &&
				   wait_cpu_b_available(5000)) {
				continue;
			} else if (++res->fails > 1000 + need / 10) {
				res->why = ghost_txn_reason(ghost_txn_state(txn));
				return;
			}
			continue;
		}
		ghost_cpu_relax();
		if (++spins % 4096 == 0 && now_ns() > deadline) {
			res->why = "timed out";
			return;
		}
	}
}

/* Commits of GHOST_NULL_GTID to idle CPU B: the commit path with no task to run. */
static void null_commits(long need, struct samples *s)
{
	struct ghost_txn_opts o = txn_opts(GHOST_NULL_GTID, 0);

	o.commit_flags = COMMIT_AT_TXN_COMMIT;
	for (long i = 0; i < n_warm + need; i++) {
		int64_t t0 = now_ns();

		ghost_txn_open(E, CPU_B, &o);
		ghost_txn_commit(E, CPU_B);
		if (i >= n_warm)
			s_add(s, (double)(now_ns() - t0));
	}
}

/*
 * Throughput: the tasks yield at once every time they run; this agent keeps CPU B busy,
 * committing the next runnable task in FIFO order whenever the previous one yielded.
 * One sample per window: txns per second.
 */
static void throughput(struct btask **ts, int nt, int64_t window_ns, int windows,
		       struct samples *rates, long *fails_out)
{
	struct btask *fifo[8];
	int head = 0, count = 0;
	struct btask *oncpu = NULL;
	long fails = 0;

	for (int i = 0; i < nt; i++) {
		ts[i]->queued = ts[i]->view == V_RUNNABLE;
		if (ts[i]->queued)
			fifo[(head + count++) % 8] = ts[i];
	}
	int discarded = 0;

	for (int w = -1; w < windows; w++) {	/* window -1: warm-up */
		int64_t end = now_ns() + window_ns, start = now_ns();
		long commits = 0;
		bool discard = false;

		while (now_ns() < end) {
			const struct ghost_msg *m;

			while ((m = ghost_channel_peek(QA))) {
				struct btask *t = msg_task(m);

				if (t && (m->type == MSG_TASK_YIELD || m->type == MSG_TASK_PREEMPT ||
					  m->type == MSG_TASK_WAKEUP)) {
					t->view = V_RUNNABLE;
					if (t == oncpu)
						oncpu = NULL;
					if (!t->queued) {
						t->queued = true;
						fifo[(head + count++) % 8] = t;
					}
				}
				ghost_channel_consume(QA, m);
			}
			if (!oncpu && count) {
				struct btask *t = fifo[head];
				struct ghost_txn_opts o;

				if (ghost_sw_barrier(t->sw) != t->seq)
					continue;	/* a message for it is on its way */
				o = txn_opts(t->gtid, t->seq);
				o.commit_flags = COMMIT_AT_TXN_COMMIT;
				ghost_txn_open(E, CPU_B, &o);
				if (ghost_txn_commit(E, CPU_B) == 1) {
					head = (head + 1) % 8;
					count--;
					t->queued = false;
					t->view = V_ONCPU;
					oncpu = t;
					commits++;
				} else {
					fails++;
					if (ghost_txn_state(ghost_enclave_txn(E, CPU_B)) ==
					    GHOST_TXN_CPU_UNAVAIL) {
						/* This window does not count. */
						wait_cpu_b_available(5000);
						discard = true;
						break;
					}
				}
			}
		}
		if (discard) {
			if (++discarded <= 10)
				w--;
			continue;
		}
		if (w >= 0)
			s_add(rates, (double)commits * 1e9 / (double)(now_ns() - start));
	}
	/* Let the last one come back so every task is runnable and known again. */
	if (oncpu)
		WAIT_UNTIL(oncpu->view == V_RUNNABLE, 2000);
	*fails_out = fails;
}

static void setup_backend(void)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo) };
	struct ghost_cpuset cpus;
	struct ghost_sw_info info;
	int err;

	K = opt.kernel ? ghost_kernel_find(opt.kernel) : ghost_kernel_default();
	if (!K)
		die("no kernel backend \"%s\" in this build", opt.kernel);
	snprintf(g_root, sizeof(g_root), "/tmp/ghost-bench.XXXXXX");
	if (!mkdtemp(g_root))
		die("cannot create a temporary directory: %s", strerror(errno));
	ghost_cpuset_zero(&cpus);
	ghost_cpuset_set(&cpus, CPU_A);
	ghost_cpuset_set(&cpus, CPU_B);
	eo.kernel = ghost_kernel_name(K);
	eo.root = g_root;
	eo.cpus = &cpus;
	eo.max_tasks = 64;
	err = ghost_enclave_create(&eo, &E);
	if (err)
		die("cannot create an enclave on the %s kernel: %s", ghost_kernel_name(K), ghost_strerror(err));
	if ((err = ghost_channel_create(E, 1024, 0, &QA)) || (err = ghost_channel_set_default(QA)) ||
	    (err = ghost_channel_config_wakeup(QA, NULL, 0)) ||
	    (err = ghost_channel_create(E, 1024, 0, &QB)) ||
	    (err = ghost_channel_config_wakeup(QB, &CPU_B, 1)))
		die("cannot set up the message queues: %s", ghost_strerror(err));
	if ((err = ghost_enclave_agent_online(E)))
		die("cannot claim the enclave's agent: %s", ghost_strerror(err));
	/* The main thread is CPU A's agent from here on (pinned there). */
	if ((err = ghost_enclave_agent_attach(E, CPU_A, QA)))
		die("cannot attach the agent of CPU %d: %s", CPU_A, ghost_strerror(err));
	if (ghost_sw_agent_info(E, CPU_A, &info) || !(SWA = ghost_sw_lookup(E, &info)))
		die("no status word for the agent of CPU %d", CPU_A);
	if (pthread_create(&AB.th, NULL, agent_b_main, NULL))
		die("cannot start a thread");
	while (!LOAD(AB.ready))
		usleep(100);
	if (AB.attach_err == -EPERM && opt.prio == PRIO_RT)
		die("--prio rt: SCHED_FIFO is not permitted here");
	if (AB.attach_err)
		die("cannot attach the agent of CPU %d: %s", CPU_B, ghost_strerror(AB.attach_err));
}

/* TASK_NEW handling lives in its own drain for setup (drain_a does not know new tasks). */
static void drain_new(void)
{
	const struct ghost_msg *m;

	while ((m = ghost_channel_peek(QA))) {
		if (m->type == MSG_TASK_NEW) {
			struct ghost_msg_payload_task_new p;
			int64_t gtid = ghost_msg_gtid(m);

			ghost_msg_copy_payload(m, &p, sizeof(p));
			for (int i = 0; i < NTASKS; i++) {
				struct btask *t = &T[i];

				if (t->tid && !t->gtid && ghost_gtid_to_tid(gtid) == t->tid) {
					t->gtid = gtid;
					t->seq = m->seqnum;
					t->swi = p.sw_info;
					t->sw = ghost_sw_lookup(E, &t->swi);
					t->view = p.runnable ? V_RUNNABLE : V_BLOCKED;
					if (!t->sw)
						die("no status word for ghost thread %d", t->tid);
				}
			}
			ghost_channel_consume(QA, m);
			continue;
		}
		msg_task(m);
		ghost_channel_consume(QA, m);
	}
}

static void create_tasks(void)
{
	int err;

	for (int i = 0; i < NTASKS; i++) {
		struct btask *t = &T[i];
		int64_t end;

		if ((err = ghost_thread_create(E, &t->th, task_main, t)))
			die("cannot create a ghost thread: %s", ghost_strerror(err));
		t->tid = ghost_thread_tid(t->th);
		end = now_ns() + 5000000000LL;
		while (!t->gtid) {
			drain_new();
			if (now_ns() > end)
				die("no TASK_NEW for ghost thread %d", t->tid);
			usleep(50);
		}
	}
	/* The local task's messages go to CPU B's agent's queue, which wakes it. */
	err = ghost_channel_associate(QB, T[T_LOCAL].gtid, T[T_LOCAL].seq);
	if (err < 0)
		die("cannot associate a task with CPU %d's queue: %s", CPU_B, ghost_strerror(err));
}

static void teardown_backend(void)
{
	for (int i = 0; i < NTASKS; i++)
		STORE(T[i].mode, MODE_EXIT);
	STORE(AB.cmd, CMD_STOP);
	ghost_txn_ping(E, CPU_B);
	pthread_join(AB.th, NULL);
	ghost_enclave_agent_detach(E, CPU_A);
	/* The tasks go back to normal threads, see MODE_EXIT and return. */
	ghost_enclave_destroy(E);
	for (int i = 0; i < NTASKS; i++)
		if (T[i].th)
			ghost_thread_join(T[i].th, NULL);
	ghost_channel_destroy(QB);
	ghost_channel_destroy(QA);
	ghost_enclave_close(E);
	E = NULL;
	/* Attaching pinned this thread to CPU A; the macro's processes inherit our mask. */
	sched_setaffinity(0, sizeof(orig_affinity), &orig_affinity);
}

static const char *B_SYSCALL = "baseline_null_syscall";
static const char *B_FUTEX = "baseline_futex_handoff_same_cpu";
static const char *B_LINE = "baseline_cacheline_handoff_cross_cpu";
static const char *B_XWAKE = "baseline_futex_wake_cross_cpu";

static void phase_fail(struct row *r, const char *why, long fails)
{
	if (why) {
		r->failed = true;
		row_note(r, "stopped early: %s", why);
	}
	if (fails)
		row_note(r, "%ld failed commits retried", fails);
}

/* Notes how often the phase found CPU B taken away (see wait_cpu_b_available). */
static void note_unavail(struct row *r, long before)
{
	long n = LOAD(unavail_waits) - before;

	if (n > 0)
		row_note(r, "CPU %d was marked unavailable %ld time%s by the backend's availability "
			    "heuristic; the measurement waited for it", CPU_B, n, n == 1 ? "" : "s");
}

static void preempt_phase(void);

static void run_emu_ops(void)
{
	long u0;
	struct gresult g = { 0 };
	struct samples s = { 0 };
	struct row *r;
	long fails;
	int64_t end;

	progress("operations on the %s kernel", ghost_kernel_name(K));
	create_tasks();

	/* 1. Local: CPU B's agent sleeps; its task blocks and is committed back locally. */
	set_park_spin(0);
	u0 = LOAD(unavail_waits);
	STORE(AB.done, 0);
	STORE(AB.cmd, CMD_LOCAL);
	ghost_txn_ping(E, CPU_B);
	end = now_ns() + 60000000000LL;
	while (!LOAD(AB.done)) {
		drain_a();
		if (now_ns() > end) {
			STORE(AB.abort, 1);
			ghost_txn_ping(E, CPU_B);
			while (!LOAD(AB.done))
				usleep(1000);
		}
		usleep(1000);
	}
	r = row_time("msg_delivery_local_agent",
		     "message delivery to a local sleeping agent (block -> agent dequeues)",
		     &AB.deliv, B_FUTEX, 1.3);
	phase_fail(r, AB.err ? AB.why : NULL, AB.fails);
	note_unavail(r, u0);
	row_note(r, "CPU %d's agent at %s priority", CPU_B, prio_used);
	r = row_time("local_schedule", "local schedule (commit on own CPU -> task runs)", &AB.sched,
		     B_FUTEX, 1.3);
	phase_fail(r, AB.err ? AB.why : NULL, AB.fails);
	note_unavail(r, u0);
	row_note(r, "CPU %d's agent at %s priority", CPU_B, prio_used);

	/* 2. Global agent spinning on CPU A, a task on CPU B that polls while parked. */
	set_park_spin(200000);
	wait_cpu_b_available(3000);
	u0 = LOAD(unavail_waits);
	global_phase(G_SINGLE, &T[T_G1], n_warm + n_iter, &g);
	r = row_time("msg_delivery_global_agent",
		     "message delivery to a spinning global agent (yield -> agent sees it)",
		     &g.deliv, B_LINE, 4);
	phase_fail(r, g.why, g.fails);
	note_unavail(r, u0);
	r = row_time("remote_schedule_agent_overhead",
		     "remote schedule, agent overhead (one txn to another CPU)", &g.ovh, B_SYSCALL,
		     4);
	phase_fail(r, g.why, 0);
	if (!park_spin_ok)
		row_note(r, "the backend has no park_spin_ns: the target was not polling");
	r = row_time("remote_schedule_e2e_polling",
		     "remote schedule, end to end, target CPU polling", &g.e2e, B_LINE, 20);
	phase_fail(r, g.why, 0);
	if (!park_spin_ok)
		row_note(r, "the backend has no park_spin_ns: the target was not polling");
	else
		row_note(r, "park_spin_ns 200000");

	/* 3. Group commits: this machine gives the global agent one remote CPU. */
	memset(&g, 0, sizeof(g));
	global_phase(G_SINGLE, &T[T_G1], n_warm + n_iter, &g);
	s_free(&g.deliv);
	s_free(&g.e2e);
	r = row_time("group_commit_per_txn",
		     "group commit, agent overhead per txn (group of 1 remote CPU)", &g.ovh,
		     B_SYSCALL, 4);
	phase_fail(r, g.why, g.fails);
	row_note(r, "a %d-CPU enclave leaves its global agent %d remote CPU: a group of 1 "
		    "(ghOSt's figure is a group of 10)", 2, 1);

	memset(&g, 0, sizeof(g));
	global_phase(G_GROUP2, &T[T_G1], n_warm + n_iter, &g);
	s_free(&g.deliv);
	s_free(&g.e2e);
	r = row_time("group_commit_per_txn_2",
		     "group commit of 2 txns per txn (task to CPU B + agent txn on own CPU)",
		     &g.ovh, B_SYSCALL, NAN);
	phase_fail(r, g.why, g.fails);
	row_note(r, "the second txn targets GHOST_AGENT_GTID on the agent's own CPU: the "
		    "commit path without a second remote CPU");

	null_commits(n_iter, &s);
	r = row_time("commit_null_txn", "commit of a GHOST_NULL_GTID txn to idle CPU B", &s,
		     B_SYSCALL, NAN);

	/*
	 * 4. Throughput: one global agent keeps CPU B busy with tasks that yield at once. With
	 * one task the loop is bound by the round trip; with two, a task that just yielded
	 * polls on CPU B while the next one should run there.
	 */
	{
		static const struct {
			const char *name, *label;
			int ntasks;
			long spin;
		} tp[] = {
			{ "global_agent_throughput_1cpu",
			  "global agent throughput, groups of 1 CPU, 1 task, target polling", 1, 200000 },
			{ "global_agent_throughput_1cpu_2tasks",
			  "global agent throughput, groups of 1 CPU, 2 tasks, target polling", 2, 200000 },
			{ "global_agent_throughput_1cpu_2tasks_nopoll",
			  "global agent throughput, groups of 1 CPU, 2 tasks, target asleep", 2, 0 },
		};
		struct btask *ts[2] = { &T[T_G1], &T[T_G2] };
		int64_t window = opt.quick ? 20000000 : 100000000;
		int windows = opt.quick ? 3 : 20;

		for (size_t i = 0; i < sizeof(tp) / sizeof(tp[0]); i++) {
			struct samples rates = { 0 };

			set_park_spin(tp[i].spin);
			wait_cpu_b_available(3000);
			u0 = LOAD(unavail_waits);
			throughput(ts, tp[i].ntasks, window, windows, &rates, &fails);
			qsort(rates.v, rates.n, sizeof(double), cmp_double);
			r = row_new(tp[i].name, tp[i].label);
			r->unit = "txn/s";
			r->timed = true;
			snprintf(r->base, sizeof(r->base), "%s", B_SYSCALL);
			r->n = rates.n;
			if (rates.n) {
				r->value = s_quantile(rates.v, rates.n, 0.5);
				r->med = 1e9 / r->value;
				r->p99 = 1e9 / rates.v[0];
				r->min = 1e9 / rates.v[rates.n - 1];
			} else {
				r->failed = true;
			}
			row_note(r, "%d windows of %lld ms; ns columns are per txn (p99 = the slowest "
				    "window); park_spin_ns %ld",
				 windows, (long long)(window / 1000000), tp[i].spin);
			if (fails)
				row_note(r, "%ld failed commits", fails);
			note_unavail(r, u0);
			s_free(&rates);
		}
	}

	/* 5. The same remote schedule with the target asleep (no polling). */
	set_park_spin(0);
	memset(&g, 0, sizeof(g));
	{
		long saved = n_warm, n = n_iter / 10 < 200 ? 200 : n_iter / 10;

		if (n > 5000)
			n = 5000;
		n_warm = n / 10;
		global_phase(G_SINGLE, &T[T_G1], n_warm + n, &g);
		n_warm = saved;
	}
	s_free(&g.deliv);
	r = row_time("remote_schedule_e2e_sleeping",
		     "remote schedule, end to end, target CPU asleep (park_spin_ns 0)", &g.e2e,
		     B_XWAKE, NAN);
	phase_fail(r, g.why, g.fails);
	r = row_time("remote_schedule_agent_overhead_sleeping",
		     "remote schedule, agent overhead, target CPU asleep (futex wake inside)",
		     &g.ovh, B_SYSCALL, NAN);
	phase_fail(r, g.why, 0);

	preempt_phase();
	teardown_backend();
}

/*
 * 6. Preempting a task of another process: a child process (this program, --preempt-child)
 * has two ghost threads, a spinner that stamps the time into shared memory without pause and
 * a task that stamps the time it starts running and yields at once. The spinner runs on CPU
 * B; this agent commits the other task onto CPU B, which takes the spinner off with a signal
 * (its own process's), and waits for the other task's stamp; then it puts the spinner back.
 * Samples: commit -> the next task's first instruction, and the CPU time no task used, from
 * the spinner's last stamp to that first instruction.
 */
struct preempt_shm {
	int64_t spin_last;	/* the spinner's latest stamp */
	int64_t next_run;	/* the other task: when it last started running */
	int32_t tid[2];		/* spinner, other */
	uint32_t exit;
};

static void *preempt_spin_main(void *arg)
{
	struct preempt_shm *shm = arg;

	while (!LOAD(shm->exit))
		STORE(shm->spin_last, now_ns());
	return NULL;
}

static void *preempt_next_main(void *arg)
{
	struct preempt_shm *shm = arg;

	while (!LOAD(shm->exit)) {
		STORE(shm->next_run, now_ns());
		ghost_yield();
	}
	return NULL;
}

static int preempt_child(const char *root, const char *id)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo), .root = root };
	struct ghost_thread *th[2];
	struct preempt_shm *shm;
	struct ghost_enclave *e;
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/preempt.shm", root);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return 3;
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	eo.id = strtoull(id, NULL, 10);
	eo.kernel = getenv("GHOST_KERNEL");
	if (shm == MAP_FAILED || ghost_enclave_attach(&eo, &e))
		return 4;
	for (int i = 0; i < 2; i++) {
		if (ghost_thread_create(e, &th[i], i ? preempt_next_main : preempt_spin_main, shm))
			return 5;
		STORE(shm->tid[i], ghost_thread_tid(th[i]));
	}
	for (int i = 0; i < 2; i++)
		ghost_thread_join(th[i], NULL);
	ghost_enclave_close(e);
	return 0;
}

static void preempt_phase(void)
{
	struct {
		int64_t gtid;
		uint32_t seq;
		int view;
		const struct ghost_status_word *sw;
	} pt[2] = { { 0 } };
	struct samples lat = { 0 }, lost = { 0 };
	char path[PATH_MAX], idbuf[32];
	struct preempt_shm *shm;
	struct row *r;
	const char *why = NULL;
	long need = n_warm + (n_iter < 5000 ? n_iter : 5000), got = 0, fails = 0;
	int64_t deadline = now_ns() + 60000000000LL;
	pid_t child;
	int fd, st;

	snprintf(path, sizeof(path), "%s/preempt.shm", g_root);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(*shm)))
		die("cannot create %s: %s", path, strerror(errno));
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (shm == MAP_FAILED)
		die("cannot map %s: %s", path, strerror(errno));
	snprintf(idbuf, sizeof(idbuf), "%" PRIu64, ghost_enclave_id(E));
	child = fork_child();
	if (child < 0)
		die("cannot fork: %s", strerror(errno));
	if (child == 0) {
		char *argv[] = { self_exe, "--preempt-child", g_root, idbuf, NULL };

		/* Not pinned where this agent thread is. */
		sched_setaffinity(0, sizeof(orig_affinity), &orig_affinity);
		setenv("GHOST_KERNEL", ghost_kernel_name(K), 1);
		execv(self_exe, argv);
		_exit(127);
	}
	child_started(child);
	/* Both tasks' TASK_NEW, matched by the tids the child writes down. */
	while (!pt[0].gtid || !pt[1].gtid) {
		const struct ghost_msg *m;

		/* A TASK_NEW may come before the child wrote its tid down:
		 * read none until both tids are there, or it is lost. */
		while (LOAD(shm->tid[0]) && LOAD(shm->tid[1]) && (m = ghost_channel_peek(QA))) {
			int64_t gtid = ghost_msg_gtid(m);

			for (int i = 0; i < 2; i++) {
				struct ghost_msg_payload_task_new p;

				if (m->type != MSG_TASK_NEW || ghost_gtid_to_tid(gtid) != LOAD(shm->tid[i]))
					continue;
				ghost_msg_copy_payload(m, &p, sizeof(p));
				pt[i].gtid = gtid;
				pt[i].seq = m->seqnum;
				pt[i].view = V_RUNNABLE;
				pt[i].sw = ghost_sw_lookup(E, &p.sw_info);
			}
			ghost_channel_consume(QA, m);
		}
		if (now_ns() > deadline) {
			why = "the child's tasks never arrived";
			goto out;
		}
		usleep(100);
	}
	/* Alternately: the spinner onto CPU B (view ONCPU), then the other task over it. */
	for (int which = 0; got < need;) {
		const struct ghost_msg *m;
		struct ghost_txn_opts o;
		int64_t t0, before;

		while ((m = ghost_channel_peek(QA))) {
			for (int i = 0; i < 2; i++) {
				if (ghost_msg_gtid(m) != pt[i].gtid)
					continue;
				pt[i].seq = m->seqnum;
				if (m->type == MSG_TASK_PREEMPT || m->type == MSG_TASK_YIELD)
					pt[i].view = V_RUNNABLE;
			}
			ghost_channel_consume(QA, m);
		}
		if (now_ns() > deadline) {
			why = "timed out";
			break;
		}
		/*
		 * Messages still on their way, or not off its CPU yet: not now. The spinner
		 * goes back only once the other task has yielded: preempted between its
		 * stamp and its yield, it would yield again without a stamp next time.
		 */
		if (pt[which].view != V_RUNNABLE || !pt[which].sw ||
		    ghost_sw_barrier(pt[which].sw) != pt[which].seq ||
		    (which == 0 && pt[1].view != V_RUNNABLE)) {
			ghost_cpu_relax();
			continue;
		}
		o = txn_opts(pt[which].gtid, pt[which].seq);
		o.commit_flags = COMMIT_AT_TXN_COMMIT;
		before = LOAD(shm->next_run);
		t0 = now_ns();
		ghost_txn_open(E, CPU_B, &o);
		if (ghost_txn_commit(E, CPU_B) != 1) {
			if (++fails > 1000 + need)
				why = ghost_txn_reason(ghost_txn_state(ghost_enclave_txn(E, CPU_B)));
			if (why)
				break;
			continue;
		}
		pt[which].view = V_ONCPU;
		if (which == 0) {
			/* The spinner is back: wait for its stamps to move on. */
			int64_t since = now_ns();

			while (LOAD(shm->spin_last) < since && now_ns() < deadline)
				ghost_cpu_relax();
			which = 1;
			continue;
		}
		while (LOAD(shm->next_run) == before && now_ns() < deadline)
			ghost_cpu_relax();
		if (got++ >= n_warm) {
			int64_t run = LOAD(shm->next_run);

			s_add(&lat, (double)(run - t0));
			s_add(&lost, (double)(run - LOAD(shm->spin_last)));
		}
		which = 0;
	}
out:
	STORE(shm->exit, 1);
	/*
	 * Run both until they return (they see exit) and the child ends: at most 5 s, then it
	 * is killed. Without both tasks known there is nothing to run: killed at once.
	 */
	{
		int64_t end = now_ns() + (pt[0].gtid && pt[1].gtid ? 5000000000LL : 0);

		while (waitpid(child, &st, WNOHANG) != child) {
			const struct ghost_msg *m;

			if (now_ns() >= end) {
				kill(child, SIGKILL);
				waitpid(child, &st, 0);
				break;
			}
			while ((m = ghost_channel_peek(QA))) {
				for (int k = 0; k < 2; k++)
					if (ghost_msg_gtid(m) == pt[k].gtid)
						pt[k].seq = m->seqnum;
				ghost_channel_consume(QA, m);
			}
			for (int k = 0; k < 2; k++) {
				struct ghost_txn_opts o = txn_opts(pt[k].gtid, pt[k].seq);

				o.commit_flags = COMMIT_AT_TXN_COMMIT;
				ghost_txn_open(E, CPU_B, &o);
				ghost_txn_commit(E, CPU_B);
			}
			usleep(1000);
		}
		child_reaped(child);
	}
	munmap(shm, sizeof(*shm));
	r = row_time("preempt_remote_process",
		     "preempt a spinner of another process, run the next task on its CPU",
		     &lat, B_FUTEX, 2.0);
	phase_fail(r, why, fails);
	row_note(r, "commit -> the next task's first instruction; the spinner is stopped by a "
		    "signal of its own process");
	{
		struct row *sig = row_find("baseline_signal_cross_cpu");
		struct row *own;

		if (!r->failed && sig && !sig->failed) {
			row_note(r, "of which the signal alone (baseline_signal_cross_cpu) %.2f us",
				 sig->med / 1000);
			/* What the embedded kernel adds to the signal: handler, lock, switch. */
			own = row_new("preempt_beyond_signal",
				      "preemption beyond the signal (handler -> next task runs)");
			own->timed = true;
			own->med = r->med - sig->med;
			own->n = r->n;
			own->target = 2.0;
			snprintf(own->base, sizeof(own->base), "%s", B_FUTEX);
			row_note(own, "median of preempt_remote_process minus median of "
				      "baseline_signal_cross_cpu");
		}
	}
	r = row_time("preempt_cpu_lost", "CPU time no task used per preemption (last spin -> next "
		     "task runs)", &lost, B_FUTEX, NAN);
	phase_fail(r, why, 0);
	if (!r->failed) {
		struct row *share = row_new("preempt_share_30us",
					    "share of a CPU that switching costs at a 30 us slice");

		share->value = 100.0 * r->med / (30000.0 + r->med);
		share->unit = "%";
		row_note(share, "one preemption per 30 us of running: lost / (30 us + lost), "
			       "median lost %.2f us", r->med / 1000);
	}
}

/* ---- macro: the rpc benchmark ------------------------------------------------------------------- */

/*
 * The headline: the ghOSt paper's RocksDB experiment in miniature. ghost-workload's rpc
 * pattern (an open-loop generator pinned to CPU A, 8 workers, 99.5% 4 us / 0.5% 10 ms) at
 * several offered loads, under plain Linux threads and each policy, all in one run and
 * interleaved (every load runs every scheduler before the next load), with and without a
 * low-priority antagonist. Each point is its own ghost-agent and ghost-workload process.
 */
struct macro_cfg {
	const char *name;	/* row and plot name */
	const char *policy;	/* NULL: plain Linux threads */
	bool worker_cpus;	/* Linux: only on the CPUs the enclave gives its tasks */
	bool prio_table;	/* the workload publishes a PrioTable */
	const char *slice_us;	/* --time-slice, or NULL */
};

static char slice_arg[32] = "50";
static const struct macro_cfg macro_cfgs[] = {
	{ "linux", NULL, false, false, NULL },
	{ "linux-cpu-b", NULL, true, false, NULL },
	{ "fifo-percpu", "fifo-percpu", false, false, NULL },
	{ "fifo-centralized", "fifo-centralized", false, false, NULL },
	{ "shinjuku", "shinjuku", false, true, slice_arg },
};
#define NMACRO_CFGS ((int)(sizeof(macro_cfgs) / sizeof(macro_cfgs[0])))

static double json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return NAN;
	return strtod(p + strlen(pat), NULL);
}

static bool agent_online(const char *root, const char *id)
{
	char ctl[PATH_MAX + 16], out[64];
	char *argv[] = { ctl, "--kernel", (char *)ghost_kernel_name(K), "--root", (char *)root, "get",
			 (char *)id, "agent_online", NULL };

	snprintf(ctl, sizeof(ctl), "%s/ghostctl", bin_dir);
	return run_capture(argv, out, sizeof(out), 5000, true) == 0 && atoi(out) == 1;
}

static const char *prio_name(void)
{
	return opt.prio == PRIO_RT ? "rt" : opt.prio == PRIO_NORMAL ? "normal" : "auto";
}

/* Starts ghost-agent for one point; -1 (row failed) if it did not come online. */
static pid_t macro_agent(const struct macro_cfg *c, const char *root, struct row *r)
{
	char ag[PATH_MAX + 16], cpus[32];
	char *argv[24] = { ag, "--policy", (char *)c->policy, "--cpus", cpus, "--kernel",
			   (char *)ghost_kernel_name(K), "--enclave", "1", "--root", (char *)root, "--prio",
			   (char *)prio_name(), "--global-cpu", NULL };
	char gcpu[16];
	int64_t end = now_ns() + 10000000000LL;
	int a = 13, st;
	pid_t agent;

	snprintf(ag, sizeof(ag), "%s/ghost-agent", bin_dir);
	snprintf(cpus, sizeof(cpus), "%d,%d", CPU_A, CPU_B);
	snprintf(gcpu, sizeof(gcpu), "%d", CPU_A);
	if (strcmp(c->policy, "fifo-percpu")) {
		argv[a++] = "--global-cpu";
		argv[a++] = gcpu;
	}
	if (c->slice_us) {
		argv[a++] = "--time-slice";
		argv[a++] = (char *)c->slice_us;
	}
	argv[a++] = "--quiet";
	argv[a] = NULL;
	agent = fork_child();
	if (agent == 0) {
		int devnull = open("/dev/null", O_RDWR);

		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		sched_setaffinity(0, sizeof(orig_affinity), &orig_affinity);
		execv(ag, argv);
		_exit(127);
	}
	if (agent < 0) {
		r->failed = true;
		row_note(r, "cannot start ghost-agent");
		return -1;
	}
	child_started(agent);
	while (now_ns() < end) {
		if (waitpid(agent, &st, WNOHANG) == agent) {
			child_reaped(agent);
			break;
		}
		if (agent_online(root, "1"))
			return agent;
		usleep(20000);
	}
	r->failed = true;
	row_note(r, "ghost-agent did not come online");
	kill(agent, SIGKILL);
	waitpid(agent, &st, 0);
	child_reaped(agent);
	return -1;
}

static void macro_stop_agent(pid_t agent, struct row *r)
{
	int64_t end = now_ns() + 10000000000LL;
	int st;

	kill(agent, SIGINT);
	while (waitpid(agent, &st, WNOHANG) != agent) {
		if (now_ns() > end) {
			kill(agent, SIGKILL);
			waitpid(agent, &st, 0);
			row_note(r, "ghost-agent ignored SIGINT for 10 s and was killed");
			break;
		}
		usleep(10000);
	}
	child_reaped(agent);
}

static void macro_one(const struct macro_cfg *c, const char *macro_root, int rate, bool antag)
{
	char root[PATH_MAX], wl[PATH_MAX + 16], rate_s[16], dur_s[16], gcpu[16], wcpu[16];
	char name[64], label[112], out[8192];
	char *argv[40];
	pid_t agent = -1;
	struct row *r;
	int a = 0, st;

	snprintf(wl, sizeof(wl), "%s/ghost-workload", bin_dir);
	snprintf(rate_s, sizeof(rate_s), "%d", rate);
	snprintf(dur_s, sizeof(dur_s), "%.1f", opt.macro_seconds);
	snprintf(gcpu, sizeof(gcpu), "%d", CPU_A);
	snprintf(wcpu, sizeof(wcpu), "%d", CPU_B);
	snprintf(name, sizeof(name), "rpc_%d_%s%s", rate, c->name, antag ? "_antagonist" : "");
	snprintf(label, sizeof(label), "rpc %d req/s, %s%s", rate, c->name,
		 antag ? ", with an antagonist" : "");
	r = row_find(name);
	if (r && r->failed)
		return;	/* a repetition of a point that already failed */
	if (!r)
		r = row_new(name, label);
	r->timed = true;
	r->unit = "req/s";
	r->offered = rate;
	r->macro = c;
	r->antagonist = antag;
	if (c != &macro_cfgs[0])
		snprintf(r->base, sizeof(r->base), "rpc_%d_%s%s", rate, macro_cfgs[0].name,
			 antag ? "_antagonist" : "");
	/* A namespace of its own: an agent that had to be killed leaves nothing in the way. */
	snprintf(root, sizeof(root), "%s/%s", macro_root, name);
	if (mkdir(root, 0700) && errno != EEXIST) {
		r->failed = true;
		row_note(r, "cannot create %s", root);
		return;
	}
	if (c->policy && (agent = macro_agent(c, root, r)) < 0)
		return;
	argv[a++] = wl;
	if (c->policy) {
		argv[a++] = "--kernel";
		argv[a++] = (char *)ghost_kernel_name(K);
		argv[a++] = "--enclave";
		argv[a++] = "1";
		argv[a++] = "--root";
		argv[a++] = root;
	} else {
		argv[a++] = "--no-ghost";
		if (c->worker_cpus) {
			argv[a++] = "--cpus";
			argv[a++] = wcpu;
		}
	}
	if (c->prio_table)
		argv[a++] = "--prio-table";
	if (antag) {
		argv[a++] = "--antagonists";
		argv[a++] = "1";
	}
	argv[a++] = "--threads";
	argv[a++] = "8";
	argv[a++] = "--pattern";
	argv[a++] = "rpc";
	argv[a++] = "--rate";
	argv[a++] = rate_s;
	argv[a++] = "--duration";
	argv[a++] = dur_s;
	argv[a++] = "--warmup";
	argv[a++] = "0.5";
	argv[a++] = "--generator-cpu";
	argv[a++] = gcpu;
	argv[a++] = "--json";
	argv[a] = NULL;
	st = run_capture(argv, out, sizeof(out), (int)(opt.macro_seconds * 1000) + 30000, false);
	if (agent > 0) {
		macro_stop_agent(agent, r);
		if (!r->nrep)
			row_note(r, "ghost-agent --prio %s%s%s", prio_name(),
				 c->slice_us ? " --time-slice " : "", c->slice_us ? c->slice_us : "");
	}
	if (isnan(json_num(out, "throughput_rps")) || isnan(json_num(out, "p50"))) {
		r->failed = true;
		row_note(r, "ghost-workload gave no result (status 0x%x)", st);
		return;
	}
	if (json_num(out, "completed") <= 0) {
		r->failed = true;
		row_note(r, "no request completed (a worker kept its CPU: the policy never preempts "
			    "it)");
		return;
	}
	if (strstr(out, "\"interrupted\":true"))
		row_note(r, "interrupted");
	if (r->nrep < MAX_REPEAT) {
		const char *lag = strstr(out, "\"generator_lag_us\"");

		r->rep[5][r->nrep] = lag ? json_num(lag, "p99") : NAN;
		r->rep[0][r->nrep] = json_num(out, "p50") * 1000;
		r->rep[1][r->nrep] = json_num(out, "p99") * 1000;
		r->rep[2][r->nrep] = json_num(out, "p99_9") * 1000;
		r->rep[3][r->nrep] = json_num(out, "throughput_rps");
		r->rep[4][r->nrep] = antag ? json_num(out, "antagonist_cpus") : NAN;
		r->nrep++;
		r->n += (size_t)fmax(0, json_num(out, "samples"));
	}
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A macro row's figures: the medians of its runs. */
static void macro_finish(struct row *r)
{
	if (r->failed || !r->nrep)
		return;
	r->med = median_of(r->rep[0], r->nrep);
	r->p99 = median_of(r->rep[1], r->nrep);
	r->p999 = median_of(r->rep[2], r->nrep);
	r->thr = r->value = median_of(r->rep[3], r->nrep);
	if (r->antagonist) {
		r->antag_cpus = median_of(r->rep[4], r->nrep);
		row_note(r, "antagonist got %.2f CPUs", r->antag_cpus);
	}
	row_note(r, "the load generator issued 1%% of requests more than %.0f us late",
		 median_of(r->rep[5], r->nrep));
	if (r->nrep > 1)
		row_note(r, "medians of %d runs; p99 from %.0f to %.0f us", r->nrep,
			 r->rep[1][0] / 1e3, r->rep[1][r->nrep - 1] / 1e3);
}

/*
 * The target, per load below plain Linux's saturation (its p99 under 1 ms, the ghOSt
 * maintainers' threshold): shinjuku's p99 at most 0.1 x plain Linux threads' in the same
 * run, with the same throughput and p50 at most 1.5 x.
 */
static void macro_headline(int rate, bool antag)
{
	char name[64], base[64], label[112];
	struct row *sj, *lx, *r;

	snprintf(name, sizeof(name), "rpc_%d_shinjuku%s", rate, antag ? "_antagonist" : "");
	snprintf(base, sizeof(base), "rpc_%d_linux%s", rate, antag ? "_antagonist" : "");
	sj = row_find(name);
	lx = row_find(base);
	if (!sj || !lx)
		return;
	snprintf(name, sizeof(name), "headline_%d%s", rate, antag ? "_antagonist" : "");
	snprintf(label, sizeof(label), "shinjuku p99 / linux p99 at %d req/s%s", rate,
		 antag ? ", antagonist" : "");
	r = row_new(name, label);
	r->unit = "x";
	r->target = 0.1;
	r->target_on = "value";
	r->offered = rate;
	r->antagonist = antag;
	r->headline = true;
	if (sj->failed || lx->failed || !(lx->p99 > 0)) {
		r->failed = true;
		row_note(r, "a run failed");
		return;
	}
	r->value = sj->p99 / lx->p99;
	r->below_saturation = lx->p99 < 1e6;
	row_note(r, "p99 %.0f us vs %.0f us; p50 ratio %.2f (target <= 1.5); throughput %.0f vs "
		    "%.0f req/s; %s",
		 sj->p99 / 1e3, lx->p99 / 1e3, sj->med / lx->med, sj->thr, lx->thr,
		 r->below_saturation ? "linux below saturation (p99 < 1 ms)"
				     : "linux saturated (p99 >= 1 ms): outside the target's range");
	if (!r->below_saturation)
		r->target = NAN;
	/* Beside it, against plain Linux on the CPU the enclave gives its tasks: the same
	 * worker CPUs for both, so that only the scheduling differs. */
	snprintf(base, sizeof(base), "rpc_%d_linux-cpu-b%s", rate, antag ? "_antagonist" : "");
	lx = row_find(base);
	if (!lx || lx->failed || !(lx->p99 > 0))
		return;
	snprintf(name, sizeof(name), "headline_same_cpus_%d%s", rate, antag ? "_antagonist" : "");
	snprintf(label, sizeof(label), "shinjuku p99 / linux p99 on the same worker CPU, %d req/s%s",
		 rate, antag ? ", antag." : "");
	r = row_new(name, label);
	r->unit = "x";
	r->offered = rate;
	r->antagonist = antag;
	r->headline = true;
	r->value = sj->p99 / lx->p99;
	r->below_saturation = lx->p99 < 1e6;
	row_note(r, "p99 %.0f us vs %.0f us (plain Linux threads on CPU %d only)", sj->p99 / 1e3,
		 lx->p99 / 1e3, CPU_B);
}

static void run_macro(void)
{
	char root[300];

	progress("rpc macro benchmark: %d loads x %d schedulers x %d x %d runs (about %.0f s)",
		 opt.nloads, NMACRO_CFGS, opt.antagonist ? 2 : 1, opt.repeat,
		 opt.nloads * NMACRO_CFGS * (opt.antagonist ? 2 : 1) * opt.repeat *
			 (opt.macro_seconds + 1.5));
	snprintf(root, sizeof(root), "%s/macro", g_root);
	if (mkdir(root, 0700) && errno != EEXIST) {
		struct row *r = row_new("rpc", "rpc macro benchmark");

		r->failed = true;
		row_note(r, "cannot create %s", root);
		return;
	}
	/* Repetitions outermost: a slow spell of the machine hits every scheduler alike. */
	for (int rep = 0; rep < opt.repeat; rep++)
		for (int antag = 0; antag <= (opt.antagonist ? 1 : 0); antag++)
			for (int i = 0; i < opt.nloads; i++)
				for (int c = 0; c < NMACRO_CFGS; c++)
					macro_one(&macro_cfgs[c], root, opt.loads[i], antag);
	for (int i = 0; i < nrows; i++)
		if (rows[i].macro)
			macro_finish(&rows[i]);
	for (int antag = 0; antag <= (opt.antagonist ? 1 : 0); antag++)
		for (int i = 0; i < opt.nloads; i++)
			macro_headline(opt.loads[i], antag);
}

/* ---- the plot: p99 against offered load, log scale, a line per scheduler ----------------------- */

static const char *const plot_colors[] = { "#222222", "#888888", "#1f77b4", "#ff7f0e", "#d62728" };

static double plot_y(double us, double lo, double hi, double top, double height)
{
	double f = (log10(us) - log10(lo)) / (log10(hi) - log10(lo));

	return top + height - f * height;
}

static void plot_panel(FILE *f, double x0, double y0, double w, double h, bool antag,
		       double lo, double hi, int max_load)
{
	double left = x0 + 60, top = y0 + 30, pw = w - 80, ph = h - 80;

	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n",
		x0 + w / 2, y0 + 18, antag ? "with a low-priority antagonist" : "no antagonist");
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
		   "stroke=\"#000\"/>\n", left, top, pw, ph);
	for (double d = lo; d <= hi * 1.0001; d *= 10) {
		double y = plot_y(d, lo, hi, top, ph);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
			left, y, left + pw, y);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
			left - 5, y + 4, d >= 1000 ? (d >= 10000 ? (d >= 100000 ? "100 ms" : "10 ms")
								  : "1 ms")
						   : d >= 100 ? "100 us" : d >= 10 ? "10 us" : "1 us");
	}
	/* The saturation threshold of the target: p99 of 1 ms. */
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
		   "stroke-dasharray=\"4 3\"/>\n", left, plot_y(1000, lo, hi, top, ph), left + pw,
		plot_y(1000, lo, hi, top, ph));
	for (int i = 0; i < opt.nloads; i++) {
		double x = left + pw * opt.loads[i] / max_load;

		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n",
			x, top + ph + 16, opt.loads[i]);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">offered load "
		   "(requests/s)</text>\n", left + pw / 2, top + ph + 36);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
		   "transform=\"rotate(-90 %.1f %.1f)\">p99 latency</text>\n",
		x0 + 14, top + ph / 2, x0 + 14, top + ph / 2);
	for (int c = 0; c < NMACRO_CFGS; c++) {
		bool first = true;

		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
			plot_colors[c], macro_cfgs[c].worker_cpus ? " stroke-dasharray=\"6 3\"" : "");
		for (int i = 0; i < opt.nloads; i++) {
			char name[64];
			const struct row *r;

			snprintf(name, sizeof(name), "rpc_%d_%s%s", opt.loads[i], macro_cfgs[c].name,
				 antag ? "_antagonist" : "");
			r = row_find(name);
			if (!r || r->failed || !(r->p99 > 0))
				continue;
			fprintf(f, "%s%.1f,%.1f", first ? "" : " ", left + pw * opt.loads[i] / max_load,
				plot_y(fmin(fmax(r->p99 / 1e3, lo), hi), lo, hi, top, ph));
			first = false;
		}
		fprintf(f, "\"/>\n");
		for (int i = 0; i < opt.nloads; i++) {
			char name[64];
			const struct row *r;

			snprintf(name, sizeof(name), "rpc_%d_%s%s", opt.loads[i], macro_cfgs[c].name,
				 antag ? "_antagonist" : "");
			r = row_find(name);
			if (!r || r->failed || !(r->p99 > 0))
				continue;
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
				left + pw * opt.loads[i] / max_load,
				plot_y(fmin(fmax(r->p99 / 1e3, lo), hi), lo, hi, top, ph), plot_colors[c]);
		}
	}
}

static void write_svg(const char *path)
{
	double lo = 10, hi = 100000;	/* us */
	int max_load = 0;
	FILE *f;

	if (!opt.nloads)
		return;
	for (int i = 0; i < opt.nloads; i++)
		if (opt.loads[i] > max_load)
			max_load = opt.loads[i];
	max_load = max_load * 11 / 10;
	f = fopen(path, "w");
	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"420\" "
		   "font-family=\"sans-serif\">\n<rect width=\"960\" height=\"420\" fill=\"#fff\"/>\n");
	plot_panel(f, 0, 0, 480, 380, false, lo, hi, max_load);
	if (opt.antagonist)
		plot_panel(f, 480, 0, 480, 380, true, lo, hi, max_load);
	for (int c = 0; c < NMACRO_CFGS; c++) {
		double x = 70 + c * 170;

		fprintf(f, "<line x1=\"%.0f\" y1=\"400\" x2=\"%.0f\" y2=\"400\" stroke=\"%s\" "
			   "stroke-width=\"3\"%s/>\n", x, x + 24, plot_colors[c],
			macro_cfgs[c].worker_cpus ? " stroke-dasharray=\"6 3\"" : "");
		fprintf(f, "<text x=\"%.0f\" y=\"404\" font-size=\"12\">%s</text>\n", x + 30,
			macro_cfgs[c].name);
	}
	fprintf(f, "</svg>\n");
	if (fclose(f))
		die("cannot write %s: %s", path, strerror(errno));
}

/* ---- output ------------------------------------------------------------------------------------ */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_num_or_null(double x, int decimals)
{
	if (isnan(x) || isinf(x))
		printf("null");
	else
		printf("%.*f", decimals, x);
}

static void print_json(void)
{
	printf("[\n");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		const struct row *b = r->base[0] ? row_find(r->base) : NULL;
		int met = row_met(r);

		printf("  {\"name\":");
		json_str(r->name);
		printf(",\"label\":");
		json_str(r->label);
		printf(",\"median_ns\":");
		json_num_or_null(r->timed ? r->med : NAN, 1);
		printf(",\"p99_ns\":");
		json_num_or_null(r->timed ? r->p99 : NAN, 1);
		printf(",\"min_ns\":");
		json_num_or_null(r->timed ? r->min : NAN, 1);
		printf(",\"samples\":%zu,\"baseline\":", r->n);
		if (b)
			json_str(b->name);
		else
			printf("null");
		printf(",\"baseline_ns\":");
		json_num_or_null(b ? b->med : NAN, 1);
		printf(",\"ratio\":");
		json_num_or_null(row_ratio(r), 3);
		printf(",\"p99_ratio\":");
		json_num_or_null(b && r->timed && b->p99 > 0 ? r->p99 / b->p99 : NAN, 3);
		printf(",\"target\":");
		json_num_or_null(r->target, 2);
		printf(",\"target_on\":");
		if (isnan(r->target))
			printf("null");
		else
			json_str(r->target_on);
		printf(",\"met\":%s", met < 0 ? "null" : met ? "true" : "false");
		printf(",\"value\":");
		json_num_or_null(r->value, 1);
		printf(",\"unit\":");
		if (r->unit)
			json_str(r->unit);
		else
			printf("\"ns\"");
		if (r->macro) {
			printf(",\"config\":");
			json_str(r->macro->name);
			printf(",\"offered_rps\":");
			json_num_or_null(r->offered, 0);
			printf(",\"throughput_rps\":");
			json_num_or_null(r->thr, 1);
			printf(",\"p999_ns\":");
			json_num_or_null(r->p999, 1);
			printf(",\"antagonist\":%s,\"antagonist_cpus\":",
			       r->antagonist ? "true" : "false");
			json_num_or_null(r->antag_cpus, 3);
		}
		if (r->headline) {
			printf(",\"offered_rps\":");
			json_num_or_null(r->offered, 0);
			printf(",\"antagonist\":%s,\"below_saturation\":%s",
			       r->antagonist ? "true" : "false", r->below_saturation ? "true" : "false");
		}
		printf(",\"failed\":%s,\"note\":", r->failed ? "true" : "false");
		json_str(r->note);
		printf("}%s\n", i + 1 < nrows ? "," : "");
	}
	printf("]\n");
}

static void fmt_ns(char *buf, size_t len, double ns)
{
	if (isnan(ns))
		snprintf(buf, len, "-");
	else if (ns < 1000)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else
		snprintf(buf, len, "%.2f ms", ns / 1e6);
}

static void fmt_value(char *buf, size_t len, const struct row *r)
{
	if (isnan(r->value))
		snprintf(buf, len, "-");
	else if (r->unit && !strcmp(r->unit, "bytes") && r->value >= 10 * 1024)
		snprintf(buf, len, "%.1f KiB", r->value / 1024);
	else if (r->unit && !strcmp(r->unit, "bytes"))
		snprintf(buf, len, "%.0f B", r->value);
	else if (r->unit && !strcmp(r->unit, "txn/s"))
		snprintf(buf, len, "%.0f txn/s", r->value);
	else if (r->unit && !strcmp(r->unit, "x"))
		snprintf(buf, len, "%.3fx", r->value);
	else
		snprintf(buf, len, "%.0f %s", r->value, r->unit ? r->unit : "");
}

static void print_table(void)
{
	printf("%-70s %10s %10s %10s %8s  %-7s %s\n", "operation", "median", "p99", "min",
	       "ratio", "target", "met");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		char med[32], p99[32], min[32], ratio[32], target[32];
		double x = row_ratio(r);
		int met = row_met(r);

		if (r->timed) {
			fmt_ns(med, sizeof(med), r->med);
			fmt_ns(p99, sizeof(p99), r->p99);
			fmt_ns(min, sizeof(min), r->min);
		} else {
			fmt_value(med, sizeof(med), r);
			snprintf(p99, sizeof(p99), " ");
			snprintf(min, sizeof(min), " ");
		}
		if (isnan(x))
			snprintf(ratio, sizeof(ratio), " ");
		else
			snprintf(ratio, sizeof(ratio), "%.2fx", x);
		if (isnan(r->target))
			snprintf(target, sizeof(target), " ");
		else if (!strcmp(r->target_on, "value") && r->unit && !strcmp(r->unit, "x"))
			snprintf(target, sizeof(target), "<=%.1fx", r->target);
		else if (!strcmp(r->target_on, "value"))
			snprintf(target, sizeof(target), "<=%.0f", r->target);
		else
			snprintf(target, sizeof(target), "<=%.1fx", r->target);
		printf("%-70.70s %10s %10s %10s %8s  %-7s %s%s\n", r->label, med, p99, min, ratio,
		       target, met < 0 ? "" : met ? "yes" : "NO", r->failed ? " (FAILED)" : "");
	}
	printf("\nbaselines of the ratios:\n");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		if (!r->base[0])
			continue;
		printf("  %-44s vs %s\n", r->name, r->base);
	}
	printf("\nnotes:\n");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		if (r->unit && (!strcmp(r->unit, "txn/s") || !strcmp(r->unit, "req/s"))) {
			char v[48];

			fmt_value(v, sizeof(v), r);
			printf("  %s: %s%s", r->name, v, r->note[0] ? "; " : "\n");
			if (r->note[0])
				printf("%s\n", r->note);
		} else if (r->note[0]) {
			printf("  %s: %s\n", r->name, r->note);
		}
		if (!isnan(r->p999))
			printf("  %s: p99.9 %.1f us\n", r->name, r->p999 / 1e3);
	}
}

/* ---- main -------------------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup_root(void)
{
	if (g_root[0])
		nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Timed out or interrupted: no process of ours goes on without us, nothing stays in /tmp. */
static void on_alarm(int sig)
{
	static const char hung[] = PROG ": timed out (a measurement hung)\n";
	static const char stopped[] = PROG ": interrupted\n";
	bool alarm_sig = sig == SIGALRM;

	kill_children();
	if (write(2, alarm_sig ? hung : stopped, alarm_sig ? sizeof(hung) - 1 : sizeof(stopped) - 1) <
	    0)
		_exit(1);
	cleanup_root();
	_exit(alarm_sig ? 1 : 128 + sig);
}

static long parse_long(const char *name, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		bad_arg("bad value \"%s\" for %s (expected %ld..%ld)", s, name, lo, hi);
	return v;
}

int main(int argc, char **argv)
{
	enum { OPT_KERNEL = 256, OPT_ITER, OPT_QUICK, OPT_NO_MACRO, OPT_JSON, OPT_PRIO,
	       OPT_MACRO_ONLY, OPT_LOADS, OPT_SECONDS, OPT_SLICE, OPT_NO_ANTAG, OPT_SVG,
	       OPT_REPEAT };
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "iterations", required_argument, NULL, OPT_ITER },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "no-macro", no_argument, NULL, OPT_NO_MACRO },
		{ "macro-only", no_argument, NULL, OPT_MACRO_ONLY },
		{ "loads", required_argument, NULL, OPT_LOADS },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "slice-us", required_argument, NULL, OPT_SLICE },
		{ "no-antagonist", no_argument, NULL, OPT_NO_ANTAG },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "prio", required_argument, NULL, OPT_PRIO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cpu_set_t mine;
	char why[256] = "";
	int c, err, macro_opts = 0;

	if (argc == 3 && !strcmp(argv[1], "--rss-child"))
		return rss_child(parse_long("--rss-child", argv[2], 1, 10000000));
	if (argc == 4 && !strcmp(argv[1], "--preempt-child"))
		return preempt_child(argv[2], argv[3]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			opt.kernel = optarg;
			break;
		case OPT_ITER:
			opt.iterations = parse_long("--iterations", optarg, 100, 10000000);
			break;
		case OPT_QUICK:
			opt.quick = true;
			opt.macro = false;
			break;
		case OPT_NO_MACRO:
			opt.macro = false;
			break;
		case OPT_MACRO_ONLY:
			opt.micro = false;
			break;
		case OPT_LOADS: {
			char buf[256], *save = NULL, *tok;

			if (strlen(optarg) >= sizeof(buf))
				bad_arg("--loads \"%s\" is too long", optarg);
			strcpy(buf, optarg);
			opt.nloads = 0;
			if (!buf[0] || buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
				bad_arg("--loads \"%s\": a comma-separated list of loads", optarg);
			for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				int load = (int)parse_long("--loads", tok, 1, 10000000);

				if (opt.nloads == MAX_LOADS)
					bad_arg("--loads: more than %d loads", MAX_LOADS);
				for (int i = 0; i < opt.nloads; i++)
					if (opt.loads[i] == load)
						bad_arg("--loads: %s appears twice", tok);
				opt.loads[opt.nloads++] = load;
			}
			macro_opts++;
			break;
		}
		case OPT_SECONDS: {
			char *end;

			errno = 0;
			opt.macro_seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt.macro_seconds >= 0.2) ||
			    opt.macro_seconds > 600)
				bad_arg("bad value \"%s\" for --seconds (0.2..600)", optarg);
			macro_opts++;
			break;
		}
		case OPT_SLICE:
			snprintf(slice_arg, sizeof(slice_arg), "%ld",
				 parse_long("--slice-us", optarg, 1, 1000000));
			macro_opts++;
			break;
		case OPT_NO_ANTAG:
			opt.antagonist = false;
			macro_opts++;
			break;
		case OPT_REPEAT:
			opt.repeat = (int)parse_long("--repeat", optarg, 1, MAX_REPEAT);
			macro_opts++;
			break;
		case OPT_SVG:
			opt.svg = optarg;
			macro_opts++;
			break;
		case OPT_JSON:
			opt.json = true;
			break;
		case OPT_PRIO:
			if (!strcmp(optarg, "auto"))
				opt.prio = PRIO_AUTO;
			else if (!strcmp(optarg, "rt"))
				opt.prio = PRIO_RT;
			else if (!strcmp(optarg, "normal"))
				opt.prio = PRIO_NORMAL;
			else
				bad_arg("bad value \"%s\" for --prio (expected auto, rt or normal)",
					optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			bad_arg("%s needs a value", argv[optind - 1]);
			break;
		default:
			bad_arg("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument \"%s\"", argv[optind]);
	if (!opt.micro && !opt.macro)
		bad_arg("--macro-only and --no-macro (or --quick) leave nothing to measure");
	if (macro_opts && !opt.macro)
		bad_arg("--loads, --seconds, --repeat, --slice-us, --no-antagonist and --svg set up the "
			"macro benchmark, which --no-macro and --quick skip");
	if (opt.svg) {
		/* Now, not after minutes of measuring; leave no empty file behind. */
		bool existed = access(opt.svg, F_OK) == 0;
		FILE *f = fopen(opt.svg, "a");

		if (!f)
			die("cannot write %s: %s", opt.svg, strerror(errno));
		fclose(f);
		if (!existed)
			unlink(opt.svg);
	}
	n_iter = opt.iterations ? opt.iterations : opt.quick ? 300 : 20000;
	n_warm = n_iter / 10 < 50 ? 50 : n_iter / 10;
	progress_on = isatty(2);

	K = opt.kernel ? ghost_kernel_find(opt.kernel) : ghost_kernel_default();
	if (!K) {
		const struct ghost_kernel_ops *const *all = ghost_kernel_all();

		fprintf(stderr, PROG ": unknown --kernel \"%s\"; this build has:", opt.kernel);
		for (; all && *all; all++)
			fprintf(stderr, " %s", ghost_kernel_name(*all));
		fprintf(stderr, " (see " PROG " --help)\n");
		return 2;
	}
	err = ghost_kernel_probe(K, NULL, why, sizeof(why));
	if (err)
		die("the %s kernel cannot run here: %s", ghost_kernel_name(K), why[0] ? why : ghost_strerror(err));
	if (sched_getaffinity(0, sizeof(mine), &mine))
		die("cannot read the CPU affinity: %s", strerror(errno));
	orig_affinity = mine;
	for (int cpu = 0; cpu < CPU_SETSIZE && CPU_B < 0; cpu++) {
		if (!CPU_ISSET(cpu, &mine))
			continue;
		if (CPU_A < 0)
			CPU_A = cpu;
		else
			CPU_B = cpu;
	}
	if (CPU_B < 0)
		die("needs two CPUs; this process may use only CPU %d", CPU_A);
	{
		ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
		char *slash;

		if (n <= 0)
			die("cannot find its own executable");
		self_exe[n] = 0;
		snprintf(bin_dir, sizeof(bin_dir), "%s", self_exe);
		slash = strrchr(bin_dir, '/');
		if (slash)
			*slash = 0;
	}
	signal(SIGALRM, on_alarm);
	signal(SIGINT, on_alarm);
	signal(SIGTERM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(opt.quick ? 120 : 900 + (unsigned)(opt.macro ? opt.nloads * NMACRO_CFGS * 2 *
						      opt.repeat * (opt.macro_seconds + 5) : 0));
	atexit(cleanup_root);

	if (opt.micro) {
		run_baselines();
		mem_rows();
		setup_backend();
		run_emu_ops();
	} else {
		snprintf(g_root, sizeof(g_root), "/tmp/ghost-bench.XXXXXX");
		if (!mkdtemp(g_root))
			die("cannot create a temporary directory: %s", strerror(errno));
	}
	if (opt.macro)
		run_macro();
	if (opt.svg)
		write_svg(opt.svg);

	if (opt.json) {
		print_json();
	} else {
		char line[64];
		struct ghost_cpuset cs;

		ghost_cpuset_zero(&cs);
		ghost_cpuset_set(&cs, CPU_A);
		ghost_cpuset_set(&cs, CPU_B);
		ghost_cpuset_format_list(&cs, line, sizeof(line));
		if (opt.micro)
			printf(PROG ": kernel %s, CPUs %s: spinning global agent on CPU %d (normal "
			       "priority), sleeping agent on CPU %d (%s); %ld iterations after %ld of "
			       "warm-up\n\n",
			       ghost_kernel_name(K), line, CPU_A, CPU_B, prio_used, n_iter, n_warm);
		else
			printf(PROG ": kernel %s, CPUs %s: the rpc benchmark only, agents --prio %s, %.1f "
			       "s per point, %d run%s each\n\n",
			       ghost_kernel_name(K), line, prio_name(), opt.macro_seconds, opt.repeat,
			       opt.repeat == 1 ? "" : "s");
		print_table();
	}
	return 0;
}
