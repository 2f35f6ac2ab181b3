/*
 * interpose/wrap.c - the calls of an unmodified program that may block, made visible to the
 * agent: locks, condition variables, barriers, semaphores, joins, sleeps, polls, reads and
 * writes of blocking descriptors, waits for children, futex waits through syscall(2).
 *
 * Each wrapper first tries the call in a form that cannot block (trylock, a zero timeout,
 * WNOHANG, a zero-timeout poll of the descriptor): what would not block costs that try and
 * nothing else. Only a call that will block is bracketed by gp_begin/gp_end (TASK_BLOCKED
 * before, TASK_WAKEUP after). What the program sees is what the C library returned: the same
 * value, the same errno (the tries restore it), the same signal behaviour (EINTR, SA_RESTART:
 * the real call is the one that waits). Accepted race: a descriptor found not ready may
 * become ready before the real call, and one found ready may be drained by another thread
 * first; either way the real call decides, at worst without the bracket. A wrapper runs in a
 * signal handler as the function it replaces does: the tries are async-signal-safe, and so
 * is the bracket (the library refuses it while the thread is inside itself).
 */
#include "preload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The version of the condition variable functions that programs link (the old one differs). */
#if defined(__x86_64__)
#define COND_VERSION "GLIBC_2.3.2"
#else
#define COND_VERSION NULL
#endif

REAL_DECL(pthread_mutex_lock);
REAL_DECL(pthread_mutex_trylock);
REAL_DECL(pthread_mutex_timedlock);
REAL_DECL(pthread_cond_wait);
REAL_DECL(pthread_cond_timedwait);
REAL_DECL(pthread_rwlock_rdlock);
REAL_DECL(pthread_rwlock_wrlock);
REAL_DECL(pthread_rwlock_tryrdlock);
REAL_DECL(pthread_rwlock_trywrlock);
REAL_DECL(pthread_rwlock_timedrdlock);
REAL_DECL(pthread_rwlock_timedwrlock);
REAL_DECL(pthread_barrier_wait);
REAL_DECL(sem_wait);
REAL_DECL(sem_trywait);
REAL_DECL(sem_timedwait);
REAL_DECL(pthread_join);
REAL_DECL(pthread_tryjoin_np);
REAL_DECL(pthread_timedjoin_np);
REAL_DECL(sleep);
REAL_DECL(usleep);
REAL_DECL(nanosleep);
REAL_DECL(clock_nanosleep);
REAL_DECL(poll);
REAL_DECL(ppoll);
REAL_DECL(select);
REAL_DECL(pselect);
REAL_DECL(epoll_wait);
REAL_DECL(epoll_pwait);
REAL_DECL(read);
REAL_DECL(readv);
REAL_DECL(write);
REAL_DECL(writev);
REAL_DECL(recv);
REAL_DECL(recvfrom);
REAL_DECL(recvmsg);
REAL_DECL(send);
REAL_DECL(sendto);
REAL_DECL(sendmsg);
REAL_DECL(accept);
REAL_DECL(accept4);
REAL_DECL(connect);
REAL_DECL(waitid);
REAL_DECL(wait4);
REAL_DECL(syscall);
REAL_DECL(pclose);
REAL_DECL(pause);
REAL_DECL(sigsuspend);
REAL_DECL(sigwait);
REAL_DECL(sigwaitinfo);
REAL_DECL(sigtimedwait);

/* ---- locks ---- */

int pthread_mutex_lock(pthread_mutex_t *m)
{
	int r;

	if (!wrap_this_call())
		return REAL(pthread_mutex_lock)(m);
	/* Anything but "held by someone else" is the answer lock would give too (0, EOWNERDEAD...). */
	r = REAL(pthread_mutex_trylock)(m);
	if (r != EBUSY)
		return r;
	return BLOCKING(REAL(pthread_mutex_lock)(m));
}

int pthread_mutex_timedlock(pthread_mutex_t *restrict m, const struct timespec *restrict ts)
{
	int r;

	if (!wrap_this_call())
		return REAL(pthread_mutex_timedlock)(m, ts);
	r = REAL(pthread_mutex_trylock)(m);
	if (r != EBUSY)
		return r;
	return BLOCKING(REAL(pthread_mutex_timedlock)(m, ts));
}

int pthread_cond_wait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m)
{
	if (!wrap_this_call())
		return REAL_V(pthread_cond_wait, COND_VERSION)(c, m);
	return BLOCKING(REAL_V(pthread_cond_wait, COND_VERSION)(c, m));
}

int pthread_cond_timedwait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m,
			   const struct timespec *restrict ts)
{
	if (!wrap_this_call())
		return REAL_V(pthread_cond_timedwait, COND_VERSION)(c, m, ts);
	return BLOCKING(REAL_V(pthread_cond_timedwait, COND_VERSION)(c, m, ts));
}

/* A lock with a try form: the try, then the bracketed call if it was busy. */
#define TRY_THEN_BLOCK(try_call, call) \
	do {                           \
		int r_;                \
		if (!wrap_this_call()) \
			return call;   \
		r_ = try_call;         \
		if (r_ != EBUSY)       \
			return r_;     \
		return BLOCKING(call); \
	} while (0)

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	TRY_THEN_BLOCK(REAL(pthread_rwlock_tryrdlock)(l), REAL(pthread_rwlock_rdlock)(l));
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	TRY_THEN_BLOCK(REAL(pthread_rwlock_trywrlock)(l), REAL(pthread_rwlock_wrlock)(l));
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t *restrict l, const struct timespec *restrict ts)
{
	TRY_THEN_BLOCK(REAL(pthread_rwlock_tryrdlock)(l), REAL(pthread_rwlock_timedrdlock)(l, ts));
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *restrict l, const struct timespec *restrict ts)
{
	TRY_THEN_BLOCK(REAL(pthread_rwlock_trywrlock)(l), REAL(pthread_rwlock_timedwrlock)(l, ts));
}

int pthread_join(pthread_t t, void **ret)
{
	TRY_THEN_BLOCK(REAL(pthread_tryjoin_np)(t, ret), REAL(pthread_join)(t, ret));
}

int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *ts)
{
	TRY_THEN_BLOCK(REAL(pthread_tryjoin_np)(t, ret), REAL(pthread_timedjoin_np)(t, ret, ts));
}

/* The last thread to arrive does not block; nobody can tell which one that is beforehand. */
int pthread_barrier_wait(pthread_barrier_t *b)
{
	if (!wrap_this_call())
		return REAL(pthread_barrier_wait)(b);
	return BLOCKING(REAL(pthread_barrier_wait)(b));
}

/* sem_trywait's EAGAIN is the try's, not the caller's: errno as it was. */
static bool sem_got(sem_t *s)
{
	int saved = errno;

	if (REAL(sem_trywait)(s) == 0)
		return true;
	errno = saved;
	return false;
}

int sem_wait(sem_t *s)
{
	if (!wrap_this_call())
		return REAL(sem_wait)(s);
	if (sem_got(s))
		return 0;
	return BLOCKING(REAL(sem_wait)(s));
}

int sem_timedwait(sem_t *restrict s, const struct timespec *restrict ts)
{
	if (!wrap_this_call())
		return REAL(sem_timedwait)(s, ts);
	if (sem_got(s))
		return 0;
	return BLOCKING(REAL(sem_timedwait)(s, ts));
}

/* ---- sleeps ---- */

static bool ts_zero(const struct timespec *ts)
{
	return ts && ts->tv_sec == 0 && ts->tv_nsec == 0;
}

unsigned int sleep(unsigned int s)
{
	if (!wrap_this_call() || s == 0)
		return REAL(sleep)(s);
	return BLOCKING(REAL(sleep)(s));
}

int usleep(useconds_t us)
{
	if (!wrap_this_call() || us == 0)
		return REAL(usleep)(us);
	return BLOCKING(REAL(usleep)(us));
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!wrap_this_call() || !req || ts_zero(req))
		return REAL(nanosleep)(req, rem);
	return BLOCKING(REAL(nanosleep)(req, rem));
}

int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
	if (!wrap_this_call() || !req || (!(flags & TIMER_ABSTIME) && ts_zero(req)))
		return REAL(clock_nanosleep)(clk, flags, req, rem);
	return BLOCKING(REAL(clock_nanosleep)(clk, flags, req, rem));
}

/* ---- polls ---- */

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int r;

	if (!wrap_this_call() || timeout == 0)
		return REAL(poll)(fds, n, timeout);
	/* Ready now (or an error): exactly what the call would have said at once. */
	r = REAL(poll)(fds, n, 0);
	if (r != 0)
		return r;
	return BLOCKING(REAL(poll)(fds, n, timeout));
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	static const struct timespec zero;
	int r;

	if (!wrap_this_call() || ts_zero(ts))
		return REAL(ppoll)(fds, n, ts, mask);
	r = REAL(ppoll)(fds, n, &zero, mask);
	if (r != 0)
		return r;
	return BLOCKING(REAL(ppoll)(fds, n, ts, mask));
}

/* The sets select overwrites, kept for the second call. */
struct fdsets {
	fd_set r, w, e;
};

static void sets_save(struct fdsets *s, fd_set *r, fd_set *w, fd_set *e)
{
	if (r)
		s->r = *r;
	if (w)
		s->w = *w;
	if (e)
		s->e = *e;
}

static void sets_restore(const struct fdsets *s, fd_set *r, fd_set *w, fd_set *e)
{
	if (r)
		*r = s->r;
	if (w)
		*w = s->w;
	if (e)
		*e = s->e;
}

int select(int n, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
	   struct timeval *restrict tv)
{
	struct timeval zero = { 0, 0 };
	struct fdsets saved;
	int ret;

	if (!wrap_this_call() || (tv && tv->tv_sec == 0 && tv->tv_usec == 0))
		return REAL(select)(n, r, w, e, tv);
	sets_save(&saved, r, w, e);
	ret = REAL(select)(n, r, w, e, &zero);
	if (ret != 0)
		return ret;
	sets_restore(&saved, r, w, e);
	return BLOCKING(REAL(select)(n, r, w, e, tv));
}

int pselect(int n, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
	    const struct timespec *restrict ts, const sigset_t *restrict mask)
{
	static const struct timespec zero;
	struct fdsets saved;
	int ret;

	if (!wrap_this_call() || ts_zero(ts))
		return REAL(pselect)(n, r, w, e, ts, mask);
	sets_save(&saved, r, w, e);
	ret = REAL(pselect)(n, r, w, e, &zero, mask);
	if (ret != 0)
		return ret;
	sets_restore(&saved, r, w, e);
	return BLOCKING(REAL(pselect)(n, r, w, e, ts, mask));
}

int epoll_wait(int ep, struct epoll_event *ev, int max, int timeout)
{
	int r;

	if (!wrap_this_call() || timeout == 0)
		return REAL(epoll_wait)(ep, ev, max, timeout);
	r = REAL(epoll_wait)(ep, ev, max, 0);
	if (r != 0)
		return r;
	return BLOCKING(REAL(epoll_wait)(ep, ev, max, timeout));
}

int epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
	int r;

	if (!wrap_this_call() || timeout == 0)
		return REAL(epoll_pwait)(ep, ev, max, timeout, mask);
	r = REAL(epoll_pwait)(ep, ev, max, 0, mask);
	if (r != 0)
		return r;
	return BLOCKING(REAL(epoll_pwait)(ep, ev, max, timeout, mask));
}

/* ---- descriptors ---- */

/*
 * Would an I/O call for events on fd block now? Not if a zero-timeout poll finds it ready
 * (regular files always are) or in error, nor if it is non-blocking (the call returns
 * EAGAIN at once). Two system calls only on the way to a wait. errno as it was.
 */
bool gp_fd_would_block(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int saved = errno, fl;
	bool block;

	if (REAL(poll)(&p, 1, 0) != 0) {
		errno = saved;
		return false;
	}
	fl = fcntl(fd, F_GETFL);
	block = fl >= 0 && !(fl & O_NONBLOCK);
	errno = saved;
	return block;
}

bool gp_fd_may_block(int fd)
{
	struct stat st;
	int saved = errno, fl;
	bool block;

	fl = fcntl(fd, F_GETFL);
	block = fl >= 0 && !(fl & O_NONBLOCK) && !fstat(fd, &st) && !S_ISREG(st.st_mode) &&
		!S_ISBLK(st.st_mode);
	errno = saved;
	return block;
}

/*
 * Returns call, bracketed only if waits (evaluated only for a call this library treats) says
 * it will wait.
 */
#define CALL_BRACKETED_IF(waits, call)             \
	do {                                       \
		if (!wrap_this_call() || !(waits)) \
			return call;               \
		return BLOCKING(call);             \
	} while (0)

/* An I/O call on fd: bracketed only if it will wait for events. */
#define FD_CALL(fd, events, call) CALL_BRACKETED_IF(gp_fd_would_block(fd, events), call)

/*
 * A write of n bytes: poll's "writable" promises room for PIPE_BUF bytes, no more; a longer
 * write to a blocking pipe or socket may wait for the rest, and is bracketed.
 */
static bool write_would_block(int fd, size_t n)
{
	return n > PIPE_BUF ? gp_fd_may_block(fd) : gp_fd_would_block(fd, POLLOUT);
}

static size_t iov_len(const struct iovec *iov, int n)
{
	size_t len = 0;

	for (int i = 0; i < n && iov; i++)
		len += iov[i].iov_len;
	return len;
}

#define WRITE_CALL(fd, n, call) CALL_BRACKETED_IF(write_would_block(fd, n), call)

/* A socket call with flags: MSG_DONTWAIT never waits. */
#define SOCK_CALL(fd, events, flags, call) \
	CALL_BRACKETED_IF(!((flags)&MSG_DONTWAIT) && gp_fd_would_block(fd, events), call)

ssize_t read(int fd, void *buf, size_t n)
{
	FD_CALL(fd, POLLIN, REAL(read)(fd, buf, n));
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
	FD_CALL(fd, POLLIN, REAL(readv)(fd, iov, n));
}

ssize_t write(int fd, const void *buf, size_t n)
{
	WRITE_CALL(fd, n, REAL(write)(fd, buf, n));
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	WRITE_CALL(fd, iov_len(iov, n), REAL(writev)(fd, iov, n));
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	SOCK_CALL(fd, POLLIN, flags, REAL(recv)(fd, buf, n, flags));
}

ssize_t recvfrom(int fd, void *restrict buf, size_t n, int flags, struct sockaddr *restrict a,
		 socklen_t *restrict alen)
{
	SOCK_CALL(fd, POLLIN, flags, REAL(recvfrom)(fd, buf, n, flags, a, alen));
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	SOCK_CALL(fd, POLLIN, flags, REAL(recvmsg)(fd, msg, flags));
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	SOCK_CALL(fd, POLLOUT, flags, REAL(send)(fd, buf, n, flags));
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
	       socklen_t alen)
{
	SOCK_CALL(fd, POLLOUT, flags, REAL(sendto)(fd, buf, n, flags, a, alen));
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	SOCK_CALL(fd, POLLOUT, flags, REAL(sendmsg)(fd, msg, flags));
}

int accept(int fd, struct sockaddr *restrict a, socklen_t *restrict alen)
{
	FD_CALL(fd, POLLIN, REAL(accept)(fd, a, alen));
}

int accept4(int fd, struct sockaddr *restrict a, socklen_t *restrict alen, int flags)
{
	FD_CALL(fd, POLLIN, REAL(accept4)(fd, a, alen, flags));
}

/* A socket not yet connected polls ready: only a non-blocking one is sure not to wait. */
int connect(int fd, const struct sockaddr *a, socklen_t alen)
{
	int saved = errno, fl;

	if (!wrap_this_call())
		return REAL(connect)(fd, a, alen);
	fl = fcntl(fd, F_GETFL);
	errno = saved;
	if (fl < 0 || (fl & O_NONBLOCK))
		return REAL(connect)(fd, a, alen);
	return BLOCKING(REAL(connect)(fd, a, alen));
}

/* The fortified forms a program built with _FORTIFY_SOURCE calls instead; a size past the
 * buffer ends the program as the C library's own check does. */
extern void __chk_fail(void) __attribute__((noreturn));

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__chk_fail();
	return recv(fd, buf, n, flags);
}

ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *restrict a, socklen_t *restrict alen);
ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *restrict a, socklen_t *restrict alen)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, a, alen);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, ts, mask);
}

/* ---- children ---- */

pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	pid_t r;

	if (!wrap_this_call() || (options & WNOHANG))
		return REAL(wait4)(pid, status, options, ru);
	/* A child that changed state already (or no child at all): the answer at once. */
	r = REAL(wait4)(pid, status, options | WNOHANG, ru);
	if (r != 0)
		return r;
	return BLOCKING(REAL(wait4)(pid, status, options, ru));
}

pid_t waitpid(pid_t pid, int *status, int options)
{
	return wait4(pid, status, options, NULL);
}

pid_t wait(int *status)
{
	return wait4(-1, status, 0, NULL);
}

pid_t wait3(int *status, int options, struct rusage *ru)
{
	return wait4(-1, status, options, ru);
}

int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	siginfo_t local;
	siginfo_t *ip = info ? info : &local;
	int r;

	if (!wrap_this_call() || (options & WNOHANG))
		return REAL(waitid)(type, id, info, options);
	memset(ip, 0, sizeof(*ip));
	r = REAL(waitid)(type, id, ip, options | WNOHANG);
	if (r != 0 || ip->si_pid != 0)
		return r;
	return BLOCKING(REAL(waitid)(type, id, info, options));
}

/* pclose waits for the command to end. */
int pclose(FILE *f)
{
	if (!wrap_this_call())
		return REAL(pclose)(f);
	return BLOCKING(REAL(pclose)(f));
}

/* ---- waits for a signal ---- */

int pause(void)
{
	if (!wrap_this_call())
		return REAL(pause)();
	return BLOCKING(REAL(pause)());
}

int sigsuspend(const sigset_t *mask)
{
	if (!wrap_this_call())
		return REAL(sigsuspend)(mask);
	return BLOCKING(REAL(sigsuspend)(mask));
}

int sigwait(const sigset_t *restrict set, int *restrict sig)
{
	if (!wrap_this_call())
		return REAL(sigwait)(set, sig);
	return BLOCKING(REAL(sigwait)(set, sig));
}

int sigwaitinfo(const sigset_t *restrict set, siginfo_t *restrict info)
{
	if (!wrap_this_call())
		return REAL(sigwaitinfo)(set, info);
	return BLOCKING(REAL(sigwaitinfo)(set, info));
}

/* A zero timeout only polls the pending set. */
int sigtimedwait(const sigset_t *restrict set, siginfo_t *restrict info,
		 const struct timespec *restrict ts)
{
	if (!wrap_this_call() || ts_zero(ts))
		return REAL(sigtimedwait)(set, info, ts);
	return BLOCKING(REAL(sigtimedwait)(set, info, ts));
}

/* ---- futex waits through syscall(2) ---- */

static bool futex_waits(long op)
{
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
	case FUTEX_WAIT_REQUEUE_PI:
	case FUTEX_LOCK_PI:
#ifdef FUTEX_LOCK_PI2
	case FUTEX_LOCK_PI2:
#endif
		return true;
	default:
		return false;
	}
}

/*
 * Every system call number goes through with six arguments (the kernel ignores the ones a
 * call does not take); a futex wait is bracketed. Its value is not checked first: reading the
 * word could fault where the system call returns EFAULT.
 */
long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr != SYS_futex || !wrap_this_call() || !futex_waits(a[1]))
		return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return BLOCKING(REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}

/* Every function above looked up once, before the program runs (a first call from a signal
 * handler would otherwise look it up there). */
void gp_resolve_wrappers(void)
{
	(void)REAL(pthread_mutex_lock), (void)REAL(pthread_mutex_trylock);
	(void)REAL(pthread_mutex_timedlock), (void)REAL_V(pthread_cond_wait, COND_VERSION);
	(void)REAL_V(pthread_cond_timedwait, COND_VERSION), (void)REAL(pthread_rwlock_rdlock);
	(void)REAL(pthread_rwlock_wrlock), (void)REAL(pthread_rwlock_tryrdlock);
	(void)REAL(pthread_rwlock_trywrlock), (void)REAL(pthread_rwlock_timedrdlock);
	(void)REAL(pthread_rwlock_timedwrlock), (void)REAL(pthread_barrier_wait);
	(void)REAL(sem_wait), (void)REAL(sem_trywait), (void)REAL(sem_timedwait);
	(void)REAL(pthread_join), (void)REAL(pthread_tryjoin_np), (void)REAL(pthread_timedjoin_np);
	(void)REAL(sleep), (void)REAL(usleep), (void)REAL(nanosleep), (void)REAL(clock_nanosleep);
	(void)REAL(poll), (void)REAL(ppoll), (void)REAL(select), (void)REAL(pselect);
	(void)REAL(epoll_wait), (void)REAL(epoll_pwait), (void)REAL(read), (void)REAL(readv);
	(void)REAL(write), (void)REAL(writev), (void)REAL(recv), (void)REAL(recvfrom);
	(void)REAL(recvmsg), (void)REAL(send), (void)REAL(sendto), (void)REAL(sendmsg);
	(void)REAL(accept), (void)REAL(accept4), (void)REAL(connect);
	(void)REAL(waitid), (void)REAL(wait4), (void)REAL(syscall), (void)REAL(pclose);
	(void)REAL(pause), (void)REAL(sigsuspend), (void)REAL(sigwait), (void)REAL(sigwaitinfo);
	(void)REAL(sigtimedwait);
}
