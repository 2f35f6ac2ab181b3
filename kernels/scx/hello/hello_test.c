/*
 * kernels/scx/hello/hello_test.c - loads the hello sched_ext scheduler (scx_hello.bpf.c),
 * runs a few busy threads of its own under it, and unloads it again.
 *
 * The end-to-end check of the real-kernel test tier: it runs as root inside the virtual
 * machine that scripts/vm/run.sh boots, statically linked against libbpf. It
 *   1. checks that the kernel has sched_ext and that no other BPF scheduler is loaded;
 *   2. opens the BPF object (built into this binary, or -o FILE), loads it and attaches its
 *      struct_ops map with bpf_map__attach_struct_ops;
 *   3. checks that /sys/kernel/sched_ext/state reads "enabled";
 *   4. starts THREADS threads (default: twice the CPUs) that each switch themselves to SCHED_EXT (policy 7), spin,
 *      yield and sleep for ROUNDS rounds; checks that all of them finished every round, that
 *      the scheduler stayed enabled throughout and that its callbacks ran;
 *   5. destroys the link and checks that the state reads "disabled" and that the scheduler
 *      reports it was unregistered (not kicked out with an error).
 * Exit status: 0 passed, 77 skipped (no sched_ext in this kernel, not root), 1 failed.
 *
 * With --hold SECONDS it does steps 1-3, then, instead of step 4, keeps the scheduler loaded
 * (and idle: no task of its own under it) for SECONDS or until SIGTERM or SIGINT, whichever
 * comes first, and then does step 5. It says "holding" once the scheduler is enabled. Other
 * tests use it to have a foreign sched_ext scheduler loaded.
 *
 * Usage: hello_test [-v] [-o OBJECT] [-t THREADS] [-r ROUNDS]
 *        hello_test [-v] [-o OBJECT] --hold SECONDS
 */
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "scx_hello.h"

#ifndef SCHED_EXT
#define SCHED_EXT 7
#endif

#define SCX_SYSFS      "/sys/kernel/sched_ext"
#define SCX_STATE      SCX_SYSFS "/state"
#define SCX_ROOT_OPS   SCX_SYSFS "/root/ops"
#define SCX_EXIT_UNREG 64   /* enum scx_exit_kind: unregistered from user space */
#define SCX_EXIT_ERROR 1024 /* kinds from here on are errors */
#define STATE_WAIT_MS  5000
#define MAX_THREADS    64
#define EXIT_SKIP      77

/*
 * The BPF object, embedded at build time (build.sh passes -DHELLO_BPF_OBJ="path"), so the
 * binary is all the virtual machine needs.
 */
#ifdef HELLO_BPF_OBJ
__asm__(".pushsection .rodata\n"
	".balign 8\n"
	".globl hello_bpf_obj_start\n"
	"hello_bpf_obj_start:\n"
	".incbin \"" HELLO_BPF_OBJ "\"\n"
	".globl hello_bpf_obj_end\n"
	"hello_bpf_obj_end:\n"
	".popsection\n");
extern const char hello_bpf_obj_start[], hello_bpf_obj_end[];
#endif

static bool verbose;
static volatile sig_atomic_t stop_signal; /* --hold: the signal that ended the hold */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("hello_test: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Reads a one-line sysfs file into buf without its newline; returns -errno on failure. */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		err = ferror(f) ? -EIO : -ENODATA;
	fclose(f);
	if (err)
		return err;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Waits until the sched_ext state reads want; leaves the last value read in state. */
static bool wait_state(const char *want, char *state, size_t size)
{
	for (int waited = 0;; waited += 10) {
		if (read_line(SCX_STATE, state, size))
			snprintf(state, size, "(unreadable)");
		if (!strcmp(state, want))
			return true;
		if (waited >= STATE_WAIT_MS)
			return false;
		sleep_ms(10);
	}
}

/* ---------------------------------------------------------------- --hold */

static void on_stop(int sig)
{
	stop_signal = sig;
}

/*
 * Waits SECONDS, or less if SIGTERM or SIGINT comes (their handlers are installed without
 * SA_RESTART, so the sleep ends early). Says why it ended.
 */
static void hold(long seconds)
{
	struct timespec end, now;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	for (;;) {
		struct timespec left;

		if (stop_signal)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			break;
		nanosleep(&left, NULL);
	}
	if (stop_signal)
		say("signal %d: ending the hold early", (int)stop_signal);
	else
		say("held for %ld s", seconds);
}

/* ---------------------------------------------------------------- the workload */

struct worker {
	pthread_t thread;
	int idx;
	int rounds;    /* to do */
	int done;      /* rounds finished */
	int policy;    /* sched_getscheduler() after the switch */
	int err;       /* errno of a failed sched_setscheduler, else 0 */
	uint64_t cpus; /* bit n: ran on CPU n (n < 64) */
	volatile uint64_t sink;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sched_param param = { .sched_priority = 0 };

	if (sched_setscheduler(0, SCHED_EXT, &param)) {
		w->err = errno;
		return NULL;
	}
	w->policy = sched_getscheduler(0);
	for (int r = 0; r < w->rounds; r++) {
		for (uint64_t i = 0; i < 200000; i++)
			w->sink += i ^ (uint64_t)w->idx;
		int cpu = sched_getcpu();
		if (cpu >= 0 && cpu < 64)
			w->cpus |= UINT64_C(1) << cpu;
		if (r % 4 == 3)
			sleep_ms(1); /* a sleep and a wake-up: select_cpu, enqueue */
		else
			sched_yield(); /* back through enqueue and dispatch */
		w->done = r + 1;
	}
	return NULL;
}

/* ---------------------------------------------------------------- the scheduler */

static void print_stats(struct bpf_map *stats, uint64_t out[HELLO_NR_STATS])
{
	for (__u32 i = 0; i < HELLO_NR_STATS; i++) {
		out[i] = 0;
		bpf_map__lookup_elem(stats, &i, sizeof(i), &out[i], sizeof(out[i]), 0);
	}
	say("scheduler counters: init %llu, direct to an idle CPU %llu, enqueued %llu, dispatched %llu",
	    (unsigned long long)out[HELLO_STAT_INIT], (unsigned long long)out[HELLO_STAT_LOCAL],
	    (unsigned long long)out[HELLO_STAT_ENQUEUE],
	    (unsigned long long)out[HELLO_STAT_DISPATCH]);
}

/* Reads hello_exit[0]; prints it unless the scheduler is still running (kind 0). */
static int exit_kind(struct bpf_map *exit_map)
{
	struct hello_exit e;
	__u32 zero = 0;

	memset(&e, 0, sizeof(e));
	if (bpf_map__lookup_elem(exit_map, &zero, sizeof(zero), &e, sizeof(e), 0))
		return -1;
	if (e.kind) {
		e.reason[sizeof(e.reason) - 1] = '\0';
		e.msg[sizeof(e.msg) - 1] = '\0';
		say("the scheduler exited: kind %d, code %lld, on CPU %d: %s%s%s", e.kind,
		    (long long)e.exit_code, e.exit_cpu, e.reason, e.msg[0] ? ": " : "", e.msg);
	}
	return e.kind;
}

static struct bpf_object *open_object(const char *path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "scx_hello");
	struct bpf_object *obj;

	if (path) {
		obj = bpf_object__open_file(path, &opts);
	} else {
#ifdef HELLO_BPF_OBJ
		obj = bpf_object__open_mem(hello_bpf_obj_start,
					   (size_t)(hello_bpf_obj_end - hello_bpf_obj_start),
					   &opts);
#else
		say("FAIL: no BPF object built in; give one with -o scx_hello.bpf.o");
		return NULL;
#endif
	}
	if (!obj)
		say("FAIL: cannot open the BPF object %s: %s", path ? path : "(built in)",
		    strerror(errno));
	return obj;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-v] [-o OBJECT] [-t THREADS] [-r ROUNDS]\n"
		"       %s [-v] [-o OBJECT] --hold SECONDS\n",
		argv0, argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *obj_path = NULL;
	static const struct option longopts[] = {
		{ "hold", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int nthreads = 0, rounds = 20, opt, ret = 1;
	long hold_s = -1;
	char *end;
	struct worker workers[MAX_THREADS];
	struct bpf_object *obj = NULL;
	struct bpf_link *link = NULL;
	struct bpf_map *ops, *stats, *exit_map;
	uint64_t counters[HELLO_NR_STATS];
	char state[64], name[128];
	struct utsname uts;
	int started = 0;

	while ((opt = getopt_long(argc, argv, "vo:t:r:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			verbose = true;
			break;
		case 'o':
			obj_path = optarg;
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'H':
			errno = 0;
			hold_s = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || hold_s < 0 || hold_s > 86400)
				usage(argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!nthreads) {
		/* More threads than CPUs, so that some of them queue. */
		long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = ncpus > 0 && ncpus < MAX_THREADS / 2 ? 2 * (int)ncpus : MAX_THREADS;
	}
	if (optind != argc || nthreads < 1 || nthreads > MAX_THREADS || rounds < 1)
		usage(argv[0]);
	uname(&uts);
	if (hold_s >= 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop; /* no SA_RESTART: the hold's sleep ends */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}

	/* 1. Can this kernel and this process do it at all? */
	if (access(SCX_SYSFS, F_OK)) {
		say("SKIP: this kernel (%s) has no sched_ext: no " SCX_SYSFS
		    " (needs CONFIG_SCHED_CLASS_EXT=y)",
		    uts.release);
		return EXIT_SKIP;
	}
	if (geteuid() != 0) {
		say("SKIP: loading a BPF scheduler needs root (CAP_SYS_ADMIN and CAP_BPF)");
		return EXIT_SKIP;
	}
	int err = read_line(SCX_STATE, state, sizeof(state));
	if (err) {
		say("FAIL: cannot read " SCX_STATE ": %s", strerror(-err));
		return 1;
	}
	if (strcmp(state, "disabled")) {
		if (read_line(SCX_ROOT_OPS, name, sizeof(name)))
			snprintf(name, sizeof(name), "(unknown)");
		say("FAIL: another sched_ext scheduler is loaded: state %s, ops %s", state, name);
		return 1;
	}
	say("kernel %s, sched_ext state %s", uts.release, state);

	/* 2. Open, load, attach. */
	libbpf_set_print(libbpf_print);
	obj = open_object(obj_path);
	if (!obj)
		return 1;
	ops = bpf_object__find_map_by_name(obj, HELLO_OPS_MAP);
	stats = bpf_object__find_map_by_name(obj, HELLO_STATS_MAP);
	exit_map = bpf_object__find_map_by_name(obj, HELLO_EXIT_MAP);
	if (!ops || !stats || !exit_map) {
		say("FAIL: the BPF object lacks a map (%s, %s, %s)", HELLO_OPS_MAP, HELLO_STATS_MAP,
		    HELLO_EXIT_MAP);
		goto out;
	}
	err = -bpf_object__load(obj);
	if (err) {
		if (err == EPERM || err == EACCES)
			say("FAIL: loading the BPF object was refused (%s): the verifier rejected a "
			    "program, or this process lacks CAP_BPF/CAP_SYS_ADMIN; libbpf's log is above",
			    strerror(err));
		else
			say("FAIL: the kernel rejected the BPF object (%s); libbpf's log, with the "
			    "verifier's, is above",
			    strerror(err));
		goto out;
	}
	link = bpf_map__attach_struct_ops(ops);
	if (!link) {
		err = errno;
		if (err == EBUSY || err == EEXIST || err == EALREADY)
			say("FAIL: cannot attach: another sched_ext scheduler is loaded (%s)",
			    strerror(err));
		else
			say("FAIL: cannot attach the scheduler: %s", strerror(err));
		exit_kind(exit_map);
		goto out;
	}

	/* 3. The kernel must now run it. */
	if (!wait_state("enabled", state, sizeof(state))) {
		say("FAIL: after attaching, " SCX_STATE " reads \"%s\", not \"enabled\"", state);
		exit_kind(exit_map);
		goto out;
	}
	if (!read_line(SCX_ROOT_OPS, name, sizeof(name)) && strcmp(name, "hello")) {
		say("FAIL: " SCX_ROOT_OPS " reads \"%s\", not \"hello\"", name);
		goto out;
	}
	say("attached: state enabled, ops hello");

	if (hold_s >= 0) {
		/* 4'. Only stay loaded. */
		say("holding the scheduler loaded for %ld s (SIGTERM or SIGINT ends it early)",
		    hold_s);
		hold(hold_s);
		if (!wait_state("enabled", state, sizeof(state)) || exit_kind(exit_map) != 0) {
			say("FAIL: the scheduler did not stay enabled while held (state %s)",
			    state);
			goto out;
		}
		goto unload;
	}

	/* 4. Threads of ours under it. */
	memset(workers, 0, sizeof(workers));
	for (int i = 0; i < nthreads; i++) {
		workers[i].idx = i;
		workers[i].rounds = rounds;
		err = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		if (err) {
			say("FAIL: pthread_create: %s", strerror(err));
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	bool ok = started == nthreads;
	uint64_t cpus = 0;
	for (int i = 0; i < started; i++) {
		struct worker *w = &workers[i];

		cpus |= w->cpus;
		if (w->err) {
			say("FAIL: thread %d: sched_setscheduler(SCHED_EXT): %s", i,
			    strerror(w->err));
			ok = false;
		} else if (w->policy != SCHED_EXT) {
			say("FAIL: thread %d: policy %d after switching to SCHED_EXT", i,
			    w->policy);
			ok = false;
		} else if (w->done != w->rounds) {
			say("FAIL: thread %d finished %d of %d rounds", i, w->done, w->rounds);
			ok = false;
		}
	}
	say("%d threads ran %d rounds each under SCHED_EXT on %d CPUs", started, rounds,
	    __builtin_popcountll(cpus));
	print_stats(stats, counters);
	if (!wait_state("enabled", state, sizeof(state)) || exit_kind(exit_map) != 0) {
		say("FAIL: the scheduler did not stay enabled while the threads ran (state %s)",
		    state);
		ok = false;
	}
	if (!counters[HELLO_STAT_INIT] ||
	    !(counters[HELLO_STAT_ENQUEUE] + counters[HELLO_STAT_LOCAL])) {
		say("FAIL: the scheduler's callbacks did not run");
		ok = false;
	}
	if (!ok)
		goto out;

	/* 5. Unload. */
unload:
	bpf_link__destroy(link);
	link = NULL;
	if (!wait_state("disabled", state, sizeof(state))) {
		say("FAIL: after destroying the link, " SCX_STATE " reads \"%s\", not \"disabled\"",
		    state);
		goto out;
	}
	int kind = exit_kind(exit_map);
	if (kind != SCX_EXIT_UNREG) {
		say("FAIL: the scheduler's exit kind is %d, not %d (unregistered)", kind,
		    SCX_EXIT_UNREG);
		goto out;
	}
	say("detached: state disabled");
	say("PASS");
	ret = 0;
out:
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return ret;
}
