/*
 * kernels/sim/sim_model.c - what the simulator's workloads are made of:
 * a seeded random generator, the distributions drawn from it, and latency
 * histograms.
 *
 * Pure arithmetic: no clock, no I/O, no state but what the caller passes,
 * so that a seed gives the same numbers on every machine. xoshiro256** seeded
 * by splitmix64 (one stream per purpose, so that adding draws to one never
 * shifts another); histograms log-linear with 64 sub-buckets (under 2% error).
 */
#include "sim.h"

#include <math.h>
#include <string.h>

void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0x9e3779b97f4a7c15ull);

	for (int i = 0; i < 4; i++) {
		x += 0x9e3779b97f4a7c15ull;
		r->s[i] = ghost_mix64(x);
	}
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in (0, 1]. */
static double uniform(struct sim_rng *r)
{
	return ((double)(sim_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
}

int64_t sim_rng_exp(struct sim_rng *r, double mean_ns)
{
	double v = -log(uniform(r)) * mean_ns;

	return v < 1.0 ? 1 : v > 1e15 ? (int64_t)1e15 : (int64_t)v;
}

int64_t sim_draw_service(struct sim_rng *r, const struct ghost_sim_service *svc, int n)
{
	double x = uniform(r) * 100.0, acc = 0;

	for (int i = 0; i < n; i++) {
		acc += svc[i].pct;
		if (x <= acc)
			return svc[i].ns;
	}
	return svc[n - 1].ns;
}

/* Bucket of v: exactly below 64 (e = 0), else 64 sub-buckets per power of two. */
static void bucket_of(int64_t v, int *e, int *sub)
{
	uint64_t u = v < 0 ? 0 : (uint64_t)v;
	int sh;

	if (u < SIM_HIST_SUB) {
		*e = 0;
		*sub = (int)u;
		return;
	}
	sh = 64 - __builtin_clzll(u) - 7; /* u >> sh is 64..127 */
	if (sh + 1 >= SIM_HIST_EXP) {
		*e = SIM_HIST_EXP - 1;
		*sub = SIM_HIST_SUB - 1;
		return;
	}
	*e = sh + 1;
	*sub = (int)((u >> sh) - SIM_HIST_SUB);
}

static int64_t bucket_value(int e, int sub)
{
	if (e == 0)
		return sub;
	/* The middle of the bucket. */
	return ((int64_t)(sub + SIM_HIST_SUB) << (e - 1)) + (((int64_t)1 << (e - 1)) >> 1);
}

void sim_hist_add(struct sim_hist *h, int64_t ns)
{
	int e, sub;

	bucket_of(ns, &e, &sub);
	h->b[e][sub]++;
	h->count++;
	h->sum += (double)ns;
	if (ns > h->max)
		h->max = ns;
}

static int64_t quantile(const struct sim_hist *h, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)h->count), acc = 0;

	if (want == 0)
		want = 1;
	for (int e = 0; e < SIM_HIST_EXP; e++)
		for (int s = 0; s < SIM_HIST_SUB; s++) {
			acc += h->b[e][s];
			if (acc >= want) {
				int64_t v = bucket_value(e, s);

				return v > h->max ? h->max : v;
			}
		}
	return h->max;
}

void sim_hist_summary(const struct sim_hist *h, struct ghost_sim_latency *out)
{
	memset(out, 0, sizeof(*out));
	out->count = h->count;
	if (!h->count)
		return;
	out->p50 = quantile(h, 0.5);
	out->p90 = quantile(h, 0.9);
	out->p99 = quantile(h, 0.99);
	out->p99_9 = quantile(h, 0.999);
	out->max = h->max;
	out->mean = h->sum / (double)h->count;
}
