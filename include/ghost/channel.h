/*
 * ghost/channel.h - the consumer side of a ghOSt message queue.
 *
 * A channel is one queue in the ABI's layout (64-byte header, then the ring
 * of 8-byte slots) with exactly one consumer: the agent that drains it.
 * Peek and consume are inline because every agent loop runs them per message.
 * The producer (the kernel side) is not here.
 */
#ifndef GHOST_CHANNEL_H
#define GHOST_CHANNEL_H

#include <ghost/abi.h>
#include <ghost/common.h>

#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ghost_enclave;

struct ghost_channel {
	struct ghost_queue_header *hdr;
	struct ghost_ring *ring;
	uint32_t nelems;	/* power of two */
	uint32_t overflow_seen; /* ring->overflow when last reported */
	int qid;		/* backend queue handle, -1 for a bare ring */
	int node;
	struct ghost_enclave *enclave; /* NULL for a bare ring */
	void *map;
	size_t mapsize;
};

/* Creates a queue of elems slots (power of two, 1..65536) on the enclave. */
GHOST_API int ghost_channel_create(struct ghost_enclave *e, int elems, int node,
				   struct ghost_channel **out);
GHOST_API void ghost_channel_destroy(struct ghost_channel *c);

/*
 * Attaches a channel to a queue already laid out in memory (mapsize bytes
 * at map, header first). Validates the header: -EINVAL if the version,
 * start or element count are not the ABI's or the ring does not fit.
 */
GHOST_API int ghost_channel_init_mem(struct ghost_channel *c, void *map, size_t mapsize);

/* Lays out an empty queue of elems slots in map (the producer's job). */
GHOST_API int ghost_queue_format(void *map, size_t mapsize, uint32_t elems);
/* Bytes a queue of elems slots needs (page-aligned as the kernel maps it). */
GHOST_API size_t ghost_queue_mapsize(uint32_t elems);

/* Associates gtid's messages with this channel (GHOST_IOC_ASSOC_QUEUE):
 * returns the GHOST_ASSOC_SF_* status, -ESTALE if barrier is stale. */
GHOST_API int ghost_channel_associate(struct ghost_channel *c, int64_t gtid, uint32_t barrier);
/* Makes this the enclave's default queue (new tasks report here). */
GHOST_API int ghost_channel_set_default(struct ghost_channel *c);
/* Wake the agents of these cpus (at most GHOST_MAX_WINFO; 0 = poll only). */
GHOST_API int ghost_channel_config_wakeup(struct ghost_channel *c, const int *cpus, int n);

static inline struct ghost_msg *ghost_channel_slot(const struct ghost_channel *c, uint32_t idx)
{
	return &c->ring->msgs[idx & (c->nelems - 1)];
}

/*
 * The next message, or NULL if the queue is empty. NOP fillers are consumed
 * on the way. A malformed message (zero length, or longer than what the
 * producer published) is returned as is: ghost_channel_msg_valid() tells.
 */
static inline const struct ghost_msg *ghost_channel_peek(struct ghost_channel *c)
{
	for (;;) {
		uint32_t tail = __atomic_load_n(&c->ring->tail, __ATOMIC_RELAXED);
		/* Acquire: the message body the producer wrote before moving
		 * head must be visible before we read it. */
		uint32_t head = __atomic_load_n(&c->ring->head, __ATOMIC_ACQUIRE);
		const struct ghost_msg *m;

		if (head == tail)
			return NULL;
		m = ghost_channel_slot(c, tail);
		/* A filler that claims more than was published is malformed:
		 * hand it out (msg_valid says no) rather than run past head. */
		if (m->type != MSG_NOP || m->length == 0 ||
		    ghost_msg_slots(m->length) > head - tail)
			return m;
		/* Release: the producer may reuse the filler's slots only after
		 * we are done reading them. */
		__atomic_store_n(&c->ring->tail, tail + ghost_msg_slots(m->length),
				 __ATOMIC_RELEASE);
	}
}

/*
 * Is m (from peek) well formed: a known length that fits what was produced,
 * and in one piece before the end of the ring? (A producer that follows the
 * protocol never straddles the end: it pads to it with a NOP filler.)
 */
static inline bool ghost_channel_msg_valid(const struct ghost_channel *c, const struct ghost_msg *m)
{
	uint32_t tail = __atomic_load_n(&c->ring->tail, __ATOMIC_RELAXED);
	uint32_t head = __atomic_load_n(&c->ring->head, __ATOMIC_ACQUIRE);
	uint32_t slots = ghost_msg_slots(m->length);

	return m->length >= sizeof(struct ghost_msg) && slots <= head - tail &&
	       (uint32_t)(m - c->ring->msgs) + slots <= c->nelems;
}

/* Releases m (the message peek returned) back to the producer. */
static inline void ghost_channel_consume(struct ghost_channel *c, const struct ghost_msg *m)
{
	uint32_t tail = __atomic_load_n(&c->ring->tail, __ATOMIC_RELAXED);
	uint32_t head = __atomic_load_n(&c->ring->head, __ATOMIC_ACQUIRE);
	uint32_t slots = ghost_msg_slots(m->length);

	/* A corrupt length must not move tail past head. */
	if (slots == 0 || slots > head - tail)
		slots = head - tail;
	/* Release: our reads of the message happen before the slots are reused. */
	__atomic_store_n(&c->ring->tail, tail + slots, __ATOMIC_RELEASE);
}

/*
 * Messages the producer dropped since the last call (the ring was full).
 * A non-zero answer means the agent's view is stale: resynchronise
 * (ghOSt agents rediscover their tasks).
 */
static inline uint32_t ghost_channel_overflow(struct ghost_channel *c)
{
	uint32_t now = __atomic_load_n(&c->ring->overflow, __ATOMIC_ACQUIRE);
	uint32_t n = now - c->overflow_seen;

	c->overflow_seen = now;
	return n;
}

/* Payload accessors: ring payloads are only 4-byte aligned, so copy. */
static inline const void *ghost_msg_payload(const struct ghost_msg *m)
{
	return (const void *)m->payload;
}
static inline int64_t ghost_msg_gtid(const struct ghost_msg *m)
{
	int64_t gtid;

	memcpy(&gtid, m->payload, sizeof(gtid));
	return gtid;
}
static inline int ghost_msg_cpu(const struct ghost_msg *m)
{
	int cpu;

	memcpy(&cpu, m->payload, sizeof(cpu));
	return cpu;
}
/* Copies the payload into out (at most len bytes), zero-filling the rest. */
static inline void ghost_msg_copy_payload(const struct ghost_msg *m, void *out, size_t len)
{
	size_t have = m->length > sizeof(*m) ? m->length - sizeof(*m) : 0;

	if (have > len)
		have = len;
	memcpy(out, m->payload, have);
	memset((char *)out + have, 0, len - have);
}

#ifdef __cplusplus
}
#endif

#endif
