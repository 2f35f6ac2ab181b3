/*
 * tests/test_status.c - status words over a fake kernel backend.
 *
 * The enclave here is built on a test backend that serves status-word
 * regions from memory, which also shows that the library above the ops
 * table needs nothing else from a backend. Checks: lookup by (region,
 * index), out-of-range and missing regions, a malformed region header,
 * the flag accessors and the barrier-first snapshot, and iteration over the
 * words in use of every region, not only region 0.
 */
#include "test.h"

#include <ghost/ghost.h>

#include "enclave_priv.h"

#include <errno.h>
#include <stdlib.h>

#define NREGIONS 3
static const uint32_t region_ids[NREGIONS] = { 0, 3, 9 };
static struct ghost_sw_region_header *regions[NREGIONS];
static int maps, unmaps, frees;

static int fake_map(struct ghost_kenclave *ke, uint32_t id,
		    const struct ghost_sw_region_header **out, size_t *size)
{
	(void)ke;
	for (int i = 0; i < NREGIONS; i++) {
		if (region_ids[i] == id) {
			maps++;
			*out = regions[i];
			*size = GHOST_SW_REGION_SIZE;
			return 0;
		}
	}
	return -ENOENT;
}

static void fake_unmap(struct ghost_kenclave *ke, const struct ghost_sw_region_header *hdr,
		       size_t size)
{
	(void)ke;
	(void)hdr;
	(void)size;
	unmaps++;
}

static int fake_free(struct ghost_kenclave *ke, const struct ghost_sw_info *info)
{
	(void)ke;
	(void)info;
	frees++;
	return 0;
}

static const struct ghost_kernel_ops fake_ops = {
	.version = GHOST_KERNEL_OPS_VERSION,
	.name = "fake",
	.sw_region_map = fake_map,
	.sw_region_unmap = fake_unmap,
	.sw_free = fake_free,
};

static struct ghost_status_word *word(int r, uint32_t index)
{
	return (struct ghost_status_word *)((char *)regions[r] + regions[r]->start) + index;
}

static void use(int r, uint32_t index, int64_t gtid, uint32_t flags)
{
	struct ghost_status_word *w = word(r, index);

	w->gtid = (uint64_t)gtid;
	w->barrier = 7;
	w->runtime = 1000;
	w->switch_time = 55;
	w->flags = GHOST_SW_F_ALLOCATED | GHOST_SW_F_INUSE | flags;
}

struct seen {
	int n;
	int64_t gtids[16];
	struct ghost_sw_info infos[16];
};

static int visit(const struct ghost_status_word *sw, const struct ghost_sw_info *info, void *ctx)
{
	struct seen *s = ctx;

	CHECK(s->n < 16);
	s->gtids[s->n] = ghost_sw_gtid(sw);
	s->infos[s->n] = *info;
	s->n++;
	return 0;
}

static int stop_at_second(const struct ghost_status_word *sw, const struct ghost_sw_info *info,
			  void *ctx)
{
	(void)sw;
	(void)info;
	return ++*(int *)ctx == 2 ? 42 : 0;
}

int main(void)
{
	struct ghost_enclave e = { .ops = &fake_ops };
	struct ghost_sw_info info;
	struct ghost_sw_snapshot snap;
	const struct ghost_status_word *w;
	struct seen seen = { 0 };
	int count = 0;

	pthread_mutex_init(&e.lock, NULL);
	for (int i = 0; i < NREGIONS; i++) {
		regions[i] = aligned_alloc(4096, GHOST_SW_REGION_SIZE);
		CHECK(regions[i]);
		memset(regions[i], 0, GHOST_SW_REGION_SIZE);
		regions[i]->id = region_ids[i];
		regions[i]->start = sizeof(*regions[i]);
		regions[i]->capacity = GHOST_SW_REGION_CAPACITY;
	}
	use(0, 0, 100, GHOST_SW_TASK_RUNNABLE);
	use(0, 65533, 101, GHOST_SW_TASK_ONCPU | GHOST_SW_TASK_RUNNABLE);
	use(1, 17, 300, GHOST_SW_TASK_IS_AGENT | GHOST_SW_CPU_AVAIL | GHOST_SW_BOOST_PRIO);
	use(2, 5, 900, GHOST_SW_F_CANFREE);
	/* Allocated but not yet in use: not visited. */
	word(1, 18)->flags = GHOST_SW_F_ALLOCATED;

	/* Lookup maps a region once and finds the word. */
	info = (struct ghost_sw_info){ .id = 3, .index = 17 };
	w = ghost_sw_lookup(&e, &info);
	CHECK(w == word(1, 17));
	CHECK(ghost_sw_lookup(&e, &info) == w);
	CHECK_EQ(maps, 1);
	CHECK(ghost_sw_is_agent(w) && ghost_sw_cpu_available(w) && ghost_sw_boosted_priority(w));
	CHECK(!ghost_sw_on_cpu(w) && !ghost_sw_can_free(w));

	info = (struct ghost_sw_info){ .id = 0, .index = 65533 };
	w = ghost_sw_lookup(&e, &info);
	CHECK(w && ghost_sw_on_cpu(w) && ghost_sw_runnable(w) && ghost_sw_in_use(w));
	ghost_sw_read(w, &snap);
	CHECK_EQ(snap.barrier, 7);
	CHECK_EQ(snap.gtid, 101);
	CHECK_EQ(snap.runtime, 1000);
	CHECK_EQ(snap.switch_time, 55);

	/* Past the capacity, a region that does not exist, an id past the table. */
	info = (struct ghost_sw_info){ .id = 0, .index = GHOST_SW_REGION_CAPACITY };
	errno = 0;
	CHECK(ghost_sw_lookup(&e, &info) == NULL && errno == ERANGE);
	info = (struct ghost_sw_info){ .id = 4, .index = 0 };
	errno = 0;
	CHECK(ghost_sw_lookup(&e, &info) == NULL && errno == ENOENT);
	info = (struct ghost_sw_info){ .id = 100000, .index = 0 };
	errno = 0;
	CHECK(ghost_sw_lookup(&e, &info) == NULL && errno == ENOENT);
	CHECK(ghost_sw_lookup(NULL, &info) == NULL && errno == EINVAL);

	/* Every region's words in use, in (region, index) order. */
	CHECK_OK(ghost_sw_for_each_in_use(&e, visit, &seen));
	CHECK_EQ(seen.n, 4);
	CHECK_EQ(seen.gtids[0], 100);
	CHECK_EQ(seen.gtids[1], 101);
	CHECK_EQ(seen.gtids[2], 300);
	CHECK_EQ(seen.gtids[3], 900);
	CHECK_EQ(seen.infos[2].id, 3);
	CHECK_EQ(seen.infos[2].index, 17);
	CHECK_EQ(seen.infos[3].id, 9);
	CHECK_EQ(seen.infos[3].index, 5);
	/* A visitor's non-zero answer stops the walk and comes back. */
	CHECK_EQ(ghost_sw_for_each_in_use(&e, stop_at_second, &count), 42);

	/* Freeing goes to the kernel. */
	info = (struct ghost_sw_info){ .id = 9, .index = 5 };
	CHECK_OK(ghost_sw_free(&e, &info));
	CHECK_EQ(frees, 1);

	/* A region whose header does not add up is refused, not used. */
	e.sw_maps[9].hdr = NULL;
	regions[2]->capacity = 0x7fffffff;
	info = (struct ghost_sw_info){ .id = 9, .index = 5 };
	errno = 0;
	CHECK(ghost_sw_lookup(&e, &info) == NULL && errno == EINVAL);
	CHECK(unmaps >= 1);

	for (int i = 0; i < NREGIONS; i++)
		free(regions[i]);
	pthread_mutex_destroy(&e.lock);
	return 0;
}
