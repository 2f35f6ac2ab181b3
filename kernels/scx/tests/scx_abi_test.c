/*
 * kernels/scx/tests/scx_abi_test.c - the ghOSt ABI on the sched_ext backend, message by
 * message, driven by hand through the public libghost API (no policy).
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh). It creates an
 * enclave on the "scx" kernel over CPUs 1-3 with one channel (the default queue, polled, no
 * wake-ups), makes its main thread the SCHED_FIFO agent of CPU 1 and two threads the agents
 * of CPUs 2 and 3 (they sit in local yield), and moves in child processes that each block
 * reading a command pipe. Every commit is a remote one: CPU 1's agent sends the child to
 * CPU 2 with SEND_TASK_ON_CPU. It checks:
 *   - the enclave loads the scheduler: /sys/kernel/sched_ext/state is "enabled" while the
 *     enclave is open and "disabled" once it is destroyed and closed;
 *   - a child blocked in read() that is moved in (ghost_thread_move): TASK_NEW with
 *     runnable 0 for a gtid of the child's pid, policy SCHED_EXT, a status word with that
 *     gtid, INUSE, not RUNNABLE, not ONCPU;
 *   - a command written to the pipe: TASK_WAKEUP; a commit with the task barrier minus one:
 *     GHOST_TXN_TARGET_STALE; with a gtid nobody has: GHOST_TXN_TARGET_NOT_FOUND; the
 *     right commit: GHOST_TXN_COMPLETE, then TASK_ON_CPU on CPU 2; the child reads the next
 *     command: TASK_BLOCKED (a commit of a runnable child refused with GHOST_TXN_CPU_UNAVAIL,
 *     while a thread of a higher class such as a kernel worker has CPU 2 for a moment, is
 *     tried again, here and in every step);
 *   - one step per command, the child committed again whenever it is runnable and off CPU:
 *     sched_yield -> TASK_YIELD; usleep -> TASK_BLOCKED and TASK_WAKEUP; sched_setaffinity
 *     to CPUs 2-3 -> TASK_AFFINITY_CHANGED; setpriority nice 5 -> TASK_PRIORITY_CHANGED
 *     (nice 5); sched_setscheduler SCHED_OTHER -> TASK_DEPARTED, after which the child runs
 *     on as a normal process;
 *   - CPU messages, before child A departs (the CPU messages of CPU 2 go to the queue of
 *     CPU 2's agent, here the one channel): no CPU_TICK while deliver_ticks is 0 (the
 *     default); with deliver_ticks 1 and child A spinning on CPU 2 (a command that busy-loops
 *     until the next byte), CPU_TICKs for CPU 2 arrive; set back to 0 they stop (at most
 *     TICKS_IN_FLIGHT more). With deliver_cpu_availability 1 and child A still spinning there,
 *     an ordinary SCHED_OTHER process pinned to CPU 2 takes the CPU from sched_ext:
 *     CPU_BUSY for CPU 2, and the word of CPU 2's agent loses CPU_AVAIL and gains BOOST_PRIO;
 *     once that process exits: CPU_AVAILABLE for CPU 2 and the flags are back. Then, child
 *     A blocked again: with deliver_cpu_availability 1, CPU 3 idle (no ghost task, its agent
 *     asleep) is taken by a SCHED_OTHER process pinned there, which sched_ext never sees
 *     (no ops.cpu_release); child A, woken, is committed to CPU 3: GHOST_TXN_CPU_UNAVAIL (a
 *     commit that met the process momentarily off the CPU is taken back with a NULL commit
 *     and tried again, at most BUSY_TRIES commits), CPU_BUSY for CPU 3, the word of CPU 3's
 *     agent without CPU_AVAIL and with BOOST_PRIO, still so and a commit still refused
 *     HOLD_MS later; once that process exits (CPU 3 idle, its dispatch runs): CPU_AVAILABLE
 *     for CPU 3, the flags are back, and a commit to CPU 3 runs child A there (TASK_ON_CPU on
 *     CPU 3, TASK_BLOCKED);
 *   - poisoning, child A blocked: one ghost_txn_commit_set() call from CPU 1's agent over
 *     CPUs 1-3, CPU 2's txn for a gtid nobody has, CPU 3's a NULL commit, CPU 1's (the
 *     caller's own) a local NULL commit: CPU 2 GHOST_TXN_TARGET_NOT_FOUND, CPU 3 still
 *     GHOST_TXN_COMPLETE, CPU 1 GHOST_TXN_POISONED, never tried (its cpu_seqnum unchanged),
 *     committed last (its commit_time not before the others'). One call with a NULL commit
 *     for CPU 2 and CPU 1's local NULL commit: both COMPLETE, nothing poisoned;
 *   - COMMIT_AT_SCHEDULE: child A, woken, committed to CPU 2 (idle, its agent asleep) with
 *     COMMIT_AT_SCHEDULE: ghost_txn_commit_set() returns without waiting for it and the txn is
 *     still READY (or, if CPU 2 scheduled in between, already taken or COMPLETE: allowed,
 *     said which); CPU 2 commits it at its next schedule (its agent's sleep passes through
 *     the scheduler; if it has not within AT_SCHEDULE_MS, a ping wakes that agent, and the
 *     output says so): GHOST_TXN_COMPLETE with a commit_time after the call, then TASK_ON_CPU
 *     on CPU 2 and TASK_BLOCKED;
 *   - sync groups (ghost_txn_commit_sync_group(), all or nothing) from CPU 1's agent over
 *     CPUs 2 and 3, child A woken and not committed, every txn opened with sync_group_owner 1:
 *     CPU 2's txn for a gtid nobody has (the lower CPU, checked first) and CPU 3's for child A:
 *     0, CPU 2 GHOST_TXN_TARGET_NOT_FOUND, CPU 3 GHOST_TXN_POISONED, neither with a new
 *     cpu_seqnum, both with sync_group_owner -1; child A gets no message and does not run
 *     (does not answer) for NO_RUN_MS, then a plain commit of it to CPU 3 with the same
 *     barrier is GHOST_TXN_COMPLETE and runs it there. Woken again, child A to CPU 2 and a NULL
 *     commit to CPU 3: 1, both GHOST_TXN_COMPLETE with a new cpu_seqnum and sync_group_owner
 *     -1, then TASK_ON_CPU on CPU 2 and TASK_BLOCKED (a group refused with CPU_UNAVAIL on CPU 2
 *     and the NULL commit POISONED is tried again, at most BUSY_TRIES calls);
 *   - a second child exits while in the enclave: TASK_DEAD; the words of the departed and
 *     the dead task carry CANFREE and ghost_sw_free gives them back;
 *   - throughout: every message is well formed and for one of the children, each task's
 *     seqnums strictly increase (the rule of the library's scheduler base), its status
 *     word's barrier is never behind the last message read, the ring never overflows; every
 *     CPU message is for an enclave CPU, and its seqnum is never ahead of the barrier of that
 *     CPU's agent.
 * Every wait has a time limit (WAIT_MS for one message, STEP_MS for a step); a failure names
 * the step, what was missing and the messages that came instead.
 *
 * To adjust to the backend: the steps are the step_* functions called from main() in order;
 * each lists the messages it expects in `want` (checked in this order, other messages may
 * come in between).
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (no sched_ext in this kernel, not root, fewer
 * than 4 CPUs, or a library built without the sched_ext backend).
 */
#include "../../../tests/test.h"

/* note, die, the sched_ext state, fork and wait: shared with scx_errors.c. */
#define PROG		"scx_abi_test"
#include "scx_test.h"

#include <ghost/ghost.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SCHED_EXT
#define SCHED_EXT	7
#endif

#define ENCLAVE_CPUS	"1-3"
#define AGENT_CPU	1		/* the main thread is its agent */
#define LAST_CPU	3		/* ENCLAVE_CPUS = AGENT_CPU-LAST_CPU */
#define TARGET_CPU	2		/* every commit sends the child here */
#define BUSY_CPU	3		/* no ghost task, its agent asleep: taken while idle */
#define QUEUE_SLOTS	1024
#define WAIT_MS		5000		/* one message, one state change */
#define STEP_MS		15000		/* one whole step */
#define TIMEOUT_S	200		/* the whole test */
#define MAX_LOG		256
#define TICKS_WANTED	5		/* CPU_TICKs that show ticks are delivered */
#define TICKS_IN_FLIGHT	2		/* CPU_TICKs allowed after deliver_ticks is 0 again */
#define QUIET_MS	500		/* how long ticks must stay away */
#define MAX_CPU_LOG	64
#define BUSY_TRIES	5		/* commits to BUSY_CPU before one must meet the process there */
#define HOLD_MS		200		/* how long BUSY_CPU must stay unavailable */
#define AT_SCHEDULE_MS	2000		/* a COMMIT_AT_SCHEDULE txn's wait for its CPU, unpinged */
#define STALE_TRIES	3		/* calls whose local commit may meet a moved agent barrier */
#define N(a)		((int)(sizeof(a) / sizeof((a)[0])))

/* A gtid no task can have: the largest tid (above any pid_max), generation 1. */
#define BOGUS_GTID	((int64_t)(((int64_t)1 << GHOST_GTID_PID_BITS) - 1) << GHOST_GTID_SEQ_BITS | 1)

/* ---- state ----------------------------------------------------------------------------------- */

static struct ghost_enclave *E;
static const struct ghost_kernel_ops *K;
static struct ghost_kenclave *KH;
static struct ghost_channel *C;
static const struct ghost_status_word *agent_sw[GHOST_MAX_CPUS];
static char g_step[160] = "start";
static bool g_finished;		/* exit without the failure report */
static long g_task_msgs, g_cpu_msgs;
static pid_t g_hog;			/* the SCHED_OTHER process of the CPU-availability steps */
static long g_unavail_commits;	/* commits refused with CPU_UNAVAIL (retried) */

/* The CPU messages read: counts by CPU and type, the last few in order. */
enum { CM_TICK, CM_AVAILABLE, CM_BUSY, CM_OTHER, CM_KINDS };
static long cpu_count[GHOST_MAX_CPUS][CM_KINDS];
static struct cpu_rec {
	uint16_t type;
	int cpu;
} cpu_log[MAX_CPU_LOG];
static long cpu_nlog;			/* CPU messages logged in all (cpu_log wraps) */
static uint16_t cpu_last_avail[GHOST_MAX_CPUS];	/* CPU_AVAILABLE or CPU_BUSY, 0 none yet */

/* One child process and what the messages said about it. */
struct child {
	const char *name;
	pid_t pid;
	int cmd_fd;			/* write end of its command pipe */
	int ack_fd;			/* read end of its answers (non-blocking) */
	int64_t gtid;			/* from TASK_NEW; 0 before */
	struct ghost_sw_info swi;
	const struct ghost_status_word *sw;
	uint32_t seq;			/* seqnum of the last message read for it */
	int new_runnable;		/* TASK_NEW's runnable */
	bool runnable, on_cpu, gone;	/* as the messages tell */
	bool latched;			/* committed, and no message since */
	int on_cpu_cpu;			/* from the last TASK_ON_CPU */
	int nice;			/* from the last TASK_PRIORITY_CHANGED */
	int commits;
	int nlog;
	uint16_t log[MAX_LOG];		/* every message type read for it */
};

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

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* ---- reporting ------------------------------------------------------------------------------- */

static void begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void begin(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_step, sizeof(g_step), fmt, ap);
	va_end(ap);
	note("step: %s", g_step);
}

static const char *msg_name(uint16_t type)
{
	const char *n = ghost_msg_type_name(type);

	return strncmp(n, "MSG_", 4) ? n : n + 4;
}

/* The names of c's messages from index `from` on, space-separated. */
static const char *log_text(const struct child *c, int from)
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
static const char *cpu_log_text(void)
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
static void report_at_exit(void)
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

static void kill_children(void)
{
	for (int i = 0; i < N(children); i++)
		if (children[i]->pid > 0)
			kill(children[i]->pid, SIGKILL);
	if (g_hog > 0)
		kill(g_hog, SIGKILL);
}

static void on_alarm(int sig)
{
	static const char a[] = "FAIL " PROG ": timed out in step \"";
	static const char b[] = "\"\n";

	(void)sig;
	if (write(2, a, sizeof(a) - 1) < 0 || write(2, g_step, strlen(g_step)) < 0 ||
	    write(2, b, sizeof(b) - 1) < 0)
		_exit(1);
	_exit(1);
}

static void skip(const char *why)
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
static void __attribute__((noreturn)) child_main(int cmd_fd, int ack_fd)
{
	char cmd, r;

	if (write(ack_fd, "r", 1) != 1)
		_exit(2);
	for (;;) {
		if (read(cmd_fd, &cmd, 1) != 1)
			_exit(3);
		r = 'k';
		switch (cmd) {
		case 'w':	/* only the wake-up */
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
		case 'b': {	/* busy on its CPU, no blocking, until the next byte */
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
static int try_ack(struct child *c)
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

static int wait_ack(struct child *c, int ms)
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
static void spawn_child(struct child *c)
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
static char proc_state(pid_t pid)
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

static void wait_sleeping(struct child *c)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

	while (proc_state(c->pid) != 'S') {
		if (ghost_now_ns() > end)
			die("%s (pid %d) is not asleep in read() after %d ms (state '%c')", c->name,
			    (int)c->pid, WAIT_MS, proc_state(c->pid));
		usleep(1000);
	}
}

static void send_cmd(struct child *c, char cmd)
{
	if (write(c->cmd_fd, &cmd, 1) != 1)
		die("writing command '%c' to %s: %s", cmd, c->name, strerror(errno));
}

static void reap(struct child *c)
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
	c->pid = -c->pid;	/* reaped: nothing to kill */
	close(c->cmd_fd);
	close(c->ack_fd);
}

/* ---- reading the channel --------------------------------------------------------------------- */

static struct child *child_of(int64_t gtid, uint16_t type)
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
static void take(struct child *c, const struct ghost_msg *m)
{
	uint32_t barrier;

	if (c->gone)
		die("%s for %s after it left the enclave (messages: %s)", msg_name(m->type), c->name,
		    log_text(c, 0));
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
			die("TASK_NEW of %s: its status word has gtid %" PRId64 ", the message %" PRId64,
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
static void take_cpu(const struct ghost_msg *m)
{
	struct ghost_msg_payload_cpu_tick p = { .cpu = -1 };	/* every CPU payload starts with cpu */
	int kind;

	ghost_msg_copy_payload(m, &p, sizeof(p.cpu));
	if (p.cpu < AGENT_CPU || p.cpu > LAST_CPU)
		die("%s for CPU %d, not an enclave CPU (" ENCLAVE_CPUS ")", msg_name(m->type), p.cpu);
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
static void drain(void)
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
				die("%s for gtid %" PRId64 " (tid %" PRId64 "), none of the children",
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
static int wait_msg(struct child *c, uint16_t type, int from)
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
static void sync_barrier(struct child *c)
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
static void wake_runnable(struct child *c)
{
	int from = c->nlog;

	send_cmd(c, 'w');
	wait_msg(c, MSG_TASK_WAKEUP, from);
	sync_barrier(c);
}

/* The expected messages came in this order (others may come in between). */
static void check_sequence(const struct child *c, int from, const uint16_t *want, int n)
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

/* ---- transactions ---------------------------------------------------------------------------- */

/* The flags of cpu's agent word, as text. */
static const char *avail_text(int cpu)
{
	static char buf[64];
	uint32_t f = ghost_sw_flags(agent_sw[cpu]);

	snprintf(buf, sizeof(buf), "0x%x (CPU_AVAIL %d, BOOST_PRIO %d)", f,
		 !!(f & GHOST_SW_CPU_AVAIL), !!(f & GHOST_SW_BOOST_PRIO));
	return buf;
}

/* Opens and commits cpu's txn for gtid at barrier, from this (CPU 1's) agent; its final state. */
static int32_t commit_to(int cpu, int64_t gtid, uint32_t barrier)
{
	struct ghost_txn *txn = ghost_enclave_txn(E, cpu);
	struct ghost_txn_opts o = {
		.target = gtid,
		.target_barrier = barrier,
		.agent_barrier = ghost_sw_barrier(agent_sw[cpu]),
		.run_flags = SEND_TASK_ON_CPU,
		.sync_group_owner = -1,
	};
	int64_t before = ghost_now_ns();
	uint64_t seq0;
	int32_t s;
	int r;

	if (!txn)
		die("no txn for CPU %d", cpu);
	seq0 = txn->cpu_seqnum;
	r = ghost_txn_open(E, cpu, &o);
	if (r)
		die("ghost_txn_open(CPU %d): %s", cpu, strerror(-r));
	r = ghost_txn_commit(E, cpu);
	if (r < 0)
		die("ghost_txn_commit(CPU %d): %s", cpu, strerror(-r));
	s = ghost_txn_state(txn);
	if ((r == 1) != (s == GHOST_TXN_COMPLETE))
		die("ghost_txn_commit(CPU %d) returned %d but the txn's state is %s", cpu, r,
		    ghost_txn_reason(s));
	if (txn->commit_time < before)
		die("the txn of CPU %d ended in %s without a commit_time", cpu, ghost_txn_reason(s));
	if (s == GHOST_TXN_COMPLETE && txn->cpu_seqnum <= seq0)
		die("a complete txn of CPU %d left cpu_seqnum at %" PRIu64, cpu, txn->cpu_seqnum);
	return s;
}

static void expect_commit(struct child *c, int64_t gtid, uint32_t barrier, int32_t want,
			  const char *what)
{
	int32_t s = commit_to(TARGET_CPU, gtid, barrier);

	if (s != want)
		die("commit of %s to CPU %d (%s, task barrier %u, status word barrier %u): "
		    "expected %s, got %s",
		    c->name, TARGET_CPU, what, barrier, ghost_sw_barrier(c->sw),
		    ghost_txn_reason(want), ghost_txn_reason(s));
}

/* c is runnable, off CPU, not latched, and its status word's barrier read: ready for a commit. */
static bool committable(const struct child *c)
{
	return c->runnable && !c->on_cpu && !c->latched && ghost_sw_barrier(c->sw) == c->seq;
}

/*
 * Commits c to cpu if it is committable(); then it is latched. A commit refused with
 * CPU_UNAVAIL (a higher class holds the CPU for a moment) is counted in *refused, to be tried
 * again in a later round; any other failure fails the test.
 */
static void commit_ready(struct child *c, int cpu, long *refused)
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
static bool child_round(struct child *c, int from, bool may_leave)
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
	END_BLOCKED,	/* the child answered and blocks reading its next command */
	END_GONE,	/* TASK_DEAD or TASK_DEPARTED */
};

/*
 * Schedules c until the step ends: whenever it is runnable, off CPU and not latched, commits
 * it to TARGET_CPU with its current barrier (which must succeed, or be refused with
 * CPU_UNAVAIL while a higher class holds the CPU: tried again in a later round). Returns
 * whether the child answered its command.
 */
static bool run_until(struct child *c, enum step_end end_at, int from)
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
			    "latched %d, %d commits; its messages: %s",
			    STEP_MS, c->name, answered ? "answered" : "did not answer", c->runnable,
			    c->on_cpu, c->latched, c->commits, log_text(c, from));
		commit_ready(c, TARGET_CPU, &g_unavail_commits);
		usleep(200);
	}
}

/* ---- a spinning child and the CPU messages -------------------------------------------------- */

/*
 * One round of scheduling c while it spins: reads its answer (it gives none while it spins),
 * drains, and commits it to TARGET_CPU whenever it is runnable, off CPU and not latched. A
 * commit refused because a higher class holds the CPU (CPU_UNAVAIL) is tried again in a
 * later round; any other failure is one.
 */
static void serve_spinning(struct child *c)
{
	if (child_round(c, 0, false))
		die("%s answered '%c' while it should spin", c->name, 'k');
	if (!c->runnable)
		die("%s is not runnable while it spins; its messages: %s", c->name, log_text(c, 0));
	commit_ready(c, TARGET_CPU, &g_unavail_commits);
}

/* Keeps c spinning for ms. */
static void spin_for(struct child *c, int ms)
{
	int64_t end = ghost_now_ns() + (int64_t)ms * 1000000;

	while (ghost_now_ns() < end) {
		serve_spinning(c);
		usleep(200);
	}
}

static void set_tunable(enum ghost_tunable t, long long v)
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

static bool cpu_avail(int cpu)
{
	uint32_t f = ghost_sw_flags(agent_sw[cpu]);

	return (f & GHOST_SW_CPU_AVAIL) && !(f & GHOST_SW_BOOST_PRIO);
}

static bool cpu_busy(int cpu)
{
	uint32_t f = ghost_sw_flags(agent_sw[cpu]);

	return !(f & GHOST_SW_CPU_AVAIL) && (f & GHOST_SW_BOOST_PRIO);
}

/*
 * An ordinary process (SCHED_OTHER, not in the enclave) pinned to cpu that spins until it
 * is killed (at most a minute).
 */
static pid_t spawn_hog(int cpu)
{
	pid_t pid = fork_child();

	if (pid == 0) {
		struct sched_param sp = { 0 };
		struct timespec t0, t;
		volatile uint64_t sink = 0;
		cpu_set_t set;

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
static void check_hog(int cpu)
{
	int st;

	if (g_hog > 0 && waitpid(g_hog, &st, WNOHANG) == g_hog) {
		g_hog = 0;
		die("the SCHED_OTHER process pinned to CPU %d ended by itself (status 0x%x)", cpu,
		    st);
	}
}

/* One round of waiting on a CPU: serves c if it spins there (not NULL), else drains. */
static void cpu_round(struct child *spinning)
{
	if (spinning)
		serve_spinning(spinning);
	else
		drain();
	usleep(200);
}

/* Before a CPU-availability step: the word of cpu's agent has CPU_AVAIL without BOOST_PRIO. */
static void wait_cpu_avail_before(int cpu, struct child *spinning)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

	while (!cpu_avail(cpu)) {
		if (ghost_now_ns() > end)
			die("the word of CPU %d's agent has flags %s before the test, expected "
			    "CPU_AVAIL without BOOST_PRIO",
			    cpu, avail_text(cpu));
		cpu_round(spinning);
	}
}

/*
 * Waits until cpu is as `type` (MSG_CPU_BUSY or MSG_CPU_AVAILABLE) says: such messages beyond
 * the counts from before the hog (busy0, avail0), the last of CPU_BUSY/CPU_AVAILABLE is one,
 * and the agent's word agrees (BOOST_PRIO without CPU_AVAIL, or the other way round). The hog,
 * if it still runs, must not end meanwhile. `when`: what happened before.
 */
static void wait_cpu_state(int cpu, uint16_t type, long busy0, long avail0,
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
static void stop_hog(int cpu, long busy0, long avail0, struct child *spinning)
{
	int st;

	kill(g_hog, SIGKILL);
	if (waitpid(g_hog, &st, 0) != g_hog)
		die("waitpid(hog): %s", strerror(errno));
	g_hog = 0;
	wait_cpu_state(cpu, MSG_CPU_AVAILABLE, busy0, avail0, spinning,
		       "the SCHED_OTHER process exited");
}

/* c starts spinning on TARGET_CPU: TASK_WAKEUP, TASK_ON_CPU; no CPU_TICK (deliver_ticks 0). */
static void step_spin_start(struct child *c)
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
	if (c->on_cpu_cpu != TARGET_CPU)
		die("TASK_ON_CPU of %s says CPU %d; it was committed to CPU %d", c->name,
		    c->on_cpu_cpu, TARGET_CPU);
	spin_for(c, 200);
	for (int cpu = AGENT_CPU; cpu <= LAST_CPU; cpu++)
		if (cpu_count[cpu][CM_TICK])
			die("%ld CPU_TICK for CPU %d while deliver_ticks is 0; the CPU messages: %s",
			    cpu_count[cpu][CM_TICK], cpu, cpu_log_text());
}

/* deliver_ticks 1: CPU_TICKs for TARGET_CPU while c spins there; 0 again: they stop. */
static void step_ticks(struct child *c)
{
	int64_t end;
	long t0, t1, more;

	begin("deliver_ticks 1 while %s spins on CPU %d: CPU_TICK for CPU %d; 0 again: they stop",
	      c->name, TARGET_CPU, TARGET_CPU);
	set_tunable(GHOST_TUNABLE_DELIVER_TICKS, 1);
	t0 = cpu_count[TARGET_CPU][CM_TICK];
	end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	while (cpu_count[TARGET_CPU][CM_TICK] - t0 < TICKS_WANTED) {
		if (ghost_now_ns() > end)
			die("%ld CPU_TICK for CPU %d within %d ms of deliver_ticks 1 (wanted %d); "
			    "%s on CPU %d: %d; the CPU messages: %s",
			    cpu_count[TARGET_CPU][CM_TICK] - t0, TARGET_CPU, WAIT_MS, TICKS_WANTED,
			    c->name, TARGET_CPU, c->on_cpu, cpu_log_text());
		serve_spinning(c);
		usleep(200);
	}
	set_tunable(GHOST_TUNABLE_DELIVER_TICKS, 0);
	drain();
	t1 = cpu_count[TARGET_CPU][CM_TICK];
	spin_for(c, QUIET_MS);
	more = cpu_count[TARGET_CPU][CM_TICK] - t1;
	if (more > TICKS_IN_FLIGHT)
		die("%ld CPU_TICK for CPU %d in the %d ms after deliver_ticks went back to 0 "
		    "(at most %d allowed in flight)",
		    more, TARGET_CPU, QUIET_MS, TICKS_IN_FLIGHT);
	note("%ld CPU_TICK for CPU %d with deliver_ticks 1, %ld after it went back to 0",
	     t1 - t0, TARGET_CPU, more);
}

/*
 * deliver_cpu_availability 1 while c spins on TARGET_CPU: an ordinary process pinned there
 * takes the CPU from sched_ext (ops.cpu_release): CPU_BUSY, the agent's word BOOST_PRIO
 * without CPU_AVAIL; it exits and sched_ext gets the CPU back (ops.cpu_acquire):
 * CPU_AVAILABLE, CPU_AVAIL without BOOST_PRIO.
 */
static void step_cpu_avail(struct child *c)
{
	int64_t end;
	long busy0, avail0, busy_n, avail_n;

	begin("deliver_cpu_availability 1; a SCHED_OTHER process pinned to CPU %d while %s spins "
	      "there: CPU_BUSY, BOOST_PRIO; it exits: CPU_AVAILABLE, CPU_AVAIL",
	      TARGET_CPU, c->name);
	wait_cpu_avail_before(TARGET_CPU, c);
	set_tunable(GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY, 1);
	drain();
	busy0 = cpu_count[TARGET_CPU][CM_BUSY];
	avail0 = cpu_count[TARGET_CPU][CM_AVAILABLE];

	g_hog = spawn_hog(TARGET_CPU);
	end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	while (cpu_count[TARGET_CPU][CM_BUSY] == busy0) {
		if (ghost_now_ns() > end)
			die("no CPU_BUSY for CPU %d within %d ms of a SCHED_OTHER process pinned "
			    "there (%s on CPU %d: %d; agent word %s); the CPU messages: %s",
			    TARGET_CPU, WAIT_MS, c->name, TARGET_CPU, c->on_cpu,
			    avail_text(TARGET_CPU), cpu_log_text());
		check_hog(TARGET_CPU);
		serve_spinning(c);
		usleep(200);
	}
	while (!cpu_busy(TARGET_CPU)) {
		if (ghost_now_ns() > end)
			die("after CPU_BUSY for CPU %d its agent's word has flags %s, expected "
			    "BOOST_PRIO without CPU_AVAIL (the CPU messages: %s)",
			    TARGET_CPU, avail_text(TARGET_CPU), cpu_log_text());
		check_hog(TARGET_CPU);
		serve_spinning(c);
		usleep(200);
	}
	note("CPU_BUSY for CPU %d; its agent's word: %s", TARGET_CPU, avail_text(TARGET_CPU));
	/* It keeps the CPU a while: still busy. */
	spin_for(c, 200);
	check_hog(TARGET_CPU);
	if (!cpu_busy(TARGET_CPU))
		die("with the SCHED_OTHER process still on CPU %d its agent's word has flags %s, "
		    "expected BOOST_PRIO without CPU_AVAIL (the CPU messages: %s)",
		    TARGET_CPU, avail_text(TARGET_CPU), cpu_log_text());

	stop_hog(TARGET_CPU, busy0, avail0, c);
	set_tunable(GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY, 0);
	busy_n = cpu_count[TARGET_CPU][CM_BUSY] - busy0;
	avail_n = cpu_count[TARGET_CPU][CM_AVAILABLE] - avail0;
	note("CPU_AVAILABLE for CPU %d; its agent's word: %s (%ld CPU_BUSY, %ld CPU_AVAILABLE, "
	     "%ld commits refused with CPU_UNAVAIL)",
	     TARGET_CPU, avail_text(TARGET_CPU), busy_n, avail_n, g_unavail_commits);
}

/* c stops spinning and blocks reading its next command: TASK_BLOCKED. */
static void step_spin_stop(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_BLOCKED };
	int from = c->nlog;

	begin("%s stops spinning -> TASK_BLOCKED", c->name);
	send_cmd(c, '.');
	run_until(c, END_BLOCKED, from);
	check_sequence(c, from, want, N(want));
}

/* The CPU a process last ran on (field 39 of /proc/PID/stat), -1 if none. */
static int proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p, *save = NULL;
	ssize_t n;
	int fd, field = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (p = strtok_r(p + 1, " ", &save); p; p = strtok_r(NULL, " ", &save), field++)
		if (field == 39)
			return atoi(p);
	return -1;
}

/* The CPU time a process has had in ns (the first field of /proc/PID/schedstat), -1 if none. */
static long long proc_runtime(pid_t pid)
{
	char path[64];
	long long ns = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &ns) != 1)
		ns = -1;
	fclose(f);
	return ns;
}

/* g_hog has not died on its own and is running or runnable ('R'), last on cpu. */
static bool hog_on(int cpu)
{
	check_hog(cpu);
	return proc_state(g_hog) == 'R' && proc_cpu(g_hog) == cpu;
}

/*
 * Waits until g_hog runs on cpu: it is there ('R', last on cpu; pinned, it stays) and its CPU
 * time has grown since, so it has been running there, not only queued.
 */
static void wait_hog_on(int cpu)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	long long t0 = -1, t;

	for (;;) {
		if (!hog_on(cpu))
			t0 = -1;
		else if ((t = proc_runtime(g_hog)) < 0)
			die("no CPU time for the SCHED_OTHER process (pid %d) in /proc/%d/schedstat",
			    (int)g_hog, (int)g_hog);
		else if (t0 < 0)
			t0 = t;
		else if (t > t0)
			return;
		if (ghost_now_ns() > end)
			die("the SCHED_OTHER process (pid %d) pinned to CPU %d is not running there "
			    "after %d ms (state '%c', last on CPU %d, %lld ns of CPU time)",
			    (int)g_hog, cpu, WAIT_MS, proc_state(g_hog), proc_cpu(g_hog),
			    proc_runtime(g_hog));
		drain();
		usleep(1000);
	}
}

/* The thread of cpu's agent sleeps (in local yield, on its doorbell). */
static void wait_agent_asleep(int cpu)
{
	pid_t tid = (pid_t)ghost_gtid_to_tid(ghost_sw_gtid(agent_sw[cpu]));
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;

	while (proc_state(tid) != 'S') {
		if (ghost_now_ns() > end)
			die("the agent of CPU %d (tid %d) is not asleep after %d ms (state '%c')", cpu,
			    (int)tid, WAIT_MS, proc_state(tid));
		drain();
		usleep(1000);
	}
}

/*
 * Waits until c is runnable, off CPU, not latched and its status word's barrier read, ready
 * for a commit. If it ran and answered meanwhile, it is woken again ('w') once it blocks.
 */
static void wait_committable(struct child *c)
{
	int64_t end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
	bool answered = false;

	for (;;) {
		if (child_round(c, 0, false))
			answered = true;
		if (answered && !c->runnable) {
			send_cmd(c, 'w');
			answered = false;
		} else if (!answered && committable(c)) {
			return;
		}
		if (ghost_now_ns() > end)
			die("%s is not ready for a commit after %d ms: runnable %d, on CPU %d, "
			    "latched %d, answered %d; its messages: %s",
			    c->name, WAIT_MS, c->runnable, c->on_cpu, c->latched, answered,
			    log_text(c, 0));
		usleep(200);
	}
}

/*
 * Schedules c on cpu until it answers and blocks reading its next command: whenever it is
 * runnable, off CPU and not latched, commits it there (which must succeed, or be refused with
 * CPU_UNAVAIL while a higher class holds the CPU for a moment: tried again in a later round).
 * Returns how many commits were refused.
 */
static long run_on(struct child *c, int cpu, int from)
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
 * deliver_cpu_availability 1; BUSY_CPU idle (no ghost task there, its agent asleep) is taken
 * by an ordinary process pinned there. sched_ext never had the CPU, so no ops.cpu_release
 * tells: the commit of a runnable c there is what finds the higher class on it. It fails
 * with CPU_UNAVAIL, CPU_BUSY comes, the agent's word has BOOST_PRIO without CPU_AVAIL. Once
 * the process exits, the CPU's dispatch (it is idle) gives it back: CPU_AVAILABLE, CPU_AVAIL
 * without BOOST_PRIO, and a commit there runs c.
 */
static void step_busy_idle_cpu(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	int64_t end;
	int from = c->nlog, tries = 0;
	long busy0, avail0, busy_pre, refused;
	int32_t s;

	begin("idle CPU %d taken by a SCHED_OTHER process: %s committed there -> CPU_UNAVAIL, "
	      "CPU_BUSY; it exits: CPU_AVAILABLE, %s runs there",
	      BUSY_CPU, c->name, c->name);
	if (c->runnable || c->on_cpu || c->latched)
		die("%s is not blocked before the step: runnable %d, on CPU %d, latched %d",
		    c->name, c->runnable, c->on_cpu, c->latched);
	wait_cpu_avail_before(BUSY_CPU, NULL);
	wait_agent_asleep(BUSY_CPU);
	set_tunable(GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY, 1);
	drain();
	busy0 = cpu_count[BUSY_CPU][CM_BUSY];
	avail0 = cpu_count[BUSY_CPU][CM_AVAILABLE];

	/* c wakes and waits, runnable: nobody commits it yet. */
	wake_runnable(c);

	g_hog = spawn_hog(BUSY_CPU);
	wait_hog_on(BUSY_CPU);
	busy_pre = cpu_count[BUSY_CPU][CM_BUSY] - busy0;
	note("a SCHED_OTHER process (pid %d) runs on CPU %d; before any commit there: %ld "
	     "CPU_BUSY, its agent's word %s",
	     (int)g_hog, BUSY_CPU, busy_pre, avail_text(BUSY_CPU));

	for (;;) {
		wait_committable(c);
		wait_hog_on(BUSY_CPU);
		s = commit_to(BUSY_CPU, c->gtid, c->seq);
		tries++;
		if (s == GHOST_TXN_CPU_UNAVAIL)
			break;
		if (s != GHOST_TXN_COMPLETE)
			die("commit %d of %s to CPU %d with a SCHED_OTHER process there (barrier %u): "
			    "expected %s, got %s; its agent's word %s",
			    tries, c->name, BUSY_CPU, c->seq,
			    ghost_txn_reason(GHOST_TXN_CPU_UNAVAIL), ghost_txn_reason(s),
			    avail_text(BUSY_CPU));
		c->latched = true;
		c->commits++;
		if (tries >= BUSY_TRIES)
			die("%d commits of %s to CPU %d with a SCHED_OTHER process running there all "
			    "succeeded, expected %s; its agent's word %s; the CPU messages: %s",
			    tries, c->name, BUSY_CPU, ghost_txn_reason(GHOST_TXN_CPU_UNAVAIL),
			    avail_text(BUSY_CPU), cpu_log_text());
		/*
		 * The process was not current there at that moment (its agent, say, woken by
		 * its sleep slice, was): the latch is taken back, and again.
		 */
		note("commit %d of %s to CPU %d succeeded (the SCHED_OTHER process was not "
		     "current there then); a NULL commit takes it back",
		     tries, c->name, BUSY_CPU);
		s = commit_to(BUSY_CPU, GHOST_NULL_GTID, 0);
		if (s != GHOST_TXN_COMPLETE)
			die("a NULL commit to CPU %d to take %s back: %s", BUSY_CPU, c->name,
			    ghost_txn_reason(s));
	}

	wait_cpu_state(BUSY_CPU, MSG_CPU_BUSY, busy0, avail0, NULL,
		       "a commit to the CPU failed CPU_UNAVAIL");
	note("commit %d of %s to CPU %d: %s; CPU_BUSY for CPU %d; its agent's word: %s", tries,
	     c->name, BUSY_CPU, ghost_txn_reason(GHOST_TXN_CPU_UNAVAIL), BUSY_CPU,
	     avail_text(BUSY_CPU));

	/* The process keeps the CPU a while: still busy, a commit still refused. */
	end = ghost_now_ns() + (int64_t)HOLD_MS * 1000000;
	while (ghost_now_ns() < end) {
		hog_on(BUSY_CPU);
		drain();
		usleep(1000);
	}
	wait_committable(c);
	wait_hog_on(BUSY_CPU);
	s = commit_to(BUSY_CPU, c->gtid, c->seq);
	if (s != GHOST_TXN_CPU_UNAVAIL)
		die("a commit of %s to CPU %d %d ms later, the SCHED_OTHER process still there: "
		    "expected %s, got %s; its agent's word %s; the CPU messages: %s",
		    c->name, BUSY_CPU, HOLD_MS, ghost_txn_reason(GHOST_TXN_CPU_UNAVAIL),
		    ghost_txn_reason(s), avail_text(BUSY_CPU), cpu_log_text());
	drain();
	if (!cpu_busy(BUSY_CPU) || cpu_last_avail[BUSY_CPU] != MSG_CPU_BUSY)
		die("with the SCHED_OTHER process still on CPU %d its agent's word has flags %s "
		    "and the last of CPU_BUSY/CPU_AVAILABLE is %s, expected BOOST_PRIO without "
		    "CPU_AVAIL after CPU_BUSY (the CPU messages: %s)",
		    BUSY_CPU, avail_text(BUSY_CPU), msg_name(cpu_last_avail[BUSY_CPU]),
		    cpu_log_text());

	stop_hog(BUSY_CPU, busy0, avail0, NULL);
	note("CPU_AVAILABLE for CPU %d; its agent's word: %s", BUSY_CPU, avail_text(BUSY_CPU));

	/* The CPU is sched_ext's again: the commit goes through, c runs there. */
	wait_committable(c);
	refused = run_on(c, BUSY_CPU, from);
	check_sequence(c, from, want, N(want));
	if (c->on_cpu_cpu != BUSY_CPU)
		die("TASK_ON_CPU of %s says CPU %d; it was committed to CPU %d", c->name,
		    c->on_cpu_cpu, BUSY_CPU);
	set_tunable(GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY, 0);
	note("%s ran on CPU %d (%ld CPU_BUSY, %ld CPU_AVAILABLE for CPU %d, %d commits until "
	     "CPU_UNAVAIL, %ld refused after CPU_AVAILABLE)",
	     c->name, BUSY_CPU, cpu_count[BUSY_CPU][CM_BUSY] - busy0,
	     cpu_count[BUSY_CPU][CM_AVAILABLE] - avail0, BUSY_CPU, tries, refused);
}

/* ---- commits over several CPUs --------------------------------------------------------------- */

/* A txn state as text: READY, "claimed by CPU n" while a kernel commits it, else its outcome. */
static const char *txn_text(int32_t s)
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
 * error fails the test.
 */
static struct ghost_txn *open_txn_owned(int cpu, int64_t gtid, uint32_t barrier,
					uint16_t run_flags, uint8_t commit_flags, int owner)
{
	struct ghost_txn *txn = ghost_enclave_txn(E, cpu);
	struct ghost_txn_opts o = {
		.target = gtid,
		.target_barrier = barrier,
		.agent_barrier = ghost_sw_barrier(agent_sw[cpu]),
		.commit_flags = commit_flags,
		.run_flags = run_flags,
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

static struct ghost_txn *open_txn(int cpu, int64_t gtid, uint32_t barrier, uint16_t run_flags,
				  uint8_t commit_flags)
{
	return open_txn_owned(cpu, gtid, barrier, run_flags, commit_flags, -1);
}

/* The txn of cpu ended in want, with a commit_time not before `since`. */
static void expect_state(int cpu, int32_t want, int64_t since, const char *what)
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
 * One commit call from CPU 1's agent over CPUs 1-3: the others first, the caller's own last.
 * CPU 2's txn fails (a gtid nobody has), so CPU 1's own (a local NULL commit, which would
 * give up the CPU) is POISONED without being tried; CPU 3's (a NULL commit) goes through.
 * Then one call whose other txn (a NULL commit to CPU 2) succeeds: CPU 1's own is tried and
 * COMPLETE. c, blocked, gets no message from any of this.
 */
static void step_poison(struct child *c)
{
	struct ghost_txn *own, *two, *three;
	struct ghost_cpuset set;
	uint64_t own_seq, two_seq, three_seq;
	int64_t t0, t1;
	int r, n = c->nlog, tries;
	int32_t s;

	begin("one commit call over CPUs " ENCLAVE_CPUS " from CPU %d's agent: CPU %d's txn "
	      "fails -> the caller's own is POISONED, CPU %d's commits; none fails -> the "
	      "caller's own commits",
	      AGENT_CPU, TARGET_CPU, BUSY_CPU);
	if (c->runnable || c->on_cpu || c->latched)
		die("%s is not blocked before the step: runnable %d, on CPU %d, latched %d",
		    c->name, c->runnable, c->on_cpu, c->latched);
	/* The backend takes the caller's CPU from where the call runs. */
	if (sched_getcpu() != AGENT_CPU)
		die("the agent of CPU %d runs on CPU %d", AGENT_CPU, sched_getcpu());
	drain();

	two = open_txn(TARGET_CPU, BOGUS_GTID, 1, SEND_TASK_ON_CPU, 0);
	three = open_txn(BUSY_CPU, GHOST_NULL_GTID, 0, 0, 0);
	own = open_txn(AGENT_CPU, GHOST_NULL_GTID, 0, 0, 0);
	own_seq = own->cpu_seqnum;
	two_seq = two->cpu_seqnum;
	three_seq = three->cpu_seqnum;
	ghost_cpuset_zero(&set);
	ghost_cpuset_set(&set, AGENT_CPU);
	ghost_cpuset_set(&set, TARGET_CPU);
	ghost_cpuset_set(&set, BUSY_CPU);
	t0 = ghost_now_ns();
	r = ghost_txn_commit_set(E, &set);
	t1 = ghost_now_ns();
	if (r < 0)
		die("ghost_txn_commit_set(CPUs " ENCLAVE_CPUS "): %s", strerror(-r));
	expect_state(TARGET_CPU, GHOST_TXN_TARGET_NOT_FOUND, t0, "a gtid nobody has");
	expect_state(BUSY_CPU, GHOST_TXN_COMPLETE, t0,
		     "a NULL commit in the same call, after the failed one");
	expect_state(AGENT_CPU, GHOST_TXN_POISONED, t0,
		     "the caller's own txn in a call where another one failed");
	if (r != 1)
		die("ghost_txn_commit_set(CPUs " ENCLAVE_CPUS ") returned %d, expected 1 (CPU %d's "
		    "NULL commit)",
		    r, BUSY_CPU);
	if (own->cpu_seqnum != own_seq)
		die("the poisoned txn of CPU %d moved cpu_seqnum from %" PRIu64 " to %" PRIu64
		    " (it must not be tried)",
		    AGENT_CPU, own_seq, own->cpu_seqnum);
	if (two->cpu_seqnum != two_seq)
		die("the failed txn of CPU %d moved cpu_seqnum from %" PRIu64 " to %" PRIu64,
		    TARGET_CPU, two_seq, two->cpu_seqnum);
	if (three->cpu_seqnum <= three_seq)
		die("the complete txn of CPU %d left cpu_seqnum at %" PRIu64, BUSY_CPU,
		    three->cpu_seqnum);
	if (own->commit_time < two->commit_time || own->commit_time < three->commit_time)
		die("the caller's own txn (CPU %d) has commit_time %" PRId64 ", before CPU %d's "
		    "%" PRId64 " or CPU %d's %" PRId64 " (the caller's CPU goes last)",
		    AGENT_CPU, own->commit_time, TARGET_CPU, two->commit_time, BUSY_CPU,
		    three->commit_time);
	note("one call over CPUs " ENCLAVE_CPUS ": CPU %d %s, CPU %d %s, CPU %d (the caller's) %s, "
	     "committed %" PRId64 " ns after CPU %d's and %" PRId64 " ns after CPU %d's (the "
	     "call took %" PRId64 " us)",
	     TARGET_CPU, txn_text(ghost_txn_state(two)), BUSY_CPU,
	     txn_text(ghost_txn_state(three)), AGENT_CPU,
	     txn_text(ghost_txn_state(own)), own->commit_time - two->commit_time,
	     TARGET_CPU, own->commit_time - three->commit_time, BUSY_CPU, (t1 - t0) / 1000);

	/*
	 * No failure: the caller's own local NULL commit is tried and gives the CPU up (the call
	 * sleeps on the doorbell a while). A CPU message for CPU 1 between reading its agent's
	 * barrier and the commit makes it AGENT_STALE: then the call is made again.
	 */
	ghost_cpuset_zero(&set);
	ghost_cpuset_set(&set, AGENT_CPU);
	ghost_cpuset_set(&set, TARGET_CPU);
	for (tries = 1;; tries++) {
		two = open_txn(TARGET_CPU, GHOST_NULL_GTID, 0, 0, 0);
		own = open_txn(AGENT_CPU, GHOST_NULL_GTID, 0, 0, 0);
		own_seq = own->cpu_seqnum;
		t0 = ghost_now_ns();
		r = ghost_txn_commit_set(E, &set);
		t1 = ghost_now_ns();
		if (r < 0)
			die("ghost_txn_commit_set(CPUs %d-%d): %s", AGENT_CPU, TARGET_CPU,
			    strerror(-r));
		s = ghost_txn_state(own);
		if (s != GHOST_TXN_AGENT_STALE || tries >= STALE_TRIES)
			break;
		note("call %d: the caller's own NULL commit met a moved agent barrier (%s); again",
		     tries, txn_text(s));
	}
	expect_state(TARGET_CPU, GHOST_TXN_COMPLETE, t0, "a NULL commit");
	expect_state(AGENT_CPU, GHOST_TXN_COMPLETE, t0,
		     "the caller's own txn in a call where no other one failed");
	if (r != 2)
		die("ghost_txn_commit_set(CPUs %d-%d) returned %d with both txns COMPLETE",
		    AGENT_CPU, TARGET_CPU, r);
	if (own->cpu_seqnum <= own_seq)
		die("the complete txn of CPU %d left cpu_seqnum at %" PRIu64, AGENT_CPU,
		    own->cpu_seqnum);
	if (own->commit_time < two->commit_time)
		die("the caller's own txn (CPU %d) has commit_time %" PRId64 ", before CPU %d's "
		    "%" PRId64 " (the caller's CPU goes last)",
		    AGENT_CPU, own->commit_time, TARGET_CPU, two->commit_time);
	note("one call over CPUs %d-%d, no failure: CPU %d %s, CPU %d (the caller's) %s, "
	     "not poisoned (call %d; it slept %" PRId64 " ms on the doorbell)",
	     AGENT_CPU, TARGET_CPU, TARGET_CPU, txn_text(ghost_txn_state(two)), AGENT_CPU,
	     txn_text(ghost_txn_state(own)), tries, (t1 - t0) / 1000000);
	drain();
	if (c->nlog != n)
		die("commits to other targets produced messages for %s: %s", c->name,
		    log_text(c, n));
}

/*
 * c, woken, is committed to TARGET_CPU (idle, its agent asleep) with COMMIT_AT_SCHEDULE: the
 * commit call leaves the txn READY for that CPU and ghost_txn_commit_set() does not wait for
 * it. The CPU commits it at its next schedule, which its sleeping agent passes through when
 * it wakes (if that has not happened within AT_SCHEDULE_MS, a ping wakes it): the txn
 * becomes COMPLETE, then c runs there.
 */
static void step_commit_at_schedule(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	struct ghost_txn *txn;
	struct ghost_cpuset one;
	pid_t agent_tid = (pid_t)ghost_gtid_to_tid(ghost_sw_gtid(agent_sw[TARGET_CPU]));
	int64_t t0, t1, t_done, end;
	uint64_t seq0;
	int from = c->nlog, woken, r;
	int32_t s_after, s;
	bool pinged = false;
	long refused;
	const char *after;

	begin("%s committed to idle CPU %d with COMMIT_AT_SCHEDULE: READY after the call, "
	      "COMPLETE at CPU %d's next schedule, TASK_ON_CPU there",
	      c->name, TARGET_CPU, TARGET_CPU);
	if (c->runnable || c->on_cpu || c->latched)
		die("%s is not blocked before the step: runnable %d, on CPU %d, latched %d",
		    c->name, c->runnable, c->on_cpu, c->latched);
	/* c wakes and waits, runnable: nobody commits it yet. */
	wake_runnable(c);
	woken = c->nlog;
	wait_agent_asleep(TARGET_CPU);

	txn = open_txn(TARGET_CPU, c->gtid, c->seq, SEND_TASK_ON_CPU, COMMIT_AT_SCHEDULE);
	seq0 = txn->cpu_seqnum;
	ghost_cpuset_zero(&one);
	ghost_cpuset_set(&one, TARGET_CPU);
	t0 = ghost_now_ns();
	r = ghost_txn_commit_set(E, &one);
	t1 = ghost_now_ns();
	s_after = ghost_txn_state(txn);
	if (r < 0)
		die("ghost_txn_commit_set(CPU %d) of a COMMIT_AT_SCHEDULE txn: %s", TARGET_CPU,
		    strerror(-r));
	c->latched = true;
	c->commits++;
	if (s_after == GHOST_TXN_READY) {
		after = "still READY";
	} else if (s_after == TARGET_CPU) {
		after = "already taken by its CPU (its schedule came in between)";
	} else if (s_after == GHOST_TXN_COMPLETE) {
		after = "already COMPLETE (its CPU scheduled in between)";
	} else {
		die("right after the commit call the COMMIT_AT_SCHEDULE txn of CPU %d is %s (%d), "
		    "expected READY (or taken by CPU %d, or COMPLETE)",
		    TARGET_CPU, txn_text(s_after), s_after, TARGET_CPU);
	}
	if (r > 1 || (r == 1 && s_after != GHOST_TXN_COMPLETE))
		die("ghost_txn_commit_set(CPU %d) returned %d with the txn %s afterwards",
		    TARGET_CPU, r, txn_text(s_after));
	note("the commit call returned %d after %" PRId64 " us; the txn of CPU %d: %s", r,
	     (t1 - t0) / 1000, TARGET_CPU, after);

	/* CPU 2 commits it at its next schedule. */
	end = t1 + (int64_t)AT_SCHEDULE_MS * 1000000;
	/* READY, or claimed (>= 0) while CPU 2 commits it. */
	while ((s = ghost_txn_state(txn)) >= 0) {
		if (ghost_now_ns() > end) {
			if (pinged)
				die("the COMMIT_AT_SCHEDULE txn of CPU %d is %s %d ms after the "
				    "commit call and %d ms after a ping of CPU %d's agent (agent "
				    "tid %d, state '%c', word %s); %s: runnable %d, on CPU %d; its "
				    "messages: %s; the CPU messages: %s",
				    TARGET_CPU, txn_text(s), AT_SCHEDULE_MS + WAIT_MS, WAIT_MS,
				    TARGET_CPU, (int)agent_tid, proc_state(agent_tid),
				    avail_text(TARGET_CPU), c->name, c->runnable, c->on_cpu,
				    log_text(c, from), cpu_log_text());
			note("the txn of CPU %d is still %s %d ms after the commit call (CPU %d's "
			     "agent, tid %d, state '%c'): a ping wakes that agent",
			     TARGET_CPU, txn_text(s), AT_SCHEDULE_MS, TARGET_CPU,
			     (int)agent_tid, proc_state(agent_tid));
			CHECK_OK(ghost_txn_ping(E, TARGET_CPU));
			pinged = true;
			end = ghost_now_ns() + (int64_t)WAIT_MS * 1000000;
		}
		drain();
		if (c->nlog > woken)
			die("%s while its COMMIT_AT_SCHEDULE txn of CPU %d is %s; its messages: %s",
			    msg_name(c->log[c->nlog - 1]), TARGET_CPU, txn_text(s),
			    log_text(c, from));
		usleep(200);
	}
	t_done = ghost_now_ns();
	if (s != GHOST_TXN_COMPLETE)
		die("the COMMIT_AT_SCHEDULE txn of %s to CPU %d (task barrier %u, status word "
		    "barrier %u) ended %s",
		    c->name, TARGET_CPU, c->seq, ghost_sw_barrier(c->sw), txn_text(s));
	if (txn->cpu_seqnum <= seq0)
		die("the complete txn of CPU %d left cpu_seqnum at %" PRIu64, TARGET_CPU,
		    txn->cpu_seqnum);
	/* Seen READY after the call returned (t1): committed after that. */
	if (txn->commit_time < t0 || (s_after == GHOST_TXN_READY && txn->commit_time < t1))
		die("the COMMIT_AT_SCHEDULE txn of CPU %d has commit_time %" PRId64 ": before "
		    "the commit call (%" PRId64 "), or, seen READY after it, before it returned "
		    "(%" PRId64 ")",
		    TARGET_CPU, txn->commit_time, t0, t1);
	note("CPU %d committed it %" PRId64 " ms after the call returned (%s; seen COMPLETE "
	     "after %" PRId64 " ms)",
	     TARGET_CPU, (txn->commit_time - t1) / 1000000,
	     pinged ? "after a ping of its agent" : "no ping needed", (t_done - t1) / 1000000);

	wait_msg(c, MSG_TASK_ON_CPU, from);
	if (c->on_cpu_cpu != TARGET_CPU)
		die("TASK_ON_CPU of %s says CPU %d; it was committed to CPU %d", c->name,
		    c->on_cpu_cpu, TARGET_CPU);
	refused = run_on(c, TARGET_CPU, from);
	check_sequence(c, from, want, N(want));
	if (refused)
		note("%ld commits of %s refused with CPU_UNAVAIL after it ran", refused, c->name);
}

/* ---- sync groups ----------------------------------------------------------------------------- */

#define GROUP_OWNER	AGENT_CPU	/* the sync_group_owner of every group txn: the caller's CPU */
#define NO_RUN_MS	300		/* how long a task of a failed group must stay off CPU */

/* Opens cpu's txn for a sync group owned by GROUP_OWNER; any error fails the test. */
static struct ghost_txn *open_group_txn(int cpu, int64_t gtid, uint32_t barrier,
					uint16_t run_flags)
{
	return open_txn_owned(cpu, gtid, barrier, run_flags, 0, GROUP_OWNER);
}

/* One sync-group call over set (TARGET_CPU and BUSY_CPU), timed; an errno fails the test. */
static int sync_group_call(const struct ghost_cpuset *set, int64_t *t0, int64_t *t1)
{
	int r;

	*t0 = ghost_now_ns();
	r = ghost_txn_commit_sync_group(E, set);
	*t1 = ghost_now_ns();
	if (r < 0)
		die("ghost_txn_commit_sync_group(CPUs %d, %d): %s", TARGET_CPU, BUSY_CPU,
		    strerror(-r));
	return r;
}

/* After a sync-group call, cpu's txn belongs to no group any more. */
static void expect_unowned(int cpu, const char *what)
{
	const struct ghost_txn *txn = ghost_enclave_txn(E, cpu);
	int32_t owner = __atomic_load_n(&txn->u.sync_group_owner, __ATOMIC_ACQUIRE);

	if (owner != -1)
		die("%s: the txn of CPU %d still has sync_group_owner %d, expected -1", what, cpu,
		    (int)owner);
}

/*
 * Sync groups (all or nothing) from CPU 1's agent over CPUs 2 and 3, c runnable:
 *  - failure: TARGET_CPU's txn for a gtid nobody has, BUSY_CPU's for c. The backend checks
 *    the CPUs in order (others than the caller's by increasing id), so TARGET_CPU's txn is
 *    the first to fail whatever happens on BUSY_CPU: the call returns 0, TARGET_CPU's txn is
 *    TARGET_NOT_FOUND, BUSY_CPU's POISONED, neither took a cpu_seqnum, both are out of the
 *    group; c is not latched, gets no message and does not run (no answer) for NO_RUN_MS,
 *    and a plain commit of c to BUSY_CPU with the same barrier then goes through and runs it;
 *  - success, c woken again: c to TARGET_CPU plus a NULL commit to BUSY_CPU: 1, both
 *    COMPLETE with a new cpu_seqnum and out of the group, then c runs on TARGET_CPU
 *    (TASK_ON_CPU there). A group refused with CPU_UNAVAIL on TARGET_CPU (a higher class
 *    holds it for a moment; the NULL commit POISONED) is tried again, at most BUSY_TRIES calls.
 */
static void step_sync_group(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	struct ghost_txn *bad, *good, *task, *null;
	struct ghost_cpuset set;
	uint64_t bad_seq, good_seq, task_seq, null_seq;
	int64_t t0, t1, end;
	int from = c->nlog, n, r, tries, a;
	long refused;
	int32_t s, s_task, s_null;

	begin("sync groups over CPUs %d and %d: a gtid nobody has on CPU %d fails the group "
	      "(0; %s POISONED on CPU %d, does not run); %s to CPU %d with a NULL commit to "
	      "CPU %d: 1, both COMPLETE, it runs",
	      TARGET_CPU, BUSY_CPU, TARGET_CPU, c->name, BUSY_CPU, c->name, TARGET_CPU,
	      BUSY_CPU);
	if (c->runnable || c->on_cpu || c->latched)
		die("%s is not blocked before the step: runnable %d, on CPU %d, latched %d",
		    c->name, c->runnable, c->on_cpu, c->latched);
	if (sched_getcpu() != AGENT_CPU)
		die("the agent of CPU %d runs on CPU %d", AGENT_CPU, sched_getcpu());
	ghost_cpuset_zero(&set);
	ghost_cpuset_set(&set, TARGET_CPU);
	ghost_cpuset_set(&set, BUSY_CPU);

	/* (a) c wakes and waits, runnable: nobody commits it yet. */
	wake_runnable(c);
	n = c->nlog;

	bad = open_group_txn(TARGET_CPU, BOGUS_GTID, 1, SEND_TASK_ON_CPU);
	good = open_group_txn(BUSY_CPU, c->gtid, c->seq, SEND_TASK_ON_CPU);
	bad_seq = bad->cpu_seqnum;
	good_seq = good->cpu_seqnum;
	r = sync_group_call(&set, &t0, &t1);
	s = ghost_txn_state(good);
	if (r != 0)
		die("ghost_txn_commit_sync_group(CPUs %d, %d) with a gtid nobody has on CPU %d "
		    "returned %d, expected 0; the txn of CPU %d is %s, of CPU %d %s",
		    TARGET_CPU, BUSY_CPU, TARGET_CPU, r, TARGET_CPU,
		    txn_text(ghost_txn_state(bad)), BUSY_CPU, txn_text(s));
	expect_state(TARGET_CPU, GHOST_TXN_TARGET_NOT_FOUND, t0,
		     "the txn for a gtid nobody has, in a failed sync group");
	expect_state(BUSY_CPU, GHOST_TXN_POISONED, t0,
		     "the valid txn of a sync group where another one failed");
	if (bad->cpu_seqnum != bad_seq)
		die("the failed group txn of CPU %d moved cpu_seqnum from %" PRIu64 " to %" PRIu64,
		    TARGET_CPU, bad_seq, bad->cpu_seqnum);
	if (good->cpu_seqnum != good_seq)
		die("the poisoned group txn of CPU %d moved cpu_seqnum from %" PRIu64 " to %" PRIu64
		    " (it must not be carried out)",
		    BUSY_CPU, good_seq, good->cpu_seqnum);
	expect_unowned(TARGET_CPU, "after a failed sync group");
	expect_unowned(BUSY_CPU, "after a failed sync group");
	note("failed sync group (the call took %" PRId64 " us): CPU %d %s, CPU %d %s, both "
	     "out of the group",
	     (t1 - t0) / 1000, TARGET_CPU, txn_text(ghost_txn_state(bad)), BUSY_CPU,
	     txn_text(ghost_txn_state(good)));

	/* Nothing of the group happened: c waits, runnable, and does not run. */
	end = ghost_now_ns() + (int64_t)NO_RUN_MS * 1000000;
	while (ghost_now_ns() < end) {
		a = try_ack(c);
		if (a)
			die("%s answered '%c' (it ran) after the sync group that was to run it "
			    "failed",
			    c->name, a > 0 ? a : '?');
		drain();
		if (c->nlog != n)
			die("messages for %s after the sync group that was to run it failed: %s",
			    c->name, log_text(c, n));
		if (!ghost_sw_runnable(c->sw) || ghost_sw_on_cpu(c->sw))
			die("after the failed sync group the status word of %s has flags 0x%x: "
			    "expected RUNNABLE, not ONCPU",
			    c->name, ghost_sw_flags(c->sw));
		usleep(1000);
	}
	if (ghost_sw_barrier(c->sw) != c->seq)
		die("the status word barrier of %s moved from %u to %u after the failed sync "
		    "group",
		    c->name, c->seq, ghost_sw_barrier(c->sw));
	note("%s did not run in the %d ms after the failed group (no message, no answer)",
	     c->name, NO_RUN_MS);

	/* It is still runnable and committable: the same request alone goes through. */
	for (tries = 1;; tries++) {
		s = commit_to(BUSY_CPU, c->gtid, c->seq);
		if (s == GHOST_TXN_COMPLETE)
			break;
		if (s != GHOST_TXN_CPU_UNAVAIL || tries >= BUSY_TRIES)
			die("commit %d of %s to CPU %d after the failed sync group (task barrier %u, "
			    "status word barrier %u): expected %s, got %s; agent word of CPU %d %s",
			    tries, c->name, BUSY_CPU, c->seq, ghost_sw_barrier(c->sw),
			    ghost_txn_reason(GHOST_TXN_COMPLETE), ghost_txn_reason(s), BUSY_CPU,
			    avail_text(BUSY_CPU));
		note("commit %d of %s to CPU %d after the failed group: %s (a higher class there "
		     "for a moment); again",
		     tries, c->name, BUSY_CPU, ghost_txn_reason(s));
		usleep(10000);
	}
	c->latched = true;
	c->commits++;
	wait_msg(c, MSG_TASK_ON_CPU, n);
	if (c->on_cpu_cpu != BUSY_CPU)
		die("TASK_ON_CPU of %s says CPU %d; it was committed to CPU %d", c->name,
		    c->on_cpu_cpu, BUSY_CPU);
	refused = run_on(c, BUSY_CPU, from);
	check_sequence(c, from, want, N(want));
	note("a plain commit of %s to CPU %d with the same barrier ran it (commit %d; %ld "
	     "refused with CPU_UNAVAIL after it ran)",
	     c->name, BUSY_CPU, tries, refused);

	/* (b) c wakes again: c to TARGET_CPU and a NULL commit to BUSY_CPU, all or nothing. */
	from = c->nlog;
	wake_runnable(c);
	n = c->nlog;
	for (tries = 1;; tries++) {
		task = open_group_txn(TARGET_CPU, c->gtid, c->seq, SEND_TASK_ON_CPU);
		null = open_group_txn(BUSY_CPU, GHOST_NULL_GTID, 0, 0);
		task_seq = task->cpu_seqnum;
		null_seq = null->cpu_seqnum;
		r = sync_group_call(&set, &t0, &t1);
		s_task = ghost_txn_state(task);
		s_null = ghost_txn_state(null);
		if (r == 1 || s_task != GHOST_TXN_CPU_UNAVAIL || s_null != GHOST_TXN_POISONED ||
		    tries >= BUSY_TRIES)
			break;
		note("sync group %d: CPU %d %s, CPU %d %s (a higher class on CPU %d for a "
		     "moment); again",
		     tries, TARGET_CPU, txn_text(s_task), BUSY_CPU, txn_text(s_null), TARGET_CPU);
		expect_unowned(TARGET_CPU, "after a failed sync group");
		expect_unowned(BUSY_CPU, "after a failed sync group");
		drain();
		if (c->nlog != n)
			die("messages for %s after a failed sync group: %s", c->name,
			    log_text(c, n));
		usleep(10000);
	}
	if (r != 1)
		die("ghost_txn_commit_sync_group(CPUs %d, %d) of %s to CPU %d (task barrier %u, "
		    "status word barrier %u) and a NULL commit to CPU %d returned %d, expected 1; "
		    "the txn of CPU %d is %s, of CPU %d %s (call %d)",
		    TARGET_CPU, BUSY_CPU, c->name, TARGET_CPU, c->seq, ghost_sw_barrier(c->sw),
		    BUSY_CPU, r, TARGET_CPU, txn_text(s_task), BUSY_CPU, txn_text(s_null), tries);
	c->latched = true;
	c->commits++;
	expect_state(TARGET_CPU, GHOST_TXN_COMPLETE, t0, "the task's txn of a sync group");
	expect_state(BUSY_CPU, GHOST_TXN_COMPLETE, t0, "the NULL txn of a sync group");
	if (task->cpu_seqnum <= task_seq)
		die("the complete group txn of CPU %d left cpu_seqnum at %" PRIu64, TARGET_CPU,
		    task->cpu_seqnum);
	if (null->cpu_seqnum <= null_seq)
		die("the complete group txn of CPU %d left cpu_seqnum at %" PRIu64, BUSY_CPU,
		    null->cpu_seqnum);
	expect_unowned(TARGET_CPU, "after a sync group that committed");
	expect_unowned(BUSY_CPU, "after a sync group that committed");
	note("sync group (call %d, it took %" PRId64 " us): CPU %d %s, CPU %d %s, both out of "
	     "the group",
	     tries, (t1 - t0) / 1000, TARGET_CPU, txn_text(s_task), BUSY_CPU, txn_text(s_null));

	wait_msg(c, MSG_TASK_ON_CPU, from);
	if (c->on_cpu_cpu != TARGET_CPU)
		die("TASK_ON_CPU of %s says CPU %d; its sync group committed it to CPU %d",
		    c->name, c->on_cpu_cpu, TARGET_CPU);
	refused = run_on(c, TARGET_CPU, from);
	check_sequence(c, from, want, N(want));
	if (refused)
		note("%ld commits of %s refused with CPU_UNAVAIL after it ran", refused, c->name);
}

/* ---- agents ---------------------------------------------------------------------------------- */

static int set_fifo(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

/* The agent of a CPU the child is sent to: attached, then in local yield until stopped. */
static void *agent_main(void *arg)
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
	a->err = K->agent_attach(KH, a->cpu, C->qid);
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
	K->agent_detach(KH, a->cpu);
	return NULL;
}

static void start_agents(void)
{
	struct ghost_sw_info info;
	int err;

	/* The main thread: CPU 1's agent, SCHED_FIFO, pinned there by the attach. */
	err = set_fifo();
	if (err)
		die("SCHED_FIFO for the agent: %s", strerror(err));
	CHECK_OK(ghost_enclave_agent_online(E));
	err = K->agent_attach(KH, AGENT_CPU, C->qid);
	if (err)
		die("agent_attach(CPU %d): %s", AGENT_CPU, strerror(-err));
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

static void stop_agents(void)
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
				die("the agent of CPU %d did not stop within %d ms of pings", a->cpu,
				    WAIT_MS);
		}
		if (a->err)
			die("the agent of CPU %d: local yield failed: %s", a->cpu, strerror(-a->err));
	}
	K->agent_detach(KH, AGENT_CPU);
}

/* ---- the steps ------------------------------------------------------------------------------- */

static void check_preconditions(void)
{
	const struct ghost_kernel_ops *ops = ghost_kernel_find("scx");
	struct stat st;
	char why[256] = "";

	if (stat(SCX_DIR, &st) != 0)
		skip("this kernel has no sched_ext (" SCX_DIR " is absent)");
	if (geteuid() != 0)
		skip("needs root");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 4)
		skip("needs CPUs 0-3");
	if (!ops)
		die("this library has no \"scx\" kernel backend");
	if (!ops->enclave_create)
		skip("this library was built without the sched_ext backend (make SCX=1)");
	if (ops->probe(NULL, why, sizeof(why)))
		die("the scx backend's probe fails on a kernel with sched_ext: %s", why);
	/* A scheduler of the previous test may still be on its way out. */
	wait_scx_state("disabled", WAIT_MS, "before the test (is another scheduler loaded?)");
}

static void step_setup(void)
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
	K = ghost_enclave_kernel(E);
	KH = ghost_enclave_kernel_handle(E);
	CHECK_STR(K->name, "scx");
	wait_scx_state("enabled", WAIT_MS, "with the enclave open");
	CHECK_OK(ghost_channel_create(E, QUEUE_SLOTS, 0, &C));
	CHECK_OK(ghost_channel_set_default(C));
	CHECK_OK(ghost_channel_config_wakeup(C, NULL, 0));
	start_agents();
	drain();
}

/* The child, asleep in read(), is moved in: TASK_NEW with runnable 0. */
static void step_enter(struct child *c)
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

/* A command wakes it: TASK_WAKEUP; two commits that must fail, then one that runs it. */
static void step_wake(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };
	int from = c->nlog, n;

	begin("%s wakes; stale and unknown targets fail, the right commit runs it on CPU %d",
	      c->name, TARGET_CPU);
	wake_runnable(c);
	if (!ghost_sw_runnable(c->sw) || ghost_sw_on_cpu(c->sw))
		die("after TASK_WAKEUP the status word of %s has flags 0x%x: expected RUNNABLE, "
		    "not ONCPU",
		    c->name, ghost_sw_flags(c->sw));
	expect_commit(c, c->gtid, c->seq - 1, GHOST_TXN_TARGET_STALE, "task barrier - 1");
	expect_commit(c, BOGUS_GTID, 1, GHOST_TXN_TARGET_NOT_FOUND, "a gtid nobody has");
	n = c->nlog;
	drain();
	if (c->nlog != n)
		die("failed commits produced messages for %s: %s", c->name, log_text(c, n));
	run_until(c, END_BLOCKED, from);
	check_sequence(c, from, want, N(want));
	if (c->on_cpu_cpu != TARGET_CPU)
		die("TASK_ON_CPU of %s says CPU %d; it was committed to CPU %d", c->name,
		    c->on_cpu_cpu, TARGET_CPU);
}

/* One command, the child scheduled until it is back in read(); want: the messages. */
static void step_cmd(struct child *c, char cmd, const char *what, const uint16_t *want, int n)
{
	int from = c->nlog;

	begin("%s: %s", c->name, what);
	send_cmd(c, cmd);
	run_until(c, END_BLOCKED, from);
	check_sequence(c, from, want, n);
}

static void step_yield(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_YIELD,
					 MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };

	step_cmd(c, 'y', "sched_yield() -> TASK_YIELD", want, N(want));
}

static void step_sleep(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP,  MSG_TASK_ON_CPU, MSG_TASK_BLOCKED,
					 MSG_TASK_WAKEUP,  MSG_TASK_ON_CPU, MSG_TASK_BLOCKED };

	step_cmd(c, 's', "usleep(20 ms) -> TASK_BLOCKED, TASK_WAKEUP", want, N(want));
}

static void step_affinity(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU,
					 MSG_TASK_AFFINITY_CHANGED, MSG_TASK_BLOCKED };

	step_cmd(c, 'a', "sched_setaffinity(CPUs 2-3) -> TASK_AFFINITY_CHANGED", want, N(want));
}

static void step_nice(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU,
					 MSG_TASK_PRIORITY_CHANGED, MSG_TASK_BLOCKED };

	step_cmd(c, 'n', "setpriority(nice 5) -> TASK_PRIORITY_CHANGED", want, N(want));
	if (c->nice != 5)
		die("TASK_PRIORITY_CHANGED of %s says nice %d, expected 5", c->name, c->nice);
}

/* A departed or dead task's word: CANFREE, and the kernel takes it back. */
static void free_word(struct child *c)
{
	int err;

	if (!ghost_sw_can_free(c->sw))
		die("the status word of %s lacks CANFREE after %s (flags 0x%x)", c->name,
		    msg_name(c->log[c->nlog - 1]), ghost_sw_flags(c->sw));
	err = ghost_sw_free(E, &c->swi);
	if (err)
		die("ghost_sw_free of %s's word: %s", c->name, strerror(-err));
}

/* The child switches itself to SCHED_OTHER: TASK_DEPARTED; it runs on outside. */
static void step_depart(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_DEPARTED };
	int from = c->nlog, policy;
	bool answered;

	begin("%s: sched_setscheduler(SCHED_OTHER) -> TASK_DEPARTED", c->name);
	send_cmd(c, 'o');
	answered = run_until(c, END_GONE, from);
	check_sequence(c, from, want, N(want));
	if (c->log[c->nlog - 1] != MSG_TASK_DEPARTED)
		die("%s left with %s, expected TASK_DEPARTED", c->name,
		    msg_name(c->log[c->nlog - 1]));
	/* It runs on outside the enclave and answers. */
	if (!answered && wait_ack(c, WAIT_MS) != 'k')
		die("%s says sched_setscheduler(SCHED_OTHER) failed", c->name);
	policy = sched_getscheduler(c->pid);
	if (policy != SCHED_OTHER)
		die("%s has policy %d after departing, expected SCHED_OTHER", c->name, policy);
	free_word(c);
	send_cmd(c, 'q');
	reap(c);
}

/* The child exits inside the enclave: TASK_DEAD. */
static void step_exit(struct child *c)
{
	static const uint16_t want[] = { MSG_TASK_WAKEUP, MSG_TASK_ON_CPU, MSG_TASK_DEAD };
	int from = c->nlog;

	begin("%s exits inside the enclave -> TASK_DEAD", c->name);
	send_cmd(c, 'x');
	run_until(c, END_GONE, from);
	check_sequence(c, from, want, N(want));
	if (c->log[c->nlog - 1] != MSG_TASK_DEAD)
		die("%s left with %s, expected TASK_DEAD", c->name, msg_name(c->log[c->nlog - 1]));
	reap(c);
	free_word(c);
}

static void step_teardown(void)
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

int main(void)
{
	scx_step = g_step;
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(report_at_exit);
	atexit(kill_children);
	signal(SIGALRM, on_alarm);
	alarm(TIMEOUT_S);
	signal(SIGPIPE, SIG_IGN);
	ghost_log_set_callback(ghost_log_stderr, NULL, GHOST_LOG_WARN);

	check_preconditions();
	/* Forked before this process becomes a SCHED_FIFO agent pinned to CPU 1. */
	spawn_child(&child_a);
	spawn_child(&child_b);
	step_setup();

	step_enter(&child_a);
	step_wake(&child_a);
	step_yield(&child_a);
	step_sleep(&child_a);
	step_affinity(&child_a);
	step_nice(&child_a);
	step_spin_start(&child_a);
	step_ticks(&child_a);
	step_cpu_avail(&child_a);
	step_spin_stop(&child_a);
	step_busy_idle_cpu(&child_a);
	step_poison(&child_a);
	step_commit_at_schedule(&child_a);
	step_sync_group(&child_a);
	step_depart(&child_a);

	step_enter(&child_b);
	step_exit(&child_b);

	step_teardown();
	note("passed: %ld task messages (%d + %d commits), %ld CPU messages", g_task_msgs,
	     child_a.commits, child_b.commits, g_cpu_msgs);
	g_finished = true;
	return 0;
}
