/*
 * policy.c - a policy's declaration checked, its parameters read from text
 * ("-o key=value") into its config struct, and policies loaded from shared
 * objects (plugins).
 *
 * A plugin stays loaded for the life of the process: its policy may be in
 * use anywhere, and nothing here can tell when it no longer is.
 * Pure: no kernel, no state of its own, no output (errors are sentences in
 * the caller's buffer). It never writes outside config_size bytes of a
 * config, whatever a declaration says: a parameter that would is refused by
 * ghost_policy_check and by every setter.
 */
#include "internal.h"

#include <ghost/policy.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int say(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

const char *ghost_param_type_name(enum ghost_param_type type)
{
	switch (type) {
	case GHOST_PARAM_INT:
		return "int";
	case GHOST_PARAM_DURATION:
		return "duration";
	case GHOST_PARAM_BOOL:
		return "bool";
	case GHOST_PARAM_CPU:
		return "cpu";
	}
	return "?";
}

static size_t type_size(enum ghost_param_type type)
{
	switch (type) {
	case GHOST_PARAM_INT:
	case GHOST_PARAM_DURATION:
		return sizeof(int64_t);
	case GHOST_PARAM_BOOL:
		return sizeof(bool);
	case GHOST_PARAM_CPU:
		return sizeof(int);
	}
	return 0;
}

static bool good_name(const char *name, const char *extra)
{
	if (!name || !*name || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && !strchr(extra, *c))
			return false;
	return true;
}

static void range_of(const struct ghost_policy_param *pp, int64_t *min, int64_t *max)
{
	*min = pp->min;
	*max = pp->max;
	if (!pp->min && !pp->max)
		*max = INT64_MAX;
}

/*
 * An integer: decimal (leading zeros are decimal too, never octal) or 0x
 * hex, an optional '-' first; *rest is what follows its digits. 0, -EINVAL
 * (no number) or -ERANGE (past int64_t).
 */
static int parse_int(const char *s, int64_t *out, const char **rest)
{
	const char *digits = s;
	char *end;
	long long v;
	int base = 10;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	if (*digits == '-')
		digits++;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		base = 16;
	if (!isxdigit((unsigned char)digits[base == 16 ? 2 : 0]))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, base);
	if (end == s)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	*rest = end;
	return 0;
}

/* A duration in ns: a number and its unit (a bare 0 needs none). 0, -EINVAL, -ERANGE. */
static int parse_duration(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 } };
	const char *rest;
	int64_t v;
	int err = parse_int(s, &v, &rest);

	if (err)
		return err;
	if (v == 0 && !*rest) {
		*out = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(rest, units[i].unit))
			continue;
		if (v < 0 || v > INT64_MAX / units[i].ns)
			return -ERANGE;
		*out = v * units[i].ns;
		return 0;
	}
	return -EINVAL;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

static const char *type_hint(enum ghost_param_type type)
{
	switch (type) {
	case GHOST_PARAM_INT:
		return "an integer";
	case GHOST_PARAM_DURATION:
		return "a duration with its unit, e.g. 50us, 2ms, 1s";
	case GHOST_PARAM_BOOL:
		return "true or false";
	case GHOST_PARAM_CPU:
		return "a CPU number or auto";
	}
	return "?";
}

/* Parses value for pp and stores it into config (never past config_size). */
static int set_param(const struct ghost_policy *p, const struct ghost_policy_param *pp,
		     void *config, const char *value, char *why, size_t len)
{
	char *field = (char *)config + pp->offset;
	int64_t v = 0, min, max;
	const char *rest = "";
	int err = 0;
	bool b;

	if (!value)
		value = "";
	/* Checked without a sum that could wrap. */
	if (!type_size(pp->type) || p->config_size < type_size(pp->type) ||
	    pp->offset > p->config_size - type_size(pp->type))
		return say(why, len, -EINVAL, "policy %s: parameter %s lies outside its config",
			   p->name, pp->name);
	switch (pp->type) {
	case GHOST_PARAM_BOOL:
		if (!parse_bool(value, &b))
			return say(why, len, -EINVAL, "%s=\"%s\": not %s", pp->name, value,
				   type_hint(pp->type));
		memcpy(field, &b, sizeof(b));
		return 0;
	case GHOST_PARAM_CPU:
		if (!strcmp(value, "auto") || !strcmp(value, "-1")) {
			int none = -1;

			memcpy(field, &none, sizeof(none));
			return 0;
		}
		err = parse_int(value, &v, &rest);
		if (err == -EINVAL || (!err && *rest))
			return say(why, len, -EINVAL, "%s=\"%s\": not %s", pp->name, value,
				   type_hint(pp->type));
		if (err || v < 0 || v >= GHOST_MAX_CPUS)
			return say(why, len, -ERANGE, "%s=%s: a CPU is 0 to %d (or auto)", pp->name,
				   value, GHOST_MAX_CPUS - 1);
		{
			int cpu = (int)v;

			memcpy(field, &cpu, sizeof(cpu));
		}
		return 0;
	case GHOST_PARAM_INT:
		err = parse_int(value, &v, &rest);
		if (!err && *rest)
			err = -EINVAL;
		break;
	case GHOST_PARAM_DURATION:
		err = parse_duration(value, &v);
		break;
	}
	if (err == -EINVAL)
		return say(why, len, -EINVAL, "%s=\"%s\": not %s", pp->name, value,
			   type_hint(pp->type));
	range_of(pp, &min, &max);
	if (err || v < min || v > max) {
		char range[80];

		ghost_policy_param_range(pp, range, sizeof(range));
		return say(why, len, -ERANGE, "%s=%s: outside %s", pp->name, value, range);
	}
	if ((pp->flags & GHOST_PARAM_POWER_OF_2) && (v <= 0 || (v & (v - 1))))
		return say(why, len, -ERANGE, "%s=%s: not a power of two", pp->name, value);
	memcpy(field, &v, sizeof(v));
	return 0;
}

int ghost_policy_param_format(const struct ghost_policy_param *pp, const void *config, char *buf,
			      size_t len)
{
	const char *field;
	int64_t v;
	int n, cpu;
	bool b;

	if (!pp || !config || !buf || !len)
		return -EINVAL;
	field = (const char *)config + pp->offset;
	switch (pp->type) {
	case GHOST_PARAM_BOOL:
		memcpy(&b, field, sizeof(b));
		n = snprintf(buf, len, "%s", b ? "true" : "false");
		break;
	case GHOST_PARAM_CPU:
		memcpy(&cpu, field, sizeof(cpu));
		n = cpu < 0 ? snprintf(buf, len, "auto") : snprintf(buf, len, "%d", cpu);
		break;
	case GHOST_PARAM_DURATION:
		memcpy(&v, field, sizeof(v));
		if (v && v % 1000000000 == 0)
			n = snprintf(buf, len, "%" PRId64 "s", v / 1000000000);
		else if (v && v % 1000000 == 0)
			n = snprintf(buf, len, "%" PRId64 "ms", v / 1000000);
		else if (v && v % 1000 == 0)
			n = snprintf(buf, len, "%" PRId64 "us", v / 1000);
		else
			n = snprintf(buf, len, "%" PRId64 "ns", v);
		break;
	default:
		memcpy(&v, field, sizeof(v));
		n = snprintf(buf, len, "%" PRId64, v);
		break;
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int ghost_policy_param_range(const struct ghost_policy_param *pp, char *buf, size_t len)
{
	struct ghost_policy_param shown;
	char lo[32], hi[32];
	int64_t min, max;
	int n;

	if (!pp || !buf || !len ||
	    (pp->type != GHOST_PARAM_INT && pp->type != GHOST_PARAM_DURATION))
		return -EINVAL;
	/* The bounds as the user writes them (durations with a unit). */
	range_of(pp, &min, &max);
	shown = *pp;
	shown.offset = 0;
	ghost_policy_param_format(&shown, &min, lo, sizeof(lo));
	if (max == INT64_MAX)
		snprintf(hi, sizeof(hi), "any");
	else
		ghost_policy_param_format(&shown, &max, hi, sizeof(hi));
	n = snprintf(buf, len, "%s..%s", lo, hi);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

const struct ghost_policy_param *ghost_policy_cpu_outside(const struct ghost_policy *p,
							  const void *config,
							  const struct ghost_cpuset *cpus)
{
	if (!p || !config || !cpus)
		return NULL;
	for (const struct ghost_policy_param *pp = p->params; pp && pp->name; pp++) {
		int cpu;

		if (pp->type != GHOST_PARAM_CPU)
			continue;
		memcpy(&cpu, (const char *)config + pp->offset, sizeof(cpu));
		if (cpu >= 0 && !ghost_cpuset_test(cpus, cpu))
			return pp;
	}
	return NULL;
}

const struct ghost_policy_param *ghost_policy_param_find(const struct ghost_policy *p,
							 const char *name)
{
	if (!p || !p->params || !name)
		return NULL;
	for (const struct ghost_policy_param *pp = p->params; pp->name; pp++)
		if (!strcmp(pp->name, name))
			return pp;
	return NULL;
}

int ghost_policy_config_defaults(const struct ghost_policy *p, void *config)
{
	int err;

	if (!p || (!config && p->config_size))
		return -EINVAL;
	if (config)
		memset(config, 0, p->config_size);
	if (!p->params)
		return 0;
	for (const struct ghost_policy_param *pp = p->params; pp->name; pp++) {
		err = set_param(p, pp, config, pp->def, NULL, 0);
		if (err)
			return err;
	}
	return 0;
}

/* "a, b and c": the names of p's parameters, for an error. */
static void param_names(const struct ghost_policy *p, char *buf, size_t len)
{
	size_t pos = 0, n = 0, total = 0;

	buf[0] = 0;
	if (p->params)
		for (const struct ghost_policy_param *pp = p->params; pp->name; pp++)
			total++;
	if (!total) {
		snprintf(buf, len, "none");
		return;
	}
	for (const struct ghost_policy_param *pp = p->params; pp->name; pp++, n++) {
		int w = snprintf(buf + pos, len - pos, "%s%s",
				 n == 0		  ? ""
				 : n + 1 == total ? " and "
						  : ", ",
				 pp->name);

		if (w < 0 || (size_t)w >= len - pos)
			return;
		pos += (size_t)w;
	}
}

int ghost_policy_config_set(const struct ghost_policy *p, void *config, const char *key,
			    const char *value, char *why, size_t len)
{
	const struct ghost_policy_param *pp;
	char names[512];

	if (!p || !key || !value || (!config && p->config_size))
		return say(why, len, -EINVAL, "no policy, key or value");
	pp = ghost_policy_param_find(p, key);
	if (!pp) {
		param_names(p, names, sizeof(names));
		return say(why, len, -ENOENT,
			   "policy %s has no parameter \"%s\" (its parameters: %s)", p->name, key,
			   names);
	}
	return set_param(p, pp, config, value, why, len);
}

int ghost_policy_config_parse(const struct ghost_policy *p, void *config, const char *key_value,
			      char *why, size_t len)
{
	const char *eq = key_value ? strchr(key_value, '=') : NULL;
	char key[80];
	size_t klen;

	if (!eq)
		return say(why, len, -EINVAL, "\"%s\" is not key=value",
			   key_value ? key_value : "");
	klen = (size_t)(eq - key_value);
	if (!klen)
		return say(why, len, -EINVAL, "\"%s\": no parameter name before '='", key_value);
	if (klen >= sizeof(key))
		return say(why, len, -ENOENT, "%.40s...: no parameter has so long a name",
			   key_value);
	memcpy(key, key_value, klen);
	key[klen] = 0;
	return ghost_policy_config_set(p, config, key, eq + 1, why, len);
}

int ghost_policy_check(const struct ghost_policy *p, char *why, size_t len)
{
	char scratch[512];
	void *config;
	int err;

	if (!p)
		return say(why, len, -EINVAL, "no policy");
	if (!good_name(p->name, "-"))
		return say(why, len, -EINVAL,
			   "a policy's name is 1 to 64 letters, digits, '-' or '_'");
	if (!p->init || !p->agent_loop)
		return say(why, len, -EINVAL, "policy %s has no %s hook", p->name,
			   p->init ? "agent_loop" : "init");
	if (p->sched_ops && p->state_size < sizeof(struct ghost_sched))
		return say(why, len, -EINVAL,
			   "policy %s: with sched_ops its state (state_size %zu) must begin with "
			   "a struct ghost_sched",
			   p->name, p->state_size);
	if (p->config_size > GHOST_POLICY_CONFIG_MAX)
		return say(why, len, -EINVAL, "policy %s: config_size %zu is over %d bytes",
			   p->name, p->config_size, GHOST_POLICY_CONFIG_MAX);
	if (p->state_size > ((size_t)1 << 30))
		return say(why, len, -EINVAL, "policy %s: state_size %zu is over 1 GiB", p->name,
			   p->state_size);
	if (p->sched_ops && p->task_size &&
	    (p->task_size < sizeof(struct ghost_task) || p->task_size > 65536))
		return say(why, len, -EINVAL,
			   "policy %s: task_size %zu: a task record begins with a struct "
			   "ghost_task (%zu bytes) and is at most 65536 bytes",
			   p->name, p->task_size, sizeof(struct ghost_task));
	if (p->min_cpus > GHOST_MAX_CPUS)
		return say(why, len, -EINVAL, "policy %s: min_cpus %u is over %d", p->name,
			   p->min_cpus, GHOST_MAX_CPUS);
	if (p->channels != GHOST_POLICY_CHANNELS_OWN &&
	    p->channels != GHOST_POLICY_CHANNELS_PER_CPU &&
	    p->channels != GHOST_POLICY_CHANNELS_GLOBAL)
		return say(why, len, -EINVAL,
			   "policy %s: channels %d is none of OWN, PER_CPU, GLOBAL", p->name,
			   (int)p->channels);
	if (!p->params)
		return 0;
	for (const struct ghost_policy_param *pp = p->params; pp->name; pp++) {
		int64_t min, max;

		if (!good_name(pp->name, ""))
			return say(
				why, len, -EINVAL,
				"policy %s: a parameter's name is 1 to 64 letters, digits or '_'",
				p->name);
		if (!type_size(pp->type) || pp->offset > p->config_size ||
		    pp->offset + type_size(pp->type) > p->config_size)
			return say(why, len, -EINVAL,
				   "policy %s: parameter %s has no valid type or lies outside its "
				   "config",
				   p->name, pp->name);
		range_of(pp, &min, &max);
		if (min > max)
			return say(why, len, -EINVAL, "policy %s: parameter %s has min > max",
				   p->name, pp->name);
		if (pp->flags & ~GHOST_PARAM_POWER_OF_2)
			return say(why, len, -EINVAL, "policy %s: parameter %s has unknown flags",
				   p->name, pp->name);
		if (!strcmp(pp->name, "queue_elems") &&
		    (pp->type != GHOST_PARAM_INT || !(pp->flags & GHOST_PARAM_POWER_OF_2) ||
		     min < GHOST_MIN_QUEUE_ELEMS || max > GHOST_MAX_QUEUE_ELEMS))
			return say(
				why, len, -EINVAL,
				"policy %s: queue_elems sizes its rings: an int, a power of two, "
				"%d..%d",
				p->name, GHOST_MIN_QUEUE_ELEMS, GHOST_MAX_QUEUE_ELEMS);
		if (ghost_policy_param_find(p, pp->name) != pp)
			return say(why, len, -EINVAL, "policy %s declares parameter %s twice",
				   p->name, pp->name);
	}
	/* Every default must parse and fit its range. */
	config = calloc(1, p->config_size ? p->config_size : 1);
	if (!config)
		return -ENOMEM;
	err = 0;
	for (const struct ghost_policy_param *pp = p->params; pp->name && !err; pp++) {
		err = set_param(p, pp, config, pp->def, scratch, sizeof(scratch));
		if (err)
			say(why, len, -EINVAL, "policy %s: the default of %s: %s", p->name,
			    pp->name, scratch);
	}
	free(config);
	return err ? -EINVAL : 0;
}

/* The dynamic section of this program: absent in a static executable. */
extern const char _DYNAMIC[] __attribute__((weak));

int ghost_policy_load(const char *path, const struct ghost_policy **out, char *why, size_t len)
{
	const struct ghost_policy_plugin *pl;
	char reason[256];
	struct stat st;
	void *h;
	int err;

	if (!path || !out)
		return say(why, len, -EINVAL, "no plugin path");
	if (stat(path, &st) < 0)
		return say(why, len, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return say(why, len, -ENOEXEC, "%s is not a file", path);
	if (!_DYNAMIC)
		return say(why, len, -ENOTSUP,
			   "this program is statically linked and cannot load policy plugins "
			   "(%s)",
			   path);
	/* RTLD_NOW: a symbol the plugin needs and this program lacks is an error
	 * now, not a crash in the middle of scheduling. */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return say(why, len, -ENOEXEC, "cannot load %s: %s", path, dlerror());
	pl = dlsym(h, "ghost_policy_plugin");
	if (!pl) {
		dlclose(h);
		return say(why, len, -ENOEXEC,
			   "%s is not a policy plugin: it exports no ghost_policy_plugin "
			   "(GHOST_POLICY_PLUGIN(policy) in its source makes it)",
			   path);
	}
	if (pl->abi != GHOST_POLICY_ABI || pl->policy_size != sizeof(struct ghost_policy)) {
		err = say(why, len, -EPROTO,
			  "%s was built for policy ABI %u (struct of %u bytes) and this program "
			  "speaks ABI %u (%zu bytes): rebuild it against this libghost",
			  path, pl->abi, pl->policy_size, GHOST_POLICY_ABI,
			  sizeof(struct ghost_policy));
		dlclose(h);
		return err;
	}
	err = ghost_policy_check(pl->policy, reason, sizeof(reason));
	if (err) {
		dlclose(h);
		return say(why, len, err, "%s: %s", path, reason);
	}
	*out = pl->policy;
	return 0;
}
