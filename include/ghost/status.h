/*
 * ghost/status.h - status words: the kernel's per-task and per-agent state,
 * published in read-only shared memory.
 *
 * Readers take the barrier first with acquire; the kernel publishes flag and
 * runtime changes before it stores a new barrier with release, so a reader
 * that sees barrier B also sees the state that came with B. Accessors are
 * inline: agents call them in their scheduling loop. Nothing here writes a
 * status word (agents free them through the kernel).
 */
#ifndef GHOST_STATUS_H
#define GHOST_STATUS_H

#include <ghost/abi.h>
#include <ghost/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_enclave;

static inline uint32_t ghost_sw_barrier(const struct ghost_status_word *sw)
{
	/* Acquire: pairs with the kernel's store-release of a new barrier. */
	return __atomic_load_n(&sw->barrier, __ATOMIC_ACQUIRE);
}
static inline uint32_t ghost_sw_flags(const struct ghost_status_word *sw)
{
	return __atomic_load_n(&sw->flags, __ATOMIC_ACQUIRE);
}
static inline int64_t ghost_sw_gtid(const struct ghost_status_word *sw)
{
	return (int64_t)__atomic_load_n(&sw->gtid, __ATOMIC_RELAXED);
}
static inline uint64_t ghost_sw_runtime(const struct ghost_status_word *sw)
{
	return __atomic_load_n(&sw->runtime, __ATOMIC_RELAXED);
}
static inline int64_t ghost_sw_switch_time(const struct ghost_status_word *sw)
{
	return __atomic_load_n(&sw->switch_time, __ATOMIC_RELAXED);
}
static inline bool ghost_sw_in_use(const struct ghost_status_word *sw)
{
	return ghost_sw_flags(sw) & GHOST_SW_F_INUSE;
}
static inline bool ghost_sw_can_free(const struct ghost_status_word *sw)
{
	return ghost_sw_flags(sw) & GHOST_SW_F_CANFREE;
}
static inline bool ghost_sw_on_cpu(const struct ghost_status_word *sw)
{
	return ghost_sw_flags(sw) & GHOST_SW_TASK_ONCPU;
}
static inline bool ghost_sw_runnable(const struct ghost_status_word *sw)
{
	return ghost_sw_flags(sw) & GHOST_SW_TASK_RUNNABLE;
}
static inline bool ghost_sw_boosted_priority(const struct ghost_status_word *sw)
{
	return ghost_sw_flags(sw) & GHOST_SW_BOOST_PRIO;
}
static inline bool ghost_sw_cpu_available(const struct ghost_status_word *sw)
{
	return ghost_sw_flags(sw) & GHOST_SW_CPU_AVAIL;
}
static inline bool ghost_sw_is_agent(const struct ghost_status_word *sw)
{
	return ghost_sw_flags(sw) & GHOST_SW_TASK_IS_AGENT;
}

/* A consistent copy of a word: barrier first, then the rest. */
struct ghost_sw_snapshot {
	uint32_t barrier;
	uint32_t flags;
	int64_t gtid;
	int64_t switch_time;
	uint64_t runtime;
};
static inline void ghost_sw_read(const struct ghost_status_word *sw, struct ghost_sw_snapshot *s)
{
	s->barrier = ghost_sw_barrier(sw);
	s->flags = ghost_sw_flags(sw);
	s->gtid = ghost_sw_gtid(sw);
	s->switch_time = ghost_sw_switch_time(sw);
	s->runtime = ghost_sw_runtime(sw);
}

/*
 * The word at (region id, index) of the enclave, mapping the region on
 * first use. NULL with errno ENOENT (no such region) or ERANGE (index past
 * the region's capacity).
 */
GHOST_API const struct ghost_status_word *ghost_sw_lookup(struct ghost_enclave *e,
							  const struct ghost_sw_info *info);
/* The status word of cpu's agent (GHOST_IOC_SW_GET_INFO of GHOST_AGENT). */
GHOST_API int ghost_sw_agent_info(struct ghost_enclave *e, int cpu, struct ghost_sw_info *out);
/* Gives a word back to the kernel once it carries CANFREE (GHOST_IOC_SW_FREE). */
GHOST_API int ghost_sw_free(struct ghost_enclave *e, const struct ghost_sw_info *info);

/*
 * Calls fn for every word in use (INUSE set) in every region of the
 * enclave, in (region, index) order; stops early when fn returns non-zero
 * and passes that value back. Returns 0 when all words were visited.
 */
typedef int (*ghost_sw_visit_fn)(const struct ghost_status_word *sw,
				 const struct ghost_sw_info *info, void *ctx);
GHOST_API int ghost_sw_for_each_in_use(struct ghost_enclave *e, ghost_sw_visit_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
