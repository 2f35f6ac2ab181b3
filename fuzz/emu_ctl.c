/*
 * fuzz/emu_ctl.c - the ctl and file parsers over the embedded kernel (src/enclave.c's
 * ghost_enclave_ctl over the typed ops; kernels/emu/emu_ns.c: emu_file_write,
 * emu_file_read), reached as ghostctl reaches them: through
 * ghost_enclave_ctl, ghost_enclave_write_file and ghost_enclave_read_file on an enclave
 * in a private root. Each input is a list of commands: ctl text, a write of text to a
 * known (or made-up) file name, a read with a buffer of some size.
 *
 * Beyond "no crash": a read returns an error or a terminated text of the length it
 * says, inside the buffer; a tunable that accepts a value reads back that value (any
 * non-zero as 1 for a flag), and an accepted value is usable (a time in ms or us scales
 * to ns without overflow); an accepted "create sw_region ID NODE" names a region the
 * library can then map (a plain non-negative ID); and after every input the enclave is
 * sound: a fresh attach works, and every file reads back sanely (abi_version, a
 * cpulist that parses and equals the cpumask and the library's view, flags 0 or 1,
 * bounded numbers, a status and a stats text of the expected shape).
 */
#include "fuzz_common.h"

#include <ghost/ghost.h>

#include <inttypes.h>
#include <limits.h>
#include <sched.h>

static char root[256];
static struct ghost_enclave *enc;
static struct ghost_channel *chan;
static cpu_set_t start_affinity;
static char cpulist0[GHOST_CPUSET_LIST_MAX];

enum kind { K_SPECIAL, K_BOOL, K_MS, K_US, K_US0, K_NS };

static const struct {
	const char *name;
	enum kind kind;
} files[] = {
	{ "abi_version", K_SPECIAL },
	{ "agent_online", K_SPECIAL },
	{ "commit_at_tick", K_BOOL },
	{ "cpulist", K_SPECIAL },
	{ "cpumask", K_SPECIAL },
	{ "ctl", K_SPECIAL },
	{ "deliver_agent_runnability", K_BOOL },
	{ "deliver_cpu_availability", K_BOOL },
	{ "deliver_ticks", K_BOOL },
	{ "live_dangerously", K_BOOL },
	{ "runnable_timeout", K_MS },
	{ "status", K_SPECIAL },
	{ "strict_classes", K_BOOL },
	{ "switchto_disabled", K_BOOL },
	{ "tasks", K_SPECIAL },
	{ "wake_on_waker_cpu", K_BOOL },
	{ "agent_timeout_ms", K_MS },
	{ "tick_us", K_US },
	{ "park_spin_ns", K_NS },
	{ "net_period_us", K_US0 }, /* 0 = off */
	{ "trace", K_BOOL },
	{ "stats", K_SPECIAL },
	{ "exit_info", K_SPECIAL },
	/* names no enclave has */
	{ "", K_SPECIAL },
	{ "status/", K_SPECIAL },
	{ "../state", K_SPECIAL },
};
#define NFILES	    (sizeof(files) / sizeof(files[0]))
#define NREAL_FILES 23 /* the enclave's own files come first */

static char defaults[NFILES][64];

/* An input had a ctl command accepted: the reset makes a new enclave. */
static bool ctl_accepted;

static void make_enclave(void)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo), .root = root, .id = 1, .max_tasks = 16 };
	struct ghost_cpuset cpus = fz_some_cpus();
	int err;

	eo.cpus = &cpus;
	if ((err = ghost_enclave_create(&eo, &enc)))
		fz_die("enclave", err);
	/* A default queue, so that "become agent CPU -1" can succeed. */
	if ((err = ghost_channel_create(enc, 64, 0, &chan)) ||
	    (err = ghost_channel_set_default(chan)))
		fz_die("queue", err);
}

static void drop_enclave(void)
{
	ghost_channel_destroy(chan);
	chan = NULL;
	ghost_enclave_destroy(enc);
	ghost_enclave_close(enc);
	enc = NULL;
}

static void remove_root(void)
{
	fz_rm_tree(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_log_init();
	fz_mkdtemp(root, sizeof(root), "ghost-fuzz-ctl");
	atexit(remove_root);
	setenv("GHOST_EMU_ROOT", root, 1);
	sched_getaffinity(0, sizeof(start_affinity), &start_affinity);
	make_enclave();
	for (size_t i = 0; i < NFILES; i++)
		if (files[i].kind != K_SPECIAL &&
		    ghost_enclave_read_file(enc, files[i].name, defaults[i], sizeof(defaults[i])) <
			    0)
			fz_die("reading a tunable", -EIO);
	if (ghost_enclave_read_file(enc, "cpulist", cpulist0, sizeof(cpulist0)) < 0)
		fz_die("reading cpulist", -EIO);
	return 0;
}

/* ---- checks ---- */

static long long number(const char *text, const char *name)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	FZ_CHECK(!errno && end != text && (*end == '\n' || !*end), "%s reads \"%s\"", name, text);
	return v;
}

/* A value a tunable accepted must be usable where the kernel side uses it. */
static void check_usable(enum kind kind, long long v, const char *name)
{
	switch (kind) {
	case K_BOOL:
		FZ_CHECK(v == 0 || v == 1, "flag %s is %lld", name, v);
		break;
	case K_MS:
		FZ_CHECK(v >= 0 && v <= INT64_MAX / 1000000, "%s = %lld ms overflows in ns", name,
			 v);
		break;
	case K_US:
		FZ_CHECK(v >= 100 && v <= 1000000, "%s = %lld us", name, v);
		break;
	case K_US0:
		FZ_CHECK(v == 0 || (v >= 100 && v <= 1000000), "%s = %lld us", name, v);
		break;
	case K_NS:
		FZ_CHECK(v >= 0 && v <= INT64_MAX / 4, "%s = %lld ns overflows a clock", name, v);
		break;
	case K_SPECIAL:
		break;
	}
}

static int read_text(const char *name, char *buf, size_t len)
{
	int n = ghost_enclave_read_file(enc, name, buf, len);

	FZ_CHECK(n < 0 || ((size_t)n < len && strlen(buf) == (size_t)n),
		 "%s: %d bytes in a buffer of %zu", name, n, len);
	return n;
}

/* Does the enclave still attach (a destroyed one is -ENOENT or -EXDEV)? */
static bool alive(void)
{
	struct ghost_enclave_opts eo = { .sz = sizeof(eo), .root = root, .id = 1 };
	struct ghost_enclave *again;
	int err = ghost_enclave_attach(&eo, &again);

	if (err) {
		FZ_CHECK(err == -ENOENT || err == -EXDEV, "attach: %s", ghost_strerror(err));
		return false;
	}
	FZ_CHECK(ghost_cpuset_equal(ghost_enclave_cpus(again), ghost_enclave_cpus(enc)),
		 "a fresh handle sees other CPUs");
	ghost_enclave_close(again);
	return true;
}

/* Every file of a live enclave reads back, and means something sane. */
static void check_enclave(void)
{
	static char buf[1 << 16];
	struct ghost_cpuset list, mask;

	for (size_t i = 0; i < NREAL_FILES; i++) {
		int n = read_text(files[i].name, buf, sizeof(buf));

		/* exit_info is the one file an older enclave may lack. */
		FZ_CHECK(n >= 0 || (n == -ENOENT && !strcmp(files[i].name, "exit_info")),
			 "%s does not read: %s", files[i].name, ghost_strerror(n));
		if (n < 0)
			continue;
		if (files[i].kind != K_SPECIAL)
			check_usable(files[i].kind, number(buf, files[i].name), files[i].name);
	}
	read_text("abi_version", buf, sizeof(buf));
	FZ_CHECK(number(buf, "abi_version") == GHOST_VERSION, "abi_version %s", buf);
	read_text("cpulist", buf, sizeof(buf));
	FZ_CHECK(!ghost_cpuset_parse_list(&list, buf, GHOST_MAX_CPUS, GHOST_CPUSET_ALLOW_EMPTY),
		 "cpulist \"%s\"", buf);
	read_text("cpumask", buf, sizeof(buf));
	FZ_CHECK(!ghost_cpuset_parse_mask(&mask, buf, GHOST_MAX_CPUS), "cpumask \"%s\"", buf);
	FZ_CHECK(ghost_cpuset_equal(&list, &mask) &&
			 ghost_cpuset_equal(&list, ghost_enclave_cpus(enc)),
		 "cpulist, cpumask and the library disagree");
	read_text("status", buf, sizeof(buf));
	FZ_CHECK(!strncmp(buf, "version ", 8), "status \"%s\"", buf);
	read_text("stats", buf, sizeof(buf));
	FZ_CHECK(!strncmp(buf, "commits ", 8), "stats \"%s\"", buf);
	if (read_text("exit_info", buf, sizeof(buf)) >= 0)
		FZ_CHECK(!strcmp(buf, "running\n"), "exit_info of a live enclave: \"%s\"", buf);
}

/* ---- commands ---- */

/* ctl text, through ghost_enclave_ctl or a write of the "ctl" file. */
static void do_ctl(const char *text, bool via_file)
{
	char copy[512], *save = NULL, *w0, *w1, *w2;
	unsigned long long id;
	char *end;
	int r = via_file ? ghost_enclave_write_file(enc, "ctl", text)
			 : ghost_enclave_ctl(enc, text);

	if (r < 0)
		return;
	ctl_accepted = true;
	snprintf(copy, sizeof(copy), "%s", text);
	w0 = strtok_r(copy, " \t\n", &save);
	w1 = w0 ? strtok_r(NULL, " \t\n", &save) : NULL;
	w2 = w1 ? strtok_r(NULL, " \t\n", &save) : NULL;
	if (!w2 || strcmp(w0, "create") || strcmp(w1, "sw_region"))
		return;
	/* The region it made is one the library can use. */
	FZ_CHECK(*w2 != '-', "\"%s\" accepted a negative region id", text);
	errno = 0;
	id = strtoull(w2, &end, 10);
	FZ_CHECK(!errno && end != w2 && id <= UINT32_MAX, "\"%s\" accepted", text);
	{
		struct ghost_sw_info info = { .id = (uint32_t)id, .index = 0 };

		FZ_CHECK(ghost_sw_lookup(enc, &info) != NULL,
			 "\"%s\" made region %llu, which the library cannot map: %s", text, id,
			 strerror(errno));
	}
}

static void do_write(size_t file, const char *text)
{
	char buf[128];
	long long want;
	char *end;
	int r;

	if (!strcmp(files[file].name, "ctl")) {
		do_ctl(text, true);
		return;
	}
	r = ghost_enclave_write_file(enc, files[file].name, text);
	if (r < 0 || files[file].kind == K_SPECIAL)
		return;
	/* An accepted value reads back as written (a flag as 0 or 1). */
	errno = 0;
	want = strtoll(text, &end, 0);
	FZ_CHECK(read_text(files[file].name, buf, sizeof(buf)) > 0, "%s", files[file].name);
	if (files[file].kind == K_BOOL)
		want = want != 0;
	FZ_CHECK(number(buf, files[file].name) == want, "%s accepted \"%s\", reads %s",
		 files[file].name, text, buf);
	check_usable(files[file].kind, want, files[file].name);
}

static void do_read(size_t file, size_t len)
{
	char *buf = malloc(len ? len : 1);

	if (len)
		read_text(files[file].name, buf, len);
	else
		FZ_CHECK(ghost_enclave_read_file(enc, files[file].name, buf, 0) < 0,
			 "%s read into 0 bytes", files[file].name);
	free(buf);
}

/*
 * Puts back what an input changed: the tunables and the CPU list; after any
 * accepted ctl command (a region made, this thread an agent, the enclave
 * destroyed), a new enclave.
 */
static void restore(void)
{
	if (ctl_accepted) {
		int cpu;

		ghost_cpuset_for_each(cpu, ghost_enclave_cpus(enc))
			ghost_enclave_agent_detach(enc, cpu);
		sched_setaffinity(0, sizeof(start_affinity), &start_affinity);
		drop_enclave();
		make_enclave();
	} else {
		for (size_t i = 0; i < NFILES; i++)
			if (files[i].kind != K_SPECIAL)
				ghost_enclave_write_file(enc, files[i].name, defaults[i]);
		ghost_enclave_write_file(enc, "cpulist", cpulist0);
	}
	ctl_accepted = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };

	for (int cmds = 0; fz_left(&in) && cmds < 32; cmds++) {
		uint8_t op = fz_u8(&in);
		size_t file = fz_u8(&in) % NFILES, len;
		const uint8_t *text;
		char *s;

		if (op % 4 == 2) {
			do_read(file, fz_u8(&in));
			continue;
		}
		text = fz_chunk(&in, 0, 300, &len);
		s = fz_strndup(text, len);
		if (op % 4 == 3) {
			/* "name=value" with a name of the input's own (ctl has its own op). */
			char *eq = strchr(s, '=');

			if (eq) {
				*eq = '\0';
				if (strcmp(s, "ctl"))
					ghost_enclave_write_file(enc, s, eq + 1);
			}
		} else if (op % 4 == 1) {
			do_write(file, s);
		} else {
			do_ctl(s, false);
		}
		free(s);
	}
	/* Only "destroy" may end the enclave. */
	if (alive())
		check_enclave();
	else
		FZ_CHECK(ctl_accepted, "the enclave ended without a destroy");
	restore();
	return 0;
}
