/*
 * interpose/preload.h - what the two halves of libghost-preload.so share: the C library's own
 * functions behind the ones it replaces, the calling thread's state, and the foreign-wait
 * bracket around a call that may block.
 *
 * The interposer sits above libghost and uses only its public API (include/ghost/). Its own
 * copy of the library is linked in, hidden: that copy's calls to the functions replaced here
 * come back through them, which is why every wrapper first asks wrap_this_call().
 */
#ifndef GHOST_PRELOAD_H
#define GHOST_PRELOAD_H

#include <stdbool.h>

/* The next definition of name after this library (the C library's), looked up once. */
void *gp_resolve(void **slot, const char *name, const char *version);
#define REAL_DECL(name)	  static __typeof__(&name) real_##name
#define REAL(name)	  ((__typeof__(&name))gp_resolve((void **)&real_##name, #name, NULL))
#define REAL_V(name, ver) ((__typeof__(&name))gp_resolve((void **)&real_##name, #name, ver))

/* Look every replaced function up (the constructor, before the program runs). */
void gp_resolve_wrappers(void);
void gp_resolve_stdio(void);

/*
 * Would an I/O call for events (POLLIN, POLLOUT) on fd wait now? Not if a zero-timeout poll
 * finds it ready or in error, nor if it is non-blocking. errno as it was.
 */
bool gp_fd_would_block(int fd, short events);
/* Can a call on fd wait at all (a blocking pipe, socket, terminal; not a file)? errno as it was. */
bool gp_fd_may_block(int fd);

/* Is the calling thread a ghost task of the enclave (it entered through this library)? */
extern __thread bool gp_in_task __attribute__((tls_model("initial-exec")));
/* Calls into libghost under way in this thread: its own calls to wrapped functions go through. */
extern __thread int gp_depth __attribute__((tls_model("initial-exec")));

/* Should this call be treated (a ghost task, outside the library)? Two thread-local loads. */
static inline bool wrap_this_call(void)
{
	return gp_in_task && !gp_depth;
}

/*
 * The foreign-wait bracket: gp_begin gives the CPU back before a call that will block (true:
 * gp_end must follow the call), gp_end waits to be put on a CPU again. Neither changes errno.
 */
bool gp_begin(void);
void gp_end(void);

/*
 * BLOCKING(expr): evaluates expr, a call that may block, inside the bracket (when the thread
 * is a ghost task that may give its CPU up now; else plainly), and yields its value.
 */
#define BLOCKING(expr)                           \
	({                                       \
		bool gp_b_ = gp_begin();         \
		__typeof__(expr) gp_r_ = (expr); \
		if (gp_b_)                       \
			gp_end();                \
		gp_r_;                           \
	})

#endif
