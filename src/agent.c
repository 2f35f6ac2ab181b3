/*
 * agent.c - agent threads, the full agent that owns them, and the
 * agent-process wrapper.
 *
 * Owns the lifecycle: claim the enclave (agent_online), set up the policy,
 * start one thread per enclave CPU (pinned, attached as that CPU's agent),
 * declare the enclave ready once all are attached, run the policy's loop,
 * and on stop ask every agent to finish, wake them, join them and release
 * the claim. It makes no scheduling decision and never prints.
 */
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/agent.h>
#include <ghost/channel.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/trace.h>
#include <ghost/txn.h>

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct ghost_agent {
	struct ghost_full_agent *fa;
	int cpu;
	pthread_t thread;
	bool started;
	const struct ghost_status_word *sw;
	void *policy_data;
	bool polling;	      /* see ghost_agent_set_polling; touched by its thread only */
	bool avail_at_finish; /* its CPU was available when the agents were told to finish */
	bool attached;	      /* simulated: attached by the starter, not yet running */
};

enum { AGENTS_STARTING, AGENTS_READY, AGENTS_FAILED };

struct ghost_full_agent {
	struct ghost_full_agent_opts opts;
	struct ghost_enclave *e;
	const struct ghost_policy *policy;
	void *state;
	void *owned_state;  /* policy->state_size: what was allocated (and is freed) here */
	bool init_called;   /* fini only follows an init */
	void *config;	    /* policy->config_size bytes, ours */
	int64_t started_ns; /* for the idle share of the stats line */
	/* policy->channels: PER_CPU by CPU, GLOBAL in [0] */
	struct ghost_channel *chan[GHOST_MAX_CPUS];
	struct ghost_agent *agents[GHOST_MAX_CPUS];
	int nagents;
	int finishing;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int attached;
	int attach_err;
	int phase;
	bool rt;
	bool finished; /* ghost_full_agent_finish ran: the agents are joined, the trace written */
};

int ghost_agent_cpu(const struct ghost_agent *a)
{
	return a->cpu;
}

struct ghost_enclave *ghost_agent_enclave(const struct ghost_agent *a)
{
	return a->fa->e;
}

const struct ghost_status_word *ghost_agent_status_word(const struct ghost_agent *a)
{
	return a->sw;
}

bool ghost_agent_finishing(const struct ghost_agent *a)
{
	/* Also when the enclave is gone: nothing is left to schedule. */
	return __atomic_load_n(&a->fa->finishing, __ATOMIC_ACQUIRE) || ghost_enclave_gone(a->fa->e);
}

void *ghost_agent_policy_data(const struct ghost_agent *a)
{
	return a->policy_data;
}

void ghost_agent_set_policy_data(struct ghost_agent *a, void *data)
{
	a->policy_data = data;
}

struct ghost_enclave *ghost_full_agent_enclave(const struct ghost_full_agent *fa)
{
	return fa->e;
}

const void *ghost_full_agent_policy_config(const struct ghost_full_agent *fa)
{
	/* A policy that declares no config gets what the caller handed in. */
	return fa->config ? fa->config : fa->opts.policy_config;
}

void *ghost_full_agent_policy_state(const struct ghost_full_agent *fa)
{
	return fa->state;
}

struct ghost_channel *ghost_full_agent_channel(const struct ghost_full_agent *fa, int cpu)
{
	if (!fa || cpu < 0 || cpu >= GHOST_MAX_CPUS)
		return NULL;
	return fa->chan[fa->policy->channels == GHOST_POLICY_CHANNELS_GLOBAL ? 0 : cpu];
}

struct ghost_channel *ghost_agent_channel(const struct ghost_agent *a)
{
	return a ? ghost_full_agent_channel(a->fa, a->cpu) : NULL;
}

bool ghost_full_agent_is_rt(const struct ghost_full_agent *fa)
{
	return fa->rt;
}

/* Does a simulator run e's agents (GHOST_KCAP_VIRTUAL)? */
static bool virtual_agents(const struct ghost_enclave *e)
{
	return e->ops->caps & GHOST_KCAP_VIRTUAL;
}

int ghost_agent_set_polling(struct ghost_agent *a, bool polling)
{
	struct sched_param sp = { .sched_priority = 0 };
	int r;

	if (!a)
		return -EINVAL;
	if (a->polling == polling)
		return 0;
	a->polling = polling;
	if (virtual_agents(a->fa->e))
		return 0; /* no host thread to re-prioritise */
	if (polling) {
		r = pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
		/* The strongest nice allowed: -20 with CAP_SYS_NICE, else what
		 * RLIMIT_NICE permits (nothing below 0 by default). */
		for (int nice = -20; nice < 0; nice++)
			if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice) == 0)
				break;
		return -r;
	}
	setpriority(PRIO_PROCESS, (id_t)gettid(), 0);
	if (!a->fa->rt)
		return 0;
	sp.sched_priority = 1;
	return -pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

void ghost_agent_relax(struct ghost_agent *a)
{
	struct ghost_enclave *e = a ? a->fa->e : NULL;

	/* Simulated: nothing changes until the simulation's next event. */
	if (e && virtual_agents(e)) {
		e->ops->agent_step(e->k, a->cpu, true);
		return;
	}
	/* Under EEVDF a yield moves our deadline past the waiting threads'. */
	sched_yield();
}

/* The agent outranks every ghost task of its CPU: real-time where allowed. */
static bool set_agent_priority(enum ghost_agent_prio prio)
{
	struct sched_param sp = { .sched_priority = 1 };

	if (prio == GHOST_AGENT_PRIO_NORMAL)
		return false;
	return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
}

static void report(struct ghost_full_agent *fa, int err)
{
	pthread_mutex_lock(&fa->lock);
	if (err && !fa->attach_err)
		fa->attach_err = err;
	fa->attached++;
	pthread_cond_broadcast(&fa->cond);
	pthread_mutex_unlock(&fa->lock);
}

/* Attaches agent a to its CPU (in its own thread, or the starter's when simulated). */
static int agent_setup(struct ghost_agent *a)
{
	struct ghost_full_agent *fa = a->fa;
	struct ghost_enclave *e = fa->e;
	struct ghost_sw_info info;
	int q = -1, err;

	if (!virtual_agents(e)) {
		ghost_trace_set_thread_cpu(a->cpu); /* its records go to its CPU's ring */
		if (set_agent_priority(fa->opts.prio))
			__atomic_store_n(&fa->rt, true, __ATOMIC_RELAXED);
		else if (fa->opts.prio == GHOST_AGENT_PRIO_RT)
			return -EPERM;
	}
	if (fa->policy->channels == GHOST_POLICY_CHANNELS_PER_CPU && fa->chan[a->cpu])
		q = fa->chan[a->cpu]->qid;
	if (fa->policy->agent_queue) {
		q = fa->policy->agent_queue(fa->state, a);
		if (q < -1)
			return q;
	}
	err = e->ops->agent_attach(e->k, a->cpu, q);
	if (!err) {
		err = ghost_sw_agent_info(e, a->cpu, &info);
		if (!err) {
			a->sw = ghost_sw_lookup(e, &info);
			if (!a->sw)
				err = -errno;
		}
		if (err)
			e->ops->agent_detach(e->k, a->cpu);
	}
	if (err) {
		ghost_err("agent of CPU %d could not attach: %s", a->cpu, ghost_strerror(err));
		return err;
	}
	__atomic_store_n(&e->agents[a->cpu], a, __ATOMIC_RELEASE);
	return 0;
}

/* The policy's loop until finishing (and the policy agrees), then detach. */
static void agent_body(struct ghost_agent *a, bool run)
{
	struct ghost_full_agent *fa = a->fa;
	struct ghost_enclave *e = fa->e;
	bool sim = virtual_agents(e);

	if (run) {
		if (fa->policy->agent_start)
			fa->policy->agent_start(fa->state, a);
		while (!(ghost_agent_finishing(a) && (!fa->policy->agent_may_exit ||
						      fa->policy->agent_may_exit(fa->state, a)))) {
			fa->policy->agent_loop(fa->state, a);
			/* Simulated, an iteration takes virtual time. */
			if (sim)
				e->ops->agent_step(e->k, a->cpu, false);
		}
	}
	__atomic_store_n(&e->agents[a->cpu], NULL, __ATOMIC_RELEASE);
	e->ops->agent_detach(e->k, a->cpu);
}

static void agent_sim_main(void *arg)
{
	agent_body(arg, true);
}

static void *agent_main(void *arg)
{
	struct ghost_agent *a = arg;
	struct ghost_full_agent *fa = a->fa;
	int err, phase;

	err = agent_setup(a);
	report(fa, err);
	if (err)
		return NULL;

	pthread_mutex_lock(&fa->lock);
	while (fa->phase == AGENTS_STARTING)
		pthread_cond_wait(&fa->cond, &fa->lock);
	phase = fa->phase;
	pthread_mutex_unlock(&fa->lock);

	agent_body(a, phase == AGENTS_READY);
	return NULL;
}

static void stop_agents(struct ghost_full_agent *fa)
{
	__atomic_store_n(&fa->finishing, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&fa->lock);
	if (fa->phase == AGENTS_STARTING)
		fa->phase = AGENTS_FAILED;
	pthread_cond_broadcast(&fa->cond);
	pthread_mutex_unlock(&fa->lock);
	for (int i = 0; i < fa->nagents; i++) {
		struct ghost_agent *a = fa->agents[i];

		if (!a->started) {
			if (a->attached) /* simulated, never run: only detach */
				agent_body(a, false);
			a->attached = false;
			continue;
		}
		if (virtual_agents(fa->e)) {
			/* Woken, it finishes in the simulation, which runs until then. */
			ghost_txn_ping(fa->e, a->cpu);
			fa->e->ops->agent_join(fa->e->k, a->cpu);
			a->started = a->attached = false;
			continue;
		}
		/* Wake it from a local yield or a local commit, until it is gone. */
		for (;;) {
			struct timespec ts;

			if (pthread_tryjoin_np(a->thread, NULL) == 0)
				break;
			ghost_txn_ping(fa->e, a->cpu);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 2000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(a->thread, NULL, &ts) == 0)
				break;
		}
		a->started = false;
	}
}

static void full_agent_free(struct ghost_full_agent *fa)
{
	for (int i = 0; i < fa->nagents; i++)
		free(fa->agents[i]);
	if (fa->init_called && fa->state && fa->policy->fini)
		fa->policy->fini(fa->state);
	if (fa->owned_state) {
		if (fa->policy->sched_ops)
			ghost_sched_fini((struct ghost_sched *)fa->owned_state);
		free(fa->owned_state);
	}
	for (int cpu = 0; cpu < GHOST_MAX_CPUS; cpu++)
		if (fa->chan[cpu])
			ghost_channel_destroy(fa->chan[cpu]);
	free(fa->config);
	pthread_mutex_destroy(&fa->lock);
	pthread_cond_destroy(&fa->cond);
	free(fa);
}

/* The policy's config: the caller's copy, or every default; CPUs it names are the enclave's. */
static int setup_config(struct ghost_full_agent *fa)
{
	const struct ghost_policy *p = fa->policy;
	const struct ghost_policy_param *pp;
	char value[32];
	int err;

	if (!p->config_size)
		return 0;
	fa->config = calloc(1, p->config_size);
	if (!fa->config)
		return -ENOMEM;
	if (fa->opts.policy_config)
		memcpy(fa->config, fa->opts.policy_config, p->config_size);
	else if ((err = ghost_policy_config_defaults(p, fa->config)))
		return err;
	pp = ghost_policy_cpu_outside(p, fa->config, &fa->e->cpus);
	if (pp) {
		ghost_policy_param_format(pp, fa->config, value, sizeof(value));
		ghost_err("policy %s: %s=%s is not one of the enclave's CPUs", p->name, pp->name,
			  value);
		return -EINVAL;
	}
	return 0;
}

/* The channels the library makes for the policy (struct ghost_policy's channels). */
static int setup_channels(struct ghost_full_agent *fa)
{
	const struct ghost_policy *p = fa->policy;
	const struct ghost_policy_param *qp = ghost_policy_param_find(p, "queue_elems");
	int64_t elems = GHOST_MAX_QUEUE_ELEMS;
	int cpu, err = 0;

	/* (ghost_policy_check refused any other value of channels.) */
	if (p->channels == GHOST_POLICY_CHANNELS_OWN)
		return 0;
	if (qp && qp->type == GHOST_PARAM_INT)
		memcpy(&elems, (char *)fa->config + qp->offset, sizeof(elems));
	if (elems < 1 || elems > INT32_MAX)
		return -EINVAL;
	if (p->channels == GHOST_POLICY_CHANNELS_GLOBAL) {
		err = ghost_channel_create(fa->e, (int)elems, 0, &fa->chan[0]);
		/* Polled by the global agent: nobody is woken for its messages. */
		if (!err)
			err = ghost_channel_config_wakeup(fa->chan[0], NULL, 0);
		return err ? err : ghost_channel_set_default(fa->chan[0]);
	}
	ghost_cpuset_for_each(cpu, &fa->e->cpus) {
		err = ghost_channel_create(fa->e, (int)elems, 0, &fa->chan[cpu]);
		if (!err)
			err = ghost_channel_config_wakeup(fa->chan[cpu], &cpu, 1);
		if (err)
			return err;
	}
	return ghost_channel_set_default(fa->chan[ghost_cpuset_first(&fa->e->cpus)]);
}

/* The state the library owns for the policy, and its scheduler base. */
static int setup_state(struct ghost_full_agent *fa)
{
	const struct ghost_policy *p = fa->policy;

	if (!p->state_size)
		return 0;
	fa->state = fa->owned_state = calloc(1, p->state_size);
	if (!fa->state)
		return -ENOMEM;
	if (!p->sched_ops)
		return 0;
	return ghost_sched_init((struct ghost_sched *)fa->state, fa->e, p->sched_ops, fa->state,
				p->task_size);
}

static bool agent_cpu_available(const struct ghost_agent *a);

/* The agents have stopped: the trace, if any, goes to its file and recording ends. */
static int trace_finish(struct ghost_full_agent *fa)
{
	int n;

	if (!fa->opts.trace_path)
		return 0;
	n = ghost_trace_save(fa->e, fa->opts.trace_path);
	if (n < 0 && n != -ENOENT)
		ghost_err("cannot write the trace %s: %s", fa->opts.trace_path, ghost_strerror(n));
	ghost_trace_stop(fa->e);
	return n == -ENOENT ? 0 : n;
}

/* Recording from the start, with an empty trace written at once (a bad path fails here). */
static int trace_begin(struct ghost_full_agent *fa)
{
	struct ghost_trace_opts to = { .sz = sizeof(to), .size = fa->opts.trace_size };
	int err;

	if (!fa->opts.trace_path)
		return 0;
	err = ghost_trace_start(fa->e, &to);
	if (err) {
		ghost_err("cannot record a trace of enclave %llu: %s%s",
			  (unsigned long long)fa->e->id, ghost_strerror(err),
			  err == -EINVAL ? " (a size under the smallest, 4096 bytes?)" : "");
		return err;
	}
	err = ghost_trace_save(fa->e, fa->opts.trace_path);
	if (err < 0) {
		ghost_err("cannot write the trace %s: %s", fa->opts.trace_path,
			  ghost_strerror(err));
		ghost_trace_stop(fa->e);
		return err;
	}
	return 0;
}

int ghost_full_agent_start(const struct ghost_full_agent_opts *user_opts,
			   struct ghost_full_agent **out)
{
	struct ghost_full_agent_opts o, *opts = &o;
	struct ghost_full_agent *fa;
	struct ghost_enclave *e;
	char why[256];
	int err, ncpus;

	if (!user_opts || !out)
		return -EINVAL;
	err = ghost_opts_copy(&o, sizeof(o), user_opts);
	if (err)
		return err;
	if (!opts->enclave || !opts->policy)
		return -EINVAL;
	err = ghost_policy_check(opts->policy, why, sizeof(why));
	if (err) {
		ghost_err("%s", why);
		return err;
	}
	e = opts->enclave;
	ncpus = ghost_cpuset_count(&e->cpus);
	if (opts->policy->min_cpus > 1 && (uint32_t)ncpus < opts->policy->min_cpus) {
		ghost_err("policy %s needs at least %u CPUs and enclave %llu has %d",
			  opts->policy->name, opts->policy->min_cpus, (unsigned long long)e->id,
			  ncpus);
		return -EINVAL;
	}
	fa = calloc(1, sizeof(*fa));
	if (!fa)
		return -ENOMEM;
	fa->opts = *opts;
	fa->e = e;
	fa->policy = opts->policy;
	fa->started_ns = ghost_now_ns();
	pthread_mutex_init(&fa->lock, NULL);
	pthread_cond_init(&fa->cond, NULL);
	err = setup_config(fa);
	if (err) {
		full_agent_free(fa);
		return err;
	}

	err = ghost_enclave_agent_online(e);
	if (err) {
		if (err == -EBUSY)
			ghost_err("enclave %llu already has an agent", (unsigned long long)e->id);
		full_agent_free(fa);
		return err;
	}
	err = trace_begin(fa);
	if (err) {
		ghost_enclave_agent_offline(e);
		full_agent_free(fa);
		return err;
	}
	/* A failed init may leave its state set: full_agent_free gives it to fini. */
	err = setup_channels(fa);
	if (!err)
		err = setup_state(fa);
	if (!err) {
		fa->init_called = true;
		err = fa->policy->init(fa, &fa->state);
	}
	if (fa->owned_state && fa->state != fa->owned_state) {
		/* What it put there is not ours to free; fini gets the library's state. */
		ghost_err("policy %s: init replaced *state, which the library allocated "
			  "(state_size): it must leave it as it found it",
			  fa->policy->name);
		fa->state = fa->owned_state;
		err = -EINVAL;
	}
	if (err)
		goto fail;
	int cpu;

	ghost_cpuset_for_each(cpu, &e->cpus) {
		struct ghost_agent *a = calloc(1, sizeof(*a));

		if (!a) {
			err = -ENOMEM;
			goto fail;
		}
		a->fa = fa;
		a->cpu = cpu;
		fa->agents[fa->nagents++] = a;
	}
	for (int i = 0; i < fa->nagents; i++) {
		struct ghost_agent *a = fa->agents[i];

		if (virtual_agents(e)) {
			/* Attached here; they run once the simulation runs. */
			err = agent_setup(a);
			if (!err)
				a->attached = true;
			report(fa, err);
			continue;
		}
		err = -pthread_create(&a->thread, NULL, agent_main, a);
		if (err) {
			report(fa, err);
			continue;
		}
		a->started = true;
	}
	pthread_mutex_lock(&fa->lock);
	while (fa->attached < fa->nagents)
		pthread_cond_wait(&fa->cond, &fa->lock);
	err = fa->attach_err;
	pthread_mutex_unlock(&fa->lock);
	if (!err && fa->policy->enclave_ready)
		err = fa->policy->enclave_ready(fa->state);
	if (!err && opts->take_over && fa->policy->sched_ops) {
		/* Taking over a live enclave: the kernel re-sends each task's TASK_NEW. */
		int n = ghost_sched_discover((struct ghost_sched *)fa->state);

		err = n < 0 ? n : 0;
	}
	for (int i = 0; !err && virtual_agents(e) && i < fa->nagents; i++) {
		struct ghost_agent *a = fa->agents[i];

		err = e->ops->agent_spawn(e->k, a->cpu, agent_sim_main, a);
		if (!err)
			a->started = true;
	}
	if (err)
		goto fail;
	pthread_mutex_lock(&fa->lock);
	fa->phase = AGENTS_READY;
	pthread_cond_broadcast(&fa->cond);
	pthread_mutex_unlock(&fa->lock);
	*out = fa;
	return 0;

fail:
	stop_agents(fa);
	trace_finish(fa);
	ghost_enclave_agent_offline(e);
	full_agent_free(fa);
	return err;
}

int ghost_full_agent_finish(struct ghost_full_agent *fa)
{
	if (!fa)
		return -EINVAL;
	if (fa->finished)
		return 0;
	for (int i = 0; i < fa->nagents; i++)
		fa->agents[i]->avail_at_finish = agent_cpu_available(fa->agents[i]);
	fa->finished = true;
	stop_agents(fa);
	return trace_finish(fa);
}

int ghost_full_agent_stop(struct ghost_full_agent *fa)
{
	int n;

	if (!fa)
		return -EINVAL;
	n = ghost_full_agent_finish(fa);
	ghost_enclave_agent_offline(fa->e);
	full_agent_free(fa);
	return n < 0 ? n : 0;
}

static void count_waiting(struct ghost_task *t, void *ctx)
{
	uint32_t flags = t->sw ? __atomic_load_n(&t->sw->flags, __ATOMIC_ACQUIRE) : 0;

	*(uint32_t *)ctx += (flags & GHOST_SW_TASK_RUNNABLE) && !(flags & GHOST_SW_TASK_ONCPU);
}

/* The tasks waiting for a CPU: the policy's count, else its tasks' status words'. Under s->lock. */
static uint32_t policy_runnable(struct ghost_full_agent *fa, struct ghost_sched *s)
{
	uint32_t n = 0;

	if (fa->policy->runnable)
		return fa->policy->runnable(fa->state);
	ghost_task_table_for_each(&s->tasks, count_waiting, &n);
	return n;
}

/* No higher class wants the CPU of agent a (its word says CPU_AVAIL; once the
 * agents are finished, as it said then: a detached agent's word says nothing). */
static bool agent_cpu_available(const struct ghost_agent *a)
{
	if (a && a->fa->finished)
		return a->avail_at_finish;
	return a && a->sw && ghost_sw_cpu_available(a->sw);
}

/*
 * The generic stats line of a policy whose base the library owns (under the
 * base's lock): tasks, runnable, commits and failures by reason, messages by
 * kind, the idle share of what the tasks ran since the start, CPUs available.
 */
static int format_generic(struct ghost_full_agent *fa, struct ghost_sched *s, char *buf, size_t len)
{
	static const struct {
		uint16_t type;
		const char *name;
	} kinds[] = {
		{ MSG_TASK_NEW, "new" },	   { MSG_TASK_WAKEUP, "wakeup" },
		{ MSG_TASK_BLOCKED, "blocked" },   { MSG_TASK_PREEMPT, "preempt" },
		{ MSG_TASK_YIELD, "yield" },	   { MSG_TASK_DEAD, "dead" },
		{ MSG_TASK_DEPARTED, "departed" }, { MSG_CPU_TICK, "tick" },
	};
	struct ghost_txn_counts c;
	int64_t now = ghost_now_ns();
	uint64_t busy, wall;
	uint32_t runnable = policy_runnable(fa, s);
	size_t pos = 0;
	int n, navail = 0;

	ghost_txn_get_counts(fa->e, &c);
	for (int i = 0; i < fa->nagents; i++)
		navail += agent_cpu_available(fa->agents[i]);
	/* Since the agent started: what its tasks ran (including tasks it took
	 * over, which may have run before), against its CPUs' time. */
	busy = ghost_sched_task_runtime_ns(s, now);
	wall = (uint64_t)(now - fa->started_ns) * (uint64_t)(fa->nagents ? fa->nagents : 1);
#define APPEND(...)                                              \
	do {                                                     \
		n = snprintf(buf + pos, len - pos, __VA_ARGS__); \
		if (n < 0 || (size_t)n >= len - pos)             \
			return -ENOSPC;                          \
		pos += (size_t)n;                                \
	} while (0)
	APPEND("tasks %u runnable %u commits ok %llu failed %llu", s->tasks.count, runnable,
	       (unsigned long long)c.succeeded, (unsigned long long)(c.committed - c.succeeded));
	for (int i = 1; i < 16; i++)
		if (c.failed[i])
			APPEND(" %s %llu", ghost_txn_reason(GHOST_TXN_COMPLETE + i),
			       (unsigned long long)c.failed[i]);
	APPEND(" | msgs");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		APPEND(" %s %llu", kinds[i].name, (unsigned long long)s->stats.msgs[kinds[i].type]);
	APPEND(" | idle %.1f%% | cpus available %d/%d | seqnum_errors %llu bad_msgs %llu",
	       wall && busy < wall ? 100.0 * (1.0 - (double)busy / (double)wall) : 0.0, navail,
	       fa->nagents, (unsigned long long)s->stats.seqnum_errors,
	       (unsigned long long)s->stats.bad_msgs);
	if (fa->policy->format_stats) {
		APPEND(" | ");
		n = fa->policy->format_stats(fa->state, buf + pos, len - pos);
		/* A length that does not fit (snprintf's) is -ENOSPC too, never past len. */
		if (n < 0 || (size_t)n >= len - pos)
			return -ENOSPC;
		if (n == 0)
			buf[pos -= 3] = 0; /* nothing of its own: no separator */
		pos += (size_t)n;
	}
#undef APPEND
	return (int)pos;
}

int ghost_full_agent_format_stats(struct ghost_full_agent *fa, char *buf, size_t len)
{
	struct ghost_sched *s;
	int n;

	if (!fa || !buf || !len)
		return -EINVAL;
	buf[0] = 0;
	if (fa->policy->sched_ops && fa->state) {
		s = fa->state;
		pthread_mutex_lock(&s->lock);
		n = format_generic(fa, s, buf, len);
		pthread_mutex_unlock(&s->lock);
		return n;
	}
	if (!fa->policy->format_stats)
		return 0;
	return fa->policy->format_stats(fa->state, buf, len);
}

int ghost_full_agent_stats(struct ghost_full_agent *fa, struct ghost_agent_stats *out)
{
	if (!fa || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (fa->policy->sched_ops && fa->state) {
		struct ghost_sched *s = fa->state;

		pthread_mutex_lock(&s->lock);
		ghost_sched_fill_stats(s, &out->policy);
		out->policy.runnable = policy_runnable(fa, s);
		pthread_mutex_unlock(&s->lock);
	} else if (fa->policy->get_stats) {
		fa->policy->get_stats(fa->state, &out->policy);
	}
	ghost_txn_get_counts(fa->e, &out->txn);
	for (int i = 0; i < fa->nagents; i++) {
		struct ghost_agent *a = fa->agents[i];

		if (!a)
			continue;
		ghost_cpuset_set(&out->cpus, a->cpu);
		if (agent_cpu_available(a))
			ghost_cpuset_set(&out->available, a->cpu);
	}
	out->now_ns = ghost_now_ns();
	return 0;
}

/* ---- the agent process ---- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

#define KERNEL_CHECK_NS 250000000LL
#define STALL_CHECK_NS	1000000000LL

/*
 * Work waits and nothing ran for a whole check interval: no task got a CPU
 * and no commit succeeded. Said once per stall (which CPUs no other thread
 * leaves to ghost, the commonest failure), and once when it ends; a policy
 * that runs tasks without ever switching them is not stalled.
 */
struct stall_watch {
	struct ghost_agent_stats last;
	bool have_last, stalled;
	int64_t since;
};

static void watch_stall(struct ghost_full_agent *fa, struct stall_watch *w)
{
	struct ghost_agent_stats now;
	char avail[256], cpus[256];
	const uint64_t *f0, *f1;
	int worst = -1;
	bool stuck;

	if (ghost_full_agent_stats(fa, &now))
		return;
	if (!w->have_last) {
		w->last = now;
		w->have_last = true;
		return;
	}
	/* Under a tenth of a millisecond of task time is nothing running. */
	stuck = now.policy.runnable > 0 && w->last.policy.runnable > 0 &&
		now.txn.succeeded == w->last.txn.succeeded &&
		now.policy.task_runtime_ns - w->last.policy.task_runtime_ns < 100000;
	if (stuck && !w->stalled) {
		f0 = w->last.txn.failed;
		f1 = now.txn.failed;
		for (int i = 1; i < 16; i++)
			if (f1[i] > f0[i] && (worst < 0 || f1[i] - f0[i] > f1[worst] - f0[worst]))
				worst = i;
		ghost_cpuset_format_list(&now.cpus, cpus, sizeof(cpus));
		ghost_cpuset_format_list(&now.available, avail, sizeof(avail));
		if (!ghost_cpuset_count(&now.available))
			snprintf(avail, sizeof(avail),
				 "none: other threads want them (tunable "
				 "strict_classes)");
		ghost_warn(
			"nothing scheduled for %.1f s while %u task(s) wait; CPUs %s, available to "
			"ghost: %s; commits: %s%s",
			(double)(now.now_ns - w->last.now_ns) / 1e9, now.policy.runnable, cpus,
			avail, worst < 0 ? "none failed" : "failing with ",
			worst < 0 ? "" : ghost_txn_reason(GHOST_TXN_COMPLETE + worst));
		w->stalled = true;
		w->since = w->last.now_ns;
	} else if (!stuck && w->stalled) {
		if (now.policy.runnable)
			ghost_warn("scheduling again after %.1f s",
				   (double)(now.now_ns - w->since) / 1e9);
		else
			ghost_warn(
				"no task waits any more, after %.1f s in which none was scheduled",
				(double)(now.now_ns - w->since) / 1e9);
		w->stalled = false;
	}
	w->last = now;
}

/* A kernel side that can stop by itself (the sched_ext scheduler unloaded by its
 * watchdog or by "ghostctl destroy", an embedded enclave reaped) says so. */
static bool kernel_side_stopped(struct ghost_enclave *e)
{
	return ghost_enclave_exit_state(e, NULL, 0) == 1;
}

int ghost_agent_process_run(struct ghost_full_agent *fa, int interval_ms,
			    void (*tick)(struct ghost_full_agent *fa, void *ctx), void *ctx,
			    volatile int *stop)
{
	struct sigaction sa, old_int, old_term;
	int64_t next, next_check = 0, next_stall;
	struct stall_watch stall = { .have_last = false };
	bool gone = false;

	if (!fa)
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* Cleared before the handler goes in: a signal that comes in between
	 * must not be forgotten. */
	got_signal = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	next = interval_ms > 0 ? ghost_now_ns() + (int64_t)interval_ms * 1000000 : 0;
	next_stall = ghost_now_ns();
	/* *stop may be set by any thread (or a signal handler): an atomic read. */
	while (!got_signal && !(stop && __atomic_load_n(stop, __ATOMIC_RELAXED))) {
		poll(NULL, 0, 20);
		/* Simulated: 20 ms of virtual time pass in as much of ours. */
		if (virtual_agents(fa->e))
			fa->e->ops->advance(fa->e->k, 20000000);
		if (ghost_now_ns() >= next_stall) {
			next_stall = ghost_now_ns() + STALL_CHECK_NS;
			watch_stall(fa, &stall);
		}
		if (next && ghost_now_ns() >= next) {
			next += (int64_t)interval_ms * 1000000;
			if (tick)
				tick(fa, ctx);
		}
		/* Gone: a commit said so (at once), or the kernel side stopped by
		 * itself (looked at every KERNEL_CHECK_NS). */
		if (ghost_enclave_gone(fa->e)) {
			gone = true;
			break;
		}
		if (ghost_now_ns() >= next_check) {
			next_check = ghost_now_ns() + KERNEL_CHECK_NS;
			if (kernel_side_stopped(fa->e)) {
				gone = true;
				break;
			}
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return gone ? -ENOTCONN : got_signal;
}
