/*
 * discover.c - an agent taking over a live enclave learns its tasks.
 *
 * Owns ghost_sched_discover: the kernel re-sends TASK_NEW for every task of
 * the enclave ("discover tasks"), which the scheduler base then dispatches
 * like any other message. Status words of tasks that died meanwhile are
 * freed. It never invents a task the kernel did not report.
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

struct adopt_ctx {
	struct ghost_sched *s;
	struct ghost_channel *c;
	int adopted;
};

static int adopt_one(const struct ghost_status_word *sw, const struct ghost_sw_info *info,
		     void *arg)
{
	struct adopt_ctx *ac = arg;
	struct {
		struct ghost_msg hdr;
		struct ghost_msg_payload_task_new p;
	} __attribute__((packed, aligned(4))) msg;
	struct ghost_sw_snapshot sn;
	int status = -ESTALE;

	for (int tries = 0; tries < 2 && status == -ESTALE; tries++) {
		ghost_sw_read(sw, &sn);
		if (sn.flags & (GHOST_SW_TASK_IS_AGENT | GHOST_SW_F_CANFREE) ||
		    !(sn.flags & GHOST_SW_F_INUSE) || sn.gtid <= 0 ||
		    ghost_task_table_find(&ac->s->tasks, sn.gtid))
			return 0;
		status = ghost_channel_associate(ac->c, sn.gtid, sn.barrier);
	}
	/*
	 * Gone, still moving, or its TASK_NEW is still to come: nothing to add.
	 * (ALREADY is no reason to wait: the messages it already sent to this
	 * queue may be the ones that were lost.)
	 */
	if (status < 0 || (status & GHOST_ASSOC_SF_BRAND_NEW))
		return 0;
	memset(&msg, 0, sizeof(msg));
	msg.hdr.type = MSG_TASK_NEW;
	msg.hdr.length = sizeof(msg);
	msg.hdr.seqnum = sn.barrier;
	msg.p.gtid = (uint64_t)sn.gtid;
	msg.p.runtime = sn.runtime;
	msg.p.runnable = (sn.flags & GHOST_SW_TASK_RUNNABLE) != 0;
	msg.p.sw_info = *info;
	if (ghost_sched_dispatch(ac->s, &msg.hdr) == 0)
		ac->adopted++;
	return 0;
}

int ghost_sched_adopt(struct ghost_sched *s, struct ghost_channel *c)
{
	struct adopt_ctx ac = { .s = s, .c = c };
	int err;

	if (!s || !s->enclave || !c)
		return -EINVAL;
	err = ghost_sw_for_each_in_use(s->enclave, adopt_one, &ac);
	return err < 0 ? err : ac.adopted;
}
