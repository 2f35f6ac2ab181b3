/*
 * internal.h - helpers shared by the library's own files; never installed.
 */
#ifndef GHOST_INTERNAL_H
#define GHOST_INTERNAL_H

#include <ghost/common.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) void ghost_log(enum ghost_log_level level, const char *fmt,
						     ...);
bool ghost_log_enabled(enum ghost_log_level level);

#define ghost_err(...)	ghost_log(GHOST_LOG_ERROR, __VA_ARGS__)
#define ghost_warn(...) ghost_log(GHOST_LOG_WARN, __VA_ARGS__)
#define ghost_info(...) ghost_log(GHOST_LOG_INFO, __VA_ARGS__)
#define ghost_dbg(...)	ghost_log(GHOST_LOG_DEBUG, __VA_ARGS__)

#define GHOST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Options that grow (every public *_opts struct starts with size_t sz):
 * copies the caller's struct into ours (dst, ours bytes) so that a field the
 * caller's version does not have reads as zero, which always means "the
 * default". sz 0 is a caller built against this header that did not set it
 * (a zeroed struct: all defaults); a smaller sz is an older caller; a larger
 * one a newer caller, accepted only if every byte we do not know is zero
 * (-E2BIG otherwise: it asked for something this library cannot do), and
 * never past GHOST_OPTS_MAX_SZ (-E2BIG without reading: no options struct
 * grows that far, so such an sz is garbage). NULL src: all defaults.
 * Growing a struct: new fields go after the last one, never into the tail
 * padding an older caller has (its bytes there are not known to be zero).
 */
#define GHOST_OPTS_MAX_SZ 4096

static inline int ghost_opts_copy(void *dst, size_t ours, const void *src)
{
	size_t sz = 0;

	memset(dst, 0, ours);
	if (!src)
		return 0;
	memcpy(&sz, src, sizeof(sz));
	if (sz == 0)
		sz = ours;
	if (sz < sizeof(size_t))
		return -EINVAL;
	if (sz > GHOST_OPTS_MAX_SZ)
		return -E2BIG;
	for (size_t i = ours; i < sz; i++)
		if (((const unsigned char *)src)[i])
			return -E2BIG;
	memcpy(dst, src, sz < ours ? sz : ours);
	memcpy(dst, &ours, sizeof(ours)); /* from here on, ours in full */
	return 0;
}

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
 * The clock (clock.c): CLOCK_MONOTONIC ns, or, in a thread where a simulator
 * installed a virtual clock, that clock's now_ns. agent_cpu is the CPU whose
 * agent the simulator runs at the moment (-1: none): the trace recorder
 * files its records under it.
 */
struct ghost_vclock {
	int64_t now_ns;
	int agent_cpu;
};
void ghost_vclock_set(struct ghost_vclock *vc);
struct ghost_vclock *ghost_vclock_get(void);
int64_t ghost_clock_now(void);

/*
 * A section of the calling thread that its enclave must not preempt it in
 * (it holds something other threads spin or wait for): a preemption that
 * arrives meanwhile takes effect when the outermost section ends. No-ops for
 * a thread that is no user-scheduled ghost task. Nests. (thread.c)
 */
void ghost_nopreempt_enter(void);
void ghost_nopreempt_leave(void);

#endif
