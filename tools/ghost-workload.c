/*
 * ghost-workload - runs a synthetic load as ghost threads of an existing
 * enclave and reports what it got.
 *
 *   ghost-workload --enclave ID [--kernel K] [--root DIR] --threads N
 *                  --pattern {spin,block-wake,rpc} --duration SECONDS [options]
 *
 * Owns the command line, waiting (--wait) for the enclave and its agent to
 * appear, the load patterns (one table, struct pattern, from which --help,
 * the option checks and the dispatch come; spin: CPU-bound chunks;
 * block-wake: token ping-pong through ghost_wait/ghost_wake; rpc: an
 * open-loop request load with a service-time mix, as in the ghOSt paper's
 * RocksDB experiment: a load generator hands each request to an idle worker,
 * waking it through a ghost wait or, with --prio-table, through the
 * process's PrioTable), optional low-priority antagonists, the latency
 * histograms and the report (a table or one JSON object). It never schedules
 * anything: the enclave's agent (another process, started with ghost-agent)
 * does. --no-ghost runs the same threads as plain pthreads, the baseline to
 * compare against. It also tells whether every worker got the CPU: one that
 * had work waiting and never ran in the measured window fails the run.
 *
 * Exit status: 0 success, 1 setup failure (no enclave or no agent within
 * --wait), a thread that ran outside the enclave, or a worker that got no
 * CPU time in the measured window; 2 bad arguments.
 */
#include <ghost/common.h>
#include <ghost/cpuset.h>
#include <ghost/enclave.h>
#include <ghost/kernel.h>
#include <ghost/priotable.h>
#include <ghost/thread.h>

#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PROG "ghost-workload"

#define MAX_THREADS	1024
#define MAX_ANTAGONISTS 64
#define MAX_SERVICE	16
#define NSEC_PER_SEC	1000000000LL
#define NSEC_PER_USEC	1000LL
/* How long started threads may take to reach the start line / to stop. */
#define START_GRACE_NS	(5 * NSEC_PER_SEC)
#define STOP_GRACE_NS	(5 * NSEC_PER_SEC)
/* --wait: how long to wait for the enclave and its agent by default, at most. */
#define DEFAULT_WAIT_S	5
#define MAX_WAIT_S	86400
/* Pending requests the rpc backlog holds before new ones are dropped. */
#define RPC_QUEUE_CAP	(1u << 18)
/* PrioTable work classes of the rpc pattern. */
#define WC_WORKER	0
#define WC_ANTAGONIST	1
#define QOS_WORKER	2
#define QOS_ANTAGONIST	1

struct pattern;

/*
 * The options that belong to some patterns only (struct pattern's options): given
 * with another pattern, they are a usage error.
 */
enum pattern_option {
	PO_RATE = 1 << 0,
	PO_SERVICE = 1 << 1,
	PO_SEED = 1 << 2,
	PO_CHUNK = 1 << 3,
	PO_PRIO_TABLE = 1 << 4,
	PO_GEN_CPU = 1 << 5,
	PO_GEN_PRIO = 1 << 6,
};

static const struct {
	enum pattern_option bit;
	const char *name;
} pattern_options[] = {
	{ PO_RATE, "--rate" },
	{ PO_SERVICE, "--service" },
	{ PO_SEED, "--seed" },
	{ PO_CHUNK, "--chunk-us" },
	{ PO_PRIO_TABLE, "--prio-table" },
	{ PO_GEN_CPU, "--generator-cpu" },
	{ PO_GEN_PRIO, "--generator-prio" },
};

/* ---- options ---- */

struct options {
	uint64_t enclave;   /* 0 = not given */
	const char *kernel; /* NULL = the default backend */
	const char *root;
	int threads;		       /* 0 = not given */
	const struct pattern *pattern; /* NULL = not given */
	unsigned given;		       /* enum pattern_option: the pattern options given */
	double duration_s;	       /* < 0 = not given */
	double warmup_s;
	double rate; /* rpc requests per second */
	struct tool_service service[MAX_SERVICE];
	int nservice;
	double chunk_us; /* spin work per chunk */
	uint64_t seed;
	bool json;
	bool no_ghost;
	bool prio_table; /* rpc: dispatch through a PrioTable */
	int antagonists; /* low-priority spinners beside the workers */
	int gen_cpu;	 /* load generator's CPU, -1 = any */
	cpu_set_t cpus;	 /* --no-ghost: where the threads may run */
	bool have_cpus;
	enum ghost_agent_prio gen_prio; /* the load generator's class */
	double wait_s;			/* for the enclave and its agent to appear */
};

static const char *const default_service = "99.5:4us,0.5:10ms";

/* ---- the patterns ---- */

struct worker;
struct workload;
struct results;

/*
 * A load pattern: what --help says of it, which options apply to it, and what its threads
 * do. The run calls prepare() before any thread starts, each worker's run() once released
 * (antagonists run run_antagonist() instead), start() as the workers are released, stop()
 * when the run ends (to wake workers that wait for work), and json() or table() to report.
 */
struct pattern {
	const char *name;
	const char *help; /* its paragraph of --help, lines of at most 62 columns */
	int min_threads;
	unsigned options; /* enum pattern_option: those that apply to it */
	bool latency;	  /* workers keep a latency histogram */
	bool wait_hist;	  /* workers keep a wait histogram (arrival -> start) */
	int (*prepare)(struct workload *w);
	void (*run)(struct worker *me);
	int (*start)(struct workload *w); /* NULL: nothing to start */
	void (*stop)(struct workload *w); /* NULL: nobody waits for work */
	void (*json)(const struct workload *w, const struct results *r);
	void (*table)(const struct workload *w, const struct results *r);
};

static int spin_prepare(struct workload *w);
static void run_spin(struct worker *me);
static void spin_json(const struct workload *w, const struct results *r);
static void spin_table(const struct workload *w, const struct results *r);
static int block_wake_prepare(struct workload *w);
static void run_block_wake(struct worker *me);
static void block_wake_stop(struct workload *w);
static void block_wake_json(const struct workload *w, const struct results *r);
static void block_wake_table(const struct workload *w, const struct results *r);
static int rpc_prepare(struct workload *w);
static void run_rpc(struct worker *me);
static int rpc_start(struct workload *w);
static void rpc_stop(struct workload *w);
static void rpc_json(const struct workload *w, const struct results *r);
static void rpc_table(const struct workload *w, const struct results *r);

static const struct pattern patterns[] = {
	{
		.name = "spin",
		.help = "each thread spins in chunks of CPU work; reports the chunks\n"
			"done in total and per thread (min/max shows fairness)",
		.min_threads = 1,
		.options = PO_CHUNK | PO_PRIO_TABLE,
		.prepare = spin_prepare,
		.run = run_spin,
		.json = spin_json,
		.table = spin_table,
	},
	{
		.name = "block-wake",
		.help = "threads in pairs (a triple when N is odd) pass a token with\n"
			"ghost_wait/ghost_wake; reports round trips and hand-off latency",
		.min_threads = 2,
		.latency = true,
		.prepare = block_wake_prepare,
		.run = run_block_wake,
		.stop = block_wake_stop,
		.json = block_wake_json,
		.table = block_wake_table,
	},
	{
		.name = "rpc",
		.help = "a normal (non-ghost) load generator sends requests at --rate\n"
			"with exponential inter-arrival times (open loop) to N ghost\n"
			"workers that spin for each request's service time; reports\n"
			"throughput and latency (completion - intended arrival)\n"
			"(requests wait in a backlog while every worker is busy)",
		.min_threads = 1,
		.options = PO_RATE | PO_SERVICE | PO_SEED | PO_PRIO_TABLE | PO_GEN_CPU |
			   PO_GEN_PRIO,
		.latency = true,
		.wait_hist = true,
		.prepare = rpc_prepare,
		.run = run_rpc,
		.start = rpc_start,
		.stop = rpc_stop,
		.json = rpc_json,
		.table = rpc_table,
	},
};
#define PATTERN_COUNT ((int)(sizeof(patterns) / sizeof(patterns[0])))

/*
 * The patterns' paragraphs of --help and their names in messages: "spin, block-wake or
 * rpc", "{spin,block-wake,rpc}", "spin and rpc" (those that take option, 0 = all).
 */
static void list_patterns(char *buf, size_t len, unsigned option, const char *sep,
			  const char *last);

static void usage(FILE *f)
{
	char braces[128], choices[128], needs[128] = "";
	size_t used = 0;

	list_patterns(braces, sizeof(braces), 0, ",", ",");
	list_patterns(choices, sizeof(choices), 0, ", ", " or ");
	for (int i = 0; i < PATTERN_COUNT; i++)
		if (patterns[i].min_threads > 1 && used < sizeof(needs))
			used += (size_t)snprintf(needs + used, sizeof(needs) - used,
						 "; %s needs %d", patterns[i].name,
						 patterns[i].min_threads);
	fprintf(f,
		"usage: " PROG " --enclave ID [--kernel K] [--root DIR] --threads N\n"
		"       --pattern {%s} --duration SECONDS [options]\n"
		"\n"
		"Runs N ghost threads in an existing enclave (start one with ghost-agent)\n"
		"and reports what they got.\n"
		"\n"
		"patterns:\n",
		braces);
	for (int i = 0; i < PATTERN_COUNT; i++) {
		const char *line = patterns[i].help;

		for (bool first = true; *line; first = false) {
			int n = (int)strcspn(line, "\n");

			fprintf(f, "  %-12s%.*s\n", first ? patterns[i].name : "", n, line);
			line += n + (line[n] == '\n');
		}
	}
	fprintf(f,
		"\n"
		"options:\n"
		"  --enclave ID        the enclave to run in (required unless --no-ghost)\n"
		"  --kernel K          kernel backend (default: $GHOST_KERNEL, else emu)\n"
		"  --root DIR          backend namespace root (emu: default $GHOST_EMU_ROOT)\n"
		"  --wait S            seconds to wait for the enclave to exist and for an\n"
		"                      agent to serve it, as when the agent was started just\n"
		"                      before (default %d, at most %d; 0 = fail at once)\n"
		"  --threads N         ghost threads to run (1..%d%s)\n"
		"  --pattern P         %s\n"
		"  --duration S        seconds to measure for (> 0)\n"
		"  --warmup S          seconds to run before measuring (default 0)\n"
		"  --rate R            rpc: offered requests per second (default 10000)\n"
		"  --service MIX       rpc: service-time mix PCT:TIME,... where TIME has a\n"
		"                      unit ns, us, ms or s (default %s)\n"
		"  --chunk-us US       spin: microseconds of work per chunk (default 50)\n"
		"  --seed N            rpc: random seed (default 1)\n"
		"  --prio-table        every thread gets a sched item in this process's\n"
		"                      PrioTable, for agents that read it (shinjuku); rpc\n"
		"                      workers mark it idle when out of work and the\n"
		"                      generator wakes one by marking it runnable\n"
		"  --antagonists N     also run N spinning threads of a lower priority: a\n"
		"                      low-QoS PrioTable class with --prio-table, SCHED_IDLE\n"
		"                      with --no-ghost (in an enclave without --prio-table\n"
		"                      they are ordinary ghost threads); reports the CPU\n"
		"                      time they got\n"
		"  --cpus LIST         --no-ghost: run the threads on these CPUs only\n"
		"                      (e.g. the CPUs an enclave gives its tasks)\n"
		"  --generator-cpu C   rpc: pin the load generator to CPU C\n"
		"  --generator-prio P  rpc: auto (real-time if allowed, the default), rt or\n"
		"                      normal: a real-time generator is not delayed by the\n"
		"                      threads it loads\n"
		"  --json              print one JSON object instead of the table\n"
		"  --no-ghost          run plain pthreads, no enclave (the baseline)\n"
		"  --help              show this text\n"
		"\n"
		"exit status: 0 ok; 1 setup failure (no enclave or no agent within --wait),\n"
		"a thread ran outside the enclave, or a worker got no CPU time: it had work\n"
		"waiting (spin: always; block-wake: the token; rpc: a request, or it had yet\n"
		"to start) for at least half the measured time and never ran in it (idle rpc\n"
		"workers and antagonists may go without); 2 bad arguments. SIGINT stops\n"
		"early and reports what was done.\n",
		DEFAULT_WAIT_S, MAX_WAIT_S, MAX_THREADS, needs, choices, default_service);
}

static int parse_service(const char *arg, struct options *o)
{
	return tool_parse_service("--service", arg, o->service, MAX_SERVICE, &o->nservice);
}

static void list_patterns(char *buf, size_t len, unsigned option, const char *sep, const char *last)
{
	int n = 0, listed = 0;
	size_t used = 0;

	for (int i = 0; i < PATTERN_COUNT; i++)
		n += !option || (patterns[i].options & option);
	buf[0] = '\0';
	for (int i = 0; i < PATTERN_COUNT && used < len; i++) {
		if (option && !(patterns[i].options & option))
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 !listed	   ? ""
					 : listed == n - 1 ? last
							   : sep,
					 patterns[i].name);
		listed++;
	}
}

static int parse_pattern(const char *arg, struct options *o)
{
	char choices[128];

	for (int i = 0; i < PATTERN_COUNT; i++) {
		if (!strcmp(arg, patterns[i].name)) {
			o->pattern = &patterns[i];
			return 0;
		}
	}
	list_patterns(choices, sizeof(choices), 0, ", ", " or ");
	return tool_usage_error("unknown --pattern '%s' (%s)", arg, choices);
}

/* --cpus LIST (with --no-ghost): CPUs of this machine this process may run on. */
static int parse_cpus(const char *arg, struct options *o)
{
	struct ghost_cpuset set;
	cpu_set_t mine;
	int cpu, err;

	if ((err = tool_parse_cpus("--cpus", arg, &set)))
		return err;
	CPU_ZERO(&o->cpus);
	ghost_cpuset_for_each(cpu, &set)
		if (cpu < CPU_SETSIZE)
			CPU_SET(cpu, &o->cpus);
	o->have_cpus = true;
	if (sched_getaffinity(0, sizeof(mine), &mine) == 0) {
		CPU_AND(&mine, &mine, &o->cpus);
		if (CPU_COUNT(&mine) != CPU_COUNT(&o->cpus))
			return tool_usage_error(
				"--cpus '%s': this process may not run on all of them", arg);
	}
	return 0;
}

enum {
	OPT_ENCLAVE = 256,
	OPT_KERNEL,
	OPT_ROOT,
	OPT_THREADS,
	OPT_PATTERN,
	OPT_DURATION,
	OPT_WARMUP,
	OPT_RATE,
	OPT_SERVICE,
	OPT_CHUNK,
	OPT_SEED,
	OPT_JSON,
	OPT_NO_GHOST,
	OPT_PRIO_TABLE,
	OPT_ANTAGONISTS,
	OPT_GEN_CPU,
	OPT_GEN_PRIO,
	OPT_CPUS,
	OPT_WAIT,
};

static const struct option long_opts[] = {
	{ "enclave", required_argument, NULL, OPT_ENCLAVE },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "pattern", required_argument, NULL, OPT_PATTERN },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "chunk-us", required_argument, NULL, OPT_CHUNK },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "no-ghost", no_argument, NULL, OPT_NO_GHOST },
	{ "prio-table", no_argument, NULL, OPT_PRIO_TABLE },
	{ "antagonists", required_argument, NULL, OPT_ANTAGONISTS },
	{ "generator-cpu", required_argument, NULL, OPT_GEN_CPU },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "generator-prio", required_argument, NULL, OPT_GEN_PRIO },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* A duration-like option: finite, >= 0 (> 0 when positive is set). */
static int parse_seconds(const char *name, const char *arg, bool positive, double *out)
{
	if (!tool_parse_double(arg, out) || *out < 0 || (positive && *out == 0) || *out > 1e7)
		return tool_usage_error("bad %s '%s' (%s number of seconds)", name, arg,
					positive ? "a positive" : "a non-negative");
	return 0;
}

/* One option; 0, or the exit status after one line. */
static int parse_one(int c, const char *arg, struct options *o)
{
	uint64_t v;

	switch (c) {
	case OPT_ENCLAVE:
		if (!tool_parse_u64(arg, &o->enclave) || !o->enclave ||
		    o->enclave > GHOST_ENCLAVE_ID_MAX)
			return tool_usage_error("bad --enclave '%s' (an enclave id, 1 to %llu)",
						arg, (unsigned long long)GHOST_ENCLAVE_ID_MAX);
		return 0;
	case OPT_KERNEL:
		o->kernel = arg;
		return tool_kernel(arg) ? 0 : TOOL_EXIT_USAGE;
	case OPT_ROOT:
		o->root = arg;
		return 0;
	case OPT_THREADS:
		if (!tool_parse_u64(arg, &v) || v < 1 || v > MAX_THREADS)
			return tool_usage_error("bad --threads '%s' (1..%d)", arg, MAX_THREADS);
		o->threads = (int)v;
		return 0;
	case OPT_PATTERN:
		return parse_pattern(arg, o);
	case OPT_DURATION:
		return parse_seconds("--duration", arg, true, &o->duration_s);
	case OPT_WARMUP:
		return parse_seconds("--warmup", arg, false, &o->warmup_s);
	case OPT_RATE:
		o->given |= PO_RATE;
		if (!tool_parse_double(arg, &o->rate) || o->rate <= 0 || o->rate > 1e8)
			return tool_usage_error("bad --rate '%s' (requests per second, > 0)", arg);
		return 0;
	case OPT_SERVICE:
		o->given |= PO_SERVICE;
		return parse_service(arg, o);
	case OPT_CHUNK:
		o->given |= PO_CHUNK;
		if (!tool_parse_double(arg, &o->chunk_us) || o->chunk_us < 1 || o->chunk_us > 1e6)
			return tool_usage_error("bad --chunk-us '%s' (1..1000000)", arg);
		return 0;
	case OPT_SEED:
		o->given |= PO_SEED;
		if (!tool_parse_u64(arg, &o->seed))
			return tool_usage_error("bad --seed '%s'", arg);
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_NO_GHOST:
		o->no_ghost = true;
		return 0;
	case OPT_PRIO_TABLE:
		o->given |= PO_PRIO_TABLE;
		o->prio_table = true;
		return 0;
	case OPT_ANTAGONISTS:
		if (!tool_parse_u64(arg, &v) || v > MAX_ANTAGONISTS)
			return tool_usage_error("bad --antagonists '%s' (0..%d)", arg,
						MAX_ANTAGONISTS);
		o->antagonists = (int)v;
		return 0;
	case OPT_GEN_CPU:
		o->given |= PO_GEN_CPU;
		if (!tool_parse_u64(arg, &v) || v >= CPU_SETSIZE)
			return tool_usage_error("bad --generator-cpu '%s' (a CPU number)", arg);
		o->gen_cpu = (int)v;
		return 0;
	case OPT_CPUS:
		return parse_cpus(arg, o);
	case OPT_GEN_PRIO:
		o->given |= PO_GEN_PRIO;
		if (!tool_parse_prio(arg, &o->gen_prio))
			return tool_usage_error("bad --generator-prio '%s' (auto, rt or normal)",
						arg);
		return 0;
	case OPT_WAIT:
		if (!tool_parse_double(arg, &o->wait_s) || o->wait_s < 0 || o->wait_s > MAX_WAIT_S)
			return tool_usage_error("bad --wait '%s' (seconds, 0 to %d)", arg,
						MAX_WAIT_S);
		return 0;
	}
	return TOOL_EXIT_USAGE;
}

/* The whole option set must make sense together: 0, or the exit status after one line. */
static int check_options(const struct options *o)
{
	char choices[128];

	if (!o->pattern) {
		list_patterns(choices, sizeof(choices), 0, ", ", " or ");
		return tool_usage_error("missing --pattern (%s)", choices);
	}
	if (!o->threads)
		return tool_usage_error("missing --threads");
	if (o->duration_s < 0)
		return tool_usage_error("missing --duration");
	if (!o->no_ghost && !o->enclave)
		return tool_usage_error("missing --enclave (or --no-ghost for plain threads)");
	if (o->threads < o->pattern->min_threads)
		return tool_usage_error("--threads must be at least %d for --pattern %s",
					o->pattern->min_threads, o->pattern->name);
	if (o->have_cpus && !o->no_ghost)
		return tool_usage_error("--cpus applies to --no-ghost (an enclave has CPUs of its "
					"own)");
	for (size_t i = 0; i < sizeof(pattern_options) / sizeof(pattern_options[0]); i++) {
		enum pattern_option bit = pattern_options[i].bit;

		if (!(o->given & bit) || (o->pattern->options & bit))
			continue;
		list_patterns(choices, sizeof(choices), bit, ", ", " and ");
		return tool_usage_error("%s applies to --pattern %s", pattern_options[i].name,
					choices);
	}
	if (o->prio_table && o->no_ghost)
		return tool_usage_error("--prio-table needs an enclave (not --no-ghost)");
	if (o->gen_cpu >= 0) {
		cpu_set_t set;

		if (sched_getaffinity(0, sizeof(set), &set) == 0 && !CPU_ISSET(o->gen_cpu, &set))
			return tool_usage_error(
				"--generator-cpu %d: this process may not run there", o->gen_cpu);
	}
	return 0;
}

/* 0 to run, or the exit status after one line; exits 0 after --help. */
static int parse_args(int argc, char **argv, struct options *o)
{
	int c, err;

	*o = (struct options){ .duration_s = -1,
			       .rate = 10000,
			       .chunk_us = 50,
			       .seed = 1,
			       .gen_cpu = -1,
			       .wait_s = DEFAULT_WAIT_S };
	if ((err = parse_service(default_service, o)))
		return err;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == '?')
			return tool_usage_error("unknown option '%s'", argv[optind - 1]);
		if (c == ':')
			return tool_usage_error("option '%s' needs a value", argv[optind - 1]);
		err = parse_one(c, optarg, o);
		if (err)
			return err;
	}
	if (optind < argc)
		return tool_usage_error("unexpected argument '%s'", argv[optind]);
	return check_options(o);
}

/* ---- latency histogram ---- */

/*
 * Log-linear buckets: values below 2^(SUB_BITS+1) ns are exact; above, each
 * power of two is cut into 2^SUB_BITS buckets, so a bucket is at most 1/128
 * of its values wide and its midpoint is within 0.4% of any value in it.
 */
#define HIST_SUB_BITS 7
#define HIST_SUB      (1 << HIST_SUB_BITS)
#define HIST_MAX_BIT  42 /* values clamp at 2^42 ns, about 73 minutes */
#define HIST_BUCKETS  ((HIST_MAX_BIT - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t n;
	int64_t min, max;
	double sum;
	uint64_t b[HIST_BUCKETS];
};

static int hist_index(int64_t v)
{
	int msb, shift;

	if (v < 0)
		v = 0;
	if (v >= (1LL << HIST_MAX_BIT))
		v = (1LL << HIST_MAX_BIT) - 1;
	if (v < 2 * HIST_SUB)
		return (int)v;
	msb = 63 - __builtin_clzll((unsigned long long)v);
	shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (int)((v >> shift) - HIST_SUB);
}

/* The middle of bucket i, in ns. */
static double hist_value(int i)
{
	int shift;

	if (i < 2 * HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	return (double)((int64_t)(i % HIST_SUB + HIST_SUB) << shift) +
	       ((double)(1LL << shift) - 1) / 2;
}

static void hist_add(struct hist *h, int64_t v)
{
	if (!h->n || v < h->min)
		h->min = v;
	if (!h->n || v > h->max)
		h->max = v;
	h->n++;
	h->sum += (double)v;
	h->b[hist_index(v)]++;
}

static void hist_merge(struct hist *to, const struct hist *from)
{
	if (!from->n)
		return;
	if (!to->n || from->min < to->min)
		to->min = from->min;
	if (!to->n || from->max > to->max)
		to->max = from->max;
	to->n += from->n;
	to->sum += from->sum;
	for (int i = 0; i < HIST_BUCKETS; i++)
		to->b[i] += from->b[i];
}

/* The p-quantile (0 < p <= 1) in ns: the sample of rank ceil(p * n). */
static double hist_quantile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0;
	double v;

	if (!h->n)
		return 0;
	rank = (uint64_t)ceil(p * (double)h->n);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen < rank)
			continue;
		v = hist_value(i);
		if (v < (double)h->min)
			v = (double)h->min;
		if (v > (double)h->max)
			v = (double)h->max;
		return v;
	}
	return (double)h->max;
}

/* ---- the run: threads, start line, stop flag ---- */

struct workload;

struct worker {
	struct workload *w;
	int idx;
	struct ghost_thread *gt; /* ghost mode */
	pthread_t pt;		 /* --no-ghost */
	bool released;		 /* no longer a ghost task when its run ended */
	int enter_err;		 /* ghost_thread_join: why it never was one */
	uint64_t count;		 /* chunks, round trips or requests */
	struct hist *lat;	 /* block-wake and rpc */
	struct hist *wait;	 /* rpc: arrival -> the worker starts on it */
	/* block-wake: 1 = holds the token, 0 = waits for it, 2 = stop */
	uint32_t token;
	int64_t stamp;	     /* when the token was handed to us */
	struct worker *next; /* whom we pass the token to */
	bool leader;	     /* counts round trips of its group */
	bool idle_at_start;  /* has no work when released (block-wake: no token) */
	bool antagonist;     /* a low-priority spinner, not a worker */
	/* rpc: the request the generator handed us (valid once mail_seq moved) */
	int64_t mail_arrival, mail_service;
	uint32_t mail_seq;
	uint32_t mail_taken; /* mail_seq of the last request we took out */
	int64_t cur_arrival; /* arrival of the request in hand, 0 = none */
	/*
	 * Whether it got the CPU (see no_cpu()): since when it has had work it has
	 * not got through (0 = none: it waits for some), set by whoever gives it
	 * work and cleared by the worker before it may wait for more; whether it
	 * ran at all (reached the start line); whether it read the clock while
	 * working in the measured window, or worked through all of it.
	 */
	int64_t busy_since;
	bool at_start;
	bool ran;
} __attribute__((aligned(64)));

struct request {
	int64_t arrival_ns; /* intended arrival time */
	int64_t service_ns;
};

/*
 * The rpc backlog: requests that found every worker busy. One producer (the
 * generator) and many consumers (the generator handing work to a worker that
 * just went idle, and workers that finish one request and take the next),
 * lock-free so that a worker preempted at any moment holds nobody up. Slots
 * are read with atomic loads: a consumer that loses the race for head may
 * read a slot the producer is refilling, and discards what it read.
 */
struct rpc_queue {
	struct request *ring;
	uint64_t head __attribute__((aligned(64))); /* next to take */
	uint64_t tail __attribute__((aligned(64))); /* next to fill */
	/* idle workers, one bit each: set by the worker, cleared by whoever
	 * claims it (the generator to hand it a request, or the worker itself) */
	uint64_t idle[MAX_THREADS / 64] __attribute__((aligned(64)));
};

struct workload {
	const struct options *o;
	struct ghost_enclave *e; /* NULL with --no-ghost */
	const char *kernel;	 /* backend name (ghost mode) */
	struct worker *workers;
	int nstarted;
	uint32_t ready;	 /* workers at the start line */
	uint32_t go;	 /* 1: start (or stop, if stop is set too) */
	uint32_t exited; /* workers whose pattern function returned */
	int stop;
	int64_t start_ns, measure_ns, end_ns, stop_ns;
	uint64_t spin_iters;  /* arithmetic steps per spin chunk */
	uint64_t antag_iters; /* ... per 50 us, the antagonists' step */
	struct rpc_queue q;
	struct ghost_prio_table *pt; /* --prio-table */
	pthread_t gen;
	bool gen_started;
	struct hist *gen_lag;	  /* rpc: how late the generator issued requests */
	int gen_class;		  /* the scheduling class the generator got */
	uint64_t issued, dropped; /* in the measured window */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* SIGINT/SIGTERM go to the main thread only: workers inherit them blocked. */
static void block_signals(bool block)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static bool stopping(const struct workload *w)
{
	return __atomic_load_n(&w->stop, __ATOMIC_RELAXED);
}

/* Waits until *word reaches want, up to deadline; false on timeout. */
static bool wait_count(uint32_t *word, uint32_t want, int64_t deadline, bool interruptible)
{
	uint32_t v;

	while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) < want) {
		if (ghost_now_ns() >= deadline || (interruptible && interrupted))
			return false;
		ghost_wait(word, v, ghost_now_ns() + 20 * 1000000LL);
	}
	return true;
}

static void bump(uint32_t *word)
{
	__atomic_add_fetch(word, 1, __ATOMIC_RELEASE);
	ghost_wake(word, INT_MAX);
}

/* The worker worked from t0 to t1 (each a clock it read): was that in the measured window? */
static void note_ran(struct worker *me, int64_t t0, int64_t t1)
{
	if (t1 >= me->w->measure_ns && t0 <= me->w->end_ns)
		me->ran = true;
}

static void set_busy(struct worker *me, int64_t since)
{
	__atomic_store_n(&me->busy_since, since, __ATOMIC_RELAXED);
}

/* ---- spin ---- */

/*
 * The compiler must compute x and may not assume it unchanged: the work a loop does on
 * it is neither folded nor dropped.
 */
static inline void keep_work(uint64_t *x)
{
	__asm__ volatile("" : "+r"(*x));
}

static uint64_t spin_chunk(uint64_t iters, uint64_t x)
{
	for (uint64_t i = 0; i < iters; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		keep_work(&x);
	}
	return x;
}

/* Steps of spin_chunk() that take about chunk_us here (best of a few tries). */
static uint64_t spin_calibrate(double chunk_us)
{
	uint64_t iters = 1000, x = 1;
	int64_t t0, dt = 0, best = INT64_MAX;

	for (;;) {
		t0 = ghost_now_ns();
		x = spin_chunk(iters, x);
		dt = ghost_now_ns() - t0;
		if (dt >= 2000000 || iters >= (1ULL << 40))
			break;
		iters *= 2;
	}
	for (int i = 0; i < 5; i++) {
		t0 = ghost_now_ns();
		x = spin_chunk(iters, x);
		dt = ghost_now_ns() - t0;
		if (dt < best)
			best = dt;
	}
	if (best <= 0)
		best = 1;
	iters = (uint64_t)((double)iters * chunk_us * NSEC_PER_USEC / (double)best) + (x & 1);
	return iters ? iters : 1;
}

static int spin_prepare(struct workload *w)
{
	w->spin_iters = spin_calibrate(w->o->chunk_us);
	return 0;
}

static void run_spin(struct worker *me)
{
	struct workload *w = me->w;
	uint64_t x = (uint64_t)me->idx + 1;
	int64_t t0 = ghost_now_ns(), t1;

	while (!stopping(w)) {
		x = spin_chunk(w->spin_iters, x);
		t1 = ghost_now_ns();
		note_ran(me, t0, t1);
		if (stopping(w))
			break;
		if (t1 >= w->measure_ns)
			me->count++;
		t0 = t1;
	}
	keep_work(&x);
}

/* ---- block-wake ---- */

/* Pairs (0,1), (2,3)...; with an odd count the last group is a triple. */
static int block_wake_prepare(struct workload *w)
{
	int n = w->o->threads, base = 0;

	while (base < n) {
		int size = n - base == 3 ? 3 : 2;

		for (int i = 0; i < size; i++) {
			struct worker *me = &w->workers[base + i];

			me->next = &w->workers[base + (i + 1) % size];
			me->leader = i == 0;
			me->token = me->leader;
			me->idle_at_start = !me->token;
		}
		base += size;
	}
	return 0;
}

/* Takes the token: false when the run is stopping. */
static bool take_token(struct worker *me)
{
	uint32_t one = 1;

	for (;;) {
		uint32_t v = __atomic_load_n(&me->token, __ATOMIC_ACQUIRE);

		if (v == 2 || stopping(me->w))
			return false;
		if (v == 0) {
			ghost_wait(&me->token, 0, me->w->end_ns + STOP_GRACE_NS);
			continue;
		}
		if (__atomic_compare_exchange_n(&me->token, &one, 0, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true;
		one = 1;
	}
}

static bool pass_token(struct worker *me)
{
	struct worker *to = me->next;
	uint32_t zero = 0;

	to->stamp = ghost_now_ns();
	/* Before the token: it clears this only after taking the token (run_block_wake). */
	set_busy(to, to->stamp);
	if (!__atomic_compare_exchange_n(&to->token, &zero, 1, false, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED))
		return false; /* it is being stopped */
	ghost_wake(&to->token, 1);
	return true;
}

static void run_block_wake(struct worker *me)
{
	struct workload *w = me->w;

	while (take_token(me)) {
		int64_t now = ghost_now_ns(), stamp = me->stamp;

		note_ran(me, now, now);
		/* The first hand-off of a group has no sender to time. */
		if (stamp && stamp >= w->measure_ns) {
			hist_add(me->lat, now - stamp);
			if (me->leader)
				me->count++;
		}
		/* Out of work once the token is passed: cleared first, so that the
		 * next hand-off to us, which comes after, is never undone. */
		set_busy(me, 0);
		if (!pass_token(me))
			break;
	}
}

static void block_wake_stop(struct workload *w)
{
	for (int i = 0; i < w->nstarted; i++) {
		__atomic_store_n(&w->workers[i].token, 2, __ATOMIC_RELEASE);
		ghost_wake(&w->workers[i].token, INT_MAX);
	}
}

/* ---- rpc ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double next_gap_ns(uint64_t *s, double rate)
{
	return -log1p(-rng_unit(s)) * 1e9 / rate;
}

static int64_t draw_service(const struct options *o, uint64_t *s)
{
	double u = rng_unit(s) * 100, acc = 0;

	for (int i = 0; i < o->nservice; i++) {
		acc += o->service[i].pct;
		if (u < acc)
			return o->service[i].ns;
	}
	return o->service[o->nservice - 1].ns;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / NSEC_PER_SEC, .tv_nsec = t % NSEC_PER_SEC };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* ---- the backlog (see struct rpc_queue) ---- */

static bool backlog_push(struct rpc_queue *q, const struct request *r)
{
	uint64_t t = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
	struct request *slot;

	if (t - __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) >= RPC_QUEUE_CAP)
		return false;
	slot = &q->ring[t % RPC_QUEUE_CAP];
	__atomic_store_n(&slot->arrival_ns, r->arrival_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->service_ns, r->service_ns, __ATOMIC_RELAXED);
	/* Seq-cst: this store and the idle bits a worker sets are ordered
	 * against each other (see go_idle). */
	__atomic_store_n(&q->tail, t + 1, __ATOMIC_SEQ_CST);
	return true;
}

static bool backlog_take(struct rpc_queue *q, struct request *r)
{
	uint64_t h = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);

	for (;;) {
		const struct request *slot;

		if (h == __atomic_load_n(&q->tail, __ATOMIC_SEQ_CST))
			return false;
		slot = &q->ring[h % RPC_QUEUE_CAP];
		r->arrival_ns = __atomic_load_n(&slot->arrival_ns, __ATOMIC_RELAXED);
		r->service_ns = __atomic_load_n(&slot->service_ns, __ATOMIC_RELAXED);
		/* Winning head makes the copy ours: the producer refills slot h
		 * only after head has passed it. */
		if (__atomic_compare_exchange_n(&q->head, &h, h + 1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return true;
	}
}

/* Claims idle worker i (clears its bit): false if someone else did. */
static bool claim_idle(struct rpc_queue *q, int i)
{
	uint64_t bit = 1ull << (i % 64);

	return __atomic_fetch_and(&q->idle[i / 64], ~bit, __ATOMIC_SEQ_CST) & bit;
}

/* ---- handing a request to a worker, and a worker waiting for one ---- */

static void hand_over(struct workload *w, struct worker *me, const struct request *r)
{
	/* After the worker cleared it: it was idle, and we claimed it (claim_idle). */
	set_busy(me, ghost_now_ns());
	__atomic_store_n(&me->mail_arrival, r->arrival_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&me->mail_service, r->service_ns, __ATOMIC_RELAXED);
	/* Release: the request is visible to whoever sees the new sequence. */
	__atomic_add_fetch(&me->mail_seq, 1, __ATOMIC_RELEASE);
	if (w->pt)
		ghost_prio_table_mark_runnable(w->pt, (uint32_t)me->idx);
	else
		ghost_wake(&me->mail_seq, 1);
}

/*
 * Waits until the generator hands us a request (mail_seq moves past seen),
 * or the run stops. With a PrioTable (its item already marked idle) the
 * worker gives its CPU back until the agent, seeing the item runnable again,
 * runs it.
 */
static void wait_mail(struct workload *w, struct worker *me, uint32_t seen)
{
	while (__atomic_load_n(&me->mail_seq, __ATOMIC_ACQUIRE) == seen && !stopping(w)) {
		if (w->pt)
			ghost_yield();
		else
			ghost_wait(&me->mail_seq, seen, w->end_ns + STOP_GRACE_NS);
	}
}

/*
 * Out of work: announce that we are idle, then look at the backlog once more
 * (a request the generator queued before it saw our bit would sit there):
 * if there is one and we can still claim ourselves back, it is ours.
 * Otherwise wait to be handed one. False when the run is stopping.
 *
 * With a PrioTable the item goes idle before the idle bit is set: the
 * generator marks it runnable only after claiming the bit, so its "runnable"
 * is always the last word (the other order could leave a worker that holds a
 * request with an idle item, never scheduled again).
 */
static bool next_request(struct workload *w, struct worker *me, struct request *r)
{
	struct rpc_queue *q = &w->q;
	uint64_t bit = 1ull << (me->idx % 64);

	for (;;) {
		uint32_t seen;

		if (stopping(w))
			return false;
		if (backlog_take(q, r))
			return true;
		seen = __atomic_load_n(&me->mail_seq, __ATOMIC_ACQUIRE);
		if (w->pt)
			ghost_prio_table_mark_idle(w->pt, (uint32_t)me->idx);
		/* Out of work: before the idle bit, after which the generator may hand us some. */
		set_busy(me, 0);
		__atomic_or_fetch(&q->idle[me->idx / 64], bit, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&q->tail, __ATOMIC_SEQ_CST) !=
			    __atomic_load_n(&q->head, __ATOMIC_SEQ_CST) &&
		    claim_idle(q, me->idx)) {
			/* Back on duty: take from the backlog. */
			set_busy(me, ghost_now_ns());
			if (w->pt)
				ghost_prio_table_mark_runnable(w->pt, (uint32_t)me->idx);
			continue;
		}
		wait_mail(w, me, seen);
		if (__atomic_load_n(&me->mail_seq, __ATOMIC_ACQUIRE) != seen) {
			r->arrival_ns = __atomic_load_n(&me->mail_arrival, __ATOMIC_RELAXED);
			r->service_ns = __atomic_load_n(&me->mail_service, __ATOMIC_RELAXED);
			me->mail_taken = seen + 1;
			return true;
		}
	}
}

/* Gives backlogged requests to idle workers, oldest first. */
static void dispatch(struct workload *w)
{
	struct rpc_queue *q = &w->q;
	int n = w->o->threads;

	for (int word = 0; word * 64 < n; word++) {
		uint64_t bits;

		while ((bits = __atomic_load_n(&q->idle[word], __ATOMIC_SEQ_CST))) {
			int i = word * 64 + __builtin_ctzll(bits);
			struct request r;

			if (__atomic_load_n(&q->tail, __ATOMIC_SEQ_CST) ==
			    __atomic_load_n(&q->head, __ATOMIC_SEQ_CST))
				return;
			if (!claim_idle(q, i))
				continue;
			if (!backlog_take(q, &r)) {
				/* Nothing left: the worker stays idle. */
				__atomic_or_fetch(&q->idle[word], 1ull << (i % 64),
						  __ATOMIC_SEQ_CST);
				return;
			}
			hand_over(w, &w->workers[i], &r);
		}
	}
}

/* Queues every request due by upto (the clock reads now); returns the time of the next one. */
static double issue_due(struct workload *w, double next, int64_t upto, uint64_t *seed, int64_t now)
{
	while ((int64_t)next <= upto) {
		struct request r = { .arrival_ns = (int64_t)next,
				     .service_ns = draw_service(w->o, seed) };
		bool counted = r.arrival_ns >= w->measure_ns;

		if (counted)
			hist_add(w->gen_lag, now - r.arrival_ns);
		if (!backlog_push(&w->q, &r) && counted)
			w->dropped++;
		w->issued += counted;
		next += next_gap_ns(seed, w->o->rate);
	}
	dispatch(w);
	return next;
}

/* Where the generator runs and in which class; returns the class it got. */
static int place_generator(const struct options *o)
{
	struct sched_param sp = { .sched_priority = 2 };

	if (o->gen_cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o->gen_cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	/* Above the agents' real-time priority (1): the generator stands for
	 * the network, which no scheduler under test delays. */
	if (o->gen_prio != GHOST_AGENT_PRIO_NORMAL &&
	    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0)
		return SCHED_FIFO;
	return SCHED_OTHER;
}

/* The load generator: a normal thread, never in the enclave. */
static void *rpc_generator(void *arg)
{
	struct workload *w = arg;
	uint64_t seed = w->o->seed;
	double next = (double)w->start_ns + next_gap_ns(&seed, w->o->rate);

	block_signals(true);
	w->gen_class = place_generator(w->o);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	while (!stopping(w)) {
		int64_t now = ghost_now_ns();

		if (now >= w->end_ns) {
			/* Late at the end too: what was due in the window still goes out
			 * (and counts as late), so issued is what the rate promised. */
			issue_due(w, next, w->end_ns - 1, &seed, now);
			break;
		}
		if ((int64_t)next > now) {
			sleep_until((int64_t)next < w->end_ns ? (int64_t)next : w->end_ns);
			continue;
		}
		next = issue_due(w, next, now, &seed, now);
	}
	return NULL;
}

static void run_rpc(struct worker *me)
{
	struct workload *w = me->w;
	struct request r;

	while (next_request(w, me, &r)) {
		int64_t begin = ghost_now_ns(), now = begin;

		me->cur_arrival = r.arrival_ns;
		/* Busy-wait: the request's CPU work. */
		while (now - begin < r.service_ns && !stopping(w))
			now = ghost_now_ns();
		note_ran(me, begin, now);
		if (now - begin < r.service_ns)
			break; /* cut by the end of the run: still in hand */
		me->cur_arrival = 0;
		if (r.arrival_ns >= w->measure_ns) {
			hist_add(me->wait, begin - r.arrival_ns);
			hist_add(me->lat, now - r.arrival_ns);
			me->count++;
		}
	}
	/* Whatever happens next, the agent must run us until we exit. */
	if (w->pt)
		ghost_prio_table_mark_runnable(w->pt, (uint32_t)me->idx);
}

static int rpc_prepare(struct workload *w)
{
	if (!(w->q.ring = malloc(sizeof(struct request) * RPC_QUEUE_CAP)) ||
	    !(w->gen_lag = calloc(1, sizeof(struct hist))))
		return -ENOMEM;
	return 0;
}

static int rpc_start(struct workload *w)
{
	int err = -pthread_create(&w->gen, NULL, rpc_generator, w);

	if (err) {
		tool_error("cannot start the load generator: %s", ghost_strerror(err));
		return err;
	}
	w->gen_started = true;
	return 0;
}

static void rpc_stop(struct workload *w)
{
	if (!w->q.ring)
		return;
	for (int i = 0; i < w->nstarted; i++) {
		struct worker *me = &w->workers[i];

		if (me->antagonist)
			continue;
		if (w->pt)
			ghost_prio_table_mark_runnable(w->pt, (uint32_t)me->idx);
		ghost_wake(&me->mail_seq, INT_MAX);
	}
}

/* ---- antagonists ---- */

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Spins; count is the CPU time (ns) it got within the measured window. */
static void run_antagonist(struct worker *me)
{
	struct workload *w = me->w;
	uint64_t x = (uint64_t)me->idx + 1;
	int64_t from = -1;

	while (!stopping(w)) {
		int64_t now;

		x = spin_chunk(w->antag_iters, x);
		now = ghost_now_ns();
		if (from < 0 && now >= w->measure_ns)
			from = thread_cpu_ns();
		if (now >= w->end_ns)
			break;
	}
	me->count = from >= 0 ? (uint64_t)(thread_cpu_ns() - from) : 0;
	keep_work(&x);
}

/*
 * A started thread's sched item: runnable (a worker must run to reach the
 * start line; it marks itself idle when it runs out of work), in the
 * workers' class or the antagonists' lower one. Written by the main thread
 * as soon as the thread entered, before it first runs: a thread with no
 * item yet has the lowest QoS and could wait behind the others for good.
 */
static int prio_table_describe(struct workload *w, struct worker *me)
{
	struct ghost_sched_item si = {
		.wcid = me->antagonist ? WC_ANTAGONIST : WC_WORKER,
		.gpid = (uint64_t)ghost_thread_gtid_of(me->gt, 0),
		.flags = GHOST_SCHED_ITEM_RUNNABLE,
	};

	if (!si.gpid)
		return -ESRCH;
	return ghost_prio_table_set_item(w->pt, (uint32_t)me->idx, &si);
}

static int prio_table_create(struct workload *w)
{
	struct ghost_prio_table_opts po = { .sz = sizeof(po),
					    .items = (uint32_t)(w->o->threads + w->o->antagonists),
					    .classes = 2 };
	struct ghost_work_class worker = { .id = WC_WORKER,
					   .flags = GHOST_WORK_CLASS_ONESHOT,
					   .qos = QOS_WORKER,
					   .exectime = 4000 };
	struct ghost_work_class antagonist = { .id = WC_ANTAGONIST,
					       .flags = GHOST_WORK_CLASS_ONESHOT,
					       .qos = QOS_ANTAGONIST,
					       .exectime = 1000000 };
	int err = ghost_prio_table_create(&po, &w->pt);

	if (!err)
		err = ghost_prio_table_set_class(w->pt, &worker);
	if (!err)
		err = ghost_prio_table_set_class(w->pt, &antagonist);
	return err;
}

/* ---- starting and stopping ---- */

static void *worker_main(void *arg)
{
	struct worker *me = arg;
	struct workload *w = me->w;

	/* Without an enclave the antagonists run only when a CPU has nothing
	 * else to do (the class Linux has for that). */
	if (!w->e && w->o->have_cpus)
		pthread_setaffinity_np(pthread_self(), sizeof(w->o->cpus), &w->o->cpus);
	if (me->antagonist && !w->e) {
		struct sched_param sp = { .sched_priority = 0 };

		pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	}
	me->at_start = true;
	bump(&w->ready);
	while (!__atomic_load_n(&w->go, __ATOMIC_ACQUIRE))
		ghost_wait(&w->go, 0, 0);
	if (!stopping(w)) {
		if (me->antagonist)
			run_antagonist(me);
		else
			w->o->pattern->run(me);
	}
	me->released = w->e && !ghost_thread_is_ghost();
	bump(&w->exited);
	return NULL;
}

static int prepare(struct workload *w)
{
	const struct pattern *pat = w->o->pattern;
	int n = w->o->threads + w->o->antagonists, err;

	if (posix_memalign((void **)&w->workers, 64, sizeof(*w->workers) * (size_t)n))
		return -ENOMEM;
	memset(w->workers, 0, sizeof(*w->workers) * (size_t)n);
	for (int i = 0; i < n; i++) {
		w->workers[i].w = w;
		w->workers[i].idx = i;
		w->workers[i].antagonist = i >= w->o->threads;
		if (pat->latency && !w->workers[i].antagonist &&
		    !(w->workers[i].lat = calloc(1, sizeof(struct hist))))
			return -ENOMEM;
		if (pat->wait_hist && !w->workers[i].antagonist &&
		    !(w->workers[i].wait = calloc(1, sizeof(struct hist))))
			return -ENOMEM;
	}
	if ((err = pat->prepare(w)))
		return err;
	if (w->o->antagonists)
		w->antag_iters = spin_calibrate(50);
	if (w->o->prio_table)
		return prio_table_create(w);
	return 0;
}

static int spawn(struct workload *w)
{
	for (int i = 0; i < w->o->threads + w->o->antagonists; i++) {
		struct worker *me = &w->workers[i];
		int err;

		/* It has work from the start (it must run to the start line), but for a
		 * block-wake worker without the token, who has none once there. */
		set_busy(me, me->idle_at_start ? 0 : ghost_now_ns());
		if (w->e)
			err = ghost_thread_create(w->e, &me->gt, worker_main, me);
		else
			err = -pthread_create(&me->pt, NULL, worker_main, me);
		if (err) {
			tool_error("cannot start thread %d of %d: %s", i + 1,
				   w->o->threads + w->o->antagonists, ghost_strerror(err));
			return err;
		}
		w->nstarted++;
		if (w->pt && prio_table_describe(w, me))
			tool_error("warning: thread %d never entered the enclave: it has no sched "
				   "item",
				   i + 1);
	}
	return 0;
}

/* Sets the clock, releases the workers, starts the load generator. */
static int start(struct workload *w)
{
	int64_t deadline = ghost_now_ns() + START_GRACE_NS;

	int err;

	if (!wait_count(&w->ready, (uint32_t)w->nstarted, deadline, true) && !interrupted)
		tool_error("warning: only %u of %d threads started within %lld s (is the agent "
			   "running?)",
			   __atomic_load_n(&w->ready, __ATOMIC_ACQUIRE), w->nstarted,
			   START_GRACE_NS / NSEC_PER_SEC);
	w->start_ns = ghost_now_ns();
	w->measure_ns = w->start_ns + (int64_t)(w->o->warmup_s * 1e9);
	w->end_ns = w->measure_ns + (int64_t)(w->o->duration_s * 1e9);
	if (w->o->pattern->start && (err = w->o->pattern->start(w)))
		return err;
	bump(&w->go);
	return 0;
}

static void wait_for_end(const struct workload *w)
{
	int64_t now;

	while (!interrupted && (now = ghost_now_ns()) < w->end_ns) {
		int64_t until = now + 50 * 1000000LL;

		sleep_until(until < w->end_ns ? until : w->end_ns);
	}
}

static void stop(struct workload *w)
{
	int64_t now = ghost_now_ns();

	w->stop_ns = now < w->end_ns ? now : w->end_ns;
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	if (!__atomic_load_n(&w->go, __ATOMIC_ACQUIRE))
		bump(&w->go);
	if (w->o->pattern->stop)
		w->o->pattern->stop(w);
}

/*
 * Joins everything started, noting which workers ran outside the enclave;
 * -ETIMEDOUT if they would not stop.
 */
static int join_all(struct workload *w)
{
	if (w->gen_started)
		pthread_join(w->gen, NULL);
	if (!wait_count(&w->exited, (uint32_t)w->nstarted, ghost_now_ns() + STOP_GRACE_NS, false))
		return -ETIMEDOUT;
	for (int i = 0; i < w->nstarted; i++) {
		struct worker *me = &w->workers[i];
		int err = 0;

		if (w->e)
			err = ghost_thread_join(me->gt, NULL);
		else
			pthread_join(me->pt, NULL);
		me->enter_err = err < 0 ? err : 0;
	}
	return 0;
}

/* ---- report ---- */

struct results {
	double window_s;
	uint64_t total, min, max;    /* worker counts */
	struct hist *lat;	     /* merged, or NULL */
	struct hist *wait;	     /* rpc: merged waits, or NULL */
	uint64_t antagonist_units;   /* CPU time the antagonists got, ns */
	double oldest_unfinished_us; /* rpc: age at the stop of the oldest unfinished request */
	int enter_failed;	     /* workers that never entered the enclave */
	int enter_err;		     /* the first one's reason */
	int released;		     /* workers the enclave let go during the run */
	int no_cpu;		     /* workers that had work and never ran (no_cpu()) */
};

/*
 * The arrival of the oldest request still unfinished when the run stopped (0 if none):
 * waiting in the backlog, handed to a worker that never took it, or in a worker's hands.
 * A request lost on the way (a wake-up that never came) shows here as a large age.
 */
static int64_t oldest_unfinished(const struct workload *w)
{
	const struct rpc_queue *q = &w->q;
	int64_t oldest = 0;

	if (!q->ring)
		return 0; /* not rpc */
	if (q->head != q->tail)
		oldest = q->ring[q->head % RPC_QUEUE_CAP].arrival_ns;
	for (int i = 0; i < w->nstarted; i++) {
		const struct worker *me = &w->workers[i];
		int64_t a = 0;

		if (me->antagonist)
			continue;
		if (me->cur_arrival)
			a = me->cur_arrival;
		else if (me->mail_seq != me->mail_taken && me->mail_seq)
			a = me->mail_arrival;
		if (a && (!oldest || a < oldest))
			oldest = a;
	}
	return oldest;
}

/*
 * The workers that got no CPU time in the measured window although they had work: each
 * never ran at all (it did not reach the start line), or had had work waiting for at least
 * half the window when the run stopped (spin: always; block-wake: the token; rpc: a
 * request handed to it or in its hands, or its first look for one) and read no clock
 * while working in the window. An rpc worker nobody handed a request and a block-wake
 * worker waiting for the token have nothing to do: they are not counted, nor are the
 * antagonists (their share is what is left over) and the threads that never entered the
 * enclave (warn_outsiders() tells of them). Read after join_all(): no worker writes
 * busy_since after the stop.
 */
static int no_cpu(const struct workload *w)
{
	int64_t window = w->stop_ns - w->measure_ns;
	int n = 0;

	if (window <= 0)
		return 0;
	for (int i = 0; i < w->nstarted; i++) {
		const struct worker *me = &w->workers[i];
		int64_t since = __atomic_load_n(&me->busy_since, __ATOMIC_RELAXED);

		if (me->antagonist || me->enter_err || me->ran)
			continue;
		if (since && since < w->measure_ns)
			since = w->measure_ns;
		if (!me->at_start || (since && w->stop_ns - since >= window / 2))
			n++;
	}
	return n;
}

static int collect(const struct workload *w, struct results *r)
{
	int64_t window = w->stop_ns - w->measure_ns;

	memset(r, 0, sizeof(*r));
	r->window_s = window > 0 ? (double)window / 1e9 : 0;
	{
		int64_t oldest = oldest_unfinished(w);

		r->oldest_unfinished_us = oldest ? (double)(w->stop_ns - oldest) / 1e3 : 0;
		if (r->oldest_unfinished_us < 0)
			r->oldest_unfinished_us = 0;
	}
	if (w->o->pattern->latency && !(r->lat = calloc(1, sizeof(struct hist))))
		return -ENOMEM;
	if (w->o->pattern->wait_hist && !(r->wait = calloc(1, sizeof(struct hist))))
		return -ENOMEM;
	for (int i = 0; i < w->nstarted; i++) {
		const struct worker *me = &w->workers[i];

		if (me->antagonist) {
			r->antagonist_units += me->count;
		} else {
			r->total += me->count;
			if (!i || me->count < r->min)
				r->min = me->count;
			if (!i || me->count > r->max)
				r->max = me->count;
			if (r->lat)
				hist_merge(r->lat, me->lat);
			if (r->wait)
				hist_merge(r->wait, me->wait);
		}
		if (me->enter_err && !r->enter_failed++)
			r->enter_err = me->enter_err;
		r->released += !me->enter_err && me->released;
	}
	r->no_cpu = no_cpu(w);
	return 0;
}

static double per_s(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0;
}

/* The CPUs' worth of time the antagonists got (their threads' CPU clocks). */
static double antagonist_cpus(const struct workload *w, const struct results *r)
{
	(void)w;
	return r->window_s > 0 ? (double)r->antagonist_units / 1e9 / r->window_s : 0;
}

static void json_latency(const struct hist *h)
{
	printf(",\"latency_us\":{\"p50\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f,"
	       "\"mean\":%.3f,\"samples\":%" PRIu64 "}",
	       hist_quantile(h, 0.50) / 1e3, hist_quantile(h, 0.99) / 1e3,
	       hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3,
	       h->n ? h->sum / (double)h->n / 1e3 : 0, h->n);
}

static void spin_json(const struct workload *w, const struct results *r)
{
	const struct options *o = w->o;

	printf(",\"chunk_us\":%.1f,\"work_units\":%" PRIu64 ",\"work_units_per_s\":%.1f"
	       ",\"per_thread_min\":%" PRIu64 ",\"per_thread_max\":%" PRIu64 ",\"per_thread\":[",
	       o->chunk_us, r->total, per_s(r->total, r->window_s), r->min, r->max);
	for (int i = 0; i < w->nstarted && i < o->threads; i++)
		printf("%s%" PRIu64, i ? "," : "", w->workers[i].count);
	printf("]");
}

static void block_wake_json(const struct workload *w, const struct results *r)
{
	(void)w;
	printf(",\"round_trips\":%" PRIu64 ",\"round_trips_per_s\":%.1f"
	       ",\"hand_offs\":%" PRIu64,
	       r->total, per_s(r->total, r->window_s), r->lat->n);
	json_latency(r->lat);
}

static void rpc_json(const struct workload *w, const struct results *r)
{
	printf(",\"offered_rps\":%.1f,\"issued\":%" PRIu64 ",\"dropped\":%" PRIu64
	       ",\"completed\":%" PRIu64 ",\"throughput_rps\":%.1f",
	       w->o->rate, w->issued, w->dropped, r->total, per_s(r->total, r->window_s));
	printf(",\"prio_table\":%s,\"generator_rt\":%s,\"oldest_unfinished_us\":%.1f",
	       w->pt ? "true" : "false", w->gen_class == SCHED_FIFO ? "true" : "false",
	       r->oldest_unfinished_us);
	json_latency(r->lat);
	printf(",\"wait_us\":{\"p50\":%.3f,\"p99\":%.3f},\"generator_lag_us\":{\"p50\":%.3f,"
	       "\"p99\":%.3f,\"max\":%.3f}",
	       hist_quantile(r->wait, 0.5) / 1e3, hist_quantile(r->wait, 0.99) / 1e3,
	       hist_quantile(w->gen_lag, 0.5) / 1e3, hist_quantile(w->gen_lag, 0.99) / 1e3,
	       (double)w->gen_lag->max / 1e3);
}

static void print_json(const struct workload *w, const struct results *r)
{
	const struct options *o = w->o;

	printf("{\"pattern\":\"%s\",\"threads\":%d,\"duration_s\":%.3f,\"warmup_s\":%.3f",
	       o->pattern->name, o->threads, r->window_s, o->warmup_s);
	if (w->e)
		printf(",\"kernel\":\"%s\",\"enclave\":%" PRIu64, w->kernel, o->enclave);
	else
		printf(",\"kernel\":null,\"enclave\":null");
	printf(",\"ghost\":%s,\"interrupted\":%s,\"enter_failures\":%d,\"released\":%d"
	       ",\"no_cpu_threads\":%d",
	       w->e ? "true" : "false", interrupted ? "true" : "false", r->enter_failed,
	       r->released, r->no_cpu);
	o->pattern->json(w, r);
	if (o->antagonists)
		printf(",\"antagonists\":%d,\"antagonist_cpus\":%.3f", o->antagonists,
		       antagonist_cpus(w, r));
	printf("}\n");
}

static void row(const char *label, const char *fmt, ...)
{
	va_list ap;

	printf("  %-16s ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void table_latency(const char *what, const struct hist *h)
{
	char label[32];

	snprintf(label, sizeof(label), "%s p50", what);
	row(label, "%12.2f us", hist_quantile(h, 0.50) / 1e3);
	snprintf(label, sizeof(label), "%s p99", what);
	row(label, "%12.2f us", hist_quantile(h, 0.99) / 1e3);
	snprintf(label, sizeof(label), "%s p99.9", what);
	row(label, "%12.2f us", hist_quantile(h, 0.999) / 1e3);
	snprintf(label, sizeof(label), "%s max", what);
	row(label, "%12.2f us", (double)h->max / 1e3);
}

static void spin_table(const struct workload *w, const struct results *r)
{
	row("work units", "%12" PRIu64 "    (%g us each)", r->total, w->o->chunk_us);
	row("work units/s", "%12.1f", per_s(r->total, r->window_s));
	row("per thread min", "%12" PRIu64, r->min);
	row("per thread max", "%12" PRIu64 "    (min/max %.2f)", r->max,
	    r->max ? (double)r->min / (double)r->max : 0);
}

static void block_wake_table(const struct workload *w, const struct results *r)
{
	(void)w;
	row("round trips", "%12" PRIu64, r->total);
	row("round trips/s", "%12.1f", per_s(r->total, r->window_s));
	row("hand-offs", "%12" PRIu64, r->lat->n);
	table_latency("hand-off", r->lat);
}

static void rpc_table(const struct workload *w, const struct results *r)
{
	row("offered", "%12.1f req/s", w->o->rate);
	row("issued", "%12" PRIu64, w->issued);
	row("dropped", "%12" PRIu64, w->dropped);
	row("completed", "%12" PRIu64, r->total);
	row("throughput", "%12.1f req/s", per_s(r->total, r->window_s));
	table_latency("latency", r->lat);
	row("wait p50", "%12.2f us    (arrival -> a worker starts it)",
	    hist_quantile(r->wait, 0.5) / 1e3);
	row("wait p99", "%12.2f us", hist_quantile(r->wait, 0.99) / 1e3);
	row("generator lag", "%12.2f us    (p99 of how late requests were issued)",
	    hist_quantile(w->gen_lag, 0.99) / 1e3);
	row("oldest unfinished", "%12.2f us    (at the stop; 0 = none)", r->oldest_unfinished_us);
}

static void print_table(const struct workload *w, const struct results *r)
{
	const struct options *o = w->o;

	printf(PROG ": %s, %d %sthread%s", o->pattern->name, o->threads, w->e ? "ghost " : "",
	       o->threads == 1 ? "" : "s");
	if (w->e)
		printf(" in enclave %" PRIu64 " on %s", o->enclave, w->kernel);
	else
		printf(" (plain pthreads, --no-ghost)");
	printf("\n");
	row("measured", "%12.3f s%s", r->window_s, interrupted ? "    (interrupted)" : "");
	if (o->warmup_s > 0)
		row("warmup", "%12.3f s", o->warmup_s);
	o->pattern->table(w, r);
	if (o->antagonists)
		row("antagonists", "%12.3f CPUs    (%d threads)", antagonist_cpus(w, r),
		    o->antagonists);
	if (r->no_cpu)
		row("no CPU", "%12d threads    (had work, never ran)", r->no_cpu);
}

/* ---- main ---- */

/*
 * Attaches to the enclave, waiting up to --wait for it and for its agent: without one no
 * ghost thread runs (and the embedded kernel lets them go after agent_timeout_ms). A
 * backend that cannot tell (agent_online unreadable) is taken to have one. 0, or the exit
 * status after one line.
 */
static int attach(struct workload *w)
{
	const struct options *o = w->o;
	struct tool_enclave_open req = { .kernel = o->kernel,
					 .root = o->root,
					 .id = o->enclave,
					 .wait_s = o->wait_s,
					 .hint = true };
	const struct ghost_kernel_ops *k;
	int err;

	/* --kernel was checked with the options; $GHOST_KERNEL only here (no --kernel). */
	k = tool_kernel(o->kernel);
	if (!k)
		return TOOL_EXIT_USAGE;
	w->kernel = ghost_kernel_name(k);
	if ((err = tool_kernel_check(k, o->root)) || (err = tool_open_enclave(&req, &w->e)))
		return err;
	if ((err = tool_wait_agent(&req, w->e))) {
		ghost_enclave_close(w->e);
		w->e = NULL;
	}
	return err;
}

static void release(struct workload *w)
{
	for (int i = 0; w->workers && i < w->o->threads + w->o->antagonists; i++) {
		free(w->workers[i].lat);
		free(w->workers[i].wait);
	}
	free(w->gen_lag);
	free(w->workers);
	free(w->q.ring);
	ghost_prio_table_destroy(w->pt);
	if (w->e)
		ghost_enclave_close(w->e);
}

/* Everything up to the start of the run; workers inherit SIGINT blocked. */
static int setup(struct workload *w)
{
	int err;

	block_signals(true);
	err = prepare(w);
	if (err) {
		tool_error("cannot set up the workload: %s", ghost_strerror(err));
		return err;
	}
	err = spawn(w);
	if (err)
		return err;
	tool_on_stop_signals(on_signal, SA_RESETHAND);
	block_signals(false);
	return start(w);
}

/*
 * Exit status 1 when any worker was not scheduled by the enclave throughout, or got no
 * CPU time at all in the measured window.
 */
static int warn_outsiders(const struct workload *w, const struct results *r)
{
	if (r->enter_failed)
		tool_error("warning: %d of %d threads could not enter enclave %" PRIu64 " (%s) and "
			   "ran as normal threads",
			   r->enter_failed, w->nstarted, w->o->enclave,
			   ghost_strerror(r->enter_err));
	if (r->released)
		tool_error("warning: enclave %" PRIu64 " let %d of %d threads go during the run "
			   "(did its agent stop?); they ended as normal threads",
			   w->o->enclave, r->released, w->nstarted);
	if (r->no_cpu)
		tool_error("%d of %d threads got no CPU time in the %.3f s measured: they had work "
			   "waiting and never ran (%s)",
			   r->no_cpu, w->o->threads, r->window_s,
			   w->e ? "does the policy starve them? a FIFO policy without a time slice "
				  "runs a spinner to its end"
				: "is the machine overloaded?");
	return r->enter_failed || r->released || r->no_cpu ? TOOL_EXIT_FAILURE : 0;
}

/* Runs the workload to its end and reports; returns the exit status. */
static int run(struct workload *w)
{
	struct results r;
	int status = 0;

	if (setup(w))
		status = TOOL_EXIT_FAILURE;
	else
		wait_for_end(w);
	stop(w);
	if (join_all(w) == -ETIMEDOUT) {
		tool_error("threads did not stop within %lld s of the end (is the agent still "
			   "running?)",
			   STOP_GRACE_NS / NSEC_PER_SEC);
		fflush(NULL);
		_exit(TOOL_EXIT_FAILURE);
	}
	if (status)
		return status;
	if (collect(w, &r)) {
		tool_error("out of memory");
		return TOOL_EXIT_FAILURE;
	}
	if (w->o->json)
		print_json(w, &r);
	else
		print_table(w, &r);
	free(r.lat);
	free(r.wait);
	return warn_outsiders(w, &r);
}

int main(int argc, char **argv)
{
	struct options o;
	struct workload w = { .o = &o };
	int err, status;

	tool_init(PROG);
	if ((err = parse_args(argc, argv, &o)))
		return err;
	tool_log_start(GHOST_LOG_WARN);
	if (!o.no_ghost && (err = attach(&w)))
		return err;
	status = run(&w);
	release(&w);
	return status;
}
