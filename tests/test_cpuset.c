/*
 * test_cpuset.c - checks the CPU set: bit operations at word edges, set algebra, both text
 * forms (round trips, canonical output, every rejected input with its exact error), buffer
 * bounds, and the atomic variant under concurrent writers.
 */
#include "test.h"

#include <ghost/cpuset.h>

#include <pthread.h>

static struct ghost_cpuset list(const char *text)
{
	struct ghost_cpuset s;

	ghost_cpuset_zero(&s);
	CHECK_MSG(ghost_cpuset_parse_list(&s, text, GHOST_MAX_CPUS, 0) == 0, "\"%s\"", text);
	return s;
}

/* Deterministic across libcs, unlike rand(). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_edges(void)
{
	static const int edges[] = { 0, 63, 64, 511 };
	struct ghost_cpuset s, t;
	int cpu, seen[8], n = 0;

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		int c = edges[i];

		ghost_cpuset_zero(&s);
		CHECK(ghost_cpuset_empty(&s));
		CHECK_EQ(ghost_cpuset_set(&s, c), 0);
		CHECK(ghost_cpuset_test(&s, c));
		CHECK(!ghost_cpuset_test(&s, c ? c - 1 : 1));
		CHECK_EQ(ghost_cpuset_count(&s), 1);
		CHECK(!ghost_cpuset_empty(&s));
		CHECK_EQ(ghost_cpuset_first(&s), c);
		CHECK_EQ(ghost_cpuset_next(&s, c - 1), c);
		CHECK_EQ(ghost_cpuset_next(&s, c), -1);
		CHECK_EQ(ghost_cpuset_nth(&s, 0), c);
		CHECK_EQ(ghost_cpuset_nth(&s, 1), -1);
		CHECK_EQ(ghost_cpuset_clear(&s, c), 0);
		CHECK(!ghost_cpuset_test(&s, c));
		CHECK(ghost_cpuset_empty(&s));
		CHECK_EQ(ghost_cpuset_first(&s), -1);
	}

	ghost_cpuset_zero(&s);
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		ghost_cpuset_set(&s, edges[i]);
	CHECK_EQ(ghost_cpuset_count(&s), 4);
	CHECK_EQ(ghost_cpuset_first(&s), 0);
	CHECK_EQ(ghost_cpuset_next(&s, 0), 63);
	CHECK_EQ(ghost_cpuset_next(&s, 63), 64);
	CHECK_EQ(ghost_cpuset_next(&s, 64), 511);
	CHECK_EQ(ghost_cpuset_next(&s, 511), -1);
	CHECK_EQ(ghost_cpuset_next(&s, 2147483647), -1);
	CHECK_EQ(ghost_cpuset_next(&s, -100), 0);
	CHECK_EQ(ghost_cpuset_nth(&s, 0), 0);
	CHECK_EQ(ghost_cpuset_nth(&s, 1), 63);
	CHECK_EQ(ghost_cpuset_nth(&s, 2), 64);
	CHECK_EQ(ghost_cpuset_nth(&s, 3), 511);
	CHECK_EQ(ghost_cpuset_nth(&s, 4), -1);
	CHECK_EQ(ghost_cpuset_nth(&s, -1), -1);
	ghost_cpuset_for_each(cpu, &s) {
		CHECK(n < 8);
		seen[n++] = cpu;
	}
	CHECK_EQ(n, 4);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(seen[i], edges[i]);

	/* Out-of-range CPUs change nothing. */
	t = s;
	CHECK_ERR(ghost_cpuset_set(&s, -1), EINVAL);
	CHECK_ERR(ghost_cpuset_set(&s, 512), EINVAL);
	CHECK_ERR(ghost_cpuset_clear(&s, 512), EINVAL);
	CHECK_ERR(ghost_cpuset_clear(&s, -5), EINVAL);
	CHECK(!ghost_cpuset_test(&s, 512));
	CHECK(!ghost_cpuset_test(&s, -1));
	CHECK(ghost_cpuset_equal(&s, &t));

	CHECK_EQ(ghost_cpuset_fill(&s, 512), 0);
	CHECK_EQ(ghost_cpuset_count(&s), 512);
	CHECK_EQ(ghost_cpuset_nth(&s, 511), 511);
	CHECK_EQ(ghost_cpuset_fill(&s, 0), 0);
	CHECK(ghost_cpuset_empty(&s));
	CHECK_EQ(ghost_cpuset_fill(&s, 65), 0);
	CHECK_EQ(ghost_cpuset_count(&s), 65);
	CHECK(ghost_cpuset_test(&s, 64));
	CHECK(!ghost_cpuset_test(&s, 65));
	t = s;
	CHECK_ERR(ghost_cpuset_fill(&s, 513), EINVAL);
	CHECK_ERR(ghost_cpuset_fill(&s, -1), EINVAL);
	CHECK(ghost_cpuset_equal(&s, &t));

	/* Iterating while clearing the current member is allowed. */
	n = 0;
	ghost_cpuset_for_each(cpu, &s) {
		ghost_cpuset_clear(&s, cpu);
		n++;
	}
	CHECK_EQ(n, 65);
	CHECK(ghost_cpuset_empty(&s));
}

static void test_algebra(void)
{
	struct ghost_cpuset a = list("0-99,511"), b = list("50-149"), r, empty;

	ghost_cpuset_zero(&empty);
	ghost_cpuset_or(&r, &a, &b);
	{
		struct ghost_cpuset want = list("0-149,511");

		CHECK(ghost_cpuset_equal(&r, &want));
	}
	ghost_cpuset_and(&r, &a, &b);
	{
		struct ghost_cpuset want = list("50-99");

		CHECK(ghost_cpuset_equal(&r, &want));
		CHECK(ghost_cpuset_is_subset(&r, &a));
		CHECK(ghost_cpuset_is_subset(&r, &b));
	}
	ghost_cpuset_andnot(&r, &a, &b);
	{
		struct ghost_cpuset want = list("0-49,511");

		CHECK(ghost_cpuset_equal(&r, &want));
	}
	ghost_cpuset_andnot(&r, &b, &a);
	{
		struct ghost_cpuset want = list("100-149");

		CHECK(ghost_cpuset_equal(&r, &want));
	}

	/* The destination may alias an operand. */
	r = a;
	ghost_cpuset_and(&r, &r, &b);
	CHECK_EQ(ghost_cpuset_count(&r), 50);
	r = a;
	ghost_cpuset_or(&r, &b, &r);
	CHECK_EQ(ghost_cpuset_count(&r), 151);
	r = a;
	ghost_cpuset_andnot(&r, &r, &r);
	CHECK(ghost_cpuset_empty(&r));

	CHECK(ghost_cpuset_is_subset(&a, &a));
	CHECK(!ghost_cpuset_is_subset(&a, &b));
	CHECK(!ghost_cpuset_is_subset(&b, &a));
	CHECK(ghost_cpuset_is_subset(&empty, &a));
	CHECK(ghost_cpuset_is_subset(&empty, &empty));
	CHECK(!ghost_cpuset_is_subset(&a, &empty));
	CHECK(!ghost_cpuset_equal(&a, &b));
}

static void check_list_round_trip(const char *in, const char *canonical)
{
	struct ghost_cpuset s, back;
	char buf[GHOST_CPUSET_LIST_MAX];
	int len;

	CHECK_MSG(ghost_cpuset_parse_list(&s, in, GHOST_MAX_CPUS, 0) == 0, "\"%s\"", in);
	len = ghost_cpuset_format_list(&s, buf, sizeof(buf));
	CHECK_STR(buf, canonical);
	CHECK_EQ(len, strlen(canonical));
	CHECK_EQ(ghost_cpuset_parse_list(&back, buf, GHOST_MAX_CPUS, 0), 0);
	CHECK(ghost_cpuset_equal(&s, &back));
}

static void random_set(struct ghost_cpuset *s)
{
	/* Mix densities and run lengths so that both singles and ranges appear. */
	unsigned int density = (unsigned int)(rng() % 101);
	int cpu = 0;

	ghost_cpuset_zero(s);
	while (cpu < GHOST_MAX_CPUS) {
		int run = 1 + (int)(rng() % (rng() % 4 == 0 ? 40 : 3));
		bool on = rng() % 100 < density;

		for (int i = 0; i < run && cpu < GHOST_MAX_CPUS; i++, cpu++)
			if (on)
				ghost_cpuset_set(s, cpu);
	}
}

static void test_list_round_trips(void)
{
	static const char *const canonical[] = {
		"0",	 "1",		"511",
		"0-511", "0-3,8,10-11", "0,2,4",
		"0-1",	 "63-64",	"1,3,5-7,63-64,127-128,500-511",
		"0,511", "64-127",	"62-65,255-256,300",
	};
	static const char *const pairs[][2] = {
		{ "3,1-2,2", "1-3" },	  { " 0-3\n", "0-3" },	{ "5,4,3", "3-5" },
		{ "0-0", "0" },		  { "1-2,2-5", "1-5" }, { "0-3,4-7", "0-7" },
		{ "007", "7" },		  { "\t8,9\n", "8-9" }, { "511,0-510", "0-511" },
		{ "10-20,0-30", "0-30" }, { "64,63", "63-64" }, { "1,1,1", "1" },
	};
	struct ghost_cpuset s, back;
	char buf[GHOST_CPUSET_LIST_MAX], mask[GHOST_CPUSET_MASK_MAX];
	int len, longest = 0;

	for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++)
		check_list_round_trip(canonical[i], canonical[i]);
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		check_list_round_trip(pairs[i][0], pairs[i][1]);

	ghost_cpuset_zero(&s);
	CHECK_EQ(ghost_cpuset_format_list(&s, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "");

	for (int i = 0; i < 1000; i++) {
		random_set(&s);
		len = ghost_cpuset_format_list(&s, buf, sizeof(buf));
		CHECK(len >= 0);
		CHECK_EQ(len, strlen(buf));
		if (ghost_cpuset_empty(&s)) {
			CHECK_EQ(len, 0);
			CHECK_EQ(ghost_cpuset_parse_list(&back, buf, GHOST_MAX_CPUS,
							 GHOST_CPUSET_ALLOW_EMPTY),
				 0);
		} else {
			CHECK_EQ(ghost_cpuset_parse_list(&back, buf, GHOST_MAX_CPUS, 0), 0);
		}
		CHECK_MSG(ghost_cpuset_equal(&s, &back), "set %d: %s", i, buf);

		CHECK_EQ(ghost_cpuset_format_mask(&s, GHOST_MAX_CPUS, mask, sizeof(mask)),
			 sizeof(mask) - 1);
		ghost_cpuset_zero(&back);
		CHECK_EQ(ghost_cpuset_parse_mask(&back, mask, GHOST_MAX_CPUS), 0);
		CHECK_MSG(ghost_cpuset_equal(&s, &back), "mask %d: %s", i, mask);
	}

	/* The densest patterns must fit GHOST_CPUSET_LIST_MAX, the bound callers size for. */
	for (int period = 2; period <= 4; period++) {
		for (int width = 1; width < period; width++) {
			ghost_cpuset_zero(&s);
			for (int cpu = 0; cpu < GHOST_MAX_CPUS; cpu++)
				if (cpu % period < width)
					ghost_cpuset_set(&s, cpu);
			len = ghost_cpuset_format_list(&s, buf, sizeof(buf));
			CHECK(len > 0 && len < GHOST_CPUSET_LIST_MAX);
			if (len > longest)
				longest = len;
		}
	}
	CHECK(longest > 900);
}

struct bad_list {
	const char *text;
	int ncpus;
	int err;
	const char *named; /* must appear in the explanation */
};

static void test_list_errors(void)
{
	static const struct bad_list bad[] = {
		{ "", GHOST_MAX_CPUS, EINVAL, "empty" },
		{ "   ", GHOST_MAX_CPUS, EINVAL, "empty" },
		{ "\n", GHOST_MAX_CPUS, EINVAL, "empty" },
		{ "3-1", GHOST_MAX_CPUS, EINVAL, "\"3-1\" is reversed" },
		{ "0-5,9-8", GHOST_MAX_CPUS, EINVAL, "\"9-8\"" },
		{ "abc", GHOST_MAX_CPUS, EINVAL, "\"abc\"" },
		{ "1,,2", GHOST_MAX_CPUS, EINVAL, "empty element in \"1,,2\"" },
		{ ",1", GHOST_MAX_CPUS, EINVAL, "empty element" },
		{ "1,", GHOST_MAX_CPUS, EINVAL, "empty element" },
		{ "1-", GHOST_MAX_CPUS, EINVAL, "\"1-\"" },
		{ "-1", GHOST_MAX_CPUS, EINVAL, "\"-1\"" },
		{ "1-2-3", GHOST_MAX_CPUS, EINVAL, "\"1-2-3\"" },
		{ "1 2", GHOST_MAX_CPUS, EINVAL, "\"1 2\"" },
		{ "1, 2", GHOST_MAX_CPUS, EINVAL, "\" 2\"" },
		{ "1\n2", GHOST_MAX_CPUS, EINVAL, "1\n2" },
		{ "+1", GHOST_MAX_CPUS, EINVAL, "\"+1\"" },
		{ "1,+2", GHOST_MAX_CPUS, EINVAL, "\"+2\"" },
		{ "1--2", GHOST_MAX_CPUS, EINVAL, "\"1--2\"" },
		{ "0x1", GHOST_MAX_CPUS, EINVAL, "\"0x1\"" },
		{ "0-7:2/4", GHOST_MAX_CPUS, EINVAL, "\"0-7:2/4\"" },
		{ "600-x", GHOST_MAX_CPUS, EINVAL, "\"600-x\"" },
		{ "600", GHOST_MAX_CPUS, ERANGE, "\"600\" is past the last CPU (511)" },
		{ "512", GHOST_MAX_CPUS, ERANGE, "\"512\"" },
		{ "0-600", GHOST_MAX_CPUS, ERANGE, "\"600\"" },
		{ "99999999999999999999", GHOST_MAX_CPUS, ERANGE, "99999999999999999999" },
		{ "1-99999999999999999999", GHOST_MAX_CPUS, ERANGE, "99999999999999999999" },
		{ "7", 2, ERANGE, "CPU 7 is not on this machine" },
		{ "0-1,2", 2, ERANGE, "CPU 2 " },
		{ "0", 0, ERANGE, "CPU 0 " },
	};
	struct ghost_cpuset marker = list("5,77,300"), s;
	char why[128], tiny[8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_list *b = &bad[i];

		s = marker;
		CHECK_MSG(ghost_cpuset_parse_list(&s, b->text, b->ncpus, 0) == -b->err,
			  "\"%s\" gave %d", b->text,
			  ghost_cpuset_parse_list(&s, b->text, b->ncpus, 0));
		CHECK_MSG(ghost_cpuset_equal(&s, &marker), "\"%s\" changed out", b->text);
		why[0] = '\0';
		CHECK_EQ(ghost_cpuset_parse_list_ex(&s, b->text, b->ncpus, 0, why, sizeof(why)),
			 -b->err);
		CHECK_MSG(strstr(why, b->named) != NULL, "\"%s\": why is \"%s\"", b->text, why);
		CHECK(ghost_cpuset_equal(&s, &marker));
		/* A short why buffer is truncated, not overrun. */
		memset(tiny, 'x', sizeof(tiny));
		CHECK_EQ(ghost_cpuset_parse_list_ex(&s, b->text, b->ncpus, 0, tiny, sizeof(tiny)),
			 -b->err);
		CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL);
	}

	/* Huge numbers are still range errors when the machine is small. */
	s = marker;
	CHECK_ERR(ghost_cpuset_parse_list_ex(&s, "99999999999999999999", 4, 0, why, sizeof(why)),
		  ERANGE);
	CHECK(strstr(why, "99999999999999999999"));

	/* The bound is exclusive, and a successful parse clears why. */
	strcpy(why, "stale");
	CHECK_EQ(ghost_cpuset_parse_list_ex(&s, "0-1", 2, 0, why, sizeof(why)), 0);
	CHECK_STR(why, "");
	{
		struct ghost_cpuset want = list("0-1");

		CHECK(ghost_cpuset_equal(&s, &want));
	}
	CHECK_EQ(ghost_cpuset_parse_list(&s, "0-511", GHOST_MAX_CPUS, 0), 0);
	CHECK_EQ(ghost_cpuset_count(&s), 512);

	/* Empty input is a set only when asked for. */
	s = marker;
	CHECK_EQ(ghost_cpuset_parse_list(&s, "", GHOST_MAX_CPUS, GHOST_CPUSET_ALLOW_EMPTY), 0);
	CHECK(ghost_cpuset_empty(&s));
	s = marker;
	CHECK_EQ(ghost_cpuset_parse_list(&s, " \n", 8, GHOST_CPUSET_ALLOW_EMPTY), 0);
	CHECK(ghost_cpuset_empty(&s));
	s = marker;
	CHECK_ERR(ghost_cpuset_parse_list(&s, "1,", 8, GHOST_CPUSET_ALLOW_EMPTY), EINVAL);
	CHECK(ghost_cpuset_equal(&s, &marker));

	/* Bad arguments. */
	CHECK_ERR(ghost_cpuset_parse_list(&s, "1", GHOST_MAX_CPUS, 1u << 7), EINVAL);
	CHECK_ERR(ghost_cpuset_parse_list(&s, "1", GHOST_MAX_CPUS + 1, 0), EINVAL);
	CHECK_ERR(ghost_cpuset_parse_list(&s, "1", -1, 0), EINVAL);
	CHECK_ERR(ghost_cpuset_parse_list(&s, NULL, GHOST_MAX_CPUS, 0), EINVAL);
	CHECK_ERR(ghost_cpuset_parse_list(NULL, "1", GHOST_MAX_CPUS, 0), EINVAL);
	CHECK(ghost_cpuset_equal(&s, &marker));
}

static void test_format_list_space(void)
{
	const char *full = "0-3,8,10-11,500-511";
	struct ghost_cpuset s = list(full), empty;
	char area[64];
	size_t full_len = strlen(full);

	for (size_t len = 0; len <= full_len + 1; len++) {
		int ret;

		memset(area, 0x5a, sizeof(area));
		ret = ghost_cpuset_format_list(&s, area, len);
		for (size_t i = len; i < sizeof(area); i++)
			CHECK_MSG((unsigned char)area[i] == 0x5a, "len %zu: byte %zu written", len,
				  i);
		if (len <= full_len) {
			CHECK_ERR(ret, ENOSPC);
			if (len) {
				size_t got = strnlen(area, len);

				CHECK(got < len);
				CHECK(strncmp(area, full, got) == 0);
			}
		} else {
			CHECK_EQ(ret, full_len);
			CHECK_STR(area, full);
		}
	}
	CHECK_ERR(ghost_cpuset_format_list(&s, NULL, 0), ENOSPC);
	CHECK_ERR(ghost_cpuset_format_list(&s, NULL, 10), EINVAL);

	ghost_cpuset_zero(&empty);
	memset(area, 0x5a, sizeof(area));
	CHECK_ERR(ghost_cpuset_format_list(&empty, area, 0), ENOSPC);
	CHECK_EQ((unsigned char)area[0], 0x5a);
	CHECK_EQ(ghost_cpuset_format_list(&empty, area, 1), 0);
	CHECK_STR(area, "");
}

static void check_mask(const char *cpus, int ncpus, const char *want)
{
	struct ghost_cpuset s = list(cpus), back;
	char buf[GHOST_CPUSET_MASK_MAX + 16];

	CHECK_EQ(ghost_cpuset_format_mask(&s, ncpus, buf, sizeof(buf)), strlen(want));
	CHECK_STR(buf, want);
	ghost_cpuset_fill(&back, 3);
	CHECK_EQ(ghost_cpuset_parse_mask(&back, buf, ncpus), 0);
	CHECK_MSG(ghost_cpuset_equal(&s, &back), "%s back from %s", cpus, buf);
}

static void test_mask(void)
{
	struct ghost_cpuset s, marker = list("1,2,3,100"), want;
	char big[GHOST_CPUSET_MASK_MAX], area[64];
	int len;

	check_mask("0-1", 2, "00000003");
	check_mask("1", 2, "00000002");
	check_mask("31", 32, "80000000");
	check_mask("0-31", 32, "ffffffff");
	check_mask("32", 33, "00000001,00000000");
	check_mask("0,32", 33, "00000001,00000001");
	check_mask("1-4", 64, "00000000,0000001e");
	check_mask("4-7,63", 64, "80000000,000000f0");

	/* 512: all sixteen groups, most significant first. */
	ghost_cpuset_zero(&s);
	ghost_cpuset_set(&s, 0);
	ghost_cpuset_set(&s, 511);
	len = ghost_cpuset_format_mask(&s, 512, big, sizeof(big));
	CHECK_EQ(len, 16 * 9 - 1);
	CHECK_EQ(len, strlen(big));
	CHECK(strncmp(big, "80000000,00000000,", 18) == 0);
	CHECK(strcmp(big + len - 17, "00000000,00000001") == 0);
	ghost_cpuset_zero(&want);
	CHECK_EQ(ghost_cpuset_parse_mask(&want, big, 512), 0);
	CHECK(ghost_cpuset_equal(&s, &want));
	check_mask("0-511", 512,
		   "ffffffff,ffffffff,ffffffff,ffffffff,ffffffff,ffffffff,"
		   "ffffffff,ffffffff,ffffffff,ffffffff,ffffffff,ffffffff,"
		   "ffffffff,ffffffff,ffffffff,ffffffff");

	/* An empty set still prints one group; so does a machine of zero CPUs. */
	ghost_cpuset_zero(&s);
	CHECK_EQ(ghost_cpuset_format_mask(&s, 0, area, sizeof(area)), 8);
	CHECK_STR(area, "00000000");
	CHECK_EQ(ghost_cpuset_format_mask(&s, 40, area, sizeof(area)), 17);
	CHECK_STR(area, "00000000,00000000");

	/* Format errors. */
	s = list("2");
	CHECK_ERR(ghost_cpuset_format_mask(&s, 2, area, sizeof(area)), ERANGE);
	CHECK_ERR(ghost_cpuset_format_mask(&s, 513, area, sizeof(area)), EINVAL);
	CHECK_ERR(ghost_cpuset_format_mask(&s, -1, area, sizeof(area)), EINVAL);
	s = list("1-4");
	for (size_t len2 = 0; len2 <= 18; len2++) {
		int ret;

		memset(area, 0x5a, sizeof(area));
		ret = ghost_cpuset_format_mask(&s, 64, area, len2);
		for (size_t i = len2; i < sizeof(area); i++)
			CHECK((unsigned char)area[i] == 0x5a);
		if (len2 < 18) {
			CHECK_ERR(ret, ENOSPC);
			if (len2)
				CHECK_STR(area, "");
		} else {
			CHECK_EQ(ret, 17);
			CHECK_STR(area, "00000000,0000001e");
		}
	}

	/* Every accepted spelling of CPUs 1-4. */
	{
		static const char *const spellings[] = {
			"1e",
			"0000001e",
			"00000000,0000001e",
			"0x1e",
			"0X1E\n",
			"1E",
			" 1e ",
			"0,1e",
			"0x0,1e",
			"000000000000000000000000001e",
		};

		want = list("1-4");
		for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
			s = marker;
			CHECK_MSG(ghost_cpuset_parse_mask(&s, spellings[i], 64) == 0, "\"%s\"",
				  spellings[i]);
			CHECK_MSG(ghost_cpuset_equal(&s, &want), "\"%s\"", spellings[i]);
		}
	}
	/* With commas each group is 32 bits; without, the digits are one number. */
	want = list("32");
	CHECK_EQ(ghost_cpuset_parse_mask(&s, "1,0", 64), 0);
	CHECK(ghost_cpuset_equal(&s, &want));
	CHECK_EQ(ghost_cpuset_parse_mask(&s, "100000000", 64), 0);
	CHECK(ghost_cpuset_equal(&s, &want));
	CHECK_EQ(ghost_cpuset_parse_mask(&s, "100000000", 33), 0);
	CHECK(ghost_cpuset_equal(&s, &want));
	CHECK_EQ(ghost_cpuset_parse_mask(&s, "0", 64), 0);
	CHECK(ghost_cpuset_empty(&s));

	/* Parse errors leave out alone. */
	{
		static const struct {
			const char *text;
			int ncpus;
			int err;
		} bad[] = {
			{ "", 64, EINVAL },
			{ "  \n", 64, EINVAL },
			{ "0x", 64, EINVAL },
			{ "xyz", 64, EINVAL },
			{ "1g", 64, EINVAL },
			{ "1,,2", 64, EINVAL },
			{ ",1", 64, EINVAL },
			{ "1,", 64, EINVAL },
			{ "123456789,0", 512, EINVAL },
			{ "0,000000001", 512, EINVAL },
			{ "1 2", 64, EINVAL },
			{ "-1", 64, EINVAL },
			{ "+1", 64, EINVAL },
			{ "0x0x1", 64, EINVAL },
			{ "ffffffffff,1", 512, EINVAL },
			{ "4", 2, ERANGE },
			{ "1,00000000", 32, ERANGE },
			{ "100000000", 32, ERANGE },
			{ "1", 0, ERANGE },
			{ "80000000,00000000", 63, ERANGE },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			s = marker;
			CHECK_MSG(ghost_cpuset_parse_mask(&s, bad[i].text, bad[i].ncpus) ==
					  -bad[i].err,
				  "\"%s\" ncpus %d", bad[i].text, bad[i].ncpus);
			CHECK(ghost_cpuset_equal(&s, &marker));
		}
	}
	/* Without commas the number may be any length; only set bits are bounded. */
	{
		char longest[140];

		memset(longest, '0', sizeof(longest));
		longest[0] = '8';
		longest[128] = '\0';
		want = list("511");
		CHECK_EQ(ghost_cpuset_parse_mask(&s, longest, 512), 0);
		CHECK(ghost_cpuset_equal(&s, &want));
		longest[0] = '1';
		longest[128] = '0';
		longest[129] = '\0';
		s = marker;
		CHECK_ERR(ghost_cpuset_parse_mask(&s, longest, 512), ERANGE);
		CHECK(ghost_cpuset_equal(&s, &marker));
		longest[0] = '0';
		CHECK_EQ(ghost_cpuset_parse_mask(&s, longest, 512), 0);
		CHECK(ghost_cpuset_empty(&s));
	}
	CHECK_ERR(ghost_cpuset_parse_mask(&s, "1", 513), EINVAL);
	CHECK_ERR(ghost_cpuset_parse_mask(&s, NULL, 64), EINVAL);
	CHECK_ERR(ghost_cpuset_parse_mask(NULL, "1", 64), EINVAL);
}

#define ATOMIC_THREADS 4
#define ATOMIC_ROUNDS  2000

static struct ghost_atomic_cpuset shared;
static pthread_barrier_t start_line;

/* A CPU stays set at the end when this says so; the rest end cleared. */
static bool ends_set(int cpu)
{
	return (cpu / ATOMIC_THREADS) % 2 == 0;
}

static void *hammer(void *arg)
{
	int me = (int)(intptr_t)arg;
	long wrong = 0;

	pthread_barrier_wait(&start_line);
	/*
	 * Threads own interleaved CPUs, so every word is contended; any lost update would show
	 * up as a bit of ours not holding what we last wrote to it.
	 */
	for (int round = 0; round < ATOMIC_ROUNDS; round++) {
		for (int cpu = me; cpu < GHOST_MAX_CPUS; cpu += ATOMIC_THREADS)
			wrong += ghost_atomic_cpuset_set(&shared, cpu) != 0;
		for (int cpu = me; cpu < GHOST_MAX_CPUS; cpu += ATOMIC_THREADS)
			wrong += !ghost_atomic_cpuset_test(&shared, cpu);
		for (int cpu = me; cpu < GHOST_MAX_CPUS; cpu += ATOMIC_THREADS)
			wrong += ghost_atomic_cpuset_clear(&shared, cpu) != 1;
	}
	for (int cpu = me; cpu < GHOST_MAX_CPUS; cpu += ATOMIC_THREADS)
		if (ends_set(cpu))
			wrong += ghost_atomic_cpuset_set(&shared, cpu) != 0;
	return (void *)(intptr_t)wrong;
}

static void test_atomic(void)
{
	pthread_t threads[ATOMIC_THREADS];
	struct ghost_cpuset snap, want;

	CHECK_ERR(ghost_atomic_cpuset_set(&shared, 512), EINVAL);
	CHECK_ERR(ghost_atomic_cpuset_clear(&shared, -1), EINVAL);
	CHECK(!ghost_atomic_cpuset_test(&shared, 512));
	CHECK_EQ(ghost_atomic_cpuset_set(&shared, 511), 0);
	CHECK_EQ(ghost_atomic_cpuset_set(&shared, 511), 1);
	CHECK(ghost_atomic_cpuset_test(&shared, 511));
	CHECK_EQ(ghost_atomic_cpuset_clear(&shared, 511), 1);
	CHECK_EQ(ghost_atomic_cpuset_clear(&shared, 511), 0);

	CHECK_EQ(pthread_barrier_init(&start_line, NULL, ATOMIC_THREADS), 0);
	for (int i = 0; i < ATOMIC_THREADS; i++)
		CHECK_EQ(pthread_create(&threads[i], NULL, hammer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < ATOMIC_THREADS; i++) {
		void *wrong;

		CHECK_EQ(pthread_join(threads[i], &wrong), 0);
		CHECK_MSG(wrong == NULL, "thread %d saw %ld lost or stale bits", i,
			  (long)(intptr_t)wrong);
	}
	pthread_barrier_destroy(&start_line);

	ghost_cpuset_zero(&want);
	for (int cpu = 0; cpu < GHOST_MAX_CPUS; cpu++)
		if (ends_set(cpu))
			ghost_cpuset_set(&want, cpu);
	ghost_atomic_cpuset_snapshot(&shared, &snap);
	CHECK(ghost_cpuset_equal(&snap, &want));
	CHECK_EQ(ghost_cpuset_count(&snap), GHOST_MAX_CPUS / 2);
}

int main(void)
{
	test_edges();
	test_algebra();
	test_list_round_trips();
	test_list_errors();
	test_format_list_space();
	test_mask();
	test_atomic();
	return 0;
}
