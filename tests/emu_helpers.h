/*
 * tests/emu_helpers.h - what the end-to-end tests share: a private enclave
 * root per test, an in-process full agent, and the embedded kernel's switch
 * trace with the invariant checks over it.
 *
 * Test code only: it reads the embedded kernel's state file directly, which
 * nothing above the kernel layer may do.
 */
#ifndef GHOST_TEST_EMU_HELPERS_H
#define GHOST_TEST_EMU_HELPERS_H

#include "test.h"

#include <ghost/ghost.h>

#include "../kernels/emu/emu.h"
#include "policies.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char test_root[256];

static void test_root_cleanup(void)
{
	if (test_root[0])
		test_rm_tree(test_root);
}

/*
 * Processes a test started: killed when it exits, whichever way, so that a
 * failed test never leaves agents spinning behind it (they are killed
 * before the root they use is removed: atexit runs in reverse order).
 */
static pid_t test_children[256];
static int test_nchildren;

static void test_kill_children(void)
{
	for (int i = 0; i < test_nchildren; i++)
		if (test_children[i] > 0)
			kill(test_children[i], SIGKILL);
}

static inline void test_track_child(pid_t pid)
{
	static bool registered;

	if (!registered) {
		atexit(test_kill_children);
		registered = true;
	}
	for (int i = 0; i < test_nchildren; i++)
		if (test_children[i] <= 0) {
			test_children[i] = pid;
			return;
		}
	CHECK_MSG(test_nchildren < 256, "more than 256 live child processes");
	test_children[test_nchildren++] = pid;
}

/* A child that was reaped: its slot is free (and its pid may be reused). */
static inline void test_untrack_child(pid_t pid)
{
	for (int i = 0; i < test_nchildren; i++)
		if (test_children[i] == pid)
			test_children[i] = 0;
}

/* A fresh namespace root for this test, removed at exit. */
static inline const char *test_root_make(void)
{
	snprintf(test_root, sizeof(test_root), "/tmp/ghost-test-XXXXXX");
	CHECK(mkdtemp(test_root) != NULL);
	atexit(test_root_cleanup);
	setenv("GHOST_EMU_ROOT", test_root, 1);
	return test_root;
}

static inline int test_ncpus(void)
{
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static inline struct ghost_enclave *test_enclave(const char *cpus_list, uint64_t id)
{
	struct ghost_cpuset cpus;
	struct ghost_enclave *e;
	struct ghost_enclave_opts o = { .sz = sizeof(o), .root = test_root, .id = id };

	CHECK_OK(ghost_cpuset_parse_list(&cpus, cpus_list, GHOST_MAX_CPUS, 0));
	o.cpus = &cpus;
	CHECK_OK(ghost_enclave_create(&o, &e));
	return e;
}

/*
 * A policy's config from "key=value key=value" (NULL or "": every default).
 * A key written "?key" is set only if the policy has that parameter.
 * Returns a buffer to free.
 */
static inline void *test_policy_config(const struct ghost_policy *p, const char *opts)
{
	void *cfg = calloc(1, p->config_size ? p->config_size : 1);
	char buf[512], why[256], *save = NULL;

	CHECK(cfg != NULL);
	CHECK_OK(ghost_policy_config_defaults(p, cfg));
	snprintf(buf, sizeof(buf), "%s", opts ? opts : "");
	for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
		if (kv[0] == '?') {
			char key[64];

			kv++;
			snprintf(key, sizeof(key), "%.*s", (int)strcspn(kv, "="), kv);
			if (!ghost_policy_param_find(p, key))
				continue;
		}
		CHECK_MSG(ghost_policy_config_parse(p, cfg, kv, why, sizeof(why)) == 0, "%s: %s",
			  p->name, why);
	}
	return cfg;
}

static inline struct ghost_full_agent *test_agent(struct ghost_enclave *e, const char *policy,
						  const char *opts)
{
	struct ghost_full_agent *fa;
	struct ghost_full_agent_opts fo = {
		.sz = sizeof(fo),
		.enclave = e,
		.policy = ghost_policy_find(policy),
		.prio = GHOST_AGENT_PRIO_NORMAL,
	};
	void *cfg;

	CHECK_MSG(fo.policy != NULL, "no policy %s", policy);
	cfg = test_policy_config(fo.policy, opts);
	fo.policy_config = cfg;
	CHECK_OK(ghost_full_agent_start(&fo, &fa));
	free(cfg); /* the full agent keeps its own copy */
	return fa;
}

/*
 * A full agent's scheduler base after its tasks ended: every TASK_NEW ended
 * by TASK_DEAD or TASK_DEPARTED (waiting for the last ones on their way), no
 * sequence-number error, no malformed message, no duplicate TASK_NEW.
 */
static inline void test_check_sched_clean(struct ghost_full_agent *fa)
{
	struct ghost_sched *s = policy_sched_of(ghost_full_agent_policy_state(fa));

	/* The last TASK_DEADs may still be on their way to the agent (counted under the lock). */
	for (int i = 0; i < 400; i++) {
		bool all_gone;

		pthread_mutex_lock(&s->lock);
		all_gone = s->stats.msgs[MSG_TASK_NEW] ==
			   s->stats.msgs[MSG_TASK_DEAD] + s->stats.msgs[MSG_TASK_DEPARTED];
		pthread_mutex_unlock(&s->lock);
		if (all_gone)
			break;
		usleep(5000);
	}
	pthread_mutex_lock(&s->lock);
	CHECK_EQ(s->stats.seqnum_errors, 0);
	CHECK_EQ(s->stats.bad_msgs, 0);
	CHECK_EQ(s->stats.duplicate_new, 0);
	CHECK_EQ(s->stats.msgs[MSG_TASK_NEW],
		 s->stats.msgs[MSG_TASK_DEAD] + s->stats.msgs[MSG_TASK_DEPARTED]);
	pthread_mutex_unlock(&s->lock);
}

#ifndef GHOST_BIN_DIR
#define GHOST_BIN_DIR "build/bin"
#endif

/* Starts build/bin/<tool> with args (NULL-terminated), output into out_path. */
static inline pid_t test_spawn_tool(const char *tool, char *const args[], const char *out_path)
{
	char path[600];
	char *argv[32];
	int a = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", GHOST_BIN_DIR, tool);
	argv[a++] = path;
	for (; *args && a < 31; args++)
		argv[a++] = *args;
	argv[a] = NULL;
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(path, argv);
		_exit(126);
	}
	test_track_child(pid);
	return pid;
}

/* Exit status of pid (128 + signal if killed); a failure if it runs on past timeout_ms. */
static inline int test_wait_exit(pid_t pid, int timeout_ms)
{
	int st;

	for (int i = 0; i < timeout_ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			test_untrack_child(pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(10000);
	}
	FAIL("process %d did not exit within %d ms", pid, timeout_ms);
}

static inline void test_read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	CHECK_MSG(f != NULL, "%s", path);
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* The number after "key": in a JSON text. */
static inline double test_json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	CHECK_MSG(p != NULL, "no %s in %s", key, json);
	return strtod(p + strlen(pat), NULL);
}

/* A file of the test root mapped shared: how a test and its child processes talk. */
static inline void *test_map_shared(const char *root, const char *name, size_t size, bool create)
{
	char path[512];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600);
	CHECK_MSG(fd >= 0, "%s", path);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	CHECK(p != MAP_FAILED);
	return p;
}

/* Attaches to enclave id of the test root once it exists (an agent is creating it). */
static inline struct ghost_enclave *test_wait_enclave(uint64_t id)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o), .root = test_root, .id = id };
	struct ghost_enclave *e = NULL;

	for (int i = 0; i < 500; i++) {
		if (!ghost_enclave_attach(&o, &e))
			return e;
		usleep(10000);
	}
	FAIL("enclave %llu never appeared", (unsigned long long)id);
}

/* The number after key in a stats line ("dead 24" -> 24). */
static inline long counter_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	CHECK_MSG(p != NULL, "no \"%s\" in: %s", key, text);
	return strtol(p + strlen(key), NULL, 10);
}

/* The embedded kernel's shared state of an enclave, mapped (writable only
 * for the tests that corrupt it). */
static inline struct emu_shared *test_emu_state_map(uint64_t id, size_t *size, bool writable)
{
	char path[512];
	struct stat st;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/enclave_%llu/state", test_root, (unsigned long long)id);
	fd = open(path, writable ? O_RDWR : O_RDONLY);
	CHECK_MSG(fd >= 0, "%s", path);
	CHECK(fstat(fd, &st) == 0);
	p = mmap(NULL, (size_t)st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, fd, 0);
	close(fd);
	CHECK(p != MAP_FAILED);
	if (size)
		*size = (size_t)st.st_size;
	return p;
}

static inline struct emu_shared *test_emu_state(uint64_t id, size_t *size)
{
	return test_emu_state_map(id, size, false);
}

/*
 * Checks the switch trace: on every CPU, switch-ins and switch-outs
 * alternate (never two tasks on one CPU), and no task is switched in on a
 * CPU while it is still in on another. Returns the number of switch-ins.
 */
static inline long test_check_trace(const struct emu_shared *sh)
{
	const struct emu_trace_ent *tr = (const void *)((const char *)sh + sh->trace_off);
	uint32_t head = __atomic_load_n(&sh->trace_head, __ATOMIC_ACQUIRE);
	uint32_t start = head > EMU_TRACE_LEN ? head - EMU_TRACE_LEN : 0;
	int64_t on_cpu[GHOST_MAX_CPUS];
	struct {
		int64_t gtid;
		int cpu;
	} running[4096];
	int nrunning = 0;
	long ins = 0;

	CHECK_MSG(head <= EMU_TRACE_LEN, "trace wrapped (%u entries): the test is too long", head);
	for (int c = 0; c < GHOST_MAX_CPUS; c++)
		on_cpu[c] = 0;
	for (uint32_t i = start; i < head; i++) {
		const struct emu_trace_ent *e = &tr[i % EMU_TRACE_LEN];

		CHECK(e->cpu >= 0 && e->cpu < GHOST_MAX_CPUS);
		if (e->on) {
			CHECK_MSG(on_cpu[e->cpu] == 0,
				  "CPU %d got task %lld while task %lld was on it (entry %u)",
				  e->cpu, (long long)e->gtid, (long long)on_cpu[e->cpu], i);
			for (int r = 0; r < nrunning; r++)
				CHECK_MSG(running[r].gtid != e->gtid,
					  "task %lld switched in on CPU %d while on CPU %d",
					  (long long)e->gtid, e->cpu, running[r].cpu);
			on_cpu[e->cpu] = e->gtid;
			CHECK(nrunning < 4096);
			running[nrunning].gtid = e->gtid;
			running[nrunning].cpu = e->cpu;
			nrunning++;
			ins++;
		} else {
			int r;

			CHECK_MSG(on_cpu[e->cpu] == e->gtid,
				  "CPU %d switched out task %lld but ran %lld (entry %u)", e->cpu,
				  (long long)e->gtid, (long long)on_cpu[e->cpu], i);
			on_cpu[e->cpu] = 0;
			for (r = 0; r < nrunning && running[r].gtid != e->gtid; r++)
				;
			CHECK(r < nrunning);
			running[r] = running[--nrunning];
		}
	}
	return ins;
}

#endif
