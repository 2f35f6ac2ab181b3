/*
 * bench/ghost-bench/preempt.c - preempting a task of another process.
 *
 * A child process (this program, --preempt-child) has two ghost threads, a spinner that
 * stamps the time into shared memory without pause and a task that stamps the time it
 * starts running and yields at once. The spinner runs on CPU B; CPU A's agent commits the
 * other task onto CPU B, which takes the spinner off with a signal (its own process's),
 * and waits for the other task's stamp; then it puts the spinner back. Samples: commit ->
 * the next task's first instruction, and the CPU time no task used, from the spinner's last
 * stamp to that first instruction.
 *
 * Owns both sides: the agent's loop (on the enclave of backend.c) and the child's role. The
 * child never reads the bench's state: its command line and the shared page are all it has.
 */
#include "bench.h"
#include "tool.h"

#include <math.h>
#include <sys/mman.h>

struct preempt_shm {
	int64_t spin_last; /* the spinner's latest stamp */
	int64_t next_run;  /* the other task: when it last started running */
	int32_t tid[2];	   /* spinner, other */
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

/* The "--preempt-child ROOT ID" role: the two ghost threads, in enclave ID of ROOT. */
int preempt_child(const char *root, const char *id)
{
	struct ghost_thread *th[2];
	struct preempt_shm *shm;
	struct ghost_enclave *e;
	int err = role_attach(root, id, "preempt.shm", sizeof(*shm), (void **)&shm, &e);

	if (err)
		return err;
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

/* The rows: the preemption, what it adds to the signal alone, the CPU time it costs. */
static void preempt_rows(struct bench *b, struct samples *lat, struct samples *lost,
			 const char *why, long fails)
{
	struct row *r, *sig, *own;

	r = row_time(b, "preempt_remote_process",
		     "preempt a spinner of another process, run the next task on its CPU", lat,
		     B_FUTEX, 2.0);
	phase_fail(r, why, fails);
	row_note(r, "commit -> the next task's first instruction; the spinner is stopped by a "
		    "signal of its own process");
	sig = row_find(b, "baseline_signal_cross_cpu");
	if (!r->failed && sig && !sig->failed) {
		row_note(r, "of which the signal alone (baseline_signal_cross_cpu) %.2f us",
			 sig->med / 1000);
		/* What the embedded kernel adds to the signal: handler, lock, switch. */
		own = row_new(b, "preempt_beyond_signal",
			      "preemption beyond the signal (handler -> next task runs)");
		own->timed = true;
		own->med = r->med - sig->med;
		own->n = r->n;
		own->target = 2.0;
		snprintf(own->base, sizeof(own->base), "%s", B_FUTEX);
		row_note(own, "median of preempt_remote_process minus median of "
			      "baseline_signal_cross_cpu");
	}
	r = row_time(b, "preempt_cpu_lost",
		     "CPU time no task used per preemption (last spin -> next "
		     "task runs)",
		     lost, B_FUTEX, NAN);
	phase_fail(r, why, 0);
	if (!r->failed) {
		struct row *share = row_new(b, "preempt_share_30us",
					    "share of a CPU that switching costs at a 30 us slice");

		share->value = 100.0 * r->med / (30000.0 + r->med);
		share->unit = "%";
		row_note(share,
			 "one preemption per 30 us of running: lost / (30 us + lost), "
			 "median lost %.2f us",
			 r->med / 1000);
	}
}

void preempt_phase(struct bench *b)
{
	struct child_task pt[2] = { { 0 } };
	struct samples lat = { 0 }, lost = { 0 };
	struct preempt_shm *shm;
	const char *why = NULL;
	long need = b->n_warm + (b->n_iter < 5000 ? b->n_iter : 5000), got = 0, fails = 0;
	int64_t deadline = now_ns() + 60000000000LL;
	pid_t child = start_role(b, "--preempt-child", "preempt.shm", sizeof(*shm), (void **)&shm);

	if (!find_child_tasks(b, shm->tid, pt, 2, deadline))
		why = "the child's tasks never arrived";
	/* Alternately: the spinner onto CPU B (view ONCPU), then the other task over it. */
	for (int which = 0; !why && got < need;) {
		const struct ghost_msg *m;
		struct ghost_txn_opts o;
		int64_t t0, before;

		while ((m = ghost_channel_peek(b->queue_a))) {
			for (int i = 0; i < 2; i++) {
				if (ghost_msg_gtid(m) != pt[i].gtid)
					continue;
				pt[i].seq = m->seqnum;
				if (m->type == MSG_TASK_PREEMPT || m->type == MSG_TASK_YIELD)
					pt[i].view = V_RUNNABLE;
			}
			ghost_channel_consume(b->queue_a, m);
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
		ghost_txn_open(b->enclave, b->cpu_b, &o);
		if (ghost_txn_commit(b->enclave, b->cpu_b) != 1) {
			if (++fails > 1000 + need)
				why = ghost_txn_reason(
					ghost_txn_state(ghost_enclave_txn(b->enclave, b->cpu_b)));
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
		if (got++ >= b->n_warm) {
			int64_t run = LOAD(shm->next_run);

			samples_add(&lat, (double)(run - t0));
			samples_add(&lost, (double)(run - LOAD(shm->spin_last)));
		}
		which = 0;
	}
	STORE(shm->exit, 1);
	stop_child(b, child, pt, 2);
	munmap(shm, sizeof(*shm));
	preempt_rows(b, &lat, &lost, why, fails);
}
