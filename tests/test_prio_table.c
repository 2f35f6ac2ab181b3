/*
 * tests/test_prio_table.c - the PrioTable, its two sides in two processes.
 *
 * Checks: bad options and the one-table-per-process rule; items and classes
 * written by the application read back by an agent in another process
 * (attached through /proc/PID/fd); the stream returns each changed index once,
 * overflows into a full re-read and recovers; a reader never returns an item
 * torn by a concurrent writer (a writer thread keeps two fields equal); an
 * attacher refuses a table whose header lies about its geometry; a process
 * without a table is -ENOENT.
 */
#include "test.h"

#include <ghost/priotable.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_bad_options(void)
{
	struct ghost_prio_table_opts o = { .sz = sizeof(o), .items = 4, .classes = 1 };
	struct ghost_prio_table *pt, *again;
	struct {
		struct ghost_prio_table_opts o;
		uint64_t extra;
	} big = { .o = { .sz = sizeof(big), .items = 4, .classes = 1 }, .extra = 1 };

	CHECK_ERR(ghost_prio_table_create(NULL, &pt), EINVAL);
	o.items = 0;
	CHECK_ERR(ghost_prio_table_create(&o, &pt), EINVAL);
	o.items = 70000;
	CHECK_ERR(ghost_prio_table_create(&o, &pt), EINVAL);
	o.items = 4;
	o.classes = 0;
	CHECK_ERR(ghost_prio_table_create(&o, &pt), EINVAL);
	o.classes = 1;
	/* A larger struct from a newer caller: only with a zero tail. */
	CHECK_ERR(ghost_prio_table_create(&big.o, &pt), E2BIG);
	big.extra = 0;
	CHECK_OK(ghost_prio_table_create(&big.o, &pt));
	CHECK_ERR(ghost_prio_table_create(&o, &again), EEXIST);
	ghost_prio_table_destroy(pt);
	/* An older, smaller struct (no stream field) gets the default. */
	o.sz = offsetof(struct ghost_prio_table_opts, stream);
	CHECK_OK(ghost_prio_table_create(&o, &pt));
	{
		struct ghost_work_class wc = { .id = 1 };
		struct ghost_sched_item si = { .wcid = 0 };

		CHECK_ERR(ghost_prio_table_set_class(pt, &wc), EINVAL);
		wc.id = 0;
		wc.flags = GHOST_WORK_CLASS_ONESHOT | GHOST_WORK_CLASS_REPEATING;
		CHECK_ERR(ghost_prio_table_set_class(pt, &wc), EINVAL);
		CHECK_ERR(ghost_prio_table_set_item(pt, 4, &si), EINVAL);
		si.wcid = 1;
		CHECK_ERR(ghost_prio_table_set_item(pt, 0, &si), EINVAL);
		CHECK_ERR(ghost_prio_table_mark_runnable(pt, 9), EINVAL);
	}
	/* The stream is the agent's to drain. */
	CHECK_ERR(ghost_prio_table_next_updated(pt), EINVAL);
	{
		/* A forked child owns no table: it may create its own. */
		pid_t pid = fork();
		int status;

		CHECK(pid >= 0);
		if (pid == 0) {
			struct ghost_prio_table *mine;

			_exit(ghost_prio_table_create(&o, &mine) == 0 ? 0 : 3);
		}
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	}
	ghost_prio_table_destroy(pt);
	CHECK_ERR(ghost_prio_table_attach(getpid(), &pt), ENOENT);
	CHECK_ERR(ghost_prio_table_attach(0, &pt), EINVAL);
}

/*
 * A process whose only "table" is a memfd of the same name that is not one:
 * unsealed (its owner could shrink it under the agent's mapping). Attaching
 * refuses it rather than mapping it.
 */
static void test_decoy(void)
{
	struct ghost_prio_table *pt;
	int ready[2], status;
	pid_t pid;
	char c;

	CHECK(pipe(ready) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = memfd_create("ghost-prio-table", 0);

		close(ready[0]);
		if (fd < 0 || ftruncate(fd, 1 << 16) || write(ready[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause(); /* until the parent kills it */
	}
	close(ready[1]);
	CHECK(read(ready[0], &c, 1) == 1 && c == 'r');
	CHECK_ERR(ghost_prio_table_attach(pid, &pt), EPROTO);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	close(ready[0]);
}

/* A pipe-driven child that owns a table and does what it is told. */
struct child {
	pid_t pid;
	int cmd, ack;
};

enum { CMD_QUIT, CMD_RUNNABLE, CMD_IDLE, CMD_MANY, CMD_OVERLAP, CMD_CORRUPT, CMD_TORN };

/* The child's own table header, mapped writable behind the library's back. */
static struct ghost_prio_table_hdr *own_header(void)
{
	struct ghost_prio_table_hdr *h;
	int fd;

	for (fd = 3; fd < 64; fd++) {
		char link[64], target[128];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = 0, strstr(target, "ghost-prio-table")))
			break;
	}
	h = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		_exit(4);
	return h;
}

static void child_main(int cmd_fd, int ack_fd)
{
	struct ghost_prio_table_opts o = {
		.sz = sizeof(o), .items = 8, .classes = 2, .stream = 11
	};
	struct ghost_work_class hi = {
		.id = 0, .flags = GHOST_WORK_CLASS_ONESHOT, .qos = 5, .exectime = 4000
	};
	struct ghost_work_class lo = { .id = 1,
				       .flags = GHOST_WORK_CLASS_REPEATING,
				       .qos = 1,
				       .exectime = 100000,
				       .period = 1000000 };
	struct ghost_prio_table *pt;
	char c;

	if (ghost_prio_table_create(&o, &pt) || ghost_prio_table_set_class(pt, &hi) ||
	    ghost_prio_table_set_class(pt, &lo))
		_exit(3);
	for (uint32_t i = 0; i < 8; i++) {
		struct ghost_sched_item si = { .wcid = i % 2,
					       .gpid = 1000 + i,
					       .deadline = 77 * i };

		if (ghost_prio_table_set_item(pt, i, &si))
			_exit(3);
	}
	if (write(ack_fd, "r", 1) != 1)
		_exit(3);
	while (read(cmd_fd, &c, 1) == 1) {
		switch (c) {
		case CMD_RUNNABLE:
			ghost_prio_table_mark_runnable(pt, 3);
			break;
		case CMD_IDLE:
			ghost_prio_table_mark_idle(pt, 3);
			break;
		case CMD_MANY:
			/* More changes than the 11-slot stream can hold. */
			for (int r = 0; r < 3; r++)
				for (uint32_t i = 0; i < 8; i++)
					ghost_prio_table_mark_runnable(pt, i);
			break;
		case CMD_OVERLAP: {
			/* The work classes over the sched items; the second time,
			 * as they were. */
			struct ghost_prio_table_hdr *h = own_header();
			static uint32_t saved;

			if (!saved) {
				saved = h->wc_off;
				h->wc_off = h->si_off;
			} else {
				h->wc_off = saved;
			}
			munmap(h, 4096);
			break;
		}
		case CMD_CORRUPT: {
			/* Lie about the geometry: more items than the file holds. */
			struct ghost_prio_table_hdr *h = own_header();

			h->si_num = 1000000;
			munmap(h, 4096);
			break;
		}
		case CMD_TORN: {
			/* Keep gpid == deadline in item 5 while readers read it. */
			struct ghost_sched_item si = { .wcid = 1 };

			for (uint64_t v = 1; v < 200000; v++) {
				si.gpid = v;
				si.deadline = v;
				ghost_prio_table_set_item(pt, 5, &si);
			}
			break;
		}
		default:
			ghost_prio_table_destroy(pt);
			_exit(0);
		}
		if (write(ack_fd, "k", 1) != 1)
			_exit(3);
	}
	_exit(0);
}

static struct child start_child(void)
{
	int cmd[2], ack[2];
	struct child ch;
	char c;

	CHECK(pipe(cmd) == 0 && pipe(ack) == 0);
	ch.pid = fork();
	CHECK(ch.pid >= 0);
	if (ch.pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		child_main(cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	ch.cmd = cmd[1];
	ch.ack = ack[0];
	CHECK(read(ch.ack, &c, 1) == 1 && c == 'r');
	return ch;
}

static void tell(struct child *ch, char cmd)
{
	char c;

	CHECK(write(ch->cmd, &cmd, 1) == 1);
	CHECK(read(ch->ack, &c, 1) == 1 && c == 'k');
}

static void stop_child(struct child *ch)
{
	int status;
	char c = CMD_QUIT;

	CHECK(write(ch->cmd, &c, 1) == 1);
	CHECK(waitpid(ch->pid, &status, 0) == ch->pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	close(ch->cmd);
	close(ch->ack);
}

/* Drains the stream; returns how many indices it gave and sets *overflow. */
static int drain(struct ghost_prio_table *pt, bool seen[8], bool *overflow)
{
	int n = 0, idx;

	*overflow = false;
	while ((idx = ghost_prio_table_next_updated(pt)) != GHOST_PRIO_TABLE_NO_UPDATES) {
		if (idx == GHOST_PRIO_TABLE_OVERFLOW) {
			*overflow = true;
			continue;
		}
		CHECK(idx >= 0 && idx < 8);
		if (seen)
			seen[idx] = true;
		n++;
		CHECK(n < 1000);
	}
	return n;
}

static void test_two_processes(void)
{
	struct child ch = start_child();
	struct ghost_prio_table *pt;
	struct ghost_sched_item si;
	struct ghost_work_class wc;
	bool seen[8] = { false }, overflow;
	int n;

	CHECK_OK(ghost_prio_table_attach(ch.pid, &pt));
	CHECK_EQ(ghost_prio_table_items(pt), 8);
	CHECK_EQ(ghost_prio_table_classes(pt), 2);
	CHECK_EQ(ghost_prio_table_owner(pt), ch.pid);
	/* The agent side may not write items. */
	CHECK_ERR(ghost_prio_table_mark_runnable(pt, 0), EINVAL);
	CHECK_OK(ghost_prio_table_read_class(pt, 1, &wc));
	CHECK_EQ(wc.qos, 1);
	CHECK_EQ(wc.period, 1000000);
	CHECK_EQ(wc.flags, GHOST_WORK_CLASS_REPEATING);
	CHECK_ERR(ghost_prio_table_read_class(pt, 2, &wc), EINVAL);
	for (uint32_t i = 0; i < 8; i++) {
		CHECK_OK(ghost_prio_table_read_item(pt, i, &si));
		CHECK_EQ(si.sid, i);
		CHECK_EQ(si.gpid, 1000 + i);
		CHECK_EQ(si.wcid, i % 2);
		CHECK_EQ(si.deadline, 77 * i);
		CHECK(!(si.flags & GHOST_SCHED_ITEM_RUNNABLE));
	}
	CHECK_ERR(ghost_prio_table_read_item(pt, 8, &si), EINVAL);
	/* Eight set_item calls went into an 11-slot stream: each index once. */
	n = drain(pt, seen, &overflow);
	CHECK(!overflow);
	CHECK_EQ(n, 8);
	for (int i = 0; i < 8; i++)
		CHECK(seen[i]);
	CHECK_EQ(ghost_prio_table_next_updated(pt), GHOST_PRIO_TABLE_NO_UPDATES);

	tell(&ch, CMD_RUNNABLE);
	CHECK_EQ(ghost_prio_table_next_updated(pt), 3);
	CHECK_EQ(ghost_prio_table_next_updated(pt), GHOST_PRIO_TABLE_NO_UPDATES);
	CHECK_OK(ghost_prio_table_read_item(pt, 3, &si));
	CHECK(si.flags & GHOST_SCHED_ITEM_RUNNABLE);
	CHECK(si.seqcount % 2 == 0);
	tell(&ch, CMD_IDLE);
	CHECK_EQ(ghost_prio_table_next_updated(pt), 3);
	CHECK_OK(ghost_prio_table_read_item(pt, 3, &si));
	CHECK(!(si.flags & GHOST_SCHED_ITEM_RUNNABLE));

	/* 24 changes into 11 slots: the reader is told to re-read everything,
	 * once, then the stream works again. */
	tell(&ch, CMD_MANY);
	drain(pt, NULL, &overflow);
	CHECK(overflow);
	for (uint32_t i = 0; i < 8; i++) {
		CHECK_OK(ghost_prio_table_read_item(pt, i, &si));
		CHECK(si.flags & GHOST_SCHED_ITEM_RUNNABLE);
	}
	CHECK_EQ(ghost_prio_table_next_updated(pt), GHOST_PRIO_TABLE_NO_UPDATES);
	tell(&ch, CMD_IDLE);
	CHECK_EQ(ghost_prio_table_next_updated(pt), 3);

	/* A writer hammering item 5: no copy is ever torn. */
	{
		char c = CMD_TORN;
		int copies = 0;
		bool done = false;

		CHECK(write(ch.cmd, &c, 1) == 1);
		while (!done) {
			int r = ghost_prio_table_read_item(pt, 5, &si);

			if (r == 0) {
				/* Either the item as set up, or one of the writer's. */
				CHECK_MSG(si.gpid == si.deadline ||
						  (si.gpid == 1005 && si.deadline == 385),
					  "torn read: gpid %llu deadline %llu",
					  (unsigned long long)si.gpid,
					  (unsigned long long)si.deadline);
				copies++;
			} else {
				CHECK_ERR(r, EAGAIN);
			}
			if (si.gpid >= 199999)
				done = true;
			CHECK(copies < 100000000);
		}
		CHECK(read(ch.ack, &c, 1) == 1 && c == 'k');
		CHECK(copies > 0);
	}

	/* Arrays that overlap: refused; put back: accepted again. */
	tell(&ch, CMD_OVERLAP);
	{
		struct ghost_prio_table *other;

		CHECK_ERR(ghost_prio_table_attach(ch.pid, &other), EPROTO);
		tell(&ch, CMD_OVERLAP);
		CHECK_OK(ghost_prio_table_attach(ch.pid, &other));
		ghost_prio_table_detach(other);
	}

	/* A header that lies: the table already attached keeps its checked
	 * geometry; a new attach refuses it. */
	tell(&ch, CMD_CORRUPT);
	CHECK_EQ(ghost_prio_table_items(pt), 8);
	CHECK_OK(ghost_prio_table_read_item(pt, 7, &si));
	CHECK_ERR(ghost_prio_table_read_item(pt, 9, &si), EINVAL);
	{
		struct ghost_prio_table *bad;

		CHECK_ERR(ghost_prio_table_attach(ch.pid, &bad), EPROTO);
	}
	ghost_prio_table_detach(pt);
	stop_child(&ch);
	CHECK_ERR(ghost_prio_table_attach(ch.pid, &pt), ENOENT);
}

int main(void)
{
	test_bad_options();
	test_two_processes();
	test_decoy();
	printf("test_prio_table: ok\n");
	return 0;
}
