/*
 * enclave.c - enclaves as the library presents them, over any backend.
 *
 * Owns creating or attaching through the chosen backend's ops, the
 * process's view of the enclave (CPU set, per-CPU txn pages, status-word
 * region maps, the per-CPU agent table) and the tunables by name. It knows
 * backends only through struct ghost_kernel_ops and never schedules.
 */
#include "backend.h"
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/channel.h>
#include <ghost/status.h>
#include <ghost/thread.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const tunable_names[GHOST_TUNABLE_COUNT] = {
	[GHOST_TUNABLE_DELIVER_TICKS] = "deliver_ticks",
	[GHOST_TUNABLE_DELIVER_CPU_AVAILABILITY] = "deliver_cpu_availability",
	[GHOST_TUNABLE_DELIVER_AGENT_RUNNABILITY] = "deliver_agent_runnability",
	[GHOST_TUNABLE_COMMIT_AT_TICK] = "commit_at_tick",
	[GHOST_TUNABLE_RUNNABLE_TIMEOUT_MS] = "runnable_timeout",
	[GHOST_TUNABLE_WAKE_ON_WAKER_CPU] = "wake_on_waker_cpu",
	[GHOST_TUNABLE_LIVE_DANGEROUSLY] = "live_dangerously",
	[GHOST_TUNABLE_SWITCHTO_DISABLED] = "switchto_disabled",
};

const char *ghost_tunable_name(enum ghost_tunable t)
{
	return (unsigned)t < GHOST_TUNABLE_COUNT ? tunable_names[t] : NULL;
}

static int check_id(uint64_t id)
{
	if (id <= GHOST_ENCLAVE_ID_MAX)
		return 0;
	ghost_err("enclave id %llu is out of range (1 to %llu)", (unsigned long long)id,
		  (unsigned long long)GHOST_ENCLAVE_ID_MAX);
	return -EINVAL;
}

static int pick_kernel(const struct ghost_enclave_opts *opts, const struct ghost_kernel_ops **out)
{
	const struct ghost_kernel_ops *ops;
	char why[256] = "";
	int err;

	err = ghost_kernel_choose(opts->kernel, &ops, why, sizeof(why));
	if (err) {
		ghost_err("%s", why);
		return err;
	}
	err = ghost_kernel_probe(ops, opts->root, why, sizeof(why));
	if (err) {
		ghost_err("kernel backend %s cannot run here: %s", ops->name, why);
		return err;
	}
	*out = ops;
	return 0;
}

static struct ghost_enclave *enclave_new(const struct ghost_kernel_ops *ops)
{
	struct ghost_enclave *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return NULL;
	e->ops = ops;
	pthread_mutex_init(&e->lock, NULL);
	/* A simulator's machine is its own: its topology comes with the enclave. */
	if (ops->caps & GHOST_KCAP_VIRTUAL)
		return e;
	err = ghost_topo_from_machine(&e->topo);
	if (err) {
		ghost_err("cannot read this machine's topology: %s", ghost_strerror(err));
		free(e);
		errno = -err;
		return NULL;
	}
	return e;
}

static void enclave_free(struct ghost_enclave *e)
{
	for (int i = 0; i < GHOST_SW_MAX_REGION_ID; i++)
		if (e->sw_maps[i].hdr)
			e->ops->sw_region_unmap(e->k, e->sw_maps[i].hdr, e->sw_maps[i].size);
	if (e->k)
		e->ops->enclave_close(e->k);
	ghost_topo_free(e->topo);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* Common tail of create and attach: the shared memory and the CPU set. */
static int enclave_finish_open(struct ghost_enclave *e)
{
	int err;

	e->id = e->ops->enclave_id(e->k);
	err = e->ops->cpu_data_map(e->k, &e->cpu_data, &e->ncpu_data);
	if (err) {
		ghost_err("enclave %llu: cannot map its per-CPU data: %s",
			  (unsigned long long)e->id, ghost_strerror(err));
		return err;
	}
	err = e->ops->enclave_cpus(e->k, &e->cpus);
	if (err)
		ghost_err("enclave %llu: cannot read its CPUs: %s", (unsigned long long)e->id,
			  ghost_strerror(err));
	if (!err && !e->topo) {
		/* A simulated machine nobody described: one socket of single-thread cores. */
		struct ghost_topo_desc d = { .sockets = 1,
					     .cores_per_socket = e->ncpu_data,
					     .threads_per_core = 1 };

		err = ghost_topo_synthetic(&d, &e->topo);
	}
	return err;
}

int ghost_enclave_create(const struct ghost_enclave_opts *user_opts, struct ghost_enclave **out)
{
	return ghost_enclave_create_ex(user_opts, NULL, NULL, out);
}

int ghost_enclave_create_ex(const struct ghost_enclave_opts *user_opts, const void *backend_args,
			    struct ghost_topo *topo, struct ghost_enclave **out)
{
	struct ghost_kernel_create_args args = { .sz = sizeof(args) };
	struct ghost_enclave_opts o, *opts = &o;
	const struct ghost_kernel_ops *ops;
	struct ghost_enclave *e;
	int err;

	err = !user_opts || !out ? -EINVAL : ghost_opts_copy(&o, sizeof(o), user_opts);
	if (!err && !o.cpus)
		err = -EINVAL;
	if (!err && ghost_cpuset_empty(opts->cpus)) {
		ghost_err("an enclave needs at least one CPU");
		err = -EINVAL;
	}
	if (!err)
		err = check_id(opts->id);
	if (!err)
		err = pick_kernel(opts, &ops);
	e = err ? NULL : enclave_new(ops);
	if (!e) {
		ghost_topo_free(topo);
		return err ? err : -errno;
	}
	if (topo && !e->topo) {
		e->topo = topo; /* ours from here on, freed with e */
		topo = NULL;
	}
	ghost_topo_free(topo);
	if (e->topo && !ghost_cpuset_is_subset(opts->cpus, ghost_topo_cpus(e->topo))) {
		struct ghost_cpuset extra;
		char list[GHOST_CPUSET_LIST_MAX];

		ghost_cpuset_andnot(&extra, opts->cpus, ghost_topo_cpus(e->topo));
		ghost_cpuset_format_list(&extra, list, sizeof(list));
		ghost_err("CPU %s is not on this machine", list);
		enclave_free(e);
		return -EINVAL;
	}
	args.root = opts->root;
	args.id = opts->id;
	args.cpus = opts->cpus;
	args.abi = GHOST_VERSION;
	args.max_tasks = opts->max_tasks;
	args.flags = opts->ephemeral ? GHOST_KCREATE_EPHEMERAL : 0;
	args.backend_args = backend_args;
	err = ops->enclave_create(&args, &e->k);
	if (err) {
		if (err == -EEXIST)
			ghost_err("enclave %llu already exists", (unsigned long long)opts->id);
		else if (err == -EBUSY)
			ghost_err("some of these CPUs already belong to another enclave");
		e->k = NULL;
		enclave_free(e);
		return err;
	}
	e->created = true;
	err = enclave_finish_open(e);
	if (!err) {
		/* Region 0 holds the status words, as ghost-userspace sets it up. */
		err = ops->sw_region_create(e->k, 0, 0);
		if (err == -EEXIST)
			err = 0;
	}
	if (err) {
		ops->enclave_destroy(e->k);
		enclave_free(e);
		return err;
	}
	*out = e;
	return 0;
}

/* One try at opening enclave opts->id on ops; a missing one is logged if say_missing. */
static int attach_once(const struct ghost_enclave_opts *opts, const struct ghost_kernel_ops *ops,
		       bool say_missing, struct ghost_enclave **out)
{
	struct ghost_enclave *e = enclave_new(ops);
	int err;

	if (!e)
		return -errno;
	err = ops->enclave_attach(opts->root, opts->id, &e->k);
	if (err) {
		if (err == -ENOENT && say_missing)
			ghost_err("no enclave %llu on the %s kernel", (unsigned long long)opts->id,
				  ops->name);
		e->k = NULL;
		enclave_free(e);
		return err;
	}
	err = enclave_finish_open(e);
	if (err) {
		enclave_free(e);
		return err;
	}
	*out = e;
	return 0;
}

/* The checks every attach makes before it asks the backend; opts gets the full copy. */
static int attach_args(const struct ghost_enclave_opts *user_opts, struct ghost_enclave **out,
		       struct ghost_enclave_opts *opts, const struct ghost_kernel_ops **ops)
{
	int err;

	if (!user_opts || !out)
		return -EINVAL;
	err = ghost_opts_copy(opts, sizeof(*opts), user_opts);
	if (err || !opts->id)
		return err ? err : -EINVAL;
	err = check_id(opts->id);
	if (err)
		return err;
	return pick_kernel(opts, ops);
}

int ghost_enclave_attach(const struct ghost_enclave_opts *user_opts, struct ghost_enclave **out)
{
	const struct ghost_kernel_ops *ops;
	struct ghost_enclave_opts opts;
	int err = attach_args(user_opts, out, &opts, &ops);

	return err ? err : attach_once(&opts, ops, true, out);
}

/* Sleeps 20 ms, or until deadline_ns if that is sooner. */
static void nap_until(int64_t deadline_ns)
{
	int64_t left = deadline_ns - ghost_now_ns();
	struct timespec ts;

	if (left <= 0)
		return;
	if (left > 20000000)
		left = 20000000;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)left;
	nanosleep(&ts, NULL);
}

/*
 * What the backend shows of an enclave on its way (its creator has not made
 * the files yet: -ENOENT; or not filled the state in: -EINVAL, -ENODATA) or
 * being destroyed, which an agent may create again (-EXDEV).
 */
static bool attach_transient(int err)
{
	return err == -ENOENT || err == -EINVAL || err == -ENODATA || err == -EXDEV;
}

int ghost_enclave_attach_wait(const struct ghost_enclave_opts *user_opts, int64_t deadline_ns,
			      struct ghost_enclave **out)
{
	const struct ghost_kernel_ops *ops;
	struct ghost_enclave_opts o, *opts = &o;
	int err = attach_args(user_opts, out, &o, &ops);

	if (err)
		return err;
	while ((err = attach_once(opts, ops, false, out)) && attach_transient(err) &&
	       ghost_now_ns() < deadline_ns)
		nap_until(deadline_ns);
	if (err == -ENOENT)
		ghost_err("no enclave %llu on the %s kernel", (unsigned long long)opts->id,
			  ops->name);
	return err;
}

int ghost_enclave_wait_agent(struct ghost_enclave *e, int64_t deadline_ns)
{
	int present;

	if (!e)
		return -EINVAL;
	for (;;) {
		/* A backend that cannot tell is taken to have one; any other error (the
		 * enclave is gone) is no agent, and said. */
		present = e->ops->agent_present(e->k);
		if (present > 0 || present == -EOPNOTSUPP)
			return 0;
		if (present < 0)
			return ghost_enclave_note_gone(e, present);
		if (ghost_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		nap_until(deadline_ns);
	}
}

int ghost_enclave_destroy(struct ghost_enclave *e)
{
	if (!e)
		return -EINVAL;
	return e->ops->enclave_destroy(e->k);
}

void ghost_enclave_close(struct ghost_enclave *e)
{
	if (!e)
		return;
	if (e->online)
		ghost_enclave_agent_offline(e);
	ghost_trace_free(e);
	enclave_free(e);
}

uint64_t ghost_enclave_id(const struct ghost_enclave *e)
{
	return e->id;
}

const struct ghost_cpuset *ghost_enclave_cpus(const struct ghost_enclave *e)
{
	return &e->cpus;
}

const struct ghost_kernel_ops *ghost_enclave_kernel(const struct ghost_enclave *e)
{
	return e->ops;
}

struct ghost_kenclave *ghost_enclave_kernel_handle(const struct ghost_enclave *e)
{
	return e->k;
}

const struct ghost_topo *ghost_enclave_topology(const struct ghost_enclave *e)
{
	return e->topo;
}

int ghost_enclave_agent_attach(struct ghost_enclave *e, int cpu, const struct ghost_channel *q)
{
	if (!e || cpu < 0 || cpu >= GHOST_MAX_CPUS)
		return -EINVAL;
	return e->ops->agent_attach(e->k, cpu, q ? q->qid : -1);
}

void ghost_enclave_agent_detach(struct ghost_enclave *e, int cpu)
{
	if (e && cpu >= 0 && cpu < GHOST_MAX_CPUS)
		e->ops->agent_detach(e->k, cpu);
}

int ghost_enclave_read_file(struct ghost_enclave *e, const char *name, char *buf, size_t len)
{
	if (!e || !name || !buf)
		return -EINVAL;
	return e->ops->file_read(e->k, name, buf, len);
}

int ghost_enclave_write_file(struct ghost_enclave *e, const char *name, const char *text)
{
	int err;

	if (!e || !name || !text)
		return -EINVAL;
	/* Writing the ctl file is a ctl command, parsed in one place. */
	if (!strcmp(name, "ctl"))
		return ghost_enclave_ctl(e, text);
	err = e->ops->file_write(e->k, name, text);
	if (!err && (!strcmp(name, "cpulist") || !strcmp(name, "cpumask")))
		e->ops->enclave_cpus(e->k, &e->cpus);
	return err;
}

int ghost_enclave_set_cpus(struct ghost_enclave *e, const struct ghost_cpuset *cpus)
{
	int err;

	if (!e || !cpus)
		return -EINVAL;
	err = e->ops->enclave_set_cpus(e->k, cpus);
	if (!err)
		err = e->ops->enclave_cpus(e->k, &e->cpus);
	return err;
}

/*
 * A number of a ctl command: decimal digits (a '-' first only where lo < 0), in [lo, hi].
 * Never wrapped: "-1" is not 4294967295.
 */
static int ctl_number(const char *word, long long lo, long long hi, long long *v)
{
	const char *d = word[0] == '-' && lo < 0 ? word + 1 : word;
	char *end;

	if (*d < '0' || *d > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoll(word, &end, 10);
	return errno || *end || *v < lo || *v > hi ? -EINVAL : 0;
}

/*
 * The ctl commands every backend has, parsed here once and carried out
 * through the typed ops; anything else goes to the backend's own ctl.
 */
int ghost_enclave_ctl(struct ghost_enclave *e, const char *cmd)
{
	char buf[GHOST_CTL_MAX], *w[5], *save = NULL;
	long long a, b;
	size_t n;
	int nw = 0;

	if (!e || !cmd)
		return -EINVAL;
	n = strlen(cmd);
	if (n >= sizeof(buf))
		return -E2BIG;
	memcpy(buf, cmd, n + 1);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0; /* ghostfs strips one trailing newline */
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (nw == (int)GHOST_ARRAY_SIZE(w))
			return -EINVAL;
		w[nw++] = t;
	}
	if (nw == 1 && !strcmp(w[0], "destroy"))
		return e->ops->enclave_destroy(e->k);
	if (nw == 2 && !strcmp(w[0], "discover") && !strcmp(w[1], "tasks"))
		return e->ops->caps & GHOST_KCAP_DISCOVERY ? e->ops->discover_tasks(e->k)
							   : -EOPNOTSUPP;
	if (nw == 4 && !strcmp(w[0], "become") && !strcmp(w[1], "agent")) {
		/* The calling thread becomes cpu's agent, as in ghostfs (queue -1: the default). */
		if (ctl_number(w[2], 0, GHOST_MAX_CPUS - 1, &a) ||
		    ctl_number(w[3], -1, INT_MAX, &b))
			return -EINVAL;
		return e->ops->agent_attach(e->k, (int)a, (int)b);
	}
	if (nw == 4 && !strcmp(w[0], "create") && !strcmp(w[1], "sw_region")) {
		if (ctl_number(w[2], 0, GHOST_SW_REGION_ID_MAX, &a) ||
		    ctl_number(w[3], 0, GHOST_NUMA_NODE_MAX, &b))
			return -EINVAL;
		return e->ops->sw_region_create(e->k, (uint32_t)a, (uint32_t)b);
	}
	return e->ops->ctl ? e->ops->ctl(e->k, cmd) : -EINVAL;
}

int ghost_enclave_exit_state(struct ghost_enclave *e, char *why, size_t why_len)
{
	struct ghost_kexit ex = { .ended = false };
	int err;

	if (!e || (!why && why_len))
		return -EINVAL;
	if (why_len)
		why[0] = 0;
	if (!(e->ops->caps & GHOST_KCAP_SELF_EXIT))
		return 0;
	err = e->ops->exit_state(e->k, &ex);
	if (err)
		return err;
	if (ex.ended && why_len) {
		ex.why[sizeof(ex.why) - 1] = 0;
		snprintf(why, why_len, "%s", ex.why);
	}
	return ex.ended ? 1 : 0;
}

int ghost_enclave_set_tunable(struct ghost_enclave *e, enum ghost_tunable t, long long value)
{
	char buf[32];

	if (!e || !ghost_tunable_name(t))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%lld", value);
	return e->ops->file_write(e->k, ghost_tunable_name(t), buf);
}

int ghost_enclave_get_tunable(struct ghost_enclave *e, enum ghost_tunable t, long long *value)
{
	char buf[64], *end;
	int n;

	if (!e || !value || !ghost_tunable_name(t))
		return -EINVAL;
	n = e->ops->file_read(e->k, ghost_tunable_name(t), buf, sizeof(buf));
	if (n < 0)
		return n;
	errno = 0;
	*value = strtoll(buf, &end, 10);
	return errno || end == buf ? -EIO : 0;
}

int ghost_enclave_agent_online(struct ghost_enclave *e)
{
	int err;

	if (!e)
		return -EINVAL;
	if (e->online)
		return 0;
	err = e->ops->agent_online(e->k);
	if (err == 0)
		e->online = true;
	return err;
}

void ghost_enclave_agent_offline(struct ghost_enclave *e)
{
	if (e && e->online) {
		e->ops->agent_offline(e->k);
		e->online = false;
	}
}

struct ghost_txn *ghost_enclave_txn(struct ghost_enclave *e, int cpu)
{
	if (!e || cpu < 0 || cpu >= e->ncpu_data || !ghost_cpuset_test(&e->cpus, cpu))
		return NULL;
	return &e->cpu_data[cpu].txn;
}

struct ghost_agent *ghost_enclave_agent(struct ghost_enclave *e, int cpu)
{
	if (!e || cpu < 0 || cpu >= GHOST_MAX_CPUS)
		return NULL;
	return __atomic_load_n(&e->agents[cpu], __ATOMIC_ACQUIRE);
}
