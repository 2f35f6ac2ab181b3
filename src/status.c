/*
 * status.c - finding status words: region maps, lookup by (region, index),
 * freeing, and walking every word in use.
 *
 * Owns the process's read-only maps of the enclave's status-word regions,
 * made on first use. It never writes a word: freeing is the kernel's job.
 * A region header that does not look like the ABI's is refused, not used.
 */
#include "enclave_priv.h"
#include "internal.h"

#include <ghost/status.h>

#include <errno.h>

/* The region's words, mapping it on first use; NULL with errno. */
static const struct ghost_sw_region_header *region(struct ghost_enclave *e, uint32_t id)
{
	struct ghost_sw_map *m;
	const struct ghost_sw_region_header *hdr;
	size_t size;
	int err;

	if (id >= GHOST_SW_MAX_REGION_ID) {
		errno = ENOENT;
		return NULL;
	}
	m = &e->sw_maps[id];
	hdr = __atomic_load_n(&m->hdr, __ATOMIC_ACQUIRE);
	if (hdr)
		return hdr;
	pthread_mutex_lock(&e->lock);
	hdr = m->hdr;
	if (!hdr) {
		err = e->ops->sw_region_map(e->k, id, &hdr, &size);
		if (err) {
			pthread_mutex_unlock(&e->lock);
			errno = -err;
			return NULL;
		}
		if (hdr->start < sizeof(*hdr) ||
		    (uint64_t)hdr->start +
				    (uint64_t)hdr->capacity * sizeof(struct ghost_status_word) >
			    size) {
			e->ops->sw_region_unmap(e->k, hdr, size);
			pthread_mutex_unlock(&e->lock);
			ghost_err("status-word region %u has a malformed header", id);
			errno = EINVAL;
			return NULL;
		}
		m->size = size;
		/* Release: the header is read by lock-free lookups. */
		__atomic_store_n(&m->hdr, hdr, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&e->lock);
	return hdr;
}

static const struct ghost_status_word *words(const struct ghost_sw_region_header *hdr)
{
	return (const struct ghost_status_word *)((const char *)hdr + hdr->start);
}

const struct ghost_status_word *ghost_sw_lookup(struct ghost_enclave *e,
						const struct ghost_sw_info *info)
{
	const struct ghost_sw_region_header *hdr;

	if (!e || !info) {
		errno = EINVAL;
		return NULL;
	}
	hdr = region(e, info->id);
	if (!hdr)
		return NULL;
	if (info->index >= hdr->capacity) {
		errno = ERANGE;
		return NULL;
	}
	return &words(hdr)[info->index];
}

int ghost_sw_agent_info(struct ghost_enclave *e, int cpu, struct ghost_sw_info *out)
{
	if (!e || !out || cpu < 0)
		return -EINVAL;
	return e->ops->sw_get_info(e->k, GHOST_AGENT, (uint64_t)cpu, out);
}

int ghost_sw_free(struct ghost_enclave *e, const struct ghost_sw_info *info)
{
	if (!e || !info)
		return -EINVAL;
	return e->ops->sw_free(e->k, info);
}

int ghost_sw_for_each_in_use(struct ghost_enclave *e, ghost_sw_visit_fn fn, void *ctx)
{
	if (!e || !fn)
		return -EINVAL;
	/* Every region, not only region 0. */
	for (uint32_t id = 0; id < GHOST_SW_MAX_REGION_ID; id++) {
		const struct ghost_sw_region_header *hdr;
		const struct ghost_status_word *w;

		if (e->sw_maps[id].absent)
			continue;
		hdr = region(e, id);
		if (!hdr) {
			if (errno == ENOENT)
				e->sw_maps[id].absent = true;
			continue;
		}
		w = words(hdr);
		for (uint32_t i = 0; i < hdr->capacity; i++) {
			struct ghost_sw_info info = { .id = id, .index = i };
			int r;

			if (!ghost_sw_in_use(&w[i]))
				continue;
			r = fn(&w[i], &info, ctx);
			if (r)
				return r;
		}
	}
	return 0;
}
