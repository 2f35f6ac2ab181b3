/*
 * tools/common/tool.h - what the command-line programs (ghost-agent, ghostctl,
 * ghost-workload, ghost-bench) share: their name in front of every message,
 * one-line errors and usage errors, bounded number parsing, CPU lists, the
 * --kernel option ("bad --kernel: ...", "the K kernel cannot run here"),
 * opening an enclave that may not be there yet, the library's log, and
 * signal handlers.
 *
 * Linked into each program, never into libghost: these helpers print and
 * exit, which the library must never do. Each failure is told once, in one
 * line: while a tool makes a call whose failure it reports itself, the
 * library's own lines about it are held back (tool_log_hold) and give the
 * tool its reason instead of being printed beside it.
 */
#ifndef GHOST_TOOL_H
#define GHOST_TOOL_H

#include <ghost/ghost.h>

#include <stdbool.h>
#include <stdint.h>

/* Exit statuses every tool documents: 1 the operation failed, 2 bad usage. */
#define TOOL_EXIT_FAILURE 1
#define TOOL_EXIT_USAGE	  2

#define TOOL_PRINTF(fmt_arg) __attribute__((format(printf, fmt_arg, fmt_arg + 1)))

/* The program's name, first in every message ("ghostctl: ..."); call first. */
void tool_init(const char *program_name);
const char *tool_name(void);

/* "NAME: message" on stderr. */
void tool_error(const char *fmt, ...) TOOL_PRINTF(1);
/* tool_error, then exit status 1. */
__attribute__((noreturn)) void tool_fatal(const char *fmt, ...) TOOL_PRINTF(1);
/* A usage error: "NAME: message (see NAME --help)"; returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *fmt, ...) TOOL_PRINTF(1);
/* tool_usage_error, then exit status 2. */
__attribute__((noreturn)) void tool_usage_exit(const char *fmt, ...) TOOL_PRINTF(1);

/*
 * Numbers from the command line, the whole text or nothing: decimal digits
 * only (a '-' first only where lo < 0), never wrapped. tool_parse_double
 * takes a finite number that starts with a digit (after a '-' or '.', if any).
 */
bool tool_parse_u64(const char *text, uint64_t *out);
bool tool_parse_ll(const char *text, long long lo, long long hi, long long *out);
bool tool_parse_double(const char *text, double *out);
/* "4us", "10ms", "0.5s", "800ns" -> ns (a bare number is microseconds), at most an hour. */
bool tool_parse_time(const char *text, int64_t *ns);
/* One class of a service-time mix: pct percent of the requests take ns. */
struct tool_service {
	double pct;
	int64_t ns;
};
/*
 * A mix "PCT:TIME,..." (shares adding up to 100) or one bare TIME, given to option, into
 * at most max classes: 0 with *n set, or TOOL_EXIT_USAGE after one line.
 */
int tool_parse_service(const char *option, const char *arg, struct tool_service *out, int max,
		       int *n);
/* tool_parse_ll, or a usage exit: bad value "TEXT" for OPTION (expected LO..HI). */
long long tool_option_ll(const char *option, const char *text, long long lo, long long hi);

/* "auto", "rt" or "normal" (an agent's or a thread's class): false for anything else. */
bool tool_parse_prio(const char *text, enum ghost_agent_prio *out);
const char *tool_prio_name(enum ghost_agent_prio prio);

/*
 * A list of this machine's CPUs ("0-3,8") given to option; list NULL = every
 * CPU. 0, or the exit status after one line: 2 for a bad list, 1 if the
 * machine's topology cannot be read.
 */
int tool_parse_cpus(const char *option, const char *list, struct ghost_cpuset *out);

/*
 * The backend --kernel names (NULL: the default), or NULL after a usage
 * error naming it and the backends this build has.
 */
const struct ghost_kernel_ops *tool_kernel(const char *name);
/* 0 if k can run here (root: its namespace root, NULL = default), else 1 after one line. */
int tool_kernel_check(const struct ghost_kernel_ops *k, const char *root);

/*
 * Creates an enclave (ghost_enclave_create): 0, or TOOL_EXIT_FAILURE after one line
 * ("cannot create the enclave: that enclave id is taken", ...).
 */
int tool_create_enclave(const struct ghost_enclave_opts *opts, struct ghost_enclave **out);

/* Opening an enclave that a program started beside its agent may wait for. */
struct tool_enclave_open {
	const char *kernel; /* --kernel as given (NULL: the default) */
	const char *root;   /* --root as given */
	uint64_t id;
	double wait_s;	     /* how long to wait for the enclave (and its agent) */
	bool hint;	     /* a missing enclave: say how to start an agent for it */
	int64_t deadline_ns; /* set by tool_open_enclave: now + wait_s */
};
/* 0, or TOOL_EXIT_FAILURE after one line (no such enclave, being destroyed, ...). */
int tool_open_enclave(struct tool_enclave_open *req, struct ghost_enclave **out);
/* Waits until req->deadline_ns for an agent to serve e: 0, or TOOL_EXIT_FAILURE after one line. */
int tool_wait_agent(const struct tool_enclave_open *req, struct ghost_enclave *e);

/*
 * The library's log: its lines up to max_level go to stderr as
 * "libghost: LEVEL: message". Between tool_log_hold and tool_log_release,
 * warnings and errors are held back instead: released after a call that
 * worked; after one that failed, the last error is left out (the tool tells
 * the failure, with tool_log_reason as its reason where it has no better
 * word) and the rest, detail such as a verifier's log, is released. Past a
 * few lines held, the detail goes out as it comes.
 */
void tool_log_start(enum ghost_log_level max_level);
void tool_log_hold(void);
void tool_log_release(bool failed);
/* The last error the library logged while held, else ghost_strerror(err). */
const char *tool_log_reason(int err);

/* Installs handler (or SIG_IGN) for sig with sigaction flags (SA_RESTART...). */
void tool_on_signal(int sig, void (*handler)(int), int flags);
/* The same for SIGINT and SIGTERM, the signals that stop a tool. */
void tool_on_stop_signals(void (*handler)(int), int flags);

#endif
