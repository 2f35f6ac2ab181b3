/*
 * tools/ghost-trace.c - reads the trace an agent recorded (ghost-agent
 * --trace, include/ghost/trace.h) and turns it into something to look at:
 * a Chrome/Perfetto trace-event JSON timeline (export), a self-contained
 * HTML timeline (html; its page is tools/timeline/timeline.html), latency, utilisation
 * and txn-outcome summaries (stats), or one line per record (dump).
 *
 * Owns the command line and the reconstruction of what ran where: the file
 * holds messages and txn outcomes, and the on-CPU periods are derived from
 * them by one set of rules (on_cpu_* below) that export, html and stats share.
 * The file is checked by the library's reader before anything here looks
 * at it. Exit status: 0 success, 1 a file that cannot be read or is no
 * valid trace, or an output that cannot be written (one line says why),
 * 2 bad usage.
 */
#include <ghost/ghost.h>

#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: ghost-trace export FILE [--format chrome] -o OUT\n"
	"       ghost-trace html FILE -o OUT.html\n"
	"       ghost-trace stats FILE [--json]\n"
	"       ghost-trace dump FILE\n"
	"\n"
	"Reads a trace written by ghost-agent --trace FILE: every message the agents\n"
	"consumed and every txn they committed, with its outcome.\n"
	"\n"
	"commands:\n"
	"  export FILE -o OUT  the trace as Chrome/Perfetto trace-event JSON (open it in\n"
	"                      ui.perfetto.dev or chrome://tracing): a track per CPU with\n"
	"                      a slice per on-CPU period of a task, named by its gtid and\n"
	"                      thread id; a flow from each wake-up (TASK_WAKEUP, or a\n"
	"                      runnable TASK_NEW) to the run it caused; an instant event\n"
	"                      per failed txn, named by its failure; counters of the\n"
	"                      runnable tasks and of the commits per second; a track per\n"
	"                      agent with the messages it consumed. OUT - is stdout\n"
	"  html FILE -o OUT    the trace as one self-contained HTML page (the data, script\n"
	"                      and style inline: it opens in any browser, offline): a\n"
	"                      lane per CPU with a box per on-CPU period, coloured by\n"
	"                      task; wheel or buttons zoom, dragging pans; hovering a box\n"
	"                      shows the task, the txn that put it there and its messages\n"
	"                      around that time; failed txns are red marks; a summary\n"
	"                      and a legend of the tasks on top. OUT#from=US&to=US opens\n"
	"                      it on that span (microseconds from the trace's start)\n"
	"  stats FILE          per task, the wake-up-to-run latency (count, p50, p90,\n"
	"                      p99, max) and a histogram of every task's; per CPU, the\n"
	"                      share of the trace it ran tasks; txn outcomes by reason;\n"
	"                      messages by type\n"
	"  dump FILE           the header, then one line per record\n"
	"\n"
	"options:\n"
	"  --format chrome     the export format (the only one, and the default)\n"
	"  -o, --output OUT    where export and html write\n"
	"  --json              stats as one JSON object\n"
	"  -h, --help          this text\n"
	"\n"
	"on-CPU periods: a task goes on a CPU with the txn that committed it there\n"
	"  (its kernel commit time) and leaves it with the first of: its BLOCKED,\n"
	"  YIELD, PREEMPT, DEAD or DEPARTED message (when the agent read it), another\n"
	"  successful txn on that CPU, a successful txn of the task on another CPU,\n"
	"  the end of the trace. A txn that commits the task already on that CPU goes\n"
	"  on with its period. Wake-up-to-run latency: from the agent reading the\n"
	"  wake-up to the txn that put the task on a CPU.\n"
	"\n"
	"exit status: 0 success; 1 the file cannot be read or is no valid trace\n"
	"  (truncated, foreign, another version), or OUT cannot be written; 2 bad usage.\n";

/* ---- what the trace says ran where ---- */

enum task_state { T_UNKNOWN, T_RUNNABLE, T_ONCPU, T_BLOCKED };

struct task {
	int64_t gtid; /* 0: a free slot */
	enum task_state state;
	int cpu;	    /* T_ONCPU: where */
	int64_t wake_ns;    /* > 0: a wake-up waits for its run */
	uint64_t wake_flow; /* its flow id (export) */
	uint64_t *lat;	    /* wake-up-to-run latencies, ns */
	size_t nlat, cap_lat;
	uint64_t oncpu_ns; /* the total of its periods */
	uint64_t periods;
};

struct tasks {
	struct task *slot;
	size_t cap, count; /* cap: a power of two */
};

static size_t task_hash(int64_t gtid)
{
	return (size_t)ghost_gtid_to_tid(gtid) * 31 + (size_t)gtid;
}

/* A known task, or NULL. */
static struct task *task_find(const struct tasks *ts, int64_t gtid)
{
	if (!ts->cap)
		return NULL;
	for (size_t j = task_hash(gtid) & (ts->cap - 1); ts->slot[j].gtid;
	     j = (j + 1) & (ts->cap - 1))
		if (ts->slot[j].gtid == gtid)
			return &ts->slot[j];
	return NULL;
}

/* The task, made known if it is not (which may move every task: hold no pointer across it). */
static struct task *task_get(struct tasks *ts, int64_t gtid)
{
	struct task *t = task_find(ts, gtid);

	if (t)
		return t;
	if ((ts->count + 1) * 2 > ts->cap) {
		struct tasks bigger = { .cap = ts->cap ? ts->cap * 2 : 64 };

		bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
		if (!bigger.slot)
			tool_fatal("out of memory");
		for (size_t i = 0; i < ts->cap; i++) {
			if (!ts->slot[i].gtid)
				continue;
			size_t j = task_hash(ts->slot[i].gtid);

			for (j &= bigger.cap - 1; bigger.slot[j].gtid;
			     j = (j + 1) & (bigger.cap - 1))
				;
			bigger.slot[j] = ts->slot[i];
		}
		bigger.count = ts->count;
		free(ts->slot);
		*ts = bigger;
	}
	size_t j = task_hash(gtid) & (ts->cap - 1);

	while (ts->slot[j].gtid)
		j = (j + 1) & (ts->cap - 1);
	ts->slot[j] = (struct task){ .gtid = gtid, .cpu = -1 };
	ts->count++;
	return &ts->slot[j];
}

/* What the walk hands its user: a period ended, a wake-up caused a run... */
struct walk_ops {
	void (*period)(void *ctx, int cpu, const struct task *t, int64_t start, int64_t end,
		       uint64_t flow, const struct ghost_trace_record *txn);
	void (*failed)(void *ctx, const struct ghost_trace_record *r);
	void (*runnable)(void *ctx, int64_t ns, uint32_t n);
	void (*wakeup)(void *ctx, const struct ghost_trace_record *r, uint64_t flow);
};

struct cpu_now {
	int64_t gtid; /* 0: no task (as far as the trace says) */
	int64_t since;
	uint64_t flow;			      /* the wake-up that led here, 0 none */
	const struct ghost_trace_record *txn; /* the txn that put it here */
};

struct walk {
	const struct ghost_trace_view *v;
	struct tasks tasks;
	struct cpu_now cpu[GHOST_MAX_CPUS];
	uint32_t runnable;
	uint64_t periods;
	uint64_t flows;
	const struct walk_ops *ops;
	void *ctx;
};

static void set_state(struct walk *w, struct task *t, enum task_state s, int64_t ns)
{
	uint32_t before = w->runnable;

	if (t->state == T_RUNNABLE)
		w->runnable--;
	if (s == T_RUNNABLE)
		w->runnable++;
	t->state = s;
	if (before != w->runnable && w->ops->runnable)
		w->ops->runnable(w->ctx, ns, w->runnable);
}

/* cpu's period ends at ns (if it has one). */
static void on_cpu_end(struct walk *w, int cpu, int64_t ns)
{
	struct cpu_now *c = &w->cpu[cpu];
	struct task *t = c->gtid ? task_find(&w->tasks, c->gtid) : NULL;

	c->gtid = 0;
	if (!t)
		return;
	t->oncpu_ns += (uint64_t)(ns - c->since);
	t->periods++;
	w->periods++;
	if (w->ops->period)
		w->ops->period(w->ctx, cpu, t, c->since, ns, c->flow, c->txn);
	if (t->cpu == cpu)
		t->cpu = -1;
}

/* Task t left its CPU (a message said so) and is now in state s. */
static void on_cpu_leave(struct walk *w, struct task *t, enum task_state s, int64_t ns)
{
	if (t->cpu >= 0 && w->cpu[t->cpu].gtid == t->gtid)
		on_cpu_end(w, t->cpu, ns);
	set_state(w, t, s, ns);
}

/* A successful txn r: its gtid (a task, or a special gtid) runs on its CPU from its time. */
static void on_cpu_commit(struct walk *w, const struct ghost_trace_record *r)
{
	int cpu = r->cpu;
	int64_t gtid = r->gtid, ns = r->time_ns;
	struct cpu_now *c = &w->cpu[cpu];
	struct task *t;

	if (gtid <= 0) { /* NULL, IDLE or AGENT: no task runs there any more */
		on_cpu_end(w, cpu, ns);
		return;
	}
	if (c->gtid == gtid)
		return; /* already there: its period goes on */
	t = task_get(&w->tasks, gtid);
	if (t->cpu >= 0 && w->cpu[t->cpu].gtid == gtid)
		on_cpu_end(w, t->cpu, ns); /* a task is on one CPU at a time */
	on_cpu_end(w, cpu, ns);
	c->gtid = gtid;
	c->since = ns;
	c->flow = 0;
	c->txn = r;
	if (t->wake_ns > 0) {
		uint64_t lat = (uint64_t)(ns - t->wake_ns);

		if (t->nlat == t->cap_lat) {
			t->cap_lat = t->cap_lat ? t->cap_lat * 2 : 16;
			t->lat = realloc(t->lat, t->cap_lat * sizeof(*t->lat));
			if (!t->lat)
				tool_fatal("out of memory");
		}
		t->lat[t->nlat++] = lat;
		c->flow = t->wake_flow;
		t->wake_ns = 0;
	}
	t->cpu = cpu;
	set_state(w, t, T_ONCPU, ns);
}

static void walk_msg(struct walk *w, const struct ghost_trace_record *r)
{
	struct task *t;

	/* Refused messages (stale, unknown task, malformed) changed nothing. */
	if (r->value != 0 || !ghost_msg_is_task(r->type) || r->gtid <= 0)
		return;
	t = task_get(&w->tasks, r->gtid);
	switch (r->type) {
	case MSG_TASK_NEW:
		if (!(r->flags & GHOST_TRACE_F_RUNNABLE)) {
			set_state(w, t, T_BLOCKED, r->time_ns);
			break;
		}
		/* A runnable new task waits as a woken one does. */
		__attribute__((fallthrough));
	case MSG_TASK_WAKEUP:
		t->wake_ns = r->time_ns;
		t->wake_flow = ++w->flows;
		if (w->ops->wakeup)
			w->ops->wakeup(w->ctx, r, t->wake_flow);
		set_state(w, t, T_RUNNABLE, r->time_ns);
		break;
	case MSG_TASK_PREEMPT:
	case MSG_TASK_YIELD:
		on_cpu_leave(w, t, T_RUNNABLE, r->time_ns);
		break;
	case MSG_TASK_BLOCKED:
		t->wake_ns = 0;
		on_cpu_leave(w, t, T_BLOCKED, r->time_ns);
		break;
	case MSG_TASK_DEAD:
	case MSG_TASK_DEPARTED:
		t->wake_ns = 0;
		on_cpu_leave(w, t, T_UNKNOWN, r->time_ns);
		break;
	default:
		break;
	}
}

static void walk_run(struct walk *w)
{
	const struct ghost_trace_view *v = w->v;

	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];

		if (r->kind == GHOST_TRACE_MSG) {
			walk_msg(w, r);
		} else if (r->cpu < 0) {
			continue; /* a txn of no CPU: nothing to place */
		} else if (r->value == GHOST_TXN_COMPLETE) {
			on_cpu_commit(w, r);
		} else if (w->ops->failed) {
			w->ops->failed(w->ctx, r);
		}
	}
	for (int cpu = 0; cpu < GHOST_MAX_CPUS; cpu++)
		on_cpu_end(w, cpu, v->hdr.end_ns);
}

static void walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->tasks.cap; i++)
		free(w->tasks.slot[i].lat);
	free(w->tasks.slot);
}

static bool in_trace_cpus(const struct ghost_trace_header *h, int cpu)
{
	return cpu >= 0 && cpu < GHOST_MAX_CPUS && (h->cpus[cpu / 64] >> (cpu % 64)) & 1;
}

/* ---- export: Chrome/Perfetto trace-event JSON ---- */

/* Agents' message tracks: thread ids after every CPU's. */
#define AGENT_TID_BASE 100000
#define OTHER_TID      (AGENT_TID_BASE + GHOST_MAX_CPUS)
/* How long a message's slice on its agent track lasts at most (it has no length). */
#define MSG_SLICE_NS   1000

struct export
{
	FILE *out;
	const struct ghost_trace_view *v;
	int64_t base; /* ns at ts 0 */
	uint64_t pid;
	int64_t *msg_dur; /* per record: its slice's length (messages) */
	bool first;
	/* commits per second */
	int64_t bucket_start;
	uint64_t bucket_ok, bucket_failed;
};

/* ts in microseconds with nanosecond digits, from the trace's start. */
static void put_us(FILE *f, int64_t ns)
{
	fprintf(f, "%" PRId64 ".%03" PRId64, ns / 1000, ns % 1000);
}

static void ev_begin(struct export *x)
{
	fputs(x->first ? "\n" : ",\n", x->out);
	x->first = false;
}

static void ev_ts(struct export *x, int64_t ns)
{
	fputs("\"ts\":", x->out);
	put_us(x->out, ns - x->base);
}

static void x_period(void *ctx, int cpu, const struct task *t, int64_t start, int64_t end,
		     uint64_t flow, const struct ghost_trace_record *txn)
{
	struct export *x = ctx;
	int64_t tid = ghost_gtid_to_tid(t->gtid);

	(void)txn;
	ev_begin(x);
	fprintf(x->out,
		"{\"ph\":\"X\",\"cat\":\"oncpu\",\"name\":\"gtid %" PRId64 " (tid %" PRId64
		")\",\"pid\":%" PRIu64 ",\"tid\":%d,",
		t->gtid, tid, x->pid, cpu);
	ev_ts(x, start);
	fputs(",\"dur\":", x->out);
	put_us(x->out, end - start);
	fprintf(x->out, ",\"args\":{\"gtid\":%" PRId64 ",\"tid\":%" PRId64 "}}", t->gtid, tid);
	if (flow) {
		/* Bound to this slice: inside it (bp "e", the enclosing slice). */
		ev_begin(x);
		fprintf(x->out,
			"{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"wakeup\",\"name\":\"wakeup\",\"id\":%" PRIu64
			",\"pid\":%" PRIu64 ",\"tid\":%d,",
			flow, x->pid, cpu);
		ev_ts(x, start + (end - start >= 2 ? 1 : 0));
		fputs("}", x->out);
	}
}

static int msg_tid(const struct ghost_trace_record *r)
{
	return r->agent_cpu >= 0 ? AGENT_TID_BASE + r->agent_cpu : OTHER_TID;
}

static void x_wakeup(void *ctx, const struct ghost_trace_record *r, uint64_t flow)
{
	struct export *x = ctx;
	int64_t dur = x->msg_dur[r - x->v->records];

	/* Inside the wake-up's own slice on its agent's track. */
	ev_begin(x);
	fprintf(x->out,
		"{\"ph\":\"s\",\"cat\":\"wakeup\",\"name\":\"wakeup\",\"id\":%" PRIu64
		",\"pid\":%" PRIu64 ",\"tid\":%d,",
		flow, x->pid, msg_tid(r));
	ev_ts(x, r->time_ns + dur / 2);
	fputs("}", x->out);
}

static void x_failed(void *ctx, const struct ghost_trace_record *r)
{
	struct export *x = ctx;

	ev_begin(x);
	fprintf(x->out,
		"{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"txn\",\"name\":\"%s\",\"pid\":%" PRIu64
		",\"tid\":%d,",
		ghost_txn_reason(r->value), x->pid, r->cpu);
	ev_ts(x, r->time_ns);
	fprintf(x->out, ",\"args\":{\"gtid\":%" PRId64 ",\"barrier\":%u,\"agent_cpu\":%d}}",
		r->gtid, r->seqnum, r->agent_cpu);
}

static void x_runnable(void *ctx, int64_t ns, uint32_t n)
{
	struct export *x = ctx;

	ev_begin(x);
	fprintf(x->out, "{\"ph\":\"C\",\"name\":\"runnable tasks\",\"pid\":%" PRIu64 ",", x->pid);
	ev_ts(x, ns);
	fprintf(x->out, ",\"args\":{\"runnable\":%u}}", n);
}

/* The counter of the commits per second: one value per second of the trace. */
static void x_commits(struct export *x, int64_t ns, bool last)
{
	while (last ? x->bucket_ok + x->bucket_failed > 0 : ns >= x->bucket_start + 1000000000) {
		int64_t len = last ? ns - x->bucket_start : 1000000000;
		double s = len > 0 ? (double)len / 1e9 : 1.0;

		ev_begin(x);
		fprintf(x->out,
			"{\"ph\":\"C\",\"name\":\"commits per second\",\"pid\":%" PRIu64 ",",
			x->pid);
		ev_ts(x, x->bucket_start);
		fprintf(x->out, ",\"args\":{\"ok\":%.1f,\"failed\":%.1f}}",
			(double)x->bucket_ok / s, (double)x->bucket_failed / s);
		x->bucket_start += 1000000000;
		x->bucket_ok = x->bucket_failed = 0;
		if (last)
			break;
	}
}

static void x_meta(struct export *x, const char *what, int tid, const char *name, int sort)
{
	ev_begin(x);
	if (tid < 0)
		fprintf(x->out,
			"{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%" PRIu64
			",\"args\":{\"name\":\"%s\"}}",
			what, x->pid, name);
	else
		fprintf(x->out,
			"{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%" PRIu64
			",\"tid\":%d,\"args\":{\"name\":\"%s\"}}",
			what, x->pid, tid, name);
	if (tid >= 0) {
		ev_begin(x);
		fprintf(x->out,
			"{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%" PRIu64
			",\"tid\":%d,\"args\":{\"sort_index\":%d}}",
			x->pid, tid, sort);
	}
}

/* Each message's slice: up to MSG_SLICE_NS, never into the next one of its track. */
static int64_t *message_durations(const struct ghost_trace_view *v)
{
	int64_t *dur = calloc(v->nrecords ? v->nrecords : 1, sizeof(*dur));
	size_t *last = malloc((GHOST_MAX_CPUS + 1) * sizeof(*last));

	if (!dur || !last)
		tool_fatal("out of memory");
	for (int i = 0; i <= GHOST_MAX_CPUS; i++)
		last[i] = SIZE_MAX;
	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];
		int track = r->agent_cpu >= 0 ? r->agent_cpu : GHOST_MAX_CPUS;
		int64_t room = v->hdr.end_ns - r->time_ns;

		if (r->kind != GHOST_TRACE_MSG)
			continue;
		dur[i] = room < MSG_SLICE_NS ? room : MSG_SLICE_NS;
		if (last[track] != SIZE_MAX) {
			int64_t gap = r->time_ns - v->records[last[track]].time_ns;

			if (gap < dur[last[track]])
				dur[last[track]] = gap;
		}
		last[track] = i;
	}
	free(last);
	return dur;
}

static int cmd_export(const struct ghost_trace_view *v, const char *path)
{
	/*
	 * The enclave is the process of every track; viewers read a pid as an unsigned 32-bit
	 * number (Perfetto's importer drops a larger one), and enclave ids go to 2^40: a
	 * larger id is shown as process 0, its name still says which enclave.
	 */
	struct export x = { .v = v,
			    .base = v->hdr.start_ns,
			    .pid = v->hdr.enclave_id <= UINT32_MAX ? v->hdr.enclave_id : 0,
			    .first = true };
	struct walk w = { .v = v, .ctx = &x };
	static const struct walk_ops ops = {
		.period = x_period, .failed = x_failed, .runnable = x_runnable, .wakeup = x_wakeup
	};
	bool agents[GHOST_MAX_CPUS + 1] = { false };
	char name[64];
	int cpu;

	w.ops = &ops;
	x.out = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!x.out) {
		tool_error("cannot write %s: %s", path, strerror(errno));
		return TOOL_EXIT_FAILURE;
	}
	x.msg_dur = message_durations(v);
	x.bucket_start = v->hdr.start_ns;
	fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{", x.out);
	fprintf(x.out,
		"\"enclave\":%" PRIu64 ",\"records\":%" PRIu64 ",\"dropped\":%" PRIu64
		",\"complete_from_us\":",
		v->hdr.enclave_id, v->hdr.nrecords, v->hdr.dropped);
	put_us(x.out, v->hdr.complete_ns - x.base);
	fputs("},\"traceEvents\":[", x.out);
	snprintf(name, sizeof(name), "enclave %" PRIu64, v->hdr.enclave_id);
	x_meta(&x, "process_name", -1, name, 0);
	for (cpu = 0; cpu < GHOST_MAX_CPUS; cpu++) {
		if (!in_trace_cpus(&v->hdr, cpu))
			continue;
		snprintf(name, sizeof(name), "CPU %d", cpu);
		x_meta(&x, "thread_name", cpu, name, cpu);
	}
	/* The messages, each a short slice on the track of the agent that read it. */
	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];

		if (r->kind != GHOST_TRACE_MSG)
			continue;
		agents[r->agent_cpu >= 0 ? r->agent_cpu : GHOST_MAX_CPUS] = true;
		ev_begin(&x);
		fprintf(x.out,
			"{\"ph\":\"X\",\"cat\":\"msg\",\"name\":\"%s\",\"pid\":%" PRIu64
			",\"tid\":%d,",
			ghost_msg_type_name(r->type), x.pid, msg_tid(r));
		ev_ts(&x, r->time_ns);
		fputs(",\"dur\":", x.out);
		put_us(x.out, x.msg_dur[i]);
		fprintf(x.out,
			",\"args\":{\"gtid\":%" PRId64 ",\"seqnum\":%u,\"cpu\":%d,\"result\":%d}}",
			r->gtid, r->seqnum, r->cpu, r->value);
	}
	for (int a = 0; a <= GHOST_MAX_CPUS; a++) {
		if (!agents[a])
			continue;
		if (a < GHOST_MAX_CPUS)
			snprintf(name, sizeof(name), "agent of CPU %d: messages", a);
		else
			snprintf(name, sizeof(name), "other threads: messages");
		x_meta(&x, "thread_name", AGENT_TID_BASE + a, name, GHOST_MAX_CPUS + a);
	}
	walk_run(&w);
	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];

		if (r->kind != GHOST_TRACE_TXN)
			continue;
		x_commits(&x, r->time_ns, false);
		if (r->value == GHOST_TXN_COMPLETE)
			x.bucket_ok++;
		else
			x.bucket_failed++;
	}
	x_commits(&x, v->hdr.end_ns, true);
	fputs("\n]}\n", x.out);
	walk_free(&w);
	free(x.msg_dur);
	if ((x.out != stdout && fclose(x.out)) || (x.out == stdout && fflush(stdout))) {
		tool_error("cannot write %s: %s", path, strerror(errno));
		return TOOL_EXIT_FAILURE;
	}
	return 0;
}

/* ---- stats ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile p of n sorted values. */
static uint64_t pct(const uint64_t *v, size_t n, int p)
{
	size_t rank = (n * (size_t)p + 99) / 100;

	return n ? v[rank ? rank - 1 : 0] : 0;
}

struct stats {
	uint64_t cpu_ns[GHOST_MAX_CPUS];
};

static void s_period(void *ctx, int cpu, const struct task *t, int64_t start, int64_t end,
		     uint64_t flow, const struct ghost_trace_record *txn)
{
	struct stats *s = ctx;

	(void)t;
	(void)flow;
	(void)txn;
	s->cpu_ns[cpu] += (uint64_t)(end - start);
}

#define HIST_BUCKETS 24 /* < 1 us, then powers of two up to 2^22 us (4 s) and more */

static int hist_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	int b = 0;

	while (us && b < HIST_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

/* A bucket's lower edge in us: 0, 1, 2, 4... */
static uint64_t hist_edge(int b)
{
	return b ? 1ULL << (b - 1) : 0;
}

static int cmd_stats(const struct ghost_trace_view *v, bool json)
{
	static const struct walk_ops ops = { .period = s_period };
	struct stats s = { { 0 } };
	struct walk w = { .v = v, .ops = &ops, .ctx = &s };
	uint64_t msgs[256] = { 0 }, txn[17] = { 0 }, hist[HIST_BUCKETS] = { 0 }, nmsgs = 0;
	uint64_t *all = NULL, ntxn = 0;
	size_t nall = 0;
	int64_t span = v->hdr.end_ns - v->hdr.start_ns;
	bool first;

	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];

		if (r->kind == GHOST_TRACE_MSG) {
			msgs[r->type & 255]++;
			nmsgs++;
		} else {
			uint32_t reason = (uint32_t)(r->value - GHOST_TXN_COMPLETE);

			txn[reason < 16 ? reason : 16]++;
			ntxn++;
		}
	}
	walk_run(&w);
	for (size_t i = 0; i < w.tasks.cap; i++) {
		struct task *t = &w.tasks.slot[i];

		if (!t->gtid || !t->nlat)
			continue;
		qsort(t->lat, t->nlat, sizeof(*t->lat), cmp_u64);
		all = realloc(all, (nall + t->nlat) * sizeof(*all));
		if (!all)
			tool_fatal("out of memory");
		memcpy(all + nall, t->lat, t->nlat * sizeof(*all));
		nall += t->nlat;
	}
	if (nall)
		qsort(all, nall, sizeof(*all), cmp_u64);
	for (size_t i = 0; i < nall; i++)
		hist[hist_bucket(all[i])]++;

	if (json) {
		printf("{\"enclave\":%" PRIu64 ",\"records\":%" PRIu64 ",\"dropped\":%" PRIu64
		       ",\"span_ns\":%" PRId64 ",\"messages\":%" PRIu64 ",\"txns\":%" PRIu64
		       ",\"oncpu_periods\":%" PRIu64 ",",
		       v->hdr.enclave_id, v->hdr.nrecords, v->hdr.dropped, span, nmsgs, ntxn,
		       w.periods);
		printf("\"latency_ns\":{\"count\":%zu,\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
		       ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "},",
		       nall, pct(all, nall, 50), pct(all, nall, 90), pct(all, nall, 99),
		       nall ? all[nall - 1] : 0);
		printf("\"histogram_us\":[");
		first = true;
		for (int b = 0; b < HIST_BUCKETS; b++) {
			if (!hist[b])
				continue;
			printf("%s{\"from\":%" PRIu64 ",\"count\":%" PRIu64 "}", first ? "" : ",",
			       hist_edge(b), hist[b]);
			first = false;
		}
		printf("],\"tasks\":[");
		first = true;
		for (size_t i = 0; i < w.tasks.cap; i++) {
			struct task *t = &w.tasks.slot[i];

			if (!t->gtid)
				continue;
			printf("%s{\"gtid\":%" PRId64 ",\"tid\":%" PRId64 ",\"periods\":%" PRIu64
			       ",\"oncpu_ns\":%" PRIu64 ",\"wakeups_run\":%zu,\"p50\":%" PRIu64
			       ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "}",
			       first ? "" : ",", t->gtid, ghost_gtid_to_tid(t->gtid), t->periods,
			       t->oncpu_ns, t->nlat, pct(t->lat, t->nlat, 50),
			       pct(t->lat, t->nlat, 90), pct(t->lat, t->nlat, 99),
			       t->nlat ? t->lat[t->nlat - 1] : 0);
			first = false;
		}
		printf("],\"cpus\":[");
		first = true;
		for (int cpu = 0; cpu < GHOST_MAX_CPUS; cpu++) {
			if (!in_trace_cpus(&v->hdr, cpu))
				continue;
			printf("%s{\"cpu\":%d,\"oncpu_ns\":%" PRIu64 ",\"utilisation\":%.4f}",
			       first ? "" : ",", cpu, s.cpu_ns[cpu],
			       span > 0 ? (double)s.cpu_ns[cpu] / (double)span : 0.0);
			first = false;
		}
		printf("],\"txn_outcomes\":{");
		first = true;
		for (int i = 0; i <= 16; i++) {
			if (!txn[i])
				continue;
			printf("%s\"%s\":%" PRIu64, first ? "" : ",",
			       i < 16 ? ghost_txn_reason(GHOST_TXN_COMPLETE + i) : "UNKNOWN",
			       txn[i]);
			first = false;
		}
		printf("},\"messages_by_type\":{");
		first = true;
		for (int i = 0; i < 256; i++) {
			if (!msgs[i])
				continue;
			printf("%s\"%s\":%" PRIu64, first ? "" : ",",
			       ghost_msg_type_name((uint16_t)i), msgs[i]);
			first = false;
		}
		printf("}}\n");
	} else {
		printf("enclave %" PRIu64 ": %" PRIu64 " records (%" PRIu64
		       " dropped) over %.6f s: %" PRIu64 " messages, %" PRIu64 " txns, %" PRIu64
		       " on-CPU periods\n",
		       v->hdr.enclave_id, v->hdr.nrecords, v->hdr.dropped, (double)span / 1e9,
		       nmsgs, ntxn, w.periods);
		printf("wake-up to run, us: %zu runs, p50 %.1f p90 %.1f p99 %.1f max %.1f\n", nall,
		       (double)pct(all, nall, 50) / 1e3, (double)pct(all, nall, 90) / 1e3,
		       (double)pct(all, nall, 99) / 1e3, nall ? (double)all[nall - 1] / 1e3 : 0.0);
		for (int b = 0; b < HIST_BUCKETS; b++) {
			if (!hist[b])
				continue;
			printf("  >= %8" PRIu64 " us  %10" PRIu64 "  ", hist_edge(b), hist[b]);
			for (uint64_t n = 0; n < (hist[b] * 50 + nall - 1) / nall; n++)
				putchar('#');
			putchar('\n');
		}
		printf("tasks:\n");
		for (size_t i = 0; i < w.tasks.cap; i++) {
			struct task *t = &w.tasks.slot[i];

			if (!t->gtid)
				continue;
			printf("  gtid %" PRId64 " (tid %" PRId64 "): %" PRIu64
			       " periods, on CPU %.6f s; wake-up to run, us: %zu runs, p50 %.1f "
			       "p90 %.1f p99 %.1f max %.1f\n",
			       t->gtid, ghost_gtid_to_tid(t->gtid), t->periods,
			       (double)t->oncpu_ns / 1e9, t->nlat,
			       (double)pct(t->lat, t->nlat, 50) / 1e3,
			       (double)pct(t->lat, t->nlat, 90) / 1e3,
			       (double)pct(t->lat, t->nlat, 99) / 1e3,
			       t->nlat ? (double)t->lat[t->nlat - 1] / 1e3 : 0.0);
		}
		printf("cpus:\n");
		for (int cpu = 0; cpu < GHOST_MAX_CPUS; cpu++)
			if (in_trace_cpus(&v->hdr, cpu))
				printf("  CPU %d: ran tasks %.1f%% of the trace\n", cpu,
				       span > 0 ? 100.0 * (double)s.cpu_ns[cpu] / (double)span
						: 0.0);
		printf("txn outcomes:");
		for (int i = 0; i <= 16; i++)
			if (txn[i])
				printf(" %s %" PRIu64,
				       i < 16 ? ghost_txn_reason(GHOST_TXN_COMPLETE + i)
					      : "UNKNOWN",
				       txn[i]);
		printf("\nmessages:");
		for (int i = 0; i < 256; i++)
			if (msgs[i])
				printf(" %s %" PRIu64, ghost_msg_type_name((uint16_t)i), msgs[i]);
		printf("\n");
	}
	free(all);
	walk_free(&w);
	return 0;
}

/* ---- html: a self-contained timeline (tools/timeline/timeline.html) ---- */

#ifndef GHOST_TIMELINE_HTML
#error "GHOST_TIMELINE_HTML names the page to embed (the Makefile sets it)"
#endif
/*
 * The page, embedded at build time: the Makefile names the file in GHOST_TIMELINE_HTML.
 * Its one TIMELINE_DATA_MARK is where the trace goes, as a JSON object.
 */
__asm__(".pushsection .rodata\n"
	".globl ghost_timeline_html_start\n"
	".hidden ghost_timeline_html_start\n"
	"ghost_timeline_html_start:\n"
	".incbin \"" GHOST_TIMELINE_HTML "\"\n"
	".globl ghost_timeline_html_end\n"
	".hidden ghost_timeline_html_end\n"
	"ghost_timeline_html_end:\n"
	".popsection\n");
extern const char ghost_timeline_html_start[], ghost_timeline_html_end[];
#define TIMELINE_DATA_MARK "/*@TRACE_DATA@*/"

struct html {
	FILE *out;
	const struct ghost_trace_view *v;
	int64_t *gtids; /* every task's gtid, sorted: a task's index in the page */
	size_t ntasks;
	int64_t *wake_ns; /* per flow id: the wake-up's time */
	uint64_t nwake, cap_wake;
	bool first;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* A task's index in the page, -1 for no task (a CPU message, a special gtid). */
static long h_task(const struct html *h, int64_t gtid)
{
	const int64_t *p =
		gtid > 0 ? bsearch(&gtid, h->gtids, h->ntasks, sizeof(*h->gtids), cmp_i64) : NULL;

	return p ? (long)(p - h->gtids) : -1;
}

static void h_sep(struct html *h)
{
	if (!h->first)
		fputc(',', h->out);
	h->first = false;
}

static void h_period(void *ctx, int cpu, const struct task *t, int64_t start, int64_t end,
		     uint64_t flow, const struct ghost_trace_record *txn)
{
	struct html *h = ctx;
	int64_t base = h->v->hdr.start_ns;

	h_sep(h);
	fprintf(h->out, "[%d,%ld,%" PRId64 ",%" PRId64 ",%" PRId64 ",%d,%u,%d]", cpu,
		h_task(h, t->gtid), start - base, end - base,
		flow && flow <= h->nwake ? h->wake_ns[flow - 1] - base : (int64_t)-1,
		txn->agent_cpu, txn->seqnum, txn->flags & GHOST_TRACE_F_KERNEL_TIME ? 1 : 0);
}

static void h_wakeup(void *ctx, const struct ghost_trace_record *r, uint64_t flow)
{
	struct html *h = ctx;

	if (flow != h->nwake + 1)
		return; /* flows are numbered 1, 2... in order */
	if (h->nwake == h->cap_wake) {
		h->cap_wake = h->cap_wake ? h->cap_wake * 2 : 1024;
		h->wake_ns = realloc(h->wake_ns, h->cap_wake * sizeof(*h->wake_ns));
		if (!h->wake_ns)
			tool_fatal("out of memory");
	}
	h->wake_ns[h->nwake++] = r->time_ns;
}

static int cmd_html(const struct ghost_trace_view *v, const char *path)
{
	static const struct walk_ops ops = { .period = h_period, .wakeup = h_wakeup };
	const char *tpl = ghost_timeline_html_start;
	size_t tpl_len = (size_t)(ghost_timeline_html_end - ghost_timeline_html_start);
	const char *mark = memmem(tpl, tpl_len, TIMELINE_DATA_MARK, strlen(TIMELINE_DATA_MARK));
	struct html h = { .v = v };
	struct walk w = { .v = v, .ops = &ops, .ctx = &h };
	uint64_t txn[17] = { 0 };
	int type_index[256];
	int ntypes = 0;
	int64_t base = v->hdr.start_ns;

	if (!mark)
		tool_fatal("the embedded page has no %s", TIMELINE_DATA_MARK);
	h.out = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!h.out) {
		tool_error("cannot write %s: %s", path, strerror(errno));
		return TOOL_EXIT_FAILURE;
	}
	/* The tasks, by gtid; the message types present; txn outcomes. */
	h.gtids = malloc((v->nrecords ? v->nrecords : 1) * sizeof(*h.gtids));
	if (!h.gtids)
		tool_fatal("out of memory");
	for (int i = 0; i < 256; i++)
		type_index[i] = -1;
	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];

		if (r->gtid > 0 && (r->kind == GHOST_TRACE_TXN || ghost_msg_is_task(r->type)))
			h.gtids[h.ntasks++] = r->gtid;
		if (r->kind == GHOST_TRACE_MSG) {
			if (type_index[r->type & 255] < 0)
				type_index[r->type & 255] = ntypes++;
		} else {
			uint32_t reason = (uint32_t)(r->value - GHOST_TXN_COMPLETE);

			txn[reason < 16 ? reason : 16]++;
		}
	}
	qsort(h.gtids, h.ntasks, sizeof(*h.gtids), cmp_i64);
	{
		size_t n = 0;

		for (size_t i = 0; i < h.ntasks; i++)
			if (!n || h.gtids[n - 1] != h.gtids[i])
				h.gtids[n++] = h.gtids[i];
		h.ntasks = n;
	}

	fwrite(tpl, 1, (size_t)(mark - tpl), h.out);
	fprintf(h.out,
		"{\"enclave\":%" PRIu64 ",\"records\":%" PRIu64 ",\"dropped\":%" PRIu64
		",\"span\":%" PRId64 ",\"completeFrom\":%" PRId64 ",\"cpus\":[",
		v->hdr.enclave_id, v->hdr.nrecords, v->hdr.dropped, v->hdr.end_ns - base,
		v->hdr.complete_ns - base);
	h.first = true;
	for (int cpu = 0; cpu < GHOST_MAX_CPUS; cpu++) {
		if (in_trace_cpus(&v->hdr, cpu)) {
			h_sep(&h);
			fprintf(h.out, "%d", cpu);
		}
	}
	/* gtids as strings: they do not fit a JavaScript number. */
	fputs("],\n\"tasks\":[", h.out);
	for (size_t i = 0; i < h.ntasks; i++)
		fprintf(h.out, "%s[\"%" PRId64 "\",%" PRId64 "]", i ? "," : "", h.gtids[i],
			ghost_gtid_to_tid(h.gtids[i]));
	fputs("],\n\"msgTypes\":[", h.out);
	for (int n = 0; n < ntypes; n++)
		for (int i = 0; i < 256; i++)
			if (type_index[i] == n)
				fprintf(h.out, "%s\"%s\"", n ? "," : "",
					ghost_msg_type_name((uint16_t)i));
	fputs("],\n\"txnOutcomes\":{", h.out);
	h.first = true;
	for (int i = 0; i <= 16; i++) {
		if (txn[i]) {
			h_sep(&h);
			fprintf(h.out, "\"%s\":%" PRIu64,
				i < 16 ? ghost_txn_reason(GHOST_TXN_COMPLETE + i) : "UNKNOWN",
				txn[i]);
		}
	}
	/* [time, task, type, cpu, result, agent cpu, flags] */
	fputs("},\n\"msgs\":[", h.out);
	h.first = true;
	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];

		if (r->kind != GHOST_TRACE_MSG)
			continue;
		h_sep(&h);
		fprintf(h.out, "[%" PRId64 ",%ld,%d,%d,%d,%d,%u]", r->time_ns - base,
			ghost_msg_is_task(r->type) ? h_task(&h, r->gtid) : -1,
			type_index[r->type & 255], r->cpu, r->value, r->agent_cpu, r->flags);
	}
	/* [time, cpu, task, outcome, agent cpu, barrier, gtid] */
	fputs("],\n\"failed\":[", h.out);
	h.first = true;
	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];

		if (r->kind != GHOST_TRACE_TXN || r->value == GHOST_TXN_COMPLETE)
			continue;
		h_sep(&h);
		fprintf(h.out, "[%" PRId64 ",%d,%ld,\"%s\",%d,%u,\"%" PRId64 "\"]",
			r->time_ns - base, r->cpu, h_task(&h, r->gtid), ghost_txn_reason(r->value),
			r->agent_cpu, r->seqnum, r->gtid);
	}
	/* [cpu, task, start, end, wake-up (-1 none), agent cpu, barrier, kernel time] */
	fputs("],\n\"periods\":[", h.out);
	h.first = true;
	walk_run(&w);
	fputs("]}", h.out);
	mark += strlen(TIMELINE_DATA_MARK);
	fwrite(mark, 1, (size_t)(tpl + tpl_len - mark), h.out);
	walk_free(&w);
	free(h.gtids);
	free(h.wake_ns);
	if ((h.out != stdout && fclose(h.out)) || (h.out == stdout && fflush(stdout))) {
		tool_error("cannot write %s: %s", path, strerror(errno));
		return TOOL_EXIT_FAILURE;
	}
	return 0;
}

/* ---- dump ---- */

static int cmd_dump(const struct ghost_trace_view *v)
{
	const struct ghost_trace_header *h = &v->hdr;

	printf("trace version %u, enclave %" PRIu64 ", %u CPUs, %" PRIu64 " records, %" PRIu64
	       " dropped, start %" PRId64 " end %" PRId64 " complete from %" PRId64 " (ns)\n",
	       h->version, h->enclave_id, h->ncpus, h->nrecords, h->dropped, h->start_ns, h->end_ns,
	       h->complete_ns);
	for (size_t i = 0; i < v->nrecords; i++) {
		const struct ghost_trace_record *r = &v->records[i];
		int64_t t = r->time_ns - h->start_ns;

		printf("%" PRId64 ".%03" PRId64 " agent %d ", t / 1000, t % 1000, r->agent_cpu);
		if (r->kind == GHOST_TRACE_MSG)
			printf("MSG %s gtid %" PRId64 " seqnum %u cpu %d result %d%s%s%s\n",
			       ghost_msg_type_name(r->type), r->gtid, r->seqnum, r->cpu, r->value,
			       r->flags & GHOST_TRACE_F_RUNNABLE ? " runnable" : "",
			       r->flags & GHOST_TRACE_F_LATCHED ? " latched" : "",
			       r->flags & GHOST_TRACE_F_MALFORMED ? " malformed" : "");
		else
			printf("TXN cpu %d gtid %" PRId64 " barrier %u %s%s\n", r->cpu, r->gtid,
			       r->seqnum, ghost_txn_reason(r->value),
			       r->flags & GHOST_TRACE_F_KERNEL_TIME ? "" : " (agent time)");
	}
	return fflush(stdout) ? TOOL_EXIT_FAILURE : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd, *file = NULL, *out = NULL;
	struct ghost_trace_view v;
	bool json = false, format = false;
	char why[256];
	void *buf;
	int opt, err, rc;

	tool_init("ghost-trace");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		}
	}
	if (argc < 2)
		return tool_usage_error("a command is required: export, html, stats or dump");
	cmd = argv[1];
	if (strcmp(cmd, "export") && strcmp(cmd, "html") && strcmp(cmd, "stats") &&
	    strcmp(cmd, "dump"))
		return tool_usage_error("unknown command \"%s\" (export, html, stats or dump)",
					cmd);
	opterr = 0;
	optind = 2;
	while ((opt = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (strcmp(optarg, "chrome"))
				return tool_usage_error("unknown --format \"%s\" (chrome)", optarg);
			format = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'j':
			json = true;
			break;
		case ':':
			return tool_usage_error("%s needs a value", argv[optind - 1]);
		default:
			return tool_usage_error("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc)
		return tool_usage_error("unexpected argument \"%s\"", argv[optind]);
	if (!file)
		return tool_usage_error("%s needs a trace FILE", cmd);
	if (strcmp(cmd, "export") && format)
		return tool_usage_error("%s takes no --format", cmd);
	if (strcmp(cmd, "export") && strcmp(cmd, "html") && out)
		return tool_usage_error("%s takes no -o", cmd);
	if (strcmp(cmd, "stats") && json)
		return tool_usage_error("%s takes no --json", cmd);
	if ((!strcmp(cmd, "export") || !strcmp(cmd, "html")) && !out)
		return tool_usage_error("%s needs -o OUT (- for stdout)", cmd);

	err = ghost_trace_load(file, &buf, &v, why, sizeof(why));
	if (err) {
		tool_error("%s: %s", file, err == -EINVAL && why[0] ? why : ghost_strerror(err));
		return TOOL_EXIT_FAILURE;
	}
	if (!strcmp(cmd, "export"))
		rc = cmd_export(&v, out);
	else if (!strcmp(cmd, "html"))
		rc = cmd_html(&v, out);
	else if (!strcmp(cmd, "stats"))
		rc = cmd_stats(&v, json);
	else
		rc = cmd_dump(&v);
	free(buf);
	return rc;
}
