/*
 * tools/common/tool.c - the helpers every command-line program shares (see tool.h).
 *
 * Owns the program's name, the one-line error formats, the strict number
 * parsers, the --kernel checks, opening an enclave with a wait, and the log
 * callback that holds the library's lines back while a tool reports a call
 * itself. Never part of libghost: it prints and exits.
 */
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "ghost";

void tool_init(const char *program_name)
{
	program = program_name;
}

const char *tool_name(void)
{
	return program;
}

/* "NAME: message" and the tail (a newline, or the --help pointer and one). */
static void say(const char *tail, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s: %s%s", program, line, tail);
}

void tool_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("\n", fmt, ap);
	va_end(ap);
}

void tool_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("\n", fmt, ap);
	va_end(ap);
	exit(TOOL_EXIT_FAILURE);
}

static void say_usage(const char *fmt, va_list ap)
{
	char tail[128];

	snprintf(tail, sizeof(tail), " (see %s --help)\n", program);
	say(tail, fmt, ap);
}

int tool_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_usage(fmt, ap);
	va_end(ap);
	return TOOL_EXIT_USAGE;
}

void tool_usage_exit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_usage(fmt, ap);
	va_end(ap);
	exit(TOOL_EXIT_USAGE);
}

/* ---- numbers ---- */

bool tool_parse_u64(const char *text, uint64_t *out)
{
	char *end;

	if (!text || *text < '0' || *text > '9')
		return false;
	errno = 0;
	*out = strtoull(text, &end, 10);
	return !errno && !*end;
}

bool tool_parse_ll(const char *text, long long lo, long long hi, long long *out)
{
	bool negative = text && *text == '-' && lo < 0;
	uint64_t magnitude;

	if (!tool_parse_u64(negative ? text + 1 : text, &magnitude) ||
	    magnitude > (negative ? (uint64_t)LLONG_MAX + 1 : (uint64_t)LLONG_MAX))
		return false;
	*out = negative ? (long long)(0 - magnitude) : (long long)magnitude;
	return *out >= lo && *out <= hi;
}

bool tool_parse_double(const char *text, double *out)
{
	const char *digits = text && *text == '-' ? text + 1 : text;
	char *end;

	if (digits && *digits == '.')
		digits++;
	if (!digits || *digits < '0' || *digits > '9')
		return false;
	errno = 0;
	*out = strtod(text, &end);
	return !errno && !*end && isfinite(*out);
}

long long tool_option_ll(const char *option, const char *text, long long lo, long long hi)
{
	long long v;

	if (!tool_parse_ll(text, lo, hi, &v))
		tool_usage_exit("bad value \"%s\" for %s (expected %lld..%lld)", text, option, lo,
				hi);
	return v;
}

static const char *const prio_names[] = {
	[GHOST_AGENT_PRIO_AUTO] = "auto",
	[GHOST_AGENT_PRIO_RT] = "rt",
	[GHOST_AGENT_PRIO_NORMAL] = "normal",
};

bool tool_parse_prio(const char *text, enum ghost_agent_prio *out)
{
	for (size_t i = 0; i < sizeof(prio_names) / sizeof(prio_names[0]); i++) {
		if (prio_names[i] && !strcmp(text, prio_names[i])) {
			*out = (enum ghost_agent_prio)i;
			return true;
		}
	}
	return false;
}

const char *tool_prio_name(enum ghost_agent_prio prio)
{
	return (size_t)prio < sizeof(prio_names) / sizeof(prio_names[0]) && prio_names[prio]
		       ? prio_names[prio]
		       : "?";
}

/* ---- CPUs and kernels ---- */

int tool_parse_cpus(const char *option, const char *list, struct ghost_cpuset *out)
{
	struct ghost_topo *topo;
	char why[256];
	int err;

	tool_log_hold();
	err = ghost_topo_from_machine(&topo);
	tool_log_release(err != 0);
	if (err) {
		tool_error("cannot read the CPU topology: %s", tool_log_reason(err));
		return TOOL_EXIT_FAILURE;
	}
	if (!list)
		*out = *ghost_topo_cpus(topo);
	else if (ghost_topo_parse_cpus(topo, list, out, why, sizeof(why)))
		err = tool_usage_error("bad %s \"%s\": %s", option, list, why);
	ghost_topo_free(topo);
	return err;
}

const struct ghost_kernel_ops *tool_kernel(const char *name)
{
	const struct ghost_kernel_ops *k;
	char why[256];

	/* NULL or "": $GHOST_KERNEL, else emu; a name there that no backend has is an error. */
	if (ghost_kernel_choose(name, &k, why, sizeof(why))) {
		if (name && *name)
			tool_usage_error("bad --kernel: %s", why);
		else
			tool_usage_error("%s", why);
		return NULL;
	}
	return k;
}

int tool_kernel_check(const struct ghost_kernel_ops *k, const char *root)
{
	char why[256] = "";
	int err = ghost_kernel_probe(k, root, why, sizeof(why));

	if (!err)
		return 0;
	tool_error("the %s kernel cannot run here: %s", ghost_kernel_name(k),
		   why[0] ? why : ghost_strerror(err));
	return TOOL_EXIT_FAILURE;
}

/* ---- enclaves ---- */

int tool_create_enclave(const struct ghost_enclave_opts *opts, struct ghost_enclave **out)
{
	int err;

	tool_log_hold();
	err = ghost_enclave_create(opts, out);
	tool_log_release(err != 0);
	if (!err)
		return 0;
	tool_error("cannot create the enclave: %s",
		   err == -EEXIST  ? "that enclave id is taken"
		   : err == -EBUSY ? "some of these CPUs belong to another enclave"
				   : tool_log_reason(err));
	return TOOL_EXIT_FAILURE;
}

/* How to start an agent for the enclave: "ghost-agent --enclave 1 --policy ...". */
static void agent_hint(const struct tool_enclave_open *req, const char *how, char *buf, size_t len)
{
	snprintf(buf, len, "ghost-agent %s %" PRIu64 " --policy fifo-percpu%s%s%s%s", how, req->id,
		 req->kernel ? " --kernel " : "", req->kernel ? req->kernel : "",
		 req->root ? " --root " : "", req->root ? req->root : "");
}

/* " after waiting 5 s", or nothing for no wait. */
static void waited(const struct tool_enclave_open *req, char *buf, size_t len)
{
	if (req->wait_s > 0)
		snprintf(buf, len, " after waiting %g s", req->wait_s);
	else
		buf[0] = '\0';
}

int tool_open_enclave(struct tool_enclave_open *req, struct ghost_enclave **out)
{
	const struct ghost_kernel_ops *k = ghost_kernel_find(req->kernel);
	struct ghost_enclave_opts eo = {
		.sz = sizeof(eo), .kernel = ghost_kernel_name(k), .root = req->root, .id = req->id
	};
	const char *kernel = ghost_kernel_name(k);
	char hint[1024], how_long[64];
	int err;

	req->deadline_ns = ghost_now_ns() + (int64_t)(req->wait_s * 1e9);
	tool_log_hold();
	err = ghost_enclave_attach_wait(&eo, req->deadline_ns, out);
	tool_log_release(err != 0);
	if (!err)
		return 0;
	*out = NULL;
	if (err == -ENOENT) {
		waited(req, how_long, sizeof(how_long));
		agent_hint(req, "--enclave", hint, sizeof(hint));
		tool_error("no enclave %" PRIu64 " on the %s kernel%s%s%s%s", req->id, kernel,
			   how_long, req->hint ? " (start one with: " : "", req->hint ? hint : "",
			   req->hint ? ")" : "");
	} else if (err == -EXDEV) {
		tool_error("enclave %" PRIu64 " on the %s kernel is being destroyed", req->id,
			   kernel);
	} else {
		tool_error("cannot open enclave %" PRIu64 " on the %s kernel: %s", req->id, kernel,
			   tool_log_reason(err));
	}
	return TOOL_EXIT_FAILURE;
}

int tool_wait_agent(const struct tool_enclave_open *req, struct ghost_enclave *e)
{
	char hint[1024], how_long[64];
	int err = ghost_enclave_wait_agent(e, req->deadline_ns);

	if (!err)
		return 0;
	if (err != -ETIMEDOUT) {
		tool_error("enclave %" PRIu64 " on the %s kernel: cannot tell whether an agent "
			   "serves it: %s",
			   req->id, ghost_kernel_name(ghost_enclave_kernel(e)),
			   err == -ENODEV ? "the enclave is gone" : ghost_strerror(err));
		return TOOL_EXIT_FAILURE;
	}
	waited(req, how_long, sizeof(how_long));
	agent_hint(req, "--attach", hint, sizeof(hint));
	tool_error("enclave %" PRIu64 " on the %s kernel has no agent%s (start one with: %s)",
		   req->id, ghost_kernel_name(ghost_enclave_kernel(e)), how_long, hint);
	return TOOL_EXIT_FAILURE;
}

/* ---- the library's log ---- */

#define LOG_HELD_MAX 8

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool log_holding;
static struct {
	enum ghost_log_level level;
	char msg[512];
} log_held[LOG_HELD_MAX];
static int log_nheld;
static char log_error[512]; /* the last error held */

/* The index of the last error held, or -1 (log_lock held). */
static int last_held_error(void)
{
	int last = -1;

	for (int i = 0; i < log_nheld; i++)
		if (log_held[i].level == GHOST_LOG_ERROR)
			last = i;
	return last;
}

static void log_line(enum ghost_log_level level, const char *msg, void *ctx)
{
	pthread_mutex_lock(&log_lock);
	if (log_holding && level <= GHOST_LOG_WARN) {
		if (level == GHOST_LOG_ERROR)
			snprintf(log_error, sizeof(log_error), "%s", msg);
		/* More than a reason: detail (a verifier's log): it goes out as it comes, all
		 * but the last error, which may yet be the tool's own line (tool_log_release). */
		if (log_nheld == LOG_HELD_MAX) {
			int keep = last_held_error();

			for (int i = 0; i < log_nheld; i++)
				if (i != keep)
					ghost_log_stderr(log_held[i].level, log_held[i].msg, NULL);
			if (keep >= 0)
				log_held[0] = log_held[keep];
			log_nheld = keep >= 0 ? 1 : 0;
		}
		log_held[log_nheld].level = level;
		snprintf(log_held[log_nheld].msg, sizeof(log_held[0].msg), "%s", msg);
		log_nheld++;
	} else {
		ghost_log_stderr(level, msg, ctx);
	}
	pthread_mutex_unlock(&log_lock);
}

void tool_log_start(enum ghost_log_level max_level)
{
	ghost_log_set_callback(log_line, NULL, max_level);
}

void tool_log_hold(void)
{
	pthread_mutex_lock(&log_lock);
	log_holding = true;
	log_nheld = 0;
	log_error[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

void tool_log_release(bool failed)
{
	int last_error;

	pthread_mutex_lock(&log_lock);
	log_holding = false;
	/* After a failure the last error becomes the tool's own line (tool_log_reason):
	 * everything else the library said still goes out, once. */
	last_error = failed ? last_held_error() : -1;
	for (int i = 0; i < log_nheld; i++)
		if (i != last_error)
			ghost_log_stderr(log_held[i].level, log_held[i].msg, NULL);
	log_nheld = 0;
	if (!failed)
		log_error[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

const char *tool_log_reason(int err)
{
	return log_error[0] ? log_error : ghost_strerror(err);
}

/* ---- signals ---- */

void tool_on_signal(int sig, void (*handler)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

void tool_on_stop_signals(void (*handler)(int), int flags)
{
	tool_on_signal(SIGINT, handler, flags);
	tool_on_signal(SIGTERM, handler, flags);
}

/* "4us", "10ms", "0.5s", "800ns" -> ns. A bare number is microseconds. */
bool tool_parse_time(const char *s, int64_t *ns)
{
	static const struct {
		const char *unit;
		double scale;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "", 1e3 },
	};
	char *end;
	double v;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].scale;
		if (v < 0 || v > 3600e9)
			return false;
		*ns = (int64_t)(v + 0.5); /* v >= 0: rounded, without libm */
		return true;
	}
	return false;
}

/* One "PCT:TIME" entry (or a bare "TIME", which then must be the only one). */
static int parse_service_entry(const char *option, char *tok, bool only, struct tool_service *c)
{
	char *colon = strchr(tok, ':');

	if (!colon) {
		if (!only)
			return tool_usage_error("%s: '%s' needs a share, as in 99.5:%s", option,
						tok, tok);
		c->pct = 100;
		return tool_parse_time(tok, &c->ns)
			       ? 0
			       : tool_usage_error("%s: bad time '%s' (use e.g. 4us, 10ms)", option,
						  tok);
	}
	*colon = '\0';
	if (!tool_parse_double(tok, &c->pct) || c->pct <= 0 || c->pct > 100)
		return tool_usage_error("%s: bad share '%s' (a percentage in (0, 100])", option,
					tok);
	if (!tool_parse_time(colon + 1, &c->ns))
		return tool_usage_error("%s: bad time '%s' (use e.g. 4us, 10ms)", option,
					colon + 1);
	return 0;
}

int tool_parse_service(const char *option, const char *arg, struct tool_service *out, int max,
		       int *n)
{
	char buf[512], *save = NULL, *tok;
	double sum = 0;
	int err;

	if (!*arg || strlen(arg) >= sizeof(buf))
		return tool_usage_error("%s: bad mix '%s'", option, arg);
	strcpy(buf, arg);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n == max)
			return tool_usage_error("%s: more than %d classes", option, max);
		err = parse_service_entry(option, tok, !strchr(arg, ','), &out[*n]);
		if (err)
			return err;
		sum += out[(*n)++].pct;
	}
	if (!*n)
		return tool_usage_error("%s: bad mix '%s'", option, arg);
	if (sum - 100 > 0.01 || 100 - sum > 0.01)
		return tool_usage_error("%s: shares in '%s' add up to %g%%, not 100%%", option, arg,
					sum);
	return 0;
}
