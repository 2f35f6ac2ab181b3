/*
 * cpuset.c - the out-of-line CPU set operations: the list and mask parsers and printers.
 *
 * Owns the text grammar of both forms. Parsers must leave their output untouched on error
 * and never read or write past the strings and buffers they are given; nothing here may
 * allocate or log, because agents parse and print sets while scheduling.
 */
#include "internal.h"

#include <ghost/cpuset.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Longest token quoted in a parse error, so a huge input cannot push out the sentence. */
#define QUOTE_MAX 40

int ghost_cpuset_fill(struct ghost_cpuset *s, int ncpus)
{
	int full;

	if (!s || ncpus < 0 || ncpus > GHOST_MAX_CPUS)
		return -EINVAL;
	ghost_cpuset_zero(s);
	full = ncpus / 64;
	for (int i = 0; i < full; i++)
		s->bits[i] = ~0ULL;
	if (ncpus % 64)
		s->bits[full] = (1ULL << (ncpus % 64)) - 1;
	return 0;
}

int ghost_cpuset_nth(const struct ghost_cpuset *s, int n)
{
	if (!s || n < 0)
		return -1;
	for (int i = 0; i < GHOST_CPUSET_WORDS; i++) {
		uint64_t w = s->bits[i];
		int in_word = __builtin_popcountll(w);

		if (n >= in_word) {
			n -= in_word;
			continue;
		}
		while (n--)
			w &= w - 1;
		return i * 64 + __builtin_ctzll(w);
	}
	return -1;
}

void ghost_atomic_cpuset_snapshot(const struct ghost_atomic_cpuset *s, struct ghost_cpuset *out)
{
	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		out->bits[i] = __atomic_load_n(&s->bits[i], __ATOMIC_ACQUIRE);
}

__attribute__((format(printf, 3, 4))) static void explain(char *why, size_t why_len,
							  const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

static int quote_len(const char *begin, const char *end)
{
	return end - begin > QUOTE_MAX ? QUOTE_MAX : (int)(end - begin);
}

/*
 * Reads the decimal digits at p (stopping at end). Values past GHOST_MAX_CPUS stop growing,
 * which keeps any digit count from overflowing while staying out of range.
 */
static const char *read_cpu_number(const char *p, const char *end, unsigned int *value)
{
	unsigned int v = 0;

	while (p < end && isdigit((unsigned char)*p)) {
		if (v <= GHOST_MAX_CPUS)
			v = v * 10 + (unsigned int)(*p - '0');
		p++;
	}
	*value = v;
	return p;
}

static int check_cpu_number(unsigned int cpu, const char *begin, const char *end, int ncpus,
			    char *why, size_t why_len)
{
	if (cpu < (unsigned int)ncpus)
		return 0;
	if (ncpus < GHOST_MAX_CPUS)
		explain(why, why_len, "CPU %.*s is not on this machine (it has %d CPUs)",
			quote_len(begin, end), begin, ncpus);
	else
		explain(why, why_len, "\"%.*s\" is past the last CPU (%d)", quote_len(begin, end),
			begin, GHOST_MAX_CPUS - 1);
	return -ERANGE;
}

/*
 * One comma-separated element, [begin, end): "N" or "N-M". The whole element's syntax is
 * checked before its numbers' ranges, so "600-x" is reported as malformed, not too large.
 */
static int parse_list_element(struct ghost_cpuset *set, const char *begin, const char *end,
			      int ncpus, char *why, size_t why_len)
{
	const char *p = begin, *lo_end, *hi_begin = NULL, *hi_end = NULL;
	unsigned int lo, hi;
	int ret;

	if (p == end || !isdigit((unsigned char)*p))
		goto malformed;
	p = lo_end = read_cpu_number(p, end, &lo);
	hi = lo;
	if (p < end) {
		if (*p != '-')
			goto malformed;
		hi_begin = ++p;
		if (p == end) {
			explain(why, why_len, "range \"%.*s\" has no end", quote_len(begin, end),
				begin);
			return -EINVAL;
		}
		if (!isdigit((unsigned char)*p))
			goto malformed;
		p = hi_end = read_cpu_number(p, end, &hi);
		if (p != end)
			goto malformed;
	}

	ret = check_cpu_number(lo, begin, lo_end, ncpus, why, why_len);
	if (!ret && hi_begin)
		ret = check_cpu_number(hi, hi_begin, hi_end, ncpus, why, why_len);
	if (ret)
		return ret;
	if (lo > hi) {
		explain(why, why_len, "range \"%.*s\" is reversed", quote_len(begin, end), begin);
		return -EINVAL;
	}
	for (unsigned int cpu = lo; cpu <= hi; cpu++)
		ghost_cpuset_set(set, (int)cpu);
	return 0;

malformed:
	explain(why, why_len, "\"%.*s\" is not a CPU number or range", quote_len(begin, end),
		begin);
	return -EINVAL;
}

int ghost_cpuset_parse_list_ex(struct ghost_cpuset *out, const char *text, int ncpus,
			       unsigned int flags, char *why, size_t why_len)
{
	struct ghost_cpuset parsed;
	const char *begin, *end, *p;

	explain(why, why_len, "%s", "");
	if (!out || !text || ncpus < 0 || ncpus > GHOST_MAX_CPUS ||
	    (flags & ~GHOST_CPUSET_ALLOW_EMPTY)) {
		explain(why, why_len, "invalid arguments to the CPU list parser");
		return -EINVAL;
	}

	begin = text;
	while (isspace((unsigned char)*begin))
		begin++;
	end = begin + strlen(begin);
	while (end > begin && isspace((unsigned char)end[-1]))
		end--;
	if (begin == end) {
		if (flags & GHOST_CPUSET_ALLOW_EMPTY) {
			ghost_cpuset_zero(out);
			return 0;
		}
		explain(why, why_len, "the CPU list is empty");
		return -EINVAL;
	}

	ghost_cpuset_zero(&parsed);
	for (p = begin;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *elem_end = comma ? comma : end;
		int ret;

		if (p == elem_end) {
			explain(why, why_len, "empty element in \"%.*s\"", quote_len(begin, end),
				begin);
			return -EINVAL;
		}
		ret = parse_list_element(&parsed, p, elem_end, ncpus, why, why_len);
		if (ret)
			return ret;
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = parsed;
	return 0;
}

int ghost_cpuset_parse_list(struct ghost_cpuset *out, const char *text, int ncpus,
			    unsigned int flags)
{
	return ghost_cpuset_parse_list_ex(out, text, ncpus, flags, NULL, 0);
}

int ghost_cpuset_format_list(const struct ghost_cpuset *s, char *buf, size_t len)
{
	size_t used = 0;
	int first;

	if (!s || (!buf && len))
		return -EINVAL;
	if (!len)
		return -ENOSPC;
	buf[0] = '\0';

	for (first = ghost_cpuset_first(s); first >= 0;) {
		char elem[24];
		int last = first, n;

		while (ghost_cpuset_test(s, last + 1))
			last++;
		if (last == first)
			n = snprintf(elem, sizeof(elem), "%s%d", used ? "," : "", first);
		else
			n = snprintf(elem, sizeof(elem), "%s%d-%d", used ? "," : "", first, last);
		/* buf[used] is already the terminator, so stopping here leaves whole elements. */
		if (used + (size_t)n + 1 > len)
			return -ENOSPC;
		memcpy(buf + used, elem, (size_t)n + 1);
		used += (size_t)n;
		first = ghost_cpuset_next(s, last);
	}
	return (int)used;
}

static uint32_t cpuset_group32(const struct ghost_cpuset *s, int group)
{
	return (uint32_t)(s->bits[group / 2] >> (32 * (group % 2)));
}

int ghost_cpuset_format_mask(const struct ghost_cpuset *s, int ncpus, char *buf, size_t len)
{
	struct ghost_cpuset machine, beyond;
	int groups;
	size_t used = 0;

	if (!s || (!buf && len) || ncpus < 0 || ncpus > GHOST_MAX_CPUS)
		return -EINVAL;
	ghost_cpuset_fill(&machine, ncpus);
	ghost_cpuset_andnot(&beyond, s, &machine);
	if (!ghost_cpuset_empty(&beyond))
		return -ERANGE;

	groups = ncpus ? (ncpus + 31) / 32 : 1;
	if (len < (size_t)groups * 9) {
		if (len)
			buf[0] = '\0';
		return -ENOSPC;
	}
	for (int g = groups - 1; g >= 0; g--)
		used += (size_t)snprintf(buf + used, len - used, "%08x%s", cpuset_group32(s, g),
					 g ? "," : "");
	return (int)used;
}

static int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ghost_cpuset_parse_mask(struct ghost_cpuset *out, const char *text, int ncpus)
{
	struct ghost_cpuset parsed;
	const char *begin, *end, *p;
	bool has_commas = false;
	size_t group_digits = 0, longest_group = 0, group = 0, nibble = 0;

	if (!out || !text || ncpus < 0 || ncpus > GHOST_MAX_CPUS)
		return -EINVAL;
	begin = text;
	while (isspace((unsigned char)*begin))
		begin++;
	end = begin + strlen(begin);
	while (end > begin && isspace((unsigned char)end[-1]))
		end--;
	if (end - begin >= 2 && begin[0] == '0' && (begin[1] == 'x' || begin[1] == 'X'))
		begin += 2;
	if (begin == end)
		return -EINVAL;

	/* Syntax first, so a malformed mask is -EINVAL whatever bits it would have set. */
	for (p = begin; p <= end; p++) {
		if (p == end || *p == ',') {
			if (!group_digits)
				return -EINVAL;
			if (group_digits > longest_group)
				longest_group = group_digits;
			if (p < end)
				has_commas = true;
			group_digits = 0;
		} else if (hex_digit_value(*p) < 0) {
			return -EINVAL;
		} else {
			group_digits++;
		}
	}
	if (has_commas && longest_group > 8)
		return -EINVAL;

	/*
	 * Walk from the least significant digit. Without commas the digits are one long number;
	 * with them, each group restarts at the next multiple of 32 bits.
	 */
	ghost_cpuset_zero(&parsed);
	for (p = end; p > begin;) {
		int digit;

		if (*--p == ',') {
			group++;
			nibble = 0;
			continue;
		}
		digit = hex_digit_value(*p);
		for (int b = 0; b < 4; b++) {
			size_t cpu = (has_commas ? group * 32 : 0) + nibble * 4 + (size_t)b;

			if (!(digit & (1 << b)))
				continue;
			if (cpu >= (size_t)ncpus)
				return -ERANGE;
			ghost_cpuset_set(&parsed, (int)cpu);
		}
		nibble++;
	}
	*out = parsed;
	return 0;
}
