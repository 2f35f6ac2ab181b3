/*
 * internal.h - helpers shared by the library's own files; never installed.
 */
#ifndef GHOST_INTERNAL_H
#define GHOST_INTERNAL_H

#include <ghost/common.h>

__attribute__((format(printf, 2, 3))) void ghost_log(enum ghost_log_level level, const char *fmt,
						     ...);
bool ghost_log_enabled(enum ghost_log_level level);

#define ghost_err(...) ghost_log(GHOST_LOG_ERROR, __VA_ARGS__)
#define ghost_warn(...) ghost_log(GHOST_LOG_WARN, __VA_ARGS__)
#define ghost_info(...) ghost_log(GHOST_LOG_INFO, __VA_ARGS__)
#define ghost_dbg(...) ghost_log(GHOST_LOG_DEBUG, __VA_ARGS__)

#define GHOST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* splitmix64's finaliser: spreads every bit of x over the result (hashing). */
static inline uint64_t ghost_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * A section of the calling thread that its enclave must not preempt it in
 * (it holds something other threads spin or wait for): a preemption that
 * arrives meanwhile takes effect when the outermost section ends. No-ops for
 * a thread that is no user-scheduled ghost task. Nests. (thread.c)
 */
void ghost_nopreempt_enter(void);
void ghost_nopreempt_leave(void);

#endif
