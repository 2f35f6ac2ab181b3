/*
 * kernels/scx/tests/scx_test.h - what the C guest tests of the sched_ext tier (the scx_abi_*
 * programs through their fixture scx_abi.h, scx_errors.c) share: their progress and failure
 * lines (note, die), the clock (now_ms), the sched_ext state in sysfs (sysfs_line, scx_state,
 * wait_scx_state), and child processes (fork_child, wait_exit).
 *
 * A test defines PROG, its name, before it includes this: every line begins with it. A test
 * that goes in steps points scx_step at the name of the current one, and failures name it.
 * Everything here is static inline: a test that does not use a helper does not get it.
 */
#ifndef GHOST_SCX_TEST_H
#define GHOST_SCX_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PROG
#error "define PROG (the test's name) before including scx_test.h"
#endif

#define SCX_DIR	  "/sys/kernel/sched_ext"
#define SCX_STATE SCX_DIR "/state"
#define SCX_OPS	  SCX_DIR "/root/ops"

/* The step the test is in, named by die(); NULL: the test has no steps. */
static const char *scx_step;

/* A progress line: "PROG: ..." on stdout. */
static inline void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void note(const char *fmt, ...)
{
	va_list ap;

	printf(PROG ": ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Fails the test: "FAIL PROG: ..." (with `, step "..."` after PROG in a step) on stderr. */
static inline void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "FAIL " PROG);
	if (scx_step)
		fprintf(stderr, ", step \"%s\"", scx_step);
	fprintf(stderr, ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The monotonic clock in ms. */
static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of a sysfs file, without its newline; `none` if it cannot be read. */
static inline const char *sysfs_line(const char *path, char *buf, size_t size, const char *none)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return none;
	if (!fgets(buf, (int)size, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/* What /sys/kernel/sched_ext/state reads: "enabled", "disabled"...; "absent" without it. */
static inline const char *scx_state(void)
{
	static char buf[64];

	return sysfs_line(SCX_STATE, buf, sizeof(buf), "absent");
}

/* The state must read `want` within ms; `when` says at what point of the test. */
static inline void wait_scx_state(const char *want, int ms, const char *when)
{
	int64_t end = now_ms() + ms;

	while (strcmp(scx_state(), want)) {
		if (now_ms() > end)
			die("%s: " SCX_STATE " reads \"%s\" after %d ms, expected \"%s\"", when,
			    scx_state(), ms, want);
		usleep(10000);
	}
}

/* fork() with the output flushed first (not written twice); a failure fails the test. */
static inline pid_t fork_child(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	return pid;
}

/*
 * Waits at most ms for the child pid to exit: pid, its wait status in *st; 0 if it still
 * runs then; -1 if waitpid() fails (errno).
 */
static inline pid_t wait_exit(pid_t pid, int ms, int *st)
{
	int64_t end = now_ms() + ms;
	pid_t r;

	while ((r = waitpid(pid, st, WNOHANG)) == 0) {
		if (now_ms() > end)
			return 0;
		usleep(10000);
	}
	return r;
}

#endif
