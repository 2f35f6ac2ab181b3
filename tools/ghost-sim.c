/*
 * tools/ghost-sim.c - runs a policy on a simulated machine (the "sim"
 * backend, ghost/sim.h): 1 to 512 virtual CPUs, a workload model, virtual
 * time; prints latency, throughput, utilisation and the run's trace hash.
 *
 * Parses and prints; the simulation is the library's. The same seed and
 * options give the same events and the same hash. Exit 0, 1 when the run
 * failed or --check found a broken invariant, 2 for bad usage.
 */
#include "policies.h"
#include "tool.h"

#include <ghost/ghost.h>
#include <ghost/sim.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 64

struct options {
	struct ghost_sim_opts sim;
	const char *policy;
	const char *popts[MAX_OPTS];
	int npopts;
	double duration_s;
	const char *trace;
	bool json;
	double load; /* --load: the rate is worked out once the machine is known */
	struct tool_service service[GHOST_SIM_MAX_SERVICE];
};

static void usage(void)
{
	printf("usage: ghost-sim [options]\n"
	       "Runs a scheduling policy on a simulated machine in virtual time and reports\n"
	       "request latency, throughput, CPU and agent utilisation, the number of\n"
	       "simulated events, the simulator's speed and a hash of the run's events (the\n"
	       "same seed and options give the same hash).\n"
	       "\n"
	       "machine:\n"
	       "  --cpus N            N virtual one-thread cores, 1..512 (default 8)\n"
	       "  --topology DESC     SxCxT[,l3=N][,numa=N], e.g. 2x16x2,l3=2 (instead of --cpus)\n"
	       "policy:\n"
	       "  --policy NAME       a built-in policy (ghost-agent --list-policies) or a\n"
	       "                      plugin's path (default fifo-percpu)\n"
	       "  -o KEY=VALUE        a policy parameter (repeatable)\n"
	       "workload:\n"
	       "  --workload KIND     rpc (open-loop Poisson requests served by worker tasks),\n"
	       "                      block-wake (tasks run, block, wake) or spin (default rpc)\n"
	       "  --tasks N           workers / tasks, up to %d (default 2 per CPU)\n"
	       "  --antagonists N     spinning tasks added\n"
	       "  --rate R            rpc: requests per second (default: half the CPUs busy)\n"
	       "  --load F            rpc: the rate that keeps F of the CPUs busy (0 < F <= 4)\n"
	       "  --service MIX       rpc: service times PCT:TIME,... (default 99.5:4us,0.5:10ms)\n"
	       "  --run TIME          block-wake: mean run between blocks (default 50us)\n"
	       "  --block TIME        block-wake: mean time blocked (default 200us)\n"
	       "run:\n"
	       "  --duration S        virtual seconds to simulate (default 1)\n"
	       "  --seed N            the random seed (default 1)\n"
	       "  --cost KEY=TIME     an agent cost: msg, txn, commit, loop, wake, preempt,\n"
	       "                      switch, idle_poll (docs/performance.md gives the defaults)\n"
	       "  --check             verify the invariants on every event; exit 1 if one broke\n"
	       "  --trace FILE        record the agents' trace (ghost-trace reads it)\n"
	       "  --json              one JSON object instead of text\n"
	       "  -h, --help          this text\n"
	       "\n"
	       "TIME is a number and a unit: 800ns, 4us, 10ms, 1s. Exit status: 0, 1 the run\n"
	       "failed or --check found a broken invariant, 2 bad arguments.\n",
	       GHOST_SIM_MAX_TASKS);
}

enum {
	OPT_CPUS = 256,
	OPT_TOPOLOGY,
	OPT_POLICY,
	OPT_WORKLOAD,
	OPT_TASKS,
	OPT_ANTAGONISTS,
	OPT_RATE,
	OPT_LOAD,
	OPT_SERVICE,
	OPT_RUN,
	OPT_BLOCK,
	OPT_DURATION,
	OPT_SEED,
	OPT_COST,
	OPT_CHECK,
	OPT_TRACE,
	OPT_JSON,
};

static int64_t option_time(const char *option, const char *text)
{
	int64_t ns;

	if (!tool_parse_time(text, &ns) || ns <= 0)
		tool_usage_exit("bad value \"%s\" for %s (a time such as 4us, 10ms)", text, option);
	return ns;
}

static void parse_cost(struct ghost_sim_costs *c, const char *arg)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "msg", offsetof(struct ghost_sim_costs, msg_ns) },
		{ "txn", offsetof(struct ghost_sim_costs, txn_ns) },
		{ "commit", offsetof(struct ghost_sim_costs, commit_ns) },
		{ "loop", offsetof(struct ghost_sim_costs, loop_ns) },
		{ "wake", offsetof(struct ghost_sim_costs, wake_ns) },
		{ "preempt", offsetof(struct ghost_sim_costs, preempt_ns) },
		{ "switch", offsetof(struct ghost_sim_costs, switch_ns) },
		{ "idle_poll", offsetof(struct ghost_sim_costs, idle_poll_ns) },
	};
	const char *eq = strchr(arg, '=');

	for (size_t i = 0; eq && i < sizeof(keys) / sizeof(keys[0]); i++) {
		int64_t ns;

		if (strlen(keys[i].key) != (size_t)(eq - arg) ||
		    strncmp(arg, keys[i].key, eq - arg))
			continue;
		ns = option_time("--cost", eq + 1);
		memcpy((char *)c + keys[i].off, &ns, sizeof(ns));
		return;
	}
	tool_usage_exit("bad --cost \"%s\" (KEY=TIME; keys: msg, txn, commit, loop, wake, "
			"preempt, switch, idle_poll)",
			arg);
}

static void parse(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "topology", required_argument, NULL, OPT_TOPOLOGY },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "workload", required_argument, NULL, OPT_WORKLOAD },
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "antagonists", required_argument, NULL, OPT_ANTAGONISTS },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "load", required_argument, NULL, OPT_LOAD },
		{ "service", required_argument, NULL, OPT_SERVICE },
		{ "run", required_argument, NULL, OPT_RUN },
		{ "block", required_argument, NULL, OPT_BLOCK },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "cost", required_argument, NULL, OPT_COST },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "trace", required_argument, NULL, OPT_TRACE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double load = 0, v;
	int c, nservice = 0;

	o->sim.sz = sizeof(o->sim);
	o->sim.seed = 1;
	o->policy = "fifo-percpu";
	o->duration_s = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(0);
		case 'o':
			if (o->npopts == MAX_OPTS)
				tool_usage_exit("more than %d -o options", MAX_OPTS);
			o->popts[o->npopts++] = optarg;
			break;
		case OPT_CPUS:
			o->sim.ncpus = (int)tool_option_ll("--cpus", optarg, 1, GHOST_MAX_CPUS);
			break;
		case OPT_TOPOLOGY:
			o->sim.topology = optarg;
			break;
		case OPT_POLICY:
			o->policy = optarg;
			break;
		case OPT_WORKLOAD:
			if (!strcmp(optarg, "rpc"))
				o->sim.workload = GHOST_SIM_RPC;
			else if (!strcmp(optarg, "block-wake"))
				o->sim.workload = GHOST_SIM_BLOCK_WAKE;
			else if (!strcmp(optarg, "spin"))
				o->sim.workload = GHOST_SIM_SPIN;
			else
				tool_usage_exit("bad --workload \"%s\" (rpc, block-wake or spin)",
						optarg);
			break;
		case OPT_TASKS:
			o->sim.tasks =
				(uint32_t)tool_option_ll("--tasks", optarg, 1, GHOST_SIM_MAX_TASKS);
			break;
		case OPT_ANTAGONISTS:
			o->sim.antagonists = (uint32_t)tool_option_ll("--antagonists", optarg, 0,
								      GHOST_SIM_MAX_TASKS);
			break;
		case OPT_RATE:
			if (!tool_parse_double(optarg, &v) || !(v > 0 && v <= 1e9))
				tool_usage_exit("bad value \"%s\" for --rate (requests per second, "
						"up to 1e9)",
						optarg);
			o->sim.rate = v;
			break;
		case OPT_LOAD:
			if (!tool_parse_double(optarg, &load) || !(load > 0 && load <= 4))
				tool_usage_exit("bad value \"%s\" for --load (0 < F <= 4)", optarg);
			break;
		case OPT_SERVICE:
			if (tool_parse_service("--service", optarg, o->service,
					       GHOST_SIM_MAX_SERVICE, &nservice))
				exit(TOOL_EXIT_USAGE);
			break;
		case OPT_RUN:
			o->sim.run_ns = option_time("--run", optarg);
			break;
		case OPT_BLOCK:
			o->sim.block_ns = option_time("--block", optarg);
			break;
		case OPT_DURATION:
			if (!tool_parse_double(optarg, &o->duration_s) ||
			    !(o->duration_s > 0 && o->duration_s <= 3600))
				tool_usage_exit("bad value \"%s\" for --duration (virtual seconds, "
						"up to 3600)",
						optarg);
			break;
		case OPT_SEED:
			if (!tool_parse_u64(optarg, &o->sim.seed))
				tool_usage_exit("bad value \"%s\" for --seed", optarg);
			break;
		case OPT_COST:
			parse_cost(&o->sim.costs, optarg);
			break;
		case OPT_CHECK:
			o->sim.check = true;
			break;
		case OPT_TRACE:
			o->trace = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case ':':
			tool_usage_exit("%s needs a value", argv[optind - 1]);
		default:
			tool_usage_exit("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		tool_usage_exit("unexpected argument \"%s\"", argv[optind]);
	if (o->sim.topology && o->sim.ncpus)
		tool_usage_exit("--cpus and --topology both describe the machine: give one");
	if (load && o->sim.rate)
		tool_usage_exit("--rate and --load both set the rate: give one");
	if (o->sim.workload && o->sim.workload != GHOST_SIM_RPC &&
	    (load || o->sim.rate || nservice))
		tool_usage_exit("--rate, --load and --service are for --workload rpc");
	for (int i = 0; i < nservice; i++) {
		o->sim.service[i].pct = o->service[i].pct;
		o->sim.service[i].ns = o->service[i].ns;
	}
	o->sim.nservice = nservice;
	o->load = load;
}

static void print_latency(const char *name, const struct ghost_sim_latency *l, bool last)
{
	printf("\"%s\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
	       "\"p99_9\":%.3f,\"max\":%.3f,\"mean\":%.3f}%s",
	       name, l->count, l->p50 / 1e3, l->p90 / 1e3, l->p99 / 1e3, l->p99_9 / 1e3,
	       l->max / 1e3, l->mean / 1e3, last ? "" : ",");
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	const struct ghost_policy *policy;
	struct ghost_full_agent_opts fo = { .sz = sizeof(fo) };
	struct ghost_full_agent *fa = NULL;
	struct ghost_enclave *e = NULL;
	struct ghost_sim_results r;
	void *config = NULL;
	char why[512];
	int err, status = 0;

	tool_init("ghost-sim");
	parse(argc, argv, &o);
	tool_log_start(GHOST_LOG_WARN);
	if (ghost_policy_resolve(o.policy, &policy, why, sizeof(why)))
		tool_usage_exit("%s", why);
	if (policy->config_size) {
		config = calloc(1, policy->config_size);
		if (!config || ghost_policy_config_defaults(policy, config))
			tool_fatal("cannot set up the policy's parameters");
	}
	for (int i = 0; i < o.npopts; i++)
		if (ghost_policy_config_parse(policy, config, o.popts[i], why, sizeof(why)))
			tool_usage_exit("-o %s: %s", o.popts[i], why);
	if (o.load) {
		/* The rate that keeps that share of the CPUs busy with the service mix. */
		struct ghost_topo_desc d;
		double mean = 0;
		int ncpus = o.sim.ncpus ? o.sim.ncpus : 8;

		if (o.sim.topology) {
			if (ghost_topo_parse_synthetic(o.sim.topology, &d))
				tool_usage_exit("bad --topology \"%s\" (SxCxT[,l3=N][,numa=N], at "
						"most %d CPUs)",
						o.sim.topology, GHOST_MAX_CPUS);
			ncpus = d.sockets * d.cores_per_socket * d.threads_per_core;
		}
		for (int i = 0; i < o.sim.nservice; i++)
			mean += o.sim.service[i].pct / 100 * (double)o.sim.service[i].ns;
		if (!o.sim.nservice)
			mean = 0.995 * 4000 + 0.005 * 10000000;
		o.sim.rate = o.load * ncpus * 1e9 / mean;
	}
	tool_log_hold();
	err = ghost_sim_create(&o.sim, &e);
	tool_log_release(err != 0);
	if (err == -EINVAL)
		tool_usage_exit("%s", tool_log_reason(err));
	if (err)
		tool_fatal("cannot create the simulated machine: %s", tool_log_reason(err));
	fo.enclave = e;
	fo.policy = policy;
	fo.policy_config = config;
	fo.prio = GHOST_AGENT_PRIO_NORMAL;
	fo.trace_path = o.trace;
	tool_log_hold();
	err = ghost_full_agent_start(&fo, &fa);
	tool_log_release(err != 0);
	if (err) {
		tool_error("policy %s cannot run: %s", policy->name, tool_log_reason(err));
		ghost_enclave_close(e);
		free(config);
		return TOOL_EXIT_FAILURE;
	}
	err = ghost_sim_run(e, (int64_t)llround(o.duration_s * 1e9));
	if (!err)
		err = ghost_sim_finish(e);
	if (err)
		tool_error("the simulation stopped: %s", ghost_strerror(err));
	if (ghost_full_agent_finish(fa) < 0)
		status = TOOL_EXIT_FAILURE;
	ghost_sim_results(e, &r);
	ghost_full_agent_stop(fa);
	ghost_enclave_close(e);
	free(config);
	if (err)
		return TOOL_EXIT_FAILURE;

	{
		double eps = r.host_s > 0 ? (double)r.events / r.host_s : 0;
		double secs = o.duration_s;
		double thr = secs > 0 ? (double)r.completed / secs : 0;

		if (o.json) {
			printf("{\"policy\":\"%s\",\"cpus\":%d,\"seed\":%" PRIu64
			       ",\"duration_s\":%.6f,\"events\":%" PRIu64
			       ",\"events_per_second\":%.0f,\"host_s\":%.3f,\"trace_hash\":\"%016" PRIx64
			       "\",\"messages\":%" PRIu64 ",\"commits\":%" PRIu64
			       ",\"commit_failed\":%" PRIu64 ",\"preemptions\":%" PRIu64
			       ",\"requests\":%" PRIu64 ",\"completed\":%" PRIu64
			       ",\"throughput_per_s\":%.1f,\"tasks_new\":%" PRIu64
			       ",\"tasks_ended\":%" PRIu64 ",",
			       policy->name, r.ncpus, o.sim.seed, secs, r.events, eps, r.host_s,
			       r.trace_hash, r.messages, r.commits, r.commit_failed, r.preemptions,
			       r.requests, r.completed, thr, r.tasks_new, r.tasks_ended);
			print_latency("latency_us", &r.latency, false);
			print_latency("wake_to_run_us", &r.wake_to_run, false);
			printf("\"cpu_busy\":%.4f,\"agent_busy\":%.4f,\"busiest_agent\":%.4f,"
			       "\"check\":%s,\"violations\":%" PRIu64 "}\n",
			       r.cpu_busy, r.agent_busy, r.busiest_agent,
			       o.sim.check ? "true" : "false", r.violations);
		} else {
			printf("ghost-sim: %s on %d CPUs, %.3f virtual s, seed %" PRIu64 "\n",
			       policy->name, r.ncpus, secs, o.sim.seed);
			printf("  latency us: p50 %.1f p99 %.1f p99.9 %.1f max %.1f (%" PRIu64
			       " samples)\n",
			       r.latency.p50 / 1e3, r.latency.p99 / 1e3, r.latency.p99_9 / 1e3,
			       r.latency.max / 1e3, r.latency.count);
			printf("  throughput: %.0f/s completed (%" PRIu64 " requests arrived)\n",
			       thr, r.requests);
			printf("  cpus busy %.1f%%, agents %.3f CPUs (busiest %.1f%% of its CPU)\n",
			       100 * r.cpu_busy, r.agent_busy, 100 * r.busiest_agent);
			printf("  commits %" PRIu64 " ok %" PRIu64 " failed, %" PRIu64
			       " preemptions, %" PRIu64 " messages\n",
			       r.commits, r.commit_failed, r.preemptions, r.messages);
			printf("  %" PRIu64 " events in %.3f host s (%.0f events/s)\n", r.events,
			       r.host_s, eps);
			printf("  trace hash %016" PRIx64 "\n", r.trace_hash);
		}
	}
	if (o.sim.check && r.violations) {
		tool_error("--check: %" PRIu64 " broken invariant(s), the first: %s", r.violations,
			   r.violation);
		return TOOL_EXIT_FAILURE;
	}
	return status;
}
