/*
 * bench/ghost-bench/main.c - the ghOSt paper's overhead table (SOSP 2021, Table 3),
 * measured on a kernel backend next to baselines taken in the same run (issue 5).
 *
 * Every figure is the distribution (median, p99, min) of many iterations after a warm-up,
 * printed beside its ratio to the matching baseline of the same run and the target:
 *
 *   baselines   null system call (getppid); futex hand-off between two threads pinned on one
 *               CPU (one way: half a ping-pong round trip); spinning cache-line hand-off
 *               between two CPUs (one way); and, for scale, a futex wake of a thread that
 *               sleeps on the other CPU (one way).
 *   operations  driven by hand on the backend, no policy: the main thread is the agent of
 *               CPU A (it spins on the enclave's default queue, which wakes nobody), a second
 *               thread is the agent of CPU B (it sleeps in local yield; its queue wakes it).
 *               Ghost tasks record CLOCK_MONOTONIC timestamps (ghost_now_ns's clock) in
 *               shared memory: when they start running after being scheduled, and just
 *               before they block or yield.
 *   throughput  one global agent re-committing tasks that yield at once, txns per second.
 *   safety net  on the embedded kernel: a task of another process asleep in a raw futex wait
 *               -> its TASK_BLOCKED at the agent, its futex wake -> its TASK_WAKEUP, in
 *               periods of the net (net_period_us).
 *   memory      agent state per task (policy record + task table share, 10,000 tasks), per
 *               CPU (computed from the structs, see mem_rows()), resident size of a process
 *               holding 10,000 tasks' agent state.
 *   macro       ghost-workload's rpc pattern at several offered loads with no agent,
 *               fifo-percpu and fifo-centralized (separate processes: ghost-agent and
 *               ghost-workload from the same bin directory).
 *
 * Owns the command line and the order of the run (bench.h lists the phases' files). Output:
 * a table, or --json (a list of objects, one per figure). Exit 0 on success, 1 if the
 * backend or the machine cannot run the benchmark, 2 for bad arguments.
 */
#include "bench.h"
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: " PROG " [--kernel K] [--iterations N] [--quick] [--no-macro | --macro-only]\n"
	"                   [--loads LIST] [--seconds S] [--repeat N] [--slice-us N]\n"
	"                   [--no-antagonist]\n"
	"                   [--svg FILE] [--prio {auto,rt,normal}] [--json]\n"
	"\n"
	"Measures the ghOSt paper's overhead table (message delivery, local and remote\n"
	"schedule, group commit, preemption), global-agent throughput, agent memory, the\n"
	"embedded kernel's safety net (how soon a task asleep in a raw system call is\n"
	"reported blocked, then woken), the interposer's cost per call that does not\n"
	"block, and the rpc macro benchmark (p50/p99/p99.9 against offered load under\n"
	"plain Linux threads and each policy) on a kernel backend, next to baselines\n"
	"measured in the same run (null system call, futex hand-off on one CPU,\n"
	"cache-line hand-off and a signal across CPUs). Every figure is printed with its\n"
	"ratio to its baseline and its target.\n"
	"\n"
	"  --kernel K        kernel backend (default: $GHOST_KERNEL, else emu)\n"
	"  --iterations N    iterations per operation after the warm-up (default 20000;\n"
	"                    100..10000000)\n"
	"  --quick           a smoke run: few iterations, short throughput windows, no macro\n"
	"  --no-macro        skip the rpc macro benchmark (several minutes)\n"
	"  --macro-only      only the rpc macro benchmark\n"
	"  --loads LIST      macro: offered loads in requests/s, comma-separated\n"
	"                    (default 1000,2000,4000,6000,8000)\n"
	"  --seconds S       macro: seconds measured per point (default 2; 0.2..600)\n"
	"  --repeat N        macro: runs per point, interleaved; rows show the medians\n"
	"                    (default 1; 1..9)\n"
	"  --slice-us N      macro: shinjuku's time slice (default 50)\n"
	"  --no-antagonist   macro: skip the runs beside a low-priority antagonist\n"
	"  --svg FILE        macro: write p99 against load (log scale) as an SVG plot\n"
	"  --prio MODE       the sleeping (per-CPU) agents: auto = SCHED_FIFO where\n"
	"                    permitted, else normal (the default, as ghost-agent); rt =\n"
	"                    SCHED_FIFO or exit 1; normal. The spinning global agent and\n"
	"                    every baseline thread run at normal priority\n"
	"  --json            print a JSON list of {name, median_ns, p99_ns, baseline, ratio,\n"
	"                    target, met, ...} instead of the table\n"
	"  -h, --help        this text\n"
	"\n"
	"Needs two CPUs (it uses the first two of its affinity mask). Exit status: 0 done,\n"
	"1 the backend or machine cannot run it, 2 bad arguments.\n";

/* Progress lines on stderr, when it is a terminal. */
void progress(const struct bench *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!b->progress_on)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s\n", line);
}

/* --loads LIST: comma-separated loads, each once. */
static void parse_loads(struct bench_opts *o, const char *arg)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf))
		tool_usage_exit("--loads \"%s\" is too long", arg);
	strcpy(buf, arg);
	o->nloads = 0;
	if (!buf[0] || buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
		tool_usage_exit("--loads \"%s\": a comma-separated list of loads", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int load = (int)tool_option_ll("--loads", tok, 1, 10000000);

		if (o->nloads == MAX_LOADS)
			tool_usage_exit("--loads: more than %d loads", MAX_LOADS);
		for (int i = 0; i < o->nloads; i++)
			if (o->loads[i] == load)
				tool_usage_exit("--loads: %s appears twice", tok);
		o->loads[o->nloads++] = load;
	}
}

/* The command line into b->opt; exits 0 after --help, 2 on a bad argument. */
static void parse_args(struct bench *b, int argc, char **argv)
{
	enum {
		OPT_KERNEL = 256,
		OPT_ITER,
		OPT_QUICK,
		OPT_NO_MACRO,
		OPT_JSON,
		OPT_PRIO,
		OPT_MACRO_ONLY,
		OPT_LOADS,
		OPT_SECONDS,
		OPT_SLICE,
		OPT_NO_ANTAG,
		OPT_SVG,
		OPT_REPEAT
	};
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "iterations", required_argument, NULL, OPT_ITER },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "no-macro", no_argument, NULL, OPT_NO_MACRO },
		{ "macro-only", no_argument, NULL, OPT_MACRO_ONLY },
		{ "loads", required_argument, NULL, OPT_LOADS },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "slice-us", required_argument, NULL, OPT_SLICE },
		{ "no-antagonist", no_argument, NULL, OPT_NO_ANTAG },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "prio", required_argument, NULL, OPT_PRIO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_opts *o = &b->opt;
	int c, macro_opts = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			o->kernel = optarg;
			break;
		case OPT_ITER:
			o->iterations = tool_option_ll("--iterations", optarg, 100, 10000000);
			break;
		case OPT_QUICK:
			o->quick = true;
			o->macro = false;
			break;
		case OPT_NO_MACRO:
			o->macro = false;
			break;
		case OPT_MACRO_ONLY:
			o->micro = false;
			break;
		case OPT_LOADS:
			parse_loads(o, optarg);
			macro_opts++;
			break;
		case OPT_SECONDS:
			if (!tool_parse_double(optarg, &o->macro_seconds) ||
			    !(o->macro_seconds >= 0.2) || o->macro_seconds > 600)
				tool_usage_exit("bad value \"%s\" for --seconds (0.2..600)",
						optarg);
			macro_opts++;
			break;
		case OPT_SLICE:
			snprintf(o->slice_us, sizeof(o->slice_us), "%lld",
				 tool_option_ll("--slice-us", optarg, 1, 1000000));
			macro_opts++;
			break;
		case OPT_NO_ANTAG:
			o->antagonist = false;
			macro_opts++;
			break;
		case OPT_REPEAT:
			o->repeat = (int)tool_option_ll("--repeat", optarg, 1, MAX_REPEAT);
			macro_opts++;
			break;
		case OPT_SVG:
			o->svg = optarg;
			macro_opts++;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_PRIO:
			if (!tool_parse_prio(optarg, &o->prio))
				tool_usage_exit("bad value \"%s\" for --prio (expected auto, rt or "
						"normal)",
						optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case ':':
			tool_usage_exit("%s needs a value", argv[optind - 1]);
		default:
			tool_usage_exit("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		tool_usage_exit("unexpected argument \"%s\"", argv[optind]);
	if (!o->micro && !o->macro)
		tool_usage_exit(
			"--macro-only and --no-macro (or --quick) leave nothing to measure");
	if (macro_opts && !o->macro)
		tool_usage_exit(
			"--loads, --seconds, --repeat, --slice-us, --no-antagonist and --svg "
			"set up the macro benchmark, which --no-macro and --quick skip");
}

/* The first two CPUs of the process's mask: CPU A (the global agent's) and CPU B. */
static void pick_cpus(struct bench *b)
{
	if (sched_getaffinity(0, sizeof(b->orig_affinity), &b->orig_affinity))
		tool_fatal("cannot read the CPU affinity: %s", strerror(errno));
	b->cpu_a = b->cpu_b = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && b->cpu_b < 0; cpu++) {
		if (!CPU_ISSET(cpu, &b->orig_affinity))
			continue;
		if (b->cpu_a < 0)
			b->cpu_a = cpu;
		else
			b->cpu_b = cpu;
	}
	if (b->cpu_b < 0)
		tool_fatal("needs two CPUs; this process may use only CPU %d", b->cpu_a);
}

/* This program (its roles run as children) and its directory (the other tools). */
static void find_self(struct bench *b)
{
	ssize_t n = readlink("/proc/self/exe", b->self_exe, sizeof(b->self_exe) - 1);
	char *slash;

	if (n <= 0)
		tool_fatal("cannot find its own executable");
	b->self_exe[n] = 0;
	snprintf(b->bin_dir, sizeof(b->bin_dir), "%s", b->self_exe);
	slash = strrchr(b->bin_dir, '/');
	if (slash)
		*slash = 0;
}

int main(int argc, char **argv)
{
	/* Static: the result rows make it large. */
	static struct bench bench = {
		.opt = { .macro = true,
			 .micro = true,
			 .loads = { 1000, 2000, 4000, 6000, 8000 },
			 .nloads = 5,
			 .macro_seconds = 2.0,
			 .repeat = 1,
			 .antagonist = true,
			 .slice_us = "50" },
		.prio_used = "normal",
	};
	struct bench *b = &bench;
	const struct bench_opts *o = &b->opt;
	const struct ghost_kernel_ops *kernel;

	tool_init(PROG);
	if (argc == 3 && !strcmp(argv[1], "--rss-child"))
		return rss_child(tool_option_ll("--rss-child", argv[2], 1, 10000000));
	if (argc == 4 && !strcmp(argv[1], "--preempt-child"))
		return preempt_child(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "--net-child"))
		return net_child(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "--interpose-child"))
		return interpose_child(tool_option_ll("--interpose-child", argv[2], 1, 10000000));
	parse_args(b, argc, argv);
	if (o->svg) {
		/* Now, not after minutes of measuring; leave no empty file behind. */
		bool existed = access(o->svg, F_OK) == 0;
		FILE *f = fopen(o->svg, "a");

		if (!f)
			tool_fatal("cannot write %s: %s", o->svg, strerror(errno));
		fclose(f);
		if (!existed)
			unlink(o->svg);
	}
	b->n_iter = o->iterations ? o->iterations : o->quick ? 300 : 20000;
	b->n_warm = b->n_iter / 10 < 50 ? 50 : b->n_iter / 10;
	b->progress_on = isatty(2);

	kernel = tool_kernel(o->kernel);
	if (!kernel)
		return TOOL_EXIT_USAGE;
	b->kernel_name = ghost_kernel_name(kernel);
	if (tool_kernel_check(kernel, NULL))
		return TOOL_EXIT_FAILURE;
	pick_cpus(b);
	find_self(b);
	guard_exit(o->quick ? 120
			    : 900 + (unsigned)(o->macro ? o->nloads * n_macro_cfgs * 2 * o->repeat *
								  (o->macro_seconds + 5)
							: 0));
	make_scratch_dir(b);

	if (o->micro) {
		run_baselines(b);
		mem_rows(b);
		setup_backend(b);
		run_emu_ops(b);
		interpose_rows(b);
	}
	if (o->macro)
		run_macro(b);
	if (o->svg)
		write_svg(b, o->svg);
	if (o->json)
		print_json(b);
	else
		print_table(b);
	return 0;
}
