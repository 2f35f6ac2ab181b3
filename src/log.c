/*
 * log.c - the library's only way to say anything: a user-installed callback.
 *
 * Owns the callback pointer and the level filter. Must never write to a
 * stream on its own: with no callback installed, messages are dropped.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static ghost_log_fn log_fn;
static void *log_ctx;
static int log_max = GHOST_LOG_WARN;

void ghost_log_set_callback(ghost_log_fn fn, void *ctx, enum ghost_log_level max_level)
{
	/* Relaxed is enough: a message racing with the change may go either way. */
	__atomic_store_n(&log_ctx, ctx, __ATOMIC_RELAXED);
	__atomic_store_n(&log_max, (int)max_level, __ATOMIC_RELAXED);
	__atomic_store_n(&log_fn, fn, __ATOMIC_RELEASE);
}

void ghost_log_stderr(enum ghost_log_level level, const char *msg, void *ctx)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	(void)ctx;
	fprintf(stderr, "libghost: %s: %s\n", names[level & 3], msg);
}

bool ghost_log_enabled(enum ghost_log_level level)
{
	return __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE) &&
	       (int)level <= __atomic_load_n(&log_max, __ATOMIC_RELAXED);
}

void ghost_log(enum ghost_log_level level, const char *fmt, ...)
{
	ghost_log_fn fn = __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE);
	char buf[512];
	va_list ap;

	if (!fn || (int)level > __atomic_load_n(&log_max, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(level, buf, __atomic_load_n(&log_ctx, __ATOMIC_RELAXED));
}

const char *ghost_strerror(int negative_errno)
{
	return strerror(negative_errno < 0 ? -negative_errno : negative_errno);
}
