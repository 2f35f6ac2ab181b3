/*
 * tools/agent/agent_main.c - the agent process as one call,
 * ghost_agent_main(): creates (or attaches to) an enclave and schedules it
 * with a policy (built in, a plugin, or the caller's own) until SIGINT or
 * SIGTERM. ghost-agent is this and nothing else.
 *
 * Owns the command line, the policy's parameters from -o, the periodic
 * stats line and the summary at exit. It knows no policy by name: every
 * policy, its parameters and their help come from the registry
 * (ghost/policy.h). Part of libghost-agent with the tools' helpers: it
 * prints and may exit (bad usage), which libghost never does.
 * Exit status: 0 after a clean shutdown, 1 on a setup error (with one line
 * saying why), 2 on bad arguments.
 */
#include <ghost/agent_main.h>
#include <ghost/ghost.h>

#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_head[] =
	"usage: %s --policy NAME|PATH [-o KEY=VALUE]... --cpus LIST\n"
	"                   [--kernel {emu,scx,ghostfs}] [--enclave ID | --attach ID]\n"
	"                   [--stats SECONDS] [--stats-json] [--stats-all]\n"
	"                   [--trace FILE [--trace-size BYTES]]\n"
	"                   [--root DIR] [--prio {auto,rt,normal}] [--keep] [--quiet] [-v]\n"
	"       %s --list-policies\n"
	"\n"
	"Schedules the CPUs of an enclave from user space until SIGINT or SIGTERM.\n"
	"\n"
	"  --policy NAME|PATH  a built-in policy (below), or a policy plugin: the path of\n"
	"                      a shared object (anything with a '/' in it)\n"
	"  -o, --option K=V    sets the policy's parameter K (repeatable; --list-policies\n"
	"                      shows each policy's parameters, types and defaults)\n"
	"  --list-policies     the built-in policies with their parameters (and the\n"
	"                      plugin's, with --policy PATH)\n"
	"  --cpus LIST         CPUs of a new enclave, e.g. 0-3,8 (default: every CPU)\n"
	"  --kernel NAME       kernel backend (default: emu, or $GHOST_KERNEL)\n"
	"  --enclave ID        create the enclave with this id (default: first free id)\n"
	"  --attach ID         take over the live enclave ID (its tasks are discovered)\n"
	"  --time-slice USEC   the same as -o time_slice=USECus (policies that have it)\n"
	"  --global-cpu CPU    the same as -o global_cpu=CPU (policies that have it)\n"
	"  --stats SECONDS     print a stats line this often (default: 0 = only at exit):\n"
	"                      totals, rates over the interval, the idle share of what\n"
	"                      the tasks ran, the CPUs no other thread wants; nothing\n"
	"                      while nothing changes\n"
	"  --stats-json        the stats lines as JSON objects, one per line (implies\n"
	"                      --stats 1 unless given)\n"
	"  --stats-all         a stats line every interval, changed or not (same)\n"
	"  --trace FILE        records every message the agents consume and every txn\n"
	"                      they commit with its outcome, and writes them to FILE\n"
	"                      when the agent stops (SIGINT, SIGTERM, the enclave\n"
	"                      ending); ghost-trace reads it\n"
	"  --trace-size BYTES  keep at most this much of the newest records (suffix\n"
	"                      K, M or G; default 64M, at least 4096); the file says\n"
	"                      how many older ones were dropped\n"
	"  --root DIR          namespace root of the backend (emu: default per-user dir)\n"
	"  --prio MODE         agent threads: auto (real-time if allowed), rt, normal\n"
	"  --keep              do not destroy the enclave at exit (a new agent may take it)\n"
	"  --quiet             no stats lines, only errors and the summary\n"
	"  -v, --verbose       the library's notes too (twice: its debug messages)\n"
	"  -h, --help          this text\n"
	"\n"
	"Policies:\n";

static const char usage_tail[] =
	"\n"
	"Exit status: 0 stopped by SIGINT or SIGTERM; 1 an error, or the enclave ended\n"
	"under the agent (destroyed by another process, reaped, its scheduler unloaded);\n"
	"2 a usage error.\n";

/* The policies this agent knows: its own (if the caller gave one; it hides a
 * built-in one of the same name) and the built-in ones. */
static void for_each_policy(const struct ghost_policy *own,
			    void (*fn)(const struct ghost_policy *p, void *ctx), void *ctx)
{
	const struct ghost_policy *const *all = ghost_policy_all();

	if (own)
		fn(own, ctx);
	for (int i = 0; all[i]; i++)
		if (!own || strcmp(all[i]->name, own->name))
			fn(all[i], ctx);
}

static void print_summary(const struct ghost_policy *p, void *ctx)
{
	(void)ctx;
	printf("  %-19s %s\n", p->name, p->summary ? p->summary : "");
}

static void print_usage(const struct ghost_policy *own)
{
	printf(usage_head, tool_name(), tool_name());
	for_each_policy(own, print_summary, NULL);
	fputs(usage_tail, stdout);
}

/* One policy with its parameters: name=default (type, range) and the help line. */
static void print_policy(const struct ghost_policy *p, void *ctx)
{
	_Alignas(16) char cfg[4096];
	char val[48], range[96], bounds[80];

	(void)ctx;
	printf("%s\n", p->name);
	if (p->summary && p->summary[0])
		printf("    %s\n", p->summary);
	if (p->min_cpus > 1)
		printf("    needs at least %u CPUs\n", p->min_cpus);
	if (!p->params || !p->params[0].name) {
		printf("    (no parameters)\n");
		return;
	}
	if (p->config_size > sizeof(cfg) || ghost_policy_config_defaults(p, cfg)) {
		printf("    (its parameters cannot be shown)\n");
		return;
	}
	for (const struct ghost_policy_param *pp = p->params; pp->name; pp++) {
		ghost_policy_param_format(pp, cfg, val, sizeof(val));
		range[0] = 0;
		if (ghost_policy_param_range(pp, bounds, sizeof(bounds)) > 0)
			snprintf(range, sizeof(range), ", %s", bounds);
		printf("    -o %s=%s  (%s%s)\n        %s\n", pp->name, val,
		       ghost_param_type_name(pp->type), range, pp->help ? pp->help : "");
	}
}

/*
 * SIGINT and SIGTERM are caught from the first instruction on: one that
 * comes while the enclave or the agents are being set up stops the agent as
 * soon as they are (with its summary), and one during the shutdown does not
 * cut the summary short. While the agents run, the library's own handler
 * has them.
 */
static volatile int stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct stats_ctx {
	bool quiet, json, all;
	bool have_prev;
	int64_t interval_ns; /* --stats */
	struct ghost_agent_stats prev;
};

static uint64_t failed_total(const struct ghost_txn_counts *c)
{
	return c->committed - c->succeeded;
}

static double per_s(uint64_t now, uint64_t before, double secs)
{
	return secs > 0 && now >= before ? (double)(now - before) / secs : 0.0;
}

/* Nothing to say: no commit, message, task or availability changed. */
static bool unchanged(const struct ghost_agent_stats *a, const struct ghost_agent_stats *b)
{
	return a->txn.committed == b->txn.committed && a->policy.msgs == b->policy.msgs &&
	       a->policy.tasks == b->policy.tasks && a->policy.runnable == b->policy.runnable &&
	       a->policy.task_runtime_ns == b->policy.task_runtime_ns &&
	       ghost_cpuset_equal(&a->available, &b->available);
}

/*
 * One line per interval: totals and what changed since the previous line
 * (rates per second), the idle share of the interval from what the tasks
 * ran, and which CPUs are available. Silent while nothing changes unless
 * --stats-all. --stats-json prints the same as one JSON object per line.
 */
static void print_stats(struct ghost_full_agent *fa, void *arg)
{
	struct stats_ctx *ctx = arg;
	struct ghost_agent_stats now, *prev = &ctx->prev;
	char cpus[256], avail[256], reasons[512] = "";
	double secs, idle;
	size_t pos = 0;
	int ncpus;

	if (ctx->quiet || ghost_full_agent_stats(fa, &now))
		return;
	if (!ctx->have_prev) {
		/* The first interval counts from the agent's start, one interval ago. */
		memset(prev, 0, sizeof(*prev));
		prev->now_ns = now.now_ns - ctx->interval_ns;
		prev->available = now.available;
	}
	if (ctx->have_prev && !ctx->all && unchanged(&now, prev)) {
		*prev = now;
		return;
	}
	ctx->have_prev = true;
	secs = (double)(now.now_ns - prev->now_ns) / 1e9;
	ncpus = ghost_cpuset_count(&now.cpus);
	idle = secs > 0 && ncpus ? 100.0 * (1.0 - (double)(now.policy.task_runtime_ns -
							   prev->policy.task_runtime_ns) /
							  (secs * 1e9 * ncpus))
				 : 0.0;
	idle = idle < 0 ? 0 : idle > 100 ? 100 : idle;
	ghost_cpuset_format_list(&now.cpus, cpus, sizeof(cpus));
	ghost_cpuset_format_list(&now.available, avail, sizeof(avail));
	for (int i = 1; i < 16; i++) {
		uint64_t d = now.txn.failed[i] - prev->txn.failed[i];
		int n;

		if (!d)
			continue;
		if (ctx->json)
			n = snprintf(reasons + pos, sizeof(reasons) - pos, "%s\"%s\": %llu",
				     pos ? ", " : "", ghost_txn_reason(GHOST_TXN_COMPLETE + i),
				     (unsigned long long)d);
		else
			n = snprintf(reasons + pos, sizeof(reasons) - pos, " %s +%llu",
				     ghost_txn_reason(GHOST_TXN_COMPLETE + i),
				     (unsigned long long)d);
		if (n < 0 || (size_t)n >= sizeof(reasons) - pos)
			break;
		pos += (size_t)n;
	}
	if (ctx->json)
		printf("{\"interval_s\": %.3f, \"tasks\": %u, \"runnable\": %u, "
		       "\"commits_ok\": %llu, \"commits_ok_per_s\": %.1f, "
		       "\"commits_failed\": %llu, \"commits_failed_per_s\": %.1f, "
		       "\"failed_in_interval\": {%s}, \"msgs\": %llu, \"msgs_per_s\": %.1f, "
		       "\"idle_pct\": %.1f, \"cpus\": \"%s\", \"cpus_available\": \"%s\", "
		       "\"seqnum_errors\": %llu, \"bad_msgs\": %llu}\n",
		       secs, now.policy.tasks, now.policy.runnable,
		       (unsigned long long)now.txn.succeeded,
		       per_s(now.txn.succeeded, prev->txn.succeeded, secs),
		       (unsigned long long)failed_total(&now.txn),
		       per_s(failed_total(&now.txn), failed_total(&prev->txn), secs), reasons,
		       (unsigned long long)now.policy.msgs,
		       per_s(now.policy.msgs, prev->policy.msgs, secs), idle, cpus, avail,
		       (unsigned long long)now.policy.seqnum_errors,
		       (unsigned long long)now.policy.bad_msgs);
	else
		printf("stats: tasks %u runnable %u | commits ok %llu (%.0f/s) failed %llu "
		       "(%.0f/s%s%s) | msgs %llu (%.0f/s) | idle %.1f%% | cpus available %s of %s\n",
		       now.policy.tasks, now.policy.runnable, (unsigned long long)now.txn.succeeded,
		       per_s(now.txn.succeeded, prev->txn.succeeded, secs),
		       (unsigned long long)failed_total(&now.txn),
		       per_s(failed_total(&now.txn), failed_total(&prev->txn), secs),
		       pos ? ":" : "", reasons, (unsigned long long)now.policy.msgs,
		       per_s(now.policy.msgs, prev->policy.msgs, secs), idle,
		       ghost_cpuset_count(&now.available) ? avail : "none", cpus);
	fflush(stdout);
	*prev = now;
}

/*
 * --keep: say whether the enclave is really there for the next agent. Some kernels tie an
 * enclave to the process that created it (sched_ext: the scheduler unloads with it).
 */
static void report_kept(const struct ghost_kernel_ops *ops, const char *root, uint64_t id)
{
	struct ghost_enclave_opts eo = {
		.sz = sizeof(eo), .kernel = ghost_kernel_name(ops), .root = root, .id = id
	};
	struct ghost_enclave *again;
	int err;

	/* Held and dropped: a missing enclave is an answer here, not an error. */
	tool_log_hold();
	err = ghost_enclave_attach(&eo, &again);
	tool_log_release(true);
	if (err == 0) {
		ghost_enclave_close(again);
		printf("%s: enclave %" PRIu64 " kept for the next agent\n", tool_name(), id);
	} else {
		printf("%s: enclave %" PRIu64 " did not outlive this agent: the %s kernel "
		       "ties it to the process that created it\n",
		       tool_name(), id, ghost_kernel_name(ops));
	}
}

/* A parameter setting from the command line: -o KEY=VALUE, or an alias of one. */
struct setting {
	const char *opt; /* "-o", "--time-slice", "--global-cpu" */
	const char *arg; /* as given (argv's) */
	const char *kv;	 /* key=value: arg for -o, else buf */
	char buf[48];
};

/* The option that set a parameter ("--global-cpu 5", "-o global_cpu=5"), into buf. */
static const char *said(const char *key_value, const struct setting *set, int n, char *buf,
			size_t len)
{
	size_t klen = strcspn(key_value, "=");

	while (n-- > 0) {
		if (!strncmp(set[n].kv, key_value, klen + 1)) {
			snprintf(buf, len, "%s %s", set[n].opt, set[n].arg);
			return buf;
		}
	}
	return key_value;
}

/* Why p cannot run on cpus (a usage error), or NULL. */
static const char *unfit(const struct ghost_policy *p, const void *cfg,
			 const struct ghost_cpuset *cpus, const struct setting *set, int n,
			 char *buf, size_t len)
{
	const struct ghost_policy_param *pp = ghost_policy_cpu_outside(p, cfg, cpus);
	char which[64], val[32], opt[96];

	if (p->min_cpus > 1 && (uint32_t)ghost_cpuset_count(cpus) < p->min_cpus) {
		snprintf(buf, len, "policy %s needs at least %u CPUs (%s)", p->name, p->min_cpus,
			 p->min_cpus == 2 ? "its global agent takes one of them" : "its model");
		return buf;
	}
	if (pp) {
		ghost_policy_param_format(pp, cfg, val, sizeof(val));
		snprintf(which, sizeof(which), "%s=%s", pp->name, val);
		snprintf(buf, len, "%s: not one of the enclave's CPUs",
			 said(which, set, n, opt, sizeof(opt)));
		return buf;
	}
	return NULL;
}

/* A number of bytes, with an optional K, M or G (powers of 1024) after it. */
static bool parse_size(const char *text, uint64_t *out)
{
	size_t len = strlen(text);
	const char *units = "KMG";
	const char *u = len ? strchr(units, text[len - 1]) : NULL;
	char digits[32];
	uint64_t v;

	if (!len || len >= sizeof(digits) || (u && !*u))
		return false;
	memcpy(digits, text, len + 1);
	if (u)
		digits[len - 1] = 0;
	if (!tool_parse_u64(digits, &v))
		return false;
	for (int shift = u ? (int)(u - units + 1) * 10 : 0; shift > 0; shift -= 10) {
		if (v > (UINT64_MAX >> 10))
			return false;
		v <<= 10;
	}
	if (v > SIZE_MAX / 2)
		return false;
	*out = v;
	return true;
}

#define MAX_SETTINGS 64

int ghost_agent_main(int argc, char **argv, const struct ghost_policy *own_policy)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "option", required_argument, NULL, 'o' },
		{ "list-policies", no_argument, NULL, 'L' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "enclave", required_argument, NULL, 'e' },
		{ "attach", required_argument, NULL, 'a' },
		{ "time-slice", required_argument, NULL, 't' },
		{ "global-cpu", required_argument, NULL, 'g' },
		{ "stats", required_argument, NULL, 's' },
		{ "stats-json", no_argument, NULL, 'J' },
		{ "stats-all", no_argument, NULL, 'A' },
		{ "trace", required_argument, NULL, 'T' },
		{ "trace-size", required_argument, NULL, 'Z' },
		{ "root", required_argument, NULL, 'r' },
		{ "prio", required_argument, NULL, 'P' },
		{ "keep", no_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *policy_name = NULL, *cpus_arg = NULL, *kernel = NULL, *root = NULL;
	const char *trace_path = NULL;
	uint64_t trace_size = 0;
	/* -o settings in order, with what each came from (for its error). */
	struct setting set[MAX_SETTINGS];
	int nsettings = 0;
	enum ghost_agent_prio prio = GHOST_AGENT_PRIO_AUTO;
	uint64_t create_id = 0, attach_id = 0;
	int stats_s = 0, opt, err, traced = 0;
	bool keep = false, ended = false, list = false;
	enum ghost_log_level log_level = GHOST_LOG_WARN;
	struct stats_ctx sctx = { 0 };
	const struct ghost_policy *policy = own_policy;
	const struct ghost_kernel_ops *ops;
	struct ghost_cpuset cpus;
	struct ghost_enclave *e;
	struct ghost_full_agent *fa;
	_Alignas(16) char cfg[4096];
	char line[4096], why[512];
	const char *prog = argv && argv[0] ? strrchr(argv[0], '/') : NULL;

	tool_init(prog ? prog + 1 : argv && argv[0] ? argv[0] : "ghost-agent");
	tool_on_stop_signals(on_stop_signal, 0);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hvo:", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			policy_name = optarg;
			break;
		case 'o':
		case 't':
		case 'g':
			if (nsettings == MAX_SETTINGS)
				return tool_usage_error("more than %d policy parameters",
							MAX_SETTINGS);
			set[nsettings].arg = set[nsettings].kv = optarg;
			set[nsettings].opt = opt == 't'	  ? "--time-slice"
					     : opt == 'g' ? "--global-cpu"
							  : "-o";
			if (opt != 'o') {
				/* The aliases take a plain number (microseconds, a CPU). */
				if (!optarg[0] || strspn(optarg, "0123456789") != strlen(optarg) ||
				    strlen(optarg) > 18)
					return tool_usage_error("%s takes a number, not \"%s\"",
								set[nsettings].opt, optarg);
				snprintf(set[nsettings].buf, sizeof(set[nsettings].buf), "%s=%s%s",
					 opt == 't' ? "time_slice" : "global_cpu", optarg,
					 opt == 't' ? "us" : "");
				set[nsettings].kv = set[nsettings].buf;
			}
			nsettings++;
			break;
		case 'L':
			list = true;
			break;
		case 'c':
			cpus_arg = optarg;
			break;
		case 'k':
			kernel = optarg;
			break;
		case 'v':
			log_level = log_level == GHOST_LOG_WARN ? GHOST_LOG_INFO : GHOST_LOG_DEBUG;
			break;
		case 'e':
			create_id = (uint64_t)tool_option_ll("--enclave", optarg, 1,
							     (long long)GHOST_ENCLAVE_ID_MAX);
			break;
		case 'a':
			attach_id = (uint64_t)tool_option_ll("--attach", optarg, 1,
							     (long long)GHOST_ENCLAVE_ID_MAX);
			break;
		case 's':
			stats_s = (int)tool_option_ll("--stats", optarg, 0, 86400);
			break;
		case 'r':
			root = optarg;
			break;
		case 'T':
			if (!optarg[0])
				return tool_usage_error("--trace needs a file name");
			trace_path = optarg;
			break;
		case 'Z':
			if (!parse_size(optarg, &trace_size) || trace_size < GHOST_TRACE_MIN_SIZE)
				return tool_usage_error(
					"bad value \"%s\" for --trace-size (expected "
					"a number of bytes, at least %u, with K, M "
					"or G after it if you like)",
					optarg, GHOST_TRACE_MIN_SIZE);
			break;
		case 'P':
			if (!tool_parse_prio(optarg, &prio))
				tool_usage_exit("unknown --prio \"%s\" (auto, rt or normal)",
						optarg);
			break;
		case 'K':
			keep = true;
			break;
		case 'J':
			sctx.json = true;
			break;
		case 'A':
			sctx.all = true;
			break;
		case 'q':
			sctx.quiet = true;
			break;
		case 'h':
			print_usage(own_policy);
			return 0;
		case ':':
			return tool_usage_error("%s needs a value", argv[optind - 1]);
		default:
			return tool_usage_error("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return tool_usage_error("unexpected argument \"%s\"", argv[optind]);
	if (trace_size && !trace_path)
		return tool_usage_error("--trace-size sizes the trace of --trace FILE");
	if (policy_name && own_policy && !strcmp(policy_name, own_policy->name)) {
		policy = own_policy;
	} else if (policy_name) {
		/* A plugin's own lines (why it cannot load) are ours to tell. */
		err = ghost_policy_resolve(policy_name, &policy, why, sizeof(why));
		if (err == -ENOENT && !strchr(policy_name, '/'))
			return tool_usage_error("%s", why);
		if (err) {
			tool_error("%s", why);
			return TOOL_EXIT_FAILURE;
		}
	}
	if (list) {
		if (nsettings)
			return tool_usage_error("%s sets a parameter of a policy to run, not of "
						"--list-policies",
						set[0].opt);
		if (policy_name && strchr(policy_name, '/')) {
			print_policy(policy, NULL); /* a plugin named with --policy */
			printf("    (a plugin: %s)\n", policy_name);
		}
		for_each_policy(own_policy, print_policy, NULL);
		return 0;
	}
	if (!policy)
		return tool_usage_error("--policy is required (--list-policies shows them)");
	if (policy->config_size > sizeof(cfg))
		return tool_usage_error("policy %s has a config of %zu bytes (at most %zu)",
					policy->name, policy->config_size, sizeof(cfg));
	if (ghost_policy_config_defaults(policy, cfg)) {
		tool_error("policy %s: its parameters' defaults do not parse", policy->name);
		return TOOL_EXIT_FAILURE;
	}
	for (int i = 0; i < nsettings; i++) {
		if (ghost_policy_config_parse(policy, cfg, set[i].kv, why, sizeof(why)))
			return tool_usage_error("%s %s: %s", set[i].opt, set[i].arg, why);
	}
	if ((sctx.json || sctx.all) && !stats_s)
		stats_s = 1;
	sctx.interval_ns = (int64_t)stats_s * 1000000000LL;
	if (create_id && attach_id)
		return tool_usage_error("--enclave and --attach exclude each other");
	if (attach_id && cpus_arg)
		return tool_usage_error("--cpus applies to a new enclave, not to --attach");
	ops = tool_kernel(kernel);
	if (!ops)
		return TOOL_EXIT_USAGE;

	tool_log_start(log_level);
	if (tool_kernel_check(ops, root))
		return TOOL_EXIT_FAILURE;
	if (!attach_id) {
		if ((err = tool_parse_cpus("--cpus", cpus_arg, &cpus)))
			return err;
		if (unfit(policy, cfg, &cpus, set, nsettings, why, sizeof(why)))
			return tool_usage_error("%s", why);
	}
	if (attach_id) {
		struct tool_enclave_open req = { .kernel = kernel, .root = root, .id = attach_id };

		if ((err = tool_open_enclave(&req, &e)))
			return err;
		if (unfit(policy, cfg, ghost_enclave_cpus(e), set, nsettings, why, sizeof(why))) {
			tool_error("enclave %" PRIu64 " cannot take %s: %s", attach_id,
				   policy->name, why);
			ghost_enclave_close(e);
			return TOOL_EXIT_USAGE;
		}
	} else {
		struct ghost_enclave_opts eo = {
			.sz = sizeof(eo),
			.kernel = ghost_kernel_name(ops),
			.root = root,
			.id = create_id,
			.cpus = &cpus,
		};

		if ((err = tool_create_enclave(&eo, &e)))
			return err;
	}
	{
		struct ghost_full_agent_opts fo = {
			.sz = sizeof(fo),
			.enclave = e,
			.policy = policy,
			.policy_config = policy->config_size ? cfg : NULL,
			.prio = prio,
			.take_over = attach_id != 0,
			.trace_path = trace_path,
			.trace_size = (size_t)trace_size,
		};

		tool_log_hold();
		err = ghost_full_agent_start(&fo, &fa);
		tool_log_release(err != 0);
	}
	if (err) {
		tool_error("cannot start the agents: %s",
			   err == -EBUSY ? "the enclave already has an agent"
					 : tool_log_reason(err));
		if (!attach_id)
			ghost_enclave_destroy(e);
		ghost_enclave_close(e);
		return TOOL_EXIT_FAILURE;
	}
	ghost_cpuset_format_list(ghost_enclave_cpus(e), line, sizeof(line));
	printf("%s: %s%s%s%s on the %s kernel, enclave %" PRIu64 ", CPUs %s, agents %s\n",
	       tool_name(), policy->name,
	       policy_name && strchr(policy_name, '/') ? " (plugin " : "",
	       policy_name && strchr(policy_name, '/') ? policy_name : "",
	       policy_name && strchr(policy_name, '/') ? ")" : "", ghost_kernel_name(ops),
	       ghost_enclave_id(e), line,
	       ghost_full_agent_is_rt(fa) ? "real-time" : "normal priority");
	fflush(stdout);

	err = ghost_agent_process_run(fa, stats_s > 0 ? stats_s * 1000 : 0,
				      stats_s > 0 ? print_stats : NULL, &sctx, &stop_requested);
	ended = err == -ENOTCONN;
	if (ended) {
		/* Destroyed by someone else, reaped, or its scheduler unloaded. */
		char reason[256] = "";

		if (ghost_enclave_read_file(e, "exit_info", reason, sizeof(reason)) > 0)
			reason[strcspn(reason, "\n")] = 0;
		tool_error("enclave %" PRIu64 " ended under the agent (%s); shutting down",
			   ghost_enclave_id(e), reason[0] ? reason : "its kernel side stopped");
	}
	/* The agents stop first: the summary is final, and the trace agrees with it. */
	traced = ghost_full_agent_finish(fa);
	if (ghost_full_agent_format_stats(fa, line, sizeof(line)) >= 0)
		printf("summary: %s\n", line);
	else
		printf("summary: (the policy's stats line does not fit %zu bytes)\n", sizeof(line));
	if (trace_path && traced >= 0)
		printf("%s: trace of %d records written to %s\n", tool_name(), traced, trace_path);
	else if (trace_path)
		tool_error("cannot write the trace %s: %s", trace_path, ghost_strerror(traced));
	ghost_full_agent_stop(fa);
	if (!keep) {
		/* Also after it ended: whatever the kernel side left is cleaned up
		 * (and nothing that took its id since is touched). */
		ghost_enclave_destroy(e);
		/* Why the kernel side ended, where it can say (the sched_ext scheduler's exit). */
		if (!ended && ghost_enclave_read_file(e, "exit_info", line, sizeof(line)) > 0 &&
		    strncmp(line, "destroyed", 9))
			printf("%s: kernel side: %s\n", tool_name(), line);
		printf("%s: enclave %" PRIu64 " %s; its tasks run on as normal threads\n",
		       tool_name(), ghost_enclave_id(e), ended ? "is gone" : "destroyed");
	}
	{
		uint64_t id = ghost_enclave_id(e);

		ghost_enclave_close(e);
		if (keep && !ended)
			report_kept(ops, root, id);
	}
	return ended || traced < 0 ? 1 : 0;
}
