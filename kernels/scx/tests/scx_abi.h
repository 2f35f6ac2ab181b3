/*
 * kernels/scx/tests/scx_abi.h - the fixture of the scx_abi_* programs, which check the ghOSt
 * ABI on the sched_ext backend one verdict each, driven by hand through the public libghost
 * API (no policy). It owns the enclave, its agents, the reading of its one channel, the
 * children the messages are about and the helpers the programs' steps share; it decides no
 * program's verdict beyond the checks every program makes (below), and never reaches the
 * library's backend other than through the public API.
 *
 * A program defines PROG, its name, includes this, and calls abi_start(n), its own steps
 * (each opened with begin(), failing with die()), then abi_finish(). abi_start(n):
 *   - skips (exit 77) without sched_ext in this kernel, without root, with fewer than 4 CPUs,
 *     or with a library built without the sched_ext backend (make SCX=1); the "scx" backend's
 *     probe must pass, and the state read "disabled" (a previous program's scheduler may
 *     still be on its way out);
 *   - forks n children (child A, then child B): each answers 'r', then blocks reading its
 *     command pipe and, for each byte, does one thing and answers 'k' ('e' if that failed):
 *     'w' nothing (only the wake-up), 'y' sched_yield, 's' usleep 20 ms, 'a'
 *     sched_setaffinity to CPUs 2-3, 'n' setpriority nice 5, 'o' sched_setscheduler
 *     SCHED_OTHER, 'b' a busy loop until the next byte, 'x' and 'q' exit 0;
 *   - creates an enclave on the "scx" kernel over CPUs 1-3 (its backend must be named "scx")
 *     with one channel (the default queue, polled, no wake-ups): the state must read
 *     "enabled"; makes the main thread the SCHED_FIFO agent of CPU 1 (pinned there, its word
 *     IS_AGENT) and two threads the agents of CPUs 2 and 3 (their words IS_AGENT), which sit
 *     in local yield;
 *   - moves child A, asleep in read(), in (step_enter; child B when the program says):
 *     TASK_NEW with runnable 0 for a gtid of the child's pid, policy SCHED_EXT, a status
 *     word with that gtid, INUSE, not RUNNABLE, ONCPU, IS_AGENT or CANFREE, and no other
 *     message while it sleeps.
 * abi_finish(): the state still "enabled", the agents stop, the enclave is destroyed and
 * closed, the state must read "disabled"; then the line "PROG: passed: ...".
 * Every commit is a remote one from CPU 1's agent; a commit of a runnable child refused with
 * GHOST_TXN_CPU_UNAVAIL, while a thread of a higher class such as a kernel worker has the CPU
 * for a moment, is tried again.
 * Throughout, every program checks every message it reads (drain()): it is well formed and
 * for one of the children; each child's seqnums strictly increase (the rule of the
 * library's scheduler base), its status word's barrier is never behind the last message
 * read, the ring never overflows; every CPU message is for an enclave CPU with an agent, and
 * its seqnum is never ahead of the barrier of that CPU's agent. Every wait has a time limit
 * (WAIT_MS for one message, STEP_MS for a step, TIMEOUT_S for the program); a failure names
 * the step, what was missing and the messages that came instead.
 *
 * Everything here is static inline: a program that does not use a helper does not get it.
 * Exit status of a program: 0 passed, 1 failed, 77 skipped.
 */
#ifndef GHOST_SCX_ABI_H
#define GHOST_SCX_ABI_H

#include "../../../tests/test.h"

/* note, die, the sched_ext state, fork and wait: shared with scx_errors.c. */
#include "scx_test.h"

#include <ghost/ghost.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SCHED_EXT
#define SCHED_EXT 7
#endif

#define ENCLAVE_CPUS "1-3"
#define AGENT_CPU    1 /* the main thread is its agent */
#define LAST_CPU     3 /* ENCLAVE_CPUS = AGENT_CPU-LAST_CPU */
#define TARGET_CPU   2 /* where the child is committed unless a step says otherwise */
#define BUSY_CPU     3 /* no ghost task, its agent asleep: taken while idle */
#define QUEUE_SLOTS  1024
#define WAIT_MS	     5000  /* one message, one state change */
#define STEP_MS	     15000 /* one whole step */
#define TIMEOUT_S    150   /* the whole program */
#define MAX_LOG	     256
#define MAX_CPU_LOG  64
#define BUSY_TRIES   5 /* commits (or groups) to a CPU a higher class may hold */
#define N(a)	     ((int)(sizeof(a) / sizeof((a)[0])))

/* A gtid no task can have: the largest tid (above any pid_max), generation 1. */
#define BOGUS_GTID ((int64_t)(((int64_t)1 << GHOST_GTID_PID_BITS) - 1) << GHOST_GTID_SEQ_BITS | 1)

/* ---- state ----------------------------------------------------------------------------------- */

static struct ghost_enclave *E;
static struct ghost_channel *C;
static const struct ghost_status_word *agent_sw[GHOST_MAX_CPUS];
static char g_step[160] = "start";
static bool g_finished; /* exit without the failure report */
static long g_task_msgs, g_cpu_msgs;
static pid_t g_hog;	       /* the SCHED_OTHER process of the CPU-availability steps */
static long g_unavail_commits; /* commits refused with CPU_UNAVAIL (retried) */

/* The CPU messages read: counts by CPU and type, the last few in order. */
enum { CM_TICK, CM_AVAILABLE, CM_BUSY, CM_OTHER, CM_KINDS };
static long cpu_count[GHOST_MAX_CPUS][CM_KINDS];
static struct cpu_rec {
	uint16_t type;
	int cpu;
} cpu_log[MAX_CPU_LOG];
static long cpu_nlog;				/* CPU messages logged in all (cpu_log wraps) */
static uint16_t cpu_last_avail[GHOST_MAX_CPUS]; /* CPU_AVAILABLE or CPU_BUSY, 0 none yet */

/* One child process and what the messages said about it. */
struct child {
	const char *name;
	pid_t pid;    /* 0 before it is forked, negative once reaped */
	int cmd_fd;   /* write end of its command pipe */
	int ack_fd;   /* read end of its answers (non-blocking) */
	int64_t gtid; /* from TASK_NEW; 0 before */
	struct ghost_sw_info swi;
	const struct ghost_status_word *sw;
	uint32_t seq;		     /* seqnum of the last message read for it */
	int new_runnable;	     /* TASK_NEW's runnable */
	bool runnable, on_cpu, gone; /* as the messages tell */
	bool latched;		     /* committed, and no message since */
	int on_cpu_cpu;		     /* from the last TASK_ON_CPU */
	int nice;		     /* from the last TASK_PRIORITY_CHANGED */
	int commits;
	int nlog;
	uint16_t log[MAX_LOG]; /* every message type read for it */
};

/* Child A moves in at the start; child B, if a program forks it, when the program says. */
static struct child child_a = { .name = "child A", .nice = -100 };
static struct child child_b = { .name = "child B", .nice = -100 };
static struct child *const children[] = { &child_a, &child_b };

struct agent_thread {
	int cpu;
	pthread_t th;
	int err;
	uint32_t ready;
	uint32_t stop;
};

static struct agent_thread agents[] = { { .cpu = 2 }, { .cpu = 3 } };

#define LOAD(x)	    __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* ---- reporting ------------------------------------------------------------------------------- */

static inline void begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void begin(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_step, sizeof(g_step), fmt, ap);
	va_end(ap);
	note("step: %s", g_step);
}

static inline const char *msg_name(uint16_t type)
{
	const char *n = ghost_msg_type_name(type);

	return strncmp(n, "MSG_", 4) ? n : n + 4;
}

/* The names of c's messages from index `from` on, space-separated. */
static inline const char *log_text(const struct child *c, int from)
{
	static char buf[4096];
	size_t pos = 0;

	buf[0] = 0;
	for (int i = from < 0 ? 0 : from; i < c->nlog && pos < sizeof(buf) - 40; i++)
		pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos, "%s%s", pos ? " " : "",
					msg_name(c->log[i]));
	return pos ? buf : "(none)";
}

/* The last CPU messages read, oldest first ("TICK/2 BUSY/2 ..."). */
static inline const char *cpu_log_text(void)
{
	static char buf[2048];
	long first = cpu_nlog > MAX_CPU_LOG ? cpu_nlog - MAX_CPU_LOG : 0;
	size_t pos = 0;

	buf[0] = 0;
	for (long i = first; i < cpu_nlog && pos < sizeof(buf) - 40; i++) {
		const struct cpu_rec *r = &cpu_log[i % MAX_CPU_LOG];
		const char *n = msg_name(r->type);

		if (!strncmp(n, "CPU_", 4))
			n += 4;
		pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos, "%s%s/%d", pos ? " " : "", n,
					r->cpu);
	}
	return pos ? buf : "(none)";
}

/* At a failing exit (CHECK macros too): where it was and what the children had seen. */
static inline void report_at_exit(void)
{
	if (g_finished)
		return;
	fprintf(stderr, PROG ": failed in step \"%s\"\n", g_step);
	for (int i = 0; i < N(children); i++) {
		const struct child *c = children[i];

		if (c->pid)
			fprintf(stderr, PROG ":   %s (pid %d, gtid %" PRId64 "): %s\n", c->name,
				(int)(c->pid < 0 ? -c->pid : c->pid), c->gtid, log_text(c, 0));
	}
	if (cpu_nlog)
		fprintf(stderr, PROG ":   the last CPU messages: %s\n", cpu_log_text());
}

/* At exit: the children and the SCHED_OTHER process, if they still run. */
static inline void kill_processes(void)
{
	for (int i = 0; i < N(children); i++)
		if (children[i]->pid > 0)
			kill(children[i]->pid, SIGKILL);
	if (g_hog > 0)
		kill(g_hog, SIGKILL);
}

static inline void on_alarm(int sig)
{
	static const char a[] = "FAIL " PROG ": timed out in step \"";
	static const char b[] = "\"\n";

	(void)sig;
	if (write(2, a, sizeof(a) - 1) < 0 || write(2, g_step, strlen(g_step)) < 0 ||
	    write(2, b, sizeof(b) - 1) < 0)
		_exit(1);
	_exit(1);
}

static inline void skip(const char *why)
{
	note("skipped: %s", why);
	g_finished = true;
	exit(TEST_SKIP);
}

/* ---- the children ---------------------------------------------------------------------------- */

/*
 * The child: answers 'r' once, then for each command byte read from the pipe does one thing
 * and answers 'k' (or 'e' if it failed, with a line on stderr).
 */
static inline void __attribute__((noreturn)) child_main(int cmd_fd, int ack_fd)
{
	char cmd, r;

	if (write(ack_fd, "r", 1) != 1)
		_exit(2);
	for (;;) {
		if (read(cmd_fd, &cmd, 1) != 1)
			_exit(3);
		r = 'k';
		switch (cmd) {
		case 'w': /* only the wake-up */
			break;
		case 'y':
			sched_yield();
			break;
		case 's':
			usleep(20000);
			break;
		case 'a': {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(2, &set);
			CPU_SET(3, &set);
			if (sched_setaffinity(0, sizeof(set), &set)) {
				perror(PROG " child: sched_setaffinity 2-3");
				r = 'e';
			}
			break;
		}
		case 'n':
			if (setpriority(PRIO_PROCESS, 0, 5)) {
				perror(PROG " child: setpriority 5");
				r = 'e';
			}
			break;
		case 'o': {
			struct sched_param sp = { 0 };

			if (sched_setscheduler(0, SCHED_OTHER, &sp)) {
				perror(PROG " child: sched_setscheduler SCHED_OTHER");
				r = 'e';
			}
			break;
		}
		case 'b': { /* busy on its CPU, no blocking, until the next byte */
			struct pollfd p = { .fd = cmd_fd, .events = POLLIN };
			volatile uint64_t sink = 0;

			do {
				for (uint64_t i = 0; i < 20000; i++)
					sink += i;
			} while (poll(&p, 1, 0) == 0);
			if (read(cmd_fd, &cmd, 1) != 1)
				_exit(3);
			break;
		}
		case 'x':
		case 'q':
			_exit(0);
		default:
			r = 'e';
			break;
		}
		if (write(ack_fd, &r, 1) != 1)
			_exit(4);
	}
}

/* The next answer of the child: its byte, 0 if none yet, -1 if the pipe closed. */
static inline int try_ack(struct child *c)
{
	char r;
	ssize_t n = read(c->ack_fd, &r, 1);

	if (n == 1)
		return (unsigned char)r;
	if (n == 0)
		return -1;
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		die("reading %s's answers: %s", c->name, strerror(errno));
	return 0;
}

static inline int wait_ack(struct child *c, int ms)
{
	struct pollfd p = { .fd = c->ack_fd, .events = POLLIN };
	int64_t end = ghost_now_ns() + (int64_t)ms * 1000000;
	int a;

	while (!(a = try_ack(c))) {
		if (ghost_now_ns() > end)
			die("%s did not answer within %d ms", c->name, ms);
		poll(&p, 1, 10);
	}
	return a;
}

/* Forks the child; it answers 'r' and blocks reading its first command. */
static inline void spawn_child(struct child *c)
{
	int cmd[2], ack[2];

	CHECK(pipe(cmd) == 0 && pipe(ack) == 0);
	c->pid = fork_child();
	if (c->pid == 0) {
		/* Only its own pipes stay open. */
		for (int i = 0; i < N(children); i++) {
			if (children[i] != c && children[i]->pid) {
				close(children[i]->cmd_fd);
				close(children[i]->ack_fd);
			}
		}
		close(cmd[1]);
		close(ack[0]);
		child_main(cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	c->cmd_fd = cmd[1];
	c->ack_fd = ack[0];
	CHECK(fcntl(c->ack_fd, F_SETFL, O_NONBLOCK) == 0);
	if (wait_ack(c, WAIT_MS) != 'r')
		die("%s did not start", c->name);
}

/* The process state letter of /proc/PID/stat ('S' sleeping, 'R' running...), 0 if none. */
static inline char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static inline void wait_sleeping(struct child *c)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

	while (proc_state(c->pid) != 'S') {
		if (ghost_now_ns() > end)
			die("%s (pid %d) is not asleep in read() after %d ms (state '%c')", c->name,
			    (int)c->pid, WAIT_MS, proc_state(c->pid));
		usleep(1000);
	}
}

static inline void send_cmd(struct child *c, char cmd)
{
	if (write(c->cmd_fd, &cmd, 1) != 1)
		die("writing command '%c' to %s: %s", cmd, c->name, strerror(errno));
}

static inline void reap(struct child *c)
{
	int st;
	pid_t r = wait_exit(c->pid, WAIT_MS, &st);

	if (r == 0)
		die("%s (pid %d) did not exit within %d ms (state '%c')", c->name, (int)c->pid,
		    WAIT_MS, proc_state(c->pid));
	if (r != c->pid)
		die("waitpid(%s): %s", c->name, strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("%s ended with status 0x%x, expected exit 0", c->name, st);
	c->pid = -c->pid; /* reaped: nothing to kill */
	close(c->cmd_fd);
	close(c->ack_fd);
}

/* ---- reading the channel --------------------------------------------------------------------- */

/* The child a task message is about (TASK_NEW: for a tid of its pid), NULL if none. */
static inline struct child *child_of(int64_t gtid, uint16_t type)
{
	for (int i = 0; i < N(children); i++)
		if (children[i]->gtid && children[i]->gtid == gtid)
			return children[i];
	if (type != MSG_TASK_NEW)
		return NULL;
	for (int i = 0; i < N(children); i++)
		if (!children[i]->gtid && children[i]->pid > 0 &&
		    ghost_gtid_to_tid(gtid) == children[i]->pid)
			return children[i];
	return NULL;
}

/* Books one task message for c: the seqnum rule, the barrier, the model of its state. */
static inline void take(struct child *c, const struct ghost_msg *m)
{
	uint32_t barrier;

	if (c->gone)
		die("%s for %s after it left the enclave (messages: %s)", msg_name(m->type),
		    c->name, log_text(c, 0));
	if (m->type == MSG_TASK_NEW) {
		struct ghost_msg_payload_task_new p;

		if (c->gtid)
			die("a second TASK_NEW for %s", c->name);
		ghost_msg_copy_payload(m, &p, sizeof(p));
		c->gtid = (int64_t)p.gtid;
		c->swi = p.sw_info;
		c->new_runnable = p.runnable;
		c->runnable = p.runnable;
		c->sw = ghost_sw_lookup(E, &c->swi);
		if (!c->sw)
			die("TASK_NEW of %s: no status word at region %u index %u: %s", c->name,
			    c->swi.id, c->swi.index, strerror(errno));
		if (ghost_sw_gtid(c->sw) != c->gtid)
			die("TASK_NEW of %s: its status word has gtid %" PRId64
			    ", the message %" PRId64,
			    c->name, ghost_sw_gtid(c->sw), c->gtid);
	} else if ((int32_t)(m->seqnum - c->seq) <= 0) {
		die("%s for %s: seqnum %u after %u (seqnums must strictly increase)",
		    msg_name(m->type), c->name, m->seqnum, c->seq);
	}
	c->seq = m->seqnum;
	barrier = ghost_sw_barrier(c->sw);
	if ((int32_t)(barrier - m->seqnum) < 0)
		die("%s for %s: seqnum %u but the status word's barrier is %u (behind it)",
		    msg_name(m->type), c->name, m->seqnum, barrier);
	if (c->nlog < MAX_LOG)
		c->log[c->nlog++] = m->type;
	c->latched = false;
	switch (m->type) {
	case MSG_TASK_NEW:
		break;
	case MSG_TASK_WAKEUP:
	case MSG_TASK_YIELD:
	case MSG_TASK_PREEMPT:
	case MSG_TASK_LATCH_FAILURE:
		c->runnable = true;
		c->on_cpu = false;
		break;
	case MSG_TASK_BLOCKED:
		c->runnable = false;
		c->on_cpu = false;
		break;
	case MSG_TASK_ON_CPU: {
		struct ghost_msg_payload_task_on_cpu p;

		ghost_msg_copy_payload(m, &p, sizeof(p));
		c->on_cpu = true;
		c->on_cpu_cpu = p.cpu;
		if (p.commit_time == 0)
			die("TASK_ON_CPU of %s has no commit_time", c->name);
		break;
	}
	case MSG_TASK_AFFINITY_CHANGED:
		break;
	case MSG_TASK_PRIORITY_CHANGED: {
		struct ghost_msg_payload_task_priority_changed p;

		ghost_msg_copy_payload(m, &p, sizeof(p));
		c->nice = p.nice;
		break;
	}
	case MSG_TASK_DEAD:
	case MSG_TASK_DEPARTED:
		c->gone = true;
		c->runnable = false;
		c->on_cpu = false;
		break;
	default:
		die("unexpected message %s (type %u) for %s", msg_name(m->type), m->type, c->name);
	}
}

/* Books one CPU message: for an enclave CPU with an agent, not ahead of its barrier. */
static inline void take_cpu(const struct ghost_msg *m)
{
	struct ghost_msg_payload_cpu_tick p = { .cpu = -1 }; /* every CPU payload starts with cpu */
	int kind;

	ghost_msg_copy_payload(m, &p, sizeof(p.cpu));
	if (p.cpu < AGENT_CPU || p.cpu > LAST_CPU)
		die("%s for CPU %d, not an enclave CPU (" ENCLAVE_CPUS ")", msg_name(m->type),
		    p.cpu);
	if (!agent_sw[p.cpu])
		die("%s for CPU %d, which has no agent", msg_name(m->type), p.cpu);
	if ((int32_t)(ghost_sw_barrier(agent_sw[p.cpu]) - m->seqnum) < 0)
		die("%s for CPU %d: seqnum %u but the agent's barrier is %u (behind it)",
		    msg_name(m->type), p.cpu, m->seqnum, ghost_sw_barrier(agent_sw[p.cpu]));
	switch (m->type) {
	case MSG_CPU_TICK:
		kind = CM_TICK;
		break;
	case MSG_CPU_AVAILABLE:
		kind = CM_AVAILABLE;
		cpu_last_avail[p.cpu] = m->type;
		break;
	case MSG_CPU_BUSY:
		kind = CM_BUSY;
		cpu_last_avail[p.cpu] = m->type;
		break;
	default:
		kind = CM_OTHER;
		break;
	}
	cpu_count[p.cpu][kind]++;
	cpu_log[cpu_nlog % MAX_CPU_LOG] = (struct cpu_rec){ .type = m->type, .cpu = p.cpu };
	cpu_nlog++;
}

/* Reads every message there is. */
static inline void drain(void)
{
	const struct ghost_msg *m;
	uint32_t lost;

	while ((m = ghost_channel_peek(C))) {
		struct child *c;
		int64_t gtid;

		if (!ghost_channel_msg_valid(C, m))
			die("malformed message: type %u length %u", m->type, m->length);
		if (ghost_msg_is_cpu(m->type)) {
			take_cpu(m);
			g_cpu_msgs++;
		} else if (ghost_msg_is_task(m->type)) {
			gtid = ghost_msg_gtid(m);
			c = child_of(gtid, m->type);
			if (!c)
				die("%s for gtid %" PRId64 " (tid %" PRId64
				    "), none of the children",
				    msg_name(m->type), gtid, ghost_gtid_to_tid(gtid));
			take(c, m);
			g_task_msgs++;
		} else {
			die("message of unknown type %u (length %u)", m->type, m->length);
		}
		ghost_channel_consume(C, m);
	}
	lost = ghost_channel_overflow(C);
	if (lost)
		die("the ring overflowed: %u messages lost", lost);
}

/* Waits for a message of this type for c at log index >= from; returns its index. */
static inline int wait_msg(struct child *c, uint16_t type, int from)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

	for (;;) {
		drain();
		for (int i = from; i < c->nlog; i++)
			if (c->log[i] == type)
				return i;
		if (ghost_now_ns() > end)
			die("no %s for %s within %d ms; came instead: %s", msg_name(type), c->name,
			    WAIT_MS, log_text(c, from));
		usleep(200);
	}
}

/* Drains until c's status word barrier is the seqnum of the last message read for it. */
static inline void sync_barrier(struct child *c)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

	for (;;) {
		drain();
		if (ghost_sw_barrier(c->sw) == c->seq)
			return;
		if (ghost_now_ns() > end)
			die("%s's status word barrier is %u, but the last message read for it has "
			    "seqnum %u (no message for the difference within %d ms)",
			    c->name, ghost_sw_barrier(c->sw), c->seq, WAIT_MS);
		usleep(200);
	}
}

/* c wakes (command 'w') and waits runnable: TASK_WAKEUP arrives, its barrier is read. */
static inline void wake_runnable(struct child *c)
{
	int from = c->nlog;

	send_cmd(c, 'w');
	wait_msg(c, MSG_TASK_WAKEUP, from);
	sync_barrier(c);
}

/* The expected messages came in this order (others may come in between). */
static inline void check_sequence(const struct child *c, int from, const uint16_t *want, int n)
{
	int i = from;

	for (int w = 0; w < n; w++, i++) {
		while (i < c->nlog && c->log[i] != want[w])
			i++;
		if (i >= c->nlog)
			die("%s: no %s after %s; the messages of this step: %s", c->name,
			    msg_name(want[w]), w ? msg_name(want[w - 1]) : "the command",
			    log_text(c, from));
	}
}

/* c's last TASK_ON_CPU is for cpu, where it was committed. */
static inline void expect_ran_on(const struct child *c, int cpu)
{
	if (c->on_cpu_cpu != cpu)
		die("TASK_ON_CPU of %s says CPU %d; it was committed to CPU %d", c->name,
		    c->on_cpu_cpu, cpu);
}

/* c has left the enclave, and `type` (TASK_DEPARTED or TASK_DEAD) is its last message. */
static inline void expect_left_with(const struct child *c, uint16_t type)
{
	if (c->log[c->nlog - 1] != type)
		die("%s left with %s, expected %s", c->name, msg_name(c->log[c->nlog - 1]),
		    msg_name(type));
}

/* Before a step that starts with c blocked: not runnable, not on a CPU, not latched. */
static inline void expect_blocked(const struct child *c)
{
	if (c->runnable || c->on_cpu || c->latched)
		die("%s is not blocked before the step: runnable %d, on CPU %d, latched %d",
		    c->name, c->runnable, c->on_cpu, c->latched);
}

/* ---- transactions ---------------------------------------------------------------------------- */

/* The flags of cpu's agent word, as text. */
static inline const char *avail_text(int cpu)
{
	static char buf[64];
	uint32_t f = ghost_sw_flags(agent_sw[cpu]);

	snprintf(buf, sizeof(buf), "0x%x (CPU_AVAIL %d, BOOST_PRIO %d)", f,
		 !!(f & GHOST_SW_CPU_AVAIL), !!(f & GHOST_SW_BOOST_PRIO));
	return buf;
}

/* A txn state as text: READY, "claimed by CPU n" while a kernel commits it, else its outcome. */
static inline const char *txn_text(int32_t s)
{
	static char buf[32];

	if (s == GHOST_TXN_READY)
		return "READY";
	if (s >= 0) {
		snprintf(buf, sizeof(buf), "claimed by CPU %d", (int)s);
		return buf;
	}
	return ghost_txn_reason(s);
}

/*
 * Opens cpu's txn from this (CPU 1's) agent, for the sync group of owner (or none, -1); any
 * error fails the program.
 */
static inline struct ghost_txn *open_txn_owned(int cpu, int64_t gtid, uint32_t barrier,
					       uint16_t run_flags, uint8_t commit_flags, int owner)
{
	struct ghost_txn *txn = ghost_enclave_txn(E, cpu);
	struct ghost_txn_opts o = {
		.target = gtid,
		.target_barrier = barrier,
		.agent_barrier = ghost_sw_barrier(agent_sw[cpu]),
		.commit_flags = commit_flags,
		.run_flags = run_flags,
		.sync_group = owner >= 0,
		.sync_group_owner = owner,
	};
	int r;

	if (!txn)
		die("no txn for CPU %d", cpu);
	r = ghost_txn_open(E, cpu, &o);
	if (r)
		die("ghost_txn_open(CPU %d, sync group owner %d): %s", cpu, owner, strerror(-r));
	if (owner >= 0 && __atomic_load_n(&txn->u.sync_group_owner, __ATOMIC_ACQUIRE) != owner)
		die("the txn of CPU %d opened for sync group owner %d has owner %d", cpu, owner,
		    (int)txn->u.sync_group_owner);
	return txn;
}

static inline struct ghost_txn *open_txn(int cpu, int64_t gtid, uint32_t barrier,
					 uint16_t run_flags, uint8_t commit_flags)
{
	return open_txn_owned(cpu, gtid, barrier, run_flags, commit_flags, -1);
}

/* Opens and commits cpu's txn for gtid at barrier, from this (CPU 1's) agent; its final state. */
static inline int32_t commit_to(int cpu, int64_t gtid, uint32_t barrier)
{
	int64_t before = ghost_now_ns();
	struct ghost_txn *txn = open_txn(cpu, gtid, barrier, SEND_TASK_ON_CPU, 0);
	uint64_t seq0 = txn->cpu_seqnum;
	int32_t s;
	int r;

	r = ghost_txn_commit(E, cpu);
	if (r < 0)
		die("ghost_txn_commit(CPU %d): %s", cpu, strerror(-r));
	s = ghost_txn_state(txn);
	if ((r == 1) != (s == GHOST_TXN_COMPLETE))
		die("ghost_txn_commit(CPU %d) returned %d but the txn's state is %s", cpu, r,
		    ghost_txn_reason(s));
	if (txn->commit_time < before)
		die("the txn of CPU %d ended in %s without a commit_time", cpu,
		    ghost_txn_reason(s));
	if (s == GHOST_TXN_COMPLETE && txn->cpu_seqnum <= seq0)
		die("a complete txn of CPU %d left cpu_seqnum at %" PRIu64, cpu, txn->cpu_seqnum);
	return s;
}

/* c is runnable, off CPU, not latched, and its status word's barrier read: ready for a commit. */
static inline bool committable(const struct child *c)
{
	return c->runnable && !c->on_cpu && !c->latched && ghost_sw_barrier(c->sw) == c->seq;
}

/*
 * Commits c to cpu if it is committable(); then it is latched. A commit refused with
 * CPU_UNAVAIL (a higher class holds the CPU for a moment) is counted in *refused, to be tried
 * again in a later round; any other failure fails the program.
 */
static inline void commit_ready(struct child *c, int cpu, long *refused)
{
	int32_t s;

	if (!committable(c))
		return;
	s = commit_to(cpu, c->gtid, c->seq);
	if (s == GHOST_TXN_CPU_UNAVAIL) {
		(*refused)++;
		return;
	}
	if (s != GHOST_TXN_COMPLETE)
		die("commit of %s to CPU %d (runnable, off CPU, task barrier %u, status word "
		    "barrier %u): expected %s, got %s; agent word of CPU %d %s; the CPU messages: "
		    "%s",
		    c->name, cpu, c->seq, ghost_sw_barrier(c->sw),
		    ghost_txn_reason(GHOST_TXN_COMPLETE), ghost_txn_reason(s), cpu, avail_text(cpu),
		    cpu_log_text());
	c->latched = true;
	c->commits++;
}

/*
 * One round of a step that waits for c: reads its answer, then drains the channel. Returns
 * whether it answered 'k' (its command done). Fails if c says its command failed ('e'),
 * answers anything else, or, unless it may leave in this step (may_leave), closes its pipe
 * or leaves the enclave (then its messages from index `from` on are shown).
 */
static inline bool child_round(struct child *c, int from, bool may_leave)
{
	int a = try_ack(c);

	if (a == 'e')
		die("%s says its command failed (its message is above)", c->name);
	if (a == -1 && !may_leave)
		die("%s closed its pipe (exited?)", c->name);
	if (a > 0 && a != 'k')
		die("%s answered '%c'", c->name, a);
	/* After the answer: any message from before it is in the ring by now. */
	drain();
	if (c->gone && !may_leave)
		die("%s left the enclave in this step; its messages: %s", c->name,
		    log_text(c, from));
	return a == 'k';
}

enum step_end {
	END_BLOCKED, /* the child answered and blocks reading its next command */
	END_GONE,    /* TASK_DEAD or TASK_DEPARTED */
};

/*
 * Schedules c until the step ends: whenever it is runnable, off CPU and not latched, commits
 * it to TARGET_CPU with its current barrier (which must succeed, or be refused with
 * CPU_UNAVAIL while a higher class holds the CPU: tried again in a later round). Returns
 * whether the child answered its command.
 */
static inline bool run_until(struct child *c, enum step_end end_at, int from)
{
	int64_t end = ghost_now_ns() + (int64_t)STEP_MS * 1000000;
	bool answered = false;

	for (;;) {
		if (child_round(c, from, end_at == END_GONE))
			answered = true;
		if (end_at == END_BLOCKED && answered && !c->runnable)
			return answered;
		if (end_at == END_GONE && c->gone)
			return answered;
		if (ghost_now_ns() > end)
			die("the step did not end within %d ms: %s %s, runnable %d, on CPU %d, "
			    "latched %d, %d commits, status word barrier %u after seqnum %u; its "
			    "messages: %s; %ld commits refused with CPU_UNAVAIL in all; the agent of "
			    "CPU %d (thread state '%c') has the word %s; the CPU messages: %s",
			    STEP_MS, c->name, answered ? "answered" : "did not answer", c->runnable,
			    c->on_cpu, c->latched, c->commits, ghost_sw_barrier(c->sw), c->seq,
			    log_text(c, from), g_unavail_commits, TARGET_CPU,
			    proc_state(
				    (pid_t)ghost_gtid_to_tid(ghost_sw_gtid(agent_sw[TARGET_CPU]))),
			    avail_text(TARGET_CPU), cpu_log_text());
		commit_ready(c, TARGET_CPU, &g_unavail_commits);
		usleep(200);
	}
}

/* The txn of cpu ended in want, with a commit_time not before `since`. */
static inline void expect_state(int cpu, int32_t want, int64_t since, const char *what)
{
	const struct ghost_txn *txn = ghost_enclave_txn(E, cpu);
	int32_t s = ghost_txn_state(txn);

	if (s != want)
		die("%s: the txn of CPU %d is %s, expected %s", what, cpu, txn_text(s),
		    ghost_txn_reason(want));
	if (txn->commit_time < since)
		die("%s: the txn of CPU %d ended in %s without a commit_time", what, cpu,
		    txn_text(s));
}

/*
 * Schedules c on cpu until it answers and blocks reading its next command: whenever it is
 * runnable, off CPU and not latched, commits it there (which must succeed, or be refused with
 * CPU_UNAVAIL while a higher class holds the CPU for a moment: tried again in a later round).
 * Returns how many commits were refused.
 */
static inline long run_on(struct child *c, int cpu, int from)
{
	int64_t end = ghost_now_ns() + (int64_t)STEP_MS * 1000000;
	bool answered = false;
	long refused = 0;

	for (;;) {
		if (child_round(c, from, false))
			answered = true;
		if (answered && !c->runnable)
			return refused;
		if (ghost_now_ns() > end)
			die("%s did not run on CPU %d within %d ms: %s, runnable %d, on CPU %d, "
			    "latched %d, %ld commits refused with CPU_UNAVAIL; agent word of CPU %d "
			    "%s; its messages: %s; the CPU messages: %s",
			    c->name, cpu, STEP_MS, answered ? "answered" : "did not answer",
			    c->runnable, c->on_cpu, c->latched, refused, cpu, avail_text(cpu),
			    log_text(c, from), cpu_log_text());
		commit_ready(c, cpu, &refused);
		usleep(200);
	}
}

/*
 * c, sent a command or woken, is scheduled on TARGET_CPU until it blocks again (run_until):
 * its messages from index `from` on hold want in that order, and it ran on TARGET_CPU.
 */
static inline void run_to_block(struct child *c, int from, const uint16_t *want, int n)
{
	run_until(c, END_BLOCKED, from);
	check_sequence(c, from, want, n);
	expect_ran_on(c, TARGET_CPU);
}

/*
 * c was committed to cpu (and the commit went through): its TASK_ON_CPU for cpu comes (at log
 * index >= since), then it is scheduled there until it blocks (run_on); its messages from
 * index `from` on hold want in that order. Returns how many commits run_on saw refused.
 */
static inline long run_committed(struct child *c, int cpu, int from, int since,
				 const uint16_t *want, int n)
{
	long refused;

	wait_msg(c, MSG_TASK_ON_CPU, since);
	expect_ran_on(c, cpu);
	refused = run_on(c, cpu, from);
	check_sequence(c, from, want, n);
	return refused;
}

/* The thread of cpu's agent sleeps (in local yield, on its doorbell). */
static inline void wait_agent_asleep(int cpu)
{
	pid_t tid = (pid_t)ghost_gtid_to_tid(ghost_sw_gtid(agent_sw[cpu]));
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

	while (proc_state(tid) != 'S') {
		if (ghost_now_ns() > end)
			die("the agent of CPU %d (tid %d) is not asleep after %d ms (state '%c')",
			    cpu, (int)tid, WAIT_MS, proc_state(tid));
		drain();
		usleep(1000);
	}
}

/* ---- a spinning child and the CPU messages --------------------------------------------------- */

/*
 * One round of scheduling c while it spins: reads its answer (it gives none while it spins),
 * drains, and commits it to TARGET_CPU whenever it is runnable, off CPU and not latched. A
 * commit refused because a higher class holds the CPU (CPU_UNAVAIL) is tried again in a
 * later round; any other failure is one.
 */
static inline void serve_spinning(struct child *c)
{
	if (child_round(c, 0, false))
		die("%s answered '%c' while it should spin", c->name, 'k');
	if (!c->runnable)
		die("%s is not runnable while it spins; its messages: %s", c->name, log_text(c, 0));
	commit_ready(c, TARGET_CPU, &g_unavail_commits);
}

/* Keeps c spinning for ms. */
static inline void spin_for(struct child *c, int ms)
{
	int64_t end = ghost_now_ns() + (int64_t)ms * 1000000;

	while (ghost_now_ns() < end) {
		serve_spinning(c);
		usleep(200);
	}
}

/* c starts spinning on TARGET_CPU: TASK_WAKEUP, TASK_ON_CPU; no CPU_TICK (deliver_ticks 0). */
static inline void step_spin_start(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU };
	int64_t end = ghost_now_ns() + (int64_t)STEP_MS * 1000000;
	int from = c->nlog;

	begin("%s spins on CPU %d (deliver_ticks 0: no CPU_TICK)", c->name, TARGET_CPU);
	send_cmd(c, 'b');
	while (!c->on_cpu) {
		if (ghost_now_ns() > end)
			die("%s is not on CPU %d after %d ms: runnable %d, latched %d, %d commits; "
			    "its messages: %s",
			    c->name, TARGET_CPU, STEP_MS, c->runnable, c->latched, c->commits,
			    log_text(c, from));
		serve_spinning(c);
		usleep(200);
	}
	check_sequence(c, from, want, N(want));
	expect_ran_on(c, TARGET_CPU);
	spin_for(c, 200);
	for (int cpu = AGENT_CPU; cpu <= LAST_CPU; cpu++)
		if (cpu_count[cpu][CM_TICK])
			die("%ld CPU_TICK for CPU %d while deliver_ticks is 0; the CPU messages: %s",
			    cpu_count[cpu][CM_TICK], cpu, cpu_log_text());
}

/* c stops spinning and blocks reading its next command: TASK_BLOCKED. */
static inline void step_spin_stop(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_BLOCKED };
	int from = c->nlog;

	begin("%s stops spinning -> TASK_BLOCKED", c->name);
	send_cmd(c, '.');
	run_to_block(c, from, want, N(want));
}

static inline void set_tunable(enum ghost_tunable t, long long v)
{
	long long got = -1;
	int err = ghost_enclave_set_tunable(E, t, v);

	if (err)
		die("setting %s to %lld: %s", ghost_tunable_name(t), v, strerror(-err));
	err = ghost_enclave_get_tunable(E, t, &got);
	if (err)
		die("reading %s back: %s", ghost_tunable_name(t), strerror(-err));
	if (got != v)
		die("%s reads %lld after setting it to %lld", ghost_tunable_name(t), got, v);
}

static inline bool cpu_avail(int cpu)
{
	uint32_t f = ghost_sw_flags(agent_sw[cpu]);

	return (f & GHOST_SW_CPU_AVAIL) && !(f & GHOST_SW_BOOST_PRIO);
}

static inline bool cpu_busy(int cpu)
{
	uint32_t f = ghost_sw_flags(agent_sw[cpu]);

	return !(f & GHOST_SW_CPU_AVAIL) && (f & GHOST_SW_BOOST_PRIO);
}

/*
 * An ordinary process (SCHED_OTHER, not in the enclave) pinned to cpu that spins until it
 * is killed (at most a minute), or this program ends however it ends: it must not take the
 * CPU from the next program.
 */
static inline pid_t spawn_hog(int cpu)
{
	pid_t pid = fork_child();

	if (pid == 0) {
		struct sched_param sp = { 0 };
		struct timespec t0, t;
		volatile uint64_t sink = 0;
		cpu_set_t set;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
			_exit(5);
		/* It inherits the agent's SCHED_FIFO and CPU: the normal class first. */
		if (sched_setscheduler(0, SCHED_OTHER, &sp)) {
			perror(PROG " hog: sched_setscheduler SCHED_OTHER");
			_exit(2);
		}
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror(PROG " hog: sched_setaffinity");
			_exit(3);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (uint64_t i = 0; i < 100000; i++)
				sink += i;
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (t.tv_sec - t0.tv_sec < 60);
		_exit(0);
	}
	return pid;
}

/* The hog pinned to cpu has not died on its own (it fails only if it could not set itself up). */
static inline void check_hog(int cpu)
{
	int st;

	if (g_hog > 0 && waitpid(g_hog, &st, WNOHANG) == g_hog) {
		g_hog = 0;
		die("the SCHED_OTHER process pinned to CPU %d ended by itself (status 0x%x)", cpu,
		    st);
	}
}

/* One round of waiting on a CPU: serves c if it spins there (not NULL), else drains. */
static inline void cpu_round(struct child *spinning)
{
	if (spinning)
		serve_spinning(spinning);
	else
		drain();
	usleep(200);
}

/* Before a CPU-availability step: the word of cpu's agent has CPU_AVAIL without BOOST_PRIO. */
static inline void wait_cpu_avail_before(int cpu, struct child *spinning)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

	while (!cpu_avail(cpu)) {
		if (ghost_now_ns() > end)
			die("the word of CPU %d's agent has flags %s before the step, expected "
			    "CPU_AVAIL without BOOST_PRIO",
			    cpu, avail_text(cpu));
		cpu_round(spinning);
	}
}

/*
 * deliver_cpu_availability 1, then waits until the word of cpu's agent has CPU_AVAIL with the
 * CPU messages drained: *busy0 and *avail0 are the counts after which a step's CPU_BUSY and
 * CPU_AVAILABLE are new. A higher class that takes the CPU at any moment (a kernel worker
 * waking there) sends CPU_BUSY, which is either counted after them or makes the loop wait
 * for CPU_AVAILABLE again: the step never starts on a CPU already busy unannounced.
 */
static inline void deliver_avail_from(int cpu, struct child *spinning, long *busy0, long *avail0)
{
	set_tunable(GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY, 1);
	for (;;) {
		wait_cpu_avail_before(cpu, spinning);
		cpu_round(spinning);
		*busy0 = cpu_count[cpu][CM_BUSY];
		*avail0 = cpu_count[cpu][CM_AVAILABLE];
		/* set_avail changes the word and sends the message under one lock: a change after
		 * this read is a message not drained yet. */
		if (cpu_avail(cpu))
			return;
	}
}

/*
 * Waits until cpu is as `type` (MSG_CPU_BUSY or MSG_CPU_AVAILABLE) says: such messages beyond
 * the counts from before the hog (busy0, avail0), the last of CPU_BUSY/CPU_AVAILABLE is one,
 * and the agent's word agrees (BOOST_PRIO without CPU_AVAIL, or the other way round). The hog,
 * if it still runs, must not end meanwhile. `when`: what happened before.
 */
static inline void wait_cpu_state(int cpu, uint16_t type, long busy0, long avail0,
				  struct child *spinning, const char *when)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	bool busy = type == MSG_CPU_BUSY;

	while ((busy ? cpu_count[cpu][CM_BUSY] == busy0 : cpu_count[cpu][CM_AVAILABLE] == avail0) ||
	       cpu_last_avail[cpu] != type || !(busy ? cpu_busy(cpu) : cpu_avail(cpu))) {
		if (ghost_now_ns() > end)
			die("%s, but %d ms later: %ld CPU_BUSY and %ld CPU_AVAILABLE for CPU %d "
			    "since the SCHED_OTHER process started, the last of "
			    "CPU_BUSY/CPU_AVAILABLE is %s, its agent's word %s (expected %s); the "
			    "CPU messages: %s",
			    when, WAIT_MS, cpu_count[cpu][CM_BUSY] - busy0,
			    cpu_count[cpu][CM_AVAILABLE] - avail0, cpu,
			    cpu_last_avail[cpu] ? msg_name(cpu_last_avail[cpu]) : "none",
			    avail_text(cpu),
			    busy ? "CPU_BUSY, BOOST_PRIO without CPU_AVAIL"
				 : "CPU_AVAILABLE, CPU_AVAIL without BOOST_PRIO",
			    cpu_log_text());
		check_hog(cpu);
		cpu_round(spinning);
	}
}

/* Kills the hog, which holds cpu: sched_ext has the CPU again (wait_cpu_state). */
static inline void stop_hog(int cpu, long busy0, long avail0, struct child *spinning)
{
	int st;

	kill(g_hog, SIGKILL);
	if (waitpid(g_hog, &st, 0) != g_hog)
		die("waitpid(hog): %s", strerror(errno));
	g_hog = 0;
	wait_cpu_state(cpu, MSG_CPU_AVAILABLE, busy0, avail0, spinning,
		       "the SCHED_OTHER process exited");
}

/* ---- the enclave and its agents -------------------------------------------------------------- */

static inline int set_fifo(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

/* The agent of a CPU the child is sent to: attached, then in local yield until stopped. */
static inline void *agent_main(void *arg)
{
	struct agent_thread *a = arg;
	struct ghost_sw_info info;
	const struct ghost_status_word *sw = NULL;
	int err;

	err = set_fifo();
	if (err) {
		a->err = -err;
		STORE(a->ready, 1);
		return NULL;
	}
	a->err = ghost_enclave_agent_attach(E, a->cpu, C);
	if (!a->err && !(a->err = ghost_sw_agent_info(E, a->cpu, &info))) {
		sw = ghost_sw_lookup(E, &info);
		if (!sw)
			a->err = -errno;
	}
	if (a->err) {
		STORE(a->ready, 1);
		return NULL;
	}
	agent_sw[a->cpu] = sw;
	STORE(a->ready, 1);
	while (!LOAD(a->stop)) {
		err = ghost_txn_local_yield(E, a->cpu, ghost_sw_barrier(sw), 0);
		if (err && err != -ESTALE) {
			a->err = err;
			break;
		}
	}
	ghost_enclave_agent_detach(E, a->cpu);
	return NULL;
}

static inline void start_agents(void)
{
	struct ghost_sw_info info;
	int err;

	/* The main thread: CPU 1's agent, SCHED_FIFO, pinned there by the attach. */
	err = set_fifo();
	if (err)
		die("SCHED_FIFO for the agent: %s", strerror(err));
	CHECK_OK(ghost_enclave_agent_online(E));
	err = ghost_enclave_agent_attach(E, AGENT_CPU, C);
	if (err)
		die("ghost_enclave_agent_attach(CPU %d): %s", AGENT_CPU, strerror(-err));
	CHECK_OK(ghost_sw_agent_info(E, AGENT_CPU, &info));
	agent_sw[AGENT_CPU] = ghost_sw_lookup(E, &info);
	CHECK(agent_sw[AGENT_CPU] != NULL);
	CHECK(ghost_sw_is_agent(agent_sw[AGENT_CPU]));
	CHECK_EQ(sched_getcpu(), AGENT_CPU);
	for (int i = 0; i < N(agents); i++) {
		struct agent_thread *a = &agents[i];

		CHECK_EQ(pthread_create(&a->th, NULL, agent_main, a), 0);
		while (!LOAD(a->ready))
			usleep(100);
		if (a->err)
			die("the agent of CPU %d could not attach: %s", a->cpu, strerror(-a->err));
		CHECK(ghost_sw_is_agent(agent_sw[a->cpu]));
	}
}

static inline void stop_agents(void)
{
	for (int i = 0; i < N(agents); i++) {
		struct agent_thread *a = &agents[i];
		int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

		STORE(a->stop, 1);
		/* Pings until it is gone: one may land before it yields again. */
		for (;;) {
			struct timespec ts;

			int r = ghost_txn_ping(E, a->cpu);

			/* -EINVAL: the agent already left its CPU; the join ends it. */
			CHECK_MSG(r == 0 || r == -EINVAL, "ping of CPU %d: %d", a->cpu, r);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(a->th, NULL, &ts) == 0)
				break;
			if (ghost_now_ns() > end)
				die("the agent of CPU %d did not stop within %d ms of pings",
				    a->cpu, WAIT_MS);
		}
		if (a->err)
			die("the agent of CPU %d: local yield failed: %s", a->cpu,
			    strerror(-a->err));
	}
	ghost_enclave_agent_detach(E, AGENT_CPU);
}

static inline void check_preconditions(void)
{
	const struct ghost_kernel_ops *scx = ghost_kernel_find("scx");
	struct stat st;
	char why[256] = "";
	int err;

	if (stat(SCX_DIR, &st) != 0)
		skip("this kernel has no sched_ext (" SCX_DIR " is absent)");
	if (geteuid() != 0)
		skip("needs root");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 4)
		skip("needs CPUs 0-3");
	if (!scx)
		die("this library has no \"scx\" kernel backend");
	/* A build without SCX=1 has only a stand-in: no capabilities, a probe that says so. */
	if (ghost_kernel_caps(scx) == 0)
		skip("this library was built without the sched_ext backend (make SCX=1)");
	err = ghost_kernel_probe(scx, NULL, why, sizeof(why));
	if (err)
		die("the scx backend's probe fails on a kernel with sched_ext: %s (%s)", why,
		    strerror(-err));
	/* A scheduler of the previous program may still be on its way out. */
	wait_scx_state("disabled", WAIT_MS, "before the program (is another scheduler loaded?)");
}

static inline void step_setup(void)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o), .kernel = "scx" };
	struct ghost_cpuset cpus;
	int err;

	begin("create an enclave on the scx kernel over CPUs " ENCLAVE_CPUS);
	CHECK_OK(ghost_cpuset_parse_list(&cpus, ENCLAVE_CPUS, GHOST_MAX_CPUS, 0));
	o.cpus = &cpus;
	err = ghost_enclave_create(&o, &E);
	if (err)
		die("ghost_enclave_create: %s", strerror(-err));
	CHECK_STR(ghost_kernel_name(ghost_enclave_kernel(E)), "scx");
	wait_scx_state("enabled", WAIT_MS, "with the enclave open");
	CHECK_OK(ghost_channel_create(E, QUEUE_SLOTS, 0, &C));
	CHECK_OK(ghost_channel_set_default(C));
	CHECK_OK(ghost_channel_config_wakeup(C, NULL, 0));
	start_agents();
	drain();
}

/* The child, asleep in read(), is moved in: TASK_NEW with runnable 0. */
static inline void step_enter(struct child *c)
{
	int err, policy;

	begin("%s (pid %d), asleep in read(), moves into the enclave", c->name, (int)c->pid);
	wait_sleeping(c);
	err = ghost_thread_move(E, c->pid);
	if (err)
		die("ghost_thread_move(%d): %s", (int)c->pid, strerror(-err));
	wait_msg(c, MSG_TASK_NEW, 0);
	if (c->log[0] != MSG_TASK_NEW)
		die("the first message for %s is %s, not TASK_NEW", c->name, msg_name(c->log[0]));
	if (ghost_gtid_to_tid(c->gtid) != c->pid)
		die("TASK_NEW's gtid %" PRId64 " is for tid %" PRId64 ", not %d", c->gtid,
		    ghost_gtid_to_tid(c->gtid), (int)c->pid);
	if (c->new_runnable != 0)
		die("TASK_NEW says runnable %d for a task asleep in read()", c->new_runnable);
	sync_barrier(c);
	if (!ghost_sw_in_use(c->sw) || ghost_sw_runnable(c->sw) || ghost_sw_on_cpu(c->sw) ||
	    ghost_sw_is_agent(c->sw) || ghost_sw_can_free(c->sw))
		die("the status word of %s has flags 0x%x: expected INUSE, not RUNNABLE, ONCPU, "
		    "IS_AGENT or CANFREE",
		    c->name, ghost_sw_flags(c->sw));
	policy = sched_getscheduler(c->pid);
	if (policy != SCHED_EXT)
		die("%s has scheduling policy %d in the enclave, expected SCHED_EXT (%d)", c->name,
		    policy, SCHED_EXT);
	/* A sleeping task has nothing more to say. */
	usleep(50000);
	drain();
	if (c->nlog != 1)
		die("messages for %s while it sleeps: %s", c->name, log_text(c, 1));
}

/* One command, the child scheduled until it is back in read(); want: the messages. */
static inline void step_cmd(struct child *c, char cmd, const char *what, const uint16_t *want,
			    int n)
{
	int from = c->nlog;

	begin("%s: %s", c->name, what);
	send_cmd(c, cmd);
	run_to_block(c, from, want, n);
}

/* A departed or dead task's word: CANFREE, and the kernel takes it back. */
static inline void free_word(struct child *c)
{
	int err;

	if (!ghost_sw_can_free(c->sw))
		die("the status word of %s lacks CANFREE after %s (flags 0x%x)", c->name,
		    msg_name(c->log[c->nlog - 1]), ghost_sw_flags(c->sw));
	err = ghost_sw_free(E, &c->swi);
	if (err)
		die("ghost_sw_free of %s's word: %s", c->name, strerror(-err));
}

static inline void step_teardown(void)
{
	begin("destroy the enclave: the scheduler unloads");
	wait_scx_state("enabled", WAIT_MS, "with the enclave still open");
	drain();
	stop_agents();
	CHECK_OK(ghost_enclave_destroy(E));
	ghost_enclave_close(E);
	E = NULL;
	wait_scx_state("disabled", WAIT_MS, "after the enclave was destroyed and closed");
}

/*
 * What every program does before its own steps: the preconditions, the enclave and its
 * agents; with nchildren 1 or 2, child A (and child B) forked first, and child A moved in
 * (step_enter).
 */
static inline void abi_start(int nchildren)
{
	scx_step = g_step;
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(report_at_exit);
	atexit(kill_processes);
	signal(SIGALRM, on_alarm);
	alarm(TIMEOUT_S);
	signal(SIGPIPE, SIG_IGN);
	ghost_log_set_callback(ghost_log_stderr, NULL, GHOST_LOG_WARN);

	check_preconditions();
	/* Forked before this process becomes a SCHED_FIFO agent pinned to CPU 1. */
	for (int i = 0; i < nchildren && i < N(children); i++)
		spawn_child(children[i]);
	step_setup();
	if (nchildren > 0)
		step_enter(&child_a);
}

/* What every program does after its own steps: the enclave goes; then "passed". */
static inline void abi_finish(void)
{
	step_teardown();
	note("passed: %ld task messages (%d + %d commits), %ld CPU messages", g_task_msgs,
	     child_a.commits, child_b.commits, g_cpu_msgs);
	g_finished = true;
}

#endif
