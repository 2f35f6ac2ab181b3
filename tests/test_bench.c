/*
 * tests/test_bench.c - a smoke run of ghost-bench so that it cannot rot.
 *
 * Runs `ghost-bench --quick --json` and checks that it exits 0 and prints a JSON list of
 * objects, one per figure, with every expected row present and carrying the keys issue 5
 * requires (name, median_ns, p99_ns, baseline, ratio, target, met). No timing is asserted:
 * timings belong in the benchmark, not in tests. Also: --help exits 0, bad arguments exit 2.
 */
#include "test.h"

#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef GHOST_BIN_DIR
#define GHOST_BIN_DIR "build/bin"
#endif

#define BENCH GHOST_BIN_DIR "/ghost-bench"

/* Runs argv with stdout (and stderr if err_too) captured; returns the exit status. */
static int run(char *const argv[], char *out, size_t len, bool err_too, int timeout_s)
{
	int pfd[2], st = 0;
	size_t used = 0;
	time_t end = time(NULL) + timeout_s;
	pid_t pid;

	CHECK(pipe(pfd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(pfd[1], 1);
		if (err_too)
			dup2(pfd[1], 2);
		if (devnull >= 0)
			dup2(devnull, 0);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	out[0] = 0;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t r;

		if (time(NULL) > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			FAIL("%s did not finish within %d s", argv[0], timeout_s);
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		r = read(pfd[0], out + used, len - used - 1);
		if (r <= 0)
			break;
		used += (size_t)r;
		out[used] = 0;
		CHECK_MSG(used < len - 1, "output longer than %zu bytes", len);
	}
	close(pfd[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st), "%s ended by signal %d", argv[0], WTERMSIG(st));
	return WEXITSTATUS(st);
}

/* ---- a small JSON reader: validates the whole text, records each top-level object's keys ---- */

#define MAX_OBJS 128
#define MAX_KEYS 48

struct obj {
	char keys[MAX_KEYS][32];
	int nkeys;
	char name[96];
	bool name_is_string;
};

static struct obj objs[MAX_OBJS];
static int nobjs;

struct parser {
	const char *p;
	int depth;
};

static void ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')
		ps->p++;
}

static bool parse_value(struct parser *ps, char *str_out, size_t str_len);

static bool parse_string(struct parser *ps, char *out, size_t len)
{
	size_t n = 0;

	if (*ps->p != '"')
		return false;
	ps->p++;
	while (*ps->p && *ps->p != '"') {
		char c = *ps->p++;

		if ((unsigned char)c < 0x20)
			return false;
		if (c == '\\') {
			c = *ps->p++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++)
					if (!isxdigit((unsigned char)*ps->p++))
						return false;
				c = '?';
			} else if (!strchr("\"\\/bfnrt", c) || !c) {
				return false;
			}
		}
		if (out && n + 1 < len)
			out[n++] = c;
	}
	if (*ps->p != '"')
		return false;
	ps->p++;
	if (out && len)
		out[n < len ? n : len - 1] = 0;
	return true;
}

static bool parse_number(struct parser *ps)
{
	const char *s = ps->p;
	char *end;

	if (*s != '-' && !isdigit((unsigned char)*s))
		return false;
	strtod(s, &end);
	if (end == s)
		return false;
	ps->p = end;
	return true;
}

static bool parse_object(struct parser *ps, struct obj *o)
{
	ps->p++; /* { */
	ws(ps);
	if (*ps->p == '}') {
		ps->p++;
		return true;
	}
	for (;;) {
		char key[32], sval[96];

		ws(ps);
		if (!parse_string(ps, key, sizeof(key)))
			return false;
		ws(ps);
		if (*ps->p++ != ':')
			return false;
		ws(ps);
		sval[0] = 0;
		if (o && !strcmp(key, "name"))
			o->name_is_string = *ps->p == '"';
		if (!parse_value(ps, sval, sizeof(sval)))
			return false;
		if (o) {
			CHECK(o->nkeys < MAX_KEYS);
			snprintf(o->keys[o->nkeys++], sizeof(o->keys[0]), "%s", key);
			if (!strcmp(key, "name"))
				snprintf(o->name, sizeof(o->name), "%s", sval);
		}
		ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == '}') {
			ps->p++;
			return true;
		}
		return false;
	}
}

static bool parse_array(struct parser *ps, bool top)
{
	ps->p++; /* [ */
	ws(ps);
	if (*ps->p == ']') {
		ps->p++;
		return true;
	}
	for (;;) {
		ws(ps);
		if (top) {
			/* Every element of the top-level list is an object. */
			if (*ps->p != '{')
				return false;
			CHECK(nobjs < MAX_OBJS);
			if (!parse_object(ps, &objs[nobjs++]))
				return false;
		} else if (!parse_value(ps, NULL, 0)) {
			return false;
		}
		ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == ']') {
			ps->p++;
			return true;
		}
		return false;
	}
}

static bool parse_value(struct parser *ps, char *str_out, size_t str_len)
{
	bool ok;

	if (++ps->depth > 32)
		return false;
	switch (*ps->p) {
	case '"':
		ok = parse_string(ps, str_out, str_len);
		break;
	case '{':
		ok = parse_object(ps, NULL);
		break;
	case '[':
		ok = parse_array(ps, false);
		break;
	case 't':
		ok = !strncmp(ps->p, "true", 4) && (ps->p += 4);
		break;
	case 'f':
		ok = !strncmp(ps->p, "false", 5) && (ps->p += 5);
		break;
	case 'n':
		ok = !strncmp(ps->p, "null", 4) && (ps->p += 4);
		break;
	default:
		ok = parse_number(ps);
		break;
	}
	ps->depth--;
	return ok;
}

static const struct obj *find_obj(const char *name)
{
	for (int i = 0; i < nobjs; i++)
		if (!strcmp(objs[i].name, name))
			return &objs[i];
	return NULL;
}

static bool has_key(const struct obj *o, const char *key)
{
	for (int i = 0; i < o->nkeys; i++)
		if (!strcmp(o->keys[i], key))
			return true;
	return false;
}

/* ---- the checks ------------------------------------------------------------------------------- */

static char out[1 << 17];

static void test_json_run(void)
{
	static const char *const expected[] = {
		"baseline_null_syscall",
		"baseline_futex_handoff_same_cpu",
		"baseline_cacheline_handoff_cross_cpu",
		"baseline_futex_wake_cross_cpu",
		"msg_delivery_local_agent",
		"msg_delivery_global_agent",
		"local_schedule",
		"remote_schedule_agent_overhead",
		"remote_schedule_e2e_polling",
		"remote_schedule_e2e_sleeping",
		"group_commit_per_txn",
		"group_commit_per_txn_2",
		"commit_null_txn",
		"global_agent_throughput_1cpu",
		"global_agent_throughput_1cpu_2tasks",
		"global_agent_throughput_1cpu_2tasks_nopoll",
		"trace_dispatch_untraced",
		"trace_dispatch_traced",
		"net_period",
		"net_block_latency",
		"net_wake_latency",
		"mem_agent_state_per_task",
		"mem_agent_state_per_cpu_percpu",
		"mem_agent_state_per_cpu_centralized",
		"mem_agent_rss_10000_tasks",
	};
	static const char *const required[] = { "name",	 "median_ns", "p99_ns", "baseline",
						"ratio", "target",    "met" };
	char *argv[] = { BENCH, "--quick", "--json", NULL };
	struct parser ps = { .p = out };
	int st = run(argv, out, sizeof(out), false, 60);

	CHECK_MSG(st == 0, "ghost-bench --quick --json exited %d; output:\n%s", st, out);
	ws(&ps);
	CHECK_MSG(*ps.p == '[', "the output is not a JSON list:\n%.400s", out);
	CHECK_MSG(parse_array(&ps, true), "malformed JSON near \"%.60s\"", ps.p);
	ws(&ps);
	CHECK_MSG(*ps.p == 0, "text after the JSON list: \"%.60s\"", ps.p);
	CHECK(nobjs > 0);
	for (int i = 0; i < nobjs; i++) {
		for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
			CHECK_MSG(has_key(&objs[i], required[k]), "row %d (\"%s\") has no \"%s\"",
				  i, objs[i].name, required[k]);
		CHECK_MSG(objs[i].name_is_string && objs[i].name[0], "row %d: name is not a string",
			  i);
		for (int j = 0; j < i; j++)
			CHECK_MSG(strcmp(objs[i].name, objs[j].name), "row \"%s\" appears twice",
				  objs[i].name);
	}
	for (size_t e = 0; e < sizeof(expected) / sizeof(expected[0]); e++)
		CHECK_MSG(find_obj(expected[e]) != NULL, "no row \"%s\" in the output",
			  expected[e]);
	/* --quick leaves the macro benchmark out. */
	for (int i = 0; i < nobjs; i++)
		CHECK_MSG(strncmp(objs[i].name, "rpc_", 4), "--quick ran the macro benchmark (%s)",
			  objs[i].name);
	printf("ghost-bench --quick --json: %d rows\n", nobjs);
}

static void test_help_and_bad_args(void)
{
	char *help[] = { BENCH, "--help", NULL };
	char *bad_opt[] = { BENCH, "--frobnicate", NULL };
	char *bad_iter[] = { BENCH, "--iterations", "many", NULL };
	char *bad_prio[] = { BENCH, "--prio", "urgent", NULL };
	char *missing[] = { BENCH, "--iterations", NULL };
	char *stray[] = { BENCH, "stray", NULL };
	char *bad_kernel[] = { BENCH, "--kernel", "no-such-kernel", NULL };

	CHECK_EQ(run(help, out, sizeof(out), false, 10), 0);
	CHECK_MSG(strstr(out, "usage:") && strstr(out, "--json"), "--help printed:\n%s", out);
	CHECK_EQ(run(bad_opt, out, sizeof(out), true, 10), 2);
	CHECK_MSG(strstr(out, "--frobnicate"), "the message does not name the argument:\n%s", out);
	CHECK_EQ(run(bad_iter, out, sizeof(out), true, 10), 2);
	CHECK_MSG(strstr(out, "--iterations") && strstr(out, "many"), "message:\n%s", out);
	CHECK_EQ(run(bad_prio, out, sizeof(out), true, 10), 2);
	CHECK_MSG(strstr(out, "--prio"), "message:\n%s", out);
	CHECK_EQ(run(missing, out, sizeof(out), true, 10), 2);
	CHECK_MSG(strstr(out, "--iterations"), "message:\n%s", out);
	CHECK_EQ(run(stray, out, sizeof(out), true, 10), 2);
	CHECK_MSG(strstr(out, "stray"), "message:\n%s", out);
	CHECK_EQ(run(bad_kernel, out, sizeof(out), true, 10), 2);
	CHECK_MSG(strstr(out, "no-such-kernel"), "message:\n%s", out);
}

int main(void)
{
	cpu_set_t mine;

	if (access(BENCH, X_OK)) {
		printf("FAIL: %s is not built\n", BENCH);
		return 1;
	}
	test_help_and_bad_args();
	if (sched_getaffinity(0, sizeof(mine), &mine) || CPU_COUNT(&mine) < 2) {
		printf("SKIP: ghost-bench needs two CPUs\n");
		return TEST_SKIP;
	}
	test_json_run();
	printf("test_bench: ok\n");
	return 0;
}
