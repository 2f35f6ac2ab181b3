/*
 * clock.c - the library's clock: CLOCK_MONOTONIC, or a virtual clock that a
 * simulator installs in the one thread it runs in.
 *
 * Owns the per-thread virtual clock pointer. Everything that asks for the
 * time (ghost_now_ns, the embedded kernel's emu_now, the trace recorder)
 * asks here, so that code run by a simulator sees simulated time and every
 * other thread of the process the real one. Never blocks, never prints.
 */
#include "internal.h"

#include <time.h>

static __thread struct ghost_vclock *vclock;

void ghost_vclock_set(struct ghost_vclock *vc)
{
	vclock = vc;
}

struct ghost_vclock *ghost_vclock_get(void)
{
	return vclock;
}

int64_t ghost_clock_now(void)
{
	struct timespec ts;

	if (__builtin_expect(vclock != NULL, 0))
		return vclock->now_ns;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
