/*
 * bench/ghost-bench/baselines.c - the baselines every ratio of the table is taken against,
 * measured in the same run on the same two CPUs: a null system call, a futex hand-off
 * between two threads on one CPU, a spinning cache-line hand-off across CPUs, a futex wake
 * of a thread asleep on the other CPU, a signal to a thread spinning there, and how often
 * something else takes CPU B at all.
 *
 * Plain Linux threads only: nothing here touches the enclave. Every measurement that pins
 * runs in a thread of its own, so that the main thread keeps its CPU mask.
 */
#include "bench.h"
#include "tool.h"

#include <linux/futex.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static long futex_op(uint32_t *w, int op, uint32_t val)
{
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void bl_null_syscall(struct bench *b)
{
	enum { BATCH = 64 };
	struct samples s = { 0 };

	for (long i = 0; i < b->n_warm + b->n_iter; i++) {
		int64_t t0 = now_ns();

		for (int j = 0; j < BATCH; j++)
			syscall(SYS_getppid);
		if (i >= b->n_warm)
			samples_add(&s, (double)(now_ns() - t0) / BATCH);
	}
	row_time(b, B_SYSCALL, "baseline: null system call (getppid)", &s, NULL, NAN);
}

/* Two threads hand a token back and forth: futex (sleeping) or spinning on one word. */
struct pingpong {
	uint32_t word; /* odd: the pong side's turn; even: the ping side's */
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
static void pingpong_run(struct bench *b, const char *name, const char *label, int cpu_ping,
			 int cpu_pong, bool spin, int batch)
{
	struct pingpong p = { .cpu_ping = cpu_ping, .cpu_pong = cpu_pong, .spin = spin };
	struct samples s = { 0 };
	pthread_t th;
	long nsamples = b->n_warm + b->n_iter;
	struct row *r;

	p.rounds = nsamples * batch;
	if (pthread_create(&th, NULL, pong_main, &p))
		tool_fatal("cannot start a thread");
	while (!LOAD(p.ready))
		usleep(100);
	/* This runs in a thread of its own (in_thread): the main thread keeps its mask. */
	if (pin_self(cpu_ping))
		p.err = 1;
	for (long i = 0; i < nsamples; i++) {
		int64_t t0 = now_ns();

		for (int j = 0; j < batch; j++) {
			uint32_t mine = LOAD(p.word) + 1; /* odd */

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
		if (i >= b->n_warm)
			samples_add(&s, (double)(now_ns() - t0) / (2.0 * batch));
	}
	pthread_join(th, NULL);
	r = row_time(b, name, label, &s, NULL, NAN);
	if (p.err)
		row_note(r, "could not pin the threads");
}

struct in_thread_call {
	void (*fn)(struct bench *b);
	struct bench *b;
};

static void *in_thread_main(void *arg)
{
	struct in_thread_call *call = arg;

	call->fn(call->b);
	return NULL;
}

/* Runs fn in a fresh thread (so pinning never touches the main thread's mask). */
static void in_thread(void (*fn)(struct bench *b), struct bench *b)
{
	struct in_thread_call call = { fn, b };
	pthread_t th;

	if (pthread_create(&th, NULL, in_thread_main, &call))
		tool_fatal("cannot start a thread");
	pthread_join(th, NULL);
}

static void bl_futex_same_cpu(struct bench *b)
{
	pingpong_run(b, B_FUTEX, "baseline: futex hand-off, two threads on one CPU (one way)",
		     b->cpu_b, b->cpu_b, false, 1);
}

static void bl_cacheline(struct bench *b)
{
	pingpong_run(b, B_LINE, "baseline: cache-line hand-off, spinning, across CPUs (one way)",
		     b->cpu_a, b->cpu_b, true, 64);
}

/* A futex wake of a thread that sleeps on the other CPU (which has gone idle). */
struct cross_wake {
	uint32_t word, ack;
	int64_t t_wake;
	long n;
	long skip; /* the sleeper's warm-up wakes */
	int cpu;   /* the sleeper's */
	struct samples s;
};

static void *cross_wake_sleeper(void *arg)
{
	struct cross_wake *xw = arg;

	pin_self(xw->cpu);
	for (long i = 0; i < xw->n; i++) {
		uint32_t want = (uint32_t)i + 1;

		while (LOAD(xw->word) != want)
			futex_op(&xw->word, FUTEX_WAIT_PRIVATE, want - 1);
		if (i >= xw->skip)
			samples_add(&xw->s, (double)(now_ns() - LOAD(xw->t_wake)));
		STORE(xw->ack, want);
	}
	return NULL;
}

static void bl_futex_cross_cpu(struct bench *b)
{
	struct cross_wake xw = { .cpu = b->cpu_b, .skip = b->n_warm / 10 };
	pthread_t th;

	xw.n = b->n_iter / 10 + b->n_warm / 10;
	if (xw.n > 2000)
		xw.n = 2000;
	if (xw.n < 20)
		xw.n = 20;
	pin_self(b->cpu_a);
	if (pthread_create(&th, NULL, cross_wake_sleeper, &xw))
		tool_fatal("cannot start a thread");
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
	row_time(b, B_XWAKE, "baseline: futex wake of a thread asleep on the other CPU (one way)",
		 &xw.s, NULL, NAN);
}

/*
 * A signal to a thread spinning on the other CPU: the floor under any preemption of a task
 * that never calls in (the embedded kernel's is such a signal). Samples: tgkill -> the
 * handler's first instruction, and the spinner's last progress -> its handler (CPU time the
 * interruption itself takes from the spinner).
 *
 * File scope: the signal handler reads and writes it.
 */
static struct {
	int64_t last, last_seen, handled;
	pid_t tid;
	uint32_t stop;
	int cpu;
} spinner;

static void spinner_signalled(int sig)
{
	int64_t t = now_ns();

	(void)sig;
	/* The spinner's last progress before it was interrupted: read here, before it
	 * resumes and stamps again. */
	STORE(spinner.last_seen, LOAD(spinner.last));
	STORE(spinner.handled, t);
}

static void *spinner_main(void *arg)
{
	(void)arg;
	pin_self(spinner.cpu);
	STORE(spinner.tid, gettid());
	while (!LOAD(spinner.stop))
		STORE(spinner.last, now_ns());
	return NULL;
}

static void bl_signal_cross_cpu(struct bench *b)
{
	struct sigaction sa = { .sa_handler = spinner_signalled }, old;
	struct samples lat = { 0 }, lost = { 0 };
	long n = b->n_iter / 10 < 200 ? 200 : b->n_iter / 10;
	int sig = SIGRTMIN + 7;
	pthread_t th;

	if (n > 5000)
		n = 5000;
	spinner.cpu = b->cpu_b;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, &old);
	pin_self(b->cpu_a);
	if (pthread_create(&th, NULL, spinner_main, NULL))
		tool_fatal("cannot start a thread");
	while (!LOAD(spinner.tid))
		ghost_cpu_relax();
	for (long i = 0; i < b->n_warm / 10 + n; i++) {
		int64_t t0, until = now_ns() + 50000;

		while (now_ns() < until) /* the spinner is back at it */
			ghost_cpu_relax();
		STORE(spinner.handled, 0);
		t0 = now_ns();
		syscall(SYS_tgkill, getpid(), spinner.tid, sig);
		while (!LOAD(spinner.handled))
			ghost_cpu_relax();
		if (i >= b->n_warm / 10) {
			samples_add(&lat, (double)(LOAD(spinner.handled) - t0));
			samples_add(&lost,
				    (double)(LOAD(spinner.handled) - LOAD(spinner.last_seen)));
		}
	}
	STORE(spinner.stop, 1);
	pthread_join(th, NULL);
	sigaction(sig, &old, NULL);
	row_time(b, "baseline_signal_cross_cpu",
		 "baseline: signal to a thread spinning on the other CPU (tgkill -> handler)", &lat,
		 NULL, NAN);
	row_time(b, "baseline_signal_cpu_lost",
		 "baseline: the spinner's CPU time a signal takes (last progress -> handler)",
		 &lost, NULL, NAN);
}

/*
 * How often something else takes CPU B from a thread that wants it all, while CPU A is
 * busy as a polling global agent keeps it (nice -20 where permitted): a spinner pinned to
 * CPU B notes every gap of at least 200 us in its own progress (another thread or the host
 * ran meanwhile). Whatever scheduler runs the workers, such a stall stops that CPU's work.
 */
struct stall_poller {
	int cpu;
	uint32_t stop;
};

static void *stall_poller_main(void *arg)
{
	struct stall_poller *poller = arg;

	pin_self(poller->cpu);
	setpriority(PRIO_PROCESS, (id_t)gettid(), -20);
	while (!LOAD(poller->stop))
		ghost_cpu_relax();
	return NULL;
}

static void bl_stalls(struct bench *b)
{
	struct stall_poller poller = { .cpu = b->cpu_a };
	int64_t start, end, last, gap_total = 0, worst = 0;
	double secs = b->opt.quick ? 0.3 : 3.0;
	size_t n = 0;
	pthread_t th;
	struct row *r;

	if (pthread_create(&th, NULL, stall_poller_main, &poller))
		tool_fatal("cannot start a thread");
	pin_self(b->cpu_b);
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
	STORE(poller.stop, 1);
	pthread_join(th, NULL);
	r = row_new(b, "env_stalls_cpu_b",
		    "stalls of a CPU: another thread or the host took it >= 200 us");
	r->value = (double)n / secs;
	r->unit = "per s";
	row_note(r,
		 "CPU %d over %.1f s, CPU %d polling beside it: %zu stalls, %.2f%% of the time, "
		 "longest %.2f ms",
		 b->cpu_b, secs, b->cpu_a, n, 100.0 * (double)gap_total / (double)(end - start),
		 (double)worst / 1e6);
}

void run_baselines(struct bench *b)
{
	progress(b, "baselines");
	in_thread(bl_stalls, b);
	bl_null_syscall(b);
	in_thread(bl_futex_same_cpu, b);
	in_thread(bl_cacheline, b);
	in_thread(bl_futex_cross_cpu, b);
	in_thread(bl_signal_cross_cpu, b);
}
