/*
 * ghost/kernel.h - the kernel backends a program can choose: find, list,
 * probe, capabilities, names.
 *
 * Everything in libghost reaches "the kernel" through one ops table per
 * backend (the embedded user-space kernel, the sched_ext BPF scheduler,
 * Google's ghOSt kernel through ghostfs, ...). To programs a backend is an
 * opaque handle: they pick one by name (or take the default), ask whether it
 * can run here and what it can do, and hand its name to ghost_enclave_create.
 * The ops table itself is private to the library and its backends
 * (src/backend.h); nothing here exposes it.
 */
#ifndef GHOST_KERNEL_H
#define GHOST_KERNEL_H

#include <ghost/common.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A backend (opaque outside the library). */
struct ghost_kernel_ops;

/*
 * Enclave ids are 1..GHOST_ENCLAVE_ID_MAX; status-word regions 0..GHOST_SW_REGION_ID_MAX
 * (the library maps no others), NUMA nodes 0..GHOST_NUMA_NODE_MAX. The library, the tools
 * and the backends refuse anything outside with -EINVAL (the tools: exit status 2); nothing
 * is wrapped or truncated.
 */
#define GHOST_ENCLAVE_ID_MAX   (1ull << 40)
#define GHOST_SW_REGION_ID_MAX 63
#define GHOST_NUMA_NODE_MAX    1023

/*
 * What a backend can do (ghost_kernel_caps). A program asks these instead of
 * guessing from a backend's name.
 */
/* Schedules in user space: only threads that call libghost become ghost tasks, and they
 * block, wake and yield through the library (the embedded kernel). */
#define GHOST_KCAP_USER_TASKS	 (1ull << 0)
/* Any thread of the machine can be moved into an enclave (ghostctl tasks add, run CMD). */
#define GHOST_KCAP_FOREIGN_TASKS (1ull << 1)
/* An enclave outlives the process of its agent (ghost-agent --keep, --attach). */
#define GHOST_KCAP_PERSISTENT	 (1ull << 2)
/* "discover tasks": an agent taking over a live enclave learns its tasks again. */
#define GHOST_KCAP_DISCOVERY	 (1ull << 3)
/* Status-word regions beyond region 0 ("create sw_region <id> <node>"). */
#define GHOST_KCAP_SW_REGIONS	 (1ull << 4)
/* Per-CPU ghost timers (MSG_CPU_TIMER_EXPIRED). */
#define GHOST_KCAP_TIMERS	 (1ull << 5)
/* The kernel side can stop by itself and says why (ghost_enclave_exit_state). */
#define GHOST_KCAP_SELF_EXIT	 (1ull << 6)
/* A simulator: virtual CPUs and time, model tasks; the agents run inside it (ghost/sim.h). */
#define GHOST_KCAP_VIRTUAL	 (1ull << 7)

/* Every backend compiled into the library, NULL-terminated, in preference order. */
GHOST_API const struct ghost_kernel_ops *const *ghost_kernel_all(void);
/* The backend called name (NULL or "" = ghost_kernel_default()); NULL if there is none. */
GHOST_API const struct ghost_kernel_ops *ghost_kernel_find(const char *name);
/*
 * The default backend: $GHOST_KERNEL if set, else "emu". A $GHOST_KERNEL that
 * names no backend returns NULL (ghost_kernel_choose says why).
 */
GHOST_API const struct ghost_kernel_ops *ghost_kernel_default(void);
/*
 * The backend called name, or the default when name is NULL or "": 0 with
 * *out set, or -ENOENT with a sentence in why naming what was asked for
 * (argument or $GHOST_KERNEL) and every known backend.
 */
GHOST_API int ghost_kernel_choose(const char *name, const struct ghost_kernel_ops **out, char *why,
				  size_t why_len);

/* A backend's name ("emu", "scx", ...) and one-line summary. */
GHOST_API const char *ghost_kernel_name(const struct ghost_kernel_ops *k);
GHOST_API const char *ghost_kernel_summary(const struct ghost_kernel_ops *k);
/* Its GHOST_KCAP_* flags (0 for an unusable table). */
GHOST_API uint64_t ghost_kernel_caps(const struct ghost_kernel_ops *k);
/*
 * Can backend k run here (root: a namespace root, NULL = its default)? 0, or
 * a negative errno with a sentence in why: -ENODEV for a backend that is not
 * built in or whose table is incomplete, the backend's own reason otherwise.
 */
GHOST_API int ghost_kernel_probe(const struct ghost_kernel_ops *k, const char *root, char *why,
				 size_t why_len);
/*
 * The live enclaves of backend k under root (NULL = its default): fills up to
 * max ids and returns how many exist, or a negative errno (-ENODEV: k cannot
 * be used here).
 */
GHOST_API int ghost_kernel_list_enclaves(const struct ghost_kernel_ops *k, const char *root,
					 uint64_t *ids, int max);

#ifdef __cplusplus
}
#endif

#endif
