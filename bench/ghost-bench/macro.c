/*
 * bench/ghost-bench/macro.c - the rpc macro benchmark, the headline: the ghOSt paper's
 * RocksDB experiment in miniature. ghost-workload's rpc pattern (an open-loop generator
 * pinned to CPU A, 8 workers, 99.5% 4 us / 0.5% 10 ms) at several offered loads, under
 * plain Linux threads and each policy, all in one run and interleaved (every load runs
 * every scheduler before the next load), with and without a low-priority antagonist. Each
 * point is its own ghost-agent and ghost-workload process, in a namespace of its own.
 *
 * Owns starting and stopping those processes, reading ghost-workload's JSON, and the rows
 * (a row per point, the medians of its runs; the headline ratios). Never schedules anything
 * itself: each scheduler under test runs in processes of its own.
 */
#include "bench.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const struct macro_cfg macro_cfgs[] = {
	{ "linux", NULL, false, false, false },
	{ "linux-cpu-b", NULL, true, false, false },
	{ "fifo-percpu", "fifo-percpu", false, false, false },
	{ "fifo-centralized", "fifo-centralized", false, false, false },
	{ "shinjuku", "shinjuku", false, true, true },
};
const int n_macro_cfgs = (int)(sizeof(macro_cfgs) / sizeof(macro_cfgs[0]));

static double json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return NAN;
	return strtod(p + strlen(pat), NULL);
}

static bool agent_online(struct bench *b, const char *root, const char *id)
{
	char ctl[PATH_MAX + 16], out[64];
	char *argv[] = { ctl,	"--kernel", (char *)b->kernel_name, "--root", (char *)root,
			 "get", (char *)id, "agent_online",	    NULL };

	snprintf(ctl, sizeof(ctl), "%s/ghostctl", b->bin_dir);
	return run_capture(argv, out, sizeof(out), 5000, true) == 0 && atoi(out) == 1;
}

/* Starts ghost-agent for one point; -1 (row failed) if it did not come online. */
pid_t macro_agent(struct bench *b, const struct macro_cfg *c, const char *root, struct row *r)
{
	char ag[PATH_MAX + 16], cpus[32];
	char *argv[24] = { ag,
			   "--policy",
			   (char *)c->policy,
			   "--cpus",
			   cpus,
			   "--kernel",
			   (char *)b->kernel_name,
			   "--enclave",
			   "1",
			   "--root",
			   (char *)root,
			   "--prio",
			   (char *)tool_prio_name(b->opt.prio),
			   "--global-cpu",
			   NULL };
	char gcpu[16];
	int64_t end = now_ns() + 10000000000LL;
	int a = 13, st;
	pid_t agent;

	snprintf(ag, sizeof(ag), "%s/ghost-agent", b->bin_dir);
	snprintf(cpus, sizeof(cpus), "%d,%d", b->cpu_a, b->cpu_b);
	snprintf(gcpu, sizeof(gcpu), "%d", b->cpu_a);
	if (strcmp(c->policy, "fifo-percpu")) {
		argv[a++] = "--global-cpu";
		argv[a++] = gcpu;
	}
	if (c->sliced) {
		argv[a++] = "--time-slice";
		argv[a++] = b->opt.slice_us;
	}
	argv[a++] = "--quiet";
	argv[a] = NULL;
	agent = fork_child();
	if (agent == 0) {
		int devnull = open("/dev/null", O_RDWR);

		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		sched_setaffinity(0, sizeof(b->orig_affinity), &b->orig_affinity);
		execv(ag, argv);
		_exit(127);
	}
	if (agent < 0) {
		r->failed = true;
		row_note(r, "cannot start ghost-agent");
		return -1;
	}
	child_started(agent);
	while (now_ns() < end) {
		if (waitpid(agent, &st, WNOHANG) == agent) {
			child_reaped(agent);
			break;
		}
		if (agent_online(b, root, "1"))
			return agent;
		usleep(20000);
	}
	r->failed = true;
	row_note(r, "ghost-agent did not come online");
	kill(agent, SIGKILL);
	waitpid(agent, &st, 0);
	child_reaped(agent);
	return -1;
}

void macro_stop_agent(pid_t agent, struct row *r)
{
	int64_t end = now_ns() + 10000000000LL;
	int st;

	kill(agent, SIGINT);
	while (waitpid(agent, &st, WNOHANG) != agent) {
		if (now_ns() > end) {
			kill(agent, SIGKILL);
			waitpid(agent, &st, 0);
			row_note(r, "ghost-agent ignored SIGINT for 10 s and was killed");
			break;
		}
		usleep(10000);
	}
	child_reaped(agent);
}

/* One run of one point: scheduler c at rate req/s, with an antagonist or not. */
static void macro_one(struct bench *b, const struct macro_cfg *c, const char *macro_root, int rate,
		      bool antag)
{
	char root[PATH_MAX], wl[PATH_MAX + 16], rate_s[16], dur_s[16], gcpu[16], wcpu[16];
	char name[64], label[112], out[8192];
	char *argv[40];
	pid_t agent = -1;
	struct row *r;
	int a = 0, st;

	snprintf(wl, sizeof(wl), "%s/ghost-workload", b->bin_dir);
	snprintf(rate_s, sizeof(rate_s), "%d", rate);
	snprintf(dur_s, sizeof(dur_s), "%.1f", b->opt.macro_seconds);
	snprintf(gcpu, sizeof(gcpu), "%d", b->cpu_a);
	snprintf(wcpu, sizeof(wcpu), "%d", b->cpu_b);
	snprintf(name, sizeof(name), "rpc_%d_%s%s", rate, c->name, antag ? "_antagonist" : "");
	snprintf(label, sizeof(label), "rpc %d req/s, %s%s", rate, c->name,
		 antag ? ", with an antagonist" : "");
	r = row_find(b, name);
	if (r && r->failed)
		return; /* a repetition of a point that already failed */
	if (!r)
		r = row_new(b, name, label);
	r->timed = true;
	r->unit = "req/s";
	r->offered = rate;
	r->macro = c;
	r->antagonist = antag;
	if (c != &macro_cfgs[0])
		snprintf(r->base, sizeof(r->base), "rpc_%d_%s%s", rate, macro_cfgs[0].name,
			 antag ? "_antagonist" : "");
	/* A namespace of its own: an agent that had to be killed leaves nothing in the way. */
	snprintf(root, sizeof(root), "%s/%s", macro_root, name);
	if (mkdir(root, 0700) && errno != EEXIST) {
		r->failed = true;
		row_note(r, "cannot create %s", root);
		return;
	}
	if (c->policy && (agent = macro_agent(b, c, root, r)) < 0)
		return;
	argv[a++] = wl;
	if (c->policy) {
		argv[a++] = "--kernel";
		argv[a++] = (char *)b->kernel_name;
		argv[a++] = "--enclave";
		argv[a++] = "1";
		argv[a++] = "--root";
		argv[a++] = root;
	} else {
		argv[a++] = "--no-ghost";
		if (c->worker_cpus) {
			argv[a++] = "--cpus";
			argv[a++] = wcpu;
		}
	}
	if (c->prio_table)
		argv[a++] = "--prio-table";
	if (antag) {
		argv[a++] = "--antagonists";
		argv[a++] = "1";
	}
	argv[a++] = "--threads";
	argv[a++] = "8";
	argv[a++] = "--pattern";
	argv[a++] = "rpc";
	argv[a++] = "--rate";
	argv[a++] = rate_s;
	argv[a++] = "--duration";
	argv[a++] = dur_s;
	argv[a++] = "--warmup";
	argv[a++] = "0.5";
	argv[a++] = "--generator-cpu";
	argv[a++] = gcpu;
	argv[a++] = "--json";
	argv[a] = NULL;
	st = run_capture(argv, out, sizeof(out), (int)(b->opt.macro_seconds * 1000) + 30000, false);
	if (agent > 0) {
		macro_stop_agent(agent, r);
		if (!r->nrep)
			row_note(r, "ghost-agent --prio %s%s%s", tool_prio_name(b->opt.prio),
				 c->sliced ? " --time-slice " : "",
				 c->sliced ? b->opt.slice_us : "");
	}
	if (isnan(json_num(out, "throughput_rps")) || isnan(json_num(out, "p50"))) {
		r->failed = true;
		row_note(r, "ghost-workload gave no result (status 0x%x)", st);
		return;
	}
	if (json_num(out, "completed") <= 0) {
		r->failed = true;
		row_note(r,
			 "no request completed (a worker kept its CPU: the policy never preempts "
			 "it)");
		return;
	}
	if (strstr(out, "\"interrupted\":true"))
		row_note(r, "interrupted");
	if (r->nrep < MAX_REPEAT) {
		const char *lag = strstr(out, "\"generator_lag_us\"");

		r->rep[5][r->nrep] = lag ? json_num(lag, "p99") : NAN;
		r->rep[0][r->nrep] = json_num(out, "p50") * 1000;
		r->rep[1][r->nrep] = json_num(out, "p99") * 1000;
		r->rep[2][r->nrep] = json_num(out, "p99_9") * 1000;
		r->rep[3][r->nrep] = json_num(out, "throughput_rps");
		r->rep[4][r->nrep] = antag ? json_num(out, "antagonist_cpus") : NAN;
		r->nrep++;
		r->n += (size_t)fmax(0, json_num(out, "samples"));
	}
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A macro row's figures: the medians of its runs. */
static void macro_finish(struct row *r)
{
	if (r->failed || !r->nrep)
		return;
	r->med = median_of(r->rep[0], r->nrep);
	r->p99 = median_of(r->rep[1], r->nrep);
	r->p999 = median_of(r->rep[2], r->nrep);
	r->thr = r->value = median_of(r->rep[3], r->nrep);
	if (r->antagonist) {
		r->antag_cpus = median_of(r->rep[4], r->nrep);
		row_note(r, "antagonist got %.2f CPUs", r->antag_cpus);
	}
	row_note(r, "the load generator issued 1%% of requests more than %.0f us late",
		 median_of(r->rep[5], r->nrep));
	if (r->nrep > 1)
		row_note(r, "medians of %d runs; p99 from %.0f to %.0f us", r->nrep,
			 r->rep[1][0] / 1e3, r->rep[1][r->nrep - 1] / 1e3);
}

/*
 * The target, per load below plain Linux's saturation (its p99 under 1 ms, the ghOSt
 * maintainers' threshold): shinjuku's p99 at most 0.1 x plain Linux threads' in the same
 * run, with the same throughput and p50 at most 1.5 x.
 */
static void macro_headline(struct bench *b, int rate, bool antag)
{
	char name[64], base[64], label[112];
	struct row *sj, *lx, *r;

	snprintf(name, sizeof(name), "rpc_%d_shinjuku%s", rate, antag ? "_antagonist" : "");
	snprintf(base, sizeof(base), "rpc_%d_linux%s", rate, antag ? "_antagonist" : "");
	sj = row_find(b, name);
	lx = row_find(b, base);
	if (!sj || !lx)
		return;
	snprintf(name, sizeof(name), "headline_%d%s", rate, antag ? "_antagonist" : "");
	snprintf(label, sizeof(label), "shinjuku p99 / linux p99 at %d req/s%s", rate,
		 antag ? ", antagonist" : "");
	r = row_new(b, name, label);
	r->unit = "x";
	r->target = 0.1;
	r->target_on = "value";
	r->offered = rate;
	r->antagonist = antag;
	r->headline = true;
	if (sj->failed || lx->failed || !(lx->p99 > 0)) {
		r->failed = true;
		row_note(r, "a run failed");
		return;
	}
	r->value = sj->p99 / lx->p99;
	r->below_saturation = lx->p99 < 1e6;
	row_note(r,
		 "p99 %.0f us vs %.0f us; p50 ratio %.2f (target <= 1.5); throughput %.0f vs "
		 "%.0f req/s; %s",
		 sj->p99 / 1e3, lx->p99 / 1e3, sj->med / lx->med, sj->thr, lx->thr,
		 r->below_saturation ? "linux below saturation (p99 < 1 ms)"
				     : "linux saturated (p99 >= 1 ms): outside the target's range");
	if (!r->below_saturation)
		r->target = NAN;
	/* Beside it, against plain Linux on the CPU the enclave gives its tasks: the same
	 * worker CPUs for both, so that only the scheduling differs. */
	snprintf(base, sizeof(base), "rpc_%d_linux-cpu-b%s", rate, antag ? "_antagonist" : "");
	lx = row_find(b, base);
	if (!lx || lx->failed || !(lx->p99 > 0))
		return;
	snprintf(name, sizeof(name), "headline_same_cpus_%d%s", rate, antag ? "_antagonist" : "");
	snprintf(label, sizeof(label),
		 "shinjuku p99 / linux p99 on the same worker CPU, %d req/s%s", rate,
		 antag ? ", antag." : "");
	r = row_new(b, name, label);
	r->unit = "x";
	r->offered = rate;
	r->antagonist = antag;
	r->headline = true;
	r->value = sj->p99 / lx->p99;
	r->below_saturation = lx->p99 < 1e6;
	row_note(r, "p99 %.0f us vs %.0f us (plain Linux threads on CPU %d only)", sj->p99 / 1e3,
		 lx->p99 / 1e3, b->cpu_b);
}

void run_macro(struct bench *b)
{
	const struct bench_opts *o = &b->opt;
	int antagonist_runs = o->antagonist ? 2 : 1;
	char root[300];

	progress(b, "rpc macro benchmark: %d loads x %d schedulers x %d x %d runs (about %.0f s)",
		 o->nloads, n_macro_cfgs, antagonist_runs, o->repeat,
		 o->nloads * n_macro_cfgs * antagonist_runs * o->repeat * (o->macro_seconds + 1.5));
	snprintf(root, sizeof(root), "%s/macro", b->root);
	if (mkdir(root, 0700) && errno != EEXIST) {
		struct row *r = row_new(b, "rpc", "rpc macro benchmark");

		r->failed = true;
		row_note(r, "cannot create %s", root);
		return;
	}
	/* Repetitions outermost: a slow spell of the machine hits every scheduler alike. */
	for (int rep = 0; rep < o->repeat; rep++)
		for (int antag = 0; antag < antagonist_runs; antag++)
			for (int i = 0; i < o->nloads; i++)
				for (int c = 0; c < n_macro_cfgs; c++)
					macro_one(b, &macro_cfgs[c], root, o->loads[i], antag);
	for (int i = 0; i < b->nrows; i++)
		if (b->rows[i].macro)
			macro_finish(&b->rows[i]);
	for (int antag = 0; antag < antagonist_runs; antag++)
		for (int i = 0; i < o->nloads; i++)
			macro_headline(b, o->loads[i], antag);
}
