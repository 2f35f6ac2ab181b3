/*
 * discover.c - an agent taking over a live enclave learns its tasks.
 *
 * Owns ghost_sched_discover: the kernel re-sends TASK_NEW for every task of
 * the enclave ("discover tasks"), which the scheduler base then dispatches
 * like any other message. Status words of tasks that died meanwhile are
 * freed. It never invents a task the kernel did not report. (Adopting tasks
 * from their status words, which writes nothing into the rings, is the
 * scheduler base's: sched.c.)
 */
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/channel.h>
#include <ghost/sched.h>
#include <ghost/status.h>

#include <errno.h>
#include <string.h>

static int free_orphan(const struct ghost_status_word *sw, const struct ghost_sw_info *info,
		       void *ctx)
{
	struct ghost_sched *s = ctx;

	/* A word whose task died or left before we came: nobody else frees it. */
	if (!ghost_sw_is_agent(sw) && ghost_sw_can_free(sw) &&
	    !ghost_task_table_find(&s->tasks, ghost_sw_gtid(sw)))
		ghost_sw_free(s->enclave, info);
	return 0;
}

int ghost_sched_discover(struct ghost_sched *s)
{
	int n;

	if (!s || !s->enclave)
		return -EINVAL;
	ghost_sw_for_each_in_use(s->enclave, free_orphan, s);
	n = ghost_enclave_ctl(s->enclave, "discover tasks");
	if (n < 0)
		ghost_err("enclave %llu: task discovery failed: %s",
			  (unsigned long long)ghost_enclave_id(s->enclave), ghost_strerror(n));
	return n;
}
