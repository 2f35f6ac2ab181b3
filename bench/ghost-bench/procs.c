/*
 * bench/ghost-bench/procs.c - the processes the bench starts (its own roles, ghost-agent,
 * ghostctl, ghost-workload) and its scratch directory: however the bench ends, no child
 * goes on without it and nothing of the run stays in /tmp.
 *
 * Owns the table of live children and the scratch directory's path, both at file scope
 * because the signal handler (and the atexit hook) that clean up read them, and how a child
 * role of this program starts: a page shared through the scratch directory, the enclave
 * attached. Measures nothing.
 */
#include "bench.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Processes the bench started and has not reaped yet: killed if the bench is
 * interrupted or times out, so that no agent goes on spinning without it.
 */
static volatile pid_t children[8];
/* The run's scratch directory, removed at exit and by the signal handler. */
static const char *scratch_dir;

void child_started(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (!children[i]) {
			children[i] = pid;
			return;
		}
}

void child_reaped(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == pid)
			children[i] = 0;
}

/*
 * fork() for the bench's children: each dies with the bench, however the
 * bench ends (kill_children covers the ways it can see; SIGKILL, say from
 * a test's timeout, it cannot, and a preemption child spins for good).
 */
pid_t fork_child(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent))
		_exit(127); /* the bench is already gone */
	return pid;
}

static void kill_children(void)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
}

/* Runs argv, capturing stdout into buf; kills it after timeout_ms. Returns its status. */
int run_capture(char *const argv[], char *buf, size_t len, int timeout_ms, bool quiet)
{
	int pfd[2], status = -1;
	size_t used = 0;
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
	pid_t pid;

	if (len)
		buf[0] = 0;
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid = fork_child();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		dup2(pfd[1], 1);
		if (devnull >= 0) {
			dup2(devnull, 0);
			if (quiet)
				dup2(devnull, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	child_started(pid);
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		ssize_t r;

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if (used + 1 >= len) {
			char sink[512];

			r = read(pfd[0], sink, sizeof(sink));
		} else {
			r = read(pfd[0], buf + used, len - used - 1);
			if (r > 0) {
				used += (size_t)r;
				buf[used] = 0;
			}
		}
		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_reaped(pid);
	return status;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup_scratch(void)
{
	if (scratch_dir && scratch_dir[0])
		nftw(scratch_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The file name in root, size bytes, mapped shared (created, zeroed, if create); NULL if not. */
static void *map_shared(const char *root, const char *name, size_t size, bool create)
{
	char path[PATH_MAX];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = create ? open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
		    : open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (create && ftruncate(fd, (off_t)size)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * Starts this program as "ROLE ROOT ID" (enclave ID of the backend's enclave) on the
 * process's original CPUs, with the page name of size bytes shared with it in *shm.
 */
pid_t start_role(struct bench *b, const char *role, const char *name, size_t size, void **shm)
{
	char idbuf[32];
	pid_t child;

	*shm = map_shared(b->root, name, size, true);
	if (!*shm)
		tool_fatal("cannot create %s/%s: %s", b->root, name, strerror(errno));
	snprintf(idbuf, sizeof(idbuf), "%" PRIu64, ghost_enclave_id(b->enclave));
	child = fork_child();
	if (child < 0)
		tool_fatal("cannot fork: %s", strerror(errno));
	if (child == 0) {
		char *argv[] = { b->self_exe, (char *)role, b->root, idbuf, NULL };

		/* Not pinned where this agent thread is. */
		sched_setaffinity(0, sizeof(b->orig_affinity), &b->orig_affinity);
		setenv("GHOST_KERNEL", b->kernel_name, 1);
		execv(b->self_exe, argv);
		_exit(127);
	}
	child_started(child);
	return child;
}

/*
 * The child's side of start_role: the shared page name (size bytes) in *shm and enclave id
 * of root attached in *e. 0, or the exit status that says which failed (3 the page, 4 the
 * enclave).
 */
int role_attach(const char *root, const char *id, const char *name, size_t size, void **shm,
		struct ghost_enclave **e)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo), .root = root };

	*shm = map_shared(root, name, size, false);
	if (!*shm)
		return 3;
	eo.id = strtoull(id, NULL, 10);
	eo.kernel = getenv("GHOST_KERNEL");
	return ghost_enclave_attach(&eo, e) ? 4 : 0;
}

void make_scratch_dir(struct bench *b)
{
	snprintf(b->root, sizeof(b->root), "/tmp/ghost-bench.XXXXXX");
	if (!mkdtemp(b->root))
		tool_fatal("cannot create a temporary directory: %s", strerror(errno));
	scratch_dir = b->root;
}

/* Timed out or interrupted: no process of ours goes on without us, nothing stays in /tmp. */
static void on_fatal_signal(int sig)
{
	static const char hung[] = PROG ": timed out (a measurement hung)\n";
	static const char stopped[] = PROG ": interrupted\n";
	bool alarm_sig = sig == SIGALRM;

	kill_children();
	if (write(2, alarm_sig ? hung : stopped,
		  alarm_sig ? sizeof(hung) - 1 : sizeof(stopped) - 1) < 0)
		_exit(1);
	cleanup_scratch();
	_exit(alarm_sig ? 1 : 128 + sig);
}

/*
 * From here on the bench ends cleanly however it ends: SIGINT, SIGTERM and (after
 * alarm_s, a measurement that hung) SIGALRM kill its children and remove its scratch
 * directory, as exit() does.
 */
void guard_exit(unsigned alarm_s)
{
	tool_on_signal(SIGALRM, on_fatal_signal, SA_RESTART);
	tool_on_stop_signals(on_fatal_signal, SA_RESTART);
	tool_on_signal(SIGPIPE, SIG_IGN, 0);
	alarm(alarm_s);
	atexit(cleanup_scratch);
}
