/*
 * bench/ghost-bench/memory.c - the agents' memory: state per task (the FIFO policies'
 * records in the scheduler base's task table), per CPU (computed from the structs), and
 * the resident size of a process holding 10,000 tasks' agent state (the --rss-child role,
 * a fresh process of this program).
 *
 * Builds task tables and run queues only: no enclave, no kernel backend.
 */
#include "bench.h"

#include "fifo.h"

#include <math.h>
#include <stdio.h>

static long vm_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int64_t bench_gtid(uint64_t tid, uint64_t seq)
{
	return (int64_t)((tid << GHOST_GTID_SEQ_BITS) | seq);
}

/* Records per slab of a table of task_size records, found from the outside. */
static uint32_t records_per_slab(size_t task_size)
{
	struct ghost_task_table t;
	uint32_t n = 0;

	if (ghost_task_table_init(&t, task_size))
		return 0;
	for (;;) {
		if (!ghost_task_table_insert(&t, bench_gtid(n + 1, 1)))
			break;
		if (t.nchunks > 1)
			break;
		n++;
	}
	ghost_task_table_fini(&t);
	return n;
}

/*
 * The "--rss-child N" role: a fresh process that builds the agent state of N tasks (the
 * FIFO policies' records in the scheduler base's task table, every one on a run queue, as
 * a FIFO agent holds them) and prints its VmRSS in kB before and after.
 */
int rss_child(long n)
{
	struct ghost_task_table t;
	struct ghost_task_queue rq = { 0 };
	long before = vm_rss_kb(), after;

	if (ghost_task_table_init(&t, sizeof(struct fifo_task)))
		return 1;
	for (long i = 0; i < n; i++) {
		struct fifo_task *ft = (struct fifo_task *)ghost_task_table_insert(
			&t, bench_gtid(1000 + (uint64_t)i, 1 + (uint64_t)i));

		if (!ft)
			return 1;
		ft->cpu = -1;
		ft->state = FIFO_QUEUED;
		fifo_rq_push_back(&rq, ft);
	}
	after = vm_rss_kb();
	printf("%ld %ld %u\n", before, after, rq.count);
	ghost_task_table_fini(&t);
	return 0;
}

void mem_rows(struct bench *b)
{
	enum { N = 10000 };
	struct ghost_task_table t;
	uint32_t per_slab = records_per_slab(sizeof(struct fifo_task));
	size_t bytes, qbytes;
	struct row *r;

	progress(b, "memory");
	/* Per task: the FIFO policies' record in the scheduler base's table, 10,000 of them. */
	r = row_new(b, "mem_agent_state_per_task",
		    "agent state per task (fifo record + table share)");
	r->unit = "bytes";
	r->target = 256;
	r->target_on = "value";
	if (per_slab && ghost_task_table_init(&t, sizeof(struct fifo_task)) == 0) {
		for (int i = 0; i < N; i++)
			if (!ghost_task_table_insert(&t, bench_gtid(100 + (uint64_t)i,
								    7 + (uint64_t)i)))
				break;
		bytes = (size_t)t.nchunks * per_slab * t.task_size +
			(size_t)t.nbuckets * sizeof(*t.buckets) +
			(size_t)t.chunk_cap * sizeof(void *);
		r->value = (double)bytes / N;
		row_note(r,
			 "struct fifo_task %zu B (record %zu B); %d tasks: %u slabs of %u records "
			 "+ %u buckets = %zu B",
			 sizeof(struct fifo_task), t.task_size, N, t.nchunks, per_slab, t.nbuckets,
			 bytes);
		ghost_task_table_fini(&t);
	} else {
		r->failed = true;
	}

	/*
	 * Per CPU, computed: the policies' per-CPU structs are private to their .c files, so
	 * their sizes are written out here from policies/fifo_percpu.c (struct pcpu: channel
	 * pointer, run queue, current = 40 B), fifo_centralized.c
	 * (struct ccpu: current, last_commit = 16 B) and src/agent.c (struct
	 * ghost_agent: 48 B). What is measured: the channel object and the message ring's
	 * mapping (ghost_queue_mapsize of the ring size fifo-percpu creates per CPU), the
	 * per-CPU txn page of the ABI.
	 */
	qbytes = ghost_queue_mapsize(GHOST_MAX_QUEUE_ELEMS);
	{
		size_t pcpu = 40, agent = 48;
		size_t chan = sizeof(struct ghost_channel), txn = sizeof(struct ghost_cpu_data);
		size_t fixed = 8 /* ghost_enclave.agents[] */ + 8 /* full agent's agents[] */;

		r = row_new(b, "mem_agent_state_per_cpu_percpu",
			    "agent state per CPU, fifo-percpu");
		r->unit = "bytes";
		r->value = (double)(pcpu + agent + chan + qbytes + txn);
		row_note(r,
			 "computed: policy %zu B + agent record %zu B + channel %zu B + its ring "
			 "(%d slots) %zu B + txn page %zu B; also %zu B of per-CPU slots "
			 "allocated for all %d possible CPUs",
			 pcpu, agent, chan, GHOST_MAX_QUEUE_ELEMS, qbytes, txn, pcpu + fixed,
			 GHOST_MAX_CPUS);

		pcpu = 16;
		r = row_new(b, "mem_agent_state_per_cpu_centralized",
			    "agent state per CPU, fifo-centralized");
		r->unit = "bytes";
		r->value = (double)(pcpu + agent + txn);
		row_note(r,
			 "computed: policy %zu B + agent record %zu B + txn page %zu B; one "
			 "shared ring of %zu B for the enclave; also %zu B of per-CPU slots "
			 "allocated for all %d possible CPUs",
			 pcpu, agent, txn, qbytes, pcpu + fixed, GHOST_MAX_CPUS);
	}

	/* Resident size of a process holding 10,000 tasks' agent state. */
	r = row_new(b, "mem_agent_rss_10000_tasks", "agent resident set with 10,000 tasks");
	r->unit = "bytes";
	{
		char out[256], n[16];
		char *argv[] = { b->self_exe, "--rss-child", n, NULL };
		long before = -1, after = -1;
		unsigned count = 0;
		int st;

		snprintf(n, sizeof(n), "%d", N);
		st = run_capture(argv, out, sizeof(out), 20000, false);
		if (st == 0 && sscanf(out, "%ld %ld %u", &before, &after, &count) == 3 &&
		    after > 0) {
			r->value = (double)after * 1024;
			row_note(r,
				 "VmRSS of a process building the fifo task table and run queue of "
				 "%u tasks: %ld kB before, %ld kB after (%.1f B per task)",
				 count, before, after, (double)(after - before) * 1024 / N);
		} else {
			r->failed = true;
			row_note(r, "the measuring process failed (status 0x%x)", st);
		}
	}
}
