/*
 * bench/ghost-bench/micro.c - the operations of the ghOSt paper's overhead table, driven by
 * hand on the enclave of backend.c: message delivery to a local sleeping agent and to a
 * spinning global agent, local and remote schedule (target polling or asleep), group
 * commits, the commit of a null txn, and one global agent's throughput.
 *
 * Owns the measuring loops and their rows. The loops read the clock around single library
 * calls: anything added inside them shows in the figures.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Run by CPU B's agent thread on command: its task blocks and is committed back locally.
 * Samples: delivery (the task's block -> this agent dequeues it), local schedule (commit
 * -> the task's first instruction).
 */
void local_phase(struct bench *b)
{
	struct sleeping_agent *ab = &b->agent_b;
	struct btask *t = &b->tasks[T_LOCAL];
	long got = 0, need = b->n_warm + b->n_iter;
	int64_t t_c = 0;
	bool valid = false;

	t->view = V_RUNNABLE;
	while (got < need && !LOAD(ab->abort)) {
		uint32_t agent_barrier = ghost_sw_barrier(b->agent_word_b);
		const struct ghost_msg *m;
		int r;

		while ((m = ghost_channel_peek(b->queue_b))) {
			int64_t t_deq = now_ns();
			struct btask *mt = msg_task(b, m);

			if (mt == t) {
				switch (m->type) {
				case MSG_TASK_BLOCKED:
					if (t->view == V_ONCPU && valid) {
						if (got >= b->n_warm) {
							samples_add(
								&ab->deliv,
								(double)(t_deq - LOAD(t->t_ev)));
							samples_add(&ab->sched,
								    (double)(LOAD(t->t_run) - t_c));
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
			ghost_channel_consume(b->queue_b, m);
		}
		if (t->view == V_BLOCKED) {
			/* Wake it from here: its TASK_WAKEUP comes to this queue. */
			t->view = V_WAKING;
			ghost_wake(&t->word, 1);
			continue;
		}
		if (t->view == V_RUNNABLE && ghost_sw_barrier(t->sw) == t->seq) {
			struct ghost_txn_opts o = txn_opts(t->gtid, t->seq);
			struct ghost_txn *txn = ghost_enclave_txn(b->enclave, b->cpu_b);

			o.agent_barrier = agent_barrier;
			t_c = now_ns();
			ghost_txn_open(b->enclave, b->cpu_b, &o);
			r = ghost_txn_commit(b->enclave, b->cpu_b);
			if (r == 1) {
				t->view = V_ONCPU;
				valid = true;
			} else if (ghost_txn_state(txn) == GHOST_TXN_CPU_UNAVAIL &&
				   wait_cpu_b_available(b, 5000)) {
				continue;
			} else if (++ab->fails > 1000 + need / 10) {
				snprintf(ab->why, sizeof(ab->why),
					 "local commits keep failing (%s)",
					 ghost_txn_reason(ghost_txn_state(txn)));
				ab->err = -EIO;
				return;
			}
			continue;
		}
		if (ghost_channel_peek(b->queue_b))
			continue;
		r = ghost_txn_local_yield(b->enclave, b->cpu_b, agent_barrier, 0);
		if (r && r != -ESTALE) {
			snprintf(ab->why, sizeof(ab->why), "local yield: %s", ghost_strerror(r));
			ab->err = r;
			return;
		}
	}
	if (got < need) {
		snprintf(ab->why, sizeof(ab->why), "timed out after %ld of %ld iterations", got,
			 need);
		ab->err = -ETIMEDOUT;
	}
}

/* ---- CPU A's agent (the main thread): the global-agent measurements ---- */

/* Waits (draining CPU A's queue) until t is runnable again or ms pass. */
static void wait_runnable(struct bench *b, const struct btask *t, int ms)
{
	int64_t end = now_ns() + (int64_t)ms * 1000000;

	for (;;) {
		drain_a(b);
		if (t->view == V_RUNNABLE || now_ns() > end)
			return;
		usleep(100);
	}
}

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
static void global_phase(struct bench *b, enum gmode mode, struct btask *t, long need,
			 struct gresult *res)
{
	struct ghost_enclave *e = b->enclave;
	int cpu_a = b->cpu_a, cpu_b = b->cpu_b;
	struct ghost_cpuset group;
	struct ghost_txn *txn = ghost_enclave_txn(e, cpu_b);
	int64_t t_c = 0, deadline = now_ns() + 30000000000LL;
	long got = 0, spins = 0;
	bool valid = false;

	ghost_cpuset_zero(&group);
	ghost_cpuset_set(&group, cpu_b);
	if (mode == G_GROUP2)
		ghost_cpuset_set(&group, cpu_a);
	while (got < need) {
		const struct ghost_msg *m;

		while ((m = ghost_channel_peek(b->queue_a))) {
			int64_t t_seen = now_ns();
			struct btask *mt = msg_task(b, m);

			if (mt == t) {
				switch (m->type) {
				case MSG_TASK_YIELD:
					if (t->view == V_ONCPU && valid) {
						if (got >= b->n_warm) {
							samples_add(
								&res->deliv,
								(double)(t_seen - LOAD(t->t_ev)));
							samples_add(&res->e2e,
								    (double)(LOAD(t->t_run) - t_c));
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
			} else if (mt &&
				   (m->type == MSG_TASK_YIELD || m->type == MSG_TASK_PREEMPT ||
				    m->type == MSG_TASK_WAKEUP)) {
				mt->view = V_RUNNABLE;
			}
			ghost_channel_consume(b->queue_a, m);
		}
		if (t->view == V_RUNNABLE && ghost_sw_barrier(t->sw) == t->seq) {
			struct ghost_txn_opts o = txn_opts(t->gtid, t->seq);
			int64_t t1;

			o.commit_flags = COMMIT_AT_TXN_COMMIT;
			if (mode == G_GROUP2) {
				struct ghost_txn_opts oa = txn_opts(GHOST_AGENT_GTID, 0);

				oa.agent_barrier = ghost_sw_barrier(b->agent_word_a);
				oa.commit_flags = COMMIT_AT_TXN_COMMIT;
				t_c = now_ns();
				ghost_txn_open(e, cpu_b, &o);
				ghost_txn_open(e, cpu_a, &oa);
				ghost_txn_commit_set(e, &group);
			} else {
				t_c = now_ns();
				ghost_txn_open(e, cpu_b, &o);
				ghost_txn_commit(e, cpu_b);
			}
			t1 = now_ns();
			if (ghost_txn_succeeded(txn)) {
				t->view = V_ONCPU;
				valid = true;
				if (got >= b->n_warm)
					samples_add(&res->ovh, (double)(t1 - t_c) /
								       (mode == G_GROUP2 ? 2 : 1));
			} else if (ghost_txn_state(txn) == GHOST_TXN_CPU_UNAVAIL &&
				   wait_cpu_b_available(b, 5000)) {
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
static void null_commits(struct bench *b, long need, struct samples *s)
{
	struct ghost_txn_opts o = txn_opts(GHOST_NULL_GTID, 0);

	o.commit_flags = COMMIT_AT_TXN_COMMIT;
	for (long i = 0; i < b->n_warm + need; i++) {
		int64_t t0 = now_ns();

		ghost_txn_open(b->enclave, b->cpu_b, &o);
		ghost_txn_commit(b->enclave, b->cpu_b);
		if (i >= b->n_warm)
			samples_add(s, (double)(now_ns() - t0));
	}
}

/*
 * Throughput: the tasks yield at once every time they run; this agent keeps CPU B busy,
 * committing the next runnable task in FIFO order whenever the previous one yielded.
 * One sample per window: txns per second.
 */
static void throughput(struct bench *b, struct btask **ts, int nt, int64_t window_ns, int windows,
		       struct samples *rates, long *fails_out)
{
	struct btask *fifo[8];
	int head = 0, count = 0;
	struct btask *oncpu = NULL;
	long fails = 0;
	int discarded = 0;

	for (int i = 0; i < nt; i++) {
		ts[i]->queued = ts[i]->view == V_RUNNABLE;
		if (ts[i]->queued)
			fifo[(head + count++) % 8] = ts[i];
	}
	for (int w = -1; w < windows; w++) { /* window -1: warm-up */
		int64_t end = now_ns() + window_ns, start = now_ns();
		long commits = 0;
		bool discard = false;

		while (now_ns() < end) {
			const struct ghost_msg *m;

			while ((m = ghost_channel_peek(b->queue_a))) {
				struct btask *t = msg_task(b, m);

				if (t &&
				    (m->type == MSG_TASK_YIELD || m->type == MSG_TASK_PREEMPT ||
				     m->type == MSG_TASK_WAKEUP)) {
					t->view = V_RUNNABLE;
					if (t == oncpu)
						oncpu = NULL;
					if (!t->queued) {
						t->queued = true;
						fifo[(head + count++) % 8] = t;
					}
				}
				ghost_channel_consume(b->queue_a, m);
			}
			if (!oncpu && count) {
				struct btask *t = fifo[head];
				struct ghost_txn_opts o;

				if (ghost_sw_barrier(t->sw) != t->seq)
					continue; /* a message for it is on its way */
				o = txn_opts(t->gtid, t->seq);
				o.commit_flags = COMMIT_AT_TXN_COMMIT;
				ghost_txn_open(b->enclave, b->cpu_b, &o);
				if (ghost_txn_commit(b->enclave, b->cpu_b) == 1) {
					head = (head + 1) % 8;
					count--;
					t->queued = false;
					t->view = V_ONCPU;
					oncpu = t;
					commits++;
				} else {
					fails++;
					if (ghost_txn_state(
						    ghost_enclave_txn(b->enclave, b->cpu_b)) ==
					    GHOST_TXN_CPU_UNAVAIL) {
						/* This window does not count. */
						wait_cpu_b_available(b, 5000);
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
			samples_add(rates, (double)commits * 1e9 / (double)(now_ns() - start));
	}
	/* Let the last one come back so every task is runnable and known again. */
	if (oncpu)
		wait_runnable(b, oncpu, 2000);
	*fails_out = fails;
}

/* 1. Local: CPU B's agent sleeps; its task blocks and is committed back locally. */
static void local_rows(struct bench *b)
{
	struct sleeping_agent *ab = &b->agent_b;
	long u0;
	int64_t end;
	struct row *r;

	set_park_spin(b, 0);
	u0 = LOAD(b->unavail_waits);
	STORE(ab->done, 0);
	STORE(ab->cmd, CMD_LOCAL);
	ghost_txn_ping(b->enclave, b->cpu_b);
	end = now_ns() + 60000000000LL;
	while (!LOAD(ab->done)) {
		drain_a(b);
		if (now_ns() > end) {
			STORE(ab->abort, 1);
			ghost_txn_ping(b->enclave, b->cpu_b);
			while (!LOAD(ab->done))
				usleep(1000);
		}
		usleep(1000);
	}
	r = row_time(b, "msg_delivery_local_agent",
		     "message delivery to a local sleeping agent (block -> agent dequeues)",
		     &ab->deliv, B_FUTEX, 1.3);
	phase_fail(r, ab->err ? ab->why : NULL, ab->fails);
	note_unavail(b, r, u0);
	row_note(r, "CPU %d's agent at %s priority", b->cpu_b, b->prio_used);
	r = row_time(b, "local_schedule", "local schedule (commit on own CPU -> task runs)",
		     &ab->sched, B_FUTEX, 1.3);
	phase_fail(r, ab->err ? ab->why : NULL, ab->fails);
	note_unavail(b, r, u0);
	row_note(r, "CPU %d's agent at %s priority", b->cpu_b, b->prio_used);
}

/* 2. Global agent spinning on CPU A, a task on CPU B that polls while parked. */
static void remote_rows(struct bench *b)
{
	struct gresult g = { 0 };
	struct row *r;
	long u0;

	set_park_spin(b, 200000);
	wait_cpu_b_available(b, 3000);
	u0 = LOAD(b->unavail_waits);
	global_phase(b, G_SINGLE, &b->tasks[T_G1], b->n_warm + b->n_iter, &g);
	r = row_time(b, "msg_delivery_global_agent",
		     "message delivery to a spinning global agent (yield -> agent sees it)",
		     &g.deliv, B_LINE, 4);
	phase_fail(r, g.why, g.fails);
	note_unavail(b, r, u0);
	r = row_time(b, "remote_schedule_agent_overhead",
		     "remote schedule, agent overhead (one txn to another CPU)", &g.ovh, B_SYSCALL,
		     4);
	phase_fail(r, g.why, 0);
	if (!b->park_spin_ok)
		row_note(r, "the backend has no park_spin_ns: the target was not polling");
	r = row_time(b, "remote_schedule_e2e_polling",
		     "remote schedule, end to end, target CPU polling", &g.e2e, B_LINE, 20);
	phase_fail(r, g.why, 0);
	if (!b->park_spin_ok)
		row_note(r, "the backend has no park_spin_ns: the target was not polling");
	else
		row_note(r, "park_spin_ns 200000");
}

/* 3. Group commits: this machine gives the global agent one remote CPU. */
static void group_rows(struct bench *b)
{
	struct gresult g = { 0 };
	struct samples s = { 0 };
	struct row *r;

	global_phase(b, G_SINGLE, &b->tasks[T_G1], b->n_warm + b->n_iter, &g);
	samples_free(&g.deliv);
	samples_free(&g.e2e);
	r = row_time(b, "group_commit_per_txn",
		     "group commit, agent overhead per txn (group of 1 remote CPU)", &g.ovh,
		     B_SYSCALL, 4);
	phase_fail(r, g.why, g.fails);
	row_note(r,
		 "a %d-CPU enclave leaves its global agent %d remote CPU: a group of 1 "
		 "(ghOSt's figure is a group of 10)",
		 2, 1);

	memset(&g, 0, sizeof(g));
	global_phase(b, G_GROUP2, &b->tasks[T_G1], b->n_warm + b->n_iter, &g);
	samples_free(&g.deliv);
	samples_free(&g.e2e);
	r = row_time(b, "group_commit_per_txn_2",
		     "group commit of 2 txns per txn (task to CPU B + agent txn on own CPU)",
		     &g.ovh, B_SYSCALL, NAN);
	phase_fail(r, g.why, g.fails);
	row_note(r, "the second txn targets GHOST_AGENT_GTID on the agent's own CPU: the "
		    "commit path without a second remote CPU");

	null_commits(b, b->n_iter, &s);
	row_time(b, "commit_null_txn", "commit of a GHOST_NULL_GTID txn to idle CPU B", &s,
		 B_SYSCALL, NAN);
}

/*
 * 4. Throughput: one global agent keeps CPU B busy with tasks that yield at once. With
 * one task the loop is bound by the round trip; with two, a task that just yielded
 * polls on CPU B while the next one should run there.
 */
static void throughput_rows(struct bench *b)
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
	struct btask *ts[2] = { &b->tasks[T_G1], &b->tasks[T_G2] };
	int64_t window = b->opt.quick ? 20000000 : 100000000;
	int windows = b->opt.quick ? 3 : 20;

	for (size_t i = 0; i < sizeof(tp) / sizeof(tp[0]); i++) {
		struct samples rates = { 0 };
		struct row *r;
		long fails, u0;

		set_park_spin(b, tp[i].spin);
		wait_cpu_b_available(b, 3000);
		u0 = LOAD(b->unavail_waits);
		throughput(b, ts, tp[i].ntasks, window, windows, &rates, &fails);
		qsort(rates.v, rates.n, sizeof(double), cmp_double);
		r = row_new(b, tp[i].name, tp[i].label);
		r->unit = "txn/s";
		r->timed = true;
		snprintf(r->base, sizeof(r->base), "%s", B_SYSCALL);
		r->n = rates.n;
		if (rates.n) {
			r->value = samples_quantile(rates.v, rates.n, 0.5);
			r->med = 1e9 / r->value;
			r->p99 = 1e9 / rates.v[0];
			r->min = 1e9 / rates.v[rates.n - 1];
		} else {
			r->failed = true;
		}
		row_note(r,
			 "%d windows of %lld ms; ns columns are per txn (p99 = the slowest "
			 "window); park_spin_ns %ld",
			 windows, (long long)(window / 1000000), tp[i].spin);
		if (fails)
			row_note(r, "%ld failed commits", fails);
		note_unavail(b, r, u0);
		samples_free(&rates);
	}
}

/* 5. The same remote schedule with the target asleep (no polling). */
static void remote_sleeping_rows(struct bench *b)
{
	struct gresult g = { 0 };
	long saved = b->n_warm, n = b->n_iter / 10 < 200 ? 200 : b->n_iter / 10;
	struct row *r;

	set_park_spin(b, 0);
	if (n > 5000)
		n = 5000;
	b->n_warm = n / 10;
	global_phase(b, G_SINGLE, &b->tasks[T_G1], b->n_warm + n, &g);
	b->n_warm = saved;
	samples_free(&g.deliv);
	r = row_time(b, "remote_schedule_e2e_sleeping",
		     "remote schedule, end to end, target CPU asleep (park_spin_ns 0)", &g.e2e,
		     B_XWAKE, NAN);
	phase_fail(r, g.why, g.fails);
	r = row_time(b, "remote_schedule_agent_overhead_sleeping",
		     "remote schedule, agent overhead, target CPU asleep (futex wake inside)",
		     &g.ovh, B_SYSCALL, NAN);
	phase_fail(r, g.why, 0);
}

/*
 * 6. What recording a trace costs per message: the scheduler base dispatching a CPU message
 * with nothing recording (a base of no enclave: the same single branch) and with the
 * enclave's recorder on, the caller being a CPU's agent (its own ring, no lock), batches
 * of each in turn. The rings are small, so the warm-up has touched every page of them.
 */
#define TRACE_BATCH 1000

static void trace_rows(struct bench *b)
{
	struct ghost_trace_opts o = { .sz = sizeof(o), .size = 64 << 10 };
	struct {
		struct ghost_msg hdr;
		struct ghost_msg_payload_cpu_tick p;
	} __attribute__((packed, aligned(4))) m = { 0 };
	struct ghost_sched plain, traced;
	struct samples off = { 0 }, on = { 0 };
	struct row *r;
	int err;

	m.hdr.type = MSG_CPU_TICK;
	m.hdr.length = sizeof(m);
	m.p.cpu = b->cpu_a;
	err = ghost_sched_init(&plain, NULL, NULL, NULL, 0);
	if (!err && (err = ghost_sched_init(&traced, b->enclave, NULL, NULL, 0)))
		ghost_sched_fini(&plain);
	if (!err && (err = ghost_trace_start(b->enclave, &o))) {
		ghost_sched_fini(&plain);
		ghost_sched_fini(&traced);
	}
	if (!err) {
		ghost_trace_set_thread_cpu(b->cpu_a);
		for (long i = 0; i < b->n_warm + b->n_iter; i++) {
			for (int t = 0; t < 2; t++) {
				struct ghost_sched *s = t ? &traced : &plain;
				int64_t t0 = now_ns();

				for (int k = 0; k < TRACE_BATCH; k++)
					ghost_sched_dispatch(s, &m.hdr);
				if (i >= b->n_warm)
					samples_add(t ? &on : &off,
						    (double)(now_ns() - t0) / TRACE_BATCH);
			}
		}
		ghost_trace_set_thread_cpu(-1);
		ghost_trace_stop(b->enclave);
		ghost_sched_fini(&plain);
		ghost_sched_fini(&traced);
	}
	r = row_time(b, "trace_dispatch_untraced",
		     "dispatch one message to the scheduler base, not recording", &off, NULL, NAN);
	if (err)
		phase_fail(r, ghost_strerror(err), 0);
	r = row_time(b, "trace_dispatch_traced",
		     "the same, recorded (ghost-agent --trace; ratio: the recording's cost)", &on,
		     "trace_dispatch_untraced", NAN);
	if (err)
		phase_fail(r, ghost_strerror(err), 0);
	row_note(r, "batches of %d messages, %ld of each", TRACE_BATCH, b->n_iter);
}

void run_emu_ops(struct bench *b)
{
	progress(b, "operations on the %s kernel", b->kernel_name);
	create_tasks(b);
	local_rows(b);
	remote_rows(b);
	group_rows(b);
	throughput_rows(b);
	remote_sleeping_rows(b);
	trace_rows(b);
	preempt_phase(b);
	net_phase(b);
	teardown_backend(b);
}
