/*
 * bench/ghost-bench/net.c - the embedded kernel's safety net (docs/design.md, "The safety
 * net"): how soon a ghost task of another process that sleeps in a raw system call, which
 * the library cannot see, is reported blocked, and how soon after its host wake-up it is
 * reported woken.
 *
 * A child process (this program, --net-child) has one ghost thread, the sleeper. Each round
 * CPU A's agent (this process's main thread, so this process's kernel thread runs the net)
 * commits it onto CPU B and lets it start; it runs in user code for a while, stamps the time
 * and waits on a futex with a raw syscall(SYS_futex). Samples: that stamp -> the agent
 * dequeues its TASK_BLOCKED; then, after a pause, the agent stamps the time and wakes the
 * futex: that stamp -> the agent dequeues its TASK_WAKEUP. How long the sleeper runs and the
 * pause vary from round to round across one period, so that sleeps and wake-ups fall at
 * every phase of the net's sampling. The baseline of the ratios is the period itself
 * (net_period_us, read back from the enclave in the run).
 *
 * Owns both sides: the agent's loop (on the enclave of backend.c) and the child's role. The
 * child never reads the bench's state: its command line and the shared page are all it has.
 */
#include "bench.h"
#include "tool.h"

#include <linux/futex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NET_SHM "net.shm"

struct net_shm {
	int32_t tid;	 /* the sleeper's, written before it first runs */
	uint32_t go;	 /* the agent: round go may start (the sleeper was committed) */
	int64_t run_ns;	 /* the agent: how long the sleeper runs in round go before its sleep */
	uint32_t asleep; /* the sleeper: the round whose sleep it is about to enter */
	uint32_t word;	 /* the raw futex: the agent stores the round and wakes it */
	int64_t t_sleep; /* the sleeper: just before its futex wait */
	int64_t t_woke;	 /* the sleeper: just after its futex wait returned */
	uint32_t exit;
};

static long raw_futex(uint32_t *w, int op, uint32_t val)
{
	/* Shared between two processes: not FUTEX_PRIVATE_FLAG. */
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void *net_sleeper_main(void *arg)
{
	struct net_shm *shm = arg;
	uint32_t round = 0;

	while (!LOAD(shm->exit)) {
		int64_t until;
		uint32_t w;

		if (LOAD(shm->go) == round) {
			ghost_cpu_relax();
			continue;
		}
		round = LOAD(shm->go);
		until = now_ns() + LOAD(shm->run_ns);
		while (now_ns() < until && !LOAD(shm->exit))
			ghost_cpu_relax();
		STORE(shm->asleep, round);
		STORE(shm->t_sleep, now_ns());
		while ((w = LOAD(shm->word)) != round && !LOAD(shm->exit))
			raw_futex(&shm->word, FUTEX_WAIT, w);
		STORE(shm->t_woke, now_ns());
	}
	return NULL;
}

/* The "--net-child ROOT ID" role: the sleeper, in enclave ID of ROOT. */
int net_child(const char *root, const char *id)
{
	struct ghost_enclave *e;
	struct ghost_thread *th;
	struct net_shm *shm;
	int err = role_attach(root, id, NET_SHM, sizeof(*shm), (void **)&shm, &e);

	if (err)
		return err;
	if (ghost_thread_create(e, &th, net_sleeper_main, shm))
		return 5;
	STORE(shm->tid, ghost_thread_tid(th));
	ghost_thread_join(th, NULL);
	ghost_enclave_close(e);
	return 0;
}

/* The number after "key " in the enclave's stats, or -1. */
static long stat_of(struct bench *b, const char *key)
{
	static char buf[16384];
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", key);
	if (ghost_enclave_read_file(b->enclave, "stats", buf, sizeof(buf)) <= 0 ||
	    !(p = strstr(buf, pat)))
		return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

/* What one round of the agent's loop is waiting for. */
enum net_step { S_COMMIT, S_BLOCKED, S_PAUSE, S_WAKEUP };

struct net_run {
	struct net_shm *shm;
	struct child_task t;
	int64_t period; /* ns */
	struct samples block, wake, host;
	long fails;
	const char *why;
};

/* Reads CPU A's queue into the sleeper's view; the step it moves to (or step). */
static enum net_step net_drain(struct bench *b, struct net_run *nr, enum net_step step,
			       int64_t *t_msg)
{
	const struct ghost_msg *m;

	while ((m = ghost_channel_peek(b->queue_a))) {
		int64_t t_deq = now_ns();

		if (ghost_msg_gtid(m) == nr->t.gtid) {
			nr->t.seq = m->seqnum;
			if (m->type == MSG_TASK_BLOCKED) {
				nr->t.view = V_BLOCKED;
				if (step == S_BLOCKED) {
					*t_msg = t_deq;
					step = S_PAUSE;
				}
			} else if (m->type == MSG_TASK_WAKEUP || m->type == MSG_TASK_PREEMPT ||
				   m->type == MSG_TASK_YIELD) {
				nr->t.view = V_RUNNABLE;
				if (m->type == MSG_TASK_WAKEUP && step == S_WAKEUP) {
					*t_msg = t_deq;
					step = S_COMMIT;
				}
			} else if (m->type == MSG_TASK_DEAD || m->type == MSG_TASK_DEPARTED) {
				nr->why = "the sleeper left the enclave";
			}
		}
		ghost_channel_consume(b->queue_a, m);
	}
	return step;
}

/* A fraction in [0, 1) that covers the interval evenly as round i grows (golden ratio). */
static double spread(long i, double step)
{
	double x = (double)i * step;

	return x - floor(x);
}

/*
 * The rounds: commit, let it run (2 periods and a fraction of one: the net's first sample
 * of a new stay on a CPU only records it), its sleep reported, a pause of a fraction of a
 * period, the wake-up, reported.
 */
static void net_rounds(struct bench *b, struct net_run *nr, long warm, long need)
{
	struct net_shm *shm = nr->shm;
	enum net_step step = S_COMMIT;
	int64_t deadline = now_ns() + 30000000000LL, t_msg = 0, pause_until = 0, t_wake = 0;
	uint32_t round = 0;
	long got = 0;

	while (got < warm + need && !nr->why) {
		step = net_drain(b, nr, step, &t_msg);
		if (step == S_COMMIT && t_wake) {
			/* TASK_WAKEUP read: the round is done. */
			if (got >= warm) {
				int64_t woke = LOAD(shm->t_woke);

				samples_add(&nr->wake, (double)(t_msg - t_wake));
				if (woke >= t_wake)
					samples_add(&nr->host, (double)(woke - t_wake));
			}
			t_wake = 0;
			got++;
			continue;
		}
		if (now_ns() > deadline) {
			nr->why = "timed out";
			break;
		}
		switch (step) {
		case S_COMMIT: {
			struct ghost_txn_opts o;

			if (nr->t.view != V_RUNNABLE || ghost_sw_barrier(nr->t.sw) != nr->t.seq) {
				ghost_cpu_relax();
				break;
			}
			o = txn_opts(nr->t.gtid, nr->t.seq);
			o.commit_flags = COMMIT_AT_TXN_COMMIT;
			ghost_txn_open(b->enclave, b->cpu_b, &o);
			if (ghost_txn_commit(b->enclave, b->cpu_b) != 1) {
				if (++nr->fails > 1000 + 10 * need)
					nr->why = ghost_txn_reason(ghost_txn_state(
						ghost_enclave_txn(b->enclave, b->cpu_b)));
				usleep(50);
				break;
			}
			nr->t.view = V_ONCPU;
			round++;
			STORE(shm->run_ns,
			      2 * nr->period + (int64_t)(spread(round, 0.618034) * nr->period));
			STORE(shm->go, round);
			step = S_BLOCKED;
			break;
		}
		case S_BLOCKED:
			ghost_cpu_relax();
			break;
		case S_PAUSE:
			if (LOAD(shm->asleep) != round) {
				nr->why = "TASK_BLOCKED before the sleeper slept";
				break;
			}
			if (got >= warm)
				samples_add(&nr->block, (double)(t_msg - LOAD(shm->t_sleep)));
			pause_until = t_msg + (int64_t)(spread(round, 0.414214) * nr->period);
			step = S_WAKEUP;
			while (now_ns() < pause_until)
				ghost_cpu_relax();
			t_wake = now_ns();
			STORE(shm->word, round);
			raw_futex(&shm->word, FUTEX_WAKE, 1);
			break;
		case S_WAKEUP:
			ghost_cpu_relax();
			break;
		}
	}
}

/* The rows: the period (the baseline), the block and the wake-up, with p99 and max. */
static void net_rows(struct bench *b, struct net_run *nr, long blocks, long wakes)
{
	static const char *const name[2] = { "net_block_latency", "net_wake_latency" };
	static const char *const label[2] = {
		"safety net: raw futex wait -> agent dequeues its TASK_BLOCKED",
		"safety net: futex wake of the sleeper -> agent dequeues TASK_WAKEUP",
	};
	/* The design's bounds (docs/design.md): blocked within two periods, woken within one. */
	static const double target[2] = { 2.0, 1.0 };
	struct samples *s[2] = { &nr->block, &nr->wake };
	struct row *p = row_new(b, "net_period", "safety net: its period (net_period_us)");

	p->timed = true;
	p->med = p->p99 = p->min = (double)nr->period;
	row_note(p, "the enclave's tunable, read back in this run: not measured; the baseline of "
		    "the net_ rows");
	for (int k = 0; k < 2; k++) {
		double max = s[k]->n ? s[k]->v[0] : NAN;
		struct row *r;

		for (size_t i = 0; i < s[k]->n; i++)
			max = fmax(max, s[k]->v[i]);
		r = row_time(b, name[k], label[k], s[k], "net_period", target[k]);
		phase_fail(r, nr->why, nr->fails);
		if (r->failed)
			continue;
		row_note(r, "p99 %.2f periods, max %.2f ms (%.2f periods)", r->p99 / nr->period,
			 max / 1e6, max / nr->period);
		if (k == 0) {
			row_note(
				r,
				"the sleeper (another process) ran 2 to 3 periods on CPU %d before "
				"each sleep; the agent spins on CPU %d, so the net's kernel thread "
				"(in the agent's process) shares the CPUs with the two",
				b->cpu_b, b->cpu_a);
			if (blocks >= 0)
				row_note(r, "the kernel counted %ld net blocks", blocks);
		} else {
			if (nr->host.n) {
				qsort(nr->host.v, nr->host.n, sizeof(double), cmp_double);
				row_note(r,
					 "of which the host's own wake-up (futex wake -> the "
					 "sleeper runs) median %.2f us",
					 samples_quantile(nr->host.v, nr->host.n, 0.5) / 1e3);
			}
			row_note(r, "woken 0 to 1 period after the TASK_BLOCKED arrived");
			if (wakes >= 0)
				row_note(r, "the kernel counted %ld net wake-ups", wakes);
		}
	}
	samples_free(&nr->host);
}

void net_phase(struct bench *b)
{
	struct net_run nr = { 0 };
	char v[32];
	long warm = 5, need = b->opt.quick ? 30 : 200, blocks0, wakes0, blocks = -1, wakes = -1;
	pid_t child;

	/* Only a backend with a safety net has the tunable (the embedded kernel). */
	if (ghost_enclave_read_file(b->enclave, "net_period_us", v, sizeof(v)) <= 0 ||
	    atol(v) <= 0) {
		progress(b, "no safety net on the %s kernel: its rows are left out",
			 b->kernel_name);
		return;
	}
	progress(b, "the safety net");
	nr.period = atol(v) * 1000;
	blocks0 = stat_of(b, "net_blocks");
	wakes0 = stat_of(b, "net_wakes");
	child = start_role(b, "--net-child", NET_SHM, sizeof(*nr.shm), (void **)&nr.shm);
	if (!find_child_tasks(b, &nr.shm->tid, &nr.t, 1, now_ns() + 60000000000LL))
		nr.why = "the child's task never arrived";
	else
		net_rounds(b, &nr, warm, need);
	if (blocks0 >= 0 && wakes0 >= 0) {
		blocks = stat_of(b, "net_blocks") - blocks0;
		wakes = stat_of(b, "net_wakes") - wakes0;
	}
	STORE(nr.shm->exit, 1);
	raw_futex(&nr.shm->word, FUTEX_WAKE, 1);
	stop_child(b, child, &nr.t, 1);
	munmap(nr.shm, sizeof(*nr.shm));
	net_rows(b, &nr, blocks, wakes);
}
