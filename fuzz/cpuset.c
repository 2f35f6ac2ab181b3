/*
 * fuzz/cpuset.c - the CPU-set text forms (src/cpuset.c): ghost_cpuset_parse_list,
 * ghost_cpuset_parse_list_ex, ghost_cpuset_parse_mask, and their printers.
 *
 * Beyond "no crash", each input checks: both parsers agree, result and error code,
 * with a small independent parser written from the grammar in <ghost/cpuset.h>; a
 * failed parse leaves *out untouched; every parsed CPU is below ncpus; the reason
 * text of _ex is terminated inside its buffer and empty on success; parse(format(x))
 * == x for both forms, from parsed sets and from raw bitmaps; the list printer's
 * output is canonical (printing what it parsed gives the same text) and, when the
 * buffer is short, it reports -ENOSPC and keeps only whole elements.
 */
#include "fuzz_common.h"

#include <ghost/cpuset.h>

#include <ctype.h>

/* ---- the reference grammar ---- */

static void trim(const char **begin, const char **end)
{
	while (*begin < *end && isspace((unsigned char)**begin))
		(*begin)++;
	while (*end > *begin && isspace((unsigned char)(*end)[-1]))
		(*end)--;
}

/* Decimal digits in [p, end); saturates far above any CPU number. */
static long ref_number(const char *p, const char *end)
{
	long v = 0;

	for (; p < end; p++)
		v = v > 100000 ? v : v * 10 + (*p - '0');
	return v;
}

static bool all_digits(const char *p, const char *end)
{
	if (p == end)
		return false;
	for (; p < end; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static int ref_parse_list(const char *text, int ncpus, unsigned int flags, struct ghost_cpuset *out)
{
	const char *begin = text, *end = text + strlen(text), *p;

	if (ncpus < 0 || ncpus > GHOST_MAX_CPUS || (flags & ~GHOST_CPUSET_ALLOW_EMPTY))
		return -EINVAL;
	trim(&begin, &end);
	ghost_cpuset_zero(out);
	if (begin == end)
		return flags & GHOST_CPUSET_ALLOW_EMPTY ? 0 : -EINVAL;
	for (p = begin;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		const char *dash = memchr(p, '-', (size_t)(e - p));
		long lo, hi;

		if (dash) {
			if (!all_digits(p, dash) || !all_digits(dash + 1, e))
				return -EINVAL;
			lo = ref_number(p, dash);
			hi = ref_number(dash + 1, e);
		} else {
			if (!all_digits(p, e))
				return -EINVAL;
			lo = hi = ref_number(p, e);
		}
		if (lo >= ncpus || hi >= ncpus)
			return -ERANGE;
		if (lo > hi)
			return -EINVAL;
		for (long c = lo; c <= hi; c++)
			ghost_cpuset_set(out, (int)c);
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int ref_parse_mask(const char *text, int ncpus, struct ghost_cpuset *out)
{
	const char *begin = text, *end = text + strlen(text), *p, *group_end;
	bool commas;
	size_t group = 0;

	if (ncpus < 0 || ncpus > GHOST_MAX_CPUS)
		return -EINVAL;
	trim(&begin, &end);
	if (end - begin >= 2 && begin[0] == '0' && (begin[1] == 'x' || begin[1] == 'X'))
		begin += 2;
	if (begin == end)
		return -EINVAL;
	commas = memchr(begin, ',', (size_t)(end - begin)) != NULL;
	/* Every group: 1 digit or more (1 to 8 when there are commas), all hex. */
	for (p = begin; p <= end;) {
		const char *c = memchr(p, ',', (size_t)(end - p));

		group_end = c ? c : end;
		if (group_end == p || (commas && group_end - p > 8))
			return -EINVAL;
		for (const char *q = p; q < group_end; q++)
			if (hex_value(*q) < 0)
				return -EINVAL;
		p = group_end + 1;
	}
	ghost_cpuset_zero(out);
	/* Groups from the right; without commas the whole text is one group. */
	for (group_end = end; group_end > begin; group++) {
		const char *g = group_end;
		size_t nibble = 0;

		while (g > begin && g[-1] != ',')
			g--;
		for (const char *q = group_end; q > g; nibble++) {
			int d = hex_value(*--q);

			for (int b = 0; b < 4; b++) {
				size_t cpu = (commas ? group * 32 : 0) + nibble * 4 + (size_t)b;

				if (!(d & (1 << b)))
					continue;
				if (cpu >= (size_t)ncpus)
					return -ERANGE;
				ghost_cpuset_set(out, (int)cpu);
			}
		}
		group_end = g > begin ? g - 1 : g;
	}
	return 0;
}

/* ---- checks ---- */

static void set_pattern(struct ghost_cpuset *s)
{
	memset(s, 0xa5, sizeof(*s));
}

static bool is_pattern(const struct ghost_cpuset *s)
{
	struct ghost_cpuset p;

	set_pattern(&p);
	return ghost_cpuset_equal(s, &p);
}

static void check_below(const struct ghost_cpuset *s, int ncpus)
{
	int cpu, n = 0, prev = -1;

	ghost_cpuset_for_each(cpu, s) {
		FZ_CHECK(cpu > prev && cpu < ncpus, "CPU %d of a set parsed for %d CPUs", cpu,
			 ncpus);
		FZ_CHECK(ghost_cpuset_nth(s, n) == cpu, "nth(%d) is not %d", n, cpu);
		prev = cpu;
		n++;
	}
	FZ_CHECK(n == ghost_cpuset_count(s), "iterated %d members, count says %d", n,
		 ghost_cpuset_count(s));
}

/* The list printer: round trip, canonical form, and short buffers. */
static void check_format_list(const struct ghost_cpuset *s)
{
	char full[GHOST_CPUSET_LIST_MAX], again[GHOST_CPUSET_LIST_MAX];
	struct ghost_cpuset back;
	int n, m;

	n = ghost_cpuset_format_list(s, full, sizeof(full));
	FZ_CHECK(n >= 0 && (size_t)n == strlen(full), "format_list returned %d", n);
	FZ_CHECK(ghost_cpuset_parse_list(&back, full, GHOST_MAX_CPUS, GHOST_CPUSET_ALLOW_EMPTY) ==
			 0,
		 "its own output \"%s\" does not parse", full);
	FZ_CHECK(ghost_cpuset_equal(&back, s), "\"%s\" parses to another set", full);
	m = ghost_cpuset_format_list(&back, again, sizeof(again));
	FZ_CHECK(m == n && !strcmp(full, again), "\"%s\" printed again is \"%s\"", full, again);

	/* Too short by 1, a middle size, and room for the terminator only. */
	size_t lens[] = { 0, 1, (size_t)n / 2 + 1, (size_t)n, (size_t)n + 1 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		char *buf = len ? malloc(len) : NULL;
		int r = ghost_cpuset_format_list(s, buf, len);

		if (len > (size_t)n) {
			FZ_CHECK(r == n && !strcmp(buf, full), "len %zu: %d", len, r);
		} else {
			FZ_CHECK(r == -ENOSPC, "len %zu for %d bytes: %d", len, n, r);
			if (len) {
				size_t k = strnlen(buf, len);

				FZ_CHECK(k < len, "not terminated in %zu bytes", len);
				FZ_CHECK(!strncmp(buf, full, k) && (k == 0 || full[k] == ','),
					 "\"%s\" is not whole elements of \"%s\"", buf, full);
			}
		}
		free(buf);
	}
}

/* The mask printer: round trip for every machine size the set fits. */
static void check_format_mask(const struct ghost_cpuset *s, int ncpus)
{
	char buf[GHOST_CPUSET_MASK_MAX], with_prefix[GHOST_CPUSET_MASK_MAX + 2];
	struct ghost_cpuset back;
	int groups = ncpus ? (ncpus + 31) / 32 : 1, last = -1, cpu, n;

	ghost_cpuset_for_each(cpu, s)
		last = cpu;
	n = ghost_cpuset_format_mask(s, ncpus, buf, sizeof(buf));
	if (last >= ncpus) {
		FZ_CHECK(n == -ERANGE, "CPU %d with ncpus %d: %d", last, ncpus, n);
		return;
	}
	FZ_CHECK(n == groups * 9 - 1 && (size_t)n == strlen(buf), "%d groups: %d", groups, n);
	FZ_CHECK(ghost_cpuset_parse_mask(&back, buf, ncpus) == 0,
		 "its own mask \"%s\" does not parse", buf);
	FZ_CHECK(ghost_cpuset_equal(&back, s), "\"%s\" parses to another set", buf);
	snprintf(with_prefix, sizeof(with_prefix), "0x%s", buf);
	FZ_CHECK(!ghost_cpuset_parse_mask(&back, with_prefix, ncpus) &&
			 ghost_cpuset_equal(&back, s),
		 "\"%s\"", with_prefix);
	{
		size_t len = (size_t)groups * 9 - 1;
		char *small = malloc(len);
		int r = ghost_cpuset_format_mask(s, ncpus, small, len);

		FZ_CHECK(r == -ENOSPC && small[0] == '\0', "one byte short: %d", r);
		free(small);
	}
}

/* ---- the target ---- */

static void fuzz_list(const char *text, int ncpus, unsigned int flags, size_t why_len)
{
	struct ghost_cpuset out, plain, ref;
	char *why = why_len ? malloc(why_len) : NULL;
	int r, rp, rr;

	if (why)
		memset(why, 'z', why_len);
	set_pattern(&out);
	r = ghost_cpuset_parse_list_ex(&out, text, ncpus, flags, why, why_len);
	if (why) {
		FZ_CHECK(strnlen(why, why_len) < why_len, "reason not terminated in %zu bytes",
			 why_len);
		FZ_CHECK(r != 0 || why[0] == '\0', "reason \"%s\" on success", why);
		FZ_CHECK(r == 0 || why_len == 1 || why[0] != '\0', "no reason for %d", r);
	}
	free(why);

	set_pattern(&plain);
	rp = ghost_cpuset_parse_list(&plain, text, ncpus, flags);
	FZ_CHECK(rp == r, "parse_list %d, parse_list_ex %d", rp, r);

	rr = ref_parse_list(text, ncpus, flags, &ref);
	FZ_CHECK(r == rr, "\"%s\" ncpus %d flags %#x: %d, the grammar says %d", text, ncpus, flags,
		 r, rr);
	if (r) {
		FZ_CHECK(is_pattern(&out) && is_pattern(&plain), "output changed on error %d", r);
		return;
	}
	FZ_CHECK(ghost_cpuset_equal(&out, &ref) && ghost_cpuset_equal(&plain, &ref),
		 "\"%s\" parsed to another set than the grammar's", text);
	check_below(&out, ncpus);
	check_format_list(&out);
	check_format_mask(&out, GHOST_MAX_CPUS);
}

static void fuzz_mask(const char *text, int ncpus)
{
	struct ghost_cpuset out, ref;
	int r, rr;

	set_pattern(&out);
	r = ghost_cpuset_parse_mask(&out, text, ncpus);
	rr = ref_parse_mask(text, ncpus, &ref);
	FZ_CHECK(r == rr, "mask \"%s\" ncpus %d: %d, the grammar says %d", text, ncpus, r, rr);
	if (r) {
		FZ_CHECK(is_pattern(&out), "output changed on error %d", r);
		return;
	}
	FZ_CHECK(ghost_cpuset_equal(&out, &ref), "mask \"%s\" parsed to another set", text);
	check_below(&out, ncpus);
	check_format_mask(&out, ncpus);
	check_format_list(&out);
}

/* The input's bytes as a bitmap: printers and parsers must round-trip any set. */
static void fuzz_bitmap(const uint8_t *data, size_t size, int ncpus)
{
	struct ghost_cpuset s;

	ghost_cpuset_zero(&s);
	for (size_t i = 0; i < size && i < sizeof(s.bits); i++)
		s.bits[i / 8] |= (uint64_t)data[i] << (8 * (i % 8));
	check_below(&s, GHOST_MAX_CPUS);
	check_format_list(&s);
	check_format_mask(&s, GHOST_MAX_CPUS);
	check_format_mask(&s, ncpus);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_log_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	uint8_t mode = fz_u8(&in);
	uint16_t raw_ncpus = fz_u16(&in);
	size_t why_len = fz_u8(&in);
	unsigned int flags = mode & 1 ? GHOST_CPUSET_ALLOW_EMPTY : 0;
	int ncpus;
	char *text;

	/* Mostly a real machine size; now and then one the parsers must refuse. */
	if (raw_ncpus >= 0xfff0)
		ncpus = raw_ncpus & 1 ? -(int)(raw_ncpus & 0xf)
				      : GHOST_MAX_CPUS + (raw_ncpus & 0xf);
	else
		ncpus = raw_ncpus % (GHOST_MAX_CPUS + 1);
	if ((mode & 0x0e) == 0x0e)
		flags |= 1u << (mode >> 4);

	text = fz_strndup(in.p, in.n);
	fuzz_list(text, ncpus, flags, why_len);
	fuzz_mask(text, ncpus);
	free(text);
	if (ncpus >= 0 && ncpus <= GHOST_MAX_CPUS)
		fuzz_bitmap(in.p, in.n, ncpus);
	return 0;
}
