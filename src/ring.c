/*
 * ring.c - the layout of a ghOSt message queue and the producer side of its ring.
 *
 * Owns: the queue's size and layout (ghost_queue_mapsize, ghost_queue_format), the validation of
 * a queue someone else laid out (ghost_channel_init_mem), and the producer's half of the ring
 * protocol of the ABI, section 8.10 (ghost_ring_produce). The consumer's half is inline in
 * <ghost/channel.h>; both halves must keep the barriers paired as commented below.
 *
 * Must never: trust anything read from a mapped queue (the other side may be buggy or
 * hostile, so every index is masked and every length checked before use), write outside the
 * slots it owns (the producer writes only between head and tail + nelems, and only tail is the
 * consumer's), allocate, block, log from the produce path, print or exit.
 */
#include "internal.h"
#include "ring.h"

#include <ghost/channel.h>

#include <errno.h>
#include <string.h>

/*
 * A filler covers the slots from head to the end of the ring, and is only written when the
 * message does not fit there, so it is always shorter than the message: at most
 * ghost_msg_slots(UINT16_MAX) - 1 = 8191 slots, 65528 bytes, which fits the u16 length field
 * even in a ring of 65536 slots. One filler is therefore always enough.
 */
_Static_assert((GHOST_MSG_MAX_PAYLOAD + sizeof(struct ghost_msg) + 7) / 8 - 1 <= UINT16_MAX / 8,
	       "a NOP filler must fit in one u16 length");
_Static_assert(sizeof(struct ghost_queue_header) == GHOST_QUEUE_RING_OFFSET, "header is 64 bytes");
_Static_assert(offsetof(struct ghost_ring, msgs) == 12, "ring header is 12 bytes");
_Static_assert(sizeof(struct ghost_msg) == 8, "one slot is 8 bytes");

static bool elems_ok(uint64_t elems)
{
	return elems >= 1 && elems <= GHOST_MAX_QUEUE_ELEMS && (elems & (elems - 1)) == 0;
}

/* Bytes from the header to the end of the last slot, for a ring at `start`. 64-bit: no wrap. */
static uint64_t queue_bytes(uint64_t start, uint64_t elems)
{
	return start + offsetof(struct ghost_ring, msgs) + elems * sizeof(struct ghost_msg);
}

size_t ghost_queue_mapsize(uint32_t elems)
{
	const uint64_t page = GHOST_QUEUE_PAGE_SIZE;

	if (!elems_ok(elems))
		return 0;
	return (size_t)((queue_bytes(GHOST_QUEUE_RING_OFFSET, elems) + page - 1) & ~(page - 1));
}

/*
 * Both the header (aligned(64)) and the ring's u32 atomics need their natural alignment; a
 * mapping is page-aligned, so anything less aligned than the header is not a queue.
 */
static bool map_aligned(const void *map)
{
	return ((uintptr_t)map & (_Alignof(struct ghost_queue_header) - 1)) == 0;
}

int ghost_queue_format(void *map, size_t mapsize, uint32_t elems)
{
	struct ghost_queue_header *hdr = map;

	if (!map || !map_aligned(map) || !elems_ok(elems) ||
	    mapsize < queue_bytes(GHOST_QUEUE_RING_OFFSET, elems))
		return -EINVAL;
	/* Plain stores: the queue is not shared yet; whoever shares it publishes it. */
	memset(map, 0, mapsize);
	hdr->version = GHOST_QUEUE_VERSION;
	hdr->start = GHOST_QUEUE_RING_OFFSET;
	hdr->nelems = elems;
	return 0;
}

int ghost_channel_init_mem(struct ghost_channel *c, void *map, size_t mapsize)
{
	const struct ghost_queue_header *hdr = map;
	struct ghost_ring *ring;
	uint32_t version, start, nelems, head, tail;

	if (!c || !map || !map_aligned(map) || mapsize < sizeof(*hdr))
		return -EINVAL;
	/*
	 * The producer wrote the header before handing the queue over and never changes it, but
	 * a hostile one could: read each field once (relaxed) and validate the copies.
	 */
	version = __atomic_load_n(&hdr->version, __ATOMIC_RELAXED);
	start = __atomic_load_n(&hdr->start, __ATOMIC_RELAXED);
	nelems = __atomic_load_n(&hdr->nelems, __ATOMIC_RELAXED);
	if (version != GHOST_QUEUE_VERSION || !elems_ok(nelems))
		return -EINVAL;
	/* The ABI says 64; accept any later 4-aligned offset, as the kernel's header allows. */
	if (start < sizeof(*hdr) || start % _Alignof(struct ghost_ring) != 0 ||
	    queue_bytes(start, nelems) > mapsize)
		return -EINVAL;
	ring = (struct ghost_ring *)((char *)map + start);
	/*
	 * Acquire on head, as the consumer always does: if the producer already published
	 * messages, their bodies are visible to whoever peeks next on this thread.
	 */
	tail = __atomic_load_n(&ring->tail, __ATOMIC_RELAXED);
	head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
	if (head - tail > nelems)
		return -EINVAL;

	memset(c, 0, sizeof(*c));
	c->hdr = map;
	c->ring = ring;
	c->nelems = nelems;
	/* Drops before we attached are not ours to report; acquire pairs with the producer's
	 * release increment, like ghost_channel_overflow(). */
	c->overflow_seen = __atomic_load_n(&ring->overflow, __ATOMIC_ACQUIRE);
	c->qid = -1;
	c->node = 0;
	c->enclave = NULL;
	c->map = map;
	c->mapsize = mapsize;
	return 0;
}

uint32_t ghost_ring_used(const struct ghost_ring *ring)
{
	/*
	 * Tail first: it only grows towards head, so reading it before head can never yield a
	 * tail ahead of the head we compare it with (no spurious huge answer from a correct
	 * consumer). Acquire on both so that a caller acting on the answer (the producer reusing
	 * freed slots, a consumer reading published ones) is ordered after the index moves.
	 */
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	uint32_t head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);

	return head - tail;
}

/* Writes one message header at slot idx; the caller has checked the slots are free. */
static struct ghost_msg *write_header(struct ghost_ring *ring, uint32_t idx, uint16_t type,
				      uint16_t length, uint32_t seqnum)
{
	struct ghost_msg *m = &ring->msgs[idx];

	m->type = type;
	m->length = length;
	m->seqnum = seqnum;
	return m;
}

int ghost_ring_produce(struct ghost_ring *ring, uint32_t nelems, uint16_t type, uint32_t seqnum,
		       const void *payload, uint16_t payload_len)
{
	uint32_t length, slots, head, tail, used, idx, to_end, filler, needed;
	struct ghost_msg *m;

	if (!ring || !elems_ok(nelems) || (!payload && payload_len))
		return -EINVAL;
	length = (uint32_t)sizeof(struct ghost_msg) + payload_len;
	if (length > UINT16_MAX)
		return -EMSGSIZE;
	slots = ghost_msg_slots(length);
	if (slots > nelems)
		return -EMSGSIZE;

	/*
	 * Relaxed: head is written only by producers, and the caller serialises them (its lock
	 * orders us after the previous producer's store).
	 */
	head = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);
	/*
	 * Acquire, pairing with the consumer's store-release of tail: its reads of the slots it
	 * released happen before our writes below reuse them. Without it we could overwrite a
	 * message the consumer is still reading.
	 */
	tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	used = head - tail;

	idx = head & (nelems - 1);
	to_end = nelems - idx;
	filler = slots > to_end ? to_end : 0;
	needed = filler + slots;
	/* used > nelems only if the consumer corrupted tail: refuse rather than overwrite. */
	if (used > nelems || needed > nelems - used) {
		/*
		 * Release, pairing with the acquire load in ghost_channel_overflow(): a consumer
		 * that sees the drop also sees every message published before it.
		 */
		__atomic_fetch_add(&ring->overflow, 1, __ATOMIC_RELEASE);
		return -ENOSPC;
	}

	if (filler) {
		/* Covers every slot to the end (at most 8191 slots, see the assertion above). */
		write_header(ring, idx, MSG_NOP, (uint16_t)(filler * sizeof(struct ghost_msg)), 0);
		idx = 0;
	}
	m = write_header(ring, idx, type, (uint16_t)length, seqnum);
	/* The slots idx..idx+slots-1 are contiguous in the ring: no straddling. */
	if (payload_len)
		memcpy(m->payload, payload, payload_len);
	/* Zero the padding of the last slot, so stale bytes never leak into a message. */
	memset((char *)m + length, 0, slots * sizeof(struct ghost_msg) - length);

	/*
	 * Release, pairing with the consumer's acquire load of head: the filler, the header and
	 * the payload written above are visible before the consumer can see the new head. This
	 * is the kernel's "write barrier, then advance head"; its second barrier (before the
	 * agent wakeup) belongs to whoever wakes the consumer, not here.
	 */
	__atomic_store_n(&ring->head, head + needed, __ATOMIC_RELEASE);
	return 0;
}
