/*
 * bench/ghost-bench/rows.c - samples and the result rows of a run.
 *
 * Owns the clock the bench reads, pinning, sample lists and their quantiles, and the rows
 * (a figure, its baseline row, its target, notes). Measures nothing and prints nothing:
 * the phases fill rows, report.c prints them.
 */
#include "bench.h"
#include "tool.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t now_ns(void)
{
	struct timespec ts;

	/* The clock of ghost_now_ns() and of every ghOSt timestamp. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			tool_fatal("out of memory");
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

void samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* q in [0, 1]: the smallest sample with at least q of them at or below it. */
double samples_quantile(const double *sorted, size_t n, double q)
{
	size_t i;

	if (!n)
		return NAN;
	i = (size_t)ceil(q * (double)n);
	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return sorted[i - 1];
}

struct row *row_new(struct bench *b, const char *name, const char *label)
{
	struct row *r;

	if (b->nrows == MAX_ROWS)
		tool_fatal("too many result rows");
	r = &b->rows[b->nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->label, sizeof(r->label), "%s", label);
	r->med = r->p99 = r->min = r->p999 = NAN;
	r->target = NAN;
	r->value = NAN;
	r->thr = r->offered = r->antag_cpus = NAN;
	r->target_on = "ratio";
	return r;
}

struct row *row_find(struct bench *b, const char *name)
{
	for (int i = 0; i < b->nrows; i++)
		if (!strcmp(b->rows[i].name, name))
			return &b->rows[i];
	return NULL;
}

void row_note(struct row *r, const char *fmt, ...)
{
	size_t len = strlen(r->note);
	va_list ap;

	if (len && len < sizeof(r->note) - 2) {
		strcat(r->note, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->note + len, sizeof(r->note) - len, fmt, ap);
	va_end(ap);
}

/* A timed row from samples (ns per event); frees the samples. */
struct row *row_time(struct bench *b, const char *name, const char *label, struct samples *s,
		     const char *base, double target)
{
	struct row *r = row_new(b, name, label);

	r->timed = true;
	r->n = s->n;
	if (base)
		snprintf(r->base, sizeof(r->base), "%s", base);
	r->target = target;
	if (s->n) {
		qsort(s->v, s->n, sizeof(double), cmp_double);
		r->med = samples_quantile(s->v, s->n, 0.5);
		r->p99 = samples_quantile(s->v, s->n, 0.99);
		r->min = s->v[0];
	} else {
		r->failed = true;
	}
	samples_free(s);
	return r;
}

double row_ratio(struct bench *b, const struct row *r)
{
	const struct row *base;

	if (!r->base[0] || !(base = row_find(b, r->base)) || !(base->med > 0) || !r->timed)
		return NAN;
	return r->med / base->med;
}

/* true, false, or -1 (no target / no figure). */
int row_met(struct bench *b, const struct row *r)
{
	double x;

	if (isnan(r->target))
		return -1;
	x = !strcmp(r->target_on, "value") ? r->value : row_ratio(b, r);
	if (isnan(x))
		return -1;
	return x <= r->target;
}

/* A phase that stopped early (why) or retried failed commits says so in its row. */
void phase_fail(struct row *r, const char *why, long fails)
{
	if (why) {
		r->failed = true;
		row_note(r, "stopped early: %s", why);
	}
	if (fails)
		row_note(r, "%ld failed commits retried", fails);
}
