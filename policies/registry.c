/*
 * policies/registry.c - the list of built-in policies, by name.
 *
 * Above every policy (it names each one's table) and called by the tools;
 * no policy calls it. Adding a built-in policy is one line here.
 */
#include "fifo.h"

#include <string.h>

static const struct ghost_policy *const builtin[] = {
	&fifo_percpu_policy,
	&fifo_centralized_policy,
	&shinjuku_policy,
	NULL,
};

const struct ghost_policy *const *ghost_policy_all(void)
{
	return builtin;
}

const struct ghost_policy *ghost_policy_find(const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; builtin[i]; i++)
		if (!strcmp(name, builtin[i]->name))
			return builtin[i];
	return NULL;
}
