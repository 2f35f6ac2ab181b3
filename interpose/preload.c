/*
 * interpose/preload.c - libghost-preload.so's life cycle: an unmodified, dynamically linked
 * program loaded with it (LD_PRELOAD) and started with GHOST_ENCLAVE=<id> in its environment
 * becomes a set of ghost tasks of that enclave. The main thread enters when the library is
 * loaded, every thread of pthread_create enters before its first instruction and dies with
 * the thread (TASK_DEAD), a forked child enters as a task of its own, an exec'd image enters
 * again (the environment is kept, even an explicit one), and exit() is TASK_DEAD.
 *
 * Owns the process's enclave handle, the per-thread "entered" flag and the guard that lets
 * the library's own calls through. Without GHOST_ENCLAVE it does nothing at all: every
 * wrapper calls straight through. It never prints (GHOST_PRELOAD_DEBUG=1 says on stderr why
 * a thread could not enter), never exits, never changes errno, and calls nothing but the C
 * library and libghost's public API. The blocking calls are in wrap.c.
 */
#include "preload.h"

#include <ghost/ghost.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__thread bool gp_in_task __attribute__((tls_model("initial-exec")));
__thread int gp_depth __attribute__((tls_model("initial-exec")));

/* Set once by the constructor, before the program's own code runs; read by the vfork stub. */
bool gp_active __attribute__((visibility("hidden")));
static struct ghost_enclave *enclave;
static bool debug;

/* What an exec'd image needs to enter again: "NAME=value" of each variable that was set. */
static const char *const keep_names[] = { "LD_PRELOAD", "GHOST_ENCLAVE", "GHOST_KERNEL",
					  "GHOST_ROOT", "GHOST_PRELOAD_DEBUG" };
#define NKEEP (sizeof(keep_names) / sizeof(keep_names[0]))
static char *keep_env[NKEEP];

REAL_DECL(write);
REAL_DECL(pthread_create);
REAL_DECL(execve);
REAL_DECL(execvpe);
REAL_DECL(fexecve);
REAL_DECL(posix_spawn);
REAL_DECL(posix_spawnp);
REAL_DECL(system);
REAL_DECL(popen);
REAL_DECL(fork);

void gp_resolve_all(void);

void *gp_resolve(void **slot, const char *name, const char *version)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!p) {
		if (version)
			p = dlvsym(RTLD_NEXT, name, version);
		if (!p)
			p = dlsym(RTLD_NEXT, name);
		/* Two threads resolving at once find the same address: either store will do. */
		__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	}
	return p;
}

/* One line on stderr, only under GHOST_PRELOAD_DEBUG=1 (the program's output is its own). */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char buf[300];
	va_list ap;
	int n, saved = errno;

	if (!debug)
		return;
	n = snprintf(buf, sizeof(buf), "libghost-preload[%d]: ", (int)gettid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (REAL(write)(2, buf, (size_t)n) < 0) {
		/* Nowhere else to say it. */
	}
	errno = saved;
}

bool gp_begin(void)
{
	int r;

	if (!wrap_this_call())
		return false;
	gp_depth++;
	r = ghost_thread_block_begin();
	gp_depth--;
	return r == 0;
}

void gp_end(void)
{
	gp_depth++;
	ghost_thread_block_end();
	gp_depth--;
}

/* The calling thread enters the enclave (and waits for its first turn on a CPU). */
static void enter_self(void)
{
	int err, saved = errno;

	gp_depth++;
	err = ghost_thread_enter(enclave);
	gp_depth--;
	gp_in_task = err == 0;
	if (err)
		say("this thread runs as a normal thread: it could not enter enclave %llu (%s)",
		    (unsigned long long)ghost_enclave_id(enclave), ghost_strerror(err));
	errno = saved;
}

/* Set by the thread making a vfork into a fork, for the child (a copy of the thread) to see. */
static __thread bool vforking __attribute__((tls_model("initial-exec")));

/*
 * The copy of a ghost task that a fork made (libghost forgot the parent's first). The child of
 * a vfork stays a normal thread until its exec, whose image enters: such a child may only exec
 * or exit, and a program that asked for vfork may treat the child as one (CPython resets every
 * signal handler there, ours too: a preemption then would kill it).
 */
static void forked_child(void)
{
	gp_in_task = false;
	gp_depth = 0;
	if (vforking) {
		vforking = false;
		return;
	}
	enter_self();
}

static void remember_env(void)
{
	for (size_t i = 0; i < NKEEP; i++) {
		const char *v = getenv(keep_names[i]);

		if (v && asprintf(&keep_env[i], "%s=%s", keep_names[i], v) < 0)
			keep_env[i] = NULL;
	}
}

__attribute__((constructor)) static void preload_init(void)
{
	struct ghost_enclave_opts o = { .sz = sizeof(o) };
	const char *id = getenv("GHOST_ENCLAVE"), *d = getenv("GHOST_PRELOAD_DEBUG");
	char *end;
	int err;

	gp_resolve_all();
	if (!id || !*id)
		return;
	debug = d && !strcmp(d, "1");
	errno = 0;
	o.id = strtoull(id, &end, 10);
	if (*end || errno || o.id == 0) {
		say("GHOST_ENCLAVE=\"%s\" is no enclave id: the program runs unscheduled", id);
		errno = 0;
		return;
	}
	o.kernel = getenv("GHOST_KERNEL");
	o.root = getenv("GHOST_ROOT");
	if (o.root && !*o.root)
		o.root = NULL;
	if (debug)
		ghost_log_set_callback(ghost_log_stderr, NULL, GHOST_LOG_WARN);
	gp_depth++;
	err = ghost_enclave_attach(&o, &enclave);
	if (!err && !(ghost_kernel_caps(ghost_enclave_kernel(enclave)) & GHOST_KCAP_USER_TASKS)) {
		/* Its kernel schedules the program's threads without us (ghostctl run enters
		 * them there itself). */
		ghost_enclave_close(enclave);
		err = -EOPNOTSUPP;
	}
	gp_depth--;
	if (err) {
		say("cannot attach enclave %s (%s): the program runs unscheduled", id,
		    ghost_strerror(err));
		errno = 0;
		return;
	}
	remember_env();
	__atomic_store_n(&gp_active, true, __ATOMIC_RELEASE);
	enter_self();
	/* After the first entry: the library's own fork handlers run before this one. */
	pthread_atfork(NULL, NULL, forked_child);
	errno = 0;
}

/* exit(): the thread calling it dies here (its thread-exit hooks never run). */
__attribute__((destructor)) static void preload_fini(void)
{
	int saved = errno;

	if (!gp_in_task)
		return;
	gp_depth++;
	ghost_thread_exiting();
	gp_depth--;
	gp_in_task = false;
	errno = saved;
}

/* ---- threads ---- */

struct start {
	void *(*fn)(void *);
	void *arg;
};

/*
 * A new thread enters before the program's code runs in it; at its end (return,
 * pthread_exit, cancellation) libghost's thread-exit hook reports it dead.
 */
static void *start_thread(void *p)
{
	struct start s = *(struct start *)p;

	free(p);
	enter_self();
	return s.fn(s.arg);
}

int pthread_create(pthread_t *restrict th, const pthread_attr_t *restrict attr, void *(*fn)(void *),
		   void *restrict arg)
{
	struct start *s;
	int r;

	/* The library's own threads (its kernel thread) stay outside. */
	if (!__atomic_load_n(&gp_active, __ATOMIC_ACQUIRE) || gp_depth)
		return REAL(pthread_create)(th, attr, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return REAL(pthread_create)(th, attr, fn, arg); /* it runs unscheduled */
	s->fn = fn;
	s->arg = arg;
	r = REAL(pthread_create)(th, attr, start_thread, s);
	if (r)
		free(s);
	return r;
}

/* ---- fork, exec, spawn ---- */

/*
 * vfork: the child would share the parent's memory, this library's thread state with it, and
 * could not enter as a task of its own; under an enclave it is fork (which POSIX allows). Not
 * under one, the C library's vfork must run in the caller's own frame: a tail jump.
 */
pid_t gp_vfork_as_fork(void) __attribute__((visibility("hidden")));
pid_t gp_vfork_as_fork(void)
{
	pid_t pid;
	int saved;

	vforking = true;
	pid = REAL(fork)();
	saved = errno;
	vforking = false;
	errno = saved;
	return pid;
}

void *gp_real_vfork __attribute__((visibility("hidden")));

#if defined(__x86_64__)
__asm__(".text\n"
	".globl vfork\n"
	".type vfork,@function\n"
	"vfork:\n"
	"	cmpb $0, gp_active(%rip)\n"
	"	jne 1f\n"
	"	movq gp_real_vfork(%rip), %rax\n"
	"	testq %rax, %rax\n"
	"	je 1f\n"
	"	jmp *%rax\n"
	"1:	jmp gp_vfork_as_fork\n"
	".size vfork, .-vfork\n");
#elif defined(__aarch64__)
__asm__(".text\n"
	".globl vfork\n"
	".type vfork,%function\n"
	"vfork:\n"
	"	adrp x16, gp_active\n"
	"	ldrb w16, [x16, :lo12:gp_active]\n"
	"	cbnz w16, 1f\n"
	"	adrp x16, gp_real_vfork\n"
	"	ldr x16, [x16, :lo12:gp_real_vfork]\n"
	"	cbz x16, 1f\n"
	"	br x16\n"
	"1:	b gp_vfork_as_fork\n"
	".size vfork, .-vfork\n");
#else
pid_t vfork(void)
{
	return gp_vfork_as_fork();
}
#endif

/*
 * The environment an exec'd image gets: envp plus each of this library's variables it lacks
 * (a program that builds its own environment keeps its children in the enclave). NULL: envp
 * as it is (nothing missing, or no memory). The caller frees it.
 */
static char **exec_env(char *const envp[])
{
	size_t n = 0, add = 0;
	char **out;

	if (!__atomic_load_n(&gp_active, __ATOMIC_ACQUIRE))
		return NULL;
	while (envp && envp[n])
		n++;
	out = malloc((n + NKEEP + 1) * sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = envp[i];
	for (size_t k = 0; k < NKEEP; k++) {
		size_t len = strlen(keep_names[k]);
		bool have = false;

		if (!keep_env[k])
			continue;
		for (size_t i = 0; i < n && !have; i++)
			have = !strncmp(envp[i], keep_names[k], len) && envp[i][len] == '=';
		if (!have)
			out[n + add++] = keep_env[k];
	}
	out[n + add] = NULL;
	if (!add) {
		free(out);
		return NULL;
	}
	return out;
}

/* Before an exec: the task leaves (TASK_DEPARTED); the new image enters as a new one. */
static bool exec_leave(void)
{
	if (!wrap_this_call())
		return false;
	gp_depth++;
	ghost_thread_leave();
	gp_depth--;
	gp_in_task = false;
	return true;
}

/* The exec failed: the thread is still this program's, and enters again. */
static void exec_failed(bool left, char **env)
{
	int saved = errno;

	free(env);
	if (left)
		enter_self();
	errno = saved;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	bool left = exec_leave();
	char **env = exec_env(envp);
	int r = REAL(execve)(path, argv, env ? env : envp);

	exec_failed(left, env);
	return r;
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
	bool left = exec_leave();
	char **env = exec_env(envp);
	int r = REAL(execvpe)(file, argv, env ? env : envp);

	exec_failed(left, env);
	return r;
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
	bool left = exec_leave();
	char **env = exec_env(envp);
	int r = REAL(fexecve)(fd, argv, env ? env : envp);

	exec_failed(left, env);
	return r;
}

int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* The arguments of an execl* call, counted then copied into argv (NULL-terminated). */
#define EXECL_ARGS(first, ap, argv, after)     \
	size_t n_ = 1;                         \
	va_start(ap, first);                   \
	while (va_arg(ap, char *))             \
		n_++;                          \
	va_end(ap);                            \
	char *argv[n_ + 1];                    \
	argv[0] = (char *)(first);             \
	va_start(ap, first);                   \
	for (size_t i_ = 1; i_ <= n_; i_++)    \
		argv[i_] = va_arg(ap, char *); \
	after;                                 \
	va_end(ap)

int execl(const char *path, const char *arg, ...)
{
	va_list ap;

	EXECL_ARGS(arg, ap, argv, (void)0);
	return execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...)
{
	va_list ap;

	EXECL_ARGS(arg, ap, argv, (void)0);
	return execvpe(file, argv, environ);
}

int execle(const char *path, const char *arg, ...)
{
	char *const *envp;
	va_list ap;

	EXECL_ARGS(arg, ap, argv, envp = va_arg(ap, char *const *));
	return execve(path, argv, envp);
}

/*
 * A child started without fork's handlers (posix_spawn, and system and popen through it)
 * inherits the thread's affinity, which the embedded kernel narrowed to the one CPU the task
 * runs on: while the spawning task is off its CPU (it waits for the child's exec anyway),
 * its thread gets back the CPUs it asked for, and the pin after. 0 or -errno of the begin.
 */
struct spawn_state {
	bool begun, widened;
	cpu_set_t pinned;
};

static void spawn_begin(struct spawn_state *s)
{
	struct ghost_cpuset want;
	cpu_set_t set;
	int cpu;

	s->widened = false;
	s->begun = gp_begin();
	if (!s->begun)
		return;
	gp_depth++;
	if (!sched_getaffinity(0, sizeof(s->pinned), &s->pinned) &&
	    !ghost_thread_affinity_of(enclave, ghost_thread_gtid(), &want)) {
		CPU_ZERO(&set);
		ghost_cpuset_for_each(cpu, &want)
			if (cpu < CPU_SETSIZE)
				CPU_SET(cpu, &set);
		s->widened = CPU_COUNT(&set) > 0 && !sched_setaffinity(0, sizeof(set), &set);
	}
	gp_depth--;
}

static void spawn_end(struct spawn_state *s)
{
	int saved = errno;

	if (s->widened)
		sched_setaffinity(0, sizeof(s->pinned), &s->pinned);
	if (s->begun)
		gp_end();
	errno = saved;
}

typedef int spawn_fn(pid_t *restrict, const char *restrict, const posix_spawn_file_actions_t *,
		     const posix_spawnattr_t *restrict, char *const[restrict],
		     char *const[restrict]);

/* posix_spawn and posix_spawnp: the child keeps this library's variables and the CPUs. */
static int spawn(spawn_fn *real, pid_t *restrict pid, const char *restrict what,
		 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *restrict attr,
		 char *const argv[restrict], char *const envp[restrict])
{
	struct spawn_state s;
	char **env = exec_env(envp);
	int r;

	spawn_begin(&s);
	r = real(pid, what, fa, attr, argv, env ? env : envp);
	spawn_end(&s);
	free(env);
	return r;
}

int posix_spawn(pid_t *restrict pid, const char *restrict path,
		const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *restrict attr,
		char *const argv[restrict], char *const envp[restrict])
{
	return spawn(REAL(posix_spawn), pid, path, fa, attr, argv, envp);
}

int posix_spawnp(pid_t *restrict pid, const char *restrict file,
		 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *restrict attr,
		 char *const argv[restrict], char *const envp[restrict])
{
	return spawn(REAL(posix_spawnp), pid, file, fa, attr, argv, envp);
}

int system(const char *cmd)
{
	struct spawn_state s;
	int r;

	spawn_begin(&s);
	r = REAL(system)(cmd);
	spawn_end(&s);
	return r;
}

FILE *popen(const char *cmd, const char *mode)
{
	struct spawn_state s;
	FILE *f;

	spawn_begin(&s);
	f = REAL(popen)(cmd, mode);
	spawn_end(&s);
	return f;
}

void gp_resolve_all(void)
{
	gp_resolve(&gp_real_vfork, "vfork", NULL);
	(void)REAL(write);
	(void)REAL(pthread_create);
	(void)REAL(fork);
	gp_resolve_wrappers();
	gp_resolve_stdio();
}
