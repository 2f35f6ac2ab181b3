/*
 * tools/ghostctl.c - look at and manage enclaves: create, list, status,
 * destroy, tunables, the ghostfs-style files, tasks, starting a program
 * inside an enclave (waiting, with run --wait, for the enclave and its agent
 * to appear), and top, a live view read from the enclave's files and txns
 * (never from the agent: it only reads, and never invents what a backend
 * does not report).
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
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
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
	"                                for the enclave to exist and an agent to serve it.\n"
	"                                On emu the program runs under libghost-preload.so\n"
	"                                (LD_PRELOAD, found beside the tools' lib directory or\n"
	"                                at $GHOST_PRELOAD): its threads and children become\n"
	"                                ghost tasks and its blocking calls are reported; a\n"
	"                                statically linked program is refused\n"
	"  top ID [--interval S] [--once] [--json]\n"
	"                                a live view of the enclave, refreshed every S seconds\n"
	"                                (default 1, 0.1 to 3600) until q or Ctrl-C: per CPU\n"
	"                                the task on it, its utilisation and its last txn;\n"
	"                                tasks and how many are runnable; commit, message\n"
	"                                and failure rates, failures by reason; the agent\n"
	"                                process' CPU share. Rates compare two readings: the\n"
	"                                first view comes after one interval. --once: that\n"
	"                                one view, as text; --json: one JSON object per view\n"
	"                                (with --once exactly one). Not on a terminal: one\n"
	"                                text view after another. What a backend does not\n"
	"                                report shows as n/a (JSON: null, and the reason in\n"
	"                                \"unavailable\"); only emu reports all of it\n"
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

/*
 * Where cmd would be found (execvp's search of $PATH when it has no slash): 0 with the path
 * in out, or -ENOENT.
 */
static int find_command(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/') || !path)
		return snprintf(out, len, "%s", cmd) < (int)len && access(cmd, X_OK) == 0 ? 0
											  : -ENOENT;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int n = end > p ? snprintf(out, len, "%.*s/%s", (int)(end - p), p, cmd)
				: snprintf(out, len, "./%s", cmd);

		if (n > 0 && n < (int)len && access(out, X_OK) == 0)
			return 0;
		if (!*end)
			return -ENOENT;
		p = end;
	}
}

/*
 * Is the ELF file at path statically linked (no program interpreter)? 1 yes, 0 no or not
 * ELF (a script's interpreter is what runs), negative errno if it cannot be read.
 */
static int elf_static(const char *path)
{
	unsigned char id[EI_NIDENT];
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;
	uint64_t phoff;
	uint16_t phnum, phentsize;

	if (fd < 0)
		return -errno;
	if (pread(fd, id, sizeof(id), 0) != (ssize_t)sizeof(id) || memcmp(id, ELFMAG, SELFMAG))
		goto out;
	if (id[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr h;

		if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			goto out;
		phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize;
	} else {
		Elf32_Ehdr h;

		if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			goto out;
		phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize;
	}
	if (phentsize < sizeof(uint32_t))
		goto out;
	ret = 1;
	for (uint16_t i = 0; i < phnum; i++) {
		uint32_t type;

		/* p_type is the first word of both classes' program headers. */
		if (pread(fd, &type, sizeof(type), (off_t)(phoff + (uint64_t)i * phentsize)) !=
		    (ssize_t)sizeof(type)) {
			ret = 0;
			break;
		}
		if (type == PT_INTERP) {
			ret = 0;
			break;
		}
	}
out:
	close(fd);
	return ret;
}

/* libghost-preload.so: $GHOST_PRELOAD, else ../lib beside this program (build tree, install). */
static int find_preload(char *out, size_t len)
{
	const char *env = getenv("GHOST_PRELOAD");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env)
		return snprintf(out, len, "%s", env) < (int)len && access(env, R_OK) == 0 ? 0
											  : -ENOENT;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	if (snprintf(out, len, "%s/../lib/libghost-preload.so", exe) >= (int)len)
		return -ENAMETOOLONG;
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

/*
 * The environment of a program run under the interposer (in the child, before exec): the
 * library first in LD_PRELOAD, and the variables that name the enclave. 0 or -errno.
 */
static int preload_env(const char *lib, const char *id, const char *kernel)
{
	const char *old = getenv("LD_PRELOAD");
	char *val = NULL;
	int err = 0;

	if (old && *old ? asprintf(&val, "%s:%s", lib, old) < 0 : !(val = strdup(lib)))
		return -ENOMEM;
	if (setenv("LD_PRELOAD", val, 1) || setenv("GHOST_ENCLAVE", id, 1) ||
	    setenv("GHOST_KERNEL", kernel, 1) || (root && setenv("GHOST_ROOT", root, 1)))
		err = -errno;
	free(val);
	return err;
}

static int cmd_run(int argc, char **argv)
{
	struct tool_enclave_open req = { .wait_s = DEFAULT_WAIT_S, .hint = true };
	char cmd[PATH_MAX], preload[PATH_MAX];
	const char *id = NULL;
	struct ghost_enclave *e;
	bool interpose = false;
	int i, err, status;
	uint64_t caps;
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
	caps = ghost_kernel_caps(ghost_enclave_kernel(e));
	if (!(caps & GHOST_KCAP_FOREIGN_TASKS)) {
		/* A kernel that schedules in user space takes the program through the
		 * interposer, if it is dynamically linked. */
		if (!(caps & GHOST_KCAP_USER_TASKS)) {
			tool_error("the %s kernel cannot take an unmodified program",
				   ghost_kernel_name(ghost_enclave_kernel(e)));
			err = TOOL_EXIT_FAILURE;
		} else if ((err = find_command(argv[i + 1], cmd, sizeof(cmd)))) {
			tool_error("cannot run %s: no such program", argv[i + 1]);
			err = 127;
		} else if ((err = elf_static(cmd)) != 0) {
			if (err > 0)
				tool_error("%s is statically linked: the %s kernel schedules a "
					   "program through libghost-preload.so, which a static "
					   "program never loads (link it dynamically, or use "
					   "--kernel scx)",
					   cmd, ghost_kernel_name(ghost_enclave_kernel(e)));
			else
				tool_error("cannot read %s: %s", cmd, strerror(-err));
			err = err > 0 ? TOOL_EXIT_FAILURE : 127;
		} else if ((err = find_preload(preload, sizeof(preload)))) {
			tool_error("cannot find libghost-preload.so (%s; set GHOST_PRELOAD to its "
				   "path)",
				   getenv("GHOST_PRELOAD") && *getenv("GHOST_PRELOAD")
					   ? "$GHOST_PRELOAD names no readable file"
					   : "it is not in the lib directory beside this program");
			err = TOOL_EXIT_FAILURE;
		} else {
			interpose = true;
		}
		if (!interpose) {
			ghost_enclave_close(e);
			return err;
		}
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
	if (pid == 0 && interpose) {
		char idtext[24];

		snprintf(idtext, sizeof(idtext), "%llu", (unsigned long long)ghost_enclave_id(e));
		err = preload_env(preload, idtext, ghost_kernel_name(ghost_enclave_kernel(e)));
		if (err) {
			tool_error("cannot set the environment of %s: %s", argv[i + 1],
				   strerror(-err));
			_exit(127);
		}
		execv(cmd, &argv[i + 1]);
		tool_error("cannot run %s: %s", argv[i + 1], strerror(errno));
		_exit(127);
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

/* ---- top: a live view of an enclave ---- */

/* top --interval: the default and the bounds, seconds. */
#define TOP_INTERVAL_S	   1.0
#define TOP_INTERVAL_MIN_S 0.1
#define TOP_INTERVAL_MAX_S 3600.0
#define TOP_REASONS	   16 /* failure states: GHOST_TXN_COMPLETE + 1 .. + 15 */

/* One reading of an enclave. have_*: the backend reports it (its "stats" file). */
struct top_sample {
	int64_t now_ns;
	bool agent_online;
	int tasks, runnable;
	bool have_stats, have_agent;
	uint64_t commits, msgs, failed[TOP_REASONS];
	int agent_pid;
	uint64_t agent_ns; /* the agent process' CPU time */
	struct top_cpu {
		int tid; /* the task on it, 0 none */
		uint64_t busy_ns;
		int32_t txn_state; /* its last txn (every backend) */
		int64_t txn_gtid;
	} cpu[GHOST_MAX_CPUS];
};

static volatile sig_atomic_t top_stop;

static void top_on_stop(int sig)
{
	top_stop = sig;
}

/* CPU time of every thread of process pid in ns (its schedstat), 0 if it cannot be read. */
static uint64_t process_cpu_ns(int pid)
{
	char path[64];
	uint64_t sum = 0;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		char file[40 + sizeof(de->d_name)];
		unsigned long long ns;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/%d/task/%s/schedstat", pid, de->d_name);
		if (!(f = fopen(file, "r")))
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* The failure index (1..15) of a state named without its prefix, 0 if none. */
static int top_reason_index(const char *name)
{
	for (int i = 1; i < TOP_REASONS; i++)
		if (!strcmp(name, ghost_txn_reason(GHOST_TXN_COMPLETE + i)))
			return i;
	return 0;
}

/* Reads the emu-style "stats" file into s (have_stats if the backend has one). */
static int top_read_stats(struct ghost_enclave *e, struct top_sample *s)
{
	static char buf[1 << 20];
	int n = ghost_enclave_read_file(e, "stats", buf, sizeof(buf));
	char *save = NULL;

	if (n == -ENOENT || n == -EOPNOTSUPP)
		return 0;
	if (n < 0)
		return n;
	s->have_stats = true;
	s->tasks = s->runnable = 0;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long long v;
		char word[64], state[32];
		int cpu, tid;

		if (sscanf(l, "commits %llu", &v) == 1) {
			s->commits = v;
		} else if (sscanf(l, "msgs %llu", &v) == 1) {
			s->msgs = v;
		} else if (sscanf(l, "agent_pid %d", &s->agent_pid) == 1) {
			s->have_agent = s->agent_pid > 0;
		} else if (sscanf(l, "fail_%63s %llu", word, &v) == 2) {
			int i = top_reason_index(word);

			if (i)
				s->failed[i] = v;
		} else if (sscanf(l, "cpu %d", &cpu) == 1 && cpu >= 0 && cpu < GHOST_MAX_CPUS) {
			const char *p = strstr(l, " current_tid ");

			if (p && sscanf(p, " current_tid %d busy_ns %llu", &tid, &v) == 2) {
				s->cpu[cpu].tid = tid;
				s->cpu[cpu].busy_ns = v;
			}
		} else if (sscanf(l, "task %d gtid %*d %31s", &tid, state) == 2) {
			if (!strcmp(state, "runnable"))
				s->runnable++;
			if (strcmp(state, "free") && strcmp(state, "dead") &&
			    strcmp(state, "departed"))
				s->tasks++;
		}
	}
	return 0;
}

/* One reading: 0, or a negative errno (the enclave is gone, a file cannot be read). */
static int top_read(struct ghost_enclave *e, struct top_sample *s)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(e);
	char buf[64 * 1024];
	struct timespec ts;
	int n, err;

	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	n = ghost_enclave_read_file(e, "agent_online", buf, sizeof(buf));
	if (n < 0)
		return n;
	s->agent_online = buf[0] == '1';
	n = ghost_enclave_read_file(e, "tasks", buf, sizeof(buf));
	if (n < 0 && n != -ENOSPC)
		return n;
	s->tasks = 0;
	for (int i = 0; i < n; i++)
		s->tasks += buf[i] == '\n';
	for (int c = ghost_cpuset_first(cpus); c >= 0; c = ghost_cpuset_next(cpus, c)) {
		struct ghost_txn *txn = ghost_enclave_txn(e, c);

		s->cpu[c].txn_state = txn ? __atomic_load_n(&txn->state, __ATOMIC_ACQUIRE) : 0;
		s->cpu[c].txn_gtid = txn ? __atomic_load_n(&txn->gtid, __ATOMIC_RELAXED) : 0;
	}
	if ((err = top_read_stats(e, s)))
		return err;
	if (s->have_agent)
		s->agent_ns = process_cpu_ns(s->agent_pid);
	return 0;
}

static double per_s(uint64_t now, uint64_t before, double dt)
{
	return now >= before && dt > 0 ? (double)(now - before) / dt : 0.0;
}

/* The share of dt (s) a CPU ran tasks, from its busy_ns readings (at most 1: the readings
 * are a moment apart from the clock's). */
static double utilisation(uint64_t now, uint64_t before, double dt)
{
	double u = per_s(now, before, dt) / 1e9;

	return u < 1.0 ? u : 1.0;
}

/* The view of two readings a (earlier) and b, as text or as one JSON line. */
static void top_print(struct ghost_enclave *e, const struct top_sample *a,
		      const struct top_sample *b, bool json, bool ansi)
{
	const struct ghost_cpuset *cpus = ghost_enclave_cpus(e);
	const char *kname = ghost_kernel_name(ghost_enclave_kernel(e));
	double dt = (double)(b->now_ns - a->now_ns) / 1e9;
	int ncpus = ghost_cpuset_count(cpus);
	bool agent = b->have_agent && a->have_agent && a->agent_pid == b->agent_pid;
	double share = agent ? per_s(b->agent_ns, a->agent_ns, dt) / 1e9 : 0;
	uint64_t failed = 0, failed_before = 0;
	char list[GHOST_CPUSET_LIST_MAX];
	bool first = true;

	for (int i = 1; i < TOP_REASONS; i++) {
		failed += b->failed[i];
		failed_before += a->failed[i];
	}
	ghost_cpuset_format_list(cpus, list, sizeof(list));
	if (json) {
		printf("{\"enclave\":%" PRIu64 ",\"kernel\":\"%s\",\"time_ns\":%" PRId64
		       ",\"interval_s\":%.3f,\"cpus\":[",
		       ghost_enclave_id(e), kname, b->now_ns, dt);
		for (int c = ghost_cpuset_first(cpus); c >= 0; c = ghost_cpuset_next(cpus, c)) {
			const struct top_cpu *x = &b->cpu[c];

			printf("%s{\"cpu\":%d,", first ? "" : ",", c);
			first = false;
			if (b->have_stats && x->tid)
				printf("\"current_tid\":%d,", x->tid);
			else
				printf("\"current_tid\":null,");
			if (b->have_stats)
				printf("\"utilisation\":%.4f,",
				       utilisation(x->busy_ns, a->cpu[c].busy_ns, dt));
			else
				printf("\"utilisation\":null,");
			printf("\"last_txn\":{\"state\":\"%s\",\"target_tid\":",
			       ghost_txn_reason(x->txn_state));
			if (x->txn_gtid > 0)
				printf("%d}}", (int)ghost_gtid_to_tid(x->txn_gtid));
			else
				printf("null}}");
		}
		printf("],\"agent\":{\"online\":%s,\"pid\":", b->agent_online ? "true" : "false");
		if (agent)
			printf("%d,\"cpu_share\":%.4f,\"enclave_share\":%.4f},", b->agent_pid,
			       share, ncpus ? share / ncpus : 0.0);
		else
			printf("null,\"cpu_share\":null,\"enclave_share\":null},");
		printf("\"tasks\":%d,", b->tasks);
		if (b->have_stats) {
			printf("\"runnable\":%d,\"rates\":{\"commits\":%.1f,\"msgs\":%.1f,"
			       "\"failed\":%.1f},\"totals\":{\"commits\":%" PRIu64
			       ",\"msgs\":%" PRIu64 ",\"failed\":%" PRIu64 "},\"failures\":{",
			       b->runnable, per_s(b->commits, a->commits, dt),
			       per_s(b->msgs, a->msgs, dt), per_s(failed, failed_before, dt),
			       b->commits, b->msgs, failed);
			first = true;
			for (int i = 1; i < TOP_REASONS; i++) {
				if (!b->failed[i])
					continue;
				printf("%s\"%s\":{\"total\":%" PRIu64 ",\"per_s\":%.1f}",
				       first ? "" : ",", ghost_txn_reason(GHOST_TXN_COMPLETE + i),
				       b->failed[i], per_s(b->failed[i], a->failed[i], dt));
				first = false;
			}
			printf("},\"unavailable\":[%s]}\n",
			       agent ? "" : "\"the agent's CPU share: no agent process is known\"");
		} else {
			printf("\"runnable\":null,\"rates\":null,\"totals\":null,\"failures\":null,"
			       "\"unavailable\":[\"the %s kernel reports no task on each CPU, "
			       "utilisation, runnable count, rates, failures or agent process\"]}\n",
			       kname);
		}
		fflush(stdout);
		return;
	}
	/* Text: clear the screen first when it is a live terminal view. */
	if (ansi)
		fputs("\033[H\033[2J", stdout);
	printf("enclave %" PRIu64 " (%s kernel), CPUs %s: agent %s, %d tasks", ghost_enclave_id(e),
	       kname, list, b->agent_online ? "online" : "none", b->tasks);
	if (b->have_stats)
		printf(", %d runnable\n", b->runnable);
	else
		printf(", runnable n/a\n");
	if (b->have_stats) {
		printf("over %.2f s: %.0f commits/s, %.0f messages/s, %.0f failed/s (totals: %" PRIu64
		       " commits, %" PRIu64 " messages, %" PRIu64 " failed)\n",
		       dt, per_s(b->commits, a->commits, dt), per_s(b->msgs, a->msgs, dt),
		       per_s(failed, failed_before, dt), b->commits, b->msgs, failed);
		printf("failures:");
		if (!failed)
			printf(" none");
		for (int i = 1; i < TOP_REASONS; i++)
			if (b->failed[i])
				printf(" %s %" PRIu64 " (%.0f/s)",
				       ghost_txn_reason(GHOST_TXN_COMPLETE + i), b->failed[i],
				       per_s(b->failed[i], a->failed[i], dt));
		printf("\n");
	} else {
		printf("rates, failures: n/a (the %s kernel does not report them)\n", kname);
	}
	if (agent)
		printf("agent: pid %d, %.1f%% of one CPU (%.1f%% of the enclave's %d)\n",
		       b->agent_pid, 100 * share, ncpus ? 100 * share / ncpus : 0.0, ncpus);
	else if (b->have_stats)
		printf("agent: CPU share n/a (no agent process)\n");
	else
		printf("agent: CPU share n/a (the %s kernel does not name the agent's process)\n",
		       kname);
	printf("%5s  %-12s %6s  %s\n", "CPU", "TASK", "UTIL", "LAST TXN");
	for (int c = ghost_cpuset_first(cpus); c >= 0; c = ghost_cpuset_next(cpus, c)) {
		const struct top_cpu *x = &b->cpu[c];
		char task[32] = "n/a", util[16] = "n/a", target[32] = "";

		if (b->have_stats) {
			if (x->tid)
				snprintf(task, sizeof(task), "tid %d", x->tid);
			else
				snprintf(task, sizeof(task), "-");
			snprintf(util, sizeof(util), "%.1f%%",
				 100 * utilisation(x->busy_ns, a->cpu[c].busy_ns, dt));
		}
		if (x->txn_gtid > 0)
			snprintf(target, sizeof(target), " tid %d",
				 (int)ghost_gtid_to_tid(x->txn_gtid));
		printf("%5d  %-12s %6s  %s%s\n", c, task, util, ghost_txn_reason(x->txn_state),
		       target);
	}
	if (ansi)
		printf("\n(every %.1f s; q or Ctrl-C quits)\n", dt);
	fflush(stdout);
}

/*
 * Waits up to ns for the next refresh; true if the user asked to quit (q on a terminal's
 * stdin, SIGINT or SIGTERM).
 */
static bool top_wait(int64_t ns, bool keys)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	struct timespec ts;
	int64_t end, now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ns;
	for (;;) {
		if (top_stop)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		if (now >= end)
			return false;
		if (!keys) {
			struct timespec d = { (end - now) / 1000000000, (end - now) % 1000000000 };

			nanosleep(&d, NULL); /* a signal ends it early */
			continue;
		}
		if (poll(&p, 1, (int)((end - now + 999999) / 1000000)) > 0) {
			char c;

			if (read(STDIN_FILENO, &c, 1) <= 0)
				keys = false; /* stdin closed: only signals end it now */
			else if (c == 'q' || c == 'Q')
				return true;
		}
	}
}

static int cmd_top(int argc, char **argv)
{
	double interval = TOP_INTERVAL_S;
	bool once = false, json = false, ansi, keys;
	const char *id = NULL;
	struct top_sample s[2];
	struct termios saved;
	struct ghost_enclave *e;
	int err, cur = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--once")) {
			once = true;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--interval")) {
			if (i + 1 >= argc)
				return tool_usage_error("%s", "--interval needs a value");
			if (argv[++i][0] < '0' || argv[i][0] > '9' ||
			    !tool_parse_double(argv[i], &interval) ||
			    interval < TOP_INTERVAL_MIN_S || interval > TOP_INTERVAL_MAX_S)
				return tool_usage_error(
					"bad --interval \"%s\" (seconds, %.1f to %.0f)", argv[i],
					TOP_INTERVAL_MIN_S, TOP_INTERVAL_MAX_S);
		} else if (argv[i][0] == '-') {
			return tool_usage_error("top: unknown option \"%s\"", argv[i]);
		} else if (!id) {
			id = argv[i];
		} else {
			return tool_usage_error("top: unexpected argument \"%s\"", argv[i]);
		}
	}
	if (!id)
		return tool_usage_error("%s", "top needs an enclave id");
	if ((err = open_enclave(id, &e)))
		return err;
	/* A live screen only on a terminal; elsewhere one snapshot after another. */
	ansi = !once && !json && isatty(STDOUT_FILENO);
	keys = !once && isatty(STDIN_FILENO);
	if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios raw = saved;

		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		keys = false;
	}
	tool_on_stop_signals(top_on_stop, 0);
	if (ansi)
		fputs("\033[?25l", stdout); /* no cursor */
	/* Rates need two readings: the first view comes one interval after the start. */
	err = top_read(e, &s[cur]);
	while (!err && !top_wait((int64_t)(interval * 1e9), keys)) {
		if ((err = top_read(e, &s[!cur])))
			break;
		top_print(e, &s[cur], &s[!cur], json, ansi);
		cur = !cur;
		if (once)
			break;
		if (!ansi && !json)
			printf("\n");
	}
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (ansi)
		fputs("\033[?25h", stdout);
	fflush(stdout);
	if (err) {
		tool_error("enclave %s: %s", id,
			   err == -ENOENT || err == -ENODEV || err == -ESHUTDOWN
				   ? "it is gone"
				   : ghost_strerror(err));
		ghost_enclave_close(e);
		return TOOL_EXIT_FAILURE;
	}
	ghost_enclave_close(e);
	return 0;
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
	if (!strcmp(argv[0], "top"))
		return cmd_top(argc, argv);
	if (!strcmp(argv[0], "kernels"))
		return argc > 1 ? tool_usage_error("kernels takes no argument, got \"%s\"", argv[1])
				: cmd_kernels();
	return tool_usage_error("unknown command \"%s\"", argv[0]);
}
