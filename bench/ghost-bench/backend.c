/*
 * bench/ghost-bench/backend.c - the enclave the operations are measured on, driven by hand
 * with no policy: the main thread is the agent of CPU A (it spins on the enclave's default
 * queue, which wakes nobody), a second thread is the agent of CPU B (it sleeps in local
 * yield; its queue wakes it), and three ghost tasks record CLOCK_MONOTONIC timestamps
 * (ghost_now_ns's clock) when they start running and just before they block or yield.
 *
 * Owns setting that up and tearing it down, the tasks' bodies, and the agents' view of the
 * tasks (from their messages), its own and a child process's (found by their tids, run until
 * the child ends). Goes through libghost's public API only: agents attach with
 * ghost_enclave_agent_attach, the backend is known by its name.
 */
#include "bench.h"
#include "tool.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static struct btask *task_of(struct bench *b, int64_t gtid)
{
	for (int i = 0; i < NTASKS; i++)
		if (b->tasks[i].gtid == gtid)
			return &b->tasks[i];
	return NULL;
}

/* Reads a message's seqnum into its task; returns the task (NULL for others). */
struct btask *msg_task(struct bench *b, const struct ghost_msg *m)
{
	struct btask *t;

	if (!ghost_msg_is_task(m->type))
		return NULL;
	t = task_of(b, ghost_msg_gtid(m));
	if (t && m->seqnum > t->seq)
		t->seq = m->seqnum;
	return t;
}

struct ghost_txn_opts txn_opts(int64_t target, uint32_t barrier)
{
	struct ghost_txn_opts o = {
		.target = target,
		.target_barrier = barrier,
	};

	return o;
}

void set_park_spin(struct bench *b, long ns)
{
	char v[32];

	snprintf(v, sizeof(v), "%ld", ns);
	b->park_spin_ok = ghost_enclave_write_file(b->enclave, "park_spin_ns", v) == 0;
}

/*
 * The embedded kernel takes a CPU away from ghost tasks (CPU_UNAVAIL) when it judges that
 * another thread wants it (its agent gets under 60% of the CPU while being switched out
 * involuntarily, kernels/emu/emu_kthread.c availability()), and gives it back after three
 * clean 20 ms windows, or 100 ms with idle time. Waits for CPU B to be available again.
 */
bool wait_cpu_b_available(struct bench *b, int ms)
{
	int64_t end = now_ns() + (int64_t)ms * 1000000;

	if (ghost_sw_cpu_available(b->agent_word_b))
		return true;
	__atomic_add_fetch(&b->unavail_waits, 1, __ATOMIC_RELAXED);
	while (!ghost_sw_cpu_available(b->agent_word_b)) {
		if (now_ns() > end)
			return false;
		usleep(5000);
	}
	return true;
}

/* Notes how often the phase found CPU B taken away (see wait_cpu_b_available). */
void note_unavail(struct bench *b, struct row *r, long before)
{
	long n = LOAD(b->unavail_waits) - before;

	if (n > 0)
		row_note(r,
			 "CPU %d was marked unavailable %ld time%s by the backend's availability "
			 "heuristic; the measurement waited for it",
			 b->cpu_b, n, n == 1 ? "" : "s");
}

/* The sleeping agent outranks its CPU's tasks, as ghOSt's agents do (when permitted). */
static bool want_rt(struct bench *b)
{
	struct sched_param sp = { .sched_priority = 10 };
	int err;

	if (b->opt.prio == GHOST_AGENT_PRIO_NORMAL)
		return false;
	err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	if (err == 0) {
		b->prio_used = "SCHED_FIFO 10";
		return true;
	}
	b->prio_used = "normal (SCHED_FIFO not permitted)";
	return false;
}

static void drop_rt(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
}

/* CPU B's agent: local yield, or the local-agent measurements on command. */
static void *agent_b_main(void *arg)
{
	struct bench *b = arg;
	struct sleeping_agent *ab = &b->agent_b;
	struct ghost_sw_info info;
	bool rt;

	ab->attach_err = ghost_enclave_agent_attach(b->enclave, b->cpu_b, b->queue_b);
	if (!ab->attach_err && (ghost_sw_agent_info(b->enclave, b->cpu_b, &info) ||
				!(b->agent_word_b = ghost_sw_lookup(b->enclave, &info))))
		ab->attach_err = -EIO;
	if (ab->attach_err) {
		STORE(ab->ready, 1);
		return NULL;
	}
	rt = want_rt(b);
	if (!rt && b->opt.prio == GHOST_AGENT_PRIO_RT) {
		ab->attach_err = -EPERM;
		ghost_enclave_agent_detach(b->enclave, b->cpu_b);
		return NULL;
	}
	STORE(ab->ready, 1);
	for (;;) {
		int cmd = LOAD(ab->cmd);
		uint32_t barrier;
		const struct ghost_msg *m;
		int r;

		if (cmd == CMD_STOP)
			break;
		if (cmd == CMD_LOCAL) {
			local_phase(b);
			STORE(ab->cmd, CMD_IDLE);
			STORE(ab->done, 1);
			continue;
		}
		barrier = ghost_sw_barrier(b->agent_word_b);
		while ((m = ghost_channel_peek(b->queue_b))) {
			msg_task(b, m);
			ghost_channel_consume(b->queue_b, m);
		}
		if (LOAD(ab->cmd) != CMD_IDLE)
			continue;
		r = ghost_txn_local_yield(b->enclave, b->cpu_b, barrier, 0);
		if (r && r != -ESTALE) {
			ab->err = r;
			break;
		}
	}
	if (rt)
		drop_rt();
	ghost_enclave_agent_detach(b->enclave, b->cpu_b);
	return NULL;
}

/* Drains CPU A's queue into the tasks' views (for setup and between phases). */
void drain_a(struct bench *b)
{
	const struct ghost_msg *m;

	while ((m = ghost_channel_peek(b->queue_a))) {
		struct btask *t = msg_task(b, m);

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
		ghost_channel_consume(b->queue_a, m);
	}
}

void setup_backend(struct bench *b)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo) };
	struct ghost_cpuset cpus;
	struct ghost_sw_info info;
	int err;

	ghost_cpuset_zero(&cpus);
	ghost_cpuset_set(&cpus, b->cpu_a);
	ghost_cpuset_set(&cpus, b->cpu_b);
	eo.kernel = b->kernel_name;
	eo.root = b->root;
	eo.cpus = &cpus;
	eo.max_tasks = 64;
	err = ghost_enclave_create(&eo, &b->enclave);
	if (err)
		tool_fatal("cannot create an enclave on the %s kernel: %s", b->kernel_name,
			   ghost_strerror(err));
	if ((err = ghost_channel_create(b->enclave, 1024, 0, &b->queue_a)) ||
	    (err = ghost_channel_set_default(b->queue_a)) ||
	    (err = ghost_channel_config_wakeup(b->queue_a, NULL, 0)) ||
	    (err = ghost_channel_create(b->enclave, 1024, 0, &b->queue_b)) ||
	    (err = ghost_channel_config_wakeup(b->queue_b, &b->cpu_b, 1)))
		tool_fatal("cannot set up the message queues: %s", ghost_strerror(err));
	if ((err = ghost_enclave_agent_online(b->enclave)))
		tool_fatal("cannot claim the enclave's agent: %s", ghost_strerror(err));
	/* The main thread is CPU A's agent from here on (pinned there). */
	if ((err = ghost_enclave_agent_attach(b->enclave, b->cpu_a, b->queue_a)))
		tool_fatal("cannot attach the agent of CPU %d: %s", b->cpu_a, ghost_strerror(err));
	if (ghost_sw_agent_info(b->enclave, b->cpu_a, &info) ||
	    !(b->agent_word_a = ghost_sw_lookup(b->enclave, &info)))
		tool_fatal("no status word for the agent of CPU %d", b->cpu_a);
	if (pthread_create(&b->agent_b.th, NULL, agent_b_main, b))
		tool_fatal("cannot start a thread");
	while (!LOAD(b->agent_b.ready))
		usleep(100);
	if (b->agent_b.attach_err == -EPERM && b->opt.prio == GHOST_AGENT_PRIO_RT)
		tool_fatal("--prio rt: SCHED_FIFO is not permitted here");
	if (b->agent_b.attach_err)
		tool_fatal("cannot attach the agent of CPU %d: %s", b->cpu_b,
			   ghost_strerror(b->agent_b.attach_err));
}

/* TASK_NEW handling lives in its own drain for setup (drain_a does not know new tasks). */
static void drain_new(struct bench *b)
{
	const struct ghost_msg *m;

	while ((m = ghost_channel_peek(b->queue_a))) {
		if (m->type == MSG_TASK_NEW) {
			struct ghost_msg_payload_task_new p;
			int64_t gtid = ghost_msg_gtid(m);

			ghost_msg_copy_payload(m, &p, sizeof(p));
			for (int i = 0; i < NTASKS; i++) {
				struct btask *t = &b->tasks[i];

				if (t->tid && !t->gtid && ghost_gtid_to_tid(gtid) == t->tid) {
					t->gtid = gtid;
					t->seq = m->seqnum;
					t->swi = p.sw_info;
					t->sw = ghost_sw_lookup(b->enclave, &t->swi);
					t->view = p.runnable ? V_RUNNABLE : V_BLOCKED;
					if (!t->sw)
						tool_fatal("no status word for ghost thread %d",
							   t->tid);
				}
			}
			ghost_channel_consume(b->queue_a, m);
			continue;
		}
		msg_task(b, m);
		ghost_channel_consume(b->queue_a, m);
	}
}

void create_tasks(struct bench *b)
{
	static const struct {
		const char *name;
		enum task_mode mode;
	} roles[NTASKS] = {
		[T_LOCAL] = { "local", MODE_BLOCK },
		[T_G1] = { "global-1", MODE_YIELD },
		[T_G2] = { "global-2", MODE_YIELD },
	};
	int err;

	for (int i = 0; i < NTASKS; i++) {
		struct btask *t = &b->tasks[i];
		int64_t end;

		t->name = roles[i].name;
		t->mode = roles[i].mode;
		if ((err = ghost_thread_create(b->enclave, &t->th, task_main, t)))
			tool_fatal("cannot create a ghost thread: %s", ghost_strerror(err));
		t->tid = ghost_thread_tid(t->th);
		end = now_ns() + 5000000000LL;
		while (!t->gtid) {
			drain_new(b);
			if (now_ns() > end)
				tool_fatal("no TASK_NEW for ghost thread %d", t->tid);
			usleep(50);
		}
	}
	/* The local task's messages go to CPU B's agent's queue, which wakes it. */
	err = ghost_channel_associate(b->queue_b, b->tasks[T_LOCAL].gtid, b->tasks[T_LOCAL].seq);
	if (err < 0)
		tool_fatal("cannot associate a task with CPU %d's queue: %s", b->cpu_b,
			   ghost_strerror(err));
}

void teardown_backend(struct bench *b)
{
	for (int i = 0; i < NTASKS; i++)
		STORE(b->tasks[i].mode, MODE_EXIT);
	STORE(b->agent_b.cmd, CMD_STOP);
	ghost_txn_ping(b->enclave, b->cpu_b);
	pthread_join(b->agent_b.th, NULL);
	ghost_enclave_agent_detach(b->enclave, b->cpu_a);
	/* The tasks go back to normal threads, see MODE_EXIT and return. */
	ghost_enclave_destroy(b->enclave);
	for (int i = 0; i < NTASKS; i++)
		if (b->tasks[i].th)
			ghost_thread_join(b->tasks[i].th, NULL);
	ghost_channel_destroy(b->queue_b);
	ghost_channel_destroy(b->queue_a);
	ghost_enclave_close(b->enclave);
	b->enclave = NULL;
	/* Attaching pinned this thread to CPU A; the macro's processes inherit our mask. */
	sched_setaffinity(0, sizeof(b->orig_affinity), &b->orig_affinity);
}

/*
 * The TASK_NEWs of a child's n tasks, matched by the tids it writes down in tid[] (before
 * they first run); false at deadline. Other messages on CPU A's queue are consumed.
 */
bool find_child_tasks(struct bench *b, const int32_t *tid, struct child_task *pt, int n,
		      int64_t deadline)
{
	for (;;) {
		const struct ghost_msg *m;
		bool all = true, tids = true;

		for (int i = 0; i < n; i++) {
			all = all && pt[i].gtid;
			tids = tids && LOAD(tid[i]);
		}
		if (all)
			return true;
		/* A TASK_NEW may come before the child wrote its tid down:
		 * read none until every tid is there, or it is lost. */
		while (tids && (m = ghost_channel_peek(b->queue_a))) {
			int64_t gtid = ghost_msg_gtid(m);

			for (int i = 0; i < n; i++) {
				struct ghost_msg_payload_task_new p;

				if (m->type != MSG_TASK_NEW ||
				    ghost_gtid_to_tid(gtid) != LOAD(tid[i]))
					continue;
				ghost_msg_copy_payload(m, &p, sizeof(p));
				pt[i].gtid = gtid;
				pt[i].seq = m->seqnum;
				pt[i].view = V_RUNNABLE;
				pt[i].sw = ghost_sw_lookup(b->enclave, &p.sw_info);
			}
			ghost_channel_consume(b->queue_a, m);
		}
		if (now_ns() > deadline)
			return false;
		usleep(100);
	}
}

/*
 * The child was told to finish: its tasks are committed onto CPU B in turn until it ends,
 * at most 5 s, then it is killed. Without all n tasks known there is nothing to run: killed
 * at once.
 */
void stop_child(struct bench *b, pid_t child, struct child_task *pt, int n)
{
	int64_t end = now_ns() + 5000000000LL;
	int st;

	for (int k = 0; k < n; k++)
		if (!pt[k].gtid)
			end = 0;
	while (waitpid(child, &st, WNOHANG) != child) {
		const struct ghost_msg *m;

		if (now_ns() >= end) {
			kill(child, SIGKILL);
			waitpid(child, &st, 0);
			break;
		}
		while ((m = ghost_channel_peek(b->queue_a))) {
			for (int k = 0; k < n; k++)
				if (ghost_msg_gtid(m) == pt[k].gtid)
					pt[k].seq = m->seqnum;
			ghost_channel_consume(b->queue_a, m);
		}
		for (int k = 0; k < n; k++) {
			struct ghost_txn_opts o = txn_opts(pt[k].gtid, pt[k].seq);

			o.commit_flags = COMMIT_AT_TXN_COMMIT;
			ghost_txn_open(b->enclave, b->cpu_b, &o);
			ghost_txn_commit(b->enclave, b->cpu_b);
		}
		usleep(1000);
	}
	child_reaped(child);
}
