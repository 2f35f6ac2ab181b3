/*
 * kernels/emu/emu_shm.c - the embedded kernel's shared memory: the files
 * under the namespace root and this process's mappings of them. The lowest
 * of its layers: it calls nothing else of the backend.
 *
 * Owns the namespace lock (.lock), mapping and creating files of an exact
 * size, removing an enclave's files (only if the directory is still the one
 * mapped), the status-word regions (creating, mapping, finding and
 * allocating words) and the queues' ring files. Nothing here takes the
 * enclave lock or produces a message; a mapping is checked (size, header)
 * before it is used.
 */
#include "emu.h"

#include "internal.h"

#include <ghost/channel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The namespace lock serialises create and destroy across processes. */
int emu_ns_lock(const char *root)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/.lock", root);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void emu_ns_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

size_t emu_page_align(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* Maps a whole file read-write; the size must be exactly what we expect. */
void *emu_map_file(const char *path, size_t size, int prot, int *fd_out)
{
	int fd = open(path, (prot & PROT_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || (size && (size_t)st.st_size != size)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, size ? size : (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return p;
}

int emu_create_file(const char *path, size_t size, void **map)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		int err = -errno;

		close(fd);
		unlink(path);
		return err;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		unlink(path);
		return -ENOMEM;
	}
	*map = p;
	return 0;
}

void emu_remove_dir_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[1024];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Is ke->dir still the enclave we mapped (not one created since with its id)? */
static bool dir_is_ours(struct ghost_kenclave *ke)
{
	char path[700];
	struct stat mine, now;

	snprintf(path, sizeof(path), "%s/state", ke->dir);
	return ke->state_fd >= 0 && fstat(ke->state_fd, &mine) == 0 && stat(path, &now) == 0 &&
	       mine.st_dev == now.st_dev && mine.st_ino == now.st_ino;
}

int emu_remove_files(struct ghost_kenclave *ke)
{
	int lockfd = emu_ns_lock(ke->root);

	/* Under the namespace lock, so that no create slips in between. */
	if (dir_is_ours(ke))
		emu_remove_dir_files(ke->dir);
	emu_ns_unlock(lockfd);
	return 0;
}

int emu_sw_region_create(struct ghost_kenclave *ke, uint32_t id, uint32_t node)
{
	struct emu_shared *sh = ke->sh;
	struct ghost_sw_region_header *hdr;
	char path[700];
	int slot = -1, err;

	if (id > GHOST_SW_REGION_ID_MAX || node > GHOST_NUMA_NODE_MAX)
		return -EINVAL; /* the library maps no other region */
	if (node != 0)
		return -ENODEV; /* one NUMA node is all this backend models */
	for (int i = 0; i < EMU_MAX_REGIONS; i++) {
		if (sh->regions[i].in_use && sh->regions[i].id == id)
			return -EEXIST;
		if (!sh->regions[i].in_use && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return -ENOSPC;
	if (snprintf(path, sizeof(path), "%s/sw_%u", ke->dir, id) >= (int)sizeof(path))
		return -ENOSPC;
	err = emu_create_file(path, GHOST_SW_REGION_SIZE, (void **)&hdr);
	if (err)
		return err;
	hdr->version = GHOST_SW_REGION_VERSION;
	hdr->id = id;
	hdr->numa_node = node;
	hdr->start = sizeof(*hdr);
	hdr->capacity = GHOST_SW_REGION_CAPACITY;
	hdr->available = GHOST_SW_REGION_CAPACITY;
	ke->rw_regions[slot] = hdr;
	sh->regions[slot].id = id;
	sh->regions[slot].node = node;
	sh->regions[slot].hint = 0;
	__atomic_store_n(&sh->regions[slot].in_use, 1, __ATOMIC_RELEASE);
	return 0;
}

static int region_slot(struct emu_shared *sh, uint32_t id)
{
	for (int i = 0; i < EMU_MAX_REGIONS; i++)
		if (__atomic_load_n(&sh->regions[i].in_use, __ATOMIC_ACQUIRE) &&
		    sh->regions[i].id == id)
			return i;
	return -1;
}

static struct ghost_sw_region_header *region_rw(struct ghost_kenclave *ke, int slot)
{
	struct ghost_sw_region_header *hdr;
	char path[700];

	if (ke->rw_regions[slot])
		return ke->rw_regions[slot];
	pthread_mutex_lock(&ke->local_lock);
	if (!ke->rw_regions[slot]) {
		snprintf(path, sizeof(path), "%s/sw_%u", ke->dir, ke->sh->regions[slot].id);
		hdr = emu_map_file(path, GHOST_SW_REGION_SIZE, PROT_READ | PROT_WRITE, NULL);
		if (hdr &&
		    (hdr->start != sizeof(*hdr) || hdr->capacity != GHOST_SW_REGION_CAPACITY)) {
			munmap(hdr, GHOST_SW_REGION_SIZE);
			hdr = NULL;
		}
		__atomic_store_n(&ke->rw_regions[slot], hdr, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&ke->local_lock);
	return ke->rw_regions[slot];
}

struct ghost_status_word *emu_sw_word(struct ghost_kenclave *ke, uint32_t region, uint32_t index)
{
	int slot = region_slot(ke->sh, region);
	struct ghost_sw_region_header *hdr;

	if (slot < 0 || index >= GHOST_SW_REGION_CAPACITY)
		return NULL;
	hdr = region_rw(ke, slot);
	if (!hdr)
		return NULL;
	return (struct ghost_status_word *)((char *)hdr + hdr->start) + index;
}

int emu_sw_alloc(struct ghost_kenclave *ke, uint32_t *region, uint32_t *index)
{
	struct emu_shared *sh = ke->sh;

	for (int slot = 0; slot < EMU_MAX_REGIONS; slot++) {
		struct ghost_sw_region_header *hdr;
		struct ghost_status_word *w;

		if (!sh->regions[slot].in_use)
			continue;
		hdr = region_rw(ke, slot);
		if (!hdr || hdr->available == 0)
			continue;
		w = (struct ghost_status_word *)((char *)hdr + hdr->start);
		for (uint32_t n = 0; n < GHOST_SW_REGION_CAPACITY; n++) {
			uint32_t i = (sh->regions[slot].hint + n) % GHOST_SW_REGION_CAPACITY;

			if (w[i].flags & GHOST_SW_F_ALLOCATED)
				continue;
			memset(&w[i], 0, sizeof(w[i]));
			w[i].flags = GHOST_SW_F_ALLOCATED;
			hdr->available--;
			sh->regions[slot].hint = i + 1;
			*region = sh->regions[slot].id;
			*index = i;
			return 0;
		}
	}
	return -ENOMEM;
}

int emu_sw_region_map(struct ghost_kenclave *ke, uint32_t id,
		      const struct ghost_sw_region_header **out, size_t *size)
{
	char path[700];
	const struct ghost_sw_region_header *hdr;

	if (region_slot(ke->sh, id) < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/sw_%u", ke->dir, id);
	/* Agents get the region read-only, as ghostfs gives it. */
	hdr = emu_map_file(path, GHOST_SW_REGION_SIZE, PROT_READ, NULL);
	if (!hdr)
		return errno == ENOENT ? -ENOENT : -EINVAL;
	if (hdr->start != sizeof(*hdr) || hdr->capacity != GHOST_SW_REGION_CAPACITY ||
	    hdr->id != id) {
		munmap((void *)hdr, GHOST_SW_REGION_SIZE);
		return -EINVAL;
	}
	*out = hdr;
	*size = GHOST_SW_REGION_SIZE;
	return 0;
}

int emu_queue_file(struct ghost_kenclave *ke, int q, char *buf, size_t len)
{
	struct emu_queue *eq = emu_queue(ke->sh, q);
	int n = snprintf(buf, len, "%s/queue_%d_%u", ke->dir, q, eq->gen);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* This process's mapping of queue q as it is now, or NULL if it is gone. */
void *emu_queue_map(struct ghost_kenclave *ke, int q)
{
	struct emu_queue *eq;
	struct emu_qmap *m;
	char path[700];
	void *p;

	if (q < 0 || q >= EMU_MAX_QUEUES)
		return NULL;
	eq = emu_queue(ke->sh, q);
	if (!eq->in_use)
		return NULL;
	m = &ke->qmaps[q];
	if (m->map && m->gen == eq->gen)
		return m->map;
	pthread_mutex_lock(&ke->local_lock);
	if (m->map) {
		munmap(m->map, m->size);
		m->map = NULL;
	}
	if (emu_queue_file(ke, q, path, sizeof(path)) == 0) {
		p = emu_map_file(path, eq->mapsize, PROT_READ | PROT_WRITE, NULL);
		if (p) {
			struct ghost_channel c;

			if (ghost_channel_init_mem(&c, p, eq->mapsize) == 0 &&
			    c.nelems == eq->elems) {
				m->map = p;
				m->size = eq->mapsize;
				m->gen = eq->gen;
			} else {
				munmap(p, eq->mapsize);
			}
		}
	}
	pthread_mutex_unlock(&ke->local_lock);
	return m->map;
}
