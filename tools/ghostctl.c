/*
 * tools/ghostctl.c - look at and manage enclaves: create, list, status,
 * destroy, tunables, the ghostfs-style files, tasks, and starting a program
 * inside an enclave (waiting, with run --wait, for the enclave and its agent
 * to appear).
 *
 * Owns the command line only; everything goes through libghost. Exit
 * status: 0 success, 1 the operation failed (one line says why), 2 bad
 * usage (one line names the bad input): an unknown command, option,
 * tunable or file, a malformed or out-of-range number, a value a tunable
 * does not take. Every number is bounded; none is wrapped.
 */
#include <ghost/ghost.h>

#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
	"usage: ghostctl [--kernel NAME] [--root DIR] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  list                          enclaves of the kernel backend\n"
	"  create [--id ID] --cpus LIST  a new enclave (prints its id)\n"
	"  status ID                     its state, CPUs, agent and tunables\n"
	"  destroy ID                    tear it down (its tasks run on as normal threads)\n"
	"  get ID TUNABLE                read a tunable (deliver_ticks, runnable_timeout...)\n"
	"  set ID TUNABLE VALUE          write a tunable\n"
	"  cat ID FILE                   any enclave file as ghostfs shows it\n"
	"  ctl ID COMMAND...             one enclave ctl command (\"discover tasks\"...)\n"
	"  tasks ID                      its tasks (thread ids)\n"
	"  tasks add ID TID              move a thread in (where the backend allows)\n"
	"  tasks remove ID TID           move a thread out (where the backend allows)\n"
	"  run [--wait S] --enclave ID -- CMD ARGS\n"
	"                                start a program inside the enclave; waits up to S\n"
	"                                seconds (default %d, at most %d; 0 = not at all)\n"
	"                                for the enclave to exist and an agent to serve it\n"
	"  kernels                       the kernel backends of this build and if they run here\n"
	"\n"
	"options:\n"
	"  --kernel NAME   emu (default, or $GHOST_KERNEL), scx, ghostfs\n"
	"  --root DIR      the backend's namespace root\n"
	"                  (both may also follow the command: run --kernel scx --enclave 1 -- CMD)\n"
	"  -h, --help      this text (also after any command)\n"
	"\n"
	"numbers: enclave ids 1 to %llu; ctl create sw_region REGION NODE: regions\n"
	"  0 to %d, nodes 0 to %d; thread ids 1 to %d; tunables: what the backend takes\n"
	"  (docs/design.md lists the bounds). Nothing outside is wrapped or truncated.\n"
	"\n"
	"exit status: 0 success; 1 the operation failed (one line says why); 2 bad usage:\n"
	"  an unknown command, option, tunable or file, a malformed or out-of-range number\n"
	"  or id, a value a tunable does not take (one line names it). run, once the\n"
	"  program has started: the program's own exit status.\n";

/* run --wait: how long to wait for the enclave and its agent by default, at most. */
#define DEFAULT_WAIT_S 5
#define MAX_WAIT_S     86400

static void print_usage(void)
{
	printf(usage, DEFAULT_WAIT_S, MAX_WAIT_S, (unsigned long long)GHOST_ENCLAVE_ID_MAX,
	       GHOST_SW_REGION_ID_MAX, GHOST_NUMA_NODE_MAX, INT_MAX);
}

static const char *kernel_name, *root;

static bool parse_id(const char *s, uint64_t *id)
{
	long long v;

	if (!tool_parse_ll(s, 1, (long long)GHOST_ENCLAVE_ID_MAX, &v))
		return false;
	*id = (uint64_t)v;
	return true;
}

/*
 * The backend of --kernel, checked once that it can run here (root: --root). 0, else the
 * exit status after one line: 2 for an unknown name, 1 for a backend that cannot run here.
 */
static int use_kernel(const struct ghost_kernel_ops **out)
{
	static const struct ghost_kernel_ops *checked;

	if (!checked) {
		const struct ghost_kernel_ops *ops = tool_kernel(kernel_name);

		if (!ops)
			return TOOL_EXIT_USAGE;
		if (tool_kernel_check(ops, root))
			return TOOL_EXIT_FAILURE;
		checked = ops;
	}
	*out = checked;
	return 0;
}

/*
 * Opens enclave id_arg, waiting up to req->wait_s seconds for it to exist (until
 * req->deadline_ns, set here); with req->hint, a missing one is told with how to start an
 * agent. 0, else the exit status after one line.
 */
static int open_enclave_wait(const char *id_arg, struct tool_enclave_open *req,
			     struct ghost_enclave **e)
{
	const struct ghost_kernel_ops *ops;
	int err;

	if (!parse_id(id_arg, &req->id))
		return tool_usage_error("bad enclave id \"%s\" (a number from 1 to %llu)",
					id_arg ? id_arg : "",
					(unsigned long long)GHOST_ENCLAVE_ID_MAX);
	if ((err = use_kernel(&ops)))
		return err;
	req->kernel = kernel_name;
	req->root = root;
	return tool_open_enclave(req, e);
}

static int open_enclave(const char *id_arg, struct ghost_enclave **e)
{
	struct tool_enclave_open req = { .wait_s = 0 };

	return open_enclave_wait(id_arg, &req, e);
}

/*
 * Prints an enclave file (after label, if any). 0; else the exit status after one line:
 * 2 if the enclave has no such file (what: "file", "tunable"), 1 if reading it failed.
 */
static int print_file(struct ghost_enclave *e, const char *name, const char *label,
		      const char *what)
{
	static char buf[1 << 20];
	int n = ghost_enclave_read_file(e, name, buf, sizeof(buf));

	if (n == -ENOENT)
		return tool_usage_error("unknown %s \"%s\"", what, name);
	if (n < 0) {
		tool_error("cannot read %s: %s", name, ghost_strerror(n));
		return TOOL_EXIT_FAILURE;
	}
	if (label)
		printf("%-26s %s%s", label, buf, n && buf[n - 1] == '\n' ? "" : "\n");
	else
		printf("%s%s", buf, n && buf[n - 1] == '\n' ? "" : "\n");
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	const struct ghost_kernel_ops *ops;
	uint64_t *ids = NULL;
	int n;

	if (argc > 1)
		return tool_usage_error("list takes no argument, got \"%s\"", argv[1]);
	if ((n = use_kernel(&ops)))
		return n;
	/* However many there are: ask how many, then again with room for more. */
	for (int room = 0;;) {
		n = ghost_kernel_list_enclaves(ops, root, ids, room);
		if (n < 0 || n <= room)
			break;
		room = n + 64;
		free(ids);
		ids = malloc((size_t)room * sizeof(*ids));
		if (!ids) {
			tool_error("out of memory for %d enclave ids", room);
			return TOOL_EXIT_FAILURE;
		}
	}
	if (n < 0) {
		tool_error("cannot list enclaves: %s", ghost_strerror(n));
		free(ids);
		return TOOL_EXIT_FAILURE;
	}
	for (int i = 0; i < n; i++) {
		struct ghost_enclave *e;
		char id[32], list[GHOST_CPUSET_LIST_MAX], online[8] = "?";

		snprintf(id, sizeof(id), "%" PRIu64, ids[i]);
		if (open_enclave(id, &e))
			continue;
		ghost_cpuset_format_list(ghost_enclave_cpus(e), list, sizeof(list));
		ghost_enclave_read_file(e, "agent_online", online, sizeof(online));
		printf("enclave %-6s cpus %-12s agent %s\n", id, list,
		       online[0] == '1' ? "online" : "none");
		ghost_enclave_close(e);
	}
	free(ids);
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o), .root = root };
	const struct ghost_kernel_ops *ops;
	const char *cpus_arg = NULL;
	struct ghost_cpuset cpus;
	struct ghost_enclave *e;
	int err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--id") && i + 1 < argc) {
			if (!parse_id(argv[++i], &o.id))
				return tool_usage_error("bad --id \"%s\" (a number from 1 to %llu)",
							argv[i],
							(unsigned long long)GHOST_ENCLAVE_ID_MAX);
		} else if (!strcmp(argv[i], "--cpus") && i + 1 < argc) {
			cpus_arg = argv[++i];
		} else {
			return tool_usage_error("create: unexpected argument \"%s\"", argv[i]);
		}
	}
	if (!cpus_arg)
		return tool_usage_error("%s", "create needs --cpus LIST");
	if ((err = tool_parse_cpus("--cpus", cpus_arg, &cpus)) || (err = use_kernel(&ops)))
		return err;
	o.kernel = ghost_kernel_name(ops);
	o.cpus = &cpus;
	if ((err = tool_create_enclave(&o, &e)))
		return err;
	printf("%" PRIu64 "\n", ghost_enclave_id(e));
	ghost_enclave_close(e);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	static const char *const files[] = { "cpulist",
					     "agent_online",
					     "deliver_ticks",
					     "deliver_cpu_availability",
					     "deliver_agent_runnability",
					     "commit_at_tick",
					     "runnable_timeout",
					     "wake_on_waker_cpu" };
	struct ghost_enclave *e;
	int err;

	if (argc != 2)
		return tool_usage_error("%s", "status needs exactly one enclave id");
	if ((err = open_enclave(argv[1], &e)))
		return err;
	err = print_file(e, "status", NULL, "file") ? 1 : 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		print_file(e, files[i], files[i], "file");
	ghost_enclave_close(e);
	return err;
}

static int cmd_destroy(int argc, char **argv)
{
	struct ghost_enclave *e;
	int err;

	if (argc != 2)
		return tool_usage_error("%s", "destroy needs exactly one enclave id");
	if ((err = open_enclave(argv[1], &e)))
		return err;
	err = ghost_enclave_destroy(e);
	ghost_enclave_close(e);
	if (err) {
		tool_error("cannot destroy enclave %s: %s", argv[1], ghost_strerror(err));
		return TOOL_EXIT_FAILURE;
	}
	return 0;
}

static bool known_tunable(const char *name)
{
	for (int t = 0; t < GHOST_TUNABLE_COUNT; t++)
		if (!strcmp(name, ghost_tunable_name((enum ghost_tunable)t)))
			return true;
	/* Backend-specific tunables are files too; the backend judges them. */
	return !strchr(name, '/') && strcmp(name, "ctl") && strcmp(name, "tasks") &&
	       strcmp(name, "status");
}

static int cmd_get_set(int argc, char **argv, bool set)
{
	struct ghost_enclave *e;
	int err;

	if (argc != (set ? 4 : 3))
		return tool_usage_error("%s", set ? "set needs ID TUNABLE VALUE"
						  : "get needs ID TUNABLE");
	if (!known_tunable(argv[2]))
		return tool_usage_error("\"%s\" is not a tunable", argv[2]);
	if ((err = open_enclave(argv[1], &e)))
		return err;
	if (!set) {
		err = print_file(e, argv[2], NULL, "tunable");
	} else {
		err = ghost_enclave_write_file(e, argv[2], argv[3]);
		if (err == -ENOENT) {
			err = tool_usage_error("unknown tunable \"%s\"", argv[2]);
		} else if (err == -EINVAL) {
			err = tool_usage_error("bad value \"%s\" for %s: not a number in its range",
					       argv[3], argv[2]);
		} else if (err == -EACCES) {
			err = tool_usage_error("\"%s\" is read-only", argv[2]);
		} else if (err) {
			tool_error("cannot set %s to \"%s\": %s", argv[2], argv[3],
				   ghost_strerror(err));
			err = TOOL_EXIT_FAILURE;
		}
	}
	ghost_enclave_close(e);
	return err;
}

static int cmd_cat(int argc, char **argv)
{
	struct ghost_enclave *e;
	int err;

	if (argc != 3)
		return tool_usage_error("%s", "cat needs ID FILE");
	if ((err = open_enclave(argv[1], &e)))
		return err;
	err = print_file(e, argv[2], NULL, "file");
	ghost_enclave_close(e);
	return err;
}

/* The numbers of the ctl commands that take some, checked so that a bad one is named. */
static int check_ctl_numbers(int nw, char **w)
{
	long long v;

	if (nw >= 2 && !strcmp(w[0], "create") && !strcmp(w[1], "sw_region")) {
		if (nw != 4)
			return tool_usage_error("%s", "ctl: create sw_region needs REGION NODE");
		if (!tool_parse_ll(w[2], 0, GHOST_SW_REGION_ID_MAX, &v))
			return tool_usage_error("bad region \"%s\" (0 to %d)", w[2],
						GHOST_SW_REGION_ID_MAX);
		if (!tool_parse_ll(w[3], 0, GHOST_NUMA_NODE_MAX, &v))
			return tool_usage_error("bad NUMA node \"%s\" (0 to %d)", w[3],
						GHOST_NUMA_NODE_MAX);
	}
	if (nw >= 2 && !strcmp(w[0], "become") && !strcmp(w[1], "agent")) {
		if (nw != 4)
			return tool_usage_error("%s", "ctl: become agent needs CPU QUEUE");
		if (!tool_parse_ll(w[2], 0, GHOST_MAX_CPUS - 1, &v))
			return tool_usage_error("bad CPU \"%s\" (0 to %d)", w[2],
						GHOST_MAX_CPUS - 1);
		if (!tool_parse_ll(w[3], -1, INT_MAX, &v))
			return tool_usage_error("bad queue \"%s\" (-1 to %d)", w[3], INT_MAX);
	}
	return 0;
}

static int cmd_ctl(int argc, char **argv)
{
	struct ghost_enclave *e;
	char cmd[GHOST_CTL_MAX] = "", words[sizeof(cmd)], *w[8], *save = NULL;
	int err, nw = 0;

	if (argc < 3)
		return tool_usage_error("%s", "ctl needs ID COMMAND");
	for (int i = 2; i < argc; i++) {
		if (strlen(cmd) + strlen(argv[i]) + 2 >= sizeof(cmd))
			return tool_usage_error("ctl command too long: \"%s\"", argv[i]);
		if (i > 2)
			strcat(cmd, " ");
		strcat(cmd, argv[i]);
	}
	/* The words as the library splits them, whether given apart or quoted as one. */
	memcpy(words, cmd, sizeof(words));
	for (char *t = strtok_r(words, " \t\n", &save); t && nw < 8;
	     t = strtok_r(NULL, " \t\n", &save))
		w[nw++] = t;
	if ((err = check_ctl_numbers(nw, w)))
		return err;
	if ((err = open_enclave(argv[1], &e)))
		return err;
	err = ghost_enclave_ctl(e, cmd);
	ghost_enclave_close(e);
	if (err == -EINVAL)
		return tool_usage_error("\"%s\" is not a command the enclave takes", cmd);
	if (err < 0) {
		tool_error("\"%s\" failed: %s", cmd, ghost_strerror(err));
		return TOOL_EXIT_FAILURE;
	}
	return 0;
}

static int cmd_tasks(int argc, char **argv)
{
	struct ghost_enclave *e;
	long long tid;
	int err;

	if (argc == 2) {
		if ((err = open_enclave(argv[1], &e)))
			return err;
		err = print_file(e, "tasks", NULL, "file");
		ghost_enclave_close(e);
		return err;
	}
	if (argc != 4 || (strcmp(argv[1], "add") && strcmp(argv[1], "remove")))
		return tool_usage_error("%s", "tasks needs ID, or add|remove ID TID");
	if (!tool_parse_ll(argv[3], 1, INT_MAX, &tid))
		return tool_usage_error("bad thread id \"%s\" (1 to %d)", argv[3], INT_MAX);
	if ((err = open_enclave(argv[2], &e)))
		return err;
	err = !strcmp(argv[1], "add") ? ghost_thread_move(e, (pid_t)tid)
				      : ghost_thread_remove(e, (pid_t)tid);
	if (err == -EOPNOTSUPP)
		tool_error("the %s kernel cannot %s thread %s: it only schedules threads that run "
			   "libghost (they enter with ghost_thread_enter)",
			   ghost_kernel_name(ghost_enclave_kernel(e)), argv[1], argv[3]);
	else if (err)
		tool_error("tasks %s %s: %s", argv[1], argv[3],
			   err == -ESRCH ? "no such thread" : ghost_strerror(err));
	ghost_enclave_close(e);
	return err ? 1 : 0;
}

static int cmd_run(int argc, char **argv)
{
	struct tool_enclave_open req = { .wait_s = DEFAULT_WAIT_S, .hint = true };
	const char *id = NULL;
	struct ghost_enclave *e;
	int i, err, status;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--enclave") && i + 1 < argc) {
			id = argv[++i];
		} else if (!strcmp(argv[i], "--wait") && i + 1 < argc) {
			/* Digits first: no sign, no space. */
			if (argv[++i][0] < '0' || argv[i][0] > '9' ||
			    !tool_parse_double(argv[i], &req.wait_s) || req.wait_s > MAX_WAIT_S)
				return tool_usage_error("bad --wait \"%s\" (seconds, 0 to %d)",
							argv[i], MAX_WAIT_S);
		} else {
			return tool_usage_error("run: unexpected argument \"%s\" (run [--wait S] "
						"--enclave ID -- CMD ARGS)",
						argv[i]);
		}
	}
	if (!id)
		return tool_usage_error("%s", "run needs --enclave ID");
	if (i >= argc - 1)
		return tool_usage_error("%s", "run needs a command after --");
	if ((err = open_enclave_wait(id, &req, &e)))
		return err;
	if (!(ghost_kernel_caps(ghost_enclave_kernel(e)) & GHOST_KCAP_FOREIGN_TASKS)) {
		tool_error("the %s kernel schedules only threads that run libghost; it cannot take "
			   "an unmodified program (use --kernel scx, or link the program with "
			   "libghost and call ghost_thread_enter)",
			   ghost_kernel_name(ghost_enclave_kernel(e)));
		ghost_enclave_close(e);
		return TOOL_EXIT_FAILURE;
	}
	if ((err = tool_wait_agent(&req, e))) {
		ghost_enclave_close(e);
		return err;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		tool_error("fork: %s", strerror(errno));
		return TOOL_EXIT_FAILURE;
	}
	if (pid == 0) {
		err = ghost_thread_enter(e);
		if (err) {
			tool_error("cannot enter enclave %s: %s", id, ghost_strerror(err));
			_exit(127);
		}
		execvp(argv[i + 1], &argv[i + 1]);
		tool_error("cannot run %s: %s", argv[i + 1], strerror(errno));
		_exit(127);
	}
	ghost_enclave_close(e);
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_kernels(void)
{
	for (const struct ghost_kernel_ops *const *k = ghost_kernel_all(); *k; k++) {
		char why[256] = "";
		int err = ghost_kernel_probe(*k, NULL, why, sizeof(why));

		printf("%-8s %-9s %s%s%s\n", ghost_kernel_name(*k), err ? "absent" : "available",
		       ghost_kernel_summary(*k), err ? ": " : "", err ? why : "");
	}
	return 0;
}

int main(int argc, char **argv)
{
	int i;

	tool_init("ghostctl");
	for (i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--kernel") || !strcmp(argv[i], "--root")) && i + 1 >= argc)
			return tool_usage_error("%s needs a value", argv[i]);
		if (!strcmp(argv[i], "--kernel") && i + 1 < argc)
			kernel_name = argv[++i];
		else if (!strcmp(argv[i], "--root") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			print_usage();
			return 0;
		} else if (argv[i][0] == '-')
			return tool_usage_error("unknown option \"%s\"", argv[i]);
		else
			break;
	}
	if (i >= argc)
		return tool_usage_error("%s", "missing command");
	/*
	 * --kernel and --root may also follow the command word ("run --kernel scx ..."):
	 * take them out, up to a "--" that starts the program's own arguments.
	 */
	{
		int out = i + 1, j;

		for (j = i + 1; j < argc && strcmp(argv[j], "--"); j++) {
			if (!strcmp(argv[j], "-h") || !strcmp(argv[j], "--help")) {
				print_usage();
				return 0;
			}
			if (!strcmp(argv[j], "--kernel") || !strcmp(argv[j], "--root")) {
				if (j + 1 >= argc || !strcmp(argv[j + 1], "--"))
					return tool_usage_error("%s needs a value", argv[j]);
				if (!strcmp(argv[j], "--kernel"))
					kernel_name = argv[j + 1];
				else
					root = argv[j + 1];
				j++;
				continue;
			}
			argv[out++] = argv[j];
		}
		while (j < argc)
			argv[out++] = argv[j++];
		argc = out;
	}
	/* ghostctl words its own errors: the library stays quiet unless asked. */
	if (getenv("GHOST_DEBUG"))
		tool_log_start(GHOST_LOG_DEBUG);
	argc -= i;
	argv += i;
	if (!strcmp(argv[0], "list"))
		return cmd_list(argc, argv);
	if (!strcmp(argv[0], "create"))
		return cmd_create(argc, argv);
	if (!strcmp(argv[0], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[0], "destroy"))
		return cmd_destroy(argc, argv);
	if (!strcmp(argv[0], "get"))
		return cmd_get_set(argc, argv, false);
	if (!strcmp(argv[0], "set"))
		return cmd_get_set(argc, argv, true);
	if (!strcmp(argv[0], "cat"))
		return cmd_cat(argc, argv);
	if (!strcmp(argv[0], "ctl"))
		return cmd_ctl(argc, argv);
	if (!strcmp(argv[0], "tasks"))
		return cmd_tasks(argc, argv);
	if (!strcmp(argv[0], "run"))
		return cmd_run(argc, argv);
	if (!strcmp(argv[0], "kernels"))
		return argc > 1 ? tool_usage_error("kernels takes no argument, got \"%s\"", argv[1])
				: cmd_kernels();
	return tool_usage_error("unknown command \"%s\"", argv[0]);
}
