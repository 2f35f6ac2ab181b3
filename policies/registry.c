/*
 * policies/registry.c - the built-in policies by name; a name with a '/' is
 * a plugin's path (loaded by src/policy.c).
 *
 * Above every policy (it names each one's table) and called by the tools;
 * no policy calls it. Adding a built-in policy is one line in builtin[].
 */
#include "policies.h"

#include <ghost/policy.h>

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

static const struct ghost_policy *const builtin[] = {
	&fifo_percpu_policy,
	&fifo_centralized_policy,
	&shinjuku_policy,
	&sol_policy,
	&edf_policy,
	&cfs_policy,
	&builtin_round_robin_policy,
	NULL, /* ends the list */
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

int ghost_policy_resolve(const char *name_or_path, const struct ghost_policy **out, char *why,
			 size_t len)
{
	char names[256];
	size_t pos = 0;

	if (!name_or_path || !out) {
		if (why && len)
			snprintf(why, len, "no policy named");
		return -EINVAL;
	}
	if (strchr(name_or_path, '/'))
		return ghost_policy_load(name_or_path, out, why, len);
	*out = ghost_policy_find(name_or_path);
	if (*out)
		return 0;
	names[0] = 0;
	for (int i = 0; builtin[i]; i++) {
		int n = snprintf(names + pos, sizeof(names) - pos, "%s%s", i ? ", " : "",
				 builtin[i]->name);

		if (n < 0 || (size_t)n >= sizeof(names) - pos)
			break;
		pos += (size_t)n;
	}
	if (why && len) {
		size_t n = strlen(name_or_path);
		bool so = n > 3 && !strcmp(name_or_path + n - 3, ".so");

		snprintf(why, len,
			 "unknown policy \"%s\" (built in: %s; a plugin is named by a path, e.g. "
			 "./%s%s)",
			 name_or_path, names, name_or_path, so ? "" : ".so");
	}
	return -ENOENT;
}
