/*
 * channel.c - creating queues through the kernel layer and wiring them up
 * (association, default queue, wake-up configuration).
 *
 * Owns the channel object's life. The consumer fast path is inline in
 * ghost/channel.h and the ring layout in ring.c; nothing here reads
 * messages.
 */
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/channel.h>

#include <errno.h>
#include <stdlib.h>

struct channel_priv {
	struct ghost_channel c;
	struct ghost_kqueue kq;
};

int ghost_channel_create(struct ghost_enclave *e, int elems, int node, struct ghost_channel **out)
{
	struct channel_priv *p;
	int err;

	if (!e || !out)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	err = e->ops->queue_create(e->k, elems, node, 0, &p->kq);
	if (err) {
		free(p);
		return err;
	}
	err = ghost_channel_init_mem(&p->c, p->kq.map, p->kq.mapsize);
	if (err) {
		ghost_err("the kernel handed out a malformed queue");
		e->ops->queue_destroy(e->k, &p->kq);
		free(p);
		return err;
	}
	p->c.qid = p->kq.id;
	p->c.node = node;
	p->c.enclave = e;
	*out = &p->c;
	return 0;
}

void ghost_channel_destroy(struct ghost_channel *c)
{
	struct channel_priv *p = (struct channel_priv *)c;

	if (!c)
		return;
	if (c->enclave)
		c->enclave->ops->queue_destroy(c->enclave->k, &p->kq);
	free(p);
}

int ghost_channel_associate(struct ghost_channel *c, int64_t gtid, uint32_t barrier)
{
	if (!c || !c->enclave)
		return -EINVAL;
	return c->enclave->ops->queue_assoc(c->enclave->k, c->qid, gtid, barrier, 0);
}

int ghost_channel_set_default(struct ghost_channel *c)
{
	if (!c || !c->enclave)
		return -EINVAL;
	return c->enclave->ops->queue_set_default(c->enclave->k, c->qid);
}

int ghost_channel_config_wakeup(struct ghost_channel *c, const int *cpus, int n)
{
	struct ghost_agent_wakeup w[GHOST_MAX_WINFO];

	if (!c || !c->enclave || n < 0 || n > GHOST_MAX_WINFO || (n && !cpus))
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		w[i].cpu = cpus[i];
		w[i].prio = 0;
	}
	return c->enclave->ops->queue_config_wakeup(c->enclave->k, c->qid, w, n);
}
