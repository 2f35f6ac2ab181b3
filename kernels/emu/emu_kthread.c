/*
 * kernels/emu/emu_kthread.c - the embedded kernel's periodic work, done by
 * one background thread in every process that has ghost tasks or agents.
 *
 * In every such process: the watchdog (an enclave whose agent has been gone
 * longer than agent_timeout_ms is torn down and its tasks run on as normal
 * threads; likewise runnable_timeout and ephemeral enclaves), and reaping
 * tasks whose threads died without saying so, and waking threads whose
 * wake-up was lost with a killed process. In the agent's process only:
 * CPU ticks, ghost timers, commit at tick, CPU availability, agent
 * runnability and the safety net (emu_net.c). The thread never runs user code and never blocks on anything
 * but the enclave lock and its own sleep. Above the scheduling class
 * (emu_core.c), below the task and agent sides and the namespace, which
 * register it.
 */
#include "emu.h"

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t kt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ghost_kenclave *kt_list;
static pthread_t kt_thread;
static bool kt_started;

#define WATCHDOG_NS    20000000LL /* 20 ms */
#define SCAN_NS	       50000000LL /* 50 ms */
#define AVAIL_NS       20000000LL /* 20 ms window for the steal ratio */
#define RUNNABILITY_NS 10000000LL /* 10 ms */

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/*
 * An agent went away without going offline (its process died): agent_pid
 * still names it, and nobody holds agent_online. Its enclave is reaped
 * after agent_timeout_ms even with no tasks, or its CPUs would stay taken
 * for good. (An agent that went offline cleanly, --keep, leaves an enclave
 * without tasks for the next agent.)
 */
static bool agent_died(struct emu_shared *sh, bool alive)
{
	return !alive && __atomic_load_n(&sh->agent_pid, __ATOMIC_RELAXED) != 0;
}

static void watchdog(struct ghost_kenclave *ke, int64_t now)
{
	struct emu_shared *sh = ke->sh;
	uint32_t reason = EMU_DEAD_UNKNOWN;
	bool alive, kill_it = false;

	if (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) != EMU_E_ALIVE)
		return;
	/* Someone watches: a process that finds the agent dead leaves it to us. */
	__atomic_store_n(&sh->watchdog_beat, now, __ATOMIC_RELAXED);
	alive = emu_agent_process_alive(ke);
	/* The common case needs no lock: a live agent, nothing timed. */
	if (alive && !__atomic_load_n(&sh->agent_gone_since, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&sh->ephemeral_pid, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&sh->runnable_timeout_ms, __ATOMIC_RELAXED) <= 0)
		return;
	if (emu_lock(ke))
		return;
	if (sh->state == EMU_E_ALIVE) {
		if (sh->ephemeral_pid && !pid_alive(sh->ephemeral_pid)) {
			kill_it = true;
			reason = EMU_DEAD_OWNER_EXITED;
		}
		if (alive || (sh->nr_tasks == 0 && !agent_died(sh, alive))) {
			__atomic_store_n(&sh->agent_gone_since, 0, __ATOMIC_RELAXED);
		} else if (!sh->agent_gone_since) {
			__atomic_store_n(&sh->agent_gone_since, now, __ATOMIC_RELAXED);
		} else if (now - sh->agent_gone_since >= sh->agent_timeout_ms * 1000000) {
			ghost_warn("enclave %llu: no agent for %lld ms, releasing its %u tasks",
				   (unsigned long long)sh->id, (long long)sh->agent_timeout_ms,
				   sh->nr_tasks);
			kill_it = true;
			reason = EMU_DEAD_AGENT_TIMEOUT;
		}
		if (sh->runnable_timeout_ms > 0) {
			for (uint32_t i = 0; i < sh->max_tasks && !kill_it; i++) {
				struct emu_task *t = emu_task(sh, (int)i);

				if (t->state == EMU_T_RUNNABLE &&
				    now - t->runnable_since > sh->runnable_timeout_ms * 1000000) {
					kill_it = true;
					reason = EMU_DEAD_RUNNABLE_TIMEOUT;
				}
			}
		}
		if (kill_it)
			emu_enclave_kill(ke, reason);
	}
	emu_unlock(ke);
	if (kill_it)
		emu_remove_files(ke);
}

/* Three missed passes of every watcher: nobody is left to reap. */
#define UNWATCHED_NS (5 * WATCHDOG_NS)

bool emu_reap_unwatched(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;
	int64_t now = emu_now();
	bool reaped = false;

	if (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) != EMU_E_ALIVE ||
	    !agent_died(sh, emu_agent_process_alive(ke)) ||
	    now - __atomic_load_n(&sh->watchdog_beat, __ATOMIC_RELAXED) < UNWATCHED_NS)
		return false;
	if (emu_lock(ke))
		return false;
	/* Again under the lock: an agent may have come meanwhile. */
	if (sh->state == EMU_E_ALIVE && agent_died(sh, emu_agent_process_alive(ke)) &&
	    now - sh->watchdog_beat >= UNWATCHED_NS) {
		ghost_warn("enclave %llu: its agent died and nobody is left; reaping it",
			   (unsigned long long)sh->id);
		emu_enclave_kill(ke, EMU_DEAD_AGENT_TIMEOUT);
		reaped = true;
	}
	emu_unlock(ke);
	return reaped;
}

static bool live_state(uint32_t s)
{
	return s == EMU_T_BLOCKED || s == EMU_T_RUNNABLE || s == EMU_T_ONCPU;
}

/* Tasks whose thread is gone (process killed) die now. */
static void scan_dead(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;
	bool any = false;

	/* A first pass without the enclave lock (the life locks say it all);
	 * the lock only when someone died. */
	for (uint32_t i = 0; i < sh->max_tasks && !any; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		any = live_state(__atomic_load_n(&t->state, __ATOMIC_ACQUIRE)) &&
		      emu_task_thread_dead(t);
	}
	if (!any || emu_lock(ke))
		return;
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);

		if (live_state(t->state) && emu_task_thread_dead(t))
			emu_task_reap(ke, t);
	}
	emu_unlock(ke);
}

/*
 * A thread asleep on its park word while its state says it should run: the
 * thread that changed the state was killed between releasing the lock and
 * sending the wake-up (wake-ups go out after the unlock). Nobody else would
 * ever wake it; wake it now. Lock-free: a wake-up a sleeper did not need
 * costs it one look at its state.
 */
static void heal_lost_wakes(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;

	for (int c = 0; c < (int)sh->ncpus; c++) {
		struct emu_cpu *ec = emu_cpu(sh, c);

		/* A RUNNING agent sleeps only while a task it displaced leaves. */
		if (__atomic_load_n(&ec->agent_state, __ATOMIC_ACQUIRE) == EMU_A_RUNNING &&
		    __atomic_load_n(&ec->current, __ATOMIC_ACQUIRE) < 0 &&
		    __atomic_load_n(&ec->agent_park.waiters, __ATOMIC_ACQUIRE))
			emu_park_wake(&ec->agent_park);
	}
	for (uint32_t i = 0; i < sh->max_tasks; i++) {
		struct emu_task *t = emu_task(sh, (int)i);
		uint32_t s = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);

		/* Parked threads sleep only while BLOCKED or RUNNABLE and managed
		 * (a DEAD record's thread, if it lives, runs on unmanaged). */
		if ((s == EMU_T_ONCPU || s == EMU_T_DEPARTED || s == EMU_T_DEAD ||
		     (live_state(s) &&
		      (__atomic_load_n(&t->flags, __ATOMIC_ACQUIRE) & EMU_TF_UNMANAGED))) &&
		    __atomic_load_n(&t->park.waiters, __ATOMIC_ACQUIRE))
			emu_park_wake(&t->park);
	}
}

/* Does one of this process's agent CPUs have a tick or a timer due? */
static bool ticks_due(struct ghost_kenclave *ke, int64_t now)
{
	struct emu_shared *sh = ke->sh;
	bool ticking = __atomic_load_n(&sh->deliver_ticks, __ATOMIC_RELAXED) ||
		       __atomic_load_n(&sh->commit_at_tick, __ATOMIC_RELAXED);

	for (int c = 0; c < (int)sh->ncpus; c++) {
		struct emu_cpu *ec = emu_cpu(sh, c);

		if (!__atomic_load_n(&ec->in_enclave, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&ec->agent_pid, __ATOMIC_RELAXED) != getpid())
			continue;
		if (ticking)
			return true;
		for (int i = 0; i < EMU_TIMERS_PER_CPU; i++) {
			int64_t at = __atomic_load_n(&ec->timers[i].expires, __ATOMIC_RELAXED);

			if (at && at <= now)
				return true;
		}
	}
	return false;
}

static void ticks(struct ghost_kenclave *ke, int64_t now)
{
	struct emu_shared *sh = ke->sh;

	/*
	 * The lock only when there is something to do: whoever holds it may be
	 * switched out by the host's scheduler, and everyone else then waits
	 * (the global agent's next commit among them).
	 */
	if (!ticks_due(ke, now) || emu_lock(ke))
		return;
	for (int c = 0; c < (int)sh->ncpus; c++) {
		struct emu_cpu *ec = emu_cpu(sh, c);

		if (ec->in_enclave && ec->agent_pid == getpid())
			emu_cpu_tick(ke, c, now, true);
	}
	emu_unlock(ke);
}

/* Involuntary context switches of one of our threads, -1 if unknown. */
static long nonvoluntary_switches(int tid)
{
	char path[64], line[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "nonvoluntary_ctxt_switches: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Idle ticks of every CPU from /proc/stat (USER_HZ units), -1 where unknown. */
static void read_idle_ticks(long long *idle, int ncpus)
{
	char line[512];
	FILE *f = fopen("/proc/stat", "re");

	for (int c = 0; c < ncpus; c++)
		idle[c] = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long long v[5];
		int cpu;

		if (sscanf(line, "cpu%d %lld %lld %lld %lld %lld", &cpu, &v[0], &v[1], &v[2], &v[3],
			   &v[4]) == 6 &&
		    cpu >= 0 && cpu < ncpus)
			idle[cpu] = v[3] + v[4];
	}
	fclose(f);
}

/* Every CPU this process judged busy is available again. */
static void all_available(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;

	for (int c = 0; c < (int)sh->ncpus; c++) {
		struct emu_agent_local *al = &ke->agents[c];

		if (!al->busy || emu_lock(ke))
			continue;
		emu_set_avail(ke, c, true, false);
		emu_unlock(ke);
		al->busy = false;
		al->streak = 0;
	}
}

/*
 * Is some other thread taking this CPU from us ("a higher class wants it":
 * BOOST_PRIO set, CPU_AVAIL clear)? Only with the tunable strict_classes:
 * here ghost tasks are ordinary threads, so by default other load simply
 * shares a CPU with them as it would with any thread, and nothing is taken
 * away (a heuristic that misjudged a busy neighbour would stall the
 * enclave). Strict: while the agent runs, it keeps being switched out
 * involuntarily and gets well under its share, three windows in a row. It is
 * given back after three clean windows, or, when the agent is not running
 * (nothing to judge it by), once the CPU shows idle time: nobody is waiting
 * for an idle CPU.
 */
static void availability(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;
	long long idle[GHOST_MAX_CPUS];
	int64_t wall = emu_now();
	bool idle_read = false;

	if (!__atomic_load_n(&sh->strict_classes, __ATOMIC_RELAXED)) {
		all_available(ke);
		return;
	}

	for (int c = 0; c < (int)sh->ncpus; c++) {
		struct emu_agent_local *al = &ke->agents[c];
		struct emu_cpu *ec = emu_cpu(sh, c);
		struct timespec ts;
		int64_t cpu_ns;
		long nvcsw;
		bool running, verdict = al->busy;

		if (!al->valid || clock_gettime(al->clock, &ts))
			continue;
		cpu_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		nvcsw = nonvoluntary_switches(al->tid);
		running = __atomic_load_n(&ec->agent_state, __ATOMIC_ACQUIRE) == EMU_A_RUNNING;
		if (running && al->wall_ns && wall > al->wall_ns && nvcsw >= 0) {
			int64_t share = (cpu_ns - al->cpu_ns) * 100 / (wall - al->wall_ns);
			long switched = nvcsw - al->nvcsw;
			bool stolen = share < 60 && switched >= 2;
			bool clean = share > 80 || switched == 0;

			al->streak = (al->busy ? clean : stolen) ? al->streak + 1 : 0;
			if (al->streak >= 3)
				verdict = !al->busy;
		} else if (al->busy && !running) {
			if (!idle_read) {
				read_idle_ticks(idle, (int)sh->ncpus);
				idle_read = true;
			}
			if (idle[c] >= 0 && al->idle_ticks >= 0 &&
			    wall - al->idle_wall >= 100000000) {
				/* 20% of the window idle (USER_HZ = 100). */
				if ((idle[c] - al->idle_ticks) * 10000000 * 5 >=
				    wall - al->idle_wall)
					verdict = false;
				al->idle_ticks = idle[c];
				al->idle_wall = wall;
			} else if (al->idle_ticks < 0 || !al->idle_wall) {
				al->idle_ticks = idle[c];
				al->idle_wall = wall;
			}
		}
		if (verdict != al->busy && emu_lock(ke) == 0) {
			ghost_dbg("enclave %llu: CPU %d %s", (unsigned long long)sh->id, c,
				  verdict ? "is wanted by another thread: busy"
					  : "is available again");
			emu_set_avail(ke, c, !verdict, verdict);
			emu_unlock(ke);
			al->busy = verdict;
			al->streak = 0;
			al->idle_wall = 0;
			al->idle_ticks = -1;
		}
		al->cpu_ns = cpu_ns;
		al->nvcsw = nvcsw;
		al->wall_ns = running ? wall : 0;
	}
}

/* The agent thread itself sleeping in the host kernel (not in a yield). */
static void runnability(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;

	if (!sh->deliver_agent_runnability)
		return;
	for (int c = 0; c < (int)sh->ncpus; c++) {
		struct emu_agent_local *al = &ke->agents[c];
		char path[64], buf[256], *p;
		bool blocked;
		FILE *f;

		if (!al->valid || emu_cpu(sh, c)->agent_state != EMU_A_RUNNING)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", al->tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (!p || !p[1] || !p[2])
			continue;
		blocked = p[2] == 'S' || p[2] == 'D';
		if (blocked != al->blocked && emu_lock(ke) == 0) {
			struct ghost_msg_payload_agent_blocked m = { .cpu = c };

			emu_cpu_msg(ke, c, blocked ? MSG_CPU_AGENT_BLOCKED : MSG_CPU_AGENT_WAKEUP,
				    &m, sizeof(m));
			emu_unlock(ke);
			al->blocked = blocked;
		}
	}
}

void emu_kthread_run_once(struct ghost_kenclave *ke, bool is_agent_process)
{
	int64_t now = emu_now();

	if (now - ke->last_watchdog >= WATCHDOG_NS) {
		ke->last_watchdog = now;
		watchdog(ke, now);
	}
	if (__atomic_load_n(&ke->sh->state, __ATOMIC_ACQUIRE) != EMU_E_ALIVE)
		return;
	if (now - ke->last_scan >= SCAN_NS) {
		ke->last_scan = now;
		scan_dead(ke);
		heal_lost_wakes(ke);
	}
	if (!is_agent_process)
		return;
	if (now >= ke->next_tick) {
		ke->next_tick = now + ke->sh->tick_us * 1000;
		ticks(ke, now);
	}
	if (now - ke->last_avail >= AVAIL_NS) {
		ke->last_avail = now;
		availability(ke);
	}
	if (now - ke->last_runnability >= RUNNABILITY_NS) {
		ke->last_runnability = now;
		runnability(ke);
	}
	emu_net_run(ke, now);
}

static bool wants_ticks(struct ghost_kenclave *ke)
{
	struct emu_shared *sh = ke->sh;

	if (__atomic_load_n(&ke->online_fd, __ATOMIC_ACQUIRE) < 0)
		return false;
	/* Tunables change under the shared lock, which this does not hold. */
	if (__atomic_load_n(&sh->deliver_ticks, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&sh->commit_at_tick, __ATOMIC_RELAXED))
		return true;
	for (int c = 0; c < (int)sh->ncpus; c++)
		for (int i = 0; i < EMU_TIMERS_PER_CPU; i++)
			if (emu_cpu(sh, c)->timers[i].expires)
				return true;
	return false;
}

static void *kthread_main(void *arg)
{
	sigset_t all;

	(void)arg;
	/* Signals are for the application's threads, not this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		int64_t period = 10000000; /* 10 ms */
		struct timespec ts;

		pthread_mutex_lock(&kt_lock);
		for (struct ghost_kenclave *ke = kt_list; ke; ke = ke->next) {
			int64_t tick_ns;

			emu_kthread_run_once(ke, __atomic_load_n(&ke->online_fd,
								 __ATOMIC_ACQUIRE) >= 0);
			tick_ns = __atomic_load_n(&ke->sh->tick_us, __ATOMIC_RELAXED) * 1000;
			if (wants_ticks(ke) && tick_ns < period)
				period = tick_ns;
			if (__atomic_load_n(&ke->online_fd, __ATOMIC_ACQUIRE) >= 0) {
				int64_t net_ns = emu_net_period(ke);

				if (net_ns > 0 && net_ns < period)
					period = net_ns;
			}
		}
		pthread_mutex_unlock(&kt_lock);
		ts.tv_sec = period / 1000000000;
		ts.tv_nsec = period % 1000000000;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/*
 * A forked child has no kernel thread (only the forking thread is copied), and kt_lock may
 * have been held by the parent's at the fork: the child starts its own on its next
 * registration. The registered enclaves stay: the child inherited their handles.
 */
static void kthread_forked(void)
{
	pthread_mutex_init(&kt_lock, NULL);
	kt_started = false;
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, kthread_forked);
}

int emu_kthread_register(struct ghost_kenclave *ke)
{
	static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
	int err = 0;

	pthread_once(&fork_once, watch_forks);
	pthread_mutex_lock(&kt_lock);
	if (!ke->kthread_registered) {
		ke->next = kt_list;
		kt_list = ke;
		ke->kthread_registered = true;
	}
	if (!kt_started) {
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		err = -pthread_create(&kt_thread, &a, kthread_main, NULL);
		pthread_attr_destroy(&a);
		kt_started = err == 0;
	}
	pthread_mutex_unlock(&kt_lock);
	return err;
}

/*
 * The calling thread became (attach) or stopped being cpu's agent: the
 * kernel thread watches its CPU time from now on. Under kt_lock, which the
 * kernel thread holds while it reads these fields.
 */
void emu_kthread_agent(struct ghost_kenclave *ke, int cpu, bool attach)
{
	struct emu_agent_local *al = &ke->agents[cpu];

	pthread_mutex_lock(&kt_lock);
	memset(al, 0, sizeof(*al));
	if (attach) {
		al->tid = gettid();
		al->idle_ticks = -1;
		al->valid = pthread_getcpuclockid(pthread_self(), &al->clock) == 0;
	}
	pthread_mutex_unlock(&kt_lock);
}

void emu_kthread_unregister(struct ghost_kenclave *ke)
{
	pthread_mutex_lock(&kt_lock);
	for (struct ghost_kenclave **pp = &kt_list; *pp; pp = &(*pp)->next) {
		if (*pp == ke) {
			*pp = ke->next;
			break;
		}
	}
	ke->kthread_registered = false;
	emu_net_forget(ke);
	pthread_mutex_unlock(&kt_lock);
}
