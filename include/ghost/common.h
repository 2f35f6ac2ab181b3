/*
 * ghost/common.h - conventions shared by every public libghost header.
 *
 * Every public function returns 0 (or a count) on success and a negative
 * errno on failure; functions that return a pointer return NULL and set
 * errno. The library never exits and never prints: diagnostics go to the
 * log callback installed with ghost_log_set_callback(), and nowhere else.
 */
#ifndef GHOST_COMMON_H
#define GHOST_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The library's release, MAJOR.MINOR.PATCH: the one place it is written (the
 * build reads it from here). MAJOR is the shared library's soname
 * (libghost.so.MAJOR) and changes only when an exported symbol goes away or
 * changes meaning; MINOR grows when symbols are added (src/libghost.map).
 * Not to be confused with GHOST_VERSION (ghost/abi.h), the number of the
 * ghOSt kernel ABI this library speaks.
 */
#define GHOST_LIB_VERSION_MAJOR 0
#define GHOST_LIB_VERSION_MINOR 1
#define GHOST_LIB_VERSION_PATCH 0

/* Marks a symbol exported from libghost.so (everything else is hidden). */
#define GHOST_API __attribute__((visibility("default")))

/* MAX_CPUS of ghost-userspace: per-CPU arrays are sized by it. */
#define GHOST_MAX_CPUS 512

/* The spin-wait hint for busy loops (agents polling a queue, a seqcount):
 * yields the core to its sibling hyperthread and saves power. */
static inline void ghost_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

enum ghost_log_level {
	GHOST_LOG_ERROR = 0,
	GHOST_LOG_WARN = 1,
	GHOST_LOG_INFO = 2,
	GHOST_LOG_DEBUG = 3,
};

typedef void (*ghost_log_fn)(enum ghost_log_level level, const char *msg, void *ctx);

/*
 * Installs the log callback (NULL silences the library, the default) and
 * the most verbose level that reaches it. Thread-safe.
 */
GHOST_API void ghost_log_set_callback(ghost_log_fn fn, void *ctx, enum ghost_log_level max_level);

/* A ready-made callback that writes "libghost: <level>: <msg>" to stderr. */
GHOST_API void ghost_log_stderr(enum ghost_log_level level, const char *msg, void *ctx);

/* strerror() for the negative errno values this library returns. */
GHOST_API const char *ghost_strerror(int negative_errno);

#ifdef __cplusplus
}
#endif

#endif
