/*
 * bench/ghost-bench/interpose.c - what libghost-preload.so costs a call that does not block:
 * an uncontended mutex lock and unlock, and a one-byte write and read of a pipe that has room
 * and data, timed in a child of this program (the --interpose-child role) run twice in the
 * same bench run: plainly (the baseline rows), and by `ghostctl run` under a ghost-agent
 * (fifo-percpu), where the child is a ghost task and every call goes through the
 * interposer's fast path. Only on the emu backend, in a build that has the interposer.
 *
 * Owns the role and its two runs; measures nothing of the agent itself.
 */
#include "bench.h"
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CALLS_PER_BATCH 64

/* The role: per-call ns of each batch, one line each ("m NS" mutex, "p NS" pipe). */
int interpose_child(long batches)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	int fd[2];
	char c = 0;

	if (pipe(fd))
		return 1;
	for (long i = 0; i < batches; i++) {
		int64_t t0 = now_ns(), t1;

		for (int j = 0; j < CALLS_PER_BATCH; j++) {
			pthread_mutex_lock(&m);
			pthread_mutex_unlock(&m);
		}
		t1 = now_ns();
		for (int j = 0; j < CALLS_PER_BATCH; j++)
			if (write(fd[1], &c, 1) != 1 || read(fd[0], &c, 1) != 1)
				return 1;
		printf("m %.1f\np %.1f\n", (double)(t1 - t0) / CALLS_PER_BATCH,
		       (double)(now_ns() - t1) / CALLS_PER_BATCH);
	}
	return 0;
}

/* Runs argv (the role, directly or through ghostctl) into the two sample sets. */
static int measure(char *const argv[], struct samples *mutex, struct samples *io)
{
	static char out[1 << 20];
	char *line, *save = NULL;
	int st = run_capture(argv, out, sizeof(out), 120000, true);

	if (st)
		return st;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		double v = strtod(line + 2, NULL);

		if (line[0] == 'm')
			samples_add(mutex, v);
		else if (line[0] == 'p')
			samples_add(io, v);
	}
	return mutex->n && io->n ? 0 : -1;
}

void interpose_rows(struct bench *b)
{
	static const struct macro_cfg fifo = { .name = "interpose", .policy = "fifo-percpu" };
	struct samples mp = { 0 }, ip = { 0 }, mg = { 0 }, ig = { 0 };
	char lib[PATH_MAX + 32], root[300], ctl[PATH_MAX + 16], nb[24];
	struct row *r, agent_row = { .note = "" };
	pid_t agent;
	int st;

	snprintf(lib, sizeof(lib), "%s/../lib/libghost-preload.so", b->bin_dir);
	if (strcmp(b->kernel_name, "emu") || access(lib, R_OK))
		return; /* the interposer is for emu, and not in every build */
	progress(b, "interposer");
	snprintf(nb, sizeof(nb), "%ld", (b->n_warm + b->n_iter) / 20 + 10);
	snprintf(ctl, sizeof(ctl), "%s/ghostctl", b->bin_dir);
	{
		char *plain[] = { b->self_exe, "--interpose-child", nb, NULL };

		st = measure(plain, &mp, &ip);
	}
	r = row_time(b, "baseline_mutex_uncontended",
		     "baseline: uncontended pthread mutex lock + unlock", &mp, NULL, NAN);
	if (st)
		phase_fail(r, "the role failed", st);
	r = row_time(b, "baseline_pipe_write_read", "baseline: 1-byte pipe write + read, ready",
		     &ip, NULL, NAN);
	snprintf(root, sizeof(root), "%s/interpose", b->root);
	if (mkdir(root, 0700) && errno != EEXIST)
		return;
	agent = macro_agent(b, &fifo, root, &agent_row);
	st = -1;
	if (agent >= 0) {
		char *run[] = { ctl,
				"--kernel",
				"emu",
				"--root",
				root,
				"run",
				"--enclave",
				"1",
				"--",
				b->self_exe,
				"--interpose-child",
				nb,
				NULL };

		st = measure(run, &mg, &ig);
		macro_stop_agent(agent, &agent_row);
	}
	r = row_time(b, "interpose_mutex_uncontended",
		     "interposer: the same lock + unlock in a ghost task (fast path)", &mg,
		     "baseline_mutex_uncontended", 3.0);
	if (agent_row.note[0])
		row_note(r, "%s", agent_row.note);
	if (st)
		phase_fail(r, agent < 0 ? "no agent" : "ghostctl run of the role failed", st);
	r = row_time(b, "interpose_pipe_write_read",
		     "interposer: the same write + read in a ghost task (poll first)", &ig,
		     "baseline_pipe_write_read", 2.5);
}
