/*
 * ring.h - the producer (kernel) side of a ghOSt message ring; never installed.
 *
 * The consumer side lives inline in <ghost/channel.h>. The producer is what the real kernel does
 * in its _produce(): the embedded kernel backend and the tests use it to feed a ring laid out by
 * ghost_queue_format(). The layout functions themselves (ghost_queue_mapsize, ghost_queue_format,
 * ghost_channel_init_mem) are public and declared in <ghost/channel.h>.
 */
#ifndef GHOST_RING_H
#define GHOST_RING_H

#include <ghost/abi.h>

#include <stdint.h>

/* Pages are assumed to be 4096 bytes when sizing a queue, as on x86-64. */
#define GHOST_QUEUE_PAGE_SIZE 4096u

/* Bytes before the ring in a queue this library formats (the header's `start`). */
#define GHOST_QUEUE_RING_OFFSET 64u

/* Longest payload a message can carry: its length (header included) is a u16. */
#define GHOST_MSG_MAX_PAYLOAD (UINT16_MAX - sizeof(struct ghost_msg))

/*
 * Appends one message (type, seqnum, payload_len bytes of payload) to a ring of nelems slots,
 * following the protocol of the ABI (section 8.10): the message takes ghost_msg_slots(8 +
 * payload_len) contiguous slots; if those do not fit before the end of the ring, a MSG_NOP
 * filler covers the slots up to the end and the message starts at slot 0. The message becomes
 * visible to the consumer only when head moves (store-release), after it is fully written.
 *
 * Producers must be serialised by the caller: at most one call per ring at a time (the kernel
 * holds a per-queue lock). The consumer may run concurrently on any thread.
 *
 * Returns 0 on success;
 *  -ENOSPC    the ring is full (counting the filler, if one is needed): the message is dropped
 *             and ring->overflow is incremented, nothing else changes;
 *  -EMSGSIZE  the message can never fit (longer than the ring, or its length would not fit the
 *             u16 length field): no state changes at all, overflow included;
 *  -EINVAL    ring is NULL, nelems is not a power of two in 1..GHOST_MAX_QUEUE_ELEMS, or payload
 *             is NULL with a non-zero payload_len.
 *
 * Note: a message of more than half the ring may need a filler so large that it can never fit
 * while head sits where it is; it is then dropped (-ENOSPC) on every attempt, exactly as the
 * kernel would. Rings are meant to be much larger than any message (7 slots at most).
 */
int ghost_ring_produce(struct ghost_ring *ring, uint32_t nelems, uint16_t type, uint32_t seqnum,
		       const void *payload, uint16_t payload_len);

/*
 * Slots currently published and not yet consumed (head - tail), a snapshot that may be stale by
 * the time it returns. More than nelems means a consumer corrupted tail.
 */
uint32_t ghost_ring_used(const struct ghost_ring *ring);

#endif
