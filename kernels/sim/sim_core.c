/*
 * kernels/sim/sim_core.c - the simulator's engine: virtual time, the event
 * loop, model tasks, the agents' fibers and what they are charged.
 *
 * Above the embedded kernel (whose scheduling class, messages and txn
 * validation it drives unchanged through struct emu_virt) and the fibers
 * and models of this directory; below the ops table (sim_ops.c). Owns the
 * event heap (ordered by time, then by insertion: nothing else decides an
 * order, so a run is reproducible), the tasks' work, the agents' clocks and
 * the invariant checks. Every emu call is made under the enclave lock, as
 * emu requires, and no fiber switch ever happens with it held or from a
 * point where a policy may hold a lock of its own: agents give control back
 * only at the end of an iteration of their loop and when they block.
 *
 * Costs: what an agent does in one run (messages it consumed, txns,
 * commit calls, the iteration itself) takes effect at once and is charged
 * afterwards as time the agent is busy; it runs again no sooner than then.
 */
#include "sim.h"

#include <ghost/channel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIM_FOREVER (INT64_MAX / 4)

struct sim *sim_of(struct ghost_kenclave *ke)
{
	return ke && ke->virt ? ke->virt->ctx : NULL;
}

/* ---- the event heap ---- */

static bool ev_before(const struct sim_ev *a, const struct sim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(struct sim *s, int64_t t, uint32_t kind, int32_t id, uint32_t gen)
{
	struct sim_ev ev = { .t = t, .seq = s->seq++, .kind = kind, .gen = gen, .id = id };
	size_t i;

	if (s->nheap == s->capheap) {
		size_t cap = s->capheap ? 2 * s->capheap : 1024;
		struct sim_ev *h = realloc(s->heap, cap * sizeof(*h));

		if (!h)
			abort(); /* a simulation that cannot grow its heap cannot go on */
		s->heap = h;
		s->capheap = cap;
	}
	i = s->nheap++;
	while (i > 0 && ev_before(&ev, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = ev;
}

static struct sim_ev pop(struct sim *s)
{
	struct sim_ev top = s->heap[0], last = s->heap[--s->nheap];
	size_t i = 0, n = s->nheap;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && ev_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

static int64_t now(struct sim *s)
{
	return s->vc.now_ns;
}

static void violation(struct sim *s, const char *fmt, int a, long long b)
{
	if (!s->violations++)
		snprintf(s->violation, sizeof(s->violation), fmt, a, b);
}

/* ---- tasks on and off CPUs (the simulator's own view, checked against emu's) ---- */

static int task_index_of(struct sim *s, struct emu_task *t)
{
	return (int)(t - emu_task(s->ke->sh, 0));
}

static void task_on_cpu(struct sim *s, int idx, int cpu)
{
	struct sim_task *st = &s->tasks[idx];

	if (s->opts.check) {
		if (s->cpu_task[cpu] >= 0 && s->cpu_task[cpu] != idx)
			violation(s, "CPU %d got a second task (record %lld)", cpu, idx);
		if (st->oncpu >= 0 && st->oncpu != cpu)
			violation(s, "task record %d is on two CPUs (also %lld)", idx, cpu);
		if (emu_cpu(s->ke->sh, cpu)->current != idx)
			violation(s, "CPU %d runs record %lld, which the kernel does not say", cpu,
				  idx);
	}
	s->cpu_task[cpu] = idx;
	st->oncpu = (int16_t)cpu;
	st->since = now(s);
	if (st->woke) {
		sim_hist_add(&s->wake, now(s) - st->woke_at);
		st->woke = false;
	}
	st->gen++;
	if (st->remaining < SIM_FOREVER / 2)
		push(s, now(s) + s->costs.switch_ns + st->remaining, SIM_EV_TASK, idx, st->gen);
	s->hash = sim_hash(s->hash, (uint64_t)now(s) ^ ((uint64_t)idx << 20) ^ (uint64_t)cpu);
}

/* The task leaves its CPU (before emu is told): its work done so far is accounted. */
static void task_off_cpu(struct sim *s, int idx)
{
	struct sim_task *st = &s->tasks[idx];
	int64_t ran;

	if (st->oncpu < 0)
		return;
	ran = now(s) - st->since - s->costs.switch_ns;
	if (ran > 0)
		st->remaining = st->remaining > ran ? st->remaining - ran : 0;
	if (now(s) > st->since)
		s->cpu_busy[st->oncpu] += now(s) - st->since;
	if (s->cpu_task[st->oncpu] == idx)
		s->cpu_task[st->oncpu] = -1;
	st->oncpu = -1;
	st->gen++; /* its pending "work done" is void */
}

/* ---- the hooks emu calls (lock held) ---- */

static void agent_woken(struct sim *s, int cpu);

static void hook_wake(void *ctx, struct emu_park *p)
{
	struct sim *s = ctx;
	struct emu_shared *sh = s->ke->sh;
	char *tasks = (char *)emu_task(sh, 0), *cpus = (char *)emu_cpu(sh, 0);

	if ((char *)p >= tasks &&
	    (char *)p < tasks + (size_t)sh->max_tasks * sizeof(struct emu_task)) {
		int idx = (int)(((char *)p - tasks) / (ptrdiff_t)sizeof(struct emu_task));
		struct emu_task *t = emu_task(sh, idx);

		if (t->state == EMU_T_ONCPU && s->tasks[idx].oncpu < 0)
			task_on_cpu(s, idx, t->cpu);
		else if (t->state != EMU_T_ONCPU)
			task_off_cpu(s, idx);
		return;
	}
	if ((char *)p >= cpus && (char *)p < cpus + (size_t)sh->ncpus * sizeof(struct emu_cpu))
		agent_woken(s, (int)(((char *)p - cpus) / (ptrdiff_t)sizeof(struct emu_cpu)));
}

static void hook_preempt(void *ctx, struct emu_task *t)
{
	struct sim *s = ctx;

	push(s, now(s) + s->costs.preempt_ns, SIM_EV_PREEMPT, task_index_of(s, t), 0);
}

/* Where the ring of queue q ends now (its producer index). */
static struct ghost_ring *ring_of(struct sim *s, int q)
{
	void *map = emu_queue_map(s->ke, q);

	return map ? (struct ghost_ring *)((char *)map + sizeof(struct ghost_queue_header)) : NULL;
}

static void track(struct sim *s, int q)
{
	struct sim_qtrack *qt = &s->q[q];
	struct ghost_ring *r = ring_of(s, q);

	if (!r)
		return;
	if (qt->count == qt->cap) {
		uint32_t cap = qt->cap ? 2 * qt->cap : 64, *end = malloc(cap * sizeof(*end));

		if (!end)
			return; /* not charged: costs are a model, not a correctness matter */
		for (uint32_t i = 0; i < qt->count; i++)
			end[i] = qt->end[(qt->head + i) % qt->cap];
		free(qt->end);
		qt->end = end;
		qt->cap = cap;
		qt->head = 0;
	}
	qt->end[(qt->head + qt->count++) % qt->cap] = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	if (!qt->listed) {
		qt->listed = true;
		s->qlist[s->nqlist++] = q;
	}
}

/* Messages read since the last call (by whoever ran in between: the running agent). */
static uint32_t consumed(struct sim *s)
{
	uint32_t n = 0;

	for (int i = 0; i < s->nqlist;) {
		int q = s->qlist[i];
		struct sim_qtrack *qt = &s->q[q];
		struct ghost_ring *r = ring_of(s, q);
		uint32_t tail = r ? __atomic_load_n(&r->tail, __ATOMIC_RELAXED) : 0;

		while (qt->count && (!r || (int32_t)(tail - qt->end[qt->head]) >= 0)) {
			qt->head = (qt->head + 1) % qt->cap;
			qt->count--;
			n++;
		}
		if (!qt->count) {
			qt->listed = false;
			s->qlist[i] = s->qlist[--s->nqlist];
			continue;
		}
		i++;
	}
	return n;
}

static void hook_msg(void *ctx, int q, uint16_t type, uint32_t seqnum, const void *payload,
		     uint16_t len)
{
	struct sim *s = ctx;
	uint64_t first = 0;

	s->msgs++;
	if (len >= sizeof(first))
		memcpy(&first, payload, sizeof(first));
	s->hash = sim_hash(s->hash, (uint64_t)now(s));
	s->hash =
		sim_hash(s->hash, ((uint64_t)type << 48) ^ ((uint64_t)(uint32_t)q << 32) ^ seqnum);
	s->hash = sim_hash(s->hash, first);
	track(s, q);
	if (type == MSG_TASK_NEW)
		s->tasks_new++;
	if (type == MSG_TASK_DEAD || type == MSG_TASK_DEPARTED)
		s->tasks_ended++;
	if (s->opts.check && ghost_msg_is_task(type)) {
		int idx = emu_gtid_index((int64_t)first);
		struct sim_task *st;

		if (idx < 0 || (uint32_t)idx >= s->max_tasks) {
			violation(s, "message %d about gtid %lld, no task", type, (long long)first);
			return;
		}
		st = &s->tasks[idx];
		if (type != MSG_TASK_NEW && st->last_seq && seqnum <= st->last_seq)
			violation(s, "message %d: seqnum %lld not past the task's last", type,
				  seqnum);
		if (type == MSG_TASK_NEW)
			st->seen_new = true;
		if (type == MSG_TASK_DEAD || type == MSG_TASK_DEPARTED) {
			if (st->ended)
				violation(s, "a task ended twice (message %d, record %lld)", type,
					  idx);
			st->ended = true;
		}
		st->last_seq = seqnum;
	}
}

/* ---- agents ---- */

static struct sim_agent *agent(struct sim *s, int cpu)
{
	return &s->agents[cpu];
}

static void agent_woken(struct sim *s, int cpu)
{
	struct sim_agent *a = agent(s, cpu);

	if (!a->spawned || !a->sleeping || a->queued || a->f.done)
		return;
	a->queued = true;
	push(s, now(s) + s->costs.wake_ns, SIM_EV_AGENT, cpu, ++a->gen);
}

/* What the running agent did since it last paid: consumed messages, txns, the iteration. */
static int64_t take_debt(struct sim *s, int64_t extra)
{
	int64_t d = extra + (int64_t)consumed(s) * s->costs.msg_ns + s->debt;

	s->debt = 0;
	if (s->cur >= 0)
		agent(s, s->cur)->busy_ns += d;
	return d;
}

/* The running agent gives control back to the event loop. */
static void to_loop(struct sim *s)
{
	int cpu = s->cur;

	sim_fiber_switch(&agent(s, cpu)->f, &s->main);
	/* Resumed by the loop: it set cur and the clock. */
}

/* The running agent sleeps until emu makes it RUNNING (and its CPU free of a leaving task). */
static void agent_block(struct sim *s, int cpu)
{
	struct sim_agent *a = agent(s, cpu);

	a->busy_until = now(s) + take_debt(s, 0);
	if (emu_agent_may_run(s->ke, cpu))
		return; /* woken while it gave its CPU up (its own commit's RTLA...) */
	a->sleeping = true;
	a->queued = false;
	to_loop(s);
}

int sim_agent_spawn(struct ghost_kenclave *ke, int cpu, void (*fn)(void *), void *arg)
{
	struct sim *s = sim_of(ke);
	struct sim_agent *a;
	int err;

	if (!s || cpu < 0 || cpu >= s->ncpus)
		return -EINVAL;
	a = agent(s, cpu);
	if (a->spawned)
		return -EBUSY;
	err = sim_fiber_init(&a->f, fn, arg);
	if (err)
		return err;
	a->spawned = true;
	a->queued = true;
	push(s, now(s), SIM_EV_AGENT, cpu, ++a->gen);
	return 0;
}

void sim_agent_step(struct ghost_kenclave *ke, int cpu, bool idle)
{
	struct sim *s = sim_of(ke);
	struct sim_agent *a;
	int64_t at;

	if (!s || s->cur != cpu)
		return;
	a = agent(s, cpu);
	at = now(s) + take_debt(s, s->costs.loop_ns);
	if (idle && at == now(s) + s->costs.loop_ns) {
		/* Nothing to do, nothing done: nothing changes before the next event. */
		int64_t next = s->nheap ? s->heap[0].t : SIM_FOREVER;
		int64_t poll = now(s) + s->costs.idle_poll_ns;

		if (next > at)
			at = next < poll ? next : poll;
		a->polled = true;
	}
	a->queued = true;
	push(s, at, SIM_EV_AGENT, cpu, ++a->gen);
	to_loop(s);
}

static void resume_agent(struct sim *s, int cpu)
{
	struct sim_agent *a = agent(s, cpu);

	s->cur = cpu;
	s->vc.agent_cpu = cpu;
	emu_agent_cpu = cpu;
	sim_fiber_switch(&s->main, &a->f);
	s->cur = -1;
	s->vc.agent_cpu = -1;
	emu_agent_cpu = -1;
	/* Whatever it did last before returning is paid for, too. */
	if (a->f.done) {
		take_debt(s, 0);
		sim_fiber_free(&a->f);
	}
}

static bool ev_agent(struct sim *s, const struct sim_ev *ev)
{
	struct sim_agent *a = agent(s, ev->id);
	bool polled;

	if (ev->gen != a->gen || !a->queued || a->f.done)
		return false;
	if (ev->t < a->busy_until) {
		/* Woken while still busy with what it did before: then. */
		push(s, a->busy_until, SIM_EV_AGENT, ev->id, a->gen);
		return false;
	}
	a->queued = false;
	if (a->sleeping) {
		if (!emu_agent_may_run(s->ke, ev->id))
			return false; /* its CPU's task is still leaving: woken again then */
		a->sleeping = false;
	}
	polled = a->polled;
	a->polled = false;
	s->hash = sim_hash(s->hash, ((uint64_t)now(s) << 10) ^ (uint64_t)ev->id);
	resume_agent(s, ev->id);
	return !polled; /* a poll that found nothing new is no event */
}

/* ---- the agent's ops ---- */

int sim_agent_online(struct ghost_kenclave *ke)
{
	return emu_agent_online_claim(ke);
}

int sim_agent_attach(struct ghost_kenclave *ke, int cpu, int q)
{
	int err;

	if (!sim_of(ke) || cpu < 0 || cpu >= (int)ke->sh->ncpus)
		return -EINVAL;
	if (!emu_cpu(ke->sh, cpu)->in_enclave)
		return -ENODEV;
	if ((err = emu_lock(ke)))
		return err;
	err = emu_agent_attach_locked(ke, cpu, q, gettid());
	emu_unlock(ke);
	return err;
}

void sim_agent_detach(struct ghost_kenclave *ke, int cpu)
{
	if (cpu < 0 || cpu >= (int)ke->sh->ncpus || emu_lock(ke))
		return;
	emu_agent_detach_locked(ke, cpu, gettid());
	emu_unlock(ke);
}

int sim_commit(struct ghost_kenclave *ke, const struct ghost_cpuset *cpus, unsigned flags)
{
	struct sim *s = sim_of(ke);
	int me, local, ret, err, c, n = 0;
	uint32_t seen = 0;

	if (!s || !cpus || (flags & ~GHOST_KCOMMIT_SYNC_GROUP))
		return -EINVAL;
	me = s->cur;
	ghost_cpuset_for_each(c, cpus)
		if (c < s->ncpus && __atomic_load_n(&ke->cpu_data[c].txn.state, __ATOMIC_RELAXED) ==
					    GHOST_TXN_READY)
			n++;
	s->debt += s->costs.commit_ns + (int64_t)n * s->costs.txn_ns;
	if ((err = emu_lock(ke)))
		return err;
	ret = emu_commit_locked(ke, cpus, flags & GHOST_KCOMMIT_SYNC_GROUP, me, &local, &seen);
	emu_unlock(ke);
	if (local >= 0)
		agent_block(s, local);
	return ret;
}

int sim_run(struct ghost_kenclave *ke, int64_t gtid, uint32_t agent_barrier, uint32_t task_barrier,
	    int cpu, int run_flags)
{
	struct sim *s = sim_of(ke);
	uint32_t seen = 0;
	int err;

	(void)task_barrier;
	if (!s || cpu < 0 || cpu >= s->ncpus || (run_flags & ~RTLA_ON_IDLE))
		return -EINVAL;
	if (gtid != GHOST_NULL_GTID && gtid != GHOST_AGENT_GTID)
		return -EINVAL;
	/* Only the agent running now may yield, and only its own CPU. */
	if (gtid == GHOST_NULL_GTID && s->cur != cpu)
		return -EINVAL;
	if ((err = emu_lock(ke)))
		return err;
	err = emu_run_locked(ke, gtid, agent_barrier, cpu, run_flags, gettid(), &seen);
	emu_unlock(ke);
	if (err == 1) {
		agent_block(s, cpu);
		err = 0;
	}
	return err;
}

int sim_timer_set(struct ghost_kenclave *ke, int cpu, int slot, uint64_t type, uint64_t cookie,
		  int64_t expires_ns, int64_t period_ns)
{
	struct sim *s = sim_of(ke);
	int err = emu_timer_set(ke, cpu, slot, type, cookie, expires_ns, period_ns);

	if (!err && s && expires_ns > 0)
		push(s, expires_ns > now(s) ? expires_ns : now(s), SIM_EV_TIMER, cpu, 0);
	return err;
}

/* ---- the workload ---- */

static void wake_task(struct sim *s, int idx, int waker_cpu)
{
	struct sim_task *st = &s->tasks[idx];

	st->woke = true;
	st->woke_at = now(s);
	emu_task_wakeup(s->ke, emu_task(s->ke->sh, idx), waker_cpu);
}

/* A request's arrival time and service, queued until a worker takes it. */
static void req_push(struct sim *s, int64_t arrival, int64_t service)
{
	if (s->req_count == s->req_cap) {
		uint32_t cap = s->req_cap ? 2 * s->req_cap : 1024;
		int64_t *r = malloc((size_t)cap * 2 * sizeof(*r));

		if (!r)
			abort();
		for (uint32_t i = 0; i < s->req_count; i++) {
			uint32_t j = (s->req_head + i) % s->req_cap;

			r[2 * i] = s->reqs[2 * j];
			r[2 * i + 1] = s->reqs[2 * j + 1];
		}
		free(s->reqs);
		s->reqs = r;
		s->req_cap = cap;
		s->req_head = 0;
	}
	{
		uint32_t j = (s->req_head + s->req_count++) % s->req_cap;

		s->reqs[2 * j] = arrival;
		s->reqs[2 * j + 1] = service;
	}
}

static bool req_pop(struct sim *s, int64_t *arrival, int64_t *service)
{
	if (!s->req_count)
		return false;
	*arrival = s->reqs[2 * s->req_head];
	*service = s->reqs[2 * s->req_head + 1];
	s->req_head = (s->req_head + 1) % s->req_cap;
	s->req_count--;
	return true;
}

static void ev_arrival(struct sim *s)
{
	int64_t service = sim_draw_service(&s->rng_work, s->opts.service, s->opts.nservice);

	s->requests++;
	if (s->idle_head >= 0) {
		int idx = s->idle_head;
		struct sim_task *st = &s->tasks[idx];

		s->idle_head = st->next_idle;
		st->has_work = true;
		st->arrival = now(s);
		st->remaining = service;
		wake_task(s, idx, -1);
	} else {
		req_push(s, now(s), service);
	}
	push(s, now(s) + sim_rng_exp(&s->rng_arrival, 1e9 / s->opts.rate), SIM_EV_ARRIVAL, 0, 0);
}

/* A task's timer: its work on a CPU is done, or its sleep is over. */
static bool ev_task(struct sim *s, const struct sim_ev *ev)
{
	int idx = ev->id;
	struct sim_task *st = &s->tasks[idx];
	struct emu_task *t = emu_task(s->ke->sh, idx);
	int64_t arrival, service;

	if (ev->gen != st->gen || s->finishing)
		return false;
	if (t->state == EMU_T_BLOCKED) {
		st->remaining = sim_rng_exp(&s->rng_work, (double)s->opts.run_ns);
		wake_task(s, idx, t->cpu);
		return true;
	}
	if (t->state != EMU_T_ONCPU || st->oncpu < 0)
		return false;
	s->completed++;
	if (st->kind == SIM_M_WORKER) {
		if (st->has_work)
			sim_hist_add(&s->lat, now(s) - st->arrival);
		if (req_pop(s, &arrival, &service)) {
			/* The next request, on the CPU it has. */
			st->arrival = arrival;
			st->remaining = service;
			st->since = now(s) - s->costs.switch_ns;
			st->gen++;
			push(s, now(s) + service, SIM_EV_TASK, idx, st->gen);
			return true;
		}
		st->has_work = false;
		st->next_idle = s->idle_head;
		s->idle_head = idx;
	}
	task_off_cpu(s, idx);
	emu_task_stop(s->ke, t, MSG_TASK_BLOCKED, EMU_T_BLOCKED);
	if (st->kind == SIM_M_BLOCKER)
		push(s, now(s) + sim_rng_exp(&s->rng_work, (double)s->opts.block_ns), SIM_EV_TASK,
		     idx, st->gen);
	return true;
}

static bool ev_preempt(struct sim *s, const struct sim_ev *ev)
{
	struct emu_task *t = emu_task(s->ke->sh, ev->id);

	if (t->state != EMU_T_ONCPU || !(t->flags & EMU_TF_PREEMPT_REQ))
		return false;
	task_off_cpu(s, ev->id);
	s->preemptions++;
	emu_task_preempted(s->ke, t);
	return true;
}

static bool ev_tick(struct sim *s, const struct sim_ev *ev)
{
	struct emu_shared *sh = s->ke->sh;
	bool ticking = sh->deliver_ticks || sh->commit_at_tick;
	int64_t period = sh->tick_us > 0 ? sh->tick_us * 1000 : 1000000;

	push(s, now(s) + period, SIM_EV_TICK, 0, 0);
	if (ev->kind == SIM_EV_TICK && !ticking)
		return false;
	for (int c = 0; c < s->ncpus; c++) {
		struct emu_cpu *ec = emu_cpu(sh, c);

		if (ec->in_enclave && ec->agent_state != EMU_A_NONE)
			emu_cpu_tick(s->ke, c, now(s), ticking);
	}
	return true;
}

static int create_tasks(struct sim *s)
{
	struct ghost_kenclave *ke = s->ke;
	struct emu_shared *sh = ke->sh;
	uint32_t n = s->opts.tasks + s->opts.antagonists;
	uint32_t regions = (n + (uint32_t)s->ncpus + 64) / GHOST_SW_REGION_CAPACITY + 1;
	int err;

	for (uint32_t r = 1; r < regions; r++) {
		err = emu_sw_region_make(ke, r, 0);
		if (err && err != -EEXIST)
			return err;
	}
	if ((err = emu_lock(ke)))
		return err;
	for (uint32_t i = 0; i < n && !err; i++) {
		int idx = emu_task_alloc_record(sh);
		struct emu_task *t;
		struct sim_task *st;

		if (idx < 0) {
			err = -ENOMEM;
			break;
		}
		t = emu_task(sh, idx);
		memset(t, 0, sizeof(*t));
		t->flags = EMU_TF_VIRTUAL;
		for (int c = 0; c < s->ncpus; c++)
			t->orig_mask[c / 64] |= 1ull << (c % 64);
		st = &s->tasks[idx];
		memset(st, 0, sizeof(*st));
		st->oncpu = -1;
		st->next_idle = -1;
		if (i >= s->opts.tasks || s->opts.workload == GHOST_SIM_SPIN) {
			st->kind = SIM_M_SPINNER;
			st->remaining = SIM_FOREVER;
		} else if (s->opts.workload == GHOST_SIM_BLOCK_WAKE) {
			st->kind = SIM_M_BLOCKER;
			st->remaining = sim_rng_exp(&s->rng_work, (double)s->opts.run_ns);
		} else {
			st->kind = SIM_M_WORKER; /* starts by blocking for its first request */
		}
		st->woke = true;
		st->woke_at = now(s);
		/* Thread ids of no thread (they only shape the gtid): 2^21 + n. */
		err = emu_task_record_init(ke, idx, getpid(), (pid_t)((1 << 21) + i), 0, 0);
		s->ntasks++;
	}
	emu_unlock(ke);
	if (err)
		return err;
	if (s->opts.workload == GHOST_SIM_RPC && s->opts.tasks)
		push(s, now(s) + sim_rng_exp(&s->rng_arrival, 1e9 / s->opts.rate), SIM_EV_ARRIVAL,
		     0, 0);
	return 0;
}

/* ---- the loop ---- */

static bool dispatch(struct sim *s, const struct sim_ev *ev)
{
	bool did;

	if (ev->kind == SIM_EV_AGENT)
		return ev_agent(s, ev);
	if (emu_lock(s->ke))
		return false;
	switch (ev->kind) {
	case SIM_EV_TASK:
		did = ev_task(s, ev);
		break;
	case SIM_EV_PREEMPT:
		did = ev_preempt(s, ev);
		break;
	case SIM_EV_TICK:
	case SIM_EV_TIMER:
		did = ev_tick(s, ev);
		break;
	case SIM_EV_ARRIVAL:
		did = !s->finishing;
		if (did)
			ev_arrival(s);
		break;
	default:
		did = false;
	}
	emu_unlock(s->ke);
	if (did)
		s->hash = sim_hash(s->hash, ((uint64_t)ev->t << 8) ^ ((uint64_t)ev->kind << 40) ^
						    (uint64_t)(uint32_t)ev->id);
	return did;
}

static int64_t host_now(void)
{
	struct timespec ts;

	/* Only to report the simulator's own speed: never a decision. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs events up to until, or (join >= 0) until that agent's fiber has ended. */
static int run_loop(struct sim *s, int64_t until, int join)
{
	int64_t h0 = host_now();

	if (s->running || s->cur >= 0)
		return -EDEADLK; /* from inside the simulation */
	s->running = true;
	while (s->nheap && s->heap[0].t <= until) {
		struct sim_ev ev;

		if (join >= 0 && agent(s, join)->f.done)
			break;
		ev = pop(s);
		if (ev.t > s->vc.now_ns)
			s->vc.now_ns = ev.t;
		if (dispatch(s, &ev))
			s->events++;
	}
	if (join < 0 && s->vc.now_ns < until)
		s->vc.now_ns = until;
	s->running = false;
	s->host_ns += host_now() - h0;
	return join >= 0 && !agent(s, join)->f.done ? -ETIMEDOUT : 0;
}

int sim_advance(struct ghost_kenclave *ke, int64_t ns)
{
	struct sim *s = sim_of(ke);
	int err;

	if (!s || ns < 0)
		return -EINVAL;
	if (!s->started) {
		s->started = true;
		err = create_tasks(s);
		if (err)
			return err;
	}
	return run_loop(s, now(s) + ns, -1);
}

int sim_agent_join(struct ghost_kenclave *ke, int cpu)
{
	struct sim *s = sim_of(ke);
	struct sim_agent *a;

	if (!s || cpu < 0 || cpu >= s->ncpus)
		return -EINVAL;
	a = agent(s, cpu);
	if (!a->spawned || a->f.done)
		return 0;
	/* An agent that will not finish in 10 virtual seconds never will. */
	return run_loop(s, now(s) + 10 * 1000000000ll, cpu);
}

int sim_finish_workload(struct ghost_kenclave *ke)
{
	struct sim *s = sim_of(ke);
	struct emu_shared *sh;
	int err;

	if (!s)
		return -EINVAL;
	sh = ke->sh;
	if ((err = emu_lock(ke)))
		return err;
	s->finishing = true;
	s->finish_ns = now(s);
	for (uint32_t i = 0; i < s->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (!s->tasks[i].kind || (t->state != EMU_T_BLOCKED && t->state != EMU_T_RUNNABLE &&
					  t->state != EMU_T_ONCPU))
			continue;
		task_off_cpu(s, (int)i);
		emu_task_stop(ke, t, MSG_TASK_DEAD, EMU_T_DEAD);
	}
	emu_unlock(ke);
	return run_loop(s, now(s) + 100000000, -1);
}

int sim_get_results(struct ghost_kenclave *ke, struct ghost_sim_results *out)
{
	struct sim *s = sim_of(ke);
	struct emu_shared *sh;
	double busy = 0, agents = 0, top = 0;
	int64_t span;

	if (!s || !out)
		return -EINVAL;
	sh = ke->sh;
	memset(out, 0, sizeof(*out));
	/* The workload's time: its end is the moment it was told to finish. */
	span = (s->finishing ? s->finish_ns : now(s)) - s->start_ns;
	out->sim_ns = span;
	out->host_s = (double)s->host_ns / 1e9;
	out->events = s->events;
	out->trace_hash = s->hash;
	out->messages = s->msgs;
	out->commits = sh->stats.commits;
	for (int i = 0; i < 16; i++)
		out->commit_failed += sh->stats.commit_fail[i];
	out->preemptions = s->preemptions;
	out->requests = s->requests;
	out->completed = s->completed;
	out->tasks_new = s->tasks_new;
	out->tasks_ended = s->tasks_ended;
	if (s->opts.check && s->finishing)
		for (uint32_t i = 0; i < s->max_tasks; i++)
			if (s->tasks[i].kind && s->tasks[i].seen_new && !s->tasks[i].ended)
				violation(s, "task record %d never got TASK_DEAD or DEPARTED%lld",
					  (int)i, 0);
	out->violations = s->violations;
	snprintf(out->violation, sizeof(out->violation), "%s", s->violation);
	sim_hist_summary(s->opts.workload == GHOST_SIM_RPC ? &s->lat : &s->wake, &out->latency);
	sim_hist_summary(&s->wake, &out->wake_to_run);
	out->ncpus = s->ncpus;
	for (int c = 0; c < s->ncpus; c++) {
		int64_t b = s->cpu_busy[c];
		int idx = s->cpu_task[c];

		if (idx >= 0 && s->tasks[idx].oncpu == c)
			b += now(s) - s->tasks[idx].since;
		busy += (double)b;
		agents += (double)s->agents[c].busy_ns;
		if ((double)s->agents[c].busy_ns > top)
			top = (double)s->agents[c].busy_ns;
	}
	if (span > 0) {
		out->cpu_busy = busy / ((double)span * s->ncpus);
		out->agent_busy = agents / (double)span;
		out->busiest_agent = top / (double)span;
	}
	return 0;
}

/* ---- set-up ---- */

void ghost_sim_default_costs(struct ghost_sim_costs *c)
{
	/* Calibrated from ghost-bench on the development machine: docs/performance.md. */
	c->msg_ns = 600;
	c->txn_ns = 350;
	c->commit_ns = 740;
	c->loop_ns = 50;
	c->wake_ns = 3800;
	c->preempt_ns = 6300;
	c->switch_ns = 500;
	c->idle_poll_ns = 1000;
}

int sim_setup(struct ghost_kenclave *ke, const struct ghost_sim_opts *opts, int ncpus)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct ghost_sim_costs d;

	if (!s)
		return -ENOMEM;
	s->ke = ke;
	s->opts = *opts;
	s->ncpus = ncpus;
	ghost_sim_default_costs(&d);
	s->costs = opts->costs;
#define DEF(f)               \
	if (s->costs.f <= 0) \
		s->costs.f = d.f;
	DEF(msg_ns);
	DEF(txn_ns);
	DEF(commit_ns);
	DEF(loop_ns);
	DEF(wake_ns);
	DEF(preempt_ns);
	DEF(switch_ns);
	DEF(idle_poll_ns);
#undef DEF
	s->max_tasks = ke->sh->max_tasks;
	s->tasks = calloc(s->max_tasks, sizeof(*s->tasks));
	s->agents = calloc(GHOST_MAX_CPUS, sizeof(*s->agents));
	if (!s->tasks || !s->agents) {
		free(s->tasks);
		free(s->agents);
		free(s);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->max_tasks; i++)
		s->tasks[i].oncpu = -1;
	for (int c = 0; c < GHOST_MAX_CPUS; c++)
		s->cpu_task[c] = -1;
	s->idle_head = -1;
	s->cur = -1;
	s->join_cpu = -1;
	s->hash = SIM_HASH_SEED;
	sim_rng_seed(&s->rng_arrival, opts->seed, 1);
	sim_rng_seed(&s->rng_work, opts->seed, 2);
	s->vc.now_ns = s->start_ns = SIM_START_NS;
	s->vc.agent_cpu = -1;
	s->virt.wake = hook_wake;
	s->virt.preempt = hook_preempt;
	s->virt.msg = hook_msg;
	s->virt.ctx = s;
	ke->virt = &s->virt;
	push(s, now(s), SIM_EV_TICK, 0, 0);
	/* This thread lives in virtual time from now on (the agents' set-up, traces...). */
	s->saved_vc = ghost_vclock_get();
	ghost_vclock_set(&s->vc);
	return 0;
}

void sim_teardown(struct ghost_kenclave *ke)
{
	struct sim *s = sim_of(ke);

	if (!s)
		return;
	if (ghost_vclock_get() == &s->vc)
		ghost_vclock_set(s->saved_vc);
	ke->virt = NULL;
	for (int c = 0; c < GHOST_MAX_CPUS; c++)
		sim_fiber_free(&s->agents[c].f);
	for (int q = 0; q < EMU_MAX_QUEUES; q++)
		free(s->q[q].end);
	free(s->agents);
	free(s->tasks);
	free(s->heap);
	free(s->reqs);
	free(s);
}
