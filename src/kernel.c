/*
 * kernel.c - the registry of kernel backends compiled into the library.
 *
 * Owns the list and the choice of a default; knows each backend only by its
 * ops table. Adding a backend is one line here.
 */
#include "internal.h"

#include <ghost/kernel.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern const struct ghost_kernel_ops ghost_kernel_emu;
extern const struct ghost_kernel_ops ghost_kernel_ghostfs;
extern const struct ghost_kernel_ops ghost_kernel_scx;

static const struct ghost_kernel_ops *const backends[] = {
	&ghost_kernel_emu,
	&ghost_kernel_scx,
	&ghost_kernel_ghostfs,
	NULL,
};

const struct ghost_kernel_ops *const *ghost_kernel_all(void)
{
	return backends;
}

const struct ghost_kernel_ops *ghost_kernel_find(const char *name)
{
	if (!name || !*name)
		return ghost_kernel_default();
	for (int i = 0; backends[i]; i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

const struct ghost_kernel_ops *ghost_kernel_default(void)
{
	const char *env = getenv("GHOST_KERNEL");

	if (env && *env)
		for (int i = 0; backends[i]; i++)
			if (!strcmp(backends[i]->name, env))
				return backends[i];
	return &ghost_kernel_emu;
}

const char *ghost_kernel_name(const struct ghost_kernel_ops *k)
{
	return k ? k->name : NULL;
}

const char *ghost_kernel_summary(const struct ghost_kernel_ops *k)
{
	return k ? k->summary : NULL;
}

int ghost_kernel_probe(const struct ghost_kernel_ops *k, const char *root, char *why, size_t why_len)
{
	if (!k || (!why && why_len))
		return -EINVAL;
	if (why_len)
		why[0] = 0;
	return k->probe(root, why, why_len);
}
